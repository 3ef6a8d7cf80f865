/*
** test_crc.c: core/crc32c.c against the standard check value and against
** a bitwise reference (tests/unit/util.c), for every length up to past two
** blocks of three lanes, at every alignment, and chained over pieces: the
** hardware version (with its interleaved lanes) where the CPU has it, and
** the table version always.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../../core/crc32c.h"
#include "util.h"

uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);

TestSuite(crc, .timeout = 60);

Test(crc, check_value)
{
	cr_assert_eq(crc32c(0, "123456789", 9), 0xe3069283u);
	cr_assert_eq(crc32c_sw(0, "123456789", 9), 0xe3069283u);
	cr_assert_eq(tu_crc32c("123456789", 9), 0xe3069283u);
	cr_assert_eq(crc32c(0, "", 0), 0u);
}

Test(crc, every_length_and_alignment)
{
	enum { MAX = 7000 };
	unsigned char *buf = malloc(MAX + 8);
	uint64_t x = 0x9e3779b97f4a7c15u;

	cr_assert(buf != NULL);
	for (size_t i = 0; i < MAX + 8; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		buf[i] = (unsigned char)x;
	}
	for (size_t len = 0; len <= MAX; len += len < 200 ? 1 : 7) {
		for (size_t al = 0; al < 8; al++) {
			uint32_t want = tu_crc32c(buf + al, len);

			cr_assert_eq(crc32c(0, buf + al, len), want, "crc32c, %zu bytes at +%zu", len, al);
			cr_assert_eq(crc32c_sw(0, buf + al, len), want, "crc32c_sw, %zu bytes at +%zu",
				     len, al);
		}
	}
	free(buf);
}

/* A CRC continued over pieces equals the CRC of the whole. */
Test(crc, chained_over_pieces)
{
	enum { LEN = 1 << 20 };
	unsigned char *buf = malloc(LEN);
	uint64_t x = 42;

	cr_assert(buf != NULL);
	for (size_t i = 0; i < LEN; i++) {
		x = x * 6364136223846793005u + 1442695040888963407u;
		buf[i] = (unsigned char)(x >> 56);
	}
	uint32_t want = tu_crc32c(buf, LEN);
	cr_assert_eq(crc32c(0, buf, LEN), want);
	for (int round = 0; round < 50; round++) {
		uint32_t c = 0;
		size_t off = 0;

		while (off < LEN) {
			x = x * 6364136223846793005u + 1442695040888963407u;
			size_t n = (size_t)(x >> 40) % 20000;
			if (n > LEN - off)
				n = LEN - off;
			c = crc32c(c, buf + off, n);
			off += n;
		}
		cr_assert_eq(c, want, "round %d", round);
	}
	free(buf);
}

/* crc32c_count: the same CRC as crc32c, continued from any state, and the
** exact number of bytes equal to the one asked for, for lengths around
** the three-lane blocks, at every alignment, with that byte sparse, dense
** and everywhere (the lane counters of one block reach 192).
** crc32c_count_copy: the same, and an exact copy at any alignment of the
** destination (its stores need 16), nothing written around it. */
Test(crc, count_in_the_same_pass)
{
	enum { MAX = 3 * 3072 + 100 };
	unsigned char *buf = malloc(MAX + 8), *dst = malloc(MAX + 64);
	uint64_t x = 0x2545f4914f6cdd1du;

	cr_assert(buf != NULL && dst != NULL);
	for (int density = 0; density < 3; density++) {
		for (size_t i = 0; i < MAX + 8; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			unsigned r = (unsigned)(x >> 32);
			buf[i] = density == 2 ? '\n' : r % (density ? 3 : 61) == 0 ? '\n' : (unsigned char)(r >> 8);
		}
		for (size_t len = 0; len <= MAX; len += len < 64 ? 1 : len % 3072 < 40 || len % 3072 > 3030 ? 1 : 97) {
			for (size_t al = 0; al < 8; al += 3) {
				size_t want_n = 0, n = 12345;
				for (size_t i = 0; i < len; i++)
					want_n += buf[al + i] == '\n';
				uint32_t want = crc32c(0x1234u, buf + al, len);
				uint32_t got = crc32c_count(0x1234u, buf + al, len, '\n', &n);
				cr_assert_eq(got, want, "crc, %zu bytes at +%zu", len, al);
				cr_assert_eq(n, want_n, "count, %zu bytes at +%zu, density %d", len, al, density);
				/* and with a copy, to every alignment of dst mod 16 */
				for (size_t dal = al; dal < 16 + al; dal += 5) {
					memset(dst, 0xa5, MAX + 64);
					n = 12345;
					got = crc32c_count_copy(0x1234u, dst + 16 + dal, buf + al, len, '\n', &n);
					cr_assert_eq(got, want, "copy's crc, %zu bytes at +%zu to +%zu", len, al, dal);
					cr_assert_eq(n, want_n, "copy's count, %zu bytes at +%zu to +%zu", len, al, dal);
					cr_assert(memcmp(dst + 16 + dal, buf + al, len) == 0,
						  "copy of %zu bytes at +%zu to +%zu", len, al, dal);
					for (size_t i = 0; i < MAX + 64; i++)
						if (i < 16 + dal || i >= 16 + dal + len)
							cr_assert_eq(dst[i], 0xa5, "byte %zu around a copy of %zu to +%zu",
								     i, len, dal);
				}
			}
		}
	}
	free(buf);
	free(dst);
}

/* crc32c_combine: the CRC of A then B from the CRCs of A and B and B's
** length, for lengths from 0 to past a lane block, split everywhere in a
** text, and for a length of many zero bytes against advancing byte by
** byte. */
Test(crc, combine_joins_two_crcs)
{
	enum { MAX = 3 * 3072 + 100 };
	unsigned char *buf = malloc(MAX);
	uint64_t x = 0x9e3779b97f4a7c15u;

	cr_assert(buf != NULL);
	for (size_t i = 0; i < MAX; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		buf[i] = (unsigned char)(x >> 32);
	}
	for (size_t len = 0; len <= MAX; len += len < 64 ? 1 : 251) {
		uint32_t whole = crc32c(0, buf, len);
		for (size_t a = 0; a <= len; a += a < 16 || len - a < 16 ? 1 : 97) {
			uint32_t ca = crc32c(0, buf, a), cb = crc32c(0, buf + a, len - a);
			cr_assert_eq(crc32c_combine(ca, cb, len - a), whole, "%zu bytes split at %zu", len, a);
		}
	}
	/* 5 MiB of zeros after "123456789": the long way against the short. */
	size_t zn = 5u << 20;
	unsigned char *zeros = calloc(1, zn);
	cr_assert(zeros != NULL);
	uint32_t head = crc32c(0, "123456789", 9);
	cr_assert_eq(crc32c_combine(head, crc32c(0, zeros, zn), zn), crc32c(head, zeros, zn));
	free(zeros);
	free(buf);
}

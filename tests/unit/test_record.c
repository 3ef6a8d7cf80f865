/*
** test_record.c: the newline counts of core/record.c and core/crc32c.c.
** rec_check() of untimed batches counts the text's lines in the CRC's own
** pass (crc32c_count: 16 bytes a step in three lanes of 1 KiB, the rest
** a byte at a time), and so do appends (rec_text_scan, whose CRC the
** header's is then combined with). Against a plain count: for texts of
** every length around the steps, with the right count, counts one off,
** and bytes after the last newline. A batch is accepted exactly
** when its text is `count` lines, each ending in "\n"; damage at the edges
** of lanes and blocks is seen.
*/
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../../core/crc32c.h"
#include "../../core/record.h"

TestSuite(record, .timeout = 60);

/* Encode text as an untimed batch claiming count records and check it:
** 0, or the error of the header (a count above the text's length) or of
** rec_check(). */
static int check(unsigned char *batch, const unsigned char *text, size_t n, uint32_t count)
{
	struct iovec iov = {.iov_base = (void *)text, .iov_len = n};
	rec_batch b;
	size_t lines, want = 0;
	uint32_t text_crc = rec_text_scan(&iov, 1, &lines);
	size_t len = rec_encode_header(batch, text_crc, n, count, 7, 70, 1700000000000);
	int rc;

	for (size_t i = 0; i < n; i++)
		want += text[i] == '\n';
	cr_assert_eq(lines, want, "rec_text_scan counted %zu of %zu lines in %zu bytes", lines, want, n);
	cr_assert_eq(text_crc, crc32c(0, text, n), "rec_text_scan's CRC, %zu bytes", n);

	memcpy(batch + REC_HEADER_SIZE, text, n);
	rc = rec_decode_header(batch, len, &b);
	return rc < 0 ? rc : rec_check(batch, &b);
}

Test(record, newline_count_matches_a_line_walk)
{
	enum { MAX = 9000 };
	unsigned char *text = malloc(MAX + 1), *batch = malloc(REC_HEADER_SIZE + MAX + 1);
	uint64_t x = 0x2545f4914f6cdd1du;

	cr_assert(text && batch);
	for (size_t n = 1; n <= MAX; n += n < 300 ? 1 : n < 4200 ? 13 : 61) {
		for (int variant = 0; variant < 3; variant++) {
			/* variant 0: sparse newlines; 1: dense; 2: every byte */
			for (size_t i = 0; i < n; i++) {
				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				unsigned r = (unsigned)(x >> 32);
				text[i] = variant == 2 ? '\n' : r % (variant ? 4 : 97) == 0 ? '\n' : (unsigned char)(r >> 8 | 1);
				if (text[i] == '\n' && variant != 2 && r % 3 == 0)
					text[i] = 0x8a; /* '\n' | 0x80: a near miss */
			}
			for (int tail = 0; tail < 2; tail++) {
				/* the reference: a plain count, and whole lines only
				** when the text ends in "\n" */
				long lines = 0;
				text[n - 1] = tail ? 'x' : '\n';
				for (size_t i = 0; i < n; i++)
					lines += text[i] == '\n';
				for (long d = -1; d <= 1; d++) {
					if (lines + d < 1)
						continue;
					int rc = check(batch, text, n, (uint32_t)(lines + d));
					int ok = !tail && d == 0;
					cr_assert_eq(rc == 0, ok,
						     "%zu bytes, %ld lines, variant %d, tail %d, count %+ld: rc %d",
						     n, lines, variant, tail, d, rc);
				}
			}
		}
	}
	free(text);
	free(batch);
}

/* rec_check counts a long text's lines in the CRC's pass, three lanes
** of 1 KiB at a time: a changed byte, or one line too many, is seen in
** every lane and block, at their edges too, and in what follows them. */
Test(record, damage_anywhere_in_a_long_batch_is_seen)
{
	enum { N = 3 * (48 << 10) + 777 };
	unsigned char *text = malloc(N), *batch = malloc(REC_HEADER_SIZE + N);
	const size_t at[] = {0,	   1,	 1023, 1024, 2047,	   2048,       3071,	 3072,
			     3073, 9215, 9216, N - 700, (48 << 10) - 1, 48 << 10, N - 2};
	uint32_t lines = 0;

	cr_assert(text && batch);
	for (size_t i = 0; i < N; i++) {
		text[i] = i % 97 == 96 || i == N - 1 ? '\n' : (unsigned char)('a' + i % 26);
		lines += text[i] == '\n';
	}
	cr_assert_eq(check(batch, text, N, lines), 0);
	for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
		size_t i = at[k];
		rec_batch b;

		/* a flipped bit: the CRC no longer matches */
		cr_assert_eq(check(batch, text, N, lines), 0);
		batch[REC_HEADER_SIZE + i] ^= 0x04;
		cr_assert_eq(rec_decode_header(batch, REC_HEADER_SIZE + N, &b), 0);
		cr_assert_eq(rec_check(batch, &b), -EBADMSG, "flip at %zu", i);

		/* one more line, under a right CRC: the count no longer matches */
		unsigned char was = text[i];
		if (was == '\n')
			continue;
		text[i] = '\n';
		cr_assert_eq(check(batch, text, N, lines), -EBADMSG, "newline at %zu", i);
		cr_assert_eq(check(batch, text, N, lines + 1), 0, "newline at %zu", i);
		text[i] = was;
	}
	free(text);
	free(batch);
}

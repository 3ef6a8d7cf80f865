/*
** crc32c.c: CRC-32C, in hardware where the CPU has SSE4.2 and with a
** slicing-by-8 table elsewhere. Both give the same results; the test suite
** checks them against each other, against a bitwise reference and against
** the standard check value.
**
** The crc32 instruction takes three cycles but can start every cycle, so
** long buffers are cut into blocks of three lanes of LANE bytes, whose
** CRCs are computed side by side and then joined: the state after lanes
** A, B, C is shift(shift(a) ^ b) ^ c, where a is A's CRC from the running
** state, b and c are those of B and C from state 0, and shift() advances a
** state over LANE zero bytes. shift() is linear in the state, so a table
** of what it does to each byte of the state makes it four lookups.
*/
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#define POLY 0x82f63b78u /* reflected Castagnoli polynomial */

#define LANE 1024 /* bytes of each of the three interleaved lanes */

static uint32_t table[8][256];
static uint32_t lane_shift[4][256]; /* shift() of byte k of a state */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int have_hw;

/* The state s (no inversion) advanced over n zero bytes, a byte at a time. */
static uint32_t over_zeros(uint32_t s, size_t n)
{
	while (n--)
		s = (s >> 8) ^ table[0][s & 0xff];
	return s;
}

static void crc32c_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (POLY & (0u - (c & 1)));
		table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int s = 1; s < 8; s++)
			table[s][i] = (table[s - 1][i] >> 8) ^ table[0][table[s - 1][i] & 0xff];
	uint32_t bit[32]; /* shift() of each single-bit state */
	for (int i = 0; i < 32; i++)
		bit[i] = over_zeros(1u << i, LANE);
	for (int k = 0; k < 4; k++)
		for (uint32_t b = 0; b < 256; b++) {
			uint32_t v = 0;
			for (int j = 0; j < 8; j++)
				if (b & (1u << j))
					v ^= bit[8 * k + j];
			lane_shift[k][b] = v;
		}
#if defined(__x86_64__)
	have_hw = __builtin_cpu_supports("sse4.2");
#endif
}

static inline uint64_t shift(uint64_t s)
{
	return lane_shift[0][s & 0xff] ^ lane_shift[1][(s >> 8) & 0xff] ^
	       lane_shift[2][(s >> 16) & 0xff] ^ lane_shift[3][(s >> 24) & 0xff];
}

/* The table version, whatever the CPU: also called by the tests, to check
** the hardware version against it. */
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	pthread_once(&once, crc32c_init);
	crc = ~crc;
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		w ^= crc; /* little-endian: the crc meets the first four bytes */
		crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^
		      table[5][(w >> 16) & 0xff] ^ table[4][(w >> 24) & 0xff] ^
		      table[3][(w >> 32) & 0xff] ^ table[2][(w >> 40) & 0xff] ^
		      table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t c = ~crc;
	while (len >= 3 * LANE) {
		uint64_t b = 0, d = 0, w0, w1, w2;
		for (size_t i = 0; i < LANE; i += 8) {
			memcpy(&w0, p + i, 8);
			memcpy(&w1, p + LANE + i, 8);
			memcpy(&w2, p + 2 * LANE + i, 8);
			c = __builtin_ia32_crc32di(c, w0);
			b = __builtin_ia32_crc32di(b, w1);
			d = __builtin_ia32_crc32di(d, w2);
		}
		c = shift(shift(c) ^ b) ^ d;
		p += 3 * LANE;
		len -= 3 * LANE;
	}
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		c = __builtin_ia32_crc32di(c, w);
		p += 8;
		len -= 8;
	}
	uint32_t c32 = (uint32_t)c;
	while (len--)
		c32 = __builtin_ia32_crc32qi(c32, *p++);
	return ~c32;
}
#endif

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&once, crc32c_init);
#if defined(__x86_64__)
	if (have_hw)
		return crc32c_hw(crc, buf, len);
#endif
	return crc32c_sw(crc, buf, len);
}

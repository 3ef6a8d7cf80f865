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
** crc32c_combine() joins two CRCs the same way over any length, with a
** product by x^(8n) mod P (over_zeros) where the lanes use the table.
**
** crc32c_count() makes the same pass and also compares every 16 bytes with
** one byte value into SSE counters: those instructions fit in the cycles
** the crc32 instructions spend waiting for each other. crc32c_count_copy()
** also stores the 16 bytes elsewhere, with non-temporal stores: a copy
** into the page cache and the CRC's pass for the price of about one
** (1 MiB here: 72-94 us, against 127-155 for the pass, then memcpy).
** Plain stores instead cost bulk appends more: the daemon's FUSE threads
** took a median of 533 against 467 us of CPU a MiB appended, and the
** appends were slower in 6 of 8 alternated 256 MiB rounds.
*/
#include "crc32c.h"

#include <pthread.h>
#include <string.h>
#if defined(__x86_64__)
#include <smmintrin.h> /* _mm_extract_epi64 (SSE4.1, used under the sse4.2 target) */
#endif

#define POLY 0x82f63b78u /* reflected Castagnoli polynomial */

#define LANE 1024 /* bytes of each of the three interleaved lanes */

static uint32_t table[8][256];
static uint32_t lane_shift[4][256]; /* shift() of byte k of a state */
static uint32_t x_pow2[67];	    /* x^(2^k) mod P, reflected as the states are */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int have_hw;

/* a(x) * b(x) mod P, both reflected (bit 31 the coefficient of x^0). A
** state advanced over n zero bytes is the state times x^(8n) mod P. */
static uint32_t mulmod(uint32_t a, uint32_t b)
{
	uint32_t p = 0;

	for (uint32_t m = 1u << 31; m != 0; m >>= 1) {
		if (a & m)
			p ^= b;
		b = (b >> 1) ^ (POLY & (0u - (b & 1))); /* b * x */
	}
	return p;
}

/* x^(8n) mod P, what a state is multiplied by to advance over n zero
** bytes: the product of the powers x^(2^k) that the bits of 8n name. */
static uint32_t over_zeros(uint64_t n)
{
	uint32_t x = 1u << 31; /* x^0 */

	for (int k = 3; n != 0; n >>= 1, k++) /* k = 3: eight bits a byte */
		if (n & 1)
			x = mulmod(x, x_pow2[k]);
	return x;
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
	x_pow2[0] = 1u << 30; /* x^1: bit 31 is x^0 in the reflected order */
	for (int k = 1; k < 67; k++) /* up to 8 bits times a 64-bit length */
		x_pow2[k] = mulmod(x_pow2[k - 1], x_pow2[k - 1]);
	uint32_t lane = over_zeros(LANE), bit[32]; /* shift() of each single-bit state */
	for (int i = 0; i < 32; i++)
		bit[i] = mulmod(1u << i, lane);
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

/* Bytes of p[0..n) equal to c, one at a time: for what is left after the
** three-lane blocks (under 3 KiB), and for CPUs without SSE4.2. */
static size_t count_bytes(const unsigned char *p, size_t n, unsigned char c)
{
	size_t total = 0;

	for (size_t i = 0; i < n; i++)
		total += p[i] == c;
	return total;
}

#if defined(__x86_64__)
/* The three-lane loop of crc32c_hw, with each 16 bytes also compared with
** c into byte counters (3 lanes x 64 steps: below 255, so they are summed
** once per block), and, when dst is not NULL, stored to dst. Inlined into
** its two callers, so the one that does not copy has no test for it.
** The stores bypass the cache (the text copied is read again only much
** later, by a roll's compression or a reader) and need 16-byte alignment:
** dst must be aligned when given. */
__attribute__((target("sse4.2"), always_inline)) static inline uint32_t
count_lanes(uint32_t crc, const unsigned char *p, unsigned char *dst, size_t len, unsigned char c,
	    size_t *count)
{
	const __m128i want = _mm_set1_epi8((char)c), zero = _mm_setzero_si128();
	uint64_t a = ~crc;
	size_t n = 0;

	while (len >= 3 * LANE) {
		uint64_t b = 0, d = 0;
		__m128i acc = zero;
		for (size_t i = 0; i < LANE; i += 16) {
			__m128i va = _mm_loadu_si128((const __m128i *)(p + i));
			__m128i vb = _mm_loadu_si128((const __m128i *)(p + LANE + i));
			__m128i vd = _mm_loadu_si128((const __m128i *)(p + 2 * LANE + i));
			if (dst) {
				_mm_stream_si128((__m128i *)(dst + i), va);
				_mm_stream_si128((__m128i *)(dst + LANE + i), vb);
				_mm_stream_si128((__m128i *)(dst + 2 * LANE + i), vd);
			}
			acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(va, want));
			acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(vb, want));
			acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(vd, want));
			a = __builtin_ia32_crc32di(a, (uint64_t)_mm_cvtsi128_si64(va));
			b = __builtin_ia32_crc32di(b, (uint64_t)_mm_cvtsi128_si64(vb));
			d = __builtin_ia32_crc32di(d, (uint64_t)_mm_cvtsi128_si64(vd));
			a = __builtin_ia32_crc32di(a, (uint64_t)_mm_extract_epi64(va, 1));
			b = __builtin_ia32_crc32di(b, (uint64_t)_mm_extract_epi64(vb, 1));
			d = __builtin_ia32_crc32di(d, (uint64_t)_mm_extract_epi64(vd, 1));
		}
		acc = _mm_sad_epu8(acc, zero);
		n += (size_t)_mm_cvtsi128_si64(acc) + (size_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(acc, acc));
		a = shift(shift(a) ^ b) ^ d;
		p += 3 * LANE;
		len -= 3 * LANE;
		if (dst)
			dst += 3 * LANE;
	}
	if (dst) {
		_mm_sfence(); /* the streamed stores are done before any later one */
		memcpy(dst, p, len);
	}
	*count = n + count_bytes(p, len, c);
	return crc32c_hw(~(uint32_t)a, p, len);
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_count_hw(uint32_t crc, const void *buf, size_t len,
								  unsigned char c, size_t *count)
{
	return count_lanes(crc, buf, NULL, len, c, count);
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_count_copy_hw(uint32_t crc, void *dst,
								       const void *src, size_t len,
								       unsigned char c, size_t *count)
{
	const unsigned char *p = src;
	unsigned char *d = dst;
	size_t head = (16 - (uintptr_t)d % 16) % 16, n;

	if (head > len)
		head = len;
	/* the bytes up to the first 16-byte boundary of dst */
	memcpy(d, p, head);
	*count = count_bytes(p, head, c);
	crc = crc32c_hw(crc, p, head);
	crc = count_lanes(crc, p + head, d + head, len - head, c, &n);
	*count += n;
	return crc;
}
#endif

uint32_t crc32c_count(uint32_t crc, const void *buf, size_t len, unsigned char c, size_t *count)
{
	pthread_once(&once, crc32c_init);
#if defined(__x86_64__)
	if (have_hw)
		return crc32c_count_hw(crc, buf, len, c, count);
#endif
	*count = count_bytes(buf, len, c);
	return crc32c_sw(crc, buf, len);
}

uint32_t crc32c_count_copy(uint32_t crc, void *dst, const void *src, size_t len, unsigned char c,
			   size_t *count)
{
	pthread_once(&once, crc32c_init);
#if defined(__x86_64__)
	if (have_hw)
		return crc32c_count_copy_hw(crc, dst, src, len, c, count);
#endif
	memcpy(dst, src, len);
	*count = count_bytes(src, len, c);
	return crc32c_sw(crc, src, len);
}

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&once, crc32c_init);
#if defined(__x86_64__)
	if (have_hw)
		return crc32c_hw(crc, buf, len);
#endif
	return crc32c_sw(crc, buf, len);
}

/*
** crc(A B) = crc(A) advanced over |B| zero bytes, ^ crc(B): the pre- and
** post-inversions of the two CRCs cancel out, since advancing is linear.
** A product of 32 steps for each bit set in |B|, against a pass over B.
*/
uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b)
{
	pthread_once(&once, crc32c_init);
	return mulmod(over_zeros(len_b), crc_a) ^ crc_b;
}

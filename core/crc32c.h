/*
** crc32c.h: CRC-32C (Castagnoli), the checksum of every stored batch,
** segment header and index entry.
*/
#ifndef TOPICFS_CRC32C_H
#define TOPICFS_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
** Extend crc (0 to start) with len bytes at buf. The result matches the
** usual CRC-32C definition: crc32c(0, "123456789", 9) == 0xe3069283.
** Uses the SSE4.2 instruction when the CPU has it, a table otherwise.
*/
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

/*
** crc32c(crc, buf, len), and in *count the number of bytes of buf equal
** to c, in one pass: with SSE4.2 the count runs while the CRC instructions
** wait for each other, so it costs next to nothing (batch checks count
** lines this way).
*/
uint32_t crc32c_count(uint32_t crc, const void *buf, size_t len, unsigned char c, size_t *count);

/*
** crc32c_count(crc, src, len, c, count), and a copy of src to dst (which
** must not overlap it) in the same pass. The copy bypasses the CPU's
** caches where it can: for text that is not read again soon, such as a
** bulk append into the page cache.
*/
uint32_t crc32c_count_copy(uint32_t crc, void *dst, const void *src, size_t len, unsigned char c,
			   size_t *count);

/*
** The CRC of A followed by B, from crc_a = crc32c(0, A, |A|), crc_b =
** crc32c(0, B, |B|) and len_b = |B|, without reading either: so a batch's
** text can be checked and counted in one pass before its header, which
** holds the count and comes first in the CRC, is written.
*/
uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

#endif

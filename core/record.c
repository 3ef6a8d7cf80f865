/*
** record.c: encoding and checking batches.
**
** BATCH FORMAT. A batch is what one append writes: one or more records
** with consecutive offsets and one append time. All integers little-endian.
**
**    0: u32 crc32c     CRC-32C of bytes 4 .. length-1
**    4: u32 length     of the whole batch, these 8 bytes included
**    8: u8  magic      1
**    9: u8  attributes 0 (reserved)
**   10: u16 zero
**   12: u32 count      records in the batch, >= 1
**   16: u64 base offset    offset of the first record
**   24: u64 base bytepos   where the first record starts in the rendered log
**   32: i64 timestamp      append time, milliseconds since the epoch
**   40: u32 rendered       sum over the records of (payload length + 1)
**   44: u32 zero
**   48: count records, each a LEB128 varint payload length then the payload
**
** Record i of a batch has offset base+i and starts at bytepos base bytepos
** plus the rendered size of records 0..i-1: inside a batch offsets and byte
** positions have no gaps. Compaction keeps that true by writing the records
** it keeps as new batches of consecutive survivors (see compact.c).
**
** A batch is valid iff (1) it lies wholly inside the file, (2) its crc
** matches, and (3) its records exactly fill bytes 48..length-1 and add up
** to count and rendered. A batch that fails (1) at the end of the newest
** segment is a torn write and is cut off at recovery; one that fails (2) or
** (3) is damage, and a read that reaches it fails with EIO.
*/
#include "record.h"

#include <errno.h>
#include <string.h>

#include "crc32c.h"
#include "io.h"

_Static_assert(REC_HEADER_SIZE == 48, "batch header size is part of the on-disk format");

int rec_decode_header(const unsigned char *p, size_t avail, rec_batch *out)
{
	rec_batch b;

	if (avail < REC_HEADER_SIZE)
		return -EAGAIN;
	b.crc = io_get32(p);
	b.length = io_get32(p + 4);
	b.count = io_get32(p + 12);
	b.base_offset = io_get64(p + 16);
	b.base_bytepos = io_get64(p + 24);
	b.timestamp_ms = (int64_t)io_get64(p + 32);
	b.rendered = io_get32(p + 40);
	if (p[8] != REC_MAGIC || b.length < REC_HEADER_SIZE + 1 || b.length > REC_MAX_BATCH ||
	    b.count == 0 || b.count > b.length - REC_HEADER_SIZE || b.rendered < b.count)
		return -EBADMSG;
	if (avail < b.length)
		return -EAGAIN;
	*out = b;
	return 0;
}

int rec_check(const unsigned char *p, const rec_batch *b)
{
	rec_iter it;
	const unsigned char *payload;
	size_t len;
	uint64_t rendered = 0;
	uint32_t n = 0;

	if (crc32c(0, p + 4, b->length - 4) != b->crc)
		return -EBADMSG;
	rec_iter_init(&it, p, b);
	while (it.left > 0) {
		if (!rec_iter_next(&it, &payload, &len))
			return -EBADMSG;
		rendered += len + 1;
		n++;
	}
	if (it.p != it.end || n != b->count || rendered != b->rendered)
		return -EBADMSG;
	return 0;
}

void rec_iter_init(rec_iter *it, const unsigned char *batch, const rec_batch *b)
{
	it->p = batch + REC_HEADER_SIZE;
	it->end = batch + b->length;
	it->left = b->count;
	it->offset = b->base_offset;
	it->bytepos = b->base_bytepos;
}

int rec_iter_next(rec_iter *it, const unsigned char **payload, size_t *len)
{
	uint64_t v = 0;
	int shift = 0;

	if (it->left == 0)
		return 0;
	for (;;) {
		if (it->p >= it->end || shift > 35)
			return 0;
		unsigned char c = *it->p++;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			break;
		shift += 7;
	}
	if (v > (uint64_t)(it->end - it->p))
		return 0;
	*payload = it->p;
	*len = (size_t)v;
	it->p += v;
	it->left--;
	it->offset++;
	it->bytepos += v + 1;
	return 1;
}

void rec_encode_begin(rec_encoder *e, unsigned char *buf)
{
	e->buf = buf;
	e->len = REC_HEADER_SIZE;
	e->count = 0;
	e->rendered = 0;
}

unsigned char *rec_encode_record(rec_encoder *e, size_t len)
{
	unsigned char *p = e->buf + e->len;
	uint64_t v = len;

	while (v >= 0x80) {
		*p++ = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	*p++ = (unsigned char)v;
	e->len = (size_t)(p - e->buf) + len;
	e->count++;
	e->rendered += len + 1;
	return p;
}

size_t rec_encode_end(rec_encoder *e, uint64_t base_offset, uint64_t base_bytepos,
		      int64_t timestamp_ms)
{
	unsigned char *h = e->buf;

	io_put32(h + 4, (uint32_t)e->len);
	h[8] = REC_MAGIC;
	h[9] = 0;
	h[10] = h[11] = 0;
	io_put32(h + 12, e->count);
	io_put64(h + 16, base_offset);
	io_put64(h + 24, base_bytepos);
	io_put64(h + 32, (uint64_t)timestamp_ms);
	io_put32(h + 40, (uint32_t)e->rendered);
	io_put32(h + 44, 0);
	io_put32(h, crc32c(0, h + 4, e->len - 4));
	return e->len;
}

size_t rec_encoded_size(size_t len)
{
	size_t n = 1;
	for (size_t v = len; v >= 0x80; v >>= 7)
		n++;
	return n + len;
}

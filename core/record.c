/*
** record.c: encoding and checking batches.
**
** BATCH FORMAT. A batch is what one append writes: one or more records
** with consecutive offsets. All integers little-endian.
**
**    0: u32 crc32c     CRC-32C of bytes 4 .. length-1
**    4: u32 length     of the whole batch, these 8 bytes included
**    8: u8  magic      1
**    9: u8  attributes bit0 TIMES: each record has its own time (below)
**   10: u16 zero
**   12: u32 count      records in the batch, >= 1
**   16: u64 base offset    offset of the first record
**   24: u64 base bytepos   where the first record starts in the rendered log
**   32: i64 timestamp      append time, milliseconds since the epoch
**                          (TIMES: the first record's)
**   40: u32 rendered       the length of the text below
**   44: u32 time span      TIMES: last record's time - first's; else 0
**   48: the text: the records rendered as a reader sees them, each payload
**       followed by "\n" (payloads never hold "\n", so the text is exactly
**       count lines)
**   48 + rendered: TIMES only: count LEB128 varints, each record's time
**       minus the previous record's (the first one's minus the batch's, 0)
**
** An append writes its lines as they came, under one time: a batch's body
** is the very bytes the writer wrote, and what a reader gets back. Rewrites
** (compaction, compression) merge consecutive batches into timed ones, so a
** compressed segment holds few large batches of plain text that compress
** as well as the text alone, and every record keeps its time.
**
** Record i of a batch has offset base+i and starts at bytepos base bytepos
** plus the length of lines 0..i-1: inside a batch offsets and byte
** positions have no gaps. Rewrites keep that true by merging only records
** with nothing removed between them (see compact.c).
**
** A batch is valid iff (1) it lies wholly inside the file, (2) its crc
** matches, and (3) its text is exactly count lines of rendered bytes and
** its time deltas (if any) exactly fill the rest and add up to the span. A
** batch that fails (1) at the end of the newest segment is a torn write and
** is cut off at recovery; one that fails (2) or (3) is damage, and a read
** that reaches it fails with EIO.
*/
#include "record.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>

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
	b.attributes = p[9];
	if (__builtin_add_overflow(b.timestamp_ms, (int64_t)io_get32(p + 44), &b.max_timestamp_ms))
		return -EBADMSG;
	int timed = (b.attributes & REC_ATTR_TIMES) != 0;
	if (p[8] != REC_MAGIC || b.length > REC_MAX_BATCH || b.count == 0 ||
	    b.rendered < b.count || b.rendered > REC_MAX_BATCH ||
	    (b.attributes & ~REC_ATTR_TIMES) ||
	    (!timed && (b.max_timestamp_ms != b.timestamp_ms ||
			b.length != REC_HEADER_SIZE + b.rendered)) ||
	    (timed && b.length < REC_HEADER_SIZE + (uint64_t)b.rendered + b.count))
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
	uint32_t n = 0;

	if (!(b->attributes & REC_ATTR_TIMES)) {
		/* The CRC, and lines ending in "\n" with nothing after the
		** last: what the walk below checks, at a fraction of its cost
		** (a replay spent 10% of its time there). The lines are counted
		** in the CRC's own pass over the text (crc32c_count). */
		const unsigned char *text = p + REC_HEADER_SIZE;
		size_t lines;
		uint32_t crc = crc32c_count(crc32c(0, p + 4, REC_HEADER_SIZE - 4), text, b->rendered, '\n',
					    &lines);
		return crc == b->crc && lines == b->count && text[b->rendered - 1] == '\n' ? 0 : -EBADMSG;
	}
	if (crc32c(0, p + 4, b->length - 4) != b->crc)
		return -EBADMSG;
	rec_iter_init(&it, p, b);
	while (rec_iter_next(&it, &payload, &len))
		n++;
	if (n != b->count || it.p != it.end || it.tp != it.tend ||
	    it.ts != b->max_timestamp_ms)
		return -EBADMSG;
	return 0;
}

void rec_iter_init(rec_iter *it, const unsigned char *batch, const rec_batch *b)
{
	it->p = batch + REC_HEADER_SIZE;
	it->end = it->p + b->rendered;
	it->tp = it->end;
	it->tend = batch + b->length;
	it->left = b->count;
	it->offset = b->base_offset;
	it->bytepos = b->base_bytepos;
	it->timed = (b->attributes & REC_ATTR_TIMES) != 0;
	it->ts = b->timestamp_ms;
}

/* A LEB128 varint at *p (before end); 0 when it is cut short or too long. */
static int get_varint(const unsigned char **p, const unsigned char *end, uint64_t *out)
{
	uint64_t v = 0;

	for (int shift = 0; shift <= 63; shift += 7) {
		if (*p >= end)
			return 0;
		unsigned char c = *(*p)++;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*out = v;
			return 1;
		}
	}
	return 0;
}

static unsigned char *put_varint(unsigned char *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	*p++ = (unsigned char)v;
	return p;
}

int rec_iter_next(rec_iter *it, const unsigned char **payload, size_t *len)
{
	const unsigned char *nl;
	uint64_t dt;

	if (it->left == 0 || it->p >= it->end)
		return 0;
	nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
	if (!nl)
		return 0;
	if (it->timed) {
		if (!get_varint(&it->tp, it->tend, &dt) || dt > INT64_MAX ||
		    __builtin_add_overflow(it->ts, (int64_t)dt, &it->ts))
			return 0;
	}
	*payload = it->p;
	*len = (size_t)(nl - it->p);
	it->p = nl + 1;
	it->left--;
	it->offset++;
	it->bytepos += *len + 1;
	return 1;
}

void rec_encode_begin(rec_encoder *e, unsigned char *buf)
{
	memset(e, 0, sizeof *e);
	e->buf = buf;
	e->len = REC_HEADER_SIZE;
}

void rec_encode_begin_timed(rec_encoder *e, unsigned char *buf, unsigned char *ts, size_t tscap)
{
	rec_encode_begin(e, buf);
	e->timed = 1;
	e->ts = ts;
	e->tscap = tscap;
}

void rec_encode_text(rec_encoder *e, const void *text, size_t len, uint32_t nlines)
{
	if (len > 0)
		memcpy(e->buf + e->len, text, len);
	e->len += len;
	e->count += nlines;
}

unsigned char *rec_encode_record(rec_encoder *e, size_t len)
{
	unsigned char *p = e->buf + e->len;

	p[len] = '\n';
	e->len += len + 1;
	e->count++;
	return p;
}

unsigned char *rec_encode_record_at(rec_encoder *e, size_t len, int64_t ts_ms)
{
	if (e->count == 0)
		e->first_ts = e->last_ts = ts_ms;
	e->tslen = (size_t)(put_varint(e->ts + e->tslen, (uint64_t)(ts_ms - e->last_ts)) - e->ts);
	e->last_ts = ts_ms;
	return rec_encode_record(e, len);
}

size_t rec_encode_size(const rec_encoder *e)
{
	return e->len + e->tslen;
}

/* The header fields after the CRC, for a batch of len bytes. */
static void put_header(unsigned char *h, size_t len, int timed, uint32_t count, uint64_t base_offset,
		       uint64_t base_bytepos, int64_t first_ts, size_t rendered, int64_t ts_span)
{
	io_put32(h + 4, (uint32_t)len);
	h[8] = REC_MAGIC;
	h[9] = timed ? REC_ATTR_TIMES : 0;
	h[10] = h[11] = 0;
	io_put32(h + 12, count);
	io_put64(h + 16, base_offset);
	io_put64(h + 24, base_bytepos);
	io_put64(h + 32, (uint64_t)first_ts);
	io_put32(h + 40, (uint32_t)rendered);
	io_put32(h + 44, (uint32_t)ts_span);
}

size_t rec_encode_end(rec_encoder *e, uint64_t base_offset, uint64_t base_bytepos,
		      int64_t timestamp_ms)
{
	unsigned char *h = e->buf;
	size_t rendered = e->len - REC_HEADER_SIZE;

	if (e->timed && e->tslen > 0)
		memcpy(e->buf + e->len, e->ts, e->tslen);
	e->len += e->tslen;
	e->tslen = 0;
	put_header(h, e->len, e->timed, e->count, base_offset, base_bytepos,
		   e->timed ? e->first_ts : timestamp_ms, rendered,
		   e->timed ? e->last_ts - e->first_ts : 0);
	io_put32(h, crc32c(0, h + 4, e->len - 4));
	return e->len;
}

/* The one pass of rec_text_scan and rec_text_copy: dst NULL scans only. */
static uint32_t text_pass(unsigned char *dst, const struct iovec *iov, int iovcnt, size_t *lines)
{
	uint32_t crc = 0;

	*lines = 0;
	for (int i = 0; i < iovcnt; i++) {
		size_t n;
		if (dst) {
			crc = crc32c_count_copy(crc, dst, iov[i].iov_base, iov[i].iov_len, '\n', &n);
			dst += iov[i].iov_len;
		} else {
			crc = crc32c_count(crc, iov[i].iov_base, iov[i].iov_len, '\n', &n);
		}
		*lines += n;
	}
	return crc;
}

uint32_t rec_text_scan(const struct iovec *iov, int iovcnt, size_t *lines)
{
	return text_pass(NULL, iov, iovcnt, lines);
}

uint32_t rec_text_copy(void *dst, const struct iovec *iov, int iovcnt, size_t *lines)
{
	return text_pass(dst, iov, iovcnt, lines);
}

size_t rec_encode_header(unsigned char *h, uint32_t text_crc, size_t total, uint32_t count,
			 uint64_t base_offset, uint64_t base_bytepos, int64_t timestamp_ms)
{
	put_header(h, REC_HEADER_SIZE + total, 0, count, base_offset, base_bytepos, timestamp_ms,
		   total, 0);
	io_put32(h, crc32c_combine(crc32c(0, h + 4, REC_HEADER_SIZE - 4), text_crc, total));
	return REC_HEADER_SIZE + total;
}

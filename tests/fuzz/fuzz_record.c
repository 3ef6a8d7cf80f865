/*
** fuzz_record.c: libFuzzer target for the batch format (core/record.c).
**
** 1. The input as the body of a segment: rec_decode_header() walks it batch
**    after batch; each batch that passes rec_check() is iterated. Nothing
**    may read outside the batch (each one is copied into a buffer of exactly
**    its length, so ASan sees any overrun), no arithmetic on its fields may
**    overflow (UBSan), and a checked batch must hold exactly count records,
**    each a line of its text, with offsets and byte positions without gaps
**    and times that never go back, from its timestamp to its last one. A
**    checked batch encoded again from its records (timed or not) decodes to
**    the same records and times.
** 2. The input's bytes as payloads (split at "\n"), in a plain and in a
**    timed batch (times taken from the input): each decodes and checks,
**    gives the payloads and times back, and any single-byte change inside
**    it (outside its length field) is detected.
**
** Build and run: `make fuzz` (see the Makefile).
*/
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...)                                              \
	do {                                                          \
		if (!(cond)) {                                        \
			fprintf(stderr, "fuzz_record: " __VA_ARGS__); \
			fprintf(stderr, "\n");                        \
			abort();                                      \
		}                                                     \
	} while (0)

#define MAX_RECS 256

struct rec {
	const unsigned char *p;
	size_t len;
	int64_t ts;
};

/* Iterate a checked batch; fills recs (up to MAX_RECS) and returns the count. */
static size_t walk(const unsigned char *q, const rec_batch *b, struct rec *recs)
{
	rec_iter it;
	const unsigned char *payload;
	size_t len, n = 0;
	uint64_t rendered = 0, off = b->base_offset, pos = b->base_bytepos;
	int64_t last_ts = b->timestamp_ms;

	rec_iter_init(&it, q, b);
	for (;;) {
		uint64_t at_off = it.offset, at_pos = it.bytepos;

		if (!rec_iter_next(&it, &payload, &len))
			break;
		CHECK(at_off == off && at_pos == pos, "record %zu: offset/bytepos gap", n);
		CHECK(payload >= q + REC_HEADER_SIZE && payload + len < q + REC_HEADER_SIZE + b->rendered,
		      "record %zu lies outside the batch's text", n);
		CHECK(payload[len] == '\n' && memchr(payload, '\n', len) == NULL,
		      "record %zu is not one line", n);
		CHECK(it.ts >= last_ts, "record %zu: time goes back", n);
		last_ts = it.ts;
		if (n < MAX_RECS)
			recs[n] = (struct rec){ payload, len, it.ts };
		n++;
		off++;
		pos += len + 1;
		rendered += len + 1;
	}
	CHECK(n == b->count, "%zu records, count says %u", n, b->count);
	CHECK(rendered == b->rendered, "rendered %llu, header says %u", (unsigned long long)rendered,
	      b->rendered);
	CHECK(last_ts == b->max_timestamp_ms, "last time differs from the header's");
	CHECK(rec_end_offset(b) == off && rec_end_bytepos(b) == pos, "ends differ");
	return n;
}

/* Encode RECS as a batch (timed: with their times) into a malloc'd buffer. */
static unsigned char *encode(const struct rec *recs, size_t n, int timed, uint64_t off,
			     uint64_t pos, int64_t ts, size_t *len)
{
	size_t cap = REC_HEADER_SIZE, tscap = 10 * n + 10;
	unsigned char *buf, *tsbuf = malloc(tscap);
	rec_encoder e;

	for (size_t i = 0; i < n; i++)
		cap += recs[i].len + 1;
	buf = malloc(cap + (timed ? tscap : 0));
	CHECK(buf != NULL && tsbuf != NULL, "malloc");
	if (timed)
		rec_encode_begin_timed(&e, buf, tsbuf, tscap);
	else
		rec_encode_begin(&e, buf);
	for (size_t i = 0; i < n; i++) {
		unsigned char *p = timed ? rec_encode_record_at(&e, recs[i].len, recs[i].ts)
					 : rec_encode_record(&e, recs[i].len);

		memcpy(p, recs[i].p, recs[i].len);
	}
	*len = rec_encode_end(&e, off, pos, ts);
	free(tsbuf);
	return buf;
}

/* The batch in BUF decodes, checks and holds RECS (with their times when
 * TIMED, else all at TS). */
static void same_records(const unsigned char *buf, size_t len, const struct rec *recs, size_t n,
			 int timed, uint64_t off, uint64_t pos, int64_t ts)
{
	struct rec got[MAX_RECS];
	unsigned char *q = malloc(len);
	rec_batch b;

	memcpy(q, buf, len); /* exactly its length */
	CHECK(rec_decode_header(q, len, &b) == 0, "an encoded batch does not decode");
	CHECK(b.length == len && b.count == n && b.base_offset == off && b.base_bytepos == pos,
	      "an encoded batch's header differs");
	CHECK(rec_check(q, &b) == 0, "an encoded batch fails its check");
	CHECK(walk(q, &b, got) == n, "record count");
	for (size_t i = 0; i < n && i < MAX_RECS; i++) {
		CHECK(got[i].len == recs[i].len && memcmp(got[i].p, recs[i].p, recs[i].len) == 0,
		      "record %zu differs after encoding", i);
		CHECK(got[i].ts == (timed ? recs[i].ts : ts), "record %zu's time differs", i);
	}
	free(q);
}

static void as_segment_body(const uint8_t *data, size_t size)
{
	size_t at = 0;

	while (at < size) {
		rec_batch b;
		int rc = rec_decode_header(data + at, size - at, &b);

		if (rc == -EBADMSG) { /* resynchronise, as a scan for damage might */
			at++;
			continue;
		}
		if (rc == -EAGAIN)
			break;
		CHECK(rc == 0, "rec_decode_header returned %d", rc);
		CHECK(b.length >= REC_HEADER_SIZE + b.rendered && b.length <= size - at &&
			      b.count >= 1 && b.rendered >= b.count,
		      "a decoded header is impossible");
		unsigned char *q = malloc(b.length);
		CHECK(q != NULL, "malloc");
		memcpy(q, data + at, b.length);
		if (rec_check(q, &b) == 0) {
			struct rec recs[MAX_RECS];
			size_t n = walk(q, &b, recs), len;
			int timed = (b.attributes & REC_ATTR_TIMES) != 0;

			if (n <= MAX_RECS) {
				unsigned char *again = encode(recs, n, timed, b.base_offset,
							      b.base_bytepos, b.timestamp_ms, &len);
				same_records(again, len, recs, n, timed, b.base_offset, b.base_bytepos,
					     b.timestamp_ms);
				free(again);
			}
		}
		free(q);
		at += b.length;
	}
}

/* Any one byte of BUF changed, except the length field: detected. */
static void damage_is_detected(unsigned char *buf, size_t len, uint64_t h)
{
	size_t at = (size_t)(h % len);
	unsigned char x = (unsigned char)((h >> 56) | 1);
	rec_batch b;

	if (at >= 4 && at < 8)
		return;
	buf[at] ^= x;
	CHECK(rec_decode_header(buf, len, &b) != 0 || b.length != len || rec_check(buf, &b) != 0,
	      "byte %zu of a %zu-byte batch changed (^%02x) and it still checks", at, len, x);
	buf[at] ^= x;
}

static void as_payloads(const uint8_t *data, size_t size)
{
	struct rec recs[MAX_RECS];
	size_t n = 0, from = 0, len;
	uint64_t off = 0, pos = 0, h = 1469598103934665603ULL;
	int64_t ts = 1700000000000LL, t = ts;
	unsigned char *buf;

	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 1099511628211ULL;
	if (size >= 16) {
		memcpy(&off, data, 8);
		memcpy(&pos, data + 8, 8);
		off >>= 1; /* room for the records after it */
		pos >>= 1;
	}
	for (size_t i = 0; i <= size && n < MAX_RECS; i++) {
		if (i == size || data[i] == '\n') {
			t += from < size ? data[from] : 0; /* times from the input, never back */
			recs[n++] = (struct rec){ data + from, i - from, t };
			from = i + 1;
		}
	}
	for (int timed = 0; timed <= 1; timed++) {
		buf = encode(recs, n, timed, off, pos, ts, &len);
		same_records(buf, len, recs, n, timed, off, pos, timed ? recs[0].ts : ts);
		damage_is_detected(buf, len, h);
		free(buf);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	as_segment_body(data, size);
	as_payloads(data, size);
	return 0;
}

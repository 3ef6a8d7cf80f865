/*
** test_log.c: appending and reading back: the round trip of 500,000 random
** records, cursors (by byte position, by offset, following, seeking,
** confined to a segment), segments and rolls, and the errors of
** topic_append.
*/
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "util.h"

TestSuite(log, .init = tu_setup, .fini = tu_teardown, .timeout = 60);
/* The big one has a suite of its own, with a longer timeout. */
TestSuite(roundtrip, .init = tu_setup, .fini = tu_teardown, .timeout = 300);

/* ---- the round trip ----------------------------------------------------- */

#define RT_RECORDS 500000
#define RT_SEGMENT_BYTES (1 << 20)
#define RT_WINDOW 65536

/* Read up to want bytes from a cursor at pos, in chunks of random size up
** to max_chunk, and compare them with the expected log. */
static void check_window(topic *t, const tu_log *l, tu_rng *r, uint64_t pos,
			 size_t want, size_t max_chunk, tu_buf *got)
{
	cursor *c = NULL;
	int rc = cur_open(t, pos, &c);
	uint64_t total = l->bytes.len;
	size_t expect = (size_t)(total - pos < want ? total - pos : want);

	cr_assert_eq(rc, 0, "cur_open(%" PRIu64 ") = %d", pos, rc);
	cr_assert_eq(cur_pos(c), pos, "cur_pos right after cur_open(%" PRIu64
		     ") = %" PRIu64, pos, cur_pos(c));
	got->len = 0;
	tu_buf_reserve(got, want + max_chunk);
	while (got->len < want) {
		size_t chunk = 1 + (size_t)tu_below(r, max_chunk);
		ssize_t n = cur_read(c, got->p + got->len, chunk);
		cr_assert_geq(n, 0, "cur_read at %" PRIu64 " = %zd (%s)",
			      pos + got->len, n, strerror((int)-n));
		cr_assert_leq((size_t)n, chunk, "cur_read returned %zd > %zu",
			      n, chunk);
		if (n == 0)
			break;
		got->len += (size_t)n;
		cr_assert_eq(cur_pos(c), pos + got->len,
			     "cur_pos %" PRIu64 " after reading %zu bytes from %" PRIu64,
			     cur_pos(c), got->len, pos);
	}
	if (got->len > want)
		got->len = want; /* the last chunk may overshoot the window */
	char what[96];
	snprintf(what, sizeof(what), "cur_read window at bytepos %" PRIu64, pos);
	tu_assert_bytes(what, got->p, got->len, l->bytes.p + pos, expect);
	cur_close(c);
}

static void check_segments(topic *t, const tu_log *l, int whole)
{
	topic_info info;
	topic_segment *seg = NULL;
	size_t n = 0;
	uint64_t *bases = NULL;
	size_t nfiles;
	int rc;

	topic_get_info(t, &info);
	rc = topic_segments(t, &seg, &n);
	cr_assert_eq(rc, 0, "topic_segments = %d", rc);
	cr_assert_eq(n, info.segments, "topic_segments gave %zu, info says %" PRIu64,
		     n, info.segments);
	cr_assert_gt(n, 1, "expected many segments, got %zu", n);
	/* segment.bytes was applied: 1 MiB segments, not the 64 MiB default */
	cr_assert_geq(n, l->bytes.len / (2 * RT_SEGMENT_BYTES),
		      "%zu segments for %zu bytes with segment.bytes=1MiB", n,
		      l->bytes.len);
	cr_assert_eq(seg[0].base_offset, 0);
	cr_assert_eq(seg[0].base_bytepos, 0);
	for (size_t i = 0; i < n; i++) {
		cr_assert_lt(seg[i].base_offset, l->n);
		cr_assert_eq(seg[i].base_bytepos, l->pos[seg[i].base_offset],
			     "segment %zu (base %" PRIu64 "): base_bytepos %" PRIu64
			     ", want %" PRIu64, i, seg[i].base_offset,
			     seg[i].base_bytepos, l->pos[seg[i].base_offset]);
		uint64_t end = i + 1 < n ? seg[i + 1].base_bytepos : l->bytes.len;
		cr_assert_eq(seg[i].end_bytepos, end, "segment %zu: end_bytepos %"
			     PRIu64 ", want %" PRIu64, i, seg[i].end_bytepos, end);
		if (i + 1 < n)
			cr_assert_lt(seg[i].base_offset, seg[i + 1].base_offset);
	}

	/* one NNNNNNNNNNNNNNNNNNNN.log per segment, named by its base offset */
	nfiles = tu_segment_bases("rt", &bases);
	cr_assert_eq(nfiles, n, "%zu segment files, %zu segments", nfiles, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(bases[i], seg[i].base_offset,
			     "segment file %zu has base %" PRIu64 ", want %" PRIu64,
			     i, bases[i], seg[i].base_offset);
	free(bases);

	/* confined cursors: every segment alone, and all of them together are
	 * the whole log (cat TOPIC/\*.log == cat TOPIC/log) */
	tu_buf all = { 0 };
	for (size_t i = 0; i < n; i++) {
		if (!whole && i != 0 && i != n / 2 && i != n - 1)
			continue;
		cursor *c = NULL;
		size_t before = all.len;
		rc = cur_open_segment(t, seg[i].base_offset, &c);
		cr_assert_eq(rc, 0, "cur_open_segment(%" PRIu64 ") = %d",
			     seg[i].base_offset, rc);
		cr_assert_eq(cur_pos(c), seg[i].base_bytepos);
		rc = tu_cur_drain(c, 65536, &all);
		cr_assert_eq(rc, 0, "confined cur_read = %d", rc);
		cur_close(c);
		tu_assert_bytes("segment read by a confined cursor",
				all.p + before, all.len - before,
				l->bytes.p + seg[i].base_bytepos,
				seg[i].end_bytepos - seg[i].base_bytepos);
	}
	if (whole)
		tu_assert_bytes("all segments concatenated", all.p, all.len,
				l->bytes.p, l->bytes.len);
	tu_buf_free(&all);
	free(seg);
}

static void check_roundtrip(topic *t, const tu_log *l, tu_rng *r, int samples,
			    int whole)
{
	topic_info info;
	tu_buf got = { 0 };
	uint64_t total = l->bytes.len;

	/* the figures */
	topic_get_info(t, &info);
	cr_assert_eq(info.end_offset, RT_RECORDS, "end_offset %" PRIu64,
		     info.end_offset);
	cr_assert_eq(info.end_bytepos, total, "end_bytepos %" PRIu64 ", want %"
		     PRIu64, info.end_bytepos, total);
	cr_assert_gt(info.segments, 1, "segments %" PRIu64, info.segments);

	/* sequential: cur_read of everything, cur_next of every record */
	tu_assert_log(t, l);
	check_segments(t, l, whole);

	/* (a) by byte position: windows from random positions, record
	 * starts, inside records, and the edges */
	for (int i = 0; i < samples; i++) {
		uint64_t pos;
		if (i == 0)
			pos = 0;
		else if (i == 1)
			pos = total - 1;
		else if (i % 4 == 0)
			pos = l->pos[tu_below(r, l->n)];
		else
			pos = tu_below(r, total);
		check_window(t, l, r, pos, RT_WINDOW, 65536, &got);
	}
	/* tiny buffers: 1..7 bytes a call */
	for (int i = 0; i < samples / 10; i++)
		check_window(t, l, r, tu_below(r, total), 3000, 7, &got);
	check_window(t, l, r, 0, 20000, 7, &got);

	/* (b) by offset */
	tu_assert_record(t, l, 0);
	tu_assert_record(t, l, l->n - 1);
	for (int i = 0; i < samples; i++)
		tu_assert_record(t, l, tu_below(r, l->n));

	/* at the end: nothing more, and no record for offset end */
	uint64_t bp = 777;
	cr_assert_eq(topic_offset_bytepos(t, l->n, &bp), -EAGAIN);
	cr_assert_eq(bp, 777, "bytepos written on -EAGAIN");
	tu_buf_free(&got);
}

Test(roundtrip, records_500k)
{
	cfg d;
	tu_rng r;
	tu_log l = { 0 };
	store *s;
	topic *t;
	static const char tail[] = "after\0reopen\n\n";

	cfg_defaults(&d);
	tu_cfg_set(&d, CFG_SEGMENT_BYTES, "1048576");
	tu_rng_seed(&r, 500000);
	s = tu_open(&d);
	t = tu_create(s, "rt");
	tu_append_random(t, &r, &l, RT_RECORDS, 200, 65536);
	topic_info info;
	topic_get_info(t, &info);
	cr_log_info("round trip: %" PRIu64 " records, %zu bytes, %" PRIu64
		    " segments", l.n, l.bytes.len, info.segments);
	check_roundtrip(t, &l, &r, 1000, 1);
	topic_unref(t);
	tu_close(s);

	/* again after a reopen, and appends continue where the log ended */
	s = tu_open(&d);
	t = tu_get(s, "rt");
	check_roundtrip(t, &l, &r, 200, 0);
	tu_append(t, tail, sizeof(tail) - 1, RT_RECORDS);
	tu_log_add(&l, "after\0reopen", 12);
	tu_log_add(&l, "", 0);
	tu_assert_record(t, &l, RT_RECORDS);
	tu_assert_record(t, &l, RT_RECORDS + 1);
	tu_buf got = { 0 };
	uint64_t from = l.pos[RT_RECORDS - 3];
	cr_assert_eq(tu_read_from(t, from, 5, &got), 0);
	tu_assert_bytes("the log's end after the reopen", got.p, got.len,
			l.bytes.p + from, l.bytes.len - from);
	tu_buf_free(&got);
	topic_unref(t);
	tu_close(s);
	tu_log_free(&l);
}

/* ---- smaller properties ------------------------------------------------- */

Test(log, empty_topic)
{
	cfg d;
	store *s;
	topic *t;
	topic_info info;
	cursor *c = NULL;
	cur_record rec;
	char buf[16];
	uint64_t bp = 4242;

	tu_cfg_plain(&d, 0);
	s = tu_open(&d);
	t = tu_create(s, "empty");
	topic_get_info(t, &info);
	cr_assert_eq(info.end_offset, 0);
	cr_assert_eq(info.start_offset, 0, "start_offset == end_offset when empty");
	cr_assert_eq(info.end_bytepos, 0);
	cr_assert_eq(info.records, 0);
	cr_assert_eq(info.last_append_ms, 0, "last_append_ms %" PRId64
		     " before any append", info.last_append_ms);
	cr_assert_eq(topic_offset_bytepos(t, 0, &bp), -EAGAIN);
	cr_assert_eq(bp, 4242, "bytepos written on -EAGAIN");

	cr_assert_eq(cur_open(t, 0, &c), 0);
	cr_assert_eq(cur_read(c, buf, sizeof(buf)), 0);
	cr_assert_eq(cur_next(c, &rec), 0);
	cr_assert_eq(cur_pos(c), 0);

	uint64_t segs = info.segments;
	cr_assert_eq(topic_roll(t), 0);
	topic_get_info(t, &info);
	cr_assert_eq(info.segments, segs, "topic_roll of an empty segment made "
		     "%" PRIu64 " segments from %" PRIu64, info.segments, segs);

	/* the cursor that found nothing sees the first record */
	tu_append(t, "x\n", 2, 0);
	cr_assert_eq(cur_read(c, buf, sizeof(buf)), 2);
	cr_assert_eq(memcmp(buf, "x\n", 2), 0);
	cur_close(c);
	topic_unref(t);
	tu_close(s);
}

static int append_iov(topic *t, const char *p, size_t len, uint64_t *first)
{
	struct iovec iov = { .iov_base = (void *)p, .iov_len = len };

	return topic_append(t, &iov, 1, first);
}

Test(log, append_rejects_bad_input)
{
	cfg d;
	store *s;
	topic *t;
	tu_log l = { 0 };
	uint64_t first = 99;
	struct iovec none = { .iov_base = NULL, .iov_len = 0 };

	tu_cfg_plain(&d, 0);
	s = tu_open(&d);
	t = tu_create(s, "bad");
	tu_append(t, "kept\n", 5, 0);
	tu_log_add(&l, "kept", 4);

	cr_assert_eq(topic_append(t, &none, 0, &first), -EINVAL, "no iovec");
	cr_assert_eq(topic_append(t, &none, 1, &first), -EINVAL, "empty iovec");
	cr_assert_eq(append_iov(t, "abc", 3, &first), -EINVAL, "no newline");
	cr_assert_eq(append_iov(t, "a\nb", 3, &first), -EINVAL,
		     "a complete line then a partial one");
	cr_assert_eq(first, 99, "*first written on failure");
	tu_assert_log(t, &l);

	/* max.message.bytes, default 1 MiB: exactly that fits, one more not,
	 * and the whole batch is refused */
	size_t big = 1048576;
	char *line = malloc(big + 2);
	memset(line, 'm', big + 1);
	line[big + 1] = '\n';
	char *batch = malloc(big + 16);
	memcpy(batch, "short\n", 6);
	memcpy(batch + 6, line, big + 2);
	cr_assert_eq(append_iov(t, batch, big + 8, &first), -EMSGSIZE,
		     "a %zu-byte line with max.message.bytes=%zu", big + 1, big);
	cr_assert_eq(first, 99);
	tu_assert_log(t, &l);
	line[big] = '\n';
	tu_append(t, line, big + 1, 1);
	tu_log_add(&l, line, big);
	tu_assert_log(t, &l);

	/* a smaller limit set on the topic */
	cr_assert_eq(topic_config_set(t, CFG_MAX_MESSAGE_BYTES, "100", 3), 0);
	memset(line, 'q', 101);
	line[101] = '\n';
	cr_assert_eq(append_iov(t, line, 102, &first), -EMSGSIZE);
	line[100] = '\n';
	tu_append(t, line, 101, 2);
	tu_log_add(&l, line, 100);
	tu_assert_log(t, &l);
	free(line);
	free(batch);
	topic_unref(t);
	tu_close(s);
	tu_log_free(&l);
}

Test(log, lines_span_iovecs)
{
	cfg d;
	store *s;
	topic *t;
	tu_log l = { 0 };
	uint64_t first = 0;
	struct iovec iov[8] = {
		{ "a", 1 },	     { "", 0 },	  { "bc\n", 3 }, { "\n", 1 },
		{ "x\0y", 3 },	     { "", 0 },	  { "\n", 1 },	 { "\xff\x01\n", 3 },
	};

	tu_cfg_plain(&d, 0);
	s = tu_open(&d);
	t = tu_create(s, "iov");
	cr_assert_eq(topic_append(t, iov, 8, &first), 0);
	cr_assert_eq(first, 0);
	tu_log_add(&l, "abc", 3);
	tu_log_add(&l, "", 0);
	tu_log_add(&l, "x\0y", 3);
	tu_log_add(&l, "\xff\x01", 2);
	tu_assert_log(t, &l);

	/* 1000 one-byte iovecs */
	static struct iovec many[1000];
	static char bytes[1000];
	tu_rng r;
	tu_rng_seed(&r, 7);
	tu_fill(&r, bytes, sizeof(bytes));
	for (int i = 0; i < 1000; i++) {
		if (i % 37 == 36 || i == 999)
			bytes[i] = '\n';
		many[i] = (struct iovec){ &bytes[i], 1 };
	}
	cr_assert_eq(topic_append(t, many, 1000, &first), 0);
	cr_assert_eq(first, 4);
	for (int i = 0, start = 0; i < 1000; i++) {
		if (bytes[i] == '\n') {
			tu_log_add(&l, bytes + start, (size_t)(i - start));
			start = i + 1;
		}
	}
	tu_assert_log(t, &l);
	topic_unref(t);
	tu_close(s);
	tu_log_free(&l);
}

/* max.message.bytes is checked in steps of up to the limit, not line by
** line: batches of many lines, at most one of them one byte too long, cut
** into up to four pieces anywhere, are refused exactly when that line is
** there; lines of exactly the limit pass. */
Test(log, line_limit_found_anywhere)
{
	enum { MAX = 50, TEXT = 4096 };
	cfg d;
	store *s;
	topic *t;
	tu_log l = { 0 };
	tu_rng r;
	uint64_t first, next = 0;
	static char text[TEXT];

	tu_cfg_plain(&d, 0);
	s = tu_open(&d);
	t = tu_create(s, "limit");
	cr_assert_eq(topic_config_set(t, CFG_MAX_MESSAGE_BYTES, "50", 2), 0);
	tu_rng_seed(&r, 11);
	for (int round = 0; round < 400; round++) {
		/* lines of 0..MAX bytes (MAX often), a total of up to TEXT */
		size_t n = 0, lines = 1 + tu_below(&r, round % 4 == 0 ? 3 : 70);
		size_t longline = tu_below(&r, 2) ? tu_below(&r, lines) : lines; /* lines: none */
		size_t starts[80];
		for (size_t i = 0; i < lines; i++) {
			size_t len = i == longline ? MAX + 1 : tu_below(&r, 3) == 0 ? MAX : tu_below(&r, MAX + 1);
			starts[i] = n;
			memset(text + n, 'a' + (int)(i % 26), len);
			text[n + len] = '\n';
			n += len + 1;
		}
		struct iovec iov[4];
		size_t cut[5] = {0, tu_below(&r, n + 1), tu_below(&r, n + 1), tu_below(&r, n + 1), n};
		for (int i = 1; i < 4; i++) /* sort the three cuts */
			for (int j = i; j > 1 && cut[j] < cut[j - 1]; j--) {
				size_t x = cut[j];
				cut[j] = cut[j - 1];
				cut[j - 1] = x;
			}
		for (int i = 0; i < 4; i++)
			iov[i] = (struct iovec){text + cut[i], cut[i + 1] - cut[i]};
		int rc = topic_append(t, iov, 4, &first);
		if (longline < lines) {
			cr_assert_eq(rc, -EMSGSIZE, "round %d: line %zu of %zu is %d bytes", round,
				     longline, lines, MAX + 1);
			continue;
		}
		cr_assert_eq(rc, 0, "round %d: %zu lines of at most %d bytes", round, lines, MAX);
		cr_assert_eq(first, next);
		next += lines;
		for (size_t i = 0; i < lines; i++) {
			size_t end = i + 1 < lines ? starts[i + 1] : n;
			tu_log_add(&l, text + starts[i], end - starts[i] - 1);
		}
	}
	tu_assert_log(t, &l);
	topic_unref(t);
	tu_close(s);
	tu_log_free(&l);
}

/* An empty iovec may have a NULL base, as for writev(2). */
Test(log, empty_iovec_with_null_base)
{
	cfg d;
	store *s;
	topic *t;
	tu_log l = { 0 };
	uint64_t first = 7;
	struct iovec iov[4] = { { NULL, 0 }, { "ab", 2 }, { NULL, 0 }, { "\n", 1 } };

	tu_cfg_plain(&d, 0);
	s = tu_open(&d);
	t = tu_create(s, "nulliov");
	cr_assert_eq(topic_append(t, iov, 4, &first), 0);
	cr_assert_eq(first, 0);
	tu_log_add(&l, "ab", 2);
	tu_assert_log(t, &l);
	topic_unref(t);
	tu_close(s);
	tu_log_free(&l);
}

Test(log, offsets_and_timestamps)
{
	cfg d;
	store *s;
	topic *t;
	tu_rng r;
	tu_log l = { 0 };
	int64_t *lo, *hi;
	int64_t created_lo = tu_now_ms(), created_hi;
	uint64_t nb = 60;
	uint64_t *starts = calloc(nb + 1, sizeof(*starts));

	lo = calloc(nb, sizeof(*lo));
	hi = calloc(nb, sizeof(*hi));
	tu_cfg_plain(&d, 4096);
	tu_rng_seed(&r, 11);
	s = tu_open(&d);
	t = tu_create(s, "ts");
	created_hi = tu_now_ms();
	for (uint64_t b = 0; b < nb; b++) {
		starts[b] = l.n;
		lo[b] = tu_now_ms();
		tu_append_batch(t, &r, &l, 1 + (unsigned)tu_below(&r, 10), 200);
		hi[b] = tu_now_ms();
		if (b % 20 == 19)
			usleep(20000);
	}
	starts[nb] = l.n;
	tu_assert_log(t, &l);

	topic_info info;
	topic_get_info(t, &info);
	cr_assert(info.created_ms >= created_lo - 1000 &&
		  info.created_ms <= created_hi + 1000,
		  "created_ms %" PRId64 " not in [%" PRId64 ", %" PRId64 "]",
		  info.created_ms, created_lo, created_hi);
	cr_assert(info.last_append_ms >= lo[nb - 1] && info.last_append_ms <= hi[nb - 1],
		  "last_append_ms %" PRId64, info.last_append_ms);

	cursor *c = NULL;
	cur_record rec;
	int64_t prev = 0;
	cr_assert_eq(cur_open(t, 0, &c), 0);
	for (uint64_t b = 0; b < nb; b++) {
		int64_t batch_ts = 0;
		for (uint64_t o = starts[b]; o < starts[b + 1]; o++) {
			cr_assert_eq(cur_next(c, &rec), 1);
			cr_assert_eq(rec.offset, o);
			if (o == starts[b])
				batch_ts = rec.timestamp_ms;
			cr_assert_eq(rec.timestamp_ms, batch_ts,
				     "records of one batch have one time");
			cr_assert(rec.timestamp_ms >= lo[b] && rec.timestamp_ms <= hi[b],
				  "record %" PRIu64 ": time %" PRId64 " not within "
				  "its append [%" PRId64 ", %" PRId64 "]", o,
				  rec.timestamp_ms, lo[b], hi[b]);
		}
		cr_assert_geq(batch_ts, prev, "append times go backwards");
		prev = batch_ts;
	}
	cur_close(c);
	free(starts);
	free(lo);
	free(hi);
	topic_unref(t);
	tu_close(s);
	tu_log_free(&l);
}

Test(log, cursor_follows_appends_and_rolls)
{
	cfg d;
	store *s;
	topic *t;
	tu_rng r;
	tu_log l = { 0 };
	cursor *rd = NULL, *nx = NULL, *late = NULL;
	tu_buf got = { 0 };
	uint64_t seen = 0, late_from = 0;

	tu_cfg_plain(&d, 0);
	tu_rng_seed(&r, 21);
	s = tu_open(&d);
	t = tu_create(s, "follow");
	cr_assert_eq(cur_open(t, 0, &rd), 0);
	cr_assert_eq(cur_open(t, 0, &nx), 0);
	for (int round = 0; round < 40; round++) {
		size_t before = l.bytes.len;
		if (round == 20) { /* opened at the end, before the data comes */
			late_from = before;
			cr_assert_eq(cur_open(t, late_from, &late), 0);
		}
		tu_append_random(t, &r, &l, 1 + tu_below(&r, 30), 8, 300);
		if (round % 7 == 3)
			cr_assert_eq(topic_roll(t), 0);
		/* cur_read gets exactly the new bytes, then 0 */
		got.len = 0;
		for (;;) {
			tu_buf_reserve(&got, 1000);
			ssize_t n = cur_read(rd, got.p + got.len, 1 + tu_below(&r, 1000));
			cr_assert_geq(n, 0);
			if (n == 0)
				break;
			got.len += (size_t)n;
		}
		tu_assert_bytes("bytes that arrived", got.p, got.len,
				l.bytes.p + before, l.bytes.len - before);
		/* cur_next gets exactly the new records, then 0 */
		cur_record rec;
		int rc;
		while ((rc = cur_next(nx, &rec)) == 1) {
			cr_assert_eq(rec.offset, seen, "cur_next gave %" PRIu64
				     ", want %" PRIu64, rec.offset, seen);
			tu_assert_bytes("followed record", rec.payload, rec.len,
					tu_log_payload(&l, seen),
					tu_log_plen(&l, seen));
			seen++;
		}
		cr_assert_eq(rc, 0);
		cr_assert_eq(seen, l.n);
	}
	topic_info info;
	topic_get_info(t, &info);
	cr_assert_geq(info.segments, 5, "rolls made %" PRIu64 " segments",
		      info.segments);
	got.len = 0;
	for (;;) {
		tu_buf_reserve(&got, 512);
		ssize_t n = cur_read(late, got.p + got.len, 512);
		cr_assert_geq(n, 0);
		if (n == 0)
			break;
		got.len += (size_t)n;
	}
	tu_assert_bytes("cursor opened at the end, read later", got.p, got.len,
			l.bytes.p + late_from, l.bytes.len - late_from);
	cr_assert_eq(cur_pos(late), l.bytes.len);
	cur_close(rd);
	cur_close(nx);
	cur_close(late);
	tu_buf_free(&got);
	topic_unref(t);
	tu_close(s);
	tu_log_free(&l);
}

Test(log, cursor_seek_and_next_inside_records)
{
	cfg d;
	store *s;
	topic *t;
	tu_rng r;
	tu_log l = { 0 };
	cursor *c = NULL;
	cur_record rec;
	char buf[4096];

	tu_cfg_plain(&d, 8192);
	tu_rng_seed(&r, 31);
	s = tu_open(&d);
	t = tu_create(s, "seek");
	tu_append_random(t, &r, &l, 3000, 20, 600);
	cr_assert_eq(cur_open(t, 0, &c), 0);
	for (int i = 0; i < 2000; i++) {
		uint64_t p = tu_below(&r, l.bytes.len);
		uint64_t o = tu_log_record_at(&l, p);
		cur_seek(c, p);
		cr_assert_eq(cur_pos(c), p, "cur_pos after cur_seek(%" PRIu64 ")", p);
		if (i % 2) {
			size_t want = 1 + (size_t)tu_below(&r, sizeof(buf));
			ssize_t n = cur_read(c, buf, want);
			cr_assert_gt(n, 0, "cur_read after seek to %" PRIu64, p);
			tu_assert_bytes("read after cur_seek", buf, (size_t)n,
					l.bytes.p + p, (size_t)n);
			cr_assert_eq(cur_pos(c), p + (uint64_t)n);
			continue;
		}
		/* the next record that starts at or after p */
		uint64_t want_o = l.pos[o] == p ? o : o + 1;
		int rc = cur_next(c, &rec);
		if (want_o == l.n) {
			cr_assert_eq(rc, 0, "cur_next inside the last record");
			continue;
		}
		cr_assert_eq(rc, 1);
		cr_assert_eq(rec.offset, want_o, "cur_next at %" PRIu64 " (inside "
			     "record %" PRIu64 ") gave %" PRIu64 ", want %" PRIu64,
			     p, o, rec.offset, want_o);
		cr_assert_eq(rec.bytepos, l.pos[want_o]);
		tu_assert_bytes("cur_next after seek", rec.payload, rec.len,
				tu_log_payload(&l, want_o), tu_log_plen(&l, want_o));
		cr_assert_eq(cur_pos(c), l.pos[want_o + 1],
			     "cur_pos after cur_next is the record's end");
	}
	cur_close(c);
	topic_unref(t);
	tu_close(s);
	tu_log_free(&l);
}

Test(log, segments_rolls_and_confined_cursors)
{
	cfg d;
	store *s;
	topic *t;
	tu_rng r;
	tu_log l = { 0 };
	topic_segment *seg = NULL;
	size_t n = 0;
	cursor *c = NULL;
	tu_buf got = { 0 };
	const uint64_t want_bases[] = { 0, 10, 25, 26 };

	tu_cfg_plain(&d, 0);
	tu_rng_seed(&r, 41);
	s = tu_open(&d);
	t = tu_create(s, "segs");
	tu_append_random(t, &r, &l, 10, 4, 100);
	cr_assert_eq(topic_roll(t), 0);
	cr_assert_eq(topic_roll(t), 0); /* nothing to seal: a no-op */
	tu_append_random(t, &r, &l, 15, 4, 100);
	cr_assert_eq(topic_roll(t), 0);
	tu_append(t, "one\n", 4, 25);
	tu_log_add(&l, "one", 3);
	cr_assert_eq(topic_roll(t), 0);
	tu_append_random(t, &r, &l, 7, 3, 100);

	cr_assert_eq(topic_segments(t, &seg, &n), 0);
	cr_assert_eq(n, 4, "%zu segments, want 4", n);
	uint64_t ends[4];
	for (size_t i = 0; i < n; i++)
		ends[i] = i + 1 < n ? l.pos[want_bases[i + 1]] : l.bytes.len;
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(seg[i].base_offset, want_bases[i], "segment %zu base %"
			     PRIu64 ", want %" PRIu64, i, seg[i].base_offset,
			     want_bases[i]);
		cr_assert_eq(seg[i].base_bytepos, l.pos[want_bases[i]]);
		uint64_t end = ends[i];
		cr_assert_eq(seg[i].end_bytepos, end, "segment %zu: end_bytepos %"
			     PRIu64 ", want %" PRIu64, i, seg[i].end_bytepos, end);
		char name[64], path[PATH_MAX];
		tu_seg_name(name, sizeof(name), want_bases[i], "log");
		tu_topic_path(path, "segs", name);
		cr_assert(tu_exists(path), "%s missing", path);

		cr_assert_eq(cur_open_segment(t, seg[i].base_offset, &c), 0);
		got.len = 0;
		cr_assert_eq(cur_pos(c), seg[i].base_bytepos);
		for (ssize_t k; (tu_buf_reserve(&got, 7),
				 k = cur_read(c, got.p + got.len, 7)) != 0;) {
			cr_assert_gt(k, 0, "confined cur_read = %zd", k);
			got.len += (size_t)k;
		}
		/* the newest segment has grown by the "more" lines below */
		if (i + 1 == n)
			end = l.bytes.len;
		tu_assert_bytes("segment by a confined cursor", got.p, got.len,
				l.bytes.p + seg[i].base_bytepos,
				end - seg[i].base_bytepos);
		if (i + 1 < n) {
			/* a sealed segment's cursor stops at its end even as
			 * the log grows */
			tu_append(t, "more\n", 5, l.n);
			tu_log_add(&l, "more", 4);
			char b[8];
			cr_assert_eq(cur_read(c, b, sizeof(b)), 0,
				     "a confined cursor read past its segment");
		} else {
			/* the newest one grows */
			tu_append(t, "tail\n", 5, l.n);
			tu_log_add(&l, "tail", 4);
			char b[8];
			cr_assert_eq(cur_read(c, b, sizeof(b)), 5);
			cr_assert_eq(memcmp(b, "tail\n", 5), 0);
		}
		cur_close(c);
	}
	tu_assert_log(t, &l);

	/* cat *.log == cat log */
	free(seg);
	cr_assert_eq(topic_segments(t, &seg, &n), 0);
	cr_assert_eq(n, 4);
	got.len = 0;
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(cur_open_segment(t, seg[i].base_offset, &c), 0);
		for (;;) {
			tu_buf_reserve(&got, 100);
			ssize_t k = cur_read(c, got.p + got.len, 100);
			cr_assert_geq(k, 0);
			if (k == 0)
				break;
			got.len += (size_t)k;
		}
		cur_close(c);
	}
	tu_assert_bytes("all segments concatenated", got.p, got.len, l.bytes.p,
			l.bytes.len);

	cr_assert_eq(cur_open_segment(t, 5, &c), -ENOENT, "not a segment base");
	cr_assert_eq(cur_open_segment(t, 1000, &c), -ENOENT, "past the end");
	free(seg);
	tu_buf_free(&got);
	topic_unref(t);
	tu_close(s);
	tu_log_free(&l);
}

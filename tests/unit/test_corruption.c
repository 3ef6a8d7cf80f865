/*
** test_corruption.c: a flipped bit in a stored batch that is not the
** newest segment's last one (that one is a torn tail, see test_recovery.c).
** The batch is the unit of the CRC: reads of that batch fail with -EIO,
** every other record reads back byte-identical, nothing is cut off, and
** appends go on.
*/
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "util.h"

TestSuite(corruption, .init = tu_setup, .fini = tu_teardown, .timeout = 120);

#define TOPIC "c"

typedef struct world {
	cfg d;
	tu_log l;
	uint64_t *bases;
	size_t nseg;
	tu_snap snap;
} world;

static void build(world *w)
{
	store *s;
	topic *t;
	tu_rng r;

	memset(w, 0, sizeof(*w));
	tu_cfg_plain(&w->d, 8192);
	tu_rng_seed(&r, 300);
	s = tu_open(&w->d);
	t = tu_create(s, TOPIC);
	tu_append_random(t, &r, &w->l, 800, 6, 120);
	cr_assert_eq(topic_roll(t), 0);
	/* the newest segment: ten batches */
	for (int i = 0; i < 10; i++)
		tu_append_batch(t, &r, &w->l, 2 + (unsigned)tu_below(&r, 4), 120);
	topic_unref(t);
	tu_close(s);
	w->nseg = tu_segment_bases(TOPIC, &w->bases);
	cr_assert_geq(w->nseg, 4, "only %zu segments", w->nseg);
	tu_snap_take(tu_data, &w->snap);
}

static void world_free(world *w)
{
	tu_snap_free(&w->snap);
	free(w->bases);
	tu_log_free(&w->l);
}

enum where { IN_PAYLOAD, IN_TIMESTAMP, IN_CRC, IN_LENGTH, IN_MAGIC, IN_OFFSET, IN_BYTEPOS };

/* The batch damaged: its records are [first, first + count). */
typedef struct damage {
	uint64_t first;
	uint64_t count;
} damage;

/* Restore the pristine files and flip one bit in batch `bi` of segment
** `si` (a negative bi counts from the end). */
static damage flip(world *w, size_t si, long bi, enum where where)
{
	char name[64], path[PATH_MAX];
	tu_buf img = { 0 };
	tu_batch *b = NULL;
	size_t nb, k, off = 0, len = 0;

	tu_snap_restore(tu_data, &w->snap);
	tu_seg_name(name, sizeof(name), w->bases[si], "log");
	tu_topic_path(path, TOPIC, name);
	tu_read_file(path, &img);
	nb = tu_walk_batches(img.p, img.len, &b);
	cr_assert_geq(nb, 3, "segment %zu has %zu batches", si, nb);
	k = bi < 0 ? nb - (size_t)-bi : (size_t)bi;
	cr_assert_lt(k, nb);
	if (si + 1 == w->nseg)
		cr_assert_lt(k + 1, nb, "not the newest segment's last batch");
	tu_batch *t = &b[k];
	cr_assert(t->crc_ok, "batch %zu of segment %zu fails its crc before the "
		  "damage", k, si);
	cr_assert_eq(t->base_bytepos, w->l.pos[t->base_offset]);
	switch (where) {
	case IN_PAYLOAD:
		/* the middle byte of the batch's longest payload */
		for (uint32_t i = 0; i < t->count; i++) {
			size_t o, n;
			cr_assert_eq(tu_batch_record(img.p, t, i, &o, &n), 0);
			cr_assert_eq(n, tu_log_plen(&w->l, t->base_offset + i),
				     "record %u of the batch has length %zu on disk", i, n);
			if (n > len) {
				off = o + n / 2;
				len = n;
			}
		}
		cr_assert_gt(len, 0, "a batch of empty records");
		img.p[off] ^= 0x08;
		break;
	case IN_TIMESTAMP:
		img.p[t->file_off + 33] ^= 0x01;
		break;
	case IN_CRC:
		img.p[t->file_off + 2] ^= 0x40;
		break;
	case IN_LENGTH: /* the batch no longer says where the next one starts */
		img.p[t->file_off + 5] ^= 0x02;
		break;
	case IN_MAGIC: /* the header can no longer be read as one */
		img.p[t->file_off + 8] ^= 0x10;
		break;
	case IN_OFFSET: /* a high bit of its base offset: far ahead of the rest */
		img.p[t->file_off + 16 + 5] ^= 0x20;
		break;
	case IN_BYTEPOS: /* likewise for its byte position */
		img.p[t->file_off + 24 + 5] ^= 0x20;
		break;
	}
	tu_write_file(path, img.p, img.len);
	damage dm = { .first = t->base_offset, .count = t->count };
	free(b);
	tu_buf_free(&img);
	return dm;
}

/* Read forward from p with cur_read until it fails or ends. */
static int read_until_error(topic *t, uint64_t p, size_t chunk, tu_buf *out)
{
	out->len = 0;
	return tu_read_from(t, p, chunk, out);
}

static void check_damaged(topic *t, const tu_log *l, damage dm, const char *what)
{
	uint64_t B = l->pos[dm.first];			/* the batch's first byte */
	uint64_t E = l->pos[dm.first + dm.count];	/* the byte after it */
	uint64_t total = l->bytes.len;
	tu_buf got = { 0 };
	cursor *c = NULL;
	cur_record rec;
	tu_rng r;
	char buf[256];
	int rc;

	tu_rng_seed(&r, 301);
	topic_info info;
	topic_get_info(t, &info);
	cr_assert_eq(info.end_offset, l->n, "%s: end_offset %" PRIu64 ", want %"
		     PRIu64 " (the damaged batch must not cut the log)", what,
		     info.end_offset, l->n);
	cr_assert_eq(info.end_bytepos, total);

	/* from the start: every byte before the batch, then -EIO */
	rc = read_until_error(t, 0, 4096, &got);
	cr_assert_eq(rc, -EIO, "%s: reading across records %" PRIu64 "..%" PRIu64
		     " ended with %d, want -EIO", what, dm.first,
		     dm.first + dm.count - 1, rc);
	tu_assert_bytes("the bytes before the damaged batch", got.p, got.len,
			l->bytes.p, B);

	/* from random places before it: the same */
	for (int i = 0; i < 40 && B > 0; i++) {
		uint64_t p = tu_below(&r, B);
		rc = read_until_error(t, p, 1 + tu_below(&r, 3000), &got);
		cr_assert_eq(rc, -EIO, "%s: read from %" PRIu64 " ended with %d",
			     what, p, rc);
		tu_assert_bytes("bytes before the damaged batch", got.p, got.len,
				l->bytes.p + p, B - p);
	}

	/* at the batch and inside it: -EIO, no byte of it is served */
	for (uint64_t p = B; p < E; p += 1 + (E - B) / 7) {
		cr_assert_eq(cur_open(t, p, &c), 0);
		ssize_t n = cur_read(c, buf, sizeof(buf));
		cr_assert_eq(n, -EIO, "%s: cur_read at %" PRIu64 " (inside the "
			     "damaged batch %" PRIu64 "..%" PRIu64 ") = %zd", what, p,
			     B, E, n);
		cur_close(c);
	}
	cr_assert_eq(cur_open(t, B, &c), 0);
	rc = cur_next(c, &rec);
	cr_assert_eq(rc, -EIO, "%s: cur_next at the damaged batch = %d", what, rc);
	cur_close(c);

	/* cur_next from the start: every record before, then -EIO */
	cr_assert_eq(cur_open(t, 0, &c), 0);
	for (uint64_t o = 0; o < dm.first; o++) {
		rc = cur_next(c, &rec);
		cr_assert_eq(rc, 1, "%s: cur_next of record %" PRIu64 " = %d", what,
			     o, rc);
		cr_assert_eq(rec.offset, o);
		if (rec.len != tu_log_plen(l, o) ||
		    memcmp(rec.payload, tu_log_payload(l, o), rec.len) != 0)
			tu_assert_bytes("record before the damage", rec.payload,
					rec.len, tu_log_payload(l, o),
					tu_log_plen(l, o));
	}
	rc = cur_next(c, &rec);
	cr_assert_eq(rc, -EIO, "%s: cur_next of damaged record %" PRIu64 " = %d",
		     what, dm.first, rc);
	cur_close(c);

	/* after it: everything, from its end and from random places
	 * (cr_expect: the checks below still run when these fail) */
	rc = read_until_error(t, E, 4096, &got);
	cr_expect_eq(rc, 0, "%s: reading from %" PRIu64 ", the end of the damaged "
		     "batch (records %" PRIu64 "..%" PRIu64 " at %" PRIu64 "..%" PRIu64
		     "): %d", what, E, dm.first, dm.first + dm.count - 1, B, E, rc);
	if (rc == 0)
		tu_assert_bytes("the log after the damaged batch", got.p, got.len,
				l->bytes.p + E, total - E);
	int bad = 0;
	for (int i = 0; i < 40 && E < total; i++) {
		uint64_t p = E + tu_below(&r, total - E);
		rc = read_until_error(t, p, 1 + tu_below(&r, 5000), &got);
		if (rc != 0) {
			bad++;
			continue;
		}
		tu_assert_bytes("bytes after the damaged batch", got.p, got.len,
				l->bytes.p + p, total - p);
	}
	cr_expect_eq(bad, 0, "%s: %d of 40 reads from random places after the "
		     "damaged batch failed", what, bad);

	/* a cursor that failed can be moved past the damage and goes on */
	cr_assert_eq(cur_open(t, B, &c), 0);
	cr_assert_eq(cur_read(c, buf, sizeof(buf)), -EIO);
	cur_seek(c, E);
	cr_assert_eq(cur_pos(c), E);
	if (E < total) {
		rc = cur_next(c, &rec);
		cr_expect_eq(rc, 1, "%s: cur_next after seeking past the damage = %d",
			     what, rc);
		if (rc == 1) {
			cr_assert_eq(rec.offset, dm.first + dm.count);
			tu_assert_bytes("the record after the damage", rec.payload,
					rec.len, tu_log_payload(l, rec.offset),
					tu_log_plen(l, rec.offset));
		}
	}
	cur_close(c);

	/* lookups by offset on both sides; cur_next from each */
	int badrec = 0;
	for (uint64_t o = 0; o < l->n; o++) {
		if (o >= dm.first && o < dm.first + dm.count)
			continue;
		if (o % 5 != 0 && o + 1 != dm.first && o != dm.first + dm.count)
			continue;
		uint64_t bp = UINT64_MAX;
		rc = topic_offset_bytepos(t, o, &bp);
		if (rc != 0) {
			cr_expect(badrec > 0, "%s: topic_offset_bytepos(%" PRIu64
				  ") = %d (damaged: %" PRIu64 "..%" PRIu64 ")", what,
				  o, rc, dm.first, dm.first + dm.count - 1);
			badrec++;
			continue;
		}
		cr_assert_eq(bp, l->pos[o], "topic_offset_bytepos(%" PRIu64 ")", o);
		cr_assert_eq(cur_open(t, bp, &c), 0);
		rc = cur_next(c, &rec);
		cur_close(c);
		if (rc != 1 || rec.offset != o) {
			cr_expect(badrec > 0, "%s: cur_next at record %" PRIu64 " = %d",
				  what, o, rc);
			badrec++;
		}
	}
	cr_expect_eq(badrec, 0, "%s: %d of the records checked outside the damaged "
		     "batch did not read", what, badrec);
	tu_buf_free(&got);
}

/* Damage, reopen, check; append; reopen again: still damaged, still whole. */
static void run(world *w, size_t si, long bi, enum where where, const char *what)
{
	damage dm = flip(w, si, bi, where);
	store *s = tu_open(&w->d);
	topic *t = tu_get(s, TOPIC);
	uint64_t n = w->l.n;

	check_damaged(t, &w->l, dm, what);
	tu_append(t, "appended\n", 9, n);
	tu_log_add(&w->l, "appended", 8);
	tu_assert_record(t, &w->l, n);
	topic_unref(t);
	tu_close(s);

	s = tu_open(&w->d);
	t = tu_get(s, TOPIC);
	check_damaged(t, &w->l, dm, what);
	topic_unref(t);
	tu_close(s);
	tu_log_cut(&w->l, n);
}

Test(corruption, payload_bit_in_sealed_segment)
{
	world w;

	build(&w);
	run(&w, 1, 2, IN_PAYLOAD, "sealed segment 1, batch 2");
	run(&w, 1, 0, IN_PAYLOAD, "sealed segment 1, its first batch");
	run(&w, 1, -1, IN_PAYLOAD, "sealed segment 1, its last batch");
	run(&w, 0, 0, IN_PAYLOAD, "the log's first batch");
	run(&w, w.nseg - 2, -1, IN_PAYLOAD, "the newest sealed segment's last batch");
	world_free(&w);
}

Test(corruption, payload_bit_in_newest_segment)
{
	world w;

	build(&w);
	run(&w, w.nseg - 1, 4, IN_PAYLOAD, "newest segment, batch 4");
	run(&w, w.nseg - 1, 0, IN_PAYLOAD, "newest segment, its first batch");
	run(&w, w.nseg - 1, -2, IN_PAYLOAD, "newest segment, the batch before its last");
	world_free(&w);
}

Test(corruption, header_and_crc_bits)
{
	world w;

	build(&w);
	run(&w, 2, 3, IN_TIMESTAMP, "sealed segment 2, a bit of a batch's time");
	run(&w, 2, 3, IN_CRC, "sealed segment 2, a bit of a batch's crc");
	run(&w, w.nseg - 1, 5, IN_TIMESTAMP, "newest segment, a bit of a batch's time");
	run(&w, w.nseg - 1, 5, IN_CRC, "newest segment, a bit of a batch's crc");
	/* A damaged length or magic hides where the next batch starts: the
	** records after it must still be found, not cut off as a torn tail. */
	run(&w, 2, 3, IN_LENGTH, "sealed segment 2, a bit of a batch's length");
	run(&w, 2, 3, IN_MAGIC, "sealed segment 2, a bit of a batch's magic");
	run(&w, w.nseg - 1, 5, IN_LENGTH, "newest segment, a bit of a batch's length");
	run(&w, w.nseg - 1, 5, IN_MAGIC, "newest segment, a bit of a batch's magic");
	/* A damaged offset or byte position passes the header's checks but
	** says the batch ends far ahead: the batches after it, which begin
	** "before" that end, must still be kept (they were cut as a torn
	** tail, found by a differential run of dump against the mount). */
	run(&w, w.nseg - 1, 5, IN_OFFSET, "newest segment, a high bit of a batch's offset");
	run(&w, w.nseg - 1, 5, IN_BYTEPOS, "newest segment, a high bit of a batch's byte position");
	run(&w, 2, 3, IN_OFFSET, "sealed segment 2, a high bit of a batch's offset");
	run(&w, 2, 3, IN_BYTEPOS, "sealed segment 2, a high bit of a batch's byte position");
	world_free(&w);
}

/* Damage in the middle of the newest segment and a torn tail after it: the
** tail is cut, the damaged batch is kept (it has valid batches after it)
** and still fails, and appends go on from the cut. */
Test(corruption, damage_then_torn_tail_in_newest_segment)
{
	world w;
	char name[64], path[PATH_MAX];
	tu_buf img = { 0 };
	tu_batch *b = NULL;
	size_t nb;

	build(&w);
	damage dm = flip(&w, w.nseg - 1, 3, IN_PAYLOAD);
	tu_seg_name(name, sizeof(name), w.bases[w.nseg - 1], "log");
	tu_topic_path(path, TOPIC, name);
	tu_read_file(path, &img);
	nb = tu_walk_batches(img.p, img.len, &b);
	cr_assert_geq(nb, 6);
	tu_truncate(path, (off_t)(b[nb - 1].file_off + b[nb - 1].length / 2));
	tu_log_cut(&w.l, b[nb - 1].base_offset);

	store *s = tu_open(&w.d);
	topic *t = tu_get(s, TOPIC);
	check_damaged(t, &w.l, dm, "damage, then a torn tail");
	tu_append(t, "after the cut\n", 14, w.l.n);
	tu_log_add(&w.l, "after the cut", 13);
	tu_assert_record(t, &w.l, w.l.n - 1);
	topic_unref(t);
	tu_close(s);
	s = tu_open(&w.d);
	t = tu_get(s, TOPIC);
	check_damaged(t, &w.l, dm, "damage, then a torn tail, reopened");
	topic_unref(t);
	tu_close(s);
	free(b);
	tu_buf_free(&img);
	world_free(&w);
}

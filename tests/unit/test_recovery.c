/*
** test_recovery.c: reopening after a crash. Torn tails of the newest
** segment (cut at every byte of the last batch, with its index kept, cut or
** deleted), garbage after the last batch, damaged or missing index files,
** what a power loss leaves of segments that a roll made (an empty newest
** segment after a compressed one; a rolled segment whose seal never came),
** and the leftovers of tmp/ and trash/.
**
** A crash is simulated by editing the files of a closed store: the
** pristine DATADIR is snapshotted once and restored before every case.
*/
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "io.h"
#include "maint.h"
#include "util.h"

TestSuite(recovery, .init = tu_setup, .fini = tu_teardown, .timeout = 180);

#define TOPIC "r"

/* The records of the last batch: empty ones, NUL, high bytes. */
static const char last_batch[] = "\nk\nabc\0def\xff\xfe ghijklmnopqrstuvwxyz0123\n\n"
				 "seventeen bytes!!\n";

enum layout {
	ONE_SEGMENT,	/* everything in one segment */
	AFTER_SEALED,	/* sealed segments, then the newest holds batches
			   before the last one */
	ALONE,		/* the last batch is alone in the newest segment */
};

/* Append the log of the layout to a fresh topic; l gets every record and
** *last_first the first offset of the last batch. */
static void build(const cfg *d, enum layout layout, tu_log *l,
		  uint64_t *last_first)
{
	store *s = tu_open(d);
	topic *t = tu_create(s, TOPIC);
	tu_rng r;
	int rounds = layout == ONE_SEGMENT ? 1 : layout == AFTER_SEALED ? 4 : 3;

	tu_rng_seed(&r, 100 + layout);
	for (int i = 0; i < rounds; i++) {
		for (int b = 0; b < 8; b++)
			tu_append_random(t, &r, l, 1 + tu_below(&r, 6), 6, 80);
		if (i + 1 < rounds || layout == ALONE)
			cr_assert_eq(topic_roll(t), 0);
	}
	*last_first = l->n;
	tu_append(t, last_batch, sizeof(last_batch) - 1, l->n);
	for (const char *p = last_batch, *e; p < last_batch + sizeof(last_batch) - 1;
	     p = e + 1) {
		e = memchr(p, '\n', (size_t)(last_batch + sizeof(last_batch) - 1 - p));
		tu_log_add(l, p, (size_t)(e - p));
	}
	tu_assert_log(t, l);
	topic_unref(t);
	tu_close(s);
}

/* The records before offset n of l, as a log of their own. */
static void prefix(const tu_log *l, uint64_t n, tu_log *out)
{
	for (uint64_t o = 0; o < n; o++)
		tu_log_add(out, tu_log_payload(l, o), tu_log_plen(l, o));
}

/* The newest segment's paths and its batches. */
typedef struct newest {
	uint64_t base;
	char seg[PATH_MAX];
	char idx[PATH_MAX];
	tu_buf data;
	tu_batch *b;
	size_t nb;
} newest;

static void find_newest(newest *nw)
{
	uint64_t *bases;
	size_t n = tu_segment_bases(TOPIC, &bases);
	char name[64];

	cr_assert_gt(n, 0, "no segment file");
	nw->base = bases[n - 1];
	free(bases);
	tu_seg_name(name, sizeof(name), nw->base, "log");
	tu_topic_path(nw->seg, TOPIC, name);
	tu_seg_name(name, sizeof(name), nw->base, "index");
	tu_topic_path(nw->idx, TOPIC, name);
	memset(&nw->data, 0, sizeof(nw->data));
	tu_read_file(nw->seg, &nw->data);
	nw->nb = tu_walk_batches(nw->data.p, nw->data.len, &nw->b);
}

static void free_newest(newest *nw)
{
	tu_buf_free(&nw->data);
	free(nw->b);
}

/* Open the store and check it holds exactly `want` and that the newest
** segment file `seg` was cut to cut_to bytes (the torn tail is gone from the
** disk, not only from memory); then one more append gets the next offset
** and reads back. With reopen, close and check once more (the repair and
** the new records are durable). */
static void check_recovered(const cfg *d, tu_log *want, const char *what,
			    size_t L, int reopen, const char *seg, size_t cut_to)
{
	store *s = NULL;
	topic *t;
	int rc = store_open(tu_data, d, &s);
	uint64_t n = want->n;

	cr_assert_eq(rc, 0, "%s, newest segment cut to %zu: store_open = %d", what,
		     L, rc);
	struct stat st;
	cr_assert_eq(stat(seg, &st), 0);
	cr_assert_eq((size_t)st.st_size, cut_to, "%s, newest segment cut to %zu: "
		     "after store_open the file has %lld bytes, want %zu", what, L,
		     (long long)st.st_size, cut_to);
	t = tu_get(s, TOPIC);
	topic_info info;
	topic_get_info(t, &info);
	cr_assert_eq(info.end_offset, n, "%s, newest segment cut to %zu bytes: "
		     "end_offset %" PRIu64 ", want %" PRIu64, what, L,
		     info.end_offset, n);
	cr_assert_eq(info.end_bytepos, (uint64_t)want->bytes.len,
		     "%s, cut to %zu: end_bytepos %" PRIu64 ", want %zu", what, L,
		     info.end_bytepos, want->bytes.len);
	tu_assert_log(t, want);

	uint64_t first = UINT64_MAX;
	struct iovec iov = { .iov_base = "after-A\n\nafter-C\n", .iov_len = 17 };
	rc = topic_append(t, &iov, 1, &first);
	cr_assert_eq(rc, 0, "%s, cut to %zu: append after recovery = %d", what, L,
		     rc);
	cr_assert_eq(first, n, "%s, cut to %zu: the next append got offset %"
		     PRIu64 ", want %" PRIu64, what, L, first, n);
	tu_log_add(want, "after-A", 7);
	tu_log_add(want, "", 0);
	tu_log_add(want, "after-C", 7);
	tu_assert_log(t, want);
	tu_assert_record(t, want, n + 2);
	topic_unref(t);
	tu_close(s);
	if (reopen) {
		s = tu_open(d);
		t = tu_get(s, TOPIC);
		tu_assert_log(t, want);
		topic_unref(t);
		tu_close(s);
	}
	tu_log_cut(want, n);
}

enum idx_variant { IDX_KEPT, IDX_CUT, IDX_DELETED, IDX_NVARIANTS };
static const char *const idx_variant_name[] = { "index kept", "index cut",
						"index deleted" };

static void torn_tail_sweep(enum layout layout)
{
	cfg d;
	tu_log l = { 0 }, pre = { 0 };
	uint64_t last_first;
	newest nw;
	tu_snap snap;
	size_t start, size;
	struct stat st;
	off_t idx_size = -1;

	tu_cfg_plain(&d, 0);
	build(&d, layout, &l, &last_first);
	prefix(&l, last_first, &pre);

	find_newest(&nw);
	if (layout == ALONE)
		cr_assert_eq(nw.base, last_first, "the last batch should be alone "
			     "in the newest segment");
	else if (layout == AFTER_SEALED)
		cr_assert_gt(nw.base, 0);
	cr_assert_gt(nw.nb, 0, "no batch found in the newest segment");
	tu_batch *last = &nw.b[nw.nb - 1];
	cr_assert_eq(last->base_offset, last_first, "the newest segment's last "
		     "batch starts at %" PRIu64 ", want %" PRIu64, last->base_offset,
		     last_first);
	cr_assert_eq(last->count, l.n - last_first);
	cr_assert(last->crc_ok, "the last batch fails its crc32c");
	start = last->file_off;
	size = nw.data.len;
	cr_assert_eq(start + last->length, size, "the segment file goes on after "
		     "its last batch");
	if (stat(nw.idx, &st) == 0)
		idx_size = st.st_size;

	tu_snap_take(tu_data, &snap);

	/* the pristine files hold everything */
	check_recovered(&d, &l, "pristine", size, 1, nw.seg, size);

	for (int v = 0; v < IDX_NVARIANTS; v++) {
		for (size_t L = start; L < size; L++) {
			tu_snap_restore(tu_data, &snap);
			tu_truncate(nw.seg, (off_t)L);
			if (v == IDX_CUT && idx_size > 0)
				tu_truncate(nw.idx, (off_t)((uint64_t)idx_size *
					    (L - start) / (size - start)));
			else if (v == IDX_DELETED && idx_size >= 0)
				cr_assert_eq(unlink(nw.idx), 0);
			check_recovered(&d, &pre, idx_variant_name[v], L,
					(L - start) % 16 == 0, nw.seg, start);
		}
	}
	tu_snap_free(&snap);
	free_newest(&nw);
	tu_log_free(&l);
	tu_log_free(&pre);
}

Test(recovery, torn_tail_one_segment)
{
	torn_tail_sweep(ONE_SEGMENT);
}

Test(recovery, torn_tail_after_sealed_segments)
{
	torn_tail_sweep(AFTER_SEALED);
}

Test(recovery, torn_tail_last_batch_alone_in_segment)
{
	torn_tail_sweep(ALONE);
}

/* Bytes after the last complete batch: zeros (a file extended by the
** crash), random garbage, and a plausible batch header whose length runs
** past the end. Cut off; every record stays. */
Test(recovery, garbage_after_last_batch)
{
	cfg d;
	tu_log l = { 0 };
	uint64_t last_first;
	newest nw;
	tu_snap snap;
	tu_rng r;
	char junk[5000];

	tu_cfg_plain(&d, 0);
	tu_rng_seed(&r, 55);
	build(&d, AFTER_SEALED, &l, &last_first);
	find_newest(&nw);
	tu_snap_take(tu_data, &snap);

	for (int v = 0; v < 4; v++) {
		tu_buf img = { 0 };
		size_t n;
		tu_buf_add(&img, nw.data.p, nw.data.len);
		switch (v) {
		case 0: /* zeros */
			memset(junk, 0, sizeof(junk));
			n = 4096;
			break;
		case 1: /* random bytes */
			tu_fill(&r, junk, sizeof(junk));
			n = sizeof(junk);
			break;
		case 2: /* a header that promises more than is there */
			memset(junk, 0, sizeof(junk));
			memcpy(junk, nw.data.p + nw.b[nw.nb - 1].file_off, 40);
			tu_put32(junk + 4, 100000);
			n = 300;
			break;
		default: /* a copy of the last batch, its tail lost */
			n = nw.b[nw.nb - 1].length - 1;
			memcpy(junk, nw.data.p + nw.b[nw.nb - 1].file_off, n);
			break;
		}
		tu_buf_add(&img, junk, n);
		tu_snap_restore(tu_data, &snap);
		tu_write_file(nw.seg, img.p, img.len);
		check_recovered(&d, &l, v == 0 ? "zeros after the tail" :
				v == 1 ? "garbage after the tail" :
				v == 2 ? "an impossible header after the tail" :
				"a torn copy of the last batch", img.len, 1, nw.seg,
				nw.data.len);
		tu_buf_free(&img);
	}
	tu_snap_free(&snap);
	free_newest(&nw);
	tu_log_free(&l);
}

/* The last batch complete in length but with a bit flipped (a torn write
** of its body that left old bytes): it fails its check and nothing valid
** follows it, so it is a torn tail and is cut. */
Test(recovery, last_batch_failing_crc_is_a_torn_tail)
{
	cfg d;
	tu_log l = { 0 }, pre = { 0 };
	uint64_t last_first;
	newest nw;
	size_t off, len;

	tu_cfg_plain(&d, 0);
	build(&d, AFTER_SEALED, &l, &last_first);
	prefix(&l, last_first, &pre);
	find_newest(&nw);
	tu_batch *last = &nw.b[nw.nb - 1];
	cr_assert_eq(tu_batch_record(nw.data.p, last, 2, &off, &len), 0);
	cr_assert_gt(len, 4);
	nw.data.p[off + 3] ^= 0x20;
	tu_write_file(nw.seg, nw.data.p, nw.data.len);
	check_recovered(&d, &pre, "last batch with a flipped bit", nw.data.len, 1,
			nw.seg, last->file_off);
	free_newest(&nw);
	tu_log_free(&l);
	tu_log_free(&pre);
}

/* ---- index files ------------------------------------------------------- */

#define IX_TOPIC "x"

typedef struct ix_case {
	cfg d;
	tu_log l;
	uint64_t *bases;
	size_t nseg;
	tu_snap snap;
} ix_case;

static void ix_path(char *out, uint64_t base)
{
	char name[64];

	tu_seg_name(name, sizeof(name), base, "index");
	tu_topic_path(out, IX_TOPIC, name);
}

static void ix_check_lookups(topic *t, const tu_log *l, const char *what);

static void ix_build(ix_case *c)
{
	store *s;
	topic *t;
	tu_rng r;
	char path[PATH_MAX];

	memset(c, 0, sizeof(*c));
	tu_cfg_plain(&c->d, 16384);
	tu_rng_seed(&r, 77);
	s = tu_open(&c->d);
	t = tu_create(s, IX_TOPIC);
	tu_append_random(t, &r, &c->l, 2000, 8, 300);
	tu_assert_log(t, &c->l);
	topic_unref(t);
	tu_close(s);
	/* "before": the lookups of the undamaged files, after a reopen */
	s = tu_open(&c->d);
	t = tu_get(s, IX_TOPIC);
	ix_check_lookups(t, &c->l, "before any damage");
	topic_unref(t);
	tu_close(s);
	c->nseg = tu_segment_bases(IX_TOPIC, &c->bases);
	cr_assert_geq(c->nseg, 4, "only %zu segments", c->nseg);
	for (size_t i = 0; i + 1 < c->nseg; i++) {
		ix_path(path, c->bases[i]);
		cr_assert(tu_exists(path), "sealed segment %zu has no index file %s",
			  i, path);
	}
	tu_snap_take(tu_data, &c->snap);
}

static void ix_free(ix_case *c)
{
	tu_snap_free(&c->snap);
	free(c->bases);
	tu_log_free(&c->l);
}

/* Every lookup and random reads give the same as before the damage. */
static void ix_check_lookups(topic *t, const tu_log *l, const char *what)
{
	tu_rng r;
	tu_buf got = { 0 };

	tu_rng_seed(&r, 78);
	for (uint64_t o = 0; o < l->n; o++) {
		uint64_t bp = UINT64_MAX;
		int rc = topic_offset_bytepos(t, o, &bp);
		cr_assert_eq(rc, 0, "%s: topic_offset_bytepos(%" PRIu64 ") = %d",
			     what, o, rc);
		cr_assert_eq(bp, l->pos[o], "%s: topic_offset_bytepos(%" PRIu64
			     ") = %" PRIu64 ", want %" PRIu64, what, o, bp, l->pos[o]);
	}
	for (int i = 0; i < 300; i++) {
		uint64_t p = tu_below(&r, l->bytes.len);
		cursor *c = NULL;
		char buf[1500];
		cr_assert_eq(cur_open(t, p, &c), 0);
		ssize_t n = cur_read(c, buf, sizeof(buf));
		size_t want = l->bytes.len - p < sizeof(buf) ? l->bytes.len - p : sizeof(buf);
		cr_assert_gt(n, 0, "%s: cur_read at %" PRIu64 " = %zd", what, p, n);
		tu_assert_bytes(what, buf, (size_t)n, l->bytes.p + p,
				(size_t)n <= want ? (size_t)n : want);
		cur_close(c);
	}
	for (int i = 0; i < 200; i++)
		tu_assert_record(t, l, tu_below(&r, l->n));
	tu_buf_free(&got);
}

/* Restore, damage with fn, open: the damaged index files exist again after
** store_open (check_after_open) or after store_close, and lookups are as
** before; then once more after a reopen. */
static void ix_run(ix_case *c, const char *what, void (*fn)(ix_case *c, int k),
		   int k, const uint64_t *bases, size_t nbases, int check_after_open)
{
	char path[PATH_MAX];
	store *s;
	topic *t;

	tu_snap_restore(tu_data, &c->snap);
	fn(c, k);
	s = tu_open(&c->d);
	if (check_after_open) {
		for (size_t i = 0; i < nbases; i++) {
			ix_path(path, bases[i]);
			cr_assert(tu_exists(path), "%s: %s not rebuilt by store_open",
				  what, path);
		}
	}
	t = tu_get(s, IX_TOPIC);
	tu_assert_log(t, &c->l);
	ix_check_lookups(t, &c->l, what);
	topic_unref(t);
	tu_close(s);
	for (size_t i = 0; i < nbases; i++) {
		ix_path(path, bases[i]);
		cr_assert(tu_exists(path), "%s: %s missing after store_close", what,
			  path);
	}
	s = tu_open(&c->d);
	t = tu_get(s, IX_TOPIC);
	ix_check_lookups(t, &c->l, what);
	topic_unref(t);
	tu_close(s);
}

static void dmg_delete(ix_case *c, int k)
{
	char path[PATH_MAX];

	ix_path(path, c->bases[k]);
	cr_assert_eq(unlink(path), 0, "unlink(%s)", path);
}

static void dmg_garbage(ix_case *c, int k)
{
	char path[PATH_MAX];
	tu_buf b = { 0 };
	tu_rng r;

	tu_rng_seed(&r, 1000 + (uint64_t)k);
	ix_path(path, c->bases[k]);
	tu_read_file(path, &b);
	cr_assert_gt(b.len, 0);
	tu_fill(&r, b.p, b.len);
	tu_write_file(path, b.p, b.len);
	tu_buf_free(&b);
}

/* keep the first 64 bytes (a plausible header), garbage after them */
static void dmg_garbage_entries(ix_case *c, int k)
{
	char path[PATH_MAX];
	tu_buf b = { 0 };
	tu_rng r;

	tu_rng_seed(&r, 2000 + (uint64_t)k);
	ix_path(path, c->bases[k]);
	tu_read_file(path, &b);
	if (b.len > 64)
		tu_fill(&r, b.p + 64, b.len - 64);
	tu_buf_add(&b, "garbage", 7);
	tu_write_file(path, b.p, b.len);
	tu_buf_free(&b);
}

static int cut_mode;

static void dmg_truncate(ix_case *c, int k)
{
	char path[PATH_MAX];
	struct stat st;

	ix_path(path, c->bases[k]);
	cr_assert_eq(stat(path, &st), 0);
	off_t len = cut_mode == 0 ? 0 : cut_mode == 1 ? 1 : cut_mode == 2 ?
		    st.st_size / 2 : st.st_size - 1;
	tu_truncate(path, len);
}

/* the index of another segment in its place */
static void dmg_swap(ix_case *c, int k)
{
	char a[PATH_MAX], b[PATH_MAX];
	tu_buf data = { 0 };

	ix_path(a, c->bases[k]);
	ix_path(b, c->bases[k + 1]);
	tu_read_file(b, &data);
	tu_write_file(a, data.p, data.len);
	tu_buf_free(&data);
}

static void dmg_delete_all(ix_case *c, int k)
{
	(void)k;
	for (size_t i = 0; i < c->nseg; i++) {
		char path[PATH_MAX];
		ix_path(path, c->bases[i]);
		unlink(path);
	}
}

Test(recovery, sealed_index_deleted)
{
	ix_case c;

	ix_build(&c);
	ix_run(&c, "sealed index deleted", dmg_delete, 1, &c.bases[1], 1, 1);
	ix_run(&c, "first index deleted", dmg_delete, 0, &c.bases[0], 1, 1);
	ix_free(&c);
}

Test(recovery, sealed_index_garbage)
{
	ix_case c;

	ix_build(&c);
	ix_run(&c, "sealed index overwritten with garbage", dmg_garbage, 1,
	       &c.bases[1], 1, 1);
	ix_run(&c, "sealed index entries overwritten with garbage",
	       dmg_garbage_entries, 2, &c.bases[2], 1, 1);
	ix_run(&c, "sealed index replaced by another segment's", dmg_swap, 1,
	       &c.bases[1], 1, 1);
	ix_free(&c);
}

/* one bit of the first entry (after the 80-byte header): it fails its CRC */
static void dmg_flip_entry(ix_case *c, int k)
{
	char path[PATH_MAX];
	tu_buf b = { 0 };

	ix_path(path, c->bases[k]);
	tu_read_file(path, &b);
	cr_assert_gt(b.len, 80 + 10);
	b.p[80 + 10] ^= 0x01;
	tu_write_file(path, b.p, b.len);
	tu_buf_free(&b);
}

/*
** A sealed index is written whole, so an entry that fails its check is
** damage: the mount rebuilds the index rather than trust its header and
** the entries before the bad one (it did, and the first segment then had
** no entry: start_offset skipped its records, found by a differential run
** of topicfs dump against the mount).
*/
Test(recovery, sealed_index_entry_damaged)
{
	ix_case c;
	topic_info info;

	ix_build(&c);
	ix_run(&c, "a bit of the first sealed index's first entry", dmg_flip_entry, 0,
	       &c.bases[0], 1, 1);
	ix_run(&c, "a bit of a sealed index's first entry", dmg_flip_entry, 1, &c.bases[1], 1, 1);
	tu_snap_restore(tu_data, &c.snap);
	dmg_flip_entry(&c, 0);
	store *s = tu_open(&c.d);
	topic *t = tu_get(s, IX_TOPIC);
	topic_get_info(t, &info);
	cr_assert_eq(info.start_offset, 0, "start_offset %" PRIu64 " with a damaged index entry",
		     info.start_offset);
	topic_unref(t);
	tu_close(s);
	ix_free(&c);
}

Test(recovery, sealed_index_truncated)
{
	ix_case c;
	static const char *const what[] = { "sealed index cut to 0 bytes",
					    "sealed index cut to 1 byte",
					    "sealed index cut in half",
					    "sealed index missing its last byte" };

	ix_build(&c);
	for (cut_mode = 0; cut_mode < 4; cut_mode++)
		ix_run(&c, what[cut_mode], dmg_truncate, 1, &c.bases[1], 1, 1);
	ix_free(&c);
}

Test(recovery, all_indexes_deleted)
{
	ix_case c;

	ix_build(&c);
	ix_run(&c, "every index deleted", dmg_delete_all, 0, c.bases, c.nseg - 1, 1);
	ix_free(&c);
}

Test(recovery, newest_index_damaged)
{
	ix_case c;
	int k;

	ix_build(&c);
	k = (int)c.nseg - 1;
	ix_run(&c, "newest index deleted", dmg_delete, k, &c.bases[k], 1, 0);
	ix_run(&c, "newest index garbage", dmg_garbage, k, &c.bases[k], 1, 0);
	cut_mode = 2;
	ix_run(&c, "newest index cut in half", dmg_truncate, k, &c.bases[k], 1, 0);
	ix_free(&c);
}

/* ---- the on-disk format ------------------------------------------------ */

/* Every segment file is what core/FORMAT.txt says: a 64-byte header, then
** batches whose length, crc32c, count, offsets, byte positions, rendered
** size and text (each payload and a newline) match the records appended. (The
** torn-tail and corruption tests rely on this layout.) */
Test(recovery, segment_files_follow_the_format)
{
	cfg d;
	store *s;
	topic *t;
	tu_rng r;
	tu_log l = { 0 };
	uint64_t *bases;
	size_t nseg;
	tu_buf img = { 0 };
	uint64_t next = 0;

	tu_cfg_plain(&d, 4096);
	tu_rng_seed(&r, 64);
	s = tu_open(&d);
	t = tu_create(s, TOPIC);
	tu_append_random(t, &r, &l, 1500, 12, 400);
	topic_unref(t);
	tu_close(s);

	nseg = tu_segment_bases(TOPIC, &bases);
	cr_assert_gt(nseg, 3);
	for (size_t i = 0; i < nseg; i++) {
		char name[64], path[PATH_MAX];
		tu_seg_name(name, sizeof(name), bases[i], "log");
		tu_topic_path(path, TOPIC, name);
		tu_read_file(path, &img);
		const unsigned char *h = (const unsigned char *)img.p;
		cr_assert_geq(img.len, TU_SEG_HEADER);
		cr_assert_eq(memcmp(h, "TOPICSEG", 8), 0, "%s: magic", name);
		cr_assert_eq(tu_get32(h + 8), 1, "%s: version", name);
		cr_assert_eq(tu_get32(h + 12), 0, "%s: flags (compression none)", name);
		cr_assert_eq(tu_get64(h + 16), bases[i], "%s: base offset", name);
		cr_assert_eq(tu_get64(h + 24), l.pos[bases[i]], "%s: base bytepos", name);
		for (int k = 40; k < 60; k++)
			cr_assert_eq(h[k], 0, "%s: header byte %d", name, k);
		cr_assert_eq(tu_get32(h + 60), tu_crc32c(h, 60), "%s: header crc32c",
			     name);
		cr_assert_eq(bases[i], next, "segment %zu starts at offset %" PRIu64
			     ", the one before ended at %" PRIu64, i, bases[i], next);

		tu_batch *b = NULL;
		size_t nb = tu_walk_batches(img.p, img.len, &b), end = TU_SEG_HEADER;
		cr_assert_gt(nb, 0, "%s: no batch", name);
		for (size_t k = 0; k < nb; k++) {
			cr_assert_eq(b[k].file_off, end);
			cr_assert(b[k].crc_ok, "%s: batch %zu fails its crc32c", name, k);
			cr_assert_eq(b[k].base_offset, next, "%s: batch %zu", name, k);
			cr_assert_eq(b[k].base_bytepos, l.pos[next]);
			cr_assert_geq(b[k].count, 1);
			cr_assert_eq(img.p[b[k].file_off + 8], 1, "batch magic");
			cr_assert_eq(b[k].rendered,
				     l.pos[next + b[k].count] - l.pos[next],
				     "%s: batch %zu: rendered size", name, k);
			size_t rec_end = b[k].file_off + TU_BATCH_HEADER;
			for (uint32_t j = 0; j < b[k].count; j++) {
				size_t off, len;
				cr_assert_eq(tu_batch_record(img.p, &b[k], j, &off, &len), 0);
				tu_assert_bytes("a payload on disk", img.p + off, len,
						tu_log_payload(&l, next + j),
						tu_log_plen(&l, next + j));
				rec_end = off + len + 1;
			}
			cr_assert_eq(rec_end, b[k].file_off + b[k].length,
				     "%s: batch %zu: records do not fill it", name, k);
			next += b[k].count;
			end += b[k].length;
		}
		cr_assert_eq(end, img.len, "%s: %zu bytes after the last batch", name,
			     img.len - end);
		free(b);
	}
	cr_assert_eq(next, l.n, "the segments hold %" PRIu64 " records", next);
	free(bases);
	tu_buf_free(&img);
	tu_log_free(&l);
}

/* ---- leftovers of interrupted work ------------------------------------- */

Test(recovery, tmp_and_trash_emptied_at_open)
{
	cfg d;
	store *s;
	topic *t;
	char path[PATH_MAX];
	char **names = NULL;
	size_t n = 0;

	tu_cfg_plain(&d, 0);
	s = tu_open(&d);
	t = tu_create(s, "kept");
	tu_append(t, "a\n", 2, 0);
	topic_unref(t);
	tu_close(s);

	/* a half-created topic in tmp/ and a half-deleted one in trash/ */
	tu_data_path(path, "tmp");
	mkdir(path, 0755); /* FORMAT.txt: DATADIR/tmp, DATADIR/trash */
	tu_data_path(path, "tmp/half");
	cr_assert_eq(mkdir(path, 0755), 0);
	tu_data_path(path, "tmp/half/topic.conf");
	tu_write_file(path, "", 0);
	tu_data_path(path, "trash");
	mkdir(path, 0755);
	tu_data_path(path, "trash/gone");
	cr_assert_eq(mkdir(path, 0755), 0);
	tu_data_path(path, "trash/gone/00000000000000000000.log");
	tu_write_file(path, "junk", 4);

	s = tu_open(&d);
	tu_data_path(path, "tmp");
	char *tree = tu_tree(path);
	cr_assert_str_empty(tree, "tmp/ not emptied: %s", tree);
	free(tree);
	tu_data_path(path, "trash");
	tree = tu_tree(path);
	cr_assert_str_empty(tree, "trash/ not emptied: %s", tree);
	free(tree);
	cr_assert_eq(store_topic_names(s, &names, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(names[0], "kept");
	store_names_free(names, n);
	t = tu_get(s, "kept");
	tu_log l = { 0 };
	tu_log_add(&l, "a", 1);
	tu_assert_log(t, &l);
	tu_log_free(&l);
	topic_unref(t);
	tu_close(s);
}

/* Access-log-like lines into t (and l), so that zstd has something to do. */
static void append_lines(topic *t, tu_log *l, int n)
{
	for (int i = 0; i < n; i++) {
		char line[128];
		int len = snprintf(line, sizeof line,
				   "10.1.%d.%d - - \"GET /item/%d HTTP/1.1\" %d %d\n", i % 256,
				   i / 256 % 256, i * 7 % 5000, i % 10 ? 200 : 404, i * 131 % 90000);
		tu_append(t, line, (size_t)len, l->n);
		tu_log_add(l, line, (size_t)len - 1);
	}
}

/*
** A roll writes the new segment's header and leaves its sync to the next
** sync of the topic; an fsync of any file can make the new name durable
** before that. So a power loss after a roll with nothing appended since
** can leave an empty newest segment file behind a sealed one that was
** compressed meanwhile. Recovery must keep the compressed segment whole
** and sealed (rebuilding the empty one's header from its sealed index),
** not open it as the newest and cut it at its first frame as a torn tail.
*/
Test(recovery, empty_newest_segment_after_a_compressed_one)
{
	cfg d;
	tu_log l = {0};
	topic_info before, after;
	topic_segment *v;
	size_t n;
	char name[64], path[PATH_MAX];

	tu_cfg_plain(&d, 0);
	store *s = tu_open(&d);
	topic *t = tu_create(s, TOPIC);
	append_lines(t, &l, 3000);
	cr_assert_eq(topic_roll(t), 0);
	cr_assert_eq(topic_config_set(t, CFG_COMPRESSION_TYPE, "zstd", 4), 0);
	cr_assert_eq(maint_pass(s, io_now_ms() + 1000), 0); /* seal, then compress */
	cr_assert_eq(topic_segments(t, &v, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert(v[0].compressed, "the sealed segment was not compressed");
	uint64_t newest_base = v[1].base_offset;
	free(v);
	topic_get_info(t, &before);
	topic_unref(t);
	tu_close(s);

	for (int round = 0; round < 4; round++) {
		/* the power loss: the new segment's name survived, its bytes did
		** not (round 1: nor did its index's; round 2: both files are
		** gone, which only a second fault could do; round 3: the
		** compressed segment's index is gone as well, a double fault) */
		tu_seg_name(name, sizeof name, newest_base, "log");
		tu_topic_path(path, TOPIC, name);
		if (round != 2)
			tu_truncate(path, 0);
		else
			cr_assert_eq(unlink(path), 0);
		tu_seg_name(name, sizeof name, newest_base, "index");
		tu_topic_path(path, TOPIC, name);
		if (round == 1)
			tu_truncate(path, 0);
		else if (round == 2)
			cr_assert_eq(unlink(path), 0);
		if (round == 3) {
			tu_seg_name(name, sizeof name, 0, "index");
			tu_topic_path(path, TOPIC, name);
			cr_assert_eq(unlink(path), 0);
		}

		s = NULL;
		int rc = store_open(tu_data, &d, &s);
		cr_assert_eq(rc, 0, "round %d: store_open = %d", round, rc);
		t = tu_get(s, TOPIC);
		tu_assert_log(t, &l);
		topic_get_info(t, &after);
		cr_assert_eq(after.end_offset, before.end_offset);
		cr_assert_eq(after.end_bytepos, before.end_bytepos,
			     "round %d: the log's end moved from %" PRIu64 " to %" PRIu64, round,
			     before.end_bytepos, after.end_bytepos);
		cr_assert_eq(topic_segments(t, &v, &n), 0);
		cr_assert_eq(n, 2, "round %d: %zu segments, want 2", round, n);
		cr_assert(v[0].compressed, "round %d: the compressed segment changed", round);
		cr_assert_eq(v[1].base_offset, newest_base);
		free(v);
		topic_unref(t);
		tu_close(s);
	}
	/* and appends go on where the log ended */
	s = tu_open(&d);
	t = tu_get(s, TOPIC);
	append_lines(t, &l, 10);
	tu_assert_log(t, &l);
	topic_unref(t);
	tu_close(s);
	tu_log_free(&l);
}

/*
** A power loss after a roll whose seal never came: the rolled segment's
** data was not synced, so its last batch can be torn, and its growing
** index (never synced either) can be left empty. That tail is a torn
** write, not damage: recovery cuts it, as in the newest segment, and the
** log reads without EIO. (Its records were never reported durable: a sync
** seals every rolled segment first.)
*/
Test(recovery, torn_tail_of_a_rolled_segment_whose_index_is_empty)
{
	cfg d;
	tu_log l = {0};
	tu_rng r;
	tu_buf seg = {0}, got = {0}, want = {0};
	tu_batch *b;
	char name[64], path[PATH_MAX], ipath[PATH_MAX];
	struct stat st;

	tu_cfg_plain(&d, 0);
	tu_rng_seed(&r, 41);
	store *s = tu_open(&d);
	topic *t = tu_create(s, TOPIC);
	for (int i = 0; i < 6; i++)
		tu_append_batch(t, &r, &l, 5, 60);
	cr_assert_eq(topic_roll(t), 0);
	uint64_t next = l.n;
	for (int i = 0; i < 3; i++)
		tu_append_batch(t, &r, &l, 4, 60);
	topic_unref(t);
	tu_close(s);

	/* segment 0 as the power loss left it: its last batch torn, its
	** growing index empty */
	tu_seg_name(name, sizeof name, 0, "log");
	tu_topic_path(path, TOPIC, name);
	tu_read_file(path, &seg);
	size_t nb = tu_walk_batches(seg.p, seg.len, &b);
	cr_assert_eq(nb, 6);
	size_t cut_at = b[nb - 1].file_off;
	uint64_t lost = b[nb - 1].base_offset;
	tu_truncate(path, (off_t)(seg.len - 5));
	tu_seg_name(name, sizeof name, 0, "index");
	tu_topic_path(ipath, TOPIC, name);
	tu_truncate(ipath, 0);

	for (uint64_t o = 0; o < l.n; o++) {
		if (o >= lost && o < next)
			continue;
		tu_buf_add(&want, tu_log_payload(&l, o), tu_log_plen(&l, o));
		tu_buf_addc(&want, '\n');
	}
	for (int round = 0; round < 2; round++) {
		s = tu_open(&d);
		t = tu_get(s, TOPIC);
		got.len = 0;
		int rc = tu_read_from(t, 0, 4096, &got);
		cr_assert_eq(rc, 0, "round %d: reading the log failed: %s", round, strerror(-rc));
		tu_assert_bytes("the log after the torn tail", got.p, got.len, want.p, want.len);
		cr_assert_eq(stat(path, &st), 0);
		cr_assert_eq((size_t)st.st_size, cut_at,
			     "round %d: segment 0 has %lld bytes, want it cut to %zu", round,
			     (long long)st.st_size, cut_at);
		topic_unref(t);
		tu_close(s);
	}
	free(b);
	tu_buf_free(&seg);
	tu_buf_free(&got);
	tu_buf_free(&want);
	tu_log_free(&l);
}

/* The newest append's time survives a remount when a roll left the newest
** segment empty: the log's mtime keeps it, and later appends cannot get
** times before it. */
Test(recovery, last_append_time_behind_an_empty_newest_segment)
{
	cfg d;
	tu_log l = {0};
	topic_info before, after;

	tu_cfg_plain(&d, 0);
	store *s = tu_open(&d);
	topic *t = tu_create(s, TOPIC);
	append_lines(t, &l, 10);
	cr_assert_eq(topic_roll(t), 0);
	topic_get_info(t, &before);
	cr_assert_gt(before.last_append_ms, 0);
	topic_unref(t);
	tu_close(s);

	s = tu_open(&d);
	t = tu_get(s, TOPIC);
	topic_get_info(t, &after);
	cr_assert_eq(after.segments, 2);
	cr_assert_eq(after.last_append_ms, before.last_append_ms,
		     "the newest append's time went from %" PRId64 " to %" PRId64 " over a remount",
		     before.last_append_ms, after.last_append_ms);
	topic_unref(t);
	tu_close(s);
	tu_log_free(&l);
}

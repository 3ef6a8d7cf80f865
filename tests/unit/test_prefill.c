/*
** test_prefill.c: room made ahead of bulk writers (core/prefill.c).
**
** Bulk batches are copied into a mapping of room that the helper made past
** the newest segment's batches; the room is zeros in the file until then.
** These tests check that the room is made and used, that every byte reads
** back, and that no zeros outlive their segment's growth: a roll and a
** close cut the file back to its batches, and a crash image with the room
** still in it recovers every record and is cut at the mount.
**
** They look inside (core_internal.h) for what the file system cannot show:
** the newest segment's size, its room, and how many batches were copied.
*/
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "core_internal.h"
#include "prefill.h"
#include "segment.h"
#include "util.h"

TestSuite(prefill, .init = tu_setup, .fini = tu_teardown, .timeout = 180);

#define TOPIC "bulk"

/* Append one batch of random lines of 60..400 bytes, at least `bytes` in
** all (the last line ends it), and record them in l. */
static void bulk(topic *t, tu_rng *r, tu_log *l, size_t bytes)
{
	tu_buf b = {0};
	uint64_t first = l->n;

	while (b.len < bytes) {
		size_t n = 60 + tu_below(r, 341);
		tu_buf_reserve(&b, n + 1);
		tu_fill(r, b.p + b.len, n);
		tu_log_add(l, b.p + b.len, n);
		b.len += n;
		tu_buf_addc(&b, '\n');
	}
	tu_append(t, b.p, b.len, first);
	tu_buf_free(&b);
}

/* The newest segment, referenced. */
static seg *newest(topic *t)
{
	pthread_mutex_lock(&t->mu);
	seg *s = t->segs[t->nsegs - 1];
	seg_ref(s);
	pthread_mutex_unlock(&t->mu);
	return s;
}

static uint64_t seg_size(topic *t, seg *s)
{
	pthread_mutex_lock(&t->mu);
	uint64_t n = s->size;
	pthread_mutex_unlock(&t->mu);
	return n;
}

static uint64_t file_len(int fd)
{
	struct stat st;

	cr_assert_eq(fstat(fd, &st), 0);
	return (uint64_t)st.st_size;
}

static uint64_t mapped(topic *t)
{
	pthread_mutex_lock(&t->append_mu);
	uint64_t n = t->mapped_appends;
	pthread_mutex_unlock(&t->append_mu);
	return n;
}

/* Every segment file of the topic holds its batches and nothing after
** them: the batches walked from the header end exactly at the file's end,
** and there is at least one. */
static void assert_no_room_on_disk(void)
{
	uint64_t *bases;
	size_t n = tu_segment_bases(TOPIC, &bases);

	cr_assert_gt(n, 0);
	for (size_t i = 0; i < n; i++) {
		char name[64], path[PATH_MAX];
		tu_buf data = {0};
		tu_batch *b;

		tu_seg_name(name, sizeof name, bases[i], "log");
		tu_topic_path(path, TOPIC, name);
		tu_read_file(path, &data);
		size_t nb = tu_walk_batches(data.p, data.len, &b);
		size_t end = nb ? b[nb - 1].file_off + b[nb - 1].length : TU_SEG_HEADER;
		cr_assert_eq(end, data.len, "segment %s: batches end at %zu, the file at %zu", name,
			     end, data.len);
		for (size_t k = 0; k < nb; k++)
			cr_assert(b[k].crc_ok, "segment %s: batch %zu fails its crc", name, k);
		free(b);
		tu_buf_free(&data);
	}
	free(bases);
}

/* Wait (up to 10 s) until the helper has room ready past the newest
** batch of s for at least `ahead` bytes, or up to where s may grow. */
static void wait_room(topic *t, seg *s, uint64_t ahead)
{
	double until = tu_mono_s() + 10;

	pthread_mutex_lock(&t->mu);
	uint64_t cap = (uint64_t)t->eff.segment_bytes + 64; /* the segment header */
	pthread_mutex_unlock(&t->mu);
	for (;;) {
		uint64_t want = seg_size(t, s) + ahead;
		if (atomic_load(&s->ready) >= (want < cap ? want : cap))
			break;
		cr_assert_lt(tu_mono_s(), until, "no room made ahead of a bulk writer in 10 s");
		usleep(1000);
	}
}

/* Close the store: no segment keeps room on disk; open it again: the log
** reads back as l. Frees l. */
static void close_and_reopen(store *st, topic *t, const cfg *d, tu_log *l)
{
	topic_unref(t);
	tu_close(st);
	assert_no_room_on_disk();
	st = tu_open(d);
	t = tu_get(st, TOPIC);
	tu_assert_log(t, l);
	topic_unref(t);
	tu_close(st);
	tu_log_free(l);
}

Test(prefill, room_is_made_used_and_cut)
{
	cfg d;
	tu_log l = {0};
	tu_rng r;

	tu_cfg_plain(&d, 32 << 20);
	store *st = tu_open(&d);
	topic *t = tu_create(st, TOPIC);
	tu_rng_seed(&r, 1);

	bulk(t, &r, &l, PREFILL_MIN); /* written with pwrite; asks for room */
	seg *s = newest(t);
	cr_assert_eq(prefill_segment(t, s), 0);
	uint64_t size = seg_size(t, s), len = file_len(s->fd);
	cr_assert_gt(len, size + (1u << 20), "room: file %" PRIu64 ", batches %" PRIu64, len,
		     size);
	cr_assert_geq(atomic_load(&s->ready), size + (1u << 20));

	/* The room reads as zeros in the file, and never in the log. */
	{
		unsigned char buf[4096];
		ssize_t n = pread(s->fd, buf, sizeof buf, (off_t)size);
		cr_assert_eq(n, (ssize_t)sizeof buf);
		for (size_t i = 0; i < sizeof buf; i++)
			cr_assert_eq(buf[i], 0);
	}
	uint64_t before = mapped(t);
	for (int i = 0; i < 6; i++) {
		wait_room(t, s, PREFILL_MIN + (64u << 10));
		bulk(t, &r, &l, PREFILL_MIN);
	}
	cr_assert_eq(mapped(t), before + 6, "bulk batches copied into the room: %" PRIu64,
		     mapped(t) - before);
	tu_assert_log(t, &l);

	/* A roll cuts the old segment back to its batches. */
	uint64_t old_size = seg_size(t, s);
	cr_assert_eq(topic_roll(t), 0);
	cr_assert_eq(file_len(s->fd), old_size);
	seg_unref(s);

	/* Room in the new segment, then a close cuts it too. */
	bulk(t, &r, &l, PREFILL_MIN);
	s = newest(t);
	cr_assert_eq(prefill_segment(t, s), 0);
	cr_assert_gt(file_len(s->fd), seg_size(t, s));
	bulk(t, &r, &l, PREFILL_MIN);
	tu_assert_log(t, &l);
	seg_unref(s);
	close_and_reopen(st, t, &d, &l);
}

Test(prefill, crash_image_with_room_recovers_every_record)
{
	cfg d;
	tu_log l = {0};
	tu_rng r;
	tu_snap crash;

	tu_cfg_plain(&d, 64 << 20);
	store *st = tu_open(&d);
	topic *t = tu_create(st, TOPIC);
	tu_rng_seed(&r, 2);
	bulk(t, &r, &l, PREFILL_MIN);
	seg *s = newest(t);
	for (int i = 0; i < 5; i++) {
		wait_room(t, s, PREFILL_MIN + 100000 + (64u << 10));
		bulk(t, &r, &l, PREFILL_MIN + tu_below(&r, 100000));
	}
	cr_assert_geq(mapped(t), 5);
	cr_assert_gt(file_len(s->fd), seg_size(t, s), "the crash image must hold room");

	/* What a crash of the daemon leaves: the files as they are now (the
	** copies into the mapping are in the page cache, which is what
	** reading them shows). */
	tu_snap_take(tu_data, &crash);
	seg_unref(s);
	topic_unref(t);
	tu_close(st);
	tu_rm_rf(tu_data);
	tu_snap_restore(tu_data, &crash);
	tu_snap_free(&crash);

	st = tu_open(&d);
	t = tu_get(st, TOPIC);
	tu_assert_log(t, &l);
	s = newest(t);
	cr_assert_eq(file_len(s->fd), seg_size(t, s), "recovery cuts the room");
	seg_unref(s);
	/* And appends go on after the cut. */
	bulk(t, &r, &l, 1000);
	tu_assert_log(t, &l);
	topic_unref(t);
	tu_close(st);
	assert_no_room_on_disk();
	tu_log_free(&l);
}

/* The helper thread alone, racing a writer whose segments roll every few
** batches: the log reads back whole, and no sealed segment keeps room. */
Test(prefill, helper_races_rolls)
{
	cfg d;
	tu_log l = {0};
	tu_rng r;

	tu_cfg_plain(&d, 3 << 20);
	store *st = tu_open(&d);
	topic *t = tu_create(st, TOPIC);
	tu_rng_seed(&r, 3);
	for (int i = 0; i < 60; i++) {
		bulk(t, &r, &l, PREFILL_MIN + tu_below(&r, 200000));
		if (i % 7 == 3) { /* let the helper get ahead now and then */
			seg *s = newest(t);
			wait_room(t, s, PREFILL_MIN + 200000 + (64u << 10));
			seg_unref(s);
		}
	}
	cr_assert_gt(mapped(t), 0);
	tu_assert_log(t, &l);
	uint64_t *bases;
	cr_assert_gt(tu_segment_bases(TOPIC, &bases), 5);
	free(bases);
	close_and_reopen(st, t, &d, &l);
}

/* Small batches never ask for room: the file holds the batches alone and
** nothing is mapped. */
Test(prefill, small_batches_make_no_room)
{
	cfg d;
	tu_log l = {0};
	tu_rng r;

	tu_cfg_plain(&d, 0);
	store *st = tu_open(&d);
	topic *t = tu_create(st, TOPIC);
	tu_rng_seed(&r, 4);
	for (int i = 0; i < 300; i++)
		bulk(t, &r, &l, PREFILL_MIN / 4);
	seg *s = newest(t);
	cr_assert_eq(file_len(s->fd), seg_size(t, s));
	cr_assert_null(s->map);
	cr_assert_eq(mapped(t), 0);
	seg_unref(s);
	tu_assert_log(t, &l);
	topic_unref(t);
	tu_close(st);
	tu_log_free(&l);
}

/* Bulk writers to more topics than the helper holds room for: at most
** HELD (4) newest segments have room at any time, each topic's log reads
** back whole, and none keeps room on disk after the close. */
Test(prefill, room_for_a_few_topics_at_a_time)
{
	enum { TOPICS = 7, ROUNDS = 6 };
	cfg d;
	tu_log l[TOPICS];
	topic *t[TOPICS];
	tu_rng r;

	memset(l, 0, sizeof l);
	tu_cfg_plain(&d, 0);
	store *st = tu_open(&d);
	tu_rng_seed(&r, 5);
	for (int k = 0; k < TOPICS; k++) {
		char name[16];
		snprintf(name, sizeof name, "t%d", k);
		t[k] = tu_create(st, name);
	}
	int most = 0;
	for (int i = 0; i < ROUNDS; i++) {
		for (int k = 0; k < TOPICS; k++) {
			bulk(t[k], &r, &l[k], PREFILL_MIN);
			usleep(20000); /* let the helper serve this topic */
			int with_room = 0;
			for (int j = 0; j < TOPICS; j++) {
				pthread_mutex_lock(&t[j]->append_mu);
				seg *s = newest(t[j]);
				with_room += file_len(s->fd) > seg_size(t[j], s);
				seg_unref(s);
				pthread_mutex_unlock(&t[j]->append_mu);
			}
			if (with_room > most)
				most = with_room;
		}
	}
	cr_log_info("prefill: at most %d of %d newest segments held room at once", most, TOPICS);
	cr_assert_leq(most, 4, "%d newest segments held room at once", most);
	cr_assert_geq(most, 2, "the helper made room in %d segment(s) at most", most);
	for (int k = 0; k < TOPICS; k++) {
		tu_assert_log(t[k], &l[k]);
		topic_unref(t[k]);
		tu_log_free(&l[k]);
	}
	tu_close(st);
}

/*
** test_consumer.c: named reader positions: whole records per read, records
** longer than a read, shared readers each getting a record once, seeking,
** and the position surviving a reopen of the store.
*/
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <unistd.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer.h"
#include "store.h"
#include "topic.h"
#include "util.h"

TestSuite(consumer, .init = tu_setup, .fini = tu_teardown, .timeout = 60);

static void append_numbered(topic *t, int from, int to)
{
	char line[64];
	for (int i = from; i < to; i++) {
		int n = snprintf(line, sizeof line, "record %d\n", i);
		tu_append(t, line, (size_t)n, (uint64_t)i);
	}
}

/*
** Records longer than the read, one after the other in one batch: each is
** handed out in pieces, whole, once. The second one's rest came from the
** record after it (a 8-byte read of "aaaaaaaaaa\nbbbbbbbbbb\ncccc\n"
** appended at once gave "bbbbbbbb", then "ccc"), and the position stayed
** on it, so it went out again. Found by a soak.
*/
Test(consumer, long_records_of_one_batch_in_pieces)
{
	static const char want[] = "aaaaaaaaaa\nbbbbbbbbbb\ncccc\ndddddddddddddddddddd\ne\n";
	cfg d;
	char buf[64];
	tu_buf got = {0};

	tu_cfg_plain(&d, 4096);
	store *s = tu_open(&d);
	topic *t = tu_create(s, "q");
	tu_append(t, want, sizeof want - 1, 0); /* one batch of 5 records */
	for (size_t len = 1; len <= 12; len++) {
		consumer *c;
		ssize_t n;
		char name[16];
		snprintf(name, sizeof name, "r%zu", len);
		cr_assert_eq(consumer_open(t, name, 1, &c), 0);
		got.len = 0;
		while ((n = consumer_read(c, buf, len, 0)) > 0)
			tu_buf_add(&got, buf, (size_t)n);
		cr_assert_eq(n, 0, "read %zd", n);
		tu_assert_bytes("reads of len bytes", got.p, got.len, want, sizeof want - 1);
		cr_assert_eq(consumer_offset(c), 5, "reads of %zu bytes: position %" PRIu64, len,
			     consumer_offset(c));
		consumer_close(c);
	}
	tu_buf_free(&got);
	topic_unref(t);
	tu_close(s);
}

Test(consumer, whole_records_and_position)
{
	cfg d;
	char buf[64];

	tu_cfg_plain(&d, 4096);
	store *s = tu_open(&d);
	topic *t = tu_create(s, "q");
	append_numbered(t, 0, 100);

	consumer *c;
	cr_assert_eq(consumer_open(t, "a", 0, &c), -ENOENT);
	cr_assert_eq(consumer_open(t, "bad name", 1, &c), -EINVAL);
	cr_assert_eq(consumer_open(t, "a", 1, &c), 0);
	/* "record 0\n" is 9 bytes: a 20-byte read takes two whole records. */
	ssize_t n = consumer_read(c, buf, 20, 0);
	cr_assert_eq(n, 18);
	cr_assert_eq(memcmp(buf, "record 0\nrecord 1\n", 18), 0);
	cr_assert_eq(consumer_offset(c), 2);
	/* A 4-byte read hands out record 2 in pieces. */
	cr_assert_eq(consumer_read(c, buf, 4, 0), 4);
	cr_assert_eq(memcmp(buf, "reco", 4), 0);
	cr_assert_eq(consumer_read(c, buf, 64, 0), 5);
	cr_assert_eq(memcmp(buf, "rd 2\n", 5), 0);
	cr_assert_eq(consumer_offset(c), 3);
	cr_assert_eq(consumer_read(c, buf, 9, 0), 9);
	cr_assert_eq(memcmp(buf, "record 3\n", 9), 0);

	/* Seek: rewind to 50, and past the end. */
	cr_assert_eq(consumer_seek(c, 50), 0);
	cr_assert_eq(consumer_read(c, buf, 10, 0), 10);
	cr_assert_eq(memcmp(buf, "record 50\n", 10), 0);
	cr_assert_eq(consumer_seek(c, 105), 0);
	cr_assert_eq(consumer_read(c, buf, sizeof buf, 0), 0);
	append_numbered(t, 100, 110);
	cr_assert_eq(consumer_read(c, buf, 11, 0), 11);
	cr_assert_eq(memcmp(buf, "record 105\n", 11), 0);
	consumer_close(c);

	/* The position survives a reopen of the store. */
	topic_unref(t);
	tu_close(s);
	s = tu_open(&d);
	t = tu_get(s, "q");
	cr_assert(consumer_exists(t, "a"));
	cr_assert(!consumer_exists(t, "b"));
	cr_assert_eq(consumer_open(t, "a", 0, &c), 0);
	cr_assert_eq(consumer_offset(c), 106);
	cr_assert_eq(consumer_read(c, buf, 11, 0), 11);
	cr_assert_eq(memcmp(buf, "record 106\n", 11), 0);
	consumer_close(c);

	char **names;
	size_t cnt;
	cr_assert_eq(consumer_names(t, &names, &cnt), 0);
	cr_assert_eq(cnt, 1);
	cr_assert_str_eq(names[0], "a");
	store_names_free(names, cnt);
	cr_assert_eq(consumer_remove(t, "a"), 0);
	cr_assert(!consumer_exists(t, "a"));
	cr_assert_eq(consumer_remove(t, "a"), -ENOENT);
	topic_unref(t);
	tu_close(s);
}

struct worker {
	topic *t;
	char *seen; /* seen[i] counts deliveries of record i */
	pthread_mutex_t *mu;
	int total;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	consumer *c;
	char buf[100];

	cr_assert_eq(consumer_open(w->t, "jobs", 1, &c), 0);
	for (;;) {
		ssize_t n = consumer_read(c, buf, sizeof buf, 0);
		cr_assert_geq(n, 0);
		if (n == 0)
			break;
		for (char *p = buf; p < buf + n;) {
			char *nl = memchr(p, '\n', (size_t)(buf + n - p));
			cr_assert_not_null(nl, "a read ended inside a record");
			int i = atoi(p + 7);
			pthread_mutex_lock(w->mu);
			w->seen[i]++;
			pthread_mutex_unlock(w->mu);
			p = nl + 1;
		}
	}
	consumer_close(c);
	return NULL;
}

Test(consumer, shared_readers_get_each_record_once)
{
	enum { N = 20000, READERS = 4 };
	cfg d;
	pthread_t th[READERS];
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	struct worker w[READERS];
	char *seen = calloc(N, 1);

	tu_cfg_plain(&d, 64 << 10);
	store *s = tu_open(&d);
	topic *t = tu_create(s, "q");
	append_numbered(t, 0, N);
	for (int i = 0; i < READERS; i++) {
		w[i] = (struct worker){t, seen, &mu, N};
		pthread_create(&th[i], NULL, work, &w[i]);
	}
	for (int i = 0; i < READERS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < N; i++)
		cr_assert_eq(seen[i], 1, "record %d delivered %d times", i, seen[i]);
	free(seen);
	topic_unref(t);
	tu_close(s);
}

/*
** The longest name a consumer may have, 249 characters like a topic's: its
** position file "NAME.pos" fits a file name, but "NAME.pos.tmp", the
** temporary file of its durable replacement, would not (a black-box audit
** found such consumers could not be opened). The position must persist
** and come back after a reopen.
*/
Test(consumer, longest_name_keeps_its_position)
{
	cfg d;
	char name[250], buf[64];
	consumer *c;

	memset(name, 'c', 249);
	name[249] = '\0';
	tu_cfg_plain(&d, 0);
	store *s = tu_open(&d);
	topic *t = tu_create(s, "q");
	append_numbered(t, 0, 10);
	cr_assert_eq(consumer_open(t, name, 1, &c), 0);
	cr_assert_eq(consumer_read(c, buf, 18, 0), 18);
	cr_assert_eq(consumer_persist(c), 0);
	consumer_close(c);
	topic_unref(t);
	tu_close(s);

	s = tu_open(&d);
	t = tu_get(s, "q");
	cr_assert_eq(consumer_open(t, name, 0, &c), 0);
	cr_assert_eq(consumer_offset(c), 2);
	cr_assert_eq(consumer_read(c, buf, 9, 0), 9);
	cr_assert_eq(memcmp(buf, "record 2\n", 9), 0);
	consumer_close(c);
	topic_unref(t);
	tu_close(s);
}

/*
** A crash while a position was being stored leaves "NAME.pos.tmp" in
** consumers/: the next open of the store removes it (it was left for good),
** and the stored positions are as they were.
*/
Test(consumer, interrupted_store_leftover_is_removed)
{
	cfg d;
	char dir[4096], path[4096 + 64], buf[64];
	consumer *c;

	tu_cfg_plain(&d, 0);
	store *s = tu_open(&d);
	topic *t = tu_create(s, "q");
	append_numbered(t, 0, 10);
	cr_assert_eq(consumer_open(t, "w", 1, &c), 0);
	cr_assert_eq(consumer_read(c, buf, 18, 0), 18);
	consumer_close(c);
	topic_unref(t);
	tu_close(s);

	tu_topic_path(dir, "q", "consumers");
	snprintf(path, sizeof path, "%s/w.pos.tmp", dir);
	tu_write_file(path, "offset=7\n", 9);
	s = tu_open(&d);
	t = tu_get(s, "q");
	cr_assert_not(tu_exists(path), "%s is still there after a reopen", path);
	cr_assert_eq(consumer_open(t, "w", 0, &c), 0);
	cr_assert_eq(consumer_offset(c), 2);
	consumer_close(c);
	topic_unref(t);
	tu_close(s);
}

/*
** Removing a consumer while its position is being stored (the background
** thread's save, a close or a seek): the store's rename must not bring the
** unlinked file back, with the old position, after the removal returned.
** (Found in a review: 6 of 150 removed names came back.)
*/
struct saver {
	consumer *c;
	atomic_int stop;
};

static void *save_loop(void *arg)
{
	struct saver *sv = arg;
	uint64_t o = 0;

	while (!atomic_load(&sv->stop)) {
		consumer_seek(sv->c, o++ % 7); /* a new position to store */
		consumer_persist(sv->c);
	}
	return NULL;
}

Test(consumer, removal_is_not_undone_by_a_store)
{
	cfg d;
	char name[32], path[PATH_MAX + 64];
	int back = 0;

	tu_cfg_plain(&d, 0);
	store *s = tu_open(&d);
	topic *t = tu_create(s, "q");
	append_numbered(t, 0, 10);
	for (int i = 0; i < 200; i++) {
		struct saver sv = {0};
		pthread_t th;

		snprintf(name, sizeof name, "c%d", i);
		cr_assert_eq(consumer_open(t, name, 1, &sv.c), 0);
		cr_assert_eq(pthread_create(&th, NULL, save_loop, &sv), 0);
		usleep(100 + (unsigned)(i % 7) * 50);
		cr_assert_eq(consumer_remove(t, name), 0);
		atomic_store(&sv.stop, 1);
		pthread_join(th, NULL);
		consumer_close(sv.c);
		snprintf(path, sizeof path, "%s/topics/q/consumers/%s.pos", tu_data, name);
		back += tu_exists(path);
	}
	cr_assert_eq(back, 0, "%d of 200 removed consumers came back", back);
	topic_unref(t);
	tu_close(s);
}

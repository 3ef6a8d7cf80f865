/*
** test_concurrency.c: writers and readers of one topic at once, rolls and
** lookups racing appends, topics created and deleted from many threads.
**
** Worker threads never call cr_assert (it is not thread-safe): they record
** the first failure in the shared state, and the test's thread asserts on
** it after joining them.
*/
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "util.h"

TestSuite(concurrency, .init = tu_setup, .fini = tu_teardown, .timeout = 240);

typedef struct shared {
	topic *t;
	store *s;
	atomic_int writers_done;
	atomic_int failed;
	pthread_mutex_t mu;
	char msg[512];
	double deadline; /* tu_mono_s() after which a waiting thread gives up */
} shared;

static void fail(shared *sh, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&sh->mu);
	if (!atomic_load(&sh->failed)) {
		va_start(ap, fmt);
		vsnprintf(sh->msg, sizeof(sh->msg), fmt, ap);
		va_end(ap);
		atomic_store(&sh->failed, 1);
	}
	pthread_mutex_unlock(&sh->mu);
}

static void shared_init(shared *sh, double seconds)
{
	memset(sh, 0, sizeof(*sh));
	pthread_mutex_init(&sh->mu, NULL);
	sh->deadline = tu_mono_s() + seconds;
}

/* A payload must be exactly "w<id>-<seq>" with id < nw: anything else is a
** torn or mixed record. */
static int parse_rec(const char *p, size_t len, int nw, int *id, uint32_t *seq)
{
	size_t i;
	uint64_t v = 0;

	if (len < 4 || p[0] != 'w' || p[1] < '0' || p[1] >= '0' + nw || p[2] != '-')
		return -1;
	*id = p[1] - '0';
	for (i = 3; i < len; i++) {
		if (p[i] < '0' || p[i] > '9' || i > 12)
			return -1;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	if (len == 3 || (p[3] == '0' && len > 4))
		return -1;
	*seq = (uint32_t)v;
	return 0;
}

/* ---- four writers, two readers ------------------------------------------ */

#define NW 4
#define PER 100000
#define TOTAL ((uint64_t)NW * PER)

typedef struct writer {
	shared *sh;
	int id;
	int per;
	int max_batch;
	uint64_t *firsts; /* first offset of each batch */
	uint32_t *counts; /* its records; they hold seqs from the running sum */
	size_t nb;
} writer;

static void *writer_main(void *arg)
{
	writer *w = arg;
	tu_rng r;
	char buf[16 * 24];
	uint32_t seq = 0;

	tu_rng_seed(&r, 9000 + (uint64_t)w->id);
	while (seq < (uint32_t)w->per && !atomic_load(&w->sh->failed)) {
		uint32_t n = 1 + (uint32_t)tu_below(&r, (uint64_t)w->max_batch);
		size_t len = 0;
		if (n > (uint32_t)w->per - seq)
			n = (uint32_t)w->per - seq;
		for (uint32_t i = 0; i < n; i++)
			len += (size_t)sprintf(buf + len, "w%d-%u\n", w->id, seq + i);
		struct iovec iov = { .iov_base = buf, .iov_len = len };
		uint64_t first = UINT64_MAX, bp;
		int rc = topic_append(w->sh->t, &iov, 1, &first);
		if (rc != 0) {
			fail(w->sh, "writer %d: topic_append = %d (%s)", w->id, rc,
			     strerror(-rc));
			break;
		}
		/* what an append acknowledged is there for every reader */
		rc = topic_offset_bytepos(w->sh->t, first + n - 1, &bp);
		if (rc != 0) {
			fail(w->sh, "writer %d: record %" PRIu64 " just appended, "
			     "topic_offset_bytepos = %d", w->id, first + n - 1, rc);
			break;
		}
		w->firsts[w->nb] = first;
		w->counts[w->nb] = n;
		w->nb++;
		seq += n;
	}
	atomic_fetch_add(&w->sh->writers_done, 1);
	return NULL;
}

/* Sleep a little while nothing is there yet; 1 when the deadline passed. */
static int wait_more(shared *sh)
{
	if (tu_mono_s() > sh->deadline)
		return 1;
	usleep(50);
	return 0;
}

typedef struct reader {
	shared *sh;
	int nw;
	uint64_t total;
	uint32_t *ids; /* ids[offset] = writer * PER + seq */
	tu_buf bytes;  /* cur_read reader: everything it read */
	uint64_t seen;
} reader;

static void *reader_next_main(void *arg)
{
	reader *rd = arg;
	cursor *c = NULL;
	cur_record rec;
	uint32_t next_seq[10] = { 0 };
	uint64_t end = 0;
	int rc = cur_open(rd->sh->t, 0, &c);

	if (rc != 0) {
		fail(rd->sh, "cur_open = %d", rc);
		return NULL;
	}
	while (rd->seen < rd->total && !atomic_load(&rd->sh->failed)) {
		rc = cur_next(c, &rec);
		if (rc < 0) {
			fail(rd->sh, "cur_next reader: cur_next = %d after %" PRIu64
			     " records", rc, rd->seen);
			break;
		}
		if (rc == 0) {
			if (wait_more(rd->sh)) {
				fail(rd->sh, "cur_next reader: stuck after %" PRIu64
				     " records", rd->seen);
				break;
			}
			continue;
		}
		int id;
		uint32_t seq;
		if (rec.offset != rd->seen || rec.bytepos != end) {
			fail(rd->sh, "cur_next reader: record %" PRIu64 " at %" PRIu64
			     ", want offset %" PRIu64 " at %" PRIu64, rec.offset,
			     rec.bytepos, rd->seen, end);
			break;
		}
		if (parse_rec(rec.payload, rec.len, rd->nw, &id, &seq) != 0) {
			fail(rd->sh, "cur_next reader: record %" PRIu64 " is torn: "
			     "\"%.*s\"", rec.offset, (int)(rec.len < 64 ? rec.len : 64),
			     rec.payload);
			break;
		}
		if (seq != next_seq[id]) {
			fail(rd->sh, "cur_next reader: record %" PRIu64 " is w%d-%u, "
			     "want seq %u of that writer", rec.offset, id, seq,
			     next_seq[id]);
			break;
		}
		next_seq[id]++;
		rd->ids[rd->seen++] = (uint32_t)id * PER + seq;
		end = rec.bytepos + rec.len + 1;
	}
	if (!atomic_load(&rd->sh->failed) && cur_next(c, &rec) != 0)
		fail(rd->sh, "cur_next reader: a record after the last one");
	cur_close(c);
	return NULL;
}

static void *reader_read_main(void *arg)
{
	reader *rd = arg;
	cursor *c = NULL;
	uint32_t next_seq[10] = { 0 };
	size_t parsed = 0;
	tu_rng r;
	int rc = cur_open(rd->sh->t, 0, &c);

	tu_rng_seed(&r, 77777);
	if (rc != 0) {
		fail(rd->sh, "cur_open = %d", rc);
		return NULL;
	}
	while (rd->seen < rd->total && !atomic_load(&rd->sh->failed)) {
		size_t want = 1 + (size_t)tu_below(&r, 8192);
		tu_buf_reserve(&rd->bytes, want);
		ssize_t n = cur_read(c, rd->bytes.p + rd->bytes.len, want);
		if (n < 0) {
			fail(rd->sh, "cur_read reader: %zd after %zu bytes", n,
			     rd->bytes.len);
			break;
		}
		if (n == 0) {
			if (wait_more(rd->sh)) {
				fail(rd->sh, "cur_read reader: stuck after %" PRIu64
				     " lines", rd->seen);
				break;
			}
			continue;
		}
		if ((size_t)n > want) {
			fail(rd->sh, "cur_read returned %zd > %zu", n, want);
			break;
		}
		rd->bytes.len += (size_t)n;
		for (;;) {
			char *nl = memchr(rd->bytes.p + parsed, '\n',
					  rd->bytes.len - parsed);
			int id;
			uint32_t seq;
			if (nl == NULL)
				break;
			size_t len = (size_t)(nl - (rd->bytes.p + parsed));
			if (parse_rec(rd->bytes.p + parsed, len, rd->nw, &id, &seq) != 0 ||
			    seq != next_seq[id] || rd->seen >= rd->total) {
				fail(rd->sh, "cur_read reader: line %" PRIu64 " at byte "
				     "%zu is \"%.*s\"", rd->seen, parsed,
				     (int)(len < 64 ? len : 64), rd->bytes.p + parsed);
				break;
			}
			next_seq[id]++;
			rd->ids[rd->seen++] = (uint32_t)id * PER + seq;
			parsed += len + 1;
		}
	}
	char extra[16];
	if (!atomic_load(&rd->sh->failed) &&
	    (parsed != rd->bytes.len || cur_read(c, extra, sizeof(extra)) != 0))
		fail(rd->sh, "cur_read reader: bytes after the last record");
	cur_close(c);
	return NULL;
}

static void writer_init(writer *w, shared *sh, int id, int per, int max_batch)
{
	memset(w, 0, sizeof(*w));
	w->sh = sh;
	w->id = id;
	w->per = per;
	w->max_batch = max_batch;
	w->firsts = calloc((size_t)per, sizeof(*w->firsts));
	w->counts = calloc((size_t)per, sizeof(*w->counts));
	cr_assert(w->firsts && w->counts);
}

/* Every batch of every writer lies, whole and in order, at the offsets its
** append reported. */
static void check_batches(const writer *w, int nw, const uint32_t *ids,
			  uint64_t total)
{
	for (int k = 0; k < nw; k++) {
		uint32_t seq = 0;
		for (size_t b = 0; b < w[k].nb; b++) {
			for (uint32_t i = 0; i < w[k].counts[b]; i++, seq++) {
				uint64_t o = w[k].firsts[b] + i;
				cr_assert_lt(o, total);
				cr_assert_eq(ids[o], (uint32_t)k * PER + seq,
					     "writer %d's batch %zu (first %" PRIu64
					     ", %u records): offset %" PRIu64
					     " holds w%u-%u, want w%d-%u", k, b,
					     w[k].firsts[b], w[k].counts[b], o,
					     ids[o] / PER, ids[o] % PER, k, seq);
			}
		}
		cr_assert_eq(seq, (uint32_t)w[k].per, "writer %d wrote %u records",
			     k, seq);
	}
}

/* The rendered log that ids describe. */
static void render(const uint32_t *ids, uint64_t n, tu_buf *out)
{
	char line[32];

	for (uint64_t o = 0; o < n; o++) {
		int k = snprintf(line, sizeof(line), "w%u-%u\n", ids[o] / PER,
				 ids[o] % PER);
		tu_buf_add(out, line, (size_t)k);
	}
}

Test(concurrency, four_writers_two_readers)
{
	cfg d;
	shared sh;
	writer w[NW];
	reader ra, rb;
	pthread_t tw[NW], tra, trb;
	topic_info info;

	tu_cfg_plain(&d, 65536); /* rolls while everybody runs */
	shared_init(&sh, 200);
	sh.s = tu_open(&d);
	sh.t = tu_create(sh.s, "conc");
	memset(&ra, 0, sizeof(ra));
	memset(&rb, 0, sizeof(rb));
	ra.sh = rb.sh = &sh;
	ra.nw = rb.nw = NW;
	ra.total = rb.total = TOTAL;
	ra.ids = calloc(TOTAL, sizeof(uint32_t));
	rb.ids = calloc(TOTAL, sizeof(uint32_t));
	cr_assert(ra.ids && rb.ids);
	for (int k = 0; k < NW; k++)
		writer_init(&w[k], &sh, k, PER, 16);

	cr_assert_eq(pthread_create(&tra, NULL, reader_next_main, &ra), 0);
	cr_assert_eq(pthread_create(&trb, NULL, reader_read_main, &rb), 0);
	for (int k = 0; k < NW; k++)
		cr_assert_eq(pthread_create(&tw[k], NULL, writer_main, &w[k]), 0);
	for (int k = 0; k < NW; k++)
		pthread_join(tw[k], NULL);
	pthread_join(tra, NULL);
	pthread_join(trb, NULL);
	cr_assert(!sh.failed, "%s", sh.msg);

	cr_assert_eq(ra.seen, TOTAL);
	cr_assert_eq(rb.seen, TOTAL);
	topic_get_info(sh.t, &info);
	cr_assert_eq(info.end_offset, TOTAL, "end_offset %" PRIu64, info.end_offset);
	cr_assert_eq(info.records, TOTAL);
	cr_assert_gt(info.segments, 10, "segments %" PRIu64, info.segments);
	check_batches(w, NW, ra.ids, TOTAL);
	cr_assert_eq(memcmp(ra.ids, rb.ids, TOTAL * sizeof(uint32_t)), 0,
		     "the two readers saw different logs");

	/* bytes: what the cur_read reader got == the log read now ==
	 * the records the cur_next reader got, rendered */
	tu_buf now = { 0 }, want = { 0 };
	cr_assert_eq(tu_read_from(sh.t, 0, 65536, &now), 0);
	render(ra.ids, TOTAL, &want);
	tu_assert_bytes("the log after the run", now.p, now.len, want.p, want.len);
	tu_assert_bytes("what the cur_read reader read", rb.bytes.p, rb.bytes.len,
			want.p, want.len);
	cr_assert_eq(info.end_bytepos, (uint64_t)want.len);

	tu_buf_free(&now);
	tu_buf_free(&want);
	tu_buf_free(&rb.bytes);
	free(ra.ids);
	free(rb.ids);
	for (int k = 0; k < NW; k++) {
		free(w[k].firsts);
		free(w[k].counts);
	}
	topic_unref(sh.t);
	tu_close(sh.s);
	pthread_mutex_destroy(&sh.mu);
}

/* ---- rolls, figures and lookups racing appends -------------------------- */

#define RW 2
#define RPER 20000

static void *roller_main(void *arg)
{
	shared *sh = arg;

	while (atomic_load(&sh->writers_done) < RW && !atomic_load(&sh->failed)) {
		int rc = topic_roll(sh->t);
		if (rc != 0) {
			fail(sh, "topic_roll = %d", rc);
			break;
		}
		usleep(300);
	}
	return NULL;
}

static void *observer_main(void *arg)
{
	shared *sh = arg;
	topic_info prev = { 0 }, info;
	tu_rng r;

	tu_rng_seed(&r, 4242);
	while (atomic_load(&sh->writers_done) < RW && !atomic_load(&sh->failed)) {
		topic_get_info(sh->t, &info);
		if (info.end_offset < prev.end_offset ||
		    info.end_bytepos < prev.end_bytepos ||
		    info.segments < prev.segments || info.records < prev.records) {
			fail(sh, "topic_get_info went back: end_offset %" PRIu64 " -> %"
			     PRIu64 ", end_bytepos %" PRIu64 " -> %" PRIu64
			     ", segments %" PRIu64 " -> %" PRIu64, prev.end_offset,
			     info.end_offset, prev.end_bytepos, info.end_bytepos,
			     prev.segments, info.segments);
			break;
		}
		if (info.records != info.end_offset) {
			fail(sh, "records %" PRIu64 " != end_offset %" PRIu64,
			     info.records, info.end_offset);
			break;
		}
		prev = info;

		topic_segment *seg = NULL;
		size_t n = 0;
		int rc = topic_segments(sh->t, &seg, &n);
		if (rc != 0 || n == 0) {
			fail(sh, "topic_segments = %d, n %zu", rc, n);
			break;
		}
		for (size_t i = 0; i + 1 < n; i++) {
			if (seg[i].end_bytepos != seg[i + 1].base_bytepos ||
			    seg[i].base_offset >= seg[i + 1].base_offset ||
			    seg[i].base_bytepos >= seg[i + 1].base_bytepos) {
				fail(sh, "topic_segments: segments %zu and %zu do not "
				     "chain: base %" PRIu64 "/%" PRIu64 ", end %" PRIu64
				     ", next base %" PRIu64 "/%" PRIu64, i, i + 1,
				     seg[i].base_offset, seg[i].base_bytepos,
				     seg[i].end_bytepos, seg[i + 1].base_offset,
				     seg[i + 1].base_bytepos);
				break;
			}
		}
		free(seg);
		if (atomic_load(&sh->failed) || info.end_offset == 0)
			continue;

		/* a record below the end is found, whole */
		uint64_t o = tu_below(&r, info.end_offset), bp;
		rc = topic_offset_bytepos(sh->t, o, &bp);
		if (rc != 0) {
			fail(sh, "topic_offset_bytepos(%" PRIu64 ") = %d below end %"
			     PRIu64, o, rc, info.end_offset);
			break;
		}
		cursor *c = NULL;
		cur_record rec;
		int id;
		uint32_t seq;
		if ((rc = cur_open(sh->t, bp, &c)) != 0) {
			fail(sh, "cur_open = %d", rc);
			break;
		}
		rc = cur_next(c, &rec);
		if (rc != 1 || rec.offset != o || rec.bytepos != bp ||
		    parse_rec(rec.payload, rec.len, RW, &id, &seq) != 0) {
			fail(sh, "record %" PRIu64 " at %" PRIu64 ": cur_next = %d, "
			     "offset %" PRIu64, o, bp, rc, rc == 1 ? rec.offset : 0);
			cur_close(c);
			break;
		}
		cur_close(c);
	}
	return NULL;
}

Test(concurrency, rolls_figures_and_lookups_race_appends)
{
	cfg d;
	shared sh;
	writer w[RW];
	pthread_t tw[RW], troll, tobs;
	cursor *c = NULL;
	cur_record rec;
	uint32_t *ids = calloc((size_t)RW * RPER, sizeof(*ids));
	uint32_t next_seq[RW] = { 0 };
	uint64_t end = 0;

	tu_cfg_plain(&d, 0);
	shared_init(&sh, 120);
	sh.s = tu_open(&d);
	sh.t = tu_create(sh.s, "race");
	for (int k = 0; k < RW; k++)
		writer_init(&w[k], &sh, k, RPER, 16);
	cr_assert_eq(pthread_create(&troll, NULL, roller_main, &sh), 0);
	cr_assert_eq(pthread_create(&tobs, NULL, observer_main, &sh), 0);
	for (int k = 0; k < RW; k++)
		cr_assert_eq(pthread_create(&tw[k], NULL, writer_main, &w[k]), 0);
	for (int k = 0; k < RW; k++)
		pthread_join(tw[k], NULL);
	pthread_join(troll, NULL);
	pthread_join(tobs, NULL);
	cr_assert(!sh.failed, "%s", sh.msg);

	/* the whole log, read after the run */
	cr_assert_eq(cur_open(sh.t, 0, &c), 0);
	for (uint64_t o = 0; o < (uint64_t)RW * RPER; o++) {
		int id;
		uint32_t seq;
		cr_assert_eq(cur_next(c, &rec), 1, "record %" PRIu64, o);
		cr_assert_eq(rec.offset, o);
		cr_assert_eq(rec.bytepos, end);
		cr_assert_eq(parse_rec(rec.payload, rec.len, RW, &id, &seq), 0,
			     "record %" PRIu64 " torn", o);
		cr_assert_eq(seq, next_seq[id]);
		next_seq[id]++;
		ids[o] = (uint32_t)id * PER + seq;
		end += rec.len + 1;
	}
	cr_assert_eq(cur_next(c, &rec), 0);
	cur_close(c);
	check_batches(w, RW, ids, (uint64_t)RW * RPER);

	topic_segment *seg = NULL;
	size_t n = 0;
	cr_assert_eq(topic_segments(sh.t, &seg, &n), 0);
	cr_assert_gt(n, 5, "the roller made only %zu segments", n);
	for (size_t i = 0; i < n; i++) {
		uint64_t bp;
		if (i + 1 == n && seg[i].base_offset == (uint64_t)RW * RPER)
			break; /* rolled after the last append: empty */
		cr_assert_eq(topic_offset_bytepos(sh.t, seg[i].base_offset, &bp), 0);
		cr_assert_eq(bp, seg[i].base_bytepos);
	}
	free(seg);
	free(ids);
	for (int k = 0; k < RW; k++) {
		free(w[k].firsts);
		free(w[k].counts);
	}
	topic_unref(sh.t);
	tu_close(sh.s);
	pthread_mutex_destroy(&sh.mu);
}

/* ---- topics created and deleted from many threads ----------------------- */

#define CT 4
#define CN 40

typedef struct creator {
	shared *sh;
	int id;
	int won[CN]; /* 1 where this thread created same-<i> */
} creator;

static void *creator_main(void *arg)
{
	creator *cr = arg;
	char name[64];
	topic *t;

	for (int i = 0; i < CN && !atomic_load(&cr->sh->failed); i++) {
		/* a name of its own: create, append, and delete every third */
		snprintf(name, sizeof(name), "t%d-%d", cr->id, i);
		int rc = store_topic_create(cr->sh->s, name, 0700, 0, 0, &t);
		if (rc != 0) {
			fail(cr->sh, "create %s = %d", name, rc);
			break;
		}
		char line[80];
		int len = snprintf(line, sizeof(line), "hello %s\n", name);
		struct iovec iov = { line, (size_t)len };
		uint64_t first = 99;
		rc = topic_append(t, &iov, 1, &first);
		topic_unref(t);
		if (rc != 0 || first != 0) {
			fail(cr->sh, "append to %s = %d, first %" PRIu64, name, rc, first);
			break;
		}
		if (i % 3 == 0 && (rc = store_topic_delete(cr->sh->s, name)) != 0) {
			fail(cr->sh, "delete %s = %d", name, rc);
			break;
		}
		/* a name every thread wants: exactly one gets it */
		snprintf(name, sizeof(name), "same-%d", i);
		rc = store_topic_create(cr->sh->s, name, 0700, 0, 0, NULL);
		if (rc == 0)
			cr->won[i] = 1;
		else if (rc != -EEXIST) {
			fail(cr->sh, "create %s = %d", name, rc);
			break;
		}
	}
	return NULL;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

Test(concurrency, topics_created_and_deleted_from_threads)
{
	cfg d;
	shared sh;
	creator c[CT];
	pthread_t th[CT];
	char **names = NULL;
	size_t n = 0;
	char *want[CT * CN * 2];
	size_t nwant = 0;

	tu_cfg_plain(&d, 0);
	shared_init(&sh, 100);
	sh.s = tu_open(&d);
	for (int k = 0; k < CT; k++) {
		memset(&c[k], 0, sizeof(c[k]));
		c[k].sh = &sh;
		c[k].id = k;
		cr_assert_eq(pthread_create(&th[k], NULL, creator_main, &c[k]), 0);
	}
	for (int k = 0; k < CT; k++)
		pthread_join(th[k], NULL);
	cr_assert(!sh.failed, "%s", sh.msg);

	for (int i = 0; i < CN; i++) {
		int winners = 0;
		for (int k = 0; k < CT; k++)
			winners += c[k].won[i];
		cr_assert_eq(winners, 1, "same-%d was created %d times", i, winners);
		want[nwant] = malloc(32);
		snprintf(want[nwant++], 32, "same-%d", i);
		for (int k = 0; k < CT; k++) {
			if (i % 3 == 0)
				continue;
			want[nwant] = malloc(32);
			snprintf(want[nwant++], 32, "t%d-%d", k, i);
		}
	}
	qsort(want, nwant, sizeof(*want), cmp_name);
	cr_assert_eq(store_topic_names(sh.s, &names, &n), 0);
	cr_assert_eq(n, nwant, "%zu topics, want %zu", n, nwant);
	for (size_t i = 0; i < n; i++)
		cr_assert_str_eq(names[i], want[i], "topic %zu", i);
	store_names_free(names, n);

	/* each surviving t<k>-<i> holds its one record */
	for (size_t i = 0; i < nwant; i++) {
		if (want[i][0] != 't')
			continue;
		topic *t = tu_get(sh.s, want[i]);
		tu_log l = { 0 };
		char line[80];
		int len = snprintf(line, sizeof(line), "hello %s", want[i]);
		tu_log_add(&l, line, (size_t)len);
		tu_assert_log(t, &l);
		tu_log_free(&l);
		topic_unref(t);
	}
	for (size_t i = 0; i < nwant; i++)
		free(want[i]);
	tu_close(sh.s);
	pthread_mutex_destroy(&sh.mu);
}

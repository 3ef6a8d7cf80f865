/*
** compact.c: what the background thread does to a topic.
**
** DESIGN. maint.c runs one thread per store that visits every topic at
** least every maintenance interval and calls compact_topic_pass(), which
** does, in this order:
**   1. Finish the seals of segments that appends rolled (their data sync
**      and sealed index: a roll leaves them here, so writers never wait
**      for them); sync, when records were appended since the last sync and
**      flush.ms has passed; store the consumer positions that moved. These
**      have deadlines, so they go first.
**   2. Roll the newest segment when its first record is older than
**      segment.ms, or when all its records are older than retention.ms (so
**      that an idle topic's old records can go: a newest segment that never
**      rolls would keep them forever). Give back the room made ahead of a
**      bulk writer once the topic has been quiet for a second.
**   3. Retention (cleanup.policy has "delete"): delete the oldest sealed
**      segment while its newest record is older than retention.ms; then
**      while the topic minus its oldest sealed segment is still at least
**      retention.bytes. Whole segments only, oldest first; the newest is
**      never deleted, so the log's end (offsets and byte positions) stays.
**   4. Compaction (cleanup.policy has "compact" and key.separator is set),
**      when the share of sealed bytes written since the last compaction
**      reaches min.cleanable.dirty.ratio, or when tombstones that an
**      earlier compaction kept are due to go (below). A map of key -> newest offset is
**      built from those "dirty" segments; then every sealed segment is
**      rewritten keeping a record iff it has no key, or it is the newest
**      record of its key that the map knows (or the map does not know its
**      key), and it is not a tombstone whose segment a compaction first
**      rewrote at least delete.retention.ms ago (the segment's cleaned
**      time, in its header: Kafka's rule, so that a reader that is behind
**      still sees a key deleted). Kept records keep their offsets, byte
**      positions and times; runs of them with nothing removed between are
**      merged into timed batches (record.c). Runs of sealed segments whose
**      sizes add up to no more than segment.bytes are rewritten as one
**      segment named by the first (Kafka's cleaner groups them so), when
**      their kept tombstones count from one time (tomb_horizon); segment.c
**      ("MERGES") says what happens to the files. With nothing to compact,
**      a pass still merges the cleaned segments that an earlier pass
**      shrank (run_end), so that a topic gone quiet is not left with them.
**   5. Compression: sealed segments not stored as compression.type says
**      are rewritten (zstd frames, or plain), their batches merged too;
**      zstd waits for a pause in the topic's appends (compression_step).
**
** LOCKS. Sealed segments never change in place, so they are read and their
** replacements written with no topic lock held; only the swap in the
** segment list (topic_replace_segment) and a deletion take mu, briefly.
** Rolls go through topic_roll (append_mu). Writers and readers never wait
** for a segment's rewrite.
**
** READERS. A cursor holds a reference to the segment it reads, with its
** open descriptor: it finishes a replaced or deleted segment from the old
** file, then moves on to whatever follows in the list. Byte positions of
** what it skips are never reused, so it never sees a record twice.
**
** KEY HASHES. The map keys on two independent 64-bit hashes of the key
** (128 bits), as Kafka's cleaner keys on a 16-byte digest: a collision
** would need about 2^64 distinct keys.
*/
#include "compact.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer.h"
#include "core_internal.h"
#include "io.h"
#include "log.h"
#include "record.h"
#include "segment.h"
#include "store.h"
#include "topic.h"

/* ---- the key map ---- */

struct keymap {
	uint64_t *h1, *h2, *off; /* off == EMPTY: free slot */
	size_t cap, n;
};

#define EMPTY UINT64_MAX

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static uint64_t hash_bytes(const unsigned char *p, size_t n, uint64_t seed)
{
	uint64_t h = mix(seed ^ (n * 0x9e3779b97f4a7c15ULL));
	uint64_t w;

	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		h = mix(h ^ w) * 0x9e3779b97f4a7c15ULL;
	}
	w = 0;
	memcpy(&w, p, n);
	return mix(h ^ w ^ ((uint64_t)n << 56));
}

static int map_init(struct keymap *m, size_t cap)
{
	m->cap = cap;
	m->n = 0;
	m->h1 = malloc(cap * sizeof *m->h1);
	m->h2 = malloc(cap * sizeof *m->h2);
	m->off = malloc(cap * sizeof *m->off);
	if (!m->h1 || !m->h2 || !m->off)
		return -ENOMEM;
	memset(m->off, 0xff, cap * sizeof *m->off);
	return 0;
}

static void map_free(struct keymap *m)
{
	free(m->h1);
	free(m->h2);
	free(m->off);
}

static size_t map_slot(const struct keymap *m, uint64_t h1, uint64_t h2)
{
	size_t i = (size_t)h1 & (m->cap - 1);
	while (m->off[i] != EMPTY && (m->h1[i] != h1 || m->h2[i] != h2))
		i = (i + 1) & (m->cap - 1);
	return i;
}

static int map_put(struct keymap *m, uint64_t h1, uint64_t h2, uint64_t offset)
{
	if (2 * (m->n + 1) > m->cap) {
		struct keymap g;
		int rc = map_init(&g, m->cap * 2);
		if (rc < 0) {
			map_free(&g);
			return rc;
		}
		for (size_t i = 0; i < m->cap; i++) {
			if (m->off[i] == EMPTY)
				continue;
			size_t j = map_slot(&g, m->h1[i], m->h2[i]);
			g.h1[j] = m->h1[i];
			g.h2[j] = m->h2[i];
			g.off[j] = m->off[i];
			g.n++;
		}
		map_free(m);
		*m = g;
	}
	size_t i = map_slot(m, h1, h2);
	if (m->off[i] == EMPTY)
		m->n++;
	m->h1[i] = h1;
	m->h2[i] = h2;
	m->off[i] = offset;
	return 0;
}

static uint64_t map_get(const struct keymap *m, uint64_t h1, uint64_t h2)
{
	return m->off[map_slot(m, h1, h2)];
}

/* The key of a record: 1 and *klen when it has one (the bytes before the
** first separator), and whether its value is empty (a tombstone). */
static int record_key(const cfg *c, const unsigned char *p, size_t len, size_t *klen, int *tombstone)
{
	const unsigned char *sep = memmem(p, len, c->key_separator, c->key_separator_len);
	if (!sep)
		return 0;
	*klen = (size_t)(sep - p);
	*tombstone = *klen + c->key_separator_len == len;
	return 1;
}

/* ---- rewriting one segment ---- */

struct keep {
	const cfg *c;
	const struct keymap *map; /* NULL: keep everything */
	int64_t now;		  /* the compaction's time */
};

/*
** Whether the tombstones of s may go: as in Kafka, a tombstone outlives the
** first compaction that kept it (the segment's cleaned time) by
** delete.retention.ms, so that a reader that was behind then still sees
** the key deleted.
*/
static int tombstones_expire(const seg *s, const cfg *c, int64_t now)
{
	return (s->clean_flags & SEG_CLEAN_TOMBSTONES) && s->cleaned_ms != 0 &&
	       now - s->cleaned_ms >= c->delete_retention_ms;
}

/* Whether to keep a record; *kept_tomb is set when it is a tombstone kept. */
static int keep_record(const struct keep *k, const unsigned char *p, size_t len, uint64_t offset,
		       int tombs_go, int *kept_tomb)
{
	size_t klen;
	int tomb;

	*kept_tomb = 0;
	if (!k->map || !record_key(k->c, p, len, &klen, &tomb))
		return 1;
	uint64_t newest = map_get(k->map, hash_bytes(p, klen, 1), hash_bytes(p, klen, 2));
	if (newest != EMPTY && newest != offset)
		return 0;
	if (tomb && tombs_go)
		return 0;
	*kept_tomb = tomb;
	return 1;
}

/*
** The batches a rewrite writes. Consecutive kept records (no offset or
** byte position between them) are merged into timed batches of up to
** OUT_BATCH bytes, whichever appends they came from: fewer, larger batches
** compress better and cost less to read, and every record keeps its time.
*/
#define OUT_BATCH (64u << 10)
#define OUT_SPAN_MS (24 * 3600 * 1000) /* a batch's time span fits in its u32 */

struct outbatch {
	seg_writer *w;
	unsigned char *buf; /* header, text and time deltas */
	size_t cap;
	unsigned char ts[OUT_BATCH]; /* the time deltas until the end */
	rec_encoder e;
	int open;
	uint64_t base_offset, base_bytepos; /* of its first record */
	uint64_t next_offset, next_bytepos; /* what would continue it */
};

static int out_flush(struct outbatch *o)
{
	rec_batch nb;
	size_t blen;

	if (!o->open)
		return 0;
	o->open = 0;
	blen = rec_encode_end(&o->e, o->base_offset, o->base_bytepos, 0);
	rec_decode_header(o->buf, blen, &nb);
	return seg_writer_add(o->w, o->buf, &nb);
}

static int out_add(struct outbatch *o, const unsigned char *p, size_t len, uint64_t offset,
		   uint64_t bytepos, int64_t ts)
{
	int rc;

	if (o->open && (offset != o->next_offset || bytepos != o->next_bytepos ||
			rec_encode_size(&o->e) + len + 11 > OUT_BATCH ||
			o->e.tslen + 10 > sizeof o->ts || ts - o->e.first_ts > OUT_SPAN_MS)) {
		if ((rc = out_flush(o)) < 0)
			return rc;
	}
	/* room for this record, and for a batch of OUT_BATCH bytes */
	size_t need = REC_HEADER_SIZE + len + 11;
	if (need < OUT_BATCH)
		need = OUT_BATCH;
	if (!o->open && need > o->cap) {
		unsigned char *nb = realloc(o->buf, need);
		if (!nb)
			return -ENOMEM;
		o->buf = nb;
		o->cap = need;
	}
	if (!o->open) {
		rec_encode_begin_timed(&o->e, o->buf, o->ts, sizeof o->ts);
		o->base_offset = offset;
		o->base_bytepos = bytepos;
		o->open = 1;
	}
	memcpy(rec_encode_record_at(&o->e, len, ts), p, len);
	o->next_offset = offset + 1;
	o->next_bytepos = bytepos + len + 1;
	return 0;
}

/*
** A sealed segment that cannot be rewritten: records that cannot be read
** (damage, which reads report with EIO and topicfs dump shows; or a
** failing disk), or a file that may not be replaced (a read-only file
** system, an immutable file). Compaction and compression pass over it from
** then on, rather than fail there (and say so) at every pass: it is
** logged once (a remount finds it again), keeps its records as they are,
** and merges with no other; retention still removes it. Compaction still
** counts the keys of its records before any damage (a later record read
** there drops nothing that reads need).
*/
#define UNREADABLE "has records that cannot be read"

static int passed_over(seg *s)
{
	return atomic_load(&s->passed_over);
}

static void pass_over(topic *t, seg *s, const char *why)
{
	if (atomic_exchange(&s->passed_over, 1) == 0)
		log_error("topic %s: segment %020" PRIu64 " %s; compaction and compression pass "
			  "over it", topic_label(t), s->base_offset, why);
}

/* A rewrite of v[0..n) failed with rc: whether the pass goes on. A failure
** that would come back at every pass passes over the segment (the one
** whose records could not be read, marked as it was read; else the first,
** whose file the rewrite replaces). */
static int rewrite_failed(topic *t, seg *const *v, size_t n, int rc)
{
	char why[96];

	if (rc == -ENOENT)
		return 1; /* no longer listed so: retention or a rename came first */
	if (rc != -EIO && rc != -EPERM && rc != -EACCES && rc != -EROFS)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (passed_over(v[i]))
			return 1;
	snprintf(why, sizeof why, "cannot be rewritten (%s)", strerror(-rc));
	pass_over(t, v[0], why);
	return 1;
}

/* How many records of s k would drop. */
static int count_dropped(seg *s, const struct keep *k, uint64_t *dropped)
{
	seg_iter it;
	const unsigned char *bp, *p;
	rec_batch b;
	uint64_t at;
	size_t len;
	int rc, tomb, tombs_go = k->map && tombstones_expire(s, k->c, k->now);

	*dropped = 0;
	seg_iter_init(&it, s, SEG_HEADER_SIZE, s->size);
	while ((rc = seg_iter_next(&it, &bp, &b, &at)) == 1) {
		rec_iter ri;
		rec_iter_init(&ri, bp, &b);
		for (uint64_t off = ri.offset; rec_iter_next(&ri, &p, &len); off = ri.offset)
			*dropped += !keep_record(k, p, len, off, tombs_go, &tomb);
	}
	seg_iter_free(&it);
	return rc;
}

static int sync_step(topic *t, const cfg *c, int64_t now)
{
	int need;

	pthread_mutex_lock(&t->mu);
	need = t->segs[t->nsegs - 1]->end_offset > t->synced_offset && now - t->synced_ms >= c->flush_ms;
	pthread_mutex_unlock(&t->mu);
	return need ? topic_sync(t) : 0;
}

/* Step 1 of a pass: the work with deadlines. */
static int deadline_steps(topic *t, const cfg *c, int64_t now)
{
	int rc = 0, r;

	if ((r = topic_finish_seals(t)) < 0 && !rc)
		rc = r;
	if ((r = sync_step(t, c, now)) < 0 && !rc)
		rc = r;
	if ((r = consumer_persist_all(t)) < 0 && !rc)
		rc = r;
	return rc;
}

#define DEADLINES_EVERY_MS 100

/*
** Between two segment rewrites of one topic. A topic's rewrites can add up
** to many seconds (a large compaction, a high compression level), and the
** other topics' syncs and consumer positions must not wait for them past
** flush.ms: so after the first rewrite of a step, and then at most every
** DEADLINES_EVERY_MS, step 1 runs for every topic of the store. *last is 0
** at the start of a step.
*/
static void meet_deadlines(topic *busy, int64_t *last)
{
	int64_t now = io_now_ms();
	char **names;
	size_t n;

	if (*last != 0 && now - *last < DEADLINES_EVERY_MS)
		return;
	*last = now;
	if (store_topic_names(busy->st, &names, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		topic *t;
		cfg c;
		if (store_topic_get(busy->st, names[i], &t) < 0)
			continue;
		topic_config(t, &c);
		deadline_steps(t, &c, now); /* failures are logged where they happen */
		topic_unref(t);
	}
	store_names_free(names, n);
}

/* The time a segment's kept tombstones count from once this compaction has
** rewritten it: its cleaned time if it keeps tombstones not yet due, this
** compaction's for a segment never cleaned (whatever tombstones it has are
** kept now, and counted from now); NO_HORIZON when it will hold none. */
#define NO_HORIZON INT64_MIN

static int64_t tomb_horizon(const seg *s, const struct keep *k)
{
	if (s->cleaned_ms == 0)
		return k->now;
	if ((s->clean_flags & SEG_CLEAN_TOMBSTONES) && !tombstones_expire(s, k->c, k->now))
		return s->cleaned_ms;
	return NO_HORIZON;
}

/*
** Rewrite v[0..n), consecutive sealed segments, as one segment keeping
** what k keeps, stored as c says, and swap it into t in their place: a
** merge when n > 1 (compaction_step says which). *removed receives the
** number of records dropped.
*/
static int rewrite_segments(topic *t, seg **v, size_t n, const struct keep *k, const cfg *c,
			    uint64_t *removed)
{
	int want_z = c->compression_type == CFG_COMPRESSION_ZSTD;
	struct outbatch o = {0};
	seg *s = v[0];
	uint64_t dropped = 0, batches_in = 0, batches_out, kept_tombs = 0;
	int rc = 0, tomb;
	/* A compaction marks the segments it rewrites as cleaned, once. A
	** merge's members share the time their kept tombstones count from
	** (compaction_step groups them so), or keep none. */
	int64_t cleaned = s->cleaned_ms, horizon = NO_HORIZON;
	if (k->map) {
		for (size_t i = 0; i < n; i++) {
			int64_t own = v[i]->cleaned_ms ? v[i]->cleaned_ms : k->now;
			if (i == 0 || own > cleaned)
				cleaned = own;
			if (tomb_horizon(v[i], k) != NO_HORIZON)
				horizon = tomb_horizon(v[i], k);
		}
		if (horizon != NO_HORIZON)
			cleaned = horizon;
	}

	*removed = 0;
	/* A segment a compaction already cleaned, stored as wanted, with no
	** tombstones due to go, changes only if records go: with no dirty
	** segment (an empty map) none can; else count them first, which
	** costs a read and no write. */
	if (n == 1 && k->map && s->cleaned_ms != 0 && !tombstones_expire(s, c, k->now) &&
	    s->compressed == want_z) {
		if (k->map->n == 0)
			return 0;
		if ((rc = count_dropped(s, k, &dropped)) < 0 || dropped == 0) {
			if (rc == -EIO)
				pass_over(t, s, UNREADABLE);
			return rc;
		}
		dropped = 0;
	}
	if ((rc = seg_writer_open(t->dirfd, s, v[n - 1], want_z, c->compression_level, &o.w)) < 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		int tombs_go = k->map && tombstones_expire(v[i], c, k->now);
		const unsigned char *bp;
		rec_batch b;
		uint64_t at;
		seg_iter it;
		int rrc; /* the reading's; rc is the writing's */

		seg_iter_init(&it, v[i], SEG_HEADER_SIZE, v[i]->size);
		while ((rrc = seg_iter_next(&it, &bp, &b, &at)) == 1) {
			rec_iter ri;
			const unsigned char *p;
			size_t len;

			batches_in++;
			/* A deletion waits for this rewrite (it holds dir_lock):
			** it ends at the next batch, not at the segment's end. */
			if (topic_deleted(t)) {
				rc = -ENOENT; /* as "no longer listed" (rewrite_failed) */
				break;
			}
			rec_iter_init(&ri, bp, &b);
			for (;;) {
				uint64_t off = ri.offset, pos = ri.bytepos;
				if (!rec_iter_next(&ri, &p, &len))
					break;
				if (!keep_record(k, p, len, off, tombs_go, &tomb)) {
					dropped++;
					continue;
				}
				kept_tombs += tomb;
				if ((rc = out_add(&o, p, len, off, pos, ri.ts)) < 0)
					break;
			}
			if (rc < 0)
				break;
		}
		seg_iter_free(&it);
		if (rc == 0 && rrc < 0 && (rc = rrc) == -EIO)
			pass_over(t, v[i], UNREADABLE); /* later rewrites leave it out */
	}
	if (rc == 0)
		rc = out_flush(&o);
	free(o.buf);
	batches_out = seg_writer_batches(o.w);
	if (rc < 0) {
		seg_writer_abort(o.w);
		return rc;
	}
	/* The cleaned time and whether tombstones are left to expire; a
	** rewrite that only compresses keeps them. */
	uint32_t flags = !k->map ? s->clean_flags : kept_tombs ? SEG_CLEAN_TOMBSTONES : 0;
	seg_writer_set_cleaned(o.w, cleaned, flags);
	/* Nothing would change: same records, same storage, no batches to
	** merge, the same cleaned time and flags. */
	if (n == 1 && dropped == 0 && s->compressed == want_z && batches_out >= batches_in &&
	    cleaned == s->cleaned_ms && flags == s->clean_flags) {
		seg_writer_abort(o.w);
		return 0;
	}
	seg *nw;
	if ((rc = seg_writer_commit(o.w, &nw)) < 0) {
		log_error("topic %s: segment %020" PRIu64 ": rewrite failed (%s); the old file stays",
			  topic_label(t), v[0]->base_offset, strerror(-rc));
		return rc;
	}
	*removed = dropped;
	return topic_replace_segments(t, v, n, nw);
}

/* ---- the steps of a pass ---- */

static int roll_step(topic *t, const cfg *c, int64_t now)
{
	int roll;

	pthread_mutex_lock(&t->mu);
	const seg *s = t->segs[t->nsegs - 1];
	roll = s->records > 0 && s->index.n > 0 &&
	       (now - s->index.e[0].timestamp_ms >= c->segment_ms ||
		((c->cleanup_policy & CFG_CLEANUP_DELETE) && c->retention_ms >= 0 &&
		 s->max_ts_ms < now - c->retention_ms));
	pthread_mutex_unlock(&t->mu);
	if (!roll)
		return 0;
	int rc = topic_roll(t);
	/* this thread can wait for the seal that appends leave to it */
	return rc < 0 ? rc : topic_finish_seals(t);
}

/* Room made ahead of a bulk writer (prefill.c) is zeros at the end of the
** newest segment's file; once the topic has had no append for this long,
** the file is cut back to its batches, so that DATADIR holds what the
** figures say. */
#define ROOM_QUIET_MS 1000

static void room_step(topic *t, int64_t now)
{
	topic_give_back_room(t, now - ROOM_QUIET_MS);
}

/* Whether the files of a segment merged into t's oldest one, which could
** not be removed (topic_retry_removals), are still on the disk: retention
** keeps the oldest until they go, or the next mount would open them as
** segments of their own. Under t->mu. */
static int oldest_has_leftovers(const topic *t)
{
	for (size_t i = 0; i < t->nunremoved; i++)
		if (t->unremoved[i] > t->segs[0]->base_offset && t->unremoved[i] < t->segs[1]->base_offset)
			return 1;
	return 0;
}

/* The time of the oldest segment's newest record, for retention by time.
** A segment with bytes but no record that can be read (damage) has none
** known: its records are older than those after it, so the first of those
** bounds it, or, with none after it, the creation of the segment after it
** (a roll, after its last append); retention waits for that rather than
** take the damaged bytes at once. Under t->mu. */
static int64_t oldest_newest_time(const topic *t)
{
	const seg *s = t->segs[0];

	if (s->records > 0 || s->size <= SEG_HEADER_SIZE)
		return s->max_ts_ms;
	for (size_t i = 1; i < t->nsegs; i++)
		if (t->segs[i]->records > 0 && t->segs[i]->index.n > 0)
			return t->segs[i]->index.e[0].timestamp_ms;
	return t->segs[1]->created_ms;
}

static int retention_step(topic *t, const cfg *c, int64_t now)
{
	int rc = 0;

	if (!(c->cleanup_policy & CFG_CLEANUP_DELETE))
		return 0;
	for (;;) {
		int by_time = 0, by_size = 0;
		uint64_t base = 0;
		pthread_mutex_lock(&t->mu);
		if (t->nsegs > 1 && !t->segs[0]->seal_pending && !oldest_has_leftovers(t)) {
			const seg *s = t->segs[0];
			uint64_t total = 0;
			for (size_t i = 0; i < t->nsegs; i++)
				total += t->segs[i]->size;
			base = s->base_offset;
			by_time = c->retention_ms >= 0 && oldest_newest_time(t) < now - c->retention_ms;
			by_size = c->retention_bytes >= 0 &&
				  total - s->size >= (uint64_t)c->retention_bytes;
		}
		pthread_mutex_unlock(&t->mu);
		if (!(by_time || by_size) || (rc = topic_drop_oldest(t)) < 0)
			return rc;
		log_info("topic %s: retention removed segment %020" PRIu64 " (%s)", topic_label(t), base,
			 by_time ? "its newest record is older than retention.ms"
				 : "the topic holds retention.bytes without it");
	}
}

static int build_map(topic *t, seg **v, size_t n, uint64_t clean, const cfg *c,
		     struct keymap *m)
{
	int rc = 0;

	for (size_t i = 0; i < n && rc >= 0; i++) {
		seg_iter it;
		const unsigned char *bp;
		rec_batch b;
		uint64_t at;

		if (v[i]->end_offset <= clean)
			continue;
		seg_iter_init(&it, v[i], SEG_HEADER_SIZE, v[i]->size);
		it.quiet = passed_over(v[i]);
		while ((rc = seg_iter_next(&it, &bp, &b, &at)) == 1) {
			rec_iter ri;
			const unsigned char *p;
			size_t len, klen;
			int tomb;
			rec_iter_init(&ri, bp, &b);
			for (uint64_t off = ri.offset; rec_iter_next(&ri, &p, &len); off = ri.offset) {
				if (record_key(c, p, len, &klen, &tomb) &&
				    (rc = map_put(m, hash_bytes(p, klen, 1), hash_bytes(p, klen, 2), off)) < 0)
					break;
			}
			if (rc < 0)
				break;
		}
		seg_iter_free(&it);
		if (rc == -EIO) {
			pass_over(t, v[i], UNREADABLE); /* its keys count up to the damage */
			rc = 0;
		}
	}
	return rc;
}

/*
** The end of the run of segments from v[i] on that compaction rewrites as
** one: they follow while their sizes add up to no more than segment.bytes
** (as Kafka's cleaner groups them) and their kept tombstones count from one
** time. With only_clean, only segments that a compaction already cleaned
** (below the clean offset) take part: a pass that merges and compacts
** nothing, for the segments an earlier pass shrank.
*/
static int cleaned_below(const seg *s, uint64_t clean)
{
	return s->cleaned_ms != 0 && s->end_offset <= clean;
}

static size_t run_end(seg **v, size_t i, size_t n, const struct keep *k, uint64_t clean,
		      int only_clean)
{
	uint64_t size = v[i]->size;
	int64_t h = tomb_horizon(v[i], k);
	size_t j = i + 1;

	if ((only_clean && !cleaned_below(v[i], clean)) || passed_over(v[i]))
		return j;
	for (; j < n && size + v[j]->size <= (uint64_t)k->c->segment_bytes; j++) {
		int64_t hj = tomb_horizon(v[j], k);
		if ((only_clean && !cleaned_below(v[j], clean)) || passed_over(v[j]) ||
		    (h != NO_HORIZON && hj != NO_HORIZON && hj != h))
			break;
		if (h == NO_HORIZON)
			h = hj;
		size += v[j]->size;
	}
	return j;
}

static int compaction_step(topic *t, const cfg *c, int64_t now, int force, const atomic_int *stop)
{
	struct keymap m = {0};
	struct keep k = {.c = c, .map = &m, .now = now};
	seg **v;
	size_t n, i, j;
	uint64_t clean, dirty = 0, total = 0, removed = 0;
	int rc;

	if (!(c->cleanup_policy & CFG_CLEANUP_COMPACT) || c->key_separator_len == 0)
		return 0;
	if ((rc = topic_sealed_segments(t, &v, &n)) < 0)
		return rc;
	pthread_mutex_lock(&t->mu);
	clean = t->clean_offset;
	pthread_mutex_unlock(&t->mu);
	int expiring = 0; /* segments whose kept tombstones are due to go */
	for (i = 0; i < n; i++) {
		total += v[i]->size;
		if (v[i]->end_offset > clean)
			dirty += v[i]->size;
		/* (a segment passed over keeps its tombstones: it is not rewritten) */
		expiring += !passed_over(v[i]) && tombstones_expire(v[i], c, now);
	}
	/* Nothing to compact: still merge what earlier passes shrank, or a
	** topic that goes quiet keeps them unmerged. */
	int merge_only = expiring == 0 && (dirty == 0 || (!force && (double)dirty <
							 c->min_cleanable_dirty_ratio * (double)total));
	for (i = 0; merge_only && i < n && run_end(v, i, n, &k, clean, 1) == i + 1; i++)
		;
	if (n == 0 || i == n)
		goto out;
	if ((rc = map_init(&m, 1024)) < 0 ||
	    (!merge_only && (rc = build_map(t, v, n, clean, c, &m)) < 0))
		goto out;
	int64_t met = 0;
	size_t merged = 0;
	for (i = 0; i < n && !(stop && atomic_load(stop)); i = j) {
		uint64_t r;
		j = run_end(v, i, n, &k, clean, merge_only);
		if ((merge_only && j == i + 1) || passed_over(v[i]))
			continue;
		if (topic_dir_hold(t) < 0) {
			rc = 0; /* deleted: the pass ends (compact_topic_pass) */
			goto out;
		}
		rc = rewrite_segments(t, v + i, j - i, &k, c, &r);
		topic_dir_release(t);
		if (rc < 0 && !rewrite_failed(t, v + i, j - i, rc))
			goto out;
		if (rc == 0)
			merged += j - i - 1;
		removed += r;
		meet_deadlines(t, &met);
	}
	rc = 0;
	if (merge_only)
		log_info("topic %s: merged %zu sealed segments into %zu", topic_label(t), n, n - merged);
	else if (!(stop && atomic_load(stop)) &&
		 (rc = topic_set_clean_offset(t, v[n - 1]->end_offset)) == 0)
		log_info("topic %s: compacted %zu sealed segments into %zu, %" PRIu64
			 " records removed",
			 topic_label(t), n, n - merged, removed);
out:
	map_free(&m);
	segs_release(v, n);
	return rc;
}

/*
** Compressing a segment at zstd's level 6 takes a core for a second per
** 60 MB or so; on a small machine that is the CPU a burst of appends is
** using. So a sealed segment waits until its topic has had no append for
** COMPRESS_QUIET_MS, or until its newest record is COMPRESS_LAG_MS old:
** a burst runs at full speed and its segments are compressed right after
** it; a writer that never pauses shares the CPU with compression after
** the lag. Plain rewrites (compression.type=none) do not wait.
*/
#define COMPRESS_QUIET_MS 1000
#define COMPRESS_LAG_MS 10000

static int compression_step(topic *t, const cfg *c, int64_t now, const atomic_int *stop)
{
	int want_z = c->compression_type == CFG_COMPRESSION_ZSTD;
	struct keep all = {.c = c};
	int64_t last_append, met = 0;
	seg **v;
	size_t n;
	int rc;

	if ((rc = topic_sealed_segments(t, &v, &n)) < 0)
		return rc;
	pthread_mutex_lock(&t->mu);
	last_append = t->last_ts_ms;
	pthread_mutex_unlock(&t->mu);
	for (size_t i = 0; i < n && !(stop && atomic_load(stop)); i++) {
		uint64_t r;
		if (v[i]->compressed == want_z || passed_over(v[i]))
			continue;
		if (want_z && now - last_append < COMPRESS_QUIET_MS) {
			pthread_mutex_lock(&t->mu);
			int64_t newest = v[i]->max_ts_ms;
			pthread_mutex_unlock(&t->mu);
			if (now - newest < COMPRESS_LAG_MS)
				break; /* and so are the segments after it */
		}
		if (topic_dir_hold(t) < 0)
			break; /* deleted */
		rc = rewrite_segments(t, v + i, 1, &all, c, &r);
		topic_dir_release(t);
		if (rc < 0 && !rewrite_failed(t, v + i, 1, rc))
			break;
		rc = 0;
		meet_deadlines(t, &met);
	}
	segs_release(v, n);
	return rc;
}

int compact_topic_pass(topic *t, int64_t now, const atomic_int *stop)
{
	cfg c;
	int rc = 0, r;

	if (topic_deleted(t))
		return 0; /* its files are gone; store_release_dead lets go of them */
	topic_config(t, &c);
	/* Seal what rolls sealed, sync, store positions: these have deadlines. */
	if ((r = deadline_steps(t, &c, now)) < 0 && !rc)
		rc = r;
	if ((r = roll_step(t, &c, now)) < 0 && !rc)
		rc = r;
	room_step(t, now);
	if ((r = topic_retry_removals(t)) < 0 && !rc)
		rc = r;
	if ((r = retention_step(t, &c, now)) < 0 && !rc)
		rc = r;
	if (!(stop && atomic_load(stop)) && (r = compaction_step(t, &c, now, 0, stop)) < 0 && !rc)
		rc = r;
	if (!(stop && atomic_load(stop)) && (r = compression_step(t, &c, now, stop)) < 0 && !rc)
		rc = r;
	/* Deleted during the pass: what failed for that is no error. */
	return topic_deleted(t) ? 0 : rc;
}

int compact_topic_now(topic *t, int64_t now)
{
	cfg c;
	int rc = topic_finish_seals(t);

	topic_config(t, &c);
	return rc < 0 ? rc : compaction_step(t, &c, now, 1, NULL);
}

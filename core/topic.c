/*
** topic.c: a topic, the segments that hold its log, and its settings.
**
** TOPIC DIRECTORY (DATADIR/topics/NAME/, see store.c):
**   topic.conf                       the topic's own settings and metadata
**   NNNNNNNNNNNNNNNNNNNN.log/.index  its segments (segment.c, index.c)
**
** topic.conf is text, one "name=value\n" per line: every setting the topic
** overrides (config.c names them), plus "mode=" (octal), "uid=", "gid=" and
** "created.ms=", and "cleaned.offset=" (compaction's checkpoint: the
** records below it have been compacted); "removed.below=" only once
** retention removed a segment whose files could not be unlinked: the end
** of that segment, so segment files that start below it are leftovers,
** which the mount removes rather than open. It is replaced durably as a whole (io_replace_file).
**
** APPEND. A writer holds append_mu, encodes its lines' batch header, writes
** header and lines at the end of the newest segment with one pwritev (or,
** for bulk writers, copies them into room made ahead, prefill.c), and
** then publishes the new end under mu. Readers only read up to
** the published size, so they never see a batch being written; a failed
** write is cut off again (ftruncate) before append_mu is released. Batch
** times never go back, even if the clock does, so the time index stays
** sorted.
**
** ROLL. When the newest segment would grow past segment.bytes, or its first
** record is older than segment.ms, it is sealed (data synced, complete index
** written) and a new segment starts at the next offset and byte position.
*/
#include "topic.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "consumer.h"
#include "core_internal.h"
#include "cursor.h"
#include "io.h"
#include "log.h"
#include "prefill.h"
#include "record.h"
#include "segment.h"

#define CONF_NAME "topic.conf"

/* ---- topic.conf ---- */

struct meta {
	mode_t mode;
	uid_t uid;
	gid_t gid;
	int64_t created_ms;
	uint64_t clean_offset;
	uint64_t removed_below;
};

static int parse_meta(const char *name, const char *v, size_t n, void *arg)
{
	struct meta *m = arg;
	uint64_t x;

	if (cfg_parse_u64(v, n, !strcmp(name, "mode") ? 8 : 10, &x) < 0)
		return -EINVAL;
	if (!strcmp(name, "mode"))
		m->mode = (mode_t)(x & 07777);
	else if (!strcmp(name, "uid"))
		m->uid = (uid_t)x;
	else if (!strcmp(name, "gid"))
		m->gid = (gid_t)x;
	else if (!strcmp(name, "created.ms"))
		m->created_ms = (int64_t)x;
	else if (!strcmp(name, "cleaned.offset"))
		m->clean_offset = (uint64_t)x;
	else if (!strcmp(name, "removed.below"))
		m->removed_below = (uint64_t)x;
	else
		return -EINVAL;
	return 0;
}

static int write_conf(int dirfd, const cfg *own, const struct meta *m)
{
	size_t max = cfg_format_max() + 128;
	char *buf = malloc(max);
	size_t len;
	int rc;

	if (!buf)
		return -ENOMEM;
	len = cfg_format(own, buf);
	len += (size_t)snprintf(buf + len, max - len,
				"mode=%04o\nuid=%u\ngid=%u\ncreated.ms=%" PRId64 "\ncleaned.offset=%" PRIu64 "\n",
				(unsigned)m->mode, (unsigned)m->uid, (unsigned)m->gid, m->created_ms,
				m->clean_offset);
	if (m->removed_below)
		len += (size_t)snprintf(buf + len, max - len, "removed.below=%" PRIu64 "\n",
					m->removed_below);
	rc = io_replace_file(dirfd, CONF_NAME, buf, len);
	free(buf);
	return rc;
}

/* The metadata of t as topic.conf stores it; caller holds mu. */
static struct meta meta_of(const topic *t)
{
	return (struct meta){t->mode, t->uid, t->gid, t->created_ms, t->clean_offset,
			     t->removed_below};
}

/* ---- creation and loading ---- */

int topic_create_dir(int parent, const char *dirname, mode_t mode, uid_t uid, gid_t gid)
{
	struct meta m = {.mode = mode & 07777, .uid = uid, .gid = gid, .created_ms = io_now_ms()};
	cfg own;
	seg *s;
	int fd, rc;

	if (mkdirat(parent, dirname, 0755) < 0)
		return -errno;
	fd = openat(parent, dirname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	cfg_defaults(&own);
	rc = write_conf(fd, &own, &m);
	if (rc == 0 && (rc = seg_create(fd, 0, 0, m.created_ms, &s)) == 0)
		seg_unref(s);
	if (rc == 0)
		rc = io_fsync(fd);
	close(fd);
	return rc;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Base offsets of the segment files in dirfd, sorted; removes stale
** "*.tmp" files that an interrupted replacement left, and index files
** whose segment is gone. */
static int list_segments(int dirfd, uint64_t **out, size_t *n)
{
	DIR *d = io_opendir_at(dirfd, NULL);
	struct dirent *de;
	uint64_t *v = NULL;
	size_t cnt = 0, cap = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		uint64_t base;
		size_t len = strlen(de->d_name);
		if (len > 4 && !strcmp(de->d_name + len - 4, ".tmp")) {
			log_info("removing %s, left by an interrupted rewrite", de->d_name);
			unlinkat(dirfd, de->d_name, 0);
			continue;
		}
		if (len == SEG_NAME_LEN + 6 && !strcmp(de->d_name + SEG_NAME_LEN, ".index")) {
			char logname[32];
			memcpy(logname, de->d_name, SEG_NAME_LEN);
			strcpy(logname + SEG_NAME_LEN, ".log");
			if (faccessat(dirfd, logname, F_OK, 0) < 0 && errno == ENOENT) {
				if (unlinkat(dirfd, de->d_name, 0) == 0)
					log_info("removed %s, whose segment is gone", de->d_name);
				else
					log_warn("cannot remove %s, whose segment is gone: %s",
						 de->d_name, strerror(errno));
			}
			continue;
		}
		if (!seg_parse_name(de->d_name, &base))
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			uint64_t *nv = realloc(v, cap * sizeof *nv);
			if (!nv) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
		}
		v[cnt++] = base;
	}
	closedir(d);
	if (cnt > 1) /* v is NULL when there is none */
		qsort(v, cnt, sizeof *v, cmp_u64);
	*out = v;
	*n = cnt;
	return 0;
}

static topic *topic_new(store *st, const char *name)
{
	topic *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	atomic_init(&t->refs, 1);
	t->st = st;
	t->dirfd = -1;
	pthread_mutex_init(&t->append_mu, NULL);
	pthread_mutex_init(&t->fill_mu, NULL);
	pthread_mutex_init(&t->mu, NULL);
	pthread_mutex_init(&t->seal_mu, NULL);
	pthread_mutex_init(&t->name_mu, NULL);
	pthread_rwlock_init(&t->dir_lock, NULL);
	snprintf(t->name, sizeof t->name, "%s", name);
	return t;
}

/*
** Only a sealed segment is ever compressed, so a compressed newest one has
** lost the segment after it (its name and the sealed index of the one
** before are synced at different times; only a double fault leaves this).
** Cutting it as a newest segment would lose its records: start an empty
** newest segment where it ends instead, and add it to *bases.
*/
static int follow_compressed_newest(topic *t, uint64_t **bases, size_t *n)
{
	uint64_t base = (*bases)[*n - 1], end_offset, end_bytepos, *nb;
	seg *s;
	int rc;

	if (!seg_is_compressed(t->dirfd, base)) {
		/* A bad header may hide one: a zstd frame after it says so.
		** Repaired first (as load_segments repairs any bad header),
		** it is followed like the others; opened as the newest, it
		** would refuse the mount. */
		if (!seg_holds_zstd(t->dirfd, base))
			return 0;
		uint64_t prev_end = *n > 1 ? seg_sealed_end_bytepos(t->dirfd, (*bases)[*n - 2], base)
					   : UINT64_MAX;
		log_warn("topic %s: segment %020" PRIu64 ": bad header", topic_label(t), base);
		if (seg_repair_header(t->dirfd, base, prev_end) < 0 ||
		    !seg_is_compressed(t->dirfd, base))
			return 0;
	}
	if ((rc = seg_sealed_end(t->dirfd, base, &end_offset, &end_bytepos)) < 0)
		return rc;
	if (end_offset <= base)
		end_offset = base + 1; /* emptied by compaction: its end is lost */
	log_warn("topic %s: segment %020" PRIu64 " is compressed but has no segment after it; "
		 "starting one at offset %" PRIu64,
		 topic_label(t), base, end_offset);
	if (!(nb = realloc(*bases, (*n + 1) * sizeof *nb)))
		return -ENOMEM;
	*bases = nb;
	if ((rc = seg_create(t->dirfd, end_offset, end_bytepos, io_now_ms(), &s)) < 0)
		return rc;
	rc = io_datasync(s->fd);
	seg_unref(s);
	if (rc == 0)
		rc = io_fsync(t->dirfd);
	if (rc == 0)
		nb[(*n)++] = end_offset;
	return rc;
}

/*
** Remove the files of segment base, which is off t's list (a merge's member,
** retention's oldest, a merge leftover at the mount). When that fails (an
** I/O error, a read-only or immutable file), the segment is remembered and
** retried at each maintenance pass, until it goes: a merge's member left on
** the disk would be removed by the next mount only while the segment it
** was merged into is there, and retention may remove that one first; the
** member would then come back as the oldest segment, with records that
** compaction had removed. Returns 0, 1 when the files stay (remembered),
** or -ENOMEM when they cannot be remembered.
*/
static int remove_segment_files(topic *t, uint64_t base)
{
	int rc = topic_dir_hold(t);

	if (rc < 0)
		return 0; /* deleted: its files go with the topic's directory */
	rc = seg_remove_files(t->dirfd, base);
	topic_dir_release(t);
	if (rc == 0)
		return 0;
	log_error("topic %s: cannot remove the files of segment %020" PRIu64
		  " (%s); the maintenance thread tries again at each pass",
		  topic_label(t), base, strerror(-rc));
	pthread_mutex_lock(&t->mu);
	uint64_t *v = realloc(t->unremoved, (t->nunremoved + 1) * sizeof *v);
	if (v) {
		t->unremoved = v;
		v[t->nunremoved++] = base;
	}
	pthread_mutex_unlock(&t->mu);
	return v ? 1 : -ENOMEM;
}

static int save_meta(topic *t);

int topic_retry_removals(topic *t)
{
	uint64_t *v;
	size_t n, removed = 0, left;

	pthread_mutex_lock(&t->mu);
	int unsaved = t->meta_unsaved;
	pthread_mutex_unlock(&t->mu);
	if (unsaved)
		save_meta(t);
	pthread_mutex_lock(&t->mu);
	n = t->nunremoved;
	v = n ? malloc(n * sizeof *v) : NULL;
	if (v)
		memcpy(v, t->unremoved, n * sizeof *v);
	pthread_mutex_unlock(&t->mu);
	if (n && !v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (seg_remove_files(t->dirfd, v[i]) < 0)
			continue;
		log_info("topic %s: removed the files of segment %020" PRIu64 " at last", topic_label(t), v[i]);
		removed++;
		pthread_mutex_lock(&t->mu);
		for (size_t k = 0; k < t->nunremoved; k++)
			if (t->unremoved[k] == v[i]) {
				t->unremoved[k] = t->unremoved[--t->nunremoved];
				break;
			}
		pthread_mutex_unlock(&t->mu);
	}
	free(v);
	if (removed > 0)
		io_fsync(t->dirfd); /* as after the removals that failed */
	pthread_mutex_lock(&t->mu);
	left = t->nunremoved;
	pthread_mutex_unlock(&t->mu);
	return (int)left;
}

/*
** s, just opened, reaches past the segments after it (seg_open returned 1):
** compaction merged them into it and a crash came before their files were
** removed (segment.c, "MERGES"): remove those that start before its end.
** t->segs[*first..n) are open, the oldest first; s is dropped and the
** caller opens it again. The newest segment is never merged, but a power
** loss can take the empty one after the merged segments (its header never
** synced: seg_never_written), leaving the last of them as the newest: when
** its records end by s's end, it goes too and an empty newest segment
** starts there. Returns 0; 1 when the newest has records past s's end (not
** a merge: damage that the caller opens s over as before); or -errno.
*/
static int finish_merge(topic *t, seg *s, size_t *first, size_t n)
{
	uint64_t end = s->end_offset, end_bytepos = s->end_bytepos, base = s->base_offset;
	size_t k = *first;
	int rc = 0;

	seg_unref(s);
	while (k < n && t->segs[k]->base_offset < end)
		k++;
	if (k == *first ||
	    (k == n && (t->segs[n - 1]->end_offset > end || t->segs[n - 1]->end_bytepos > end_bytepos)))
		return 1;
	for (; *first < k; (*first)++) {
		seg *gone = t->segs[*first];
		log_warn("topic %s: removing segment %020" PRIu64 ", which a compaction merged into "
			 "segment %020" PRIu64 " before a crash",
			 topic_label(t), gone->base_offset, base);
		if ((rc = remove_segment_files(t, gone->base_offset)) < 0)
			return rc;
		seg_unref(gone);
		t->segs[*first] = NULL;
	}
	if (k == n) {
		seg *newest;
		log_warn("topic %s: starting an empty segment at offset %" PRIu64
			 ", after the segments merged into %020" PRIu64,
			 topic_label(t), end, base);
		if ((rc = seg_create(t->dirfd, end, end_bytepos, io_now_ms(), &newest)) < 0)
			return rc;
		if ((rc = io_datasync(newest->fd)) < 0) {
			seg_unref(newest);
			return rc;
		}
		t->segs[--(*first)] = newest;
	}
	return io_fsync(t->dirfd);
}

/* Open the segments of t, newest first so that each sealed one can be
** checked against its successor. */
static int load_segments(topic *t)
{
	uint64_t *bases = NULL;
	size_t n = 0;
	int rc = list_segments(t->dirfd, &bases, &n);

	if (rc < 0)
		return rc;
	if (n == 0) {
		/* Only a crash between mkdir and the first segment's creation can
		** leave this (creation happens in tmp/, so not even that): start
		** an empty log. */
		seg *s = NULL;
		free(bases);
		if ((rc = seg_create(t->dirfd, 0, 0, io_now_ms(), &s)) < 0 ||
		    (rc = io_fsync(t->dirfd)) < 0) {
			if (s)
				seg_unref(s);
			return rc;
		}
		t->segs = malloc(sizeof *t->segs);
		if (!t->segs) {
			seg_unref(s);
			return -ENOMEM;
		}
		t->segs[0] = s;
		t->nsegs = t->segs_cap = 1;
		return 0;
	}
	/* Segments that retention removed, whose files could not be
	** unlinked then (topic_drop_oldest): they start before removed_below,
	** the end of the last one (retention removes the oldest first). */
	size_t kept = 0;
	for (size_t i = 0; i < n; i++) {
		if (i + 1 < n && bases[i] < t->removed_below) {
			log_warn("topic %s: removing segment %020" PRIu64 ", which retention deleted "
				 "before", topic_label(t), bases[i]);
			if ((rc = remove_segment_files(t, bases[i])) < 0) {
				free(bases);
				return rc;
			}
			continue;
		}
		bases[kept++] = bases[i];
	}
	n = kept;
	if ((rc = follow_compressed_newest(t, &bases, &n)) < 0) {
		free(bases);
		return rc;
	}
	t->segs = calloc(n, sizeof *t->segs);
	if (!t->segs) {
		free(bases);
		return -ENOMEM;
	}
	t->segs_cap = n;
	size_t first = n; /* segs[first..n) are open */
	for (size_t i = n; i-- > 0;) {
		seg *s;
		const seg *next = first < n ? t->segs[first] : NULL;
		rc = seg_open(t->dirfd, bases[i], next, 1, &s);
		if (rc == -EBADMSG && next == NULL && i > 0 &&
		    seg_never_written(t->dirfd, bases[i - 1], bases[i])) {
			/* Killed between creating a segment and writing its
			** header, or the header lost with a power loss: nothing
			** was ever appended to it, and the segment before it was
			** not sealed, so that one goes on as the newest. Once
			** sealed, it may have been compacted or compressed and
			** must stay sealed: the empty segment's header is then
			** rebuilt below from the sealed index's end. (A new
			** segment's header reaches the disk with the first sync
			** of its data, but its name can reach it before: any
			** fsync on the file system commits the directory.) */
			log_warn("topic %s: removing segment %020" PRIu64 ", created but never written",
				 topic_label(t), bases[i]);
			seg_remove_files(t->dirfd, bases[i]);
			continue;
		}
		if (rc == -EBADMSG) {
			/* A power loss can tear the newest segment's header (it
			** reaches the disk with the first sync of its data), and a
			** flipped bit can damage any: rebuild it rather than refuse
			** the whole data directory. */
			log_warn("topic %s: segment %020" PRIu64 ": bad header", topic_label(t), bases[i]);
			uint64_t prev_end = UINT64_MAX, end_offset, end_bytepos;
			if (i > 0)
				prev_end = seg_sealed_end_bytepos(t->dirfd, bases[i - 1], bases[i]);
			/* A compressed segment before an empty one, its index lost
			** too (a double fault): its end from a scan. */
			if (prev_end == UINT64_MAX && i > 0 && seg_holds_nothing(t->dirfd, bases[i]) &&
			    seg_is_compressed(t->dirfd, bases[i - 1]) &&
			    seg_sealed_end(t->dirfd, bases[i - 1], &end_offset, &end_bytepos) == 0 &&
			    end_offset <= bases[i])
				prev_end = end_bytepos;
			if (seg_repair_header(t->dirfd, bases[i], prev_end) == 0)
				rc = seg_open(t->dirfd, bases[i], next, 1, &s);
		}
		if (rc == 1 && (rc = finish_merge(t, s, &first, n)) >= 0)
			rc = seg_open(t->dirfd, bases[i], t->segs[first], 0, &s);
		if (rc < 0) {
			log_error("topic %s: cannot open segment %020" PRIu64 ": %s", topic_label(t), bases[i],
				  strerror(-rc));
			break;
		}
		t->segs[--first] = s;
	}
	free(bases);
	if (rc < 0) {
		for (size_t i = first; i < n; i++)
			seg_unref(t->segs[i]);
		return rc;
	}
	/* Close the gap left by removed torn segments. */
	if (first > 0) {
		memmove(t->segs, t->segs + first, (n - first) * sizeof *t->segs);
		t->nsegs = n - first;
	} else {
		t->nsegs = n;
	}
	/* The newest batch's time: a newest segment that a roll left empty
	** has none, and times must not go back past the one before it. */
	for (size_t i = t->nsegs; i-- > 0;)
		if (t->segs[i]->max_ts_ms > t->last_ts_ms)
			t->last_ts_ms = t->segs[i]->max_ts_ms;
	t->synced_offset = t->segs[t->nsegs - 1]->end_offset; /* recovery synced what it kept */
	return 0;
}

int topic_load(store *st, int topics_dirfd, const char *name, topic **out)
{
	topic *t = topic_new(st, name);
	struct meta m = {.mode = 0755};
	char *buf = NULL;
	size_t len;
	int rc;

	if (!t)
		return -ENOMEM;
	t->dirfd = openat(topics_dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->dirfd < 0) {
		rc = -errno;
		goto fail;
	}
	if ((rc = io_read_file(t->dirfd, CONF_NAME, &buf, &len)) < 0 ||
	    (rc = cfg_parse(buf, len, &t->own, parse_meta, &m)) < 0) {
		log_error("topic %s: %s is %s", name, CONF_NAME, rc == -ENOENT ? "missing" : "damaged");
		free(buf);
		goto fail;
	}
	free(buf);
	t->mode = m.mode;
	t->uid = m.uid;
	t->gid = m.gid;
	t->created_ms = m.created_ms;
	t->clean_offset = m.clean_offset;
	t->removed_below = m.removed_below;
	cfg_merge(store_defaults(st), &t->own, &t->eff);
	if ((rc = load_segments(t)) < 0)
		goto fail;
	consumer_remove_leftovers(t);
	*out = t;
	return 0;
fail:
	topic_unref(t);
	return rc;
}

void topic_ref(topic *t)
{
	atomic_fetch_add(&t->refs, 1);
}

void topic_unref(topic *t)
{
	if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	for (size_t i = 0; i < t->nsegs; i++)
		seg_unref(t->segs[i]);
	free(t->segs);
	free(t->unremoved);
	if (t->dirfd >= 0)
		close(t->dirfd);
	pthread_mutex_destroy(&t->append_mu);
	pthread_mutex_destroy(&t->fill_mu);
	pthread_mutex_destroy(&t->mu);
	pthread_mutex_destroy(&t->seal_mu);
	pthread_mutex_destroy(&t->name_mu);
	pthread_rwlock_destroy(&t->dir_lock);
	free(t);
}

void topic_file_opened(topic *t)
{
	pthread_mutex_lock(&t->mu);
	t->open_files++;
	pthread_mutex_unlock(&t->mu);
}

void topic_file_closed(topic *t)
{
	int hand_over;

	pthread_mutex_lock(&t->mu);
	hand_over = --t->open_files == 0 && t->deleted && !t->dead_listed;
	if (hand_over)
		t->dead_listed = 1;
	pthread_mutex_unlock(&t->mu);
	if (hand_over)
		store_add_dead(t->st, t);
}

/* Called by the background thread, or by topic_release_if_unused after
** store_topic_delete, once no seal, rewrite or stored position of the
** topic is under way (topic_dir_wait):
** later ones, and a maintenance pass under way, give up on a deleted
** topic, and retention takes nothing from it (topic_drop_oldest). Open
** files would still read the segments, so it waits for them (their last
** close hands the topic over again). */
void topic_release_files(topic *t)
{
	seg **old, *empty;
	size_t n;

	pthread_mutex_lock(&t->append_mu);
	pthread_mutex_lock(&t->mu);
	t->dead_listed = 0;
	const seg *last = t->segs[t->nsegs - 1];
	if (t->open_files > 0 || (t->nsegs == 1 && last->fd < 0) ||
	    seg_new_empty(last->end_offset, last->end_bytepos, &empty) < 0) {
		pthread_mutex_unlock(&t->mu);
		pthread_mutex_unlock(&t->append_mu);
		return;
	}
	old = t->segs;
	n = t->nsegs;
	t->segs = malloc(sizeof *t->segs);
	if (!t->segs) {
		t->segs = old;
		pthread_mutex_unlock(&t->mu);
		pthread_mutex_unlock(&t->append_mu);
		seg_unref(empty);
		return;
	}
	t->segs[0] = empty;
	t->nsegs = t->segs_cap = 1;
	/* The removed directory goes too. Its descriptor cannot be closed:
	** lookups and listings of consumers/ read t->dirfd without a lock,
	** and a new file could take its number. /dev/null takes its place,
	** so they fail (ENOTDIR) and the number stays the topic's. */
	int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nul >= 0) {
		dup3(nul, t->dirfd, O_CLOEXEC);
		close(nul);
	}
	pthread_mutex_unlock(&t->mu);
	pthread_mutex_unlock(&t->append_mu);
	for (size_t i = 0; i < n; i++)
		seg_unref(old[i]);
	free(old);
	log_info("topic %s: deleted, and no file of it is open: let go of its %zu segments",
		 topic_label(t), n);
}

void topic_mark_deleted(topic *t)
{
	seg *s;

	pthread_mutex_lock(&t->append_mu);
	pthread_mutex_lock(&t->mu);
	t->deleted = 1;
	s = t->nsegs ? t->segs[t->nsegs - 1] : NULL;
	pthread_mutex_unlock(&t->mu);
	/* No batch comes any more: the room made ahead goes, with the
	** mapping, and the helper lets go of the files. */
	if (s)
		prefill_release_locked(t, s);
	pthread_mutex_unlock(&t->append_mu);
}

void topic_release_if_unused(topic *t)
{
	pthread_mutex_lock(&t->mu);
	int unused = t->deleted && t->open_files == 0 && !t->dead_listed;
	if (unused)
		t->dead_listed = 1; /* no last close hands it over meanwhile */
	pthread_mutex_unlock(&t->mu);
	if (unused)
		topic_release_files(t);
}

int topic_deleted(topic *t)
{
	pthread_mutex_lock(&t->mu);
	int deleted = t->deleted;
	pthread_mutex_unlock(&t->mu);
	return deleted;
}

int topic_dir_hold(topic *t)
{
	pthread_rwlock_rdlock(&t->dir_lock);
	if (topic_deleted(t)) {
		pthread_rwlock_unlock(&t->dir_lock);
		return -ENOENT;
	}
	return 0;
}

void topic_dir_release(topic *t)
{
	pthread_rwlock_unlock(&t->dir_lock);
}

void topic_dir_wait(topic *t)
{
	pthread_rwlock_wrlock(&t->dir_lock);
	pthread_rwlock_unlock(&t->dir_lock);
}

void topic_set_name(topic *t, const char *name)
{
	pthread_mutex_lock(&t->name_mu);
	snprintf(t->name, sizeof t->name, "%s", name);
	pthread_mutex_unlock(&t->name_mu);
}

void topic_name(topic *t, char *buf)
{
	pthread_mutex_lock(&t->name_mu);
	memcpy(buf, t->name, sizeof t->name);
	pthread_mutex_unlock(&t->name_mu);
}

const char *topic_label(topic *t)
{
	static _Thread_local char buf[STORE_NAME_MAX + 1];

	topic_name(t, buf);
	return buf;
}

/* ---- append and roll ---- */

/* Seal the newest segment and start the next. Caller holds append_mu. */
/* The newest segment, for a caller that holds append_mu: it stays the
** newest until that caller rolls, but retention and rewrites move the list
** under mu alone, so even the newest slot is read under mu. */
static seg *newest_segment(topic *t)
{
	pthread_mutex_lock(&t->mu);
	seg *s = t->segs[t->nsegs - 1];
	pthread_mutex_unlock(&t->mu);
	return s;
}

static int roll_locked(topic *t, int64_t now_ms)
{
	seg *old = newest_segment(t), *ns;
	int rc;

	if (old->records == 0 && old->end_offset == old->base_offset)
		return 0;
	/* Room in the list first: nothing may fail once the new file exists. */
	pthread_mutex_lock(&t->mu);
	if (t->nsegs == t->segs_cap) {
		size_t cap = t->segs_cap * 2 + 4;
		seg **nv = realloc(t->segs, cap * sizeof *nv);
		if (!nv) {
			pthread_mutex_unlock(&t->mu);
			return -ENOMEM;
		}
		t->segs = nv;
		t->segs_cap = cap;
	}
	pthread_mutex_unlock(&t->mu);
	if ((rc = seg_create(t->dirfd, old->end_offset, old->end_bytepos, now_ms, &ns)) < 0) {
		log_error("topic %s: cannot roll segment %020" PRIu64 ": %s", topic_label(t),
			  old->base_offset, strerror(-rc));
		return rc;
	}
	/* The old segment's data sync and sealed index are left to
	** topic_finish_seals (the background thread, or a sync), and so is
	** the sync of the directory that now names the new segment: writers
	** never wait for an fsync (a bulk append measured 25% slower with
	** the directory synced at each roll). */
	prefill_release_locked(t, old); /* sealed segments hold their batches only */
	pthread_mutex_lock(&t->mu);
	old->sealed = 1;
	old->seal_pending = 1;
	t->rolls++;
	t->segs[t->nsegs++] = ns;
	pthread_mutex_unlock(&t->mu);
	if (old->idx_fd >= 0) {
		close(old->idx_fd);
		old->idx_fd = -1;
	}
	return 0;
}

void topic_release_room(topic *t)
{
	pthread_mutex_lock(&t->append_mu);
	pthread_mutex_lock(&t->mu);
	seg *s = t->nsegs ? t->segs[t->nsegs - 1] : NULL;
	pthread_mutex_unlock(&t->mu);
	if (s)
		prefill_release_locked(t, s);
	pthread_mutex_unlock(&t->append_mu);
}

int topic_give_back_room(topic *t, int64_t quiet_since_ms)
{
	int had = 0;

	/* Most passes find no room: look without taking the writers' lock. */
	pthread_mutex_lock(&t->mu);
	had = t->nsegs > 0 && atomic_load(&t->segs[t->nsegs - 1]->ready) > 0;
	pthread_mutex_unlock(&t->mu);
	if (!had)
		return 0;
	pthread_mutex_lock(&t->append_mu);
	pthread_mutex_lock(&t->mu);
	/* Quiet still? A writer may have come since the caller looked. */
	seg *s = t->nsegs && !t->deleted && t->last_ts_ms <= quiet_since_ms
			 ? t->segs[t->nsegs - 1]
			 : NULL;
	pthread_mutex_unlock(&t->mu);
	had = s ? prefill_give_back_locked(t, s) : 0;
	pthread_mutex_unlock(&t->append_mu);
	return had;
}

int topic_roll(topic *t)
{
	int rc;
	pthread_mutex_lock(&t->append_mu);
	rc = t->deleted ? -ENOENT : roll_locked(t, io_now_ms());
	pthread_mutex_unlock(&t->append_mu);
	return rc;
}

/* Walks the lines of an iovec array. */
struct line_iter {
	const struct iovec *iov;
	int iovcnt;
	int i;	    /* current iovec */
	size_t off; /* offset in it */
};

/* Length of the next line (up to its '\n'), or -1 when no '\n' is left.
** The position does not move. */
static ssize_t next_line_len(const struct line_iter *it)
{
	size_t len = 0, off = it->off;
	for (int i = it->i; i < it->iovcnt; i++, off = 0) {
		size_t n = it->iov[i].iov_len - off;
		if (n == 0)
			continue; /* writev allows {NULL, 0} */
		const char *b = (const char *)it->iov[i].iov_base + off;
		const char *nl = memchr(b, '\n', n);
		if (nl)
			return (ssize_t)(len + (size_t)(nl - b));
		len += n;
	}
	return -1;
}

/* Step over a line of len bytes and the '\n' after it. */
static void step_line(struct line_iter *it, size_t len)
{
	size_t want = len + 1;
	while (want > 0) {
		size_t n = it->iov[it->i].iov_len - it->off;
		if (n > want)
			n = want;
		want -= n;
		it->off += n;
		if (it->off == it->iov[it->i].iov_len) {
			it->i++;
			it->off = 0;
		}
	}
}

/* The position of the last '\n' at positions [from, to) of the bytes of
** iov (counted across its pieces), or -1. */
static ssize_t last_newline(const struct iovec *iov, int iovcnt, size_t from, size_t to)
{
	ssize_t found = -1;
	size_t start = 0; /* position of iov[i]'s first byte */

	for (int i = 0; i < iovcnt && start < to; start += iov[i++].iov_len) {
		size_t a = from > start ? from - start : 0;
		size_t b = to - start < iov[i].iov_len ? to - start : iov[i].iov_len;
		const char *base = iov[i].iov_base, *nl;
		if (a < b && (nl = memrchr(base + a, '\n', b - a)) != NULL)
			found = (ssize_t)(start + (size_t)(nl - base));
	}
	return found;
}

/*
** Whether no line of iov's total bytes (which end in '\n') is longer than
** max. The line that starts at pos fits exactly when a '\n' lies in the
** max + 1 bytes from pos; so do all the lines up to the last '\n' there,
** and the search goes on after it. A 1 MiB write under the default 1 MiB
** limit takes one or two such steps where a walk takes one per line (the
** walk and its memchr calls were 7% of a bulk append's time).
*/
static int lines_fit(const struct iovec *iov, int iovcnt, size_t total, size_t max)
{
	size_t pos = 0;

	while (total - pos > max) {
		ssize_t nl = last_newline(iov, iovcnt, pos, pos + max + 1);
		if (nl < 0)
			return 0;
		pos = (size_t)nl + 1;
	}
	return 1;
}

int topic_append(topic *t, const struct iovec *iov, int iovcnt, uint64_t *first)
{
	return topic_append_limit(t, iov, iovcnt, first, 0);
}

int topic_append_limit(topic *t, const struct iovec *iov, int iovcnt, uint64_t *first,
		       size_t limit)
{
	struct line_iter it = {iov, iovcnt, 0, 0};
	size_t total = 0, enc, count = 0;
	uint32_t text_crc;
	int64_t max_msg, seg_bytes, seg_ms, now = io_now_ms();
	unsigned char head[REC_HEADER_SIZE];
	struct iovec wv_small[8], *wv = wv_small;
	seg *s;
	int rc = 0, last_nl = 0;

	for (int i = 0; i < iovcnt; i++) {
		total += iov[i].iov_len;
		if (iov[i].iov_len)
			last_nl = ((const char *)iov[i].iov_base)[iov[i].iov_len - 1] == '\n';
	}
	if (total == 0 || !last_nl)
		return -EINVAL;

	pthread_mutex_lock(&t->append_mu);
	pthread_mutex_lock(&t->mu);
	rc = t->deleted ? -ENOENT : t->failed ? -EIO : 0;
	max_msg = t->eff.max_message_bytes;
	if ((uint64_t)max_msg < limit)
		max_msg = (int64_t)limit;
	seg_bytes = t->eff.segment_bytes;
	seg_ms = t->eff.segment_ms;
	s = t->segs[t->nsegs - 1];
	pthread_mutex_unlock(&t->mu);
	if (rc < 0)
		goto out;

	/* None of the lines longer than max.message.bytes. */
	if (!lines_fit(iov, iovcnt, total, (size_t)max_msg)) {
		/* walk the lines to the first one too long, for the log */
		ssize_t len;
		while ((len = next_line_len(&it)) >= 0 && len <= max_msg)
			step_line(&it, (size_t)len);
		log_warn("topic %s: refused a %zd-byte line (max.message.bytes is %" PRId64 ")",
			 topic_label(t), len, max_msg);
		rc = -EMSGSIZE;
		goto out;
	}
	enc = REC_HEADER_SIZE + total;
	if (enc > REC_MAX_BATCH) {
		rc = -EMSGSIZE;
		goto out;
	}

	/* Roll first if this batch would overfill the newest segment. */
	if (s->records > 0 &&
	    (s->size + enc > (uint64_t)seg_bytes + SEG_HEADER_SIZE ||
	     (s->index.n > 0 && now - s->index.e[0].timestamp_ms >= seg_ms))) {
		if (roll_locked(t, now) == 0)
			s = newest_segment(t);
	}

	/* The batch's text is the bytes written, as they are. The CRC's pass
	** over it also counts the lines; the header, which holds the count,
	** follows. */
	if (now < t->last_ts_ms)
		now = t->last_ts_ms;
	/* (Allocated before the batch reserves its place: nothing may fail
	** between that and the write but the write.) */
	if (iovcnt >= (int)(sizeof(wv_small) / sizeof(wv_small[0])) &&
	    !(wv = malloc((size_t)(iovcnt + 1) * sizeof *wv))) {
		rc = -ENOMEM;
		goto out;
	}
	if (prefill_begin_locked(s, s->size + enc)) {
		/* Room made ahead (prefill.c): the pages are in, so the pass
		** copies the text into the page cache as it goes, as a pwrite
		** would, without the pwrite's page allocation. */
		unsigned char *d = s->map + s->size;
		text_crc = rec_text_copy(d + REC_HEADER_SIZE, iov, iovcnt, &count);
		rec_encode_header(d, text_crc, total, (uint32_t)count, s->end_offset,
				  s->end_bytepos, now);
		t->mapped_appends++;
	} else {
		/* The header and the caller's pieces in one pwritev, with no
		** copy of ours. */
		text_crc = rec_text_scan(iov, iovcnt, &count);
		rec_encode_header(head, text_crc, total, (uint32_t)count, s->end_offset,
				  s->end_bytepos, now);
		wv[0].iov_base = head;
		wv[0].iov_len = REC_HEADER_SIZE;
		memcpy(wv + 1, iov, (size_t)iovcnt * sizeof *iov);
		rc = io_pwritev_all(s->fd, wv, iovcnt + 1, (off_t)s->size);
		if (rc < 0) {
			log_error("topic %s: append of %zu records failed: %s", topic_label(t), count,
				  strerror(-rc));
			prefill_release_locked(t, s); /* no room made past a failed write */
			if (ftruncate(s->fd, (off_t)s->size) < 0)
				log_error("topic %s: cannot cut the failed append: %s", topic_label(t),
					  strerror(errno));
			goto out;
		}
	}

	idx_entry ie = {.offset = s->end_offset, .bytepos = s->end_bytepos, .timestamp_ms = now,
			.location = s->size, .nrec_before = (uint32_t)s->records};
	int add_index = s->index.n == 0 || s->size - s->last_index_loc >= IDX_INTERVAL;
	if (add_index && s->idx_fd >= 0 && idx_append(s->idx_fd, s->index.n, &ie) < 0)
		log_warn("topic %s: cannot write index entry (rebuilt at next open)", topic_label(t));

	pthread_mutex_lock(&t->mu);
	if (add_index && idx_push(&s->index, &ie) == 0)
		s->last_index_loc = ie.location;
	if (first)
		*first = s->end_offset;
	s->size += enc;
	s->end_offset += count;
	s->end_bytepos += total;
	s->records += count;
	s->max_ts_ms = now;
	t->last_ts_ms = now;
	pthread_mutex_unlock(&t->mu);
	prefill_end_locked(t, s, total);
out:
	if (wv != wv_small)
		free(wv);
	pthread_mutex_unlock(&t->append_mu);
	return rc;
}

int topic_finish_seals(topic *t)
{
	seg *v[16];
	size_t n;
	int rc = 0;

	/* Not held: the topic was deleted, and the loop only clears. */
	int held = topic_dir_hold(t) == 0;

	pthread_mutex_lock(&t->seal_mu);
	pthread_mutex_lock(&t->mu);
	if (t->failed)
		rc = -EIO; /* a sync failed: nothing more is reported durable */
	pthread_mutex_unlock(&t->mu);
	while (rc == 0) {
		n = 0;
		pthread_mutex_lock(&t->mu);
		for (size_t i = 0; i < t->nsegs && n < 16; i++) {
			if (t->segs[i]->seal_pending && t->deleted) {
				/* Its files are gone with the topic: nothing to sync,
				** and no index to write into a removed directory. */
				t->segs[i]->seal_pending = 0;
			} else if (t->segs[i]->seal_pending) {
				v[n] = t->segs[i];
				seg_ref(v[n++]);
			}
		}
		pthread_mutex_unlock(&t->mu);
		for (size_t i = 0; i < n; i++) {
			int r = rc < 0 ? rc : seg_seal(t->dirfd, v[i]);
			if (r == 0) {
				pthread_mutex_lock(&t->mu);
				v[i]->seal_pending = 0;
				v[i]->header_synced = 1;
				idx_shrink(&v[i]->index); /* readers look at it under mu */
				pthread_mutex_unlock(&t->mu);
			} else if (rc == 0) {
				rc = r;
				/* The data sync failed, and the kernel may have
				** dropped the pages it could not write: a second
				** sync would succeed over them. As in topic_sync,
				** the topic stops taking appends. */
				pthread_mutex_lock(&t->mu);
				t->failed = 1;
				pthread_mutex_unlock(&t->mu);
				log_error("topic %s: cannot seal segment %020" PRIu64
					  " (%s); appends are refused until remount",
					  topic_label(t), v[i]->base_offset, strerror(-r));
			}
			seg_unref(v[i]);
		}
		if (n < 16)
			break;
	}
	pthread_mutex_unlock(&t->seal_mu);
	if (held)
		topic_dir_release(t);
	return rc;
}

int topic_sync(topic *t)
{
	seg *s;
	int rc;

	pthread_mutex_lock(&t->mu);
	if (t->deleted) {
		/* Its files are gone (and after topic_release_files, their
		** descriptors too): nothing is left to make durable. */
		pthread_mutex_unlock(&t->mu);
		return 0;
	}
	if (t->failed) {
		pthread_mutex_unlock(&t->mu);
		return -EIO;
	}
	s = t->segs[t->nsegs - 1];
	uint64_t end = s->end_offset, rolls = t->rolls;
	int dir = rolls != t->rolls_synced;
	seg_ref(s);
	pthread_mutex_unlock(&t->mu);
	/* Segments that rolls sealed hold acknowledged records too: every
	** one up to s, including s itself if a roll came since it was
	** picked (so the seals come after the pick, not before it). */
	if ((rc = topic_finish_seals(t)) < 0) {
		seg_unref(s);
		return rc;
	}
	/* The newest segment's name first, then its data. The names count as
	** durable only once this fsync has returned: a sync running beside
	** it syncs the directory too rather than report records whose
	** segment's name may still be lost. */
	if (dir) {
		/* Held: a deleted topic's release puts /dev/null in dirfd. */
		if (topic_dir_hold(t) < 0) {
			seg_unref(s);
			return 0; /* deleted meanwhile, as at the top */
		}
		rc = io_fsync(t->dirfd);
		topic_dir_release(t);
	}
	if (rc == 0)
		rc = io_datasync(s->fd);
	if (rc == 0) {
		pthread_mutex_lock(&t->mu);
		s->header_synced = 1;
		if (rolls > t->rolls_synced)
			t->rolls_synced = rolls;
		if (end > t->synced_offset)
			t->synced_offset = end;
		t->synced_ms = io_now_ms();
		pthread_mutex_unlock(&t->mu);
	}
	if (rc < 0) {
		/* After a failed fsync the page cache may have dropped the data:
		** refuse further appends rather than pretend (see STYLE.md). */
		pthread_mutex_lock(&t->mu);
		t->failed = 1;
		pthread_mutex_unlock(&t->mu);
		log_error("topic %s: sync failed (%s); appends are refused until remount", topic_label(t),
			  strerror(-rc));
	}
	seg_unref(s);
	return rc;
}

/* ---- queries ---- */

/* First retained record's offset and bytepos; caller holds mu. */
static void first_record(const topic *t, uint64_t *offset, uint64_t *bytepos)
{
	for (size_t i = 0; i < t->nsegs; i++) {
		const seg *s = t->segs[i];
		if (s->records > 0 && s->index.n > 0) {
			*offset = s->index.e[0].offset;
			*bytepos = s->index.e[0].bytepos;
			return;
		}
	}
	*offset = t->segs[t->nsegs - 1]->end_offset;
	*bytepos = t->segs[t->nsegs - 1]->end_bytepos;
}

void topic_get_info(topic *t, topic_info *out)
{
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&t->mu);
	first_record(t, &out->start_offset, &out->start_bytepos);
	out->end_offset = t->segs[t->nsegs - 1]->end_offset;
	out->end_bytepos = t->segs[t->nsegs - 1]->end_bytepos;
	for (size_t i = 0; i < t->nsegs; i++) {
		out->records += t->segs[i]->records;
		out->stored_bytes += t->segs[i]->size;
	}
	out->segments = t->nsegs;
	out->last_append_ms = t->last_ts_ms;
	out->created_ms = t->created_ms;
	out->mode = t->mode;
	out->uid = t->uid;
	out->gid = t->gid;
	pthread_mutex_unlock(&t->mu);
}

/*
** Changing topic.conf: conf_begin() takes append_mu (which every change of
** the settings and metadata holds, so the snapshot stays current) and
** copies them; conf_commit() stores the changed copies durably, publishes
** them under mu, and releases append_mu. On an error, nothing changes.
*/
static int conf_begin(topic *t, cfg *own, struct meta *m)
{
	pthread_mutex_lock(&t->append_mu);
	pthread_mutex_lock(&t->mu);
	*m = meta_of(t);
	*own = t->own;
	int rc = t->deleted ? -ENOENT : 0;
	pthread_mutex_unlock(&t->mu);
	return rc;
}

static int conf_commit(topic *t, int rc, const cfg *own, const struct meta *m)
{
	if (rc == 0 && (rc = write_conf(t->dirfd, own, m)) < 0)
		log_error("topic %s: cannot store %s (%s); nothing changes", topic_label(t), CONF_NAME,
			  strerror(-rc));
	if (rc == 0) {
		pthread_mutex_lock(&t->mu);
		t->own = *own;
		cfg_merge(store_defaults(t->st), &t->own, &t->eff);
		t->mode = m->mode;
		t->uid = m->uid;
		t->gid = m->gid;
		t->clean_offset = m->clean_offset;
		t->removed_below = m->removed_below;
		t->meta_unsaved = 0; /* what it held in memory is stored with it */
		pthread_mutex_unlock(&t->mu);
	}
	pthread_mutex_unlock(&t->append_mu);
	return rc;
}

int topic_set_owner(topic *t, mode_t mode, uid_t uid, gid_t gid)
{
	struct meta m;
	cfg own;
	int rc = conf_begin(t, &own, &m);

	if (mode != (mode_t)-1)
		m.mode = mode & 07777;
	if (uid != (uid_t)-1)
		m.uid = uid;
	if (gid != (gid_t)-1)
		m.gid = gid;
	return conf_commit(t, rc, &own, &m);
}

void topic_config(topic *t, cfg *out)
{
	pthread_mutex_lock(&t->mu);
	*out = t->eff;
	pthread_mutex_unlock(&t->mu);
}

/* Set (value != NULL) or unset key k of the topic's own settings. */
static int config_change(topic *t, int k, const char *value, size_t value_len)
{
	struct meta m;
	cfg own;
	int rc;

	if (!cfg_key_name(k))
		return -ENOENT;
	rc = conf_begin(t, &own, &m);
	if (rc == 0 && !value)
		cfg_unset(&own, k);
	else if (rc == 0)
		rc = cfg_set(&own, k, value, value_len);
	if (rc == -EINVAL) {
		char shown[96], rule[96];
		log_warn("topic %s: refused %s='%s': not %s", topic_label(t), cfg_key_name(k),
			 log_printable(value, value_len, shown, sizeof shown),
			 cfg_rule(k, rule, sizeof rule));
	}
	return conf_commit(t, rc, &own, &m);
}

int topic_config_set(topic *t, int k, const char *value, size_t value_len)
{
	return config_change(t, k, value ? value : "", value ? value_len : 0);
}

int topic_config_unset(topic *t, int k)
{
	return config_change(t, k, NULL, 0);
}

int topic_offset_bytepos(topic *t, uint64_t offset, uint64_t *bytepos)
{
	uint64_t start;
	cursor *c;
	cur_record r;
	int rc;

	pthread_mutex_lock(&t->mu);
	if (offset >= t->segs[t->nsegs - 1]->end_offset) {
		pthread_mutex_unlock(&t->mu);
		return -EAGAIN;
	}
	/* The last segment that starts at or before offset, and in it the last
	** index entry at or before offset: the record is at most one index
	** interval (or one segment gap) after that point. */
	size_t lo = 0, hi = t->nsegs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->segs[mid]->base_offset <= offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	const seg *s = t->segs[lo ? lo - 1 : 0];
	ssize_t i = idx_find_offset(&s->index, offset);
	start = i >= 0 ? s->index.e[i].bytepos : s->base_bytepos;
	pthread_mutex_unlock(&t->mu);

	if ((rc = cur_open(t, start, &c)) < 0)
		return rc;
	cur_skip_below(c, offset);
	rc = cur_next(c, &r);
	if (rc == 1)
		*bytepos = r.bytepos;
	cur_close(c);
	return rc == 1 ? 0 : rc == 0 ? -EAGAIN : rc;
}

int topic_time_lookup(topic *t, int64_t ts_ms, uint64_t *offset, uint64_t *bytepos)
{
	const seg *s = NULL;
	uint64_t start;
	cursor *c;
	cur_record r;
	int rc;

	pthread_mutex_lock(&t->mu);
	/* The first segment holding a record as new as ts_ms. A walk over the
	** segment list (in memory; empty segments, which compaction can leave,
	** would break a binary search's order), not over records. */
	size_t lo = 0;
	while (lo < t->nsegs && (t->segs[lo]->records == 0 || t->segs[lo]->max_ts_ms < ts_ms))
		lo++;
	if (lo < t->nsegs) {
		s = t->segs[lo];
		ssize_t i = idx_find_time(&s->index, ts_ms);
		start = i >= 0 ? s->index.e[i].bytepos : s->base_bytepos;
	}
	pthread_mutex_unlock(&t->mu);
	if (!s)
		return -EAGAIN;

	if ((rc = cur_open(t, start, &c)) < 0)
		return rc;
	while ((rc = cur_next(c, &r)) == 1 && r.timestamp_ms < ts_ms)
		;
	if (rc == 1) {
		*offset = r.offset;
		*bytepos = r.bytepos;
	}
	cur_close(c);
	return rc == 1 ? 0 : rc == 0 ? -EAGAIN : rc;
}

int topic_segments(topic *t, topic_segment **out, size_t *n)
{
	topic_segment *v;

	pthread_mutex_lock(&t->mu);
	v = malloc(t->nsegs * sizeof *v);
	if (!v) {
		pthread_mutex_unlock(&t->mu);
		return -ENOMEM;
	}
	for (size_t i = 0; i < t->nsegs; i++) {
		const seg *s = t->segs[i];
		v[i] = (topic_segment){.base_offset = s->base_offset, .base_bytepos = s->base_bytepos,
				       .end_bytepos = s->end_bytepos, .stored_bytes = s->size,
				       .compressed = s->compressed};
	}
	*n = t->nsegs;
	pthread_mutex_unlock(&t->mu);
	*out = v;
	return 0;
}

/* ---- for the background thread ---- */

int topic_sealed_segments(topic *t, seg ***out, size_t *n)
{
	seg **v;

	pthread_mutex_lock(&t->mu);
	v = malloc(t->nsegs * sizeof *v);
	if (!v) {
		pthread_mutex_unlock(&t->mu);
		return -ENOMEM;
	}
	*n = 0;
	for (size_t i = 0; i + 1 < t->nsegs && !t->segs[i]->seal_pending; i++) {
		v[*n] = t->segs[i];
		seg_ref(v[(*n)++]);
	}
	pthread_mutex_unlock(&t->mu);
	*out = v;
	return 0;
}

void segs_release(seg **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		seg_unref(v[i]);
	free(v);
}

int topic_replace_segments(topic *t, seg *const *old, size_t n, seg *nw)
{
	int rc = -ENOENT;
	size_t i = 0;

	pthread_mutex_lock(&t->mu);
	while (i + n < t->nsegs && t->segs[i] != old[0])
		i++;
	if (i + n < t->nsegs) { /* found, and the newest is not among them */
		rc = 0;
		for (size_t k = 1; k < n; k++)
			if (t->segs[i + k] != old[k])
				rc = -ENOENT;
	}
	if (rc == 0) {
		t->segs[i] = nw;
		memmove(t->segs + i + 1, t->segs + i + n, (t->nsegs - i - n) * sizeof *t->segs);
		t->nsegs -= n - 1;
	}
	pthread_mutex_unlock(&t->mu);
	if (rc < 0) {
		seg_unref(nw);
		return rc;
	}
	/* Readers holding the old ones keep reading them through their
	** descriptors. The merged file took the first one's name; the
	** others' files go (a crash before: the mount removes them). */
	for (size_t k = 0; k < n; k++) {
		int r = k > 0 ? remove_segment_files(t, old[k]->base_offset) : 0;
		if (r < 0 && rc == 0)
			rc = r;
		seg_unref(old[k]); /* the list's reference */
	}
	/* So that no power loss brings them back; if it fails, the mount
	** removes them as leftovers of a merge (finish_merge). */
	int r = n > 1 ? io_fsync(t->dirfd) : 0;
	if (r < 0)
		log_warn("topic %s: directory sync after a merge failed: %s", topic_label(t),
			 strerror(-r));
	return rc;
}

int topic_drop_oldest(topic *t)
{
	seg *s, *next;
	int rc;

again:
	pthread_mutex_lock(&t->mu);
	if (t->deleted) {
		/* Its files are gone, and topic_sync no longer syncs: the
		** header below would never count as synced. */
		pthread_mutex_unlock(&t->mu);
		return -ENOENT;
	}
	if (t->nsegs < 2 || t->segs[0]->seal_pending) {
		pthread_mutex_unlock(&t->mu);
		return -EAGAIN;
	}
	next = t->segs[1];
	if (!next->header_synced) {
		/* The segment after it becomes the first, whose header
		** recovery cannot rebuild from a segment before it: it must be
		** on the disk before this one goes. A seal syncs a rolled
		** segment's, a sync of the topic the newest one's (and fails
		** the topic if it fails); a sealed segment whose index was
		** rebuilt at the mount may not have been synced yet. */
		int pending = next->seal_pending, newest = t->nsegs == 2;
		seg_ref(next);
		pthread_mutex_unlock(&t->mu);
		if (pending) {
			rc = topic_finish_seals(t);
		} else if (newest) {
			rc = topic_sync(t);
		} else {
			rc = io_datasync(next->fd);
			pthread_mutex_lock(&t->mu);
			if (rc == 0)
				next->header_synced = 1;
			else
				t->failed = 1; /* a retry would succeed over lost pages */
			pthread_mutex_unlock(&t->mu);
			if (rc < 0)
				log_error("topic %s: cannot sync segment %020" PRIu64
					  " (%s); appends are refused until remount",
					  topic_label(t), next->base_offset, strerror(-rc));
		}
		seg_unref(next);
		if (rc < 0)
			return rc;
		goto again;
	}
	s = t->segs[0];
	memmove(t->segs, t->segs + 1, (t->nsegs - 1) * sizeof *t->segs);
	t->nsegs--;
	pthread_mutex_unlock(&t->mu);
	/* Readers holding s keep reading it through their descriptors. */
	uint64_t end = s->end_offset, s_base = s->base_offset;
	rc = remove_segment_files(t, s->base_offset);
	seg_unref(s);
	if (rc == 0 && topic_dir_hold(t) == 0) {
		/* So that no power loss brings the segment back, and with it
		** the records retention removed (as after a merge). */
		int r = io_fsync(t->dirfd);
		topic_dir_release(t);
		if (r < 0)
			log_warn("topic %s: directory sync after retention removed segment %020" PRIu64
				 " failed: %s; a power loss may bring it back until the next pass",
				 topic_label(t), s_base, strerror(-r));
	}
	if (rc == 1) {
		/* Its files stay until a retry removes them: a mount before
		** that must not open them again (records retention removed,
		** the log's start going back). */
		pthread_mutex_lock(&t->mu);
		if (end > t->removed_below)
			t->removed_below = end;
		pthread_mutex_unlock(&t->mu);
		rc = save_meta(t);
	}
	return rc;
}

/*
** Store the metadata that the background work changes in memory first (the
** compaction checkpoint, removed.below). When topic.conf cannot be
** replaced, they stay ahead of it in memory (compaction goes on from its
** checkpoint rather than redo its work at every pass) and every
** maintenance pass tries again (topic_retry_removals); that is logged
** once, and its end too.
*/
static int save_meta(topic *t)
{
	struct meta m;
	cfg own;
	int rc = conf_begin(t, &own, &m);

	if (rc == 0)
		rc = write_conf(t->dirfd, &own, &m);
	pthread_mutex_lock(&t->mu);
	int was = t->meta_unsaved;
	t->meta_unsaved = rc < 0 && !t->deleted;
	pthread_mutex_unlock(&t->mu);
	pthread_mutex_unlock(&t->append_mu);
	if (rc < 0 && !was && rc != -ENOENT)
		log_error("topic %s: cannot store %s (%s); the maintenance thread tries again at "
			  "each pass (a mount before that compacts again, and would open again the "
			  "files of segments retention removed)",
			  topic_label(t), CONF_NAME, strerror(-rc));
	else if (rc == 0 && was)
		log_info("topic %s: stored %s again", topic_label(t), CONF_NAME);
	return rc;
}

int topic_set_clean_offset(topic *t, uint64_t offset)
{
	pthread_mutex_lock(&t->mu);
	t->clean_offset = offset;
	pthread_mutex_unlock(&t->mu);
	return save_meta(t);
}

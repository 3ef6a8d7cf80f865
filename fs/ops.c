/*
** ops.c: the FUSE request handlers of topicfs (low-level API).
**
** NAMESPACE.
**   /                     the topics (store_topic_names), mode 0755
**   /TOPIC/               ".", "..", "log" and one "%020llu.log" per segment
**   /TOPIC/log            the whole log: read to replay, write to append
**   /TOPIC/<20 digits>.log  one segment, read-only
**   /TOPIC/N              (N any decimal uint64, never listed) the records
**                         from offset N on, read-only
** Every other name is ENOENT. Topic directories keep the mode, uid and gid
** of mkdir and chmod/chown; files belong to the topic's owner, log 0644,
** the others 0444.
**
** CONVENTIONS. Each handler calls one do_ helper (or a module of file.c,
** xattr.c) that returns 0 or a negative errno, and replies exactly once;
** the errno is made positive only at fuse_reply_err. A handler holds a
** reference on the inode it works on (tfs_inode_get ... tfs_inode_put), so
** a concurrent FORGET never frees it mid-request. Every error that a
** misuse produces is logged as one line.
**
** CACHING. Regular files have attribute timeout 0, so that every fstat
** sees the current st_size (GNU tail polls it on FUSE), and are opened with
** direct_io, so that the kernel neither caches nor reads ahead: each read()
** is one READ answered by the file's cursor. Offset files have entry
** timeout 0 too. Directories and stable names are cached for a second;
** changes made through the mount (mkdir, rmdir, rename) update the
** kernel's cache by themselves.
*/
#include "ops.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "../core/consumer.h"
#include "../core/log.h"
#include "../core/maint.h"
#include "../core/store.h"
#include "../core/topic.h"
#include "file.h"
#include "inode.h"
#include "log.h"
#include "xattr.h"

#define DIR_TIMEOUT 1.0	 /* seconds: attributes of directories */
#define NAME_TIMEOUT 1.0 /* seconds: entries of topics, log, segments */
/* st_blksize of log, segment, offset and time files: cat, cp and Python's
** open() size their reads, writes or buffers from it. Every read() and
** write() of these files is a FUSE round trip, so 1 MiB (the largest
** request the kernel sends here) makes an eighth as many as cat's default
** 128 KiB: bulk appends and replays measured 1.5-2x faster (README).
** Consumer files keep the default: each of their reads moves a position. */
#define IO_BLKSIZE (1 << 20)
#define TFS_UNKNOWN_INO 0xffffffffu /* d_ino of a name not looked up yet */

/* Processes whose unlink of log or a segment file is remembered at once
** (just_unlinked); beyond that, the oldest is forgotten. */
#define UNLINKED_SLOTS 16

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

struct tfs {
	/* Set before the session starts, then read-only. */
	store *s;
	char *datadir; /* absolute: statfs reports its file system */
	int64_t maintenance_interval_ms;
	uid_t uid; /* owner of the root directory: who mounted */
	gid_t gid;
	struct timespec mount_time;
	maint *maint; /* the background thread; NULL when not running */

	/* Thread-safe on their own (each has its mutex). */
	tfs_itable *inodes;
	tfs_files *files;

	/* The latest unlinks of log or a segment file, which are accepted
	** and remove nothing (do_unlink), one per process; see
	** just_unlinked. */
	pthread_mutex_t unlinked_mu;
	struct unlinked {
		fuse_ino_t parent; /* 0: none */
		pid_t pid;
		struct timespec at; /* CLOCK_MONOTONIC */
		char name[32];
	} unlinked[UNLINKED_SLOTS];
};

/* A snapshot of a directory, taken at opendir, so that readdir offsets
** (indexes into it) stay valid whatever changes meanwhile. */
struct dir_entry {
	char *name;
	fuse_ino_t ino;
	mode_t type; /* S_IFDIR or S_IFREG */
};

struct dir_handle {
	size_t n, cap;
	struct dir_entry *e;
};

static struct tfs *tfs_of(fuse_req_t req)
{
	return (struct tfs *)fuse_req_userdata(req);
}

static tfs_file *file_of(const struct fuse_file_info *fi)
{
	return (tfs_file *)(uintptr_t)fi->fh;
}

/* ---- the mount context ---------------------------------------------- */

int tfs_new(const char *datadir, int64_t maintenance_interval_ms,
	    struct tfs **out)
{
	struct tfs *fs = calloc(1, sizeof(*fs));

	if (fs == NULL)
		return -ENOMEM;
	fs->datadir = strdup(datadir);
	if (fs->datadir == NULL || tfs_itable_new(&fs->inodes) < 0)
		goto fail;
	if (tfs_files_new(&fs->files) < 0)
		goto fail;
	fs->maintenance_interval_ms = maintenance_interval_ms;
	fs->uid = getuid();
	fs->gid = getgid();
	clock_gettime(CLOCK_REALTIME, &fs->mount_time);
	pthread_mutex_init(&fs->unlinked_mu, NULL);
	*out = fs;
	return 0;

fail:
	if (fs->inodes != NULL)
		tfs_itable_free(fs->inodes);
	free(fs->datadir);
	free(fs);
	return -ENOMEM;
}

void tfs_set_store(struct tfs *fs, store *s)
{
	fs->s = s;
}

int tfs_maint_start(struct tfs *fs)
{
	return maint_start(fs->s, fs->maintenance_interval_ms, &fs->maint);
}

void tfs_maint_stop(struct tfs *fs)
{
	maint_stop(fs->maint); /* NULL: nothing runs */
	fs->maint = NULL;
}

void tfs_free(struct tfs *fs)
{
	if (fs == NULL)
		return;
	tfs_maint_stop(fs);
	/* Files first: they hold references on inodes. */
	tfs_files_free(fs->files, fs->inodes);
	tfs_itable_free(fs->inodes);
	pthread_mutex_destroy(&fs->unlinked_mu);
	free(fs->datadir);
	free(fs);
}

/* ---- helpers -------------------------------------------------------- */

/* Why a file or directory of kind k cannot be written or changed. */
static const char *read_only_why(enum tfs_kind k)
{
	switch (k) {
	case TFS_CONSUMER:
		return "a consumer file is read-only (move a consumer with "
		       "setfattr -n user.topicfs.offset)";
	case TFS_CONSUMERS:
		return "the consumers directory holds consumer files only";
	case TFS_SEGMENT:
		return "segment files are read-only; append to log";
	default:
		return "offset files are read-only; append to log";
	}
}

/* "TOPIC/name", "TOPIC/consumers/name" or "name", printable, for messages
** (buf of TFS_LABEL_MAX bytes). */
static const char *path_label(const tfs_inode *dir, const char *name,
			      char *buf, size_t len)
{
	char where[TFS_LABEL_MAX];
	char shown[STORE_NAME_MAX + 1];

	log_printable(name, strlen(name), shown, sizeof(shown));
	if (dir->t == NULL)
		snprintf(buf, len, "%s", shown);
	else
		snprintf(buf, len, "%s/%s",
			 tfs_inode_label(dir, where, sizeof(where)), shown);
	return buf;
}

/* 1 and *out when s[0..len) is a decimal number (digits only, leading
** zeros allowed) that fits in a uint64_t; 0 otherwise. */
static int parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned d = (unsigned char)s[i] - '0';

		if (d > 9)
			return 0;
		if (v > (UINT64_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	*out = v;
	return 1;
}

/* 1 and *base_offset when name has the form of a segment file name. */
static int parse_segment_name(const char *name, uint64_t *base_offset)
{
	return strlen(name) == 24 && strcmp(name + 20, ".log") == 0 &&
	       parse_u64(name, 20, base_offset);
}

/*
** A time file name "@TIME": TIME is milliseconds since the epoch, or ISO
** 8601 in UTC, "YYYY-MM-DDTHH:MM:SSZ" with optional ".fff" before the Z.
** Returns 1 and *ms, 0 when name does not start with '@', or -EINVAL when
** it does but is no such time.
*/
static int parse_time_name(const char *name, int64_t *ms)
{
	static const char iso_form[] = "dddd-dd-ddTdd:dd:dd"; /* d: a digit */
	size_t len = strlen(name);
	struct tm tm;
	uint64_t v;
	int y, mo, d, h, mi, sec, used = 0, frac_len = 0;
	unsigned frac = 0;

	if (name[0] != '@')
		return 0;
	name++;
	len--;
	if (parse_u64(name, len, &v)) {
		if (v > INT64_MAX)
			return -EINVAL;
		*ms = (int64_t)v;
		return 1;
	}
	/* Every field of its digits exactly: sscanf alone takes "-1" or
	** "+1" for a two-digit field. */
	for (int i = 0; i < 19; i++)
		if (iso_form[i] == 'd' ? !isdigit((unsigned char)name[i]) : name[i] != iso_form[i])
			return -EINVAL;
	if (sscanf(name, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi,
		   &sec, &used) != 6 || used != 19)
		return -EINVAL;
	if (name[used] == '.') {
		for (used++; name[used] >= '0' && name[used] <= '9' && frac_len < 3;
		     used++, frac_len++)
			frac = frac * 10 + (unsigned)(name[used] - '0');
		if (frac_len == 0)
			return -EINVAL;
		for (; frac_len < 3; frac_len++)
			frac *= 10;
	}
	if (strcmp(name + used, "Z") != 0 || y < 1970 || mo < 1 || mo > 12 ||
	    d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	time_t t = timegm(&tm);
	/* timegm normalises 2026-02-31 into March: refuse what moved. */
	if (t < 0 || tm.tm_mday != d || tm.tm_mon != mo - 1)
		return -EINVAL;
	*ms = (int64_t)t * 1000 + frac;
	return 1;
}

/* The current segment whose base offset is base_offset: 0 and *out, or
** -ENOENT. */
static int find_segment(topic *t, uint64_t base_offset, topic_segment *out)
{
	topic_segment *segs;
	size_t n, i;
	int rc;

	rc = topic_segments(t, &segs, &n);
	if (rc < 0)
		return rc;
	rc = -ENOENT;
	for (i = 0; i < n; i++) {
		if (segs[i].base_offset == base_offset) {
			*out = segs[i];
			rc = 0;
			break;
		}
	}
	free(segs);
	return rc;
}

static void ms_to_timespec(int64_t ms, struct timespec *ts)
{
	if (ms < 0)
		ms = 0;
	ts->tv_sec = (time_t)(ms / 1000);
	ts->tv_nsec = (long)(ms % 1000) * 1000000L;
}

static int is_dir(const tfs_inode *in)
{
	return in->kind == TFS_ROOT || in->kind == TFS_TOPIC ||
	       in->kind == TFS_CONSUMERS;
}

static double attr_timeout(const tfs_inode *in)
{
	return is_dir(in) ? DIR_TIMEOUT : 0.0;
}

/* Names that exist whenever they are asked for (offset, time and consumer
** files) are looked up again every time. */
static double entry_timeout(const tfs_inode *in)
{
	return (in->kind == TFS_OFFSET || in->kind == TFS_TIME ||
		in->kind == TFS_CONSUMER)
		       ? 0.0
		       : NAME_TIMEOUT;
}

/* st_size and stored bytes of a segment file. A segment that retention
** removed keeps the size last seen; the size never shrinks. */
static int segment_size(tfs_inode *in, uint64_t *size, uint64_t *stored)
{
	topic_segment seg;
	uint64_t sz = 0;
	int rc;

	rc = find_segment(in->t, in->param, &seg);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	*stored = rc == 0 ? seg.stored_bytes : 0;
	pthread_mutex_lock(&in->lock);
	if (rc == 0 && seg.end_bytepos > in->base)
		sz = seg.end_bytepos - in->base;
	if (sz > in->size_max)
		in->size_max = sz;
	*size = in->size_max;
	pthread_mutex_unlock(&in->lock);
	return 0;
}

/*
** A consumer file's size. Reads ignore the file offset: they take the
** consumer's next records, so a reader's offset is what its reads returned.
** The size is what this file's reads returned so far plus what is left to
** read from the consumer's position: it grows as records arrive or the
** position moves back, and never shrinks (tail -f polls it).
*/
static uint64_t consumer_size(tfs_inode *in, const topic_info *info)
{
	uint64_t pos = info->start_bytepos, size;
	consumer *c;

	if (consumer_open(in->t, in->name, 0, &c) == 0) {
		pos = consumer_bytepos(c);
		consumer_close(c);
	}
	pthread_mutex_lock(&in->lock);
	size = in->delivered + (info->end_bytepos > pos ? info->end_bytepos - pos : 0);
	if (size > in->size_max)
		in->size_max = size;
	size = in->size_max;
	pthread_mutex_unlock(&in->lock);
	return size;
}

static int do_fill_attr(struct tfs *fs, tfs_inode *in, struct stat *st)
{
	topic_info info;
	uint64_t size = 0, stored = 0, base;
	int rc;

	memset(st, 0, sizeof(*st));
	st->st_ino = in->ino;
	if (in->kind == TFS_ROOT) {
		char **names;
		size_t n;

		rc = store_topic_names(fs->s, &names, &n);
		if (rc < 0)
			return rc;
		store_names_free(names, n);
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2 + n;
		st->st_uid = fs->uid;
		st->st_gid = fs->gid;
		st->st_atim = st->st_mtim = st->st_ctim = fs->mount_time;
		return 0;
	}

	topic_get_info(in->t, &info);
	st->st_uid = info.uid;
	st->st_gid = info.gid;
	ms_to_timespec(info.last_append_ms ? info.last_append_ms
					   : info.created_ms,
		       &st->st_mtim);
	st->st_atim = st->st_ctim = st->st_mtim;
	st->st_nlink = 1;
	switch (in->kind) {
	case TFS_TOPIC:
		st->st_mode = S_IFDIR | (info.mode & 07777);
		st->st_nlink = 2;
		return 0;
	case TFS_LOG:
		/* Files take their topic's permissions: what the directory's
		** mode allows, read and write (read only for the others). */
		st->st_mode = S_IFREG | (info.mode & 0666);
		size = info.end_bytepos;
		stored = info.stored_bytes;
		break;
	case TFS_SEGMENT:
		st->st_mode = S_IFREG | (info.mode & 0444);
		rc = segment_size(in, &size, &stored);
		if (rc < 0)
			return rc;
		break;
	case TFS_OFFSET:
	case TFS_TIME:
		st->st_mode = S_IFREG | (info.mode & 0444);
		rc = tfs_inode_base(in, &base);
		if (rc == 0 && info.end_bytepos > base)
			size = info.end_bytepos - base;
		else if (rc < 0 && rc != -EAGAIN)
			return rc;
		break;
	case TFS_CONSUMERS:
		st->st_mode = S_IFDIR | (info.mode & 07777);
		st->st_nlink = 2;
		return 0;
	case TFS_CONSUMER:
		st->st_mode = S_IFREG | (info.mode & 0666);
		size = consumer_size(in, &info);
		break;
	default:
		return -EIO;
	}
	st->st_size = (off_t)size;
	st->st_blocks = (blkcnt_t)((stored + 511) / 512); /* what du shows */
	if (in->kind != TFS_CONSUMER)
		st->st_blksize = IO_BLKSIZE;
	return 0;
}

/*
** A lookup reply for in, which holds one lookup and one reference: on
** success *out keeps the reference for the caller to put after replying;
** on failure both are dropped.
*/
static int entry_of(struct tfs *fs, tfs_inode *in, struct fuse_entry_param *e,
		    tfs_inode **out)
{
	int rc;

	memset(e, 0, sizeof(*e));
	rc = do_fill_attr(fs, in, &e->attr);
	if (rc < 0) {
		tfs_inode_forget(fs->inodes, in->ino, 1);
		tfs_inode_put(fs->inodes, in);
		return rc;
	}
	e->ino = in->ino;
	e->generation = 0; /* inode numbers are never reused */
	e->attr_timeout = attr_timeout(in);
	e->entry_timeout = entry_timeout(in);
	*out = in;
	return 0;
}

/* The inode of (t, kind, param) as a lookup reply (see entry_of). */
static int do_entry(struct tfs *fs, topic *t, enum tfs_kind kind,
		    uint64_t param, uint64_t seg_base,
		    struct fuse_entry_param *e, tfs_inode **out)
{
	tfs_inode *in;
	int rc = tfs_inode_lookup(fs->inodes, t, kind, param, seg_base, &in);

	return rc < 0 ? rc : entry_of(fs, in, e, out);
}

/* The inode of consumer name (any valid name: a consumer is created when
** it is first opened), as a lookup reply. */
static int do_consumer_entry(struct tfs *fs, topic *t, const char *name,
			     struct fuse_entry_param *e, tfs_inode **out)
{
	tfs_inode *in;
	int rc;

	if (!store_name_valid(name))
		return -ENOENT;
	rc = tfs_inode_lookup_consumer(fs->inodes, t, name, &in);
	return rc < 0 ? rc : entry_of(fs, in, e, out);
}

static void reply_entry_or_err(fuse_req_t req, int rc,
			       const struct fuse_entry_param *e, tfs_inode *in)
{
	struct tfs *fs = tfs_of(req); /* req is freed by the reply */

	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	fuse_reply_entry(req, e);
	tfs_inode_put(fs->inodes, in);
}

/* ---- lifecycle ------------------------------------------------------ */

static void tfs_op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct tfs *fs = userdata;

	/* The writeback cache would make the kernel own st_size, merge
	** writes into pages and break append atomicity (FUSE-NOTES.md). */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	tfs_files_set_max_write(fs->files, conn->max_write);
}

/* ---- names ---------------------------------------------------------- */

/*
** Is this lookup the first one of `name` in `parent` by the process that
** unlinked it, within UNLINKED_WINDOW_MS? Then it is answered ENOENT, once.
** Unlinking log or a segment file is accepted and removes nothing (for
** `rm -r`), so a tool that unlinks a file it could not create with O_EXCL
** and tries again met EEXIST forever: `tar x` into a topic spun so. Told
** the name is gone, it creates it: create() of log opens the log (the
** archive's lines are appended, as `cp FILE log` does), of a segment name
** is EPERM.
*/
#define UNLINKED_WINDOW_MS 1000

/* The process of a thread: a request names the thread that made it
** (fuse_req_ctx()->pid), and a tool may unlink in one thread and create in
** another. The thread itself when /proc cannot tell. */
static pid_t process_of(pid_t tid)
{
	char path[64], line[128];
	pid_t tgid = tid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	if ((f = fopen(path, "re")) == NULL)
		return tid;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return tgid;
}

static int64_t ms_between(const struct timespec *a, const struct timespec *b)
{
	return (int64_t)(b->tv_sec - a->tv_sec) * 1000 + (b->tv_nsec - a->tv_nsec) / 1000000;
}

/* Under unlinked_mu: the process's slot, else a free or expired one, else
** the oldest. */
static struct unlinked *unlinked_slot(struct tfs *fs, pid_t pid, const struct timespec *now)
{
	struct unlinked *u = fs->unlinked, *pick = NULL;

	for (int i = 0; i < UNLINKED_SLOTS; i++)
		if (u[i].parent != 0 && u[i].pid == pid)
			return &u[i];
	for (int i = 0; i < UNLINKED_SLOTS; i++) {
		if (u[i].parent == 0 || ms_between(&u[i].at, now) >= UNLINKED_WINDOW_MS)
			return &u[i];
		if (!pick || ms_between(&pick->at, &u[i].at) < 0)
			pick = &u[i];
	}
	return pick;
}

static void note_unlinked(struct tfs *fs, fuse_ino_t parent, pid_t tid,
			  const char *name)
{
	struct timespec now;

	if (strlen(name) >= sizeof(fs->unlinked[0].name))
		return;
	pid_t pid = process_of(tid);
	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&fs->unlinked_mu);
	struct unlinked *u = unlinked_slot(fs, pid, &now);
	u->parent = parent;
	u->pid = pid;
	u->at = now;
	strcpy(u->name, name);
	pthread_mutex_unlock(&fs->unlinked_mu);
}

/* Under unlinked_mu: the slot that remembers name in parent (for pid, or
** for any process when pid is 0), or NULL. */
static struct unlinked *unlinked_find(struct tfs *fs, fuse_ino_t parent, pid_t pid,
				      const char *name)
{
	for (int i = 0; i < UNLINKED_SLOTS; i++) {
		struct unlinked *u = &fs->unlinked[i];
		if (u->parent == parent && (pid == 0 || u->pid == pid) &&
		    strcmp(u->name, name) == 0)
			return u;
	}
	return NULL;
}

static int just_unlinked(struct tfs *fs, fuse_ino_t parent, pid_t tid,
			 const char *name)
{
	struct timespec now;
	struct unlinked *u;
	int hit = 0;

	/* Only a remembered name costs the read of /proc. */
	pthread_mutex_lock(&fs->unlinked_mu);
	int candidate = unlinked_find(fs, parent, 0, name) != NULL;
	pthread_mutex_unlock(&fs->unlinked_mu);
	if (!candidate)
		return 0;
	pid_t pid = process_of(tid);
	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&fs->unlinked_mu);
	if ((u = unlinked_find(fs, parent, pid, name)) != NULL) {
		hit = ms_between(&u->at, &now) < UNLINKED_WINDOW_MS;
		u->parent = 0; /* once */
	}
	pthread_mutex_unlock(&fs->unlinked_mu);
	return hit;
}

static int do_lookup(struct tfs *fs, fuse_ino_t parent, pid_t pid, const char *name,
		     struct fuse_entry_param *e, tfs_inode **out)
{
	tfs_inode *dir = tfs_inode_get(fs->inodes, parent);
	char label[TFS_LABEL_MAX];
	topic_segment seg;
	int64_t ms;
	uint64_t n;
	topic *t;
	int rc;

	if (dir == NULL)
		return -ESTALE;
	switch (dir->kind) {
	case TFS_ROOT:
		rc = store_topic_get(fs->s, name, &t);
		if (rc < 0)
			break;
		rc = do_entry(fs, t, TFS_TOPIC, 0, 0, e, out);
		topic_unref(t);
		break;
	case TFS_TOPIC:
		if ((strcmp(name, "log") == 0 || parse_segment_name(name, &n)) &&
		    just_unlinked(fs, parent, pid, name)) {
			tfs_log("lookup '%s' right after its unlink by the same process: "
				"answered ENOENT, once, so that it may create it again "
				"(the unlink removed nothing; creating log opens it to append)",
				path_label(dir, name, label, sizeof(label)));
			rc = -ENOENT;
		} else if (strcmp(name, "log") == 0) {
			rc = do_entry(fs, dir->t, TFS_LOG, 0, 0, e, out);
		} else if (parse_segment_name(name, &n)) {
			/* Only current segments: any other 20-digit .log name
			** is ENOENT. */
			rc = find_segment(dir->t, n, &seg);
			if (rc == 0)
				rc = do_entry(fs, dir->t, TFS_SEGMENT, n,
					      seg.base_bytepos, e, out);
		} else if (parse_u64(name, strlen(name), &n)) {
			rc = do_entry(fs, dir->t, TFS_OFFSET, n, 0, e, out);
		} else if (strcmp(name, "consumers") == 0) {
			rc = do_entry(fs, dir->t, TFS_CONSUMERS, 0, 0, e, out);
		} else if ((rc = parse_time_name(name, &ms)) == 1) {
			rc = do_entry(fs, dir->t, TFS_TIME, (uint64_t)ms, 0, e,
				      out);
		} else if (rc < 0) {
			tfs_log("lookup '%s': not a time (use @<ms since the "
				"epoch> or @YYYY-MM-DDTHH:MM:SSZ)",
				path_label(dir, name, label, sizeof(label)));
		} else if (strspn(name, "0123456789") == strlen(name)) {
			tfs_log("lookup '%s': an offset past the largest "
				"(18446744073709551615)",
				path_label(dir, name, label, sizeof(label)));
			rc = -EOVERFLOW;
		} else {
			rc = -ENOENT;
		}
		break;
	case TFS_CONSUMERS:
		rc = do_consumer_entry(fs, dir->t, name, e, out);
		break;
	default:
		rc = -ENOTDIR;
		break;
	}
	tfs_inode_put(fs->inodes, dir);
	return rc;
}

static void tfs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	tfs_inode *in = NULL;
	int rc = do_lookup(tfs_of(req), parent, fuse_req_ctx(req)->pid, name, &e, &in);

	reply_entry_or_err(req, rc, &e, in);
}

static void tfs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	tfs_inode_forget(tfs_of(req)->inodes, ino, nlookup);
	fuse_reply_none(req);
}

static void tfs_op_forget_multi(fuse_req_t req, size_t count,
				struct fuse_forget_data *forgets)
{
	struct tfs *fs = tfs_of(req);
	size_t i;

	for (i = 0; i < count; i++)
		tfs_inode_forget(fs->inodes, forgets[i].ino,
				 forgets[i].nlookup);
	fuse_reply_none(req);
}

static int do_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		    mode_t mode, struct fuse_entry_param *e, tfs_inode **out)
{
	struct tfs *fs = tfs_of(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	tfs_inode *dir = tfs_inode_get(fs->inodes, parent);
	char label[TFS_LABEL_MAX];
	topic *t;
	int rc;

	if (dir == NULL)
		return -ESTALE;
	path_label(dir, name, label, sizeof(label));
	if (dir->kind != TFS_ROOT) {
		tfs_log("mkdir '%s': %s", label,
			dir->kind == TFS_CONSUMERS
				? read_only_why(TFS_CONSUMERS)
				: "a topic holds no directories");
		rc = -EPERM;
		goto out;
	}
	if (!store_name_valid(name)) {
		tfs_log("mkdir '%s': invalid topic name (allowed: 1-249 of "
			"A-Za-z0-9._-, not . or ..)",
			label);
		rc = -EINVAL;
		goto out;
	}
	/* Unless FUSE_CAP_DONT_MASK is on (it is not), the kernel applied the
	** umask to mode already; applying it again changes nothing. */
	rc = store_topic_create(fs->s, name, (mode & 07777) & ~ctx->umask,
				ctx->uid, ctx->gid, &t);
	if (rc < 0) {
		if (rc == -EEXIST) /* the core logs the other failures */
			tfs_log("mkdir '%s': the topic exists", label);
		goto out;
	}
	rc = do_entry(fs, t, TFS_TOPIC, 0, 0, e, out);
	topic_unref(t);
out:
	tfs_inode_put(fs->inodes, dir);
	return rc;
}

static void tfs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
			 mode_t mode)
{
	struct fuse_entry_param e;
	tfs_inode *in = NULL;
	int rc = do_mkdir(req, parent, name, mode, &e, &in);

	reply_entry_or_err(req, rc, &e, in);
}

/* create, mknod, symlink and link: nothing but mkdir makes names. */
static int do_refuse_new_name(struct tfs *fs, const char *op,
			      fuse_ino_t parent, const char *name)
{
	tfs_inode *dir = tfs_inode_get(fs->inodes, parent);
	char label[TFS_LABEL_MAX];

	if (dir == NULL)
		return -ESTALE;
	path_label(dir, name, label, sizeof(label));
	if (dir->kind == TFS_ROOT)
		tfs_log("%s '%s': only topics (directories, made with mkdir) "
			"can be created here",
			op, label);
	else if (dir->kind == TFS_CONSUMERS)
		tfs_log("%s '%s': %s (opening a new name creates one)", op,
			label, read_only_why(TFS_CONSUMERS));
	else
		tfs_log("%s '%s': a topic holds only its log, segment and "
			"offset files",
			op, label);
	tfs_inode_put(fs->inodes, dir);
	return -EPERM;
}

static int do_open_inode(struct tfs *fs, tfs_inode *in,
			 struct fuse_file_info *fi);

/*
** May the caller open log with these flags? The kernel checks the mode
** bits at an open (default_permissions, which allow_other turns on), but
** not at a create(): it takes the file as one the caller just made. So a
** create() of log (after an unlink of it, do_lookup) checks them here, as
** the kernel would have: by owner, group (with the supplementary groups),
** or others; root may do anything.
*/
static int may_open_log(fuse_req_t req, const struct stat *st, int flags)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	int acc = flags & O_ACCMODE;
	mode_t want = (acc != O_WRONLY ? 4 : 0) | (acc != O_RDONLY ? 2 : 0);
	mode_t bits;

	if (ctx->uid == 0)
		return 0;
	if (ctx->uid == st->st_uid) {
		bits = (st->st_mode >> 6) & 7;
	} else {
		int in_group = ctx->gid == st->st_gid;
		gid_t groups[64];
		int n = in_group ? 0 : fuse_req_getgroups(req, 64, groups);

		for (int i = 0; i < n && i < 64; i++)
			in_group |= groups[i] == st->st_gid;
		bits = in_group ? (st->st_mode >> 3) & 7 : st->st_mode & 7;
	}
	return (bits & want) == want ? 0 : -EACCES;
}

/* open(O_CREAT) makes names only in TOPIC/consumers: a new consumer. The
** kernel sends it for TOPIC/log only when its lookup found no log, as
** do_lookup answers right after an unlink of it: it opens the log. */
static void tfs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			  mode_t mode, struct fuse_file_info *fi)
{
	struct tfs *fs = tfs_of(req);
	struct fuse_entry_param e;
	tfs_inode *dir = tfs_inode_get(fs->inodes, parent);
	tfs_inode *in = NULL;
	int rc;

	(void)mode;
	if (dir == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (dir->kind == TFS_TOPIC && strcmp(name, "log") == 0) {
		rc = do_entry(fs, dir->t, TFS_LOG, 0, 0, &e, &in);
		if (rc == 0 && (rc = may_open_log(req, &e.attr, fi->flags)) < 0) {
			char label[TFS_LABEL_MAX];

			tfs_log("create '%s': its mode does not let this user open it so",
				path_label(dir, name, label, sizeof(label)));
			tfs_inode_forget(fs->inodes, in->ino, 1);
		}
	} else if (dir->kind != TFS_CONSUMERS) {
		tfs_inode_put(fs->inodes, dir);
		fuse_reply_err(req, -do_refuse_new_name(fs, "create", parent,
							name));
		return;
	} else if (store_name_valid(name)) {
		rc = do_consumer_entry(fs, dir->t, name, &e, &in);
	} else {
		char label[TFS_LABEL_MAX];

		tfs_log("create '%s': invalid consumer name (allowed: 1-249 of "
			"A-Za-z0-9._-, not . or ..)",
			path_label(dir, name, label, sizeof(label)));
		rc = -EINVAL;
	}
	tfs_inode_put(fs->inodes, dir);
	if (rc == 0 && (rc = do_open_inode(fs, in, fi)) < 0)
		tfs_inode_forget(fs->inodes, in->ino, 1);
	if (rc < 0) {
		tfs_inode_put(fs->inodes, in);
		fuse_reply_err(req, -rc);
		return;
	}
	if (fuse_reply_create(req, &e, fi) == -ENOENT)
		tfs_file_close(fs->files, fs->inodes, file_of(fi));
	tfs_inode_put(fs->inodes, in);
}

static void tfs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
			 mode_t mode, dev_t rdev)
{
	(void)mode;
	(void)rdev;
	fuse_reply_err(req,
		       -do_refuse_new_name(tfs_of(req), "mknod", parent, name));
}

static void tfs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			   const char *name)
{
	(void)link;
	fuse_reply_err(req, -do_refuse_new_name(tfs_of(req), "symlink", parent,
						name));
}

static void tfs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
			const char *newname)
{
	(void)ino;
	fuse_reply_err(req, -do_refuse_new_name(tfs_of(req), "link", newparent,
						newname));
}

/*
** unlink. Topic directories are removed with rmdir, which deletes all the
** data. `rm -r TOPIC` first unlinks every name it lists (log and the
** segment files), so those unlinks succeed and do nothing: the data goes
** with the rmdir that follows. Offset files are never listed, and
** unlinking one is refused.
*/
static int do_unlink(struct tfs *fs, fuse_ino_t parent, pid_t pid, const char *name)
{
	tfs_inode *dir = tfs_inode_get(fs->inodes, parent);
	char label[TFS_LABEL_MAX];
	uint64_t n;
	int rc = 0;

	if (dir == NULL)
		return -ESTALE;
	path_label(dir, name, label, sizeof(label));
	if (dir->kind == TFS_ROOT) {
		tfs_log("unlink '%s': a topic is removed with rmdir", label);
		rc = -EISDIR;
	} else if (dir->kind == TFS_CONSUMERS) {
		rc = consumer_remove(dir->t, name); /* forget the position */
		if (rc == -ENOENT)
			tfs_log("unlink '%s': no such consumer", label);
	} else if (strcmp(name, "log") == 0 || parse_segment_name(name, &n)) {
		rc = 0; /* accepted, nothing removed: see above */
		note_unlinked(fs, parent, pid, name);
		if (strcmp(name, "log") == 0)
			tfs_log("unlink '%s': accepted, nothing removed (a topic's records "
				"go with rmdir of the topic, or retention)", label);
	} else {
		tfs_log("unlink '%s': offset files cannot be removed", label);
		rc = -EPERM;
	}
	tfs_inode_put(fs->inodes, dir);
	return rc;
}

static void tfs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, -do_unlink(tfs_of(req), parent, fuse_req_ctx(req)->pid, name));
}

static int do_rmdir(struct tfs *fs, fuse_ino_t parent, const char *name)
{
	tfs_inode *dir = tfs_inode_get(fs->inodes, parent);
	char label[TFS_LABEL_MAX];
	int rc;

	if (dir == NULL)
		return -ESTALE;
	if (dir->kind == TFS_TOPIC && strcmp(name, "consumers") == 0) {
		rc = 0; /* like unlink of log: `rm -r TOPIC` goes on to rmdir */
		tfs_inode_retire(fs->inodes, dir->t, TFS_CONSUMERS, 0);
	} else if (dir->kind != TFS_ROOT) {
		rc = -ENOTDIR; /* a topic holds no other directories */
	} else {
		topic *t = NULL;
		store_topic_get(fs->s, name, &t); /* NULL: ENOENT below */
		rc = store_topic_delete(fs->s, name);
		if (rc == -ENOENT) /* the core logs the other failures */
			tfs_log("rmdir '%s': no such topic",
				path_label(dir, name, label, sizeof(label)));
		/* Every read of a topic's files goes through an open file,
		** which the topic counts (fs/file.c). */
		if (t) {
			topic_release_if_unused(t);
			topic_unref(t);
		}
	}
	tfs_inode_put(fs->inodes, dir);
	return rc;
}

static void tfs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, -do_rmdir(tfs_of(req), parent, name));
}

static int do_rename(struct tfs *fs, fuse_ino_t parent, const char *name,
		     fuse_ino_t newparent, const char *newname,
		     unsigned int flags)
{
	tfs_inode *dir = tfs_inode_get(fs->inodes, parent);
	tfs_inode *newdir = tfs_inode_get(fs->inodes, newparent);
	char from[TFS_LABEL_MAX], to[TFS_LABEL_MAX];
	int rc;

	if (dir == NULL || newdir == NULL) {
		rc = -ESTALE;
		goto out;
	}
	path_label(dir, name, from, sizeof(from));
	path_label(newdir, newname, to, sizeof(to));
	if (flags & ~RENAME_NOREPLACE) {
		tfs_log("rename '%s' to '%s': only plain renames are supported",
			from, to);
		rc = -EINVAL;
		goto out;
	}
	if (dir->kind != TFS_ROOT || newdir->kind != TFS_ROOT) {
		tfs_log("rename '%s' to '%s': only topics can be renamed, "
			"within the mount's top directory",
			from, to);
		rc = -EPERM;
		goto out;
	}
	if (!store_name_valid(newname)) {
		tfs_log("rename '%s' to '%s': invalid topic name (allowed: "
			"1-249 of A-Za-z0-9._-, not . or ..)",
			from, to);
		rc = -EINVAL;
		goto out;
	}
	rc = store_topic_rename(fs->s, name, newname); /* same name: a no-op */
	if (rc == -EEXIST) {
		/* A topic is never an empty directory that could be replaced. */
		tfs_log("rename '%s' to '%s': the topic exists", from, to);
		rc = (flags & RENAME_NOREPLACE) ? -EEXIST : -ENOTEMPTY;
	} else if (rc < 0) {
		tfs_log("rename '%s' to '%s': %s", from, to, strerror(-rc));
	}
out:
	tfs_inode_put(fs->inodes, dir);
	tfs_inode_put(fs->inodes, newdir);
	return rc;
}

static void tfs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			  fuse_ino_t newparent, const char *newname,
			  unsigned int flags)
{
	fuse_reply_err(req, -do_rename(tfs_of(req), parent, name, newparent,
				       newname, flags));
}

/* ---- attributes ----------------------------------------------------- */

static void tfs_op_getattr(fuse_req_t req, fuse_ino_t ino,
			   struct fuse_file_info *fi)
{
	struct tfs *fs = tfs_of(req);
	struct stat st;
	tfs_inode *in;
	int rc;

	/* An open file knows its inode (the same one ino names). The kernel
	** passes fi for regular files only, so fh is a tfs_file. */
	if (fi != NULL && fi->fh != 0)
		in = tfs_file_inode(file_of(fi));
	else
		in = NULL;
	if (in != NULL)
		tfs_inode_hold(fs->inodes, in);
	else
		in = tfs_inode_get(fs->inodes, ino);
	if (in == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	rc = do_fill_attr(fs, in, &st);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, attr_timeout(in));
	tfs_inode_put(fs->inodes, in);
}

#define SET_OWNER (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)

/* What changes a file; the rest (times, ctime, flags) changes nothing. */
#define SET_CHANGES (SET_OWNER | FUSE_SET_ATTR_SIZE)
#define SET_TIMES                                                    \
	(FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |                 \
	 FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW |         \
	 FUSE_SET_ATTR_CTIME)

/* Would this setattr change the mode or owner that cur has? */
static int owner_changes(const struct stat *cur, const struct stat *attr, int to_set)
{
	return ((to_set & FUSE_SET_ATTR_MODE) && (attr->st_mode & 07777) != (cur->st_mode & 07777)) ||
	       ((to_set & FUSE_SET_ATTR_UID) && attr->st_uid != cur->st_uid) ||
	       ((to_set & FUSE_SET_ATTR_GID) && attr->st_gid != cur->st_gid);
}

static int do_setattr(struct tfs *fs, tfs_inode *in, const struct stat *attr,
		      int to_set)
{
	struct stat cur;
	char label[TFS_LABEL_MAX];
	mode_t mode;
	uid_t uid;
	gid_t gid;
	int rc;

	tfs_inode_label(in, label, sizeof(label));
	/* Outside a topic directory, a chmod or chown to the mode and owner
	** the inode has already (tar x, cp -p) changes nothing: accepted. */
	if ((to_set & SET_OWNER) && in->kind != TFS_TOPIC) {
		if ((rc = do_fill_attr(fs, in, &cur)) < 0)
			return rc;
		if (!owner_changes(&cur, attr, to_set))
			to_set &= ~SET_OWNER;
	}
	switch (in->kind) {
	case TFS_ROOT:
		if ((to_set & SET_CHANGES) == 0)
			return 0; /* times: accepted, not kept */
		tfs_log("setattr '%s': the mount's top directory cannot change",
			label);
		return -EPERM;
	case TFS_TOPIC:
		if (to_set & FUSE_SET_ATTR_SIZE)
			return -EISDIR;
		if ((to_set & SET_OWNER) == 0)
			return 0; /* times: accepted, not kept */
		mode = (to_set & FUSE_SET_ATTR_MODE) ? (attr->st_mode & 07777)
						     : (mode_t)-1;
		uid = (to_set & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1;
		gid = (to_set & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1;
		rc = topic_set_owner(in->t, mode, uid, gid);
		if (rc == -ENOENT)
			tfs_log("setattr '%s': the topic was deleted", label);
		return rc;
	case TFS_LOG:
		if (to_set & SET_OWNER) {
			tfs_log("setattr '%s': a log's mode and owner are its "
				"topic's; chmod or chown the topic directory",
				label);
			return -EPERM;
		}
		if ((to_set & FUSE_SET_ATTR_SIZE) && attr->st_size != 0) {
			tfs_log("truncate '%s' to %lld: a log cannot be "
				"truncated (truncating to 0 is accepted and "
				"changes nothing)",
				label, (long long)attr->st_size);
			return -EPERM;
		}
		/* Size 0 (so that `>` works like `>>`) and times: accepted,
		** nothing changes. */
		return 0;
	case TFS_CONSUMERS:
		if ((to_set & SET_CHANGES) == 0)
			return 0; /* times, as for its topic: accepted, not kept */
		__attribute__((fallthrough));
	default:
		if ((to_set & (SET_CHANGES | SET_TIMES)) == 0)
			return 0;
		tfs_log("setattr '%s': %s", label, read_only_why(in->kind));
		return -EPERM;
	}
}

static void tfs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			   int to_set, struct fuse_file_info *fi)
{
	struct tfs *fs = tfs_of(req);
	tfs_inode *in = tfs_inode_get(fs->inodes, ino);
	struct stat st;
	int rc;

	(void)fi;
	if (in == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	rc = do_setattr(fs, in, attr, to_set);
	if (rc == 0)
		rc = do_fill_attr(fs, in, &st);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, attr_timeout(in));
	tfs_inode_put(fs->inodes, in);
}

/* ---- regular files -------------------------------------------------- */

static int do_open(struct tfs *fs, fuse_ino_t ino, struct fuse_file_info *fi)
{
	tfs_inode *in = tfs_inode_get(fs->inodes, ino);
	int rc;

	if (in == NULL)
		return -ESTALE;
	rc = do_open_inode(fs, in, fi);
	tfs_inode_put(fs->inodes, in);
	return rc;
}

static int do_open_inode(struct tfs *fs, tfs_inode *in,
			 struct fuse_file_info *fi)
{
	char label[TFS_LABEL_MAX];
	tfs_file *f;
	int rc;

	if (is_dir(in))
		return -EISDIR;
	/* O_TRUNC on log is ignored (see tfs_file_open), so `>` appends. */
	rc = tfs_file_open(fs->files, fs->inodes, in, fi->flags, &f);
	if (rc < 0) {
		tfs_inode_label(in, label, sizeof(label));
		if (rc == -EACCES)
			tfs_log("open '%s' for writing or truncation: %s",
				label, read_only_why(in->kind));
		else if (rc != -ENOENT)
			tfs_log("open '%s': %s", label, strerror(-rc));
		return rc;
	}
	fi->fh = (uintptr_t)f;
	fi->direct_io = 1; /* each read() is one READ: no cache, no readahead */
	fi->keep_cache = 0;
	return 0;
}

static void tfs_op_open(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	struct tfs *fs = tfs_of(req);
	int rc = do_open(fs, ino, fi);

	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	/* -ENOENT: the open() was interrupted and no release will come. */
	if (fuse_reply_open(req, fi) == -ENOENT)
		tfs_file_close(fs->files, fs->inodes, file_of(fi));
}

static int reply_iov(void *req, const struct iovec *iov, int count)
{
	return fuse_reply_iov(req, iov, count);
}

static void tfs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	tfs_file *f = file_of(fi);
	struct stat st;
	int rc;

	(void)ino;
	/* Every read() comes with its reader's lock owner; the kernel's reads
	** that fill a (private) mapping's pages come without one. */
	if (fi->lock_owner == 0) {
		rc = do_fill_attr(tfs_of(req), tfs_file_inode(f), &st);
		if (rc == 0)
			rc = tfs_file_read_in_place(f, size, (uint64_t)off, (uint64_t)st.st_size,
						    reply_iov, req);
	} else {
		rc = tfs_file_read(f, size, (uint64_t)off, reply_iov, req);
	}
	if (rc < 0)
		fuse_reply_err(req, -rc);
}

static void tfs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
			 size_t size, off_t off, struct fuse_file_info *fi)
{
	ssize_t n;

	(void)ino;
	(void)off; /* appends go to the end, whatever offset the kernel sent */
	n = tfs_file_write(file_of(fi), buf, size, fi->lock_owner);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

static void tfs_op_flush(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	(void)ino;
	fuse_reply_err(req, -tfs_file_flush(file_of(fi), fi->lock_owner));
}

static void tfs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
			 struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync; /* only data matters: there is no metadata to sync */
	fuse_reply_err(req, -tfs_file_fsync(file_of(fi)));
}

/*
** fallocate: a log grows by appends only, and the other files are
** read-only. EPERM, not EOPNOTSUPP: on EOPNOTSUPP glibc's posix_fallocate
** falls back to writing a zero byte into each block of the range, and
** those writes would be appended to the log as a record of NULs.
*/
static void tfs_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			     off_t offset, off_t length,
			     struct fuse_file_info *fi)
{
	struct tfs *fs = tfs_of(req);
	tfs_inode *in = tfs_inode_get(fs->inodes, ino);
	char label[TFS_LABEL_MAX];

	(void)fi;
	if (in == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	tfs_inode_label(in, label, sizeof(label));
	tfs_log("fallocate '%s' (mode %#x, %lld bytes at %lld): a log only "
		"grows by appends, and other files are read-only",
		label, (unsigned)mode, (long long)length, (long long)offset);
	tfs_inode_put(fs->inodes, in);
	fuse_reply_err(req, EPERM);
}

static void tfs_op_release(fuse_req_t req, fuse_ino_t ino,
			   struct fuse_file_info *fi)
{
	struct tfs *fs = tfs_of(req);

	(void)ino;
	tfs_file_close(fs->files, fs->inodes, file_of(fi));
	fuse_reply_err(req, 0);
}

/* ---- directories ---------------------------------------------------- */

static void dir_free(struct dir_handle *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->n; i++)
		free(d->e[i].name);
	free(d->e);
	free(d);
}

static int dir_add(struct dir_handle *d, const char *name, fuse_ino_t ino,
		   mode_t type)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct dir_entry *e = realloc(d->e, cap * sizeof(*e));

		if (e == NULL)
			return -ENOMEM;
		d->e = e;
		d->cap = cap;
	}
	d->e[d->n].name = strdup(name);
	if (d->e[d->n].name == NULL)
		return -ENOMEM;
	d->e[d->n].ino = ino ? ino : TFS_UNKNOWN_INO;
	d->e[d->n].type = type;
	d->n++;
	return 0;
}

static int list_root(struct tfs *fs, struct dir_handle *d)
{
	char **names;
	size_t n, i;
	topic *t;
	int rc;

	rc = store_topic_names(fs->s, &names, &n);
	if (rc < 0)
		return rc;
	for (i = 0; i < n && rc == 0; i++) {
		fuse_ino_t ino = 0;

		/* The inode number, when the kernel knows the topic already. */
		if (store_topic_get(fs->s, names[i], &t) == 0) {
			ino = tfs_inode_peek(fs->inodes, t, TFS_TOPIC, 0);
			topic_unref(t);
		}
		rc = dir_add(d, names[i], ino, S_IFDIR);
	}
	store_names_free(names, n);
	return rc;
}

static int list_topic(struct tfs *fs, topic *t, struct dir_handle *d)
{
	char name[32];
	topic_segment *segs;
	size_t n, i;
	int rc;

	rc = dir_add(d, "log", tfs_inode_peek(fs->inodes, t, TFS_LOG, 0),
		     S_IFREG);
	if (rc == 0)
		rc = dir_add(d, "consumers",
			     tfs_inode_peek(fs->inodes, t, TFS_CONSUMERS, 0),
			     S_IFDIR);
	if (rc < 0)
		return rc;
	rc = topic_segments(t, &segs, &n);
	if (rc < 0)
		return rc;
	for (i = 0; i < n && rc == 0; i++) {
		snprintf(name, sizeof(name), "%020llu.log",
			 (unsigned long long)segs[i].base_offset);
		rc = dir_add(d, name,
			     tfs_inode_peek(fs->inodes, t, TFS_SEGMENT,
					    segs[i].base_offset),
			     S_IFREG);
	}
	free(segs);
	return rc;
}

static int list_consumers(struct tfs *fs, topic *t, struct dir_handle *d)
{
	char **names;
	size_t n, i;
	int rc = consumer_names(t, &names, &n);

	for (i = 0; i < n && rc == 0; i++)
		rc = dir_add(d, names[i],
			     tfs_inode_peek_consumer(fs->inodes, t, names[i]),
			     S_IFREG);
	store_names_free(names, n);
	return rc;
}

static int do_opendir(struct tfs *fs, fuse_ino_t ino, struct dir_handle **out)
{
	tfs_inode *in = tfs_inode_get(fs->inodes, ino);
	struct dir_handle *d = NULL;
	int rc;

	if (in == NULL)
		return -ESTALE;
	if (!is_dir(in)) {
		rc = -ENOTDIR;
		goto out;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	rc = dir_add(d, ".", in->ino, S_IFDIR);
	if (rc == 0)
		rc = dir_add(d, "..", FUSE_ROOT_ID, S_IFDIR);
	if (rc == 0)
		rc = in->kind == TFS_ROOT     ? list_root(fs, d)
		     : in->kind == TFS_TOPIC ? list_topic(fs, in->t, d)
					     : list_consumers(fs, in->t, d);
	if (rc < 0) {
		dir_free(d);
		goto out;
	}
	*out = d;
out:
	tfs_inode_put(fs->inodes, in);
	return rc;
}

static void tfs_op_opendir(fuse_req_t req, fuse_ino_t ino,
			   struct fuse_file_info *fi)
{
	struct dir_handle *d = NULL;
	int rc = do_opendir(tfs_of(req), ino, &d);

	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uintptr_t)d;
	if (fuse_reply_open(req, fi) == -ENOENT)
		dir_free(d); /* interrupted: no releasedir will come */
}

static void tfs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	struct dir_handle *d = (struct dir_handle *)(uintptr_t)fi->fh;
	struct stat st;
	size_t pos = 0, i;
	char *buf;

	(void)ino;
	buf = malloc(size ? size : 1);
	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	memset(&st, 0, sizeof(st));
	for (i = off < 0 ? 0 : (size_t)off; i < d->n; i++) {
		size_t len;

		st.st_ino = d->e[i].ino;
		st.st_mode = d->e[i].type;
		len = fuse_add_direntry(req, buf + pos, size - pos,
					d->e[i].name, &st, (off_t)(i + 1));
		if (len > size - pos)
			break;
		pos += len;
	}
	fuse_reply_buf(req, buf, pos);
	free(buf);
}

static void tfs_op_releasedir(fuse_req_t req, fuse_ino_t ino,
			      struct fuse_file_info *fi)
{
	(void)ino;
	dir_free((struct dir_handle *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void tfs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	(void)ino;
	if (statvfs(tfs_of(req)->datadir, &sv) < 0) {
		int err = errno;

		tfs_log("statfs of '%s': %s", tfs_of(req)->datadir,
			strerror(err));
		fuse_reply_err(req, err);
		return;
	}
	fuse_reply_statfs(req, &sv);
}

/* ---- extended attributes -------------------------------------------- */

/* getxattr (name set) or listxattr (name NULL): the value or the list into
** a buffer of size bytes, or only its size when size is 0. */
static void reply_xattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct tfs *fs = tfs_of(req);
	tfs_inode *in = tfs_inode_get(fs->inodes, ino);
	char *buf = size ? malloc(size) : NULL;
	ssize_t n;

	if (in == NULL)
		n = -ESTALE;
	else if (size > 0 && buf == NULL)
		n = -ENOMEM;
	else
		n = name ? tfs_xattr_get(in, name, buf, size) : tfs_xattr_list(in, buf, size);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
	tfs_inode_put(fs->inodes, in);
}

static void tfs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			    size_t size)
{
	reply_xattr(req, ino, name, size);
}

static void tfs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	reply_xattr(req, ino, NULL, size);
}

static void tfs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			    const char *value, size_t size, int flags)
{
	struct tfs *fs = tfs_of(req);
	tfs_inode *in = tfs_inode_get(fs->inodes, ino);
	int rc;

	if (in == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	rc = tfs_xattr_set(in, name, value, size, flags);
	/* A new setting (retention, compaction, ...) applies now. */
	if (rc == 0 && in->kind == TFS_TOPIC && fs->maint != NULL)
		maint_kick(fs->maint);
	fuse_reply_err(req, -rc);
	tfs_inode_put(fs->inodes, in);
}

static void tfs_op_removexattr(fuse_req_t req, fuse_ino_t ino,
			       const char *name)
{
	struct tfs *fs = tfs_of(req);
	tfs_inode *in = tfs_inode_get(fs->inodes, ino);

	if (in == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	fuse_reply_err(req, -tfs_xattr_remove(in, name));
	tfs_inode_put(fs->inodes, in);
}

const struct fuse_lowlevel_ops tfs_ops = {
	.init = tfs_op_init,
	.lookup = tfs_op_lookup,
	.forget = tfs_op_forget,
	.forget_multi = tfs_op_forget_multi,
	.getattr = tfs_op_getattr,
	.setattr = tfs_op_setattr,
	.mknod = tfs_op_mknod,
	.mkdir = tfs_op_mkdir,
	.unlink = tfs_op_unlink,
	.rmdir = tfs_op_rmdir,
	.symlink = tfs_op_symlink,
	.rename = tfs_op_rename,
	.link = tfs_op_link,
	.create = tfs_op_create,
	.open = tfs_op_open,
	.read = tfs_op_read,
	.write = tfs_op_write,
	.flush = tfs_op_flush,
	.release = tfs_op_release,
	.fsync = tfs_op_fsync,
	.fallocate = tfs_op_fallocate,
	.opendir = tfs_op_opendir,
	.readdir = tfs_op_readdir,
	.releasedir = tfs_op_releasedir,
	.statfs = tfs_op_statfs,
	.setxattr = tfs_op_setxattr,
	.getxattr = tfs_op_getxattr,
	.listxattr = tfs_op_listxattr,
	.removexattr = tfs_op_removexattr,
};

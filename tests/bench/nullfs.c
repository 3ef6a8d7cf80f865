/*
** nullfs.c: a FUSE filesystem that does no storage work: the ceiling that
** every topicfs figure of the benchmark is read against.
**
**   nullfs -f [-o attr_timeout=S,direct_io=0|1,writeback=0|1,size=BYTES,
**              blksize=BYTES,check=0|1] MNT
**
**   MNT/append   accepts every write and discards it (its size counts the
**                bytes written, so O_APPEND offsets look as on a real log)
**   MNT/zero     reads as BYTES zero bytes (size=, default 256 MiB)
**   MNT/memlog   keeps what is appended to it in memory and reads it back:
**                the least work a FUSE log can do, the floor of B4's
**                follow latency (up to MEMLOG_CAP bytes, then ENOSPC)
**
** It is built like topicfs's daemon so that the difference between the
** two is topicfs's own work: the low-level API, topicfs's own session
** loop (fs/loop.c, linked in: see the Makefile), write (not write_buf)
** requests, every reply a copy. What can be tuned is what the FUSE notes
** say matters: the attribute and entry timeout (attr_timeout, seconds),
** direct_io on the files' opens, and the kernel's writeback cache (off
** unless writeback=1; the benchmark's ceiling is measured without it).
** blksize= sets the files' st_blksize, from which cat and cp take the size
** of their reads and writes: the benchmark gives it topicfs's, so that both
** are measured with the same request size.
**
** check=1 makes every write to append pay for the one pass that topicfs
** cannot leave out of a write's path: the CRC-32C and line count of the
** text, with a copy of it (core/crc32c.c's crc32c_count_copy, as topicfs's
** bulk appends use it), here into a buffer that is reused, where topicfs
** copies into fresh page cache. It stores nothing either: it is the best
** any design could do that checks a batch before acknowledging it.
**
** Compile with: gcc -Wall nullfs.c `pkg-config fuse3 --cflags --libs` -o nullfs
*/
#define FUSE_USE_VERSION 34

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../core/crc32c.h"
#include "../../fs/loop.h"

#define INO_APPEND 2
#define INO_ZERO 3
#define INO_MEMLOG 4
#define MEMLOG_CAP (1ull << 30) /* reserved, not touched until written */
#define ZERO_CHUNK (1u << 20) /* largest READ the kernel sends by default */

struct nullfs {
	/* Set from the options, then read-only. */
	double attr_timeout;
	int direct_io;
	int writeback;
	unsigned long long zero_size;
	long blksize; /* st_blksize of the files; 0: the kernel's default */
	int check;    /* the checked copy on every write to append */
	uid_t uid;
	gid_t gid;

	atomic_ullong appended; /* bytes written to append */

	char *memlog;		   /* MEMLOG_CAP bytes of address space */
	pthread_mutex_t memlog_mu; /* one append at a time */
	atomic_ullong memlog_len;  /* bytes appended; released after the copy */

	pthread_mutex_t check_mu; /* the checked copy's buffer, one write at a time */
	char *check_buf;
	size_t check_cap;
};

struct nullfs_opts {
	char *attr_timeout;
	int direct_io;
	int writeback;
	char *size;
	long blksize;
	int check;
};

#define NULLFS_OPT(t, p) {t, offsetof(struct nullfs_opts, p), 1}
static const struct fuse_opt nullfs_optspec[] = {
	NULLFS_OPT("attr_timeout=%s", attr_timeout),
	NULLFS_OPT("direct_io=%d", direct_io),
	NULLFS_OPT("writeback=%d", writeback),
	NULLFS_OPT("size=%s", size),
	NULLFS_OPT("blksize=%ld", blksize),
	NULLFS_OPT("check=%d", check),
	FUSE_OPT_END,
};

static const char zeros[ZERO_CHUNK];

static struct nullfs *nfs_of(fuse_req_t req)
{
	return (struct nullfs *)fuse_req_userdata(req);
}

static int nfs_stat(struct nullfs *nfs, fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = nfs->uid;
	st->st_gid = nfs->gid;
	st->st_blksize = nfs->blksize;
	switch (ino) {
	case FUSE_ROOT_ID:
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	case INO_APPEND:
		st->st_mode = S_IFREG | 0644;
		st->st_nlink = 1;
		st->st_size = (off_t)atomic_load(&nfs->appended);
		return 0;
	case INO_ZERO:
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = (off_t)nfs->zero_size;
		return 0;
	case INO_MEMLOG:
		st->st_mode = S_IFREG | 0644;
		st->st_nlink = 1;
		st->st_size = (off_t)atomic_load(&nfs->memlog_len);
		return 0;
	default:
		return -ENOENT;
	}
}

static void nfs_init(void *userdata, struct fuse_conn_info *conn)
{
	struct nullfs *nfs = userdata;

	if (nfs->writeback && (conn->capable & FUSE_CAP_WRITEBACK_CACHE))
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
	else
		conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
}

static void nfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct nullfs *nfs = nfs_of(req);
	struct fuse_entry_param e;
	fuse_ino_t ino;

	if (parent != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (strcmp(name, "append") == 0)
		ino = INO_APPEND;
	else if (strcmp(name, "zero") == 0)
		ino = INO_ZERO;
	else if (strcmp(name, "memlog") == 0)
		ino = INO_MEMLOG;
	else {
		fuse_reply_err(req, ENOENT);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.ino = ino;
	e.attr_timeout = nfs->attr_timeout;
	e.entry_timeout = nfs->attr_timeout;
	nfs_stat(nfs, ino, &e.attr);
	fuse_reply_entry(req, &e);
}

static void nfs_getattr(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	struct nullfs *nfs = nfs_of(req);
	struct stat st;

	(void)fi;
	if (nfs_stat(nfs, ino, &st) < 0)
		fuse_reply_err(req, ENOENT);
	else
		fuse_reply_attr(req, &st, nfs->attr_timeout);
}

/* Truncation (`>` on append) is accepted and changes nothing. */
static void nfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			int to_set, struct fuse_file_info *fi)
{
	(void)attr;
	(void)to_set;
	nfs_getattr(req, ino, fi);
}

static void nfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	static const struct {
		const char *name;
		fuse_ino_t ino;
		mode_t mode;
	} ents[] = {
		{".", FUSE_ROOT_ID, S_IFDIR},
		{"..", FUSE_ROOT_ID, S_IFDIR},
		{"append", INO_APPEND, S_IFREG},
		{"zero", INO_ZERO, S_IFREG},
		{"memlog", INO_MEMLOG, S_IFREG},
	};
	char buf[512];
	size_t cap = size < sizeof(buf) ? size : sizeof(buf), used = 0;

	(void)fi;
	if (ino != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	for (off_t i = off; i < (off_t)(sizeof(ents) / sizeof(ents[0])); i++) {
		struct stat st = {.st_ino = ents[i].ino, .st_mode = ents[i].mode};
		size_t n = fuse_add_direntry(req, buf + used, cap - used,
					     ents[i].name, &st, i + 1);
		if (n > cap - used)
			break;
		used += n;
	}
	fuse_reply_buf(req, buf, used);
}

static void nfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct nullfs *nfs = nfs_of(req);

	if (ino != INO_APPEND && ino != INO_ZERO && ino != INO_MEMLOG) {
		fuse_reply_err(req, ino == FUSE_ROOT_ID ? EISDIR : ENOENT);
		return;
	}
	if (ino == INO_ZERO && (fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EACCES);
		return;
	}
	fi->direct_io = nfs->direct_io;
	fi->keep_cache = 0;
	fuse_reply_open(req, fi);
}

static void nfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct nullfs *nfs = nfs_of(req);
	unsigned long long end = ino == INO_ZERO ? nfs->zero_size : 0;
	size_t n = 0;

	(void)fi;
	if (ino == INO_MEMLOG)
		end = atomic_load_explicit(&nfs->memlog_len, memory_order_acquire);
	if ((unsigned long long)off < end) {
		n = end - (unsigned long long)off < size ? (size_t)(end - (unsigned long long)off) : size;
		if (n > ZERO_CHUNK)
			n = ZERO_CHUNK;
	}
	fuse_reply_buf(req, ino == INO_MEMLOG && n > 0 ? nfs->memlog + off : zeros, n);
}

/* An append to memlog: at its end, whatever the offset, as O_APPEND
** writers want (the kernel computes their offset from a cached size that
** may be stale); the benchmark never uses it with the writeback cache. */
static void memlog_write(fuse_req_t req, struct nullfs *nfs, const char *buf, size_t size)
{
	pthread_mutex_lock(&nfs->memlog_mu);
	unsigned long long len = atomic_load_explicit(&nfs->memlog_len, memory_order_relaxed);
	if (size > MEMLOG_CAP - len) {
		pthread_mutex_unlock(&nfs->memlog_mu);
		fuse_reply_err(req, ENOSPC);
		return;
	}
	memcpy(nfs->memlog + len, buf, size);
	atomic_store_explicit(&nfs->memlog_len, len + size, memory_order_release);
	pthread_mutex_unlock(&nfs->memlog_mu);
	fuse_reply_write(req, size);
}

static void nfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		      size_t size, off_t off, struct fuse_file_info *fi)
{
	struct nullfs *nfs = nfs_of(req);

	(void)fi;
	if (ino == INO_MEMLOG) {
		memlog_write(req, nfs, buf, size);
		return;
	}
	if (ino != INO_APPEND) {
		fuse_reply_err(req, EBADF);
		return;
	}
	/* With the writeback cache the kernel writes pages at offsets; the
	** size is then the end of the furthest write. */
	if (nfs->writeback) {
		unsigned long long end = (unsigned long long)off + size;
		unsigned long long cur = atomic_load(&nfs->appended);
		while (cur < end && !atomic_compare_exchange_weak(&nfs->appended, &cur, end))
			;
	} else {
		atomic_fetch_add(&nfs->appended, size);
	}
	if (nfs->check) {
		size_t lines;

		pthread_mutex_lock(&nfs->check_mu);
		if (nfs->check_cap < size) {
			free(nfs->check_buf);
			nfs->check_cap = 0;
			if ((nfs->check_buf = malloc(size)) == NULL) {
				pthread_mutex_unlock(&nfs->check_mu);
				fuse_reply_err(req, ENOMEM);
				return;
			}
			nfs->check_cap = size;
		}
		crc32c_count_copy(0, nfs->check_buf, buf, size, '\n', &lines);
		pthread_mutex_unlock(&nfs->check_mu);
	}
	fuse_reply_write(req, size);
}

static void nfs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void nfs_release(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void nfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		      struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	(void)fi;
	fuse_reply_err(req, 0);
}

static const struct fuse_lowlevel_ops nullfs_ops = {
	.init = nfs_init,
	.lookup = nfs_lookup,
	.getattr = nfs_getattr,
	.setattr = nfs_setattr,
	.readdir = nfs_readdir,
	.open = nfs_open,
	.read = nfs_read,
	.write = nfs_write,
	.flush = nfs_flush,
	.release = nfs_release,
	.fsync = nfs_fsync,
};

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts cmd;
	struct nullfs_opts o = {0};
	struct nullfs nfs = {0};
	struct fuse_session *se;
	int ret = 1;

	if (fuse_opt_parse(&args, &o, nullfs_optspec, NULL) != 0)
		return 2;
	if (fuse_parse_cmdline(&args, &cmd) != 0)
		return 2;
	if (cmd.show_help || cmd.mountpoint == NULL) {
		fprintf(stderr, "usage: %s -f [-o attr_timeout=S,direct_io=0|1,"
				"writeback=0|1,size=BYTES,blksize=BYTES,check=0|1] MOUNTPOINT\n",
			argv[0]);
		ret = cmd.show_help ? 0 : 2;
		goto out_args;
	}
	nfs.attr_timeout = o.attr_timeout ? strtod(o.attr_timeout, NULL) : 0.0;
	nfs.direct_io = o.direct_io;
	nfs.writeback = o.writeback;
	nfs.zero_size = o.size ? strtoull(o.size, NULL, 10) : 256ull << 20;
	nfs.blksize = o.blksize;
	nfs.check = o.check;
	pthread_mutex_init(&nfs.check_mu, NULL);
	nfs.uid = getuid();
	nfs.gid = getgid();
	atomic_init(&nfs.appended, 0);
	atomic_init(&nfs.memlog_len, 0);
	pthread_mutex_init(&nfs.memlog_mu, NULL);
	nfs.memlog = mmap(NULL, MEMLOG_CAP, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (nfs.memlog == MAP_FAILED) {
		perror("nullfs: memlog");
		goto out_args;
	}

	se = fuse_session_new(&args, &nullfs_ops, sizeof(nullfs_ops), &nfs);
	if (se == NULL)
		goto out_args;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_session;
	if (fuse_session_mount(se, cmd.mountpoint) != 0)
		goto out_signals;
	if (fuse_daemonize(cmd.foreground) != 0)
		goto out_unmount;
	ret = tfs_loop_run(se) < 0 ? 1 : 0;
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_args:
	free(nfs.check_buf);
	free(cmd.mountpoint);
	free(o.attr_timeout);
	free(o.size);
	fuse_opt_free_args(&args);
	return ret;
}

/*
** inode.h: the inode table of a mount.
**
** Every name the kernel has looked up gets an inode: a kind, the topic it
** belongs to (a counted reference, so an inode of a renamed or deleted
** topic keeps working) and one number of kind-specific meaning. While an
** inode is known, every lookup of the same (topic, kind, param) returns the
** same inode number, so repeated lookups agree. Inode numbers are never
** reused: a forgotten inode's number is never handed out again.
**
** An inode lives while the kernel knows it (its lookup count, which FORGET
** lowers) or while a request or an open file uses it (its reference count).
**
** Every function is thread-safe.
*/
#ifndef TOPICFS_FS_INODE_H
#define TOPICFS_FS_INODE_H

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

#include <pthread.h>
#include <stdint.h>

#include "../core/store.h"
#include "../core/topic.h"

enum tfs_kind {
	TFS_ROOT,    /* the mount point */
	TFS_TOPIC,   /* a topic's directory */
	TFS_LOG,     /* TOPIC/log */
	TFS_SEGMENT, /* TOPIC/<20 digits>.log; param: the segment's base offset */
	TFS_OFFSET,  /* TOPIC/N; param: N */
	TFS_TIME,    /* TOPIC/@TIME; param: TIME in ms since the epoch */
	TFS_CONSUMERS, /* TOPIC/consumers */
	TFS_CONSUMER,  /* TOPIC/consumers/NAME; param: a hash of NAME */
};

typedef struct tfs_itable tfs_itable;

typedef struct tfs_inode {
	/* Set at creation, then read-only: read them without a lock. */
	fuse_ino_t ino;
	enum tfs_kind kind;
	topic *t;	/* a reference of the inode's own; NULL for the root */
	uint64_t param; /* see enum tfs_kind; 0 for the others */
	char *name;	/* CONSUMER: the consumer's name; else NULL */

	/*
	** Where byte 0 of the file is in the topic's rendered log (see topic.h).
	** LOG: 0. SEGMENT: the segment's base_bytepos, known from the lookup.
	** OFFSET: the bytepos of record N, resolved once (tfs_inode_base) and
	** then fixed, so that st_size never shrinks; TIME likewise, with the
	** first record appended at or after TIME. When that record is the
	** topic's first retained one, 0: the file is the log itself, which
	** no later lookup can move on. Only OFFSET and TIME inodes start
	** with base_known == 0.
	*/
	pthread_mutex_t lock; /* protects base_known, base, size_max, delivered */
	int base_known;
	uint64_t base;
	uint64_t size_max; /* SEGMENT, CONSUMER: the largest size reported so far */
	uint64_t delivered; /* CONSUMER: bytes its reads returned so far */

	/* Private to inode.c, protected by the table's mutex. */
	uint64_t nlookup;
	uint64_t nref;
	int retired; /* lookups of its key make a new inode (tfs_inode_retire) */
	struct tfs_inode *next_by_ino;
	struct tfs_inode *next_by_key;
} tfs_inode;

/* Room for a label (tfs_inode_label) or a label and a name after it. */
#define TFS_LABEL_MAX (3 * STORE_NAME_MAX + 32)

/* The inode's path under the mount, printable, for messages: "/", "TOPIC",
** "TOPIC/log", "TOPIC/consumers/NAME", ... Returns buf. */
const char *tfs_inode_label(const tfs_inode *in, char *buf, size_t len);

/* A new table holding only the root (FUSE_ROOT_ID). 0 or -ENOMEM. */
int tfs_itable_new(tfs_itable **out /* OUT */);

/* Free every inode and drop their topic references. No other call may run. */
void tfs_itable_free(tfs_itable *tb);

/*
** The inode of (t, kind, param), created when unknown (the table then
** takes its own reference to t; the caller keeps its own). seg_base is the
** segment's base_bytepos for a SEGMENT inode (kept from the first lookup
** on) and is ignored for the other kinds. Counts one
** kernel lookup and one reference: the caller calls tfs_inode_put() when
** done, and tfs_inode_forget(ino, 1) if the lookup is not replied to.
** Returns 0 and *out, or -ENOMEM.
*/
int tfs_inode_lookup(tfs_itable *tb, topic *t, enum tfs_kind kind,
		     uint64_t param, uint64_t seg_base,
		     tfs_inode **out /* OUT */);

/* The inode of consumer name of t (kind CONSUMER), as tfs_inode_lookup. */
int tfs_inode_lookup_consumer(tfs_itable *tb, topic *t, const char *name,
			      tfs_inode **out /* OUT */);

/* For readdir: the number of consumer name's inode if known, else 0. */
fuse_ino_t tfs_inode_peek_consumer(tfs_itable *tb, topic *t, const char *name);

/* The inode numbered ino with one more reference, or NULL (unknown ino). */
tfs_inode *tfs_inode_get(tfs_itable *tb, fuse_ino_t ino);

/* The number of the inode of (t, kind, param) if it is known, else 0. For
** readdir's d_ino; counts nothing. */
fuse_ino_t tfs_inode_peek(tfs_itable *tb, topic *t, enum tfs_kind kind,
			  uint64_t param);

/*
** The next lookup of (t, kind, param) makes a new inode with a new number;
** the known one lives on until forgotten. For a directory that rmdir
** removed while the name stays (TOPIC/consumers): the kernel marks the old
** inode dead, and would keep finding it, and failing every lookup in it,
** for as long as something pins it.
*/
void tfs_inode_retire(tfs_itable *tb, topic *t, enum tfs_kind kind, uint64_t param);

/* One more reference to an inode the caller already holds one on. */
void tfs_inode_hold(tfs_itable *tb, tfs_inode *in);

/* Drop a reference taken by lookup, get or hold. in may be NULL. */
void tfs_inode_put(tfs_itable *tb, tfs_inode *in);

/* The kernel forgot nlookup lookups of ino (FORGET). Unknown ino: ignored. */
void tfs_inode_forget(tfs_itable *tb, fuse_ino_t ino, uint64_t nlookup);

/*
** Where byte 0 of in's file is in the rendered log: 0 and *base, or -EAGAIN
** for an offset (or time) file whose first record does not exist yet (the
** file is empty until it does). For LOG, SEGMENT, OFFSET, TIME and
** CONSUMER inodes.
*/
int tfs_inode_base(tfs_inode *in, uint64_t *base /* OUT */);

#endif

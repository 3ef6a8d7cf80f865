/*
** inode.c: see inode.h.
**
** DESIGN. Two chained hash tables index the same inodes: one by inode
** number (every request names one), one by the key (topic, kind, param)
** (every lookup). Both double when they hold more inodes than buckets.
** One mutex, tb->mutex, protects both tables, every inode's nlookup and
** nref, and next_ino. The root is an ordinary inode whose lookup count
** never reaches 0 (the kernel never forgets the root).
**
** An inode is freed when both counts are 0: nlookup (what the kernel
** knows, lowered by FORGET) and nref (requests in flight, open files).
** Freeing happens outside the mutex only for topic_unref, which may do
** I/O (the last reference of a deleted topic removes its files).
*/
#include "inode.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tfs_itable {
	pthread_mutex_t mutex;
	tfs_inode **by_ino; /* protected by mutex, as is everything below */
	tfs_inode **by_key;
	size_t nbuckets; /* a power of 2, for both tables */
	size_t count;
	fuse_ino_t next_ino; /* never reused: 2^64 lookups are far away */
};

#define ITABLE_MIN_BUCKETS 256

static size_t hash_ino(fuse_ino_t ino)
{
	uint64_t h = ino * 0x9E3779B97F4A7C15ull;
	return (size_t)(h ^ (h >> 32));
}

static size_t hash_key(const topic *t, enum tfs_kind kind, uint64_t param)
{
	uint64_t h = (uint64_t)(uintptr_t)t;

	h = (h ^ (uint64_t)kind) * 0x9E3779B97F4A7C15ull;
	h = (h ^ param) * 0xC2B2AE3D27D4EB4Full;
	return (size_t)(h ^ (h >> 29));
}

static void link_inode(tfs_itable *tb, tfs_inode *in)
{
	size_t bi = hash_ino(in->ino) & (tb->nbuckets - 1);
	size_t bk = hash_key(in->t, in->kind, in->param) & (tb->nbuckets - 1);

	in->next_by_ino = tb->by_ino[bi];
	tb->by_ino[bi] = in;
	in->next_by_key = tb->by_key[bk];
	tb->by_key[bk] = in;
}

static void unlink_inode(tfs_itable *tb, tfs_inode *in)
{
	size_t bi = hash_ino(in->ino) & (tb->nbuckets - 1);
	size_t bk = hash_key(in->t, in->kind, in->param) & (tb->nbuckets - 1);
	tfs_inode **pp;

	for (pp = &tb->by_ino[bi]; *pp != in; pp = &(*pp)->next_by_ino)
		;
	*pp = in->next_by_ino;
	for (pp = &tb->by_key[bk]; *pp != in; pp = &(*pp)->next_by_key)
		;
	*pp = in->next_by_key;
}

/* Double both tables. On allocation failure keep the old ones: chains just
** grow longer. */
static void grow(tfs_itable *tb)
{
	size_t old_n = tb->nbuckets;
	tfs_inode **old_ino = tb->by_ino;
	tfs_inode **new_ino = calloc(old_n * 2, sizeof(*new_ino));
	tfs_inode **new_key = calloc(old_n * 2, sizeof(*new_key));
	size_t i;

	if (new_ino == NULL || new_key == NULL) {
		free(new_ino);
		free(new_key);
		return;
	}
	free(tb->by_key);
	tb->by_ino = new_ino;
	tb->by_key = new_key;
	tb->nbuckets = old_n * 2;
	for (i = 0; i < old_n; i++) {
		tfs_inode *in = old_ino[i];

		while (in != NULL) {
			tfs_inode *next = in->next_by_ino;

			link_inode(tb, in);
			in = next;
		}
	}
	free(old_ino);
}

static tfs_inode *find_ino(tfs_itable *tb, fuse_ino_t ino)
{
	tfs_inode *in = tb->by_ino[hash_ino(ino) & (tb->nbuckets - 1)];

	while (in != NULL && in->ino != ino)
		in = in->next_by_ino;
	return in;
}

/* name: a consumer's name (kind CONSUMER), else NULL. */
static tfs_inode *find_key(tfs_itable *tb, const topic *t, enum tfs_kind kind,
			   uint64_t param, const char *name)
{
	tfs_inode *in = tb->by_key[hash_key(t, kind, param) & (tb->nbuckets - 1)];

	while (in != NULL &&
	       (in->retired || in->t != t || in->kind != kind || in->param != param ||
		(name != NULL && strcmp(in->name, name) != 0)))
		in = in->next_by_key;
	return in;
}

/* FNV-1a: the key of a consumer's inode (names are compared as well). */
static uint64_t hash_name(const char *name)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 0x100000001b3ull;
	return h;
}

static tfs_inode *inode_alloc(fuse_ino_t ino, topic *t, enum tfs_kind kind,
			      uint64_t param, uint64_t seg_base)
{
	tfs_inode *in = calloc(1, sizeof(*in));

	if (in == NULL)
		return NULL;
	if (pthread_mutex_init(&in->lock, NULL) != 0) {
		free(in);
		return NULL;
	}
	in->ino = ino;
	in->kind = kind;
	in->t = t;
	in->param = param;
	in->base_known = (kind != TFS_OFFSET && kind != TFS_TIME);
	in->base = (kind == TFS_SEGMENT) ? seg_base : 0;
	return in;
}

/* Free an inode that is no longer in the table. */
static void inode_free(tfs_inode *in)
{
	if (in->t != NULL)
		topic_unref(in->t);
	free(in->name);
	pthread_mutex_destroy(&in->lock);
	free(in);
}

/* Called with tb->mutex held: unlink in if nothing uses it any more, and
** return it for the caller to free after unlocking, else NULL. */
static tfs_inode *maybe_drop(tfs_itable *tb, tfs_inode *in)
{
	if (in->nlookup > 0 || in->nref > 0 || in->ino == FUSE_ROOT_ID)
		return NULL;
	unlink_inode(tb, in);
	tb->count--;
	return in;
}

int tfs_itable_new(tfs_itable **out)
{
	tfs_itable *tb = calloc(1, sizeof(*tb));
	tfs_inode *root = NULL;

	if (tb == NULL)
		goto fail;
	if (pthread_mutex_init(&tb->mutex, NULL) != 0) {
		free(tb);
		tb = NULL;
		goto fail;
	}
	tb->nbuckets = ITABLE_MIN_BUCKETS;
	tb->by_ino = calloc(tb->nbuckets, sizeof(*tb->by_ino));
	tb->by_key = calloc(tb->nbuckets, sizeof(*tb->by_key));
	root = inode_alloc(FUSE_ROOT_ID, NULL, TFS_ROOT, 0, 0);
	if (tb->by_ino == NULL || tb->by_key == NULL || root == NULL)
		goto fail;
	root->nlookup = 1;
	link_inode(tb, root);
	tb->count = 1;
	tb->next_ino = FUSE_ROOT_ID + 1;
	*out = tb;
	return 0;

fail:
	if (root != NULL)
		inode_free(root);
	if (tb != NULL) {
		free(tb->by_ino);
		free(tb->by_key);
		pthread_mutex_destroy(&tb->mutex);
		free(tb);
	}
	return -ENOMEM;
}

void tfs_itable_free(tfs_itable *tb)
{
	size_t i;

	for (i = 0; i < tb->nbuckets; i++) {
		tfs_inode *in = tb->by_ino[i];

		while (in != NULL) {
			tfs_inode *next = in->next_by_ino;

			inode_free(in);
			in = next;
		}
	}
	free(tb->by_ino);
	free(tb->by_key);
	pthread_mutex_destroy(&tb->mutex);
	free(tb);
}

static int lookup(tfs_itable *tb, topic *t, enum tfs_kind kind,
		  uint64_t param, uint64_t seg_base, const char *name,
		  tfs_inode **out)
{
	tfs_inode *in;

	pthread_mutex_lock(&tb->mutex);
	in = find_key(tb, t, kind, param, name);
	if (in == NULL) {
		in = inode_alloc(tb->next_ino, t, kind, param, seg_base);
		if (in != NULL && name != NULL &&
		    (in->name = strdup(name)) == NULL) {
			pthread_mutex_destroy(&in->lock);
			free(in);
			in = NULL;
		}
		if (in == NULL) {
			pthread_mutex_unlock(&tb->mutex);
			return -ENOMEM;
		}
		tb->next_ino++;
		if (t != NULL)
			topic_ref(t);
		if (tb->count >= tb->nbuckets)
			grow(tb);
		link_inode(tb, in);
		tb->count++;
	}
	in->nlookup++;
	in->nref++;
	pthread_mutex_unlock(&tb->mutex);
	*out = in;
	return 0;
}

int tfs_inode_lookup(tfs_itable *tb, topic *t, enum tfs_kind kind,
		     uint64_t param, uint64_t seg_base, tfs_inode **out)
{
	return lookup(tb, t, kind, param, seg_base, NULL, out);
}

int tfs_inode_lookup_consumer(tfs_itable *tb, topic *t, const char *name,
			      tfs_inode **out)
{
	return lookup(tb, t, TFS_CONSUMER, hash_name(name), 0, name, out);
}

tfs_inode *tfs_inode_get(tfs_itable *tb, fuse_ino_t ino)
{
	tfs_inode *in;

	pthread_mutex_lock(&tb->mutex);
	in = find_ino(tb, ino);
	if (in != NULL)
		in->nref++;
	pthread_mutex_unlock(&tb->mutex);
	return in;
}

fuse_ino_t tfs_inode_peek(tfs_itable *tb, topic *t, enum tfs_kind kind,
			  uint64_t param)
{
	tfs_inode *in;
	fuse_ino_t ino = 0;

	pthread_mutex_lock(&tb->mutex);
	in = find_key(tb, t, kind, param, NULL);
	if (in != NULL)
		ino = in->ino;
	pthread_mutex_unlock(&tb->mutex);
	return ino;
}

void tfs_inode_retire(tfs_itable *tb, topic *t, enum tfs_kind kind, uint64_t param)
{
	tfs_inode *in;

	pthread_mutex_lock(&tb->mutex);
	if ((in = find_key(tb, t, kind, param, NULL)) != NULL)
		in->retired = 1;
	pthread_mutex_unlock(&tb->mutex);
}

fuse_ino_t tfs_inode_peek_consumer(tfs_itable *tb, topic *t, const char *name)
{
	tfs_inode *in;
	fuse_ino_t ino = 0;

	pthread_mutex_lock(&tb->mutex);
	in = find_key(tb, t, TFS_CONSUMER, hash_name(name), name);
	if (in != NULL)
		ino = in->ino;
	pthread_mutex_unlock(&tb->mutex);
	return ino;
}

void tfs_inode_hold(tfs_itable *tb, tfs_inode *in)
{
	pthread_mutex_lock(&tb->mutex);
	in->nref++;
	pthread_mutex_unlock(&tb->mutex);
}

void tfs_inode_put(tfs_itable *tb, tfs_inode *in)
{
	tfs_inode *dead;

	if (in == NULL)
		return;
	pthread_mutex_lock(&tb->mutex);
	in->nref--;
	dead = maybe_drop(tb, in);
	pthread_mutex_unlock(&tb->mutex);
	if (dead != NULL)
		inode_free(dead);
}

void tfs_inode_forget(tfs_itable *tb, fuse_ino_t ino, uint64_t nlookup)
{
	tfs_inode *in, *dead = NULL;

	pthread_mutex_lock(&tb->mutex);
	in = find_ino(tb, ino);
	if (in != NULL) {
		in->nlookup = nlookup < in->nlookup ? in->nlookup - nlookup : 0;
		dead = maybe_drop(tb, in);
	}
	pthread_mutex_unlock(&tb->mutex);
	if (dead != NULL)
		inode_free(dead);
}

int tfs_inode_base(tfs_inode *in, uint64_t *base)
{
	int rc = 0;

	pthread_mutex_lock(&in->lock);
	if (!in->base_known) {
		/* Only offset and time files start unknown. */
		uint64_t offset;
		topic_info info;

		if (in->kind == TFS_TIME)
			rc = topic_time_lookup(in->t, (int64_t)in->param, &offset,
					       &in->base);
		else
			rc = topic_offset_bytepos(in->t, in->param, &in->base);
		/* From the first retained record on: the file is the log
		** itself, byte 0 at the log's byte 0 (reads skip to that
		** record). Retention only moves the first record on, so this
		** start holds however often the kernel forgets the inode. */
		if (rc == 0) {
			topic_get_info(in->t, &info);
			if (in->base <= info.start_bytepos)
				in->base = 0;
			in->base_known = 1;
		}
	}
	if (rc == 0)
		*base = in->base;
	pthread_mutex_unlock(&in->lock);
	return rc;
}

const char *tfs_inode_label(const tfs_inode *in, char *buf, size_t len)
{
	char tname[STORE_NAME_MAX + 1];

	if (in->t == NULL) {
		snprintf(buf, len, "/");
		return buf;
	}
	topic_name(in->t, tname);
	switch (in->kind) {
	case TFS_LOG:
		snprintf(buf, len, "%s/log", tname);
		break;
	case TFS_SEGMENT:
		snprintf(buf, len, "%s/%020llu.log", tname,
			 (unsigned long long)in->param);
		break;
	case TFS_OFFSET:
		snprintf(buf, len, "%s/%llu", tname,
			 (unsigned long long)in->param);
		break;
	case TFS_TIME:
		snprintf(buf, len, "%s/@%llu", tname,
			 (unsigned long long)in->param);
		break;
	case TFS_CONSUMERS:
		snprintf(buf, len, "%s/consumers", tname);
		break;
	case TFS_CONSUMER:
		snprintf(buf, len, "%s/consumers/%s", tname, in->name);
		break;
	default:
		snprintf(buf, len, "%s", tname);
		break;
	}
	return buf;
}

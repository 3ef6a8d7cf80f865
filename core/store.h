/*
** store.h: a data directory, the set of topics it holds, and its lock.
**
** A store is opened once per process (a second open of the same directory,
** from any process, fails with -EBUSY while the first holds its lock). It
** owns the topics: store_topic_get() hands out a counted reference that the
** caller drops with topic_unref(). A topic deleted or renamed while
** references are held stays usable through them: reads keep working, and
** appends to a deleted topic fail with -ENOENT.
**
** All functions return 0 or a negative errno.
*/
#ifndef TOPICFS_STORE_H
#define TOPICFS_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"

typedef struct store store;
typedef struct topic topic;

#define STORE_NAME_MAX 249 /* longest topic name, as in Kafka */

/*
** Open (creating it when missing) the data directory at path. defaults are
** the mount-wide settings every topic starts from; they are copied. Recovers
** every topic (see topic.c): cuts torn tails, rebuilds damaged indexes,
** finishes or rolls back interrupted rewrites, removes deleted topics left
** behind by a crash.
** Returns 0 and *out, -EBUSY when another store holds the directory, or
** another negative errno.
*/
int store_open(const char *path, const cfg *defaults, store **out);

/* Sync every topic, release the lock and free the store. Every topic
** reference must have been dropped. Returns the first sync error, if any. */
int store_close(store *s);

/* Write the calling process's pid into DATADIR/lock (for people; the lock
** is the flock). A daemon calls it again after it forked. */
int store_write_pid(store *s);

/* The mount-wide defaults this store was opened with. */
const cfg *store_defaults(const store *s);

/* 1 when name is a valid topic name (1..249 bytes of A-Za-z0-9._-, not "."
** or ".."), 0 otherwise. */
int store_name_valid(const char *name);

/*
** Create a topic. mode, uid and gid are kept for the FUSE layer (the core
** enforces nothing with them). Returns -EINVAL for a bad name, -EEXIST when
** the topic exists. On success *out (if out is not NULL) holds a reference.
*/
int store_topic_create(store *s, const char *name, mode_t mode, uid_t uid,
		       gid_t gid, topic **out);

/* A counted reference to the topic called name, or -ENOENT. */
int store_topic_get(store *s, const char *name, topic **out);

/* Delete a topic and all its data. -ENOENT when there is none. */
int store_topic_delete(store *s, const char *name);

/* Rename a topic. -ENOENT, -EINVAL (bad new name), -EEXIST (to exists). */
int store_topic_rename(store *s, const char *from, const char *to);

/*
** Topic names in byte order, as one malloc'd array of malloc'd strings that
** the caller frees with store_names_free(). A snapshot: topics created
** afterwards are not in it.
*/
int store_topic_names(store *s, char ***names, size_t *n);
void store_names_free(char **names, size_t n);

/* Sync every topic (see topic_sync). Returns the first error. */
int store_sync(store *s);

/* Let go of the segments of deleted topics whose last open file has
** closed (topic_file_closed); the background thread calls it each pass. */
void store_release_dead(store *s);

#endif

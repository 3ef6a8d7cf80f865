/*
** consumer.h: named reader positions of a topic (TOPIC/consumers/NAME).
**
** A consumer is a position (the offset of the next record to deliver) kept
** under a name, across restarts. Every reader of one name shares it: a
** read takes the next whole records and moves the position past them under
** the consumer's mutex, so each record goes to exactly one reader. A record
** longer than a read is handed out in pieces, to one reader after another.
**
** The position is written to DATADIR/topics/TOPIC/consumers/NAME (text
** "offset=N\n", replaced durably) when it is set, when the last reference
** is dropped, and by the background thread within flush.ms of a change. A
** new consumer starts at offset 0, so it reads from the first retained
** record; so does one whose position retention has passed.
*/
#ifndef TOPICFS_CONSUMER_H
#define TOPICFS_CONSUMER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "store.h"

typedef struct consumer consumer;

/*
** A counted reference to consumer name of t. When it does not exist yet it
** is created if create is set (and stored at once), else -ENOENT. -EINVAL
** for a name that is not a valid topic-style name.
*/
int consumer_open(topic *t, const char *name, int create, consumer **out);
void consumer_close(consumer *c);

/* 1 when consumer name of t exists (in memory or on disk), else 0. */
int consumer_exists(topic *t, const char *name);

/* The names of t's consumers, sorted; free with store_names_free(). */
int consumer_names(topic *t, char ***names, size_t *n);

/* Forget consumer name (its file goes; open references keep working but
** their position is no longer stored). -ENOENT when there is none. */
int consumer_remove(topic *t, const char *name);

/* The position: the offset of the next record to deliver. */
uint64_t consumer_offset(consumer *c);

/* Move the position (rewind or skip ahead) and store it at once. When it
** cannot be stored (-ENOSPC, -EIO, -ENOENT for a deleted topic), the
** position stays where it was. */
int consumer_seek(consumer *c, uint64_t offset);

/*
** Copy the next whole records (payload + "\n" each) that fit in len bytes
** into buf and move the position past them. When the next record alone is
** longer than len, its first len bytes (or the next piece of it) are
** returned. Returns the byte count, 0 when there is no record yet, or a
** negative errno.
** split: the read may go on in a request for the rest of the caller's
** buffer, made only when this one comes back full (the FUSE driver's
** reads of just under its largest request, fs/file.c). Then several
** records never fill len exactly, so that the rest, which may be a few
** bytes, does not get a piece of the next record.
*/
ssize_t consumer_read(consumer *c, void *buf, size_t len, int split);

/* Where a reader of this consumer stands in the rendered log: the byte
** position of the next record, or of the log's end. */
uint64_t consumer_bytepos(consumer *c);

/* Store the position if it changed since it was last stored (0 when its
** topic was deleted: nothing is left to keep). */
int consumer_persist(consumer *c);

/* Remove what an interrupted store of a position left in t's consumers/
** (a "*.tmp" file): at the mount, before any consumer opens. */
void consumer_remove_leftovers(topic *t);

/* Store every changed position of t's consumers (the background thread). */
int consumer_persist_all(topic *t);

#endif

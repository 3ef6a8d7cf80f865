/*
** topic.h: one append-only log, made of segments.
**
** Records have offsets 0, 1, 2, ... and an append time in milliseconds.
** The log also has a rendered form, the bytes a reader of TOPIC/log sees:
** every record's payload followed by "\n". A record's byte position (its
** "bytepos") is where its payload starts in that rendered form, counting
** every record ever appended, so positions never move and the end of the
** log never shrinks, even when retention or compaction removes records.
**
** Every function may be called from any thread at any time. Appends are
** serialised; readers (see cursor.h) never wait for an append's I/O.
** Functions return 0 or a negative errno.
*/
#ifndef TOPICFS_TOPIC_H
#define TOPICFS_TOPIC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "config.h"
#include "store.h"

void topic_ref(topic *t);
void topic_unref(topic *t);

/*
** Append the complete lines held in iov[0..iovcnt) (read as one byte
** string, which must end with "\n"; a line may span iovec boundaries). Each
** line becomes one record whose payload is the line without its "\n". The
** records get consecutive offsets and one append time, and are written as
** one batch: after a crash either all of them are in the log or none is.
** When the call returns 0 they are in the data directory's files (they
** survive the process being killed, not yet a power loss: see topic_sync).
**
** *first (when not NULL) receives the first record's offset.
** Returns 0; -EINVAL when the bytes do not end with "\n" or are empty;
** -EMSGSIZE when a line is longer than max.message.bytes (nothing stored);
** -ENOENT when the topic was deleted; -ENOSPC or -EIO from the disk, in
** which case nothing of the batch is kept.
*/
int topic_append(topic *t, const struct iovec *iov, int iovcnt,
		 uint64_t *first);

/* As topic_append, also taking lines up to limit bytes long when
** max.message.bytes is lower: for a partial line that was accepted, piece
** by piece, before the setting was lowered. */
int topic_append_limit(topic *t, const struct iovec *iov, int iovcnt,
		       uint64_t *first, size_t limit);

/* Make every record appended so far durable (fdatasync). */
int topic_sync(topic *t);

/* Seal the newest segment and start a new one, even if it is small. A no-op
** when the newest segment holds no record. */
int topic_roll(topic *t);

typedef struct topic_info {
	uint64_t start_offset;	/* first retained record's offset (== end when empty) */
	uint64_t end_offset;	/* offset the next record will get */
	uint64_t start_bytepos; /* where the first retained record starts */
	uint64_t end_bytepos;	/* size of the rendered log, removed bytes included */
	uint64_t records;	/* retained records */
	uint64_t segments;
	uint64_t stored_bytes; /* bytes of the segment files on disk */
	int64_t last_append_ms; /* time of the newest append, 0 if none ever */
	int64_t created_ms;
	mode_t mode;
	uid_t uid;
	gid_t gid;
} topic_info;

void topic_get_info(topic *t, topic_info *out);

/* The topic's current name (it changes with store_topic_rename), copied into
** buf of at least STORE_NAME_MAX + 1 bytes. */
void topic_name(topic *t, char *buf);

/*
** A file of the topic was opened, or closed. The kernel may keep the
** inodes of a deleted topic's files (each holds a reference on the topic)
** long after their last close, so when the last open file of a deleted
** topic closes, its segments, their descriptors and disk space are let go
** of at the next maintenance pass (the topic keeps an empty segment at the
** log's end: its files read as empty).
*/
void topic_file_opened(topic *t);
void topic_file_closed(topic *t);
/* For a caller that counts every open file of its topics so (the FUSE
** driver), after store_topic_delete: when none is open, the deleted
** topic's segments and their disk space are let go of now, not when the
** last reference goes (the kernel may keep a deleted directory's inode
** for long: a shell's working directory). Reads through references held
** meanwhile find an empty log. Nothing when the topic is not deleted. */
void topic_release_if_unused(topic *t);

/* The same, for a log line: a copy that stays valid until this thread's
** next call (a rename may change the name meanwhile). */
const char *topic_label(topic *t);

/* Change the kept mode, uid or gid; pass -1 ((uid_t)-1 ...) to keep one. */
int topic_set_owner(topic *t, mode_t mode, uid_t uid, gid_t gid);

/*
** Settings. topic_config() gives the effective settings (defaults merged
** with the topic's own). topic_config_set() validates value for key k,
** persists it and applies it: -EINVAL (bad value) and -ENOENT (no such
** key) change nothing.
*/
void topic_config(topic *t, cfg *out);
int topic_config_set(topic *t, int k, const char *value, size_t value_len);
/* Forget the topic's own value of key k: the mount-wide default applies
** again. -ENOENT for no such key. */
int topic_config_unset(topic *t, int k);

/*
** Where the rendered log of record `offset` starts: *bytepos receives the
** byte position of the first retained record whose offset is >= offset.
** Returns 0, or -EAGAIN when no such record exists yet (offset is at or
** past the end); *bytepos is then untouched.
*/
int topic_offset_bytepos(topic *t, uint64_t offset, uint64_t *bytepos);

/*
** The first retained record appended at or after ts_ms (milliseconds since
** the epoch): its offset and byte position. Found through the time index
** (binary searches, then at most one index interval of batches), never by
** scanning the log. Returns 0, or -EAGAIN when no record that new exists
** yet; append times never go back, so once found the answer stays.
*/
int topic_time_lookup(topic *t, int64_t ts_ms, uint64_t *offset, uint64_t *bytepos);

typedef struct topic_segment {
	uint64_t base_offset;
	uint64_t base_bytepos;
	uint64_t end_bytepos; /* the next segment's base_bytepos; grows for the newest */
	uint64_t stored_bytes;
	int compressed;
} topic_segment;

/* A malloc'd snapshot of the segments, oldest first; free() it. */
int topic_segments(topic *t, topic_segment **out, size_t *n);

#endif

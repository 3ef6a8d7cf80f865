/*
** cursor.h: a sequential reader of a topic.
**
** A cursor stands at a byte position of the rendered log (see topic.h) and
** reads forward from it. Each call continues in O(1) from where the last
** one stopped, whatever happens meanwhile: appends, segment rolls, a
** segment replaced by compaction or compression, or deleted by retention (a
** cursor keeps the segment it is in open and reads it to its end).
**
** Positions that no retained record covers are skipped: a cursor placed
** before the first retained byte, or in a record that was removed, moves to
** the start of the next retained record. cur_pos() tells where the cursor
** really is, so a caller can tell a skip from a plain read.
**
** A cursor is not thread-safe; use one per reader. It holds a reference to
** its topic.
*/
#ifndef TOPICFS_CURSOR_H
#define TOPICFS_CURSOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "store.h"

typedef struct cursor cursor;

/* A cursor at bytepos of the whole log. */
int cur_open(topic *t, uint64_t bytepos, cursor **out);

/*
** A cursor confined to the segment whose base offset is base_offset: it
** starts at the segment's first byte and reads nothing past the segment's
** end (the next segment's start). -ENOENT when there is no such segment.
*/
int cur_open_segment(topic *t, uint64_t base_offset, cursor **out);

/* A new cursor at bytepos that reads what like reads: the same segment
** for a confined one (even after retention removed it), else the log.
** like's fields it uses never change, so its owner may be reading. */
int cur_open_like(const cursor *like, uint64_t bytepos, cursor **out);
void cur_close(cursor *c);

/* Move to bytepos (of the whole log, also for a confined cursor). */
void cur_seek(cursor *c, uint64_t bytepos);

/* From now on, skip records whose offset is below offset (for a reader that
** wants the records from offset on, but cannot know yet where they start). */
void cur_skip_below(cursor *c, uint64_t offset);

/* Where the next byte read comes from. */
uint64_t cur_pos(const cursor *c);

/*
** Copy up to len bytes of the rendered log from the cursor's position into
** buf and advance. Returns the number of bytes (0: nothing more for now, at
** the end of the log or of the segment), or -EIO when a stored record fails
** its check (logged with its segment and offset), or another -errno.
*/
ssize_t cur_read(cursor *c, void *buf, size_t len);

/*
** The bytes [pos, pos + len) of the rendered log where they lie, into buf:
** bytes that no retained record covers read as zeros, and nothing is
** skipped. Returns how far the retained bytes reach (short only at the end
** of the log, or of a confined cursor's segment; the caller knows where
** the file ends), or a negative errno as cur_read, also when some bytes
** were read before the damage. Moves the cursor.
*/
ssize_t cur_read_at(cursor *c, uint64_t pos, void *buf, size_t len);

/*
** The last len retained bytes of the rendered log before byte position
** end and from floor on, packed (as cur_read returns them), into buf;
** fewer when fewer are there. *first receives the position of the first
** of them (end when none). The cursor is left right after them, so a cur_read goes on at
** the first retained byte at or after end. For readers that scan a log
** backwards from its end (tail -n, tac): a window they place in a gap
** gets the bytes before the gap, never bytes after it they already have.
** Returns the number of bytes, or a negative errno as cur_read.
*/
ssize_t cur_read_before(cursor *c, uint64_t floor, uint64_t end, void *buf, size_t len,
			uint64_t *first);

/* Where the rendered log ends (removed bytes included), or a confined
** cursor's segment. */
uint64_t cur_end(const cursor *c);

typedef struct cur_record {
	uint64_t offset;
	uint64_t bytepos;
	int64_t timestamp_ms;
	const char *payload; /* valid until the next call on the cursor */
	size_t len;
} cur_record;

/*
** The next whole record that starts at or after the cursor's position; the
** cursor moves past it. Returns 1 and *rec, 0 when there is none yet, or a
** negative errno (-EIO as for cur_read).
*/
int cur_next(cursor *c, cur_record *rec);

/*
** Like cur_next, but the cursor stays at the record: the next cur_next (or
** cur_read) returns it again. Returns 1 and *rec, 0, or a negative errno.
*/
int cur_peek(cursor *c, cur_record *rec);

#endif

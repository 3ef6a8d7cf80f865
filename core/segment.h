/*
** segment.h: one segment file of a topic (the format is in segment.c).
**
** These functions do the segment's file I/O. They take no lock: the caller
** (topic.c) holds append_mu while it creates, recovers or seals a segment,
** and publishes the results under mu.
*/
#ifndef TOPICFS_SEGMENT_H
#define TOPICFS_SEGMENT_H

#include <stdint.h>

#include "codec.h"
#include "core_internal.h"
#include "record.h"

#define SEG_HEADER_SIZE 64
#define SEG_NAME_LEN 20 /* digits of a segment's name */

/* "NNNNNNNNNNNNNNNNNNNN.log" / ".index" for base_offset, into buf[32]. */
void seg_log_name(uint64_t base_offset, char *buf);
void seg_index_name(uint64_t base_offset, char *buf);

/* Parse a segment file name; returns 1 and *base_offset when name is one. */
int seg_parse_name(const char *name, uint64_t *base_offset);

/*
** Create the newest segment (file, header, empty index) in dirfd. The
** caller makes the new names durable (an fsync of dirfd) before it calls
** any of the segment's data durable. Returns 0 and *out with one reference.
*/
int seg_create(int dirfd, uint64_t base_offset, uint64_t base_bytepos, int64_t now_ms, seg **out);

/*
** Open an existing segment. For the newest segment (next == NULL), recover:
** check the index against the file, scan the file from the last good index
** entry, cut a torn tail, and reopen the index for appends. For a sealed
** segment (next = its successor), use the sealed index, or rebuild it by a
** scan when it is missing, damaged or does not match the file. Returns 0;
** with find_merge, 1 when the sealed segment reaches past next's base (a
** merge that a crash interrupted, segment.c): *out's ends say how far, and
** the caller removes the segments before them and opens this one again; or
** -errno (-EBADMSG: a bad header).
*/
int seg_open(int dirfd, uint64_t base_offset, const seg *next, int find_merge, seg **out);

/*
** Open a segment file read-only and as it is, for an offline reader (the
** inspector, inspect.c): check its header and nothing else. Recovers
** nothing, loads no index, writes nothing. *out has the header's fields,
** size = the file's length and sealed = 0; its end fields are unset.
** Returns 0; -EBADMSG when the header is missing, short or damaged;
** another -errno when the file cannot be opened.
*/
int seg_open_raw(int dirfd, uint64_t base_offset, seg **out);

/* Whether segment base_offset's file is no longer than a header (so it
** holds no batch). */
int seg_holds_nothing(int dirfd, uint64_t base_offset);

/* The end byte position that the sealed index of segment base_offset
** records, when it ends where segment next_base starts; else UINT64_MAX. */
uint64_t seg_sealed_end_bytepos(int dirfd, uint64_t base_offset, uint64_t next_base);

/* Whether segment base_offset's header says it is stored compressed (0
** when the header is bad). */
int seg_is_compressed(int dirfd, uint64_t base_offset);

/* Whether segment base_offset's file holds a zstd frame after its header,
** whatever the header says (seg_repair_header tells so too). */
int seg_holds_zstd(int dirfd, uint64_t base_offset);

/*
** Whether the newest segment base_offset, whose header is bad, is one that
** a roll created and never wrote (no longer than a header) behind segment
** prev_base that was not sealed yet (no sealed index ends at it, and it is
** not compressed, which only sealed segments are). Recovery removes such a
** segment, and the one before goes on as the newest; behind a sealed one,
** it rebuilds the empty segment's header instead.
*/
int seg_never_written(int dirfd, uint64_t prev_base, uint64_t base_offset);

/*
** Where sealed segment base_offset ends (the offset and byte position its
** successor starts at): from its sealed index when that matches the file,
** else from a scan of its batches or frames (compaction may then have
** removed records after the last one found). For a sealed segment found
** with no successor. Returns 0 or a negative errno.
*/
int seg_sealed_end(int dirfd, uint64_t base_offset, uint64_t *end_offset, uint64_t *end_bytepos);

/*
** Rewrite the damaged header of segment base_offset: the newest one's when
** a power loss tore it (the header reaches the disk with the first sync of
** its data), any one's when a bit flipped in it. The base byte position
** comes from prev_end (the previous segment's end as its sealed index
** records it; UINT64_MAX when unknown), or is 0 for offset 0, or comes from
** the segment's first batch; compression from the bytes after the header.
** The new header's crc no longer matches the segment's index, which is
** therefore rebuilt. Returns 0, or -EBADMSG when nothing tells the base.
*/
int seg_repair_header(int dirfd, uint64_t base_offset, uint64_t prev_end);

/* Whether the file holds only zero bytes from `from` to `to`: the room
** that prefill.c makes past the batches, which a crash leaves behind (a
** torn batch is never all zeros: its header holds its length). */
int seg_zeros_to_end(int fd, uint64_t from, uint64_t to);
/* Seal the newest segment: sync its data, write its complete index. */
int seg_seal(int dirfd, seg *s);

/*
** Iterating the batches of a segment, plain or compressed.
**
** A plain segment is read in chunks of file bytes; a compressed one a zstd
** frame at a time (decoding exactly the frames the iteration passes). The
** iterator never reads at or past `limit` (the segment's published size),
** which its user refreshes when seg_iter_next() reports the end.
*/
typedef struct seg_iter {
	seg *s;		/* not referenced by the iterator */
	uint64_t limit; /* file bytes that may be read */
	uint64_t loc;	/* plain: the next batch; compressed: the current frame */
	size_t fpos;	/* compressed: the next batch's place in the decoded frame */
	uint64_t frame_len; /* compressed: stored length of the current frame, 0 if not loaded */
	unsigned char *buf; /* plain: file bytes [buf_loc, buf_loc + len); compressed: the frame, decoded */
	size_t cap, len;
	uint64_t buf_loc;
	size_t last_len;    /* plain: the length of the last batch read */
	unsigned char *raw; /* compressed: the stored frame */
	size_t raw_cap;
	codec *cx;
	/* Plain segments: a batch that ends at or before skip_pos, or whose
	** records all have offsets below skip_off, is passed over; damage
	** there is stepped over to the next valid batch, so damage is reported
	** only by reads that need the damaged records. (A compressed frame is
	** checked whole when it is decoded.) */
	uint64_t skip_pos, skip_off;
	uint64_t good_offset, good_bytepos; /* the end of the last valid batch seen */
	int quiet; /* set by the caller: damage it knows of is not logged again */
	/* Compressed: after -EIO, the stored length of the damaged frame when
	** it is known (0 otherwise), so that a scan can step over it. */
	uint64_t bad_frame_len;
} seg_iter;

/* Start at location loc: a batch (plain) or frame (compressed) start, such
** as an index entry's location, or SEG_HEADER_SIZE. (The seek functions
** below leave good_offset/good_bytepos alone: set them to the entry's
** offset and bytepos when starting at an index entry.) */
void seg_iter_init(seg_iter *it, seg *s, uint64_t loc, uint64_t limit);
void seg_iter_seek(seg_iter *it, uint64_t loc);
void seg_iter_free(seg_iter *it);

/*
** The next batch: *batch points at its bytes (valid until the next call)
** and *b is its checked header; *at is where it starts (plain: its file
** location; compressed: its frame's). Returns 1; 0 at the limit; -EIO for
** a damaged batch or frame (logged); another -errno for I/O errors.
*/
int seg_iter_next(seg_iter *it, const unsigned char **batch, rec_batch *b, uint64_t *at);

/* True when the iterator stands at the start of a frame or batch, where an
** index entry may point. */
int seg_iter_at_boundary(const seg_iter *it);

/*
** Writing a sealed segment aside, to replace s and the segments after it
** up to last (compaction, compression; last == s unless compaction merges
** them): seg_writer_open() creates "NAME.log.tmp"; seg_writer_add()
** appends a checked batch; seg_writer_commit() syncs it, writes its index,
** renames both over s's files, and returns the new segment, sealed, with
** s's base, last's ends, and s's cleaned time and flags
** (seg_writer_set_cleaned() changes the latter two before the commit).
** The caller removes the files of the segments after s (a merge: see
** segment.c). seg_writer_abort() removes the files. None takes a lock.
*/
typedef struct seg_writer seg_writer;

int seg_writer_open(int dirfd, const seg *s, const seg *last, int compressed, int level,
		    seg_writer **out);
void seg_writer_set_cleaned(seg_writer *w, int64_t cleaned_ms, uint32_t clean_flags);

#define SEG_CLEAN_TOMBSTONES 1u /* the cleaning rewrite kept tombstones */
int seg_writer_add(seg_writer *w, const unsigned char *batch, const rec_batch *b);
/* Batches added so far. */
uint64_t seg_writer_batches(const seg_writer *w);
int seg_writer_commit(seg_writer *w, seg **out);
void seg_writer_abort(seg_writer *w);

/* Remove a segment's files (retention, merges). Returns 0 once its log file
** is gone (an index left behind is logged, and the next mount removes
** it), or -errno when the log file stays. */
int seg_remove_files(int dirfd, uint64_t base_offset);

void seg_ref(seg *s);
void seg_unref(seg *s);

#endif

/*
** index.h: a segment's sparse index, in memory and in its ".index" file.
**
** An entry points at the start of a batch (in a compressed segment, at the
** start of a zstd frame) and says which offset, byte position and append
** time begin there. Offsets, byte positions and times all grow with the
** location, so one array answers all three lookups by binary search. The
** file format is documented in index.c.
*/
#ifndef TOPICFS_INDEX_H
#define TOPICFS_INDEX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A new entry is added once this many segment bytes follow the last one. */
#define IDX_INTERVAL 16384

typedef struct idx_entry {
	uint64_t offset;       /* first record's offset at location */
	uint64_t bytepos;      /* its byte position */
	int64_t timestamp_ms;  /* its batch's append time */
	uint64_t location;     /* byte position in the segment file */
	uint32_t frame_len;    /* compressed segments: the frame's stored length; else 0 */
	uint32_t nrec_before;  /* records of the segment before location */
} idx_entry;

typedef struct idx {
	idx_entry *e;
	size_t n, cap;
} idx;

/* What a sealed segment's index header records about the whole segment. */
typedef struct idx_summary {
	uint64_t end_offset;  /* the next segment's base offset */
	uint64_t end_bytepos; /* the next segment's base bytepos */
	uint64_t records;     /* records retained in the segment */
	int64_t max_ts_ms;    /* newest record's append time (0: none) */
	uint64_t size;	      /* the segment file's length */
	uint32_t seg_crc;     /* the segment header's crc */
	int complete;	      /* every entry the file holds passed its checks (the
			      ** fields above are the header's: they hold either way) */
} idx_summary;

int idx_push(idx *x, const idx_entry *e);
void idx_free(idx *x);
/* Give back unused room: the index of a sealed segment no longer grows. */
void idx_shrink(idx *x);
/* Drop every entry at or after location. */
void idx_cut(idx *x, uint64_t location);

/* Index of the last entry whose key is <= the argument, or -1 when none. */
ssize_t idx_find_offset(const idx *x, uint64_t offset);
ssize_t idx_find_bytepos(const idx *x, uint64_t bytepos);
/* Index of the last entry whose time is < ts (so that the batches at or
** after ts start at or after that entry), or -1. */
ssize_t idx_find_time(const idx *x, int64_t ts_ms);

/*
** Load the index file dirfd/name of the segment with base base_offset.
** Entries are kept up to the first one that fails its check. *sealed is 1
** when the header carries a summary (*sum is filled then).
** Returns 0; -ENOENT when missing; -ENODATA when shorter than its header
** (what a power loss leaves of an index written without a sync: a growing
** one, or a seal's; rewrites replace theirs durably); -EBADMSG when the
** header is damaged.
*/
int idx_load(int dirfd, const char *name, uint64_t base_offset, idx *out, int *sealed,
	     idx_summary *sum);

/* Write the complete index of a sealed segment, replacing name: durably,
** or (durable 0) with no fsync, where the segment's data was synced before
** and a lost or empty index is rebuilt at the next mount. */
int idx_write_sealed(int dirfd, const char *name, uint64_t base_offset, const idx *x,
		     const idx_summary *sum, int durable);

/*
** The growing index of the newest segment: idx_open_active() (re)writes the
** header and the entries of x, and returns an fd to which idx_append()
** adds entry number i. Neither syncs: after a crash the index is checked
** against the segment and completed from it (see segment.c).
*/
int idx_open_active(int dirfd, const char *name, uint64_t base_offset, const idx *x, int *fd);
int idx_append(int fd, size_t i, const idx_entry *e);

#endif

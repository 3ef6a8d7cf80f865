/*
** segment.c: segment files, their creation, recovery and sealing.
**
** SEGMENT FILE FORMAT ("NNNNNNNNNNNNNNNNNNNN.log", named by the offset of
** its first record, 20 digits as Kafka names segments). A 64-byte header,
** then batches (record.c) back to back. Little-endian.
**
**    0: magic "TOPICSEG"
**    8: u32 version 1
**   12: u32 flags          bit0 ZSTD: the batches are stored in zstd frames
**   16: u64 base offset    (equal to the number in the name)
**   24: u64 base bytepos   where the segment starts in the rendered log
**   32: i64 created ms
**   40: u64 generation     0 when created, one more at every rewrite
**   48: i64 cleaned ms     when compaction first rewrote the segment; 0
**                          before (files older than these two fields have
**                          12 zero bytes here)
**   56: u32 clean flags    bit0 TOMBSTONES: that rewrite kept tombstones,
**                          which go delete.retention.ms after it
**   60: u32 crc32c of bytes 0..59
**
** The header is valid iff the magic, version and crc match and the base
** offset equals the name's. The cleaned time starts a tombstone's
** delete.retention.ms (compact.c), as Kafka's log cleaner does. The base bytepos is what lets an empty segment
** (and a topic whose records retention removed) know where the log ends.
** The generation makes every version of a segment's file differ in its
** header crc, which its index records (index.c).
**
** A compressed segment (flag ZSTD) holds, after the header, independent
** zstd frames, each the compression of whole batches laid end to end as in
** a plain segment, about FRAME_TARGET bytes of them. Its index has one
** entry per frame (location: the frame's first byte; frame length: its
** stored length), so a read anywhere decodes one frame.
**
** Batch offsets and byte positions grow through a segment and across
** segments; the first batch of a segment starts at or after its base, and
** the last ends at or before the next segment's base (compaction may have
** removed records at either end). Only the newest segment grows; the
** others are "sealed" and change only by being replaced whole (compaction,
** compression) or deleted (retention).
**
** RECOVERY (seg_open of the newest segment). The index file is checked
** against the segment from its last entry backwards: the newest entry that
** points at a CRC-valid batch with the entry's offset and bytepos is where
** scanning starts. Scanning walks batches to the end of the file. It stops
** at a header that is incomplete or impossible, or at a batch that fails
** its CRC with nothing valid after it: that is a torn write, and the file
** is cut there. A batch that fails its CRC but is followed by a valid batch
** is damage, not a tear: it is kept (reads of it fail with EIO) and the
** scan goes on. So recovery reads the index and the tail of the newest
** segment, never whole logs.
**
** MERGES. Compaction may rewrite a run of sealed segments as one: the
** merged file takes the first one's name (and base), and its sealed
** index's end is the last one's end, the next segment's base. It is
** renamed over the first one's file, then the others' files are removed.
** A crash in between leaves segments after it whose records the merged
** file already holds (those compaction kept): opening the merged one
** (open_sealed) sees its end past its successor's base, and the mount
** removes the segments that start before that end (topic.c,
** finish_merge). A merged file whose index was lost too is measured by a
** scan, to its last record's end: segments after that whose records
** compaction all dropped then stay, and their records come back until the
** next compaction drops them again. A member whose files cannot be
** removed stays on the disk until a later pass removes them (topic.c,
** remove_segment_files); retention keeps the merged one meanwhile.
**
** ROOM. While a bulk writer appends, the newest segment's file may run on
** past its batches with zero bytes: room made ahead of the writer
** (prefill.c). A roll and a clean close cut it; after a crash, the scan
** stops at the first zero header (impossible: its length is 0) and the
** zeros are cut like a torn tail.
*/
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "io.h"
#include "log.h"
#include "prefill.h"
#include "record.h"

#define SEG_VERSION 1
#define SEG_FLAG_ZSTD 1
#define SCAN_CHUNK (1u << 20)

_Static_assert(SEG_HEADER_SIZE == 64, "segment header size is on-disk format");

void seg_log_name(uint64_t base_offset, char *buf)
{
	sprintf(buf, "%020" PRIu64 ".log", base_offset);
}

void seg_index_name(uint64_t base_offset, char *buf)
{
	sprintf(buf, "%020" PRIu64 ".index", base_offset);
}

int seg_parse_name(const char *name, uint64_t *base_offset)
{
	uint64_t v = 0;

	if (strlen(name) != SEG_NAME_LEN + 4 || strcmp(name + SEG_NAME_LEN, ".log"))
		return 0;
	for (int i = 0; i < SEG_NAME_LEN; i++) {
		if (name[i] < '0' || name[i] > '9')
			return 0;
		unsigned d = (unsigned)(name[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	*base_offset = v;
	return 1;
}

static void encode_header(unsigned char *h, const seg *s)
{
	memset(h, 0, SEG_HEADER_SIZE);
	memcpy(h, "TOPICSEG", 8);
	io_put32(h + 8, SEG_VERSION);
	io_put32(h + 12, s->compressed ? SEG_FLAG_ZSTD : 0);
	io_put64(h + 16, s->base_offset);
	io_put64(h + 24, s->base_bytepos);
	io_put64(h + 32, (uint64_t)s->created_ms);
	io_put64(h + 40, s->generation);
	io_put64(h + 48, (uint64_t)s->cleaned_ms);
	io_put32(h + 56, s->clean_flags);
	io_put32(h + 60, crc32c(0, h, 60));
}

/* Fills the header's fields of s (base_bytepos, created_ms, compressed...). */
static int decode_header(const unsigned char *h, seg *s)
{
	if (memcmp(h, "TOPICSEG", 8) || io_get32(h + 8) != SEG_VERSION ||
	    crc32c(0, h, 60) != io_get32(h + 60) || io_get64(h + 16) != s->base_offset)
		return -EBADMSG;
	s->compressed = (io_get32(h + 12) & SEG_FLAG_ZSTD) != 0;
	s->base_bytepos = io_get64(h + 24);
	s->created_ms = (int64_t)io_get64(h + 32);
	s->generation = io_get64(h + 40);
	s->cleaned_ms = (int64_t)io_get64(h + 48);
	s->clean_flags = io_get32(h + 56);
	s->hdr_crc = io_get32(h + 60);
	return 0;
}

static seg *seg_new(uint64_t base_offset)
{
	seg *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	atomic_init(&s->refs, 1);
	s->base_offset = base_offset;
	s->fd = s->idx_fd = -1;
	return s;
}

int seg_new_empty(uint64_t offset, uint64_t bytepos, seg **out)
{
	seg *s = seg_new(offset);

	if (!s)
		return -ENOMEM;
	s->base_bytepos = s->end_bytepos = bytepos;
	s->end_offset = offset;
	atomic_store(&s->no_room, 1);
	*out = s;
	return 0;
}

void seg_ref(seg *s)
{
	atomic_fetch_add(&s->refs, 1);
}

void seg_unref(seg *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	/* Room made ahead of the batches (prefill.c), and its mapping, go
	** with the last reference; nobody else can hold append_mu for s now. */
	if (s->fd >= 0) {
		prefill_release_locked(NULL, s);
		close(s->fd);
	}
	if (s->idx_fd >= 0)
		close(s->idx_fd);
	idx_free(&s->index);
	free(s);
}

int seg_create(int dirfd, uint64_t base_offset, uint64_t base_bytepos, int64_t now_ms, seg **out)
{
	char name[32];
	unsigned char h[SEG_HEADER_SIZE];
	seg *s = seg_new(base_offset);
	int rc;

	if (!s)
		return -ENOMEM;
	s->base_bytepos = base_bytepos;
	s->created_ms = now_ms;
	s->end_offset = base_offset;
	s->end_bytepos = base_bytepos;
	s->size = SEG_HEADER_SIZE;
	seg_log_name(base_offset, name);
	s->fd = openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (s->fd < 0) {
		rc = -errno;
		log_error("cannot create segment %s: %s", name, strerror(-rc));
		goto fail;
	}
	encode_header(h, s);
	s->hdr_crc = io_get32(h + 60);
	if ((rc = io_pwrite_all(s->fd, h, sizeof h, 0)) < 0)
		goto fail_unlink;
	seg_index_name(base_offset, name);
	if ((rc = idx_open_active(dirfd, name, base_offset, &s->index, &s->idx_fd)) < 0)
		goto fail_unlink;
	*out = s;
	return 0;

fail_unlink:
	seg_index_name(base_offset, name);
	unlinkat(dirfd, name, 0);
	seg_log_name(base_offset, name);
	unlinkat(dirfd, name, 0);
fail:
	seg_unref(s);
	return rc;
}

/* Read the whole batch at loc into *buf (grown as needed). Returns 0 and
** *b, -EAGAIN when the file ends inside it, -EBADMSG for a bad header. */
static int read_batch(int fd, uint64_t loc, uint64_t file_end, unsigned char **buf,
		      size_t *cap, rec_batch *b)
{
	ssize_t n;
	size_t want;

	if (file_end < loc + REC_HEADER_SIZE)
		return -EAGAIN;
	n = io_pread_all(fd, *buf, REC_HEADER_SIZE, (off_t)loc);
	if (n < 0)
		return (int)n;
	int rc = rec_decode_header(*buf, (size_t)n, b);
	if (rc != -EAGAIN || n < REC_HEADER_SIZE)
		return rc == 0 ? 0 : rc;
	/* The header is fine; fetch the rest of the batch. */
	want = io_get32(*buf + 4);
	if (want > REC_MAX_BATCH)
		return -EBADMSG;
	if (loc + want > file_end)
		return -EAGAIN;
	if (want > *cap) {
		unsigned char *nb = realloc(*buf, want);
		if (!nb)
			return -ENOMEM;
		*buf = nb;
		*cap = want;
	}
	n = io_pread_all(fd, *buf, want, (off_t)loc);
	if (n < 0)
		return (int)n;
	return rec_decode_header(*buf, (size_t)n, b);
}

/* The state a scan carries from batch to batch. */
struct scan {
	uint64_t loc;	  /* next batch's location */
	uint64_t offset;  /* next offset expected (at least) */
	uint64_t bytepos; /* likewise */
	uint64_t records;
	int64_t max_ts_ms;
	uint64_t last_index_loc;
	int have_index; /* an index entry exists */
};

/*
** Walk the batches of s->fd from sc->loc to file_end, adding index entries
** to s->index. Stops at the end, at a torn or impossible batch, or at a
** failed CRC with no valid batch after it; sc->loc is then the valid end.
** In a sealed segment (sealed set) a batch that fails its CRC is never a
** tear: the segment was synced when it was sealed, so it is damage, kept
** for reads to fail on, and the scan goes on after it.
** Returns 0, or a negative errno for an I/O error.
*/
/*
** After damage, find the next valid batch of this log: the first position
** from `from` on where a batch header decodes, the batch lies inside the
** file, continues the log (offset and bytepos not below the minimums) and
** passes its CRC. Returns 1 and *at, 0 when there is none, or -errno.
** Costs a read of the rest of the file, only when damage was found.
*/
static int find_next_batch(int fd, uint64_t from, uint64_t file_end, uint64_t min_offset,
			   uint64_t min_bytepos, uint64_t *at)
{
	size_t cap = SCAN_CHUNK, bcap = 4096;
	unsigned char *chunk = malloc(cap), *bbuf = malloc(bcap);
	rec_batch b;
	int found = 0;

	if (!chunk || !bbuf) {
		free(chunk);
		free(bbuf);
		return -ENOMEM;
	}
	for (uint64_t base = from; !found && base + REC_HEADER_SIZE <= file_end;
	     base += cap - REC_HEADER_SIZE) {
		ssize_t n = io_pread_all(fd, chunk, cap, (off_t)base);
		if (n < REC_HEADER_SIZE)
			break;
		for (size_t i = 0; i + REC_HEADER_SIZE <= (size_t)n; i++) {
			if (chunk[i + 8] != REC_MAGIC)
				continue;
			int rc = rec_decode_header(chunk + i, REC_HEADER_SIZE, &b);
			if (rc == -EBADMSG)
				continue;
			uint32_t len = io_get32(chunk + i + 4);
			uint64_t q = base + i;
			if (q + len > file_end || io_get64(chunk + i + 16) < min_offset ||
			    io_get64(chunk + i + 24) < min_bytepos)
				continue;
			if (read_batch(fd, q, file_end, &bbuf, &bcap, &b) == 0 &&
			    rec_check(bbuf, &b) == 0) {
				*at = q;
				found = 1;
				break;
			}
		}
		if ((size_t)n < cap)
			break;
	}
	free(chunk);
	free(bbuf);
	return found;
}

/*
** Walk the batches of s->fd from sc->loc to file_end, adding index entries
** to s->index. A batch that fails its check, or a header that cannot be
** one, is damage if a valid batch of this log follows it somewhere (it is
** kept, reads of it fail with EIO, and the scan goes on from that batch);
** else it is a torn write at the end, and sc->loc stops before it: the
** valid end. In a sealed segment (sealed set) a batch that fails only its
** CRC is always damage: the segment was synced when it was sealed.
** Returns 0, or a negative errno for an I/O error.
*/
static int scan_batches(seg *s, struct scan *sc, uint64_t file_end, int sealed, const char *what)
{
	size_t cap = SCAN_CHUNK;
	unsigned char *buf = malloc(cap);
	rec_batch b;
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	while (sc->loc < file_end) {
		rc = read_batch(s->fd, sc->loc, file_end, &buf, &cap, &b);
		if (rc < 0 && rc != -EAGAIN && rc != -EBADMSG)
			break;
		int good = rc == 0 && b.base_offset >= sc->offset && b.base_bytepos >= sc->bytepos;
		int crc_only = good && rec_check(buf, &b) < 0; /* its header is sound */
		rc = 0;
		if (!good || crc_only) {
			uint64_t next;
			if (crc_only && sealed) {
				next = sc->loc + b.length;
			} else {
				int r = find_next_batch(s->fd, sc->loc + 1, file_end, sc->offset,
							sc->bytepos, &next);
				if (r < 0) {
					rc = r;
					break;
				}
				if (r == 0)
					break; /* nothing valid after it: a torn tail */
			}
			log_error("%s segment %020" PRIu64 ": %" PRIu64 " damaged bytes at byte %" PRIu64
				  " (after offset %" PRIu64 "); reads of them fail with EIO",
				  what, s->base_offset, next - sc->loc, sc->loc, sc->offset);
			/* Its header passed the checks the CRC makes worthless: its
			** offsets, byte positions and count are not believed (a
			** flipped high bit of its offset had the batches after it
			** taken for a torn tail, and cut). The next valid batch
			** says where the log goes on. */
			sc->have_index = 0; /* index the batch after the damage */
			sc->loc = next;
			continue;
		}
		if (!sc->have_index || sc->loc - sc->last_index_loc >= IDX_INTERVAL) {
			idx_entry e = {.offset = b.base_offset, .bytepos = b.base_bytepos,
				       .timestamp_ms = b.timestamp_ms, .location = sc->loc,
				       .nrec_before = (uint32_t)sc->records};
			if ((rc = idx_push(&s->index, &e)) < 0)
				break;
			sc->have_index = 1;
			sc->last_index_loc = sc->loc;
		}
		sc->records += b.count;
		if (b.max_timestamp_ms > sc->max_ts_ms)
			sc->max_ts_ms = b.max_timestamp_ms;
		sc->offset = rec_end_offset(&b);
		sc->bytepos = rec_end_bytepos(&b);
		sc->loc += b.length;
	}
	free(buf);
	return rc;
}

/* Rebuild the index of a compressed segment: one entry per frame. */
static int scan_frames(seg *s, struct scan *sc, uint64_t file_end)
{
	seg_iter it;
	const unsigned char *p;
	rec_batch b;
	uint64_t at;
	int rc;

	seg_iter_init(&it, s, SEG_HEADER_SIZE, file_end);
	for (;;) {
		rc = seg_iter_next(&it, &p, &b, &at);
		if (rc == -EIO && it.bad_frame_len > 0) {
			/* A frame whose content is damaged: skip it, index on. */
			seg_iter_seek(&it, it.loc + it.bad_frame_len);
			continue;
		}
		if (rc != 1)
			break;
		if (!sc->have_index || at != sc->last_index_loc) {
			idx_entry e = {.offset = b.base_offset, .bytepos = b.base_bytepos,
				       .timestamp_ms = b.timestamp_ms, .location = at,
				       .frame_len = (uint32_t)it.frame_len,
				       .nrec_before = (uint32_t)sc->records};
			if ((rc = idx_push(&s->index, &e)) < 0)
				break;
			sc->have_index = 1;
			sc->last_index_loc = at;
		}
		sc->records += b.count;
		if (b.max_timestamp_ms > sc->max_ts_ms)
			sc->max_ts_ms = b.max_timestamp_ms;
		if (rec_end_offset(&b) > sc->offset)
			sc->offset = rec_end_offset(&b);
		if (rec_end_bytepos(&b) > sc->bytepos)
			sc->bytepos = rec_end_bytepos(&b);
	}
	sc->loc = it.loc;
	seg_iter_free(&it);
	if (rc == -EIO)
		rc = 0; /* the damaged frame is skipped over (reads of it fail) */
	return rc;
}

/* Does the batch at e->location match e and pass its CRC? */
static int entry_matches(const seg *s, const idx_entry *e, uint64_t file_end)
{
	size_t cap = 4096;
	unsigned char *buf = malloc(cap);
	rec_batch b;
	int ok = 0;

	if (!buf)
		return 0;
	if (e->location >= SEG_HEADER_SIZE &&
	    read_batch(s->fd, e->location, file_end, &buf, &cap, &b) == 0 &&
	    b.base_offset == e->offset && b.base_bytepos == e->bytepos && rec_check(buf, &b) == 0)
		ok = 1;
	free(buf);
	return ok;
}

int seg_zeros_to_end(int fd, uint64_t from, uint64_t to)
{
	unsigned char buf[16384];

	while (from < to) {
		size_t n = to - from < sizeof buf ? (size_t)(to - from) : sizeof buf;
		if (io_pread_all(fd, buf, n, (off_t)from) != (ssize_t)n)
			return 0;
		for (size_t i = 0; i < n; i++)
			if (buf[i])
				return 0;
		from += n;
	}
	return 1;
}

static int open_newest(int dirfd, seg *s, uint64_t file_end)
{
	char name[32];
	struct scan sc = {.loc = SEG_HEADER_SIZE, .offset = s->base_offset,
			  .bytepos = s->base_bytepos};
	idx_summary sum;
	int sealed, rc;

	if (s->compressed) {
		/* Only a sealed segment is ever compressed, so a segment after
		** it is missing. Cutting it at its first frame as a torn tail
		** would lose durable records: refuse instead. */
		log_error("segment %020" PRIu64 ": stored compressed but it is the newest; "
			  "the segment after it is missing",
			  s->base_offset);
		return -EUCLEAN;
	}
	seg_index_name(s->base_offset, name);
	if (idx_load(dirfd, name, s->base_offset, &s->index, &sealed, &sum) < 0)
		s->index.n = 0;
	while (s->index.n > 0 && !entry_matches(s, &s->index.e[s->index.n - 1], file_end))
		s->index.n--;
	if (s->index.n > 0) {
		const idx_entry *e = &s->index.e[s->index.n - 1];
		sc.loc = e->location;
		sc.offset = e->offset;
		sc.bytepos = e->bytepos;
		sc.records = e->nrec_before;
		/* Times before the entry: it is the newest entry, so no batch
		** before it is newer than the batches the scan will see. */
		sc.max_ts_ms = e->timestamp_ms;
		s->index.n--; /* the scan adds it again */
	}
	if ((rc = scan_batches(s, &sc, file_end, 0, "recovering")) < 0)
		return rc;
	if (sc.loc < file_end) {
		if (seg_zeros_to_end(s->fd, sc.loc, file_end))
			log_info("segment %020" PRIu64 ": cut %" PRIu64 " zero bytes after its batches "
				 "at byte %" PRIu64 " (room made ahead of a bulk writer)",
				 s->base_offset, file_end - sc.loc, sc.loc);
		else
			log_warn("segment %020" PRIu64 ": cut a torn tail of %" PRIu64
				 " bytes at byte %" PRIu64,
				 s->base_offset, file_end - sc.loc, sc.loc);
		if (ftruncate(s->fd, (off_t)sc.loc) < 0 || fsync(s->fd) < 0)
			return -errno;
	}
	s->size = sc.loc;
	s->end_offset = sc.offset;
	s->end_bytepos = sc.bytepos;
	s->records = sc.records;
	s->max_ts_ms = sc.max_ts_ms;
	s->last_index_loc = s->index.n ? s->index.e[s->index.n - 1].location : 0;
	if ((rc = idx_open_active(dirfd, name, s->base_offset, &s->index, &s->idx_fd)) < 0)
		log_warn("segment %s: cannot write its index (%s); appends go on, the index is "
			 "rebuilt at the next mount", name, strerror(-rc));
	return 0;
}

static int open_sealed(int dirfd, seg *s, const seg *next, int find_merge, uint64_t file_end)
{
	char name[32];
	idx_summary sum;
	int sealed = 0, rc;
	struct scan sc = {.loc = SEG_HEADER_SIZE, .offset = s->base_offset,
			  .bytepos = s->base_bytepos};

	seg_index_name(s->base_offset, name);
	rc = idx_load(dirfd, name, s->base_offset, &s->index, &sealed, &sum);
	/* (The summary is the header's, which has a CRC of its own: it holds
	** even when an entry after it is damaged, sum.complete == 0; only the
	** entries, the record count and the time are then rebuilt.) */
	if (find_merge && rc == 0 && sealed && sum.size == file_end && sum.seg_crc == s->hdr_crc &&
	    sum.end_offset > next->base_offset && sum.end_bytepos >= next->base_bytepos) {
		/* A merge that a crash interrupted: the caller removes the
		** segments before the end and opens this one again. */
		s->end_offset = sum.end_offset;
		s->end_bytepos = sum.end_bytepos;
		return 1;
	}
	if (rc == 0 && sealed && sum.complete && sum.end_offset == next->base_offset &&
	    sum.end_bytepos == next->base_bytepos && sum.size == file_end &&
	    sum.seg_crc == s->hdr_crc) {
		s->size = file_end;
		s->records = sum.records;
		s->max_ts_ms = sum.max_ts_ms;
		s->end_offset = sum.end_offset;
		s->end_bytepos = sum.end_bytepos;
		s->sealed = 1;
		s->header_synced = 1; /* a seal synced it before its index */
		idx_shrink(&s->index);
		return 0;
	}
	if (rc != -ENOENT)
		log_warn("segment %020" PRIu64 ": index %s; rebuilding it",
			 s->base_offset, rc < 0 ? "damaged" : "incomplete");
	else
		log_warn("segment %020" PRIu64 ": index missing; rebuilding it", s->base_offset);
	/* An index still in its growing form (loaded, not sealed, or cut
	** short: a growing index is never synced, so a power loss can leave
	** it empty) means the process stopped before the roll's seal was
	** finished: the segment's data may not have been synced, and a tear
	** at its end is a tear. A missing or damaged index says nothing of
	** the kind (a disk that lost it), so bytes the scan cannot walk stay
	** damage. A compressed segment is synced whole before its name. */
	int unsynced = ((rc == 0 && !sealed) || rc == -ENODATA) && !s->compressed;
	idx_free(&s->index);
	rc = s->compressed ? scan_frames(s, &sc, file_end)
			   : scan_batches(s, &sc, file_end, !unsynced, "rebuilding");
	if (rc < 0)
		return rc;
	if (find_merge && sc.offset > next->base_offset && sc.bytepos > next->base_bytepos) {
		s->end_offset = sc.offset; /* an interrupted merge, its index lost */
		s->end_bytepos = sc.bytepos;
		return 1;
	}
	if (unsynced && sc.loc < file_end) {
		log_warn("segment %020" PRIu64 ": cut a torn tail of %" PRIu64 " bytes at byte %" PRIu64,
			 s->base_offset, file_end - sc.loc, sc.loc);
		char lname[32];
		seg_log_name(s->base_offset, lname);
		int wfd = openat(dirfd, lname, O_WRONLY | O_CLOEXEC); /* s->fd is read-only */
		rc = wfd < 0 || ftruncate(wfd, (off_t)sc.loc) < 0 || fsync(wfd) < 0 ? -errno : 0;
		if (wfd >= 0)
			close(wfd);
		if (rc < 0)
			return rc;
		file_end = sc.loc;
	}
	/* A sealed segment is never cut: bytes the scan could not walk are
	** damage, and a read that reaches them fails with EIO. */
	if (sc.loc < file_end)
		log_error("segment %020" PRIu64 ": %" PRIu64 " damaged bytes at byte %" PRIu64
			  "; reads that reach them fail with EIO",
			  s->base_offset, file_end - sc.loc, sc.loc);
	s->size = file_end;
	s->records = sc.records;
	s->max_ts_ms = sc.max_ts_ms;
	s->end_offset = next->base_offset;
	s->end_bytepos = next->base_bytepos;
	s->sealed = 1;
	idx_shrink(&s->index);
	sum = (idx_summary){.end_offset = s->end_offset, .end_bytepos = s->end_bytepos,
			    .records = s->records, .max_ts_ms = s->max_ts_ms, .size = file_end,
			    .seg_crc = s->hdr_crc};
	/* A sealed index says the data it describes is synced (the next
	** mount trusts it, and header_synced with it): sync first. The data
	** may only be in the page cache, after a kill before its seal. */
	if ((rc = io_datasync(s->fd)) < 0 ||
	    (rc = idx_write_sealed(dirfd, name, s->base_offset, &s->index, &sum, 1)) < 0)
		log_warn("segment %s: cannot store its rebuilt index (%s); it is rebuilt again next time",
			 name, strerror(-rc));
	else
		s->header_synced = 1;
	return 0; /* the index in memory serves this mount */
}

/* Open segment base_offset's file with flags and check its header; s->size
** is the file's length. Returns 0, -EBADMSG for a bad header, or -errno. */
static int open_checked(int dirfd, uint64_t base_offset, int flags, seg **out)
{
	char name[32];
	unsigned char h[SEG_HEADER_SIZE];
	struct stat st;
	seg *s = seg_new(base_offset);
	int rc = 0;

	if (!s)
		return -ENOMEM;
	seg_log_name(base_offset, name);
	s->fd = openat(dirfd, name, flags | O_CLOEXEC);
	if (s->fd < 0 || fstat(s->fd, &st) < 0)
		rc = -errno;
	else if (io_pread_all(s->fd, h, sizeof h, 0) != (ssize_t)sizeof h || decode_header(h, s) < 0)
		rc = -EBADMSG;
	if (rc < 0) {
		seg_unref(s);
		return rc;
	}
	s->size = (uint64_t)st.st_size;
	*out = s;
	return 0;
}

int seg_open_raw(int dirfd, uint64_t base_offset, seg **out)
{
	return open_checked(dirfd, base_offset, O_RDONLY, out);
}

int seg_holds_nothing(int dirfd, uint64_t base_offset)
{
	char name[32];
	struct stat st;

	seg_log_name(base_offset, name);
	return fstatat(dirfd, name, &st, 0) == 0 && st.st_size <= SEG_HEADER_SIZE;
}

uint64_t seg_sealed_end_bytepos(int dirfd, uint64_t base_offset, uint64_t next_base)
{
	char name[32];
	idx x = {0};
	idx_summary sum;
	int sealed = 0;
	uint64_t end = UINT64_MAX;

	seg_index_name(base_offset, name);
	if (idx_load(dirfd, name, base_offset, &x, &sealed, &sum) == 0 && sealed &&
	    sum.end_offset == next_base)
		end = sum.end_bytepos;
	idx_free(&x);
	return end;
}

int seg_is_compressed(int dirfd, uint64_t base_offset)
{
	seg *s;
	int compressed;

	if (open_checked(dirfd, base_offset, O_RDONLY, &s) < 0)
		return 0;
	compressed = s->compressed;
	seg_unref(s);
	return compressed;
}

int seg_never_written(int dirfd, uint64_t prev_base, uint64_t base_offset)
{
	return seg_holds_nothing(dirfd, base_offset) &&
	       seg_sealed_end_bytepos(dirfd, prev_base, base_offset) == UINT64_MAX &&
	       !seg_is_compressed(dirfd, prev_base);
}

int seg_sealed_end(int dirfd, uint64_t base_offset, uint64_t *end_offset, uint64_t *end_bytepos)
{
	char name[32];
	idx_summary sum;
	int sealed = 0, rc;
	seg *s;

	if ((rc = open_checked(dirfd, base_offset, O_RDONLY, &s)) < 0)
		return rc;
	seg_index_name(base_offset, name);
	if (idx_load(dirfd, name, base_offset, &s->index, &sealed, &sum) == 0 && sealed &&
	    sum.size == s->size && sum.seg_crc == s->hdr_crc) {
		*end_offset = sum.end_offset;
		*end_bytepos = sum.end_bytepos;
	} else {
		struct scan sc = {.loc = SEG_HEADER_SIZE, .offset = base_offset,
				  .bytepos = s->base_bytepos};
		idx_free(&s->index);
		rc = s->compressed ? scan_frames(s, &sc, s->size)
				   : scan_batches(s, &sc, s->size, 1, "measuring");
		*end_offset = sc.offset;
		*end_bytepos = sc.bytepos;
	}
	seg_unref(s);
	return rc;
}

int seg_open(int dirfd, uint64_t base_offset, const seg *next, int find_merge, seg **out)
{
	seg *s;
	/* A bad header (-EBADMSG) is the caller's to repair, remove or report. */
	int rc = open_checked(dirfd, base_offset, next ? O_RDONLY : O_RDWR, &s);

	if (rc < 0)
		return rc;
	rc = next ? open_sealed(dirfd, s, next, find_merge, s->size) : open_newest(dirfd, s, s->size);
	if (rc < 0) {
		seg_unref(s);
		return rc;
	}
	*out = s;
	return rc;
}

/* The header of the first valid batch of s (plain or compressed). */
static int first_batch(seg *s, uint64_t file_end, rec_batch *out)
{
	seg_iter it;
	const unsigned char *p;
	uint64_t at;
	int rc;

	s->base_bytepos = 0; /* unknown: lets the iterator look anywhere */
	seg_iter_init(&it, s, SEG_HEADER_SIZE, file_end);
	rc = seg_iter_next(&it, &p, out, &at);
	seg_iter_free(&it);
	return rc == 1 ? 0 : -EBADMSG;
}

static const unsigned char zstd_magic[4] = {0x28, 0xb5, 0x2f, 0xfd};

static int zstd_after_header(int fd)
{
	unsigned char m[4];

	return io_pread_all(fd, m, 4, SEG_HEADER_SIZE) == 4 && !memcmp(m, zstd_magic, 4);
}

int seg_holds_zstd(int dirfd, uint64_t base_offset)
{
	char name[32];
	int fd, zstd;

	seg_log_name(base_offset, name);
	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	zstd = zstd_after_header(fd);
	close(fd);
	return zstd;
}

int seg_repair_header(int dirfd, uint64_t base_offset, uint64_t prev_end)
{
	char name[32];
	unsigned char h[SEG_HEADER_SIZE];
	struct stat st;
	rec_batch b;
	seg *s = seg_new(base_offset);
	int rc = -EBADMSG;

	if (!s)
		return -ENOMEM;
	seg_log_name(base_offset, name);
	s->fd = openat(dirfd, name, O_RDWR | O_CLOEXEC);
	if (s->fd < 0 || fstat(s->fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	s->compressed = zstd_after_header(s->fd);
	if (prev_end != UINT64_MAX)
		s->base_bytepos = prev_end; /* exact: the previous segment's recorded end */
	else if (base_offset == 0)
		s->base_bytepos = 0;
	else if (first_batch(s, (uint64_t)st.st_size, &b) == 0 && b.base_offset >= base_offset)
		s->base_bytepos = b.base_bytepos; /* nothing before it is readable anyway */
	else
		goto out;
	s->created_ms = io_now_ms();
	encode_header(h, s);
	if ((rc = io_pwrite_all(s->fd, h, sizeof h, 0)) == 0)
		rc = io_fsync(s->fd);
	if (rc == 0)
		log_warn("segment %s: rewrote a torn header (base byte position %" PRIu64 ")", name,
			 s->base_bytepos);
out:
	seg_unref(s);
	return rc;
}

int seg_seal(int dirfd, seg *s)
{
	char name[32];
	idx_summary sum = {.end_offset = s->end_offset, .end_bytepos = s->end_bytepos,
			   .records = s->records, .max_ts_ms = s->max_ts_ms, .size = s->size,
			   .seg_crc = s->hdr_crc};
	int rc = io_datasync(s->fd);

	if (rc < 0)
		return rc;
	/* The index is derived data: without it (a full disk) the segment is
	** sealed all the same, and the next open rebuilds the index. So it is
	** written with no fsync (one sync a seal instead of three: many small
	** segments rolled fast kept the background thread behind): after a
	** power loss the old growing index, or an empty one, is rebuilt by a
	** scan, and the data it describes is synced already. */
	seg_index_name(s->base_offset, name);
	if ((rc = idx_write_sealed(dirfd, name, s->base_offset, &s->index, &sum, 0)) < 0)
		log_warn("segment %s: cannot write its sealed index (%s); it is rebuilt at the next mount",
			 name, strerror(-rc));
	return 0;
}

/* ---- iteration ---- */

#define ITER_CHUNK (256u << 10)
#define FRAME_TARGET (1u << 20) /* raw batch bytes per zstd frame */

void seg_iter_init(seg_iter *it, seg *s, uint64_t loc, uint64_t limit)
{
	memset(it, 0, sizeof *it);
	it->s = s;
	it->loc = loc;
	it->limit = limit;
	it->good_offset = s->base_offset;
	it->good_bytepos = s->base_bytepos;
}

void seg_iter_seek(seg_iter *it, uint64_t loc)
{
	if (it->s->compressed && loc == it->loc && it->frame_len) {
		it->fpos = 0; /* the frame is already decoded */
		return;
	}
	it->loc = loc;
	it->fpos = 0;
	it->frame_len = 0;
	it->bad_frame_len = 0;
	if (it->s->compressed)
		it->len = 0;
}

void seg_iter_free(seg_iter *it)
{
	free(it->buf);
	free(it->raw);
	codec_free(it->cx);
	memset(it, 0, sizeof *it);
}

int seg_iter_at_boundary(const seg_iter *it)
{
	return !it->s->compressed || it->frame_len == 0 || it->fpos == 0;
}

static int grow(unsigned char **buf, size_t *cap, size_t want)
{
	if (want <= *cap)
		return 0;
	unsigned char *nb = realloc(*buf, want);
	if (!nb)
		return -ENOMEM;
	*buf = nb;
	*cap = want;
	return 0;
}

static int iter_damaged(const seg_iter *it, uint64_t where, const char *why)
{
	if (!it->quiet)
		log_error("segment %020" PRIu64 ": %s at byte %" PRIu64 ", where records from offset %" PRIu64
			  " on would be; reads of them fail with EIO",
			  it->s->base_offset, why, where, it->good_offset);
	return -EIO;
}

/*
** Damage at it->loc of a plain segment. When the reader wants a later place
** (skip_pos, skip_off), the next valid batch is looked for: if all the
** damage lies before that place, the walk goes on from that batch; else the
** read fails with -EIO.
*/
static int plain_damage(seg_iter *it, const char *why)
{
	uint64_t next;
	rec_batch nb;
	size_t cap = 4096;
	unsigned char *buf;

	if ((it->skip_pos > it->good_bytepos || it->skip_off > it->good_offset) &&
	    find_next_batch(it->s->fd, it->loc + 1, it->limit, it->good_offset, it->good_bytepos,
			    &next) == 1 &&
	    (buf = malloc(cap)) != NULL) {
		int ok = read_batch(it->s->fd, next, it->limit, &buf, &cap, &nb) == 0 &&
			 (nb.base_bytepos <= it->skip_pos || nb.base_offset <= it->skip_off);
		free(buf);
		if (ok) {
			it->loc = next;
			it->len = 0; /* refill from there */
			return 0;
		}
	}
	return iter_damaged(it, it->loc, why);
}

static int next_plain(seg_iter *it, const unsigned char **batch, rec_batch *b, uint64_t *at)
{
	size_t off;
	int rc;

again:
	if (it->loc >= it->buf_loc && it->loc < it->buf_loc + it->len) {
		off = (size_t)(it->loc - it->buf_loc);
		rc = rec_decode_header(it->buf + off, it->len - off, b);
		if (rc == 0)
			goto found;
		if (rc == -EBADMSG) {
			if ((rc = plain_damage(it, "impossible batch header")) < 0)
				return rc;
			goto again;
		}
	}
	if (it->loc >= it->limit)
		return 0;
	/* Enough for the next batch if it is as long as the last one (bulk
	** appends write batches of up to a MiB each), so that it takes one
	** pread, not a short one and then the whole. */
	size_t want = it->last_len + ITER_CHUNK / 4 > ITER_CHUNK ? it->last_len + ITER_CHUNK / 4
								  : ITER_CHUNK;
	if (it->limit - it->loc < want)
		want = (size_t)(it->limit - it->loc);
	for (;;) {
		if ((rc = grow(&it->buf, &it->cap, want)) < 0)
			return rc;
		ssize_t n = io_pread_all(it->s->fd, it->buf, want, (off_t)it->loc);
		if (n < 0)
			return (int)n;
		it->buf_loc = it->loc;
		it->len = (size_t)n;
		off = 0;
		rc = rec_decode_header(it->buf, it->len, b);
		if (rc == 0)
			break;
		if (rc == -EBADMSG || it->len < want || it->len < REC_HEADER_SIZE) {
			if ((rc = plain_damage(it, rc == -EBADMSG ? "impossible batch header"
								 : "segment file shorter than its data")) < 0)
				return rc;
			goto again;
		}
		uint32_t blen = io_get32(it->buf + 4); /* larger than what was read */
		if (it->loc + blen > it->limit) {
			if ((rc = plain_damage(it, "batch running past the segment's end")) < 0)
				return rc;
			goto again;
		}
		want = blen;
	}
found:
	if (rec_check(it->buf + off, b) < 0) {
		if ((rc = plain_damage(it, "batch failing its CRC")) < 0)
			return rc;
		goto again;
	}
	it->good_offset = rec_end_offset(b);
	it->good_bytepos = rec_end_bytepos(b);
	if (rec_end_bytepos(b) <= it->skip_pos || rec_end_offset(b) <= it->skip_off) {
		/* before the reader's place: passed over (its CRC was checked,
		** so that damage in it is seen and stepped over, not misread) */
		it->loc += b->length;
		goto again;
	}
	*batch = it->buf + off;
	*at = it->loc;
	it->loc += b->length;
	it->last_len = b->length;
	return 1;
}

/* Read and decode the frame at it->loc. Returns 1, 0 at the limit, or -errno. */
static int load_frame(seg_iter *it)
{
	size_t want = ITER_CHUNK;
	ssize_t flen, n, size;
	int rc;

	if (it->loc >= it->limit)
		return 0;
	for (;;) {
		if (want > it->limit - it->loc)
			want = (size_t)(it->limit - it->loc);
		if ((rc = grow(&it->raw, &it->raw_cap, want)) < 0)
			return rc;
		n = io_pread_all(it->s->fd, it->raw, want, (off_t)it->loc);
		if (n < 0)
			return (int)n;
		flen = codec_frame_len(it->raw, (size_t)n);
		if (flen >= 0)
			break;
		if (flen != -EAGAIN || (size_t)n < want || want == it->limit - it->loc)
			return iter_damaged(it, it->loc, "damaged zstd frame");
		want *= 2;
	}
	size = codec_content_size(it->raw, (size_t)flen);
	if (size < 0 || (size_t)size > REC_MAX_BATCH + FRAME_TARGET) {
		it->bad_frame_len = (uint64_t)flen;
		return iter_damaged(it, it->loc, "zstd frame of unknown or impossible size");
	}
	if (!it->cx && (rc = codec_new(&it->cx)) < 0)
		return rc;
	if ((rc = grow(&it->buf, &it->cap, (size_t)size ? (size_t)size : 1)) < 0)
		return rc;
	n = codec_decompress(it->cx, it->raw, (size_t)flen, it->buf, (size_t)size);
	if (n != size) {
		if (n == -ENOMEM)
			return -ENOMEM;
		it->bad_frame_len = (uint64_t)flen;
		return iter_damaged(it, it->loc, "zstd frame failing its checksum");
	}
	it->len = (size_t)size;
	it->fpos = 0;
	it->frame_len = (uint64_t)flen;
	return 1;
}

static int next_compressed(seg_iter *it, const unsigned char **batch, rec_batch *b, uint64_t *at)
{
	int rc;

	for (;;) {
		if (!it->frame_len) {
			if ((rc = load_frame(it)) <= 0)
				return rc;
		}
		if (it->fpos < it->len)
			break;
		it->loc += it->frame_len;
		it->frame_len = 0;
	}
	if (rec_decode_header(it->buf + it->fpos, it->len - it->fpos, b) < 0 ||
	    rec_check(it->buf + it->fpos, b) < 0) {
		it->bad_frame_len = it->frame_len; /* a scan can step over the frame */
		return iter_damaged(it, it->loc, "damaged batch inside a zstd frame");
	}
	*batch = it->buf + it->fpos;
	*at = it->loc;
	it->fpos += b->length;
	it->good_offset = rec_end_offset(b);
	it->good_bytepos = rec_end_bytepos(b);
	return 1;
}

int seg_iter_next(seg_iter *it, const unsigned char **batch, rec_batch *b, uint64_t *at)
{
	return it->s->compressed ? next_compressed(it, batch, b, at) : next_plain(it, batch, b, at);
}

/* ---- rewriting ---- */

struct seg_writer {
	int dirfd;
	seg *out;    /* the segment being built (fd: the .tmp file) */
	int level;
	codec *cx;
	idx_entry fentry; /* compressed: the pending frame's first batch */
	unsigned char *frame, *zbuf;
	size_t flen, fcap, zcap;
	uint64_t batches;
	int rehead; /* the header changed since it was written */
};

void seg_writer_set_cleaned(seg_writer *w, int64_t cleaned_ms, uint32_t clean_flags)
{
	w->out->cleaned_ms = cleaned_ms;
	w->out->clean_flags = clean_flags;
	w->rehead = 1;
}

int seg_writer_open(int dirfd, const seg *s, const seg *last, int compressed, int level,
		    seg_writer **out)
{
	seg_writer *w = calloc(1, sizeof *w);
	unsigned char h[SEG_HEADER_SIZE];
	char name[40];
	int rc;

	if (!w)
		return -ENOMEM;
	w->dirfd = dirfd;
	w->level = level;
	if (!(w->out = seg_new(s->base_offset))) {
		free(w);
		return -ENOMEM;
	}
	seg *o = w->out;
	o->base_bytepos = s->base_bytepos;
	o->created_ms = s->created_ms;
	o->generation = s->generation + 1;
	o->cleaned_ms = s->cleaned_ms;
	o->clean_flags = s->clean_flags;
	o->compressed = compressed;
	o->end_offset = last->end_offset;
	o->end_bytepos = last->end_bytepos;
	o->sealed = 1;
	o->size = SEG_HEADER_SIZE;
	seg_log_name(s->base_offset, name);
	strcat(name, ".tmp");
	o->fd = openat(dirfd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (o->fd < 0) {
		rc = -errno;
		goto fail;
	}
	encode_header(h, o);
	o->hdr_crc = io_get32(h + 60);
	if ((rc = io_pwrite_all(o->fd, h, sizeof h, 0)) < 0 || (compressed && (rc = codec_new(&w->cx)) < 0)) {
		unlinkat(dirfd, name, 0);
		goto fail;
	}
	*out = w;
	return 0;
fail:
	seg_unref(w->out);
	free(w);
	return rc;
}

static int flush_frame(seg_writer *w)
{
	seg *o = w->out;
	size_t bound = codec_bound(w->flen);
	ssize_t z;
	int rc;

	if (w->flen == 0)
		return 0;
	if ((rc = grow(&w->zbuf, &w->zcap, bound)) < 0)
		return rc;
	z = codec_compress(w->cx, w->level, w->frame, w->flen, w->zbuf, w->zcap);
	if (z < 0)
		return (int)z;
	if ((rc = io_pwrite_all(o->fd, w->zbuf, (size_t)z, (off_t)o->size)) < 0)
		return rc;
	w->fentry.frame_len = (uint32_t)z;
	if ((rc = idx_push(&o->index, &w->fentry)) < 0)
		return rc;
	o->last_index_loc = o->size;
	o->size += (uint64_t)z;
	w->flen = 0;
	return 0;
}

int seg_writer_add(seg_writer *w, const unsigned char *batch, const rec_batch *b)
{
	seg *o = w->out;
	idx_entry e = {.offset = b->base_offset, .bytepos = b->base_bytepos,
		       .timestamp_ms = b->timestamp_ms, .location = o->size,
		       .nrec_before = (uint32_t)o->records};
	int rc = 0;

	if (o->compressed) {
		if (w->flen == 0)
			w->fentry = e;
		if ((rc = grow(&w->frame, &w->fcap, w->flen + b->length)) < 0)
			return rc;
		memcpy(w->frame + w->flen, batch, b->length);
		w->flen += b->length;
	} else {
		if ((rc = io_pwrite_all(o->fd, batch, b->length, (off_t)o->size)) < 0)
			return rc;
		if (o->index.n == 0 || o->size - o->last_index_loc >= IDX_INTERVAL) {
			if ((rc = idx_push(&o->index, &e)) < 0)
				return rc;
			o->last_index_loc = o->size;
		}
		o->size += b->length;
	}
	o->records += b->count;
	w->batches++;
	if (b->max_timestamp_ms > o->max_ts_ms)
		o->max_ts_ms = b->max_timestamp_ms;
	if (o->compressed && w->flen >= FRAME_TARGET)
		rc = flush_frame(w);
	return rc;
}

uint64_t seg_writer_batches(const seg_writer *w)
{
	return w->batches;
}

static void writer_free(seg_writer *w)
{
	seg_unref(w->out);
	codec_free(w->cx);
	free(w->frame);
	free(w->zbuf);
	free(w);
}

void seg_writer_abort(seg_writer *w)
{
	char name[40];

	seg_log_name(w->out->base_offset, name);
	strcat(name, ".tmp");
	unlinkat(w->dirfd, name, 0);
	writer_free(w);
}

int seg_writer_commit(seg_writer *w, seg **out)
{
	seg *o = w->out;
	char tmp[40], name[32];
	idx_summary sum;
	int rc;

	if ((rc = flush_frame(w)) < 0)
		goto fail;
	if (w->rehead) {
		unsigned char h[SEG_HEADER_SIZE];
		encode_header(h, o);
		o->hdr_crc = io_get32(h + 60);
		if ((rc = io_pwrite_all(o->fd, h, sizeof h, 0)) < 0)
			goto fail;
	}
	if ((rc = io_fsync(o->fd)) < 0)
		goto fail;
	o->header_synced = 1;
	/* The index first: until the rename below it names a header crc that
	** the old file does not have, so a crash in between rebuilds the old
	** file's index rather than pairing them. */
	sum = (idx_summary){.end_offset = o->end_offset, .end_bytepos = o->end_bytepos,
			    .records = o->records, .max_ts_ms = o->max_ts_ms, .size = o->size,
			    .seg_crc = o->hdr_crc};
	seg_index_name(o->base_offset, name);
	if ((rc = idx_write_sealed(w->dirfd, name, o->base_offset, &o->index, &sum, 1)) < 0)
		goto fail;
	seg_log_name(o->base_offset, name);
	snprintf(tmp, sizeof tmp, "%s.tmp", name);
	if (renameat(w->dirfd, tmp, w->dirfd, name) < 0) {
		rc = -errno;
		goto fail;
	}
	if ((rc = io_fsync(w->dirfd)) < 0)
		log_warn("segment %s: directory sync after rewrite failed: %s", name, strerror(-rc));
	idx_shrink(&o->index);
	seg_ref(o);
	*out = o;
	writer_free(w);
	return 0;
fail:
	seg_writer_abort(w); /* the caller logs it, with the topic's name */
	return rc;
}

int seg_remove_files(int dirfd, uint64_t base_offset)
{
	char name[32];

	/* The log first: an index without its log is removed at the next open
	** (and is harmless till then); a log that stays keeps its index. */
	seg_log_name(base_offset, name);
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	seg_index_name(base_offset, name);
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		log_warn("cannot remove %s (%s); the next mount removes it", name, strerror(errno));
	return 0;
}

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
**   40: 20 zero bytes
**   60: u32 crc32c of bytes 0..59
**
** The header is valid iff the magic, version and crc match and the base
** offset equals the name's. The base bytepos is what lets an empty segment
** (and a topic whose records retention removed) know where the log ends.
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
	io_put32(h + 60, crc32c(0, h, 60));
}

/* Fills base_bytepos, created_ms and compressed of s from the header. */
static int decode_header(const unsigned char *h, seg *s)
{
	if (memcmp(h, "TOPICSEG", 8) || io_get32(h + 8) != SEG_VERSION ||
	    crc32c(0, h, 60) != io_get32(h + 60) || io_get64(h + 16) != s->base_offset)
		return -EBADMSG;
	s->compressed = (io_get32(h + 12) & SEG_FLAG_ZSTD) != 0;
	s->base_bytepos = io_get64(h + 24);
	s->created_ms = (int64_t)io_get64(h + 32);
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

void seg_ref(seg *s)
{
	atomic_fetch_add(&s->refs, 1);
}

void seg_unref(seg *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	if (s->fd >= 0)
		close(s->fd);
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
	if ((rc = io_pwrite_all(s->fd, h, sizeof h, 0)) < 0)
		goto fail_unlink;
	seg_index_name(base_offset, name);
	if ((rc = idx_open_active(dirfd, name, base_offset, &s->index, &s->idx_fd)) < 0)
		goto fail_unlink;
	if ((rc = io_fsync(dirfd)) < 0)
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
** Returns 0, or a negative errno for an I/O error.
*/
static int scan_batches(seg *s, struct scan *sc, uint64_t file_end, const char *what)
{
	size_t cap = SCAN_CHUNK;
	unsigned char *buf = malloc(cap);
	rec_batch b, nb;
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	while (sc->loc < file_end) {
		rc = read_batch(s->fd, sc->loc, file_end, &buf, &cap, &b);
		if (rc == -EAGAIN || rc == -EBADMSG) {
			rc = 0;
			break;
		}
		if (rc < 0)
			break;
		if (b.base_offset < sc->offset || b.base_bytepos < sc->bytepos)
			break; /* a stale batch from before: not part of this log */
		int damaged = rec_check(buf, &b) < 0;
		if (damaged) {
			/* A tear, unless a valid batch follows. */
			uint64_t next = sc->loc + b.length;
			size_t ncap = cap;
			unsigned char *nbuf = malloc(ncap);
			int ok = 0;
			if (!nbuf) {
				rc = -ENOMEM;
				break;
			}
			if (read_batch(s->fd, next, file_end, &nbuf, &ncap, &nb) == 0 &&
			    rec_check(nbuf, &nb) == 0 && nb.base_offset >= rec_end_offset(&b))
				ok = 1;
			free(nbuf);
			if (!ok)
				break;
			log_error("%s segment %020" PRIu64 ": batch at byte %" PRIu64
				  " (offset %" PRIu64 ") fails its CRC; its reads will fail with EIO",
				  what, s->base_offset, sc->loc, b.base_offset);
		}
		if (!damaged && (!sc->have_index || sc->loc - sc->last_index_loc >= IDX_INTERVAL)) {
			idx_entry e = {.offset = b.base_offset, .bytepos = b.base_bytepos,
				       .timestamp_ms = b.timestamp_ms, .location = sc->loc,
				       .nrec_before = (uint32_t)sc->records};
			if ((rc = idx_push(&s->index, &e)) < 0)
				break;
			sc->have_index = 1;
			sc->last_index_loc = sc->loc;
		}
		sc->records += b.count;
		if (b.timestamp_ms > sc->max_ts_ms)
			sc->max_ts_ms = b.timestamp_ms;
		sc->offset = rec_end_offset(&b);
		sc->bytepos = rec_end_bytepos(&b);
		sc->loc += b.length;
	}
	free(buf);
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

static int open_newest(int dirfd, seg *s, uint64_t file_end)
{
	char name[32];
	struct scan sc = {.loc = SEG_HEADER_SIZE, .offset = s->base_offset,
			  .bytepos = s->base_bytepos};
	idx_summary sum;
	int sealed, rc;

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
	if ((rc = scan_batches(s, &sc, file_end, "recovering")) < 0)
		return rc;
	if (sc.loc < file_end) {
		log_warn("segment %020" PRIu64 ": cut a torn tail of %" PRIu64 " bytes at byte %" PRIu64,
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
	return idx_open_active(dirfd, name, s->base_offset, &s->index, &s->idx_fd);
}

static int open_sealed(int dirfd, seg *s, const seg *next, uint64_t file_end)
{
	char name[32];
	idx_summary sum;
	int sealed = 0, rc;
	struct scan sc = {.loc = SEG_HEADER_SIZE, .offset = s->base_offset,
			  .bytepos = s->base_bytepos};

	seg_index_name(s->base_offset, name);
	rc = idx_load(dirfd, name, s->base_offset, &s->index, &sealed, &sum);
	if (rc == 0 && sealed && sum.end_offset == next->base_offset &&
	    sum.end_bytepos == next->base_bytepos && sum.size == (uint32_t)file_end) {
		s->size = file_end;
		s->records = sum.records;
		s->max_ts_ms = sum.max_ts_ms;
		s->end_offset = sum.end_offset;
		s->end_bytepos = sum.end_bytepos;
		s->sealed = 1;
		return 0;
	}
	if (rc != -ENOENT)
		log_warn("segment %020" PRIu64 ": index %s; rebuilding it",
			 s->base_offset, rc < 0 ? "damaged" : "incomplete");
	else
		log_warn("segment %020" PRIu64 ": index missing; rebuilding it", s->base_offset);
	idx_free(&s->index);
	if (s->compressed)
		return -ENOTSUP; /* compressed segments come with codec.c */
	if ((rc = scan_batches(s, &sc, file_end, "rebuilding")) < 0)
		return rc;
	if (sc.loc < file_end)
		log_error("segment %020" PRIu64 ": %" PRIu64 " unreadable bytes at byte %" PRIu64
			  " are skipped", s->base_offset, file_end - sc.loc, sc.loc);
	s->size = sc.loc;
	s->records = sc.records;
	s->max_ts_ms = sc.max_ts_ms;
	s->end_offset = next->base_offset;
	s->end_bytepos = next->base_bytepos;
	s->sealed = 1;
	sum = (idx_summary){.end_offset = s->end_offset, .end_bytepos = s->end_bytepos,
			    .records = s->records, .max_ts_ms = s->max_ts_ms, .size = file_end};
	return idx_write_sealed(dirfd, name, s->base_offset, &s->index, &sum);
}

int seg_open(int dirfd, uint64_t base_offset, const seg *next, seg **out)
{
	char name[32];
	unsigned char h[SEG_HEADER_SIZE];
	struct stat st;
	seg *s = seg_new(base_offset);
	int rc;

	if (!s)
		return -ENOMEM;
	seg_log_name(base_offset, name);
	s->fd = openat(dirfd, name, (next ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (s->fd < 0 || fstat(s->fd, &st) < 0) {
		rc = -errno;
		goto fail;
	}
	if (io_pread_all(s->fd, h, sizeof h, 0) != (ssize_t)sizeof h || decode_header(h, s) < 0) {
		rc = -EBADMSG;
		log_error("segment %s: bad header", name);
		goto fail;
	}
	rc = next ? open_sealed(dirfd, s, next, (uint64_t)st.st_size)
		  : open_newest(dirfd, s, (uint64_t)st.st_size);
	if (rc < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	seg_unref(s);
	return rc;
}

int seg_seal(int dirfd, seg *s)
{
	char name[32];
	idx_summary sum = {.end_offset = s->end_offset, .end_bytepos = s->end_bytepos,
			   .records = s->records, .max_ts_ms = s->max_ts_ms, .size = s->size};
	int rc = io_datasync(s->fd);

	if (rc < 0)
		return rc;
	seg_index_name(s->base_offset, name);
	return idx_write_sealed(dirfd, name, s->base_offset, &s->index, &sum);
}

/*
** index.c: the sparse index of a segment and its file.
**
** INDEX FILE FORMAT ("NNNNNNNNNNNNNNNNNNNN.index", beside the segment of the
** same base offset). An 80-byte header, then 48-byte entries. Little-endian.
**
**    0: magic "TOPICIDX"
**    8: u32 version 1
**   12: u32 flags       bit0 SEALED: the summary below is valid
**   16: u64 base offset (must match the segment's)
**   24: u64 end offset       \
**   32: u64 end bytepos       |  summary of a sealed segment
**   40: u64 records           |  (zero while the segment is the newest)
**   48: i64 max time ms       |
**   56: u64 segment size      |  the segment file this index describes:
**   64: u32 segment header crc/  its length and its header's crc
**   68: 8 zero bytes
**   76: u32 crc32c of bytes 0..75
**
** A sealed index is used only when the segment file has that length and
** that header crc; every rewrite of a segment gives it a new header (see
** the generation in segment.c), so an index can never be paired with
** another version of its segment after a crash between two renames.
**
** Entry: 0: u64 offset  8: u64 bytepos  16: i64 time ms  24: u64 location
**       32: u32 frame length  36: u32 records before  40: u32 zero
**       44: u32 crc32c of bytes 0..43
**
** An entry is valid iff its crc matches and offset, bytepos, time and
** location are >= those of the entry before it. Loading keeps the valid
** prefix. The index is derived data: a missing or damaged one is rebuilt
** from its segment, so it is never fsynced on the append path.
*/
#include "index.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "io.h"

#define IDX_HEADER_SIZE 80
#define IDX_ENTRY_SIZE 48
#define IDX_VERSION 1
#define IDX_FLAG_SEALED 1

_Static_assert(IDX_HEADER_SIZE == 80 && IDX_ENTRY_SIZE == 48, "index layout is on-disk format");

int idx_push(idx *x, const idx_entry *e)
{
	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 16;
		idx_entry *ne = realloc(x->e, cap * sizeof *ne);
		if (!ne)
			return -ENOMEM;
		x->e = ne;
		x->cap = cap;
	}
	x->e[x->n++] = *e;
	return 0;
}

void idx_free(idx *x)
{
	free(x->e);
	x->e = NULL;
	x->n = x->cap = 0;
}

void idx_shrink(idx *x)
{
	if (x->n == x->cap)
		return;
	if (x->n == 0) {
		idx_free(x);
		return;
	}
	idx_entry *ne = realloc(x->e, x->n * sizeof *ne);
	if (ne) {
		x->e = ne;
		x->cap = x->n;
	}
}

void idx_cut(idx *x, uint64_t location)
{
	while (x->n > 0 && x->e[x->n - 1].location >= location)
		x->n--;
}

#define IDX_FIND(field, key)                              \
	do {                                              \
		size_t lo = 0, hi = x->n;                 \
		while (lo < hi) {                         \
			size_t mid = lo + (hi - lo) / 2;  \
			if (x->e[mid].field <= (key))     \
				lo = mid + 1;             \
			else                              \
				hi = mid;                 \
		}                                         \
		return (ssize_t)lo - 1;                   \
	} while (0)

ssize_t idx_find_offset(const idx *x, uint64_t offset)
{
	IDX_FIND(offset, offset);
}

ssize_t idx_find_bytepos(const idx *x, uint64_t bytepos)
{
	IDX_FIND(bytepos, bytepos);
}

ssize_t idx_find_time(const idx *x, int64_t ts_ms)
{
	IDX_FIND(timestamp_ms, ts_ms - 1);
}

static void encode_entry(unsigned char *p, const idx_entry *e)
{
	io_put64(p, e->offset);
	io_put64(p + 8, e->bytepos);
	io_put64(p + 16, (uint64_t)e->timestamp_ms);
	io_put64(p + 24, e->location);
	io_put32(p + 32, e->frame_len);
	io_put32(p + 36, e->nrec_before);
	io_put32(p + 40, 0);
	io_put32(p + 44, crc32c(0, p, 44));
}

static int decode_entry(const unsigned char *p, idx_entry *out)
{
	if (crc32c(0, p, 44) != io_get32(p + 44))
		return -EBADMSG;
	out->offset = io_get64(p);
	out->bytepos = io_get64(p + 8);
	out->timestamp_ms = (int64_t)io_get64(p + 16);
	out->location = io_get64(p + 24);
	out->frame_len = io_get32(p + 32);
	out->nrec_before = io_get32(p + 36);
	return 0;
}

static void encode_header(unsigned char *h, uint64_t base_offset, const idx_summary *sum)
{
	memset(h, 0, IDX_HEADER_SIZE);
	memcpy(h, "TOPICIDX", 8);
	io_put32(h + 8, IDX_VERSION);
	io_put32(h + 12, sum ? IDX_FLAG_SEALED : 0);
	io_put64(h + 16, base_offset);
	if (sum) {
		io_put64(h + 24, sum->end_offset);
		io_put64(h + 32, sum->end_bytepos);
		io_put64(h + 40, sum->records);
		io_put64(h + 48, (uint64_t)sum->max_ts_ms);
		io_put64(h + 56, sum->size);
		io_put32(h + 64, sum->seg_crc);
	}
	io_put32(h + 76, crc32c(0, h, 76));
}

int idx_load(int dirfd, const char *name, uint64_t base_offset, idx *out, int *sealed,
	     idx_summary *sum)
{
	char *buf;
	size_t len;
	const unsigned char *h;
	idx x = {0};
	int rc = io_read_file(dirfd, name, &buf, &len);

	if (rc < 0)
		return rc;
	h = (const unsigned char *)buf;
	if (len < IDX_HEADER_SIZE) {
		free(buf);
		return -ENODATA;
	}
	if (memcmp(h, "TOPICIDX", 8) || io_get32(h + 8) != IDX_VERSION ||
	    crc32c(0, h, 76) != io_get32(h + 76) || io_get64(h + 16) != base_offset) {
		free(buf);
		return -EBADMSG;
	}
	size_t off = IDX_HEADER_SIZE;
	for (; off + IDX_ENTRY_SIZE <= len; off += IDX_ENTRY_SIZE) {
		idx_entry e;
		if (decode_entry(h + off, &e) < 0)
			break;
		if (x.n > 0) {
			const idx_entry *p = &x.e[x.n - 1];
			if (e.offset <= p->offset || e.bytepos <= p->bytepos ||
			    e.timestamp_ms < p->timestamp_ms || e.location <= p->location)
				break;
		}
		if ((rc = idx_push(&x, &e)) < 0) {
			idx_free(&x);
			free(buf);
			return rc;
		}
	}
	*sealed = (io_get32(h + 12) & IDX_FLAG_SEALED) != 0;
	if (*sealed) {
		sum->end_offset = io_get64(h + 24);
		sum->end_bytepos = io_get64(h + 32);
		sum->records = io_get64(h + 40);
		sum->max_ts_ms = (int64_t)io_get64(h + 48);
		sum->size = io_get64(h + 56);
		sum->seg_crc = io_get32(h + 64);
		/* A sealed index is written whole: an entry that fails its
		** checks is damage, and a mount must not trust the rest. */
		sum->complete = off == len;
	}
	free(buf);
	*out = x;
	return 0;
}

static unsigned char *encode_file(uint64_t base_offset, const idx *x, const idx_summary *sum,
				  size_t *len)
{
	size_t n = IDX_HEADER_SIZE + x->n * IDX_ENTRY_SIZE;
	unsigned char *buf = malloc(n);

	if (!buf)
		return NULL;
	encode_header(buf, base_offset, sum);
	for (size_t i = 0; i < x->n; i++)
		encode_entry(buf + IDX_HEADER_SIZE + i * IDX_ENTRY_SIZE, &x->e[i]);
	*len = n;
	return buf;
}

int idx_write_sealed(int dirfd, const char *name, uint64_t base_offset, const idx *x,
		     const idx_summary *sum, int durable)
{
	size_t len;
	unsigned char *buf = encode_file(base_offset, x, sum, &len);
	int rc;

	if (!buf)
		return -ENOMEM;
	rc = durable ? io_replace_file(dirfd, name, buf, len)
		     : io_replace_file_lazily(dirfd, name, buf, len);
	free(buf);
	return rc;
}

int idx_open_active(int dirfd, const char *name, uint64_t base_offset, const idx *x, int *fd)
{
	size_t len;
	unsigned char *buf = encode_file(base_offset, x, NULL, &len);
	int f, rc;

	if (!buf)
		return -ENOMEM;
	f = openat(dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (f < 0) {
		free(buf);
		return -errno;
	}
	rc = io_pwrite_all(f, buf, len, 0);
	free(buf);
	if (rc == 0 && ftruncate(f, (off_t)len) < 0)
		rc = -errno;
	if (rc < 0) {
		close(f);
		return rc;
	}
	*fd = f;
	return 0;
}

int idx_append(int fd, size_t i, const idx_entry *e)
{
	unsigned char p[IDX_ENTRY_SIZE];

	encode_entry(p, e);
	return io_pwrite_all(fd, p, sizeof p, (off_t)(IDX_HEADER_SIZE + i * IDX_ENTRY_SIZE));
}

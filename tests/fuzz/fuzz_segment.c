/*
** fuzz_segment.c: libFuzzer target for segment recovery and reads
** (core/segment.c, index.c, topic.c, store.c, cursor.c, compact.c).
**
** Each input becomes a data directory with one topic whose segment file
** (and optionally index file) holds the input's bytes, on a tmpfs
** (/dev/shm, or $TMPDIR). Then, as a mount would: store_open() recovers it,
** every record is read back with a cursor (damage may fail a read with
** -EIO, nothing else), a record is appended and read back from its offset
** ("the log continues"), and optionally the background thread's pass
** (roll, retention, compaction, compression) runs over it and the log is
** read again.
**
** Invariants: no crash, no out-of-bounds access, no leak (ASan); recovery
** never refuses a segment whose header is intact; reads fail only with
** -EIO; records of a lone recovered segment come in increasing offset and
** byte position order; an append after recovery succeeds and is found at
** the offset it got.
**
** INPUT: byte 0 is a set of flags, then (flag INDEX) a u16 length and that
** many bytes of index file, then the segment file's bytes:
**   HEADER  0x01  prepend a valid segment header (else the bytes are the
**                 whole file, header included)
**   ZSTD    0x02  that header says the batches are zstd frames
**   SEALED  0x04  the segment is sealed: an empty newest segment follows
**   INDEX   0x08  an index file from the input
**   COMPACT 0x10  the topic is keyed ("|") and compacted
**   MAINT   0x20  run one maintenance pass after recovery
**   BASE    0x40  the segment's base offset is 1000, not 0 (so that its
**                 byte position is not known without its header)
**
** Build and run: `make fuzz` (see the Makefile).
*/
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "compact.h"
#include "config.h"
#include "crc32c.h"
#include "cursor.h"
#include "io.h"
#include "log.h"
#include "store.h"
#include "topic.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define F_HEADER 0x01
#define F_ZSTD 0x02
#define F_SEALED 0x04
#define F_INDEX 0x08
#define F_COMPACT 0x10
#define F_MAINT 0x20
#define F_BASE 0x40

#define NEWEST_BASE 1000000ULL /* the empty newest segment after a sealed one */

#define CHECK(cond, ...)                                               \
	do {                                                           \
		if (!(cond)) {                                         \
			fprintf(stderr, "fuzz_segment: " __VA_ARGS__); \
			fprintf(stderr, "\n");                         \
			abort();                                       \
		}                                                      \
	} while (0)

static char base[256];	   /* our directory on a tmpfs */
static char datadir[300];  /* base/data */

static void quiet(int level, const char *line)
{
	(void)level;
	(void)line;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw);

/* Remove our directory at exit (libFuzzer exits normally at the end of a
 * run; after a crash the directory stays for a look). */
static void cleanup(void)
{
	nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	(void)argc;
	(void)argv;
	if (access("/dev/shm", W_OK) == 0)
		tmp = "/dev/shm";
	snprintf(base, sizeof base, "%s/topicfs-fuzz-XXXXXX", tmp ? tmp : "/tmp");
	CHECK(mkdtemp(base) != NULL, "mkdtemp %s", base);
	snprintf(datadir, sizeof datadir, "%s/data", base);
	atexit(cleanup);
	log_set_sink(quiet);
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static void put(const char *name, const void *p, size_t len)
{
	char path[512];
	int fd;

	snprintf(path, sizeof path, "%s/topics/t/%s", datadir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0, "create %s", path);
	CHECK(len == 0 || write(fd, p, len) == (ssize_t)len, "write %s", path);
	close(fd);
}

/* A valid segment header (segment.c's format). */
static void header(unsigned char *h, uint64_t base_offset, uint64_t base_bytepos, int zstd)
{
	memset(h, 0, 64);
	memcpy(h, "TOPICSEG", 8);
	io_put32(h + 8, 1);
	io_put32(h + 12, zstd ? 1 : 0);
	io_put64(h + 16, base_offset);
	io_put64(h + 24, base_bytepos);
	io_put64(h + 32, 1700000000000ULL);
	io_put32(h + 60, crc32c(0, h, 60));
}

/* Read the whole log record by record; returns the count. */
static long read_records(topic *t, int ordered)
{
	cursor *c;
	cur_record r;
	uint64_t last_off = 0, last_pos = 0;
	long n = 0;
	int rc;

	CHECK(cur_open(t, 0, &c) == 0, "cur_open");
	while (n < 200000 && (rc = cur_next(c, &r)) == 1) {
		if (ordered && n > 0)
			CHECK(r.offset > last_off && r.bytepos > last_pos,
			      "record %ld: offset %llu bytepos %llu after %llu/%llu", n,
			      (unsigned long long)r.offset, (unsigned long long)r.bytepos,
			      (unsigned long long)last_off, (unsigned long long)last_pos);
		last_off = r.offset;
		last_pos = r.bytepos;
		n++;
	}
	CHECK(n == 200000 || rc == 0 || rc == -EIO, "cur_next returned %d", rc);
	cur_close(c);
	/* The same bytes through cur_read. */
	CHECK(cur_open(t, 0, &c) == 0, "cur_open");
	for (int i = 0; i < 10000; i++) {
		char buf[4096];
		ssize_t got = cur_read(c, buf, sizeof buf);

		CHECK(got >= 0 || got == -EIO, "cur_read returned %zd", got);
		if (got <= 0)
			break;
	}
	cur_close(c);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char dir[512];
	unsigned char flags, h[64];
	const uint8_t *index = NULL, *body;
	size_t index_len = 0, body_len;
	cfg defaults;
	store *s;
	topic *t;
	topic_info info;
	int rc;

	if (size < 1)
		return 0;
	flags = data[0];
	body = data + 1;
	body_len = size - 1;
	if ((flags & F_INDEX) && body_len >= 2) {
		index_len = (size_t)body[0] | (size_t)body[1] << 8;
		if (index_len > body_len - 2)
			index_len = body_len - 2;
		index = body + 2;
		body += 2 + index_len;
		body_len -= 2 + index_len;
	}

	nftw(datadir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	CHECK(mkdir(datadir, 0755) == 0, "mkdir %s", datadir);
	snprintf(dir, sizeof dir, "%s/topics", datadir);
	CHECK(mkdir(dir, 0755) == 0, "mkdir %s", dir);
	snprintf(dir, sizeof dir, "%s/topics/t", datadir);
	CHECK(mkdir(dir, 0755) == 0, "mkdir %s", dir);
	{
		const char *conf = (flags & F_COMPACT) ? "cleanup.policy=compact,delete\nkey.separator=|\n"
							 "min.cleanable.dirty.ratio=0\nmode=0755\n"
						       : "mode=0755\n";

		put("topic.conf", conf, strlen(conf));
	}
	{
		uint64_t b0 = (flags & F_BASE) ? 1000 : 0;
		const char *seg = (flags & F_BASE) ? "00000000000000001000.log" : "00000000000000000000.log";
		const char *idx = (flags & F_BASE) ? "00000000000000001000.index"
						   : "00000000000000000000.index";

		if (flags & F_HEADER) {
			unsigned char *file = malloc(64 + body_len);

			header(h, b0, b0 * 10, flags & F_ZSTD);
			memcpy(file, h, 64);
			if (body_len > 0)
				memcpy(file + 64, body, body_len);
			put(seg, file, 64 + body_len);
			free(file);
		} else {
			put(seg, body, body_len);
		}
		if (index != NULL)
			put(idx, index, index_len);
	}
	if (flags & F_SEALED) {
		header(h, NEWEST_BASE, 1ULL << 40, 0);
		put("00000000000001000000.log", h, 64);
	}

	cfg_defaults(&defaults);
	rc = store_open(datadir, &defaults, &s);
	if (flags & F_HEADER)
		CHECK(rc == 0, "recovery refused a segment with a valid header: %d", rc);
	if (rc != 0)
		return 0;
	CHECK(store_topic_get(s, "t", &t) == 0, "the topic is gone after recovery");
	read_records(t, !(flags & F_SEALED));

	/* The log continues. */
	topic_get_info(t, &info);
	if (info.end_offset < (1ULL << 62) && info.end_bytepos < (1ULL << 62)) {
		struct iovec iov = { "probe\n", 6 };
		uint64_t first, bp;
		cursor *c;
		cur_record r;

		rc = topic_append(t, &iov, 1, &first);
		CHECK(rc == 0, "append after recovery: %d", rc);
		CHECK(first == info.end_offset, "the append got offset %llu, end was %llu",
		      (unsigned long long)first, (unsigned long long)info.end_offset);
		rc = topic_offset_bytepos(t, first, &bp);
		CHECK(rc == 0 || rc == -EIO, "topic_offset_bytepos(%llu): %d", (unsigned long long)first,
		      rc);
		if (rc == 0) {
			CHECK(cur_open(t, bp, &c) == 0, "cur_open");
			rc = cur_next(c, &r);
			CHECK(rc == 1 && r.offset == first && r.len == 5 && memcmp(r.payload, "probe", 5) == 0,
			      "the appended record is not at offset %llu (cur_next %d)",
			      (unsigned long long)first, rc);
			cur_close(c);
		}
	}
	if (flags & F_MAINT) {
		compact_topic_pass(t, io_now_ms(), NULL);
		read_records(t, 0);
	}
	topic_unref(t);
	store_close(s);
	return 0;
}

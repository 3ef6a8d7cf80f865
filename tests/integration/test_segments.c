/*
** test_segments.c: one read-only file per segment (SPEC.md, "The
** namespace"), named by its first offset in 20 digits. Each holds exactly its
** records, the concatenated segment files equal `cat TOPIC/log`, sealed segments never
** change (also once the background thread has compressed them), and all of
** it survives a remount.
*/
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_SEGMENTS 256

static void setup(void)
{
	h_mount("segment.bytes=4096,maintenance.interval.ms=200");
}

TestSuite(segments, .init = setup, .fini = h_teardown, .timeout = 90);

/* Record I's line; records are appended from offset 0, so I is its offset. */
static void add_record(struct h_buf *b, int i)
{
	h_buf_printf(b, "seg %06d %.*s\n", i, 20 + i % 60,
		     "the quick brown fox jumps over the lazy dog, again and again and again");
}

/* Append records FIRST..FIRST+COUNT-1 to t, 1 to 5 per write(); add them to WANT. */
static void append_records(int first, int count, struct h_buf *want)
{
	int fd = open(h_mnt("t/log"), O_WRONLY | O_APPEND);
	struct h_rng rng;

	cr_assert(fd >= 0, "open t/log: %s", strerror(errno));
	h_rng_seed(&rng, (uint64_t)first);
	for (int i = first; i < first + count;) {
		struct h_buf batch = { 0 };

		for (int k = 1 + (int)h_rng_below(&rng, 5); k > 0 && i < first + count; k--)
			add_record(&batch, i++);
		cr_assert_eq(write(fd, batch.p, batch.len), (ssize_t)batch.len, "write: %s",
			     strerror(errno));
		h_buf_add(want, batch.p, batch.len);
		h_buf_free(&batch);
	}
	close(fd);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The first offsets named by t's segment files, sorted. Asserts that t lists
 * `log` and nothing but 20-digit .log names besides. */
static size_t list_segments(uint64_t *bases)
{
	bool has_log = false;
	struct dirent *e;
	size_t n = 0;
	DIR *d = opendir(h_mnt("t"));

	cr_assert(d != NULL, "opendir t: %s", strerror(errno));
	while ((e = readdir(d)) != NULL) {
		const char *name = e->d_name;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		if (strcmp(name, "log") == 0) {
			has_log = true;
			continue;
		}
		if (strcmp(name, "consumers") == 0)
			continue; /* the directory of named reader positions */
		cr_assert(strlen(name) == 24 && strspn(name, "0123456789") == 20 &&
				  strcmp(name + 20, ".log") == 0,
			  "t lists \"%s\", which is neither log nor a segment name", name);
		cr_assert(n < MAX_SEGMENTS, "too many segments");
		bases[n++] = strtoull(name, NULL, 10);
	}
	closedir(d);
	cr_assert(has_log, "t does not list log");
	qsort(bases, n, sizeof *bases, cmp_u64);
	return n;
}

/*
** Check every segment file against the records written (WANT holds records
** 0..TOTAL-1): segment k holds exactly the records from its base to the next
** base, its st_size is its length, and together they are the whole log.
** Returns the number of segments.
*/
static size_t check_segments(int total)
{
	uint64_t bases[MAX_SEGMENTS];
	size_t n = list_segments(bases);
	long long sum = 0;

	cr_assert(n >= 3, "only %zu segments with segment.bytes=4096", n);
	cr_assert_eq(bases[0], 0, "the first segment is %020" PRIu64 ".log, not 0000...0.log",
		     bases[0]);
	for (size_t k = 0; k < n; k++) {
		uint64_t end = k + 1 < n ? bases[k + 1] : (uint64_t)total;
		const char *path = h_mnt("t/%020" PRIu64 ".log", bases[k]);
		struct h_buf want = { 0 };
		size_t len;
		char *got;

		cr_assert(bases[k] < end, "segment %020" PRIu64 ".log starts past the next",
			  bases[k]);
		for (uint64_t i = bases[k]; i < end; i++)
			add_record(&want, (int)i);
		got = h_read_file(path, &len);
		cr_assert(got != NULL, "read %s: %s", path, strerror(errno));
		H_ASSERT_BYTES(got, len, want.p, want.len, "segment %020" PRIu64 ".log", bases[k]);
		cr_assert_eq(h_file_size(path), (long long)len,
			     "st_size of %020" PRIu64 ".log is not its length", bases[k]);
		sum += (long long)len;
		free(got);
		h_buf_free(&want);
	}
	cr_assert_eq(h_file_size(h_mnt("t/log")), sum,
		     "st_size of log is not the sum of the segments' sizes");
	H_SH_OK("ls $MNT/t | grep -qx log && ! ls $MNT/t | grep -vx log | grep -vx consumers | grep -Evx '[0-9]{20}[.]log'");
	H_SH_OK("ls -l $MNT/t | awk 'NR > 1 && $1 !~ /^d/ && $5 == 0 { print; bad = 1 } END { exit bad }'");
	H_SH_OK("cat $MNT/t/*.log | cmp - $MNT/t/log");
	return n;
}

/* All the sealed segments' bytes, in order (all but the newest). */
static char *sealed_bytes(size_t *len)
{
	uint64_t bases[MAX_SEGMENTS];
	size_t n = list_segments(bases);
	struct h_buf all = { 0 };

	h_buf_add(&all, "", 0);
	for (size_t k = 0; k + 1 < n; k++) {
		size_t seg_len;
		char *seg = h_read_file(h_mnt("t/%020" PRIu64 ".log", bases[k]), &seg_len);

		cr_assert(seg != NULL, "read segment: %s", strerror(errno));
		h_buf_add(&all, seg, seg_len);
		free(seg);
	}
	*len = all.len;
	return all.p;
}

Test(segments, segment_files_hold_their_records)
{
	struct h_buf want = { 0 };
	size_t n, before_len, after_len;
	char *before, *after;

	cr_assert(mkdir(h_mnt("t"), 0755) == 0, "mkdir t: %s", strerror(errno));
	append_records(0, 400, &want);
	cr_assert(want.len > 5 * 4096);
	n = check_segments(400);

	/* The background thread compresses sealed segments: nothing changes. */
	before = sealed_bytes(&before_len);
	h_sleep_ms(1500);
	check_segments(400);

	/* The newest segment grows and new ones roll; sealed ones stay. */
	append_records(400, 200, &want);
	cr_assert(check_segments(600) > n, "no segment rolled after 200 more records");
	after = sealed_bytes(&after_len);
	cr_assert(after_len >= before_len);
	H_ASSERT_BYTES(after, before_len, before, before_len, "sealed segments changed");
	free(before);
	free(after);

	/* And the same after a remount. */
	h_remount();
	check_segments(600);
	cr_assert_eq(h_write_file(h_work("want"), want.p, want.len), 0);
	H_SH_OK("cmp $MNT/t/log $WORK/want");
	h_buf_free(&want);
}

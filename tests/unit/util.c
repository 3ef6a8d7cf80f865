/*
** util.c: shared helpers of the core unit tests; see util.h.
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/fs.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "util.h"

char tu_dir[PATH_MAX];
char tu_data[PATH_MAX];

/*
** LeakSanitizer (make unit SANITIZE=1). Two things about Criterion 2.4:
**  - a leak found when a test's process exits is printed but fails nothing,
**    so tu_teardown() runs the check itself and aborts the process, which
**    makes the run exit non-zero (the leak report names the test's stack);
**  - its runner process, which runs no test or core code, leaks a few
**    48-byte blocks under criterion_run_all_tests() when tests run in
**    parallel, which would fail every run: leak checking is turned off in
**    the runner before the tests start. The tests run in processes of
**    their own (spawned afresh, not forked), which this does not reach.
*/
#if defined(__SANITIZE_ADDRESS__)
#include <criterion/hooks.h>
#include <sanitizer/lsan_interface.h>

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
	(void)set;
	__lsan_disable();
}

static void check_leaks(void)
{
	if (__lsan_do_recoverable_leak_check() == 0)
		return;
	fprintf(stderr, "tests/unit: LeakSanitizer found leaks in %s::%s "
		"(report above); aborting the test's process\n",
		criterion_current_suite->name, criterion_current_test->name);
	abort();
}
#else
static void check_leaks(void)
{
}
#endif

/* ---- the per-test directory ------------------------------------------ */

void tu_setup(void)
{
	char tmpl[] = "/tmp/topicfs-unit-XXXXXX";

	cr_assert_not_null(mkdtemp(tmpl), "mkdtemp: %s", strerror(errno));
	snprintf(tu_dir, sizeof(tu_dir), "%s", tmpl);
	snprintf(tu_data, sizeof(tu_data), "%s/data", tmpl);
}

void tu_teardown(void)
{
	if (tu_dir[0] != '\0')
		tu_rm_rf(tu_dir);
	tu_dir[0] = '\0';
	tu_data[0] = '\0';
	check_leaks();
}

int tu_set_immutable(const char *path, int on)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), flags, rc = -1;

	if (fd < 0)
		return -1;
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
		flags = on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
		rc = ioctl(fd, FS_IOC_SETFLAGS, &flags);
	}
	close(fd);
	return rc;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path) < 0 && errno == EPERM && tu_set_immutable(path, 0) == 0)
		remove(path); /* a test that failed with its file made immutable */
	return 0;
}

void tu_rm_rf(const char *path)
{
	nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

/* ---- PRNG -------------------------------------------------------------- */

void tu_rng_seed(tu_rng *r, uint64_t seed)
{
	/* splitmix64 of the seed, so that small seeds give good states */
	uint64_t z = seed + 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	r->s = z ? z : 0x2545f4914f6cdd1dULL;
}

uint64_t tu_rand(tu_rng *r)
{
	uint64_t x = r->s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	r->s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

uint64_t tu_below(tu_rng *r, uint64_t n)
{
	return tu_rand(r) % n;
}

void tu_fill(tu_rng *r, void *p, size_t n)
{
	unsigned char *q = p;
	size_t i = 0;

	while (i < n) {
		uint64_t x = tu_rand(r);
		for (int k = 0; k < 8 && i < n; k++, i++) {
			unsigned char c = (unsigned char)(x >> (8 * k));
			q[i] = c == '\n' ? 0 : c;
		}
	}
}

size_t tu_payload_len(tu_rng *r)
{
	uint64_t k = tu_below(r, 1000);

	if (k == 0)
		return 513 + tu_below(r, 65536 - 512);
	if (k < 500)
		return tu_below(r, 513);
	return tu_below(r, 65);
}

int64_t tu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double tu_mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- buffers ----------------------------------------------------------- */

void tu_buf_reserve(tu_buf *b, size_t extra)
{
	if (b->len + extra <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (p == NULL)
		abort();
	b->p = p;
	b->cap = cap;
}

void tu_buf_add(tu_buf *b, const void *p, size_t n)
{
	tu_buf_reserve(b, n);
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

void tu_buf_addc(tu_buf *b, char c)
{
	tu_buf_add(b, &c, 1);
}

void tu_buf_free(tu_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* ---- the expected log -------------------------------------------------- */

void tu_log_add(tu_log *l, const void *payload, size_t len)
{
	if (l->n + 2 > l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 1024;
		uint64_t *pos = realloc(l->pos, cap * sizeof(*pos));
		if (pos == NULL)
			abort();
		l->pos = pos;
		l->cap = cap;
		if (l->n == 0)
			l->pos[0] = 0;
	}
	l->pos[l->n] = l->bytes.len;
	tu_buf_add(&l->bytes, payload, len);
	tu_buf_addc(&l->bytes, '\n');
	l->n++;
	l->pos[l->n] = l->bytes.len;
}

size_t tu_log_plen(const tu_log *l, uint64_t o)
{
	return (size_t)(l->pos[o + 1] - l->pos[o] - 1);
}

const char *tu_log_payload(const tu_log *l, uint64_t o)
{
	return l->bytes.p + l->pos[o];
}

uint64_t tu_log_record_at(const tu_log *l, uint64_t p)
{
	uint64_t lo = 0, hi = l->n; /* pos[lo] <= p < pos[hi] */

	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (l->pos[mid] <= p)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

void tu_log_cut(tu_log *l, uint64_t n)
{
	if (n >= l->n)
		return;
	l->n = n;
	l->bytes.len = (size_t)l->pos[n];
}

void tu_log_free(tu_log *l)
{
	tu_buf_free(&l->bytes);
	free(l->pos);
	memset(l, 0, sizeof(*l));
}

/* ---- comparisons ------------------------------------------------------- */

void tu_assert_bytes(const char *what, const void *got, size_t got_len,
		     const void *want, size_t want_len)
{
	const unsigned char *g = got, *w = want;
	size_t n = got_len < want_len ? got_len : want_len;
	size_t i = 0;

	if (got_len == want_len && (n == 0 || memcmp(g, w, n) == 0))
		return;
	while (i < n && g[i] == w[i])
		i++;
	if (i < n)
		cr_assert_fail("%s: first difference at byte %zu of %zu "
			       "(got 0x%02x, want 0x%02x); got %zu bytes, want %zu",
			       what, i, want_len, g[i], w[i], got_len, want_len);
	cr_assert_fail("%s: got %zu bytes, want %zu (the shorter is a prefix "
		       "of the longer)", what, got_len, want_len);
}

/* ---- store and topic helpers ------------------------------------------- */

void tu_cfg_set(cfg *c, int k, const char *value)
{
	int rc = cfg_set(c, k, value, strlen(value));

	cr_assert_eq(rc, 0, "cfg_set(%s, \"%s\") = %d", cfg_key_name(k),
		     value, rc);
}

void tu_cfg_plain(cfg *c, int64_t segment_bytes)
{
	char v[32];

	cfg_defaults(c);
	if (segment_bytes > 0) {
		snprintf(v, sizeof(v), "%" PRId64, segment_bytes);
		tu_cfg_set(c, CFG_SEGMENT_BYTES, v);
	}
	tu_cfg_set(c, CFG_COMPRESSION_TYPE, "none");
	tu_cfg_set(c, CFG_RETENTION_MS, "-1");
}

store *tu_open(const cfg *defaults)
{
	store *s = NULL;
	int rc = store_open(tu_data, defaults, &s);

	cr_assert_eq(rc, 0, "store_open(%s) = %d (%s)", tu_data, rc,
		     strerror(-rc));
	cr_assert_not_null(s, "store_open returned 0 but no store");
	return s;
}

void tu_close(store *s)
{
	int rc = store_close(s);

	cr_assert_eq(rc, 0, "store_close = %d (%s)", rc, strerror(-rc));
}

topic *tu_create(store *s, const char *name)
{
	topic *t = NULL;
	int rc = store_topic_create(s, name, 0755, getuid(), getgid(), &t);

	cr_assert_eq(rc, 0, "store_topic_create(%s) = %d (%s)", name, rc,
		     strerror(-rc));
	cr_assert_not_null(t);
	return t;
}

topic *tu_get(store *s, const char *name)
{
	topic *t = NULL;
	int rc = store_topic_get(s, name, &t);

	cr_assert_eq(rc, 0, "store_topic_get(%s) = %d (%s)", name, rc,
		     strerror(-rc));
	cr_assert_not_null(t);
	return t;
}

uint64_t tu_append(topic *t, const void *buf, size_t len, uint64_t expect_first)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	uint64_t first = UINT64_MAX;
	int rc = topic_append(t, &iov, 1, &first);

	cr_assert_eq(rc, 0, "topic_append(%zu bytes) = %d (%s)", len, rc,
		     strerror(-rc));
	if (expect_first != UINT64_MAX)
		cr_assert_eq(first, expect_first,
			     "topic_append: first offset %" PRIu64
			     ", want %" PRIu64, first, expect_first);
	return first;
}

/* LINES random payloads of at most max_len bytes (payload: 65536 bytes of
** room), each added to batch with its "\n" and to l. */
static void random_lines(tu_rng *r, tu_log *l, uint64_t lines, size_t max_len, char *payload,
			 tu_buf *batch)
{
	for (uint64_t i = 0; i < lines; i++) {
		size_t len = tu_payload_len(r);
		if (len > max_len)
			len = max_len;
		tu_fill(r, payload, len);
		tu_buf_add(batch, payload, len);
		tu_buf_addc(batch, '\n');
		tu_log_add(l, payload, len);
	}
}

void tu_append_random(topic *t, tu_rng *r, tu_log *l, uint64_t count,
		      unsigned max_batch, size_t max_len)
{
	tu_buf batch = { 0 };
	char *payload = malloc(65536);

	cr_assert_not_null(payload);
	while (count > 0) {
		uint64_t lines = 1 + tu_below(r, max_batch);
		uint64_t want_first = l->n;
		if (lines > count)
			lines = count;
		batch.len = 0;
		random_lines(r, l, lines, max_len, payload, &batch);
		/* the same bytes as 1..3 iovecs, split anywhere */
		struct iovec iov[3];
		int n = 1 + (int)tu_below(r, 3);
		size_t cut1 = tu_below(r, batch.len + 1);
		size_t cut2 = cut1 + tu_below(r, batch.len - cut1 + 1);
		if (n == 1) {
			iov[0] = (struct iovec){ batch.p, batch.len };
		} else if (n == 2) {
			iov[0] = (struct iovec){ batch.p, cut1 };
			iov[1] = (struct iovec){ batch.p + cut1, batch.len - cut1 };
		} else {
			iov[0] = (struct iovec){ batch.p, cut1 };
			iov[1] = (struct iovec){ batch.p + cut1, cut2 - cut1 };
			iov[2] = (struct iovec){ batch.p + cut2, batch.len - cut2 };
		}
		uint64_t first = UINT64_MAX;
		int rc = topic_append(t, iov, n, &first);
		cr_assert_eq(rc, 0, "topic_append(%" PRIu64 " lines, %zu bytes, "
			     "%d iovecs) = %d (%s)", lines, batch.len, n, rc,
			     strerror(-rc));
		cr_assert_eq(first, want_first, "topic_append: first = %" PRIu64
			     ", want %" PRIu64, first, want_first);
		count -= lines;
	}
	tu_buf_free(&batch);
	free(payload);
}

uint64_t tu_append_batch(topic *t, tu_rng *r, tu_log *l, unsigned lines,
			 size_t max_len)
{
	tu_buf batch = { 0 };
	char *payload = malloc(65536);
	uint64_t want = l->n;

	cr_assert_not_null(payload);
	random_lines(r, l, lines, max_len, payload, &batch);
	tu_append(t, batch.p, batch.len, want);
	tu_buf_free(&batch);
	free(payload);
	return want;
}

int tu_cur_drain(cursor *c, size_t chunk, tu_buf *out)
{
	for (;;) {
		tu_buf_reserve(out, chunk);
		ssize_t got = cur_read(c, out->p + out->len, chunk);
		if (got < 0)
			return (int)got;
		if (got == 0)
			return 0;
		if ((size_t)got > chunk)
			return -ERANGE;
		out->len += (size_t)got;
	}
}

int tu_read_from(topic *t, uint64_t from, size_t chunk, tu_buf *out)
{
	cursor *c = NULL;
	int rc = cur_open(t, from, &c);

	if (rc != 0)
		return rc;
	rc = tu_cur_drain(c, chunk, out);
	cur_close(c);
	return rc;
}

void tu_assert_log(topic *t, const tu_log *l)
{
	topic_info info;
	tu_buf got = { 0 };
	cursor *c = NULL;
	cur_record rec;
	int rc;

	memset(&info, 0xa5, sizeof(info));
	topic_get_info(t, &info);
	cr_assert_eq(info.end_offset, l->n, "end_offset %" PRIu64 ", want %" PRIu64,
		     info.end_offset, l->n);
	cr_assert_eq(info.end_bytepos, (uint64_t)l->bytes.len,
		     "end_bytepos %" PRIu64 ", want %zu", info.end_bytepos,
		     l->bytes.len);
	cr_assert_eq(info.records, l->n, "records %" PRIu64 ", want %" PRIu64,
		     info.records, l->n);
	cr_assert_eq(info.start_offset, 0, "start_offset %" PRIu64,
		     info.start_offset);
	cr_assert_eq(info.start_bytepos, 0, "start_bytepos %" PRIu64,
		     info.start_bytepos);

	rc = tu_read_from(t, 0, 65536, &got);
	cr_assert_eq(rc, 0, "reading the whole log: %d (%s)", rc, strerror(-rc));
	tu_assert_bytes("whole log by cur_read", got.p, got.len, l->bytes.p,
			l->bytes.len);
	tu_buf_free(&got);

	rc = cur_open(t, 0, &c);
	cr_assert_eq(rc, 0, "cur_open(0) = %d", rc);
	for (uint64_t o = 0; o < l->n; o++) {
		rc = cur_next(c, &rec);
		cr_assert_eq(rc, 1, "cur_next for record %" PRIu64 " = %d", o, rc);
		cr_assert_eq(rec.offset, o, "cur_next: offset %" PRIu64
			     ", want %" PRIu64, rec.offset, o);
		cr_assert_eq(rec.bytepos, l->pos[o], "record %" PRIu64
			     ": bytepos %" PRIu64 ", want %" PRIu64, o,
			     rec.bytepos, l->pos[o]);
		if (rec.len != tu_log_plen(l, o) ||
		    memcmp(rec.payload, tu_log_payload(l, o), rec.len) != 0)
			tu_assert_bytes("cur_next payload", rec.payload, rec.len,
					tu_log_payload(l, o), tu_log_plen(l, o));
	}
	rc = cur_next(c, &rec);
	cr_assert_eq(rc, 0, "cur_next past the last record = %d, want 0", rc);
	cr_assert_eq(cur_pos(c), (uint64_t)l->bytes.len,
		     "cur_pos after the last record %" PRIu64 ", want %zu",
		     cur_pos(c), l->bytes.len);
	cur_close(c);
}

void tu_assert_record(topic *t, const tu_log *l, uint64_t o)
{
	uint64_t bp = UINT64_MAX;
	cursor *c = NULL;
	cur_record rec;
	int rc = topic_offset_bytepos(t, o, &bp);

	cr_assert_eq(rc, 0, "topic_offset_bytepos(%" PRIu64 ") = %d", o, rc);
	cr_assert_eq(bp, l->pos[o], "topic_offset_bytepos(%" PRIu64 ") = %" PRIu64
		     ", want %" PRIu64, o, bp, l->pos[o]);
	rc = cur_open(t, bp, &c);
	cr_assert_eq(rc, 0, "cur_open(%" PRIu64 ") = %d", bp, rc);
	rc = cur_next(c, &rec);
	cr_assert_eq(rc, 1, "cur_next at record %" PRIu64 " = %d", o, rc);
	cr_assert_eq(rec.offset, o, "cur_next at bytepos of %" PRIu64
		     " gave offset %" PRIu64, o, rec.offset);
	cr_assert_eq(rec.bytepos, l->pos[o]);
	tu_assert_bytes("record payload", rec.payload, rec.len,
			tu_log_payload(l, o), tu_log_plen(l, o));
	cur_close(c);
}

/* ---- files ------------------------------------------------------------- */

void tu_data_path(char *out, const char *rel)
{
	int k = snprintf(out, PATH_MAX, "%s/%s", tu_data, rel);

	cr_assert(k > 0 && k < PATH_MAX, "path too long");
}

void tu_topic_path(char *out, const char *name, const char *file)
{
	int k;

	if (file)
		k = snprintf(out, PATH_MAX, "%s/topics/%s/%s", tu_data, name, file);
	else
		k = snprintf(out, PATH_MAX, "%s/topics/%s", tu_data, name);
	cr_assert(k > 0 && k < PATH_MAX, "path too long");
}

void tu_seg_name(char *out, size_t outlen, uint64_t base, const char *ext)
{
	snprintf(out, outlen, "%020" PRIu64 ".%s", base, ext);
}

void tu_remove_segment(const char *name, uint64_t base)
{
	char file[64], path[PATH_MAX];

	tu_seg_name(file, sizeof file, base, "log");
	tu_topic_path(path, name, file);
	cr_assert_eq(unlink(path), 0, "unlink(%s): %s", path, strerror(errno));
	tu_seg_name(file, sizeof file, base, "index");
	tu_topic_path(path, name, file);
	unlink(path);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

size_t tu_segment_bases(const char *name, uint64_t **bases)
{
	char dir[PATH_MAX];
	DIR *d;
	struct dirent *e;
	size_t n = 0, cap = 16;
	uint64_t *v = malloc(cap * sizeof(*v));

	cr_assert_not_null(v);
	tu_topic_path(dir, name, NULL);
	d = opendir(dir);
	cr_assert_not_null(d, "opendir(%s): %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		const char *s = e->d_name;
		if (strlen(s) != 24 || strcmp(s + 20, ".log") != 0)
			continue;
		if (strspn(s, "0123456789") != 20)
			continue;
		if (n == cap) {
			cap *= 2;
			v = realloc(v, cap * sizeof(*v));
			cr_assert_not_null(v);
		}
		v[n++] = strtoull(s, NULL, 10);
	}
	closedir(d);
	qsort(v, n, sizeof(*v), cmp_u64);
	*bases = v;
	return n;
}

int tu_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

void tu_read_file(const char *path, tu_buf *out)
{
	int fd = open(path, O_RDONLY);
	char tmp[65536];
	ssize_t got;

	cr_assert_geq(fd, 0, "open(%s): %s", path, strerror(errno));
	out->len = 0;
	while ((got = read(fd, tmp, sizeof(tmp))) > 0)
		tu_buf_add(out, tmp, (size_t)got);
	cr_assert_eq(got, 0, "read(%s): %s", path, strerror(errno));
	close(fd);
}

void tu_write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	const char *q = p;

	cr_assert_geq(fd, 0, "open(%s): %s", path, strerror(errno));
	while (n > 0) {
		ssize_t w = write(fd, q, n);
		cr_assert_gt(w, 0, "write(%s): %s", path, strerror(errno));
		q += w;
		n -= (size_t)w;
	}
	cr_assert_eq(close(fd), 0);
}

void tu_truncate(const char *path, off_t len)
{
	cr_assert_eq(truncate(path, len), 0, "truncate(%s, %lld): %s", path,
		     (long long)len, strerror(errno));
}

/* nftw has no user argument: these collect for tu_tree and tu_snap_take,
** which run on the test's own thread only. */
static tu_snap *walk_snap;
static size_t walk_root_len;
static int walk_read_data;

static int walk_one(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	tu_snap *s = walk_snap;

	(void)st;
	if (ftw->level == 0)
		return 0;
	s->rel = realloc(s->rel, (s->n + 1) * sizeof(*s->rel));
	s->is_dir = realloc(s->is_dir, (s->n + 1) * sizeof(*s->is_dir));
	s->data = realloc(s->data, (s->n + 1) * sizeof(*s->data));
	if (!s->rel || !s->is_dir || !s->data)
		abort();
	s->rel[s->n] = strdup(path + walk_root_len + 1);
	s->is_dir[s->n] = flag == FTW_D;
	memset(&s->data[s->n], 0, sizeof(s->data[s->n]));
	if (walk_read_data && flag == FTW_F)
		tu_read_file(path, &s->data[s->n]);
	s->n++;
	return 0;
}

static void walk(const char *dir, tu_snap *s, int read_data)
{
	memset(s, 0, sizeof(*s));
	walk_snap = s;
	walk_root_len = strlen(dir);
	walk_read_data = read_data;
	cr_assert_eq(nftw(dir, walk_one, 32, FTW_PHYS), 0, "nftw(%s): %s", dir,
		     strerror(errno));
	walk_snap = NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *tu_tree(const char *dir)
{
	tu_snap s;
	tu_buf out = { 0 };

	walk(dir, &s, 0);
	for (size_t i = 0; i < s.n; i++) {
		if (s.is_dir[i]) {
			char *d = malloc(strlen(s.rel[i]) + 2);
			strcpy(d, s.rel[i]);
			strcat(d, "/");
			free(s.rel[i]);
			s.rel[i] = d;
		}
	}
	if (s.n > 0)
		qsort(s.rel, s.n, sizeof(*s.rel), cmp_str);
	for (size_t i = 0; i < s.n; i++) {
		tu_buf_add(&out, s.rel[i], strlen(s.rel[i]));
		tu_buf_addc(&out, '\n');
	}
	tu_buf_addc(&out, '\0');
	tu_snap_free(&s);
	return out.p;
}

void tu_snap_take(const char *dir, tu_snap *s)
{
	walk(dir, s, 1);
}

void tu_snap_restore(const char *dir, const tu_snap *s)
{
	char path[PATH_MAX];

	tu_rm_rf(dir);
	cr_assert_eq(mkdir(dir, 0755), 0, "mkdir(%s): %s", dir, strerror(errno));
	/* nftw without FTW_DEPTH lists a directory before its content */
	for (size_t i = 0; i < s->n; i++) {
		int k = snprintf(path, sizeof(path), "%s/%s", dir, s->rel[i]);
		cr_assert(k > 0 && k < (int)sizeof(path), "path too long");
		if (s->is_dir[i])
			cr_assert_eq(mkdir(path, 0755), 0, "mkdir(%s): %s",
				     path, strerror(errno));
		else
			tu_write_file(path, s->data[i].p, s->data[i].len);
	}
}

void tu_snap_free(tu_snap *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->rel[i]);
		tu_buf_free(&s->data[i]);
	}
	free(s->rel);
	free(s->is_dir);
	free(s->data);
	memset(s, 0, sizeof(*s));
}

/* ---- the segment format ------------------------------------------------ */

static uint32_t crc_table[256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[i] = c;
	}
}

uint32_t tu_crc32c(const void *p, size_t n)
{
	const unsigned char *q = p;
	uint32_t c = 0xffffffffu;

	if (crc_table[1] == 0)
		crc_init();
	while (n--)
		c = crc_table[(c ^ *q++) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

uint32_t tu_get32(const void *p)
{
	const unsigned char *q = p;

	return (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
	       (uint32_t)q[3] << 24;
}

uint64_t tu_get64(const void *p)
{
	const unsigned char *q = p;

	return (uint64_t)tu_get32(q) | (uint64_t)tu_get32(q + 4) << 32;
}

void tu_put32(void *p, uint32_t v)
{
	unsigned char *q = p;

	for (int i = 0; i < 4; i++)
		q[i] = (unsigned char)(v >> (8 * i));
}

size_t tu_walk_batches(const void *seg, size_t len, tu_batch **out)
{
	const unsigned char *s = seg;
	size_t off = TU_SEG_HEADER, n = 0;
	tu_batch *v = NULL;

	while (off + TU_BATCH_HEADER <= len) {
		uint32_t blen = tu_get32(s + off + 4);
		if (blen < TU_BATCH_HEADER || blen > len - off)
			break;
		v = realloc(v, (n + 1) * sizeof(*v));
		if (v == NULL)
			abort();
		v[n] = (tu_batch){
			.file_off = off,
			.length = blen,
			.count = tu_get32(s + off + 12),
			.base_offset = tu_get64(s + off + 16),
			.base_bytepos = tu_get64(s + off + 24),
			.timestamp_ms = (int64_t)tu_get64(s + off + 32),
			.rendered = tu_get32(s + off + 40),
			.crc_ok = tu_crc32c(s + off + 4, blen - 4) ==
				  tu_get32(s + off),
		};
		n++;
		off += blen;
	}
	*out = v;
	return n;
}

int tu_batch_record(const void *seg, const tu_batch *b, uint32_t i,
		    size_t *payload_off, size_t *payload_len)
{
	/* The batch's text is its records' lines, each ending with "\n". */
	const unsigned char *s = seg;
	size_t off = b->file_off + TU_BATCH_HEADER;
	size_t end = off + b->rendered;

	if (end > b->file_off + b->length)
		return -1;
	for (uint32_t r = 0; r < b->count; r++) {
		const unsigned char *nl = memchr(s + off, '\n', end - off);
		if (nl == NULL)
			return -1;
		if (r == i) {
			*payload_off = off;
			*payload_len = (size_t)(nl - (s + off));
			return 0;
		}
		off = (size_t)(nl - s) + 1;
	}
	return -1;
}

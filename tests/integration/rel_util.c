/*
** rel_util.c: see rel_util.h.
*/
#include "rel_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

/* ---- Lines ------------------------------------------------------------- */

static uint32_t fnv1a(const char *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 16777619u;
	}
	return h;
}

size_t r_line(char *buf, int w, uint32_t seq)
{
	int n = snprintf(buf, R_LINE_MAX, "w%02d.%08u|", w, (unsigned)seq);
	uint32_t mix = (uint32_t)w * 2654435761u ^ seq * 40503u;
	int pad = (int)(mix % 48);

	for (int k = 0; k < pad; k++)
		buf[n++] = (char)('a' + (mix >> (k % 24)) % 26);
	n += snprintf(buf + n, (size_t)(R_LINE_MAX - n), " #%08x", fnv1a(buf, (size_t)n));
	buf[n++] = '\n';
	return (size_t)n;
}

bool r_parse_line(const char *line, size_t len, int *w, uint32_t *seq)
{
	char want[R_LINE_MAX];
	unsigned ww, ss;
	char head[13];

	if (len < 12 || len + 1 > R_LINE_MAX || line[0] != 'w' || line[3] != '.' || line[12] != '|')
		return false;
	memcpy(head, line, 12);
	head[12] = '\0';
	for (int i = 1; i < 12; i++)
		if (i != 3 && (head[i] < '0' || head[i] > '9'))
			return false;
	if (sscanf(head, "w%2u.%8u", &ww, &ss) != 2 || ww >= R_MAX_WRITERS)
		return false;
	if (r_line(want, (int)ww, ss) != len + 1 || memcmp(want, line, len) != 0)
		return false;
	*w = (int)ww;
	*seq = ss;
	return true;
}

/* Up to 60 bytes of P[0..N), escaped, for a message (static buffer). */
static const char *shown(const char *p, size_t n)
{
	static char buf[256];
	size_t o = 0;

	for (size_t i = 0; i < n && i < 60 && o + 5 < sizeof buf; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, sizeof buf - o, "\\x%02x", c);
	}
	buf[o] = '\0';
	return buf;
}

char *r_view_check(const char *buf, size_t len, bool partial_ok, struct r_view *v)
{
	size_t at = 0;

	memset(v, 0, sizeof *v);
	for (int w = 0; w < R_MAX_WRITERS; w++)
		v->first[w] = v->last[w] = -1;
	while (at < len) {
		const char *nl = memchr(buf + at, '\n', len - at);
		int w;
		uint32_t seq;

		if (nl == NULL) {
			if (partial_ok)
				break;
			return h_strdupf("line %ld (byte %zu) has no '\\n': \"%s\"", v->lines + 1,
					 at, shown(buf + at, len - at));
		}
		if (!r_parse_line(buf + at, (size_t)(nl - (buf + at)), &w, &seq))
			return h_strdupf("line %ld (byte %zu) is torn or altered: \"%s\"",
					 v->lines + 1, at, shown(buf + at, (size_t)(nl - (buf + at))));
		if ((int64_t)seq <= v->last[w])
			return h_strdupf("line %ld (byte %zu): writer %d's seq %u after %lld (%s)",
					 v->lines + 1, at, w, seq, (long long)v->last[w],
					 (int64_t)seq == v->last[w] ? "a duplicate" : "out of order");
		if (v->first[w] < 0)
			v->first[w] = seq;
		v->last[w] = seq;
		v->count[w]++;
		v->lines++;
		at = (size_t)(nl - buf) + 1;
		v->complete_len = at;
	}
	return NULL;
}

/* ---- Writers ------------------------------------------------------------ */

static void ack(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ack(int fd, const char *fmt, ...)
{
	char buf[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (write(fd, buf, (size_t)n) != n)
		_exit(3);
}

void r_writer_main(const char *path, const char *ack_path, int w, uint32_t seq0,
		   int64_t stop_ms, long max_lines, int pace_us, uint64_t seed)
{
	char buf[R_MAX_BATCH * R_LINE_MAX];
	int afd = open(ack_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	struct h_rng rng;
	uint32_t seq = seq0;
	int fd;

	if (afd < 0)
		_exit(2);
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0) {
		ack(afd, "E %d\n", errno);
		_exit(0);
	}
	h_rng_seed(&rng, seed);
	while (h_now_ms() < stop_ms && (max_lines == 0 || (long)(seq - seq0) < max_lines)) {
		uint32_t n = 1 + h_rng_below(&rng, R_MAX_BATCH);
		size_t len = 0;
		ssize_t r;

		for (uint32_t k = 0; k < n; k++)
			len += r_line(buf + len, w, seq + k);
		ack(afd, "P %u %u\n", seq, seq + n - 1);
		r = write(fd, buf, len);
		if (r != (ssize_t)len) {
			ack(afd, "E %d\n", r < 0 ? errno : 0);
			_exit(0);
		}
		ack(afd, "A %u %u\n", seq, seq + n - 1);
		seq += n;
		if (pace_us > 0)
			usleep((useconds_t)pace_us);
	}
	if (close(fd) != 0)
		ack(afd, "E %d\n", errno);
	_exit(0);
}

pid_t r_fork_writer(const char *path, const char *ack_path, int w, uint32_t seq0,
		    int64_t stop_ms, long max_lines, int pace_us, uint64_t seed)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		r_writer_main(path, ack_path, w, seq0, stop_ms, max_lines, pace_us, seed);
	}
	return pid;
}

void r_read_acks(const char *ack_path, struct r_acks *a)
{
	FILE *f = fopen(ack_path, "re");
	char line[128];
	int64_t plo = -1, phi = -1;

	memset(a, 0, sizeof *a);
	a->first = a->acked = a->inflight_lo = a->inflight_hi = -1;
	if (f == NULL)
		return;
	while (fgets(line, sizeof line, f) != NULL) {
		unsigned lo, hi;
		int e;

		if (sscanf(line, "P %u %u", &lo, &hi) == 2) {
			if (a->first < 0)
				a->first = lo;
			plo = lo;
			phi = hi;
		} else if (sscanf(line, "A %u %u", &lo, &hi) == 2) {
			a->acked = hi;
			a->writes++;
			plo = phi = -1;
		} else if (sscanf(line, "E %d", &e) == 1) {
			a->last_errno = e;
		}
	}
	fclose(f);
	a->inflight_lo = plo;
	a->inflight_hi = phi;
}

int r_wait(pid_t pid, int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		if (r < 0 && errno != EINTR)
			return -2;
		if (h_now_ms() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		h_sleep_ms(2);
	}
}

/* ---- The daemon ----------------------------------------------------------- */

void r_kill9(void)
{
	char *argv[] = { "fusermount3", "-uz", H.mnt, NULL };
	int status;

	cr_assert(H.pid > 0, "r_kill9: no daemon");
	cr_assert(waitpid(H.pid, &status, WNOHANG) == 0,
		  "r_kill9: the daemon had already exited (status %d)", status);
	kill(H.pid, SIGKILL);
	while (waitpid(H.pid, &status, 0) < 0 && errno == EINTR)
		;
	H.pid = 0;
	for (int i = 0; i < 50 && h_is_mounted(H.mnt); i++) {
		h_run(argv, 10000, NULL, NULL);
		if (h_is_mounted(H.mnt))
			h_sleep_ms(20);
	}
	cr_assert(!h_is_mounted(H.mnt), "r_kill9: %s still mounted after fusermount3 -uz", H.mnt);
}

/* ---- Files ------------------------------------------------------------------ */

char *r_read_until_error(const char *path, size_t *len, int *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct h_buf b = { 0 };
	char chunk[65536];

	*err = 0;
	*len = 0;
	if (fd < 0)
		return NULL;
	h_buf_add(&b, "", 0);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*err = errno;
			break;
		}
		if (n == 0)
			break;
		h_buf_add(&b, chunk, (size_t)n);
	}
	close(fd);
	*len = b.len;
	return b.p;
}

uint64_t r_xattr_u64(const char *path, const char *name)
{
	char *v = h_getxattr(path, name);
	char *end;
	unsigned long long x;

	cr_assert(v != NULL, "getxattr %s %s: %s", path, name, strerror(errno));
	x = strtoull(v, &end, 10);
	cr_assert(end != v && *end == '\0', "%s of %s is not a number: \"%s\"", name, path, v);
	free(v);
	return (uint64_t)x;
}

void r_append(const char *topic, const char *line)
{
	int fd = open(h_mnt("%s/log", topic), O_WRONLY | O_APPEND | O_CLOEXEC);
	size_t len = strlen(line);
	ssize_t n;

	cr_assert(fd >= 0, "open %s/log: %s", topic, strerror(errno));
	n = write(fd, line, len);
	cr_assert(n == (ssize_t)len, "append to %s/log returned %zd: %s", topic, n,
		  n < 0 ? strerror(errno) : "short write");
	cr_assert(close(fd) == 0, "close %s/log: %s", topic, strerror(errno));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_into(const char *dir, const char *prefix, int depth, char ***v, size_t *n,
		      size_t *cap)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char sub[PATH_MAX], name[PATH_MAX];

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(name, sizeof name, "%s%s", prefix, e->d_name);
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 64;
			*v = realloc(*v, *cap * sizeof **v);
			cr_assert(*v != NULL);
		}
		(*v)[(*n)++] = strdup(name);
		snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
		if (depth > 0 && e->d_type == DT_DIR) {
			char p[PATH_MAX + 2];

			snprintf(p, sizeof p, "%s/", name);
			list_into(sub, p, depth - 1, v, n, cap);
		}
	}
	closedir(d);
}

char *r_list_dir(const char *dir, int depth)
{
	struct h_buf b = { 0 };
	char **v = NULL;
	size_t n = 0, cap = 0;
	DIR *d = opendir(dir);

	if (d == NULL)
		return strdup("(error)");
	closedir(d);
	list_into(dir, "", depth, &v, &n, &cap);
	if (n > 0)
		qsort(v, n, sizeof *v, cmp_str);
	h_buf_add(&b, "", 0);
	for (size_t i = 0; i < n; i++) {
		h_buf_printf(&b, "%s%s", i ? "\n" : "", v[i]);
		free(v[i]);
	}
	free(v);
	return b.p;
}

int r_sh_nobody(const char *fmt, ...)
{
	struct h_buf q = { 0 };
	va_list ap;
	char *cmd;
	int rc;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		abort();
	va_end(ap);
	/* Quote for bash's single quotes: ' becomes '\'' */
	h_buf_add(&q, "", 0);
	for (const char *p = cmd; *p; p++) {
		if (*p == '\'')
			h_buf_add(&q, "'\\''", 4);
		else
			h_buf_add(&q, p, 1);
	}
	rc = h_sh("setpriv --reuid=nobody --regid=nogroup --clear-groups -- "
		  "bash -o pipefail -c '%s'",
		  q.p);
	h_buf_free(&q);
	free(cmd);
	return rc;
}

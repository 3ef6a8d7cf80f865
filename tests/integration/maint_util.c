/*
** maint_util.c: see maint_util.h.
*/
#include "maint_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

static int cmp_seg(const void *a, const void *b)
{
	uint64_t x = ((const struct m_seg *)a)->base, y = ((const struct m_seg *)b)->base;

	return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Is NAME a segment file name, 20 digits and ".log"? Sets *BASE. */
static bool seg_name(const char *name, uint64_t *base)
{
	if (strlen(name) != 24 || strspn(name, "0123456789") != 20 || strcmp(name + 20, ".log") != 0)
		return false;
	*base = strtoull(name, NULL, 10);
	return true;
}

size_t m_disk_segments(const char *topic, struct m_seg *segs)
{
	char dir[PATH_MAX + 32];
	struct dirent *e;
	size_t n = 0;
	DIR *d;

	snprintf(dir, sizeof dir, "%s/topics/%s", H.data, topic);
	d = opendir(dir);
	cr_assert(d != NULL, "opendir %s: %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		char path[PATH_MAX + 320];
		unsigned char hdr[M_SEG_HEADER + 4];
		struct stat st;
		uint64_t base;
		ssize_t got;
		int fd;

		if (!seg_name(e->d_name, &base))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT)
			continue; /* deleted by retention meanwhile */
		cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
		cr_assert(fstat(fd, &st) == 0);
		memset(hdr, 0, sizeof hdr);
		got = pread(fd, hdr, sizeof hdr, 0);
		close(fd);
		cr_assert(got >= 0, "read %s: %s", path, strerror(errno));
		cr_assert(n < M_MAX_SEGS, "too many segments in %s", dir);
		segs[n].base = base;
		segs[n].size = (long long)st.st_size;
		memcpy(&segs[n].flags, hdr + 12, 4); /* little-endian, as the host */
		memcpy(segs[n].magic, hdr + M_SEG_HEADER, 4);
		n++;
	}
	closedir(d);
	qsort(segs, n, sizeof *segs, cmp_seg);
	return n;
}

long long m_disk_bytes(const char *topic)
{
	static struct m_seg segs[M_MAX_SEGS];
	size_t n = m_disk_segments(topic, segs);
	long long sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += segs[i].size;
	return sum;
}

size_t m_mnt_segments(const char *topic, uint64_t *bases)
{
	DIR *d = opendir(h_mnt("%s", topic));
	struct dirent *e;
	size_t n = 0;

	cr_assert(d != NULL, "opendir %s: %s", h_mnt("%s", topic), strerror(errno));
	while ((e = readdir(d)) != NULL) {
		uint64_t base;

		if (!seg_name(e->d_name, &base))
			continue;
		cr_assert(n < M_MAX_SEGS, "too many segments listed in %s", topic);
		bases[n++] = base;
	}
	closedir(d);
	qsort(bases, n, sizeof *bases, cmp_u64);
	return n;
}

char *m_get(const char *topic, const char *name)
{
	char *v = h_getxattr(h_mnt("%s", topic), name);

	cr_assert(v != NULL, "getxattr %s %s: %s", topic, name, strerror(errno));
	return v;
}

uint64_t m_figure(const char *topic, const char *name)
{
	char *v = m_get(topic, name), *end;
	uint64_t x;

	errno = 0;
	x = strtoull(v, &end, 10);
	cr_assert(v[0] >= '0' && v[0] <= '9' && *end == '\0' && errno == 0,
		  "%s of %s is \"%s\", not a number", name, topic, v);
	free(v);
	return x;
}

void m_set(const char *topic, const char *name, const char *value)
{
	cr_assert(setxattr(h_mnt("%s", topic), name, value, strlen(value), 0) == 0,
		  "setxattr %s %s=\"%s\": %s", topic, name, value, strerror(errno));
}

static void describe(const char *path, const struct stat *st, struct m_file *f)
{
	snprintf(f->path, sizeof f->path, "%s", path);
	f->ino = (unsigned long long)st->st_ino;
	f->size = (unsigned long long)st->st_size;
	f->mtime_ns = (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

static size_t list_tmp_in(const char *dir, struct m_file *out, size_t n, size_t max)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return n;
	while ((e = readdir(d)) != NULL) {
		char path[PATH_MAX];
		size_t len = strlen(e->d_name);
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (lstat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode))
			n = list_tmp_in(path, out, n, max);
		else if (len >= 4 && strcmp(e->d_name + len - 4, ".tmp") == 0 && n < max)
			describe(path, &st, &out[n++]);
	}
	closedir(d);
	return n;
}

size_t m_list_tmp(const char *dir, struct m_file *out, size_t max)
{
	return list_tmp_in(dir, out, 0, max);
}

bool m_same_file(const struct m_file *f)
{
	struct m_file now;
	struct stat st;

	if (lstat(f->path, &st) != 0)
		return false;
	describe(f->path, &st, &now);
	return now.ino == f->ino && now.size == f->size && now.mtime_ns == f->mtime_ns;
}

static int count_tmp_in(const char *dir, struct h_buf *list)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		char path[PATH_MAX];
		size_t len = strlen(e->d_name);
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (len >= 4 && strcmp(e->d_name + len - 4, ".tmp") == 0) {
			n++;
			if (list != NULL)
				h_buf_printf(list, "%s\n", path);
		}
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			n += count_tmp_in(path, list);
	}
	closedir(d);
	return n;
}

int m_count_tmp(const char *dir, struct h_buf *list)
{
	return count_tmp_in(dir, list);
}

void m_kill9(void)
{
	char *argv[] = { "fusermount3", "-uz", H.mnt, NULL };
	int status = 0;
	pid_t r;

	cr_assert(H.pid > 0, "m_kill9: not mounted");
	cr_assert(waitpid(H.pid, &status, WNOHANG) == 0,
		  "m_kill9: topicfs had already exited (status 0x%x); its log:\n%s", status,
		  h_daemon_log());
	cr_assert(kill(H.pid, SIGKILL) == 0, "kill -9 %d: %s", (int)H.pid, strerror(errno));
	while ((r = waitpid(H.pid, &status, 0)) < 0 && errno == EINTR)
		;
	cr_assert(r == H.pid, "waitpid %d: %s", (int)H.pid, strerror(errno));
	H.pid = 0;
	/* The kernel keeps the dead connection mounted until it is detached. */
	for (int i = 0; i < 50 && h_is_mounted(H.mnt); i++) {
		h_run(argv, 10000, NULL, NULL);
		if (h_is_mounted(H.mnt))
			h_sleep_ms(20);
	}
	cr_assert(!h_is_mounted(H.mnt), "%s still mounted after the daemon was killed", H.mnt);
}

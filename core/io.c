/*
** io.c: whole reads and writes, durable replacement, and the test fault hook.
*/
#include "io.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static atomic_int fault_countdown[IO_FAULT_KINDS]; /* 0: disarmed */
static atomic_int fault_err[IO_FAULT_KINDS];

void io_fault_arm(int kind, int n, int err)
{
	atomic_store(&fault_err[kind], err);
	atomic_store(&fault_countdown[kind], n);
}

static int fault_hit(int kind)
{
	int n = atomic_load(&fault_countdown[kind]);
	while (n > 0) {
		if (atomic_compare_exchange_weak(&fault_countdown[kind], &n, n - 1))
			return n == 1 ? atomic_load(&fault_err[kind]) : 0;
	}
	return 0;
}

static int pwrite_loop(int fd, const char *p, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

int io_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	int err = fault_hit(IO_FAULT_WRITE);
	if (err)
		return -err;
	return pwrite_loop(fd, buf, len, off);
}

int io_pwritev_all(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	int err = fault_hit(IO_FAULT_WRITE);
	if (err)
		return -err;
	while (iovcnt > 0 && iov->iov_len == 0)
		iov++, iovcnt--;
	while (iovcnt > 0) {
		ssize_t n = pwritev(fd, iov, iovcnt > IOV_MAX ? IOV_MAX : iovcnt, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += n;
		/* Whole pieces written are passed over; a piece written in part
		** goes on from where it stopped, with a plain pwrite. */
		while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++, iovcnt--;
		}
		if (iovcnt > 0 && n > 0) {
			int rc = pwrite_loop(fd, (const char *)iov->iov_base + n,
					     iov->iov_len - (size_t)n, off);
			if (rc < 0)
				return rc;
			off += (off_t)(iov->iov_len - (size_t)n);
			iov++, iovcnt--;
		}
	}
	return 0;
}

ssize_t io_pread_all(int fd, void *buf, size_t len, off_t off)
{
	char *p = buf;
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(fd, p + done, len - done, off + (off_t)done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int io_datasync(int fd)
{
	int err = fault_hit(IO_FAULT_SYNC);
	if (err)
		return -err;
	return fdatasync(fd) < 0 ? -errno : 0;
}

int io_fsync(int fd)
{
	int err = fault_hit(IO_FAULT_SYNC);
	if (err)
		return -err;
	return fsync(fd) < 0 ? -errno : 0;
}

static int replace_file(int dirfd, const char *name, const void *buf, size_t len, int durable)
{
	char tmp[NAME_MAX + 1];
	int fd, rc;

	if (strlen(name) > NAME_MAX)
		return -ENAMETOOLONG;
	if (strlen(name) + 4 <= NAME_MAX) {
		snprintf(tmp, sizeof tmp, "%s.tmp", name);
	} else {
		uint32_t h = 2166136261u; /* FNV-1a of the whole name */
		for (const char *p = name; *p; p++)
			h = (h ^ (unsigned char)*p) * 16777619u;
		snprintf(tmp, sizeof tmp, "%.*s.%08x.tmp", NAME_MAX - 13, name, (unsigned)h);
	}
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	rc = io_pwrite_all(fd, buf, len, 0);
	if (rc == 0 && durable)
		rc = io_fsync(fd);
	close(fd);
	if (rc == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		rc = -errno;
	if (rc < 0)
		unlinkat(dirfd, tmp, 0);
	else if (durable)
		rc = io_fsync(dirfd);
	return rc;
}

int io_replace_file(int dirfd, const char *name, const void *buf, size_t len)
{
	return replace_file(dirfd, name, buf, len, 1);
}

int io_replace_file_lazily(int dirfd, const char *name, const void *buf, size_t len)
{
	return replace_file(dirfd, name, buf, len, 0);
}

int io_read_file(int dirfd, const char *name, char **buf, size_t *len)
{
	struct stat st;
	char *b = NULL;
	ssize_t n;
	int rc = 0;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	b = malloc((size_t)st.st_size + 1);
	if (!b) {
		rc = -ENOMEM;
		goto out;
	}
	n = io_pread_all(fd, b, (size_t)st.st_size, 0);
	if (n < 0) {
		rc = (int)n;
		free(b);
		goto out;
	}
	b[n] = 0;
	*buf = b;
	*len = (size_t)n;
out:
	close(fd);
	return rc;
}

int io_remove_tree(int parent, const char *name)
{
	int fd, rc = 0;
	DIR *d;
	struct dirent *de;

	if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	int unlink_errno = errno; /* EPERM: a directory, or a file that may not go */
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : errno == ENOTDIR ? -unlink_errno : -errno;
	d = fdopendir(fd);
	if (!d) {
		rc = -errno;
		close(fd);
		return rc;
	}
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		int r = io_remove_tree(dirfd(d), de->d_name);
		if (r && !rc)
			rc = r;
	}
	closedir(d);
	if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT && !rc)
		rc = -errno;
	return rc;
}

int64_t io_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

DIR *io_opendir_at(int dirfd, const char *sub)
{
	int fd = openat(dirfd, sub ? sub : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;

	if (fd < 0)
		return NULL;
	if ((d = fdopendir(fd)) == NULL) {
		int e = errno;
		close(fd);
		errno = e;
	}
	return d;
}

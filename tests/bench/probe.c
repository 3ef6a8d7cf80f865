/*
** probe.c: the small measurements the benchmark driver (run.sh) needs and
** that a shell would make imprecise or slow.
**
**   probe start TIMEOUT_S MNT LOG -- PROG ARGS...
**       Start PROG (a FUSE daemon run with -f) with its output in LOG, and
**       wait until MNT is a different file system than before and answers
**       stat(). Prints "<pid> <seconds from exec to answered stat>". The
**       daemon keeps running; unmount it with fusermount3 -u.
**   probe cpu PID
**       utime + stime of every thread of PID, in seconds (/proc/PID/stat).
**   probe segs DIR...
**       Reads the header of every segment file in the topic directories
**       DIR (DATADIR/topics/NAME, segment.c has the format: flags at byte
**       12, bit 0 = zstd) and prints "<segments> <sealed> <sealed zstd>
**       <sealed plain> <bytes of all segment files>". A topic's newest
**       segment (highest base offset) is the one that is not sealed.
**   probe waitsegs TIMEOUT_S zstd|none DIR...
**       Waits until every sealed segment of every DIR is stored as asked.
**       Exit 1 on timeout.
**   probe waitlog TIMEOUT_S FILE NEEDLE COUNT
**       Waits until FILE holds NEEDLE at least COUNT times; prints the
**       time of day it saw it (seconds since the epoch, as bash's
**       $EPOCHREALTIME). Exit 1 on timeout.
**   probe warm MIB
**       Writes one byte to every page of MIB MiB of fresh anonymous memory,
**       then gives it back; prints the seconds it took. On this VM, whose
**       balloon hands free memory back to the host, that brings pages the
**       host took back into the VM again (run.sh says why it matters).
**
** Compile with: gcc -O2 -Wall probe.c -o probe
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SEG_HEADER_SIZE 64
#define SEG_FLAG_ZSTD 1

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double real_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_us(long us)
{
	struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};

	nanosleep(&ts, NULL);
}

static int cmd_start(int argc, char *argv[])
{
	double timeout, t0;
	const char *mnt, *log;
	struct stat before, st;
	pid_t pid;
	int fd;

	if (argc < 6 || strcmp(argv[4], "--") != 0)
		return 2;
	timeout = strtod(argv[1], NULL);
	mnt = argv[2];
	log = argv[3];
	if (stat(mnt, &before) < 0) {
		fprintf(stderr, "probe: %s: %s\n", mnt, strerror(errno));
		return 1;
	}
	t0 = mono_s();
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0) {
			dup2(fd, 0);
			close(fd);
		}
		execvp(argv[5], argv + 5);
		fprintf(stderr, "probe: exec %s: %s\n", argv[5], strerror(errno));
		_exit(127);
	}
	for (;;) {
		int status;

		if (stat(mnt, &st) == 0 && st.st_dev != before.st_dev)
			break;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			fprintf(stderr, "probe: %s exited before mounting (see %s)\n",
				argv[5], log);
			return 1;
		}
		if (mono_s() - t0 > timeout) {
			fprintf(stderr, "probe: %s did not mount %s in %.0f s\n", argv[5],
				mnt, timeout);
			kill(pid, SIGTERM);
			return 1;
		}
		sleep_us(200);
	}
	printf("%d %.6f\n", (int)pid, mono_s() - t0);
	return 0;
}

static int cmd_cpu(int argc, char *argv[])
{
	char path[64], buf[4096], *p;
	unsigned long long ut, st;
	ssize_t n;
	int fd;

	if (argc != 2)
		return 2;
	snprintf(path, sizeof path, "/proc/%s/stat", argv[1]);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = '\0';
	/* Fields after the command name, which ends with the last ')'. */
	p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
				&ut, &st) != 2)
		return 1;
	printf("%.3f\n", (double)(ut + st) / (double)sysconf(_SC_CLK_TCK));
	return 0;
}

struct seg_count {
	unsigned long long segments, sealed, sealed_zstd, sealed_plain, bytes;
};

/* Count the segments of one topic directory into c. */
static int scan_topic(const char *dir, struct seg_count *c)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned long long newest_base = 0;
	int newest_flags = -1, have = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		unsigned char h[SEG_HEADER_SIZE];
		char path[4096];
		unsigned long long base;
		struct stat st;
		int fd, flags;

		if (len != 24 || strcmp(e->d_name + 20, ".log") != 0)
			continue;
		base = strtoull(e->d_name, NULL, 10);
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue; /* replaced or deleted meanwhile */
		if (fstat(fd, &st) < 0 || pread(fd, h, sizeof h, 0) != (ssize_t)sizeof h) {
			close(fd);
			continue;
		}
		close(fd);
		flags = h[12] | h[13] << 8;
		c->segments++;
		c->bytes += (unsigned long long)st.st_size;
		c->sealed++;
		if (flags & SEG_FLAG_ZSTD)
			c->sealed_zstd++;
		else
			c->sealed_plain++;
		if (!have || base > newest_base) {
			newest_base = base;
			newest_flags = flags;
			have = 1;
		}
	}
	closedir(d);
	if (have) { /* the newest one was counted as sealed: take it back */
		c->sealed--;
		if (newest_flags & SEG_FLAG_ZSTD)
			c->sealed_zstd--;
		else
			c->sealed_plain--;
	}
	return 0;
}

static int scan(int n, char *dirs[], struct seg_count *c)
{
	memset(c, 0, sizeof *c);
	for (int i = 0; i < n; i++)
		if (scan_topic(dirs[i], c) < 0) {
			fprintf(stderr, "probe: %s: %s\n", dirs[i], strerror(errno));
			return -1;
		}
	return 0;
}

static int cmd_segs(int argc, char *argv[])
{
	struct seg_count c;

	if (argc < 2 || scan(argc - 1, argv + 1, &c) < 0)
		return 1;
	printf("%llu %llu %llu %llu %llu\n", c.segments, c.sealed, c.sealed_zstd,
	       c.sealed_plain, c.bytes);
	return 0;
}

static int cmd_waitsegs(int argc, char *argv[])
{
	double timeout, t0 = mono_s();
	int want_zstd;
	struct seg_count c;

	if (argc < 4)
		return 2;
	timeout = strtod(argv[1], NULL);
	want_zstd = strcmp(argv[2], "zstd") == 0;
	for (;;) {
		if (scan(argc - 3, argv + 3, &c) < 0)
			return 1;
		if ((want_zstd ? c.sealed_plain : c.sealed_zstd) == 0)
			return 0;
		if (mono_s() - t0 > timeout) {
			fprintf(stderr, "probe: %llu of %llu sealed segments still not %s "
					"after %.0f s\n",
				want_zstd ? c.sealed_plain : c.sealed_zstd, c.sealed, argv[2],
				timeout);
			return 1;
		}
		sleep_us(100000);
	}
}

static int cmd_waitlog(int argc, char *argv[])
{
	double timeout, t0 = mono_s();
	const char *needle;
	size_t nlen, keep = 0;
	unsigned long long want, seen = 0;
	char buf[65536 + 256];
	off_t pos = 0;
	int fd;

	if (argc != 5)
		return 2;
	timeout = strtod(argv[1], NULL);
	needle = argv[3];
	nlen = strlen(needle);
	want = strtoull(argv[4], NULL, 10);
	if (nlen == 0 || nlen > 255)
		return 2;
	fd = open(argv[2], O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "probe: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	for (;;) {
		ssize_t n = pread(fd, buf + keep, sizeof buf - keep, pos);

		if (n > 0) {
			size_t have = keep + (size_t)n;
			char *p = buf, *end = buf + have, *hit;

			pos += n;
			while ((hit = memmem(p, (size_t)(end - p), needle, nlen)) != NULL) {
				seen++;
				p = hit + nlen;
			}
			/* Keep what could start a needle cut by the end of buf. */
			keep = (size_t)(end - p) < nlen - 1 ? (size_t)(end - p) : nlen - 1;
			memmove(buf, end - keep, keep);
			if (seen >= want)
				break;
			continue;
		}
		if (mono_s() - t0 > timeout) {
			fprintf(stderr, "probe: '%s' seen %llu of %llu times in %s after %.0f s\n",
				needle, seen, want, argv[2], timeout);
			return 1;
		}
		sleep_us(2000);
	}
	printf("%.6f\n", real_s());
	close(fd);
	return 0;
}

static int cmd_warm(int argc, char *argv[])
{
	size_t len, page = (size_t)sysconf(_SC_PAGESIZE);
	volatile char *p;
	double t0 = mono_s();

	if (argc != 2 || atol(argv[1]) <= 0)
		return 2;
	len = (size_t)atol(argv[1]) << 20;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "probe: cannot map %s MiB: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (size_t off = 0; off < len; off += page)
		p[off] = 1;
	munmap((void *)p, len);
	printf("%.3f\n", mono_s() - t0);
	return 0;
}

int main(int argc, char *argv[])
{
	int rc = 2;

	if (argc >= 2) {
		if (strcmp(argv[1], "start") == 0)
			rc = cmd_start(argc - 1, argv + 1);
		else if (strcmp(argv[1], "cpu") == 0)
			rc = cmd_cpu(argc - 1, argv + 1);
		else if (strcmp(argv[1], "segs") == 0)
			rc = cmd_segs(argc - 1, argv + 1);
		else if (strcmp(argv[1], "waitsegs") == 0)
			rc = cmd_waitsegs(argc - 1, argv + 1);
		else if (strcmp(argv[1], "waitlog") == 0)
			rc = cmd_waitlog(argc - 1, argv + 1);
		else if (strcmp(argv[1], "warm") == 0)
			rc = cmd_warm(argc - 1, argv + 1);
	}
	if (rc == 2)
		fprintf(stderr, "usage: probe start|cpu|segs|waitsegs|waitlog|warm ... "
				"(see probe.c)\n");
	return rc;
}

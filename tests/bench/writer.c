/*
** writer.c: append lines or bytes with a chosen write() size, as a
** logging program would.
**
**   writer -l LEN -n LINES IN OUT
**       One write() per line, LINES lines taken from IN in order (again
**       from the start when IN runs out), each cut or padded with spaces
**       to exactly LEN bytes including its "\n" (LEN 0: as they are). This
**       is how nginx and syslog daemons write their logs.
**   writer -b CHUNK -t BYTES IN OUT...
**       BYTES bytes into every OUT, in write() calls of CHUNK bytes cut at
**       the last "\n" in the chunk, taken from IN round robin over the OUTs
**       (IN's bytes follow on from one OUT to the next), so many topics
**       fill at once.
**   writer -b CHUNK -t BYTES -s IN OUT...
**       The same with only IN's first CHUNK bytes, written again and
**       again: the source stays in cache, as a FUSE daemon's request
**       buffer does, and the time is the destination's alone.
**
** Every OUT is opened with O_WRONLY|O_APPEND|O_CREAT. Prints on stdout
** "<writes> <bytes> <seconds>": the time from the first write to the last
** close, measured with CLOCK_MONOTONIC.
**
** Compile with: gcc -O2 -Wall writer.c -o writer
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *arg)
{
	fprintf(stderr, "writer: %s %s: %s\n", what, arg ? arg : "", strerror(errno));
	exit(1);
}

/* All of path in memory; *len receives its size. */
static char *slurp(const char *path, size_t limit, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	size_t want, got = 0;
	char *p;

	if (fd < 0 || fstat(fd, &st) < 0)
		die("open", path);
	want = (size_t)st.st_size;
	if (limit && want > limit)
		want = limit;
	p = malloc(want + 1);
	if (p == NULL)
		die("malloc", NULL);
	while (got < want) {
		ssize_t n = read(fd, p + got, want - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("read", path);
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return p;
}

static void write_all(int fd, const char *p, size_t n, const char *path)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			die("write", path);
		p += w;
		n -= (size_t)w;
	}
}

static int lines_mode(const char *in, const char *out, size_t len, unsigned long long lines)
{
	size_t n, pos = 0;
	/* Enough of IN for the lines wanted (lines are ~230 bytes). */
	char *data = slurp(in, (size_t)lines * 600 + (1u << 20), &n);
	char *line = malloc(len ? len : 65536);
	unsigned long long i, bytes = 0;
	double t0, t1;
	int fd;

	if (line == NULL)
		die("malloc", NULL);
	/* Only whole lines of IN. */
	while (n > 0 && data[n - 1] != '\n')
		n--;
	if (n == 0) {
		fprintf(stderr, "writer: %s has no line\n", in);
		return 1;
	}
	fd = open(out, O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (fd < 0)
		die("open", out);
	t0 = now_s();
	for (i = 0; i < lines; i++) {
		const char *nl = memchr(data + pos, '\n', n - pos);
		size_t l = (size_t)(nl - (data + pos)); /* without "\n" */
		size_t w;

		if (len) {
			size_t keep = l < len - 1 ? l : len - 1;
			memcpy(line, data + pos, keep);
			memset(line + keep, ' ', len - 1 - keep);
			line[len - 1] = '\n';
			w = len;
			write_all(fd, line, w, out);
		} else {
			w = l + 1;
			write_all(fd, data + pos, w, out);
		}
		bytes += w;
		pos += l + 1;
		if (pos >= n)
			pos = 0;
	}
	if (close(fd) < 0)
		die("close", out);
	t1 = now_s();
	printf("%llu %llu %.6f\n", lines, bytes, t1 - t0);
	free(line);
	free(data);
	return 0;
}

static int bytes_mode(const char *in, char **outs, int nout, size_t chunk,
		      unsigned long long per_out, int hot)
{
	size_t n, pos = 0;
	char *data = slurp(in, hot ? chunk : 0, &n);
	unsigned long long *done = calloc((size_t)nout, sizeof(*done));
	unsigned long long writes = 0, bytes = 0;
	int *fds = calloc((size_t)nout, sizeof(*fds));
	struct rlimit rl;
	double t0, t1;
	int left = nout;

	if (done == NULL || fds == NULL)
		die("malloc", NULL);
	if (n < chunk) {
		fprintf(stderr, "writer: %s is shorter than a chunk\n", in);
		return 1;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (int k = 0; k < nout; k++) {
		fds[k] = open(outs[k], O_WRONLY | O_APPEND | O_CREAT, 0644);
		if (fds[k] < 0)
			die("open", outs[k]);
	}
	t0 = now_s();
	while (left > 0) {
		for (int k = 0; k < nout; k++) {
			size_t w = chunk;
			const char *nl;

			if (done[k] >= per_out)
				continue;
			if (per_out - done[k] < w)
				w = (size_t)(per_out - done[k]);
			if (pos + w > n)
				pos = 0;
			/* Whole lines, so each write's records are complete. */
			nl = memrchr(data + pos, '\n', w);
			if (nl != NULL)
				w = (size_t)(nl - (data + pos)) + 1;
			write_all(fds[k], data + pos, w, outs[k]);
			pos += w;
			done[k] += w;
			writes++;
			bytes += w;
			if (done[k] >= per_out)
				left--;
		}
	}
	for (int k = 0; k < nout; k++)
		if (close(fds[k]) < 0)
			die("close", outs[k]);
	t1 = now_s();
	printf("%llu %llu %.6f\n", writes, bytes, t1 - t0);
	free(fds);
	free(done);
	free(data);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: writer -l LEN -n LINES IN OUT\n"
			"       writer -b CHUNK -t BYTES [-s] IN OUT...\n");
	exit(2);
}

int main(int argc, char *argv[])
{
	unsigned long long lines = 0, total = 0;
	size_t len = 0, chunk = 0;
	int c, have_len = 0, hot = 0;

	while ((c = getopt(argc, argv, "l:n:b:t:s")) != -1) {
		switch (c) {
		case 'l':
			len = strtoul(optarg, NULL, 10);
			have_len = 1;
			break;
		case 'n':
			lines = strtoull(optarg, NULL, 10);
			break;
		case 'b':
			chunk = strtoul(optarg, NULL, 10);
			break;
		case 't':
			total = strtoull(optarg, NULL, 10);
			break;
		case 's':
			hot = 1;
			break;
		default:
			usage();
		}
	}
	if (have_len && lines > 0 && argc - optind == 2 && len != 1)
		return lines_mode(argv[optind], argv[optind + 1], len, lines);
	if (chunk > 0 && total > 0 && argc - optind >= 2)
		return bytes_mode(argv[optind], argv + optind + 1, argc - optind - 1,
				  chunk, total, hot);
	usage();
	return 2;
}

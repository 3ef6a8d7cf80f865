/*
** writer.c: append lines or bytes with a chosen write() size, as a
** logging program would.
**
**   writer -l LEN -n LINES [-k BLOCK] IN OUT...
**       One write() per line, LINES lines taken from IN in order (again
**       from the start when IN runs out), each cut or padded with spaces
**       to exactly LEN bytes including its "\n" (LEN 0: as they are). This
**       is how nginx and syslog daemons write their logs. With several
**       OUTs, each gets the same LINES lines, BLOCK lines (default 100)
**       at a time, the OUTs taking turns in an order that rotates by one
**       each turn: a burst of the machine's other work then slows them
**       all alike. Prints one line per OUT, its time being the sum of its
**       blocks and its close.
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
** close (one line per OUT in -l mode), measured with CLOCK_MONOTONIC.
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

/* The next line of data[0..n) at *pos, cut or padded to len bytes (len
** 0: as it is) in line; returns where it is and its size in *w. */
static const char *next_line(const char *data, size_t n, size_t *pos,
			     size_t len, char *line, size_t *w)
{
	const char *p = data + *pos;
	const char *nl = memchr(p, '\n', n - *pos);
	size_t l = (size_t)(nl - p); /* without "\n" */

	*pos += l + 1;
	if (*pos >= n)
		*pos = 0;
	if (len == 0) {
		*w = l + 1;
		return p;
	}
	size_t keep = l < len - 1 ? l : len - 1;
	memcpy(line, p, keep);
	memset(line + keep, ' ', len - 1 - keep);
	line[len - 1] = '\n';
	*w = len;
	return line;
}

static int lines_mode(const char *in, char **outs, int nout, size_t len,
		      unsigned long long lines, unsigned long long block)
{
	size_t n;
	/* Enough of IN for the lines wanted (lines are ~230 bytes). */
	char *data = slurp(in, (size_t)lines * 600 + (1u << 20), &n);
	char *line = malloc(len ? len : 65536);
	size_t *pos = calloc((size_t)nout, sizeof(*pos));
	int *fds = calloc((size_t)nout, sizeof(*fds));
	double *secs = calloc((size_t)nout, sizeof(*secs));
	unsigned long long *bytes = calloc((size_t)nout, sizeof(*bytes));
	unsigned long long done = 0;
	int turn = 0;

	if (line == NULL || pos == NULL || fds == NULL || secs == NULL ||
	    bytes == NULL)
		die("malloc", NULL);
	/* Only whole lines of IN. */
	while (n > 0 && data[n - 1] != '\n')
		n--;
	if (n == 0) {
		fprintf(stderr, "writer: %s has no line\n", in);
		return 1;
	}
	for (int k = 0; k < nout; k++) {
		fds[k] = open(outs[k], O_WRONLY | O_APPEND | O_CREAT, 0644);
		if (fds[k] < 0)
			die("open", outs[k]);
	}
	for (; done < lines; done += block, turn++) {
		unsigned long long m = lines - done < block ? lines - done : block;

		for (int j = 0; j < nout; j++) {
			int k = (turn + j) % nout;
			double t0 = now_s();

			for (unsigned long long i = 0; i < m; i++) {
				size_t w;
				const char *p = next_line(data, n, &pos[k], len, line, &w);

				write_all(fds[k], p, w, outs[k]);
				bytes[k] += w;
			}
			secs[k] += now_s() - t0;
		}
	}
	for (int k = 0; k < nout; k++) {
		double t0 = now_s();

		if (close(fds[k]) < 0)
			die("close", outs[k]);
		secs[k] += now_s() - t0;
		printf("%llu %llu %.6f\n", lines, bytes[k], secs[k]);
	}
	free(bytes);
	free(secs);
	free(fds);
	free(pos);
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
	fprintf(stderr, "usage: writer -l LEN -n LINES [-k BLOCK] IN OUT...\n"
			"       writer -b CHUNK -t BYTES [-s] IN OUT...\n");
	exit(2);
}

int main(int argc, char *argv[])
{
	unsigned long long lines = 0, total = 0, block = 100;
	size_t len = 0, chunk = 0;
	int c, have_len = 0, hot = 0;

	while ((c = getopt(argc, argv, "l:n:k:b:t:s")) != -1) {
		switch (c) {
		case 'l':
			len = strtoul(optarg, NULL, 10);
			have_len = 1;
			break;
		case 'n':
			lines = strtoull(optarg, NULL, 10);
			break;
		case 'k':
			block = strtoull(optarg, NULL, 10);
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
	if (have_len && lines > 0 && block > 0 && argc - optind >= 2 && len != 1)
		return lines_mode(argv[optind], argv + optind + 1, argc - optind - 1,
				  len, lines, block);
	if (chunk > 0 && total > 0 && argc - optind >= 2)
		return bytes_mode(argv[optind], argv + optind + 1, argc - optind - 1,
				  chunk, total, hot);
	usage();
	return 2;
}

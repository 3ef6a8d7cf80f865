/*
** follow.c: how long an appended line takes to become visible to a reader
** that polls (B4 of the benchmark).
**
**   follow [-r LINES_PER_S] [-d SECONDS] [-p POLL_US] [-l LEN] FILE
**
** A writer thread appends LEN-byte lines (O_APPEND) at a steady pace, each
** carrying its sequence number and the CLOCK_MONOTONIC time at which its
** write() began. A line due while the write() before it was still in
** flight goes out in the next write() with the others due by then (at
** most MAX_BATCH), as a logger that buffers while it waits does; at one
** write() per line, a round trip longer than the pace (100 us at 10,000
** lines/s) would slow the writer below the rate asked for. A reader
** thread, which opened FILE before the first append, reads to the end of
** the file, then sleeps POLL_US and reads again, as a follower polling
** every millisecond does. The latency of a line is the time from the start
** of its write() to the read() that returned it.
**
** Prints "<p50_ms> <p90_ms> <p99_ms> <max_ms> <lines seen> <lines written>
** <achieved lines/s> <write p50_ms> <write p99_ms> <late p99_ms> <lines
** per write> <lag p99_ms>": the latency of a line, then how long the
** write() calls took, how late the reader's sleeps ended (beyond POLL_US),
** which tells a slow file system from a machine that runs the reader late,
** the mean number of lines a write() carried, and how long after its due
** time a write() began. Exits 1 when lines were lost, duplicated or out of
** order.
**
** Compile with: gcc -O2 -Wall -pthread follow.c -o follow -lm
*/
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_BATCH 64 /* lines a write() carries at most */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct run {
	const char *path;
	double rate;
	uint64_t lines;
	size_t len;
	long poll_us;

	uint64_t written;   /* set by the writer when done */
	uint64_t writes;    /* write() calls, each with a write_ms and lag_ms */
	double write_secs;
	atomic_int writer_done; /* release: written and write_secs are set */

	double *lat_ms;	   /* per line seen, in order */
	double *write_ms;  /* per write(): how long it took */
	double *lag_ms;	   /* per write(): how long after its first line's due time it began */
	double *late_ms;   /* per sleep of the reader: how late it woke */
	uint64_t sleeps, sleeps_cap;
	uint64_t seen;
	int bad;
};

/* When line i is due: t0 plus its share of the pace. */
static uint64_t due_ns(const struct run *r, uint64_t t0, uint64_t i)
{
	return t0 + (uint64_t)((double)i * 1e9 / r->rate);
}

static void *writer(void *arg)
{
	struct run *r = arg;
	char *buf = malloc(MAX_BATCH * r->len);
	int fd = open(r->path, O_WRONLY | O_APPEND);
	uint64_t t0, i;

	if (fd < 0 || buf == NULL) {
		fprintf(stderr, "follow: open %s: %s\n", r->path, strerror(errno));
		exit(1);
	}
	/* The filler looks like the rest of a log line. */
	for (size_t k = 0; k < MAX_BATCH * r->len; k++)
		buf[k] = "GET /api/v1/orders/items HTTP/1.1 200 4211 "[k % r->len % 43];
	for (size_t b = 0; b < MAX_BATCH; b++)
		buf[(b + 1) * r->len - 1] = '\n';
	t0 = mono_ns();
	for (i = 0; i < r->lines;) {
		uint64_t due = due_ns(r, t0, i);
		struct timespec d = {.tv_sec = (time_t)(due / 1000000000ull),
				     .tv_nsec = (long)(due % 1000000000ull)};
		uint64_t ts, n = 1;

		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &d, NULL);
		ts = mono_ns();
		while (i + n < r->lines && n < MAX_BATCH && due_ns(r, t0, i + n) <= ts)
			n++;
		for (uint64_t b = 0; b < n; b++) {
			char head[48];
			int h = snprintf(head, sizeof head, "%012llu %020llu ",
					 (unsigned long long)(i + b), (unsigned long long)ts);
			memcpy(buf + b * r->len, head, (size_t)h);
		}
		ssize_t w = write(fd, buf, n * r->len);

		r->write_ms[r->writes] = (double)(mono_ns() - ts) / 1e6;
		r->lag_ms[r->writes++] = ts > due ? (double)(ts - due) / 1e6 : 0;
		if (w != (ssize_t)(n * r->len)) {
			fprintf(stderr, "follow: write: %s\n", w < 0 ? strerror(errno) : "short");
			exit(1);
		}
		i += n;
	}
	r->write_secs = (double)(mono_ns() - t0) / 1e9;
	close(fd);
	r->written = i;
	atomic_store(&r->writer_done, 1);
	free(buf);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(const double *v, uint64_t n, double p)
{
	uint64_t i;

	if (n == 0)
		return -1;
	i = (uint64_t)(p * (double)(n - 1) + 0.5);
	return v[i];
}

int main(int argc, char *argv[])
{
	struct run r = {.rate = 10000, .len = 150, .poll_us = 1000};
	double seconds = 10;
	size_t cap = 1 << 20, have = 0;
	char *buf;
	pthread_t th;
	uint64_t idle_since = 0;
	int c, fd;

	while ((c = getopt(argc, argv, "r:d:p:l:")) != -1) {
		switch (c) {
		case 'r':
			r.rate = strtod(optarg, NULL);
			break;
		case 'd':
			seconds = strtod(optarg, NULL);
			break;
		case 'p':
			r.poll_us = strtol(optarg, NULL, 10);
			break;
		case 'l':
			r.len = strtoul(optarg, NULL, 10);
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind != 1 || r.rate <= 0 || seconds <= 0 || r.len < 40)
		goto usage;
	r.path = argv[optind];
	r.lines = (uint64_t)(r.rate * seconds);
	r.lat_ms = malloc(r.lines * sizeof(double));
	r.write_ms = malloc(r.lines * sizeof(double));
	r.lag_ms = malloc(r.lines * sizeof(double));
	/* The reader sleeps about once per poll interval, for as long as the
	** writer takes, which is longer when it cannot keep its pace. */
	r.sleeps_cap = 4096;
	r.late_ms = malloc(r.sleeps_cap * sizeof(double));
	buf = malloc(cap);
	if (r.lat_ms == NULL || r.write_ms == NULL || r.lag_ms == NULL || r.late_ms == NULL ||
	    buf == NULL)
		return 1;

	fd = open(r.path, O_RDONLY);
	if (fd < 0 || lseek(fd, 0, SEEK_END) < 0) {
		fprintf(stderr, "follow: open %s: %s\n", r.path, strerror(errno));
		return 1;
	}
	if (pthread_create(&th, NULL, writer, &r) != 0)
		return 1;

	for (;;) {
		ssize_t n = read(fd, buf + have, cap - have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "follow: read: %s\n", strerror(errno));
			return 1;
		}
		if (n > 0) {
			uint64_t now = mono_ns();
			char *p = buf, *end = buf + have + n, *nl;

			while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
				unsigned long long seq, ts;
				if (sscanf(p, "%12llu %20llu ", &seq, &ts) != 2 || seq != r.seen ||
				    r.seen >= r.lines) {
					r.bad = 1;
				} else {
					r.lat_ms[r.seen] = (double)(now - ts) / 1e6;
					r.seen++;
				}
				p = nl + 1;
			}
			have = (size_t)(end - p);
			memmove(buf, p, have);
			idle_since = 0;
			continue; /* read on until the end of the file */
		}
		if (atomic_load(&r.writer_done)) {
			if (r.seen >= r.written)
				break;
			if (idle_since == 0)
				idle_since = mono_ns();
			else if (mono_ns() - idle_since > 5000000000ull)
				break; /* lines that never came */
		}
		uint64_t slept = mono_ns();
		usleep((useconds_t)r.poll_us);
		slept = mono_ns() - slept;
		if (r.sleeps == r.sleeps_cap) {
			double *more = realloc(r.late_ms, 2 * r.sleeps_cap * sizeof(double));
			if (more == NULL)
				return 1;
			r.late_ms = more;
			r.sleeps_cap *= 2;
		}
		r.late_ms[r.sleeps++] = (double)slept / 1e6 - (double)r.poll_us / 1e3;
	}
	pthread_join(th, NULL);
	close(fd);

	qsort(r.lat_ms, r.seen, sizeof(double), cmp_double);
	qsort(r.write_ms, r.writes, sizeof(double), cmp_double);
	qsort(r.lag_ms, r.writes, sizeof(double), cmp_double);
	qsort(r.late_ms, r.sleeps, sizeof(double), cmp_double);
	printf("%.3f %.3f %.3f %.3f %llu %llu %.0f %.3f %.3f %.3f %.3f %.3f\n",
	       pct(r.lat_ms, r.seen, 0.50), pct(r.lat_ms, r.seen, 0.90), pct(r.lat_ms, r.seen, 0.99),
	       r.seen ? r.lat_ms[r.seen - 1] : -1, (unsigned long long)r.seen,
	       (unsigned long long)r.written, (double)r.written / r.write_secs,
	       pct(r.write_ms, r.writes, 0.50), pct(r.write_ms, r.writes, 0.99),
	       pct(r.late_ms, r.sleeps, 0.99), r.writes ? (double)r.written / (double)r.writes : 0,
	       pct(r.lag_ms, r.writes, 0.99));
	if (r.bad || r.seen != r.written) {
		fprintf(stderr, "follow: %s: saw %llu of %llu lines%s\n", r.path,
			(unsigned long long)r.seen, (unsigned long long)r.written,
			r.bad ? ", some out of order or garbled" : "");
		return 1;
	}
	free(buf);
	free(r.lat_ms);
	free(r.write_ms);
	free(r.lag_ms);
	free(r.late_ms);
	return 0;
usage:
	fprintf(stderr, "usage: follow [-r LINES_PER_S] [-d SECONDS] [-p POLL_US] "
			"[-l LEN] FILE\n");
	return 2;
}

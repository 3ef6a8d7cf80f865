/*
** test_concurrent.c: many writers append to one topic at once (SPEC.md,
** "Records never interleave").
**
** Eight processes append 10,000 lines each, each through its own open file,
** sometimes one line per write() and sometimes a few. Afterwards every line
** is present exactly once and intact, each writer's lines are in increasing
** sequence order, and the lines of one write() are adjacent in the log.
*/
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define WRITERS 8
#define LINES 10000
#define MAX_BATCH 4

TestSuite(concurrent, .init = h_setup, .fini = h_teardown, .timeout = 120);

/* Line SEQ of writer W (NUL-terminated), with a padding that both the
 * writer and the checker compute. CAP must be at least 128. */
static size_t format_line(char *buf, size_t cap, int w, int seq)
{
	int n = snprintf(buf, cap, "w%d-%05d-", w, seq);
	int pad = (w * 131 + seq * 7) % 89;

	for (int k = 0; k < pad; k++)
		buf[n++] = (char)('a' + (w + seq + k) % 26);
	buf[n++] = '\n';
	buf[n] = '\0';
	return (size_t)n;
}

/* How many lines writer W puts in the write() that starts at SEQ. */
static int batch_size(struct h_rng *rng)
{
	return h_rng_below(rng, 2) == 0 ? 1 : 2 + (int)h_rng_below(rng, MAX_BATCH - 1);
}

/* A writer process: waits for GO to close, then appends its lines. */
static void writer(int w, int go)
{
	char buf[MAX_BATCH * 128];
	struct h_rng rng;
	char c;
	int fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	fd = open(h_mnt("t/log"), O_WRONLY | O_APPEND);
	if (fd < 0) {
		fprintf(stderr, "writer %d: open: %s\n", w, strerror(errno));
		_exit(1);
	}
	if (read(go, &c, 1) < 0)
		_exit(1);
	h_rng_seed(&rng, 100 + (uint64_t)w);
	for (int seq = 0; seq < LINES;) {
		int n = batch_size(&rng);
		size_t len = 0;

		for (int k = 0; k < n && seq < LINES; k++, seq++)
			len += format_line(buf + len, sizeof buf - len, w, seq);
		ssize_t r = write(fd, buf, len);
		if (r != (ssize_t)len) {
			fprintf(stderr, "writer %d: write at seq %d returned %zd: %s\n", w, seq, r,
				r < 0 ? strerror(errno) : "short write");
			_exit(1);
		}
	}
	_exit(close(fd) == 0 ? 0 : 1);
}

/*
** Check LOG line by line. Returns NULL if it holds every line of every
** writer exactly once, intact, in each writer's order, with the lines of
** each write() adjacent; else a malloc'd description of the first problem.
*/
static char *check_log(const char *log, size_t len, bool batch_start[WRITERS][LINES])
{
	int next[WRITERS] = { 0 };
	int prev_w = -1, prev_seq = -1;
	size_t pos = 0, lineno = 0;
	char *msg = NULL;

	while (pos < len && msg == NULL) {
		const char *line = log + pos;
		const char *nl = memchr(line, '\n', len - pos);
		char want[128];
		int w, seq;

		lineno++;
		if (nl == NULL) {
			msg = h_strdupf("line %zu has no final newline", lineno);
			break;
		}
		if (sscanf(line, "w%d-%d-", &w, &seq) != 2 || w < 0 || w >= WRITERS || seq < 0 ||
		    seq >= LINES) {
			msg = h_strdupf("line %zu is not a writer's line: \"%.*s\"", lineno,
					(int)(nl - line < 100 ? nl - line : 100), line);
			break;
		}
		if (format_line(want, sizeof want, w, seq) != (size_t)(nl - line + 1) ||
		    memcmp(want, line, (size_t)(nl - line + 1)) != 0) {
			msg = h_strdupf("line %zu is torn or altered: \"%.*s\", want \"%.*s\"",
					lineno, (int)(nl - line), line, (int)strlen(want) - 1, want);
		} else if (seq != next[w]) {
			msg = h_strdupf("line %zu: writer %d's line %d where its line %d was due (%s)",
					lineno, w, seq, next[w],
					seq < next[w] ? "a repeat" : "lines missing or out of order");
		} else if (!batch_start[w][seq] && (prev_w != w || prev_seq != seq - 1)) {
			msg = h_strdupf("line %zu: writer %d's lines %d and %d were written by one "
					"write(), but w%d-%05d comes between them",
					lineno, w, seq - 1, seq, prev_w, prev_seq);
		}
		next[w] = seq + 1;
		prev_w = w;
		prev_seq = seq;
		pos = (size_t)(nl - log) + 1;
	}
	for (int w = 0; w < WRITERS && msg == NULL; w++)
		if (next[w] != LINES)
			msg = h_strdupf("writer %d: only lines up to %d are in the log", w,
					next[w] - 1);
	return msg;
}

Test(concurrent, eight_writers_never_interleave)
{
	static bool batch_start[WRITERS][LINES];
	pid_t pids[WRITERS];
	int go[2];
	size_t len;
	char *log, *msg;

	cr_assert(mkdir(h_mnt("t"), 0755) == 0, "mkdir t: %s", strerror(errno));
	cr_assert(pipe(go) == 0);
	for (int w = 0; w < WRITERS; w++) {
		pids[w] = fork();
		cr_assert(pids[w] >= 0, "fork: %s", strerror(errno));
		if (pids[w] == 0) {
			close(go[1]);
			writer(w, go[0]);
		}
	}
	close(go[0]);
	close(go[1]); /* all writers start at once */

	/* Meanwhile, recompute where each writer's write() calls began. */
	for (int w = 0; w < WRITERS; w++) {
		struct h_rng rng;

		h_rng_seed(&rng, 100 + (uint64_t)w);
		for (int seq = 0; seq < LINES;) {
			int n = batch_size(&rng);

			batch_start[w][seq] = true;
			for (int k = 1; k < n && seq + k < LINES; k++)
				batch_start[w][seq + k] = false;
			seq += n;
		}
	}

	for (int w = 0; w < WRITERS; w++) {
		int status;

		cr_assert_eq(waitpid(pids[w], &status, 0), pids[w]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			  "writer %d failed (status 0x%x; its error is on stderr)", w, status);
	}

	log = h_read_file(h_mnt("t/log"), &len);
	cr_assert(log != NULL, "read t/log: %s", strerror(errno));
	msg = check_log(log, len, batch_start);
	cr_assert(msg == NULL, "%s", msg);
	cr_assert_eq(h_file_size(h_mnt("t/log")), (long long)len, "st_size of t/log");
	free(log);
}

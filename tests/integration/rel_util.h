/*
** rel_util.h: helpers of the reliability and security suites (prefix r_),
** on top of harness.h: test_crash.c, test_powerloss.c, test_fullspace.c,
** test_stress.c, test_hostile.c and test_permissions.c.
**
** THE LINES. Every line a reliability test writes names its writer and its
** sequence number and carries a checksum of itself, so that a reader can
** tell an intact line from a torn or altered one, and put each writer's
** lines back in order:
**
**     w03.00000042|qrstuvwxyzab #1a2b3c4d
**
** "w03.00000042" is also the record's key when a topic's key.separator is
** "|" (keys are then unique: compaction keeps every line). The padding's
** length varies with the line (0 to 47 bytes) so that batches, index
** entries and segment ends fall everywhere. Writer R_PROBE_W is reserved
** for the probe lines a test appends itself ("the log continues").
*/
#ifndef TOPICFS_IT_REL_UTIL_H
#define TOPICFS_IT_REL_UTIL_H

#include "harness.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define R_MAX_WRITERS 100
#define R_PROBE_W 99	  /* writer id of a test's own probe lines */
#define R_LINE_MAX 96	  /* longest line, '\n' included */
#define R_MAX_BATCH 4	  /* lines per write() of r_writer_main */

/* Format line SEQ of writer W into BUF (R_LINE_MAX bytes), '\n' included;
 * returns its length. */
size_t r_line(char *buf, int w, uint32_t seq);

/* Is LINE[0..LEN) (without its '\n') an intact line? Sets *W and *SEQ. */
bool r_parse_line(const char *line, size_t len, int *w, uint32_t *seq);

/*
** What one view of a log holds. r_view_check() walks BUF[0..LEN): every
** line must be intact and each writer's sequence numbers must increase
** (strictly: a duplicate is an error). A last line without '\n' is an
** error unless PARTIAL_OK (a reader may stop in the middle of a record).
** Returns NULL, or a malloc'd description of the first problem.
*/
struct r_view {
	long lines;			  /* complete lines */
	long count[R_MAX_WRITERS];	  /* lines of each writer */
	int64_t first[R_MAX_WRITERS];	  /* first seq of each writer, -1: none */
	int64_t last[R_MAX_WRITERS];	  /* last seq of each writer, -1: none */
	size_t complete_len;		  /* bytes up to the last '\n' */
};

char *r_view_check(const char *buf, size_t len, bool partial_ok, struct r_view *v);

/*
** A writer process (call after fork): opens PATH (O_WRONLY|O_APPEND) and
** writes lines SEQ0, SEQ0+1, ... of writer W, 1 to R_MAX_BATCH lines per
** write(), until STOP_MS (monotonic, h_now_ms) or the first failed write,
** or until MAX_LINES lines (0: no limit), sleeping PACE_US microseconds
** after each write (0: none). Before each write it appends
** "P first last\n" to ACK_PATH, after each successful one "A first last\n",
** so that a test knows which lines were acknowledged and which write was
** in flight when the daemon died. Exits 0 (any failure of the mount is
** expected by the tests that use it; what the writer saw is in ACK_PATH,
** plus "E errno\n" for the write that failed).
*/
void r_writer_main(const char *path, const char *ack_path, int w, uint32_t seq0,
		   int64_t stop_ms, long max_lines, int pace_us, uint64_t seed)
	__attribute__((noreturn));

/* What an ack file says. */
struct r_acks {
	int64_t first;	       /* first seq attempted, -1: none */
	int64_t acked;	       /* last seq acknowledged, -1: none */
	int64_t inflight_lo;   /* the unacknowledged write: seqs lo..hi, -1: none */
	int64_t inflight_hi;
	int last_errno;	       /* errno of the failed write, 0: none */
	long writes;	       /* acknowledged writes */
};

void r_read_acks(const char *ack_path, struct r_acks *a);

/* fork() a child running r_writer_main(); returns its pid. The child dies
 * with the test (PR_SET_PDEATHSIG). */
pid_t r_fork_writer(const char *path, const char *ack_path, int w, uint32_t seq0,
		    int64_t stop_ms, long max_lines, int pace_us, uint64_t seed);

/* Wait for PID at most TIMEOUT_MS; returns its exit status (128+N when
 * killed by N), or -1 when it was still running (it is then SIGKILLed). */
int r_wait(pid_t pid, int timeout_ms);

/*
** SIGKILL the daemon, reap it and detach its dead mount (fusermount3 -uz),
** leaving H ready for h_mount(H.opts) on the same DATADIR.
*/
void r_kill9(void);

/* Read PATH to EOF or to the first error. Returns the bytes read (malloc'd,
 * NUL added) in *LEN and the errno of the failed read() in *ERR (0: EOF).
 * NULL only when open() failed (errno set). */
char *r_read_until_error(const char *path, size_t *len, int *err);

/* The u64 value of extended attribute NAME (full name) of PATH. Fails the
 * test when it can't be read. */
uint64_t r_xattr_u64(const char *path, const char *name);

/* Append LINE (with its '\n') to MNT/TOPIC/log with one write(); fails the
 * test on error. */
void r_append(const char *topic, const char *line);

/* Names in DIR, sorted and joined by '\n' (malloc'd); "" when empty,
 * "(error)" when DIR can't be read. Recursive when DEPTH > 0 (entries of
 * subdirectories as "sub/name"). */
char *r_list_dir(const char *dir, int depth);

/* Run `bash -c CMD` as user nobody:nogroup (setpriv) and return its exit
 * status; the output is kept for h_sh_output(). */
int r_sh_nobody(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* TOPICFS_IT_REL_UTIL_H */

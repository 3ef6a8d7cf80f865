/*
** harness.h: mount a real topicfs for an integration test, and the helpers
** the tests share (prefix h_).
**
** Every test runs in its own process (Criterion forks one per test). A suite
** mounts in .init and unmounts in .fini:
**
**     TestSuite(produce, .init = h_setup, .fini = h_teardown, .timeout = 60);
**
** h_mount() makes a fresh directory /tmp/topicfs-it-XXXXXX holding data/
** (DATADIR), mnt/ (MOUNTPOINT) and daemon.log (the daemon's stderr), starts
** `$TOPICFS_BIN -f [-o OPTS] data mnt` and returns once the mount is live.
** h_teardown() stops what the test spawned, unmounts, checks that the daemon
** exited 0 and removes the directory. A test killed by its timeout never
** reaches .fini: the daemon then gets SIGTERM from the kernel when the test
** process dies (PR_SET_PDEATHSIG), and a sweep before and after the whole run
** unmounts and removes whatever a dead test left behind.
**
** Set TOPICFS_IT_KEEP=1 to keep the directories (and daemon logs) of a run.
*/
#ifndef TOPICFS_IT_HARNESS_H
#define TOPICFS_IT_HARNESS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>  /* snprintf, used by H_ASSERT_BYTES */
#include <stdlib.h>
#include <sys/types.h>

#include <criterion/criterion.h>

/* The current test's mount. */
struct h_mount {
	char dir[PATH_MAX];  /* /tmp/topicfs-it-XXXXXX, "" before h_mount */
	char data[PATH_MAX]; /* DATADIR: dir/data */
	char mnt[PATH_MAX];  /* MOUNTPOINT: dir/mnt */
	char log[PATH_MAX];  /* the daemon's stderr: dir/daemon.log */
	char opts[512];      /* the -o options of the mount, "" for none */
	pid_t pid;           /* the daemon; 0 while not mounted */
};

extern struct h_mount H;

/* ---- Suite fixtures ------------------------------------------------ */

void h_setup(void);         /* h_mount(NULL) */
void h_teardown(void);      /* stop spawned processes, unmount, remove dir */
void h_tmp_setup(void);     /* only the temp directory, no daemon */

/* ---- Mounting ------------------------------------------------------ */

/*
** Mount a fresh DATADIR (or, after h_umount(), the same one again) with
** `-o OPTS` (NULL or "" for none). Fails the test, with the daemon's log,
** when the daemon exits or the mount is not live within 10 s.
*/
void h_mount(const char *opts);

/* Unmount, wait for the daemon and assert that it exited 0. Keeps dir. */
void h_umount(void);

/* h_umount() then h_mount() of the same DATADIR with the same options. */
void h_remount(void);

/* Is PATH a mount point in /proc/self/mountinfo? */
bool h_is_mounted(const char *path);

/* The daemon's stderr so far (malloc'd, never NULL). */
char *h_daemon_log(void);

/* ---- Paths ---------------------------------------------------------- */

/*
** H.mnt/REL, H.data/REL, H.dir/REL, each printf-formatted. The result lives
** in one of 16 static buffers used in turn, so a few can be used at once.
*/
const char *h_mnt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *h_work(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- Processes ------------------------------------------------------ */

/*
** Run `bash -o pipefail -c CMD` and return its exit status (128+N when killed
** by signal N). The command sees $MNT, $DATA, $WORK (the temp dir, outside
** the mount: put expected copies there) and $TOPICFS_BIN. Its stdout and
** stderr are kept for h_sh_output().
*/
int h_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The last h_sh() command and its output (valid until the next h_sh()). */
const char *h_sh_cmd(void);
const char *h_sh_output(void);

/* Run a shell command and fail the test, showing its output, unless it exits 0. */
#define H_SH_OK(...)                                                      \
	do {                                                              \
		int h_st_ = h_sh(__VA_ARGS__);                            \
		cr_assert_eq(h_st_, 0, "exit status %d of: %s\n%s", h_st_, \
			     h_sh_cmd(), h_sh_output());                  \
	} while (0)

/*
** Start ARGV in the background, in a process group of its own, with stdout
** and stderr sent to the files OUT and ERR (NULL: /dev/null), which exist,
** empty, when h_spawn returns, whenever the child dies. It dies with
** the test (SIGKILL at the test's death) and h_teardown() stops it if the
** test did not.
*/
pid_t h_spawn(char *const argv[], const char *out, const char *err);

/* SIGTERM the process group of a spawned PID, reap it; returns its status. */
int h_stop(pid_t pid);

/*
** Run ARGV in the foreground, stdout and stderr captured (malloc'd, NUL
** terminated; pass NULL to discard). Returns the exit status, or -1 when it
** was still running after TIMEOUT_MS and had to be killed.
*/
int h_run(char *const argv[], int timeout_ms, char **out, char **err);

/* Does process PID have PATH open (a link in /proc/PID/fd)? */
bool h_has_open(pid_t pid, const char *path);

/* Call fn with the target of each link in /proc/PID/SUB ("fd",
** "map_files") until it returns true; whether one did. */
bool h_proc_links(pid_t pid, const char *sub, bool (*fn)(const char *target, void *arg),
		  void *arg);

/* ---- Files ---------------------------------------------------------- */

/* Read PATH to EOF. Returns malloc'd bytes (NUL added, not counted) and
 * sets *LEN, or NULL with errno set. */
char *h_read_file(const char *path, size_t *len);

/* write() until all of BUF is written. Returns 0 or -errno. */
int h_write_all(int fd, const void *buf, size_t len);

/* Create or replace a plain file (for expected copies). Returns 0 or -errno. */
int h_write_file(const char *path, const void *buf, size_t len);

/* st_size of PATH, or -errno. */
long long h_file_size(const char *path);

/* The value of extended attribute NAME of PATH, NUL-terminated (malloc'd),
 * or NULL with errno set. */
char *h_getxattr(const char *path, const char *name);

/* The number of entries of directory DIR, "." and ".." not counted (the
** test fails when DIR cannot be listed). */
int h_count_entries(const char *dir);

/* ---- Refusals ------------------------------------------------------- */

/*
** Run topicfs with ARGV (argv[0] is replaced by $TOPICFS_BIN) and expect
** what SPEC.md promises for a bad argument: exit status STATUS within 10 s
** (the README: 2 for a bad argument, 1 for a DATADIR another topicfs
** holds), exactly one line of output (stdout and stderr together), and no
** mount on MNT (NULL: none to check). A mount it made anyway is removed.
*/
void h_expect_refusal(char *argv[], const char *mnt, int status, const char *what);

/* ---- Comparing bytes ------------------------------------------------ */

/*
** NULL when GOT equals WANT, else a malloc'd description of the first
** difference (lengths, position, a few escaped bytes of each around it).
*/
char *h_diff(const void *got, size_t got_len, const void *want, size_t want_len);

#define H_ASSERT_BYTES(got, got_len, want, want_len, ...)                 \
	do {                                                              \
		char *h_d_ = h_diff((got), (got_len), (want), (want_len)); \
		if (h_d_ != NULL) {                                        \
			char h_what_[512];                                 \
			snprintf(h_what_, sizeof h_what_, __VA_ARGS__);    \
			cr_assert_fail("%s: %s", h_what_, h_d_);           \
		}                                                          \
	} while (0)

/* A growable byte buffer for building expected content. */
struct h_buf {
	char *p;
	size_t len;
	size_t cap;
};

void h_buf_add(struct h_buf *b, const void *data, size_t len);
void h_buf_printf(struct h_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void h_buf_free(struct h_buf *b);

/* A malloc'd printf-formatted string (aborts when out of memory). */
char *h_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- Time and randomness ---------------------------------------------- */

void h_sleep_ms(long ms);
int64_t h_now_ms(void); /* CLOCK_MONOTONIC */

/* Poll PRED(ARG) every 10 ms until it is true (returns true) or TIMEOUT_MS
 * passed (returns false). */
bool h_wait_for(bool (*pred)(void *arg), void *arg, int timeout_ms);

/* A seeded PRNG (splitmix64): the same seed gives the same sequence. */
struct h_rng {
	uint64_t state;
};

void h_rng_seed(struct h_rng *r, uint64_t seed);
uint64_t h_rng_next(struct h_rng *r);
uint32_t h_rng_below(struct h_rng *r, uint32_t n); /* 0 <= x < n */

#endif /* TOPICFS_IT_HARNESS_H */

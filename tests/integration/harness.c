/*
** harness.c: mounting, processes, files and byte comparison for the
** integration tests. See harness.h for the contract.
**
** Cleanup has three layers, because a test killed by its timeout skips its
** .fini:
**   1. h_teardown() (the suites' .fini) unmounts and removes the directory;
**   2. every child we start gets PR_SET_PDEATHSIG, so the daemon is sent
**      SIGTERM (libfuse then unmounts itself) and helpers are killed when
**      the test process dies;
**   3. sweep() runs before and after the whole run (Criterion report hooks,
**      in the runner process): any /tmp/topicfs-it-* directory whose owner
**      (the test process that made it, pid in dir/owner) is dead has its
**      daemon killed, its mounts lazily unmounted and its files removed.
*/
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <criterion/hooks.h>

#define H_TMP_PREFIX "/tmp/topicfs-it-"
#define H_MOUNT_WAIT_MS 10000   /* for the mount to be live (ASan is slow) */
#define H_EXIT_WAIT_MS 10000    /* for the daemon to exit after unmount */
#define H_MAX_SPAWNED 32
#define H_OUTPUT_SHOWN 1500     /* bytes of a command's output in a message */

struct h_mount H;

static pid_t spawned[H_MAX_SPAWNED]; /* h_spawn()ed and not yet h_stop()ped */
static char *sh_cmd;                 /* last h_sh() command */
static char *sh_out;                 /* its output (the last H_OUTPUT_SHOWN bytes) */

/* ---- Small utilities -------------------------------------------------- */

void h_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

int64_t h_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool h_wait_for(bool (*pred)(void *arg), void *arg, int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;

	for (;;) {
		if (pred(arg))
			return true;
		if (h_now_ms() >= deadline)
			return false;
		h_sleep_ms(10);
	}
}

void h_rng_seed(struct h_rng *r, uint64_t seed)
{
	r->state = seed;
}

uint64_t h_rng_next(struct h_rng *r)
{
	uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint32_t h_rng_below(struct h_rng *r, uint32_t n)
{
	return (uint32_t)(h_rng_next(r) % n);
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);

	if (q == NULL) {
		fprintf(stderr, "harness: out of memory (%zu bytes)\n", n);
		abort();
	}
	return q;
}

void h_buf_add(struct h_buf *b, const void *data, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < b->len + len + 1)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}

void h_buf_printf(struct h_buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	h_buf_add(b, s, (size_t)n);
	free(s);
}

void h_buf_free(struct h_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

char *h_strdupf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	return s;
}

/* ---- Paths --------------------------------------------------------------- */

/* Each thread has its own ring of 16 paths: tests start reader threads,
** and a shared ring let two of them write one buffer at once. */
static const char *vpath(const char *base, const char *fmt, va_list ap)
{
	static __thread char bufs[16][PATH_MAX];
	static __thread unsigned next;
	char *buf = bufs[next++ % 16];
	int n = snprintf(buf, PATH_MAX, "%s/", base);

	vsnprintf(buf + n, (size_t)(PATH_MAX - n), fmt, ap);
	return buf;
}

const char *h_mnt(const char *fmt, ...)
{
	va_list ap;
	const char *p;

	va_start(ap, fmt);
	p = vpath(H.mnt, fmt, ap);
	va_end(ap);
	return p;
}

const char *h_work(const char *fmt, ...)
{
	va_list ap;
	const char *p;

	va_start(ap, fmt);
	p = vpath(H.dir, fmt, ap);
	va_end(ap);
	return p;
}

/* ---- Files --------------------------------------------------------------- */

static char *read_fd(int fd, size_t *len)
{
	struct h_buf b = { 0 };
	char chunk[65536];
	ssize_t n;

	h_buf_add(&b, "", 0); /* never NULL, even when empty */
	while ((n = read(fd, chunk, sizeof chunk)) != 0) {
		if (n < 0) {
			int saverr = errno;

			if (saverr == EINTR)
				continue;
			h_buf_free(&b);
			errno = saverr;
			return NULL;
		}
		h_buf_add(&b, chunk, (size_t)n);
	}
	*len = b.len;
	return b.p;
}

char *h_read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *p;
	int saverr;

	if (fd < 0)
		return NULL;
	p = read_fd(fd, len);
	saverr = errno;
	close(fd);
	errno = saverr;
	return p;
}

int h_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int h_write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int rc;

	if (fd < 0)
		return -errno;
	rc = h_write_all(fd, buf, len);
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	return rc;
}

long long h_file_size(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return -errno;
	return (long long)st.st_size;
}

char *h_getxattr(const char *path, const char *name)
{
	char buf[4096];
	ssize_t n = getxattr(path, name, buf, sizeof buf - 1);
	char *p;

	if (n < 0)
		return NULL;
	p = malloc((size_t)n + 1);
	if (p == NULL)
		return NULL;
	memcpy(p, buf, (size_t)n);
	p[n] = '\0';
	return p;
}

/* ---- Comparing bytes ----------------------------------------------------- */

/* Append BUF[from, to) to B, escaped so that it prints on one line. */
static void add_escaped(struct h_buf *b, const unsigned char *buf, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		unsigned char c = buf[i];

		if (c == '\n')
			h_buf_add(b, "\\n", 2);
		else if (c == '\\' || c == '"')
			h_buf_printf(b, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			h_buf_printf(b, "\\x%02x", c);
		else
			h_buf_add(b, &c, 1);
	}
}

char *h_diff(const void *got, size_t got_len, const void *want, size_t want_len)
{
	const unsigned char *g = got, *w = want;
	size_t i = 0, line = 1, from;
	struct h_buf b = { 0 };

	while (i < got_len && i < want_len && g[i] == w[i]) {
		if (g[i] == '\n')
			line++;
		i++;
	}
	if (i == got_len && i == want_len)
		return NULL;
	from = i > 40 ? i - 40 : 0;
	h_buf_printf(&b, "got %zu bytes, want %zu; first difference at byte %zu (line %zu)\n"
		     "  got:  \"", got_len, want_len, i, line);
	add_escaped(&b, g, from, i + 40 < got_len ? i + 40 : got_len);
	h_buf_add(&b, "\"\n  want: \"", 11);
	add_escaped(&b, w, from, i + 40 < want_len ? i + 40 : want_len);
	h_buf_add(&b, "\"", 1);
	return b.p;
}

/* ---- Processes ----------------------------------------------------------- */

/* In a forked child: die with the parent (SIG), and never outlive it unseen. */
static void child_common(int sig, pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, sig);
	if (getppid() != parent)
		_exit(127); /* the parent died before prctl */
}

static void child_env(void)
{
	if (H.dir[0] != '\0') {
		setenv("MNT", H.mnt, 1);
		setenv("DATA", H.data, 1);
		setenv("WORK", H.dir, 1);
	}
}

/* Wait for PID for at most TIMEOUT_MS; returns true and sets *STATUS if it
 * exited in time. */
static bool wait_timeout(pid_t pid, int timeout_ms, int *status)
{
	int64_t deadline = h_now_ms() + timeout_ms;

	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return true;
		if (r < 0 && errno != EINTR) {
			*status = 0;
			return true; /* not our child any more */
		}
		if (h_now_ms() >= deadline)
			return false;
		h_sleep_ms(5);
	}
}

static int exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

/* "exited with status N" or "was killed by SIGSEGV" (static buffer). */
static const char *describe_status(int status)
{
	static char buf[64];

	if (WIFSIGNALED(status)) {
		const char *name = sigabbrev_np(WTERMSIG(status));

		snprintf(buf, sizeof buf, "was killed by SIG%s", name ? name : "?");
	} else
		snprintf(buf, sizeof buf, "exited with status %d", WEXITSTATUS(status));
	return buf;
}

/* Read all of a memfd from the start; the last KEEP bytes when KEEP > 0. */
static char *read_memfd(int fd, size_t keep)
{
	size_t len;
	char *p;

	lseek(fd, 0, SEEK_SET);
	p = read_fd(fd, &len);
	if (p == NULL)
		return strdup("");
	if (keep > 0 && len > keep) {
		memmove(p, p + len - keep, keep + 1);
		memcpy(p, "[...]", 5);
	}
	return p;
}

int h_sh(const char *fmt, ...)
{
	pid_t parent = getpid(), pid;
	va_list ap;
	int out, status;

	free(sh_cmd);
	free(sh_out);
	sh_out = NULL;
	va_start(ap, fmt);
	if (vasprintf(&sh_cmd, fmt, ap) < 0)
		abort();
	va_end(ap);

	out = memfd_create("h_sh", MFD_CLOEXEC);
	cr_assert(out >= 0, "memfd_create: %s", strerror(errno));
	pid = fork();
	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		child_common(SIGKILL, parent);
		child_env();
		dup2(null, 0);
		dup2(out, 1);
		dup2(out, 2);
		execl("/bin/bash", "bash", "-o", "pipefail", "-c", sh_cmd, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	sh_out = read_memfd(out, H_OUTPUT_SHOWN);
	close(out);
	return exit_code(status);
}

const char *h_sh_cmd(void)
{
	return sh_cmd ? sh_cmd : "";
}

const char *h_sh_output(void)
{
	return sh_out ? sh_out : "";
}

/* Open PATH (or /dev/null when NULL) as fd TARGET in a child. */
static void redirect(const char *path, int target)
{
	int fd = open(path ? path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		_exit(126);
	dup2(fd, target);
	close(fd);
}

pid_t h_spawn(char *const argv[], const char *out, const char *err)
{
	pid_t parent = getpid(), pid;
	int slot;

	for (slot = 0; slot < H_MAX_SPAWNED && spawned[slot] != 0; slot++)
		;
	cr_assert(slot < H_MAX_SPAWNED, "h_spawn: too many processes");
	/* The files exist (empty) even when the child is killed before its
	** redirect() ran: a test may kill it at once, then read them. */
	const char *files[] = {out, err};
	for (int i = 0; i < 2; i++) {
		if (files[i] == NULL)
			continue;
		int fd = open(files[i], O_WRONLY | O_CREAT | O_TRUNC, 0644);
		cr_assert(fd >= 0, "h_spawn: %s: %s", files[i], strerror(errno));
		close(fd);
	}
	pid = fork();
	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		child_common(SIGKILL, parent);
		setpgid(0, 0);
		child_env();
		dup2(null, 0);
		redirect(out, 1);
		redirect(err, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	setpgid(pid, pid); /* also here, so that h_stop never races the child */
	spawned[slot] = pid;
	return pid;
}

int h_stop(pid_t pid)
{
	int status = 0;

	for (int i = 0; i < H_MAX_SPAWNED; i++)
		if (spawned[i] == pid)
			spawned[i] = 0;
	kill(-pid, SIGTERM);
	if (!wait_timeout(pid, 3000, &status)) {
		kill(-pid, SIGKILL);
		wait_timeout(pid, 3000, &status);
	}
	return exit_code(status);
}

static void stop_all_spawned(void)
{
	for (int i = 0; i < H_MAX_SPAWNED; i++)
		if (spawned[i] != 0)
			h_stop(spawned[i]);
}

int h_run(char *const argv[], int timeout_ms, char **out, char **err)
{
	pid_t parent = getpid(), pid;
	int ofd = memfd_create("h_run.out", MFD_CLOEXEC);
	int efd = memfd_create("h_run.err", MFD_CLOEXEC);
	int status = 0, rc;

	cr_assert(ofd >= 0 && efd >= 0, "memfd_create: %s", strerror(errno));
	pid = fork();
	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		child_common(SIGKILL, parent);
		setpgid(0, 0);
		child_env();
		dup2(null, 0);
		dup2(ofd, 1);
		dup2(efd, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	setpgid(pid, pid);
	if (wait_timeout(pid, timeout_ms, &status)) {
		rc = exit_code(status);
	} else {
		kill(-pid, SIGKILL);
		wait_timeout(pid, 5000, &status);
		rc = -1;
	}
	if (out != NULL)
		*out = read_memfd(ofd, 0);
	if (err != NULL)
		*err = read_memfd(efd, 0);
	close(ofd);
	close(efd);
	return rc;
}

bool h_proc_links(pid_t pid, const char *sub, bool (*fn)(const char *target, void *arg),
		  void *arg)
{
	char dir[64], link[PATH_MAX], target[PATH_MAX];
	struct dirent *e;
	bool found = false;
	DIR *d;

	snprintf(dir, sizeof dir, "/proc/%d/%s", (int)pid, sub);
	d = opendir(dir);
	if (d == NULL)
		return false;
	while (!found && (e = readdir(d)) != NULL) {
		ssize_t n;

		snprintf(link, sizeof link, "%s/%s", dir, e->d_name);
		n = readlink(link, target, sizeof target - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		found = fn(target, arg);
	}
	closedir(d);
	return found;
}

static bool is_path(const char *target, void *path)
{
	return strcmp(target, path) == 0;
}

bool h_has_open(pid_t pid, const char *path)
{
	return h_proc_links(pid, "fd", is_path, (void *)path);
}

/* ---- Mounts -------------------------------------------------------------- */

/*
** Call FN(mount point, ARG) for every mount in /proc/self/mountinfo whose
** mount point starts with PREFIX; stops early when FN returns true.
** Returns whether some FN returned true.
*/
static bool each_mount(const char *prefix, bool (*fn)(const char *mp, void *arg), void *arg)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	bool stop = false;

	if (f == NULL)
		return false;
	while (!stop && getline(&line, &cap, f) > 0) {
		char mp[PATH_MAX];

		/* id parent major:minor root MOUNTPOINT ... (paths have no spaces) */
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
			continue;
		if (strncmp(mp, prefix, strlen(prefix)) == 0)
			stop = fn(mp, arg);
	}
	free(line);
	fclose(f);
	return stop;
}

static bool same_path(const char *mp, void *arg)
{
	return strcmp(mp, arg) == 0;
}

int h_count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	cr_assert(d != NULL, "opendir %s: %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

bool h_is_mounted(const char *path)
{
	return each_mount(path, same_path, (void *)path);
}

static void write_pid_file(const char *path, pid_t pid)
{
	FILE *f = fopen(path, "we");

	if (f != NULL) {
		fprintf(f, "%d\n", (int)pid);
		fclose(f);
	}
}

static pid_t read_pid_file(const char *path)
{
	FILE *f = fopen(path, "re");
	int pid = 0;

	if (f != NULL) {
		if (fscanf(f, "%d", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	return (pid_t)pid;
}

char *h_daemon_log(void)
{
	size_t len;
	char *p = H.log[0] ? h_read_file(H.log, &len) : NULL;

	return p ? p : strdup("(no daemon log)");
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* Remove DIR and everything in it, never crossing into another filesystem. */
static void rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

void h_tmp_setup(void)
{
	memset(&H, 0, sizeof H);
	strcpy(H.dir, H_TMP_PREFIX "XXXXXX");
	cr_assert(mkdtemp(H.dir) != NULL, "mkdtemp: %s", strerror(errno));
	write_pid_file(h_work("owner"), getpid());
	snprintf(H.data, sizeof H.data, "%s/data", H.dir);
	snprintf(H.mnt, sizeof H.mnt, "%s/mnt", H.dir);
	snprintf(H.log, sizeof H.log, "%s/daemon.log", H.dir);
	cr_assert(mkdir(H.data, 0755) == 0, "mkdir %s: %s", H.data, strerror(errno));
	cr_assert(mkdir(H.mnt, 0755) == 0, "mkdir %s: %s", H.mnt, strerror(errno));
}

/* Start the daemon on H.data and H.mnt; returns its pid. */
static pid_t start_daemon(const char *bin)
{
	pid_t parent = getpid(), pid;
	char *argv[8];
	int argc = 0;

	argv[argc++] = (char *)bin;
	argv[argc++] = "-f";
	if (H.opts[0] != '\0') {
		argv[argc++] = "-o";
		argv[argc++] = H.opts;
	}
	argv[argc++] = H.data;
	argv[argc++] = H.mnt;
	argv[argc] = NULL;

	pid = fork();
	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		int log = open(H.log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		/* SIGTERM: libfuse leaves its loop and unmounts by itself. */
		child_common(SIGTERM, parent);
		setpgid(0, 0);
		dup2(null, 0);
		dup2(log, 1);
		dup2(log, 2);
		execv(bin, argv);
		fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	return pid;
}

void h_mount(const char *opts)
{
	const char *bin = getenv("TOPICFS_BIN");
	int64_t deadline;
	int status;

	cr_assert(bin != NULL && bin[0] == '/',
		  "TOPICFS_BIN must be the absolute path of the daemon (run `make integration`)");
	if (H.dir[0] == '\0')
		h_tmp_setup();
	cr_assert(H.pid == 0, "h_mount: already mounted");
	if (opts != H.opts)
		snprintf(H.opts, sizeof H.opts, "%s", opts ? opts : "");

	H.pid = start_daemon(bin);
	write_pid_file(h_work("daemon.pid"), H.pid);
	deadline = h_now_ms() + H_MOUNT_WAIT_MS;
	while (!h_is_mounted(H.mnt)) {
		if (waitpid(H.pid, &status, WNOHANG) == H.pid) {
			char *log = h_daemon_log();

			H.pid = 0;
			cr_assert_fail("topicfs %s before mounting (-o '%s'); its log:\n%s",
				       describe_status(status), H.opts, log);
		}
		if (h_now_ms() > deadline) {
			char *log = h_daemon_log();

			cr_assert_fail("%s not mounted after %d ms (-o '%s'); daemon log:\n%s",
				       H.mnt, H_MOUNT_WAIT_MS, H.opts, log);
		}
		h_sleep_ms(10);
	}
}

/* Run fusermount3 with FLAG on PATH; returns its exit status. */
static int fusermount(const char *flag, const char *path)
{
	char *argv[] = { "fusermount3", (char *)flag, (char *)path, NULL };

	return h_run(argv, 10000, NULL, NULL);
}

/*
** Unmount H.mnt and reap the daemon without asserting anything, so that
** teardown can clean up before it reports. Returns NULL on success, or a
** malloc'd message saying what went wrong (with the daemon's log).
*/
static char *umount_quietly(void)
{
	char *msg = NULL, *log;
	int status = 0, code;
	bool exited;

	if (H.pid == 0) {
		/* The daemon is gone (it failed to mount): never leave a mount. */
		if (H.mnt[0] != '\0' && h_is_mounted(H.mnt))
			fusermount("-uz", H.mnt);
		return NULL;
	}
	if (waitpid(H.pid, &status, WNOHANG) == H.pid) {
		/* It died while the test ran: say so, not "exited badly". */
		fusermount("-uz", H.mnt);
		H.pid = 0;
		log = h_daemon_log();
		msg = h_strdupf("topicfs %s during the test; its log:\n%s",
				describe_status(status), log);
		free(log);
		return msg;
	}
	for (int i = 0; i < 30 && h_is_mounted(H.mnt); i++) {
		if (fusermount("-u", H.mnt) == 0)
			break;
		h_sleep_ms(100); /* busy: a reader may still be closing */
	}
	if (h_is_mounted(H.mnt)) {
		fusermount("-uz", H.mnt);
		msg = h_strdupf("%s stayed busy for 3 s; unmounted lazily", H.mnt);
	}
	exited = wait_timeout(H.pid, H_EXIT_WAIT_MS, &status);
	if (!exited) {
		kill(H.pid, SIGKILL);
		wait_timeout(H.pid, 5000, &status);
	}
	H.pid = 0;
	code = exit_code(status);
	if (msg != NULL || !exited || code != 0) {
		char *m;

		log = h_daemon_log();
		m = h_strdupf("%s%stopicfs %s after the unmount; its log:\n%s",
			      msg ? msg : "", msg ? "; " : "",
			      exited ? describe_status(status) : "did not exit in 10 s (killed)",
			      log);
		free(log);
		free(msg);
		msg = m;
	}
	return msg;
}

void h_expect_refusal(char *argv[], const char *mnt, int want_status, const char *what)
{
	const char *bin = getenv("TOPICFS_BIN");
	bool mounted;
	char *out, *err;
	int status, lines = 0;
	size_t len;

	cr_assert(bin != NULL, "TOPICFS_BIN is not set");
	argv[0] = (char *)bin;
	status = h_run(argv, 10000, &out, &err);
	mounted = mnt != NULL && h_is_mounted(mnt);
	if (mounted)
		fusermount("-uz", mnt);
	for (const char *s = out; *s; s++)
		lines += *s == '\n';
	for (const char *s = err; *s; s++)
		lines += *s == '\n';
	len = strlen(out) + strlen(err);
	cr_expect(status != -1, "%s: topicfs still ran after 10 s (killed)", what);
	cr_expect(status == -1 || status == want_status, "%s: topicfs exited %d, want %d", what,
		  status, want_status);
	cr_expect(!mounted, "%s: topicfs mounted %s", what, mnt);
	cr_expect(lines == 1 && len > 1,
		  "%s: want one line of output, got %d:\nstdout: \"%s\"\nstderr: \"%s\"", what,
		  lines, out, err);
	free(out);
	free(err);
}

void h_umount(void)
{
	char *msg = umount_quietly();

	cr_assert(msg == NULL, "%s", msg);
}

void h_remount(void)
{
	h_umount();
	h_mount(H.opts);
}

void h_setup(void)
{
	h_mount(NULL);
}

void h_teardown(void)
{
	char *msg;

	stop_all_spawned();
	msg = umount_quietly();
	if (H.dir[0] != '\0' && !h_is_mounted(H.mnt) && getenv("TOPICFS_IT_KEEP") == NULL)
		rm_tree(H.dir);
	free(sh_cmd);
	free(sh_out);
	sh_cmd = sh_out = NULL;
	/* Criterion does not fail a test for an assertion here, so say it on
	** stderr too: scripts/testrun.sh fails the run on this line. */
	if (msg != NULL)
		fprintf(stderr, "harness: TEARDOWN FAILED: %s\n", msg);
	cr_assert(msg == NULL, "teardown: %s", msg);
}

/* ---- Sanitizer builds ---------------------------------------------------- */

/*
** Criterion 2.4's runner process leaks a 48-byte block from inside
** libcriterion in some runs with --jobs 2, and LeakSanitizer then makes the
** whole run exit 1 after every test passed. Suppress leaks allocated from
** within libcriterion only; leaks in the tests themselves are still
** reported. (The sanitizer runtime looks this function up by name; a
** build without sanitizers never calls it.)
*/
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libcriterion.so\n";
}

/* ---- The sweep of dead tests' leftovers ---------------------------------- */

static bool any_mount(const char *mp, void *arg)
{
	(void)mp;
	(void)arg;
	return true;
}

static bool lazy_umount(const char *mp, void *arg)
{
	(void)arg;
	fusermount("-uz", mp);
	return false;
}

/* Is PID a live topicfs (not a recycled pid)? */
static bool is_topicfs(pid_t pid)
{
	char path[64], cmd[PATH_MAX] = "";
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return false;
	if (fgets(cmd, sizeof cmd, f) == NULL)
		cmd[0] = '\0';
	fclose(f);
	return strstr(cmd, "topicfs") != NULL;
}

static bool alive(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

static void sweep(void)
{
	DIR *d = opendir("/tmp");
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char dir[PATH_MAX], file[PATH_MAX + 16], prefix[PATH_MAX + 1];
		struct stat st;
		pid_t owner, daemon;

		if (strncmp(e->d_name, "topicfs-it-", 11) != 0)
			continue;
		snprintf(dir, sizeof dir, "/tmp/%s", e->d_name);
		snprintf(file, sizeof file, "%s/owner", dir);
		owner = read_pid_file(file);
		if (alive(owner))
			continue;
		if (owner == 0 && stat(dir, &st) == 0 && time(NULL) - st.st_mtime < 60)
			continue; /* being set up right now by another run */
		snprintf(file, sizeof file, "%s/daemon.pid", dir);
		daemon = read_pid_file(file);
		if (alive(daemon) && is_topicfs(daemon))
			kill(daemon, SIGKILL);
		snprintf(prefix, sizeof prefix, "%s/", dir);
		each_mount(prefix, lazy_umount, NULL);
		if (!each_mount(prefix, any_mount, NULL) && getenv("TOPICFS_IT_KEEP") == NULL)
			rm_tree(dir);
	}
	closedir(d);
}

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
	(void)set;
	sweep();
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	(void)stats;
	sweep();
}

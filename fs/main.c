/*
** main.c: the topicfs daemon's command line, setup and teardown.
**
**   topicfs [options] DATADIR MOUNTPOINT
**
** ORDER OF SETUP, so that every mistake is reported on the terminal with
** nothing mounted: parse the arguments (exit 2 on a bad one); check
** MOUNTPOINT; create the FUSE session (which checks the FUSE options);
** open the store (exit 1 when another topicfs holds DATADIR); mount; only
** then detach into the background (unless -f), and only then start the
** background thread (threads do not survive the fork). Teardown runs in
** reverse once the session loop ends (fusermount3 -u, or SIGTERM, SIGINT,
** SIGHUP): unmount, stop the background thread, close the files still
** open and forget the inodes, then store_close(), which syncs every topic.
*/
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/config.h"
#include "../core/store.h"
#include "dump.h"
#include "log.h"
#include "loop.h"
#include "ops.h"

#ifndef TOPICFS_VERSION
#define TOPICFS_VERSION "0.1.0"
#endif

#define EXIT_USAGE 2
#define MAINTENANCE_INTERVAL_MS_DEFAULT 1000

struct options {
	int foreground;
	int debug;
	const char *datadir;
	const char *mountpoint;
	cfg defaults;			 /* topic setting defaults (-o name=value) */
	int64_t maintenance_interval_ms; /* -o maintenance.interval.ms=N */
	char *fuse_opts;		 /* the other -o options, comma-joined */
	size_t fuse_opts_len;
};

static void usage(FILE *out, const char *prog)
{
	char value[CFG_VALUE_MAX];
	cfg def;
	int k;

	fprintf(out,
		"usage: %s [options] DATADIR MOUNTPOINT\n"
		"       %s dump [--records] [--from OFFSET] DATADIR [TOPIC]\n"
		"\n"
		"Shows the append-only logs (topics) kept in DATADIR as\n"
		"directories of files under MOUNTPOINT. `dump` checks and lists\n"
		"DATADIR without mounting it (see `%s dump --help`).\n"
		"\n"
		"options:\n"
		"    -f                     stay in the foreground\n"
		"    -d                     FUSE debug output (implies -f)\n"
		"    -o OPT[,OPT...]        mount options (below)\n"
		"    -h, --help             print this help and exit\n"
		"    -V, --version          print the version and exit\n"
		"\n"
		"mount options:\n"
		"    maintenance.interval.ms=N  how often the background thread\n"
		"                               looks at every topic (default %d)\n"
		"    SETTING=VALUE              mount-wide default of a topic "
		"setting\n"
		"    any other option           passed to FUSE (allow_other,\n"
		"                               default_permissions, ...)\n"
		"\n"
		"topic settings and their defaults:\n",
		prog, prog, prog, MAINTENANCE_INTERVAL_MS_DEFAULT);
	cfg_defaults(&def);
	for (k = 0; k < CFG_NKEYS; k++) {
		if (cfg_get(&def, k, value, sizeof(value)) < 0)
			value[0] = '\0';
		fprintf(out, "    %-26s %s\n", cfg_key_name(k),
			value[0] ? value : "(unset)");
	}
}

static void die_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "topicfs: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (try --help)\n");
	exit(EXIT_USAGE);
}

/* Append one FUSE option to o->fuse_opts, escaping ',' and '\' as
** fuse_opt_parse expects. */
static void add_fuse_opt(struct options *o, const char *opt)
{
	size_t need = o->fuse_opts_len + 2 * strlen(opt) + 2;
	char *p = realloc(o->fuse_opts, need);

	if (p == NULL) {
		fprintf(stderr, "topicfs: out of memory\n");
		exit(1);
	}
	o->fuse_opts = p;
	p += o->fuse_opts_len;
	if (o->fuse_opts_len > 0)
		*p++ = ',';
	for (; *opt; opt++) {
		if (*opt == ',' || *opt == '\\')
			*p++ = '\\';
		*p++ = *opt;
	}
	*p = '\0';
	o->fuse_opts_len = (size_t)(p - o->fuse_opts);
}

/* Parse a decimal int64 that is > 0. 0 on success. */
static int parse_positive(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v <= 0 || s[0] == '+' ||
	    s[0] == ' ')
		return -1;
	*out = v;
	return 0;
}

/* One option of a -o list (unescaped). */
static void parse_one_opt(struct options *o, const char *opt)
{
	const char *eq = strchr(opt, '=');
	size_t keylen = eq ? (size_t)(eq - opt) : strlen(opt);
	char key[64];
	int k;

	if (keylen == 0 || keylen >= sizeof(key)) {
		if (keylen == 0)
			die_usage("empty mount option in '%s'", opt);
		add_fuse_opt(o, opt);
		return;
	}
	memcpy(key, opt, keylen);
	key[keylen] = '\0';

	if (strcmp(key, "maintenance.interval.ms") == 0) {
		if (eq == NULL || parse_positive(eq + 1, &o->maintenance_interval_ms) < 0) {
			fprintf(stderr, "topicfs: bad value for %s: '%s'\n", key,
				eq ? eq + 1 : "");
			exit(EXIT_USAGE);
		}
		return;
	}
	k = cfg_key_find(key);
	if (k < 0) {
		add_fuse_opt(o, opt);
		/* Other users may reach the mount: let the kernel check the
		** topics' modes and owners, which topicfs keeps but does not
		** enforce by itself. */
		if (strcmp(opt, "allow_other") == 0)
			add_fuse_opt(o, "default_permissions");
		return;
	}
	if (eq == NULL || cfg_set(&o->defaults, k, eq + 1, strlen(eq + 1)) < 0) {
		char rule[96];
		fprintf(stderr, "topicfs: bad value for %s: '%s': not %s\n", key,
			eq ? eq + 1 : "", cfg_rule(k, rule, sizeof rule));
		exit(EXIT_USAGE);
	}
}

/* A -o argument: options separated by ',', where "\," is a comma and "\\"
** a backslash (as fuse_opt_parse reads them). */
static void parse_opt_list(struct options *o, const char *list)
{
	char *buf = malloc(strlen(list) + 1);
	char *p = buf;

	if (buf == NULL) {
		fprintf(stderr, "topicfs: out of memory\n");
		exit(1);
	}
	for (;; list++) {
		if (*list == '\\' && list[1] != '\0') {
			*p++ = *++list;
		} else if (*list == ',' || *list == '\0') {
			*p = '\0';
			if (p > buf)
				parse_one_opt(o, buf);
			p = buf;
			if (*list == '\0')
				break;
		} else {
			*p++ = *list;
		}
	}
	free(buf);
}

static void parse_args(int argc, char *argv[], struct options *o)
{
	int i, only_args = 0;

	memset(o, 0, sizeof(*o));
	cfg_defaults(&o->defaults);
	o->maintenance_interval_ms = MAINTENANCE_INTERVAL_MS_DEFAULT;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (only_args || a[0] != '-' || a[1] == '\0') {
			if (o->datadir == NULL)
				o->datadir = a;
			else if (o->mountpoint == NULL)
				o->mountpoint = a;
			else
				die_usage("unexpected argument '%s'", a);
		} else if (strcmp(a, "--") == 0) {
			only_args = 1;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout, argv[0]);
			exit(0);
		} else if (strcmp(a, "-V") == 0 ||
			   strcmp(a, "--version") == 0) {
			printf("topicfs %s\n", TOPICFS_VERSION);
			exit(0);
		} else if (strcmp(a, "-f") == 0) {
			o->foreground = 1;
		} else if (strcmp(a, "-d") == 0) {
			o->debug = 1;
			o->foreground = 1;
		} else if (strcmp(a, "-o") == 0) {
			if (i + 1 >= argc)
				die_usage("option '%s' needs a value", a);
			parse_opt_list(o, argv[++i]);
		} else if (strncmp(a, "-o", 2) == 0) {
			parse_opt_list(o, a + 2);
		} else {
			die_usage("unknown option '%s'", a);
		}
	}
	if (o->datadir == NULL)
		die_usage("%s", "missing DATADIR and MOUNTPOINT");
	if (o->mountpoint == NULL)
		die_usage("%s", "missing MOUNTPOINT");
	/* An empty path would be the current directory to some calls. */
	if (o->datadir[0] == '\0')
		die_usage("%s", "DATADIR is an empty string");
	if (o->mountpoint[0] == '\0')
		die_usage("%s", "MOUNTPOINT is an empty string");
}

/*
** Whether path can be a data directory, which is a matter of the argument:
** a directory we may use, or a name in one (store_open creates it).
** Returns 0 or the -errno that makes it a bad argument. What goes wrong
** inside a data directory is not the argument's fault (exit 1).
*/
static int datadir_usable(const char *path)
{
	struct stat st;
	char *copy;
	int rc;

	if (stat(path, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return -ENOTDIR;
		return access(path, R_OK | W_OK | X_OK) == 0 ? 0 : -errno;
	}
	if (errno != ENOENT)
		return -errno;
	if ((copy = strdup(path)) == NULL)
		return -ENOMEM;
	/* Missing: its parent must be a directory we may create it in. */
	const char *parent = dirname(copy);
	rc = stat(parent, &st) < 0		    ? -errno
	     : !S_ISDIR(st.st_mode)		    ? -ENOTDIR
	     : access(parent, W_OK | X_OK) < 0 ? -errno
					    : 0;
	free(copy);
	return rc;
}

/* Many topics mean many open segment files: take every descriptor the
** hard limit allows. */
static void raise_nofile_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			tfs_log("cannot raise the open file limit: %s",
				strerror(errno));
	}
}

/*
** The daemon runs for months and allocates two kinds of memory: small state
** that lives as long as its segment (a struct and a few index entries),
** and large buffers that come and go with each batch, frame, rewrite or
** readahead window. glibc serves large blocks from the heap once it has
** seen such a block freed (its mmap threshold rises), and there they leave
** holes that small state then pins, so the peak grows with the data that
** went through; it also gives each thread an arena of its own. A fixed
** threshold keeps every large buffer in a mapping of its own, given back
** when freed, and two arenas serve threads that mostly wait on FUSE.
*/
static void tune_malloc(void)
{
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	mallopt(M_ARENA_MAX, 2);
}

/* "/dev/fd/N": mount.fuse3 -o drop_privileges opens /dev/fuse itself and
** passes its descriptor so; libfuse mounts nothing then, it takes the fd. */
static int is_fuse_fd_path(const char *path)
{
	size_t n = strlen("/dev/fd/");

	return strncmp(path, "/dev/fd/", n) == 0 && path[n] != '\0' &&
	       strspn(path + n, "0123456789") == strlen(path + n);
}

/* path made absolute (the daemon chdirs to /), malloc'd; NULL on error. */
static char *absolute(const char *path)
{
	char cwd[PATH_MAX];
	char *out;

	if (path[0] == '/')
		return strdup(path);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return NULL;
	if (asprintf(&out, "%s/%s", cwd, path) < 0)
		return NULL;
	return out;
}

int main(int argc, char *argv[])
{
	struct options o;
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_session *se = NULL;
	struct tfs *fs = NULL;
	store *s = NULL;
	char *datadir = NULL, *mountpoint = NULL, *fopts = NULL;
	struct stat st;
	int rc, ret = 1;

	/* The offline inspector: `topicfs dump ...` or `topicfs-dump ...`. */
	if (tfs_dump_wanted(argc, argv))
		return tfs_dump_main(argc, argv);

	parse_args(argc, argv, &o);
	raise_nofile_limit();
	tune_malloc();

	mountpoint = is_fuse_fd_path(o.mountpoint) ? strdup(o.mountpoint)
						   : realpath(o.mountpoint, NULL);
	if (mountpoint == NULL ||
	    (!is_fuse_fd_path(mountpoint) && stat(mountpoint, &st) < 0)) {
		fprintf(stderr, "topicfs: mountpoint '%s': %s\n", o.mountpoint,
			strerror(errno));
		ret = EXIT_USAGE;
		goto out;
	}
	if (!is_fuse_fd_path(mountpoint) && !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "topicfs: mountpoint '%s': %s\n", o.mountpoint,
			strerror(ENOTDIR));
		ret = EXIT_USAGE;
		goto out;
	}
	datadir = absolute(o.datadir);
	if (datadir == NULL) {
		fprintf(stderr, "topicfs: DATADIR '%s': %s\n", o.datadir,
			strerror(errno));
		goto out;
	}
	if ((rc = datadir_usable(datadir)) < 0) {
		fprintf(stderr, "topicfs: DATADIR '%s': %s\n", o.datadir, strerror(-rc));
		ret = EXIT_USAGE;
		goto out;
	}
	if (tfs_new(datadir, o.maintenance_interval_ms, &fs) < 0) {
		fprintf(stderr, "topicfs: out of memory\n");
		goto out;
	}

	/* Our fsname and subtype first, so that the user's can override. */
	if (asprintf(&fopts, "fsname=topicfs,subtype=topicfs%s%s",
		     o.fuse_opts ? "," : "", o.fuse_opts ? o.fuse_opts : "") < 0) {
		fopts = NULL;
		fprintf(stderr, "topicfs: out of memory\n");
		goto out;
	}
	if (fuse_opt_add_arg(&args, argv[0]) != 0 ||
	    fuse_opt_add_arg(&args, "-o") != 0 ||
	    fuse_opt_add_arg(&args, fopts) != 0 ||
	    (o.debug && fuse_opt_add_arg(&args, "-d") != 0)) {
		fprintf(stderr, "topicfs: out of memory\n");
		goto out;
	}
	se = fuse_session_new(&args, &tfs_ops, sizeof(tfs_ops), fs);
	if (se == NULL) {
		/* libfuse printed what is wrong (an unknown option, mostly). */
		ret = EXIT_USAGE;
		goto out;
	}

	rc = store_open(datadir, &o.defaults, &s);
	if (rc == -EBUSY) {
		fprintf(stderr,
			"topicfs: %s is already mounted by another topicfs "
			"(lock held on %s/lock)\n",
			o.datadir, datadir);
		goto out_session;
	}
	if (rc < 0) {
		fprintf(stderr, "topicfs: cannot open DATADIR '%s': %s\n",
			o.datadir, strerror(-rc));
		goto out_session; /* damage or an I/O error inside DATADIR: exit 1 */
	}
	tfs_set_store(fs, s);

	if (fuse_set_signal_handlers(se) != 0) {
		fprintf(stderr, "topicfs: cannot set signal handlers\n");
		goto out_store;
	}
	if (fuse_session_mount(se, mountpoint) != 0) {
		/* libfuse printed why. */
		goto out_signals;
	}
	/* Mounted: from here on errors go to the log, not the terminal. */
	if (fuse_daemonize(o.foreground) != 0)
		goto out_unmount;
	if (!o.foreground) {
		tfs_log_to_syslog();
		store_write_pid(s); /* the daemon's pid, not its parent's */
	}
	rc = tfs_maint_start(fs);
	if (rc < 0) {
		tfs_log("cannot start the background thread: %s", strerror(-rc));
		goto out_unmount;
	}

	rc = tfs_loop_run(se);
	/* 0 at an unmount or a signal (a clean stop); < 0: it never ran. */
	if (rc < 0)
		tfs_log("session loop failed: %s", strerror(-rc));
	else
		ret = 0;

out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_store:
	/* No request runs any more: drop every topic reference, then close. */
	fuse_session_destroy(se);
	se = NULL;
	tfs_maint_stop(fs);
	tfs_free(fs);
	fs = NULL;
	rc = store_close(s);
	if (rc < 0) {
		tfs_log("closing '%s': %s", datadir, strerror(-rc));
		ret = 1;
	}
out_session:
	if (se != NULL)
		fuse_session_destroy(se);
out:
	tfs_free(fs);
	fuse_opt_free_args(&args);
	free(fopts);
	free(o.fuse_opts);
	free(datadir);
	free(mountpoint);
	return ret;
}

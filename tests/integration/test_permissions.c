/*
** test_permissions.c: other users on a mount made with
** `-o allow_other,default_permissions`, and clients trying to reach files
** outside DATADIR (SPEC.md: "Directory modes (mkdir's mode, chmod) are
** kept"; "links and symlinks (EPERM)").
**
** The tests run as root and act as user nobody (group nogroup, no
** supplementary groups) in two ways: the real tools through
** `setpriv --reuid=nobody --regid=nogroup --clear-groups` (cat, echo >>,
** setfattr, getfattr, ls, rmdir, mv, chmod), and system calls in a forked
** child that dropped to nobody, for the exact errno.
*/
#include "rel_util.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#define NOBODY 65534

static void perm_setup(void)
{
	h_tmp_setup();
	/* mkdtemp made it 0700: others could not even reach the mount point. */
	cr_assert(chmod(H.dir, 0755) == 0);
	umask(022);
	h_mount("allow_other,default_permissions");
}

TestSuite(permissions, .init = perm_setup, .fini = h_teardown, .timeout = 60);

/* ---- Acting as nobody ----------------------------------------------------- */

enum op { OP_READ, OP_APPEND, OP_SETXATTR, OP_GETXATTR, OP_LIST, OP_RMDIR, OP_RENAME,
	  OP_CHMOD, OP_MKDIR, OP_OPEN_OFFSET, OP_REMOVEXATTR, OP_RECREATE_READ,
	  OP_RECREATE_WRITE };

static const char *const op_names[] = { "read log", "append to log", "setxattr", "getxattr",
					"list", "rmdir", "rename", "chmod", "mkdir",
					"read an offset file", "removexattr",
					"unlink log, create it and read",
					"unlink log, create it and write" };

/* Do OP on topic TOPIC as nobody:nogroup; returns 0 or the errno. */
static int as_nobody(enum op op, const char *topic)
{
	pid_t parent = getpid(), pid = fork();
	int status;

	cr_assert(pid >= 0);
	if (pid == 0) {
		char buf[64];
		int rc = 0, fd;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent || setgroups(0, NULL) != 0 || setresgid(NOBODY, NOBODY, NOBODY) != 0 ||
		    setresuid(NOBODY, NOBODY, NOBODY) != 0)
			_exit(255);
		errno = 0;
		switch (op) {
		case OP_READ:
			fd = open(h_mnt("%s/log", topic), O_RDONLY);
			rc = fd < 0 || read(fd, buf, sizeof buf) < 0;
			break;
		case OP_APPEND:
			fd = open(h_mnt("%s/log", topic), O_WRONLY | O_APPEND);
			rc = fd < 0 || write(fd, "from nobody\n", 12) != 12 || close(fd) != 0;
			break;
		case OP_SETXATTR:
			rc = setxattr(h_mnt("%s", topic), "user.retention.ms", "1", 1, 0);
			break;
		case OP_GETXATTR:
			rc = getxattr(h_mnt("%s", topic), "user.retention.ms", buf, sizeof buf) < 0;
			break;
		case OP_REMOVEXATTR:
			rc = removexattr(h_mnt("%s", topic), "user.retention.ms");
			break;
		case OP_LIST:
			rc = access(h_mnt("%s/log", topic), F_OK);
			break;
		case OP_RMDIR:
			rc = rmdir(h_mnt("%s", topic));
			break;
		case OP_RENAME:
			rc = rename(h_mnt("%s", topic), h_mnt("%s.moved", topic));
			break;
		case OP_CHMOD:
			rc = chmod(h_mnt("%s", topic), 0777);
			break;
		case OP_MKDIR:
			rc = mkdir(h_mnt("%s.new", topic), 0755);
			break;
		case OP_OPEN_OFFSET:
			fd = open(h_mnt("%s/0", topic), O_RDONLY);
			rc = fd < 0 || read(fd, buf, sizeof buf) < 0;
			break;
		case OP_RECREATE_READ: /* as tar x would, but to read */
			rc = unlink(h_mnt("%s/log", topic));
			if (rc == 0) {
				fd = open(h_mnt("%s/log", topic), O_RDONLY | O_CREAT, 0644);
				rc = fd < 0 || read(fd, buf, sizeof buf) < 0;
			}
			break;
		case OP_RECREATE_WRITE: /* as tar x does */
			rc = unlink(h_mnt("%s/log", topic));
			if (rc == 0) {
				fd = open(h_mnt("%s/log", topic), O_WRONLY | O_CREAT | O_EXCL, 0644);
				rc = fd < 0 || write(fd, "recreated\n", 10) != 10 || close(fd) != 0;
			}
			break;
		}
		_exit(rc ? (errno ? errno : 254) : 0);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 255, "could not become nobody");
	return WEXITSTATUS(status);
}

static char *content(const char *rel)
{
	size_t len;
	char *p = h_read_file(h_mnt("%s", rel), &len);

	cr_assert(p != NULL, "read %s: %s", rel, strerror(errno));
	return p;
}

/* ---- Tests --------------------------------------------------------------------- */

Test(permissions, private_topic_refuses_nobody)
{
	static const struct {
		enum op op;
		int err;
	} refused[] = {
		{ OP_READ, EACCES },	 { OP_APPEND, EACCES },	    { OP_SETXATTR, EACCES },
		{ OP_GETXATTR, EACCES }, { OP_REMOVEXATTR, EACCES }, { OP_LIST, EACCES },
		{ OP_RMDIR, EACCES },	 { OP_RENAME, EACCES },	    { OP_CHMOD, EPERM },
		{ OP_MKDIR, EACCES },	 { OP_OPEN_OFFSET, EACCES },
	};
	char *log0, *set0, *log1, *set1;
	struct stat st;

	cr_assert(mkdir(h_mnt("priv"), 0700) == 0, "mkdir priv: %s", strerror(errno));
	r_append("priv", "secret\n");
	cr_assert(setxattr(h_mnt("priv"), "user.retention.ms", "123456", 6, 0) == 0);
	log0 = content("priv/log");
	set0 = h_getxattr(h_mnt("priv"), "user.retention.ms");

	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		int err = as_nobody(refused[i].op, "priv");

		cr_expect_eq(err, refused[i].err, "nobody's %s on a 0700 root topic: %s, want %s",
			     op_names[refused[i].op], err ? strerror(err) : "allowed",
			     strerror(refused[i].err));
	}
	/* The same with the real tools. */
	cr_expect_neq(r_sh_nobody("cat $MNT/priv/log"), 0, "nobody's cat of priv/log worked");
	cr_expect(strstr(h_sh_output(), "Permission denied") != NULL, "cat: %s", h_sh_output());
	cr_expect_neq(r_sh_nobody("echo intruder >> $MNT/priv/log"), 0,
		      "nobody's echo >> priv/log worked");
	cr_expect(strstr(h_sh_output(), "Permission denied") != NULL, "echo: %s", h_sh_output());
	cr_expect_neq(r_sh_nobody("setfattr -n user.retention.ms -v 1 $MNT/priv"), 0,
		      "nobody's setfattr on priv worked");
	cr_expect(strstr(h_sh_output(), "Permission denied") != NULL, "setfattr: %s",
		  h_sh_output());
	cr_expect_neq(r_sh_nobody("getfattr -n user.retention.ms $MNT/priv"), 0,
		      "nobody's getfattr on priv worked");
	cr_expect_neq(r_sh_nobody("ls $MNT/priv"), 0, "nobody's ls of priv worked");
	cr_expect_neq(r_sh_nobody("tail -n 1 $MNT/priv/0"), 0, "nobody's tail of priv/0 worked");

	log1 = content("priv/log");
	set1 = h_getxattr(h_mnt("priv"), "user.retention.ms");
	cr_expect_str_eq(log1, log0, "priv/log changed");
	cr_expect_str_eq(set1, set0, "priv's retention.ms changed");
	cr_assert(stat(h_mnt("priv"), &st) == 0);
	cr_expect_eq(st.st_mode & 07777, 0700, "priv's mode changed to %04o", st.st_mode & 07777);
	cr_expect_eq(st.st_uid, 0, "priv's owner changed");
	/* Root still can. */
	r_append("priv", "root\n");
	free(log0);
	free(log1);
	free(set0);
	free(set1);
}

/*
** A topic anyone may write (mkdir -m 0777): nobody appends with `echo >>`,
** and reads. With default_permissions the kernel checks the log file's own
** mode and owner, so the log must take its topic's mode. (A regression
** test: before 84e9e50 a log was always 0644, and nobody could not append.)
*/
Test(permissions, open_topic_lets_nobody_append)
{
	struct stat st;
	char *log;

	cr_assert(mkdir(h_mnt("pub"), 0777) == 0, "mkdir pub: %s", strerror(errno));
	cr_assert(chmod(h_mnt("pub"), 0777) == 0); /* whatever the umask */
	r_append("pub", "from root\n");
	cr_assert(stat(h_mnt("pub/log"), &st) == 0);
	cr_expect_eq(as_nobody(OP_APPEND, "pub"), 0,
		     "nobody cannot append to a 0777 topic's log: %s (log is %04o, owner %u)",
		     strerror(as_nobody(OP_APPEND, "pub")), st.st_mode & 07777, st.st_uid);
	cr_expect_eq(r_sh_nobody("echo 'via echo' >> $MNT/pub/log"), 0,
		     "nobody's echo >> pub/log: %s", h_sh_output());
	cr_expect_eq(as_nobody(OP_READ, "pub"), 0, "nobody cannot read a 0777 topic's log");
	cr_expect_eq(r_sh_nobody("cat $MNT/pub/log > /dev/null"), 0, "nobody's cat: %s",
		     h_sh_output());
	log = content("pub/log");
	cr_expect_str_eq(log, "from root\nfrom nobody\nvia echo\n", "pub/log after nobody's appends");
	free(log);
	cr_expect_eq(as_nobody(OP_CHMOD, "pub"), EPERM, "nobody chmod-ed root's topic");
}

/*
** A topic others may append to but not read (0733: log is -rw--w--w-).
** Unlinking log is accepted and the same process's next lookup of it is
** ENOENT (misuse/tar_x_into_a_topic_appends_and_ends), so its open goes
** to create(), where the kernel checks no mode bits: nobody read the log
** that way. create() checks them now.
*/
Test(permissions, unlink_and_create_of_log_keeps_its_mode)
{
	char *log;

	cr_assert(mkdir(h_mnt("wo"), 0733) == 0, "mkdir wo: %s", strerror(errno));
	cr_assert(chmod(h_mnt("wo"), 0733) == 0); /* whatever the umask */
	r_append("wo", "secret\n");
	cr_expect_eq(as_nobody(OP_READ, "wo"), EACCES, "nobody read a 0733 topic's log");
	cr_expect_eq(as_nobody(OP_RECREATE_READ, "wo"), EACCES,
		     "nobody read a 0733 topic's log after unlinking it");
	cr_expect_eq(as_nobody(OP_RECREATE_WRITE, "wo"), 0,
		     "nobody could not append to a 0733 topic's log as tar x does");
	log = content("wo/log");
	cr_expect_str_eq(log, "secret\nrecreated\n", "wo/log");
	free(log);
}

/* A topic that nobody owns: nobody can do everything to it that its owner
 * may, and root's 0700 topic stays closed. */
Test(permissions, chown_gives_a_topic_to_nobody)
{
	cr_assert(mkdir(h_mnt("own"), 0700) == 0);
	cr_assert(chown(h_mnt("own"), NOBODY, NOBODY) == 0, "chown own: %s", strerror(errno));
	cr_expect_eq(as_nobody(OP_APPEND, "own"), 0, "nobody cannot append to its own topic");
	cr_expect_eq(as_nobody(OP_READ, "own"), 0, "nobody cannot read its own topic");
	cr_expect_eq(as_nobody(OP_SETXATTR, "own"), 0, "nobody cannot set its own topic's settings");
	cr_expect_eq(as_nobody(OP_CHMOD, "own"), 0, "nobody cannot chmod its own topic");
	h_remount();
	{
		struct stat st;

		cr_assert(stat(h_mnt("own"), &st) == 0);
		cr_expect(st.st_uid == NOBODY && st.st_gid == NOBODY && (st.st_mode & 07777) == 0777,
			  "own after a remount: uid %u gid %u mode %04o", st.st_uid, st.st_gid,
			  st.st_mode & 07777);
	}
}

/* Everything a client may try to reach a path outside DATADIR is refused,
 * and no file appears outside DATADIR. */
Test(permissions, nothing_escapes_datadir)
{
	char marker[64], target[PATH_MAX], want[PATH_MAX], *dir0, *dir1, *names;
	int fd;

	snprintf(marker, sizeof marker, "topicfs-escape-%d", (int)getpid());
	snprintf(target, sizeof target, "/tmp/%s", marker);
	cr_assert(mkdir(h_mnt("t"), 0755) == 0);
	r_append("t", "data\n");
	dir0 = r_list_dir(H.dir, 0);

	/* Links, as root and as nobody. */
	errno = 0;
	cr_expect(symlink(target, h_mnt("t/link")) != 0 && errno == EPERM, "symlink in a topic: %s",
		  strerror(errno));
	cr_expect(symlink("../../../../../../tmp", h_mnt("evil")) != 0 && errno == EPERM,
		  "symlink at the root: %s", strerror(errno));
	cr_expect(symlink("/etc/passwd", h_mnt("t/consumers/passwd")) != 0,
		  "symlink in consumers/ worked");
	cr_expect(link(h_mnt("t/log"), h_mnt("t/hard")) != 0 && errno == EPERM,
		  "hard link in a topic: %s", strerror(errno));
	cr_expect_neq(r_sh_nobody("ln -s /etc/shadow $MNT/t/shadow"), 0, "nobody's ln -s worked");
	cr_expect(rename(h_mnt("t"), target) != 0 && errno == EXDEV,
		  "rename of a topic out of the mount: %s", strerror(errno));
	/* Names that look like paths (the kernel resolves real ones itself). */
	cr_expect(mkdir(h_mnt("..%%2f..%%2f%s", marker), 0755) != 0 && errno == EINVAL,
		  "mkdir of an encoded path: %s", strerror(errno));
	cr_expect(mkdir(h_mnt("..."), 0755) == 0, "mkdir ...: %s", strerror(errno));
	cr_expect(mkdir(h_mnt("..%s", marker), 0755) == 0, "mkdir ..%s: %s", marker, strerror(errno));
	fd = open(h_mnt("t/consumers/..\\..\\%s", marker), O_CREAT | O_RDONLY, 0644);
	cr_expect(fd < 0 && errno == EINVAL, "a consumer named ..\\..\\%s: %s", marker,
		  fd < 0 ? strerror(errno) : "created");
	if (fd >= 0)
		close(fd);
	/* Attributes with paths in their names and values. */
	snprintf(want, sizeof want, "user.../../../../tmp/%s", marker);
	cr_expect(setxattr(h_mnt("t"), want, "1", 1, 0) != 0 &&
			  errno == EINVAL,
		  "setxattr with a path as its name: %s", strerror(errno));
	cr_expect(setxattr(h_mnt("t"), "user.retention.ms", target, strlen(target), 0) != 0 &&
			  errno == EINVAL,
		  "setxattr with a path as a number: %s", strerror(errno));
	cr_expect(setxattr(h_mnt("t"), "user.key.separator", target, strlen(target), 0) == 0,
		  "a path is a valid key separator (bytes): %s", strerror(errno));
	h_remount(); /* topic.conf now holds the path: it must stay data */

	dir1 = r_list_dir(H.dir, 0);
	cr_expect_str_eq(dir1, dir0, "files appeared beside DATADIR");
	h_sh("find /tmp /etc /root / -maxdepth 2 -name '*%s*' 2>/dev/null | grep -v '^%s/'", marker,
	     H.dir);
	cr_expect_str_eq(h_sh_output(), "", "a file named after the marker exists outside DATADIR");
	names = r_list_dir(h_work("data/topics"), 0);
	snprintf(want, sizeof want, "...\n..%s\nt", marker);
	cr_expect_str_eq(names, want, "DATADIR/topics");
	free(names);
	names = r_list_dir(h_work("data/topics/t"), 1);
	cr_expect(strstr(names, marker) == NULL, "DATADIR/topics/t holds a name with the marker:\n%s",
		  names);
	free(names);
	free(dir0);
	free(dir1);
}

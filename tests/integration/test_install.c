/*
** test_install.c: `make install` (PREFIX, DESTDIR) and what it is for:
** `make mount` (the README's first command), the file layout, a man page
** that `man --warnings` accepts, a mount
** through `mount -t fuse.topicfs` and through an /etc/fstab line, and the
** systemd unit of examples/ that `systemd-analyze verify` accepts.
**
** mount(8) runs its helpers with no PATH of its own, so mount.fuse3 finds
** topicfs only in the system's directories (/usr/local/bin, /usr/bin ...).
** So that the test installs nothing outside its $WORK, it installs into
** DESTDIR=$WORK/root with PREFIX=/usr/local and then, in a mount namespace
** of its own (unshare -m), binds $WORK/root/usr/local over /usr/local: the
** mount, the unit's ExecStart= and its man: link see the installed files.
*/
#include "tools_util.h"

#include <string.h>

TestSuite(install, .init = h_tmp_setup, .fini = h_teardown, .timeout = 300);

/* Install PACKAGE when COMMAND is missing (serialised with the examples'). */
static void need(const char *command, const char *package)
{
	H_SH_OK("command -v %s >/dev/null || ( flock 9; export DEBIAN_FRONTEND=noninteractive; "
		"apt-get install -y -qq -o DPkg::Lock::Timeout=300 %s >/dev/null || "
		"{ apt-get update -qq && apt-get install -y -qq -o DPkg::Lock::Timeout=300 %s; } "
		") 9>/tmp/topicfs-examples-apt.lock",
		command, package, package);
}

/* `make TARGET DESTDIR=$WORK/root PREFIX=prefix` in the source tree, with
** the daemon of this run (SANITIZE=1 when it is build-san/topicfs). */
static void make_target(const char *target, const char *prefix)
{
	H_SH_OK("env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C '%s' %s %s "
		"DESTDIR=\"$WORK/root\" PREFIX=%s",
		t_src_dir(), target, strcmp(t_build_name(), "build-san") ? "" : "SANITIZE=1",
		prefix);
}

/* The README's first command, `make mount` (DATADIR and MNT in $WORK):
** it mounts in the background, and the mount works: a topic, a line in,
** the line out; then it unmounts. */
Test(install, make_mount_as_the_readme_says)
{
	H_SH_OK("M=\"$WORK/mnt-make\"; D=\"$WORK/data-make\"; "
		"env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C '%s' mount %s "
		"DATADIR=\"$D\" MNT=\"$M\" | grep -q \"^topicfs is mounted on $M\" || exit 1; "
		"rc=0; mkdir \"$M/t\" && echo 'made by make mount' >> \"$M/t/log\" && "
		"test \"$(cat \"$M/t/log\")\" = 'made by make mount' && test -d \"$D/topics/t\" "
		"|| rc=1; fusermount3 -u \"$M\" || rc=1; exit $rc",
		t_src_dir(), strcmp(t_build_name(), "build-san") ? "" : "SANITIZE=1");
}

Test(install, layout_and_man_page)
{
	need("man", "man-db");
	make_target("install", "/usr");
	H_SH_OK("cd \"$WORK/root\" && find . -type f -o -type l | LC_ALL=C sort | tr '\\n' ' ' | "
		"grep -qx './usr/bin/topicfs ./usr/bin/topicfs-dump "
		"./usr/share/man/man1/topicfs.1 '");
	H_SH_OK("cd \"$WORK/root/usr\" && test -x bin/topicfs && "
		"test \"$(readlink bin/topicfs-dump)\" = topicfs && "
		"test \"$(stat -c %%a share/man/man1/topicfs.1)\" = 644");
	H_SH_OK("\"$WORK/root/usr/bin/topicfs\" --version | grep -q '^topicfs [0-9]' && "
		"\"$WORK/root/usr/bin/topicfs-dump\" --help | grep -q '^usage: topicfs dump'");
	/* The man page: no warning from man (groff -ww), and the mount lines. */
	H_SH_OK("man --warnings -l \"$WORK/root/usr/share/man/man1/topicfs.1\" >/dev/null "
		"2>\"$WORK/man.err\"; test ! -s \"$WORK/man.err\" || { cat \"$WORK/man.err\"; false; }");
	H_SH_OK("MANWIDTH=100 man -l \"$WORK/root/usr/share/man/man1/topicfs.1\" 2>/dev/null "
		">\"$WORK/man.txt\" && grep -q 'mount -t fuse.topicfs' \"$WORK/man.txt\" && "
		"grep -q 'fuse.topicfs  defaults' \"$WORK/man.txt\" && "
		"grep -q 'topicfs dump' \"$WORK/man.txt\"");
	make_target("uninstall", "/usr");
	H_SH_OK("test -z \"$(find \"$WORK/root\" -type f -o -type l)\"");
}

Test(install, mount_t_fuse_topicfs_and_an_fstab_line)
{
	need("fusermount3", "fuse3");
	need("getfattr", "attr");
	make_target("install", "/usr/local");
	H_SH_OK("mkdir -p \"$WORK/m2\" && printf '%%s %%s fuse.topicfs "
		"defaults,nofail,_netdev,noauto,x-systemd.automount,comment=test,"
		"segment.bytes=4096 0 0\\n' \"$DATA\" \"$WORK/m2\" >\"$WORK/fstab\"");
	H_SH_OK("timeout -k 5 120 unshare -m --propagation private bash -euo pipefail -c '\n"
		"mount --bind \"$WORK/root/usr/local\" /usr/local\n"
		"trap \"umount -l \\\"$MNT\\\" 2>/dev/null || :; umount -l \\\"$WORK/m2\\\" 2>/dev/null || :\" EXIT\n"
		"idle() { topicfs-dump \"$DATA\" >\"$WORK/idle.out\" 2>&1 || :; "
		"head -n 1 \"$WORK/idle.out\" | grep -q \"not in use\"; }\n"
		"wait_idle() { for i in $(seq 100); do idle && return 0; sleep 0.1; done; "
		"echo \"the daemon did not exit\"; return 1; }\n"
		"test \"$(command -v topicfs)\" = /usr/local/bin/topicfs\n"
		/* mount(8) -> mount.fuse3 -> topicfs DATADIR MNT -o ..., backgrounded */
		"mount -t fuse.topicfs -o rw,nosuid,nodev,segment.bytes=4096 \"$DATA\" \"$MNT\"\n"
		"grep \" $MNT \" /proc/self/mountinfo | grep \" - fuse.topicfs topicfs \" "
		"| grep -q nosuid,nodev\n"
		"mkdir \"$MNT/t\"\n"
		"seq 1 1000 | sed s/^/record/ >>\"$MNT/t/log\"\n"
		"test \"$(wc -l <\"$MNT/t/log\")\" = 1000\n"
		"test \"$(getfattr --only-values -n user.segment.bytes \"$MNT/t\")\" = 4096\n"
		"umount \"$MNT\"\n"
		"wait_idle\n"
		/* The fstab line: options only mount(8) and mount.fuse3 read are
		** dropped before topicfs sees them; the topic setting gets through. */
		"mount -T \"$WORK/fstab\" \"$WORK/m2\"\n"
		"test \"$(wc -l <\"$WORK/m2/t/log\")\" = 1000\n"
		"test \"$(getfattr --only-values -n user.segment.bytes \"$WORK/m2/t\")\" = 4096\n"
		"echo record1001 >>\"$WORK/m2/t/log\"\n"
		"umount \"$WORK/m2\"\n"
		"wait_idle\n"
		"topicfs-dump \"$DATA\" >\"$WORK/dump.out\"\n"
		"grep -q \"records=1001 \" \"$WORK/dump.out\"\n"
		"'");
	cr_expect(!h_is_mounted(H.mnt));
}

Test(install, systemd_unit_verifies)
{
	need("systemd-analyze", "systemd");
	need("man", "man-db");
	make_target("install", "/usr/local");
	/* A unit whose program is missing must fail: verify really checks. */
	H_SH_OK("sed 's|^ExecStart=/usr/local/bin/topicfs|ExecStart=/usr/local/bin/no-topicfs|' "
		"'%s/examples/topicfs.service' >\"$WORK/topicfs.service\"",
		t_src_dir());
	H_SH_OK("timeout -k 5 120 unshare -m --propagation private bash -euo pipefail -c '\n"
		"mount --bind \"$WORK/root/usr/local\" /usr/local\n"
		"systemd-analyze verify \"$1\" >\"$WORK/verify.out\" 2>&1 || "
		"{ cat \"$WORK/verify.out\"; exit 1; }\n"
		"if grep topicfs.service \"$WORK/verify.out\"; then exit 1; fi\n"
		"if systemd-analyze verify \"$WORK/topicfs.service\" >/dev/null 2>&1; then "
		"echo \"verify accepted a unit without its program\"; exit 1; fi\n"
		"' verify '%s/examples/topicfs.service'",
		t_src_dir());
}

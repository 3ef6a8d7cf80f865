/*
** tools_util.c: see tools_util.h.
*/
#include "tools_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T_MAX_ARGS 32

static char src_dir[PATH_MAX];
static char build_name[64];

static void find_dirs(void)
{
	const char *bin = getenv("TOPICFS_BIN");
	char buf[PATH_MAX], *dir;

	cr_assert(bin != NULL && bin[0] == '/',
		  "TOPICFS_BIN must be the absolute path of the daemon (run `make integration`)");
	cr_assert(realpath(bin, buf) != NULL, "realpath %s: %s", bin, strerror(errno));
	dir = dirname(buf); /* SRC/build */
	snprintf(build_name, sizeof build_name, "%s", strrchr(dir, '/') + 1);
	snprintf(src_dir, sizeof src_dir, "%s", dirname(dir));
}

const char *t_src_dir(void)
{
	if (src_dir[0] == '\0')
		find_dirs();
	return src_dir;
}

const char *t_build_name(void)
{
	if (build_name[0] == '\0')
		find_dirs();
	return build_name;
}

int t_topicfs(char **out, char **err, ...)
{
	char *argv[T_MAX_ARGS];
	int argc = 0;
	va_list ap;

	argv[argc++] = getenv("TOPICFS_BIN");
	cr_assert(argv[0] != NULL, "TOPICFS_BIN is not set");
	va_start(ap, err);
	while ((argv[argc] = va_arg(ap, char *)) != NULL) {
		argc++;
		cr_assert(argc < T_MAX_ARGS, "t_topicfs: too many arguments");
	}
	va_end(ap);
	return h_run(argv, 60000, out, err);
}

void t_flip(const char *path, long long off, unsigned char mask)
{
	int fd = open(path, O_RDWR);
	unsigned char c;

	cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
	cr_assert(pread(fd, &c, 1, off) == 1, "read byte %lld of %s", off, path);
	c ^= mask;
	cr_assert(pwrite(fd, &c, 1, off) == 1, "write byte %lld of %s", off, path);
	close(fd);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(a, b);
}

size_t t_segments(const char *topic, char (*names)[T_SEG_NAME_LEN + 1], size_t max)
{
	DIR *d = opendir(h_work("data/topics/%s", topic));
	struct dirent *e;
	size_t n = 0;

	cr_assert(d != NULL, "opendir data/topics/%s: %s", topic, strerror(errno));
	while ((e = readdir(d)) != NULL && n < max) {
		size_t len = strlen(e->d_name);

		if (len == T_SEG_NAME_LEN && strcmp(e->d_name + len - 4, ".log") == 0)
			snprintf(names[n++], T_SEG_NAME_LEN + 1, "%s", e->d_name);
	}
	closedir(d);
	qsort(names, n, T_SEG_NAME_LEN + 1, cmp_names);
	return n;
}

size_t t_count(const char *hay, const char *needle)
{
	size_t n = 0, len = strlen(needle);

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += len)
		n++;
	return n;
}

char *t_tree_snapshot(const char *dir)
{
	char *argv[] = {
		"bash", "-c",
		"cd \"$1\" && find . -printf '%P %y %s %T@ %m\\n' | LC_ALL=C sort && "
		"find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum",
		"snapshot", (char *)dir, NULL
	};
	char *out, *err;
	int st = h_run(argv, 30000, &out, &err);

	cr_assert_eq(st, 0, "snapshot of %s failed: %s", dir, err);
	free(err);
	return out;
}

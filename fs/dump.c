/*
** dump.c: the command line of the offline inspector.
**
**   topicfs dump [--records] [--from OFFSET] DATADIR [TOPIC]
**   topicfs-dump  (the same, through a link named so)
**
** The listing goes to stdout. The core's own log lines are silenced: the
** listing names every damaged place (topic, segment, byte, offsets) itself.
*/
#include "dump.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/inspect.h"
#include "../core/log.h"

#define EXIT_DAMAGE 1
#define EXIT_TROUBLE 2

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

int tfs_dump_wanted(int argc, char *argv[])
{
	return (argc > 0 && strcmp(base_name(argv[0]), "topicfs-dump") == 0) ||
	       (argc > 1 && strcmp(argv[1], "dump") == 0);
}

static void usage(FILE *out)
{
	fputs("usage: topicfs dump [--records] [--from OFFSET] DATADIR [TOPIC]\n"
	      "\n"
	      "Checks a topicfs data directory without changing it (it may be\n"
	      "mounted meanwhile): lists topics and segments with their offsets,\n"
	      "sizes and compression, and verifies every segment header, batch\n"
	      "CRC, zstd frame and index.\n"
	      "\n"
	      "    -r, --records          also print every record: offset, append\n"
	      "                           time, key (when key.separator is set)\n"
	      "    --from OFFSET          print the records from OFFSET on (implies -r)\n"
	      "    -h, --help             print this help and exit\n"
	      "\n"
	      "exit status: 0 no damage (notes about what the next mount repairs\n"
	      "may be printed), 1 damage found (DAMAGE lines), 2 bad arguments or\n"
	      "DATADIR cannot be read.\n",
	      out);
}

static int bad_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "topicfs dump: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (try --help)\n");
	return EXIT_TROUBLE;
}

static void quiet_sink(int level, const char *line)
{
	(void)level;
	(void)line;
}

int tfs_dump_main(int argc, char *argv[])
{
	inspect_opts o = {.out = stdout, .err = stderr};
	inspect_report rep;
	const char *datadir = NULL;
	int i = strcmp(base_name(argv[0]), "topicfs-dump") == 0 ? 1 : 2, only_args = 0, rc;

	for (; i < argc; i++) {
		const char *a = argv[i];
		if (only_args || a[0] != '-' || a[1] == '\0') {
			if (!datadir)
				datadir = a;
			else if (!o.topic)
				o.topic = a;
			else
				return bad_usage("unexpected argument '%s'", a);
		} else if (!strcmp(a, "--")) {
			only_args = 1;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "-r") || !strcmp(a, "--records")) {
			o.records = 1;
		} else if (!strcmp(a, "--from") || !strncmp(a, "--from=", 7)) {
			const char *v = a[6] == '=' ? a + 7 : (i + 1 < argc ? argv[++i] : NULL);
			char *end;
			if (!v)
				return bad_usage("option '%s' needs an offset", a);
			errno = 0;
			unsigned long long off = strtoull(v, &end, 10);
			if (errno || end == v || *end || v[0] < '0' || v[0] > '9')
				return bad_usage("bad offset '%s'", v);
			o.from_offset = off;
			o.records = 1;
		} else {
			return bad_usage("unknown option '%s'", a);
		}
	}
	if (!datadir)
		return bad_usage("%s", "missing DATADIR");

	log_set_sink(quiet_sink);
	rc = inspect_datadir(datadir, &o, &rep);
	log_set_sink(NULL);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "topicfs dump: writing the listing: %s\n", strerror(errno));
		return EXIT_TROUBLE;
	}
	if (rc < 0)
		return EXIT_TROUBLE;
	if (rep.damage) {
		fprintf(stderr, "topicfs dump: %s: damage found in %llu %s (see the DAMAGE lines)\n",
			datadir, (unsigned long long)rep.damage, rep.damage == 1 ? "place" : "places");
		return EXIT_DAMAGE;
	}
	return 0;
}

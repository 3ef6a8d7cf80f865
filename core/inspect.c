/*
** inspect.c: the offline inspector (see inspect.h for what it reports).
**
** READ-ONLY. Every file is opened O_RDONLY (segments through seg_open_raw,
** indexes through idx_load, small files through io_read_file); nothing is
** created, cut, renamed or locked. Whether a daemon has DATADIR mounted is
** learnt from /proc/locks, not by trying the lock: even a shared flock
** held for a moment would make a mount starting at that moment fail.
**
** WALK. A topic's segment headers are all read first (a sealed segment's
** index is checked against its successor's base, as the daemon does), then
** each segment is walked with seg_iter from its header to its file's end:
** plain segments batch by batch, compressed ones frame by frame. Each batch
** must pass its CRC and come after the one before it (offsets and byte
** positions only grow, within a segment and across segments), but for the
** segments that a merge a crash interrupted left after the merged one
** (segment.c, "MERGES"): those are noted and passed over, as the mount
** removes them. A segment
** whose header is bad is walked all the same, as the mount would after
** rebuilding the header (seg_repair_header).
**
** WHEN A BATCH FAILS. The walk looks for the next place where a valid batch
** starts (plain: any byte at which a batch header decodes, passes its CRC
** and continues the offsets; compressed: the next zstd frame magic whose
** frame decodes). Found: the bytes in between are damage, and the walk goes
** on from there. Not found: in the newest segment, that is a torn tail,
** which the daemon's recovery cuts (segment.c) and which holds nothing a
** write was acknowledged for; in a sealed segment it is damage. This is
** stricter than recovery in one way: recovery cuts the newest segment at
** the first impossible header even when valid batches follow; the
** inspector calls that damage, since acknowledged records would be lost.
**
** INDEXES. A sealed segment's index is "in use" when its summary names the
** segment's size and header crc and the successor's base, exactly the test
** open_sealed() applies; then every entry must point at a batch (a frame)
** start with that batch's offset, byte position, time and record count,
** and the summary's counts must match. A missing, unsealed or stale index
** is rebuilt at mount: a note. The newest segment's index is written
** without syncs, so anything wrong in it is a note too.
*/
#include "inspect.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "core_internal.h"
#include "index.h"
#include "io.h"
#include "record.h"
#include "segment.h"
#include "store.h"

#define INDEX_HEADER_BYTES 80 /* index.c's layout: header, then entries */
#define INDEX_ENTRY_BYTES 48
#define CONF_NAME "topic.conf"
#define TIME_MAX_LEN 40

/* The state of one run. */
struct ins {
	const inspect_opts *o;
	inspect_report *rep;
	FILE *out;
	const char *topic; /* the topic being inspected, NULL between topics */
	char sep[CFG_KEY_SEPARATOR_MAX];
	size_t seplen; /* the topic's key.separator, 0: records have no keys */
	uint64_t removed_below; /* topic.conf's removed.below, 0 when absent */
};

/* One segment of the topic being inspected. */
struct segx {
	uint64_t base;
	char name[32];
	seg *s;	     /* NULL: the header is bad (or the file vanished) */
	int newest;  /* the segment recovery treats as the newest */
	const struct segx *into; /* a merge a crash interrupted put its records there */
	int removed;		 /* retention removed it; its files could not go */
	int index_used;		 /* the mount would use its sealed index as it is */
	int headerless; /* its header is bad: walked with a made-up one */
	/* Sealed, plain, and its index still in its growing form (or empty):
	** a crash came before the roll's seal, and the mount cuts a tail the
	** walk cannot pass as torn (segment.c, seg_open), as at the newest. */
	int unsynced;
	/* What the walk found: */
	int walked;
	int damaged;
	uint64_t first_offset; /* first valid record, UINT64_MAX: none */
	uint64_t end_offset;   /* after the last valid batch (base when none) */
	uint64_t end_bytepos;
	uint64_t records, batches, frames;
	uint64_t valid_end; /* file location after the last valid batch or frame */
	int64_t min_ts_ms, max_ts_ms;
};

/* Matching an index file against the walk, entry by entry. */
struct idxcheck {
	idx x;
	size_t k;	  /* the next entry to meet */
	int on;		  /* compare at all */
	int trusted;	  /* the daemon uses it: a mismatch is damage */
	uint64_t bad;	  /* entries that do not match */
	size_t first_bad; /* the first of them */
	idx_summary sum;  /* trusted: the index's summary */
};

/* ---- output ---- */

static const char *fmt_time(int64_t ms, char *buf)
{
	int64_t sec = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
	int milli = (int)(ms - sec * 1000);
	time_t t = (time_t)sec;
	struct tm tm;
	size_t n;

	if (!gmtime_r(&t, &tm) || (n = strftime(buf, TIME_MAX_LEN, "%Y-%m-%dT%H:%M:%S", &tm)) == 0) {
		snprintf(buf, TIME_MAX_LEN, "%" PRId64 "ms", ms);
		return buf;
	}
	snprintf(buf + n, TIME_MAX_LEN - n, ".%03dZ", milli);
	return buf;
}

/* Bytes as one line of text: backslash, tab and control bytes escaped
** (and spaces, for keys, so that a key ends at the first space). */
static void put_escaped(FILE *f, const unsigned char *p, size_t n, int escape_space)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];
		if (c == '\\')
			fputs("\\\\", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20 || c == 0x7f || (escape_space && c == ' '))
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
}

/* A finding: "DAMAGE: topic T, segment S, byte B: ..." or "note: ...".
** seg may be NULL and byte negative when they do not apply. */
__attribute__((format(printf, 5, 6))) static void finding(struct ins *in, int damage,
							  const char *segname, int64_t byte,
							  const char *fmt, ...)
{
	va_list ap;

	fprintf(in->out, "%s%s: ", in->topic ? "  " : "", damage ? "DAMAGE" : "note");
	if (in->topic)
		fprintf(in->out, "topic %s", in->topic);
	if (segname)
		fprintf(in->out, "%ssegment %s", in->topic ? ", " : "", segname);
	if (byte >= 0)
		fprintf(in->out, ", byte %" PRId64, byte);
	if (in->topic || segname)
		fputs(": ", in->out);
	va_start(ap, fmt);
	vfprintf(in->out, fmt, ap);
	va_end(ap);
	fputc('\n', in->out);
	if (damage)
		in->rep->damage++;
	else
		in->rep->notes++;
}

static void print_record(struct ins *in, uint64_t offset, int64_t ts_ms, const unsigned char *p,
			 size_t len)
{
	char t[TIME_MAX_LEN];
	const unsigned char *sep = in->seplen ? memmem(p, len, in->sep, in->seplen) : NULL;

	fprintf(in->out, "    offset: %" PRIu64 " time: %s", offset, fmt_time(ts_ms, t));
	if (sep) {
		size_t klen = (size_t)(sep - p), vstart = klen + in->seplen;
		fputs(" key: ", in->out);
		put_escaped(in->out, p, klen, 1);
		if (vstart == len) {
			fputs(" tombstone", in->out);
		} else {
			fputs(" value: ", in->out);
			put_escaped(in->out, p + vstart, len - vstart, 0);
		}
	} else {
		fputs(" payload: ", in->out);
		put_escaped(in->out, p, len, 0);
	}
	fputc('\n', in->out);
}

/* ---- directories ---- */

struct names {
	char **v;
	size_t n, cap;
};

static void names_free(struct names *nm)
{
	for (size_t i = 0; i < nm->n; i++)
		free(nm->v[i]);
	free(nm->v);
	memset(nm, 0, sizeof *nm);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of dirfd/sub (but . and ..), sorted in byte order. */
static int list_dir(int dirfd, const char *sub, struct names *out)
{
	DIR *d = io_opendir_at(dirfd, sub);
	struct dirent *de;
	struct names nm = {0};
	int rc = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (nm.n == nm.cap) {
			size_t cap = nm.cap ? nm.cap * 2 : 16;
			char **nv = realloc(nm.v, cap * sizeof *nv);
			if (!nv) {
				rc = -ENOMEM;
				break;
			}
			nm.v = nv;
			nm.cap = cap;
		}
		if (!(nm.v[nm.n] = strdup(de->d_name))) {
			rc = -ENOMEM;
			break;
		}
		nm.n++;
	}
	closedir(d);
	if (rc < 0) {
		names_free(&nm);
		return rc;
	}
	if (nm.n > 1)
		qsort(nm.v, nm.n, sizeof *nm.v, cmp_name);
	*out = nm;
	return 0;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

/* The pid that holds an flock on dirfd/lock (from /proc/locks), or 0. */
static long lock_holder(int dirfd)
{
	struct stat st;
	char line[256];
	long pid = 0;
	FILE *f;

	if (fstatat(dirfd, "lock", &st, 0) < 0 || !(f = fopen("/proc/locks", "re")))
		return 0;
	while (fgets(line, sizeof line, f)) {
		char kind[16], mode[16];
		unsigned maj, mnr;
		unsigned long ino;
		long p;
		/* "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; waiters
		** have "->" after the number and do not match. */
		if (sscanf(line, "%*d: %15s %*s %15s %ld %x:%x:%lu", kind, mode, &p, &maj, &mnr,
			   &ino) == 6 &&
		    !strcmp(kind, "FLOCK") && maj == major(st.st_dev) && mnr == minor(st.st_dev) &&
		    ino == (unsigned long)st.st_ino) {
			pid = p;
			break;
		}
	}
	fclose(f);
	return pid;
}

/* ---- topic.conf and consumers ---- */

/* The lines of topic.conf that are not settings (topic.c writes them);
** arg: where removed.below goes. */
static int conf_meta(const char *name, const char *v, size_t n, void *arg)
{
	static const char *const known[] = {"mode",	    "uid",	      "gid",
					    "created.ms", "cleaned.offset", "removed.below"};
	for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
		uint64_t x;
		if (strcmp(name, known[i]))
			continue;
		if (cfg_parse_u64(v, n, !strcmp(name, "mode") ? 8 : 10, &x) < 0)
			return -EINVAL;
		if (!strcmp(name, "removed.below"))
			*(uint64_t *)arg = x;
		return 0;
	}
	return -EINVAL;
}

static void read_conf(struct ins *in, int tdir)
{
	char *buf = NULL, value[CFG_VALUE_MAX];
	size_t len;
	cfg own;
	int rc, any = 0;

	in->seplen = 0;
	in->removed_below = 0;
	if ((rc = io_read_file(tdir, CONF_NAME, &buf, &len)) < 0 ||
	    (rc = cfg_parse(buf, len, &own, conf_meta, &in->removed_below)) < 0) {
		free(buf);
		finding(in, 1, NULL, -1, "%s is %s: the daemon refuses to mount this data directory",
			CONF_NAME, rc == -ENOENT ? "missing" : rc == -EINVAL ? "damaged" : strerror(-rc));
		return;
	}
	free(buf);
	fputs("  settings:", in->out);
	for (int k = 0; k < CFG_NKEYS; k++) {
		int n;
		if (!(own.set_mask & (1u << k)) || (n = cfg_get(&own, k, value, sizeof value)) < 0)
			continue;
		fprintf(in->out, " %s=", cfg_key_name(k));
		put_escaped(in->out, (const unsigned char *)value, (size_t)n, 1);
		any = 1;
	}
	fputs(any ? "\n" : " none of its own (the mount's defaults apply)\n", in->out);
	if (own.key_separator_len > 0) {
		memcpy(in->sep, own.key_separator, own.key_separator_len);
		in->seplen = own.key_separator_len;
	}
}

static void read_consumers(struct ins *in, int tdir)
{
	struct names nm;
	int cdir, rc = list_dir(tdir, "consumers", &nm);

	if (rc == -ENOENT)
		return;
	if (rc < 0 || (cdir = openat(tdir, "consumers", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		finding(in, 1, NULL, -1, "cannot read consumers/: %s", strerror(rc < 0 ? -rc : errno));
		if (rc == 0)
			names_free(&nm);
		return;
	}
	for (size_t i = 0; i < nm.n; i++) {
		const char *f = nm.v[i];
		char *buf, *end;
		size_t len, n = strlen(f);
		if (!ends_with(f, ".pos") || n == 4) {
			finding(in, 0, NULL, -1, "consumers/%s: %s", f,
				ends_with(f, ".tmp") ? "left by an interrupted position update"
						     : "not a consumer position; ignored");
			continue;
		}
		if ((rc = io_read_file(cdir, f, &buf, &len)) < 0) {
			finding(in, 1, NULL, -1, "consumer %.*s: cannot read its position: %s", (int)(n - 4),
				f, strerror(-rc));
			continue;
		}
		errno = 0;
		unsigned long long v = 0;
		if (!strncmp(buf, "offset=", 7) && buf[7] >= '0' && buf[7] <= '9')
			v = strtoull(buf + 7, &end, 10);
		else
			end = buf;
		if (end == buf || errno || *end != '\n' || end[1] != '\0')
			finding(in, 1, NULL, -1,
				"consumer %.*s: its position file is damaged (the daemon starts it over "
				"from offset 0)",
				(int)(n - 4), f);
		else
			fprintf(in->out, "  consumer %.*s: offset %llu\n", (int)(n - 4), f, v);
		free(buf);
	}
	close(cdir);
	names_free(&nm);
}

/* ---- indexes ---- */

static void idx_mismatch(struct idxcheck *c, size_t k)
{
	if (c->bad++ == 0)
		c->first_bad = k;
}

/* The walk met a batch start (plain) or frame start (compressed), e. */
static void idx_meet(struct idxcheck *c, const idx_entry *e)
{
	if (!c->on)
		return;
	while (c->k < c->x.n && c->x.e[c->k].location < e->location)
		idx_mismatch(c, c->k++);
	if (c->k < c->x.n && c->x.e[c->k].location == e->location) {
		const idx_entry *g = &c->x.e[c->k];
		if (g->offset != e->offset || g->bytepos != e->bytepos ||
		    g->timestamp_ms != e->timestamp_ms || g->nrec_before != e->nrec_before ||
		    g->frame_len != e->frame_len)
			idx_mismatch(c, c->k);
		c->k++;
	}
}

/*
** Load the index of x and decide how to check it (see the file comment).
** next: the successor's header (NULL for the newest segment, or when the
** successor's header is bad: then a sealed index is not checked).
*/
static void idx_begin(struct ins *in, int tdir, struct segx *x, const seg *next,
		      struct idxcheck *c)
{
	char name[32];
	struct stat st;
	idx_summary sum;
	int sealed = 0, rc;

	memset(c, 0, sizeof *c);
	if (x->headerless)
		return; /* rebuilt at mount along with the header */
	seg_index_name(x->base, name);
	rc = idx_load(tdir, name, x->base, &c->x, &sealed, &sum);
	x->unsynced = !x->newest && x->s && !x->s->compressed &&
		      ((rc == 0 && !sealed) || rc == -ENODATA);
	if (rc == -ENOENT) {
		finding(in, 0, x->name, -1, "its index %s is missing; the next mount rebuilds it", name);
		return;
	}
	if (rc == -ENODATA) {
		/* The newest segment's index and a seal's are written with no
		** sync: a power loss can leave either empty. */
		finding(in, 0, x->name, -1,
			"its index %s is shorter than its header (left by a crash: it was written "
			"without a sync); the next mount rebuilds it",
			name);
		return;
	}
	if (rc == -EBADMSG) {
		finding(in, !x->newest, x->name, -1, "its index %s has a damaged header%s", name,
			x->newest ? " (left by a crash: the newest segment's index is not synced; "
				    "the next mount rebuilds it)"
				  : "");
		return;
	}
	if (rc < 0) {
		finding(in, !x->newest, x->name, -1, "its index %s cannot be read: %s", name,
			strerror(-rc));
		return;
	}
	if (fstatat(tdir, name, &st, 0) == 0 && st.st_size >= INDEX_HEADER_BYTES) {
		uint64_t body = (uint64_t)st.st_size - INDEX_HEADER_BYTES;
		uint64_t want = body / INDEX_ENTRY_BYTES;
		if (c->x.n < want || body % INDEX_ENTRY_BYTES) {
			if (x->newest)
				finding(in, 0, x->name, -1,
					"its index %s ends in %" PRIu64 " bytes that fail their check "
					"(left by a crash: the newest segment's index is not synced; the "
					"next mount rebuilds them)",
					name, body - (uint64_t)c->x.n * INDEX_ENTRY_BYTES);
			else
				finding(in, 1, x->name, -1,
					"its index %s: entry %zu of %" PRIu64 " fails its CRC or order "
					"check; the next mount rebuilds the index",
					name, c->x.n, want);
		}
	}
	if (x->newest) {
		c->on = 1; /* mismatches are notes: recovery checks this index */
		return;
	}
	if (!sealed) {
		finding(in, 0, x->name, -1, "its index %s is not sealed; the next mount rebuilds it",
			name);
		return;
	}
	if (!next || !x->s || !sum.complete)
		return; /* (incomplete: reported above, and rebuilt at mount) */
	if (sum.end_offset != next->base_offset || sum.end_bytepos != next->base_bytepos ||
	    sum.size != x->s->size || sum.seg_crc != x->s->hdr_crc) {
		finding(in, 0, x->name, -1,
			"its index %s describes another version of the segment (an interrupted "
			"rewrite); the next mount rebuilds it",
			name);
		return;
	}
	c->on = c->trusted = 1;
	c->sum = sum; /* its counts are checked in idx_end */
}

static void idx_end(struct ins *in, const struct segx *x, struct idxcheck *c)
{
	char name[32];
	const idx_summary *sum = &c->sum;

	seg_index_name(x->base, name);
	if (c->on && !x->damaged) {
		/* Entries past the last batch met: an index of the newest segment
		** may run ahead of the bytes read (the daemon is appending, or
		** a torn tail that recovery cuts along with its entries). */
		while (c->k < c->x.n && (!x->newest || c->x.e[c->k].location < x->valid_end))
			idx_mismatch(c, c->k++);
		if (c->trusted &&
		    (sum->records != x->records || (x->records && sum->max_ts_ms != x->max_ts_ms)))
			finding(in, 1, x->name, -1,
				"its index %s says %" PRIu64 " records, newest at %" PRId64
				" ms; the segment holds %" PRIu64 ", newest at %" PRId64 " ms",
				name, sum->records, sum->max_ts_ms, x->records, x->max_ts_ms);
		if (c->bad) {
			const idx_entry *e = &c->x.e[c->first_bad];
			finding(in, c->trusted, x->name, -1,
				"its index %s: entry %zu (offset %" PRIu64 ", byte %" PRIu64
				") and %" PRIu64 " in all do not match the segment%s",
				name, c->first_bad, e->offset, e->location, c->bad,
				c->trusted ? " (reads through it would go wrong)"
					   : "; the next mount rebuilds them");
		}
	}
	if (x->s)
		fprintf(in->out, "    index: %zu %s%s\n", c->x.n, c->x.n == 1 ? "entry" : "entries",
			!c->on		 ? ", not checked"
			: x->damaged	 ? ", not checked (the segment is damaged)"
			: c->bad	 ? ", does not match"
			: x->newest	 ? ", matches (the newest segment's)"
					 : ", matches");
	idx_free(&c->x);
}

/* ---- walking a segment ---- */

/* Why the plain batch at loc is not a good next batch. */
static void why_plain(const unsigned char *whole, uint64_t loc, uint64_t end, uint64_t want_offset,
		      char *why, size_t n)
{
	rec_batch b;
	int rc;

	if (loc >= end || end - loc < REC_HEADER_SIZE) {
		snprintf(why, n, "%" PRIu64 " bytes, too few for a batch header",
			 loc < end ? end - loc : 0);
		return;
	}
	rc = rec_decode_header(whole + loc, (size_t)(end - loc), &b);
	if (rc == -EBADMSG)
		snprintf(why, n, "an impossible batch header");
	else if (rc == -EAGAIN)
		snprintf(why, n, "a batch header whose length (%" PRIu32 " bytes) runs past the end",
			 io_get32(whole + loc + 4));
	else if (rec_check(whole + loc, &b) < 0)
		snprintf(why, n, "a batch of offsets %" PRIu64 "..%" PRIu64 " failing its CRC",
			 b.base_offset, rec_end_offset(&b) - 1);
	else
		snprintf(why, n,
			 "a batch of offsets %" PRIu64 "..%" PRIu64 " out of order (expected offset %" PRIu64
			 " or more)",
			 b.base_offset, rec_end_offset(&b) - 1, want_offset);
}

/* The first location in [from, end) at which a valid batch starts whose
** offset and byte position are at least off and bp; 0 when none. */
static uint64_t resync_plain(const unsigned char *whole, uint64_t from, uint64_t end, uint64_t off,
			     uint64_t bp)
{
	rec_batch b;

	for (uint64_t q = from; q + REC_HEADER_SIZE <= end; q++) {
		if (whole[q + 8] != REC_MAGIC)
			continue;
		if (rec_decode_header(whole + q, (size_t)(end - q), &b) < 0)
			continue;
		if (b.base_offset < off || b.base_bytepos < bp || rec_check(whole + q, &b) < 0)
			continue;
		return q;
	}
	return 0;
}

/* The next zstd frame magic in [from, end), or 0. */
static uint64_t next_frame_magic(const unsigned char *whole, uint64_t from, uint64_t end)
{
	static const unsigned char magic[4] = {0x28, 0xb5, 0x2f, 0xfd};

	for (uint64_t q = from; q + 4 <= end; q++)
		if (!memcmp(whole + q, magic, 4))
			return q;
	return 0;
}

static void accept_batch(struct ins *in, struct segx *x, struct idxcheck *c, const seg_iter *it,
			 const unsigned char *p, const rec_batch *b, uint64_t at, uint64_t *last_frame)
{
	if (x->first_offset == UINT64_MAX)
		x->first_offset = b->base_offset;
	if (!x->s->compressed || at != *last_frame) {
		idx_entry e = {.offset = b->base_offset, .bytepos = b->base_bytepos,
			       .timestamp_ms = b->timestamp_ms, .location = at,
			       .frame_len = x->s->compressed ? (uint32_t)it->frame_len : 0,
			       .nrec_before = (uint32_t)x->records};
		idx_meet(c, &e);
		if (x->s->compressed)
			x->frames++;
		*last_frame = at;
	}
	if (x->batches == 0 || b->timestamp_ms < x->min_ts_ms)
		x->min_ts_ms = b->timestamp_ms;
	if (x->batches == 0 || b->max_timestamp_ms > x->max_ts_ms)
		x->max_ts_ms = b->max_timestamp_ms;
	x->batches++;
	x->records += b->count;
	x->end_offset = rec_end_offset(b);
	x->end_bytepos = rec_end_bytepos(b);
	x->valid_end = x->s->compressed ? at + it->frame_len : at + b->length;
	in->rep->records += b->count;
	if (in->o->records && rec_end_offset(b) > in->o->from_offset) {
		rec_iter ri;
		const unsigned char *pl;
		size_t len;
		uint64_t off = b->base_offset;
		rec_iter_init(&ri, p, b);
		while (rec_iter_next(&ri, &pl, &len)) {
			if (off >= in->o->from_offset)
				print_record(in, off, ri.ts, pl, len);
			off = ri.offset;
		}
	}
}

/* Bytes [from, to) of x hold no valid batch (to == 0: up to the end). */
static void report_gap(struct ins *in, struct segx *x, uint64_t from, uint64_t to,
		       uint64_t want_offset, const char *why)
{
	uint64_t end = x->s->size;

	if (to) {
		x->damaged = 1;
		finding(in, 1, x->name, (int64_t)from,
			"%" PRIu64 " bytes hold no valid batch (%s), where offset %" PRIu64
			" or later was due; the walk goes on at byte %" PRIu64,
			to - from, why, want_offset, to);
	} else if ((x->newest || x->unsynced) && !x->s->compressed &&
		   seg_zeros_to_end(x->s->fd, from, end)) {
		finding(in, 0, x->name, (int64_t)from,
			"%" PRIu64 " zero bytes after the batches (room made ahead of a bulk "
			"writer, left by a crash or a running daemon); the next mount cuts them",
			end - from);
	} else if ((x->newest || x->unsynced) && !x->s->compressed) {
		finding(in, 0, x->name, (int64_t)from,
			"torn tail of %" PRIu64 " bytes (%s), where offset %" PRIu64
			" or later was due; the next mount cuts it",
			end - from, why, want_offset);
	} else {
		x->damaged = 1;
		finding(in, 1, x->name, (int64_t)from,
			"the last %" PRIu64 " bytes hold no valid batch (%s), where offset %" PRIu64
			" or later was due",
			end - from, why, want_offset);
	}
}

/*
** A copy of the whole segment file, read once a batch fails, to find where
** valid batches start again. (A copy, not an mmap: a daemon that mounts
** meanwhile may cut a torn tail, and a mapping past the new end would
** fault.) *len may be short of s->size when the file shrank.
*/
static int load_whole(const seg *s, unsigned char **out, uint64_t *len)
{
	unsigned char *buf = malloc(s->size ? s->size : 1);
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	n = io_pread_all(s->fd, buf, s->size, 0);
	if (n < 0) {
		free(buf);
		return (int)n;
	}
	*out = buf;
	*len = (uint64_t)n;
	return 0;
}

static void walk_segment(struct ins *in, struct segx *x, struct idxcheck *c)
{
	seg *s = x->s;
	seg_iter it;
	const unsigned char *p, *whole = NULL;
	rec_batch b;
	uint64_t at, last_frame = UINT64_MAX, exp_off = s->base_offset, exp_bp = s->base_bytepos;
	uint64_t gap_from = 0, gap_off = 0, whole_len = 0;
	unsigned char *copy = NULL;
	char why[160] = "";
	int rc, in_gap = 0;

	x->walked = 1;
	x->first_offset = UINT64_MAX;
	x->end_offset = s->base_offset;
	x->end_bytepos = s->base_bytepos;
	x->valid_end = SEG_HEADER_SIZE;
	seg_iter_init(&it, s, SEG_HEADER_SIZE, s->size);
	it.quiet = 1; /* the findings say what the walk meets, in dump's words */
	for (;;) {
		uint64_t loc, next;
		rc = seg_iter_next(&it, &p, &b, &at);
		if (rc == 1 && b.base_offset >= exp_off && b.base_bytepos >= exp_bp) {
			if (in_gap) {
				report_gap(in, x, gap_from, at, gap_off, why);
				in_gap = 0;
			}
			accept_batch(in, x, c, &it, p, &b, at, &last_frame);
			exp_off = rec_end_offset(&b);
			exp_bp = rec_end_bytepos(&b);
			continue;
		}
		if (rc == 0)
			break;
		if (rc < 0 && rc != -EIO) {
			x->damaged = 1;
			finding(in, 1, x->name, (int64_t)it.loc, "cannot read it: %s", strerror(-rc));
			break;
		}
		/* A batch or frame that is damaged, or out of order. */
		loc = rc == 1 ? at : it.loc;
		if (!whole && (rc = load_whole(s, &copy, &whole_len)) < 0) {
			x->damaged = 1;
			finding(in, 1, x->name, (int64_t)loc, "cannot read it: %s", strerror(-rc));
			break;
		}
		whole = copy;
		if (!in_gap) {
			in_gap = 1;
			gap_from = loc;
			gap_off = exp_off;
			if (!s->compressed)
				why_plain(whole, loc, whole_len, exp_off, why, sizeof why);
			else if (rc == 1)
				snprintf(why, sizeof why, "a batch of offset %" PRIu64 " out of order",
					 b.base_offset);
			else
				snprintf(why, sizeof why,
					 it.frame_len ? "a damaged batch inside a zstd frame"
						      : "a damaged zstd frame");
		}
		if (!s->compressed)
			next = resync_plain(whole, loc + 1, whole_len, exp_off, exp_bp);
		else if (it.frame_len && it.loc + it.frame_len < whole_len)
			next = it.loc + it.frame_len; /* a bad batch in a good frame */
		else if (it.bad_frame_len && it.loc + it.bad_frame_len < whole_len)
			next = it.loc + it.bad_frame_len; /* a frame whose content is bad */
		else
			next = next_frame_magic(whole, loc + 1, whole_len);
		if (next == 0)
			break;
		seg_iter_seek(&it, next);
	}
	if (in_gap)
		report_gap(in, x, gap_from, 0, gap_off, why);
	seg_iter_free(&it);
	free(copy);
}

/* ---- a topic ---- */

static void print_segment_summary(struct ins *in, const struct segx *x)
{
	char t1[TIME_MAX_LEN], t2[TIME_MAX_LEN];

	if (x->records == 0) {
		fputs("    no records\n", in->out);
		return;
	}
	fprintf(in->out,
		"    offsets %" PRIu64 "..%" PRIu64 ": %" PRIu64 " %s in %" PRIu64 " %s",
		x->first_offset, x->end_offset - 1, x->records, x->records == 1 ? "record" : "records",
		x->batches, x->batches == 1 ? "batch" : "batches");
	if (x->s->compressed)
		fprintf(in->out, " (%" PRIu64 " zstd %s)", x->frames, x->frames == 1 ? "frame" : "frames");
	fprintf(in->out, ", appended %s to %s\n", fmt_time(x->min_ts_ms, t1),
		fmt_time(x->max_ts_ms, t2));
}

/*
** A segment whose header fails its check, opened as seg_repair_header()
** would rebuild it: its base offset from its name, compressed when a zstd
** frame starts after the header; its base byte position is set from the
** segment before it once that is walked.
*/
static seg *headerless(int tdir, const struct segx *x)
{
	static const unsigned char zstd_magic[4] = {0x28, 0xb5, 0x2f, 0xfd};
	unsigned char m[4];
	struct stat st;
	seg *s = calloc(1, sizeof *s);

	if (!s)
		return NULL;
	atomic_init(&s->refs, 1);
	s->base_offset = x->base;
	s->idx_fd = -1;
	s->fd = openat(tdir, x->name, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0 || fstat(s->fd, &st) < 0) {
		seg_unref(s);
		return NULL;
	}
	s->size = (uint64_t)st.st_size;
	s->compressed = io_pread_all(s->fd, m, 4, SEG_HEADER_SIZE) == 4 && !memcmp(m, zstd_magic, 4);
	return s;
}

/* Segment files, index files and others in the topic directory. */
static int list_topic_files(struct ins *in, int tdir, struct segx **out, size_t *nout)
{
	struct names nm;
	struct segx *v = NULL;
	size_t n = 0;
	int rc = list_dir(tdir, ".", &nm);

	if (rc < 0)
		return rc;
	v = calloc(nm.n ? nm.n : 1, sizeof *v);
	if (!v) {
		names_free(&nm);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nm.n; i++) {
		const char *f = nm.v[i];
		uint64_t base;
		size_t len = strlen(f);
		if (seg_parse_name(f, &base)) {
			v[n].base = base;
			snprintf(v[n].name, sizeof v[n].name, "%s", f);
			n++;
		} else if (ends_with(f, ".tmp")) {
			finding(in, 0, NULL, -1, "%s was left by an interrupted rewrite; the next mount "
						 "removes it", f);
		} else if (len == SEG_NAME_LEN + 6 && ends_with(f, ".index")) {
			char logname[32];
			struct stat st;
			memcpy(logname, f, SEG_NAME_LEN);
			strcpy(logname + SEG_NAME_LEN, ".log");
			if (fstatat(tdir, logname, &st, 0) < 0 && errno == ENOENT)
				finding(in, 0, NULL, -1,
					"%s belongs to a segment that is gone (retention or a "
					"merge removed it); the next mount removes it",
					f);
		} else if (strcmp(f, CONF_NAME) && strcmp(f, "consumers")) {
			finding(in, 0, NULL, -1, "%s is not a topicfs file; ignored", f);
		}
	}
	names_free(&nm);
	/* Sorted by name is sorted by base offset: 20 zero-padded digits. */
	*out = v;
	*nout = n;
	return 0;
}

static void inspect_topic(struct ins *in, int topics_fd, const char *name)
{
	struct segx *v = NULL;
	size_t n = 0;
	uint64_t start = UINT64_MAX, end = 0, records = 0, stored = 0, merged_end = 0;
	int tdir, rc;

	in->topic = name;
	in->rep->topics++;
	fprintf(in->out, "topic %s\n", name);
	tdir = openat(topics_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tdir < 0) {
		finding(in, 1, NULL, -1, "cannot open its directory: %s", strerror(errno));
		in->topic = NULL;
		return;
	}
	read_conf(in, tdir);
	read_consumers(in, tdir);
	if ((rc = list_topic_files(in, tdir, &v, &n)) < 0) {
		finding(in, 1, NULL, -1, "cannot list its directory: %s", strerror(-rc));
		goto out;
	}
	if (n == 0)
		finding(in, 0, NULL, -1, "no segment at all; the next mount starts an empty log");

	/* Headers first: a sealed segment is checked against its successor. */
	for (size_t i = 0; i < n; i++) {
		rc = seg_open_raw(tdir, v[i].base, &v[i].s);
		v[i].newest = i == n - 1;
		if (rc == -EBADMSG && i > 0 && i == n - 1 && seg_never_written(tdir, v[i - 1].base, v[i].base)) {
			/* As recovery does (topic.c, load_segments): the one
			** before is the newest, whose room it cuts. */
			finding(in, 0, v[i].name, -1,
				"created but never written (a crash during a roll); the next mount "
				"removes it");
			v[i - 1].newest = 1;
			continue;
		}
		if (rc == -ENOENT) {
			finding(in, 0, v[i].name, -1, "vanished while being read (the daemon is running)");
		} else if (rc == -EBADMSG) {
			/* The daemon rebuilds a bad header at mount; a newest one
			** may be torn by a power loss before its first sync. */
			finding(in, !v[i].newest, v[i].name, 0,
				"%s; the next mount rebuilds it",
				v[i].newest ? "its header is torn or damaged" : "damaged segment header");
			v[i].s = headerless(tdir, &v[i]);
			v[i].headerless = v[i].s != NULL;
		} else if (rc < 0) {
			finding(in, 1, v[i].name, -1, "cannot read it: %s", strerror(-rc));
		}
	}

	/* Segments retention removed whose files could not be unlinked
	** (topic.c, load_segments): they start below removed.below. */
	for (size_t i = 0; i + 1 < n; i++)
		v[i].removed = v[i].base < in->removed_below;

	/* A merge that a crash interrupted (segment.c): a sealed segment whose
	** index, naming this very file, ends past the segments after it. */
	for (size_t i = 0; i + 1 < n; i++) {
		char iname[32];
		idx x = {0};
		idx_summary sum;
		int sealed = 0;
		if (!v[i].s || v[i].newest || v[i].headerless || v[i].into || v[i].removed)
			continue;
		seg_index_name(v[i].base, iname);
		if (idx_load(tdir, iname, v[i].base, &x, &sealed, &sum) == 0 && sealed &&
		    sum.size == v[i].s->size && sum.seg_crc == v[i].s->hdr_crc) {
			size_t j = i + 1;
			/* open_sealed's test: past the successor's offset, and
			** not short of its byte position */
			int past = v[j].s && sum.end_bytepos >= v[j].s->base_bytepos;
			for (; past && j < n && !v[j].newest && v[j].base < sum.end_offset; j++)
				v[j].into = &v[i];
			/* The newest too, when its records end by the merged end
			** (topic.c, finish_merge: the empty one after it lost). */
			uint64_t eo, eb;
			if (past && j < n && v[j].newest && v[j].s && !v[j].headerless &&
			    v[j].base < sum.end_offset &&
			    seg_sealed_end(tdir, v[j].base, &eo, &eb) == 0 && eo <= sum.end_offset &&
			    eb <= sum.end_bytepos) {
				v[j].into = &v[i];
				merged_end = sum.end_offset;
			}
		}
		idx_free(&x);
	}

	size_t listed = n;
	for (size_t i = 0; i < n; i++) {
		struct segx *x = &v[i];
		const seg *next = NULL;
		struct idxcheck c;
		/* A header the mount rebuilds starts where the segment before
		** ends (topic.c, load_segments): check continuity with that. */
		if (x->headerless && i > 0 && v[i - 1].walked)
			x->s->base_bytepos = v[i - 1].end_bytepos;
		if (x->removed) {
			finding(in, 0, x->name, -1,
				"retention removed it, but its files could not be unlinked then; "
				"the next mount removes them");
			listed--;
			continue;
		}
		if (!x->s)
			continue;
		/* Continuity with the segment before: a segment that starts
		** inside a sealed one was merged into it, the index of the
		** merged one lost too; else the order is broken. */
		for (size_t j = i; !x->into && j-- > 0;) {
			if (!v[j].walked)
				continue;
			if (x->base < v[j].end_offset && x->s->base_bytepos < v[j].end_bytepos &&
			    !v[j].newest && !v[j].index_used && !x->newest)
				x->into = &v[j]; /* as the mount's scan of v[j] finds */
			else if (x->base < v[j].end_offset || x->s->base_bytepos < v[j].end_bytepos)
				finding(in, 1, x->name, 0,
					"it starts at offset %" PRIu64 " (byte position %" PRIu64
					"), inside segment %s, which reaches offset %" PRIu64,
					x->base, x->s->base_bytepos, v[j].name, v[j].end_offset);
			break;
		}
		if (x->into) {
			finding(in, 0, x->name, -1,
				"a compaction merged it into segment %s, and a crash came before its "
				"file was removed; the next mount removes it%s",
				x->into->name,
				x->newest ? " and starts an empty newest segment where it ends" : "");
			listed -= !x->newest;
			continue;
		}
		in->rep->segments++;
		for (size_t k = i + 1; k < n && !next; k++)
			if (!v[k].into && !v[k].headerless)
				next = v[k].s;
			else if (!v[k].into)
				break;
		fprintf(in->out, "  segment %s: %s, %s, %" PRIu64 " bytes\n", x->name,
			x->newest ? "newest" : "sealed", x->s->compressed ? "zstd" : "plain", x->s->size);
		idx_begin(in, tdir, x, x->newest ? NULL : next, &c);
		x->index_used = c.trusted;
		walk_segment(in, x, &c);
		print_segment_summary(in, x);
		/* The figures as the mount counts them: from a sealed index it
		** trusts, even where damage hides records from the walk. */
		uint64_t first = x->first_offset, nrec = x->records;
		if (c.trusted && !x->newest) {
			nrec = c.sum.records;
			first = nrec > 0 && c.x.n > 0 ? c.x.e[0].offset : UINT64_MAX;
		}
		idx_end(in, x, &c);
		if (first != UINT64_MAX && start == UINT64_MAX)
			start = first;
		records += nrec;
		/* As the mount counts it: room made ahead of a bulk writer
		** (zeros after the newest segment's batches, or after a rolled
		** one's that a crash kept from its seal) is not stored. */
		stored += (x->newest || x->unsynced) && !x->s->compressed && x->walked
				  ? x->valid_end
				  : x->s->size;
		end = x->end_offset;
	}
	if (end < merged_end)
		end = merged_end;
	/* Only a sealed segment is compressed: as the newest, it lost the one
	** after it, which the mount starts anew (topic.c,
	** follow_compressed_newest). */
	if (n > 0 && v[n - 1].newest && v[n - 1].s && !v[n - 1].headerless &&
	    v[n - 1].s->compressed && !v[n - 1].into) {
		uint64_t eo, eb;
		if (seg_sealed_end(tdir, v[n - 1].base, &eo, &eb) == 0)
			end = eo; /* its index's end, as the mount takes it */
		if (end <= v[n - 1].base)
			end = v[n - 1].base + 1; /* emptied by compaction: its end is lost */
		finding(in, 0, v[n - 1].name, -1,
			"it is compressed, so it was sealed: the segment after it is lost; the next "
			"mount starts an empty newest segment at offset %" PRIu64,
			end);
		listed++;
		stored += SEG_HEADER_SIZE;
	}
	if (start == UINT64_MAX)
		start = end;
	fprintf(in->out,
		"  figures: start_offset=%" PRIu64 " end_offset=%" PRIu64 " records=%" PRIu64
		" segments=%zu stored_bytes=%" PRIu64 "\n",
		start, end, records, listed, stored);
out:
	for (size_t i = 0; i < n; i++)
		seg_unref(v[i].s);
	free(v);
	close(tdir);
	in->topic = NULL;
}

/* ---- the data directory ---- */

static void leftovers(struct ins *in, int dirfd, const char *sub, const char *what)
{
	struct names nm;

	if (list_dir(dirfd, sub, &nm) < 0)
		return;
	for (size_t i = 0; i < nm.n; i++)
		finding(in, 0, NULL, -1, "%s/%s is left by an interrupted %s; the next mount removes it",
			sub, nm.v[i], what);
	names_free(&nm);
}

int inspect_datadir(const char *path, const inspect_opts *o, inspect_report *rep)
{
	struct ins in = {.o = o, .rep = rep, .out = o->out};
	struct names nm = {0};
	int dirfd, topics_fd = -1, rc = 0, found = 0;

	memset(rep, 0, sizeof *rep);
	dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		rc = -errno;
		fprintf(o->err, "topicfs dump: %s: %s\n", path, strerror(-rc));
		return rc;
	}
	topics_fd = openat(dirfd, "topics", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (topics_fd < 0) {
		rc = errno == ENOENT ? -ENOTDIR : -errno;
		fprintf(o->err, "topicfs dump: %s: %s\n", path,
			rc == -ENOTDIR ? "not a topicfs data directory (it has no topics/)"
				       : strerror(-rc));
		goto out;
	}
	if ((rc = list_dir(dirfd, "topics", &nm)) < 0) {
		fprintf(o->err, "topicfs dump: %s/topics: %s\n", path, strerror(-rc));
		goto out;
	}
	if (o->topic) {
		for (size_t i = 0; i < nm.n; i++)
			found |= !strcmp(nm.v[i], o->topic);
		if (!found || !store_name_valid(o->topic)) {
			rc = -ESRCH;
			fprintf(o->err, "topicfs dump: %s: no topic called '%s'\n", path, o->topic);
			goto out;
		}
	}
	rep->mounted_pid = lock_holder(dirfd);
	rep->mounted = rep->mounted_pid != 0;
	if (rep->mounted)
		fprintf(o->out,
			"datadir %s: in use by process %ld (mounted): the newest segments may grow "
			"while this runs\n",
			path, rep->mounted_pid);
	else
		fprintf(o->out, "datadir %s: not in use\n", path);
	if (!o->topic) {
		leftovers(&in, dirfd, "tmp", "topic creation");
		leftovers(&in, dirfd, "trash", "topic deletion");
	}
	for (size_t i = 0; i < nm.n; i++) {
		struct stat st;
		if (o->topic && strcmp(nm.v[i], o->topic))
			continue;
		if (!store_name_valid(nm.v[i]) ||
		    (fstatat(topics_fd, nm.v[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode))) {
			finding(&in, 0, NULL, -1, "topics/%s is not a topic; the daemon ignores it",
				nm.v[i]);
			continue;
		}
		inspect_topic(&in, topics_fd, nm.v[i]);
	}
	fprintf(o->out, "%" PRIu64 " %s, %" PRIu64 " %s, %" PRIu64 " %s: ", rep->topics,
		rep->topics == 1 ? "topic" : "topics", rep->segments,
		rep->segments == 1 ? "segment" : "segments", rep->records,
		rep->records == 1 ? "record" : "records");
	if (rep->damage)
		fprintf(o->out, "%" PRIu64 " DAMAGED %s", rep->damage,
			rep->damage == 1 ? "place" : "places");
	else
		fputs("no damage", o->out);
	if (rep->notes)
		fprintf(o->out, ", %" PRIu64 " %s", rep->notes, rep->notes == 1 ? "note" : "notes");
	fputc('\n', o->out);
	rc = 0;
out:
	names_free(&nm);
	if (topics_fd >= 0)
		close(topics_fd);
	close(dirfd);
	return rc;
}

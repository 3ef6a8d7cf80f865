/*
** test_powerloss.c: what a power loss or a bad disk leaves in DATADIR,
** simulated offline between two mounts (SPEC.md, "Durability and
** recovery").
**
** cut_unsynced_tails: write, fsync() TOPIC/log (everything so far is
** durable), write more, unmount; then cut the newest segment file at a
** random length no shorter than it was at the fsync (or anywhere, when it
** was created after the fsync), sometimes add zeros or junk after the cut,
** and cut, damage or delete the index files. The next mount must serve
** every synced record, then at most a prefix of the unsynced ones (whole
** records, never torn), and go on appending at the right offset. Reads from
** offset files (which use the rebuilt indexes) and of every segment file
** must agree with the log.
**
** bitflip_*: flip a random byte of a stored record in a sealed segment,
** plain or zstd-compressed. The mount recovers; reading the log fails with
** EIO exactly where the damaged batch (or zstd frame) starts, after
** returning every byte before it; reading from the first offset after the
** damage works to the end (or to the next damage); every other segment
** file reads back unchanged; and appends go on.
*/
#include "rel_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

TestSuite(powerloss, .init = h_tmp_setup, .fini = h_teardown, .timeout = 180);

#define SEG_HDR 64
#define BATCH_HDR 48
#define IDX_HDR 80
#define IDX_ENTRY 48
#define MAX_SEGS 1024

/* ---- DATADIR ----------------------------------------------------------- */

struct dseg {
	uint64_t base;	  /* from the name */
	uint64_t bytepos; /* base bytepos, from the header */
	long long size;
	bool zstd;
};

static const char *seg_path(uint64_t base, const char *ext)
{
	return h_work("data/topics/t/%020llu.%s", (unsigned long long)base, ext);
}

/* The segment files of topic t in DATADIR, sorted by base. */
static size_t disk_segments(struct dseg *v)
{
	char *names = r_list_dir(h_work("data/topics/t"), 0);
	size_t n = 0;

	for (char *p = strtok(names, "\n"); p != NULL; p = strtok(NULL, "\n")) {
		unsigned char h[SEG_HDR];
		struct stat st;
		unsigned long long base;
		int fd;

		if (strlen(p) != 24 || strcmp(p + 20, ".log") != 0 || sscanf(p, "%20llu", &base) != 1)
			continue;
		cr_assert(n < MAX_SEGS);
		v[n] = (struct dseg){ .base = base };
		fd = open(seg_path(base, "log"), O_RDONLY);
		if (fd < 0 && errno == ENOENT)
			continue; /* retention removed it meanwhile */
		cr_assert(fd >= 0 && fstat(fd, &st) == 0, "open %s: %s", p, strerror(errno));
		v[n].size = st.st_size;
		if (pread(fd, h, sizeof h, 0) == (ssize_t)sizeof h) {
			for (int i = 7; i >= 0; i--)
				v[n].bytepos = v[n].bytepos << 8 | h[24 + i];
			v[n].zstd = h[12] & 1;
		}
		close(fd);
		n++;
	}
	free(names);
	return n; /* r_list_dir sorts by name: 20 digits sort as numbers */
}

static unsigned char *slurp(const char *path, size_t *len)
{
	unsigned char *p = (unsigned char *)h_read_file(path, len);

	cr_assert(p != NULL, "read %s: %s", path, strerror(errno));
	return p;
}

static void put_file(const char *path, const void *p, size_t len)
{
	cr_assert_eq(h_write_file(path, p, len), 0, "write %s", path);
}

static void cut_file(const char *path, long long len)
{
	cr_assert(truncate(path, len) == 0, "truncate %s to %lld: %s", path, len, strerror(errno));
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- Checks through the mount ---------------------------------------------- */

/* Offset of line K in BUF (K lines before it), or LEN when there are fewer. */
static size_t line_start(const char *buf, size_t len, uint64_t k)
{
	size_t at = 0;

	while (k > 0 && at < len) {
		const char *nl = memchr(buf + at, '\n', len - at);

		if (nl == NULL)
			return len;
		at = (size_t)(nl - buf) + 1;
		k--;
	}
	return at;
}

/* `cat t/NNN.log ...` equals t/log, segment by segment, and reads from a few
 * random offsets agree with the log. */
static void check_files_agree(const char *log, size_t len, long lines, struct h_rng *rng,
			      int round)
{
	struct dseg *segs = calloc(MAX_SEGS, sizeof *segs);
	size_t n = disk_segments(segs);

	for (size_t i = 0; i < n; i++) {
		size_t got_len;
		char *got = h_read_file(h_mnt("t/%020llu.log", (unsigned long long)segs[i].base),
					&got_len);
		size_t from = line_start(log, len, segs[i].base);
		size_t to = i + 1 < n ? line_start(log, len, segs[i + 1].base) : len;

		cr_assert(got != NULL, "round %d: read segment file %020llu.log: %s", round,
			  (unsigned long long)segs[i].base, strerror(errno));
		H_ASSERT_BYTES(got, got_len, log + from, to - from,
			       "round %d: segment file %020llu.log", round,
			       (unsigned long long)segs[i].base);
		free(got);
	}
	for (int k = 0; k < 4 && lines > 0; k++) {
		uint64_t off = h_rng_below(rng, (uint32_t)lines);
		size_t got_len, from = line_start(log, len, off);
		char *got = h_read_file(h_mnt("t/%llu", (unsigned long long)off), &got_len);

		cr_assert(got != NULL, "round %d: read t/%llu: %s", round, (unsigned long long)off,
			  strerror(errno));
		H_ASSERT_BYTES(got, got_len, log + from, len - from, "round %d: t/%llu", round,
			       (unsigned long long)off);
		free(got);
	}
	free(segs);
}

/* Append a probe line; it must get offset END (read back from t/END). */
static void check_continues(uint32_t probe_seq, uint64_t end, struct h_buf *model, int round)
{
	char probe[R_LINE_MAX];
	size_t len;
	char *got;

	cr_assert_eq(r_xattr_u64(h_mnt("t"), "user.topicfs.end_offset"), end,
		     "round %d: end_offset after recovery", round);
	probe[r_line(probe, R_PROBE_W, probe_seq)] = '\0';
	r_append("t", probe);
	got = h_read_file(h_mnt("t/%llu", (unsigned long long)end), &len);
	cr_assert(got != NULL, "round %d: read t/%llu: %s", round, (unsigned long long)end,
		  strerror(errno));
	H_ASSERT_BYTES(got, len, probe, strlen(probe), "round %d: the first line after recovery",
		       round);
	free(got);
	h_buf_add(model, probe, strlen(probe));
}

/* ---- Power loss: unsynced tails ------------------------------------------------ */

#define PL_ROUNDS 40

/* Write lines SEQ.. of writer 0 to FD, 1-4 per write, LINES in all; adds
 * them to WANT. */
static void write_lines(int fd, uint32_t *seq, int lines, struct h_rng *rng, struct h_buf *want)
{
	char buf[R_MAX_BATCH * R_LINE_MAX];

	while (lines > 0) {
		int n = 1 + (int)h_rng_below(rng, R_MAX_BATCH);
		size_t len = 0;

		if (n > lines)
			n = lines;
		for (int k = 0; k < n; k++)
			len += r_line(buf + len, 0, (*seq)++);
		cr_assert_eq(h_write_all(fd, buf, len), 0, "write t/log: %s", strerror(errno));
		h_buf_add(want, buf, len);
		lines -= n;
	}
}

/* Damage the index files the way a power loss may: the newest one cut (it
 * is never synced), and a sealed one cut, flipped, deleted or extended. */
static const char *damage_indexes(const struct dseg *segs, size_t n, struct h_rng *rng)
{
	static char what[256];
	const char *newest = seg_path(segs[n - 1].base, "index");
	long long isize = h_file_size(newest);
	int o = 0;

	if (isize > 0) {
		long long cut = h_rng_below(rng, (uint32_t)isize + 1);

		cut_file(newest, cut);
		o += snprintf(what + o, sizeof what - (size_t)o, "newest index cut to %lld of %lld; ",
			      cut, isize);
	}
	if (n >= 2) {
		size_t i = h_rng_below(rng, (uint32_t)(n - 1));
		const char *p = seg_path(segs[i].base, "index");
		size_t len;
		unsigned char *b = slurp(p, &len);
		uint32_t how = h_rng_below(rng, 4);

		if (how == 0 && len > 0) {
			size_t at = h_rng_below(rng, (uint32_t)len);

			b[at] ^= (unsigned char)(1 + h_rng_below(rng, 255));
			put_file(p, b, len);
			snprintf(what + o, sizeof what - (size_t)o, "index %zu: byte %zu flipped", i, at);
		} else if (how == 1) {
			size_t cut = h_rng_below(rng, (uint32_t)len + 1);

			cut_file(p, (long long)cut);
			snprintf(what + o, sizeof what - (size_t)o, "index %zu: cut to %zu of %zu", i,
				 cut, len);
		} else if (how == 2) {
			unlink(p);
			snprintf(what + o, sizeof what - (size_t)o, "index %zu: deleted", i);
		} else {
			unsigned char junk[100];

			for (size_t k = 0; k < sizeof junk; k++)
				junk[k] = (unsigned char)h_rng_below(rng, 256);
			b = realloc(b, len + sizeof junk);
			memcpy(b + len, junk, sizeof junk);
			put_file(p, b, len + sizeof junk);
			snprintf(what + o, sizeof what - (size_t)o, "index %zu: 100 junk bytes added", i);
		}
		free(b);
	}
	return what;
}

Test(powerloss, cut_unsynced_tails)
{
	struct h_buf model = { 0 }; /* the log as last recovered */
	struct dseg *segs = calloc(MAX_SEGS, sizeof *segs);
	struct h_rng rng;
	uint32_t seq = 0;
	long cut_bytes = 0, synced_lines = 0, kept_unsynced = 0;

	h_rng_seed(&rng, 42);
	h_mount("segment.bytes=6000,compression.type=none");
	cr_assert(mkdir(h_mnt("t"), 0755) == 0, "mkdir t: %s", strerror(errno));
	for (int round = 1; round <= PL_ROUNDS; round++) {
		struct h_buf unsynced = { 0 };
		int fd = open(h_mnt("t/log"), O_WRONLY | O_APPEND);
		uint64_t synced_base;
		long long synced_size, cut;
		size_t n, len;
		char *got, *err;
		const char *what;
		struct r_view v;
		uint32_t seq0;
		int extra;

		cr_assert(fd >= 0, "round %d: open t/log: %s", round, strerror(errno));
		write_lines(fd, &seq, 20 + (int)h_rng_below(&rng, 300), &rng, &model);
		cr_assert(fsync(fd) == 0, "round %d: fsync t/log: %s", round, strerror(errno));
		n = disk_segments(segs);
		synced_base = segs[n - 1].base;
		synced_size = segs[n - 1].size;
		seq0 = seq;
		write_lines(fd, &seq, (int)h_rng_below(&rng, 300), &rng, &unsynced);
		cr_assert(close(fd) == 0);
		h_umount();

		/* The power loss. */
		n = disk_segments(segs);
		cut = segs[n - 1].base == synced_base
			      ? synced_size + h_rng_below(&rng, (uint32_t)(segs[n - 1].size - synced_size + 1))
			      : h_rng_below(&rng, (uint32_t)segs[n - 1].size + 1);
		cut_bytes += segs[n - 1].size - cut;
		cut_file(seg_path(segs[n - 1].base, "log"), cut);
		extra = (int)h_rng_below(&rng, 3);
		if (extra > 0 && cut >= SEG_HDR) { /* what a file system may show after the cut */
			unsigned char tail[512];
			size_t tl = 1 + h_rng_below(&rng, sizeof tail);
			int afd = open(seg_path(segs[n - 1].base, "log"), O_WRONLY | O_APPEND);

			for (size_t k = 0; k < tl; k++)
				tail[k] = extra == 1 ? 0 : (unsigned char)h_rng_below(&rng, 256);
			cr_assert(afd >= 0 && write(afd, tail, tl) == (ssize_t)tl);
			close(afd);
		}
		what = damage_indexes(segs, n, &rng);

		h_mount(H.opts);
		got = h_read_file(h_mnt("t/log"), &len);
		cr_assert(got != NULL, "round %d: read t/log: %s", round, strerror(errno));
		cr_assert(len >= model.len,
			  "round %d: %zu bytes after recovery, but %zu were synced (segment %llu cut "
			  "at %lld, was %lld at the fsync; %s)",
			  round, len, model.len, (unsigned long long)segs[n - 1].base, cut,
			  synced_size, what);
		H_ASSERT_BYTES(got, model.len, model.p, model.len,
			       "round %d: synced records after a cut at %lld (%s)", round, cut, what);
		err = r_view_check(got, len, false, &v);
		cr_assert(err == NULL, "round %d: after a cut at %lld (%s): %s", round, cut, what, err);
		cr_assert(len - model.len <= unsynced.len &&
				  memcmp(got + model.len, unsynced.p ? unsynced.p : "",
					 len - model.len) == 0,
			  "round %d: after the synced records comes something that was not "
			  "written after them (cut at %lld; %s)",
			  round, cut, what);
		synced_lines = v.lines;
		kept_unsynced += v.last[0] >= (int64_t)seq0 ? v.last[0] - seq0 + 1 : 0;
		seq = (uint32_t)(v.last[0] + 1);
		h_buf_add(&model, got + model.len, len - model.len);
		check_files_agree(got, len, v.lines, &rng, round);
		check_continues((uint32_t)round, (uint64_t)v.lines, &model, round);
		free(got);
		h_buf_free(&unsynced);
	}
	cr_log_info("powerloss: %d cuts of unsynced tails (%ld bytes cut), damaged indexes; "
		    "%ld records in the final log, %ld unsynced ones kept whole",
		    PL_ROUNDS, cut_bytes, synced_lines, kept_unsynced);
	h_buf_free(&model);
	free(segs);
}

/* ---- Bit flips in sealed segments ------------------------------------------------- */

/* A damaged batch (plain) or frame (zstd), in log terms. */
struct damage {
	uint64_t bytepos, end_bytepos; /* what it held in the rendered log */
	uint64_t next_offset;	       /* first offset after it */
	uint64_t seg;		       /* its segment's base */
};

/* The batches of a plain segment file, one after another. */
static size_t plain_batches(const unsigned char *f, size_t len, size_t *loc, size_t max)
{
	size_t n = 0;

	for (size_t at = SEG_HDR; at + BATCH_HDR <= len && n < max;) {
		uint32_t blen = get32(f + at + 4);

		cr_assert(blen >= BATCH_HDR && at + blen <= len, "unexpected batch at %zu", at);
		loc[n++] = at;
		at += blen;
	}
	return n;
}

/* Flip a random byte of a stored record in a random batch of a random
 * sealed plain segment other than those in USED; fills *D. */
static void flip_plain(struct dseg *segs, size_t n, struct h_rng *rng, struct damage *d,
		       bool *used)
{
	size_t i, len, loc[4096], nb, b, at;
	unsigned char *f;
	uint32_t blen;

	do
		i = h_rng_below(rng, (uint32_t)(n - 1));
	while (used[i]);
	used[i] = true;
	f = slurp(seg_path(segs[i].base, "log"), &len);
	nb = plain_batches(f, len, loc, 4096);
	cr_assert(nb > 0);
	b = h_rng_below(rng, (uint32_t)nb);
	blen = get32(f + loc[b] + 4);
	/* The stored crc (bytes 0..3), or a byte of the records (48..). */
	at = h_rng_below(rng, 5) == 0 ? h_rng_below(rng, 4)
				       : BATCH_HDR + h_rng_below(rng, blen - BATCH_HDR);
	f[loc[b] + at] ^= (unsigned char)(1 + h_rng_below(rng, 255));
	put_file(seg_path(segs[i].base, "log"), f, len);
	d->seg = segs[i].base;
	d->bytepos = get64(f + loc[b] + 24);
	d->end_bytepos = d->bytepos + get32(f + loc[b] + 40);
	d->next_offset = get64(f + loc[b] + 16) + get32(f + loc[b] + 12);
	free(f);
}

/* The frames of a compressed segment, from its index: location, length,
 * first offset and bytepos of each. */
struct frame {
	uint64_t loc, len, offset, bytepos;
};

static size_t frames_of(uint64_t base, struct frame *fr, size_t max)
{
	size_t len, n = 0;
	unsigned char *x = slurp(seg_path(base, "index"), &len);

	for (size_t at = IDX_HDR; at + IDX_ENTRY <= len && n < max; at += IDX_ENTRY, n++) {
		fr[n].offset = get64(x + at);
		fr[n].bytepos = get64(x + at + 8);
		fr[n].loc = get64(x + at + 24);
		fr[n].len = get32(x + at + 32);
	}
	free(x);
	return n;
}

/* Flip a random byte of frame FR in F, one that `zstd -t` finds (a flip
 * that zstd would decode unchanged is not damage). */
static void flip_in_frame(unsigned char *f, const struct frame *fr, struct h_rng *rng)
{
	for (int tries = 0;; tries++) {
		uint64_t at = fr->loc + h_rng_below(rng, (uint32_t)fr->len);
		unsigned char x = (unsigned char)(1 + h_rng_below(rng, 255));

		cr_assert(tries < 20, "no byte flip of a zstd frame is detected by zstd -t");
		f[at] ^= x;
		put_file(h_work("frame.zst"), f + fr->loc, fr->len);
		if (h_sh("zstd -t -q $WORK/frame.zst") != 0)
			return;
		f[at] ^= x;
	}
}

static void flip_zstd(struct dseg *segs, size_t n, struct h_rng *rng, struct damage *d,
		      bool *used)
{
	struct frame fr[256];
	size_t i, len, nf, k;
	unsigned char *f;

	do
		i = h_rng_below(rng, (uint32_t)(n - 1));
	while (used[i]);
	used[i] = true;
	cr_assert(segs[i].zstd, "segment %llu is not compressed", (unsigned long long)segs[i].base);
	nf = frames_of(segs[i].base, fr, 256);
	cr_assert(nf > 0, "segment %llu: no frames in its index", (unsigned long long)segs[i].base);
	k = h_rng_below(rng, (uint32_t)nf);
	f = slurp(seg_path(segs[i].base, "log"), &len);
	cr_assert(fr[k].loc + fr[k].len <= len);
	flip_in_frame(f, &fr[k], rng);
	put_file(seg_path(segs[i].base, "log"), f, len);
	free(f);
	d->seg = segs[i].base;
	d->bytepos = fr[k].bytepos;
	if (k + 1 < nf) {
		d->end_bytepos = fr[k + 1].bytepos;
		d->next_offset = fr[k + 1].offset;
	} else {
		d->end_bytepos = segs[i + 1].bytepos;
		d->next_offset = segs[i + 1].base;
	}
}

#define FLIPS 6 /* bytes flipped, one per round, in different segments */

/* Append 3000 lines of writer 0 to t, 1-4 per write; returns the log. */
static void fill(struct h_buf *want, struct h_rng *rng)
{
	int fd = open(h_mnt("t/log"), O_WRONLY | O_APPEND);
	uint32_t seq = 0;

	cr_assert(fd >= 0, "open t/log: %s", strerror(errno));
	write_lines(fd, &seq, 3000, rng, want);
	cr_assert(close(fd) == 0);
}

static bool all_sealed_compressed(void *arg)
{
	struct dseg *segs = arg;
	size_t n = disk_segments(segs);

	for (size_t i = 0; i + 1 < n; i++)
		if (!segs[i].zstd)
			return false;
	return n > 4;
}

/* All sealed segments compressed and retention has dropped the first one. */
static bool trimmed_and_compressed(void *arg)
{
	struct dseg *segs = arg;

	return all_sealed_compressed(segs) && segs[0].base > 0;
}

/*
** The reads that DAMAGE (sorted by bytepos, ND of them) allow on WANT: the
** log up to the first damage then EIO; from each damage's next offset up to
** the next damage (or the end); each undamaged segment file whole. For
** zstd (EXACT false) the read may stop at any record boundary inside the
** damaged frame, after returning the frame's records that decoded.
*/
static void check_damage(const struct h_buf *want, struct damage *dmg, int nd, bool exact,
			 const char *what)
{
	struct dseg *segs = calloc(MAX_SEGS, sizeof *segs);
	size_t n = disk_segments(segs), len;
	int err;
	char *got;

	for (int a = 0; a < nd; a++) /* sort by bytepos */
		for (int b = a + 1; b < nd; b++)
			if (dmg[b].bytepos < dmg[a].bytepos) {
				struct damage t = dmg[a];

				dmg[a] = dmg[b];
				dmg[b] = t;
			}
	for (int k = -1; k < nd; k++) {
		char rel[64];
		uint64_t from = k < 0 ? 0 : dmg[k].end_bytepos;
		uint64_t stop = k + 1 < nd ? dmg[k + 1].bytepos : want->len;
		uint64_t stop_max = k + 1 < nd ? dmg[k + 1].end_bytepos : want->len;

		if (k < 0)
			snprintf(rel, sizeof rel, "t/log");
		else
			snprintf(rel, sizeof rel, "t/%llu", (unsigned long long)dmg[k].next_offset);
		got = r_read_until_error(h_mnt("%s", rel), &len, &err);
		if (got == NULL && errno == EIO && k + 1 < nd && stop == from)
			continue; /* record N itself is damaged: open may find it */
		cr_assert(got != NULL, "%s: open %s: %s", what, rel, strerror(errno));
		if (k + 1 < nd) {
			cr_assert_eq(err, EIO,
				     "%s: reading %s did not fail with EIO (%s) at the damage in "
				     "segment %llu (bytes %llu..%llu); read %zu bytes",
				     what, rel, strerror(err), (unsigned long long)dmg[k + 1].seg,
				     (unsigned long long)dmg[k + 1].bytepos,
				     (unsigned long long)dmg[k + 1].end_bytepos, len);
			if (exact)
				H_ASSERT_BYTES(got, len, want->p + from, stop - from,
					       "%s: %s up to the damaged batch", what, rel);
			else {
				cr_assert(from + len >= stop && from + len < stop_max &&
						  (len == 0 || got[len - 1] == '\n'),
					  "%s: %s failed after %zu bytes, not inside the damaged frame "
					  "(bytes %llu..%llu of the log)",
					  what, rel, len, (unsigned long long)stop,
					  (unsigned long long)stop_max);
				H_ASSERT_BYTES(got, len, want->p + from, len, "%s: %s before the damage",
					       what, rel);
			}
		} else {
			cr_assert_eq(err, 0, "%s: reading %s after the last damage failed: %s", what,
				     rel, strerror(err));
			H_ASSERT_BYTES(got, len, want->p + from, want->len - from,
				       "%s: %s after the last damage", what, rel);
		}
		free(got);
	}
	/* Segment files without damage read back whole. */
	for (size_t i = 0; i < n; i++) {
		bool damaged = false;
		uint64_t to = i + 1 < n ? segs[i + 1].bytepos : want->len;

		for (int k = 0; k < nd; k++)
			damaged |= dmg[k].seg == segs[i].base;
		if (damaged)
			continue;
		got = r_read_until_error(h_mnt("t/%020llu.log", (unsigned long long)segs[i].base), &len,
					 &err);
		cr_assert(got != NULL && err == 0, "%s: read segment %020llu.log: %s", what,
			  (unsigned long long)segs[i].base, strerror(got ? err : errno));
		H_ASSERT_BYTES(got, len, want->p + segs[i].bytepos, to - segs[i].bytepos,
			       "%s: undamaged segment file %020llu.log", what,
			       (unsigned long long)segs[i].base);
		free(got);
	}
	free(segs);
}

static void bitflip_rounds(const char *opts, bool zstd, uint64_t seed)
{
	struct dseg *segs = calloc(MAX_SEGS, sizeof *segs);
	struct h_buf want = { 0 };
	struct damage dmg[FLIPS];
	bool used[MAX_SEGS] = { false };
	struct h_rng rng;
	size_t n;

	h_rng_seed(&rng, seed);
	h_mount(opts);
	cr_assert(mkdir(h_mnt("t"), 0755) == 0, "mkdir t: %s", strerror(errno));
	fill(&want, &rng);
	if (zstd)
		cr_assert(h_wait_for(all_sealed_compressed, segs, 30000),
			  "the sealed segments were not all compressed within 30 s");
	for (int round = 0; round < FLIPS; round++) {
		char what[64];
		long lines;

		h_umount();
		n = disk_segments(segs);
		cr_assert(n > 8, "only %zu segments", n);
		if (zstd)
			flip_zstd(segs, n, &rng, &dmg[round], used);
		else
			flip_plain(segs, n, &rng, &dmg[round], used);
		h_mount(H.opts);
		snprintf(what, sizeof what, "%s, %d damaged", zstd ? "zstd" : "plain", round + 1);
		check_damage(&want, dmg, round + 1, !zstd, what);
		/* Appends go on after the damage. */
		lines = 0;
		for (size_t i = 0; i < want.len; i++)
			lines += want.p[i] == '\n';
		check_continues((uint32_t)round, (uint64_t)lines, &want, round);
		/* A second recovery of the same damage finds the same. */
		h_remount();
		check_damage(&want, dmg, round + 1, !zstd, what);
	}
	cr_log_info("powerloss (%s): %d bytes flipped in sealed segments; EIO exactly at each, "
		    "everything else read back (%zu bytes)",
		    zstd ? "zstd" : "plain", FLIPS, want.len);
	h_buf_free(&want);
	free(segs);
}

Test(powerloss, bitflip_in_sealed_plain_segments)
{
	bitflip_rounds("segment.bytes=4096,compression.type=none", false, 7);
}

Test(powerloss, bitflip_in_sealed_zstd_segments)
{
	bitflip_rounds("segment.bytes=4096,compression.type=zstd,maintenance.interval.ms=20", true,
		       8);
}

/*
** The same damage after the sealed segment's index was lost too (a disk
** that lost a file): recovery rebuilds the index by scanning the segment.
** The damaged batch is the LAST of its sealed segment, the case where a
** scan cannot tell damage from a torn write by what follows it. A sealed
** segment was synced whole before its successor existed, so it has no torn
** tail: its damaged records must still fail with EIO, not vanish.
** (A regression test: before 49d3d25 they vanished silently.)
*/
static void flip_last_batch_lose_index(bool zstd, uint64_t seed)
{
	struct dseg *segs = calloc(MAX_SEGS, sizeof *segs);
	struct h_buf want = { 0 };
	struct damage d;
	struct h_rng rng;
	size_t n, len;
	int err;
	char *got;

	h_rng_seed(&rng, seed);
	h_mount(zstd ? "segment.bytes=4096,compression.type=zstd,maintenance.interval.ms=20"
		     : "segment.bytes=4096,compression.type=none");
	cr_assert(mkdir(h_mnt("t"), 0755) == 0, "mkdir t: %s", strerror(errno));
	fill(&want, &rng);
	if (zstd)
		cr_assert(h_wait_for(all_sealed_compressed, segs, 30000),
			  "the sealed segments were not all compressed within 30 s");
	h_umount();
	n = disk_segments(segs);
	{
		size_t i = n / 2, flen;
		unsigned char *f = slurp(seg_path(segs[i].base, "log"), &flen);

		if (zstd) {
			struct frame fr[256];
			size_t nf = frames_of(segs[i].base, fr, 256);

			cr_assert(nf > 0);
			flip_in_frame(f, &fr[nf - 1], &rng);
			d.bytepos = fr[nf - 1].bytepos;
		} else {
			size_t loc[4096], nb = plain_batches(f, flen, loc, 4096);

			f[loc[nb - 1] + BATCH_HDR] ^= 0x55;
			d.bytepos = get64(f + loc[nb - 1] + 24);
		}
		d.seg = segs[i].base;
		d.end_bytepos = segs[i + 1].bytepos;
		d.next_offset = segs[i + 1].base;
		put_file(seg_path(segs[i].base, "log"), f, flen);
		free(f);
		cr_assert(unlink(seg_path(segs[i].base, "index")) == 0);
	}
	h_mount(H.opts);
	got = r_read_until_error(h_mnt("t/log"), &len, &err);
	cr_assert(got != NULL);
	cr_expect(err == EIO,
		  "the damaged last %s of sealed segment %020llu, whose index was "
		  "lost, is skipped without EIO: reading t/log returned %zu bytes and %s "
		  "(want EIO after %llu bytes); its records silently vanished from the log",
		  zstd ? "zstd frame" : "batch", (unsigned long long)d.seg, len,
		  err ? strerror(err) : "no error", (unsigned long long)d.bytepos);
	if (err == EIO)
		check_damage(&want, &d, 1, !zstd, zstd ? "zstd, index lost" : "plain, index lost");
	free(got);
	h_buf_free(&want);
	free(segs);
}

Test(powerloss, damaged_last_batch_of_sealed_plain_segment_without_index)
{
	flip_last_batch_lose_index(false, 11);
}

Test(powerloss, damaged_last_frame_of_sealed_zstd_segment_without_index)
{
	flip_last_batch_lose_index(true, 12);
}

/*
** Segments that were created after the last fsync, as a power loss may
** leave them. torn_header_of_unsynced_newest_segment: the newest one's
** header never reached the disk while some of its records did (a torn
** first page: the header is the first thing written to a new segment, and
** it is synced only with the segment's first records; a regression test:
** before 49d3d25 such a segment made the whole DATADIR fail to mount).
** unsynced_new_segments_lost: their names never reached the disk (a roll
** leaves the directory's sync to the next fsync), so they are gone. Nothing
** in them was durable, so the mount must keep every synced record, serve
** at most a prefix of the unsynced ones after them, and go on appending.
*/
static void unsynced_new_segments(bool lose_names, const char *what)
{
	struct dseg *segs = calloc(MAX_SEGS, sizeof *segs);
	struct h_buf synced = { 0 }, unsynced = { 0 };
	unsigned char zeros[SEG_HDR] = { 0 };
	struct h_rng rng;
	uint32_t seq = 0;
	size_t n, n0, len;
	struct r_view v;
	char *got, *err;
	int fd;

	h_rng_seed(&rng, 13);
	h_mount("segment.bytes=4096,compression.type=none");
	cr_assert(mkdir(h_mnt("t"), 0755) == 0, "mkdir t: %s", strerror(errno));
	fd = open(h_mnt("t/log"), O_WRONLY | O_APPEND);
	cr_assert(fd >= 0);
	write_lines(fd, &seq, 300, &rng, &synced);
	cr_assert(fsync(fd) == 0, "fsync t/log: %s", strerror(errno));
	n0 = disk_segments(segs);
	write_lines(fd, &seq, 300, &rng, &unsynced); /* rolls: ~12 KiB */
	cr_assert(close(fd) == 0);
	h_umount();
	n = disk_segments(segs);
	cr_assert(n > n0, "no segment was created after the fsync");
	if (lose_names) {
		for (size_t i = n0; i < n; i++) {
			cr_assert(unlink(seg_path(segs[i].base, "log")) == 0);
			unlink(seg_path(segs[i].base, "index")); /* may not exist */
		}
	} else {
		fd = open(seg_path(segs[n - 1].base, "log"), O_WRONLY);
		cr_assert(fd >= 0 && pwrite(fd, zeros, sizeof zeros, 0) == (ssize_t)sizeof zeros);
		close(fd);
	}

	h_mount(H.opts);
	got = h_read_file(h_mnt("t/log"), &len);
	cr_assert(got != NULL, "read t/log: %s", strerror(errno));
	H_ASSERT_BYTES(got, len < synced.len ? len : synced.len, synced.p, synced.len,
		       "synced records after %s", what);
	err = r_view_check(got, len, false, &v);
	cr_assert(err == NULL, "after %s: %s", what, err);
	cr_assert(len - synced.len <= unsynced.len &&
		  memcmp(got + synced.len, unsynced.p, len - synced.len) == 0,
		  "after %s, the synced records are followed by something not written after them", what);
	h_buf_add(&synced, got + synced.len, len - synced.len);
	check_continues(0, (uint64_t)v.lines, &synced, 0);
	free(got);
	h_buf_free(&synced);
	h_buf_free(&unsynced);
	free(segs);
}

Test(powerloss, torn_header_of_unsynced_newest_segment)
{
	unsynced_new_segments(false, "a torn header of the newest segment");
}

Test(powerloss, unsynced_new_segments_lost)
{
	unsynced_new_segments(true, "losing the segments created after the fsync");
}

/* Topic u, 100 short lines (into OTHER): a topic the damage must not touch. */
static void make_other_topic(struct h_buf *other)
{
	cr_assert(mkdir(h_mnt("u"), 0755) == 0);
	for (int k = 0; k < 100; k++)
		h_buf_printf(other, "line %d of topic u\n", k);
	r_append("u", other->p);
}

/* Flip a random byte of the header of t's segment BASE (unmounted);
** returns which byte. */
static int flip_header_byte(uint64_t base, struct h_rng *rng)
{
	size_t flen;
	unsigned char *f = slurp(seg_path(base, "log"), &flen);
	int at = (int)h_rng_below(rng, SEG_HDR);

	f[at] ^= (unsigned char)(1 + h_rng_below(rng, 255));
	put_file(seg_path(base, "log"), f, flen);
	free(f);
	return at;
}

/* u/log reads back exactly OTHER. */
static void check_other_topic(const struct h_buf *other)
{
	size_t len;
	char *got = h_read_file(h_mnt("u/log"), &len);

	cr_assert(got != NULL, "read u/log: %s", strerror(errno));
	H_ASSERT_BYTES(got, len, other->p, other->len, "another topic than the damaged one");
	free(got);
}

/*
** A byte flipped in the header of an old sealed segment (bit rot, or a bad
** sector). The header is not a record, but the same rule should hold: the
** damage costs the records it holds, not the mount. Other topics must be
** served; the damaged topic reads back whole (a header can be rebuilt from
** the batches and the neighbouring segments) or up to the damaged
** segment, then EIO; and its records after that segment read back from
** their offsets. (A regression test: before 84e9e50 one "bad header" made
** every topic of the DATADIR unavailable.)
*/
Test(powerloss, bitflip_in_sealed_segment_header)
{
	struct dseg *segs = calloc(MAX_SEGS, sizeof *segs);
	struct h_buf want = { 0 }, other = { 0 };
	struct h_rng rng;
	size_t n, len, i;
	char *got;
	int err, at;

	h_rng_seed(&rng, 21);
	h_mount("segment.bytes=4096,compression.type=none");
	cr_assert(mkdir(h_mnt("t"), 0755) == 0);
	fill(&want, &rng);
	make_other_topic(&other);
	h_umount();
	n = disk_segments(segs);
	i = n / 2;
	at = flip_header_byte(segs[i].base, &rng);

	h_mount(H.opts);
	check_other_topic(&other);
	got = r_read_until_error(h_mnt("t/log"), &len, &err);
	cr_assert(got != NULL, "open t/log: %s", strerror(errno));
	if (err == 0) {
		H_ASSERT_BYTES(got, len, want.p, want.len, "t/log after its segment %zu's header byte "
			       "%d was flipped", i, at);
	} else {
		cr_assert_eq(err, EIO, "reading t/log failed with %s", strerror(err));
		H_ASSERT_BYTES(got, len, want.p, segs[i].bytepos,
			       "t/log up to the segment whose header byte %d was flipped", at);
	}
	free(got);
	got = r_read_until_error(h_mnt("t/%llu", (unsigned long long)segs[i + 1].base), &len, &err);
	cr_assert(got != NULL && err == 0, "reading t/%llu, after the damaged segment: %s",
		  (unsigned long long)segs[i + 1].base, strerror(got ? err : errno));
	H_ASSERT_BYTES(got, len, want.p + segs[i + 1].bytepos, want.len - segs[i + 1].bytepos,
		       "t/%llu, after the damaged segment", (unsigned long long)segs[i + 1].base);
	free(got);
	h_buf_free(&want);
	h_buf_free(&other);
	free(segs);
}

/*
** The same for the oldest segment of a topic that retention has trimmed
** (so its base is not 0 and no earlier segment tells where it starts) and
** whose segments are zstd-compressed (so its first batch can't be read
** without its header): the most common shape of an old segment. The mount
** must still come up and serve the other topics; the damaged segment's
** records may fail with EIO, those after it must read back. (A regression
** test: this case still refused the whole DATADIR after 84e9e50.)
*/
Test(powerloss, bitflip_in_oldest_compressed_segment_header)
{
	struct dseg *segs = calloc(MAX_SEGS, sizeof *segs);
	struct h_buf want = { 0 }, other = { 0 };
	struct h_rng rng;
	size_t n, len;
	char *got;
	int err, at;

	h_rng_seed(&rng, 22);
	h_mount("segment.bytes=4096,compression.type=zstd,maintenance.interval.ms=20");
	make_other_topic(&other);
	cr_assert(mkdir(h_mnt("t"), 0755) == 0);
	fill(&want, &rng);
	cr_assert(setxattr(h_mnt("t"), "user.retention.bytes", "60000", 5, 0) == 0);
	/* Compression may finish before retention.bytes is set: wait for both. */
	cr_assert(h_wait_for(trimmed_and_compressed, segs, 30000),
		  "retention and compression were not both done within 30 s");
	h_umount();
	n = disk_segments(segs);
	cr_assert(n > 3 && segs[0].base > 0 && segs[0].zstd,
		  "retention left %zu segments, the oldest at %llu (%scompressed)", n,
		  (unsigned long long)segs[0].base, segs[0].zstd ? "" : "not ");
	at = flip_header_byte(segs[0].base, &rng);

	h_mount(H.opts);
	check_other_topic(&other);
	got = r_read_until_error(h_mnt("t/log"), &len, &err);
	cr_assert(got != NULL, "open t/log: %s", strerror(errno));
	if (err == 0)
		H_ASSERT_BYTES(got, len, want.p + segs[0].bytepos, want.len - segs[0].bytepos,
			       "t/log after its oldest segment's header byte %d was flipped", at);
	else
		cr_assert_eq(err, EIO, "reading t/log failed with %s", strerror(err));
	free(got);
	got = r_read_until_error(h_mnt("t/%llu", (unsigned long long)segs[1].base), &len, &err);
	cr_assert(got != NULL && err == 0, "reading t/%llu, after the damaged segment: %s",
		  (unsigned long long)segs[1].base, strerror(got ? err : errno));
	H_ASSERT_BYTES(got, len, want.p + segs[1].bytepos, want.len - segs[1].bytepos,
		       "t/%llu, after the damaged segment", (unsigned long long)segs[1].base);
	free(got);
	h_buf_free(&want);
	h_buf_free(&other);
	free(segs);
}

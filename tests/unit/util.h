/*
** util.h: shared helpers of the core unit tests in tests/unit/.
**
** Every test runs in its own process (Criterion) with a fresh private
** directory: tu_setup() makes /tmp/topicfs-unit-XXXXXX and names
** tu_dir/data as the store's DATADIR (left for store_open to create);
** tu_teardown() removes the whole tree. Every TestSuite uses them as its
** .init and .fini.
**
** Helpers whose name ends in nothing special assert (cr_assert) and so must
** be called from the test's own thread only; the ones meant for other
** threads say so.
*/
#ifndef TOPICFS_TESTS_UTIL_H
#define TOPICFS_TESTS_UTIL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "cursor.h"
#include "store.h"
#include "topic.h"

/* ---- the per-test directory ------------------------------------------ */

extern char tu_dir[PATH_MAX];  /* private to the test; removed in fini */
extern char tu_data[PATH_MAX]; /* tu_dir/data: the DATADIR of the test */

void tu_setup(void);
void tu_teardown(void);

/* ---- a seeded PRNG (xorshift64*), fixed seeds only ----------------------- */

typedef struct tu_rng {
	uint64_t s;
} tu_rng;

void tu_rng_seed(tu_rng *r, uint64_t seed);
uint64_t tu_rand(tu_rng *r);
uint64_t tu_below(tu_rng *r, uint64_t n); /* uniform in [0, n), n > 0 */

/* n random bytes, every value but '\n' (NUL included). */
void tu_fill(tu_rng *r, void *p, size_t n);

/* A random payload length: mostly 0..512 bytes, one in a thousand up to
** 64 KiB. */
size_t tu_payload_len(tu_rng *r);

/* Milliseconds since the epoch (CLOCK_REALTIME) and a monotonic clock. */
int64_t tu_now_ms(void);
double tu_mono_s(void);

/* ---- a growable byte buffer ------------------------------------------- */

typedef struct tu_buf {
	char *p;
	size_t len;
	size_t cap;
} tu_buf;

void tu_buf_reserve(tu_buf *b, size_t extra);
void tu_buf_add(tu_buf *b, const void *p, size_t n);
void tu_buf_addc(tu_buf *b, char c);
void tu_buf_free(tu_buf *b);

/* ---- the expected log: what the store should hold ----------------------- */

typedef struct tu_log {
	tu_buf bytes;	/* the rendered log: payload + "\n" per record */
	uint64_t *pos;	/* pos[o]: bytepos of record o; pos[n] == bytes.len */
	uint64_t n;	/* records (offsets 0 .. n-1) */
	size_t cap;
} tu_log;

void tu_log_add(tu_log *l, const void *payload, size_t len);
/* Payload length and pointer of record o (o < n). */
size_t tu_log_plen(const tu_log *l, uint64_t o);
const char *tu_log_payload(const tu_log *l, uint64_t o);
/* The record that holds byte position p (p < bytes.len). */
uint64_t tu_log_record_at(const tu_log *l, uint64_t p);
/* Forget every record from offset n on. */
void tu_log_cut(tu_log *l, uint64_t n);
void tu_log_free(tu_log *l);

/* ---- byte comparison with a useful message ------------------------------ */

/* Assert got[0..got_len) == want[0..want_len), reporting the first
** differing byte. what names the comparison in the failure message. */
void tu_assert_bytes(const char *what, const void *got, size_t got_len,
		     const void *want, size_t want_len);

/* ---- store and topic helpers (they assert success) ---------------------- */

/* cfg_defaults, then segment.bytes (when > 0), compression.type=none and
** retention.ms=-1, so that segment files keep the plain batch format and
** nothing is deleted behind a test's back. */
void tu_cfg_plain(cfg *c, int64_t segment_bytes);
/* cfg_set with a NUL-terminated value, asserting success. */
void tu_cfg_set(cfg *c, int k, const char *value);

store *tu_open(const cfg *defaults);
void tu_close(store *s);
topic *tu_create(store *s, const char *name);
topic *tu_get(store *s, const char *name);

/* Append buf[0..len) (complete lines) as one batch; returns the first
** offset and asserts it equals expect_first unless that is UINT64_MAX. */
uint64_t tu_append(topic *t, const void *buf, size_t len,
		   uint64_t expect_first);

/* Append `count` random records (payload lengths from tu_payload_len capped
** at max_len) in batches of 1..max_batch lines, recording them in l. A
** batch is passed as 1..3 iovecs split at random points. */
void tu_append_random(topic *t, tu_rng *r, tu_log *l, uint64_t count,
		      unsigned max_batch, size_t max_len);

/* Append one batch of `lines` random records (lengths from tu_payload_len
** capped at max_len); returns its first offset. */
uint64_t tu_append_batch(topic *t, tu_rng *r, tu_log *l, unsigned lines,
			 size_t max_len);

/*
** Read the rendered log with a fresh cursor from bytepos `from` until
** cur_read returns 0, chunk bytes per call, appending to out. Returns 0, or
** the negative errno that ended the read (out keeps what came before).
** Safe from any thread.
*/
int tu_read_from(topic *t, uint64_t from, size_t chunk, tu_buf *out);

/* The same with cursor c, from where it stands (-ERANGE if a read returns
** more than chunk bytes). */
int tu_cur_drain(cursor *c, size_t chunk, tu_buf *out);

/* Assert the whole retained log equals l (by cur_read from 0 and by a
** cur_next walk), and that topic_get_info agrees with l. */
void tu_assert_log(topic *t, const tu_log *l);

/* Assert cur_next at topic_offset_bytepos(o) yields exactly record o. */
void tu_assert_record(topic *t, const tu_log *l, uint64_t o);

/* ---- files of the data directory ---------------------------------------- */

/* DATADIR/rel into out (PATH_MAX bytes). */
void tu_data_path(char *out, const char *rel);
/* DATADIR/topics/NAME[/file] into out (PATH_MAX bytes). */
void tu_topic_path(char *out, const char *name, const char *file);
/* "%020llu.ext" */
void tu_seg_name(char *out, size_t outlen, uint64_t base, const char *ext);
/* The base offsets of the NNNNNNNNNNNNNNNNNNNN.log files of topic name,
** ascending (malloc'd). */
size_t tu_segment_bases(const char *name, uint64_t **bases);
/* Remove segment base of topic name, as a lost file would be: its log
** (asserted to exist) and its index (if there is one). */
void tu_remove_segment(const char *name, uint64_t base);

int tu_exists(const char *path);
/* The whole file into out (replacing its content); asserts success. */
void tu_read_file(const char *path, tu_buf *out);
/* Create or replace path with p[0..n). */
void tu_write_file(const char *path, const void *p, size_t n);
void tu_truncate(const char *path, off_t len);

/* Sorted relative paths of everything under dir, one per line (malloc'd),
** to prove that an operation created nothing. */
char *tu_tree(const char *dir);

/* A recursive snapshot of a directory's files, to restore it between runs. */
typedef struct tu_snap {
	size_t n;
	char **rel;	/* relative path */
	int *is_dir;
	tu_buf *data;
} tu_snap;

void tu_snap_take(const char *dir, tu_snap *s);
void tu_snap_restore(const char *dir, const tu_snap *s);
void tu_snap_free(tu_snap *s);
void tu_rm_rf(const char *path);
/* Set (on) or clear a file's immutable flag, so that removing it fails
** (EPERM) as on a failing disk. Returns 0, or -1 where the file system has
** no such flag. tu_rm_rf clears it. */
int tu_set_immutable(const char *path, int on);

/* ---- the segment format of core/FORMAT.txt ------------------------------ */

#define TU_SEG_HEADER 64
#define TU_BATCH_HEADER 48

typedef struct tu_batch {
	size_t file_off; /* where the batch starts in the segment file */
	uint32_t length; /* whole batch, header included */
	uint32_t count;
	uint64_t base_offset;
	uint64_t base_bytepos;
	int64_t timestamp_ms;
	uint32_t rendered; /* sum of (payload length + 1) */
	int crc_ok;	 /* stored crc32c matches bytes 4..length-1 */
} tu_batch;

uint32_t tu_crc32c(const void *p, size_t n);
uint32_t tu_get32(const void *p);
uint64_t tu_get64(const void *p);
void tu_put32(void *p, uint32_t v);

/* Walk batches from byte 64 by their length fields while they fit in the
** image; returns how many (*out malloc'd, NULL when none). */
size_t tu_walk_batches(const void *seg, size_t len, tu_batch **out);

/* File offset and length of record i (i < count) of batch b. Returns 0, or
** -1 when the batch's records do not parse. */
int tu_batch_record(const void *seg, const tu_batch *b, uint32_t i,
		    size_t *payload_off, size_t *payload_len);

#endif

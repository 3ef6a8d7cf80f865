/*
** config.h: per-topic settings, under Kafka's names.
**
** A cfg holds every setting of SPEC.md's table plus a mask of the ones set
** explicitly. A topic's effective settings are the mount-wide defaults with
** the topic's own overrides laid on top (cfg_merge); only the overrides are
** stored in the topic's directory, so a new mount-wide default reaches every
** topic that did not choose its own value.
**
** All functions return 0 (or a length) on success and a negative errno on
** failure; on failure the cfg is left exactly as it was.
*/
#ifndef TOPICFS_CONFIG_H
#define TOPICFS_CONFIG_H

#include <stddef.h>
#include <stdint.h>

enum cfg_key {
	CFG_SEGMENT_BYTES,
	CFG_SEGMENT_MS,
	CFG_RETENTION_MS,
	CFG_RETENTION_BYTES,
	CFG_CLEANUP_POLICY,
	CFG_KEY_SEPARATOR,
	CFG_MIN_CLEANABLE_DIRTY_RATIO,
	CFG_DELETE_RETENTION_MS,
	CFG_COMPRESSION_TYPE,
	CFG_COMPRESSION_LEVEL,
	CFG_MAX_MESSAGE_BYTES,
	CFG_FLUSH_MS,
	CFG_NKEYS
};

#define CFG_CLEANUP_DELETE 1
#define CFG_CLEANUP_COMPACT 2

#define CFG_COMPRESSION_NONE 0
#define CFG_COMPRESSION_ZSTD 1

#define CFG_KEY_SEPARATOR_MAX 64 /* bytes */
#define CFG_VALUE_MAX 128	 /* longest rendered value, with NUL */

typedef struct cfg {
	int64_t segment_bytes;
	int64_t segment_ms;
	int64_t retention_ms;	 /* -1: keep forever */
	int64_t retention_bytes; /* -1: no limit */
	int cleanup_policy;	 /* CFG_CLEANUP_* bits, never 0 */
	size_t key_separator_len; /* 0: no keys */
	char key_separator[CFG_KEY_SEPARATOR_MAX];
	double min_cleanable_dirty_ratio;
	int64_t delete_retention_ms;
	int compression_type; /* CFG_COMPRESSION_* */
	int compression_level;
	int64_t max_message_bytes;
	int64_t flush_ms;
	uint32_t set_mask; /* bit k: key k set explicitly */
} cfg;

/* Fill c with SPEC.md's defaults; nothing is marked as set. */
void cfg_defaults(cfg *c);

/* The name of key k ("segment.bytes"), or NULL when k is out of range. */
const char *cfg_key_name(int k);

/* The key called name, or -ENOENT when there is none. */
int cfg_key_find(const char *name);

/*
** Parse value (value_len bytes, need not be NUL-terminated) for key k and
** store it in c, marking k as set. Returns 0, -EINVAL for a value that is
** not valid for k (c unchanged), or -ENOENT for an unknown k.
*/
int cfg_set(cfg *c, int k, const char *value, size_t value_len);

/* What cfg_set accepts for key k, as words for a log line ("an integer
** from 1 to 22"), in buf. Returns buf. */
const char *cfg_rule(int k, char *buf, size_t buflen);

/* Forget the explicit value of key k (it falls back to the default). */
void cfg_unset(cfg *c, int k);

/*
** Render key k's value into buf (NUL-terminated, at most CFG_VALUE_MAX
** bytes). Returns the length without the NUL, or -ENOENT. The key separator
** is rendered as its raw bytes, which may include any byte but \n and NUL.
*/
int cfg_get(const cfg *c, int k, char *buf, size_t buflen);

/* out = defaults with every key that overrides has set taken from it. */
void cfg_merge(const cfg *defaults, const cfg *overrides, cfg *out);

/*
** Text form, one "name=value\n" line per key set in c (the file format of
** a topic's "topic.conf"; see topic.c). cfg_format returns the length
** written (buf of at least cfg_format_max() bytes); cfg_parse fills out
** (set from defaults first) or returns -EINVAL and leaves out untouched.
** Lines that are not settings (see topic.c) are passed to other(), which
** may be NULL; it returns 0 to accept a line or -EINVAL to reject it.
*/
/* The lines that are not settings hold numbers: digits of base (8 or 10)
** only, no sign or space, at most UINT64_MAX. 0 and *out, or -EINVAL. */
int cfg_parse_u64(const char *v, size_t n, unsigned base, uint64_t *out);

size_t cfg_format_max(void);
size_t cfg_format(const cfg *c, char *buf);
int cfg_parse(const char *buf, size_t len, cfg *out,
	      int (*other)(const char *name, const char *value, size_t value_len,
			   void *arg),
	      void *arg);

#endif

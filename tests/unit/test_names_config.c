/*
** test_names_config.c: topic names, settings, and the store's own
** operations (delete, rename, owner, the lock).
*/
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "log.h"
#include "util.h"

TestSuite(names, .init = tu_setup, .fini = tu_teardown, .timeout = 60);
TestSuite(config, .init = tu_setup, .fini = tu_teardown, .timeout = 60);
TestSuite(store, .init = tu_setup, .fini = tu_teardown, .timeout = 60);

/* ---- names ------------------------------------------------------------- */

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	cr_assert_not_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static const char *const bad_names[] = {
	"",	   ".",	      "..",	"a/b",	   "/abs",     "../escape",
	"a b",	   " ",	      "a\tb",	"\x01",	   "a\x7f",    "a\nb",
	"\n",	   "caf\xc3\xa9", "\xff", "a:b",	   "a*b",      "a\\b",
	"x\x1b[0m", "name\r",
};

static const char *const good_names[] = {
	"a.b-c_D9", ".hidden", "...", "-", "_", "A", "0", "..a", "a..", "-rf",
};

Test(names, valid_and_invalid)
{
	char *n249 = repeat('n', 249), *n250 = repeat('n', 250);

	for (size_t i = 0; i < sizeof(bad_names) / sizeof(*bad_names); i++)
		cr_assert_eq(store_name_valid(bad_names[i]), 0,
			     "store_name_valid(\"%s\") accepted it", bad_names[i]);
	cr_assert_eq(store_name_valid(n250), 0, "a 250-byte name");
	for (size_t i = 0; i < sizeof(good_names) / sizeof(*good_names); i++)
		cr_assert_eq(store_name_valid(good_names[i]), 1,
			     "store_name_valid(\"%s\") refused it", good_names[i]);
	cr_assert_eq(store_name_valid(n249), 1, "a 249-byte name");
	char all[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";
	cr_assert_eq(store_name_valid(all), 1);
	/* every other byte value, alone in a name, is refused */
	for (int c = 1; c < 256; c++) {
		char name[4] = { 'x', (char)c, 'y', 0 };
		int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			 (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
		cr_assert_eq(store_name_valid(name), ok, "byte 0x%02x in a name", c);
	}
	free(n249);
	free(n250);
}

Test(names, create_refuses_bad_names_and_creates_nothing)
{
	cfg d;
	store *s;
	char *n250 = repeat('z', 250);
	char **names = NULL;
	size_t n = 99;

	tu_cfg_plain(&d, 0);
	s = tu_open(&d);
	char *before = tu_tree(tu_dir);
	for (size_t i = 0; i <= sizeof(bad_names) / sizeof(*bad_names); i++) {
		const char *name = i < sizeof(bad_names) / sizeof(*bad_names) ?
					   bad_names[i] : n250;
		topic *t = NULL;
		int rc = store_topic_create(s, name, 0755, 0, 0, &t);
		cr_assert_eq(rc, -EINVAL, "store_topic_create(\"%s\") = %d", name, rc);
		cr_assert_null(t, "a reference handed out on failure");
		cr_assert_eq(store_topic_get(s, name, &t), -ENOENT);
	}
	char *after = tu_tree(tu_dir);
	cr_assert_str_eq(after, before, "files appeared:\n%s\nwere:\n%s", after,
			 before);
	cr_assert_eq(store_topic_names(s, &names, &n), 0);
	cr_assert_eq(n, 0, "%zu topics after refusals", n);
	store_names_free(names, n);
	free(before);
	free(after);
	free(n250);
	tu_close(s);
}

Test(names, create_accepts_good_names)
{
	cfg d;
	store *s;
	char *n249 = repeat('L', 249);
	size_t ngood = sizeof(good_names) / sizeof(*good_names);
	char **names = NULL;
	size_t n = 0;
	char path[PATH_MAX], buf[STORE_NAME_MAX + 1];

	tu_cfg_plain(&d, 0);
	s = tu_open(&d);
	for (size_t i = 0; i <= ngood; i++) {
		const char *name = i < ngood ? good_names[i] : n249;
		topic *t = tu_create(s, name);
		topic_name(t, buf);
		cr_assert_str_eq(buf, name);
		char line[300];
		int len = snprintf(line, sizeof(line), "%s\n", name);
		tu_append(t, line, (size_t)len, 0);
		topic_unref(t);
		tu_topic_path(path, name, NULL);
		cr_assert(tu_exists(path), "no directory %s", path);
	}
	for (int round = 0; round < 2; round++) {
		cr_assert_eq(store_topic_names(s, &names, &n), 0);
		cr_assert_eq(n, ngood + 1);
		for (size_t i = 0; i + 1 < n; i++)
			cr_assert_lt(strcmp(names[i], names[i + 1]), 0,
				     "names not in byte order: \"%s\", \"%s\"",
				     names[i], names[i + 1]);
		for (size_t i = 0; i <= ngood; i++) {
			const char *name = i < ngood ? good_names[i] : n249;
			topic *t = tu_get(s, name);
			tu_log l = { 0 };
			tu_log_add(&l, name, strlen(name));
			tu_assert_log(t, &l);
			tu_log_free(&l);
			topic_unref(t);
		}
		store_names_free(names, n);
		tu_close(s);
		s = tu_open(&d);
	}
	tu_close(s);
	free(n249);
}

Test(names, duplicate_create_is_eexist)
{
	cfg d;
	store *s;
	topic *t;
	tu_log l = { 0 };

	tu_cfg_plain(&d, 0);
	s = tu_open(&d);
	t = tu_create(s, "dup");
	tu_append(t, "one\n", 4, 0);
	tu_log_add(&l, "one", 3);
	topic_unref(t);
	t = NULL;
	cr_assert_eq(store_topic_create(s, "dup", 0755, 0, 0, &t), -EEXIST);
	cr_assert_null(t);
	tu_close(s);
	s = tu_open(&d);
	cr_assert_eq(store_topic_create(s, "dup", 0755, 0, 0, NULL), -EEXIST);
	t = tu_get(s, "dup");
	tu_assert_log(t, &l);
	topic_unref(t);
	tu_close(s);
	tu_log_free(&l);
}

/* ---- settings ---------------------------------------------------------- */

static const char *const key_names[CFG_NKEYS] = {
	[CFG_SEGMENT_BYTES] = "segment.bytes",
	[CFG_SEGMENT_MS] = "segment.ms",
	[CFG_RETENTION_MS] = "retention.ms",
	[CFG_RETENTION_BYTES] = "retention.bytes",
	[CFG_CLEANUP_POLICY] = "cleanup.policy",
	[CFG_KEY_SEPARATOR] = "key.separator",
	[CFG_MIN_CLEANABLE_DIRTY_RATIO] = "min.cleanable.dirty.ratio",
	[CFG_DELETE_RETENTION_MS] = "delete.retention.ms",
	[CFG_COMPRESSION_TYPE] = "compression.type",
	[CFG_COMPRESSION_LEVEL] = "compression.level",
	[CFG_MAX_MESSAGE_BYTES] = "max.message.bytes",
	[CFG_FLUSH_MS] = "flush.ms",
};

/* Compare the settings (not set_mask, whose meaning differs between a
** topic's effective settings and its overrides). */
static void assert_cfg_eq(const cfg *a, const cfg *b, const char *what)
{
	cr_assert_eq(a->segment_bytes, b->segment_bytes, "%s: segment.bytes %" PRId64
		     " vs %" PRId64, what, a->segment_bytes, b->segment_bytes);
	cr_assert_eq(a->segment_ms, b->segment_ms, "%s: segment.ms", what);
	cr_assert_eq(a->retention_ms, b->retention_ms, "%s: retention.ms %" PRId64
		     " vs %" PRId64, what, a->retention_ms, b->retention_ms);
	cr_assert_eq(a->retention_bytes, b->retention_bytes, "%s: retention.bytes %"
		     PRId64 " vs %" PRId64, what, a->retention_bytes, b->retention_bytes);
	cr_assert_eq(a->cleanup_policy, b->cleanup_policy, "%s: cleanup.policy",
		     what);
	cr_assert_eq(a->key_separator_len, b->key_separator_len,
		     "%s: key.separator length", what);
	cr_assert_eq(memcmp(a->key_separator, b->key_separator,
			    a->key_separator_len), 0, "%s: key.separator", what);
	cr_assert(a->min_cleanable_dirty_ratio == b->min_cleanable_dirty_ratio,
		  "%s: min.cleanable.dirty.ratio %g vs %g", what,
		  a->min_cleanable_dirty_ratio, b->min_cleanable_dirty_ratio);
	cr_assert_eq(a->delete_retention_ms, b->delete_retention_ms,
		     "%s: delete.retention.ms", what);
	cr_assert_eq(a->compression_type, b->compression_type,
		     "%s: compression.type", what);
	cr_assert_eq(a->compression_level, b->compression_level,
		     "%s: compression.level %d vs %d", what, a->compression_level,
		     b->compression_level);
	cr_assert_eq(a->max_message_bytes, b->max_message_bytes,
		     "%s: max.message.bytes", what);
	cr_assert_eq(a->flush_ms, b->flush_ms, "%s: flush.ms %" PRId64 " vs %" PRId64,
		     what, a->flush_ms, b->flush_ms);
}

Test(config, keys_and_defaults)
{
	cfg c;

	for (int k = 0; k < CFG_NKEYS; k++) {
		cr_assert_not_null(cfg_key_name(k));
		cr_assert_str_eq(cfg_key_name(k), key_names[k]);
		cr_assert_eq(cfg_key_find(key_names[k]), k, "cfg_key_find(%s)",
			     key_names[k]);
	}
	cr_assert_null(cfg_key_name(CFG_NKEYS));
	cr_assert_null(cfg_key_name(-1));
	cr_assert_eq(cfg_key_find("segment.byte"), -ENOENT);
	cr_assert_eq(cfg_key_find(""), -ENOENT);
	cr_assert_eq(cfg_key_find("user.segment.bytes"), -ENOENT);

	/* SPEC.md's table */
	memset(&c, 0x5a, sizeof(c));
	cfg_defaults(&c);
	cr_assert_eq(c.segment_bytes, 67108864);
	cr_assert_eq(c.segment_ms, 604800000);
	cr_assert_eq(c.retention_ms, 604800000);
	cr_assert_eq(c.retention_bytes, -1);
	cr_assert_eq(c.cleanup_policy, CFG_CLEANUP_DELETE);
	cr_assert_eq(c.key_separator_len, 0);
	cr_assert(c.min_cleanable_dirty_ratio == 0.5);
	cr_assert_eq(c.delete_retention_ms, 86400000);
	cr_assert_eq(c.compression_type, CFG_COMPRESSION_ZSTD);
	cr_assert_eq(c.compression_level, 6);
	cr_assert_eq(c.max_message_bytes, 1048576);
	cr_assert_eq(c.flush_ms, 1000);
	cr_assert_eq(c.set_mask, 0);
}

typedef struct kv {
	int k;
	const char *v;
} kv;

/* Values every careful parser refuses. */
static const kv bad_values[] = {
	{ CFG_SEGMENT_BYTES, "" },
	{ CFG_SEGMENT_BYTES, "abc" },
	{ CFG_SEGMENT_BYTES, "1e3" },
	{ CFG_SEGMENT_BYTES, "12abc" },
	{ CFG_SEGMENT_BYTES, "-1" },
	{ CFG_SEGMENT_BYTES, "0" },
	{ CFG_SEGMENT_BYTES, "99999999999999999999" },
	{ CFG_SEGMENT_BYTES, "1048576 " },
	{ CFG_SEGMENT_BYTES, " 1048576" },
	{ CFG_SEGMENT_BYTES, "0x100000" },
	{ CFG_SEGMENT_BYTES, "1.5" },
	{ CFG_SEGMENT_BYTES, "--5" },
	{ CFG_FLUSH_MS, "-0" },		 /* a '-' only in -1 */
	{ CFG_RETENTION_MS, "-0" },
	{ CFG_RETENTION_BYTES, "-01" },
	{ CFG_SEGMENT_MS, "-1" },
	{ CFG_SEGMENT_MS, "" },
	{ CFG_SEGMENT_MS, "ten" },
	{ CFG_SEGMENT_MS, "99999999999999999999" },
	{ CFG_RETENTION_MS, "-2" },
	{ CFG_RETENTION_MS, "12abc" },
	{ CFG_RETENTION_MS, "1e3" },
	{ CFG_RETENTION_MS, "" },
	{ CFG_RETENTION_MS, "99999999999999999999" },
	{ CFG_RETENTION_MS, "-99999999999999999999" },
	{ CFG_RETENTION_BYTES, "-2" },
	{ CFG_RETENTION_BYTES, "x" },
	{ CFG_RETENTION_BYTES, "99999999999999999999" },
	{ CFG_CLEANUP_POLICY, "" },
	{ CFG_CLEANUP_POLICY, "foo" },
	{ CFG_CLEANUP_POLICY, "deletee" },
	{ CFG_CLEANUP_POLICY, "compact,foo" },
	{ CFG_CLEANUP_POLICY, "compact," },
	{ CFG_CLEANUP_POLICY, "," },
	{ CFG_KEY_SEPARATOR, "a\nb" },
	{ CFG_KEY_SEPARATOR, "\n" },
	{ CFG_MIN_CLEANABLE_DIRTY_RATIO, "" },
	{ CFG_MIN_CLEANABLE_DIRTY_RATIO, "abc" },
	{ CFG_MIN_CLEANABLE_DIRTY_RATIO, "1.5" },
	{ CFG_MIN_CLEANABLE_DIRTY_RATIO, "-0.1" },
	{ CFG_MIN_CLEANABLE_DIRTY_RATIO, "nan" },
	{ CFG_MIN_CLEANABLE_DIRTY_RATIO, "0.5x" },
	{ CFG_DELETE_RETENTION_MS, "-1" },
	{ CFG_DELETE_RETENTION_MS, "1e3" },
	{ CFG_COMPRESSION_TYPE, "" },
	{ CFG_COMPRESSION_TYPE, "gzip" },
	{ CFG_COMPRESSION_TYPE, "lz4" },
	{ CFG_COMPRESSION_TYPE, "zstdx" },
	{ CFG_COMPRESSION_LEVEL, "" },
	{ CFG_COMPRESSION_LEVEL, "abc" },
	{ CFG_COMPRESSION_LEVEL, "23" },
	{ CFG_COMPRESSION_LEVEL, "1000" },
	{ CFG_COMPRESSION_LEVEL, "99999999999999999999" },
	{ CFG_MAX_MESSAGE_BYTES, "-1" },
	{ CFG_MAX_MESSAGE_BYTES, "12abc" },
	{ CFG_MAX_MESSAGE_BYTES, "99999999999999999999" },
	{ CFG_FLUSH_MS, "-1" },
	{ CFG_FLUSH_MS, "" },
	{ CFG_FLUSH_MS, "1e3" },
};

Test(config, bad_values_change_nothing)
{
	cfg d, before, after, c, c0;
	store *s;
	topic *t;
	char sep65[66];

	tu_cfg_plain(&d, 0);
	s = tu_open(&d);
	t = tu_create(s, "conf");
	/* something set already, so that "unchanged" means more than defaults */
	cr_assert_eq(topic_config_set(t, CFG_SEGMENT_BYTES, "123456", 6), 0);
	cr_assert_eq(topic_config_set(t, CFG_KEY_SEPARATOR, "::", 2), 0);
	topic_config(t, &before);
	cr_assert_eq(before.segment_bytes, 123456);

	for (size_t i = 0; i < sizeof(bad_values) / sizeof(*bad_values); i++) {
		const kv *e = &bad_values[i];
		char what[160];
		int rc = topic_config_set(t, e->k, e->v, strlen(e->v));
		snprintf(what, sizeof(what), "%s=\"%s\"", cfg_key_name(e->k), e->v);
		cr_assert_eq(rc, -EINVAL, "topic_config_set(%s) = %d, want -EINVAL",
			     what, rc);
		topic_config(t, &after);
		assert_cfg_eq(&after, &before, what);

		/* cfg_set too, and it leaves the cfg as it was */
		cfg_defaults(&c);
		c0 = c;
		rc = cfg_set(&c, e->k, e->v, strlen(e->v));
		cr_assert_eq(rc, -EINVAL, "cfg_set(%s) = %d", what, rc);
		assert_cfg_eq(&c, &c0, what);
		cr_assert_eq(c.set_mask, 0, "%s: set_mask changed", what);
	}
	/* a separator longer than CFG_KEY_SEPARATOR_MAX; a NUL in one; a
	 * value longer than its length says is cut at value_len */
	memset(sep65, '#', sizeof(sep65));
	cr_assert_eq(topic_config_set(t, CFG_KEY_SEPARATOR, sep65,
				      CFG_KEY_SEPARATOR_MAX + 1), -EINVAL);
	cr_assert_eq(topic_config_set(t, CFG_KEY_SEPARATOR, "a\0b", 3), -EINVAL);
	cr_assert_eq(topic_config_set(t, CFG_SEGMENT_BYTES, "12345x", 5), 0,
		     "value_len bytes only are the value");
	topic_config(t, &after);
	cr_assert_eq(after.segment_bytes, 12345);
	cr_assert_eq(topic_config_set(t, CFG_SEGMENT_BYTES, "123456", 6), 0);

	/* unknown keys */
	cr_assert_eq(topic_config_set(t, CFG_NKEYS, "1", 1), -ENOENT);
	cr_assert_eq(topic_config_set(t, -1, "1", 1), -ENOENT);
	cr_assert_eq(cfg_set(&c, CFG_NKEYS, "1", 1), -ENOENT);
	topic_config(t, &after);
	assert_cfg_eq(&after, &before, "after unknown keys");

	/* and nothing of it reached the disk */
	topic_unref(t);
	tu_close(s);
	s = tu_open(&d);
	t = tu_get(s, "conf");
	topic_config(t, &after);
	assert_cfg_eq(&after, &before, "after a reopen");
	topic_unref(t);
	tu_close(s);
}

static const kv good_values[] = {
	{ CFG_SEGMENT_BYTES, "1048576" },
	{ CFG_SEGMENT_MS, "60000" },
	{ CFG_RETENTION_MS, "-1" },
	{ CFG_RETENTION_BYTES, "1000000" },
	{ CFG_CLEANUP_POLICY, "compact,delete" },
	{ CFG_KEY_SEPARATOR, " => " },
	{ CFG_MIN_CLEANABLE_DIRTY_RATIO, "0.25" },
	{ CFG_DELETE_RETENTION_MS, "1000" },
	{ CFG_COMPRESSION_TYPE, "none" },
	{ CFG_COMPRESSION_LEVEL, "3" },
	{ CFG_MAX_MESSAGE_BYTES, "2048" },
	{ CFG_FLUSH_MS, "500" },
};

static void assert_good_applied(const cfg *c, const char *what)
{
	cr_assert_eq(c->segment_bytes, 1048576, "%s", what);
	cr_assert_eq(c->segment_ms, 60000, "%s", what);
	cr_assert_eq(c->retention_ms, -1, "%s", what);
	cr_assert_eq(c->retention_bytes, 1000000, "%s", what);
	cr_assert_eq(c->cleanup_policy, CFG_CLEANUP_COMPACT | CFG_CLEANUP_DELETE,
		     "%s", what);
	cr_assert_eq(c->key_separator_len, 4, "%s", what);
	cr_assert_eq(memcmp(c->key_separator, " => ", 4), 0, "%s", what);
	cr_assert(c->min_cleanable_dirty_ratio == 0.25, "%s", what);
	cr_assert_eq(c->delete_retention_ms, 1000, "%s", what);
	cr_assert_eq(c->compression_type, CFG_COMPRESSION_NONE, "%s", what);
	cr_assert_eq(c->compression_level, 3, "%s", what);
	cr_assert_eq(c->max_message_bytes, 2048, "%s", what);
	cr_assert_eq(c->flush_ms, 500, "%s", what);
}

Test(config, good_values_apply_and_persist)
{
	cfg d, c, other;
	store *s;
	topic *t;

	cfg_defaults(&d);
	s = tu_open(&d);
	t = tu_create(s, "conf");
	topic_unref(tu_create(s, "untouched"));
	for (size_t i = 0; i < sizeof(good_values) / sizeof(*good_values); i++) {
		const kv *e = &good_values[i];
		int rc = topic_config_set(t, e->k, e->v, strlen(e->v));
		cr_assert_eq(rc, 0, "topic_config_set(%s=\"%s\") = %d",
			     cfg_key_name(e->k), e->v, rc);
	}
	topic_config(t, &c);
	assert_good_applied(&c, "after topic_config_set");
	topic_unref(t);
	/* the other topic keeps the defaults */
	t = tu_get(s, "untouched");
	topic_config(t, &other);
	assert_cfg_eq(&other, &d, "another topic");
	topic_unref(t);
	tu_close(s);

	s = tu_open(&d);
	t = tu_get(s, "conf");
	topic_config(t, &c);
	assert_good_applied(&c, "after a reopen");
	topic_unref(t);
	tu_close(s);

	/* other values, which are legal too */
	s = tu_open(&d);
	t = tu_get(s, "conf");
	cr_assert_eq(topic_config_set(t, CFG_CLEANUP_POLICY, "compact", 7), 0);
	cr_assert_eq(topic_config_set(t, CFG_RETENTION_BYTES, "-1", 2), 0);
	cr_assert_eq(topic_config_set(t, CFG_MIN_CLEANABLE_DIRTY_RATIO, "1", 1), 0);
	cr_assert_eq(topic_config_set(t, CFG_COMPRESSION_TYPE, "zstd", 4), 0);
	cr_assert_eq(topic_config_set(t, CFG_SEGMENT_BYTES, "16384", 5), 0);
	topic_config(t, &c);
	cr_assert_eq(c.cleanup_policy, CFG_CLEANUP_COMPACT);
	cr_assert_eq(c.retention_bytes, -1);
	cr_assert(c.min_cleanable_dirty_ratio == 1.0);
	cr_assert_eq(c.compression_type, CFG_COMPRESSION_ZSTD);
	cr_assert_eq(c.segment_bytes, 16384);
	cr_assert_eq(c.flush_ms, 500, "untouched keys keep their values");
	topic_unref(t);
	tu_close(s);
	s = tu_open(&d);
	t = tu_get(s, "conf");
	topic_config(t, &other);
	assert_cfg_eq(&other, &c, "second reopen");
	topic_unref(t);
	tu_close(s);
}

/* Only a topic's own settings are stored: a new mount-wide default reaches
** the keys it did not set. */
Test(config, defaults_reach_keys_not_set)
{
	cfg d1, d2, c;
	store *s;
	topic *t;

	cfg_defaults(&d1);
	tu_cfg_set(&d1, CFG_RETENTION_MS, "1000");
	tu_cfg_set(&d1, CFG_FLUSH_MS, "250");
	s = tu_open(&d1);
	t = tu_create(s, "inherit");
	topic_config(t, &c);
	cr_assert_eq(c.retention_ms, 1000, "mount-wide default not applied");
	cr_assert_eq(c.flush_ms, 250);
	cr_assert_eq(topic_config_set(t, CFG_FLUSH_MS, "750", 3), 0);
	topic_unref(t);
	tu_close(s);

	cfg_defaults(&d2);
	tu_cfg_set(&d2, CFG_RETENTION_MS, "2000");
	tu_cfg_set(&d2, CFG_FLUSH_MS, "300");
	s = tu_open(&d2);
	t = tu_get(s, "inherit");
	topic_config(t, &c);
	cr_assert_eq(c.retention_ms, 2000, "the new default did not reach the topic");
	cr_assert_eq(c.flush_ms, 750, "the topic's own value was lost");
	topic_unref(t);
	tu_close(s);
}

Test(config, format_and_parse_round_trip)
{
	cfg c, out, untouched;
	char *buf = malloc(cfg_format_max());
	char v[CFG_VALUE_MAX];

	cfg_defaults(&c);
	for (size_t i = 0; i < sizeof(good_values) / sizeof(*good_values); i++) {
		if (i % 2)
			continue;
		tu_cfg_set(&c, good_values[i].k, good_values[i].v);
	}
	size_t n = cfg_format(&c, buf);
	cr_assert_gt(n, 0);
	cr_assert_leq(n, cfg_format_max());
	cr_assert_eq(cfg_parse(buf, n, &out, NULL, NULL), 0, "cfg_parse of "
		     "cfg_format's output:\n%.*s", (int)n, buf);
	assert_cfg_eq(&out, &c, "format/parse");
	cr_assert_eq(out.set_mask, c.set_mask);

	/* rendered values parse back to the same setting */
	for (int k = 0; k < CFG_NKEYS; k++) {
		cfg back;
		int len = cfg_get(&c, k, v, sizeof(v));
		cr_assert_geq(len, 0, "cfg_get(%s) = %d", cfg_key_name(k), len);
		cr_assert_eq((size_t)len, strlen(v));
		cfg_defaults(&back);
		if (k == CFG_KEY_SEPARATOR && len == 0)
			continue;
		cr_assert_eq(cfg_set(&back, k, v, (size_t)len), 0,
			     "%s: cfg_set of cfg_get's \"%s\"", cfg_key_name(k), v);
		char v2[CFG_VALUE_MAX];
		cfg_get(&back, k, v2, sizeof(v2));
		cr_assert_str_eq(v2, v);
	}
	cr_assert_eq(cfg_get(&c, CFG_NKEYS, v, sizeof(v)), -ENOENT);

	/* a bad line refuses the whole text and leaves out untouched */
	static const char bad[] = "segment.ms=60000\nsegment.bytes=abc\n";
	untouched = out;
	cr_assert_eq(cfg_parse(bad, sizeof(bad) - 1, &out, NULL, NULL), -EINVAL);
	assert_cfg_eq(&out, &untouched, "failed cfg_parse");
	free(buf);
}

/* ---- the store --------------------------------------------------------- */

Test(store, delete_topic)
{
	cfg d;
	store *s;
	topic *t;
	tu_rng r;
	tu_log l = { 0 };
	char path[PATH_MAX];
	char **names;
	size_t n;

	tu_cfg_plain(&d, 4096);
	tu_rng_seed(&r, 5);
	s = tu_open(&d);
	t = tu_create(s, "doomed");
	tu_append_random(t, &r, &l, 300, 10, 100);
	topic_unref(t);
	topic_unref(tu_create(s, "stays"));
	tu_topic_path(path, "doomed", NULL);
	cr_assert(tu_exists(path));

	cr_assert_eq(store_topic_delete(s, "doomed"), 0);
	cr_assert_eq(store_topic_get(s, "doomed", &t), -ENOENT);
	cr_assert_not(tu_exists(path), "%s still there", path);
	cr_assert_eq(store_topic_delete(s, "doomed"), -ENOENT);
	cr_assert_eq(store_topic_delete(s, "never"), -ENOENT);
	cr_assert_eq(store_topic_names(s, &names, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(names[0], "stays");
	store_names_free(names, n);

	/* the name is free again, for an empty topic */
	t = tu_create(s, "doomed");
	topic_info info;
	topic_get_info(t, &info);
	cr_assert_eq(info.end_offset, 0, "a re-created topic has old records");
	cr_assert_eq(info.end_bytepos, 0);
	topic_unref(t);
	cr_assert_eq(store_topic_delete(s, "doomed"), 0);
	tu_close(s);

	s = tu_open(&d);
	cr_assert_eq(store_topic_get(s, "doomed", &t), -ENOENT, "back after a reopen");
	cr_assert_not(tu_exists(path));
	tu_close(s);
	tu_log_free(&l);
}

Test(store, delete_while_referenced)
{
	cfg d;
	store *s;
	topic *t;
	tu_rng r;
	tu_log l = { 0 };
	cursor *c = NULL;
	tu_buf got = { 0 };

	tu_cfg_plain(&d, 4096);
	tu_rng_seed(&r, 6);
	s = tu_open(&d);
	t = tu_create(s, "held");
	tu_append_random(t, &r, &l, 500, 10, 100);
	cr_assert_eq(cur_open(t, 0, &c), 0);
	char first[10];
	ssize_t k = cur_read(c, first, sizeof(first));
	cr_assert_gt(k, 0);

	cr_assert_eq(store_topic_delete(s, "held"), 0);
	/* reads through the reference keep working, to the end */
	tu_buf_add(&got, first, (size_t)k);
	int drained = tu_cur_drain(c, 777, &got);
	cr_assert_eq(drained, 0, "cur_read after delete = %d", drained);
	tu_assert_bytes("read after delete", got.p, got.len, l.bytes.p, l.bytes.len);
	cur_close(c);
	uint64_t f = 1234;
	struct iovec iov = { "late\n", 5 };
	cr_assert_eq(topic_append(t, &iov, 1, &f), -ENOENT,
		     "append to a deleted topic");
	cr_assert_eq(f, 1234);
	topic_unref(t);
	cr_assert_eq(store_topic_get(s, "held", &t), -ENOENT);
	tu_close(s);
	tu_buf_free(&got);
	tu_log_free(&l);
}

Test(store, rename_topic)
{
	cfg d;
	store *s;
	topic *t, *old;
	tu_rng r;
	tu_log l = { 0 }, lb = { 0 };
	char path[PATH_MAX], buf[STORE_NAME_MAX + 1];

	tu_cfg_plain(&d, 4096);
	tu_rng_seed(&r, 8);
	s = tu_open(&d);
	old = tu_create(s, "from");
	tu_append_random(old, &r, &l, 400, 10, 100);
	cr_assert_eq(topic_config_set(old, CFG_FLUSH_MS, "777", 3), 0);
	t = tu_create(s, "other");
	tu_append(t, "other\n", 6, 0);
	tu_log_add(&lb, "other", 5);
	topic_unref(t);

	cr_assert_eq(store_topic_rename(s, "from", "to"), 0);
	cr_assert_eq(store_topic_get(s, "from", &t), -ENOENT);
	tu_topic_path(path, "from", NULL);
	cr_assert_not(tu_exists(path));
	tu_topic_path(path, "to", NULL);
	cr_assert(tu_exists(path));
	topic_name(old, buf);
	cr_assert_str_eq(buf, "to", "a held reference follows the rename");
	t = tu_get(s, "to");
	tu_assert_log(t, &l);
	cfg c;
	topic_config(t, &c);
	cr_assert_eq(c.flush_ms, 777, "settings follow the rename");
	/* appends through the old reference land in the renamed topic */
	tu_append(old, "via old\n", 8, l.n);
	tu_log_add(&l, "via old", 7);
	tu_assert_log(t, &l);
	topic_unref(t);
	topic_unref(old);

	/* refusals change nothing */
	cr_assert_eq(store_topic_rename(s, "from", "x"), -ENOENT);
	cr_assert_eq(store_topic_rename(s, "to", "other"), -EEXIST);
	cr_assert_eq(store_topic_rename(s, "to", "bad/name"), -EINVAL);
	cr_assert_eq(store_topic_rename(s, "to", ".."), -EINVAL);
	cr_assert_eq(store_topic_rename(s, "to", ""), -EINVAL);
	t = tu_get(s, "to");
	tu_assert_log(t, &l);
	topic_unref(t);
	t = tu_get(s, "other");
	tu_assert_log(t, &lb);
	topic_unref(t);
	tu_close(s);

	s = tu_open(&d);
	cr_assert_eq(store_topic_get(s, "from", &t), -ENOENT);
	t = tu_get(s, "to");
	tu_assert_log(t, &l);
	topic_config(t, &c);
	cr_assert_eq(c.flush_ms, 777);
	topic_unref(t);
	/* and it can be renamed back */
	cr_assert_eq(store_topic_rename(s, "to", "from"), 0);
	t = tu_get(s, "from");
	tu_assert_log(t, &l);
	topic_unref(t);
	tu_close(s);
	tu_log_free(&l);
	tu_log_free(&lb);
}

Test(store, owner_and_mode_kept)
{
	cfg d;
	store *s;
	topic *t;
	topic_info info;

	tu_cfg_plain(&d, 0);
	s = tu_open(&d);
	cr_assert_eq(store_topic_create(s, "own", 0750, 1234, 5678, &t), 0);
	topic_get_info(t, &info);
	cr_assert_eq(info.mode & 07777, 0750, "mode %o", info.mode);
	cr_assert_eq(info.uid, 1234);
	cr_assert_eq(info.gid, 5678);
	cr_assert_eq(topic_set_owner(t, 0701, (uid_t)-1, (gid_t)-1), 0);
	cr_assert_eq(topic_set_owner(t, (mode_t)-1, (uid_t)-1, 4321), 0);
	topic_get_info(t, &info);
	cr_assert_eq(info.mode & 07777, 0701, "mode %o", info.mode);
	cr_assert_eq(info.uid, 1234);
	cr_assert_eq(info.gid, 4321);
	topic_unref(t);
	tu_close(s);
	s = tu_open(&d);
	t = tu_get(s, "own");
	topic_get_info(t, &info);
	cr_assert_eq(info.mode & 07777, 0701, "mode %o after a reopen", info.mode);
	cr_assert_eq(info.uid, 1234);
	cr_assert_eq(info.gid, 4321);
	topic_unref(t);
	tu_close(s);
}

Test(store, second_open_is_ebusy)
{
	cfg d;
	store *s, *s2 = NULL;
	pid_t pid;
	int status;

	tu_cfg_plain(&d, 0);
	s = tu_open(&d);
	cr_assert_eq(store_open(tu_data, &d, &s2), -EBUSY, "a second store_open "
		     "in the same process");
	cr_assert_null(s2);

	/* from another process too */
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		store *s3 = NULL;
		int rc = store_open(tu_data, &d, &s3);
		_exit(rc == -EBUSY ? 0 : rc == 0 ? 1 : 2);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "store_open in another process: exit %d (1: it succeeded, 2: "
		  "another error)", WEXITSTATUS(status));

	/* the first store still works, and the lock goes with it */
	topic *t = tu_create(s, "alive");
	tu_append(t, "x\n", 2, 0);
	topic_unref(t);
	tu_close(s);
	s = tu_open(&d);
	t = tu_get(s, "alive");
	topic_unref(t);
	tu_close(s);
}

/* Values from requests reach the log as one printable line, cut to fit. */
Test(config, values_are_logged_printable_and_cut_to_fit)
{
	char out[16], rule[96];

	cr_assert_str_eq(log_printable("a\\b\n\0c", 6, out, sizeof out), "a\\x5cb\\x0a\\x00c");
	cr_assert_str_eq(log_printable("0123456789abcdefgh", 18, out, sizeof out),
			 "0123456789ab...");
	cr_assert_str_eq(log_printable("0123456789abc\n", 14, out, sizeof out), "0123456789ab...");
	cr_assert_str_eq(log_printable("", 0, out, sizeof out), "");
	cr_assert_str_eq(cfg_rule(cfg_key_find("retention.ms"), rule, sizeof rule),
			 "-1 or a decimal integer from 0 to 9223372036854775807");
	cr_assert_str_eq(cfg_rule(cfg_key_find("compression.level"), rule, sizeof rule),
			 "a decimal integer from 1 to 22");
	for (int k = 0; k < CFG_NKEYS; k++)
		cr_expect(strlen(cfg_rule(k, rule, sizeof rule)) > 0, "no rule for %s",
			  cfg_key_name(k));
}

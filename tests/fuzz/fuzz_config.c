/*
** fuzz_config.c: libFuzzer target for the settings parser (core/config.c).
**
** For every key, cfg_set() of the input's bytes either fails with -EINVAL
** and leaves the cfg exactly as it was, or succeeds; then the value that
** cfg_get() renders (what topic.conf stores and getfattr shows) must be
** accepted by cfg_set() again and render to itself, and the cfg must
** survive cfg_format() -> cfg_parse() unchanged. The same for cfg_parse()
** of the whole input as a topic.conf text.
**
** Build and run: `make fuzz` (see the Makefile).
*/
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...)                                              \
	do {                                                          \
		if (!(cond)) {                                        \
			fprintf(stderr, "fuzz_config: " __VA_ARGS__); \
			fprintf(stderr, "\n");                        \
			abort();                                      \
		}                                                     \
	} while (0)

/* Lines of topic.conf that are not settings (topic.c's metadata). */
static int other(const char *name, const char *value, size_t len, void *arg)
{
	(void)value;
	(void)len;
	(void)arg;
	return strcmp(name, "mode") == 0 || strcmp(name, "uid") == 0 ? 0 : -EINVAL;
}

/* cfg_format(c) parses back into a cfg that formats the same. */
static void round_trip(const cfg *c, const char *what)
{
	size_t max = cfg_format_max();
	char *a = malloc(max), *b = malloc(max);
	size_t la, lb;
	cfg back;
	int rc;

	la = cfg_format(c, a);
	CHECK(la <= max, "%s: cfg_format overflowed", what);
	rc = cfg_parse(a, la, &back, NULL, NULL);
	CHECK(rc == 0, "%s: cfg_parse refused what cfg_format wrote: \"%.*s\"", what, (int)la, a);
	lb = cfg_format(&back, b);
	CHECK(la == lb && memcmp(a, b, la) == 0, "%s: format/parse/format changed \"%.*s\" to \"%.*s\"",
	      what, (int)la, a, (int)lb, b);
	CHECK(back.set_mask == c->set_mask, "%s: the set keys changed", what);
	free(a);
	free(b);
}

static void each_key(const char *v, size_t n)
{
	for (int k = 0; k < CFG_NKEYS; k++) {
		cfg c, snap, d;
		char r[CFG_VALUE_MAX], r2[CFG_VALUE_MAX];
		int rc, m, m2;

		cfg_defaults(&c);
		memcpy(&snap, &c, sizeof c);
		rc = cfg_set(&c, k, v, n);
		if (rc != 0) {
			CHECK(rc == -EINVAL, "cfg_set(%s) returned %d", cfg_key_name(k), rc);
			CHECK(memcmp(&c, &snap, sizeof c) == 0, "a refused %s changed the cfg",
			      cfg_key_name(k));
			continue;
		}
		CHECK(c.set_mask == 1u << k, "cfg_set(%s) set mask %x", cfg_key_name(k), c.set_mask);
		m = cfg_get(&c, k, r, sizeof r);
		CHECK(m >= 0 && m < CFG_VALUE_MAX, "cfg_get(%s) returned %d", cfg_key_name(k), m);
		cfg_defaults(&d);
		rc = cfg_set(&d, k, r, (size_t)m);
		CHECK(rc == 0,
		      "%s=\"%.*s\" is accepted but renders as \"%s\", which cfg_set refuses (%d): "
		      "topic.conf would hold a value the next mount can't read",
		      cfg_key_name(k), (int)(n > 40 ? 40 : n), v, r, rc);
		m2 = cfg_get(&d, k, r2, sizeof r2);
		CHECK(m2 == m && memcmp(r, r2, (size_t)m) == 0,
		      "%s: \"%s\" renders as \"%s\" once set again", cfg_key_name(k), r, r2);
		round_trip(&c, cfg_key_name(k));
		{
			cfg merged, defaults;

			cfg_defaults(&defaults);
			cfg_merge(&defaults, &c, &merged);
			m2 = cfg_get(&merged, k, r2, sizeof r2);
			CHECK(m2 == m && memcmp(r, r2, (size_t)m) == 0, "%s: merged as \"%s\", set as \"%s\"",
			      cfg_key_name(k), r2, r);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cfg out, snap;
	int rc;

	if (size <= 256)
		each_key((const char *)data, size);
	memset(&out, 0xa5, sizeof out);
	memcpy(&snap, &out, sizeof out);
	rc = cfg_parse((const char *)data, size, &out, other, NULL);
	if (rc != 0) {
		CHECK(rc == -EINVAL, "cfg_parse returned %d", rc);
		CHECK(memcmp(&out, &snap, sizeof out) == 0, "a refused cfg_parse changed its output");
	} else {
		round_trip(&out, "cfg_parse of the input");
	}
	return 0;
}

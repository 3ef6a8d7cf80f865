/*
** config.c: the settings table, strict parsing and the text form.
**
** Parsing is strict on purpose: a value is a plain decimal number (or
** exactly "-1" for the settings that take it), or one of a few words. No
** whitespace, '+', exponent, hex or trailing bytes; overflow is an error.
** A value that is not accepted changes nothing.
*/
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

enum cfg_type { T_INT, T_RATIO, T_POLICY, T_SEPARATOR, T_COMPRESSION };

struct cfg_def {
	const char *name;
	enum cfg_type type;
	int64_t min, max; /* T_INT: accepted range, plus -1 when allow_minus1 */
	int allow_minus1;
	const char *dflt; /* SPEC.md's default, in text form */
};

static const struct cfg_def defs[CFG_NKEYS] = {
	[CFG_SEGMENT_BYTES] = {"segment.bytes", T_INT, 1, INT32_MAX, 0, "67108864"},
	[CFG_SEGMENT_MS] = {"segment.ms", T_INT, 1, INT64_MAX, 0, "604800000"},
	[CFG_RETENTION_MS] = {"retention.ms", T_INT, 0, INT64_MAX, 1, "604800000"},
	[CFG_RETENTION_BYTES] = {"retention.bytes", T_INT, 0, INT64_MAX, 1, "-1"},
	[CFG_CLEANUP_POLICY] = {"cleanup.policy", T_POLICY, 0, 0, 0, "delete"},
	[CFG_KEY_SEPARATOR] = {"key.separator", T_SEPARATOR, 0, 0, 0, ""},
	[CFG_MIN_CLEANABLE_DIRTY_RATIO] = {"min.cleanable.dirty.ratio", T_RATIO, 0, 0, 0, "0.5"},
	[CFG_DELETE_RETENTION_MS] = {"delete.retention.ms", T_INT, 0, INT64_MAX, 0, "86400000"},
	[CFG_COMPRESSION_TYPE] = {"compression.type", T_COMPRESSION, 0, 0, 0, "zstd"},
	[CFG_COMPRESSION_LEVEL] = {"compression.level", T_INT, 1, 22, 0, "6"},
	[CFG_MAX_MESSAGE_BYTES] = {"max.message.bytes", T_INT, 1, 64 << 20, 0, "1048576"},
	[CFG_FLUSH_MS] = {"flush.ms", T_INT, 0, INT64_MAX, 0, "1000"},
};

const char *cfg_key_name(int k)
{
	return k >= 0 && k < CFG_NKEYS ? defs[k].name : NULL;
}

int cfg_key_find(const char *name)
{
	for (int k = 0; k < CFG_NKEYS; k++)
		if (!strcmp(defs[k].name, name))
			return k;
	return -ENOENT;
}

static int eq(const char *v, size_t n, const char *word)
{
	return strlen(word) == n && !memcmp(v, word, n);
}

/* A strict decimal integer, optionally negative. */
static int parse_int(const char *v, size_t n, int64_t *out)
{
	size_t i = 0;
	int neg = 0;
	uint64_t acc = 0, limit;

	if (n > 0 && v[0] == '-') {
		neg = 1;
		i = 1;
	}
	if (i == n)
		return -EINVAL;
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -EINVAL;
		unsigned d = (unsigned)(v[i] - '0');
		if (acc > (limit - d) / 10)
			return -EINVAL;
		acc = acc * 10 + d;
	}
	*out = neg ? (int64_t)(0 - acc) : (int64_t)acc;
	return 0;
}

int cfg_parse_u64(const char *v, size_t n, unsigned base, uint64_t *out)
{
	uint64_t acc = 0;

	if (n == 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] >= '0' + (int)base)
			return -EINVAL;
		unsigned d = (unsigned)(v[i] - '0');
		if (acc > (UINT64_MAX - d) / base)
			return -EINVAL;
		acc = acc * base + d;
	}
	*out = acc;
	return 0;
}

/* A ratio in [0, 1]: digits, optionally '.' and digits ("0.5", "1", "0.25"). */
static int parse_ratio(const char *v, size_t n, double *out)
{
	double val = 0, scale = 1;
	size_t i = 0;
	int digits = 0, dot = 0;

	for (; i < n; i++) {
		if (v[i] == '.' && !dot) {
			dot = 1;
			continue;
		}
		if (v[i] < '0' || v[i] > '9' || digits > 18)
			return -EINVAL;
		digits++;
		if (dot) {
			scale /= 10;
			val += (v[i] - '0') * scale;
		} else {
			val = val * 10 + (v[i] - '0');
		}
	}
	if (!digits || (n > 0 && v[n - 1] == '.') || val > 1.0)
		return -EINVAL;
	*out = val;
	return 0;
}

int cfg_set(cfg *c, int k, const char *v, size_t n)
{
	const struct cfg_def *d;
	int64_t iv;
	double dv;

	if (k < 0 || k >= CFG_NKEYS)
		return -ENOENT;
	d = &defs[k];
	switch (d->type) {
	case T_INT:
		/* A '-' only in "-1", and only where -1 means something. */
		if (n > 0 && v[0] == '-' && !(d->allow_minus1 && eq(v, n, "-1")))
			return -EINVAL;
		if (parse_int(v, n, &iv) < 0)
			return -EINVAL;
		if (!(iv == -1 && d->allow_minus1) && (iv < d->min || iv > d->max))
			return -EINVAL;
		switch (k) {
		case CFG_SEGMENT_BYTES: c->segment_bytes = iv; break;
		case CFG_SEGMENT_MS: c->segment_ms = iv; break;
		case CFG_RETENTION_MS: c->retention_ms = iv; break;
		case CFG_RETENTION_BYTES: c->retention_bytes = iv; break;
		case CFG_DELETE_RETENTION_MS: c->delete_retention_ms = iv; break;
		case CFG_COMPRESSION_LEVEL: c->compression_level = (int)iv; break;
		case CFG_MAX_MESSAGE_BYTES: c->max_message_bytes = iv; break;
		case CFG_FLUSH_MS: c->flush_ms = iv; break;
		}
		break;
	case T_RATIO:
		if (parse_ratio(v, n, &dv) < 0)
			return -EINVAL;
		c->min_cleanable_dirty_ratio = dv;
		break;
	case T_POLICY:
		if (eq(v, n, "delete"))
			c->cleanup_policy = CFG_CLEANUP_DELETE;
		else if (eq(v, n, "compact"))
			c->cleanup_policy = CFG_CLEANUP_COMPACT;
		else if (eq(v, n, "compact,delete") || eq(v, n, "delete,compact"))
			c->cleanup_policy = CFG_CLEANUP_COMPACT | CFG_CLEANUP_DELETE;
		else
			return -EINVAL;
		break;
	case T_SEPARATOR:
		if (n > CFG_KEY_SEPARATOR_MAX || memchr(v, '\n', n) || memchr(v, '\0', n))
			return -EINVAL;
		memcpy(c->key_separator, v, n);
		c->key_separator_len = n;
		break;
	case T_COMPRESSION:
		if (eq(v, n, "zstd"))
			c->compression_type = CFG_COMPRESSION_ZSTD;
		else if (eq(v, n, "none"))
			c->compression_type = CFG_COMPRESSION_NONE;
		else
			return -EINVAL;
		break;
	}
	c->set_mask |= 1u << k;
	return 0;
}

const char *cfg_rule(int k, char *buf, size_t buflen)
{
	const struct cfg_def *d = k >= 0 && k < CFG_NKEYS ? &defs[k] : NULL;

	if (!d)
		snprintf(buf, buflen, "nothing (no such setting)");
	else if (d->type == T_INT)
		snprintf(buf, buflen, "%sa decimal integer from %" PRId64 " to %" PRId64,
			 d->allow_minus1 ? "-1 or " : "", d->min, d->max);
	else if (d->type == T_RATIO)
		snprintf(buf, buflen, "a decimal from 0 to 1 (at most 19 digits)");
	else if (d->type == T_POLICY)
		snprintf(buf, buflen, "delete, compact or compact,delete");
	else if (d->type == T_SEPARATOR)
		snprintf(buf, buflen, "at most %d bytes, no newline or NUL",
			 CFG_KEY_SEPARATOR_MAX);
	else
		snprintf(buf, buflen, "zstd or none");
	return buf;
}

void cfg_defaults(cfg *c)
{
	memset(c, 0, sizeof *c);
	for (int k = 0; k < CFG_NKEYS; k++) {
		int rc = cfg_set(c, k, defs[k].dflt, strlen(defs[k].dflt));
		(void)rc; /* the table's defaults are valid; the tests check it */
	}
	c->set_mask = 0;
}

void cfg_unset(cfg *c, int k)
{
	if (k >= 0 && k < CFG_NKEYS)
		c->set_mask &= ~(1u << k);
}

int cfg_get(const cfg *c, int k, char *buf, size_t buflen)
{
	int n = 0;

	if (k < 0 || k >= CFG_NKEYS)
		return -ENOENT;
	switch (k) {
	case CFG_SEGMENT_BYTES: n = snprintf(buf, buflen, "%" PRId64, c->segment_bytes); break;
	case CFG_SEGMENT_MS: n = snprintf(buf, buflen, "%" PRId64, c->segment_ms); break;
	case CFG_RETENTION_MS: n = snprintf(buf, buflen, "%" PRId64, c->retention_ms); break;
	case CFG_RETENTION_BYTES: n = snprintf(buf, buflen, "%" PRId64, c->retention_bytes); break;
	case CFG_DELETE_RETENTION_MS: n = snprintf(buf, buflen, "%" PRId64, c->delete_retention_ms); break;
	case CFG_COMPRESSION_LEVEL: n = snprintf(buf, buflen, "%d", c->compression_level); break;
	case CFG_MAX_MESSAGE_BYTES: n = snprintf(buf, buflen, "%" PRId64, c->max_message_bytes); break;
	case CFG_FLUSH_MS: n = snprintf(buf, buflen, "%" PRId64, c->flush_ms); break;
	case CFG_MIN_CLEANABLE_DIRTY_RATIO:
		/* Plain decimals, as parse_ratio reads them: never "1e-05". */
		n = snprintf(buf, buflen, "%.15f", c->min_cleanable_dirty_ratio);
		while (n > 1 && (size_t)n < buflen && buf[n - 1] == '0')
			buf[--n] = 0;
		if (n > 1 && (size_t)n < buflen && buf[n - 1] == '.')
			buf[--n] = 0;
		break;
	case CFG_CLEANUP_POLICY:
		n = snprintf(buf, buflen, "%s",
			     c->cleanup_policy == CFG_CLEANUP_DELETE	? "delete"
			     : c->cleanup_policy == CFG_CLEANUP_COMPACT ? "compact"
									: "compact,delete");
		break;
	case CFG_KEY_SEPARATOR:
		n = snprintf(buf, buflen, "%.*s", (int)c->key_separator_len, c->key_separator);
		break;
	case CFG_COMPRESSION_TYPE:
		n = snprintf(buf, buflen, "%s", c->compression_type == CFG_COMPRESSION_ZSTD ? "zstd" : "none");
		break;
	}
	return n < 0 ? -EINVAL : n;
}

void cfg_merge(const cfg *defaults, const cfg *overrides, cfg *out)
{
	cfg m = *defaults;
	char v[CFG_VALUE_MAX];

	for (int k = 0; k < CFG_NKEYS; k++) {
		if (!(overrides->set_mask & (1u << k)))
			continue;
		int n = cfg_get(overrides, k, v, sizeof v);
		if (n >= 0)
			(void)cfg_set(&m, k, v, (size_t)n); /* valid: it was accepted once */
	}
	m.set_mask = overrides->set_mask;
	*out = m;
}

size_t cfg_format_max(void)
{
	return CFG_NKEYS * (32 + CFG_VALUE_MAX + 2);
}

size_t cfg_format(const cfg *c, char *buf)
{
	size_t len = 0;
	char v[CFG_VALUE_MAX];

	for (int k = 0; k < CFG_NKEYS; k++) {
		if (!(c->set_mask & (1u << k)))
			continue;
		int n = cfg_get(c, k, v, sizeof v);
		if (n < 0)
			continue;
		len += (size_t)sprintf(buf + len, "%s=", defs[k].name);
		memcpy(buf + len, v, (size_t)n);
		len += (size_t)n;
		buf[len++] = '\n';
	}
	return len;
}

int cfg_parse(const char *buf, size_t len, cfg *out,
	      int (*other)(const char *name, const char *value, size_t value_len, void *arg),
	      void *arg)
{
	cfg c;
	const char *p = buf, *end = buf + len;

	cfg_defaults(&c);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *eqp = memchr(p, '=', (size_t)(le - p));
		char name[64];
		size_t nlen;

		if (le == p || *p == '#') {
			p = le + 1;
			continue;
		}
		if (!eqp || (nlen = (size_t)(eqp - p)) >= sizeof name)
			return -EINVAL;
		memcpy(name, p, nlen);
		name[nlen] = 0;
		int k = cfg_key_find(name);
		int rc;
		if (k >= 0)
			rc = cfg_set(&c, k, eqp + 1, (size_t)(le - eqp - 1));
		else
			rc = other ? other(name, eqp + 1, (size_t)(le - eqp - 1), arg) : -EINVAL;
		if (rc < 0)
			return -EINVAL;
		p = le + 1;
	}
	*out = c;
	return 0;
}

/*
** log.c: format a line and pass it to the installed sink.
*/
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static log_sink_fn current_sink;

void log_set_sink(log_sink_fn sink)
{
	current_sink = sink;
}

void log_msg(int level, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warning", "info"};
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	for (char *c = line; *c; c++) /* one message, one line */
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	if (current_sink)
		current_sink(level, line);
	else
		fprintf(stderr, "topicfs: %s: %s\n", names[level], line);
}

/* Bytes that byte c takes in log_printable's text. */
static size_t shown_len(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '\\' ? 1 : 4;
}

const char *log_printable(const void *s, size_t len, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = s;
	size_t o = 0, whole = 0, room = outlen - 1;

	for (size_t i = 0; i < len; i++)
		whole += shown_len(p[i]);
	if (whole > room)
		room -= 3; /* for "..." */
	for (size_t i = 0; i < len && o + shown_len(p[i]) <= room; i++) {
		if (shown_len(p[i]) == 1) {
			out[o++] = (char)p[i];
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[p[i] >> 4];
			out[o++] = hex[p[i] & 15];
		}
	}
	if (whole > outlen - 1) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

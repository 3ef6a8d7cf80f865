/*
** log.c: format a line and pass it to the installed sink.
*/
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

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
	if (current_sink)
		current_sink(level, line);
	else
		fprintf(stderr, "topicfs: %s: %s\n", names[level], line);
}

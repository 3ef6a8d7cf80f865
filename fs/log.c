/*
** log.c: see log.h.
*/
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

#include "../core/log.h"

void tfs_log(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_msg(LOG_LVL_WARN, "%s", line);
}

static void syslog_sink(int level, const char *line)
{
	int prio = level == LOG_LVL_ERROR  ? LOG_ERR
		   : level == LOG_LVL_WARN ? LOG_WARNING
					   : LOG_INFO;

	syslog(prio, "%s", line);
}

void tfs_log_to_syslog(void)
{
	openlog("topicfs", LOG_PID, LOG_DAEMON);
	log_set_sink(syslog_sink);
}

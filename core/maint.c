/*
** maint.c: the thread that runs compact_topic_pass() over every topic.
**
** It sleeps on a condition variable between passes, so that maint_stop()
** and maint_kick() take effect at once. A pass takes a snapshot of the
** topic names and a counted reference to each topic in turn, so topics
** created, renamed or deleted meanwhile are simply seen (or not) next time.
*/
#include "maint.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "compact.h"
#include "io.h"
#include "log.h"
#include "topic.h"

struct maint {
	store *s;
	int64_t interval_ms;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* signalled by maint_stop and maint_kick */
	int kicked;	   /* protected by mu */
	atomic_int stop;
};

/* One pass over every topic; *min_flush_ms gets the smallest flush.ms of
** the topics and of the mount-wide default (which a topic made before the
** next pass follows). */
static int pass(store *s, int64_t now_ms, const atomic_int *stop, int64_t *min_flush_ms)
{
	char **names;
	size_t n;
	int rc = store_topic_names(s, &names, &n);

	*min_flush_ms = store_defaults(s)->flush_ms;
	store_release_dead(s);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n && !(stop && atomic_load(stop)); i++) {
		topic *t;
		cfg c;
		if (store_topic_get(s, names[i], &t) < 0)
			continue; /* deleted since the snapshot */
		int r = compact_topic_pass(t, now_ms, stop);
		if (r < 0 && rc == 0)
			rc = r;
		topic_config(t, &c);
		if (c.flush_ms < *min_flush_ms)
			*min_flush_ms = c.flush_ms;
		topic_unref(t);
	}
	store_names_free(names, n);
	return rc;
}

int maint_pass(store *s, int64_t now_ms)
{
	int64_t min_flush_ms;

	return pass(s, now_ms, NULL, &min_flush_ms);
}

/* The shortest wait between passes: a topic's flush.ms below it is met at
** this granularity. */
#define MIN_WAIT_MS 10

static void *run(void *arg)
{
	maint *m = arg;

	pthread_setname_np(pthread_self(), "tfs-maint"); /* as top -H and ps -L show it */
	/* Background work yields the CPU to writers and readers: rewriting a
	** segment is never urgent, and on a small machine zstd would otherwise
	** take a core from the FUSE threads. (Syncs run here too; a nice value,
	** unlike SCHED_IDLE, never starves them.) */
	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10) < 0)
		log_warn("cannot lower the background thread's priority: %s", strerror(errno));

	while (!atomic_load(&m->stop)) {
		int64_t min_flush_ms;
		pass(m->s, io_now_ms(), &m->stop, &min_flush_ms);
		/* Syncs and consumer positions are due every flush.ms, which a
		** topic may set below the interval: wake up for them. */
		int64_t wait_ms = m->interval_ms;
		if (min_flush_ms < wait_ms)
			wait_ms = min_flush_ms > MIN_WAIT_MS ? min_flush_ms : MIN_WAIT_MS;
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += wait_ms / 1000;
		until.tv_nsec += (wait_ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_mutex_lock(&m->mu);
		while (!m->kicked && !atomic_load(&m->stop))
			if (pthread_cond_timedwait(&m->cv, &m->mu, &until) == ETIMEDOUT)
				break;
		m->kicked = 0;
		pthread_mutex_unlock(&m->mu);
	}
	return NULL;
}

int maint_start(store *s, int64_t interval_ms, maint **out)
{
	maint *m = calloc(1, sizeof *m);
	int rc;

	if (!m)
		return -ENOMEM;
	m->s = s;
	m->interval_ms = interval_ms > 0 ? interval_ms : 1;
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->cv, NULL);
	if ((rc = pthread_create(&m->thread, NULL, run, m)) != 0) {
		pthread_mutex_destroy(&m->mu);
		pthread_cond_destroy(&m->cv);
		free(m);
		return -rc;
	}
	*out = m;
	return 0;
}

void maint_kick(maint *m)
{
	pthread_mutex_lock(&m->mu);
	m->kicked = 1;
	pthread_cond_signal(&m->cv);
	pthread_mutex_unlock(&m->mu);
}

void maint_stop(maint *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	atomic_store(&m->stop, 1);
	pthread_cond_signal(&m->cv);
	pthread_mutex_unlock(&m->mu);
	pthread_join(m->thread, NULL);
	pthread_mutex_destroy(&m->mu);
	pthread_cond_destroy(&m->cv);
	free(m);
}

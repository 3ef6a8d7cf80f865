/*
** compact.h: the work of the background thread on one topic.
*/
#ifndef TOPICFS_COMPACT_H
#define TOPICFS_COMPACT_H

#include <stdatomic.h>
#include <stdint.h>

#include "store.h"

/*
** One maintenance pass over t at time now_ms: roll an old newest segment,
** apply retention, compact, (de)compress sealed segments, sync. Stops early
** (between segments) when *stop becomes non-zero. Returns 0 or the first
** error, which is also logged.
*/
int compact_topic_pass(topic *t, int64_t now_ms, const atomic_int *stop);

/* Compaction alone, whatever the dirty ratio (for tests and tools). */
int compact_topic_now(topic *t, int64_t now_ms);

#endif

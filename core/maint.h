/*
** maint.h: the background thread of a store.
**
** One thread per store visits every topic at least every interval_ms and
** keeps it in shape (compact.c says what it does and how it stays out of
** the way of writers and readers).
*/
#ifndef TOPICFS_MAINT_H
#define TOPICFS_MAINT_H

#include <stdint.h>

#include "store.h"

typedef struct maint maint;

/* Start the thread. Returns 0 and *out, or a negative errno. */
int maint_start(store *s, int64_t interval_ms, maint **out);

/* Stop the thread (it finishes the segment it is rewriting) and free m. */
void maint_stop(maint *m);

/* Wake the thread for a pass now (for example after a setting changed). */
void maint_kick(maint *m);

/* One pass over every topic of s in the calling thread, at time now_ms
** (tests pass a time of their choosing). Returns the first error. */
int maint_pass(store *s, int64_t now_ms);

#endif

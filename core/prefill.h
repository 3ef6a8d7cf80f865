/*
** prefill.h: room made ahead of bulk writers in the newest segment.
**
** A helper thread (one per store, started at the first bulk append)
** extends the newest segment of the topic that is being bulk-written,
** maps the new room and faults its pages in, so that the next batches are
** copied into the mapping instead of written with pwrite (prefill.c says
** why and how). topic.c decides when; this module does the work.
*/
#ifndef TOPICFS_PREFILL_H
#define TOPICFS_PREFILL_H

#include <stdint.h>

#include "core_internal.h"

/* A batch of this much text or more counts as a bulk append. */
#define PREFILL_MIN (256u << 10)
/* How far ahead of the newest batch the room reaches when it is made. */
#define PREFILL_AHEAD (8u << 20)

typedef struct prefill prefill;

int prefill_new(prefill **out);
/* Stop the helper (waiting for its current step) and free everything. */
void prefill_free(prefill *p);

/* Ask the helper to make room in s, the newest segment of t. Takes its
** own references; a later request replaces one not yet served. */
void prefill_kick(prefill *p, topic *t, seg *s);

/* Have the helper drop its references to segments whose room was
** released: those references keep the files open, which retention or a
** deletion means to free. prefill_release_locked calls it. Returns at
** once. */
void prefill_forget(prefill *p);

/* The helper's work for one request, done in the caller's thread: make
** room in s up to PREFILL_AHEAD past its end (no further than the segment
** may grow), in steps that each become usable at once. Returns 0, or a
** negative errno when no room could be made (s is then left alone for
** good: appends take the pwrite path). Exposed for the unit tests. */
int prefill_segment(topic *t, seg *s);

/* For topic.c, under the topic's append_mu, before the batch that will
** end at end is written (waiting if the helper is writing there): whether
** it fits in the room made, to be copied to s->map + s->size. */
int prefill_begin_locked(seg *s, uint64_t end);
/* And after it was written: ask for room ahead when the batch, of
** batch_text bytes of text, was a bulk one (the helper also drops the
** mapping behind it). */
void prefill_end_locked(topic *t, seg *s, size_t batch_text);

/* For topic.c and segment.c, under t's append_mu: give up s's room (a
** roll, a failed append, a close), once a step in progress has ended (it
** takes fill_mu, never releasing append_mu). Cuts the file back to its
** batches and unmaps it, and has the helper let go of s (prefill_forget).
** t is NULL only when the last reference to s goes (no step can run then,
** and the helper holds no reference). */
void prefill_release_locked(topic *t, seg *s);

/* For compact.c's pass, under t's append_mu: the bulk writer of s has
** gone quiet, so the room made ahead goes (the file is cut back to its
** batches and unmapped), but s may get room again when a bulk writer
** comes back. Returns whether there was room to give back. */
int prefill_give_back_locked(topic *t, seg *s);

#endif

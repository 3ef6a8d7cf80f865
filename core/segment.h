/*
** segment.h: one segment file of a topic (the format is in segment.c).
**
** These functions do the segment's file I/O. They take no lock: the caller
** (topic.c) holds append_mu while it creates, recovers or seals a segment,
** and publishes the results under mu.
*/
#ifndef TOPICFS_SEGMENT_H
#define TOPICFS_SEGMENT_H

#include <stdint.h>

#include "core_internal.h"

#define SEG_HEADER_SIZE 64
#define SEG_NAME_LEN 20 /* digits of a segment's name */

/* "NNNNNNNNNNNNNNNNNNNN.log" / ".index" for base_offset, into buf[32]. */
void seg_log_name(uint64_t base_offset, char *buf);
void seg_index_name(uint64_t base_offset, char *buf);

/* Parse a segment file name; returns 1 and *base_offset when name is one. */
int seg_parse_name(const char *name, uint64_t *base_offset);

/*
** Create the newest segment (file, header, empty index) in dirfd and sync
** the directory. Returns 0 and *out with one reference.
*/
int seg_create(int dirfd, uint64_t base_offset, uint64_t base_bytepos, int64_t now_ms, seg **out);

/*
** Open an existing segment. For the newest segment (next == NULL), recover:
** check the index against the file, scan the file from the last good index
** entry, cut a torn tail, and reopen the index for appends. For a sealed
** segment (next = its successor), use the sealed index, or rebuild it by a
** scan when it is missing, damaged or does not match the file.
*/
int seg_open(int dirfd, uint64_t base_offset, const seg *next, seg **out);

/* Seal the newest segment: sync its data, write its complete index. */
int seg_seal(int dirfd, seg *s);

void seg_ref(seg *s);
void seg_unref(seg *s);

#endif

/*
** tools_util.h: helpers for the tests of the tools around the daemon: the
** examples, the inspector (`topicfs dump`) and `make install` (prefix t_),
** on top of harness.h.
*/
#ifndef TOPICFS_IT_TOOLS_UTIL_H
#define TOPICFS_IT_TOOLS_UTIL_H

#include "harness.h"

#include <stddef.h>

#define T_SEG_NAME_LEN 24 /* "NNNNNNNNNNNNNNNNNNNN.log" */

/* The source tree: $TOPICFS_BIN is SRC/build/topicfs (or build-san/). */
const char *t_src_dir(void);

/* The daemon's build directory's name: "build" or "build-san". */
const char *t_build_name(void);

/*
** Run `$TOPICFS_BIN ARG...` (the list ends with NULL) for at most 60 s, with
** stdout and stderr captured in *out and *err (malloc'd; NULL to discard).
** Returns its exit status (-1 when it had to be killed).
*/
int t_topicfs(char **out, char **err, ...) __attribute__((sentinel));

/* XOR byte OFF of PATH with MASK, in place. */
void t_flip(const char *path, long long off, unsigned char mask);

/* The segment files of TOPIC in H.data, sorted (names into names[max]).
** Returns the count. */
size_t t_segments(const char *topic, char (*names)[T_SEG_NAME_LEN + 1], size_t max);

/* How often NEEDLE occurs in HAY. */
size_t t_count(const char *hay, const char *needle);

/* Every file and directory under DIR with its type, size, mtime, mode and
** (files) SHA-256, as text (malloc'd): equal texts, an untouched tree. */
char *t_tree_snapshot(const char *dir);

#endif

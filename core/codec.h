/*
** codec.h: zstd frames, the storage of sealed segments.
**
** The only module that includes <zstd.h>. zstd's error codes are turned
** into negative errno values here (-EBADMSG for data that is not a valid
** frame, -ENOMEM) and nothing else sees them.
*/
#ifndef TOPICFS_CODEC_H
#define TOPICFS_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct codec codec;

int codec_new(codec **out);
void codec_free(codec *c);

/* Most bytes codec_compress() can produce from n bytes. */
size_t codec_bound(size_t n);

/*
** Compress n bytes at src into one zstd frame at dst (cap bytes, at least
** codec_bound(n)), at level, with the decompressed size in the frame (no
** checksum: the batches inside carry theirs). Returns the frame's length
** or a negative errno.
*/
ssize_t codec_compress(codec *c, int level, const void *src, size_t n, void *dst, size_t cap);

/* Stored length of the frame starting at src (avail bytes readable):
** -EAGAIN when avail does not hold all of it, -EBADMSG when it is no frame. */
ssize_t codec_frame_len(const void *src, size_t avail);

/* Decompressed size of the (whole) frame at src, or -EBADMSG. */
ssize_t codec_content_size(const void *src, size_t n);

/*
** Decompress the frame of n bytes at src into dst (cap bytes). Returns the
** decompressed length, or -EBADMSG when the frame is damaged (it is not a
** frame, or does not decode to its size). Counts one decoded frame.
*/
ssize_t codec_decompress(codec *c, const void *src, size_t n, void *dst, size_t cap);

/* Frames decoded by this process so far (for tests and figures). */
uint64_t codec_frames_decoded(void);

#endif

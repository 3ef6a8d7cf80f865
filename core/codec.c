/*
** codec.c: one zstd frame in, one zstd frame out.
**
** Sealed segments are stored as a sequence of independent zstd frames, each
** holding whole batches (segment.c has the layout). Independent frames are
** what makes a random read cheap: it decodes one frame, found through the
** segment's index, never the frames before it. Frames carry no checksum of
** their own: every batch inside has its CRC32C, checked after decoding, so
** zstd's would only cost time (12% of a replay, measured).
*/
#include "codec.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <zstd.h>
#include <zstd_errors.h>

struct codec {
	ZSTD_CCtx *cctx; /* created on first compression */
	ZSTD_DCtx *dctx; /* created on first decompression */
};

static atomic_uint_fast64_t frames_decoded;

int codec_new(codec **out)
{
	codec *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	*out = c;
	return 0;
}

void codec_free(codec *c)
{
	if (!c)
		return;
	ZSTD_freeCCtx(c->cctx);
	ZSTD_freeDCtx(c->dctx);
	free(c);
}

size_t codec_bound(size_t n)
{
	return ZSTD_compressBound(n);
}

ssize_t codec_compress(codec *c, int level, const void *src, size_t n, void *dst, size_t cap)
{
	size_t r;

	if (!c->cctx && !(c->cctx = ZSTD_createCCtx()))
		return -ENOMEM;
	ZSTD_CCtx_reset(c->cctx, ZSTD_reset_session_and_parameters);
	if (ZSTD_isError(ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_compressionLevel, level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_checksumFlag, 0)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_contentSizeFlag, 1)))
		return -EINVAL;
	r = ZSTD_compress2(c->cctx, dst, cap, src, n);
	if (ZSTD_isError(r))
		return ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation ? -ENOMEM : -EIO;
	return (ssize_t)r;
}

ssize_t codec_frame_len(const void *src, size_t avail)
{
	size_t r = ZSTD_findFrameCompressedSize(src, avail);
	if (ZSTD_isError(r))
		return ZSTD_getErrorCode(r) == ZSTD_error_srcSize_wrong ? -EAGAIN : -EBADMSG;
	return (ssize_t)r;
}

ssize_t codec_content_size(const void *src, size_t n)
{
	unsigned long long r = ZSTD_getFrameContentSize(src, n);
	if (r == ZSTD_CONTENTSIZE_ERROR || r == ZSTD_CONTENTSIZE_UNKNOWN || r > SIZE_MAX / 2)
		return -EBADMSG;
	return (ssize_t)r;
}

ssize_t codec_decompress(codec *c, const void *src, size_t n, void *dst, size_t cap)
{
	size_t r;

	if (!c->dctx && !(c->dctx = ZSTD_createDCtx()))
		return -ENOMEM;
	r = ZSTD_decompressDCtx(c->dctx, dst, cap, src, n);
	atomic_fetch_add(&frames_decoded, 1);
	if (ZSTD_isError(r))
		return ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation ? -ENOMEM : -EBADMSG;
	return (ssize_t)r;
}

uint64_t codec_frames_decoded(void)
{
	return atomic_load(&frames_decoded);
}

/*
** cursor.c: sequential reading of the rendered log.
**
** A cursor keeps: the segment it is in (a counted reference, so a segment
** that retention deletes or compaction replaces stays readable to it), a
** buffer of that segment's file bytes, the batch it is in and the record it
** is in. Reading on from there touches no index and takes the topic's mu
** only to learn how far the segment's published data reaches, once per
** buffer refill. Placing a cursor (cur_open, cur_seek) uses the segment
** list and the sparse index: a binary search, then at most one index
** interval of batches skipped by their headers.
**
** The record "at" the cursor is the one whose rendered bytes contain pos,
** or, when pos is in no retained record (removed, or before the start), the
** next retained one, and pos moves to its start.
*/
#include "cursor.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core_internal.h"
#include "io.h"
#include "log.h"
#include "record.h"
#include "segment.h"
#include "topic.h"

#define CHUNK (256u << 10) /* bytes read from a segment at once */

struct cursor {
	topic *t;
	seg *s;	       /* the segment being read, referenced; NULL until placed */
	int placed;    /* s and loc are valid for pos */
	int confined;  /* reads stop at the end of segment confine_base */
	uint64_t confine_base;
	uint64_t pos;  /* byte position of the next byte to return */
	uint64_t loc;  /* location of the next batch to load in s */
	/* file bytes [buf_loc, buf_loc + len) of s */
	unsigned char *buf;
	size_t cap, len;
	uint64_t buf_loc;
	/* the current batch (have_batch), and the record at pos (have_rec) */
	int have_batch;
	rec_batch b;
	rec_iter it;
	int have_rec;
	const unsigned char *rec;
	size_t rec_len;
	uint64_t rec_offset, rec_bytepos;
};

static void forget_position(cursor *c)
{
	c->placed = 0;
	c->have_batch = 0;
	c->have_rec = 0;
}

static int cursor_new(topic *t, cursor **out)
{
	cursor *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	topic_ref(t);
	c->t = t;
	*out = c;
	return 0;
}

int cur_open(topic *t, uint64_t bytepos, cursor **out)
{
	int rc = cursor_new(t, out);
	if (rc == 0)
		(*out)->pos = bytepos;
	return rc;
}

int cur_open_segment(topic *t, uint64_t base_offset, cursor **out)
{
	seg *s = NULL;
	int rc;

	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < t->nsegs; i++) {
		if (t->segs[i]->base_offset == base_offset) {
			s = t->segs[i];
			seg_ref(s);
			break;
		}
	}
	pthread_mutex_unlock(&t->mu);
	if (!s)
		return -ENOENT;
	if ((rc = cursor_new(t, out)) < 0) {
		seg_unref(s);
		return rc;
	}
	(*out)->s = s;
	(*out)->confined = 1;
	(*out)->confine_base = base_offset;
	(*out)->pos = s->base_bytepos;
	return 0;
}

void cur_close(cursor *c)
{
	if (!c)
		return;
	seg_unref(c->s);
	topic_unref(c->t);
	free(c->buf);
	free(c);
}

void cur_seek(cursor *c, uint64_t bytepos)
{
	c->pos = bytepos;
	forget_position(c);
}

uint64_t cur_pos(const cursor *c)
{
	return c->pos;
}

/* Find the segment and the batch location to start from for c->pos. */
static void place(cursor *c)
{
	topic *t = c->t;
	seg *s = NULL;

	pthread_mutex_lock(&t->mu);
	if (c->confined) {
		s = c->s; /* kept since cur_open_segment, even if since removed */
	} else {
		size_t lo = 0, hi = t->nsegs;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (t->segs[mid]->base_bytepos <= c->pos)
				lo = mid + 1;
			else
				hi = mid;
		}
		s = t->segs[lo ? lo - 1 : 0];
	}
	if (c->pos < s->base_bytepos)
		c->pos = s->base_bytepos;
	ssize_t i = idx_find_bytepos(&s->index, c->pos);
	c->loc = i >= 0 ? s->index.e[i].location : SEG_HEADER_SIZE;
	if (s != c->s) {
		seg_ref(s);
		seg_unref(c->s); /* may free a segment retention removed */
		c->s = s;
		c->len = 0;
	}
	pthread_mutex_unlock(&t->mu);
	c->placed = 1;
}

static int damaged(cursor *c, uint64_t loc, const char *why)
{
	char name[STORE_NAME_MAX + 1];
	topic_name(c->t, name);
	log_error("topic %s segment %020" PRIu64 ": %s at byte %" PRIu64 " (near offset %" PRIu64
		  "); the read fails with EIO",
		  name, c->s->base_offset, why, loc, c->have_batch ? c->b.base_offset : c->s->base_offset);
	return -EIO;
}

/*
** Make the batch at c->loc current (c->b, c->it). Returns 1, 0 when the
** segment's published data ends at c->loc, or -EIO / -errno.
*/
static int load_batch(cursor *c)
{
	uint64_t loc = c->loc, limit;
	size_t off;
	int rc;

	if (c->s->compressed)
		return -ENOTSUP; /* compressed segments come with codec.c */
	if (loc >= c->buf_loc && loc < c->buf_loc + c->len) {
		off = (size_t)(loc - c->buf_loc);
		rc = rec_decode_header(c->buf + off, c->len - off, &c->b);
		if (rc == 0)
			goto check;
		if (rc == -EBADMSG)
			return damaged(c, loc, "impossible batch header");
	}
	pthread_mutex_lock(&c->t->mu);
	limit = c->s->size;
	pthread_mutex_unlock(&c->t->mu);
	if (loc >= limit)
		return 0;
	size_t want = limit - loc < CHUNK ? (size_t)(limit - loc) : CHUNK;
	for (;;) {
		if (want > c->cap) {
			unsigned char *nb = realloc(c->buf, want);
			if (!nb)
				return -ENOMEM;
			c->buf = nb;
			c->cap = want;
		}
		ssize_t n = io_pread_all(c->s->fd, c->buf, want, (off_t)loc);
		if (n < 0)
			return (int)n;
		c->buf_loc = loc;
		c->len = (size_t)n;
		off = 0;
		rc = rec_decode_header(c->buf, c->len, &c->b);
		if (rc == 0)
			break;
		if (rc == -EBADMSG || c->len < want || c->len < REC_HEADER_SIZE)
			return damaged(c, loc, rc == -EBADMSG ? "impossible batch header" : "short segment file");
		/* The batch is larger than what was read. */
		uint32_t blen = io_get32(c->buf + 4);
		if (loc + blen > limit)
			return damaged(c, loc, "batch runs past the segment's end");
		want = blen;
	}
check:
	if (rec_check(c->buf + off, &c->b) < 0)
		return damaged(c, loc, "batch fails its CRC");
	rec_iter_init(&c->it, c->buf + off, &c->b);
	c->have_batch = 1;
	return 1;
}

/* Go on to the segment after c->s. Returns 1, or 0 when there is none
** (or the cursor is confined) and c->s has no more data for now. */
static int next_segment(cursor *c)
{
	topic *t = c->t;
	seg *succ = NULL;

	pthread_mutex_lock(&t->mu);
	if (c->loc < c->s->size) {
		pthread_mutex_unlock(&t->mu);
		return 1; /* it grew meanwhile: read on in it */
	}
	if (!c->confined) {
		for (size_t i = 0; i < t->nsegs; i++) {
			if (t->segs[i]->base_offset > c->s->base_offset) {
				succ = t->segs[i];
				break;
			}
		}
	}
	if (succ && c->pos < succ->base_bytepos)
		c->pos = succ->base_bytepos;
	pthread_mutex_unlock(&t->mu);
	if (!succ)
		return 0;
	forget_position(c);
	return 1;
}

/* Make the record at c->pos current. Returns 1, 0 when there is none yet,
** or a negative errno. */
static int advance(cursor *c)
{
	const unsigned char *p;
	size_t l;
	int rc;

	if (c->have_rec)
		return 1;
	for (;;) {
		if (!c->placed)
			place(c);
		if (c->have_batch) {
			uint64_t off = c->it.offset, pos = c->it.bytepos;
			while (rec_iter_next(&c->it, &p, &l)) {
				if (pos + l + 1 > c->pos) {
					if (pos > c->pos)
						c->pos = pos;
					c->rec = p;
					c->rec_len = l;
					c->rec_offset = off;
					c->rec_bytepos = pos;
					c->have_rec = 1;
					return 1;
				}
				off = c->it.offset;
				pos = c->it.bytepos;
			}
			c->have_batch = 0;
			c->loc += c->b.length;
			continue;
		}
		rc = load_batch(c);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			if (rec_end_bytepos(&c->b) <= c->pos) {
				c->have_batch = 0; /* wholly before pos: skip it */
				c->loc += c->b.length;
			}
			continue;
		}
		if ((rc = next_segment(c)) <= 0)
			return rc;
	}
}

ssize_t cur_read(cursor *c, void *buf, size_t len)
{
	unsigned char *out = buf;
	size_t done = 0;

	while (done < len) {
		int rc = advance(c);
		if (rc <= 0) {
			if (done > 0)
				break;
			return rc;
		}
		size_t in = (size_t)(c->pos - c->rec_bytepos); /* 0 .. rec_len */
		size_t n = c->rec_len + 1 - in;
		if (n > len - done)
			n = len - done;
		size_t from_payload = in < c->rec_len ? c->rec_len - in : 0;
		if (from_payload > n)
			from_payload = n;
		memcpy(out + done, c->rec + in, from_payload);
		if (from_payload < n)
			out[done + from_payload] = '\n';
		done += n;
		c->pos += n;
		if (c->pos == c->rec_bytepos + c->rec_len + 1)
			c->have_rec = 0;
	}
	return (ssize_t)done;
}

int cur_next(cursor *c, cur_record *rec)
{
	for (;;) {
		int rc = advance(c);
		if (rc <= 0)
			return rc;
		c->have_rec = 0;
		if (c->rec_bytepos < c->pos) {
			/* pos is inside this record: the next one is wanted */
			c->pos = c->rec_bytepos + c->rec_len + 1;
			continue;
		}
		rec->offset = c->rec_offset;
		rec->bytepos = c->rec_bytepos;
		rec->timestamp_ms = c->b.timestamp_ms;
		rec->payload = (const char *)c->rec;
		rec->len = c->rec_len;
		c->pos = c->rec_bytepos + c->rec_len + 1;
		return 1;
	}
}

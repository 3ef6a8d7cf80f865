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

struct cursor {
	topic *t;
	seg *s;	       /* the segment being read, referenced; NULL until placed */
	int placed;    /* s and it are valid for pos */
	int confined;  /* reads stop at the end of segment s */
	uint64_t pos;  /* byte position of the next byte to return */
	uint64_t min_offset; /* records below it are skipped */
	int skip_pending;    /* min_offset moved; advance() has not applied it */
	seg_iter it;   /* over s's batches */
	/* the current batch (have_batch), and the record at pos (have_rec) */
	int have_batch;
	rec_batch b;
	const unsigned char *text; /* the batch's rendered text */
	rec_iter ri;		   /* its records; may trail pos after cur_read */
	int have_rec;
	const unsigned char *rec;
	size_t rec_len;
	uint64_t rec_offset, rec_bytepos;
	int64_t rec_ts;
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
	(*out)->pos = s->base_bytepos;
	return 0;
}

int cur_open_like(const cursor *like, uint64_t bytepos, cursor **out)
{
	int rc;

	if (!like->confined)
		return cur_open(like->t, bytepos, out);
	/* A confined cursor's segment never changes (place() keeps it). */
	if ((rc = cursor_new(like->t, out)) < 0)
		return rc;
	seg_ref(like->s);
	(*out)->s = like->s;
	(*out)->confined = 1;
	(*out)->pos = bytepos;
	return 0;
}

void cur_close(cursor *c)
{
	if (!c)
		return;
	seg_iter_free(&c->it);
	seg_unref(c->s);
	topic_unref(c->t);
	free(c);
}

void cur_seek(cursor *c, uint64_t bytepos)
{
	c->pos = bytepos;
	forget_position(c);
}

void cur_skip_below(cursor *c, uint64_t offset)
{
	c->min_offset = offset;
	c->skip_pending = 1;
	c->have_rec = 0;
}

uint64_t cur_pos(const cursor *c)
{
	return c->pos;
}

/* How many of t's segments start before byte position pos, or at it too
** when at (under t->mu). */
static size_t segs_starting_before(const topic *t, uint64_t pos, int at)
{
	size_t lo = 0, hi = t->nsegs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->segs[mid]->base_bytepos < pos || (at && t->segs[mid]->base_bytepos == pos))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Find the segment, and the batch or frame in it, to start from for pos. */
static void place(cursor *c)
{
	topic *t = c->t;
	seg *s;

	pthread_mutex_lock(&t->mu);
	if (c->confined) {
		s = c->s; /* kept since cur_open_segment, even if since removed */
	} else {
		size_t n = segs_starting_before(t, c->pos, 1);
		s = t->segs[n ? n - 1 : 0];
	}
	if (c->pos < s->base_bytepos)
		c->pos = s->base_bytepos;
	ssize_t i = idx_find_bytepos(&s->index, c->pos);
	uint64_t loc = i >= 0 ? s->index.e[i].location : SEG_HEADER_SIZE;
	if (s != c->s || c->it.s != s) {
		seg_ref(s);
		seg_iter_free(&c->it);
		seg_unref(c->s); /* may free a segment that retention removed */
		c->s = s;
		seg_iter_init(&c->it, s, loc, s->size);
	} else {
		c->it.limit = s->size;
		seg_iter_seek(&c->it, loc);
	}
	/* What is known valid up to loc: where damage after it may start. */
	c->it.good_offset = i >= 0 ? s->index.e[i].offset : s->base_offset;
	c->it.good_bytepos = i >= 0 ? s->index.e[i].bytepos : s->base_bytepos;
	pthread_mutex_unlock(&t->mu);
	c->placed = 1;
}

/* The next batch of c->s. Returns 1, 0 when the segment has no more data
** for now, or -errno (-EIO: damaged, logged with the topic's name). */
static int load_batch(cursor *c)
{
	const unsigned char *p;
	uint64_t at;
	int rc;

	/* Batches wholly before the cursor are passed over unchecked: damage
	** there is not this read's business. */
	c->it.skip_pos = c->pos;
	c->it.skip_off = c->min_offset;
	for (int pass = 0; pass < 2; pass++) {
		rc = seg_iter_next(&c->it, &p, &c->b, &at);
		if (rc != 0)
			break;
		/* At the published end: see whether more was published since. */
		pthread_mutex_lock(&c->t->mu);
		uint64_t limit = c->s->size;
		pthread_mutex_unlock(&c->t->mu);
		if (limit == c->it.limit)
			break;
		c->it.limit = limit;
	}
	if (rc == 1) {
		rec_iter_init(&c->ri, p, &c->b);
		c->text = p + REC_HEADER_SIZE;
		c->have_batch = 1;
	} else if (rc == -EIO) {
		char name[STORE_NAME_MAX + 1];
		topic_name(c->t, name);
		log_error("topic %s: a read reached a damaged batch in segment %020" PRIu64
			  ", at record offset %" PRIu64 " or after (byte position %" PRIu64
			  " of the log)",
			  name, c->s->base_offset, c->it.good_offset, c->pos);
	}
	return rc;
}

/*
** Go on from c->s, read to its end, to the listed segment that holds the
** bytes after it: the next one, or, when compaction merged c->s with the
** segments after it, the merged segment (from where c->s ended). Returns
** 1, or 0 when there is none (or the cursor is confined) and c->s has no
** more data for now.
*/
static int next_segment(cursor *c)
{
	topic *t = c->t;
	seg *succ = NULL;

	pthread_mutex_lock(&t->mu);
	if (c->it.limit < c->s->size) {
		pthread_mutex_unlock(&t->mu);
		return 1; /* it grew meanwhile: read on in it */
	}
	/* c->s's end stays where it was once c->s is sealed, replaced or
	** deleted; the newest segment's is where its batches end. */
	uint64_t after = c->s->end_bytepos > c->pos ? c->s->end_bytepos : c->pos;
	if (!c->confined) {
		size_t n = segs_starting_before(t, after, 1); /* the last at or before after, */
		succ = t->segs[n ? n - 1 : 0];		      /* or the first when all start later */
		if (succ == c->s)
			succ = NULL;
	}
	if (succ)
		c->pos = after > succ->base_bytepos ? after : succ->base_bytepos;
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
			uint64_t off = c->ri.offset, pos = c->ri.bytepos;
			while (rec_iter_next(&c->ri, &p, &l)) {
				if (pos + l + 1 > c->pos && off >= c->min_offset) {
					if (pos > c->pos)
						c->pos = pos;
					c->rec = p;
					c->rec_len = l;
					c->rec_offset = off;
					c->rec_bytepos = pos;
					c->rec_ts = c->ri.ts;
					c->have_rec = 1;
					c->skip_pending = 0;
					return 1;
				}
				off = c->ri.offset;
				pos = c->ri.bytepos;
			}
			c->have_batch = 0;
			continue;
		}
		rc = load_batch(c);
		if (rc < 0)
			return rc;
		if (rc == 1)
			continue;
		if ((rc = next_segment(c)) <= 0)
			return rc;
	}
}
/*
** A batch's text is the rendered log itself, so reading copies whole spans
** of it: advance() is needed only to find the batch (and, after a skip,
** the record) where pos is. The record iterator is left behind; advance()
** walks it forward again if record reads (cur_next) follow.
*/
/* Make the batch holding c->pos (or, after a skip, the next retained
** byte) current, unless it is. Returns 1, 0 or a negative errno. Once a
** skip is applied, reads go on from pos: the record iterator may already
** be past the record that pos is inside (a record handed out in pieces),
** and advance() would pass over the rest of it. */
static int at_batch(cursor *c)
{
	if (!c->have_batch || c->pos >= rec_end_bytepos(&c->b) || c->pos < c->b.base_bytepos ||
	    c->skip_pending)
		return advance(c);
	return 1;
}

/* Copy up to len bytes of the current batch from c->pos to out (unless
** out is NULL: only pass over them); advance. */
static size_t take(cursor *c, unsigned char *out, size_t len)
{
	size_t in = (size_t)(c->pos - c->b.base_bytepos);
	size_t n = c->b.rendered - in;

	if (n > len)
		n = len;
	if (out != NULL)
		memcpy(out, c->text + in, n);
	c->pos += n;
	c->have_rec = 0;
	if (c->pos == rec_end_bytepos(&c->b))
		c->have_batch = 0;
	return n;
}

ssize_t cur_read(cursor *c, void *buf, size_t len)
{
	unsigned char *out = buf;
	size_t done = 0;

	while (done < len) {
		int rc = at_batch(c);
		if (rc <= 0) {
			if (done > 0)
				break;
			return rc;
		}
		done += take(c, out + done, len - done);
	}
	return (ssize_t)done;
}

ssize_t cur_read_at(cursor *c, uint64_t pos, void *buf, size_t len)
{
	unsigned char *out = buf;
	size_t filled = 0; /* out[0, filled) is settled */

	cur_seek(c, pos);
	while (filled < len) {
		int rc = at_batch(c);
		if (rc < 0) /* damage: no zeros in place of what is there */
			return rc;
		if (rc == 0 || c->pos >= pos + len)
			break; /* the end for now, or nothing more in the window */
		size_t at = (size_t)(c->pos - pos);
		memset(out + filled, 0, at - filled); /* removed bytes */
		filled = at + take(c, out + at, len - at);
	}
	return (ssize_t)filled;
}

/* Move over (and copy into out, unless NULL) up to budget retained bytes
** before end; returns how many, or a negative errno. */
static ssize_t pass_over(cursor *c, uint64_t end, uint64_t budget, unsigned char *out)
{
	uint64_t n = 0;

	while (n < budget && c->pos < end) {
		int rc = at_batch(c);
		if (rc < 0)
			return rc;
		if (rc == 0 || c->pos >= end)
			break;
		uint64_t stop = rec_end_bytepos(&c->b);
		if (stop > end)
			stop = end;
		if (stop - c->pos > budget - n)
			stop = c->pos + (budget - n);
		n += take(c, out != NULL ? out + n : NULL, (size_t)(stop - c->pos));
	}
	return (ssize_t)n;
}

/* The greatest place before p where a scan can start: a segment's first
** byte or an index entry's. Sets *at and returns 1, or 0 when p is at or
** before the first segment's start (or the confined cursor's). */
static int place_before(cursor *c, uint64_t p, uint64_t *at)
{
	topic *t = c->t;
	seg *s = NULL;

	pthread_mutex_lock(&t->mu);
	if (c->confined) {
		if (p > c->s->base_bytepos)
			s = c->s;
	} else {
		size_t n = segs_starting_before(t, p, 0);
		if (n > 0)
			s = t->segs[n - 1];
	}
	if (s != NULL) {
		ssize_t i = idx_find_bytepos(&s->index, p - 1);
		*at = i >= 0 && s->index.e[i].bytepos > s->base_bytepos ? s->index.e[i].bytepos
								       : s->base_bytepos;
	}
	pthread_mutex_unlock(&t->mu);
	return s != NULL;
}

/*
** Backwards from end one index interval (or segment) at a time, counting
** the retained bytes, until len of them are behind; then forwards again
** over those beyond len, and copy the rest, never past end: retention or
** compaction may have removed bytes since they were counted, and then
** fewer come back.
*/
ssize_t cur_read_before(cursor *c, uint64_t floor, uint64_t end, void *buf, size_t len,
			uint64_t *first)
{
	uint64_t from = end, total = 0, at;
	ssize_t n;

	while (total < len && from > floor && place_before(c, from, &at)) {
		if (at < floor)
			at = floor;
		cur_seek(c, at);
		if ((n = pass_over(c, from, UINT64_MAX, NULL)) < 0)
			return n;
		total += (uint64_t)n;
		from = at;
	}
	cur_seek(c, from);
	if (total > len && (n = pass_over(c, end, total - len, NULL)) < 0)
		return n;
	*first = end;
	n = 0;
	if (total > 0 && c->pos < end) {
		int rc = at_batch(c); /* the first byte's place, after a gap */
		if (rc < 0)
			return rc;
		if (rc == 1 && c->pos < end) {
			*first = c->pos;
			n = pass_over(c, end, total < len ? total : len, buf);
		}
	}
	if (n <= 0)
		cur_seek(c, end);
	return n;
}

uint64_t cur_end(const cursor *c)
{
	topic *t = c->t;
	uint64_t end = 0;

	pthread_mutex_lock(&t->mu);
	if (c->confined)
		end = c->s->end_bytepos;
	else if (t->nsegs > 0)
		end = t->segs[t->nsegs - 1]->end_bytepos;
	pthread_mutex_unlock(&t->mu);
	return end;
}

/* The next whole record at or after pos, made current (pos moves to its
** start). Returns 1, 0 or a negative errno. */
static int whole_record(cursor *c, cur_record *rec)
{
	for (;;) {
		int rc = advance(c);
		if (rc <= 0)
			return rc;
		if (c->rec_bytepos < c->pos) {
			/* pos is inside this record: the next one is wanted */
			c->pos = c->rec_bytepos + c->rec_len + 1;
			c->have_rec = 0;
			continue;
		}
		rec->offset = c->rec_offset;
		rec->bytepos = c->rec_bytepos;
		rec->timestamp_ms = c->rec_ts;
		rec->payload = (const char *)c->rec;
		rec->len = c->rec_len;
		return 1;
	}
}

int cur_peek(cursor *c, cur_record *rec)
{
	return whole_record(c, rec);
}

int cur_next(cursor *c, cur_record *rec)
{
	int rc = whole_record(c, rec);
	if (rc == 1) {
		c->have_rec = 0;
		c->pos = c->rec_bytepos + c->rec_len + 1;
	}
	return rc;
}

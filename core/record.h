/*
** record.h: the batch, the unit in which records are stored.
**
** One topic_append() call writes one batch: its lines, their first offset
** and byte position, one append time, and a CRC32C over all of it. The
** byte layout is documented in record.c.
*/
#ifndef TOPICFS_RECORD_H
#define TOPICFS_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define REC_HEADER_SIZE 48
#define REC_MAGIC 1
#define REC_MAX_BATCH (256u << 20) /* longest batch accepted when decoding */
#define REC_ATTR_TIMES 1	    /* each record carries its own append time */

/* A decoded batch header. */
typedef struct rec_batch {
	uint32_t crc;
	uint32_t length; /* whole batch, header included */
	uint32_t count;	 /* records, >= 1 */
	uint32_t rendered; /* sum of (payload length + 1) */
	uint32_t attributes; /* REC_ATTR_* */
	uint64_t base_offset;
	uint64_t base_bytepos;
	int64_t timestamp_ms;	  /* the first record's append time */
	int64_t max_timestamp_ms; /* the last record's */
} rec_batch;

/* Offset after the batch's last record, and bytepos after its rendering. */
static inline uint64_t rec_end_offset(const rec_batch *b)
{
	return b->base_offset + b->count;
}
static inline uint64_t rec_end_bytepos(const rec_batch *b)
{
	return b->base_bytepos + b->rendered;
}

/*
** Decode the header at p, of which avail bytes are readable.
** Returns 0 and *out; -EAGAIN when avail is too short for the header or for
** the batch length it states (a torn tail, or read more); -EBADMSG when the
** header cannot be a batch header (bad magic, impossible length or count).
** *out is filled only on 0; the CRC is not checked here.
*/
int rec_decode_header(const unsigned char *p, size_t avail, rec_batch *out);

/*
** Check a whole batch (b decoded from p, b->length bytes readable at p):
** the CRC, and that its records exactly fill it with b->count records of
** b->rendered rendered bytes. Returns 0 or -EBADMSG.
*/
int rec_check(const unsigned char *p, const rec_batch *b);

/* Walks the records of a checked batch. */
typedef struct rec_iter {
	const unsigned char *p, *end; /* the text still to walk */
	const unsigned char *tp, *tend; /* timed: the time deltas still to read */
	uint32_t left;
	int timed;	  /* REC_ATTR_TIMES */
	uint64_t offset;  /* of the record the next rec_iter_next returns */
	uint64_t bytepos; /* likewise */
	int64_t ts;	  /* after rec_iter_next: the returned record's time */
} rec_iter;

void rec_iter_init(rec_iter *it, const unsigned char *batch, const rec_batch *b);

/* The next record's payload (*payload, *len); its offset and bytepos are
** it->offset and it->bytepos before the call. Returns 1, or 0 at the end. */
int rec_iter_next(rec_iter *it, const unsigned char **payload, size_t *len);

/*
** Encoding. The caller provides a buffer of at least REC_HEADER_SIZE plus
** the rendered size of the records; rec_encode_text() or
** rec_encode_record() add records; rec_encode_end() writes the header and
** the CRC and returns the batch length.
**
** A timed batch (rec_encode_begin_timed, then rec_encode_record_at) gives
** each record its own time, so that rewrites can merge the batches of many
** appends into one without losing their times. Its time deltas are kept in
** ts (tscap bytes, at least 10 per record) until rec_encode_end() appends
** them, so the buffer must then also hold them.
*/
typedef struct rec_encoder {
	unsigned char *buf;
	size_t len;	  /* header and text so far */
	uint32_t count;
	int timed;
	int64_t first_ts, last_ts;
	unsigned char *ts; /* timed: the deltas so far */
	size_t tslen, tscap;
} rec_encoder;

void rec_encode_begin(rec_encoder *e, unsigned char *buf);
void rec_encode_begin_timed(rec_encoder *e, unsigned char *buf, unsigned char *ts, size_t tscap);

/* Add len bytes of complete lines (each ending with "\n"), nlines of them. */
void rec_encode_text(rec_encoder *e, const void *text, size_t len, uint32_t nlines);

/* Add a record of len bytes; the caller copies its payload to the returned
** pointer (the "\n" after it is written here). */
unsigned char *rec_encode_record(rec_encoder *e, size_t len);

/* The same in a timed batch; ts must not be older than the previous one. */
unsigned char *rec_encode_record_at(rec_encoder *e, size_t len, int64_t ts_ms);

/* Bytes the batch would take now (header, text and time deltas). */
size_t rec_encode_size(const rec_encoder *e);

/* Write the header and the CRC; returns the batch length. timestamp_ms is
** the batch's time (a timed batch uses its first record's). */
size_t rec_encode_end(rec_encoder *e, uint64_t base_offset, uint64_t base_bytepos,
		      int64_t timestamp_ms);

/*
** An append's one pass over the text it was given (the iovcnt pieces of
** iov): returns their CRC-32C, and in *lines the number of "\n" bytes.
*/
uint32_t rec_text_scan(const struct iovec *iov, int iovcnt, size_t *lines);

/* rec_text_scan, and the pieces copied one after the other to dst in the
** same pass (crc32c_count_copy). */
uint32_t rec_text_copy(void *dst, const struct iovec *iov, int iovcnt, size_t *lines);

/*
** The header of an untimed batch whose text (total bytes, count complete
** lines) has the CRC text_crc (rec_text_scan), into h (REC_HEADER_SIZE
** bytes), the batch's CRC included: h followed by the text is the batch,
** ready for one pwritev. Returns the batch's length.
*/
size_t rec_encode_header(unsigned char *h, uint32_t text_crc, size_t total, uint32_t count,
			 uint64_t base_offset, uint64_t base_bytepos, int64_t timestamp_ms);

#endif

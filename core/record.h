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

#define REC_HEADER_SIZE 48
#define REC_MAGIC 1
#define REC_MAX_BATCH (256u << 20) /* longest batch accepted when decoding */

/* A decoded batch header. */
typedef struct rec_batch {
	uint32_t crc;
	uint32_t length; /* whole batch, header included */
	uint32_t count;	 /* records, >= 1 */
	uint32_t rendered; /* sum of (payload length + 1) */
	uint64_t base_offset;
	uint64_t base_bytepos;
	int64_t timestamp_ms;
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
	const unsigned char *p, *end;
	uint32_t left;
	uint64_t offset;  /* of the record the next rec_iter_next returns */
	uint64_t bytepos; /* likewise */
} rec_iter;

void rec_iter_init(rec_iter *it, const unsigned char *batch, const rec_batch *b);

/* The next record's payload (*payload, *len); its offset and bytepos are
** it->offset and it->bytepos before the call. Returns 1, or 0 at the end. */
int rec_iter_next(rec_iter *it, const unsigned char **payload, size_t *len);

/*
** Encoding. rec_encode_begin() reserves the header; rec_encode_record()
** adds one payload; rec_encode_end() writes the header and the CRC. The
** caller provides a buffer of at least REC_HEADER_SIZE + sum(len + 10).
*/
typedef struct rec_encoder {
	unsigned char *buf;
	size_t len;
	uint32_t count;
	uint64_t rendered;
} rec_encoder;

void rec_encode_begin(rec_encoder *e, unsigned char *buf);
/* Adds a record of len bytes; its bytes are copied in by the caller at the
** returned pointer (so that a payload spread over iovecs needs no copy). */
unsigned char *rec_encode_record(rec_encoder *e, size_t len);
/* Returns the batch length. */
size_t rec_encode_end(rec_encoder *e, uint64_t base_offset, uint64_t base_bytepos,
		      int64_t timestamp_ms);

/* Bytes that a record of len bytes takes in a batch. */
size_t rec_encoded_size(size_t len);

#endif

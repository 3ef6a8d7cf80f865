/*
** inspect.h: the offline inspector of a data directory (`topicfs dump`).
**
** It reads DATADIR's files as they are, without opening a store: it takes
** no lock, recovers nothing, and opens every file read-only, so it can look
** at a data directory that a crash left behind, that the daemon refuses to
** mount, or that is mounted right now (the newest segments may then grow
** while it reads, which it reports as notes, never as damage).
**
** It lists each topic (settings, consumer positions) and each segment
** (offsets, file size, compression), checks every segment header, every
** batch CRC (every zstd frame's checksum and the batches inside it), every
** index file and its agreement with its segment, and can print every
** record with its offset, append time and key.
**
** Findings are of two kinds:
**   DAMAGE  what the daemon never leaves: a CRC that fails in a segment
**           header, a batch, a frame or a sealed index; bytes that hold no
**           valid batch but are followed by valid ones; a sealed segment
**           that ends in unreadable bytes; an index the daemon would trust
**           that points at the wrong place; a missing or unreadable
**           topic.conf; a damaged consumer position.
**   note    what a crash or a running daemon leaves and the next mount
**           repairs without losing an acknowledged record: a torn tail of
**           the newest segment (bytes after its last valid batch with no
**           valid batch after them: the mount cuts them), a newest segment
**           whose header fails its check (a power loss before its first
**           sync tears it; the mount rebuilds it), an unsynced or stale
**           index (rebuilt at mount), ".tmp" files of an interrupted
**           rewrite, segments that a compaction merged into the one
**           before them but had not yet removed (the mount removes them;
**           they are not counted), leftovers in tmp/ and trash/.
*/
#ifndef TOPICFS_INSPECT_H
#define TOPICFS_INSPECT_H

#include <stdint.h>
#include <stdio.h>

typedef struct inspect_opts {
	const char *topic;     /* only this topic; NULL: every topic */
	int records;	       /* print every record */
	uint64_t from_offset;  /* with records: only those at or after it */
	FILE *out;	       /* the listing */
	FILE *err;	       /* why DATADIR cannot be inspected */
} inspect_opts;

typedef struct inspect_report {
	uint64_t topics;
	uint64_t segments;
	uint64_t records;  /* valid records seen */
	uint64_t damage;   /* DAMAGE lines printed */
	uint64_t notes;	   /* note lines printed */
	int mounted;	   /* a process holds DATADIR's lock (pid in mounted_pid) */
	long mounted_pid;
} inspect_report;

/*
** Inspect the data directory at path, printing the listing (and a last
** summary line) to o->out. The core's own log lines about damage are the
** caller's to silence (log_set_sink): the listing says it all, naming topic,
** segment, byte and offsets.
**
** Returns 0 when the directory was inspected (*rep says whether damage was
** found); -ENOENT when path does not exist, -ENOTDIR when it is not a
** topicfs data directory (no topics/ in it), -ESRCH when o->topic names no
** topic, or another negative errno; a line saying why goes to o->err.
*/
int inspect_datadir(const char *path, const inspect_opts *o, inspect_report *rep);

#endif

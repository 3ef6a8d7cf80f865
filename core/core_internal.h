/*
** core_internal.h: the structures that topic.c, segment.c, cursor.c and
** store.c share. Nothing outside core/ includes this file.
**
** LOCKING. A topic has two mutexes:
**   append_mu  serialises the writers of a topic: appends and rolls. It is
**              held across the write(2) of a batch, so writers queue behind
**              each other as they would on one O_APPEND file. Only its
**              holder changes which segment is the newest.
**   mu         protects the published state: the segment list, each
**              segment's size, ends, counts and index, the settings, the
**              name. It is held only for short, I/O-free sections, so a
**              reader never waits for a writer's I/O. Retention
**              (topic_drop_oldest) and rewrites (topic_replace_segments)
**              change the segment list under mu alone, so a holder of
**              append_mu reads the list under mu too.
** Order: append_mu before mu. A store's own mutex (store.c) is taken before
** either. A third, fill_mu, is prefill.c's: taken after append_mu (or
** alone, by the helper that writes ahead of the newest batch), before mu.
** A segment is reference-counted; a cursor or a sync holds a reference
** while it uses the segment without mu.
*/
#ifndef TOPICFS_CORE_INTERNAL_H
#define TOPICFS_CORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "index.h"
#include "store.h"

typedef struct seg {
	atomic_int refs;
	uint64_t base_offset;
	uint64_t base_bytepos;
	int64_t created_ms;
	uint64_t generation; /* 0 when created, +1 at every rewrite */
	uint32_t hdr_crc;    /* the header's crc: names this version of the file */
	int fd;	       /* the segment file, read-only once sealed */
	int idx_fd;    /* the newest segment's growing index file, else -1 */
	int compressed;
	/* Compaction and compression pass over it: records of it cannot be
	** read, or its file cannot be replaced (compact.c, pass_over). */
	atomic_int passed_over;
	/* Protected by the topic's mu: */
	int sealed;
	int seal_pending; /* sealed in memory; data sync and sealed index to do */
	int header_synced; /* a data sync of the file since its header was written */
	int64_t cleaned_ms; /* when compaction first rewrote it; 0: never (header) */
	uint32_t clean_flags; /* SEG_CLEAN_* (header) */
	uint64_t size;	      /* file bytes that hold valid batches */
	uint64_t end_offset;  /* newest: next offset; sealed: the successor's base */
	uint64_t end_bytepos; /* likewise for byte positions */
	uint64_t records;
	int64_t max_ts_ms;
	uint64_t last_index_loc; /* location of the newest index entry */
	idx index;
	/* Room made ahead of the batches (prefill.c). map, room_end and
	** fill_from change under the topic's fill_mu, map and no_room also
	** under append_mu, zapped only under fill_mu; the atomics are the
	** writer's and the helper's handshake (prefill.c). */
	unsigned char *map; /* the file mapped shared and writable, or NULL */
	uint64_t map_len;
	uint64_t room_end;	  /* the file's length when room was made past size */
	uint64_t zapped;	  /* the mapping below this was dropped */
	_Atomic uint64_t reserved; /* end of the batch being written, or of the last */
	_Atomic uint64_t ready;	  /* [.., ready) is mapped with its pages in */
	_Atomic uint64_t fill_from; /* while filling, the helper writes from */
	atomic_int filling;	  /* here to room_end: no append goes there */
	atomic_int step_waiters;  /* writers asleep until the step is over */
	atomic_int no_room;	  /* rolled, closed or failed: make no more room */
} seg;

struct topic {
	atomic_int refs;
	store *st;
	int dirfd; /* the topic's directory; follows renames */
	pthread_mutex_t append_mu;
	pthread_mutex_t mu;
	pthread_mutex_t seal_mu; /* one topic_finish_seals at a time */
	/* Held for reading by whatever uses dirfd outside append_mu (seals,
	** rewrites, consumer positions, segment removals, directory syncs;
	** topic_dir_hold), and for writing by store_topic_delete once the
	** topic is marked deleted: the directory it then removes gets no new
	** file, and a release (topic_release_files, which puts /dev/null in
	** dirfd) comes after every such use. A
	** reader may hold it twice (a rewrite removes merged files): the
	** default kind prefers readers, so a waiting writer blocks none. */
	pthread_rwlock_t dir_lock;
	pthread_mutex_t fill_mu; /* held by a prefill step that writes outside append_mu */
	uint64_t mapped_appends;  /* batches copied into room made ahead; under append_mu */
	/* Written under name_mu and the store's mu; read under either
	** (topic_label, for log lines). name_mu is taken last, with any
	** other lock held or none, and nothing is taken under it. */
	pthread_mutex_t name_mu;
	char name[STORE_NAME_MAX + 1];
	/* Protected by mu: */
	seg **segs; /* oldest first; the last one is the newest, never sealed */
	size_t nsegs, segs_cap;
	cfg own; /* the topic's overrides, as stored in topic.conf */
	cfg eff; /* store defaults merged with own */
	mode_t mode;
	uid_t uid;
	gid_t gid;
	int64_t created_ms;
	int64_t last_ts_ms; /* newest batch's time; batch times never go back */
	int deleted;
	int open_files;	 /* topic_file_opened minus topic_file_closed */
	int dead_listed; /* deleted, on the store's list of topics to release */
	int failed; /* a sync failed: appends refuse with -EIO (see topic_sync) */
	uint64_t clean_offset; /* compaction has seen every record below this */
	uint64_t removed_below; /* segment files that start below this are leftovers */
	int meta_unsaved; /* clean_offset or removed_below not yet in topic.conf */
	uint64_t synced_offset; /* every record below this is on stable storage */
	int64_t synced_ms;	/* when the last sync finished */
	uint64_t rolls;		/* segments created by rolls (new directory entries) */
	uint64_t rolls_synced;	/* of those, made durable by a directory fsync
				** (topic_sync does it when they differ) */
	struct consumer *consumers; /* open consumers (consumer.c) */
	/* Segments off the list whose files could not be removed (a merge's
	** members, retention's oldest): retried at each maintenance pass
	** (topic_retry_removals), so that no later event brings them back. */
	uint64_t *unremoved;
	size_t nunremoved;
};

/* topic.c, for store.c */
int topic_create_dir(int parent_dirfd, const char *dirname, mode_t mode, uid_t uid, gid_t gid);
int topic_load(store *st, int topics_dirfd, const char *name, topic **out);
void topic_mark_deleted(topic *t);
/* Wait for every holder of the directory (topic_dir_hold) to be done. */
void topic_dir_wait(topic *t);
/* Hold the topic's directory to make files in it: 0, or -ENOENT (nothing
** held) when the topic was deleted. Release with topic_dir_release. */
int topic_dir_hold(topic *t);
void topic_dir_release(topic *t);
int topic_deleted(topic *t);
/* A deleted topic whose last open file closed: the background thread lets
** go of its segments (store_release_dead, topic_release_files). */
void store_add_dead(store *s, topic *t);
void topic_release_files(topic *t);
/* A segment with no files and no records, ending where a log ended: the
** one segment of a deleted topic after topic_release_files. */
int seg_new_empty(uint64_t offset, uint64_t bytepos, seg **out);
void topic_set_name(topic *t, const char *name);
/* Cut the newest segment back to its batches: no room ahead (prefill.c). */
void topic_release_room(topic *t);

/* topic.c, for maint.c and compact.c (the background thread) */
/* A quiet topic's newest segment gives back the room made ahead of a bulk
** writer (the file is cut to its batches), when no batch was appended
** after quiet_since_ms (checked under append_mu, so that a writer that
** comes meanwhile keeps its room); room is made again for the next bulk
** writer. Returns whether there was any. */
int topic_give_back_room(topic *t, int64_t quiet_since_ms);
/* Put nw in place of old[0..n), consecutive sealed segments of the list,
** and remove the files of old[1..n) (nw, a merge of them, has the files of
** old[0]'s name); takes over nw's reference. Returns -ENOENT (and drops nw)
** when they are no longer listed so. */
int topic_replace_segments(topic *t, seg *const *old, size_t n, seg *nw);
/* Sync the segments that rolls sealed and write their sealed indexes. */
int topic_finish_seals(topic *t);
/* Delete the oldest segment (never the newest), files and all. -EAGAIN
** when there is none to delete, -ENOENT when the topic was deleted. */
int topic_drop_oldest(topic *t);
/* Remove the files of segments whose removal failed before, and store the
** metadata a failed write left in memory only (topic.c, save_meta).
** Returns how many segments are still left, or -ENOMEM. */
int topic_retry_removals(topic *t);
/* Record (durably, in topic.conf) how far compaction has read. */
int topic_set_clean_offset(topic *t, uint64_t offset);
/* Snapshot of the sealed segments whose sealing is finished, referenced;
** release with segs_release. */
int topic_sealed_segments(topic *t, seg ***out, size_t *n);
void segs_release(seg **v, size_t n);

/* store.c, for topic.c */
const cfg *store_defaults(const store *s);
struct prefill *store_prefill(const store *s); /* the store's prefill helper (prefill.c) */

#endif

/*
** ops.h: the mount context and the FUSE request handlers.
**
** A struct tfs is one mount: the store, the inode table, the open files and
** the options. main() creates it, hands it to fuse_session_new() as the
** session's userdata together with tfs_ops, and frees it after the session
** loop has ended and before store_close().
*/
#ifndef TOPICFS_FS_OPS_H
#define TOPICFS_FS_OPS_H

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

#include <stdint.h>

#include "../core/store.h"

struct tfs;

/*
** A mount context for the data directory at datadir (an absolute path,
** copied; statfs reports its file system). The store is attached later
** with tfs_set_store(), before the session is mounted.
** Returns 0 and *out, or -ENOMEM.
*/
int tfs_new(const char *datadir, int64_t maintenance_interval_ms,
	    struct tfs **out /* OUT */);

/* Attach the open store s (the context does not own it). */
void tfs_set_store(struct tfs *fs, store *s);

/*
** Start the store's background thread (core/maint.h), visiting every topic
** every maintenance_interval_ms. Call it after fuse_daemonize(): threads do
** not survive its fork. Returns 0 or a negative errno.
*/
int tfs_maint_start(struct tfs *fs);

/* Stop the background thread, if it runs. Call it before store_close(). */
void tfs_maint_stop(struct tfs *fs);

/*
** Close the files still open (appending their pending partial lines) and
** forget every inode, dropping every topic reference, then free fs. Call it
** after the session loop has returned, before store_close(). fs may be NULL.
*/
void tfs_free(struct tfs *fs);

/* The request handlers; the session's userdata must be a struct tfs. */
extern const struct fuse_lowlevel_ops tfs_ops;

#endif

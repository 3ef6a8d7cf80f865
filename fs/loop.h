/*
** loop.h: the session loop, the threads that read FUSE requests and
** serve them (in place of libfuse's fuse_session_loop_mt).
*/
#ifndef TOPICFS_LOOP_H
#define TOPICFS_LOOP_H

struct fuse_session;

/* Serve se until it is unmounted or a signal ends it (the handlers of
** fuse_set_signal_handlers). Returns 0, or a negative errno when the
** loop could not start. */
int tfs_loop_run(struct fuse_session *se);

#endif

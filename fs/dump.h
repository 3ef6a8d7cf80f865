/*
** dump.h: the `topicfs dump` subcommand (also run as `topicfs-dump`), the
** command line of the offline inspector (core/inspect.h).
*/
#ifndef TOPICFS_FS_DUMP_H
#define TOPICFS_FS_DUMP_H

/* 1 when argv asks for the inspector: argv[0]'s base name is
** "topicfs-dump", or argv[1] is "dump". */
int tfs_dump_wanted(int argc, char *argv[]);

/* Run the inspector; returns the exit status: 0 no damage, 1 damage found,
** 2 bad arguments or a data directory that cannot be inspected. */
int tfs_dump_main(int argc, char *argv[]);

#endif

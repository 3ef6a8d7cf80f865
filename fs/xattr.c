/*
** xattr.c: see xattr.h.
**
** Unknown names read as -ENODATA, never -ENOTSUP: ls, cp and tar probe
** security.* and system.* on every file, and ENODATA is the answer that
** means "this file has none" without making them warn.
*/
#include "xattr.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "../core/config.h"
#include "../core/consumer.h"
#include "../core/topic.h"
#include "log.h"

#define USER_PREFIX "user."
#define FIGURE_PREFIX "user.topicfs."
#define POSITION_NAME "user.topicfs.offset"

enum figure {
	FIG_START_OFFSET,
	FIG_END_OFFSET,
	FIG_RECORDS,
	FIG_SEGMENTS,
	FIG_STORED_BYTES,
	FIG_COUNT
};

static const char *const figure_names[FIG_COUNT] = {
	[FIG_START_OFFSET] = "start_offset",
	[FIG_END_OFFSET] = "end_offset",
	[FIG_RECORDS] = "records",
	[FIG_SEGMENTS] = "segments",
	[FIG_STORED_BYTES] = "stored_bytes",
};

/* The figure called name (with its "user.topicfs." prefix), or -1. */
static int figure_find(const char *name)
{
	int i;

	if (strncmp(name, FIGURE_PREFIX, strlen(FIGURE_PREFIX)) != 0)
		return -1;
	name += strlen(FIGURE_PREFIX);
	for (i = 0; i < FIG_COUNT; i++)
		if (strcmp(name, figure_names[i]) == 0)
			return i;
	return -1;
}

/* The setting called name (with its "user." prefix), or -1. */
static int setting_find(const char *name)
{
	int k;

	if (strncmp(name, USER_PREFIX, strlen(USER_PREFIX)) != 0)
		return -1;
	k = cfg_key_find(name + strlen(USER_PREFIX));
	return k < 0 ? -1 : k;
}

static uint64_t figure_value(topic *t, int fig)
{
	topic_info info;

	topic_get_info(t, &info);
	switch (fig) {
	case FIG_START_OFFSET:
		return info.start_offset;
	case FIG_END_OFFSET:
		return info.end_offset;
	case FIG_RECORDS:
		return info.records;
	case FIG_SEGMENTS:
		return info.segments;
	default:
		return info.stored_bytes;
	}
}

/* Copy len bytes of value out as getxattr(2) does. */
static ssize_t copy_out(const char *value, size_t len, char *buf, size_t size)
{
	if (size == 0)
		return (ssize_t)len;
	if (len > size)
		return -ERANGE;
	memcpy(buf, value, len);
	return (ssize_t)len;
}

/* A consumer's position; its consumer is created if it is new. */
static ssize_t position_get(const tfs_inode *in, const char *name, char *buf,
			    size_t size)
{
	char value[32];
	consumer *c;
	int rc, len;

	if (strcmp(name, POSITION_NAME) != 0)
		return -ENODATA;
	rc = consumer_open(in->t, in->name, 0, &c);
	if (rc == -ENOENT)
		return copy_out("0", 1, buf, size); /* where it would start */
	if (rc < 0)
		return rc;
	len = snprintf(value, sizeof(value), "%" PRIu64, consumer_offset(c));
	consumer_close(c);
	return copy_out(value, (size_t)len, buf, size);
}

static int position_set(const tfs_inode *in, const char *name,
			const char *value, size_t size, int flags)
{
	char buf[32], *end, label[TFS_LABEL_MAX];
	unsigned long long v;
	consumer *c;
	int rc;

	tfs_inode_label(in, label, sizeof(label));
	if (strcmp(name, POSITION_NAME) != 0) {
		tfs_log("setxattr '%s' %s: a consumer has only %s",
			label, name, POSITION_NAME);
		return strncmp(name, USER_PREFIX, strlen(USER_PREFIX)) ? -ENOTSUP
									: -EINVAL;
	}
	if (flags & XATTR_CREATE) {
		tfs_log("setxattr '%s' %s: exists (every consumer has a "
			"position)", label, name);
		return -EEXIST;
	}
	if (size == 0 || size >= sizeof(buf) || value[0] < '0' || value[0] > '9')
		goto bad;
	memcpy(buf, value, size);
	buf[size] = '\0';
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno != 0 || *end != '\0')
		goto bad;
	rc = consumer_open(in->t, in->name, 1, &c);
	if (rc < 0)
		return rc;
	rc = consumer_seek(c, (uint64_t)v);
	consumer_close(c);
	return rc;
bad:
	tfs_log("setxattr '%s' %s: not an offset (a decimal number)", label,
		name);
	return -EINVAL;
}

ssize_t tfs_xattr_get(const tfs_inode *in, const char *name, char *buf,
		      size_t size)
{
	char value[CFG_VALUE_MAX];
	topic *t = in->t;
	int k, fig, len;

	if (in->kind == TFS_CONSUMER)
		return position_get(in, name, buf, size);
	if (in->kind != TFS_TOPIC)
		return -ENODATA;

	fig = figure_find(name);
	if (fig >= 0) {
		len = snprintf(value, sizeof(value), "%" PRIu64,
			       figure_value(t, fig));
		return copy_out(value, (size_t)len, buf, size);
	}
	k = setting_find(name);
	if (k >= 0) {
		cfg c;

		topic_config(t, &c);
		len = cfg_get(&c, k, value, sizeof(value));
		if (len < 0)
			return -ENODATA;
		return copy_out(value, (size_t)len, buf, size);
	}
	return -ENODATA;
}

ssize_t tfs_xattr_list(const tfs_inode *in, char *buf, size_t size)
{
	size_t total = 0;
	int k, i;

	if (in->kind == TFS_CONSUMER)
		return copy_out(POSITION_NAME, sizeof(POSITION_NAME), buf, size);
	if (in->kind != TFS_TOPIC)
		return 0;
	/* every topic has every setting and figure */
	for (k = 0; k < CFG_NKEYS; k++)
		total += strlen(USER_PREFIX) + strlen(cfg_key_name(k)) + 1;
	for (i = 0; i < FIG_COUNT; i++)
		total += strlen(FIGURE_PREFIX) + strlen(figure_names[i]) + 1;
	if (size == 0)
		return (ssize_t)total;
	if (total > size)
		return -ERANGE;

	for (k = 0; k < CFG_NKEYS; k++)
		buf += sprintf(buf, "%s%s", USER_PREFIX, cfg_key_name(k)) + 1;
	for (i = 0; i < FIG_COUNT; i++)
		buf += sprintf(buf, "%s%s", FIGURE_PREFIX, figure_names[i]) + 1;
	return (ssize_t)total;
}

int tfs_xattr_set(const tfs_inode *in, const char *name, const char *value,
		  size_t size, int flags)
{
	char tname[STORE_NAME_MAX + 1], label[TFS_LABEL_MAX];
	topic *t = in->t;
	int k, rc;

	if (in->kind == TFS_CONSUMER)
		return position_set(in, name, value, size, flags);
	if (in->kind != TFS_TOPIC) {
		tfs_log("setxattr '%s' %s: only topic directories and consumer "
			"files have attributes",
			tfs_inode_label(in, label, sizeof(label)), name);
		return -ENOTSUP;
	}
	topic_name(t, tname);
	if (strncmp(name, USER_PREFIX, strlen(USER_PREFIX)) != 0) {
		tfs_log("setxattr '%s' %s: only user.* attributes exist",
			tname, name);
		return -ENOTSUP;
	}
	if (figure_find(name) >= 0) {
		tfs_log("setxattr '%s' %s: read-only", tname, name);
		return -EPERM;
	}
	k = setting_find(name);
	if (k < 0) {
		tfs_log("setxattr '%s' %s: no such setting", tname, name);
		return -EINVAL;
	}
	if (flags & XATTR_CREATE) {
		tfs_log("setxattr '%s' %s: exists (every setting does)",
			tname, name);
		return -EEXIST;
	}
	/* The core logs a bad value itself. */
	rc = topic_config_set(t, k, value, size);
	if (rc == -ENOENT)
		tfs_log("setxattr '%s' %s: the topic was deleted", tname, name);
	return rc;
}

int tfs_xattr_remove(const tfs_inode *in, const char *name)
{
	char label[TFS_LABEL_MAX];
	int k, rc;

	tfs_inode_label(in, label, sizeof(label));
	if (in->kind == TFS_CONSUMER && strcmp(name, POSITION_NAME) == 0) {
		tfs_log("removexattr '%s' %s: a consumer always has a "
			"position; rm its file to forget it", label, name);
		return -EPERM;
	}
	if (in->kind == TFS_TOPIC && figure_find(name) >= 0) {
		tfs_log("removexattr '%s' %s: read-only", label, name);
		return -EPERM;
	}
	k = in->kind == TFS_TOPIC ? setting_find(name) : -1;
	if (k < 0) {
		tfs_log("removexattr '%s' %s: no such attribute (%s)", label,
			name,
			in->kind == TFS_TOPIC ? "not a setting"
			: in->kind == TFS_CONSUMER
				? "a consumer has only " POSITION_NAME
				: "only topic directories and consumer files "
				  "have attributes");
		return -ENODATA;
	}
	rc = topic_config_unset(in->t, k); /* back to the mount's default */
	if (rc == -ENOENT)
		tfs_log("removexattr '%s' %s: the topic was deleted", label,
			name);
	return rc;
}

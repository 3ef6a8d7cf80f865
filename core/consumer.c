/*
** consumer.c: named reader positions (see consumer.h for the contract).
**
** CONSUMER FILE ("consumers/NAME.pos" in the topic's directory): the text
** "offset=N\n", N the offset of the next record to deliver. Replaced
** durably as a whole (io_replace_file), so it is always one whole value.
**
** The open consumers of a topic are on a list in the topic (t->consumers,
** protected by t->mu), so that every open of one name shares one position.
** A consumer's own mutex serialises its reads: that is what hands each
** record to exactly one of several readers.
*/
#include "consumer.h"

#include <dirent.h>
#include <stdatomic.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core_internal.h"
#include "cursor.h"
#include "io.h"
#include "log.h"
#include "topic.h"

#define DIR_NAME "consumers"
#define SUFFIX ".pos"

struct consumer {
	topic *t; /* referenced */
	char name[STORE_NAME_MAX + 1];
	int refs;		/* protected by t->mu */
	struct consumer *next;	/* on t->consumers; protected by t->mu */
	pthread_mutex_t mu;	/* serialises reads and seeks; protects below */
	uint64_t offset;	/* next record to deliver */
	uint64_t stored;	/* the offset the file holds */
	int store_failing;	/* the last store failed (logged once) */
	atomic_int removed;	/* forgotten: store nothing any more */
	cursor *cur;		/* at offset (plus partial bytes), or NULL */
	size_t partial;		/* bytes of record `offset` handed out already */
	size_t partial_total;	/* that record's length + 1 */
};

/* The topic's consumers/ directory. A deleted topic has none: its
** directory is gone, and after topic_release_files so is its descriptor. */
static int open_dir(topic *t, int create)
{
	if (topic_deleted(t))
		return -ENOENT;
	int fd = openat(t->dirfd, DIR_NAME, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create) {
		if (mkdirat(t->dirfd, DIR_NAME, 0755) < 0 && errno != EEXIST)
			return -errno;
		io_fsync(t->dirfd);
		fd = openat(t->dirfd, DIR_NAME, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	return fd < 0 ? -errno : fd;
}

static int store_offset(topic *t, const char *name, uint64_t offset)
{
	char file[STORE_NAME_MAX + 8], text[40];
	int fd, rc;

	if ((rc = topic_dir_hold(t)) < 0)
		return rc;
	if ((fd = open_dir(t, 1)) < 0) {
		topic_dir_release(t);
		return fd;
	}
	snprintf(file, sizeof file, "%s" SUFFIX, name);
	int n = snprintf(text, sizeof text, "offset=%" PRIu64 "\n", offset);
	rc = io_replace_file(fd, file, text, (size_t)n);
	close(fd);
	topic_dir_release(t);
	return rc;
}

static int load_offset(topic *t, const char *name, uint64_t *offset)
{
	char file[STORE_NAME_MAX + 8], *buf, *end;
	size_t len;
	int fd = open_dir(t, 0), rc;

	if (fd < 0)
		return fd;
	snprintf(file, sizeof file, "%s" SUFFIX, name);
	rc = io_read_file(fd, file, &buf, &len);
	close(fd);
	if (rc < 0)
		return rc;
	errno = 0;
	if (strncmp(buf, "offset=", 7) || buf[7] < '0' || buf[7] > '9')
		rc = -EBADMSG;
	else {
		unsigned long long v = strtoull(buf + 7, &end, 10);
		if (errno || *end != '\n')
			rc = -EBADMSG;
		else
			*offset = v;
	}
	if (rc < 0)
		log_error("topic %s: consumer %s: its file %s is damaged; starting it over from offset 0",
			  topic_label(t), name, file);
	free(buf);
	return rc;
}

static consumer *find(topic *t, const char *name)
{
	for (consumer *c = t->consumers; c; c = c->next)
		if (!c->removed && !strcmp(c->name, name))
			return c;
	return NULL;
}

int consumer_open(topic *t, const char *name, int create, consumer **out)
{
	consumer *c;
	uint64_t offset = 0;
	int rc;

	if (!store_name_valid(name))
		return -EINVAL;
	pthread_mutex_lock(&t->mu);
	if ((c = find(t, name)) != NULL) {
		c->refs++;
		pthread_mutex_unlock(&t->mu);
		*out = c;
		return 0;
	}
	pthread_mutex_unlock(&t->mu);

	/* First open: load or create it, one thread at a time (append_mu
	** serialises this rare path against itself). */
	pthread_mutex_lock(&t->append_mu);
	pthread_mutex_lock(&t->mu);
	c = find(t, name);
	if (c)
		c->refs++;
	pthread_mutex_unlock(&t->mu);
	if (c)
		goto out;
	rc = load_offset(t, name, &offset);
	if (rc == -ENOENT && !create)
		goto fail;
	if (rc < 0) {
		offset = 0;
		if ((rc != -ENOENT && rc != -EBADMSG) || (rc = store_offset(t, name, 0)) < 0)
			goto fail;
	}
	if (!(c = calloc(1, sizeof *c))) {
		rc = -ENOMEM;
		goto fail;
	}
	snprintf(c->name, sizeof c->name, "%s", name);
	c->offset = c->stored = offset;
	c->refs = 1;
	pthread_mutex_init(&c->mu, NULL);
	topic_ref(t);
	c->t = t;
	pthread_mutex_lock(&t->mu);
	c->next = t->consumers;
	t->consumers = c;
	pthread_mutex_unlock(&t->mu);
out:
	pthread_mutex_unlock(&t->append_mu);
	*out = c;
	return 0;
fail:
	pthread_mutex_unlock(&t->append_mu);
	return rc;
}

int consumer_persist(consumer *c)
{
	int rc = 0;

	pthread_mutex_lock(&c->mu);
	if (!c->removed && c->offset != c->stored) {
		rc = store_offset(c->t, c->name, c->offset);
		if (rc == 0) {
			c->stored = c->offset;
			if (c->store_failing)
				log_info("topic %s: consumer %s: its position is stored again",
					 topic_label(c->t), c->name);
			c->store_failing = 0;
		} else if (rc == -ENOENT && topic_deleted(c->t)) {
			rc = 0; /* its topic went, and its file with it: nothing to keep */
		} else if (!c->store_failing) {
			/* logged once: the background thread tries at every pass */
			log_error("topic %s: consumer %s: cannot store its position %" PRIu64
				  ": %s; it is tried again within flush.ms and at close",
				  topic_label(c->t), c->name, c->offset, strerror(-rc));
			c->store_failing = 1;
		}
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

void consumer_close(consumer *c)
{
	topic *t = c->t;
	int last;

	/* append_mu keeps a new first open (consumer_open's slow path) from
	** loading the stored position before the last close has stored it. */
	pthread_mutex_lock(&t->append_mu);
	pthread_mutex_lock(&t->mu);
	last = --c->refs == 0;
	if (last) {
		for (consumer **p = &t->consumers; *p; p = &(*p)->next) {
			if (*p == c) {
				*p = c->next;
				break;
			}
		}
	}
	pthread_mutex_unlock(&t->mu);
	if (last)
		consumer_persist(c);
	pthread_mutex_unlock(&t->append_mu);
	if (!last)
		return;
	cur_close(c->cur);
	pthread_mutex_destroy(&c->mu);
	topic_unref(t);
	free(c);
}

int consumer_exists(topic *t, const char *name)
{
	uint64_t off;
	int found;

	if (!store_name_valid(name))
		return 0;
	pthread_mutex_lock(&t->mu);
	found = find(t, name) != NULL;
	pthread_mutex_unlock(&t->mu);
	return found || load_offset(t, name, &off) != -ENOENT;
}

void consumer_remove_leftovers(topic *t)
{
	DIR *d = io_opendir_at(t->dirfd, DIR_NAME);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (len > 4 && !strcmp(de->d_name + len - 4, ".tmp")) {
			log_info("topic %s: removing consumers/%s, left by an interrupted position update",
				 topic_label(t), de->d_name);
			unlinkat(dirfd(d), de->d_name, 0);
		}
	}
	closedir(d);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int consumer_names(topic *t, char ***names, size_t *n)
{
	DIR *d;
	struct dirent *de;
	char **v = NULL;
	size_t cnt = 0, cap = 0;

	*names = NULL;
	*n = 0;
	if (topic_deleted(t))
		return 0; /* as open_dir */
	d = io_opendir_at(t->dirfd, DIR_NAME);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (len <= strlen(SUFFIX) || strcmp(de->d_name + len - strlen(SUFFIX), SUFFIX))
			continue;
		if (cnt == cap) {
			cap = cap ? 2 * cap : 8;
			char **nv = realloc(v, cap * sizeof *nv);
			if (!nv)
				goto nomem;
			v = nv;
		}
		if (!(v[cnt] = strndup(de->d_name, len - strlen(SUFFIX))))
			goto nomem;
		cnt++;
	}
	closedir(d);
	if (cnt > 1) /* v is NULL when there is none */
		qsort(v, cnt, sizeof *v, cmp_str);
	*names = v;
	*n = cnt;
	return 0;
nomem:
	closedir(d);
	store_names_free(v, cnt);
	return -ENOMEM;
}

int consumer_remove(topic *t, const char *name)
{
	char file[STORE_NAME_MAX + 8];
	consumer *c;
	int fd, rc = 0;

	if (!store_name_valid(name))
		return -ENOENT;
	/* append_mu, as a first open and a last close take it: no open can
	** load the file between the unlink and the consumer's removal, and c
	** stays allocated. c->mu, as every store of its position takes it:
	** none can rename a new file over the unlinked one. Not c->mu under
	** t->mu: readers take them the other way round. */
	pthread_mutex_lock(&t->append_mu);
	pthread_mutex_lock(&t->mu);
	c = find(t, name);
	pthread_mutex_unlock(&t->mu);
	if (c) {
		pthread_mutex_lock(&c->mu);
		atomic_store(&c->removed, 1);
	}
	if ((fd = open_dir(t, 0)) < 0) {
		rc = c ? 0 : -ENOENT;
	} else {
		snprintf(file, sizeof file, "%s" SUFFIX, name);
		if (unlinkat(fd, file, 0) < 0)
			rc = errno == ENOENT && c ? 0 : -errno;
		else
			io_fsync(fd);
		close(fd);
		if (rc < 0 && rc != -ENOENT)
			log_error("topic %s: consumer %s: cannot remove its file: %s", topic_label(t), name,
				  strerror(-rc));
	}
	if (c)
		pthread_mutex_unlock(&c->mu);
	pthread_mutex_unlock(&t->append_mu);
	return rc;
}

uint64_t consumer_offset(consumer *c)
{
	pthread_mutex_lock(&c->mu);
	uint64_t off = c->offset;
	pthread_mutex_unlock(&c->mu);
	return off;
}

int consumer_seek(consumer *c, uint64_t offset)
{
	int rc = 0;

	pthread_mutex_lock(&c->mu);
	/* Stored first: a position that cannot be stored is not taken. */
	if (!c->removed && (rc = store_offset(c->t, c->name, offset)) < 0) {
		log_error("topic %s: consumer %s: cannot store position %" PRIu64
			  " (%s); it stays at %" PRIu64,
			  topic_label(c->t), c->name, offset,
			  rc == -ENOENT && topic_deleted(c->t) ? "the topic was deleted" : strerror(-rc),
			  c->offset);
	} else {
		if (!c->removed)
			c->stored = offset;
		c->offset = offset;
		c->partial = 0;
		cur_close(c->cur);
		c->cur = NULL;
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

/* Place c->cur at c->offset; caller holds c->mu. */
static int position(consumer *c)
{
	uint64_t bp;
	int rc;

	if (c->cur)
		return 0;
	rc = topic_offset_bytepos(c->t, c->offset, &bp);
	if (rc == -EAGAIN) {
		topic_info in;
		topic_get_info(c->t, &in);
		bp = in.end_bytepos;
	} else if (rc < 0) {
		return rc;
	}
	if ((rc = cur_open(c->t, bp, &c->cur)) < 0)
		return rc;
	cur_skip_below(c->cur, c->offset);
	return 0;
}

ssize_t consumer_read(consumer *c, void *buf, size_t len, int split)
{
	char *out = buf;
	size_t done = 0;
	cur_record r;
	ssize_t rc = 0;

	pthread_mutex_lock(&c->mu);
	if ((rc = position(c)) < 0)
		goto out;
	if (c->partial > 0) {
		/* The rest of a record longer than a read, as far as it fits. */
		size_t want = c->partial_total - c->partial;
		rc = cur_read(c->cur, out, want < len ? want : len);
		if (rc > 0) {
			c->partial += (size_t)rc;
			if (c->partial == c->partial_total) {
				c->partial = 0;
				c->offset++;
				cur_skip_below(c->cur, c->offset);
			}
		}
		goto out;
	}
	while (done < len) {
		if ((rc = cur_peek(c->cur, &r)) <= 0)
			break;
		if (r.len + 1 > len - done || (split && done > 0 && r.len + 1 == len - done)) {
			if (done > 0)
				break;
			/* A record longer than the whole read: hand out a piece. */
			c->offset = r.offset;
			c->partial_total = r.len + 1;
			rc = cur_read(c->cur, out, len);
			if (rc > 0)
				c->partial = (size_t)rc;
			goto out;
		}
		cur_next(c->cur, &r);
		memcpy(out + done, r.payload, r.len);
		out[done + r.len] = '\n';
		done += r.len + 1;
		c->offset = r.offset + 1;
	}
	if (done > 0 || rc >= 0)
		rc = (ssize_t)done;
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}

uint64_t consumer_bytepos(consumer *c)
{
	uint64_t bp;

	pthread_mutex_lock(&c->mu);
	if (c->cur) {
		bp = cur_pos(c->cur);
	} else if (topic_offset_bytepos(c->t, c->offset, &bp) < 0) {
		topic_info in;
		topic_get_info(c->t, &in);
		bp = in.end_bytepos;
	}
	pthread_mutex_unlock(&c->mu);
	return bp;
}

int consumer_persist_all(topic *t)
{
	consumer **v = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	pthread_mutex_lock(&t->mu);
	for (consumer *c = t->consumers; c; c = c->next) {
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			consumer **nv = realloc(v, cap * sizeof *nv);
			if (!nv)
				break;
			v = nv;
		}
		c->refs++;
		v[n++] = c;
	}
	pthread_mutex_unlock(&t->mu);
	for (size_t i = 0; i < n; i++) {
		int r = consumer_persist(v[i]);
		if (r < 0 && rc == 0)
			rc = r;
		consumer_close(v[i]);
	}
	free(v);
	return rc;
}

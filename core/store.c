/*
** store.c: the data directory.
**
** DATA DIRECTORY LAYOUT
**   lock          held with flock(LOCK_EX) by the process that has the
**                 store open; holds that process's pid, for people
**   topics/NAME/  one directory per topic (topic.c)
**   tmp/          topics being created: built here, then renamed into
**                 topics/, so a topic appears whole or not at all
**   trash/        topics being deleted: renamed here, then removed, so a
**                 crash halfway through a deletion never leaves half a topic
** tmp/ and trash/ are emptied at every open.
**
** The store keeps its topics in an array sorted by name (binary search for
** lookups, and readdir order for free), protected by the store's mutex. The
** mutex is held across the renames of create, delete and rename so that
** two of them can't race for one name.
*/
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core_internal.h"
#include "io.h"
#include "log.h"
#include "prefill.h"
#include "topic.h"

struct store {
	int dirfd;
	int lockfd;
	int topics_fd, tmp_fd, trash_fd;
	cfg defaults;
	pthread_mutex_t mu;
	topic **topics; /* sorted by name; protected by mu */
	size_t n, cap;
	unsigned long seq; /* names in tmp/ and trash/; protected by mu */
	prefill *prefill;  /* room ahead of bulk writers (prefill.c) */
	topic **dead;	   /* deleted topics to release (store_release_dead); under mu */
	size_t ndead, dead_cap;
};

const cfg *store_defaults(const store *s)
{
	return &s->defaults;
}

prefill *store_prefill(const store *s)
{
	return s->prefill;
}

int store_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > STORE_NAME_MAX || !strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* Position of name in s->topics, or where it would go (*found = 0). */
static size_t find(const store *s, const char *name, int *found)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->topics[mid]->name, name);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

static int insert(store *s, topic *t)
{
	int found;
	size_t at = find(s, t->name, &found);

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		topic **nv = realloc(s->topics, cap * sizeof *nv);
		if (!nv)
			return -ENOMEM;
		s->topics = nv;
		s->cap = cap;
	}
	memmove(s->topics + at + 1, s->topics + at, (s->n - at) * sizeof *s->topics);
	s->topics[at] = t;
	s->n++;
	return 0;
}

static void remove_at(store *s, size_t at)
{
	memmove(s->topics + at, s->topics + at + 1, (s->n - at - 1) * sizeof *s->topics);
	s->n--;
}

static int open_subdir(int dirfd, const char *name, int *out)
{
	if (mkdirat(dirfd, name, 0755) < 0 && errno != EEXIST)
		return -errno;
	*out = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return *out < 0 ? -errno : 0;
}

/* Remove everything inside the directory dirfd. */
static void empty_dir(int dirfd, const char *what)
{
	DIR *d = io_opendir_at(dirfd, NULL);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		log_info("removing %s/%s, left by an interrupted %s", what, de->d_name,
			 !strcmp(what, "tmp") ? "topic creation" : "topic deletion");
		io_remove_tree(dirfd, de->d_name);
	}
	closedir(d);
}

static int load_topics(store *s)
{
	DIR *d = io_opendir_at(s->topics_fd, NULL);
	struct dirent *de;
	int rc = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		topic *t;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!store_name_valid(de->d_name)) {
			log_warn("ignoring topics/%s: not a valid topic name", de->d_name);
			continue;
		}
		rc = topic_load(s, s->topics_fd, de->d_name, &t);
		if (rc < 0) {
			/* Refuse to open rather than hide a topic: its files stay as
			** they are for an operator to look at. */
			log_error("cannot open topic %s: %s", de->d_name, strerror(-rc));
			break;
		}
		if ((rc = insert(s, t)) < 0) {
			topic_unref(t);
			break;
		}
	}
	closedir(d);
	return rc;
}

int store_open(const char *path, const cfg *defaults, store **out)
{
	store *s = calloc(1, sizeof *s);
	int rc;

	if (!s)
		return -ENOMEM;
	s->dirfd = s->lockfd = s->topics_fd = s->tmp_fd = s->trash_fd = -1;
	s->defaults = *defaults;
	pthread_mutex_init(&s->mu, NULL);
	if ((rc = prefill_new(&s->prefill)) < 0)
		goto fail;
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		goto fail;
	}
	s->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		rc = -errno;
		goto fail;
	}
	s->lockfd = openat(s->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (s->lockfd < 0) {
		rc = -errno;
		goto fail;
	}
	if (flock(s->lockfd, LOCK_EX | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		goto fail;
	}
	store_write_pid(s);
	if ((rc = open_subdir(s->dirfd, "topics", &s->topics_fd)) < 0 ||
	    (rc = open_subdir(s->dirfd, "tmp", &s->tmp_fd)) < 0 ||
	    (rc = open_subdir(s->dirfd, "trash", &s->trash_fd)) < 0)
		goto fail;
	empty_dir(s->tmp_fd, "tmp");
	empty_dir(s->trash_fd, "trash");
	if ((rc = load_topics(s)) < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	store_close(s);
	return rc;
}

int store_write_pid(store *s)
{
	char pid[32];

	snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(s->lockfd, 0) < 0)
		return -errno;
	return io_pwrite_all(s->lockfd, pid, strlen(pid), 0);
}

int store_sync(store *s)
{
	int rc = 0;
	topic **v;
	size_t n;

	pthread_mutex_lock(&s->mu);
	n = s->n;
	v = malloc((n ? n : 1) * sizeof *v);
	if (!v) {
		pthread_mutex_unlock(&s->mu);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		v[i] = s->topics[i];
		topic_ref(v[i]);
	}
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; i < n; i++) {
		int r = topic_sync(v[i]);
		if (r < 0 && rc == 0)
			rc = r;
		topic_unref(v[i]);
	}
	free(v);
	return rc;
}

int store_close(store *s)
{
	int rc = 0;

	if (!s)
		return 0;
	/* The helper first: it holds references to topics and segments. Then
	** every newest segment is cut back to its batches before the sync. */
	prefill_free(s->prefill);
	s->prefill = NULL; /* the releases below have no helper to tell */
	for (size_t i = 0; i < s->n; i++)
		topic_release_room(s->topics[i]);
	if (s->lockfd >= 0 && s->topics)
		rc = store_sync(s);
	for (size_t i = 0; i < s->n; i++)
		topic_unref(s->topics[i]);
	free(s->topics);
	for (size_t i = 0; i < s->ndead; i++)
		topic_unref(s->dead[i]);
	free(s->dead);
	if (s->topics_fd >= 0)
		close(s->topics_fd);
	if (s->tmp_fd >= 0)
		close(s->tmp_fd);
	if (s->trash_fd >= 0)
		close(s->trash_fd);
	if (s->lockfd >= 0)
		close(s->lockfd); /* releases the flock */
	if (s->dirfd >= 0)
		close(s->dirfd);
	pthread_mutex_destroy(&s->mu);
	free(s);
	return rc;
}

int store_topic_get(store *s, const char *name, topic **out)
{
	int found;
	size_t at;

	pthread_mutex_lock(&s->mu);
	at = find(s, name, &found);
	if (found) {
		*out = s->topics[at];
		topic_ref(*out);
	}
	pthread_mutex_unlock(&s->mu);
	return found ? 0 : -ENOENT;
}

int store_topic_create(store *s, const char *name, mode_t mode, uid_t uid, gid_t gid, topic **out)
{
	char tmpname[64];
	topic *t = NULL;
	int found, rc;

	if (!store_name_valid(name)) {
		log_warn("refused topic name '%.64s': use 1-%d of A-Za-z0-9._- (not . or ..)", name,
			 STORE_NAME_MAX);
		return -EINVAL;
	}
	pthread_mutex_lock(&s->mu);
	find(s, name, &found);
	if (found) {
		rc = -EEXIST;
		goto out;
	}
	snprintf(tmpname, sizeof tmpname, "new.%lu", s->seq++);
	if ((rc = topic_create_dir(s->tmp_fd, tmpname, mode, uid, gid)) < 0)
		goto fail_tmp;
	if (renameat2(s->tmp_fd, tmpname, s->topics_fd, name, RENAME_NOREPLACE) < 0) {
		rc = -errno;
		goto fail_tmp;
	}
	if ((rc = io_fsync(s->topics_fd)) < 0 || (rc = io_fsync(s->tmp_fd)) < 0 ||
	    (rc = topic_load(s, s->topics_fd, name, &t)) < 0 || (rc = insert(s, t)) < 0) {
		if (t)
			topic_unref(t);
		/* Taken back, so that a failed mkdir leaves no topic for the
		** next mount to find. */
		if (renameat(s->topics_fd, name, s->tmp_fd, tmpname) == 0) {
			io_fsync(s->topics_fd);
			goto fail_tmp;
		}
		log_error("cannot create topic %s: %s; its directory stays, for the next mount",
			  name, strerror(-rc));
		goto out;
	}
	if (out) {
		topic_ref(t);
		*out = t;
	}
	goto out;
fail_tmp:
	log_error("cannot create topic %s: %s", name, strerror(-rc));
	io_remove_tree(s->tmp_fd, tmpname);
out:
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int store_topic_delete(store *s, const char *name)
{
	char trashname[64];
	topic *t;
	int found, rc = 0;
	size_t at;

	pthread_mutex_lock(&s->mu);
	at = find(s, name, &found);
	if (!found) {
		pthread_mutex_unlock(&s->mu);
		return -ENOENT;
	}
	t = s->topics[at];
	snprintf(trashname, sizeof trashname, "old.%lu", s->seq++);
	if (renameat(s->topics_fd, name, s->trash_fd, trashname) < 0) {
		rc = -errno;
		log_error("cannot delete topic %s: %s", name, strerror(-rc));
		pthread_mutex_unlock(&s->mu);
		return rc;
	}
	io_fsync(s->topics_fd);
	remove_at(s, at);
	topic_mark_deleted(t);
	pthread_mutex_unlock(&s->mu);
	/* A seal, rewrite or stored position under way finishes first, so
	** that no file appears in the tree behind its removal; later ones see
	** the topic deleted. Open files of the topic keep their segments; the
	** names go now. */
	topic_dir_wait(t);
	if ((rc = io_remove_tree(s->trash_fd, trashname)) < 0)
		log_error("topic %s: deleted, but not all of its files could be removed (%s); the "
			  "next mount removes trash/%s",
			  name, strerror(-rc), trashname);
	topic_unref(t);
	return 0;
}

void store_add_dead(store *s, topic *t)
{
	pthread_mutex_lock(&s->mu);
	if (s->ndead == s->dead_cap) {
		size_t cap = s->dead_cap ? 2 * s->dead_cap : 8;
		topic **v = realloc(s->dead, cap * sizeof *v);
		if (!v) {
			pthread_mutex_unlock(&s->mu);
			/* Let go of at the kernel's FORGET, as before. */
			log_warn("topic %s: deleted; out of memory to list it, so its files stay "
				 "open until the kernel forgets them", topic_label(t));
			return;
		}
		s->dead = v;
		s->dead_cap = cap;
	}
	topic_ref(t);
	s->dead[s->ndead++] = t;
	pthread_mutex_unlock(&s->mu);
}

void store_release_dead(store *s)
{
	topic **v;
	size_t n;

	pthread_mutex_lock(&s->mu);
	v = s->dead;
	n = s->ndead;
	s->dead = NULL;
	s->ndead = s->dead_cap = 0;
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; i < n; i++) {
		topic_release_files(v[i]);
		topic_unref(v[i]);
	}
	free(v);
}

int store_topic_rename(store *s, const char *from, const char *to)
{
	topic *t;
	int found, rc = 0;
	size_t at;

	if (!store_name_valid(to)) {
		log_warn("refused to rename topic %.64s to '%.64s': not a valid topic name", from, to);
		return -EINVAL;
	}
	pthread_mutex_lock(&s->mu);
	at = find(s, from, &found);
	if (!found) {
		rc = -ENOENT;
		goto out;
	}
	if (!strcmp(from, to))
		goto out;
	find(s, to, &found);
	if (found) {
		rc = -EEXIST;
		goto out;
	}
	t = s->topics[at];
	if (renameat2(s->topics_fd, from, s->topics_fd, to, RENAME_NOREPLACE) < 0) {
		rc = -errno;
		goto out;
	}
	io_fsync(s->topics_fd);
	remove_at(s, at);
	topic_set_name(t, to);
	rc = insert(s, t);
	if (rc < 0)
		topic_unref(t); /* cannot happen: the array just shrank */
out:
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int store_topic_names(store *s, char ***names, size_t *n)
{
	char **v;

	pthread_mutex_lock(&s->mu);
	v = calloc(s->n ? s->n : 1, sizeof *v);
	if (!v) {
		pthread_mutex_unlock(&s->mu);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->n; i++) {
		if (!(v[i] = strdup(s->topics[i]->name))) {
			store_names_free(v, i);
			pthread_mutex_unlock(&s->mu);
			return -ENOMEM;
		}
	}
	*n = s->n;
	pthread_mutex_unlock(&s->mu);
	*names = v;
	return 0;
}

void store_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

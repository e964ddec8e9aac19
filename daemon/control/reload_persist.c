/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The last good configuration, kept across restarts:
 *   <state_dir>/gen-<generation>/<file>.yaml   copies of the config files
 *   <state_dir>/last-good -> gen-<generation>  swapped with rename(2)
 *   <state_dir>/gen-<generation>/.kubernetes-view  the Kubernetes API's
 *                                    documents, one per line:
 *                                    name TAB path TAB JSON
 *   <state_dir>/gen-<generation>/.kubernetes-nodes  every Node address
 *                                    known then: node TAB address
 * A new copy is written to gen-<generation>.tmp, fsync'ed, renamed into
 * place, checked (its files must hash as the snapshot's files did: the
 * directory may have changed meanwhile), then published by renaming a fresh
 * symlink over last-good; older gen-* directories are removed last.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "reload_internal.h"

/* the names sl_config_load_dir() reads */
static bool sl_persist_is_yaml(const char *n)
{
	size_t len = strlen(n);

	if (n[0] == '.')
		return false;
	return (len > 5 && !strcmp(n + len - 5, ".yaml")) ||
	       (len > 4 && !strcmp(n + len - 4, ".yml"));
}

static int sl_persist_copy(int sdir, int ddir, const char *name)
{
	char buf[16384];
	int in, out = -1, ret = 0;
	struct stat st;
	ssize_t n;

	in = openat(sdir, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (in < 0)
		return -errno;
	if (fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
		/* replaced by a FIFO or the like since it was loaded */
		close(in);
		return -EINVAL;
	}
	out = openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		ret = -errno;
		goto out;
	}
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto out;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));

			if (w < 0) {
				if (errno == EINTR)
					continue;
				ret = -errno;
				goto out;
			}
			off += w;
		}
	}
	if (fsync(out) < 0)
		ret = -errno;
out:
	if (out >= 0)
		close(out);
	close(in);
	return ret;
}

static int sl_persist_rmdir(int parent, const char *name)
{
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			unlinkat(fd, de->d_name, 0);
	closedir(d);
	return unlinkat(parent, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

/* the API's documents into @dfd/.kubernetes-view */
static int sl_persist_view_write(int dfd, const struct sl_config_doc *docs,
				 size_t n)
{
	int fd = openat(dfd, SL_PERSIST_VIEW, O_WRONLY | O_CREAT | O_EXCL |
			O_CLOEXEC, 0600);
	FILE *f;
	int ret = 0;

	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return -errno;
	}
	for (size_t i = 0; i < n; i++) {
		if (strpbrk(docs[i].name, "\t\n") ||
		    strpbrk(docs[i].path, "\t\n") ||
		    memchr(docs[i].buf, '\n', docs[i].len)) {
			ret = -EINVAL; /* the source makes none such */
			break;
		}
		fprintf(f, "%s\t%s\t", docs[i].name, docs[i].path);
		fwrite(docs[i].buf, 1, docs[i].len, f);
		fputc('\n', f);
	}
	if (fflush(f) != 0 || ferror(f))
		ret = ret ? ret : -EIO;
	if (!ret && fsync(fileno(f)) < 0)
		ret = -errno;
	fclose(f);
	return ret;
}

int sl_persist_view_read(const char *dir, struct sl_persisted_view *v)
{
	char path[PATH_MAX];
	size_t len, n = 0, cap = 0;
	char *p, *end;
	int ret;

	memset(v, 0, sizeof(*v));
	snprintf(path, sizeof(path), "%s/%s", dir, SL_PERSIST_VIEW);
	ret = sl_read_file(path, 1u << 30, &v->buf, &len);
	if (ret < 0)
		return ret;
	for (p = v->buf, end = v->buf + len; p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *t1, *t2;

		if (!nl)
			goto bad;
		*nl = '\0';
		t1 = strchr(p, '\t');
		t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		if (!t2)
			goto bad;
		*t1 = *t2 = '\0';
		if (n == cap) {
			size_t c = cap ? cap * 2 : 256;
			struct sl_config_doc *d = realloc(v->docs, c * sizeof(*d));

			if (!d) {
				ret = -ENOMEM;
				goto err;
			}
			v->docs = d;
			cap = c;
		}
		v->docs[n++] = (struct sl_config_doc){
			.name = p, .path = t1 + 1, .buf = t2 + 1,
			.len = (size_t)(nl - t2 - 1), .api = true,
		};
		p = nl + 1;
	}
	v->n = n;
	return 0;
bad:
	sl_log_err("%s: %s: not a saved Kubernetes view (line %zu)", __func__,
		   path, n + 1);
	ret = -EINVAL;
err:
	sl_persisted_view_free(v);
	return ret;
}

void sl_persisted_view_free(struct sl_persisted_view *v)
{
	free(v->docs);
	free(v->buf);
	memset(v, 0, sizeof(*v));
}

/* the Node addresses into @dfd/.kubernetes-nodes */
static int sl_persist_nodes_write(int dfd, const char *text, size_t len)
{
	int fd = openat(dfd, SL_PERSIST_NODES, O_WRONLY | O_CREAT | O_EXCL |
			O_CLOEXEC, 0600);
	int ret = 0;

	if (fd < 0)
		return -errno;
	while (len) {
		ssize_t w = write(fd, text, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			ret = w < 0 ? -errno : -EIO;
			break;
		}
		text += w;
		len -= (size_t)w;
	}
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* copy every config file of @dir into the new directory @tmp of @sfd */
static int sl_persist_fill(int sfd, const char *tmp, const char *dir,
			   const struct sl_persist_api *api)
{
	struct dirent *de;
	int dfd = -1, ret;
	DIR *src;

	src = opendir(dir);
	if (!src)
		return -errno;
	if (mkdirat(sfd, tmp, 0700) < 0) {
		ret = -errno;
		goto out;
	}
	dfd = openat(sfd, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		ret = -errno;
		goto out;
	}
	ret = 0;
	while ((de = readdir(src))) {
		struct stat stb;

		if (!sl_persist_is_yaml(de->d_name))
			continue;
		if (fstatat(dirfd(src), de->d_name, &stb, 0) < 0 ||
		    !S_ISREG(stb.st_mode))
			continue;
		ret = sl_persist_copy(dirfd(src), dfd, de->d_name);
		if (ret < 0) {
			sl_log_err("%s: copy %s/%s: %s", __func__, dir,
				   de->d_name, strerror(-ret));
			goto out;
		}
	}
	if (api) {
		ret = sl_persist_view_write(dfd, api->docs, api->n);
		if (ret < 0) {
			sl_log_err("%s: save the Kubernetes view: %s", __func__,
				   strerror(-ret));
			goto out;
		}
	}
	if (api && api->nodes) {
		ret = sl_persist_nodes_write(dfd, api->nodes, api->nodes_len);
		if (ret < 0) {
			sl_log_err("%s: save the Node addresses: %s", __func__,
				   strerror(-ret));
			goto out;
		}
	}
	if (fsync(dfd) < 0)
		ret = -errno;
out:
	if (dfd >= 0)
		close(dfd);
	closedir(src);
	return ret;
}

/* remove gen-* (and leftover temporaries) other than @keep */
static void sl_persist_prune(int sfd, const char *keep)
{
	struct dirent *de;
	int fd = dup(sfd);
	DIR *d;

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "gen-", 4) && strcmp(de->d_name, keep))
			sl_persist_rmdir(sfd, de->d_name);
	closedir(d);
}

int sl_reload_persist(const char *state_dir, const char *dir,
		      const struct sl_config *cfg,
		      const struct sl_persist_api *api)
{
	const char *gen = sl_config_generation(cfg);
	char name[64], tmp[80], path[PATH_MAX], files_gen[17];
	struct stat stb;
	int sfd, ret;

	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST) {
		ret = -errno;
		sl_log_err("%s: mkdir %s: %s", __func__, state_dir,
			   strerror(errno));
		return ret;
	}
	sfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0) {
		ret = -errno;
		sl_log_err("%s: %s: %s", __func__, state_dir, strerror(errno));
		return ret;
	}
	snprintf(name, sizeof(name), "gen-%s", gen);
	if (fstatat(sfd, name, &stb, AT_SYMLINK_NOFOLLOW) < 0) {
		snprintf(tmp, sizeof(tmp), "%s.tmp", name);
		sl_persist_rmdir(sfd, tmp);
		ret = sl_persist_fill(sfd, tmp, dir, api);
		if (ret == 0 && renameat(sfd, tmp, sfd, name) < 0)
			ret = -errno;
		if (ret < 0) {
			sl_log_err("%s: cannot save %s in %s: %s", __func__,
				   dir, state_dir, strerror(-ret));
			sl_persist_rmdir(sfd, tmp);
			goto out;
		}
		/* the directory may have changed since @cfg was loaded: its
		   copy must hash as @cfg's files did (a hash, not a load: at
		   100,000 pods a load of the copy took seconds) */
		snprintf(path, sizeof(path), "%s/%s", state_dir, name);
		ret = sl_config_dir_files_generation(path, files_gen);
		if (ret == 0 &&
		    strcmp(files_gen, sl_config_files_generation(cfg)))
			ret = -ESTALE;
		if (ret < 0) {
			sl_log_warn("%s: %s changed while saving it; last good copy not updated",
				    __func__, dir);
			sl_persist_rmdir(sfd, name);
			goto out;
		}
	}
	unlinkat(sfd, "last-good.tmp", 0);
	if (symlinkat(name, sfd, "last-good.tmp") < 0 ||
	    renameat(sfd, "last-good.tmp", sfd, "last-good") < 0) {
		ret = -errno;
		sl_log_err("%s: publish %s/last-good: %s", __func__, state_dir,
			   strerror(errno));
		goto out;
	}
	fsync(sfd);
	sl_persist_prune(sfd, name);
	sl_log_debug("%s: %s/last-good -> %s", __func__, state_dir, name);
	ret = 0;
out:
	close(sfd);
	return ret;
}

int sl_reload_load_copy(const char *path, const char *node_name,
			struct sl_config **out, struct sl_config_errors *errs)
{
	struct sl_persisted_view v;
	int ret = sl_persist_view_read(path, &v);

	if (ret == -ENOENT)
		return sl_config_load_dir(path, node_name, out, errs);
	if (ret < 0)
		return ret;
	ret = sl_config_load_dir_extra(path, v.docs, v.n, node_name, out, errs);
	sl_persisted_view_free(&v);
	return ret;
}

int sl_reload_load_last_good(const char *state_dir, const char *node_name,
			     struct sl_config **out)
{
	struct sl_config_errors errs = { 0 };
	char path[PATH_MAX];
	struct stat stb;
	int ret;

	snprintf(path, sizeof(path), "%s/last-good", state_dir);
	if (stat(path, &stb) < 0)
		return -ENOENT;
	ret = sl_reload_load_copy(path, node_name, out, &errs);
	if (ret < 0) {
		sl_log_err("%s: the last good copy in %s does not load either",
			   __func__, path);
		for (size_t i = 0; i < errs.n; i++)
			sl_log_err("%s: %s:%u:%u: %s: %s", __func__,
				   errs.v[i].file ? errs.v[i].file : path,
				   errs.v[i].line, errs.v[i].col,
				   errs.v[i].path ? errs.v[i].path : "",
				   errs.v[i].message);
	}
	sl_config_errors_free(&errs);
	return ret;
}

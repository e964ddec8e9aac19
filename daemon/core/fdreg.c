/* SPDX-License-Identifier: Apache-2.0 */
/* File descriptors that outlive one sluiced (fdreg.h). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "fdreg.h"
#include "log.h"

struct vec {
	struct sl_fdreg_ent *v;
	size_t n, cap;
};

/* a name and how many fds of it were inherited in all */
struct count {
	char name[SL_FDREG_NAME_MAX];
	unsigned int n;
};

static struct {
	pthread_mutex_t lock;
	struct vec in;	/* inherited, not taken yet */
	struct vec out; /* published */
	struct count *counts;
	size_t n_counts;
	bool store_held; /* sl_fdreg_store_hold */
} R = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

bool sl_fdreg_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (!n || n >= SL_FDREG_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

static int vec_push(struct vec *v, int fd, const char *name, bool store)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 16;
		struct sl_fdreg_ent *nv = realloc(v->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		v->v = nv;
		v->cap = cap;
	}
	v->v[v->n].fd = fd;
	v->v[v->n].store = store;
	snprintf(v->v[v->n].name, sizeof(v->v[v->n].name), "%s", name);
	v->n++;
	return 0;
}

static void vec_del(struct vec *v, size_t i)
{
	memmove(&v->v[i], &v->v[i + 1], (v->n - i - 1) * sizeof(v->v[0]));
	v->n--;
}

/* lock held */
static int count_add(const char *name)
{
	struct count *nc;

	for (size_t i = 0; i < R.n_counts; i++)
		if (!strcmp(R.counts[i].name, name)) {
			R.counts[i].n++;
			return 0;
		}
	nc = realloc(R.counts, (R.n_counts + 1) * sizeof(*nc));
	if (!nc)
		return -ENOMEM;
	R.counts = nc;
	snprintf(nc[R.n_counts].name, sizeof(nc[0].name), "%s", name);
	nc[R.n_counts].n = 1;
	R.n_counts++;
	return 0;
}

int sl_fdreg_inherit(int fd, const char *name)
{
	int ret;

	if (!sl_fdreg_name_ok(name)) {
		close(fd);
		return -EINVAL;
	}
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	pthread_mutex_lock(&R.lock);
	ret = vec_push(&R.in, fd, name, false);
	if (!ret)
		ret = count_add(name);
	pthread_mutex_unlock(&R.lock);
	if (ret)
		close(fd);
	return ret;
}

int sl_fdreg_inherit_systemd(void)
{
	char **names = NULL;
	int n, taken = 0;

	n = sd_listen_fds_with_names(1, &names);
	if (n <= 0)
		return n;
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		const char *name = names && names[i] ? names[i] : "";

		if (strncmp(name, "sl-", 3) || sl_fdreg_inherit(fd, name)) {
			sl_log_warn("%s: fd %d from systemd named '%s' is not sluiced's: closed",
				    __func__, fd, name);
			if (strncmp(name, "sl-", 3))
				close(fd);
			continue;
		}
		taken++;
	}
	for (int i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	sl_log_info("%s: %d fds from systemd's fd store", __func__, taken);
	return taken;
}

int sl_fdreg_take(const char *name)
{
	int fd = -ENOENT;

	pthread_mutex_lock(&R.lock);
	for (size_t i = 0; i < R.in.n; i++)
		if (!strcmp(R.in.v[i].name, name)) {
			fd = R.in.v[i].fd;
			vec_del(&R.in, i);
			break;
		}
	pthread_mutex_unlock(&R.lock);
	return fd;
}

/* @fd is a TCP socket listening on exactly @want */
static bool listens_on(int fd, const struct sockaddr *want)
{
	union {
		struct sockaddr sa;
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} got;
	socklen_t len = sizeof(got);
	int acc = 0, type = 0;
	socklen_t olen = sizeof(acc);

	if (getsockname(fd, &got.sa, &len) < 0 ||
	    got.sa.sa_family != want->sa_family)
		return false;
	if (want->sa_family == AF_INET) {
		const struct sockaddr_in *w = (const struct sockaddr_in *)want;

		if (got.v4.sin_port != w->sin_port ||
		    got.v4.sin_addr.s_addr != w->sin_addr.s_addr)
			return false;
	} else if (want->sa_family == AF_INET6) {
		const struct sockaddr_in6 *w = (const struct sockaddr_in6 *)want;

		if (got.v6.sin6_port != w->sin6_port ||
		    memcmp(&got.v6.sin6_addr, &w->sin6_addr,
			   sizeof(w->sin6_addr)))
			return false;
	} else {
		return false;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &olen) < 0 || !acc)
		return false;
	olen = sizeof(type);
	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &olen) == 0 &&
	       type == SOCK_STREAM;
}

int sl_fdreg_take_listener(const char *name, const struct sockaddr *want)
{
	int fd = sl_fdreg_take(name);

	if (fd < 0 || listens_on(fd, want))
		return fd;
	sl_log_warn("%s: inherited %s is not a socket listening where it should: closed",
		    __func__, name);
	close(fd);
	return -ENOTSOCK;
}

unsigned int sl_fdreg_inherited(const char *name)
{
	unsigned int n = 0;

	pthread_mutex_lock(&R.lock);
	for (size_t i = 0; i < R.n_counts; i++)
		if (!strcmp(R.counts[i].name, name))
			n = R.counts[i].n;
	pthread_mutex_unlock(&R.lock);
	return n;
}

/* lock held: whether @name is published */
static bool published(const char *name)
{
	for (size_t i = 0; i < R.out.n; i++)
		if (!strcmp(R.out.v[i].name, name))
			return true;
	return false;
}

unsigned int sl_fdreg_drop_unused(void)
{
	unsigned int n = 0;

	pthread_mutex_lock(&R.lock);
	while (R.in.n) {
		struct sl_fdreg_ent e = R.in.v[R.in.n - 1];
		char msg[64 + SL_FDREG_NAME_MAX];

		R.in.n--;
		sl_log_notice("%s: inherited fd '%s' is not used: closed",
			      __func__, e.name);
		close(e.fd);
		n++;
		/* the fd store would hand it to every later start */
		if (!published(e.name) && getenv("NOTIFY_SOCKET")) {
			snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s",
				 e.name);
			(void)sd_notify(0, msg);
		}
	}
	pthread_mutex_unlock(&R.lock);
	return n;
}

/* FDSTORE=1 for @fd under @name, when sluiced runs under systemd */
static void store(int fd, const char *name)
{
	char msg[64 + SL_FDREG_NAME_MAX];
	int r;

	if (!getenv("NOTIFY_SOCKET"))
		return;
	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
	r = sd_pid_notify_with_fds(0, 0, msg, &fd, 1);
	if (r < 0)
		sl_log_warn("%s: %s into systemd's fd store: %s", __func__, name,
			    strerror(-r));
}

int sl_fdreg_publish(int fd, const char *name, bool store_it)
{
	bool now;
	int ret;

	if (!sl_fdreg_name_ok(name))
		return -EINVAL;
	pthread_mutex_lock(&R.lock);
	ret = vec_push(&R.out, fd, name, store_it);
	now = !R.store_held;
	pthread_mutex_unlock(&R.lock);
	if (!ret && store_it && now)
		store(fd, name);
	return ret;
}

void sl_fdreg_store_hold(bool on)
{
	pthread_mutex_lock(&R.lock);
	R.store_held = on;
	for (size_t i = 0; !on && i < R.out.n; i++)
		if (R.out.v[i].store)
			store(R.out.v[i].fd, R.out.v[i].name);
	pthread_mutex_unlock(&R.lock);
}

void sl_fdreg_withdraw(int fd)
{
	pthread_mutex_lock(&R.lock);
	for (size_t i = 0; i < R.out.n; i++)
		if (R.out.v[i].fd == fd) {
			vec_del(&R.out, i);
			break;
		}
	pthread_mutex_unlock(&R.lock);
}

int sl_fdreg_snapshot(struct sl_fdreg_ent **out, size_t *n)
{
	struct sl_fdreg_ent *v = NULL;
	size_t k = 0;
	int ret = 0;

	pthread_mutex_lock(&R.lock);
	if (R.out.n) {
		v = calloc(R.out.n, sizeof(*v));
		if (!v)
			ret = -ENOMEM;
	}
	for (size_t i = 0; !ret && i < R.out.n; i++) {
		int fd = fcntl(R.out.v[i].fd, F_DUPFD_CLOEXEC, 3);

		if (fd < 0) {
			ret = -errno;
			break;
		}
		v[k] = R.out.v[i];
		v[k].fd = fd;
		k++;
	}
	pthread_mutex_unlock(&R.lock);
	if (ret) {
		sl_fdreg_snapshot_free(v, k);
		return ret;
	}
	*out = v;
	*n = k;
	return 0;
}

void sl_fdreg_snapshot_free(struct sl_fdreg_ent *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].fd >= 0)
			close(v[i].fd);
	free(v);
}

void sl_fdreg_reset(void)
{
	pthread_mutex_lock(&R.lock);
	for (size_t i = 0; i < R.in.n; i++)
		close(R.in.v[i].fd);
	free(R.in.v);
	free(R.out.v);
	free(R.counts);
	memset(&R.in, 0, sizeof(R.in));
	memset(&R.out, 0, sizeof(R.out));
	R.store_held = false;
	R.counts = NULL;
	R.n_counts = 0;
	pthread_mutex_unlock(&R.lock);
}

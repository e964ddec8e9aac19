/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The admin socket: a UNIX stream socket (mode 0600, peers must be uid 0)
 * served from worker 0's ring.  One request per connection: a line with a
 * command; the answer is one line of JSON.
 *
 *   stats   every counter (daemon/stats.h)
 *
 * Unknown commands get {"error":"..."}.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "admin_cmds.h"
#include "daemon.h"
#include "json.h"
#include "log.h"
#include "stats.h"

#define SL_ADMIN_REQ_MAX 256

struct sl_admin {
	struct sl_wctx *wc;
	int fd;
	char *path;
	struct sl_op accept_op;
	bool accept_armed, closed;
	unsigned int conns;
};

struct admin_conn {
	struct sl_admin *a;
	int fd;
	struct sl_op op;
	char req[SL_ADMIN_REQ_MAX + 1];
	size_t req_len;
	char *resp;
	size_t resp_len, resp_off;
};

static void admin_maybe_free(struct sl_admin *a)
{
	if (!a->closed || a->accept_armed || a->conns)
		return;
	close(a->fd);
	unlink(a->path);
	free(a->path);
	sl_worker_unref(a->wc->w);
	free(a);
}

static void conn_free(struct admin_conn *c)
{
	struct sl_admin *a = c->a;

	close(c->fd);
	free(c->resp);
	free(c);
	a->conns--;
	admin_maybe_free(a);
}

static void conn_send(struct admin_conn *c);

static void conn_sent(struct sl_op *op, int res, uint32_t flags)
{
	struct admin_conn *c = sl_container_of(op, struct admin_conn, op);

	if (res <= 0) {
		conn_free(c);
		return;
	}
	c->resp_off += (size_t)res;
	if (c->resp_off < c->resp_len)
		conn_send(c);
	else
		conn_free(c);
}

static void conn_send(struct admin_conn *c)
{
	struct io_uring_sqe *sqe = sl_worker_sqe(c->a->wc->w);

	c->op.fn = conn_sent;
	io_uring_prep_send(sqe, c->fd, c->resp + c->resp_off,
			   c->resp_len - c->resp_off, MSG_NOSIGNAL);
	sl_op_attach(sqe, &c->op);
}

static void answer(struct admin_conn *c)
{
	FILE *out;

	out = open_memstream(&c->resp, &c->resp_len);
	if (!out) {
		conn_free(c);
		return;
	}
	sl_admin_cmd(c->a->wc->d, c->req, out); /* admin_cmds.c */
	fputc('\n', out);
	if (fclose(out) != 0) {
		conn_free(c);
		return;
	}
	conn_send(c);
}

static void conn_recv(struct admin_conn *c);

static void conn_recvd(struct sl_op *op, int res, uint32_t flags)
{
	struct admin_conn *c = sl_container_of(op, struct admin_conn, op);
	char *nl;

	if (res < 0) {
		conn_free(c);
		return;
	}
	c->req_len += (size_t)res;
	c->req[c->req_len] = '\0';
	nl = strchr(c->req, '\n');
	if (nl || res == 0 || c->req_len == SL_ADMIN_REQ_MAX) {
		if (nl)
			*nl = '\0';
		if (c->req_len && c->req[strlen(c->req) - 1] == '\r')
			c->req[strlen(c->req) - 1] = '\0';
		answer(c);
		return;
	}
	conn_recv(c);
}

static void conn_recv(struct admin_conn *c)
{
	struct io_uring_sqe *sqe = sl_worker_sqe(c->a->wc->w);

	c->op.fn = conn_recvd;
	io_uring_prep_recv(sqe, c->fd, c->req + c->req_len,
			   SL_ADMIN_REQ_MAX - c->req_len, 0);
	sl_op_attach(sqe, &c->op);
}

static void admin_arm(struct sl_admin *a);

static void admin_accepted(struct sl_op *op, int res, uint32_t flags)
{
	struct sl_admin *a = sl_container_of(op, struct sl_admin, accept_op);

	if (!(flags & IORING_CQE_F_MORE))
		a->accept_armed = false;
	if (res >= 0) {
		struct ucred cred;
		socklen_t len = sizeof(cred);
		struct admin_conn *c;

		if (a->closed ||
		    getsockopt(res, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
		    cred.uid != 0) {
			sl_stat_inc(SL_STAT_ADMIN_REFUSED);
			close(res);
		} else if (!(c = calloc(1, sizeof(*c)))) {
			close(res);
		} else {
			c->a = a;
			c->fd = res;
			a->conns++;
			conn_recv(c);
		}
	}
	if (!a->accept_armed && !a->closed)
		admin_arm(a);
	admin_maybe_free(a);
}

static void admin_arm(struct sl_admin *a)
{
	struct io_uring_sqe *sqe = sl_worker_sqe(a->wc->w);

	a->accept_op.fn = admin_accepted;
	io_uring_prep_multishot_accept(sqe, a->fd, NULL, NULL, SOCK_CLOEXEC);
	sl_op_attach(sqe, &a->accept_op);
	a->accept_armed = true;
}

int sl_admin_open(struct sl_wctx *wc, const char *path, struct sl_admin **out)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct sl_admin *a;
	char *dir, *slash;
	mode_t old;
	int fd, ret;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	dir = strdup(path);
	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			sl_log_warn("%s: mkdir %s: %m", __func__, dir);
	}
	free(dir);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(path); /* a stale socket of a previous run */
	old = umask(0177);
	ret = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (ret < 0 || chmod(path, 0600) < 0 || listen(fd, 64) < 0) {
		ret = -errno;
		sl_log_err("%s: %s: %s", __func__, path, strerror(-ret));
		close(fd);
		return ret;
	}
	a = calloc(1, sizeof(*a));
	if (!a || !(a->path = strdup(path))) {
		free(a);
		close(fd);
		unlink(path);
		return -ENOMEM;
	}
	a->wc = wc;
	a->fd = fd;
	sl_worker_ref(wc->w);
	admin_arm(a);
	*out = a;
	return 0;
}

void sl_admin_close(struct sl_admin *a)
{
	if (!a || a->closed)
		return;
	a->closed = true;
	if (a->accept_armed)
		sl_worker_cancel_op(a->wc->w, &a->accept_op);
	admin_maybe_free(a);
}

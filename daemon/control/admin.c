/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The admin socket: a UNIX stream socket (mode 0600, peers must be uid 0)
 * served from worker 0's ring.  One request per connection: a line with a
 * command; the answer is one line of JSON.
 *
 *   stats   every counter (daemon/core/stats.h)
 *
 * Unknown commands get {"error":"..."}.  Deadlines and the connection cap
 * are in admin.h: every recv and send goes with a linked timeout for what
 * is left of the connection's deadline, and the open connections are kept
 * in accept order so that the cap can close the oldest idle one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "admin.h"
#include "sock.h"
#include "admin_cmds.h"
#include "daemon.h"
#include "json.h"
#include "log.h"
#include "stats.h"
#include "util.h"

#define MS 1000000ull

struct admin_conn;

struct sl_admin {
	struct sl_wctx *wc;
	int fd;
	char *path;
	dev_t path_dev; /* the socket file we bound: a successor (an upgrade) */
	ino_t path_ino; /* binds its own at the same path, which stays */
	struct sl_op accept_op;
	struct sl_op pause_op; /* accept paused: out of fds or memory */
	struct __kernel_timespec pause_ts;
	bool accept_armed, pause_armed, closed;
	unsigned int conns; /* allocated (each has one op in flight) */
	unsigned int live;  /* of those, not being closed: the cap's count */
	struct admin_conn *head, *tail; /* accept order, oldest first */
};

struct admin_conn {
	struct sl_admin *a;
	struct admin_conn *prev, *next;
	int fd;
	struct sl_op op;
	struct __kernel_timespec ts; /* the linked timeout's */
	uint64_t deadline;	     /* CLOCK_MONOTONIC */
	bool answering;		     /* request read; sending the answer */
	bool ending;		     /* op cancelled: free at its completion */
	char req[SL_ADMIN_REQ_MAX + 1];
	size_t req_len;
	char *resp;
	size_t resp_len, resp_off;
};

/* remove the socket file, unless it is no longer ours */
static void unlink_own(struct sl_admin *a)
{
	struct stat st;

	if (stat(a->path, &st) == 0 && st.st_dev == a->path_dev &&
	    st.st_ino == a->path_ino)
		unlink(a->path);
}

static void admin_maybe_free(struct sl_admin *a)
{
	if (!a->closed || a->accept_armed || a->pause_armed || a->conns)
		return;
	close(a->fd);
	unlink_own(a);
	free(a->path);
	sl_worker_unref(a->wc->w);
	free(a);
}

static void conn_free(struct admin_conn *c)
{
	struct sl_admin *a = c->a;

	if (c->prev)
		c->prev->next = c->next;
	else
		a->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		a->tail = c->prev;
	if (!c->ending)
		a->live--;
	close(c->fd);
	free(c->resp);
	free(c);
	a->conns--;
	admin_maybe_free(a);
}

/* close @c at its op's completion (the cap, or sl_admin_close) */
static void conn_end(struct admin_conn *c)
{
	if (c->ending)
		return;
	c->ending = true;
	c->a->live--;
	sl_worker_cancel_op(c->a->wc->w, &c->op);
}

/* an op of @c failed with @res: a deadline (the linked timeout cancelled
 * it), a cancel of ours, or a socket error; free @c */
static void conn_failed(struct admin_conn *c, int res)
{
	if (res == -ECANCELED && !c->ending && sl_now_ns() + MS >= c->deadline)
		sl_stat_inc(SL_STAT_ADMIN_TIMEOUTS);
	conn_free(c);
}

/*
 * submit @c's next op (@send: the rest of its answer, else a recv of more
 * of its request) to @c->op, linked to a timeout for what is left of @c's
 * deadline: when it fires the op ends with -ECANCELED; the timeout's own
 * completion carries no op and is ignored by the loop
 */
static void conn_submit(struct admin_conn *c, bool send)
{
	struct sl_worker *w = c->a->wc->w;
	struct io_uring *ring = sl_worker_ring(w);
	struct io_uring_sqe *sqe;
	uint64_t now = sl_now_ns();
	uint64_t left = c->deadline > now ? c->deadline - now : 1;

	/* both in one submission, or the link would be cut */
	if (io_uring_sq_space_left(ring) < 2)
		io_uring_submit(ring);
	sqe = sl_worker_sqe(w);
	if (send)
		io_uring_prep_send(sqe, c->fd, c->resp + c->resp_off,
				   c->resp_len - c->resp_off, MSG_NOSIGNAL);
	else
		io_uring_prep_recv(sqe, c->fd, c->req + c->req_len,
				   SL_ADMIN_REQ_MAX - c->req_len, 0);
	sqe->flags |= IOSQE_IO_LINK;
	sl_op_attach(sqe, &c->op);
	c->ts.tv_sec = (long long)(left / 1000000000ull);
	c->ts.tv_nsec = (long long)(left % 1000000000ull);
	sqe = sl_worker_sqe(w);
	io_uring_prep_link_timeout(sqe, &c->ts, 0);
	io_uring_sqe_set_data(sqe, NULL);
}

static void conn_send(struct admin_conn *c);

static void conn_sent(struct sl_op *op, int res, uint32_t flags)
{
	struct admin_conn *c = sl_container_of(op, struct admin_conn, op);

	if (res <= 0 || c->ending) {
		conn_failed(c, res);
		return;
	}
	c->resp_off += (size_t)res;
	if (c->resp_off < c->resp_len) {
		conn_send(c);
		return;
	}
	/* bytes left unread (past the line, or of an over-long one) would
	 * make the close a reset, ECONNRESET for the client after its
	 * answer: take what is queued, a bounded amount */
	for (int i = 0; i < 8; i++) {
		char drain[512];

		if (recv(c->fd, drain, sizeof(drain), MSG_DONTWAIT) <= 0)
			break;
	}
	conn_free(c);
}

static void conn_send(struct admin_conn *c)
{
	c->op.fn = conn_sent;
	conn_submit(c, true);
}

/* answer the request line in @c->req, @len bytes (no newline) */
static void answer(struct admin_conn *c, size_t len)
{
	FILE *out;

	c->answering = true;
	c->deadline = sl_now_ns() + SL_ADMIN_SEND_MS * MS;
	out = open_memstream(&c->resp, &c->resp_len);
	if (!out) {
		conn_free(c);
		return;
	}
	if (memchr(c->req, '\0', len)) {
		struct sl_json j;

		/* the commands take a C string: a NUL would cut it short */
		sl_json_init(&j, out, false);
		sl_json_obj_begin(&j);
		sl_json_kv_str(&j, "error", "request contains a NUL byte");
		sl_json_obj_end(&j);
	} else if (!memchr(c->req, '\n', c->req_len) &&
		   c->req_len == SL_ADMIN_REQ_MAX) {
		struct sl_json j;

		sl_json_init(&j, out, false);
		sl_json_obj_begin(&j);
		sl_json_kv_str(&j, "error", "request too long");
		sl_json_obj_end(&j);
	} else {
		c->req[len] = '\0';
		sl_admin_cmd(c->a->wc->d, c->req, out); /* admin_cmds.c */
	}
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
	size_t len;

	if (res < 0 || c->ending) {
		conn_failed(c, res);
		return;
	}
	c->req_len += (size_t)res;
	c->req[c->req_len] = '\0';
	/* the request ends at the first newline, at EOF, or when it fills
	 * the buffer (then it is too long); it may hold NUL bytes */
	nl = memchr(c->req, '\n', c->req_len);
	if (!nl && res > 0 && c->req_len < SL_ADMIN_REQ_MAX) {
		conn_recv(c);
		return;
	}
	len = nl ? (size_t)(nl - c->req) : c->req_len;
	if (len && c->req[len - 1] == '\r')
		len--;
	answer(c, len);
}

static void conn_recv(struct admin_conn *c)
{
	c->op.fn = conn_recvd;
	conn_submit(c, false);
}

/* the oldest connection still waiting for its request, or NULL */
static struct admin_conn *oldest_idle(struct sl_admin *a)
{
	for (struct admin_conn *c = a->head; c; c = c->next)
		if (!c->answering && !c->ending)
			return c;
	return NULL;
}

/* a new connection @fd from a verified peer */
static void conn_new(struct sl_admin *a, int fd)
{
	struct admin_conn *c;

	if (a->live >= SL_ADMIN_CONNS_MAX) {
		struct admin_conn *o = oldest_idle(a);

		sl_stat_inc(SL_STAT_ADMIN_SHED);
		if (!o) { /* every one is answering: refuse the new one */
			close(fd);
			return;
		}
		conn_end(o);
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->a = a;
	c->fd = fd;
	c->deadline = sl_now_ns() + SL_ADMIN_IDLE_MS * MS;
	c->prev = a->tail;
	if (a->tail)
		a->tail->next = c;
	else
		a->head = c;
	a->tail = c;
	a->conns++;
	a->live++;
	conn_recv(c);
}

static void admin_arm(struct sl_admin *a);

static void admin_pause_done(struct sl_op *op, int res, uint32_t flags)
{
	struct sl_admin *a = sl_container_of(op, struct sl_admin, pause_op);

	(void)res;
	(void)flags;
	a->pause_armed = false;
	if (!a->closed && !a->accept_armed)
		admin_arm(a);
	admin_maybe_free(a);
}

static void admin_accepted(struct sl_op *op, int res, uint32_t flags)
{
	struct sl_admin *a = sl_container_of(op, struct sl_admin, accept_op);

	if (!(flags & IORING_CQE_F_MORE))
		a->accept_armed = false;
	if ((res == -EMFILE || res == -ENFILE || res == -ENOMEM ||
	     res == -ENOBUFS) && !a->closed) {
		/* re-arming at once would spin on worker 0: wait SL_ADMIN_PAUSE_MS
		 * (the fd reserve, admission.h, normally keeps fds for us) */
		sl_stat_inc(SL_STAT_ACCEPT_PAUSED);
		if (a->accept_armed)
			sl_worker_cancel_op(a->wc->w, &a->accept_op);
		if (!a->pause_armed) {
			a->pause_op.fn = admin_pause_done;
			sl_ns_to_ts(SL_ADMIN_PAUSE_MS * MS, &a->pause_ts);
			sl_worker_timeout(a->wc->w, &a->pause_op, &a->pause_ts);
			a->pause_armed = true;
		}
		return;
	}
	if (res >= 0) {
		struct ucred cred;
		socklen_t len = sizeof(cred);

		if (a->closed ||
		    getsockopt(res, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
		    cred.uid != 0) {
			sl_stat_inc(SL_STAT_ADMIN_REFUSED);
			close(res);
		} else {
			conn_new(a, res);
		}
	}
	if (!a->accept_armed && !a->pause_armed && !a->closed)
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
	mode_t old;
	int fd, ret;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	ret = sl_mkdir_parent(path, 0755);
	if (ret == -ENOMEM)
		return ret;
	if (ret)
		sl_log_warn("%s: the directory of %s: mkdir: %s", __func__, path,
			    strerror(-ret));
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
	{
		struct stat st;

		if (stat(path, &st) == 0) {
			a->path_dev = st.st_dev;
			a->path_ino = st.st_ino;
		}
	}
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
	if (a->pause_armed)
		sl_worker_cancel_op(a->wc->w, &a->pause_op);
	/* a connection that has not asked yet would hold the stop for up to
	 * SL_ADMIN_IDLE_MS; those answering finish */
	for (struct admin_conn *c = a->head; c; c = c->next)
		if (!c->answering)
			conn_end(c);
	admin_maybe_free(a);
}

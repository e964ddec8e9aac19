/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-worker SO_REUSEPORT listeners with multishot accept (the budgets
 * they admit connections against are admission.c).
 *
 * Outbound (15001): pod connections REDIRECTed by the steering table.
 * Inbound (15008): mTLS connections TPROXYed to us (IP_TRANSPARENT, the
 * local address is the pod address that was dialed) or dialed over
 * loopback by this node's own outbound side (same-node handoff).
 * Plaintext inbound (15006): plaintext to PERMISSIVE/DISABLE pods
 * TPROXYed to us (IP_TRANSPARENT too).
 *
 * Admission (admission.h): each connection is counted against its budget
 * (outbound; inbound; pending, with hello.c) or reset when the budget is
 * full.  A connection whose fd falls into the fd reserve is reset, and on
 * -EMFILE/-ENFILE (or kernel memory) the accept pauses with a backoff;
 * the fds left are the admin socket's, the metrics' and the reload's.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "admission.h"
#include "daemon.h"
#include "entry.h"
#include "fdreg.h"
#include "listener.h"
#include "log.h"
#include "stats.h"
#include "util.h"
#include "sock.h"

/* accept pause after running out of fds or memory: doubles while it keeps
 * happening, back to the start once an accept goes through */
#define SL_ACCEPT_PAUSE_MIN_NS 10000000ULL    /* 10 ms */
#define SL_ACCEPT_PAUSE_MAX_NS 1000000000ULL  /* 1 s */

struct sl_listener {
	struct sl_wctx *wc;
	enum sl_listener_kind kind;
	int fd;
	uint16_t port;
	int family;
	struct sl_op accept_op;
	struct sl_op pause_op;
	struct __kernel_timespec pause_ts;
	uint64_t pause_ns; /* the next pause */
	bool accept_armed, pause_armed, closed;
	bool held; /* opened while sl_listener_hold: not accepting yet */
};

static atomic_bool hold;

static void arm_accept(struct sl_listener *l);

void sl_listener_hold(bool on)
{
	atomic_store(&hold, on);
}

void sl_listener_release(struct sl_listener *l)
{
	if (!l || !l->held || l->closed)
		return;
	l->held = false;
	if (!l->accept_armed && !l->pause_armed)
		arm_accept(l);
}

static void listener_maybe_free(struct sl_listener *l)
{
	if (!l->closed || l->accept_armed || l->pause_armed)
		return;
	/* the socket itself lives on where a successor or systemd's fd
	 * store holds it (fdreg.h): only this process's copy goes */
	sl_fdreg_withdraw(l->fd);
	close(l->fd);
	sl_worker_unref(l->wc->w);
	free(l);
}


static void pause_done(struct sl_op *op, int res, uint32_t flags)
{
	struct sl_listener *l = sl_container_of(op, struct sl_listener, pause_op);

	l->pause_armed = false;
	sl_admission_fd_limit_refresh(); /* an operator may have raised it meanwhile */
	if (!l->closed && !l->accept_armed)
		arm_accept(l);
	listener_maybe_free(l);
}

/*
 * Out of fds (or kernel memory), or into the fd reserve: stop accepting
 * for a while.  The kernel keeps new connections in the backlog meanwhile;
 * the pause is short at first (10 ms) and doubles while it keeps happening,
 * up to 1 s, so that neither a spin nor a long stall follows.
 */
static void pause_accept(struct sl_listener *l, const char *why)
{
	sl_stat_inc(SL_STAT_ACCEPT_PAUSED);
	if (l->closed || l->pause_armed)
		return;
	if (!l->pause_ns)
		l->pause_ns = SL_ACCEPT_PAUSE_MIN_NS;
	if (l->pause_ns == SL_ACCEPT_PAUSE_MIN_NS)
		sl_log_warn("%s: port %u: %s: pausing accept", __func__, l->port,
			    why);
	else
		sl_log_debug("%s: port %u: %s: pausing accept %llu ms", __func__,
			     l->port, why,
			     (unsigned long long)(l->pause_ns / 1000000ULL));
	/* stop the multishot accept if it is still armed; the pause timer
	 * re-arms it */
	if (l->accept_armed)
		sl_worker_cancel_op(l->wc->w, &l->accept_op);
	l->pause_op.fn = pause_done;
	sl_ns_to_ts(l->pause_ns, &l->pause_ts);
	sl_worker_timeout(l->wc->w, &l->pause_op, &l->pause_ts);
	l->pause_armed = true;
	l->pause_ns = l->pause_ns * 2 > SL_ACCEPT_PAUSE_MAX_NS ?
			      SL_ACCEPT_PAUSE_MAX_NS : l->pause_ns * 2;
}

/* a new connection on @l: admit it to its budget, or reset it */
static void accepted(struct sl_listener *l, int fd)
{
	struct sl_daemon *d = l->wc->d;

	if (sl_admission_fd_reserved(d, fd)) {
		/* what is left is for the admin socket, metrics and reloads */
		sl_admission_shed(SL_STAT_SHED_FD_RESERVE);
		sl_socket_reset(fd);
		pause_accept(l, "into the fd reserve");
		return;
	}
	l->pause_ns = 0; /* fds again: the next pause starts short */
	if (sl_socket_nodelay(fd) < 0) {
		/* never relay with Nagle on: it holds small replies */
		sl_stat_inc(SL_STAT_ACCEPT_ERRORS);
		sl_log_debug("%s: port %u: TCP_NODELAY: %m", __func__, l->port);
		sl_socket_reset(fd);
		return;
	}
	if (l->closed && !__atomic_load_n(&d->handed_over, __ATOMIC_ACQUIRE)) {
		sl_socket_reset(fd); /* shutting down */
		return;
	}
	/* after an upgrade handed over, a connection the accept had already
	 * taken is this process's to serve while it drains: the new process
	 * never sees it */
	switch (l->kind) {
	case SL_LISTEN_OUTBOUND:
		if (!sl_flow_admit(d)) {
			sl_socket_reset(fd);
			return;
		}
		sl_outbound_start(l->wc, fd);
		return;
	case SL_LISTEN_INBOUND_PLAIN:
		/* no handshake to wait for: an inbound flow at once */
		if (!sl_budget_take(d, SL_BUDGET_INBOUND, true)) {
			sl_socket_reset(fd);
			return;
		}
		sl_plain_inbound_start(l->wc, fd);
		return;
	case SL_LISTEN_INBOUND:
		sl_hello_start(l->wc, fd); /* admits it (pending) itself */
		return;
	}
}

static void accept_done(struct sl_op *op, int res, uint32_t flags)
{
	struct sl_listener *l = sl_container_of(op, struct sl_listener, accept_op);
	bool more = flags & IORING_CQE_F_MORE;

	if (!more)
		l->accept_armed = false;
	if (res >= 0) {
		accepted(l, res);
	} else if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS ||
		   res == -ENOMEM) {
		if (res == -EMFILE)
			sl_admission_fd_limit_refresh(); /* lowered from outside? */
		pause_accept(l, strerror(-res));
	} else if (res != -ECANCELED) {
		sl_stat_inc(SL_STAT_ACCEPT_ERRORS);
		sl_log_debug("%s: port %u: %s", __func__, l->port, strerror(-res));
	}
	if (!l->accept_armed && !l->closed && !l->pause_armed)
		arm_accept(l);
	listener_maybe_free(l);
}

static void arm_accept(struct sl_listener *l)
{
	struct io_uring_sqe *sqe = sl_worker_sqe(l->wc->w);

	l->accept_op.fn = accept_done;
	io_uring_prep_multishot_accept(sqe, l->fd, NULL, NULL,
				       SOCK_NONBLOCK | SOCK_CLOEXEC);
	sl_op_attach(sqe, &l->accept_op);
	l->accept_armed = true;
}

static int listen_socket(enum sl_listener_kind kind, int family, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sl_ip any = { .family = family };
	socklen_t len;
	int fd, one = 1, ret;

	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* TCP_NODELAY: accepted sockets inherit it (and accept_done sets it
	 * again, so that no flow ever runs Nagle) */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		goto fail;
	if (family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	if (kind == SL_LISTEN_INBOUND || kind == SL_LISTEN_INBOUND_PLAIN) {
		/* TPROXY delivers connections addressed to pod IPs */
		if (family == AF_INET &&
		    setsockopt(fd, IPPROTO_IP, IP_TRANSPARENT, &one, sizeof(one)) < 0)
			goto fail;
		if (family == AF_INET6 &&
		    setsockopt(fd, IPPROTO_IPV6, IPV6_TRANSPARENT, &one,
			       sizeof(one)) < 0)
			goto fail;
	}
	len = sl_ip_to_sockaddr(&any, port, &ss);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 4096) < 0)
		goto fail;
	return fd;
fail:
	ret = -errno;
	close(fd);
	return ret;
}

void sl_listener_name(enum sl_listener_kind kind, int family, uint16_t port,
		      char *buf, size_t len)
{
	static const char *const kinds[] = {
		[SL_LISTEN_OUTBOUND] = "out",
		[SL_LISTEN_INBOUND] = "in",
		[SL_LISTEN_INBOUND_PLAIN] = "plain",
	};

	snprintf(buf, len, "sl-%s%d-%u", kinds[kind],
		 family == AF_INET6 ? 6 : 4, port);
}

unsigned int sl_listener_share(enum sl_listener_kind kind, int family,
			       uint16_t port, unsigned int worker,
			       unsigned int n_workers)
{
	char name[SL_FDREG_NAME_MAX];
	unsigned int total;

	sl_listener_name(kind, family, port, name, sizeof(name));
	total = sl_fdreg_inherited(name);
	if (!n_workers)
		return 0;
	return total / n_workers + (worker < total % n_workers);
}

int sl_listener_open(struct sl_wctx *wc, enum sl_listener_kind kind,
		     int family, uint16_t port, struct sl_listener **out)
{
	char name[SL_FDREG_NAME_MAX];
	struct sockaddr_storage ss;
	struct sl_ip any = { .family = family };
	struct sl_listener *l;
	bool inherited = false;
	int fd, flags;

	sl_listener_name(kind, family, port, name, sizeof(name));
	/* the one listen_socket() would bind: the wildcard address */
	sl_ip_to_sockaddr(&any, port, &ss);
	fd = sl_fdreg_take_listener(name, (struct sockaddr *)&ss);
	if (fd >= 0) {
		flags = fcntl(fd, F_GETFL);
		if (flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0) {
			inherited = true;
		} else {
			sl_log_warn("%s: inherited %s: O_NONBLOCK: %m: opening a new one",
				    __func__, name);
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0)
		fd = listen_socket(kind, family, port);
	if (fd < 0)
		return fd;
	l = calloc(1, sizeof(*l));
	if (!l) {
		close(fd);
		return -ENOMEM;
	}
	l->wc = wc;
	l->kind = kind;
	l->fd = fd;
	l->port = port;
	l->family = family;
	if (sl_fdreg_publish(fd, name, true))
		sl_log_warn("%s: %s will not be passed on at an upgrade",
			    __func__, name);
	if (inherited)
		sl_log_debug("%s: %s: inherited listening socket", __func__,
			     name);
	sl_worker_ref(wc->w);
	if (atomic_load(&hold))
		l->held = true;
	else
		arm_accept(l);
	*out = l;
	return 0;
}

void sl_listener_close(struct sl_listener *l)
{
	if (!l || l->closed)
		return;
	l->closed = true;
	if (l->accept_armed)
		sl_worker_cancel_op(l->wc->w, &l->accept_op);
	if (l->pause_armed)
		sl_worker_timeout_cancel(l->wc->w, &l->pause_op);
	/* the socket is closed once the accept has ended */
	listener_maybe_free(l);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-worker SO_REUSEPORT listeners with multishot accept, and the
 * process-wide admission budgets.
 *
 * Outbound (15001): pod connections REDIRECTed by the steering table.
 * Inbound (15008): mTLS connections TPROXYed to us (IP_TRANSPARENT, the
 * local address is the pod address that was dialed) or dialed over
 * loopback by this node's own outbound side (same-node handoff).
 * Plaintext inbound (15006): plaintext to PERMISSIVE/DISABLE pods
 * TPROXYed to us (IP_TRANSPARENT too).
 *
 * Admission (daemon.h): each connection is counted against its budget
 * (outbound; inbound; pending, with hello.c) or reset when the budget is
 * full.  A connection whose fd falls into the fd reserve is reset, and on
 * -EMFILE/-ENFILE (or kernel memory) the accept pauses with a backoff;
 * the fds left are the admin socket's, the metrics' and the reload's.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "stats.h"
#include "util.h"

/* accept pause after running out of fds or memory: doubles while it keeps
 * happening, back to the start once an accept goes through */
#define SL_ACCEPT_PAUSE_MIN_NS 10000000ULL    /* 10 ms */
#define SL_ACCEPT_PAUSE_MAX_NS 1000000000ULL  /* 1 s */

/* derived caps (sl_admission_setup) */
#define SL_FD_RESERVE_DEFAULT 128
#define SL_FDS_PER_WORKER 40	     /* ring, listeners, pipes cache, ... */
#define SL_FDS_PER_FLOW 6	     /* 2 sockets + 2 splice pipes */
#define SL_PENDING_DEFAULT_MAX 1024 /* x ~55 KB once a ClientHello is in */
#define SL_PENDING_SRC_MIN 8

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
};

static atomic_uint used[SL_BUDGET__MAX];
/* RLIMIT_NOFILE's soft limit as last read: at set-up, whenever fds run
 * out, and at most every 100 ms by an accept (a prlimit(1) from outside:
 * a multishot accept keeps the limit it was armed with, so the kernel
 * alone would not stop at the new one) */
static atomic_uint fd_limit;
static atomic_uint_fast64_t fd_limit_read_ns;
#define SL_FD_LIMIT_REFRESH_NS 100000000ULL

static const enum sl_stat shed_stat[SL_BUDGET__MAX] = {
	[SL_BUDGET_OUTBOUND] = SL_STAT_SHED_OUTBOUND,
	[SL_BUDGET_INBOUND] = SL_STAT_SHED_INBOUND,
	[SL_BUDGET_PENDING] = SL_STAT_SHED_PENDING,
};

static void shed(enum sl_stat why)
{
	sl_stat_inc(SL_STAT_SHED);
	sl_stat_inc(why);
}

bool sl_budget_take(struct sl_daemon *d, enum sl_budget b, bool count)
{
	unsigned int n = atomic_fetch_add_explicit(&used[b], 1,
						   memory_order_relaxed);

	if (n >= d->cap[b]) {
		atomic_fetch_sub_explicit(&used[b], 1, memory_order_relaxed);
		if (count && b != SL_BUDGET_NONE)
			shed(shed_stat[b]);
		return false;
	}
	return true;
}

void sl_budget_put(enum sl_budget b)
{
	if (b != SL_BUDGET_NONE)
		atomic_fetch_sub_explicit(&used[b], 1, memory_order_relaxed);
}

unsigned int sl_budget_used(enum sl_budget b)
{
	return atomic_load_explicit(&used[b], memory_order_relaxed);
}

bool sl_flow_admit(struct sl_daemon *d)
{
	return sl_budget_take(d, SL_BUDGET_OUTBOUND, true);
}

bool sl_flow_admit_spare(struct sl_daemon *d)
{
	return sl_budget_take(d, SL_BUDGET_OUTBOUND, false);
}

void sl_flow_release(void)
{
	sl_budget_put(SL_BUDGET_OUTBOUND);
}

int sl_admission_pending(struct sl_daemon *d, const struct sl_ip *peer,
			 bool (*make_room)(void *arg), void *arg,
			 struct sl_admission *a)
{
	memset(a, 0, sizeof(*a));
	a->accept_ns = sl_now_ns();
	if (d->srclimit && sl_srclimit_take(d->srclimit, peer, &a->src)) {
		shed(SL_STAT_SHED_PER_SOURCE);
		return -EBUSY;
	}
	if (!sl_budget_take(d, SL_BUDGET_PENDING, false) &&
	    (!make_room || !make_room(arg) ||
	     !sl_budget_take(d, SL_BUDGET_PENDING, false))) {
		shed(SL_STAT_SHED_PENDING);
		if (d->srclimit)
			sl_srclimit_put(d->srclimit, &a->src);
		return -ENOSPC;
	}
	a->budget = SL_BUDGET_PENDING;
	return 0;
}

int sl_admission_authenticated(struct sl_daemon *d, struct sl_admission *a)
{
	if (a->budget != SL_BUDGET_PENDING)
		return 0;
	if (!sl_budget_take(d, SL_BUDGET_INBOUND, true))
		return -ENOSPC;
	sl_budget_put(SL_BUDGET_PENDING);
	if (d->srclimit)
		sl_srclimit_put(d->srclimit, &a->src);
	a->budget = SL_BUDGET_INBOUND;
	return 0;
}

void sl_admission_release(struct sl_daemon *d, struct sl_admission *a)
{
	sl_budget_put(a->budget);
	a->budget = SL_BUDGET_NONE;
	if (d->srclimit)
		sl_srclimit_put(d->srclimit, &a->src);
}

static unsigned int fd_limit_refresh(void)
{
	struct rlimit rl;
	unsigned int v = 0;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		v = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > UINT_MAX ?
			    UINT_MAX : (unsigned int)rl.rlim_cur;
	if (v)
		atomic_store_explicit(&fd_limit, v, memory_order_relaxed);
	atomic_store_explicit(&fd_limit_read_ns, sl_now_ns(),
			      memory_order_relaxed);
	return v;
}

/* the accepted @fd is in the fd reserve: fds are allocated lowest first,
 * so every fd below it is open */
static bool in_fd_reserve(struct sl_daemon *d, int fd)
{
	unsigned int lim;

	if (sl_now_ns() - atomic_load_explicit(&fd_limit_read_ns,
					       memory_order_relaxed) >
	    SL_FD_LIMIT_REFRESH_NS)
		fd_limit_refresh();
	lim = atomic_load_explicit(&fd_limit, memory_order_relaxed);
	return lim && (uint64_t)fd + d->fd_reserve >= lim;
}

int sl_admission_setup(struct sl_daemon *d)
{
	const struct sl_daemon_opts *o = &d->o;
	unsigned int out = o->max_outbound, in = o->max_inbound;
	unsigned int pend = o->max_pending, src = o->max_pending_src;
	uint64_t lim, fixed, avail, flows;
	struct rlimit rl;
	int ret;

	/* use the whole hard limit */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			sl_log_debug("%s: raising RLIMIT_NOFILE: %m", __func__);
	}
	lim = fd_limit_refresh();
	if (!lim)
		lim = 1024;
	d->fd_reserve = o->fd_reserve ? o->fd_reserve : SL_FD_RESERVE_DEFAULT;
	fixed = (uint64_t)d->fd_reserve + 64 +
		(uint64_t)SL_FDS_PER_WORKER * (o->workers ? o->workers : 1);
	avail = lim > fixed ? lim - fixed : 0;
	if (avail > 6000000)
		avail = 6000000; /* RLIM_INFINITY: a million flows is plenty */
	if (!pend) {
		pend = (unsigned int)(avail / 8);
		if (pend > SL_PENDING_DEFAULT_MAX)
			pend = SL_PENDING_DEFAULT_MAX;
		if (!pend)
			pend = 1;
	}
	if (!src) {
		/* a peer node's flows and refills all come from its address:
		 * leave room for its bursts (the silent ones make room anyway,
		 * hello.c) */
		src = pend / 4;
		if (src < SL_PENDING_SRC_MIN)
			src = SL_PENDING_SRC_MIN;
	}
	if (src > pend)
		src = pend;
	/* the flows share what the pending handshakes leave, half each way;
	 * --max-connections N caps each way at N instead (what it capped
	 * before the budgets were split: the flows in progress) */
	flows = avail > pend ? (avail - pend) / SL_FDS_PER_FLOW : 0;
	if (!out)
		out = o->max_conns ? o->max_conns :
		      flows / 2 ? (unsigned int)(flows / 2) : 1;
	if (!in)
		in = o->max_conns ? o->max_conns :
		     flows - flows / 2 ? (unsigned int)(flows - flows / 2) : 1;
	d->cap[SL_BUDGET_NONE] = 0;
	d->cap[SL_BUDGET_OUTBOUND] = out;
	d->cap[SL_BUDGET_INBOUND] = in;
	d->cap[SL_BUDGET_PENDING] = pend;
	ret = sl_srclimit_new(src, pend * 4, &d->srclimit);
	if (ret) {
		sl_log_err("%s: per-source table: %s", __func__, strerror(-ret));
		return ret;
	}
	if ((uint64_t)(out + (uint64_t)in) * SL_FDS_PER_FLOW + pend + fixed > lim)
		sl_log_warn("%s: --max-outbound %u + --max-inbound %u flows and %u pending handshakes can need more fds than RLIMIT_NOFILE %llu allows with --fd-reserve %u: accepts pause when fds run out",
			    __func__, out, in, pend, (unsigned long long)lim,
			    d->fd_reserve);
	sl_log_info("%s: admission: outbound %u flows, inbound %u flows, pending handshakes %u (%u per source), first record within %llu ms, fd reserve %u of RLIMIT_NOFILE %llu",
		    __func__, out, in, pend, src,
		    (unsigned long long)(o->hello_timeout_ns / 1000000ULL),
		    d->fd_reserve, (unsigned long long)lim);
	return 0;
}

void sl_admission_free(struct sl_daemon *d)
{
	if (!d)
		return;
	sl_srclimit_free(d->srclimit);
	d->srclimit = NULL;
}

static void listener_maybe_free(struct sl_listener *l)
{
	if (!l->closed || l->accept_armed || l->pause_armed)
		return;
	close(l->fd);
	sl_worker_unref(l->wc->w);
	free(l);
}

static void arm_accept(struct sl_listener *l);

static void pause_done(struct sl_op *op, int res, uint32_t flags)
{
	struct sl_listener *l = sl_container_of(op, struct sl_listener, pause_op);

	l->pause_armed = false;
	fd_limit_refresh(); /* an operator may have raised it meanwhile */
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

	if (in_fd_reserve(d, fd)) {
		/* what is left is for the admin socket, metrics and reloads */
		shed(SL_STAT_SHED_FD_RESERVE);
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
	if (l->closed) {
		sl_socket_reset(fd); /* shutting down */
		return;
	}
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
			fd_limit_refresh(); /* lowered from outside? */
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

int sl_listener_open(struct sl_wctx *wc, enum sl_listener_kind kind,
		     int family, uint16_t port, struct sl_listener **out)
{
	struct sl_listener *l;
	int fd;

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
	sl_worker_ref(wc->w);
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

/* SPDX-License-Identifier: Apache-2.0 */
/* Set-up phase of a flow: I/O helpers, deadline, handshake driver, handoff
 * to the relay (see flow.h). */
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flow.h"
#include "util.h"
#include "ktls.h"
#include "log.h"
#include "obs.h"
#include "offload.h"
#include "record.h"
#include "relay.h"
#include "objcache.h"
#include "stats.h"
#include "admission.h"
#include "entry.h"
#include "handoff.h"
#include "sock.h"

static atomic_uint_fast64_t next_flow_id;
static uint64_t flow_id_epoch; /* getpid() << 40, taken at the first flow */

/* freed flows, per worker thread (objcache.h); buf is scratch that every
 * use writes before it reads, so only the fields before it are zeroed */
static struct sl_objcache flow_cache =
	SL_OBJCACHE_INIT(sizeof(struct sl_flow), 32);

struct sl_flow *sl_flow_new(struct sl_wctx *wc, bool outbound)
{
	struct sl_flow *f =
		sl_objcache_alloc(&flow_cache, offsetof(struct sl_flow, buf));
	uint64_t epoch;

	if (!f)
		return NULL;
	f->wc = wc;
	f->d = wc->d;
	f->outbound = outbound;
	f->pod_fd = -1;
	f->mesh_fd = -1;
	f->cfg = sl_daemon_config(wc->d);
	f->adm.budget = outbound ? SL_BUDGET_OUTBOUND : SL_BUDGET_INBOUND;
	/* distinct across restarts; the pid is read once (a benign race:
	 * every thread stores the same value) */
	epoch = __atomic_load_n(&flow_id_epoch, __ATOMIC_RELAXED);
	if (!epoch) {
		epoch = (uint64_t)getpid() << 40;
		__atomic_store_n(&flow_id_epoch, epoch, __ATOMIC_RELAXED);
	}
	f->id = (atomic_fetch_add(&next_flow_id, 1) + 1) | epoch;
	sl_worker_ref(wc->w);
	sl_stats_flow_open();
	sl_stat_inc(outbound ? SL_STAT_OUTBOUND_OPENED : SL_STAT_INBOUND_OPENED);
	return f;
}

void sl_flow_fmt_ep(char *buf, size_t len, const struct sl_ip *ip,
		    uint16_t port)
{
	char a[INET6_ADDRSTRLEN];

	sl_ip_format(ip, a, sizeof(a));
	snprintf(buf, len, ip->family == AF_INET6 ? "[%s]:%u" : "%s:%u", a,
		 port);
}

void sl_flow_pre_orig_dst(struct sl_flow *f, const struct sl_ip *ip)
{
	f->pre.orig_dst_family = ip->family;
	if (ip->family == AF_INET)
		memcpy(f->pre.orig_dst, &ip->v4, 4);
	else
		memcpy(f->pre.orig_dst, &ip->v6, 16);
}

struct sl_flow *sl_flow_accepted_adm(struct sl_wctx *wc, int fd,
				     const struct sl_admission *adm,
				     struct sl_ip *lip, uint16_t *lport,
				     struct sl_ip *pip, uint16_t *pport)
{
	struct sockaddr_storage local, peer;
	socklen_t llen = sizeof(local), plen = sizeof(peer);
	struct sl_admission a = *adm;
	struct sl_flow *f;

	f = sl_flow_new(wc, false);
	if (!f) {
		sl_socket_reset(fd);
		sl_admission_release(wc->d, &a);
		return NULL;
	}
	f->adm = a;
	f->mesh_fd = fd;
	if (getsockname(fd, (struct sockaddr *)&local, &llen) < 0 ||
	    getpeername(fd, (struct sockaddr *)&peer, &plen) < 0 ||
	    sl_sockaddr_to_ip(&local, lip, lport) ||
	    sl_sockaddr_to_ip(&peer, pip, pport)) {
		sl_flow_fail(f);
		return NULL;
	}
	sl_flow_fmt_ep(f->src, sizeof(f->src), pip, *pport);
	sl_flow_fmt_ep(f->dst, sizeof(f->dst), lip, *lport);
	f->src_ip = *pip;
	return f;
}

struct sl_flow *sl_flow_accepted(struct sl_wctx *wc, int fd,
				 struct sl_ip *lip, uint16_t *lport,
				 struct sl_ip *pip, uint16_t *pport)
{
	struct sl_admission a = { .budget = SL_BUDGET_INBOUND,
				  .accept_ns = 0 };

	return sl_flow_accepted_adm(wc, fd, &a, lip, lport, pip, pport);
}

int sl_flow_authenticated(struct sl_flow *f)
{
	int ret = sl_admission_authenticated(f->d, &f->adm);

	if (ret) {
		sl_log_info("%s: flow %s -> %s (%s): inbound budget full (--max-inbound %u): reset",
			    __func__, f->src, f->dst, sl_flow_peer_id(f) ?: "?",
			    f->d->cap[SL_BUDGET_INBOUND]);
		sl_flow_fail(f);
	}
	return ret;
}

const struct sl_workload *sl_flow_local_workload(struct sl_flow *f,
						 const struct sl_ip *ip)
{
	const struct sl_node_config *node = sl_config_node(f->cfg);
	const struct sl_workload *wl = sl_config_workload_by_ip(f->cfg, ip);

	if (wl && wl->node && node->name && !strcmp(wl->node, node->name))
		return wl;
	sl_stat_inc(SL_STAT_REFUSED_UNKNOWN_DEST);
	sl_log_info("%s: flow %s -> %s: not a workload of this node", __func__,
		    f->src, f->dst);
	return NULL;
}

static void flow_free(void *arg)
{
	struct sl_flow *f = arg;

	/* an upstream leg that never relayed: its engine learns it here,
	 * after the flow has reset its socket (deferred: never from within
	 * the call that started it) */
	if (f->ready)
		f->ready(f->ready_arg, f->ready_err ? f->ready_err : -ECONNABORTED);

	sl_lb_end(f->lb);
	free(f->lb);
	sl_tls_conn_free(f->tls); /* kept by sl_flow_fail during a step */
	sl_config_put(f->cfg);
	free(f->plain);
	free(f->peer_id);
	sl_worker_unref(f->wc->w);
	sl_objcache_free(&flow_cache, f);
}

static void flow_maybe_free(struct sl_flow *f)
{
	if (!f->ended || f->io_armed || f->timer_armed || f->hs_busy ||
	    f->freeing)
		return;
	f->freeing = true;
	if (sl_worker_defer(f->wc->w, flow_free, f))
		flow_free(f);
}

void sl_flow_set_waiting(struct sl_flow *f, bool waiting)
{
	if (waiting && !f->wait_pprev && !f->ended) {
		f->wait_next = f->wc->waiting;
		if (f->wait_next)
			f->wait_next->wait_pprev = &f->wait_next;
		f->wc->waiting = f;
		f->wait_pprev = &f->wc->waiting;
	} else if (!waiting && f->wait_pprev) {
		*f->wait_pprev = f->wait_next;
		if (f->wait_next)
			f->wait_next->wait_pprev = f->wait_pprev;
		f->wait_next = NULL;
		f->wait_pprev = NULL;
	}
}

void sl_flow_cut_waiting(struct sl_wctx *wc)
{
	struct sl_flow *f;

	sl_hello_cut(wc);
	while ((f = wc->waiting)) {
		sl_log_debug("%s: flow %s -> %s: stopping, no preamble yet: closed",
			     __func__, f->src, f->dst);
		sl_flow_fail(f); /* leaves the list */
	}
}

static void flow_end(struct sl_flow *f)
{
	sl_flow_set_waiting(f, false);
	f->ended = true;
	if (f->timer_armed)
		sl_worker_timeout_cancel(f->wc->w, &f->timer_op);
	if (f->io_armed)
		sl_worker_cancel_op(f->wc->w, &f->io_op);
	flow_maybe_free(f);
}

const char *sl_flow_peer_id(const struct sl_flow *f)
{
	return f->tls ? sl_tls_conn_peer_id(f->tls) : f->peer_id;
}

void sl_flow_detach(struct sl_flow *f)
{
	f->pod_fd = -1;
	f->adm.budget = SL_BUDGET_NONE;
	sl_admission_release(f->d, &f->adm);
	flow_end(f);
}

void sl_flow_fail(struct sl_flow *f)
{
	if (f->ended)
		return;
	if (f->handoff_port)
		sl_handoff_drop(f->handoff_port);
	/* a reset, so the other side never mistakes this for a clean end */
	sl_socket_reset(f->pod_fd);
	sl_socket_reset(f->mesh_fd);
	f->pod_fd = f->mesh_fd = -1;
	/* a handshake step on a helper still has the conn: flow_free frees
	 * it once the step is back */
	if (!f->hs_busy) {
		sl_tls_conn_free(f->tls);
		f->tls = NULL;
	}
	sl_tls_rl_free(f->rl);
	f->rl = NULL;
	sl_stats_flow_close();
	sl_admission_release(f->d, &f->adm);
	flow_end(f);
}

static void timer_done(struct sl_op *op, int res, uint32_t flags)
{
	struct sl_flow *f = sl_container_of(op, struct sl_flow, timer_op);

	f->timer_armed = false;
	if (res == -ETIME && !f->ended && f->wait_pprev &&
	    sl_worker_stopping(f->wc->w)) {
		/* a handshake done during the stop, no preamble: a refill */
		sl_log_debug("%s: flow %s -> %s: stopping, no preamble after the handshake: closed",
			     __func__, f->src, f->dst);
		sl_flow_fail(f);
	} else if (res == -ETIME && !f->ended) {
		f->timed_out = true;
		sl_log_info("%s: flow %s -> %s: set-up timed out", __func__,
			    f->src, f->dst);
		/* the pending op fails with -ECANCELED and its continuation
		 * counts the timeout for the phase it was in */
		if (f->io_armed)
			sl_worker_cancel_op(f->wc->w, &f->io_op);
		else
			sl_flow_fail(f);
	}
	flow_maybe_free(f);
}

void sl_flow_arm_deadline(struct sl_flow *f, uint64_t ns)
{
	f->timer_op.fn = timer_done;
	sl_ns_to_ts(ns, &f->timer_ts);
	sl_worker_timeout(f->wc->w, &f->timer_op, &f->timer_ts);
	f->timer_armed = true;
}

void sl_flow_rearm_deadline(struct sl_flow *f, uint64_t ns)
{
	struct io_uring_sqe *sqe;

	if (!f->timer_armed || f->timed_out)
		return;
	/* the timer keeps its op; the update's own completion is ignored (a
	 * timer that fired meanwhile makes it fail with -ENOENT) */
	sl_ns_to_ts(ns, &f->timer_ts);
	sqe = sl_worker_sqe(f->wc->w);
	io_uring_prep_timeout_update(sqe, &f->timer_ts,
				     (uint64_t)(uintptr_t)&f->timer_op, 0);
	io_uring_sqe_set_data(sqe, NULL);
}

static void io_submit(struct sl_flow *f);

static void io_done(struct sl_op *op, int res, uint32_t flags)
{
	struct sl_flow *f = sl_container_of(op, struct sl_flow, io_op);

	f->io_armed = false;
	if (f->ended) {
		flow_maybe_free(f);
		return;
	}
	if (res == -ECANCELED && f->timed_out)
		res = -ETIMEDOUT;
	if (res > 0 && f->io_exact) {
		f->io_done += (size_t)res;
		if (f->io_done < f->io_len) {
			io_submit(f);
			return;
		}
		res = 0;
	} else if (res == 0 && f->io_exact && f->io_len) {
		res = -ECONNRESET; /* EOF before everything arrived */
	}
	f->cont(f, res);
}

static void io_submit(struct sl_flow *f)
{
	struct io_uring_sqe *sqe = sl_worker_sqe(f->wc->w);
	uint8_t *p = f->io_buf + f->io_done;
	size_t n = f->io_len - f->io_done;

	f->io_op.fn = io_done;
	if (f->io_send)
		io_uring_prep_send(sqe, f->io_fd, p, n, MSG_NOSIGNAL);
	else
		io_uring_prep_recv(sqe, f->io_fd, p, n, 0);
	sl_op_attach(sqe, &f->io_op);
	f->io_armed = true;
}

static void io_start(struct sl_flow *f, int fd, void *buf, size_t len,
		     bool send, bool exact, sl_flow_cont cont)
{
	f->io_fd = fd;
	f->io_buf = buf;
	f->io_len = len;
	f->io_done = 0;
	f->io_send = send;
	f->io_exact = exact;
	f->cont = cont;
	io_submit(f);
}

void sl_flow_send_all(struct sl_flow *f, int fd, const void *buf, size_t len,
		      sl_flow_cont cont)
{
	io_start(f, fd, (void *)buf, len, true, true, cont);
}

void sl_flow_recv_exact(struct sl_flow *f, int fd, void *buf, size_t len,
			sl_flow_cont cont)
{
	io_start(f, fd, buf, len, false, true, cont);
}

void sl_flow_recv(struct sl_flow *f, int fd, void *buf, size_t len,
		  sl_flow_cont cont)
{
	io_start(f, fd, buf, len, false, false, cont);
}

static void pod_connect_done(struct sl_flow *f, int res)
{
	if (res < 0) {
		sl_stat_inc(SL_STAT_CONNECT_FAILED);
		sl_log_info("%s: flow %s -> %s: connect to the pod: %s", __func__,
			    f->src, f->dst,
			    res == -ECANCELED ? "timed out" : strerror(-res));
		sl_flow_fail(f);
		return;
	}
	f->pod_cont(f, 0);
}

void sl_flow_connect_pod(struct sl_flow *f, uint16_t port, sl_flow_cont cont)
{
	const struct sl_workload *wl = f->workload;
	int fd;

	fd = sl_socket_dial(wl->address.family, f->d->mark);
	if (fd < 0) {
		sl_stat_inc(SL_STAT_CONNECT_FAILED);
		sl_log_info("%s: flow %s -> %s: socket for the pod: %s",
			    __func__, f->src, f->dst, strerror(-fd));
		sl_flow_fail(f);
		return;
	}
	f->pod_fd = fd;
	f->sa_len = sl_ip_to_sockaddr(&wl->address, port, &f->sa);
	f->phase = SL_PHASE_CONNECT_POD;
	f->pod_cont = cont;
	sl_flow_connect(f, fd, f->d->o.connect_timeout_ns, pod_connect_done);
}

void sl_flow_connect(struct sl_flow *f, int fd, uint64_t timeout_ns,
		     sl_flow_cont cont)
{
	struct io_uring_sqe *sqe = sl_worker_sqe(f->wc->w);

	f->io_op.fn = io_done;
	f->io_exact = false;
	f->cont = cont;
	io_uring_prep_connect(sqe, fd, (struct sockaddr *)&f->sa, f->sa_len);
	sl_op_attach(sqe, &f->io_op);
	f->io_armed = true;
	if (timeout_ns) {
		sqe->flags |= IOSQE_IO_LINK;
		sl_ns_to_ts(timeout_ns, &f->link_ts);
		sqe = sl_worker_sqe(f->wc->w);
		io_uring_prep_link_timeout(sqe, &f->link_ts, 0);
		io_uring_sqe_set_data(sqe, NULL);
	}
}

/* ---- handshake ------------------------------------------------------- */

static void hs_next(struct sl_flow *f);

static void hs_fail(struct sl_flow *f, enum sl_tls_fail why, const char *detail)
{
	sl_stats_hs_fail(why);
	sl_log_info("%s: flow %s -> %s: handshake failed: %s%s%s", __func__,
		    f->src, f->dst, sl_tls_fail_name(why),
		    detail && *detail ? ": " : "", detail ? detail : "");
	sl_flow_fail(f);
}

static void hs_alert_sent(struct sl_flow *f, int res)
{
	sl_flow_fail(f);
}

static void hs_sent(struct sl_flow *f, int res)
{
	if (res < 0) {
		hs_fail(f, res == -ETIMEDOUT ? SL_TLS_FAIL_TIMEOUT : SL_TLS_FAIL_PROTOCOL,
			strerror(-res));
		return;
	}
	hs_next(f);
}

/* a handshake step is back from its helper (offload.h), on our thread */
static void hs_stepped(struct sl_hs_step *s, int ret)
{
	struct sl_flow *f = sl_container_of(s, struct sl_flow, hs_step);
	enum sl_tls_fail why;
	size_t n;

	f->hs_busy = false;
	if (f->ended) { /* failed meanwhile (set-up timeout, stop) */
		if (f->timed_out)
			sl_stats_hs_fail(SL_TLS_FAIL_TIMEOUT);
		flow_maybe_free(f);
		return;
	}
	if (ret == 0) {
		f->hs_done = true;
	} else if (ret != -EAGAIN) {
		why = sl_tls_conn_fail(f->tls);
		if (why == SL_TLS_OK)
			why = f->hs_first ? SL_TLS_FAIL_INTERNAL :
					    SL_TLS_FAIL_PROTOCOL;
		sl_stats_hs_fail(why);
		sl_log_info("%s: flow %s -> %s: handshake failed: %s: %s", __func__,
			    f->src, f->dst, sl_tls_fail_name(why),
			    sl_tls_conn_fail_detail(f->tls));
		/* best effort: tell the peer why (the alert) */
		n = sl_tls_conn_take_output(f->tls, f->buf, sizeof(f->buf));
		if (n)
			sl_flow_send_all(f, f->mesh_fd, f->buf, n, hs_alert_sent);
		else
			sl_flow_fail(f);
		return;
	}
	f->hs_first = false;
	hs_next(f);
}

/* run the next handshake step; hs_stepped goes on */
static void hs_step(struct sl_flow *f)
{
	f->hs_busy = true;
	f->hs_step.tls = f->tls;
	f->hs_step.cb = hs_stepped;
	/* a client that asked for a ticket is a peer's pool refill: no flow
	 * waits on it, so its steps go after the flows' (offload.h) */
	f->hs_step.job.background = sl_tls_conn_ticketed(f->tls);
	sl_hs_step_submit(f->wc->w, &f->hs_step);
}

static void hs_recvd(struct sl_flow *f, int res)
{
	if (res == 0)
		res = -ECONNRESET; /* EOF in the handshake */
	if (res < 0) {
		hs_fail(f, res == -ETIMEDOUT ? SL_TLS_FAIL_TIMEOUT : SL_TLS_FAIL_PROTOCOL,
			res == -ECONNRESET ? "connection closed by peer" : strerror(-res));
		return;
	}
	if (sl_tls_conn_feed(f->tls, f->buf, (size_t)res)) {
		hs_fail(f, SL_TLS_FAIL_INTERNAL, "out of memory");
		return;
	}
	hs_step(f);
}

static void hs_next(struct sl_flow *f)
{
	size_t n, want;

	n = sl_tls_conn_take_output(f->tls, f->buf, sizeof(f->buf));
	if (n) {
		sl_flow_send_all(f, f->mesh_fd, f->buf, n, hs_sent);
		return;
	}
	if (f->hs_done) {
		sl_stat_inc(SL_STAT_HANDSHAKES_OK);
		if (sl_tls_conn_resumed(f->tls))
			sl_stat_inc(SL_STAT_HANDSHAKES_RESUMED);
		sl_obs_handshake_done(sl_now_ns() - f->hs_start_ns);
		f->phase = SL_PHASE_PREAMBLE;
		f->on_handshake(f);
		return;
	}
	want = sl_tls_conn_read_size(f->tls, sizeof(f->buf), f->d->ktls);
	if (!want) {
		hs_fail(f, SL_TLS_FAIL_INTERNAL, "handshake stalled");
		return;
	}
	/* one read of what has arrived, never past the handshake (tls.h);
	 * a partial record is fine, the conn asks for the rest */
	sl_flow_recv(f, f->mesh_fd, f->buf, want, hs_recvd);
}

void sl_flow_handshake(struct sl_flow *f)
{
	f->phase = SL_PHASE_HANDSHAKE;
	f->hs_start_ns = sl_now_ns();
	f->hs_first = true;
	hs_step(f); /* client: the ClientHello; server: wants it */
}

int sl_flow_ktls_install(struct sl_flow *f)
{
	int ret;

	f->ktls = false;
	if (!f->d->ktls)
		return 0;
	ret = sl_ktls_install(f->mesh_fd, f->tls);
	if (ret == -ENOTCONN) {
		/* tls_init() accepts only ESTABLISHED sockets: a short flow's
		 * FIN can arrive with the handshake.  TCP_ULP failed, so the
		 * socket is untouched and the session goes on in userspace. */
		sl_stat_inc(SL_STAT_KTLS_FALLBACKS);
		sl_log_debug("%s: flow %s -> %s: peer already half-closed: userspace TLS",
			     __func__, f->src, f->dst);
		return 0;
	}
	if (ret) {
		sl_stat_inc(SL_STAT_KTLS_INSTALL_FAILED);
		sl_log_warn("%s: flow %s -> %s: kTLS install failed: %s",
			    __func__, f->src, f->dst, strerror(-ret));
		return ret;
	}
	f->ktls = true;
	return 0;
}

/* ---- relay ----------------------------------------------------------- */

/* what the relay keeps of a flow: the worker and the load-balancer slot
 * (active flow of the endpoint, circuit breaker) until it ends */
struct sl_relay_ctx {
	struct sl_wctx *wc;
	struct sl_lb_flow *lb;
	enum sl_budget budget; /* the flow's admission (daemon.h) */
};

static void relay_done(void *arg, const struct sl_relay_result *r)
{
	struct sl_relay_ctx *rc = arg;
	struct sl_wctx *wc = rc->wc;
	enum sl_budget budget = rc->budget;

	sl_lb_end(rc->lb);
	free(rc->lb);
	free(rc);

	sl_stat_add(SL_STAT_BYTES_POD_TO_MESH, r->bytes_plain_to_tls);
	sl_stat_add(SL_STAT_BYTES_MESH_TO_POD, r->bytes_tls_to_plain);
	switch (r->end) {
	case SL_RELAY_END_RESET_PLAIN:
	case SL_RELAY_END_RESET_TLS:
		sl_stat_inc(SL_STAT_RELAY_RESETS);
		break;
	case SL_RELAY_END_IDLE:
		sl_stat_inc(SL_STAT_RELAY_IDLE);
		break;
	case SL_RELAY_END_MAX_DURATION:
		sl_stat_inc(SL_STAT_RELAY_MAX_DURATION);
		break;
	case SL_RELAY_END_UNEXPECTED_RECORD:
		sl_stat_inc(SL_STAT_UNEXPECTED_KTLS_RECORDS);
		break;
	default:
		break;
	}
	sl_log_debug("%s: relay ended: %s, %llu bytes out, %llu bytes in%s",
		     __func__, sl_relay_end_name(r->end),
		     (unsigned long long)r->bytes_plain_to_tls,
		     (unsigned long long)r->bytes_tls_to_plain,
		     r->ktls ? " (kTLS)" : "");
	sl_stats_flow_close();
	sl_budget_put(budget);
	sl_worker_unref(wc->w);
}

void sl_outbound_direct_release(struct sl_outbound_direct *dc)
{
	if (!dc || !dc->lb)
		return;
	sl_lb_end(dc->lb);
	free(dc->lb);
	dc->lb = NULL;
	sl_stats_flow_close();
	sl_budget_put((enum sl_budget)dc->budget);
	sl_worker_unref(dc->w);
}

/*
 * An upstream leg of the HTTP engine that reads and writes the mesh socket
 * itself (f->direct): what the relay would take goes to the leg instead.
 * Userspace TLS continues on the record layer (a pooled session is on it
 * already); a session the record layer cannot take over (sl_tls_rl_new
 * refuses: record.h) fails the leg, which the engine treats as a failed
 * connection (retried by its policy).
 */
static void flow_hand_over(struct sl_flow *f, bool ktls)
{
	struct sl_outbound_direct *dc = f->direct;
	void (*ready)(void *, int) = f->ready;
	struct sl_tls_rl *rl = f->rl;
	int ret;

	if (!f->plaintext && !ktls && !rl) {
		ret = sl_tls_rl_new(f->tls, &rl);
		if (ret) {
			sl_log_warn("%s: flow %s -> %s: the record layer cannot take the session over: %s",
				    __func__, f->src, f->dst, strerror(-ret));
			f->ready_err = -EPROTO;
			sl_flow_fail(f);
			return;
		}
	}
	memset(dc, 0, sizeof(*dc));
	dc->fd = f->mesh_fd;
	dc->ktls = ktls;
	dc->plaintext = f->plaintext;
	dc->rl = rl;
	dc->lb = f->lb;
	dc->budget = (int)f->adm.budget;
	dc->w = f->wc->w;
	dc->idle_timeout_ns = f->d->o.idle_timeout_ns;
	if (f->lb && f->lb->pol.idle_timeout_ns)
		dc->idle_timeout_ns = f->lb->pol.idle_timeout_ns;
	dc->max_duration_ns = f->lb ? f->lb->pol.max_duration_ns : 0;
	sl_worker_ref(f->wc->w);
	/* the kernel has the keys, or the record layer has the session */
	sl_tls_conn_free(f->tls);
	sl_stat_inc(SL_STAT_RELAYS_STARTED);
	sl_stat_inc(f->plaintext ? SL_STAT_RELAYS_PLAIN :
		    ktls ? SL_STAT_RELAYS_KTLS : SL_STAT_RELAYS_USERSPACE);
	sl_log_debug("%s: flow %s -> %s: the HTTP engine takes the mesh socket (%s)",
		     __func__, f->src, f->dst,
		     f->plaintext ? "plaintext" : ktls ? "kTLS" : "userspace TLS");
	f->lb = NULL;
	f->mesh_fd = -1;
	f->tls = NULL;
	f->rl = NULL;
	f->handoff_port = 0;
	f->adm.budget = SL_BUDGET_NONE;
	sl_admission_release(f->d, &f->adm);
	f->ready = NULL;
	f->direct = NULL;
	ready(f->ready_arg, 0);
	flow_end(f);
}

static void flow_relay(struct sl_flow *f, bool ktls, const void *initial,
		       uint32_t initial_len)
{
	struct sl_relay_params p = {
		.idle_timeout_ns = f->d->o.idle_timeout_ns,
		.buf_size = SL_RELAY_DEFAULT_BUF_SIZE,
		.buf_size_bulk = f->d->o.bulk_buf_size,
		.pipe_size = 64 * 1024,
		.done = relay_done,
	};
	struct sl_relay_ctx *rc = calloc(1, sizeof(*rc));
	int ret;

	if (!rc) {
		sl_flow_fail(f);
		return;
	}
	rc->wc = f->wc;
	rc->lb = f->lb;
	rc->budget = f->adm.budget;
	p.done_arg = rc;
	/* DestinationRule connectionPool idleTimeout (outbound) */
	if (f->lb && f->lb->pol.idle_timeout_ns)
		p.idle_timeout_ns = f->lb->pol.idle_timeout_ns;
	/* and tcp.maxConnectionDuration */
	if (f->lb)
		p.max_duration_ns = f->lb->pol.max_duration_ns;
	p.up_sent = f->early_len;
	p.rl = f->rl;

	sl_worker_ref(f->wc->w);
	if (!f->ready && !f->l7) {
		struct sl_obs_conn oc;

		/* the flow feeds observability (live flows, metrics, log);
		 * an HTTP engine's upstream leg does not: its requests do */
		sl_flow_obs_conn(f, ktls, &oc);
		sl_obs_flow_wrap(&oc, &p);
	}
	if (f->plaintext)
		ret = sl_relay_start_plain(f->wc->w, f->pod_fd, f->mesh_fd,
					   initial, initial_len, &p);
	else
		ret = sl_relay_start(f->wc->w, f->pod_fd, f->mesh_fd, f->tls,
				     ktls, initial, initial_len, &p);
	if (ret) {
		if (!f->ready && !f->l7)
			sl_obs_flow_unwrap(&p);
		free(rc);
		sl_worker_unref(f->wc->w);
		sl_log_warn("%s: flow %s -> %s: relay: %s", __func__, f->src,
			    f->dst, strerror(-ret));
		sl_flow_fail(f);
		return;
	}
	sl_stat_inc(SL_STAT_RELAYS_STARTED);
	sl_stat_inc(f->plaintext ? SL_STAT_RELAYS_PLAIN :
		    ktls ? SL_STAT_RELAYS_KTLS : SL_STAT_RELAYS_USERSPACE);
	sl_log_debug("%s: flow %s -> %s relayed (%s)", __func__, f->src, f->dst,
		     f->plaintext ? "plaintext" :
		     ktls ? "kTLS" : "userspace TLS");
	/* the relay owns them now */
	f->lb = NULL;
	f->pod_fd = f->mesh_fd = -1;
	f->tls = NULL;
	f->rl = NULL;
	f->handoff_port = 0;
	/* relay_done gives the budget back (an inbound flow's per-source
	 * count went with its authentication: nothing else is held) */
	f->adm.budget = SL_BUDGET_NONE;
	sl_admission_release(f->d, &f->adm);
	if (f->ready) {
		void (*ready)(void *, int) = f->ready;

		f->ready = NULL;
		ready(f->ready_arg, 0);
	}
	flow_end(f);
}

void sl_flow_relay(struct sl_flow *f, bool ktls, const void *initial,
		   uint32_t initial_len)
{
	if (f->direct)
		flow_hand_over(f, ktls);
	else
		flow_relay(f, ktls, initial, initial_len);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Connection pool I/O (see pool.h): background refills (dial the endpoint's
 * mesh port, TLS client handshake as the source identity, exactly as a
 * flow does), a POLLIN|POLLRDHUP watch on every ready socket, the expiry
 * timer.  Everything runs on the worker's thread, but the handshake's
 * steps, which run on a helper (offload.h); a refill in a step has no op
 * in flight, and a cancel (sl_pool_stop) is seen when the step is back.
 *
 * Resumption (tls.h): a refill asks the server for a session ticket and
 * offers the key's last session, so that only the first refill of a key
 * (and one after a flush or a lifetime) pays for certificates and
 * signatures.  The ticket follows the handshake; the refill reads it
 * before the connection is ready, and its session replaces the key's.
 *
 * Resource accounting: every pooled connection, ready or still
 * handshaking, holds one slot of the connection cap (sl_flow_admit_spare:
 * a refill that finds the cap reached is simply not started, nothing is
 * shed) and one worker reference while its ops are in flight, so a
 * stopping worker waits for the cancellations.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "identity.h"
#include "log.h"
#include "obs.h"
#include "offload.h"
#include "pool.h"
#include "record.h"
#include "stats.h"
#include "tls.h"
#include "util.h"
#include "admission.h"
#include "sock.h"

#define SWEEP_NS 1000000000ULL

/* bumped by sl_pool_invalidate_all(); each pool flushes when it differs */
static atomic_uint pool_epoch;

struct sl_pool {
	struct sl_wctx *wc;
	struct sl_worker *w;
	struct sl_daemon *d;
	struct sl_pool_table t;
	struct sl_op sweep_op;
	struct __kernel_timespec sweep_ts;
	bool sweep_armed;
	bool stopping;
	unsigned int epoch;
	struct refill *refills; /* in flight */
	/* deferred refills: buckets waiting for the refill timer */
	struct sl_pool_bucket *queue;
	struct sl_op refill_op;
	struct __kernel_timespec refill_ts;
	bool refill_armed;
	uint64_t rng; /* refill delay jitter */
};

/* a ready entry and its poll watch */
struct pooled {
	struct sl_pool_entry e;
	struct sl_pool *p;
	struct sl_op poll_op;
	bool in_table; /* false once taken or discarded (poll cancel sent) */
};

/* one background handshake */
struct refill {
	struct refill *next, *prev;
	struct sl_pool *p;
	struct sl_pool_bucket *b;
	int fd;
	struct sl_tls_conn *tls;
	uintptr_t gen;
	unsigned int epoch;
	struct sl_op op;
	struct __kernel_timespec link_ts;
	struct sockaddr_storage sa;
	socklen_t sa_len;
	void (*cont)(struct refill *r, int res);
	size_t len, done;
	bool sending, cancelled, hs_done;
	bool ticket; /* reading the session ticket after the handshake */
	struct sl_hs_step step; /* on a helper while its op is nothing */
	uint64_t start_ns; /* connected (0 before): the handshake's start */
	uint64_t begin_ns; /* refill_start: dial + handshake (the key's fill) */
	uint8_t buf[SL_TLS_RECORD_MAX];
};

static void pool_ready_add(int64_t n)
{
	atomic_fetch_add_explicit(&sl_stats.pool_ready, n, memory_order_relaxed);
}

/* ---- ready entries ------------------------------------------------------ */

static void pooled_close(struct pooled *pe, bool reset)
{
	if (reset)
		sl_socket_reset(pe->e.fd);
	else
		close(pe->e.fd); /* a plain FIN: the server ends it quietly */
	pe->e.fd = -1;
	sl_tls_conn_free(pe->e.tls);
	pe->e.tls = NULL;
	sl_tls_rl_free(pe->e.rl);
	pe->e.rl = NULL;
	sl_flow_release();
}

static void poll_done(struct sl_op *op, int res, uint32_t flags)
{
	struct pooled *pe = sl_container_of(op, struct pooled, poll_op);
	struct sl_pool *p = pe->p;

	if (pe->in_table) {
		/* EOF, reset, an alert: whatever arrived, it is not usable */
		sl_pool_table_remove(&p->t, &pe->e);
		pe->in_table = false;
		pool_ready_add(-1);
		sl_stat_inc(SL_STAT_POOL_DROPPED);
		sl_log_debug("%s: pooled connection closed by the peer (%d)",
			     __func__, res);
		pooled_close(pe, true);
	}
	sl_worker_unref(p->w);
	free(pe);
}

static void table_discard(struct sl_pool_entry *e, enum sl_pool_drop why,
			  void *arg)
{
	struct pooled *pe = sl_container_of(e, struct pooled, e);
	struct sl_pool *p = arg;

	pe->in_table = false;
	pool_ready_add(-1);
	sl_stat_inc(why == SL_POOL_DROP_EXPIRED ? SL_STAT_POOL_EXPIRED :
						  SL_STAT_POOL_DROPPED);
	pooled_close(pe, why != SL_POOL_DROP_EXPIRED);
	sl_worker_cancel_op(p->w, &pe->poll_op); /* poll_done frees it */
}

static void sweep_done(struct sl_op *op, int res, uint32_t flags);

static void sweep_arm(struct sl_pool *p)
{
	if (p->sweep_armed || p->stopping)
		return;
	p->sweep_op.fn = sweep_done;
	sl_ns_to_ts(SWEEP_NS, &p->sweep_ts);
	sl_worker_timeout(p->w, &p->sweep_op, &p->sweep_ts);
	p->sweep_armed = true;
	sl_worker_ref(p->w);
}

static void sweep_done(struct sl_op *op, int res, uint32_t flags)
{
	struct sl_pool *p = sl_container_of(op, struct sl_pool, sweep_op);

	p->sweep_armed = false;
	if (res == -ETIME && !p->stopping) {
		sl_pool_table_sweep(&p->t, sl_now_ns(), time(NULL));
		if (p->t.n_buckets)
			sweep_arm(p);
	}
	sl_worker_unref(p->w);
}

/* ---- refills ------------------------------------------------------------ */

static void refill_end(struct refill *r)
{
	struct sl_pool *p = r->p;

	if (r->prev)
		r->prev->next = r->next;
	else
		p->refills = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->b->pending--;
	sl_worker_unref(p->w);
	free(r);
}

/* close the refill's socket (a reset, or a plain FIN) and end it */
static void refill_close(struct refill *r, bool reset)
{
	if (reset)
		sl_socket_reset(r->fd);
	else
		close(r->fd);
	sl_tls_conn_free(r->tls);
	sl_flow_release();
	refill_end(r);
}

static void refill_fail(struct refill *r, const char *what, int err)
{
	if (!r->cancelled) {
		sl_stat_inc(SL_STAT_POOL_REFILL_FAILED);
		sl_log_debug("%s: pool refill to %s: %s: %s", __func__,
			     r->b->peer_id, what, strerror(-err));
	}
	refill_close(r, true);
}

/*
 * A refill that completed during a stop or after a reload: closed unused,
 * with a plain FIN, as an expired entry is, so the peer ends it without
 * counting an error (docs/PROTOCOL.md, step 4)
 */
static void refill_discard(struct refill *r)
{
	sl_stat_inc(SL_STAT_POOL_DROPPED);
	sl_log_debug("%s: pool refill to %s done while %s: closed unused",
		     __func__, r->b->peer_id,
		     r->p->stopping ? "stopping" : "reloading");
	refill_close(r, false);
}

static void refill_ready(struct refill *r)
{
	struct sl_pool *p = r->p;
	struct io_uring_sqe *sqe;
	struct pooled *pe;

	uint64_t now = sl_now_ns();

	sl_stat_inc(SL_STAT_HANDSHAKES_OK);
	sl_stat_inc(SL_STAT_POOL_HANDSHAKES);
	if (sl_tls_conn_resumed(r->tls))
		sl_stat_inc(SL_STAT_HANDSHAKES_RESUMED);
	sl_obs_handshake_done(now - r->start_ns);
	sl_pool_table_filled(r->b, now - r->begin_ns);
	if (p->stopping || r->epoch != atomic_load(&pool_epoch)) {
		refill_discard(r);
		return;
	}
	if (r->ticket) {
		struct sl_tls_session *s = sl_tls_conn_take_session(r->tls);

		if (s) { /* the key's next refill resumes it */
			sl_stat_inc(SL_STAT_POOL_TICKETS);
			sl_tls_session_put(r->b->session);
			r->b->session = s;
			r->b->session_gen = r->gen;
		}
	}
	pe = calloc(1, sizeof(*pe));
	if (!pe) {
		refill_fail(r, "pooling", -ENOMEM);
		return;
	}
	pe->p = p;
	pe->e.fd = r->fd;
	pe->e.tls = r->tls;
	pe->e.gen = r->gen;
	pe->e.peer_not_after = sl_tls_conn_peer_not_after(r->tls);
	/* userspace TLS: the record layer takes the session over now, off
	 * any flow's path (and the SSL object's memory goes); kTLS installs
	 * from the conn at use.  A conn it cannot take stays a conn. */
	if (!p->d->ktls && sl_tls_rl_new(r->tls, &pe->e.rl) == 0) {
		sl_tls_conn_free(r->tls);
		pe->e.tls = NULL;
		sl_stat_inc(SL_STAT_POOL_RECORD_LAYER);
	}
	r->fd = -1;
	r->tls = NULL;
	sl_pool_table_put(&p->t, r->b, &pe->e, sl_now_ns());
	pe->in_table = true;
	pool_ready_add(1);
	/* the server sends nothing after its Finished: anything that arrives
	 * (FIN, RST, an alert rejecting our certificate) ends the entry */
	pe->poll_op.fn = poll_done;
	sqe = sl_worker_sqe(p->w);
	io_uring_prep_poll_add(sqe, pe->e.fd, POLLIN | POLLRDHUP);
	sl_op_attach(sqe, &pe->poll_op);
	sl_worker_ref(p->w);
	sweep_arm(p);
	refill_end(r);
}

static void refill_op_done(struct sl_op *op, int res, uint32_t flags)
{
	struct refill *r = sl_container_of(op, struct refill, op);

	if (r->cancelled && res >= 0)
		res = -ECANCELED;
	/* cut at the end of a stop's grace period: not the refill's failure */
	if (res == -ECANCELED && r->p->stopping)
		r->cancelled = true;
	r->cont(r, res);
}

/* one op on r->fd with a linked timeout */
static void refill_submit(struct refill *r, struct io_uring_sqe *sqe,
			  uint64_t timeout_ns)
{
	r->op.fn = refill_op_done;
	sl_op_attach(sqe, &r->op);
	sqe->flags |= IOSQE_IO_LINK;
	sl_ns_to_ts(timeout_ns, &r->link_ts);
	sqe = sl_worker_sqe(r->p->w);
	io_uring_prep_link_timeout(sqe, &r->link_ts, 0);
	io_uring_sqe_set_data(sqe, NULL);
}

static void refill_next(struct refill *r);
static void refill_ticket(struct refill *r);
static void refill_io(struct refill *r, bool send, size_t len);

/* a handshake step is back from its helper */
static void refill_stepped(struct sl_hs_step *s, int ret)
{
	struct refill *r = sl_container_of(s, struct refill, step);

	if (r->cancelled) {
		refill_fail(r, "handshake", -ECANCELED);
		return;
	}
	if (ret == 0) {
		r->hs_done = true;
	} else if (ret != -EAGAIN) {
		enum sl_tls_fail why = sl_tls_conn_fail(r->tls);

		sl_stats_hs_fail(why ? why : SL_TLS_FAIL_PROTOCOL);
		sl_log_info("%s: pool handshake with %s failed: %s: %s",
			    __func__, r->b->peer_id,
			    sl_tls_fail_name(why ? why : SL_TLS_FAIL_PROTOCOL),
			    sl_tls_conn_fail_detail(r->tls));
		refill_fail(r, "handshake", ret);
		return;
	}
	refill_next(r);
}

static void refill_step(struct refill *r)
{
	r->step.tls = r->tls;
	r->step.cb = refill_stepped;
	r->step.job.background = true; /* after the flows' own handshakes */
	sl_hs_step_submit(r->p->w, &r->step);
}

static void refill_io_done(struct refill *r, int res)
{
	struct io_uring_sqe *sqe;

	if (res == 0 && !r->sending)
		res = -ECONNRESET;
	if (res < 0) {
		if (!r->cancelled)
			sl_stats_hs_fail(res == -ECANCELED ? SL_TLS_FAIL_TIMEOUT :
							     SL_TLS_FAIL_PROTOCOL);
		refill_fail(r, "handshake", res);
		return;
	}
	r->done += (size_t)res;
	if (r->sending && r->done < r->len) {
		sqe = sl_worker_sqe(r->p->w);
		io_uring_prep_send(sqe, r->fd, r->buf + r->done,
				   r->len - r->done, MSG_NOSIGNAL);
		refill_submit(r, sqe, r->p->d->o.handshake_timeout_ns);
		return;
	}
	if (!r->sending) {
		/* one read of what has arrived (sl_tls_conn_read_size) */
		if (sl_tls_conn_feed(r->tls, r->buf, r->done)) {
			refill_fail(r, "handshake", -ENOMEM);
			return;
		}
		if (r->ticket) {
			refill_ticket(r);
			return;
		}
		refill_step(r);
		return;
	}
	refill_next(r);
}

/* the session ticket the server promised: cheap, on the worker */
static void refill_ticket(struct refill *r)
{
	int ret = sl_tls_conn_read_ticket(r->tls);

	if (ret == -EAGAIN) {
		refill_io(r, false, sizeof(r->buf));
		return;
	}
	if (ret) {
		sl_stats_hs_fail(SL_TLS_FAIL_PROTOCOL);
		sl_log_info("%s: pool handshake with %s failed: %s", __func__,
			    r->b->peer_id, sl_tls_conn_fail_detail(r->tls));
		refill_fail(r, "session ticket", ret);
		return;
	}
	refill_ready(r);
}

static void refill_io(struct refill *r, bool send, size_t len)
{
	struct io_uring_sqe *sqe = sl_worker_sqe(r->p->w);

	r->sending = send;
	r->len = len;
	r->done = 0;
	r->cont = refill_io_done;
	if (send)
		io_uring_prep_send(sqe, r->fd, r->buf, len, MSG_NOSIGNAL);
	else
		io_uring_prep_recv(sqe, r->fd, r->buf, len, 0);
	refill_submit(r, sqe, r->p->d->o.handshake_timeout_ns);
}

static void refill_next(struct refill *r)
{
	size_t n, want;

	n = sl_tls_conn_take_output(r->tls, r->buf, sizeof(r->buf));
	if (n) {
		refill_io(r, true, n);
		return;
	}
	if (r->hs_done && sl_tls_conn_ticket_due(r->tls)) {
		/* nothing else comes before our preamble: read greedily */
		r->ticket = true;
		refill_io(r, false, sizeof(r->buf));
		return;
	}
	if (r->hs_done) {
		refill_ready(r);
		return;
	}
	want = sl_tls_conn_read_size(r->tls, sizeof(r->buf), r->p->d->ktls);
	if (!want) {
		sl_stats_hs_fail(SL_TLS_FAIL_INTERNAL);
		refill_fail(r, "handshake", -EPROTO);
		return;
	}
	refill_io(r, false, want);
}

static void refill_connected(struct refill *r, int res)
{
	if (res < 0) {
		refill_fail(r, "connect", res == -ECANCELED && !r->cancelled ?
						  -ETIMEDOUT : res);
		return;
	}
	r->start_ns = sl_now_ns();
	refill_step(r); /* the ClientHello */
}

static int refill_start(struct sl_pool *p, struct sl_pool_bucket *b,
			struct sl_identity *self)
{
	struct io_uring_sqe *sqe;
	struct refill *r;
	int ret;

	if (!sl_flow_admit_spare(p->d))
		return -EBUSY; /* at the connection cap: no spare connections */
	r = calloc(1, sizeof(*r));
	if (!r) {
		sl_flow_release();
		return -ENOMEM;
	}
	r->p = p;
	r->b = b;
	r->begin_ns = sl_now_ns();
	r->gen = (uintptr_t)self;
	r->epoch = p->epoch;
	r->fd = sl_socket_dial(b->addr.family, p->d->mark);
	if (r->fd < 0) {
		ret = r->fd;
		goto err;
	}
	ret = sl_tls_conn_new(p->d->tls_ctx, SL_TLS_CLIENT, self, b->peer_id,
			      &r->tls);
	if (ret)
		goto err;
	if (!p->d->o.no_resumption) {
		/* the key's last session, if made as this same identity */
		ret = sl_tls_conn_ask_ticket(r->tls, b->session &&
							     b->session_gen == r->gen ?
						     b->session : NULL);
		if (ret)
			goto err;
	}
	r->sa_len = sl_ip_to_sockaddr(&b->addr, b->port, &r->sa);
	b->pending++;
	r->next = p->refills;
	if (r->next)
		r->next->prev = r;
	p->refills = r;
	sl_worker_ref(p->w);
	r->cont = refill_connected;
	sqe = sl_worker_sqe(p->w);
	io_uring_prep_connect(sqe, r->fd, (struct sockaddr *)&r->sa, r->sa_len);
	refill_submit(r, sqe, p->d->o.connect_timeout_ns);
	return 0;
err:
	if (r->fd >= 0)
		close(r->fd);
	sl_tls_conn_free(r->tls);
	free(r);
	sl_flow_release();
	return ret;
}

/* ---- API ---------------------------------------------------------------- */

int sl_pool_new(struct sl_wctx *wc, struct sl_pool **out)
{
	struct sl_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->wc = wc;
	p->w = wc->w;
	p->d = wc->d;
	p->rng = sl_now_ns() ^ ((uint64_t)sl_worker_id(p->w) << 32);
	p->epoch = atomic_load(&pool_epoch);
	sl_pool_table_init(&p->t, p->d->o.pool_size, p->d->o.pool_idle_ns,
			   table_discard, p);
	sl_pool_table_grow(&p->t, p->d->o.pool_max, p->d->o.pool_refill_delay_ns);
	*out = p;
	return 0;
}

void sl_pool_stop(struct sl_pool *p)
{
	if (!p || p->stopping)
		return;
	p->stopping = true;
	sl_pool_table_flush(&p->t);
	/* a refill still dialing is cancelled; one the peer has accepted
	 * finishes its handshake (under the handshake timeout, within the
	 * grace period) and is then closed unused (refill_discard): cut in
	 * the middle, it would count as a failed handshake on the peer */
	for (struct refill *r = p->refills; r; r = r->next) {
		if (r->start_ns) /* connected */
			continue;
		r->cancelled = true;
		sl_worker_cancel_op(p->w, &r->op);
	}
	if (p->sweep_armed)
		sl_worker_timeout_cancel(p->w, &p->sweep_op);
	if (p->refill_armed)
		sl_worker_timeout_cancel(p->w, &p->refill_op);
}

void sl_pool_free(struct sl_pool *p)
{
	if (!p)
		return;
	sl_pool_table_fini(&p->t);
	free(p);
}

bool sl_pool_enabled(const struct sl_pool *p)
{
	return p && p->t.size && !p->stopping;
}

void sl_pool_invalidate_all(void)
{
	atomic_fetch_add(&pool_epoch, 1);
}

static void pool_check_epoch(struct sl_pool *p)
{
	unsigned int e = atomic_load(&pool_epoch);

	if (e == p->epoch)
		return;
	p->epoch = e;
	sl_pool_table_flush(&p->t); /* counted as dropped */
}

/* a socket that has something to read (FIN, RST, a record) is not usable;
 * the poll watch may not have reported it yet */
static bool socket_quiet(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLRDHUP };

	return poll(&pfd, 1, 0) == 0;
}

int sl_pool_take(struct sl_pool *p, const struct sl_pool_key *k,
		 const struct sl_identity *self, int *fd,
		 struct sl_tls_conn **tls, struct sl_tls_rl **rl)
{
	struct sl_pool_bucket *b;
	struct sl_pool_entry *e;
	struct pooled *pe;
	uint64_t now = sl_now_ns();

	if (!sl_pool_enabled(p))
		return -ENOENT;
	pool_check_epoch(p);
	if (sl_pool_table_bucket(&p->t, k, &b))
		goto miss;
	while (!sl_pool_table_take(&p->t, b, now, time(NULL), (uintptr_t)self,
				   &e)) {
		pe = sl_container_of(e, struct pooled, e);
		pe->in_table = false;
		pool_ready_add(-1);
		if (!socket_quiet(e->fd)) {
			sl_stat_inc(SL_STAT_POOL_DROPPED);
			pooled_close(pe, true);
			sl_worker_cancel_op(p->w, &pe->poll_op);
			continue;
		}
		*fd = e->fd;
		*tls = e->tls;
		*rl = e->rl;
		e->fd = -1;
		e->tls = NULL;
		e->rl = NULL;
		sl_flow_release(); /* the flow holds its own slot */
		sl_worker_cancel_op(p->w, &pe->poll_op); /* poll_done frees */
		sl_stat_inc(SL_STAT_POOL_HITS);
		return 0;
	}
miss:
	sl_stat_inc(SL_STAT_POOL_MISSES);
	return -ENOENT;
}

static void refill_now(struct sl_pool *p, struct sl_pool_bucket *b,
		       struct sl_identity *self)
{
	for (unsigned int n = sl_pool_table_want(&p->t, b); n; n--)
		if (refill_start(p, b, self))
			break;
}

static void refill_timer_done(struct sl_op *op, int res, uint32_t flags)
{
	struct sl_pool *p = sl_container_of(op, struct sl_pool, refill_op);
	struct sl_pool_bucket *b, *next;

	p->refill_armed = false;
	b = p->queue;
	p->queue = NULL;
	for (; b; b = next) {
		struct sl_identity *self = NULL;

		next = b->qnext;
		b->qnext = NULL;
		b->queued = false;
		if (p->stopping || !sl_pool_table_want(&p->t, b))
			continue;
		/* the source's identity now (it may have been renewed) */
		if (sl_daemon_identity(p->d, b->src_id, &self))
			continue;
		refill_now(p, b, self);
		sl_identity_put(self);
	}
	sl_worker_unref(p->w);
}

void sl_pool_refill(struct sl_pool *p, const struct sl_pool_key *k,
		    struct sl_identity *self)
{
	struct sl_pool_bucket *b;

	if (!sl_pool_enabled(p))
		return;
	pool_check_epoch(p);
	if (sl_pool_table_bucket(&p->t, k, &b))
		return;
	if (!b->last_use_ns)
		b->last_use_ns = sl_now_ns();
	sweep_arm(p);
	if (!p->d->o.pool_refill_delay_ns) {
		refill_now(p, b, self);
		return;
	}
	if (b->queued || !sl_pool_table_want(&p->t, b))
		return;
	b->queued = true;
	b->qnext = p->queue;
	p->queue = b;
	if (p->refill_armed)
		return;
	p->refill_op.fn = refill_timer_done;
	sl_ns_to_ts(sl_pool_refill_jitter(p->d->o.pool_refill_delay_ns, &p->rng),
		    &p->refill_ts);
	sl_worker_timeout(p->w, &p->refill_op, &p->refill_ts);
	p->refill_armed = true;
	sl_worker_ref(p->w);
}

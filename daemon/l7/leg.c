/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Upstream legs of the HTTP engine (l7_internal.h): the mesh socket of an
 * outbound flow pinned to one endpoint, which the flow hands over once it
 * is ready instead of relaying it (sl_outbound_direct: mTLS on kTLS or on
 * the record layer, or plaintext for tls DISABLE; a same-node endpoint is
 * mTLS over loopback to our own inbound listener like any other), read and
 * written by the engine through the leg's stream (stream.h); and the
 * worker's list of idle legs kept for reuse (HTTP keep-alive per endpoint
 * and source identity).
 *
 * An idle leg has a poll armed on its socket: the upstream closing it (or
 * sending bytes nobody asked for) ends it at once rather than failing the
 * next request sent on it.  Idle legs are capped per worker (oldest closed
 * first) and closed after their idle timeout: the destination's
 * connectionPool.http.idleTimeout (60 s without one), or the idle timeout
 * the flow's relay would have had (tcp.idleTimeout, else --idle-timeout)
 * when shorter, by one per-worker timer (no operation per request).  A leg
 * older than tcp.maxConnectionDuration is not reused.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon.h"
#include "entry.h"
#include "l7_internal.h"
#include "log.h"
#include "policy_query.h"
#include "sock.h"
#include "util.h"

#define SL_L7_IDLE_MAX 256		  /* idle legs per worker */
#define SL_L7_LEG_IDLE_NS (60ull * 1000000000ull)

static __thread struct sl_l7_leg *idle_head, *idle_tail;
static __thread unsigned int idle_n;
static __thread bool legs_stopping;
/* the idle legs' expiry: one timer per worker, for the earliest one */
static __thread struct sl_op sweep_op;
static __thread struct __kernel_timespec sweep_ts;
static __thread struct sl_worker *sweep_w;
static __thread uint64_t sweep_due;
static __thread bool sweep_armed, sweep_cancelling;

static void leg_free_maybe(struct sl_l7_leg *leg)
{
	if (leg->closed && !leg->poll_armed && !leg->connecting &&
	    !sl_l7_stream_busy(&leg->st))
		free(leg);
}

/* the stream's last op came back after the close */
static void leg_stream_idle(struct sl_l7_stream *st)
{
	leg_free_maybe(sl_container_of(st, struct sl_l7_leg, st));
}

static void idle_unlink(struct sl_l7_leg *leg)
{
	if (leg->prev)
		leg->prev->next = leg->next;
	else if (idle_head == leg)
		idle_head = leg->next;
	else
		return; /* not on the list */
	if (leg->next)
		leg->next->prev = leg->prev;
	else
		idle_tail = leg->prev;
	leg->prev = leg->next = NULL;
	idle_n--;
}

void sl_l7_leg_close(struct sl_l7_leg *leg)
{
	if (!leg || leg->closed)
		return;
	idle_unlink(leg);
	leg->closed = true;
	leg->owner = NULL;
	if (leg->poll_armed)
		sl_worker_cancel_op(leg->wc->w, &leg->poll_op);
	sl_l7_stream_close(&leg->st);
	/* a connecting leg's flow still has all of it: leg_ready */
	if (!leg->connecting)
		sl_outbound_direct_release(&leg->dc);
	leg_free_maybe(leg);
}

static void leg_ready(void *arg, int err)
{
	struct sl_l7_leg *leg = arg;
	struct sl_outbound_direct *dc = &leg->dc;

	leg->connecting = false;
	if (!err) {
		sl_l7_stream_init(&leg->st, leg->wc->w, dc->fd,
				  dc->plaintext ? SL_L7_STREAM_PLAIN :
				  dc->ktls ? SL_L7_STREAM_KTLS :
					     SL_L7_STREAM_RL,
				  dc->rl);
		leg->st.on_idle = leg_stream_idle;
		leg->st.counted = true;
		dc->rl = NULL;
		dc->fd = -1;
		leg->born = sl_now_ns();
		if (dc->idle_timeout_ns && dc->idle_timeout_ns < leg->idle_ns)
			leg->idle_ns = dc->idle_timeout_ns;
	}
	if (leg->closed) { /* its request went away meanwhile */
		sl_l7_stream_close(&leg->st);
		sl_outbound_direct_release(dc);
		leg_free_maybe(leg);
		return;
	}
	if (!leg->owner) {
		sl_l7_leg_close(leg);
		return;
	}
	leg->ready(leg->owner, leg, err);
}

static void idle_polled(struct sl_op *op, int res, uint32_t flags);

static void arm_idle_poll(struct sl_l7_leg *leg)
{
	struct io_uring_sqe *sqe;

	if (leg->poll_armed)
		return;
	leg->poll_op.fn = idle_polled;
	sqe = sl_worker_sqe(leg->wc->w);
	io_uring_prep_poll_add(sqe, sl_l7_leg_fd(leg), POLLIN | POLLRDHUP);
	sl_op_attach(sqe, &leg->poll_op);
	leg->poll_armed = true;
}

static void idle_polled(struct sl_op *op, int res, uint32_t flags)
{
	struct sl_l7_leg *leg = sl_container_of(op, struct sl_l7_leg, poll_op);

	(void)flags;
	leg->poll_armed = false;
	if (leg->closed) {
		leg_free_maybe(leg);
		return;
	}
	if (leg->owner)
		return; /* taken for a request: its user finds out itself */
	if (res == -ECANCELED && !legs_stopping) {
		/* taken and put back before this came */
		arm_idle_poll(leg);
		return;
	}
	/* readable while idle: the upstream closed, or sent what nobody
	 * asked for; either way it cannot carry another request */
	sl_log_debug("%s: idle upstream leg ended (%d)", __func__, res);
	sl_l7_leg_close(leg);
}

static void sweep_arm(struct sl_worker *w, uint64_t due);

/* close the idle legs past their idle timeout; again for the next one */
static void sweep_done(struct sl_op *op, int res, uint32_t flags)
{
	struct sl_worker *w = sweep_w;
	uint64_t now = sl_now_ns(), next = 0;
	struct sl_l7_leg *leg, *nx;

	(void)op;
	(void)res;
	(void)flags;
	sweep_armed = sweep_cancelling = false;
	if (!legs_stopping) {
		for (leg = idle_head; leg; leg = nx) {
			uint64_t due = leg->idle_since + leg->idle_ns;

			nx = leg->next;
			if (now >= due) {
				sl_log_debug("%s: idle upstream leg timed out",
					     __func__);
				sl_l7_leg_close(leg);
			} else if (!next || due < next) {
				next = due;
			}
		}
		if (next)
			sweep_arm(w, next);
	}
	sl_worker_unref(w);
}

/* expire idle legs at @due at the latest (monotonic ns) */
static void sweep_arm(struct sl_worker *w, uint64_t due)
{
	uint64_t now = sl_now_ns();

	if (sweep_armed) {
		/* an earlier expiry than the armed one: its completion
		 * re-arms for the earliest */
		if (due < sweep_due && !sweep_cancelling) {
			sweep_cancelling = true;
			sl_worker_timeout_cancel(w, &sweep_op);
		}
		return;
	}
	sweep_w = w;
	sweep_due = due;
	sweep_op.fn = sweep_done;
	sl_ns_to_ts(due > now ? due - now : 1, &sweep_ts);
	sl_worker_ref(w);
	sl_worker_timeout(w, &sweep_op, &sweep_ts);
	sweep_armed = true;
}

static bool key_eq(const struct sl_l7_key *a, const struct sl_l7_key *b)
{
	return a->port == b->port && a->plain == b->plain &&
	       sl_ip_equal(&a->addr, &b->addr) &&
	       strcmp(a->src_id, b->src_id) == 0 &&
	       strcmp(a->cluster, b->cluster) == 0;
}

static struct sl_l7_leg *idle_take(const struct sl_l7_key *key, void *owner)
{
	uint64_t now = sl_now_ns();
	struct sl_l7_leg *leg, *next;

	/* newest first: the warmest connection */
	for (leg = idle_tail; leg; leg = next) {
		next = leg->prev;
		if (now - leg->idle_since > leg->idle_ns) {
			sl_l7_leg_close(leg);
			continue;
		}
		if (!key_eq(&leg->key, key))
			continue;
		if (sl_l7_stream_has_input(&leg->st)) {
			/* the upstream sent what nobody asked for (a late
			 * second response): it must not answer this request */
			sl_l7_leg_close(leg);
			continue;
		}
		idle_unlink(leg);
		leg->owner = owner;
		if (leg->poll_armed)
			sl_worker_cancel_op(leg->wc->w, &leg->poll_op);
		return leg;
	}
	return NULL;
}

struct sl_l7_leg *sl_l7_leg_get(struct sl_wctx *wc, struct sl_config *cfg,
				const struct sl_l7_key *key,
				const struct sl_workload *src,
				const struct sl_ip *src_ip, uint16_t src_port,
				const struct sl_ip *orig_dst, uint16_t orig_port,
				const struct sl_endpoint *ep,
				const struct sl_dest_policy *pol,
				void (*ready)(void *, struct sl_l7_leg *, int),
				void *owner, bool *now, int *err)
{
	struct sl_outbound_pin pin = {
		.cfg = cfg, .src = src, .src_ip = *src_ip,
		.orig_dst = *orig_dst, .src_port = src_port,
		.orig_port = orig_port, .ep = ep, .pol = pol,
	};
	struct sl_l7_leg *leg;
	int ret;

	leg = idle_take(key, owner);
	if (leg) {
		leg->ready = ready;
		*now = true;
		return leg;
	}
	*now = false;
	leg = calloc(1, sizeof(*leg));
	if (!leg) {
		*err = -ENOMEM;
		return NULL;
	}
	leg->st.fd = -1;
	leg->dc.fd = -1;
	leg->key = *key;
	leg->idle_ns = pol->http_idle_timeout_ns ? pol->http_idle_timeout_ns :
						   SL_L7_LEG_IDLE_NS;
	leg->wc = wc;
	leg->ready = ready;
	leg->owner = owner;
	leg->connecting = true;
	pin.ready = leg_ready;
	pin.arg = leg;
	pin.direct = &leg->dc;
	ret = sl_outbound_start_pinned(wc, -1, &pin);
	if (ret) {
		free(leg);
		*err = ret;
		return NULL;
	}
	return leg;
}

void sl_l7_leg_put(struct sl_l7_leg *leg, bool reuse)
{
	uint64_t now;

	if (!leg || leg->closed)
		return;
	leg->owner = NULL;
	now = sl_now_ns();
	/* tcp.maxConnectionDuration: not reused past it */
	if (reuse && leg->dc.max_duration_ns &&
	    now - leg->born >= leg->dc.max_duration_ns)
		reuse = false;
	if (!reuse || legs_stopping || leg->connecting) {
		sl_l7_leg_close(leg);
		return;
	}
	if (idle_n >= SL_L7_IDLE_MAX)
		sl_l7_leg_close(idle_head);
	sl_l7_stream_trim(&leg->st);
	leg->idle_since = now;
	leg->prev = idle_tail;
	leg->next = NULL;
	if (idle_tail)
		idle_tail->next = leg;
	else
		idle_head = leg;
	idle_tail = leg;
	idle_n++;
	arm_idle_poll(leg);
	sweep_arm(leg->wc->w, now + leg->idle_ns);
}

void sl_l7_legs_stop(void)
{
	legs_stopping = true;
	while (idle_head)
		sl_l7_leg_close(idle_head);
	if (sweep_armed && !sweep_cancelling) {
		sweep_cancelling = true;
		sl_worker_timeout_cancel(sweep_w, &sweep_op);
	}
}

struct sl_l7_leg *sl_l7_leg_fixed(struct sl_wctx *wc, int fd, void *owner)
{
	struct sl_l7_leg *leg = calloc(1, sizeof(*leg));

	if (!leg)
		return NULL;
	sl_l7_stream_init(&leg->st, wc->w, fd, SL_L7_STREAM_PLAIN, NULL);
	leg->st.on_idle = leg_stream_idle;
	leg->dc.fd = -1;
	leg->wc = wc;
	leg->owner = owner;
	leg->idle_ns = SL_L7_LEG_IDLE_NS;
	return leg;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Upstream legs of the HTTP engine (l7_internal.h): a socketpair whose far
 * end is the pod side of an outbound flow pinned to one endpoint, and the
 * worker's list of idle legs kept for reuse (HTTP keep-alive per endpoint
 * and source identity).
 *
 * An idle leg has a poll armed on its socket: the upstream closing it (or
 * sending bytes nobody asked for) ends it at once rather than failing the
 * next request sent on it.  Idle legs are capped per worker (oldest closed
 * first) and not reused after the destination's
 * connectionPool.http.idleTimeout (60 s without one); the leg's flow
 * closes it by then anyway (its relay's idle timer, tcp.idleTimeout else
 * http.idleTimeout).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon.h"
#include "entry.h"
#include "l7_internal.h"
#include "log.h"
#include "policy_query.h"
#include "util.h"

#define SL_L7_IDLE_MAX 256		  /* idle legs per worker */
#define SL_L7_LEG_IDLE_NS (60ull * 1000000000ull)

static __thread struct sl_l7_leg *idle_head, *idle_tail;
static __thread unsigned int idle_n;
static __thread bool legs_stopping;

static void leg_free_maybe(struct sl_l7_leg *leg)
{
	if (leg->closed && !leg->poll_armed && !leg->connecting)
		free(leg);
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
	if (leg->fd >= 0)
		close(leg->fd);
	leg->fd = -1;
	leg_free_maybe(leg);
}

static void leg_ready(void *arg, int err)
{
	struct sl_l7_leg *leg = arg;

	leg->connecting = false;
	if (leg->closed) { /* its request went away meanwhile */
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
	io_uring_prep_poll_add(sqe, leg->fd, POLLIN | POLLRDHUP);
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

static bool key_eq(const struct sl_l7_key *a, const struct sl_l7_key *b)
{
	return a->port == b->port && a->plain == b->plain &&
	       sl_ip_equal(&a->addr, &b->addr) &&
	       strcmp(a->src_id, b->src_id) == 0 &&
	       strcmp(a->cluster, b->cluster) == 0;
}

static bool leg_has_bytes(const struct sl_l7_leg *leg)
{
	int avail = 0;

	return ioctl(leg->fd, FIONREAD, &avail) != 0 || avail > 0;
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
		if (leg_has_bytes(leg)) {
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
	int sp[2], ret;

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
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       sp) < 0) {
		*err = -errno;
		free(leg);
		return NULL;
	}
	leg->fd = sp[0];
	leg->key = *key;
	leg->idle_ns = pol->http_idle_timeout_ns ? pol->http_idle_timeout_ns :
						   SL_L7_LEG_IDLE_NS;
	leg->wc = wc;
	leg->ready = ready;
	leg->owner = owner;
	leg->connecting = true;
	pin.ready = leg_ready;
	pin.arg = leg;
	ret = sl_outbound_start_pinned(wc, sp[1], &pin);
	if (ret) {
		close(sp[0]);
		close(sp[1]);
		free(leg);
		*err = ret;
		return NULL;
	}
	return leg;
}

void sl_l7_leg_put(struct sl_l7_leg *leg, bool reuse)
{
	if (!leg || leg->closed)
		return;
	leg->owner = NULL;
	if (!reuse || legs_stopping || leg->connecting) {
		sl_l7_leg_close(leg);
		return;
	}
	if (idle_n >= SL_L7_IDLE_MAX)
		sl_l7_leg_close(idle_head);
	leg->idle_since = sl_now_ns();
	leg->prev = idle_tail;
	leg->next = NULL;
	if (idle_tail)
		idle_tail->next = leg;
	else
		idle_head = leg;
	idle_tail = leg;
	idle_n++;
	arm_idle_poll(leg);
}

void sl_l7_legs_stop(void)
{
	legs_stopping = true;
	while (idle_head)
		sl_l7_leg_close(idle_head);
}

struct sl_l7_leg *sl_l7_leg_fixed(struct sl_wctx *wc, int fd, void *owner)
{
	struct sl_l7_leg *leg = calloc(1, sizeof(*leg));

	if (!leg)
		return NULL;
	leg->fd = fd;
	leg->wc = wc;
	leg->owner = owner;
	leg->idle_ns = SL_L7_LEG_IDLE_NS;
	return leg;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Admission (admission.h): the process-wide budgets every connection is
 * counted against, the pending handshakes with their per-source caps, and
 * the fd reserve, with the caps not set by options derived from
 * RLIMIT_NOFILE.
 */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>

#include "admission.h"
#include "daemon.h"
#include "log.h"
#include "stats.h"
#include "util.h"

/* derived caps (sl_admission_setup) */
#define SL_FD_RESERVE_DEFAULT 128
#define SL_FDS_PER_WORKER 40	     /* ring, listeners, pipes cache, ... */
#define SL_FDS_PER_FLOW 6	     /* 2 sockets + 2 splice pipes */
#define SL_PENDING_DEFAULT_MAX 1024 /* x ~55 KB once a ClientHello is in */
#define SL_PENDING_SRC_MIN 8

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

void sl_admission_shed(enum sl_stat why)
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
			sl_admission_shed(shed_stat[b]);
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
		sl_admission_shed(SL_STAT_SHED_PER_SOURCE);
		return -EBUSY;
	}
	if (!sl_budget_take(d, SL_BUDGET_PENDING, false) &&
	    (!make_room || !make_room(arg))) {
		sl_admission_shed(SL_STAT_SHED_PENDING);
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

void sl_admission_hand_over(struct sl_daemon *d, struct sl_admission *a)
{
	a->budget = SL_BUDGET_NONE;
	if (d->srclimit)
		sl_srclimit_put(d->srclimit, &a->src);
}

void sl_admission_release(struct sl_daemon *d, struct sl_admission *a)
{
	sl_budget_put(a->budget);
	a->budget = SL_BUDGET_NONE;
	if (d->srclimit)
		sl_srclimit_put(d->srclimit, &a->src);
}

unsigned int sl_admission_fd_limit_refresh(void)
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
bool sl_admission_fd_reserved(struct sl_daemon *d, int fd)
{
	unsigned int lim;

	if (sl_now_ns() - atomic_load_explicit(&fd_limit_read_ns,
					       memory_order_relaxed) >
	    SL_FD_LIMIT_REFRESH_NS)
		sl_admission_fd_limit_refresh();
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
	lim = sl_admission_fd_limit_refresh();
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

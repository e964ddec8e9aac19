/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The reload watch on worker 0: IORING_OP_POLL_ADD on the inotify fd, then
 * sl_reload_process() reads the events (non-blocking) and sets the
 * debounce deadline; a one-shot timeout fires at the deadline and calls
 * sl_reload_tick().  Both ops are re-armed by their handlers until
 * sl_reload_watch_stop().
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "reload_watch.h"

struct sl_reload_watch {
	struct sl_worker *w;
	struct sl_reload *r;
	struct sl_op poll_op, timer_op;
	struct __kernel_timespec ts;
	uint64_t armed_for; /* the deadline the armed timer fires at */
	bool poll_armed, timer_armed, stopped;
	bool retiming; /* the armed timer is being cancelled for an earlier one */
};

static uint64_t sl_rw_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sl_rw_arm_timer(struct sl_reload_watch *rw)
{
	uint64_t dl = sl_reload_deadline(rw->r), now = sl_rw_now(), left;

	if (rw->stopped || !dl)
		return;
	if (rw->timer_armed) {
		/* a deadline earlier than the armed one (a reload due before
		   a paced save of the last good copy): fire then instead */
		if (dl < rw->armed_for && !rw->retiming) {
			rw->retiming = true;
			sl_worker_timeout_cancel(rw->w, &rw->timer_op);
		}
		return;
	}
	rw->armed_for = dl;
	left = dl > now ? dl - now : 0;
	rw->ts.tv_sec = (long long)(left / 1000000000ull);
	rw->ts.tv_nsec = (long long)(left % 1000000000ull);
	rw->timer_armed = true;
	sl_worker_timeout(rw->w, &rw->timer_op, &rw->ts);
}

static void sl_rw_arm_poll(struct sl_reload_watch *rw)
{
	struct io_uring_sqe *sqe;

	if (rw->stopped || rw->poll_armed)
		return;
	sqe = sl_worker_sqe(rw->w);
	io_uring_prep_poll_add(sqe, sl_reload_fd(rw->r), POLLIN);
	sl_op_attach(sqe, &rw->poll_op);
	rw->poll_armed = true;
}

static void sl_rw_timer_done(struct sl_op *op, int res, uint32_t flags)
{
	struct sl_reload_watch *rw = sl_container_of(op, struct sl_reload_watch,
						     timer_op);

	(void)flags;
	rw->timer_armed = false;
	if (rw->stopped)
		return;
	if (res == -ECANCELED) {
		rw->retiming = false;
		sl_rw_arm_timer(rw); /* for the earlier deadline */
		return;
	}
	rw->retiming = false;
	/* the deadline may have moved: tick does nothing before it */
	sl_reload_tick(rw->r);
	sl_rw_arm_timer(rw);
}

static void sl_rw_poll_done(struct sl_op *op, int res, uint32_t flags)
{
	struct sl_reload_watch *rw = sl_container_of(op, struct sl_reload_watch,
						     poll_op);

	(void)flags;
	rw->poll_armed = false;
	if (rw->stopped || res == -ECANCELED)
		return;
	if (res < 0)
		sl_log_warn("%s: poll on the config watch: %s", __func__,
			    strerror(-res));
	else
		sl_reload_process(rw->r);
	sl_rw_arm_timer(rw);
	sl_rw_arm_poll(rw);
}

int sl_reload_watch_start(struct sl_worker *w, struct sl_reload *r,
			  struct sl_reload_watch **out)
{
	struct sl_reload_watch *rw = calloc(1, sizeof(*rw));

	if (!rw)
		return -ENOMEM;
	rw->w = w;
	rw->r = r;
	rw->poll_op.fn = sl_rw_poll_done;
	rw->timer_op.fn = sl_rw_timer_done;
	sl_rw_arm_poll(rw);
	*out = rw;
	return 0;
}

void sl_reload_watch_stop(struct sl_reload_watch *rw)
{
	if (!rw || rw->stopped)
		return;
	rw->stopped = true;
	if (rw->poll_armed)
		sl_worker_cancel_op(rw->w, &rw->poll_op);
	if (rw->timer_armed)
		sl_worker_timeout_cancel(rw->w, &rw->timer_op);
}

void sl_reload_watch_free(struct sl_reload_watch *rw)
{
	free(rw);
}

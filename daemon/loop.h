/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The event loop: one io_uring per worker thread (threads = cores).
 *
 * Every submission carries a pointer to a struct sl_op in user_data (liburing
 * examples/proxy.c carries routing data the same way).  On completion the
 * worker calls op->fn(op, cqe->res, cqe->flags).  Ops are embedded in their
 * owner (a flow, a listener) and found back with sl_container_of().  An owner
 * must not be freed while any of its ops is in flight: owners count their
 * in-flight ops and free themselves when the count drops to zero after
 * closing (cancel pending ops with sl_worker_cancel_fd()).
 *
 * Everything here runs on the worker's own thread; nothing is shared between
 * workers except what is explicitly atomic (stats, config snapshot pointer).
 */
#ifndef SL_LOOP_H
#define SL_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include <liburing.h>

#define sl_container_of(ptr, type, member)                                     \
	((type *)((char *)(ptr)-offsetof(type, member)))

struct sl_op;
struct sl_worker;

/**
 * sl_op_fn - completion handler
 * @res: cqe->res (bytes, fd, or -errno; -ECANCELED when cancelled)
 * @flags: cqe->flags (IORING_CQE_F_MORE for multishot ops)
 */
typedef void (*sl_op_fn)(struct sl_op *op, int res, uint32_t flags);

struct sl_op {
	sl_op_fn fn;
};

/**
 * sl_worker_sqe - get a submission queue entry on @w, flushing the ring to
 * the kernel first when it is full.  The caller must prep it and then call
 * sl_op_attach().  @retval never NULL (aborts only if the ring is broken,
 * which is a programming error).
 */
struct io_uring_sqe *sl_worker_sqe(struct sl_worker *w);

/** sl_op_attach - route the completion of @sqe to @op */
static inline void sl_op_attach(struct io_uring_sqe *sqe, struct sl_op *op)
{
	io_uring_sqe_set_data(sqe, op);
}

/**
 * sl_worker_cancel_fd - cancel every pending op on @fd (their handlers run
 * with -ECANCELED).  Needs no op of its own: its completion is ignored.
 */
void sl_worker_cancel_fd(struct sl_worker *w, int fd);

/**
 * sl_worker_timeout - arm a one-shot timer; @op->fn runs with -ETIME when it
 * fires, or -ECANCELED after sl_worker_timeout_cancel().
 * @ts must stay valid until the completion (embed it beside @op).
 */
void sl_worker_timeout(struct sl_worker *w, struct sl_op *op,
		       struct __kernel_timespec *ts);
void sl_worker_timeout_cancel(struct sl_worker *w, struct sl_op *op);

/** sl_worker_id - 0-based index of @w */
unsigned int sl_worker_id(const struct sl_worker *w);

/** sl_worker_ring - the ring, for ops liburing has helpers for */
struct io_uring *sl_worker_ring(struct sl_worker *w);

/**
 * sl_worker_defer_free - run @fn(@arg) after the current batch of completions
 * has been handled (safe point for freeing an owner).
 */
int sl_worker_defer(struct sl_worker *w, void (*fn)(void *), void *arg);

#endif /* SL_LOOP_H */

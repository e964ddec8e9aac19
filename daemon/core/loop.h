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

#include <signal.h>
#include <stdbool.h>
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
 * The cancel is submitted at once, so @fd may be closed right after.
 */
void sl_worker_cancel_fd(struct sl_worker *w, int fd);

/**
 * sl_worker_cancel_op - cancel the pending op @op (its handler runs with
 * -ECANCELED, or with its normal result if it completed first)
 */
void sl_worker_cancel_op(struct sl_worker *w, struct sl_op *op);

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

/**
 * struct sl_post - a call to run on a worker's thread, posted from any
 * thread (sl_worker_post).  Owned by the poster until @fn runs.
 */
struct sl_post {
	struct sl_post *next; /* the worker's list (loop.c) */
	void (*fn)(struct sl_post *p);
};

/**
 * sl_worker_post - run @p->fn(@p) on @w's thread, soon, in its own turn of
 * the loop.  Safe from any thread and in any state of @w until its loop
 * has ended: posts are delivered after a stop request too, so a worker
 * waiting for a posted completion (it holds a reference) gets it.
 * Posts from one thread run in the order they were posted.
 */
void sl_worker_post(struct sl_worker *w, struct sl_post *p);

/* ---- worker lifetime (used by main.c; additive to the contract above) -- */

/**
 * sl_loop_probe - check once, at start, that the kernel's io_uring has every
 * opcode sluiced uses (ACCEPT, CONNECT, RECV, SEND, SPLICE, TIMEOUT,
 * ASYNC_CANCEL, READ); logs the missing ones, or why io_uring itself is
 * unavailable (EPERM: a seccomp profile or kernel.io_uring_disabled)
 * @retval 0, -EOPNOTSUPP when an opcode is missing, -errno of
 *         io_uring_setup(2) when io_uring itself is unavailable
 */
int sl_loop_probe(void);

/** Hooks a worker calls on its own thread. */
struct sl_worker_hooks {
	/* after the ring is up, before the loop; nonzero fails the start */
	int (*start)(struct sl_worker *w, void *arg);
	/* once, when a stop was requested (close listeners here) */
	void (*stop)(struct sl_worker *w, void *arg);
	/* after the loop ended (also after a failed start): free per-worker
	 * state here */
	void (*fini)(struct sl_worker *w, void *arg);
	/* worker 0 only: a signal arrived (signalfd) */
	void (*signal)(struct sl_worker *w, int signo, void *arg);
	void *arg;
};

/**
 * sl_workers_start - start @n worker threads, each with its own ring
 * @sigs: signals to block in every thread and read from a signalfd on
 *        worker 0 (the caller blocks them in the main thread first)
 * @out: array of @n workers; stop them with sl_workers_stop_join()
 * @retval 0 once every worker's start hook succeeded; -errno otherwise
 *         (workers already started are stopped and joined)
 */
int sl_workers_start(unsigned int n, const struct sl_worker_hooks *hooks,
		     const sigset_t *sigs, struct sl_worker ***out);

/**
 * sl_worker_request_stop - ask @w to stop (thread safe): its stop hook runs,
 * then the loop ends once its reference count is zero
 */
void sl_worker_request_stop(struct sl_worker *w);

/**
 * sl_worker_set_busy_poll - busy polling for @w (call on its own thread,
 * e.g. from the start hook): after a round with completions, poll the ring
 * without sleeping for up to @window_ns (yielding the CPU to runnable
 * threads) before blocking.  It trades CPU for latency: a completion that
 * arrives within the window costs no sleep and wake-up.  An idle worker
 * never spins.  0 (the default) turns it off.
 */
void sl_worker_set_busy_poll(struct sl_worker *w, uint64_t window_ns);

/** sl_worker_busy_poll_stats - windows that ended with a completion
 * (@hits) or ran out (@misses); thread safe */
void sl_worker_busy_poll_stats(const struct sl_worker *w, uint64_t *hits,
			       uint64_t *misses);

/** sl_worker_stopping - true once a stop was requested */
bool sl_worker_stopping(const struct sl_worker *w);

/**
 * sl_worker_ref / sl_worker_unref - count things that keep the worker's loop
 * alive while stopping (flows, listeners with ops in flight)
 */
void sl_worker_ref(struct sl_worker *w);
void sl_worker_unref(struct sl_worker *w);

/** sl_worker_refs - current reference count */
unsigned int sl_worker_refs(const struct sl_worker *w);

/**
 * sl_worker_cancel_all - cancel every op in flight on @w (used to cut
 * remaining flows at the end of the shutdown grace period)
 */
void sl_worker_cancel_all(struct sl_worker *w);

/** sl_worker_set_data / sl_worker_data - one pointer for the owner */
void sl_worker_set_data(struct sl_worker *w, void *data);
void *sl_worker_data(const struct sl_worker *w);

/* ---- liveness (/healthz) ---------------------------------------------- */

/* how often a worker's own loop stamps its heartbeat */
#define SL_HEARTBEAT_NS 1000000000ULL

/**
 * sl_worker_beat_ns - CLOCK_MONOTONIC time of @w's last heartbeat, stamped
 * by a timer that only its own loop can run (thread safe).  A loop stuck in
 * a handler, or a thread that died, stops stamping.
 */
uint64_t sl_worker_beat_ns(const struct sl_worker *w);

/**
 * sl_workers_stalled - the first worker whose heartbeat is older than
 * @max_age_ns at @now_ns (CLOCK_MONOTONIC)
 * @age_ns: if not NULL, set to that worker's heartbeat age
 * @retval its index, or -1 when every worker is alive
 */
int sl_workers_stalled(struct sl_worker *const *ws, unsigned int n,
		       uint64_t now_ns, uint64_t max_age_ns, uint64_t *age_ns);

/**
 * sl_workers_join - wait for every worker thread to end, then free them
 * all (none is freed while another still runs: other threads may read any
 * worker until then, e.g. /healthz during a drain)
 * @retval 0 when every loop ended cleanly, else the first error
 */
int sl_workers_join(struct sl_worker **ws, unsigned int n);

/**
 * sl_workers_wait - the first half of sl_workers_join: wait for every
 * worker thread to end, free nothing (idempotent).  The caller then stops
 * the threads that read the workers (telemetry, notification) and frees
 * them with sl_workers_free.
 * @retval 0 when every loop ended cleanly, else the first error
 */
int sl_workers_wait(struct sl_worker **ws, unsigned int n);

/** sl_workers_free - free the workers (after sl_workers_wait) and @ws */
void sl_workers_free(struct sl_worker **ws, unsigned int n);

#endif /* SL_LOOP_H */

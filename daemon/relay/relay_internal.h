/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private parts of the relays, shared by relay.c, relay_tls.c and
 * relay_splice.c: the state both relays have (fds, in-flight op count, idle
 * timer, result), teardown helpers and a small per-thread buffer pool.
 */
#ifndef SL_RELAY_INTERNAL_H
#define SL_RELAY_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "loop.h"
#include "relay.h"

/** State common to both relays; embedded first in each relay's struct. */
struct sl_relay_base {
	struct sl_worker *w;
	int plain_fd;
	int tls_fd;
	struct sl_tls_conn *tls;
	struct sl_relay_params p;
	struct sl_relay_result res;

	unsigned int inflight; /* ops submitted and not yet completed */
	bool closing;	       /* teardown started: handlers only count down */
	bool finished;	       /* done() was called (debug guard) */

	/* coarse idle / max-duration / half-close timer: last_ns is bumped
	 * on traffic, the timer is armed for the earliest deadline and
	 * re-arms itself for the remaining time when it fires early */
	uint64_t start_ns;
	uint64_t last_ns;
	uint64_t due_ns; /* when the armed timer fires */
	uint64_t half_ns; /* half-close timeout (0: none), set at start */
	bool track_last;  /* some limit needs last_ns */
	bool half_closed; /* EOF seen from one side (sl_relay_half_closed) */
	struct sl_op idle_op;
	struct __kernel_timespec idle_ts;
	bool idle_armed;

	/* called by sl_relay_maybe_finish before done(): free the rest */
	void (*destroy)(struct sl_relay_base *b);
	/* optional, called by sl_relay_teardown before the fds are closed:
	 * cancel ops that cancelling the two sockets' fds does not reach */
	void (*cancel_more)(struct sl_relay_base *b);
};

/** sl_relay_now_ns - CLOCK_MONOTONIC_COARSE in ns (cheap, vDSO) */
uint64_t sl_relay_now_ns(void);

/**
 * sl_relay_base_init - fill @b; takes a worker reference (dropped when the
 * relay finishes) and arms the timer if @p asks for an idle timeout or a
 * maximum duration.  The half-close timeout is the process setting
 * (sl_relay_half_close_timeout_set) at this call.
 */
void sl_relay_base_init(struct sl_relay_base *b, struct sl_worker *w,
			int plain_fd, int tls_fd, struct sl_tls_conn *tls,
			bool ktls, const struct sl_relay_params *p,
			void (*destroy)(struct sl_relay_base *b));

/**
 * sl_relay_count_up / sl_relay_count_down - account @n plaintext bytes moved
 * pod -> mesh (up) or mesh -> pod (down): the totals reported at the end and
 * the live counters of the params, when given
 */
static inline void sl_relay_count_up(struct sl_relay_base *b, uint64_t n)
{
	b->res.bytes_plain_to_tls += n;
	if (b->p.live_bytes)
		atomic_fetch_add_explicit(&b->p.live_bytes[0], n,
					  memory_order_relaxed);
}

static inline void sl_relay_count_down(struct sl_relay_base *b, uint64_t n)
{
	b->res.bytes_tls_to_plain += n;
	if (b->p.live_bytes)
		atomic_fetch_add_explicit(&b->p.live_bytes[1], n,
					  memory_order_relaxed);
}

/**
 * sl_relay_timer_next - what the relay timer does when it fires at @now
 * @start: when the relay started; @last: last traffic (sl_relay_touch)
 *       or the half-close, whichever came later
 * @idle_ns: idle timeout (0: none); @max_ns: maximum duration (0: none)
 * @half_ns: half-close timeout, 0 when none or not half-closed yet; like
 *       the idle timeout it counts from @last, so only the shorter of the
 *       two applies (the idle timeout when they are equal)
 * @end: set when the flow must end now: SL_RELAY_END_MAX_DURATION (it wins
 *       when several deadlines have passed), else SL_RELAY_END_IDLE or
 *       SL_RELAY_END_HALF_CLOSE
 * @retval 0 when the flow must end now, else the ns until the earliest
 *         deadline (UINT64_MAX when no limit is set)
 */
uint64_t sl_relay_timer_next(uint64_t now, uint64_t start, uint64_t last,
			     uint64_t idle_ns, uint64_t max_ns,
			     uint64_t half_ns, enum sl_relay_end *end);

/** sl_relay_touch - note traffic (a byte moved) for the timers */
static inline void sl_relay_touch(struct sl_relay_base *b)
{
	if (b->track_last)
		b->last_ns = sl_relay_now_ns();
}

/**
 * sl_relay_half_closed - EOF came from one side (a FIN, or close_notify):
 * from now on, no traffic either way for the half-close timeout ends the
 * flow with SL_RELAY_END_HALF_CLOSE (RST both sides).  Moves the timer
 * earlier when it is armed for a later deadline.  Once per flow; no-op
 * when tearing down or without a half-close timeout.
 */
void sl_relay_half_closed(struct sl_relay_base *b);

/**
 * sl_relay_teardown - end the relay with @end (first call wins): cancel
 * every op on both fds and the idle timer, close both fds (with an RST,
 * SO_LINGER {1, 0}, unless @end is SL_RELAY_END_DONE).  done() runs once
 * the last op has completed (sl_relay_maybe_finish).
 */
void sl_relay_teardown(struct sl_relay_base *b, enum sl_relay_end end);

/**
 * sl_relay_maybe_finish - after an op completed (inflight already
 * decremented): when tearing down and nothing is in flight, call destroy(),
 * done() and free nothing else (destroy frees the relay).
 * @retval true when the relay is gone (the caller must not touch it)
 */
bool sl_relay_maybe_finish(struct sl_relay_base *b);

/** sl_relay_rst_close - close @fd so that the peer sees an RST */
void sl_relay_rst_close(int fd);

/** sl_relay_buf_get - a buffer of @size bytes from this thread's pool */
void *sl_relay_buf_get(uint32_t size);

/** sl_relay_buf_put - give @buf (of @size bytes) back; NULL-safe */
void sl_relay_buf_put(void *buf, uint32_t size);

/*
 * Bulk buffers.  A flow direction whose reads keep filling its buffer
 * switches to buffers of the bulk size (sl_relay_params.buf_size_bulk):
 * fewer, larger recvs and sends per byte.  What all flows of the process
 * hold in bulk-sized buffers is capped by a budget (SL_RELAY_BULK_BUDGET
 * by default); past it a flow stays at buf_size.  Where a smaller bulk
 * size exists, the largest one only takes the first half of the budget,
 * so that busy flows that come later still get bulk buffers.
 */
#define SL_RELAY_BULK_BUDGET (32ull << 20)

/**
 * sl_relay_bulk_take - count @size more bytes of bulk buffers against the
 * budget, or against its first half when @half.  @retval false (nothing
 * counted) when that would exceed it
 */
bool sl_relay_bulk_take(uint32_t size, bool half);

/** sl_relay_bulk_give - uncount @size bytes taken with sl_relay_bulk_take */
void sl_relay_bulk_give(uint32_t size);

/** sl_relay_bulk_budget_set - change the budget (tests; default above) */
void sl_relay_bulk_budget_set(uint64_t bytes);

/**
 * sl_relay_tls_rl_started - userspace relays started so far, all workers,
 * that run on the own record layer (record.h) rather than on the
 * sl_tls_conn (for tests and logs)
 */
uint64_t sl_relay_tls_rl_started(void);

int sl_relay_tls_start(struct sl_worker *w, int plain_fd, int tls_fd,
		       struct sl_tls_conn *tls, const void *initial,
		       uint32_t initial_len, const struct sl_relay_params *p);
/* @plain: plain mode (sl_relay_start_plain), both sides plaintext TCP;
 * else kTLS on @tls_fd, whose @tls (NULL once freed) is freed at once */
int sl_relay_splice_start(struct sl_worker *w, int plain_fd, int tls_fd,
			  struct sl_tls_conn *tls, bool plain, const void *initial,
			  uint32_t initial_len, const struct sl_relay_params *p);

#endif /* SL_RELAY_INTERNAL_H */

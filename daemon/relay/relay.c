/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Relays, common part: dispatch to the kTLS or userspace relay, the end
 * reasons, teardown (cancel, RST, exactly one done()), the coarse idle /
 * max-duration / half-close timer and the per-thread buffer pool.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "relay_internal.h"
#include "stats.h"

const char *sl_relay_end_name(enum sl_relay_end e)
{
	switch (e) {
	case SL_RELAY_END_DONE:
		return "done";
	case SL_RELAY_END_RESET_PLAIN:
		return "reset_plain";
	case SL_RELAY_END_RESET_TLS:
		return "reset_tls";
	case SL_RELAY_END_IDLE:
		return "idle";
	case SL_RELAY_END_MAX_DURATION:
		return "max_duration";
	case SL_RELAY_END_UNEXPECTED_RECORD:
		return "unexpected_record";
	case SL_RELAY_END_INTERNAL:
		return "internal";
	case SL_RELAY_END_HALF_CLOSE:
		return "half_close_timeout";
	}
	return "unknown";
}

int sl_relay_start(struct sl_worker *w, int plain_fd, int tls_fd,
		   struct sl_tls_conn *tls, bool ktls, const void *initial,
		   uint32_t initial_len, const struct sl_relay_params *p)
{
	if (!w || plain_fd < 0 || tls_fd < 0 || !p || !p->done ||
	    (initial_len && !initial) || (!ktls && !tls == !p->rl) ||
	    (ktls && p->rl))
		return -EINVAL;
	if (ktls)
		return sl_relay_splice_start(w, plain_fd, tls_fd, tls, false,
					     initial, initial_len, p);
	return sl_relay_tls_start(w, plain_fd, tls_fd, tls, initial,
				  initial_len, p);
}

int sl_relay_start_plain(struct sl_worker *w, int plain_fd, int other_fd,
			 const void *initial, uint32_t initial_len,
			 const struct sl_relay_params *p)
{
	if (!w || plain_fd < 0 || other_fd < 0 || !p || !p->done ||
	    (initial_len && !initial))
		return -EINVAL;
	/* splice moves TCP to TCP without copies, no kTLS needed */
	return sl_relay_splice_start(w, plain_fd, other_fd, NULL, true, initial,
				     initial_len, p);
}

/* ---- common state ---------------------------------------------------- */

uint64_t sl_relay_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* process-wide: relays read it when they start (relay.h) */
static atomic_ullong half_close_ns = SL_RELAY_DEFAULT_HALF_CLOSE_NS;

void sl_relay_half_close_timeout_set(uint64_t ns)
{
	atomic_store_explicit(&half_close_ns, ns, memory_order_relaxed);
}

uint64_t sl_relay_half_close_timeout(void)
{
	return atomic_load_explicit(&half_close_ns, memory_order_relaxed);
}

/* the timer's timespec for @ns from @now, and when it will fire */
static void timer_set(struct sl_relay_base *b, uint64_t now, uint64_t ns)
{
	b->idle_ts.tv_sec = (long long)(ns / 1000000000ull);
	b->idle_ts.tv_nsec = (long long)(ns % 1000000000ull);
	b->due_ns = ns > UINT64_MAX - now ? UINT64_MAX : now + ns;
}

static void idle_arm(struct sl_relay_base *b, uint64_t now, uint64_t ns)
{
	timer_set(b, now, ns);
	sl_worker_timeout(b->w, &b->idle_op, &b->idle_ts);
	b->idle_armed = true;
	b->inflight++;
}

/*
 * The armed timer fires in @ns instead (IORING_TIMEOUT_UPDATE: no second
 * timeout op, no cancel completion).  The update's own completion is
 * ignored: when it finds no timer (it fired in the meantime), idle_fired
 * recomputes the deadline from the state anyway.
 */
static void idle_move(struct sl_relay_base *b, uint64_t now, uint64_t ns)
{
	struct io_uring_sqe *sqe = sl_worker_sqe(b->w);

	timer_set(b, now, ns); /* the kernel copies idle_ts at submission */
	io_uring_prep_timeout_update(sqe, &b->idle_ts,
				     (uint64_t)(uintptr_t)&b->idle_op, 0);
	io_uring_sqe_set_data(sqe, NULL);
}

uint64_t sl_relay_timer_next(uint64_t now, uint64_t start, uint64_t last,
			     uint64_t idle_ns, uint64_t max_ns,
			     uint64_t half_ns, enum sl_relay_end *end)
{
	enum sl_relay_end quiet_end = SL_RELAY_END_IDLE;
	uint64_t wait = UINT64_MAX, quiet_ns = idle_ns, t;

	if (max_ns) {
		t = now > start ? now - start : 0; /* age */
		if (t >= max_ns) {
			*end = SL_RELAY_END_MAX_DURATION;
			return 0;
		}
		wait = max_ns - t;
	}
	/* both count from the last traffic: the shorter one fires first */
	if (half_ns && (!idle_ns || half_ns < idle_ns)) {
		quiet_ns = half_ns;
		quiet_end = SL_RELAY_END_HALF_CLOSE;
	}
	if (quiet_ns) {
		t = now > last ? now - last : 0; /* without traffic */
		if (t >= quiet_ns) {
			*end = quiet_end;
			return 0;
		}
		if (quiet_ns - t < wait)
			wait = quiet_ns - t;
	}
	return wait;
}

static void idle_fired(struct sl_op *op, int res, uint32_t flags)
{
	struct sl_relay_base *b =
		sl_container_of(op, struct sl_relay_base, idle_op);
	enum sl_relay_end end = SL_RELAY_END_INTERNAL;
	uint64_t now, wait;

	(void)flags;
	b->inflight--;
	b->idle_armed = false;
	if (b->closing) {
		sl_relay_maybe_finish(b);
		return;
	}
	if (res != -ETIME) {
		/* cancelled from outside (worker shutting down) */
		sl_relay_teardown(b, SL_RELAY_END_INTERNAL);
		sl_relay_maybe_finish(b);
		return;
	}
	now = sl_relay_now_ns();
	wait = sl_relay_timer_next(now, b->start_ns, b->last_ns,
				   b->p.idle_timeout_ns, b->p.max_duration_ns,
				   b->half_closed ? b->half_ns : 0, &end);
	if (!wait) {
		sl_relay_teardown(b, end);
		sl_relay_maybe_finish(b);
		return;
	}
	/* traffic since the timer was armed, or the max-duration deadline
	 * is still ahead: wait for the rest */
	idle_arm(b, now, wait);
}

void sl_relay_half_closed(struct sl_relay_base *b)
{
	enum sl_relay_end end = SL_RELAY_END_INTERNAL;
	uint64_t now, wait, due;

	if (b->closing || b->half_closed || !b->half_ns)
		return;
	b->half_closed = true;
	now = sl_relay_now_ns();
	b->last_ns = now; /* the EOF is traffic: the linger starts here */
	wait = sl_relay_timer_next(now, b->start_ns, b->last_ns,
				   b->p.idle_timeout_ns, b->p.max_duration_ns,
				   b->half_ns, &end);
	if (!wait)
		return; /* max duration passed: the armed timer ends it */
	due = wait > UINT64_MAX - now ? UINT64_MAX : now + wait;
	if (!b->idle_armed)
		idle_arm(b, now, wait);
	else if (due < b->due_ns)
		idle_move(b, now, wait);
}

void sl_relay_base_init(struct sl_relay_base *b, struct sl_worker *w,
			int plain_fd, int tls_fd, struct sl_tls_conn *tls,
			bool ktls, const struct sl_relay_params *p,
			void (*destroy)(struct sl_relay_base *b))
{
	enum sl_relay_end end;
	uint64_t now;

	b->w = w;
	b->plain_fd = plain_fd;
	b->tls_fd = tls_fd;
	b->tls = tls;
	b->p = *p;
	b->res.ktls = ktls;
	b->destroy = destroy;
	b->idle_op.fn = idle_fired;
	if (p->up_sent)
		sl_relay_count_up(b, p->up_sent);
	sl_worker_ref(w);
	b->half_ns = sl_relay_half_close_timeout();
	b->track_last = p->idle_timeout_ns || b->half_ns;
	now = sl_relay_now_ns();
	b->start_ns = b->last_ns = now;
	/* the half-close timeout needs no timer until a side's EOF */
	if (p->idle_timeout_ns || p->max_duration_ns)
		idle_arm(b, now, sl_relay_timer_next(now, now, now,
						     p->idle_timeout_ns,
						     p->max_duration_ns, 0,
						     &end));
}

void sl_relay_rst_close(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (fd < 0)
		return;
	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
		sl_log_debug("%s: SO_LINGER: %m", __func__);
	close(fd);
}

void sl_relay_teardown(struct sl_relay_base *b, enum sl_relay_end end)
{
	if (b->closing)
		return;
	b->closing = true;
	b->res.end = end;
	if (b->idle_armed)
		sl_worker_timeout_cancel(b->w, &b->idle_op);
	/* sl_worker_cancel_fd submits at once, so closing right after is
	 * safe; ops already running keep a file reference until they end */
	sl_worker_cancel_fd(b->w, b->plain_fd);
	sl_worker_cancel_fd(b->w, b->tls_fd);
	if (b->cancel_more)
		b->cancel_more(b);
	if (end == SL_RELAY_END_DONE) {
		close(b->plain_fd);
		close(b->tls_fd);
	} else {
		/* a truncated or reset stream must never look complete */
		sl_relay_rst_close(b->plain_fd);
		sl_relay_rst_close(b->tls_fd);
	}
	b->plain_fd = -1;
	b->tls_fd = -1;
	/* counted here (the other ends are counted by the caller's done()):
	 * it is the relay's own limit, whoever runs it */
	if (end == SL_RELAY_END_HALF_CLOSE)
		sl_stat_inc(SL_STAT_RELAY_HALF_CLOSE);
	if (end != SL_RELAY_END_DONE)
		sl_log_debug("%s: relay ended: %s (%llu bytes out, %llu in)",
			     __func__, sl_relay_end_name(end),
			     (unsigned long long)b->res.bytes_plain_to_tls,
			     (unsigned long long)b->res.bytes_tls_to_plain);
}

bool sl_relay_maybe_finish(struct sl_relay_base *b)
{
	struct sl_relay_result r;
	struct sl_worker *w;
	sl_relay_done_fn done;
	void *arg;

	if (!b->closing || b->inflight || b->finished)
		return false;
	b->finished = true;
	r = b->res;
	w = b->w;
	done = b->p.done;
	arg = b->p.done_arg;
	b->destroy(b); /* frees the sl_tls_conn (wipes keys) and the relay */
	done(arg, &r);
	sl_worker_unref(w);
	return true;
}

/* ---- per-thread buffer pool ------------------------------------------ */

/*
 * Each worker thread keeps idle buffers of a few sizes (the configured
 * buf_size, its bulk size, and each plus the TLS slack) so that busy flows
 * do not hit malloc for every burst while idle flows hold no buffer at all.
 * A size keeps at most SL_RELAY_POOL_MAX buffers and SL_RELAY_POOL_BYTES
 * bytes; a fifth size goes straight to malloc/free.  The pool is freed
 * when the thread exits.
 */
#define SL_RELAY_POOL_MAX 64
#define SL_RELAY_POOL_BYTES (4u << 20)
#define SL_RELAY_POOL_SIZES 4

struct buf_class {
	uint32_t size; /* 0: unused */
	unsigned int n;
	void *bufs[SL_RELAY_POOL_MAX];
};

struct buf_pool {
	struct buf_class cls[SL_RELAY_POOL_SIZES];
};

static atomic_ullong bytes_held; /* buffers out of the pools, all threads */
static atomic_ullong bulk_held;	 /* ... of which bulk-sized (sl_relay_bulk_*) */
static atomic_ullong bulk_budget = SL_RELAY_BULK_BUDGET;

static pthread_key_t pool_key;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static bool pool_key_ok;

static void pool_free(void *arg)
{
	struct buf_pool *pool = arg;

	if (!pool)
		return;
	for (unsigned int c = 0; c < SL_RELAY_POOL_SIZES; c++)
		for (unsigned int i = 0; i < pool->cls[c].n; i++)
			free(pool->cls[c].bufs[i]);
	free(pool);
}

static void pool_key_init(void)
{
	pool_key_ok = pthread_key_create(&pool_key, pool_free) == 0;
}

/* this thread's class for @size (claiming a free one if @create), or NULL */
static struct buf_class *pool_class(uint32_t size, bool create)
{
	struct buf_pool *pool;

	pthread_once(&pool_once, pool_key_init);
	if (!pool_key_ok)
		return NULL;
	pool = pthread_getspecific(pool_key);
	if (!pool && create) {
		pool = calloc(1, sizeof(*pool));
		if (!pool)
			return NULL;
		if (pthread_setspecific(pool_key, pool)) {
			free(pool);
			return NULL;
		}
	}
	if (!pool)
		return NULL;
	for (unsigned int c = 0; c < SL_RELAY_POOL_SIZES; c++)
		if (pool->cls[c].size == size)
			return &pool->cls[c];
	if (!create)
		return NULL;
	for (unsigned int c = 0; c < SL_RELAY_POOL_SIZES; c++) {
		if (!pool->cls[c].size) {
			pool->cls[c].size = size;
			return &pool->cls[c];
		}
	}
	return NULL;
}

uint64_t sl_relay_buffered_bytes(void)
{
	return atomic_load_explicit(&bytes_held, memory_order_relaxed);
}

void *sl_relay_buf_get(uint32_t size)
{
	struct buf_class *cls = pool_class(size, false);
	void *buf;

	if (cls && cls->n)
		buf = cls->bufs[--cls->n];
	else
		buf = malloc(size);
	if (buf)
		atomic_fetch_add_explicit(&bytes_held, size,
					  memory_order_relaxed);
	return buf;
}

void sl_relay_buf_put(void *buf, uint32_t size)
{
	struct buf_class *cls;

	if (!buf)
		return;
	atomic_fetch_sub_explicit(&bytes_held, size, memory_order_relaxed);
	cls = pool_class(size, true);
	if (cls && cls->n < SL_RELAY_POOL_MAX &&
	    (uint64_t)(cls->n + 1) * size <= SL_RELAY_POOL_BYTES) {
		cls->bufs[cls->n++] = buf;
		return;
	}
	free(buf);
}

bool sl_relay_bulk_take(uint32_t size, bool half)
{
	unsigned long long held =
		atomic_load_explicit(&bulk_held, memory_order_relaxed);
	unsigned long long budget =
		atomic_load_explicit(&bulk_budget, memory_order_relaxed);

	if (half)
		budget /= 2;
	do {
		if (held + size > budget)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(
		&bulk_held, &held, held + size, memory_order_relaxed,
		memory_order_relaxed));
	return true;
}

void sl_relay_bulk_give(uint32_t size)
{
	atomic_fetch_sub_explicit(&bulk_held, size, memory_order_relaxed);
}

uint64_t sl_relay_bulk_bytes(void)
{
	return atomic_load_explicit(&bulk_held, memory_order_relaxed);
}

void sl_relay_bulk_budget_set(uint64_t bytes)
{
	atomic_store_explicit(&bulk_budget, bytes, memory_order_relaxed);
}

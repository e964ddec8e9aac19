/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Worker threads, one io_uring each: completion dispatch through struct
 * sl_op, timers, cancellation, deferred work, a wake-up eventfd for stop
 * requests, calls posted from other threads (a lock-free list and an
 * eventfd), and signals through a signalfd on worker 0.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "util.h"

#define SL_RING_ENTRIES 1024

struct sl_deferred {
	void (*fn)(void *);
	void *arg;
};

struct sl_worker {
	unsigned int id;
	struct io_uring ring;
	bool ring_ok;
	pthread_t thread;
	bool thread_ok;
	bool joined; /* its thread was joined (sl_workers_wait) */
	struct sl_worker_hooks hooks;
	void *data;

	/* start handshake with the main thread */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool started;
	int start_ret;

	atomic_bool stop_requested;
	bool stop_handled;
	unsigned int refs;
	int result;

	int wake_fd;
	uint64_t wake_val;
	struct sl_op wake_op;
	bool wake_armed;

	/* sl_worker_post: a lock-free LIFO pushed by any thread, drained
	 * (and reversed) by post_done; post_fd says there is something */
	_Atomic(struct sl_post *) posts;
	/* sl_worker_post calls still touching this worker: once its push is
	 * visible the worker may run the post, end and be joined before the
	 * poster's eventfd write; worker_free waits for them */
	atomic_uint posting;
	int post_fd;
	uint64_t post_val;
	struct sl_op post_op;

	int sig_fd;
	sigset_t sigs;
	struct signalfd_siginfo siginfo;
	struct sl_op sig_op;

	struct sl_deferred *deferred;
	size_t n_deferred, cap_deferred;

	/* liveness: a timer re-armed every SL_HEARTBEAT_NS stamps beat_ns
	 * (CLOCK_MONOTONIC) from the loop itself, read by other threads */
	struct sl_op beat_op;
	struct __kernel_timespec beat_ts;
	_Atomic uint64_t beat_ns;

	/* busy polling (sl_worker_set_busy_poll): window, and how often a
	 * window saw a completion (hit) or ran out (miss); read by others */
	uint64_t busy_poll_ns;
	atomic_ullong bp_hits, bp_misses;
};

static const struct {
	int op;
	const char *name;
} needed_ops[] = {
	{ IORING_OP_ACCEPT, "ACCEPT" },	{ IORING_OP_CONNECT, "CONNECT" },
	{ IORING_OP_RECV, "RECV" },	{ IORING_OP_SEND, "SEND" },
	{ IORING_OP_SPLICE, "SPLICE" }, { IORING_OP_TIMEOUT, "TIMEOUT" },
	{ IORING_OP_TIMEOUT_REMOVE, "TIMEOUT_REMOVE" },
	{ IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL" },
	{ IORING_OP_LINK_TIMEOUT, "LINK_TIMEOUT" },
	{ IORING_OP_READ, "READ" },
	{ IORING_OP_POLL_ADD, "POLL_ADD" },
};

/* io_uring_get_probe() says only that it failed: a ring of our own says
 * why, in the terms an operator can act on */
static int probe_failed(void)
{
	struct io_uring ring;
	int ret;

	ret = io_uring_queue_init(2, &ring, 0);
	if (ret == 0) {
		io_uring_queue_exit(&ring);
		ret = -ENOSYS;
	}
	switch (ret) {
	case -EPERM:
		sl_log_err("%s: io_uring_setup: %s: a seccomp profile forbids io_uring "
			   "(containerd 2's RuntimeDefault and Docker's default do: run "
			   "sluiced under packaging/kubernetes/seccomp/sluiced.json), or "
			   "sysctl kernel.io_uring_disabled does", __func__, strerror(-ret));
		break;
	case -ENOSYS:
		sl_log_err("%s: io_uring_setup: %s: this kernel has no io_uring",
			   __func__, strerror(-ret));
		break;
	default:
		sl_log_err("%s: io_uring_setup: %s", __func__, strerror(-ret));
	}
	return ret;
}

int sl_loop_probe(void)
{
	struct io_uring_probe *probe;
	int missing = 0;

	probe = io_uring_get_probe();
	if (!probe)
		return probe_failed();
	for (size_t i = 0; i < sizeof(needed_ops) / sizeof(needed_ops[0]); i++) {
		if (!io_uring_opcode_supported(probe, needed_ops[i].op)) {
			sl_log_err("%s: the kernel's io_uring lacks IORING_OP_%s",
				   __func__, needed_ops[i].name);
			missing++;
		}
	}
	io_uring_free_probe(probe);
	return missing ? -EOPNOTSUPP : 0;
}

static int ring_init(struct sl_worker *w)
{
	struct io_uring_params p;
	int ret;

	/* SINGLE_ISSUER (6.0) and COOP_TASKRUN (5.19) when the kernel has
	 * them; the ring is created on the thread that submits */
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN |
		  IORING_SETUP_SUBMIT_ALL;
	ret = io_uring_queue_init_params(SL_RING_ENTRIES, &w->ring, &p);
	if (ret == -EINVAL) {
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_COOP_TASKRUN;
		ret = io_uring_queue_init_params(SL_RING_ENTRIES, &w->ring, &p);
	}
	if (ret == -EINVAL) {
		memset(&p, 0, sizeof(p));
		ret = io_uring_queue_init_params(SL_RING_ENTRIES, &w->ring, &p);
	}
	if (ret < 0) {
		sl_log_err("%s: worker %u: io_uring_queue_init: %s", __func__,
			   w->id, strerror(-ret));
		return ret;
	}
	w->ring_ok = true;
	return 0;
}

struct io_uring_sqe *sl_worker_sqe(struct sl_worker *w)
{
	struct io_uring_sqe *sqe;

	sqe = io_uring_get_sqe(&w->ring);
	while (!sqe) {
		int ret = io_uring_submit(&w->ring);
		if (ret < 0 && ret != -EAGAIN && ret != -EBUSY && ret != -EINTR) {
			sl_log_err("%s: io_uring_submit: %s", __func__,
				   strerror(-ret));
			abort();
		}
		sqe = io_uring_get_sqe(&w->ring);
	}
	return sqe;
}

void sl_worker_cancel_fd(struct sl_worker *w, int fd)
{
	struct io_uring_sqe *sqe = sl_worker_sqe(w);

	io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
	io_uring_sqe_set_data(sqe, NULL);
	/* submit now: the cancel looks the fd up when it is issued, and
	 * callers close the fd right after this */
	io_uring_submit(&w->ring);
}

void sl_worker_cancel_op(struct sl_worker *w, struct sl_op *op)
{
	struct io_uring_sqe *sqe = sl_worker_sqe(w);

	io_uring_prep_cancel(sqe, op, 0);
	io_uring_sqe_set_data(sqe, NULL);
}

void sl_worker_cancel_all(struct sl_worker *w)
{
	struct io_uring_sqe *sqe = sl_worker_sqe(w);

	io_uring_prep_cancel(sqe, NULL, IORING_ASYNC_CANCEL_ANY);
	io_uring_sqe_set_data(sqe, NULL);
}

void sl_worker_timeout(struct sl_worker *w, struct sl_op *op,
		       struct __kernel_timespec *ts)
{
	struct io_uring_sqe *sqe = sl_worker_sqe(w);

	io_uring_prep_timeout(sqe, ts, 0, 0);
	sl_op_attach(sqe, op);
}

void sl_worker_timeout_cancel(struct sl_worker *w, struct sl_op *op)
{
	struct io_uring_sqe *sqe = sl_worker_sqe(w);

	io_uring_prep_timeout_remove(sqe, (uint64_t)(uintptr_t)op, 0);
	io_uring_sqe_set_data(sqe, NULL);
}

unsigned int sl_worker_id(const struct sl_worker *w)
{
	return w->id;
}

struct io_uring *sl_worker_ring(struct sl_worker *w)
{
	return &w->ring;
}

int sl_worker_defer(struct sl_worker *w, void (*fn)(void *), void *arg)
{
	if (w->n_deferred == w->cap_deferred) {
		size_t cap = w->cap_deferred ? w->cap_deferred * 2 : 64;
		struct sl_deferred *d = realloc(w->deferred, cap * sizeof(*d));

		if (!d)
			return -ENOMEM;
		w->deferred = d;
		w->cap_deferred = cap;
	}
	w->deferred[w->n_deferred].fn = fn;
	w->deferred[w->n_deferred].arg = arg;
	w->n_deferred++;
	return 0;
}

static void run_deferred(struct sl_worker *w)
{
	/* a deferred function may defer more: run until empty */
	for (size_t i = 0; i < w->n_deferred; i++)
		w->deferred[i].fn(w->deferred[i].arg);
	w->n_deferred = 0;
}

void sl_worker_ref(struct sl_worker *w)
{
	w->refs++;
}

void sl_worker_unref(struct sl_worker *w)
{
	if (w->refs == 0) {
		sl_log_err("%s: worker %u: reference count underflow", __func__,
			   w->id);
		return;
	}
	w->refs--;
}

unsigned int sl_worker_refs(const struct sl_worker *w)
{
	return w->refs;
}

void sl_worker_set_data(struct sl_worker *w, void *data)
{
	w->data = data;
}

void *sl_worker_data(const struct sl_worker *w)
{
	return w->data;
}

bool sl_worker_stopping(const struct sl_worker *w)
{
	return atomic_load(&w->stop_requested);
}

void sl_worker_request_stop(struct sl_worker *w)
{
	uint64_t one = 1;

	atomic_store(&w->stop_requested, true);
	if (write(w->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		sl_log_warn("%s: worker %u: eventfd write: %m", __func__, w->id);
}

static void arm_wake(struct sl_worker *w);

static void handle_stop(struct sl_worker *w)
{
	if (w->stop_handled || !atomic_load(&w->stop_requested))
		return;
	w->stop_handled = true;
	if (w->hooks.stop)
		w->hooks.stop(w, w->hooks.arg);
}

static void wake_done(struct sl_op *op, int res, uint32_t flags)
{
	struct sl_worker *w = sl_container_of(op, struct sl_worker, wake_op);

	w->wake_armed = false;
	handle_stop(w);
	if (res == -ECANCELED || w->stop_handled)
		return;
	arm_wake(w);
}

/* one read of eventfd @fd's counter into @val on the ring; then @fn */
static void arm_eventfd_read(struct sl_worker *w, struct sl_op *op, int fd,
			     uint64_t *val, sl_op_fn fn)
{
	struct io_uring_sqe *sqe = sl_worker_sqe(w);

	op->fn = fn;
	io_uring_prep_read(sqe, fd, val, sizeof(*val), 0);
	sl_op_attach(sqe, op);
}

static void arm_wake(struct sl_worker *w)
{
	arm_eventfd_read(w, &w->wake_op, w->wake_fd, &w->wake_val, wake_done);
	w->wake_armed = true;
}

void sl_worker_post(struct sl_worker *w, struct sl_post *p)
{
	struct sl_post *head = atomic_load_explicit(&w->posts,
						    memory_order_relaxed);
	uint64_t one = 1;

	atomic_fetch_add(&w->posting, 1); /* before the push: see worker_free */
	do
		p->next = head;
	while (!atomic_compare_exchange_weak_explicit(&w->posts, &head, p,
						      memory_order_release,
						      memory_order_relaxed));
	/* after the push: a read that completes before it is followed by a
	 * drain that may or may not see it, and this write wakes one more */
	while (write(w->post_fd, &one, sizeof(one)) < 0) {
		if (errno == EINTR)
			continue;
		/* EAGAIN: the counter is at its maximum, a wake-up is due */
		if (errno != EAGAIN)
			sl_log_err("%s: worker %u: eventfd write: %m", __func__,
				   w->id);
		break;
	}
	atomic_fetch_sub(&w->posting, 1); /* w may be freed from here on */
}

static void arm_post(struct sl_worker *w);

/* run what was posted, oldest first */
static void run_posts(struct sl_worker *w)
{
	struct sl_post *p = atomic_exchange_explicit(&w->posts, NULL,
						     memory_order_acquire);
	struct sl_post *fifo = NULL;

	while (p) {
		struct sl_post *next = p->next;

		p->next = fifo;
		fifo = p;
		p = next;
	}
	while (fifo) {
		p = fifo;
		fifo = fifo->next;
		p->fn(p); /* may free p */
	}
}

static void post_done(struct sl_op *op, int res, uint32_t flags)
{
	struct sl_worker *w = sl_container_of(op, struct sl_worker, post_op);

	(void)res;
	(void)flags;
	run_posts(w);
	/* always re-armed, after a cancel (sl_worker_cancel_all) too: a
	 * stopping worker may still wait for a posted completion */
	arm_post(w);
}

static void arm_post(struct sl_worker *w)
{
	arm_eventfd_read(w, &w->post_op, w->post_fd, &w->post_val, post_done);
}

static void arm_signal(struct sl_worker *w);

static void sig_done(struct sl_op *op, int res, uint32_t flags)
{
	struct sl_worker *w = sl_container_of(op, struct sl_worker, sig_op);

	if (res == -ECANCELED)
		return;
	if (res == (int)sizeof(w->siginfo) && w->hooks.signal)
		w->hooks.signal(w, (int)w->siginfo.ssi_signo, w->hooks.arg);
	else if (res < 0)
		sl_log_warn("%s: signalfd read: %s", __func__, strerror(-res));
	arm_signal(w);
}

static void arm_signal(struct sl_worker *w)
{
	struct io_uring_sqe *sqe = sl_worker_sqe(w);

	w->sig_op.fn = sig_done;
	io_uring_prep_read(sqe, w->sig_fd, &w->siginfo, sizeof(w->siginfo), 0);
	sl_op_attach(sqe, &w->sig_op);
}

static void arm_beat(struct sl_worker *w);

static void beat_done(struct sl_op *op, int res, uint32_t flags)
{
	struct sl_worker *w = sl_container_of(op, struct sl_worker, beat_op);

	if (res == -ECANCELED)
		return;
	atomic_store_explicit(&w->beat_ns, sl_now_ns(), memory_order_relaxed);
	arm_beat(w);
}

/* not counted in refs: an armed heartbeat never keeps a stopping loop up */
static void arm_beat(struct sl_worker *w)
{
	w->beat_op.fn = beat_done;
	w->beat_ts.tv_sec = SL_HEARTBEAT_NS / 1000000000ULL;
	w->beat_ts.tv_nsec = SL_HEARTBEAT_NS % 1000000000ULL;
	sl_worker_timeout(w, &w->beat_op, &w->beat_ts);
}

uint64_t sl_worker_beat_ns(const struct sl_worker *w)
{
	return atomic_load_explicit(&w->beat_ns, memory_order_relaxed);
}

int sl_workers_stalled(struct sl_worker *const *ws, unsigned int n,
		       uint64_t now_ns, uint64_t max_age_ns, uint64_t *age_ns)
{
	for (unsigned int i = 0; ws && i < n; i++) {
		uint64_t beat = ws[i] ? sl_worker_beat_ns(ws[i]) : 0;

		if (ws[i] && now_ns > beat && now_ns - beat > max_age_ns) {
			if (age_ns)
				*age_ns = now_ns - beat;
			return (int)i;
		}
	}
	return -1;
}

void sl_worker_set_busy_poll(struct sl_worker *w, uint64_t window_ns)
{
	w->busy_poll_ns = window_ns;
}

void sl_worker_busy_poll_stats(const struct sl_worker *w, uint64_t *hits,
			       uint64_t *misses)
{
	*hits = atomic_load_explicit(&w->bp_hits, memory_order_relaxed);
	*misses = atomic_load_explicit(&w->bp_misses, memory_order_relaxed);
}

/* sched_yield every this many empty polls: a runnable peer (the pod, the
 * other node's proxy on a small machine) gets the CPU at once */
#define SL_BUSY_POLL_YIELD_EVERY 4

/*
 * Submit, and wait for at least one completion.  After a round that had
 * completions (@active), with busy polling on, first poll the ring without
 * sleeping for up to the window: io_uring_enter without a minimum runs
 * the task work that posts socket completions (COOP_TASKRUN defers it to
 * the next entry), so a reply that comes back within the window is
 * handled without a sleep and a wake-up.  An idle worker never spins: the
 * window starts only after completions.
 */
static int wait_events(struct sl_worker *w, bool active)
{
	if (w->busy_poll_ns && active) {
		uint64_t until = sl_now_ns() + w->busy_poll_ns;
		unsigned int k = 0;

		do {
			int ret = io_uring_submit_and_get_events(&w->ring);

			if (ret < 0 && ret != -EINTR && ret != -EAGAIN &&
			    ret != -EBUSY)
				return ret;
			if (io_uring_cq_ready(&w->ring)) {
				atomic_fetch_add_explicit(&w->bp_hits, 1,
							  memory_order_relaxed);
				return 0;
			}
			if (++k % SL_BUSY_POLL_YIELD_EVERY == 0)
				sched_yield();
		} while (sl_now_ns() < until);
		atomic_fetch_add_explicit(&w->bp_misses, 1,
					  memory_order_relaxed);
	}
	return io_uring_submit_and_wait(&w->ring, 1);
}

static int worker_loop(struct sl_worker *w)
{
	bool active = false;

	while (!(w->stop_handled && w->refs == 0)) {
		struct io_uring_cqe *cqe;
		unsigned int head, n = 0;
		int ret;

		ret = wait_events(w, active);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY &&
		    ret != -ETIME) {
			sl_log_err("%s: worker %u: waiting for completions: %s",
				   __func__, w->id, strerror(-ret));
			return ret;
		}
		io_uring_for_each_cqe(&w->ring, head, cqe) {
			struct sl_op *op = io_uring_cqe_get_data(cqe);

			n++;
			if (op)
				op->fn(op, cqe->res, cqe->flags);
		}
		io_uring_cq_advance(&w->ring, n);
		active = n > 0;
		run_deferred(w);
		handle_stop(w);
	}
	return 0;
}

static void *worker_main(void *arg)
{
	struct sl_worker *w = arg;
	int ret;

	ret = ring_init(w);
	if (!ret) {
		atomic_store_explicit(&w->beat_ns, sl_now_ns(),
				      memory_order_relaxed);
		arm_beat(w);
		arm_wake(w);
		arm_post(w);
		if (w->sig_fd >= 0)
			arm_signal(w);
		if (w->hooks.start)
			ret = w->hooks.start(w, w->hooks.arg);
	}
	pthread_mutex_lock(&w->lock);
	w->started = true;
	w->start_ret = ret;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	if (ret) {
		/* the start hook may have left ops behind: run them down */
		if (w->ring_ok) {
			atomic_store(&w->stop_requested, true);
			handle_stop(w);
			sl_worker_cancel_all(w);
			w->result = worker_loop(w);
		}
		goto out;
	}
	w->result = worker_loop(w);
out:
	run_posts(w);
	run_deferred(w);
	if (w->hooks.fini)
		w->hooks.fini(w, w->hooks.arg);
	if (w->ring_ok)
		io_uring_queue_exit(&w->ring);
	w->ring_ok = false;
	return NULL;
}

static void worker_free(struct sl_worker *w)
{
	if (!w)
		return;
	/* a poster whose post already ran may still be in its eventfd write */
	while (atomic_load(&w->posting))
		sched_yield();
	if (w->wake_fd >= 0)
		close(w->wake_fd);
	if (w->post_fd >= 0)
		close(w->post_fd);
	if (w->sig_fd >= 0)
		close(w->sig_fd);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w->deferred);
	free(w);
}

int sl_workers_wait(struct sl_worker **ws, unsigned int n)
{
	int ret = 0;

	if (!ws)
		return 0;
	for (unsigned int i = 0; i < n; i++) {
		if (ws[i] && ws[i]->thread_ok) {
			pthread_join(ws[i]->thread, NULL);
			ws[i]->thread_ok = false;
			ws[i]->joined = true;
		}
		if (ws[i] && ws[i]->joined && !ret)
			ret = ws[i]->result;
	}
	return ret;
}

void sl_workers_free(struct sl_worker **ws, unsigned int n)
{
	if (!ws)
		return;
	for (unsigned int i = 0; i < n; i++)
		worker_free(ws[i]);
	free(ws);
}

int sl_workers_join(struct sl_worker **ws, unsigned int n)
{
	/* every thread first, then the memory: other threads (telemetry,
	 * systemd notification) read any worker until all of them ended */
	int ret = sl_workers_wait(ws, n);

	sl_workers_free(ws, n);
	return ret;
}

int sl_workers_start(unsigned int n, const struct sl_worker_hooks *hooks,
		     const sigset_t *sigs, struct sl_worker ***out)
{
	struct sl_worker **ws;
	unsigned int i;
	int ret = 0;

	ws = calloc(n, sizeof(*ws));
	if (!ws)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct sl_worker *w = calloc(1, sizeof(*w));

		if (!w) {
			ret = -ENOMEM;
			break;
		}
		ws[i] = w;
		w->id = i;
		w->hooks = *hooks;
		w->sig_fd = -1;
		w->post_fd = -1;
		pthread_mutex_init(&w->lock, NULL);
		pthread_cond_init(&w->cond, NULL);
		w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (w->wake_fd < 0) {
			ret = -errno;
			break;
		}
		w->post_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (w->post_fd < 0) {
			ret = -errno;
			break;
		}
		if (i == 0 && sigs) {
			w->sig_fd = signalfd(-1, sigs, SFD_CLOEXEC | SFD_NONBLOCK);
			if (w->sig_fd < 0) {
				ret = -errno;
				sl_log_err("%s: signalfd: %m", __func__);
				break;
			}
		}
		ret = -pthread_create(&w->thread, NULL, worker_main, w);
		if (ret) {
			sl_log_err("%s: pthread_create: %s", __func__,
				   strerror(-ret));
			break;
		}
		w->thread_ok = true;
		/* wait for this worker's start hook: listeners are set up
		 * one worker at a time, errors are reported in order */
		pthread_mutex_lock(&w->lock);
		while (!w->started)
			pthread_cond_wait(&w->cond, &w->lock);
		ret = w->start_ret;
		pthread_mutex_unlock(&w->lock);
		if (ret)
			break;
	}
	if (ret) {
		for (unsigned int k = 0; k < n; k++)
			if (ws[k] && ws[k]->thread_ok)
				sl_worker_request_stop(ws[k]);
		sl_workers_join(ws, n);
		return ret;
	}
	*out = ws;
	return 0;
}

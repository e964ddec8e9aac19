/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Handshake helpers: threads that run the CPU-heavy steps of TLS
 * handshakes (SSL_do_handshake: key shares, certificate decode and chain
 * verification, signatures) off the workers' threads.
 *
 * A worker's loop then never sits in a handshake's crypto while a flow's
 * packet waits: the steps of the pool's background refills, of inbound
 * handshakes and of outbound misses run here, at a lower CPU priority than
 * the workers (--handshake-nice), and the worker goes on with the I/O.  A
 * step is handed over with the conn: while a job runs, only its helper
 * touches the conn, and the worker gets it back in the job's done call,
 * on its own thread (sl_worker_post).  With no helper threads
 * (--handshake-threads 0) a job runs inline, on the worker, as before.
 *
 * One process-wide set of helpers with two FIFO queues, the flows' jobs
 * first and the background ones (pool refills) after them, started before
 * the workers and stopped after they have been joined.
 */
#ifndef SL_OFFLOAD_H
#define SL_OFFLOAD_H

#include <stdbool.h>

#include "loop.h"

struct sl_tls_conn;

/** One unit of work.  Owned by the submitter; it must stay valid until
 *  done() has been called.  @background (set by the submitter): the job
 *  runs only when no other kind is queued, so a pool refill's steps never
 *  delay the handshake of a flow that waits for it. */
struct sl_offload_job {
	struct sl_offload_job *next;		/* queue link (offload.c) */
	bool background;
	struct sl_worker *w;			/* where done() runs */
	void (*run)(struct sl_offload_job *j);	/* on a helper thread */
	void (*done)(struct sl_offload_job *j); /* then on w's thread */
	struct sl_post post;			/* offload.c's */
};

/** The default nice value of the helpers (workers run at the process's). */
#define SL_OFFLOAD_DEFAULT_NICE 10
#define SL_OFFLOAD_MAX_THREADS 64

/**
 * sl_offload_start - start @threads helpers at nice value @nice (relative
 * to nothing: setpriority on each helper's thread id; a value the process
 * may not take is logged and the helper runs at the process's priority)
 * @threads: 0 runs every job inline (sl_offload_submit calls run and done)
 * @retval 0; -EALREADY when started; -EINVAL (too many threads); -errno
 *         from pthread_create (helpers already started are stopped)
 */
int sl_offload_start(unsigned int threads, int nice);

/**
 * sl_offload_stop - stop the helpers once the queue is empty and join them.
 * No job may be submitted any more; the workers must have been joined (a
 * worker waits for its jobs' done calls before its loop ends).  Safe when
 * not started.
 */
void sl_offload_stop(void);

/** sl_offload_threads - helpers running (0: inline) */
unsigned int sl_offload_threads(void);

/**
 * sl_offload_submit - run @j->run on a helper, then @j->done on @w's thread.
 * Inline mode: both run before this returns.  Either way the caller must
 * not touch what the job owns until done() is called, and done() may
 * already have run when this returns: submit as the last step.
 */
void sl_offload_submit(struct sl_worker *w, struct sl_offload_job *j);

/** sl_offload_jobs - jobs completed so far, all helpers (tests, stats) */
unsigned long long sl_offload_jobs(void);

/**
 * struct sl_hs_step - one handshake step (sl_tls_conn_handshake) as a job:
 * fill @tls and @cb (and @job.background for a refill), call
 * sl_hs_step_submit; @cb gets the step's return
 * value (0, -EAGAIN, or the failure), on the worker's thread
 */
struct sl_hs_step {
	struct sl_offload_job job;
	struct sl_tls_conn *tls;
	int ret;
	void (*cb)(struct sl_hs_step *s, int ret);
};

/** sl_hs_step_submit - run one step of @s->tls's handshake (see above) */
void sl_hs_step_submit(struct sl_worker *w, struct sl_hs_step *s);

#endif /* SL_OFFLOAD_H */

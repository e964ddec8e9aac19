/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Handshake helper threads (see offload.h): two FIFO queues (the flows'
 * jobs, then the background ones) under one mutex,
 * helpers waiting on a condition variable, completions posted back to the
 * submitting worker with sl_worker_post.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "offload.h"
#include "tls.h"
#include "util.h"

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* queued, oldest first: [0] flows' jobs, [1] background ones */
	struct {
		struct sl_offload_job *head, *tail;
	} q[2];
	bool stopping;
	unsigned int n;
	int nice;
	pthread_t tids[SL_OFFLOAD_MAX_THREADS];
	atomic_ullong jobs;
} ol = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};

static void job_posted(struct sl_post *p)
{
	struct sl_offload_job *j = sl_container_of(p, struct sl_offload_job,
						   post);

	j->done(j); /* may free j */
}

static void *helper_main(void *arg)
{
	unsigned int id = (unsigned int)(uintptr_t)arg;
	char name[16];

	snprintf(name, sizeof(name), "sluiced-hs%u", id);
	pthread_setname_np(pthread_self(), name);
	/* a helper's crypto yields to the workers' I/O: a worker that wakes
	 * for a flow preempts it at once */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), ol.nice) < 0)
		sl_log_warn("%s: helper %u: nice %d: %m (runs at the process's priority)",
			    __func__, id, ol.nice);
	pthread_mutex_lock(&ol.lock);
	for (;;) {
		struct sl_offload_job *j;
		unsigned int k;

		while (!ol.q[0].head && !ol.q[1].head && !ol.stopping)
			pthread_cond_wait(&ol.cond, &ol.lock);
		k = ol.q[0].head ? 0 : 1;
		j = ol.q[k].head;
		if (!j)
			break; /* stopping and nothing queued */
		ol.q[k].head = j->next;
		if (!ol.q[k].head)
			ol.q[k].tail = NULL;
		pthread_mutex_unlock(&ol.lock);
		j->run(j);
		atomic_fetch_add_explicit(&ol.jobs, 1, memory_order_relaxed);
		j->post.fn = job_posted;
		sl_worker_post(j->w, &j->post); /* j is the worker's again */
		pthread_mutex_lock(&ol.lock);
	}
	pthread_mutex_unlock(&ol.lock);
	return NULL;
}

int sl_offload_start(unsigned int threads, int nice)
{
	sigset_t all, old;
	int ret = 0;

	if (ol.n)
		return -EALREADY;
	if (threads > SL_OFFLOAD_MAX_THREADS)
		return -EINVAL;
	ol.stopping = false;
	ol.nice = nice;
	/* helpers take no signals: the workers' signalfd does */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (unsigned int i = 0; i < threads; i++) {
		ret = -pthread_create(&ol.tids[i], NULL, helper_main,
				      (void *)(uintptr_t)i);
		if (ret) {
			sl_log_err("%s: pthread_create: %s", __func__,
				   strerror(-ret));
			break;
		}
		ol.n++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		sl_offload_stop();
	return ret;
}

void sl_offload_stop(void)
{
	pthread_mutex_lock(&ol.lock);
	ol.stopping = true;
	pthread_cond_broadcast(&ol.cond);
	pthread_mutex_unlock(&ol.lock);
	for (unsigned int i = 0; i < ol.n; i++)
		pthread_join(ol.tids[i], NULL);
	ol.n = 0;
}

unsigned int sl_offload_threads(void)
{
	return ol.n;
}

unsigned long long sl_offload_jobs(void)
{
	return atomic_load_explicit(&ol.jobs, memory_order_relaxed);
}

void sl_offload_submit(struct sl_worker *w, struct sl_offload_job *j)
{
	unsigned int k;

	j->w = w;
	j->next = NULL;
	if (!ol.n) {
		j->run(j);
		atomic_fetch_add_explicit(&ol.jobs, 1, memory_order_relaxed);
		j->done(j);
		return;
	}
	pthread_mutex_lock(&ol.lock);
	k = j->background ? 1 : 0;
	if (ol.q[k].tail)
		ol.q[k].tail->next = j;
	else
		ol.q[k].head = j;
	ol.q[k].tail = j;
	pthread_cond_signal(&ol.cond);
	pthread_mutex_unlock(&ol.lock);
}

static void hs_step_run(struct sl_offload_job *j)
{
	struct sl_hs_step *s = sl_container_of(j, struct sl_hs_step, job);

	s->ret = sl_tls_conn_handshake(s->tls);
}

static void hs_step_done(struct sl_offload_job *j)
{
	struct sl_hs_step *s = sl_container_of(j, struct sl_hs_step, job);

	s->cb(s, s->ret);
}

void sl_hs_step_submit(struct sl_worker *w, struct sl_hs_step *s)
{
	s->job.run = hs_step_run;
	s->job.done = hs_step_done;
	sl_offload_submit(w, &s->job);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The handshake helpers (daemon/core/offload.c) and the worker posts under them
 * (sl_worker_post, daemon/core/loop.c): a job runs on a helper thread at the
 * helper's nice value and comes back on the submitting worker's thread,
 * in order with one helper, background jobs after the flows'; inline mode runs both halves in the call; a
 * job submitted while the worker stops still comes back before its loop
 * ends; posts from a foreign thread arrive; a real TLS handshake runs
 * step by step through sl_hs_step_submit.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "hs_test.h"
#include "loop.h"
#include "offload.h"
#include "tls.h"

#define NJOBS 200

struct tjob {
	struct sl_offload_job j;
	int idx;
	pid_t run_tid, done_tid;
	int run_nice;
};

struct tstate {
	struct sl_worker *w;
	pid_t worker_tid;
	struct tjob jobs[NJOBS];
	int order[NJOBS];
	int n_done;
	bool submit_at_stop; /* submit one more job from the stop hook */
	struct tjob late;
	int late_done;
	int nstop;
};

static struct tstate ts;

static void job_run(struct sl_offload_job *j)
{
	struct tjob *t = sl_container_of(j, struct tjob, j);

	t->run_tid = gettid();
	errno = 0;
	t->run_nice = getpriority(PRIO_PROCESS, (id_t)t->run_tid);
}

static void job_done(struct sl_offload_job *j)
{
	struct tjob *t = sl_container_of(j, struct tjob, j);

	t->done_tid = gettid();
	ts.order[ts.n_done++] = t->idx;
	if (ts.n_done == NJOBS)
		sl_worker_unref(ts.w); /* taken at start: the loop may end */
}

static void late_done(struct sl_offload_job *j)
{
	struct tjob *t = sl_container_of(j, struct tjob, j);

	t->done_tid = gettid();
	ts.late_done++;
	sl_worker_unref(ts.w);
}

static int start(struct sl_worker *w, void *arg)
{
	ts.w = w;
	ts.worker_tid = gettid();
	sl_worker_ref(w);
	for (int i = 0; i < NJOBS; i++) {
		ts.jobs[i].idx = i;
		ts.jobs[i].j.run = job_run;
		ts.jobs[i].j.done = job_done;
		sl_offload_submit(w, &ts.jobs[i].j);
	}
	return 0;
}

static void stop(struct sl_worker *w, void *arg)
{
	ts.nstop++;
	if (!ts.submit_at_stop)
		return;
	/* the loop must wait for this one: it holds a reference */
	sl_worker_ref(w);
	ts.late.j.run = job_run;
	ts.late.j.done = late_done;
	sl_offload_submit(w, &ts.late.j);
}

static void run_workers(bool submit_at_stop)
{
	struct sl_worker_hooks hooks = { .start = start, .stop = stop };
	struct sl_worker **ws;

	memset(&ts, 0, sizeof(ts));
	ts.submit_at_stop = submit_at_stop;
	assert_int_equal(sl_workers_start(1, &hooks, NULL, &ws), 0);
	for (int i = 0; i < 500 && ts.n_done < NJOBS; i++)
		usleep(2000);
	sl_worker_request_stop(ws[0]);
	assert_int_equal(sl_workers_join(ws, 1), 0);
}

static void test_inline(void **state)
{
	struct tjob t = { .idx = 7 };

	assert_int_equal(sl_offload_threads(), 0);
	memset(&ts, 0, sizeof(ts));
	t.j.run = job_run;
	t.j.done = job_done;
	sl_offload_submit(NULL, &t.j);
	/* both halves ran in the call, on this thread */
	assert_int_equal(ts.n_done, 1);
	assert_int_equal(ts.order[0], 7);
	assert_int_equal(t.run_tid, gettid());
	assert_int_equal(t.done_tid, gettid());
}

static void test_one_helper(void **state)
{
	unsigned long long before = sl_offload_jobs();

	assert_int_equal(sl_offload_start(1, 7), 0);
	assert_int_equal(sl_offload_start(1, 7), -EALREADY);
	assert_int_equal(sl_offload_threads(), 1);
	run_workers(false);
	sl_offload_stop();
	assert_int_equal(sl_offload_threads(), 0);
	assert_int_equal(ts.n_done, NJOBS);
	assert_true(sl_offload_jobs() - before == NJOBS);
	for (int i = 0; i < NJOBS; i++) {
		struct tjob *t = &ts.jobs[i];

		assert_int_equal(ts.order[i], i); /* one helper: FIFO */
		assert_int_not_equal(t->run_tid, ts.worker_tid);
		assert_int_not_equal(t->run_tid, 0);
		assert_int_equal(t->run_nice, 7);
		assert_int_equal(t->done_tid, ts.worker_tid);
	}
	assert_int_equal(ts.nstop, 1);
}

static void test_many_helpers_and_stop(void **state)
{
	bool seen[NJOBS] = { false };

	assert_int_equal(sl_offload_start(3, 0), 0);
	run_workers(true);
	sl_offload_stop();
	assert_int_equal(ts.n_done, NJOBS);
	for (int i = 0; i < NJOBS; i++) {
		assert_false(seen[ts.order[i]]); /* each exactly once */
		seen[ts.order[i]] = true;
		assert_int_not_equal(ts.jobs[i].run_tid, ts.worker_tid);
		assert_int_equal(ts.jobs[i].done_tid, ts.worker_tid);
	}
	/* submitted from the stop hook: back before the loop ended */
	assert_int_equal(ts.late_done, 1);
	assert_int_equal(ts.late.done_tid, ts.worker_tid);
	assert_int_not_equal(ts.late.run_tid, ts.worker_tid);
}

static void test_bad_args(void **state)
{
	assert_int_equal(sl_offload_start(SL_OFFLOAD_MAX_THREADS + 1, 0), -EINVAL);
	assert_int_equal(sl_offload_threads(), 0);
	sl_offload_stop(); /* not started: a no-op */
}

/* ---- background jobs run after the flows' ------------------------------ */

#define NBG 6
#define NFLOW 3

static struct {
	struct sl_worker *w;
	struct tjob gate, jobs[NBG + NFLOW]; /* background first, then flows */
	atomic_bool release;
	int ran[NBG + NFLOW + 1]; /* indexes in run order (helper thread) */
	int n_ran, n_done;
} pr;

static void prio_run(struct sl_offload_job *j)
{
	struct tjob *t = sl_container_of(j, struct tjob, j);

	/* the gate holds the only helper until everything is queued */
	while (t == &pr.gate && !atomic_load(&pr.release))
		usleep(1000);
	pr.ran[pr.n_ran++] = t->idx;
}

static void prio_done(struct sl_offload_job *j)
{
	if (++pr.n_done == NBG + NFLOW + 1)
		sl_worker_unref(pr.w);
}

static int prio_start(struct sl_worker *w, void *arg)
{
	pr.w = w;
	sl_worker_ref(w);
	pr.gate.idx = -1;
	pr.gate.j.run = prio_run;
	pr.gate.j.done = prio_done;
	pr.gate.j.background = true;
	sl_offload_submit(w, &pr.gate.j);
	for (int i = 0; i < NBG + NFLOW; i++) {
		pr.jobs[i].idx = i;
		pr.jobs[i].j.run = prio_run;
		pr.jobs[i].j.done = prio_done;
		pr.jobs[i].j.background = i < NBG;
		sl_offload_submit(w, &pr.jobs[i].j);
	}
	atomic_store(&pr.release, true);
	return 0;
}

static void test_background_after_flows(void **state)
{
	struct sl_worker_hooks hooks = { .start = prio_start };
	struct sl_worker **ws;
	int next_bg = 0, next_flow = NBG, flows_seen = 0;

	memset(&pr, 0, sizeof(pr));
	assert_int_equal(sl_offload_start(1, 0), 0);
	assert_int_equal(sl_workers_start(1, &hooks, NULL, &ws), 0);
	for (int i = 0; i < 2000 && pr.n_done < NBG + NFLOW + 1; i++)
		usleep(1000);
	sl_worker_request_stop(ws[0]);
	assert_int_equal(sl_workers_join(ws, 1), 0);
	sl_offload_stop();
	assert_int_equal(pr.n_ran, NBG + NFLOW + 1);
	/* the background jobs submitted before the flows' ran after all of
	 * them; each kind in its own submission order */
	for (int i = 0; i < pr.n_ran; i++) {
		int idx = pr.ran[i];

		if (idx < 0)
			continue; /* the gate: first or right after the flows */
		if (idx >= NBG) {
			assert_int_equal(idx, next_flow++);
			flows_seen++;
		} else {
			assert_int_equal(flows_seen, NFLOW);
			assert_int_equal(idx, next_bg++);
		}
	}
	assert_int_equal(next_bg, NBG);
	assert_int_equal(flows_seen, NFLOW);
}

/* ---- posts from a foreign thread --------------------------------------- */

#define NPOSTS 1000

static struct {
	struct sl_worker *w;
	struct sl_post posts[NPOSTS];
	int got[NPOSTS];
	int n;
	pid_t worker_tid, bad_tid;
} pt;

static void post_fn(struct sl_post *p)
{
	int i = (int)(p - pt.posts);

	if (gettid() != pt.worker_tid)
		pt.bad_tid++;
	pt.got[pt.n++] = i;
	if (pt.n == NPOSTS)
		sl_worker_unref(pt.w);
}

static void *poster(void *arg)
{
	for (int i = 0; i < NPOSTS; i++) {
		pt.posts[i].fn = post_fn;
		sl_worker_post(pt.w, &pt.posts[i]);
		if (i % 100 == 0)
			usleep(1000); /* let some arrive while others are posted */
	}
	return NULL;
}

static int post_start(struct sl_worker *w, void *arg)
{
	pt.w = w;
	pt.worker_tid = gettid();
	sl_worker_ref(w);
	return 0;
}

static void test_post_foreign_thread(void **state)
{
	struct sl_worker_hooks hooks = { .start = post_start };
	struct sl_worker **ws;
	pthread_t th;

	memset(&pt, 0, sizeof(pt));
	assert_int_equal(sl_workers_start(1, &hooks, NULL, &ws), 0);
	assert_int_equal(pthread_create(&th, NULL, poster, NULL), 0);
	pthread_join(th, NULL);
	sl_worker_request_stop(ws[0]); /* ends once every post has run */
	assert_int_equal(sl_workers_join(ws, 1), 0);
	assert_int_equal(pt.n, NPOSTS);
	assert_int_equal(pt.bad_tid, 0);
	for (int i = 0; i < NPOSTS; i++)
		assert_int_equal(pt.got[i], i); /* one poster: in order */
}

/* ---- a real handshake, one step per job --------------------------------- */

static struct {
	struct sl_worker *w;
	struct t_fx *fx;
	struct t_end c, s;
	struct t_pipe c2s, s2c;
	struct sl_hs_step cs, ss;
	int out; /* steps submitted and not back */
	int rounds, steps;
	pid_t worker_tid, wrong_thread;
	bool ended;
} hs;

static void hs_round(void);

static void hs_cb(struct sl_hs_step *st, int ret)
{
	struct t_end *e = st == &hs.cs ? &hs.c : &hs.s;

	if (gettid() != hs.worker_tid)
		hs.wrong_thread++;
	hs.steps++;
	e->rc = ret;
	e->done = ret == 0;
	e->failed = ret && ret != -EAGAIN;
	if (--hs.out == 0)
		hs_round();
}

static void hs_submit(struct t_end *e, struct sl_hs_step *st)
{
	if (e->done || e->failed)
		return;
	st->tls = e->c;
	st->cb = hs_cb;
	hs.out++;
	sl_hs_step_submit(hs.w, st);
}

/* both steps are back: move the bytes each side wrote, step both again */
static void hs_round(void)
{
	bool more;

	t_flush(&hs.c, &hs.c2s);
	t_flush(&hs.s, &hs.s2c);
	more = hs.c2s.len || hs.s2c.len;
	if (hs.c2s.len)
		t_deliver(&hs.c2s, &hs.s);
	if (hs.s2c.len)
		t_deliver(&hs.s2c, &hs.c);
	if ((hs.c.done && hs.s.done) || hs.c.failed || hs.s.failed || !more ||
	    ++hs.rounds > 10) {
		hs.ended = true;
		sl_worker_unref(hs.w);
		return;
	}
	/* both are submitted before either can come back inline */
	hs.out++;
	hs_submit(&hs.c, &hs.cs);
	hs_submit(&hs.s, &hs.ss);
	if (--hs.out == 0)
		hs_round();
}

static int hs_start(struct sl_worker *w, void *arg)
{
	hs.w = w;
	hs.worker_tid = gettid();
	sl_worker_ref(w);
	hs.out = 1;
	hs_submit(&hs.c, &hs.cs); /* the ClientHello */
	hs_submit(&hs.s, &hs.ss); /* wants it */
	if (--hs.out == 0)
		hs_round();
	return 0;
}

static void handshake_case(unsigned int threads)
{
	struct sl_worker_hooks hooks = { .start = hs_start };
	struct sl_worker **ws;
	void *fx = NULL;

	memset(&hs, 0, sizeof(hs));
	assert_int_equal(t_fx_setup(&fx), 0);
	hs.fx = fx;
	assert_int_equal(sl_tls_conn_new(hs.fx->ctx, SL_TLS_CLIENT, hs.fx->client_id,
					 T_ID_SERVER, &hs.c.c), 0);
	assert_int_equal(sl_tls_conn_new(hs.fx->ctx, SL_TLS_SERVER, hs.fx->server_id,
					 NULL, &hs.s.c), 0);
	assert_int_equal(sl_offload_start(threads, SL_OFFLOAD_DEFAULT_NICE), 0);
	assert_int_equal(sl_workers_start(1, &hooks, NULL, &ws), 0);
	for (int i = 0; i < 1000 && !hs.ended; i++)
		usleep(2000);
	sl_worker_request_stop(ws[0]);
	assert_int_equal(sl_workers_join(ws, 1), 0);
	sl_offload_stop();
	assert_true(hs.ended);
	assert_true(hs.c.done);
	assert_true(hs.s.done);
	assert_false(hs.c.failed || hs.s.failed);
	assert_int_equal(hs.wrong_thread, 0);
	assert_true(hs.steps >= 4); /* at least two steps a side */
	assert_string_equal(sl_tls_conn_peer_id(hs.c.c), T_ID_SERVER);
	assert_string_equal(sl_tls_conn_peer_id(hs.s.c), T_ID_CLIENT);
	sl_tls_conn_free(hs.c.c);
	sl_tls_conn_free(hs.s.c);
	t_fx_teardown(&fx);
}

static void test_handshake_helpers(void **state)
{
	handshake_case(2);
}

static void test_handshake_inline(void **state)
{
	handshake_case(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inline),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_one_helper),
		cmocka_unit_test(test_many_helpers_and_stop),
		cmocka_unit_test(test_background_after_flows),
		cmocka_unit_test(test_post_foreign_thread),
		cmocka_unit_test(test_handshake_helpers),
		cmocka_unit_test(test_handshake_inline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

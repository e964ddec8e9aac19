/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of daemon/traffic/outlier.c (endpoint health, ejection) through the
 * load balancer, with an injected clock.
 */
#include <pthread.h>
#include <sched.h>

#include "lb.h"
#include "log.h"
#include "outlier.h"
#include "tm_test.h"

#define N_EPS 10

struct ot {
	struct sl_health *h;
	struct sl_endpoint eps[N_EPS];
	size_t n;
	struct sl_dest_policy pol;
};

static int ot_setup(void **state)
{
	struct ot *t = calloc(1, sizeof(*t));
	char ip[32];

	assert_non_null(t);
	tm_now_ns = 1000 * TM_SEC;
	assert_int_equal(sl_health_new(tm_clock, NULL, &t->h), 0);
	for (size_t i = 0; i < N_EPS; i++) {
		snprintf(ip, sizeof(ip), "fd00:5a1c::%zx", i + 1);
		assert_int_equal(sl_ip_parse(ip, &t->eps[i].address), 0);
		t->eps[i].port = 443;
	}
	t->n = 2;
	sl_dest_policy_default(&t->pol);
	t->pol.host = "db.test.svc.cluster.local";
	t->pol.outlier = true;
	t->pol.consecutive_errors = 3;
	t->pol.base_ejection_ns = 10 * TM_SEC;
	t->pol.outlier_interval_ns = 5 * TM_SEC;
	t->pol.max_ejection_pct = 100;
	*state = t;
	return 0;
}

static int ot_teardown(void **state)
{
	struct ot *t = *state;

	sl_health_free(t->h);
	free(t);
	return 0;
}

static struct sl_health_ep *ot_ep(struct ot *t, size_t i)
{
	struct sl_health_ep *e = sl_health_ep(t->h, t->pol.host,
					      &t->eps[i].address,
					      t->eps[i].port);

	assert_non_null(e);
	return e;
}

static bool ot_ejected(struct ot *t, size_t i)
{
	return sl_health_ejected(ot_ep(t, i), tm_now_ns);
}

/* ejected-until minus now, in seconds */
static uint64_t ot_left(struct ot *t, size_t i)
{
	return (atomic_load(&ot_ep(t, i)->ejected_until) - tm_now_ns) / TM_SEC;
}

static bool ot_fail(struct ot *t, size_t i, int err)
{
	(void)err;
	return sl_outlier_failure(t->h, &t->pol, t->eps, t->n, i, tm_now_ns);
}

/* how often each endpoint is picked in @flows complete flows */
static void ot_picks(struct ot *t, int flows, size_t *cnt)
{
	memset(cnt, 0, sizeof(*cnt) * N_EPS);
	for (int k = 0; k < flows; k++) {
		const struct sl_endpoint *ep;
		struct sl_lb_flow f;
		uint64_t to;

		assert_int_equal(sl_lb_begin(&f, t->h, t->eps, t->n, &t->pol),
				 0);
		assert_int_equal(sl_lb_pick(&f, &ep, &to), 0);
		cnt[ep - t->eps]++;
		sl_lb_report_success(&f);
		sl_lb_end(&f);
	}
}

static void test_eject_after_n(void **state)
{
	struct ot *t = *state;
	struct sl_health_stats st;
	size_t cnt[N_EPS];

	assert_false(ot_fail(t, 0, -ECONNREFUSED));
	assert_false(ot_fail(t, 0, -ECONNREFUSED));
	assert_false(ot_ejected(t, 0));
	assert_true(ot_fail(t, 0, -ECONNREFUSED));
	assert_true(ot_ejected(t, 0));
	assert_int_equal(ot_left(t, 0), 10);
	sl_health_get_stats(t->h, &st);
	assert_int_equal(st.ejections, 1);
	assert_int_equal(st.failures, 3);
	ot_picks(t, 100, cnt);
	assert_int_equal(cnt[0], 0);
	assert_int_equal(cnt[1], 100);
}

static void test_eject_through_lb(void **state)
{
	struct ot *t = *state;
	const struct sl_endpoint *ep;
	struct sl_lb_flow f;
	uint64_t to;
	int fails = 0;

	/* connect failures reported by flows eject; local errors do not */
	t->pol.lb = SL_POLICY_LB_ROUND_ROBIN;
	for (int k = 0; k < 20 && !ot_ejected(t, 0); k++) {
		assert_int_equal(sl_lb_begin(&f, t->h, t->eps, t->n, &t->pol),
				 0);
		assert_int_equal(sl_lb_pick(&f, &ep, &to), 0);
		if (ep == &t->eps[0]) {
			sl_lb_report_failure(&f, fails % 2 ? -ETIMEDOUT :
							     -ECONNREFUSED);
			fails++;
		} else {
			sl_lb_report_failure(&f, -ENOMEM); /* local */
			assert_int_equal(atomic_load(&ot_ep(t, 1)->consecutive),
					 0);
		}
		sl_lb_end(&f);
	}
	assert_int_equal(fails, 3);
	assert_true(ot_ejected(t, 0));
	assert_false(ot_ejected(t, 1));
}

static void test_success_resets(void **state)
{
	struct ot *t = *state;
	const struct sl_endpoint *ep;
	struct sl_lb_flow f;
	uint64_t to;

	t->n = 1;
	for (int round = 0; round < 5; round++) {
		assert_false(ot_fail(t, 0, -ECONNREFUSED));
		assert_false(ot_fail(t, 0, -ECONNREFUSED));
		assert_int_equal(sl_lb_begin(&f, t->h, t->eps, t->n, &t->pol),
				 0);
		assert_int_equal(sl_lb_pick(&f, &ep, &to), 0);
		sl_lb_report_success(&f);
		sl_lb_end(&f);
		assert_int_equal(atomic_load(&ot_ep(t, 0)->consecutive), 0);
	}
	assert_false(ot_ejected(t, 0));
}

static void test_growth_and_return(void **state)
{
	struct ot *t = *state;
	size_t cnt[N_EPS];

	t->pol.max_ejection_ns = 25 * TM_SEC;
	for (int k = 1; k <= 4; k++) {
		for (int i = 0; i < 3; i++)
			ot_fail(t, 0, -ECONNREFUSED);
		assert_true(ot_ejected(t, 0));
		/* 10 s, 20 s, then the 25 s cap */
		assert_int_equal(ot_left(t, 0), k < 3 ? 10u * k : 25u);
		assert_int_equal(atomic_load(&ot_ep(t, 0)->ejections), k);
		/* failures while ejected do not extend the ejection */
		assert_false(ot_fail(t, 0, -ECONNREFUSED));
		tm_now_ns += ot_left(t, 0) * TM_SEC - 1;
		assert_true(ot_ejected(t, 0));
		tm_now_ns += 1;
		/* back by itself */
		assert_false(ot_ejected(t, 0));
		ot_picks(t, 10, cnt);
		assert_true(cnt[0] > 0);
	}
	/* the multiplier decays by one per interval (5 s) spent healthy */
	tm_now_ns += 10 * TM_SEC;
	for (int i = 0; i < 3; i++)
		ot_fail(t, 0, -ECONNREFUSED);
	assert_int_equal(atomic_load(&ot_ep(t, 0)->ejections), 3);
	assert_int_equal(ot_left(t, 0), 25);
	tm_now_ns += 25 * TM_SEC + 60 * TM_SEC;
	for (int i = 0; i < 3; i++)
		ot_fail(t, 0, -ECONNREFUSED);
	assert_int_equal(atomic_load(&ot_ep(t, 0)->ejections), 1);
	assert_int_equal(ot_left(t, 0), 10);
}

static void test_max_ejection_percent(void **state)
{
	struct ot *t = *state;

	t->n = 4;
	t->pol.max_ejection_pct = 50;
	for (size_t e = 0; e < 4; e++)
		for (int i = 0; i < 3; i++)
			ot_fail(t, e, -ECONNREFUSED);
	assert_true(ot_ejected(t, 0));
	assert_true(ot_ejected(t, 1));
	assert_false(ot_ejected(t, 2)); /* would make 75% */
	assert_false(ot_ejected(t, 3));
	/* more failures never go beyond */
	for (int i = 0; i < 10; i++)
		assert_false(ot_fail(t, 2, -ECONNREFUSED));
	/* when one returns, another may go */
	tm_now_ns += 10 * TM_SEC;
	assert_true(ot_fail(t, 2, -ECONNREFUSED));
	assert_true(ot_ejected(t, 2));
}

static void test_max_ejection_small(void **state)
{
	struct ot *t = *state;

	/* 10% of 4: Envoy still ejects one, never two */
	t->n = 4;
	t->pol.max_ejection_pct = 10;
	for (size_t e = 0; e < 2; e++)
		for (int i = 0; i < 3; i++)
			ot_fail(t, e, -ECONNREFUSED);
	assert_true(ot_ejected(t, 0));
	assert_false(ot_ejected(t, 1));
	/* 0%: never */
	t->pol.max_ejection_pct = 0;
	t->pol.host = "zero.test.svc.cluster.local";
	for (int i = 0; i < 10; i++)
		assert_false(ot_fail(t, 3, -ECONNREFUSED));
	/* without outlierDetection: counted, never ejected */
	t->pol.max_ejection_pct = 100;
	t->pol.outlier = false;
	t->pol.host = "plain.test.svc.cluster.local";
	for (int i = 0; i < 10; i++)
		assert_false(ot_fail(t, 3, -ECONNREFUSED));
	assert_int_equal(atomic_load(&ot_ep(t, 3)->failures), 10);
}

static void test_all_ejected_still_served(void **state)
{
	struct ot *t = *state;
	size_t cnt[N_EPS];

	for (size_t e = 0; e < 2; e++)
		for (int i = 0; i < 3; i++)
			ot_fail(t, e, -ECONNREFUSED);
	assert_true(ot_ejected(t, 0) && ot_ejected(t, 1));
	ot_picks(t, 20, cnt);
	assert_int_equal(cnt[0] + cnt[1], 20);
}

/* outlierDetection.minHealthPercent: below it, ejections are ignored */
static void test_min_health_percent(void **state)
{
	struct ot *t = *state;
	size_t cnt[N_EPS];

	t->n = 4;
	for (size_t e = 0; e < 2; e++)
		for (int i = 0; i < 3; i++)
			ot_fail(t, e, -ECONNREFUSED);
	assert_true(ot_ejected(t, 0) && ot_ejected(t, 1));
	t->pol.lb = SL_POLICY_LB_ROUND_ROBIN;
	ot_picks(t, 40, cnt);
	assert_int_equal(cnt[0] + cnt[1], 0);
	/* 50% healthy < 75%: ejections are ignored */
	t->pol.min_health_pct = 75;
	ot_picks(t, 40, cnt);
	assert_int_equal(cnt[0], 10);
	assert_int_equal(cnt[1], 10);
}

static void test_state_shared_by_key(void **state)
{
	struct ot *t = *state;
	struct sl_endpoint copy = t->eps[0];

	/* same host, address, port: same state, whatever array it is in
	 * (as after a config reload) */
	for (int i = 0; i < 3; i++)
		ot_fail(t, 0, -ECONNREFUSED);
	assert_true(sl_health_ep(t->h, t->pol.host, &copy.address,
				 copy.port) == ot_ep(t, 0));
	assert_true(sl_health_ejected(sl_health_ep(t->h, t->pol.host,
						   &copy.address, copy.port),
				      tm_now_ns));
	/* another port or host: another endpoint */
	assert_false(sl_health_ejected(sl_health_ep(t->h, t->pol.host,
						    &copy.address, 444),
				       tm_now_ns));
	assert_false(sl_health_ejected(sl_health_ep(t->h, "x.test",
						    &copy.address, copy.port),
				       tm_now_ns));
	assert_false(sl_health_ejected(sl_health_ep(t->h, NULL, &copy.address,
						    copy.port),
				       tm_now_ns));
}

/* sl_health_gc: entries of endpoints that left the config go, entries in
 * use, held by a flow or ejected stay; ejection and return keep working */
static void test_gc(void **state)
{
	struct ot *t = *state;
	struct sl_health_stats st;
	struct sl_health_ep *held, *p0;
	size_t cnt[N_EPS];

	t->n = 4;
	ot_picks(t, 8, cnt); /* entries for endpoints 0..3 */
	for (int i = 0; i < 3; i++)
		ot_fail(t, 2, -ECONNREFUSED);
	assert_true(ot_ejected(t, 2));
	held = ot_ep(t, 3);
	atomic_fetch_add(&held->active, 1); /* a flow still on endpoint 3 */
	sl_health_get_stats(t->h, &st);
	assert_int_equal(st.endpoints, 4);
	/* everything was used since it was created */
	assert_int_equal(sl_health_gc(t->h), 0);

	/* a reload: endpoints 2 and 3 are gone from the config */
	t->n = 2;
	ot_picks(t, 4, cnt);
	/* 2 is ejected, 3 is held: both stay */
	assert_int_equal(sl_health_gc(t->h), 0);
	sl_health_get_stats(t->h, &st);
	assert_int_equal(st.endpoints, 4);

	/* the flow on 3 ends: its entry goes, the live ones stay */
	atomic_fetch_sub(&held->active, 1);
	ot_picks(t, 4, cnt);
	assert_int_equal(sl_health_gc(t->h), 1);
	sl_health_get_stats(t->h, &st);
	assert_int_equal(st.endpoints, 3);
	assert_int_equal(st.collected, 1);
	assert_int_equal(st.retired, 1);
	/* unlinked, not freed: a lookup that found it just before may still
	 * read it (ASan checks this) */
	assert_int_equal(atomic_load(&held->active), 0);

	/* 2's ejection ends: now it goes too */
	tm_now_ns += 11 * TM_SEC;
	ot_picks(t, 4, cnt);
	assert_int_equal(sl_health_gc(t->h), 1);
	sl_health_get_stats(t->h, &st);
	assert_int_equal(st.endpoints, 2);
	assert_int_equal(st.retired, 2);

	/* after the grace period the retired entries are freed */
	tm_now_ns += SL_HEALTH_GC_GRACE_NS;
	ot_picks(t, 4, cnt);
	assert_int_equal(sl_health_gc(t->h), 0);
	sl_health_get_stats(t->h, &st);
	assert_int_equal(st.retired, 0);
	assert_int_equal(st.endpoints, 2);
	assert_int_equal(st.collected, 2);

	/* ejection and return of a live endpoint across GC passes */
	p0 = ot_ep(t, 0);
	for (int i = 0; i < 3; i++)
		ot_fail(t, 0, -ECONNREFUSED);
	assert_true(ot_ejected(t, 0));
	ot_picks(t, 10, cnt);
	assert_int_equal(cnt[0], 0);
	assert_int_equal(sl_health_gc(t->h), 0); /* both used */
	/* no flow since: 1 goes (re-created on its next use), 0 stays
	 * because it is ejected */
	assert_int_equal(sl_health_gc(t->h), 1);
	assert_true(ot_ep(t, 0) == p0);
	assert_true(ot_ejected(t, 0));
	tm_now_ns += 11 * TM_SEC;
	assert_false(ot_ejected(t, 0));
	ot_picks(t, 10, cnt);
	assert_true(cnt[0] > 0);
	/* its ejection count survived: the next ejection is twice as long */
	for (int i = 0; i < 3; i++)
		ot_fail(t, 0, -ECONNREFUSED);
	assert_true(ot_ejected(t, 0));
	assert_true(ot_ep(t, 0) == p0);
	assert_int_equal(ot_left(t, 0), 20);

	/* an endpoint that comes back gets a fresh entry */
	assert_false(sl_health_ejected(ot_ep(t, 2), tm_now_ns));
	sl_health_get_stats(t->h, &st);
	assert_int_equal(st.endpoints, 3);
}

/* sl_health_gc while workers run flows: entries are unlinked under
 * lookups and inserts (and re-created); none held by a flow is freed and
 * every count returns to 0.  The clock stands still while the threads run
 * (a fake clock would let the grace period pass in microseconds of real
 * time), so the retired entries are freed after the join. */
struct gc_worker {
	struct ot *t;
	int id;
	atomic_int *done;
	unsigned long flows;
};

static void *gc_worker_fn(void *arg)
{
	struct gc_worker *w = arg;
	struct sl_dest_policy pol = w->t->pol;
	char host[32];

	for (int k = 0; k < 20000; k++) {
		const struct sl_endpoint *ep;
		struct sl_lb_flow f;
		uint64_t to;

		snprintf(host, sizeof(host), "g%d.test", (k + w->id) % 8);
		pol.host = host;
		if (sl_lb_begin(&f, w->t->h, w->t->eps, w->t->n, &pol))
			continue;
		if (sl_lb_pick(&f, &ep, &to) == 0) {
			if (k % 11 == 0)
				sl_lb_report_failure(&f, -ECONNREFUSED);
			else
				sl_lb_report_success(&f);
		}
		sl_lb_end(&f);
		w->flows++;
	}
	atomic_fetch_add(w->done, 1);
	return NULL;
}

static void test_gc_concurrent(void **state)
{
	struct ot *t = *state;
	struct gc_worker w[3];
	pthread_t th[3];
	atomic_int done = 0;
	struct sl_health_stats st;
	size_t removed = 0;

	t->n = N_EPS;
	t->pol.max_ejection_pct = 30;
	for (int i = 0; i < 3; i++) {
		w[i] = (struct gc_worker){ .t = t, .id = i, .done = &done };
		assert_int_equal(pthread_create(&th[i], NULL, gc_worker_fn,
						&w[i]), 0);
	}
	while (atomic_load(&done) < 3) {
		removed += sl_health_gc(t->h);
		sched_yield();
	}
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].flows, 20000);
	}
	/* every entry, live or retired, is back to no flow */
	sl_health_get_stats(t->h, &st);
	print_message("gc under load: %zu unlinked, %lu live, %lu retired\n",
		      removed, st.endpoints, st.retired);
	assert_int_equal(st.collected, removed);
	/* ejections end, the grace passes: two passes collect and free all */
	tm_now_ns += 400 * TM_SEC;
	sl_health_gc(t->h);
	sl_health_gc(t->h);
	tm_now_ns += SL_HEALTH_GC_GRACE_NS;
	sl_health_gc(t->h);
	sl_health_get_stats(t->h, &st);
	assert_int_equal(st.endpoints, 0);
	assert_int_equal(st.retired, 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, ot_setup, ot_teardown)
	const struct CMUnitTest tests[] = {
		T(test_eject_after_n),
		T(test_eject_through_lb),
		T(test_success_resets),
		T(test_growth_and_return),
		T(test_max_ejection_percent),
		T(test_max_ejection_small),
		T(test_all_ejected_still_served),
		T(test_min_health_percent),
		T(test_state_shared_by_key),
		T(test_gc),
		T(test_gc_concurrent),
	};
#undef T

	sl_log_init("test-outlier", SL_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

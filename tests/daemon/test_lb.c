/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of daemon/traffic/lb.c: each algorithm's behaviour, circuit breaking,
 * connect-time retries, and the policy / weighted split that
 * sl_config_route() hands to the load balancer.
 */
#include <arpa/inet.h>
#include <pthread.h>

#include "lb.h"
#include "log.h"
#include "outlier.h"
#include "policy_query.h"
#include "tm_test.h"

#define N_EPS 8

struct lbt {
	struct sl_health *h;
	struct sl_endpoint eps[N_EPS];
	size_t n;
	struct sl_dest_policy pol;
};

static int lbt_setup(void **state)
{
	struct lbt *t = calloc(1, sizeof(*t));
	char ip[32];

	assert_non_null(t);
	assert_int_equal(sl_health_new(tm_clock, NULL, &t->h), 0);
	for (size_t i = 0; i < N_EPS; i++) {
		snprintf(ip, sizeof(ip), "198.18.0.%zu", i + 1);
		assert_int_equal(sl_ip_parse(ip, &t->eps[i].address), 0);
		t->eps[i].port = 8080;
		t->eps[i].weight = 1;
	}
	t->n = 3;
	sl_dest_policy_default(&t->pol);
	t->pol.host = "svc.test.svc.cluster.local";
	*state = t;
	return 0;
}

static int lbt_teardown(void **state)
{
	struct lbt *t = *state;

	sl_health_free(t->h);
	free(t);
	return 0;
}

/* one complete flow: begin, pick, success, end; returns the index */
static size_t lbt_flow(struct lbt *t)
{
	const struct sl_endpoint *ep;
	struct sl_lb_flow f;
	uint64_t to;

	assert_int_equal(sl_lb_begin(&f, t->h, t->eps, t->n, &t->pol), 0);
	assert_int_equal(sl_lb_pick(&f, &ep, &to), 0);
	sl_lb_report_success(&f);
	sl_lb_end(&f);
	return (size_t)(ep - t->eps);
}

static void test_default_is_least_request(void **state)
{
	struct sl_dest_policy p;

	(void)state;
	sl_dest_policy_default(&p);
	assert_int_equal(p.lb, SL_POLICY_LB_LEAST_REQUEST);
	assert_int_equal(p.retry_attempts, 0);
	assert_true(p.connect_timeout_ns == 0); /* the daemon's default */
	assert_true(p.idle_timeout_ns == 0);
	assert_int_equal(p.max_connections, 0);
}

static void test_round_robin_cycles(void **state)
{
	struct lbt *t = *state;
	size_t cnt[N_EPS] = { 0 }, first, prev;

	t->pol.lb = SL_POLICY_LB_ROUND_ROBIN;
	first = prev = lbt_flow(t);
	cnt[first]++;
	for (int i = 1; i < 300; i++) {
		size_t x = lbt_flow(t);

		assert_int_equal(x, (prev + 1) % t->n); /* strict rotation */
		cnt[x]++;
		prev = x;
	}
	for (size_t i = 0; i < t->n; i++)
		assert_int_equal(cnt[i], 100);
}

static void test_random_spreads(void **state)
{
	struct lbt *t = *state;
	size_t cnt[N_EPS] = { 0 };

	t->pol.lb = SL_POLICY_LB_RANDOM;
	t->n = 4;
	for (int i = 0; i < 4000; i++)
		cnt[lbt_flow(t)]++;
	/* expected 1000 each; sd ~27: +-200 is > 7 sd */
	for (size_t i = 0; i < t->n; i++) {
		assert_true(cnt[i] > 800);
		assert_true(cnt[i] < 1200);
	}
}

static void test_p2c_prefers_less_loaded(void **state)
{
	struct lbt *t = *state;
	size_t cnt[N_EPS] = { 0 };
	struct sl_health_ep *busy;

	t->pol.lb = SL_POLICY_LB_LEAST_REQUEST;
	busy = sl_health_ep(t->h, t->pol.host, &t->eps[0].address,
			    t->eps[0].port);
	assert_non_null(busy);
	atomic_store(&busy->active, 50);
	/* the two choices are always distinct endpoints, so the loaded one
	 * can never win */
	for (int i = 0; i < 600; i++)
		cnt[lbt_flow(t)]++;
	assert_int_equal(cnt[0], 0);
	assert_true(cnt[1] > 200 && cnt[2] > 200);
	atomic_store(&busy->active, 0);
}

static void test_p2c_balances_open_flows(void **state)
{
	struct lbt *t = *state;
	static struct sl_lb_flow f[300];
	size_t cnt[N_EPS] = { 0 }, lo = SIZE_MAX, hi = 0;

	t->pol.lb = SL_POLICY_LB_LEAST_REQUEST;
	for (int i = 0; i < 300; i++) {
		const struct sl_endpoint *ep;
		uint64_t to;

		assert_int_equal(sl_lb_begin(&f[i], t->h, t->eps, t->n,
					     &t->pol), 0);
		assert_int_equal(sl_lb_pick(&f[i], &ep, &to), 0);
		sl_lb_report_success(&f[i]);
		cnt[ep - t->eps]++;
	}
	for (size_t i = 0; i < t->n; i++) {
		struct sl_health_ep *s = sl_health_ep(t->h, t->pol.host,
						      &t->eps[i].address,
						      t->eps[i].port);

		assert_int_equal(atomic_load(&s->active), cnt[i]);
		lo = cnt[i] < lo ? cnt[i] : lo;
		hi = cnt[i] > hi ? cnt[i] : hi;
	}
	/* p2c keeps the spread tiny (random would give ~+-25) */
	assert_true(hi - lo <= 6);
	for (int i = 0; i < 300; i++)
		sl_lb_end(&f[i]);
	for (size_t i = 0; i < t->n; i++) {
		struct sl_health_ep *s = sl_health_ep(t->h, t->pol.host,
						      &t->eps[i].address,
						      t->eps[i].port);

		assert_int_equal(atomic_load(&s->active), 0);
	}
}

static void test_circuit_breaker(void **state)
{
	struct lbt *t = *state;
	struct sl_lb_flow f[4];
	struct sl_health_stats st;
	struct sl_health_dest *d;

	t->pol.max_connections = 3;
	for (int i = 0; i < 3; i++)
		assert_int_equal(sl_lb_begin(&f[i], t->h, t->eps, t->n,
					     &t->pol), 0);
	assert_int_equal(sl_lb_begin(&f[3], t->h, t->eps, t->n, &t->pol),
			 -EBUSY);
	sl_lb_end(&f[3]); /* harmless after a refusal */
	assert_int_equal(sl_lb_begin(&f[3], t->h, t->eps, t->n, &t->pol),
			 -EBUSY);
	sl_health_get_stats(t->h, &st);
	assert_int_equal(st.overflows, 2);
	d = sl_health_dest(t->h, t->pol.host);
	assert_int_equal(atomic_load(&d->overflows), 2);
	assert_int_equal(atomic_load(&d->active), 3);
	/* one ends: room for one again (recovers) */
	sl_lb_end(&f[1]);
	sl_lb_end(&f[1]); /* idempotent */
	assert_int_equal(atomic_load(&d->active), 2);
	assert_int_equal(sl_lb_begin(&f[1], t->h, t->eps, t->n, &t->pol), 0);
	assert_int_equal(sl_lb_begin(&f[3], t->h, t->eps, t->n, &t->pol),
			 -EBUSY);
	for (int i = 0; i < 3; i++)
		sl_lb_end(&f[i]);
	assert_int_equal(atomic_load(&d->active), 0);
	/* another destination has its own cap */
	t->pol.host = "other.test.svc.cluster.local";
	assert_int_equal(sl_lb_begin(&f[0], t->h, t->eps, t->n, &t->pol), 0);
	sl_lb_end(&f[0]);
}

/* ---- retries ---------------------------------------------------------- */

/* run one flow where endpoints in @dead refuse; returns tries, -1 fail */
static int lbt_retry_flow(struct lbt *t, const bool *dead, size_t *used)
{
	const struct sl_endpoint *ep;
	struct sl_lb_flow f;
	uint64_t to;
	int tries = 0;

	assert_int_equal(sl_lb_begin(&f, t->h, t->eps, t->n, &t->pol), 0);
	for (;;) {
		if (sl_lb_pick(&f, &ep, &to) < 0) {
			sl_lb_end(&f);
			return -1;
		}
		if (used)
			used[tries] = (size_t)(ep - t->eps);
		tries++;
		if (!dead[ep - t->eps]) {
			sl_lb_report_success(&f);
			sl_lb_end(&f);
			return tries;
		}
		if (sl_lb_report_failure(&f, -ECONNREFUSED) < 0) {
			assert_int_equal(sl_lb_pick(&f, &ep, &to), -ENOENT);
			sl_lb_end(&f);
			return -tries - 1;
		}
	}
}

static void test_retry_skips_dead(void **state)
{
	struct lbt *t = *state;
	bool dead[N_EPS] = { true, false, false };
	struct sl_health_stats st;
	int retried = 0;

	t->pol.retry_attempts = 2;
	for (int i = 0; i < 200; i++) {
		int r = lbt_retry_flow(t, dead, NULL);

		assert_true(r == 1 || r == 2);
		retried += r == 2;
	}
	assert_true(retried > 0);
	sl_health_get_stats(t->h, &st);
	assert_int_equal(st.retries, (unsigned long)retried);
	assert_int_equal(st.failures, (unsigned long)retried);
}

static void test_retry_attempts_bound(void **state)
{
	struct lbt *t = *state;
	bool dead[N_EPS] = { true, true, true, true, true, true };
	size_t used[SL_LB_MAX_TRIES];

	t->n = 6;
	t->pol.retry_attempts = 2;
	/* 1 try + 2 retries, then the flow fails */
	assert_int_equal(lbt_retry_flow(t, dead, used), -3 - 1);
	assert_true(used[0] != used[1] && used[1] != used[2] &&
		    used[0] != used[2]);
	/* tcp routes: no retry */
	t->pol.retry_attempts = 0;
	assert_int_equal(lbt_retry_flow(t, dead, used), -1 - 1);
}

static void test_retry_excludes_tried(void **state)
{
	struct lbt *t = *state;
	bool dead[N_EPS] = { true, true, true };
	size_t used[SL_LB_MAX_TRIES];

	t->pol.lb = SL_POLICY_LB_RANDOM;
	t->pol.retry_attempts = 10; /* more than endpoints */
	for (int k = 0; k < 50; k++) {
		/* each endpoint exactly once, then out of endpoints */
		assert_int_equal(lbt_retry_flow(t, dead, used), -3 - 1);
		assert_true(used[0] != used[1] && used[1] != used[2] &&
			    used[0] != used[2]);
	}
	/* a live one among dead ones is always reached */
	dead[2] = false;
	for (int k = 0; k < 50; k++) {
		int r = lbt_retry_flow(t, dead, used);

		assert_true(r >= 1 && r <= 3);
		assert_int_equal(used[r - 1], 2);
	}
}

static void test_retry_timeouts(void **state)
{
	struct lbt *t = *state;
	const struct sl_endpoint *ep;
	struct sl_lb_flow f;
	uint64_t to = 0;

	assert_int_equal(sl_lb_begin(&f, t->h, t->eps, t->n, &t->pol), 0);
	assert_int_equal(sl_lb_pick(&f, &ep, &to), 0);
	assert_true(to == 10 * TM_SEC);
	/* one pick at a time: report first */
	assert_int_equal(sl_lb_pick(&f, &ep, &to), -ENOENT);
	sl_lb_end(&f);

	t->pol.connect_timeout_ns = 2 * TM_SEC;
	t->pol.per_try_timeout_ns = 0;
	assert_int_equal(sl_lb_begin(&f, t->h, t->eps, t->n, &t->pol), 0);
	assert_int_equal(sl_lb_pick(&f, &ep, &to), 0);
	assert_true(to == 2 * TM_SEC);
	sl_lb_end(&f);

	t->pol.per_try_timeout_ns = 1500 * TM_MS;
	t->pol.retry_attempts = 1;
	assert_int_equal(sl_lb_begin(&f, t->h, t->eps, t->n, &t->pol), 0);
	assert_int_equal(sl_lb_pick(&f, &ep, &to), 0);
	assert_true(to == 1500 * TM_MS);
	/* after success no retry is possible (bytes may flow) */
	sl_lb_report_success(&f);
	assert_int_equal(sl_lb_report_failure(&f, -ECONNRESET), -ENOENT);
	assert_int_equal(sl_lb_pick(&f, &ep, &to), -ENOENT);
	sl_lb_end(&f);
	assert_int_equal(sl_lb_begin(&f, t->h, t->eps, 0, &t->pol), -EINVAL);
}

static bool only_odd(const struct sl_endpoint *ep)
{
	return ntohl(ep->address.v4.s_addr) & 1;
}

static void test_filter(void **state)
{
	struct lbt *t = *state;
	size_t used[SL_LB_MAX_TRIES];
	const struct sl_endpoint *ep;
	struct sl_lb_flow f;
	uint64_t to;

	/* 198.18.0.1 .. .6: the filter keeps .1 .3 .5 */
	t->n = 6;
	for (int k = 0; k < 60; k++) {
		assert_int_equal(sl_lb_begin(&f, t->h, t->eps, t->n, &t->pol),
				 0);
		sl_lb_set_filter(&f, only_odd);
		assert_int_equal(sl_lb_pick(&f, &ep, &to), 0);
		assert_true(only_odd(ep));
		sl_lb_end(&f);
	}
	/* every usable one refuses: three tries, then nothing left */
	t->pol.retry_attempts = 10;
	assert_int_equal(sl_lb_begin(&f, t->h, t->eps, t->n, &t->pol), 0);
	sl_lb_set_filter(&f, only_odd);
	for (int k = 0; k < 3; k++) {
		assert_int_equal(sl_lb_pick(&f, &ep, &to), 0);
		used[k] = (size_t)(ep - t->eps);
		assert_true(only_odd(ep));
		assert_int_equal(sl_lb_report_failure(&f, -ECONNREFUSED),
				 k < 2 ? 0 : -ENOENT);
	}
	assert_true(used[0] != used[1] && used[1] != used[2] &&
		    used[0] != used[2]);
	assert_int_equal(sl_lb_pick(&f, &ep, &to), -ENOENT);
	sl_lb_end(&f);
}

/* ---- many workers at once ---------------------------------------------- */

struct lbt_thread {
	struct lbt *t;
	int id;
};

static void *lbt_worker(void *arg)
{
	struct lbt_thread *w = arg;
	struct sl_dest_policy pol = w->t->pol;
	char host[64];

	for (int k = 0; k < 20000; k++) {
		const struct sl_endpoint *ep;
		struct sl_lb_flow f;
		uint64_t to;

		/* 16 destinations shared by the threads */
		snprintf(host, sizeof(host), "h%d.test", (k + w->id) % 16);
		pol.host = host;
		pol.lb = (enum sl_policy_lb)(k % 3);
		if (sl_lb_begin(&f, w->t->h, w->t->eps, w->t->n, &pol))
			continue;
		if (sl_lb_pick(&f, &ep, &to) == 0) {
			if (k % 7 == 0)
				sl_lb_report_failure(&f, -ECONNREFUSED);
			else
				sl_lb_report_success(&f);
		}
		sl_lb_end(&f);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct lbt *t = *state;
	struct lbt_thread w[4];
	pthread_t th[4];
	struct sl_health_stats st;
	char host[64];

	t->n = N_EPS;
	t->pol.max_connections = 2;
	t->pol.outlier = true;
	t->pol.max_ejection_pct = 20;
	for (int i = 0; i < 4; i++) {
		w[i].t = t;
		w[i].id = i;
		assert_int_equal(pthread_create(&th[i], NULL, lbt_worker, &w[i]),
				 0);
	}
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	sl_health_get_stats(t->h, &st);
	assert_int_equal(st.endpoints, 16 * N_EPS); /* no duplicates */
	for (int d = 0; d < 16; d++) {
		snprintf(host, sizeof(host), "h%d.test", d);
		assert_int_equal(atomic_load(&sl_health_dest(t->h, host)->active),
				 0);
		for (size_t i = 0; i < t->n; i++)
			assert_int_equal(atomic_load(&sl_health_ep(t->h, host,
								   &t->eps[i].address,
								   t->eps[i].port)->active),
					 0);
	}
}

/* ---- sl_config_route: policy and the weighted split -------------------- */

static void test_route_policy(void **state)
{
	char *dir = tm_canary_dir();
	struct sl_config_errors errs = { 0 };
	const struct sl_endpoint *eps;
	struct sl_dest_policy pol;
	struct sl_config *cfg;
	struct sl_ip vip, wl;
	bool seen_v1 = false, seen_v2 = false;
	size_t n;

	(void)state;
	if (sl_config_load_dir(dir, "node-a", &cfg, &errs) < 0) {
		sl_config_errors_print(&errs, stderr);
		fail();
	}
	assert_int_equal(sl_ip_parse("198.19.0.20", &vip), 0);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(sl_config_route(cfg, NULL, &vip, 9080, &eps,
						 &n, &pol), 0);
		assert_non_null(pol.host);
		assert_string_equal(pol.host, "reviews.default.svc.cluster.local");
		assert_int_equal(pol.port, 9080);
		assert_true(pol.connect_timeout_ns == 2 * TM_SEC);
		/* tcp.idleTimeout wins over http.idleTimeout at L4 */
		assert_true(pol.idle_timeout_ns == 90 * TM_SEC);
		assert_true(pol.outlier);
		assert_int_equal(pol.consecutive_errors, 3);
		assert_int_equal(pol.max_ejection_pct, 50);
		assert_true(pol.base_ejection_ns == 30 * TM_SEC);
		assert_int_equal(pol.retry_attempts, 3);
		assert_true(pol.per_try_timeout_ns == 1500 * TM_MS);
		assert_non_null(pol.subset);
		if (!strcmp(pol.subset, "v1")) {
			seen_v1 = true;
			assert_int_equal(n, 2);
			assert_int_equal(pol.lb, SL_POLICY_LB_ROUND_ROBIN);
			assert_int_equal(pol.max_connections, 1000);
		} else {
			assert_string_equal(pol.subset, "v2");
			seen_v2 = true;
			assert_int_equal(n, 1);
			assert_int_equal(pol.lb, SL_POLICY_LB_RANDOM);
			assert_int_equal(pol.max_connections, 100);
		}
	}
	assert_true(seen_v1 && seen_v2);
	/* a workload address: defaults, no host */
	assert_int_equal(sl_ip_parse("198.18.1.20", &wl), 0);
	assert_int_equal(sl_config_route(cfg, NULL, &wl, 9080, &eps, &n,
					 &pol), 0);
	assert_null(pol.host);
	assert_int_equal(pol.retry_attempts, 0);
	assert_int_equal(pol.lb, SL_POLICY_LB_LEAST_REQUEST);
	/* unknown */
	assert_int_equal(sl_ip_parse("198.19.9.9", &wl), 0);
	assert_int_equal(sl_config_route(cfg, NULL, &wl, 9080, &eps, &n,
					 &pol), -ENOENT);
	sl_config_put(cfg);
	tm_rmrf(dir);
}

static void test_route_90_10_over_1000(void **state)
{
	char *dir = tm_canary_dir();
	struct sl_config_errors errs = { 0 };
	const struct sl_endpoint *eps;
	struct sl_dest_policy pol;
	struct sl_config *cfg;
	size_t n, v1 = 0, v2 = 0, by_ip[3] = { 0 };
	struct sl_ip vip, ip_v2;

	(void)state;
	if (sl_config_load_dir(dir, "node-a", &cfg, &errs) < 0) {
		sl_config_errors_print(&errs, stderr);
		fail();
	}
	assert_int_equal(sl_ip_parse("198.19.0.20", &vip), 0);
	assert_int_equal(sl_ip_parse("198.18.2.21", &ip_v2), 0);
	for (int i = 0; i < 1000; i++) {
		const struct sl_endpoint *ep;
		struct sl_lb_flow f;
		struct sl_health *h = NULL;
		uint64_t to;

		assert_int_equal(sl_config_route(cfg, NULL, &vip, 9080, &eps,
						 &n, &pol), 0);
		if (!strcmp(pol.subset, "v1"))
			v1++;
		else
			v2++;
		/* and through the balancer: the endpoint is of that subset */
		assert_int_equal(sl_health_new(tm_clock, NULL, &h), 0);
		assert_int_equal(sl_lb_begin(&f, h, eps, n, &pol), 0);
		assert_int_equal(sl_lb_pick(&f, &ep, &to), 0);
		assert_int_equal(ep->port, 9080);
		if (sl_ip_equal(&ep->address, &ip_v2))
			by_ip[2]++;
		else
			by_ip[0]++;
		sl_lb_end(&f);
		sl_health_free(h);
	}
	/* exact would be 900 / 100; allow +-2 */
	assert_true(v1 >= 898 && v1 <= 902);
	assert_true(v2 >= 98 && v2 <= 102);
	assert_int_equal(by_ip[2], v2);
	assert_int_equal(by_ip[0], v1);
	sl_config_put(cfg);
	tm_rmrf(dir);
}

/* connectionPool.tcp maxConnectionDuration and tcpKeepalive reach the
 * policy; portLevelSettings override field by field */
static void test_route_duration_keepalive(void **state)
{
	char *dir = tm_mkdtemp();
	struct sl_config_errors errs = { 0 };
	const struct sl_endpoint *eps;
	struct sl_dest_policy pol;
	struct sl_config *cfg;
	struct sl_ip vip;
	size_t n;

	(void)state;
	tm_write(dir, "services.yaml",
		 "apiVersion: v1\n"
		 "kind: Service\n"
		 "metadata: {name: reviews, namespace: default}\n"
		 "spec:\n"
		 "  clusterIP: 198.19.0.20\n"
		 "  selector: {app: reviews}\n"
		 "  ports:\n"
		 "  - {name: http, port: 9080, targetPort: 9080, protocol: TCP}\n"
		 "  - {name: tls, port: 9443, targetPort: 9443, protocol: TCP}\n");
	tm_write(dir, "workloads.yaml", tm_canary_workloads);
	tm_write(dir, "dr.yaml",
		 "apiVersion: networking.istio.io/v1\n"
		 "kind: DestinationRule\n"
		 "metadata: {name: reviews, namespace: default}\n"
		 "spec:\n"
		 "  host: reviews\n"
		 "  trafficPolicy:\n"
		 "    connectionPool:\n"
		 "      tcp:\n"
		 "        maxConnectionDuration: 2s\n"
		 "        tcpKeepalive: {probes: 3, time: 30s, interval: 5s}\n"
		 "    portLevelSettings:\n"
		 "    - port: {number: 9443}\n"
		 "      connectionPool:\n"
		 "        tcp:\n"
		 "          maxConnectionDuration: 90m\n"
		 "          tcpKeepalive: {time: 7.9s}\n");
	if (sl_config_load_dir(dir, "node-a", &cfg, &errs) < 0) {
		sl_config_errors_print(&errs, stderr);
		fail();
	}
	assert_int_equal(sl_ip_parse("198.19.0.20", &vip), 0);
	assert_int_equal(sl_config_route(cfg, NULL, &vip, 9080, &eps, &n,
					 &pol), 0);
	assert_true(pol.max_duration_ns == 2 * TM_SEC);
	assert_true(pol.keepalive);
	assert_int_equal(pol.keepalive_probes, 3);
	assert_int_equal(pol.keepalive_time_s, 30);
	assert_int_equal(pol.keepalive_interval_s, 5);
	assert_true(pol.idle_timeout_ns == 0); /* the daemon's default */
	/* port level: its own duration and time (whole seconds), the rest
	 * inherited */
	assert_int_equal(sl_config_route(cfg, NULL, &vip, 9443, &eps, &n,
					 &pol), 0);
	assert_true(pol.max_duration_ns == 90 * 60 * TM_SEC);
	assert_true(pol.keepalive);
	assert_int_equal(pol.keepalive_probes, 3);
	assert_int_equal(pol.keepalive_time_s, 7);
	assert_int_equal(pol.keepalive_interval_s, 5);
	sl_config_put(cfg);
	/* without a DestinationRule: neither */
	tm_write(dir, "dr.yaml", "");
	if (sl_config_load_dir(dir, "node-a", &cfg, &errs) < 0) {
		sl_config_errors_print(&errs, stderr);
		fail();
	}
	assert_int_equal(sl_config_route(cfg, NULL, &vip, 9080, &eps, &n,
					 &pol), 0);
	assert_true(pol.max_duration_ns == 0);
	assert_false(pol.keepalive);
	sl_config_put(cfg);
	tm_rmrf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_is_least_request),
		cmocka_unit_test_setup_teardown(test_round_robin_cycles,
						lbt_setup, lbt_teardown),
		cmocka_unit_test_setup_teardown(test_random_spreads,
						lbt_setup, lbt_teardown),
		cmocka_unit_test_setup_teardown(test_p2c_prefers_less_loaded,
						lbt_setup, lbt_teardown),
		cmocka_unit_test_setup_teardown(test_p2c_balances_open_flows,
						lbt_setup, lbt_teardown),
		cmocka_unit_test_setup_teardown(test_circuit_breaker,
						lbt_setup, lbt_teardown),
		cmocka_unit_test_setup_teardown(test_retry_skips_dead,
						lbt_setup, lbt_teardown),
		cmocka_unit_test_setup_teardown(test_retry_attempts_bound,
						lbt_setup, lbt_teardown),
		cmocka_unit_test_setup_teardown(test_retry_excludes_tried,
						lbt_setup, lbt_teardown),
		cmocka_unit_test_setup_teardown(test_retry_timeouts,
						lbt_setup, lbt_teardown),
		cmocka_unit_test_setup_teardown(test_filter, lbt_setup,
						lbt_teardown),
		cmocka_unit_test_setup_teardown(test_threads, lbt_setup,
						lbt_teardown),
		cmocka_unit_test(test_route_policy),
		cmocka_unit_test(test_route_90_10_over_1000),
		cmocka_unit_test(test_route_duration_keepalive),
	};

	sl_log_init("test-lb", SL_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Retry decisions (http/retry.c): retryOn parsing and its errors, Istio's
 * default policy, which outcomes each condition retries (Envoy's rules),
 * backoff bounds, and the retry budget, also under threads. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/retry.h"

static void test_default(void **state)
{
	struct sl_retry_policy p, q;

	(void)state;
	sl_retry_default(&p);
	assert_int_equal(p.attempts, 2);
	assert_int_equal(p.on, SL_RETRY_ON_CONNECT_FAILURE | SL_RETRY_ON_REFUSED_STREAM |
			       SL_RETRY_ON_STATUS_CODES);
	assert_int_equal(p.ignored, SL_RETRY_IGN_UNAVAILABLE | SL_RETRY_IGN_CANCELLED);
	/* 503 and nothing else among the statuses */
	for (int s = 100; s < 600; s++)
		assert_int_equal(sl_retry_should(&p, s, SL_RETRY_F_NONE), s == 503);
	assert_true(sl_retry_should(&p, 0, SL_RETRY_F_CONNECT_FAILURE));
	assert_false(sl_retry_should(&p, 0, SL_RETRY_F_RESET));
	assert_false(sl_retry_should(&p, 0, SL_RETRY_F_TIMEOUT));
	/* no retryOn, or an empty one, is the default with the attempts given */
	assert_int_equal(sl_retry_parse(NULL, 5, &q, NULL, 0), 0);
	assert_int_equal(q.attempts, 5);
	q.attempts = 2;
	assert_memory_equal(&p, &q, sizeof(p));
	assert_int_equal(sl_retry_parse("", 2, &q, NULL, 0), 0);
	assert_memory_equal(&p, &q, sizeof(p));
}

static void test_parse(void **state)
{
	struct sl_retry_policy p;

	(void)state;
	assert_int_equal(sl_retry_parse("5xx,gateway-error,reset,connect-failure,"
					"refused-stream,retriable-4xx,retriable-status-codes",
					3, &p, NULL, 0), 0);
	assert_int_equal(p.attempts, 3);
	assert_int_equal(p.on, SL_RETRY_ON_5XX | SL_RETRY_ON_GATEWAY_ERROR |
			       SL_RETRY_ON_RESET | SL_RETRY_ON_CONNECT_FAILURE |
			       SL_RETRY_ON_REFUSED_STREAM | SL_RETRY_ON_RETRIABLE_4XX |
			       SL_RETRY_ON_STATUS_CODES);
	assert_int_equal(p.ignored, 0);
	/* retriable-status-codes without codes: replaces the default, so
	 * 503 is not in it */
	assert_int_equal(sl_retry_parse("retriable-status-codes", 1, &p, NULL, 0), 0);
	assert_false(sl_retry_should(&p, 503, SL_RETRY_F_NONE));

	/* bare codes imply retriable-status-codes */
	assert_int_equal(sl_retry_parse("503,429,100,511,503", 1, &p, NULL, 0), 0);
	assert_int_equal(p.on, SL_RETRY_ON_STATUS_CODES);
	for (int s = 100; s < 600; s++)
		assert_int_equal(sl_retry_should(&p, s, SL_RETRY_F_NONE),
				 s == 503 || s == 429 || s == 100 || s == 511);
	/* every code Go's http.StatusText knows, as Istio's validation */
	static const int known[] = {
		100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226,
		300, 301, 302, 303, 304, 305, 307, 308, 400, 401, 402, 403, 404, 405,
		406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 421,
		422, 423, 424, 425, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504,
		505, 506, 507, 508, 510, 511,
	};
	size_t k = 0;

	for (int c = 0; c < 1000; c++) {
		char tok[8];
		bool want = k < sizeof(known) / sizeof(known[0]) && known[k] == c;

		snprintf(tok, sizeof(tok), "%03d", c);
		if ((sl_retry_parse(tok, 1, &p, NULL, 0) == 0) != want)
			fail_msg("code %s: want %s", tok, want ? "accepted" : "refused");
		if (want) {
			assert_true(sl_retry_should(&p, c, SL_RETRY_F_NONE));
			k++;
		}
	}
	assert_int_equal(k, sizeof(known) / sizeof(known[0]));
	assert_false(sl_retry_should(&p, 0, SL_RETRY_F_CONNECT_FAILURE));

	/* gRPC and HTTP/3 conditions: accepted, reported, no effect */
	assert_int_equal(sl_retry_parse("cancelled,deadline-exceeded,internal,"
					"resource-exhausted,unavailable,http3-post-connect-failure",
					1, &p, NULL, 0), 0);
	assert_int_equal(p.on, 0);
	assert_int_equal(p.ignored, SL_RETRY_IGN_CANCELLED | SL_RETRY_IGN_DEADLINE_EXCEEDED |
				    SL_RETRY_IGN_INTERNAL | SL_RETRY_IGN_RESOURCE_EXHAUSTED |
				    SL_RETRY_IGN_UNAVAILABLE | SL_RETRY_IGN_HTTP3_POST_CONNECT);
	for (int s = 100; s < 600; s++)
		assert_false(sl_retry_should(&p, s, SL_RETRY_F_NONE));
}

static void parse_fails(const char *s, int ret, const char *msg)
{
	struct sl_retry_policy p;
	char err[128] = "";

	assert_int_equal(sl_retry_parse(s, 1, &p, err, sizeof(err)), ret);
	assert_string_equal(err, msg);
}

static void test_parse_errors(void **state)
{
	(void)state;
	parse_fails("5xx,bogus", -EINVAL, "retryOn: unknown condition \"bogus\"");
	parse_fails("5XX", -EINVAL, "retryOn: unknown condition \"5XX\"");
	parse_fails("gateway-error;reset", -EINVAL,
		    "retryOn: unknown condition \"gateway-error;reset\"");
	parse_fails("5xx,600", -EINVAL, "retryOn: not a status code: \"600\"");
	parse_fails("599", -EINVAL, "retryOn: not a status code: \"599\"");
	parse_fails("306", -EINVAL, "retryOn: not a status code: \"306\"");
	/* Istio's validation trims nothing and allows no empty element */
	parse_fails("5xx, reset", -EINVAL, "retryOn: unknown condition \" reset\"");
	parse_fails("5xx ", -EINVAL, "retryOn: unknown condition \"5xx \"");
	parse_fails("5xx,", -EINVAL, "retryOn: empty condition \"\"");
	parse_fails(",5xx", -EINVAL, "retryOn: empty condition \"\"");
	parse_fails("5xx,,reset", -EINVAL, "retryOn: empty condition \"\"");
	parse_fails("99", -EINVAL, "retryOn: not a status code: \"99\"");
	parse_fails("0503", -EINVAL, "retryOn: not a status code: \"0503\"");
	parse_fails("50x", -EINVAL, "retryOn: unknown condition \"50x\"");
	parse_fails("503 504", -EINVAL, "retryOn: unknown condition \"503 504\"");
	parse_fails("5030", -EINVAL, "retryOn: not a status code: \"5030\"");
	parse_fails("envoy-ratelimited", -ENOTSUP,
		    "retryOn: condition not supported by sluice: \"envoy-ratelimited\"");
	parse_fails("reset,retriable-headers", -ENOTSUP,
		    "retryOn: condition not supported by sluice: \"retriable-headers\"");
	parse_fails("reset-before-request", -ENOTSUP,
		    "retryOn: condition not supported by sluice: \"reset-before-request\"");
	assert_int_equal(sl_retry_parse("5xx", 1, NULL, NULL, 0), -EINVAL);
}

/* one condition at a time: which outcomes it retries */
static void test_should(void **state)
{
	static const struct {
		const char *on;
		bool reset, connect, timeout;
		int statuses[4];
	} cases[] = {
		{ "5xx", true, true, true, { -5 } },            /* -5: all of 5xx */
		{ "gateway-error", true, true, true, { 502, 503, 504 } },
		{ "reset", true, true, true, { 0 } },
		{ "connect-failure", false, true, false, { 0 } },
		{ "refused-stream", false, false, false, { 0 } },
		{ "retriable-4xx", false, false, false, { 409 } },
		{ "retriable-status-codes,418", false, false, false, { 418 } },
	};
	struct sl_retry_policy p;

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		assert_int_equal(sl_retry_parse(cases[c].on, 1, &p, NULL, 0), 0);
		assert_int_equal(sl_retry_should(&p, 0, SL_RETRY_F_RESET), cases[c].reset);
		assert_int_equal(sl_retry_should(&p, 0, SL_RETRY_F_CONNECT_FAILURE),
				 cases[c].connect);
		assert_int_equal(sl_retry_should(&p, 0, SL_RETRY_F_TIMEOUT), cases[c].timeout);
		assert_false(sl_retry_should(&p, 0, SL_RETRY_F_NONE));
		assert_false(sl_retry_should(&p, 0, (enum sl_retry_failure)42));
		for (int s = 100; s < 600; s++) {
			bool want = false;

			for (int k = 0; k < 4; k++)
				want |= cases[c].statuses[k] == s ||
					(cases[c].statuses[k] == -5 && s >= 500);
			if (sl_retry_should(&p, s, SL_RETRY_F_NONE) != want)
				fail_msg("retryOn %s, status %d: want %d", cases[c].on, s, want);
		}
	}
	assert_false(sl_retry_should(NULL, 503, SL_RETRY_F_NONE));
}

static void test_backoff(void **state)
{
	static const uint64_t ms = 1000000;
	static const uint64_t bound[] = { 0, 25 * ms, 50 * ms, 100 * ms, 200 * ms, 250 * ms,
					  250 * ms };

	(void)state;
	for (uint32_t r = 1; r <= 6; r++) {
		uint64_t maxv = 0;

		/* the top of the range is reached and never passed */
		assert_int_equal(sl_retry_backoff_ns(r, bound[r] - 1), bound[r] - 1);
		assert_int_equal(sl_retry_backoff_ns(r, bound[r]), 0);
		assert_int_equal(sl_retry_backoff_ns(r, 0), 0);
		for (uint64_t x = 1; x < 100000; x++) {
			uint64_t v = sl_retry_backoff_ns(r, x * 0x9e3779b97f4a7c15ull);

			assert_true(v < bound[r]);
			if (v > maxv)
				maxv = v;
		}
		/* full jitter spreads over the whole range */
		assert_true(maxv > bound[r] * 9 / 10);
	}
	assert_true(sl_retry_backoff_ns(UINT32_MAX, UINT64_MAX) < 250 * ms);
	assert_true(sl_retry_backoff_ns(0, UINT64_MAX) < 25 * ms);
	/* another base: doubles up to 10 times it */
	assert_int_equal(sl_retry_backoff_base_ns(100 * ms, 1, 100 * ms - 1), 100 * ms - 1);
	assert_int_equal(sl_retry_backoff_base_ns(100 * ms, 1, 100 * ms), 0);
	assert_int_equal(sl_retry_backoff_base_ns(100 * ms, 4, 800 * ms - 1), 800 * ms - 1);
	assert_int_equal(sl_retry_backoff_base_ns(100 * ms, 5, 1000 * ms - 1), 1000 * ms - 1);
	assert_int_equal(sl_retry_backoff_base_ns(100 * ms, 5, 1000 * ms), 0);
	assert_int_equal(sl_retry_backoff_base_ns(100 * ms, 40, 1000 * ms), 0);
	assert_int_equal(sl_retry_backoff_base_ns(0, 3, 12345), 0);
	assert_true(sl_retry_backoff_base_ns(UINT64_MAX / 3, 60, UINT64_MAX - 1) < UINT64_MAX);
}

static void test_budget(void **state)
{
	struct sl_retry_budget b;

	(void)state;
	sl_retry_budget_init(&b, 20, 3);
	/* no active request: the minimum still applies */
	for (int i = 0; i < 3; i++)
		assert_true(sl_retry_budget_take(&b));
	assert_false(sl_retry_budget_take(&b));
	assert_int_equal(atomic_load(&b.overflow), 1);
	sl_retry_budget_put(&b);
	assert_true(sl_retry_budget_take(&b));
	/* 30 active: 20 % is 6 */
	for (int i = 0; i < 30; i++)
		sl_retry_budget_req_begin(&b);
	for (int i = 0; i < 3; i++)
		assert_true(sl_retry_budget_take(&b));
	assert_false(sl_retry_budget_take(&b));
	/* 24 active: 4.8 rounds down to 4, below the 6 in flight */
	for (int i = 0; i < 6; i++)
		sl_retry_budget_req_end(&b);
	assert_false(sl_retry_budget_take(&b));
	for (int i = 0; i < 2; i++)
		sl_retry_budget_put(&b);
	assert_false(sl_retry_budget_take(&b));
	sl_retry_budget_put(&b);
	assert_true(sl_retry_budget_take(&b));
	assert_int_equal(atomic_load(&b.overflow), 4);

	/* the process budget: 20 %, minimum 3 */
	struct sl_retry_budget *pb = sl_retry_budget_process();

	assert_int_equal(pb->percent, 20);
	assert_int_equal(pb->min, 3);
	assert_ptr_equal(pb, sl_retry_budget_process());
	sl_retry_budget_init(&b, 150, 0);
	assert_int_equal(b.percent, 100);
}

#define THREADS 4
#define ROUNDS 20000

static struct sl_retry_budget shared;
static atomic_int max_seen;

static void *hammer(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		if (sl_retry_budget_take(&shared)) {
			int now = (int)atomic_load(&shared.retries);
			int m = atomic_load(&max_seen);

			while (now > m && !atomic_compare_exchange_weak(&max_seen, &m, now))
				;
			sl_retry_budget_put(&shared);
		}
	}
	return NULL;
}

/* concurrent takers never exceed the limit, and every take is put back */
static void test_budget_threads(void **state)
{
	pthread_t t[THREADS];

	(void)state;
	sl_retry_budget_init(&shared, 20, 2);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer, NULL), 0);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_true(atomic_load(&max_seen) <= 2);
	assert_int_equal(atomic_load(&shared.retries), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_should),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_budget_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

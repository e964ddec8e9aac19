/* SPDX-License-Identifier: Apache-2.0 */
/* Retry decisions of a VirtualService `retries` block (issue 26), as Envoy
 * makes them for Istio: retryOn parsing, Istio's default policy, whether
 * an attempt's outcome is retried, the backoff between attempts and the
 * process-wide retry budget.  No I/O, no allocation. */
#ifndef SL_RETRY_H
#define SL_RETRY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* retryOn conditions (Envoy's x-envoy-retry-on names) */
#define SL_RETRY_ON_5XX            (1u << 0) /* any 5xx, and reset,
                                                connect failure, timeout */
#define SL_RETRY_ON_GATEWAY_ERROR  (1u << 1) /* 502, 503, 504, and reset,
                                                connect failure, timeout */
#define SL_RETRY_ON_RESET          (1u << 2) /* no response: reset,
                                                connect failure, timeout */
#define SL_RETRY_ON_CONNECT_FAILURE (1u << 3) /* the connection failed */
#define SL_RETRY_ON_REFUSED_STREAM (1u << 4) /* HTTP/2 REFUSED_STREAM: never
                                                happens on HTTP/1.1 */
#define SL_RETRY_ON_RETRIABLE_4XX  (1u << 5) /* 409 */
#define SL_RETRY_ON_STATUS_CODES   (1u << 6) /* retriable-status-codes:
                                                the codes of the policy */

/* gRPC conditions (Envoy's x-envoy-retry-grpc-on) and HTTP/3 ones that
 * Istio accepts in retryOn: meaningless for HTTP/1.1, kept so that the
 * config can warn */
#define SL_RETRY_IGN_CANCELLED          (1u << 0)
#define SL_RETRY_IGN_DEADLINE_EXCEEDED  (1u << 1)
#define SL_RETRY_IGN_INTERNAL           (1u << 2)
#define SL_RETRY_IGN_RESOURCE_EXHAUSTED (1u << 3)
#define SL_RETRY_IGN_UNAVAILABLE        (1u << 4)
#define SL_RETRY_IGN_HTTP3_POST_CONNECT (1u << 5)

/* Istio's default number of retries */
#define SL_RETRY_DEFAULT_ATTEMPTS 2

/**
 * struct sl_retry_policy - a parsed retryOn
 * @attempts: retries after the first try (Istio's `attempts`; 0: none)
 * @on: SL_RETRY_ON_*
 * @ignored: SL_RETRY_IGN_*: conditions given that never apply here
 * @codes: retriable status codes, bit (code - 100) for 100..599
 */
struct sl_retry_policy {
	uint32_t attempts;
	unsigned on;
	unsigned ignored;
	uint64_t codes[8];
};

/* the outcome of an attempt without a response */
enum sl_retry_failure {
	SL_RETRY_F_NONE = 0,        /* a response came: look at its status */
	SL_RETRY_F_RESET,           /* the upstream closed or reset before a
	                               complete response head (Envoy UC) */
	SL_RETRY_F_CONNECT_FAILURE, /* no connection (refused, TLS failed,
	                               connect timeout; Envoy UF) */
	SL_RETRY_F_TIMEOUT,         /* perTryTimeout expired (not the route
	                               timeout, which is never retried) */
};

/**
 * sl_retry_default - Istio's policy for a route without `retries` (and
 * for `retries` without retryOn, with the attempts given):
 * "connect-failure,refused-stream,unavailable,cancelled,
 * retriable-status-codes" with status 503, 2 attempts
 */
void sl_retry_default(struct sl_retry_policy *p);

/**
 * sl_retry_parse - parse a retryOn string as Istio does
 * @retry_on: comma-separated conditions and bare status codes ("503"),
 *            nothing else (Istio's validation: no spaces, no empty
 *            element); NULL or "": the default conditions and codes of
 *            sl_retry_default()
 * @attempts: the route's `attempts`, copied
 * @p: filled
 * @err, @errlen: on failure, a message naming the bad token
 * A bare code adds retriable-status-codes, as Istio does.
 * @retval 0; -EINVAL an unknown or empty token, or a code Istio does not
 *         know (it takes those of Go's http.StatusText);
 *         -ENOTSUP a condition Istio accepts that sluice does not do
 *         (envoy-ratelimited, retriable-headers, reset-before-request)
 */
int sl_retry_parse(const char *retry_on, uint32_t attempts,
		   struct sl_retry_policy *p, char *err, size_t errlen);

/**
 * sl_retry_should - whether an attempt's outcome is one to retry (the
 * caller checks attempts left, the budget, and that the request can be
 * replayed)
 * @p: the policy
 * @status: the response status, 0 without a response
 * @failure: why there is no response, SL_RETRY_F_NONE with one
 */
bool sl_retry_should(const struct sl_retry_policy *p, int status,
		     enum sl_retry_failure failure);

/* Envoy's default backoff: base 25 ms, doubled per retry, at most 10 times
 * the base (250 ms) */
#define SL_RETRY_BACKOFF_BASE_NS 25000000ull
#define SL_RETRY_BACKOFF_MAX_NS  250000000ull

/**
 * sl_retry_backoff_ns - wait before retry number @retry (1 for the first)
 * @rnd: a uniform random number
 * @retval full jitter: uniform in [0, min(25 ms * 2^(retry-1), 250 ms))
 */
uint64_t sl_retry_backoff_ns(uint32_t retry, uint64_t rnd);

/* the same with another base (Istio's `retries.backoff`): at most 10 times
 * @base_ns, as Envoy's max_interval default; 0 for a base of 0 */
uint64_t sl_retry_backoff_base_ns(uint64_t base_ns, uint32_t retry, uint64_t rnd);

/**
 * struct sl_retry_budget - Envoy's retry budget: retries in flight may be
 * at most @percent % of the active requests, but always @min.  Lock-free;
 * one per process (sl_retry_budget_process()), or one per test.
 */
struct sl_retry_budget {
	atomic_uint_fast64_t active;   /* client requests in flight */
	atomic_uint_fast64_t retries;  /* retries in flight */
	atomic_uint_fast64_t overflow; /* retries refused, a counter */
	unsigned percent;
	unsigned min;
};

#define SL_RETRY_BUDGET_PERCENT 20
#define SL_RETRY_BUDGET_MIN     3

/* @percent (0..100) and @min concurrent retries; zeroes the counts */
void sl_retry_budget_init(struct sl_retry_budget *b, unsigned percent, unsigned min);

/* the process-wide budget: 20 %, at least 3 */
struct sl_retry_budget *sl_retry_budget_process(void);

/* a client request starts / ends (the retries it makes do not count) */
void sl_retry_budget_req_begin(struct sl_retry_budget *b);
void sl_retry_budget_req_end(struct sl_retry_budget *b);

/**
 * sl_retry_budget_take - reserve a retry
 * @retval true: the retry may go; call sl_retry_budget_put() when it ends
 * @retval false: over budget (counted in b->overflow); do not retry
 */
bool sl_retry_budget_take(struct sl_retry_budget *b);
void sl_retry_budget_put(struct sl_retry_budget *b);

#endif

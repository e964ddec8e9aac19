/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Endpoint selection, circuit breaking and connect-time retries for one
 * outbound flow.
 *
 * sl_config_route() picks the destination (weighted routes) and gives its
 * candidate endpoints and policy; this module picks the endpoint within it:
 *   LEAST_REQUEST (default): power of two random choices over the active
 *                  flows of each endpoint (the less loaded of two wins);
 *   ROUND_ROBIN:   a per-destination cursor shared by all workers;
 *   RANDOM:        uniform.
 * Ejected endpoints (outlier.h) are skipped unless every untried endpoint
 * is ejected (then one of them is used rather than failing the flow) or
 * fewer than minHealthPercent are healthy.  Endpoint weights are not used
 * within a destination.
 *
 * Circuit breaking: connectionPool.tcp.maxConnections caps the flows of a
 * destination host (connecting or established); sl_lb_begin() refuses a
 * flow at the cap (-EBUSY, counted).
 *
 * The retry contract: the caller calls sl_lb_pick(), connects with the
 * returned per-try timeout, and reports the result.  On a connect failure
 * (refused, reset, timed out: before any byte of the flow has been read
 * from the client's socket and forwarded) it calls sl_lb_report_failure()
 * and, when that returns 0, sl_lb_pick() again: another endpoint, never
 * one already tried, up to 1 + retries.attempts tries (http[] routes:
 * Istio's default 2 retries; tcp[] routes and plain services: no retry).
 * Once the caller has started relaying it must not retry: the flow then
 * belongs to the endpoint it reported success for.
 *
 * A struct sl_lb_flow is used by one thread at a time; the state it points
 * to is shared.
 */
#ifndef SL_DAEMON_LB_H
#define SL_DAEMON_LB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outlier.h"
#include "policy_query.h"

#define SL_LB_MAX_TRIES 16 /* 1 + retries, whatever the config says */

/** sl_lb_filter_fn - may this endpoint be used at all (e.g. only mesh
 * workloads)?  Endpoints it rejects are never picked nor counted. */
typedef bool (*sl_lb_filter_fn)(const struct sl_endpoint *ep);

/** the endpoint choice of one flow (caller-owned, e.g. in its flow) */
struct sl_lb_flow {
	sl_lb_filter_fn filter;		/* NULL: every endpoint */
	struct sl_health *h;
	struct sl_dest_policy pol;	/* copy; strings point into the config */
	const struct sl_endpoint *eps;	/* candidates (in the config snapshot) */
	size_t n;
	struct sl_health_dest *dest;	/* NULL without a named host */
	struct sl_health_ep *cur;	/* picked endpoint, or NULL */
	size_t cur_idx;
	unsigned int tries;		/* picks made */
	unsigned int max_tries;
	size_t tried[SL_LB_MAX_TRIES];
	bool slot;			/* holds a circuit-breaker slot */
	bool connected;			/* success reported */
	bool quiet_success;		/* a successful connect does not reset
					 * the endpoint's consecutive errors
					 * (the HTTP engine's legs: responses
					 * decide there) */
};

/**
 * sl_lb_begin - start choosing an endpoint for a new flow
 * @f: caller storage, initialised here
 * @h: the shared health table
 * @eps, @n: candidate endpoints (from sl_config_route); must stay valid
 *           (the caller holds the config reference) until sl_lb_end()
 * @pol: the destination's policy (copied)
 * @retval 0; -EBUSY when the destination is at maxConnections (the flow
 *         must be refused; counted); -EINVAL when @n is 0; -ENOMEM.
 *         After 0 the caller must call sl_lb_end().
 */
int sl_lb_begin(struct sl_lb_flow *f, struct sl_health *h,
		const struct sl_endpoint *eps, size_t n,
		const struct sl_dest_policy *pol);

/** sl_lb_set_filter - restrict the candidates of @f (before the first pick) */
void sl_lb_set_filter(struct sl_lb_flow *f, sl_lb_filter_fn filter);

/**
 * sl_lb_pick - choose the endpoint of the next connect attempt
 * @ep: the endpoint (in the snapshot)
 * @timeout_ns: connect timeout of this try (perTryTimeout, else
 *              connectTimeout, default 10 s)
 * @retval 0; -ENOENT when the tries are used up or every (usable) endpoint
 *         was tried
 */
int sl_lb_pick(struct sl_lb_flow *f, const struct sl_endpoint **ep,
	       uint64_t *timeout_ns);

/**
 * sl_lb_report_success - the connect to the picked endpoint succeeded; the
 * flow keeps its circuit-breaker slot and active count until sl_lb_end()
 * and no longer points into the config snapshot (@f->eps, @f->pol.host are
 * cleared), so it may outlive the caller's config reference (e.g. be handed
 * to the relay)
 */
void sl_lb_report_success(struct sl_lb_flow *f);

/**
 * sl_lb_report_failure - the connect to the picked endpoint failed
 * @err: negative errno of the failure; -ECONNREFUSED, -ECONNRESET,
 *       -ETIMEDOUT, -ECANCELED (timeout), -EHOSTUNREACH, -ENETUNREACH
 *       count for outlier detection, others (local errors) do not
 * @retval 0 when another try is allowed (call sl_lb_pick), -ENOENT when not
 */
int sl_lb_report_failure(struct sl_lb_flow *f, int err);

/**
 * sl_lb_rand - 64 random bits from this thread's xorshift64* stream (seeded
 * from getrandom; not for secrets): endpoint choice, weighted routes and
 * fault percentages of the HTTP engine
 */
uint64_t sl_lb_rand(void);

/** sl_lb_end - the flow is over: release its slot and active count;
 * NULL-safe and idempotent */
void sl_lb_end(struct sl_lb_flow *f);

#endif /* SL_DAEMON_LB_H */

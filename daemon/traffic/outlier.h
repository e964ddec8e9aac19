/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Endpoint health: the per-endpoint and per-destination state sluiced
 * keeps outside the immutable config snapshot (active flows, consecutive
 * connect failures, outlier ejections, circuit-breaker counters), and the
 * outlier-detection rules that act on it.
 *
 * State is keyed by (destination host, address, port) and by destination
 * host, shared by every worker (atomics; lookups are lock-free, inserts
 * take a mutex) and independent of config generations: an endpoint keeps
 * its counters and ejection across reloads.  sl_health_gc() (run on every
 * config swap) removes the endpoint entries that nobody looked up since
 * the previous pass, that no flow uses and that are not ejected, so
 * endpoints that left the config do not pile up; an entry removed while
 * still in the config is simply re-created on its next use.  Destination
 * (host) entries live until the table is freed.
 *
 * Outlier detection (the L4 analogue of Istio's outlierDetection): every
 * refused, reset or timed-out connect counts as one consecutive gateway
 * error; at consecutiveGatewayErrors / consecutive5xxErrors (the smaller
 * one set; default 5) the endpoint is ejected for
 * baseEjectionTime x (number of ejections), capped at 300 s (Envoy's
 * max_ejection_time default; at least baseEjectionTime).  The ejection
 * count decays by one for every outlierDetection.interval the endpoint
 * spends un-ejected.  No ejection happens when it would raise the ejected
 * share of the destination's endpoints to maxEjectionPercent or beyond
 * (as in Envoy, one ejection is allowed when none is ejected and the
 * percentage is non-zero).  A successful connect resets the consecutive
 * count.  Ejected endpoints return by themselves when the time is up.
 * When fewer than minHealthPercent of the endpoints are healthy, the load
 * balancer ignores ejections (Istio semantics).
 */
#ifndef SL_DAEMON_OUTLIER_H
#define SL_DAEMON_OUTLIER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "policy_query.h"

/** a monotonic clock in nanoseconds; tests inject their own */
typedef uint64_t (*sl_clock_fn)(void *arg);

/** per-endpoint state; the pointer is stable for the table's life */
struct sl_health_ep {
	atomic_uint active;	     /* flows connecting or established */
	atomic_uint consecutive;     /* consecutive connect failures */
	atomic_uint ejections;	     /* ejection multiplier */
	_Atomic uint64_t ejected_until; /* monotonic ns; 0: never ejected */
	atomic_ulong failures;	     /* total connect failures */
	atomic_ulong ejected_total;  /* total ejections */
};

/** per-destination (host) state */
struct sl_health_dest {
	atomic_uint active;	/* flows holding a circuit-breaker slot */
	atomic_uint rr;		/* ROUND_ROBIN cursor */
	atomic_ulong overflows; /* flows refused by maxConnections */
	/* the HTTP engine's circuit breakers (connectionPool.http) */
	atomic_uint rq_active;	/* requests in progress */
	atomic_uint rq_pending; /* requests waiting for a new connection */
	atomic_uint rq_retries; /* requests being retried */
};

/** table-wide counters, for metrics */
struct sl_health_stats {
	unsigned long endpoints;   /* endpoint entries */
	unsigned long ejections;   /* ejections so far */
	unsigned long overflows;   /* circuit-breaker refusals */
	unsigned long retries;	   /* connect retries */
	unsigned long failures;	   /* connect failures */
	unsigned long collected;   /* endpoint entries removed by sl_health_gc */
	unsigned long retired;	   /* of those, not yet freed (grace period) */
};

struct sl_health;

/**
 * sl_health_new - create an empty state table
 * @clock: time source (NULL: CLOCK_MONOTONIC); @clock_arg its argument
 * @out: the table; free with sl_health_free()
 * @retval 0 or -ENOMEM
 */
int sl_health_new(sl_clock_fn clock, void *clock_arg, struct sl_health **out);

/** sl_health_free - free the table and every entry; NULL-safe.  No flow
 * may still use it. */
void sl_health_free(struct sl_health *h);

/* a removed entry is freed this long after sl_health_gc() unlinked it (and
 * only once no flow holds it): lookups walk the chains without a lock and
 * may still be on it; they take microseconds */
#define SL_HEALTH_GC_GRACE_NS (60ull * 1000000000ull)

/**
 * sl_health_gc - garbage-collect endpoint entries (call periodically, e.g.
 * on each config reload; takes the table's mutex)
 * An endpoint entry is unlinked when it was not looked up since the
 * previous pass (sl_health_ep marks it used), no flow holds it (active 0)
 * and it is not ejected at the table's current time; it is freed by a
 * later pass once SL_HEALTH_GC_GRACE_NS have passed and active is still 0.
 * Entries are looked up for every candidate endpoint of every new flow, so
 * entries of endpoints in use stay; ejected endpoints stay until they
 * return.
 * @retval the number of entries unlinked by this pass
 */
size_t sl_health_gc(struct sl_health *h);

/** sl_health_now - the table's clock, in ns */
uint64_t sl_health_now(const struct sl_health *h);

/**
 * sl_health_ep - the state of endpoint @addr:@port of destination @host
 * (NULL: a flow without a named destination), created on first use
 * @retval the entry, or NULL on ENOMEM
 */
struct sl_health_ep *sl_health_ep(struct sl_health *h, const char *host,
				  const struct sl_ip *addr, uint16_t port);

/**
 * sl_health_dest - the state of destination @host (not NULL), created on
 * first use
 * @retval the entry, or NULL on ENOMEM
 */
struct sl_health_dest *sl_health_dest(struct sl_health *h, const char *host);

/** sl_health_ejected - is @ep ejected at time @now? */
bool sl_health_ejected(const struct sl_health_ep *ep, uint64_t now);

/** sl_outlier_success - a connect to @ep succeeded: reset its count */
void sl_outlier_success(struct sl_health_ep *ep);

/**
 * sl_outlier_failure - a connect to endpoint @idx of @eps failed
 * @pol: the destination's policy (ejection only when pol->outlier)
 * @eps, @n: every endpoint of the destination (for maxEjectionPercent)
 * @retval true when this failure ejected the endpoint
 */
bool sl_outlier_failure(struct sl_health *h, const struct sl_dest_policy *pol,
			const struct sl_endpoint *eps, size_t n, size_t idx,
			uint64_t now);

/**
 * sl_health_count_retry - count one connect retry (metrics)
 */
void sl_health_count_retry(struct sl_health *h);

/** sl_health_count_overflow - count one circuit-breaker refusal */
void sl_health_count_overflow(struct sl_health *h);

/** sl_health_get_stats - read the table-wide counters */
void sl_health_get_stats(const struct sl_health *h, struct sl_health_stats *st);

#endif /* SL_DAEMON_OUTLIER_H */

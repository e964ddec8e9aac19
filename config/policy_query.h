/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Traffic-management view of a resolved flow: where sl_config_resolve()
 * sends it plus the DestinationRule traffic policy and VirtualService
 * retries that apply to that destination.  Owned by the traffic-management
 * work (daemon/traffic/lb.c); reads the config module's private model.
 */
#ifndef SL_CONFIG_POLICY_QUERY_H
#define SL_CONFIG_POLICY_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/** DestinationRule trafficPolicy.loadBalancer.simple */
enum sl_policy_lb {
	SL_POLICY_LB_LEAST_REQUEST = 0, /* default (Istio: LEAST_REQUEST) */
	SL_POLICY_LB_ROUND_ROBIN,
	SL_POLICY_LB_RANDOM,
};

/* defaults (Istio/Envoy values, sluice choices where Istio has none) */
#define SL_POLICY_CONNECT_TIMEOUT_NS (10ull * 1000000000ull)
#define SL_POLICY_IDLE_TIMEOUT_NS (3600ull * 1000000000ull) /* daemon default */
#define SL_POLICY_CONSECUTIVE_ERRORS 5u
#define SL_POLICY_OUTLIER_INTERVAL_NS (10ull * 1000000000ull)
#define SL_POLICY_BASE_EJECTION_NS (30ull * 1000000000ull)
#define SL_POLICY_MAX_EJECTION_NS (300ull * 1000000000ull)
#define SL_POLICY_MAX_EJECTION_PCT 10u
#define SL_POLICY_HTTP_RETRIES 2u

/**
 * The effective policy of one destination (host, subset, port), defaults
 * filled in.  Subset-level then port-level settings override the
 * DestinationRule's top-level ones field by field (a zero field inherits).
 */
struct sl_dest_policy {
	const char *host;   /* FQDN, points into the snapshot; NULL for a
			       workload address or a passthrough destination */
	const char *subset; /* subset name or NULL */
	uint16_t port;	    /* the destination's service port (0 unknown) */
	enum sl_policy_lb lb;
	uint32_t max_connections;     /* 0: unlimited */
	uint64_t connect_timeout_ns;  /* 0: the caller's default (sl_lb_pick:
					 10 s) */
	uint64_t idle_timeout_ns;     /* connectionPool.tcp.idleTimeout, else
					 connectionPool.http.idleTimeout; 0:
					 the daemon's default (1 h) */
	uint64_t max_duration_ns;     /* tcp.maxConnectionDuration; 0: none */
	bool keepalive;		      /* tcp.tcpKeepalive present: SO_KEEPALIVE
					 on the upstream socket */
	uint32_t keepalive_probes;    /* TCP_KEEPCNT; 0: kernel default */
	uint32_t keepalive_time_s;    /* TCP_KEEPIDLE; 0: kernel default */
	uint32_t keepalive_interval_s; /* TCP_KEEPINTVL; 0: kernel default */
	bool outlier;		      /* outlierDetection present */
	uint32_t consecutive_errors;  /* min of gateway / 5xx; default 5 */
	uint64_t outlier_interval_ns; /* default 10 s */
	uint64_t base_ejection_ns;    /* default 30 s */
	uint64_t max_ejection_ns;     /* cap of base * n; 300 s */
	uint32_t max_ejection_pct;    /* default 10 */
	uint32_t min_health_pct;      /* default 0 */
	uint32_t retry_attempts;      /* retries after the first try */
	uint64_t per_try_timeout_ns;  /* 0: use connect_timeout_ns */
	uint64_t route_timeout_ns;    /* VirtualService http[].timeout; 0 */
	bool tls_disable;	      /* trafficPolicy.tls.mode DISABLE:
					 plaintext to the endpoints */
	/* connectionPool.http (the HTTP engine; 0: unlimited / default) */
	uint32_t http1_max_pending;   /* requests waiting for a connection */
	uint32_t http2_max_requests;  /* requests in progress (Istio: the
					 max concurrent requests, any HTTP) */
	uint32_t max_requests_per_conn; /* then the connection is closed */
	uint32_t max_retries;	      /* retries in progress */
	uint64_t http_idle_timeout_ns; /* an idle upstream connection closes */
	/* outlierDetection split (the HTTP engine counts responses) */
	uint32_t consecutive_5xx, consecutive_gateway;
};

/**
 * sl_config_route - sl_config_resolve() plus the destination's policy
 * @cfg, @src, @dst, @port, @eps, @n_eps: as for sl_config_resolve() (the
 *      weighted destination is chosen the same way, advancing the route's
 *      round robin once)
 * @pol: filled with the effective policy of the chosen destination;
 *       pointers in it are valid while the caller holds @cfg
 * Retries: a VirtualService http[] route without a retries block gets
 * Istio's default of 2 attempts; "retries: {attempts: 0}" cannot be told
 * apart from no block (the model keeps no presence flag) and also gets 2
 * unless perTryTimeout or retryOn is set.  tcp[] routes and destinations
 * without a VirtualService get 0 retries.
 * @retval 0, or -ENOENT as sl_config_resolve()
 */
int sl_config_route(const struct sl_config *cfg, const struct sl_workload *src,
		    const struct sl_ip *dst, uint16_t port,
		    const struct sl_endpoint **eps, size_t *n_eps,
		    struct sl_dest_policy *pol);

/**
 * sl_dest_policy_default - fill @pol with the defaults (no DestinationRule,
 * no VirtualService, @host NULL)
 */
void sl_dest_policy_default(struct sl_dest_policy *pol);

#endif /* SL_CONFIG_POLICY_QUERY_H */

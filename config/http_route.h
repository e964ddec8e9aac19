/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-request route choice for HTTP/1.1 (issue 26): which traffic is HTTP
 * (Istio's protocol selection) and, for one request, the VirtualService
 * http[] rule it takes, the weighted route[] entry and its endpoints, with
 * the policies that apply.  The daemon's HTTP engine (daemon/l7/) calls
 * these per request; connection-level routing stays sl_config_route().
 */
#ifndef SL_CONFIG_HTTP_ROUTE_H
#define SL_CONFIG_HTTP_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "http/match.h" /* struct sl_http_req_view, sl_http_header_ops */
#include "policy_query.h"

enum sl_app_proto {
	SL_PROTO_TCP = 0, /* everything that is not HTTP: the L4 path */
	SL_PROTO_HTTP,	  /* HTTP/1.1: the HTTP engine */
	SL_PROTO_HTTP2,	  /* http2, grpc, grpc-web: L4 until HTTP/2 lands */
};

/**
 * sl_config_port_protocol - Istio's protocol selection for traffic to
 * @dst:@port
 * A VIP: the port of its Service or ServiceEntry.  A workload address: the
 * port of a Service (or ServiceEntry with a workloadSelector) in the
 * workload's namespace whose selector selects it and whose target port on
 * that workload is @port (the first such host by name).
 * A Service port: appProtocol when Istio knows the value (http, http2,
 * grpc, grpc-web, https, tcp, tls, mongo, mysql, redis, udp;
 * kubernetes.io/h2c is http2, kubernetes.io/ws and kubernetes.io/wss are
 * http), else the port name, or its part before the first '-' ("grpc-web"
 * whole); case-insensitive.  A ServiceEntry port: its protocol.
 * @src: the source workload (unused: every host is visible to every
 *       source), may be NULL
 * @retval SL_PROTO_HTTP for http, SL_PROTO_HTTP2 for http2, grpc and
 *         grpc-web, else SL_PROTO_TCP (also when nothing is known)
 */
enum sl_app_proto sl_config_port_protocol(const struct sl_config *cfg,
					  const struct sl_workload *src,
					  const struct sl_ip *dst,
					  uint16_t port);

/** sl_app_proto_name - "tcp", "http", "http2" */
const char *sl_app_proto_name(enum sl_app_proto p);

/**
 * struct sl_http_route - where one request goes and how.  Pointers point
 * into the snapshot: valid while the caller holds the config.
 * @rule: index in the VirtualService's http[] of the rule taken; -1: no
 *        VirtualService (the default route)
 * @rule_name: http[].name or NULL
 * @host: FQDN of the host the request was addressed to (its VIP), NULL for
 *        a workload address
 * @eps, @n_eps: the chosen destination's endpoints (as sl_config_resolve:
 *        port 0 means the original destination port, address family 0 the
 *        original destination address)
 * @dest: index in the rule's route[] of the chosen entry, -1 without rule
 * @pol: the policy of the chosen destination as sl_config_route() fills it
 * @timeout_ns: http[].timeout, 0: none
 * @has_retries: the rule has a retries block; false: Istio's default
 *        policy applies (the engine's choice; @retry_* are then 0/NULL)
 * @retry_on: retryOn as written, NULL: Istio's default
 * @fault_*: http[].fault; a percentage of 0 with a delay/status means
 *        never; fault_delay_ns / fault_abort_status 0: no such fault
 * @req, @resp: the rule's headers.request / headers.response
 * @dest_req, @dest_resp: the chosen route[] entry's
 */
struct sl_http_route {
	int rule;
	const char *rule_name;
	const char *host;
	const struct sl_endpoint *eps;
	size_t n_eps;
	int dest;
	struct sl_dest_policy pol;
	uint64_t timeout_ns;
	bool has_retries;
	uint32_t retry_attempts;
	uint64_t per_try_timeout_ns;
	const char *retry_on;
	uint64_t fault_delay_ns;
	double fault_delay_pct;
	uint32_t fault_abort_status;
	double fault_abort_pct;
	struct sl_http_header_ops req, resp;
	struct sl_http_header_ops dest_req, dest_resp;
	/* http[].rewrite: @rewrite_uri replaces @rewrite_prefix (the matched
	 * block's uri prefix; NULL: the whole path when it matched exactly,
	 * else the leading "/"), @rewrite_authority the Host */
	const char *rewrite_uri, *rewrite_prefix, *rewrite_authority;
	bool rewrite_exact;
	/* http[].redirect (code 0: none) and directResponse (status 0:
	 * none): the engine answers, nothing goes upstream */
	uint32_t redirect_code;
	const char *redirect_uri, *redirect_authority, *redirect_scheme;
	uint32_t redirect_port;
	uint32_t direct_status;
	const char *direct_body;
	/* http[].mirror: a copy of the request goes to these endpoints
	 * (@mirror_n_eps 0: none) for @mirror_pct % of the requests */
	const struct sl_endpoint *mirror_eps;
	size_t mirror_n_eps;
	struct sl_dest_policy mirror_pol;
	double mirror_pct;
};

/**
 * sl_config_http_route - the route of one request to @dst:@port
 * @src: the source workload, may be NULL (then sourceLabels and
 *       sourceNamespace conditions do not hold)
 * @req: the request; its port is taken from @port, not from @req
 * @rnd: uniform random: the weighted route[] entry is the first whose
 *       cumulative weight exceeds @rnd % 100 (weights sum to 100), per
 *       request, unlike sl_config_route()'s per-connection round robin
 * @out: filled (also on -ENOENT after a rule was chosen: @rule and the
 *       rule's settings say what was chosen)
 * The VirtualService of the host whose VIP is @dst applies when it has
 * http[] rules: the first rule whose match[] holds is taken (a rule
 * without match[] takes everything).  Without one (or with tcp[] rules
 * only) the default route is the host's endpoints at @port.  A workload
 * address routes to that workload.
 * A rule with redirect or directResponse has no destination: 0 with
 * @redirect_code or @direct_status set and no endpoints.
 * @retval 0; -ENOENT nothing known at @dst:@port, or the destination has
 *         no endpoints; -ESRCH a VirtualService applies but no http[] rule
 *         matched (Istio answers 404, response flag NR)
 */
int sl_config_http_route(const struct sl_config *cfg,
			 const struct sl_workload *src, const struct sl_ip *dst,
			 uint16_t port, const struct sl_http_req_view *req,
			 uint32_t rnd, struct sl_http_route *out);

#endif /* SL_CONFIG_HTTP_ROUTE_H */

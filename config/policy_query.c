/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sl_config_route(): the resolved destination of a flow with its
 * DestinationRule traffic policy and VirtualService retry settings.
 * Routing itself stays in resolve.c (sl_config_resolve); this file finds
 * which host/subset the returned endpoint set belongs to and merges the
 * policies that apply to it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"
#include "policy_query.h"

void sl_dest_policy_default(struct sl_dest_policy *pol)
{
	memset(pol, 0, sizeof(*pol));
	pol->lb = SL_POLICY_LB_LEAST_REQUEST;
	pol->consecutive_errors = SL_POLICY_CONSECUTIVE_ERRORS;
	pol->outlier_interval_ns = SL_POLICY_OUTLIER_INTERVAL_NS;
	pol->base_ejection_ns = SL_POLICY_BASE_EJECTION_NS;
	pol->max_ejection_ns = SL_POLICY_MAX_EJECTION_NS;
	pol->max_ejection_pct = SL_POLICY_MAX_EJECTION_PCT;
}

static const struct sl_epset *sl_pq_set_of(const struct sl_host *h,
					   const struct sl_endpoint *eps)
{
	for (size_t i = 0; h && i < h->n_sets; i++)
		if (h->sets[i].eps == eps)
			return &h->sets[i];
	return NULL;
}

/* a nonzero field of @tp overrides */
static void sl_pq_apply_one(struct sl_dest_policy *pol,
			    const struct sl_traffic_policy *tp)
{
	if (tp->tls != SL_TLS_UNSET)
		pol->tls_disable = tp->tls == SL_TLS_DISABLE;
	switch (tp->lb) {
	case SL_LB_ROUND_ROBIN:
		pol->lb = SL_POLICY_LB_ROUND_ROBIN;
		break;
	case SL_LB_RANDOM:
		pol->lb = SL_POLICY_LB_RANDOM;
		break;
	case SL_LB_LEAST_REQUEST:
		pol->lb = SL_POLICY_LB_LEAST_REQUEST;
		break;
	case SL_LB_DEFAULT:
		break;
	}
	if (tp->max_connections)
		pol->max_connections = tp->max_connections;
	if (tp->connect_timeout_ns)
		pol->connect_timeout_ns = tp->connect_timeout_ns;
	/* an L4 flow is a TCP connection: tcp.idleTimeout first */
	if (tp->tcp_idle_timeout_ns)
		pol->idle_timeout_ns = tp->tcp_idle_timeout_ns;
	else if (tp->idle_timeout_ns)
		pol->idle_timeout_ns = tp->idle_timeout_ns;
	if (tp->max_duration_ns)
		pol->max_duration_ns = tp->max_duration_ns;
	if (tp->http1_max_pending)
		pol->http1_max_pending = tp->http1_max_pending;
	if (tp->http2_max_requests)
		pol->http2_max_requests = tp->http2_max_requests;
	if (tp->max_requests_per_conn)
		pol->max_requests_per_conn = tp->max_requests_per_conn;
	if (tp->max_retries)
		pol->max_retries = tp->max_retries;
	if (tp->idle_timeout_ns)
		pol->http_idle_timeout_ns = tp->idle_timeout_ns;
	if (tp->has_keepalive) {
		pol->keepalive = true;
		if (tp->ka_probes)
			pol->keepalive_probes = tp->ka_probes;
		if (tp->ka_time_s)
			pol->keepalive_time_s = tp->ka_time_s;
		if (tp->ka_interval_s)
			pol->keepalive_interval_s = tp->ka_interval_s;
	}
	if (!tp->has_outlier)
		return;
	pol->outlier = true;
	if (tp->consecutive_5xx)
		pol->consecutive_5xx = tp->consecutive_5xx;
	if (tp->consecutive_gateway)
		pol->consecutive_gateway = tp->consecutive_gateway;
	if (tp->consecutive_gateway && tp->consecutive_5xx)
		pol->consecutive_errors = tp->consecutive_gateway < tp->consecutive_5xx ?
			tp->consecutive_gateway : tp->consecutive_5xx;
	else if (tp->consecutive_gateway || tp->consecutive_5xx)
		pol->consecutive_errors = tp->consecutive_gateway |
					  tp->consecutive_5xx;
	if (tp->outlier_interval_ns)
		pol->outlier_interval_ns = tp->outlier_interval_ns;
	if (tp->base_ejection_ns)
		pol->base_ejection_ns = tp->base_ejection_ns;
	if (tp->max_ejection_pct)
		pol->max_ejection_pct = tp->max_ejection_pct;
	if (tp->min_health_pct)
		pol->min_health_pct = tp->min_health_pct;
}

/* @tp then its portLevelSettings for @port */
static void sl_pq_apply(struct sl_dest_policy *pol,
			const struct sl_traffic_policy *tp, uint16_t port)
{
	if (!tp)
		return;
	sl_pq_apply_one(pol, tp);
	for (size_t i = 0; i < tp->n_ports; i++)
		if (tp->ports[i].port == port && tp->ports[i].tp)
			sl_pq_apply_one(pol, tp->ports[i].tp);
}

void sl_cfg_rule_policy(struct sl_dest_policy *pol,
			const struct sl_vs_rule *rule)
{
	if (!rule || rule->tcp)
		return;
	pol->route_timeout_ns = rule->timeout_ns;
	pol->per_try_timeout_ns = rule->retry_per_try_ns;
	if (rule->retry_attempts || rule->retry_per_try_ns || rule->retry_on)
		pol->retry_attempts = rule->retry_attempts;
	else
		pol->retry_attempts = SL_POLICY_HTTP_RETRIES;
}

void sl_cfg_dest_policy(struct sl_dest_policy *pol, const struct sl_host *th,
			const struct sl_epset *set)
{
	pol->host = th->name;
	pol->port = set->svc_port;
	if (!th->dr)
		return;
	sl_pq_apply(pol, th->dr->tp, set->svc_port);
	if (set->subset >= 0 && (size_t)set->subset < th->dr->n_subsets) {
		const struct sl_subset *sub = &th->dr->subsets[set->subset];

		pol->subset = sub->name;
		sl_pq_apply(pol, sub->tp, set->svc_port);
	}
}

SL_EXPORT int sl_config_route(const struct sl_config *cfg,
			      const struct sl_workload *src,
			      const struct sl_ip *dst, uint16_t port,
			      const struct sl_endpoint **eps, size_t *n_eps,
			      struct sl_dest_policy *pol)
{
	const struct sl_epset *set = NULL;
	const struct sl_host *th = NULL;
	struct sl_vs_rule *rule = NULL;
	struct sl_host *h;
	int ret;

	sl_dest_policy_default(pol);
	ret = sl_config_resolve(cfg, src, dst, port, eps, n_eps);
	if (ret < 0)
		return ret;
	h = sl_cfg_vip_host(cfg, dst);
	if (!h)
		return 0; /* a workload address: defaults */
	rule = h->vs ? sl_cfg_rule_for(h->vs, port) : NULL;
	sl_cfg_rule_policy(pol, rule);
	set = sl_pq_set_of(h, *eps);
	if (set) {
		th = h;
	} else if (rule) {
		for (size_t i = 0; i < rule->n_dests && !set; i++) {
			set = sl_pq_set_of(rule->dests[i].host, *eps);
			th = rule->dests[i].host;
		}
	}
	if (!set)
		return 0; /* passthrough */
	sl_cfg_dest_policy(pol, th, set);
	return 0;
}

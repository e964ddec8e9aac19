/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Istio's protocol selection (sl_config_port_protocol) and the per-request
 * route of an HTTP request (sl_config_http_route): the VirtualService's
 * http[] rules evaluated in order on the request (http/match.h), the
 * weighted route[] entry chosen from the caller's random number, and the
 * same destination policy sl_config_route() gives a connection.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "config_internal.h"
#include "http_route.h"

#define SL_RES(cfg, k, T, i) ((T *)(cfg)->res.v[k][i])

/* Istio's protocol names (pilot protocol.Parse, case-insensitive), by the
 * path sluice gives them; -1 for a name Istio does not know */
static int sl_proto_parse(const char *s, size_t n)
{
	static const struct {
		const char *name;
		enum sl_app_proto p;
	} t[] = {
		{ "http", SL_PROTO_HTTP },     { "http2", SL_PROTO_HTTP2 },
		{ "grpc", SL_PROTO_HTTP2 },    { "grpc-web", SL_PROTO_HTTP2 },
		{ "https", SL_PROTO_TCP },     { "tcp", SL_PROTO_TCP },
		{ "tls", SL_PROTO_TCP },       { "mongo", SL_PROTO_TCP },
		{ "mysql", SL_PROTO_TCP },     { "redis", SL_PROTO_TCP },
		{ "udp", SL_PROTO_TCP },       { "http_proxy", SL_PROTO_TCP },
	};

	for (size_t i = 0; s && i < SL_ARRAY_SIZE(t); i++)
		if (strlen(t[i].name) == n && strncasecmp(s, t[i].name, n) == 0)
			return (int)t[i].p;
	return -1;
}

/* a Kubernetes Service port: appProtocol when Istio knows it, else the
 * port name's prefix */
static enum sl_app_proto sl_svc_port_proto(const struct sl_svc_port *p)
{
	const char *ap = p->app_protocol, *name = p->name, *dash;
	int r;

	if (ap) {
		if (!strcmp(ap, "kubernetes.io/h2c"))
			return SL_PROTO_HTTP2;
		if (!strcmp(ap, "kubernetes.io/ws"))
			return SL_PROTO_HTTP;
		r = sl_proto_parse(ap, strlen(ap));
		if (r >= 0)
			return (enum sl_app_proto)r;
	}
	if (!name)
		return SL_PROTO_TCP;
	/* "grpc-web" holds a '-': checked before the prefix rule */
	if (strncasecmp(name, "grpc-web", 8) == 0)
		return SL_PROTO_HTTP2;
	dash = strchr(name, '-');
	r = sl_proto_parse(name, dash ? (size_t)(dash - name) : strlen(name));
	return r >= 0 ? (enum sl_app_proto)r : SL_PROTO_TCP;
}

static enum sl_app_proto sl_port_proto(const struct sl_host *h,
				       const struct sl_svc_port *p)
{
	int r;

	if (h->def->kind == SL_K_SERVICE)
		return sl_svc_port_proto(p);
	/* ServiceEntry: ports[].protocol only, as Istio */
	r = p->protocol ? sl_proto_parse(p->protocol, strlen(p->protocol)) : -1;
	return r >= 0 ? (enum sl_app_proto)r : SL_PROTO_TCP;
}

/* does host @h select WorkloadEntry @we (Service selector or ServiceEntry
 * workloadSelector, same namespace)? */
static bool sl_host_selects(const struct sl_host *h, const struct sl_we *we)
{
	const struct sl_label *sel;
	size_t n_sel;

	if (h->def->kind == SL_K_SERVICE) {
		const struct sl_svc *svc = (const struct sl_svc *)h->def;

		if (!svc->has_selector || !svc->n_selector)
			return false;
		sel = svc->selector;
		n_sel = svc->n_selector;
	} else {
		const struct sl_se *se = (const struct sl_se *)h->def;

		if (!se->has_selector)
			return false;
		sel = se->selector;
		n_sel = se->n_selector;
	}
	return !strcmp(h->ns, we->r.ns) &&
	       sl_labels_match(sel, n_sel, we->labels, we->n_labels);
}

enum sl_app_proto sl_config_port_protocol(const struct sl_config *cfg,
					  const struct sl_workload *src,
					  const struct sl_ip *dst,
					  uint16_t port)
{
	const struct sl_workload *wl;
	const struct sl_host *h;
	const struct sl_we *we;

	(void)src;
	if (!cfg || !dst)
		return SL_PROTO_TCP;
	h = sl_cfg_vip_host(cfg, dst);
	if (h) {
		for (size_t i = 0; i < h->n_ports; i++)
			if (h->ports[i].port == port)
				return sl_port_proto(h, &h->ports[i]);
		return SL_PROTO_TCP;
	}
	wl = sl_config_workload_by_ip(cfg, dst);
	if (!wl)
		return SL_PROTO_TCP;
	we = SL_RES(cfg, SL_K_WORKLOADENTRY, struct sl_we,
		    (size_t)(wl - cfg->workloads));
	for (size_t i = 0; i < cfg->n_hosts; i++) {
		h = &cfg->hosts[i];
		if (!sl_host_selects(h, we))
			continue;
		for (size_t j = 0; j < h->n_ports; j++)
			if (sl_cfg_target_port(&h->ports[j], we->ports,
					       we->n_ports) == port)
				return sl_port_proto(h, &h->ports[j]);
	}
	return SL_PROTO_TCP;
}

bool sl_cfg_host_has_http(const struct sl_host *h)
{
	for (size_t p = 0; h && p < h->n_ports; p++)
		if (sl_port_proto(h, &h->ports[p]) == SL_PROTO_HTTP)
			return true;
	return false;
}

static bool sl_ops_any(const struct sl_http_header_ops *o)
{
	return o->n_set || o->n_add || o->n_remove;
}

void sl_cfg_http_warn(struct sl_config *cfg)
{
	for (size_t i = 0; i < cfg->res.n[SL_K_VIRTUALSERVICE]; i++) {
		const struct sl_vs *vs = SL_RES(cfg, SL_K_VIRTUALSERVICE,
						struct sl_vs, i);
		bool http = false;

		for (size_t j = 0; j < vs->n_hosts && !http; j++)
			http = sl_cfg_host_has_http(sl_cfg_host_find(cfg,
								     vs->hosts[j]));
		if (http)
			continue;
		for (size_t r = 0; r < vs->n_rules; r++) {
			const struct sl_vs_rule *rule = &vs->rules[r];

			bool l7 = false;

			if (rule->tcp)
				continue;
			if (rule->has_match)
				sl_pos_err(&cfg->warns, &rule->match_pos,
					   "has no effect: " SL_CFG_NO_HTTP_PORT);
			l7 = rule->timeout_ns || rule->retry_on ||
			     rule->fault_delay_ns || rule->fault_abort_status ||
			     rule->rewrite_uri || rule->rewrite_authority ||
			     rule->redirect_code || rule->direct_status ||
			     rule->mirror ||
			     sl_ops_any(&rule->req_hdrs) ||
			     sl_ops_any(&rule->resp_hdrs);
			for (size_t k = 0; k < rule->n_dests && !l7; k++)
				l7 = sl_ops_any(&rule->dests[k].req_hdrs) ||
				     sl_ops_any(&rule->dests[k].resp_hdrs);
			if (l7)
				sl_pos_err(&cfg->warns, &rule->pos,
					   "has no effect in part: " SL_CFG_NO_HTTP_PORT_L7);
		}
	}
}

const char *sl_app_proto_name(enum sl_app_proto p)
{
	switch (p) {
	case SL_PROTO_HTTP:
		return "http";
	case SL_PROTO_HTTP2:
		return "http2";
	case SL_PROTO_TCP:
		break;
	}
	return "tcp";
}

/* Istio drops, per listener port and proxy, the match blocks whose port,
 * sourceLabels or sourceNamespace rule it out, and a rule left without
 * blocks; a VirtualService left without rules does not apply (the host's
 * default route does) */
static bool sl_block_applies(const struct sl_http_match *m,
			     const struct sl_http_req_view *v)
{
	struct sl_http_match only = {
		.port = m->port,
		.src_labels = m->src_labels,
		.n_src_labels = m->n_src_labels,
		.src_ns = m->src_ns,
	};

	return sl_http_match_eval(&only, v);
}

static bool sl_rule_applies(const struct sl_vs_rule *r,
			    const struct sl_http_req_view *v)
{
	if (r->tcp)
		return false;
	if (!r->n_matches)
		return true;
	for (size_t i = 0; i < r->n_matches; i++)
		if (sl_block_applies(&r->matches[i], v))
			return true;
	return false;
}

static void sl_route_from_rule(struct sl_http_route *out,
			       const struct sl_vs_rule *r)
{
	out->rule_name = r->name;
	out->timeout_ns = r->timeout_ns;
	out->has_retries = r->has_retries;
	out->retry_attempts = r->retry_attempts;
	out->per_try_timeout_ns = r->retry_per_try_ns;
	out->retry_on = r->retry_on;
	out->fault_delay_ns = r->fault_delay_ns;
	out->fault_delay_pct = r->fault_delay_pct;
	out->fault_abort_status = r->fault_abort_status;
	out->fault_abort_pct = r->fault_abort_pct;
	out->req = r->req_hdrs;
	out->resp = r->resp_hdrs;
	out->rewrite_uri = r->rewrite_uri;
	out->rewrite_authority = r->rewrite_authority;
	out->redirect_code = r->redirect_code;
	out->redirect_uri = r->redirect_uri;
	out->redirect_authority = r->redirect_authority;
	out->redirect_scheme = r->redirect_scheme;
	out->redirect_port = r->redirect_port;
	out->direct_status = r->direct_status;
	out->direct_body = r->direct_body;
}

/* what rewrite.uri replaces: the uri prefix of the block that matched
 * (Envoy's prefix_rewrite), the whole path for an exact one */
static void sl_route_rewrite_base(struct sl_http_route *out,
				  const struct sl_vs_rule *r,
				  const struct sl_http_req_view *v)
{
	for (size_t i = 0; i < r->n_matches; i++) {
		const struct sl_http_match *m = &r->matches[i];

		if (!sl_http_match_eval(m, v))
			continue;
		if (m->uri.kind == SL_SM_PREFIX)
			out->rewrite_prefix = m->uri.value;
		else if (m->uri.kind == SL_SM_EXACT ||
			 m->uri.kind == SL_SM_REGEX)
			out->rewrite_exact = true;
		return;
	}
}

/* the route[] entry for @rnd: cumulative weights over 0..99 */
static size_t sl_pick_dest(const struct sl_vs_rule *r, uint32_t rnd)
{
	uint32_t x = rnd % 100, cum = 0;

	for (size_t i = 0; i < r->n_dests; i++) {
		cum += r->dests[i].weight;
		if (x < cum)
			return i;
	}
	return r->n_dests - 1; /* weights sum to 100: not reached */
}

/* endpoints of @set of @th (or the passthrough endpoint) into @out */
static int sl_route_eps(const struct sl_config *cfg, struct sl_http_route *out,
			const struct sl_host *th, int subset, uint16_t tport)
{
	const struct sl_epset *set;

	if (th->passthrough) {
		out->eps = &cfg->passthrough_ep;
		out->n_eps = 1;
		return 0;
	}
	set = sl_cfg_epset(th, subset, tport);
	if (!set || !set->n)
		return -ENOENT;
	out->eps = set->eps;
	out->n_eps = set->n;
	sl_cfg_dest_policy(&out->pol, th, set);
	return 0;
}

int sl_config_http_route(const struct sl_config *cfg,
			 const struct sl_workload *src, const struct sl_ip *dst,
			 uint16_t port, const struct sl_http_req_view *req,
			 uint32_t rnd, struct sl_http_route *out)
{
	struct sl_http_req_view v;
	const struct sl_workload *wl;
	const struct sl_vs_rule *rule = NULL;
	const struct sl_vs_dest *d;
	const struct sl_host *h, *th;
	bool applies = false;
	uint16_t tport = port;
	int k = 0;

	memset(out, 0, sizeof(*out));
	out->rule = -1;
	out->dest = -1;
	sl_dest_policy_default(&out->pol);
	if (!cfg || !dst || !req)
		return -ENOENT;
	wl = sl_config_workload_by_ip(cfg, dst);
	if (wl) {
		out->eps = &cfg->wl_self[wl - cfg->workloads];
		out->n_eps = 1;
		return 0;
	}
	h = sl_cfg_vip_host(cfg, dst);
	if (!h || !sl_cfg_epset(h, -1, port))
		return -ENOENT;
	out->host = h->name;
	v = *req;
	v.port = port;
	if (src && !v.n_src_labels) {
		v.src_labels = src->labels;
		v.n_src_labels = src->n_labels;
	}
	if (src && !v.src_ns)
		v.src_ns = src->ns;
	for (size_t i = 0; h->vs && i < h->vs->n_rules; i++)
		applies |= sl_rule_applies(&h->vs->rules[i], &v);
	if (!applies)
		return sl_route_eps(cfg, out, h, -1, port); /* default route */
	for (size_t i = 0; i < h->vs->n_rules && !rule; i++) {
		const struct sl_vs_rule *r = &h->vs->rules[i];

		if (r->tcp)
			continue;
		if (sl_http_match_any(r->matches, r->n_matches, &v)) {
			rule = r;
			out->rule = k;
		}
		k++;
	}
	if (!rule)
		return -ESRCH;
	sl_route_from_rule(out, rule);
	if (rule->rewrite_uri)
		sl_route_rewrite_base(out, rule, &v);
	if (rule->redirect_code || rule->direct_status)
		return 0; /* answered by the engine: no destination */
	sl_cfg_rule_policy(&out->pol, rule);
	out->dest = (int)sl_pick_dest(rule, rnd);
	d = &rule->dests[out->dest];
	out->dest_req = d->req_hdrs;
	out->dest_resp = d->resp_hdrs;
	if (rule->mirror) {
		/* the mirror's endpoints and policy, as a route's; a mirror
		 * without endpoints is dropped (the request goes on) */
		struct sl_http_route m;
		const struct sl_vs_dest *md = rule->mirror;
		uint16_t mport = port;

		memset(&m, 0, sizeof(m));
		sl_dest_policy_default(&m.pol);
		if (md->port)
			mport = (uint16_t)md->port;
		else if (md->host != h && md->host->n_ports == 1)
			mport = (uint16_t)md->host->ports[0].port;
		if (sl_route_eps(cfg, &m, md->host, md->subset_idx, mport) == 0) {
			out->mirror_eps = m.eps;
			out->mirror_n_eps = m.n_eps;
			out->mirror_pol = m.pol;
			out->mirror_pct = rule->mirror_pct;
		}
	}
	th = d->host;
	if (d->port)
		tport = (uint16_t)d->port;
	else if (th != h && th->n_ports == 1)
		tport = (uint16_t)th->ports[0].port;
	return sl_route_eps(cfg, out, th, d->subset_idx, tport);
}

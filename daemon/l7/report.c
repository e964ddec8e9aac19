/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The report of one finished request (conn.h): Istio's labels of both
 * workloads and the service, fed to sl_obs_http_request() (metrics and the
 * access log).
 */
#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "http_obs.h"
#include "util.h"

/* a policy and namespace name (Kubernetes: 253 and 63) and the words */
#define SL_L7_DETAILS_MAX 400

static void span_str(const char *buf, struct sl_h1_span s, char *out,
		     size_t len)
{
	size_t n = s.len < len - 1 ? s.len : len - 1;

	memcpy(out, buf + s.off, n);
	out[n] = 0;
}

/* copy what the report shows of the request head (c->req over dbuf) */
void sl_l7c_log_strings(struct l7c *c)
{
	c->l_method[0] = c->l_authority[0] = c->l_path[0] = 0;
	if (c->dbuf) {
		span_str(c->dbuf, c->req.method, c->l_method,
			 sizeof(c->l_method));
		if (c->req.host >= 0)
			span_str(c->dbuf, c->req.hdr[c->req.host].value,
				 c->l_authority, sizeof(c->l_authority));
		span_str(c->dbuf, c->req.target, c->l_path,
			 sizeof(c->l_path));
	}
	c->l_have = true;
}

void sl_l7c_report(struct l7c *c)
{
	struct sl_obs_http r = { 0 };
	char method[32], authority[256], path[1024];
	const struct sl_workload *dw = c->inbound ? c->dst_wl :
				       c->ep ? c->ep->workload : NULL;
	const struct sl_workload *sw = c->inbound ? c->in_src : c->src;
	const char *s_app = NULL, *s_ver = NULL, *s_cs = NULL, *s_cr = NULL;
	const char *d_app = NULL, *d_ver = NULL, *d_cs = NULL, *d_cr = NULL;
	char svc_name[256] = "", svc_ns[128] = "";
	char details[SL_L7_DETAILS_MAX], audit[SL_L7_DETAILS_MAX];

	if (!c->l_have)
		sl_l7c_log_strings(c);
	snprintf(method, sizeof(method), "%s", c->l_method);
	snprintf(authority, sizeof(authority), "%s", c->l_authority);
	snprintf(path, sizeof(path), "%s", c->l_path);
	if (sw)
		sl_obs_workload_labels(sw->labels, sw->n_labels, sw->name,
				       &s_app, &s_ver, &s_cs, &s_cr);
	if (dw)
		sl_obs_workload_labels(dw->labels, dw->n_labels, dw->name,
				       &d_app, &d_ver, &d_cs, &d_cr);
	if (c->rt.pol.host) {
		/* name.namespace.svc.<domain> */
		const char *dot = strchr(c->rt.pol.host, '.');

		snprintf(svc_name, sizeof(svc_name), "%.*s",
			 dot ? (int)(dot - c->rt.pol.host) : (int)strlen(c->rt.pol.host),
			 c->rt.pol.host);
		if (dot) {
			const char *dot2 = strchr(dot + 1, '.');

			snprintf(svc_ns, sizeof(svc_ns), "%.*s",
				 dot2 ? (int)(dot2 - dot - 1) : (int)strlen(dot + 1),
				 dot + 1);
		}
	}
	r.reporter_destination = c->inbound;
	r.src_workload = sw ? sw->name : NULL;
	r.src_ns = sw ? sw->ns : NULL;
	r.src_principal = c->inbound ? (c->peer_id[0] ? c->peer_id : NULL) :
		       sw ? sw->spiffe_id : NULL;
	r.src_app = s_app;
	r.src_version = s_ver;
	r.src_canonical_service = s_cs;
	r.src_canonical_revision = s_cr;
	r.dst_service = c->rt.pol.host;
	r.dst_service_name = svc_name[0] ? svc_name : NULL;
	r.dst_service_ns = svc_ns[0] ? svc_ns : NULL;
	r.dst_workload = dw ? dw->name : NULL;
	r.dst_ns = dw ? dw->ns : NULL;
	r.dst_principal = dw ? dw->spiffe_id : NULL;
	r.dst_app = d_app;
	r.dst_version = d_ver;
	r.dst_canonical_service = d_cs;
	r.dst_canonical_revision = d_cr;
	r.plaintext = c->inbound ? c->plain_peer : c->rt.pol.tls_disable;
	r.response_code = c->status;
	r.response_flags = c->flags[0] ? c->flags : "-";
	/* Envoy's RBAC filter's words */
	if (c->az_denied && c->az_name)
		snprintf(details, sizeof(details),
			 "rbac_access_denied_matched_policy[ns[%s]-policy[%s]-rule[%d]]",
			 c->az_ns, c->az_name, c->az_rule);
	else if (c->az_denied)
		snprintf(details, sizeof(details),
			 "rbac_access_denied_matched_policy[none]");
	r.response_code_details = c->az_denied ? details : c->details;
	if (c->au_name) {
		snprintf(audit, sizeof(audit), "ns[%s]-policy[%s]-rule[%d]",
			 c->au_ns, c->au_name, c->au_rule);
		r.audit = audit;
	}
	r.method = method;
	r.authority = authority;
	r.path = path;
	r.route_name = c->rt.rule_name;
	/* the pod when something went to it (a destination's refusal sent
	 * nothing) */
	r.upstream = c->upstream_s[0] && (!c->inbound || c->attempts) ?
			     c->upstream_s : NULL;
	r.src_addr = c->src_s;
	r.dst_addr = c->dst_s;
	/* as read from the client: its head and the body forwarded */
	r.request_bytes = (c->req.state == SL_H1_S_DONE ? c->req.head_len : c->dlen) +
			  c->req_bytes;
	r.response_bytes = c->resp_bytes;
	r.duration_ns = sl_now_ns() - c->t_start;
	r.start_realtime_ns = c->start_real;
	r.attempts = c->attempts;
	r.trace_id = c->trace_hex;
	r.request_id = c->trace.request_id;
	r.flow_id = c->conn_id;
	sl_obs_http_request(&r);
}

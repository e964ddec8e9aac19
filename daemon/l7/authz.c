/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The destination's admission of one request (issue 27), before anything of
 * it reaches the pod: the request path normalized once with the Node's
 * pathNormalization (http/path.h; a path it refuses gets 400), then
 * Istio's AuthorizationPolicy on that normalized path, the request's method,
 * Host and headers and the peer's verified identity (sl_config_authz; a
 * denial gets Envoy's 403 "RBAC: access denied").  The normalized path is
 * what the pod receives: the bytes checked are the bytes sent.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "daemon.h"
#include "identity.h"
#include "log.h"
#include "path.h"
#include "stats.h"

/* request.headers[name] over the parsed head; a value longer than the
 * evaluator's buffer goes to one allocated for it (freed after the
 * decision): a cut value could make a DENY rule miss */
struct hdr_ctx {
	const struct l7c *c;
	char *big;
	bool enomem; /* a lookup failed: the request is refused */
};

static const char *hdr_lookup(void *arg, const char *name, char *buf,
			      size_t cap)
{
	struct hdr_ctx *x = arg;
	const struct l7c *c = x->c;
	const char *v;
	char *out = buf;
	ssize_t len;

	if (!cap)
		return NULL;
	len = sl_h1_header_get(&c->req, c->dbuf, name, buf, cap - 1, &v);
	if (len < 0)
		return NULL;
	if ((size_t)len >= cap) {
		free(x->big);
		x->big = malloc((size_t)len + 1);
		if (!x->big) {
			x->enomem = true; /* refused below: fail closed */
			return NULL;
		}
		out = x->big;
	}
	if (!v) /* joined, longer than @buf: again into the big one */
		sl_h1_header_get(&c->req, c->dbuf, name, out, (size_t)len, &v);
	else if (v != out)
		memcpy(out, v, (size_t)len);
	out[len] = 0;
	return out;
}

/*
 * The connection's snapshot is the one its flow was accepted on; a request
 * is decided on the configuration current now (a policy change applies to
 * the next request of a kept-alive connection).  The workload is looked up
 * again: one that left or changed identity is not served.
 * @retval 0, -ENOENT
 */
static int refresh_config(struct l7c *c)
{
	struct sl_config *cur = sl_daemon_config(c->d);
	const struct sl_workload *wl;

	if (cur == c->cfg) {
		sl_config_put(cur);
		return 0;
	}
	wl = sl_config_workload_again(cur, c->dst_wl);
	if (!wl) {
		sl_config_put(cur);
		return -ENOENT;
	}
	c->in_src = c->in_src ? sl_config_workload_by_ip(cur,
							 &c->in_src->address)
			      : NULL;
	c->dst_wl = wl;
	sl_config_put(c->cfg);
	c->cfg = cur;
	return 0;
}

/*
 * The target to forward: @path (normalized, query after it) when it
 * differs from the target received, and the absolute form's authority as
 * Host (the pod reads Host; the decision used the authority).
 */
static int keep_target(struct l7c *c, const char *out, size_t n,
		       const char *auth, size_t auth_len)
{
	const char *t;
	size_t tl;

	sl_l7c_target_path(c, &t, &tl);
	if (!auth && n == tl && !memcmp(t, out, n))
		return 0;
	c->az_target = malloc(n + 1 + (auth ? auth_len + 1 : 0));
	if (!c->az_target)
		return -ENOMEM;
	memcpy(c->az_target, out, n);
	c->az_target[n] = 0;
	if (auth) {
		c->az_host = c->az_target + n + 1;
		memcpy(c->az_host, auth, auth_len);
		c->az_host[auth_len] = 0;
	}
	return 0;
}

int sl_l7c_admit(struct l7c *c)
{
	const struct sl_node_config *node;
	struct sl_path_result pr;
	struct sl_authz_decision d;
	struct sl_authz_http http = { 0 };
	struct sl_authz_request req = { 0 };
	struct hdr_ctx hx = { .c = c };
	char td[256], ns[256], sa[256];
	const char *t, *auth;
	size_t tl, auth_len = 0;
	char *out;
	ssize_t n;
	int ret;

	c->az_denied = false;
	c->au_name = NULL;
	if (refresh_config(c)) {
		c->details = "destination_workload_gone";
		return 503;
	}
	node = sl_config_node(c->cfg);
	sl_l7c_target_path(c, &t, &tl);
	out = malloc(SL_PATH_OUT_MAX(tl) + 1);
	if (!out)
		return 503;
	if (c->req.form == SL_H1_T_AUTHORITY || c->req.form == SL_H1_T_ASTERISK) {
		/* CONNECT host:port, OPTIONS *: no path (Envoy's :path is
		 * absent; a `paths` rule cannot match), sent as received */
		memset(&pr, 0, sizeof(pr));
		n = 0;
	} else {
		n = sl_path_normalize((enum sl_path_mode)node->path_normalization,
				      t, tl, out, SL_PATH_OUT_MAX(tl), &pr);
	}
	if (n < 0) {
		sl_log_info("%s: %s -> %s: path refused (%s at byte %zu)",
			    __func__, c->src_s, c->dst_s,
			    sl_path_reason_str(pr.reason), pr.err_pos);
		free(out);
		c->details = "path_normalization_failed";
		return pr.status ? pr.status : 400;
	}
	auth = sl_l7c_target_authority(c, &auth_len);
	ret = n ? keep_target(c, out, (size_t)n, auth, auth_len) : 0;
	if (ret) {
		free(out);
		return 503;
	}
	/* the report shows the path decided on and sent, as Envoy's log
	 * shows :path after its normalization */
	if (c->az_target)
		snprintf(c->l_path, sizeof(c->l_path), "%s", c->az_target);

	http.method = c->dbuf + c->req.method.off;
	http.method_len = c->req.method.len;
	if (c->req.form == SL_H1_T_AUTHORITY) {
		http.host = t; /* CONNECT's target is the authority */
		http.host_len = tl;
	} else if (auth) {
		http.host = auth;
		http.host_len = auth_len;
	} else if (c->req.host >= 0) {
		http.host = c->dbuf + c->req.hdr[c->req.host].value.off;
		http.host_len = c->req.hdr[c->req.host].value.len;
	} else {
		http.host = "";
	}
	http.path = out;
	http.path_len = pr.path_len;
	http.header = hdr_lookup;
	http.ctx = &hx;
	req.src_ip = &c->src_ip;
	req.dst_ip = &c->dst_wl->address;
	req.port = c->dst_port;
	req.http = &http;
	if (c->peer_id[0] && !strncmp(c->peer_id, "spiffe://", 9)) {
		req.principal = c->peer_id + 9;
		if (!sl_spiffe_id_parse(c->peer_id, td, sizeof(td), ns,
					sizeof(ns), sa, sizeof(sa)))
			req.ns = ns;
	}
	sl_config_authz(c->cfg, c->dst_wl, &req, &d);
	free(hx.big);
	if (hx.enomem) {
		free(out);
		return 503;
	}
	c->au_ns = d.audit_ns;
	c->au_name = d.audit_name;
	c->au_rule = d.audit_rule;
	if (d.allowed) {
		free(out);
		return 0;
	}
	c->az_denied = true;
	c->az_ns = d.deny_ns;
	c->az_name = d.deny_name;
	c->az_rule = d.deny_rule;
	sl_stat_inc(SL_STAT_AUTHZ_DENIED);
	if (d.deny_name)
		sl_log_info("%s: %s (%s) -> %s: %.*s %.*s denied by AuthorizationPolicy %s/%s rule %d",
			    __func__, c->src_s,
			    c->peer_id[0] ? c->peer_id : "plaintext", c->dst_s,
			    (int)c->req.method.len, http.method,
			    (int)pr.path_len, out, d.deny_ns, d.deny_name,
			    d.deny_rule);
	else
		sl_log_info("%s: %s (%s) -> %s: %.*s %.*s denied: no ALLOW rule of an AuthorizationPolicy matched",
			    __func__, c->src_s,
			    c->peer_id[0] ? c->peer_id : "plaintext", c->dst_s,
			    (int)c->req.method.len, http.method,
			    (int)pr.path_len, out);
	free(out);
	return 403;
}

void sl_l7c_admit_clear(struct l7c *c)
{
	free(c->az_target);
	c->az_target = c->az_host = NULL;
	c->details = NULL;
	c->az_denied = false;
	c->au_name = NULL;
}

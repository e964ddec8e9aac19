/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AuthorizationPolicy evaluation, as Istio generates it for Envoy's RBAC
 * filters (pilot/pkg/security/authz/model): DENY policies first, then
 * ALLOW; AUDIT policies are matched and only reported.
 *
 * Within a rule, from, to and when must all match: from is any of its
 * sources, to any of its operations, when every condition; inside one
 * source or operation every field that is set must match.  A list field
 * matches when one of its values does, a not-field when none does; an
 * attribute the request does not have (no principal, no such header)
 * matches no value, so it passes every not-field.
 *
 * A connection (no HTTP facts) follows Istio's TCP filter chain: an ALLOW
 * rule that uses an HTTP-only field (hosts, methods, paths, their not-forms,
 * request.headers) is left out, so it never matches; a DENY or AUDIT rule
 * is kept without those fields (Istio's model.go checkError), so it
 * matches more.  Both fail closed.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_internal.h"

static bool sl_selects(bool has, const struct sl_label *sel, size_t n,
		       const struct sl_workload *wl)
{
	return has && n && sl_labels_match(sel, n, wl->labels, wl->n_labels);
}

/*
 * Istio's string match of @s (@len bytes; NULL: absent) by pattern @pat:
 * "*" any value that is present, "prefix*", "*suffix", else exact; @icase
 * for hosts (Istio's HostMatcher ignores case).
 */
static bool sl_pat_match(const char *pat, const char *s, size_t len,
			 bool icase)
{
	size_t lp = strlen(pat);
	int (*cmp)(const char *, const char *, size_t) =
		icase ? strncasecmp : strncmp;

	if (!s)
		return false;
	if (!strcmp(pat, "*"))
		return true;
	if (lp && pat[lp - 1] == '*')
		return len >= lp - 1 && !cmp(pat, s, lp - 1);
	if (lp && pat[0] == '*')
		return len >= lp - 1 && !cmp(s + len - (lp - 1), pat + 1, lp - 1);
	return len == lp && !cmp(pat, s, lp);
}

static bool sl_str_match(const char *pat, const char *s)
{
	return s && sl_pat_match(pat, s, strlen(s), false);
}

/* Istio's namespace match: every "*" of the pattern stands for any run of
 * characters (it becomes ".*" in Istio's regex) */
static bool sl_glob(const char *pat, const char *s)
{
	const char *star = NULL, *back = NULL;

	if (!s)
		return false;
	while (*s) {
		if (*pat == '*') {
			star = ++pat;
			back = s;
		} else if (*pat == *s) {
			pat++;
			s++;
		} else if (star) {
			pat = star;
			s = ++back;
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return !*pat;
}

static bool sl_any_str(const char **pats, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (sl_str_match(pats[i], s))
			return true;
	return false;
}

static bool sl_any_glob(const char **pats, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (sl_glob(pats[i], s))
			return true;
	return false;
}

static bool sl_any_pat(const char **pats, size_t n, const char *s, size_t len,
		       bool icase)
{
	for (size_t i = 0; i < n; i++)
		if (sl_pat_match(pats[i], s, len, icase))
			return true;
	return false;
}

static bool sl_any_cidr(const struct sl_cidr *c, size_t n,
			const struct sl_ip *ip)
{
	for (size_t i = 0; ip && i < n; i++)
		if (sl_cidr_contains(&c[i], ip))
			return true;
	return false;
}

static bool sl_any_port(const uint32_t *p, size_t n, uint16_t port)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] == port)
			return true;
	return false;
}

/* a field with values @n and not-values @nn: (no values or one matched)
 * and no not-value matched */
#define SL_FIELD(n, any, nn, notany) (((n) == 0 || (any)) && ((nn) == 0 || !(notany)))

static bool sl_source_match(const struct sl_ap_source *s,
			    const struct sl_authz_request *r)
{
	return SL_FIELD(s->n_principals,
			sl_any_str(s->principals, s->n_principals,
				   r->principal),
			s->n_not_principals,
			sl_any_str(s->not_principals, s->n_not_principals,
				   r->principal)) &&
	       SL_FIELD(s->n_namespaces,
			sl_any_glob(s->namespaces, s->n_namespaces, r->ns),
			s->n_not_namespaces,
			sl_any_glob(s->not_namespaces, s->n_not_namespaces,
				    r->ns)) &&
	       SL_FIELD(s->n_ip_blocks,
			sl_any_cidr(s->ip_blocks, s->n_ip_blocks, r->src_ip),
			s->n_not_ip_blocks,
			sl_any_cidr(s->not_ip_blocks, s->n_not_ip_blocks,
				    r->src_ip)) &&
	       /* remote.ip: no X-Forwarded-For is trusted, so the peer */
	       SL_FIELD(s->n_remote_ip_blocks,
			sl_any_cidr(s->remote_ip_blocks, s->n_remote_ip_blocks,
				    r->src_ip),
			s->n_not_remote_ip_blocks,
			sl_any_cidr(s->not_remote_ip_blocks,
				    s->n_not_remote_ip_blocks, r->src_ip));
}

static bool sl_op_http(const struct sl_ap_op *op)
{
	return op->n_hosts || op->n_not_hosts || op->n_methods ||
	       op->n_not_methods || op->n_paths || op->n_not_paths;
}

/* @h NULL: a connection, the HTTP-only fields dropped (DENY, AUDIT) */
static bool sl_op_match(const struct sl_ap_op *op,
			const struct sl_authz_request *r,
			const struct sl_authz_http *h)
{
	if (!SL_FIELD(op->n_ports, sl_any_port(op->ports, op->n_ports, r->port),
		      op->n_not_ports,
		      sl_any_port(op->not_ports, op->n_not_ports, r->port)))
		return false;
	if (!h)
		return true;
	return SL_FIELD(op->n_hosts,
			sl_any_pat(op->hosts, op->n_hosts, h->host,
				   h->host_len, true),
			op->n_not_hosts,
			sl_any_pat(op->not_hosts, op->n_not_hosts, h->host,
				   h->host_len, true)) &&
	       SL_FIELD(op->n_methods,
			sl_any_pat(op->methods, op->n_methods, h->method,
				   h->method_len, false),
			op->n_not_methods,
			sl_any_pat(op->not_methods, op->n_not_methods,
				   h->method, h->method_len, false)) &&
	       SL_FIELD(op->n_paths,
			sl_any_pat(op->paths, op->n_paths, h->path,
				   h->path_len, false),
			op->n_not_paths,
			sl_any_pat(op->not_paths, op->n_not_paths, h->path,
				   h->path_len, false));
}

/* one value of a when condition against the request (absent: false) */
static bool sl_cond_value(const struct sl_ap_cond *c, const char *v,
			  const struct sl_authz_request *r, const char *hdr)
{
	struct sl_cidr cidr;

	switch (c->key) {
	case SL_AP_SOURCE_IP:
	case SL_AP_REMOTE_IP:
		return r->src_ip && sl_cidr_parse(v, &cidr) == 0 &&
		       sl_cidr_contains(&cidr, r->src_ip);
	case SL_AP_DESTINATION_IP:
		return r->dst_ip && sl_cidr_parse(v, &cidr) == 0 &&
		       sl_cidr_contains(&cidr, r->dst_ip);
	case SL_AP_SOURCE_NAMESPACE:
		return sl_glob(v, r->ns);
	case SL_AP_SOURCE_PRINCIPAL:
		return sl_str_match(v, r->principal);
	case SL_AP_DESTINATION_PORT:
		return (uint32_t)strtoul(v, NULL, 10) == r->port;
	case SL_AP_REQUEST_HEADER:
		return sl_str_match(v, hdr);
	}
	return false;
}

/* @h NULL: a connection, a request.headers condition dropped */
static bool sl_cond_match(const struct sl_ap_cond *c,
			  const struct sl_authz_request *r,
			  const struct sl_authz_http *h)
{
	char buf[8192];
	const char *hdr = NULL;
	bool any = false;

	if (c->key == SL_AP_REQUEST_HEADER) {
		if (!h)
			return true;
		if (h->header)
			hdr = h->header(h->ctx, c->header, buf, sizeof(buf));
	}
	for (size_t i = 0; i < c->n_values && !any; i++)
		any = sl_cond_value(c, c->values[i], r, hdr);
	if (c->n_values && !any)
		return false;
	for (size_t i = 0; i < c->n_not_values; i++)
		if (sl_cond_value(c, c->not_values[i], r, hdr))
			return false;
	return true;
}

/* whether @rule uses a field only an HTTP request has */
static bool sl_rule_http(const struct sl_ap_rule *rule)
{
	for (size_t i = 0; i < rule->n_to; i++)
		if (sl_op_http(&rule->to[i]))
			return true;
	for (size_t i = 0; i < rule->n_when; i++)
		if (rule->when[i].key == SL_AP_REQUEST_HEADER)
			return true;
	return false;
}

static bool sl_rule_match(const struct sl_ap_rule *rule,
			  enum sl_ap_action action,
			  const struct sl_authz_request *r)
{
	bool ok = !rule->n_from;

	/* Istio's TCP chain leaves such an ALLOW rule out */
	if (!r->http && action == SL_AP_ALLOW && sl_rule_http(rule))
		return false;
	for (size_t i = 0; i < rule->n_from && !ok; i++)
		ok = sl_source_match(&rule->from[i], r);
	if (!ok)
		return false;
	ok = !rule->n_to;
	for (size_t i = 0; i < rule->n_to && !ok; i++)
		ok = sl_op_match(&rule->to[i], r, r->http);
	if (!ok)
		return false;
	for (size_t i = 0; i < rule->n_when; i++)
		if (!sl_cond_match(&rule->when[i], r, r->http))
			return false;
	return true;
}

static bool sl_ap_applies(const struct sl_config *cfg, const struct sl_ap *ap,
			  const struct sl_workload *wl)
{
	bool ns_wide = !ap->has_selector || !ap->n_selector;

	if (strcmp(ap->r.ns, wl->ns) &&
	    strcmp(ap->r.ns, cfg->node.root_namespace))
		return false;
	return ns_wide || sl_selects(ap->has_selector, ap->selector,
				     ap->n_selector, wl);
}

/* the index of the first rule of @ap matching @req, or -1 */
static int sl_ap_match(const struct sl_ap *ap,
		       const struct sl_authz_request *req)
{
	for (size_t j = 0; j < ap->n_rules; j++)
		if (sl_rule_match(&ap->rules[j], ap->action, req))
			return (int)j;
	return -1;
}

bool sl_config_authz(const struct sl_config *cfg, const struct sl_workload *wl,
		     const struct sl_authz_request *req,
		     struct sl_authz_decision *d)
{
	bool have_allow = false, allowed = false, denied = false;
	struct sl_authz_decision tmp;

	if (!d)
		d = &tmp;
	memset(d, 0, sizeof(*d));
	d->deny_rule = d->audit_rule = -1;
	if (!cfg || !wl || !req)
		return false;
	for (size_t i = 0; i < cfg->res.n[SL_K_AUTHORIZATIONPOLICY]; i++) {
		const struct sl_ap *ap = (const struct sl_ap *)
			cfg->res.v[SL_K_AUTHORIZATIONPOLICY][i];
		int j;

		if (!sl_ap_applies(cfg, ap, wl))
			continue;
		if (ap->action == SL_AP_ALLOW)
			have_allow = true;
		switch (ap->action) {
		case SL_AP_DENY:
			if (denied)
				continue;
			break;
		case SL_AP_ALLOW:
			if (allowed)
				continue;
			break;
		case SL_AP_AUDIT:
			if (d->audit_name)
				continue;
			break;
		}
		j = sl_ap_match(ap, req);
		if (j < 0)
			continue;
		switch (ap->action) {
		case SL_AP_DENY:
			denied = true;
			d->deny_ns = ap->r.ns;
			d->deny_name = ap->r.name;
			d->deny_rule = j;
			break;
		case SL_AP_ALLOW:
			allowed = true;
			break;
		case SL_AP_AUDIT:
			d->audit_ns = ap->r.ns;
			d->audit_name = ap->r.name;
			d->audit_rule = j;
			break;
		}
	}
	d->allowed = !denied && (!have_allow || allowed);
	return d->allowed;
}

bool sl_config_authorize(const struct sl_config *cfg,
			 const struct sl_workload *wl,
			 const struct sl_authz_request *req)
{
	return sl_config_authz(cfg, wl, req, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Policy queries: the effective PeerAuthentication mode of a workload and
 * the L4 AuthorizationPolicy decision, with Istio's precedence rules.
 */
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

static bool sl_selects(bool has, const struct sl_label *sel, size_t n,
		       const struct sl_workload *wl)
{
	return has && n && sl_labels_match(sel, n, wl->labels, wl->n_labels);
}

/* the PeerAuthentications that apply to @wl: workload (selector),
 * namespace-wide, mesh-wide (root namespace); first of each wins */
static void sl_pa_find(const struct sl_config *cfg, const struct sl_workload *wl,
		       const struct sl_pa **wlp, const struct sl_pa **nsp,
		       const struct sl_pa **meshp)
{
	*wlp = *nsp = *meshp = NULL;
	for (size_t i = 0; cfg && wl && i < cfg->res.n[SL_K_PEERAUTHENTICATION];
	     i++) {
		const struct sl_pa *pa = (const struct sl_pa *)
			cfg->res.v[SL_K_PEERAUTHENTICATION][i];
		bool ns_wide = !pa->has_selector || !pa->n_selector;

		if (!strcmp(pa->r.ns, wl->ns)) {
			if (!ns_wide && !*wlp &&
			    sl_selects(pa->has_selector, pa->selector,
				       pa->n_selector, wl))
				*wlp = pa;
			if (ns_wide && !*nsp)
				*nsp = pa;
		}
		if (ns_wide && !*meshp &&
		    !strcmp(pa->r.ns, cfg->node.root_namespace))
			*meshp = pa;
	}
}

/* the mode when no port-level entry applies */
static enum sl_mtls_mode sl_pa_default(const struct sl_pa *wlp,
				       const struct sl_pa *nsp,
				       const struct sl_pa *meshp)
{
	if (wlp && wlp->mode != SL_MTLS_UNSET)
		return wlp->mode;
	if (nsp && nsp->mode != SL_MTLS_UNSET)
		return nsp->mode;
	if (meshp && meshp->mode != SL_MTLS_UNSET)
		return meshp->mode;
	return SL_MTLS_STRICT;
}

enum sl_mtls_mode sl_config_mtls_mode(const struct sl_config *cfg,
				      const struct sl_workload *wl,
				      uint16_t port)
{
	const struct sl_pa *wlp, *nsp, *meshp;

	sl_pa_find(cfg, wl, &wlp, &nsp, &meshp);
	for (size_t i = 0; wlp && port && i < wlp->n_ports; i++)
		if (wlp->ports[i].port == port &&
		    wlp->ports[i].mode != SL_MTLS_UNSET)
			return wlp->ports[i].mode;
	return sl_pa_default(wlp, nsp, meshp);
}

enum sl_mtls_mode sl_config_mtls_default(const struct sl_config *cfg,
					 const struct sl_workload *wl)
{
	const struct sl_pa *wlp, *nsp, *meshp;

	sl_pa_find(cfg, wl, &wlp, &nsp, &meshp);
	return sl_pa_default(wlp, nsp, meshp);
}

bool sl_config_mtls_plaintext_any(const struct sl_config *cfg,
				  const struct sl_workload *wl)
{
	const struct sl_pa *wlp, *nsp, *meshp;

	sl_pa_find(cfg, wl, &wlp, &nsp, &meshp);
	if (sl_pa_default(wlp, nsp, meshp) != SL_MTLS_STRICT)
		return true;
	for (size_t i = 0; wlp && i < wlp->n_ports; i++)
		if (wlp->ports[i].mode == SL_MTLS_PERMISSIVE ||
		    wlp->ports[i].mode == SL_MTLS_DISABLE)
			return true;
	return false;
}

const char *sl_config_mtls_describe(const struct sl_config *cfg,
				    const struct sl_workload *wl, char *buf,
				    size_t len)
{
	const struct sl_pa *wlp, *nsp, *meshp;
	bool first = true;
	size_t off;
	int n;

	if (!buf || !len)
		return "";
	sl_pa_find(cfg, wl, &wlp, &nsp, &meshp);
	n = snprintf(buf, len, "%s",
		     sl_mtls_mode_name(sl_pa_default(wlp, nsp, meshp)));
	off = n > 0 ? (size_t)n : 0;
	for (size_t i = 0; wlp && i < wlp->n_ports && off < len; i++) {
		if (wlp->ports[i].mode == SL_MTLS_UNSET)
			continue;
		n = snprintf(buf + off, len - off, "%s%u:%s",
			     first ? " " : ",",
			     (unsigned int)wlp->ports[i].port,
			     sl_mtls_mode_name(wlp->ports[i].mode));
		if (n < 0)
			break;
		first = false;
		off += (size_t)n;
	}
	return buf;
}

const char *sl_mtls_mode_name(enum sl_mtls_mode m)
{
	switch (m) {
	case SL_MTLS_UNSET:
		return "UNSET";
	case SL_MTLS_STRICT:
		return "STRICT";
	case SL_MTLS_PERMISSIVE:
		return "PERMISSIVE";
	case SL_MTLS_DISABLE:
		return "DISABLE";
	}
	return "?";
}

/* Istio string match: "*", "prefix*", "*suffix" or exact */
static bool sl_str_match(const char *pat, const char *s)
{
	size_t lp = strlen(pat), ls;

	if (!s)
		return false;
	ls = strlen(s);
	if (!strcmp(pat, "*"))
		return true;
	if (lp && pat[lp - 1] == '*')
		return ls >= lp - 1 && !strncmp(pat, s, lp - 1);
	if (lp && pat[0] == '*')
		return ls >= lp - 1 && !strcmp(s + ls - (lp - 1), pat + 1);
	return !strcmp(pat, s);
}

static bool sl_any_str(const char **pats, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (sl_str_match(pats[i], s))
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

static bool sl_source_match(const struct sl_ap_source *s,
			    const struct sl_authz_request *r)
{
	if (s->n_principals && !sl_any_str(s->principals, s->n_principals,
					   r->principal))
		return false;
	if (s->n_not_principals && r->principal &&
	    sl_any_str(s->not_principals, s->n_not_principals, r->principal))
		return false;
	if (s->n_namespaces && !sl_any_str(s->namespaces, s->n_namespaces,
					   r->ns))
		return false;
	if (s->n_not_namespaces && r->ns &&
	    sl_any_str(s->not_namespaces, s->n_not_namespaces, r->ns))
		return false;
	if (s->n_ip_blocks && !sl_any_cidr(s->ip_blocks, s->n_ip_blocks,
					   r->src_ip))
		return false;
	if (s->n_not_ip_blocks &&
	    sl_any_cidr(s->not_ip_blocks, s->n_not_ip_blocks, r->src_ip))
		return false;
	return true;
}

static bool sl_cond_value(const struct sl_ap_cond *c, const char *v,
			  const struct sl_authz_request *r)
{
	struct sl_cidr cidr;

	switch (c->key) {
	case SL_AP_SOURCE_IP:
		return r->src_ip && sl_cidr_parse(v, &cidr) == 0 &&
		       sl_cidr_contains(&cidr, r->src_ip);
	case SL_AP_SOURCE_NAMESPACE:
		return sl_str_match(v, r->ns);
	case SL_AP_SOURCE_PRINCIPAL:
		return sl_str_match(v, r->principal);
	case SL_AP_DESTINATION_PORT:
		return (uint32_t)strtoul(v, NULL, 10) == r->port;
	}
	return false;
}

static bool sl_cond_match(const struct sl_ap_cond *c,
			  const struct sl_authz_request *r)
{
	bool any = !c->n_values;

	for (size_t i = 0; i < c->n_values && !any; i++)
		any = sl_cond_value(c, c->values[i], r);
	if (!any)
		return false;
	for (size_t i = 0; i < c->n_not_values; i++)
		if (sl_cond_value(c, c->not_values[i], r))
			return false;
	return true;
}

static bool sl_rule_match(const struct sl_ap_rule *rule,
			  const struct sl_authz_request *r)
{
	bool ok = !rule->n_from;

	for (size_t i = 0; i < rule->n_from && !ok; i++)
		ok = sl_source_match(&rule->from[i], r);
	if (!ok)
		return false;
	ok = !rule->n_to;
	for (size_t i = 0; i < rule->n_to && !ok; i++) {
		const struct sl_ap_op *op = &rule->to[i];

		ok = (!op->n_ports || sl_any_port(op->ports, op->n_ports, r->port)) &&
		     !sl_any_port(op->not_ports, op->n_not_ports, r->port);
	}
	if (!ok)
		return false;
	for (size_t i = 0; i < rule->n_when; i++)
		if (!sl_cond_match(&rule->when[i], r))
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

bool sl_config_authz(const struct sl_config *cfg, const struct sl_workload *wl,
		     const struct sl_authz_request *req,
		     struct sl_authz_decision *d)
{
	bool have_allow = false, allowed = false;
	struct sl_authz_decision tmp;

	if (!d)
		d = &tmp;
	memset(d, 0, sizeof(*d));
	if (!cfg || !wl || !req)
		return false;
	for (size_t i = 0; i < cfg->res.n[SL_K_AUTHORIZATIONPOLICY]; i++) {
		const struct sl_ap *ap = (const struct sl_ap *)
			cfg->res.v[SL_K_AUTHORIZATIONPOLICY][i];

		if (!sl_ap_applies(cfg, ap, wl))
			continue;
		if (!ap->deny)
			have_allow = true;
		for (size_t j = 0; j < ap->n_rules; j++) {
			if (!sl_rule_match(&ap->rules[j], req))
				continue;
			if (ap->deny) {
				d->deny_ns = ap->r.ns;
				d->deny_name = ap->r.name;
				d->deny_rule = (int)j;
				return false;
			}
			allowed = true;
		}
	}
	d->allowed = !have_allow || allowed;
	return d->allowed;
}

bool sl_config_authorize(const struct sl_config *cfg,
			 const struct sl_workload *wl,
			 const struct sl_authz_request *req)
{
	return sl_config_authz(cfg, wl, req, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PeerAuthentication queries: the effective mTLS mode of a workload and
 * port, with Istio's precedence rules.  AuthorizationPolicy is authz.c's.
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

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ServiceEntry and WorkloadEntry (networking.istio.io).  sluice resolves
 * nothing by DNS: addresses are IP literals, resolution STATIC or NONE.
 */
#include <string.h>

#include "config_internal.h"

/* WorkloadEntry/endpoint "ports": map port name -> number */
static int sl_dec_portmap(struct sl_dec *d, const struct sl_ynode *map,
			  const char *key, struct sl_portmap **out, size_t *n)
{
	const struct sl_ynode *v = sl_ymap_get(map, key);
	size_t old;
	int ret = 1;

	if (!v)
		return 0;
	old = sl_dec_push_key(d, key);
	if (!sl_dec_is_map(d, v)) {
		sl_dec_pop(d, old);
		return -1;
	}
	*out = sl_arena_array(d->a, v->n, sizeof(**out));
	if (!*out) {
		sl_dec_pop(d, old);
		return -1;
	}
	for (size_t i = 0; i < v->n; i++) {
		size_t o2 = sl_dec_push_mapkey(d, v->items[2 * i]->str);

		if (sl_dec_v_str(d, v->items[2 * i], &(*out)[i].name) < 0 ||
		    sl_dec_v_uint(d, v->items[2 * i + 1], 1, 65535,
				  &(*out)[i].port) < 0)
			ret = -1;
		sl_dec_pop(d, o2);
	}
	*n = v->n;
	sl_dec_pop(d, old);
	return ret;
}

static bool sl_dec_address(struct sl_dec *d, const struct sl_ynode *map,
			   struct sl_ip *out, struct sl_pos *pos, bool required)
{
	const struct sl_ynode *v = sl_ymap_get(map, "address");
	size_t old;
	bool ok = true;

	if (!v) {
		if (required)
			sl_dec_key_err(d, map, "address",
				       "required field is missing");
		return !required;
	}
	old = sl_dec_push_key(d, "address");
	if (pos)
		sl_dec_pos(d, v, pos);
	if (v->type == SL_YSCALAR && sl_ip_parse(v->str, out) < 0) {
		if (strncmp(v->str, "unix://", 7) == 0)
			sl_dec_err(d, v, "unix domain socket addresses are not supported");
		else
			sl_dec_err(d, v, "\"%s\" is not an IP address (DNS names are not supported)",
				   v->str);
		ok = false;
	} else if (v->type != SL_YSCALAR) {
		sl_dec_err(d, v, "expected an IP address");
		ok = false;
	}
	sl_dec_pop(d, old);
	return ok;
}

bool sl_kind_workloadentry(struct sl_dec *d, const struct sl_ynode *spec,
			   struct sl_we *we)
{
	static const char *const known[] = { "address", "ports", "labels",
					     "network", "locality", "weight",
					     "serviceAccount", NULL };
	bool ok;

	if (!spec) {
		sl_dec_err(d, NULL, "required field is missing");
		return false;
	}
	ok = sl_dec_fields(d, spec, known, NULL);
	ok &= sl_dec_address(d, spec, &we->address, &we->addr_pos, true);
	if (sl_dec_portmap(d, spec, "ports", &we->ports, &we->n_ports) < 0 ||
	    sl_dec_labels(d, spec, "labels", &we->labels, &we->n_labels) < 0 ||
	    sl_dec_str(d, spec, "network", &we->network) < 0 ||
	    sl_dec_str(d, spec, "locality", &we->locality) < 0 ||
	    sl_dec_uint(d, spec, "weight", 0, UINT32_MAX, &we->weight) < 0 ||
	    sl_dec_str(d, spec, "serviceAccount", &we->service_account) < 0)
		ok = false;
	if (we->service_account && !sl_dns1123_valid(we->service_account, false)) {
		sl_dec_key_err(d, sl_ymap_get(spec, "serviceAccount"),
			       "serviceAccount",
			       "\"%s\" is not a valid service account name",
			       we->service_account);
		ok = false;
	}
	if (!we->weight)
		we->weight = 1;
	/* labelled sluice.io/ready=false (the Kubernetes source's pods not
	   Ready or terminating): no endpoint of a Service, unless the
	   Service sets publishNotReadyAddresses */
	{
		const char *v = sl_labels_get(we->labels, we->n_labels,
					      SL_LABEL_NOT_READY_KEY);

		we->not_ready = v && !strcmp(v, "false");
	}
	return ok;
}

static bool sl_se_ports(struct sl_dec *d, const struct sl_ynode *x,
			struct sl_se *se)
{
	static const char *const known[] = { "number", "name", "protocol",
					     "targetPort", NULL };
	bool ok = true;

	if (!sl_dec_is_seq(d, x))
		return false;
	se->ports = sl_arena_array(d->a, x->n, sizeof(*se->ports));
	if (!se->ports)
		return false;
	for (size_t i = 0; i < x->n; i++) {
		const struct sl_ynode *it = x->items[i];
		struct sl_svc_port *p = &se->ports[se->n_ports];
		size_t old = sl_dec_push_idx(d, i);

		if (!sl_dec_fields(d, it, known, NULL)) {
			ok = false;
		} else if (sl_dec_port(d, it, "number", &p->port) != 1) {
			if (!sl_ymap_get(it, "number"))
				sl_dec_key_err(d, it, "number",
					       "required field is missing");
			ok = false;
		} else if (sl_dec_str(d, it, "name", &p->name) < 0 ||
			   sl_dec_str(d, it, "protocol", &p->protocol) < 0 ||
			   sl_dec_port(d, it, "targetPort", &p->target) < 0) {
			ok = false;
		} else {
			for (size_t j = 0; j < se->n_ports; j++)
				if (se->ports[j].port == p->port) {
					sl_dec_key_err(d, sl_ymap_get(it, "number"),
						       "number",
						       "duplicate port %u",
						       p->port);
					ok = false;
				}
			if (p->protocol && (!strcmp(p->protocol, "UDP") ||
					    !strcmp(p->protocol, "SCTP"))) {
				sl_dec_key_err(d, sl_ymap_get(it, "protocol"),
					       "protocol",
					       "%s is not supported (sluice carries TCP)",
					       p->protocol);
				ok = false;
			}
			se->n_ports++;
		}
		sl_dec_pop(d, old);
	}
	return ok;
}

static bool sl_se_eps(struct sl_dec *d, const struct sl_ynode *x,
		      struct sl_se *se)
{
	static const char *const known[] = { "address", "ports", "labels",
					     "network", "locality", "weight",
					     "serviceAccount", NULL };
	bool ok = true;

	if (!sl_dec_is_seq(d, x))
		return false;
	se->eps = sl_arena_array(d->a, x->n, sizeof(*se->eps));
	if (!se->eps)
		return false;
	for (size_t i = 0; i < x->n; i++) {
		const struct sl_ynode *it = x->items[i];
		struct sl_se_ep *ep = &se->eps[se->n_eps];
		const char *s;
		size_t old = sl_dec_push_idx(d, i);

		if (!sl_dec_fields(d, it, known, NULL) ||
		    !sl_dec_address(d, it, &ep->address, &ep->pos, true) ||
		    sl_dec_portmap(d, it, "ports", &ep->ports, &ep->n_ports) < 0 ||
		    sl_dec_labels(d, it, "labels", &ep->labels, &ep->n_labels) < 0 ||
		    sl_dec_str(d, it, "network", &s) < 0 ||
		    sl_dec_str(d, it, "locality", &s) < 0 ||
		    sl_dec_uint(d, it, "weight", 0, UINT32_MAX, &ep->weight) < 0 ||
		    sl_dec_str(d, it, "serviceAccount", &ep->service_account) < 0)
			ok = false;
		else
			se->n_eps++;
		if (!ep->weight)
			ep->weight = 1;
		sl_dec_pop(d, old);
	}
	return ok;
}

bool sl_kind_serviceentry(struct sl_dec *d, const struct sl_ynode *spec,
			  struct sl_se *se)
{
	static const char *const known[] = { "hosts", "addresses", "ports",
					     "location", "resolution",
					     "endpoints", "workloadSelector",
					     "exportTo", "subjectAltNames",
					     NULL };
	static const char *const locs[] = { "MESH_EXTERNAL", "MESH_INTERNAL",
					    NULL };
	static const char *const res[] = { "NONE", "STATIC", "DNS",
					   "DNS_ROUND_ROBIN", NULL };
	static const char *const wk[] = { "labels", NULL };
	const struct sl_ynode *x;
	const char **list;
	size_t n;
	int v;
	bool ok;

	if (!spec) {
		sl_dec_err(d, NULL, "required field is missing");
		return false;
	}
	ok = sl_dec_fields(d, spec, known, NULL);
	switch (sl_dec_strlist(d, spec, "hosts", &se->hosts, &se->n_hosts)) {
	case 0:
		sl_dec_key_err(d, spec, "hosts", "required field is missing");
		return false;
	case -1:
		return false;
	}
	x = sl_ymap_get(spec, "hosts");
	if (se->n_hosts == 0) {
		sl_dec_key_err(d, x, "hosts", "at least one host is required");
		ok = false;
	}
	se->host_pos = sl_arena_array(d->a, se->n_hosts, sizeof(*se->host_pos));
	for (size_t i = 0; se->host_pos && i < se->n_hosts; i++) {
		size_t old = sl_dec_push_key(d, "hosts");
		size_t o2 = sl_dec_push_idx(d, i);

		sl_dec_pos(d, x->items[i], &se->host_pos[i]);
		if (strchr(se->hosts[i], '*')) {
			sl_dec_err(d, x->items[i],
				   "wildcard hosts are not supported");
			ok = false;
		}
		sl_dec_pop(d, o2);
		sl_dec_pop(d, old);
	}
	if (sl_dec_cidrs(d, spec, "addresses", &se->addresses,
			 &se->n_addresses) < 0 ||
	    sl_dec_strlist(d, spec, "exportTo", &list, &n) < 0 ||
	    sl_dec_strlist(d, spec, "subjectAltNames", &list, &n) < 0)
		ok = false;
	switch (sl_dec_enum(d, spec, "location", locs, &v)) {
	case 1:
		se->external = v == 0;
		break;
	case -1:
		ok = false;
	}
	se->resolution = SL_RES_NONE;
	switch (sl_dec_enum(d, spec, "resolution", res, &v)) {
	case 1:
		if (v >= 2) {
			sl_dec_key_err(d, sl_ymap_get(spec, "resolution"),
				       "resolution",
				       "%s is not supported (sluice does not resolve DNS; use STATIC or NONE)",
				       res[v]);
			ok = false;
		}
		se->resolution = v == 1 ? SL_RES_STATIC : SL_RES_NONE;
		break;
	case -1:
		ok = false;
	}
	x = sl_ymap_get(spec, "ports");
	if (x) {
		size_t old = sl_dec_push_key(d, "ports");

		ok &= sl_se_ports(d, x, se);
		sl_dec_pop(d, old);
	}
	x = sl_ymap_get(spec, "endpoints");
	if (x) {
		size_t old = sl_dec_push_key(d, "endpoints");

		ok &= sl_se_eps(d, x, se);
		sl_dec_pop(d, old);
	}
	x = sl_ymap_get(spec, "workloadSelector");
	if (x) {
		size_t old = sl_dec_push_key(d, "workloadSelector");

		se->has_selector = true;
		if (!sl_dec_fields(d, x, wk, NULL) ||
		    sl_dec_labels(d, x, "labels", &se->selector,
				  &se->n_selector) < 0)
			ok = false;
		if (sl_ymap_get(spec, "endpoints")) {
			sl_dec_err(d, x, "endpoints and workloadSelector are mutually exclusive");
			ok = false;
		}
		sl_dec_pop(d, old);
	}
	return ok;
}

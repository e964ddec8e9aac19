/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kubernetes discovery.k8s.io/v1 EndpointSlice: the endpoints of a Service
 * without a selector (written by hand, or mirrored from an Endpoints
 * object), named by the label kubernetes.io/service-name.  Slices the
 * EndpointSlice controller derives from a selector are skipped with a
 * warning: sluice derives the same endpoints from the workloads.
 * The fields sit at the top level (no spec).
 */
#include <string.h>

#include "config_internal.h"

#define SL_EPS_MANAGED_BY "endpointslice.kubernetes.io/managed-by"
#define SL_EPS_CONTROLLER "endpointslice-controller.k8s.io"

static bool sl_eps_conditions(struct sl_dec *d, const struct sl_ynode *it,
			      struct sl_eps_ep *ep)
{
	static const char *const known[] = { "ready", "serving", "terminating",
					     NULL };
	const struct sl_ynode *c = sl_ymap_get(it, "conditions");
	size_t old;
	bool ok = true, b;

	ep->ready = true; /* absent: ready, as kube-proxy reads it */
	if (!c || sl_ynode_is_null(c))
		return true;
	old = sl_dec_push_key(d, "conditions");
	if (!sl_dec_fields(d, c, known, NULL)) {
		sl_dec_pop(d, old);
		return false;
	}
	switch (sl_dec_bool(d, c, "ready", &b)) {
	case 1:
		ep->ready = b;
		break;
	case -1:
		ok = false;
	}
	/* terminating: no new connections, whatever ready says */
	switch (sl_dec_bool(d, c, "terminating", &b)) {
	case 1:
		if (b)
			ep->ready = false;
		break;
	case -1:
		ok = false;
	}
	if (sl_dec_bool(d, c, "serving", &b) < 0)
		ok = false;
	sl_dec_pop(d, old);
	return ok;
}

static bool sl_eps_endpoints(struct sl_dec *d, const struct sl_ynode *x,
			     int family, struct sl_eps *e)
{
	static const char *const known[] = {
		"addresses", "conditions", "hostname", "nodeName", "zone",
		"hints", "targetRef", "deprecatedTopology", NULL
	};
	bool ok = true;

	if (!sl_dec_is_seq(d, x))
		return false;
	e->eps = sl_arena_array(d->a, x->n, sizeof(*e->eps));
	if (x->n && !e->eps)
		return false;
	for (size_t i = 0; i < x->n; i++) {
		const struct sl_ynode *it = x->items[i], *a;
		struct sl_eps_ep *ep = &e->eps[e->n_eps];
		size_t old = sl_dec_push_idx(d, i), o2;
		const char **addrs;
		size_t n_addrs = 0;

		if (!sl_dec_fields(d, it, known, NULL)) {
			ok = false;
			goto next;
		}
		sl_dec_pos(d, it, &ep->pos);
		if (sl_dec_strlist(d, it, "addresses", &addrs, &n_addrs) != 1 ||
		    !n_addrs) {
			if (!n_addrs)
				sl_dec_key_err(d, it, "addresses",
					       "at least one address is required");
			ok = false;
			goto next;
		}
		a = sl_ymap_get(it, "addresses");
		o2 = sl_dec_push_key(d, "addresses");
		sl_dec_push_idx(d, 0);
		if (sl_dec_v_ip(d, a->items[0], &ep->address) < 0) {
			ok = false;
		} else if (ep->address.family != family) {
			sl_dec_err(d, a->items[0], "\"%s\" is not an %s address (addressType)",
				   addrs[0], family == AF_INET ? "IPv4" : "IPv6");
			ok = false;
		}
		sl_dec_pop(d, o2);
		if (n_addrs > 1) {
			o2 = sl_dec_push_key(d, "addresses");
			sl_dec_warn(d, a->items[1],
				    "only the first address is used (as kube-proxy does): %zu more have no effect",
				    n_addrs - 1);
			sl_dec_pop(d, o2);
		}
		if (!sl_eps_conditions(d, it, ep))
			ok = false;
		if (ok)
			e->n_eps++;
next:
		sl_dec_pop(d, old);
	}
	return ok;
}

static bool sl_eps_ports(struct sl_dec *d, const struct sl_ynode *x,
			 struct sl_eps *e)
{
	static const char *const known[] = { "name", "port", "protocol",
					     "appProtocol", NULL };
	bool ok = true;

	if (!sl_dec_is_seq(d, x))
		return false;
	e->ports = sl_arena_array(d->a, x->n, sizeof(*e->ports));
	if (x->n && !e->ports)
		return false;
	for (size_t i = 0; i < x->n; i++) {
		const struct sl_ynode *it = x->items[i];
		struct sl_portmap *p = &e->ports[e->n_ports];
		size_t old = sl_dec_push_idx(d, i);
		const char *s;

		if (!sl_dec_fields(d, it, known, NULL)) {
			ok = false;
			goto next;
		}
		if (sl_dec_port(d, it, "port", &p->port) != 1) {
			if (!sl_ymap_get(it, "port") ||
			    sl_ynode_is_null(sl_ymap_get(it, "port")))
				sl_dec_key_err(d, it, "port",
					       "required by sluice (a port left open means every port; sluice needs the one to connect to)");
			ok = false;
			goto next;
		}
		if (sl_dec_str(d, it, "name", &p->name) < 0 ||
		    sl_dec_str(d, it, "appProtocol", &s) < 0) {
			ok = false;
			goto next;
		}
		if (!p->name)
			p->name = "";
		if (!sl_dec_tcp_only(d, it)) {
			ok = false;
			goto next;
		}
		for (size_t j = 0; j < e->n_ports; j++)
			if (!strcmp(e->ports[j].name, p->name)) {
				sl_dec_key_err(d, sl_ymap_get(it, "name"), "name",
					       "duplicate port name \"%s\"",
					       p->name);
				ok = false;
				goto next;
			}
		e->n_ports++;
next:
		sl_dec_pop(d, old);
	}
	return ok;
}

bool sl_kind_endpointslice(struct sl_dec *d, const struct sl_ynode *root,
			   struct sl_eps *e)
{
	static const char *const types[] = { "IPv4", "IPv6", "FQDN", NULL };
	const char *managed = sl_labels_get(e->r.labels, e->r.n_labels,
					    SL_EPS_MANAGED_BY);
	const struct sl_ynode *x;
	bool ok = true;
	int family = 0, t;

	e->service = sl_labels_get(e->r.labels, e->r.n_labels,
				   SL_EPS_SERVICE_NAME);
	switch (sl_dec_enum(d, root, "addressType", types, &t)) {
	case 0:
		sl_dec_key_err(d, root, "addressType", "required field is missing");
		return false;
	case -1:
		return false;
	}
	if (t == 2) {
		sl_dec_key_err(d, sl_ymap_get(root, "addressType"), "addressType",
			       "FQDN is not supported (sluice routes to addresses, it resolves no names)");
		return false;
	}
	family = t == 0 ? AF_INET : AF_INET6;
	x = sl_ymap_get(root, "endpoints");
	if (x && !sl_ynode_is_null(x)) {
		size_t old = sl_dec_push_key(d, "endpoints");

		ok = sl_eps_endpoints(d, x, family, e) && ok;
		sl_dec_pop(d, old);
	}
	x = sl_ymap_get(root, "ports");
	if (x && !sl_ynode_is_null(x)) {
		size_t old = sl_dec_push_key(d, "ports");

		ok = sl_eps_ports(d, x, e) && ok;
		sl_dec_pop(d, old);
	}
	if (!ok)
		return false;
	if (managed && !strcmp(managed, SL_EPS_CONTROLLER)) {
		/* derived from the Service's selector: the same endpoints are
		   the workloads the selector picks */
		e->skip = true;
		sl_dec_warn(d, root,
			    "managed by the EndpointSlice controller (label %s): sluice derives the same endpoints from the Service's selector and the workloads; this slice has no effect",
			    SL_EPS_MANAGED_BY);
	} else if (!e->service || !*e->service) {
		e->skip = true;
		sl_dec_warn(d, root,
			    "no label %s: it belongs to no Service and has no effect",
			    SL_EPS_SERVICE_NAME);
	}
	return true;
}

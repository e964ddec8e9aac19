/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PeerAuthentication and AuthorizationPolicy (security.istio.io).
 * sluice sees connections, not requests: an AuthorizationPolicy field it
 * cannot check at L4 (paths, methods, hosts, request principals, ...) is an
 * error, because silently ignoring a security rule opens a hole.
 */
#include <string.h>

#include "config_internal.h"

#define SL_NOT_L4 "cannot be enforced at L4 (sluice sees connections, not HTTP requests)"

static const char *const sl_mtls_names[] = { "UNSET", "STRICT", "PERMISSIVE",
					     "DISABLE", NULL };

static bool sl_dec_selector(struct sl_dec *d, const struct sl_ynode *spec,
			    bool *has, struct sl_label **sel, size_t *n)
{
	static const char *const known[] = { "matchLabels", NULL };
	static const char *const unsup[] = {
		"matchExpressions", "is not supported (use matchLabels)", NULL
	};
	const struct sl_ynode *x = sl_ymap_get(spec, "selector");
	size_t old;
	bool ok = true;

	if (!x)
		return true;
	old = sl_dec_push_key(d, "selector");
	*has = true;
	if (!sl_dec_fields(d, x, known, unsup) ||
	    sl_dec_labels(d, x, "matchLabels", sel, n) < 0)
		ok = false;
	sl_dec_pop(d, old);
	return ok;
}

static bool sl_dec_mtls(struct sl_dec *d, const struct sl_ynode *x,
			enum sl_mtls_mode *mode)
{
	static const char *const known[] = { "mode", NULL };
	int v;

	if (!sl_dec_fields(d, x, known, NULL))
		return false;
	switch (sl_dec_enum(d, x, "mode", sl_mtls_names, &v)) {
	case 1:
		*mode = (enum sl_mtls_mode)v;
		return true;
	case 0:
		*mode = SL_MTLS_UNSET;
		return true;
	}
	return false;
}

bool sl_kind_peerauthentication(struct sl_dec *d, const struct sl_ynode *spec,
				struct sl_pa *pa)
{
	static const char *const known[] = { "selector", "mtls",
					     "portLevelMtls", NULL };
	static const char *const unsup[] = {
		"targetRef", "is not supported (use selector)",
		"targetRefs", "is not supported (use selector)", NULL
	};
	const struct sl_ynode *x;
	bool ok;

	if (!spec)
		return true; /* applies UNSET to its scope */
	ok = sl_dec_fields(d, spec, known, unsup);
	ok &= sl_dec_selector(d, spec, &pa->has_selector, &pa->selector,
			      &pa->n_selector);
	x = sl_ymap_get(spec, "mtls");
	if (x) {
		size_t old = sl_dec_push_key(d, "mtls");

		ok &= sl_dec_mtls(d, x, &pa->mode);
		sl_dec_pop(d, old);
	}
	x = sl_ymap_get(spec, "portLevelMtls");
	if (x) {
		size_t old = sl_dec_push_key(d, "portLevelMtls");

		if (!pa->has_selector) {
			sl_dec_err(d, x, "portLevelMtls needs a selector (as in Istio)");
			ok = false;
		}
		if (sl_dec_is_map(d, x)) {
			pa->ports = sl_arena_array(d->a, x->n, sizeof(*pa->ports));
			for (size_t i = 0; pa->ports && i < x->n; i++) {
				size_t o2 = sl_dec_push_mapkey(d, x->items[2 * i]->str);

				if (sl_dec_v_uint(d, x->items[2 * i], 1, 65535,
						  &pa->ports[i].port) < 0 ||
				    !sl_dec_mtls(d, x->items[2 * i + 1],
						 &pa->ports[i].mode))
					ok = false;
				sl_dec_pop(d, o2);
			}
			pa->n_ports = x->n;
		} else {
			ok = false;
		}
		sl_dec_pop(d, old);
	}
	return ok;
}

static const char *const sl_ap_source_l7[] = {
	"requestPrincipals", SL_NOT_L4, "notRequestPrincipals", SL_NOT_L4,
	"remoteIpBlocks", SL_NOT_L4, "notRemoteIpBlocks", SL_NOT_L4, NULL
};

static bool sl_ap_source(struct sl_dec *d, const struct sl_ynode *x,
			 struct sl_ap_source *s)
{
	static const char *const known[] = { "source", NULL };
	static const char *const sk[] = { "principals", "notPrincipals",
					  "namespaces", "notNamespaces",
					  "ipBlocks", "notIpBlocks", NULL };
	const struct sl_ynode *src;
	size_t old;
	bool ok = true;

	if (!sl_dec_fields(d, x, known, NULL))
		return false;
	src = sl_ymap_get(x, "source");
	if (!src) {
		sl_dec_key_err(d, x, "source", "required field is missing");
		return false;
	}
	old = sl_dec_push_key(d, "source");
	if (!sl_dec_fields(d, src, sk, sl_ap_source_l7) ||
	    sl_dec_strlist(d, src, "principals", &s->principals,
			   &s->n_principals) < 0 ||
	    sl_dec_strlist(d, src, "notPrincipals", &s->not_principals,
			   &s->n_not_principals) < 0 ||
	    sl_dec_strlist(d, src, "namespaces", &s->namespaces,
			   &s->n_namespaces) < 0 ||
	    sl_dec_strlist(d, src, "notNamespaces", &s->not_namespaces,
			   &s->n_not_namespaces) < 0 ||
	    sl_dec_cidrs(d, src, "ipBlocks", &s->ip_blocks,
			 &s->n_ip_blocks) < 0 ||
	    sl_dec_cidrs(d, src, "notIpBlocks", &s->not_ip_blocks,
			 &s->n_not_ip_blocks) < 0)
		ok = false;
	sl_dec_pop(d, old);
	return ok;
}

static int sl_ap_ports(struct sl_dec *d, const struct sl_ynode *map,
		       const char *key, uint32_t **out, size_t *n)
{
	const struct sl_ynode *v = sl_ymap_get(map, key);
	size_t old;
	int ret = 1;

	if (!v)
		return 0;
	old = sl_dec_push_key(d, key);
	if (!sl_dec_is_seq(d, v)) {
		sl_dec_pop(d, old);
		return -1;
	}
	*out = sl_arena_array(d->a, v->n, sizeof(**out));
	for (size_t i = 0; *out && i < v->n; i++) {
		size_t o2 = sl_dec_push_idx(d, i);

		/* Istio writes ports as strings: ["8080"]; numbers work too */
		if (sl_dec_v_uint(d, v->items[i], 1, 65535, &(*out)[i]) < 0)
			ret = -1;
		sl_dec_pop(d, o2);
	}
	*n = v->n;
	sl_dec_pop(d, old);
	return ret;
}

static bool sl_ap_op(struct sl_dec *d, const struct sl_ynode *x,
		     struct sl_ap_op *op)
{
	static const char *const known[] = { "operation", NULL };
	static const char *const ok_keys[] = { "ports", "notPorts", NULL };
	static const char *const l7[] = {
		"hosts", SL_NOT_L4, "notHosts", SL_NOT_L4,
		"paths", SL_NOT_L4, "notPaths", SL_NOT_L4,
		"methods", SL_NOT_L4, "notMethods", SL_NOT_L4, NULL
	};
	const struct sl_ynode *o;
	size_t old;
	bool ok = true;

	if (!sl_dec_fields(d, x, known, NULL))
		return false;
	o = sl_ymap_get(x, "operation");
	if (!o) {
		sl_dec_key_err(d, x, "operation", "required field is missing");
		return false;
	}
	old = sl_dec_push_key(d, "operation");
	if (!sl_dec_fields(d, o, ok_keys, l7) ||
	    sl_ap_ports(d, o, "ports", &op->ports, &op->n_ports) < 0 ||
	    sl_ap_ports(d, o, "notPorts", &op->not_ports, &op->n_not_ports) < 0)
		ok = false;
	sl_dec_pop(d, old);
	return ok;
}

static bool sl_ap_when(struct sl_dec *d, const struct sl_ynode *x,
		       struct sl_ap_cond *c)
{
	static const char *const known[] = { "key", "values", "notValues",
					     NULL };
	static const char *const keys[] = { "source.ip", "source.namespace",
					    "source.principal",
					    "destination.port", NULL };
	const char *key;
	bool ok = true;
	int k;

	if (!sl_dec_fields(d, x, known, NULL))
		return false;
	switch (sl_dec_str(d, x, "key", &key)) {
	case 0:
		sl_dec_key_err(d, x, "key", "required field is missing");
		__attribute__((fallthrough));
	case -1:
		return false;
	}
	for (k = 0; keys[k]; k++)
		if (strcmp(key, keys[k]) == 0)
			break;
	if (!keys[k]) {
		sl_dec_key_err(d, sl_ymap_get(x, "key"), "key",
			       "condition \"%s\" " SL_NOT_L4
			       "; sluice supports source.ip, source.namespace, source.principal, destination.port",
			       key);
		return false;
	}
	c->key = (enum sl_ap_key)k;
	if (sl_dec_strlist(d, x, "values", &c->values, &c->n_values) < 0 ||
	    sl_dec_strlist(d, x, "notValues", &c->not_values,
			   &c->n_not_values) < 0)
		return false;
	/* the values must parse for the key */
	for (int neg = 0; neg < 2; neg++) {
		const char **v = neg ? c->not_values : c->values;
		size_t n = neg ? c->n_not_values : c->n_values;
		const struct sl_ynode *vn = sl_ymap_get(x, neg ? "notValues" :
								 "values");

		for (size_t i = 0; i < n; i++) {
			struct sl_cidr cidr;
			uint32_t port;
			bool bad = false;
			size_t old;

			if (c->key == SL_AP_SOURCE_IP)
				bad = sl_cidr_parse(v[i], &cidr) < 0;
			if (c->key != SL_AP_DESTINATION_PORT && !bad)
				continue;
			old = sl_dec_push_key(d, neg ? "notValues" : "values");
			sl_dec_push_idx(d, i);
			if (bad)
				sl_dec_err(d, vn->items[i],
					   "\"%s\" is not an IP address or CIDR", v[i]);
			else if (sl_dec_v_uint(d, vn->items[i], 1, 65535,
					       &port) < 0)
				bad = true;
			sl_dec_pop(d, old);
			ok &= !bad;
		}
	}
	return ok;
}

#define SL_AP_LIST(d, map, key, ARR, CNT, fn)                                    \
	({                                                                     \
		const struct sl_ynode *l_ = sl_ymap_get(map, key);             \
		bool ok_ = true;                                               \
		if (l_) {                                                      \
			size_t o_ = sl_dec_push_key(d, key);                   \
			if (!sl_dec_is_seq(d, l_)) {                           \
				ok_ = false;                                   \
			} else {                                               \
				ARR = sl_arena_array((d)->a, l_->n,            \
						     sizeof(*(ARR)));          \
				for (size_t i_ = 0; ARR && i_ < l_->n; i_++) { \
					size_t o2_ = sl_dec_push_idx(d, i_);   \
					ok_ &= fn(d, l_->items[i_],            \
						  &(ARR)[i_]);                 \
					sl_dec_pop(d, o2_);                    \
				}                                              \
				CNT = l_->n;                                   \
			}                                                      \
			sl_dec_pop(d, o_);                                     \
		}                                                              \
		ok_;                                                           \
	})

static bool sl_ap_rule(struct sl_dec *d, const struct sl_ynode *x,
		       struct sl_ap_rule *r)
{
	static const char *const known[] = { "from", "to", "when", NULL };
	bool ok;

	if (!sl_dec_fields(d, x, known, NULL))
		return false;
	ok = SL_AP_LIST(d, x, "from", r->from, r->n_from, sl_ap_source);
	ok &= SL_AP_LIST(d, x, "to", r->to, r->n_to, sl_ap_op);
	ok &= SL_AP_LIST(d, x, "when", r->when, r->n_when, sl_ap_when);
	return ok;
}

bool sl_kind_authorizationpolicy(struct sl_dec *d, const struct sl_ynode *spec,
				 struct sl_ap *ap)
{
	static const char *const known[] = { "selector", "action", "rules",
					     NULL };
	static const char *const unsup[] = {
		"targetRef", "is not supported (use selector)",
		"targetRefs", "is not supported (use selector)",
		"provider", "is not supported (CUSTOM authorization)", NULL
	};
	static const char *const actions[] = { "ALLOW", "DENY", "AUDIT",
					       "CUSTOM", NULL };
	bool ok;
	int a;

	if (!spec)
		return true; /* an empty ALLOW policy: allow nothing */
	ok = sl_dec_fields(d, spec, known, unsup);
	ok &= sl_dec_selector(d, spec, &ap->has_selector, &ap->selector,
			      &ap->n_selector);
	switch (sl_dec_enum(d, spec, "action", actions, &a)) {
	case 1:
		if (a >= 2) {
			sl_dec_key_err(d, sl_ymap_get(spec, "action"), "action",
				       "%s is not supported (only ALLOW and DENY)",
				       actions[a]);
			ok = false;
		}
		ap->deny = a == 1;
		break;
	case -1:
		ok = false;
	}
	ok &= SL_AP_LIST(d, spec, "rules", ap->rules, ap->n_rules, sl_ap_rule);
	return ok;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Decoding PeerAuthentication and AuthorizationPolicy (security.istio.io),
 * with Istio's validation.  An AuthorizationPolicy field sluice cannot
 * enforce (request principals and JWT claims, connection.sni, CUSTOM, ...)
 * is an error that says why: silently ignoring a security rule opens a
 * hole.  authz.c evaluates the decoded policies.
 */
#include <string.h>

#include "config_internal.h"

#define SL_NO_JWT "needs RequestAuthentication (JWT), which sluice does not support"

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

/* what one string of an AuthorizationPolicy list must look like */
enum sl_ap_str_kind {
	SL_AP_STR_ANY,	   /* non-empty (Istio's CheckEmptyValues) */
	SL_AP_STR_PATTERN, /* also "*", "prefix*", "*suffix" or exact */
	SL_AP_STR_PATH,	   /* also a path: "/..." or a "*" form */
};

/* the value's error, or NULL when @v is valid as @kind */
static const char *sl_ap_str_check(const char *v, enum sl_ap_str_kind kind)
{
	size_t len = strlen(v);
	const char *star;

	if (!len)
		return "empty value not allowed (as in Istio)";
	if (kind == SL_AP_STR_ANY)
		return NULL;
	if (kind == SL_AP_STR_PATH && (strstr(v, "{*}") || strstr(v, "{**}")))
		return "path templates ({*}, {**}) are not supported by sluice; use \"prefix*\" or \"*suffix\"";
	/* Istio's matchers know exact, "prefix*", "*suffix" and "*": a "*"
	 * elsewhere would be matched literally and surprise a DENY rule */
	star = strchr(v, '*');
	if (star && len > 1 &&
	    ((star != v && star != v + len - 1) ||
	     (v[0] == '*' && v[len - 1] == '*')))
		return "a \"*\" may only be the whole value, its first or its last character (Istio matches \"*\", \"prefix*\", \"*suffix\" or the exact string)";
	if (kind != SL_AP_STR_PATH)
		return NULL;
	if (strpbrk(v, "{}"))
		return "contains '{' or '}' (Istio refuses them outside a path template)";
	if (v[0] != '/' && v[0] != '*')
		return "does not start with \"/\" (a request path always does, so it would never match)";
	return NULL;
}

/* a list of strings at @key, each checked as @kind: 1, 0 absent, -1 */
static int sl_ap_strs(struct sl_dec *d, const struct sl_ynode *map,
		      const char *key, enum sl_ap_str_kind kind,
		      const char ***out, size_t *n)
{
	const struct sl_ynode *l = sl_ymap_get(map, key);
	int ret = sl_dec_strlist(d, map, key, out, n);

	if (ret <= 0)
		return ret;
	for (size_t i = 0; i < *n; i++) {
		const char *why = sl_ap_str_check((*out)[i], kind);
		size_t old;

		if (!why)
			continue;
		old = sl_dec_push_key(d, key);
		sl_dec_push_idx(d, i);
		sl_dec_err(d, l->items[i], "\"%s\": %s", (*out)[i], why);
		sl_dec_pop(d, old);
		ret = -1;
	}
	return ret;
}

static bool sl_ap_source(struct sl_dec *d, const struct sl_ynode *x,
			 struct sl_ap_source *s)
{
	static const char *const known[] = { "source", NULL };
	static const char *const sk[] = {
		"principals", "notPrincipals", "namespaces", "notNamespaces",
		"ipBlocks", "notIpBlocks", "remoteIpBlocks",
		"notRemoteIpBlocks", NULL
	};
	static const char *const unsup[] = {
		"requestPrincipals", SL_NO_JWT,
		"notRequestPrincipals", SL_NO_JWT,
		"serviceAccounts", "is not supported by sluice (use principals)",
		"notServiceAccounts",
		"is not supported by sluice (use notPrincipals)", NULL
	};
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
	ok = sl_dec_fields(d, src, sk, unsup);
	/* every list is checked, so that every error is reported */
	ok &= sl_ap_strs(d, src, "principals", SL_AP_STR_ANY, &s->principals,
			 &s->n_principals) >= 0;
	ok &= sl_ap_strs(d, src, "notPrincipals", SL_AP_STR_ANY,
			 &s->not_principals, &s->n_not_principals) >= 0;
	ok &= sl_ap_strs(d, src, "namespaces", SL_AP_STR_ANY, &s->namespaces,
			 &s->n_namespaces) >= 0;
	ok &= sl_ap_strs(d, src, "notNamespaces", SL_AP_STR_ANY,
			 &s->not_namespaces, &s->n_not_namespaces) >= 0;
	ok &= sl_dec_cidrs(d, src, "ipBlocks", &s->ip_blocks,
			   &s->n_ip_blocks) >= 0;
	ok &= sl_dec_cidrs(d, src, "notIpBlocks", &s->not_ip_blocks,
			   &s->n_not_ip_blocks) >= 0;
	ok &= sl_dec_cidrs(d, src, "remoteIpBlocks", &s->remote_ip_blocks,
			   &s->n_remote_ip_blocks) >= 0;
	ok &= sl_dec_cidrs(d, src, "notRemoteIpBlocks",
			   &s->not_remote_ip_blocks,
			   &s->n_not_remote_ip_blocks) >= 0;
	if (ok && !s->n_principals && !s->n_not_principals &&
	    !s->n_namespaces && !s->n_not_namespaces && !s->n_ip_blocks &&
	    !s->n_not_ip_blocks && !s->n_remote_ip_blocks &&
	    !s->n_not_remote_ip_blocks) {
		sl_dec_err(d, src, "source must not be empty (as in Istio); leave out \"from\" to match every source");
		ok = false;
	}
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
	static const char *const ok_keys[] = { "hosts", "notHosts", "ports",
					       "notPorts", "methods",
					       "notMethods", "paths",
					       "notPaths", NULL };
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
	ok = sl_dec_fields(d, o, ok_keys, NULL);
	ok &= sl_ap_strs(d, o, "hosts", SL_AP_STR_PATTERN, &op->hosts,
			 &op->n_hosts) >= 0;
	ok &= sl_ap_strs(d, o, "notHosts", SL_AP_STR_PATTERN, &op->not_hosts,
			 &op->n_not_hosts) >= 0;
	ok &= sl_ap_ports(d, o, "ports", &op->ports, &op->n_ports) >= 0;
	ok &= sl_ap_ports(d, o, "notPorts", &op->not_ports,
			  &op->n_not_ports) >= 0;
	ok &= sl_ap_strs(d, o, "methods", SL_AP_STR_PATTERN, &op->methods,
			 &op->n_methods) >= 0;
	ok &= sl_ap_strs(d, o, "notMethods", SL_AP_STR_PATTERN,
			 &op->not_methods, &op->n_not_methods) >= 0;
	ok &= sl_ap_strs(d, o, "paths", SL_AP_STR_PATH, &op->paths,
			 &op->n_paths) >= 0;
	ok &= sl_ap_strs(d, o, "notPaths", SL_AP_STR_PATH, &op->not_paths,
			 &op->n_not_paths) >= 0;
	if (ok && !op->n_hosts && !op->n_not_hosts && !op->n_ports &&
	    !op->n_not_ports && !op->n_methods && !op->n_not_methods &&
	    !op->n_paths && !op->n_not_paths) {
		sl_dec_err(d, o, "operation must not be empty (as in Istio); leave out \"to\" to match every operation");
		ok = false;
	}
	sl_dec_pop(d, old);
	return ok;
}

/* an HTTP header name (RFC 9110 token) */
static bool sl_ap_token(const char *s, size_t len)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";

	if (!len)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || (c && strchr(extra, c))))
			return false;
	}
	return true;
}

/* the key of a when condition: 0, or -1 (reported) */
static int sl_ap_when_key(struct sl_dec *d, const struct sl_ynode *at,
			  const char *key, struct sl_ap_cond *c)
{
	static const struct {
		const char *name;
		enum sl_ap_key key;
	} keys[] = {
		{ "source.ip", SL_AP_SOURCE_IP },
		{ "remote.ip", SL_AP_REMOTE_IP },
		{ "source.namespace", SL_AP_SOURCE_NAMESPACE },
		{ "source.principal", SL_AP_SOURCE_PRINCIPAL },
		{ "destination.ip", SL_AP_DESTINATION_IP },
		{ "destination.port", SL_AP_DESTINATION_PORT },
	};
	static const char hdr[] = "request.headers";
	const char *why = NULL;

	for (size_t k = 0; k < SL_ARRAY_SIZE(keys); k++)
		if (!strcmp(key, keys[k].name)) {
			c->key = keys[k].key;
			return 0;
		}
	if (!strncmp(key, hdr, sizeof(hdr) - 1)) {
		const char *b = key + sizeof(hdr) - 1;
		size_t len = strlen(b);
		char *name;

		if (len < 3 || b[0] != '[' || b[len - 1] != ']' ||
		    !sl_ap_token(b + 1, len - 2)) {
			sl_dec_key_err(d, at, "key",
				       "condition key \"%s\": expected request.headers[<header name>], the name an HTTP token",
				       key);
			return -1;
		}
		name = sl_arena_strndup(d->a, b + 1, len - 2);
		if (!name)
			return -1;
		for (char *p = name; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		c->key = SL_AP_REQUEST_HEADER;
		c->header = name;
		return 0;
	}
	if (!strncmp(key, "request.auth.", 13))
		why = SL_NO_JWT;
	else if (!strcmp(key, "connection.sni"))
		why = "is not supported by sluice (the destination does not see the client's TLS server name)";
	else if (!strncmp(key, "experimental.", 13))
		why = "is not supported by sluice (Envoy filter metadata)";
	else if (!strcmp(key, "source.serviceAccount"))
		why = "is not supported by sluice (use source.principal)";
	else if (!strcmp(key, "destination.namespace"))
		why = "is replaced by the policy's metadata.namespace (as in Istio)";
	else if (!strncmp(key, "destination.labels", 18))
		why = "is replaced by the workload selector (as in Istio)";
	else if (!strcmp(key, "destination.name") ||
		 !strcmp(key, "destination.user"))
		why = "is deprecated: only Istio's v1alpha1 had it";
	if (why)
		sl_dec_key_err(d, at, "key", "condition \"%s\" %s", key, why);
	else
		sl_dec_key_err(d, at, "key",
			       "unknown condition key \"%s\"; sluice supports request.headers[<name>], source.ip, remote.ip, source.namespace, source.principal, destination.ip, destination.port",
			       key);
	return -1;
}

static bool sl_ap_when(struct sl_dec *d, const struct sl_ynode *x,
		       struct sl_ap_cond *c)
{
	static const char *const known[] = { "key", "values", "notValues",
					     NULL };
	enum sl_ap_str_kind kind;
	const char *key;
	bool ok = true;

	if (!sl_dec_fields(d, x, known, NULL))
		return false;
	switch (sl_dec_str(d, x, "key", &key)) {
	case 0:
		sl_dec_key_err(d, x, "key", "required field is missing");
		__attribute__((fallthrough));
	case -1:
		return false;
	}
	if (sl_ap_when_key(d, sl_ymap_get(x, "key"), key, c) < 0)
		return false;
	kind = c->key == SL_AP_REQUEST_HEADER ? SL_AP_STR_PATTERN :
						SL_AP_STR_ANY;
	ok &= sl_ap_strs(d, x, "values", kind, &c->values, &c->n_values) >= 0;
	ok &= sl_ap_strs(d, x, "notValues", kind, &c->not_values,
			 &c->n_not_values) >= 0;
	if (!ok)
		return false;
	if (!c->n_values && !c->n_not_values) {
		sl_dec_err(d, x, "condition \"%s\": at least one of values or notValues must be set (as in Istio)",
			   key);
		return false;
	}
	/* the values must parse for the key */
	for (int neg = 0; neg < 2; neg++) {
		const char **v = neg ? c->not_values : c->values;
		size_t n = neg ? c->n_not_values : c->n_values;
		const struct sl_ynode *vn = sl_ymap_get(x, neg ? "notValues" :
								 "values");

		for (size_t i = 0; i < n; i++) {
			struct sl_cidr cidr;
			uint32_t port;
			bool bad = false, ip;
			size_t old;

			ip = c->key == SL_AP_SOURCE_IP ||
			     c->key == SL_AP_REMOTE_IP ||
			     c->key == SL_AP_DESTINATION_IP;
			if (ip)
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
	/* Istio refuses an empty list: it would read as "any" */
	ok = true;
	for (size_t k = 0; k < 2; k++) {
		const char *key = k ? "to" : "from";
		const struct sl_ynode *l = sl_ymap_get(x, key);

		if (l && l->type == SL_YSEQ && !l->n) {
			sl_dec_key_err(d, l, key,
				       "%s must not be empty (as in Istio); leave it out to match every %s",
				       key, k ? "operation" : "source");
			ok = false;
		}
	}
	ok &= SL_AP_LIST(d, x, "from", r->from, r->n_from, sl_ap_source);
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

	ap->action = SL_AP_ALLOW;
	if (!spec)
		return true; /* an empty ALLOW policy: allow nothing */
	ok = sl_dec_fields(d, spec, known, unsup);
	ok &= sl_dec_selector(d, spec, &ap->has_selector, &ap->selector,
			      &ap->n_selector);
	switch (sl_dec_enum(d, spec, "action", actions, &a)) {
	case 1:
		if (a == 3) {
			sl_dec_key_err(d, sl_ymap_get(spec, "action"), "action",
				       "CUSTOM is not supported (sluice has no external authorization; use ALLOW, DENY or AUDIT)");
			ok = false;
		}
		ap->action = a == 1 ? SL_AP_DENY :
			     a == 2 ? SL_AP_AUDIT : SL_AP_ALLOW;
		break;
	case -1:
		ok = false;
	}
	ok &= SL_AP_LIST(d, spec, "rules", ap->rules, ap->n_rules, sl_ap_rule);
	if (ok && ap->action == SL_AP_DENY && !ap->n_rules) {
		sl_dec_key_err(d, sl_ymap_get(spec, "action"), "action",
			       "DENY without rules would never match (as in Istio, an error); add an empty rule {} to deny every request");
		ok = false;
	}
	return ok;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * VirtualService (networking.istio.io): hosts, http[] and tcp[] routes.
 * Fields of Istio's API that sluice cannot honour are errors naming the
 * field, or warnings saying they have no effect (the field ledger,
 * ledger.c); nothing is silently ignored.  Hosts and destinations are
 * resolved later (resolve.c), when every resource is known.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config_internal.h"
#include "hdrs.h"
#include "retry.h"

#define SL_UNSUP_L4 "is not supported: sluice routes connections at L4"

static const char *const sl_vs_http_unsup[] = {
	"mirrors", "is not supported yet (one mirror per rule: use mirror and mirrorPercentage)",
	"mirror_percent", "is not supported (the deprecated spelling: use mirrorPercentage)",
	"corsPolicy", "is not supported yet (sluice's HTTP engine does no CORS)",
	"delegate", "is not supported (VirtualService delegation)",
	NULL
};

/* gateways (spec or match): sluice is the mesh, nothing else; false after
 * an error */
static bool sl_vs_gateways(struct sl_dec *d, const struct sl_ynode *map)
{
	const char **list;
	bool ok = true;
	size_t n;

	switch (sl_dec_strlist(d, map, "gateways", &list, &n)) {
	case 1:
		for (size_t i = 0; i < n; i++)
			if (strcmp(list[i], "mesh") != 0) {
				size_t old = sl_dec_push_key(d, "gateways");
				size_t o2 = sl_dec_push_idx(d, i);

				sl_dec_err(d, sl_ymap_get(map, "gateways")->items[i],
					   "gateways are not supported (only \"mesh\")");
				sl_dec_pop(d, o2);
				sl_dec_pop(d, old);
				ok = false;
			}
		return ok;
	case -1:
		return false;
	}
	return true;
}

static void sl_vs_re_free(void *p)
{
	sl_re_free(p);
}

/*
 * "exact:\"v\"" from a StringMatch, and the match itself into @out (a
 * regex compiled here: a bad one is an error at its own position, with
 * RE2's message); NULL after an error.  @present: "{}" is allowed and
 * means "present" (headers, withoutHeaders, queryParams, as in Istio)
 */
static const char *sl_vs_stringmatch(struct sl_dec *d, const struct sl_ynode *m,
				     struct sl_str_match *out, bool present)
{
	static const char *const known[] = { "exact", "prefix", "regex", NULL };
	static const enum sl_str_match_kind kinds[] = {
		SL_SM_EXACT, SL_SM_PREFIX, SL_SM_REGEX
	};
	const char *val = NULL, *kind = NULL;
	int n = 0, ki = 0;

	if (present && sl_ynode_is_null(m)) {
		out->kind = SL_SM_PRESENT;
		return "present";
	}
	if (!sl_dec_fields(d, m, known, NULL))
		return NULL;
	for (int i = 0; known[i]; i++) {
		const char *v;
		int r = sl_dec_str(d, m, known[i], &v);

		if (r < 0)
			return NULL;
		if (r == 1) {
			n++;
			kind = known[i];
			ki = i;
			val = v;
		}
	}
	if (n == 0 && present) {
		out->kind = SL_SM_PRESENT;
		return "present";
	}
	if (n != 1) {
		sl_dec_err(d, m, present ?
			   "want at most one of exact, prefix, regex" :
			   "want exactly one of exact, prefix, regex");
		return NULL;
	}
	out->kind = kinds[ki];
	out->value = val;
	out->len = strlen(val);
	if (out->kind == SL_SM_REGEX) {
		char msg[256];
		int r = sl_re_compile(val, &out->re, msg, sizeof(msg));

		if (r == -EINVAL) {
			size_t old = sl_dec_push_key(d, "regex");

			sl_dec_err(d, sl_ymap_get(m, "regex"),
				   "invalid regex \"%s\": %s", val, msg);
			sl_dec_pop(d, old);
			return NULL;
		}
		if (r < 0 || sl_arena_defer(d->a, sl_vs_re_free, out->re) < 0) {
			d->a->failed = true;
			out->re = NULL;
			return NULL;
		}
	}
	return sl_arena_printf(d->a, "%s:\"%s\"", kind, val);
}

struct sl_text {
	char buf[2048];
	size_t len;
};

static void sl_text_add(struct sl_text *t, const char *sep, const char *fmt,
			...) __attribute__((format(printf, 3, 4)));

static void sl_text_add(struct sl_text *t, const char *sep, const char *fmt,
			...)
{
	va_list ap;
	int n;

	if (t->len && sep && t->len < sizeof(t->buf)) {
		n = snprintf(t->buf + t->len, sizeof(t->buf) - t->len, "%s", sep);
		if (n > 0)
			t->len = SL_MIN(t->len + (size_t)n, sizeof(t->buf) - 1);
	}
	if (t->len >= sizeof(t->buf) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, sizeof(t->buf) - t->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->len = SL_MIN(t->len + (size_t)n, sizeof(t->buf) - 1);
}

/* headers/queryParams/withoutHeaders: map name -> StringMatch, into
 * @out/@n_out (arena) */
static bool sl_vs_match_map(struct sl_dec *d, const struct sl_ynode *m,
			    const char *key, const char *neg,
			    struct sl_text *t,
			    const struct sl_http_kv_match **out, size_t *n_out)
{
	const struct sl_ynode *v = sl_ymap_get(m, key);
	struct sl_http_kv_match *kv;
	size_t old;
	bool ok = true;

	if (!v)
		return true;
	old = sl_dec_push_key(d, key);
	if (!sl_dec_is_map(d, v)) {
		sl_dec_pop(d, old);
		return false;
	}
	kv = sl_arena_array(d->a, v->n, sizeof(*kv));
	if (!kv) {
		sl_dec_pop(d, old);
		return false;
	}
	for (size_t i = 0; i < v->n; i++) {
		const char *name = v->items[2 * i]->str;
		size_t o2 = sl_dec_push_mapkey(d, name);
		const char *sm = sl_vs_stringmatch(d, v->items[2 * i + 1],
						   &kv[i].m, true);

		kv[i].name = sl_arena_strdup(d->a, name); /* the tree goes */
		if (sm)
			sl_text_add(t, " && ", "%s%s[%s]=%s", neg,
				    strcmp(key, "withoutHeaders") ? key :
								     "headers",
				    name, sm);
		else
			ok = false;
		sl_dec_pop(d, o2);
	}
	*out = kv;
	*n_out = v->n;
	sl_dec_pop(d, old);
	return ok;
}

static bool sl_vs_labels_text(struct sl_dec *d, const struct sl_ynode *m,
			      const char *key, struct sl_text *t,
			      const struct sl_label **out, size_t *n_out)
{
	struct sl_label *l;
	size_t n;
	int r = sl_dec_labels(d, m, key, &l, &n);

	for (size_t i = 0; r == 1 && i < n; i++)
		sl_text_add(t, " && ", "%s[%s]=\"%s\"", key, l[i].key,
			    l[i].value);
	if (r == 1 && out) {
		*out = l;
		*n_out = n;
	}
	return r >= 0;
}

static bool sl_vs_match(struct sl_dec *d, const struct sl_ynode *m, bool tcp,
			struct sl_vs_rule *rule, struct sl_http_match *hm,
			struct sl_text *t)
{
	static const char *const http_known[] = {
		"name", "uri", "scheme", "method", "authority", "headers",
		"port", "sourceLabels", "gateways", "queryParams",
		"ignoreUriCase", "withoutHeaders", "sourceNamespace",
		"statPrefix", NULL
	};
	static const char *const tcp_known[] = {
		"port", "destinationSubnets", "sourceLabels", "sourceNamespace",
		"gateways", "sourceSubnet", NULL
	};
	static const char *const strm[] = { "uri", "scheme", "method",
					    "authority", NULL };
	struct sl_str_match *const strm_out[] = { &hm->uri, &hm->scheme,
						  &hm->method, &hm->authority };
	struct sl_text one = { .len = 0 };
	uint32_t port = 0;
	bool ok = true, b;
	const char *s;

	if (!sl_dec_fields(d, m, tcp ? tcp_known : http_known, NULL))
		return false;
	if (!tcp) {
		for (size_t i = 0; strm[i]; i++) {
			const struct sl_ynode *v = sl_ymap_get(m, strm[i]);
			size_t old;

			if (!v)
				continue;
			old = sl_dec_push_key(d, strm[i]);
			s = sl_vs_stringmatch(d, v, strm_out[i], false);
			if (s)
				sl_text_add(&one, " && ", "%s=%s", strm[i], s);
			else
				ok = false;
			sl_dec_pop(d, old);
		}
		ok &= sl_vs_match_map(d, m, "headers", "", &one, &hm->headers,
				      &hm->n_headers);
		ok &= sl_vs_match_map(d, m, "withoutHeaders", "!", &one,
				      &hm->without_headers,
				      &hm->n_without_headers);
		ok &= sl_vs_match_map(d, m, "queryParams", "", &one, &hm->query,
				      &hm->n_query);
		if (sl_dec_bool(d, m, "ignoreUriCase", &b) < 0) {
			ok = false;
		} else if (sl_ymap_get(m, "ignoreUriCase") && b) {
			sl_text_add(&one, " && ", "ignoreUriCase");
			hm->ignore_uri_case = true;
		}
		if (sl_dec_str(d, m, "name", &s) < 0 ||
		    sl_dec_str(d, m, "statPrefix", &s) < 0)
			ok = false;
	}
	switch (sl_dec_port(d, m, "port", &port)) {
	case 1:
		sl_text_add(&one, " && ", "port=%u", port);
		rule->ports[rule->n_ports++] = port;
		hm->port = (uint16_t)port;
		break;
	case 0:
		rule->any_port = true;
		break;
	default:
		ok = false;
	}
	if (tcp) {
		struct sl_cidr *c;
		size_t n;

		switch (sl_dec_cidrs(d, m, "destinationSubnets", &c, &n)) {
		case 1:
			for (size_t i = 0; i < n; i++) {
				char ip[INET6_ADDRSTRLEN];

				sl_text_add(&one, i ? "," : " && ", "%s%s/%u",
					    i ? "" : "destinationSubnets=",
					    sl_ip_format(&c[i].ip, ip,
							 sizeof(ip)),
					    c[i].prefix);
			}
			break;
		case -1:
			ok = false;
		}
		if (sl_dec_str(d, m, "sourceSubnet", &s) < 0)
			ok = false;
	}
	ok &= sl_vs_labels_text(d, m, "sourceLabels", &one, &hm->src_labels,
				&hm->n_src_labels);
	if (sl_dec_str(d, m, "sourceNamespace", &s) < 0) {
		ok = false;
	} else if (sl_ymap_get(m, "sourceNamespace")) {
		sl_text_add(&one, " && ", "sourceNamespace=\"%s\"", s);
		hm->src_ns = s;
	}
	if (!sl_vs_gateways(d, m))
		ok = false;
	if (one.len == 0)
		sl_text_add(&one, NULL, "*");
	sl_text_add(t, " || ", "%s", one.buf);
	return ok;
}

/* headers: {request: {set, add, remove}, response: {...}} of a rule or a
 * route entry, into @req/@resp */
static bool sl_vs_header_ops(struct sl_dec *d, const struct sl_ynode *h,
			     struct sl_http_header_ops *req,
			     struct sl_http_header_ops *resp)
{
	static const char *const hk[] = { "request", "response", NULL };
	static const char *const ops[] = { "set", "add", "remove", NULL };
	struct sl_http_header_ops *out[] = { req, resp };
	size_t old = sl_dec_push_key(d, "headers");
	bool ok = true;

	if (!sl_dec_fields(d, h, hk, NULL)) {
		sl_dec_pop(d, old);
		return false;
	}
	for (size_t j = 0; hk[j]; j++) {
		const struct sl_ynode *x = sl_ymap_get(h, hk[j]);
		size_t o2 = sl_dec_push_key(d, hk[j]);
		struct sl_label *l;
		const char **rm;
		size_t n;

		if (!x) {
			sl_dec_pop(d, o2);
			continue;
		}
		if (!sl_dec_fields(d, x, ops, NULL)) {
			ok = false;
			sl_dec_pop(d, o2);
			continue;
		}
		switch (sl_dec_labels(d, x, "set", &l, &n)) {
		case 1:
			out[j]->set = l;
			out[j]->n_set = n;
			break;
		case -1:
			ok = false;
		}
		switch (sl_dec_labels(d, x, "add", &l, &n)) {
		case 1:
			out[j]->add = l;
			out[j]->n_add = n;
			break;
		case -1:
			ok = false;
		}
		switch (sl_dec_strlist(d, x, "remove", &rm, &n)) {
		case 1:
			out[j]->remove = rm;
			out[j]->n_remove = n;
			break;
		case -1:
			ok = false;
		}
		if (ok) {
			/* names must be tokens, values free of CR, LF, NUL and
			 * other controls; framing and hop-by-hop fields are
			 * sluice's own (hdrs.h) */
			char msg[256];

			if (sl_hdrs_ops_check(out[j], msg, sizeof(msg))) {
				sl_dec_err(d, x, "%s", msg);
				ok = false;
			}
		}
		sl_dec_pop(d, o2);
	}
	sl_dec_pop(d, old);
	return ok;
}

static bool sl_vs_dest_at(struct sl_dec *d, const struct sl_ynode *dn,
			  const char *key, struct sl_vs_dest *dst);

static bool sl_vs_dest(struct sl_dec *d, const struct sl_ynode *item,
		       struct sl_vs_dest *dst)
{
	const struct sl_ynode *dn = sl_ymap_get(item, "destination");

	if (!dn) {
		sl_dec_key_err(d, item, "destination",
			       "required field is missing");
		return false;
	}
	return sl_vs_dest_at(d, dn, "destination", dst);
}

/* a Destination {host, subset, port{number}} at @key (route[].destination,
 * mirror) */
static bool sl_vs_dest_at(struct sl_dec *d, const struct sl_ynode *dn,
			  const char *key, struct sl_vs_dest *dst)
{
	static const char *const known[] = { "host", "subset", "port", NULL };
	static const char *const port_known[] = { "number", NULL };
	const struct sl_ynode *pn;
	size_t old;
	bool ok = true;

	old = sl_dec_push_key(d, key);
	if (!sl_dec_fields(d, dn, known, NULL)) {
		sl_dec_pop(d, old);
		return false;
	}
	switch (sl_dec_str(d, dn, "host", &dst->host_raw)) {
	case 0:
		sl_dec_key_err(d, dn, "host", "required field is missing");
		__attribute__((fallthrough));
	case -1:
		ok = false;
		break;
	default: {
		size_t o2 = sl_dec_push_key(d, "host");

		sl_dec_pos(d, sl_ymap_get(dn, "host"), &dst->host_pos);
		sl_dec_pop(d, o2);
	}
	}
	switch (sl_dec_str(d, dn, "subset", &dst->subset)) {
	case -1:
		ok = false;
		break;
	case 1: {
		size_t o2 = sl_dec_push_key(d, "subset");

		sl_dec_pos(d, sl_ymap_get(dn, "subset"), &dst->subset_pos);
		sl_dec_pop(d, o2);
	}
	}
	pn = sl_ymap_get(dn, "port");
	if (pn) {
		size_t o2 = sl_dec_push_key(d, "port");

		sl_dec_pos(d, pn, &dst->port_pos);
		if (!sl_dec_fields(d, pn, port_known, NULL) ||
		    sl_dec_port(d, pn, "number", &dst->port) < 0)
			ok = false;
		sl_dec_pop(d, o2);
	}
	sl_dec_pop(d, old);
	dst->subset_idx = -1;
	return ok;
}

/* nginx smooth weighted round robin over one period */
static void sl_vs_wrr(struct sl_vs_rule *rule)
{
	int cw[100] = { 0 };
	unsigned int total = 0;

	for (size_t i = 0; i < rule->n_dests && i < 100; i++)
		total += rule->dests[i].weight;
	if (total == 0 || total > 100 || rule->n_dests > 100)
		return;
	for (unsigned int k = 0; k < total; k++) {
		size_t best = 0;

		for (size_t i = 0; i < rule->n_dests; i++) {
			cw[i] += (int)rule->dests[i].weight;
			if (cw[i] > cw[best])
				best = i;
		}
		cw[best] -= (int)total;
		rule->wrr[k] = (uint8_t)best;
	}
	rule->wrr_len = total;
}

static bool sl_vs_routes(struct sl_dec *d, const struct sl_ynode *r,
			 bool tcp, struct sl_vs_rule *rule)
{
	static const char *const http_known[] = { "destination", "weight",
						  "headers", NULL };
	static const char *const tcp_known[] = { "destination", "weight",
						 NULL };
	const struct sl_ynode *last_w = NULL, *last_item = NULL;
	uint64_t sum = 0;
	bool ok = true;
	size_t old = sl_dec_push_key(d, "route");

	if (!sl_dec_is_seq(d, r)) {
		sl_dec_pop(d, old);
		return false;
	}
	if (r->n == 0) {
		sl_dec_err(d, r, "at least one route is required");
		sl_dec_pop(d, old);
		return false;
	}
	rule->dests = sl_arena_array(d->a, r->n, sizeof(*rule->dests));
	if (!rule->dests) {
		sl_dec_pop(d, old);
		return false;
	}
	rule->n_dests = r->n;
	for (size_t i = 0; i < r->n; i++) {
		const struct sl_ynode *it = r->items[i];
		struct sl_vs_dest *dst = &rule->dests[i];
		size_t o2 = sl_dec_push_idx(d, i);

		if (!sl_dec_fields(d, it, tcp ? tcp_known : http_known, NULL)) {
			ok = false;
			sl_dec_pop(d, o2);
			continue;
		}
		ok &= sl_vs_dest(d, it, dst);
		switch (sl_dec_uint(d, it, "weight", 0, 100, &dst->weight)) {
		case 1:
			break;
		case 0:
			dst->weight = r->n == 1 ? 100 : 0;
			break;
		default:
			ok = false;
		}
		if (!tcp && sl_ymap_get(it, "headers"))
			ok &= sl_vs_header_ops(d, sl_ymap_get(it, "headers"),
					       &dst->req_hdrs, &dst->resp_hdrs);
		sum += dst->weight;
		last_item = it;
		last_w = sl_ymap_get(it, "weight");
		sl_dec_pop(d, o2);
	}
	if (ok && sum != 100) {
		size_t o2 = sl_dec_push_idx(d, r->n - 1);
		size_t o3 = sl_dec_push_key(d, "weight");

		sl_dec_err(d, last_w ? last_w : last_item,
			   "weights sum to %llu, want 100",
			   (unsigned long long)sum);
		sl_dec_pop(d, o3);
		sl_dec_pop(d, o2);
		ok = false;
	}
	sl_dec_pop(d, old);
	if (ok)
		sl_vs_wrr(rule);
	return ok;
}

static bool sl_vs_fault(struct sl_dec *d, const struct sl_ynode *f,
			struct sl_vs_rule *rule)
{
	static const char *const known[] = { "delay", "abort", NULL };
	static const char *const dk[] = { "fixedDelay", "percent", "percentage",
					  NULL };
	static const char *const du[] = {
		"exponentialDelay", "is not supported (use fixedDelay)", NULL
	};
	static const char *const ak[] = { "httpStatus", "percent",
					  "percentage", NULL };
	static const char *const au[] = {
		"grpcStatus", "is not supported (sluice does not parse gRPC)",
		"http2Error", "is not supported (sluice does not parse HTTP/2)",
		NULL
	};
	static const char *const pk[] = { "value", NULL };
	const struct sl_ynode *x;
	bool ok = true;
	uint32_t pct;

	if (!sl_dec_fields(d, f, known, NULL))
		return false;
	for (int i = 0; i < 2; i++) {
		double *out = i ? &rule->fault_abort_pct : &rule->fault_delay_pct;
		size_t old;

		x = sl_ymap_get(f, known[i]);
		if (!x)
			continue;
		old = sl_dec_push_key(d, known[i]);
		if (!sl_dec_fields(d, x, i ? ak : dk, i ? au : du)) {
			ok = false;
		} else {
			const struct sl_ynode *p = sl_ymap_get(x, "percentage");

			*out = 100.0;
			switch (sl_dec_uint(d, x, "percent", 0, 100, &pct)) {
			case 1:
				*out = pct;
				break;
			case -1:
				ok = false;
			}
			if (p) {
				size_t o2 = sl_dec_push_key(d, "percentage");

				if (!sl_dec_fields(d, p, pk, NULL) ||
				    sl_dec_percent(d, p, "value", out) < 0)
					ok = false;
				sl_dec_pop(d, o2);
			}
			if (i == 0) {
				if (sl_dec_duration(d, x, "fixedDelay",
						    &rule->fault_delay_ns) == 0) {
					sl_dec_key_err(d, x, "fixedDelay",
						       "required field is missing");
					ok = false;
				}
			} else if (sl_dec_uint(d, x, "httpStatus", 200, 599,
					       &rule->fault_abort_status) == 0) {
				sl_dec_key_err(d, x, "httpStatus",
					       "required field is missing");
				ok = false;
			}
		}
		sl_dec_pop(d, old);
	}
	return ok;
}

/* a URI path as the HTTP engine sends it: "/" first, visible ASCII */
static bool sl_vs_path_ok(const char *p)
{
	if (p[0] != '/')
		return false;
	for (; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return false;
	return true;
}

/* an authority: host[:port], visible ASCII, no "/", "?", "#", "@" */
static bool sl_vs_authority_ok(const char *a)
{
	if (!*a)
		return false;
	for (; *a; a++)
		if ((unsigned char)*a <= ' ' || (unsigned char)*a >= 0x7f ||
		    strchr("/?#@", *a))
			return false;
	return true;
}

static bool sl_vs_str_checked(struct sl_dec *d, const struct sl_ynode *map,
			      const char *key, bool (*valid)(const char *),
			      const char *what, const char **out)
{
	int r = sl_dec_str(d, map, key, out);

	if (r < 0)
		return false;
	if (r == 1 && !valid(*out)) {
		size_t old = sl_dec_push_key(d, key);

		sl_dec_err(d, sl_ymap_get(map, key), "\"%s\" is not %s", *out,
			   what);
		sl_dec_pop(d, old);
		return false;
	}
	return true;
}

/* http[].rewrite: uri (the matched prefix, or the whole path), authority */
static bool sl_vs_rewrite(struct sl_dec *d, const struct sl_ynode *x,
			  struct sl_vs_rule *rule)
{
	static const char *const known[] = { "uri", "authority", NULL };
	static const char *const unsup[] = {
		"uriRegexRewrite",
		"is not supported yet (sluice rewrites the matched prefix or the whole path: use uri)",
		NULL
	};

	if (!sl_dec_fields(d, x, known, unsup))
		return false;
	return sl_vs_str_checked(d, x, "uri", sl_vs_path_ok,
				 "a path (\"/\" first, no space or control)",
				 &rule->rewrite_uri) &&
	       sl_vs_str_checked(d, x, "authority", sl_vs_authority_ok,
				 "an authority (host[:port])",
				 &rule->rewrite_authority);
}

/* http[].mirror, mirrorPercentage{value}, mirrorPercent (the older int);
 * the percentage defaults to 100 */
static bool sl_vs_mirror(struct sl_dec *d, const struct sl_ynode *it,
			 struct sl_vs_rule *rule)
{
	static const char *const pk[] = { "value", NULL };
	const struct sl_ynode *m = sl_ymap_get(it, "mirror");
	const struct sl_ynode *p = sl_ymap_get(it, "mirrorPercentage");
	bool ok = true;
	uint32_t pct;

	if (!m) {
		if (p || sl_ymap_get(it, "mirrorPercent")) {
			sl_dec_key_err(d, it, p ? "mirrorPercentage" : "mirrorPercent",
				       "needs mirror");
			return false;
		}
		return true;
	}
	rule->mirror = sl_arena_array(d->a, 1, sizeof(*rule->mirror));
	if (!rule->mirror)
		return false;
	ok = sl_vs_dest_at(d, m, "mirror", rule->mirror);
	rule->mirror_pct = 100.0;
	switch (sl_dec_uint(d, it, "mirrorPercent", 0, 100, &pct)) {
	case 1:
		rule->mirror_pct = pct;
		break;
	case -1:
		ok = false;
	}
	if (p) {
		size_t old = sl_dec_push_key(d, "mirrorPercentage");

		if (!sl_dec_fields(d, p, pk, NULL) ||
		    sl_dec_percent(d, p, "value", &rule->mirror_pct) < 0)
			ok = false;
		sl_dec_pop(d, old);
	}
	return ok;
}

/*
 * A rule sluice answers itself: redirect or directResponse, never with
 * route[] or rewrite, never both (Istio's validation).
 */
static bool sl_vs_answer(struct sl_dec *d, const struct sl_ynode *it,
			 const struct sl_ynode *route, struct sl_vs_rule *rule)
{
	static const char *const rk[] = { "uri", "authority", "port", "scheme",
					  "redirectCode", NULL };
	static const char *const ru[] = {
		"derivePort", "is not supported yet (give port, or none)", NULL
	};
	static const char *const dk[] = { "status", "body", NULL };
	static const char *const bk[] = { "string", NULL };
	static const char *const bu[] = {
		"bytes", "is not supported yet (use string)", NULL
	};
	const struct sl_ynode *rd = sl_ymap_get(it, "redirect");
	const struct sl_ynode *dr = sl_ymap_get(it, "directResponse");
	bool ok = true;

	if (route || (rd && dr) || sl_ymap_get(it, "rewrite")) {
		const char *key = route ? "route" : sl_ymap_get(it, "rewrite") ? "rewrite" : "directResponse";

		sl_dec_key_err(d, it, key,
			       "a rule has exactly one of route, redirect and directResponse, and rewrite goes with route only");
		return false;
	}
	if (rd) {
		size_t old = sl_dec_push_key(d, "redirect");
		const char *scheme = NULL;

		if (!sl_dec_fields(d, rd, rk, ru)) {
			sl_dec_pop(d, old);
			return false;
		}
		rule->redirect_code = 301;
		ok = sl_vs_str_checked(d, rd, "uri", sl_vs_path_ok,
				       "a path (\"/\" first, no space or control)",
				       &rule->redirect_uri) &&
		     sl_vs_str_checked(d, rd, "authority", sl_vs_authority_ok,
				       "an authority (host[:port])",
				       &rule->redirect_authority) &&
		     sl_dec_port(d, rd, "port", &rule->redirect_port) >= 0 &&
		     sl_dec_uint(d, rd, "redirectCode", 300, 399,
				 &rule->redirect_code) >= 0;
		switch (sl_dec_str(d, rd, "scheme", &scheme)) {
		case 1:
			if (strcmp(scheme, "http") && strcmp(scheme, "https")) {
				size_t o2 = sl_dec_push_key(d, "scheme");

				sl_dec_err(d, sl_ymap_get(rd, "scheme"),
					   "\"%s\" is not http or https", scheme);
				sl_dec_pop(d, o2);
				ok = false;
			}
			rule->redirect_scheme = scheme;
			break;
		case -1:
			ok = false;
		}
		sl_dec_pop(d, old);
		return ok;
	}
	{
		size_t old = sl_dec_push_key(d, "directResponse");
		const struct sl_ynode *b;

		if (!sl_dec_fields(d, dr, dk, NULL)) {
			sl_dec_pop(d, old);
			return false;
		}
		switch (sl_dec_uint(d, dr, "status", 200, 599,
				    &rule->direct_status)) {
		case 0:
			sl_dec_key_err(d, dr, "status", "required field is missing");
			ok = false;
			break;
		case -1:
			ok = false;
			break;
		default:
			if (rule->direct_status == 204 || rule->direct_status == 304) {
				size_t o2 = sl_dec_push_key(d, "status");

				sl_dec_err(d, sl_ymap_get(dr, "status"),
					   "%u is not supported (a response with no body: use another status)",
					   rule->direct_status);
				sl_dec_pop(d, o2);
				ok = false;
			}
		}
		b = sl_ymap_get(dr, "body");
		if (b) {
			size_t o2 = sl_dec_push_key(d, "body");

			if (!sl_dec_fields(d, b, bk, bu) ||
			    sl_dec_str(d, b, "string", &rule->direct_body) < 0)
				ok = false;
			sl_dec_pop(d, o2);
		}
		sl_dec_pop(d, old);
		return ok;
	}
}

static bool sl_vs_rule(struct sl_dec *d, const struct sl_ynode *it, bool tcp,
		       struct sl_vs_rule *rule)
{
	static const char *const http_known[] = {
		"name", "match", "route", "retries", "timeout", "fault",
		"headers", "rewrite", "redirect", "directResponse", "mirror",
		"mirrorPercentage", "mirrorPercent", NULL
	};
	static const char *const tcp_known[] = { "match", "route", NULL };
	static const char *const rk[] = { "attempts", "perTryTimeout",
					  "retryOn", "retryRemoteLocalities",
					  NULL };
	struct sl_text t = { .len = 0 };
	const struct sl_ynode *m, *r, *x;
	bool ok = true, b;

	rule->tcp = tcp;
	sl_dec_pos(d, it, &rule->pos);
	if (!sl_dec_fields(d, it, tcp ? tcp_known : http_known,
			   tcp ? NULL : sl_vs_http_unsup))
		ok = false;
	if (it->type != SL_YMAP)
		return false;
	if (sl_dec_str(d, it, "name", &rule->name) < 0)
		ok = false;
	m = sl_ymap_get(it, "match");
	if (m) {
		size_t old = sl_dec_push_key(d, "match");

		sl_dec_pos(d, m, &rule->match_pos);
		if (sl_dec_is_seq(d, m)) {
			rule->ports = sl_arena_array(d->a, m->n,
						     sizeof(*rule->ports));
			rule->matches = sl_arena_array(d->a, m->n,
						       sizeof(*rule->matches));
			for (size_t i = 0; rule->ports && rule->matches &&
					   i < m->n; i++) {
				size_t o2 = sl_dec_push_idx(d, i);

				ok &= sl_vs_match(d, m->items[i], tcp, rule,
						  &rule->matches[i], &t);
				sl_dec_pop(d, o2);
			}
			rule->has_match = m->n > 0;
			rule->n_matches = tcp ? 0 : m->n;
		} else {
			ok = false;
		}
		sl_dec_pop(d, old);
	}
	if (!rule->has_match) {
		rule->any_port = true;
		sl_text_add(&t, NULL, "*");
	}
	rule->match_text = sl_arena_strdup(d->a, t.buf);
	r = sl_ymap_get(it, "route");
	if (!tcp && (sl_ymap_get(it, "redirect") ||
		     sl_ymap_get(it, "directResponse"))) {
		/* answered by sluice: no destination (Istio: exactly one of
		 * route, redirect, directResponse) */
		ok &= sl_vs_answer(d, it, r, rule);
	} else if (!r) {
		sl_dec_key_err(d, it, "route", "required field is missing");
		ok = false;
	} else {
		ok &= sl_vs_routes(d, r, tcp, rule);
	}
	if (tcp)
		return ok;
	x = sl_ymap_get(it, "rewrite");
	if (x) {
		size_t old = sl_dec_push_key(d, "rewrite");

		ok &= sl_vs_rewrite(d, x, rule);
		sl_dec_pop(d, old);
	}
	ok &= sl_vs_mirror(d, it, rule);
	if (sl_dec_duration(d, it, "timeout", &rule->timeout_ns) < 0)
		ok = false;
	x = sl_ymap_get(it, "retries");
	if (x) {
		size_t old = sl_dec_push_key(d, "retries");

		rule->has_retries = true;
		if (!sl_dec_fields(d, x, rk, NULL) ||
		    sl_dec_uint(d, x, "attempts", 0, 1000,
				&rule->retry_attempts) < 0 ||
		    sl_dec_duration(d, x, "perTryTimeout",
				    &rule->retry_per_try_ns) < 0 ||
		    sl_dec_str(d, x, "retryOn", &rule->retry_on) < 0 ||
		    sl_dec_bool(d, x, "retryRemoteLocalities", &b) < 0)
			ok = false;
		if (rule->retry_on) {
			/* Istio's validation: known conditions and status
			 * codes; the ones sluice cannot honour are errors */
			struct sl_retry_policy rp;
			char msg[256];
			size_t o2 = sl_dec_push_key(d, "retryOn");

			if (sl_retry_parse(rule->retry_on, rule->retry_attempts,
					   &rp, msg, sizeof(msg))) {
				sl_dec_err(d, sl_ymap_get(x, "retryOn"), "%s", msg);
				ok = false;
			} else if (rp.ignored) {
				sl_dec_warn(d, sl_ymap_get(x, "retryOn"),
					    "has no effect in part: the gRPC and HTTP/3 conditions never apply to HTTP/1.1 requests");
			}
			sl_dec_pop(d, o2);
		}
		sl_dec_pop(d, old);
	}
	x = sl_ymap_get(it, "fault");
	if (x) {
		size_t old = sl_dec_push_key(d, "fault");

		ok &= sl_vs_fault(d, x, rule);
		sl_dec_pop(d, old);
	}
	x = sl_ymap_get(it, "headers");
	if (x)
		ok &= sl_vs_header_ops(d, x, &rule->req_hdrs, &rule->resp_hdrs);
	return ok;
}

bool sl_kind_virtualservice(struct sl_dec *d, const struct sl_ynode *spec,
			    struct sl_vs *vs)
{
	static const char *const known[] = { "hosts", "gateways", "http", "tcp",
					     "exportTo", NULL };
	static const char *const unsup[] = {
		"tls", "is not supported (sluice routes TCP, not TLS by SNI)",
		NULL
	};
	const struct sl_ynode *h, *x;
	const char **list;
	size_t n, nrules = 0;
	bool ok = true;

	if (!spec) {
		sl_dec_err(d, NULL, "required field is missing");
		return false;
	}
	ok = sl_dec_fields(d, spec, known, unsup);
	switch (sl_dec_strlist(d, spec, "hosts", &vs->hosts, &vs->n_hosts)) {
	case 0:
		sl_dec_key_err(d, spec, "hosts", "required field is missing");
		return false;
	case -1:
		return false;
	}
	h = sl_ymap_get(spec, "hosts");
	if (vs->n_hosts == 0) {
		sl_dec_key_err(d, h, "hosts", "at least one host is required");
		ok = false;
	}
	vs->host_pos = sl_arena_array(d->a, vs->n_hosts, sizeof(*vs->host_pos));
	for (size_t i = 0; vs->host_pos && i < vs->n_hosts; i++) {
		size_t old = sl_dec_push_key(d, "hosts"), o2;

		o2 = sl_dec_push_idx(d, i);
		sl_dec_pos(d, h->items[i], &vs->host_pos[i]);
		sl_dec_pop(d, o2);
		sl_dec_pop(d, old);
	}
	if (!sl_vs_gateways(d, spec))
		ok = false;
	if (sl_dec_strlist(d, spec, "exportTo", &list, &n) < 0)
		ok = false;
	for (int tcp = 0; tcp < 2; tcp++) {
		x = sl_ymap_get(spec, tcp ? "tcp" : "http");
		if (!x)
			continue;
		if (x->type != SL_YSEQ) {
			sl_dec_key_err(d, x, tcp ? "tcp" : "http",
				       "expected a list");
			ok = false;
			continue;
		}
		nrules += x->n;
	}
	vs->rules = sl_arena_array(d->a, nrules, sizeof(*vs->rules));
	if (!vs->rules)
		return false;
	for (int tcp = 0; tcp < 2; tcp++) {
		const char *key = tcp ? "tcp" : "http";
		size_t old;

		x = sl_ymap_get(spec, key);
		if (!x || x->type != SL_YSEQ)
			continue;
		old = sl_dec_push_key(d, key);
		for (size_t i = 0; i < x->n; i++) {
			size_t o2 = sl_dec_push_idx(d, i);

			ok &= sl_vs_rule(d, x->items[i], tcp,
					 &vs->rules[vs->n_rules++]);
			sl_dec_pop(d, o2);
		}
		sl_dec_pop(d, old);
	}
	return ok;
}

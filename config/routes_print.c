/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The routing table of a snapshot as text: an aligned table, tab-separated
 * dump, or JSON.  Used by `sluice routes --config DIR` and (later) by the
 * daemon's admin socket, so it only needs a struct sl_config.
 *
 * Columns: HOST MATCH DESTINATION SUBSET WEIGHT ENDPOINTS.  A host without
 * a VirtualService shows one row "*" to itself with weight 100.  A Service
 * without clusterIP is "HOST (no VIP)" and its matches "(not applied)":
 * no flow is addressed to it until its VIP is known.  Endpoints
 * are "workload=address:port" (or "address:port" outside the mesh),
 * comma-separated, for the destination port or every port of the host.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"
#include "json.h"
#include "table.h"

struct sl_route_row {
	const struct sl_host *host;
	const struct sl_vs_rule *rule; /* NULL: no VirtualService */
	const struct sl_host *dhost;
	int subset;
	const char *subset_name;
	uint32_t port, weight;
};

/* the endpoint sets a destination covers */
static size_t sl_row_sets(const struct sl_route_row *r,
			  const struct sl_epset **sets, size_t max)
{
	size_t n = 0;

	if (r->port) {
		const struct sl_epset *s = sl_cfg_epset(r->dhost, r->subset,
							(uint16_t)r->port);

		if (s && max)
			sets[n++] = s;
		return n;
	}
	for (size_t p = 0; p < r->dhost->n_ports && n < max; p++)
		sets[n++] = &r->dhost->sets[(size_t)(r->subset + 1) *
						    r->dhost->n_ports + p];
	return n;
}

static char *sl_row_endpoints(const struct sl_route_row *r)
{
	const struct sl_epset *sets[64];
	size_t n = sl_row_sets(r, sets, SL_ARRAY_SIZE(sets)), len = 0;
	char *buf = NULL;
	FILE *f;

	if (r->dhost->passthrough)
		return strdup("(passthrough)");
	f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	for (size_t i = 0, k = 0; i < n; i++)
		for (size_t j = 0; j < sets[i]->n; j++, k++) {
			const struct sl_endpoint *e = &sets[i]->eps[j];
			char ip[INET6_ADDRSTRLEN];

			sl_ip_format(&e->address, ip, sizeof(ip));
			if (k)
				fputc(',', f);
			if (e->workload)
				fprintf(f, "%s=", e->workload->name);
			fprintf(f, e->address.family == AF_INET6 ? "[%s]:%u" :
								   "%s:%u",
				ip, e->port);
		}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

typedef int (*sl_row_fn)(const struct sl_route_row *r, void *arg);

static int sl_routes_walk(const struct sl_config *cfg, const struct sl_host *only,
			  sl_row_fn fn, void *arg)
{
	for (size_t i = 0; i < cfg->n_hosts; i++) {
		const struct sl_host *h = &cfg->hosts[i];
		int ret;

		if (only && h != only)
			continue;
		if (!h->vs) {
			struct sl_route_row r = { .host = h, .dhost = h,
						  .subset = -1, .weight = 100 };

			ret = fn(&r, arg);
			if (ret < 0)
				return ret;
			continue;
		}
		for (size_t k = 0; k < h->vs->n_rules; k++) {
			const struct sl_vs_rule *rule = &h->vs->rules[k];

			for (size_t d = 0; d < rule->n_dests; d++) {
				const struct sl_vs_dest *dst = &rule->dests[d];
				struct sl_route_row r = {
					.host = h, .rule = rule,
					.dhost = dst->host,
					.subset = dst->subset_idx,
					.subset_name = dst->subset,
					.port = dst->port,
					.weight = dst->weight,
				};

				ret = fn(&r, arg);
				if (ret < 0)
					return ret;
			}
		}
	}
	return 0;
}

/* an http rule's match conditions are evaluated per request on the
 * host's HTTP ports (sl_config_http_route); on a host without one they
 * are not (sl_cfg_rule_for: the first http rule without match routes
 * every connection); tcp matches (ports) are */
static bool sl_row_match_applied(const struct sl_route_row *r)
{
	/* a Service whose VIP is not known: no flow is addressed to it */
	if (r->host->no_vip_yet)
		return false;
	return !r->rule || r->rule->tcp || !r->rule->has_match ||
	       sl_cfg_host_has_http(r->host);
}

static int sl_row_table(const struct sl_route_row *r, void *arg)
{
	struct sl_table *t = arg;
	char *eps = sl_row_endpoints(r);
	char dest[300], weight[16], hostc[300], *match = NULL;
	const char *cells[6];
	int ret;

	if (!eps)
		return -ENOMEM;
	if (r->port)
		snprintf(dest, sizeof(dest), "%s:%u", r->dhost->name, r->port);
	else
		snprintf(dest, sizeof(dest), "%s", r->dhost->name);
	snprintf(weight, sizeof(weight), "%u", r->weight);
	cells[0] = r->host->name;
	if (r->host->no_vip_yet) {
		snprintf(hostc, sizeof(hostc), "%s (no VIP)", r->host->name);
		cells[0] = hostc;
	}
	cells[1] = r->rule ? r->rule->match_text : "*";
	if (!sl_row_match_applied(r)) {
		if (asprintf(&match, "(not applied) %s", cells[1]) < 0) {
			free(eps);
			return -ENOMEM;
		}
		cells[1] = match;
	}
	cells[2] = dest;
	cells[3] = r->subset_name;
	cells[4] = weight;
	cells[5] = *eps ? eps : NULL;
	ret = sl_table_add(t, cells);
	free(match);
	free(eps);
	return ret;
}

struct sl_json_walk {
	struct sl_json *j;
	const struct sl_host *cur;
	const void *rule; /* the open route: its rule, or the host without
			     VirtualService; NULL when none is open */
};

static void sl_json_close_rule(struct sl_json_walk *w)
{
	if (w->rule) {
		sl_json_arr_end(w->j); /* destinations */
		sl_json_obj_end(w->j); /* route */
	}
	w->rule = NULL;
}

static void sl_json_close_host(struct sl_json_walk *w)
{
	if (!w->cur)
		return;
	sl_json_close_rule(w);
	sl_json_arr_end(w->j); /* routes */
	sl_json_obj_end(w->j); /* host */
	w->cur = NULL;
}

static void sl_json_host(struct sl_json *j, const struct sl_host *h)
{
	char ip[INET6_ADDRSTRLEN];

	sl_json_kv_str(j, "host", h->name);
	sl_json_kv_str(j, "namespace", h->ns);
	sl_json_kv_str(j, "kind", sl_kind_names[h->def->kind]);
	/* false for a Service without clusterIP: its routes cannot apply */
	sl_json_kv_bool(j, "vip_known", !h->no_vip_yet);
	sl_json_key(j, "vips");
	sl_json_arr_begin(j);
	for (size_t i = 0; i < h->n_vips; i++) {
		char buf[INET6_ADDRSTRLEN + 8];
		unsigned int full = h->vips[i].ip.family == AF_INET ? 32 : 128;

		sl_ip_format(&h->vips[i].ip, ip, sizeof(ip));
		if (h->vips[i].prefix != full)
			snprintf(buf, sizeof(buf), "%s/%u", ip, h->vips[i].prefix);
		else
			snprintf(buf, sizeof(buf), "%s", ip);
		sl_json_str(j, buf);
	}
	sl_json_arr_end(j);
	sl_json_key(j, "ports");
	sl_json_arr_begin(j);
	for (size_t i = 0; i < h->n_ports; i++) {
		const struct sl_svc_port *p = &h->ports[i];

		sl_json_obj_begin(j);
		sl_json_kv_uint(j, "port", p->port);
		sl_json_kv_str(j, "name", p->name);
		if (p->target_name)
			sl_json_kv_str(j, "targetPort", p->target_name);
		else
			sl_json_kv_uint(j, "targetPort",
					p->target ? p->target : p->port);
		sl_json_obj_end(j);
	}
	sl_json_arr_end(j);
	sl_json_key(j, "virtualService");
	if (h->vs) {
		char n[512];

		snprintf(n, sizeof(n), "%s/%s", h->vs->r.ns, h->vs->r.name);
		sl_json_str(j, n);
	} else {
		sl_json_null(j);
	}
	sl_json_key(j, "destinationRule");
	if (h->dr) {
		char n[512];

		snprintf(n, sizeof(n), "%s/%s", h->dr->r.ns, h->dr->r.name);
		sl_json_str(j, n);
	} else {
		sl_json_null(j);
	}
	sl_json_kv_bool(j, "passthrough", h->passthrough);
}

static int sl_row_json(const struct sl_route_row *r, void *arg)
{
	struct sl_json_walk *w = arg;
	struct sl_json *j = w->j;
	const struct sl_epset *sets[64];
	size_t n;

	if (w->cur != r->host) {
		sl_json_close_host(w);
		sl_json_obj_begin(j);
		sl_json_host(j, r->host);
		sl_json_key(j, "routes");
		sl_json_arr_begin(j);
		w->cur = r->host;
	}
	if (!w->rule || w->rule != (r->rule ? (const void *)r->rule :
						  (const void *)r->host)) {
		sl_json_close_rule(w);
		sl_json_obj_begin(j);
		sl_json_kv_str(j, "kind", r->rule && r->rule->tcp ? "tcp" : "http");
		sl_json_kv_str(j, "name", r->rule ? r->rule->name : NULL);
		sl_json_kv_str(j, "match", r->rule ? r->rule->match_text : "*");
		sl_json_kv_bool(j, "match_applied", sl_row_match_applied(r));
		sl_json_key(j, "destinations");
		sl_json_arr_begin(j);
		w->rule = r->rule ? (const void *)r->rule :
				    (const void *)r->host;
	}
	sl_json_obj_begin(j);
	sl_json_kv_str(j, "host", r->dhost->name);
	sl_json_kv_str(j, "subset", r->subset_name);
	if (r->port)
		sl_json_kv_uint(j, "port", r->port);
	else
		sl_json_kv_str(j, "port", NULL);
	sl_json_kv_uint(j, "weight", r->weight);
	sl_json_key(j, "endpoints");
	sl_json_arr_begin(j);
	n = r->dhost->passthrough ? 0 : sl_row_sets(r, sets, SL_ARRAY_SIZE(sets));
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < sets[i]->n; k++) {
			const struct sl_endpoint *e = &sets[i]->eps[k];
			char ip[INET6_ADDRSTRLEN];

			sl_json_obj_begin(j);
			sl_json_kv_str(j, "workload", e->workload ?
				       e->workload->name : NULL);
			sl_json_kv_str(j, "namespace", e->workload ?
				       e->workload->ns : NULL);
			sl_json_kv_str(j, "address",
				       sl_ip_format(&e->address, ip, sizeof(ip)));
			sl_json_kv_uint(j, "port", e->port);
			sl_json_kv_uint(j, "servicePort", sets[i]->svc_port);
			sl_json_kv_uint(j, "weight", e->weight);
			sl_json_obj_end(j);
		}
	sl_json_arr_end(j);
	sl_json_obj_end(j);
	return 0;
}

int sl_config_routes_print(const struct sl_config *cfg, const char *host,
			   enum sl_config_fmt fmt, FILE *out)
{
	static const char *const headers[] = { "HOST", "MATCH", "DESTINATION",
					       "SUBSET", "WEIGHT",
					       "ENDPOINTS" };
	const struct sl_host *only = NULL;
	int ret;

	if (host) {
		struct sl_arena tmp = { .head = NULL };
		const char *fqdn = sl_cfg_host_fqdn(&tmp, host, "default");

		only = fqdn ? sl_cfg_host_find(cfg, fqdn) : NULL;
		if (!only) {
			/* "reviews.prod" means reviews.prod.svc.cluster.local */
			char *x = sl_arena_printf(&tmp, "%s." SL_CFG_CLUSTER_DOMAIN,
						  host);

			only = x ? sl_cfg_host_find(cfg, x) : NULL;
		}
		sl_arena_release(&tmp);
		if (!only)
			return -ENOENT;
	}
	if (fmt == SL_CONFIG_FMT_JSON) {
		struct sl_json j;
		struct sl_json_walk w = { .j = &j };

		sl_json_init(&j, out, true);
		sl_json_obj_begin(&j);
		sl_json_kv_str(&j, "generation", cfg->generation);
		sl_json_key(&j, "hosts");
		sl_json_arr_begin(&j);
		ret = sl_routes_walk(cfg, only, sl_row_json, &w);
		sl_json_close_host(&w);
		sl_json_arr_end(&j);
		sl_json_obj_end(&j);
		fputc('\n', out);
		return ret;
	}
	{
		struct sl_table *t = sl_table_new(SL_ARRAY_SIZE(headers), headers);

		if (!t)
			return -ENOMEM;
		ret = sl_routes_walk(cfg, only, sl_row_table, t);
		if (ret == 0) {
			if (fmt == SL_CONFIG_FMT_DUMP)
				sl_table_dump(t, out);
			else
				sl_table_print(t, out);
		}
		sl_table_free(t);
	}
	return ret;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cross-resource validation and the routing table: node settings,
 * workloads, hosts (Services and ServiceEntries) with their VIPs, the
 * DestinationRule and VirtualService of each host, and for every host,
 * subset and port the endpoint list a flow can be sent to.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_internal.h"

#define SL_RES(cfg, k, T, i) ((T *)(cfg)->res.v[k][i])

static const char *sl_pos_str(struct sl_arena *a, const struct sl_pos *p)
{
	return sl_arena_printf(a, "%s:%u", p->file ? p->file : "?", p->line);
}

/* ---- node ------------------------------------------------------------ */

static int sl_resolve_node(struct sl_config *cfg, const char *node_name,
			   struct sl_cfg_errs *errs)
{
	size_t n = cfg->res.n[SL_K_NODE];
	struct sl_noderes *def = NULL, *match = NULL, *only_specific = NULL;
	size_t n_specific = 0;
	char host[256];
	int ret = 0;

	for (size_t i = 0; i < n; i++) {
		struct sl_noderes *nr = SL_RES(cfg, SL_K_NODE, struct sl_noderes, i);

		if (!nr->spec_name) {
			if (def) {
				sl_cfg_err_add(errs, nr->r.pos.file, nr->r.pos.line,
					       nr->r.pos.col, "spec.name",
					       "a second Node without spec.name (the first is at %s); give each a node name",
					       sl_pos_str(&cfg->arena, &def->r.pos));
				ret = -EINVAL;
			}
			def = nr;
			continue;
		}
		for (size_t j = 0; j < i; j++) {
			struct sl_noderes *o = SL_RES(cfg, SL_K_NODE,
						      struct sl_noderes, j);

			if (o->spec_name && !strcmp(o->spec_name, nr->spec_name)) {
				sl_cfg_err_add(errs, nr->r.pos.file,
					       nr->r.pos.line, nr->r.pos.col,
					       "spec.name",
					       "duplicate Node for node \"%s\" (also at %s)",
					       nr->spec_name,
					       sl_pos_str(&cfg->arena, &o->r.pos));
				ret = -EINVAL;
			}
		}
		n_specific++;
		only_specific = nr;
		if (node_name && !strcmp(node_name, nr->spec_name))
			match = nr;
	}
	if (!node_name && !def && n_specific == 1) {
		/* the only Node names the node: its name and its settings */
		node_name = only_specific->spec_name;
		match = only_specific;
	}
	if (!node_name) {
		if (gethostname(host, sizeof(host)) < 0)
			sl_strlcpy(host, "localhost", sizeof(host));
		host[sizeof(host) - 1] = '\0';
		node_name = host;
		for (size_t i = 0; i < n && !match; i++) {
			struct sl_noderes *nr = SL_RES(cfg, SL_K_NODE,
						       struct sl_noderes, i);

			if (nr->spec_name && !strcmp(nr->spec_name, host))
				match = nr;
		}
	}
	if (!match)
		match = def;
	if (match) {
		cfg->node = match->cfg;
		cfg->node_source = sl_pos_str(&cfg->arena, &match->r.pos);
	} else {
		struct sl_noderes dflt = { .r.kind = SL_K_NODE };

		sl_kind_node(NULL, NULL, &dflt);
		cfg->node = dflt.cfg;
	}
	cfg->node.name = sl_arena_strdup(&cfg->arena, node_name);
	return ret;
}

/* ---- duplicates ----------------------------------------------------- */

static int sl_res_cmp(const void *a, const void *b)
{
	const struct sl_res *x = *(const struct sl_res *const *)a;
	const struct sl_res *y = *(const struct sl_res *const *)b;
	int c = strcmp(x->ns, y->ns);

	if (c)
		return c;
	c = strcmp(x->name, y->name);
	if (c)
		return c;
	/* ties in load order, which the arena addresses do not give */
	if (x->pos.line != y->pos.line || x->pos.file != y->pos.file) {
		c = strcmp(x->pos.file, y->pos.file);
		if (c)
			return c;
		return x->pos.line < y->pos.line ? -1 : 1;
	}
	return 0;
}

/* same kind, namespace and name twice: sort a copy, compare neighbours */
static int sl_resolve_dup_names(struct sl_config *cfg, struct sl_cfg_errs *errs)
{
	int ret = 0;

	for (int k = 0; k < SL_K_COUNT; k++) {
		size_t n = cfg->res.n[k];
		const struct sl_res **v;

		if (n < 2)
			continue;
		v = malloc(n * sizeof(*v));
		if (!v)
			return -ENOMEM;
		memcpy(v, cfg->res.v[k], n * sizeof(*v));
		sl_sort(v, n, sizeof(*v), sl_res_cmp);
		for (size_t i = 1; i < n; i++) {
			const struct sl_res *a = v[i - 1], *b = v[i];

			if (strcmp(a->name, b->name) || strcmp(a->ns, b->ns))
				continue;
			sl_cfg_err_add(errs, b->pos.file, b->pos.line,
				       b->pos.col, "metadata.name",
				       "duplicate %s \"%s/%s\" (also at %s)",
				       sl_kind_names[k], b->ns, b->name,
				       sl_pos_str(&cfg->arena, &a->pos));
			ret = -EINVAL;
		}
		free(v);
	}
	return ret;
}

/* ---- workloads -------------------------------------------------------- */

static int sl_wl_cmp(const void *a, const void *b)
{
	const struct sl_workload *x = *(const struct sl_workload *const *)a;
	const struct sl_workload *y = *(const struct sl_workload *const *)b;

	if (x->address.family != y->address.family)
		return x->address.family < y->address.family ? -1 : 1;
	return memcmp(&x->address.v6, &y->address.v6,
		      x->address.family == AF_INET ? 4 : 16);
}

static int sl_wl_name_cmp(const void *a, const void *b)
{
	const struct sl_workload *x = *(const struct sl_workload *const *)a;
	const struct sl_workload *y = *(const struct sl_workload *const *)b;
	int c = strcmp(x->ns, y->ns);

	return c ? c : strcmp(x->name, y->name);
}

static uint32_t sl_wl_lhash(const char *ns, const char *key,
			    const char *value)
{
	uint32_t h = 2166136261u; /* FNV-1a, a 0 byte between the parts */

	for (const char *p = ns; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	h *= 16777619u;
	for (const char *p = key; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	h *= 16777619u;
	for (const char *p = value; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h;
}

/* the group of (@ns, @key, @value) in cfg->wl_lgroups: the slot it has, or
 * the empty one where it would go */
static struct sl_wl_lgroup *sl_wl_lslot(const struct sl_config *cfg,
					const char *ns, const char *key,
					const char *value, uint32_t h)
{
	size_t i = h & cfg->wl_lgroups_mask;

	for (;; i = (i + 1) & cfg->wl_lgroups_mask) {
		struct sl_wl_lgroup *g = &cfg->wl_lgroups[i];

		if (!g->ns || (g->hash == h && !strcmp(g->value, value) &&
			       !strcmp(g->key, key) && !strcmp(g->ns, ns)))
			return g;
	}
}

/* insert every group of @old (@n_old slots) into a table of @slots */
static struct sl_wl_lgroup *sl_wl_lrehash(struct sl_config *cfg,
					  struct sl_wl_lgroup *old,
					  size_t n_old, size_t slots)
{
	struct sl_wl_lgroup *t = calloc(slots, sizeof(*t));

	if (!t)
		return NULL;
	cfg->wl_lgroups = t;
	cfg->wl_lgroups_mask = slots - 1;
	for (size_t i = 0; i < n_old; i++)
		if (old[i].ns)
			*sl_wl_lslot(cfg, old[i].ns, old[i].key, old[i].value,
				     old[i].hash) = old[i];
	return t;
}

/*
 * cfg->wl_lgroups and wl_label_idx: for every (namespace, key, value) of
 * a workload's labels, the workloads that have it, in their order.  A
 * selector's endpoints are the group of its first label, checked for the
 * rest (not every workload of the namespace).  A hash, not a sort: at
 * 100,000 pods it is built on every change of the Kubernetes source.  The
 * table grows with the groups (far fewer than the labels: every pod of a
 * Deployment has the same ones).
 */
static int sl_wl_labels_index(struct sl_config *cfg)
{
	size_t n = 0, slots = 256, groups = 0, off = 0;
	struct sl_wl_lgroup *t;

	for (size_t i = 0; i < cfg->n_workloads; i++)
		n += cfg->workloads[i].n_labels;
	t = sl_wl_lrehash(cfg, NULL, 0, slots);
	cfg->wl_label_idx = sl_arena_array(&cfg->arena, n ? n : 1,
					   sizeof(*cfg->wl_label_idx));
	if (!t || !cfg->wl_label_idx) {
		free(t);
		return -ENOMEM;
	}
	/* count each group (the table at most half full), give it its
	   run, then fill the runs in workload order */
	for (size_t i = 0; i < cfg->n_workloads; i++) {
		const struct sl_workload *w = &cfg->workloads[i];

		for (size_t j = 0; j < w->n_labels; j++) {
			const struct sl_label *l = &w->labels[j];
			uint32_t h = sl_wl_lhash(w->ns, l->key, l->value);
			struct sl_wl_lgroup *g = sl_wl_lslot(cfg, w->ns, l->key,
							     l->value, h);

			if (!g->ns) {
				*g = (struct sl_wl_lgroup){ .ns = w->ns,
							    .key = l->key,
							    .value = l->value,
							    .hash = h };
				if (++groups * 2 > slots) {
					struct sl_wl_lgroup *old = t;

					g = NULL;
					t = sl_wl_lrehash(cfg, old, slots,
							  slots * 2);
					free(old);
					if (!t)
						return -ENOMEM;
					slots *= 2;
				}
			}
			if (!g)
				g = sl_wl_lslot(cfg, w->ns, l->key, l->value, h);
			g->n++;
		}
	}
	if (sl_arena_defer(&cfg->arena, free, t) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < slots; i++) {
		t[i].first = off;
		off += t[i].n;
		t[i].n = 0;
	}
	for (size_t i = 0; i < cfg->n_workloads; i++) {
		const struct sl_workload *w = &cfg->workloads[i];

		for (size_t j = 0; j < w->n_labels; j++) {
			const struct sl_label *l = &w->labels[j];
			struct sl_wl_lgroup *g = sl_wl_lslot(
				cfg, w->ns, l->key, l->value,
				sl_wl_lhash(w->ns, l->key, l->value));

			cfg->wl_label_idx[g->first + g->n++] = i;
		}
	}
	return 0;
}

/* the workloads of namespace @ns labelled @key=@value: *@n indexes */
static const size_t *sl_wl_label_run(const struct sl_config *cfg,
				     const char *ns, const char *key,
				     const char *value, size_t *n)
{
	const struct sl_wl_lgroup *g =
		sl_wl_lslot(cfg, ns, key, value, sl_wl_lhash(ns, key, value));

	*n = g->ns ? g->n : 0;
	return cfg->wl_label_idx + g->first;
}

/* "spiffe://<td>/ns/<ns>/sa/<sa>" in @a (no printf: one per workload, on
 * every load); NULL on ENOMEM */
static const char *sl_spiffe_id(struct sl_arena *a, const char *td,
				const char *ns, const char *sa)
{
	const char *parts[] = { "spiffe://", td, "/ns/", ns, "/sa/", sa };
	size_t len[6], total = 0;
	char *s, *p;

	for (size_t i = 0; i < 6; i++)
		total += len[i] = strlen(parts[i]);
	s = p = sl_arena_alloc(a, total + 1);
	if (!s)
		return NULL;
	for (size_t i = 0; i < 6; i++) {
		memcpy(p, parts[i], len[i]);
		p += len[i];
	}
	*p = '\0';
	return s;
}

/* by SPIFFE ID, then node (NULL first) */
static int sl_wl_id_node_cmp(const void *a, const void *b)
{
	const struct sl_workload *x = *(const struct sl_workload *const *)a;
	const struct sl_workload *y = *(const struct sl_workload *const *)b;
	int c = strcmp(x->spiffe_id, y->spiffe_id);

	if (c)
		return c;
	if (!x->node || !y->node)
		return (x->node != NULL) - (y->node != NULL);
	return strcmp(x->node, y->node);
}

static int sl_resolve_workloads(struct sl_config *cfg, struct sl_cfg_errs *errs)
{
	size_t n = cfg->res.n[SL_K_WORKLOADENTRY];
	struct sl_arena *a = &cfg->arena;
	int ret = 0;

	cfg->workloads = sl_arena_array(a, n, sizeof(*cfg->workloads));
	cfg->wl_sorted = sl_arena_array(a, n, sizeof(*cfg->wl_sorted));
	cfg->wl_self = sl_arena_array(a, n, sizeof(*cfg->wl_self));
	cfg->wl_by_name = sl_arena_array(a, n, sizeof(*cfg->wl_by_name));
	cfg->wl_by_id_node = sl_arena_array(a, n, sizeof(*cfg->wl_by_id_node));
	if (!cfg->workloads || !cfg->wl_sorted || !cfg->wl_self ||
	    !cfg->wl_by_name || !cfg->wl_by_id_node)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct sl_we *we = SL_RES(cfg, SL_K_WORKLOADENTRY,
						struct sl_we, i);
		struct sl_workload *w = &cfg->workloads[i];

		w->name = we->r.name;
		w->ns = we->r.ns;
		w->service_account = we->service_account ? we->service_account :
							   "default";
		w->spiffe_id = sl_spiffe_id(a, cfg->node.trust_domain, w->ns,
					    w->service_account);
		w->node = sl_labels_get(we->labels, we->n_labels,
					"kubernetes.io/hostname");
		w->address = we->address;
		w->labels = we->labels;
		w->n_labels = we->n_labels;
		cfg->wl_sorted[i] = w;
		cfg->wl_by_name[i] = w;
		cfg->wl_by_id_node[i] = w;
		cfg->wl_self[i].workload = w;
		cfg->wl_self[i].address = w->address;
		cfg->wl_self[i].port = 0;
		cfg->wl_self[i].weight = we->weight;
	}
	cfg->n_workloads = n;
	sl_sort(cfg->wl_sorted, n, sizeof(*cfg->wl_sorted), sl_wl_cmp);
	/* names are unique per namespace (duplicates are refused earlier) */
	sl_sort(cfg->wl_by_name, n, sizeof(*cfg->wl_by_name), sl_wl_name_cmp);
	if (cfg->arena.failed)
		return -ENOMEM; /* a SPIFFE ID not made */
	sl_sort(cfg->wl_by_id_node, n, sizeof(*cfg->wl_by_id_node),
		sl_wl_id_node_cmp);
	if (sl_wl_labels_index(cfg) < 0)
		return -ENOMEM;
	for (size_t i = 1; i < n; i++) {
		const struct sl_workload *x = cfg->wl_sorted[i - 1];
		const struct sl_workload *y = cfg->wl_sorted[i];
		const struct sl_we *wx, *wy;
		char ip[INET6_ADDRSTRLEN];

		if (sl_wl_cmp(&cfg->wl_sorted[i - 1], &cfg->wl_sorted[i]))
			continue;
		if (x > y) { /* the later entry is the conflict */
			const struct sl_workload *t = x;

			x = y;
			y = t;
		}
		wx = SL_RES(cfg, SL_K_WORKLOADENTRY, struct sl_we,
			    (size_t)(x - cfg->workloads));
		wy = SL_RES(cfg, SL_K_WORKLOADENTRY, struct sl_we,
			    (size_t)(y - cfg->workloads));
		sl_pos_err(errs, &wy->addr_pos,
			   "conflict: address %s is also used by WorkloadEntry %s/%s (%s)",
			   sl_ip_format(&y->address, ip, sizeof(ip)), wx->r.ns,
			   wx->r.name, sl_pos_str(a, &wx->addr_pos));
		ret = -EINVAL;
	}
	return ret;
}

const struct sl_workload *
sl_config_workload_by_ip(const struct sl_config *cfg, const struct sl_ip *ip)
{
	struct sl_workload key = { .address = *ip };
	const struct sl_workload *kp = &key, *const *r;

	if (!cfg || !ip || !cfg->n_workloads)
		return NULL;
	r = sl_search(&kp, cfg->wl_sorted, cfg->n_workloads,
		    sizeof(*cfg->wl_sorted), sl_wl_cmp);
	return r ? *r : NULL;
}

const struct sl_workload *sl_config_workload_again(const struct sl_config *cfg,
						   const struct sl_workload *wl)
{
	const struct sl_workload *now;

	if (!wl || !wl->spiffe_id)
		return NULL;
	now = sl_config_workload_by_ip(cfg, &wl->address);
	if (!now || !now->spiffe_id || strcmp(now->spiffe_id, wl->spiffe_id))
		return NULL;
	return now;
}

bool sl_config_identity_on_node(const struct sl_config *cfg,
				const char *spiffe_id, const char *node)
{
	struct sl_workload key = { .spiffe_id = spiffe_id, .node = node };
	const struct sl_workload *kp = &key;

	if (!cfg || !spiffe_id || !node || !cfg->n_workloads)
		return false;
	return sl_search(&kp, cfg->wl_by_id_node, cfg->n_workloads,
			 sizeof(*cfg->wl_by_id_node), sl_wl_id_node_cmp) != NULL;
}

const struct sl_workload *
sl_config_workload_by_name(const struct sl_config *cfg, const char *ns,
			   const char *name)
{
	struct sl_workload key = { .ns = ns, .name = name };
	const struct sl_workload *kp = &key, *const *r;

	if (!cfg || !ns || !name || !cfg->n_workloads)
		return NULL;
	r = sl_search(&kp, cfg->wl_by_name, cfg->n_workloads,
		    sizeof(*cfg->wl_by_name), sl_wl_name_cmp);
	return r ? *r : NULL;
}

/* ---- hosts ------------------------------------------------------------ */

static int sl_host_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sl_host *)a)->name,
		      ((const struct sl_host *)b)->name);
}

static int sl_host_order_cmp(const void *a, const void *b)
{
	const struct sl_host *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

struct sl_host *sl_cfg_host_find(const struct sl_config *cfg, const char *name)
{
	struct sl_host key = { .name = name };

	if (!cfg->n_hosts)
		return NULL;
	return sl_search(&key, cfg->hosts, cfg->n_hosts, sizeof(*cfg->hosts),
		       sl_host_cmp);
}

/*
 * Istio's short names: "reviews" in namespace ns is
 * reviews.<ns>.svc.cluster.local; "reviews.prod" is
 * reviews.prod.svc.cluster.local when that is defined; other names are
 * taken as written.
 */
static struct sl_host *sl_host_lookup(struct sl_config *cfg, const char *raw,
				      const char *ns, const char **fqdn)
{
	const char *dot = strchr(raw, '.');
	struct sl_host *h;

	if (!dot) {
		*fqdn = sl_arena_printf(&cfg->arena, "%s.%s." SL_CFG_CLUSTER_DOMAIN,
					raw, ns);
		return *fqdn ? sl_cfg_host_find(cfg, *fqdn) : NULL;
	}
	if (!strchr(dot + 1, '.')) {
		const char *x = sl_arena_printf(&cfg->arena,
						"%s." SL_CFG_CLUSTER_DOMAIN, raw);

		h = x ? sl_cfg_host_find(cfg, x) : NULL;
		if (h) {
			*fqdn = h->name;
			return h;
		}
	}
	*fqdn = raw;
	return sl_cfg_host_find(cfg, raw);
}

const char *sl_cfg_host_fqdn(struct sl_arena *a, const char *host,
			     const char *ns)
{
	if (strchr(host, '.'))
		return host;
	return sl_arena_printf(a, "%s.%s." SL_CFG_CLUSTER_DOMAIN, host, ns);
}

static int sl_resolve_hosts(struct sl_config *cfg, struct sl_cfg_errs *errs)
{
	size_t n = cfg->res.n[SL_K_SERVICE], k = 0;
	struct sl_arena *a = &cfg->arena;
	int ret = 0;

	for (size_t i = 0; i < cfg->res.n[SL_K_SERVICEENTRY]; i++)
		n += SL_RES(cfg, SL_K_SERVICEENTRY, struct sl_se, i)->n_hosts;
	cfg->hosts = sl_arena_array(a, n, sizeof(*cfg->hosts));
	if (!cfg->hosts)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->res.n[SL_K_SERVICE]; i++) {
		struct sl_svc *s = SL_RES(cfg, SL_K_SERVICE, struct sl_svc, i);
		struct sl_host *h = &cfg->hosts[k++];

		h->name = sl_arena_printf(a, "%s.%s." SL_CFG_CLUSTER_DOMAIN,
					  s->r.name, s->r.ns);
		h->ns = s->r.ns;
		h->def = &s->r;
		h->vips = sl_arena_array(a, s->n_vips, sizeof(*h->vips));
		for (size_t j = 0; h->vips && j < s->n_vips; j++) {
			h->vips[j].ip = s->vips[j];
			h->vips[j].prefix = s->vips[j].family == AF_INET ? 32 : 128;
		}
		h->n_vips = h->vips ? s->n_vips : 0;
		h->ports = s->ports;
		h->n_ports = s->n_ports;
		h->no_vip_yet = !s->n_vips && !s->headless;
		if (h->no_vip_yet)
			sl_cfg_err_add(&cfg->warns, s->r.pos.file, s->r.pos.line,
				       s->r.pos.col, "spec.clusterIP",
				       "Service %s has no clusterIP (Kubernetes assigns one when it creates the Service): until sluice knows its VIP, flows to its pods are routed by pod address only, and the VirtualService and DestinationRule routes of this host do not apply (write clusterIP, or \"None\" for a headless Service)",
				       h->name);
	}
	for (size_t i = 0; i < cfg->res.n[SL_K_SERVICEENTRY]; i++) {
		struct sl_se *s = SL_RES(cfg, SL_K_SERVICEENTRY, struct sl_se, i);

		for (size_t j = 0; j < s->n_hosts; j++) {
			struct sl_host *h = &cfg->hosts[k++];

			h->name = s->hosts[j];
			h->ns = s->r.ns;
			h->def = &s->r;
			h->vips = s->addresses;
			h->n_vips = s->n_addresses;
			h->ports = s->ports;
			h->n_ports = s->n_ports;
			h->passthrough = s->resolution == SL_RES_NONE &&
					 !s->n_eps && !s->has_selector;
		}
	}
	cfg->n_hosts = k;
	for (size_t i = 0; i < k; i++)
		cfg->hosts[i].order = i;
	sl_sort(cfg->hosts, k, sizeof(*cfg->hosts), sl_host_order_cmp);
	/* duplicates: report the later definition */
	for (size_t i = 1; i < k; i++) {
		const struct sl_host *x = &cfg->hosts[i - 1];
		const struct sl_host *y = &cfg->hosts[i];
		struct sl_pos p = y->def->pos;

		if (strcmp(x->name, y->name) != 0)
			continue;
		while (x > cfg->hosts && !strcmp(x[-1].name, y->name))
			x--; /* name the first definition */
		if (y->def->kind == SL_K_SERVICEENTRY) {
			const struct sl_se *se = (const struct sl_se *)y->def;

			for (size_t m = 0; m < se->n_hosts; m++)
				if (!strcmp(se->hosts[m], y->name))
					p = se->host_pos[m];
		} else {
			p.path = "metadata.name";
		}
		sl_pos_err(errs, &p,
			   "duplicate host \"%s\" (already defined by %s %s/%s at %s)",
			   y->name, sl_kind_names[x->def->kind], x->def->ns,
			   x->def->name, sl_pos_str(a, &x->def->pos));
		ret = -EINVAL;
	}
	return ret;
}

/* ---- VIPs ------------------------------------------------------------- */

static int sl_vip_cmp(const void *a, const void *b)
{
	const struct sl_ip *x = &((const struct sl_vip *)a)->ip;
	const struct sl_ip *y = &((const struct sl_vip *)b)->ip;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return memcmp(&x->v6, &y->v6, x->family == AF_INET ? 4 : 16);
}

static int sl_resolve_vips(struct sl_config *cfg, struct sl_cfg_errs *errs)
{
	size_t n = 0, nn = 0;
	int ret = 0;

	for (size_t i = 0; i < cfg->n_hosts; i++)
		n += cfg->hosts[i].n_vips;
	cfg->vips = sl_arena_array(&cfg->arena, n, sizeof(*cfg->vips));
	cfg->vip_nets = sl_arena_array(&cfg->arena, n, sizeof(*cfg->vip_nets));
	if (!cfg->vips || !cfg->vip_nets)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_hosts; i++) {
		struct sl_host *h = &cfg->hosts[i];

		for (size_t j = 0; j < h->n_vips; j++) {
			bool single = h->vips[j].prefix ==
				      (h->vips[j].ip.family == AF_INET ? 32u : 128u);
			struct sl_vip *v = single ? &cfg->vips[cfg->n_vips++] :
						    &cfg->vip_nets[nn++];

			v->ip = h->vips[j].ip;
			v->host = h;
			if (single && sl_config_workload_by_ip(cfg, &v->ip)) {
				char ip[INET6_ADDRSTRLEN];

				sl_cfg_err_add(errs, h->def->pos.file,
					       h->def->pos.line, h->def->pos.col,
					       "spec",
					       "conflict: VIP %s of host %s is also a workload address",
					       sl_ip_format(&v->ip, ip, sizeof(ip)),
					       h->name);
				ret = -EINVAL;
			}
		}
	}
	cfg->n_vip_nets = nn;
	sl_sort(cfg->vips, cfg->n_vips, sizeof(*cfg->vips), sl_vip_cmp);
	for (size_t i = 1; i < cfg->n_vips; i++) {
		const struct sl_host *h = cfg->vips[i].host;
		const struct sl_host *o = cfg->vips[i - 1].host;
		char ip[INET6_ADDRSTRLEN];

		if (sl_vip_cmp(&cfg->vips[i - 1], &cfg->vips[i]))
			continue;
		if (o->order > h->order) {
			/* report at the later definition */
			const struct sl_host *t = o;

			o = h;
			h = t;
		}
		sl_cfg_err_add(errs, h->def->pos.file, h->def->pos.line,
			       h->def->pos.col, "spec",
			       "conflict: address %s is already the VIP of %s",
			       sl_ip_format(&cfg->vips[i].ip, ip, sizeof(ip)),
			       o->name);
		ret = -EINVAL;
	}
	return ret;
}

struct sl_host *sl_cfg_vip_host(const struct sl_config *cfg,
				const struct sl_ip *ip)
{
	struct sl_vip key = { .ip = *ip };
	const struct sl_vip *v;

	if (cfg->n_vips) {
		v = sl_search(&key, cfg->vips, cfg->n_vips, sizeof(*cfg->vips),
			    sl_vip_cmp);
		if (v)
			return v->host;
	}
	for (size_t i = 0; i < cfg->n_vip_nets; i++) {
		const struct sl_host *h = cfg->vip_nets[i].host;

		for (size_t j = 0; j < h->n_vips; j++)
			if (sl_cidr_contains(&h->vips[j], ip))
				return cfg->vip_nets[i].host;
	}
	return NULL;
}

const char *sl_config_service_host(const struct sl_config *cfg,
				   const struct sl_ip *ip)
{
	const struct sl_host *h = sl_cfg_vip_host(cfg, ip);

	return h ? h->name : NULL;
}

/* ---- DestinationRules and VirtualServices ------------------------------ */

static int sl_resolve_drs(struct sl_config *cfg, struct sl_cfg_errs *errs)
{
	int ret = 0;

	for (size_t i = 0; i < cfg->res.n[SL_K_DESTINATIONRULE]; i++) {
		struct sl_dr *dr = SL_RES(cfg, SL_K_DESTINATIONRULE,
					  struct sl_dr, i);
		const char *fqdn;
		struct sl_host *h = sl_host_lookup(cfg, dr->host, dr->r.ns, &fqdn);

		if (!h) {
			sl_pos_err(errs, &dr->host_pos,
				   "host \"%s\" is not defined by any Service or ServiceEntry",
				   fqdn);
			ret = -EINVAL;
			continue;
		}
		dr->host = h->name;
		if (h->dr) {
			sl_pos_err(errs, &dr->host_pos,
				   "conflict: host %s already has DestinationRule %s/%s (%s)",
				   h->name, h->dr->r.ns, h->dr->r.name,
				   sl_pos_str(&cfg->arena, &h->dr->host_pos));
			ret = -EINVAL;
			continue;
		}
		h->dr = dr;
	}
	return ret;
}

static int sl_resolve_dest(struct sl_config *cfg, struct sl_vs *vs,
			   struct sl_vs_dest *d, struct sl_cfg_errs *errs)
{
	const char *fqdn;
	struct sl_host *h = sl_host_lookup(cfg, d->host_raw, vs->r.ns, &fqdn);
	bool port_ok = !d->port;

	if (!h) {
		sl_pos_err(errs, &d->host_pos,
			   "host \"%s\" is not defined by any Service or ServiceEntry",
			   fqdn);
		return -EINVAL;
	}
	d->host = h;
	for (size_t i = 0; i < h->n_ports; i++)
		port_ok |= h->ports[i].port == d->port;
	if (!port_ok) {
		sl_pos_err(errs, &d->port_pos, "host %s has no port %u", h->name,
			   d->port);
		return -EINVAL;
	}
	if (!d->subset)
		return 0;
	if (!h->dr) {
		sl_pos_err(errs, &d->subset_pos,
			   "subset \"%s\": host %s has no DestinationRule",
			   d->subset, h->name);
		return -EINVAL;
	}
	for (size_t i = 0; i < h->dr->n_subsets; i++)
		if (!strcmp(h->dr->subsets[i].name, d->subset)) {
			d->subset_idx = (int)i;
			return 0;
		}
	sl_pos_err(errs, &d->subset_pos,
		   "subset \"%s\" is not defined in DestinationRule %s/%s for host %s",
		   d->subset, h->dr->r.ns, h->dr->r.name, h->name);
	return -EINVAL;
}

static int sl_resolve_vss(struct sl_config *cfg, struct sl_cfg_errs *errs)
{
	int ret = 0;

	for (size_t i = 0; i < cfg->res.n[SL_K_VIRTUALSERVICE]; i++) {
		struct sl_vs *vs = SL_RES(cfg, SL_K_VIRTUALSERVICE,
					  struct sl_vs, i);

		for (size_t j = 0; j < vs->n_hosts; j++) {
			const char *fqdn;
			struct sl_host *h = sl_host_lookup(cfg, vs->hosts[j],
							   vs->r.ns, &fqdn);

			if (!h) {
				sl_pos_err(errs, &vs->host_pos[j],
					   "host \"%s\" is not defined by any Service or ServiceEntry",
					   fqdn);
				ret = -EINVAL;
				continue;
			}
			vs->hosts[j] = h->name;
			if (h->vs == vs) {
				sl_pos_err(errs, &vs->host_pos[j],
					   "duplicate host %s", h->name);
				ret = -EINVAL;
			} else if (h->vs) {
				sl_pos_err(errs, &vs->host_pos[j],
					   "conflict: host %s already has VirtualService %s/%s (%s)",
					   h->name, h->vs->r.ns, h->vs->r.name,
					   sl_pos_str(&cfg->arena, &h->vs->r.pos));
				ret = -EINVAL;
			} else {
				h->vs = vs;
			}
		}
		for (size_t r = 0; r < vs->n_rules; r++) {
			for (size_t k = 0; k < vs->rules[r].n_dests; k++)
				if (sl_resolve_dest(cfg, vs,
						    &vs->rules[r].dests[k],
						    errs) < 0)
					ret = -EINVAL;
			if (vs->rules[r].mirror &&
			    sl_resolve_dest(cfg, vs, vs->rules[r].mirror,
					    errs) < 0)
				ret = -EINVAL;
		}
	}
	return ret;
}

/* ---- endpoints -------------------------------------------------------- */

static uint32_t sl_portmap_get(const struct sl_portmap *m, size_t n,
			       const char *name)
{
	for (size_t i = 0; name && i < n; i++)
		if (!strcmp(m[i].name, name))
			return m[i].port;
	return 0;
}

uint32_t sl_cfg_target_port(const struct sl_svc_port *p,
			       const struct sl_portmap *m, size_t n)
{
	uint32_t x;

	if (p->target_name)
		return sl_portmap_get(m, n, p->target_name);
	x = sl_portmap_get(m, n, p->name);
	if (x)
		return x;
	return p->target ? p->target : p->port;
}

/* in wl_by_name, the first workload of namespace @ns, or (@after) the
 * first after them */
static size_t sl_wl_ns_first(const struct sl_config *cfg, const char *ns,
			     bool after)
{
	size_t lo = 0, hi = cfg->n_workloads;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(cfg->wl_by_name[mid]->ns, ns);

		if (c < 0 || (after && c == 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* ---- EndpointSlices ------------------------------------------------------ */

static int sl_eps_cmp(const void *a, const void *b)
{
	const struct sl_eps *x = *(const struct sl_eps *const *)a;
	const struct sl_eps *y = *(const struct sl_eps *const *)b;
	int c = strcmp(x->r.ns, y->r.ns);

	return c ? c : strcmp(x->service, y->service);
}

/* the first slice of Service @ns/@svc in cfg->eps_by_svc (or past it) */
static size_t sl_eps_first(const struct sl_config *cfg, const char *ns,
			   const char *svc)
{
	struct sl_eps key = { .r.ns = ns, .service = svc };
	const struct sl_eps *kp = &key;
	size_t lo = 0, hi = cfg->n_eps_by_svc;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sl_eps_cmp(&cfg->eps_by_svc[mid], &kp) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* index the slices that have effect; warn about those of no Service */
static int sl_resolve_eps(struct sl_config *cfg)
{
	size_t n = cfg->res.n[SL_K_ENDPOINTSLICE];

	cfg->eps_by_svc = sl_arena_array(&cfg->arena, n ? n : 1,
					 sizeof(*cfg->eps_by_svc));
	if (!cfg->eps_by_svc)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct sl_eps *e = SL_RES(cfg, SL_K_ENDPOINTSLICE,
						struct sl_eps, i);
		const char *fqdn;
		const struct sl_host *h;

		if (e->skip)
			continue;
		fqdn = sl_arena_printf(&cfg->arena, "%s.%s.%s", e->service,
				       e->r.ns, SL_CFG_CLUSTER_DOMAIN);
		if (!fqdn)
			return -ENOMEM;
		h = sl_cfg_host_find(cfg, fqdn);
		if (!h || h->def->kind != SL_K_SERVICE) {
			sl_cfg_err_add(&cfg->warns, e->r.pos.file,
				       e->r.pos.line, e->r.pos.col,
				       "metadata.labels",
				       "no Service %s/%s (label %s): this EndpointSlice has no effect",
				       e->r.ns, e->service, SL_EPS_SERVICE_NAME);
			continue;
		}
		cfg->eps_by_svc[cfg->n_eps_by_svc++] = e;
	}
	sl_sort(cfg->eps_by_svc, cfg->n_eps_by_svc, sizeof(*cfg->eps_by_svc),
		sl_eps_cmp);
	return 0;
}

/* the endpoints the slices of Service @svc give for port @p (count them
 * when @out is NULL): the ready ones (all with publishNotReadyAddresses),
 * at the slice's port of the same name; a pod's address is its workload */
static size_t sl_epset_slices(struct sl_config *cfg, const struct sl_svc *svc,
			      struct sl_endpoint *out,
			      const struct sl_subset *sub,
			      const struct sl_svc_port *p)
{
	const char *pname = p->name ? p->name : "";
	size_t n = 0;

	for (size_t i = sl_eps_first(cfg, svc->r.ns, svc->r.name);
	     i < cfg->n_eps_by_svc; i++) {
		const struct sl_eps *e = cfg->eps_by_svc[i];
		uint32_t port = 0;

		if (strcmp(e->r.ns, svc->r.ns) || strcmp(e->service, svc->r.name))
			break;
		for (size_t j = 0; j < e->n_ports && !port; j++)
			if (!strcmp(e->ports[j].name, pname))
				port = e->ports[j].port;
		if (!port)
			continue;
		for (size_t j = 0; j < e->n_eps; j++) {
			const struct sl_eps_ep *ep = &e->eps[j];
			const struct sl_workload *wl;

			if (!ep->ready && !svc->publish_not_ready)
				continue;
			wl = sl_config_workload_by_ip(cfg, &ep->address);
			/* a subset's labels are a workload's; an address that
			   is no workload has none */
			if (sub && !(wl && sl_labels_match(sub->labels,
							   sub->n_labels,
							   wl->labels,
							   wl->n_labels)))
				continue;
			if (out) {
				out[n].workload = wl;
				out[n].address = ep->address;
				out[n].port = (uint16_t)port;
				out[n].weight = 1;
			}
			n++;
		}
	}
	return n;
}

/* endpoints of workloads: by the workload's index (its entry's order) */
static int sl_ep_index_cmp(const void *a, const void *b)
{
	const struct sl_endpoint *x = a, *y = b;

	return (x->workload > y->workload) - (x->workload < y->workload);
}

/* one pass over the candidates: count them (@out NULL) or fill @out */
static size_t sl_epset_pass(struct sl_config *cfg, struct sl_host *h,
			    struct sl_endpoint *out, const struct sl_subset *sub,
			    const struct sl_svc_port *p)
{
	const struct sl_se *se = h->def->kind == SL_K_SERVICEENTRY ?
		(const struct sl_se *)h->def : NULL;
	const struct sl_svc *svc = se ? NULL : (const struct sl_svc *)h->def;
	const struct sl_label *sel = se ? se->selector : svc->selector;
	size_t n_sel = se ? se->n_selector : svc->n_selector, n = 0, n0 = 0;
	bool use_wl = se ? se->has_selector : (svc->has_selector && n_sel);

	if (se && !se->has_selector) {
		for (size_t i = 0; i < se->n_eps; i++) {
			const struct sl_se_ep *ep = &se->eps[i];
			uint32_t port;

			if (sub && !sl_labels_match(sub->labels, sub->n_labels,
						    ep->labels, ep->n_labels))
				continue;
			port = sl_cfg_target_port(p, ep->ports, ep->n_ports);
			if (!port)
				continue;
			if (out) {
				out[n].workload = sl_config_workload_by_ip(cfg,
									   &ep->address);
				out[n].address = ep->address;
				out[n].port = (uint16_t)port;
				out[n].weight = ep->weight;
			}
			n++;
		}
		return n;
	}
	/* a Service's EndpointSlices (written, or mirrored from Endpoints),
	   then the workloads its selector picks */
	if (svc && cfg->n_eps_by_svc)
		n = n0 = sl_epset_slices(cfg, svc, out, sub, p);
	if (!use_wl)
		return n;
	/* with a selector, the workloads of the host's namespace that have
	   its first label (a group of the label index, in workload order);
	   without, every workload of the namespace (a run of wl_by_name) */
	const size_t *run = NULL;
	size_t r, end;

	if (n_sel) {
		run = sl_wl_label_run(cfg, h->ns, sel[0].key, sel[0].value,
				      &end);
		r = 0;
	} else {
		r = sl_wl_ns_first(cfg, h->ns, false);
		end = sl_wl_ns_first(cfg, h->ns, true);
	}
	for (; r < end; r++) {
		size_t i = n_sel ? run[r] :
			(size_t)(cfg->wl_by_name[r] - cfg->workloads);
		const struct sl_we *we = SL_RES(cfg, SL_K_WORKLOADENTRY,
						struct sl_we, i);
		uint32_t port;

		if ((!(svc && svc->publish_not_ready) && we->not_ready) ||
		    !sl_labels_match(sel, n_sel, we->labels, we->n_labels) ||
		    (sub && !sl_labels_match(sub->labels, sub->n_labels,
					     we->labels, we->n_labels)))
			continue;
		port = sl_cfg_target_port(p, we->ports, we->n_ports);
		if (!port)
			continue;
		if (out) {
			out[n].workload = &cfg->workloads[i];
			out[n].address = we->address;
			out[n].port = (uint16_t)port;
			out[n].weight = we->weight;
		}
		n++;
	}
	/* in the order of the WorkloadEntries, as they were given (a group
	   of the label index is in that order already; wl_by_name is by
	   name) */
	if (out && !n_sel)
		sl_sort(out + n0, n - n0, sizeof(*out), sl_ep_index_cmp);
	return n;
}

static int sl_epset_build(struct sl_config *cfg, struct sl_host *h,
			  struct sl_epset *set, const struct sl_subset *sub,
			  const struct sl_svc_port *p)
{
	size_t n = sl_epset_pass(cfg, h, NULL, sub, p);

	if (!n)
		return 0;
	set->eps = sl_arena_array(&cfg->arena, n, sizeof(*set->eps));
	if (!set->eps)
		return -ENOMEM;
	set->n = sl_epset_pass(cfg, h, set->eps, sub, p);
	return 0;
}

static int sl_resolve_endpoints(struct sl_config *cfg)
{
	for (size_t i = 0; i < cfg->n_hosts; i++) {
		struct sl_host *h = &cfg->hosts[i];
		size_t ns = h->dr ? h->dr->n_subsets : 0;

		h->n_sets = (ns + 1) * h->n_ports;
		h->sets = sl_arena_array(&cfg->arena, h->n_sets, sizeof(*h->sets));
		if (!h->sets)
			return -ENOMEM;
		for (size_t s = 0; s <= ns; s++)
			for (size_t p = 0; p < h->n_ports; p++) {
				struct sl_epset *set = &h->sets[s * h->n_ports + p];

				set->subset = (int)s - 1;
				set->svc_port = (uint16_t)h->ports[p].port;
				if (sl_epset_build(cfg, h, set,
						   s ? &h->dr->subsets[s - 1] : NULL,
						   &h->ports[p]) < 0)
					return -ENOMEM;
			}
	}
	return 0;
}

const struct sl_epset *sl_cfg_epset(const struct sl_host *h, int subset,
				    uint16_t port)
{
	size_t base = (size_t)(subset + 1) * h->n_ports;

	for (size_t p = 0; p < h->n_ports; p++)
		if (h->ports[p].port == port)
			return &h->sets[base + p];
	return NULL;
}

struct sl_vs_rule *sl_cfg_rule_for(struct sl_vs *vs, uint16_t port)
{
	struct sl_vs_rule *last_http = NULL;

	for (size_t i = 0; i < vs->n_rules; i++) {
		struct sl_vs_rule *r = &vs->rules[i];

		if (!r->tcp)
			continue;
		if (r->any_port)
			return r;
		for (size_t j = 0; j < r->n_ports; j++)
			if (r->ports[j] == port)
				return r;
	}
	for (size_t i = 0; i < vs->n_rules; i++) {
		struct sl_vs_rule *r = &vs->rules[i];

		if (r->tcp)
			continue;
		if (!r->has_match)
			return r;
		last_http = r;
	}
	return last_http;
}

int sl_config_resolve(const struct sl_config *cfg,
				const struct sl_workload *src,
				const struct sl_ip *dst, uint16_t port,
				const struct sl_endpoint **eps, size_t *n_eps)
{
	const struct sl_workload *wl;
	const struct sl_epset *set;
	struct sl_host *h, *th;
	struct sl_vs_rule *rule;
	int subset = -1;
	uint16_t tport = port;

	if (!cfg || !dst)
		return -ENOENT;
	wl = sl_config_workload_by_ip(cfg, dst);
	if (wl) {
		*eps = &cfg->wl_self[wl - cfg->workloads];
		*n_eps = 1;
		return 0;
	}
	h = sl_cfg_vip_host(cfg, dst);
	if (!h || !sl_cfg_epset(h, -1, port))
		return -ENOENT;
	th = h;
	rule = h->vs ? sl_cfg_rule_for(h->vs, port) : NULL;
	if (rule && rule->wrr_len) {
		unsigned int i = atomic_fetch_add_explicit(&rule->wrr_next, 1,
							   memory_order_relaxed);
		const struct sl_vs_dest *d = &rule->dests[rule->wrr[i % rule->wrr_len]];

		th = d->host;
		subset = d->subset_idx;
		if (d->port)
			tport = (uint16_t)d->port;
		else if (th != h && th->n_ports == 1)
			tport = (uint16_t)th->ports[0].port;
	}
	if (th->passthrough) {
		*eps = &cfg->passthrough_ep;
		*n_eps = 1;
		return 0;
	}
	set = sl_cfg_epset(th, subset, tport);
	if (!set || !set->n)
		return -ENOENT;
	*eps = set->eps;
	*n_eps = set->n;
	return 0;
}

int sl_cfg_resolve_all(struct sl_config *cfg, const char *node_name,
		       struct sl_cfg_errs *errs)
{
	int ret = 0, r;

	if (sl_resolve_node(cfg, node_name, errs) < 0)
		ret = -EINVAL;
	if (sl_resolve_dup_names(cfg, errs) < 0)
		ret = -EINVAL;
	r = sl_resolve_workloads(cfg, errs);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		ret = r;
	r = sl_resolve_hosts(cfg, errs);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return r; /* host table unusable: stop here */
	r = sl_resolve_vips(cfg, errs);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		ret = r;
	if (sl_resolve_drs(cfg, errs) < 0)
		ret = -EINVAL;
	if (sl_resolve_vss(cfg, errs) < 0)
		ret = -EINVAL;
	if (ret < 0)
		return ret;
	sl_cfg_http_warn(cfg);
	if (sl_resolve_eps(cfg) < 0)
		return -ENOMEM;
	return sl_resolve_endpoints(cfg);
}

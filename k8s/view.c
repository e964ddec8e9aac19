/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What other threads read of the Kubernetes source (k8s.h): the view (the
 * documents of the meshed namespaces, each a reference, taken under
 * k->lock) and the Node that has an address (the node binding).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reflector.h"
#include "util.h"

static bool sl_k8s_ns_meshed(const struct sl_k8s_store *nss, const char *ns)
{
	char key[320];
	const struct sl_k8s_obj *o;

	if (snprintf(key, sizeof(key), "/%s", ns) >= (int)sizeof(key))
		return false;
	o = sl_k8s_store_find(nss, key);
	return o && (o->flags & SL_K8S_MESHED);
}

/* the namespace asked last and its answer: a store is sorted by
   namespace, so most objects ask what the one before asked */
struct sl_k8s_ns_memo {
	const char *ns;
	bool meshed;
};

static bool sl_k8s_counts(const struct sl_k8s_store *nss,
			  const struct sl_k8s_obj *o, struct sl_k8s_ns_memo *m)
{
	if (!(o->flags & SL_K8S_NS_GATED))
		return true;
	if (o->flags & SL_K8S_OPT_OUT)
		return false;
	if (!m->ns || strcmp(m->ns, o->ns)) {
		m->ns = o->ns;
		m->meshed = sl_k8s_ns_meshed(nss, o->ns);
	}
	return m->meshed;
}

struct sl_k8s_view *sl_k8s_view(struct sl_k8s *k)
{
	const struct sl_k8s_store *nss = &k->refl[0].store;
	struct sl_k8s_view *v = calloc(1, sizeof(*v));
	size_t n = 0;

	if (!v)
		return NULL;
	atomic_init(&v->refs, 1);
	pthread_mutex_lock(&k->lock);
	if (!k->published) {
		pthread_mutex_unlock(&k->lock);
		free(v);
		return NULL;
	}
	v->serial = k->serial;
	for (size_t i = 1; i < sl_k8s_n_resources; i++) {
		const struct sl_k8s_store *s = &k->refl[i].store;
		struct sl_k8s_ns_memo m = { NULL, false };

		for (size_t j = 0; j < s->n; j++)
			if (sl_k8s_counts(nss, s->v[j], &m))
				n += s->v[j]->n_docs;
	}
	v->docs = calloc(n ? n : 1, sizeof(*v->docs));
	v->held = calloc(n ? n : 1, sizeof(*v->held));
	if (!v->docs || !v->held) {
		pthread_mutex_unlock(&k->lock);
		sl_k8s_view_put(v);
		return NULL;
	}
	for (size_t i = 1; i < sl_k8s_n_resources; i++) {
		const struct sl_k8s_store *s = &k->refl[i].store;
		struct sl_k8s_ns_memo m = { NULL, false };

		for (size_t j = 0; j < s->n; j++) {
			const struct sl_k8s_obj *o = s->v[j];

			if (!sl_k8s_counts(nss, o, &m))
				continue;
			for (size_t d = 0; d < o->n_docs; d++) {
				struct sl_k8s_doc *doc = o->docs[d];

				v->held[v->n] = sl_k8s_doc_get(doc);
				v->docs[v->n] = (struct sl_config_doc){
					.name = doc->name,
					.path = doc->path,
					.buf = doc->text,
					.len = doc->len,
					.api = true,
					.cache = &doc->cache,
				};
				v->n++;
			}
		}
	}
	pthread_mutex_unlock(&k->lock);
	return v;
}

const struct sl_config_doc *sl_k8s_view_docs(const struct sl_k8s_view *v,
					     size_t *n)
{
	*n = v->n;
	return v->docs;
}

uint64_t sl_k8s_view_serial(const struct sl_k8s_view *v)
{
	return v->serial;
}

void sl_k8s_view_put(struct sl_k8s_view *v)
{
	if (!v || atomic_fetch_sub(&v->refs, 1) != 1)
		return;
	for (size_t i = 0; i < v->n; i++)
		sl_k8s_doc_put(v->held[i]);
	free(v->held);
	free(v->docs);
	free(v);
}

static int sl_k8s_node_addr_cmp(const void *a, const void *b)
{
	const struct sl_ip *x = &((const struct sl_k8s_node_addr *)a)->ip;
	const struct sl_ip *y = &((const struct sl_k8s_node_addr *)b)->ip;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return memcmp(&x->v6, &y->v6, x->family == AF_INET ? 4 : 16);
}

/* k->node_addrs from the nodes store (under k->lock); -ENOMEM */
static int sl_k8s_node_index(struct sl_k8s *k, const struct sl_k8s_store *s)
{
	struct sl_k8s_node_addr *v;
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++)
		n += s->v[i]->n_ips;
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	n = 0;
	for (size_t i = 0; i < s->n; i++)
		for (size_t j = 0; j < s->v[i]->n_ips; j++)
			v[n++] = (struct sl_k8s_node_addr){
				.ip = s->v[i]->ips[j], .key = s->v[i]->key,
			};
	sl_sort(v, n, sizeof(*v), sl_k8s_node_addr_cmp);
	free(k->node_addrs);
	k->node_addrs = v;
	k->n_node_addrs = n;
	k->nodes_stale = false;
	return 0;
}

/* the reflector of the Nodes */
static struct sl_refl *sl_k8s_nodes_refl(struct sl_k8s *k)
{
	for (size_t i = 0; i < sl_k8s_n_resources; i++)
		if (!strcmp(sl_k8s_resources[i].name, "nodes"))
			return &k->refl[i];
	return NULL;
}

void sl_k8s_seed_free(struct sl_k8s *k)
{
	for (size_t i = 0; i < k->n_seed_addrs; i++)
		free((char *)k->seed_addrs[i].key);
	free(k->seed_addrs);
	k->seed_addrs = NULL;
	k->n_seed_addrs = 0;
}

/* the index node_of searches (under k->lock): the Nodes once listed,
   the seed before; NULL on ENOMEM */
static const struct sl_k8s_node_addr *sl_k8s_addrs(struct sl_k8s *k,
						   size_t *n)
{
	struct sl_refl *r = sl_k8s_nodes_refl(k);

	*n = 0;
	if (!r)
		return NULL;
	if (!r->st.synced) {
		*n = k->n_seed_addrs;
		return k->seed_addrs;
	}
	if (k->seed_addrs)
		sl_k8s_seed_free(k); /* listed: the saved addresses go */
	/* a binary search, the index rebuilt only after a change */
	if (k->nodes_stale && sl_k8s_node_index(k, &r->store) < 0)
		return NULL;
	*n = k->n_node_addrs;
	return k->node_addrs;
}

int sl_k8s_nodes_save(struct sl_k8s *k, char **out, size_t *len)
{
	const struct sl_k8s_node_addr *v;
	FILE *f;
	size_t n;
	int ret = 0;

	*out = NULL;
	*len = 0;
	f = open_memstream(out, len);
	if (!f)
		return -ENOMEM;
	pthread_mutex_lock(&k->lock);
	v = sl_k8s_addrs(k, &n);
	for (size_t i = 0; i < n; i++) {
		char ip[64];

		sl_ip_format(&v[i].ip, ip, sizeof(ip));
		fprintf(f, "%s\t%s\n", v[i].key + 1, ip); /* "/<name>" */
	}
	pthread_mutex_unlock(&k->lock);
	if (fclose(f) != 0)
		ret = -ENOMEM;
	if (ret) {
		free(*out);
		*out = NULL;
		*len = 0;
	}
	return ret;
}

int sl_k8s_nodes_seed(struct sl_k8s *k, const char *text, size_t len)
{
	struct sl_k8s_node_addr *v = NULL;
	size_t n = 0, cap = 0;
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *tab = memchr(p, '\t', (size_t)((nl ? nl : end) - p));
		const char *e = nl ? nl : end;
		char ip[64];
		struct sl_ip addr;

		if (tab && tab > p && (size_t)(e - tab - 1) < sizeof(ip)) {
			memcpy(ip, tab + 1, (size_t)(e - tab - 1));
			ip[e - tab - 1] = '\0';
			if (sl_ip_parse(ip, &addr) == 0) {
				char *key;

				if (n == cap) {
					size_t c = cap ? cap * 2 : 16;
					void *nv = realloc(v, c * sizeof(*v));

					if (!nv)
						goto enomem;
					v = nv;
					cap = c;
				}
				if (asprintf(&key, "/%.*s", (int)(tab - p), p) < 0)
					goto enomem;
				v[n++] = (struct sl_k8s_node_addr){ .ip = addr,
								    .key = key };
			}
		}
		p = e + 1;
	}
	sl_sort(v, n, sizeof(*v), sl_k8s_node_addr_cmp);
	pthread_mutex_lock(&k->lock);
	sl_k8s_seed_free(k);
	k->seed_addrs = v;
	k->n_seed_addrs = n;
	pthread_mutex_unlock(&k->lock);
	return (int)n;
enomem:
	for (size_t i = 0; i < n; i++)
		free((char *)v[i].key);
	free(v);
	return -ENOMEM;
}

int sl_k8s_node_of(struct sl_k8s *k, const struct sl_ip *ip, char *name,
		   size_t len)
{
	struct sl_k8s_node_addr key = { .ip = *ip };
	const struct sl_k8s_node_addr *v, *hit = NULL;
	size_t n;
	int ret = -ENOENT;

	/* an inbound connection asks */
	pthread_mutex_lock(&k->lock);
	v = sl_k8s_addrs(k, &n);
	if (v)
		hit = sl_search(&key, v, n, sizeof(*v), sl_k8s_node_addr_cmp);
	if (hit) {
		sl_strlcpy(name, hit->key + 1, len); /* "/<name>" */
		ret = 0;
	}
	pthread_mutex_unlock(&k->lock);
	return ret;
}

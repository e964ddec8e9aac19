/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What other threads read of the Kubernetes source (k8s.h): the view (the
 * documents of the meshed namespaces, each a reference, taken under
 * k->lock) and the Node that has an address (the node binding).
 */
#include <errno.h>
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

static bool sl_k8s_counts(const struct sl_k8s_store *nss,
			  const struct sl_k8s_obj *o)
{
	if (!(o->flags & SL_K8S_NS_GATED))
		return true;
	return !(o->flags & SL_K8S_OPT_OUT) && sl_k8s_ns_meshed(nss, o->ns);
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

		for (size_t j = 0; j < s->n; j++)
			if (sl_k8s_counts(nss, s->v[j]))
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

		for (size_t j = 0; j < s->n; j++) {
			const struct sl_k8s_obj *o = s->v[j];

			if (!sl_k8s_counts(nss, o))
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

int sl_k8s_node_of(struct sl_k8s *k, const struct sl_ip *ip, char *name,
		   size_t len)
{
	const struct sl_k8s_store *s = NULL;
	struct sl_k8s_node_addr key = { .ip = *ip };
	const struct sl_k8s_node_addr *hit = NULL;
	int ret = -ENOENT;

	for (size_t i = 0; i < sl_k8s_n_resources; i++)
		if (!strcmp(sl_k8s_resources[i].name, "nodes"))
			s = &k->refl[i].store;
	if (!s)
		return -ENOENT;
	/* an inbound connection asks: a binary search, the index rebuilt
	   only after a change */
	pthread_mutex_lock(&k->lock);
	if (!k->nodes_stale || sl_k8s_node_index(k, s) == 0)
		hit = sl_search(&key, k->node_addrs, k->n_node_addrs,
				sizeof(*k->node_addrs), sl_k8s_node_addr_cmp);
	if (hit) {
		sl_strlcpy(name, hit->key + 1, len); /* "/<name>" */
		ret = 0;
	}
	pthread_mutex_unlock(&k->lock);
	return ret;
}

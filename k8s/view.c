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

int sl_k8s_node_of(struct sl_k8s *k, const struct sl_ip *ip, char *name,
		   size_t len)
{
	const struct sl_k8s_store *s = NULL;
	int ret = -ENOENT;

	for (size_t i = 0; i < sl_k8s_n_resources; i++)
		if (!strcmp(sl_k8s_resources[i].name, "nodes"))
			s = &k->refl[i].store;
	if (!s)
		return -ENOENT;
	pthread_mutex_lock(&k->lock);
	for (size_t i = 0; i < s->n && ret < 0; i++) {
		const struct sl_k8s_obj *o = s->v[i];

		for (size_t j = 0; j < o->n_ips; j++) {
			if (!sl_ip_equal(&o->ips[j], ip))
				continue;
			/* the key is "/<name>" */
			sl_strlcpy(name, o->key + 1, len);
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&k->lock);
	return ret;
}

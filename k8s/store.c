/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The objects of one resource, sorted by "<ns>/<name>" (binary search:
 * an event is O(log n) to find, a memmove to insert), and the documents
 * they give.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "k8s_internal.h"

struct sl_k8s_doc *sl_k8s_doc_new(const char *res, const char *ns,
				  const char *name, const char *suffix,
				  const char *text, size_t len)
{
	size_t nl, pl, need;
	struct sl_k8s_doc *d;
	char *p;
	int w;

	if (len > UINT32_MAX)
		return NULL;
	/* "~k8s/res/ns/name#suffix" and "kubernetes:res/ns/name#suffix" */
	nl = strlen(res) + strlen(ns) + strlen(name) + strlen(suffix) + 8;
	pl = nl + 8;
	need = sizeof(*d) + nl + pl + len + 1;
	d = malloc(need);
	if (!d)
		return NULL;
	atomic_init(&d->refs, 1);
	d->cache = NULL;
	d->len = (uint32_t)len;
	p = d->buf;
	w = snprintf(p, nl, "~k8s/%s/%s/%s%s", res, ns, name, suffix);
	d->name = p;
	p += w + 1;
	w = snprintf(p, pl, "kubernetes:%s/%s%s%s%s", res, ns, *ns ? "/" : "",
		     name, suffix);
	d->path = p;
	p += w + 1;
	d->text = p;
	memcpy(p, text, len);
	p[len] = '\0';
	return d;
}

struct sl_k8s_doc *sl_k8s_doc_get(struct sl_k8s_doc *d)
{
	atomic_fetch_add_explicit(&d->refs, 1, memory_order_relaxed);
	return d;
}

void sl_k8s_doc_put(struct sl_k8s_doc *d)
{
	if (d && atomic_fetch_sub_explicit(&d->refs, 1,
					   memory_order_acq_rel) == 1) {
		sl_config_cached_put(d->cache);
		free(d);
	}
}

void sl_k8s_obj_free(struct sl_k8s_obj *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->n_docs; i++)
		sl_k8s_doc_put(o->docs[i]);
	free(o->docs);
	free(o->ips);
	free(o->key);
	free(o->ns);
	free(o);
}

/* the index of @key, or where it would go (*@found false) */
static size_t sl_k8s_store_at(const struct sl_k8s_store *s, const char *key,
			      bool *found)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->v[mid]->key, key);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

int sl_k8s_store_put(struct sl_k8s_store *s, struct sl_k8s_obj *o)
{
	bool found;
	size_t i = sl_k8s_store_at(s, o->key, &found);

	if (found) {
		sl_k8s_obj_free(s->v[i]);
		s->v[i] = o;
		return 0;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct sl_k8s_obj **v = realloc(s->v, cap * sizeof(*v));

		if (!v) {
			sl_k8s_obj_free(o);
			return -ENOMEM;
		}
		s->v = v;
		s->cap = cap;
	}
	memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof(*s->v));
	s->v[i] = o;
	s->n++;
	return 0;
}

bool sl_k8s_store_del(struct sl_k8s_store *s, const char *key)
{
	bool found;
	size_t i = sl_k8s_store_at(s, key, &found);

	if (!found)
		return false;
	sl_k8s_obj_free(s->v[i]);
	memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
	s->n--;
	return true;
}

struct sl_k8s_obj *sl_k8s_store_find(const struct sl_k8s_store *s,
				     const char *key)
{
	bool found;
	size_t i = sl_k8s_store_at(s, key, &found);

	return found ? s->v[i] : NULL;
}

void sl_k8s_store_clear(struct sl_k8s_store *s)
{
	for (size_t i = 0; i < s->n; i++)
		sl_k8s_obj_free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

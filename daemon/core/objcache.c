/* SPDX-License-Identifier: Apache-2.0 */
/* Per-thread object caches (objcache.h). */
#include <stdlib.h>
#include <string.h>

#include "objcache.h"

/* a thread's cache: a list linked through the objects' first bytes */
struct oc_thread {
	void *head;
	unsigned int n;
};

static void oc_thread_free(void *arg)
{
	struct oc_thread *t = arg;

	while (t->head) {
		void *p = t->head;

		memcpy(&t->head, p, sizeof(void *));
		free(p);
	}
	free(t);
}

static pthread_mutex_t oc_init_lock = PTHREAD_MUTEX_INITIALIZER;

/* the key is created at the cache's first use, on whichever thread */
static struct oc_thread *oc_thread(struct sl_objcache *c, bool create)
{
	struct oc_thread *t;

	if (!__atomic_load_n(&c->inited, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&oc_init_lock);
		if (!c->inited) {
			c->key_ok = pthread_key_create(&c->key,
						       oc_thread_free) == 0;
			__atomic_store_n(&c->inited, true, __ATOMIC_RELEASE);
		}
		pthread_mutex_unlock(&oc_init_lock);
	}
	if (!c->key_ok)
		return NULL;
	t = pthread_getspecific(c->key);
	if (!t && create) {
		t = calloc(1, sizeof(*t));
		if (t && pthread_setspecific(c->key, t)) {
			free(t);
			t = NULL;
		}
	}
	return t;
}

void *sl_objcache_alloc(struct sl_objcache *c, size_t zero)
{
	struct oc_thread *t = oc_thread(c, false);
	void *p;

	if (zero > c->size)
		zero = c->size;
	if (t && t->head) {
		p = t->head;
		memcpy(&t->head, p, sizeof(void *));
		t->n--;
		memset(p, 0, zero);
		return p;
	}
	if (zero == c->size)
		return calloc(1, c->size);
	p = malloc(c->size);
	if (p)
		memset(p, 0, zero);
	return p;
}

void sl_objcache_free(struct sl_objcache *c, void *p)
{
	struct oc_thread *t;

	if (!p)
		return;
	t = oc_thread(c, true);
	if (!t || t->n >= c->max) {
		free(p);
		return;
	}
	memcpy(p, &t->head, sizeof(void *));
	t->head = p;
	t->n++;
}

unsigned int sl_objcache_cached(struct sl_objcache *c)
{
	struct oc_thread *t = oc_thread(c, false);

	return t ? t->n : 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Connection pool bookkeeping: keys, ready lists, expiry (see pool.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "tls.h"
#include "util.h"

static uint64_t key_hash(const struct sl_pool_key *k)
{
	uint64_t h = SL_FNV1A_INIT;

	h = sl_fnv1a(h, k->src_id, strlen(k->src_id) + 1);
	h = sl_fnv1a(h, k->peer_id, strlen(k->peer_id) + 1);
	h = sl_fnv1a(h, &k->addr.family, sizeof(k->addr.family));
	if (k->addr.family == AF_INET6)
		h = sl_fnv1a(h, &k->addr.v6, sizeof(k->addr.v6));
	else
		h = sl_fnv1a(h, &k->addr.v4, sizeof(k->addr.v4));
	return sl_fnv1a(h, &k->port, sizeof(k->port));
}

static bool key_match(const struct sl_pool_bucket *b, uint64_t h,
		      const struct sl_pool_key *k)
{
	return b->hash == h && b->port == k->port &&
	       sl_ip_equal(&b->addr, &k->addr) && !strcmp(b->src_id, k->src_id) &&
	       !strcmp(b->peer_id, k->peer_id);
}

void sl_pool_table_init(struct sl_pool_table *t, unsigned int size,
			uint64_t idle_ns, sl_pool_discard_fn discard, void *arg)
{
	memset(t, 0, sizeof(*t));
	t->size = size;
	t->max = size;
	t->idle_ns = idle_ns;
	t->discard = discard;
	t->arg = arg;
}

static void bucket_free(struct sl_pool_bucket *b)
{
	sl_tls_session_put(b->session);
	free(b->src_id);
	free(b->peer_id);
	free(b);
}

int sl_pool_table_bucket(struct sl_pool_table *t, const struct sl_pool_key *k,
			 struct sl_pool_bucket **out)
{
	uint64_t h = key_hash(k);
	struct sl_pool_bucket **slot = &t->slots[h % SL_POOL_SLOTS], *b;

	for (b = *slot; b; b = b->next) {
		if (key_match(b, h, k)) {
			*out = b;
			return 0;
		}
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->src_id = strdup(k->src_id);
	b->peer_id = strdup(k->peer_id);
	if (!b->src_id || !b->peer_id) {
		bucket_free(b);
		return -ENOMEM;
	}
	b->hash = h;
	b->addr = k->addr;
	b->port = k->port;
	b->next = *slot;
	*slot = b;
	t->n_buckets++;
	*out = b;
	return 0;
}

void sl_pool_table_remove(struct sl_pool_table *t, struct sl_pool_entry *e)
{
	struct sl_pool_bucket *b = e->b;

	if (!b)
		return;
	if (e->prev)
		e->prev->next = e->next;
	else
		b->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		b->tail = e->prev;
	e->next = e->prev = NULL;
	e->b = NULL;
	b->ready--;
	t->n_ready--;
}

void sl_pool_table_put(struct sl_pool_table *t, struct sl_pool_bucket *b,
		       struct sl_pool_entry *e, uint64_t now_ns)
{
	e->ready_ns = now_ns;
	e->b = b;
	e->next = NULL;
	e->prev = b->tail;
	if (b->tail)
		b->tail->next = e;
	else
		b->head = e;
	b->tail = e;
	b->ready++;
	t->n_ready++;
}

static void discard(struct sl_pool_table *t, struct sl_pool_entry *e,
		    enum sl_pool_drop why)
{
	sl_pool_table_remove(t, e);
	t->discard(e, why, t->arg);
}

static bool expired(const struct sl_pool_table *t,
		    const struct sl_pool_entry *e, uint64_t now_ns)
{
	return now_ns - e->ready_ns >= t->idle_ns;
}

static bool peer_expired(const struct sl_pool_entry *e, time_t now_s)
{
	return e->peer_not_after && e->peer_not_after <= now_s;
}

int sl_pool_table_take(struct sl_pool_table *t, struct sl_pool_bucket *b,
		       uint64_t now_ns, time_t now_s, uintptr_t gen,
		       struct sl_pool_entry **out)
{
	struct sl_pool_entry *e;

	if (b->last_use_ns && now_ns > b->last_use_ns) {
		uint64_t gap = now_ns - b->last_use_ns;

		/* weight 1/8: a burst shows within a few uses */
		b->gap_ns = b->gap_ns ? b->gap_ns - b->gap_ns / 8 + gap / 8 : gap;
	}
	b->last_use_ns = now_ns;
	while ((e = b->head)) {
		if (expired(t, e, now_ns)) {
			discard(t, e, SL_POOL_DROP_EXPIRED);
		} else if (e->gen != gen || peer_expired(e, now_s)) {
			discard(t, e, SL_POOL_DROP_STALE);
		} else {
			sl_pool_table_remove(t, e);
			*out = e;
			return 0;
		}
	}
	return -ENOENT;
}

void sl_pool_table_grow(struct sl_pool_table *t, unsigned int max,
			uint64_t delay_ns)
{
	t->max = max > t->size ? max : t->size;
	t->delay_ns = delay_ns;
}

unsigned int sl_pool_table_target(const struct sl_pool_table *t,
				  const struct sl_pool_bucket *b)
{
	uint64_t cycle, n;

	if (t->max <= t->size || !b->gap_ns)
		return t->size;
	/* a delay of ages (no overflow below): every use is inside a cycle */
	if (t->delay_ns > UINT64_MAX / 8 || b->fill_ns > UINT64_MAX / 8)
		return t->max;
	cycle = t->delay_ns + (b->fill_ns ? b->fill_ns : SL_POOL_FILL_GUESS_NS);
	/* uses in two cycles, rounded up, and one more */
	n = (2 * cycle + b->gap_ns - 1) / b->gap_ns + 1;
	if (n < t->size)
		return t->size;
	return n > t->max ? t->max : (unsigned int)n;
}

void sl_pool_table_filled(struct sl_pool_bucket *b, uint64_t fill_ns)
{
	b->fill_ns = b->fill_ns ? b->fill_ns - b->fill_ns / 4 + fill_ns / 4 :
				  fill_ns;
}

unsigned int sl_pool_table_want(const struct sl_pool_table *t,
				const struct sl_pool_bucket *b)
{
	unsigned int have = b->ready + b->pending;
	unsigned int target = sl_pool_table_target(t, b);

	return have >= target ? 0 : target - have;
}

void sl_pool_table_sweep(struct sl_pool_table *t, uint64_t now_ns,
			 time_t now_s)
{
	for (unsigned int i = 0; i < SL_POOL_SLOTS; i++) {
		struct sl_pool_bucket **pb = &t->slots[i], *b;

		while ((b = *pb)) {
			struct sl_pool_entry *e = b->head, *next;

			for (; e; e = next) {
				next = e->next;
				if (expired(t, e, now_ns))
					discard(t, e, SL_POOL_DROP_EXPIRED);
				else if (peer_expired(e, now_s))
					discard(t, e, SL_POOL_DROP_STALE);
			}
			if (!b->ready && !b->pending && !b->queued &&
			    now_ns - b->last_use_ns >= t->idle_ns) {
				*pb = b->next;
				t->n_buckets--;
				bucket_free(b);
				continue;
			}
			pb = &b->next;
		}
	}
}

void sl_pool_table_flush(struct sl_pool_table *t)
{
	for (unsigned int i = 0; i < SL_POOL_SLOTS; i++)
		for (struct sl_pool_bucket *b = t->slots[i]; b; b = b->next) {
			while (b->head)
				discard(t, b->head, SL_POOL_DROP_FLUSH);
			/* verified under what is being replaced */
			sl_tls_session_put(b->session);
			b->session = NULL;
		}
}

void sl_pool_table_fini(struct sl_pool_table *t)
{
	if (!t)
		return;
	sl_pool_table_flush(t);
	for (unsigned int i = 0; i < SL_POOL_SLOTS; i++) {
		struct sl_pool_bucket *b = t->slots[i], *next;

		for (; b; b = next) {
			next = b->next;
			bucket_free(b);
		}
		t->slots[i] = NULL;
	}
	t->n_buckets = 0;
}

uint64_t sl_pool_refill_jitter(uint64_t delay_ns, uint64_t *rng)
{
	uint64_t x = *rng ? *rng : 0x9e3779b97f4a7c15ULL;

	/* xorshift64: no need for quality, only for spread */
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*rng = x;
	if (!delay_ns)
		return 0;
	return delay_ns / 2 + x % (delay_ns + 1);
}

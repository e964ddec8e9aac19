/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Endpoint health table and outlier detection (see outlier.h).
 *
 * The table is a fixed array of bucket chains.  Entries are added at the
 * head of a chain (published with a release store), so readers walk chains
 * without a lock; writers serialise on one mutex and re-check before
 * inserting.  sl_health_gc() unlinks unused endpoint entries under the
 * same mutex without touching their next pointer (a reader standing on
 * one walks on), parks them on a retired list and frees them only after a
 * grace period, once no flow holds them.  Ejection
 * decisions take the same mutex so two workers cannot together exceed
 * maxEjectionPercent.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "outlier.h"
#include "util.h"

#define SL_HEALTH_BUCKETS 1024u

struct sl_health_node {
	struct sl_health_node *_Atomic next;
	struct sl_health_node *retired_next; /* under the lock */
	uint64_t retired_at;
	atomic_bool used; /* looked up since the last sl_health_gc */
	uint64_t hash;
	bool is_dest;
	struct sl_ip addr;
	uint16_t port;
	struct sl_health_ep ep;
	struct sl_health_dest dest;
	char host[]; /* "" for no host */
};

struct sl_health {
	sl_clock_fn clock;
	void *clock_arg;
	pthread_mutex_t lock;
	atomic_ulong n_eps, ejections, overflows, retries, failures;
	atomic_ulong collected, n_retired;
	struct sl_health_node *retired; /* unlinked, waiting for the grace */
	struct sl_health_node *_Atomic buckets[SL_HEALTH_BUCKETS];
};

static uint64_t sl_health_mono(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int sl_health_new(sl_clock_fn clock, void *clock_arg, struct sl_health **out)
{
	struct sl_health *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->clock = clock ? clock : sl_health_mono;
	h->clock_arg = clock_arg;
	pthread_mutex_init(&h->lock, NULL);
	*out = h;
	return 0;
}

void sl_health_free(struct sl_health *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < SL_HEALTH_BUCKETS; i++) {
		struct sl_health_node *n = atomic_load(&h->buckets[i]);

		while (n) {
			struct sl_health_node *next = atomic_load(&n->next);

			free(n);
			n = next;
		}
	}
	while (h->retired) {
		struct sl_health_node *next = h->retired->retired_next;

		free(h->retired);
		h->retired = next;
	}
	pthread_mutex_destroy(&h->lock);
	free(h);
}

uint64_t sl_health_now(const struct sl_health *h)
{
	return h->clock(h->clock_arg);
}

static size_t sl_ip_len(const struct sl_ip *ip)
{
	return ip->family == AF_INET ? 4 : ip->family == AF_INET6 ? 16 : 0;
}

static uint64_t sl_health_hash(bool is_dest, const char *host,
			       const struct sl_ip *addr, uint16_t port)
{
	uint64_t x = SL_FNV1A_INIT;
	unsigned char d = is_dest;

	x = sl_fnv1a(x, &d, 1);
	x = sl_fnv1a(x, host, strlen(host) + 1);
	if (addr) {
		x = sl_fnv1a(x, &addr->family, sizeof(addr->family));
		x = sl_fnv1a(x, &addr->v6, sl_ip_len(addr));
	}
	return sl_fnv1a(x, &port, sizeof(port));
}

static bool sl_health_match(const struct sl_health_node *n, uint64_t hash,
			    bool is_dest, const char *host,
			    const struct sl_ip *addr, uint16_t port)
{
	if (n->hash != hash || n->is_dest != is_dest || strcmp(n->host, host))
		return false;
	if (is_dest)
		return true;
	return n->port == port && n->addr.family == addr->family &&
	       !memcmp(&n->addr.v6, &addr->v6, sl_ip_len(addr));
}

static struct sl_health_node *sl_health_find(struct sl_health *h,
					     uint64_t hash, bool is_dest,
					     const char *host,
					     const struct sl_ip *addr,
					     uint16_t port)
{
	struct sl_health_node *n;

	n = atomic_load_explicit(&h->buckets[hash % SL_HEALTH_BUCKETS],
				 memory_order_acquire);
	for (; n; n = atomic_load_explicit(&n->next, memory_order_acquire))
		if (sl_health_match(n, hash, is_dest, host, addr, port))
			return n;
	return NULL;
}

static struct sl_health_node *sl_health_get(struct sl_health *h, bool is_dest,
					    const char *host,
					    const struct sl_ip *addr,
					    uint16_t port)
{
	struct sl_health_node *n;
	uint64_t hash;
	size_t len;

	if (!host)
		host = "";
	hash = sl_health_hash(is_dest, host, addr, port);
	n = sl_health_find(h, hash, is_dest, host, addr, port);
	if (n) {
		/* read first: no cache-line ping-pong once it is set */
		if (!atomic_load_explicit(&n->used, memory_order_relaxed))
			atomic_store_explicit(&n->used, true,
					      memory_order_relaxed);
		return n;
	}
	pthread_mutex_lock(&h->lock);
	n = sl_health_find(h, hash, is_dest, host, addr, port);
	if (n)
		goto out;
	len = strlen(host);
	n = calloc(1, sizeof(*n) + len + 1);
	if (!n) {
		sl_log_err("%s: out of memory", __func__);
		goto out;
	}
	n->hash = hash;
	n->is_dest = is_dest;
	atomic_init(&n->used, true);
	if (addr)
		n->addr = *addr;
	n->port = port;
	memcpy(n->host, host, len + 1);
	atomic_store_explicit(&n->next,
			      atomic_load(&h->buckets[hash % SL_HEALTH_BUCKETS]),
			      memory_order_relaxed);
	atomic_store_explicit(&h->buckets[hash % SL_HEALTH_BUCKETS], n,
			      memory_order_release);
	if (!is_dest)
		atomic_fetch_add(&h->n_eps, 1);
out:
	pthread_mutex_unlock(&h->lock);
	return n;
}

struct sl_health_ep *sl_health_ep(struct sl_health *h, const char *host,
				  const struct sl_ip *addr, uint16_t port)
{
	struct sl_ip none = { 0 };
	struct sl_health_node *n = sl_health_get(h, false, host,
						 addr ? addr : &none, port);

	return n ? &n->ep : NULL;
}

struct sl_health_dest *sl_health_dest(struct sl_health *h, const char *host)
{
	struct sl_health_node *n = sl_health_get(h, true, host, NULL, 0);

	return n ? &n->dest : NULL;
}

bool sl_health_ejected(const struct sl_health_ep *ep, uint64_t now)
{
	return now < atomic_load_explicit(&ep->ejected_until,
					  memory_order_acquire);
}

void sl_outlier_success(struct sl_health_ep *ep)
{
	if (atomic_load_explicit(&ep->consecutive, memory_order_relaxed))
		atomic_store_explicit(&ep->consecutive, 0,
				      memory_order_relaxed);
}

/* ejection multiplier after decay: -1 per interval spent un-ejected */
static unsigned int sl_outlier_decayed(const struct sl_health_ep *ep,
				       const struct sl_dest_policy *pol,
				       uint64_t now)
{
	unsigned int k = atomic_load(&ep->ejections);
	uint64_t until = atomic_load(&ep->ejected_until);
	uint64_t steps;

	if (!k || !until || now <= until || !pol->outlier_interval_ns)
		return k;
	steps = (now - until) / pol->outlier_interval_ns;
	return steps >= k ? 0 : k - (unsigned int)steps;
}

bool sl_outlier_failure(struct sl_health *h, const struct sl_dest_policy *pol,
			const struct sl_endpoint *eps, size_t n, size_t idx,
			uint64_t now)
{
	struct sl_health_ep *ep;
	size_t ejected = 0;
	uint64_t dur, cap;
	unsigned int k;
	bool ret = false;

	atomic_fetch_add(&h->failures, 1);
	ep = idx < n ? sl_health_ep(h, pol->host, &eps[idx].address,
				    eps[idx].port) : NULL;
	if (!ep)
		return false;
	atomic_fetch_add(&ep->failures, 1);
	if (atomic_fetch_add(&ep->consecutive, 1) + 1 <
	    pol->consecutive_errors || !pol->outlier ||
	    !pol->consecutive_errors)
		return false;
	pthread_mutex_lock(&h->lock);
	if (sl_health_ejected(ep, now))
		goto out; /* already out (used anyway: all were ejected) */
	for (size_t i = 0; i < n; i++) {
		const char *host = pol->host ? pol->host : "";
		const struct sl_ip *a = &eps[i].address;
		struct sl_health_node *o;

		/* lookup only: inserting would take the lock we hold */
		o = sl_health_find(h, sl_health_hash(false, host, a,
						     eps[i].port),
				   false, host, a, eps[i].port);
		if (o && sl_health_ejected(&o->ep, now))
			ejected++;
	}
	/* Envoy: no new ejection once the ejected share reaches the max */
	if (ejected * 100 >= (uint64_t)n * pol->max_ejection_pct) {
		sl_log_debug("%s: %s: not ejecting, %zu of %zu ejected (max %u%%)",
			     __func__, pol->host ? pol->host : "-", ejected, n,
			     pol->max_ejection_pct);
		goto out;
	}
	k = sl_outlier_decayed(ep, pol, now) + 1;
	cap = pol->max_ejection_ns > pol->base_ejection_ns ?
		pol->max_ejection_ns : pol->base_ejection_ns;
	dur = pol->base_ejection_ns * k;
	if (dur > cap || dur / k != pol->base_ejection_ns)
		dur = cap;
	atomic_store(&ep->ejections, k);
	atomic_store(&ep->consecutive, 0);
	atomic_store_explicit(&ep->ejected_until, now + dur,
			      memory_order_release);
	atomic_fetch_add(&ep->ejected_total, 1);
	atomic_fetch_add(&h->ejections, 1);
	ret = true;
	{
		char ip[INET6_ADDRSTRLEN];

		sl_log_warn("%s: %s: ejecting endpoint %s:%u for %llu ms (ejection %u)",
			    __func__, pol->host ? pol->host : "-",
			    sl_ip_format(&eps[idx].address, ip, sizeof(ip)),
			    eps[idx].port,
			    (unsigned long long)(dur / 1000000ull), k);
	}
out:
	pthread_mutex_unlock(&h->lock);
	return ret;
}

/* unlink @n (the mutex held; @link points at it) onto the retired list */
static void sl_health_retire(struct sl_health *h,
			     struct sl_health_node *_Atomic *link,
			     struct sl_health_node *n, uint64_t now)
{
	/* n->next stays: a reader standing on @n walks on to the rest */
	atomic_store_explicit(link, atomic_load(&n->next),
			      memory_order_release);
	n->retired_at = now;
	n->retired_next = h->retired;
	h->retired = n;
	atomic_fetch_sub(&h->n_eps, 1);
	atomic_fetch_add(&h->n_retired, 1);
	atomic_fetch_add(&h->collected, 1);
}

size_t sl_health_gc(struct sl_health *h)
{
	struct sl_health_node **pp, *n;
	uint64_t now;
	size_t removed = 0;

	if (!h)
		return 0;
	now = sl_health_now(h);
	pthread_mutex_lock(&h->lock);
	/* free what was unlinked long enough ago and is not held by a flow
	 * that found it before it was unlinked */
	for (pp = &h->retired; (n = *pp);) {
		if (now - n->retired_at >= SL_HEALTH_GC_GRACE_NS &&
		    !atomic_load(&n->ep.active)) {
			*pp = n->retired_next;
			free(n);
			atomic_fetch_sub(&h->n_retired, 1);
		} else {
			pp = &n->retired_next;
		}
	}
	for (size_t i = 0; i < SL_HEALTH_BUCKETS; i++) {
		struct sl_health_node *_Atomic *link = &h->buckets[i];

		while ((n = atomic_load_explicit(link, memory_order_acquire))) {
			if (n->is_dest ||
			    atomic_exchange(&n->used, false) ||
			    atomic_load(&n->ep.active) ||
			    sl_health_ejected(&n->ep, now)) {
				link = &n->next;
				continue;
			}
			sl_health_retire(h, link, n, now);
			removed++;
		}
	}
	pthread_mutex_unlock(&h->lock);
	if (removed)
		sl_log_debug("%s: %zu unused endpoint entries removed",
			     __func__, removed);
	return removed;
}

void sl_health_count_retry(struct sl_health *h)
{
	atomic_fetch_add(&h->retries, 1);
}

void sl_health_count_overflow(struct sl_health *h)
{
	atomic_fetch_add(&h->overflows, 1);
}

void sl_health_get_stats(const struct sl_health *h, struct sl_health_stats *st)
{
	struct sl_health *m = (struct sl_health *)h;

	st->endpoints = atomic_load(&m->n_eps);
	st->ejections = atomic_load(&m->ejections);
	st->overflows = atomic_load(&m->overflows);
	st->retries = atomic_load(&m->retries);
	st->failures = atomic_load(&m->failures);
	st->collected = atomic_load(&m->collected);
	st->retired = atomic_load(&m->n_retired);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Endpoint selection within a destination, circuit breaking and
 * connect-time retries (see lb.h).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

#include "lb.h"
#include "log.h"

static _Thread_local uint64_t sl_lb_rng;

/* xorshift64*, one stream per thread, seeded from getrandom() */
uint64_t sl_lb_rand(void)
{
	uint64_t x = sl_lb_rng;

	if (!x) {
		if (getrandom(&x, sizeof(x), GRND_NONBLOCK) != sizeof(x))
			x = (uint64_t)(uintptr_t)&sl_lb_rng ^
			    0x9e3779b97f4a7c15ull;
		x |= 1;
	}
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	sl_lb_rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

static size_t sl_lb_below(size_t n)
{
	return (size_t)((sl_lb_rand() >> 11) % n);
}

int sl_lb_begin(struct sl_lb_flow *f, struct sl_health *h,
		const struct sl_endpoint *eps, size_t n,
		const struct sl_dest_policy *pol)
{
	memset(f, 0, sizeof(*f));
	if (!n)
		return -EINVAL;
	f->h = h;
	f->pol = *pol;
	f->eps = eps;
	f->n = n;
	f->max_tries = pol->retry_attempts >= SL_LB_MAX_TRIES ?
		SL_LB_MAX_TRIES : pol->retry_attempts + 1;
	if (!pol->host)
		return 0;
	f->dest = sl_health_dest(h, pol->host);
	if (!f->dest)
		return -ENOMEM;
	if (pol->max_connections) {
		unsigned int a = atomic_fetch_add(&f->dest->active, 1);

		if (a >= pol->max_connections) {
			atomic_fetch_sub(&f->dest->active, 1);
			atomic_fetch_add(&f->dest->overflows, 1);
			sl_health_count_overflow(h);
			sl_log_debug("%s: %s: circuit open (%u flows, max %u)",
				     __func__, pol->host, a,
				     pol->max_connections);
			f->dest = NULL;
			return -EBUSY;
		}
		f->slot = true;
	}
	return 0;
}

void sl_lb_set_filter(struct sl_lb_flow *f, sl_lb_filter_fn filter)
{
	f->filter = filter;
}

static bool sl_lb_tried(const struct sl_lb_flow *f, size_t i)
{
	for (unsigned int t = 0; t < f->tries; t++)
		if (f->tried[t] == i)
			return true;
	return false;
}

static struct sl_health_ep *sl_lb_state(struct sl_lb_flow *f, size_t i)
{
	return sl_health_ep(f->h, f->pol.host, &f->eps[i].address,
			    f->eps[i].port);
}

/* may endpoint @i be used?  NULL state (ENOMEM) counts as healthy */
static bool sl_lb_usable(struct sl_lb_flow *f, size_t i, bool any,
			 uint64_t now)
{
	struct sl_health_ep *s;

	if (sl_lb_tried(f, i) || (f->filter && !f->filter(&f->eps[i])))
		return false;
	if (any)
		return true;
	s = sl_lb_state(f, i);
	return !s || !sl_health_ejected(s, now);
}

/* first usable endpoint at or after @start (wrapping); n when none */
static size_t sl_lb_scan(struct sl_lb_flow *f, size_t start, bool any,
			 uint64_t now)
{
	for (size_t k = 0; k < f->n; k++) {
		size_t i = (start + k) % f->n;

		if (sl_lb_usable(f, i, any, now))
			return i;
	}
	return f->n;
}

static unsigned int sl_lb_active(struct sl_lb_flow *f, size_t i)
{
	struct sl_health_ep *s = sl_lb_state(f, i);

	return s ? atomic_load_explicit(&s->active, memory_order_relaxed) : 0;
}

/* Istio minHealthPercent: below it, outlier detection is off */
static bool sl_lb_panic(struct sl_lb_flow *f, uint64_t now)
{
	size_t healthy = 0, total = 0;

	if (!f->pol.min_health_pct)
		return false;
	for (size_t i = 0; i < f->n; i++) {
		struct sl_health_ep *s;

		if (f->filter && !f->filter(&f->eps[i]))
			continue;
		total++;
		s = sl_lb_state(f, i);
		if (!s || !sl_health_ejected(s, now))
			healthy++;
	}
	return healthy * 100 < total * (size_t)f->pol.min_health_pct;
}

static size_t sl_lb_choose(struct sl_lb_flow *f, bool any, uint64_t now)
{
	size_t a, b;

	switch (f->pol.lb) {
	case SL_POLICY_LB_ROUND_ROBIN: {
		unsigned int c = f->dest ?
			atomic_fetch_add(&f->dest->rr, 1) :
			(unsigned int)sl_lb_rand();

		return sl_lb_scan(f, c % f->n, any, now);
	}
	case SL_POLICY_LB_RANDOM:
		return sl_lb_scan(f, sl_lb_below(f->n), any, now);
	case SL_POLICY_LB_LEAST_REQUEST:
		break;
	}
	a = sl_lb_scan(f, sl_lb_below(f->n), any, now);
	if (a == f->n)
		return a;
	b = sl_lb_scan(f, sl_lb_below(f->n), any, now);
	if (b == a)
		b = sl_lb_scan(f, (a + 1) % f->n, any, now);
	if (b != a && sl_lb_active(f, b) < sl_lb_active(f, a))
		return b;
	return a;
}

int sl_lb_pick(struct sl_lb_flow *f, const struct sl_endpoint **ep,
	       uint64_t *timeout_ns)
{
	uint64_t now = sl_health_now(f->h);
	bool any;
	size_t i;

	if (f->cur || f->connected || f->tries >= f->max_tries)
		return -ENOENT;
	any = sl_lb_panic(f, now);
	i = sl_lb_choose(f, any, now);
	if (i == f->n && !any)
		i = sl_lb_choose(f, true, now); /* all ejected: use one */
	if (i == f->n)
		return -ENOENT;
	if (f->tries)
		sl_health_count_retry(f->h);
	f->tried[f->tries++] = i;
	f->cur_idx = i;
	f->cur = sl_lb_state(f, i);
	if (f->cur)
		atomic_fetch_add(&f->cur->active, 1);
	*ep = &f->eps[i];
	*timeout_ns = f->pol.per_try_timeout_ns ? f->pol.per_try_timeout_ns :
						  f->pol.connect_timeout_ns;
	if (!*timeout_ns)
		*timeout_ns = SL_POLICY_CONNECT_TIMEOUT_NS;
	return 0;
}

void sl_lb_report_success(struct sl_lb_flow *f)
{
	if (f->connected || f->tries == 0)
		return;
	f->connected = true;
	if (f->cur && !f->quiet_success)
		sl_outlier_success(f->cur);
	/* from here on only sl_lb_end(): drop every pointer into the config
	 * snapshot, the flow may outlive the caller's reference */
	f->eps = NULL;
	f->pol.host = NULL;
	f->pol.subset = NULL;
}

static bool sl_lb_outlier_err(int err)
{
	switch (err) {
	case -ECONNREFUSED:
	case -ECONNRESET:
	case -ECONNABORTED:
	case -ETIMEDOUT:
	case -ECANCELED:
	case -EHOSTUNREACH:
	case -ENETUNREACH:
		return true;
	default:
		return false;
	}
}

int sl_lb_report_failure(struct sl_lb_flow *f, int err)
{
	if (f->connected || f->tries == 0)
		return -ENOENT;
	if (f->cur) {
		atomic_fetch_sub(&f->cur->active, 1);
		f->cur = NULL;
	}
	if (sl_lb_outlier_err(err))
		sl_outlier_failure(f->h, &f->pol, f->eps, f->n, f->cur_idx,
				   sl_health_now(f->h));
	if (f->tries >= f->max_tries || f->tries >= f->n)
		return -ENOENT;
	if (sl_lb_scan(f, 0, true, 0) == f->n)
		return -ENOENT; /* every usable endpoint was tried */
	return 0;
}

void sl_lb_end(struct sl_lb_flow *f)
{
	if (!f)
		return;
	if (f->cur) {
		atomic_fetch_sub(&f->cur->active, 1);
		f->cur = NULL;
	}
	if (f->slot && f->dest) {
		atomic_fetch_sub(&f->dest->active, 1);
		f->slot = false;
	}
	f->tries = f->max_tries; /* no more picks */
	f->connected = true;
}

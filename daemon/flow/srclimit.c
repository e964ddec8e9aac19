/* SPDX-License-Identifier: Apache-2.0 */
/* Per-source connection counts, a count-min sketch of atomics (srclimit.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "srclimit.h"

struct sl_srclimit {
	uint32_t cap;
	uint32_t mask; /* slots per row - 1 */
	uint64_t seed[2];
	atomic_uint *row[2];
};

static uint64_t mix(uint64_t x)
{
	/* splitmix64's finaliser */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* the source of @ip: an IPv4 address, or an IPv6 /64, as two words */
static void source_key(const struct sl_ip *ip, uint64_t key[2])
{
	const uint8_t *b = ip->v6.s6_addr;
	uint64_t hi = 0;

	if (ip->family == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(&ip->v6)) {
		for (int i = 0; i < 8; i++)
			hi = hi << 8 | b[i];
		key[0] = 6;
		key[1] = hi;
		return;
	}
	key[0] = 4;
	if (ip->family == AF_INET6)
		memcpy(&hi, b + 12, 4);
	else
		memcpy(&hi, &ip->v4, 4);
	key[1] = hi;
}

static void slots_of(const struct sl_srclimit *l, const struct sl_ip *ip,
		     uint32_t slot[2])
{
	uint64_t key[2];

	source_key(ip, key);
	for (int r = 0; r < 2; r++)
		slot[r] = (uint32_t)mix(mix(key[1] ^ l->seed[r]) + key[0]) &
			  l->mask;
}

int sl_srclimit_new(uint32_t cap, uint32_t slots, struct sl_srclimit **out)
{
	struct sl_srclimit *l;
	uint32_t n = 64;

	if (!cap)
		return -EINVAL;
	while (n < slots && n < (1u << 24))
		n <<= 1;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->cap = cap;
	l->mask = n - 1;
	if (getrandom(l->seed, sizeof(l->seed), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(l->seed)) {
		/* no entropy yet (early boot): the clock still varies per start */
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		l->seed[0] = mix((uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)l);
		l->seed[1] = mix(l->seed[0] + (uint64_t)ts.tv_sec);
	}
	for (int r = 0; r < 2; r++) {
		l->row[r] = calloc(n, sizeof(*l->row[r]));
		if (!l->row[r]) {
			sl_srclimit_free(l);
			return -ENOMEM;
		}
	}
	*out = l;
	return 0;
}

void sl_srclimit_free(struct sl_srclimit *l)
{
	if (!l)
		return;
	free(l->row[0]);
	free(l->row[1]);
	free(l);
}

int sl_srclimit_take(struct sl_srclimit *l, const struct sl_ip *ip,
		     struct sl_srclimit_ticket *t)
{
	unsigned int old[2];

	t->held = false;
	slots_of(l, ip, t->slot);
	/* add first, then check: two takes racing for the last place both
	 * see it taken (one refused too many, never one admitted too many) */
	for (int r = 0; r < 2; r++)
		old[r] = atomic_fetch_add_explicit(&l->row[r][t->slot[r]], 1,
						   memory_order_relaxed);
	if ((old[0] < old[1] ? old[0] : old[1]) >= l->cap) {
		for (int r = 0; r < 2; r++)
			atomic_fetch_sub_explicit(&l->row[r][t->slot[r]], 1,
						  memory_order_relaxed);
		return -EBUSY;
	}
	t->held = true;
	return 0;
}

void sl_srclimit_put(struct sl_srclimit *l, struct sl_srclimit_ticket *t)
{
	if (!t->held)
		return;
	for (int r = 0; r < 2; r++)
		atomic_fetch_sub_explicit(&l->row[r][t->slot[r]], 1,
					  memory_order_relaxed);
	t->held = false;
}

uint32_t sl_srclimit_count(struct sl_srclimit *l, const struct sl_ip *ip)
{
	uint32_t slot[2];
	unsigned int c[2];

	slots_of(l, ip, slot);
	for (int r = 0; r < 2; r++)
		c[r] = atomic_load_explicit(&l->row[r][slot[r]],
					    memory_order_relaxed);
	return c[0] < c[1] ? c[0] : c[1];
}

uint32_t sl_srclimit_held(struct sl_srclimit *l,
			  const struct sl_srclimit_ticket *t)
{
	unsigned int c[2];

	if (!t->held)
		return 0;
	for (int r = 0; r < 2; r++)
		c[r] = atomic_load_explicit(&l->row[r][t->slot[r]],
					    memory_order_relaxed);
	return c[0] < c[1] ? c[0] : c[1];
}

uint32_t sl_srclimit_cap(const struct sl_srclimit *l)
{
	return l->cap;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of daemon/flow/pool_table.c: the connection pool bookkeeping
 * (keys, take/put, expiry, staleness on identity change or peer certificate
 * expiry, sweeps, flush).  No I/O: the discard callback records what the
 * table closes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>

#include "pool.h"

#define S 1000000000ULL

struct rec {
	unsigned int n[SL_POOL_DROP_FLUSH + 1];
	int last_fd; /* fd of the last entry closed */
};

static void discard(struct sl_pool_entry *e, enum sl_pool_drop why, void *arg)
{
	struct rec *r = arg;

	assert_null(e->b); /* removed before the call */
	r->n[why]++;
	r->last_fd = e->fd;
	free(e);
}

static struct sl_pool_key key(const char *src, const char *peer,
			      const char *ip, uint16_t port)
{
	struct sl_pool_key k = { .src_id = src, .peer_id = peer, .port = port };

	if (inet_pton(AF_INET, ip, &k.addr.v4) == 1) {
		k.addr.family = AF_INET;
	} else {
		assert_int_equal(inet_pton(AF_INET6, ip, &k.addr.v6), 1);
		k.addr.family = AF_INET6;
	}
	return k;
}

static struct sl_pool_entry *entry(uintptr_t gen, int fd, time_t not_after)
{
	struct sl_pool_entry *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	e->gen = gen;
	e->fd = fd;
	e->peer_not_after = not_after;
	return e;
}

#define ID_A "spiffe://cluster.local/ns/default/sa/a"
#define ID_B "spiffe://cluster.local/ns/default/sa/b"
#define ID_C "spiffe://cluster.local/ns/default/sa/c"

static void test_keying(void **state)
{
	struct sl_pool_table t;
	struct rec r = { 0 };
	struct sl_pool_key k1 = key(ID_A, ID_B, "198.18.2.11", 15008);
	struct sl_pool_bucket *b1, *b, *bs[6];

	(void)state;
	sl_pool_table_init(&t, 2, 10 * S, discard, &r);
	assert_int_equal(sl_pool_table_bucket(&t, &k1, &b1), 0);
	/* the same key (other string pointers): the same bucket */
	{
		char src[] = ID_A, peer[] = ID_B;
		struct sl_pool_key k = key(src, peer, "198.18.2.11", 15008);

		assert_int_equal(sl_pool_table_bucket(&t, &k, &b), 0);
		assert_ptr_equal(b, b1);
	}
	/* each component makes another key */
	struct sl_pool_key ks[] = {
		key(ID_C, ID_B, "198.18.2.11", 15008), /* source identity */
		key(ID_A, ID_C, "198.18.2.11", 15008), /* expected peer */
		key(ID_A, ID_B, "198.18.2.12", 15008), /* address */
		key(ID_A, ID_B, "198.18.2.11", 15009), /* port */
		key(ID_A, ID_B, "fd00:5a1c::2:11", 15008), /* family */
		key(ID_A, ID_B, "::ffff:198.18.2.11", 15008),
	};
	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(sl_pool_table_bucket(&t, &ks[i], &bs[i]), 0);
		assert_ptr_not_equal(bs[i], b1);
		for (size_t j = 0; j < i; j++)
			assert_ptr_not_equal(bs[i], bs[j]);
	}
	assert_int_equal(t.n_buckets, 7);
	/* an entry of one key is not found under another */
	sl_pool_table_put(&t, b1, entry(1, 3, 0), 0);
	for (size_t i = 0; i < 6; i++) {
		struct sl_pool_entry *e;

		assert_int_equal(sl_pool_table_take(&t, bs[i], 1, 0, 1, &e),
				 -ENOENT);
	}
	sl_pool_table_fini(&t);
	assert_int_equal(r.n[SL_POOL_DROP_FLUSH], 1);
	assert_int_equal(t.n_buckets, 0);
}

static void test_take_put_want(void **state)
{
	struct sl_pool_table t;
	struct rec r = { 0 };
	struct sl_pool_key k = key(ID_A, ID_B, "198.18.2.11", 15008);
	struct sl_pool_bucket *b;
	struct sl_pool_entry *e1 = entry(7, 10, 0), *e2 = entry(7, 11, 0), *e;

	(void)state;
	sl_pool_table_init(&t, 2, 10 * S, discard, &r);
	assert_int_equal(sl_pool_table_bucket(&t, &k, &b), 0);
	assert_int_equal(sl_pool_table_want(&t, b), 2);
	b->pending = 1;
	assert_int_equal(sl_pool_table_want(&t, b), 1);
	b->pending = 0;
	assert_int_equal(sl_pool_table_take(&t, b, 1 * S, 0, 7, &e), -ENOENT);

	sl_pool_table_put(&t, b, e1, 1 * S);
	sl_pool_table_put(&t, b, e2, 2 * S);
	assert_int_equal(b->ready, 2);
	assert_int_equal(t.n_ready, 2);
	assert_int_equal(sl_pool_table_want(&t, b), 0);
	b->pending = 3; /* never negative */
	assert_int_equal(sl_pool_table_want(&t, b), 0);
	b->pending = 0;

	/* oldest first; the caller owns what it took */
	assert_int_equal(sl_pool_table_take(&t, b, 3 * S, 0, 7, &e), 0);
	assert_ptr_equal(e, e1);
	assert_null(e->b);
	assert_int_equal(b->ready, 1);
	assert_int_equal(sl_pool_table_want(&t, b), 1);
	assert_int_equal(b->last_use_ns, 3 * S);
	free(e);
	assert_int_equal(sl_pool_table_take(&t, b, 3 * S, 0, 7, &e), 0);
	assert_ptr_equal(e, e2);
	free(e);
	assert_int_equal(sl_pool_table_take(&t, b, 3 * S, 0, 7, &e), -ENOENT);
	assert_int_equal(t.n_ready, 0);

	/* remove: out of the table, no discard call */
	e1 = entry(7, 12, 0);
	sl_pool_table_put(&t, b, e1, 4 * S);
	sl_pool_table_remove(&t, e1);
	sl_pool_table_remove(&t, e1); /* twice is harmless */
	assert_int_equal(b->ready, 0);
	assert_int_equal(t.n_ready, 0);
	free(e1);
	for (int i = 0; i <= SL_POOL_DROP_FLUSH; i++)
		assert_int_equal(r.n[i], 0);
	sl_pool_table_fini(&t);
}

/* a busy key's target grows with its rate of use, within size..max */
static void test_target(void **state)
{
	struct sl_pool_table t;
	struct rec r = { 0 };
	struct sl_pool_key k = key(ID_A, ID_B, "198.18.2.11", 15008);
	struct sl_pool_bucket *b;
	struct sl_pool_entry *e;
	const uint64_t ms = 1000000ULL;
	uint64_t now = 1 * S;

	(void)state;
	sl_pool_table_init(&t, 2, 10 * S, discard, &r);
	assert_int_equal(sl_pool_table_bucket(&t, &k, &b), 0);
	/* not grown: a key used every 5 ms stays at the size */
	for (int i = 0; i < 20; i++, now += 5 * ms)
		assert_int_equal(sl_pool_table_take(&t, b, now, 0, 7, &e), -ENOENT);
	assert_int_equal(b->gap_ns, 5 * ms);
	assert_int_equal(sl_pool_table_target(&t, b), 2);
	assert_int_equal(sl_pool_table_want(&t, b), 2);

	/* grown (max 8, delay 5 ms): every 5 ms with the 2 ms guess for the
	 * fill is ceil(2 * 7 / 5) + 1 = 4 */
	sl_pool_table_grow(&t, 8, 5 * ms);
	assert_int_equal(sl_pool_table_target(&t, b), 4);
	b->pending = 1;
	assert_int_equal(sl_pool_table_want(&t, b), 3);
	b->pending = 0;
	/* a measured fill of 10 ms: ceil(2 * 15 / 5) + 1 = 7 */
	sl_pool_table_filled(b, 10 * ms);
	assert_int_equal(b->fill_ns, 10 * ms);
	assert_int_equal(sl_pool_table_target(&t, b), 7);
	/* the average moves by a quarter: 10 -> 7.5 ms after a 0 ms fill */
	sl_pool_table_filled(b, 0);
	assert_int_equal(b->fill_ns, 10 * ms - 10 * ms / 4);
	/* a burst (uses 100 us apart) reaches the max, never more */
	for (int i = 0; i < 40; i++, now += ms / 10)
		sl_pool_table_take(&t, b, now, 0, 7, &e);
	assert_int_equal(sl_pool_table_target(&t, b), 8);
	/* a slow key (every 200 ms) falls back to the size */
	for (int i = 0; i < 60; i++, now += 200 * ms)
		sl_pool_table_take(&t, b, now, 0, 7, &e);
	assert_true(b->gap_ns > 150 * ms);
	assert_int_equal(sl_pool_table_target(&t, b), 2);
	/* an enormous refill delay does not wrap: the max */
	sl_pool_table_grow(&t, 8, UINT64_MAX / 2);
	assert_int_equal(sl_pool_table_target(&t, b), 8);
	/* a max below the size is the size */
	sl_pool_table_grow(&t, 1, 5 * ms);
	assert_int_equal(t.max, 2);
	assert_int_equal(sl_pool_table_target(&t, b), 2);
	sl_pool_table_fini(&t);
}

static void test_expiry(void **state)
{
	struct sl_pool_table t;
	struct rec r = { 0 };
	struct sl_pool_key k = key(ID_A, ID_B, "198.18.2.11", 15008);
	struct sl_pool_bucket *b;
	struct sl_pool_entry *e, *young;

	(void)state;
	sl_pool_table_init(&t, 4, 10 * S, discard, &r);
	assert_int_equal(sl_pool_table_bucket(&t, &k, &b), 0);
	sl_pool_table_put(&t, b, entry(1, 3, 0), 1 * S);
	sl_pool_table_put(&t, b, entry(1, 4, 0), 2 * S);
	young = entry(1, 5, 0);
	sl_pool_table_put(&t, b, young, 5 * S);
	/* at 12 s the first two are idle for >= 10 s: closed as expired,
	 * the third is taken */
	assert_int_equal(sl_pool_table_take(&t, b, 12 * S, 0, 1, &e), 0);
	assert_ptr_equal(e, young);
	free(e);
	assert_int_equal(r.n[SL_POOL_DROP_EXPIRED], 2);

	/* a sweep closes expired entries and keeps the others */
	sl_pool_table_put(&t, b, entry(1, 6, 0), 20 * S);
	sl_pool_table_put(&t, b, entry(1, 7, 0), 25 * S);
	sl_pool_table_sweep(&t, 30 * S, 0);
	assert_int_equal(r.n[SL_POOL_DROP_EXPIRED], 3);
	assert_int_equal(r.last_fd, 6);
	assert_int_equal(b->ready, 1);
	assert_int_equal(t.n_buckets, 1);
	/* empty and unused for the idle time: the bucket goes; not while a
	 * refill is pending */
	b->pending = 1;
	sl_pool_table_sweep(&t, 40 * S, 0);
	assert_int_equal(b->ready, 0);
	assert_int_equal(t.n_buckets, 1);
	b->pending = 0;
	b->queued = true; /* a deferred refill points here too */
	sl_pool_table_sweep(&t, 50 * S, 0);
	assert_int_equal(t.n_buckets, 1);
	b->queued = false;
	sl_pool_table_sweep(&t, 60 * S, 0);
	assert_int_equal(t.n_buckets, 0);
	assert_int_equal(r.n[SL_POOL_DROP_EXPIRED], 4);
	assert_int_equal(r.n[SL_POOL_DROP_STALE], 0);
	sl_pool_table_fini(&t);
}

static void test_stale(void **state)
{
	struct sl_pool_table t;
	struct rec r = { 0 };
	struct sl_pool_key k = key(ID_A, ID_B, "fd00:5a1c::2:11", 15008);
	struct sl_pool_bucket *b;
	struct sl_pool_entry *e, *fresh;

	(void)state;
	sl_pool_table_init(&t, 4, 10 * S, discard, &r);
	assert_int_equal(sl_pool_table_bucket(&t, &k, &b), 0);
	/* two entries of the old identity (generation 1), one of the new */
	sl_pool_table_put(&t, b, entry(1, 3, 0), 1 * S);
	sl_pool_table_put(&t, b, entry(1, 4, 0), 1 * S);
	fresh = entry(2, 5, 0);
	sl_pool_table_put(&t, b, fresh, 1 * S);
	assert_int_equal(sl_pool_table_take(&t, b, 2 * S, 1000, 2, &e), 0);
	assert_ptr_equal(e, fresh);
	free(e);
	assert_int_equal(r.n[SL_POOL_DROP_STALE], 2);
	/* an entry of the new identity is not taken as the old one either */
	sl_pool_table_put(&t, b, entry(2, 6, 0), 2 * S);
	assert_int_equal(sl_pool_table_take(&t, b, 3 * S, 1000, 1, &e), -ENOENT);
	assert_int_equal(r.n[SL_POOL_DROP_STALE], 3);

	/* the peer certificate's notAfter passed: stale on take and on sweep */
	sl_pool_table_put(&t, b, entry(2, 7, 1000), 3 * S);
	assert_int_equal(sl_pool_table_take(&t, b, 4 * S, 1000, 2, &e), -ENOENT);
	assert_int_equal(r.n[SL_POOL_DROP_STALE], 4);
	e = entry(2, 8, 1001);
	sl_pool_table_put(&t, b, e, 4 * S);
	assert_int_equal(sl_pool_table_take(&t, b, 4 * S, 1000, 2, &e), 0);
	assert_int_equal(e->fd, 8);
	free(e);
	sl_pool_table_put(&t, b, entry(2, 9, 1001), 4 * S);
	sl_pool_table_put(&t, b, entry(2, 10, 0), 4 * S);
	sl_pool_table_sweep(&t, 5 * S, 1001);
	assert_int_equal(r.n[SL_POOL_DROP_STALE], 5);
	assert_int_equal(r.last_fd, 9);
	assert_int_equal(b->ready, 1); /* notAfter unknown: kept */

	/* flush (shutdown) closes the rest */
	sl_pool_table_flush(&t);
	assert_int_equal(r.n[SL_POOL_DROP_FLUSH], 1);
	assert_int_equal(t.n_ready, 0);
	assert_int_equal(r.n[SL_POOL_DROP_EXPIRED], 0);
	sl_pool_table_fini(&t);
	sl_pool_table_fini(NULL);
}

/* refill delays spread over [d/2, 3d/2], so refills do not phase-lock to a
 * periodic client; 0 stays 0 */
static void test_refill_jitter(void **state)
{
	const uint64_t d = 5000000;
	uint64_t rng = 42, lo = UINT64_MAX, hi = 0, sum = 0;
	unsigned int below = 0;

	(void)state;
	for (int i = 0; i < 10000; i++) {
		uint64_t j = sl_pool_refill_jitter(d, &rng);

		assert_true(j >= d / 2 && j <= d + d / 2);
		lo = j < lo ? j : lo;
		hi = j > hi ? j : hi;
		sum += j;
		below += j < d;
	}
	/* spread over the whole range, centred on d */
	assert_true(lo < d / 2 + d / 20);
	assert_true(hi > d + d / 2 - d / 20);
	assert_true(sum / 10000 > d - d / 20 && sum / 10000 < d + d / 20);
	assert_true(below > 4000 && below < 6000);
	assert_int_equal(sl_pool_refill_jitter(0, &rng), 0);
	rng = 0; /* any state works */
	assert_true(sl_pool_refill_jitter(d, &rng) >= d / 2);
	assert_int_not_equal(rng, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keying),
		cmocka_unit_test(test_take_put_want),
		cmocka_unit_test(test_target),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_stale),
		cmocka_unit_test(test_refill_jitter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

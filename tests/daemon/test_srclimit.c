/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the per-source connection counts (daemon/flow/srclimit.h): the
 * cap per source, IPv4 per address and IPv6 per /64 (an IPv4-mapped IPv6
 * address is its IPv4 address), put gives the place back, a refused take
 * holds nothing, and with many sources at once no source is refused below
 * its cap (the count-min table never counts low; a collision of both of a
 * source's counters with busy ones is rare at the table size the daemon
 * uses).  Also threads taking and putting at once end at zero.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "srclimit.h"

static struct sl_ip ip(const char *s)
{
	struct sl_ip r;

	assert_int_equal(sl_ip_parse(s, &r), 0);
	return r;
}

static void test_cap_per_ipv4_address(void **state)
{
	struct sl_srclimit *l;
	struct sl_srclimit_ticket t[4], u, v;
	struct sl_ip a = ip("198.18.1.12"), b = ip("198.18.1.13");

	(void)state;
	assert_int_equal(sl_srclimit_new(3, 256, &l), 0);
	assert_int_equal(sl_srclimit_cap(l), 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(sl_srclimit_take(l, &a, &t[i]), 0);
	assert_int_equal(sl_srclimit_count(l, &a), 3);
	assert_int_equal(sl_srclimit_held(l, &t[0]), 3);
	/* the fourth is refused and holds nothing */
	assert_int_equal(sl_srclimit_take(l, &a, &t[3]), -EBUSY);
	assert_false(t[3].held);
	assert_int_equal(sl_srclimit_held(l, &t[3]), 0);
	assert_int_equal(sl_srclimit_count(l, &a), 3);
	sl_srclimit_put(l, &t[3]); /* no-op */
	assert_int_equal(sl_srclimit_count(l, &a), 3);
	/* another address has its own cap */
	assert_int_equal(sl_srclimit_take(l, &b, &u), 0);
	/* a put gives the place back, once */
	sl_srclimit_put(l, &t[1]);
	assert_false(t[1].held);
	sl_srclimit_put(l, &t[1]);
	assert_int_equal(sl_srclimit_count(l, &a), 2);
	assert_int_equal(sl_srclimit_take(l, &a, &v), 0);
	assert_int_equal(sl_srclimit_take(l, &a, &t[1]), -EBUSY);
	sl_srclimit_put(l, &t[0]);
	sl_srclimit_put(l, &t[2]);
	sl_srclimit_put(l, &v);
	sl_srclimit_put(l, &u);
	assert_int_equal(sl_srclimit_count(l, &a), 0);
	assert_int_equal(sl_srclimit_count(l, &b), 0);
	sl_srclimit_free(l);
}

static void test_ipv6_per_64_and_mapped(void **state)
{
	struct sl_srclimit *l;
	struct sl_srclimit_ticket t[3];
	struct sl_ip a = ip("fd00:5a1c:1::12"), b = ip("fd00:5a1c:1:0:ffff::1"),
		     c = ip("fd00:5a1c:1:1::12"), v4 = ip("198.18.1.12"),
		     mapped = ip("::ffff:198.18.1.12");

	(void)state;
	assert_int_equal(sl_srclimit_new(2, 256, &l), 0);
	/* two addresses of one /64 share the cap */
	assert_int_equal(sl_srclimit_take(l, &a, &t[0]), 0);
	assert_int_equal(sl_srclimit_take(l, &b, &t[1]), 0);
	assert_int_equal(sl_srclimit_take(l, &a, &t[2]), -EBUSY);
	assert_int_equal(sl_srclimit_take(l, &b, &t[2]), -EBUSY);
	/* the next /64 does not */
	assert_int_equal(sl_srclimit_take(l, &c, &t[2]), 0);
	sl_srclimit_put(l, &t[0]);
	sl_srclimit_put(l, &t[1]);
	sl_srclimit_put(l, &t[2]);
	/* an IPv4-mapped address is the IPv4 address */
	assert_int_equal(sl_srclimit_take(l, &v4, &t[0]), 0);
	assert_int_equal(sl_srclimit_take(l, &mapped, &t[1]), 0);
	assert_int_equal(sl_srclimit_take(l, &v4, &t[2]), -EBUSY);
	assert_int_equal(sl_srclimit_count(l, &mapped), 2);
	sl_srclimit_put(l, &t[0]);
	sl_srclimit_put(l, &t[1]);
	sl_srclimit_free(l);
}

/* 1024 pending at most, 128 per source (the daemon's defaults): 8 sources
 * at the cap and 800 other sources with one each; the busy ones are
 * refused, the others are not unless the sketch's seed puts them on a
 * busy source's slot in both rows (about 1 run in 300 sees one such
 * collision, 1 in 200,000 two): one refused must be such a collision */
static void test_many_sources(void **state)
{
	static struct sl_srclimit_ticket busy[8][128], one[800], extra;
	struct sl_srclimit *l;
	unsigned int refused = 0;
	char s[32];

	(void)state;
	assert_int_equal(sl_srclimit_new(128, 4096, &l), 0);
	for (int i = 0; i < 8; i++) {
		struct sl_ip a;

		snprintf(s, sizeof(s), "198.19.%d.1", i);
		a = ip(s);
		for (int j = 0; j < 128; j++)
			assert_int_equal(sl_srclimit_take(l, &a, &busy[i][j]), 0);
		assert_int_equal(sl_srclimit_take(l, &a, &extra), -EBUSY);
	}
	for (int i = 0; i < 800; i++) {
		struct sl_ip a;
		int ret;

		snprintf(s, sizeof(s), "198.18.%d.%d", i / 200, i % 200 + 1);
		a = ip(s);
		ret = sl_srclimit_take(l, &a, &one[i]);
		if (ret == -EBUSY) {
			/* a collision: its count is a busy source's */
			assert_true(sl_srclimit_count(l, &a) >= 128);
			refused++;
			continue;
		}
		assert_int_equal(ret, 0);
	}
	assert_true(refused <= 1);
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 128; j++)
			sl_srclimit_put(l, &busy[i][j]);
	for (int i = 0; i < 800; i++)
		sl_srclimit_put(l, &one[i]);
	sl_srclimit_free(l);
}

static struct sl_srclimit *shared;

static void *churn(void *arg)
{
	struct sl_ip a = ip(arg);
	struct sl_srclimit_ticket t;

	for (int i = 0; i < 100000; i++)
		if (!sl_srclimit_take(shared, &a, &t))
			sl_srclimit_put(shared, &t);
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t th[4];
	static char addrs[4][20] = { "198.18.1.12", "198.18.1.12",
				     "fd00:5a1c:1::12", "fd00:5a1c:1::13" };

	(void)state;
	assert_int_equal(sl_srclimit_new(1, 64, &shared), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, churn, addrs[i]), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 4; i++) {
		struct sl_ip a = ip(addrs[i]);

		assert_int_equal(sl_srclimit_count(shared, &a), 0);
	}
	sl_srclimit_free(shared);
}

static void test_bad_args(void **state)
{
	struct sl_srclimit *l = NULL;

	(void)state;
	assert_int_equal(sl_srclimit_new(0, 64, &l), -EINVAL);
	assert_null(l);
	sl_srclimit_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cap_per_ipv4_address),
		cmocka_unit_test(test_ipv6_per_64_and_mapped),
		cmocka_unit_test(test_many_sources),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_bad_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

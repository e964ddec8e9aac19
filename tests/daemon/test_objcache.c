/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the per-thread object caches (daemon/core/objcache.h): reuse,
 * the zeroed prefix, the per-thread bound, and per-thread lists freed when
 * the thread exits (ASan's leak check in CI sees any object left behind).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "objcache.h"

struct obj {
	uint64_t a, b;
	char tail[200];
};

static struct sl_objcache cache = SL_OBJCACHE_INIT(sizeof(struct obj), 4);

static void test_reuse_and_zero(void **state)
{
	struct obj *o, *p;

	(void)state;
	o = sl_objcache_alloc(&cache, offsetof(struct obj, tail));
	assert_non_null(o);
	assert_true(o->a == 0 && o->b == 0);
	o->a = 1;
	o->b = 2;
	memset(o->tail, 'x', sizeof(o->tail));
	sl_objcache_free(&cache, o);
	assert_int_equal(sl_objcache_cached(&cache), 1);

	/* the same object comes back, its prefix zeroed, its tail kept */
	p = sl_objcache_alloc(&cache, offsetof(struct obj, tail));
	assert_ptr_equal(p, o);
	assert_true(p->a == 0 && p->b == 0);
	assert_int_equal(p->tail[0], 'x');
	assert_int_equal(p->tail[sizeof(p->tail) - 1], 'x');
	assert_int_equal(sl_objcache_cached(&cache), 0);

	/* a zero length past the size zeroes the whole object, no more */
	memset(p, 0xff, sizeof(*p));
	sl_objcache_free(&cache, p);
	p = sl_objcache_alloc(&cache, 10 * sizeof(*p));
	assert_ptr_equal(p, o);
	for (size_t i = 0; i < sizeof(*p); i++)
		assert_int_equal(((unsigned char *)p)[i], 0);
	sl_objcache_free(&cache, p);
	sl_objcache_free(&cache, NULL); /* NULL-safe */
	assert_int_equal(sl_objcache_cached(&cache), 1);
}

static void test_bound(void **state)
{
	struct obj *v[10];

	(void)state;
	for (int i = 0; i < 10; i++) {
		v[i] = sl_objcache_alloc(&cache, sizeof(struct obj));
		assert_non_null(v[i]);
		for (int k = 0; k < i; k++)
			assert_ptr_not_equal(v[i], v[k]);
	}
	assert_int_equal(sl_objcache_cached(&cache), 0);
	for (int i = 0; i < 10; i++)
		sl_objcache_free(&cache, v[i]);
	/* at most max (4) kept; the rest went back to malloc */
	assert_int_equal(sl_objcache_cached(&cache), 4);
}

static void *thread_main(void *arg)
{
	struct obj *v[3];
	unsigned int *seen = arg;

	/* a new thread starts with an empty cache of its own */
	seen[0] = sl_objcache_cached(&cache);
	for (int i = 0; i < 3; i++)
		v[i] = sl_objcache_alloc(&cache, sizeof(struct obj));
	for (int i = 0; i < 3; i++)
		sl_objcache_free(&cache, v[i]);
	seen[1] = sl_objcache_cached(&cache);
	return NULL; /* its 3 objects are freed at exit (leak check) */
}

static void test_per_thread(void **state)
{
	unsigned int before = sl_objcache_cached(&cache), seen[2] = { 99, 99 };
	pthread_t t;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, thread_main, seen), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(seen[0], 0);
	assert_int_equal(seen[1], 3);
	/* this thread's cache is untouched */
	assert_int_equal(sl_objcache_cached(&cache), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reuse_and_zero),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_per_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

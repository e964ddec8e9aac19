/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The list scanner (k8s/listscan.c): a list answer fed in pieces of every
 * size gives exactly its items and metadata; strings with braces, quotes
 * and escapes do not confuse it; what is not a list is refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "k8s_internal.h"

struct got {
	char items[16][256];
	size_t n;
	char meta[256];
	int fail_at; /* the item whose callback fails (-1: none) */
};

static int on_item(void *arg, const char *s, size_t n)
{
	struct got *g = arg;

	if ((int)g->n == g->fail_at)
		return -ECANCELED;
	assert_true(g->n < 16 && n < 256);
	memcpy(g->items[g->n], s, n);
	g->items[g->n++][n] = '\0';
	return 0;
}

static int on_meta(void *arg, const char *s, size_t n)
{
	struct got *g = arg;

	assert_true(n < 256);
	memcpy(g->meta, s, n);
	g->meta[n] = '\0';
	return 0;
}

/* feed @doc in pieces of @step bytes; the end's verdict */
static int scan(const char *doc, size_t step, struct got *g, size_t max)
{
	struct sl_k8s_lscan ls = { 0 };
	size_t len = strlen(doc);
	int ret = 0;

	memset(g->items, 0, sizeof(g->items));
	g->n = 0;
	g->meta[0] = '\0';
	sl_k8s_lscan_init(&ls, max, on_item, on_meta, g);
	for (size_t i = 0; i < len && !ret; i += step)
		ret = sl_k8s_lscan_feed(&ls, doc + i,
					len - i < step ? len - i : step);
	if (!ret)
		ret = sl_k8s_lscan_end(&ls);
	sl_k8s_lscan_free(&ls);
	return ret;
}

static const char list[] =
	"{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\n"
	" \"metadata\": {\"resourceVersion\":\"42\",\"continue\":\"x}{\"},\n"
	" \"items\": [ {\"a\":\"}]\\\"\\\\\",\"b\":[1,{\"c\":null}]} ,\n"
	"  {\"d\":\"\\u00e9{\"}, {}\n ] }\n";

static void test_every_piece_size(void **state)
{
	struct got g = { .fail_at = -1 };

	(void)state;
	for (size_t step = 1; step <= sizeof(list); step++) {
		assert_int_equal(scan(list, step, &g, 1 << 20), 0);
		assert_int_equal(g.n, 3);
		assert_string_equal(g.items[0],
				    "{\"a\":\"}]\\\"\\\\\",\"b\":[1,{\"c\":null}]}");
		assert_string_equal(g.items[1], "{\"d\":\"\\u00e9{\"}");
		assert_string_equal(g.items[2], "{}");
		assert_string_equal(g.meta,
				    "{\"resourceVersion\":\"42\",\"continue\":\"x}{\"}");
	}
}

static void test_empty_and_null_items(void **state)
{
	struct got g = { .fail_at = -1 };

	(void)state;
	assert_int_equal(scan("{\"items\":[],\"metadata\":{\"resourceVersion\":\"1\"}}",
			      3, &g, 1 << 20), 0);
	assert_int_equal(g.n, 0);
	assert_string_equal(g.meta, "{\"resourceVersion\":\"1\"}");
	assert_int_equal(scan("{\"metadata\":{},\"items\":null}", 1, &g,
			      1 << 20), 0);
	assert_int_equal(g.n, 0);
	assert_int_equal(scan("{}", 1, &g, 1 << 20), 0);
}

static void test_refused(void **state)
{
	static const char *const bad[] = {
		"[]",				 /* not an object */
		"{\"items\":[{}}",		 /* ] missing: } instead */
		"{\"items\":[{} {}]}",		 /* no comma */
		"{\"items\":[{},]}",		 /* a comma before ] */
		"{\"items\":{}}",		 /* items not an array */
		"{\"a\" 1}",			 /* no colon */
		"{\"a\":1,}",			 /* a comma before } */
		"{\"a\":1} x",			 /* bytes after the document */
		"{\"a\":\"x\ny\"}",		 /* a raw newline in a string */
		"{\"a\":@}",			 /* not a value */
		"{\"items\":[}",		 /* a stray } */
		"{\"items\":[{}]",		 /* truncated */
		"{\"items\":[{\"a\":\"x",	 /* truncated in a string */
		"",				 /* nothing */
	};
	struct got g = { .fail_at = -1 };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		for (size_t step = 1; step <= 4; step++) {
			int ret = scan(bad[i], step, &g, 1 << 20);

			if (ret != -EINVAL)
				fail_msg("\"%s\" (pieces of %zu): %d, want -EINVAL",
					 bad[i], step, ret);
		}
	}
}

static void test_limits_and_callback_errors(void **state)
{
	struct got g = { .fail_at = -1 };

	(void)state;
	/* an item longer than the limit: -E2BIG, even before it ends */
	assert_int_equal(scan("{\"items\":[{\"a\":\"0123456789012345678901234567890\"}]}",
			      4, &g, 16), -E2BIG);
	/* 65 levels of nesting are refused */
	{
		char deep[200] = "{\"items\":[";
		size_t n = strlen(deep);

		for (int i = 0; i < 65; i++)
			deep[n++] = '[';
		deep[n] = '\0';
		assert_int_equal(scan(deep, 7, &g, 1 << 20), -EINVAL);
	}
	/* a callback's error stops the scan and is returned */
	g.fail_at = 1;
	assert_int_equal(scan(list, 5, &g, 1 << 20), -ECANCELED);
	assert_int_equal(g.n, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_piece_size),
		cmocka_unit_test(test_empty_and_null_items),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_limits_and_callback_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of daemon/flow/handoff.c: the same-node handoff table with the
 * source pod address (AuthorizationPolicy on same-node flows).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "daemon.h"
#include "handoff.h"

static struct sl_ip v4(const char *s)
{
	struct sl_ip ip = { .family = AF_INET };

	assert_int_equal(inet_pton(AF_INET, s, &ip.v4), 1);
	return ip;
}

static void test_src(void **state)
{
	struct sl_ip dst = v4("198.18.2.11"), src = v4("198.18.2.12");
	struct sl_ip got_dst, got_src;
	bool has = true;

	(void)state;
	/* with a source: both come back once, then the entry is gone */
	assert_int_equal(sl_handoff_put_src(40001, &dst, &src), 0);
	assert_int_equal(sl_handoff_put_src(40001, &dst, &src), -EEXIST);
	assert_int_equal(sl_handoff_take_src(40001, &got_dst, &got_src, &has), 0);
	assert_true(has);
	assert_memory_equal(&got_dst.v4, &dst.v4, sizeof(dst.v4));
	assert_memory_equal(&got_src.v4, &src.v4, sizeof(src.v4));
	assert_int_equal(sl_handoff_take_src(40001, &got_dst, &got_src, &has),
			 -ENOENT);

	/* without a source (old API): has_src false */
	assert_int_equal(sl_handoff_put(40002, &dst), 0);
	has = true;
	assert_int_equal(sl_handoff_take_src(40002, &got_dst, &got_src, &has), 0);
	assert_false(has);

	/* a slot reused without a source does not keep the old source */
	assert_int_equal(sl_handoff_put_src(40003, &dst, &src), 0);
	assert_int_equal(sl_handoff_take(40003, &got_dst), 0);
	assert_int_equal(sl_handoff_put_src(40003, &dst, NULL), 0);
	has = true;
	assert_int_equal(sl_handoff_take_src(40003, &got_dst, &got_src, &has), 0);
	assert_false(has);

	/* drop removes the entry */
	assert_int_equal(sl_handoff_put_src(40004, &dst, &src), 0);
	sl_handoff_drop(40004);
	assert_int_equal(sl_handoff_take(40004, &got_dst), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_src),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the small parsers in common/util.h: byte counts
 * (sl_parse_size) and durations (sl_parse_duration), the good forms and
 * each way a value can be wrong.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "util.h"

static void test_size_good(void **state)
{
	static const struct {
		const char *in;
		uint64_t want;
	} good[] = {
		{ "0", 0 },
		{ "65536", 65536 },
		{ "64K", 65536 },
		{ "256KiB", 262144 },
		{ "1M", 1048576 },
		{ "16MiB", 16777216 },
		{ "2G", 2147483648ull },
		{ "1GiB", 1073741824ull },
		{ "18446744073709551615", UINT64_MAX },
	};
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = 12345;
		assert_int_equal(sl_parse_size(good[i].in, &v), 0);
		assert_int_equal(v, good[i].want);
	}
}

static void test_size_bad(void **state)
{
	static const char *const bad[] = {
		"", "K", "-1", "+1", " 1", "1 ", "1.5M", "1k", "1KB", "1MB",
		"1T", "0x10", "1KiBs",
	};
	uint64_t v = 7;

	(void)state;
	assert_int_equal(sl_parse_size(NULL, &v), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sl_parse_size(bad[i], &v), -EINVAL);
	assert_int_equal(sl_parse_size("18446744073709551616", &v), -ERANGE);
	assert_int_equal(sl_parse_size("17179869184G", &v), -ERANGE);
	assert_int_equal(v, 7); /* untouched on error */
}

static void test_duration(void **state)
{
	uint64_t ns = 0;

	(void)state;
	assert_int_equal(sl_parse_duration("1.5s", &ns), 0);
	assert_int_equal(ns, 1500000000ull);
	assert_int_equal(sl_parse_duration("300ms", &ns), 0);
	assert_int_equal(ns, 300000000ull);
	assert_int_equal(sl_parse_duration("10us", &ns), 0);
	assert_int_equal(ns, 10000ull);
	assert_int_equal(sl_parse_duration("2m", &ns), 0);
	assert_int_equal(ns, 120000000000ull);
	assert_int_equal(sl_parse_duration("5", &ns), -EINVAL);
	assert_int_equal(sl_parse_duration("s", &ns), -EINVAL);
	assert_int_equal(sl_parse_duration("1d", &ns), -EINVAL);
	assert_int_equal(sl_parse_duration("99999999999999999999s", &ns), -ERANGE);
}

static void test_mkdir_parent(void **state)
{
	char top[] = "/tmp/sl-util-XXXXXX", path[96], dir[96];
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(top));
	snprintf(path, sizeof(path), "%s/run/admin.sock", top);
	snprintf(dir, sizeof(dir), "%s/run", top);
	assert_int_equal(sl_mkdir_parent(path, 0700), 0);
	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(sl_mkdir_parent(path, 0700), 0); /* exists: fine */
	/* one level only */
	snprintf(path, sizeof(path), "%s/a/b/c", top);
	assert_int_equal(sl_mkdir_parent(path, 0700), -ENOENT);
	assert_int_equal(sl_mkdir_parent("admin.sock", 0700), 0); /* no dir */
	assert_int_equal(rmdir(dir), 0);
	assert_int_equal(rmdir(top), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_good),
		cmocka_unit_test(test_size_bad),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_mkdir_parent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

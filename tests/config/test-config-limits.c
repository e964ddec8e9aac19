/* SPDX-License-Identifier: Apache-2.0 */
/* Parser limits: alias expansion, depth, size, documents, files, UTF-8,
 * tags; and what is fine (anchors, empty documents). */
#include "cfgtest.h"

static void test_billion_laughs(void **state)
{
	struct cfgt t = { 0 };

	CFGT_FAIL(&t, "lol.yaml",
		  "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
		  "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
		  "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
		  "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
		  "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
		  "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
		  "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
		  "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
		  "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n");
	CFGT_HAS(&t, "lol.yaml", 0, 0, NULL,
		 "alias expansion exceeds limit of 100000 nodes");
	assert_int_equal(t.errs.n, 1);
	cfgt_done(&t);
}

static void test_depth(void **state)
{
	struct cfgt t = { 0 };
	char buf[256];

	memset(buf, '[', 100);
	buf[100] = '\n';
	buf[101] = '\0';
	CFGT_FAIL(&t, "deep.yaml", buf);
	CFGT_HAS(&t, "deep.yaml", 1, 65, NULL, "nesting deeper than 64 levels");
	cfgt_done(&t);
	/* depth reached through an alias counts too */
	memset(buf, 0, sizeof(buf));
	strcpy(buf, "a: &x ");
	memset(buf + 6, '[', 40);
	memset(buf + 46, ']', 40);
	strcat(buf, "\nb: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[*x]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n");
	CFGT_FAIL(&t, "deep2.yaml", buf);
	CFGT_HAS(&t, "deep2.yaml", 2, 0, NULL, "nesting deeper than 64 levels");
	cfgt_done(&t);
}

static void test_file_size(void **state)
{
	struct cfgt t = { 0 };
	size_t len = (1u << 20) + 1;
	char *big = malloc(len + 1);

	assert_non_null(big);
	memset(big, '#', len);
	big[len] = '\0';
	CFGT_FAIL(&t, "big.yaml", big);
	CFGT_HAS(&t, "big.yaml", 0, 0, NULL, "file larger than 1048576 bytes");
	cfgt_done(&t);
	free(big);
}

static void test_utf8(void **state)
{
	struct cfgt t = { 0 };

	CFGT_FAIL(&t, "latin1.yaml",
		  "apiVersion: v1\nkind: Service\nmetadata: {name: caf\xe9}\n");
	CFGT_HAS(&t, "latin1.yaml", 3, 22, NULL,
		 "invalid trailing UTF-8 octet (byte 0x7d): files must be UTF-8");
	cfgt_done(&t);
	/* UTF-16 is not accepted either: the encoding is forced to UTF-8 */
	t.dir = cfgt_dir(NULL);
	cfgt_write(t.dir, "u16.yaml", "\xff\xfe" "a\0:\0 \0b\0\n\0", 12);
	cfgt_load_dir(&t, t.dir);
	assert_int_equal(t.ret, -EINVAL);
	CFGT_HAS(&t, "u16.yaml", 1, 0, NULL, "");
	cfgt_done(&t);
}

static void test_tags_and_docs(void **state)
{
	struct cfgt t = { 0 };
	char *many;
	size_t off = 0;

	CFGT_FAIL(&t, "tag.yaml",
		  "apiVersion: !!str v1\nkind: !python/object Service\n");
	CFGT_HAS(&t, "tag.yaml", 2, 7, NULL, "YAML tag !python/object is not supported");
	cfgt_done(&t);
	CFGT_FAIL(&t, "rec.yaml", "a: &a [*a]\n");
	CFGT_HAS(&t, "rec.yaml", 1, 8, NULL, "unknown alias *a");
	cfgt_done(&t);
	CFGT_FAIL(&t, "key.yaml", "? [a, b]\n: c\n");
	CFGT_HAS(&t, "key.yaml", 1, 3, NULL, "mapping keys must be scalars");
	cfgt_done(&t);
	many = malloc(1002 * 6 + 1);
	assert_non_null(many);
	for (int i = 0; i < 1002; i++)
		off += (size_t)sprintf(many + off, "---\n~\n");
	CFGT_FAIL(&t, "docs.yaml", many);
	CFGT_HAS(&t, "docs.yaml", 2001, 1, NULL, "more than 1000 documents in one file");
	cfgt_done(&t);
	free(many);
}

static void test_too_many_files(void **state)
{
	struct cfgt t = { 0 };
	char name[32];

	t.dir = cfgt_dir(NULL);
	for (int i = 0; i <= 1000; i++) {
		snprintf(name, sizeof(name), "f%04d.yaml", i);
		cfgt_write(t.dir, name, "", 0);
	}
	cfgt_load_dir(&t, t.dir);
	assert_int_equal(t.ret, -EINVAL);
	CFGT_HAS(&t, NULL, 0, 0, NULL, "more than 1000 configuration files");
	cfgt_done(&t);
}

/* anchors within limits, empty files and documents are fine */
static void test_fine(void **state)
{
	struct cfgt t = { 0 };

	CFGT_OK(&t, "empty.yaml", "", "comments.yml", "# nothing\n---\n---\n...\n",
		"anchors.yaml",
		"apiVersion: v1\nkind: Service\nmetadata: {name: a, labels: &l {app: a}}\n"
		"spec: {selector: *l, ports: [{port: 80}]}\n");
	assert_int_equal(sl_config_count(t.cfg, NULL), 1);
	cfgt_done(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_billion_laughs),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_file_size),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_tags_and_docs),
		cmocka_unit_test(test_too_many_files),
		cmocka_unit_test(test_fine),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the JSON writer's strings (common/json.h): any byte string,
 * however hostile, gives a literal that strict UTF-8 decoding and a strict
 * JSON parser (python3) accept, with the exact escapes expected; and the
 * bounded variant cuts at a character or escape boundary.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "json.h"

static char *escaped(const char *s)
{
	char *buf = NULL, *copy;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	sl_json_escape(out, s);
	assert_int_equal(fclose(out), 0);
	copy = strdup(buf);
	free(buf);
	assert_non_null(copy);
	return copy;
}

static const struct {
	const char *in, *want;
} cases[] = {
	{ "plain /path?q=1", "\"plain /path?q=1\"" },
	{ "q\"b\\s", "\"q\\\"b\\\\s\"" },
	{ "\n\r\t\x01\x1f\x7f", "\"\\n\\r\\t\\u0001\\u001f\\u007f\"" },
	/* well-formed UTF-8 is copied: é, €, U+10FFFF, 😀 */
	{ "\xc3\xa9\xe2\x82\xac\xf4\x8f\xbf\xbf\xf0\x9f\x98\x80",
	  "\"\xc3\xa9\xe2\x82\xac\xf4\x8f\xbf\xbf\xf0\x9f\x98\x80\"" },
	/* a stray continuation byte, 0xFF, 0xC0 0xC1 (always overlong) */
	{ "a\x80z\xff", "\"a\\u0080z\\u00ff\"" },
	{ "\xc0\xaf\xc1\xbf", "\"\\u00c0\\u00af\\u00c1\\u00bf\"" },
	/* overlong three- and four-byte forms */
	{ "\xe0\x80\xaf", "\"\\u00e0\\u0080\\u00af\"" },
	{ "\xf0\x80\x80\xaf", "\"\\u00f0\\u0080\\u0080\\u00af\"" },
	/* a surrogate (U+D800), above U+10FFFF, F5 */
	{ "\xed\xa0\x80", "\"\\u00ed\\u00a0\\u0080\"" },
	{ "\xf4\x90\x80\x80", "\"\\u00f4\\u0090\\u0080\\u0080\"" },
	{ "\xf5\x80", "\"\\u00f5\\u0080\"" },
	/* a sequence cut short by the end, and by an ASCII byte */
	{ "x\xe2\x82", "\"x\\u00e2\\u0082\"" },
	{ "\xe2\x82/", "\"\\u00e2\\u0082/\"" },
	{ "\xf0\x9f\x98", "\"\\u00f0\\u009f\\u0098\"" },
	/* an escape-looking path stays literal */
	{ "/\\u0000/%00", "\"/\\\\u0000/%00\"" },
};

static void test_escape_exact(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = escaped(cases[i].in);

		if (strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu: got %s want %s", i, got, cases[i].want);
		free(got);
	}
}

/* every byte 0x01..0xFF, alone and in every pair: each output is strict
 * UTF-8 and a JSON string python3 accepts (json.loads refuses raw control
 * characters), and decodes to the bytes' Latin-1 reading where they are
 * not UTF-8 */
static void test_every_byte_parses(void **state)
{
	char s[3] = { 0 }, *lit;
	FILE *py;
	int st;

	(void)state;
	if (access("/usr/bin/python3", X_OK) != 0)
		fail_msg("python3 not found (a build dependency of meson)");
	setenv("SL_CHECKER",
	       "import json,sys\n"
	       "n=0\n"
	       "for line in sys.stdin.buffer:\n"
	       "    t=line.rstrip(b'\\n')\n"
	       "    raw,lit=t.split(b' ',1)\n"
	       "    v=json.loads(lit.decode('utf-8'))\n"
	       "    b=bytes.fromhex(raw.decode())\n"
	       "    try: want=b.decode('utf-8')\n"
	       "    except UnicodeDecodeError: want=None\n"
	       "    if want is not None: assert v==want,(raw,lit,v)\n"
	       "    elif len(b)==1: assert v==chr(b[0]),(raw,lit,v)\n"
	       "    n+=1\n"
	       "assert n==255+255*255,n\n", 1);
	signal(SIGPIPE, SIG_IGN); /* a failed check ends python early */
	py = popen("/usr/bin/python3 -c \"$SL_CHECKER\"", "w");
	assert_non_null(py);
	for (int a = 1; a < 256; a++) {
		s[0] = (char)a;
		s[1] = 0;
		lit = escaped(s);
		fprintf(py, "%02x %s\n", a, lit);
		free(lit);
	}
	for (int a = 1; a < 256; a++) {
		for (int b = 1; b < 256; b++) {
			s[0] = (char)a;
			s[1] = (char)b;
			lit = escaped(s);
			fprintf(py, "%02x%02x %s\n", a, b, lit);
			free(lit);
		}
	}
	st = pclose(py);
	assert_int_equal(st, 0);
}

static char *bounded(const char *s, size_t max, bool *cut)
{
	char *buf = NULL, *copy;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	struct sl_json j;

	assert_non_null(out);
	sl_json_init(&j, out, false);
	sl_json_obj_begin(&j);
	*cut = sl_json_kv_str_max(&j, "k", s, max);
	sl_json_obj_end(&j);
	assert_int_equal(fclose(out), 0);
	copy = strdup(buf);
	free(buf);
	assert_non_null(copy);
	return copy;
}

static void test_bounded(void **state)
{
	static const struct {
		const char *in;
		size_t max;
		const char *want;
		bool cut;
	} b[] = {
		{ "abcdef", 6, "{\"k\":\"abcdef\"}", false },
		{ "abcdef", 5, "{\"k\":\"abcde\"}", true },
		{ "abc\"d", 4, "{\"k\":\"abc\"}", true },	/* \" is 2 */
		{ "abc\"d", 5, "{\"k\":\"abc\\\"\"}", true },
		{ "a\x01", 6, "{\"k\":\"a\"}", true },	/* \u0001 is 6 */
		{ "a\x01", 7, "{\"k\":\"a\\u0001\"}", false },
		{ "a\xc3\xa9", 2, "{\"k\":\"a\"}", true }, /* é whole or not */
		{ "a\xc3\xa9", 3, "{\"k\":\"a\xc3\xa9\"}", false },
		{ "x", 0, "{\"k\":\"\"}", true },
		{ "", 0, "{\"k\":\"\"}", false },
		{ NULL, 0, "{\"k\":null}", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++) {
		bool cut;
		char *got = bounded(b[i].in, b[i].max, &cut);

		if (strcmp(got, b[i].want) != 0 || cut != b[i].cut)
			fail_msg("case %zu: got %s (cut %d) want %s (cut %d)", i,
				 got, cut, b[i].want, b[i].cut);
		free(got);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_exact),
		cmocka_unit_test(test_every_byte_parses),
		cmocka_unit_test(test_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

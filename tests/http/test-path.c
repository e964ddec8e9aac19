/* SPDX-License-Identifier: Apache-2.0 */
/* Request-path normalization (http/path.c): the bypass table of issue 27,
 * written from Istio's and Envoy's security advisories, row by row in each
 * of Istio's four pathNormalization modes (exact output, or exact refusal
 * and status).  Every accepted output is normalized again and must come
 * back unchanged; a buffer one byte short of the result gives 414. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/path.h"

#define NM SL_PATH_MODE__COUNT

/* expected result per mode (NONE, BASE, MERGE_SLASHES,
 * DECODE_AND_MERGE_SLASHES): the output, or "!" and the reason name */
struct row {
	const char *in;
	const char *exp[NM];
};

#define ALL(x) { x, x, x, x }
#define ESC "!path-escaped-slash"
#define NUL "!path-nul"
#define FRAG "!path-fragment"
#define NOTO "!path-not-origin-form"

static const struct row rows[] = {
	/* CVE-2021-31920 (ISTIO-SECURITY-2021-005): multiple slashes and
	 * escaped slashes bypassed path-based AuthorizationPolicy; Istio's
	 * fix is MERGE_SLASHES / DECODE_AND_MERGE_SLASHES.  Issue 27 refuses
	 * %2F and %5C unless they are decoded (Istio keeps them unchanged). */
	{ "//api", { "//api", "//api", "/api", "/api" } },
	{ "/api//admin", { "/api//admin", "/api//admin", "/api/admin", "/api/admin" } },
	/* Envoy merges after it canonicalizes: ".." removes the empty
	 * segment, not "api" */
	{ "/api//..//admin", { "/api//..//admin", "/api//admin", "/api/admin", "/api/admin" } },
	{ "/api%2Fadmin", { ESC, ESC, ESC, "/api/admin" } },
	{ "/api%2fadmin", { ESC, ESC, ESC, "/api/admin" } },
	{ "/api/..%2fadmin", { ESC, ESC, ESC, "/admin" } },
	{ "/api%5Cadmin", { ESC, ESC, ESC, "/api/admin" } },
	{ "/api/..%5cadmin", { ESC, ESC, ESC, "/admin" } },
	{ "/api/%2F%2Fadmin", { ESC, ESC, ESC, "/api/admin" } },
	{ "/api/%2e%2e%2fadmin", { ESC, ESC, ESC, "/admin" } },
	/* GHSA-4987-27fx-x6cf (Envoy CVE-2021-29492): %2F in the query is
	 * no path separator; the query is never changed */
	{ "/api?next=%2F..%2Fadmin", ALL("/api?next=%2F..%2Fadmin") },

	/* CVE-2019-9901 (Envoy GHSA-xcx5-93pw-jw2w, envoyproxy/envoy#6435):
	 * dot segments, also percent-encoded, in any case */
	{ "/api/../admin", { "/api/../admin", "/admin", "/admin", "/admin" } },
	{ "/api/%2e%2e/admin", { "/api/%2e%2e/admin", "/admin", "/admin", "/admin" } },
	{ "/api/%2E%2e/admin", { "/api/%2E%2e/admin", "/admin", "/admin", "/admin" } },
	{ "/api/.%2E/admin", { "/api/.%2E/admin", "/admin", "/admin", "/admin" } },
	{ "/../../admin", { "/../../admin", "/admin", "/admin", "/admin" } },
	{ "/api/./admin", { "/api/./admin", "/api/admin", "/api/admin", "/api/admin" } },
	{ "/./api", { "/./api", "/api", "/api", "/api" } },
	{ "/api/%2e/admin", { "/api/%2e/admin", "/api/admin", "/api/admin", "/api/admin" } },
	/* trailing dots: a final "." or ".." is a dot segment, "..." and
	 * "admin.." are names */
	{ "/api/admin/..", { "/api/admin/..", "/api/", "/api/", "/api/" } },
	{ "/api/.", { "/api/.", "/api/", "/api/", "/api/" } },
	{ "/api/%2E", { "/api/%2E", "/api/", "/api/", "/api/" } },
	{ "/api/...", ALL("/api/...") },
	{ "/api/.%2e%2e", { "/api/.%2e%2e", "/api/...", "/api/...", "/api/..." } },
	{ "/api/admin..", ALL("/api/admin..") },
	{ "/a%2eb", { "/a%2eb", "/a.b", "/a.b", "/a.b" } },

	/* Istio's normalization reference: escaped unreserved characters
	 * (%2d %2e %30-%39 %41-%5a %5f %61-%7a %7e) are decoded once; case is
	 * never changed (Envoy does no case normalization) */
	{ "/%61pi", { "/%61pi", "/api", "/api", "/api" } },
	{ "/%41PI", { "/%41PI", "/API", "/API", "/API" } },
	{ "/%7euser%2d%5f%30", { "/%7euser%2d%5f%30", "/~user-_0", "/~user-_0", "/~user-_0" } },
	/* other escapes stay as sent, hex case included */
	{ "/a%3cb%3C", ALL("/a%3cb%3C") },
	{ "/api%23/x", ALL("/api%23/x") },
	/* bytes Envoy escapes ('<' is one); NONE forwards them as they are */
	{ "/a<b>", { "/a<b>", "/a%3Cb%3E", "/a%3Cb%3E", "/a%3Cb%3E" } },

	/* CVE-2019-9900 (Envoy, NUL in header values) and Istio's
	 * normalization reference: %00 is always refused with 400 */
	{ "/api%00/admin", ALL(NUL) },
	{ "/api/%00", ALL(NUL) },
	{ "/api%2F%00", { ESC, ESC, ESC, NUL } },

	/* backslashes: Envoy's normalize_path reads '\' as '/' (Istio's
	 * normalization reference, "\da is normalized to /da") */
	{ "/api\\admin", { "/api\\admin", "/api/admin", "/api/admin", "/api/admin" } },
	{ "/api\\..\\admin", { "/api\\..\\admin", "/admin", "/admin", "/admin" } },
	{ "/api\\\\admin", { "/api\\\\admin", "/api//admin", "/api/admin", "/api/admin" } },

	/* ';' path parameters.  Envoy keeps them in the path
	 * (istio/istio#27409); its per-segment stripping (CVE-2026-73511)
	 * serves route matching only.  A dot segment with parameters is a dot
	 * segment, its parameters dropped: Envoy since CVE-2026-73551
	 * (GHSA-2w8w-rfw7-8gg4), whose test pairs the next four are. */
	{ "/api/..;/admin", { "/api/..;/admin", "/admin", "/admin", "/admin" } },
	{ "/user/..;foo=bar/admin", { "/user/..;foo=bar/admin", "/admin", "/admin", "/admin" } },
	{ "/xyz/.;foo=bar/abc", { "/xyz/.;foo=bar/abc", "/xyz/abc", "/xyz/abc", "/xyz/abc" } },
	{ "/xyz/..;foo=bar/.;fff=zzz/remain;blah-bluh?query",
	  { "/xyz/..;foo=bar/.;fff=zzz/remain;blah-bluh?query", "/remain;blah-bluh?query",
	    "/remain;blah-bluh?query", "/remain;blah-bluh?query" } },
	{ "/xyz/.;foo=bar", { "/xyz/.;foo=bar", "/xyz/", "/xyz/", "/xyz/" } },
	/* Envoy strips only "..;" after a literal '/', then leaves
	 * "..;x" from %2e%2e or after '\' for a second pass to collapse;
	 * sluice collapses them at once (normalizing twice changes nothing) */
	{ "/api/%2e%2e;x/admin", { "/api/%2e%2e;x/admin", "/admin", "/admin", "/admin" } },
	{ "/api\\..;x\\admin", { "/api\\..;x\\admin", "/admin", "/admin", "/admin" } },
	{ "/api/..;x%2Fadmin", { ESC, ESC, ESC, "/admin" } },
	{ "/api;v=1/../admin", { "/api;v=1/../admin", "/admin", "/admin", "/admin" } },
	{ "/api/admin;x", ALL("/api/admin;x") },
	{ "/api/...;x", ALL("/api/...;x") },
	{ "/api/a..;x/b", ALL("/api/a..;x/b") },

	/* CVE-2021-39156 (ISTIO-SECURITY-2021-008) and Envoy CVE-2021-32779:
	 * a fragment in the path; Envoy 1.19.1 refuses it anywhere */
	{ "/api#/../admin", ALL(FRAG) },
	{ "/admin?x=1#frag", ALL(FRAG) },
	{ "/api/%23/../admin", { "/api/%23/../admin", "/api/admin", "/api/admin", "/api/admin" } },

	/* double encoding: decoded once only, %25 stays (Istio: "no double
	 * decoding") */
	{ "/api/%252e%252e/admin", ALL("/api/%252e%252e/admin") },
	{ "/api%252Fadmin", ALL("/api%252Fadmin") },
	/* overlong UTF-8 for '.' is not decoded */
	{ "/api/%c0%ae%c0%ae/admin", ALL("/api/%c0%ae%c0%ae/admin") },
	{ "/api/%e0%80%ae", ALL("/api/%e0%80%ae") },
	/* nested escapes: "%%32e" would read "%2e" once "%32" is decoded;
	 * Envoy writes the bare '%' as %25 */
	{ "/%%32e%%32e/admin", { "/%%32e%%32e/admin", "/%252e%252e/admin",
				 "/%252e%252e/admin", "/%252e%252e/admin" } },
	{ "/x/%%32F", { "/x/%%32F", "/x/%252F", "/x/%252F", "/x/%252F" } },
	{ "/%%30%30", { "/%%30%30", "/%2500", "/%2500", "/%2500" } },
	{ "/%4%31", { "/%4%31", "/%2541", "/%2541", "/%2541" } },
	{ "/100%", ALL("/100%") },
	{ "/%zz/%4", ALL("/%zz/%4") },

	/* the query is never normalized */
	{ "/api/../admin?p=/../x&q=%00", { "/api/../admin?p=/../x&q=%00", "/admin?p=/../x&q=%00",
					  "/admin?p=/../x&q=%00", "/admin?p=/../x&q=%00" } },
	{ "/?", ALL("/?") },

	/* not a path */
	{ "api", ALL(NOTO) },
	{ "", ALL(NOTO) },
	{ "*", ALL(NOTO) },
	{ "\\api", ALL(NOTO) },

	/* only slashes: one (Envoy's merge_slashes gives "//") */
	{ "///", { "///", "///", "/", "/" } },
	{ "/", ALL("/") },
};

static void check_row(const struct row *r, enum sl_path_mode m)
{
	size_t n = strlen(r->in);
	char out[SL_PATH_OUT_MAX(64) + 1], again[SL_PATH_OUT_MAX(192) + 1];
	struct sl_path_result res, res2;
	const char *exp = r->exp[m];
	ssize_t got;

	assert_true(n <= 64);
	got = sl_path_normalize(m, r->in, n, out, SL_PATH_OUT_MAX(n), &res);
	if (exp[0] == '!') {
		if (got != -EBADMSG || strcmp(sl_path_reason_str(res.reason), exp + 1))
			fail_msg("%s %s: want %s, got %zd %s", sl_path_mode_str(m), r->in,
				 exp + 1, got, sl_path_reason_str(res.reason));
		assert_int_equal(res.status, 400);
		assert_true(res.err_pos <= n);
		return;
	}
	if (got < 0 || (size_t)got != strlen(exp) || memcmp(out, exp, (size_t)got))
		fail_msg("%s %s: want %s, got %zd %.*s (%s)", sl_path_mode_str(m), r->in,
			 exp, got, got < 0 ? 0 : (int)got, out,
			 sl_path_reason_str(res.reason));
	assert_int_equal(res.reason, SL_PATH_OK);
	assert_int_equal(res.status, 0);
	const char *qm = memchr(exp, '?', (size_t)got);
	assert_int_equal(res.path_len, qm ? (size_t)(qm - exp) : (size_t)got);

	/* normalizing again changes nothing */
	ssize_t g2 = sl_path_normalize(m, out, (size_t)got, again, sizeof(again), &res2);
	if (g2 != got || memcmp(again, out, (size_t)got))
		fail_msg("%s %s: not idempotent: %.*s", sl_path_mode_str(m), r->in,
			 g2 < 0 ? 0 : (int)g2, again);

	/* a buffer of the result's size gives that result or 414 (the path
	 * is written before ".." and merged slashes shorten it), never
	 * anything else; one byte less is 414 */
	g2 = sl_path_normalize(m, r->in, n, again, (size_t)got, &res2);
	if (g2 != got && !(g2 == -EBADMSG && res2.reason == SL_PATH_E_TOO_LONG))
		fail_msg("%s %s: exact buffer: %zd %s", sl_path_mode_str(m), r->in, g2,
			 sl_path_reason_str(res2.reason));
	if (g2 == got)
		assert_memory_equal(again, out, (size_t)got);
	g2 = sl_path_normalize(m, r->in, n, again, (size_t)got - 1, &res2);
	assert_int_equal(g2, -EBADMSG);
	assert_int_equal(res2.reason, SL_PATH_E_TOO_LONG);
	assert_int_equal(res2.status, 414);
}

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		for (int m = 0; m < NM; m++)
			check_row(&rows[i], (enum sl_path_mode)m);
}

/* NUL bytes: refused in every mode, as %00 */
static void test_nul_byte(void **state)
{
	static const char in[] = "/a\0b";
	struct sl_path_result res;
	char out[32];

	(void)state;
	for (int m = 0; m < NM; m++) {
		assert_int_equal(sl_path_normalize(m, in, sizeof(in) - 1, out, sizeof(out), &res),
				 -EBADMSG);
		assert_int_equal(res.reason, SL_PATH_E_NUL);
		assert_int_equal(res.err_pos, 2);
	}
}

/* growth is bounded by SL_PATH_OUT_MAX: every byte escaped */
static void test_growth(void **state)
{
	static const char in[] = "/<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<";
	char out[SL_PATH_OUT_MAX(sizeof(in) - 1)];
	struct sl_path_result res;
	ssize_t got;

	(void)state;
	got = sl_path_normalize(SL_PATH_BASE, in, sizeof(in) - 1, out, sizeof(out), &res);
	assert_int_equal(got, 1 + 3 * (sizeof(in) - 2));
	assert_memory_equal(out, "/%3C%3C", 7);
}

static void test_modes_and_args(void **state)
{
	struct sl_path_result res;
	char out[8];

	(void)state;
	assert_int_equal(sl_path_mode_parse("NONE"), SL_PATH_NONE);
	assert_int_equal(sl_path_mode_parse("BASE"), SL_PATH_BASE);
	assert_int_equal(sl_path_mode_parse("DEFAULT"), SL_PATH_BASE);
	assert_int_equal(sl_path_mode_parse("MERGE_SLASHES"), SL_PATH_MERGE_SLASHES);
	assert_int_equal(sl_path_mode_parse("DECODE_AND_MERGE_SLASHES"),
			 SL_PATH_DECODE_AND_MERGE_SLASHES);
	assert_int_equal(sl_path_mode_parse("base"), -EINVAL);
	assert_int_equal(sl_path_mode_parse(NULL), -EINVAL);
	assert_string_equal(sl_path_mode_str(SL_PATH_MERGE_SLASHES), "MERGE_SLASHES");
	assert_string_equal(sl_path_reason_str(SL_PATH_E__COUNT), "?");
	assert_int_equal(sl_path_normalize(SL_PATH_MODE__COUNT, "/", 1, out, 8, &res), -EINVAL);
	assert_int_equal(sl_path_normalize(SL_PATH_BASE, NULL, 1, out, 8, &res), -EINVAL);
	assert_int_equal(sl_path_normalize(SL_PATH_BASE, "/", 1, NULL, 8, &res), -EINVAL);
	assert_int_equal(sl_path_normalize(SL_PATH_BASE, "/", 1, out, 8, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_modes_and_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

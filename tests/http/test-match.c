/* SPDX-License-Identifier: Apache-2.0 */
/* Request matching (http/match.c) and its RE2 shim (http/re.cc): every
 * StringMatch kind on uri (exact and regex without the query, prefix on
 * the whole :path, ignoreUriCase), scheme, method, authority, headers
 * (names case-insensitive, repeated ones joined by ","), withoutHeaders,
 * queryParams (first occurrence, raw value, edge cases), port,
 * sourceLabels, sourceNamespace, AND within a block and OR over blocks;
 * regex compile errors and a pathological pattern that must return. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/match.h"
#include "http/re.h"

struct req {
	char buf[4096];
	struct sl_h1_msg msg;
	struct sl_http_req_view v;
};

/* parse @head (a full request head) into @r and build the view */
static void req_init(struct req *r, const char *head)
{
	size_t len = strlen(head);

	assert_true(len < sizeof(r->buf));
	memcpy(r->buf, head, len);
	sl_h1_msg_init(&r->msg, NULL);
	assert_int_equal(sl_h1_parse_request(&r->msg, r->buf, len),
			 (ssize_t)len);
	memset(&r->v, 0, sizeof(r->v));
	r->v.buf = r->buf;
	r->v.msg = &r->msg;
	r->v.method = r->buf + r->msg.method.off;
	r->v.method_len = r->msg.method.len;
	r->v.path = r->buf + r->msg.target.off;
	r->v.path_len = r->msg.target.len;
	r->v.authority = r->buf + r->msg.hdr[r->msg.host].value.off;
	r->v.authority_len = r->msg.hdr[r->msg.host].value.len;
	r->v.scheme = "http";
	r->v.port = 9080;
}

static struct sl_str_match sm(enum sl_str_match_kind k, const char *v)
{
	struct sl_str_match m = { .kind = k, .value = v, .len = strlen(v) };

	if (k == SL_SM_REGEX)
		assert_int_equal(sl_re_compile(v, &m.re, NULL, 0), 0);
	return m;
}

static void sm_free(struct sl_str_match *m)
{
	sl_re_free(m->re);
	m->re = NULL;
}

/* one uri condition on @path */
static bool uri_is(const char *path, enum sl_str_match_kind k, const char *v,
		   bool icase)
{
	struct sl_http_match m = { .uri = sm(k, v), .ignore_uri_case = icase };
	char head[512];
	struct req r;
	bool ret;

	snprintf(head, sizeof(head), "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", path);
	req_init(&r, head);
	ret = sl_http_match_eval(&m, &r.v);
	sm_free(&m.uri);
	return ret;
}

static void test_uri(void **state)
{
	(void)state;
	/* exact: the path without the query */
	assert_true(uri_is("/reviews", SL_SM_EXACT, "/reviews", false));
	assert_true(uri_is("/reviews?x=1", SL_SM_EXACT, "/reviews", false));
	assert_false(uri_is("/reviews/1", SL_SM_EXACT, "/reviews", false));
	assert_false(uri_is("/Reviews", SL_SM_EXACT, "/reviews", false));
	assert_true(uri_is("/Reviews?Q", SL_SM_EXACT, "/reviews", true));
	/* prefix: the whole :path, query included */
	assert_true(uri_is("/reviews/1", SL_SM_PREFIX, "/reviews", false));
	assert_true(uri_is("/a?b=c", SL_SM_PREFIX, "/a?b", false));
	assert_false(uri_is("/rev", SL_SM_PREFIX, "/reviews", false));
	assert_false(uri_is("/REVIEWS/1", SL_SM_PREFIX, "/reviews", false));
	assert_true(uri_is("/REVIEWS/1", SL_SM_PREFIX, "/reviews", true));
	/* regex: full match of the path without query; ignoreUriCase does
	 * not apply to it (Envoy) */
	assert_true(uri_is("/reviews/42", SL_SM_REGEX, "/reviews/[0-9]+", false));
	assert_true(uri_is("/reviews/42?v=1", SL_SM_REGEX, "/reviews/[0-9]+", false));
	assert_false(uri_is("/reviews/42/x", SL_SM_REGEX, "/reviews/[0-9]+", false));
	assert_false(uri_is("/x/reviews/42", SL_SM_REGEX, "/reviews/[0-9]+", false));
	assert_false(uri_is("/REVIEWS/42", SL_SM_REGEX, "/reviews/[0-9]+", true));
}

static bool field_is(const char *head, int which, enum sl_str_match_kind k,
		     const char *v)
{
	struct sl_http_match m = { 0 };
	struct sl_str_match *f = which == 0 ? &m.method :
				 which == 1 ? &m.authority : &m.scheme;
	struct req r;
	bool ret;

	*f = sm(k, v);
	req_init(&r, head);
	ret = sl_http_match_eval(&m, &r.v);
	sm_free(f);
	return ret;
}

static void test_method_authority_scheme(void **state)
{
	const char *get = "GET / HTTP/1.1\r\nHost: reviews:9080\r\n\r\n";
	const char *post = "POST / HTTP/1.1\r\nHost: Reviews\r\ncontent-length: 0\r\n\r\n";

	(void)state;
	assert_true(field_is(get, 0, SL_SM_EXACT, "GET"));
	assert_false(field_is(get, 0, SL_SM_EXACT, "get")); /* case matters */
	assert_false(field_is(post, 0, SL_SM_EXACT, "GET"));
	assert_true(field_is(post, 0, SL_SM_PREFIX, "PO"));
	assert_true(field_is(post, 0, SL_SM_REGEX, "GET|POST"));
	assert_false(field_is(post, 0, SL_SM_REGEX, "GET|PUT"));
	assert_true(field_is(get, 1, SL_SM_EXACT, "reviews:9080"));
	assert_false(field_is(get, 1, SL_SM_EXACT, "reviews"));
	assert_true(field_is(get, 1, SL_SM_PREFIX, "reviews"));
	assert_true(field_is(get, 1, SL_SM_REGEX, "reviews(:9080)?"));
	assert_false(field_is(post, 1, SL_SM_EXACT, "reviews"));
	assert_true(field_is(get, 2, SL_SM_EXACT, "http"));
	assert_false(field_is(get, 2, SL_SM_EXACT, "https"));
	assert_true(field_is(get, 2, SL_SM_PREFIX, "ht"));
	assert_true(field_is(get, 2, SL_SM_REGEX, "https?"));
}

/* headers[name] (@neg: withoutHeaders) on request @head */
static bool hdr_is(const char *head, bool neg, const char *name,
		   enum sl_str_match_kind k, const char *v)
{
	struct sl_http_kv_match kv = { .name = name, .m = sm(k, v) };
	struct sl_http_match m = { 0 };
	struct req r;
	bool ret;

	if (neg) {
		m.without_headers = &kv;
		m.n_without_headers = 1;
	} else {
		m.headers = &kv;
		m.n_headers = 1;
	}
	req_init(&r, head);
	ret = sl_http_match_eval(&m, &r.v);
	sm_free(&kv.m);
	return ret;
}

static void test_headers(void **state)
{
	const char *canary = "GET / HTTP/1.1\r\nHost: a\r\nX-Canary: true\r\n\r\n";
	const char *none = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	const char *rep = "GET / HTTP/1.1\r\nHost: a\r\nx-tag: a\r\nX-Other: z\r\nX-TAG: b\r\n\r\n";
	char big[4000];

	(void)state;
	/* names case-insensitive both ways, values case-sensitive */
	assert_true(hdr_is(canary, false, "x-canary", SL_SM_EXACT, "true"));
	assert_true(hdr_is(canary, false, "X-CANARY", SL_SM_EXACT, "true"));
	assert_false(hdr_is(canary, false, "x-canary", SL_SM_EXACT, "True"));
	assert_false(hdr_is(canary, false, "x-canary", SL_SM_EXACT, "tru"));
	assert_true(hdr_is(canary, false, "x-canary", SL_SM_PREFIX, "tr"));
	assert_true(hdr_is(canary, false, "x-canary", SL_SM_REGEX, "t.*e"));
	assert_false(hdr_is(canary, false, "x-canary", SL_SM_REGEX, "t"));
	/* a header that is absent never matches, even ".*" */
	assert_false(hdr_is(none, false, "x-canary", SL_SM_REGEX, ".*"));
	assert_false(hdr_is(none, false, "x-canary", SL_SM_EXACT, ""));
	/* a name that is a prefix of a sent one is another header */
	assert_false(hdr_is(canary, false, "x-can", SL_SM_PREFIX, ""));
	/* repeated: the values joined by "," in order */
	assert_true(hdr_is(rep, false, "x-tag", SL_SM_EXACT, "a,b"));
	assert_false(hdr_is(rep, false, "x-tag", SL_SM_EXACT, "a"));
	assert_true(hdr_is(rep, false, "x-tag", SL_SM_PREFIX, "a,"));
	assert_true(hdr_is(rep, false, "x-tag", SL_SM_REGEX, "a,b"));
	/* withoutHeaders: absent, or present with a value that does not match */
	assert_true(hdr_is(none, true, "x-canary", SL_SM_EXACT, "true"));
	assert_false(hdr_is(canary, true, "x-canary", SL_SM_EXACT, "true"));
	assert_true(hdr_is(canary, true, "x-canary", SL_SM_EXACT, "false"));
	assert_false(hdr_is(canary, true, "X-Canary", SL_SM_REGEX, ".*"));
	assert_false(hdr_is(rep, true, "x-tag", SL_SM_EXACT, "a,b"));
	/* Istio's "{}": present, whatever the value (even empty) */
	assert_true(hdr_is(canary, false, "x-canary", SL_SM_PRESENT, ""));
	assert_true(hdr_is(rep, false, "X-Tag", SL_SM_PRESENT, ""));
	assert_false(hdr_is(none, false, "x-canary", SL_SM_PRESENT, ""));
	assert_true(hdr_is("GET / HTTP/1.1\r\nHost: a\r\nx-e:\r\n\r\n", false,
			   "x-e", SL_SM_PRESENT, ""));
	assert_false(hdr_is(canary, true, "x-canary", SL_SM_PRESENT, ""));
	assert_true(hdr_is(none, true, "x-canary", SL_SM_PRESENT, ""));
	/* repeated values longer than the stack buffer are joined on the heap */
	{
		char va[1500], vb[1500], want[3002];

		memset(va, 'a', sizeof(va) - 1);
		va[sizeof(va) - 1] = '\0';
		memset(vb, 'b', sizeof(vb) - 1);
		vb[sizeof(vb) - 1] = '\0';
		snprintf(big, sizeof(big),
			 "GET / HTTP/1.1\r\nHost: a\r\nx-l: %s\r\nx-l: %s\r\n\r\n",
			 va, vb);
		snprintf(want, sizeof(want), "%s,%s", va, vb);
		assert_true(hdr_is(big, false, "x-l", SL_SM_EXACT, want));
		assert_true(hdr_is(big, false, "x-l", SL_SM_REGEX, "a+,b+"));
		assert_false(hdr_is(big, false, "x-l", SL_SM_REGEX, "a+"));
	}
}

static bool query_is(const char *path, const char *name,
		     enum sl_str_match_kind k, const char *v)
{
	struct sl_http_kv_match kv = { .name = name, .m = sm(k, v) };
	struct sl_http_match m = { .query = &kv, .n_query = 1 };
	char head[512];
	struct req r;
	bool ret;

	snprintf(head, sizeof(head), "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", path);
	req_init(&r, head);
	ret = sl_http_match_eval(&m, &r.v);
	sm_free(&kv.m);
	return ret;
}

static void test_query(void **state)
{
	const char *v;
	size_t n;

	(void)state;
	/* no query at all */
	assert_false(query_is("/p", "a", SL_SM_EXACT, ""));
	assert_false(query_is("/p?", "a", SL_SM_EXACT, ""));
	assert_true(query_is("/p?a=1", "a", SL_SM_EXACT, "1"));
	assert_false(query_is("/p?a=1", "a", SL_SM_EXACT, "2"));
	/* empty value: "a=" and a bare "a" both have the value "" */
	assert_true(query_is("/p?a=", "a", SL_SM_EXACT, ""));
	assert_true(query_is("/p?b=2&a", "a", SL_SM_EXACT, ""));
	assert_false(query_is("/p?a", "a", SL_SM_EXACT, "1"));
	/* the first occurrence counts */
	assert_true(query_is("/p?a=1&a=2", "a", SL_SM_EXACT, "1"));
	assert_false(query_is("/p?a=1&a=2", "a", SL_SM_EXACT, "2"));
	assert_false(query_is("/p?a=1&a=2", "a", SL_SM_EXACT, "1,2"));
	/* names compare whole and case-sensitively */
	assert_false(query_is("/p?ab=1", "a", SL_SM_EXACT, "1"));
	assert_false(query_is("/p?A=1", "a", SL_SM_EXACT, "1"));
	assert_true(query_is("/p?x=0&&a=1", "a", SL_SM_EXACT, "1"));
	/* the raw value: percent signs are not decoded */
	assert_true(query_is("/p?a=%41%20b", "a", SL_SM_EXACT, "%41%20b"));
	assert_false(query_is("/p?a=%41", "a", SL_SM_EXACT, "A"));
	assert_true(query_is("/p?a=100%", "a", SL_SM_REGEX, "[0-9]+%"));
	assert_true(query_is("/p?a=x=y", "a", SL_SM_EXACT, "x=y"));
	assert_true(query_is("/p?a=abc", "a", SL_SM_PREFIX, "ab"));
	assert_false(query_is("/p?a=abc", "a", SL_SM_REGEX, "ab"));
	/* "{}": present, any value */
	assert_true(query_is("/p?a", "a", SL_SM_PRESENT, ""));
	assert_true(query_is("/p?b=1&a=x", "a", SL_SM_PRESENT, ""));
	assert_false(query_is("/p?b=1", "a", SL_SM_PRESENT, ""));
	assert_false(query_is("/p", "a", SL_SM_PRESENT, ""));
	/* the helper itself */
	assert_true(sl_http_query_param("/p?k=v", 6, "k", &v, &n));
	assert_int_equal(n, 1);
	assert_memory_equal(v, "v", 1);
	assert_false(sl_http_query_param(NULL, 0, "k", &v, &n));
	/* a '?' past the given length is not seen */
	assert_false(sl_http_query_param("/p?k=v", 2, "k", &v, &n));
}

static void test_port_source(void **state)
{
	static const struct sl_label want[] = { { "app", "productpage" },
						{ "version", "v1" } };
	static const struct sl_label have[] = { { "version", "v1" },
						{ "app", "productpage" },
						{ "x", "y" } };
	struct sl_http_match m = { .port = 9080 };
	struct req r;

	(void)state;
	req_init(&r, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_true(sl_http_match_eval(&m, &r.v));
	r.v.port = 9081;
	assert_false(sl_http_match_eval(&m, &r.v));
	memset(&m, 0, sizeof(m));
	m.src_labels = want;
	m.n_src_labels = 2;
	assert_false(sl_http_match_eval(&m, &r.v)); /* no source labels */
	r.v.src_labels = have;
	r.v.n_src_labels = 3;
	assert_true(sl_http_match_eval(&m, &r.v));
	r.v.n_src_labels = 1; /* only version */
	assert_false(sl_http_match_eval(&m, &r.v));
	memset(&m, 0, sizeof(m));
	m.src_ns = "default";
	assert_false(sl_http_match_eval(&m, &r.v));
	r.v.src_ns = "prod";
	assert_false(sl_http_match_eval(&m, &r.v));
	r.v.src_ns = "default";
	assert_true(sl_http_match_eval(&m, &r.v));
}

/* every condition of a block must hold; any block of match[] will do */
static void test_and_or(void **state)
{
	struct sl_http_kv_match kv = { .name = "end-user",
				       .m = { .kind = SL_SM_EXACT,
					      .value = "jason", .len = 5 } };
	struct sl_http_match blocks[2] = {
		{ .uri = { .kind = SL_SM_PREFIX, .value = "/a", .len = 2 },
		  .headers = &kv, .n_headers = 1 },
		{ .method = { .kind = SL_SM_EXACT, .value = "PUT", .len = 3 } },
	};
	struct req r;

	(void)state;
	req_init(&r, "GET /a HTTP/1.1\r\nHost: a\r\nend-user: jason\r\n\r\n");
	assert_true(sl_http_match_eval(&blocks[0], &r.v));
	req_init(&r, "GET /a HTTP/1.1\r\nHost: a\r\nend-user: bob\r\n\r\n");
	assert_false(sl_http_match_eval(&blocks[0], &r.v));
	assert_false(sl_http_match_any(blocks, 2, &r.v));
	assert_true(sl_http_match_any(blocks, 0, &r.v)); /* no match[] */
	req_init(&r, "PUT /b HTTP/1.1\r\nHost: a\r\ncontent-length: 0\r\n\r\n");
	assert_false(sl_http_match_eval(&blocks[0], &r.v));
	assert_true(sl_http_match_any(blocks, 2, &r.v));
	/* a zeroed block matches everything */
	memset(&blocks[0], 0, sizeof(blocks[0]));
	assert_true(sl_http_match_eval(&blocks[0], &r.v));
}

static void test_re(void **state)
{
	struct sl_re *re = NULL;
	char err[256], *s, *big;
	const size_t n = 100000;

	(void)state;
	/* bad patterns: -EINVAL with RE2's message, nothing allocated */
	assert_int_equal(sl_re_compile("(a", &re, err, sizeof(err)), -EINVAL);
	assert_null(re);
	assert_non_null(strstr(err, "missing )"));
	assert_int_equal(sl_re_compile("a**", &re, err, sizeof(err)), -EINVAL);
	assert_int_equal(sl_re_compile("(?<n>a)", &re, err, sizeof(err)), -EINVAL);
	/* backreferences are not RE2 */
	assert_int_equal(sl_re_compile("(a)\\1", &re, err, sizeof(err)), -EINVAL);
	/* RE2's own bound on counted repetition */
	assert_int_equal(sl_re_compile("((((a{100}){100}){100}){100})", &re,
				       err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "invalid repetition size"));
	assert_null(re);
	/* over the memory budget (SL_RE_MAX_MEM, about Istio's limit of
	 * 32768 RE2 instructions): a config error, not a slow matcher */
	{
		char pat[512] = "";

		for (int i = 0; i < 20; i++)
			strcat(pat, "[a-z]{1000}");
		assert_int_equal(sl_re_compile(pat, &re, err, sizeof(err)), 0);
		sl_re_free(re);
		assert_int_equal(sl_re_compile("\\pL{1000}", &re, err,
					       sizeof(err)), -EINVAL);
		assert_string_equal(err, "pattern too large - compile failed");
		assert_null(re);
	}
	/* full match; NUL bytes in the subject are bytes */
	assert_int_equal(sl_re_compile("a.c", &re, err, sizeof(err)), 0);
	assert_true(sl_re_full_match(re, "abc", 3));
	assert_false(sl_re_full_match(re, "abcd", 4));
	assert_false(sl_re_full_match(re, "xabc", 4));
	assert_false(sl_re_full_match(re, "a\nc", 3)); /* . excludes \n */
	assert_true(sl_re_full_match(re, "abcd", 3)); /* length, not NUL */
	sl_re_free(re);
	assert_false(sl_re_full_match(NULL, "x", 1));
	sl_re_free(NULL);
	/* (a+)+$ over 100k 'a' then 'b': exponential for a backtracking
	 * engine, linear in RE2; it returns (no timing assertion) */
	assert_int_equal(sl_re_compile("(a+)+$", &re, err, sizeof(err)), 0);
	big = malloc(n + 2);
	assert_non_null(big);
	memset(big, 'a', n);
	big[n] = 'b';
	big[n + 1] = '\0';
	assert_false(sl_re_full_match(re, big, n + 1));
	assert_true(sl_re_full_match(re, big, n));
	sl_re_free(re);
	assert_int_equal(sl_re_compile("(x+x+)+y", &re, err, sizeof(err)), 0);
	s = big;
	memset(s, 'x', n);
	assert_false(sl_re_full_match(re, s, n));
	sl_re_free(re);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uri),
		cmocka_unit_test(test_method_authority_scheme),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_port_source),
		cmocka_unit_test(test_and_or),
		cmocka_unit_test(test_re),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP/1.1 head parser and chunked decoder (http/h1.c): the smuggling and
 * abuse table of issue 26 row by row (exact status and reason), good
 * requests and responses, framing flags, the hop-by-hop helper.  Every
 * input is also fed one byte at a time and split at every byte boundary;
 * the result must not change. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/h1.h"

#define LIT(s) s, sizeof(s) - 1

/* what a parse ended with, to compare the ways of feeding */
struct result {
	ssize_t ret;
	enum sl_h1_reason reason;
	int err_status;
	size_t err_pos;
	enum sl_h1_state err_state;
	enum sl_h1_body body;
	unsigned flags;
	size_t nhdr;
	uint64_t clen;
};

static void snap(const struct sl_h1_msg *m, ssize_t ret, struct result *r)
{
	memset(r, 0, sizeof(*r));
	r->ret = ret;
	r->reason = m->reason;
	r->err_status = m->err_status;
	r->err_pos = m->err_pos;
	r->err_state = m->err_state;
	if (ret > 0) {
		r->body = m->body;
		r->flags = m->flags;
		r->nhdr = m->nhdr;
		r->clen = m->content_length;
	}
}

static ssize_t feed(struct sl_h1_msg *m, bool resp, enum sl_h1_method rm,
		    const char *buf, size_t len)
{
	return resp ? sl_h1_parse_response(m, buf, len, rm) :
		      sl_h1_parse_request(m, buf, len);
}

static void assert_same(const struct result *a, const struct result *b)
{
	assert_int_equal(a->ret, b->ret);
	assert_int_equal(a->reason, b->reason);
	assert_int_equal(a->err_status, b->err_status);
	assert_int_equal(a->err_pos, b->err_pos);
	assert_int_equal(a->err_state, b->err_state);
	assert_int_equal(a->body, b->body);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->nhdr, b->nhdr);
	assert_int_equal(a->clen, b->clen);
}

/* parse @buf whole into @m; check that byte-at-a-time and every two-part
 * split give the same result */
static ssize_t parse_all_ways(struct sl_h1_msg *m, bool resp,
			      enum sl_h1_method rm, const char *buf, size_t len,
			      const struct sl_h1_limits *lim)
{
	struct sl_h1_msg *t = malloc(sizeof(*t));
	struct result whole, other;
	ssize_t ret, r = 0;

	assert_non_null(t);
	sl_h1_msg_init(m, lim);
	ret = feed(m, resp, rm, buf, len);
	snap(m, ret, &whole);
	/* the same call again gives the same answer */
	assert_int_equal(feed(m, resp, rm, buf, len), ret);

	sl_h1_msg_init(t, lim);
	for (size_t n = 0; n <= len; n++) {
		r = feed(t, resp, rm, buf, n);
		if (r != 0)
			break;
	}
	snap(t, r, &other);
	assert_same(&whole, &other);

	/* a long input: two-part splits at a stride keep the test fast */
	size_t step = len > 4096 ? 997 : 1;

	for (size_t k = 0; k <= len; k += step) {
		sl_h1_msg_init(t, lim);
		r = feed(t, resp, rm, buf, k);
		if (r == 0)
			r = feed(t, resp, rm, buf, len);
		snap(t, r, &other);
		assert_same(&whole, &other);
	}
	free(t);
	return ret;
}

struct bad_row {
	const char *name;
	const char *in;
	size_t len;
	int status;
	enum sl_h1_reason reason;
};

#define BAD(n, s, st, r) { n, LIT(s), st, r }
#define H11 "Host: a\r\n"

static const struct bad_row bad_requests[] = {
	BAD("te+cl", "POST / HTTP/1.1\r\n" H11 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
	    400, SL_H1_E_TE_AND_CL),
	BAD("cl+te", "POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
	    400, SL_H1_E_TE_AND_CL),
	BAD("two cl differ", "POST / HTTP/1.1\r\n" H11 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n",
	    400, SL_H1_E_CL_DUPLICATE),
	BAD("two cl equal", "POST / HTTP/1.1\r\n" H11 "Content-Length: 5\r\nContent-Length: 5\r\n\r\n",
	    400, SL_H1_E_CL_DUPLICATE),
	BAD("cl list", "POST / HTTP/1.1\r\n" H11 "Content-Length: 5, 5\r\n\r\n",
	    400, SL_H1_E_CL_DUPLICATE),
	BAD("cl empty", "POST / HTTP/1.1\r\n" H11 "Content-Length:\r\n\r\n",
	    400, SL_H1_E_CL_EMPTY),
	BAD("cl blank", "POST / HTTP/1.1\r\n" H11 "Content-Length:   \r\n\r\n",
	    400, SL_H1_E_CL_EMPTY),
	BAD("cl plus", "POST / HTTP/1.1\r\n" H11 "Content-Length: +5\r\n\r\n",
	    400, SL_H1_E_CL_INVALID),
	BAD("cl minus", "POST / HTTP/1.1\r\n" H11 "Content-Length: -1\r\n\r\n",
	    400, SL_H1_E_CL_INVALID),
	BAD("cl hex", "POST / HTTP/1.1\r\n" H11 "Content-Length: 0x10\r\n\r\n",
	    400, SL_H1_E_CL_INVALID),
	BAD("cl letters", "POST / HTTP/1.1\r\n" H11 "Content-Length: 5a\r\n\r\n",
	    400, SL_H1_E_CL_INVALID),
	BAD("cl inner space", "POST / HTTP/1.1\r\n" H11 "Content-Length: 5 5\r\n\r\n",
	    400, SL_H1_E_CL_INVALID),
	BAD("cl overflow 2^63", "POST / HTTP/1.1\r\n" H11 "Content-Length: 9223372036854775808\r\n\r\n",
	    400, SL_H1_E_CL_OVERFLOW),
	BAD("cl overflow 20 digits", "POST / HTTP/1.1\r\n" H11 "Content-Length: 99999999999999999999\r\n\r\n",
	    400, SL_H1_E_CL_OVERFLOW),
	BAD("te chunked,gzip", "POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: chunked, gzip\r\n\r\n",
	    400, SL_H1_E_TE_NOT_CHUNKED),
	BAD("te gzip", "POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: gzip\r\n\r\n",
	    400, SL_H1_E_TE_NOT_CHUNKED),
	BAD("te xchunked", "POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: xchunked\r\n\r\n",
	    400, SL_H1_E_TE_NOT_CHUNKED),
	BAD("te chunkedx", "POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: chunkedx\r\n\r\n",
	    400, SL_H1_E_TE_NOT_CHUNKED),
	BAD("te identity", "POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: identity\r\n\r\n",
	    400, SL_H1_E_TE_NOT_CHUNKED),
	BAD("te chunked,chunked", "POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: chunked, chunked\r\n\r\n",
	    400, SL_H1_E_TE_CHUNKED_TWICE),
	BAD("te twice fields", "POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
	    400, SL_H1_E_TE_CHUNKED_TWICE),
	BAD("te chunked then gzip field", "POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
	    400, SL_H1_E_TE_NOT_CHUNKED),
	BAD("te gzip,chunked", "POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: gzip, chunked\r\n\r\n",
	    501, SL_H1_E_TE_UNSUPPORTED),
	BAD("te empty", "POST / HTTP/1.1\r\n" H11 "Transfer-Encoding:\r\n\r\n",
	    400, SL_H1_E_TE_INVALID),
	BAD("te trailing comma", "POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: chunked,\r\n\r\n",
	    400, SL_H1_E_TE_INVALID),
	BAD("te param", "POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: chunked;q=1\r\n\r\n",
	    400, SL_H1_E_TE_INVALID),
	BAD("te quoted", "POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: \"chunked\"\r\n\r\n",
	    400, SL_H1_E_TE_INVALID),
	BAD("te vertical tab", "POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: \x0b" "chunked\r\n\r\n",
	    400, SL_H1_E_VALUE_CTL),
	BAD("te in http/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
	    400, SL_H1_E_TE_HTTP10),
	BAD("obs-fold", "GET / HTTP/1.1\r\n" H11 "X-A: b\r\n c\r\n\r\n",
	    400, SL_H1_E_OBS_FOLD),
	BAD("obs-fold tab", "GET / HTTP/1.1\r\n" H11 "X-A: b\r\n\tc\r\n\r\n",
	    400, SL_H1_E_OBS_FOLD),
	BAD("space before first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n",
	    400, SL_H1_E_OBS_FOLD),
	BAD("space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
	    400, SL_H1_E_NAME_WS),
	BAD("tab before colon", "POST / HTTP/1.1\r\n" H11 "Content-Length\t: 5\r\n\r\n",
	    400, SL_H1_E_NAME_WS),
	BAD("space in name", "GET / HTTP/1.1\r\n" H11 "X A: b\r\n\r\n",
	    400, SL_H1_E_NAME_WS),
	BAD("nul in value", "GET / HTTP/1.1\r\n" H11 "X-A: b\0c\r\n\r\n",
	    400, SL_H1_E_VALUE_NUL),
	BAD("bare cr in value", "GET / HTTP/1.1\r\n" H11 "X-A: b\rc\r\n\r\n",
	    400, SL_H1_E_VALUE_CR),
	BAD("lf in value", "GET / HTTP/1.1\r\n" H11 "X-A: b\nc\r\n\r\n",
	    400, SL_H1_E_BARE_LF),
	BAD("ctl in value", "GET / HTTP/1.1\r\n" H11 "X-A: b\x01" "c\r\n\r\n",
	    400, SL_H1_E_VALUE_CTL),
	BAD("del in value", "GET / HTTP/1.1\r\n" H11 "X-A: b\x7f\r\n\r\n",
	    400, SL_H1_E_VALUE_CTL),
	BAD("empty name", "GET / HTTP/1.1\r\n" H11 ": b\r\n\r\n",
	    400, SL_H1_E_NAME_EMPTY),
	BAD("bad name char", "GET / HTTP/1.1\r\n" H11 "X(A): b\r\n\r\n",
	    400, SL_H1_E_NAME_CHAR),
	BAD("non-ascii name", "GET / HTTP/1.1\r\n" H11 "X\xc3\xa9: b\r\n\r\n",
	    400, SL_H1_E_NAME_CHAR),
	BAD("no colon", "GET / HTTP/1.1\r\n" H11 "X-A\r\n\r\n",
	    400, SL_H1_E_NO_COLON),
	BAD("bad method char", "G(T / HTTP/1.1\r\n" H11 "\r\n",
	    400, SL_H1_E_METHOD),
	BAD("nul method", "G\0T / HTTP/1.1\r\n" H11 "\r\n",
	    400, SL_H1_E_METHOD),
	BAD("leading space", " GET / HTTP/1.1\r\n" H11 "\r\n",
	    400, SL_H1_E_METHOD),
	BAD("tab separator", "GET\t/ HTTP/1.1\r\n" H11 "\r\n",
	    400, SL_H1_E_METHOD),
	BAD("empty request line", "\r\nGET / HTTP/1.1\r\n" H11 "\r\n",
	    400, SL_H1_E_START_LINE),
	BAD("http/0.9 line", "GET /\r\n\r\n",
	    400, SL_H1_E_START_LINE),
	BAD("double space", "GET  / HTTP/1.1\r\n" H11 "\r\n",
	    400, SL_H1_E_TARGET),
	BAD("ctl in target", "GET /a\x01 HTTP/1.1\r\n" H11 "\r\n",
	    400, SL_H1_E_TARGET),
	BAD("non-ascii target", "GET /\xc3\xa9 HTTP/1.1\r\n" H11 "\r\n",
	    400, SL_H1_E_TARGET),
	BAD("http/2.0", "GET / HTTP/2.0\r\n" H11 "\r\n",
	    505, SL_H1_E_VERSION_UNSUPPORTED),
	BAD("http/1.2", "GET / HTTP/1.2\r\n" H11 "\r\n",
	    505, SL_H1_E_VERSION_UNSUPPORTED),
	BAD("http/0.9", "GET / HTTP/0.9\r\n" H11 "\r\n",
	    505, SL_H1_E_VERSION_UNSUPPORTED),
	BAD("http/1.10", "GET / HTTP/1.10\r\n" H11 "\r\n",
	    400, SL_H1_E_VERSION),
	BAD("lower-case version", "GET / http/1.1\r\n" H11 "\r\n",
	    400, SL_H1_E_VERSION),
	BAD("space after version", "GET / HTTP/1.1 \r\n" H11 "\r\n",
	    400, SL_H1_E_VERSION),
	BAD("absolute host mismatch", "GET http://evil.example/ HTTP/1.1\r\nHost: good.example\r\n\r\n",
	    400, SL_H1_E_HOST_MISMATCH),
	BAD("absolute port mismatch", "GET http://a:8080/x HTTP/1.1\r\nHost: a\r\n\r\n",
	    400, SL_H1_E_HOST_MISMATCH),
	BAD("absolute userinfo", "GET http://a@evil/ HTTP/1.1\r\nHost: evil\r\n\r\n",
	    400, SL_H1_E_TARGET_FORM),
	BAD("connect host mismatch", "CONNECT a:443 HTTP/1.1\r\nHost: b:443\r\n\r\n",
	    400, SL_H1_E_HOST_MISMATCH),
	BAD("connect origin form", "CONNECT / HTTP/1.1\r\n" H11 "\r\n",
	    400, SL_H1_E_TARGET_FORM),
	BAD("connect no port", "CONNECT a HTTP/1.1\r\nHost: a\r\n\r\n",
	    400, SL_H1_E_TARGET_FORM),
	BAD("asterisk with GET", "GET * HTTP/1.1\r\n" H11 "\r\n",
	    400, SL_H1_E_TARGET_FORM),
	BAD("authority form with GET", "GET a:80 HTTP/1.1\r\n" H11 "\r\n",
	    400, SL_H1_E_TARGET_FORM),
	BAD("missing host", "GET / HTTP/1.1\r\n\r\n",
	    400, SL_H1_E_HOST_MISSING),
	BAD("two host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	    400, SL_H1_E_HOST_DUPLICATE),
	BAD("two host equal", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n",
	    400, SL_H1_E_HOST_DUPLICATE),
	BAD("host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
	    400, SL_H1_E_HOST_INVALID),
	BAD("host with slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
	    400, SL_H1_E_HOST_INVALID),
	BAD("host with at", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n",
	    400, SL_H1_E_HOST_INVALID),
	BAD("lf only", "GET / HTTP/1.1\n" "Host: a\n\n",
	    400, SL_H1_E_BARE_LF),
	BAD("lf only after headers", "GET / HTTP/1.1\r\n" H11 "\n",
	    400, SL_H1_E_BARE_LF),
	BAD("lf only on a field", "GET / HTTP/1.1\r\nHost: a\n\r\n",
	    400, SL_H1_E_BARE_LF),
	BAD("bare cr after request line", "GET / HTTP/1.1\rHost: a\r\n\r\n",
	    400, SL_H1_E_VERSION),
	BAD("connection non-token", "GET / HTTP/1.1\r\n" H11 "Connection: close;x\r\n\r\n",
	    400, SL_H1_E_CONNECTION),
};

static void test_bad_requests(void **state)
{
	struct sl_h1_msg *m = malloc(sizeof(*m));

	assert_non_null(m);
	for (size_t i = 0; i < sizeof(bad_requests) / sizeof(bad_requests[0]); i++) {
		const struct bad_row *b = &bad_requests[i];
		ssize_t r = parse_all_ways(m, false, 0, b->in, b->len, NULL);

		if (r != -EBADMSG || m->err_status != b->status ||
		    m->reason != b->reason)
			fail_msg("row '%s': ret %zd status %d reason %s, want %d %s",
				 b->name, r, m->err_status, sl_h1_reason_str(m->reason),
				 b->status, sl_h1_reason_str(b->reason));
		assert_true(m->err_pos <= b->len);
		assert_int_equal(m->state, SL_H1_S_ERROR);
		assert_string_not_equal(sl_h1_reason_str(m->reason), "?");
	}
	free(m);
}

/* where and in which state a message was refused */
static void test_err_pos_state(void **state)
{
	struct sl_h1_msg m;
	const char ws[] = "GET / HTTP/1.1\r\nHost : a\r\n\r\n";
	const char mm[] = "GET http://b/ HTTP/1.1\r\nHost: a\r\n\r\n";
	const char me[] = "G(T / HTTP/1.1\r\n\r\n";

	sl_h1_msg_init(&m, NULL);
	assert_int_equal(sl_h1_parse_request(&m, LIT(ws)), -EBADMSG);
	assert_int_equal(m.err_pos, 20);
	assert_int_equal(m.err_state, SL_H1_S_HEADERS);
	/* refused once, refused again */
	assert_int_equal(sl_h1_parse_request(&m, LIT(ws)), -EBADMSG);

	sl_h1_msg_init(&m, NULL);
	assert_int_equal(sl_h1_parse_request(&m, LIT(mm)), -EBADMSG);
	assert_int_equal(m.err_state, SL_H1_S_SEMANTICS);
	assert_int_equal(m.err_pos, strstr(mm, "Host: a") - mm + 6);

	sl_h1_msg_init(&m, NULL);
	assert_int_equal(sl_h1_parse_request(&m, LIT(me)), -EBADMSG);
	assert_int_equal(m.err_state, SL_H1_S_START_LINE);
	assert_int_equal(m.err_pos, 1);
	assert_string_equal(sl_h1_reason_str(m.reason), "invalid-method");
}

/* builds "GET /<pad> HTTP/1.1\r\nHost: a\r\n" + @nfields fields of @flen
 * bytes each + CRLF into a malloc'ed buffer */
static char *big_request(size_t target_len, size_t nfields, size_t flen, size_t *len)
{
	size_t cap = target_len + nfields * (flen + 16) + 64, n = 0;
	char *b = malloc(cap);

	assert_non_null(b);
	n += (size_t)sprintf(b, "GET /");
	memset(b + n, 'a', target_len - 1);
	n += target_len - 1;
	n += (size_t)sprintf(b + n, " HTTP/1.1\r\nHost: a\r\n");
	for (size_t i = 0; i < nfields; i++) {
		n += (size_t)sprintf(b + n, "X-%05zu: ", i);
		memset(b + n, 'v', flen);
		n += flen;
		b[n++] = '\r';
		b[n++] = '\n';
	}
	b[n++] = '\r';
	b[n++] = '\n';
	*len = n;
	return b;
}

static void test_limits(void **state)
{
	struct sl_h1_msg *m = malloc(sizeof(*m));
	struct sl_h1_limits lim;
	size_t len;
	char *b;

	assert_non_null(m);
	/* request line of exactly 8 KiB with its CRLF: accepted; one more: 414 */
	b = big_request(8192 - 15, 0, 0, &len);
	assert_int_equal(strstr(b, "\r\n") + 2 - b, 8192);
	assert_int_equal(parse_all_ways(m, false, 0, b, len, NULL), (ssize_t)len);
	free(b);
	b = big_request(8192 - 14, 0, 0, &len);
	assert_int_equal(parse_all_ways(m, false, 0, b, len, NULL), -EBADMSG);
	assert_int_equal(m->err_status, 414);
	assert_int_equal(m->reason, SL_H1_E_LINE_TOO_LONG);
	free(b);

	/* 99 fields + Host = 100: accepted; 101: 431 */
	b = big_request(2, 99, 4, &len);
	assert_int_equal(parse_all_ways(m, false, 0, b, len, NULL), (ssize_t)len);
	assert_int_equal(m->nhdr, 100);
	free(b);
	b = big_request(2, 100, 4, &len);
	assert_int_equal(parse_all_ways(m, false, 0, b, len, NULL), -EBADMSG);
	assert_int_equal(m->err_status, 431);
	assert_int_equal(m->reason, SL_H1_E_TOO_MANY_HEADERS);
	free(b);

	/* head of 60 KiB exactly: accepted; one byte more: 431 */
	b = big_request(2, 60, 1000, &len);
	size_t extra = 60 * 1024 - len;

	free(b);
	b = big_request(2 + extra, 60, 1000, &len);
	assert_int_equal(len, 60 * 1024);
	assert_int_equal(parse_all_ways(m, false, 0, b, len, NULL), (ssize_t)len);
	free(b);
	b = big_request(3 + extra, 60, 1000, &len);
	assert_int_equal(parse_all_ways(m, false, 0, b, len, NULL), -EBADMSG);
	assert_int_equal(m->err_status, 431);
	assert_int_equal(m->reason, SL_H1_E_HEAD_TOO_LARGE);
	assert_int_equal(m->err_pos, 60 * 1024);
	free(b);

	/* an endless field line is refused at the limit, before its end */
	b = malloc(70000);
	assert_non_null(b);
	memcpy(b, "GET / HTTP/1.1\r\nX: ", 19);
	memset(b + 19, 'v', 70000 - 19);
	sl_h1_msg_init(m, NULL);
	assert_int_equal(sl_h1_parse_request(m, b, 60 * 1024 - 1), 0);
	assert_int_equal(sl_h1_parse_request(m, b, 60 * 1024), -EBADMSG);
	assert_int_equal(m->err_status, 431);
	free(b);

	/* custom limits; a Content-Length over max_body: 413 */
	sl_h1_limits_default(&lim);
	lim.max_body = 100;
	lim.max_headers = 2;
	const char big[] = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n";
	const char ok[] = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n";
	const char three[] = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n";

	assert_int_equal(parse_all_ways(m, false, 0, LIT(big), &lim), -EBADMSG);
	assert_int_equal(m->err_status, 413);
	assert_int_equal(m->reason, SL_H1_E_BODY_TOO_LARGE);
	assert_int_equal(parse_all_ways(m, false, 0, LIT(ok), &lim), sizeof(ok) - 1);
	assert_int_equal(m->content_length, 100);
	assert_int_equal(parse_all_ways(m, false, 0, LIT(three), &lim), -EBADMSG);
	assert_int_equal(m->err_status, 431);
	free(m);
}

static bool span_is(const char *buf, struct sl_h1_span s, const char *want)
{
	return s.len == strlen(want) && !memcmp(buf + s.off, want, s.len);
}

static void test_get_query(void **state)
{
	struct sl_h1_msg m;
	const char r[] = "GET /p/a?q=1&x=%20 HTTP/1.1\r\nHost: svc.ns:8080\r\n"
			 "User-Agent: t\r\nAccept:  */*  \r\n\r\n";

	assert_int_equal(parse_all_ways(&m, false, 0, LIT(r), NULL), sizeof(r) - 1);
	assert_int_equal(m.state, SL_H1_S_DONE);
	assert_true(span_is(r, m.method, "GET"));
	assert_int_equal(m.meth, SL_H1_M_GET);
	assert_true(span_is(r, m.target, "/p/a?q=1&x=%20"));
	assert_int_equal(m.form, SL_H1_T_ORIGIN);
	assert_int_equal(m.version, 11);
	assert_int_equal(m.nhdr, 3);
	assert_int_equal(m.host, 0);
	assert_true(span_is(r, m.hdr[0].value, "svc.ns:8080"));
	assert_true(span_is(r, m.hdr[2].name, "Accept"));
	assert_true(span_is(r, m.hdr[2].value, "*/*")); /* OWS trimmed */
	assert_int_equal(m.body, SL_H1_BODY_NONE);
	assert_true(m.flags & SL_H1_F_KEEPALIVE);
	assert_int_equal(sl_h1_find(&m, r, "user-agent"), 1);
	assert_int_equal(sl_h1_find(&m, r, "cookie"), -1);
}

static void test_post_clen(void **state)
{
	struct sl_h1_msg m;
	const char r[] = "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 0005\r\n\r\nhello";
	const char max[] = "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n";

	assert_int_equal(parse_all_ways(&m, false, 0, LIT(r), NULL), sizeof(r) - 1 - 5);
	assert_int_equal(m.meth, SL_H1_M_POST);
	assert_int_equal(m.body, SL_H1_BODY_CLEN);
	assert_int_equal(m.content_length, 5);
	assert_true(m.flags & SL_H1_F_CLEN);
	assert_memory_equal(r + m.head_len, "hello", 5);
	assert_int_equal(parse_all_ways(&m, false, 0, LIT(max), NULL), sizeof(max) - 1);
	assert_int_equal(m.content_length, INT64_MAX);
}

/* decode @body whole and one byte at a time; both give @want */
static void chunked_ok(const char *body, size_t len, const char *want,
		       size_t want_consumed)
{
	struct sl_h1_chunked c;
	char out[256];
	size_t n = 0, off, dl, used = 0;
	ssize_t r;

	/* whole: loop until done */
	sl_h1_chunked_init(&c, NULL);
	while (!c.done && used < len) {
		r = sl_h1_chunked(&c, body + used, len - used, &off, &dl);
		assert_true(r >= 0);
		assert_true(off + dl <= (size_t)r);
		memcpy(out + n, body + used + off, dl);
		n += dl;
		used += (size_t)r;
	}
	assert_true(c.done);
	assert_int_equal(used, want_consumed);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, n);
	assert_int_equal(c.body_len, n);
	/* after done nothing more is taken */
	assert_int_equal(sl_h1_chunked(&c, body, len, &off, &dl), 0);

	/* byte by byte */
	sl_h1_chunked_init(&c, NULL);
	n = 0;
	for (used = 0; used < len && !c.done; used++) {
		r = sl_h1_chunked(&c, body + used, 1, &off, &dl);
		assert_int_equal(r, 1);
		memcpy(out + n, body + used + off, dl);
		n += dl;
	}
	assert_true(c.done);
	assert_int_equal(used, want_consumed);
	assert_memory_equal(out, want, n);
}

static void test_chunked_trailers(void **state)
{
	struct sl_h1_msg m;
	const char r[] = "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  Chunked \r\n"
			 "Trailer: X-Sum\r\n\r\n";
	const char body[] = "5\r\nhello\r\n"
			    "6;name=val ; q=\"a\\\"b\" ;flag\r\n world\r\n"
			    "00A\r\n0123456789\r\n"
			    "0\r\nX-Sum: 1\r\nX-Other:\r\n\r\n"
			    "GET /next HTTP/1.1\r\n";

	assert_int_equal(parse_all_ways(&m, false, 0, LIT(r), NULL), sizeof(r) - 1);
	assert_int_equal(m.body, SL_H1_BODY_CHUNKED);
	assert_true(m.flags & SL_H1_F_CHUNKED);
	chunked_ok(LIT(body), "hello world0123456789",
		   strstr(body, "GET /next") - body);

	const char empty[] = "0\r\n\r\n";

	chunked_ok(LIT(empty), "", 5);
	const char big[] = "7fffffffffffffff\r\n";
	struct sl_h1_chunked c;
	size_t off, dl;

	sl_h1_chunked_init(&c, NULL);
	assert_int_equal(sl_h1_chunked(&c, LIT(big), &off, &dl), sizeof(big) - 1);
	assert_int_equal(c.remaining, INT64_MAX);
}

struct chunk_row {
	const char *name;
	const char *in;
	size_t len;
	int status;
	enum sl_h1_reason reason;
};

static const struct chunk_row bad_chunks[] = {
	BAD("size overflow 17 digits", "fffffffffffffffff\r\n", 400, SL_H1_E_CHUNK_SIZE_OVERFLOW),
	BAD("size 2^63", "8000000000000000\r\n", 400, SL_H1_E_CHUNK_SIZE_OVERFLOW),
	BAD("size empty", "\r\nhello\r\n", 400, SL_H1_E_CHUNK_SIZE_EMPTY),
	BAD("size empty with ext", ";a=b\r\n", 400, SL_H1_E_CHUNK_SIZE_EMPTY),
	BAD("size minus", "-5\r\nhello\r\n", 400, SL_H1_E_CHUNK_SIZE_INVALID),
	BAD("size plus", "+5\r\nhello\r\n", 400, SL_H1_E_CHUNK_SIZE_INVALID),
	BAD("size 0x", "0x5\r\nhello\r\n", 400, SL_H1_E_CHUNK_SIZE_INVALID),
	BAD("size leading space", " 5\r\nhello\r\n", 400, SL_H1_E_CHUNK_SIZE_INVALID),
	BAD("size trailing space", "5 \r\nhello\r\n", 400, SL_H1_E_CHUNK_SIZE_INVALID),
	BAD("size non-hex", "5g\r\nhello\r\n", 400, SL_H1_E_CHUNK_SIZE_INVALID),
	BAD("size bare lf", "5\nhello\r\n", 400, SL_H1_E_BARE_LF),
	BAD("size bare cr", "5\rhello\r\n", 400, SL_H1_E_BARE_CR),
	BAD("ext empty", "5;\r\nhello\r\n", 400, SL_H1_E_CHUNK_EXT),
	BAD("ext no name", "5;=x\r\nhello\r\n", 400, SL_H1_E_CHUNK_EXT),
	BAD("ext empty value", "5;a=\r\nhello\r\n", 400, SL_H1_E_CHUNK_EXT),
	BAD("ext open quote", "5;a=\"x\r\nhello\r\n", 400, SL_H1_E_CHUNK_EXT),
	BAD("ext two values", "5;a=b c\r\nhello\r\n", 400, SL_H1_E_CHUNK_EXT),
	BAD("ext trailing space", "5;a \r\nhello\r\n", 400, SL_H1_E_CHUNK_EXT),
	BAD("ext nul", "5;a\0\r\nhello\r\n", 400, SL_H1_E_CHUNK_EXT),
	BAD("ext lf", "5;a\nhello\r\n", 400, SL_H1_E_BARE_LF),
	BAD("data longer than size", "5\r\nhelloX\r\n0\r\n\r\n", 400, SL_H1_E_CHUNK_CRLF),
	BAD("data lf only", "5\r\nhello\n0\r\n\r\n", 400, SL_H1_E_CHUNK_CRLF),
	BAD("data then junk and lf", "5\r\nhelloX\n0\r\n\r\n", 400, SL_H1_E_CHUNK_CRLF),
	BAD("data cr only", "5\r\nhello\r0\r\n\r\n", 400, SL_H1_E_CHUNK_CRLF),
	BAD("trailer space before colon", "0\r\nX : y\r\n\r\n", 400, SL_H1_E_TRAILER),
	BAD("trailer obs-fold", "0\r\nX: y\r\n z\r\n\r\n", 400, SL_H1_E_TRAILER),
	BAD("trailer empty name", "0\r\n: y\r\n\r\n", 400, SL_H1_E_TRAILER),
	BAD("trailer nul", "0\r\nX: y\0\r\n\r\n", 400, SL_H1_E_TRAILER),
	BAD("trailer bare lf", "0\r\nX: y\n\r\n", 400, SL_H1_E_BARE_LF),
	BAD("end bare lf", "0\r\n\n", 400, SL_H1_E_BARE_LF),
	BAD("end bare cr", "0\r\n\rX", 400, SL_H1_E_BARE_CR),
};

/* runs @in through a decoder whole and byte by byte: both must fail the
 * same way */
static void chunk_bad(const struct chunk_row *b, const struct sl_h1_limits *lim)
{
	struct sl_h1_chunked c, d;
	size_t off, dl, used = 0;
	ssize_t r = 0;

	sl_h1_chunked_init(&c, lim);
	while (used < b->len) {
		r = sl_h1_chunked(&c, b->in + used, b->len - used, &off, &dl);
		if (r < 0)
			break;
		used += (size_t)r;
	}
	if (r != -EBADMSG || c.reason != b->reason || c.err_status != b->status)
		fail_msg("row '%s': ret %zd status %d reason %s, want %d %s",
			 b->name, r, c.err_status, sl_h1_reason_str(c.reason),
			 b->status, sl_h1_reason_str(b->reason));
	assert_int_equal(sl_h1_chunked(&c, b->in, b->len, &off, &dl), -EBADMSG);
	sl_h1_chunked_init(&d, lim);
	for (used = 0; used < b->len; used++) {
		r = sl_h1_chunked(&d, b->in + used, 1, &off, &dl);
		if (r < 0)
			break;
		assert_int_equal(r, 1);
	}
	assert_int_equal(r, -EBADMSG);
	assert_int_equal(d.reason, c.reason);
	assert_int_equal(d.err_pos, c.err_pos);
	assert_int_equal(d.err_state, c.err_state);
}

static void test_bad_chunks(void **state)
{
	for (size_t i = 0; i < sizeof(bad_chunks) / sizeof(bad_chunks[0]); i++)
		chunk_bad(&bad_chunks[i], NULL);
}

static void test_chunk_limits(void **state)
{
	struct sl_h1_limits lim;
	static char line[SL_H1_CHUNK_LINE_MAX + 16];
	static char trl[70000];
	struct chunk_row row = { "line too long", line, 0, 400,
				 SL_H1_E_CHUNK_LINE_TOO_LONG };

	/* a chunk-size line of exactly 4 KiB is fine: 5;aaaa...\r\n */
	line[0] = '5';
	line[1] = ';';
	memset(line + 2, 'a', SL_H1_CHUNK_LINE_MAX - 4);
	memcpy(line + SL_H1_CHUNK_LINE_MAX - 2, "\r\nhello\r\n0\r\n\r\n", 14);
	chunked_ok(line, SL_H1_CHUNK_LINE_MAX + 12, "hello", SL_H1_CHUNK_LINE_MAX + 12);
	/* one more byte is refused */
	line[0] = '0';
	memset(line + 2, 'a', SL_H1_CHUNK_LINE_MAX - 3);
	memcpy(line + SL_H1_CHUNK_LINE_MAX - 1, "\r\n\r\n", 4);
	row.len = SL_H1_CHUNK_LINE_MAX + 3;
	chunk_bad(&row, NULL);
	/* leading zeros are bounded by the same limit */
	memset(line, '0', SL_H1_CHUNK_LINE_MAX + 3);
	chunk_bad(&row, NULL);

	/* body over max_body: 413 */
	sl_h1_limits_default(&lim);
	lim.max_body = 8;
	struct chunk_row big = { "body over max", LIT("5\r\nhello\r\n4\r\nabcd\r\n0\r\n\r\n"),
				 413, SL_H1_E_BODY_TOO_LARGE };
	chunk_bad(&big, &lim);

	/* trailer section over max_head: 431 */
	memcpy(trl, "0\r\nX: ", 6);
	memset(trl + 6, 'v', sizeof(trl) - 6);
	struct chunk_row tr = { "trailers over max", trl, sizeof(trl), 431,
				SL_H1_E_TRAILER_TOO_LARGE };
	chunk_bad(&tr, NULL);
}

static void test_http10(void **state)
{
	struct sl_h1_msg m;
	const char a[] = "GET / HTTP/1.0\r\n\r\n";
	const char b[] = "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\nExpect: 100-continue\r\n\r\n";
	const char c[] = "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";

	assert_int_equal(parse_all_ways(&m, false, 0, LIT(a), NULL), sizeof(a) - 1);
	assert_int_equal(m.version, 10);
	assert_false(m.flags & SL_H1_F_KEEPALIVE);
	assert_int_equal(m.host, -1);
	assert_int_equal(parse_all_ways(&m, false, 0, LIT(b), NULL), sizeof(b) - 1);
	assert_true(m.flags & SL_H1_F_KEEPALIVE);
	assert_true(m.flags & SL_H1_F_CONN_KEEPALIVE);
	assert_false(m.flags & SL_H1_F_EXPECT_100); /* ignored in 1.0 */
	assert_int_equal(parse_all_ways(&m, false, 0, LIT(c), NULL), sizeof(c) - 1);
	assert_true(m.flags & SL_H1_F_CONN_CLOSE);
	assert_false(m.flags & SL_H1_F_KEEPALIVE);
}

static void test_pipelined(void **state)
{
	struct sl_h1_msg m;
	const char p[] = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
			 "POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
			 "GET /3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
	const char *want[] = { "/1", "/2", "/3" };
	size_t at = 0, len = sizeof(p) - 1;

	for (int i = 0; i < 3; i++) {
		ssize_t r = parse_all_ways(&m, false, 0, p + at, len - at, NULL);

		assert_true(r > 0);
		assert_true(span_is(p + at, m.target, want[i]));
		at += (size_t)r;
		if (m.body == SL_H1_BODY_CLEN)
			at += m.content_length;
	}
	assert_int_equal(at, len);
	assert_false(m.flags & SL_H1_F_KEEPALIVE);
}

static void test_forms(void **state)
{
	struct sl_h1_msg m;
	const char abs[] = "GET HTTP://Svc.NS:80/x?y HTTP/1.1\r\nHost: svc.ns:80\r\n\r\n";
	const char opt[] = "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n";
	const char con[] = "CONNECT db.ns:5432 HTTP/1.1\r\nHost: db.ns:5432\r\n\r\n";
	const char other[] = "PROPFIND / HTTP/1.1\r\nHost: a\r\n\r\n";
	const char empty_host[] = "GET / HTTP/1.1\r\nHost:\r\n\r\n";

	assert_int_equal(parse_all_ways(&m, false, 0, LIT(abs), NULL), sizeof(abs) - 1);
	assert_int_equal(m.form, SL_H1_T_ABSOLUTE);
	assert_int_equal(parse_all_ways(&m, false, 0, LIT(opt), NULL), sizeof(opt) - 1);
	assert_int_equal(m.form, SL_H1_T_ASTERISK);
	assert_int_equal(m.meth, SL_H1_M_OPTIONS);
	assert_int_equal(parse_all_ways(&m, false, 0, LIT(con), NULL), sizeof(con) - 1);
	assert_int_equal(m.form, SL_H1_T_AUTHORITY);
	assert_int_equal(m.meth, SL_H1_M_CONNECT);
	assert_int_equal(parse_all_ways(&m, false, 0, LIT(other), NULL), sizeof(other) - 1);
	assert_int_equal(m.meth, SL_H1_M_OTHER);
	assert_int_equal(parse_all_ways(&m, false, 0, LIT(empty_host), NULL),
			 sizeof(empty_host) - 1);
	assert_int_equal(m.hdr[m.host].value.len, 0);
}

static void test_flags(void **state)
{
	struct sl_h1_msg m;
	const char ws[] = "GET /chat HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n"
			  "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n";
	const char ex[] = "PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n"
			  "Content-Length: 10\r\n\r\n";
	const char te[] = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";

	assert_int_equal(parse_all_ways(&m, false, 0, LIT(ws), NULL), sizeof(ws) - 1);
	assert_true(m.flags & SL_H1_F_CONN_UPGRADE);
	assert_true(m.flags & SL_H1_F_CONN_KEEPALIVE);
	assert_true(m.flags & SL_H1_F_UPGRADE);
	assert_false(m.flags & SL_H1_F_EXPECT_100);
	assert_int_equal(m.upgrade, 2);
	assert_true(span_is(ws, m.hdr[m.upgrade].value, "websocket"));
	assert_int_equal(parse_all_ways(&m, false, 0, LIT(ex), NULL), sizeof(ex) - 1);
	assert_true(m.flags & SL_H1_F_EXPECT_100);
	assert_false(m.flags & SL_H1_F_UPGRADE);
	assert_int_equal(m.upgrade, -1);
	assert_int_equal(parse_all_ways(&m, false, 0, LIT(te), NULL), sizeof(te) - 1);
	assert_true(m.flags & SL_H1_F_TE);
	assert_true(m.flags & SL_H1_F_CHUNKED);
	assert_false(m.flags & SL_H1_F_CLEN);
}

static void test_hop_by_hop(void **state)
{
	struct sl_h1_msg m;
	const char r[] = "GET / HTTP/1.1\r\nHost: a\r\nConnection: close, X-Drop,x-also\r\n"
			 "Keep-Alive: 5\r\nX-Drop: 1\r\nX-Also: 2\r\nX-Keep: 3\r\nTE: trailers\r\n"
			 "Upgrade: h2c\r\nProxy-Connection: x\r\nX-Dropx: 4\r\n\r\n";
	const bool want[] = { false, true, true, true, true, false, true, true, true, false };

	assert_int_equal(parse_all_ways(&m, false, 0, LIT(r), NULL), sizeof(r) - 1);
	assert_int_equal(m.nhdr, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < m.nhdr; i++)
		if (sl_h1_is_hop_by_hop(&m, r, i) != want[i])
			fail_msg("header %zu: hop-by-hop %d", i, !want[i]);
	assert_false(sl_h1_is_hop_by_hop(&m, r, m.nhdr));
}

struct resp_row {
	const char *name;
	const char *in;
	size_t len;
	enum sl_h1_method req;
	enum sl_h1_body body;
	bool keepalive;
};

#define RESP(n, s, rm, b, k) { n, LIT(s), rm, b, k }

static const struct resp_row good_responses[] = {
	RESP("200 clen", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", SL_H1_M_GET,
	     SL_H1_BODY_CLEN, true),
	RESP("200 clen 0", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", SL_H1_M_GET,
	     SL_H1_BODY_NONE, true),
	RESP("204", "HTTP/1.1 204 No Content\r\n\r\n", SL_H1_M_GET, SL_H1_BODY_NONE, true),
	RESP("304 with clen", "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n",
	     SL_H1_M_GET, SL_H1_BODY_NONE, true),
	RESP("100", "HTTP/1.1 100 Continue\r\n\r\n", SL_H1_M_PUT, SL_H1_BODY_NONE, true),
	RESP("103", "HTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\n", SL_H1_M_GET,
	     SL_H1_BODY_NONE, true),
	RESP("101", "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
	     SL_H1_M_GET, SL_H1_BODY_TUNNEL, true),
	RESP("head response", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
	     SL_H1_M_HEAD, SL_H1_BODY_NONE, true),
	RESP("head chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	     SL_H1_M_HEAD, SL_H1_BODY_NONE, true),
	RESP("until close", "HTTP/1.1 200 OK\r\n\r\n", SL_H1_M_GET,
	     SL_H1_BODY_UNTIL_CLOSE, false),
	RESP("http/1.0 until close", "HTTP/1.0 200 OK\r\nServer: x\r\n\r\n", SL_H1_M_GET,
	     SL_H1_BODY_UNTIL_CLOSE, false),
	RESP("http/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n",
	     SL_H1_M_GET, SL_H1_BODY_CLEN, true),
	RESP("chunked", "HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n", SL_H1_M_GET,
	     SL_H1_BODY_CHUNKED, true),
	RESP("gzip, chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	     SL_H1_M_GET, SL_H1_BODY_CHUNKED, true),
	RESP("te gzip: until close", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
	     SL_H1_M_GET, SL_H1_BODY_UNTIL_CLOSE, false),
	RESP("connect 200", "HTTP/1.1 200 Connection established\r\n\r\n", SL_H1_M_CONNECT,
	     SL_H1_BODY_TUNNEL, true),
	RESP("connect 403", "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
	     SL_H1_M_CONNECT, SL_H1_BODY_NONE, true),
	RESP("no reason phrase", "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", SL_H1_M_GET,
	     SL_H1_BODY_NONE, true),
	RESP("empty reason phrase", "HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n", SL_H1_M_GET,
	     SL_H1_BODY_NONE, true),
	RESP("close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n",
	     SL_H1_M_GET, SL_H1_BODY_CLEN, false),
};

static const struct bad_row bad_responses[] = {
	BAD("te+cl", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
	    502, SL_H1_E_TE_AND_CL),
	BAD("two cl", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
	    502, SL_H1_E_CL_DUPLICATE),
	BAD("te in 1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	    502, SL_H1_E_TE_HTTP10),
	BAD("status 600", "HTTP/1.1 600 X\r\n\r\n", 502, SL_H1_E_STATUS),
	BAD("status 2 digits", "HTTP/1.1 20 OK\r\n\r\n", 502, SL_H1_E_STATUS),
	BAD("status letters", "HTTP/1.1 2x0 OK\r\n\r\n", 502, SL_H1_E_STATUS),
	BAD("short line", "HTTP/1.1 20\r\n\r\n", 502, SL_H1_E_START_LINE),
	BAD("version", "HTTP/2 200 OK\r\n\r\n", 502, SL_H1_E_VERSION),
	BAD("version 1.2", "HTTP/1.2 200 OK\r\n\r\n", 502, SL_H1_E_VERSION_UNSUPPORTED),
	BAD("ctl in reason", "HTTP/1.1 200 O\x01K\r\n\r\n", 502, SL_H1_E_REASON_PHRASE),
	BAD("obs-fold", "HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", 502, SL_H1_E_OBS_FOLD),
	BAD("lf only", "HTTP/1.1 200 OK\n\n", 502, SL_H1_E_BARE_LF),
};

static void test_responses(void **state)
{
	struct sl_h1_msg m;

	for (size_t i = 0; i < sizeof(good_responses) / sizeof(good_responses[0]); i++) {
		const struct resp_row *g = &good_responses[i];
		ssize_t r = parse_all_ways(&m, true, g->req, g->in, g->len, NULL);

		if (r != (ssize_t)g->len || m.body != g->body ||
		    !!(m.flags & SL_H1_F_KEEPALIVE) != g->keepalive)
			fail_msg("row '%s': ret %zd body %d keepalive %d (%s)", g->name,
				 r, m.body, !!(m.flags & SL_H1_F_KEEPALIVE),
				 sl_h1_reason_str(m.reason));
	}
	for (size_t i = 0; i < sizeof(bad_responses) / sizeof(bad_responses[0]); i++) {
		const struct bad_row *b = &bad_responses[i];
		ssize_t r = parse_all_ways(&m, true, SL_H1_M_GET, b->in, b->len, NULL);

		if (r != -EBADMSG || m.err_status != b->status || m.reason != b->reason)
			fail_msg("row '%s': ret %zd status %d reason %s", b->name, r,
				 m.err_status, sl_h1_reason_str(m.reason));
	}
	const char s[] = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n\r\n";

	assert_int_equal(parse_all_ways(&m, true, SL_H1_M_GET, LIT(s), NULL), sizeof(s) - 1);
	assert_int_equal(m.status, 503);
	assert_true(span_is(s, m.reason_phrase, "Service Unavailable"));
	/* a message is a request or a response, not both */
	assert_int_equal(sl_h1_parse_request(&m, LIT(s)), -EINVAL);
}

static void test_good_te_variants(void **state)
{
	struct sl_h1_msg m;
	const char *v[] = { "chunked", "CHUNKED", "Chunked", " chunked", "chunked\t" };
	char buf[128];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int n = snprintf(buf, sizeof(buf),
				 "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:%s\r\n\r\n", v[i]);

		assert_int_equal(parse_all_ways(&m, false, 0, buf, (size_t)n, NULL), n);
		assert_int_equal(m.body, SL_H1_BODY_CHUNKED);
	}
}

/* every reason has its own name; misuse is -EINVAL */
static void test_reasons_and_misuse(void **state)
{
	struct sl_h1_msg m;
	struct sl_h1_chunked c;
	size_t off, dl;

	for (int i = 0; i < SL_H1_E__COUNT; i++) {
		assert_string_not_equal(sl_h1_reason_str(i), "?");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(sl_h1_reason_str(i), sl_h1_reason_str(j));
	}
	assert_string_equal(sl_h1_reason_str(SL_H1_E__COUNT), "?");
	sl_h1_msg_init(&m, NULL);
	assert_int_equal(sl_h1_parse_request(NULL, "x", 1), -EINVAL);
	assert_int_equal(sl_h1_parse_request(&m, NULL, 1), -EINVAL);
	assert_int_equal(sl_h1_parse_request(&m, NULL, 0), 0);
	sl_h1_chunked_init(&c, NULL);
	assert_int_equal(sl_h1_chunked(&c, "0", 1, NULL, &dl), -EINVAL);
	assert_int_equal(sl_h1_chunked(&c, NULL, 1, &off, &dl), -EINVAL);
}

/* the first bytes of a request, before its line is whole */
static void test_request_start(void **state)
{
	(void)state;
	assert_true(sl_h1_request_start_ok("", 0));
	assert_true(sl_h1_request_start_ok("GE", 2));
	assert_true(sl_h1_request_start_ok("GET /x", 6));
	assert_true(sl_h1_request_start_ok("M-SEARCH * HTTP/1.1", 19));
	assert_false(sl_h1_request_start_ok(" GET", 4));
	assert_false(sl_h1_request_start_ok("\x16\x03\x01", 3)); /* TLS */
	assert_false(sl_h1_request_start_ok("GE\0T", 4));
	assert_false(sl_h1_request_start_ok("GET\t/", 5));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_err_pos_state),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_get_query),
		cmocka_unit_test(test_post_clen),
		cmocka_unit_test(test_chunked_trailers),
		cmocka_unit_test(test_bad_chunks),
		cmocka_unit_test(test_chunk_limits),
		cmocka_unit_test(test_http10),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_hop_by_hop),
		cmocka_unit_test(test_responses),
		cmocka_unit_test(test_good_te_variants),
		cmocka_unit_test(test_reasons_and_misuse),
		cmocka_unit_test(test_request_start),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Heads a proxy sends (http/hdrs.c): each hop-by-hop rule, fields named by
 * Connection, header ops and their order, the flags, -ENOSPC at every
 * short capacity, status lines, local replies, and round trips through the
 * parser of http/h1.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/hdrs.h"

#define LIT(s) s, sizeof(s) - 1

static struct sl_h1_msg msg, back;
static char out[16384];

static void parse_req(const char *s)
{
	sl_h1_msg_init(&msg, NULL);
	assert_int_equal(sl_h1_parse_request(&msg, s, strlen(s)), (ssize_t)strlen(s));
}

static void parse_resp(const char *s, enum sl_h1_method meth)
{
	sl_h1_msg_init(&msg, NULL);
	assert_int_equal(sl_h1_parse_response(&msg, s, strlen(s), meth), (ssize_t)strlen(s));
}

/* builds the request head of @in with @ops/@extra/@flags, checks it is
 * exactly @want */
static void req_is(const char *in, const struct sl_http_header_ops *const *ops,
		   size_t n_ops, const struct sl_h1_extra *extra, size_t n_extra,
		   unsigned flags, const char *want)
{
	ssize_t n;

	parse_req(in);
	n = sl_hdrs_request(&msg, in, ops, n_ops, extra, n_extra, flags, out, sizeof(out));
	assert_true(n > 0);
	out[n] = 0;
	assert_string_equal(out, want);
}

static void test_hop_by_hop(void **state)
{
	(void)state;
	/* each fixed hop-by-hop name goes, in any case; the rest keeps its
	 * order, name case and value */
	req_is("GET /a?b=1 HTTP/1.1\r\n"
	       "Host: svc\r\n"
	       "Connection: keep-alive\r\n"
	       "X-One: 1\r\n"
	       "keep-alive: timeout=5\r\n"
	       "PROXY-CONNECTION: keep-alive\r\n"
	       "TE: trailers\r\n"
	       "Trailer: x-checksum\r\n"
	       "Upgrade: websocket\r\n"
	       "x-two:  2 \r\n"
	       "\r\n", NULL, 0, NULL, 0, 0,
	       "GET /a?b=1 HTTP/1.1\r\n"
	       "Host: svc\r\n"
	       "X-One: 1\r\n"
	       "x-two: 2\r\n"
	       "connection: keep-alive\r\n"
	       "\r\n");
}

static void test_connection_named(void **state)
{
	(void)state;
	/* every field named by a Connection option goes, over two fields */
	req_is("GET / HTTP/1.1\r\n"
	       "Host: svc\r\n"
	       "Connection: close, X-Secret\r\n"
	       "x-secret: s\r\n"
	       "x-keep: k\r\n"
	       "connection: x-other\r\n"
	       "X-Other: o\r\n"
	       "\r\n", NULL, 0, NULL, 0, 0,
	       "GET / HTTP/1.1\r\n"
	       "Host: svc\r\n"
	       "x-keep: k\r\n"
	       "connection: keep-alive\r\n"
	       "\r\n");
	/* framing and Host cannot be stripped by naming them */
	req_is("POST /p HTTP/1.1\r\n"
	       "Host: svc\r\n"
	       "Connection: content-length, host, transfer-encoding\r\n"
	       "Content-Length: 3\r\n"
	       "\r\n", NULL, 0, NULL, 0, SL_HDRS_CLOSE,
	       "POST /p HTTP/1.1\r\n"
	       "Host: svc\r\n"
	       "Content-Length: 3\r\n"
	       "connection: close\r\n"
	       "\r\n");
}

static void test_framing_kept(void **state)
{
	(void)state;
	/* chunked: the body goes as is, so does its Transfer-Encoding */
	req_is("POST /up HTTP/1.1\r\n"
	       "Transfer-Encoding: chunked\r\n"
	       "Host: svc\r\n"
	       "\r\n", NULL, 0, NULL, 0, 0,
	       "POST /up HTTP/1.1\r\n"
	       "Transfer-Encoding: chunked\r\n"
	       "Host: svc\r\n"
	       "connection: keep-alive\r\n"
	       "\r\n");
	/* HTTP/1.0 keeps its version */
	req_is("GET / HTTP/1.0\r\n\r\n", NULL, 0, NULL, 0, SL_HDRS_CLOSE,
	       "GET / HTTP/1.0\r\nconnection: close\r\n\r\n");
	/* absolute-form target as received */
	req_is("GET http://svc:8080/x HTTP/1.1\r\nHost: svc:8080\r\n\r\n",
	       NULL, 0, NULL, 0, 0,
	       "GET http://svc:8080/x HTTP/1.1\r\nHost: svc:8080\r\n"
	       "connection: keep-alive\r\n\r\n");
}

static void test_upgrade(void **state)
{
	static const char ws[] =
		"GET /chat HTTP/1.1\r\n"
		"Host: svc\r\n"
		"Connection: Upgrade\r\n"
		"Upgrade: websocket\r\n"
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		"Sec-WebSocket-Version: 13\r\n"
		"\r\n";

	(void)state;
	req_is(ws, NULL, 0, NULL, 0, SL_HDRS_UPGRADE,
	       "GET /chat HTTP/1.1\r\n"
	       "Host: svc\r\n"
	       "Upgrade: websocket\r\n"
	       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	       "Sec-WebSocket-Version: 13\r\n"
	       "connection: upgrade\r\n"
	       "\r\n");
	/* not an upgrade the caller accepted: Upgrade goes */
	req_is(ws, NULL, 0, NULL, 0, 0,
	       "GET /chat HTTP/1.1\r\n"
	       "Host: svc\r\n"
	       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	       "Sec-WebSocket-Version: 13\r\n"
	       "connection: keep-alive\r\n"
	       "\r\n");
}

static void test_ops_order(void **state)
{
	static const char in[] =
		"GET / HTTP/1.1\r\n"
		"Host: svc\r\n"
		"X-Drop: 1\r\n"
		"x-set: old1\r\n"
		"X-Add: received\r\n"
		"X-SET: old2\r\n"
		"\r\n";
	static const char *const rm[] = { "x-drop", "x-gone" };
	static const struct sl_label set[] = {
		{ "X-Set", "first" }, { "x-set", "second" }, { "x-new", "n" },
	};
	static const struct sl_label add[] = {
		{ "x-add", "added" }, { "x-set", "added-after-set" },
	};
	const struct sl_http_header_ops a = {
		.set = set, .n_set = 3, .add = add, .n_add = 2, .remove = rm, .n_remove = 2,
	};
	/* a later block: removes what the first added, sets what it set */
	static const char *const rm2[] = { "x-add" };
	static const struct sl_label set2[] = { { "x-new", "later" } };
	static const struct sl_label add2[] = { { "x-add", "again" } };
	const struct sl_http_header_ops b = {
		.set = set2, .n_set = 1, .add = add2, .n_add = 1, .remove = rm2, .n_remove = 1,
	};
	const struct sl_http_header_ops *one[] = { &a };
	const struct sl_http_header_ops *two[] = { &a, &b };
	const struct sl_http_header_ops *with_null[] = { NULL, &a };
	const struct sl_h1_extra extra[] = { { "x-request-id", "r1" } };

	(void)state;
	/* remove, then set replaces every field of the name (received and
	 * earlier sets), then add appends; then extra */
	req_is(in, one, 1, extra, 1, 0,
	       "GET / HTTP/1.1\r\n"
	       "Host: svc\r\n"
	       "X-Add: received\r\n"
	       "x-set: second\r\n"
	       "x-new: n\r\n"
	       "x-add: added\r\n"
	       "x-set: added-after-set\r\n"
	       "x-request-id: r1\r\n"
	       "connection: keep-alive\r\n"
	       "\r\n");
	req_is(in, two, 2, NULL, 0, 0,
	       "GET / HTTP/1.1\r\n"
	       "Host: svc\r\n"
	       "x-set: second\r\n"
	       "x-set: added-after-set\r\n"
	       "x-new: later\r\n"
	       "x-add: again\r\n"
	       "connection: keep-alive\r\n"
	       "\r\n");
	/* a NULL block is skipped */
	req_is(in, with_null, 2, NULL, 0, 0,
	       "GET / HTTP/1.1\r\n"
	       "Host: svc\r\n"
	       "X-Add: received\r\n"
	       "x-set: second\r\n"
	       "x-new: n\r\n"
	       "x-add: added\r\n"
	       "x-set: added-after-set\r\n"
	       "connection: keep-alive\r\n"
	       "\r\n");
}

static void test_host_set(void **state)
{
	static const struct sl_label set[] = { { "host", "other.ns" } };
	const struct sl_http_header_ops o = { .set = set, .n_set = 1 };
	const struct sl_http_header_ops *ops[] = { &o };

	(void)state;
	req_is("GET / HTTP/1.1\r\nHost: svc\r\nA: b\r\n\r\n", ops, 1, NULL, 0, 0,
	       "GET / HTTP/1.1\r\nA: b\r\nhost: other.ns\r\n"
	       "connection: keep-alive\r\n\r\n");
}

/* one op at a time: the check refuses it with a message naming it, the
 * builder with -EINVAL */
static void bad_op(const struct sl_http_header_ops *o, const char *msg_part)
{
	const struct sl_http_header_ops *ops[] = { o };
	char err[200] = "";
	static const char in[] = "GET / HTTP/1.1\r\nHost: svc\r\n\r\n";

	assert_int_equal(sl_hdrs_ops_check(o, err, sizeof(err)), -EINVAL);
	if (!strstr(err, msg_part))
		fail_msg("error \"%s\" does not name \"%s\"", err, msg_part);
	parse_req(in);
	assert_int_equal(sl_hdrs_request(&msg, in, ops, 1, NULL, 0, 0, out, sizeof(out)),
			 -EINVAL);
}

static void test_ops_invalid(void **state)
{
	static const char *const bad_values[] = {
		"a\r\nx-injected: 1", "a\nb", "a\rb", "a\001b", "a\x7f",
	};
	static const char *const bad_names[] = {
		"", "x y", "x:y", "x\r\ny", "caf\xc3\xa9",
	};
	static const char *const owned[] = {
		"Content-Length", "transfer-encoding", "connection", "keep-alive",
		"proxy-connection", "te", "trailer", "upgrade",
	};
	struct sl_label kv;
	struct sl_http_header_ops o;
	const char *name;

	(void)state;
	for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
		kv = (struct sl_label){ "x-v", bad_values[i] };
		o = (struct sl_http_header_ops){ .set = &kv, .n_set = 1 };
		bad_op(&o, "x-v");
		o = (struct sl_http_header_ops){ .add = &kv, .n_add = 1 };
		bad_op(&o, "x-v");
	}
	kv = (struct sl_label){ "x-v", NULL };
	o = (struct sl_http_header_ops){ .add = &kv, .n_add = 1 };
	bad_op(&o, "x-v");
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		kv = (struct sl_label){ bad_names[i], "v" };
		o = (struct sl_http_header_ops){ .set = &kv, .n_set = 1 };
		bad_op(&o, "not a field name");
		name = bad_names[i];
		o = (struct sl_http_header_ops){ .remove = &name, .n_remove = 1 };
		bad_op(&o, "not a field name");
	}
	for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++) {
		kv = (struct sl_label){ owned[i], "v" };
		o = (struct sl_http_header_ops){ .set = &kv, .n_set = 1 };
		bad_op(&o, "cannot set");
		o = (struct sl_http_header_ops){ .add = &kv, .n_add = 1 };
		bad_op(&o, "cannot add");
		name = owned[i];
		o = (struct sl_http_header_ops){ .remove = &name, .n_remove = 1 };
		bad_op(&o, "cannot remove");
	}
	/* Host: set yes, add or remove no */
	kv = (struct sl_label){ "Host", "h" };
	o = (struct sl_http_header_ops){ .add = &kv, .n_add = 1 };
	bad_op(&o, "cannot add \"Host\"");
	name = "HOST";
	o = (struct sl_http_header_ops){ .remove = &name, .n_remove = 1 };
	bad_op(&o, "cannot remove \"HOST\"");
	o = (struct sl_http_header_ops){ .set = &kv, .n_set = 1 };
	assert_int_equal(sl_hdrs_ops_check(&o, NULL, 0), 0);
	/* HTAB is a legal value byte */
	kv = (struct sl_label){ "x-t", "a\tb" };
	o = (struct sl_http_header_ops){ .add = &kv, .n_add = 1 };
	assert_int_equal(sl_hdrs_ops_check(&o, NULL, 0), 0);
	/* a count without its list */
	o = (struct sl_http_header_ops){ .n_add = 1 };
	bad_op(&o, "missing list");
	assert_int_equal(sl_hdrs_ops_check(NULL, NULL, 0), 0);
}

static void test_extra_invalid(void **state)
{
	static const char in[] = "GET / HTTP/1.1\r\nHost: svc\r\n\r\n";
	const struct sl_h1_extra bad_v[] = { { "x-request-id", "a\r\nb: c" } };
	const struct sl_h1_extra bad_n[] = { { "x request", "v" } };

	(void)state;
	parse_req(in);
	assert_int_equal(sl_hdrs_request(&msg, in, NULL, 0, bad_v, 1, 0, out, sizeof(out)),
			 -EINVAL);
	assert_int_equal(sl_hdrs_request(&msg, in, NULL, 0, bad_n, 1, 0, out, sizeof(out)),
			 -EINVAL);
	assert_int_equal(sl_hdrs_request(&msg, in, NULL, 0, NULL, 1, 0, out, sizeof(out)),
			 -EINVAL);
	assert_int_equal(sl_hdrs_request(&msg, in, NULL, 1, NULL, 0, 0, out, sizeof(out)),
			 -EINVAL);
	/* wrong kind of message, or not complete */
	assert_int_equal(sl_hdrs_response(&msg, in, NULL, 0, NULL, 0, 0, out, sizeof(out)),
			 -EINVAL);
	sl_h1_msg_init(&msg, NULL);
	assert_int_equal(sl_h1_parse_request(&msg, in, 10), 0);
	assert_int_equal(sl_hdrs_request(&msg, in, NULL, 0, NULL, 0, 0, out, sizeof(out)),
			 -EINVAL);
}

static void test_enospc(void **state)
{
	static const char in[] =
		"POST /x HTTP/1.1\r\nHost: svc\r\nContent-Length: 0\r\nX-A: 1\r\n\r\n";
	static const struct sl_label add[] = { { "x-b", "2" } };
	const struct sl_http_header_ops o = { .add = add, .n_add = 1 };
	const struct sl_http_header_ops *ops[] = { &o };
	const struct sl_h1_extra extra[] = { { "x-c", "3" } };
	char small[256];
	ssize_t full;

	(void)state;
	parse_req(in);
	full = sl_hdrs_request(&msg, in, ops, 1, extra, 1, 0, out, sizeof(out));
	assert_true(full > 0);
	for (size_t cap = 0; cap < (size_t)full; cap++) {
		memset(small, 'Z', sizeof(small));
		assert_int_equal(sl_hdrs_request(&msg, in, ops, 1, extra, 1, 0, small, cap),
				 -ENOSPC);
		/* nothing written past the capacity */
		for (size_t i = cap; i < sizeof(small); i++)
			assert_int_equal(small[i], 'Z');
	}
	assert_int_equal(sl_hdrs_request(&msg, in, ops, 1, extra, 1, 0, small, (size_t)full),
			 full);
	assert_memory_equal(small, out, (size_t)full);
	assert_int_equal(sl_hdrs_request(&msg, in, ops, 1, extra, 1, 0, NULL, 100), -ENOSPC);

	/* responses and local replies too */
	parse_resp("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", SL_H1_M_GET);
	full = sl_hdrs_response(&msg, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n",
				NULL, 0, NULL, 0, 0, out, sizeof(out));
	assert_true(full > 0);
	assert_int_equal(sl_hdrs_response(&msg, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n",
					  NULL, 0, NULL, 0, 0, small, (size_t)full - 1),
			 -ENOSPC);
	full = sl_hdrs_local_reply(503, "no healthy upstream", true, out, sizeof(out));
	assert_true(full > 0);
	for (size_t cap = 0; cap < (size_t)full; cap++)
		assert_int_equal(sl_hdrs_local_reply(503, "no healthy upstream", true, small, cap),
				 -ENOSPC);
}

static void test_too_many_fields(void **state)
{
	static char in[8192];
	size_t n = 0;
	const struct sl_h1_extra extra[] = { { "x-one-more", "1" } };

	(void)state;
	n += (size_t)snprintf(in + n, sizeof(in) - n, "GET / HTTP/1.1\r\nHost: svc\r\n");
	for (int i = 0; i < 98; i++)
		n += (size_t)snprintf(in + n, sizeof(in) - n, "x-f%d: v\r\n", i);
	n += (size_t)snprintf(in + n, sizeof(in) - n, "\r\n");
	parse_req(in);
	/* 99 fields + connection = 100: fine; one extra more is 101 */
	assert_true(sl_hdrs_request(&msg, in, NULL, 0, NULL, 0, 0, out, sizeof(out)) > 0);
	assert_int_equal(sl_hdrs_request(&msg, in, NULL, 0, extra, 1, 0, out, sizeof(out)),
			 -E2BIG);
}

static void resp_is(const char *in, enum sl_h1_method meth, unsigned flags,
		    const char *want)
{
	ssize_t n;

	parse_resp(in, meth);
	n = sl_hdrs_response(&msg, in, NULL, 0, NULL, 0, flags, out, sizeof(out));
	assert_true(n > 0);
	out[n] = 0;
	assert_string_equal(out, want);
}

static void test_response(void **state)
{
	(void)state;
	/* reason as received, version rebuilt */
	resp_is("HTTP/1.0 404 Nicht Gefunden\r\nContent-Length: 0\r\nKeep-Alive: timeout=1\r\n"
		"Connection: keep-alive\r\n\r\n", SL_H1_M_GET, 0,
		"HTTP/1.1 404 Nicht Gefunden\r\nContent-Length: 0\r\n"
		"connection: keep-alive\r\n\r\n");
	/* empty reason: the standard one; no standard one: empty */
	resp_is("HTTP/1.1 503\r\nContent-Length: 0\r\n\r\n", SL_H1_M_GET, SL_HDRS_CLOSE,
		"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
		"connection: close\r\n\r\n");
	resp_is("HTTP/1.1 299 \r\nContent-Length: 0\r\n\r\n", SL_H1_M_GET, 0,
		"HTTP/1.1 299 \r\nContent-Length: 0\r\nconnection: keep-alive\r\n\r\n");
	/* a body until close: always connection: close */
	resp_is("HTTP/1.1 200 OK\r\nServer: x\r\n\r\n", SL_H1_M_GET, 0,
		"HTTP/1.1 200 OK\r\nServer: x\r\nconnection: close\r\n\r\n");
	/* chunked response keeps its Transfer-Encoding; Trailer goes */
	resp_is("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x-sum\r\n\r\n",
		SL_H1_M_GET, 0,
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
		"connection: keep-alive\r\n\r\n");
	/* 101: Upgrade kept only for an accepted upgrade */
	resp_is("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		"Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
		SL_H1_M_GET, SL_HDRS_UPGRADE,
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
		"connection: upgrade\r\n\r\n");
}

static void test_local_reply(void **state)
{
	ssize_t n;

	(void)state;
	n = sl_hdrs_local_reply(504, "upstream request timeout", false, out, sizeof(out));
	assert_true(n > 0);
	out[n] = 0;
	assert_string_equal(out, "HTTP/1.1 504 Gateway Timeout\r\n"
			    "content-length: 24\r\n"
			    "content-type: text/plain\r\n"
			    "\r\n"
			    "upstream request timeout");
	n = sl_hdrs_local_reply(400, NULL, true, out, sizeof(out));
	assert_true(n > 0);
	out[n] = 0;
	assert_string_equal(out, "HTTP/1.1 400 Bad Request\r\n"
			    "content-length: 0\r\n"
			    "content-type: text/plain\r\n"
			    "connection: close\r\n"
			    "\r\n");
	/* an abort status without standard phrase */
	n = sl_hdrs_local_reply(599, "x", false, out, sizeof(out));
	assert_true(n > 0);
	out[n] = 0;
	assert_string_equal(out, "HTTP/1.1 599 \r\ncontent-length: 1\r\n"
			    "content-type: text/plain\r\n\r\nx");
	/* what it makes parses, with the length it says */
	sl_h1_msg_init(&back, NULL);
	assert_int_equal(sl_h1_parse_response(&back, out, (size_t)n, SL_H1_M_GET), n - 1);
	assert_int_equal(back.status, 599);
	assert_int_equal(back.content_length, 1);
	for (int s = 0; s < 700; s++) {
		bool ok = s >= 200 && s <= 599 && s != 204 && s != 304;

		n = sl_hdrs_local_reply(s, "b", false, out, sizeof(out));
		if (!ok) {
			assert_int_equal(n, -EINVAL);
			continue;
		}
		assert_true(n > 0);
		sl_h1_msg_init(&back, NULL);
		assert_int_equal(sl_h1_parse_response(&back, out, (size_t)n, SL_H1_M_GET),
				 n - 1);
		assert_int_equal(back.status, s);
	}
	assert_string_equal(sl_hdrs_reason(404), "Not Found");
	assert_string_equal(sl_hdrs_reason(999), "");
}

/* the output parses again: same start line, and exactly the received
 * end-to-end fields followed by the ops' and extra fields */
static void test_round_trip(void **state)
{
	static const char in[] =
		"PUT /obj?v=1 HTTP/1.1\r\n"
		"Host: store:9000\r\n"
		"Connection: x-hop, keep-alive\r\n"
		"X-Hop: h\r\n"
		"Content-Length: 5\r\n"
		"Accept:   */*\r\n"
		"TE: trailers\r\n"
		"\r\n";
	static const struct sl_label add[] = { { "x-env", "prod" } };
	const struct sl_http_header_ops o = { .add = add, .n_add = 1 };
	const struct sl_http_header_ops *ops[] = { &o };
	const struct sl_h1_extra extra[] = { { "traceparent",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" } };
	static const char *const want[][2] = {
		{ "Host", "store:9000" }, { "Content-Length", "5" }, { "Accept", "*/*" },
		{ "x-env", "prod" },
		{ "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" },
		{ "connection", "keep-alive" },
	};
	ssize_t n;

	(void)state;
	parse_req(in);
	n = sl_hdrs_request(&msg, in, ops, 1, extra, 1, 0, out, sizeof(out));
	assert_true(n > 0);
	sl_h1_msg_init(&back, NULL);
	assert_int_equal(sl_h1_parse_request(&back, out, (size_t)n), n);
	assert_int_equal(back.meth, SL_H1_M_PUT);
	assert_memory_equal(out + back.target.off, "/obj?v=1", back.target.len);
	assert_int_equal(back.version, 11);
	assert_int_equal(back.body, SL_H1_BODY_CLEN);
	assert_int_equal(back.content_length, 5);
	assert_true(back.flags & SL_H1_F_KEEPALIVE);
	assert_int_equal(back.nhdr, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < back.nhdr; i++) {
		assert_int_equal(back.hdr[i].name.len, strlen(want[i][0]));
		assert_memory_equal(out + back.hdr[i].name.off, want[i][0], strlen(want[i][0]));
		assert_int_equal(back.hdr[i].value.len, strlen(want[i][1]));
		assert_memory_equal(out + back.hdr[i].value.off, want[i][1], strlen(want[i][1]));
	}

	/* a chunked response: same status, reason, framing */
	static const char rin[] =
		"HTTP/1.1 201 Made\r\nTransfer-Encoding: chunked\r\nX-Y: z\r\n\r\n";
	parse_resp(rin, SL_H1_M_POST);
	n = sl_hdrs_response(&msg, rin, ops, 1, NULL, 0, SL_HDRS_CLOSE, out, sizeof(out));
	assert_true(n > 0);
	sl_h1_msg_init(&back, NULL);
	assert_int_equal(sl_h1_parse_response(&back, out, (size_t)n, SL_H1_M_POST), n);
	assert_int_equal(back.status, 201);
	assert_memory_equal(out + back.reason_phrase.off, "Made", 4);
	assert_int_equal(back.body, SL_H1_BODY_CHUNKED);
	assert_true(back.flags & SL_H1_F_CONN_CLOSE);
	assert_false(back.flags & SL_H1_F_KEEPALIVE);
	assert_int_equal(back.nhdr, 4);
}

/* a rewritten target (rewrite.uri) with a rewritten Host
 * (rewrite.authority, a set op) */
static void test_rewrite_target(void **state)
{
	static const char in[] = "GET /old/path?q=1 HTTP/1.1\r\nHost: svc\r\nA: b\r\n\r\n";
	static const struct sl_label set[] = { { "Host", "other:8080" } };
	const struct sl_http_header_ops o = { .set = set, .n_set = 1 };
	const struct sl_http_header_ops *ops[] = { &o };
	static const char *const bad[] = { "", "/a b", "/a\tb", "/caf\xc3\xa9", "/a\x7f" };
	char longt[8193];
	ssize_t n;

	(void)state;
	parse_req(in);
	n = sl_hdrs_request_target(&msg, in, "/new?q=1", ops, 1, NULL, 0, 0, out, sizeof(out));
	assert_true(n > 0);
	out[n] = 0;
	assert_string_equal(out, "GET /new?q=1 HTTP/1.1\r\nA: b\r\nHost: other:8080\r\n"
			    "connection: keep-alive\r\n\r\n");
	sl_h1_msg_init(&back, NULL);
	assert_int_equal(sl_h1_parse_request(&back, out, (size_t)n), n);
	/* NULL: as received */
	n = sl_hdrs_request_target(&msg, in, NULL, NULL, 0, NULL, 0, 0, out, sizeof(out));
	assert_true(n > 0);
	assert_memory_equal(out, "GET /old/path?q=1 HTTP/1.1\r\n", 28);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sl_hdrs_request_target(&msg, in, bad[i], NULL, 0, NULL, 0, 0,
							out, sizeof(out)), -EINVAL);
	memset(longt, 'a', sizeof(longt) - 1);
	longt[0] = '/';
	longt[sizeof(longt) - 1] = 0;
	assert_int_equal(sl_hdrs_request_target(&msg, in, longt, NULL, 0, NULL, 0, 0,
						out, sizeof(out)), -EINVAL);
	longt[8191] = 0;
	assert_true(sl_hdrs_request_target(&msg, in, longt, NULL, 0, NULL, 0, 0,
					   out, sizeof(out)) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hop_by_hop),
		cmocka_unit_test(test_connection_named),
		cmocka_unit_test(test_framing_kept),
		cmocka_unit_test(test_upgrade),
		cmocka_unit_test(test_ops_order),
		cmocka_unit_test(test_host_set),
		cmocka_unit_test(test_ops_invalid),
		cmocka_unit_test(test_extra_invalid),
		cmocka_unit_test(test_enospc),
		cmocka_unit_test(test_too_many_fields),
		cmocka_unit_test(test_response),
		cmocka_unit_test(test_local_reply),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_rewrite_target),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Trace context (http/trace.c): traceparent and tracestate with the
 * vectors of the W3C Trace Context spec and its test suite, B3 multi and
 * single header (vectors of openzipkin/b3-propagation), x-request-id,
 * span ids per attempt, the fields sent upstream and their use with
 * http/hdrs.c. */
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
#include "http/trace.h"

static struct sl_h1_msg msg;
static char req[16384];
static struct sl_trace tr;

/* deterministic random source: bytes 0x11, 0x12, ... (or a fixed byte) */
struct rnd {
	unsigned next;
	int fixed;   /* >= 0: every byte is this */
	int fail;    /* returned when not 0 */
	unsigned calls;
};

static int rnd_fn(void *arg, void *buf, size_t len)
{
	struct rnd *r = arg;
	uint8_t *b = buf;

	r->calls++;
	if (r->fail)
		return r->fail;
	for (size_t i = 0; i < len; i++)
		b[i] = r->fixed >= 0 ? (uint8_t)r->fixed : (uint8_t)(0x11 + r->next++);
	return 0;
}

/* parses "GET / HTTP/1.1\r\nHost: svc\r\n" + @fields + "\r\n", reads its
 * trace context */
static void from(const char *fields, struct rnd *r)
{
	int n = snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: svc\r\n%s\r\n", fields);

	sl_h1_msg_init(&msg, NULL);
	assert_int_equal(sl_h1_parse_request(&msg, req, (size_t)n), n);
	assert_int_equal(sl_trace_from_request(&tr, &msg, req, rnd_fn, r), 0);
}

static void hex_is(const uint8_t *b, size_t n, const char *want)
{
	char h[65];

	for (size_t i = 0; i < n; i++)
		snprintf(h + 2 * i, 3, "%02x", b[i]);
	assert_string_equal(h, want);
}

/* the value sl_trace_headers() gives for @name, NULL if it gives none */
static const char *sent(const char *name)
{
	struct sl_h1_extra ex[SL_TRACE_HEADERS_MAX];
	ssize_t n = sl_trace_headers(&tr, ex, SL_TRACE_HEADERS_MAX);

	assert_true(n > 0);
	for (ssize_t i = 0; i < n; i++)
		if (!strcmp(ex[i].name, name))
			return ex[i].value;
	return NULL;
}

static void test_traceparent_valid(void **state)
{
	struct rnd r = { .fixed = -1 };

	(void)state;
	/* the spec's example */
	from("traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n", &r);
	assert_int_equal(tr.origin, SL_TRACE_W3C);
	hex_is(tr.trace_id, 16, "4bf92f3577b34da6a3ce929d0e0e4736");
	hex_is(tr.parent_id, 8, "00f067aa0ba902b7");
	assert_true(tr.has_parent);
	assert_int_equal(tr.sampled, 1);
	/* our span is new: the random source's bytes */
	hex_is(tr.span_id, 8, "2122232425262728");
	assert_string_equal(sent("traceparent"),
			    "00-4bf92f3577b34da6a3ce929d0e0e4736-2122232425262728-01");
	assert_string_equal(sent("x-b3-traceid"), "4bf92f3577b34da6a3ce929d0e0e4736");
	assert_string_equal(sent("x-b3-spanid"), "2122232425262728");
	assert_string_equal(sent("x-b3-parentspanid"), "00f067aa0ba902b7");
	assert_string_equal(sent("x-b3-sampled"), "1");
	assert_null(sent("tracestate"));
	assert_null(sent("b3"));

	/* not sampled; the other flag bits are not passed on */
	r = (struct rnd){ .fixed = -1 };
	from("traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-fe\r\n", &r);
	assert_int_equal(tr.origin, SL_TRACE_W3C);
	assert_int_equal(tr.sampled, 0);
	assert_string_equal(sent("traceparent") + 52, "-00");
	assert_string_equal(sent("x-b3-sampled"), "0");

	/* a later version: parsed by the version 00 rules, sent as 00 */
	static const char *const future[] = {
		"cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what-the-future-will-be-like",
		"01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-",
	};
	for (size_t i = 0; i < sizeof(future) / sizeof(future[0]); i++) {
		char f[256];

		snprintf(f, sizeof(f), "traceparent: %s\r\n", future[i]);
		from(f, &r);
		assert_int_equal(tr.origin, SL_TRACE_W3C);
		hex_is(tr.trace_id, 16, "0af7651916cd43dd8448eb211c80319c");
		assert_memory_equal(sent("traceparent"), "00-0af7651916cd43dd8448eb211c80319c-", 36);
	}
}

static void test_traceparent_invalid(void **state)
{
	static const char *const bad[] = {
		/* version ff is forbidden; 00 is exactly 55 bytes */
		"ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what-the-future-will-be-like",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01.",
		"cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01.what-the-future-will-be-like",
		/* all-zero ids */
		"00-00000000000000000000000000000000-b7ad6b7169203331-01",
		"00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
		/* uppercase, bad hex */
		"00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01",
		"00-0af7651916cd43dd8448eb211c80319C-b7ad6b7169203331-01",
		"0A-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0g",
		"00-0af7651916cd43dd8448eb211c8031-g-b7ad6b7169203331-01",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333x-01",
		/* lengths and separators */
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01",
		"00-0af7651916cd43dd8448eb211c80319-cb7ad6b7169203331-01",
		"00_0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331_01",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1",
		"0-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
		"",
	};
	struct rnd r;
	char f[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = (struct rnd){ .fixed = -1 };
		snprintf(f, sizeof(f), "traceparent: %s\r\ntracestate: rojo=1\r\n", bad[i]);
		from(f, &r);
		if (tr.origin != SL_TRACE_NEW)
			fail_msg("accepted traceparent \"%s\"", bad[i]);
		/* a new trace from the random source, no parent, and the
		 * tracestate goes with the refused traceparent */
		hex_is(tr.trace_id, 16, "1112131415161718191a1b1c1d1e1f20");
		assert_false(tr.has_parent);
		assert_int_equal(tr.sampled, -1);
		assert_null(sent("tracestate"));
		assert_null(sent("x-b3-parentspanid"));
		assert_null(sent("x-b3-sampled"));
		/* trace id, then the x-request-id UUID, then the span */
		assert_string_equal(sent("traceparent"),
				    "00-1112131415161718191a1b1c1d1e1f20-3132333435363738-00");
	}
	/* two traceparent fields, even valid ones: a new trace (W3C test
	 * suite, test_traceparent_duplicated) */
	r = (struct rnd){ .fixed = -1 };
	from("traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
	     "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203332-01\r\n", &r);
	assert_int_equal(tr.origin, SL_TRACE_NEW);
}

static const char tp[] = "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n";

static void state_is(const char *fields, const char *want)
{
	struct rnd r = { .fixed = -1 };
	char f[8192];

	snprintf(f, sizeof(f), "%s%s", tp, fields);
	from(f, &r);
	assert_int_equal(tr.origin, SL_TRACE_W3C);
	if (!want) {
		assert_string_equal(tr.tracestate, "");
		assert_null(sent("tracestate"));
		return;
	}
	assert_string_equal(tr.tracestate, want);
	assert_string_equal(sent("tracestate"), want);
}

static void test_tracestate(void **state)
{
	char f[8192], want[8192];

	(void)state;
	state_is("tracestate: rojo=00f067aa0ba902b7,congo=t61rcWkgMzE\r\n",
		 "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
	/* several fields join in order; empty members and OWS go */
	state_is("tracestate: rojo=00f067aa0ba902b7\r\nX-Other: 1\r\n"
		 "TraceState: ,  congo=t61rcWkgMzE ,\t,\r\n",
		 "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
	/* multi-tenant keys, values with spaces inside */
	state_is("tracestate: fw529a3039@dt=a b,0tenant_-*/@s-y_s*/=x,k=v!\"#$%&'()*+-./:;<>?\r\n",
		 "fw529a3039@dt=a b,0tenant_-*/@s-y_s*/=x,k=v!\"#$%&'()*+-./:;<>?");
	state_is("", NULL);
	/* any invalid member drops the whole tracestate */
	state_is("tracestate: rojo=1,Congo=2\r\n", NULL);        /* uppercase key */
	state_is("tracestate: rojo=1,1abc=2\r\n", NULL);         /* simple key with digit */
	state_is("tracestate: rojo=1,@dt=2\r\n", NULL);          /* no tenant */
	state_is("tracestate: rojo=1,t@=2\r\n", NULL);           /* no system */
	state_is("tracestate: rojo=1,t@1dt=2\r\n", NULL);        /* system not lcalpha */
	state_is("tracestate: rojo=1,t@abcdefghijklmno=2\r\n", NULL); /* system of 15 */
	state_is("tracestate: rojo=1,congo\r\n", NULL);          /* no = */
	state_is("tracestate: rojo=1,congo=\r\n", NULL);         /* empty value */
	state_is("tracestate: rojo=a=b\r\n", NULL);              /* = in value */
	state_is("tracestate: rojo=1,rojo=2\r\n", NULL);         /* duplicate key */
	state_is("tracestate: rojo=1\r\ntracestate: rojo=2\r\n", NULL);
	state_is("tracestate: ro jo=1\r\n", NULL);
	state_is("tracestate: rojo=\x80\r\n", NULL);
	state_is("tracestate: rojo =1\r\n", NULL);
	/* a value of 256 is fine, 257 is not; a key of 256 is fine, 257 not */
	memset(want, 0, sizeof(want));
	memcpy(want, "a=", 2);
	memset(want + 2, 'v', 256);
	snprintf(f, sizeof(f), "tracestate: %s\r\n", want);
	state_is(f, want);
	want[2 + 256] = 'v';
	snprintf(f, sizeof(f), "tracestate: %s\r\n", want);
	state_is(f, NULL);
	memset(want, 0, sizeof(want));
	memset(want, 'k', 256);
	strcpy(want + 256, "=1");
	snprintf(f, sizeof(f), "tracestate: %s\r\n", want);
	state_is(f, want);
	memset(want, 0, sizeof(want));
	memset(want, 'k', 257);
	strcpy(want + 257, "=1");
	snprintf(f, sizeof(f), "tracestate: %s\r\n", want);
	state_is(f, NULL);
}

static void test_tracestate_limits(void **state)
{
	char f[16384], want[16384];
	size_t n, w;

	(void)state;
	/* 32 members are kept, 33 drop everything */
	n = (size_t)snprintf(f, sizeof(f), "tracestate: ");
	w = 0;
	for (int i = 0; i < 32; i++) {
		n += (size_t)snprintf(f + n, sizeof(f) - n, "%sk%d=%d", i ? "," : "", i, i);
		w += (size_t)snprintf(want + w, sizeof(want) - w, "%sk%d=%d", i ? "," : "", i, i);
	}
	snprintf(f + n, sizeof(f) - n, "\r\n");
	state_is(f, want);
	snprintf(f + n, sizeof(f) - n, ",k32=32\r\n");
	state_is(f, NULL);

	/* over 512 bytes: members over 128 go first ... */
	n = (size_t)snprintf(f, sizeof(f), "tracestate: a=");
	memset(f + n, 'a', 200);
	n += 200;
	w = 0;
	for (int i = 0; i < 4; i++) {
		n += (size_t)snprintf(f + n, sizeof(f) - n, ",k%d=", i);
		w += (size_t)snprintf(want + w, sizeof(want) - w, "%sk%d=", i ? "," : "", i);
		memset(f + n, 'x', 100);
		memset(want + w, 'x', 100);
		n += 100;
		w += 100;
	}
	want[w] = 0;
	snprintf(f + n, sizeof(f) - n, "\r\n");
	state_is(f, want);
	assert_true(strlen(want) <= 512);
	/* ... then from the end: 6 members of 100 bytes keep 5 */
	n = (size_t)snprintf(f, sizeof(f), "tracestate: ");
	w = 0;
	for (int i = 0; i < 6; i++) {
		n += (size_t)snprintf(f + n, sizeof(f) - n, "%sk%d=", i ? "," : "", i);
		memset(f + n, 'y', 97);
		n += 97;
		if (i < 5) {
			w += (size_t)snprintf(want + w, sizeof(want) - w, "%sk%d=", i ? "," : "", i);
			memset(want + w, 'y', 97);
			w += 97;
		}
	}
	want[w] = 0;
	snprintf(f + n, sizeof(f) - n, "\r\n");
	state_is(f, want);
	assert_int_equal(strlen(want), 5 * 100 + 4);
	/* 513 bytes: members over 128 go from the end (the left ones are
	 * the most recent vendors), only as many as needed */
	memset(want, 0, sizeof(want));
	memcpy(want, "a=", 2);
	memset(want + 2, 'z', 200);
	memcpy(want + 202, ",b=", 3);
	memset(want + 205, 'z', 200);
	memcpy(want + 405, ",c=", 3);
	memset(want + 408, 'z', 105);
	assert_int_equal(strlen(want), 513);
	snprintf(f, sizeof(f), "tracestate: %s\r\n", want);
	memmove(want + 203, want + 406, 108);
	state_is(f, want);
	assert_int_equal(strlen(want), 202 + 1 + 107);
	/* exactly 512 stays whole */
	n = (size_t)snprintf(f, sizeof(f), "tracestate: ");
	w = 0;
	for (int i = 0; i < 4; i++) {
		n += (size_t)snprintf(f + n, sizeof(f) - n, "%sk%d=", i ? "," : "", i);
		w += (size_t)snprintf(want + w, sizeof(want) - w, "%sk%d=", i ? "," : "", i);
		memset(f + n, 'q', i < 3 ? 124 : 125);
		memset(want + w, 'q', i < 3 ? 124 : 125);
		n += i < 3 ? 124 : 125;
		w += i < 3 ? 124 : 125;
	}
	want[w] = 0;
	snprintf(f + n, sizeof(f) - n, "\r\n");
	assert_int_equal(strlen(want), 512);
	state_is(f, want);
}

static void test_b3_multi(void **state)
{
	struct rnd r = { .fixed = -1 };

	(void)state;
	from("X-B3-TraceId: 80f198ee56343ba864fe8b2a57d3eff7\r\n"
	     "X-B3-ParentSpanId: 05e3ac9a4f6e3b90\r\n"
	     "X-B3-SpanId: e457b5a2e4d86bd1\r\n"
	     "X-B3-Sampled: 1\r\n", &r);
	assert_int_equal(tr.origin, SL_TRACE_B3);
	hex_is(tr.trace_id, 16, "80f198ee56343ba864fe8b2a57d3eff7");
	hex_is(tr.parent_id, 8, "e457b5a2e4d86bd1");
	assert_int_equal(tr.sampled, 1);
	assert_false(tr.b3_single);
	assert_string_equal(sent("x-b3-traceid"), "80f198ee56343ba864fe8b2a57d3eff7");
	assert_string_equal(sent("x-b3-spanid"), "2122232425262728");
	assert_string_equal(sent("x-b3-parentspanid"), "e457b5a2e4d86bd1");
	assert_string_equal(sent("x-b3-sampled"), "1");
	assert_string_equal(sent("traceparent"),
			    "00-80f198ee56343ba864fe8b2a57d3eff7-2122232425262728-01");
	assert_null(sent("b3"));

	/* 64-bit trace id: padded in traceparent, 64 in B3; not sampled */
	from("x-b3-traceid: a3ce929d0e0e4736\r\nx-b3-spanid: 00f067aa0ba902b7\r\n"
	     "x-b3-sampled: 0\r\n", &r);
	assert_int_equal(tr.origin, SL_TRACE_B3);
	assert_true(tr.b3_64);
	assert_string_equal(sent("x-b3-traceid"), "a3ce929d0e0e4736");
	assert_memory_equal(sent("traceparent"), "00-0000000000000000a3ce929d0e0e4736-", 36);
	assert_string_equal(sent("x-b3-sampled"), "0");
	assert_string_equal(sent("traceparent") + 52, "-00");

	/* debug: x-b3-flags instead of x-b3-sampled, sampled in traceparent */
	from("x-b3-traceid: a3ce929d0e0e4736\r\nx-b3-spanid: 00f067aa0ba902b7\r\n"
	     "x-b3-flags: 1\r\n", &r);
	assert_true(tr.debug);
	assert_string_equal(sent("x-b3-flags"), "1");
	assert_null(sent("x-b3-sampled"));
	assert_string_equal(sent("traceparent") + 52, "-01");

	/* undecided: no x-b3-sampled, flags 00; "true" of old clients */
	from("x-b3-traceid: a3ce929d0e0e4736\r\nx-b3-spanid: 00f067aa0ba902b7\r\n", &r);
	assert_int_equal(tr.sampled, -1);
	assert_null(sent("x-b3-sampled"));
	from("x-b3-traceid: a3ce929d0e0e4736\r\nx-b3-spanid: 00f067aa0ba902b7\r\n"
	     "x-b3-sampled: true\r\n", &r);
	assert_int_equal(tr.sampled, 1);

	/* invalid: a new trace */
	static const char *const bad[] = {
		"x-b3-traceid: a3ce929d0e0e4736\r\n",
		"x-b3-spanid: 00f067aa0ba902b7\r\n",
		"x-b3-traceid: A3CE929D0E0E4736\r\nx-b3-spanid: 00f067aa0ba902b7\r\n",
		"x-b3-traceid: a3ce929d0e0e473\r\nx-b3-spanid: 00f067aa0ba902b7\r\n",
		"x-b3-traceid: 0000000000000000\r\nx-b3-spanid: 00f067aa0ba902b7\r\n",
		"x-b3-traceid: a3ce929d0e0e4736\r\nx-b3-spanid: 0000000000000000\r\n",
		"x-b3-traceid: a3ce929d0e0e4736\r\nx-b3-spanid: 00f067aa0ba902b\r\n",
		"x-b3-traceid: a3ce929d0e0e4736\r\nx-b3-spanid: 00f067aa0ba902b7\r\n"
		"x-b3-parentspanid: xyz\r\n",
		"x-b3-traceid: a3ce929d0e0e4736\r\nx-b3-traceid: a3ce929d0e0e4736\r\n"
		"x-b3-spanid: 00f067aa0ba902b7\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = (struct rnd){ .fixed = -1 };
		from(bad[i], &r);
		if (tr.origin != SL_TRACE_NEW)
			fail_msg("accepted B3 \"%s\"", bad[i]);
		assert_false(tr.has_parent);
	}
	/* a decision without ids carries over to the new trace */
	r = (struct rnd){ .fixed = -1 };
	from("x-b3-sampled: 0\r\n", &r);
	assert_int_equal(tr.origin, SL_TRACE_NEW);
	assert_int_equal(tr.sampled, 0);
	assert_string_equal(sent("x-b3-sampled"), "0");
}

static void test_b3_single(void **state)
{
	struct rnd r = { .fixed = -1 };

	(void)state;
	/* b3-propagation's example, all four fields */
	r = (struct rnd){ .fixed = -1 };
	from("b3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90\r\n", &r);
	assert_int_equal(tr.origin, SL_TRACE_B3_SINGLE);
	hex_is(tr.trace_id, 16, "80f198ee56343ba864fe8b2a57d3eff7");
	hex_is(tr.parent_id, 8, "e457b5a2e4d86bd1");
	assert_int_equal(tr.sampled, 1);
	assert_true(tr.b3_single);
	assert_string_equal(sent("b3"),
			    "80f198ee56343ba864fe8b2a57d3eff7-2122232425262728-1-e457b5a2e4d86bd1");
	assert_string_equal(sent("x-b3-spanid"), "2122232425262728");

	/* without sampling: none sent back, nor a parent (grammar) */
	r = (struct rnd){ .fixed = -1 };
	from("b3: a3ce929d0e0e4736-00f067aa0ba902b7\r\n", &r);
	assert_int_equal(tr.origin, SL_TRACE_B3_SINGLE);
	assert_int_equal(tr.sampled, -1);
	assert_string_equal(sent("b3"), "a3ce929d0e0e4736-2122232425262728");
	r = (struct rnd){ .fixed = -1 };
	from("b3: a3ce929d0e0e4736-00f067aa0ba902b7-d\r\n", &r);
	assert_true(tr.debug);
	assert_string_equal(sent("b3"), "a3ce929d0e0e4736-2122232425262728-d-00f067aa0ba902b7");
	assert_string_equal(sent("x-b3-flags"), "1");
	r = (struct rnd){ .fixed = -1 };
	from("b3: a3ce929d0e0e4736-00f067aa0ba902b7-0\r\n", &r);
	assert_int_equal(tr.sampled, 0);

	/* the single header wins over the multi ones */
	r = (struct rnd){ .fixed = -1 };
	from("b3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1\r\n"
	     "x-b3-traceid: a3ce929d0e0e4736\r\nx-b3-spanid: 00f067aa0ba902b7\r\n", &r);
	assert_int_equal(tr.origin, SL_TRACE_B3_SINGLE);
	hex_is(tr.trace_id, 16, "80f198ee56343ba864fe8b2a57d3eff7");
	/* an invalid one falls back to them */
	r = (struct rnd){ .fixed = -1 };
	from("b3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-x\r\n"
	     "x-b3-traceid: a3ce929d0e0e4736\r\nx-b3-spanid: 00f067aa0ba902b7\r\n", &r);
	assert_int_equal(tr.origin, SL_TRACE_B3);
	assert_true(tr.b3_single);   /* the client speaks b3: it gets one */
	/* and traceparent wins over both */
	r = (struct rnd){ .fixed = -1 };
	from("b3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1\r\n"
	     "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00\r\n", &r);
	assert_int_equal(tr.origin, SL_TRACE_W3C);
	assert_string_equal(sent("b3"),
			    "4bf92f3577b34da6a3ce929d0e0e4736-2122232425262728-0-00f067aa0ba902b7");

	/* sampling alone: a new trace with that decision */
	r = (struct rnd){ .fixed = -1 };
	from("b3: 0\r\n", &r);
	assert_int_equal(tr.origin, SL_TRACE_NEW);
	assert_int_equal(tr.sampled, 0);
	r = (struct rnd){ .fixed = -1 };
	from("b3: d\r\nx-b3-sampled: 0\r\n", &r);
	assert_int_equal(tr.origin, SL_TRACE_NEW);
	assert_true(tr.debug);
	assert_int_equal(tr.sampled, 1);

	static const char *const bad[] = {
		"b3: 80f198ee56343ba864fe8b2a57d3eff7\r\n",
		"b3: 80f198ee56343ba864fe8b2a57d3eff7-\r\n",
		"b3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-\r\n",
		"b3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-true\r\n",
		"b3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b9\r\n",
		"b3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90-1\r\n",
		"b3: 80F198EE56343BA864FE8B2A57D3EFF7-E457B5A2E4D86BD1\r\n",
		"b3: 00000000000000000000000000000000-e457b5a2e4d86bd1\r\n",
		"b3: true\r\n",
		"b3: 1\r\nb3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = (struct rnd){ .fixed = -1 };
		from(bad[i], &r);
		if (tr.origin != SL_TRACE_NEW)
			fail_msg("accepted b3 \"%s\"", bad[i]);
		assert_int_equal(tr.sampled, -1);
	}
}

static void test_request_id(void **state)
{
	struct rnd r = { .fixed = -1 };
	char f[512], id[200];

	(void)state;
	from("x-request-id: 9f4c1b4e-req!~\r\n", &r);
	assert_true(tr.request_id_kept);
	assert_string_equal(sent("x-request-id"), "9f4c1b4e-req!~");
	/* 128 visible bytes kept */
	memset(id, 'r', 128);
	id[128] = 0;
	snprintf(f, sizeof(f), "X-Request-Id: %s\r\n", id);
	from(f, &r);
	assert_string_equal(tr.request_id, id);
	/* the first of two */
	from("x-request-id: one\r\nx-request-id: two\r\n", &r);
	assert_string_equal(tr.request_id, "one");

	/* otherwise a UUIDv4 from the random source */
	static const char *const bad[] = {
		"", "x-request-id: \r\n", "x-request-id: a b\r\n", "x-request-id: caf\xc3\xa9\r\n",
		"x-request-id: a\tb\r\n", NULL,
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *fields = bad[i];

		if (!fields) {   /* 129 bytes */
			memset(id, 'r', 129);
			id[129] = 0;
			snprintf(f, sizeof(f), "x-request-id: %s\r\n", id);
			fields = f;
		}
		r = (struct rnd){ .fixed = -1 };
		from(fields, &r);
		assert_false(tr.request_id_kept);
		/* trace id took 0x11..0x20, then the UUID 0x21..0x30 */
		assert_string_equal(tr.request_id, "21222324-2526-4728-a92a-2b2c2d2e2f30");
	}
	/* version and variant bits whatever the random bytes */
	r = (struct rnd){ .fixed = 0xff };
	from("", &r);
	assert_string_equal(tr.request_id, "ffffffff-ffff-4fff-bfff-ffffffffffff");
	r = (struct rnd){ .fixed = 0 };
	from("", &r);
	assert_string_equal(tr.request_id, "00000000-0000-4000-8000-000000000000");
}

static void test_spans_and_random(void **state)
{
	struct rnd r = { .fixed = -1 };
	uint8_t first[8];
	char hex[33];

	(void)state;
	from("traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n", &r);
	memcpy(first, tr.span_id, 8);
	/* a retry: new span, same trace and parent */
	assert_int_equal(sl_trace_new_span(&tr, rnd_fn, &r), 0);
	assert_memory_not_equal(first, tr.span_id, 8);
	hex_is(tr.trace_id, 16, "4bf92f3577b34da6a3ce929d0e0e4736");
	hex_is(tr.parent_id, 8, "00f067aa0ba902b7");
	assert_string_equal(sent("traceparent"),
			    "00-4bf92f3577b34da6a3ce929d0e0e4736-292a2b2c2d2e2f30-01");
	sl_trace_id_hex(&tr, hex);
	assert_string_equal(hex, "4bf92f3577b34da6a3ce929d0e0e4736");

	/* an all-zero random source never makes an all-zero id */
	r = (struct rnd){ .fixed = 0 };
	from("", &r);
	hex_is(tr.trace_id, 16, "00000000000000000000000000000001");
	hex_is(tr.span_id, 8, "0000000000000001");
	assert_true(r.calls >= 4);

	/* a failing source fails the call with its error */
	r = (struct rnd){ .fixed = -1, .fail = -EIO };
	sl_h1_msg_init(&msg, NULL);
	strcpy(req, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(sl_h1_parse_request(&msg, req, strlen(req)), (ssize_t)strlen(req));
	assert_int_equal(sl_trace_from_request(&tr, &msg, req, rnd_fn, &r), -EIO);
	assert_int_equal(sl_trace_new_span(&tr, rnd_fn, &r), -EIO);
	assert_int_equal(sl_trace_from_request(&tr, &msg, req, NULL, &r), -EINVAL);
	assert_int_equal(sl_trace_from_request(NULL, &msg, req, rnd_fn, &r), -EINVAL);

	/* getrandom works and is not all zero */
	uint8_t b[32] = { 0 };

	assert_int_equal(sl_trace_getrandom(NULL, b, sizeof(b)), 0);
	assert_false(b[0] == 0 && !memcmp(b, b + 1, sizeof(b) - 1));
}

static void test_headers_list(void **state)
{
	struct rnd r = { .fixed = -1 };
	struct sl_h1_extra ex[SL_TRACE_HEADERS_MAX];
	ssize_t n;

	(void)state;
	/* everything at once: 9 fields, in this order */
	from("traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
	     "tracestate: rojo=1\r\nb3: 0\r\nx-b3-flags: 1\r\nx-request-id: r\r\n", &r);
	tr.debug = true;
	tr.sampled = 1;
	n = sl_trace_headers(&tr, ex, SL_TRACE_HEADERS_MAX);
	assert_int_equal(n, 8);   /* debug replaces sampled */
	static const char *const names[] = {
		"traceparent", "tracestate", "x-b3-traceid", "x-b3-spanid",
		"x-b3-parentspanid", "x-b3-flags", "b3", "x-request-id",
	};
	for (ssize_t i = 0; i < n; i++)
		assert_string_equal(ex[i].name, names[i]);
	for (size_t cap = 0; cap < 8; cap++)
		assert_int_equal(sl_trace_headers(&tr, ex, cap), -ENOSPC);
	assert_int_equal(sl_trace_headers(NULL, ex, 9), -EINVAL);
	assert_int_equal(sl_trace_headers(&tr, NULL, 9), -EINVAL);
}

/* with http/hdrs.c: the client's trace fields are replaced, not doubled */
static void test_with_hdrs(void **state)
{
	struct rnd r = { .fixed = -1 };
	struct sl_h1_extra ex[SL_TRACE_HEADERS_MAX];
	const struct sl_http_header_ops *ops[] = { &sl_trace_header_ops };
	char out[4096];
	ssize_t n, len;

	(void)state;
	assert_int_equal(sl_hdrs_ops_check(&sl_trace_header_ops, NULL, 0), 0);
	from("traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
	     "TraceState: rojo=1\r\nX-B3-TraceId: 80f198ee56343ba864fe8b2a57d3eff7\r\n"
	     "x-b3-spanid: e457b5a2e4d86bd1\r\nx-b3-parentspanid: 05e3ac9a4f6e3b90\r\n"
	     "x-b3-sampled: 1\r\nx-b3-flags: 0\r\nb3: 1\r\nx-request-id: abc\r\n"
	     "x-keep: 1\r\n", &r);
	n = sl_trace_headers(&tr, ex, SL_TRACE_HEADERS_MAX);
	assert_int_equal(n, 8);
	len = sl_hdrs_request(&msg, req, ops, 1, ex, (size_t)n, 0, out, sizeof(out));
	assert_true(len > 0);
	out[len] = 0;
	assert_string_equal(out,
		"GET / HTTP/1.1\r\n"
		"Host: svc\r\n"
		"x-keep: 1\r\n"
		"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-1112131415161718-01\r\n"
		"tracestate: rojo=1\r\n"
		"x-b3-traceid: 4bf92f3577b34da6a3ce929d0e0e4736\r\n"
		"x-b3-spanid: 1112131415161718\r\n"
		"x-b3-parentspanid: 00f067aa0ba902b7\r\n"
		"x-b3-sampled: 1\r\n"
		"b3: 4bf92f3577b34da6a3ce929d0e0e4736-1112131415161718-1-00f067aa0ba902b7\r\n"
		"x-request-id: abc\r\n"
		"connection: keep-alive\r\n"
		"\r\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_traceparent_valid),
		cmocka_unit_test(test_traceparent_invalid),
		cmocka_unit_test(test_tracestate),
		cmocka_unit_test(test_tracestate_limits),
		cmocka_unit_test(test_b3_multi),
		cmocka_unit_test(test_b3_single),
		cmocka_unit_test(test_request_id),
		cmocka_unit_test(test_spans_and_random),
		cmocka_unit_test(test_headers_list),
		cmocka_unit_test(test_with_hdrs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target of http/hdrs.c and http/trace.c.  The first input
 * byte picks the mode (bit 0: response, bits 1-3: method of the request it
 * answers, bit 4: SL_HDRS_UPGRADE, bit 5: SL_HDRS_CLOSE, bit 6: header ops
 * and an extra field, bit 7: trace context round trip); the rest is a
 * message head parsed by http/h1.c.  When it is accepted, the head built
 * from it must parse again, with the same start line and framing, and
 * carry exactly the received fields the rules keep (in order, same names
 * and values), then the ops' and extra fields, then one Connection field.
 * -ENOSPC only for a buffer too small, and the exact size always
 * suffices.  For a request with bit 7, the trace context read from it,
 * sent with sl_trace_headers() and sl_trace_header_ops, is read back from
 * the built head as the same trace (same id, our span as parent, same
 * tracestate, request id and sampling).  No crash, no sanitizer report. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/hdrs.h"
#include "http/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool name_is(const char *buf, struct sl_h1_span s, const char *lit)
{
	return s.len == strlen(lit) && !strncasecmp(buf + s.off, lit, s.len);
}

static bool same(const char *a, struct sl_h1_span sa, const char *b, struct sl_h1_span sb)
{
	return sa.len == sb.len && !memcmp(a + sa.off, b + sb.off, sa.len);
}

/* the fuzzer's own statement of the rules: whether received field @i
 * goes on */
static bool kept(const struct sl_h1_msg *m, const char *buf, size_t i,
		 unsigned flags, bool use_ops)
{
	struct sl_h1_span n = m->hdr[i].name;

	if (use_ops && (name_is(buf, n, "x-drop") || name_is(buf, n, "x-set")))
		return false;
	if (name_is(buf, n, "content-length") || name_is(buf, n, "transfer-encoding") ||
	    name_is(buf, n, "host"))
		return true;
	if (name_is(buf, n, "upgrade"))
		return flags & SL_HDRS_UPGRADE;
	if (name_is(buf, n, "trailer"))
		return false;
	return !sl_h1_is_hop_by_hop(m, buf, i);
}

/* deterministic ids: a counter, so that runs repeat */
static int rnd_fn(void *arg, void *buf, size_t len)
{
	uint8_t *b = buf;
	uint32_t *ctr = arg;

	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(++*ctr * 0x9d);
	return 0;
}

static void check_trace(const struct sl_h1_msg *m, const char *buf, unsigned flags)
{
	static struct sl_trace t, t2;
	static struct sl_h1_msg b;
	static char out[1 << 17];
	const struct sl_http_header_ops *ops[] = { &sl_trace_header_ops };
	struct sl_h1_extra ex[SL_TRACE_HEADERS_MAX];
	struct sl_h1_limits big;
	uint32_t ctr = 0;
	ssize_t n, len;

	if (sl_trace_from_request(&t, m, buf, rnd_fn, &ctr))
		abort();
	n = sl_trace_headers(&t, ex, SL_TRACE_HEADERS_MAX);
	if (n <= 0)
		abort();
	len = sl_hdrs_request(m, buf, ops, 1, ex, (size_t)n, flags, out, sizeof(out));
	if (len <= 0)
		abort();
	sl_h1_limits_default(&big);
	big.max_head = sizeof(out);
	big.max_line = sizeof(out);
	sl_h1_msg_init(&b, &big);
	if (sl_h1_parse_request(&b, out, (size_t)len) != len)
		abort();
	if (sl_trace_from_request(&t2, &b, out, rnd_fn, &ctr))
		abort();
	if (t2.origin != SL_TRACE_W3C || memcmp(t2.trace_id, t.trace_id, 16) ||
	    !t2.has_parent || memcmp(t2.parent_id, t.span_id, 8) ||
	    t2.sampled != (t.sampled == 1) || strcmp(t2.tracestate, t.tracestate) ||
	    strcmp(t2.request_id, t.request_id) || !t2.request_id_kept ||
	    t2.b3_single != t.b3_single)
		abort();
	if (strlen(t.tracestate) > SL_TRACE_STATE_MAX)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sl_h1_msg m, b;
	static char out[1 << 17];
	static const char *const rm[] = { "x-drop" };
	static const struct sl_label set[] = { { "x-set", "s" } };
	static const struct sl_label add[] = { { "x-add", "a" } };
	static const struct sl_http_header_ops ops = {
		.remove = rm, .n_remove = 1, .set = set, .n_set = 1, .add = add, .n_add = 1,
	};
	const struct sl_http_header_ops *opv[] = { &ops };
	const struct sl_h1_extra extra[] = { { "x-extra", "e" } };
	struct sl_h1_limits lim, big;
	const char *buf = (const char *)data + 1;
	size_t len, nkept = 0, j;
	bool resp, use_ops;
	enum sl_h1_method rm_meth;
	unsigned flags;
	ssize_t r, n;

	if (size < 1 || size > 65536)
		return 0;
	resp = data[0] & 1;
	rm_meth = (enum sl_h1_method)((data[0] >> 1) & 7);
	flags = (data[0] & 0x10 ? SL_HDRS_UPGRADE : 0) | (data[0] & 0x20 ? SL_HDRS_CLOSE : 0);
	use_ops = (data[0] & 0x40) && !(data[0] & 0x80);
	len = size - 1;

	sl_h1_limits_default(&lim);
	lim.max_headers = 90;   /* room for what the builder adds */
	sl_h1_msg_init(&m, &lim);
	r = resp ? sl_h1_parse_response(&m, buf, len, rm_meth) :
		   sl_h1_parse_request(&m, buf, len);
	if (r <= 0)
		return 0;

	if (resp)
		n = sl_hdrs_response(&m, buf, use_ops ? opv : NULL, use_ops,
				     use_ops ? extra : NULL, use_ops, flags, out, sizeof(out));
	else
		n = sl_hdrs_request(&m, buf, use_ops ? opv : NULL, use_ops,
				    use_ops ? extra : NULL, use_ops, flags, out, sizeof(out));
	if (n <= 0)
		abort();
	/* one byte short fails cleanly; the exact size works */
	if ((resp ? sl_hdrs_response(&m, buf, use_ops ? opv : NULL, use_ops,
				     use_ops ? extra : NULL, use_ops, flags, out, (size_t)n - 1) :
		    sl_hdrs_request(&m, buf, use_ops ? opv : NULL, use_ops,
				    use_ops ? extra : NULL, use_ops, flags, out, (size_t)n - 1)) != -ENOSPC)
		abort();
	if ((resp ? sl_hdrs_response(&m, buf, use_ops ? opv : NULL, use_ops,
				     use_ops ? extra : NULL, use_ops, flags, out, (size_t)n) :
		    sl_hdrs_request(&m, buf, use_ops ? opv : NULL, use_ops,
				    use_ops ? extra : NULL, use_ops, flags, out, (size_t)n)) != n)
		abort();

	/* it parses again */
	sl_h1_limits_default(&big);
	big.max_head = sizeof(out);
	big.max_line = sizeof(out);
	sl_h1_msg_init(&b, &big);
	r = resp ? sl_h1_parse_response(&b, out, (size_t)n, rm_meth) :
		   sl_h1_parse_request(&b, out, (size_t)n);
	if (r != n)
		abort();

	/* same start line and framing */
	if (resp) {
		if (b.status != m.status || b.version != 11)
			abort();
		if (m.reason_phrase.len && !same(out, b.reason_phrase, buf, m.reason_phrase))
			abort();
	} else {
		if (!same(out, b.method, buf, m.method) || !same(out, b.target, buf, m.target) ||
		    b.version != m.version)
			abort();
	}
	if (b.body != m.body || b.content_length != m.content_length)
		abort();

	/* the received fields the rules keep, in order, then the added ones */
	for (size_t i = 0; i < m.nhdr; i++) {
		if (!kept(&m, buf, i, flags, use_ops))
			continue;
		if (nkept >= b.nhdr || !same(out, b.hdr[nkept].name, buf, m.hdr[i].name) ||
		    !same(out, b.hdr[nkept].value, buf, m.hdr[i].value))
			abort();
		nkept++;
	}
	j = nkept;
	if (use_ops) {
		static const char *const added[][2] = {
			{ "x-set", "s" }, { "x-add", "a" }, { "x-extra", "e" },
		};

		for (size_t k = 0; k < 3; k++, j++)
			if (j >= b.nhdr || !name_is(out, b.hdr[j].name, added[k][0]) ||
			    !name_is(out, b.hdr[j].value, added[k][1]))
				abort();
	}
	if (j + 1 != b.nhdr || !name_is(out, b.hdr[j].name, "connection"))
		abort();
	if (!name_is(out, b.hdr[j].value,
		     flags & SL_HDRS_UPGRADE ? "upgrade" :
		     (flags & SL_HDRS_CLOSE) || (resp && m.body == SL_H1_BODY_UNTIL_CLOSE) ?
		     "close" : "keep-alive"))
		abort();
	if (!resp && (data[0] & 0x80))
		check_trace(&m, buf, flags);
	return 0;
}

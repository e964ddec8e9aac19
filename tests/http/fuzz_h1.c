/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target of http/h1.c.  The first input byte picks the mode
 * (bit 0: response, bits 1-3: method of the request it answers, bit 4:
 * small limits so that every limit is reachable); the rest is the message.
 * Invariants: no crash or sanitizer report; consumed <= len; every span and
 * error position inside the buffer; feeding one byte at a time gives
 * exactly the result of feeding it whole; a full buffer never asks for
 * more; then the same for the chunked decoder over the bytes after a head
 * that announces a chunked body. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/h1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_span(struct sl_h1_span s, size_t end)
{
	if ((size_t)s.off + s.len > end)
		abort();
}

static ssize_t feed(struct sl_h1_msg *m, bool resp, enum sl_h1_method rm,
		    const char *buf, size_t len)
{
	return resp ? sl_h1_parse_response(m, buf, len, rm) :
		      sl_h1_parse_request(m, buf, len);
}

static void check_chunked(const char *buf, size_t len,
			  const struct sl_h1_limits *lim)
{
	struct sl_h1_chunked a, b;
	size_t used = 0, off, dl;
	uint64_t data_a = 0, data_b = 0;
	ssize_t r = 0;

	sl_h1_chunked_init(&a, lim);
	while (used < len && !a.done) {
		r = sl_h1_chunked(&a, buf + used, len - used, &off, &dl);
		if (r < 0)
			break;
		if ((size_t)r > len - used || off + dl > (size_t)r ||
		    (r == 0 && !a.done))
			abort();
		data_a += dl;
		used += (size_t)r;
	}
	if (r < 0 && (r != -EBADMSG || a.err_pos > len || !a.reason ||
		      (a.err_status != 400 && a.err_status != 413 &&
		       a.err_status != 431)))
		abort();
	/* on error the failing call's data run is not handed out */
	if (r >= 0 && data_a != a.body_len)
		abort();

	sl_h1_chunked_init(&b, lim);
	ssize_t rb = 0;

	for (size_t i = 0; i < len && !b.done; i++) {
		rb = sl_h1_chunked(&b, buf + i, 1, &off, &dl);
		if (rb < 0)
			break;
		if (rb != 1 || off + dl > 1)
			abort();
		data_b += dl;
	}
	if ((r < 0) != (rb < 0) || a.done != b.done ||
	    (r >= 0 && data_a != data_b) || a.body_len != b.body_len ||
	    a.reason != b.reason || a.err_pos != b.err_pos ||
	    a.err_state != b.err_state)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_h1_limits lim;
	static struct sl_h1_msg m, t;
	enum sl_h1_method rm;
	const char *buf;
	size_t len;
	bool resp;
	ssize_t r, rt = 0;

	if (size < 1)
		return 0;
	resp = data[0] & 1;
	rm = (enum sl_h1_method)((data[0] >> 1) & 7);
	sl_h1_limits_default(&lim);
	if (data[0] & 0x10) {
		lim.max_head = 512;
		lim.max_line = 128;
		lim.max_headers = 8;
		lim.max_body = 1000;
	}
	buf = (const char *)data + 1;
	len = size - 1;

	sl_h1_msg_init(&m, &lim);
	r = feed(&m, resp, rm, buf, len);
	if (r > 0) {
		if ((size_t)r > len || m.head_len != (size_t)r ||
		    m.state != SL_H1_S_DONE || m.nhdr > lim.max_headers)
			abort();
		check_span(m.method, (size_t)r);
		check_span(m.target, (size_t)r);
		check_span(m.reason_phrase, (size_t)r);
		for (size_t i = 0; i < m.nhdr; i++) {
			check_span(m.hdr[i].name, (size_t)r);
			check_span(m.hdr[i].value, (size_t)r);
			if (!m.hdr[i].name.len)
				abort();
			(void)sl_h1_is_hop_by_hop(&m, buf, i);
		}
		if (m.version != 10 && m.version != 11)
			abort();
		if (!resp && m.version == 11 && m.host < 0)
			abort();
		if ((m.flags & SL_H1_F_CLEN) && (m.flags & SL_H1_F_TE))
			abort();
	} else if (r == 0) {
		if (len >= lim.max_head)
			abort(); /* a full buffer never asks for more */
	} else if (r != -EBADMSG || m.err_pos > len || !m.reason ||
		   m.state != SL_H1_S_ERROR || !m.err_status) {
		abort();
	}

	/* byte by byte: the same answer */
	sl_h1_msg_init(&t, &lim);
	for (size_t n = 0; n <= len; n++) {
		rt = feed(&t, resp, rm, buf, n);
		if (rt != 0)
			break;
	}
	if (rt != r || t.reason != m.reason || t.err_pos != m.err_pos ||
	    t.err_state != m.err_state || t.err_status != m.err_status)
		abort();
	if (r > 0 && (t.body != m.body || t.flags != m.flags ||
		      t.nhdr != m.nhdr || t.content_length != m.content_length ||
		      memcmp(t.hdr, m.hdr, m.nhdr * sizeof(m.hdr[0]))))
		abort();

	if (r > 0 && m.body == SL_H1_BODY_CHUNKED)
		check_chunked(buf + r, len - (size_t)r, &lim);
	/* the decoder alone on the whole input too */
	if (data[0] & 0x20)
		check_chunked(buf, len, &lim);
	return 0;
}

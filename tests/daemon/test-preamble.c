/* SPDX-License-Identifier: Apache-2.0 */
/* Preamble: encode/parse round trips and every class of bad input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "preamble.h"

static void full(struct sl_preamble *p)
{
	memset(p, 0, sizeof(*p));
	p->dst_port = 8080;
	p->orig_dst_family = AF_INET;
	memcpy(p->orig_dst, "\xc6\x12\x02\x0b", 4);
	strcpy(p->src_name, "pod-a");
	strcpy(p->src_ns, "default");
	p->has_flow_id = true;
	p->flow_id = 0x0102030405060708ULL;
}

static ssize_t enc(const struct sl_preamble *p, uint8_t *buf)
{
	ssize_t n = sl_preamble_encode(p, buf, SL_PREAMBLE_MAX_LEN);
	assert_true(n > 0);
	return n;
}

static void test_roundtrip(void **state)
{
	struct sl_preamble p, q;
	uint8_t buf[SL_PREAMBLE_MAX_LEN + 16];
	size_t used = 0;
	ssize_t n;

	full(&p);
	n = enc(&p, buf);
	/* header: magic, version, flags, length */
	assert_memory_equal(buf, "SLPR\x01\x00", 6);
	assert_int_equal(buf[6] << 8 | buf[7], n);
	/* bytes after the preamble are left alone */
	memcpy(buf + n, "hello", 5);
	assert_int_equal(sl_preamble_parse(buf, (size_t)n + 5, &q, &used), 0);
	assert_int_equal(used, (size_t)n);
	assert_int_equal(q.dst_port, 8080);
	assert_int_equal(q.orig_dst_family, AF_INET);
	assert_memory_equal(q.orig_dst, p.orig_dst, 4);
	assert_string_equal(q.src_name, "pod-a");
	assert_string_equal(q.src_ns, "default");
	assert_true(q.has_flow_id);
	assert_true(q.flow_id == 0x0102030405060708ULL);

	/* IPv6 and minimal forms */
	memset(&p, 0, sizeof(p));
	p.dst_port = 1;
	n = enc(&p, buf);
	assert_int_equal(n, SL_PREAMBLE_HDR_LEN + 4);
	assert_int_equal(sl_preamble_parse(buf, (size_t)n, &q, &used), 0);
	assert_int_equal(q.dst_port, 1);
	assert_int_equal(q.orig_dst_family, 0);
	assert_false(q.has_flow_id);
	assert_string_equal(q.src_name, "");
	p.orig_dst_family = AF_INET6;
	memset(p.orig_dst, 0xfd, 16);
	n = enc(&p, buf);
	assert_int_equal(sl_preamble_parse(buf, (size_t)n, &q, &used), 0);
	assert_int_equal(q.orig_dst_family, AF_INET6);
	assert_memory_equal(q.orig_dst, p.orig_dst, 16);

	/* longest names fit in the bound */
	full(&p);
	memset(p.src_name, 'n', SL_PREAMBLE_NAME_MAX);
	memset(p.src_ns, 's', SL_PREAMBLE_NS_MAX);
	p.orig_dst_family = AF_INET6;
	n = enc(&p, buf);
	assert_true(n <= SL_PREAMBLE_MAX_LEN);
	assert_int_equal(sl_preamble_parse(buf, (size_t)n, &q, &used), 0);
	assert_int_equal(strlen(q.src_name), SL_PREAMBLE_NAME_MAX);
}

static void test_encode_invalid(void **state)
{
	struct sl_preamble p;
	uint8_t buf[SL_PREAMBLE_MAX_LEN];

	full(&p);
	p.dst_port = 0;
	assert_int_equal(sl_preamble_encode(&p, buf, sizeof(buf)), -EINVAL);
	full(&p);
	strcpy(p.src_name, "bad name");
	assert_int_equal(sl_preamble_encode(&p, buf, sizeof(buf)), -EINVAL);
	full(&p);
	p.orig_dst_family = 99;
	assert_int_equal(sl_preamble_encode(&p, buf, sizeof(buf)), -EINVAL);
	full(&p);
	assert_int_equal(sl_preamble_encode(&p, buf, 12), -ENOSPC);
	assert_int_equal(sl_preamble_encode(&p, buf, 4), -ENOSPC);
	full(&p);
	memset(p.src_ns, 's', SL_PREAMBLE_NS_MAX + 1);
	assert_int_equal(sl_preamble_encode(&p, buf, sizeof(buf)), -EINVAL);
}

static void test_incremental(void **state)
{
	struct sl_preamble p, q;
	uint8_t buf[SL_PREAMBLE_MAX_LEN];
	size_t used;
	ssize_t n;

	full(&p);
	n = enc(&p, buf);
	for (size_t i = 0; i < (size_t)n; i++) {
		ssize_t need = sl_preamble_need(buf, i);
		if (i < SL_PREAMBLE_HDR_LEN)
			assert_int_equal(need, SL_PREAMBLE_HDR_LEN);
		else
			assert_int_equal(need, n);
		assert_int_equal(sl_preamble_parse(buf, i, &q, &used), -EAGAIN);
	}
}

/* Build a preamble by hand: header + raw TLV bytes */
static size_t raw(uint8_t *buf, const void *tlvs, size_t len)
{
	memcpy(buf, "SLPR\x01\x00", 6);
	buf[6] = (uint8_t)((len + 8) >> 8);
	buf[7] = (uint8_t)(len + 8);
	memcpy(buf + 8, tlvs, len);
	return len + 8;
}

#define PORT "\x01\x02\x1f\x90"

static int parse_raw(const void *tlvs, size_t len)
{
	uint8_t buf[1024];
	struct sl_preamble q;
	size_t used;
	size_t n = raw(buf, tlvs, len);

	return sl_preamble_parse(buf, n, &q, &used);
}

static void test_bad_header(void **state)
{
	uint8_t buf[64];
	struct sl_preamble q;
	size_t used, n;

	n = raw(buf, PORT, 4);
	assert_int_equal(sl_preamble_parse(buf, n, &q, &used), 0);

	/* a plaintext client fails on its first byte */
	assert_int_equal(sl_preamble_need((const uint8_t *)"GET / HTTP/1.1", 1), -EPROTO);
	assert_int_equal(sl_preamble_parse((const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18, &q, &used), -EPROTO);
	buf[0] = 'X';
	assert_int_equal(sl_preamble_parse(buf, n, &q, &used), -EPROTO);
	buf[0] = 'S';
	buf[4] = 2; /* version */
	assert_int_equal(sl_preamble_parse(buf, n, &q, &used), -EPROTONOSUPPORT);
	buf[4] = 0;
	assert_int_equal(sl_preamble_parse(buf, n, &q, &used), -EPROTONOSUPPORT);
	buf[4] = 1;
	buf[5] = 0x80; /* flags */
	assert_int_equal(sl_preamble_parse(buf, n, &q, &used), -EPROTO);
	buf[5] = 0;
	buf[6] = 0x02; /* 512 + 12: too long */
	assert_int_equal(sl_preamble_parse(buf, n, &q, &used), -EMSGSIZE);
	buf[6] = 0;
	buf[7] = 8; /* shorter than one port TLV */
	assert_int_equal(sl_preamble_parse(buf, n, &q, &used), -EMSGSIZE);
	buf[7] = 0;
	assert_int_equal(sl_preamble_parse(buf, n, &q, &used), -EMSGSIZE);
}

static void test_bad_tlvs(void **state)
{
	/* missing port */
	assert_int_equal(parse_raw("\x83\x08\1\2\3\4\5\6\7\x08", 10), -EPROTO);
	/* port 0, wrong port length */
	assert_int_equal(parse_raw("\x01\x02\x00\x00", 4), -EPROTO);
	assert_int_equal(parse_raw("\x01\x03\x00\x00\x01", 5), -EPROTO);
	assert_int_equal(parse_raw("\x01\x01\x50\x00", 4), -EPROTO);
	/* duplicate port, duplicate optional */
	assert_int_equal(parse_raw(PORT PORT, 8), -EPROTO);
	assert_int_equal(parse_raw(PORT "\x81\x01x\x81\x01y", 10), -EPROTO);
	/* unknown critical TLV fails, unknown optional is skipped */
	assert_int_equal(parse_raw(PORT "\x05\x01x", 7), -EPROTO);
	assert_int_equal(parse_raw(PORT "\xf0\x01x", 7), 0);
	assert_int_equal(parse_raw(PORT "\xf0\x01x\xf0\x01y", 10), -EPROTO);
	/* trailing garbage: one lone byte, a TLV running past the end */
	assert_int_equal(parse_raw(PORT "\x00", 5), -EPROTO);
	assert_int_equal(parse_raw(PORT "\x81\x05xy", 8), -EPROTO);
	/* bad addresses */
	assert_int_equal(parse_raw(PORT "\x02\x05\1\2\3\4\5", 11), -EPROTO);
	assert_int_equal(parse_raw(PORT "\x02\x00", 6), -EPROTO);
	/* bad names: empty, control characters, space, NUL, high bytes */
	assert_int_equal(parse_raw(PORT "\x81\x00", 6), -EPROTO);
	assert_int_equal(parse_raw(PORT "\x82\x02\x01x", 8), -EPROTO);
	assert_int_equal(parse_raw(PORT "\x81\x02 x", 8), -EPROTO);
	assert_int_equal(parse_raw(PORT "\x81\x02x\x00", 8), -EPROTO);
	assert_int_equal(parse_raw(PORT "\x81\x02x\xc3", 8), -EPROTO);
	/* namespace longer than a DNS label */
	{
		uint8_t t[4 + 2 + 64];
		memcpy(t, PORT "\x82\x40", 6);
		memset(t + 6, 'n', 64);
		assert_int_equal(parse_raw(t, sizeof(t)), -EPROTO);
		t[5] = 63;
		assert_int_equal(parse_raw(t, sizeof(t) - 1), 0);
	}
	/* bad flow id length */
	assert_int_equal(parse_raw(PORT "\x83\x04\1\2\3\4", 10), -EPROTO);
	/* a valid one for contrast */
	assert_int_equal(parse_raw(PORT "\x02\x04\xc6\x12\x02\x0b\x81\x01x", 13), 0);
}

/* the example in docs/PROTOCOL.md, byte for byte */
static void test_doc_example(void **state)
{
	static const uint8_t doc[] = {
		0x53, 0x4c, 0x50, 0x52, 0x01, 0x00, 0x00, 0x22, 0x01, 0x02,
		0x1f, 0x90, 0x02, 0x04, 0xc6, 0x12, 0x02, 0x0b, 0x81, 0x05,
		0x70, 0x6f, 0x64, 0x2d, 0x61, 0x82, 0x07, 0x64, 0x65, 0x66,
		0x61, 0x75, 0x6c, 0x74,
	};
	struct sl_preamble p;
	uint8_t buf[SL_PREAMBLE_MAX_LEN];
	size_t used;

	full(&p);
	p.has_flow_id = false;
	assert_int_equal(sl_preamble_encode(&p, buf, sizeof(buf)), sizeof(doc));
	assert_memory_equal(buf, doc, sizeof(doc));
	assert_int_equal(sl_preamble_parse(doc, sizeof(doc), &p, &used), 0);
	assert_int_equal(used, sizeof(doc));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_encode_invalid),
		cmocka_unit_test(test_incremental),
		cmocka_unit_test(test_bad_header),
		cmocka_unit_test(test_bad_tlvs),
		cmocka_unit_test(test_doc_example),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

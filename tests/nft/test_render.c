/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the nft module's pure parts: batch rendering (exact text),
 * validation of everything that is printed, address parsing/formatting,
 * element batches and the listing normalizer used by sl_nft_check().
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "steer.h"
#include "steer_internal.h"

static struct sl_nft_addr addr(const char *s)
{
	struct sl_nft_addr a;

	assert_int_equal(sl_nft_addr_parse(s, &a), 0);
	return a;
}

/* render into a string; the 16 fingerprint digits become 'X' */
static int render(const struct sl_nft_config *cfg,
		  const struct sl_nft_pod *pods, size_t n, char **out)
{
	char *buf = NULL, *fp;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int ret;

	assert_non_null(f);
	ret = sl_nft_render(cfg, pods, n, f);
	assert_int_equal(fclose(f), 0);
	fp = strstr(buf, "fp=");
	if (!ret) {
		assert_non_null(fp);
		for (fp += 3; *fp != '"'; fp++) {
			assert_true((*fp >= '0' && *fp <= '9') ||
				    (*fp >= 'a' && *fp <= 'f'));
			*fp = 'X';
		}
	}
	*out = buf;
	return ret;
}

static const char expected_full[] =
	"add table inet t1\n"
	"delete table inet t1\n"
	"table inet t1 {\n"
	"\tcomment \"sluice fp=XXXXXXXXXXXXXXXX\"\n"
	"\tcounter outbound_redirect { }\n"
	"\tcounter inbound_tproxy { }\n"
	"\tcounter plain_permissive { }\n"
	"\tcounter plain_strict_drop { }\n"
	"\tset pods4 { type ipv4_addr; elements = { 198.18.1.11, 198.18.1.12 }; }\n"
	"\tset pods6 { type ipv6_addr; elements = { fd00:5a1c:1::12 }; }\n"
	"\tset permissive4 { type ipv4_addr; elements = { 198.18.1.12 }; }\n"
	"\tset permissive6 { type ipv6_addr; elements = { fd00:5a1c:1::12 }; }\n"
	"\tset exclude_ports { type inet_service; elements = { 15001, 15006, 15008, 15020, 8080 }; }\n"
	"\tset exclude4 { type ipv4_addr; flags interval; elements = { 10.0.0.0/8 }; }\n"
	"\tset exclude6 { type ipv6_addr; flags interval; elements = { fd00:5a1c:ff::/48 }; }\n"
	"\tchain outbound {\n"
	"\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
	"\t\tmeta mark 0x5101 return\n"
	"\t\tmeta l4proto != tcp return\n"
	"\t\ttcp dport @exclude_ports return\n"
	"\t\tfib daddr type local return\n"
	"\t\tip daddr @exclude4 return\n"
	"\t\tip6 daddr @exclude6 return\n"
	"\t\tip saddr @pods4 meta l4proto tcp counter name outbound_redirect redirect to :15001\n"
	"\t\tip6 saddr @pods6 meta l4proto tcp counter name outbound_redirect redirect to :15001\n"
	"\t}\n"
	"\tchain inbound {\n"
	"\t\ttype filter hook prerouting priority mangle; policy accept;\n"
	"\t\tmeta mark 0x5101 return\n"
	"\t\tmeta l4proto != tcp return\n"
	"\t\tmeta l4proto tcp socket transparent 1 socket wildcard 0 meta mark set 0x5100 accept\n"
	"\t\tip daddr @pods4 tcp dport 15008 counter name inbound_tproxy meta mark set 0x5100 tproxy ip to :15008 accept\n"
	"\t\tip6 daddr @pods6 tcp dport 15008 counter name inbound_tproxy meta mark set 0x5100 tproxy ip6 to :15008 accept\n"
	"\t\tip saddr @pods4 return\n"
	"\t\tip6 saddr @pods6 return\n"
	"\t\ttcp dport @exclude_ports return\n"
	"\t\tip daddr @permissive4 meta l4proto tcp counter name plain_permissive meta mark set 0x5100 tproxy ip to :15006 accept\n"
	"\t\tip6 daddr @permissive6 meta l4proto tcp counter name plain_permissive meta mark set 0x5100 tproxy ip6 to :15006 accept\n"
	"\t}\n"
	"\tchain plaintext {\n"
	"\t\ttype filter hook forward priority filter; policy accept;\n"
	"\t\tmeta mark 0x5101 return\n"
	"\t\tmeta l4proto != tcp return\n"
	"\t\tct direction reply return\n"
	"\t\ttcp dport @exclude_ports return\n"
	"\t\tip daddr @pods4 counter name plain_strict_drop drop\n"
	"\t\tip6 daddr @pods6 counter name plain_strict_drop drop\n"
	"\t}\n"
	"}\n";

static void test_render_exact(void **state)
{
	struct sl_nft_config cfg;
	const uint16_t ports[] = { 8080, 15001 }; /* 15001 is deduplicated */
	struct sl_nft_addr cidrs[2];
	struct sl_nft_pod pods[3];
	char *text;

	sl_nft_config_init(&cfg);
	cfg.table = "t1";
	cfg.exclude_ports = ports;
	cfg.n_exclude_ports = 2;
	cidrs[0] = addr("10.0.0.0/8");
	cidrs[1] = addr("fd00:5a1c:ff::/48");
	cfg.exclude_cidrs = cidrs;
	cfg.n_exclude_cidrs = 2;
	pods[0] = (struct sl_nft_pod){ addr("198.18.1.11"), SL_NFT_STRICT };
	pods[1] = (struct sl_nft_pod){ addr("198.18.1.12"), SL_NFT_PERMISSIVE };
	pods[2] = (struct sl_nft_pod){ addr("fd00:5a1c:1::12"),
				       SL_NFT_PERMISSIVE };
	assert_int_equal(render(&cfg, pods, 3, &text), 0);
	assert_string_equal(text, expected_full);
	free(text);
}

static void test_render_defaults_empty(void **state)
{
	struct sl_nft_config cfg;
	char *text;

	sl_nft_config_init(&cfg);
	assert_int_equal(render(&cfg, NULL, 0, &text), 0);
	assert_non_null(strstr(text, "add table inet sluice\ndelete table inet sluice\ntable inet sluice {\n"));
	assert_non_null(strstr(text, "\tset pods4 { type ipv4_addr; }\n"));
	assert_non_null(strstr(text, "\tset exclude4 { type ipv4_addr; flags interval; }\n"));
	assert_non_null(strstr(text, "elements = { 15001, 15006, 15008, 15020 }; }\n"));
	assert_null(strstr(text, "elements = { 198"));
	free(text);
}

static void test_render_custom_ports_marks(void **state)
{
	struct sl_nft_config cfg;
	char *text;

	sl_nft_config_init(&cfg);
	cfg.outbound_port = 16001;
	cfg.inbound_port = 16008;
	cfg.inbound_plain_port = 16006;
	cfg.metrics_port = 16020;
	cfg.tproxy_mark = 0x10;
	cfg.bypass_mark = 0xabc;
	assert_int_equal(render(&cfg, NULL, 0, &text), 0);
	assert_non_null(strstr(text, "redirect to :16001\n"));
	assert_non_null(strstr(text, "tcp dport 16008 counter name inbound_tproxy meta mark set 0x10 tproxy ip to :16008 accept\n"));
	assert_non_null(strstr(text, "meta mark set 0x10 tproxy ip6 to :16006 accept\n"));
	assert_non_null(strstr(text, "\t\tmeta mark 0xabc return\n"));
	/* mesh defaults stay excluded, the configured ports are added */
	assert_non_null(strstr(text, "elements = { 15001, 15006, 15008, 15020, 16001, 16008, 16006, 16020 }"));
	assert_null(strstr(text, ":15001"));
	free(text);
}

static void test_fingerprint(void **state)
{
	struct sl_nft_config a, b;
	uint64_t fa, fb, fa2;

	sl_nft_config_init(&a);
	sl_nft_config_init(&b);
	b.outbound_port = 15099;
	assert_int_equal(sl_nft_config_fingerprint(&a, &fa), 0);
	assert_int_equal(sl_nft_config_fingerprint(&a, &fa2), 0);
	assert_int_equal(sl_nft_config_fingerprint(&b, &fb), 0);
	assert_true(fa == fa2);
	assert_true(fa != fb);
}

static void test_validate_rejects(void **state)
{
	static const char *const bad_names[] = {
		"", "1abc", "a b", "a;drop", "sluice}", "a-b",
		"abcdefghijabcdefghijabcdefghijab", /* 32 chars */
	};
	struct sl_nft_config cfg;
	struct sl_nft_addr cidr;
	uint16_t zero = 0;
	size_t i;

	sl_nft_config_init(&cfg);
	assert_int_equal(sl_nft_config_validate(&cfg), 0);
	for (i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		cfg.table = bad_names[i];
		assert_int_equal(sl_nft_config_validate(&cfg), -EINVAL);
	}
	cfg.table = NULL;
	assert_int_equal(sl_nft_config_validate(&cfg), -EINVAL);
	cfg.table = "abcdefghijabcdefghijabcdefghija"; /* 31 chars: ok */
	assert_int_equal(sl_nft_config_validate(&cfg), 0);

	sl_nft_config_init(&cfg);
	cfg.outbound_port = 0;
	assert_int_equal(sl_nft_config_validate(&cfg), -EINVAL);
	sl_nft_config_init(&cfg);
	cfg.inbound_plain_port = cfg.inbound_port;
	assert_int_equal(sl_nft_config_validate(&cfg), -EINVAL);
	sl_nft_config_init(&cfg);
	cfg.bypass_mark = cfg.tproxy_mark;
	assert_int_equal(sl_nft_config_validate(&cfg), -EINVAL);
	sl_nft_config_init(&cfg);
	cfg.tproxy_mark = 0;
	assert_int_equal(sl_nft_config_validate(&cfg), -EINVAL);
	sl_nft_config_init(&cfg);
	cfg.route_table = 254;
	assert_int_equal(sl_nft_config_validate(&cfg), -EINVAL);
	sl_nft_config_init(&cfg);
	cfg.exclude_ports = &zero;
	cfg.n_exclude_ports = 1;
	assert_int_equal(sl_nft_config_validate(&cfg), -EINVAL);
	cfg.n_exclude_ports = SL_NFT_MAX_EXCLUDES + 1;
	assert_int_equal(sl_nft_config_validate(&cfg), -EINVAL);
	sl_nft_config_init(&cfg);
	cfg.n_exclude_cidrs = 1; /* NULL list */
	assert_int_equal(sl_nft_config_validate(&cfg), -EINVAL);
	/* host bits set */
	assert_int_equal(sl_nft_addr_parse("10.1.0.0/8", &cidr), 0);
	cfg.exclude_cidrs = &cidr;
	assert_int_equal(sl_nft_config_validate(&cfg), -EINVAL);
	assert_int_equal(sl_nft_addr_parse("fd00:5a1c::1/64", &cidr), 0);
	assert_int_equal(sl_nft_config_validate(&cfg), -EINVAL);
	cidr.family = 0;
	assert_int_equal(sl_nft_config_validate(&cfg), -EINVAL);
	assert_int_equal(sl_nft_addr_parse("0.0.0.0/0", &cidr), 0);
	assert_int_equal(sl_nft_config_validate(&cfg), 0);
}

static void test_render_rejects_pods(void **state)
{
	struct sl_nft_config cfg;
	struct sl_nft_pod pods[2];
	char *text;

	sl_nft_config_init(&cfg);
	pods[0] = (struct sl_nft_pod){ addr("198.18.1.0/24"), SL_NFT_STRICT };
	assert_int_equal(render(&cfg, pods, 1, &text), -EINVAL);
	free(text);
	pods[0] = (struct sl_nft_pod){ addr("198.18.1.11"), SL_NFT_STRICT };
	pods[1] = (struct sl_nft_pod){ addr("198.18.1.11"), SL_NFT_PERMISSIVE };
	assert_int_equal(render(&cfg, pods, 2, &text), -EINVAL);
	free(text);
	pods[1] = (struct sl_nft_pod){ addr("198.18.1.12"), (enum sl_nft_pod_mode)7 };
	assert_int_equal(render(&cfg, pods, 2, &text), -EINVAL);
	free(text);
	pods[1].mode = SL_NFT_STRICT;
	pods[1].addr.family = AF_UNIX;
	assert_int_equal(render(&cfg, pods, 2, &text), -EINVAL);
	free(text);
	assert_int_equal(render(&cfg, NULL, 1, &text), -EINVAL);
	free(text);
	cfg.table = "x y";
	assert_int_equal(render(&cfg, NULL, 0, &text), -EINVAL);
	free(text);
	assert_int_equal(sl_nft_render(&cfg, NULL, 0, NULL), -EINVAL);
}

static void test_addr_parse_format(void **state)
{
	static const char *const good[][2] = {
		{ "198.18.1.11", "198.18.1.11" },
		{ "198.18.0.0/15", "198.18.0.0/15" },
		{ "0.0.0.0/0", "0.0.0.0/0" },
		{ "10.0.0.1/32", "10.0.0.1" },
		{ "FD00:5A1C:0:0::11", "fd00:5a1c::11" },
		{ "fd00:5a1c::/32", "fd00:5a1c::/32" },
		{ "::/0", "::/0" },
		{ "::ffff:198.18.1.1", "::ffff:198.18.1.1" },
	};
	static const char *const bad[] = {
		"", "198.18.1", "198.18.1.256", "198.18.1.1/33", "198.18.1.1/",
		"198.18.1.1/-1", "198.18.1.1/8x", "fd00::/129", "fd00:::1",
		"198.18.1.1; drop", "host.example", "1.2.3.4/ 8",
		"fd00:5a1c:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128",
	};
	struct sl_nft_addr a;
	char buf[INET6_ADDRSTRLEN + 4];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(sl_nft_addr_parse(good[i][0], &a), 0);
		assert_int_equal(sl_nft_addr_format(&a, buf, sizeof(buf)), 0);
		assert_string_equal(buf, good[i][1]);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sl_nft_addr_parse(bad[i], &a), -EINVAL);
	assert_int_equal(sl_nft_addr_parse(NULL, &a), -EINVAL);
	a = addr("fd00:5a1c::11");
	assert_int_equal(sl_nft_addr_format(&a, buf, 5), -ENOSPC);
	a.prefix_len = 129;
	assert_int_equal(sl_nft_addr_format(&a, buf, sizeof(buf)), -EINVAL);
}

static char *render_pod(const char *table, const char *ip,
			enum sl_nft_pod_mode mode, bool add, int *ret)
{
	struct sl_nft_addr a;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	if (sl_nft_addr_parse(ip, &a))
		a.family = 0;
	*ret = sl_nft_render_pod(table, &a, mode, add, f);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void test_render_pod(void **state)
{
	char *t;
	int ret;

	t = render_pod("t1", "198.18.1.13", SL_NFT_STRICT, true, &ret);
	assert_int_equal(ret, 0);
	assert_string_equal(t,
		"add element inet t1 pods4 { 198.18.1.13 }\n"
		"add element inet t1 permissive4 { 198.18.1.13 }\n"
		"delete element inet t1 permissive4 { 198.18.1.13 }\n");
	free(t);
	t = render_pod("t1", "fd00:5a1c:1::13", SL_NFT_PERMISSIVE, true, &ret);
	assert_int_equal(ret, 0);
	assert_string_equal(t,
		"add element inet t1 pods6 { fd00:5a1c:1::13 }\n"
		"add element inet t1 permissive6 { fd00:5a1c:1::13 }\n");
	free(t);
	t = render_pod("t1", "fd00:5a1c:1::13", SL_NFT_STRICT, false, &ret);
	assert_int_equal(ret, 0);
	assert_string_equal(t,
		"add element inet t1 pods6 { fd00:5a1c:1::13 }\n"
		"delete element inet t1 pods6 { fd00:5a1c:1::13 }\n"
		"add element inet t1 permissive6 { fd00:5a1c:1::13 }\n"
		"delete element inet t1 permissive6 { fd00:5a1c:1::13 }\n");
	free(t);
	free(render_pod("t1", "198.18.1.0/24", SL_NFT_STRICT, true, &ret));
	assert_int_equal(ret, -EINVAL);
	free(render_pod("t 1", "198.18.1.13", SL_NFT_STRICT, true, &ret));
	assert_int_equal(ret, -EINVAL);
	free(render_pod("t1", "bogus", SL_NFT_STRICT, true, &ret));
	assert_int_equal(ret, -EINVAL);
}

static void test_normalize(void **state)
{
	static const char listing[] =
		"table inet t1 {\n"
		"\tcomment \"sluice fp=0123456789abcdef\"\n"
		"\tcounter plain_strict_drop {\n"
		"\t\tpackets 12 bytes 720\n"
		"\t}\n"
		"\n"
		"\tset pods4 {\n"
		"\t\ttype ipv4_addr\n"
		"\t\telements = { 198.18.1.11, 198.18.1.12,\n"
		"\t\t\t     198.18.1.13 }\n"
		"\t}\n"
		"\n"
		"\tset permissive6 {\n"
		"\t\ttype ipv6_addr\n"
		"\t\telements = { fd00:5a1c:1::12 }\n"
		"\t}\n"
		"\n"
		"\tset exclude4 {\n"
		"\t\ttype ipv4_addr\n"
		"\t\tflags interval\n"
		"\t\telements = { 10.0.0.0/8 }\n"
		"\t}\n"
		"\n"
		"\tchain plaintext {\n"
		"\t\tip daddr @pods4 counter name \"plain_strict_drop\" drop\n"
		"\t}\n"
		"}\n";
	static const char want[] =
		"table inet t1 {\n"
		"\tcomment \"sluice fp=0123456789abcdef\"\n"
		"\tcounter plain_strict_drop {\n"
		"\t}\n"
		"\n"
		"\tset pods4 {\n"
		"\t\ttype ipv4_addr\n"
		"\t}\n"
		"\n"
		"\tset permissive6 {\n"
		"\t\ttype ipv6_addr\n"
		"\t}\n"
		"\n"
		"\tset exclude4 {\n"
		"\t\ttype ipv4_addr\n"
		"\t\tflags interval\n"
		"\t\telements = { 10.0.0.0/8 }\n"
		"\t}\n"
		"\n"
		"\tchain plaintext {\n"
		"\t\tip daddr @pods4 counter name \"plain_strict_drop\" drop\n"
		"\t}\n"
		"}\n";
	char *out = NULL, *out2 = NULL;

	assert_int_equal(sl_nft_normalize_listing(listing, &out), 0);
	assert_string_equal(out, want);
	/* a flushed chain must not normalize to the same text */
	assert_int_equal(sl_nft_normalize_listing(
		"table inet t1 {\n\tchain plaintext {\n\t}\n}\n", &out2), 0);
	assert_string_not_equal(out, out2);
	free(out2);
	/* no trailing newline */
	assert_int_equal(sl_nft_normalize_listing("table inet t1 {\n}", &out2), 0);
	assert_string_equal(out2, "table inet t1 {\n}\n");
	free(out2);
	free(out);
}

static void test_table_name(void **state)
{
	assert_true(sl_nft_table_name_valid("sluice"));
	assert_true(sl_nft_table_name_valid("S_1"));
	assert_false(sl_nft_table_name_valid("_s"));
	assert_false(sl_nft_table_name_valid("s\n"));
	assert_false(sl_nft_table_name_valid(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_exact),
		cmocka_unit_test(test_render_defaults_empty),
		cmocka_unit_test(test_render_custom_ports_marks),
		cmocka_unit_test(test_fingerprint),
		cmocka_unit_test(test_validate_rejects),
		cmocka_unit_test(test_render_rejects_pods),
		cmocka_unit_test(test_addr_parse_format),
		cmocka_unit_test(test_render_pod),
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_table_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

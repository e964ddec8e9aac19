/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sluiced's command line (daemon/core/options.c): every option's good
 * value lands in its field, every bad value is refused with one line that
 * names the option and the value, and the defaults are what
 * docs/sluiced.8.md says.  Table driven: a new option without a row here
 * fails test_every_option_has_a_row.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gcm.h"
#include "options.h"

/* getopt takes char *const argv[]; these literals are never written */
#define S(x) ((char *)(uintptr_t)(x))

/* parse "sluiced --config /c ARGS..." (NULL-terminated); @err gets stderr */
static int parse(struct sl_options *x, char *errbuf, size_t errlen, ...)
{
	char *argv[16] = { S("sluiced"), S("--config"), S("/c") };
	int argc = 3, ret;
	FILE *err = fmemopen(errbuf, errlen, "w");
	FILE *out = fopen("/dev/null", "w");
	va_list ap;
	char *a;

	assert_non_null(err);
	assert_non_null(out);
	memset(errbuf, 0, errlen);
	va_start(ap, errlen);
	while ((a = va_arg(ap, char *)) && argc < 15)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	ret = sl_options_parse(argc, argv, x, out, err);
	fclose(err);
	fclose(out);
	return ret;
}

#define OK(x, ...)                                                             \
	do {                                                                   \
		char e_[256];                                                  \
		int r_ = parse((x), e_, sizeof(e_), __VA_ARGS__, NULL);        \
		if (r_ != 0)                                                   \
			fail_msg("%s: %d: %s", #__VA_ARGS__, r_, e_);          \
	} while (0)

/* refused with exactly: "sluiced: bad value for --NAME: 'VALUE' (see --help)" */
static void bad(const char *name, const char *value)
{
	char opt[64], want[256], e[256];
	struct sl_options x;
	int r;

	snprintf(opt, sizeof(opt), "--%s", name);
	r = parse(&x, e, sizeof(e), opt, value, NULL);
	snprintf(want, sizeof(want),
		 "sluiced: bad value for --%s: '%s' (see --help)\n", name,
		 value);
	if (r != -EINVAL || strcmp(e, want))
		fail_msg("%s %s: ret %d, stderr \"%s\", want \"%s\"", opt,
			 value, r, e, want);
}

static void test_defaults(void **state)
{
	struct sl_options x;

	(void)state;
	OK(&x, "--check");
	assert_string_equal(x.o.config_dir, "/c");
	assert_true(x.check);
	assert_false(x.dry_run);
	assert_int_equal(x.level, SL_LOG_INFO);
	assert_int_equal(x.o.ktls, -1);
	assert_int_equal(x.o.handshake_timeout_ns, 10000000000ULL);
	assert_int_equal(x.o.connect_timeout_ns, 5000000000ULL);
	assert_int_equal(x.o.idle_timeout_ns, 3600000000000ULL);
	assert_int_equal(x.o.grace_ns, 10000000000ULL);
	assert_int_equal(x.o.upgrade_drain_ns, 300000000000ULL);
	assert_false(x.remove_steering);
	assert_int_equal(x.o.hello_timeout_ns, 1000000000ULL);
	assert_int_equal(x.o.http_head_timeout_ns, 10000000000ULL);
	assert_int_equal(x.o.kube_sync_wait_ns, 15000000000ULL);
	assert_false(x.o.kubernetes);
	assert_null(x.o.kubeconfig);
	assert_int_equal(x.o.preamble_timeout_ns, 15000000000ULL);
	assert_int_equal(x.o.pool_size, 2);
	assert_int_equal(x.o.pool_max, 8);
	assert_int_equal(x.o.pool_idle_ns, 10000000000ULL);
	assert_int_equal(x.o.pool_refill_delay_ns, 5000000ULL);
	assert_int_equal(x.o.bulk_buf_size, 1u << 20);
	assert_int_equal(x.o.hs_threads, -1);
	assert_int_equal(x.o.hs_nice, 10);
	assert_int_equal(x.telemetry_port, UINT_MAX);
	assert_int_equal(x.log_rate, 100);
	assert_int_equal(x.aes_gcm, -1);
	assert_false(x.half_close_set);
	assert_false(x.o.steer);
	assert_null(x.o.state_dir);
	assert_string_equal(x.o.admin_socket, "/run/sluice/admin.sock");
}

static void test_values(void **state)
{
	struct sl_options x;

	(void)state;
	OK(&x, "-n", "node-a", "-w", "3", "-a", "/tmp/a.sock", "-k", "off",
	   "-l", "debug", "-s");
	assert_string_equal(x.o.node, "node-a");
	assert_int_equal(x.o.workers, 3);
	assert_string_equal(x.o.admin_socket, "/tmp/a.sock");
	assert_int_equal(x.o.ktls, SL_KTLS_OFF);
	assert_int_equal(x.level, SL_LOG_DEBUG);
	OK(&x, "--ktls", "on");
	assert_int_equal(x.o.ktls, SL_KTLS_ON);
	OK(&x, "--ktls", "auto", "--dry-run", "--steer", "--keep-table-on-stop");
	assert_int_equal(x.o.ktls, SL_KTLS_AUTO);
	assert_true(x.dry_run && x.o.steer && x.o.keep_table);
	OK(&x, "--handshake-timeout", "2s", "--connect-timeout", "300ms",
	   "--idle-timeout", "0", "--grace", "1m");
	assert_int_equal(x.o.handshake_timeout_ns, 2000000000ULL);
	assert_int_equal(x.o.connect_timeout_ns, 300000000ULL);
	assert_int_equal(x.o.idle_timeout_ns, 0);
	assert_int_equal(x.o.grace_ns, 60000000000ULL);
	OK(&x, "--upgrade-drain", "90s");
	assert_int_equal(x.o.upgrade_drain_ns, 90000000000ULL);
	OK(&x, "--remove-steering");
	assert_true(x.remove_steering);
	OK(&x, "--half-close-timeout", "0");
	assert_true(x.half_close_set);
	assert_int_equal(x.half_close_ns, 0);
	OK(&x, "--half-close-timeout", "90s");
	assert_int_equal(x.half_close_ns, 90000000000ULL);
	OK(&x, "--max-connections", "7", "--max-outbound", "5", "--max-inbound",
	   "6", "--max-pending", "9", "--max-pending-per-source", "3");
	assert_int_equal(x.o.max_conns, 7);
	assert_int_equal(x.o.max_outbound, 5);
	assert_int_equal(x.o.max_inbound, 6);
	assert_int_equal(x.o.max_pending, 9);
	assert_int_equal(x.o.max_pending_src, 3);
	OK(&x, "--http-head-timeout", "2s", "--hello-timeout", "250ms", "--fd-reserve", "64",
	   "--state-dir", "/var/lib/x", "--telemetry-port", "0",
	   "--access-log-rate", "0");
	assert_int_equal(x.o.hello_timeout_ns, 250000000ULL);
	assert_int_equal(x.o.http_head_timeout_ns, 2000000000ULL);
	assert_int_equal(x.o.fd_reserve, 64);
	assert_string_equal(x.o.state_dir, "/var/lib/x");
	assert_int_equal(x.telemetry_port, 0);
	assert_int_equal(x.log_rate, 0);
	OK(&x, "--cert-lifetime", "1h", "--inbound-plain-port", "16006",
	   "--pool-size", "0", "--pool-max", "0");
	assert_int_equal(x.o.cert_lifetime_s, 3600);
	assert_int_equal(x.o.inbound_plain_port, 16006);
	assert_int_equal(x.o.pool_size, 0);
	OK(&x, "--pool-size", "4");
	assert_int_equal(x.o.pool_max, 8);
	OK(&x, "--pool-size", "12"); /* pool-max follows an unset default */
	assert_int_equal(x.o.pool_max, 12);
	OK(&x, "--pool-idle-timeout", "3s", "--pool-refill-delay", "0s",
	   "--preamble-timeout", "20s", "--busy-poll", "50us");
	assert_int_equal(x.o.pool_idle_ns, 3000000000ULL);
	assert_int_equal(x.o.pool_refill_delay_ns, 0);
	assert_int_equal(x.o.preamble_timeout_ns, 20000000000ULL);
	assert_int_equal(x.o.busy_poll_ns, 50000);
	OK(&x, "--bulk-buffer", "256K", "--handshake-threads", "0",
	   "--handshake-nice", "-5", "--tls-resumption", "off", "--aes-gcm",
	   "openssl");
	assert_int_equal(x.o.bulk_buf_size, 256 * 1024);
	assert_int_equal(x.o.hs_threads, 0);
	assert_int_equal(x.o.hs_nice, -5);
	assert_true(x.o.no_resumption);
	assert_int_equal(x.aes_gcm, SL_GCM_OPENSSL);
	OK(&x, "--tls-resumption", "on", "--aes-gcm", "auto");
	assert_false(x.o.no_resumption);
	assert_int_equal(x.aes_gcm, SL_GCM_AUTO);
	OK(&x, "--kubernetes", "--kube-sync-wait", "0");
	assert_true(x.o.kubernetes);
	assert_int_equal(x.o.kube_sync_wait_ns, 0);
	OK(&x, "--kubeconfig", "/k", "--kube-context", "prod",
	   "--kube-sync-wait", "3s");
	assert_false(x.o.kubernetes);
	assert_string_equal(x.o.kubeconfig, "/k");
	assert_string_equal(x.o.kube_context, "prod");
	assert_int_equal(x.o.kube_sync_wait_ns, 3000000000ULL);
}

static const struct {
	const char *name, *value;
} bad_values[] = {
	{ "workers", "0" },		{ "workers", "1025" },
	{ "workers", "two" },		{ "ktls", "yes" },
	{ "log-level", "loud" },	{ "handshake-timeout", "10" },
	{ "handshake-timeout", "-1s" }, { "connect-timeout", "5x" },
	{ "idle-timeout", "1y" },	{ "grace", "" },
	{ "upgrade-drain", "5" },	{ "upgrade-drain", "-1s" },
	{ "half-close-timeout", "60" }, { "max-connections", "0" },
	{ "max-connections", "-1" },	{ "max-outbound", "0" },
	{ "max-inbound", "x" },		{ "max-pending", "0" },
	{ "max-pending-per-source", "0" }, { "hello-timeout", "0" },
	{ "hello-timeout", "1" },	{ "fd-reserve", "0" },
	{ "http-head-timeout", "0" },	{ "http-head-timeout", "5" },
	{ "telemetry-port", "65536" },	{ "access-log-rate", "1000001" },
	{ "cert-lifetime", "9s" },	{ "inbound-plain-port", "0" },
	{ "inbound-plain-port", "70000" }, { "pool-size", "100000" },
	{ "pool-max", "x" },		{ "pool-idle-timeout", "0" },
	{ "pool-refill-delay", "soon" }, { "preamble-timeout", "0" },
	{ "busy-poll", "2ms" },		{ "bulk-buffer", "32K" },
	{ "bulk-buffer", "17M" },	{ "handshake-threads", "x" },
	{ "handshake-nice", "20" },	{ "handshake-nice", "-21" },
	{ "tls-resumption", "yes" },	{ "aes-gcm", "vaes" },
	{ "kube-sync-wait", "15" },	{ "kube-sync-wait", "-1s" },
};

static void test_bad_values(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++)
		bad(bad_values[i].name, bad_values[i].value);
}

static void expect_usage_error(const char *want, ...)
{
	char *argv[8] = { S("sluiced") }, e[256];
	struct sl_options x;
	int argc = 1, r;
	FILE *err = fmemopen(e, sizeof(e), "w");
	FILE *out = fopen("/dev/null", "w");
	va_list ap;
	char *a;

	memset(e, 0, sizeof(e));
	va_start(ap, want);
	while ((a = va_arg(ap, char *)) && argc < 7)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	r = sl_options_parse(argc, argv, &x, out, err);
	fclose(err);
	fclose(out);
	if (r != -EINVAL || strcmp(e, want))
		fail_msg("ret %d, stderr \"%s\", want \"%s\"", r, e, want);
}

static void test_usage_errors(void **state)
{
	(void)state;
	expect_usage_error("sluiced: --config DIR is required (see --help)\n",
			   NULL);
	expect_usage_error("sluiced: unknown option '--bogus' (see --help)\n",
			   "-c", "/c", "--bogus", NULL);
	expect_usage_error("sluiced: unknown option -x (see --help)\n", "-c",
			   "/c", "-x", NULL);
	expect_usage_error("sluiced: --config needs a value (see --help)\n",
			   "--config", NULL);
	expect_usage_error("sluiced: --workers needs a value (see --help)\n",
			   "-c", "/c", "-w", NULL);
	expect_usage_error("sluiced: unexpected argument 'extra' (see --help)\n",
			   "-c", "/c", "extra", NULL);
	expect_usage_error("sluiced: --kubernetes and --kubeconfig exclude each other (see --help)\n",
			   "-c", "/c", "--kubernetes", "--kubeconfig", "/k", NULL);
	expect_usage_error("sluiced: --kube-context needs --kubeconfig\n",
			   "-c", "/c", "--kube-context", "x", NULL);
	expect_usage_error("sluiced: --pool-max 2 is below --pool-size 4\n",
			   "-c", "/c", "--pool-size", "4", "--pool-max", "2",
			   NULL);
}

static void test_help_and_version(void **state)
{
	char *argv[] = { S("sluiced"), S("--help"), NULL };
	char *argv2[] = { S("sluiced"), S("-V"), NULL };
	char *buf = NULL;
	size_t len = 0;
	struct sl_options x;
	FILE *out = open_memstream(&buf, &len);

	(void)state;
	assert_int_equal(sl_options_parse(2, argv, &x, out, stderr), 1);
	fflush(out);
	assert_non_null(strstr(buf, "--half-close-timeout DUR"));
	assert_non_null(strstr(buf, "--max-pending-per-source"));
	assert_int_equal(sl_options_parse(2, argv2, &x, out, stderr), 1);
	fclose(out);
	assert_non_null(strstr(buf, "sluiced "));
	free(buf);
}

/* every long option of --help has a row above (a good or a bad value) */
static void test_every_option_has_a_row(void **state)
{
	static const char *const covered[] = {
		"config", "node", "workers", "admin-socket", "ktls",
		"log-level", "stderr", "check", "version", "help", "steer",
		"keep-table-on-stop", "dry-run", "state-dir", "remove-steering",
		"kubernetes", "kubeconfig", "kube-context",
	};
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	const char *p;

	(void)state;
	sl_options_usage(out, "sluiced");
	fclose(out);
	for (p = strstr(buf, "--"); p; p = strstr(p + 2, "--")) {
		char name[64];
		size_t n = strspn(p + 2, "abcdefghijklmnopqrstuvwxyz-");
		bool found = false;

		if (!n || n >= sizeof(name))
			continue;
		memcpy(name, p + 2, n);
		name[n] = '\0';
		for (size_t i = 0; i < sizeof(covered) / sizeof(*covered); i++)
			found |= !strcmp(covered[i], name);
		for (size_t i = 0; i < sizeof(bad_values) / sizeof(*bad_values); i++)
			found |= !strcmp(bad_values[i].name, name);
		if (!found)
			fail_msg("--%s has no row in test_options.c", name);
	}
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_help_and_version),
		cmocka_unit_test(test_every_option_has_a_row),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

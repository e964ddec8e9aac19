/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus rendering of daemon/obs/metrics.c: exact text, escaping, histogram
 * buckets, bounded cardinality. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

static char *render(struct sl_metrics *m)
{
	char *buf = NULL, *copy;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	assert_int_equal(sl_metrics_render(m, out), 0);
	assert_int_equal(fclose(out), 0);
	/* a copy: gcc -O3 mistakes the memstream buffer for a local */
	copy = strdup(buf);
	free(buf);
	assert_non_null(copy);
	return copy;
}

static const char hs_empty[] =
	"# HELP sluice_handshake_duration_seconds mTLS handshake duration\n"
	"# TYPE sluice_handshake_duration_seconds histogram\n";

static void test_exact_text(void **state)
{
	struct sl_metrics *m;
	struct sl_metrics_labels l = {
		.source_workload = "client",
		.source_workload_namespace = "default",
		.source_principal = "spiffe://cluster.local/ns/default/sa/client",
		.destination_workload = "echo",
		.destination_workload_namespace = "default",
		.destination_service = "198.19.0.10",
		.destination_principal = "spiffe://cluster.local/ns/default/sa/echo",
	};
	const char *lbl =
		"{reporter=\"source\",source_workload=\"client\","
		"source_workload_namespace=\"default\","
		"source_principal=\"spiffe://cluster.local/ns/default/sa/client\","
		"destination_workload=\"echo\","
		"destination_workload_namespace=\"default\","
		"destination_service=\"198.19.0.10\","
		"destination_principal=\"spiffe://cluster.local/ns/default/sa/echo\","
		"connection_security_policy=\"mutual_tls\",response_flags=\"-\"}";
	char *text, expect[8192];

	assert_int_equal(sl_metrics_new(16, 0, &m), 0);
	sl_metrics_tcp_add(m, &l, 1, 1, 100, 2000);
	sl_metrics_tcp_add(m, &l, 1, 0, 5, 7);
	text = render(m);
	snprintf(expect, sizeof(expect),
		 "# HELP istio_tcp_connections_opened_total TCP connections opened\n"
		 "# TYPE istio_tcp_connections_opened_total counter\n"
		 "istio_tcp_connections_opened_total%s 2\n"
		 "# HELP istio_tcp_connections_closed_total TCP connections closed\n"
		 "# TYPE istio_tcp_connections_closed_total counter\n"
		 "istio_tcp_connections_closed_total%s 1\n"
		 "# HELP istio_tcp_sent_bytes_total Bytes sent towards the destination (request direction)\n"
		 "# TYPE istio_tcp_sent_bytes_total counter\n"
		 "istio_tcp_sent_bytes_total%s 105\n"
		 "# HELP istio_tcp_received_bytes_total Bytes received from the destination (response direction)\n"
		 "# TYPE istio_tcp_received_bytes_total counter\n"
		 "istio_tcp_received_bytes_total%s 2007\n"
		 "# HELP sluice_metrics_series_overflow_total Label sets folded into the \"other\" series (table full)\n"
		 "# TYPE sluice_metrics_series_overflow_total counter\n"
		 "sluice_metrics_series_overflow_total 0\n"
		 "%s",
		 lbl, lbl, lbl, lbl, hs_empty);
	/* the histogram part is checked in its own test */
	assert_true(strlen(text) > strlen(expect));
	assert_memory_equal(text, expect, strlen(expect));
	free(text);
	sl_metrics_free(m);
}

static void test_escaping_and_defaults(void **state)
{
	struct sl_metrics *m;
	struct sl_metrics_labels l = {
		.reporter_destination = true,
		.source_workload = "a\"b\\c\nd",
		.response_flags = "UC",
	};
	char *text;

	assert_int_equal(sl_metrics_new(0, 0, &m), 0);
	sl_metrics_tcp_add(m, &l, 1, 0, 0, 0);
	text = render(m);
	assert_non_null(strstr(text,
		"istio_tcp_connections_opened_total{reporter=\"destination\","
		"source_workload=\"a\\\"b\\\\c\\nd\","
		"source_workload_namespace=\"unknown\","
		"source_principal=\"unknown\",destination_workload=\"unknown\","
		"destination_workload_namespace=\"unknown\","
		"destination_service=\"unknown\","
		"destination_principal=\"unknown\","
		"connection_security_policy=\"mutual_tls\","
		"response_flags=\"UC\"} 1\n"));
	free(text);
	sl_metrics_free(m);
}

static void test_histogram(void **state)
{
	struct sl_metrics *m;
	char *text, *h;

	assert_int_equal(sl_metrics_new(0, 0, &m), 0);
	sl_metrics_handshake_observe(m, 300000);	  /* 0.3 ms */
	sl_metrics_handshake_observe(m, 1000000);	  /* 1 ms: le inclusive */
	sl_metrics_handshake_observe(m, 30000000);	  /* 30 ms */
	sl_metrics_handshake_observe(m, 9000000000ull); /* 9 s: only +Inf */
	text = render(m);
	h = strstr(text, hs_empty);
	assert_non_null(h);
	assert_string_equal(h + strlen(hs_empty),
		"sluice_handshake_duration_seconds_bucket{le=\"0.0005\"} 1\n"
		"sluice_handshake_duration_seconds_bucket{le=\"0.001\"} 2\n"
		"sluice_handshake_duration_seconds_bucket{le=\"0.0025\"} 2\n"
		"sluice_handshake_duration_seconds_bucket{le=\"0.005\"} 2\n"
		"sluice_handshake_duration_seconds_bucket{le=\"0.01\"} 2\n"
		"sluice_handshake_duration_seconds_bucket{le=\"0.025\"} 2\n"
		"sluice_handshake_duration_seconds_bucket{le=\"0.05\"} 3\n"
		"sluice_handshake_duration_seconds_bucket{le=\"0.1\"} 3\n"
		"sluice_handshake_duration_seconds_bucket{le=\"0.25\"} 3\n"
		"sluice_handshake_duration_seconds_bucket{le=\"0.5\"} 3\n"
		"sluice_handshake_duration_seconds_bucket{le=\"1\"} 3\n"
		"sluice_handshake_duration_seconds_bucket{le=\"5\"} 3\n"
		"sluice_handshake_duration_seconds_bucket{le=\"+Inf\"} 4\n"
		"sluice_handshake_duration_seconds_sum 9.031300000\n"
		"sluice_handshake_duration_seconds_count 4\n");
	free(text);
	sl_metrics_free(m);
}

static size_t count_lines(const char *text, const char *prefix)
{
	size_t n = 0, plen = strlen(prefix);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (!strncmp(p, prefix, plen))
			n++;
	return n;
}

static void test_cardinality_overflow(void **state)
{
	struct sl_metrics *m;
	char name[32], *text;

	assert_int_equal(sl_metrics_new(8, 0, &m), 0);
	for (int i = 0; i < 20; i++) {
		struct sl_metrics_labels l = { .source_workload = name };

		snprintf(name, sizeof(name), "wl-%d", i);
		sl_metrics_tcp_add(m, &l, 1, 1, 10, 20);
	}
	/* 7 real series + the overflow series; 13 label sets folded */
	assert_int_equal(sl_metrics_series(m), 8);
	assert_int_equal(sl_metrics_overflows(m), 13);
	/* an existing series still counts on its own */
	{
		struct sl_metrics_labels l = { .source_workload = "wl-0" };

		sl_metrics_tcp_add(m, &l, 1, 0, 0, 0);
	}
	assert_int_equal(sl_metrics_overflows(m), 13);
	text = render(m);
	assert_int_equal(count_lines(text, "istio_tcp_connections_opened_total{"), 8);
	assert_non_null(strstr(text, "istio_tcp_connections_opened_total{reporter=\"source\","
				     "source_workload=\"wl-0\","));
	assert_non_null(strstr(text, "source_workload=\"wl-0\",source_workload_namespace=\"unknown\",source_principal=\"unknown\",destination_workload=\"unknown\",destination_workload_namespace=\"unknown\",destination_service=\"unknown\",destination_principal=\"unknown\",connection_security_policy=\"mutual_tls\",response_flags=\"-\"} 2\n"));
	assert_non_null(strstr(text, "source_workload=\"other\",source_workload_namespace=\"other\",source_principal=\"other\",destination_workload=\"other\",destination_workload_namespace=\"other\",destination_service=\"other\",destination_principal=\"other\",connection_security_policy=\"other\",response_flags=\"-\"} 13\n"));
	assert_non_null(strstr(text, "istio_tcp_sent_bytes_total{reporter=\"source\",source_workload=\"other\""));
	assert_non_null(strstr(text, "sluice_metrics_series_overflow_total 13\n"));
	free(text);
	sl_metrics_free(m);
}

static void test_long_labels_truncated(void **state)
{
	struct sl_metrics *m;
	char big[1000], *text;
	struct sl_metrics_labels l = { .source_workload = big };

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(sl_metrics_new(4, 0, &m), 0);
	sl_metrics_tcp_add(m, &l, 1, 0, 0, 0);
	sl_metrics_tcp_add(m, &l, 1, 0, 0, 0); /* same (truncated) series */
	assert_int_equal(sl_metrics_series(m), 1);
	text = render(m);
	assert_null(strstr(text, big));
	big[SL_METRICS_LABEL_MAX] = '\0';
	assert_non_null(strstr(text, big));
	free(text);
	sl_metrics_free(m);
	assert_int_equal(sl_metrics_new(1, 0, &m), -EINVAL);
	sl_metrics_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_text),
		cmocka_unit_test(test_escaping_and_defaults),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_cardinality_overflow),
		cmocka_unit_test(test_long_labels_truncated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

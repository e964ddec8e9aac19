/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus rendering of daemon/obs/metrics.c: exact text, escaping, histogram
 * buckets, bounded cardinality. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
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

/* ---- HTTP request series -------------------------------------------- */

static const struct sl_metrics_http_labels http_l = {
	.source_workload = "client-7d9",
	.source_workload_namespace = "default",
	.source_principal = "spiffe://cluster.local/ns/default/sa/client",
	.source_app = "client",
	.source_version = "v1",
	.source_canonical_service = "client",
	.source_canonical_revision = "v1",
	.destination_workload = "my-service-v2-abc",
	.destination_workload_namespace = "default",
	.destination_principal = "spiffe://cluster.local/ns/default/sa/my-service",
	.destination_app = "my-service",
	.destination_version = "v2",
	.destination_service = "my-service.default.svc.cluster.local",
	.destination_service_name = "my-service",
	.destination_service_namespace = "default",
	.destination_canonical_service = "my-service",
	.destination_canonical_revision = "v2",
	.response_flags = "-",
	.response_code = 200,
};

#define HTTP_KEY(code, flags)						\
	"reporter=\"source\",source_workload=\"client-7d9\","		\
	"source_workload_namespace=\"default\","				\
	"source_principal=\"spiffe://cluster.local/ns/default/sa/client\"," \
	"source_app=\"client\",source_version=\"v1\","			\
	"source_canonical_service=\"client\","				\
	"source_canonical_revision=\"v1\",source_cluster=\"unknown\","	\
	"destination_workload=\"my-service-v2-abc\","			\
	"destination_workload_namespace=\"default\","			\
	"destination_principal=\"spiffe://cluster.local/ns/default/sa/my-service\"," \
	"destination_app=\"my-service\",destination_version=\"v2\","	\
	"destination_service=\"my-service.default.svc.cluster.local\","	\
	"destination_service_name=\"my-service\","				\
	"destination_service_namespace=\"default\","			\
	"destination_canonical_service=\"my-service\","			\
	"destination_canonical_revision=\"v2\","				\
	"destination_cluster=\"unknown\",request_protocol=\"http\","	\
	"response_flags=\"" flags "\","					\
	"connection_security_policy=\"mutual_tls\","			\
	"response_code=\"" code "\",grpc_response_status=\"\""

static void test_http_exact(void **state)
{
	struct sl_metrics *m;
	char *text, expect[32768];
	const char *key = HTTP_KEY("200", "-");
	/* cumulative counts per le: duration, request size, response size */
	static const struct {
		const char *le;
		int d, rq, rs;
	} b[] = {
		{ "0.5", 1, 1, 0 },	   { "1", 2, 1, 0 },
		{ "5", 2, 1, 0 },	   { "10", 2, 1, 0 },
		{ "25", 2, 1, 0 },	   { "50", 2, 1, 0 },
		{ "100", 2, 2, 1 },	   { "250", 2, 2, 1 },
		{ "500", 2, 3, 1 },	   { "1000", 2, 3, 2 },
		{ "2500", 2, 3, 2 },	   { "5000", 2, 3, 2 },
		{ "10000", 2, 3, 2 },	   { "30000", 2, 3, 2 },
		{ "60000", 2, 3, 2 },	   { "300000", 3, 3, 2 },
		{ "600000", 3, 3, 2 },	   { "1800000", 3, 3, 2 },
		{ "3600000", 3, 3, 2 },
	};
	static const char *const names[3] = {
		"istio_request_duration_milliseconds", "istio_request_bytes",
		"istio_response_bytes",
	};
	static const char *const sums[3] = { "60001.300001", "501", "4000100" };

	(void)state;
	assert_int_equal(sl_metrics_new(0, 0, &m), 0);
	/* 0.3 ms, 0 bytes in, 100 out; 1 ms exactly (le is inclusive), 100
	 * in, 1000 out; a minute and 1 ns (above le 60000), 401 in, 3999000
	 * out (above every bound: +Inf only) */
	sl_metrics_http_observe(m, &http_l, 300000, 0, 100);
	sl_metrics_http_observe(m, &http_l, 1000000, 100, 1000);
	sl_metrics_http_observe(m, &http_l, 60000000001ull, 401, 3999000);
	assert_int_equal(sl_metrics_http_series(m), 1);
	assert_int_equal(sl_metrics_series(m), 0);
	text = render(m);
	snprintf(expect, sizeof(expect),
		 "# HELP istio_requests_total HTTP requests\n"
		 "# TYPE istio_requests_total counter\n"
		 "istio_requests_total{%s} 3\n# HELP %s ", key, names[0]);
	if (!strstr(text, expect))
		fail_msg("no %s in:\n%s", expect, text);
	for (int f = 0; f < 3; f++) {
		size_t o = 0;

		o += snprintf(expect + o, sizeof(expect) - o,
			      "\n# TYPE %s histogram\n", names[f]);
		for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++)
			o += snprintf(expect + o, sizeof(expect) - o,
				      "%s_bucket{%s,le=\"%s\"} %d\n", names[f],
				      key, b[i].le,
				      f == 0 ? b[i].d : f == 1 ? b[i].rq : b[i].rs);
		snprintf(expect + o, sizeof(expect) - o,
			 "%s_bucket{%s,le=\"+Inf\"} 3\n"
			 "%s_sum{%s} %s\n%s_count{%s} 3\n",
			 names[f], key, names[f], key, sums[f], names[f], key);
		if (!strstr(text, expect))
			fail_msg("no %s in:\n%s", expect, text);
	}
	assert_int_equal(count_lines(text, "istio_request"), 1 + 2 * 22);
	assert_int_equal(count_lines(text, "istio_response_bytes"), 22);
	free(text);
	sl_metrics_free(m);
}

static void test_http_defaults_and_codes(void **state)
{
	struct sl_metrics *m;
	struct sl_metrics_http_labels l = {
		.reporter_destination = true,
		.destination_service = "",
		.plaintext = true,
		.response_code = 0,
	};
	char *text;

	(void)state;
	assert_int_equal(sl_metrics_new(0, 0, &m), 0);
	/* no family at all before the first request, as Istio's proxy */
	text = render(m);
	assert_null(strstr(text, "istio_request"));
	assert_null(strstr(text, "istio_response"));
	free(text);
	sl_metrics_http_observe(m, &l, 0, 0, 0);
	l.response_code = 1000; /* not a status code: counted as 0 */
	sl_metrics_http_observe(m, &l, 0, 0, 0);
	l.response_code = 99;
	sl_metrics_http_observe(m, &l, 0, 0, 0);
	l.response_code = 503;
	l.response_flags = "URX,UF";
	sl_metrics_http_observe(m, &l, 0, 0, 0);
	assert_int_equal(sl_metrics_http_series(m), 2);
	text = render(m);
	assert_non_null(strstr(text,
		"istio_requests_total{reporter=\"destination\","
		"source_workload=\"unknown\",source_workload_namespace=\"unknown\","
		"source_principal=\"unknown\",source_app=\"unknown\","
		"source_version=\"unknown\",source_canonical_service=\"unknown\","
		"source_canonical_revision=\"latest\",source_cluster=\"unknown\","
		"destination_workload=\"unknown\","
		"destination_workload_namespace=\"unknown\","
		"destination_principal=\"unknown\",destination_app=\"unknown\","
		"destination_version=\"unknown\",destination_service=\"unknown\","
		"destination_service_name=\"unknown\","
		"destination_service_namespace=\"unknown\","
		"destination_canonical_service=\"unknown\","
		"destination_canonical_revision=\"latest\","
		"destination_cluster=\"unknown\",request_protocol=\"http\","
		"response_flags=\"-\",connection_security_policy=\"none\","
		"response_code=\"0\",grpc_response_status=\"\"} 3\n"));
	assert_non_null(strstr(text,
		"response_flags=\"URX,UF\",connection_security_policy=\"none\","
		"response_code=\"503\",grpc_response_status=\"\"} 1\n"));
	free(text);
	sl_metrics_free(m);
}

static void test_http_overflow(void **state)
{
	struct sl_metrics *m;
	struct sl_metrics_http_labels l = http_l;
	char name[32], *text;

	(void)state;
	/* 22 slots: 20 kept for the overflow series, 2 for label sets */
	assert_int_equal(sl_metrics_new(0, 20, &m), -EINVAL);
	assert_int_equal(sl_metrics_new(0, 22, &m), 0);
	l.source_workload = name;
	for (int i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "wl-%d", i);
		l.response_code = i < 4 ? 200 : 503;
		sl_metrics_http_observe(m, &l, 1000, 10, 20);
	}
	l.reporter_destination = true;
	l.response_code = 0;
	sl_metrics_http_observe(m, &l, 1000, 10, 20);
	/* wl-0, wl-1; then 2xx (wl-2, wl-3), 5xx (wl-4, wl-5), and the
	 * destination reporter's no-response class */
	assert_int_equal(sl_metrics_http_series(m), 5);
	assert_int_equal(sl_metrics_overflows(m), 5);
	/* an existing label set still counts on its own */
	snprintf(name, sizeof(name), "wl-1");
	l.reporter_destination = false;
	l.response_code = 200;
	sl_metrics_http_observe(m, &l, 1000, 10, 20);
	assert_int_equal(sl_metrics_overflows(m), 5);
	text = render(m);
	assert_int_equal(count_lines(text, "istio_requests_total{"), 5);
	assert_non_null(strstr(text, "source_workload=\"wl-1\","));
	assert_null(strstr(text, "source_workload=\"wl-2\","));
	assert_non_null(strstr(text,
		"istio_requests_total{reporter=\"source\",source_workload=\"other\","
		"source_workload_namespace=\"other\",source_principal=\"other\","
		"source_app=\"other\",source_version=\"other\","
		"source_canonical_service=\"other\","
		"source_canonical_revision=\"other\",source_cluster=\"other\","
		"destination_workload=\"other\","
		"destination_workload_namespace=\"other\","
		"destination_principal=\"other\",destination_app=\"other\","
		"destination_version=\"other\",destination_service=\"other\","
		"destination_service_name=\"other\","
		"destination_service_namespace=\"other\","
		"destination_canonical_service=\"other\","
		"destination_canonical_revision=\"other\","
		"destination_cluster=\"other\",request_protocol=\"http\","
		"response_flags=\"other\",connection_security_policy=\"other\","
		"response_code=\"2xx\",grpc_response_status=\"\"} 2\n"));
	assert_non_null(strstr(text, "response_code=\"5xx\",grpc_response_status=\"\"} 2\n"));
	assert_non_null(strstr(text, "istio_requests_total{reporter=\"destination\",source_workload=\"other\","));
	assert_non_null(strstr(text, "response_code=\"0\",grpc_response_status=\"\"} 1\n"));
	assert_non_null(strstr(text, "istio_request_bytes_sum{reporter=\"source\",source_workload=\"other\""));
	assert_non_null(strstr(text, "sluice_metrics_series_overflow_total 5\n"));
	free(text);
	sl_metrics_free(m);
}

/* four workers count requests while a scraper renders: every request is
 * counted once, and each rendered histogram is consistent (+Inf equals
 * _count, the buckets never decrease) */
#define OBS_THREADS 4
#define OBS_PER_THREAD 20000

static void *observer(void *arg)
{
	struct sl_metrics *m = arg;
	struct sl_metrics_http_labels l = http_l;

	for (int i = 0; i < OBS_PER_THREAD; i++) {
		l.response_code = i % 3 == 0 ? 503 : 200;
		sl_metrics_http_observe(m, &l, (uint64_t)i * 1000, (uint64_t)i,
					1);
	}
	return NULL;
}

static uint64_t sample(const char *text, const char *prefix)
{
	const char *p = strstr(text, prefix);

	assert_non_null(p);
	p = strchr(p, '}');
	assert_non_null(p);
	return strtoull(p + 2, NULL, 10);
}

/* the number at the end of the line [@p, @e) */
static uint64_t line_value(const char *p, const char *e)
{
	const char *sp = e;

	while (sp > p && sp[-1] != ' ')
		sp--;
	assert_true(sp > p);
	return strtoull(sp, NULL, 10);
}

static void test_http_concurrent(void **state)
{
	pthread_t t[OBS_THREADS];
	struct sl_metrics *m;
	char *text;

	(void)state;
	assert_int_equal(sl_metrics_new(0, 0, &m), 0);
	for (int i = 0; i < OBS_THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, observer, m), 0);
	for (int k = 0; k < 20; k++) {
		const char *p;

		text = render(m);
		p = strstr(text, "istio_response_bytes_bucket{");
		if (p) {
			uint64_t last = 0, v;

			/* the first series: 19 buckets and +Inf, _sum, _count */
			for (int b = 0; b < 22; b++) {
				const char *e = strchr(p, '\n');

				assert_non_null(e);
				v = line_value(p, e);
				if (b < 20) {
					assert_true(v >= last);
					last = v;
				} else if (b == 21) {
					assert_int_equal(v, last);
				}
				p = e + 1;
			}
		}
		free(text);
	}
	for (int i = 0; i < OBS_THREADS; i++)
		pthread_join(t[i], NULL);
	text = render(m);
	{
		/* 20000 per thread: 6667 with 503, 13333 with 200 */
		char *p503 = strstr(text, "response_code=\"503\"");
		uint64_t ok, err;

		assert_non_null(p503);
		ok = sample(strstr(text, "istio_requests_total{" HTTP_KEY("200", "-")),
			    "istio_requests_total{");
		err = sample(strstr(text, "istio_requests_total{" HTTP_KEY("503", "-")),
			     "istio_requests_total{");
		assert_int_equal(ok + err, OBS_THREADS * OBS_PER_THREAD);
		assert_int_equal(err, OBS_THREADS * 6667);
	}
	free(text);
	sl_metrics_free(m);
}

/* label values are UTF-8 in the text format: a bad byte would make
 * Prometheus reject the whole scrape */
static void test_label_utf8(void **state)
{
	struct sl_metrics *m;
	char big[600], *text;
	struct sl_metrics_labels l = { .source_workload = "a\xff" "b\xc3\xa9\xe2\x82" };

	(void)state;
	assert_int_equal(sl_metrics_new(0, 0, &m), 0);
	sl_metrics_tcp_add(m, &l, 1, 0, 0, 0);
	/* 255 x and an é: the é does not fit in 256 bytes, whole or not */
	memset(big, 'x', 255);
	strcpy(big + 255, "\xc3\xa9tail");
	l.source_workload = big;
	sl_metrics_tcp_add(m, &l, 1, 0, 0, 0);
	text = render(m);
	assert_non_null(strstr(text, "source_workload=\"a?b\xc3\xa9??\","));
	big[255] = '\0';
	strcat(big, "\",");
	assert_non_null(strstr(text, big));
	free(text);
	sl_metrics_free(m);
}

/* the whole exposition, HTTP series with hostile label values included,
 * passes promtool (tests/netns/tools/promtool-check: Istio's
 * milliseconds name is the only lint finding it accepts) */
static void test_promtool(void **state)
{
	struct sl_metrics *m;
	struct sl_metrics_http_labels h = http_l;
	struct sl_metrics_labels t = { .source_workload = "pod11" };
	const char *check = getenv("SL_PROMTOOL_CHECK");
	char *text;
	FILE *p;

	(void)state;
	if (!check)
		fail_msg("SL_PROMTOOL_CHECK not set (meson sets it)");
	assert_int_equal(sl_metrics_new(0, 0, &m), 0);
	sl_metrics_tcp_add(m, &t, 1, 1, 10, 20);
	sl_metrics_http_observe(m, &h, 2500000, 120, 4096);
	h.source_workload = "q\"uo\\te\nnl\x01\x7f";
	h.destination_service = "\xc0\xaf\xed\xa0\x80"; /* not UTF-8 */
	h.response_flags = "UH";
	h.response_code = 503;
	sl_metrics_http_observe(m, &h, 5, 0, 0);
	sl_metrics_handshake_observe(m, 1000000);
	text = render(m);
	signal(SIGPIPE, SIG_IGN);
	p = popen(check, "w");
	assert_non_null(p);
	fputs(text, p);
	if (pclose(p) != 0)
		fail_msg("promtool-check rejects:\n%s", text);
	free(text);
	sl_metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_text),
		cmocka_unit_test(test_escaping_and_defaults),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_cardinality_overflow),
		cmocka_unit_test(test_long_labels_truncated),
		cmocka_unit_test(test_http_exact),
		cmocka_unit_test(test_http_defaults_and_codes),
		cmocka_unit_test(test_http_overflow),
		cmocka_unit_test(test_http_concurrent),
		cmocka_unit_test(test_label_utf8),
		cmocka_unit_test(test_promtool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Telemetry of HTTP requests (daemon/obs/http_obs.c): Istio's workload
 * labels from a workload's labels, and one request reaching both the
 * metrics (counts equal to the requests recorded) and the access log.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "accesslog.h"
#include "config.h"
#include "http_obs.h"
#include "metrics.h"

struct wl_case {
	struct sl_label l[4];
	size_t n;
	const char *app, *version, *svc, *rev;
};

static void test_workload_labels(void **state)
{
	static const struct wl_case c[] = {
		/* nothing: the workload name and "latest" */
		{ { { 0 } }, 0, NULL, NULL, "reviews-v1-abc", "latest" },
		{ { { "app", "reviews" }, { "version", "v1" } }, 2,
		  "reviews", "v1", "reviews", "v1" },
		/* the Kubernetes recommended labels */
		{ { { "app.kubernetes.io/name", "rv" },
		    { "app.kubernetes.io/version", "1.2" } }, 2,
		  "rv", "1.2", "rv", "1.2" },
		/* both: app/version win for the app labels, the
		 * app.kubernetes.io ones for the canonical ones (Istio's
		 * precedence) */
		{ { { "app", "a" }, { "app.kubernetes.io/name", "k" },
		    { "version", "v" }, { "app.kubernetes.io/version", "kv" } }, 4,
		  "a", "v", "k", "kv" },
		/* the canonical labels win over everything */
		{ { { "app", "a" }, { "service.istio.io/canonical-name", "cs" },
		    { "version", "v" },
		    { "service.istio.io/canonical-revision", "cr" } }, 4,
		  "a", "v", "cs", "cr" },
		/* unrelated labels are ignored; an empty value counts */
		{ { { "tier", "web" }, { "app", "" } }, 2, "", NULL, "", "latest" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		const char *app = "x", *version = "x", *svc = "x", *rev = "x";

		sl_obs_workload_labels(c[i].l, c[i].n, "reviews-v1-abc", &app,
				       &version, &svc, &rev);
		if ((app != c[i].app &&
		     (!app || !c[i].app || strcmp(app, c[i].app))) ||
		    (version != c[i].version &&
		     (!version || !c[i].version || strcmp(version, c[i].version))) ||
		    strcmp(svc, c[i].svc) || strcmp(rev, c[i].rev))
			fail_msg("case %zu: app %s version %s svc %s rev %s", i,
				 app ? app : "NULL", version ? version : "NULL",
				 svc, rev);
	}
	/* NULL labels and NULL outputs */
	{
		const char *rev = NULL;

		sl_obs_workload_labels(NULL, 3, "w", NULL, NULL, NULL, &rev);
		assert_string_equal(rev, "latest");
	}
}

static char *render(struct sl_metrics *m)
{
	char *buf = NULL, *copy;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	assert_int_equal(sl_metrics_render(m, out), 0);
	assert_int_equal(fclose(out), 0);
	copy = strdup(buf);
	free(buf);
	assert_non_null(copy);
	return copy;
}

static const char checker[] =
	"import json,sys\n"
	"lines=sys.stdin.buffer.read().split(b'\\n')\n"
	"assert lines[-1]==b'' and len(lines)==11, lines\n"
	"for i,raw in enumerate(lines[:-1]):\n"
	"    o=json.loads(raw.decode('utf-8'))\n"
	"    assert o['kind']=='http' and o['direction']=='outbound', o\n"
	"    assert o['method']=='GET' and o['authority']=='my-service', o\n"
	"    assert o['path']=='/a\"b\\\\c\\n\\x01\\x7f\\xff/%d' % i, o['path']\n"
	"    assert o['response_code']==(503 if i%2 else 200), o\n"
	"    assert o['response_flags']==('URX' if i%2 else '-'), o\n"
	"    assert o['route']=='canary' and o['upstream']=='198.18.2.11:8080'\n"
	"    assert o['request_bytes']==100 and o['response_bytes']==2000\n"
	"    assert o['duration_ms']==3 and o['duration_us']==3500\n"
	"    assert o['attempts']==(3 if i%2 else 1)\n"
	"    assert o['trace_id']=='4bf92f3577b34da6a3ce929d0e0e4736'\n"
	"    assert o['request_id'] is None\n"
	"    assert o['flow_id']=='00000000000000ab'\n"
	"    assert o['src']=={'addr':'198.18.1.11:40000','workload':'client',"
	"'namespace':'default','principal':'spiffe://cluster.local/ns/default/sa/client'}, o\n"
	"    assert o['dst']['service']=='my-service.default.svc.cluster.local'\n"
	"    assert o['dst']['workload']=='my-service-v2'\n"
	"    assert o['connection_security_policy']=='mutual_tls'\n"
	"    assert o['truncated'] is False\n";

/* ten requests through sl_obs_http_record(): the metrics count each once
 * with its code, the access log has one valid JSON line each, the
 * client's bytes in the path escaped */
static void test_record(void **state)
{
	struct sl_obs_http r = {
		.src_workload = "client",
		.src_ns = "default",
		.src_principal = "spiffe://cluster.local/ns/default/sa/client",
		.src_app = "client",
		.dst_service = "my-service.default.svc.cluster.local",
		.dst_service_name = "my-service",
		.dst_service_ns = "default",
		.dst_workload = "my-service-v2",
		.dst_ns = "default",
		.dst_app = "my-service",
		.dst_version = "v2",
		.method = "GET",
		.authority = "my-service",
		.route_name = "canary",
		.upstream = "198.18.2.11:8080",
		.src_addr = "198.18.1.11:40000",
		.dst_addr = "198.19.0.10:80",
		.request_bytes = 100,
		.response_bytes = 2000,
		.duration_ns = 3500000,
		.start_realtime_ns = 1764012345123456789ull,
		.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736",
		.flow_id = 0xab,
	};
	struct sl_accesslog_opts o = { .rate = 1000, .burst = 1000 };
	struct sl_accesslog *al;
	struct sl_metrics *m;
	char path[64], *text;
	FILE *py;
	int p[2];

	(void)state;
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	o.fd = p[1];
	assert_int_equal(sl_accesslog_new(&o, &al), 0);
	assert_int_equal(sl_metrics_new(0, 0, &m), 0);
	r.path = path;
	for (int i = 0; i < 10; i++) {
		snprintf(path, sizeof(path), "/a\"b\\c\n%c\x7f\xff/%d", 0x01, i);
		r.response_code = i % 2 ? 503 : 200;
		r.response_flags = i % 2 ? "URX" : "-";
		r.attempts = i % 2 ? 3 : 1;
		sl_obs_http_record(m, al, &r);
	}
	assert_int_equal(sl_accesslog_written(al), 10);
	close(p[1]);
	text = render(m);
	assert_non_null(strstr(text, "response_code=\"200\",grpc_response_status=\"\"} 5\n"));
	assert_non_null(strstr(text, "response_flags=\"URX\",connection_security_policy=\"mutual_tls\",response_code=\"503\",grpc_response_status=\"\"} 5\n"));
	assert_non_null(strstr(text, "source_app=\"client\",source_version=\"unknown\",source_canonical_service=\"unknown\",source_canonical_revision=\"latest\""));
	assert_non_null(strstr(text, "istio_request_duration_milliseconds_sum{"));
	assert_non_null(strstr(text, "} 17.500000\n")); /* 5 x 3.5 ms */
	assert_non_null(strstr(text, "istio_response_bytes_sum{"));
	assert_non_null(strstr(text, "} 10000\n"));
	free(text);

	/* python3 reads the lines back */
	{
		char buf[65536];
		ssize_t n = read(p[0], buf, sizeof(buf));

		assert_true(n > 0);
		setenv("SL_CHECKER", checker, 1);
		py = popen("/usr/bin/python3 -c \"$SL_CHECKER\"", "w");
		assert_non_null(py);
		fwrite(buf, 1, (size_t)n, py);
		if (pclose(py) != 0)
			fail_msg("python3 rejected:\n%.*s", (int)n, buf);
	}
	/* NULL registry and log: nothing to do, no crash */
	sl_obs_http_record(NULL, NULL, &r);
	sl_obs_http_record(m, al, NULL);
	close(p[0]);
	sl_accesslog_free(al);
	sl_metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_workload_labels),
		cmocka_unit_test(test_record),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

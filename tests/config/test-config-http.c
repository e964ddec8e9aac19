/* SPDX-License-Identifier: Apache-2.0 */
/* Per-request HTTP routes (config/http_route.c): Istio's protocol
 * selection (appProtocol, port name prefix, ServiceEntry protocol, a
 * workload address through the Service that selects it), the canary
 * VirtualService of issue 26 verbatim (x-canary: "true" always v2, else
 * exactly 90/10 over rnd 0..99), every match type through the config (uri
 * exact/prefix/regex and ignoreUriCase, method, authority, scheme, headers,
 * withoutHeaders, queryParams, port, sourceLabels, sourceNamespace), the
 * rule and route[] settings handed to the engine, -ESRCH when no rule
 * matches, the default route, bad regexes at their file:line:col, and the
 * warning for match blocks on a host without an HTTP port. */
#include "cfgtest.h"
#include "http_route.h"
#include "util.h"

#ifndef SL_TEST_DATA
#error SL_TEST_DATA must name tests/config/data
#endif

static struct sl_ip ip(const char *s)
{
	struct sl_ip a;

	assert_int_equal(sl_ip_parse(s, &a), 0);
	return a;
}

struct req {
	char buf[2048];
	struct sl_h1_msg msg;
	struct sl_http_req_view v;
};

/* parse @head into @r and build the view the engine would */
static void req_init(struct req *r, const char *head)
{
	size_t len = strlen(head);

	assert_true(len < sizeof(r->buf));
	memcpy(r->buf, head, len);
	sl_h1_msg_init(&r->msg, NULL);
	assert_int_equal(sl_h1_parse_request(&r->msg, r->buf, len),
			 (ssize_t)len);
	memset(&r->v, 0, sizeof(r->v));
	r->v.buf = r->buf;
	r->v.msg = &r->msg;
	r->v.method = r->buf + r->msg.method.off;
	r->v.method_len = r->msg.method.len;
	r->v.path = r->buf + r->msg.target.off;
	r->v.path_len = r->msg.target.len;
	r->v.authority = r->buf + r->msg.hdr[r->msg.host].value.off;
	r->v.authority_len = r->msg.hdr[r->msg.host].value.len;
	r->v.scheme = "http";
}

/* ---- protocol selection ------------------------------------------------ */

static const char proto_yaml[] =
	"apiVersion: v1\n"
	"kind: Service\n"
	"metadata: {name: web}\n"
	"spec:\n"
	"  clusterIP: 198.19.0.30\n"
	"  selector: {app: web}\n"
	"  ports:\n"
	"  - {name: web, port: 8001, appProtocol: http}\n"
	"  - {name: http, port: 8002}\n"
	"  - {name: http-web, port: 8003}\n"
	"  - {name: http2, port: 8004}\n"
	"  - {name: grpc-x, port: 8005}\n"
	"  - {name: tcp, port: 8006}\n"
	"  - {port: 8007}\n"
	"  - {name: http-t, port: 8008, appProtocol: tcp}\n"
	"  - {name: tcp-h, port: 8009, appProtocol: HTTP}\n"
	"  - {name: grpc-web, port: 8010}\n"
	"  - {name: httpx, port: 8011}\n"
	"  - {name: h2c, port: 8012, appProtocol: kubernetes.io/h2c}\n"
	"  - {name: http-u, port: 8013, appProtocol: example.com/custom}\n"
	"  - {name: HTTP-up, port: 8014}\n"
	"  - {name: grpc, port: 8015}\n"
	"  - {name: mysql, port: 8016, appProtocol: mysql}\n"
	"  - {name: pod-http, port: 7000, targetPort: 9002, appProtocol: http}\n"
	"  - {name: pod-tcp, port: 7001, targetPort: 9003}\n"
	"---\n"
	"apiVersion: networking.istio.io/v1\n"
	"kind: WorkloadEntry\n"
	"metadata: {name: web-0}\n"
	"spec:\n"
	"  address: 198.18.1.5\n"
	"  labels: {app: web}\n"
	"---\n"
	"apiVersion: networking.istio.io/v1\n"
	"kind: WorkloadEntry\n"
	"metadata: {name: lonely}\n"
	"spec:\n"
	"  address: 198.18.1.6\n"
	"  labels: {app: nobody-selects-me}\n"
	"---\n"
	"apiVersion: networking.istio.io/v1\n"
	"kind: ServiceEntry\n"
	"metadata: {name: ext}\n"
	"spec:\n"
	"  hosts: [ext.example.internal]\n"
	"  addresses: [198.19.3.1]\n"
	"  resolution: STATIC\n"
	"  endpoints: [{address: 198.18.3.1}]\n"
	"  ports:\n"
	"  - {number: 80, name: web, protocol: HTTP}\n"
	"  - {number: 81, name: http, protocol: TCP}\n"
	"  - {number: 82, name: http}\n"
	"  - {number: 83, name: g, protocol: GRPC}\n"
	"  - {number: 84, name: h, protocol: http}\n";

static void test_protocol_selection(void **state)
{
	static const struct {
		const char *ip;
		uint16_t port;
		enum sl_app_proto want;
	} rows[] = {
		/* appProtocol */
		{ "198.19.0.30", 8001, SL_PROTO_HTTP },
		/* port names: "http", "http-*" */
		{ "198.19.0.30", 8002, SL_PROTO_HTTP },
		{ "198.19.0.30", 8003, SL_PROTO_HTTP },
		/* http2, grpc-*: HTTP/2, left on the L4 path for now */
		{ "198.19.0.30", 8004, SL_PROTO_HTTP2 },
		{ "198.19.0.30", 8005, SL_PROTO_HTTP2 },
		{ "198.19.0.30", 8006, SL_PROTO_TCP },
		/* no name */
		{ "198.19.0.30", 8007, SL_PROTO_TCP },
		/* appProtocol wins over the name, case-insensitively */
		{ "198.19.0.30", 8008, SL_PROTO_TCP },
		{ "198.19.0.30", 8009, SL_PROTO_HTTP },
		{ "198.19.0.30", 8010, SL_PROTO_HTTP2 },
		/* "httpx" is no Istio prefix */
		{ "198.19.0.30", 8011, SL_PROTO_TCP },
		{ "198.19.0.30", 8012, SL_PROTO_HTTP2 },
		/* an appProtocol Istio does not know: the name decides */
		{ "198.19.0.30", 8013, SL_PROTO_HTTP },
		{ "198.19.0.30", 8014, SL_PROTO_HTTP },
		{ "198.19.0.30", 8015, SL_PROTO_HTTP2 },
		{ "198.19.0.30", 8016, SL_PROTO_TCP },
		/* a port the Service does not have */
		{ "198.19.0.30", 9999, SL_PROTO_TCP },
		/* a workload address: the port of the selecting Service whose
		 * targetPort it is */
		{ "198.18.1.5", 9002, SL_PROTO_HTTP },
		{ "198.18.1.5", 9003, SL_PROTO_TCP },
		{ "198.18.1.5", 8002, SL_PROTO_HTTP }, /* targetPort = port */
		{ "198.18.1.5", 7000, SL_PROTO_TCP },  /* service port, not target */
		{ "198.18.1.6", 8002, SL_PROTO_TCP },  /* selected by none */
		/* ServiceEntry: ports[].protocol only, not the name */
		{ "198.19.3.1", 80, SL_PROTO_HTTP },
		{ "198.19.3.1", 81, SL_PROTO_TCP },
		{ "198.19.3.1", 82, SL_PROTO_TCP },
		{ "198.19.3.1", 83, SL_PROTO_HTTP2 },
		{ "198.19.3.1", 84, SL_PROTO_HTTP },
		/* nothing known */
		{ "198.19.9.9", 80, SL_PROTO_TCP },
	};
	struct cfgt t = { 0 };

	(void)state;
	CFGT_OK(&t, "t.yaml", proto_yaml);
	for (size_t i = 0; i < SL_ARRAY_SIZE(rows); i++) {
		struct sl_ip a = ip(rows[i].ip);
		enum sl_app_proto got = sl_config_port_protocol(t.cfg, NULL, &a,
								rows[i].port);

		if (got != rows[i].want)
			fprintf(stderr, "%s:%u: %s, want %s\n", rows[i].ip,
				rows[i].port, sl_app_proto_name(got),
				sl_app_proto_name(rows[i].want));
		assert_int_equal(got, rows[i].want);
	}
	assert_int_equal(sl_config_port_protocol(NULL, NULL, NULL, 80),
			 SL_PROTO_TCP);
	cfgt_done(&t);
}

/* ---- the canary of issue 26, verbatim (tests/config/data/canary) ------- */

static void test_canary(void **state)
{
	struct sl_ip vip = ip("198.19.0.1"), pod = ip("198.18.1.3");
	struct sl_http_route rt;
	struct cfgt t = { 0 };
	struct req r;
	unsigned int v1 = 0, v2 = 0;

	(void)state;
	cfgt_load_dir(&t, SL_TEST_DATA "/canary");
	assert_int_equal(t.ret, 0);
	assert_int_equal(sl_config_port_protocol(t.cfg, NULL, &vip, 80),
			 SL_PROTO_HTTP);
	assert_int_equal(sl_config_port_protocol(t.cfg, NULL, &pod, 8080),
			 SL_PROTO_HTTP);
	/* x-canary: "true" -> v2, whatever rnd */
	req_init(&r, "GET / HTTP/1.1\r\nHost: my-service\r\nx-canary: true\r\n\r\n");
	for (uint32_t rnd = 0; rnd < 200; rnd++) {
		assert_int_equal(sl_config_http_route(t.cfg, NULL, &vip, 80,
						      &r.v, rnd, &rt), 0);
		assert_int_equal(rt.rule, 0);
		assert_int_equal(rt.dest, 0);
		assert_int_equal(rt.n_eps, 1);
		assert_string_equal(rt.eps[0].workload->name, "my-service-v2-0");
		assert_int_equal(rt.eps[0].port, 8080);
		assert_string_equal(rt.pol.subset, "v2");
		assert_string_equal(rt.pol.host,
				    "my-service.default.svc.cluster.local");
		assert_string_equal(rt.host,
				    "my-service.default.svc.cluster.local");
	}
	/* header names are case-insensitive, values are not */
	req_init(&r, "GET / HTTP/1.1\r\nHost: my-service\r\nX-Canary: true\r\n\r\n");
	assert_int_equal(sl_config_http_route(t.cfg, NULL, &vip, 80, &r.v, 99,
					      &rt), 0);
	assert_int_equal(rt.rule, 0);
	req_init(&r, "GET / HTTP/1.1\r\nHost: my-service\r\nx-canary: True\r\n\r\n");
	assert_int_equal(sl_config_http_route(t.cfg, NULL, &vip, 80, &r.v, 99,
					      &rt), 0);
	assert_int_equal(rt.rule, 1);
	/* else 90/10: rnd % 100 below 90 is v1, the rest v2 */
	req_init(&r, "GET / HTTP/1.1\r\nHost: my-service\r\nx-canary: false\r\n\r\n");
	for (uint32_t rnd = 0; rnd < 100; rnd++) {
		assert_int_equal(sl_config_http_route(t.cfg, NULL, &vip, 80,
						      &r.v, rnd, &rt), 0);
		assert_int_equal(rt.rule, 1);
		if (rt.n_eps == 2) {
			assert_true(rnd < 90);
			assert_int_equal(rt.dest, 0);
			assert_string_equal(rt.eps[0].workload->name, "my-service-v1-0");
			assert_string_equal(rt.eps[1].workload->name, "my-service-v1-1");
			assert_string_equal(rt.pol.subset, "v1");
			v1++;
		} else {
			assert_true(rnd >= 90);
			assert_int_equal(rt.dest, 1);
			assert_int_equal(rt.n_eps, 1);
			assert_string_equal(rt.eps[0].workload->name, "my-service-v2-0");
			v2++;
		}
		/* rnd is taken modulo 100 */
		{
			struct sl_http_route again;

			assert_int_equal(sl_config_http_route(t.cfg, NULL, &vip, 80,
							      &r.v, rnd + 100 * 7919u,
							      &again), 0);
			assert_int_equal(again.dest, rt.dest);
		}
	}
	assert_int_equal(v1, 90);
	assert_int_equal(v2, 10);
	/* a pod address: that workload, no rule */
	assert_int_equal(sl_config_http_route(t.cfg, NULL, &pod, 8080, &r.v, 0,
					      &rt), 0);
	assert_int_equal(rt.rule, -1);
	assert_int_equal(rt.n_eps, 1);
	assert_string_equal(rt.eps[0].workload->name, "my-service-v2-0");
	assert_int_equal(rt.eps[0].port, 0);
	/* nothing there */
	assert_int_equal(sl_config_http_route(t.cfg, NULL, &vip, 81, &r.v, 0,
					      &rt), -ENOENT);
	{
		struct sl_ip none = ip("198.19.9.9");

		assert_int_equal(sl_config_http_route(t.cfg, NULL, &none, 80,
						      &r.v, 0, &rt), -ENOENT);
	}
	/* the connection-level route is unchanged: smooth WRR, 90/10 */
	v1 = v2 = 0;
	for (int i = 0; i < 100; i++) {
		const struct sl_endpoint *eps;
		struct sl_dest_policy pol;
		size_t n;

		assert_int_equal(sl_config_route(t.cfg, NULL, &vip, 80, &eps, &n,
						 &pol), 0);
		if (n == 2)
			v1++;
		else
			v2++;
	}
	assert_int_equal(v1, 90);
	assert_int_equal(v2, 10);
	cfgt_done(&t);
}

/* ---- every match type through the config --------------------------------- */

#define MATCH_BASE                                                             \
	"apiVersion: v1\n"                                                     \
	"kind: Service\n"                                                      \
	"metadata: {name: reviews}\n"                                          \
	"spec:\n"                                                              \
	"  clusterIP: 198.19.0.20\n"                                           \
	"  selector: {app: reviews}\n"                                         \
	"  ports: [{name: http, port: 9080}, {name: http-alt, port: 9081}]\n"  \
	"---\n"                                                                \
	"apiVersion: v1\n"                                                     \
	"kind: Service\n"                                                      \
	"metadata: {name: ratings}\n"                                          \
	"spec:\n"                                                              \
	"  clusterIP: 198.19.0.21\n"                                           \
	"  selector: {app: ratings}\n"                                         \
	"  ports: [{name: http, port: 9080}]\n"                                \
	"---\n"                                                                \
	"apiVersion: networking.istio.io/v1\n"                                 \
	"kind: WorkloadEntry\n"                                                \
	"metadata: {name: reviews-v1}\n"                                       \
	"spec:\n"                                                              \
	"  address: 198.18.1.20\n"                                             \
	"  labels: {app: reviews, version: v1}\n"                              \
	"---\n"                                                                \
	"apiVersion: networking.istio.io/v1\n"                                 \
	"kind: WorkloadEntry\n"                                                \
	"metadata: {name: ratings-v1}\n"                                       \
	"spec:\n"                                                              \
	"  address: 198.18.1.21\n"                                             \
	"  labels: {app: ratings}\n"                                           \
	"---\n"                                                                \
	"apiVersion: networking.istio.io/v1\n"                                 \
	"kind: WorkloadEntry\n"                                                \
	"metadata: {name: productpage}\n"                                      \
	"spec:\n"                                                              \
	"  address: 198.18.1.30\n"                                             \
	"  labels: {app: productpage, version: v1}\n"                          \
	"---\n"                                                                \
	"apiVersion: networking.istio.io/v1\n"                                 \
	"kind: WorkloadEntry\n"                                                \
	"metadata: {name: tester, namespace: prod}\n"                          \
	"spec:\n"                                                              \
	"  address: 198.18.1.31\n"                                             \
	"  labels: {app: tester}\n"                                            \
	"---\n"                                                                \
	"apiVersion: networking.istio.io/v1\n"                                 \
	"kind: DestinationRule\n"                                              \
	"metadata: {name: reviews}\n"                                          \
	"spec:\n"                                                              \
	"  host: reviews\n"                                                    \
	"  subsets:\n"                                                         \
	"  - {name: v1, labels: {version: v1}}\n"                              \
	"  - {name: v9, labels: {version: v9}}\n"

static const char match_vs[] =
	"apiVersion: networking.istio.io/v1\n"
	"kind: VirtualService\n"
	"metadata: {name: reviews}\n"
	"spec:\n"
	"  hosts: [reviews]\n"
	"  http:\n"
	"  - name: uri-exact\n"
	"    match: [{uri: {exact: /exact}}]\n"
	"    route: [{destination: {host: reviews}}]\n"
	"  - name: uri-prefix-ignoreUriCase\n"
	"    match: [{uri: {prefix: /Pre}, ignoreUriCase: true}]\n"
	"    route: [{destination: {host: reviews}}]\n"
	"  - name: uri-regex\n"
	"    match: [{uri: {regex: \"/re/[0-9]+\"}}]\n"
	"    route: [{destination: {host: reviews}}]\n"
	"  - name: method\n"
	"    match: [{method: {exact: PUT}}, {method: {regex: \"PATCH|DELETE\"}}]\n"
	"    route: [{destination: {host: reviews}}]\n"
	"  - name: authority\n"
	"    match: [{authority: {prefix: reviews.prod}}]\n"
	"    route: [{destination: {host: reviews}}]\n"
	"  - name: scheme\n"
	"    match: [{scheme: {exact: https}}, {scheme: {regex: \"http\"}, uri: {prefix: /scheme}}]\n"
	"    route: [{destination: {host: reviews}}]\n"
	"  - name: headers\n"
	"    match: [{headers: {x-user: {regex: \"jason|bob\"}, x-b: {prefix: \"1\"}}}]\n"
	"    route: [{destination: {host: reviews}}]\n"
	"  - name: withoutHeaders\n"
	"    match: [{uri: {prefix: /w}, withoutHeaders: {x-ok: {exact: \"1\"}}}]\n"
	"    route: [{destination: {host: reviews}}]\n"
	"  - name: queryParams\n"
	"    match: [{queryParams: {v: {exact: \"2\"}, w: {regex: \"[a-z]*\"}}}]\n"
	"    route: [{destination: {host: reviews}}]\n"
	"  - name: port\n"
	"    match: [{port: 9081, uri: {prefix: /port}}]\n"
	"    route: [{destination: {host: reviews}}]\n"
	"  - name: sourceLabels\n"
	"    match: [{sourceLabels: {app: productpage}, uri: {prefix: /src}}]\n"
	"    route: [{destination: {host: reviews}}]\n"
	"  - name: sourceNamespace\n"
	"    match: [{sourceNamespace: prod, uri: {prefix: /ns}}]\n"
	"    route: [{destination: {host: reviews}}]\n"
	"  - name: settings\n"
	"    match: [{uri: {exact: /settings}}]\n"
	"    timeout: 3s\n"
	"    retries: {attempts: 4, perTryTimeout: 1s, retryOn: \"5xx,reset\"}\n"
	"    fault:\n"
	"      delay: {fixedDelay: 2s, percentage: {value: 12.5}}\n"
	"      abort: {httpStatus: 418, percentage: {value: 50}}\n"
	"    headers:\n"
	"      request: {set: {x-a: \"1\"}, add: {x-b: \"2\"}, remove: [x-c]}\n"
	"      response: {remove: [server, x-d]}\n"
	"    route:\n"
	"    - destination: {host: reviews, subset: v1}\n"
	"      weight: 50\n"
	"      headers: {request: {set: {x-dest: v1}}, response: {add: {x-from: v1}}}\n"
	"    - destination: {host: ratings}\n"
	"      weight: 50\n"
	"  - name: empty-subset\n"
	"    match: [{uri: {exact: /v9}}]\n"
	"    route: [{destination: {host: reviews, subset: v9}}]\n"
	"  - name: present\n"
	"    match:\n"
	"    - headers: {x-p: {}}\n"
	"      withoutHeaders: {x-q: {}}\n"
	"      queryParams: {flag: {}}\n"
	"    - headers: {x-n: }\n"
	"    route: [{destination: {host: reviews}}]\n"
	"---\n"
	"apiVersion: networking.istio.io/v1\n"
	"kind: VirtualService\n"
	"metadata: {name: ratings}\n"
	"spec:\n"
	"  hosts: [ratings]\n"
	"  http:\n"
	"  - match: [{port: 7777}]\n"
	"    route: [{destination: {host: reviews}}]\n"
	"  - match: [{sourceNamespace: nowhere}]\n"
	"    route: [{destination: {host: reviews}}]\n";

/* the rule @head takes at reviews:@port from source @src (NULL: none);
 * -ESRCH / -ENOENT as returned */
static int rule_of(const struct sl_config *cfg, const char *src,
		   uint16_t port, const char *head, const char **name)
{
	const struct sl_workload *w = NULL;
	struct sl_ip vip = ip("198.19.0.20");
	struct sl_http_route rt;
	struct req r;
	int ret;

	if (src) {
		struct sl_ip a = ip(src);

		w = sl_config_workload_by_ip(cfg, &a);
		assert_non_null(w);
	}
	req_init(&r, head);
	ret = sl_config_http_route(cfg, w, &vip, port, &r.v, 0, &rt);
	*name = rt.rule_name;
	if (ret == 0) {
		assert_true(rt.rule >= 0);
		assert_int_equal(rt.n_eps, 1);
		assert_string_equal(rt.eps[0].workload->name, "reviews-v1");
	}
	return ret;
}

#define EXPECT_RULE(src, port, head, want)                                     \
	do {                                                                   \
		const char *got_ = NULL;                                       \
		int r_ = rule_of(t.cfg, src, port, head, &got_);               \
		if (r_ != 0 || strcmp(got_ ? got_ : "", want)) {              \
			fprintf(stderr, "%s -> %d %s, want %s\n", head, r_,    \
				got_ ? got_ : "(none)", want);                 \
			fail();                                                \
		}                                                              \
	} while (0)

#define EXPECT_NO_RULE(src, port, head)                                        \
	do {                                                                   \
		const char *got_ = NULL;                                       \
		int r_ = rule_of(t.cfg, src, port, head, &got_);               \
		if (r_ != -ESRCH) {                                            \
			fprintf(stderr, "%s -> %d %s, want -ESRCH\n", head,    \
				r_, got_ ? got_ : "(none)");                   \
			fail();                                                \
		}                                                              \
	} while (0)

#define H(line) line " HTTP/1.1\r\nHost: reviews\r\n\r\n"

static void test_match_types(void **state)
{
	struct cfgt t = { 0 };

	(void)state;
	CFGT_OK(&t, "base.yaml", MATCH_BASE, "vs.yaml", match_vs);
	/* uri exact: the path without the query */
	EXPECT_RULE(NULL, 9080, H("GET /exact"), "uri-exact");
	EXPECT_RULE(NULL, 9080, H("GET /exact?x=1"), "uri-exact");
	EXPECT_NO_RULE(NULL, 9080, H("GET /exact/1"));
	EXPECT_NO_RULE(NULL, 9080, H("GET /EXACT"));
	/* uri prefix with ignoreUriCase */
	EXPECT_RULE(NULL, 9080, H("GET /prefix"), "uri-prefix-ignoreUriCase");
	EXPECT_RULE(NULL, 9080, H("GET /PRE"), "uri-prefix-ignoreUriCase");
	/* uri regex: full match of the path */
	EXPECT_RULE(NULL, 9080, H("GET /re/12?q"), "uri-regex");
	EXPECT_NO_RULE(NULL, 9080, H("GET /re/12a"));
	/* method: exact, or (second block) regex */
	EXPECT_RULE(NULL, 9080, "PUT /m HTTP/1.1\r\nHost: reviews\r\ncontent-length: 0\r\n\r\n",
		    "method");
	EXPECT_RULE(NULL, 9080, H("DELETE /m"), "method");
	EXPECT_NO_RULE(NULL, 9080, H("GET /m"));
	/* authority: the Host value */
	EXPECT_RULE(NULL, 9080, "GET /a HTTP/1.1\r\nHost: reviews.prod:9080\r\n\r\n",
		    "authority");
	/* scheme: always "http" on the mesh's plaintext side */
	EXPECT_RULE(NULL, 9080, H("GET /scheme"), "scheme");
	/* headers: every listed header must match */
	EXPECT_RULE(NULL, 9080, "GET /h HTTP/1.1\r\nHost: reviews\r\nX-User: bob\r\nx-b: 12\r\n\r\n",
		    "headers");
	EXPECT_NO_RULE(NULL, 9080, "GET /h HTTP/1.1\r\nHost: reviews\r\nx-user: bob\r\n\r\n");
	EXPECT_NO_RULE(NULL, 9080, "GET /h HTTP/1.1\r\nHost: reviews\r\nx-user: bobby\r\nx-b: 1\r\n\r\n");
	/* withoutHeaders */
	EXPECT_RULE(NULL, 9080, H("GET /w"), "withoutHeaders");
	EXPECT_RULE(NULL, 9080, "GET /w HTTP/1.1\r\nHost: reviews\r\nx-ok: 2\r\n\r\n",
		    "withoutHeaders");
	EXPECT_NO_RULE(NULL, 9080, "GET /w HTTP/1.1\r\nHost: reviews\r\nx-ok: 1\r\n\r\n");
	/* queryParams: first occurrence, raw */
	EXPECT_RULE(NULL, 9080, H("GET /q?v=2&w=abc"), "queryParams");
	EXPECT_RULE(NULL, 9080, H("GET /q?w&v=2&v=3"), "queryParams");
	EXPECT_NO_RULE(NULL, 9080, H("GET /q?v=3&v=2&w="));
	EXPECT_NO_RULE(NULL, 9080, H("GET /q?v=2&w=A"));
	EXPECT_NO_RULE(NULL, 9080, H("GET /q?v=%32&w="));
	/* port: the connection's destination port */
	EXPECT_RULE(NULL, 9081, H("GET /port"), "port");
	EXPECT_NO_RULE(NULL, 9080, H("GET /port"));
	/* sourceLabels and sourceNamespace: the source workload's */
	EXPECT_RULE("198.18.1.30", 9080, H("GET /src"), "sourceLabels");
	EXPECT_NO_RULE("198.18.1.31", 9080, H("GET /src"));
	EXPECT_NO_RULE(NULL, 9080, H("GET /src"));
	EXPECT_RULE("198.18.1.31", 9080, H("GET /ns"), "sourceNamespace");
	EXPECT_NO_RULE("198.18.1.30", 9080, H("GET /ns"));
	/* "{}" (or no value): the header or parameter is present */
	EXPECT_RULE(NULL, 9080, "GET /x-present?flag HTTP/1.1\r\nHost: reviews\r\nx-p: 1\r\n\r\n",
		    "present");
	EXPECT_NO_RULE(NULL, 9080, "GET /x-present?flag HTTP/1.1\r\nHost: reviews\r\nx-p: 1\r\nx-q: 0\r\n\r\n");
	EXPECT_NO_RULE(NULL, 9080, "GET /x-present HTTP/1.1\r\nHost: reviews\r\nx-p: 1\r\n\r\n");
	EXPECT_NO_RULE(NULL, 9080, H("GET /x-present?flag"));
	EXPECT_RULE(NULL, 9080, "GET /x HTTP/1.1\r\nHost: reviews\r\nx-n:\r\n\r\n",
		    "present");
	/* no rule matches: Istio's 404 NR */
	EXPECT_NO_RULE(NULL, 9080, H("GET /nothing"));
	cfgt_done(&t);
}

/* what a rule and its chosen route[] entry hand to the engine */
static void test_rule_settings(void **state)
{
	struct sl_ip vip = ip("198.19.0.20"), rat = ip("198.19.0.21");
	struct sl_http_route rt;
	struct cfgt t = { 0 };
	struct req r;

	(void)state;
	CFGT_OK(&t, "base.yaml", MATCH_BASE, "vs.yaml", match_vs);
	req_init(&r, H("GET /settings"));
	assert_int_equal(sl_config_http_route(t.cfg, NULL, &vip, 9080, &r.v, 49,
					      &rt), 0);
	assert_string_equal(rt.rule_name, "settings");
	assert_int_equal(rt.rule, 12);
	assert_int_equal(rt.dest, 0);
	assert_string_equal(rt.eps[0].workload->name, "reviews-v1");
	assert_string_equal(rt.pol.subset, "v1");
	assert_int_equal(rt.timeout_ns, 3000000000ull);
	assert_true(rt.has_retries);
	assert_int_equal(rt.retry_attempts, 4);
	assert_int_equal(rt.per_try_timeout_ns, 1000000000ull);
	assert_string_equal(rt.retry_on, "5xx,reset");
	assert_int_equal(rt.pol.retry_attempts, 4);
	assert_int_equal(rt.pol.route_timeout_ns, 3000000000ull);
	assert_int_equal(rt.fault_delay_ns, 2000000000ull);
	assert_true(rt.fault_delay_pct > 12.49 && rt.fault_delay_pct < 12.51);
	assert_int_equal(rt.fault_abort_status, 418);
	assert_true(rt.fault_abort_pct > 49.99 && rt.fault_abort_pct < 50.01);
	assert_int_equal(rt.req.n_set, 1);
	assert_string_equal(rt.req.set[0].key, "x-a");
	assert_string_equal(rt.req.set[0].value, "1");
	assert_int_equal(rt.req.n_add, 1);
	assert_string_equal(rt.req.add[0].key, "x-b");
	assert_int_equal(rt.req.n_remove, 1);
	assert_string_equal(rt.req.remove[0], "x-c");
	assert_int_equal(rt.resp.n_remove, 2);
	assert_string_equal(rt.resp.remove[1], "x-d");
	assert_int_equal(rt.dest_req.n_set, 1);
	assert_string_equal(rt.dest_req.set[0].value, "v1");
	assert_int_equal(rt.dest_resp.n_add, 1);
	assert_string_equal(rt.dest_resp.add[0].key, "x-from");
	/* the other half goes to another host, with no header ops */
	assert_int_equal(sl_config_http_route(t.cfg, NULL, &vip, 9080, &r.v, 50,
					      &rt), 0);
	assert_int_equal(rt.dest, 1);
	assert_string_equal(rt.eps[0].workload->name, "ratings-v1");
	assert_string_equal(rt.pol.host, "ratings.default.svc.cluster.local");
	assert_int_equal(rt.dest_req.n_set, 0);
	assert_int_equal(rt.req.n_set, 1); /* the rule's stay */
	/* a rule without retries: has_retries false, the policy gets
	 * Istio's default as sl_config_route() gives it */
	req_init(&r, H("GET /exact"));
	assert_int_equal(sl_config_http_route(t.cfg, NULL, &vip, 9080, &r.v, 0,
					      &rt), 0);
	assert_false(rt.has_retries);
	assert_null(rt.retry_on);
	assert_int_equal(rt.timeout_ns, 0);
	assert_int_equal(rt.pol.retry_attempts, 2);
	/* the chosen subset has no endpoints: -ENOENT, the rule said */
	req_init(&r, H("GET /v9"));
	assert_int_equal(sl_config_http_route(t.cfg, NULL, &vip, 9080, &r.v, 0,
					      &rt), -ENOENT);
	assert_string_equal(rt.rule_name, "empty-subset");
	/* ratings: every rule is ruled out for port 9080 (port 7777, another
	 * source namespace): Istio drops them, the default route applies */
	req_init(&r, H("GET /"));
	assert_int_equal(sl_config_http_route(t.cfg, NULL, &rat, 9080, &r.v, 0,
					      &rt), 0);
	assert_int_equal(rt.rule, -1);
	assert_int_equal(rt.dest, -1);
	assert_int_equal(rt.n_eps, 1);
	assert_string_equal(rt.eps[0].workload->name, "ratings-v1");
	assert_string_equal(rt.pol.host, "ratings.default.svc.cluster.local");
	assert_int_equal(rt.pol.retry_attempts, 0);
	cfgt_done(&t);
}

/* ---- errors and warnings --------------------------------------------------- */

static void test_bad_regex(void **state)
{
	struct cfgt t = { 0 };

	(void)state;
	CFGT_FAIL(&t, "base.yaml", MATCH_BASE, "vs.yaml",
		  "apiVersion: networking.istio.io/v1\n"
		  "kind: VirtualService\n"
		  "metadata: {name: reviews}\n"
		  "spec:\n"
		  "  hosts: [reviews]\n"
		  "  http:\n"
		  "  - match:\n"
		  "    - uri: {regex: \"/a(b\"}\n"
		  "    - headers:\n"
		  "        x-y: {regex: \"a**\"}\n"
		  "        x-ok: {regex: \"fine|good\"}\n" /* compiled, then freed */
		  "      queryParams:\n"
		  "        big: {regex: \"((((a{100}){100}){100}){100})\"}\n"
		  "    route: [{destination: {host: reviews}}]\n");
	CFGT_HAS(&t, "vs.yaml", 8, 20, "spec.http[0].match[0].uri.regex",
		 "invalid regex \"/a(b\": missing ): /a(b");
	CFGT_HAS(&t, "vs.yaml", 10, 22, "spec.http[0].match[1].headers.x-y.regex",
		 "invalid regex \"a**\": bad repetition operator: **");
	CFGT_HAS(&t, "vs.yaml", 13, 22,
		 "spec.http[0].match[1].queryParams.big.regex",
		 "invalid repetition size: {100}");
	assert_int_equal(t.errs.n, 3);
	cfgt_done(&t);
	/* a valid pattern over RE2's memory budget is refused at load */
	CFGT_FAIL(&t, "base.yaml", MATCH_BASE, "vs.yaml",
		  "apiVersion: networking.istio.io/v1\n"
		  "kind: VirtualService\n"
		  "metadata: {name: reviews}\n"
		  "spec:\n"
		  "  hosts: [reviews]\n"
		  "  http:\n"
		  "  - match: [{authority: {regex: '\\pL{1000}'}}]\n"
		  "    route: [{destination: {host: reviews}}]\n");
	CFGT_HAS(&t, "vs.yaml", 7, 33, "spec.http[0].match[0].authority.regex",
		 "pattern too large - compile failed");
	cfgt_done(&t);
}

static size_t count_msg(const struct sl_config *cfg, const char *path,
			const char *msg)
{
	const struct sl_config_error *w;
	size_t n, hits = 0;

	w = sl_config_warnings(cfg, &n);
	for (size_t i = 0; i < n; i++)
		if (w[i].path && !strcmp(w[i].path, path) &&
		    strstr(w[i].message, msg) && w[i].line > 0)
			hits++;
	return hits;
}

/* http[].mirror: the copy's destination (host, subset, port) and share */
static void test_mirror(void **state)
{
	static const char wl[] =
		"apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\n"
		"metadata: {name: m-v1}\n"
		"spec: {address: 198.18.1.2, labels: {app: m, version: v1}}\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\n"
		"metadata: {name: m-v2}\n"
		"spec: {address: 198.18.1.3, labels: {app: m, version: v2}}\n";
	static const char svc[] =
		"apiVersion: v1\nkind: Service\nmetadata: {name: m}\n"
		"spec: {clusterIP: 198.19.0.9, selector: {app: m},"
		" ports: [{name: http, port: 80, targetPort: 8080},"
		" {name: http-alt, port: 81, targetPort: 8081}]}\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
		"metadata: {name: m}\n"
		"spec: {host: m, subsets: [{name: v1, labels: {version: v1}},"
		" {name: v2, labels: {version: v2}}]}\n";
	static const char vs[] =
		"apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
		"metadata: {name: m}\n"
		"spec:\n"
		"  hosts: [m]\n"
		"  http:\n"
		"  - match: [{uri: {prefix: /a}}]\n"
		"    route: [{destination: {host: m, subset: v1}}]\n"
		"    mirror: {host: m, subset: v2, port: {number: 81}}\n"
		"    mirrorPercentage: {value: 30}\n"
		"  - route: [{destination: {host: m, subset: v1}}]\n"
		"    mirror: {host: m}\n"
		"    mirrorPercent: 7\n";
	struct sl_ip vip = ip("198.19.0.9");
	struct sl_http_route rt;
	struct cfgt t = { 0 };
	struct req r;

	(void)state;
	CFGT_OK(&t, "wl.yaml", wl, "svc.yaml", svc, "vs.yaml", vs);
	req_init(&r, "GET /a HTTP/1.1\r\nHost: m\r\n\r\n");
	assert_int_equal(sl_config_http_route(t.cfg, NULL, &vip, 80, &r.v, 0,
					      &rt), 0);
	/* subset v2 at port 81 (target 8081), 30 % */
	assert_int_equal(rt.mirror_n_eps, 1);
	assert_string_equal(rt.mirror_eps[0].workload->name, "m-v2");
	assert_int_equal(rt.mirror_eps[0].port, 8081);
	assert_string_equal(rt.mirror_pol.subset, "v2");
	assert_true(rt.mirror_pct > 29.99 && rt.mirror_pct < 30.01);
	/* the route itself: v1 at the request's port */
	assert_string_equal(rt.eps[0].workload->name, "m-v1");
	assert_int_equal(rt.eps[0].port, 8080);
	/* the older mirrorPercent; no subset: every endpoint of the host */
	req_init(&r, "GET /b HTTP/1.1\r\nHost: m\r\n\r\n");
	assert_int_equal(sl_config_http_route(t.cfg, NULL, &vip, 80, &r.v, 0,
					      &rt), 0);
	assert_int_equal(rt.mirror_n_eps, 2);
	assert_true(rt.mirror_pct > 6.99 && rt.mirror_pct < 7.01);
	cfgt_done(&t);
}

/* match blocks on a host without an HTTP port cannot apply: warned */
static void test_no_http_port_warning(void **state)
{
	static const char vs[] =
		"apiVersion: networking.istio.io/v1\n"
		"kind: VirtualService\n"
		"metadata: {name: db}\n"
		"spec:\n"
		"  hosts: [db]\n"
		"  http:\n"
		"  - match: [{headers: {x-a: {exact: b}}}]\n"
		"    route: [{destination: {host: db}}]\n"
		"  - route: [{destination: {host: db}}]\n"
		"  - route: [{destination: {host: db}}]\n"
		"    timeout: 1s\n"
		"    fault: {abort: {httpStatus: 503, percentage: {value: 1}}}\n"
		"  - route:\n"
		"    - destination: {host: db}\n"
		"      headers: {request: {set: {x-a: b}}}\n"
		"  - route: [{destination: {host: db}}]\n"
		"    retries: {attempts: 1, retryOn: 5xx}\n";
	static const char want[] = "has no effect: no host of this VirtualService has an HTTP port";
	static const char want_l7[] = "has no effect in part: no host of this VirtualService has an HTTP port: its traffic is routed per connection, and this rule's timeout, fault, headers, rewrite, redirect, directResponse, mirror and retryOn";
	struct cfgt t = { 0 };

	(void)state;
	CFGT_OK(&t, "svc.yaml",
		"apiVersion: v1\nkind: Service\nmetadata: {name: db}\n"
		"spec: {clusterIP: 198.19.0.40, selector: {app: db},"
		" ports: [{name: tcp-db, port: 5432}, {name: grpc, port: 5433}]}\n",
		"vs.yaml", vs);
	assert_int_equal(count_msg(t.cfg, "spec.http[0].match", want), 1);
	assert_int_equal(count_msg(t.cfg, "spec.http[1].match", want), 0);
	/* timeout, fault, route-level headers, retryOn: per request only */
	assert_int_equal(count_msg(t.cfg, "spec.http[1]", want_l7), 0);
	assert_int_equal(count_msg(t.cfg, "spec.http[2]", want_l7), 1);
	assert_int_equal(count_msg(t.cfg, "spec.http[3]", want_l7), 1);
	assert_int_equal(count_msg(t.cfg, "spec.http[4]", want_l7), 1);
	cfgt_done(&t);
	/* the same with an HTTP port: evaluated, no warning */
	CFGT_OK(&t, "svc.yaml",
		"apiVersion: v1\nkind: Service\nmetadata: {name: db}\n"
		"spec: {clusterIP: 198.19.0.40, selector: {app: db},"
		" ports: [{name: tcp-db, port: 5432}, {name: web, port: 80, appProtocol: http}]}\n",
		"vs.yaml", vs);
	assert_int_equal(count_msg(t.cfg, "spec.http[0].match", want), 0);
	for (int i = 0; i < 5; i++) {
		char path[32];

		snprintf(path, sizeof(path), "spec.http[%d]", i);
		assert_int_equal(count_msg(t.cfg, path, want_l7), 0);
	}
	cfgt_done(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_protocol_selection),
		cmocka_unit_test(test_canary),
		cmocka_unit_test(test_match_types),
		cmocka_unit_test(test_rule_settings),
		cmocka_unit_test(test_bad_regex),
		cmocka_unit_test(test_mirror),
		cmocka_unit_test(test_no_http_port_warning),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

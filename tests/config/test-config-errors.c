/* SPDX-License-Identifier: Apache-2.0 */
/* Config errors: one test per class of bad input, each checking the
 * file:line:col, the field path and the message. */
#include "cfgtest.h"

#define VS_HEAD                                                                \
	"apiVersion: networking.istio.io/v1\n"                                 \
	"kind: VirtualService\n"                                               \
	"metadata: {name: reviews}\n"                                          \
	"spec:\n"                                                              \
	"  hosts: [reviews]\n"

/* the exact message form of the issue */
static void test_weights(void **state)
{
	struct cfgt t = { 0 };
	char line[512];
	FILE *f;
	char *buf = NULL;
	size_t len = 0;

	cfgt_load_dir(&t, SL_TEST_DATA "/bad");
	assert_int_equal(t.ret, -EINVAL);
	assert_int_equal(t.errs.n, 1);
	f = open_memstream(&buf, &len);
	sl_config_errors_print(&t.errs, f);
	fclose(f);
	snprintf(line, sizeof(line), "%s/vs.yaml:12:15: spec.http[0].route[1].weight: "
		 "weights sum to 110, want 100\n", SL_TEST_DATA "/bad");
	assert_string_equal(buf, line);
	free(buf);
	cfgt_done(&t);
	/* several destinations without weights sum to 0 */
	CFGT_FAIL(&t, "svc.yaml", CFGT_SVC_REVIEWS, "vs.yaml", VS_HEAD
		  "  tcp:\n"
		  "  - route:\n"
		  "    - destination: {host: reviews}\n"
		  "    - destination: {host: reviews}\n");
	CFGT_HAS(&t, "vs.yaml", 9, 7, "spec.tcp[0].route[1].weight",
		 "weights sum to 0, want 100");
	cfgt_done(&t);
	/* a weight over 100 */
	CFGT_FAIL(&t, "svc.yaml", CFGT_SVC_REVIEWS, "vs.yaml", VS_HEAD
		  "  tcp: [{route: [{destination: {host: reviews}, weight: 101}]}]\n");
	CFGT_HAS(&t, "vs.yaml", 6, 57, "spec.tcp[0].route[0].weight",
		 "101 is out of range 0..100");
	cfgt_done(&t);
}

static void test_syntax(void **state)
{
	struct cfgt t = { 0 };

	CFGT_FAIL(&t, "a.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: [x\n");
	CFGT_HAS(&t, "a.yaml", 5, 1, NULL, "did not find expected ',' or ']'");
	cfgt_done(&t);
	/* bad indentation */
	CFGT_FAIL(&t, "b.yaml", "a: b\n  c: d\n");
	CFGT_HAS(&t, "b.yaml", 2, 4, NULL, "mapping values are not allowed");
	cfgt_done(&t);
}

static void test_unknown_field(void **state)
{
	struct cfgt t = { 0 };

	CFGT_FAIL(&t, "svc.yaml", CFGT_SVC_REVIEWS, "vs.yaml", VS_HEAD
		  "  http:\n"
		  "  - route: [{destination: {host: reviews, subsett: v1}}]\n"
		  "    timout: 5s\n");
	CFGT_HAS(&t, "vs.yaml", 7, 43, "spec.http[0].route[0].destination.subsett",
		 "unknown field \"subsett\"");
	CFGT_HAS(&t, "vs.yaml", 8, 5, "spec.http[0].timout", "unknown field \"timout\"");
	assert_int_equal(t.errs.n, 2); /* all errors, not just the first */
	cfgt_done(&t);
	CFGT_FAIL(&t, "a.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: a, foo: 1}\nspec: {ports: [{port: 1}]}\n");
	CFGT_HAS(&t, "a.yaml", 3, 21, "metadata.foo", "unknown field");
	cfgt_done(&t);
}

static void test_unknown_kind_and_version(void **state)
{
	struct cfgt t = { 0 };

	CFGT_FAIL(&t, "a.yaml",
		  "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: g}\n"
		  "---\n"
		  "apiVersion: networking.istio.io/v2\nkind: VirtualService\nmetadata: {name: v}\n"
		  "---\n"
		  "kind: Service\nmetadata: {name: s}\n");
	CFGT_HAS(&t, "a.yaml", 2, 7, "kind", "unknown kind \"Gateway\"");
	CFGT_HAS(&t, "a.yaml", 5, 13, "apiVersion",
		 "unsupported apiVersion \"networking.istio.io/v2\" for kind VirtualService");
	CFGT_HAS(&t, "a.yaml", 9, 1, "apiVersion", "required field is missing");
	cfgt_done(&t);
}

static void test_missing_subset(void **state)
{
	struct cfgt t = { 0 };

	CFGT_FAIL(&t, "svc.yaml", CFGT_SVC_REVIEWS
		  "---\n"
		  "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
		  "metadata: {name: reviews}\n"
		  "spec: {host: reviews, subsets: [{name: v1, labels: {v: \"1\"}}]}\n",
		  "vs.yaml", VS_HEAD
		  "  http:\n"
		  "  - route: [{destination: {host: reviews, subset: v3}}]\n");
	CFGT_HAS(&t, "vs.yaml", 7, 51, "spec.http[0].route[0].destination.subset",
		 "subset \"v3\" is not defined in DestinationRule default/reviews for host reviews.default.svc.cluster.local");
	cfgt_done(&t);
	/* a subset without any DestinationRule */
	CFGT_FAIL(&t, "svc.yaml", CFGT_SVC_REVIEWS, "vs.yaml", VS_HEAD
		  "  http:\n"
		  "  - route: [{destination: {host: reviews, subset: v1}}]\n");
	CFGT_HAS(&t, "vs.yaml", 7, 51, NULL, "has no DestinationRule");
	cfgt_done(&t);
}

static void test_undefined_host(void **state)
{
	struct cfgt t = { 0 };

	CFGT_FAIL(&t, "vs.yaml", VS_HEAD
		  "  tcp: [{route: [{destination: {host: ratings.prod}}]}]\n");
	CFGT_HAS(&t, "vs.yaml", 5, 11, "spec.hosts[0]",
		 "host \"reviews.default.svc.cluster.local\" is not defined by any Service or ServiceEntry");
	CFGT_HAS(&t, "vs.yaml", 6, 39, "spec.tcp[0].route[0].destination.host",
		 "host \"ratings.prod\" is not defined");
	cfgt_done(&t);
	CFGT_FAIL(&t, "dr.yaml",
		  "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
		  "metadata: {name: x, namespace: shop}\nspec:\n  host: cart\n");
	CFGT_HAS(&t, "dr.yaml", 5, 9, "spec.host",
		 "host \"cart.shop.svc.cluster.local\" is not defined");
	cfgt_done(&t);
}

static void test_duplicates(void **state)
{
	struct cfgt t = { 0 };

	/* the same resource twice */
	CFGT_FAIL(&t, "a.yaml", CFGT_SVC_REVIEWS, "b.yaml", CFGT_SVC_REVIEWS);
	CFGT_HAS(&t, "b.yaml", 1, 1, "metadata.name",
		 "duplicate Service \"default/reviews\" (also at ");
	cfgt_done(&t);
	/* a duplicate subset, a duplicate map key */
	CFGT_FAIL(&t, "a.yaml", CFGT_SVC_REVIEWS
		  "---\n"
		  "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
		  "metadata: {name: reviews}\n"
		  "spec:\n  host: reviews\n  subsets:\n  - {name: v1}\n  - {name: v1}\n",
		  "b.yaml", "apiVersion: v1\nkind: Service\nkind: Service\n");
	CFGT_HAS(&t, "a.yaml", 16, 12, "spec.subsets[1].name", "duplicate subset \"v1\"");
	CFGT_HAS(&t, "b.yaml", 3, 1, NULL, "duplicate key \"kind\" (first at line 2)");
	cfgt_done(&t);
	/* a subset without a name, then named ones (found by the fuzzer) */
	CFGT_FAIL(&t, "a.yaml", CFGT_SVC_REVIEWS
		  "---\n"
		  "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
		  "metadata: {name: reviews}\n"
		  "spec:\n  host: reviews\n  subsets:\n  - {labels: {a: b}}\n  - {name: v1}\n");
	CFGT_HAS(&t, "a.yaml", 15, 5, "spec.subsets[0].name", "required field is missing");
	assert_int_equal(t.errs.n, 1);
	cfgt_done(&t);
}

static void test_conflicts(void **state)
{
	struct cfgt t = { 0 };

	CFGT_FAIL(&t, "a.yaml", CFGT_SVC_REVIEWS
		  "---\n"
		  "apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
		  "metadata: {name: one}\n"
		  "spec: {hosts: [reviews], tcp: [{route: [{destination: {host: reviews}}]}]}\n"
		  "---\n"
		  "apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
		  "metadata: {name: two}\n"
		  "spec: {hosts: [reviews.default.svc.cluster.local], tcp: [{route: [{destination: {host: reviews}}]}]}\n"
		  "---\n"
		  "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
		  "metadata: {name: d1}\nspec: {host: reviews}\n"
		  "---\n"
		  "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
		  "metadata: {name: d2}\nspec: {host: reviews}\n"
		  "---\n"
		  "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\n"
		  "metadata: {name: w1}\nspec: {address: 198.18.0.1}\n"
		  "---\n"
		  "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\n"
		  "metadata: {name: w2}\nspec: {address: 198.18.0.1}\n");
	CFGT_HAS(&t, "a.yaml", 17, 16, "spec.hosts[0]",
		 "conflict: host reviews.default.svc.cluster.local already has VirtualService default/one");
	CFGT_HAS(&t, "a.yaml", 27, 14, "spec.host",
		 "conflict: host reviews.default.svc.cluster.local already has DestinationRule default/d1");
	CFGT_HAS(&t, "a.yaml", 37, 17, "spec.address",
		 "conflict: address 198.18.0.1 is also used by WorkloadEntry default/w1");
	cfgt_done(&t);
}

static void test_conflicts_vip_node(void **state)
{
	struct cfgt t = { 0 };

	CFGT_FAIL(&t, "a.yaml", CFGT_SVC_REVIEWS
		  "---\n"
		  "apiVersion: v1\nkind: Service\nmetadata: {name: ratings}\n"
		  "spec: {clusterIP: 198.19.0.20, ports: [{port: 80}]}\n",
		  "n.yaml",
		  "apiVersion: sluice.io/v1alpha1\nkind: Node\nmetadata: {name: a}\n"
		  "---\n"
		  "apiVersion: sluice.io/v1alpha1\nkind: Node\nmetadata: {name: b}\n"
		  "---\n"
		  "apiVersion: sluice.io/v1alpha1\nkind: Node\nmetadata: {name: c}\n"
		  "spec: {name: node-c, ports: {outbound: 15006}}\n");
	CFGT_HAS(&t, "a.yaml", 9, 1, "spec",
		 "conflict: address 198.19.0.20 is already the VIP of reviews.default.svc.cluster.local");
	CFGT_HAS(&t, "n.yaml", 5, 1, "spec.name", "a second Node without spec.name");
	CFGT_HAS(&t, "n.yaml", 12, 29, "spec.ports",
		 "ports outbound and inboundPlaintext are both 15006");
	cfgt_done(&t);
}

static void test_ranges_and_types(void **state)
{
	struct cfgt t = { 0 };

	CFGT_FAIL(&t, "a.yaml",
		  "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n"
		  "spec:\n  ports:\n  - port: 0\n  - port: 65536\n  - port: http\n"
		  "  clusterIP: 300.1.1.1\n"
		  "---\n"
		  "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\n"
		  "metadata: {name: Bad_Name}\nspec: {address: db.example.com}\n");
	CFGT_HAS(&t, "a.yaml", 6, 11, "spec.ports[0].port", "0 is out of range 1..65535");
	CFGT_HAS(&t, "a.yaml", 7, 11, "spec.ports[1].port", "65536 is out of range 1..65535");
	CFGT_HAS(&t, "a.yaml", 8, 11, "spec.ports[2].port", "expected an integer");
	CFGT_HAS(&t, "a.yaml", 9, 14, "spec.clusterIP", "\"300.1.1.1\" is not an IP address");
	CFGT_HAS(&t, "a.yaml", 13, 18, "metadata.name", "not a valid DNS-1123 name");
	CFGT_HAS(&t, "a.yaml", 14, 17, "spec.address", "DNS names are not supported");
	cfgt_done(&t);
}

static void test_bad_duration(void **state)
{
	struct cfgt t = { 0 };

	CFGT_FAIL(&t, "svc.yaml", CFGT_SVC_REVIEWS, "vs.yaml", VS_HEAD
		  "  http:\n"
		  "  - timeout: 5 seconds\n"
		  "    retries: {attempts: 2, perTryTimeout: -1s}\n"
		  "    route: [{destination: {host: reviews}}]\n");
	CFGT_HAS(&t, "vs.yaml", 7, 14, "spec.http[0].timeout",
		 "bad duration \"5 seconds\"");
	CFGT_HAS(&t, "vs.yaml", 8, 43, "spec.http[0].retries.perTryTimeout",
		 "bad duration \"-1s\"");
	cfgt_done(&t);
}

/* Istio fields sluice cannot honour are errors naming the field */
static void test_unsupported(void **state)
{
	struct cfgt t = { 0 };

	CFGT_FAIL(&t, "svc.yaml", CFGT_SVC_REVIEWS, "vs.yaml", VS_HEAD
		  "  gateways: [my-gateway]\n"
		  "  http:\n"
		  "  - mirrors: [{destination: {host: reviews}}]\n"
		  "    corsPolicy: {allowOrigins: [{exact: a}]}\n"
		  "    route: [{destination: {host: reviews}}]\n"
		  "  tls:\n"
		  "  - route: [{destination: {host: reviews}}]\n",
		  "dr.yaml",
		  "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
		  "metadata: {name: reviews}\n"
		  "spec:\n  host: reviews\n"
		  "  trafficPolicy: {tls: {mode: SIMPLE}, loadBalancer: {simple: PASSTHROUGH}}\n",
		  "se.yaml",
		  "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n"
		  "metadata: {name: ext}\n"
		  "spec: {hosts: [a.example.com], resolution: DNS, ports: [{number: 80, name: h}]}\n");
	CFGT_HAS(&t, "vs.yaml", 6, 14, "spec.gateways[0]", "gateways are not supported");
	CFGT_HAS(&t, "vs.yaml", 8, 5, "spec.http[0].mirrors", "mirrors is not supported");
	CFGT_HAS(&t, "vs.yaml", 9, 5, "spec.http[0].corsPolicy", "corsPolicy is not supported");
	CFGT_HAS(&t, "vs.yaml", 11, 3, "spec.tls", "tls is not supported");
	CFGT_HAS(&t, "dr.yaml", 6, 31, "spec.trafficPolicy.tls.mode",
		 "SIMPLE is not supported");
	CFGT_HAS(&t, "dr.yaml", 6, 63, "spec.trafficPolicy.loadBalancer.simple",
		 "PASSTHROUGH is not supported");
	CFGT_HAS(&t, "se.yaml", 4, 44, "spec.resolution", "DNS is not supported");
	cfgt_done(&t);
	/* the TCP pool settings are honoured: accepted, at both levels */
	CFGT_OK(&t, "svc.yaml", CFGT_SVC_REVIEWS, "dr.yaml",
		"apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
		"metadata: {name: reviews}\n"
		"spec:\n  host: reviews\n"
		"  trafficPolicy:\n"
		"    connectionPool:\n"
		"      tcp:\n"
		"        idleTimeout: 5m\n"
		"        maxConnectionDuration: 1h\n"
		"        tcpKeepalive: {probes: 9, time: 10s, interval: 75s}\n"
		"    portLevelSettings:\n"
		"    - port: {number: 9080}\n"
		"      connectionPool:\n"
		"        tcp: {maxConnectionDuration: 1ms, tcpKeepalive: {}}\n");
	cfgt_done(&t);
	/* bad values: each named with file:line:col, path and the range */
	CFGT_FAIL(&t, "svc.yaml", CFGT_SVC_REVIEWS, "dr.yaml",
		  "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
		  "metadata: {name: reviews}\n"
		  "spec:\n  host: reviews\n"
		  "  trafficPolicy:\n"
		  "    connectionPool:\n"
		  "      tcp:\n"
		  "        maxConnectionDuration: 500us\n"
		  "        tcpKeepalive: {probes: 0, time: 0.5s, interval: 40000s}\n"
		  "    portLevelSettings:\n"
		  "    - port: {number: 9080}\n"
		  "      connectionPool:\n"
		  "        tcp: {maxConnectionDuration: soon, tcpKeepalive: {probes: 128}}\n"
		  "  subsets:\n"
		  "  - name: v1\n"
		  "    trafficPolicy:\n"
		  "      connectionPool: {tcp: {tcpKeepalive: {time: -1s, keepalive: true}}}\n");
	CFGT_HAS(&t, "dr.yaml", 9, 32,
		 "spec.trafficPolicy.connectionPool.tcp.maxConnectionDuration",
		 "must be at least 1ms");
	CFGT_HAS(&t, "dr.yaml", 10, 32,
		 "spec.trafficPolicy.connectionPool.tcp.tcpKeepalive.probes",
		 "0 is out of range 1..127");
	CFGT_HAS(&t, "dr.yaml", 10, 41,
		 "spec.trafficPolicy.connectionPool.tcp.tcpKeepalive.time",
		 "must be between 1s and 32767s");
	CFGT_HAS(&t, "dr.yaml", 10, 57,
		 "spec.trafficPolicy.connectionPool.tcp.tcpKeepalive.interval",
		 "must be between 1s and 32767s");
	CFGT_HAS(&t, "dr.yaml", 14, 38,
		 "spec.trafficPolicy.portLevelSettings[0].connectionPool.tcp.maxConnectionDuration",
		 "bad duration \"soon\"");
	CFGT_HAS(&t, "dr.yaml", 14, 67,
		 "spec.trafficPolicy.portLevelSettings[0].connectionPool.tcp.tcpKeepalive.probes",
		 "128 is out of range 1..127");
	CFGT_HAS(&t, "dr.yaml", 18, 56,
		 "spec.subsets[0].trafficPolicy.connectionPool.tcp.tcpKeepalive.keepalive",
		 "unknown field \"keepalive\"");
	assert_int_equal(t.errs.n, 7);
	cfgt_done(&t);
	/* a negative retry count names the field and the range */
	CFGT_FAIL(&t, "svc.yaml", CFGT_SVC_REVIEWS, "vs.yaml", VS_HEAD
		  "  http:\n"
		  "  - route: [{destination: {host: reviews}}]\n"
		  "    retries: {attempts: -1}\n");
	CFGT_HAS(&t, "vs.yaml", 8, 25, "spec.http[0].retries.attempts",
		 "-1 is out of range 0..1000");
	assert_int_equal(t.errs.n, 1);
	cfgt_done(&t);
	CFGT_FAIL(&t, "svc.yaml", CFGT_SVC_REVIEWS, "vs.yaml", VS_HEAD
		  "  http:\n"
		  "  - route: [{destination: {host: reviews}}]\n"
		  "    retries: {attempts: many}\n");
	CFGT_HAS(&t, "vs.yaml", 8, 25, "spec.http[0].retries.attempts",
		 "expected an integer in range 0..1000, got \"many\"");
	assert_int_equal(t.errs.n, 1);
	cfgt_done(&t);
}

/* an AuthorizationPolicy field sluice cannot enforce is an error that
 * says why (JWT, CUSTOM, connection.sni, ...); the HTTP fields load */
static void test_authz_unsupported(void **state)
{
	struct cfgt t = { 0 };

	CFGT_FAIL(&t, "ap.yaml",
		  "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
		  "metadata: {name: x}\n"
		  "spec:\n"
		  "  action: ALLOW\n"
		  "  rules:\n"
		  "  - from: [{source: {requestPrincipals: [\"*\"]}}]\n"
		  "    to: [{operation: {methods: [GET], paths: [/admin], ports: [\"80\"]}}]\n"
		  "    when: [{key: \"request.auth.claims[iss]\", values: [x]}]\n"
		  "---\n"
		  "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
		  "metadata: {name: y}\n"
		  "spec: {action: CUSTOM, provider: {name: ext}}\n"
		  "---\n"
		  "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
		  "metadata: {name: z}\n"
		  "spec:\n"
		  "  rules:\n"
		  "  - from: [{source: {notRequestPrincipals: [a/b], serviceAccounts: [sa]}}]\n"
		  "    when:\n"
		  "    - {key: connection.sni, values: [a.example]}\n"
		  "    - {key: \"experimental.envoy.filters.a.b[c]\", values: [x]}\n"
		  "    - {key: request.auth.principal, values: [x]}\n"
		  "    - {key: \"destination.labels[app]\", values: [x]}\n"
		  "    - {key: \"request.header[x]\", values: [x]}\n");
	CFGT_HAS(&t, "ap.yaml", 7, 22, "spec.rules[0].from[0].source.requestPrincipals",
		 "requestPrincipals needs RequestAuthentication (JWT), which sluice does not support");
	CFGT_HAS(&t, "ap.yaml", 9, 18, "spec.rules[0].when[0].key",
		 "condition \"request.auth.claims[iss]\" needs RequestAuthentication (JWT), which sluice does not support");
	CFGT_HAS(&t, "ap.yaml", 14, 16, "spec.action",
		 "CUSTOM is not supported (sluice has no external authorization");
	CFGT_HAS(&t, "ap.yaml", 14, 24, "spec.provider", "provider is not supported");
	CFGT_HAS(&t, "ap.yaml", 21, 22, "spec.rules[0].from[0].source.notRequestPrincipals",
		 "notRequestPrincipals needs RequestAuthentication (JWT)");
	CFGT_HAS(&t, "ap.yaml", 21, 51, "spec.rules[0].from[0].source.serviceAccounts",
		 "serviceAccounts is not supported by sluice (use principals)");
	CFGT_HAS(&t, "ap.yaml", 23, 13, "spec.rules[0].when[0].key",
		 "condition \"connection.sni\" is not supported by sluice");
	CFGT_HAS(&t, "ap.yaml", 24, 13, "spec.rules[0].when[1].key",
		 "condition \"experimental.envoy.filters.a.b[c]\" is not supported by sluice (Envoy filter metadata)");
	CFGT_HAS(&t, "ap.yaml", 25, 13, "spec.rules[0].when[2].key",
		 "condition \"request.auth.principal\" needs RequestAuthentication (JWT)");
	CFGT_HAS(&t, "ap.yaml", 26, 13, "spec.rules[0].when[3].key",
		 "condition \"destination.labels[app]\" is replaced by the workload selector");
	CFGT_HAS(&t, "ap.yaml", 27, 13, "spec.rules[0].when[4].key",
		 "unknown condition key \"request.header[x]\"");
	/* the HTTP fields of rule x are no error */
	assert_int_equal(t.errs.n, 11);
	cfgt_done(&t);
}

/* what Istio's validation refuses, and values sluice could never match */
static void test_authz_invalid(void **state)
{
	struct cfgt t = { 0 };

	CFGT_FAIL(&t, "ap.yaml",
		  "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
		  "metadata: {name: x}\n"
		  "spec:\n"
		  "  rules:\n"
		  "  - to:\n"
		  "    - operation: {methods: [\"\"], paths: [api/*, \"/a/*/b\", \"/{*}/x\", \"/a{b\"]}\n"
		  "    - operation: {hosts: [\"*.a*\"], notPaths: [\"**\"]}\n"
		  "    - operation: {}\n"
		  "    from: [{source: {}}]\n"
		  "    when:\n"
		  "    - {key: \"request.headers[]\", values: [x]}\n"
		  "    - {key: \"request.headers[a b]\", values: [x]}\n"
		  "    - {key: \"request.headers[x-a\", values: [x]}\n"
		  "    - {key: \"request.headers[x-token]\"}\n"
		  "    - {key: destination.ip, values: [10.0.0.300]}\n"
		  "    - {key: remote.ip, notValues: [nope]}\n"
		  "---\n"
		  "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
		  "metadata: {name: y}\n"
		  "spec: {action: DENY}\n"
		  "---\n"
		  "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
		  "metadata: {name: z}\n"
		  "spec: {rules: [{from: [], to: []}]}\n");
	CFGT_HAS(&t, "ap.yaml", 7, 29, "spec.rules[0].to[0].operation.methods[0]",
		 "\"\": empty value not allowed (as in Istio)");
	CFGT_HAS(&t, "ap.yaml", 7, 42, "spec.rules[0].to[0].operation.paths[0]",
		 "\"api/*\": does not start with \"/\"");
	CFGT_HAS(&t, "ap.yaml", 7, 49, "spec.rules[0].to[0].operation.paths[1]",
		 "\"/a/*/b\": a \"*\" may only be the whole value, its first or its last character");
	CFGT_HAS(&t, "ap.yaml", 7, 59, "spec.rules[0].to[0].operation.paths[2]",
		 "\"/{*}/x\": path templates ({*}, {**}) are not supported by sluice");
	CFGT_HAS(&t, "ap.yaml", 7, 69, "spec.rules[0].to[0].operation.paths[3]",
		 "\"/a{b\": contains '{' or '}'");
	CFGT_HAS(&t, "ap.yaml", 8, 27, "spec.rules[0].to[1].operation.hosts[0]",
		 "\"*.a*\": a \"*\" may only be");
	CFGT_HAS(&t, "ap.yaml", 8, 47, "spec.rules[0].to[1].operation.notPaths[0]",
		 "\"**\": a \"*\" may only be");
	CFGT_HAS(&t, "ap.yaml", 9, 18, "spec.rules[0].to[2].operation",
		 "operation must not be empty (as in Istio)");
	CFGT_HAS(&t, "ap.yaml", 10, 21, "spec.rules[0].from[0].source",
		 "source must not be empty (as in Istio)");
	CFGT_HAS(&t, "ap.yaml", 12, 13, "spec.rules[0].when[0].key",
		 "condition key \"request.headers[]\": expected request.headers[<header name>]");
	CFGT_HAS(&t, "ap.yaml", 13, 13, "spec.rules[0].when[1].key",
		 "condition key \"request.headers[a b]\": expected request.headers[<header name>]");
	CFGT_HAS(&t, "ap.yaml", 14, 13, "spec.rules[0].when[2].key",
		 "condition key \"request.headers[x-a\": expected request.headers[<header name>]");
	CFGT_HAS(&t, "ap.yaml", 15, 7, "spec.rules[0].when[3]",
		 "condition \"request.headers[x-token]\": at least one of values or notValues must be set (as in Istio)");
	CFGT_HAS(&t, "ap.yaml", 16, 38, "spec.rules[0].when[4].values[0]",
		 "\"10.0.0.300\" is not an IP address or CIDR");
	CFGT_HAS(&t, "ap.yaml", 17, 36, "spec.rules[0].when[5].notValues[0]",
		 "\"nope\" is not an IP address or CIDR");
	CFGT_HAS(&t, "ap.yaml", 22, 16, "spec.action",
		 "DENY without rules would never match");
	CFGT_HAS(&t, "ap.yaml", 27, 23, "spec.rules[0].from",
		 "from must not be empty (as in Istio); leave it out to match every source");
	CFGT_HAS(&t, "ap.yaml", 27, 31, "spec.rules[0].to",
		 "to must not be empty (as in Istio); leave it out to match every operation");
	assert_int_equal(t.errs.n, 18);
	cfgt_done(&t);
}

/* a ServiceEntry port must be TCP; a tcp or http match names only the
 * mesh as gateway (the field ledger names this test for both) */
static void test_protocol_and_match_gateways(void **state)
{
	struct cfgt t = { 0 };

	CFGT_FAIL(&t, "se.yaml",
		  "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n"
		  "metadata: {name: dns}\n"
		  "spec:\n"
		  "  hosts: [dns.internal]\n"
		  "  addresses: [198.19.9.1]\n"
		  "  resolution: STATIC\n"
		  "  ports: [{number: 53, name: dns, protocol: UDP}]\n"
		  "  endpoints: [{address: 198.18.9.1}]\n");
	CFGT_HAS(&t, "se.yaml", 8, 45, "spec.ports[0].protocol",
		 "UDP is not supported (sluice carries TCP)");
	assert_int_equal(t.errs.n, 1);
	cfgt_done(&t);
	CFGT_FAIL(&t, "svc.yaml", CFGT_SVC_REVIEWS, "vs.yaml", VS_HEAD
		  "  tcp:\n"
		  "  - match: [{port: 9080, gateways: [mesh, tcp-gateway]}]\n"
		  "    route: [{destination: {host: reviews}}]\n");
	CFGT_HAS(&t, "vs.yaml", 7, 43, "spec.tcp[0].match[0].gateways[1]",
		 "gateways are not supported (only \"mesh\")");
	assert_int_equal(t.errs.n, 1);
	cfgt_done(&t);
	/* the same for an http match, now that it is evaluated */
	CFGT_FAIL(&t, "svc.yaml", CFGT_SVC_REVIEWS, "vs.yaml", VS_HEAD
		  "  http:\n"
		  "  - match: [{uri: {prefix: /}, gateways: [ingress]}]\n"
		  "    route: [{destination: {host: reviews}}]\n");
	CFGT_HAS(&t, "vs.yaml", 7, 43, "spec.http[0].match[0].gateways[0]",
		 "gateways are not supported (only \"mesh\")");
	assert_int_equal(t.errs.n, 1);
	cfgt_done(&t);
}

/* the per-request settings the HTTP engine applies are checked at load:
 * header operations by http/hdrs.h's rules, retryOn by Istio's */
static void test_http_ops_and_retry_on(void **state)
{
	struct cfgt t = { 0 };

	CFGT_FAIL(&t, "svc.yaml", CFGT_SVC_REVIEWS, "vs.yaml", VS_HEAD
		  "  http:\n"
		  "  - route: [{destination: {host: reviews}}]\n"
		  "    headers:\n"
		  "      request: {remove: [content-length]}\n");
	assert_int_equal(t.errs.n, 1);
	assert_int_equal(t.errs.v[0].line, 9);
	assert_string_equal(t.errs.v[0].path, "spec.http[0].headers.request");
	assert_non_null(strstr(t.errs.v[0].message, "content-length"));
	cfgt_done(&t);
	/* a value with a control character */
	CFGT_FAIL(&t, "svc.yaml", CFGT_SVC_REVIEWS, "vs.yaml", VS_HEAD
		  "  http:\n"
		  "  - route:\n"
		  "    - destination: {host: reviews}\n"
		  "      headers: {response: {set: {x-a: \"b\\x01c\"}}}\n");
	assert_int_equal(t.errs.n, 1);
	assert_string_equal(t.errs.v[0].path,
			    "spec.http[0].route[0].headers.response");
	cfgt_done(&t);
	/* an unknown retryOn condition, named */
	CFGT_FAIL(&t, "svc.yaml", CFGT_SVC_REVIEWS, "vs.yaml", VS_HEAD
		  "  http:\n"
		  "  - route: [{destination: {host: reviews}}]\n"
		  "    retries: {attempts: 2, retryOn: \"5xx,sometimes\"}\n");
	assert_int_equal(t.errs.n, 1);
	assert_int_equal(t.errs.v[0].line, 8);
	assert_string_equal(t.errs.v[0].path, "spec.http[0].retries.retryOn");
	assert_non_null(strstr(t.errs.v[0].message, "sometimes"));
	cfgt_done(&t);
	/* exactly one of route, redirect, directResponse */
	CFGT_FAIL(&t, "svc.yaml", CFGT_SVC_REVIEWS, "vs.yaml", VS_HEAD
		  "  http:\n"
		  "  - route: [{destination: {host: reviews}}]\n"
		  "    redirect: {uri: /a}\n");
	assert_int_equal(t.errs.n, 1);
	assert_string_equal(t.errs.v[0].path, "spec.http[0].route");
	assert_non_null(strstr(t.errs.v[0].message, "exactly one of route, redirect and directResponse"));
	cfgt_done(&t);
	/* values the engine would send: a path, an authority, a status */
	CFGT_FAIL(&t, "svc.yaml", CFGT_SVC_REVIEWS, "vs.yaml", VS_HEAD
		  "  http:\n"
		  "  - redirect: {uri: no-slash, redirectCode: 200}\n"
		  "  - directResponse: {status: 204}\n"
		  "  - rewrite: {authority: \"a b\"}\n"
		  "    route: [{destination: {host: reviews}}]\n");
	assert_int_equal(t.errs.n, 3);
	CFGT_HAS(&t, "vs.yaml", 7, 21, "spec.http[0].redirect.uri",
		 "\"no-slash\" is not a path");
	CFGT_HAS(&t, "vs.yaml", 8, 30, "spec.http[1].directResponse.status",
		 "204 is not supported");
	CFGT_HAS(&t, "vs.yaml", 9, 26, "spec.http[2].rewrite.authority",
		 "\"a b\" is not an authority");
	cfgt_done(&t);
}

static void test_errors_print(void **state)
{
	struct sl_config_errors errs = { 0 };
	struct sl_config *cfg = (struct sl_config *)1;

	/* a directory that does not exist */
	assert_int_equal(sl_config_load_dir("/nonexistent/sluice", NULL, &cfg, &errs),
			 -ENOENT);
	assert_null(cfg);
	assert_int_equal(errs.n, 1);
	assert_non_null(strstr(errs.v[0].message, "cannot read directory"));
	sl_config_errors_free(&errs);
	assert_int_equal(errs.n, 0);
	sl_config_errors_free(&errs);
	sl_config_errors_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_weights),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_unknown_field),
		cmocka_unit_test(test_unknown_kind_and_version),
		cmocka_unit_test(test_missing_subset),
		cmocka_unit_test(test_undefined_host),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_conflicts),
		cmocka_unit_test(test_conflicts_vip_node),
		cmocka_unit_test(test_ranges_and_types),
		cmocka_unit_test(test_bad_duration),
		cmocka_unit_test(test_unsupported),
		cmocka_unit_test(test_authz_unsupported),
		cmocka_unit_test(test_authz_invalid),
		cmocka_unit_test(test_protocol_and_match_gateways),
		cmocka_unit_test(test_http_ops_and_retry_on),
		cmocka_unit_test(test_errors_print),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

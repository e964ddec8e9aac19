/* SPDX-License-Identifier: Apache-2.0 */
/* Config loading: valid configurations, the routing table, resolution,
 * policies, node settings, directory layout. */
#include "cfgtest.h"
#include "policy_query.h"

#ifndef SL_TEST_DATA
#error SL_TEST_DATA must name tests/config/data
#endif
#ifndef SL_EXAMPLES_DIR
#error SL_EXAMPLES_DIR must name examples/
#endif

static char *routes_text(const struct sl_config *cfg, const char *host,
			 enum sl_config_fmt fmt, int *ret)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	*ret = sl_config_routes_print(cfg, host, fmt, f);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static struct sl_ip ip(const char *s)
{
	struct sl_ip a;

	assert_int_equal(sl_ip_parse(s, &a), 0);
	return a;
}

/* The canary example of the issue, exactly. */
static void test_canary_table(void **state)
{
	struct cfgt t = { 0 };
	char *txt;
	int ret;

	cfgt_load_dir(&t, SL_TEST_DATA "/canary");
	if (t.ret)
		cfgt_dump_errors(&t);
	assert_int_equal(t.ret, 0);
	txt = routes_text(t.cfg, NULL, SL_CONFIG_FMT_DUMP, &ret);
	assert_int_equal(ret, 0);
	assert_string_equal(txt,
		"my-service.default.svc.cluster.local\theaders[x-canary]=exact:\"true\"\t"
		"my-service.default.svc.cluster.local\tv2\t100\t"
		"my-service-v2-0=198.18.1.3:8080\n"
		"my-service.default.svc.cluster.local\t*\t"
		"my-service.default.svc.cluster.local\tv1\t90\t"
		"my-service-v1-0=198.18.1.2:8080,my-service-v1-1=198.18.2.2:8080\n"
		"my-service.default.svc.cluster.local\t*\t"
		"my-service.default.svc.cluster.local\tv2\t10\t"
		"my-service-v2-0=198.18.1.3:8080\n");
	free(txt);
	/* the aligned table has a header and the same cells */
	txt = routes_text(t.cfg, "my-service", SL_CONFIG_FMT_TABLE, &ret);
	assert_int_equal(ret, 0);
	assert_true(strncmp(txt, "HOST ", 5) == 0);
	assert_non_null(strstr(txt, "  v1      90      my-service-v1-0=198.18.1.2:8080,"));
	free(txt);
	txt = routes_text(t.cfg, NULL, SL_CONFIG_FMT_JSON, &ret);
	assert_int_equal(ret, 0);
	assert_non_null(strstr(txt, "\"match\": \"headers[x-canary]=exact:\\\"true\\\"\""));
	/* the port is named http: the match is evaluated per request */
	assert_non_null(strstr(txt, "\"match_applied\": true"));
	assert_null(strstr(txt, "\"match_applied\": false"));
	assert_non_null(strstr(txt, "\"weight\": 90"));
	free(txt);
	txt = routes_text(t.cfg, "nosuch", SL_CONFIG_FMT_DUMP, &ret);
	assert_int_equal(ret, -ENOENT);
	free(txt);
	cfgt_done(&t);
}

/* VIP -> weighted destination -> subset endpoints; workload IP -> itself */
static void test_canary_resolve(void **state)
{
	struct cfgt t = { 0 };
	const struct sl_endpoint *eps;
	struct sl_ip vip = ip("198.19.0.1"), pod = ip("198.18.1.3");
	struct sl_ip none = ip("198.19.9.9");
	unsigned int v1 = 0, v2 = 0;
	size_t n;

	cfgt_load_dir(&t, SL_TEST_DATA "/canary");
	assert_int_equal(t.ret, 0);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(sl_config_resolve(t.cfg, NULL, &vip, 80, &eps, &n), 0);
		assert_true(n >= 1);
		assert_int_equal(eps[0].port, 8080);
		if (!strcmp(eps[0].workload->name, "my-service-v2-0")) {
			assert_int_equal(n, 1);
			v2++;
		} else {
			assert_int_equal(n, 2);
			assert_string_equal(eps[0].workload->name, "my-service-v1-0");
			assert_string_equal(eps[1].workload->name, "my-service-v1-1");
			v1++;
		}
	}
	/* smooth weighted round robin: exactly 90/10 over a period */
	assert_int_equal(v1, 90);
	assert_int_equal(v2, 10);
	/* a port the service does not have */
	assert_int_equal(sl_config_resolve(t.cfg, NULL, &vip, 81, &eps, &n), -ENOENT);
	assert_int_equal(sl_config_resolve(t.cfg, NULL, &none, 80, &eps, &n), -ENOENT);
	/* a pod address: the workload itself, port unchanged (0) */
	assert_int_equal(sl_config_resolve(t.cfg, NULL, &pod, 1234, &eps, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(eps[0].workload->name, "my-service-v2-0");
	assert_int_equal(eps[0].port, 0);
	assert_true(sl_ip_equal(&eps[0].address, &pod));
	cfgt_done(&t);
}

static void test_examples(void **state)
{
	struct cfgt t = { 0 };
	const struct sl_node_config *node;
	const struct sl_workload *w, *all;
	struct sl_ip a = ip("198.18.1.10"), b = ip("198.18.2.21");
	struct sl_authz_request req = { 0 };
	char sum[256];
	size_t n;

	cfgt_load_dir(&t, SL_EXAMPLES_DIR);
	if (t.ret)
		cfgt_dump_errors(&t);
	assert_int_equal(t.ret, 0);
	assert_string_equal(sl_config_summary(t.cfg, sum, sizeof(sum)),
			    "12 resources (VirtualService 1, DestinationRule 2, "
			    "WorkloadEntry 4, Service 2, PeerAuthentication 1, "
			    "AuthorizationPolicy 1, Node 1)");
	assert_int_equal(strlen(sl_config_generation(t.cfg)), 16);
	assert_int_equal(strspn(sl_config_generation(t.cfg), "0123456789abcdef"), 16);
	node = sl_config_node(t.cfg);
	assert_string_equal(node->name, "node-a");
	assert_string_equal(node->trust_domain, "cluster.local");
	assert_string_equal(node->ca_dir, "/var/lib/sluice/ca");
	assert_int_equal(node->outbound_port, 15001);
	assert_int_equal(node->inbound_port, 15008);
	assert_int_equal(node->ktls, SL_KTLS_AUTO);
	all = sl_config_workloads(t.cfg, &n);
	assert_int_equal(n, 4);
	assert_non_null(all);
	w = sl_config_workload_by_ip(t.cfg, &a);
	assert_non_null(w);
	assert_string_equal(w->name, "productpage-v1-0");
	assert_string_equal(w->node, "node-a");
	assert_string_equal(w->spiffe_id,
			    "spiffe://cluster.local/ns/default/sa/bookinfo-productpage");
	w = sl_config_workload_by_ip(t.cfg, &b);
	assert_non_null(w);
	assert_string_equal(w->name, "reviews-v2-0");
	assert_int_equal(sl_config_mtls_mode(t.cfg, w, 9081), SL_MTLS_STRICT);
	/* only productpage may reach reviews, on its ports */
	req.principal = "cluster.local/ns/default/sa/bookinfo-productpage";
	req.ns = "default";
	req.src_ip = &a;
	req.port = 9081;
	assert_true(sl_config_authorize(t.cfg, w, &req));
	req.port = 22;
	assert_false(sl_config_authorize(t.cfg, w, &req));
	req.port = 9081;
	req.principal = "cluster.local/ns/default/sa/other";
	assert_false(sl_config_authorize(t.cfg, w, &req));
	req.principal = NULL;
	assert_false(sl_config_authorize(t.cfg, w, &req));
	/* productpage has no policy: allowed */
	w = sl_config_workload_by_ip(t.cfg, &a);
	assert_true(sl_config_authorize(t.cfg, w, &req));
	/* by namespace and name: every workload, and nothing else */
	for (size_t i = 0; i < n; i++)
		assert_ptr_equal(sl_config_workload_by_name(t.cfg, all[i].ns,
							    all[i].name),
				 &all[i]);
	assert_null(sl_config_workload_by_name(t.cfg, "default", "nope"));
	assert_null(sl_config_workload_by_name(t.cfg, "other",
					       "productpage-v1-0"));
	assert_null(sl_config_workload_by_name(t.cfg, NULL, "productpage-v1-0"));
	cfgt_done(&t);
}

static void test_generation_changes(void **state)
{
	struct cfgt t = { 0 }, u = { 0 };

	CFGT_OK(&t, "a.yaml", CFGT_SVC_REVIEWS);
	CFGT_OK(&u, "a.yaml", CFGT_SVC_REVIEWS "\n");
	assert_string_not_equal(sl_config_generation(t.cfg),
				sl_config_generation(u.cfg));
	/* same content, same generation */
	sl_config_put(u.cfg);
	u.cfg = NULL;
	cfgt_load_dir(&u, t.dir);
	assert_int_equal(u.ret, 0);
	assert_string_equal(sl_config_generation(t.cfg),
			    sl_config_generation(u.cfg));
	/* references */
	assert_ptr_equal(sl_config_get(u.cfg), u.cfg);
	sl_config_put(u.cfg);
	sl_config_put(NULL);
	cfgt_done(&u);
	cfgt_done(&t);
}

/* "reviews" in namespace prod, "reviews.prod" from default, FQDN */
static void test_short_names(void **state)
{
	struct cfgt t = { 0 };
	char *txt;
	int ret;

	CFGT_OK(&t, "a.yaml",
		"apiVersion: v1\nkind: Service\n"
		"metadata: {name: reviews, namespace: prod}\n"
		"spec: {clusterIP: 198.19.1.1, ports: [{port: 80}], selector: {app: r}}\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
		"metadata: {name: r, namespace: prod}\n"
		"spec:\n  hosts: [reviews]\n"
		"  tcp: [{route: [{destination: {host: reviews}}]}]\n"
		"---\n"
		"apiVersion: networking.istio.io/v1alpha3\nkind: DestinationRule\n"
		"metadata: {name: r}\n"
		"spec: {host: reviews.prod, subsets: [{name: a, labels: {v: a}}]}\n"
		"---\n"
		"apiVersion: v1\nkind: Service\n"
		"metadata: {name: other}\n"
		"spec: {clusterIP: 198.19.1.2, ports: [{port: 80}]}\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
		"metadata: {name: o}\n"
		"spec:\n  hosts: [other.default.svc.cluster.local]\n"
		"  tcp: [{route: [{destination: {host: reviews.prod, subset: a}}]}]\n");
	txt = routes_text(t.cfg, NULL, SL_CONFIG_FMT_DUMP, &ret);
	assert_int_equal(ret, 0);
	assert_string_equal(txt,
		"other.default.svc.cluster.local\t*\treviews.prod.svc.cluster.local\ta\t100\t(none)\n"
		"reviews.prod.svc.cluster.local\t*\treviews.prod.svc.cluster.local\t(none)\t100\t(none)\n");
	free(txt);
	cfgt_done(&t);
}

/* Service-defined host: VIP, named targetPort through WorkloadEntry ports,
 * namespace scoping of the selector, tcp port match */
static void test_service_hosts(void **state)
{
	struct cfgt t = { 0 };
	const struct sl_endpoint *eps;
	struct sl_ip vip = ip("198.19.0.20"), vip6 = ip("fd00:5a1c::20");
	size_t n;

	CFGT_OK(&t, "svc.yaml",
		"apiVersion: v1\nkind: Service\n"
		"metadata: {name: reviews, namespace: default, uid: 1234-5678, "
		"resourceVersion: \"42\", creationTimestamp: \"2024-01-01T00:00:00Z\"}\n"
		"spec:\n"
		"  type: ClusterIP\n"
		"  clusterIP: 198.19.0.20\n"
		"  clusterIPs: [198.19.0.20, \"fd00:5a1c::20\"]\n"
		"  ipFamilies: [IPv4, IPv6]\n"
		"  sessionAffinity: None\n"
		"  selector: {app: reviews}\n"
		"  ports:\n"
		"  - {name: http, port: 9080, targetPort: web, protocol: TCP}\n"
		"  - {name: admin, port: 9090, targetPort: 19090}\n"
		"status: {loadBalancer: {}}\n",
		"we.yaml",
		"apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\n"
		"metadata: {name: r1}\n"
		"spec: {address: 198.18.1.1, ports: {web: 8080}, labels: {app: reviews}}\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\n"
		"metadata: {name: r2, namespace: other}\n"
		"spec: {address: 198.18.1.2, ports: {web: 8080}, labels: {app: reviews}}\n",
		"vs.yml",
		"apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
		"metadata: {name: reviews}\n"
		"spec:\n  hosts: [reviews]\n"
		"  tcp:\n"
		"  - match: [{port: 9090}]\n"
		"    route: [{destination: {host: reviews, port: {number: 9090}}}]\n"
		"  - route: [{destination: {host: reviews, port: {number: 9080}}}]\n");
	assert_int_equal(sl_config_count(t.cfg, "Service"), 1);
	assert_int_equal(sl_config_count(t.cfg, "VirtualService"), 1);
	assert_int_equal(sl_config_resolve(t.cfg, NULL, &vip, 9080, &eps, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(eps[0].workload->name, "r1");
	assert_int_equal(eps[0].port, 8080);
	assert_int_equal(sl_config_resolve(t.cfg, NULL, &vip6, 9090, &eps, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(eps[0].port, 19090);
	cfgt_done(&t);
}

/*
 * Readiness: a workload labelled sluice.io/ready=false is no endpoint of a
 * Service unless it sets publishNotReadyAddresses; internalTrafficPolicy
 * Cluster is what sluice does (no warning), Local is an error
 */
static void test_readiness(void **state)
{
	static const char we[] =
		"apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\n"
		"metadata: {name: ready}\n"
		"spec: {address: 198.18.1.1, labels: {app: web}}\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\n"
		"metadata: {name: starting}\n"
		"spec: {address: 198.18.1.2, labels: {app: web, sluice.io/ready: \"false\"}}\n";
	struct cfgt t = { 0 };
	const struct sl_endpoint *eps;
	struct sl_ip vip = ip("198.19.0.30");
	size_t n, nw;

	(void)state;
	CFGT_OK(&t, "svc.yaml",
		"apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
		"spec:\n  clusterIP: 198.19.0.30\n  selector: {app: web}\n"
		"  internalTrafficPolicy: Cluster\n"
		"  ports: [{port: 80}]\n",
		"we.yaml", we);
	assert_int_equal(sl_config_resolve(t.cfg, NULL, &vip, 80, &eps, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(eps[0].workload->name, "ready");
	/* still a workload: identity and steering */
	assert_non_null(sl_config_workload_by_name(t.cfg, "default", "starting"));
	sl_config_warnings(t.cfg, &nw);
	assert_int_equal(nw, 0);
	cfgt_done(&t);

	memset(&t, 0, sizeof(t));
	CFGT_OK(&t, "svc.yaml",
		"apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
		"spec:\n  clusterIP: 198.19.0.30\n  selector: {app: web}\n"
		"  publishNotReadyAddresses: true\n"
		"  ports: [{port: 80}]\n",
		"we.yaml", we);
	assert_int_equal(sl_config_resolve(t.cfg, NULL, &vip, 80, &eps, &n), 0);
	assert_int_equal(n, 2);
	cfgt_done(&t);

	memset(&t, 0, sizeof(t));
	CFGT_FAIL(&t, "svc.yaml",
		  "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
		  "spec:\n  clusterIP: 198.19.0.30\n  selector: {app: web}\n"
		  "  internalTrafficPolicy: Local\n"
		  "  ports: [{port: 80}]\n",
		  "we.yaml", we);
	CFGT_HAS(&t, "svc.yaml", 7, 26, "spec.internalTrafficPolicy",
		 "\"Local\" is not supported (only Cluster");
	cfgt_done(&t);
}

/*
 * NodePort and LoadBalancer: their clusterIP is meshed like any Service's,
 * with a warning that what comes from outside is not; ExternalName is an
 * error
 */
static void test_service_types(void **state)
{
	struct cfgt t = { 0 };
	const struct sl_config_error *w;
	const struct sl_endpoint *eps;
	struct sl_ip vip = ip("198.19.0.40");
	size_t n, nw;

	(void)state;
	CFGT_OK(&t, "svc.yaml",
		"apiVersion: v1\nkind: Service\nmetadata: {name: front}\n"
		"spec:\n  type: LoadBalancer\n  clusterIP: 198.19.0.40\n"
		"  selector: {app: front}\n  externalTrafficPolicy: Cluster\n"
		"  ports: [{port: 80, nodePort: 30080}]\n",
		"we.yaml",
		"apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\n"
		"metadata: {name: front-0}\n"
		"spec: {address: 198.18.1.5, labels: {app: front}}\n");
	assert_int_equal(sl_config_resolve(t.cfg, NULL, &vip, 80, &eps, &n), 0);
	assert_int_equal(n, 1);
	w = sl_config_warnings(t.cfg, &nw);
	assert_int_equal(nw, 3);
	assert_string_equal(w[0].path, "spec.type");
	assert_non_null(strstr(w[0].message, "LoadBalancer: sluice meshes its clusterIP only"));
	assert_string_equal(w[1].path, "spec.externalTrafficPolicy");
	assert_string_equal(w[2].path, "spec.ports[0].nodePort");
	cfgt_done(&t);

	memset(&t, 0, sizeof(t));
	CFGT_FAIL(&t, "svc.yaml",
		  "apiVersion: v1\nkind: Service\nmetadata: {name: ext}\n"
		  "spec:\n  type: ExternalName\n  externalName: db.example\n");
	CFGT_HAS(&t, "svc.yaml", 5, 9, "spec.type",
		 "ExternalName is not supported");
	cfgt_done(&t);
}

static void test_serviceentry(void **state)
{
	struct cfgt t = { 0 };
	const struct sl_endpoint *eps;
	struct sl_ip db = ip("198.19.5.7"), ext = ip("198.19.6.1");
	size_t n;

	CFGT_OK(&t, "se.yaml",
		"apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n"
		"metadata: {name: db}\n"
		"spec:\n"
		"  hosts: [db.internal]\n"
		"  addresses: [198.19.5.0/24]\n"
		"  location: MESH_INTERNAL\n"
		"  resolution: STATIC\n"
		"  ports: [{number: 5432, name: pg, protocol: TCP, targetPort: 15432}]\n"
		"  endpoints:\n"
		"  - {address: 198.18.3.1, labels: {role: primary}, weight: 3}\n"
		"  - {address: 198.18.3.2, ports: {pg: 6432}}\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n"
		"metadata: {name: ext}\n"
		"spec:\n"
		"  hosts: [api.example.com]\n"
		"  addresses: [198.19.6.1]\n"
		"  location: MESH_EXTERNAL\n"
		"  resolution: NONE\n"
		"  ports: [{number: 443, name: tls}]\n");
	assert_int_equal(sl_config_resolve(t.cfg, NULL, &db, 5432, &eps, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(eps[0].port, 15432);
	assert_int_equal(eps[0].weight, 3);
	assert_null(eps[0].workload);
	assert_int_equal(eps[1].port, 6432);
	/* NONE without endpoints: pass through to the original destination */
	assert_int_equal(sl_config_resolve(t.cfg, NULL, &ext, 443, &eps, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(eps[0].address.family, 0);
	assert_int_equal(eps[0].port, 0);
	cfgt_done(&t);
}

static void test_dr_tls_and_fault(void **state)
{
	struct cfgt t = { 0 };

	CFGT_OK(&t, "a.yaml", CFGT_SVC_REVIEWS
		"---\n"
		"apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
		"metadata: {name: reviews}\n"
		"spec:\n"
		"  host: reviews\n"
		"  trafficPolicy:\n"
		"    tls: {mode: ISTIO_MUTUAL}\n"
		"    loadBalancer: {simple: LEAST_CONN}\n"
		"    connectionPool:\n"
		"      tcp: {maxConnections: 10, connectTimeout: 1.5s}\n"
		"      http: {http1MaxPendingRequests: 5, maxRetries: 3, idleTimeout: 1m}\n"
		"    outlierDetection: {consecutiveErrors: 7, interval: 5s, baseEjectionTime: 30s, maxEjectionPercent: 10, minHealthPercent: 50}\n"
		"    portLevelSettings:\n"
		"    - port: {number: 9080}\n"
		"      tls: {mode: DISABLE}\n"
		"  subsets: [{name: v1, labels: {version: v1}}]\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
		"metadata: {name: reviews}\n"
		"spec:\n"
		"  hosts: [reviews]\n"
		"  gateways: [mesh]\n"
		"  exportTo: [\".\"]\n"
		"  http:\n"
		"  - fault:\n"
		"      delay: {fixedDelay: 5s, percent: 10}\n"
		"      abort: {httpStatus: 503, percentage: {value: 0.5}}\n"
		"    route: [{destination: {host: reviews, subset: v1}}]\n"
		"  - fault:\n"
		"      delay: {fixedDelay: 100ms, percentage: {value: 12.5}}\n"
		"      abort: {httpStatus: 500, percent: 1}\n"
		"    retries: {attempts: 3, perTryTimeout: 2s, retryOn: 5xx, retryRemoteLocalities: true}\n"
		"    timeout: 0.5s\n"
		"    route: [{destination: {host: reviews}, headers: {request: {set: {x-a: b}}}}]\n");
	cfgt_done(&t);
}

/* Kubernetes ConfigMap volume: ..data -> ..2024_x/, name -> ..data/name */
static void test_configmap_layout(void **state)
{
	struct cfgt t = { 0 };
	char path[PATH_MAX], target[PATH_MAX];

	t.dir = cfgt_dir(NULL);
	snprintf(path, sizeof(path), "%s/..2024_01_01_00_00_00.123", t.dir);
	assert_int_equal(mkdir(path, 0755), 0);
	cfgt_write(path, "svc.yaml", CFGT_SVC_REVIEWS, strlen(CFGT_SVC_REVIEWS));
	cfgt_write(path, "junk.yaml", "not: [valid", 11); /* never linked */
	snprintf(path, sizeof(path), "%s/..data", t.dir);
	assert_int_equal(symlink("..2024_01_01_00_00_00.123", path), 0);
	snprintf(path, sizeof(path), "%s/svc.yaml", t.dir);
	assert_int_equal(symlink("..data/svc.yaml", path), 0);
	cfgt_write(t.dir, ".hidden.yaml", "garbage: [", 10);
	cfgt_write(t.dir, "README.txt", "garbage: [", 10);
	(void)target;
	cfgt_load_dir(&t, t.dir);
	if (t.ret)
		cfgt_dump_errors(&t);
	assert_int_equal(t.ret, 0);
	assert_int_equal(sl_config_count(t.cfg, NULL), 1);
	cfgt_done(&t);
}

static void test_node_selection(void **state)
{
	struct cfgt t = { 0 };
	struct sl_config *cfg = NULL;
	struct sl_config_errors errs = { 0 };
	const struct sl_node_config *n;

	CFGT_OK(&t, "sluiced.yaml",
		"apiVersion: sluice.io/v1alpha1\nkind: Node\n"
		"metadata: {name: all}\n"
		"spec: {trustDomain: example.org, ktls: off}\n"
		"---\n"
		"apiVersion: sluice.io/v1alpha1\nkind: Node\n"
		"metadata: {name: b}\n"
		"spec: {name: node-b, ktls: on, ports: {outbound: 25001}, allowUnknownSource: true}\n");
	n = sl_config_node(t.cfg);
	assert_string_equal(n->name, "node-a");
	assert_string_equal(n->trust_domain, "example.org");
	assert_int_equal(n->ktls, SL_KTLS_OFF);
	assert_int_equal(n->outbound_port, 15001);
	assert_int_equal(n->metrics_port, 15020);
	assert_string_equal(n->metrics_address, "127.0.0.1");
	assert_int_equal(sl_config_load_dir(t.dir, "node-b", &cfg, &errs), 0);
	n = sl_config_node(cfg);
	assert_string_equal(n->name, "node-b");
	assert_string_equal(n->trust_domain, "cluster.local");
	assert_int_equal(n->ktls, SL_KTLS_ON);
	assert_int_equal(n->outbound_port, 25001);
	assert_true(n->allow_unknown_source);
	sl_config_put(cfg);
	cfgt_done(&t);
	/* no node name given and a single Node, for one node: that node's
	 * name and its settings (sluiced without --node, as the packaged
	 * unit runs it) */
	CFGT_OK(&t, "sluiced.yaml",
		"apiVersion: sluice.io/v1alpha1\nkind: Node\n"
		"metadata: {name: b}\n"
		"spec: {name: node-b, caDir: /etc/sluice/ca, ktls: on, ports: {outbound: 25001}}\n");
	cfg = NULL;
	assert_int_equal(sl_config_load_dir(t.dir, NULL, &cfg, &errs), 0);
	n = sl_config_node(cfg);
	assert_string_equal(n->name, "node-b");
	assert_non_null(n->ca_dir);
	assert_string_equal(n->ca_dir, "/etc/sluice/ca");
	assert_int_equal(n->ktls, SL_KTLS_ON);
	assert_int_equal(n->outbound_port, 25001);
	sl_config_put(cfg);
	cfgt_done(&t);
	/* no Node at all: defaults */
	CFGT_OK(&t, "a.yaml", CFGT_SVC_REVIEWS);
	n = sl_config_node(t.cfg);
	assert_string_equal(n->trust_domain, "cluster.local");
	assert_int_equal(n->inbound_port, 15008);
	assert_int_equal(n->inbound_plain_port, 15006);
	assert_false(n->allow_unknown_source);
	cfgt_done(&t);
}

static void test_policies(void **state)
{
	struct cfgt t = { 0 };
	const struct sl_workload *w;
	struct sl_ip a = ip("198.18.1.1"), src = ip("198.18.9.9");
	struct sl_authz_request req = { .principal = "cluster.local/ns/x/sa/y",
					.ns = "x", .src_ip = &src, .port = 80 };

	CFGT_OK(&t, "a.yaml",
		"apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\n"
		"metadata: {name: w}\n"
		"spec: {address: 198.18.1.1, labels: {app: w}}\n"
		"---\n"
		"apiVersion: security.istio.io/v1beta1\nkind: PeerAuthentication\n"
		"metadata: {name: mesh, namespace: istio-system}\n"
		"spec: {mtls: {mode: STRICT}}\n"
		"---\n"
		"apiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"
		"metadata: {name: w}\n"
		"spec:\n  selector: {matchLabels: {app: w}}\n"
		"  mtls: {mode: UNSET}\n"
		"  portLevelMtls: {8080: {mode: PERMISSIVE}, 9000: {mode: DISABLE}}\n"
		"---\n"
		"apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
		"metadata: {name: deny-ip}\n"
		"spec:\n  action: DENY\n"
		"  rules: [{from: [{source: {ipBlocks: [198.18.9.0/24]}}], to: [{operation: {ports: [\"22\"]}}]}]\n"
		"---\n"
		"apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
		"metadata: {name: allow-ns}\n"
		"spec:\n  selector: {matchLabels: {app: w}}\n"
		"  rules: [{from: [{source: {namespaces: [x], notPrincipals: [\"*/sa/bad\"]}}],\n"
		"           when: [{key: destination.port, values: [\"80\", \"22\"]}, {key: source.ip, notValues: [10.0.0.0/8]}]}]\n");
	w = sl_config_workload_by_ip(t.cfg, &a);
	assert_non_null(w);
	assert_int_equal(sl_config_mtls_mode(t.cfg, w, 80), SL_MTLS_STRICT);
	assert_int_equal(sl_config_mtls_mode(t.cfg, w, 8080), SL_MTLS_PERMISSIVE);
	assert_int_equal(sl_config_mtls_mode(t.cfg, w, 9000), SL_MTLS_DISABLE);
	assert_true(sl_config_authorize(t.cfg, w, &req));
	req.port = 22; /* allowed by allow-ns, denied by deny-ip */
	assert_false(sl_config_authorize(t.cfg, w, &req));
	req.port = 443;
	assert_false(sl_config_authorize(t.cfg, w, &req));
	req.port = 80;
	req.principal = "cluster.local/ns/x/sa/bad";
	assert_false(sl_config_authorize(t.cfg, w, &req));
	req.principal = "cluster.local/ns/x/sa/y";
	req.ns = "z";
	assert_false(sl_config_authorize(t.cfg, w, &req));
	cfgt_done(&t);
}

/* the negative source and operation fields of an AuthorizationPolicy
 * (the field ledger names this test for them) */
static void test_policy_negations(void **state)
{
	struct cfgt t = { 0 };
	const struct sl_workload *w;
	struct sl_ip a = ip("198.18.1.1"), src = ip("198.18.9.9"),
		     other = ip("198.18.8.8");
	struct sl_authz_request req = { .principal = "cluster.local/ns/x/sa/y",
					.ns = "x", .src_ip = &src, .port = 80 };

	CFGT_OK(&t, "a.yaml",
		"apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\n"
		"metadata: {name: w}\n"
		"spec: {address: 198.18.1.1, labels: {app: w}}\n"
		"---\n"
		"apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
		"metadata: {name: allow}\n"
		"spec:\n  selector: {matchLabels: {app: w}}\n"
		"  rules: [{from: [{source: {notNamespaces: [legacy], notIpBlocks: [198.18.8.0/24]}}],\n"
		"           to: [{operation: {notPorts: [\"22\"]}}]}]\n");
	w = sl_config_workload_by_ip(t.cfg, &a);
	assert_non_null(w);
	assert_true(sl_config_authorize(t.cfg, w, &req));
	req.ns = "legacy"; /* notNamespaces */
	assert_false(sl_config_authorize(t.cfg, w, &req));
	req.ns = "x";
	req.src_ip = &other; /* notIpBlocks */
	assert_false(sl_config_authorize(t.cfg, w, &req));
	req.src_ip = &src;
	req.port = 22; /* notPorts */
	assert_false(sl_config_authorize(t.cfg, w, &req));
	cfgt_done(&t);
}

/* a ServiceEntry's workloadSelector picks WorkloadEntries of its namespace
 * by labels (the field ledger names this test for it) */
static void test_serviceentry_workload_selector(void **state)
{
	struct cfgt t = { 0 };
	const struct sl_endpoint *eps;
	struct sl_ip vip = ip("198.19.7.1");
	size_t n;

	CFGT_OK(&t, "se.yaml",
		"apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n"
		"metadata: {name: mysql}\n"
		"spec:\n"
		"  hosts: [mysql.vm.internal]\n"
		"  addresses: [198.19.7.1]\n"
		"  resolution: STATIC\n"
		"  ports: [{number: 3306, name: mysql}]\n"
		"  workloadSelector: {labels: {app: mysql}}\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\n"
		"metadata: {name: mysql-1}\n"
		"spec: {address: 198.18.4.1, labels: {app: mysql}}\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\n"
		"metadata: {name: other}\n"
		"spec: {address: 198.18.4.2, labels: {app: web}}\n");
	assert_int_equal(sl_config_resolve(t.cfg, NULL, &vip, 3306, &eps, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(eps[0].workload->name, "mysql-1");
	assert_int_equal(eps[0].port, 3306);
	cfgt_done(&t);
}

/* DestinationRule fields reach the policy the data path uses (the field
 * ledger names this test for them): consecutiveErrors (the old name of
 * consecutive5xxErrors), minHealthPercent, http.idleTimeout as the flow's
 * idle timeout when tcp.idleTimeout is not set; a ServiceEntry endpoint's
 * labels select it into a subset */
static void test_policy_proofs(void **state)
{
	struct cfgt t = { 0 };
	const struct sl_endpoint *eps;
	struct sl_dest_policy pol;
	struct sl_ip vip = ip("198.19.0.20"), db = ip("198.19.5.7");
	size_t n;

	CFGT_OK(&t, "a.yaml", CFGT_SVC_REVIEWS
		"---\n"
		"apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\n"
		"metadata: {name: r1}\n"
		"spec: {address: 198.18.1.1, labels: {app: reviews}}\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
		"metadata: {name: reviews}\n"
		"spec:\n"
		"  host: reviews\n"
		"  trafficPolicy:\n"
		"    connectionPool: {http: {idleTimeout: 1m}}\n"
		"    outlierDetection: {consecutiveErrors: 7, minHealthPercent: 50}\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n"
		"metadata: {name: db}\n"
		"spec:\n"
		"  hosts: [db.internal]\n"
		"  addresses: [198.19.5.0/24]\n"
		"  resolution: STATIC\n"
		"  ports: [{number: 5432, name: pg}]\n"
		"  endpoints:\n"
		"  - {address: 198.18.3.1, labels: {role: primary}}\n"
		"  - {address: 198.18.3.2, labels: {role: replica}}\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
		"metadata: {name: db}\n"
		"spec:\n"
		"  host: db.internal\n"
		"  subsets: [{name: primary, labels: {role: primary}}]\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
		"metadata: {name: db}\n"
		"spec:\n"
		"  hosts: [db.internal]\n"
		"  tcp: [{route: [{destination: {host: db.internal, subset: primary}}]}]\n");
	assert_int_equal(sl_config_route(t.cfg, NULL, &vip, 9080, &eps, &n, &pol), 0);
	assert_int_equal(n, 1);
	assert_true(pol.outlier);
	assert_int_equal(pol.consecutive_errors, 7);
	assert_int_equal(pol.min_health_pct, 50);
	assert_int_equal(pol.idle_timeout_ns, 60ull * 1000000000ull);
	/* labels of ServiceEntry endpoints select them into subsets */
	assert_int_equal(sl_config_resolve(t.cfg, NULL, &db, 5432, &eps, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(sl_ip_format(&eps[0].address, (char[64]){ 0 }, 64),
			    "198.18.3.1");
	cfgt_done(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canary_table),
		cmocka_unit_test(test_canary_resolve),
		cmocka_unit_test(test_examples),
		cmocka_unit_test(test_generation_changes),
		cmocka_unit_test(test_short_names),
		cmocka_unit_test(test_service_hosts),
		cmocka_unit_test(test_readiness),
		cmocka_unit_test(test_service_types),
		cmocka_unit_test(test_serviceentry),
		cmocka_unit_test(test_dr_tls_and_fault),
		cmocka_unit_test(test_configmap_layout),
		cmocka_unit_test(test_node_selection),
		cmocka_unit_test(test_policies),
		cmocka_unit_test(test_policy_negations),
		cmocka_unit_test(test_serviceentry_workload_selector),
		cmocka_unit_test(test_policy_proofs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

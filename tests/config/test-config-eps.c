/* SPDX-License-Identifier: Apache-2.0 */
/*
 * EndpointSlices (discovery.k8s.io/v1): the endpoints of a Service without
 * a selector; the fields addressType, endpoints (addresses, conditions
 * ready and terminating) and ports (name, port, protocol).
 */
#include "cfgtest.h"
#include "ip.h"

static struct sl_ip ip(const char *s)
{
	struct sl_ip a;

	assert_int_equal(sl_ip_parse(s, &a), 0);
	return a;
}

/* a warning in @file whose message contains @msg */
static bool has_warning(const struct sl_config *cfg, const char *file,
			const char *msg)
{
	const struct sl_config_error *w;
	size_t n;

	w = sl_config_warnings(cfg, &n);
	for (size_t i = 0; i < n; i++) {
		const char *base = w[i].file ? strrchr(w[i].file, '/') : NULL;

		if (base && !strcmp(base + 1, file) && strstr(w[i].message, msg))
			return true;
	}
	return false;
}

#define SVC                                                                    \
	"apiVersion: v1\nkind: Service\nmetadata: {name: db}\n"                \
	"spec:\n  clusterIP: 198.19.0.40\n"                                     \
	"  ports: [{name: sql, port: 5432}, {name: admin, port: 80}]\n"
#define SVC_PNR                                                                \
	"apiVersion: v1\nkind: Service\nmetadata: {name: db}\n"                \
	"spec:\n  clusterIP: 198.19.0.40\n  publishNotReadyAddresses: true\n"  \
	"  ports: [{name: sql, port: 5432}, {name: admin, port: 80}]\n"
#define WE                                                                     \
	"apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\n"           \
	"metadata: {name: db-0}\n"                                             \
	"spec: {address: 198.18.1.10, serviceAccount: db, labels: {app: db}}\n"
/* ready (a workload), ready by default (no workload), not ready,
 * terminating though ready; the port "sql" at 15432, "admin" absent */
#define EPS                                                                    \
	"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"               \
	"metadata:\n  name: db-1\n"                                            \
	"  labels: {kubernetes.io/service-name: db}\n"                         \
	"addressType: IPv4\n"                                                  \
	"endpoints:\n"                                                         \
	"- addresses: [198.18.1.10]\n"                                         \
	"  conditions: {ready: true}\n"                                        \
	"- addresses: [198.18.9.9]\n"                                          \
	"- addresses: [198.18.1.11]\n"                                         \
	"  conditions: {ready: false}\n"                                       \
	"- addresses: [198.18.1.12]\n"                                         \
	"  conditions: {ready: true, terminating: true}\n"                     \
	"ports:\n"                                                             \
	"- {name: sql, port: 15432, protocol: TCP}\n"

static void test_selectorless_service(void **state)
{
	struct cfgt t = { 0 };
	const struct sl_endpoint *eps;
	struct sl_ip vip = ip("198.19.0.40");
	size_t n, nw;

	(void)state;
	CFGT_OK(&t, "svc.yaml", SVC, "we.yaml", WE, "eps.yaml", EPS);
	assert_int_equal(sl_config_resolve(t.cfg, NULL, &vip, 5432, &eps, &n),
			 0);
	assert_int_equal(n, 2);
	/* a pod's address is its workload (mTLS, identity), another is not */
	assert_non_null(eps[0].workload);
	assert_string_equal(eps[0].workload->name, "db-0");
	assert_int_equal(eps[0].port, 15432);
	assert_null(eps[1].workload);
	assert_int_equal(eps[1].port, 15432);
	{
		struct sl_ip want = ip("198.18.9.9");

		assert_true(sl_ip_equal(&eps[1].address, &want));
	}
	/* no slice port named "admin": no endpoint there */
	assert_int_equal(sl_config_resolve(t.cfg, NULL, &vip, 80, &eps, &n),
			 -ENOENT);
	sl_config_warnings(t.cfg, &nw);
	assert_int_equal(nw, 0);
	cfgt_done(&t);

	/* publishNotReadyAddresses: not ready and terminating ones too */
	CFGT_OK(&t, "svc.yaml", SVC_PNR, "we.yaml", WE, "eps.yaml", EPS);
	assert_int_equal(sl_config_resolve(t.cfg, NULL, &vip, 5432, &eps, &n),
			 0);
	assert_int_equal(n, 4);
	cfgt_done(&t);

	/* without the slice: no endpoint (no selector) */
	CFGT_OK(&t, "svc.yaml", SVC, "we.yaml", WE);
	assert_int_equal(sl_config_resolve(t.cfg, NULL, &vip, 5432, &eps, &n),
			 -ENOENT);
	cfgt_done(&t);
}

/* two slices of one Service add up; a second address is warned */
static void test_two_slices(void **state)
{
	static const char eps2[] =
		"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
		"metadata:\n  name: db-2\n"
		"  labels: {kubernetes.io/service-name: db}\n"
		"addressType: IPv4\n"
		"endpoints:\n"
		"- addresses: [198.18.2.1, 198.18.2.2]\n"
		"ports: [{name: sql, port: 15432}]\n";
	struct cfgt t = { 0 };
	const struct sl_endpoint *eps;
	struct sl_ip vip = ip("198.19.0.40"), want = ip("198.18.2.1");
	size_t n;
	bool found = false;

	(void)state;
	CFGT_OK(&t, "svc.yaml", SVC, "we.yaml", WE, "eps.yaml", EPS,
		"eps2.yaml", eps2);
	assert_int_equal(sl_config_resolve(t.cfg, NULL, &vip, 5432, &eps, &n),
			 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		found |= sl_ip_equal(&eps[i].address, &want);
	assert_true(found);
	assert_true(has_warning(t.cfg, "eps2.yaml",
				"only the first address is used (as kube-proxy does): 1 more have no effect"));
	cfgt_done(&t);
}

/* slices that have no effect: the controller's, of no Service */
static void test_no_effect(void **state)
{
	static const char ctl[] =
		"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
		"metadata:\n  name: db-ctl\n"
		"  labels: {kubernetes.io/service-name: db,\n"
		"    endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io}\n"
		"addressType: IPv4\n"
		"endpoints: [{addresses: [198.18.3.1]}]\n"
		"ports: [{name: sql, port: 15432}]\n";
	static const char orphan[] =
		"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
		"metadata:\n  name: nobody\n"
		"  labels: {kubernetes.io/service-name: nosuch}\n"
		"addressType: IPv4\n"
		"endpoints: [{addresses: [198.18.3.2]}]\n"
		"ports: [{name: sql, port: 15432}]\n";
	static const char unlabelled[] =
		"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
		"metadata: {name: loose}\n"
		"addressType: IPv6\n"
		"endpoints: [{addresses: [\"fd00:5a1c::1\"]}]\n"
		"ports: [{name: sql, port: 15432}]\n";
	struct cfgt t = { 0 };
	const struct sl_endpoint *eps;
	struct sl_ip vip = ip("198.19.0.40");
	size_t n;

	(void)state;
	CFGT_OK(&t, "svc.yaml", SVC, "ctl.yaml", ctl, "orphan.yaml", orphan,
		"unlabelled.yaml", unlabelled);
	assert_int_equal(sl_config_resolve(t.cfg, NULL, &vip, 5432, &eps, &n),
			 -ENOENT);
	assert_true(has_warning(t.cfg, "ctl.yaml",
				"managed by the EndpointSlice controller"));
	assert_true(has_warning(t.cfg, "orphan.yaml",
				"no Service default/nosuch (label kubernetes.io/service-name): this EndpointSlice has no effect"));
	assert_true(has_warning(t.cfg, "unlabelled.yaml",
				"no label kubernetes.io/service-name: it belongs to no Service"));
	cfgt_done(&t);
}

static void test_errors(void **state)
{
	static const char head[] =
		"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
		"metadata:\n  name: db-1\n"
		"  labels: {kubernetes.io/service-name: db}\n";
	static const struct {
		const char *body;
		unsigned int line, col;
		const char *path, *msg;
	} cases[] = {
		{ "addressType: FQDN\nendpoints: [{addresses: [db.example]}]\n",
		  6, 14, "addressType", "FQDN is not supported" },
		{ "endpoints: [{addresses: [198.18.1.1]}]\n", 1, 1,
		  "addressType", "required field is missing" },
		{ "addressType: IPv6\nendpoints: [{addresses: [198.18.1.1]}]\n",
		  7, 26, "endpoints[0].addresses[0]",
		  "\"198.18.1.1\" is not an IPv6 address (addressType)" },
		{ "addressType: IPv4\nendpoints: [{addresses: []}]\n", 7, 13,
		  "endpoints[0].addresses", "at least one address is required" },
		{ "addressType: IPv4\nendpoints: [{addresses: [198.18.1.1], conditions: {ready: maybe}}]\n",
		  7, 0, "endpoints[0].conditions.ready", NULL },
		{ "addressType: IPv4\nports: [{name: dns, port: 53, protocol: UDP}]\n",
		  7, 41, "ports[0].protocol",
		  "UDP is not supported (sluice carries TCP)" },
		{ "addressType: IPv4\nports: [{name: sql}]\n", 7, 9, "ports[0].port",
		  "required by sluice" },
		{ "addressType: IPv4\nports: [{name: a, port: 1}, {name: a, port: 2}]\n",
		  7, 0, "ports[1].name", "duplicate port name \"a\"" },
		{ "addressType: IPv4\nspec: {}\n", 7, 1, "spec", "unknown field" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cfgt t = { 0 };
		char *doc = NULL;

		assert_true(asprintf(&doc, "%s%s", head, cases[i].body) > 0);
		CFGT_FAIL(&t, "svc.yaml", SVC, "eps.yaml", doc);
		if (!cfgt_has(&t, "eps.yaml", cases[i].line == 1 ? 0 : cases[i].line,
			      cases[i].col, cases[i].path,
			      cases[i].msg ? cases[i].msg : "")) {
			fprintf(stderr, "case %zu: want %u:%u %s: %s\n", i,
				cases[i].line, cases[i].col, cases[i].path,
				cases[i].msg ? cases[i].msg : "");
			cfgt_dump_errors(&t);
			fail();
		}
		free(doc);
		cfgt_done(&t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_selectorless_service),
		cmocka_unit_test(test_two_slices),
		cmocka_unit_test(test_no_effect),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

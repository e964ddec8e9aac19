/* SPDX-License-Identifier: Apache-2.0 */
/* PeerAuthentication mode computation: STRICT by default, precedence
 * (port-level > workload > namespace > mesh), the "any plaintext port"
 * question the steering table asks, and DestinationRule tls DISABLE in the
 * destination policy. */
#include "cfgtest.h"
#include "policy_query.h"

#define WE(name, ns, addr, app)                                                \
	"apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\n"            \
	"metadata: {name: " name ", namespace: " ns "}\n"                      \
	"spec: {address: " addr ", labels: {app: " app "}}\n"

#define PA(name, ns, spec)                                                     \
	"apiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"         \
	"metadata: {name: " name ", namespace: " ns "}\n"                      \
	"spec: " spec "\n"

static const struct sl_workload *wl_at(const struct cfgt *t, const char *s)
{
	struct sl_ip a;
	const struct sl_workload *w;

	assert_int_equal(sl_ip_parse(s, &a), 0);
	w = sl_config_workload_by_ip(t->cfg, &a);
	assert_non_null(w);
	return w;
}

static void test_default_strict(void **state)
{
	struct cfgt t = { 0 };
	const struct sl_workload *w;

	(void)state;
	CFGT_OK(&t, "a.yaml", WE("w", "default", "198.18.1.1", "w"));
	w = wl_at(&t, "198.18.1.1");
	assert_int_equal(sl_config_mtls_mode(t.cfg, w, 80), SL_MTLS_STRICT);
	assert_int_equal(sl_config_mtls_mode(t.cfg, w, 0), SL_MTLS_STRICT);
	assert_int_equal(sl_config_mtls_default(t.cfg, w), SL_MTLS_STRICT);
	assert_false(sl_config_mtls_plaintext_any(t.cfg, w));
	/* no workload, no config: STRICT, never UNSET */
	assert_int_equal(sl_config_mtls_mode(t.cfg, NULL, 80), SL_MTLS_STRICT);
	assert_int_equal(sl_config_mtls_mode(NULL, w, 80), SL_MTLS_STRICT);
	assert_false(sl_config_mtls_plaintext_any(NULL, w));
	cfgt_done(&t);
}

static void test_precedence(void **state)
{
	struct cfgt t = { 0 };
	const struct sl_workload *a, *b, *c, *d;

	(void)state;
	CFGT_OK(&t, "a.yaml",
		WE("a", "ns1", "198.18.1.1", "a") "---\n"
		WE("b", "ns1", "198.18.1.2", "b") "---\n"
		WE("c", "ns2", "198.18.1.3", "c") "---\n"
		WE("d", "ns3", "198.18.1.4", "d") "---\n"
		/* mesh: PERMISSIVE */
		PA("mesh", "istio-system", "{mtls: {mode: PERMISSIVE}}") "---\n"
		/* ns1: STRICT overrides the mesh */
		PA("ns1", "ns1", "{mtls: {mode: STRICT}}") "---\n"
		/* workload b: DISABLE overrides ns1 */
		PA("b", "ns1", "{selector: {matchLabels: {app: b}}, mtls: {mode: DISABLE}}") "---\n"
		/* ns2: UNSET inherits the mesh */
		PA("ns2", "ns2", "{mtls: {mode: UNSET}}") "---\n"
		/* a selector in ns2 that selects nothing there */
		PA("other", "ns2", "{selector: {matchLabels: {app: a}}, mtls: {mode: DISABLE}}") "---\n"
		/* a policy of ns1 does not apply to ns3 */
		PA("a-only", "ns1", "{selector: {matchLabels: {app: d}}, mtls: {mode: STRICT}}"));
	a = wl_at(&t, "198.18.1.1");
	b = wl_at(&t, "198.18.1.2");
	c = wl_at(&t, "198.18.1.3");
	d = wl_at(&t, "198.18.1.4");
	assert_int_equal(sl_config_mtls_mode(t.cfg, a, 80), SL_MTLS_STRICT);
	assert_false(sl_config_mtls_plaintext_any(t.cfg, a));
	assert_int_equal(sl_config_mtls_mode(t.cfg, b, 80), SL_MTLS_DISABLE);
	assert_true(sl_config_mtls_plaintext_any(t.cfg, b));
	assert_int_equal(sl_config_mtls_mode(t.cfg, c, 80), SL_MTLS_PERMISSIVE);
	assert_int_equal(sl_config_mtls_mode(t.cfg, d, 80), SL_MTLS_PERMISSIVE);
	assert_true(sl_config_mtls_plaintext_any(t.cfg, d));
	cfgt_done(&t);
}

static void test_port_level(void **state)
{
	struct cfgt t = { 0 };
	const struct sl_workload *w, *x;

	(void)state;
	CFGT_OK(&t, "a.yaml",
		WE("w", "default", "198.18.1.1", "w") "---\n"
		WE("x", "default", "198.18.1.2", "x") "---\n"
		PA("ns", "default", "{mtls: {mode: PERMISSIVE}}") "---\n"
		"apiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"
		"metadata: {name: w}\n"
		"spec:\n  selector: {matchLabels: {app: w}}\n"
		"  mtls: {mode: STRICT}\n"
		"  portLevelMtls: {8080: {mode: PERMISSIVE}, 9000: {mode: DISABLE}}\n"
		"---\n"
		"apiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"
		"metadata: {name: x}\n"
		"spec:\n  selector: {matchLabels: {app: x}}\n"
		"  portLevelMtls: {7000: {mode: STRICT}}\n");
	w = wl_at(&t, "198.18.1.1");
	assert_int_equal(sl_config_mtls_mode(t.cfg, w, 80), SL_MTLS_STRICT);
	assert_int_equal(sl_config_mtls_mode(t.cfg, w, 8080), SL_MTLS_PERMISSIVE);
	assert_int_equal(sl_config_mtls_mode(t.cfg, w, 9000), SL_MTLS_DISABLE);
	assert_int_equal(sl_config_mtls_default(t.cfg, w), SL_MTLS_STRICT);
	/* STRICT by default, but one port takes plaintext: steered
	 * permissive, 15006 refuses the other ports */
	assert_true(sl_config_mtls_plaintext_any(t.cfg, w));
	/* no workload mode: the namespace's PERMISSIVE, except port 7000 */
	x = wl_at(&t, "198.18.1.2");
	assert_int_equal(sl_config_mtls_mode(t.cfg, x, 80), SL_MTLS_PERMISSIVE);
	assert_int_equal(sl_config_mtls_mode(t.cfg, x, 7000), SL_MTLS_STRICT);
	assert_int_equal(sl_config_mtls_default(t.cfg, x), SL_MTLS_PERMISSIVE);
	{
		char buf[64], tiny[8];

		assert_string_equal(sl_config_mtls_describe(t.cfg, w, buf, sizeof(buf)),
				    "STRICT 8080:PERMISSIVE,9000:DISABLE");
		assert_string_equal(sl_config_mtls_describe(t.cfg, x, buf, sizeof(buf)),
				    "PERMISSIVE 7000:STRICT");
		/* truncated, still terminated */
		assert_string_equal(sl_config_mtls_describe(t.cfg, w, tiny, sizeof(tiny)),
				    "STRICT ");
	}
	assert_string_equal(sl_mtls_mode_name(SL_MTLS_STRICT), "STRICT");
	assert_string_equal(sl_mtls_mode_name(SL_MTLS_PERMISSIVE), "PERMISSIVE");
	assert_string_equal(sl_mtls_mode_name(SL_MTLS_DISABLE), "DISABLE");
	cfgt_done(&t);
}

static void test_dr_tls_disable(void **state)
{
	struct cfgt t = { 0 };
	const struct sl_endpoint *eps;
	struct sl_dest_policy pol;
	struct sl_ip vip;
	size_t n;

	(void)state;
	CFGT_OK(&t, "a.yaml", CFGT_SVC_REVIEWS "---\n"
		WE("r1", "default", "198.18.1.5", "reviews") "---\n"
		"apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
		"metadata: {name: reviews}\n"
		"spec:\n"
		"  host: reviews\n"
		"  trafficPolicy:\n"
		"    tls: {mode: DISABLE}\n"
		"    portLevelSettings:\n"
		"    - port: {number: 9081}\n"
		"      tls: {mode: ISTIO_MUTUAL}\n");
	assert_int_equal(sl_ip_parse("198.19.0.20", &vip), 0);
	assert_int_equal(sl_config_route(t.cfg, NULL, &vip, 9080, &eps, &n, &pol), 0);
	assert_true(n >= 1);
	assert_true(pol.tls_disable);
	cfgt_done(&t);

	/* without a DestinationRule: mTLS */
	CFGT_OK(&t, "a.yaml", CFGT_SVC_REVIEWS "---\n"
		WE("r1", "default", "198.18.1.5", "reviews"));
	assert_int_equal(sl_config_route(t.cfg, NULL, &vip, 9080, &eps, &n, &pol), 0);
	assert_false(pol.tls_disable);
	cfgt_done(&t);
}

/*
 * Node rootNamespace: policy placed in the root namespace applies
 * mesh-wide, as Istio's meshConfig.rootNamespace; istio-system is then an
 * ordinary namespace.
 */
static void test_root_namespace(void **state)
{
	struct sl_authz_request req = { .principal = NULL, .port = 80 };
	struct cfgt t = { 0 };
	const struct sl_workload *a, *b;

	(void)state;
	CFGT_OK(&t, "node.yaml",
		"apiVersion: sluice.io/v1alpha1\nkind: Node\n"
		"metadata: {name: n}\nspec: {rootNamespace: mesh-root}\n",
		"a.yaml",
		WE("a", "ns1", "198.18.1.1", "a") "---\n"
		WE("b", "istio-system", "198.18.1.2", "b") "---\n"
		PA("mesh", "mesh-root", "{mtls: {mode: PERMISSIVE}}") "---\n"
		PA("old", "istio-system", "{mtls: {mode: DISABLE}}") "---\n"
		"apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
		"metadata: {name: deny-all, namespace: mesh-root}\n"
		"spec: {action: DENY, rules: [{}]}\n");
	assert_string_equal(sl_config_node(t.cfg)->root_namespace, "mesh-root");
	a = wl_at(&t, "198.18.1.1");
	b = wl_at(&t, "198.18.1.2");
	/* mesh-wide from the root namespace */
	assert_int_equal(sl_config_mtls_mode(t.cfg, a, 80), SL_MTLS_PERMISSIVE);
	assert_false(sl_config_authorize(t.cfg, a, &req));
	/* istio-system's namespace-wide policy: its own namespace only */
	assert_int_equal(sl_config_mtls_mode(t.cfg, b, 80), SL_MTLS_DISABLE);
	cfgt_done(&t);

	/* the default root namespace is istio-system */
	CFGT_OK(&t, "a.yaml",
		WE("a", "ns1", "198.18.1.1", "a") "---\n"
		PA("mesh", "istio-system", "{mtls: {mode: PERMISSIVE}}"));
	assert_string_equal(sl_config_node(t.cfg)->root_namespace,
			    "istio-system");
	assert_int_equal(sl_config_mtls_mode(t.cfg, wl_at(&t, "198.18.1.1"), 80),
			 SL_MTLS_PERMISSIVE);
	cfgt_done(&t);

	CFGT_FAIL(&t, "node.yaml",
		  "apiVersion: sluice.io/v1alpha1\nkind: Node\n"
		  "metadata: {name: n}\nspec: {rootNamespace: Mesh_Root}\n");
	assert_true(cfgt_has(&t, "node.yaml", 4, 23, "spec.rootNamespace",
			     "\"Mesh_Root\" is not a valid namespace name"));
	cfgt_done(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_strict),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_port_level),
		cmocka_unit_test(test_dr_tls_disable),
		cmocka_unit_test(test_root_namespace),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

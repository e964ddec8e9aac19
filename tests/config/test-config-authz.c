/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AuthorizationPolicy at L7 (config/authz.c): every field of an HTTP
 * request (hosts, notHosts, methods, notMethods, paths, notPaths, ports,
 * remoteIpBlocks, notRemoteIpBlocks, when on request.headers[...],
 * source.*, remote.ip, destination.*), the precedence DENY > ALLOW with
 * AUDIT only reported, Istio's TCP semantics for connections, the istio.io
 * authorization tasks deciding as their pages say, and the Node's
 * pathNormalization.
 */
#include <ctype.h>
#include <strings.h>

#include "cfgtest.h"
#include "path.h"

/* ---- the request -------------------------------------------------------- */

struct hdrs {
	const char *name[4], *value[4];
};

/* request.headers[...] as the HTTP engine answers: repeated headers
 * joined with ",", NULL when absent */
static const char *hdr_get(void *ctx, const char *name, char *buf, size_t cap)
{
	const struct hdrs *h = ctx;
	const char *out = NULL;
	size_t off = 0;

	for (size_t i = 0; h && i < 4 && h->name[i]; i++) {
		int n;

		if (strcasecmp(h->name[i], name))
			continue;
		n = snprintf(buf + off, cap - off, "%s%s", off ? "," : "",
			     h->value[i]);
		assert_true(n >= 0 && (size_t)n < cap - off);
		off += (size_t)n;
		out = buf;
	}
	return out;
}

struct req {
	const char *principal, *ns, *src, *dst;
	uint16_t port;
	const char *method, *host, *path; /* method NULL: a connection */
	struct hdrs h;
};

static struct sl_authz_decision decide(const struct cfgt *t,
				       const struct sl_workload *wl,
				       const struct req *q)
{
	struct sl_authz_http http = { 0 };
	struct sl_authz_request r = { 0 };
	struct sl_authz_decision d;
	struct sl_ip src, dst;
	bool ok;

	assert_non_null(wl);
	r.principal = q->principal;
	r.ns = q->ns;
	r.port = q->port;
	if (q->src) {
		assert_int_equal(sl_ip_parse(q->src, &src), 0);
		r.src_ip = &src;
	}
	if (q->dst) {
		assert_int_equal(sl_ip_parse(q->dst, &dst), 0);
		r.dst_ip = &dst;
	}
	if (q->method) {
		http.method = q->method;
		http.method_len = strlen(q->method);
		http.host = q->host;
		http.host_len = q->host ? strlen(q->host) : 0;
		http.path = q->path;
		http.path_len = strlen(q->path);
		http.header = hdr_get;
		http.ctx = (void *)&q->h;
		r.http = &http;
	}
	ok = sl_config_authz(t->cfg, wl, &r, &d);
	assert_int_equal(ok, d.allowed);
	assert_int_equal(sl_config_authorize(t->cfg, wl, &r), ok);
	return d;
}

static bool allowed(const struct cfgt *t, const struct sl_workload *wl,
		    const struct req *q)
{
	return decide(t, wl, q).allowed;
}

#define WE(name, ns, addr, app)                                                \
	"apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\n"            \
	"metadata: {name: " name ", namespace: " ns "}\n"                      \
	"spec: {address: " addr ", labels: {app: " app "}}\n"

#define AP(name, ns, spec)                                                     \
	"apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"        \
	"metadata: {name: " name ", namespace: " ns "}\n"                      \
	"spec: " spec "\n"

#define GET(path_) .method = "GET", .host = "b.ns1", .path = path_

/* ---- the istio.io tasks ----------------------------------------------- */

static char *srcdir_file(const char *rel)
{
	char *p = NULL, *text;
	FILE *f;
	long len;

	assert_true(asprintf(&p, SL_TEST_DATA "/istio-samples/%s", rel) > 0);
	f = fopen(p, "r");
	if (!f)
		fprintf(stderr, "%s: %s\n", p, strerror(errno));
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	assert_true(len > 0);
	rewind(f);
	text = calloc(1, (size_t)len + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	free(p);
	return text;
}

/* base/authz-tasks.yaml with the task files @files (NULL-terminated) */
static void load_task(struct cfgt *t, const char *const *files)
{
	char *base = srcdir_file("base/authz-tasks.yaml");

	t->dir = cfgt_dir("base.yaml", base, NULL);
	free(base);
	for (size_t i = 0; files[i]; i++) {
		char *text = srcdir_file(files[i]);

		cfgt_write(t->dir, strrchr(files[i], '/') + 1, text,
			   strlen(text));
		free(text);
	}
	cfgt_load_dir(t, t->dir);
	if (t->ret)
		cfgt_dump_errors(t);
	assert_int_equal(t->ret, 0);
	/* they load without a warning */
	assert_int_equal(t->errs.n, 0);
}

#define BOOKINFO(sa) "cluster.local/ns/default/sa/bookinfo-" sa

/* "Authorization on HTTP traffic": the page's steps, one policy at a time */
static void test_task_authz_http(void **state)
{
	static const char *const f1[] = { "istio.io/authz-http-allow-nothing.yaml",
					  NULL };
	static const char *const f2[] = {
		"istio.io/authz-http-allow-nothing.yaml",
		"istio.io/authz-http-productpage-viewer.yaml", NULL
	};
	static const char *const f3[] = {
		"istio.io/authz-http-allow-nothing.yaml",
		"istio.io/authz-http-productpage-viewer.yaml",
		"istio.io/authz-http-details-viewer.yaml",
		"istio.io/authz-http-reviews-viewer.yaml",
		"istio.io/authz-http-ratings-viewer.yaml", NULL
	};
	struct req pp_get = { .principal = NULL, .ns = NULL,
			      .src = "198.18.9.1", .port = 9080,
			      .method = "GET", .host = "productpage:9080",
			      .path = "/productpage" };
	struct req pp_post = pp_get;
	struct req details = { .principal = BOOKINFO("productpage"),
			       .ns = "default", .src = "198.18.2.10",
			       .port = 9080, .method = "GET",
			       .host = "details:9080", .path = "/details/0" };
	struct req ratings = { .principal = BOOKINFO("reviews"),
			       .ns = "default", .src = "198.18.2.12",
			       .port = 9080, .method = "GET",
			       .host = "ratings:9080", .path = "/ratings/0" };
	struct req other = details;
	struct sl_authz_decision d;
	struct cfgt t = { 0 };
	const struct sl_workload *pp, *de, *re, *ra;

	(void)state;
	pp_post.method = "POST";
	/* allow-nothing: "you should see RBAC: access denied" everywhere */
	load_task(&t, f1);
	pp = sl_config_workload_by_name(t.cfg, "default", "productpage-v1");
	de = sl_config_workload_by_name(t.cfg, "default", "details-v1");
	d = decide(&t, pp, &pp_get);
	assert_false(d.allowed);
	assert_null(d.deny_name); /* rbac_access_denied_matched_policy[none] */
	assert_false(allowed(&t, de, &details));
	cfgt_done(&t);

	/* productpage-viewer: GET to productpage only; details and reviews
	 * still refused ("Error fetching product details") */
	load_task(&t, f2);
	pp = sl_config_workload_by_name(t.cfg, "default", "productpage-v1");
	de = sl_config_workload_by_name(t.cfg, "default", "details-v1");
	assert_true(allowed(&t, pp, &pp_get));
	assert_false(allowed(&t, pp, &pp_post));
	assert_false(allowed(&t, de, &details));
	cfgt_done(&t);

	/* details-, reviews-, ratings-viewer: the page loads in full */
	load_task(&t, f3);
	pp = sl_config_workload_by_name(t.cfg, "default", "productpage-v1");
	de = sl_config_workload_by_name(t.cfg, "default", "details-v1");
	re = sl_config_workload_by_name(t.cfg, "default", "reviews-v1");
	ra = sl_config_workload_by_name(t.cfg, "default", "ratings-v1");
	assert_true(allowed(&t, pp, &pp_get));
	assert_true(allowed(&t, de, &details));
	details.host = "reviews:9080";
	details.path = "/reviews/0";
	assert_true(allowed(&t, re, &details));
	assert_true(allowed(&t, ra, &ratings));
	/* and nothing more: another identity, another method */
	other.principal = BOOKINFO("reviews");
	assert_false(allowed(&t, de, &other));
	other.principal = BOOKINFO("productpage");
	other.method = "POST";
	assert_false(allowed(&t, de, &other));
	ratings.principal = BOOKINFO("productpage");
	assert_false(allowed(&t, ra, &ratings));
	/* plaintext has no principal */
	other.principal = NULL;
	other.ns = NULL;
	other.method = "GET";
	assert_false(allowed(&t, de, &other));
	cfgt_done(&t);
}

/* "Explicit Deny" on httpbin.foo from sleep */
static void test_task_authz_deny(void **state)
{
	static const char *const f1[] = { "istio.io/authz-deny-method-get.yaml",
					  NULL };
	static const char *const f2[] = {
		"istio.io/authz-deny-method-get-x-token.yaml", NULL
	};
	static const char *const f3[] = {
		"istio.io/authz-deny-method-get-x-token.yaml",
		"istio.io/authz-deny-allow-path-ip.yaml", NULL
	};
	struct req get = { .principal = "cluster.local/ns/foo/sa/sleep",
			   .ns = "foo", .src = "198.18.2.21", .port = 80,
			   .method = "GET", .host = "httpbin.foo:8000",
			   .path = "/get" };
	struct req post = get;
	struct sl_authz_decision d;
	struct cfgt t = { 0 };
	const struct sl_workload *hb;

	(void)state;
	post.method = "POST";
	post.path = "/post";
	load_task(&t, f1);
	hb = sl_config_workload_by_name(t.cfg, "foo", "httpbin");
	d = decide(&t, hb, &get); /* 403 */
	assert_false(d.allowed);
	assert_string_equal(d.deny_ns, "foo");
	assert_string_equal(d.deny_name, "deny-method-get");
	assert_int_equal(d.deny_rule, 0);
	assert_true(allowed(&t, hb, &post)); /* 200 */
	cfgt_done(&t);

	/* GET is denied unless x-token is admin */
	load_task(&t, f2);
	hb = sl_config_workload_by_name(t.cfg, "foo", "httpbin");
	get.h = (struct hdrs){ { "x-token" }, { "admin" } };
	assert_true(allowed(&t, hb, &get)); /* 200 */
	get.h = (struct hdrs){ { "x-token" }, { "guest" } };
	assert_false(allowed(&t, hb, &get)); /* 403 */
	/* no x-token: notValues matches an absent header (Envoy's Not) */
	get.h = (struct hdrs){ { NULL } };
	assert_false(allowed(&t, hb, &get));
	cfgt_done(&t);

	/* allow-path-ip: DENY first, then only /ip */
	load_task(&t, f3);
	hb = sl_config_workload_by_name(t.cfg, "foo", "httpbin");
	get.path = "/ip";
	get.h = (struct hdrs){ { "x-token" }, { "guest" } };
	d = decide(&t, hb, &get); /* 403, by deny-method-get */
	assert_false(d.allowed);
	assert_string_equal(d.deny_name, "deny-method-get");
	get.h = (struct hdrs){ { "x-token" }, { "admin" } };
	assert_true(allowed(&t, hb, &get)); /* 200 */
	get.path = "/get";
	d = decide(&t, hb, &get); /* 403: no ALLOW rule matched */
	assert_false(d.allowed);
	assert_null(d.deny_name);
	cfgt_done(&t);
}

/* "Authorization on TCP traffic": connections to tcp-echo.foo */
static void test_task_authz_tcp(void **state)
{
	static const char *const ports[] = {
		"istio.io/authz-tcp-allow-ports.yaml", NULL
	};
	static const char *const allow_methods[] = {
		"istio.io/authz-tcp-allow-methods.yaml", NULL
	};
	static const char *const deny_methods[] = {
		"istio.io/authz-tcp-deny-methods.yaml", NULL
	};
	static const char *const deny_methods_ports[] = {
		"istio.io/authz-tcp-deny-methods-ports.yaml", NULL
	};
	struct req c = { .principal = "cluster.local/ns/foo/sa/sleep",
			 .ns = "foo", .src = "198.18.2.21" };
	struct cfgt t = { 0 };
	const struct sl_workload *te;

	(void)state;
	load_task(&t, ports);
	te = sl_config_workload_by_name(t.cfg, "foo", "tcp-echo");
	c.port = 9000;
	assert_true(allowed(&t, te, &c));
	c.port = 9001;
	assert_true(allowed(&t, te, &c));
	c.port = 9002;
	assert_false(allowed(&t, te, &c));
	cfgt_done(&t);

	/* methods in an ALLOW rule: the rule is ignored on TCP, so 9000 and
	 * 9001 are refused */
	load_task(&t, allow_methods);
	te = sl_config_workload_by_name(t.cfg, "foo", "tcp-echo");
	c.port = 9000;
	assert_false(allowed(&t, te, &c));
	c.port = 9001;
	assert_false(allowed(&t, te, &c));
	cfgt_done(&t);

	/* methods only in a DENY rule: every port refused */
	load_task(&t, deny_methods);
	te = sl_config_workload_by_name(t.cfg, "foo", "tcp-echo");
	c.port = 9000;
	assert_false(allowed(&t, te, &c));
	c.port = 9001;
	assert_false(allowed(&t, te, &c));
	cfgt_done(&t);

	/* methods and ports in a DENY rule: port 9000 only */
	load_task(&t, deny_methods_ports);
	te = sl_config_workload_by_name(t.cfg, "foo", "tcp-echo");
	c.port = 9000;
	assert_false(allowed(&t, te, &c));
	c.port = 9001;
	assert_true(allowed(&t, te, &c));
	cfgt_done(&t);
}

/* ---- every field ----------------------------------------------------- */

#define B WE("b", "ns1", "198.18.1.2", "b") "---\n"
#define SA(x) "cluster.local/ns/ns1/sa/" x

/* one ALLOW policy with rule @rule on workload b */
static void load_allow(struct cfgt *t, const char *rule)
{
	char *ap = NULL;

	assert_true(asprintf(&ap, B AP("p", "ns1",
				       "{selector: {matchLabels: {app: b}}, rules: [%s]}"),
			     rule) > 0);
	CFGT_OK(t, "a.yaml", ap);
	free(ap);
}

static const struct sl_workload *wl_b(const struct cfgt *t)
{
	return sl_config_workload_by_name(t->cfg, "ns1", "b");
}

static void test_hosts(void **state)
{
	struct req q = { .principal = SA("a"), .ns = "ns1", .src = "198.18.1.1",
			 .port = 80, GET("/") };
	struct cfgt t = { 0 };

	(void)state;
	/* exact, case-insensitive; a Host with a port is another string */
	load_allow(&t, "{to: [{operation: {hosts: [b.ns1]}}]}");
	assert_true(allowed(&t, wl_b(&t), &q));
	q.host = "B.NS1";
	assert_true(allowed(&t, wl_b(&t), &q));
	q.host = "b.ns1:80";
	assert_false(allowed(&t, wl_b(&t), &q));
	q.host = "b.ns10";
	assert_false(allowed(&t, wl_b(&t), &q));
	q.host = NULL; /* no Host: no value matches */
	assert_false(allowed(&t, wl_b(&t), &q));
	cfgt_done(&t);

	/* "b.ns1:*" is a prefix: any port; "*.example" a suffix; "*" any */
	load_allow(&t, "{to: [{operation: {hosts: [\"B.ns1:*\", \"*.Example\"]}}]}");
	q.host = "b.ns1:8080";
	assert_true(allowed(&t, wl_b(&t), &q));
	q.host = "b.ns1";
	assert_false(allowed(&t, wl_b(&t), &q));
	q.host = "api.EXAMPLE";
	assert_true(allowed(&t, wl_b(&t), &q));
	q.host = "example";
	assert_false(allowed(&t, wl_b(&t), &q));
	cfgt_done(&t);
	load_allow(&t, "{to: [{operation: {hosts: [\"*\"]}}]}");
	q.host = "anything";
	assert_true(allowed(&t, wl_b(&t), &q));
	q.host = NULL;
	assert_false(allowed(&t, wl_b(&t), &q));
	cfgt_done(&t);

	/* notHosts: case-insensitive; an absent Host is not excluded */
	load_allow(&t, "{to: [{operation: {notHosts: [\"admin.*\"]}}]}");
	q.host = "ADMIN.ns1";
	assert_false(allowed(&t, wl_b(&t), &q));
	q.host = "b.ns1";
	assert_true(allowed(&t, wl_b(&t), &q));
	q.host = NULL;
	assert_true(allowed(&t, wl_b(&t), &q));
	cfgt_done(&t);
}

static void test_methods(void **state)
{
	struct req q = { .principal = SA("a"), .ns = "ns1", .src = "198.18.1.1",
			 .port = 80, GET("/") };
	struct cfgt t = { 0 };

	(void)state;
	/* case-sensitive exact, prefix, suffix */
	load_allow(&t, "{to: [{operation: {methods: [GET, \"PO*\", \"*ETE\"]}}]}");
	assert_true(allowed(&t, wl_b(&t), &q));
	q.method = "get";
	assert_false(allowed(&t, wl_b(&t), &q));
	q.method = "GETX";
	assert_false(allowed(&t, wl_b(&t), &q));
	q.method = "POST";
	assert_true(allowed(&t, wl_b(&t), &q));
	q.method = "DELETE";
	assert_true(allowed(&t, wl_b(&t), &q));
	q.method = "PUT";
	assert_false(allowed(&t, wl_b(&t), &q));
	cfgt_done(&t);

	load_allow(&t, "{to: [{operation: {notMethods: [DELETE, \"P*\"]}}]}");
	q.method = "GET";
	assert_true(allowed(&t, wl_b(&t), &q));
	q.method = "DELETE";
	assert_false(allowed(&t, wl_b(&t), &q));
	q.method = "PATCH";
	assert_false(allowed(&t, wl_b(&t), &q));
	q.method = "delete";
	assert_true(allowed(&t, wl_b(&t), &q));
	cfgt_done(&t);
}

static void test_paths(void **state)
{
	struct req q = { .principal = SA("a"), .ns = "ns1", .src = "198.18.1.1",
			 .port = 80, GET("/api") };
	struct cfgt t = { 0 };

	(void)state;
	/* Istio's example: A may GET /api/ and below on B */
	load_allow(&t, "{from: [{source: {principals: [\"" SA("a") "\"]}}], "
		       "to: [{operation: {methods: [GET], paths: [\"/api/*\", /exact, \"*.png\"]}}]}");
	q.path = "/api/v1";
	assert_true(allowed(&t, wl_b(&t), &q));
	q.path = "/api/";
	assert_true(allowed(&t, wl_b(&t), &q));
	q.path = "/api"; /* the prefix "/api/" ends with the slash */
	assert_false(allowed(&t, wl_b(&t), &q));
	q.path = "/API/v1"; /* paths are case-sensitive */
	assert_false(allowed(&t, wl_b(&t), &q));
	q.path = "/exact";
	assert_true(allowed(&t, wl_b(&t), &q));
	q.path = "/exact/";
	assert_false(allowed(&t, wl_b(&t), &q));
	q.path = "/img/a.png";
	assert_true(allowed(&t, wl_b(&t), &q));
	q.path = "/api/v1";
	q.method = "POST";
	assert_false(allowed(&t, wl_b(&t), &q));
	q.method = "GET";
	q.principal = SA("c");
	assert_false(allowed(&t, wl_b(&t), &q));
	q.principal = NULL; /* plaintext */
	assert_false(allowed(&t, wl_b(&t), &q));
	cfgt_done(&t);

	q.principal = SA("a");
	load_allow(&t, "{to: [{operation: {paths: [\"*\"], notPaths: [\"/admin*\", /secret]}}]}");
	q.path = "/";
	assert_true(allowed(&t, wl_b(&t), &q));
	q.path = "/admin/x";
	assert_false(allowed(&t, wl_b(&t), &q));
	q.path = "/secret";
	assert_false(allowed(&t, wl_b(&t), &q));
	q.path = "/secret/";
	assert_true(allowed(&t, wl_b(&t), &q));
	cfgt_done(&t);
}

static void test_ports_and_sources(void **state)
{
	struct req q = { .principal = SA("a"), .ns = "ns1", .src = "198.18.1.1",
			 .port = 80, GET("/") };
	struct cfgt t = { 0 };

	(void)state;
	load_allow(&t, "{to: [{operation: {ports: [\"80\"], notPorts: [\"81\"]}}]}");
	assert_true(allowed(&t, wl_b(&t), &q));
	q.port = 81;
	assert_false(allowed(&t, wl_b(&t), &q));
	cfgt_done(&t);

	/* remoteIpBlocks: the peer's address (no X-Forwarded-For) */
	q.port = 80;
	load_allow(&t, "{from: [{source: {remoteIpBlocks: [198.18.1.0/24], notRemoteIpBlocks: [198.18.1.9]}}]}");
	assert_true(allowed(&t, wl_b(&t), &q));
	q.h = (struct hdrs){ { "x-forwarded-for" }, { "198.18.7.7" } };
	q.src = "198.18.7.7";
	assert_false(allowed(&t, wl_b(&t), &q));
	q.src = "198.18.1.9";
	q.h = (struct hdrs){ { "x-forwarded-for" }, { "198.18.1.1" } };
	assert_false(allowed(&t, wl_b(&t), &q));
	cfgt_done(&t);

	/* from: any of the sources; within one source, all of its fields */
	q.src = "198.18.1.1";
	load_allow(&t, "{from: [{source: {namespaces: [ns1], principals: [\"*/sa/a\"]}}, "
		       "{source: {ipBlocks: [198.18.5.0/24]}}]}");
	assert_true(allowed(&t, wl_b(&t), &q));
	q.principal = SA("z");
	assert_false(allowed(&t, wl_b(&t), &q));
	q.src = "198.18.5.5";
	assert_true(allowed(&t, wl_b(&t), &q));
	cfgt_done(&t);

	/* namespaces: Istio turns every "*" into ".*" */
	q.principal = "cluster.local/ns/team-a-prod/sa/x";
	q.ns = "team-a-prod";
	load_allow(&t, "{from: [{source: {namespaces: [\"team-*-prod\"]}}]}");
	assert_true(allowed(&t, wl_b(&t), &q));
	q.ns = "team-a-dev";
	assert_false(allowed(&t, wl_b(&t), &q));
	q.ns = NULL;
	assert_false(allowed(&t, wl_b(&t), &q));
	cfgt_done(&t);
	/* the same in when: source.namespace */
	load_allow(&t, "{when: [{key: source.namespace, values: [\"team-*-prod\"]}]}");
	q.ns = "team-b-prod";
	assert_true(allowed(&t, wl_b(&t), &q));
	q.ns = "team-b-prod2";
	assert_false(allowed(&t, wl_b(&t), &q));
	cfgt_done(&t);
}

static void test_when(void **state)
{
	struct req q = { .principal = SA("a"), .ns = "ns1", .src = "198.18.1.1",
			 .dst = "198.18.1.2", .port = 80, GET("/") };
	struct cfgt t = { 0 };

	(void)state;
	/* request.headers: name case-insensitive, values exact, prefix,
	 * suffix, "*" (present); repeated headers joined with "," */
	load_allow(&t, "{when: [{key: \"request.headers[X-Token]\", values: [admin, \"ops-*\", \"*-root\"]}]}");
	assert_false(allowed(&t, wl_b(&t), &q)); /* absent */
	q.h = (struct hdrs){ { "x-token" }, { "admin" } };
	assert_true(allowed(&t, wl_b(&t), &q));
	q.h = (struct hdrs){ { "X-TOKEN" }, { "Admin" } };
	assert_false(allowed(&t, wl_b(&t), &q));
	q.h = (struct hdrs){ { "x-token" }, { "ops-1" } };
	assert_true(allowed(&t, wl_b(&t), &q));
	q.h = (struct hdrs){ { "x-token" }, { "be-root" } };
	assert_true(allowed(&t, wl_b(&t), &q));
	q.h = (struct hdrs){ { "x-token", "x-token" }, { "admin", "guest" } };
	assert_false(allowed(&t, wl_b(&t), &q)); /* "admin,guest" */
	cfgt_done(&t);

	load_allow(&t, "{when: [{key: \"request.headers[x-token]\", values: [\"*\"]}]}");
	q.h = (struct hdrs){ { "x-token" }, { "" } };
	assert_true(allowed(&t, wl_b(&t), &q));
	q.h = (struct hdrs){ { NULL } };
	assert_false(allowed(&t, wl_b(&t), &q));
	cfgt_done(&t);

	/* notValues: an absent header is not excluded (Envoy's Not) */
	load_allow(&t, "{when: [{key: \"request.headers[x-token]\", notValues: [guest]}]}");
	assert_true(allowed(&t, wl_b(&t), &q));
	q.h = (struct hdrs){ { "x-token" }, { "guest" } };
	assert_false(allowed(&t, wl_b(&t), &q));
	cfgt_done(&t);

	/* every condition of when must match */
	q.h = (struct hdrs){ { NULL } };
	load_allow(&t, "{when: [{key: source.ip, values: [198.18.1.0/24]}, "
		       "{key: remote.ip, notValues: [198.18.1.9]}, "
		       "{key: source.namespace, values: [ns1]}, "
		       "{key: source.principal, values: [\"*/sa/a\"]}, "
		       "{key: destination.ip, values: [198.18.1.2]}, "
		       "{key: destination.port, values: [\"80\"]}]}");
	assert_true(allowed(&t, wl_b(&t), &q));
	q.src = "198.18.1.9";
	assert_false(allowed(&t, wl_b(&t), &q));
	q.src = "198.18.1.1";
	q.ns = "ns2";
	assert_false(allowed(&t, wl_b(&t), &q));
	q.ns = "ns1";
	q.principal = SA("b");
	assert_false(allowed(&t, wl_b(&t), &q));
	q.principal = SA("a");
	q.dst = "198.18.1.3";
	assert_false(allowed(&t, wl_b(&t), &q));
	q.dst = NULL; /* no destination address: no value matches */
	assert_false(allowed(&t, wl_b(&t), &q));
	q.dst = "198.18.1.2";
	q.port = 81;
	assert_false(allowed(&t, wl_b(&t), &q));
	cfgt_done(&t);
}

/* ---- precedence and the decision ------------------------------------- */

static void test_precedence(void **state)
{
	struct req q = { .principal = SA("a"), .ns = "ns1", .src = "198.18.1.1",
			 .port = 80, GET("/admin") };
	struct sl_authz_decision d;
	struct cfgt t = { 0 };

	(void)state;
	CFGT_OK(&t, "a.yaml",
		B AP("allow-all", "ns1", "{rules: [{}]}") "---\n"
		AP("deny-admin", "ns1",
		   "{action: DENY, rules: [{to: [{operation: {ports: [\"9\"]}}]}, "
		   "{to: [{operation: {paths: [\"/admin*\"]}}]}]}") "---\n"
		AP("audit-get", "ns1",
		   "{action: AUDIT, rules: [{to: [{operation: {methods: [POST]}}]}, "
		   "{to: [{operation: {methods: [GET]}}]}]}"));
	/* DENY beats ALLOW; its name and rule index; AUDIT still reported */
	d = decide(&t, wl_b(&t), &q);
	assert_false(d.allowed);
	assert_string_equal(d.deny_ns, "ns1");
	assert_string_equal(d.deny_name, "deny-admin");
	assert_int_equal(d.deny_rule, 1);
	assert_string_equal(d.audit_ns, "ns1");
	assert_string_equal(d.audit_name, "audit-get");
	assert_int_equal(d.audit_rule, 1);
	/* allowed: AUDIT never changes the decision */
	q.path = "/";
	d = decide(&t, wl_b(&t), &q);
	assert_true(d.allowed);
	assert_null(d.deny_name);
	assert_string_equal(d.audit_name, "audit-get");
	q.method = "PUT";
	d = decide(&t, wl_b(&t), &q);
	assert_true(d.allowed);
	assert_null(d.audit_name);
	cfgt_done(&t);

	/* an ALLOW policy without rules allows nothing; rules: [{}] all */
	q.method = "GET";
	CFGT_OK(&t, "a.yaml", B AP("none", "ns1", "{action: ALLOW}"));
	d = decide(&t, wl_b(&t), &q);
	assert_false(d.allowed);
	assert_null(d.deny_name);
	cfgt_done(&t);
	CFGT_OK(&t, "a.yaml",
		B AP("none", "ns1", "{action: ALLOW}") "---\n"
		AP("all", "ns1", "{action: ALLOW, rules: [{}]}"));
	assert_true(allowed(&t, wl_b(&t), &q));
	q.method = NULL; /* and every connection */
	assert_true(allowed(&t, wl_b(&t), &q));
	cfgt_done(&t);

	/* AUDIT alone: everything allowed */
	q.method = "GET";
	CFGT_OK(&t, "a.yaml", B AP("audit", "ns1", "{action: AUDIT, rules: [{}]}"));
	d = decide(&t, wl_b(&t), &q);
	assert_true(d.allowed);
	assert_string_equal(d.audit_name, "audit");
	assert_int_equal(d.audit_rule, 0);
	cfgt_done(&t);
}

/* ---- connections: Istio's TCP filter chain --------------------------- */

static void test_tcp_semantics(void **state)
{
	struct req c = { .principal = SA("a"), .ns = "ns1", .src = "198.18.1.1",
			 .port = 80 };
	struct req h = c;
	struct sl_authz_decision d;
	struct cfgt t = { 0 };

	(void)state;
	h.method = "GET";
	h.host = "b";
	h.path = "/";
	/* ALLOW: a rule with an HTTP-only field never matches a connection,
	 * whether the field is in to or in when; a TCP rule still does */
	CFGT_OK(&t, "a.yaml",
		B AP("p", "ns1",
		     "{rules: [{to: [{operation: {ports: [\"80\"], methods: [GET]}}]}, "
		     "{to: [{operation: {ports: [\"80\"]}}], when: [{key: \"request.headers[x]\", notValues: [y]}]}, "
		     "{to: [{operation: {ports: [\"81\"]}}]}]}"));
	assert_false(allowed(&t, wl_b(&t), &c));
	assert_true(allowed(&t, wl_b(&t), &h));
	c.port = 81;
	assert_true(allowed(&t, wl_b(&t), &c));
	cfgt_done(&t);

	/* DENY: the HTTP-only fields are dropped, the rest applies */
	c.port = 80;
	CFGT_OK(&t, "a.yaml",
		B AP("d", "ns1",
		     "{action: DENY, rules: [{to: [{operation: {ports: [\"80\"], paths: [/admin]}}], "
		     "when: [{key: \"request.headers[x]\", values: [y]}]}]}"));
	d = decide(&t, wl_b(&t), &c);
	assert_false(d.allowed);
	assert_string_equal(d.deny_name, "d");
	assert_true(allowed(&t, wl_b(&t), &h)); /* the request has no x */
	c.port = 81;
	assert_true(allowed(&t, wl_b(&t), &c));
	cfgt_done(&t);

	/* DENY with HTTP-only fields alone: every connection (notHosts too) */
	CFGT_OK(&t, "a.yaml",
		B AP("d", "ns1",
		     "{action: DENY, rules: [{to: [{operation: {notHosts: [b]}}]}]}"));
	assert_false(allowed(&t, wl_b(&t), &c));
	assert_true(allowed(&t, wl_b(&t), &h));
	cfgt_done(&t);

	/* AUDIT: as Istio's model.go, the fields are dropped as for DENY */
	CFGT_OK(&t, "a.yaml",
		B AP("au", "ns1",
		     "{action: AUDIT, rules: [{to: [{operation: {methods: [POST]}}]}]}"));
	d = decide(&t, wl_b(&t), &c);
	assert_true(d.allowed);
	assert_string_equal(d.audit_name, "au");
	d = decide(&t, wl_b(&t), &h);
	assert_true(d.allowed);
	assert_null(d.audit_name);
	cfgt_done(&t);
}

/* ---- Node pathNormalization ------------------------------------------ */

#define NODE(spec)                                                             \
	"apiVersion: sluice.io/v1alpha1\nkind: Node\n"                         \
	"metadata: {name: n}\nspec: " spec "\n"

static void test_path_normalization(void **state)
{
	static const struct {
		const char *name;
		enum sl_path_mode mode;
	} modes[] = {
		{ "NONE", SL_PATH_NONE },
		{ "BASE", SL_PATH_BASE },
		{ "MERGE_SLASHES", SL_PATH_MERGE_SLASHES },
		{ "DECODE_AND_MERGE_SLASHES", SL_PATH_DECODE_AND_MERGE_SLASHES },
		{ "DEFAULT", SL_PATH_BASE },
	};
	struct cfgt t = { 0 };

	(void)state;
	CFGT_OK(&t, "n.yaml", NODE("{}"));
	assert_int_equal(sl_config_node(t.cfg)->path_normalization,
			 SL_PATH_BASE);
	cfgt_done(&t);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		char *text = NULL;

		assert_true(asprintf(&text, NODE("{pathNormalization: {normalization: %s}}"),
				     modes[i].name) > 0);
		CFGT_OK(&t, "n.yaml", text);
		assert_int_equal(sl_config_node(t.cfg)->path_normalization,
				 modes[i].mode);
		cfgt_done(&t);
		free(text);
	}
	CFGT_FAIL(&t, "n.yaml",
		  NODE("{pathNormalization: {normalization: merge_slashes}}"));
	assert_true(cfgt_has(&t, "n.yaml", 4, 43,
			     "spec.pathNormalization.normalization",
			     "unknown value \"merge_slashes\" (want one of NONE, BASE, MERGE_SLASHES, DECODE_AND_MERGE_SLASHES, DEFAULT)"));
	cfgt_done(&t);
	CFGT_FAIL(&t, "n.yaml", NODE("{pathNormalization: MERGE_SLASHES}"));
	assert_true(cfgt_has(&t, "n.yaml", 4, 27, "spec.pathNormalization",
			     "expected a mapping, got a scalar"));
	cfgt_done(&t);
	CFGT_FAIL(&t, "n.yaml",
		  NODE("{pathNormalization: {mode: BASE}}"));
	assert_true(cfgt_has(&t, "n.yaml", 4, 28, "spec.pathNormalization.mode",
			     "unknown field \"mode\""));
	cfgt_done(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_task_authz_http),
		cmocka_unit_test(test_task_authz_deny),
		cmocka_unit_test(test_task_authz_tcp),
		cmocka_unit_test(test_hosts),
		cmocka_unit_test(test_methods),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_ports_and_sources),
		cmocka_unit_test(test_when),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_tcp_semantics),
		cmocka_unit_test(test_path_normalization),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

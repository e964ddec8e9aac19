/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a config directory holds beside well-formed mesh YAML (issue 25):
 * a FIFO (must not block the loader), byte-order marks, invalid bytes
 * (reported as they are), documents of other kinds (skipped with a
 * warning unless they are mesh configuration), and a Service without
 * clusterIP (warned: its routes cannot apply until a VIP is known).
 */
#include <pthread.h>
#include <signal.h>
#include <sys/types.h>

#include "cfgtest.h"
#include "ip.h"

#define SVC                                                                    \
	"apiVersion: v1\n"                                                     \
	"kind: Service\n"                                                      \
	"metadata: {name: web}\n"                                              \
	"spec:\n"                                                              \
	"  clusterIP: 198.19.0.1\n"                                            \
	"  ports: [{port: 80}]\n"

static bool cfgt_warned(const struct cfgt *t, const char *file,
			unsigned int line, const char *path, const char *msg)
{
	const struct sl_config_error *w;
	size_t n;

	w = sl_config_warnings(t->cfg, &n);
	for (size_t i = 0; i < n; i++) {
		const char *base = w[i].file ? strrchr(w[i].file, '/') : NULL;

		base = base ? base + 1 : w[i].file;
		if (file && (!base || strcmp(base, file)))
			continue;
		if (line && w[i].line != line)
			continue;
		if (path && (!w[i].path || strcmp(w[i].path, path)))
			continue;
		if (strstr(w[i].message, msg))
			return true;
	}
	for (size_t i = 0; i < n; i++)
		sl_config_warning_print(&w[i], stderr);
	return false;
}

static size_t cfgt_n_warnings(const struct cfgt *t)
{
	size_t n;

	sl_config_warnings(t->cfg, &n);
	return n;
}

/* the loader runs on a thread: a FIFO must not block it */
static void *load_thread(void *arg)
{
	struct cfgt *t = arg;

	cfgt_load_dir(t, t->dir);
	return NULL;
}

static void test_fifo(void **state)
{
	struct cfgt t = { 0 };
	char *path = NULL;
	pthread_t th;
	struct timespec deadline;

	t.dir = cfgt_dir("svc.yaml", SVC, NULL);
	assert_true(asprintf(&path, "%s/pipe.yaml", t.dir) > 0);
	assert_int_equal(mkfifo(path, 0600), 0);
	free(path);
	assert_int_equal(pthread_create(&th, NULL, load_thread, &t), 0);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 5;
	/* on the old loader open(2) blocks until a writer comes */
	if (pthread_timedjoin_np(th, NULL, &deadline) != 0)
		fail_msg("loading a directory with a FIFO blocked for 5 s");
	assert_int_equal(t.ret, -EINVAL);
	assert_true(cfgt_has(&t, "pipe.yaml", 0, 0, NULL, "not a regular file"));
	cfgt_done(&t);
}

static void test_bom(void **state)
{
	struct cfgt t = { 0 };
	static const char bom_svc[] = "\xef\xbb\xbf" SVC;

	CFGT_OK(&t, "svc.yaml", bom_svc);
	assert_int_equal(sl_config_count(t.cfg, "Service"), 1);
	cfgt_done(&t);
	/* UTF-16 is named as such */
	CFGT_FAIL(&t, "svc.yaml", "\xff\xfe" "a\0p\0");
	assert_true(cfgt_has(&t, "svc.yaml", 1, 1, NULL,
			     "UTF-16 or UTF-32 (byte-order mark 0xff 0xfe): files must be UTF-8"));
	cfgt_done(&t);
}

static void test_invalid_bytes(void **state)
{
	struct cfgt t = { 0 };

	/* a surrogate: libyaml's value is the code point (was "byte 0x00") */
	CFGT_FAIL(&t, "a.yaml", "apiVersion: v1\nkind: Service\n"
		  "metadata: {name: a\xed\xa0\x80}\n");
	assert_true(cfgt_has(&t, "a.yaml", 3, 19, NULL,
			     "invalid Unicode character (bytes 0xed 0xa0 0x80, U+D800)"));
	cfgt_done(&t);
	/* cut short by the end of the file: libyaml says -1 (was "0xff") */
	CFGT_FAIL(&t, "a.yaml", "apiVersion: v1\nkind: Service\n"
		  "metadata: {name: a}\n\xc3");
	assert_true(cfgt_has(&t, "a.yaml", 4, 1, NULL,
			     "incomplete UTF-8 octet sequence (byte 0xc3)"));
	cfgt_done(&t);
	CFGT_FAIL(&t, "a.yaml", "apiVersion: v1\nkind: Service\n"
		  "metadata: {name: a\xfe}\n");
	assert_true(cfgt_has(&t, "a.yaml", 3, 19, NULL,
			     "invalid leading UTF-8 octet (byte 0xfe)"));
	cfgt_done(&t);
}

static void test_foreign_kinds(void **state)
{
	struct cfgt t = { 0 };

	CFGT_OK(&t, "svc.yaml", SVC, "app.yaml",
		"apiVersion: apps/v1\n"
		"kind: Deployment\n"
		"metadata: {name: web}\n"
		"spec: {replicas: 2, template: {spec: {containers: []}}}\n"
		"---\n"
		"apiVersion: v1\n"
		"kind: ServiceAccount\n"
		"metadata: {name: web}\n"
		"---\n"
		"apiVersion: v1\n"
		"kind: ConfigMap\n"
		"metadata: {name: web}\n"
		"data: {a: b}\n");
	assert_int_equal(sl_config_count(t.cfg, NULL), 1);
	assert_true(cfgt_warned(&t, "app.yaml", 2, "kind",
				"Deployment (apps/v1) is not mesh configuration: skipped"));
	assert_true(cfgt_warned(&t, "app.yaml", 7, "kind",
				"ServiceAccount (v1) is not mesh configuration: skipped"));
	assert_true(cfgt_warned(&t, "app.yaml", 11, "kind",
				"ConfigMap (v1) is not mesh configuration: skipped"));
	assert_int_equal(cfgt_n_warnings(&t), 3);
	cfgt_done(&t);
	/* mesh configuration sluice does not implement is never skipped */
	CFGT_FAIL(&t, "gw.yaml",
		  "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: s}\n"
		  "---\n"
		  "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\n"
		  "---\n"
		  "apiVersion: v1\nkind: List\nitems: []\n");
	assert_true(cfgt_has(&t, "gw.yaml", 2, 7, "kind", "unknown kind \"Sidecar\""));
	assert_true(cfgt_has(&t, "gw.yaml", 6, 7, "kind", "unknown kind \"HTTPRoute\""));
	assert_true(cfgt_has(&t, "gw.yaml", 10, 7, "kind", "unknown kind \"List\""));
	cfgt_done(&t);
}

static void test_service_without_cluster_ip(void **state)
{
	struct cfgt t = { 0 };

	CFGT_OK(&t, "svc.yaml",
		"apiVersion: v1\n"
		"kind: Service\n"
		"metadata: {name: web, namespace: shop}\n"
		"spec:\n"
		"  selector: {app: web}\n"
		"  ports: [{port: 80}]\n"
		"---\n"
		"apiVersion: v1\n"
		"kind: Service\n"
		"metadata: {name: db}\n"
		"spec:\n"
		"  clusterIP: None\n"
		"  ports: [{port: 5432}]\n");
	assert_true(cfgt_warned(&t, "svc.yaml", 1, "spec.clusterIP",
				"Service web.shop.svc.cluster.local has no clusterIP"));
	/* headless by intent: nothing to say */
	assert_int_equal(cfgt_n_warnings(&t), 1);
	cfgt_done(&t);
}

/* the seam of other sources: documents in memory, any order */
static void test_load_files(void **state)
{
	static const char wl[] =
		"apiVersion: networking.istio.io/v1\n"
		"kind: WorkloadEntry\n"
		"metadata: {name: web-0}\n"
		"spec: {address: 198.18.3.1, labels: {app: web}}\n";
	const struct sl_config_doc docs[] = {
		{ "wl.yaml", "api:default/WorkloadEntry/web-0", wl, sizeof(wl) - 1 },
		{ "svc.yaml", "api:default/Service/web", SVC, sizeof(SVC) - 1 },
	};
	struct sl_config_doc dup[2] = { docs[0], docs[0] };
	struct sl_config_errors errs = { 0 };
	struct sl_config *cfg = NULL;
	struct cfgt t = { 0 };

	CFGT_OK(&t, "svc.yaml", SVC, "wl.yaml", wl);
	assert_int_equal(sl_config_load_files("api", docs, 2, "node-a", &cfg,
					      &errs), 0);
	/* same (name, content) pairs: same generation as the directory */
	assert_string_equal(sl_config_generation(cfg),
			    sl_config_generation(t.cfg));
	assert_int_equal(sl_config_count(cfg, NULL), 2);
	sl_config_put(cfg);
	cfgt_done(&t);

	dup[1].path = "api:elsewhere";
	assert_int_equal(sl_config_load_files("api", dup, 2, "node-a", &cfg,
					      &errs), -EINVAL);
	assert_null(cfg);
	assert_true(errs.n >= 1);
	assert_string_equal(errs.v[0].message, "a second file named \"wl.yaml\"");
	sl_config_errors_free(&errs);
}

/*
 * Documents with a cache slot (the Kubernetes source's): a WorkloadEntry
 * that decodes is kept and taken by the next load unparsed (its text is
 * not read again), with its warnings, and so is a Service; a
 * VirtualService (resolved in place) and a document with errors are not
 * kept; a snapshot outlives the owner's reference
 */
static void test_decode_cache(void **state)
{
	static const char wl[] =
		"{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":\"WorkloadEntry\","
		"\"metadata\":{\"name\":\"web-0\",\"namespace\":\"default\"},"
		"\"spec\":{\"address\":\"198.18.3.1\",\"labels\":{\"app\":\"web\"},"
		"\"network\":\"n1\"}}";
	static const char bad[] =
		"{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":\"WorkloadEntry\","
		"\"metadata\":{\"name\":\"web-1\",\"namespace\":\"default\"},"
		"\"spec\":{\"address\":\"not-an-ip\"}}";
	static const char vs[] =
		"apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
		"metadata: {name: web}\n"
		"spec: {hosts: [web], tcp: [{route: [{destination: {host: web}}]}]}\n";
	struct sl_config_cached *c_wl = NULL, *c_svc = NULL, *c_bad = NULL,
		*c_vs = NULL;
	char *text = strdup(wl);
	struct sl_config_doc docs[] = {
		{ "~k8s/we", "kubernetes:we/default/web-0", text, sizeof(wl) - 1,
		  .api = true, .cache = &c_wl },
		{ "~k8s/svc", "kubernetes:svc/default/web", SVC, sizeof(SVC) - 1,
		  .api = true, .cache = &c_svc },
		{ "~k8s/vs", "kubernetes:vs/default/web", vs, sizeof(vs) - 1,
		  .api = true, .cache = &c_vs },
	};
	struct sl_config_doc with_bad[] = {
		docs[0], docs[1], docs[2],
		{ "~k8s/we1", "kubernetes:we/default/web-1", bad, sizeof(bad) - 1,
		  .api = true, .cache = &c_bad },
	};
	struct sl_config_errors errs = { 0 };
	struct sl_config *cfg = NULL, *cfg2 = NULL;
	const struct sl_workload *w;
	size_t nw;

	(void)state;
	assert_non_null(text);
	assert_int_equal(sl_config_load_files("api", docs, 3, "node-a", &cfg,
					      &errs), 0);
	assert_non_null(c_wl);
	assert_null(c_vs); /* its destinations are resolved in place */
	assert_non_null(c_svc); /* resolution only reads a Service too */
	sl_config_warnings(cfg, &nw);
	assert_int_equal(nw, 1); /* spec.network has no effect */
	/* the next load takes the decoded entry: the text is not read (a
	   different address in the same bytes would show otherwise) */
	strstr(text, "198.18.3.1")[9] = '9';
	assert_int_equal(sl_config_load_files("api", docs, 3, "node-a", &cfg2,
					      &errs), 0);
	w = sl_config_workload_by_name(cfg2, "default", "web-0");
	assert_non_null(w);
	{
		struct sl_ip want;

		assert_int_equal(sl_ip_parse("198.18.3.1", &want), 0);
		assert_true(sl_ip_equal(&w->address, &want));
	}
	sl_config_warnings(cfg2, &nw);
	assert_int_equal(nw, 1); /* replayed */
	/* the owner lets go: both snapshots still hold the entry */
	sl_config_cached_put(c_wl);
	c_wl = NULL;
	sl_config_put(cfg);
	w = sl_config_workload_by_name(cfg2, "default", "web-0");
	assert_non_null(w);
	assert_string_equal(w->labels[0].value, "web");
	sl_config_put(cfg2);

	/* a document with an error is not kept: it fails the load (the
	   API's culprit is left out) and is decoded again next time */
	assert_int_equal(sl_config_load_files("api", with_bad, 4, "node-a",
					      &cfg, &errs), 0);
	assert_null(c_bad);
	assert_int_equal(sl_config_rejected(cfg), 1);
	sl_config_put(cfg);
	sl_config_cached_put(c_wl);
	sl_config_cached_put(c_svc);
	free(text);
}

/*
 * The generation of a snapshot's directory files alone (what the last
 * good copy is checked against): the API's documents do not change it, a
 * file does, and a directory hashes to it without a load
 */
static void test_files_generation(void **state)
{
	static const char we[] =
		"{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":\"WorkloadEntry\","
		"\"metadata\":{\"name\":\"web-0\",\"namespace\":\"default\"},"
		"\"spec\":{\"address\":\"198.18.3.1\"}}";
	const struct sl_config_doc api[] = {
		{ "~k8s/we", "kubernetes:we/default/web-0", we, sizeof(we) - 1,
		  .api = true },
	};
	struct sl_config *cfg = NULL, *cfg2 = NULL;
	char g[17];
	struct cfgt t = { 0 };

	(void)state;
	CFGT_OK(&t, "svc.yaml", SVC);
	assert_int_equal(sl_config_dir_files_generation(t.dir, g), 0);
	assert_string_equal(g, sl_config_files_generation(t.cfg));
	assert_int_equal(sl_config_load_dir_extra(t.dir, api, 1, "node-a", &cfg,
						  NULL), 0);
	assert_string_equal(sl_config_files_generation(cfg), g);
	assert_string_not_equal(sl_config_generation(cfg),
				sl_config_generation(t.cfg));
	/* a file changed: another hash */
	cfgt_write(t.dir, "svc.yaml", SVC "# edited\n", sizeof(SVC) + 9 - 1);
	assert_int_equal(sl_config_dir_files_generation(t.dir, g), 0);
	assert_string_not_equal(g, sl_config_files_generation(cfg));
	assert_int_equal(sl_config_load_dir(t.dir, "node-a", &cfg2, NULL), 0);
	assert_string_equal(g, sl_config_files_generation(cfg2));
	sl_config_put(cfg);
	sl_config_put(cfg2);
	cfgt_done(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo),
		cmocka_unit_test(test_bom),
		cmocka_unit_test(test_invalid_bytes),
		cmocka_unit_test(test_foreign_kinds),
		cmocka_unit_test(test_service_without_cluster_ip),
		cmocka_unit_test(test_load_files),
		cmocka_unit_test(test_decode_cache),
		cmocka_unit_test(test_files_generation),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

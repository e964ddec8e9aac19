/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kubeconfig and in-cluster credentials (config/kubeconfig.c): what is
 * read, relative names, the context chosen, and every refusal named with
 * file:line:col and the field.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "kubeconfig.h"

static char dir[] = "/tmp/sl-kubeconfig-XXXXXX";

static const char *write_kc(const char *text)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/config", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

#define KC_HEAD                                                                \
	"apiVersion: v1\nkind: Config\ncurrent-context: a\n"                   \
	"contexts:\n- name: a\n  context: {cluster: c1, user: u1}\n"           \
	"- name: b\n  context: {cluster: c2, user: u2}\n"

static void load_ok(const char *text, const char *context,
		    struct sl_kube_creds *c)
{
	char err[512] = "";
	int ret = sl_kubeconfig_load(write_kc(text), context, c, err,
				     sizeof(err));

	if (ret)
		fail_msg("load: %d: %s", ret, err);
}

/* the error of loading @text, which must start with "<path>:" + @want */
static void load_bad(const char *text, const char *want)
{
	struct sl_kube_creds c;
	char err[512] = "", full[600];
	const char *path = write_kc(text);
	int ret = sl_kubeconfig_load(path, NULL, &c, err, sizeof(err));

	snprintf(full, sizeof(full), "%s%s", path, want);
	if (getenv("KC_PRINT"))
		fprintf(stderr, "GOT %s\n", err + strlen(path));
	if (ret != -EINVAL || strncmp(err, full, strlen(full)))
		fail_msg("ret %d, error \"%s\", want it to start \"%s\"", ret,
			 err, full);
	assert_null(c.server);
}

static void test_token_and_relative_files(void **state)
{
	struct sl_kube_creds c;
	char want[160];

	(void)state;
	/* "c2VjcmV0LWNh" is base64 for "secret-ca" */
	load_ok(KC_HEAD
		"clusters:\n"
		"- name: c1\n  cluster:\n    server: https://10.0.0.1:6443/\n"
		"    certificate-authority-data: c2VjcmV0LWNh\n"
		"- name: c2\n  cluster:\n    server: http://127.0.0.1:8080\n"
		"    certificate-authority: ca/root.pem\n"
		"users:\n- name: u1\n  user: {token: abc}\n"
		"- name: u2\n  user:\n    tokenFile: tok\n"
		"    client-certificate: /abs/cert.pem\n    client-key: key.pem\n",
		NULL, &c);
	assert_string_equal(c.server, "https://10.0.0.1:6443");
	assert_string_equal(c.token, "abc");
	assert_null(c.token_file);
	assert_int_equal(c.ca_pem_len, 9);
	assert_memory_equal(c.ca_pem, "secret-ca", 9);
	assert_non_null(strstr(c.origin, "(context a)"));
	sl_kube_creds_free(&c);
	assert_null(c.server);

	load_ok(KC_HEAD
		"clusters:\n"
		"- name: c1\n  cluster: {server: https://x:1}\n"
		"- name: c2\n  cluster:\n    server: http://127.0.0.1:8080\n"
		"    certificate-authority: ca/root.pem\n"
		"users:\n- name: u1\n  user: {token: abc}\n"
		"- name: u2\n  user:\n    tokenFile: tok\n"
		"    client-certificate: /abs/cert.pem\n    client-key: key.pem\n",
		"b", &c);
	assert_string_equal(c.server, "http://127.0.0.1:8080");
	snprintf(want, sizeof(want), "%s/ca/root.pem", dir);
	assert_string_equal(c.ca_file, want);
	snprintf(want, sizeof(want), "%s/tok", dir);
	assert_string_equal(c.token_file, want);
	assert_string_equal(c.cert_file, "/abs/cert.pem");
	snprintf(want, sizeof(want), "%s/key.pem", dir);
	assert_string_equal(c.key_file, want);
	assert_null(c.token);
	sl_kube_creds_free(&c);
}

static void test_refusals(void **state)
{
	(void)state;
	load_bad(KC_HEAD
		 "clusters:\n- name: c1\n  cluster: {server: https://x:1}\n"
		 "users:\n- name: u1\n  user:\n    exec:\n      command: aws\n",
		 ":16:7: user.exec: is not supported (credential plugins)");
	load_bad(KC_HEAD
		 "clusters:\n- name: c1\n  cluster:\n    server: https://x:1\n"
		 "    insecure-skip-tls-verify: true\n"
		 "users:\n- name: u1\n  user: {token: t}\n",
		 ":13:31: cluster.insecure-skip-tls-verify: is not supported");
	load_bad(KC_HEAD
		 "clusters:\n- name: c1\n  cluster:\n    server: https://x:1\n"
		 "    tls-server-name: api\n"
		 "users:\n- name: u1\n  user: {token: t}\n",
		 ":13:22: cluster.tls-server-name: is not supported");
	load_bad(KC_HEAD
		 "clusters:\n- name: c1\n  cluster: {server: https://x:1}\n"
		 "users:\n- name: u1\n  user: {username: me, password: pw}\n",
		 ":14:20: user.username: is not supported (basic authentication)");
	load_bad(KC_HEAD
		 "clusters:\n- name: c1\n  cluster: {server: ftp://x}\n"
		 "users:\n- name: u1\n  user: {token: t}\n",
		 ":11:21: cluster.server: \"ftp://x\" is not an http:// or https:// URL");
	load_bad(KC_HEAD
		 "clusters:\n- name: c1\n  cluster:\n    server: https://x:1\n"
		 "    certificate-authority-data: abc\n"
		 "users:\n- name: u1\n  user: {token: t}\n",
		 ":13:33: cluster.certificate-authority-data: is not base64");
	load_bad(KC_HEAD
		 "clusters:\n- name: c1\n  cluster: {server: https://x:1}\n"
		 "users:\n- name: u1\n  user: {client-certificate: c.pem}\n",
		 ":14:9: user: a client certificate needs its key");
	load_bad(KC_HEAD
		 "clusters:\n- name: c9\n  cluster: {server: https://x:1}\n"
		 "users:\n- name: u1\n  user: {token: t}\n",
		 ":10:1: clusters: no entry named \"c1\"");
	load_bad("apiVersion: v1\nkind: Config\nclusters: []\n",
		 ": current-context: is not set");
	load_bad("- a\n- b\n", ": not a kubeconfig");
	load_bad("a: [\n", ":2:1: ");
}

static void test_missing_file(void **state)
{
	struct sl_kube_creds c;
	char err[256];

	(void)state;
	assert_int_equal(sl_kubeconfig_load("/nonexistent/kc", NULL, &c, err,
					    sizeof(err)),
			 -ENOENT);
	assert_string_equal(err, "/nonexistent/kc: No such file or directory");
}

static void test_in_cluster(void **state)
{
	struct sl_kube_creds c;
	char err[256] = "";

	(void)state;
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	assert_int_equal(sl_kube_in_cluster(NULL, &c, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "KUBERNETES_SERVICE_HOST"));
	setenv("KUBERNETES_SERVICE_HOST", "fd00:5a1c::1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(sl_kube_in_cluster("/sa", &c, err, sizeof(err)), 0);
	assert_string_equal(c.server, "https://[fd00:5a1c::1]:443");
	assert_string_equal(c.token_file, "/sa/token");
	assert_string_equal(c.ca_file, "/sa/ca.crt");
	sl_kube_creds_free(&c);
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	assert_int_equal(sl_kube_in_cluster(NULL, &c, err, sizeof(err)), 0);
	assert_string_equal(c.server, "https://10.96.0.1:443");
	assert_string_equal(c.token_file,
			    "/var/run/secrets/kubernetes.io/serviceaccount/token");
	sl_kube_creds_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_and_relative_files),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_in_cluster),
	};
	char path[128];
	int ret;

	if (!mkdtemp(dir))
		return 1;
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(path, sizeof(path), "%s/config", dir);
	unlink(path);
	rmdir(dir);
	return ret;
}

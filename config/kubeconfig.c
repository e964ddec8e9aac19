/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kubeconfig and in-cluster credentials (see kubeconfig.h).  The kubeconfig
 * is YAML, read with the config module's tree (positions for errors).  Only
 * what sluice can honour is accepted: a field that would change how kubectl
 * authenticates or reaches the server and that sluice does not implement
 * (exec, auth-provider, username/password, proxy-url,
 * insecure-skip-tls-verify) is refused by name rather than ignored.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "config_internal.h"
#include "kubeconfig.h"
#include "util.h"

#define SL_KUBECONFIG_MAX (4u << 20)
#define SL_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct sl_kc {
	const char *path;
	char *dir; /* the file's directory, for relative names */
	char *err;
	size_t len;
};

static int sl_kc_fail(struct sl_kc *k, const struct sl_ynode *at,
		      const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int sl_kc_fail(struct sl_kc *k, const struct sl_ynode *at,
		      const char *field, const char *fmt, ...)
{
	char msg[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (at)
		snprintf(k->err, k->len, "%s:%u:%u: %s: %s", k->path, at->line,
			 at->col, field, msg);
	else
		snprintf(k->err, k->len, "%s: %s: %s", k->path, field, msg);
	return -EINVAL;
}

/* a scalar string value of @key in @map; 0 absent, 1 found, -EINVAL */
static int sl_kc_str(struct sl_kc *k, const struct sl_ynode *map,
		     const char *key, const char *field, const char **out)
{
	const struct sl_ynode *v = sl_ymap_get(map, key);

	*out = NULL;
	if (!v || sl_ynode_is_null(v))
		return 0;
	if (v->type != SL_YSCALAR || strlen(v->str) != v->len)
		return sl_kc_fail(k, v, field, "must be a string");
	*out = v->str;
	return 1;
}

/* the entry of list @key whose name is @name: its @inner map */
static int sl_kc_named(struct sl_kc *k, const struct sl_ynode *root,
		       const char *key, const char *inner, const char *name,
		       const struct sl_ynode **out)
{
	const struct sl_ynode *l = sl_ymap_get(root, key);

	if (!l || l->type != SL_YSEQ)
		return sl_kc_fail(k, l, key, "a list naming \"%s\" is needed",
				  name);
	for (size_t i = 0; i < l->n; i++) {
		const struct sl_ynode *e = l->items[i];
		const struct sl_ynode *n = sl_ymap_get(e, "name");

		if (e->type != SL_YMAP || !n || n->type != SL_YSCALAR ||
		    strcmp(n->str, name))
			continue;
		*out = sl_ymap_get(e, inner);
		if (!*out || (*out)->type != SL_YMAP)
			return sl_kc_fail(k, e, key, "\"%s\" has no %s map",
					  name, inner);
		return 0;
	}
	return sl_kc_fail(k, l, key, "no entry named \"%s\"", name);
}

/* refuse what kubectl would honour and sluice would not */
static int sl_kc_refuse(struct sl_kc *k, const struct sl_ynode *map,
			const char *prefix, const char *const *keys)
{
	for (size_t i = 0; keys[i]; i += 2) {
		const struct sl_ynode *v = sl_ymap_get(map, keys[i]);
		char field[128];

		if (!v || sl_ynode_is_null(v))
			continue;
		if (v->type == SL_YSCALAR && v->plain &&
		    !strcmp(v->str, "false"))
			continue; /* insecure-skip-tls-verify: false */
		snprintf(field, sizeof(field), "%s.%s", prefix, keys[i]);
		return sl_kc_fail(k, v, field, "%s", keys[i + 1]);
	}
	return 0;
}

static char *sl_kc_file(struct sl_kc *k, const char *name)
{
	char *s = NULL;

	if (name[0] == '/' || !k->dir)
		return strdup(name);
	if (asprintf(&s, "%s/%s", k->dir, name) < 0)
		return NULL;
	return s;
}

/*
 * the string @key of @map into *@out (malloc'd; a file name taken from the
 * kubeconfig's directory with @file); 0 absent, 1 copied, < 0 error
 */
static int sl_kc_copy(struct sl_kc *k, const struct sl_ynode *map,
		      const char *key, const char *field, bool file,
		      char **out)
{
	const char *s;
	int ret = sl_kc_str(k, map, key, field, &s);

	if (ret <= 0)
		return ret;
	*out = file ? sl_kc_file(k, s) : strdup(s);
	return *out ? 1 : -ENOMEM;
}

/* base64 (the *-data fields) into a malloc'd, NUL-terminated buffer */
static int sl_kc_b64(struct sl_kc *k, const struct sl_ynode *map,
		     const char *key, const char *field, char **out,
		     size_t *out_len)
{
	const char *s;
	unsigned char *buf;
	size_t n, pad = 0;
	int got, ret = sl_kc_str(k, map, key, field, &s);

	if (ret <= 0)
		return ret;
	n = strlen(s);
	if (n == 0 || n % 4 || n > SL_KUBECONFIG_MAX)
		return sl_kc_fail(k, sl_ymap_get(map, key), field,
				  "is not base64 (its length is not a multiple of 4)");
	buf = malloc(n / 4 * 3 + 1);
	if (!buf)
		return -ENOMEM;
	got = EVP_DecodeBlock(buf, (const unsigned char *)s, (int)n);
	if (got < 0) {
		free(buf);
		return sl_kc_fail(k, sl_ymap_get(map, key), field,
				  "is not base64");
	}
	pad = (s[n - 1] == '=') + (s[n - 2] == '=');
	*out_len = (size_t)got - pad;
	buf[*out_len] = '\0';
	*out = (char *)buf;
	return 1;
}

static int sl_kc_cluster(struct sl_kc *k, const struct sl_ynode *c,
			 struct sl_kube_creds *out)
{
	static const char *const refused[] = {
		"insecure-skip-tls-verify",
		"is not supported: sluice always verifies the API server",
		"proxy-url", "is not supported: sluice connects directly",
		"tls-server-name", "is not supported: the server's certificate must name the host of cluster.server",
		NULL
	};
	const char *s;
	int ret;

	ret = sl_kc_refuse(k, c, "cluster", refused);
	if (ret < 0)
		return ret;
	if (sl_kc_str(k, c, "server", "cluster.server", &s) <= 0)
		return sl_kc_fail(k, c, "cluster.server",
				  "required field is missing");
	if (strncmp(s, "https://", 8) && strncmp(s, "http://", 7))
		return sl_kc_fail(k, sl_ymap_get(c, "server"), "cluster.server",
				  "\"%s\" is not an http:// or https:// URL", s);
	out->server = strdup(s);
	if (!out->server)
		return -ENOMEM;
	for (size_t n = strlen(out->server); n > 8 && out->server[n - 1] == '/';)
		out->server[--n] = '\0';
	ret = sl_kc_copy(k, c, "certificate-authority",
			 "cluster.certificate-authority", true, &out->ca_file);
	if (ret < 0)
		return ret;
	ret = sl_kc_b64(k, c, "certificate-authority-data",
			"cluster.certificate-authority-data", &out->ca_pem,
			&out->ca_pem_len);
	return ret < 0 ? ret : 0;
}

static int sl_kc_user(struct sl_kc *k, const struct sl_ynode *u,
		      struct sl_kube_creds *out)
{
	static const char *const refused[] = {
		"exec", "is not supported (credential plugins): use a token, tokenFile or a client certificate",
		"auth-provider", "is not supported: use a token, tokenFile or a client certificate",
		"username", "is not supported (basic authentication)",
		"password", "is not supported (basic authentication)",
		"as", "is not supported (impersonation)",
		"as-uid", "is not supported (impersonation)",
		"as-groups", "is not supported (impersonation)",
		"as-user-extra", "is not supported (impersonation)",
		NULL
	};
	int ret;

	ret = sl_kc_refuse(k, u, "user", refused);
	if (ret < 0)
		return ret;
	if ((ret = sl_kc_copy(k, u, "token", "user.token", false,
			      &out->token)) < 0 ||
	    (ret = sl_kc_copy(k, u, "tokenFile", "user.tokenFile", true,
			      &out->token_file)) < 0 ||
	    (ret = sl_kc_copy(k, u, "client-certificate",
			      "user.client-certificate", true,
			      &out->cert_file)) < 0 ||
	    (ret = sl_kc_copy(k, u, "client-key", "user.client-key", true,
			      &out->key_file)) < 0)
		return ret;
	ret = sl_kc_b64(k, u, "client-certificate-data",
			"user.client-certificate-data", &out->cert_pem,
			&out->cert_pem_len);
	if (ret < 0)
		return ret;
	ret = sl_kc_b64(k, u, "client-key-data", "user.client-key-data",
			&out->key_pem, &out->key_pem_len);
	if (ret < 0)
		return ret;
	if (!!(out->cert_file || out->cert_pem) != !!(out->key_file || out->key_pem))
		return sl_kc_fail(k, u, "user",
				  "a client certificate needs its key, and a key its certificate");
	return 0;
}

int sl_kubeconfig_load(const char *path, const char *context,
		       struct sl_kube_creds *out, char *err, size_t len)
{
	struct sl_arena a = { .head = NULL };
	struct sl_cfg_errs errs = { .v = NULL };
	struct sl_kc k = { .path = path, .err = err, .len = len };
	const struct sl_ynode *root, *ctx = NULL, *c, *u;
	struct sl_yfile yf = { 0 };
	const char *cur = context, *cname, *uname;
	char *buf = NULL, *slash;
	size_t n;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = sl_read_file(path, SL_KUBECONFIG_MAX, &buf, &n);
	if (ret < 0) {
		snprintf(err, len, "%s: %s", path, strerror(-ret));
		return ret;
	}
	k.dir = strdup(path);
	if (!k.dir) {
		ret = -ENOMEM;
		goto out;
	}
	slash = strrchr(k.dir, '/');
	if (slash)
		*slash = '\0';
	else
		strcpy(k.dir, ".");
	ret = sl_yaml_parse(&a, path, buf, n, &yf, &errs);
	if (ret < 0 || yf.n_docs != 1 || !yf.docs[0].root ||
	    yf.docs[0].root->type != SL_YMAP) {
		if (errs.n)
			snprintf(err, len, "%s:%u:%u: %s", path, errs.v[0].line,
				 errs.v[0].col, errs.v[0].message);
		else
			snprintf(err, len, "%s: not a kubeconfig (one YAML map)",
				 path);
		ret = ret == -ENOMEM ? ret : -EINVAL;
		goto out;
	}
	root = yf.docs[0].root;
	if (!cur) {
		ret = sl_kc_str(&k, root, "current-context", "current-context",
				&cur);
		if (ret < 0)
			goto out;
		if (!cur) {
			ret = sl_kc_fail(&k, NULL, "current-context",
					 "is not set (or give --kube-context)");
			goto out;
		}
	}
	ret = sl_kc_named(&k, root, "contexts", "context", cur, &ctx);
	if (ret < 0)
		goto out;
	if ((ret = sl_kc_str(&k, ctx, "cluster", "context.cluster", &cname)) < 0 ||
	    (ret = sl_kc_str(&k, ctx, "user", "context.user", &uname)) < 0)
		goto out;
	if (!cname) {
		ret = sl_kc_fail(&k, ctx, "context.cluster",
				 "required field is missing");
		goto out;
	}
	ret = sl_kc_named(&k, root, "clusters", "cluster", cname, &c);
	if (ret < 0)
		goto out;
	ret = sl_kc_cluster(&k, c, out);
	if (ret < 0)
		goto out;
	if (uname) {
		ret = sl_kc_named(&k, root, "users", "user", uname, &u);
		if (ret < 0)
			goto out;
		ret = sl_kc_user(&k, u, out);
		if (ret < 0)
			goto out;
	}
	if (asprintf(&out->origin, "%s (context %s)", path, cur) < 0) {
		out->origin = NULL;
		ret = -ENOMEM;
	}
out:
	if (ret == -ENOMEM)
		snprintf(err, len, "%s: out of memory", path);
	if (ret < 0)
		sl_kube_creds_free(out);
	if (buf) {
		OPENSSL_cleanse(buf, n);
		free(buf);
	}
	free(k.dir);
	{
		struct sl_config_errors ce = { .v = errs.v, .n = errs.n };

		sl_config_errors_free(&ce);
	}
	sl_arena_release(&a);
	return ret;
}

int sl_kube_in_cluster(const char *sa_dir, struct sl_kube_creds *out,
		       char *err, size_t len)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *dir = sa_dir ? sa_dir : SL_SA_DIR;
	bool v6;

	memset(out, 0, sizeof(*out));
	if (!host || !*host || !port || !*port) {
		snprintf(err, len,
			 "in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (not in a pod? give --kubeconfig)");
		return -EINVAL;
	}
	v6 = strchr(host, ':') != NULL;
	if (asprintf(&out->server, "https://%s%s%s:%s", v6 ? "[" : "", host,
		     v6 ? "]" : "", port) < 0) {
		out->server = NULL;
		goto nomem;
	}
	if (asprintf(&out->token_file, "%s/token", dir) < 0) {
		out->token_file = NULL;
		goto nomem;
	}
	if (asprintf(&out->ca_file, "%s/ca.crt", dir) < 0) {
		out->ca_file = NULL;
		goto nomem;
	}
	if (!(out->origin = strdup("in-cluster service account")))
		goto nomem;
	return 0;
nomem:
	sl_kube_creds_free(out);
	snprintf(err, len, "in-cluster: out of memory");
	return -ENOMEM;
}

static void sl_wipe_free(char *s, size_t n)
{
	if (!s)
		return;
	OPENSSL_cleanse(s, n ? n : strlen(s));
	free(s);
}

void sl_kube_creds_free(struct sl_kube_creds *c)
{
	free(c->origin);
	free(c->server);
	free(c->ca_file);
	free(c->ca_pem);
	sl_wipe_free(c->token, 0);
	free(c->token_file);
	free(c->cert_file);
	free(c->key_file);
	free(c->cert_pem);
	sl_wipe_free(c->key_pem, c->key_pem_len);
	memset(c, 0, sizeof(*c));
}

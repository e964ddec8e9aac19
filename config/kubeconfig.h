/* SPDX-License-Identifier: Apache-2.0 */
/*
 * How sluiced reaches a Kubernetes API server: a kubeconfig file (the
 * fields kubectl uses for token and client-certificate authentication) or
 * the in-cluster service account.  Parsing only: k8s/ does the HTTP.
 */
#ifndef SL_KUBECONFIG_H
#define SL_KUBECONFIG_H

#include <stddef.h>

/** Where the API server is and who we are to it; every string malloc'd. */
struct sl_kube_creds {
	char *origin;	  /* "in-cluster" or the kubeconfig's path + context */
	char *server;	  /* "https://host:port", no trailing slash */
	char *ca_file;	  /* PEM file of trusted roots, or NULL */
	char *ca_pem;	  /* PEM roots (certificate-authority-data), or NULL */
	size_t ca_pem_len;
	char *token;	  /* a fixed bearer token, or NULL */
	char *token_file; /* a bearer token re-read as it rotates, or NULL */
	char *cert_file, *key_file; /* client certificate, or NULL */
	char *cert_pem, *key_pem;   /* client-*-data, or NULL */
	size_t cert_pem_len, key_pem_len;
};

/**
 * sl_kubeconfig_load - read the context @context (NULL: current-context) of
 * the kubeconfig @path; relative file names in it are taken relative to
 * the file's directory, as kubectl does
 * @err: on failure "path:line:col: field: what is wrong"
 * @retval 0, -ENOENT/-errno when the file cannot be read, -EINVAL with
 *         @err for a file sluice cannot use (a field it does not support,
 *         such as exec or auth-provider, is refused by name: never ignored)
 */
int sl_kubeconfig_load(const char *path, const char *context,
		       struct sl_kube_creds *out, char *err, size_t len);

/**
 * sl_kube_in_cluster - the pod's service account: $KUBERNETES_SERVICE_HOST
 * and _PORT, @sa_dir/token (re-read as the kubelet rotates it) and
 * @sa_dir/ca.crt (@sa_dir NULL: /var/run/secrets/kubernetes.io/serviceaccount)
 * @retval 0 or -EINVAL with @err
 */
int sl_kube_in_cluster(const char *sa_dir, struct sl_kube_creds *out,
		       char *err, size_t len);

/** sl_kube_creds_free - free the strings (secrets wiped); leaves it zeroed */
void sl_kube_creds_free(struct sl_kube_creds *c);

#endif /* SL_KUBECONFIG_H */

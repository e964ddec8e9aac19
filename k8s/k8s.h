/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Kubernetes API as a configuration source.
 *
 * One thread lists then watches each resource sluice uses, as client-go's
 * reflector does (paginated lists, watches from the list's resourceVersion
 * with bookmarks, a relist on 410 Gone, backoff with jitter), over libcurl
 * (one multi handle: every watch on the thread) with JSON read by json-c.
 * The objects it holds are turned into configuration documents the config
 * module decodes as it decodes files (sl_config_load_files):
 *
 *  - a Pod of a meshed namespace with an IP becomes one WorkloadEntry per
 *    address (its labels, its service account, and the label
 *    kubernetes.io/hostname=<spec.nodeName>, and sluice.io/ready=false when
 *    it is not Ready or is terminating: no Service endpoint then);
 *    hostNetwork pods and pods that finished are left out;
 *  - a Service of a meshed namespace is passed on (spec only);
 *  - Istio's VirtualService, DestinationRule, ServiceEntry, WorkloadEntry,
 *    PeerAuthentication and AuthorizationPolicy, of every namespace, are
 *    passed on whole but for metadata bookkeeping and status;
 *  - Nodes give their addresses (sl_k8s_node_of: the node binding);
 *  - Namespaces decide what is meshed: the label
 *    istio.io/dataplane-mode=ambient (Istio ambient's) or
 *    sluice.io/mesh=enabled; a pod opts out with
 *    istio.io/dataplane-mode=none or sluice.io/mesh=disabled.
 *
 * Each document is named "kubernetes:<resource>/<namespace>/<name>" in
 * errors.  The view is a set of immutable, reference-counted documents:
 * taking one never blocks the watch thread for long.
 */
#ifndef SL_K8S_H
#define SL_K8S_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "kubeconfig.h"

struct sl_k8s;
struct sl_k8s_view;

struct sl_k8s_opts {
	const struct sl_kube_creds *creds; /* copied */
	unsigned int page_size;	     /* list limit; default 500 */
	unsigned int watch_timeout_s; /* timeoutSeconds, jittered up to +50 %;
					 default 300 */
	uint64_t coalesce_ns;	     /* changes within this are one; 100 ms */
	unsigned int backoff_max_ms; /* default 30 s */
	unsigned int absent_retry_s; /* a resource the server does not have
					(Istio CRDs not installed) is asked
					for again after this; default 60 */
};

/**
 * sl_k8s_start - start the watch thread
 * @out: the source; stop and free with sl_k8s_stop()
 * @retval 0, -ENOMEM, or -errno from the thread or libcurl setup
 */
int sl_k8s_start(const struct sl_k8s_opts *opts, struct sl_k8s **out);

/** sl_k8s_stop - stop the thread, close every connection, free; NULL-safe */
void sl_k8s_stop(struct sl_k8s *k);

/**
 * sl_k8s_fd - an eventfd, readable when the view changed (after the first
 * full sync, coalesced); read it (8 bytes) to clear it
 */
int sl_k8s_fd(const struct sl_k8s *k);

/** sl_k8s_synced - every resource has been listed once (or is absent) */
bool sl_k8s_synced(struct sl_k8s *k);

/**
 * sl_k8s_view - the documents of the current view (a reference); NULL on
 * ENOMEM or before the first full sync
 */
struct sl_k8s_view *sl_k8s_view(struct sl_k8s *k);

/** sl_k8s_view_docs - the view's documents (flag api set), @n their number */
const struct sl_config_doc *sl_k8s_view_docs(const struct sl_k8s_view *v,
					     size_t *n);

/** sl_k8s_view_serial - increases with every view published (1 = first) */
uint64_t sl_k8s_view_serial(const struct sl_k8s_view *v);

/** sl_k8s_view_put - drop a reference; NULL-safe */
void sl_k8s_view_put(struct sl_k8s_view *v);

/** What the watch of one resource is doing (sluice status, metrics). */
struct sl_k8s_res_status {
	const char *name;    /* "pods", "networking.istio.io/virtualservices" */
	char version[16];    /* the version served ("v1", "v1beta1", ...) */
	bool synced;	     /* listed at least once */
	bool absent;	     /* the server does not serve it (404) */
	bool watching;
	size_t objects;	     /* held (after filtering) */
	char resource_version[32];
	time_t last_sync;    /* last completed list, 0 if none */
	time_t last_event;   /* last watch event or bookmark, 0 if none */
	uint64_t lists, relists_gone, watches, events, errors;
	char last_error[200]; /* empty when none */
};

/**
 * sl_k8s_status - the resources' watch states
 * @st: room for @cap entries
 * @retval the number of resources (may exceed @cap: only @cap filled)
 */
size_t sl_k8s_status(struct sl_k8s *k, struct sl_k8s_res_status *st,
		     size_t cap);

/**
 * sl_k8s_node_of - the Node that has address @ip (status.addresses:
 * InternalIP, ExternalIP), its name into @name
 * @retval 0, or -ENOENT when no Node has it
 */
int sl_k8s_node_of(struct sl_k8s *k, const struct sl_ip *ip, char *name,
		   size_t len);

/**
 * sl_k8s_nodes_save - every Node address, one line each: "<node> TAB
 * <address> LF" (from the Nodes listed, or before their first list from
 * the seed), to save with the view
 * @out: malloc'ed text (the caller frees), @len its length
 * @retval 0, -ENOMEM
 */
int sl_k8s_nodes_save(struct sl_k8s *k, char **out, size_t *len);

/**
 * sl_k8s_nodes_seed - the Node addresses saved with the last good view
 * (sl_k8s_nodes_save's text): sl_k8s_node_of() answers from them until
 * the Nodes are listed; a line that does not parse is skipped
 * @retval the addresses taken, -ENOMEM
 */
int sl_k8s_nodes_seed(struct sl_k8s *k, const char *text, size_t len);

/** sl_k8s_server - the API server URL and where it came from */
const char *sl_k8s_server(const struct sl_k8s *k, const char **origin);

#endif /* SL_K8S_H */

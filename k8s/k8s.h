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

/*
 * Kubernetes Events for the resources sluice rejects (events.c): an
 * events.k8s.io/v1 Event (type Warning, reason Rejected, action Validate)
 * in the object's namespace, regarding it, its note sluice's error.  Its
 * name is deterministic (<object name>.sluice-<hash of kind, namespace,
 * name and note>): every node of a DaemonSet that sees the rejection would
 * post the same Event, and a 409 AlreadyExists means another did.  Only the
 * nodes whose names are among the first SL_K8S_EVENT_REPORTERS of the Nodes
 * the source knows, sorted, post (every node when no Node is known); a
 * token bucket bounds the rate; a 403 (RBAC does not grant create on
 * events.k8s.io events) stops posting for SL_K8S_EVENT_FORBIDDEN_S.
 */
#define SL_K8S_EVENTS_MAX 1000	      /* rejections tracked; more dropped */
#define SL_K8S_EVENT_REPORTERS 3      /* nodes that post */
#define SL_K8S_EVENT_BURST 10	      /* token bucket: burst, */
#define SL_K8S_EVENT_REFILL_MS 5000   /* then one Event per this */
#define SL_K8S_EVENT_TRIES 5	      /* attempts of one Event */
#define SL_K8S_EVENT_FORBIDDEN_S 600  /* after a 403, next try */
#define SL_K8S_EVENT_NOTE_MAX 1024    /* the API's limit on note (bytes) */

/** One API resource sluice rejects. */
struct sl_k8s_rejection {
	const char *path;    /* "kubernetes:<resource>/<namespace>/<name>" */
	const char *message; /* sluice's error text: the Event's note */
};

/**
 * sl_k8s_report_rejected - the resources rejected now (the whole set,
 * after each load): each (object, message) not reported yet is posted
 * once; one that is no longer in the set is forgotten (rejected again
 * later, it is posted again).  Only Services and Istio kinds are
 * reported; at most SL_K8S_EVENTS_MAX are kept (the rest counted as
 * dropped).  Never blocks on the network: the source's thread posts.
 * @node: this node's name (reportingInstance "sluiced-<node>", and whether
 *        this node is one of the reporters); copied
 * @v: @n rejections; copied
 * @retval 0, -ENOMEM (the set reported before is kept)
 */
int sl_k8s_report_rejected(struct sl_k8s *k, const char *node,
			   const struct sl_k8s_rejection *v, size_t n);

/**
 * sl_k8s_report_config - sl_k8s_report_rejected() with @cfg's REJECTED
 * warnings (the note: "left out of the mesh: <field>: <error>") and its
 * node's name
 * @retval as sl_k8s_report_rejected
 */
int sl_k8s_report_config(struct sl_k8s *k, const struct sl_config *cfg);

/** What the Events for rejected resources did (sluice status). */
struct sl_k8s_events_status {
	uint64_t posted;   /* created (201) */
	uint64_t already;  /* 409 AlreadyExists: another node posted it */
	uint64_t failed;   /* given up: refused (4xx) or out of tries */
	uint64_t dropped;  /* of the current set, beyond SL_K8S_EVENTS_MAX */
	size_t pending;	   /* waiting to be posted */
	bool reporter;	   /* this node is among the nodes that post */
	bool forbidden;	   /* a 403: RBAC does not allow it (retried later) */
	char last_error[200]; /* empty when none */
};

/** sl_k8s_events_status - a copy of the Events' counters and state */
void sl_k8s_events_status(struct sl_k8s *k, struct sl_k8s_events_status *st);

#endif /* SL_K8S_H */

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The configuration snapshot: everything sluiced knows from the config
 * directory, parsed, validated and resolved.  A snapshot is immutable once
 * loaded and reference counted: the daemon swaps in a new one atomically on
 * reload while established flows keep the one they started with.
 *
 * This header is the contract between the config module and its users
 * (daemon, CLI).  Internal structures live in config_internal.h.
 */
#ifndef SL_CONFIG_H
#define SL_CONFIG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ip.h"
#include "label.h" /* struct sl_label */

/* ---- node configuration --------------------------------------------- */

enum sl_ktls_mode {
	SL_KTLS_AUTO = 0, /* use kTLS where the kernel has it */
	SL_KTLS_ON,	  /* require kTLS; refuse to start without it */
	SL_KTLS_OFF,	  /* always userspace TLS */
};

/** Node settings (sluiced.yaml or kind: Node, apiVersion sluice.io/v1alpha1) */
struct sl_node_config {
	const char *name;	   /* node name; default: hostname */
	const char *trust_domain;  /* default "cluster.local" */
	uint16_t outbound_port;	   /* default 15001 */
	uint16_t inbound_port;	   /* default 15008 (mTLS) */
	uint16_t inbound_plain_port; /* default 15006 */
	uint16_t metrics_port;	   /* default 15020 */
	const char *metrics_address; /* default "127.0.0.1" */
	const char *ca_dir;	   /* built-in CA directory (ca.crt, ca.key) */
	const char *cert_dir;	   /* external certs: <ns>/<sa>/{cert,key,ca}.pem */
	const char *trust_bundle;  /* optional extra roots (PEM) */
	enum sl_ktls_mode ktls;
	bool allow_unknown_source; /* default false: fail closed */
	const char *root_namespace; /* mesh-wide policy; default istio-system */
	uint8_t path_normalization; /* enum sl_path_mode (http/path.h), from
				       pathNormalization (Istio's
				       meshConfig.pathNormalization names);
				       default SL_PATH_BASE */
};

/* ---- workloads and services ----------------------------------------- */

/* a workload with this label set to "false" is not ready: no endpoint of
 * a Service (unless publishNotReadyAddresses), still a workload */
#define SL_LABEL_NOT_READY_KEY "sluice.io/ready"

/** A workload: one WorkloadEntry (a pod or VM address with an identity). */
struct sl_workload {
	const char *name;
	const char *ns;
	const char *service_account; /* default "default" */
	const char *spiffe_id;	     /* spiffe://<td>/ns/<ns>/sa/<sa> */
	const char *node;	     /* label kubernetes.io/hostname, or NULL */
	struct sl_ip address;
	const struct sl_label *labels;
	size_t n_labels;
};

/** One endpoint a flow can be sent to. */
struct sl_endpoint {
	const struct sl_workload *workload; /* NULL for a non-mesh endpoint */
	struct sl_ip address;
	uint16_t port;			    /* target port on the workload */
	uint32_t weight;		    /* ServiceEntry endpoint weight, 1 */
};

/* ---- lifetime ------------------------------------------------------- */

struct sl_config;

/** One error found while loading; file:line:col and the field path. */
struct sl_config_error {
	const char *file; /* path as given, or NULL for directory-level errors */
	unsigned int line; /* 1-based; 0 when not tied to a position */
	unsigned int col;  /* 1-based */
	const char *path;  /* field path, e.g. "spec.http[0].route[1].weight" */
	const char *message;
};

struct sl_config_errors {
	struct sl_config_error *v;
	size_t n;
};

/**
 * sl_config_load_dir - load, validate and resolve every *.yaml / *.yml file
 * of @dir (not recursive; dot-files and the ConfigMap "..data" machinery are
 * skipped, symlinks followed)
 * @dir: configuration directory
 * @node_name: this node's name, or NULL for the node config's name/hostname
 * @out: on success a new snapshot with one reference; release it with
 *       sl_config_put()
 * @errs: on failure, every error found (sorted by file, line, col); free with
 *        sl_config_errors_free().  May be NULL.
 * @retval 0 on success; -EINVAL when the config has errors; -errno when the
 *         directory cannot be read.
 */
int sl_config_load_dir(const char *dir, const char *node_name,
		       struct sl_config **out, struct sl_config_errors *errs);

/**
 * sl_config_load_dir_extra - sl_config_load_dir() with @n_extra documents
 * of another source (the Kubernetes API's) loaded together with the
 * directory's files, as sl_config_load_files() loads them
 */
struct sl_config_doc;
int sl_config_load_dir_extra(const char *dir,
			     const struct sl_config_doc *extra, size_t n_extra,
			     const char *node_name, struct sl_config **out,
			     struct sl_config_errors *errs);

/** One document source's file: what sl_config_load_files() reads. */
struct sl_config_cached;

struct sl_config_doc {
	const char *name; /* unique; orders the files and keys the generation */
	const char *path; /* named in errors as path:line:col */
	const char *buf;  /* YAML (JSON is YAML), need not be NUL-terminated */
	size_t len;
	bool api;	  /* from the Kubernetes API: counted against the API
			     limits, not the directory's (SL_CFG_MAX_API_*) */
	/* a slot of the document's owner, for a document whose path and
	   text never change while it lives (the Kubernetes source's): a
	   load keeps the decoded resource there (a WorkloadEntry, Service
	   or EndpointSlice that decoded without error: what resolution
	   only reads), and later loads take it instead of
	   parsing and decoding again.  Only the loading thread touches
	   it; the owner frees it with sl_config_cached_put() when the
	   document goes.  NULL: decoded at every load */
	struct sl_config_cached **cache;
};

/**
 * sl_config_files_generation - the generation of @cfg's directory files
 * alone (the Kubernetes API's documents left out): what a copy of that
 * directory hashes to (sl_config_dir_files_generation)
 */
const char *sl_config_files_generation(const struct sl_config *cfg);

/**
 * sl_config_dir_files_generation - the same hash of the files of @dir now,
 * without decoding them
 * @retval 0, -EINVAL (a file the load would refuse to read), -errno
 */
int sl_config_dir_files_generation(const char *dir, char out[17]);

/** sl_config_cached_put - drop the owner's reference on a decoded
 * document (snapshots hold their own); NULL-safe */
void sl_config_cached_put(struct sl_config_cached *c);

/**
 * sl_config_load_files - load, validate and resolve @n documents that a
 * source other than a directory holds (the seam of the Kubernetes API
 * source; sl_config_load_dir reads a directory into documents and ends
 * here too)
 * @origin: named in errors that belong to no file (e.g. the API server)
 * @docs: the files, in any order (sorted by name here; duplicate names
 *        are an error); their memory need only last for the call
 * @retval as sl_config_load_dir
 */
int sl_config_load_files(const char *origin, const struct sl_config_doc *docs,
			 size_t n, const char *node_name, struct sl_config **out,
			 struct sl_config_errors *errs);

/**
 * sl_config_warnings - what a valid snapshot holds that the reader must
 * know: fields accepted without effect (each says why), resources skipped,
 * and the like; sorted by file, line, col
 * @n: their number
 * @retval the array, valid while @cfg is held (may be NULL when @n is 0)
 */
const struct sl_config_error *sl_config_warnings(const struct sl_config *cfg,
						 size_t *n);

/**
 * sl_config_rejected - how many resources of the Kubernetes API were left
 * out of @cfg because sluice rejects them (each is among the warnings, its
 * message starting "REJECTED: ", named kubernetes:<resource>/<ns>/<name>).
 * Documents with the api flag are loaded so: an error in one of them drops
 * it and the rest loads; an error anywhere else fails the load.
 */
size_t sl_config_rejected(const struct sl_config *cfg);

/** sl_config_errors_free - free the errors; NULL-safe, leaves it empty */
void sl_config_errors_free(struct sl_config_errors *errs);

/**
 * sl_config_error_format - "file:line:col: path: TAGmessage" (without
 * line:col when the line is 0, without the path when empty): the form
 * sl_config_errors_print and sl_config_warning_print use
 * @tag: e.g. "warning: ", or NULL
 * @retval a string the caller frees with free(3); NULL on ENOMEM
 */
char *sl_config_error_format(const struct sl_config_error *e, const char *tag);

/** sl_config_warning_print - print "file:line:col: path: warning: message" */
void sl_config_warning_print(const struct sl_config_error *w, FILE *out);

/** sl_config_errors_print - print "file:line:col: path: message" lines */
void sl_config_errors_print(const struct sl_config_errors *errs, FILE *out);

/** sl_config_get - take a reference (thread safe); returns @cfg */
struct sl_config *sl_config_get(struct sl_config *cfg);

/** sl_config_put - drop a reference (thread safe); NULL-safe */
void sl_config_put(struct sl_config *cfg);

/* ---- queries (all thread safe: the snapshot is immutable) ------------ */

/** sl_config_node - the node settings, defaults filled in */
const struct sl_node_config *sl_config_node(const struct sl_config *cfg);

/** sl_config_generation - 16 hex digits identifying the content */
const char *sl_config_generation(const struct sl_config *cfg);

/** sl_config_workloads - all workloads; @n set to their number */
const struct sl_workload *sl_config_workloads(const struct sl_config *cfg,
					      size_t *n);

/**
 * sl_config_workload_by_name - the WorkloadEntry @ns/@name, or NULL
 * (O(log n); names are unique per namespace)
 */
const struct sl_workload *sl_config_workload_by_name(const struct sl_config *cfg,
						     const char *ns,
						     const char *name);

/** sl_config_workload_by_ip - the workload at @ip, or NULL */
const struct sl_workload *sl_config_workload_by_ip(const struct sl_config *cfg,
						   const struct sl_ip *ip);

/**
 * sl_config_identity_on_node - does a workload with SPIFFE ID @spiffe_id
 * run on node @node (its kubernetes.io/hostname label)?  O(log n); what
 * the destination's node binding asks (sluiced, the Kubernetes source)
 */
bool sl_config_identity_on_node(const struct sl_config *cfg,
				const char *spiffe_id, const char *node);

/**
 * sl_config_workload_again - @wl (of an older snapshot) as @cfg knows it:
 * the workload at its address when it has the same SPIFFE ID
 * @retval that workload, or NULL (gone, changed identity, or @wl has none)
 */
const struct sl_workload *sl_config_workload_again(const struct sl_config *cfg,
						   const struct sl_workload *wl);

/**
 * sl_config_resolve - where does a flow to @dst:@port from @src go?
 * @src: the source workload (for namespace-relative lookups), may be NULL
 * @dst, @port: the original destination of the flow
 * @eps: on success points into the snapshot: the candidate endpoints of the
 *       (weighted, routed) destination chosen for this flow; valid as long as
 *       the caller holds a reference on @cfg
 * @n_eps: number of candidates
 * A service VIP (Service clusterIP, ServiceEntry address) resolves through
 * the routing table to the endpoints of one destination; a workload address
 * resolves to that workload itself (port unchanged).
 * Endpoints are stored in the snapshot, so two values stand for "the
 * flow's own": an endpoint with port 0 means the original destination port
 * (a workload address), one with address.family 0 the original destination
 * address (ServiceEntry resolution NONE without endpoints).
 * The destination of a weighted route is chosen by a smooth weighted round
 * robin (nginx style) precomputed per route and advanced atomically.
 * @retval 0 (*@n_eps >= 1), or -ENOENT when nothing is known at @dst:@port
 *         or the destination has no endpoints
 */
int sl_config_resolve(const struct sl_config *cfg,
		      const struct sl_workload *src, const struct sl_ip *dst,
		      uint16_t port, const struct sl_endpoint **eps,
		      size_t *n_eps);

/**
 * sl_config_service_host - the FQDN of the service whose VIP (Service
 * clusterIP, ServiceEntry address or CIDR) is @ip, e.g.
 * "reviews.default.svc.cluster.local"; NULL when @ip is no VIP.  A pure
 * lookup (unlike sl_config_resolve, it advances no weighted choice).
 * The string lives as long as the snapshot.
 */
const char *sl_config_service_host(const struct sl_config *cfg,
				   const struct sl_ip *ip);

/* ---- policy (PeerAuthentication, AuthorizationPolicy) ----------------- */

enum sl_mtls_mode {
	SL_MTLS_UNSET = 0, /* inherit (not returned by sl_config_mtls_mode) */
	SL_MTLS_STRICT,	   /* only mutual TLS */
	SL_MTLS_PERMISSIVE, /* mutual TLS and plaintext */
	SL_MTLS_DISABLE,    /* plaintext only */
};

/**
 * sl_config_mtls_mode - effective PeerAuthentication mode for inbound
 * traffic to @wl on @port: port-level of the workload policy, then the
 * workload policy (selector), then the namespace policy (no selector), then
 * the mesh policy (no selector, the root namespace: Node rootNamespace,
 * default istio-system); STRICT when none
 * applies (sluice's default: plaintext to a mesh pod is refused unless a
 * PeerAuthentication allows it).
 * @cfg: snapshot; @wl: the destination workload (NULL: STRICT)
 * @port: destination (pod) port; 0 skips the port-level entries
 * @retval SL_MTLS_STRICT, SL_MTLS_PERMISSIVE or SL_MTLS_DISABLE (never UNSET)
 */
enum sl_mtls_mode sl_config_mtls_mode(const struct sl_config *cfg,
				      const struct sl_workload *wl,
				      uint16_t port);

/**
 * sl_config_mtls_default - sl_config_mtls_mode() without the port-level
 * entries: the mode of every port not listed in portLevelMtls
 * @retval SL_MTLS_STRICT, SL_MTLS_PERMISSIVE or SL_MTLS_DISABLE
 */
enum sl_mtls_mode sl_config_mtls_default(const struct sl_config *cfg,
					 const struct sl_workload *wl);

/**
 * sl_config_mtls_plaintext_any - may some port of @wl receive plaintext?
 * True when the default mode or any port-level entry of the workload's
 * policy is PERMISSIVE or DISABLE (the steering table works per address:
 * such a pod's plaintext goes to the plaintext inbound port, which then
 * refuses the ports that are STRICT).
 */
bool sl_config_mtls_plaintext_any(const struct sl_config *cfg,
				  const struct sl_workload *wl);

/**
 * sl_config_mtls_describe - the modes of @wl as text for `sluice
 * workloads`: the default mode, then the port-level ones, e.g.
 * "STRICT 7010:PERMISSIVE,9000:DISABLE" (truncated to @len)
 * @retval @buf
 */
const char *sl_config_mtls_describe(const struct sl_config *cfg,
				    const struct sl_workload *wl, char *buf,
				    size_t len);

/** sl_mtls_mode_name - "STRICT", "PERMISSIVE", "DISABLE" or "UNSET" */
const char *sl_mtls_mode_name(enum sl_mtls_mode m);

/**
 * The HTTP facts of one request an AuthorizationPolicy can look at (issue
 * 27); the engine on the destination node fills it.  Every pointer is
 * borrowed for the call.
 */
struct sl_authz_http {
	const char *method; /* as received ("GET"); matched case-sensitively */
	size_t method_len;
	const char *host; /* the Host header (the authority of an
			     absolute-form target) as received, port
			     included when the client sent one */
	size_t host_len;
	const char *path; /* the normalized path (http/path.h), without the
			     "?query" */
	size_t path_len;
	/*
	 * request.headers[<name>]: @name is lowercase; returns the value,
	 * the values of a repeated header joined with ",", or NULL when the
	 * request has no such header.  @buf (@cap bytes) may hold the result.
	 */
	const char *(*header)(void *ctx, const char *name, char *buf,
			      size_t cap);
	void *ctx;
};

/** The facts about a connection or request an AuthorizationPolicy can look at. */
struct sl_authz_request {
	const char *principal; /* "cluster.local/ns/x/sa/y" (SPIFFE ID without
				  "spiffe://"), or NULL for plaintext */
	const char *ns;	       /* source namespace, or NULL */
	const struct sl_ip *src_ip; /* source.ip, remote.ip, ipBlocks */
	const struct sl_ip *dst_ip; /* destination.ip; NULL: no match */
	uint16_t port; /* destination port */
	/* NULL: a connection, decided with Istio's TCP rules: an ALLOW
	 * rule that uses an HTTP-only field never matches it, a DENY or
	 * AUDIT rule is applied without its HTTP-only fields (Istio's
	 * model.go; both fail closed) */
	const struct sl_authz_http *http;
};

/**
 * What sl_config_authz() decided.  Names point into the snapshot (valid
 * while the caller holds it).
 * @allowed: the request or connection may go on
 * @deny_ns, @deny_name, @deny_rule: the DENY policy and rule index that
 *     refused it; NULL (and -1) when it was refused because ALLOW policies
 *     apply and none matched (Envoy's
 *     "rbac_access_denied_matched_policy[none]") or when it was allowed
 * @audit_ns, @audit_name, @audit_rule: the first AUDIT policy and rule that
 *     matched, whether allowed or denied (AUDIT never changes @allowed),
 *     or NULL (and -1)
 */
struct sl_authz_decision {
	bool allowed;
	const char *deny_ns, *deny_name;
	int deny_rule;
	const char *audit_ns, *audit_name;
	int audit_rule;
};

/**
 * sl_config_authz - the AuthorizationPolicy decision for @req to @wl, with
 * Istio's precedence: any matching DENY rule denies; then, when an ALLOW
 * policy selects @wl, one of its rules must match.  AUDIT policies are
 * matched the same way and only reported.  No policy: allowed.
 * @d: filled (may be NULL)
 * @retval true when allowed
 */
bool sl_config_authz(const struct sl_config *cfg, const struct sl_workload *wl,
		     const struct sl_authz_request *req,
		     struct sl_authz_decision *d);

/** sl_config_authorize - sl_config_authz() without the decision's details */
bool sl_config_authorize(const struct sl_config *cfg,
			 const struct sl_workload *wl,
			 const struct sl_authz_request *req);

/* ---- guards against a hollow configuration (guard.c) ------------------ */

/**
 * sl_config_usable - can sluiced run on @cfg at all?
 * A snapshot is unusable when the Node that applies sets neither caDir nor
 * certDir: no workload certificate could be issued or loaded.  sluiced
 * refuses such a snapshot at start (falling back to the last good copy) and
 * on reload, whatever the operator says.
 * @why: on failure the reason, one sentence
 * @retval 0, or -EINVAL when unusable
 */
int sl_config_usable(const struct sl_config *cfg, char *why, size_t len);

/**
 * sl_config_guard - would replacing @old by @cfg hollow out the mesh?
 * Refused unless an operator confirms it (sluice reload --allow-empty):
 * removing every workload while @old has some, or removing the Node
 * resource that configured this node while @old had one.  Either is what
 * an emptied or half-written config directory looks like, and running on
 * it would steer no pod (their traffic would flow in plaintext).
 * @old: the running snapshot (or the last good copy at start); NULL: 0
 * @why: on refusal the reason, one sentence naming what would go
 * @retval 0, or -ECANCELED when the change needs confirmation
 */
int sl_config_guard(const struct sl_config *old, const struct sl_config *cfg,
		    char *why, size_t len);

/**
 * sl_config_node_source - "file:line" of the Node resource that configured
 * this node, or NULL when the built-in defaults apply
 */
const char *sl_config_node_source(const struct sl_config *cfg);

/* ---- introspection (sluice check, sluice routes, admin socket) ---------- */

/** sl_config_summary - "12 resources (VirtualService 2, ...)" into @buf */
const char *sl_config_summary(const struct sl_config *cfg, char *buf,
			      size_t len);

/** sl_config_count - resources of @kind ("VirtualService"...), in total
 * when @kind is NULL */
size_t sl_config_count(const struct sl_config *cfg, const char *kind);

/** sl_config_kind_name - name of kind @i (0-based); NULL past the last */
const char *sl_config_kind_name(unsigned int i);

enum sl_config_fmt {
	SL_CONFIG_FMT_TABLE, /* aligned columns with a header */
	SL_CONFIG_FMT_JSON,
	SL_CONFIG_FMT_DUMP, /* tab-separated, "(none)" for empty */
};

/**
 * sl_config_routes_print - print the resolved routing table of @cfg
 * @host: only this host (FQDN or short name of namespace "default"), or NULL
 * @retval 0, -ENOENT when @host is not known, -ENOMEM
 */
int sl_config_routes_print(const struct sl_config *cfg, const char *host,
			   enum sl_config_fmt fmt, FILE *out);

#endif /* SL_CONFIG_H */

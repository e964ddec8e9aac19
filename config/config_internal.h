/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private model of the config module: the arena every snapshot lives in,
 * the YAML node tree, the error list, the schema decoder and the decoded
 * resources.  Nothing outside config/ (and its tests) includes this.
 */
#ifndef SL_CONFIG_INTERNAL_H
#define SL_CONFIG_INTERNAL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "http/match.h"
#include "util.h"

/* ---- limits ---------------------------------------------------------- */

#define SL_CFG_MAX_FILE_SIZE (1u << 20)	 /* bytes per file */
#define SL_CFG_MAX_TOTAL_SIZE (64u << 20) /* bytes per directory */
#define SL_CFG_MAX_DOCS 1000		 /* documents per file */
#define SL_CFG_MAX_DEPTH 64		 /* nesting depth */
#define SL_CFG_MAX_NODES 100000		 /* nodes per file, aliases expanded */
#define SL_CFG_MAX_FILES 1000		 /* files per directory */
#define SL_CFG_MAX_API_DOCS (1u << 21)	 /* documents from the Kubernetes API */
#define SL_CFG_MAX_API_SIZE (1u << 30)	 /* their bytes in total */
#define SL_CFG_MAX_ERRORS 1000		 /* errors reported before giving up */
#define SL_CFG_CLUSTER_DOMAIN "svc.cluster.local"
#define SL_CFG_ROOT_NAMESPACE "istio-system"

/* ---- arena: every snapshot is one arena, freed at once ---------------- */

struct sl_arena_chunk;
struct sl_arena_cleanup;

struct sl_arena {
	struct sl_arena_chunk *head;
	struct sl_arena_cleanup *cleanups; /* sl_arena_defer() */
	bool failed; /* an allocation failed */
	size_t chunk; /* bytes per chunk; 0: SL_ARENA_CHUNK (64 KiB) */
};

/** sl_arena_alloc - @size zeroed bytes; NULL (and ->failed) on ENOMEM */
void *sl_arena_alloc(struct sl_arena *a, size_t size);
/** sl_arena_array - @n zeroed elements of @size; NULL on ENOMEM/overflow */
void *sl_arena_array(struct sl_arena *a, size_t n, size_t size);
char *sl_arena_strndup(struct sl_arena *a, const char *s, size_t n);
char *sl_arena_strdup(struct sl_arena *a, const char *s);
char *sl_arena_printf(struct sl_arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/**
 * sl_arena_grow - make room for element @n of the array *@arr (doubling;
 * the old block stays in the arena)
 * @retval 0 or -ENOMEM
 */
int sl_arena_grow(struct sl_arena *a, void *arr, size_t *cap, size_t n,
		  size_t size);
/**
 * sl_arena_defer - have sl_arena_release() call @fn(@p) (newest first):
 * how an object another library allocated is freed with the snapshot
 * @retval 0; -ENOMEM after calling @fn(@p) at once (and ->failed set)
 */
int sl_arena_defer(struct sl_arena *a, void (*fn)(void *), void *p);
/** sl_arena_release - run the deferred frees, free every chunk; NULL-safe */
void sl_arena_release(struct sl_arena *a);

/* ---- errors ---------------------------------------------------------- */

struct sl_cfg_errs {
	struct sl_config_error *v;
	size_t n, cap;
	bool truncated;
};

void sl_cfg_err_add(struct sl_cfg_errs *e, const char *file, unsigned int line,
		    unsigned int col, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
void sl_cfg_err_vadd(struct sl_cfg_errs *e, const char *file,
		     unsigned int line, unsigned int col, const char *path,
		     const char *fmt, va_list ap)
	__attribute__((format(printf, 6, 0)));
/** sl_cfg_errs_sort - by file, line, column (stable) */
void sl_cfg_errs_sort(struct sl_cfg_errs *e);

/* ---- YAML node tree (yaml.c) ------------------------------------------ */

enum sl_ytype {
	SL_YSCALAR,
	SL_YSEQ,
	SL_YMAP,
};

struct sl_ynode {
	enum sl_ytype type;
	unsigned int line, col; /* 1-based */
	bool plain;		/* untagged plain scalar: may be null/bool/int */
	const char *str;	/* scalar text, NUL-terminated */
	size_t len;		/* scalar length (may contain NUL bytes) */
	size_t n;		/* SEQ: items; MAP: pairs */
	struct sl_ynode **items; /* SEQ: n; MAP: 2n (key, value, ...) */
	size_t cap;
	size_t weight;		/* nodes in this subtree, aliases expanded */
	unsigned int height;	/* depth of this subtree */
};

struct sl_ydoc {
	struct sl_ynode *root; /* NULL for an empty document */
};

struct sl_yfile {
	struct sl_ydoc *docs;
	size_t n_docs;
};

/**
 * sl_yaml_parse - parse @buf (UTF-8 YAML, several documents) into a tree
 * allocated in @a; errors (with position) go to @errs under @file
 * @retval 0, or -EINVAL after a parse error (documents completed before the
 *         error are kept in @out), -ENOMEM
 */
int sl_yaml_parse(struct sl_arena *a, const char *file, const char *buf,
		  size_t len, struct sl_yfile *out, struct sl_cfg_errs *errs);

/** sl_ymap_get - value of @key in map @map (NULL if absent or @map NULL) */
const struct sl_ynode *sl_ymap_get(const struct sl_ynode *map, const char *key);
/** sl_ynode_is_null - plain "", "~", "null" (or a NULL pointer) */
bool sl_ynode_is_null(const struct sl_ynode *n);

/* ---- decoding helpers (decode.c) -------------------------------------- */

#define SL_DEC_PATH_MAX 512
#define SL_DEC_DEPTH_MAX 48

struct sl_dec {
	struct sl_arena *a; /* the snapshot arena: decoded values go here */
	struct sl_cfg_errs *errs;
	struct sl_cfg_errs *warns; /* the snapshot's warnings (config.h) */
	const char *file;
	const char *ns; /* namespace of the resource being decoded */
	const char *kind; /* kind being decoded (ledger.h); NULL: top level */
	char path[SL_DEC_PATH_MAX];
	size_t plen;
	/* the same path normalized for the field ledger: "[]" for list
	 * indexes, "*" for keys the user chooses (header names, ports) */
	char npath[SL_DEC_PATH_MAX];
	size_t nlen;
	struct {
		size_t plen, nlen;
	} stk[SL_DEC_DEPTH_MAX]; /* lengths before each push */
	unsigned int depth;
	unsigned int nerr; /* errors reported for this resource */
};

/* where an element came from, for errors found after decoding */
struct sl_pos {
	const char *file;
	const char *path;
	unsigned int line, col;
};

/* push a field name, a list index or a user-chosen map key (a header
 * name, a port: "*" in the ledger's path); they return what sl_dec_pop
 * takes back, popping everything pushed since */
size_t sl_dec_push_key(struct sl_dec *d, const char *key);
size_t sl_dec_push_idx(struct sl_dec *d, size_t i);
size_t sl_dec_push_mapkey(struct sl_dec *d, const char *key);
void sl_dec_pop(struct sl_dec *d, size_t old);
/** sl_dec_warn - a warning at @at (the field path is the current one) */
void sl_dec_warn(struct sl_dec *d, const struct sl_ynode *at, const char *fmt,
		 ...) __attribute__((format(printf, 3, 4)));
void sl_dec_err(struct sl_dec *d, const struct sl_ynode *at, const char *fmt,
		...) __attribute__((format(printf, 3, 4)));
void sl_dec_key_err(struct sl_dec *d, const struct sl_ynode *at,
		    const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/** sl_dec_pos - record the current path and @at's position */
void sl_dec_pos(struct sl_dec *d, const struct sl_ynode *at,
		struct sl_pos *pos);
void sl_pos_err(struct sl_cfg_errs *e, const struct sl_pos *pos,
		const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Field rules of one mapping: @known names (NULL-terminated) are the fields
 * the caller decodes; each must have a status in the field ledger
 * (ledger.h), present in @map or not, else the load fails.  A present
 * field the ledger marks REJECTED is an error with its note, NO_EFFECT a
 * warning "has no effect: <note>" (unless a NO_EFFECT ancestor already
 * warned).  @unsup holds pairs { name, reason } that are Istio/Kubernetes
 * fields sluice cannot honour (errors "<reason>"); anything else is
 * "unknown field".  Returns false (errors reported) if @map is not a
 * mapping, has bad keys or rejected fields.
 */
bool sl_dec_fields(struct sl_dec *d, const struct sl_ynode *map,
		   const char *const *known, const char *const *unsup);
bool sl_dec_is_map(struct sl_dec *d, const struct sl_ynode *n);
bool sl_dec_is_seq(struct sl_dec *d, const struct sl_ynode *n);

/*
 * Typed getters of field @key of @map.  They return 1 when the field is
 * present and valid (*out set), 0 when absent or null (*out untouched),
 * -1 when present but invalid (error reported).
 */
int sl_dec_str(struct sl_dec *d, const struct sl_ynode *map, const char *key,
	       const char **out);
int sl_dec_uint(struct sl_dec *d, const struct sl_ynode *map, const char *key,
		uint64_t min, uint64_t max, uint32_t *out);
int sl_dec_port(struct sl_dec *d, const struct sl_ynode *map, const char *key,
		uint32_t *out);
int sl_dec_bool(struct sl_dec *d, const struct sl_ynode *map, const char *key,
		bool *out);
int sl_dec_duration(struct sl_dec *d, const struct sl_ynode *map,
		    const char *key, uint64_t *out);
int sl_dec_percent(struct sl_dec *d, const struct sl_ynode *map,
		   const char *key, double *out);
/* @names NULL-terminated; *out is the index */
int sl_dec_enum(struct sl_dec *d, const struct sl_ynode *map, const char *key,
		const char *const *names, int *out);
int sl_dec_strlist(struct sl_dec *d, const struct sl_ynode *map,
		   const char *key, const char ***out, size_t *n);
int sl_dec_labels(struct sl_dec *d, const struct sl_ynode *map,
		  const char *key, struct sl_label **out, size_t *n);
/* value-level versions (the path already names the value) */
int sl_dec_v_str(struct sl_dec *d, const struct sl_ynode *v, const char **out);
int sl_dec_v_uint(struct sl_dec *d, const struct sl_ynode *v, uint64_t min,
		  uint64_t max, uint32_t *out);

/**
 * sl_dec_tcp_only - field "protocol" of port @map (a Service's, an
 * EndpointSlice's): TCP or absent; UDP and SCTP are errors (sluice carries
 * TCP).  @retval false after an error
 */
bool sl_dec_tcp_only(struct sl_dec *d, const struct sl_ynode *map);

/** sl_dec_ip - parse an IP literal value */
int sl_dec_v_ip(struct sl_dec *d, const struct sl_ynode *v, struct sl_ip *out);

struct sl_cidr {
	struct sl_ip ip;
	unsigned int prefix;
};
/** sl_cidr_parse - "10.0.0.0/8" or a bare address; 0 or -EINVAL */
int sl_cidr_parse(const char *s, struct sl_cidr *out);
bool sl_cidr_contains(const struct sl_cidr *c, const struct sl_ip *ip);
int sl_dec_cidrs(struct sl_dec *d, const struct sl_ynode *map, const char *key,
		 struct sl_cidr **out, size_t *n);
/** DNS-1123 subdomain (@label: a single label, at most 63) */
bool sl_dns1123_valid(const char *s, bool label);
bool sl_labels_match(const struct sl_label *sel, size_t n_sel,
		     const struct sl_label *labels, size_t n_labels);
const char *sl_labels_get(const struct sl_label *l, size_t n, const char *key);

/* ---- the model ------------------------------------------------------- */

enum sl_kind {
	SL_K_VIRTUALSERVICE,
	SL_K_DESTINATIONRULE,
	SL_K_SERVICEENTRY,
	SL_K_WORKLOADENTRY,
	SL_K_SERVICE,
	SL_K_PEERAUTHENTICATION,
	SL_K_AUTHORIZATIONPOLICY,
	SL_K_NODE,
	SL_K_ENDPOINTSLICE,
	SL_K_COUNT,
};

extern const char *const sl_kind_names[SL_K_COUNT];

/* what every resource has */
struct sl_res {
	enum sl_kind kind;
	const char *name;
	const char *ns;
	struct sl_label *labels;
	size_t n_labels;
	struct sl_pos pos; /* the document */
};

struct sl_host;
struct sl_subset;

/* -- VirtualService -- */
struct sl_vs_dest {
	const char *host_raw; /* as written */
	const char *subset;
	uint32_t port;	/* 0: the port of the flow */
	uint32_t weight;
	struct sl_pos host_pos, subset_pos, port_pos;
	struct sl_host *host; /* resolved */
	int subset_idx;	      /* index into host->dr->subsets, -1 = none */
	struct sl_http_header_ops req_hdrs, resp_hdrs; /* http: headers */
};

struct sl_vs_rule {
	bool tcp;
	const char *name;
	const char *match_text; /* "*" without match */
	bool has_match;
	uint32_t *ports; /* match ports (any match) */
	size_t n_ports;
	bool any_port; /* some match has no port condition */
	struct sl_pos pos; /* the rule (http[i] / tcp[i]) */
	struct sl_pos match_pos; /* its match list, when it has one */
	/* http: the match[] blocks as the per-request router evaluates them
	 * (regexes compiled at load, freed with the arena) */
	struct sl_http_match *matches;
	size_t n_matches;
	struct sl_http_header_ops req_hdrs, resp_hdrs; /* http: headers */
	struct sl_vs_dest *dests;
	size_t n_dests;
	uint64_t timeout_ns;
	bool has_retries; /* a retries block is present */
	uint32_t retry_attempts;
	uint64_t retry_per_try_ns;
	const char *retry_on;
	uint64_t fault_delay_ns;
	double fault_delay_pct;
	uint32_t fault_abort_status;
	double fault_abort_pct;
	/* http: rewrite, redirect, directResponse (the HTTP engine) */
	const char *rewrite_uri, *rewrite_authority;
	uint32_t redirect_code; /* 0: no redirect */
	const char *redirect_uri, *redirect_authority, *redirect_scheme;
	uint32_t redirect_port;
	uint32_t direct_status; /* 0: no directResponse */
	const char *direct_body;
	struct sl_vs_dest *mirror; /* http[].mirror, or NULL */
	double mirror_pct;
	/* smooth weighted round robin, precomputed: index of the destination
	 * for pick i is wrr[i % wrr_len] */
	uint8_t wrr[100];
	unsigned int wrr_len;
	atomic_uint wrr_next;
};

struct sl_vs {
	struct sl_res r;
	const char **hosts; /* resolved FQDNs */
	struct sl_pos *host_pos;
	size_t n_hosts;
	struct sl_vs_rule *rules; /* http[] then tcp[] */
	size_t n_rules;
};

/* -- DestinationRule -- */
enum sl_lb {
	SL_LB_DEFAULT = 0,
	SL_LB_ROUND_ROBIN,
	SL_LB_LEAST_REQUEST,
	SL_LB_RANDOM,
};

enum sl_tls_mode {
	SL_TLS_UNSET = 0,
	SL_TLS_ISTIO_MUTUAL,
	SL_TLS_DISABLE,
};

struct sl_traffic_policy {
	enum sl_lb lb;
	uint32_t max_connections;
	uint64_t connect_timeout_ns;
	uint32_t http1_max_pending, http2_max_requests, max_requests_per_conn,
		max_retries;
	uint64_t idle_timeout_ns;     /* connectionPool.http.idleTimeout */
	uint64_t tcp_idle_timeout_ns; /* connectionPool.tcp.idleTimeout */
	uint64_t max_duration_ns;     /* tcp.maxConnectionDuration; 0 unset */
	bool has_keepalive;	      /* tcp.tcpKeepalive present */
	uint32_t ka_probes, ka_time_s, ka_interval_s; /* 0: kernel default */
	bool has_outlier;
	uint32_t consecutive_5xx, consecutive_gateway;
	uint64_t outlier_interval_ns, base_ejection_ns;
	uint32_t max_ejection_pct, min_health_pct;
	enum sl_tls_mode tls;
	struct sl_port_policy *ports; /* portLevelSettings */
	size_t n_ports;
};

struct sl_port_policy {
	uint32_t port;
	struct sl_traffic_policy *tp;
};

struct sl_subset {
	const char *name;
	struct sl_label *labels;
	size_t n_labels;
	struct sl_traffic_policy *tp;
	struct sl_pos pos;
};

struct sl_dr {
	struct sl_res r;
	const char *host;
	struct sl_pos host_pos;
	struct sl_traffic_policy *tp;
	struct sl_subset *subsets;
	size_t n_subsets;
	struct sl_label *selector;
	size_t n_selector;
};

/* -- ServiceEntry -- */
struct sl_svc_port {
	const char *name;
	uint32_t port;
	uint32_t target;	 /* 0: same as port (or named) */
	const char *target_name; /* named targetPort (Service) */
	const char *protocol;	 /* ServiceEntry protocol */
	const char *app_protocol; /* Service appProtocol */
};

struct sl_portmap {
	const char *name;
	uint32_t port;
};

struct sl_se_ep {
	struct sl_ip address;
	struct sl_portmap *ports;
	size_t n_ports;
	struct sl_label *labels;
	size_t n_labels;
	const char *service_account;
	uint32_t weight;
	struct sl_pos pos;
};

enum sl_resolution {
	SL_RES_STATIC,
	SL_RES_NONE,
};

struct sl_se {
	struct sl_res r;
	const char **hosts;
	struct sl_pos *host_pos;
	size_t n_hosts;
	struct sl_cidr *addresses;
	size_t n_addresses;
	struct sl_svc_port *ports;
	size_t n_ports;
	bool external;
	enum sl_resolution resolution;
	struct sl_se_ep *eps;
	size_t n_eps;
	bool has_selector;
	struct sl_label *selector;
	size_t n_selector;
};

/* -- WorkloadEntry -- */
struct sl_we {
	struct sl_res r;
	struct sl_ip address;
	struct sl_pos addr_pos;
	struct sl_portmap *ports;
	size_t n_ports;
	struct sl_label *labels;
	size_t n_labels;
	const char *service_account;
	const char *network, *locality;
	uint32_t weight;
	bool not_ready; /* labelled sluice.io/ready=false */
	/* nothing here is written after decoding: a WorkloadEntry of the
	   Kubernetes source is shared by the snapshots (sl_config_cached) */
};

/* -- Kubernetes Service -- */
struct sl_svc {
	struct sl_res r;
	struct sl_ip *vips;
	size_t n_vips;
	struct sl_svc_port *ports;
	size_t n_ports;
	bool has_selector;
	struct sl_label *selector;
	size_t n_selector;
	bool headless; /* clusterIP: None (by intent; absent is not) */
	bool publish_not_ready; /* not-ready workloads are endpoints too */
};

/* -- PeerAuthentication -- */
struct sl_pa_port {
	uint32_t port;
	enum sl_mtls_mode mode;
};

struct sl_pa {
	struct sl_res r;
	bool has_selector;
	struct sl_label *selector;
	size_t n_selector;
	enum sl_mtls_mode mode;
	struct sl_pa_port *ports;
	size_t n_ports;
};

/* -- AuthorizationPolicy (decoded in kinds_security.c, evaluated in authz.c) -- */

/* string lists hold Istio patterns: "*", "prefix*", "*suffix" or exact */
struct sl_ap_source {
	const char **principals, **not_principals, **namespaces,
		**not_namespaces;
	size_t n_principals, n_not_principals, n_namespaces, n_not_namespaces;
	struct sl_cidr *ip_blocks, *not_ip_blocks;
	size_t n_ip_blocks, n_not_ip_blocks;
	/* remoteIpBlocks: sluice trusts no X-Forwarded-For, so remote.ip is
	 * the peer's source address, as source.ip */
	struct sl_cidr *remote_ip_blocks, *not_remote_ip_blocks;
	size_t n_remote_ip_blocks, n_not_remote_ip_blocks;
};

struct sl_ap_op {
	uint32_t *ports, *not_ports;
	size_t n_ports, n_not_ports;
	/* HTTP only (see sl_ap_op_http) */
	const char **hosts, **not_hosts, **methods, **not_methods, **paths,
		**not_paths;
	size_t n_hosts, n_not_hosts, n_methods, n_not_methods, n_paths,
		n_not_paths;
};

enum sl_ap_key {
	SL_AP_SOURCE_IP,
	SL_AP_REMOTE_IP, /* = source.ip: no X-Forwarded-For is trusted */
	SL_AP_SOURCE_NAMESPACE,
	SL_AP_SOURCE_PRINCIPAL,
	SL_AP_DESTINATION_IP,
	SL_AP_DESTINATION_PORT,
	SL_AP_REQUEST_HEADER, /* HTTP only: request.headers[<header>] */
};

struct sl_ap_cond {
	enum sl_ap_key key;
	const char *header; /* SL_AP_REQUEST_HEADER: the name, lowercase */
	const char **values, **not_values;
	size_t n_values, n_not_values;
};

struct sl_ap_rule {
	struct sl_ap_source *from;
	size_t n_from;
	struct sl_ap_op *to;
	size_t n_to;
	struct sl_ap_cond *when;
	size_t n_when;
};

enum sl_ap_action {
	SL_AP_ALLOW = 0,
	SL_AP_DENY,
	SL_AP_AUDIT,
};

struct sl_ap {
	struct sl_res r;
	bool has_selector;
	struct sl_label *selector;
	size_t n_selector;
	enum sl_ap_action action;
	struct sl_ap_rule *rules;
	size_t n_rules;
};

/* -- EndpointSlice (kinds_eps.c) -- */
#define SL_EPS_SERVICE_NAME "kubernetes.io/service-name"

struct sl_eps_ep {
	struct sl_ip address; /* addresses[0] */
	bool ready;	      /* conditions.ready (absent: true), not terminating */
	struct sl_pos pos;
};

struct sl_eps {
	struct sl_res r;
	const char *service; /* the label kubernetes.io/service-name */
	bool skip;	     /* no effect (warned): the controller's, or no Service */
	struct sl_eps_ep *eps;
	size_t n_eps;
	struct sl_portmap *ports; /* name ("" unnamed) -> port, TCP */
	size_t n_ports;
};

/* -- Node -- */
struct sl_noderes {
	struct sl_res r;
	const char *spec_name; /* NULL: applies to every node */
	struct sl_node_config cfg;
};

/* ---- resolved routing ------------------------------------------------- */

/* endpoints of one (subset, service port) of a host */
struct sl_epset {
	int subset;	   /* -1: every endpoint */
	uint16_t svc_port; /* the host's port */
	struct sl_endpoint *eps;
	size_t n;
};

struct sl_host {
	const char *name; /* FQDN */
	const char *ns;
	const struct sl_res *def; /* the Service or ServiceEntry */
	struct sl_cidr *vips;
	size_t n_vips;
	struct sl_svc_port *ports;
	size_t n_ports;
	bool passthrough; /* ServiceEntry resolution NONE without endpoints */
	bool no_vip_yet;  /* a Service without clusterIP (not "None") */
	struct sl_dr *dr;
	struct sl_vs *vs;
	struct sl_epset *sets; /* (n_subsets + 1) * n_ports */
	size_t n_sets;
	size_t order; /* definition order, for duplicate reports */
};

struct sl_vip {
	struct sl_ip ip;
	struct sl_host *host;
};

/* everything decoded from the directory */
struct sl_resources {
	struct sl_res **v[SL_K_COUNT];
	size_t n[SL_K_COUNT], cap[SL_K_COUNT];
};

/* the workloads of one namespace with one label key=value: what a
 * selector looks up (resolve.c) */
struct sl_wl_lgroup {
	const char *ns, *key, *value; /* NULL ns: an empty slot */
	uint32_t hash;
	size_t first, n; /* their indexes: wl_label_idx[first .. first+n) */
};

struct sl_config {
	atomic_int refs;
	struct sl_arena arena;
	struct sl_cfg_errs warns; /* sl_config_warnings(), sorted once built */
	size_t n_rejected;	  /* API resources left out (sl_config_rejected) */
	char generation[17];
	char files_generation[17]; /* the directory's files alone */
	struct sl_node_config node;
	const char *node_source; /* "file:line" of the Node that applies, or NULL */
	struct sl_resources res;
	struct sl_workload *workloads;
	size_t n_workloads;
	const struct sl_workload **wl_sorted; /* by address */
	const struct sl_workload **wl_by_name; /* by namespace, then name */
	const struct sl_workload **wl_by_id_node; /* by SPIFFE ID, then node */
	/* every (namespace, label) of the workloads: a hash table (open
	   addressing, a power of two, at most half full) of groups whose
	   workload indexes, ascending, are runs of wl_label_idx */
	struct sl_wl_lgroup *wl_lgroups;
	size_t wl_lgroups_mask;
	size_t *wl_label_idx;
	struct sl_endpoint *wl_self;	      /* per workload, port 0 */
	/* the EndpointSlices that have effect, by namespace then Service */
	const struct sl_eps **eps_by_svc;
	size_t n_eps_by_svc;
	struct sl_host *hosts;		      /* sorted by name */
	size_t n_hosts;
	struct sl_vip *vips; /* single addresses, sorted */
	size_t n_vips;
	struct sl_vip *vip_nets; /* CIDRs, in order */
	size_t n_vip_nets;
	struct sl_endpoint passthrough_ep; /* family 0, port 0 */
};


/*
 * A document decoded on its own (config.c): its resource and warnings in
 * an arena of its own, shared by the snapshots that hold it and, when it
 * is of a kind resolution only reads (config.c, sl_cacheable), kept in the
 * document's cache slot for the next loads
 */
struct sl_config_cached {
	atomic_uint refs;
	struct sl_arena arena;
	struct sl_res *res;	  /* NULL: the document made none */
	struct sl_cfg_errs warns; /* replayed into each snapshot */
};

/* ---- the directory source (source_dir.c) ------------------------------ */

/**
 * sl_cfg_read_dir - list and read the YAML files of @dir (sorted by name)
 * @out, @n_out: the files (also on failure: what was read); free with
 *               sl_cfg_files_free()
 * @errs: per-file problems (too large, not a regular file, unreadable)
 * @retval 0; -EINVAL with @errs; -errno when @dir cannot be read
 */
int sl_cfg_read_dir(const char *dir, struct sl_config_doc **out, size_t *n_out,
		    struct sl_cfg_errs *errs);
/** sl_cfg_files_free - free what sl_cfg_read_dir returned; NULL-safe */
void sl_cfg_files_free(struct sl_config_doc *f, size_t n);

/* ---- stages ------------------------------------------------------------ */

/**
 * sl_cfg_decode_doc - decode one YAML document into a resource of @cfg
 * (errors to @errs).  Empty documents are ignored.
 */
void sl_cfg_decode_doc(struct sl_config *cfg, struct sl_cfg_errs *errs,
		       const char *file, const struct sl_ynode *root);

/* per-kind spec decoders: the resource is allocated and its metadata
 * decoded; they fill the rest and return false after errors */
bool sl_kind_virtualservice(struct sl_dec *d, const struct sl_ynode *spec,
			    struct sl_vs *vs);
bool sl_kind_destinationrule(struct sl_dec *d, const struct sl_ynode *spec,
			     struct sl_dr *dr);
bool sl_kind_serviceentry(struct sl_dec *d, const struct sl_ynode *spec,
			  struct sl_se *se);
bool sl_kind_workloadentry(struct sl_dec *d, const struct sl_ynode *spec,
			   struct sl_we *we);
bool sl_kind_service(struct sl_dec *d, const struct sl_ynode *spec,
		     struct sl_svc *svc);
bool sl_kind_node(struct sl_dec *d, const struct sl_ynode *spec,
		  struct sl_noderes *node);
bool sl_kind_peerauthentication(struct sl_dec *d, const struct sl_ynode *spec,
				struct sl_pa *pa);
bool sl_kind_authorizationpolicy(struct sl_dec *d, const struct sl_ynode *spec,
				 struct sl_ap *ap);
/* EndpointSlice has no spec: its fields are @root's */
bool sl_kind_endpointslice(struct sl_dec *d, const struct sl_ynode *root,
			   struct sl_eps *e);

/** sl_cfg_host_fqdn - Istio short-name rule, in namespace @ns (arena) */
const char *sl_cfg_host_fqdn(struct sl_arena *a, const char *host,
			     const char *ns);

/**
 * sl_cfg_resolve_all - pick the node config, build workloads, hosts, check
 * cross references, build endpoint sets (validate.c / resolve.c)
 * @retval 0, or -EINVAL after errors (reported), -ENOMEM
 */
int sl_cfg_resolve_all(struct sl_config *cfg, const char *node_name,
		       struct sl_cfg_errs *errs);

/** sl_cfg_host_find - host by FQDN, or NULL */
struct sl_host *sl_cfg_host_find(const struct sl_config *cfg,
				 const char *name);

/** sl_cfg_epset - endpoints of @h for @subset (-1 all) at service @port */
const struct sl_epset *sl_cfg_epset(const struct sl_host *h, int subset,
				    uint16_t port);

/** sl_cfg_vip_host - the host whose VIP (address or CIDR) is @ip, or NULL */
struct sl_host *sl_cfg_vip_host(const struct sl_config *cfg,
				const struct sl_ip *ip);

/** sl_cfg_rule_for - the rule of @vs a flow to @port takes, or NULL */
struct sl_vs_rule *sl_cfg_rule_for(struct sl_vs *vs, uint16_t port);

/* policy_query.c: the pieces of sl_config_route()'s policy, shared with
 * sl_config_http_route() (http_route.c) */
struct sl_dest_policy;
/** sl_cfg_rule_policy - @rule's timeout and retries into @pol (NULL: none) */
void sl_cfg_rule_policy(struct sl_dest_policy *pol,
			const struct sl_vs_rule *rule);
/** sl_cfg_dest_policy - host, subset, port and the DestinationRule's
 * policy of endpoint set @set of host @th into @pol */
void sl_cfg_dest_policy(struct sl_dest_policy *pol, const struct sl_host *th,
			const struct sl_epset *set);

/* the warning on http[].match of a VirtualService none of whose hosts has
 * an HTTP port (tests/config/test-ledger.c checks it) */
#define SL_CFG_NO_HTTP_PORT                                                    \
	"no host of this VirtualService has an HTTP port (a Service port with " \
	"appProtocol http or named http or http-*, a ServiceEntry port with "  \
	"protocol HTTP): its traffic is routed per connection, match "         \
	"conditions are not evaluated and the first http rule without match "  \
	"routes every connection (the last http rule if all have one)"
/* the same for the per-request settings of such a rule */
#define SL_CFG_NO_HTTP_PORT_L7                                                 \
	"no host of this VirtualService has an HTTP port: its traffic is "     \
	"routed per connection, and this rule's timeout, fault, headers, "     \
	"rewrite, redirect, directResponse, mirror and retryOn (retries are "  \
	"connect retries) do not apply"
/**
 * sl_cfg_http_warn - warn (SL_CFG_NO_HTTP_PORT) at every http[].match of
 * a VirtualService whose hosts have no HTTP port, and
 * (SL_CFG_NO_HTTP_PORT_L7) at every http[] rule of it that sets timeout,
 * fault, headers (rule or route level) or retryOn (http_route.c)
 */
void sl_cfg_http_warn(struct sl_config *cfg);
/** sl_cfg_host_has_http - has @h a port Istio's protocol selection makes
 * HTTP (sl_config_port_protocol)?  false for NULL */
bool sl_cfg_host_has_http(const struct sl_host *h);

/** sl_cfg_target_port - the port service port @p targets on a workload or
 * endpoint with port map @m (@n entries); 0 when it has none */
uint32_t sl_cfg_target_port(const struct sl_svc_port *p,
			    const struct sl_portmap *m, size_t n);

#endif /* SL_CONFIG_INTERNAL_H */

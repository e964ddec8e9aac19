/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Telemetry of HTTP requests: the HTTP engine (above flow) describes each
 * finished request in a plain struct sl_obs_http, and sl_obs_http_request()
 * counts it in Istio's request metrics (istio_requests_total and the
 * duration and size histograms, metrics.h) and writes its access log line
 * (accesslog.h).  Observability never reads the engine's own structures.
 *
 * sl_obs_workload_labels() computes Istio's app, version and canonical
 * service labels of a workload from its labels, for the engine to pass.
 *
 * Thread safety: both may be called from any worker thread.
 */
#ifndef SL_HTTP_OBS_H
#define SL_HTTP_OBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sl_label;
struct sl_metrics;
struct sl_accesslog;

/** One finished HTTP request, as its reporting node saw it.  Every string
 * is NUL-terminated and only read during the call; NULL or "" metric
 * labels render as "unknown" (canonical revisions as "latest"). */
struct sl_obs_http {
	bool reporter_destination; /* false: "source" */
	/* source workload */
	const char *src_workload, *src_ns, *src_principal, *src_app;
	const char *src_version;
	const char *src_canonical_service, *src_canonical_revision;
	const char *src_cluster; /* no cluster names yet: NULL */
	/* destination: the service and the endpoint's workload */
	const char *dst_service; /* FQDN, e.g. my-service.default.svc.cluster.local */
	const char *dst_service_name, *dst_service_ns;
	const char *dst_workload, *dst_ns, *dst_principal, *dst_app;
	const char *dst_version;
	const char *dst_canonical_service, *dst_canonical_revision;
	const char *dst_cluster;
	bool plaintext; /* connection_security_policy none */
	/* the request */
	int response_code;	    /* 0: no response (e.g. client went away) */
	const char *response_flags; /* "-" or Istio's, e.g. "UH", "URX,UF" */
	const char *response_code_details; /* Envoy's, e.g.
				"rbac_access_denied_matched_policy[none]";
				NULL: none */
	const char *audit; /* the AUDIT policy that matched the request,
			      "ns[NS]-policy[NAME]-rule[N]", or NULL */
	const char *method, *authority, *path;
	const char *route_name; /* http[].name or NULL */
	const char *upstream;	/* "ip:port" of the last attempt, or NULL */
	const char *src_addr, *dst_addr; /* downstream peer, original
					  * destination */
	/*
	 * Sizes as Istio counts them (its proxy's wire byte meter of the
	 * downstream connection): the request as read from the client
	 * (request line, headers, body with any chunked framing) and the
	 * response as sent to it (status line, headers, body), before TLS.
	 */
	uint64_t request_bytes, response_bytes;
	uint64_t duration_ns; /* first request byte -> last response byte */
	uint64_t start_realtime_ns; /* wall clock at the first request byte */
	unsigned int attempts; /* upstream tries, 0 when none (fault abort, NR) */
	const char *trace_id, *request_id;
	uint64_t flow_id;
};

/**
 * sl_obs_http_request - count @r in the metrics and log it (rate limited)
 * in the daemon's registry and access log (sl_obs_start); a no-op for what
 * is not set up.  Call it from the workers, which sl_obs_stop() outlives
 * (it frees both), as the flows' done callbacks.
 */
void sl_obs_http_request(const struct sl_obs_http *r);

/**
 * sl_obs_http_record - the same into @m and @al (each may be NULL): what
 * sl_obs_http_request() does, for tests and other owners
 */
void sl_obs_http_record(struct sl_metrics *m, struct sl_accesslog *al,
			const struct sl_obs_http *r);

/**
 * sl_obs_workload_labels - Istio's telemetry labels of a workload named
 * @name with @n @labels, as Istio computes them:
 * @app: label `app`, else `app.kubernetes.io/name`, else NULL;
 * @version: label `version`, else `app.kubernetes.io/version`, else NULL;
 * @canon_svc: `service.istio.io/canonical-name`, else
 *             `app.kubernetes.io/name`, else `app`, else @name;
 * @canon_rev: `service.istio.io/canonical-revision`, else
 *             `app.kubernetes.io/version`, else `version`, else "latest".
 * The results point into @labels, @name or a constant (no copy: they live
 * as long as the configuration they come from).  An empty label value
 * counts as set, as in Istio.  Any output pointer may be NULL.
 */
void sl_obs_workload_labels(const struct sl_label *labels, size_t n,
			    const char *name, const char **app,
			    const char **version, const char **canon_svc,
			    const char **canon_rev);

#endif /* SL_HTTP_OBS_H */

/* SPDX-License-Identifier: Apache-2.0 */
/* Request metrics and access log lines of HTTP requests (see http_obs.h). */
#include <string.h>

#include "accesslog.h"
#include "config.h"
#include "http_obs.h"
#include "metrics.h"
#include "obs.h"

void sl_obs_http_record(struct sl_metrics *m, struct sl_accesslog *al,
			const struct sl_obs_http *r)
{
	if (!r)
		return;
	if (m) {
		struct sl_metrics_http_labels l = {
			.reporter_destination = r->reporter_destination,
			.source_workload = r->src_workload,
			.source_workload_namespace = r->src_ns,
			.source_principal = r->src_principal,
			.source_app = r->src_app,
			.source_version = r->src_version,
			.source_canonical_service = r->src_canonical_service,
			.source_canonical_revision = r->src_canonical_revision,
			.source_cluster = r->src_cluster,
			.destination_workload = r->dst_workload,
			.destination_workload_namespace = r->dst_ns,
			.destination_principal = r->dst_principal,
			.destination_app = r->dst_app,
			.destination_version = r->dst_version,
			.destination_service = r->dst_service,
			.destination_service_name = r->dst_service_name,
			.destination_service_namespace = r->dst_service_ns,
			.destination_canonical_service = r->dst_canonical_service,
			.destination_canonical_revision =
				r->dst_canonical_revision,
			.destination_cluster = r->dst_cluster,
			.response_flags = r->response_flags,
			.plaintext = r->plaintext,
			.response_code = r->response_code,
		};

		sl_metrics_http_observe(m, &l, r->duration_ns, r->request_bytes,
					r->response_bytes);
	}
	if (al) {
		struct sl_accesslog_http e = {
			.start_realtime_ns = r->start_realtime_ns,
			.duration_ns = r->duration_ns,
			.inbound = r->reporter_destination,
			.flow_id = r->flow_id,
			.method = r->method,
			.authority = r->authority,
			.path = r->path,
			.response_code = r->response_code,
			.response_flags = r->response_flags,
			.response_code_details = r->response_code_details,
			.audit = r->audit,
			.route = r->route_name,
			.upstream = r->upstream,
			.request_bytes = r->request_bytes,
			.response_bytes = r->response_bytes,
			.attempts = r->attempts,
			.trace_id = r->trace_id,
			.request_id = r->request_id,
			.src_addr = r->src_addr,
			.src_workload = r->src_workload,
			.src_namespace = r->src_ns,
			.src_principal = r->src_principal,
			.dst_addr = r->dst_addr,
			.dst_workload = r->dst_workload,
			.dst_namespace = r->dst_ns,
			.dst_principal = r->dst_principal,
			.dst_service = r->dst_service,
			.plaintext = r->plaintext,
		};

		sl_accesslog_write_http(al, &e);
	}
}

void sl_obs_http_request(const struct sl_obs_http *r)
{
	sl_obs_http_record(sl_obs_metrics(), sl_obs_access_log(), r);
}

/* the value of the first of @keys (NULL-terminated) that @labels has */
static const char *first_label(const struct sl_label *labels, size_t n,
			       const char *const *keys)
{
	for (; *keys; keys++)
		for (size_t i = 0; i < n; i++)
			if (labels[i].key && labels[i].value &&
			    strcmp(labels[i].key, *keys) == 0)
				return labels[i].value;
	return NULL;
}

void sl_obs_workload_labels(const struct sl_label *labels, size_t n,
			    const char *name, const char **app,
			    const char **version, const char **canon_svc,
			    const char **canon_rev)
{
	static const char *const app_keys[] = {
		"app", "app.kubernetes.io/name", NULL,
	};
	static const char *const version_keys[] = {
		"version", "app.kubernetes.io/version", NULL,
	};
	static const char *const svc_keys[] = {
		"service.istio.io/canonical-name", "app.kubernetes.io/name",
		"app", NULL,
	};
	static const char *const rev_keys[] = {
		"service.istio.io/canonical-revision",
		"app.kubernetes.io/version", "version", NULL,
	};
	const char *v;

	if (!labels)
		n = 0;
	if (app)
		*app = first_label(labels, n, app_keys);
	if (version)
		*version = first_label(labels, n, version_keys);
	if (canon_svc) {
		v = first_label(labels, n, svc_keys);
		*canon_svc = v ? v : name;
	}
	if (canon_rev) {
		v = first_label(labels, n, rev_keys);
		*canon_rev = v ? v : "latest";
	}
}

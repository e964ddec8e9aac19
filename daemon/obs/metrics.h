/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Prometheus metrics of the data path, with Istio's names and labels so
 * that Istio's dashboards work unchanged: the TCP series (istio_tcp_*), the
 * HTTP request series (istio_requests_total and the duration and size
 * histograms), plus a handshake latency histogram.  Process-wide counters
 * (daemon/core/stats.h) are rendered by the exporter (obs_export.c); this
 * module keeps what needs labels.
 *
 * Label cardinality is bounded: each family group (TCP, HTTP) keeps its
 * series in a fixed-size open-addressing table; once it is full, new label
 * sets are folded into overflow series whose workload/service labels are
 * all "other", and each such fold is counted
 * (sluice_metrics_series_overflow_total).  A series is identified by its
 * rendered label set, so two label sets that render alike are one series.
 *
 * Thread safety: every function may be called from any thread; the series
 * tables are protected by one mutex (held for a hash lookup and a few adds;
 * the label set is built and hashed before it is taken), the handshake
 * histogram uses relaxed atomics.
 */
#ifndef SL_METRICS_H
#define SL_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SL_METRICS_DEFAULT_SERIES 4096
#define SL_METRICS_DEFAULT_HTTP_SERIES 1024
#define SL_METRICS_LABEL_MAX 256 /* longer label values are truncated */

/** The Istio TCP labels of one flow; NULL or "" values render as "unknown". */
struct sl_metrics_labels {
	bool reporter_destination; /* false: "source" (outbound side) */
	const char *source_workload;
	const char *source_workload_namespace;
	const char *source_principal; /* "spiffe://..." */
	const char *destination_workload;
	const char *destination_workload_namespace;
	const char *destination_service;
	const char *destination_principal;
	const char *response_flags; /* "-" when NULL or "" */
	bool plaintext; /* connection_security_policy "none", else
			 * "mutual_tls" */
};

/**
 * The Istio labels of one HTTP request.  NULL or "" strings render as
 * "unknown", except the canonical revisions ("latest", as Istio) and
 * response_flags ("-").  request_protocol is "http" and
 * grpc_response_status "" (no gRPC yet).
 */
struct sl_metrics_http_labels {
	bool reporter_destination; /* false: "source" */
	const char *source_workload, *source_workload_namespace;
	const char *source_principal, *source_app, *source_version;
	const char *source_canonical_service, *source_canonical_revision;
	const char *source_cluster;
	const char *destination_workload, *destination_workload_namespace;
	const char *destination_principal, *destination_app;
	const char *destination_version;
	const char *destination_service; /* FQDN */
	const char *destination_service_name, *destination_service_namespace;
	const char *destination_canonical_service;
	const char *destination_canonical_revision;
	const char *destination_cluster;
	const char *response_flags;
	bool plaintext; /* connection_security_policy "none" / "mutual_tls" */
	int response_code; /* 0: no response; outside 100..999 counts as 0 */
};

/* handshake latency buckets, seconds (le labels) */
#define SL_METRICS_HS_BUCKETS 12
/* Istio's (Envoy's default) histogram buckets, for the request duration in
 * milliseconds and for the request and response sizes in bytes alike */
#define SL_METRICS_HTTP_BUCKETS 19

struct sl_metrics;

/**
 * sl_metrics_new - create an empty registry
 * @max_series: capacity of the TCP series table (0: default 4096),
 *              including its overflow series; at least 2
 * @max_http_series: capacity of the HTTP series table (0: default 1024),
 *              including its 20 overflow series; at least 21
 * @out: the registry; free with sl_metrics_free()
 * @retval 0 or -ENOMEM / -EINVAL
 */
int sl_metrics_new(size_t max_series, size_t max_http_series,
		   struct sl_metrics **out);

/** sl_metrics_free - free @m; NULL-safe */
void sl_metrics_free(struct sl_metrics *m);

/**
 * sl_metrics_tcp_add - add to the Istio TCP counters of the series @l
 * @opened, @closed: connections opened / closed (0 or 1 usually)
 * @sent: bytes sent by the reporting proxy towards the destination
 *        (istio_tcp_sent_bytes_total); @received: bytes back
 * Strings are copied.  When the table is full the overflow series is
 * used and counted.
 */
void sl_metrics_tcp_add(struct sl_metrics *m, const struct sl_metrics_labels *l,
			uint64_t opened, uint64_t closed, uint64_t sent,
			uint64_t received);

/**
 * sl_metrics_http_observe - count one finished request of the series @l:
 * istio_requests_total += 1, and one observation in each histogram
 * @duration_ns: istio_request_duration_milliseconds (bucketed on the
 *               exact duration; the sum keeps nanoseconds)
 * @request_bytes, @response_bytes: istio_request_bytes, istio_response_bytes
 * Strings are copied.  When the table is full the request is counted in
 * the overflow series of its reporter and response class (the
 * response_code label is "1xx" ... "9xx", or "0"), and the fold counted.
 */
void sl_metrics_http_observe(struct sl_metrics *m,
			     const struct sl_metrics_http_labels *l,
			     uint64_t duration_ns, uint64_t request_bytes,
			     uint64_t response_bytes);

/** sl_metrics_handshake_observe - one handshake took @ns nanoseconds */
void sl_metrics_handshake_observe(struct sl_metrics *m, uint64_t ns);

/** sl_metrics_overflows - label sets folded into "other" series (TCP and
 * HTTP) */
uint64_t sl_metrics_overflows(struct sl_metrics *m);

/** sl_metrics_series - TCP series in use (including the overflow series) */
size_t sl_metrics_series(struct sl_metrics *m);

/** sl_metrics_http_series - HTTP series in use (overflow ones included) */
size_t sl_metrics_http_series(struct sl_metrics *m);

/**
 * sl_metrics_render - write the istio_tcp_* families, the HTTP request
 * families (only once a request was counted), the overflow counter and the
 * handshake histogram in the Prometheus text format (0.0.4) to @out,
 * series in insertion order.  The HTTP numbers are copied under the lock
 * and written without it.
 * @retval 0, -ENOMEM, or -EIO when writing failed
 */
int sl_metrics_render(struct sl_metrics *m, FILE *out);

/**
 * sl_metrics_escape - write @s as a Prometheus label value (without the
 * quotes): backslash, double quote and newline escaped, at most
 * SL_METRICS_LABEL_MAX bytes of @s (cut at a character boundary), every
 * byte outside well-formed UTF-8 written as '?' (the text format is UTF-8:
 * one bad byte would make Prometheus reject the whole scrape)
 */
void sl_metrics_escape(FILE *out, const char *s);

#endif /* SL_METRICS_H */

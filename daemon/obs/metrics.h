/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Prometheus metrics of the data path, with Istio's names so that Istio's
 * TCP dashboards work unchanged (istio_tcp_*), plus a handshake latency
 * histogram.  Process-wide counters (daemon/core/stats.h) are rendered by the
 * exporter (obs.c); this module keeps what needs labels.
 *
 * Label cardinality is bounded: the per-(reporter, source workload,
 * destination workload, service, flags) series live in a fixed-size
 * open-addressing table; once it is full, new label sets are folded into
 * one series whose workload/service labels are all "other", and each such
 * fold is counted (sluice_metrics_series_overflow_total).
 *
 * Thread safety: every function may be called from any thread; the series
 * table is protected by a mutex (held for a hash lookup and four adds), the
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

/* handshake latency buckets, seconds (le labels) */
#define SL_METRICS_HS_BUCKETS 12

struct sl_metrics;

/**
 * sl_metrics_new - create an empty registry
 * @max_series: capacity of the labelled series table (0: default 4096),
 *              including the overflow series
 * @out: the registry; free with sl_metrics_free()
 * @retval 0 or -ENOMEM / -EINVAL
 */
int sl_metrics_new(size_t max_series, struct sl_metrics **out);

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

/** sl_metrics_handshake_observe - one handshake took @ns nanoseconds */
void sl_metrics_handshake_observe(struct sl_metrics *m, uint64_t ns);

/** sl_metrics_overflows - label sets folded into the "other" series */
uint64_t sl_metrics_overflows(struct sl_metrics *m);

/** sl_metrics_series - series in use (including the overflow series) */
size_t sl_metrics_series(struct sl_metrics *m);

/**
 * sl_metrics_render - write the istio_tcp_* families, the handshake
 * histogram and the overflow counter in the Prometheus text format (0.0.4)
 * to @out, series in insertion order
 * @retval 0, or -EIO when writing failed
 */
int sl_metrics_render(struct sl_metrics *m, FILE *out);

/**
 * sl_metrics_escape - write @s as a Prometheus label value (without the
 * quotes): backslash, double quote and newline escaped
 */
void sl_metrics_escape(FILE *out, const char *s);

#endif /* SL_METRICS_H */

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Observability glue between the data path and its outputs: the registry
 * of live flows (`sluice conns`), the per-flow Istio metrics and the access
 * log (both at flow close; per HTTP request: http_obs.h), the full
 * Prometheus exposition and the health/readiness answers of the telemetry
 * port (15020).
 *
 * Live flows: one mutex-protected list for the process.  A flow is added
 * when its relay starts and removed when the relay reports its end; the
 * admin socket copies the list under the lock (a few hundred bytes per flow)
 * and formats the copy without it, so the data path waits at most for one
 * memcpy per listed flow.
 *
 * Everything here is process-wide (one daemon per process) and thread safe.
 */
#ifndef SL_OBS_H
#define SL_OBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "json.h"

struct sl_daemon;
struct sl_flow;
struct sl_relay_params;
struct sl_reload;

struct sl_obs_opts {
	const char *http_addr;	  /* NULL: "127.0.0.1" */
	int http_port;		  /* -1: no HTTP server; 0: any port */
	bool access_log;	  /* write the access log to stdout */
	unsigned int log_rate;	  /* lines/s, 0: default 100 */
	unsigned int log_burst;	  /* 0: default 200 */
	uint64_t stall_ns;	  /* /healthz: a worker whose heartbeat (loop.h)
				   * is older is stalled; 0: default 10 s */
};

/**
 * sl_obs_start - set up metrics, access log and the HTTP server for @d
 * @retval 0 or -errno (logged); the daemon may go on without them
 */
int sl_obs_start(struct sl_daemon *d, const struct sl_obs_opts *o);

/** sl_obs_http_port - the telemetry server's port; 0 when it does not run */
uint16_t sl_obs_http_port(void);

/** sl_obs_stop - stop the HTTP server and free everything; idempotent */
void sl_obs_stop(void);

/** What observability reports of the configuration holder. */
struct sl_obs_config_state {
	uint64_t failures; /* failed reloads (refused ones included) */
	uint64_t refused;  /* loaded but refused (the hollow-config guard) */
	uint64_t warnings; /* warnings of the running configuration */
	char last_error[512];
};

/* fills @out; called from any thread (the telemetry and admin threads) */
typedef void (*sl_obs_config_fn)(void *arg, struct sl_obs_config_state *out);

/**
 * sl_obs_set_config_source - where the configuration state comes from
 * (main registers the live reload here: observability is fed, it does not
 * reach into control/); NULL: none
 */
void sl_obs_set_config_source(sl_obs_config_fn fn, void *arg);

/** sl_obs_reload_result - report a configuration reload (SIGHUP path);
 * @error: NULL on success, else a one-line reason (copied): counted, and
 * shown as the last reload error until the next failure */
void sl_obs_reload_result(const char *error);

/** sl_obs_handshake_done - a handshake completed after @ns nanoseconds */
void sl_obs_handshake_done(uint64_t ns);

/** sl_obs_steer_restored - the steering table was found missing and put
 * back (sluice_steering_restores_total) */
void sl_obs_steer_restored(void);

struct sl_obs_conn;

/**
 * sl_obs_flow_wrap - register the flow described by @c (the flow fills it:
 * observability never reads struct sl_flow) as a live flow and interpose
 * on @p's done callback so that its close is counted and logged; call
 * right before sl_relay_start(..., @p).  On ENOMEM @p is left unchanged
 * (the flow is relayed but not observed).  @c is copied; its age_ns is set
 * here.
 */
void sl_obs_flow_wrap(const struct sl_obs_conn *c, struct sl_relay_params *p);

/**
 * sl_obs_flow_unwrap - undo sl_obs_flow_wrap() after sl_relay_start()
 * failed (done will not be called); restores @p's callback
 */
void sl_obs_flow_unwrap(struct sl_relay_params *p);

#define SL_OBS_ADDR_LEN 56
#define SL_OBS_NAME_LEN 128
#define SL_OBS_ID_LEN 256

/** One live flow, as `sluice conns` shows it (a copy). */
struct sl_obs_conn {
	uint64_t id;
	bool outbound, ktls;
	bool plaintext; /* no TLS (PERMISSIVE/DISABLE plaintext flow) */
	uint64_t age_ns;
	char src_addr[SL_OBS_ADDR_LEN], dst_addr[SL_OBS_ADDR_LEN];
	char endpoint[SL_OBS_ADDR_LEN];
	char service[256]; /* destination_service: a FQDN (or an address) */
	char src_wl[SL_OBS_NAME_LEN], src_ns[SL_OBS_NAME_LEN];
	char src_id[SL_OBS_ID_LEN];
	char dst_wl[SL_OBS_NAME_LEN], dst_ns[SL_OBS_NAME_LEN];
	char dst_id[SL_OBS_ID_LEN];
	/* bytes so far, as in the access log: sent = from the flow's
	 * initiator side (pod -> mesh on outbound, mesh -> pod on inbound) */
	uint64_t bytes_sent, bytes_received;
};

/**
 * sl_obs_conns - copy the live flows, oldest first
 * @out: array of @n; caller frees it with free(3) (NULL when @n is 0)
 * @retval 0 or -ENOMEM
 */
int sl_obs_conns(struct sl_obs_conn **out, size_t *n);

/**
 * sl_obs_render - the whole Prometheus exposition (text format 0.0.4)
 * @retval 0 or -EIO
 */
int sl_obs_render(struct sl_daemon *d, FILE *out);

/**
 * sl_obs_ready - are configuration (with --kubernetes: holding the API's
 * view or the one saved), the identities of every local workload
 * (minted on first use in CA mode) and steering (--steer) in place?
 * @why, @len: the reason when not (one line)
 */
bool sl_obs_ready(struct sl_daemon *d, char *why, size_t len);

/** sl_obs_ktls_available - this kernel can do kTLS (probed at start) */
bool sl_obs_ktls_available(void);

/** sl_obs_flows_by_mode - relayed flows open now, per data path: kernel
 * TLS, userspace TLS, plaintext (PERMISSIVE/DISABLE) */
void sl_obs_flows_by_mode(uint64_t *ktls, uint64_t *userspace,
			  uint64_t *plain);

/** sl_obs_start_time - wall clock at sl_obs_start(), seconds */
uint64_t sl_obs_start_time(void);

/** sl_obs_reload_failures / sl_obs_last_reload_error - SIGHUP reloads */
uint64_t sl_obs_reload_failures(void);
/** sl_obs_reload_refused - reloads the hollow-config guard refused (among
 * the failures) */
uint64_t sl_obs_reload_refused(void);
/** sl_obs_config_warnings - warnings of the running configuration */
uint64_t sl_obs_config_warnings(void);
/** copies the last error ("" if none) into @buf */
void sl_obs_last_reload_error(char *buf, size_t len);

/** sl_obs_set_health - the outlier/retry state to report on (or NULL) */
struct sl_health;
void sl_obs_set_health(const struct sl_health *h);

/** sl_obs_steer_restores - sluice_steering_restores_total */
uint64_t sl_obs_steer_restores(void);

/** sl_obs_health_stats - ejections and retries (0 without a health table) */
void sl_obs_health_stats(uint64_t *ejections, uint64_t *retries);

/** sl_obs_metrics - the labelled-series registry (for the exporter) */
struct sl_metrics *sl_obs_metrics(void);

/** sl_obs_access_log - the access log (NULL when off or not started) */
struct sl_accesslog *sl_obs_access_log(void);

/** sl_obs_access_log_dropped - lines the rate limit dropped */
uint64_t sl_obs_access_log_dropped(void);

#endif /* SL_OBS_H */

/* SPDX-License-Identifier: Apache-2.0 */
/* Process-wide data path counters and their JSON form. */
#include "daemon.h"
#include "json.h"
#include "stats.h"

struct sl_stats sl_stats;

static const char *const stat_names[SL_STAT__MAX] = {
	[SL_STAT_FLOWS_OPENED] = "flows_opened",
	[SL_STAT_FLOWS_CLOSED] = "flows_closed",
	[SL_STAT_OUTBOUND_OPENED] = "outbound_opened",
	[SL_STAT_INBOUND_OPENED] = "inbound_opened",
	[SL_STAT_RELAYS_STARTED] = "relays_started",
	[SL_STAT_RELAYS_KTLS] = "flows_ktls",
	[SL_STAT_RELAYS_USERSPACE] = "flows_userspace",
	[SL_STAT_BYTES_POD_TO_MESH] = "bytes_pod_to_mesh",
	[SL_STAT_BYTES_MESH_TO_POD] = "bytes_mesh_to_pod",
	[SL_STAT_HANDSHAKES_OK] = "handshakes_ok",
	[SL_STAT_HANDSHAKES_FAILED] = "handshakes_failed",
	[SL_STAT_REFUSED_UNKNOWN_SOURCE] = "refused_unknown_source",
	[SL_STAT_REFUSED_NO_ORIG_DST] = "refused_no_orig_dst",
	[SL_STAT_REFUSED_UNKNOWN_DEST] = "refused_unknown_dest",
	[SL_STAT_NO_ROUTE] = "no_route",
	[SL_STAT_NO_IDENTITY] = "no_identity",
	[SL_STAT_CONNECT_FAILED] = "connect_failed",
	[SL_STAT_SHED] = "shed",
	[SL_STAT_ACCEPT_ERRORS] = "accept_errors",
	[SL_STAT_PREAMBLE_ERRORS] = "preamble_errors",
	[SL_STAT_KTLS_INSTALL_FAILED] = "ktls_install_failed",
	[SL_STAT_KTLS_FALLBACKS] = "ktls_fallbacks",
	[SL_STAT_UNEXPECTED_KTLS_RECORDS] = "unexpected_ktls_records",
	[SL_STAT_RELAY_RESETS] = "relay_resets",
	[SL_STAT_RELAY_IDLE] = "relay_idle_timeouts",
	[SL_STAT_RELAY_MAX_DURATION] = "relay_max_duration",
	[SL_STAT_ADMIN_REFUSED] = "admin_refused",
	[SL_STAT_ADMIN_TIMEOUTS] = "admin_timeouts",
	[SL_STAT_ADMIN_SHED] = "admin_shed",
	[SL_STAT_AUTHZ_DENIED] = "authz_denied",
	[SL_STAT_PLAINTEXT_REFUSED] = "plaintext_refused",
	[SL_STAT_REFUSED_NODE_BINDING] = "refused_node_binding",
	[SL_STAT_NODE_BINDING_UNKNOWN] = "node_binding_unknown_source",
	[SL_STAT_PLAINTEXT_INBOUND] = "plaintext_inbound",
	[SL_STAT_PLAINTEXT_OUTBOUND] = "plaintext_outbound",
	[SL_STAT_RELAYS_PLAIN] = "flows_plain",
	[SL_STAT_POOL_HITS] = "pool_hits",
	[SL_STAT_POOL_MISSES] = "pool_misses",
	[SL_STAT_POOL_EXPIRED] = "pool_expired",
	[SL_STAT_POOL_DROPPED] = "pool_dropped",
	[SL_STAT_POOL_HANDSHAKES] = "pool_handshakes",
	[SL_STAT_POOL_REFILL_FAILED] = "pool_refill_failed",
	[SL_STAT_PREAMBLE_EARLY] = "preamble_early_data",
	[SL_STAT_POOL_RECORD_LAYER] = "pool_record_layer",
	[SL_STAT_INBOUND_RECORD_LAYER] = "inbound_record_layer",
	[SL_STAT_HANDSHAKES_RESUMED] = "handshakes_resumed",
	[SL_STAT_POOL_TICKETS] = "pool_tickets",
	[SL_STAT_RELAY_HALF_CLOSE] = "relay_half_close_timeouts",
	[SL_STAT_SHED_OUTBOUND] = "shed_outbound",
	[SL_STAT_SHED_INBOUND] = "shed_inbound",
	[SL_STAT_SHED_PENDING] = "shed_pending",
	[SL_STAT_SHED_PER_SOURCE] = "shed_per_source",
	[SL_STAT_SHED_FD_RESERVE] = "shed_fd_reserve",
	[SL_STAT_HELLO_TIMEOUTS] = "hello_timeouts",
	[SL_STAT_ACCEPT_PAUSED] = "accept_paused",
	[SL_STAT_HTTP_CONNECTIONS] = "http_connections",
	[SL_STAT_HTTP_BAD_REQUESTS] = "http_bad_requests",
	[SL_STAT_HTTP_MIRRORED] = "http_mirrored",
	[SL_STAT_HTTP_MIRROR_DROPPED] = "http_mirror_dropped",
};

uint64_t sl_stat_get(enum sl_stat s)
{
	return atomic_load_explicit(&sl_stats.v[s], memory_order_relaxed);
}

const char *sl_stat_name(enum sl_stat s)
{
	return (unsigned int)s < SL_STAT__MAX ? stat_names[s] : "?";
}

void sl_stats_hs_fail(enum sl_tls_fail f)
{
	if ((unsigned int)f >= SL_TLS_FAIL__MAX)
		f = SL_TLS_FAIL_INTERNAL;
	sl_stat_inc(SL_STAT_HANDSHAKES_FAILED);
	atomic_fetch_add_explicit(&sl_stats.hs_fail[f], 1, memory_order_relaxed);
}

uint64_t sl_stats_hs_fail_get(enum sl_tls_fail f)
{
	if ((unsigned int)f >= SL_TLS_FAIL__MAX)
		return 0;
	return atomic_load_explicit(&sl_stats.hs_fail[f], memory_order_relaxed);
}

int64_t sl_stats_active(void)
{
	return atomic_load_explicit(&sl_stats.active, memory_order_relaxed);
}

void sl_stats_flow_open(void)
{
	atomic_fetch_add_explicit(&sl_stats.active, 1, memory_order_relaxed);
	sl_stat_inc(SL_STAT_FLOWS_OPENED);
}

void sl_stats_flow_close(void)
{
	atomic_fetch_sub_explicit(&sl_stats.active, 1, memory_order_relaxed);
	sl_stat_inc(SL_STAT_FLOWS_CLOSED);
}

void sl_stats_write_json(FILE *out,
			 void (*extra)(struct sl_json *j, void *arg), void *arg)
{
	struct sl_json j;

	sl_json_init(&j, out, false);
	sl_json_obj_begin(&j);
	for (int s = 0; s < SL_STAT__MAX; s++)
		sl_json_kv_uint(&j, stat_names[s], sl_stat_get(s));
	sl_json_kv_int(&j, "flows_active", sl_stats_active());
	sl_json_kv_uint(&j, "steering_restores",
			atomic_load_explicit(&sl_stats.steering_restores,
					     memory_order_relaxed));
	sl_json_kv_int(&j, "pool_ready",
		       atomic_load_explicit(&sl_stats.pool_ready,
					    memory_order_relaxed));
	if (extra) /* gauges of the modules above (admission, ...) */
		extra(&j, arg);
	sl_json_key(&j, "handshake_failures");
	sl_json_obj_begin(&j);
	for (int f = 1; f < SL_TLS_FAIL__MAX; f++)
		sl_json_kv_uint(&j, sl_tls_fail_name(f), sl_stats_hs_fail_get(f));
	sl_json_obj_end(&j);
	sl_json_obj_end(&j);
}

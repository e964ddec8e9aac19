/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Process-wide counters of the data path.  Every counter is a relaxed
 * atomic: workers bump them without locks, readers (the admin socket, the
 * metrics exporter) see a slightly racy but monotonic view.
 */
#ifndef SL_STATS_H
#define SL_STATS_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "tls.h"

enum sl_stat {
	SL_STAT_FLOWS_OPENED,	  /* accepted and admitted (both directions) */
	SL_STAT_FLOWS_CLOSED,	  /* ended after admission, any reason */
	SL_STAT_OUTBOUND_OPENED,
	SL_STAT_INBOUND_OPENED,
	SL_STAT_RELAYS_STARTED,
	SL_STAT_RELAYS_KTLS,	  /* relays on kernel TLS */
	SL_STAT_RELAYS_USERSPACE, /* relays on userspace TLS */
	SL_STAT_BYTES_POD_TO_MESH, /* plaintext from a pod side */
	SL_STAT_BYTES_MESH_TO_POD, /* plaintext to a pod side */
	SL_STAT_HANDSHAKES_OK,
	SL_STAT_HANDSHAKES_FAILED,
	SL_STAT_REFUSED_UNKNOWN_SOURCE,
	SL_STAT_REFUSED_NO_ORIG_DST,
	SL_STAT_REFUSED_UNKNOWN_DEST, /* inbound: dialed address not a local workload */
	SL_STAT_NO_ROUTE,	  /* outbound: nothing known at the destination */
	SL_STAT_NO_IDENTITY,	  /* certstore had no identity */
	SL_STAT_CONNECT_FAILED,	  /* mesh or pod connect failed / timed out */
	SL_STAT_SHED,		  /* refused (RST) over a cap or the fd reserve */
	SL_STAT_ACCEPT_ERRORS,
	SL_STAT_PREAMBLE_ERRORS,
	SL_STAT_KTLS_INSTALL_FAILED,
	SL_STAT_KTLS_FALLBACKS,	  /* peer FIN before the install: userspace */
	SL_STAT_UNEXPECTED_KTLS_RECORDS,
	SL_STAT_RELAY_RESETS,
	SL_STAT_RELAY_IDLE,
	SL_STAT_RELAY_MAX_DURATION, /* reset at maxConnectionDuration */
	SL_STAT_ADMIN_REFUSED,
	SL_STAT_ADMIN_TIMEOUTS,	  /* admin connections closed at their deadline */
	SL_STAT_ADMIN_SHED,	  /* admin connections closed at the cap (admin.h) */
	SL_STAT_AUTHZ_DENIED,	  /* inbound: AuthorizationPolicy denied */
	SL_STAT_PLAINTEXT_REFUSED, /* plaintext to a STRICT port refused */
	SL_STAT_PLAINTEXT_INBOUND, /* plaintext flows relayed to a local pod */
	SL_STAT_PLAINTEXT_OUTBOUND, /* flows sent without mTLS (DISABLE) */
	SL_STAT_RELAYS_PLAIN,	  /* relays plain <-> plain */
	SL_STAT_POOL_HITS,	  /* outbound flow served a pooled connection */
	SL_STAT_POOL_MISSES,	  /* pooling on, nothing usable: dialed */
	SL_STAT_POOL_EXPIRED,	  /* pooled connection idle too long: closed */
	SL_STAT_POOL_DROPPED,	  /* pooled connection closed: peer EOF/error,
				   * rotation, peer cert expiry, shutdown */
	SL_STAT_POOL_HANDSHAKES,  /* handshakes done by pool refills (also
				   * in handshakes_ok) */
	SL_STAT_POOL_REFILL_FAILED, /* refill connect or handshake failed */
	SL_STAT_PREAMBLE_EARLY,	  /* outbound: pod bytes went with the preamble */
	SL_STAT_POOL_RECORD_LAYER, /* pooled connections taken over by the
				    * record layer when ready (userspace) */
	SL_STAT_INBOUND_RECORD_LAYER, /* inbound connections taken over by
				       * it after the handshake (userspace) */
	SL_STAT_HANDSHAKES_RESUMED, /* TLS 1.3 resumptions, either side (also
				     * in handshakes_ok) */
	SL_STAT_POOL_TICKETS,	  /* session tickets pool refills received */
	SL_STAT_RELAY_HALF_CLOSE, /* reset: half-closed, no traffic for
				   * --half-close-timeout (relay.h) */
	/* admission (daemon.h, issue 24): every refusal is also in SHED */
	SL_STAT_SHED_OUTBOUND,	  /* outbound budget full */
	SL_STAT_SHED_INBOUND,	  /* inbound budget full (at accept or auth) */
	SL_STAT_SHED_PENDING,	  /* pending handshake cap reached */
	SL_STAT_SHED_PER_SOURCE,  /* the source's pending cap reached */
	SL_STAT_SHED_FD_RESERVE,  /* the new fd fell into the fd reserve */
	SL_STAT_HELLO_TIMEOUTS,	  /* no first TLS record within the deadline */
	SL_STAT_ACCEPT_PAUSED,	  /* accept paused: out of fds or memory */
	SL_STAT_HTTP_CONNECTIONS, /* client connections the HTTP engine took */
	SL_STAT_HTTP_BAD_REQUESTS, /* request heads refused by the parser */
	SL_STAT_HTTP_MIRRORED,	   /* mirror copies started */
	SL_STAT_HTTP_MIRROR_DROPPED, /* mirror copies not made: over the cap of
				      * copies in flight, or no connection */
	SL_STAT_REFUSED_NODE_BINDING, /* inbound: the peer's identity has no
				       * pod on the node it comes from */
	SL_STAT_NODE_BINDING_UNKNOWN, /* inbound: the source address is no
				       * Node's nor pod's: not checked */
	SL_STAT__MAX,
};

struct sl_stats {
	atomic_uint_fast64_t v[SL_STAT__MAX];
	atomic_uint_fast64_t hs_fail[SL_TLS_FAIL__MAX]; /* by reason */
	atomic_int_fast64_t active;			  /* flows open now */
	/* --steer: table found changed/gone and re-applied; kept out of v[]
	 * (the metric is sluice_steering_restores_total, obs.h) */
	atomic_uint_fast64_t steering_restores;
	/* pooled connections ready now, all workers (pool.h) */
	atomic_int_fast64_t pool_ready;
};

extern struct sl_stats sl_stats;

/** sl_stat_add - add @n to counter @s */
static inline void sl_stat_add(enum sl_stat s, uint64_t n)
{
	atomic_fetch_add_explicit(&sl_stats.v[s], n, memory_order_relaxed);
}

static inline void sl_stat_inc(enum sl_stat s)
{
	sl_stat_add(s, 1);
}

/** sl_stat_get - current value of @s */
uint64_t sl_stat_get(enum sl_stat s);

/** sl_stat_name - stable snake_case name of @s (the JSON key) */
const char *sl_stat_name(enum sl_stat s);

/** sl_stats_hs_fail - count one failed handshake with reason @f */
void sl_stats_hs_fail(enum sl_tls_fail f);

/** sl_stats_hs_fail_get - failed handshakes with reason @f so far */
uint64_t sl_stats_hs_fail_get(enum sl_tls_fail f);

/** sl_stats_active - flows open now (admitted, not yet closed) */
int64_t sl_stats_active(void);
void sl_stats_flow_open(void);
void sl_stats_flow_close(void);

struct sl_json;
/**
 * sl_stats_write_json - write every counter as one JSON object (one line,
 * no trailing newline) to @out
 * @extra: adds the members of modules above the core (their gauges) before
 *         the object closes; may be NULL
 */
void sl_stats_write_json(FILE *out,
			 void (*extra)(struct sl_json *j, void *arg), void *arg);

#endif /* SL_STATS_H */

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private parts of the HTTP engine: upstream legs (leg.c) and the client
 * connection state machine (conn.c).
 */
#ifndef SL_L7_INTERNAL_H
#define SL_L7_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "entry.h"
#include "ip.h"
#include "loop.h"
#include "stream.h"

struct sl_wctx;
struct sl_config;
struct sl_workload;
struct sl_endpoint;
struct sl_dest_policy;

#define SL_L7_ID_MAX 256

/* what an upstream leg can be reused for */
struct sl_l7_key {
	char src_id[SL_L7_ID_MAX]; /* source SPIFFE ID, "" for none */
	char cluster[SL_L7_ID_MAX]; /* "host|subset|port": a connection pool
				     * belongs to one destination (its
				     * connectionPool settings, as Envoy's
				     * per-cluster pools) */
	struct sl_ip addr;	   /* endpoint address */
	uint16_t port;		   /* endpoint port */
	bool plain;		   /* DestinationRule tls DISABLE */
};

/*
 * One upstream leg: the mesh socket of an outbound flow pinned to one
 * endpoint, taken over from the flow once it is ready (handshake, preamble,
 * kTLS or not: sl_outbound_direct), read and written through @st; or, on
 * the destination side, our end of the socketpair to the pod's relay
 * (sl_l7_leg_fixed).  Owned by the connection using it (@owner), or by the
 * worker's idle list; freed by sl_l7_leg_close once no op of its own is in
 * flight.
 */
struct sl_l7_leg {
	struct sl_l7_stream st; /* the socket (st.fd) and its TLS, if any */
	struct sl_outbound_direct dc; /* what the flow handed over (dc.lb
				       * held until the leg closes) */
	struct sl_l7_key key;
	struct sl_wctx *wc;
	void (*ready)(void *owner, struct sl_l7_leg *leg, int err);
	void *owner;	  /* NULL: idle or orphaned */
	bool connecting;  /* waiting for the flow's ready() */
	bool closed;	  /* socket closed; freed when nothing is in flight */
	unsigned int requests; /* requests sent on it */
	uint64_t born;	  /* when the flow handed it over */
	uint64_t idle_since;
	uint64_t idle_ns; /* connectionPool.http.idleTimeout (else 60 s), at
			   * most the flow's relay idle timeout */
	struct sl_op poll_op; /* idle: the upstream closing or talking */
	bool poll_armed;
	struct sl_l7_leg *prev, *next; /* the worker's idle list */
};

/** sl_l7_leg_fd - the leg's socket (-1 once closed) */
static inline int sl_l7_leg_fd(const struct sl_l7_leg *leg)
{
	return leg->st.fd;
}

/**
 * sl_l7_leg_get - a leg for @key: an idle one (ready at once: returns it
 * with *@now true), or a new one (connecting: @ready(owner, leg, err)
 * follows, 0 once the flow handed its mesh socket over, -errno when it
 * failed; the leg is then closed by the caller)
 * @retval the leg, or NULL with *@err (-EBUSY: outbound budget full)
 */
struct sl_l7_leg *sl_l7_leg_get(struct sl_wctx *wc, struct sl_config *cfg,
				const struct sl_l7_key *key,
				const struct sl_workload *src,
				const struct sl_ip *src_ip, uint16_t src_port,
				const struct sl_ip *orig_dst, uint16_t orig_port,
				const struct sl_endpoint *ep,
				const struct sl_dest_policy *pol,
				void (*ready)(void *, struct sl_l7_leg *, int),
				void *owner, bool *now, int *err);

/**
 * sl_l7_leg_put - the request on @leg is over: keep it idle for reuse when
 * @reuse (and the worker is not stopping), else close it
 */
void sl_l7_leg_put(struct sl_l7_leg *leg, bool reuse);

/**
 * sl_l7_leg_fixed - a leg over an already connected @fd (the destination
 * side: the local pod), owned by @owner, never idle-listed; NULL on ENOMEM
 */
struct sl_l7_leg *sl_l7_leg_fixed(struct sl_wctx *wc, int fd, void *owner);

/**
 * sl_l7_leg_close - close @leg's socket (close_notify first on TLS, when
 * no send is half done), cancel its stream's operation; it is freed, and
 * what its flow handed over given back, when safe (NULL-safe)
 */
void sl_l7_leg_close(struct sl_l7_leg *leg);

/** sl_l7_legs_stop - close every idle leg of this thread */
void sl_l7_legs_stop(void);

/**
 * sl_l7_shadow_start - send @req (@len bytes: a whole request with
 * "Connection: close"; malloc'd, taken over in any case) to @ep over a leg
 * of its own and drop the response (shadow.c: VirtualService mirror)
 * @retval 0 started; -EBUSY too many shadows in flight on this worker,
 *         -errno the leg could not be had
 */
int sl_l7_shadow_start(struct sl_wctx *wc, struct sl_config *cfg,
		       const struct sl_l7_key *key,
		       const struct sl_workload *src, const struct sl_ip *src_ip,
		       uint16_t src_port, const struct sl_ip *orig_dst,
		       uint16_t orig_port, const struct sl_endpoint *ep,
		       const struct sl_dest_policy *pol, char *req, size_t len);

/** sl_l7_conns_stop - close idle client connections of this thread */
void sl_l7_conns_stop(void);

#endif /* SL_L7_INTERNAL_H */

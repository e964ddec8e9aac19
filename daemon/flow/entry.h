/* SPDX-License-Identifier: Apache-2.0 */
/* Where an accepted connection enters its flow: outbound (outbound.c),
 * inbound mTLS (hello.c, inbound.c), plaintext inbound (plain_inbound.c). */
#ifndef SL_DAEMON_ENTRY_H
#define SL_DAEMON_ENTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "ip.h"

struct sl_wctx;
struct sl_admission;
struct sl_workload;
struct sl_endpoint;
struct sl_dest_policy;
struct sl_config;

/** sl_outbound_start - take over @fd, a pod connection redirected to us */
void sl_outbound_start(struct sl_wctx *wc, int fd);

/**
 * What an outbound connection is, once sl_outbound_start has found its
 * source and original destination: handed to the L7 hook.
 */
struct sl_outbound_info {
	struct sl_config *cfg; /* the snapshot the decision used (a reference
				* the hook takes over) */
	const struct sl_workload *src; /* NULL: allowUnknownSource */
	struct sl_ip src_ip, dst;
	uint16_t src_port, dst_port;
	uint64_t flow_id;
};

/**
 * sl_outbound_l7_fn - offered every outbound connection before its L4
 * route; returns true when it takes the connection over: @fd, the
 * outbound budget place and the open-flow count are then its (released
 * with sl_outbound_l7_release), and @info->cfg's reference too
 */
typedef bool (*sl_outbound_l7_fn)(struct sl_wctx *wc, int fd,
				  struct sl_outbound_info *info);

/** sl_outbound_set_l7 - register the L7 hook (main, at start; NULL: none) */
void sl_outbound_set_l7(sl_outbound_l7_fn fn);

/** sl_outbound_l7_release - a connection the L7 hook took has ended */
void sl_outbound_l7_release(void);

/** What an inbound mTLS flow to a local pod is, once it is authorized and
 * the pod is connected: handed to the inbound L7 hook. */
struct sl_inbound_info {
	struct sl_config *cfg;		 /* reference the hook takes over */
	const struct sl_workload *dst;	 /* the local workload */
	const struct sl_workload *src;	 /* the source workload when the
					  * preamble names one with the peer's
					  * identity, else NULL */
	const char *peer_id;		 /* verified SPIFFE ID (copy it) */
	const char *peer_hash;		 /* SHA-256 of its certificate, hex;
					  * "" when unknown (copy it) */
	struct sl_ip src_ip, orig_dst;	 /* orig_dst family 0: unknown */
	uint16_t dst_port;		 /* the pod port */
	uint64_t flow_id;
	bool plaintext;			 /* a plaintext peer (PERMISSIVE):
					  * no identity */
};

/**
 * sl_inbound_l7_fn - offered every inbound flow (mTLS, and plaintext to
 * an HTTP port) once its pod is connected: returns the fd the flow should
 * relay to instead of @pod_fd (one end of a socketpair; the hook keeps the other and @pod_fd, and
 * @info->cfg's reference), or -1 to leave the flow as it is
 */
typedef int (*sl_inbound_l7_fn)(struct sl_wctx *wc, int pod_fd,
				struct sl_inbound_info *info);

/** sl_inbound_set_l7 - register the inbound L7 hook (main; NULL: none) */
void sl_inbound_set_l7(sl_inbound_l7_fn fn);

/**
 * One upstream leg of the HTTP engine: an outbound flow to one chosen
 * endpoint whose pod side is @fd (one end of a socketpair the engine
 * holds the other end of).  Everything else is an ordinary outbound flow:
 * pool, dial, handshake as @src, preamble, kTLS or userspace relay,
 * same-node handoff, plaintext for DISABLE.
 */
struct sl_tls_rl;
struct sl_lb_flow;
struct sl_worker;

/*
 * What an upstream leg of the HTTP engine takes over from its pinned flow
 * instead of a relay (sl_outbound_pin.direct): the mesh socket and its
 * TLS state, and what the relay would have held until it ended (the
 * endpoint's connection slot, the outbound budget place, the open-flow
 * count, a worker reference).  Given back with sl_outbound_direct_release.
 */
struct sl_outbound_direct {
	int fd;		       /* the mesh socket, connected (owned) */
	bool ktls;	       /* kernel TLS installed on @fd */
	bool plaintext;	       /* no TLS: DestinationRule tls DISABLE */
	struct sl_tls_rl *rl;  /* userspace TLS: the session (owned) */
	struct sl_lb_flow *lb; /* the endpoint's slot (lb.h; owned) */
	int budget;	       /* enum sl_budget (admission.h) */
	struct sl_worker *w;   /* referenced until released */
	uint64_t idle_timeout_ns;  /* what the relay's idle timer would be */
	uint64_t max_duration_ns;  /* tcp.maxConnectionDuration; 0: none */
};

/**
 * sl_outbound_direct_release - give back what @dc holds besides the
 * socket and the session (the caller closes and frees those): the
 * endpoint's slot, the budget place, the open-flow count, the worker
 * reference.  Once; NULL-safe; @dc->lb is NULL after.
 */
void sl_outbound_direct_release(struct sl_outbound_direct *dc);

struct sl_outbound_pin {
	struct sl_config *cfg;	       /* the snapshot @src, @ep, @pol are in
					* (the flow takes its own reference) */
	const struct sl_workload *src;
	struct sl_ip src_ip, orig_dst;
	uint16_t src_port, orig_port;
	const struct sl_endpoint *ep;  /* in the snapshot the engine holds */
	const struct sl_dest_policy *pol;
	uint64_t connect_timeout_ns;   /* 0: the policy's, else --connect-timeout */
	void (*ready)(void *arg, int err);
	void *arg;
	/* non-NULL: no relay and no pod socket (sl_outbound_start_pinned's
	 * @fd is -1); once the flow would relay it fills *direct and calls
	 * ready(arg, 0): the caller then owns what it holds */
	struct sl_outbound_direct *direct;
};

/**
 * sl_outbound_start_pinned - start an upstream leg (admitted to the
 * outbound budget).  @fd passes to the flow (-1 with @p->direct).
 * @p->ready(arg, 0) is called once the relay runs (with @p->direct: once
 * *@p->direct is filled instead), or (arg, -errno) when it failed before
 * (the flow has reset @fd and the mesh socket then); never from within
 * this call.
 * @retval 0; -EBUSY (outbound budget full, @fd untouched), -ENOMEM
 */
int sl_outbound_start_pinned(struct sl_wctx *wc, int fd,
			     const struct sl_outbound_pin *p);

/**
 * sl_inbound_start - take over @fd, an mTLS connection to a local pod, and
 * what @adm holds (pending, or inbound for a same-node handoff)
 */
void sl_inbound_start(struct sl_wctx *wc, int fd,
		      const struct sl_admission *adm);

/**
 * sl_hello_start - (hello.c) take over @fd, just accepted on the inbound
 * mTLS port: admit it as a pending handshake and wait, holding no more
 * than a small struct, until its first TLS record has arrived; then
 * sl_inbound_start().  A refused or silent peer is reset.
 */
void sl_hello_start(struct sl_wctx *wc, int fd);

/** sl_hello_cut - reset every connection of @wc still in sl_hello_start's
 * wait (the worker is stopping) */
void sl_hello_cut(struct sl_wctx *wc);

/**
 * sl_plain_inbound_start - take over @fd, a plaintext connection to a
 * local pod TPROXYed to the plaintext inbound port (plain_inbound.c)
 */
void sl_plain_inbound_start(struct sl_wctx *wc, int fd);

#endif /* SL_DAEMON_ENTRY_H */

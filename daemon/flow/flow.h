/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The set-up phase of one flow, shared by outbound.c and inbound.c: from
 * accept to sl_relay_start().  A flow does one I/O op at a time (io_op, with
 * a continuation), or one handshake step on a handshake thread (hs_step,
 * offload.h), and has one deadline timer for the whole set-up.  It is
 * freed when it has ended and neither op nor a step is in flight.
 */
#ifndef SL_FLOW_H
#define SL_FLOW_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "admission.h"
#include "daemon.h"
#include "lb.h"
#include "offload.h"
#include "preamble.h"
#include "tls.h"
#include "entry.h"

#define SL_FLOW_BUF 16384

/* inbound, stopping worker: how long a handshake completed during the stop
 * waits for its preamble before it is closed as a peer's unused refill */
#define SL_STOP_PREAMBLE_WAIT_NS 1000000000ULL

struct sl_flow;
typedef void (*sl_flow_cont)(struct sl_flow *f, int res);

enum sl_flow_phase {
	SL_PHASE_CONNECT_MESH, /* outbound: dialing the peer's 15008 */
	SL_PHASE_HANDSHAKE,
	SL_PHASE_PREAMBLE,
	SL_PHASE_CONNECT_POD, /* inbound: dialing the local pod */
};

struct sl_tls_rl;

struct sl_flow {
	struct sl_wctx *wc;
	struct sl_daemon *d;
	struct sl_config *cfg; /* reference held */
	bool outbound;
	enum sl_flow_phase phase;
	uint64_t id;

	int pod_fd;  /* plaintext side */
	int mesh_fd; /* TLS side */
	struct sl_tls_conn *tls;
	struct sl_tls_rl *rl; /* instead of tls: the session on the record
				 layer (a pooled one from sl_pool_take, or
				 inbound once the handshake is done) */
	char *peer_id;	      /* inbound without tls: the verified peer
				 SPIFFE ID (owned; sl_flow_peer_id) */
	char peer_hash[65];   /* inbound: SHA-256 of the peer's certificate
				 (hex), "" when unknown */

	struct sl_op io_op;
	sl_flow_cont cont;
	sl_flow_cont pod_cont; /* sl_flow_connect_pod: after a connect */
	bool io_armed;
	/* progress of send_all / recv_exact */
	uint8_t *io_buf;
	size_t io_len, io_done;
	int io_fd;
	bool io_exact;
	bool io_send;

	/* the admission budget the flow counts against (daemon.h): outbound,
	 * inbound, or pending until the handshake is done */
	struct sl_admission adm;

	struct sl_op timer_op;
	struct __kernel_timespec timer_ts, link_ts;
	bool timer_armed, timed_out, ended, freeing;

	/* inbound: on the worker's list of flows waiting for a preamble */
	struct sl_flow *wait_next, **wait_pprev;

	struct sockaddr_storage sa;
	socklen_t sa_len;
	uint16_t handoff_port; /* outbound same-node: our loopback port */

	/* what the flow is about (for logs) */
	char src[INET6_ADDRSTRLEN + 8];
	char dst[INET6_ADDRSTRLEN + 8];
	const struct sl_workload *workload; /* the local workload (inbound) */
	const struct sl_endpoint *ep;	     /* chosen endpoint (outbound) */
	/* outbound: endpoint choice, retries, circuit breaker (lb.h); owned,
	 * handed to the relay once connected */
	struct sl_lb_flow *lb;
	const struct sl_workload *src_wl; /* outbound source, or NULL */
	struct sl_ip orig_dst;		   /* outbound original destination */
	uint16_t orig_port;
	struct sl_ip src_ip; /* inbound: the peer address, or the source pod of
			      * a same-node handoff (AuthorizationPolicy);
			      * outbound: the pod's address */
	bool src_from_handoff; /* src_ip came from the handoff table */
	struct sl_preamble pre;
	bool hs_done;
	bool hs_first; /* the first step (sl_flow_handshake) not back yet */
	/* a handshake step is on a helper (offload.h): the conn is its, and
	 * the flow is not freed until the step is back */
	bool hs_busy;
	struct sl_hs_step hs_step;
	bool ktls; /* this flow runs on kernel TLS */
	bool plaintext; /* no TLS either side: plain <-> plain relay
			 * (PERMISSIVE/DISABLE, plain_inbound.c, outbound.c) */
	uint64_t hs_start_ns; /* monotonic, for the handshake histogram */
	void (*on_handshake)(struct sl_flow *f);

	/* outbound: pod bytes sent with the preamble (counted by the relay) */
	uint32_t early_len;

	/* an upstream leg of the HTTP engine (sl_outbound_start_pinned):
	 * ready(arg, 0) once relaying, ready(arg, -errno) if it fails before;
	 * called once.  Its flow reports nothing to observability: the
	 * engine reports requests. */
	void (*ready)(void *arg, int err);
	void *ready_arg;
	/* the leg takes the mesh side over instead of a relay (entry.h) */
	struct sl_outbound_direct *direct;
	int ready_err; /* the failure to report (default -ECONNABORTED) */
	bool l7; /* inbound: the HTTP engine has the pod side and reports
		  * requests; the flow reports nothing itself */
	bool authz_deferred; /* inbound: the port is HTTP, the engine
			      * decides AuthorizationPolicy per request */

	/* plaintext read past the preamble (inbound, userspace TLS) */
	uint8_t *plain;
	size_t plain_len, plain_cap;

	uint8_t buf[SL_FLOW_BUF];
};

/** sl_flow_new - a flow on @fd (accepted, admitted); NULL on ENOMEM */
struct sl_flow *sl_flow_new(struct sl_wctx *wc, bool outbound);

/**
 * sl_flow_accepted - a flow for the connection @fd accepted on an inbound
 * listener (admitted to the inbound budget): @fd becomes f->mesh_fd,
 * f->src/f->dst/f->src_ip are set from its peer and local (TPROXY: the pod
 * dialed) addresses, which are also returned in @lip/@lport and @pip/@pport
 * @retval the flow, or NULL when it could not be set up (@fd is reset and
 *         the admission released: nothing left to do)
 */
struct sl_flow *sl_flow_accepted(struct sl_wctx *wc, int fd,
				 struct sl_ip *lip, uint16_t *lport,
				 struct sl_ip *pip, uint16_t *pport);

/**
 * sl_flow_accepted_adm - sl_flow_accepted() for a connection admitted as
 * @adm says (a pending handshake, hello.c); the flow takes it over
 */
struct sl_flow *sl_flow_accepted_adm(struct sl_wctx *wc, int fd,
				     const struct sl_admission *adm,
				     struct sl_ip *lip, uint16_t *lport,
				     struct sl_ip *pip, uint16_t *pport);

/**
 * sl_flow_authenticated - (inbound) the peer is authenticated: move the
 * flow from the pending budget to the inbound one
 * @retval 0; -ENOSPC when the inbound budget is full (counted, logged and
 *         the flow failed: the caller returns)
 */
int sl_flow_authenticated(struct sl_flow *f);

/**
 * sl_flow_local_workload - the workload at @ip when it runs on this node;
 * NULL otherwise, after counting (refused_unknown_dest) and logging it
 * (the caller fails the flow)
 */
const struct sl_workload *sl_flow_local_workload(struct sl_flow *f,
						 const struct sl_ip *ip);

/** sl_flow_pre_orig_dst - set f->pre's original destination to @ip */
void sl_flow_pre_orig_dst(struct sl_flow *f, const struct sl_ip *ip);

/** sl_flow_fmt_ep - "a.b.c.d:port" or "[v6]:port" into @buf */
void sl_flow_fmt_ep(char *buf, size_t len, const struct sl_ip *ip,
		    uint16_t port);

/**
 * sl_flow_peer_id - the verified peer SPIFFE ID of an inbound flow (from
 * its conn, or kept when the record layer took the session over), or NULL
 */
const char *sl_flow_peer_id(const struct sl_flow *f);

/**
 * sl_flow_detach - end the flow without touching f->pod_fd: the caller has
 * taken the pod socket, the admission place and the open-flow count over
 */
void sl_flow_detach(struct sl_flow *f);

/** sl_flow_fail - end the flow: reset both sockets, free, count closed */
void sl_flow_fail(struct sl_flow *f);

struct sl_obs_conn;
/**
 * sl_flow_obs_conn - describe @f for observability (flow_info.c): ids,
 * addresses, workloads and principals, destination service, endpoint
 * @ktls: the relay about to start is the kTLS one
 */
void sl_flow_obs_conn(struct sl_flow *f, bool ktls, struct sl_obs_conn *of);

/** sl_flow_arm_deadline - start the set-up deadline timer */
void sl_flow_arm_deadline(struct sl_flow *f, uint64_t ns);

/**
 * sl_flow_rearm_deadline - restart the armed set-up deadline to expire @ns
 * from now (no-op when none is armed or it already fired)
 */
void sl_flow_rearm_deadline(struct sl_flow *f, uint64_t ns);

/**
 * sl_flow_set_waiting - (inbound) mark @f as an authenticated connection
 * with no preamble byte yet (@waiting true), or no longer (false); ended
 * flows leave the list by themselves.  A waiting flow whose deadline
 * expires while its worker is stopping is closed quietly (no timeout
 * counted), as sl_flow_cut_waiting closes the ones waiting at the stop.
 */
void sl_flow_set_waiting(struct sl_flow *f, bool waiting);

/**
 * sl_flow_cut_waiting - end every flow of @wc waiting for its preamble
 * (stop: a peer's idle pooled connection must not hold the shutdown for
 * the grace period; the peer drops it on the reset), and every inbound
 * connection still waiting for its first TLS record (sl_hello_cut)
 */
void sl_flow_cut_waiting(struct sl_wctx *wc);

/** sl_flow_send_all / sl_flow_recv_exact / sl_flow_recv: then @cont(res)
 * with res 0 (or bytes for recv) or -errno; EOF is -ECONNRESET for exact */
void sl_flow_send_all(struct sl_flow *f, int fd, const void *buf, size_t len,
		      sl_flow_cont cont);
void sl_flow_recv_exact(struct sl_flow *f, int fd, void *buf, size_t len,
			sl_flow_cont cont);
void sl_flow_recv(struct sl_flow *f, int fd, void *buf, size_t len,
		  sl_flow_cont cont);

/** sl_flow_connect - connect @fd to f->sa with a timeout, then @cont */
void sl_flow_connect(struct sl_flow *f, int fd, uint64_t timeout_ns,
		     sl_flow_cont cont);

/**
 * sl_flow_connect_pod - dial f->workload's address on @port (SO_MARK of
 * sluiced's own sockets) into f->pod_fd, then @cont(f, 0) once connected.
 * A failed dial or connect is counted (connect_failed), logged, and fails
 * the flow; @cont is not called then.
 */
void sl_flow_connect_pod(struct sl_flow *f, uint16_t port, sl_flow_cont cont);

/**
 * sl_flow_handshake - run the TLS handshake on f->mesh_fd with f->tls,
 * reading as sl_tls_conn_read_size() allows (a server never past the
 * handshake); calls f->on_handshake when done, fails the flow otherwise
 */
void sl_flow_handshake(struct sl_flow *f);

/**
 * sl_flow_relay - hand the sockets and the session to the relay; the flow
 * ends (without closing them) on success, fails otherwise
 */
void sl_flow_relay(struct sl_flow *f, bool ktls, const void *initial,
		   uint32_t initial_len);

/**
 * sl_flow_ktls_install - switch mesh_fd to kTLS if the daemon uses it and
 * set f->ktls.  When the kernel refuses TCP_ULP because the peer's FIN has
 * already arrived (-ENOTCONN: the socket left ESTABLISHED, nothing was
 * configured), the flow stays on userspace TLS.
 * @retval 0, or -errno after counting and logging (caller fails the flow)
 */
int sl_flow_ktls_install(struct sl_flow *f);

/**
 * sl_outbound_plain_prepare - should the outbound flow @f go to endpoint
 * @ep without mTLS (DestinationRule tls DISABLE, or the endpoint's
 * PeerAuthentication DISABLE on the target port)?  If so, checks a
 * destination on this node (STRICT port, AuthorizationPolicy) and prepares
 * the direct connection: f->mesh_fd, f->sa, f->plaintext (outbound_plain.c)
 * @plain: set true when the flow goes in plaintext
 * @retval 0 (with *plain false: use mTLS); -EACCES refused (counted and
 *         logged) or -errno (the caller fails the flow)
 */
int sl_outbound_plain_prepare(struct sl_flow *f, const struct sl_endpoint *ep,
			      bool *plain);

/**
 * sl_inbound_l7_wanted - will the HTTP engine serve the requests of the
 * inbound flow @f to its workload's @port (an L7 hook is registered and
 * Istio's protocol selection calls the port HTTP)?  Such a flow's
 * AuthorizationPolicy is decided per request by the engine.
 */
bool sl_inbound_l7_wanted(const struct sl_flow *f, uint16_t port);

/**
 * sl_inbound_l7_take - offer the inbound flow @f (pod connected) to the
 * L7 hook with @info (its cfg reference is the hook's when taken, dropped
 * here when not); when taken the flow relays to the engine's socketpair
 * end instead of the pod and sets f->l7
 * @retval true when the engine took it
 */
bool sl_inbound_l7_take(struct sl_flow *f, struct sl_inbound_info *info);

#endif /* SL_FLOW_H */

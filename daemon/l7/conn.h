/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One client connection of the HTTP engine (conn.c) and the parts of its
 * job kept in files of their own: the report of a finished request
 * (report.c), the tunnel after an accepted Upgrade or CONNECT (tunnel.c),
 * the request target's path, rewrite and redirect Location (target.c), the
 * mirror copy (shadow.c).  Private to daemon/l7/.
 */
#ifndef SL_L7_CONN_H
#define SL_L7_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "h1.h"
#include "http_route.h"
#include "l7_internal.h"
#include "lb.h"
#include "loop.h"
#include "match.h"
#include "retry.h"
#include "trace.h"

#define L7_DBUF (64u * 1024 + 1024) /* head limit (60 KiB) and more */
#define L7_UBUF (64u * 1024 + 1024)
#define L7_OBUF (72u * 1024)	     /* a rewritten head */

struct l7c;
typedef void (*l7_cont)(struct l7c *c, int res);

/* one armed kernel timeout; a cancelled one completes on its own, so
 * each arm has its own op and the connection counts them */
struct l7_timer {
	struct sl_op op;
	struct __kernel_timespec ts;
	struct l7c *c;
};

struct l7c {
	struct sl_wctx *wc;
	struct sl_daemon *d;
	int fd; /* the client (pod) */
	struct sl_ip src_ip, dst;
	uint16_t src_port, dst_port;
	char src_s[INET6_ADDRSTRLEN + 8], dst_s[INET6_ADDRSTRLEN + 8];
	uint64_t conn_id;
	struct l7c *prev, *next; /* this thread's connections */

	/* the current request */
	struct sl_config *cfg; /* held for the request */
	const struct sl_workload *src; /* in cfg, or NULL */
	struct sl_http_route rt;
	bool routed;
	struct sl_lb_flow lb;
	bool lb_on;
	const struct sl_endpoint *ep;
	struct sl_l7_leg *leg;
	struct sl_retry_policy retry;
	uint64_t per_try_ns; /* retries.perTryTimeout, 0: none */
	unsigned int attempts;
	bool retry_budget; /* holds a retry-budget place */
	/* connectionPool.http counts held on the destination (lb.dest) */
	struct sl_health_dest *hdest;
	bool hold_rq, hold_pending, hold_retry;
	char flags[64];	   /* response flags, "UF,URX" */
	uint64_t t_start, t_deadline, t_try_deadline;
	uint64_t start_real;
	uint64_t req_bytes, resp_bytes;
	int status;
	bool replied;	    /* a response head went to the client */
	bool close_after;   /* close the client after this response */
	bool stopping;
	bool upgrade;	   /* Upgrade or CONNECT: a tunnel after 101 / 2xx */
	bool tunneled;	   /* the relay has both sockets and the budget */
	struct sl_trace trace;
	char trace_hex[33];
	/* the request's method, authority and target for the report, copied
	 * when its head is complete: the buffer then carries the body */
	char l_method[32], l_authority[256], l_path[1024];
	bool l_have;
	char upstream_s[INET6_ADDRSTRLEN + 8];

	/* client bytes: head of the request, its body, what follows */
	char *dbuf;
	size_t dlen, dpos; /* dpos: first byte not yet forwarded */
	struct sl_h1_msg req;
	bool req_done;	   /* the request's body went (or was read) whole */
	bool body_replay;  /* the whole body is still in dbuf (retry) */
	size_t body_start;
	uint64_t body_left; /* Content-Length still to forward */
	struct sl_h1_chunked ck;
	bool sent_100;

	/* upstream bytes */
	char *ubuf;
	size_t ulen, upos;
	struct sl_h1_msg resp;
	uint64_t resp_left;

	char *obuf; /* heads we write */
	size_t olen;

	/* I/O */
	struct sl_op io_op;
	bool io_armed;
	l7_cont cont;
	int io_fd;
	const char *io_buf;
	size_t io_len, io_done;
	bool io_send, io_poll;
	size_t head_len; /* the request head in obuf, not sent yet */
	bool early_resp; /* this try's request failed to go whole: reading
			  * what the upstream answered before it closed */
	struct sl_l7_stream *io_st; /* the op is on this leg's stream (the
				     * leg is not freed while it is busy) */
	void (*io_then)(struct l7c *c); /* after a cancelled op completed */
	/* the client watched while its response is awaited: a client that
	 * goes away ends the request at once (DC), as Envoy resets it */
	struct sl_op watch_op;
	bool watch_armed;
	bool watch_leg; /* inbound, between requests: the pod is watched */

	/* the destination side (sl_l7_inbound_offer): requests come from the
	 * mesh (a relay over a socketpair), go to the local pod (a fixed leg)
	 * and are reported with reporter "destination" */
	bool inbound;
	const struct sl_workload *dst_wl, *in_src; /* in cfg (kept) */
	char peer_id[SL_L7_ID_MAX];
	char peer_hash[65];
	char xfcc[2 * SL_L7_ID_MAX + 128]; /* x-forwarded-client-cert sent */
	bool plain_peer; /* a plaintext peer (PERMISSIVE): no identity */
	/* the request's admission (authz.c), reset per request */
	char *az_target; /* the normalized target to forward (NUL-terminated),
			    NULL: the target as received; owned */
	char *az_host;	 /* Host to forward (an absolute-form target's
			    authority), NULL: as received; in az_target */
	const char *details; /* Envoy's response_code_details, or NULL */
	bool az_denied;	 /* refused by AuthorizationPolicy */
	const char *az_ns, *az_name; /* the DENY policy; NULL: no ALLOW
					matched (in cfg) */
	int az_rule;
	const char *au_ns, *au_name; /* the AUDIT policy that matched, or NULL */
	int au_rule;
	struct l7_timer *tm; /* the armed kernel timeout, or NULL */
	uint64_t tm_armed_due; /* when it expires (monotonic ns) */
	void (*tm_fn)(struct l7c *c); /* what to run at tm_due, or NULL */
	uint64_t tm_due;
	unsigned int tm_inflight; /* timers not yet completed (cancelled too) */
	bool ended;
};

/** sl_l7c_end - end @c: @reset sends an RST (conn.c) */
void sl_l7c_end(struct l7c *c, bool reset);

/** sl_l7c_flag - add Istio response flag @f to the request (conn.c) */
void sl_l7c_flag(struct l7c *c, const char *f);

/** sl_l7c_mesh_endpoint - can @ep be dialed with mTLS (an identity)? */
bool sl_l7c_mesh_endpoint(const struct sl_endpoint *ep);

/** sl_l7c_rnd - random bytes for trace and request ids (sl_trace_rnd_fn) */
int sl_l7c_rnd(void *arg, void *buf, size_t len);

/** sl_l7c_pct_draw - a uniform draw in [0, 100) */
double sl_l7c_pct_draw(void);

/** sl_l7c_leg_key - what a leg to @ep at @addr for @pol can be reused
 * for; @kind tells mirror legs apart ("shadow|") */
void sl_l7c_leg_key(const struct l7c *c, const char *kind,
		    const struct sl_dest_policy *pol,
		    const struct sl_endpoint *ep, const struct sl_ip *addr,
		    struct sl_l7_key *key);

/** sl_l7c_log_strings - copy the request's method, authority and target
 * for the report, before the buffer carries the body (report.c) */
void sl_l7c_log_strings(struct l7c *c);

/** sl_l7c_report - metrics and access log of the finished request */
void sl_l7c_report(struct l7c *c);

/** sl_l7c_tunnel - the upstream accepted an Upgrade or CONNECT: hand both
 * sockets to the plain relay (tunnel.c) */
void sl_l7c_tunnel(struct l7c *c);

/**
 * sl_l7c_target_path - the path (and query) of the request target:
 * origin-form as sent, absolute-form after its authority (target.c)
 * @retval true; false, with "/", for an absolute-form target without path
 */
bool sl_l7c_target_path(const struct l7c *c, const char **p, size_t *len);

/**
 * sl_l7c_target_authority - the authority of an absolute-form target
 * (target.c)
 * @retval its first byte in the buffer (@len bytes), or NULL for any
 *         other form
 */
const char *sl_l7c_target_authority(const struct l7c *c, size_t *len);

/** sl_l7c_rewrite_target - the target rewrite.uri makes; 0 or -ENOSPC */
int sl_l7c_rewrite_target(struct l7c *c, char *out, size_t cap);

/** sl_l7c_redirect_location - the Location of redirect; 0 or -ENOSPC */
int sl_l7c_redirect_location(const struct l7c *c, char *loc, size_t cap);

/** sl_l7c_req_view - the request as the router sees it */
void sl_l7c_req_view(struct l7c *c, struct sl_http_req_view *v);

/**
 * sl_l7c_admit - the destination's checks of the current request before
 * it goes to the pod (authz.c): refresh the snapshot, normalize the path
 * (Node pathNormalization), decide AuthorizationPolicy
 * @retval 0: forward it (c->az_target/az_host say what to send); else the
 *         status to answer (400/414 refused path, 403 denied, 503)
 */
int sl_l7c_admit(struct l7c *c);

/** sl_l7c_admit_clear - free and reset what sl_l7c_admit() kept */
void sl_l7c_admit_clear(struct l7c *c);

/** sl_l7c_mirror - the mirror copy of the request, when the rule has one
 * and the draw says so (shadow.c) */
void sl_l7c_mirror(struct l7c *c);

#endif /* SL_L7_CONN_H */

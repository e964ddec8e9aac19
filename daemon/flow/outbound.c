/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Outbound flows: a pod connection REDIRECTed to the outbound port.
 *
 * original destination (SO_ORIGINAL_DST) → source workload (peer address)
 * → destination and its policy (sl_config_route) → endpoint (lb.h: load
 * balancing, outlier ejection, maxConnections) → dial endpoint:15008
 * (SO_MARK, per-try timeout; another endpoint on a connect failure, up to
 * the route's retries)
 * or, for a workload of this node, our own inbound listener over loopback
 * (same-node handoff) → TLS client handshake as the source workload,
 * expecting exactly the endpoint's SPIFFE ID → kTLS install → preamble →
 * relay.  A destination that wants no mTLS (PeerAuthentication or
 * DestinationRule tls DISABLE) gets a direct plaintext connection instead
 * (outbound_plain.c).  A remote endpoint's connection is taken ready
 * (handshake done) from the worker's pool when it has one (pool.h); dial
 * and handshake are then skipped.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "certstore.h"
#include "flow.h"
#include "identity.h"
#include "record.h"
#include "policy_query.h"
#include "lb.h"
#include "log.h"
#include "pool.h"
#include "stats.h"
#include "tls.h"
#include "admission.h"
#include "entry.h"
#include "handoff.h"
#include "sock.h"

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80 /* linux/netfilter_ipv4.h (clashes with netinet/in.h) */
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80 /* linux/netfilter_ipv6/ip6_tables.h */
#endif

static int original_dst(int fd, struct sl_ip *ip, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	if (ss.ss_family == AF_INET6 &&
	    !IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&ss)->sin6_addr)) {
		len = sizeof(struct sockaddr_in6);
		if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &ss, &len) < 0)
			return -errno;
	} else {
		len = sizeof(struct sockaddr_in);
		if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &ss, &len) < 0)
			return -errno;
	}
	return sl_sockaddr_to_ip(&ss, ip, port);
}

static void preamble_sent(struct sl_flow *f, int res)
{
	if (res < 0) {
		sl_stat_inc(SL_STAT_PREAMBLE_ERRORS);
		sl_log_info("%s: flow %s -> %s: sending the preamble: %s",
			    __func__, f->src, f->dst, strerror(-res));
		sl_flow_fail(f);
		return;
	}
	sl_flow_relay(f, f->ktls, NULL, 0);
}

/* pod bytes sent with the preamble at most (the rest goes by the relay) */
#define SL_EARLY_MAX (SL_FLOW_BUF / 2)
_Static_assert(SL_PREAMBLE_MAX_LEN + SL_EARLY_MAX <= SL_FLOW_BUF,
	       "the preamble and early data fit the flow buffer (kTLS)");

/*
 * What the pod has already sent (a client that speaks first), taken
 * without waiting, to go in the preamble's record: the far side then has
 * the preamble and the first data at once and hands both to its pod as
 * soon as the pod connect completes, instead of waking again for the data
 * (bench/README.md, new flows).  The far side treats bytes past the
 * preamble as the stream's start (PROTOCOL.md).  @retval bytes read (0:
 * none yet, or the pod half-closed, which the relay sees again), -errno
 * when the pod's socket failed.
 */
static ssize_t early_data(struct sl_flow *f, uint8_t *buf, size_t cap)
{
	ssize_t e;

	if (f->pod_fd < 0) /* a direct leg: its engine sends everything */
		return 0;
	e = recv(f->pod_fd, buf, cap, MSG_DONTWAIT);
	if (e >= 0)
		return e;
	if (errno == EAGAIN || errno == EINTR) /* EWOULDBLOCK is EAGAIN */
		return 0;
	return -errno;
}

static void outbound_handshake_done(struct sl_flow *f)
{
	uint8_t us_pre[SL_PREAMBLE_MAX_LEN + SL_EARLY_MAX];
	uint8_t *pre;
	ssize_t n, e;

	if (sl_flow_ktls_install(f)) {
		sl_flow_fail(f);
		return;
	}
	/* with kTLS the kernel encrypts: the plaintext is what is sent, so
	 * it is built in the send buffer; else the conn seals it into it */
	pre = f->ktls ? f->buf : us_pre;
	n = sl_preamble_encode(&f->pre, pre, SL_PREAMBLE_MAX_LEN);
	if (n < 0) {
		sl_stat_inc(SL_STAT_PREAMBLE_ERRORS);
		sl_flow_fail(f);
		return;
	}
	e = early_data(f, pre + n, SL_EARLY_MAX);
	if (e < 0) {
		sl_log_info("%s: flow %s -> %s: pod socket: %s", __func__,
			    f->src, f->dst, strerror((int)-e));
		sl_flow_fail(f);
		return;
	}
	if (e) {
		sl_stat_inc(SL_STAT_PREAMBLE_EARLY);
		f->early_len = (uint32_t)e;
		n += e;
	}
	if (f->rl) {
		/* a pooled session on the record layer: one seal, straight
		 * into the send buffer */
		size_t used = 0;
		ssize_t ct = sl_tls_rl_seal(f->rl, pre, (size_t)n, f->buf,
					    sizeof(f->buf), &used);

		if (ct <= 0 || used != (size_t)n) {
			sl_stat_inc(SL_STAT_PREAMBLE_ERRORS);
			sl_flow_fail(f);
			return;
		}
		n = ct;
	} else if (!f->ktls) {
		size_t out;

		if (sl_tls_conn_write(f->tls, pre, (size_t)n) != n) {
			sl_stat_inc(SL_STAT_PREAMBLE_ERRORS);
			sl_flow_fail(f);
			return;
		}
		out = sl_tls_conn_take_output(f->tls, f->buf, sizeof(f->buf));
		if (!out || sl_tls_conn_pending_output(f->tls)) {
			sl_stat_inc(SL_STAT_PREAMBLE_ERRORS);
			sl_flow_fail(f);
			return;
		}
		n = (ssize_t)out;
	}
	sl_flow_send_all(f, f->mesh_fd, f->buf, (size_t)n, preamble_sent);
}

static void outbound_try(struct sl_flow *f);

/* Connect-time retries (lb.h): a failed connect to the mesh port happens
 * before the handshake, so nothing of the pod's stream has been read yet
 * and another endpoint can be tried; after the connect no retry. */
static void mesh_connected(struct sl_flow *f, int res)
{
	if (res < 0) {
		sl_stat_inc(SL_STAT_CONNECT_FAILED);
		sl_log_info("%s: flow %s -> %s: connect to %s: %s", __func__,
			    f->src, f->dst,
			    f->ep && f->ep->workload ? f->ep->workload->name : "?",
			    res == -ECANCELED ? "timed out" : strerror(-res));
		if (f->timed_out || sl_lb_report_failure(f->lb, res)) {
			f->ready_err = res == -ECANCELED ? -ETIMEDOUT : res;
			sl_flow_fail(f);
			return;
		}
		/* forget this attempt, try the next endpoint */
		if (f->handoff_port)
			sl_handoff_drop(f->handoff_port);
		f->handoff_port = 0;
		sl_socket_reset(f->mesh_fd);
		f->mesh_fd = -1;
		sl_tls_conn_free(f->tls);
		f->tls = NULL;
		outbound_try(f);
		return;
	}
	sl_lb_report_success(f->lb);
	if (f->plaintext) { /* outbound_plain.c */
		sl_stat_inc(SL_STAT_PLAINTEXT_OUTBOUND);
		sl_flow_relay(f, false, NULL, 0);
		return;
	}
	f->on_handshake = outbound_handshake_done;
	sl_flow_handshake(f);
}

/* only mesh workloads can be dialed (they have an identity to expect) */
static bool mesh_endpoint(const struct sl_endpoint *ep)
{
	return ep->workload && ep->workload->spiffe_id;
}

static int source_identity(struct sl_flow *f, const struct sl_workload *src,
			   struct sl_identity **id)
{
	const struct sl_node_config *node = sl_config_node(f->cfg);
	char buf[512];
	int ret;

	if (src)
		return sl_daemon_identity(f->d, src->spiffe_id, id);
	/* allowUnknownSource: the node's own identity */
	ret = sl_spiffe_id_format(buf, sizeof(buf), node->trust_domain,
				  "sluice-system", "sluiced");
	if (ret)
		return ret;
	return sl_daemon_identity(f->d, buf, id);
}

/* DestinationRule connectionPool.tcp.tcpKeepalive on the mesh socket */
static int upstream_keepalive(struct sl_flow *f, int fd)
{
	const struct sl_dest_policy *pol = &f->lb->pol;
	int ret;

	if (!pol->keepalive)
		return 0;
	ret = sl_socket_keepalive(fd, pol->keepalive_probes,
				  pol->keepalive_time_s,
				  pol->keepalive_interval_s);
	if (ret)
		sl_log_warn("%s: flow %s -> %s: tcpKeepalive: %s", __func__,
			    f->src, f->dst, strerror(-ret));
	return ret;
}

/* an endpoint on this node is reached through our own inbound listener */
static bool local_endpoint(struct sl_flow *f, const struct sl_endpoint *ep)
{
	const struct sl_node_config *node = sl_config_node(f->cfg);

	return ep->workload->node && node->name &&
	       strcmp(ep->workload->node, node->name) == 0;
}

/*
 * A ready pooled connection (pool.h): handshake done and the peer verified
 * as on a fresh dial, nothing sent since.  The flow goes on exactly as
 * after its own handshake.  Same-node endpoints are never pooled: their
 * handoff entry names the source pod of one flow.
 */
static void pooled_start(struct sl_flow *f, const struct sl_ip *addr,
			 bool first, uint64_t timeout)
{
	/* the endpoint dialed, as after a dial (access log, sluice conns) */
	f->sa_len = sl_ip_to_sockaddr(addr, f->d->inbound_port, &f->sa);
	/* this flow's DestinationRule keepalive (the pool dialed without) */
	upstream_keepalive(f, f->mesh_fd);
	sl_log_debug("%s: flow %s -> %s: via %s (%s), pooled connection",
		     __func__, f->src, f->dst, f->ep->workload->name,
		     f->ep->workload->spiffe_id);
	sl_lb_report_success(f->lb);
	if (first)
		sl_flow_arm_deadline(f, f->d->o.handshake_timeout_ns +
						timeout * f->lb->max_tries);
	f->hs_done = true;
	f->phase = SL_PHASE_PREAMBLE;
	outbound_handshake_done(f);
}

static int dial(struct sl_flow *f, const struct sl_endpoint *ep,
		const struct sl_ip *addr)
{
	bool local = local_endpoint(f, ep);
	struct sl_ip lo = { .family = AF_INET };
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd, ret;

	if (!local) {
		fd = sl_socket_dial(addr->family, f->d->mark);
		if (fd < 0)
			return fd;
		f->mesh_fd = fd;
		ret = upstream_keepalive(f, fd);
		if (ret)
			return ret;
		f->sa_len = sl_ip_to_sockaddr(addr, f->d->inbound_port,
					      &f->sa);
		return 0;
	}
	/* same node: our own inbound listener over loopback; the handoff
	 * table tells the inbound side which workload is meant */
	fd = sl_socket_dial(AF_INET, f->d->mark);
	if (fd < 0)
		return fd;
	f->mesh_fd = fd;
	ret = upstream_keepalive(f, fd);
	if (ret)
		return ret;
	lo.v4.s_addr = htonl(INADDR_LOOPBACK);
	sl_ip_to_sockaddr(&lo, 0, &ss);
	if (bind(fd, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	f->handoff_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	ret = sl_handoff_put_src(f->handoff_port, addr,
				 f->src_wl ? &f->src_wl->address : NULL);
	if (ret) {
		f->handoff_port = 0;
		return ret;
	}
	f->sa_len = sl_ip_to_sockaddr(&lo, f->d->inbound_port, &f->sa);
	return 0;
}

/* one connect attempt: pick an endpoint (lb.h), prepare TLS and the
 * preamble for it, dial */
/* the mesh preamble of @f towards @ep (PROTOCOL.md) */
static void outbound_preamble(struct sl_flow *f, const struct sl_endpoint *ep,
			      const struct sl_workload *src)
{
	memset(&f->pre, 0, sizeof(f->pre));
	f->pre.dst_port = ep->port ? ep->port : f->orig_port;
	sl_flow_pre_orig_dst(f, &f->orig_dst);
	if (src && strlen(src->name) <= SL_PREAMBLE_NAME_MAX &&
	    strlen(src->ns) <= SL_PREAMBLE_NS_MAX) {
		strcpy(f->pre.src_name, src->name);
		strcpy(f->pre.src_ns, src->ns);
	}
	f->pre.has_flow_id = true;
	f->pre.flow_id = f->id;
}

/*
 * A ready pooled mTLS connection to @addr as @id, if the pool has one (a
 * refill is asked for either way).  Same-node endpoints are never pooled.
 * @retval true when @f took one (f->mesh_fd, f->tls, f->rl)
 */
static bool outbound_take_pooled(struct sl_flow *f, const struct sl_endpoint *ep,
				 struct sl_identity *id, const struct sl_ip *addr)
{
	struct sl_pool_key k = {
		.src_id = sl_identity_spiffe_id(id),
		.peer_id = ep->workload->spiffe_id,
		.addr = *addr,
		.port = f->d->inbound_port,
	};
	int ret;

	if (local_endpoint(f, ep) || !sl_pool_enabled(f->wc->pool))
		return false;
	ret = sl_pool_take(f->wc->pool, &k, id, &f->mesh_fd, &f->tls, &f->rl);
	sl_pool_refill(f->wc->pool, &k, id);
	return ret == 0;
}

/* a new mTLS client connection as @id to @ep at @addr, dialing
 * @retval 0 (connect pending in f->mesh_fd) or -errno (counted, logged) */
static int outbound_dial(struct sl_flow *f, const struct sl_endpoint *ep,
			 struct sl_identity *id, const struct sl_ip *addr)
{
	int ret;

	ret = sl_tls_conn_new(f->d->tls_ctx, SL_TLS_CLIENT, id,
			      ep->workload->spiffe_id, &f->tls);
	if (ret) {
		sl_stats_hs_fail(SL_TLS_FAIL_INTERNAL);
		return ret;
	}
	ret = dial(f, ep, addr);
	if (ret) {
		sl_stat_inc(SL_STAT_CONNECT_FAILED);
		sl_log_warn("%s: flow %s -> %s: %s", __func__, f->src, f->dst,
			    strerror(-ret));
		return ret;
	}
	sl_log_debug("%s: flow %s -> %s: via %s (%s), try %u", __func__, f->src,
		     f->dst, ep->workload->name, ep->workload->spiffe_id,
		     f->lb->tries);
	return 0;
}

/*
 * One try of an outbound flow: the load balancer picks an endpoint; a
 * plaintext destination is dialed as is; a mesh one gets the source's
 * identity and the preamble, then a pooled connection or a dial.
 */
static void outbound_try(struct sl_flow *f)
{
	const struct sl_endpoint *ep;
	struct sl_identity *id = NULL;
	const struct sl_ip *addr;
	bool first = f->lb->tries == 0;
	uint64_t timeout;
	bool plain;
	int ret;

	if (sl_lb_pick(f->lb, &ep, &timeout)) {
		if (first) {
			sl_stat_inc(SL_STAT_NO_ROUTE);
			sl_log_info("%s: flow %s -> %s: no mesh endpoint", __func__,
				    f->src, f->dst);
		}
		sl_flow_fail(f);
		return;
	}
	f->ep = ep;
	ret = sl_outbound_plain_prepare(f, ep, &plain);
	if (ret) {
		sl_flow_fail(f);
		return;
	}
	if (!plain) {
		ret = source_identity(f, f->src_wl, &id);
		if (ret) {
			sl_stat_inc(SL_STAT_NO_IDENTITY);
			sl_log_warn("%s: flow %s -> %s: no identity for the source: %s",
				    __func__, f->src, f->dst, strerror(-ret));
			sl_flow_fail(f);
			return;
		}
		outbound_preamble(f, ep, f->src_wl);
		/* an endpoint address of family 0 stands for the flow's own */
		addr = ep->address.family ? &ep->address : &f->orig_dst;
		if (outbound_take_pooled(f, ep, id, addr)) {
			sl_identity_put(id);
			pooled_start(f, addr, first, timeout);
			return;
		}
		ret = outbound_dial(f, ep, id, addr);
		sl_identity_put(id);
		if (ret) {
			sl_flow_fail(f);
			return;
		}
	}
	f->phase = SL_PHASE_CONNECT_MESH;
	/* the set-up deadline covers every try and the handshake */
	if (first)
		sl_flow_arm_deadline(f, f->d->o.handshake_timeout_ns +
						timeout * f->lb->max_tries);
	sl_flow_connect(f, f->mesh_fd, timeout, mesh_connected);
}

static _Atomic(sl_outbound_l7_fn) l7_hook;

void sl_outbound_set_l7(sl_outbound_l7_fn fn)
{
	atomic_store(&l7_hook, fn);
}

void sl_outbound_l7_release(void)
{
	sl_stats_flow_close();
	sl_flow_release();
}

/* the L7 hook takes the connection: true when it did (the flow is over) */
static bool offer_l7(struct sl_flow *f, const struct sl_workload *src,
		     const struct sl_ip *sip, uint16_t sport,
		     const struct sl_ip *dst, uint16_t dport)
{
	sl_outbound_l7_fn fn = atomic_load_explicit(&l7_hook,
						    memory_order_relaxed);
	struct sl_outbound_info info = {
		.src = src, .src_ip = *sip, .dst = *dst,
		.src_port = sport, .dst_port = dport, .flow_id = f->id,
	};

	if (!fn)
		return false;
	info.cfg = sl_config_get(f->cfg);
	if (!fn(f->wc, f->pod_fd, &info)) {
		sl_config_put(info.cfg);
		return false;
	}
	sl_flow_detach(f);
	return true;
}

int sl_outbound_start_pinned(struct sl_wctx *wc, int fd,
			     const struct sl_outbound_pin *p)
{
	struct sl_dest_policy pol = *p->pol;
	struct sl_flow *f;
	int ret;

	if (!sl_flow_admit(wc->d))
		return -EBUSY;
	f = sl_flow_new(wc, true);
	if (!f) {
		sl_flow_release();
		return -ENOMEM;
	}
	sl_config_put(f->cfg);
	f->cfg = sl_config_get(p->cfg);
	f->pod_fd = fd;
	f->ready = p->ready;
	f->ready_arg = p->arg;
	f->direct = p->direct;
	sl_flow_fmt_ep(f->src, sizeof(f->src), &p->src_ip, p->src_port);
	sl_flow_fmt_ep(f->dst, sizeof(f->dst), &p->orig_dst, p->orig_port);
	f->src_wl = p->src;
	f->src_ip = p->src_ip;
	f->orig_dst = p->orig_dst;
	f->orig_port = p->orig_port;
	/* one endpoint, one try: the engine retries per request */
	pol.retry_attempts = 0;
	if (p->connect_timeout_ns)
		pol.per_try_timeout_ns = p->connect_timeout_ns;
	if (!pol.connect_timeout_ns)
		pol.connect_timeout_ns = f->d->o.connect_timeout_ns;
	f->lb = malloc(sizeof(*f->lb));
	if (!f->lb) {
		f->ready_err = -ENOMEM;
		sl_flow_fail(f);
		return 0;
	}
	ret = sl_lb_begin(f->lb, f->d->health, p->ep, 1, &pol);
	if (ret) {
		free(f->lb);
		f->lb = NULL;
		f->ready_err = ret;
		sl_flow_fail(f);
		return 0;
	}
	sl_lb_set_filter(f->lb, pol.tls_disable ? NULL : mesh_endpoint);
	f->lb->quiet_success = true; /* the engine reports per response */
	outbound_try(f);
	return 0;
}

void sl_outbound_start(struct sl_wctx *wc, int fd)
{
	struct sl_flow *f;
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	const struct sl_workload *src;
	const struct sl_endpoint *eps;
	struct sl_dest_policy pol;
	struct sl_ip dst, sip;
	uint16_t dport, sport;
	size_t n_eps;
	int ret;

	f = sl_flow_new(wc, true);
	if (!f) {
		sl_socket_reset(fd);
		sl_flow_release();
		return;
	}
	f->pod_fd = fd;
	if (getpeername(fd, (struct sockaddr *)&peer, &plen) < 0 ||
	    sl_sockaddr_to_ip(&peer, &sip, &sport)) {
		sl_flow_fail(f);
		return;
	}
	sl_flow_fmt_ep(f->src, sizeof(f->src), &sip, sport);
	ret = original_dst(fd, &dst, &dport);
	if (ret) {
		sl_stat_inc(SL_STAT_REFUSED_NO_ORIG_DST);
		sl_log_info("%s: from %s: no original destination: %s",
			    __func__, f->src, strerror(-ret));
		sl_flow_fail(f);
		return;
	}
	sl_flow_fmt_ep(f->dst, sizeof(f->dst), &dst, dport);

	src = sl_config_workload_by_ip(f->cfg, &sip);
	if (!src && !sl_config_node(f->cfg)->allow_unknown_source) {
		sl_stat_inc(SL_STAT_REFUSED_UNKNOWN_SOURCE);
		sl_log_info("%s: flow %s -> %s: unknown source refused",
			    __func__, f->src, f->dst);
		sl_flow_fail(f);
		return;
	}
	if (offer_l7(f, src, &sip, sport, &dst, dport))
		return;
	if (sl_config_route(f->cfg, src, &dst, dport, &eps, &n_eps, &pol)) {
		sl_stat_inc(SL_STAT_NO_ROUTE);
		sl_log_info("%s: flow %s -> %s: no route", __func__, f->src,
			    f->dst);
		sl_flow_fail(f);
		return;
	}
	/* no connectTimeout in a DestinationRule: --connect-timeout */
	if (!pol.connect_timeout_ns)
		pol.connect_timeout_ns = f->d->o.connect_timeout_ns;
	f->lb = malloc(sizeof(*f->lb));
	if (!f->lb) {
		sl_flow_fail(f);
		return;
	}
	ret = sl_lb_begin(f->lb, f->d->health, eps, n_eps, &pol);
	if (ret) {
		/* -EBUSY: connectionPool.tcp.maxConnections reached (counted) */
		if (ret == -EBUSY)
			sl_log_info("%s: flow %s -> %s: %s at maxConnections %u: refused",
				    __func__, f->src, f->dst, pol.host,
				    pol.max_connections);
		free(f->lb);
		f->lb = NULL;
		sl_flow_fail(f);
		return;
	}
	/* DestinationRule tls DISABLE: no identity needed, any endpoint */
	sl_lb_set_filter(f->lb, pol.tls_disable ? NULL : mesh_endpoint);
	f->src_wl = src;
	f->src_ip = sip;
	f->orig_dst = dst;
	f->orig_port = dport;
	outbound_try(f);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inbound flows: an mTLS connection accepted on the inbound port.
 *
 * local address (TPROXY: the pod address dialed; loopback: the same-node
 * handoff entry) → local workload → TLS server handshake as that workload,
 * client certificate required (its SPIFFE ID is the source identity) →
 * kTLS install → strict preamble read → connect to pod:port (SO_MARK) →
 * relay.  A bad peer fails its own connection only.
 *
 * The PeerAuthentication mode is not checked here: mTLS is accepted for
 * every mode, DISABLE included (refusing the more secure transport would
 * only break clients, e.g. a node one reload behind).  Plaintext is
 * plain_inbound.c's business.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flow.h"
#include "identity.h"
#include "k8s.h"
#include "log.h"
#include "record.h"
#include "stats.h"
#include "tls.h"
#include "util.h"
#include "entry.h"
#include "handoff.h"
#include "http_route.h"
#include "sock.h"

/* plaintext buffer: the preamble plus what one ciphertext read can carry */
#define SL_INBOUND_PLAIN_CAP (SL_PREAMBLE_MAX_LEN + 2 * SL_FLOW_BUF)
#define SL_INBOUND_CT_READ 4096

static void preamble_error(struct sl_flow *f, int err)
{
	sl_stat_inc(SL_STAT_PREAMBLE_ERRORS);
	sl_log_info("%s: flow %s -> %s (%s): bad preamble: %s", __func__, f->src,
		    f->dst, sl_flow_peer_id(f) ?: "?",
		    err == -ETIMEDOUT ? "timed out" : strerror(-err));
	sl_flow_fail(f);
}

/* a peer's pooled connection (pool.h) closed unused: not an error */
static bool closed_unused(struct sl_flow *f, int err, size_t got)
{
	if (err != -ECONNRESET || got)
		return false;
	sl_log_debug("%s: flow %s -> %s (%s): closed before any preamble",
		     __func__, f->src, f->dst, sl_flow_peer_id(f) ?: "?");
	sl_flow_fail(f);
	return true;
}

static _Atomic(sl_inbound_l7_fn) l7_hook;

void sl_inbound_set_l7(sl_inbound_l7_fn fn)
{
	atomic_store(&l7_hook, fn);
}

bool sl_inbound_l7_wanted(const struct sl_flow *f, uint16_t port)
{
	return atomic_load_explicit(&l7_hook, memory_order_relaxed) &&
	       f->workload &&
	       sl_config_port_protocol(f->cfg, NULL, &f->workload->address,
				       port) == SL_PROTO_HTTP;
}

bool sl_inbound_l7_take(struct sl_flow *f, struct sl_inbound_info *info)
{
	sl_inbound_l7_fn fn = atomic_load_explicit(&l7_hook,
						   memory_order_relaxed);
	int fd;

	if (!fn) {
		sl_config_put(info->cfg);
		return false;
	}
	fd = fn(f->wc, f->pod_fd, info);
	if (fd < 0) {
		sl_config_put(info->cfg);
		return false;
	}
	f->pod_fd = fd;
	f->l7 = true;
	return true;
}

static const struct sl_ip *preamble_source(struct sl_flow *f, const char *peer);

/* the L7 hook may take the pod side: the relay then runs to its fd */
static void offer_l7(struct sl_flow *f)
{
	const char *peer = sl_flow_peer_id(f);
	struct sl_inbound_info info = {
		.dst = f->workload,
		.peer_id = peer,
		.peer_hash = f->peer_hash,
		.src_ip = f->src_ip,
		.dst_port = f->pre.dst_port,
		.flow_id = f->pre.has_flow_id ? f->pre.flow_id : f->id,
	};
	const struct sl_ip *sip;

	if (!atomic_load_explicit(&l7_hook, memory_order_relaxed))
		return;
	sip = f->src_from_handoff ? NULL : preamble_source(f, peer);
	if (sip) {
		info.src = sl_config_workload_by_ip(f->cfg, sip);
		info.src_ip = *sip;
	} else if (f->src_from_handoff) {
		info.src = sl_config_workload_by_ip(f->cfg, &f->src_ip);
	}
	if (f->pre.orig_dst_family) {
		info.orig_dst.family = f->pre.orig_dst_family;
		memcpy(&info.orig_dst.v6, f->pre.orig_dst,
		       info.orig_dst.family == AF_INET ? 4 : 16);
	}
	info.cfg = sl_config_get(f->cfg);
	sl_inbound_l7_take(f, &info);
}

static bool authorized(struct sl_flow *f);

static void pod_connected(struct sl_flow *f, int res)
{
	uint8_t *initial = NULL;
	size_t n = 0;

	(void)res; /* connected: sl_flow_connect_pod handled failures */
	offer_l7(f);
	/* the engine declined after all (stopping, out of memory): the
	 * connection is decided as a whole, with Istio's TCP rules */
	if (f->authz_deferred && !f->l7 && !authorized(f)) {
		sl_flow_fail(f);
		return;
	}
	if (f->plain && f->plain_len) {
		initial = f->plain;
		n = f->plain_len;
	}
	sl_flow_relay(f, f->ktls, initial, (uint32_t)n);
}

/*
 * The source pod of a remote flow: the preamble names it; its address is
 * used only when that workload has the verified peer identity (a peer can
 * only speak for pods of its own identity).  NULL: use the peer address.
 */
static const struct sl_ip *preamble_source(struct sl_flow *f, const char *peer)
{
	const struct sl_workload *w;

	if (!peer || !f->pre.src_name[0] || !f->pre.src_ns[0])
		return NULL;
	w = sl_config_workload_by_name(f->cfg, f->pre.src_ns, f->pre.src_name);
	if (w && w->spiffe_id && !strcmp(w->spiffe_id, peer))
		return &w->address;
	return NULL;
}

/*
 * AuthorizationPolicy at L4 (a port that is not HTTP, decided with Istio's
 * TCP rules), before anything reaches the pod: the peer's
 * SPIFFE ID (verified by the handshake), its namespace, the source address
 * (the source pod: from the handoff on the same node, else the preamble's
 * source workload when it has the peer's identity, else the peer address)
 * and the destination port from the preamble.
 */
static bool authorized(struct sl_flow *f)
{
	const char *peer = sl_flow_peer_id(f);
	char td[256], ns[256], sa[256];
	struct sl_authz_request req = {
		.src_ip = &f->src_ip,
		.dst_ip = &f->workload->address,
		.port = f->pre.dst_port,
	};

	if (!f->src_from_handoff) {
		const struct sl_ip *ip = preamble_source(f, peer);

		if (ip)
			req.src_ip = ip;
	}
	if (peer && !strncmp(peer, "spiffe://", 9)) {
		req.principal = peer + 9;
		if (!sl_spiffe_id_parse(peer, td, sizeof(td), ns, sizeof(ns), sa,
					sizeof(sa)))
			req.ns = ns;
	}
	if (sl_config_authorize(f->cfg, f->workload, &req))
		return true;
	sl_stat_inc(SL_STAT_AUTHZ_DENIED);
	sl_log_info("%s: flow %s -> %s: denied by AuthorizationPolicy: %s -> %s port %u",
		    __func__, f->src, f->dst, peer ? peer : "?",
		    f->workload->spiffe_id, f->pre.dst_port);
	return false;
}

/*
 * The preamble of a peer's pooled connection (pool.h) can arrive long after
 * the accept: decide on the configuration current now (AuthorizationPolicy
 * above all), with the workload looked up again.  A workload that left this
 * node or changed identity since the handshake is refused.
 */
static int refresh_config(struct sl_flow *f)
{
	struct sl_config *cur = sl_daemon_config(f->d);
	const struct sl_node_config *node = sl_config_node(cur);
	const struct sl_workload *wl;

	if (cur == f->cfg) {
		sl_config_put(cur);
		return 0;
	}
	wl = sl_config_workload_again(cur, f->workload);
	if (!wl || !wl->node || !node->name || strcmp(wl->node, node->name)) {
		sl_config_put(cur);
		return -ENOENT;
	}
	sl_config_put(f->cfg);
	f->cfg = cur;
	f->workload = wl;
	return 0;
}

/*
 * The node binding (with the Kubernetes source): the peer's identity must
 * have a pod on the node the connection comes from, so that a node can
 * speak only for the workloads it runs.  The source node is the Node with
 * the peer address, else the node of the pod with it; a source address
 * that is neither is not checked (counted).  Same-node flows (loopback
 * handoff) come from this sluiced itself.
 */
static bool node_bound(struct sl_flow *f)
{
	const char *peer = sl_flow_peer_id(f);
	const struct sl_workload *w;
	char node[256], ip[INET6_ADDRSTRLEN];

	if (!f->d->k8s || f->src_from_handoff || !peer)
		return true;
	if (sl_k8s_node_of(f->d->k8s, &f->src_ip, node, sizeof(node)) < 0) {
		w = sl_config_workload_by_ip(f->cfg, &f->src_ip);
		if (!w || !w->node) {
			sl_stat_inc(SL_STAT_NODE_BINDING_UNKNOWN);
			return true;
		}
		sl_strlcpy(node, w->node, sizeof(node));
	}
	if (sl_config_identity_on_node(f->cfg, peer, node))
		return true;
	sl_stat_inc(SL_STAT_REFUSED_NODE_BINDING);
	sl_log_warn("%s: flow %s -> %s: refused: %s has no pod on node %s, where the connection comes from (%s)",
		    __func__, f->src, f->dst, peer, node,
		    sl_ip_format(&f->src_ip, ip, sizeof(ip)));
	return false;
}

static void connect_pod(struct sl_flow *f)
{
	const struct sl_workload *wl;

	if (refresh_config(f)) {
		sl_stat_inc(SL_STAT_REFUSED_UNKNOWN_DEST);
		sl_log_info("%s: flow %s -> %s: workload gone or changed by a reload: refused",
			    __func__, f->src, f->dst);
		sl_flow_fail(f);
		return;
	}
	wl = f->workload;
	if (!node_bound(f)) {
		sl_flow_fail(f);
		return;
	}
	/* an HTTP port: the engine decides per request (issue 27) */
	f->authz_deferred = sl_inbound_l7_wanted(f, f->pre.dst_port);
	if (!f->authz_deferred && !authorized(f)) {
		sl_flow_fail(f);
		return;
	}
	sl_flow_fmt_ep(f->dst, sizeof(f->dst), &wl->address, f->pre.dst_port);
	sl_log_debug("%s: flow %s (%s) -> %s", __func__, f->src,
		     sl_flow_peer_id(f), f->dst);
	sl_flow_connect_pod(f, f->pre.dst_port, pod_connected);
}

/* ---- preamble over kTLS: record data arrives as plain bytes ---------- */

static void ktls_body_done(struct sl_flow *f, int res)
{
	size_t used;
	int ret;

	if (res < 0) {
		preamble_error(f, res);
		return;
	}
	ret = sl_preamble_parse(f->buf, f->io_len + SL_PREAMBLE_HDR_LEN,
				&f->pre, &used);
	if (ret) {
		preamble_error(f, ret);
		return;
	}
	connect_pod(f);
}

static void ktls_hdr_done(struct sl_flow *f, int res)
{
	ssize_t need;

	sl_flow_set_waiting(f, false);
	if (res < 0) {
		if (!closed_unused(f, res, f->io_done))
			preamble_error(f, res);
		return;
	}
	need = sl_preamble_need(f->buf, SL_PREAMBLE_HDR_LEN);
	if (need < 0) {
		preamble_error(f, (int)need);
		return;
	}
	/* read exactly the rest: nothing after the preamble is consumed */
	sl_flow_recv_exact(f, f->mesh_fd, f->buf + SL_PREAMBLE_HDR_LEN,
			   (size_t)need - SL_PREAMBLE_HDR_LEN, ktls_body_done);
}

/* ---- preamble over userspace TLS ------------------------------------- */

static void us_read_done(struct sl_flow *f, int res);

/*
 * The preamble from what the conn or the record layer holds: parsed once it
 * is all there, else one more read.  Bytes past the preamble are the
 * stream's start.
 */
static void us_process(struct sl_flow *f)
{
	ssize_t n = -EAGAIN;
	size_t used;
	int ret;

	while (f->plain_len < f->plain_cap &&
	       (n = f->rl ? sl_tls_rl_read(f->rl, f->plain + f->plain_len,
					   f->plain_cap - f->plain_len)
			  : sl_tls_conn_read(f->tls, f->plain + f->plain_len,
					     f->plain_cap - f->plain_len)) > 0)
		f->plain_len += (size_t)n;
	if (n < 0 && n != -EAGAIN) {
		preamble_error(f, (int)n);
		return;
	}
	if (f->plain_len)
		sl_flow_set_waiting(f, false);
	/* n == 0: close_notify after the data read so far; the conn keeps
	 * reporting it, so the relay sees the EOF after the initial bytes */
	ret = sl_preamble_parse(f->plain, f->plain_len, &f->pre, &used);
	if (ret == -EAGAIN && n == 0)
		ret = -ECONNRESET; /* EOF before the whole preamble */
	if (ret == -EAGAIN) {
		sl_flow_recv(f, f->mesh_fd, f->buf, SL_INBOUND_CT_READ,
			     us_read_done);
		return;
	}
	if (ret) {
		preamble_error(f, ret);
		return;
	}
	/* bytes past the preamble go to the pod first */
	memmove(f->plain, f->plain + used, f->plain_len - used);
	f->plain_len -= used;
	connect_pod(f);
}

static void us_read_done(struct sl_flow *f, int res)
{
	sl_flow_set_waiting(f, false);
	if (res <= 0) {
		if (!closed_unused(f, res ? res : -ECONNRESET, f->plain_len))
			preamble_error(f, res ? res : -ECONNRESET);
		return;
	}
	if (f->rl ? sl_tls_rl_feed(f->rl, f->buf, (size_t)res)
		  : sl_tls_conn_feed(f->tls, f->buf, (size_t)res)) {
		preamble_error(f, -ENOMEM);
		return;
	}
	us_process(f);
}

/*
 * Userspace TLS: the record layer takes the session over now, while the
 * connection waits for its preamble (a peer's pooled connection may wait
 * long), so that neither the preamble nor the relay start pays OpenSSL's
 * record path or the takeover, and the SSL object's memory goes.  The
 * peer's identity is kept for authorization and the logs.  A session it
 * cannot take (data already inside OpenSSL) stays on the conn.
 */
static void take_over(struct sl_flow *f)
{
	const char *peer = sl_tls_conn_peer_id(f->tls);
	struct sl_tls_rl *rl;

	if (!peer || sl_tls_rl_new(f->tls, &rl))
		return;
	f->peer_id = strdup(peer);
	if (!f->peer_id) {
		sl_tls_rl_free(rl);
		return;
	}
	f->rl = rl;
	sl_tls_conn_free(f->tls);
	f->tls = NULL;
	sl_stat_inc(SL_STAT_INBOUND_RECORD_LAYER);
}

static void inbound_handshake_done(struct sl_flow *f)
{
	uint64_t wait = f->d->o.preamble_timeout_ns;

	sl_log_debug("%s: flow %s -> %s: peer %s", __func__, f->src, f->dst,
		     sl_flow_peer_id(f));
	/* authenticated: from the pending budget to the inbound one */
	if (sl_flow_authenticated(f))
		return;
	/* for x-forwarded-client-cert (the HTTP engine), before the record
	 * layer may take the session and its certificate away */
	if (f->tls && sl_tls_conn_peer_cert_sha256(f->tls, f->peer_hash))
		f->peer_hash[0] = '\0';
	/* an authenticated peer may send its preamble much later: a pooled
	 * connection (pool.h) waits up to the peer's pool idle time.  Once
	 * the worker is stopping, a flow's preamble follows its Finished at
	 * once and a refill's never comes: the wait is short, and its end
	 * closes the connection quietly (flow.c, timer_done) instead of
	 * holding the stop until the grace period is over */
	if (sl_worker_stopping(f->wc->w) && wait > SL_STOP_PREAMBLE_WAIT_NS &&
	    !__atomic_load_n(&f->d->handed_over, __ATOMIC_ACQUIRE))
		wait = SL_STOP_PREAMBLE_WAIT_NS;
	/* (after an upgrade handed over, this process drains for long and
	 * a peer's flow on a connection it accepted keeps its full wait: a
	 * busy peer may send the preamble well after its Finished) */
	sl_flow_rearm_deadline(f, wait);
	sl_flow_set_waiting(f, true);
	if (sl_flow_ktls_install(f)) {
		sl_flow_fail(f);
		return;
	}
	if (f->ktls) {
		sl_flow_recv_exact(f, f->mesh_fd, f->buf, SL_PREAMBLE_HDR_LEN,
				   ktls_hdr_done);
		return;
	}
	f->plain_cap = SL_INBOUND_PLAIN_CAP;
	f->plain = malloc(f->plain_cap);
	if (!f->plain) {
		sl_flow_fail(f);
		return;
	}
	take_over(f);
	/* the handshake's reads may have taken the preamble already
	 * (sl_tls_conn_read_size without kTLS) */
	us_process(f);
}

void sl_inbound_start(struct sl_wctx *wc, int fd,
		      const struct sl_admission *adm)
{
	uint64_t hs_timeout = wc->d->o.handshake_timeout_ns, waited;
	const struct sl_workload *wl;
	struct sl_identity *id = NULL;
	struct sl_ip lip, pip, dst, hsrc;
	bool has_src = false;
	uint16_t lport, pport;
	struct sl_flow *f;
	int ret;

	f = sl_flow_accepted_adm(wc, fd, adm, &lip, &lport, &pip, &pport);
	if (!f)
		return;
	dst = lip;
	if (sl_ip_is_loopback(&lip) &&
	    sl_handoff_take_src(pport, &dst, &hsrc, &has_src)) {
		sl_stat_inc(SL_STAT_REFUSED_UNKNOWN_DEST);
		sl_log_info("%s: flow %s -> %s: loopback connection without a handoff entry refused",
			    __func__, f->src, f->dst);
		sl_flow_fail(f);
		return;
	}
	if (has_src) {
		f->src_ip = hsrc;
		f->src_from_handoff = true;
	}
	wl = sl_flow_local_workload(f, &dst);
	if (!wl) {
		sl_flow_fail(f);
		return;
	}
	f->workload = wl;
	ret = sl_daemon_identity(f->d, wl->spiffe_id, &id);
	if (ret) {
		sl_stat_inc(SL_STAT_NO_IDENTITY);
		sl_log_warn("%s: flow %s -> %s: no identity for %s: %s", __func__,
			    f->src, f->dst, wl->spiffe_id, strerror(-ret));
		sl_flow_fail(f);
		return;
	}
	ret = sl_tls_conn_new(f->d->tls_ctx, SL_TLS_SERVER, id, NULL, &f->tls);
	sl_identity_put(id);
	if (ret) {
		sl_stats_hs_fail(SL_TLS_FAIL_INTERNAL);
		sl_flow_fail(f);
		return;
	}
	f->on_handshake = inbound_handshake_done;
	/* the deadline counts from the accept: the wait for the first
	 * record (hello.c) is part of it */
	waited = adm->accept_ns ? sl_now_ns() - adm->accept_ns : 0;
	sl_flow_arm_deadline(f, hs_timeout > waited + 1000000ULL ?
					hs_timeout - waited : 1000000ULL);
	sl_flow_handshake(f);
}

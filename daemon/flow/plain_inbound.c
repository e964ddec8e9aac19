/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Plaintext inbound flows: a plaintext connection to a local pod that the
 * steering table TPROXYed to the plaintext inbound port (15006) because the
 * pod's PeerAuthentication accepts plaintext on some port.
 *
 * local address (TPROXY: the pod address and port that were dialed) →
 * local workload → effective mode for that port (STRICT: refused with an
 * RST, counted as plaintext_refused; the steering table works per address,
 * this is where the per-port mode is enforced) → AuthorizationPolicy with
 * no principal and no namespace (a plaintext peer has no identity: an
 * ALLOW rule that needs principals or namespaces does not match, ipBlocks
 * and ports can) → connect to pod:port (SO_MARK) → plain <-> plain relay.
 * A port Istio calls HTTP is served by the HTTP engine, which decides the
 * AuthorizationPolicy per request (issue 27) with no identity.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "flow.h"
#include "log.h"
#include "stats.h"
#include "entry.h"

static bool authorized(struct sl_flow *f, uint16_t port);

/* an HTTP port: the engine takes the pod side (no peer identity) */
static void offer_l7(struct sl_flow *f)
{
	struct sl_inbound_info info = {
		.dst = f->workload,
		.peer_hash = "",
		.src_ip = f->src_ip,
		.dst_port = f->pre.dst_port,
		.flow_id = f->id,
		.plaintext = true,
	};

	info.orig_dst = f->workload->address;
	info.cfg = sl_config_get(f->cfg);
	sl_inbound_l7_take(f, &info);
}

static void pod_connected(struct sl_flow *f, int res)
{
	(void)res; /* connected: sl_flow_connect_pod handled failures */
	if (f->authz_deferred) {
		offer_l7(f);
		/* the engine declined (stopping, out of memory): the
		 * connection is decided whole, with Istio's TCP rules */
		if (!f->l7 && !authorized(f, f->pre.dst_port)) {
			sl_flow_fail(f);
			return;
		}
	}
	sl_stat_inc(SL_STAT_PLAINTEXT_INBOUND);
	sl_flow_relay(f, false, NULL, 0);
}

/* AuthorizationPolicy for a plaintext connection (no identity) */
static bool authorized(struct sl_flow *f, uint16_t port)
{
	struct sl_authz_request req = {
		.principal = NULL,
		.ns = NULL,
		.src_ip = &f->src_ip,
		.dst_ip = &f->workload->address,
		.port = port,
	};

	if (sl_config_authorize(f->cfg, f->workload, &req))
		return true;
	sl_stat_inc(SL_STAT_AUTHZ_DENIED);
	sl_log_info("%s: flow %s -> %s: denied by AuthorizationPolicy: plaintext -> %s port %u",
		    __func__, f->src, f->dst, f->workload->spiffe_id ?
		    f->workload->spiffe_id : f->workload->name, port);
	return false;
}

/* PeerAuthentication for the dialed port, then AuthorizationPolicy (an
 * HTTP port's is the engine's, per request) */
static bool admitted(struct sl_flow *f, uint16_t port)
{
	enum sl_mtls_mode mode = sl_config_mtls_mode(f->cfg, f->workload, port);

	if (mode == SL_MTLS_STRICT) {
		sl_stat_inc(SL_STAT_PLAINTEXT_REFUSED);
		sl_log_info("%s: flow %s -> %s: plaintext refused: %s/%s port %u is STRICT",
			    __func__, f->src, f->dst, f->workload->ns,
			    f->workload->name, port);
		return false;
	}
	f->authz_deferred = sl_inbound_l7_wanted(f, port);
	return f->authz_deferred || authorized(f, port);
}

void sl_plain_inbound_start(struct sl_wctx *wc, int fd)
{
	const struct sl_workload *wl;
	struct sl_ip lip, pip;
	uint16_t lport, pport;
	struct sl_flow *f;

	f = sl_flow_accepted(wc, fd, &lip, &lport, &pip, &pport);
	if (!f)
		return;
	f->plaintext = true;
	wl = sl_flow_local_workload(f, &lip);
	if (!wl) {
		sl_flow_fail(f);
		return;
	}
	f->workload = wl;
	/* for the access log and `sluice conns`: what was dialed */
	f->pre.dst_port = lport;
	sl_flow_pre_orig_dst(f, &lip);
	if (!admitted(f, lport)) {
		sl_flow_fail(f);
		return;
	}
	sl_log_debug("%s: flow %s -> %s (plaintext)", __func__, f->src, f->dst);
	sl_flow_arm_deadline(f, f->d->o.handshake_timeout_ns);
	sl_flow_connect_pod(f, lport, pod_connected);
}

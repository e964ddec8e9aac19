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
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "flow.h"
#include "log.h"
#include "stats.h"
#include "entry.h"

static void pod_connected(struct sl_flow *f, int res)
{
	(void)res; /* connected: sl_flow_connect_pod handled failures */
	sl_stat_inc(SL_STAT_PLAINTEXT_INBOUND);
	sl_flow_relay(f, false, NULL, 0);
}

/* PeerAuthentication for the dialed port, then AuthorizationPolicy */
static bool admitted(struct sl_flow *f, uint16_t port)
{
	enum sl_mtls_mode mode = sl_config_mtls_mode(f->cfg, f->workload, port);
	struct sl_authz_request req = {
		.principal = NULL,
		.ns = NULL,
		.src_ip = &f->src_ip,
		.port = port,
	};

	if (mode == SL_MTLS_STRICT) {
		sl_stat_inc(SL_STAT_PLAINTEXT_REFUSED);
		sl_log_info("%s: flow %s -> %s: plaintext refused: %s/%s port %u is STRICT",
			    __func__, f->src, f->dst, f->workload->ns,
			    f->workload->name, port);
		return false;
	}
	if (sl_config_authorize(f->cfg, f->workload, &req))
		return true;
	sl_stat_inc(SL_STAT_AUTHZ_DENIED);
	sl_log_info("%s: flow %s -> %s: denied by AuthorizationPolicy: plaintext -> %s port %u",
		    __func__, f->src, f->dst, f->workload->spiffe_id ?
		    f->workload->spiffe_id : f->workload->name, port);
	return false;
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

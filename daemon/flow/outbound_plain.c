/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Outbound flows without mTLS: the destination does not want it.
 *
 * A flow goes out in plaintext when the DestinationRule of its destination
 * says trafficPolicy.tls.mode DISABLE (any endpoint), or when the chosen
 * endpoint is a known workload whose effective PeerAuthentication mode for
 * the target port is DISABLE.  sluiced then connects straight to the
 * endpoint address:port with its bypass SO_MARK (no handshake, no preamble)
 * and relays plain <-> plain.  On the remote node the steering table sends
 * that plaintext to the plaintext inbound port like any plaintext (dropped
 * if the pod is STRICT there).  A destination on this node is reached
 * directly, past the steering table and the plaintext listener, so its
 * PeerAuthentication (STRICT port: refused) and AuthorizationPolicy (no
 * principal, source = the source pod address) are applied here.
 */
#include <errno.h>
#include <string.h>

#include "flow.h"
#include "log.h"
#include "policy_query.h"
#include "stats.h"
#include "sock.h"

static bool on_this_node(const struct sl_flow *f, const struct sl_workload *wl)
{
	const struct sl_node_config *node = sl_config_node(f->cfg);

	return wl && wl->node && node->name && !strcmp(wl->node, node->name);
}

/* the checks the plaintext listener would have made, for a local pod */
static int local_checks(struct sl_flow *f, const struct sl_workload *wl,
			uint16_t port)
{
	struct sl_authz_request req = {
		.principal = NULL,
		.ns = NULL,
		.src_ip = f->src_wl ? &f->src_wl->address : &f->src_ip,
		.port = port,
	};

	if (sl_config_mtls_mode(f->cfg, wl, port) == SL_MTLS_STRICT) {
		sl_stat_inc(SL_STAT_PLAINTEXT_REFUSED);
		sl_log_info("%s: flow %s -> %s: plaintext refused: %s/%s port %u is STRICT",
			    __func__, f->src, f->dst, wl->ns, wl->name, port);
		return -EACCES;
	}
	if (sl_config_authorize(f->cfg, wl, &req))
		return 0;
	sl_stat_inc(SL_STAT_AUTHZ_DENIED);
	sl_log_info("%s: flow %s -> %s: denied by AuthorizationPolicy: plaintext -> %s port %u",
		    __func__, f->src, f->dst,
		    wl->spiffe_id ? wl->spiffe_id : wl->name, port);
	return -EACCES;
}

int sl_outbound_plain_prepare(struct sl_flow *f, const struct sl_endpoint *ep,
			      bool *plain)
{
	const struct sl_workload *wl = ep->workload;
	uint16_t port = ep->port ? ep->port : f->orig_port;
	/* an endpoint address of family 0 stands for the flow's own */
	const struct sl_ip *addr = ep->address.family ? &ep->address
						      : &f->orig_dst;
	int fd, ret;

	*plain = false;
	f->plaintext = false;
	if (!(f->lb && f->lb->pol.tls_disable) &&
	    !(wl && sl_config_mtls_mode(f->cfg, wl, port) == SL_MTLS_DISABLE))
		return 0;
	if (on_this_node(f, wl)) {
		ret = local_checks(f, wl, port);
		if (ret)
			return ret;
	}
	fd = sl_socket_dial(addr->family, f->d->mark);
	if (fd < 0) {
		sl_stat_inc(SL_STAT_CONNECT_FAILED);
		sl_log_warn("%s: flow %s -> %s: %s", __func__, f->src, f->dst,
			    strerror(-fd));
		return fd;
	}
	f->mesh_fd = fd;
	f->sa_len = sl_ip_to_sockaddr(addr, port, &f->sa);
	f->plaintext = true;
	/* no preamble is sent; these fields feed the access log and metrics */
	memset(&f->pre, 0, sizeof(f->pre));
	f->pre.dst_port = port;
	sl_flow_pre_orig_dst(f, &f->orig_dst);
	*plain = true;
	sl_log_debug("%s: flow %s -> %s: plaintext to %s (%s)", __func__,
		     f->src, f->dst, wl ? wl->name : "?",
		     f->lb && f->lb->pol.tls_disable ?
		     "DestinationRule tls DISABLE" : "PeerAuthentication DISABLE");
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What observability sees of a flow (sl_flow_obs_conn, flow.h): the flow
 * describes itself in a plain struct sl_obs_conn when its relay starts.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "flow.h"
#include "obs.h"
#include "sock.h"
#include "util.h"

static void fmt_ip(char *buf, size_t len, int family, const void *a,
		   uint16_t port)
{
	char s[INET6_ADDRSTRLEN] = "?";

	inet_ntop(family, a, s, sizeof(s));
	if (port)
		snprintf(buf, len, family == AF_INET6 ? "[%s]:%u" : "%s:%u", s,
			 port);
	else
		snprintf(buf, len, "%s", s);
}

static void fmt_sa(char *buf, size_t len, const struct sockaddr_storage *sa)
{
	struct sl_ip ip;
	uint16_t port;

	if (sl_sockaddr_to_ip(sa, &ip, &port)) {
		sl_strlcpy(buf, "?", len);
		return;
	}
	fmt_ip(buf, len, ip.family, &ip.v6, port);
}

static void copy_wl(struct sl_obs_conn *of, bool src, const struct sl_workload *wl)
{
	if (!wl)
		return;
	sl_strlcpy(src ? of->src_wl : of->dst_wl, wl->name, SL_OBS_NAME_LEN);
	sl_strlcpy(src ? of->src_ns : of->dst_ns, wl->ns, SL_OBS_NAME_LEN);
	if (wl->spiffe_id)
		sl_strlcpy(src ? of->src_id : of->dst_id, wl->spiffe_id, SL_OBS_ID_LEN);
}

void sl_flow_obs_conn(struct sl_flow *f, bool ktls, struct sl_obs_conn *of)
{
	const struct sl_preamble *pre = &f->pre;

	memset(of, 0, sizeof(*of));
	of->ktls = ktls;

	/* the inbound side takes the client's id from the preamble: one
	 * flow, one id on both nodes */
	of->id = !f->outbound && pre->has_flow_id ? pre->flow_id : f->id;
	of->outbound = f->outbound;
	of->plaintext = f->plaintext;
	sl_strlcpy(of->src_addr, f->src, sizeof(of->src_addr));
	sl_strlcpy(of->dst_addr, f->dst, sizeof(of->dst_addr));
	if (pre->src_name[0]) {
		sl_strlcpy(of->src_wl, pre->src_name, SL_OBS_NAME_LEN);
		sl_strlcpy(of->src_ns, pre->src_ns, SL_OBS_NAME_LEN);
	}
	/* destination_service as Istio has it: the FQDN of the service whose
	 * VIP was dialed; a flow to a pod address keeps that address */
	if (pre->orig_dst_family) {
		struct sl_ip ip = { .family = pre->orig_dst_family };
		const char *host;

		memcpy(&ip.v6, pre->orig_dst,
		       ip.family == AF_INET ? 4 : 16);
		host = sl_config_service_host(f->cfg, &ip);
		if (host)
			sl_strlcpy(of->service, host, sizeof(of->service));
		else
			fmt_ip(of->service, sizeof(of->service),
			       pre->orig_dst_family, pre->orig_dst, 0);
	}
	if (f->outbound) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		struct sl_ip ip;
		uint16_t port;

		if (getpeername(f->pod_fd, (struct sockaddr *)&peer, &plen) == 0 &&
		    sl_sockaddr_to_ip(&peer, &ip, &port) == 0)
			copy_wl(of, true, sl_config_workload_by_ip(f->cfg, &ip));
		if (f->ep)
			copy_wl(of, false, f->ep->workload);
		fmt_sa(of->endpoint, sizeof(of->endpoint), &f->sa);
	} else {
		const char *peer = sl_flow_peer_id(f);

		if (peer)
			sl_strlcpy(of->src_id, peer, SL_OBS_ID_LEN);
		copy_wl(of, false, f->workload);
		sl_strlcpy(of->endpoint, f->dst, sizeof(of->endpoint));
	}
}

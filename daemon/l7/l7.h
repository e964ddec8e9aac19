/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP/1.1 engine (issue 26): on the source node, a pod's connection to
 * a port that Istio's protocol selection calls HTTP is served request by
 * request instead of relayed as bytes.  Each request is parsed strictly
 * (http/h1.h), routed by the VirtualService http[] rules
 * (sl_config_http_route: match, weighted destination chosen per request),
 * faults applied, an endpoint picked (lb.h), and sent over an upstream leg:
 * an ordinary outbound flow pinned to that endpoint whose pod side is a
 * socketpair (mTLS, kTLS or userspace, pool, preamble: all as for L4).  Legs
 * are kept alive and reused per (source identity, endpoint).  Responses are
 * streamed back; timeouts, retries and local replies (400, 404 NR, 503 UH/UF,
 * 504 UT, fault aborts) follow Istio/Envoy.  See docs/HTTP.md.
 *
 * Everything runs on the worker thread that accepted the connection.
 */
#ifndef SL_L7_H
#define SL_L7_H

#include <stdbool.h>

#include "entry.h"

struct sl_wctx;

/**
 * sl_l7_offer - the outbound L7 hook (sl_outbound_set_l7): takes @fd when
 * @info's destination port is HTTP by protocol selection
 * @retval true when taken (see sl_outbound_l7_fn)
 */
bool sl_l7_offer(struct sl_wctx *wc, int fd, struct sl_outbound_info *info);

/**
 * sl_l7_inbound_offer - the inbound L7 hook (sl_inbound_set_l7): when the
 * pod port is HTTP by protocol selection, the engine serves the flow's
 * requests on the destination side (reported with reporter "destination")
 * @retval the fd the flow relays to instead of @pod_fd, or -1
 */
int sl_l7_inbound_offer(struct sl_wctx *wc, int pod_fd,
			struct sl_inbound_info *info);

/**
 * sl_l7_worker_stop - the worker is stopping: close idle upstream legs and
 * idle client connections; busy ones close after their current response
 */
void sl_l7_worker_stop(struct sl_wctx *wc);

#endif /* SL_L7_H */

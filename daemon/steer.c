/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sluiced applying its own steering table (--steer): the "inet sluice"
 * table built from the node configuration (ports) and the workloads of
 * this node (pods), plus the TPROXY policy route; re-applied on reload,
 * removed at stop.  The rules themselves are nft/'s business (steer.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "log.h"
#include "steer.h"

static void nft_config(const struct sl_config *cfg, struct sl_nft_config *nc)
{
	const struct sl_node_config *node = sl_config_node(cfg);

	sl_nft_config_init(nc);
	nc->outbound_port = node->outbound_port;
	nc->inbound_port = node->inbound_port;
	nc->inbound_plain_port = node->inbound_plain_port;
	nc->metrics_port = node->metrics_port;
}

/* the workloads of this node, as steering pods (STRICT: plaintext to them
 * is dropped; sluiced serves no plaintext port yet) */
static int local_pods(const struct sl_config *cfg, struct sl_nft_pod **out,
		      size_t *n_out)
{
	const char *node = sl_config_node(cfg)->name;
	const struct sl_workload *wl;
	struct sl_nft_pod *pods;
	size_t n, k = 0;

	wl = sl_config_workloads(cfg, &n);
	pods = calloc(n ? n : 1, sizeof(*pods));
	if (!pods)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		bool dup = false;

		if (!wl[i].node || !node || strcmp(wl[i].node, node) != 0)
			continue;
		for (size_t j = 0; j < k; j++)
			if (pods[j].addr.family == wl[i].address.family &&
			    !memcmp(&pods[j].addr.v6, &wl[i].address.v6,
				    wl[i].address.family == AF_INET ? 4 : 16))
				dup = true;
		if (dup)
			continue;
		pods[k].addr.family = wl[i].address.family;
		if (wl[i].address.family == AF_INET) {
			pods[k].addr.v4 = wl[i].address.v4;
			pods[k].addr.prefix_len = 32;
		} else {
			pods[k].addr.v6 = wl[i].address.v6;
			pods[k].addr.prefix_len = 128;
		}
		pods[k].mode = SL_NFT_STRICT;
		k++;
	}
	*out = pods;
	*n_out = k;
	return 0;
}

static int apply(struct sl_daemon *d, struct sl_config *cfg)
{
	struct sl_nft_pod *pods = NULL;
	size_t n = 0;
	int ret;

	ret = local_pods(cfg, &pods, &n);
	if (ret)
		return ret;
	ret = sl_nft_apply(d->steer, NULL, pods, n);
	if (ret)
		sl_log_err("%s: applying the steering table: %s: %s", __func__,
			   strerror(-ret), sl_nft_last_error(d->steer));
	else
		sl_log_info("%s: steering table applied (%zu local pods)",
			    __func__, n);
	free(pods);
	return ret;
}

int sl_steer_start(struct sl_daemon *d)
{
	struct sl_nft_config nc;
	int ret;

	nft_config(d->cfg, &nc);
	ret = sl_nft_ctx_new(&nc, &d->steer);
	if (ret) {
		sl_log_err("%s: %s", __func__, strerror(-ret));
		return ret;
	}
	ret = sl_nft_policy_route_install(&nc);
	if (ret) {
		sl_log_err("%s: TPROXY policy route: %s", __func__, strerror(-ret));
		goto fail;
	}
	ret = apply(d, d->cfg);
	if (ret) {
		sl_nft_policy_route_remove(&nc);
		goto fail;
	}
	return 0;
fail:
	sl_nft_ctx_free(d->steer);
	d->steer = NULL;
	return ret;
}

void sl_steer_update(struct sl_daemon *d, struct sl_config *cfg)
{
	if (d->steer)
		apply(d, cfg);
}

void sl_steer_stop(struct sl_daemon *d)
{
	struct sl_nft_config nc;

	if (!d->steer)
		return;
	nft_config(d->cfg, &nc);
	if (sl_nft_remove(d->steer))
		sl_log_warn("%s: removing the steering table: %s", __func__,
			    sl_nft_last_error(d->steer));
	sl_nft_policy_route_remove(&nc);
	sl_nft_ctx_free(d->steer);
	d->steer = NULL;
}

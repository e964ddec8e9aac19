/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guards against a hollow configuration (config.h): what sluiced must never
 * run on, and what it runs on only when an operator confirms it.
 */
#include <errno.h>
#include <stdio.h>

#include "config_internal.h"

const char *sl_config_node_source(const struct sl_config *cfg)
{
	return cfg->node_source;
}

int sl_config_usable(const struct sl_config *cfg, char *why, size_t len)
{
	if (cfg->node.ca_dir || cfg->node.cert_dir)
		return 0;
	snprintf(why, len,
		 "no Node resource for node \"%s\" sets caDir or certDir: no workload certificate can be issued or loaded",
		 cfg->node.name ? cfg->node.name : "?");
	return -EINVAL;
}

int sl_config_guard(const struct sl_config *old, const struct sl_config *cfg,
		    char *why, size_t len)
{
	if (!old)
		return 0;
	if (old->n_workloads && !cfg->n_workloads) {
		snprintf(why, len,
			 "it would remove every workload (%zu -> 0): no pod would be steered or given an identity",
			 old->n_workloads);
		return -ECANCELED;
	}
	if (old->node_source && !cfg->node_source) {
		snprintf(why, len,
			 "it would remove the Node resource that configures node \"%s\" (%s): the built-in defaults would apply",
			 old->node.name ? old->node.name : "?",
			 old->node_source);
		return -ECANCELED;
	}
	return 0;
}

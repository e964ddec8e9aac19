/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the input is one YAML file, loaded through the same
 * parser, decoder and resolver as a config directory.  A valid snapshot
 * is also printed (routes in every format) and queried.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config_internal.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct sl_config_doc doc = { "fuzz.yaml", "fuzz.yaml",
					   (const char *)data, size };
	struct sl_config_errors errs = { 0 };
	struct sl_config *cfg = NULL;
	FILE *devnull;

	/* the in-memory entry point: same parser, decoder and resolver as
	 * sl_config_load_dir */
	if (sl_config_load_files("fuzz.yaml", &doc, 1, "node-a", &cfg,
				 &errs) == 0) {
		const struct sl_workload *w;
		const struct sl_endpoint *eps;
		struct sl_ip vip;
		size_t n;

		devnull = fopen("/dev/null", "w");
		if (devnull) {
			sl_config_routes_print(cfg, NULL, SL_CONFIG_FMT_TABLE, devnull);
			sl_config_routes_print(cfg, NULL, SL_CONFIG_FMT_JSON, devnull);
			sl_config_routes_print(cfg, NULL, SL_CONFIG_FMT_DUMP, devnull);
			fclose(devnull);
		}
		w = sl_config_workloads(cfg, &n);
		for (size_t i = 0; i < n; i++) {
			struct sl_authz_request req = { .principal = "x",
							.src_ip = &w[i].address,
							.port = 80 };

			sl_config_resolve(cfg, NULL, &w[i].address, 80, &eps, &n);
			sl_config_authorize(cfg, &w[i], &req);
			sl_config_mtls_mode(cfg, &w[i], 80);
			sl_config_mtls_plaintext_any(cfg, &w[i]);
			{
				char mb[64];

				sl_config_mtls_describe(cfg, &w[i], mb, sizeof(mb));
			}
			w = sl_config_workloads(cfg, &n);
		}
		for (size_t i = 0; i < cfg->n_vips; i++) {
			vip = cfg->vips[i].ip;
			for (size_t k = 0; k < cfg->vips[i].host->n_ports; k++)
				sl_config_resolve(cfg, NULL, &vip,
						  (uint16_t)cfg->vips[i].host->ports[k].port,
						  &eps, &n);
		}
	}
	sl_config_put(cfg);
	sl_config_errors_free(&errs);
	return 0;
}

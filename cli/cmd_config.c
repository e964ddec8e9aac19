/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sluice check DIR           validate a config directory offline
 * sluice routes --config DIR [HOST]
 *                            print the resolved routing table
 *                            (sl_routes_offline; cmd_admin.c parses)
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "config.h"
#include "json.h"

/*
 * What a valid directory still lacks for sluiced: the two conditions
 * sluiced's reload guard refuses (config.h: sl_config_usable and the
 * every-workload rule of sl_config_guard).  @w gets up to 2 messages.
 * @retval the number of warnings
 */
static size_t sl_check_warnings(const struct sl_config *cfg, char w[2][512])
{
	char why[400];
	size_t n = 0, nwl = 0;

	if (!cfg)
		return 0;
	if (sl_config_usable(cfg, why, sizeof(why)) < 0)
		snprintf(w[n++], sizeof(w[0]),
			 "%s: sluiced refuses to run on this directory", why);
	sl_config_workloads(cfg, &nwl);
	if (!nwl)
		snprintf(w[n++], sizeof(w[0]),
			 "no WorkloadEntry: no pod would be steered or given an identity; a running sluiced that has workloads refuses this directory unless confirmed with `sluice reload --allow-empty`");
	return n;
}

static void sl_check_json_err(struct sl_json *j, const struct sl_config_error *e)
{
	sl_json_obj_begin(j);
	sl_json_kv_str(j, "file", e->file);
	sl_json_kv_uint(j, "line", e->line);
	sl_json_kv_uint(j, "column", e->col);
	sl_json_kv_str(j, "path", e->path);
	sl_json_kv_str(j, "message", e->message);
	sl_json_obj_end(j);
}

static void sl_check_json(const char *dir, const struct sl_config *cfg,
			  const struct sl_config_errors *errs, FILE *out)
{
	char w[2][512];
	size_t nw = sl_check_warnings(cfg, w);
	struct sl_json j;

	sl_json_init(&j, out, true);
	sl_json_obj_begin(&j);
	sl_json_kv_bool(&j, "ok", cfg != NULL);
	if (cfg) {
		sl_json_kv_uint(&j, "resources", sl_config_count(cfg, NULL));
		sl_json_key(&j, "counts");
		sl_json_obj_begin(&j);
		for (unsigned int k = 0; sl_config_kind_name(k); k++) {
			const char *name = sl_config_kind_name(k);

			sl_json_kv_uint(&j, name, sl_config_count(cfg, name));
		}
		sl_json_obj_end(&j);
		sl_json_kv_str(&j, "generation", sl_config_generation(cfg));
		const struct sl_config_error *cw;
		size_t ncw;

		cw = sl_config_warnings(cfg, &ncw);
		sl_json_key(&j, "warnings");
		sl_json_arr_begin(&j);
		for (size_t i = 0; i < ncw; i++)
			sl_check_json_err(&j, &cw[i]);
		for (size_t i = 0; i < nw; i++) {
			struct sl_config_error e = { .file = dir,
						     .message = w[i] };

			sl_check_json_err(&j, &e);
		}
		sl_json_arr_end(&j);
	}
	sl_json_key(&j, "errors");
	sl_json_arr_begin(&j);
	for (size_t i = 0; errs && i < errs->n; i++)
		sl_check_json_err(&j, &errs->v[i]);
	sl_json_arr_end(&j);
	sl_json_obj_end(&j);
	fputc('\n', out);
}

int sl_cmd_check(struct sl_cli *cli, int argc, char **argv)
{
	struct sl_config_errors errs = { .v = NULL };
	struct sl_config *cfg = NULL;
	char summary[512], *dir = NULL;
	int ret;

	ret = sl_cli_parse_args(cli, argc, argv, NULL, NULL, 1, &dir);
	if (ret >= 0)
		return ret;
	if (!dir)
		return sl_cli_usage_error(cli, "the config directory DIR is missing");
	ret = sl_config_load_dir(dir, NULL, &cfg, &errs);
	if (cli->fmt == SL_OUT_JSON) {
		sl_check_json(dir, cfg, &errs, stdout);
	} else if (ret == 0) {
		char w[2][512];
		size_t nw = sl_check_warnings(cfg, w);

		printf("ok: %s generation %s\n",
		       sl_config_summary(cfg, summary, sizeof(summary)),
		       sl_config_generation(cfg));
		const struct sl_config_error *cw;
		size_t ncw;

		cw = sl_config_warnings(cfg, &ncw);
		for (size_t i = 0; i < ncw; i++)
			sl_config_warning_print(&cw[i], stderr);
		for (size_t i = 0; i < nw; i++)
			fprintf(stderr, "%s: warning: %s\n", dir, w[i]);
		if (ncw + nw)
			fprintf(stderr, "%s: %zu warning%s\n", dir, ncw + nw,
				ncw + nw == 1 ? "" : "s");
	} else {
		sl_config_errors_print(&errs, stderr);
		fprintf(stderr, "%s: %zu error%s\n", dir, errs.n,
			errs.n == 1 ? "" : "s");
	}
	sl_config_errors_free(&errs);
	sl_config_put(cfg);
	return ret == 0 ? SL_EXIT_OK : SL_EXIT_FAIL;
}

int sl_routes_offline(struct sl_cli *cli, const char *dir, const char *host)
{
	struct sl_config_errors errs = { .v = NULL };
	struct sl_config *cfg = NULL;
	enum sl_config_fmt fmt;
	int ret;

	ret = sl_config_load_dir(dir, NULL, &cfg, &errs);
	if (ret < 0) {
		sl_config_errors_print(&errs, stderr);
		fprintf(stderr, "%s: %zu error%s\n", dir, errs.n,
			errs.n == 1 ? "" : "s");
		sl_config_errors_free(&errs);
		return SL_EXIT_FAIL;
	}
	fmt = cli->fmt == SL_OUT_JSON ? SL_CONFIG_FMT_JSON :
	      cli->fmt == SL_OUT_DUMP ? SL_CONFIG_FMT_DUMP : SL_CONFIG_FMT_TABLE;
	ret = sl_config_routes_print(cfg, host, fmt, stdout);
	if (ret == -ENOENT)
		fprintf(stderr, "%s routes: no host \"%s\"\n", cli->prog, host);
	else if (ret < 0)
		fprintf(stderr, "%s routes: %s\n", cli->prog, strerror(-ret));
	sl_config_put(cfg);
	return ret == 0 ? SL_EXIT_OK : SL_EXIT_FAIL;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sluice: the command line of the sluice mesh.  Subcommands come from one
 * table; usage text is built from it (as wg(8) does).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "log.h"
#include "sl_build_config.h"
#include "util.h"

struct sl_subcommand {
	const char *name;
	int (*fn)(struct sl_cli *cli, int argc, char **argv);
	const char *args;
	const char *description;
};

static int sl_cmd_help(struct sl_cli *cli, int argc, char **argv);
static int sl_cmd_version(struct sl_cli *cli, int argc, char **argv);

static const struct sl_subcommand sl_subcommands[] = {
	{ "check", sl_cmd_check, "DIR", "Validate a config directory offline" },
	{ "routes", sl_cmd_routes_any, "[--config DIR] [HOST]",
	  "Show the resolved routing table (daemon's, or of DIR)" },
	{ "status", sl_cmd_status, "", "Show the daemon's state" },
	{ "workloads", sl_cmd_workloads, "", "List the known workloads" },
	{ "certs", sl_cmd_certs, "", "List the workload certificates held" },
	{ "conns", sl_cmd_conns, "", "List the live flows" },
	{ "stats", sl_cmd_stats, "", "Show the data path counters" },
	{ "rules", sl_cmd_rules, "", "Show the steering table (--steer)" },
	{ "log-level", sl_cmd_log_level, "[LEVEL]",
	  "Show or set the daemon's log level" },
	{ "reload", sl_cmd_reload, "[--allow-empty]",
	  "Reload the config now; --allow-empty confirms a hollowing change" },
	{ "ca", sl_cmd_ca, "init DIR | issue ...",
	  "Create the mesh CA, issue certificates" },
	{ "version", sl_cmd_version, "", "Print the version" },
	{ "help", sl_cmd_help, "", "Show this help" },
};

static void sl_usage(FILE *out, const char *prog)
{
	fprintf(out, "Usage: %s [-o table|json|dump] [-s SOCKET] COMMAND [ARGS]\n\n",
		prog);
	fputs("Commands:\n", out);
	for (size_t i = 0; i < SL_ARRAY_SIZE(sl_subcommands); i++) {
		char left[64];

		snprintf(left, sizeof(left), "%s %s", sl_subcommands[i].name,
			 sl_subcommands[i].args);
		fprintf(out, "  %-28s %s\n", left, sl_subcommands[i].description);
	}
	fputs("\nOptions:\n"
	      "  -o, --output FMT    table (default on a terminal), json, dump\n"
	      "  -s, --socket PATH   admin socket (default " SL_RUNDIR "/admin.sock)\n"
	      "  -V, --version       print the version\n"
	      "  -h, --help          show this help\n"
	      "\nExit codes: 0 ok, 1 failed, 2 usage, 3 daemon unreachable.\n",
	      out);
}

static int sl_cmd_help(struct sl_cli *cli, int argc, char **argv)
{
	sl_usage(stdout, cli->prog);
	return SL_EXIT_OK;
}

static int sl_cmd_version(struct sl_cli *cli, int argc, char **argv)
{
	printf("sluice %s\n", SL_VERSION);
	return SL_EXIT_OK;
}

int sl_cli_parse_fmt(const char *s, enum sl_out_fmt *out)
{
	if (strcmp(s, "table") == 0)
		*out = SL_OUT_TABLE;
	else if (strcmp(s, "json") == 0)
		*out = SL_OUT_JSON;
	else if (strcmp(s, "dump") == 0)
		*out = SL_OUT_DUMP;
	else
		return -EINVAL;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "socket", required_argument, NULL, 's' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sl_cli cli = {
		.fmt = SL_OUT_TABLE,
		.admin_socket = SL_RUNDIR "/admin.sock",
		.prog = "sluice",
	};
	int c;

	sl_log_init("sluice", SL_LOG_WARN);
	/* '+' stops at the first non-option: the rest belongs to the command */
	while ((c = getopt_long(argc, argv, "+o:s:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (sl_cli_parse_fmt(optarg, &cli.fmt) < 0) {
				fprintf(stderr, "sluice: unknown output format '%s' (want table, json or dump)\n",
					optarg);
				return SL_EXIT_USAGE;
			}
			break;
		case 's':
			cli.admin_socket = optarg;
			break;
		case 'V':
			return sl_cmd_version(&cli, 0, NULL);
		case 'h':
			sl_usage(stdout, cli.prog);
			return SL_EXIT_OK;
		default:
			sl_usage(stderr, cli.prog);
			return SL_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		sl_usage(stderr, cli.prog);
		return SL_EXIT_USAGE;
	}
	for (size_t i = 0; i < SL_ARRAY_SIZE(sl_subcommands); i++) {
		if (strcmp(argv[optind], sl_subcommands[i].name) == 0) {
			/* the command sees argv[0] = its name */
			argc -= optind;
			argv += optind;
			optind = 0;
			return sl_subcommands[i].fn(&cli, argc, argv);
		}
	}
	fprintf(stderr, "sluice: unknown command '%s'; see 'sluice help'\n",
		argv[optind]);
	return SL_EXIT_USAGE;
}

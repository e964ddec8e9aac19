/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sluice: the command line of the sluice mesh.  Subcommands come from one
 * table; usage text is built from it (as wg(8) does, cli/opts.c).  The
 * common options (-o, -s, -h) go before the command or anywhere after it:
 * main() parses those before the command, each command parses its own
 * arguments with getopt_long() and hands the common ones to
 * sl_cli_common_opt().
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "log.h"
#include "opts.h"
#include "sl_build_config.h"
#include "util.h"

static int sl_cmd_help(struct sl_cli *cli, int argc, char **argv);
static int sl_cmd_version(struct sl_cli *cli, int argc, char **argv);

static const struct sl_subcommand sl_subcommands[] = {
	{ "check", sl_cmd_check, "DIR", NULL,
	  "Validate a config directory offline", NULL },
	{ "routes", sl_cmd_routes, "[--config DIR] [HOST]", NULL,
	  "Show the resolved routing table (daemon's, or of DIR)",
	  "  -c, --config DIR       compute it offline from the config directory DIR\n" },
	{ "status", sl_cmd_status, "", NULL, "Show the daemon's state", NULL },
	{ "workloads", sl_cmd_workloads, "", NULL, "List the known workloads", NULL },
	{ "certs", sl_cmd_certs, "", NULL, "List the workload certificates held", NULL },
	{ "conns", sl_cmd_conns, "", NULL, "List the live flows", NULL },
	{ "stats", sl_cmd_stats, "", NULL, "Show the data path counters", NULL },
	{ "rules", sl_cmd_rules, "", NULL, "Show the steering table (--steer)", NULL },
	{ "log-level", sl_cmd_log_level, "[LEVEL]",
	  "[err|warn|notice|info|debug]",
	  "Show or set the daemon's log level", NULL },
	{ "reload", sl_cmd_reload, "[--allow-empty]", NULL,
	  "Reload the config now; --allow-empty confirms a hollowing change",
	  "      --allow-empty      confirm a change that removes every workload or\n"
	  "                         this node's Node, for this one reload\n" },
	{ "upgrade", sl_cmd_upgrade, "", NULL,
	  "Hand over to the sluiced binary now installed, dropping nothing",
	  NULL },
	{ "ca", sl_cmd_ca, "init DIR | issue ...",
	  "init DIR [--trust-domain TD] [--days N] [--force]\n"
	  "issue --ca DIR (--spiffe-id ID | --ns NS --sa SA)\n"
	  "                 [--trust-domain TD] [--hours H] --out PREFIX",
	  "Create the mesh CA, issue certificates",
	  "  -t, --trust-domain TD  the trust domain (init: default cluster.local;\n"
	  "                         issue: default the CA's)\n"
	  "  -d, --days N           init: validity of the CA (default 3650)\n"
	  "  -f, --force            init: replace a CA already in DIR\n"
	  "  -c, --ca DIR           issue: the CA to issue with (ca.crt, ca.key)\n"
	  "  -i, --spiffe-id ID     issue: the certificate's SPIFFE ID, or\n"
	  "  -n, --ns NS            issue: its namespace (with --sa)\n"
	  "  -a, --sa SA            issue: its service account (with --ns)\n"
	  "  -H, --hours H          issue: validity (default 24)\n"
	  "      --out PREFIX       issue: write PREFIX.crt and PREFIX.key; after\n"
	  "                         'ca issue', -o is --out, not --output\n" },
	{ "version", sl_cmd_version, "", NULL, "Print the version", NULL },
	{ "help", sl_cmd_help, "[COMMAND]", NULL,
	  "Show this help, or a command's", NULL },
};

const struct sl_subcommand *sl_cli_commands(size_t *n)
{
	*n = SL_ARRAY_SIZE(sl_subcommands);
	return sl_subcommands;
}

static const struct sl_subcommand *sl_cli_find(const char *name)
{
	for (size_t i = 0; i < SL_ARRAY_SIZE(sl_subcommands); i++)
		if (strcmp(name, sl_subcommands[i].name) == 0)
			return &sl_subcommands[i];
	return NULL;
}

static int sl_cmd_help(struct sl_cli *cli, int argc, char **argv)
{
	char *name = NULL;
	int ret = sl_cli_parse_args(cli, argc, argv, NULL, NULL, 1, &name);

	if (ret >= 0)
		return ret;
	cli->cmd = NULL;
	if (name) {
		cli->cmd = sl_cli_find(name);
		if (!cli->cmd) {
			fprintf(stderr, "%s help: unknown command '%s'; see '%s help'\n",
				cli->prog, name, cli->prog);
			return SL_EXIT_USAGE;
		}
	}
	sl_cli_usage(cli, stdout);
	return fflush(stdout) ? SL_EXIT_FAIL : SL_EXIT_OK;
}

static int sl_print_version(void)
{
	printf("sluice %s\n", SL_VERSION);
	return fflush(stdout) ? SL_EXIT_FAIL : SL_EXIT_OK;
}

static int sl_cmd_version(struct sl_cli *cli, int argc, char **argv)
{
	int ret = sl_cli_parse_args(cli, argc, argv, NULL, NULL, 0, NULL);

	return ret >= 0 ? ret : sl_print_version();
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "version", no_argument, NULL, 'V' },
		SL_CLI_LONGOPTS,
	};
	struct sl_cli cli = {
		.fmt = SL_OUT_TABLE,
		.admin_socket = SL_RUNDIR "/admin.sock",
		.prog = "sluice",
	};
	int c;

	sl_log_init("sluice", SL_LOG_WARN);
	/* '+' stops at the first non-option: the rest belongs to the command */
	while ((c = getopt_long(argc, argv, "+:V" SL_CLI_SHORTOPTS, opts, NULL)) != -1) {
		if (c == 'V')
			return sl_print_version();
		if (sl_cli_common_opt(&cli, c, argv))
			return cli.exit;
	}
	if (optind >= argc) {
		sl_cli_usage(&cli, stderr);
		return SL_EXIT_USAGE;
	}
	cli.cmd = sl_cli_find(argv[optind]);
	if (!cli.cmd) {
		fprintf(stderr, "%s: unknown command '%s'; see '%s --help'\n",
			cli.prog, argv[optind], cli.prog);
		return SL_EXIT_USAGE;
	}
	/* the command sees argv[0] = its name; optind = 0 restarts getopt */
	argc -= optind;
	argv += optind;
	optind = 0;
	return cli.cmd->fn(&cli, argc, argv);
}

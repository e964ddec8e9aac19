/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The options every sluice command shares (-o, -s, -h), their errors, and
 * the usage text, built from the command table of main.c.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "opts.h"
#include "sl_build_config.h"

#define OPT_OWN 0x200

/*
 * What --help says about the formats is what sluice does: the table unless
 * -o says otherwise, whether stdout is a terminal or not.
 */
static const char sl_common_help[] =
	"  -o, --output FMT       table (the default, on a terminal and piped\n"
	"                         alike), json, or dump (tab-separated, for scripts)\n"
	"  -s, --socket PATH      admin socket (default " SL_RUNDIR "/admin.sock)\n";

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

/* "sluice" or "sluice routes": who speaks in messages */
static void sl_cli_who(const struct sl_cli *cli, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", cli->prog, cli->cmd ? " " : "",
		 cli->cmd ? cli->cmd->name : "");
}

static void sl_cli_synopsis(const struct sl_cli *cli, FILE *out)
{
	const char *s = cli->cmd->usage ? cli->cmd->usage : cli->cmd->args;
	const char *lead = "Usage: ";

	for (;;) {
		size_t n = strcspn(s, "\n");

		if (*s == ' ') /* the line goes on */
			fprintf(out, "%s%.*s\n", lead, (int)n, s);
		else
			fprintf(out, "%s%s %s%s%.*s\n", lead, cli->prog,
				cli->cmd->name, n ? " " : "", (int)n, s);
		if (!s[n])
			break;
		s += n + 1;
		lead = "       ";
	}
}

void sl_cli_usage(const struct sl_cli *cli, FILE *out)
{
	const struct sl_subcommand *cmds;
	size_t n;

	if (cli->cmd) {
		sl_cli_synopsis(cli, out);
		fprintf(out, "\n%s.\n\nOptions:\n%s%s", cli->cmd->description,
			cli->cmd->options ? cli->cmd->options : "",
			sl_common_help);
		fputs("  -h, --help             show this help\n", out);
		return;
	}
	cmds = sl_cli_commands(&n);
	fprintf(out, "Usage: %s [-o table|json|dump] [-s SOCKET] COMMAND [ARGS]\n\n",
		cli->prog);
	fputs("Commands:\n", out);
	for (size_t i = 0; i < n; i++) {
		char left[64];

		snprintf(left, sizeof(left), "%s %s", cmds[i].name, cmds[i].args);
		fprintf(out, "  %-28s %s\n", left, cmds[i].description);
	}
	fprintf(out, "\nOptions, before or after the command:\n%s"
		"  -h, --help             show this help\n"
		"  -V, --version          print the version\n"
		"\n'%s help COMMAND' and '%s COMMAND --help' show a command's options.\n"
		"Exit codes: 0 ok, 1 failed, 2 usage, 3 daemon unreachable.\n",
		sl_common_help, cli->prog, cli->prog);
}

int sl_cli_usage_error(const struct sl_cli *cli, const char *fmt, ...)
{
	char who[128];
	va_list ap;

	sl_cli_who(cli, who, sizeof(who));
	fprintf(stderr, "%s: ", who);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "; see '%s --help'\n", who);
	return SL_EXIT_USAGE;
}

/*
 * getopt_long() said '?': an unknown option, or a long one given a value
 * it does not take.  A long option is always the last argument it read
 * (argv[optind - 1]); a short one is optopt, and the one before it may
 * still be in the middle of a cluster (-xq).
 */
static bool sl_cli_bad_opt(struct sl_cli *cli, char **argv)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "";

	if (strncmp(arg, "--", 2) == 0 && arg[2] && optopt)
		cli->exit = sl_cli_usage_error(cli, "option '%.*s' takes no value",
					       (int)strcspn(arg, "="), arg);
	else if (strncmp(arg, "--", 2) == 0 && arg[2])
		cli->exit = sl_cli_usage_error(cli, "unknown option '%.*s'",
					       (int)strcspn(arg, "="), arg);
	else
		cli->exit = sl_cli_usage_error(cli, "unknown option '-%c'",
					       optopt);
	return true;
}

bool sl_cli_common_opt(struct sl_cli *cli, int c, char **argv)
{
	switch (c) {
	case 'o':
	case SL_CLI_OPT_OUTPUT:
		if (sl_cli_parse_fmt(optarg, &cli->fmt) == 0)
			return false;
		cli->exit = sl_cli_usage_error(cli,
			"unknown output format '%s' (want table, json or dump)",
			optarg);
		return true;
	case 's':
	case SL_CLI_OPT_SOCKET:
		cli->admin_socket = optarg;
		return false;
	case 'h':
		sl_cli_usage(cli, stdout);
		cli->exit = fflush(stdout) ? SL_EXIT_FAIL : SL_EXIT_OK;
		return true;
	case ':':
		/* the option is the last argument: argv[optind - 1] */
		cli->exit = sl_cli_usage_error(cli, "option '%s' needs a value",
					       argv[optind - 1]);
		return true;
	case '?':
	default:
		return sl_cli_bad_opt(cli, argv);
	}
}

int sl_cli_parse_args(struct sl_cli *cli, int argc, char **argv,
		      const char *own, bool *own_set, int max, char **operands)
{
	static const struct option common[] = { SL_CLI_LONGOPTS };
	const struct option with_own[] = {
		{ own, no_argument, NULL, OPT_OWN },
		SL_CLI_LONGOPTS,
	};
	int c, n = 0;

	while ((c = getopt_long(argc, argv, ":" SL_CLI_SHORTOPTS,
				own ? with_own : common, NULL)) != -1) {
		if (c == OPT_OWN)
			*own_set = true;
		else if (sl_cli_common_opt(cli, c, argv))
			return cli->exit;
	}
	for (; optind < argc; optind++) {
		if (n == max)
			return sl_cli_usage_error(cli, "unexpected argument '%s'",
						  argv[optind]);
		operands[n++] = argv[optind];
	}
	return -1;
}

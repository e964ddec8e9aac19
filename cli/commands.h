/* SPDX-License-Identifier: Apache-2.0 */
/* Subcommands of the sluice CLI; each is one file cli/cmd_<name>.c. */
#ifndef SL_CLI_COMMANDS_H
#define SL_CLI_COMMANDS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

/** Output format chosen with -o/--output (default: table, piped or not). */
enum sl_out_fmt {
	SL_OUT_TABLE,
	SL_OUT_JSON,
	SL_OUT_DUMP, /* tab-separated, stable column order, for scripts */
};

struct sl_cli;

/** One row of the command table (cli/main.c); usage text is built from it. */
struct sl_subcommand {
	const char *name;
	int (*fn)(struct sl_cli *cli, int argc, char **argv);
	/* operands and options, one line, for the list of `sluice --help` */
	const char *args;
	/* the synopsis lines of `sluice NAME --help`, '\n' between (a line that
	 * starts with a space goes on the one before); NULL: args */
	const char *usage;
	const char *description;
	/* help lines of the command's own options ("  -c, --config DIR  ..."), or NULL */
	const char *options;
};

/**
 * Options shared by every subcommand: accepted before the subcommand name
 * and after it, anywhere among its arguments.
 */
struct sl_cli {
	enum sl_out_fmt fmt;
	const char *admin_socket;
	const char *prog;
	const struct sl_subcommand *cmd; /* the command running, NULL before */
	int exit;                        /* set when sl_cli_common_opt says stop */
};

/*
 * Exit codes (documented in docs/sluice.8.md):
 * 0 success, 1 the request failed (e.g. config has errors),
 * 2 usage error, 3 daemon not reachable.
 */
#define SL_EXIT_OK 0
#define SL_EXIT_FAIL 1
#define SL_EXIT_USAGE 2
#define SL_EXIT_UNREACHABLE 3

/*
 * The common options, for a command's getopt_long(): its own short
 * options come first in the string, after the leading ':' (which makes
 * getopt_long report a missing value as ':'), e.g.
 * ":c:" SL_CLI_SHORTOPTS; its long options array ends with
 * SL_CLI_LONGOPTS.  The long forms have values of their own, so that a
 * command may give one of the letters another meaning (ca issue -o PREFIX).
 */
#define SL_CLI_OPT_OUTPUT 0x100
#define SL_CLI_OPT_SOCKET 0x101
#define SL_CLI_SHORTOPTS "o:s:h"
#define SL_CLI_LONGOPTS                                              \
	{ "output", required_argument, NULL, SL_CLI_OPT_OUTPUT },    \
	{ "socket", required_argument, NULL, SL_CLI_OPT_SOCKET },    \
	{ "help", no_argument, NULL, 'h' },                          \
	{ NULL, 0, NULL, 0 }

/** Parse "-o table|json|dump"; @retval 0 or -EINVAL */
int sl_cli_parse_fmt(const char *s, enum sl_out_fmt *out);

/**
 * Handle what getopt_long() returned that is not one of the command's own
 * options: -o/--output and -s/--socket set @cli; -h/--help prints the
 * usage of cli->cmd (or of sluice) on stdout; an unknown option, a missing
 * value or a bad format prints one line naming it on stderr.
 * @param c what getopt_long() returned; @param argv as given to it
 * @retval false go on parsing; true stop: the command returns cli->exit
 *         (0 after --help, SL_EXIT_USAGE after an error)
 */
bool sl_cli_common_opt(struct sl_cli *cli, int c, char **argv);

/**
 * Report an operand the command does not take, or a missing one:
 * "sluice CMD: MESSAGE; see 'sluice CMD --help'" on stderr.
 * @retval SL_EXIT_USAGE
 */
int sl_cli_usage_error(const struct sl_cli *cli, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/**
 * Parse the arguments of a command that has at most one option of its
 * own, a long one without a value: the common options, @own (its name, or
 * NULL; @own_set then says whether it was given) and up to @max operands
 * into @operands.  Errors are reported as sl_cli_common_opt() does.
 * @retval -1 go on, else the exit code to return
 */
int sl_cli_parse_args(struct sl_cli *cli, int argc, char **argv,
		      const char *own, bool *own_set, int max, char **operands);

/** Print the usage of cli->cmd, or of sluice itself when it is NULL. */
void sl_cli_usage(const struct sl_cli *cli, FILE *out);

int sl_cmd_check(struct sl_cli *cli, int argc, char **argv);
int sl_cmd_ca(struct sl_cli *cli, int argc, char **argv);

/**
 * The routing table of config directory @dir, computed offline, printed in
 * cli->fmt; @host limits it to one host (NULL: every host).
 * @retval an exit code
 */
int sl_routes_offline(struct sl_cli *cli, const char *dir, const char *host);

/* admin socket commands (cmd_admin.c); routes goes offline with --config */
int sl_cmd_status(struct sl_cli *cli, int argc, char **argv);
int sl_cmd_routes(struct sl_cli *cli, int argc, char **argv);
int sl_cmd_workloads(struct sl_cli *cli, int argc, char **argv);
int sl_cmd_certs(struct sl_cli *cli, int argc, char **argv);
int sl_cmd_conns(struct sl_cli *cli, int argc, char **argv);
int sl_cmd_stats(struct sl_cli *cli, int argc, char **argv);
int sl_cmd_rules(struct sl_cli *cli, int argc, char **argv);
int sl_cmd_log_level(struct sl_cli *cli, int argc, char **argv);
int sl_cmd_reload(struct sl_cli *cli, int argc, char **argv);
int sl_cmd_upgrade(struct sl_cli *cli, int argc, char **argv);

#endif /* SL_CLI_COMMANDS_H */

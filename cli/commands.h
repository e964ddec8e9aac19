/* SPDX-License-Identifier: Apache-2.0 */
/* Subcommands of the sluice CLI; each is one file cli/cmd_<name>.c. */
#ifndef SL_CLI_COMMANDS_H
#define SL_CLI_COMMANDS_H

#include <stdbool.h>
#include <stdio.h>

/** Output format chosen with -o/--output (default: table on a TTY). */
enum sl_out_fmt {
	SL_OUT_TABLE,
	SL_OUT_JSON,
	SL_OUT_DUMP, /* tab-separated, stable column order, for scripts */
};

/** Options shared by every subcommand, parsed before the subcommand name. */
struct sl_cli {
	enum sl_out_fmt fmt;
	const char *admin_socket;
	const char *prog;
};

/*
 * Exit codes (documented in docs/sluice.1.md):
 * 0 success, 1 the request failed (e.g. config has errors),
 * 2 usage error, 3 daemon not reachable.
 */
#define SL_EXIT_OK 0
#define SL_EXIT_FAIL 1
#define SL_EXIT_USAGE 2
#define SL_EXIT_UNREACHABLE 3

/** Parse "-o table|json|dump"; @retval 0 or -EINVAL */
int sl_cli_parse_fmt(const char *s, enum sl_out_fmt *out);

int sl_cmd_check(struct sl_cli *cli, int argc, char **argv);
int sl_cmd_routes(struct sl_cli *cli, int argc, char **argv);
int sl_cmd_ca(struct sl_cli *cli, int argc, char **argv);

/* admin socket commands (cmd_admin.c) */
int sl_cmd_status(struct sl_cli *cli, int argc, char **argv);
int sl_cmd_routes_any(struct sl_cli *cli, int argc, char **argv);
int sl_cmd_workloads(struct sl_cli *cli, int argc, char **argv);
int sl_cmd_certs(struct sl_cli *cli, int argc, char **argv);
int sl_cmd_conns(struct sl_cli *cli, int argc, char **argv);
int sl_cmd_stats(struct sl_cli *cli, int argc, char **argv);
int sl_cmd_rules(struct sl_cli *cli, int argc, char **argv);
int sl_cmd_log_level(struct sl_cli *cli, int argc, char **argv);
int sl_cmd_reload(struct sl_cli *cli, int argc, char **argv);

#endif /* SL_CLI_COMMANDS_H */

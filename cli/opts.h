/* SPDX-License-Identifier: Apache-2.0 */
/* The command table of sluice, for the usage text (cli/opts.c). */
#ifndef SL_CLI_OPTS_H
#define SL_CLI_OPTS_H

#include <stddef.h>

#include "commands.h"

/**
 * The commands of sluice, in the order --help lists them.
 * @param n gets their count
 * @retval the table (static, never freed)
 */
const struct sl_subcommand *sl_cli_commands(size_t *n);

#endif /* SL_CLI_OPTS_H */

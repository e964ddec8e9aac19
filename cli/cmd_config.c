/* SPDX-License-Identifier: Apache-2.0 */
/* PLACEHOLDER: replaced by the config module work (sluice check/routes). */
#include <stdio.h>
#include "commands.h"

int sl_cmd_check(struct sl_cli *cli, int argc, char **argv)
{
	fputs("sluice check: not built yet\n", stderr);
	return SL_EXIT_FAIL;
}

int sl_cmd_routes(struct sl_cli *cli, int argc, char **argv)
{
	fputs("sluice routes: not built yet\n", stderr);
	return SL_EXIT_FAIL;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* PLACEHOLDER: replaced by the handshake module work (sluice ca). */
#include <stdio.h>
#include "commands.h"

int sl_cmd_ca(struct sl_cli *cli, int argc, char **argv)
{
	fputs("sluice ca: not built yet\n", stderr);
	return SL_EXIT_FAIL;
}

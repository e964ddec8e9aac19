/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Commands of the admin socket (the daemon side of `sluice status`,
 * `routes`, `workloads`, `certs`, `conns`, `stats`, `rules`, `log-level`).
 *
 * Request: one line, words separated by single spaces:
 *	COMMAND [ARG] [format=table|dump]
 * Answer: one JSON object on one line.  Without format= it is the data
 * (documented per command in docs/sluice.8.md); with format=table or
 * format=dump it is {"text":"..."}: the rendered table (common/table.h),
 * so the CLI needs no JSON parser beyond one string.  Errors are
 * {"error":"..."} in every format.
 */
#ifndef SL_ADMIN_CMDS_H
#define SL_ADMIN_CMDS_H

#include <stdio.h>

struct sl_daemon;

/**
 * sl_admin_cmd - run the command @line (no newline) and write the answer
 * (one JSON object, no newline) to @out
 * @retval 0, or -errno when the answer is an error object
 */
int sl_admin_cmd(struct sl_daemon *d, const char *line, FILE *out);

#endif /* SL_ADMIN_CMDS_H */

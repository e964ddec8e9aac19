/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sluiced's command line: parsed into a struct, no side effects (main
 * applies what is global: the log level, the half-close timeout, the
 * AES-GCM implementation).  docs/sluiced.8.md lists every option.
 */
#ifndef SL_DAEMON_OPTIONS_H
#define SL_DAEMON_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "daemon.h"
#include "log.h"

/** What the command line says. */
struct sl_options {
	struct sl_daemon_opts o;
	enum sl_log_level level;    /* --log-level, default info */
	unsigned int telemetry_port; /* UINT_MAX: the node config's; 0: off */
	unsigned int log_rate;	    /* --access-log-rate */
	uint64_t half_close_ns;	    /* --half-close-timeout, if set */
	bool half_close_set;
	int aes_gcm;		    /* -1: unset, else enum sl_gcm_mode */
	bool check;		    /* --check */
	bool dry_run;		    /* --dry-run */
	bool remove_steering;	    /* --remove-steering */
};

/**
 * sl_options_parse - parse sluiced's @argv into @x (defaults first)
 * @out: where --help and --version print; @err: where errors go, one line
 *       naming the option and the bad value
 * @retval 0: run; 1: --help or --version printed (exit 0); -EINVAL: a
 *         usage error was printed (exit 2)
 */
int sl_options_parse(int argc, char **argv, struct sl_options *x, FILE *out,
		     FILE *err);

/** sl_options_usage - the --help text */
void sl_options_usage(FILE *out, const char *prog);

#endif /* SL_DAEMON_OPTIONS_H */

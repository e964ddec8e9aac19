/* SPDX-License-Identifier: Apache-2.0 */
/* sluiced --steer: the steering table kept in step with pods and config
 * (steer.c; the table itself is nft/). */
#ifndef SL_DAEMON_STEERING_H
#define SL_DAEMON_STEERING_H

#include <stdint.h>
#include <stdio.h>

struct sl_daemon;
struct sl_config;

/**
 * sl_steer_start - apply the steering table for d->cfg (local workloads)
 * and the TPROXY policy route  @retval 0 or -errno (logged)
 */
int sl_steer_start(struct sl_daemon *d);
/** sl_steer_update - re-apply with @cfg's local workloads (reload) */
void sl_steer_update(struct sl_daemon *d, struct sl_config *cfg);
/** sl_steer_stop - stop watching; remove the table and the policy route
 * (kept with d->o.keep_table); NULL-safe */
void sl_steer_stop(struct sl_daemon *d);
/**
 * sl_steer_remove - remove the steering table and the TPROXY policy route
 * that a sluiced left (--keep-table-on-stop, a crash, an upgrade), with the
 * built-in names; absent ones are fine  @retval 0 or -errno (logged)
 */
int sl_steer_remove(void);

/**
 * sl_steer_dry_run - load @config_dir for @node and write the batch that
 * --steer would apply (every WorkloadEntry of the node) to @out; touches
 * no kernel state  @retval 0 or -errno (printed to stderr)
 */
int sl_steer_dry_run(const char *config_dir, const char *node,
		     uint16_t plain_port, FILE *out);

#endif /* SL_DAEMON_STEERING_H */

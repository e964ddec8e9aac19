/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Traffic-management and reload state for the admin socket ("status")
 * and the metrics.
 */
#ifndef SL_DAEMON_TM_STATUS_H
#define SL_DAEMON_TM_STATUS_H

#include <stdio.h>

#include "json.h"
#include "outlier.h"
#include "reload.h"

/**
 * sl_tm_status_json - write the members (inside an open JSON object) of
 * the reload status of @r and the counters of @h; either may be NULL:
 *   config_from_last_good, config_reloads, config_last_error_time,
 *   lb_endpoints, lb_ejections, lb_overflows, lb_retries,
 *   lb_connect_failures
 * (the generation, the failure count and the last error text are in the
 * admin "status" already, through obs.c)
 */
void sl_tm_status_json(struct sl_json *j, struct sl_reload *r,
		       const struct sl_health *h);

#endif /* SL_DAEMON_TM_STATUS_H */

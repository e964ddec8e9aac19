/* SPDX-License-Identifier: Apache-2.0 */
/* Same-node handoff: which local workload a loopback connection is for
 * (handoff.c). */
#ifndef SL_DAEMON_HANDOFF_H
#define SL_DAEMON_HANDOFF_H

#include <stdbool.h>
#include <stdint.h>

#include "ip.h"

/**
 * sl_handoff_put - remember that the loopback connection from local port
 * @port is meant for the local workload at @dst (thread safe)
 * @retval 0 or -ENOMEM/-EEXIST
 */
int sl_handoff_put(uint16_t port, const struct sl_ip *dst);

/**
 * sl_handoff_take - look up and remove the entry for @port
 * @retval 0 and @dst filled; -ENOENT
 */
int sl_handoff_take(uint16_t port, struct sl_ip *dst);

/**
 * sl_handoff_put_src - sl_handoff_put() that also records the source pod
 * address @src (may be NULL: unknown) for the inbound side's
 * AuthorizationPolicy check
 * @retval 0 or -ENOMEM/-EEXIST
 */
int sl_handoff_put_src(uint16_t port, const struct sl_ip *dst,
		       const struct sl_ip *src);

/**
 * sl_handoff_take_src - sl_handoff_take() that also gives the source pod
 * address (@has_src false when it was not recorded); @src and @has_src
 * may both be NULL
 * @retval 0 and @dst filled; -ENOENT
 */
int sl_handoff_take_src(uint16_t port, struct sl_ip *dst, struct sl_ip *src,
			bool *has_src);

/** sl_handoff_drop - remove the entry for @port if present */
void sl_handoff_drop(uint16_t port);

#endif /* SL_DAEMON_HANDOFF_H */

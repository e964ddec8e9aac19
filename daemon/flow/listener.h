/* SPDX-License-Identifier: Apache-2.0 */
/* Listeners: bind, listen, multishot accept, accept backoff (listener.c). */
#ifndef SL_DAEMON_LISTENER_H
#define SL_DAEMON_LISTENER_H

#include <stdint.h>

struct sl_wctx;
struct sl_listener;

enum sl_listener_kind {
	SL_LISTEN_OUTBOUND,
	SL_LISTEN_INBOUND,
	SL_LISTEN_INBOUND_PLAIN, /* plaintext TPROXYed to PERMISSIVE pods */
};

/**
 * sl_listener_open - bind, listen and start a multishot accept on @w
 * @retval 0 and the listener in @out; -errno
 */
int sl_listener_open(struct sl_wctx *wc, enum sl_listener_kind kind,
		     int family, uint16_t port, struct sl_listener **out);

/** sl_listener_close - stop accepting; frees itself when its ops are done */
void sl_listener_close(struct sl_listener *l);

#endif /* SL_DAEMON_LISTENER_H */

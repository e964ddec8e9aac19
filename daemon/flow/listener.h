/* SPDX-License-Identifier: Apache-2.0 */
/* Listeners: bind, listen, multishot accept, accept backoff (listener.c). */
#ifndef SL_DAEMON_LISTENER_H
#define SL_DAEMON_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sl_wctx;
struct sl_listener;

enum sl_listener_kind {
	SL_LISTEN_OUTBOUND,
	SL_LISTEN_INBOUND,
	SL_LISTEN_INBOUND_PLAIN, /* plaintext TPROXYed to PERMISSIVE pods */
};

/**
 * sl_listener_open - start a multishot accept on @w on a listening socket:
 * one a predecessor left (fdreg.h: systemd's fd store after a restart, the
 * old process at an upgrade) when one of that name is left, else a new
 * one (bind, listen).  The socket is published for the next upgrade and
 * into systemd's fd store.
 * @retval 0 and the listener in @out; -errno
 */
int sl_listener_open(struct sl_wctx *wc, enum sl_listener_kind kind,
		     int family, uint16_t port, struct sl_listener **out);

/**
 * sl_listener_share - how many of the inherited listening sockets of this
 * kind, family and port worker @worker of @n_workers opens: the old
 * process's are divided among the workers, so that none is left with
 * connections in its backlog that nobody accepts (0 when none was
 * inherited: the worker opens its own)
 */
unsigned int sl_listener_share(enum sl_listener_kind kind, int family,
			       uint16_t port, unsigned int worker,
			       unsigned int n_workers);

/** sl_listener_name - the fd registry's name of a listener ("sl-out4-15001") */
void sl_listener_name(enum sl_listener_kind kind, int family, uint16_t port,
		      char *buf, size_t len);

/**
 * sl_listener_hold - while on, listeners opened do not accept yet (a
 * process started by an upgrade, until the old one has handed over:
 * connections go on to the old process meanwhile)
 */
void sl_listener_hold(bool on);

/** sl_listener_release - start accepting on @l if it was held (its worker) */
void sl_listener_release(struct sl_listener *l);

/** sl_listener_close - stop accepting; frees itself when its ops are done */
void sl_listener_close(struct sl_listener *l);

#endif /* SL_DAEMON_LISTENER_H */

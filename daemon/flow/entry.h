/* SPDX-License-Identifier: Apache-2.0 */
/* Where an accepted connection enters its flow: outbound (outbound.c),
 * inbound mTLS (hello.c, inbound.c), plaintext inbound (plain_inbound.c). */
#ifndef SL_DAEMON_ENTRY_H
#define SL_DAEMON_ENTRY_H

struct sl_wctx;
struct sl_admission;

/** sl_outbound_start - take over @fd, a pod connection redirected to us */
void sl_outbound_start(struct sl_wctx *wc, int fd);

/**
 * sl_inbound_start - take over @fd, an mTLS connection to a local pod, and
 * what @adm holds (pending, or inbound for a same-node handoff)
 */
void sl_inbound_start(struct sl_wctx *wc, int fd,
		      const struct sl_admission *adm);

/**
 * sl_hello_start - (hello.c) take over @fd, just accepted on the inbound
 * mTLS port: admit it as a pending handshake and wait, holding no more
 * than a small struct, until its first TLS record has arrived; then
 * sl_inbound_start().  A refused or silent peer is reset.
 */
void sl_hello_start(struct sl_wctx *wc, int fd);

/** sl_hello_cut - reset every connection of @wc still in sl_hello_start's
 * wait (the worker is stopping) */
void sl_hello_cut(struct sl_wctx *wc);

/**
 * sl_plain_inbound_start - take over @fd, a plaintext connection to a
 * local pod TPROXYed to the plaintext inbound port (plain_inbound.c)
 */
void sl_plain_inbound_start(struct sl_wctx *wc, int fd);

#endif /* SL_DAEMON_ENTRY_H */

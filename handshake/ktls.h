/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel TLS: hand an established TLS 1.3 session to the kernel.
 *
 * Debian 12's OpenSSL 3.0 never enables kTLS by itself, so the keys are
 * derived here from the traffic secrets captured during the handshake
 * (HKDF-Expand-Label "key"/"iv"), and installed with TCP_ULP "tls",
 * TLS_TX and TLS_RX at record sequence 0.
 */
#ifndef SL_KTLS_H
#define SL_KTLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sl_tls_conn;

/**
 * sl_ktls_probe - find out once, at start, whether this kernel can do kTLS
 * (TCP_ULP "tls" on a connected loopback TCP socket pair, TLS_TX and TLS_RX
 * with AES-128-GCM).
 * @retval 0 when available; -ENOENT/-ENOPROTOOPT/-EOPNOTSUPP when the kernel
 *         lacks it; other -errno when the probe itself failed
 */
int sl_ktls_probe(void);

/**
 * sl_ktls_install - switch @fd to kernel TLS for the session in @c
 * Preconditions: the handshake of @c is complete, its input was read as
 * sl_tls_conn_read_size allows (no byte past the handshake in userspace),
 * no application data has been exchanged through @c, and no ciphertext is
 * pending output.
 * Both TLS_TX and TLS_RX are installed or the call fails; the key material
 * is wiped from memory in both cases.
 * @retval 0 on success; -errno on failure, after which @fd must be closed
 *         (it may be half-configured)
 */
int sl_ktls_install(int fd, struct sl_tls_conn *c);

/** TLS record content types seen on a kTLS socket */
enum sl_tls_record_type {
	SL_TLS_RT_ALERT = 21,
	SL_TLS_RT_HANDSHAKE = 22,
	SL_TLS_RT_APPDATA = 23,
};

/**
 * sl_ktls_recv_record - read one record's payload from a kTLS socket with
 * recvmsg(2) and the TLS_GET_RECORD_TYPE control message.  Used when a
 * splice or plain read fails with EIO because a non-data record arrived.
 * @type: set to the record's content type
 * @retval bytes of payload, 0 on EOF, -errno on error
 */
ssize_t sl_ktls_recv_record(int fd, void *buf, size_t len, uint8_t *type);

/**
 * sl_ktls_alert_is_close_notify - true when an alert record payload is a
 * close_notify (level warning, description 0)
 */
int sl_ktls_alert_is_close_notify(const void *payload, size_t len);

/**
 * sl_ktls_send_close_notify - send a close_notify alert on a kTLS socket
 * (TLS_SET_RECORD_TYPE).  @retval 0 or -errno
 */
int sl_ktls_send_close_notify(int fd);

#endif /* SL_KTLS_H */

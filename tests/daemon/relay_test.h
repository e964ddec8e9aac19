/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers for the relay tests: a throw-away mesh CA with two identities,
 * loopback TCP pairs, a record-exact handshake over real sockets, a TLS peer
 * driven with the conn API, and a worker that runs one relay.
 */
#ifndef SL_RELAY_TEST_H
#define SL_RELAY_TEST_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "relay.h"

struct sl_tls_conn;
struct sl_worker;

/** rt_pki_init - CA in a mkdtemp dir, identities "peer" and "relay" */
int rt_pki_init(void);
void rt_pki_fini(void);

/**
 * rt_tcp_pair - connected loopback TCP sockets (blocking)
 * @bufsz: if nonzero, SO_SNDBUF/SO_RCVBUF for both ends
 */
int rt_tcp_pair(int *a, int *b, int bufsz);

/**
 * rt_tls_pair - handshake over @cfd (client, the test's peer) and @sfd
 * (server, the relay's side), reading record-exactly
 */
int rt_tls_pair(int cfd, int sfd, struct sl_tls_conn **client,
		struct sl_tls_conn **server);

/** rt_peer_flush - send all pending ciphertext of @c on @fd */
int rt_peer_flush(struct sl_tls_conn *c, int fd);
/** rt_peer_write - encrypt and send all of @buf */
int rt_peer_write(struct sl_tls_conn *c, int fd, const void *buf, size_t len);
/**
 * rt_peer_read - read plaintext; @retval >0 bytes, 0 close_notify, -errno
 * (-ECONNRESET for an RST, -EPROTO for truncation or a bad record)
 */
ssize_t rt_peer_read(struct sl_tls_conn *c, int fd, void *buf, size_t cap);

/** rt_read_full - read exactly @len bytes from a plain socket or fail */
int rt_read_full(int fd, void *buf, size_t len);
/** rt_write_full - write all of @buf */
int rt_write_full(int fd, const void *buf, size_t len);
/** rt_read_end - read until EOF (0) or error (-errno), discarding data */
int rt_read_end(int fd);

/**
 * rt_wait_reset - wait up to @ms for @fd to have met an RST: TCP state
 * CLOSE, which a socket that never closed reaches no other way (its
 * reads may still say EOF first when the peer's FIN came before).
 * @retval 0 reset; -ETIMEDOUT; -errno of getsockopt
 */
int rt_wait_reset(int fd, int ms);

/** rt_now_ms - CLOCK_MONOTONIC in ms */
uint64_t rt_now_ms(void);

/** rt_pattern - deterministic bytes for offset @off of stream @seed */
void rt_pattern(uint32_t seed, uint64_t off, uint8_t *buf, size_t len);

/** one relay on its own worker thread */
struct rt_run {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done_count;
	struct sl_relay_result res;

	int plain_fd, tls_fd;
	struct sl_tls_conn *tls;
	bool ktls;
	bool plain; /* sl_relay_start_plain (tls unused) */
	const void *initial;
	uint32_t initial_len;
	struct sl_relay_params p;
	int start_ret;
	struct sl_worker **ws;
};

/* the half-close tests: the timeout they set, and how late its end may be */
#define RT_HALF_MS 400
#define RT_HALF_SLACK_MS 1500

/**
 * rt_half_close_ended - wait for @run to end by the half-close timeout:
 * done() within RT_HALF_MS + RT_HALF_SLACK_MS, not before RT_HALF_MS after
 * @t0 (the last byte, FIN or EOF), end SL_RELAY_END_HALF_CLOSE, and
 * relay_half_close_timeouts counted once since @before
 * @retval 0, or -1 with what failed on stderr
 */
int rt_half_close_ended(struct rt_run *run, uint64_t t0, uint64_t before);

/** rt_run_start - start a worker that starts the relay (fds, conn taken) */
int rt_run_start(struct rt_run *run);
/** rt_run_wait - wait up to @ms for done(); @retval done() count */
int rt_run_wait(struct rt_run *run, int ms);
/** rt_run_stop - stop and join the worker; @retval done() count */
int rt_run_stop(struct rt_run *run);

#endif /* SL_RELAY_TEST_H */

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Relays: move bytes both ways between a plaintext socket (the pod side) and
 * a mutual-TLS socket (the mesh side) once the handshake and the preamble are
 * done, until both directions are closed.
 *
 *  - kTLS relay (relay_splice.c): the TLS socket was handed to the kernel
 *    (sl_ktls_install); bytes move socket → pipe → socket with
 *    IORING_OP_SPLICE, never copied to userspace.  Non-data records (alerts,
 *    KeyUpdate) make splice fail with EIO/EINVAL; they are read with
 *    sl_ktls_recv_record(): close_notify is EOF, anything else closes the flow
 *    and is counted.
 *  - Userspace relay (relay_tls.c): ciphertext goes through the
 *    struct sl_tls_conn (memory BIOs) with io_uring recv/send.
 *
 * Both propagate half-close (EOF on one side → shutdown(SHUT_WR) or
 * close_notify on the other, the other direction keeps flowing) and reset (an
 * RST or a TLS error on one side → RST on the other: SO_LINGER {1, 0} then
 * close): a truncated stream never looks complete.  Buffers are bounded
 * (backpressure: a direction reads only when its buffer has room), and an
 * idle timer closes flows with no traffic either way for idle_timeout.  The
 * same timer (armed for the earlier deadline, no extra op per flow) resets
 * flows that have lasted max_duration (DestinationRule
 * connectionPool.tcp.maxConnectionDuration), and bounds the half-close
 * linger: once one side's EOF has been seen, a flow with no traffic either
 * way for the half-close timeout (sl_relay_half_close_timeout_set) is reset
 * on both sides, so an upstream that neither reads nor answers nor closes
 * does not hold the flow until the idle timeout; traffic that still flows
 * (a response streaming after the client's FIN) keeps it open.
 */
#ifndef SL_RELAY_H
#define SL_RELAY_H

#include <stdbool.h>
#include <stdint.h>

struct sl_worker;
struct sl_tls_conn;
struct sl_tls_rl;

/** Why a relay ended (for logs, counters, access-log response flags). */
enum sl_relay_end {
	SL_RELAY_END_DONE = 0,	    /* both directions closed cleanly */
	SL_RELAY_END_RESET_PLAIN,   /* RST/error from the pod side */
	SL_RELAY_END_RESET_TLS,	    /* RST/error/bad record from the mesh side */
	SL_RELAY_END_IDLE,	    /* idle timeout */
	SL_RELAY_END_MAX_DURATION,  /* maxConnectionDuration reached (RST) */
	SL_RELAY_END_UNEXPECTED_RECORD, /* kTLS: non-data record other than close_notify */
	SL_RELAY_END_INTERNAL,
	SL_RELAY_END_HALF_CLOSE,    /* half-closed and no traffic for the
				       half-close timeout (RST) */
};

const char *sl_relay_end_name(enum sl_relay_end e);

/** Totals reported when a relay ends. */
struct sl_relay_result {
	enum sl_relay_end end;
	uint64_t bytes_plain_to_tls; /* plaintext bytes from the pod side */
	uint64_t bytes_tls_to_plain; /* plaintext bytes to the pod side */
	bool ktls;
};

/**
 * sl_relay_done_fn - called once when the relay has ended and both sockets
 * are closed; @arg is the caller's.
 */
typedef void (*sl_relay_done_fn)(void *arg, const struct sl_relay_result *r);

/* What sluiced passes as sl_relay_params (flow.c); --bulk-buffer sets the
 * bulk size, within SL_RELAY_DEFAULT_BUF_SIZE..SL_RELAY_MAX_BULK_SIZE. */
#define SL_RELAY_DEFAULT_BUF_SIZE (64u * 1024)
#define SL_RELAY_DEFAULT_BULK_SIZE (1024u * 1024)
#define SL_RELAY_MAX_BULK_SIZE (16u << 20)

struct sl_relay_params {
	uint64_t idle_timeout_ns;  /* 0 = none */
	uint64_t max_duration_ns;  /* end (RST both sides) this long after the
				      start, busy or not; 0 = none */
	uint32_t buf_size;	   /* per direction (userspace relay), e.g. 64 KiB */
	uint32_t buf_size_bulk;	   /* ... for a direction whose reads keep
				      filling buf_size (relay_internal.h:
				      bulk buffers); 0 = buf_size */
	uint32_t pipe_size;	   /* per direction (splice relay), e.g. 64 KiB */
	sl_relay_done_fn done;
	void *done_arg;
	/* optional: live byte counts, [0] pod -> mesh and [1] mesh -> pod,
	 * added to (relaxed) as completions arrive, for `sluice conns`; must
	 * stay valid until done() has been called */
	_Atomic uint64_t *live_bytes;
	/* pod -> mesh bytes the caller forwarded before the start (sent with
	 * the preamble): counted as relayed, in the totals and live counts */
	uint64_t up_sent;
	/* optional, userspace TLS only: the session already on sluice's
	 * record layer (the connection pool takes it over ahead of use);
	 * sl_relay_start's @tls is then NULL.  The relay owns it once
	 * sl_relay_start returned 0; on an error the caller still does. */
	struct sl_tls_rl *rl;
};

/**
 * sl_relay_start - relay between @plain_fd and @tls_fd on worker @w
 * @plain_fd: connected plaintext TCP socket (ownership passes to the relay)
 * @tls_fd: connected TCP socket carrying the TLS session (ownership passes)
 * @tls: the session; if @ktls is true it was installed into @tls_fd with
 *       sl_ktls_install() and is freed at once (the kernel has the keys;
 *       NULL when the caller freed it already: an HTTP engine's leg);
 *       otherwise the relay drives it and frees it at the end (keys wiped).
 *       Ownership passes to the relay either way.
 * @ktls: which relay to run
 * @initial, @initial_len: plaintext already decrypted from the mesh side
 *       (or read from the kTLS socket) that must go to the pod first, before
 *       anything else from the mesh side; copied; may be NULL
 * @p: parameters (copied)
 * @retval 0 when started (done() will be called exactly once); -errno on
 *         failure, in which case nothing was taken over and done() is not
 *         called
 */
int sl_relay_start(struct sl_worker *w, int plain_fd, int tls_fd,
		   struct sl_tls_conn *tls, bool ktls, const void *initial,
		   uint32_t initial_len, const struct sl_relay_params *p);

/**
 * sl_relay_start_plain - relay between two plaintext TCP sockets on @w
 * (PERMISSIVE/DISABLE flows: no TLS on either side), spliced through pipes
 * like the kTLS relay.  EOF on one side is shutdown(SHUT_WR) on the other,
 * an error or RST on one side is an RST on the other; same idle timer,
 * live byte counters and done() callback as sl_relay_start().  In the
 * result "plain_to_tls" counts bytes from @plain_fd, "tls_to_plain" bytes
 * to it, and ktls is false.
 * @plain_fd: the pod side (connected; ownership passes to the relay)
 * @other_fd: the far side (connected; ownership passes)
 * @initial, @initial_len: bytes already read from @other_fd, sent to
 *       @plain_fd first; copied; may be NULL
 * @p: parameters (copied)
 * @retval 0 when started (done() will be called exactly once); -errno on
 *         failure, in which case nothing was taken over
 */
int sl_relay_start_plain(struct sl_worker *w, int plain_fd, int other_fd,
			 const void *initial, uint32_t initial_len,
			 const struct sl_relay_params *p);

/* default of sl_relay_half_close_timeout_set (sluiced --half-close-timeout) */
#define SL_RELAY_DEFAULT_HALF_CLOSE_NS (60ull * 1000000000ull)

/**
 * sl_relay_half_close_timeout_set - the half-close timeout of relays
 * started from now on, all workers (process-wide, like the bulk budget):
 * once EOF has come from one side, a flow that moves no byte either way
 * for @ns is reset on both sides (end SL_RELAY_END_HALF_CLOSE, counter
 * relay_half_close_timeouts).  Any byte moved restarts it.  It applies
 * beside the idle timeout and max duration; the earliest deadline wins.
 * @ns: 0 turns it off; default SL_RELAY_DEFAULT_HALF_CLOSE_NS
 */
void sl_relay_half_close_timeout_set(uint64_t ns);

/** sl_relay_half_close_timeout - the current setting (ns, 0: off) */
uint64_t sl_relay_half_close_timeout(void);

/**
 * sl_relay_buffered_bytes - bytes of relay buffers currently held by flows
 * (taken from the per-thread pools and not given back), over all workers;
 * the buffers kept in the pools are not counted
 */
uint64_t sl_relay_buffered_bytes(void);

/**
 * sl_relay_bulk_bytes - of those, the bytes in bulk-sized buffers
 * (--bulk-buffer), counted against the process-wide bulk budget
 */
uint64_t sl_relay_bulk_bytes(void);

#endif /* SL_RELAY_H */

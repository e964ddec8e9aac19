/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The byte stream of an upstream leg (stream.c): plaintext in and out of
 * the HTTP engine over the leg's socket, whatever carries it.
 *
 *  - PLAIN: the socket as is (a plaintext upstream, tls DISABLE; the
 *    destination side's socketpair to its relay).
 *  - KTLS: the kernel seals and opens the records: plaintext send/recv on
 *    the socket.  A non-data record makes recv fail with EIO; it is read
 *    with sl_ktls_recv_record: close_notify is EOF, anything else
 *    (KeyUpdate, another alert) fails the stream with -EPROTO and is
 *    counted (unexpected_ktls_records), as the kTLS relay does.
 *  - RL: userspace TLS on the record layer (record.h): what is sent is
 *    sealed into a ciphertext buffer the stream holds while the leg is in
 *    use (sl_l7_stream_trim gives it back), what is received is read into
 *    the record layer's input (sl_tls_rl_in_space, no copy) and opened
 *    straight into the caller's buffer.  A KeyUpdate's answer is sent
 *    before the next read or send.
 *
 * One operation at a time, completed through the caller's struct sl_op as
 * if io_uring had: op->fn(op, res, 0).  send: res = plaintext bytes taken
 * (> 0; possibly fewer than asked: send the rest again) or -errno.  recv:
 * res = bytes (> 0), 0 at the end of the stream (FIN, close_notify), or
 * -errno (-EPROTO: a bad record, truncation, an unexpected record).  The
 * completion never runs inside the call that started the operation.
 */
#ifndef SL_L7_STREAM_H
#define SL_L7_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"

struct sl_tls_rl;

enum sl_l7_stream_kind {
	SL_L7_STREAM_PLAIN,
	SL_L7_STREAM_KTLS,
	SL_L7_STREAM_RL,
};

struct sl_l7_stream {
	struct sl_worker *w;
	int fd;			/* owned; -1 once closed (after the op in
				 * flight, if any, is back) */
	enum sl_l7_stream_kind kind;
	struct sl_tls_rl *rl;	/* RL: the session (owned) */
	struct sl_op op;	/* the io_uring op in flight (op_armed) */
	struct sl_op *user;	/* completed when the operation is over */
	uint8_t *buf;		/* the caller's buffer */
	size_t len;		/* recv: its capacity; send: plaintext length */
	size_t took;		/* send: plaintext sealed; recv: bytes read */
	uint8_t *ct;		/* RL: ciphertext being sent (SL_L7_STREAM_CT) */
	size_t ct_len, ct_off;
	int res;		/* a result waiting for its deferred delivery */
	bool busy;		/* an operation is under way */
	bool op_armed;		/* an io_uring op is in flight */
	bool sending;		/* the operation is a send */
	bool flushing;		/* recv: sending a KeyUpdate's answer first */
	bool cancelled;
	bool closed;
	/* a source's leg to the upstream: its plaintext is counted in
	 * bytes_pod_to_mesh / bytes_mesh_to_pod, as the L4 relay counts its
	 * flows (a destination's leg to its pod is not: the inbound flow's
	 * relay counts those bytes already) */
	bool counted;
	/* called once the stream is closed and nothing is in flight any
	 * more, when that happens in a completion (may free the stream) */
	void (*on_idle)(struct sl_l7_stream *s);
};

/** ciphertext buffer of an RL stream: 64 KiB of plaintext and 4 records */
#define SL_L7_STREAM_PT_MAX (64u * 1024)
#define SL_L7_STREAM_CT (SL_L7_STREAM_PT_MAX + 4 * 32)

/**
 * sl_l7_stream_init - a stream on @fd (owned from now on) of @kind; @rl
 * (owned) for SL_L7_STREAM_RL, else NULL
 */
void sl_l7_stream_init(struct sl_l7_stream *s, struct sl_worker *w, int fd,
		       enum sl_l7_stream_kind kind, struct sl_tls_rl *rl);

/** sl_l7_stream_send - send (part of) @buf, then @done (see above) */
void sl_l7_stream_send(struct sl_l7_stream *s, const void *buf, size_t len,
		       struct sl_op *done);

/** sl_l7_stream_recv - receive into @buf (@cap > 0), then @done */
void sl_l7_stream_recv(struct sl_l7_stream *s, void *buf, size_t cap,
		       struct sl_op *done);

/**
 * sl_l7_stream_cancel - cancel the operation under way, if any: it
 * completes with -ECANCELED (or its result when that came first)
 */
void sl_l7_stream_cancel(struct sl_l7_stream *s);

/**
 * sl_l7_stream_send_now - send all of @buf at once without waiting (a
 * tunnel's first bytes) @retval 0, -EAGAIN when it did not all fit, or
 * -errno; only with no operation under way
 */
int sl_l7_stream_send_now(struct sl_l7_stream *s, const void *buf, size_t len);

/**
 * sl_l7_stream_drain - read what the stream holds already opened or
 * openable without receiving (RL: whole records in the input) into @buf
 * @retval bytes (0: none), -EPROTO
 */
ssize_t sl_l7_stream_drain(struct sl_l7_stream *s, void *buf, size_t cap);

/**
 * sl_l7_stream_has_input - has anything arrived that nobody read (in the
 * socket, or in the record layer)?  Errors count as yes.
 */
bool sl_l7_stream_has_input(const struct sl_l7_stream *s);

/** sl_l7_stream_trim - the leg goes idle: give the send buffer back */
void sl_l7_stream_trim(struct sl_l7_stream *s);

/**
 * sl_l7_stream_take - hand the socket and the session over (a tunnel's
 * relay): *@fd, *@rl (NULL unless RL); the stream is closed without
 * touching them.  Only with no operation under way.
 */
void sl_l7_stream_take(struct sl_l7_stream *s, int *fd,
		       struct sl_tls_rl **rl);

/**
 * sl_l7_stream_close - end the stream: close_notify when TLS and no send
 * is under way (best effort, not waited for), cancel the operation under
 * way; the socket is closed and the session and buffers freed once
 * nothing is in flight (sl_l7_stream_busy false; @on_idle then if it was
 * busy)
 */
void sl_l7_stream_close(struct sl_l7_stream *s);

static inline bool sl_l7_stream_busy(const struct sl_l7_stream *s)
{
	return s->busy;
}

#endif /* SL_L7_STREAM_H */

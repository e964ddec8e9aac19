/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS 1.3 record layer after the handshake, without OpenSSL's SSL object.
 *
 * Once a struct sl_tls_conn has completed its handshake, sl_tls_rl_new()
 * takes over the session: the record keys come from the application traffic
 * secrets (HKDF-Expand-Label "key"/"iv", exactly as for kTLS), the sequence
 * numbers from the records the conn has already exchanged, and whatever
 * ciphertext the conn still holds (fed and not read, written and not taken)
 * moves over.  The conn can then be freed: this keeps two EVP AEAD contexts
 * and a few counters per flow (about 2 KiB), against about 25 KiB for the
 * SSL object, which is what a long-lived idle flow costs.
 *
 * The API mirrors the conn's data calls (feed / read / write / take_output /
 * close_notify), so the userspace relay drives either one the same way.
 * Records: application_data only; inner content types application_data,
 * alert (close_notify = clean EOF, any other alert = -EPROTO), handshake
 * (KeyUpdate: read keys updated, and when the peer asks, our KeyUpdate is
 * queued and the write keys updated; NewSessionTicket ignored; a handshake
 * message split over two records is refused with -EPROTO).  Buffers are
 * held only while bytes are in flight: an idle session holds none.
 */
#ifndef SL_RECORD_H
#define SL_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sl_tls_conn;
struct sl_tls_rl;

/**
 * sl_tls_rl_new - a record layer continuing the session of @c
 * Preconditions (otherwise -EBUSY, and @c is left to carry on as it is):
 * handshake done and verified, no KeyUpdate seen, no plaintext or partial
 * record inside OpenSSL (sl_tls_conn_feed keeps partial records out of it),
 * close_notify not sent, a supported suite (AES-128/256-GCM,
 * ChaCha20-Poly1305).  The traffic secrets are wiped from @c in every case.
 * @c stays owned by the caller; free it once this succeeded.
 * @retval 0 and *@out (owned by the caller, sl_tls_rl_free); -EBUSY,
 *         -EOPNOTSUPP, -ENOMEM, -EINVAL
 */
int sl_tls_rl_new(struct sl_tls_conn *c, struct sl_tls_rl **out);

/**
 * sl_tls_rl_new_secrets - a record layer from raw TLS 1.3 application
 * traffic secrets, at sequence 0 both ways (tests and fuzzing; the relay
 * uses sl_tls_rl_new)
 * @suite: TLS cipher suite id: 0x1301, 0x1302 or 0x1303
 * @rd_secret, @wr_secret: the peer's and our secret, @secret_len bytes each
 *         (the suite's hash length); copied
 * @retval 0 and *@out; -EOPNOTSUPP (suite), -EINVAL (length), -ENOMEM, -EIO
 */
int sl_tls_rl_new_secrets(uint16_t suite, const uint8_t *rd_secret,
			  const uint8_t *wr_secret, size_t secret_len,
			  struct sl_tls_rl **out);

/** sl_tls_rl_free - wipe the keys and free; NULL-safe */
void sl_tls_rl_free(struct sl_tls_rl *rl);

/**
 * sl_tls_rl_feed - ciphertext received from the network (copied)
 * @retval 0 or -ENOMEM
 */
int sl_tls_rl_feed(struct sl_tls_rl *rl, const void *buf, size_t len);

/**
 * sl_tls_rl_in_space - room for at least @min bytes of ciphertext at the
 * end of the input, to receive into directly (no sl_tls_rl_feed copy).
 * The space stays valid until sl_tls_rl_in_commit; make no other call on
 * @rl's input (feed, read) in between.
 * @room: set to the bytes available (>= @min)
 * @retval the space, or NULL (-ENOMEM)
 */
uint8_t *sl_tls_rl_in_space(struct sl_tls_rl *rl, size_t min, size_t *room);

/**
 * sl_tls_rl_in_commit - @n bytes were written at sl_tls_rl_in_space (0 is
 * fine: the input buffer is given back if it holds nothing)
 */
void sl_tls_rl_in_commit(struct sl_tls_rl *rl, size_t n);

/**
 * sl_tls_rl_seal - encrypt plaintext straight into @out (no output queue):
 * as many whole records as fit in @cap, at most 16 KiB of plaintext each
 * (22 bytes of overhead per record).  Only when nothing is pending output
 * (sl_tls_rl_pending_output), so that records stay in order.
 * @used: set to the plaintext bytes consumed
 * @retval ciphertext bytes written (0: @cap too small for a record); -EPIPE
 *         after close_notify, -EBUSY with output pending, -EIO
 */
ssize_t sl_tls_rl_seal(struct sl_tls_rl *rl, const void *in, size_t len,
		       void *out, size_t cap, size_t *used);

/** sl_tls_rl_feed_eof - the TCP stream ended (a later read is -EPROTO
 * unless a close_notify came first) */
void sl_tls_rl_feed_eof(struct sl_tls_rl *rl);

/**
 * sl_tls_rl_read - decrypt application data fed so far
 * @retval >0 plaintext bytes; 0 after close_notify (clean EOF, again on
 *         every later call); -EAGAIN when a whole record is not there yet;
 *         -EPROTO on a bad record, an alert other than close_notify, or
 *         TCP EOF without close_notify (truncation); -ENOMEM
 * May queue output (the answer to a KeyUpdate): check the pending output.
 */
ssize_t sl_tls_rl_read(struct sl_tls_rl *rl, void *buf, size_t cap);

/**
 * sl_tls_rl_write - encrypt @len bytes into records of at most 16 KiB,
 * queued as output
 * @retval @len, or -EPIPE after close_notify, -ENOMEM
 */
ssize_t sl_tls_rl_write(struct sl_tls_rl *rl, const void *buf, size_t len);

/** sl_tls_rl_close_notify - queue a close_notify alert. @retval 0 or -errno */
int sl_tls_rl_close_notify(struct sl_tls_rl *rl);

/**
 * sl_tls_rl_pending_input - bytes received and not read yet: plaintext of
 * an opened record plus ciphertext not opened (a partial record too)
 */
size_t sl_tls_rl_pending_input(const struct sl_tls_rl *rl);

/** sl_tls_rl_pending_output - ciphertext bytes waiting to be sent */
size_t sl_tls_rl_pending_output(const struct sl_tls_rl *rl);

/**
 * sl_tls_rl_take_output - copy up to @cap bytes of pending ciphertext
 * @retval bytes copied (0 when none)
 */
size_t sl_tls_rl_take_output(struct sl_tls_rl *rl, void *buf, size_t cap);

#endif /* SL_RECORD_H */

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mutual TLS 1.3 with SPIFFE identities, driven without blocking.
 *
 * Contract between handshake/ and its users (daemon, tests, CLI).
 *
 * A struct sl_tls_conn is one TLS session over memory BIOs: the caller moves
 * ciphertext between the socket and the conn (sl_tls_conn_feed /
 * sl_tls_conn_take_output), so the I/O can be done by io_uring.  During the
 * handshake, sl_tls_conn_want() says exactly how many bytes to read next
 * (record by record), so nothing past the handshake is read from the socket:
 * after it the socket can be handed to kernel TLS with the record sequence
 * numbers at 0 (see ktls.h).
 */
#ifndef SL_TLS_H
#define SL_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct sl_identity; /* identity.h */
struct sl_trust;    /* identity.h */

/** Why a handshake failed, for counters and logs. */
enum sl_tls_fail {
	SL_TLS_OK = 0,
	SL_TLS_FAIL_PROTOCOL,	  /* not TLS, wrong version/ALPN, bad record */
	SL_TLS_FAIL_NO_CERT,	  /* peer presented no certificate */
	SL_TLS_FAIL_UNTRUSTED,	  /* chain does not lead to the bundle */
	SL_TLS_FAIL_EXPIRED,	  /* outside the validity window */
	SL_TLS_FAIL_BAD_SAN,	  /* not exactly one URI SAN in SPIFFE form */
	SL_TLS_FAIL_TRUST_DOMAIN, /* SPIFFE ID from another trust domain */
	SL_TLS_FAIL_WRONG_ID,	  /* not the identity we expected */
	SL_TLS_FAIL_BAD_CERT,	  /* EKU, CA:TRUE leaf, key usage ... */
	SL_TLS_FAIL_TIMEOUT,	  /* set by the caller's timer */
	SL_TLS_FAIL_INTERNAL,	  /* allocation or library failure */
	SL_TLS_FAIL__MAX,
};

/** sl_tls_fail_name - short stable name ("untrusted", "wrong_id" ...) */
const char *sl_tls_fail_name(enum sl_tls_fail f);

enum sl_tls_role {
	SL_TLS_CLIENT,
	SL_TLS_SERVER,
};

struct sl_tls_ctx;
struct sl_tls_conn;

/**
 * sl_tls_ctx_new - TLS settings shared by many connections
 * @trust: trust bundle and trust domain (a reference is taken)
 * @out: new context; free with sl_tls_ctx_free()
 * TLS 1.3 only; AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305; ALPN "sluice/1";
 * client certificates required.  Resumption is off until
 * sl_tls_ctx_set_resumption() turns it on.
 * @retval 0 or -errno
 */
int sl_tls_ctx_new(struct sl_trust *trust, struct sl_tls_ctx **out);
void sl_tls_ctx_free(struct sl_tls_ctx *ctx);

/**
 * sl_tls_ctx_set_trust - replace the trust bundle for new connections
 * (established ones keep theirs).  @retval 0 or -errno
 */
int sl_tls_ctx_set_trust(struct sl_tls_ctx *ctx, struct sl_trust *trust);

/*
 * TLS 1.3 resumption (docs/PROTOCOL.md "Resumption").  A client that asks
 * (sl_tls_conn_ask_ticket: ALPN "sluice/1+ticket") gets exactly one
 * session ticket after the handshake, from a server with resumption on;
 * its next connection to the same server identity can resume that session
 * (psk_dhe_ke: a fresh X25519 exchange, no certificates, no signatures).
 * Server sessions are stateful (the ticket names a session in the
 * server's cache), live SL_TLS_SESSION_LIFETIME_S at most, are bound to
 * the server identity presented, and go with sl_tls_ctx_flush_sessions().
 */
#define SL_TLS_SESSION_LIFETIME_S 300
#define SL_TLS_SESSION_CACHE 4096 /* server sessions kept, at most */

/** struct sl_tls_session - a client's resumable session (refcounted) */
struct sl_tls_session;

/** sl_tls_ctx_set_resumption - servers on @ctx issue tickets to clients
 * that ask, and resume their sessions (@on), or neither */
void sl_tls_ctx_set_resumption(struct sl_tls_ctx *ctx, bool on);

/** sl_tls_ctx_flush_sessions - forget every server session (a new trust
 * bundle or new identities: nothing verified before is resumed) */
void sl_tls_ctx_flush_sessions(struct sl_tls_ctx *ctx);

/**
 * sl_tls_conn_new - start one TLS session
 * @ctx: shared settings
 * @role: client or server
 * @self: identity presented to the peer (a reference is taken)
 * @expected_peer: SPIFFE ID the peer must present, exactly; NULL accepts
 *                 any identity of the trust domain (servers)
 * @out: new conn; free with sl_tls_conn_free()
 * @retval 0 or -errno
 */
int sl_tls_conn_new(struct sl_tls_ctx *ctx, enum sl_tls_role role,
		    struct sl_identity *self, const char *expected_peer,
		    struct sl_tls_conn **out);

/** sl_tls_conn_free - free; wipes key material.  NULL-safe. */
void sl_tls_conn_free(struct sl_tls_conn *c);

/**
 * sl_tls_conn_ask_ticket - client, before the handshake: ask the server
 * for a session ticket, and offer @resume (NULL: none; the conn takes its
 * own reference).  A server that cannot resume @resume runs a full,
 * verified handshake.  @retval 0 or -errno
 */
int sl_tls_conn_ask_ticket(struct sl_tls_conn *c,
			   struct sl_tls_session *resume);

/**
 * sl_tls_conn_ticket_due - client: the handshake is done and the server
 * promised a ticket that has not been read.  Until it is, the session
 * cannot go to kTLS or the record layer: read what arrives, feed it
 * (sl_tls_conn_feed) and call sl_tls_conn_read_ticket().
 */
bool sl_tls_conn_ticket_due(const struct sl_tls_conn *c);

/**
 * sl_tls_conn_read_ticket - process the records fed since the handshake.
 * @retval 0 when the ticket is in (or none was due), -EAGAIN when more
 * must be read, -EPROTO when anything else arrived
 */
int sl_tls_conn_read_ticket(struct sl_tls_conn *c);

/**
 * sl_tls_conn_take_session - the session to resume next time, once the
 * ticket is in (a new reference, or NULL); release with
 * sl_tls_session_put()
 */
struct sl_tls_session *sl_tls_conn_take_session(struct sl_tls_conn *c);

/** sl_tls_session_put - drop a reference; wipes the secret.  NULL-safe. */
void sl_tls_session_put(struct sl_tls_session *s);

/** sl_tls_conn_resumed - the handshake resumed a session */
bool sl_tls_conn_resumed(const struct sl_tls_conn *c);

/** sl_tls_conn_ticketed - server: the client asked for a ticket (a pool
 * refill, not a flow waiting on this handshake) */
bool sl_tls_conn_ticketed(const struct sl_tls_conn *c);

/**
 * Largest TLS 1.3 record on the wire: 5-byte header + 2^14 + 256 bytes.
 * sl_tls_conn_want() never asks for more; a peer announcing a longer record
 * fails the handshake (SL_TLS_FAIL_PROTOCOL).
 */
#define SL_TLS_RECORD_MAX (5 + 16384 + 256)

/**
 * sl_tls_conn_want - during the handshake, how many ciphertext bytes to read
 * from the socket next: the rest of the current record (5-byte header first,
 * then its body).  Reading exactly this much never consumes bytes that follow
 * the handshake.  Returns 0 once the handshake is done.
 */
size_t sl_tls_conn_want(const struct sl_tls_conn *c);

/**
 * sl_tls_conn_read_size - during the handshake, how many bytes one read from
 * the socket may ask for, given a buffer of @cap bytes (0 once done).
 * @ktls: the session may move to kernel TLS, so no byte past the handshake
 *        may leave the socket
 *
 * A client reads whatever has arrived, up to @cap: a sluice server sends
 * nothing after its Finished until the client has spoken (no session
 * tickets, PROTOCOL.md), so the server's whole flight comes in one or two
 * reads instead of two per record.  Should a server send anything after its
 * Finished all the same, the client's handshake fails (SL_TLS_FAIL_PROTOCOL)
 * rather than leave those bytes behind.
 *
 * A server reads at most sl_tls_conn_want() with @ktls: its client may send
 * application data right behind its Finished, and those bytes must stay in
 * the socket for the kernel.  Without @ktls it reads up to @cap too; what
 * follows the client's Finished stays in the conn, for sl_tls_conn_read()
 * or the record layer that takes the session over (record.h).
 */
size_t sl_tls_conn_read_size(const struct sl_tls_conn *c, size_t cap,
			     bool ktls);

/**
 * sl_tls_conn_feed - give the conn ciphertext read from the socket (copied).
 * After the handshake OpenSSL gets whole records only; a partial one waits
 * in the conn for the rest, so that the record layer (record.h) can take
 * the session over between any two feeds.
 * @retval 0 or -ENOMEM
 */
int sl_tls_conn_feed(struct sl_tls_conn *c, const void *buf, size_t len);

/**
 * sl_tls_conn_feed_eof - the caller saw the end of the TCP stream (read
 * returned 0 or the peer reset).  From now on a read that needs more input
 * fails with -EPROTO instead of -EAGAIN (a truncated stream never reads as a
 * clean EOF), and an unfinished handshake fails with -ECONNRESET.
 */
void sl_tls_conn_feed_eof(struct sl_tls_conn *c);

/**
 * sl_tls_conn_handshake - advance the handshake with what was fed
 * @retval 0 handshake complete and peer verified;
 *         -EAGAIN more input needed (send pending output first);
 *         -EPROTO/-EACCES/-ECONNRESET on failure (sl_tls_conn_fail() says why)
 */
int sl_tls_conn_handshake(struct sl_tls_conn *c);

/** sl_tls_conn_fail - reason of the last failure (SL_TLS_OK if none) */
enum sl_tls_fail sl_tls_conn_fail(const struct sl_tls_conn *c);

/** sl_tls_conn_fail_detail - human readable detail of the failure, or "" */
const char *sl_tls_conn_fail_detail(const struct sl_tls_conn *c);

/** sl_tls_conn_pending_output - ciphertext bytes waiting to be sent */
size_t sl_tls_conn_pending_output(const struct sl_tls_conn *c);

/**
 * sl_tls_conn_take_output - copy up to @cap bytes of pending ciphertext
 * @retval bytes copied (0 when none)
 */
size_t sl_tls_conn_take_output(struct sl_tls_conn *c, void *buf, size_t cap);

/**
 * sl_tls_conn_read - decrypt application data fed with sl_tls_conn_feed
 * @retval >0 plaintext bytes; 0 on close_notify (clean EOF); -EAGAIN when
 *         more ciphertext is needed; -EPROTO on a bad record or an alert
 *         (a truncated stream never reads as 0)
 * Note (TLS 1.3): a client's handshake completes when it sends Finished,
 * before the server has checked the client certificate.  A rejection then
 * arrives as an alert on the client's first read: -EPROTO, and
 * sl_tls_conn_fail() gives the class from the alert (e.g. untrusted).
 */
ssize_t sl_tls_conn_read(struct sl_tls_conn *c, void *buf, size_t cap);

/**
 * sl_tls_conn_write - encrypt application data; the records are then taken
 * with sl_tls_conn_take_output.  @retval bytes accepted or -errno
 */
ssize_t sl_tls_conn_write(struct sl_tls_conn *c, const void *buf, size_t len);

/**
 * sl_tls_conn_trim - after the handshake, give back what only the handshake
 * needed: the memory BIOs keep the size of the largest flight (a few KiB;
 * they are replaced by fresh ones, pending ciphertext moved over) and our
 * own certificate and key (SSL_certs_clear).  The session keeps working;
 * call it when the conn becomes a long-lived relay.
 * @retval 0; -EPROTO before the handshake is done; -ENOMEM (the conn is
 *         unchanged and still usable)
 */
int sl_tls_conn_trim(struct sl_tls_conn *c);

/**
 * sl_tls_conn_close_notify - queue a close_notify alert (half-close of our
 * sending direction).  @retval 0 or -errno
 */
int sl_tls_conn_close_notify(struct sl_tls_conn *c);

/** sl_tls_conn_peer_id - verified SPIFFE ID of the peer, after handshake */
const char *sl_tls_conn_peer_id(const struct sl_tls_conn *c);

/**
 * sl_tls_conn_peer_cert_sha256 - SHA-256 of the peer's leaf certificate
 * (DER) as 64 lowercase hex digits and a NUL, after the handshake (the
 * Hash of Istio's x-forwarded-client-cert)
 * @retval 0; -EINVAL before the handshake or without a peer certificate
 */
int sl_tls_conn_peer_cert_sha256(const struct sl_tls_conn *c, char out[65]);

/** sl_tls_conn_peer_serial - peer certificate serial (hex), after handshake */
const char *sl_tls_conn_peer_serial(const struct sl_tls_conn *c);

/**
 * sl_tls_conn_peer_not_after - notAfter of the verified peer certificate
 * (after the handshake), e.g. to stop reusing an idle session past it
 * @retval the time, or 0 when unknown (no handshake yet, no certificate)
 */
time_t sl_tls_conn_peer_not_after(const struct sl_tls_conn *c);

/** sl_tls_conn_cipher - negotiated cipher suite name, after handshake */
const char *sl_tls_conn_cipher(const struct sl_tls_conn *c);

#endif /* SL_TLS_H */

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private parts of struct sl_tls_conn, shared by tls.c, verify.c and ktls.c.
 */
#ifndef SL_TLS_INTERNAL_H
#define SL_TLS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "hs_internal.h"
#include "tls.h"

#define SL_TLS_ALPN "sluice/1"
/* the same protocol, and the client asks for one session ticket (a pool
 * refill, docs/PROTOCOL.md "Resumption"); a server that selects it sends
 * exactly one NewSessionTicket after the handshake */
#define SL_TLS_ALPN_TICKET "sluice/1+ticket"
#define SL_TLS_SECRET_MAX 64 /* SHA-384: 48 bytes */

/* ALPN in wire form: length-prefixed; a client that asks for a ticket
 * offers both, the ticket variant first (tls_ctx.c) */
#define SL_TLS_ALPN_WIRE_LEN (1 + sizeof(SL_TLS_ALPN) - 1)
#define SL_TLS_ALPN_WIRE_TICKET_LEN                                            \
	(1 + sizeof(SL_TLS_ALPN_TICKET) - 1 + SL_TLS_ALPN_WIRE_LEN)
extern const unsigned char sl_tls_alpn_wire[SL_TLS_ALPN_WIRE_LEN + 1];
extern const unsigned char sl_tls_alpn_wire_ticket[SL_TLS_ALPN_WIRE_TICKET_LEN + 1];

/* the context every connection is made from (tls_ctx.c) */
struct sl_tls_ctx {
	SSL_CTX *ssl_ctx;
	pthread_mutex_t lock; /* protects trust */
	struct sl_trust *trust;
	atomic_bool resumption; /* servers issue tickets to clients that ask */
};

/* OpenSSL callbacks on a connection (tls.c), installed by tls_ctx.c */
void sl_tls_keylog_cb(const SSL *ssl, const char *line);
void sl_tls_msg_cb(int write_p, int version, int content_type,
		   const void *buf, size_t len, SSL *ssl, void *arg);

struct sl_tls_conn {
	SSL *ssl;
	BIO *rbio; /* ciphertext from the network (we write, SSL reads) */
	BIO *wbio; /* ciphertext to the network (SSL writes, we read) */
	enum sl_tls_role role;
	struct sl_trust *trust;
	struct sl_identity *self;
	char *expected_peer;

	/* record framing of the input, for sl_tls_conn_want() */
	uint8_t hdr[5];
	uint8_t hdr_have;
	size_t body_left;

	bool done;	  /* handshake complete and verified */
	bool ask_ticket;  /* client: offered SL_TLS_ALPN_TICKET */
	bool ticket_due;  /* client: the server selected it, ticket not read */
	bool ticketed;	  /* server: the client asked for a ticket */
	bool verified;	  /* the verify callback accepted the peer */
	bool app_data;	  /* application data went through userspace TLS */
	bool eof;	  /* the caller saw the end of the TCP stream */
	int err;	  /* sticky -errno after a failure */
	enum sl_tls_fail fail;
	char detail[256];

	char peer_id[SL_SPIFFE_ID_MAX + 1];
	char peer_serial[80];

	/* after the handshake: records exchanged under the application keys
	 * (the next sequence numbers, for the record layer of record.c),
	 * whether a KeyUpdate went either way, and a partial record held
	 * back from OpenSSL (sl_tls_conn_feed passes whole records only) */
	uint64_t app_rd_recs, app_wr_recs;
	bool key_updated;
	uint8_t *tail;
	size_t tail_len, tail_cap;

	/* TLS 1.3 application traffic secrets (keylog callback), for kTLS
	 * and the record layer */
	uint8_t client_secret[SL_TLS_SECRET_MAX];
	uint8_t server_secret[SL_TLS_SECRET_MAX];
	size_t client_secret_len;
	size_t server_secret_len;
};

/** sl_tls_verify_cb - SSL_CTX_set_cert_verify_callback() handler (verify.c) */
int sl_tls_verify_cb(X509_STORE_CTX *xctx, void *arg);

/**
 * sl_tls_verify_resumed - the checks of sl_tls_verify_cb for a resumed
 * session, whose chain was verified when the session was made (verify.c):
 * ALPN, the peer leaf's validity period now, its form and SPIFFE ID.
 * Records the failure.  @retval 0 or -EACCES
 */
int sl_tls_verify_resumed(struct sl_tls_conn *c);

/** sl_tls_alpn_ok - @proto (@len bytes) is an ALPN value @c may have
 * negotiated (verify.c) */
bool sl_tls_alpn_ok(const struct sl_tls_conn *c, const unsigned char *proto,
		    unsigned int len);

/** sl_tls_set_fail - record a failure once (the first reason wins) */
void sl_tls_set_fail(struct sl_tls_conn *c, enum sl_tls_fail f,
		     const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/**
 * sl_hs_hkdf_expand_label - TLS 1.3 HKDF-Expand-Label(@secret, @label, "",
 * @out_len) with @md (ktls.c).  @retval 0 or -errno
 */
int sl_hs_hkdf_expand_label(const EVP_MD *md, const uint8_t *secret,
			    size_t secret_len, const char *label, uint8_t *out,
			    size_t out_len);

/** sl_tls_conn_wipe_secrets - forget the traffic secrets */
void sl_tls_conn_wipe_secrets(struct sl_tls_conn *c);

#endif /* SL_TLS_INTERNAL_H */

// SPDX-License-Identifier: Apache-2.0
/*
 * TLS 1.3 connections over memory BIOs (see tls.h); the shared context
 * (SSL_CTX, trust, ALPN selection) is tls_ctx.c.
 *
 * Record-exact handshake input.  sl_tls_conn_want() follows the record
 * framing of everything fed so far and asks for the rest of the current
 * record only: 5 header bytes, then the body length from the header.  A
 * caller that reads exactly that much never takes a byte from the socket
 * beyond the last handshake record it needs, so after the handshake the
 * kernel socket still holds every later record and kTLS can start at record
 * sequence 0 in both directions.
 *
 * Which record is the last one:
 *  - the client completes when it has read the server's Finished; the
 *    server sends nothing after its Finished, unless the client asked for
 *    a session ticket (ALPN SL_TLS_ALPN_TICKET, pool refills only): then
 *    exactly one NewSessionTicket follows the handshake, the client reads
 *    it through OpenSSL (sl_tls_conn_read_ticket) and both sides count it
 *    in the record sequence numbers they hand on (app_rd_recs and
 *    app_wr_recs, for kTLS and the record layer);
 *  - the server completes when it has read the client's Certificate,
 *    CertificateVerify and Finished; the client's Finished is the last
 *    handshake record, anything after it is application data and stays in
 *    the socket.
 * Since nothing can follow the server's Finished, the client need not read
 * record-exactly: sl_tls_conn_read_size() lets it take whatever arrived, and
 * the handshake fails if any byte is left over once it completes.  Without
 * kTLS the server need not either: what it reads past the client's Finished
 * stays in the BIO, in order (a partial record too: the framing above keeps
 * following it), for OpenSSL or the record layer's takeover.
 * OpenSSL never reads ahead here: read-ahead is off and the memory BIO only
 * holds what the caller fed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/buffer.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "identity.h"
#include "log.h"
#include "tls_internal.h"
#include "util.h"

/* a resumable session is an SSL_SESSION; the type only hides OpenSSL */
struct sl_tls_session;

static int hex_nibble(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/*
 * NSS key log lines: "<LABEL> <client random hex> <secret hex>".  Only the
 * two application traffic secrets are kept.  The line is parsed in place
 * (OpenSSL wipes and frees it after the callback), so no copy to wipe.
 */
void sl_tls_keylog_cb(const SSL *ssl, const char *line)
{
	static const char cts[] = "CLIENT_TRAFFIC_SECRET_0 ";
	static const char sts[] = "SERVER_TRAFFIC_SECRET_0 ";
	struct sl_tls_conn *c = SSL_get_app_data(ssl);
	uint8_t *dst;
	size_t *dst_len, n = 0;
	const char *p;

	if (!c)
		return;
	if (strncmp(line, cts, sizeof(cts) - 1) == 0) {
		dst = c->client_secret;
		dst_len = &c->client_secret_len;
	} else if (strncmp(line, sts, sizeof(sts) - 1) == 0) {
		dst = c->server_secret;
		dst_len = &c->server_secret_len;
	} else {
		return;
	}
	p = strchr(line + sizeof(cts) - 1, ' '); /* skip the client random */
	if (!p)
		return;
	for (p++; p[0] && p[1] && n < SL_TLS_SECRET_MAX; p += 2) {
		int hi = hex_nibble(p[0]), lo = hex_nibble(p[1]);

		if (hi < 0 || lo < 0)
			break;
		dst[n++] = (uint8_t)(hi << 4 | lo);
	}
	if (*p != '\0') { /* malformed or too long: keep nothing */
		OPENSSL_cleanse(dst, SL_TLS_SECRET_MAX);
		n = 0;
	}
	*dst_len = n;
}

/*
 * Count the records exchanged after the handshake (their sequence numbers,
 * for the record layer of record.c).  Both ends switch to the application
 * keys at the end of their handshake and nothing else is exchanged until
 * then (no 0.5-RTT data, no tickets), so every record header after `done`
 * is one under the application keys.  A KeyUpdate either way resets them.
 */
void sl_tls_msg_cb(int write_p, int version, int content_type,
		   const void *buf, size_t len, SSL *ssl, void *arg)
{
	struct sl_tls_conn *c = SSL_get_app_data(ssl);
	uint8_t type = len > 0 ? ((const uint8_t *)buf)[0] : 0;

	(void)version;
	(void)arg;
	if (!c)
		return;
	if (!c->done) {
		/* a server writes its ticket before its handshake returns:
		 * one record under the application keys (OpenSSL writes each
		 * handshake message as its own record) */
		if (content_type == SSL3_RT_HANDSHAKE && write_p &&
		    type == SSL3_MT_NEWSESSION_TICKET)
			c->app_wr_recs++;
		return;
	}
	if (content_type == SSL3_RT_HEADER) {
		if (write_p)
			c->app_wr_recs++;
		else
			c->app_rd_recs++;
	} else if (content_type == SSL3_RT_HANDSHAKE && len > 0) {
		if (type == SSL3_MT_KEY_UPDATE)
			c->key_updated = true;
		else if (type == SSL3_MT_NEWSESSION_TICKET && !write_p &&
			 c->ticket_due)
			c->ticket_due = false; /* the one the server promised */
		else if (type == SSL3_MT_NEWSESSION_TICKET && !write_p)
			c->key_updated = true; /* unasked: do not hand on */
	}
}

/*
 * A server's session ID context: the SPIFFE ID it presents, hashed (at
 * most SSL_MAX_SID_CTX_LENGTH bytes), so that a session made with one
 * workload's certificate is never resumed on a connection to another.
 */
static int set_sid_ctx(SSL *ssl, const struct sl_identity *self)
{
	const char *id = sl_identity_spiffe_id(self);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;

	_Static_assert(SSL_MAX_SID_CTX_LENGTH >= 32, "SHA-256 fits");
	if (!id || EVP_Digest(id, strlen(id), md, &md_len, EVP_sha256(), NULL) != 1 ||
	    SSL_set_session_id_context(ssl, md, md_len) != 1)
		return -EINVAL;
	return 0;
}

int sl_tls_conn_new(struct sl_tls_ctx *ctx, enum sl_tls_role role,
		    struct sl_identity *self, const char *expected_peer,
		    struct sl_tls_conn **out)
{
	struct sl_tls_conn *c;
	int ret = -ENOMEM;

	if (!ctx || !self || !out ||
	    (role != SL_TLS_CLIENT && role != SL_TLS_SERVER) ||
	    (role == SL_TLS_CLIENT && !expected_peer))
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->role = role;
	pthread_mutex_lock(&ctx->lock);
	c->trust = sl_trust_get(ctx->trust);
	pthread_mutex_unlock(&ctx->lock);
	c->self = sl_identity_get(self);
	if (expected_peer) {
		c->expected_peer = strdup(expected_peer);
		if (!c->expected_peer)
			goto err;
	}
	c->ssl = SSL_new(ctx->ssl_ctx);
	c->rbio = BIO_new(BIO_s_mem());
	c->wbio = BIO_new(BIO_s_mem());
	if (!c->ssl || !c->rbio || !c->wbio)
		goto err;
	/* an empty input BIO means "retry", not EOF, until sl_tls_conn_feed_eof */
	BIO_set_mem_eof_return(c->rbio, -1);
	SSL_set_bio(c->ssl, c->rbio, c->wbio); /* SSL owns both now */
	SSL_set_app_data(c->ssl, c);
	SSL_set_msg_callback(c->ssl, sl_tls_msg_cb);
	ret = -EINVAL;
	if (SSL_use_cert_and_key(c->ssl, sl_identity_cert(self),
				 sl_identity_key(self), sl_identity_send_chain(self),
				 1) != 1 ||
	    SSL_set1_verify_cert_store(c->ssl, sl_trust_store(c->trust)) != 1)
		goto err;
	if (role == SL_TLS_CLIENT) {
		if (SSL_set_alpn_protos(c->ssl, sl_tls_alpn_wire,
					sizeof(sl_tls_alpn_wire) - 1) != 0)
			goto err;
		SSL_set_verify(c->ssl, SSL_VERIFY_PEER, NULL);
		SSL_set_connect_state(c->ssl);
	} else {
		SSL_set_verify(c->ssl,
			       SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
			       NULL);
		if (set_sid_ctx(c->ssl, self))
			goto err;
		SSL_set_accept_state(c->ssl);
	}
	*out = c;
	return 0;
err:
	sl_hs_openssl_err(__func__);
	sl_tls_conn_free(c);
	return ret;
}

void sl_tls_conn_wipe_secrets(struct sl_tls_conn *c)
{
	OPENSSL_cleanse(c->client_secret, sizeof(c->client_secret));
	OPENSSL_cleanse(c->server_secret, sizeof(c->server_secret));
	c->client_secret_len = 0;
	c->server_secret_len = 0;
}

void sl_tls_conn_free(struct sl_tls_conn *c)
{
	if (!c)
		return;
	/* OpenSSL drops the session of a conn freed without close_notify
	 * (from the server's cache, and marks it not resumable): a conn
	 * whose handshake succeeded keeps its session (resumption), a failed
	 * one loses it */
	if (c->ssl && c->done && !c->err)
		SSL_set_shutdown(c->ssl, SSL_get_shutdown(c->ssl) | SSL_SENT_SHUTDOWN);
	if (c->ssl)
		SSL_free(c->ssl); /* frees rbio and wbio */
	else {
		BIO_free(c->rbio);
		BIO_free(c->wbio);
	}
	sl_tls_conn_wipe_secrets(c);
	if (c->tail) {
		OPENSSL_cleanse(c->tail, c->tail_cap);
		free(c->tail);
	}
	sl_identity_put(c->self);
	sl_trust_put(c->trust);
	free(c->expected_peer);
	free(c);
}

size_t sl_tls_conn_want(const struct sl_tls_conn *c)
{
	if (c->done || c->err)
		return 0;
	if (c->hdr_have < sizeof(c->hdr))
		return sizeof(c->hdr) - c->hdr_have;
	return c->body_left;
}

size_t sl_tls_conn_read_size(const struct sl_tls_conn *c, size_t cap,
			     bool ktls)
{
	size_t want = sl_tls_conn_want(c);

	if (!want)
		return 0;
	return c->role == SL_TLS_SERVER && ktls ? SL_MIN(want, cap) : cap;
}

/* Follow the record framing of @len input bytes. */
static void track_records(struct sl_tls_conn *c, const uint8_t *p, size_t len)
{
	while (len > 0) {
		size_t n;

		if (c->hdr_have < sizeof(c->hdr)) {
			n = SL_MIN(sizeof(c->hdr) - c->hdr_have, len);
			memcpy(c->hdr + c->hdr_have, p, n);
			c->hdr_have = (uint8_t)(c->hdr_have + n);
			if (c->hdr_have == sizeof(c->hdr)) {
				c->body_left = (size_t)c->hdr[3] << 8 | c->hdr[4];
				if (c->body_left == 0)
					c->hdr_have = 0;
			}
		} else {
			n = SL_MIN(c->body_left, len);
			c->body_left -= n;
			if (c->body_left == 0)
				c->hdr_have = 0;
		}
		p += n;
		len -= n;
	}
}

/*
 * After the handshake: pass whole records to OpenSSL and keep a partial one
 * here, so that OpenSSL never holds part of a record and the session can
 * move to the record layer (record.c) between any two feeds.
 */
static int feed_records(struct sl_tls_conn *c, const uint8_t *p, size_t len)
{
	size_t i = 0, end = 0, n;
	bool any = false;

	/* where the last record completed by these bytes ends */
	while (i < len) {
		if (c->hdr_have < sizeof(c->hdr)) {
			n = SL_MIN(sizeof(c->hdr) - c->hdr_have, len - i);
			memcpy(c->hdr + c->hdr_have, p + i, n);
			c->hdr_have = (uint8_t)(c->hdr_have + n);
			i += n;
			if (c->hdr_have == sizeof(c->hdr)) {
				c->body_left = (size_t)c->hdr[3] << 8 | c->hdr[4];
				if (c->body_left > SL_TLS_RECORD_MAX - sizeof(c->hdr)) {
					/* let OpenSSL refuse it now */
					end = len;
					any = true;
					c->hdr_have = 0;
					c->body_left = 0;
					break;
				}
			}
		} else {
			n = SL_MIN(c->body_left, len - i);
			c->body_left -= n;
			i += n;
		}
		if (c->hdr_have == sizeof(c->hdr) && c->body_left == 0) {
			c->hdr_have = 0;
			end = i;
			any = true;
		}
	}
	if (any) {
		if (c->tail_len &&
		    BIO_write(c->rbio, c->tail, (int)c->tail_len) != (int)c->tail_len)
			return -ENOMEM;
		c->tail_len = 0;
		if (end && BIO_write(c->rbio, p, (int)end) != (int)end)
			return -ENOMEM;
	}
	if (end < len) {
		size_t need = c->tail_len + (len - end);

		if (need > c->tail_cap) {
			uint8_t *t = malloc(SL_TLS_RECORD_MAX);

			if (!t || need > SL_TLS_RECORD_MAX) {
				free(t);
				return -ENOMEM;
			}
			if (c->tail_len)
				memcpy(t, c->tail, c->tail_len);
			if (c->tail) {
				OPENSSL_cleanse(c->tail, c->tail_cap);
				free(c->tail);
			}
			c->tail = t;
			c->tail_cap = SL_TLS_RECORD_MAX;
		}
		memcpy(c->tail + c->tail_len, p + end, len - end);
		c->tail_len = need;
	} else if (c->tail) {
		free(c->tail); /* nothing partial: hold no buffer */
		c->tail = NULL;
		c->tail_cap = 0;
	}
	return 0;
}

int sl_tls_conn_feed(struct sl_tls_conn *c, const void *buf, size_t len)
{
	if (len == 0)
		return 0;
	if (len > INT32_MAX)
		return -EINVAL;
	if (c->done && !c->err)
		return feed_records(c, buf, len);
	if (!c->done && !c->err) {
		track_records(c, buf, len);
		if (c->hdr_have == sizeof(c->hdr) &&
		    c->body_left > SL_TLS_RECORD_MAX - sizeof(c->hdr)) {
			sl_tls_set_fail(c, SL_TLS_FAIL_PROTOCOL,
					"record of %zu bytes", c->body_left);
			c->err = -EPROTO;
			return 0;
		}
	}
	if (BIO_write(c->rbio, buf, (int)len) != (int)len)
		return -ENOMEM;
	return 0;
}

/** sl_tls_conn_feed_eof - see tls.h */
void sl_tls_conn_feed_eof(struct sl_tls_conn *c)
{
	c->eof = true;
	BIO_set_mem_eof_return(c->rbio, 0);
}

static bool is_alert_reason(int reason)
{
	/* SSL_R_SSLV3_ALERT_* and SSL_R_TLSV1_ALERT_* are 1000 + alert */
	return reason >= SSL_AD_REASON_OFFSET &&
	       reason < SSL_AD_REASON_OFFSET + 256;
}

/* The peer rejected us with @alert: map it to a class. */
static void peer_alert_fail(struct sl_tls_conn *c, int alert)
{
	enum sl_tls_fail f;

	switch (alert) {
	case SSL_AD_UNKNOWN_CA:
		f = SL_TLS_FAIL_UNTRUSTED;
		break;
	case SSL_AD_CERTIFICATE_EXPIRED:
		f = SL_TLS_FAIL_EXPIRED;
		break;
	case TLS13_AD_CERTIFICATE_REQUIRED:
		f = SL_TLS_FAIL_NO_CERT;
		break;
	case SSL_AD_BAD_CERTIFICATE:
	case SSL_AD_UNSUPPORTED_CERTIFICATE:
	case SSL_AD_CERTIFICATE_UNKNOWN:
		f = SL_TLS_FAIL_BAD_CERT;
		break;
	default:
		f = SL_TLS_FAIL_PROTOCOL;
		break;
	}
	sl_tls_set_fail(c, f, "peer sent alert %s",
			SSL_alert_desc_string_long(alert));
}

/* Failure after SSL_do_handshake() returned an error. */
static int handshake_failed(struct sl_tls_conn *c, int ssl_err)
{
	unsigned long e = ERR_peek_error();
	int reason = ERR_GET_REASON(e);

	if (c->fail != SL_TLS_OK) {
		/* our verify or ALPN callback said why */
	} else if (ssl_err == SSL_ERROR_SYSCALL || (c->eof && e == 0) ||
		   (c->eof && ERR_GET_LIB(e) == ERR_LIB_SSL &&
		    reason == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
		sl_tls_set_fail(c, SL_TLS_FAIL_PROTOCOL,
				"connection closed during the handshake");
		c->err = -ECONNRESET;
	} else if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
		   (reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE ||
		    reason == SSL_AD_REASON_OFFSET + TLS13_AD_CERTIFICATE_REQUIRED)) {
		sl_tls_set_fail(c, SL_TLS_FAIL_NO_CERT,
				"peer presented no certificate");
	} else if (ERR_GET_LIB(e) == ERR_LIB_SSL && is_alert_reason(reason)) {
		peer_alert_fail(c, reason - SSL_AD_REASON_OFFSET);
	} else if (ERR_GET_LIB(e) == ERR_LIB_SSL || e == 0) {
		sl_tls_set_fail(c, SL_TLS_FAIL_PROTOCOL, "%s",
				e ? ERR_reason_error_string(e) : "protocol error");
	} else {
		sl_tls_set_fail(c, SL_TLS_FAIL_INTERNAL, "%s",
				ERR_reason_error_string(e) ?: "library error");
	}
	if (!c->err) {
		switch (c->fail) {
		case SL_TLS_FAIL_PROTOCOL:
			c->err = -EPROTO;
			break;
		case SL_TLS_FAIL_INTERNAL:
			c->err = -ENOMEM;
			break;
		default:
			c->err = -EACCES;
			break;
		}
	}
	sl_log_debug("%s: %s: %s", __func__, sl_tls_fail_name(c->fail),
		     c->detail);
	ERR_clear_error();
	return c->err;
}

int sl_tls_conn_handshake(struct sl_tls_conn *c)
{
	int r, e;

	if (c->done)
		return 0;
	if (c->err)
		return c->err;
	ERR_clear_error();
	r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		/* a resumed session skipped the verify callback */
		if (SSL_session_reused(c->ssl) && !c->verified &&
		    sl_tls_verify_resumed(c)) {
			c->err = -EACCES;
			return c->err;
		}
		/* belt and braces: the callback must have accepted the peer */
		if (!c->verified || c->peer_id[0] == '\0') {
			sl_tls_set_fail(c, SL_TLS_FAIL_INTERNAL,
					"peer was not verified");
			c->err = -EACCES;
			return c->err;
		}
		/* a client reads greedily (sl_tls_conn_read_size): bytes
		 * past the server's Finished are a peer that breaks the
		 * protocol, and would be lost to kTLS */
		if (c->role == SL_TLS_CLIENT && BIO_ctrl_pending(c->rbio)) {
			sl_tls_set_fail(c, SL_TLS_FAIL_PROTOCOL,
					"%zu bytes after the server's Finished",
					(size_t)BIO_ctrl_pending(c->rbio));
			c->err = -EPROTO;
			return c->err;
		}
		if (c->role == SL_TLS_CLIENT && c->ask_ticket) {
			const unsigned char *proto = NULL;
			unsigned int plen = 0;

			SSL_get0_alpn_selected(c->ssl, &proto, &plen);
			c->ticket_due = plen == sizeof(SL_TLS_ALPN_TICKET) - 1 &&
					memcmp(proto, SL_TLS_ALPN_TICKET, plen) == 0;
		}
		c->done = true;
		return 0;
	}
	e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		ERR_clear_error();
		return -EAGAIN;
	}
	return handshake_failed(c, e);
}

enum sl_tls_fail sl_tls_conn_fail(const struct sl_tls_conn *c)
{
	return c->fail;
}

const char *sl_tls_conn_fail_detail(const struct sl_tls_conn *c)
{
	return c->detail;
}

size_t sl_tls_conn_pending_output(const struct sl_tls_conn *c)
{
	return BIO_ctrl_pending(c->wbio);
}

size_t sl_tls_conn_take_output(struct sl_tls_conn *c, void *buf, size_t cap)
{
	int n;

	if (cap == 0)
		return 0;
	if (cap > INT32_MAX)
		cap = INT32_MAX;
	n = BIO_read(c->wbio, buf, (int)cap);
	return n > 0 ? (size_t)n : 0;
}

/*
 * Application data through userspace TLS moves the record sequence numbers
 * away from 0: kTLS is no longer possible.  The secrets stay for the record
 * layer (sl_tls_rl_new wipes them), or until the conn is freed.
 */
static void note_app_data(struct sl_tls_conn *c)
{
	c->app_data = true;
}

ssize_t sl_tls_conn_read(struct sl_tls_conn *c, void *buf, size_t cap)
{
	unsigned long err;
	size_t got = 0;
	int r, e;

	if (!c->done)
		return -EPROTO;
	if (cap == 0)
		return 0;
	ERR_clear_error();
	note_app_data(c);
	r = SSL_read_ex(c->ssl, buf, cap, &got);
	if (r == 1)
		return (ssize_t)got;
	e = SSL_get_error(c->ssl, r);
	err = ERR_peek_error();
	ERR_clear_error();
	switch (e) {
	case SSL_ERROR_ZERO_RETURN:
		return 0; /* close_notify: the only clean EOF */
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return -EAGAIN;
	default:
		/*
		 * Bad record, alert, or EOF without close_notify (truncation).
		 * In TLS 1.3 a client learns that the server rejected its
		 * certificate only here, from the alert after its Finished.
		 */
		if (ERR_GET_LIB(err) == ERR_LIB_SSL &&
		    is_alert_reason(ERR_GET_REASON(err)) &&
		    ERR_GET_REASON(err) != SSL_AD_REASON_OFFSET + SSL_AD_CLOSE_NOTIFY)
			peer_alert_fail(c, ERR_GET_REASON(err) -
						   SSL_AD_REASON_OFFSET);
		return -EPROTO;
	}
}

ssize_t sl_tls_conn_write(struct sl_tls_conn *c, const void *buf, size_t len)
{
	size_t done = 0;

	if (!c->done)
		return -EPROTO;
	if (len == 0)
		return 0;
	ERR_clear_error();
	note_app_data(c);
	if (SSL_write_ex(c->ssl, buf, len, &done) != 1) {
		int e = SSL_get_error(c->ssl, 0);

		ERR_clear_error();
		return e == SSL_ERROR_WANT_WRITE ? -EAGAIN : -EPIPE;
	}
	return (ssize_t)done;
}

/* copy what @from holds (not read yet) into @to; @retval 0 or -ENOMEM */
static int bio_copy(BIO *from, BIO *to)
{
	BUF_MEM *bm = NULL;

	/* a read-write memory BIO: the unread bytes, moved to the front */
	if (BIO_get_mem_ptr(from, &bm) != 1 || !bm)
		return -ENOMEM;
	if (!bm->length)
		return 0;
	if (bm->length > INT32_MAX ||
	    BIO_write(to, bm->data, (int)bm->length) != (int)bm->length)
		return -ENOMEM;
	return 0;
}

int sl_tls_conn_trim(struct sl_tls_conn *c)
{
	BIO *r, *w;

	if (!c->done)
		return -EPROTO;
	r = BIO_new(BIO_s_mem());
	w = BIO_new(BIO_s_mem());
	if (!r || !w || bio_copy(c->rbio, r) || bio_copy(c->wbio, w)) {
		BIO_free(r);
		BIO_free(w);
		return -ENOMEM;
	}
	BIO_set_mem_eof_return(r, c->eof ? 0 : -1);
	SSL_set_bio(c->ssl, r, w); /* SSL owns the new ones, frees the old */
	c->rbio = r;
	c->wbio = w;
	SSL_certs_clear(c->ssl); /* our certificate and key: handshake only */
	return 0;
}

int sl_tls_conn_close_notify(struct sl_tls_conn *c)
{
	if (!c->done)
		return -EPROTO;
	ERR_clear_error();
	if (SSL_shutdown(c->ssl) < 0) {
		ERR_clear_error();
		return -EPIPE;
	}
	return 0;
}

const char *sl_tls_conn_peer_id(const struct sl_tls_conn *c)
{
	return c->done ? c->peer_id : NULL;
}

const char *sl_tls_conn_peer_serial(const struct sl_tls_conn *c)
{
	return c->done ? c->peer_serial : NULL;
}

int sl_tls_conn_peer_cert_sha256(const struct sl_tls_conn *c, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	X509 *peer;

	out[0] = '\0';
	if (!c || !c->done)
		return -EINVAL;
	peer = SSL_get0_peer_certificate(c->ssl);
	if (!peer || !X509_digest(peer, EVP_sha256(), md, &len) || len != 32)
		return -EINVAL;
	for (unsigned int i = 0; i < len; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
	return 0;
}

time_t sl_tls_conn_peer_not_after(const struct sl_tls_conn *c)
{
	X509 *peer;
	time_t t;

	if (!c || !c->done)
		return 0;
	peer = SSL_get0_peer_certificate(c->ssl);
	if (!peer || sl_hs_asn1_time(X509_get0_notAfter(peer), &t))
		return 0;
	return t;
}

const char *sl_tls_conn_cipher(const struct sl_tls_conn *c)
{
	return c->done ? SSL_get_cipher_name(c->ssl) : NULL;
}

int sl_tls_conn_ask_ticket(struct sl_tls_conn *c,
			   struct sl_tls_session *resume)
{
	if (!c || c->role != SL_TLS_CLIENT || c->done || c->ask_ticket)
		return -EINVAL;
	if (SSL_set_alpn_protos(c->ssl, sl_tls_alpn_wire_ticket,
				sizeof(sl_tls_alpn_wire_ticket) - 1) != 0)
		return -ENOMEM;
	c->ask_ticket = true;
	/* a session the server no longer has costs nothing: it falls back
	 * to a full handshake, verified as ever */
	if (resume && SSL_set_session(c->ssl, (SSL_SESSION *)resume) != 1) {
		ERR_clear_error();
		return -EINVAL;
	}
	return 0;
}

bool sl_tls_conn_ticket_due(const struct sl_tls_conn *c)
{
	return c && c->done && !c->err && c->ticket_due;
}

int sl_tls_conn_read_ticket(struct sl_tls_conn *c)
{
	uint8_t byte;
	size_t got = 0;
	int r, e;

	if (!c || !c->done || c->err)
		return -EINVAL;
	if (!c->ticket_due)
		return 0;
	ERR_clear_error();
	/* OpenSSL takes the ticket in and, with nothing else, wants more */
	r = SSL_read_ex(c->ssl, &byte, 1, &got);
	if (r == 1) {
		sl_tls_set_fail(c, SL_TLS_FAIL_PROTOCOL,
				"application data before the session ticket");
		c->err = -EPROTO;
		return c->err;
	}
	e = SSL_get_error(c->ssl, r);
	ERR_clear_error();
	if (e != SSL_ERROR_WANT_READ) {
		sl_tls_set_fail(c, SL_TLS_FAIL_PROTOCOL,
				"no session ticket after the handshake");
		c->err = -EPROTO;
		return c->err;
	}
	return c->ticket_due ? -EAGAIN : 0;
}

struct sl_tls_session *sl_tls_conn_take_session(struct sl_tls_conn *c)
{
	SSL_SESSION *s;

	if (!c || !c->done || c->err || c->ticket_due)
		return NULL;
	s = SSL_get1_session(c->ssl);
	if (s && !SSL_SESSION_is_resumable(s)) {
		SSL_SESSION_free(s);
		s = NULL;
	}
	return (struct sl_tls_session *)s;
}

void sl_tls_session_put(struct sl_tls_session *s)
{
	SSL_SESSION_free((SSL_SESSION *)s); /* NULL-safe; wipes the secret */
}

bool sl_tls_conn_resumed(const struct sl_tls_conn *c)
{
	return c && c->done && SSL_session_reused(c->ssl);
}

bool sl_tls_conn_ticketed(const struct sl_tls_conn *c)
{
	return c && c->ticketed;
}

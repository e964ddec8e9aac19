// SPDX-License-Identifier: Apache-2.0
/*
 * The TLS context shared by every connection (see tls.h): one SSL_CTX
 * with sluice's TLS 1.3 profile, the trust bundle new connections take,
 * ALPN selection (and the one-ticket variant of pool refills), the server
 * session cache.  Connections themselves are tls.c.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "identity.h"
#include "log.h"
#include "tls_internal.h"

static const char *const fail_names[SL_TLS_FAIL__MAX] = {
	[SL_TLS_OK] = "ok",
	[SL_TLS_FAIL_PROTOCOL] = "protocol",
	[SL_TLS_FAIL_NO_CERT] = "no_cert",
	[SL_TLS_FAIL_UNTRUSTED] = "untrusted",
	[SL_TLS_FAIL_EXPIRED] = "expired",
	[SL_TLS_FAIL_BAD_SAN] = "bad_san",
	[SL_TLS_FAIL_TRUST_DOMAIN] = "trust_domain",
	[SL_TLS_FAIL_WRONG_ID] = "wrong_id",
	[SL_TLS_FAIL_BAD_CERT] = "bad_cert",
	[SL_TLS_FAIL_TIMEOUT] = "timeout",
	[SL_TLS_FAIL_INTERNAL] = "internal",
};

const char *sl_tls_fail_name(enum sl_tls_fail f)
{
	if ((unsigned int)f >= SL_TLS_FAIL__MAX)
		return "unknown";
	return fail_names[f];
}

const unsigned char sl_tls_alpn_wire[SL_TLS_ALPN_WIRE_LEN + 1] = "\x08" SL_TLS_ALPN;
/* a client that asks for a ticket offers both, the ticket variant first */
const unsigned char sl_tls_alpn_wire_ticket[SL_TLS_ALPN_WIRE_TICKET_LEN + 1] =
	"\x0f" SL_TLS_ALPN_TICKET "\x08" SL_TLS_ALPN;
_Static_assert(sizeof(SL_TLS_ALPN) - 1 == 0x08 &&
		       sizeof(SL_TLS_ALPN_TICKET) - 1 == 0x0f,
	       "ALPN length prefixes");

static int alpn_select(SSL *ssl, const unsigned char **out,
		       unsigned char *outlen, const unsigned char *in,
		       unsigned int inlen, void *arg)
{
	struct sl_tls_ctx *ctx = arg;
	struct sl_tls_conn *c = SSL_get_app_data(ssl);
	bool resume = atomic_load_explicit(&ctx->resumption,
					   memory_order_relaxed);
	/* our preference: the ticket variant, when resumption is on */
	const unsigned char *prefs = resume ? sl_tls_alpn_wire_ticket : sl_tls_alpn_wire;
	unsigned int prefs_len = resume ? SL_TLS_ALPN_WIRE_TICKET_LEN :
					  SL_TLS_ALPN_WIRE_LEN;
	unsigned char *sel = NULL;

	if (SSL_select_next_proto(&sel, outlen, prefs, prefs_len, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED) {
		if (c)
			sl_tls_set_fail(c, SL_TLS_FAIL_PROTOCOL,
					"client did not offer ALPN " SL_TLS_ALPN);
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	if (*outlen == sizeof(SL_TLS_ALPN_TICKET) - 1 &&
	    memcmp(sel, SL_TLS_ALPN_TICKET, *outlen) == 0) {
		/* exactly one ticket, written right after the handshake */
		if (SSL_set_num_tickets(ssl, 1) != 1)
			return SSL_TLSEXT_ERR_ALERT_FATAL;
		if (c)
			c->ticketed = true;
	}
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

int sl_tls_ctx_new(struct sl_trust *trust, struct sl_tls_ctx **out)
{
	struct sl_tls_ctx *ctx;
	SSL_CTX *s;
	int ret = -EINVAL;

	if (!trust || !out)
		return -EINVAL;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	s = SSL_CTX_new(TLS_method());
	if (!s) {
		ret = -ENOMEM;
		goto err;
	}
	ctx->ssl_ctx = s;
	if (SSL_CTX_set_min_proto_version(s, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(s, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_ciphersuites(s, "TLS_AES_128_GCM_SHA256:"
					"TLS_AES_256_GCM_SHA384:"
					"TLS_CHACHA20_POLY1305_SHA256") != 1 ||
	    SSL_CTX_set1_groups_list(s, "X25519:P-256") != 1 ||
	    SSL_CTX_set_num_tickets(s, 0) != 1)
		goto err;
	/* SSL_OP_NO_TICKET: in TLS 1.3, stateful tickets (the session stays
	 * in the server's cache, decoded; the ticket only names it) */
	SSL_CTX_set_options(s, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
				       SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* server sessions only; a client keeps its sessions itself
	 * (sl_tls_conn_take_session), so they never evict the server's */
	SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_SERVER);
	SSL_CTX_sess_set_cache_size(s, SL_TLS_SESSION_CACHE);
	SSL_CTX_set_timeout(s, SL_TLS_SESSION_LIFETIME_S);
	SSL_CTX_set_mode(s, SSL_MODE_RELEASE_BUFFERS |
				    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_read_ahead(s, 0);
	SSL_CTX_set_alpn_select_cb(s, alpn_select, ctx);
	SSL_CTX_set_cert_verify_callback(s, sl_tls_verify_cb, NULL);
	SSL_CTX_set_keylog_callback(s, sl_tls_keylog_cb);
	if (pthread_mutex_init(&ctx->lock, NULL)) {
		ret = -ENOMEM;
		goto err;
	}
	ctx->trust = sl_trust_get(trust);
	*out = ctx;
	return 0;
err:
	sl_hs_openssl_err(__func__);
	SSL_CTX_free(ctx->ssl_ctx);
	free(ctx);
	return ret;
}

void sl_tls_ctx_free(struct sl_tls_ctx *ctx)
{
	if (!ctx)
		return;
	SSL_CTX_free(ctx->ssl_ctx); /* live conns hold their own reference */
	sl_trust_put(ctx->trust);
	pthread_mutex_destroy(&ctx->lock);
	free(ctx);
}

int sl_tls_ctx_set_trust(struct sl_tls_ctx *ctx, struct sl_trust *trust)
{
	struct sl_trust *old;

	if (!ctx || !trust)
		return -EINVAL;
	sl_trust_get(trust);
	pthread_mutex_lock(&ctx->lock);
	old = ctx->trust;
	ctx->trust = trust;
	pthread_mutex_unlock(&ctx->lock);
	sl_trust_put(old);
	return 0;
}

void sl_tls_ctx_set_resumption(struct sl_tls_ctx *ctx, bool on)
{
	atomic_store(&ctx->resumption, on);
	if (!on) /* and nothing issued before is resumed */
		sl_tls_ctx_flush_sessions(ctx);
}

void sl_tls_ctx_flush_sessions(struct sl_tls_ctx *ctx)
{
	/* every session whose expiry is before the far future: all of them */
	SSL_CTX_flush_sessions(ctx->ssl_ctx, (long)(time(NULL) +
						    10 * SL_TLS_SESSION_LIFETIME_S));
}

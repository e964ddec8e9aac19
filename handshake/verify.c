// SPDX-License-Identifier: Apache-2.0
/*
 * Peer certificate verification for mutual TLS with SPIFFE identities.
 *
 * Runs as OpenSSL's certificate verification callback, i.e. while the peer's
 * Certificate message is processed: a rejected peer gets an alert and the
 * handshake never completes on either side.  The rules, all strict:
 *
 *  1. the chain leads to a root of the conn's trust bundle, with RFC 5280
 *     strict checks (X509_V_FLAG_X509_STRICT) and every certificate inside
 *     its validity window;
 *  2. the leaf is an end-entity certificate: basicConstraints present
 *     and CA:FALSE (a leaf without basicConstraints is refused too:
 *     nothing else says that it cannot act as a CA), keyUsage present with
 *     digitalSignature, extendedKeyUsage present with serverAuth (a
 *     server's certificate) or clientAuth (a client's).  A certificate is
 *     accepted only for what its extensions say explicitly, the lesson of
 *     Envoy's (and so Istio's) CVE-2022-21656 (a SAN of one type taken for
 *     another) and CVE-2022-21657 (extendedKeyUsage not enforced);
 *  3. the subjectAltName holds exactly one name, a URI that is a SPIFFE ID
 *     of the form spiffe://<td>/ns/<ns>/sa/<sa>.  DNS, IP and e-mail names
 *     are refused too: a sluice peer is named by its SPIFFE ID only, and an
 *     extra name could make one certificate valid for two purposes;
 *  4. the trust domain is ours;
 *  5. when the conn has an expected peer ID, the ID equals it byte for byte.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "identity.h"
#include "log.h"
#include "tls_internal.h"
#include "util.h"

void sl_tls_set_fail(struct sl_tls_conn *c, enum sl_tls_fail f,
		     const char *fmt, ...)
{
	va_list ap;

	if (c->fail != SL_TLS_OK)
		return;
	c->fail = f;
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
}

static enum sl_tls_fail classify_x509_err(int err)
{
	switch (err) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
	case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
	case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
		return SL_TLS_FAIL_EXPIRED;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
	case X509_V_ERR_CERT_UNTRUSTED:
	case X509_V_ERR_CERT_REJECTED:
		return SL_TLS_FAIL_UNTRUSTED;
	case X509_V_ERR_OUT_OF_MEM:
		return SL_TLS_FAIL_INTERNAL;
	default:
		return SL_TLS_FAIL_BAD_CERT;
	}
}

const char *sl_hs_leaf_bc_problem(X509 *leaf)
{
	uint32_t flags = X509_get_extension_flags(leaf);

	if (!(flags & EXFLAG_BCONS))
		return "leaf has no basicConstraints (an end-entity certificate "
		       "must carry basicConstraints CA:FALSE)";
	if ((flags & EXFLAG_CA) || X509_check_ca(leaf) != 0)
		return "leaf is a CA certificate (basicConstraints CA:TRUE)";
	return NULL;
}

/* End-entity checks (rule 2).  @retval 0 or the X509_V_ERR_* to report */
static int check_leaf(struct sl_tls_conn *c, X509 *leaf)
{
	/* the peer of a client is a server and vice versa */
	bool peer_is_server = c->role == SL_TLS_CLIENT;
	uint32_t flags = X509_get_extension_flags(leaf);
	const char *bc = sl_hs_leaf_bc_problem(leaf);

	if (bc) {
		sl_tls_set_fail(c, SL_TLS_FAIL_BAD_CERT, "%s", bc);
		return (flags & EXFLAG_BCONS) ? X509_V_ERR_INVALID_CA :
						X509_V_ERR_INVALID_EXTENSION;
	}
	if (!(flags & EXFLAG_KUSAGE) ||
	    !(X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE)) {
		sl_tls_set_fail(c, SL_TLS_FAIL_BAD_CERT,
				"keyUsage digitalSignature missing");
		return X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE;
	}
	if (!(flags & EXFLAG_XKUSAGE) ||
	    !(X509_get_extended_key_usage(leaf) &
	      (peer_is_server ? XKU_SSL_SERVER : XKU_SSL_CLIENT))) {
		sl_tls_set_fail(c, SL_TLS_FAIL_BAD_CERT,
				"extendedKeyUsage %s missing",
				peer_is_server ? "serverAuth" : "clientAuth");
		return X509_V_ERR_INVALID_PURPOSE;
	}
	return 0;
}

/* Rules 3-5.  @retval 0 or the X509_V_ERR_* to report */
static int check_identity(struct sl_tls_conn *c, X509 *leaf)
{
	char td[SL_TRUST_DOMAIN_MAX + 1];
	char id[SL_SPIFFE_ID_MAX + 1];

	if (sl_hs_cert_spiffe_id(leaf, id, sizeof(id)) != 0 ||
	    sl_spiffe_id_parse(id, td, sizeof(td), NULL, 0, NULL, 0) != 0) {
		sl_tls_set_fail(c, SL_TLS_FAIL_BAD_SAN,
				"subjectAltName is not exactly one SPIFFE URI");
		return X509_V_ERR_APPLICATION_VERIFICATION;
	}
	if (strcmp(td, sl_trust_domain(c->trust)) != 0) {
		sl_tls_set_fail(c, SL_TLS_FAIL_TRUST_DOMAIN,
				"trust domain %s, expected %s", td,
				sl_trust_domain(c->trust));
		return X509_V_ERR_APPLICATION_VERIFICATION;
	}
	if (c->expected_peer && strcmp(id, c->expected_peer) != 0) {
		sl_tls_set_fail(c, SL_TLS_FAIL_WRONG_ID, "peer is %s, expected %s",
				id, c->expected_peer);
		return X509_V_ERR_APPLICATION_VERIFICATION;
	}
	sl_strlcpy(c->peer_id, id, sizeof(c->peer_id));
	if (sl_hs_serial_hex(leaf, c->peer_serial, sizeof(c->peer_serial)))
		c->peer_serial[0] = '\0';
	return 0;
}

bool sl_tls_alpn_ok(const struct sl_tls_conn *c, const unsigned char *proto,
		    unsigned int len)
{
	if (len == strlen(SL_TLS_ALPN) && memcmp(proto, SL_TLS_ALPN, len) == 0)
		return true;
	/* a client accepts the ticket variant only if it offered it */
	return (c->role == SL_TLS_SERVER || c->ask_ticket) &&
	       len == strlen(SL_TLS_ALPN_TICKET) &&
	       memcmp(proto, SL_TLS_ALPN_TICKET, len) == 0;
}

static int check_alpn(struct sl_tls_conn *c)
{
	const unsigned char *proto = NULL;
	unsigned int len = 0;

	/*
	 * A server selected ALPN on the ClientHello (a client that offers no
	 * ALPN never reaches the selection callback, so it is caught here);
	 * a client has the server's EncryptedExtensions before its Certificate.
	 */
	SSL_get0_alpn_selected(c->ssl, &proto, &len);
	if (!proto || !sl_tls_alpn_ok(c, proto, len)) {
		sl_tls_set_fail(c, SL_TLS_FAIL_PROTOCOL,
				"peer did not negotiate ALPN " SL_TLS_ALPN);
		return X509_V_ERR_APPLICATION_VERIFICATION;
	}
	return 0;
}

int sl_tls_verify_cb(X509_STORE_CTX *xctx, void *arg)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(
		xctx, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct sl_tls_conn *c = ssl ? SSL_get_app_data(ssl) : NULL;
	X509 *leaf = X509_STORE_CTX_get0_cert(xctx);
	int err;

	if (!c || !leaf) {
		X509_STORE_CTX_set_error(xctx, X509_V_ERR_UNSPECIFIED);
		return 0;
	}
	err = check_alpn(c);
	if (err)
		goto reject;

	/*
	 * Chain to the conn's bundle.  The store context was set up by
	 * OpenSSL with SSL_set1_verify_cert_store()'s store, our untrusted
	 * chain and the ssl_client/ssl_server purpose; add the strict flag.
	 */
	X509_STORE_CTX_set_flags(xctx, X509_V_FLAG_X509_STRICT);
	if (X509_verify_cert(xctx) != 1) {
		err = X509_STORE_CTX_get_error(xctx);
		if (err == X509_V_OK)
			err = X509_V_ERR_UNSPECIFIED;
		sl_tls_set_fail(c, classify_x509_err(err), "%s (depth %d)",
				X509_verify_cert_error_string(err),
				X509_STORE_CTX_get_error_depth(xctx));
		ERR_clear_error();
		return 0;
	}
	err = check_leaf(c, leaf);
	if (!err)
		err = check_identity(c, leaf);
	if (err)
		goto reject;
	c->verified = true;
	return 1;
reject:
	X509_STORE_CTX_set_error(xctx, err);
	return 0;
}

/*
 * A resumed session skips the verify callback: its chain was verified
 * (rules 1-5) when the session was made, under the trust bundle of the
 * time, and sessions do not outlive a bundle change (the server's cache
 * is flushed, the client's sessions belong to pool buckets that are
 * flushed).  What can have changed since is the clock, so the leaf's
 * validity period is checked again, and rules 2-5 are cheap enough to
 * repeat.
 */
int sl_tls_verify_resumed(struct sl_tls_conn *c)
{
	X509 *leaf = SSL_get0_peer_certificate(c->ssl);
	int err;

	if (!leaf) {
		sl_tls_set_fail(c, SL_TLS_FAIL_NO_CERT,
				"resumed session without a peer certificate");
		return -EACCES;
	}
	if (check_alpn(c))
		return -EACCES;
	if (X509_cmp_current_time(X509_get0_notAfter(leaf)) <= 0) { /* 0: unreadable */
		sl_tls_set_fail(c, SL_TLS_FAIL_EXPIRED,
				"resumed session: peer certificate expired");
		return -EACCES;
	}
	if (X509_cmp_current_time(X509_get0_notBefore(leaf)) >= 0) {
		sl_tls_set_fail(c, SL_TLS_FAIL_EXPIRED,
				"resumed session: peer certificate not yet valid");
		return -EACCES;
	}
	err = check_leaf(c, leaf);
	if (!err)
		err = check_identity(c, leaf);
	if (err)
		return -EACCES;
	c->verified = true;
	return 0;
}

// SPDX-License-Identifier: Apache-2.0
/*
 * SPIFFE IDs, workload identities and trust bundles.
 *
 * SPIFFE IDs are accepted only in the Kubernetes form
 * "spiffe://<td>/ns/<ns>/sa/<sa>".  The trust domain is lowercase letters,
 * digits, '.', '-' and '_' (SPIFFE ID spec, section 2.1); path segments are
 * letters, digits, '.', '-' and '_' and are neither "." nor ".." (2.2).
 * Nothing is percent-decoded, nothing is case-folded: two IDs are equal when
 * their bytes are.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "hs_internal.h"
#include "identity.h"
#include "log.h"
#include "util.h"

struct sl_identity {
	atomic_int ref;
	X509 *cert;
	EVP_PKEY *key;
	STACK_OF(X509) *chain;
	STACK_OF(X509) *send_chain; /* chain minus self-signed roots */
	time_t not_before;
	time_t not_after;
	char serial[80];
	char spiffe_id[SL_SPIFFE_ID_MAX + 1];
};

struct sl_trust {
	atomic_int ref;
	X509_STORE *store;
	char trust_domain[SL_TRUST_DOMAIN_MAX + 1];
};

#define SPIFFE_SCHEME "spiffe://"

static bool td_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
	       c == '-' || c == '_';
}

static bool seg_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

static bool valid_td(const char *s, size_t n)
{
	if (n == 0 || n > SL_TRUST_DOMAIN_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!td_char(s[i]))
			return false;
	return true;
}

static bool valid_seg(const char *s, size_t n)
{
	if (n == 0 || (n == 1 && s[0] == '.') ||
	    (n == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!seg_char(s[i]))
			return false;
	return true;
}

int sl_spiffe_id_format(char *buf, size_t len, const char *td,
			const char *ns, const char *sa)
{
	int n;

	if (!buf || !td || !ns || !sa)
		return -EINVAL;
	if (!valid_td(td, strlen(td)) || !valid_seg(ns, strlen(ns)) ||
	    !valid_seg(sa, strlen(sa)))
		return -EINVAL;
	n = snprintf(buf, len, SPIFFE_SCHEME "%s/ns/%s/sa/%s", td, ns, sa);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= len || n > SL_SPIFFE_ID_MAX)
		return -ENAMETOOLONG;
	return 0;
}

static int copy_part(char *dst, size_t cap, const char *src, size_t n)
{
	if (!dst)
		return 0;
	if (n >= cap)
		return -EINVAL;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

int sl_spiffe_id_parse(const char *id, char *td, size_t td_len, char *ns,
		       size_t ns_len, char *sa, size_t sa_len)
{
	const char *p, *slash, *ns_s, *sa_s;
	size_t total, td_n, ns_n, sa_n;

	if (!id)
		return -EINVAL;
	total = strnlen(id, SL_SPIFFE_ID_MAX + 1);
	if (total > SL_SPIFFE_ID_MAX)
		return -EINVAL;
	if (strncmp(id, SPIFFE_SCHEME, strlen(SPIFFE_SCHEME)) != 0)
		return -EINVAL;
	p = id + strlen(SPIFFE_SCHEME);
	slash = strchr(p, '/');
	if (!slash)
		return -EINVAL;
	td_n = (size_t)(slash - p);
	if (!valid_td(p, td_n))
		return -EINVAL;
	if (strncmp(slash, "/ns/", 4) != 0)
		return -EINVAL;
	ns_s = slash + 4;
	slash = strchr(ns_s, '/');
	if (!slash)
		return -EINVAL;
	ns_n = (size_t)(slash - ns_s);
	if (!valid_seg(ns_s, ns_n) || strncmp(slash, "/sa/", 4) != 0)
		return -EINVAL;
	sa_s = slash + 4;
	sa_n = strlen(sa_s);
	if (strchr(sa_s, '/') || !valid_seg(sa_s, sa_n))
		return -EINVAL;
	if (copy_part(td, td_len, p, td_n) || copy_part(ns, ns_len, ns_s, ns_n) ||
	    copy_part(sa, sa_len, sa_s, sa_n))
		return -EINVAL;
	return 0;
}

/* ---- helpers shared inside handshake/ -------------------------------- */

void sl_hs_openssl_err(const char *where)
{
	unsigned long e;
	char buf[256];

	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		sl_log_debug("%s: openssl: %s", where, buf);
	}
}

int sl_hs_cert_spiffe_id(X509 *cert, char *buf, size_t len)
{
	GENERAL_NAMES *names;
	const GENERAL_NAME *gn;
	const unsigned char *data;
	int crit = 0, n, ret = -EINVAL;

	names = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
	if (!names)
		return -EINVAL;
	if (sk_GENERAL_NAME_num(names) != 1)
		goto out;
	gn = sk_GENERAL_NAME_value(names, 0);
	if (gn->type != GEN_URI)
		goto out;
	data = ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
	n = ASN1_STRING_length(gn->d.uniformResourceIdentifier);
	if (n <= 0 || n > SL_SPIFFE_ID_MAX || memchr(data, '\0', (size_t)n))
		goto out;
	if ((size_t)n >= len) {
		ret = -ENAMETOOLONG;
		goto out;
	}
	memcpy(buf, data, (size_t)n);
	buf[n] = '\0';
	if (sl_spiffe_id_parse(buf, NULL, 0, NULL, 0, NULL, 0) == 0)
		ret = 0;
out:
	GENERAL_NAMES_free(names);
	return ret;
}

int sl_hs_asn1_time(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return -EINVAL;
	*out = timegm(&tm);
	return 0;
}

int sl_hs_serial_hex(X509 *cert, char *buf, size_t len)
{
	BIGNUM *bn;
	char *hex;
	int ret = 0;

	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	if (!bn)
		return -ENOMEM;
	hex = BN_bn2hex(bn);
	BN_free(bn);
	if (!hex)
		return -ENOMEM;
	for (char *p = hex; *p; p++)
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p - 'A' + 'a');
	if (sl_strlcpy(buf, hex, len) >= len)
		ret = -ENAMETOOLONG;
	OPENSSL_free(hex);
	return ret;
}

void sl_hs_certs_free(STACK_OF(X509) *sk)
{
	sk_X509_pop_free(sk, X509_free);
}

int sl_hs_read_certs(const char *path, STACK_OF(X509) **out)
{
	STACK_OF(X509) *sk;
	X509 *x;
	BIO *bio;
	int ret = 0;

	bio = BIO_new_file(path, "r");
	if (!bio) {
		ret = errno ? -errno : -ENOENT;
		ERR_clear_error();
		return ret;
	}
	sk = sk_X509_new_null();
	if (!sk) {
		ret = -ENOMEM;
		goto out;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			ret = -ENOMEM;
			goto out;
		}
	}
	/* the loop ends with "no start line" at EOF; anything else is bad */
	if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE ||
	    sk_X509_num(sk) == 0)
		ret = -EINVAL;
	ERR_clear_error();
out:
	BIO_free(bio);
	if (ret) {
		sl_hs_certs_free(sk);
		return ret;
	}
	*out = sk;
	return 0;
}

/* ---- identities ------------------------------------------------------- */

/* a root: issued by itself and signed with its own key */
static bool self_signed(X509 *x)
{
	EVP_PKEY *pub = X509_get0_pubkey(x);
	bool ss = X509_check_issued(x, x) == X509_V_OK && pub &&
		  X509_verify(x, pub) == 1;

	ERR_clear_error();
	return ss;
}

/*
 * What a handshake sends after the leaf: @chain without its self-signed
 * certificates.  A peer anchors a chain only in the roots of its own bundle
 * (sl_trust_new), so a root on the wire is never used, and decoding each
 * received certificate is the largest single cost of an OpenSSL 3.0
 * handshake (bench/README.md, hs-cost).  Intermediates are kept.
 */
static STACK_OF(X509) *chain_to_send(STACK_OF(X509) *chain)
{
	STACK_OF(X509) *out = sk_X509_new_null();

	for (int i = 0; out && i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);

		if (self_signed(x))
			continue;
		if (!sk_X509_push(out, x)) {
			sl_hs_certs_free(out);
			return NULL;
		}
		X509_up_ref(x);
	}
	return out;
}

int sl_identity_new(X509 *cert, EVP_PKEY *key, STACK_OF(X509) *chain,
		    struct sl_identity **out)
{
	struct sl_identity *id;
	int ret;

	if (!cert || !key || !out)
		return -EINVAL;
	id = calloc(1, sizeof(*id));
	if (!id)
		return -ENOMEM;
	atomic_init(&id->ref, 1);
	if (X509_check_private_key(cert, key) != 1) {
		ERR_clear_error();
		ret = -EINVAL;
		goto err;
	}
	ret = sl_hs_cert_spiffe_id(cert, id->spiffe_id, sizeof(id->spiffe_id));
	if (ret)
		goto err;
	ret = sl_hs_serial_hex(cert, id->serial, sizeof(id->serial));
	if (ret)
		goto err;
	if (sl_hs_asn1_time(X509_get0_notBefore(cert), &id->not_before) ||
	    sl_hs_asn1_time(X509_get0_notAfter(cert), &id->not_after)) {
		ret = -EINVAL;
		goto err;
	}
	id->chain = chain ? X509_chain_up_ref(chain) : sk_X509_new_null();
	if (id->chain)
		id->send_chain = chain_to_send(id->chain);
	if (!id->chain || !id->send_chain) {
		ret = -ENOMEM;
		goto err;
	}
	X509_up_ref(cert);
	id->cert = cert;
	EVP_PKEY_up_ref(key);
	id->key = key;
	*out = id;
	return 0;
err:
	sl_hs_certs_free(id->chain);
	sl_hs_certs_free(id->send_chain);
	free(id);
	return ret;
}

int sl_identity_load_pem(const char *cert_path, const char *key_path,
			 struct sl_identity **out)
{
	STACK_OF(X509) *certs = NULL;
	X509 *leaf;
	EVP_PKEY *key = NULL;
	BIO *bio = NULL;
	time_t now = time(NULL), na;
	int ret;

	ret = sl_hs_read_certs(cert_path, &certs);
	if (ret)
		return ret;
	bio = BIO_new_file(key_path, "r");
	if (!bio) {
		ret = errno ? -errno : -ENOENT;
		ERR_clear_error();
		goto out;
	}
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	if (!key) {
		sl_hs_openssl_err(__func__);
		ret = -EINVAL;
		goto out;
	}
	leaf = sk_X509_shift(certs);
	if (sl_hs_asn1_time(X509_get0_notAfter(leaf), &na) == 0 && na <= now) {
		X509_free(leaf);
		ret = -EKEYEXPIRED;
		goto out;
	}
	ret = sl_identity_new(leaf, key, certs, out);
	X509_free(leaf);
out:
	EVP_PKEY_free(key);
	BIO_free(bio);
	sl_hs_certs_free(certs);
	return ret;
}

struct sl_identity *sl_identity_get(struct sl_identity *id)
{
	if (id)
		atomic_fetch_add_explicit(&id->ref, 1, memory_order_relaxed);
	return id;
}

void sl_identity_put(struct sl_identity *id)
{
	if (!id)
		return;
	if (atomic_fetch_sub_explicit(&id->ref, 1, memory_order_acq_rel) != 1)
		return;
	X509_free(id->cert);
	EVP_PKEY_free(id->key);
	sl_hs_certs_free(id->chain);
	sl_hs_certs_free(id->send_chain);
	free(id);
}

const char *sl_identity_spiffe_id(const struct sl_identity *id)
{
	return id->spiffe_id;
}

X509 *sl_identity_cert(const struct sl_identity *id)
{
	return id->cert;
}

EVP_PKEY *sl_identity_key(const struct sl_identity *id)
{
	return id->key;
}

STACK_OF(X509) *sl_identity_chain(const struct sl_identity *id)
{
	return id->chain;
}

STACK_OF(X509) *sl_identity_send_chain(const struct sl_identity *id)
{
	return id->send_chain;
}

const char *sl_identity_serial(const struct sl_identity *id)
{
	return id->serial;
}

time_t sl_identity_not_before(const struct sl_identity *id)
{
	return id->not_before;
}

time_t sl_identity_not_after(const struct sl_identity *id)
{
	return id->not_after;
}

/* ---- trust bundles ---------------------------------------------------- */

int sl_trust_new(STACK_OF(X509) *roots, const char *trust_domain,
		 struct sl_trust **out)
{
	struct sl_trust *t;
	int ret;

	if (!roots || !trust_domain || !out || sk_X509_num(roots) == 0 ||
	    !valid_td(trust_domain, strlen(trust_domain)))
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	atomic_init(&t->ref, 1);
	sl_strlcpy(t->trust_domain, trust_domain, sizeof(t->trust_domain));
	t->store = X509_STORE_new();
	if (!t->store) {
		ret = -ENOMEM;
		goto err;
	}
	for (int i = 0; i < sk_X509_num(roots); i++) {
		/* X509_STORE_add_cert takes its own reference */
		if (X509_STORE_add_cert(t->store, sk_X509_value(roots, i)) != 1) {
			sl_hs_openssl_err(__func__);
			ret = -EINVAL;
			goto err;
		}
	}
	/* Only the roots in the bundle anchor a chain; strict RFC 5280 checks. */
	X509_STORE_set_flags(t->store, X509_V_FLAG_X509_STRICT);
	*out = t;
	return 0;
err:
	X509_STORE_free(t->store);
	free(t);
	return ret;
}

int sl_trust_load(const char *bundle_path, const char *trust_domain,
		  struct sl_trust **out)
{
	STACK_OF(X509) *roots = NULL;
	int ret;

	ret = sl_hs_read_certs(bundle_path, &roots);
	if (ret) {
		sl_log_err("%s: %s: %s", __func__, bundle_path, strerror(-ret));
		return ret;
	}
	ret = sl_trust_new(roots, trust_domain, out);
	sl_hs_certs_free(roots);
	return ret;
}

struct sl_trust *sl_trust_get(struct sl_trust *t)
{
	if (t)
		atomic_fetch_add_explicit(&t->ref, 1, memory_order_relaxed);
	return t;
}

void sl_trust_put(struct sl_trust *t)
{
	if (!t)
		return;
	if (atomic_fetch_sub_explicit(&t->ref, 1, memory_order_acq_rel) != 1)
		return;
	X509_STORE_free(t->store);
	free(t);
}

const char *sl_trust_domain(const struct sl_trust *t)
{
	return t->trust_domain;
}

X509_STORE *sl_trust_store(const struct sl_trust *t)
{
	return t->store;
}

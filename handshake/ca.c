// SPDX-License-Identifier: Apache-2.0
/*
 * Built-in mesh CA: an ECDSA P-256 root in a directory (ca.crt, ca.key) and
 * short-lived SPIFFE leaves signed by it.
 *
 * ca.crt may hold several roots (CA rotation: the new root first, the old
 * one appended); the signing certificate is the one that matches ca.key and
 * the whole file is the trust bundle (sl_ca_cert_path).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "ca.h"
#include "hs_internal.h"
#include "identity.h"
#include "log.h"
#include "util.h"

#define CA_CN_PREFIX "sluice mesh CA "
#define CA_BACKDATE_S 300

struct sl_ca {
	X509 *cert;
	EVP_PKEY *key;
	char trust_domain[SL_TRUST_DOMAIN_MAX + 1];
	char cert_path[PATH_MAX];
};

static EVP_PKEY *gen_p256(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	if (!k)
		sl_hs_openssl_err(__func__);
	return k;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (!ext) {
		sl_hs_openssl_err(__func__);
		return -EINVAL;
	}
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -ENOMEM;
}

/* Random positive 128-bit serial (RFC 5280 4.1.2.2: at most 20 octets). */
static int set_random_serial(X509 *cert)
{
	unsigned char raw[16];
	ASN1_INTEGER *ai = NULL;
	BIGNUM *bn;
	int ret = -ENOMEM;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -EIO;
	raw[0] &= 0x7f;
	raw[0] |= 0x40; /* keep all 16 octets significant and positive */
	bn = BN_bin2bn(raw, sizeof(raw), NULL);
	if (bn)
		ai = BN_to_ASN1_INTEGER(bn, NULL);
	if (ai && X509_set_serialNumber(cert, ai) == 1)
		ret = 0;
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	return ret;
}

static int set_validity(X509 *cert, time_t nb, time_t na)
{
	if (!ASN1_TIME_set(X509_getm_notBefore(cert), nb) ||
	    !ASN1_TIME_set(X509_getm_notAfter(cert), na))
		return -EINVAL;
	return 0;
}

static int set_san_uri(X509 *cert, const char *uri)
{
	GENERAL_NAMES *names;
	GENERAL_NAME *gn;
	ASN1_IA5STRING *ia5;
	int ret = -ENOMEM;

	names = sk_GENERAL_NAME_new_null();
	gn = GENERAL_NAME_new();
	ia5 = ASN1_IA5STRING_new();
	if (!names || !gn || !ia5 || !ASN1_STRING_set(ia5, uri, -1))
		goto out;
	GENERAL_NAME_set0_value(gn, GEN_URI, ia5);
	ia5 = NULL;
	if (!sk_GENERAL_NAME_push(names, gn))
		goto out;
	gn = NULL;
	/* critical when the subject is empty (RFC 5280 4.2.1.6) */
	if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 1,
			      X509V3_ADD_DEFAULT) == 1)
		ret = 0;
out:
	ASN1_IA5STRING_free(ia5);
	GENERAL_NAME_free(gn);
	GENERAL_NAMES_free(names);
	return ret;
}

static int write_pem_key(const char *path, EVP_PKEY *key)
{
	BIO *mem;
	char *data;
	long n;
	int ret = -ENOMEM;

	mem = BIO_new(BIO_s_secmem());
	if (!mem)
		return -ENOMEM;
	if (PEM_write_bio_PrivateKey(mem, key, NULL, NULL, 0, NULL, NULL) == 1) {
		n = BIO_get_mem_data(mem, &data);
		ret = sl_write_file_atomic(path, data, (size_t)n, 0600);
		if (ret == 0 && chmod(path, 0600) < 0)
			ret = -errno;
	}
	BIO_free(mem); /* secure heap: wiped on free */
	return ret;
}

static int write_pem_cert(const char *path, X509 *cert)
{
	BIO *mem;
	char *data;
	long n;
	int ret = -ENOMEM;

	mem = BIO_new(BIO_s_mem());
	if (!mem)
		return -ENOMEM;
	if (PEM_write_bio_X509(mem, cert) == 1) {
		n = BIO_get_mem_data(mem, &data);
		ret = sl_write_file_atomic(path, data, (size_t)n, 0644);
	}
	BIO_free(mem);
	return ret;
}

static int dir_path(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

int sl_ca_init_dir(const char *dir, const char *trust_domain,
		   unsigned int lifetime_days, int force)
{
	char crt_path[PATH_MAX], key_path[PATH_MAX], cn[300];
	X509_NAME *name = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	time_t now = time(NULL);
	int ret;

	if (!dir || !trust_domain || lifetime_days == 0 ||
	    strlen(trust_domain) > SL_TRUST_DOMAIN_MAX)
		return -EINVAL;
	/* the same rules as in a SPIFFE ID */
	if (sl_spiffe_id_format(cn, sizeof(cn), trust_domain, "x", "x"))
		return -EINVAL;
	if (dir_path(crt_path, sizeof(crt_path), dir, "ca.crt") ||
	    dir_path(key_path, sizeof(key_path), dir, "ca.key"))
		return -ENAMETOOLONG;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (!force && (access(crt_path, F_OK) == 0 || access(key_path, F_OK) == 0))
		return -EEXIST;

	ret = -ENOMEM;
	key = gen_p256();
	cert = X509_new();
	name = X509_NAME_new();
	if (!key || !cert || !name)
		goto out;
	snprintf(cn, sizeof(cn), CA_CN_PREFIX "%s", trust_domain);
	if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
					(const unsigned char *)"sluice", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
					(const unsigned char *)cn, -1, -1, 0))
		goto out;
	if (!X509_set_version(cert, X509_VERSION_3) ||
	    !X509_set_subject_name(cert, name) ||
	    !X509_set_issuer_name(cert, name) || !X509_set_pubkey(cert, key))
		goto out;
	ret = set_random_serial(cert);
	if (!ret)
		ret = set_validity(cert, now - CA_BACKDATE_S,
				   now + (time_t)lifetime_days * 86400);
	if (!ret)
		ret = add_ext(cert, cert, NID_basic_constraints, "critical,CA:TRUE");
	if (!ret)
		ret = add_ext(cert, cert, NID_key_usage,
			      "critical,keyCertSign,cRLSign");
	if (!ret)
		ret = add_ext(cert, cert, NID_subject_key_identifier, "hash");
	if (!ret)
		ret = add_ext(cert, cert, NID_authority_key_identifier,
			      "keyid:always");
	if (ret)
		goto out;
	if (X509_sign(cert, key, EVP_sha256()) <= 0) {
		sl_hs_openssl_err(__func__);
		ret = -EINVAL;
		goto out;
	}
	/* key first: a ca.crt never exists without its key */
	ret = write_pem_key(key_path, key);
	if (!ret)
		ret = write_pem_cert(crt_path, cert);
	if (ret)
		sl_log_err("%s: %s: %s", __func__, dir, strerror(-ret));
out:
	X509_NAME_free(name);
	X509_free(cert);
	EVP_PKEY_free(key);
	return ret;
}

static void ca_trust_domain(struct sl_ca *ca)
{
	X509_NAME *subj = X509_get_subject_name(ca->cert);
	int idx = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
	const unsigned char *data;
	ASN1_STRING *s;
	size_t plen = strlen(CA_CN_PREFIX);
	int n;

	if (idx < 0)
		return;
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx));
	data = ASN1_STRING_get0_data(s);
	n = ASN1_STRING_length(s);
	if (n <= (int)plen || (size_t)n - plen > SL_TRUST_DOMAIN_MAX ||
	    memcmp(data, CA_CN_PREFIX, plen) != 0)
		return;
	memcpy(ca->trust_domain, data + plen, (size_t)n - plen);
	ca->trust_domain[(size_t)n - plen] = '\0';
}

int sl_ca_load_dir(const char *dir, struct sl_ca **out)
{
	char key_path[PATH_MAX];
	STACK_OF(X509) *certs = NULL;
	struct sl_ca *ca;
	BIO *bio = NULL;
	int ret;

	if (!dir || !out)
		return -EINVAL;
	ca = calloc(1, sizeof(*ca));
	if (!ca)
		return -ENOMEM;
	if (dir_path(ca->cert_path, sizeof(ca->cert_path), dir, "ca.crt") ||
	    dir_path(key_path, sizeof(key_path), dir, "ca.key")) {
		ret = -ENAMETOOLONG;
		goto err;
	}
	ret = sl_hs_read_certs(ca->cert_path, &certs);
	if (ret)
		goto err;
	bio = BIO_new_file(key_path, "r");
	if (!bio) {
		ret = errno ? -errno : -ENOENT;
		ERR_clear_error();
		goto err;
	}
	ca->key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	if (!ca->key) {
		sl_hs_openssl_err(__func__);
		ret = -EINVAL;
		goto err;
	}
	for (int i = 0; i < sk_X509_num(certs); i++) {
		X509 *c = sk_X509_value(certs, i);

		if (X509_check_private_key(c, ca->key) == 1 &&
		    X509_check_ca(c) > 0) {
			X509_up_ref(c);
			ca->cert = c;
			break;
		}
	}
	ERR_clear_error();
	if (!ca->cert) {
		sl_log_err("%s: %s: no CA certificate matches ca.key", __func__,
			   dir);
		ret = -EINVAL;
		goto err;
	}
	ca_trust_domain(ca);
	BIO_free(bio);
	sl_hs_certs_free(certs);
	*out = ca;
	return 0;
err:
	BIO_free(bio);
	sl_hs_certs_free(certs);
	sl_ca_free(ca);
	return ret;
}

void sl_ca_free(struct sl_ca *ca)
{
	if (!ca)
		return;
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	free(ca);
}

int sl_ca_issue_window(struct sl_ca *ca, const char *spiffe_id,
		       time_t not_before, time_t not_after,
		       struct sl_identity **out)
{
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	X509_NAME *empty = NULL;
	int ret;

	if (!ca || !spiffe_id || !out || not_after <= not_before ||
	    sl_spiffe_id_parse(spiffe_id, NULL, 0, NULL, 0, NULL, 0))
		return -EINVAL;
	ret = -ENOMEM;
	key = gen_p256();
	cert = X509_new();
	empty = X509_NAME_new();
	chain = sk_X509_new_null();
	if (!key || !cert || !empty || !chain)
		goto out;
	/* SPIFFE X.509-SVID: the identity lives in the URI SAN only */
	if (!X509_set_version(cert, X509_VERSION_3) ||
	    !X509_set_subject_name(cert, empty) ||
	    !X509_set_issuer_name(cert, X509_get_subject_name(ca->cert)) ||
	    !X509_set_pubkey(cert, key))
		goto out;
	ret = set_random_serial(cert);
	if (!ret)
		ret = set_validity(cert, not_before, not_after);
	if (!ret)
		ret = add_ext(cert, ca->cert, NID_basic_constraints,
			      "critical,CA:FALSE");
	if (!ret)
		ret = add_ext(cert, ca->cert, NID_key_usage,
			      "critical,digitalSignature");
	if (!ret)
		ret = add_ext(cert, ca->cert, NID_ext_key_usage,
			      "serverAuth,clientAuth");
	if (!ret)
		ret = add_ext(cert, ca->cert, NID_subject_key_identifier, "hash");
	if (!ret)
		ret = add_ext(cert, ca->cert, NID_authority_key_identifier,
			      "keyid:always");
	if (!ret)
		ret = set_san_uri(cert, spiffe_id);
	if (ret)
		goto out;
	if (X509_sign(cert, ca->key, EVP_sha256()) <= 0) {
		sl_hs_openssl_err(__func__);
		ret = -EINVAL;
		goto out;
	}
	if (!sk_X509_push(chain, ca->cert)) {
		ret = -ENOMEM;
		goto out;
	}
	X509_up_ref(ca->cert);
	ret = sl_identity_new(cert, key, chain, out);
out:
	sl_hs_certs_free(chain);
	X509_NAME_free(empty);
	X509_free(cert);
	EVP_PKEY_free(key);
	return ret;
}

int sl_ca_issue(struct sl_ca *ca, const char *spiffe_id, uint64_t lifetime_s,
		struct sl_identity **out)
{
	time_t now = time(NULL);

	if (lifetime_s == 0 || lifetime_s > 100ULL * 365 * 86400)
		return -EINVAL;
	return sl_ca_issue_window(ca, spiffe_id, now - CA_BACKDATE_S,
				  now + (time_t)lifetime_s, out);
}

const char *sl_ca_cert_path(const struct sl_ca *ca)
{
	return ca->cert_path;
}

X509 *sl_ca_cert(const struct sl_ca *ca)
{
	return ca->cert;
}

const char *sl_ca_trust_domain(const struct sl_ca *ca)
{
	return ca->trust_domain;
}

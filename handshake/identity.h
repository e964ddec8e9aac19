/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Workload identities (a SPIFFE leaf certificate, its key and chain) and
 * trust bundles.  Both are reference counted and immutable once built, so a
 * rotation swaps a pointer while established sessions keep theirs.
 */
#ifndef SL_IDENTITY_H
#define SL_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct sl_identity;
struct sl_trust;

/**
 * sl_spiffe_id_format - build "spiffe://<td>/ns/<ns>/sa/<sa>" into @buf
 * @retval 0, -ENAMETOOLONG, or -EINVAL for a component that is empty or has
 *         characters SPIFFE does not allow
 */
int sl_spiffe_id_format(char *buf, size_t len, const char *td,
			const char *ns, const char *sa);

/**
 * sl_spiffe_id_parse - split a SPIFFE ID of the form above
 * @retval 0 and the components copied; -EINVAL when not of that form
 */
int sl_spiffe_id_parse(const char *id, char *td, size_t td_len, char *ns,
		       size_t ns_len, char *sa, size_t sa_len);

/**
 * sl_identity_new - build an identity from a certificate and key
 * @cert, @key: the leaf and its private key (references are taken)
 * @chain: intermediates, may be NULL (copied)
 * @out: new identity with one reference; release with sl_identity_put()
 * @retval 0; -EINVAL when the key does not match the certificate or the
 *         certificate does not carry exactly one SPIFFE URI SAN
 */
int sl_identity_new(X509 *cert, EVP_PKEY *key, STACK_OF(X509) *chain,
		    struct sl_identity **out);

/**
 * sl_identity_load_pem - load cert (+chain) and key from PEM files
 * @retval 0 or -errno (-EINVAL for a mismatched or malformed pair,
 *         -EKEYEXPIRED for an expired certificate)
 */
int sl_identity_load_pem(const char *cert_path, const char *key_path,
			 struct sl_identity **out);

struct sl_identity *sl_identity_get(struct sl_identity *id);
void sl_identity_put(struct sl_identity *id);

const char *sl_identity_spiffe_id(const struct sl_identity *id);
X509 *sl_identity_cert(const struct sl_identity *id);
EVP_PKEY *sl_identity_key(const struct sl_identity *id);
/** the chain as given (files written by `sluice ca issue` carry it) */
STACK_OF(X509) *sl_identity_chain(const struct sl_identity *id);
/** the chain a handshake sends: without self-signed roots, which a peer
 * never uses (it anchors only the roots of its own bundle) */
STACK_OF(X509) *sl_identity_send_chain(const struct sl_identity *id);
/** serial number as lowercase hex */
const char *sl_identity_serial(const struct sl_identity *id);
time_t sl_identity_not_before(const struct sl_identity *id);
time_t sl_identity_not_after(const struct sl_identity *id);

/**
 * sl_trust_load - load a trust bundle (one or more PEM roots)
 * @trust_domain: SPIFFE trust domain peers must belong to
 * @retval 0 or -errno; release with sl_trust_put()
 */
int sl_trust_load(const char *bundle_path, const char *trust_domain,
		  struct sl_trust **out);

/**
 * sl_trust_new - a trust bundle from certificates in memory
 * @roots: CA certificates (copied, with references taken)
 */
int sl_trust_new(STACK_OF(X509) *roots, const char *trust_domain,
		 struct sl_trust **out);

struct sl_trust *sl_trust_get(struct sl_trust *t);
void sl_trust_put(struct sl_trust *t);
const char *sl_trust_domain(const struct sl_trust *t);
/** the X509_STORE with the roots; owned by @t */
X509_STORE *sl_trust_store(const struct sl_trust *t);

#endif /* SL_IDENTITY_H */

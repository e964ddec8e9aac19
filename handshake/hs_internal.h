/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private helpers shared by the files of handshake/ (not a contract).
 */
#ifndef SL_HS_INTERNAL_H
#define SL_HS_INTERNAL_H

#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

/* Longest SPIFFE ID we accept (the SPIFFE spec allows 2048 bytes). */
#define SL_SPIFFE_ID_MAX 2048
#define SL_TRUST_DOMAIN_MAX 255

/**
 * sl_hs_cert_spiffe_id - the one SPIFFE ID of @cert
 * The subjectAltName must hold exactly one entry and it must be a URI that
 * sl_spiffe_id_parse() accepts; DNS, IP, e-mail or a second URI are refused.
 * @retval 0 and @buf filled; -EINVAL otherwise; -ENAMETOOLONG
 */
int sl_hs_cert_spiffe_id(X509 *cert, char *buf, size_t len);

/** sl_hs_asn1_time - ASN1_TIME to time_t; @retval 0 or -EINVAL */
int sl_hs_asn1_time(const ASN1_TIME *t, time_t *out);

/** sl_hs_serial_hex - serial as lowercase hex into @buf; @retval 0 or -errno */
int sl_hs_serial_hex(X509 *cert, char *buf, size_t len);

/**
 * sl_hs_read_certs - read every certificate of a PEM file
 * @retval 0 and a new stack (at least one cert) or -errno; free with
 *         sl_hs_certs_free()
 */
int sl_hs_read_certs(const char *path, STACK_OF(X509) **out);
void sl_hs_certs_free(STACK_OF(X509) *sk);

/**
 * sl_hs_leaf_bc_problem - whether @leaf fails the basicConstraints rule of
 * peer verification (verify.c): it must carry basicConstraints, CA:FALSE
 * @retval NULL when it passes, else a sentence naming what is wrong
 */
const char *sl_hs_leaf_bc_problem(X509 *leaf);

/** sl_hs_openssl_err - log and clear OpenSSL's error queue at debug level */
void sl_hs_openssl_err(const char *where);

#endif /* SL_HS_INTERNAL_H */

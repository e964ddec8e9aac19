/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Built-in mesh CA: ECDSA P-256 root, short-lived SPIFFE leaf certificates.
 */
#ifndef SL_CA_H
#define SL_CA_H

#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

struct sl_ca;
struct sl_identity;

/**
 * sl_ca_init_dir - create a new CA in @dir (ca.crt, mode 0644; ca.key, 0600)
 * @trust_domain: recorded in the CA's subject
 * @lifetime_days: validity of the root (e.g. 3650)
 * @force: replace an existing CA; otherwise -EEXIST
 * @retval 0 or -errno
 */
int sl_ca_init_dir(const char *dir, const char *trust_domain,
		   unsigned int lifetime_days, int force);

/**
 * sl_ca_load_dir - load the CA from @dir
 * @out: release with sl_ca_free()
 * @retval 0 or -errno
 */
int sl_ca_load_dir(const char *dir, struct sl_ca **out);

void sl_ca_free(struct sl_ca *ca);

/**
 * sl_ca_issue - mint a leaf for @spiffe_id: new P-256 key, exactly one URI
 * SAN, EKU serverAuth+clientAuth, keyUsage digitalSignature (critical),
 * basicConstraints CA:FALSE, AKI/SKI, valid from now-5min for @lifetime_s
 * @out: new identity with one reference (chain holds the CA cert)
 * @retval 0 or -errno
 */
int sl_ca_issue(struct sl_ca *ca, const char *spiffe_id, uint64_t lifetime_s,
		struct sl_identity **out);

/** sl_ca_cert_path - path of the CA certificate file (bundle) */
const char *sl_ca_cert_path(const struct sl_ca *ca);

/**
 * sl_ca_issue_window - like sl_ca_issue() with an explicit validity window
 * (tests: expired or not-yet-valid certificates; the CLI).
 * @retval 0 or -errno (-EINVAL when @not_after <= @not_before)
 */
int sl_ca_issue_window(struct sl_ca *ca, const char *spiffe_id,
		       time_t not_before, time_t not_after,
		       struct sl_identity **out);

/** sl_ca_cert - the signing CA certificate; owned by @ca */
X509 *sl_ca_cert(const struct sl_ca *ca);

/**
 * sl_ca_trust_domain - trust domain recorded in the CA subject
 * ("sluice mesh CA <td>"), or "" when the subject is not of that form
 */
const char *sl_ca_trust_domain(const struct sl_ca *ca);

#endif /* SL_CA_H */

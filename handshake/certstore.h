/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificate store: the current identity of each local workload (SPIFFE ID)
 * and the trust bundle.
 *
 * Two modes:
 *  - built-in CA (ca_dir with ca.crt/ca.key): identities are minted on first
 *    use and renewed when half their lifetime (plus jitter) has passed;
 *  - external certificates: <cert_dir>/<ns>/<sa>/{cert.pem,key.pem,ca.pem}
 *    written by another issuer; rechecked at half-life and on reload.  A new
 *    pair that is expired, does not match its key, names another SPIFFE ID
 *    or does not chain to the bundle is rejected and the old one is kept.
 *
 * Thread safety: every function may be called from several threads.
 */
#ifndef SL_CERTSTORE_H
#define SL_CERTSTORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct sl_certstore;
struct sl_identity;
struct sl_trust;

/** Default lifetime of identities minted by the built-in CA. */
#define SL_CERTSTORE_DEFAULT_LIFETIME_S (24 * 3600)

struct sl_certstore_opts {
	const char *trust_domain; /* required */
	const char *ca_dir;	  /* built-in CA mode, or NULL */
	const char *cert_dir;	  /* external mode, or NULL (exactly one) */
	const char *trust_bundle; /* extra roots (PEM), may be NULL */
	uint64_t lifetime_s;	  /* CA mode; 0 = default */
};

/**
 * sl_certstore_new - open a certificate store
 * @opts: mode and paths (copied)
 * @out: release with sl_certstore_free()
 * @retval 0 or -errno (-EINVAL for bad options, errors loading the CA or
 *         the bundle)
 */
int sl_certstore_new(const struct sl_certstore_opts *opts,
		     struct sl_certstore **out);

/** sl_certstore_free - free the store; identities handed out stay valid */
void sl_certstore_free(struct sl_certstore *s);

/**
 * sl_certstore_get - the current identity for @spiffe_id
 * Mints (CA mode) or loads (external mode) it on first use, renews it at
 * half-life.  When a renewal fails the old identity is returned while it is
 * still valid.
 * @out: a new reference; caller releases it with sl_identity_put()
 * @retval 0; -EINVAL for an ID that is malformed or of another trust domain;
 *         -ENOENT when external mode has no files for it; -EKEYEXPIRED;
 *         other -errno
 */
int sl_certstore_get(struct sl_certstore *s, const char *spiffe_id,
		     struct sl_identity **out);

/**
 * sl_certstore_trust - the current trust bundle
 * @retval a new reference (release with sl_trust_put()), never NULL
 */
struct sl_trust *sl_certstore_trust(struct sl_certstore *s);

/**
 * sl_certstore_reload - re-read the bundle (CA mode: ca.crt and the extra
 * bundle; external mode: every ca.pem and the extra bundle); in CA mode also
 * the CA (ca.key may have been rotated: ca.crt then carries the new root and
 * the old one), in external mode every loaded identity.  Failures keep the
 * old state.  Callers then pass sl_certstore_trust() to
 * sl_tls_ctx_set_trust().
 * @retval 0 or the first -errno met
 */
int sl_certstore_reload(struct sl_certstore *s);

/** One row of sl_certstore_list() (for `sluice certs`). */
struct sl_certstore_entry {
	char spiffe_id[2049];
	char serial[80];
	char issuer[256]; /* issuer DN, one line */
	time_t not_before;
	time_t not_after;
	time_t renew_at;
};

/**
 * sl_certstore_list - snapshot of the identities held
 * @out: array of @n entries, sorted by SPIFFE ID; caller frees it with
 *       free(3) (NULL when @n is 0)
 * @retval 0 or -ENOMEM
 */
int sl_certstore_list(struct sl_certstore *s, struct sl_certstore_entry **out,
		      size_t *n);

#endif /* SL_CERTSTORE_H */

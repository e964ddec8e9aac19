// SPDX-License-Identifier: Apache-2.0
/*
 * Certificate store (see certstore.h).
 *
 * One mutex guards the table and the trust pointer.  Minting a P-256 leaf
 * takes about a millisecond, so it is done under the lock: concurrent
 * callers for the same ID then get the same fresh identity instead of
 * minting several.  Renewal is checked on sl_certstore_get(); no thread.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>
#include <openssl/x509.h>

#include "ca.h"
#include "certstore.h"
#include "hs_internal.h"
#include "identity.h"
#include "log.h"
#include "util.h"

/* Retry a failed renewal or a missing external pair after this long. */
#define RETRY_S 30

struct cs_entry {
	struct cs_entry *next;
	struct sl_identity *id;
	time_t renew_at;
	char spiffe_id[];
};

struct sl_certstore {
	pthread_mutex_t lock;
	struct sl_ca *ca; /* CA mode */
	char *ca_dir;
	char *cert_dir; /* external mode */
	char *trust_bundle;
	char trust_domain[SL_TRUST_DOMAIN_MAX + 1];
	uint64_t lifetime_s;
	struct sl_trust *trust;
	struct cs_entry *entries;
};

/*
 * Half-life plus 0-10% of the lifetime, so a fleet does not renew at once.
 * The lifetime counts from when the pair was obtained (@now) or its
 * notBefore, whichever is later: the built-in CA backdates notBefore by
 * five minutes for clock skew, and counting from there would renew short
 * lifetimes on every get.
 */
static time_t renew_time(const struct sl_identity *id, time_t now)
{
	time_t nb = sl_identity_not_before(id), na = sl_identity_not_after(id);
	time_t life;

	if (nb < now)
		nb = now;
	life = na > nb ? na - nb : 0;
	uint32_t r = 0;

	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = 0;
	return nb + life / 2 + (time_t)((double)life * 0.1 * (r / 4294967296.0));
}

static int add_file_certs(STACK_OF(X509) *roots, const char *path)
{
	STACK_OF(X509) *certs;
	int ret;

	ret = sl_hs_read_certs(path, &certs);
	if (ret)
		return ret;
	while (sk_X509_num(certs) > 0) {
		X509 *x = sk_X509_shift(certs);

		if (!sk_X509_push(roots, x)) {
			X509_free(x);
			ret = -ENOMEM;
			break;
		}
	}
	sl_hs_certs_free(certs);
	return ret;
}

/* external mode: every <cert_dir>/<ns>/<sa>/ca.pem */
static int add_dir_roots(STACK_OF(X509) *roots, const char *cert_dir)
{
	char path[PATH_MAX];
	struct dirent *ns, *sa;
	DIR *d, *d2;
	int ret = 0;

	d = opendir(cert_dir);
	if (!d)
		return -errno;
	while ((ns = readdir(d)) != NULL) {
		if (ns->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", cert_dir,
			     ns->d_name) >= (int)sizeof(path))
			continue;
		d2 = opendir(path);
		if (!d2)
			continue;
		while ((sa = readdir(d2)) != NULL) {
			int r;

			if (sa->d_name[0] == '.')
				continue;
			if (snprintf(path, sizeof(path), "%s/%s/%s/ca.pem",
				     cert_dir, ns->d_name,
				     sa->d_name) >= (int)sizeof(path))
				continue;
			r = add_file_certs(roots, path);
			if (r && r != -ENOENT) {
				sl_log_warn("%s: %s: %s", __func__, path,
					    strerror(-r));
				if (!ret)
					ret = r;
			}
		}
		closedir(d2);
	}
	closedir(d);
	return ret;
}

static int build_trust(struct sl_certstore *s, struct sl_trust **out)
{
	STACK_OF(X509) *roots = sk_X509_new_null();
	int ret = 0;

	if (!roots)
		return -ENOMEM;
	if (s->ca)
		ret = add_file_certs(roots, sl_ca_cert_path(s->ca));
	else
		ret = add_dir_roots(roots, s->cert_dir);
	if (!ret && s->trust_bundle)
		ret = add_file_certs(roots, s->trust_bundle);
	if (!ret && sk_X509_num(roots) == 0)
		ret = -ENOENT;
	if (!ret)
		ret = sl_trust_new(roots, s->trust_domain, out);
	sl_hs_certs_free(roots);
	return ret;
}

int sl_certstore_new(const struct sl_certstore_opts *o,
		     struct sl_certstore **out)
{
	struct sl_certstore *s;
	int ret;

	if (!o || !out || !o->trust_domain || !o->ca_dir == !o->cert_dir ||
	    strlen(o->trust_domain) > SL_TRUST_DOMAIN_MAX)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (pthread_mutex_init(&s->lock, NULL)) {
		free(s);
		return -ENOMEM;
	}
	ret = -ENOMEM;
	sl_strlcpy(s->trust_domain, o->trust_domain, sizeof(s->trust_domain));
	s->lifetime_s = o->lifetime_s ? o->lifetime_s
				      : SL_CERTSTORE_DEFAULT_LIFETIME_S;
	if ((o->ca_dir && !(s->ca_dir = strdup(o->ca_dir))) ||
	    (o->cert_dir && !(s->cert_dir = strdup(o->cert_dir))) ||
	    (o->trust_bundle && !(s->trust_bundle = strdup(o->trust_bundle))))
		goto err;
	if (s->ca_dir) {
		ret = sl_ca_load_dir(s->ca_dir, &s->ca);
		if (ret) {
			sl_log_err("%s: CA %s: %s", __func__, s->ca_dir,
				   strerror(-ret));
			goto err;
		}
	}
	ret = build_trust(s, &s->trust);
	if (ret) {
		sl_log_err("%s: trust bundle: %s", __func__, strerror(-ret));
		goto err;
	}
	*out = s;
	return 0;
err:
	sl_certstore_free(s);
	return ret;
}

void sl_certstore_free(struct sl_certstore *s)
{
	struct cs_entry *e, *next;

	if (!s)
		return;
	for (e = s->entries; e; e = next) {
		next = e->next;
		sl_identity_put(e->id);
		free(e);
	}
	sl_trust_put(s->trust);
	sl_ca_free(s->ca);
	free(s->ca_dir);
	free(s->cert_dir);
	free(s->trust_bundle);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* external mode: load and check <cert_dir>/<ns>/<sa>/ (lock held) */
static int load_external(struct sl_certstore *s, const char *spiffe_id,
			 const char *ns, const char *sa,
			 struct sl_identity **out)
{
	char cert[PATH_MAX], key[PATH_MAX];
	struct sl_identity *id = NULL;
	X509_STORE_CTX *xctx = NULL;
	const char *bc;
	int ret;

	if (snprintf(cert, sizeof(cert), "%s/%s/%s/cert.pem", s->cert_dir, ns,
		     sa) >= (int)sizeof(cert) ||
	    snprintf(key, sizeof(key), "%s/%s/%s/key.pem", s->cert_dir, ns,
		     sa) >= (int)sizeof(key))
		return -ENAMETOOLONG;
	ret = sl_identity_load_pem(cert, key, &id);
	if (ret)
		return ret;
	if (strcmp(sl_identity_spiffe_id(id), spiffe_id) != 0) {
		sl_log_warn("%s: %s names %s, not %s", __func__, cert,
			    sl_identity_spiffe_id(id), spiffe_id);
		ret = -EINVAL;
		goto out;
	}
	/* peers refuse a leaf that is not explicitly CA:FALSE (verify.c):
	 * say so here, not in every peer's handshake log */
	bc = sl_hs_leaf_bc_problem(sl_identity_cert(id));
	if (bc) {
		sl_log_warn("%s: %s: %s", __func__, cert, bc);
		ret = -EINVAL;
		goto out;
	}
	/* it must chain to the bundle peers will check it against */
	xctx = X509_STORE_CTX_new();
	if (!xctx ||
	    X509_STORE_CTX_init(xctx, sl_trust_store(s->trust),
				sl_identity_cert(id), sl_identity_chain(id)) != 1) {
		ret = -ENOMEM;
		goto out;
	}
	if (X509_verify_cert(xctx) != 1) {
		int err = X509_STORE_CTX_get_error(xctx);

		sl_log_warn("%s: %s: %s", __func__, cert,
			    X509_verify_cert_error_string(err));
		ret = (err == X509_V_ERR_CERT_HAS_EXPIRED) ? -EKEYEXPIRED
							    : -EINVAL;
	}
out:
	X509_STORE_CTX_free(xctx);
	if (ret)
		sl_identity_put(id);
	else
		*out = id;
	return ret;
}

/* Mint or load a fresh identity for @spiffe_id (lock held). */
static int fetch(struct sl_certstore *s, const char *spiffe_id,
		 const char *ns, const char *sa, struct sl_identity **out)
{
	if (s->ca)
		return sl_ca_issue(s->ca, spiffe_id, s->lifetime_s, out);
	return load_external(s, spiffe_id, ns, sa, out);
}

static struct cs_entry *find(struct sl_certstore *s, const char *spiffe_id)
{
	for (struct cs_entry *e = s->entries; e; e = e->next)
		if (strcmp(e->spiffe_id, spiffe_id) == 0)
			return e;
	return NULL;
}

/* Renew @e if due; keeps the old identity on failure (lock held). */
static void maybe_renew(struct sl_certstore *s, struct cs_entry *e,
			const char *ns, const char *sa, time_t now)
{
	struct sl_identity *id = NULL;
	int ret;

	if (now < e->renew_at)
		return;
	ret = fetch(s, e->spiffe_id, ns, sa, &id);
	if (ret) {
		sl_log_warn("%s: %s: renewal failed: %s; keeping serial %s",
			    __func__, e->spiffe_id, strerror(-ret),
			    sl_identity_serial(e->id));
		e->renew_at = now + RETRY_S;
		return;
	}
	if (strcmp(sl_identity_serial(id), sl_identity_serial(e->id)) == 0 ||
	    sl_identity_not_after(id) < sl_identity_not_after(e->id)) {
		/* external mode: the same (or an older) pair, look again later */
		sl_identity_put(id);
		e->renew_at = now + RETRY_S;
		return;
	}
	sl_log_info("%s: %s: new certificate serial %s", __func__,
		    e->spiffe_id, sl_identity_serial(id));
	sl_identity_put(e->id);
	e->id = id;
	e->renew_at = renew_time(id, now);
}

int sl_certstore_get(struct sl_certstore *s, const char *spiffe_id,
		     struct sl_identity **out)
{
	char td[SL_TRUST_DOMAIN_MAX + 1], ns[256], sa[256];
	struct sl_identity *id = NULL;
	struct cs_entry *e;
	time_t now = time(NULL);
	size_t len;
	int ret;

	if (!s || !spiffe_id || !out ||
	    sl_spiffe_id_parse(spiffe_id, td, sizeof(td), ns, sizeof(ns), sa,
			       sizeof(sa)) ||
	    strcmp(td, s->trust_domain) != 0)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	e = find(s, spiffe_id);
	if (e) {
		maybe_renew(s, e, ns, sa, now);
		if (sl_identity_not_after(e->id) <= now) {
			ret = -EKEYEXPIRED;
			goto out;
		}
		*out = sl_identity_get(e->id);
		ret = 0;
		goto out;
	}
	ret = fetch(s, spiffe_id, ns, sa, &id);
	if (ret)
		goto out;
	len = strlen(spiffe_id) + 1;
	e = calloc(1, sizeof(*e) + len);
	if (!e) {
		sl_identity_put(id);
		ret = -ENOMEM;
		goto out;
	}
	memcpy(e->spiffe_id, spiffe_id, len);
	e->id = id;
	e->renew_at = renew_time(id, now);
	e->next = s->entries;
	s->entries = e;
	*out = sl_identity_get(id);
out:
	pthread_mutex_unlock(&s->lock);
	return ret;
}

struct sl_trust *sl_certstore_trust(struct sl_certstore *s)
{
	struct sl_trust *t;

	pthread_mutex_lock(&s->lock);
	t = sl_trust_get(s->trust);
	pthread_mutex_unlock(&s->lock);
	return t;
}

int sl_certstore_reload(struct sl_certstore *s)
{
	struct sl_trust *t = NULL;
	char ns[256], sa[256];
	time_t now = time(NULL);
	int ret = 0, r2;

	pthread_mutex_lock(&s->lock);
	if (s->ca_dir) {
		/* CA rotation: a new ca.key signs from now on (old leaves stay
		 * valid as long as ca.crt still carries the old root) */
		struct sl_ca *ca = NULL;
		int r = sl_ca_load_dir(s->ca_dir, &ca);

		if (r) {
			sl_log_err("%s: keeping the old CA: %s", __func__,
				   strerror(-r));
			ret = r;
		} else {
			bool changed = !s->ca ||
				X509_cmp(sl_ca_cert(s->ca), sl_ca_cert(ca)) != 0;

			sl_ca_free(s->ca);
			s->ca = ca;
			/* a new signing CA: every leaf is re-issued by it on
			 * its next get (established sessions keep theirs) */
			for (struct cs_entry *e = s->entries; changed && e;
			     e = e->next)
				e->renew_at = 0;
		}
	}
	r2 = build_trust(s, &t);
	if (!ret)
		ret = r2;
	if (r2) {
		sl_log_err("%s: keeping the old trust bundle: %s", __func__,
			   strerror(-r2));
	} else {
		sl_trust_put(s->trust);
		s->trust = t;
	}
	if (s->cert_dir) {
		for (struct cs_entry *e = s->entries; e; e = e->next) {
			if (sl_spiffe_id_parse(e->spiffe_id, NULL, 0, ns,
					       sizeof(ns), sa, sizeof(sa)))
				continue;
			e->renew_at = 0; /* look at the files now */
			maybe_renew(s, e, ns, sa, now);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct sl_certstore_entry *x = a, *y = b;

	return strcmp(x->spiffe_id, y->spiffe_id);
}

int sl_certstore_list(struct sl_certstore *s, struct sl_certstore_entry **out,
		      size_t *n)
{
	struct sl_certstore_entry *arr = NULL;
	size_t count = 0, i = 0;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&s->lock);
	for (struct cs_entry *e = s->entries; e; e = e->next)
		count++;
	if (count) {
		arr = calloc(count, sizeof(*arr));
		if (!arr) {
			pthread_mutex_unlock(&s->lock);
			return -ENOMEM;
		}
	}
	for (struct cs_entry *e = s->entries; e; e = e->next, i++) {
		struct sl_certstore_entry *r = &arr[i];

		sl_strlcpy(r->spiffe_id, e->spiffe_id, sizeof(r->spiffe_id));
		sl_strlcpy(r->serial, sl_identity_serial(e->id),
			   sizeof(r->serial));
		X509_NAME_oneline(X509_get_issuer_name(sl_identity_cert(e->id)),
				  r->issuer, sizeof(r->issuer));
		r->not_before = sl_identity_not_before(e->id);
		r->not_after = sl_identity_not_after(e->id);
		r->renew_at = e->renew_at;
	}
	pthread_mutex_unlock(&s->lock);
	if (count)
		sl_sort(arr, count, sizeof(*arr), entry_cmp);
	*out = arr;
	*n = count;
	return 0;
}

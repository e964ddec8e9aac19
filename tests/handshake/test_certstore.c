// SPDX-License-Identifier: Apache-2.0
/* Unit tests of the certificate store: CA mode and external certificates. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "certstore.h"
#include "hs_test.h"

#define ID_WEB "spiffe://" T_TD "/ns/shop/sa/web"
#define ID_DB "spiffe://" T_TD "/ns/shop/sa/db"

static void test_ca_mode(void **state)
{
	char *dir = t_tmpdir();
	struct sl_certstore_opts o = { .trust_domain = T_TD, .lifetime_s = 3600 };
	struct sl_certstore *s = NULL;
	struct sl_identity *a = NULL, *b = NULL;
	struct sl_certstore_entry *list = NULL;
	struct sl_trust *t;
	size_t n = 0;
	time_t now = time(NULL);

	assert_non_null(dir);
	o.ca_dir = dir;
	/* no CA yet */
	assert_int_equal(sl_certstore_new(&o, &s), -ENOENT);
	assert_int_equal(sl_ca_init_dir(dir, T_TD, 10, 0), 0);
	assert_int_equal(sl_certstore_new(&o, &s), 0);
	t = sl_certstore_trust(s);
	assert_non_null(t);
	assert_string_equal(sl_trust_domain(t), T_TD);
	sl_trust_put(t);

	assert_int_equal(sl_certstore_get(s, ID_WEB, &a), 0);
	assert_string_equal(sl_identity_spiffe_id(a), ID_WEB);
	assert_int_equal(sl_certstore_get(s, ID_WEB, &b), 0);
	assert_ptr_equal(a, b); /* not renewed before half-life */
	sl_identity_put(b);
	assert_int_equal(sl_certstore_get(s, "spiffe://other.td/ns/shop/sa/web", &b),
			 -EINVAL);
	assert_int_equal(sl_certstore_get(s, "not-an-id", &b), -EINVAL);
	assert_int_equal(sl_certstore_get(s, ID_DB, &b), 0);

	assert_int_equal(sl_certstore_list(s, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].spiffe_id, ID_DB); /* sorted */
	assert_string_equal(list[1].spiffe_id, ID_WEB);
	assert_string_equal(list[1].serial, sl_identity_serial(a));
	assert_non_null(strstr(list[1].issuer, "sluice mesh CA " T_TD));
	assert_true(list[1].not_after >= now + 3590);
	/* renewal at half-life (+0-10% jitter) of issue..notAfter: the
	 * backdated notBefore does not count */
	{
		time_t life = list[1].not_after - now;
		time_t half = now + life / 2;

		assert_true(list[1].not_before < now - 60); /* backdated */
		assert_true(list[1].renew_at >= half - 2);
		assert_true(list[1].renew_at <= half + life / 10 + 2);
	}
	free(list);
	sl_identity_put(a);
	sl_identity_put(b);
	sl_certstore_free(s);

	/*
	 * A short lifetime (shorter than the 5 min notBefore backdate) still
	 * renews at its half-life, not on every get.
	 */
	o.lifetime_s = 60;
	now = time(NULL);
	assert_int_equal(sl_certstore_new(&o, &s), 0);
	assert_int_equal(sl_certstore_get(s, ID_WEB, &a), 0);
	assert_int_equal(sl_certstore_get(s, ID_WEB, &b), 0);
	assert_string_equal(sl_identity_serial(a), sl_identity_serial(b));
	assert_int_equal(sl_certstore_list(s, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_true(list[0].renew_at >= now + 30 - 2);
	assert_true(list[0].renew_at <= now + 36 + 2);
	free(list);
	sl_identity_put(a);
	sl_identity_put(b);
	sl_certstore_free(s);
	sl_certstore_free(NULL);
	t_rmdir(dir);
}

struct thr {
	struct sl_certstore *s;
	int errors;
};

static void *get_many(void *arg)
{
	static const char *const ids[] = { ID_WEB, ID_DB,
					   "spiffe://" T_TD "/ns/x/sa/y" };
	struct thr *t = arg;

	for (int i = 0; i < 60; i++) {
		struct sl_identity *id = NULL;
		const char *want = ids[i % 3];

		if (sl_certstore_get(t->s, want, &id) ||
		    strcmp(sl_identity_spiffe_id(id), want) != 0)
			t->errors++;
		sl_identity_put(id);
	}
	return NULL;
}

static void test_threads(void **state)
{
	char *dir = t_tmpdir();
	struct sl_certstore_opts o = { .trust_domain = T_TD, .ca_dir = dir };
	struct thr th[4];
	pthread_t tid[4];
	struct sl_certstore_entry *list = NULL;
	size_t n = 0;

	assert_int_equal(sl_ca_init_dir(dir, T_TD, 10, 0), 0);
	for (int i = 0; i < 4; i++) {
		th[i].errors = 0;
		if (i == 0)
			assert_int_equal(sl_certstore_new(&o, &th[0].s), 0);
		else
			th[i].s = th[0].s;
		assert_int_equal(pthread_create(&tid[i], NULL, get_many, &th[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(tid[i], NULL);
		assert_int_equal(th[i].errors, 0);
	}
	/* one identity per ID, not one per thread */
	assert_int_equal(sl_certstore_list(th[0].s, &list, &n), 0);
	assert_int_equal(n, 3);
	free(list);
	sl_certstore_free(th[0].s);
	t_rmdir(dir);
}

static void put_pair(const char *base, struct sl_identity *id, X509 *ca,
		     EVP_PKEY *key_override)
{
	char p[1024];

	snprintf(p, sizeof(p), "%s/shop", base);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/shop/web", base);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/shop/web/cert.pem", base);
	assert_int_equal(t_write_cert(p, sl_identity_cert(id), NULL), 0);
	snprintf(p, sizeof(p), "%s/shop/web/key.pem", base);
	assert_int_equal(t_write_key(p, key_override ? key_override
						       : sl_identity_key(id)), 0);
	snprintf(p, sizeof(p), "%s/shop/web/ca.pem", base);
	assert_int_equal(t_write_cert(p, ca, NULL), 0);
}

static void test_external(void **state)
{
	char *cadir = NULL, *dir = t_tmpdir(), *cadir2 = NULL;
	struct sl_ca *ca = t_new_ca(T_TD, &cadir), *ca2 = t_new_ca(T_TD, &cadir2);
	struct sl_identity *v1 = NULL, *v2 = NULL, *v3 = NULL, *expired = NULL;
	struct sl_identity *other = NULL, *got = NULL, *foreign = NULL;
	struct sl_certstore_opts o = { .trust_domain = T_TD };
	struct sl_certstore *s = NULL;
	time_t now = time(NULL);
	char extra[1024];

	assert_non_null(ca);
	assert_non_null(ca2);
	o.cert_dir = dir;
	assert_int_equal(sl_ca_issue(ca, ID_WEB, 3600, &v1), 0);
	assert_int_equal(sl_ca_issue(ca, ID_WEB, 7200, &v2), 0);
	assert_int_equal(sl_ca_issue(ca, ID_WEB, 9000, &v3), 0);
	assert_int_equal(sl_ca_issue(ca, ID_DB, 3600, &other), 0);
	assert_int_equal(sl_ca_issue(ca2, ID_WEB, 9000, &foreign), 0);
	assert_int_equal(sl_ca_issue_window(ca, ID_WEB, now - 7200, now - 10,
					    &expired), 0);
	/* an empty cert dir has no roots */
	assert_int_equal(sl_certstore_new(&o, &s), -ENOENT);
	put_pair(dir, v1, sl_ca_cert(ca), NULL);
	/* extra bundle */
	snprintf(extra, sizeof(extra), "%s/ca.crt", cadir2);
	o.trust_bundle = extra;
	assert_int_equal(sl_certstore_new(&o, &s), 0);
	{
		struct sl_trust *t = sl_certstore_trust(s);

		assert_int_equal(sk_X509_OBJECT_num(X509_STORE_get0_objects(
					 sl_trust_store(t))), 2);
		sl_trust_put(t);
	}
	assert_int_equal(sl_certstore_get(s, ID_WEB, &got), 0);
	assert_string_equal(sl_identity_serial(got), sl_identity_serial(v1));
	sl_identity_put(got);
	assert_int_equal(sl_certstore_get(s, "spiffe://" T_TD "/ns/shop/sa/none",
					  &got), -ENOENT);

	/* mismatched key: rejected, the old pair stays */
	put_pair(dir, v2, sl_ca_cert(ca), sl_identity_key(v1));
	sl_certstore_reload(s);
	assert_int_equal(sl_certstore_get(s, ID_WEB, &got), 0);
	assert_string_equal(sl_identity_serial(got), sl_identity_serial(v1));
	sl_identity_put(got);
	/* expired pair: rejected */
	put_pair(dir, expired, sl_ca_cert(ca), NULL);
	sl_certstore_reload(s);
	assert_int_equal(sl_certstore_get(s, ID_WEB, &got), 0);
	assert_string_equal(sl_identity_serial(got), sl_identity_serial(v1));
	sl_identity_put(got);
	/* a pair for another ID in this directory: rejected */
	put_pair(dir, other, sl_ca_cert(ca), NULL);
	sl_certstore_reload(s);
	assert_int_equal(sl_certstore_get(s, ID_WEB, &got), 0);
	assert_string_equal(sl_identity_serial(got), sl_identity_serial(v1));
	sl_identity_put(got);
	/* a good new pair: taken */
	put_pair(dir, v2, sl_ca_cert(ca), NULL);
	sl_certstore_reload(s);
	assert_int_equal(sl_certstore_get(s, ID_WEB, &got), 0);
	assert_string_equal(sl_identity_serial(got), sl_identity_serial(v2));
	sl_identity_put(got);
	/*
	 * A pair of a CA that is not in its ca.pem: ca.pem says "ca", so the
	 * foreign leaf does not chain; but ca2 is in the extra bundle, so it
	 * does.  Drop the extra bundle to see the rejection.
	 */
	sl_certstore_free(s);
	o.trust_bundle = NULL;
	put_pair(dir, v3, sl_ca_cert(ca), NULL);
	assert_int_equal(sl_certstore_new(&o, &s), 0);
	assert_int_equal(sl_certstore_get(s, ID_WEB, &got), 0);
	assert_string_equal(sl_identity_serial(got), sl_identity_serial(v3));
	sl_identity_put(got);
	put_pair(dir, foreign, sl_ca_cert(ca), NULL);
	sl_certstore_reload(s);
	assert_int_equal(sl_certstore_get(s, ID_WEB, &got), 0);
	assert_string_equal(sl_identity_serial(got), sl_identity_serial(v3));
	sl_identity_put(got);
	sl_certstore_free(s);
	/* first load of a bad pair fails outright */
	put_pair(dir, expired, sl_ca_cert(ca), NULL);
	assert_int_equal(sl_certstore_new(&o, &s), 0);
	assert_int_equal(sl_certstore_get(s, ID_WEB, &got), -EKEYEXPIRED);
	sl_certstore_free(s);

	sl_identity_put(v1);
	sl_identity_put(v2);
	sl_identity_put(v3);
	sl_identity_put(other);
	sl_identity_put(foreign);
	sl_identity_put(expired);
	sl_ca_free(ca);
	sl_ca_free(ca2);
	t_rmdir(cadir);
	t_rmdir(cadir2);
	t_rmdir(dir);
}

/* CA rotation: new key, ca.crt = new root + old root; old leaves still valid */
static void test_rotation(void **state)
{
	char *dir = t_tmpdir(), path[512];
	struct sl_certstore_opts o = { .trust_domain = T_TD, .lifetime_s = 60 };
	struct sl_certstore *s = NULL;
	struct sl_identity *before = NULL, *after = NULL;
	struct sl_ca *old_ca = NULL;
	struct sl_trust *t;
	X509_STORE_CTX *x;
	FILE *f;

	o.ca_dir = dir;
	assert_int_equal(sl_ca_init_dir(dir, T_TD, 10, 0), 0);
	assert_int_equal(sl_ca_load_dir(dir, &old_ca), 0);
	assert_int_equal(sl_certstore_new(&o, &s), 0);
	assert_int_equal(sl_certstore_get(s, ID_WEB, &before), 0);
	assert_int_equal(sl_ca_init_dir(dir, T_TD, 10, 1), 0);
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	f = fopen(path, "a");
	assert_non_null(f);
	PEM_write_X509(f, sl_ca_cert(old_ca));
	fclose(f);
	assert_int_equal(sl_certstore_reload(s), 0);
	/* a new signing CA: the next get re-issues from it */
	assert_int_equal(sl_certstore_get(s, ID_WEB, &after), 0);
	assert_int_equal(X509_check_issued(sl_ca_cert(old_ca),
					   sl_identity_cert(before)), X509_V_OK);
	assert_int_not_equal(X509_check_issued(sl_ca_cert(old_ca),
					       sl_identity_cert(after)), X509_V_OK);
	t = sl_certstore_trust(s);
	assert_int_equal(sk_X509_OBJECT_num(X509_STORE_get0_objects(sl_trust_store(t))), 2);
	/* both the old and the new leaf verify against the bundle */
	for (int i = 0; i < 2; i++) {
		x = X509_STORE_CTX_new();
		assert_int_equal(X509_STORE_CTX_init(x, sl_trust_store(t),
			sl_identity_cert(i ? after : before), NULL), 1);
		assert_int_equal(X509_verify_cert(x), 1);
		X509_STORE_CTX_free(x);
	}
	sl_trust_put(t);
	sl_identity_put(before);
	sl_identity_put(after);
	sl_ca_free(old_ca);
	sl_certstore_free(s);
	t_rmdir(dir);
}

/* shop/web's pair in @base: a hand-made leaf with basicConstraints @bc
 * ("": none) */
static void put_made(const char *base, struct sl_ca *ca, const char *cadir,
		     const char *bc)
{
	struct t_cert_opts o = { .uri = { ID_WEB }, .bc = bc };
	EVP_PKEY *ca_key = t_ca_key(cadir), *key = NULL;
	X509 *cert;
	char p[1024];

	assert_non_null(ca_key);
	cert = t_make_cert(sl_ca_cert(ca), ca_key, &o, &key);
	assert_non_null(cert);
	snprintf(p, sizeof(p), "%s/shop", base);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/shop/web", base);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/shop/web/cert.pem", base);
	assert_int_equal(t_write_cert(p, cert, NULL), 0);
	snprintf(p, sizeof(p), "%s/shop/web/key.pem", base);
	assert_int_equal(t_write_key(p, key), 0);
	snprintf(p, sizeof(p), "%s/shop/web/ca.pem", base);
	assert_int_equal(t_write_cert(p, sl_ca_cert(ca), NULL), 0);
	X509_free(cert);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca_key);
}

/*
 * A certDir leaf that sluice peers would refuse (verify.c: basicConstraints
 * must be there and say CA:FALSE) is refused when loaded, with the reason
 * in the log, rather than in every peer's handshake.
 */
static void test_external_basic_constraints(void **state)
{
	static const struct {
		const char *bc;
		int want;
	} cases[] = {
		{ "", -EINVAL },
		{ "critical,CA:TRUE", -EINVAL },
		{ "critical,CA:FALSE", 0 },
		{ "CA:FALSE", 0 }, /* not critical: RFC 5280 allows it */
	};
	char *cadir = NULL, *dir = t_tmpdir();
	struct sl_ca *ca = t_new_ca(T_TD, &cadir);
	struct sl_certstore_opts o = { .trust_domain = T_TD };

	(void)state;
	assert_non_null(ca);
	assert_non_null(dir);
	o.cert_dir = dir;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sl_certstore *s = NULL;
		struct sl_identity *got = NULL;
		int ret;

		put_made(dir, ca, cadir, cases[i].bc);
		assert_int_equal(sl_certstore_new(&o, &s), 0);
		ret = sl_certstore_get(s, ID_WEB, &got);
		if (ret != cases[i].want)
			fail_msg("basicConstraints \"%s\": load returned %d, "
				 "want %d", cases[i].bc, ret, cases[i].want);
		sl_identity_put(got);
		sl_certstore_free(s);
	}
	sl_ca_free(ca);
	t_rmdir(cadir);
	t_rmdir(dir);
}

static void test_bad_opts(void **state)
{
	struct sl_certstore_opts o = { .trust_domain = T_TD };
	struct sl_certstore *s = NULL;

	assert_int_equal(sl_certstore_new(&o, &s), -EINVAL); /* no mode */
	o.ca_dir = "/tmp";
	o.cert_dir = "/tmp";
	assert_int_equal(sl_certstore_new(&o, &s), -EINVAL); /* both */
	assert_int_equal(sl_certstore_new(NULL, &s), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ca_mode),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_external),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_external_basic_constraints),
		cmocka_unit_test(test_bad_opts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

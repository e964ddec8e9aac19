// SPDX-License-Identifier: Apache-2.0
/* Unit tests: SPIFFE IDs, identities, trust bundles, the built-in CA. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca.h"
#include "hs_test.h"
#include "identity.h"

static void test_spiffe_format(void **state)
{
	char buf[128];

	assert_int_equal(sl_spiffe_id_format(buf, sizeof(buf), "cluster.local",
					     "default", "web"), 0);
	assert_string_equal(buf, "spiffe://cluster.local/ns/default/sa/web");
	assert_int_equal(sl_spiffe_id_format(buf, sizeof(buf), "Cluster.local",
					     "a", "b"), -EINVAL);
	assert_int_equal(sl_spiffe_id_format(buf, sizeof(buf), "td", "", "b"),
			 -EINVAL);
	assert_int_equal(sl_spiffe_id_format(buf, sizeof(buf), "td", "a/b", "c"),
			 -EINVAL);
	assert_int_equal(sl_spiffe_id_format(buf, sizeof(buf), "td", "..", "c"),
			 -EINVAL);
	assert_int_equal(sl_spiffe_id_format(buf, sizeof(buf), "td", "a", "c%20"),
			 -EINVAL);
	assert_int_equal(sl_spiffe_id_format(buf, 20, "cluster.local", "a", "b"),
			 -ENAMETOOLONG);
}

static void test_spiffe_parse(void **state)
{
	char td[64], ns[64], sa[64];
	static const char *const bad[] = {
		"",
		"spiffe://",
		"spiffe:///ns/a/sa/b",
		"SPIFFE://td/ns/a/sa/b",
		"spiffe://td/ns/a/sa/b/",
		"spiffe://td/ns/a/sa/b/c",
		"spiffe://td/ns//sa/b",
		"spiffe://td/ns/a/sa/",
		"spiffe://td/ns/a/sb/b",
		"spiffe://td/a/b",
		"spiffe://TD/ns/a/sa/b",
		"spiffe://td:8080/ns/a/sa/b",
		"spiffe://user@td/ns/a/sa/b",
		"spiffe://td/ns/a/sa/b?x=1",
		"spiffe://td/ns/a/sa/b#f",
		"spiffe://td/ns/%61/sa/b",
		"spiffe://td/ns/./sa/b",
		"spiffe://td/ns/a/sa/..",
		"https://td/ns/a/sa/b",
	};

	assert_int_equal(sl_spiffe_id_parse("spiffe://cluster.local/ns/prod/sa/api-v2",
					    td, sizeof(td), ns, sizeof(ns),
					    sa, sizeof(sa)), 0);
	assert_string_equal(td, "cluster.local");
	assert_string_equal(ns, "prod");
	assert_string_equal(sa, "api-v2");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (sl_spiffe_id_parse(bad[i], td, sizeof(td), ns, sizeof(ns),
				       sa, sizeof(sa)) != -EINVAL)
			fail_msg("accepted %s", bad[i]);
	}
	/* output buffer too small */
	assert_int_equal(sl_spiffe_id_parse("spiffe://td/ns/abcdef/sa/b", td,
					    sizeof(td), ns, 4, sa, sizeof(sa)),
			 -EINVAL);
}

static bool has_eku(X509 *x, int nid)
{
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
	bool found = false;

	for (int i = 0; eku && i < sk_ASN1_OBJECT_num(eku); i++)
		if (OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)) == nid)
			found = true;
	EXTENDED_KEY_USAGE_free(eku);
	return found;
}

static bool ext_critical(X509 *x, int nid)
{
	int idx = X509_get_ext_by_NID(x, nid, -1);

	return idx >= 0 && X509_EXTENSION_get_critical(X509_get_ext(x, idx));
}

static void test_ca_init_load(void **state)
{
	char *dir = t_tmpdir();
	char path[512];
	struct sl_ca *ca = NULL;
	struct stat st;
	X509 *c;
	BASIC_CONSTRAINTS *bc;

	assert_non_null(dir);
	assert_int_equal(sl_ca_init_dir(dir, "example.org", 365, 0), 0);
	assert_int_equal(sl_ca_init_dir(dir, "example.org", 365, 0), -EEXIST);
	snprintf(path, sizeof(path), "%s/ca.key", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(sl_ca_load_dir(dir, &ca), 0);
	assert_string_equal(sl_ca_trust_domain(ca), "example.org");
	c = sl_ca_cert(ca);
	assert_true(X509_check_ca(c) > 0);
	assert_true(ext_critical(c, NID_basic_constraints));
	assert_true(ext_critical(c, NID_key_usage));
	assert_true(X509_get_key_usage(c) & KU_KEY_CERT_SIGN);
	assert_true(X509_get_key_usage(c) & KU_CRL_SIGN);
	assert_non_null(X509_get0_subject_key_id(c));
	bc = X509_get_ext_d2i(c, NID_basic_constraints, NULL, NULL);
	assert_non_null(bc);
	assert_true(bc->ca);
	BASIC_CONSTRAINTS_free(bc);
	assert_int_equal(EVP_PKEY_get_base_id(X509_get0_pubkey(c)), EVP_PKEY_EC);
	/* --force replaces it: a different key */
	assert_int_equal(sl_ca_init_dir(dir, "example.org", 365, 1), 0);
	{
		struct sl_ca *ca2 = NULL;

		assert_int_equal(sl_ca_load_dir(dir, &ca2), 0);
		assert_int_not_equal(X509_cmp(sl_ca_cert(ca), sl_ca_cert(ca2)), 0);
		sl_ca_free(ca2);
	}
	sl_ca_free(ca);
	assert_int_equal(sl_ca_init_dir(dir, "Bad_TD!", 365, 1), -EINVAL);
	assert_int_equal(sl_ca_load_dir("/nonexistent-sl", &ca), -ENOENT);
	t_rmdir(dir);
}

static void test_ca_issue_fields(void **state)
{
	const char *id = "spiffe://" T_TD "/ns/default/sa/web";
	char *dir = NULL, leaf_path[512], ca_path[512];
	struct sl_identity *ident = NULL, *ident2 = NULL;
	struct sl_ca *ca = t_new_ca(T_TD, &dir);
	GENERAL_NAMES *names;
	BASIC_CONSTRAINTS *bc;
	const ASN1_INTEGER *serial;
	time_t now = time(NULL);
	X509 *x;

	assert_non_null(ca);
	assert_int_equal(sl_ca_issue(ca, id, 3600, &ident), 0);
	assert_int_equal(sl_ca_issue(ca, "spiffe://x/y", 3600, &ident2), -EINVAL);
	assert_int_equal(sl_ca_issue(ca, id, 3600, &ident2), 0);
	assert_string_not_equal(sl_identity_serial(ident),
				sl_identity_serial(ident2));
	assert_string_equal(sl_identity_spiffe_id(ident), id);
	x = sl_identity_cert(ident);
	/* exactly one SAN, a URI */
	names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	assert_non_null(names);
	assert_int_equal(sk_GENERAL_NAME_num(names), 1);
	assert_int_equal(sk_GENERAL_NAME_value(names, 0)->type, GEN_URI);
	GENERAL_NAMES_free(names);
	assert_true(has_eku(x, NID_server_auth));
	assert_true(has_eku(x, NID_client_auth));
	assert_true(ext_critical(x, NID_key_usage));
	assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
	assert_true(ext_critical(x, NID_basic_constraints));
	bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
	assert_non_null(bc);
	assert_false(bc->ca);
	BASIC_CONSTRAINTS_free(bc);
	assert_int_equal(X509_check_ca(x), 0);
	assert_non_null(X509_get0_subject_key_id(x));
	assert_non_null(X509_get0_authority_key_id(x));
	assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(x),
					       X509_get0_subject_key_id(sl_ca_cert(ca))),
			 0);
	/* 128-bit random serial */
	serial = X509_get0_serialNumber(x);
	assert_int_equal(ASN1_STRING_length(serial), 16);
	assert_int_equal(strlen(sl_identity_serial(ident)), 32);
	/* validity: now-5min .. now+lifetime */
	assert_true(sl_identity_not_before(ident) <= now - 295);
	assert_true(sl_identity_not_before(ident) >= now - 310);
	assert_true(sl_identity_not_after(ident) >= now + 3590);
	assert_true(sl_identity_not_after(ident) <= now + 3610);
	assert_int_equal(sk_X509_num(sl_identity_chain(ident)), 1);
	assert_int_equal(X509_check_issued(sl_ca_cert(ca), x), X509_V_OK);

	/* stock openssl agrees: strict, both purposes */
	snprintf(leaf_path, sizeof(leaf_path), "%s/leaf.pem", dir);
	snprintf(ca_path, sizeof(ca_path), "%s/ca.crt", dir);
	assert_int_equal(t_write_cert(leaf_path, x, NULL), 0);
	assert_int_equal(t_openssl_verify(ca_path, leaf_path, "sslclient"), 0);
	assert_int_equal(t_openssl_verify(ca_path, leaf_path, "sslserver"), 0);
	/* and the check can fail: another CA's root does not verify it */
	{
		char *dir2 = NULL, other[512];
		struct sl_ca *ca2 = t_new_ca(T_TD, &dir2);

		assert_non_null(ca2);
		snprintf(other, sizeof(other), "%s/ca.crt", dir2);
		assert_int_not_equal(t_openssl_verify(other, leaf_path, "sslclient"), 0);
		sl_ca_free(ca2);
		t_rmdir(dir2);
	}
	sl_identity_put(ident);
	sl_identity_put(ident2);
	sl_ca_free(ca);
	t_rmdir(dir);
}

static void test_identity_load_pem(void **state)
{
	const char *id = "spiffe://" T_TD "/ns/a/sa/b";
	char *dir = NULL, crt[512], key[512], key2[512];
	struct sl_identity *ident = NULL, *other = NULL, *loaded = NULL;
	struct sl_ca *ca = t_new_ca(T_TD, &dir);
	time_t now = time(NULL);

	assert_non_null(ca);
	assert_int_equal(sl_ca_issue(ca, id, 3600, &ident), 0);
	assert_int_equal(sl_ca_issue(ca, id, 3600, &other), 0);
	snprintf(crt, sizeof(crt), "%s/c.pem", dir);
	snprintf(key, sizeof(key), "%s/k.pem", dir);
	snprintf(key2, sizeof(key2), "%s/k2.pem", dir);
	assert_int_equal(t_write_cert(crt, sl_identity_cert(ident), sl_ca_cert(ca)), 0);
	assert_int_equal(t_write_key(key, sl_identity_key(ident)), 0);
	assert_int_equal(t_write_key(key2, sl_identity_key(other)), 0);
	assert_int_equal(sl_identity_load_pem(crt, key, &loaded), 0);
	assert_string_equal(sl_identity_spiffe_id(loaded), id);
	assert_string_equal(sl_identity_serial(loaded), sl_identity_serial(ident));
	assert_int_equal(sk_X509_num(sl_identity_chain(loaded)), 1);
	/* refcount: get/put pairs keep it alive */
	assert_ptr_equal(sl_identity_get(loaded), loaded);
	sl_identity_put(loaded);
	sl_identity_put(loaded);
	/* mismatched key */
	assert_int_equal(sl_identity_load_pem(crt, key2, &loaded), -EINVAL);
	/* expired */
	sl_identity_put(other);
	assert_int_equal(sl_ca_issue_window(ca, id, now - 7200, now - 3600, &other), 0);
	assert_int_equal(t_write_cert(crt, sl_identity_cert(other), NULL), 0);
	assert_int_equal(t_write_key(key, sl_identity_key(other)), 0);
	assert_int_equal(sl_identity_load_pem(crt, key, &loaded), -EKEYEXPIRED);
	assert_int_equal(sl_identity_load_pem("/nonexistent", key, &loaded), -ENOENT);
	sl_identity_put(ident);
	sl_identity_put(other);
	sl_identity_put(NULL);
	sl_ca_free(ca);
	t_rmdir(dir);
}

/* the chain sent in a handshake leaves out self-signed roots, keeps
 * intermediates; the chain as given is kept for the files */
static void test_identity_send_chain(void **state)
{
	const char *id = "spiffe://" T_TD "/ns/a/sa/b";
	struct t_cert_opts io = { .ca = true };
	struct t_cert_opts lo = { .uri = { id } };
	struct sl_identity *ident = NULL, *viaint = NULL;
	EVP_PKEY *ca_key, *int_key = NULL, *leaf_key = NULL;
	STACK_OF(X509) *chain = sk_X509_new_null();
	char *dir = NULL;
	struct sl_ca *ca = t_new_ca(T_TD, &dir);
	X509 *inter, *leaf;

	(void)state;
	assert_non_null(ca);
	assert_non_null(chain);
	/* the built-in CA is a root: nothing after the leaf */
	assert_int_equal(sl_ca_issue(ca, id, 3600, &ident), 0);
	assert_int_equal(sk_X509_num(sl_identity_chain(ident)), 1);
	assert_int_equal(sk_X509_num(sl_identity_send_chain(ident)), 0);
	/* root -> intermediate -> leaf: the intermediate is sent */
	ca_key = t_ca_key(dir);
	assert_non_null(ca_key);
	inter = t_make_cert(sl_ca_cert(ca), ca_key, &io, &int_key);
	assert_non_null(inter);
	leaf = t_make_cert(inter, int_key, &lo, &leaf_key);
	assert_non_null(leaf);
	assert_true(sk_X509_push(chain, inter));
	assert_true(sk_X509_push(chain, sl_ca_cert(ca)));
	X509_up_ref(sl_ca_cert(ca));
	assert_int_equal(sl_identity_new(leaf, leaf_key, chain, &viaint), 0);
	assert_int_equal(sk_X509_num(sl_identity_chain(viaint)), 2);
	assert_int_equal(sk_X509_num(sl_identity_send_chain(viaint)), 1);
	assert_ptr_equal(sk_X509_value(sl_identity_send_chain(viaint), 0),
			 inter);
	sk_X509_pop_free(chain, X509_free);
	X509_free(leaf);
	EVP_PKEY_free(leaf_key);
	EVP_PKEY_free(int_key);
	EVP_PKEY_free(ca_key);
	sl_identity_put(viaint);
	sl_identity_put(ident);
	sl_ca_free(ca);
	t_rmdir(dir);
}

static void test_trust_two_roots(void **state)
{
	char *d1 = NULL, *d2 = NULL, bundle[512];
	struct sl_ca *a = t_new_ca(T_TD, &d1), *b = t_new_ca(T_TD, &d2);
	struct sl_trust *t = NULL;
	STACK_OF(X509_OBJECT) *objs;
	FILE *f;

	assert_non_null(a);
	assert_non_null(b);
	snprintf(bundle, sizeof(bundle), "%s/bundle.pem", d1);
	f = fopen(bundle, "w");
	assert_non_null(f);
	PEM_write_X509(f, sl_ca_cert(a));
	PEM_write_X509(f, sl_ca_cert(b));
	fclose(f);
	assert_int_equal(sl_trust_load(bundle, T_TD, &t), 0);
	assert_string_equal(sl_trust_domain(t), T_TD);
	objs = X509_STORE_get0_objects(sl_trust_store(t));
	assert_int_equal(sk_X509_OBJECT_num(objs), 2);
	sl_trust_put(t);
	assert_int_equal(sl_trust_load(bundle, "Bad TD", &t), -EINVAL);
	/* an empty file is not a bundle */
	f = fopen(bundle, "w");
	fclose(f);
	assert_int_equal(sl_trust_load(bundle, T_TD, &t), -EINVAL);
	sl_ca_free(a);
	sl_ca_free(b);
	t_rmdir(d1);
	t_rmdir(d2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spiffe_format),
		cmocka_unit_test(test_spiffe_parse),
		cmocka_unit_test(test_ca_init_load),
		cmocka_unit_test(test_ca_issue_fields),
		cmocka_unit_test(test_identity_load_pem),
		cmocka_unit_test(test_identity_send_chain),
		cmocka_unit_test(test_trust_two_roots),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

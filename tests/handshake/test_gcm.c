// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of gcm.c (gcm.h): the SP 800-38D test cases, then a
 * differential test against OpenSSL's EVP AES-GCM over every length from 0
 * to 300 bytes and a few hundred more up to a full TLS record, both key
 * sizes, AAD of 0..40 bytes, with and without the trailing byte, in place
 * and not; each case also opens, and opens again with one bit flipped in
 * the ciphertext, the tag or the AAD, which must fail and leave the output
 * zeroed.  SKIPs (77) on a CPU without VAES, VPCLMULQDQ and AVX2.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "gcm.h"

#define MAXLEN (16384 + 256)

static void hex(const char *s, uint8_t *out, size_t n)
{
	assert_int_equal(strlen(s), 2 * n);
	for (size_t i = 0; i < n; i++) {
		unsigned int v;

		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

/* OpenSSL's AES-GCM, the reference */
static void ref_seal(const uint8_t *key, size_t klen, const uint8_t *iv,
		     const uint8_t *aad, size_t alen, const uint8_t *in,
		     size_t len, uint8_t *out, uint8_t tag[16])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n;

	assert_non_null(ctx);
	assert_int_equal(EVP_EncryptInit_ex(ctx, klen == 16 ? EVP_aes_128_gcm() :
							      EVP_aes_256_gcm(),
					    NULL, key, iv), 1);
	if (alen)
		assert_int_equal(EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)alen), 1);
	if (len)
		assert_int_equal(EVP_EncryptUpdate(ctx, out, &n, in, (int)len), 1);
	assert_int_equal(EVP_EncryptFinal_ex(ctx, out + len, &n), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag), 1);
	EVP_CIPHER_CTX_free(ctx);
}

struct kat {
	const char *key, *iv, *pt, *aad, *ct, *tag;
};

/* SP 800-38D (the GCM specification's) test cases 1-4 and 13-16 */
static const struct kat kats[] = {
	{ "00000000000000000000000000000000", "000000000000000000000000", "", "",
	  "", "58e2fccefa7e3061367f1d57a4e7455a" },
	{ "00000000000000000000000000000000", "000000000000000000000000",
	  "00000000000000000000000000000000", "",
	  "0388dace60b6a392f328c2b971b2fe78", "ab6e47d42cec13bdf53a67b21257bddf" },
	{ "feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
	  "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
	  "",
	  "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
	  "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
	  "4d5c2af327cd64a62cf35abd2ba6fab4" },
	{ "feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
	  "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
	  "feedfacedeadbeeffeedfacedeadbeefabaddad2",
	  "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
	  "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
	  "5bc94fbc3221a5db94fae95ae7121a47" },
	{ "0000000000000000000000000000000000000000000000000000000000000000",
	  "000000000000000000000000", "", "", "",
	  "530f8afbc74536b9a963b4f1c4cb738b" },
	{ "0000000000000000000000000000000000000000000000000000000000000000",
	  "000000000000000000000000", "00000000000000000000000000000000", "",
	  "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919" },
	{ "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
	  "cafebabefacedbaddecaf888",
	  "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
	  "",
	  "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	  "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
	  "b094dac5d93471bdec1a502270e3cc6c" },
	{ "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
	  "cafebabefacedbaddecaf888",
	  "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
	  "feedfacedeadbeeffeedfacedeadbeefabaddad2",
	  "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	  "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
	  "76fc6ece0f4e1768cddf8853bb2d551b" },
};

static void test_kat(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(kats) / sizeof(kats[0]); i++) {
		const struct kat *t = &kats[i];
		size_t klen = strlen(t->key) / 2, len = strlen(t->pt) / 2,
		       alen = strlen(t->aad) / 2;
		uint8_t key[32], iv[12], pt[64], aad[20], ct[64], tag[16];
		uint8_t got[64], gtag[16];
		struct sl_gcm_key k;

		hex(t->key, key, klen);
		hex(t->iv, iv, 12);
		hex(t->pt, pt, len);
		hex(t->aad, aad, alen);
		hex(t->ct, ct, len);
		hex(t->tag, tag, 16);
		assert_int_equal(sl_gcm_init(&k, key, klen), 0);
		sl_gcm_seal(&k, iv, aad, alen, pt, len, -1, got, gtag);
		assert_memory_equal(got, ct, len);
		assert_memory_equal(gtag, tag, 16);
		memset(got, 0xa5, sizeof(got));
		assert_int_equal(sl_gcm_open(&k, iv, aad, alen, ct, len, got, tag),
				 0);
		assert_memory_equal(got, pt, len);
		sl_gcm_wipe(&k);
	}
}

/* a small deterministic generator, so that a failure can be replayed */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)next();
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void one_case(size_t klen, size_t len, bool in_place)
{
	static uint8_t pt[MAXLEN + 1], ct[MAXLEN + 1], ref[MAXLEN + 1],
		back[MAXLEN + 1];
	uint8_t key[32], iv[12], aad[40], tag[16], rtag[16];
	size_t alen = next() % (sizeof(aad) + 1), total;
	int trail = next() % 3 ? (int)(next() & 0xff) : -1;
	struct sl_gcm_key k;

	fill(key, klen);
	fill(iv, sizeof(iv));
	fill(aad, alen);
	fill(pt, len);
	total = len + (trail >= 0);
	if (trail >= 0)
		pt[len] = (uint8_t)trail;
	ref_seal(key, klen, iv, aad, alen, pt, total, ref, rtag);

	assert_int_equal(sl_gcm_init(&k, key, klen), 0);
	if (in_place) {
		memcpy(ct, pt, total);
		sl_gcm_seal(&k, iv, aad, alen, ct, len, trail, ct, tag);
	} else {
		sl_gcm_seal(&k, iv, aad, alen, pt, len, trail, ct, tag);
	}
	if (memcmp(ct, ref, total) || memcmp(tag, rtag, 16))
		fail_msg("seal differs from OpenSSL: key %zu, len %zu, aad %zu, "
			 "trail %d, in place %d", klen, len, alen, trail, in_place);

	/* open, in place or not */
	if (in_place) {
		memcpy(back, ct, total);
		assert_int_equal(sl_gcm_open(&k, iv, aad, alen, back, total, back,
					     tag), 0);
	} else {
		assert_int_equal(sl_gcm_open(&k, iv, aad, alen, ct, total, back,
					     tag), 0);
	}
	assert_memory_equal(back, pt, total);

	/* one flipped bit anywhere: refused, nothing left in the output */
	{
		size_t where = next() % (total + 16 + alen);
		uint8_t bit = (uint8_t)(1u << (next() % 8));

		if (where < total)
			ct[where] ^= bit;
		else if (where < total + 16)
			tag[where - total] ^= bit;
		else
			aad[where - total - 16] ^= bit;
		memset(back, 0xa5, total);
		assert_int_equal(sl_gcm_open(&k, iv, aad, alen, ct, total, back,
					     tag), -EBADMSG);
		assert_true(all_zero(back, total));
	}
	sl_gcm_wipe(&k);
	assert_true(all_zero((const uint8_t *)&k, sizeof(k)));
}

static void test_against_openssl(void **state)
{
	(void)state;
	for (size_t klen = 16; klen <= 32; klen += 16) {
		for (size_t len = 0; len <= 300; len++)
			one_case(klen, len, len & 1);
		for (int i = 0; i < 300; i++)
			one_case(klen, next() % (MAXLEN + 1), i & 1);
		one_case(klen, 16384, false); /* a full TLS record */
		one_case(klen, MAXLEN, true);
	}
}

static void test_bad_key(void **state)
{
	struct sl_gcm_key k;
	uint8_t key[24] = { 0 };

	(void)state;
	assert_int_equal(sl_gcm_init(&k, key, 24), -EINVAL);
	assert_int_equal(sl_gcm_init(&k, key, 0), -EINVAL);
}

static void test_mode(void **state)
{
	(void)state;
	assert_true(sl_gcm_available());
	assert_string_equal(sl_gcm_impl_name(), "vaes-avx2");
	sl_gcm_set_mode(SL_GCM_OPENSSL);
	assert_false(sl_gcm_available());
	assert_string_equal(sl_gcm_impl_name(), "openssl");
	sl_gcm_set_mode(SL_GCM_AUTO);
	assert_true(sl_gcm_available());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kat),
		cmocka_unit_test(test_against_openssl),
		cmocka_unit_test(test_bad_key),
		cmocka_unit_test(test_mode),
	};
	struct sl_gcm_key k;
	uint8_t key[16] = { 0 };

	if (sl_gcm_init(&k, key, sizeof(key)) == -ENOTSUP) {
		printf("SKIP: this CPU has no VAES, VPCLMULQDQ and AVX2 "
		       "(sluice uses OpenSSL's AES-GCM here)\n");
		return 77;
	}
	sl_gcm_wipe(&k);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

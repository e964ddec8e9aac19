/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: gcm.c's AES-GCM against OpenSSL's, differentially.
 * The input is [flags][key: 32][iv: 12][aad length][aad][plaintext]: flags
 * bit 0 picks AES-256, bit 1 a content-type trailer (the last plaintext
 * byte), bit 2 in-place operation; bits 3-7 and the byte after the aad
 * pick a bit to flip for the tamper check.
 *
 * Invariants: the ciphertext and tag equal OpenSSL's; opening them gives
 * the plaintext back; opening with one flipped bit (ciphertext, tag or
 * aad) fails with -EBADMSG and leaves the output zeroed.  Without VAES on
 * this CPU every input is a no-op (the unit test SKIPs there instead).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "gcm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXLEN 20000

static void ref_seal(const uint8_t *key, size_t klen, const uint8_t *iv,
		     const uint8_t *aad, size_t alen, const uint8_t *in,
		     size_t len, uint8_t *out, uint8_t tag[16])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n;

	if (!ctx ||
	    EVP_EncryptInit_ex(ctx, klen == 16 ? EVP_aes_128_gcm() :
						 EVP_aes_256_gcm(),
			       NULL, key, iv) != 1 ||
	    (alen && EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)alen) != 1) ||
	    (len && EVP_EncryptUpdate(ctx, out, &n, in, (int)len) != 1) ||
	    EVP_EncryptFinal_ex(ctx, out + len, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag) != 1)
		abort();
	EVP_CIPHER_CTX_free(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t ref[MAXLEN], got[MAXLEN], back[MAXLEN];
	uint8_t aad[256], rtag[16], tag[16], flags;
	const uint8_t *key, *iv, *pt;
	size_t klen, alen, len, total, flip, span;
	struct sl_gcm_key k;
	int trail;

	if (size < 1 + 32 + 12 + 1 || !sl_gcm_available())
		return 0;
	flags = data[0];
	key = data + 1;
	iv = data + 33;
	alen = data[45];
	data += 46;
	size -= 46;
	if (alen > size)
		alen = size;
	memcpy(aad, data, alen);
	data += alen;
	size -= alen;
	flip = size ? data[0] : 0;
	pt = data;
	total = size > MAXLEN ? MAXLEN : size;
	trail = (flags & 2) && total ? pt[total - 1] : -1;
	len = total - (trail >= 0);
	klen = flags & 1 ? 32 : 16;

	ref_seal(key, klen, iv, aad, alen, pt, total, ref, rtag);
	if (sl_gcm_init(&k, key, klen))
		abort();
	if (flags & 4) {
		memcpy(got, pt, total);
		sl_gcm_seal(&k, iv, aad, alen, got, len, trail, got, tag);
	} else {
		sl_gcm_seal(&k, iv, aad, alen, pt, len, trail, got, tag);
	}
	if (memcmp(got, ref, total) || memcmp(tag, rtag, 16))
		abort(); /* differs from OpenSSL */
	if (sl_gcm_open(&k, iv, aad, alen, ref, total, back, rtag) ||
	    memcmp(back, pt, total))
		abort();

	/* one flipped bit */
	span = total + 16 + alen;
	flip = ((size_t)(flags >> 3) << 8 | flip) % span;
	if (flip < total)
		ref[flip] ^= 1u << (flags % 8);
	else if (flip < total + 16)
		rtag[flip - total] ^= 1u << (flags % 8);
	else
		aad[flip - total - 16] ^= 1u << (flags % 8);
	memset(back, 0xa5, total);
	if (sl_gcm_open(&k, iv, aad, alen, ref, total, back, rtag) != -EBADMSG)
		abort();
	for (size_t i = 0; i < total; i++)
		if (back[i])
			abort();
	sl_gcm_wipe(&k);
	return 0;
}

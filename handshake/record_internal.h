/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The record layer's AES-GCM / ChaCha20-Poly1305 on OpenSSL's EVP (the
 * path without VAES, and every ChaCha20-Poly1305 session), exposed to the
 * tests so that they run the very code record.c runs.  Same shape as
 * gcm.h's sl_gcm_seal / sl_gcm_open: 12-byte nonces and 16-byte tags only,
 * which is all TLS 1.3 records use (RFC 8446 5.2, 5.3).  Not a contract.
 */
#ifndef SL_RECORD_INTERNAL_H
#define SL_RECORD_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define SL_RL_IV_LEN 12
#define SL_RL_TAG_LEN 16

/**
 * sl_rl_evp_seal - encrypt @len bytes of @in and then, if @trail is 0..255,
 * that one byte more (the inner content type) to @out (@len + 1 bytes with
 * a trailer), and write the tag
 * @ctx: an AEAD context set up for encryption with the key
 *       (EVP_CipherInit_ex(ctx, cipher, NULL, key, NULL, 1))
 * @retval 0; -EINVAL (a length above INT_MAX); -EIO (OpenSSL failed)
 */
int sl_rl_evp_seal(EVP_CIPHER_CTX *ctx, const uint8_t iv[SL_RL_IV_LEN],
		   const uint8_t *aad, size_t aad_len, const uint8_t *in,
		   size_t len, int trail, uint8_t *out,
		   uint8_t tag[SL_RL_TAG_LEN]);

/**
 * sl_rl_evp_open - decrypt @len bytes of @in to @out (may equal @in) and
 * check the tag
 * @ctx: an AEAD context set up for decryption with the key
 * @retval 0; -EBADMSG (authentication failed, or OpenSSL did) with the
 *         @len bytes of @out wiped: no unauthenticated plaintext is left
 *         behind; -EINVAL (a length above INT_MAX)
 */
int sl_rl_evp_open(EVP_CIPHER_CTX *ctx, const uint8_t iv[SL_RL_IV_LEN],
		   const uint8_t *aad, size_t aad_len, const uint8_t *in,
		   size_t len, uint8_t *out, const uint8_t tag[SL_RL_TAG_LEN]);

#endif /* SL_RECORD_INTERNAL_H */

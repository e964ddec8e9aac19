/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AES-GCM (AES-128 and AES-256, 96-bit nonces, 16-byte tags) on the x86-64
 * VAES and VPCLMULQDQ instructions, two blocks per 256-bit register, for
 * the userspace record layer (record.c).  Debian 12's OpenSSL 3.0 has no
 * code for these instructions and runs GCM one 128-bit block at a time;
 * on a CPU that has them this does the same work in about half the time
 * (bench/README.md, session 13).
 *
 * It is used only when sl_gcm_available() says so: the CPU and the kernel
 * (AVX state saved) support the instructions and a self-test against
 * OpenSSL's EVP AES-GCM passed at the first call.  Anything else, and any
 * other cipher, stays with OpenSSL.
 */
#ifndef SLUICE_GCM_H
#define SLUICE_GCM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_GCM_IV_LEN 12
#define SL_GCM_TAG_LEN 16
#define SL_GCM_POWERS 16

/* expanded key: round keys and the hash key's powers; the caller owns it
 * and wipes it with sl_gcm_wipe() */
struct sl_gcm_key {
	uint8_t rk[15][16];
	/* H^16 .. H^1 in the hash's form */
	uint8_t hp[SL_GCM_POWERS][16];
	unsigned int rounds;		/* 10 or 14 */
};

enum sl_gcm_mode {
	SL_GCM_AUTO,	/* VAES when available (the default) */
	SL_GCM_OPENSSL, /* always OpenSSL's EVP */
};

/*
 * Process-wide choice, made before any record layer exists (sluiced's
 * --aes-gcm).  Thread-safe to read afterwards.
 */
void sl_gcm_set_mode(enum sl_gcm_mode mode);

/* whether record layers use this code: mode auto, CPU support, self-test
 * passed (probed once; logs why not when it is not) */
bool sl_gcm_available(void);

/* "vaes-avx2" or "openssl": what record layers use now */
const char *sl_gcm_impl_name(void);

/* @key_len 16 or 32; -EINVAL otherwise, -ENOTSUP without CPU support */
int sl_gcm_init(struct sl_gcm_key *k, const uint8_t *key, size_t key_len);

void sl_gcm_wipe(struct sl_gcm_key *k);

/*
 * Lengths are those of TLS records (the 32-bit block counter allows up to
 * 64 GiB per message).
 *
 * Encrypt @len bytes of @in and then, if @trail is 0..255, that one byte
 * more (the TLS 1.3 inner content type), to @out (@len + 1 bytes with a
 * trailer; @out may equal @in), and write the tag.
 */
void sl_gcm_seal(const struct sl_gcm_key *k, const uint8_t iv[SL_GCM_IV_LEN],
		 const uint8_t *aad, size_t aad_len, const uint8_t *in,
		 size_t len, int trail, uint8_t *out,
		 uint8_t tag[SL_GCM_TAG_LEN]);

/*
 * Decrypt @len bytes of @in to @out (may equal @in) and check the tag.
 * @retval 0, or -EBADMSG with @out wiped (no unauthenticated plaintext is
 * left behind)
 */
int sl_gcm_open(const struct sl_gcm_key *k, const uint8_t iv[SL_GCM_IV_LEN],
		const uint8_t *aad, size_t aad_len, const uint8_t *in,
		size_t len, uint8_t *out, const uint8_t tag[SL_GCM_TAG_LEN]);

#endif

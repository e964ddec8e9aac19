/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the userspace TLS 1.3 record layer (handshake/record.c)
 * reading what a peer sends.  The peer's bytes are either the input as raw
 * ciphertext (first byte even), or, so that the fuzzer gets past the AEAD
 * into the inner content types (alerts, KeyUpdate, NewSessionTicket,
 * padding), records this harness seals itself with the peer's keys (first
 * byte odd): the rest is a list of [inner type][length: 2 bytes][content].
 * A well-formed KeyUpdate the harness sends also moves its own keys on.
 * Both ways the bytes arrive in pieces of varying size.
 *
 * Invariants: no crash and no sanitizer report; a read never returns more
 * than asked; once a read failed with -EPROTO, every later read fails; once
 * it returned 0 (close_notify), every later read returns 0; a stream that
 * ends without close_notify reads as -EPROTO, never as a clean EOF.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "record.h"
#include "tls_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SUITE 0x1301 /* TLS_AES_128_GCM_SHA256 */
#define SECRET_LEN 32

struct sealer {
	uint8_t secret[SECRET_LEN];
	uint8_t key[16], iv[12];
	uint64_t seq;
};

static void sealer_keys(struct sealer *s)
{
	const EVP_MD *md = EVP_sha256();

	if (sl_hs_hkdf_expand_label(md, s->secret, SECRET_LEN, "key", s->key,
				    sizeof(s->key)) ||
	    sl_hs_hkdf_expand_label(md, s->secret, SECRET_LEN, "iv", s->iv,
				    sizeof(s->iv)))
		abort();
	s->seq = 0;
}

static void sealer_update(struct sealer *s)
{
	uint8_t next[SECRET_LEN];

	if (sl_hs_hkdf_expand_label(EVP_sha256(), s->secret, SECRET_LEN,
				    "traffic upd", next, SECRET_LEN))
		abort();
	memcpy(s->secret, next, SECRET_LEN);
	sealer_keys(s);
}

/* one TLS 1.3 record of @type around @len bytes; @retval its length */
static size_t seal(struct sealer *s, uint8_t type, const uint8_t *in,
		   size_t len, uint8_t *out)
{
	size_t ct_len = len + 1 + 16;
	uint8_t nonce[12];
	EVP_CIPHER_CTX *ctx;
	int n = 0, m = 0;

	memcpy(nonce, s->iv, sizeof(nonce));
	for (int i = 0; i < 8; i++)
		nonce[11 - i] ^= (uint8_t)(s->seq >> (8 * i));
	out[0] = 23;
	out[1] = 3;
	out[2] = 3;
	out[3] = (uint8_t)(ct_len >> 8);
	out[4] = (uint8_t)ct_len;
	memcpy(out + 5, in, len);
	out[5 + len] = type;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx ||
	    EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, s->key, nonce) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &n, out, 5) != 1 ||
	    EVP_EncryptUpdate(ctx, out + 5, &n, out + 5, (int)len + 1) != 1 ||
	    EVP_EncryptFinal_ex(ctx, out + 5 + n, &m) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16,
				out + 5 + len + 1) != 1)
		abort();
	EVP_CIPHER_CTX_free(ctx);
	s->seq++;
	return 5 + ct_len;
}

/* feed @len bytes in pieces, reading after each; @retval the last read */
static ssize_t feed_and_read(struct sl_tls_rl *rl, const uint8_t *p,
			     size_t len, uint8_t step, ssize_t *state)
{
	uint8_t buf[4096], out[256];
	size_t off = 0, piece = (size_t)step % 61 + 1;
	ssize_t r = -EAGAIN;

	while (off < len) {
		size_t n = len - off < piece ? len - off : piece;

		if (sl_tls_rl_feed(rl, p + off, n))
			return -ENOMEM;
		off += n;
		piece = piece * 7 % 4099 + 1;
		for (;;) {
			size_t cap = (off % 3) ? sizeof(buf) : 7;

			r = sl_tls_rl_read(rl, buf, cap);
			if (r > (ssize_t)cap)
				abort();
			if (*state == -EPROTO && r != -EPROTO)
				abort(); /* a failed session never recovers */
			if (*state == 0 && r != 0)
				abort(); /* EOF stays EOF */
			if (r == 0 || r == -EPROTO)
				*state = r;
			if (r <= 0)
				break;
		}
		/* a KeyUpdate answer may be queued */
		while (sl_tls_rl_take_output(rl, out, sizeof(out)))
			;
		if (r == -EPROTO || r == 0 || r == -ENOMEM)
			break;
	}
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t peer_secret[SECRET_LEN] = { 0x5a, 1, 2, 3 };
	static const uint8_t our_secret[SECRET_LEN] = { 0xa5, 4, 5, 6 };
	struct sealer s = { .seq = 0 };
	struct sl_tls_rl *rl = NULL;
	ssize_t state = -EAGAIN, r;
	uint8_t *ct;
	size_t ct_len = 0;

	if (size < 1)
		return 0;
	if (sl_tls_rl_new_secrets(SUITE, peer_secret, our_secret, SECRET_LEN,
				  &rl))
		abort();
	if (!(data[0] & 1)) {
		r = feed_and_read(rl, data + 1, size - 1, data[0], &state);
		goto end;
	}
	memcpy(s.secret, peer_secret, SECRET_LEN);
	sealer_keys(&s);
	/* each record grows by at most 5 + 1 + 16 bytes */
	ct = malloc(size * 23 + 64);
	if (!ct)
		abort();
	for (size_t off = 1; off + 3 <= size;) {
		uint8_t type = data[off];
		size_t len = (size_t)data[off + 1] << 8 | data[off + 2];

		off += 3;
		if (len > size - off)
			len = size - off;
		if (len > 16384)
			len = 16384;
		ct_len += seal(&s, type, data + off, len, ct + ct_len);
		if (type == 22 && len == 5 && data[off] == 24 &&
		    data[off + 1] == 0 && data[off + 2] == 0 &&
		    data[off + 3] == 1 && data[off + 4] <= 1)
			sealer_update(&s); /* a KeyUpdate: our keys move on */
		off += len;
	}
	r = feed_and_read(rl, ct, ct_len, data[0], &state);
	free(ct);
end:
	if (r == -EAGAIN) {
		/* the stream ends without close_notify: a truncation, which
		 * must never look like a clean end */
		uint8_t buf[64];

		sl_tls_rl_feed_eof(rl);
		if (sl_tls_rl_read(rl, buf, sizeof(buf)) != -EPROTO)
			abort();
	}
	sl_tls_rl_free(rl);
	return 0;
}

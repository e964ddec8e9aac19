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
 * ends without close_notify reads as -EPROTO, never as a clean EOF.  The
 * bytes keep coming after a failure or a close_notify (the rest of the
 * input, then, after the TCP EOF, one more record the harness seals with
 * the peer's keys at its next sequence number), so that the sticky
 * outcomes are checked against reads that would otherwise succeed.
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

/*
 * One read and its invariants.  @state is the sticky outcome so far:
 * -EAGAIN (none yet), -EPROTO (failed) or 0 (close_notify read).
 */
static ssize_t read_check(struct sl_tls_rl *rl, size_t cap, ssize_t *state)
{
	uint8_t buf[4096];
	ssize_t r;

	r = sl_tls_rl_read(rl, buf, cap);
	if (r > (ssize_t)cap)
		abort();
	if (*state == -EPROTO && r != -EPROTO)
		abort(); /* a failed session never recovers */
	if (*state == 0 && r != 0)
		abort(); /* EOF stays EOF */
	if (r == 0 || r == -EPROTO)
		*state = r;
	return r;
}

/* read until nothing more comes, and take what a KeyUpdate queued */
static void drain(struct sl_tls_rl *rl, size_t cap, ssize_t *state)
{
	uint8_t out[256];
	ssize_t r;

	do
		r = read_check(rl, cap, state);
	while (r > 0);
	while (sl_tls_rl_take_output(rl, out, sizeof(out)))
		;
}

/*
 * Feed @len bytes in pieces, reading after each, and go on feeding and
 * reading after a failure or a close_notify.  @retval 0 or -ENOMEM
 */
static int feed_and_read(struct sl_tls_rl *rl, const uint8_t *p, size_t len,
			 uint8_t step, ssize_t *state)
{
	size_t off = 0, piece = (size_t)step % 61 + 1;

	while (off < len) {
		size_t n = len - off < piece ? len - off : piece;

		if (sl_tls_rl_feed(rl, p + off, n))
			return -ENOMEM;
		off += n;
		piece = piece * 7 % 4099 + 1;
		drain(rl, (off % 3) ? 4096 : 7, state);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t peer_secret[SECRET_LEN] = { 0x5a, 1, 2, 3 };
	static const uint8_t our_secret[SECRET_LEN] = { 0xa5, 4, 5, 6 };
	struct sealer s = { .seq = 0 };
	struct sl_tls_rl *rl = NULL;
	ssize_t state = -EAGAIN, before, r;
	uint8_t *ct, tail[64];
	size_t ct_len = 0, tail_len;
	int ret;

	if (size < 1)
		return 0;
	if (sl_tls_rl_new_secrets(SUITE, peer_secret, our_secret, SECRET_LEN,
				  &rl))
		abort();
	memcpy(s.secret, peer_secret, SECRET_LEN);
	sealer_keys(&s);
	if (!(data[0] & 1)) {
		ret = feed_and_read(rl, data + 1, size - 1, data[0], &state);
		goto end;
	}
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
	ret = feed_and_read(rl, ct, ct_len, data[0], &state);
	free(ct);
end:
	if (ret)
		goto out; /* -ENOMEM */
	/*
	 * The TCP stream ends: without close_notify that is a truncation,
	 * which must never look like a clean end (whatever was still
	 * unread); after one it stays the clean end.
	 */
	before = state;
	sl_tls_rl_feed_eof(rl);
	r = read_check(rl, 64, &state);
	if (before == 0 ? r != 0 : r != -EPROTO)
		abort();
	drain(rl, 64, &state);
	/* bytes after the end: a record sealed with the peer's current keys
	 * at its next sequence number, which a layer that forgot how its
	 * stream ended could read */
	tail_len = seal(&s, 23, (const uint8_t *)"after the end", 13, tail);
	if (!sl_tls_rl_feed(rl, tail, tail_len))
		drain(rl, 64, &state);
out:
	sl_tls_rl_free(rl);
	return 0;
}

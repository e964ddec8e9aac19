// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of the record layer (record.h) against OpenSSL: a conn pair
 * shakes hands in memory, then one side moves to sl_tls_rl and talks to the
 * other, which stays an OpenSSL session (sl_tls_conn): data both ways in
 * every suite, records larger than one TLS record, KeyUpdate (requested
 * and not), close_notify, truncation, a corrupted record, and what the
 * conn still held when the record layer took over.  Then against records
 * this file seals itself (any inner type, any order): a record that fails
 * authentication leaves no plaintext behind, and a layer that failed (bad
 * record, fatal alert, truncation) refuses every later record, valid ones
 * too, as one that read close_notify stays at EOF.  All of it twice: with
 * OpenSSL's AES-GCM, then with gcm.c's where the CPU has VAES.
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
#include "hs_test.h"
#include "record.h"
#include "tls_internal.h" /* SSL_set_ciphersuites, SSL_key_update */

#define ID_CLIENT T_ID_CLIENT
#define ID_SERVER T_ID_SERVER

static struct t_pipe c2s, s2c;

/* a finished handshake; @suite forces the client's offer (NULL: default) */
static void shake(struct t_fx *f, const char *suite, struct t_end *c,
		  struct t_end *s)
{
	memset(c, 0, sizeof(*c));
	memset(s, 0, sizeof(*s));
	c2s.len = s2c.len = 0;
	assert_int_equal(sl_tls_conn_new(f->ctx, SL_TLS_CLIENT, f->client_id,
					 ID_SERVER, &c->c), 0);
	assert_int_equal(sl_tls_conn_new(f->ctx, SL_TLS_SERVER, f->server_id,
					 NULL, &s->c), 0);
	if (suite)
		assert_int_equal(SSL_set_ciphersuites(c->c->ssl, suite), 1);
	t_pump(c, s, &c2s, &s2c);
	assert_true(c->done && s->done);
	if (suite)
		assert_string_equal(sl_tls_conn_cipher(c->c), suite);
}

/* everything the record layer has to send, into @p */
static void rl_flush(struct sl_tls_rl *rl, struct t_pipe *p)
{
	size_t n;

	while ((n = sl_tls_rl_take_output(rl, p->buf + p->len,
					  sizeof(p->buf) - p->len)) > 0)
		p->len += n;
	assert_int_equal(sl_tls_rl_pending_output(rl), 0);
}

static void rl_deliver(struct t_pipe *p, struct sl_tls_rl *rl)
{
	assert_int_equal(sl_tls_rl_feed(rl, p->buf, p->len), 0);
	p->len = 0;
}

/* read exactly @len bytes of plaintext from the record layer */
static void rl_read_exact(struct sl_tls_rl *rl, uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = sl_tls_rl_read(rl, buf, len);

		assert_true(n > 0);
		buf += n;
		len -= (size_t)n;
	}
}

static void conn_read_exact(struct sl_tls_conn *c, uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = sl_tls_conn_read(c, buf, len);

		assert_true(n > 0);
		buf += n;
		len -= (size_t)n;
	}
}

static void pattern(uint8_t *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + seed);
}

/* data both ways in each suite, the server side on the record layer */
static void test_suites(void **state)
{
	static const char *const suites[] = { "TLS_AES_128_GCM_SHA256",
					      "TLS_AES_256_GCM_SHA384",
					      "TLS_CHACHA20_POLY1305_SHA256" };
	static uint8_t out[40000], in[40000];
	struct t_fx *f = *state;

	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		struct sl_tls_rl *rl = NULL;
		struct t_end c, s;

		shake(f, suites[i], &c, &s);
		assert_int_equal(sl_tls_rl_new(s.c, &rl), 0);
		/* the secrets are gone from the conn */
		assert_int_equal(s.c->client_secret_len, 0);
		sl_tls_conn_free(s.c);
		s.c = NULL;
		for (unsigned int round = 0; round < 3; round++) {
			size_t n = round ? sizeof(out) : 1;

			pattern(out, n, round);
			assert_int_equal(sl_tls_conn_write(c.c, out, n),
					 (ssize_t)n);
			t_flush(&c, &c2s);
			rl_deliver(&c2s, rl);
			rl_read_exact(rl, in, n);
			assert_memory_equal(in, out, n);
			assert_int_equal(sl_tls_rl_read(rl, in, 1), -EAGAIN);

			pattern(out, n, round + 7);
			assert_int_equal(sl_tls_rl_write(rl, out, n), (ssize_t)n);
			rl_flush(rl, &s2c);
			t_deliver(&s2c, &c);
			conn_read_exact(c.c, in, n);
			assert_memory_equal(in, out, n);
		}
		/* close_notify both ways */
		assert_int_equal(sl_tls_rl_close_notify(rl), 0);
		assert_int_equal(sl_tls_rl_write(rl, "x", 1), -EPIPE);
		rl_flush(rl, &s2c);
		t_deliver(&s2c, &c);
		assert_int_equal(sl_tls_conn_read(c.c, in, 1), 0);
		assert_int_equal(sl_tls_conn_close_notify(c.c), 0);
		t_flush(&c, &c2s);
		rl_deliver(&c2s, rl);
		assert_int_equal(sl_tls_rl_read(rl, in, 1), 0);
		assert_int_equal(sl_tls_rl_read(rl, in, 1), 0);
		sl_tls_rl_free(rl);
		sl_tls_conn_free(c.c);
	}
}

/* KeyUpdate from the OpenSSL side, requested and not; reads in small
 * pieces (a record read over several calls) */
static void test_keyupdate(void **state)
{
	struct t_fx *f = *state;
	struct sl_tls_rl *rl = NULL;
	struct t_end c, s;
	uint8_t in[64];

	shake(f, NULL, &c, &s);
	assert_int_equal(sl_tls_rl_new(c.c, &rl), 0); /* the client side */
	sl_tls_conn_free(c.c);
	for (int type = 0; type < 2; type++) {
		int req = type ? SSL_KEY_UPDATE_REQUESTED
			       : SSL_KEY_UPDATE_NOT_REQUESTED;

		assert_int_equal(SSL_key_update(s.c->ssl, req), 1);
		assert_int_equal(sl_tls_conn_write(s.c, "after update", 12), 12);
		t_flush(&s, &s2c);
		rl_deliver(&s2c, rl);
		rl_read_exact(rl, in, 5);
		rl_read_exact(rl, in + 5, 7);
		assert_memory_equal(in, "after update", 12);
		/* requested: our KeyUpdate answer is queued */
		assert_int_equal(sl_tls_rl_pending_output(rl) > 0, type == 1);
		assert_int_equal(sl_tls_rl_write(rl, "reply", 5), 5);
		rl_flush(rl, &c2s);
		t_deliver(&c2s, &s);
		conn_read_exact(s.c, in, 5);
		assert_memory_equal(in, "reply", 5);
	}
	sl_tls_rl_free(rl);
	sl_tls_conn_free(s.c);
}

/* a flipped bit, TCP EOF without close_notify, an alert, a bad header */
static void test_bad_input(void **state)
{
	struct t_fx *f = *state;
	struct sl_tls_rl *rl = NULL;
	struct t_end c, s;
	uint8_t in[64];

	for (int kind = 0; kind < 4; kind++) {
		shake(f, NULL, &c, &s);
		assert_int_equal(sl_tls_rl_new(s.c, &rl), 0);
		assert_int_equal(sl_tls_conn_write(c.c, "data", 4), 4);
		t_flush(&c, &c2s);
		switch (kind) {
		case 0:
			c2s.buf[c2s.len - 3] ^= 0x10; /* in the tag */
			rl_deliver(&c2s, rl);
			break;
		case 1:
			c2s.len -= 3; /* truncated record, then EOF */
			rl_deliver(&c2s, rl);
			assert_int_equal(sl_tls_rl_read(rl, in, 64), -EAGAIN);
			sl_tls_rl_feed_eof(rl);
			break;
		case 2:
			/* a fatal alert: the client conn gets a corrupted
			 * record from us and answers bad_record_mac */
			c2s.len = 0;
			assert_int_equal(sl_tls_rl_write(rl, "oops", 4), 4);
			rl_flush(rl, &s2c);
			s2c.buf[s2c.len - 1] ^= 1;
			t_deliver(&s2c, &c);
			assert_int_equal(sl_tls_conn_read(c.c, in, 64), -EPROTO);
			t_flush(&c, &c2s);
			assert_true(c2s.len > 0);
			rl_deliver(&c2s, rl);
			break;
		case 3:
			c2s.buf[0] = 22; /* handshake outer type: refused */
			rl_deliver(&c2s, rl);
			break;
		}
		if (rl) {
			assert_int_equal(sl_tls_rl_read(rl, in, 64), -EPROTO);
			/* and again: the failure sticks */
			assert_int_equal(sl_tls_rl_read(rl, in, 64), -EPROTO);
		}
		sl_tls_rl_free(rl);
		rl = NULL;
		sl_tls_conn_free(c.c);
		sl_tls_conn_free(s.c);
	}
}

/*
 * The conn has exchanged records (sequence numbers past 0), holds a
 * written record not taken yet, a whole record fed and not read, and half
 * of the next one: the record layer continues from there.
 */
static void test_takeover(void **state)
{
	struct t_fx *f = *state;
	struct sl_tls_rl *rl = NULL;
	struct t_end c, s;
	size_t whole;
	uint8_t in[64];

	shake(f, NULL, &c, &s);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(sl_tls_conn_write(c.c, "c2s", 3), 3);
		t_flush(&c, &c2s);
		t_deliver(&c2s, &s);
		conn_read_exact(s.c, in, 3);
		assert_int_equal(sl_tls_conn_write(s.c, "s2c", 3), 3);
		t_flush(&s, &s2c);
		t_deliver(&s2c, &c);
		conn_read_exact(c.c, in, 3);
	}
	assert_int_equal(sl_tls_conn_write(s.c, "pending", 7), 7);
	assert_int_equal(sl_tls_conn_write(c.c, "whole", 5), 5);
	t_flush(&c, &c2s);
	whole = c2s.len;
	assert_int_equal(sl_tls_conn_write(c.c, "partial", 7), 7);
	t_flush(&c, &c2s);
	/* "whole" and 9 bytes of "partial" reach the server conn */
	assert_int_equal(sl_tls_conn_feed(s.c, c2s.buf, whole + 9), 0);
	assert_int_equal(sl_tls_rl_new(s.c, &rl), 0);
	sl_tls_conn_free(s.c);
	rl_flush(rl, &s2c);
	t_deliver(&s2c, &c);
	conn_read_exact(c.c, in, 7);
	assert_memory_equal(in, "pending", 7);
	rl_read_exact(rl, in, 5);
	assert_memory_equal(in, "whole", 5);
	assert_int_equal(sl_tls_rl_read(rl, in, 64), -EAGAIN);
	assert_int_equal(sl_tls_rl_feed(rl, c2s.buf + whole + 9,
					c2s.len - whole - 9), 0);
	rl_read_exact(rl, in, 7);
	assert_memory_equal(in, "partial", 7);
	/* and our next record carries on from the conn's sequence number */
	assert_int_equal(sl_tls_rl_write(rl, "more", 4), 4);
	rl_flush(rl, &s2c);
	t_deliver(&s2c, &c);
	conn_read_exact(c.c, in, 4);
	assert_memory_equal(in, "more", 4);
	sl_tls_rl_free(rl);
	sl_tls_conn_free(c.c);
}

/* no record layer before the handshake, nor after a KeyUpdate */
static void test_refused(void **state)
{
	struct t_fx *f = *state;
	struct sl_tls_rl *rl = NULL;
	struct t_end c, s;
	uint8_t in[8];

	assert_int_equal(sl_tls_conn_new(f->ctx, SL_TLS_CLIENT, f->client_id,
					 ID_SERVER, &c.c), 0);
	assert_int_equal(sl_tls_rl_new(c.c, &rl), -EBUSY);
	sl_tls_conn_free(c.c);
	shake(f, NULL, &c, &s);
	assert_int_equal(SSL_key_update(c.c->ssl, SSL_KEY_UPDATE_NOT_REQUESTED), 1);
	assert_int_equal(sl_tls_conn_write(c.c, "k", 1), 1);
	t_flush(&c, &c2s);
	t_deliver(&c2s, &s);
	conn_read_exact(s.c, in, 1);
	assert_int_equal(sl_tls_rl_new(s.c, &rl), -EBUSY);
	assert_int_equal(sl_tls_rl_new(c.c, &rl), -EBUSY);
	assert_null(rl);
	sl_tls_conn_free(c.c);
	sl_tls_conn_free(s.c);
}

/* ---- records sealed by the test itself ---------------------------------- */

/* the TLS 1.3 suites: id, AEAD, hash */
static const struct {
	uint16_t id;
	const char *cipher, *md;
} rl_suites[] = {
	{ 0x1301, "AES-128-GCM", "SHA256" },
	{ 0x1302, "AES-256-GCM", "SHA384" },
	{ 0x1303, "ChaCha20-Poly1305", "SHA256" },
};

#define N_SUITES (sizeof(rl_suites) / sizeof(rl_suites[0]))

static const uint8_t peer_secret[48] = { 0x5a, 1, 2, 3, 4 };
static const uint8_t our_secret[48] = { 0xa5, 6, 7, 8, 9 };

/* the peer's side of one direction, sealed with EVP independently of
 * record.c: key and iv from the secret, a sequence number */
struct sealer {
	const EVP_CIPHER *cipher;
	uint8_t key[32], iv[12];
	uint64_t seq;
};

static void sealer_init(struct sealer *s, size_t suite)
{
	const EVP_MD *md = EVP_get_digestbyname(rl_suites[suite].md);
	size_t slen;

	assert_non_null(md);
	slen = (size_t)EVP_MD_get_size(md);
	s->cipher = EVP_get_cipherbyname(rl_suites[suite].cipher);
	assert_non_null(s->cipher);
	assert_int_equal(sl_hs_hkdf_expand_label(md, peer_secret, slen, "key",
						 s->key,
						 (size_t)EVP_CIPHER_get_key_length(
							 s->cipher)), 0);
	assert_int_equal(sl_hs_hkdf_expand_label(md, peer_secret, slen, "iv",
						 s->iv, sizeof(s->iv)), 0);
	s->seq = 0;
}

/* the reader: the record layer with the peer's secret as its read secret */
static struct sl_tls_rl *reader(size_t suite)
{
	const EVP_MD *md = EVP_get_digestbyname(rl_suites[suite].md);
	struct sl_tls_rl *rl = NULL;

	assert_int_equal(sl_tls_rl_new_secrets(rl_suites[suite].id, peer_secret,
					       our_secret,
					       (size_t)EVP_MD_get_size(md), &rl),
			 0);
	return rl;
}

/* one record of inner type @type around @len bytes at @out (@len + 22
 * bytes); @retval its length */
static size_t seal_rec(struct sealer *s, uint8_t type, const void *in,
		       size_t len, uint8_t *out)
{
	size_t ct_len = len + 1 + 16;
	uint8_t nonce[12];
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0;

	assert_non_null(ctx);
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
	assert_int_equal(EVP_EncryptInit_ex(ctx, s->cipher, NULL, s->key, nonce), 1);
	assert_int_equal(EVP_EncryptUpdate(ctx, NULL, &n, out, 5), 1);
	assert_int_equal(EVP_EncryptUpdate(ctx, out + 5, &n, out + 5,
					   (int)len + 1), 1);
	assert_int_equal(EVP_EncryptFinal_ex(ctx, out + 6 + len, &n), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16,
					     out + 6 + len), 1);
	EVP_CIPHER_CTX_free(ctx);
	s->seq++;
	return 5 + ct_len;
}

/* plaintext with no 0x00 and no 0xa5 byte (what a wipe and the fill
 * leave), so that any byte of it in a buffer is seen; different on each
 * call, so that what one case leaves is not found by the next */
static void marker(uint8_t *p, size_t n)
{
	static unsigned int calls;

	calls++;
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(0x10 + (i * calls + calls) % 0x90);
}

static bool holds(const uint8_t *hay, size_t n, const uint8_t *needle,
		  size_t m)
{
	for (size_t i = 0; i + m <= n; i++)
		if (!memcmp(hay + i, needle, m))
			return true;
	return false;
}

/*
 * Whether a buffer the record layer's per-thread cache hands out holds
 * @pt: it keeps at most 16 freed buffers per thread, so 17 layers that
 * each take a 4 KiB input buffer get every cached 4 KiB buffer.
 */
static bool recycled_holds(const uint8_t *pt, size_t len)
{
	struct sl_tls_rl *rl[17];
	bool found = false;

	for (size_t i = 0; i < 17; i++) {
		size_t room = 0;
		uint8_t *p;

		rl[i] = reader(0);
		p = sl_tls_rl_in_space(rl[i], 4096, &room);
		assert_non_null(p);
		assert_true(room >= 4096);
		found |= holds(p, room, pt, len);
	}
	for (size_t i = 0; i < 17; i++)
		sl_tls_rl_free(rl[i]);
	return found;
}

/*
 * A record whose tag is wrong: the read fails and no byte of its
 * plaintext is left, neither in the caller's buffer (decrypted straight
 * into it when it is large enough) nor in the layer's input buffer
 * (decrypted in place for a small read), which goes back to the
 * per-thread cache and on to another session.
 */
static void test_bad_tag_leaves_no_plaintext(void **state)
{
	uint8_t pt[300], rec[300 + 22], buf[1024];

	(void)state;
	for (size_t i = 0; i < N_SUITES; i++) {
		for (int small = 0; small < 2; small++) {
			struct sl_tls_rl *rl = reader(i);
			struct sealer s;
			size_t len;
			ssize_t r;

			marker(pt, sizeof(pt));
			sealer_init(&s, i);
			len = seal_rec(&s, 23, pt, sizeof(pt), rec);
			rec[len - 1] ^= 0x80; /* the tag's last byte */
			assert_int_equal(sl_tls_rl_feed(rl, rec, len), 0);
			memset(buf, 0xa5, sizeof(buf));
			r = sl_tls_rl_read(rl, buf, small ? 8 : sizeof(buf));
			assert_int_equal(r, -EPROTO);
			for (size_t j = 0; j < sizeof(buf); j++)
				if (buf[j] != 0 && buf[j] != 0xa5)
					fail_msg("%s, %s read: byte %zu of the "
						 "output is 0x%02x after a "
						 "failed record (plaintext)",
						 rl_suites[i].cipher,
						 small ? "small" : "large", j,
						 buf[j]);
			sl_tls_rl_free(rl);
			if (recycled_holds(pt, 32))
				fail_msg("%s, %s read: the plaintext of a "
					 "failed record is left in a freed "
					 "input buffer", rl_suites[i].cipher,
					 small ? "small" : "large");
		}
	}
}

enum bad_kind {
	BAD_TAG,      /* a record that fails authentication */
	BAD_ALERT,    /* a fatal alert (handshake_failure) */
	BAD_TYPE,     /* an unknown inner content type */
	BAD_NO_TYPE,  /* a record of zero padding only: no content type */
	BAD_TRUNC,    /* TCP EOF inside a record */
	BAD_EOF,      /* TCP EOF between records, without close_notify */
	BAD__MAX,
};

static const char *const bad_names[BAD__MAX] = {
	"bad tag", "fatal alert", "unknown content type", "no content type",
	"EOF inside a record", "EOF without close_notify",
};

/*
 * After a failure, every later read fails: a valid record that follows
 * (at the sequence number the layer expects next, so that only the
 * failure itself can refuse it) is not read, nor is the rest of a
 * truncated record fed after EOF.
 */
static void test_failure_sticks(void **state)
{
	static const uint8_t alert[2] = { 2, 40 }, zero[1] = { 0 };
	static uint8_t recs[4 * 128];
	uint8_t buf[64];

	(void)state;
	for (size_t i = 0; i < N_SUITES; i++) {
		for (int kind = 0; kind < BAD__MAX; kind++) {
			struct sl_tls_rl *rl = reader(i);
			struct sealer s;
			size_t len = 0, good;

			sealer_init(&s, i);
			switch (kind) {
			case BAD_TAG:
				/* the bad copy, then the record intact */
				good = seal_rec(&s, 23, "first", 5, recs);
				memcpy(recs + good, recs, good);
				recs[good - 1] ^= 1;
				len = 2 * good;
				break;
			case BAD_ALERT:
				len = seal_rec(&s, 21, alert, 2, recs);
				break;
			case BAD_TYPE:
				len = seal_rec(&s, 99, "x", 1, recs);
				break;
			case BAD_NO_TYPE:
				/* inner plaintext 00 00: padding, no type */
				len = seal_rec(&s, 0, zero, 1, recs);
				break;
			case BAD_TRUNC:
			case BAD_EOF:
				len = seal_rec(&s, 23, "first", 5, recs);
				break;
			}
			/* then a valid record, at the next sequence number */
			good = seal_rec(&s, 23, "valid", 5, recs + len);
			if (kind == BAD_TRUNC) {
				assert_int_equal(sl_tls_rl_feed(rl, recs, len + 9), 0);
				assert_int_equal(sl_tls_rl_read(rl, buf, sizeof(buf)),
						 5); /* "first" */
				assert_int_equal(sl_tls_rl_read(rl, buf, sizeof(buf)),
						 -EAGAIN);
				sl_tls_rl_feed_eof(rl);
				assert_int_equal(sl_tls_rl_read(rl, buf, sizeof(buf)),
						 -EPROTO);
				/* the rest of the record arrives anyway */
				assert_int_equal(sl_tls_rl_feed(rl, recs + len + 9,
								good - 9), 0);
			} else if (kind == BAD_EOF) {
				assert_int_equal(sl_tls_rl_feed(rl, recs, len), 0);
				assert_int_equal(sl_tls_rl_read(rl, buf, sizeof(buf)),
						 5);
				sl_tls_rl_feed_eof(rl);
				assert_int_equal(sl_tls_rl_read(rl, buf, sizeof(buf)),
						 -EPROTO);
				assert_int_equal(sl_tls_rl_feed(rl, recs + len,
								good), 0);
			} else {
				assert_int_equal(sl_tls_rl_feed(rl, recs, len), 0);
				assert_int_equal(sl_tls_rl_read(rl, buf, sizeof(buf)),
						 -EPROTO);
				assert_int_equal(sl_tls_rl_feed(rl, recs + len,
								good), 0);
			}
			for (int again = 0; again < 2; again++) {
				ssize_t r = sl_tls_rl_read(rl, buf, sizeof(buf));

				if (r != -EPROTO)
					fail_msg("%s, %s: a read after the "
						 "failure returned %zd, not "
						 "-EPROTO", rl_suites[i].cipher,
						 bad_names[kind], r);
			}
			sl_tls_rl_free(rl);
		}
	}
}

/* After close_notify: 0 on every read, whatever follows (a valid record,
 * TCP EOF, which is no truncation any more). */
static void test_eof_sticks(void **state)
{
	static const uint8_t close_notify[2] = { 1, 0 };
	uint8_t recs[128], buf[64];

	(void)state;
	for (size_t i = 0; i < N_SUITES; i++) {
		struct sl_tls_rl *rl = reader(i);
		struct sealer s;
		size_t len, good;

		sealer_init(&s, i);
		len = seal_rec(&s, 21, close_notify, 2, recs);
		good = seal_rec(&s, 23, "valid", 5, recs + len);
		assert_int_equal(sl_tls_rl_feed(rl, recs, len), 0);
		assert_int_equal(sl_tls_rl_read(rl, buf, sizeof(buf)), 0);
		assert_int_equal(sl_tls_rl_feed(rl, recs + len, good), 0);
		assert_int_equal(sl_tls_rl_read(rl, buf, sizeof(buf)), 0);
		sl_tls_rl_feed_eof(rl);
		assert_int_equal(sl_tls_rl_read(rl, buf, sizeof(buf)), 0);
		sl_tls_rl_free(rl);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_suites),
		cmocka_unit_test(test_keyupdate),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_takeover),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_bad_tag_leaves_no_plaintext),
		cmocka_unit_test(test_failure_sticks),
		cmocka_unit_test(test_eof_sticks),
	};

	int failed;

	/* both AES-GCM paths of the record layer against libssl: OpenSSL's
	 * EVP, then gcm.c's VAES code where this CPU has it */
	sl_gcm_set_mode(SL_GCM_OPENSSL);
	if (strcmp(sl_gcm_impl_name(), "openssl"))
		return 1;
	failed = cmocka_run_group_tests_name("aes-gcm openssl", tests,
					     t_fx_setup, t_fx_teardown);
	sl_gcm_set_mode(SL_GCM_AUTO);
	printf("# aes-gcm auto: %s\n", sl_gcm_impl_name());
	return failed + cmocka_run_group_tests_name("aes-gcm auto", tests,
						    t_fx_setup, t_fx_teardown);
}

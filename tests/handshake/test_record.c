// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of the record layer (record.h) against OpenSSL: a conn pair
 * shakes hands in memory, then one side moves to sl_tls_rl and talks to the
 * other, which stays an OpenSSL session (sl_tls_conn): data both ways in
 * every suite, records larger than one TLS record, KeyUpdate (requested
 * and not), close_notify, truncation, a corrupted record, and what the
 * conn still held when the record layer took over.  All of it twice: with
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_suites),
		cmocka_unit_test(test_keyupdate),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_takeover),
		cmocka_unit_test(test_refused),
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

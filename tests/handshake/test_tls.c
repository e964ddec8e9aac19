// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of the TLS engine: handshakes between two conns in memory and
 * over a socketpair, application data, close_notify and truncation, and
 * every failure class.
 */
#include <openssl/sha.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/err.h>

#include "hs_test.h"
#include "record.h"
#include "tls_internal.h" /* the conn's SSL, for the peer chain */
#include "util.h"

#define ID_CLIENT T_ID_CLIENT
#define ID_SERVER T_ID_SERVER

static struct t_pipe c2s, s2c;

static void pair(struct t_fx *f, struct sl_identity *cid, struct sl_identity *sid,
		 const char *expect, struct t_end *c, struct t_end *s)
{
	memset(c, 0, sizeof(*c));
	memset(s, 0, sizeof(*s));
	c2s.len = s2c.len = 0;
	assert_int_equal(sl_tls_conn_new(f->ctx, SL_TLS_CLIENT, cid, expect, &c->c), 0);
	assert_int_equal(sl_tls_conn_new(f->ctx, SL_TLS_SERVER, sid, NULL, &s->c), 0);
}

static void end_free(struct t_end *e)
{
	sl_tls_conn_free(e->c);
	SSL_free(e->raw);
}

static void test_success_and_data(void **state)
{
	struct t_fx *f = *state;
	struct t_end c, s;
	char buf[256];
	ssize_t n;

	pair(f, f->client_id, f->server_id, ID_SERVER, &c, &s);
	/* nothing to read before the handshake */
	assert_int_equal(sl_tls_conn_read(c.c, buf, sizeof(buf)), -EPROTO);
	t_pump(&c, &s, &c2s, &s2c);
	assert_true(c.done);
	assert_true(s.done);
	assert_int_equal(sl_tls_conn_fail(c.c), SL_TLS_OK);
	assert_string_equal(sl_tls_conn_peer_id(c.c), ID_SERVER);
	assert_string_equal(sl_tls_conn_peer_id(s.c), ID_CLIENT);
	/* only the leaf went over the wire: the CA root stays home (each
	 * certificate received costs a decode, bench/hs-cost) */
	assert_int_equal(sk_X509_num(sl_identity_chain(f->server_id)), 1);
	assert_int_equal(sk_X509_num(SSL_get_peer_cert_chain(c.c->ssl)), 1);
	assert_int_equal(sk_X509_num(SSL_get_peer_cert_chain(s.c->ssl)), 0);
	assert_string_equal(sl_tls_conn_peer_serial(s.c),
			    sl_identity_serial(f->client_id));
	assert_string_equal(sl_tls_conn_peer_serial(c.c),
			    sl_identity_serial(f->server_id));
	{
		/* the Hash of x-forwarded-client-cert: the peer's leaf DER */
		unsigned char md[32], *der = NULL;
		char want[65], got[65];
		X509 *leaf = SSL_get0_peer_certificate(s.c->ssl);
		int dlen = i2d_X509(leaf, &der);

		assert_true(dlen > 0);
		SHA256(der, (size_t)dlen, md);
		OPENSSL_free(der);
		for (int i = 0; i < 32; i++)
			snprintf(want + 2 * i, 3, "%02x", md[i]);
		assert_int_equal(sl_tls_conn_peer_cert_sha256(s.c, got), 0);
		assert_string_equal(got, want);
	}
	assert_non_null(strstr(sl_tls_conn_cipher(c.c), "TLS_"));
	assert_string_equal(sl_tls_conn_cipher(c.c), sl_tls_conn_cipher(s.c));
	assert_int_equal(sl_tls_conn_want(c.c), 0);
	assert_int_equal(sl_tls_conn_want(s.c), 0);
	/* no session ticket or anything else after the handshake */
	assert_int_equal(sl_tls_conn_pending_output(s.c), 0);
	assert_int_equal(s2c.len, 0);
	assert_int_equal(c2s.len, 0);

	/* client -> server */
	assert_int_equal(sl_tls_conn_write(c.c, "hello", 5), 5);
	t_flush(&c, &c2s);
	assert_true(c2s.len > 5);
	t_deliver(&c2s, &s);
	n = sl_tls_conn_read(s.c, buf, sizeof(buf));
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(sl_tls_conn_read(s.c, buf, sizeof(buf)), -EAGAIN);
	/* server -> client */
	assert_int_equal(sl_tls_conn_write(s.c, "world!", 6), 6);
	t_flush(&s, &s2c);
	t_deliver(&s2c, &c);
	assert_int_equal(sl_tls_conn_read(c.c, buf, sizeof(buf)), 6);
	assert_memory_equal(buf, "world!", 6);
	/* close_notify from the client: the server reads a clean EOF */
	assert_int_equal(sl_tls_conn_close_notify(c.c), 0);
	t_flush(&c, &c2s);
	t_deliver(&c2s, &s);
	assert_int_equal(sl_tls_conn_read(s.c, buf, sizeof(buf)), 0);
	/* the server can still send (half close) */
	assert_int_equal(sl_tls_conn_write(s.c, "bye", 3), 3);
	assert_int_equal(sl_tls_conn_close_notify(s.c), 0);
	t_flush(&s, &s2c);
	t_deliver(&s2c, &c);
	assert_int_equal(sl_tls_conn_read(c.c, buf, sizeof(buf)), 3);
	assert_int_equal(sl_tls_conn_read(c.c, buf, sizeof(buf)), 0);
	end_free(&c);
	end_free(&s);
}

/*
 * sl_tls_conn_trim: fresh BIOs after the handshake, with ciphertext still
 * in them (written and not taken, fed and not read) carried over
 */
static void test_trim(void **state)
{
	struct t_fx *f = *state;
	struct t_end c, s;
	char buf[64];

	pair(f, f->client_id, f->server_id, ID_SERVER, &c, &s);
	assert_int_equal(sl_tls_conn_trim(c.c), -EPROTO);
	t_pump(&c, &s, &c2s, &s2c);
	assert_true(c.done && s.done);
	/* a record queued in the client's output BIO */
	assert_int_equal(sl_tls_conn_write(c.c, "queued", 6), 6);
	assert_int_equal(sl_tls_conn_trim(c.c), 0);
	assert_int_equal(sl_tls_conn_write(c.c, "after", 5), 5);
	t_flush(&c, &c2s);
	/* both records fed to the server, unread, then the server trims */
	t_deliver(&c2s, &s);
	assert_int_equal(sl_tls_conn_trim(s.c), 0);
	assert_int_equal(sl_tls_conn_read(s.c, buf, sizeof(buf)), 6);
	assert_memory_equal(buf, "queued", 6);
	assert_int_equal(sl_tls_conn_read(s.c, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "after", 5);
	assert_int_equal(sl_tls_conn_read(s.c, buf, sizeof(buf)), -EAGAIN);
	/* twice is fine; the other way still works; then close_notify */
	assert_int_equal(sl_tls_conn_trim(s.c), 0);
	assert_int_equal(sl_tls_conn_write(s.c, "back", 4), 4);
	t_flush(&s, &s2c);
	t_deliver(&s2c, &c);
	assert_int_equal(sl_tls_conn_read(c.c, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "back", 4);
	assert_int_equal(sl_tls_conn_close_notify(c.c), 0);
	t_flush(&c, &c2s);
	t_deliver(&c2s, &s);
	assert_int_equal(sl_tls_conn_read(s.c, buf, sizeof(buf)), 0);
	end_free(&c);
	end_free(&s);
}

static void test_large_data(void **state)
{
	struct t_fx *f = *state;
	struct t_end c, s;
	size_t total = 1 << 20, sent = 0, got = 0;
	unsigned char *in = malloc(total), *out = malloc(total);

	assert_non_null(in);
	assert_non_null(out);
	for (size_t i = 0; i < total; i++)
		in[i] = (unsigned char)(i * 7 + (i >> 9));
	pair(f, f->client_id, f->server_id, ID_SERVER, &c, &s);
	t_pump(&c, &s, &c2s, &s2c);
	assert_true(c.done && s.done);
	while (got < total) {
		if (sent < total) {
			ssize_t w = sl_tls_conn_write(c.c, in + sent,
						      SL_MIN(total - sent, 30000));
			assert_true(w > 0);
			sent += (size_t)w;
		}
		t_flush(&c, &c2s);
		t_deliver(&c2s, &s);
		while (got < total) {
			ssize_t r = sl_tls_conn_read(s.c, out + got, total - got);

			if (r == -EAGAIN)
				break;
			assert_true(r > 0);
			got += (size_t)r;
		}
	}
	assert_memory_equal(in, out, total);
	free(in);
	free(out);
	end_free(&c);
	end_free(&s);
}

static void test_truncation(void **state)
{
	struct t_fx *f = *state;
	struct t_end c, s;
	char buf[64];

	pair(f, f->client_id, f->server_id, ID_SERVER, &c, &s);
	t_pump(&c, &s, &c2s, &s2c);
	assert_true(c.done && s.done);
	assert_int_equal(sl_tls_conn_write(c.c, "abc", 3), 3);
	assert_int_equal(sl_tls_conn_close_notify(c.c), 0);
	t_flush(&c, &c2s);
	/* drop the close_notify record (the last 24 bytes: 5 + 1 + 2 + 16) */
	assert_true(c2s.len > 24);
	c2s.len -= 24;
	t_deliver(&c2s, &s);
	assert_int_equal(sl_tls_conn_read(s.c, buf, sizeof(buf)), 3);
	assert_int_equal(sl_tls_conn_read(s.c, buf, sizeof(buf)), -EAGAIN);
	/* the peer's TCP stream ends: never a clean 0 */
	sl_tls_conn_feed_eof(s.c);
	assert_int_equal(sl_tls_conn_read(s.c, buf, sizeof(buf)), -EPROTO);
	end_free(&c);
	end_free(&s);

	/* half a record, then EOF */
	pair(f, f->client_id, f->server_id, ID_SERVER, &c, &s);
	t_pump(&c, &s, &c2s, &s2c);
	assert_int_equal(sl_tls_conn_write(c.c, "abcdef", 6), 6);
	t_flush(&c, &c2s);
	c2s.len -= 4;
	t_deliver(&c2s, &s);
	assert_int_equal(sl_tls_conn_read(s.c, buf, sizeof(buf)), -EAGAIN);
	sl_tls_conn_feed_eof(s.c);
	assert_int_equal(sl_tls_conn_read(s.c, buf, sizeof(buf)), -EPROTO);
	end_free(&c);
	end_free(&s);

	/* a modified record is an error too */
	pair(f, f->client_id, f->server_id, ID_SERVER, &c, &s);
	t_pump(&c, &s, &c2s, &s2c);
	assert_int_equal(sl_tls_conn_write(c.c, "abcdef", 6), 6);
	t_flush(&c, &c2s);
	c2s.buf[c2s.len - 3] ^= 1;
	t_deliver(&c2s, &s);
	assert_int_equal(sl_tls_conn_read(s.c, buf, sizeof(buf)), -EPROTO);
	end_free(&c);
	end_free(&s);
}

/*
 * The client finishes first and sends application data at once; the server,
 * reading record-exactly, must finish its handshake without taking a byte of
 * that data from the "socket".
 */
static void test_record_exact(void **state)
{
	struct t_fx *f = *state;
	struct t_end c, s;
	size_t app_len;
	char buf[64];
	int rounds = 0;

	pair(f, f->client_id, f->server_id, ID_SERVER, &c, &s);
	/* run until the client is done but before the server got its Finished */
	while (!c.done && rounds++ < 50) {
		c.rc = sl_tls_conn_handshake(c.c);
		c.done = c.rc == 0;
		t_flush(&c, &c2s);
		if (c.done)
			break;
		s.rc = sl_tls_conn_handshake(s.c);
		t_flush(&s, &s2c);
		while (s2c.len && sl_tls_conn_want(c.c)) {
			size_t n = SL_MIN(sl_tls_conn_want(c.c), s2c.len);

			sl_tls_conn_feed(c.c, s2c.buf, n);
			memmove(s2c.buf, s2c.buf + n, s2c.len - n);
			s2c.len -= n;
		}
		while (c2s.len && sl_tls_conn_want(s.c)) {
			size_t n = SL_MIN(sl_tls_conn_want(s.c), c2s.len);

			sl_tls_conn_feed(s.c, c2s.buf, n);
			memmove(c2s.buf, c2s.buf + n, c2s.len - n);
			c2s.len -= n;
		}
	}
	assert_true(c.done);
	assert_int_equal(s2c.len, 0); /* the client read everything offered */
	assert_true(c2s.len > 0);     /* the client's last flight */
	assert_int_equal(sl_tls_conn_write(c.c, "early-data-after-finished", 25), 25);
	app_len = sl_tls_conn_pending_output(c.c);
	t_flush(&c, &c2s);
	/* the server now reads record-exactly until it is done */
	while (!s.done) {
		size_t want = sl_tls_conn_want(s.c);

		assert_true(want > 0);
		assert_true(want <= c2s.len);
		sl_tls_conn_feed(s.c, c2s.buf, want);
		memmove(c2s.buf, c2s.buf + want, c2s.len - want);
		c2s.len -= want;
		s.rc = sl_tls_conn_handshake(s.c);
		assert_true(s.rc == 0 || s.rc == -EAGAIN);
		s.done = s.rc == 0;
	}
	/* exactly the application record is left in the socket */
	assert_int_equal(c2s.len, app_len);
	assert_int_equal(sl_tls_conn_want(s.c), 0);
	t_deliver(&c2s, &s);
	assert_int_equal(sl_tls_conn_read(s.c, buf, sizeof(buf)), 25);
	assert_memory_equal(buf, "early-data-after-finished", 25);
	end_free(&c);
	end_free(&s);
}

/*
 * The reads the daemon makes (sl_tls_conn_read_size): the client takes the
 * server's whole flight at once, the server never more than one record's
 * rest.  @junk: bytes a broken server sends right after its Finished,
 * which fail the client's handshake instead of being left behind.
 */
static void read_size_case(struct t_fx *f, const void *junk, size_t junk_len)
{
	struct t_end c, s;
	bool junk_added = false;
	int rounds = 0;

	pair(f, f->client_id, f->server_id, ID_SERVER, &c, &s);
	assert_int_equal(sl_tls_conn_read_size(s.c, 4096, true), 5);
	assert_int_equal(sl_tls_conn_read_size(s.c, 3, true), 3);
	assert_int_equal(sl_tls_conn_read_size(s.c, 4096, false), 4096);
	assert_int_equal(sl_tls_conn_read_size(c.c, 4096, true), 4096);
	assert_int_equal(sl_tls_conn_read_size(c.c, 4096, false), 4096);
	while (!(c.done && s.done) && !c.failed && !s.failed && rounds++ < 20) {
		t_step(&c);
		t_flush(&c, &c2s);
		while (c2s.len && !s.done && !s.failed) {
			size_t n = sl_tls_conn_read_size(s.c, c2s.len, true);

			assert_true(n > 0 && n <= sl_tls_conn_want(s.c));
			sl_tls_conn_feed(s.c, c2s.buf, n);
			memmove(c2s.buf, c2s.buf + n, c2s.len - n);
			c2s.len -= n;
			t_step(&s);
		}
		t_flush(&s, &s2c);
		if (s2c.len && junk_len && !junk_added) {
			/* behind the server's first flight, which ends
			 * with its Finished */
			memcpy(s2c.buf + s2c.len, junk, junk_len);
			s2c.len += junk_len;
			junk_added = true;
		}
		if (s2c.len && !c.done) {
			/* one read: everything there is */
			assert_int_equal(sl_tls_conn_read_size(c.c, s2c.len,
							       true),
					 s2c.len);
			t_deliver(&s2c, &c);
		}
	}
	if (!junk_len) {
		assert_true(s.done);
		assert_true(c.done);
		assert_int_equal(sl_tls_conn_read_size(c.c, 4096, true), 0);
		assert_int_equal(sl_tls_conn_read_size(s.c, 4096, false), 0);
		assert_string_equal(sl_tls_conn_peer_id(c.c), ID_SERVER);
	} else {
		assert_true(c.failed);
		assert_int_equal(c.rc, -EPROTO);
		assert_int_equal(sl_tls_conn_fail(c.c), SL_TLS_FAIL_PROTOCOL);
		assert_non_null(strstr(sl_tls_conn_fail_detail(c.c),
				       "after the server's Finished"));
		assert_int_equal(sl_tls_conn_read_size(c.c, 4096, true), 0);
	}
	end_free(&c);
	end_free(&s);
}

static void test_read_size(void **state)
{
	read_size_case(*state, NULL, 0);
}

/*
 * Without kTLS the server reads greedily too: the client's application data
 * right behind its Finished comes in the same read and stays in the conn,
 * for sl_tls_conn_read() or (@rl) the record layer taking the session over.
 */
static void server_greedy_case(struct t_fx *f, bool rl)
{
	struct t_end c, s;
	struct sl_tls_rl *r = NULL;
	bool sent = false;
	char buf[64];
	int rounds = 0;

	pair(f, f->client_id, f->server_id, ID_SERVER, &c, &s);
	while (!s.done && !s.failed && !c.failed && rounds++ < 20) {
		t_step(&c);
		if (c.done && !sent) {
			/* the preamble, sent at once behind the Finished */
			assert_int_equal(sl_tls_conn_write(c.c, "preamble+data", 13),
					 13);
			sent = true;
		}
		t_flush(&c, &c2s);
		if (c2s.len) {
			assert_int_equal(sl_tls_conn_read_size(s.c, c2s.len,
							       false),
					 c2s.len);
			t_deliver(&c2s, &s);
		}
		t_step(&s);
		t_flush(&s, &s2c);
		if (s2c.len)
			t_deliver(&s2c, &c);
	}
	assert_true(c.done);
	assert_true(s.done);
	assert_int_equal(c2s.len, 0); /* everything went in the reads */
	if (rl) {
		assert_int_equal(sl_tls_rl_new(s.c, &r), 0);
		assert_int_equal(sl_tls_rl_read(r, buf, sizeof(buf)), 13);
		sl_tls_rl_free(r);
	} else {
		assert_int_equal(sl_tls_conn_read(s.c, buf, sizeof(buf)), 13);
	}
	assert_memory_equal(buf, "preamble+data", 13);
	end_free(&c);
	end_free(&s);
}

static void test_server_greedy(void **state)
{
	server_greedy_case(*state, false);
	server_greedy_case(*state, true);
}

static void test_fail_data_after_finished(void **state)
{
	/* an application-data record header and body */
	static const unsigned char junk[] = { 0x17, 0x03, 0x03, 0x00, 0x03,
					      'a', 'b', 'c' };

	read_size_case(*state, junk, sizeof(junk));
}

/* ---- over a real socketpair, each side in its own thread ---------------- */

struct sp_side {
	struct sl_tls_conn *c;
	int fd;
	int rc;
	char got[64];
};

static int sp_send_all(struct sp_side *sd)
{
	char buf[4096];
	size_t n;

	while ((n = sl_tls_conn_take_output(sd->c, buf, sizeof(buf))) > 0)
		if (send(sd->fd, buf, n, MSG_NOSIGNAL) != (ssize_t)n)
			return -EIO;
	return 0;
}

static void *sp_run(void *arg)
{
	struct sp_side *sd = arg;
	char buf[16384];
	ssize_t n;

	for (;;) {
		sd->rc = sl_tls_conn_handshake(sd->c);
		if (sp_send_all(sd))
			goto fail;
		if (sd->rc != -EAGAIN)
			break;
		n = recv(sd->fd, buf, sl_tls_conn_want(sd->c), MSG_WAITALL);
		if (n <= 0) {
			sl_tls_conn_feed_eof(sd->c);
			continue;
		}
		sl_tls_conn_feed(sd->c, buf, (size_t)n);
	}
	if (sd->rc)
		return NULL;
	/* ping: each side sends its peer's ID back as a line */
	sl_tls_conn_write(sd->c, sl_tls_conn_peer_id(sd->c),
			  strlen(sl_tls_conn_peer_id(sd->c)));
	sl_tls_conn_close_notify(sd->c);
	if (sp_send_all(sd))
		goto fail;
	for (size_t have = 0;;) {
		n = sl_tls_conn_read(sd->c, sd->got + have, sizeof(sd->got) - 1 - have);
		if (n > 0) {
			have += (size_t)n;
			continue;
		}
		if (n == 0)
			break;
		if (n != -EAGAIN)
			goto fail;
		n = recv(sd->fd, buf, sizeof(buf), 0);
		if (n <= 0)
			sl_tls_conn_feed_eof(sd->c);
		else
			sl_tls_conn_feed(sd->c, buf, (size_t)n);
	}
	return NULL;
fail:
	sd->rc = -EIO;
	return NULL;
}

static void test_socketpair(void **state)
{
	struct t_fx *f = *state;
	struct sp_side cs = { 0 }, ss = { 0 };
	pthread_t tc, ts;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(sl_tls_conn_new(f->ctx, SL_TLS_CLIENT, f->client_id,
					 ID_SERVER, &cs.c), 0);
	assert_int_equal(sl_tls_conn_new(f->ctx, SL_TLS_SERVER, f->server_id,
					 NULL, &ss.c), 0);
	cs.fd = sv[0];
	ss.fd = sv[1];
	assert_int_equal(pthread_create(&tc, NULL, sp_run, &cs), 0);
	assert_int_equal(pthread_create(&ts, NULL, sp_run, &ss), 0);
	pthread_join(tc, NULL);
	pthread_join(ts, NULL);
	assert_int_equal(cs.rc, 0);
	assert_int_equal(ss.rc, 0);
	assert_string_equal(cs.got, ID_CLIENT); /* server echoed the client's ID */
	assert_string_equal(ss.got, ID_SERVER);
	sl_tls_conn_free(cs.c);
	sl_tls_conn_free(ss.c);
	close(sv[0]);
	close(sv[1]);
}

/* ---- failure classes ---------------------------------------------------- */

static void expect_fail(struct t_end *verifier, struct t_end *other,
			enum sl_tls_fail want)
{
	assert_true(verifier->failed);
	assert_false(verifier->done);
	if (sl_tls_conn_fail(verifier->c) != want)
		fail_msg("got %s (%s), want %s",
			 sl_tls_fail_name(sl_tls_conn_fail(verifier->c)),
			 sl_tls_conn_fail_detail(verifier->c),
			 sl_tls_fail_name(want));
	assert_true(strlen(sl_tls_conn_fail_detail(verifier->c)) > 0);
	print_message("    %s: %s\n", sl_tls_fail_name(want),
		      sl_tls_conn_fail_detail(verifier->c));
	assert_null(sl_tls_conn_peer_id(verifier->c));
	if (!other->done)
		return;
	/*
	 * TLS 1.3: a client is done when it sends its Finished, before the
	 * server looked at its certificate.  It learns of the rejection from
	 * the server's alert, on its first read: never application data.
	 */
	assert_true(verifier->c && sl_tls_conn_fail(verifier->c) != SL_TLS_OK);
	if (other->c) {
		char buf[16];

		t_flush(verifier, &s2c);
		t_deliver(&s2c, other);
		assert_int_equal(sl_tls_conn_read(other->c, buf, sizeof(buf)),
				 -EPROTO);
	} else {
		char buf[16];

		t_flush(verifier, &s2c);
		t_deliver(&s2c, other);
		assert_true(SSL_read(other->raw, buf, sizeof(buf)) <= 0);
		ERR_clear_error();
	}
}

static void test_fail_wrong_id(void **state)
{
	struct t_fx *f = *state;
	struct t_end c, s;

	pair(f, f->client_id, f->server_id,
	     "spiffe://" T_TD "/ns/shop/sa/payments", &c, &s);
	t_pump(&c, &s, &c2s, &s2c);
	expect_fail(&c, &s, SL_TLS_FAIL_WRONG_ID);
	assert_int_equal(c.rc, -EACCES);
	assert_true(s.failed);
	end_free(&c);
	end_free(&s);
}

static void test_fail_untrusted(void **state)
{
	struct t_fx *f = *state;
	struct sl_identity *foreign = NULL;
	char *dir2 = NULL;
	struct sl_ca *ca2 = t_new_ca(T_TD, &dir2);
	struct t_end c, s;

	assert_non_null(ca2);
	assert_int_equal(sl_ca_issue(ca2, ID_CLIENT, 3600, &foreign), 0);
	pair(f, foreign, f->server_id, ID_SERVER, &c, &s);
	t_pump(&c, &s, &c2s, &s2c);
	expect_fail(&s, &c, SL_TLS_FAIL_UNTRUSTED);
	/* the client hears "unknown CA" (on its first read, see expect_fail) */
	assert_int_equal(sl_tls_conn_fail(c.c), SL_TLS_FAIL_UNTRUSTED);
	end_free(&c);
	end_free(&s);
	/* and a server with a foreign certificate is rejected by the client */
	pair(f, f->client_id, foreign, ID_CLIENT, &c, &s);
	t_pump(&c, &s, &c2s, &s2c);
	expect_fail(&c, &s, SL_TLS_FAIL_UNTRUSTED);
	end_free(&c);
	end_free(&s);
	sl_identity_put(foreign);
	sl_ca_free(ca2);
	t_rmdir(dir2);
}

static void test_fail_expired(void **state)
{
	struct t_fx *f = *state;
	struct sl_identity *old = NULL;
	time_t now = time(NULL);
	struct t_end c, s;

	assert_int_equal(sl_ca_issue_window(f->ca, ID_CLIENT, now - 7200,
					    now - 60, &old), 0);
	pair(f, old, f->server_id, ID_SERVER, &c, &s);
	t_pump(&c, &s, &c2s, &s2c);
	expect_fail(&s, &c, SL_TLS_FAIL_EXPIRED);
	assert_int_equal(sl_tls_conn_fail(c.c), SL_TLS_FAIL_EXPIRED);
	end_free(&c);
	end_free(&s);
	sl_identity_put(old);
	/* not yet valid counts as outside the window too */
	assert_int_equal(sl_ca_issue_window(f->ca, ID_CLIENT, now + 3600,
					    now + 7200, &old), 0);
	pair(f, old, f->server_id, ID_SERVER, &c, &s);
	t_pump(&c, &s, &c2s, &s2c);
	expect_fail(&s, &c, SL_TLS_FAIL_EXPIRED);
	end_free(&c);
	end_free(&s);
	sl_identity_put(old);
}

/* A raw OpenSSL client with a hand-made certificate against our server. */
static void raw_client_case(struct t_fx *f, const struct t_cert_opts *o,
			    bool with_cert, bool alpn, enum sl_tls_fail want)
{
	EVP_PKEY *ca_key = t_ca_key(f->dir), *key = NULL;
	X509 *cert = NULL;
	struct t_end c = { 0 }, s = { 0 };

	assert_non_null(ca_key);
	if (with_cert) {
		cert = t_make_cert(sl_ca_cert(f->ca), ca_key, o, &key);
		assert_non_null(cert);
	}
	c.raw = t_raw_ssl(false, cert, key, sl_ca_cert(f->ca), alpn);
	c2s.len = s2c.len = 0;
	assert_int_equal(sl_tls_conn_new(f->ctx, SL_TLS_SERVER, f->server_id,
					 NULL, &s.c), 0);
	t_pump(&c, &s, &c2s, &s2c);
	expect_fail(&s, &c, want);
	end_free(&c);
	end_free(&s);
	X509_free(cert);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca_key);
}

static void test_raw_client_good(void **state)
{
	struct t_fx *f = *state;
	struct t_cert_opts o = { .uri = { ID_CLIENT } };
	EVP_PKEY *ca_key = t_ca_key(f->dir), *key = NULL;
	X509 *cert = t_make_cert(sl_ca_cert(f->ca), ca_key, &o, &key);
	struct t_end c = { 0 }, s = { 0 };

	/* the control case: a hand-made cert that is fine is accepted */
	assert_non_null(cert);
	c.raw = t_raw_ssl(false, cert, key, NULL, true);
	c2s.len = s2c.len = 0;
	assert_int_equal(sl_tls_conn_new(f->ctx, SL_TLS_SERVER, f->server_id,
					 NULL, &s.c), 0);
	t_pump(&c, &s, &c2s, &s2c);
	assert_true(s.done);
	assert_true(c.done);
	assert_string_equal(sl_tls_conn_peer_id(s.c), ID_CLIENT);
	end_free(&c);
	end_free(&s);
	X509_free(cert);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca_key);
}

static void test_fail_two_sans(void **state)
{
	struct t_cert_opts o = {
		.uri = { ID_CLIENT, "spiffe://" T_TD "/ns/shop/sa/admin" },
	};

	raw_client_case(*state, &o, true, true, SL_TLS_FAIL_BAD_SAN);
}

static void test_fail_dns_san(void **state)
{
	struct t_cert_opts o = { .uri = { ID_CLIENT }, .dns = "cart.shop.svc" };

	raw_client_case(*state, &o, true, true, SL_TLS_FAIL_BAD_SAN);
}

static void test_fail_no_san(void **state)
{
	struct t_cert_opts o = { .uri = { NULL } };

	raw_client_case(*state, &o, true, true, SL_TLS_FAIL_BAD_SAN);
}

static void test_fail_not_spiffe(void **state)
{
	struct t_cert_opts o = { .uri = { "https://" T_TD "/ns/shop/sa/x" } };

	raw_client_case(*state, &o, true, true, SL_TLS_FAIL_BAD_SAN);
}

static void test_fail_trust_domain(void **state)
{
	struct t_fx *f = *state;
	struct sl_identity *other = NULL;
	struct t_end c, s;

	/* same CA, other trust domain */
	assert_int_equal(sl_ca_issue(f->ca, "spiffe://evil.example/ns/shop/sa/frontend",
				     3600, &other), 0);
	pair(f, other, f->server_id, ID_SERVER, &c, &s);
	t_pump(&c, &s, &c2s, &s2c);
	expect_fail(&s, &c, SL_TLS_FAIL_TRUST_DOMAIN);
	end_free(&c);
	end_free(&s);
	sl_identity_put(other);
}

static void test_fail_ca_leaf(void **state)
{
	struct t_cert_opts o = { .uri = { ID_CLIENT }, .ca = true };

	raw_client_case(*state, &o, true, true, SL_TLS_FAIL_BAD_CERT);
}

/*
 * basicConstraints on a peer's leaf, both ways (our server verifying a
 * client, our client verifying a server): required and CA:FALSE, critical
 * or not.  A leaf without it is refused as one with CA:TRUE is.  @want:
 * NULL when accepted, else a piece of the failure detail.
 */
static void leaf_bc_case(struct t_fx *f, const char *bc, const char *want)
{
	EVP_PKEY *ca_key = t_ca_key(f->dir);

	assert_non_null(ca_key);
	for (int server_verifies = 1; server_verifies >= 0; server_verifies--) {
		struct t_cert_opts o = {
			.uri = { server_verifies ? ID_CLIENT : ID_SERVER },
			.bc = bc,
		};
		EVP_PKEY *key = NULL;
		X509 *cert = t_make_cert(sl_ca_cert(f->ca), ca_key, &o, &key);
		struct t_end c = { 0 }, s = { 0 };
		struct t_end *verifier = server_verifies ? &s : &c;
		struct t_end *other = server_verifies ? &c : &s;

		assert_non_null(cert);
		c2s.len = s2c.len = 0;
		if (server_verifies) {
			c.raw = t_raw_ssl(false, cert, key, NULL, true);
			assert_int_equal(sl_tls_conn_new(f->ctx, SL_TLS_SERVER,
							 f->server_id, NULL,
							 &s.c), 0);
		} else {
			s.raw = t_raw_ssl(true, cert, key, NULL, true);
			assert_int_equal(sl_tls_conn_new(f->ctx, SL_TLS_CLIENT,
							 f->client_id, ID_SERVER,
							 &c.c), 0);
		}
		t_pump(&c, &s, &c2s, &s2c);
		if (!want) {
			if (!verifier->done)
				fail_msg("basicConstraints \"%s\": refused by "
					 "our %s: %s", bc,
					 server_verifies ? "server" : "client",
					 sl_tls_conn_fail_detail(verifier->c));
			assert_string_equal(sl_tls_conn_peer_id(verifier->c),
					    o.uri[0]);
		} else {
			expect_fail(verifier, other, SL_TLS_FAIL_BAD_CERT);
			if (!strstr(sl_tls_conn_fail_detail(verifier->c), want))
				fail_msg("basicConstraints \"%s\": detail \"%s\" "
					 "does not say \"%s\"", bc,
					 sl_tls_conn_fail_detail(verifier->c),
					 want);
		}
		end_free(&c);
		end_free(&s);
		X509_free(cert);
		EVP_PKEY_free(key);
	}
	EVP_PKEY_free(ca_key);
}

static void test_leaf_basic_constraints(void **state)
{
	struct t_fx *f = *state;

	leaf_bc_case(f, "", "no basicConstraints");
	leaf_bc_case(f, "critical,CA:TRUE", "CA:TRUE");
	/* OpenSSL's strict checks see this one first ("Basic Constraints of
	 * CA cert not marked critical") */
	leaf_bc_case(f, "CA:TRUE", "CA");
	leaf_bc_case(f, "critical,CA:FALSE", NULL);
	leaf_bc_case(f, "CA:FALSE", NULL);
}

static void test_fail_eku(void **state)
{
	struct t_cert_opts o = { .uri = { ID_CLIENT }, .server_only = true };
	struct t_cert_opts o2 = { .uri = { ID_CLIENT }, .no_eku = true };

	raw_client_case(*state, &o, true, true, SL_TLS_FAIL_BAD_CERT);
	raw_client_case(*state, &o2, true, true, SL_TLS_FAIL_BAD_CERT);
}

static void test_fail_no_client_cert(void **state)
{
	struct t_cert_opts o = { .uri = { NULL } };

	raw_client_case(*state, &o, false, true, SL_TLS_FAIL_NO_CERT);
}

static void test_fail_no_alpn(void **state)
{
	struct t_cert_opts o = { .uri = { ID_CLIENT } };

	raw_client_case(*state, &o, true, false, SL_TLS_FAIL_PROTOCOL);
}

static void test_fail_plaintext(void **state)
{
	struct t_fx *f = *state;
	static const char req[] = "GET / HTTP/1.1\r\nHost: cart\r\n\r\n";
	struct sl_tls_conn *s = NULL;
	int rc;

	assert_int_equal(sl_tls_conn_new(f->ctx, SL_TLS_SERVER, f->server_id,
					 NULL, &s), 0);
	assert_int_equal(sl_tls_conn_want(s), 5);
	assert_int_equal(sl_tls_conn_feed(s, req, 5), 0);
	rc = sl_tls_conn_handshake(s);
	if (rc == -EAGAIN) {
		assert_int_equal(sl_tls_conn_feed(s, req + 5, sizeof(req) - 6), 0);
		rc = sl_tls_conn_handshake(s);
	}
	assert_int_equal(rc, -EPROTO);
	assert_int_equal(sl_tls_conn_fail(s), SL_TLS_FAIL_PROTOCOL);
	/* sticky */
	assert_int_equal(sl_tls_conn_handshake(s), -EPROTO);
	assert_int_equal(sl_tls_conn_want(s), 0);
	sl_tls_conn_free(s);
}

static void test_fail_huge_record(void **state)
{
	struct t_fx *f = *state;
	static const unsigned char hdr[] = { 0x16, 0x03, 0x01, 0xff, 0xff };
	struct sl_tls_conn *s = NULL;

	assert_int_equal(sl_tls_conn_new(f->ctx, SL_TLS_SERVER, f->server_id,
					 NULL, &s), 0);
	assert_int_equal(sl_tls_conn_feed(s, hdr, sizeof(hdr)), 0);
	assert_int_equal(sl_tls_conn_want(s), 0);
	assert_int_equal(sl_tls_conn_handshake(s), -EPROTO);
	assert_int_equal(sl_tls_conn_fail(s), SL_TLS_FAIL_PROTOCOL);
	sl_tls_conn_free(s);
}

static void test_fail_eof_in_handshake(void **state)
{
	struct t_fx *f = *state;
	struct t_end c, s;

	pair(f, f->client_id, f->server_id, ID_SERVER, &c, &s);
	c.rc = sl_tls_conn_handshake(c.c);
	assert_int_equal(c.rc, -EAGAIN);
	sl_tls_conn_feed_eof(c.c);
	assert_int_equal(sl_tls_conn_handshake(c.c), -ECONNRESET);
	end_free(&c);
	end_free(&s);
}

/* Two roots in the bundle: leaves of either CA are accepted (rotation). */
static void test_two_roots(void **state)
{
	struct t_fx *f = *state;
	STACK_OF(X509) *roots = sk_X509_new_null();
	struct sl_identity *new_client = NULL, *new_server = NULL;
	struct sl_trust *both = NULL;
	struct sl_tls_ctx *ctx = NULL;
	char *dir2 = NULL;
	struct sl_ca *ca2 = t_new_ca(T_TD, &dir2);
	struct t_end c = { 0 }, s = { 0 };

	assert_non_null(ca2);
	sk_X509_push(roots, sl_ca_cert(ca2));
	sk_X509_push(roots, sl_ca_cert(f->ca));
	assert_int_equal(sl_trust_new(roots, T_TD, &both), 0);
	sk_X509_free(roots);
	assert_int_equal(sl_ca_issue(ca2, ID_CLIENT, 3600, &new_client), 0);
	assert_int_equal(sl_ca_issue(ca2, ID_SERVER, 3600, &new_server), 0);
	assert_int_equal(sl_tls_ctx_new(f->trust, &ctx), 0);
	/* the old bundle does not know the new CA ... */
	assert_int_equal(sl_tls_conn_new(ctx, SL_TLS_CLIENT, f->client_id,
					 ID_SERVER, &c.c), 0);
	assert_int_equal(sl_tls_conn_new(ctx, SL_TLS_SERVER, new_server, NULL,
					 &s.c), 0);
	c2s.len = s2c.len = 0;
	t_pump(&c, &s, &c2s, &s2c);
	expect_fail(&c, &s, SL_TLS_FAIL_UNTRUSTED);
	end_free(&c);
	end_free(&s);
	/* ... after the swap: old client + new server, new client + old server */
	assert_int_equal(sl_tls_ctx_set_trust(ctx, both), 0);
	for (int round = 0; round < 2; round++) {
		memset(&c, 0, sizeof(c));
		memset(&s, 0, sizeof(s));
		assert_int_equal(sl_tls_conn_new(ctx, SL_TLS_CLIENT,
						 round ? new_client : f->client_id,
						 ID_SERVER, &c.c), 0);
		assert_int_equal(sl_tls_conn_new(ctx, SL_TLS_SERVER,
						 round ? f->server_id : new_server,
						 NULL, &s.c), 0);
		c2s.len = s2c.len = 0;
		t_pump(&c, &s, &c2s, &s2c);
		assert_true(c.done);
		assert_true(s.done);
		assert_string_equal(sl_tls_conn_peer_id(s.c), ID_CLIENT);
		end_free(&c);
		end_free(&s);
	}
	sl_tls_ctx_free(ctx);
	sl_trust_put(both);
	sl_identity_put(new_client);
	sl_identity_put(new_server);
	sl_ca_free(ca2);
	t_rmdir(dir2);
}

/* the client's side of a ticket: due after the handshake, read from what
 * the server sent, then the session to resume */
static struct sl_tls_session *take_ticket(struct t_end *c, struct t_end *s)
{
	struct sl_tls_session *sess;

	assert_true(sl_tls_conn_ticket_due(c->c));
	assert_null(sl_tls_conn_take_session(c->c)); /* not before the ticket */
	t_flush(s, &s2c);
	assert_true(s2c.len > 0);
	/* a partial record is not enough */
	sl_tls_conn_feed(c->c, s2c.buf, 3);
	assert_int_equal(sl_tls_conn_read_ticket(c->c), -EAGAIN);
	sl_tls_conn_feed(c->c, s2c.buf + 3, s2c.len - 3);
	s2c.len = 0;
	assert_int_equal(sl_tls_conn_read_ticket(c->c), 0);
	assert_false(sl_tls_conn_ticket_due(c->c));
	sess = sl_tls_conn_take_session(c->c);
	assert_non_null(sess);
	return sess;
}

/* the record layer takes over both sides after the ticket: the server
 * wrote one record, the client read one, and data flows both ways */
static void rl_both_ways(struct t_end *c, struct t_end *s)
{
	struct sl_tls_rl *crl = NULL, *srl = NULL;
	uint8_t ct[256];
	char buf[64];
	size_t used = 0;
	ssize_t n;

	assert_int_equal(c->c->app_rd_recs, 1);
	assert_int_equal(s->c->app_wr_recs, 1);
	assert_int_equal(sl_tls_rl_new(c->c, &crl), 0);
	assert_int_equal(sl_tls_rl_new(s->c, &srl), 0);
	n = sl_tls_rl_seal(srl, "pong", 4, ct, sizeof(ct), &used);
	assert_true(n > 4);
	assert_int_equal(sl_tls_rl_feed(crl, ct, (size_t)n), 0);
	assert_int_equal(sl_tls_rl_read(crl, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "pong", 4);
	n = sl_tls_rl_seal(crl, "ping", 4, ct, sizeof(ct), &used);
	assert_true(n > 4);
	assert_int_equal(sl_tls_rl_feed(srl, ct, (size_t)n), 0);
	assert_int_equal(sl_tls_rl_read(srl, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "ping", 4);
	sl_tls_rl_free(crl);
	sl_tls_rl_free(srl);
}

/*
 * Resumption (pool refills): a client that asks gets exactly one ticket;
 * the next handshake resumes it (no certificates), both sides still know
 * the peer's identity, and the sequence numbers handed on count the
 * ticket.  A session is never resumed with another server identity, after
 * a flush, or when the server has resumption off.
 */
static void test_resumption(void **state)
{
	struct t_fx *f = *state;
	struct sl_tls_session *sess, *sess2, *sess3;
	struct t_end c, s;

	sl_tls_ctx_set_resumption(f->ctx, true);

	/* 1. a full handshake that asks for a ticket */
	pair(f, f->client_id, f->server_id, ID_SERVER, &c, &s);
	assert_int_equal(sl_tls_conn_ask_ticket(c.c, NULL), 0);
	assert_int_equal(sl_tls_conn_ask_ticket(s.c, NULL), -EINVAL);
	t_pump(&c, &s, &c2s, &s2c);
	assert_true(c.done && s.done);
	assert_false(sl_tls_conn_resumed(c.c));
	assert_true(sl_tls_conn_ticketed(s.c));
	sess = take_ticket(&c, &s);
	rl_both_ways(&c, &s);
	end_free(&c);
	end_free(&s);

	/* 2. resumed: no certificate on the wire, identities as before */
	pair(f, f->client_id, f->server_id, ID_SERVER, &c, &s);
	assert_int_equal(sl_tls_conn_ask_ticket(c.c, sess), 0);
	t_pump(&c, &s, &c2s, &s2c);
	assert_true(c.done && s.done);
	assert_true(sl_tls_conn_resumed(c.c));
	assert_true(sl_tls_conn_resumed(s.c));
	assert_null(SSL_get_peer_cert_chain(s.c->ssl) ?
			    sk_X509_value(SSL_get_peer_cert_chain(s.c->ssl), 0) : NULL);
	assert_string_equal(sl_tls_conn_peer_id(c.c), ID_SERVER);
	assert_string_equal(sl_tls_conn_peer_id(s.c), ID_CLIENT);
	sess2 = take_ticket(&c, &s);
	rl_both_ways(&c, &s);
	end_free(&c);
	end_free(&s);

	/* 3. a server presenting another identity never resumes it: a full
	 * handshake, verified against what the client expects */
	pair(f, f->server_id, f->client_id, ID_CLIENT, &c, &s);
	assert_int_equal(sl_tls_conn_ask_ticket(c.c, sess2), 0);
	t_pump(&c, &s, &c2s, &s2c);
	assert_true(c.done && s.done);
	assert_false(sl_tls_conn_resumed(c.c));
	assert_false(sl_tls_conn_resumed(s.c));
	assert_string_equal(sl_tls_conn_peer_id(c.c), ID_CLIENT);
	sl_tls_session_put(take_ticket(&c, &s));
	end_free(&c);
	end_free(&s);

	/* ... nor one that expects another peer than the session's */
	pair(f, f->client_id, f->server_id,
	     "spiffe://" T_TD "/ns/shop/sa/payments", &c, &s);
	assert_int_equal(sl_tls_conn_ask_ticket(c.c, sess2), 0);
	t_pump(&c, &s, &c2s, &s2c);
	expect_fail(&c, &s, SL_TLS_FAIL_WRONG_ID);
	end_free(&c);
	end_free(&s);

	/* 4. after a flush (new trust bundle or identities): full handshake */
	sl_tls_ctx_flush_sessions(f->ctx);
	pair(f, f->client_id, f->server_id, ID_SERVER, &c, &s);
	assert_int_equal(sl_tls_conn_ask_ticket(c.c, sess2), 0);
	t_pump(&c, &s, &c2s, &s2c);
	assert_true(c.done && s.done);
	assert_false(sl_tls_conn_resumed(s.c));
	sess3 = take_ticket(&c, &s);
	end_free(&c);
	end_free(&s);

	/* 5. resumption off: no ticket, nothing resumed, plain ALPN */
	sl_tls_ctx_set_resumption(f->ctx, false);
	pair(f, f->client_id, f->server_id, ID_SERVER, &c, &s);
	assert_int_equal(sl_tls_conn_ask_ticket(c.c, sess3), 0);
	t_pump(&c, &s, &c2s, &s2c);
	assert_true(c.done && s.done);
	assert_false(sl_tls_conn_resumed(s.c));
	assert_false(sl_tls_conn_ticketed(s.c));
	assert_false(sl_tls_conn_ticket_due(c.c));
	assert_int_equal(sl_tls_conn_read_ticket(c.c), 0);
	t_flush(&s, &s2c);
	assert_int_equal(s2c.len, 0);
	assert_int_equal(c.c->app_rd_recs, 0);
	assert_int_equal(s.c->app_wr_recs, 0);
	end_free(&c);
	end_free(&s);

	sl_tls_session_put(sess);
	sl_tls_session_put(sess2);
	sl_tls_session_put(sess3);
	sl_tls_session_put(NULL);
}

/* a server that sends application data where the ticket should be */
static void test_fail_data_for_ticket(void **state)
{
	struct t_fx *f = *state;
	struct t_end c, s;

	sl_tls_ctx_set_resumption(f->ctx, true);
	pair(f, f->client_id, f->server_id, ID_SERVER, &c, &s);
	assert_int_equal(sl_tls_conn_ask_ticket(c.c, NULL), 0);
	t_pump(&c, &s, &c2s, &s2c);
	assert_true(c.done && s.done);
	t_flush(&s, &s2c);
	s2c.len = 0; /* the ticket is lost ... */
	assert_int_equal(sl_tls_conn_write(s.c, "x", 1), 1); /* ... data instead */
	t_flush(&s, &s2c);
	t_deliver(&s2c, &c);
	assert_int_equal(sl_tls_conn_read_ticket(c.c), -EPROTO);
	assert_int_equal(sl_tls_conn_fail(c.c), SL_TLS_FAIL_PROTOCOL);
	assert_null(sl_tls_conn_take_session(c.c));
	end_free(&c);
	end_free(&s);
	sl_tls_ctx_set_resumption(f->ctx, false);
}

static void test_fail_names(void **state)
{
	for (int i = 0; i < SL_TLS_FAIL__MAX; i++)
		assert_non_null(sl_tls_fail_name(i));
	assert_string_equal(sl_tls_fail_name(SL_TLS_FAIL_WRONG_ID), "wrong_id");
	assert_string_equal(sl_tls_fail_name(SL_TLS_FAIL__MAX), "unknown");
	sl_tls_conn_free(NULL);
	sl_tls_ctx_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_success_and_data),
		cmocka_unit_test(test_trim),
		cmocka_unit_test(test_large_data),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_record_exact),
		cmocka_unit_test(test_read_size),
		cmocka_unit_test(test_server_greedy),
		cmocka_unit_test(test_fail_data_after_finished),
		cmocka_unit_test(test_socketpair),
		cmocka_unit_test(test_fail_wrong_id),
		cmocka_unit_test(test_fail_untrusted),
		cmocka_unit_test(test_fail_expired),
		cmocka_unit_test(test_raw_client_good),
		cmocka_unit_test(test_fail_two_sans),
		cmocka_unit_test(test_fail_dns_san),
		cmocka_unit_test(test_fail_no_san),
		cmocka_unit_test(test_fail_not_spiffe),
		cmocka_unit_test(test_fail_trust_domain),
		cmocka_unit_test(test_fail_ca_leaf),
		cmocka_unit_test(test_leaf_basic_constraints),
		cmocka_unit_test(test_fail_eku),
		cmocka_unit_test(test_fail_no_client_cert),
		cmocka_unit_test(test_fail_no_alpn),
		cmocka_unit_test(test_fail_plaintext),
		cmocka_unit_test(test_fail_huge_record),
		cmocka_unit_test(test_fail_eof_in_handshake),
		cmocka_unit_test(test_two_roots),
		cmocka_unit_test(test_resumption),
		cmocka_unit_test(test_fail_data_for_ticket),
		cmocka_unit_test(test_fail_names),
	};

	return cmocka_run_group_tests(tests, t_fx_setup, t_fx_teardown);
}

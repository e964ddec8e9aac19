// SPDX-License-Identifier: Apache-2.0
/* Helpers shared by the handshake tests. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "hs_test.h"
#include "util.h"

char *t_tmpdir(void)
{
	char tmpl[] = "/tmp/sl-hs-test.XXXXXX";

	if (!mkdtemp(tmpl))
		return NULL;
	return strdup(tmpl);
}

void t_rmdir(char *dir)
{
	char cmd[512];

	if (!dir)
		return;
	if (strncmp(dir, "/tmp/sl-hs-test.", 16) == 0 &&
	    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir) < (int)sizeof(cmd)) {
		if (system(cmd) != 0)
			fprintf(stderr, "t_rmdir: %s failed\n", cmd);
	}
	free(dir);
}

struct sl_ca *t_new_ca(const char *td, char **dir_out)
{
	struct sl_ca *ca = NULL;
	char *dir = t_tmpdir();

	if (!dir)
		return NULL;
	if (sl_ca_init_dir(dir, td, 30, 0) || sl_ca_load_dir(dir, &ca)) {
		t_rmdir(dir);
		return NULL;
	}
	*dir_out = dir;
	return ca;
}

EVP_PKEY *t_ca_key(const char *dir)
{
	char path[512];
	EVP_PKEY *k;
	FILE *f;

	snprintf(path, sizeof(path), "%s/ca.key", dir);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	return k;
}

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *v)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, v);
	if (ext) {
		X509_add_ext(cert, ext, -1);
		X509_EXTENSION_free(ext);
	}
}

X509 *t_make_cert(X509 *ca_cert, EVP_PKEY *ca_key,
		  const struct t_cert_opts *o, EVP_PKEY **key_out)
{
	char san[4096] = "";
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	time_t now = time(NULL);
	X509_NAME *n;

	if (!key || !x)
		goto err;
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(random() & 0x7fffffff) + 1);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
				   (const unsigned char *)"sluice-test", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(ca_cert));
	X509_set_pubkey(x, key);
	ASN1_TIME_set(X509_getm_notBefore(x), o->not_before ? o->not_before : now - 60);
	ASN1_TIME_set(X509_getm_notAfter(x), o->not_after ? o->not_after : now + 3600);
	if (o->bc && o->bc[0])
		add_ext(x, ca_cert, NID_basic_constraints, o->bc);
	else if (!o->bc)
		add_ext(x, ca_cert, NID_basic_constraints,
			o->ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	add_ext(x, ca_cert, NID_key_usage,
		o->ca ? "critical,digitalSignature,keyCertSign"
		      : "critical,digitalSignature");
	if (!o->no_eku)
		add_ext(x, ca_cert, NID_ext_key_usage,
			o->server_only ? "serverAuth" : "serverAuth,clientAuth");
	add_ext(x, ca_cert, NID_subject_key_identifier, "hash");
	add_ext(x, ca_cert, NID_authority_key_identifier, "keyid:always");
	for (int i = 0; o->uri[i]; i++) {
		if (san[0])
			strcat(san, ",");
		strcat(san, "URI:");
		strcat(san, o->uri[i]);
	}
	if (o->dns) {
		if (san[0])
			strcat(san, ",");
		strcat(san, "DNS:");
		strcat(san, o->dns);
	}
	if (san[0])
		add_ext(x, ca_cert, NID_subject_alt_name, san);
	if (X509_sign(x, ca_key, EVP_sha256()) <= 0)
		goto err;
	*key_out = key;
	return x;
err:
	X509_free(x);
	EVP_PKEY_free(key);
	return NULL;
}

static int select_sluice(SSL *ssl, const unsigned char **out,
			 unsigned char *outlen, const unsigned char *in,
			 unsigned int inlen, void *arg)
{
	static const unsigned char want[] = "\x08sluice/1";

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto((unsigned char **)out, outlen, want,
				  sizeof(want) - 1, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	return SSL_TLSEXT_ERR_OK;
}

SSL *t_raw_ssl(bool server, X509 *cert, EVP_PKEY *key, X509 *chain_ca,
	       bool alpn)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_method());
	SSL *ssl;

	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_num_tickets(ctx, 0);
	if (alpn && server)
		SSL_CTX_set_alpn_select_cb(ctx, select_sluice, NULL);
	ssl = SSL_new(ctx);
	SSL_CTX_free(ctx); /* ssl keeps a reference */
	if (cert) {
		SSL_use_certificate(ssl, cert);
		SSL_use_PrivateKey(ssl, key);
		if (chain_ca)
			SSL_add1_chain_cert(ssl, chain_ca);
	}
	if (alpn && !server)
		SSL_set_alpn_protos(ssl, (const unsigned char *)"\x08sluice/1", 9);
	SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	SSL_set_bio(ssl, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
	BIO_set_mem_eof_return(SSL_get_rbio(ssl), -1);
	if (server)
		SSL_set_accept_state(ssl);
	else
		SSL_set_connect_state(ssl);
	return ssl;
}

void t_flush(struct t_end *from, struct t_pipe *p)
{
	size_t n;

	if (from->c) {
		n = sl_tls_conn_take_output(from->c, p->buf + p->len,
					    sizeof(p->buf) - p->len);
	} else {
		int r = BIO_read(SSL_get_wbio(from->raw), p->buf + p->len,
				 (int)(sizeof(p->buf) - p->len));
		n = r > 0 ? (size_t)r : 0;
	}
	p->len += n;
}

static void pipe_consume(struct t_pipe *p, size_t n)
{
	memmove(p->buf, p->buf + n, p->len - n);
	p->len -= n;
}

void t_deliver(struct t_pipe *p, struct t_end *to)
{
	if (to->c)
		sl_tls_conn_feed(to->c, p->buf, p->len);
	else
		BIO_write(SSL_get_rbio(to->raw), p->buf, (int)p->len);
	p->len = 0;
}

/* record-exact for sl_tls_conn: never more than sl_tls_conn_want() */
static bool deliver_some(struct t_pipe *p, struct t_end *to)
{
	bool moved = false;

	if (to->done || to->failed || p->len == 0)
		return false;
	if (!to->c) {
		t_deliver(p, to);
		return true;
	}
	while (p->len > 0) {
		size_t want = sl_tls_conn_want(to->c), n;

		if (want == 0)
			break;
		n = SL_MIN(want, p->len);
		sl_tls_conn_feed(to->c, p->buf, n);
		pipe_consume(p, n);
		moved = true;
		/* let the conn consume a complete record before the next */
		if (sl_tls_conn_want(to->c) == 5)
			break;
	}
	return moved;
}

void t_step(struct t_end *e)
{
	if (e->done || e->failed)
		return;
	if (e->c) {
		e->rc = sl_tls_conn_handshake(e->c);
	} else {
		int r = SSL_do_handshake(e->raw);

		if (r == 1)
			e->rc = 0;
		else if (SSL_get_error(e->raw, r) == SSL_ERROR_WANT_READ)
			e->rc = -EAGAIN;
		else
			e->rc = -EPROTO;
		ERR_clear_error();
	}
	if (e->rc == 0)
		e->done = true;
	else if (e->rc != -EAGAIN)
		e->failed = true;
}

int t_pump(struct t_end *a, struct t_end *b, struct t_pipe *a2b,
	   struct t_pipe *b2a)
{
	int rounds = 0, idle = 0;

	while (rounds < 200 && idle < 3) {
		bool moved;

		rounds++;
		t_step(a);
		t_flush(a, a2b);
		moved = deliver_some(a2b, b);
		t_step(b);
		t_flush(b, b2a);
		moved |= deliver_some(b2a, a);
		if ((a->done || a->failed) && (b->done || b->failed))
			break;
		idle = moved ? 0 : idle + 1;
	}
	return rounds;
}

int t_openssl_verify(const char *ca_file, const char *leaf_pem,
		     const char *purpose)
{
	char cmd[1024];
	int st;

	snprintf(cmd, sizeof(cmd),
		 "openssl verify -x509_strict -purpose %s -CAfile '%s' '%s' "
		 ">/dev/null 2>&1",
		 purpose, ca_file, leaf_pem);
	st = system(cmd);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

int t_write_cert(const char *path, X509 *cert, X509 *chain_ca)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (!f)
		return -errno;
	ok = PEM_write_X509(f, cert) == 1 &&
	     (!chain_ca || PEM_write_X509(f, chain_ca) == 1);
	fclose(f);
	return ok ? 0 : -EIO;
}

int t_write_key(const char *path, EVP_PKEY *key)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (!f)
		return -errno;
	ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1;
	fclose(f);
	return ok ? 0 : -EIO;
}

int t_fx_setup(void **state)
{
	struct t_fx *f = calloc(1, sizeof(*f));
	STACK_OF(X509) *roots = sk_X509_new_null();

	if (!f || !roots)
		return -1;
	f->ca = t_new_ca(T_TD, &f->dir);
	if (!f->ca)
		return -1;
	sk_X509_push(roots, sl_ca_cert(f->ca));
	if (sl_trust_new(roots, T_TD, &f->trust) ||
	    sl_tls_ctx_new(f->trust, &f->ctx) ||
	    sl_ca_issue(f->ca, T_ID_CLIENT, 3600, &f->client_id) ||
	    sl_ca_issue(f->ca, T_ID_SERVER, 3600, &f->server_id))
		return -1;
	sk_X509_free(roots);
	*state = f;
	return 0;
}

int t_fx_teardown(void **state)
{
	struct t_fx *f = *state;

	sl_identity_put(f->client_id);
	sl_identity_put(f->server_id);
	sl_tls_ctx_free(f->ctx);
	sl_trust_put(f->trust);
	sl_ca_free(f->ca);
	t_rmdir(f->dir);
	free(f);
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hs-cost: CPU cost of sluice's per-flow TLS work, in process (no sockets).
 *
 *   hs-cost [N [auto|openssl]]
 *
 * The second argument picks the record layer's AES-GCM (sluiced's
 * --aes-gcm; default auto: gcm.c's VAES code where the CPU has it).
 *
 * Times, over N rounds (default 300), with CLOCK_THREAD_CPUTIME_ID:
 *   handshake   one full mTLS handshake, client and server sl_tls_conn
 *               (ECDSA P-256 certificates from a fresh CA, as sluiced uses)
 *   client/server  the same handshake split by side
 *   rl_new      sl_tls_rl_new on one side (the userspace relay's takeover:
 *               key derivation and cipher contexts), with sl_tls_rl_free
 *   seal_64     sealing one 64-byte record
 *   seal_64k    sealing 64 KiB (four full records, one call, as the relay
 *               does with a bulk read)
 *   open_64k    the peer's record layer reading those four records back
 *   gcm_64k     bare AES-128-GCM over the same 64 KiB (four 16 KiB
 *               EVP_EncryptInit_ex/Update/Final/GET_TAG rounds on one
 *               context): what the record layer costs beyond the cipher
 *   resumed     a pool refill's handshake with resumption on: it resumes
 *               the previous round's session (psk_dhe_ke) and reads the
 *               next ticket; client and server side apart
 *               (resumed_client, resumed_server)
 * and prints the median and p90 in microseconds.  Built by meson as
 * bench/hs-cost (not a test); see bench/README.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "gcm.h"
#include "hs_test.h"
#include "record.h"
#include "tls.h"

static struct t_pipe c2s, s2c;

static double cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void report(const char *what, double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	printf("%-12s p50 %8.1f us   p90 %8.1f us\n", what, v[n / 2],
	       v[n * 9 / 10]);
}

/* one side's step: feed what the other sent, let it answer */
static double side(struct t_end *e, struct t_pipe *in, struct t_pipe *out)
{
	double t0 = cpu_us();

	if (in->len)
		t_deliver(in, e);
	t_step(e);
	t_flush(e, out);
	return cpu_us() - t0;
}

/*
 * One refill handshake that asks for a ticket and offers *@sess (NULL the
 * first time); *@sess becomes the next session.  @retval 0, or -1 when it
 * failed or did not resume (after the first)
 */
static int resumed_round(struct t_fx *f, struct sl_tls_session **sess,
			 double *cl, double *sv)
{
	struct t_end c = { 0 }, s = { 0 };
	bool first = !*sess;
	double t0;
	int ret = -1;

	c2s.len = s2c.len = 0;
	*cl = *sv = 0;
	t0 = cpu_us();
	if (sl_tls_conn_new(f->ctx, SL_TLS_CLIENT, f->client_id, T_ID_SERVER,
			    &c.c) ||
	    sl_tls_conn_ask_ticket(c.c, *sess))
		goto out;
	*cl += cpu_us() - t0;
	t0 = cpu_us();
	if (sl_tls_conn_new(f->ctx, SL_TLS_SERVER, f->server_id, NULL, &s.c))
		goto out;
	*sv += cpu_us() - t0;
	for (int round = 0; round < 8 && !(c.done && s.done); round++) {
		*cl += side(&c, &s2c, &c2s);
		*sv += side(&s, &c2s, &s2c);
		if (c.failed || s.failed)
			goto out;
	}
	t0 = cpu_us();
	t_deliver(&s2c, &c);
	if (!c.done || !s.done || sl_tls_conn_read_ticket(c.c))
		goto out;
	sl_tls_session_put(*sess);
	*sess = sl_tls_conn_take_session(c.c);
	*cl += cpu_us() - t0;
	if (*sess && (first || sl_tls_conn_resumed(c.c)))
		ret = 0;
out:
	t0 = cpu_us();
	sl_tls_conn_free(c.c);
	*cl += cpu_us() - t0;
	t0 = cpu_us();
	sl_tls_conn_free(s.c);
	*sv += cpu_us() - t0;
	return ret;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 300;
	double *hs = calloc((size_t)n, sizeof(double));
	double *cl = calloc((size_t)n, sizeof(double));
	double *sv = calloc((size_t)n, sizeof(double));
	double *rl = calloc((size_t)n, sizeof(double));
	double *seal = calloc((size_t)n, sizeof(double));
	double *nw = calloc((size_t)n, sizeof(double));
	double *s64k = calloc((size_t)n, sizeof(double));
	double *o64k = calloc((size_t)n, sizeof(double));
	double *g64k = calloc((size_t)n, sizeof(double));
	double *rhs = calloc((size_t)n, sizeof(double));
	double *rcl = calloc((size_t)n, sizeof(double));
	double *rsv = calloc((size_t)n, sizeof(double));
	enum { BULK = 65536, BULK_CT = BULK + 4 * 22 };
	uint8_t *bulk = calloc(1, BULK), *bulk_ct = malloc(BULK_CT);
	uint8_t *bulk_pt = malloc(BULK);
	EVP_CIPHER_CTX *gcm = EVP_CIPHER_CTX_new();
	static const uint8_t gkey[16], giv[12];
	void *state;
	struct t_fx *f;

	if (n < 10 || !hs || !cl || !sv || !rl || !seal || !nw || !s64k ||
	    !o64k || !g64k || !rhs || !rcl || !rsv || !bulk || !bulk_ct || !bulk_pt || !gcm ||
	    EVP_EncryptInit_ex(gcm, EVP_aes_128_gcm(), NULL, gkey, NULL) != 1 ||
	    t_fx_setup(&state))
		return 1;
	f = state;
	if (argc > 2 && !strcmp(argv[2], "openssl"))
		sl_gcm_set_mode(SL_GCM_OPENSSL);
	else if (argc > 2 && strcmp(argv[2], "auto"))
		return 1;
	for (int i = 0; i < n; i++) {
		struct t_end c = { 0 }, s = { 0 };
		struct sl_tls_rl *r = NULL, *rs = NULL;
		uint8_t pt[64] = { 0 }, ct[256], tag[16];
		ssize_t clen;
		size_t got;
		int outl;
		size_t used;
		double t0 = cpu_us();

		c2s.len = s2c.len = 0;
		if (sl_tls_conn_new(f->ctx, SL_TLS_CLIENT, f->client_id,
				    T_ID_SERVER, &c.c))
			return 1;
		nw[i] = cpu_us() - t0;
		sl_tls_conn_free(c.c);
		c.c = NULL;
		t0 = cpu_us();
		if (sl_tls_conn_new(f->ctx, SL_TLS_CLIENT, f->client_id,
				    T_ID_SERVER, &c.c) ||
		    sl_tls_conn_new(f->ctx, SL_TLS_SERVER, f->server_id, NULL,
				    &s.c))
			return 1;
		cl[i] = sv[i] = 0;
		for (int round = 0; round < 8 && !(c.done && s.done); round++) {
			cl[i] += side(&c, &s2c, &c2s);
			sv[i] += side(&s, &c2s, &s2c);
			if (c.failed || s.failed) {
				fprintf(stderr, "hs-cost: handshake failed\n");
				return 1;
			}
		}
		hs[i] = cpu_us() - t0;
		if (!c.done || !s.done)
			return 1;
		t0 = cpu_us();
		if (sl_tls_rl_new(c.c, &r))
			return 1;
		rl[i] = cpu_us() - t0;
		t0 = cpu_us();
		clen = sl_tls_rl_seal(r, pt, sizeof(pt), ct, sizeof(ct), &used);
		if (clen <= 0)
			return 1;
		seal[i] = cpu_us() - t0;
		if (sl_tls_rl_new(s.c, &rs))
			return 1;
		/* the 64-byte record first, so the bulk ones start clean */
		if (sl_tls_rl_feed(rs, ct, (size_t)clen) ||
		    sl_tls_rl_read(rs, bulk_pt, BULK) != 64)
			return 1;
		t0 = cpu_us();
		clen = sl_tls_rl_seal(r, bulk, BULK, bulk_ct, BULK_CT, &used);
		s64k[i] = cpu_us() - t0;
		if (clen <= 0 || used != BULK)
			return 1;
		t0 = cpu_us();
		if (sl_tls_rl_feed(rs, bulk_ct, (size_t)clen))
			return 1;
		for (got = 0; got < BULK;) {
			ssize_t m = sl_tls_rl_read(rs, bulk_pt + got, BULK - got);

			if (m <= 0)
				return 1;
			got += (size_t)m;
		}
		o64k[i] = cpu_us() - t0;
		t0 = cpu_us();
		for (int k = 0; k < 4; k++) {
			uint8_t *o = bulk_ct + k * 16384;

			if (EVP_EncryptInit_ex(gcm, NULL, NULL, NULL, giv) != 1 ||
			    EVP_EncryptUpdate(gcm, NULL, &outl, o, 5) != 1 ||
			    EVP_EncryptUpdate(gcm, o, &outl, bulk + k * 16384,
					      16384) != 1 ||
			    EVP_EncryptFinal_ex(gcm, o + 16384, &outl) != 1 ||
			    EVP_CIPHER_CTX_ctrl(gcm, EVP_CTRL_AEAD_GET_TAG, 16,
						tag) != 1)
				return 1;
		}
		g64k[i] = cpu_us() - t0;
		sl_tls_rl_free(rs);
		sl_tls_rl_free(r);
		sl_tls_conn_free(c.c);
		sl_tls_conn_free(s.c);
	}
	{
		struct sl_tls_session *sess = NULL;
		double d0, d1;

		sl_tls_ctx_set_resumption(f->ctx, true);
		if (resumed_round(f, &sess, &d0, &d1))
			return 1;
		for (int i = 0; i < n; i++) {
			if (resumed_round(f, &sess, &rcl[i], &rsv[i])) {
				fprintf(stderr, "hs-cost: resumption failed\n");
				return 1;
			}
			rhs[i] = rcl[i] + rsv[i];
		}
		sl_tls_session_put(sess);
	}
	printf("hs-cost: %d rounds, thread CPU time, record layer AES-GCM %s\n",
	       n, sl_gcm_impl_name());
	report("handshake", hs, n);
	report("client", cl, n);
	report("server", sv, n);
	report("conn_new", nw, n);
	report("rl_new", rl, n);
	report("seal_64", seal, n);
	report("seal_64k", s64k, n);
	report("open_64k", o64k, n);
	report("gcm_64k", g64k, n);
	report("resumed", rhs, n);
	report("resumed_client", rcl, n);
	report("resumed_server", rsv, n);
	EVP_CIPHER_CTX_free(gcm);
	free(bulk);
	free(bulk_ct);
	free(bulk_pt);
	t_fx_teardown(&state);
	return 0;
}

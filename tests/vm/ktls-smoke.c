// SPDX-License-Identifier: Apache-2.0
/*
 * ktls-smoke: prove that the environment gives real kernel TLS.
 *
 * 1. A loopback TCP pair with TCP_ULP "tls" and TLS 1.3 AES-128-GCM TLS_TX
 *    and TLS_RX on both ends (fixed keys, crosswise): a message each way
 *    must arrive decrypted.
 * 2. A second pair where only the sender has kTLS TX: the receiver must see
 *    one TLS 1.3 record on the wire, which OpenSSL decrypts to the message
 *    with the same key (so the kernel really encrypts, with our key).
 * 3. /proc/net/tls_stat TlsTxSw, TlsRxSw and TlsCurrTxSw must have risen.
 *
 * Exit 0 pass, 1 fail, 77 no kTLS here (1 instead when SL_REQUIRE_KTLS=1).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/evp.h>

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

#define EXIT_SKIP 77
#define TAG_LEN 16
#define HDR_LEN 5

struct tls_stats {
	long long curr_tx_sw;
	long long tx_sw;
	long long rx_sw;
};

static const char msg_c2s[] = "sluice ktls-smoke: client to server";
static const char msg_s2c[] = "sluice ktls-smoke: server to client, a bit longer";

static void make_key(struct tls12_crypto_info_aes_gcm_128 *ci, unsigned char seed)
{
	memset(ci, 0, sizeof(*ci));
	ci->info.version = TLS_1_3_VERSION;
	ci->info.cipher_type = TLS_CIPHER_AES_GCM_128;
	for (size_t i = 0; i < sizeof(ci->key); i++)
		ci->key[i] = (unsigned char)(seed + i);
	for (size_t i = 0; i < sizeof(ci->iv); i++)
		ci->iv[i] = (unsigned char)(seed ^ (0x40 + i));
	for (size_t i = 0; i < sizeof(ci->salt); i++)
		ci->salt[i] = (unsigned char)(seed ^ (0x80 + i));
	ci->rec_seq[7] = 5; /* start at record 5, not 0 */
}

/* 0 ok, -errno on failure */
static int ktls_attach(int fd)
{
	if (setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls")) < 0)
		return -errno;
	return 0;
}

static int ktls_set(int fd, int dir, const struct tls12_crypto_info_aes_gcm_128 *ci)
{
	if (setsockopt(fd, SOL_TLS, dir, ci, sizeof(*ci)) < 0)
		return -errno;
	return 0;
}

static bool ktls_missing(int err)
{
	return err == -ENOENT || err == -ENOPROTOOPT || err == -EOPNOTSUPP ||
	       err == -EINVAL;
}

static int tcp_pair(int *a, int *b)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	struct timeval tv = { .tv_sec = 60 };
	int l, c = -1, s = -1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0)
		return -errno;
	if (bind(l, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&sin, &len) < 0)
		goto err;
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		goto err;
	s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0)
		goto err;
	/* a hang must fail the test, not stall it */
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	close(l);
	*a = c;
	*b = s;
	return 0;
err:
	{
		int ret = -errno;

		if (c >= 0)
			close(c);
		close(l);
		return ret;
	}
}

static int read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, (char *)buf + got, len - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		got += (size_t)n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

/* Missing file = tls module not loaded yet = all zero. */
static int read_stats(struct tls_stats *st)
{
	char name[64];
	long long v;
	FILE *f;

	memset(st, 0, sizeof(*st));
	f = fopen("/proc/net/tls_stat", "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (fscanf(f, "%63s %lld", name, &v) == 2) {
		if (!strcmp(name, "TlsCurrTxSw"))
			st->curr_tx_sw = v;
		else if (!strcmp(name, "TlsTxSw"))
			st->tx_sw = v;
		else if (!strcmp(name, "TlsRxSw"))
			st->rx_sw = v;
	}
	fclose(f);
	return 0;
}

/* Decrypt one TLS 1.3 record as the kernel should have built it. */
static int open_record(const struct tls12_crypto_info_aes_gcm_128 *ci,
		       unsigned char *rec, size_t rec_len,
		       unsigned char *out, size_t *out_len)
{
	unsigned char nonce[12];
	EVP_CIPHER_CTX *ctx;
	size_t ct_len;
	int n, fin, ret = -EBADMSG;

	if (rec_len < HDR_LEN + TAG_LEN + 1)
		return -EBADMSG;
	ct_len = rec_len - HDR_LEN - TAG_LEN;
	memcpy(nonce, ci->salt, 4);
	memcpy(nonce + 4, ci->iv, 8);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] ^= ci->rec_seq[i];

	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return -ENOMEM;
	if (EVP_DecryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, sizeof(nonce), NULL) != 1 ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, ci->key, nonce) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &n, rec, HDR_LEN) != 1 ||
	    EVP_DecryptUpdate(ctx, out, &n, rec + HDR_LEN, (int)ct_len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
				rec + HDR_LEN + ct_len) != 1 ||
	    EVP_DecryptFinal_ex(ctx, out + n, &fin) != 1)
		goto out;
	*out_len = (size_t)n + (size_t)fin;
	ret = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return ret;
}

static int fail_or_skip(const char *what, int err)
{
	const char *req = getenv("SL_REQUIRE_KTLS");

	if (ktls_missing(err) && !(req && !strcmp(req, "1"))) {
		fprintf(stderr, "SKIP: no kernel TLS here: %s: %s\n", what, strerror(-err));
		return EXIT_SKIP;
	}
	fprintf(stderr, "FAIL: %s: %s%s\n", what, strerror(-err),
		ktls_missing(err) ? " (SL_REQUIRE_KTLS=1: kTLS must work here)" : "");
	return EXIT_FAILURE;
}

#define CHECK(cond, ...)                                          \
	do {                                                      \
		if (!(cond)) {                                    \
			fprintf(stderr, "FAIL: " __VA_ARGS__);    \
			fputc('\n', stderr);                      \
			goto out;                                 \
		}                                                 \
	} while (0)

int main(void)
{
	struct tls12_crypto_info_aes_gcm_128 key_a, key_b;
	struct tls_stats before, after;
	unsigned char rec[256], plain[256];
	char buf[128];
	size_t plain_len = 0, rec_len;
	int c = -1, s = -1, c2 = -1, s2 = -1;
	int err, rc = EXIT_FAILURE;

	make_key(&key_a, 0x11);
	make_key(&key_b, 0xa7);
	err = read_stats(&before);
	CHECK(err == 0, "read /proc/net/tls_stat: %s", strerror(-err));

	/* 1. kTLS on both ends, both directions */
	err = tcp_pair(&c, &s);
	CHECK(err == 0, "loopback TCP pair: %s", strerror(-err));
	err = ktls_attach(c);
	if (err) {
		rc = fail_or_skip("setsockopt(TCP_ULP, \"tls\")", err);
		goto out;
	}
	err = ktls_set(c, TLS_TX, &key_a);
	if (err) {
		rc = fail_or_skip("setsockopt(TLS_TX, TLS 1.3 AES-128-GCM)", err);
		goto out;
	}
	err = ktls_set(c, TLS_RX, &key_b);
	CHECK(err == 0, "client TLS_RX: %s", strerror(-err));
	err = ktls_attach(s);
	CHECK(err == 0, "server TCP_ULP: %s", strerror(-err));
	err = ktls_set(s, TLS_TX, &key_b);
	CHECK(err == 0, "server TLS_TX: %s", strerror(-err));
	err = ktls_set(s, TLS_RX, &key_a);
	CHECK(err == 0, "server TLS_RX: %s", strerror(-err));

	err = write_full(c, msg_c2s, sizeof(msg_c2s));
	CHECK(err == 0, "client send: %s", strerror(-err));
	err = read_full(s, buf, sizeof(msg_c2s));
	CHECK(err == 0, "server recv: %s", strerror(-err));
	CHECK(!memcmp(buf, msg_c2s, sizeof(msg_c2s)), "server got wrong plaintext");
	err = write_full(s, msg_s2c, sizeof(msg_s2c));
	CHECK(err == 0, "server send: %s", strerror(-err));
	err = read_full(c, buf, sizeof(msg_s2c));
	CHECK(err == 0, "client recv: %s", strerror(-err));
	CHECK(!memcmp(buf, msg_s2c, sizeof(msg_s2c)), "client got wrong plaintext");
	printf("ktls-smoke: kTLS TX+RX both ways: ok\n");

	/* 2. the wire carries a real TLS 1.3 record under key_a */
	err = tcp_pair(&c2, &s2);
	CHECK(err == 0, "second TCP pair: %s", strerror(-err));
	err = ktls_attach(c2);
	CHECK(err == 0, "TCP_ULP (2): %s", strerror(-err));
	err = ktls_set(c2, TLS_TX, &key_a);
	CHECK(err == 0, "TLS_TX (2): %s", strerror(-err));
	err = write_full(c2, msg_c2s, sizeof(msg_c2s));
	CHECK(err == 0, "send (2): %s", strerror(-err));
	/* header + ciphertext + inner content type + tag */
	rec_len = HDR_LEN + sizeof(msg_c2s) + 1 + TAG_LEN;
	err = read_full(s2, rec, rec_len);
	CHECK(err == 0, "raw recv: %s", strerror(-err));
	CHECK(rec[0] == 0x17 && rec[1] == 0x03 && rec[2] == 0x03,
	      "not a TLS 1.3 application_data record: %02x %02x %02x",
	      rec[0], rec[1], rec[2]);
	CHECK(((size_t)rec[3] << 8 | rec[4]) == rec_len - HDR_LEN,
	      "record length %u, want %zu", (unsigned)(rec[3] << 8 | rec[4]),
	      rec_len - HDR_LEN);
	CHECK(!memmem(rec, rec_len, msg_c2s, 16), "plaintext visible on the wire");
	err = open_record(&key_a, rec, rec_len, plain, &plain_len);
	CHECK(err == 0, "record does not decrypt with the key given to the kernel");
	CHECK(plain_len == sizeof(msg_c2s) + 1 && plain[plain_len - 1] == 0x17 &&
	      !memcmp(plain, msg_c2s, sizeof(msg_c2s)), "decrypted record differs");
	printf("ktls-smoke: wire record decrypts with the key: ok\n");

	/* 3. the kernel counted it */
	err = read_stats(&after);
	CHECK(err == 0, "read /proc/net/tls_stat: %s", strerror(-err));
	printf("ktls-smoke: TlsCurrTxSw %lld->%lld TlsTxSw %lld->%lld TlsRxSw %lld->%lld\n",
	       before.curr_tx_sw, after.curr_tx_sw, before.tx_sw, after.tx_sw,
	       before.rx_sw, after.rx_sw);
	CHECK(after.tx_sw >= before.tx_sw + 3, "TlsTxSw did not rise by 3");
	CHECK(after.rx_sw >= before.rx_sw + 2, "TlsRxSw did not rise by 2");
	CHECK(after.curr_tx_sw >= before.curr_tx_sw + 3, "TlsCurrTxSw did not rise by 3");
	printf("ktls-smoke: PASS\n");
	rc = EXIT_SUCCESS;
out:
	OPENSSL_cleanse(&key_a, sizeof(key_a));
	OPENSSL_cleanse(&key_b, sizeof(key_b));
	if (s2 >= 0)
		close(s2);
	if (c2 >= 0)
		close(c2);
	if (s >= 0)
		close(s);
	if (c >= 0)
		close(c);
	return rc;
}

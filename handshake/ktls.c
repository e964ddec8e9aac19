// SPDX-License-Identifier: Apache-2.0
/*
 * Kernel TLS (Documentation/networking/tls.rst): derive the TLS 1.3 record
 * keys from the captured application traffic secrets and hand them to the
 * kernel with TCP_ULP "tls", TLS_TX and TLS_RX.
 *
 *   key = HKDF-Expand-Label(secret, "key", "", key_len)
 *   iv  = HKDF-Expand-Label(secret, "iv",  "", 12)
 *
 * (RFC 8446 section 7.3).  For AES-GCM the kernel takes the 12-byte IV as a
 * 4-byte salt and an 8-byte "iv"; for ChaCha20-Poly1305 all 12 bytes are
 * the iv and there is no salt.  rec_seq is the number of records under
 * the application keys so far each way: 0, or 1 for the session ticket a
 * pool refill asked for (the server wrote it, the client read it through
 * OpenSSL); the handshake was read record-exactly and no application data
 * went through userspace.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/tls.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>

#include "ktls.h"
#include "log.h"
#include "tls_internal.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif
#ifndef TCP_ULP
#define TCP_ULP 31
#endif

#define TLS13_IV_LEN 12

union crypto_info {
	struct tls_crypto_info info;
	struct tls12_crypto_info_aes_gcm_128 aes128;
#if defined(TLS_CIPHER_AES_GCM_256)
	struct tls12_crypto_info_aes_gcm_256 aes256;
#endif
#if defined(TLS_CIPHER_CHACHA20_POLY1305)
	struct tls12_crypto_info_chacha20_poly1305 chacha;
#endif
};

/* HKDF-Expand-Label with an empty context (tls_internal.h) */
int sl_hs_hkdf_expand_label(const EVP_MD *md, const uint8_t *secret,
			    size_t secret_len, const char *label, uint8_t *out,
			    size_t out_len)
{
	uint8_t info[2 + 1 + 255 + 1];
	size_t llen = strlen("tls13 ") + strlen(label), n = 0;
	OSSL_PARAM params[5], *p = params;
	EVP_KDF_CTX *kctx = NULL;
	EVP_KDF *kdf;
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
	int ret = -EIO;

	if (llen > 255 || out_len > 0xffff)
		return -EINVAL;
	/* struct HkdfLabel { uint16 length; opaque label<7..255>;
	 *                    opaque context<0..255>; } */
	info[n++] = (uint8_t)(out_len >> 8);
	info[n++] = (uint8_t)out_len;
	info[n++] = (uint8_t)llen;
	memcpy(info + n, "tls13 ", 6);
	memcpy(info + n + 6, label, strlen(label));
	n += llen;
	info[n++] = 0;

	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	if (kdf)
		kctx = EVP_KDF_CTX_new(kdf);
	if (!kctx)
		goto out;
	*p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						(char *)EVP_MD_get0_name(md), 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						 (void *)secret, secret_len);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n);
	*p = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, out_len, params) == 1)
		ret = 0;
out:
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return ret;
}

/*
 * Fill @ci for the suite @proto_id (0x1301..0x1303) from @secret.
 * @retval size of the struct to pass to setsockopt, or -errno
 */
static int fill_crypto_info(union crypto_info *ci, uint16_t proto_id,
			    const EVP_MD *md, const uint8_t *secret,
			    size_t secret_len, uint64_t seq)
{
	uint8_t rec_seq[8];

	uint8_t key[32], iv[TLS13_IV_LEN];
	size_t key_len;
	int ret;

	switch (proto_id) {
	case 0x1301:
		key_len = TLS_CIPHER_AES_GCM_128_KEY_SIZE;
		break;
#if defined(TLS_CIPHER_AES_GCM_256)
	case 0x1302:
		key_len = TLS_CIPHER_AES_GCM_256_KEY_SIZE;
		break;
#endif
#if defined(TLS_CIPHER_CHACHA20_POLY1305)
	case 0x1303:
		key_len = TLS_CIPHER_CHACHA20_POLY1305_KEY_SIZE;
		break;
#endif
	default:
		return -EOPNOTSUPP;
	}
	ret = sl_hs_hkdf_expand_label(md, secret, secret_len, "key", key, key_len);
	if (!ret)
		ret = sl_hs_hkdf_expand_label(md, secret, secret_len, "iv", iv,
					sizeof(iv));
	if (ret)
		goto out;

	for (int i = 0; i < 8; i++) /* big-endian */
		rec_seq[i] = (uint8_t)(seq >> (56 - 8 * i));
	memset(ci, 0, sizeof(*ci));
	ci->info.version = TLS_1_3_VERSION;
	switch (proto_id) {
	case 0x1301:
		ci->info.cipher_type = TLS_CIPHER_AES_GCM_128;
		memcpy(ci->aes128.key, key, key_len);
		memcpy(ci->aes128.salt, iv, TLS_CIPHER_AES_GCM_128_SALT_SIZE);
		memcpy(ci->aes128.iv, iv + TLS_CIPHER_AES_GCM_128_SALT_SIZE,
		       TLS_CIPHER_AES_GCM_128_IV_SIZE);
		memcpy(ci->aes128.rec_seq, rec_seq, sizeof(rec_seq));
		ret = sizeof(ci->aes128);
		break;
#if defined(TLS_CIPHER_AES_GCM_256)
	case 0x1302:
		ci->info.cipher_type = TLS_CIPHER_AES_GCM_256;
		memcpy(ci->aes256.key, key, key_len);
		memcpy(ci->aes256.salt, iv, TLS_CIPHER_AES_GCM_256_SALT_SIZE);
		memcpy(ci->aes256.iv, iv + TLS_CIPHER_AES_GCM_256_SALT_SIZE,
		       TLS_CIPHER_AES_GCM_256_IV_SIZE);
		memcpy(ci->aes256.rec_seq, rec_seq, sizeof(rec_seq));
		ret = sizeof(ci->aes256);
		break;
#endif
#if defined(TLS_CIPHER_CHACHA20_POLY1305)
	case 0x1303:
		ci->info.cipher_type = TLS_CIPHER_CHACHA20_POLY1305;
		memcpy(ci->chacha.key, key, key_len);
		memcpy(ci->chacha.iv, iv, TLS_CIPHER_CHACHA20_POLY1305_IV_SIZE);
		memcpy(ci->chacha.rec_seq, rec_seq, sizeof(rec_seq));
		ret = sizeof(ci->chacha);
		break;
#endif
	}
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(iv, sizeof(iv));
	OPENSSL_cleanse(rec_seq, sizeof(rec_seq));
	return ret;
}

static int map_ktls_errno(int err)
{
	/* "the kernel does not support it", as tlshd reports it */
	if (err == ENOENT || err == ENOPROTOOPT || err == EOPNOTSUPP)
		return -err;
	if (err == EINVAL)
		return -EOPNOTSUPP;
	return -err;
}

int sl_ktls_install(int fd, struct sl_tls_conn *c)
{
	const uint8_t *tx, *rx;
	size_t tx_len, rx_len;
	union crypto_info ci;
	const SSL_CIPHER *cipher;
	const EVP_MD *md;
	uint16_t proto_id;
	int len, ret;

	if (fd < 0 || !c)
		return -EINVAL;
	ret = -EINVAL;
	if (!c->done || c->app_data || c->key_updated || c->ticket_due ||
	    c->tail_len != 0 ||
	    BIO_ctrl_pending(c->wbio) != 0 ||
	    BIO_ctrl_pending(c->rbio) != 0 || SSL_pending(c->ssl) != 0 ||
	    c->client_secret_len == 0 || c->server_secret_len == 0) {
		sl_log_err("%s: session not in a state for kTLS", __func__);
		goto out;
	}
	cipher = SSL_get_current_cipher(c->ssl);
	md = cipher ? SSL_CIPHER_get_handshake_digest(cipher) : NULL;
	if (!md || (size_t)EVP_MD_get_size(md) != c->client_secret_len ||
	    c->client_secret_len != c->server_secret_len)
		goto out;
	proto_id = SSL_CIPHER_get_protocol_id(cipher);
	if (c->role == SL_TLS_CLIENT) {
		tx = c->client_secret;
		rx = c->server_secret;
	} else {
		tx = c->server_secret;
		rx = c->client_secret;
	}
	tx_len = c->client_secret_len;
	rx_len = c->server_secret_len;

	if (setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls")) < 0) {
		ret = map_ktls_errno(errno);
		goto out;
	}
	len = fill_crypto_info(&ci, proto_id, md, tx, tx_len, c->app_wr_recs);
	if (len < 0) {
		ret = len;
		goto out;
	}
	if (setsockopt(fd, SOL_TLS, TLS_TX, &ci, (socklen_t)len) < 0) {
		ret = map_ktls_errno(errno);
		goto out_wipe;
	}
	OPENSSL_cleanse(&ci, sizeof(ci));
	len = fill_crypto_info(&ci, proto_id, md, rx, rx_len, c->app_rd_recs);
	if (len < 0) {
		ret = len;
		goto out;
	}
	if (setsockopt(fd, SOL_TLS, TLS_RX, &ci, (socklen_t)len) < 0) {
		ret = map_ktls_errno(errno);
		goto out_wipe;
	}
	ret = 0;
out_wipe:
	OPENSSL_cleanse(&ci, sizeof(ci));
out:
	if (c)
		sl_tls_conn_wipe_secrets(c);
	if (ret)
		sl_log_debug("%s: %s", __func__, strerror(-ret));
	return ret;
}

static int loopback_pair(int fds[2])
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sa);
	int lfd, cfd = -1, afd = -1, ret;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, 1) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &slen) < 0)
		goto err;
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cfd < 0 || connect(cfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto err;
	afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (afd < 0)
		goto err;
	close(lfd);
	fds[0] = cfd;
	fds[1] = afd;
	return 0;
err:
	ret = -errno;
	if (cfd >= 0)
		close(cfd);
	close(lfd);
	return ret;
}

int sl_ktls_probe(void)
{
	struct tls12_crypto_info_aes_gcm_128 ci;
	int fds[2] = { -1, -1 }, ret;

	ret = loopback_pair(fds);
	if (ret)
		return ret;
	memset(&ci, 0, sizeof(ci));
	ci.info.version = TLS_1_3_VERSION;
	ci.info.cipher_type = TLS_CIPHER_AES_GCM_128;
	memset(ci.key, 0x5a, sizeof(ci.key)); /* dummy key, never used */
	if (setsockopt(fds[0], SOL_TCP, TCP_ULP, "tls", sizeof("tls")) < 0 ||
	    setsockopt(fds[0], SOL_TLS, TLS_TX, &ci, sizeof(ci)) < 0 ||
	    setsockopt(fds[0], SOL_TLS, TLS_RX, &ci, sizeof(ci)) < 0)
		ret = map_ktls_errno(errno);
	close(fds[0]);
	close(fds[1]);
	return ret;
}

ssize_t sl_ktls_recv_record(int fd, void *buf, size_t len, uint8_t *type)
{
	char cbuf[CMSG_SPACE(sizeof(unsigned char))];
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cmsg;
	ssize_t n;

	do {
		n = recvmsg(fd, &msg, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	*type = SL_TLS_RT_APPDATA;
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level == SOL_TLS &&
		    cmsg->cmsg_type == TLS_GET_RECORD_TYPE)
			*type = *(unsigned char *)CMSG_DATA(cmsg);
	}
	return n;
}

int sl_ktls_alert_is_close_notify(const void *payload, size_t len)
{
	const uint8_t *p = payload;

	/* level warning (1), description close_notify (0) */
	return len == 2 && p[0] == 1 && p[1] == 0;
}

int sl_ktls_send_close_notify(int fd)
{
	char cbuf[CMSG_SPACE(sizeof(unsigned char))];
	uint8_t alert[2] = { 1, 0 };
	struct iovec iov = { .iov_base = alert, .iov_len = sizeof(alert) };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
	ssize_t n;

	memset(cbuf, 0, sizeof(cbuf));
	cmsg->cmsg_level = SOL_TLS;
	cmsg->cmsg_type = TLS_SET_RECORD_TYPE;
	cmsg->cmsg_len = CMSG_LEN(sizeof(unsigned char));
	*(unsigned char *)CMSG_DATA(cmsg) = SL_TLS_RT_ALERT;
	do {
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == (ssize_t)sizeof(alert) ? 0 : -EIO;
}

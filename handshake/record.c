// SPDX-License-Identifier: Apache-2.0
/*
 * TLS 1.3 record layer after the handshake (see record.h), RFC 8446 5.2:
 *
 *   record  = type(23) || 0x0303 || length(2) || AEAD(inner) || tag(16)
 *   inner   = content || content type(1) || zero padding
 *   nonce   = iv XOR (64-bit big-endian sequence number, right-aligned)
 *   aad     = the 5 header bytes
 *
 * Keys: key = HKDF-Expand-Label(secret, "key", "", key_len), iv = ... "iv"
 * (12 bytes), as ktls.c derives them; after a KeyUpdate the secret becomes
 * HKDF-Expand-Label(secret, "traffic upd", "", hash_len) (7.2).
 *
 * AES-GCM runs on gcm.c's VAES code when sl_gcm_available() says so at the
 * layer's creation, else (and for ChaCha20-Poly1305) on OpenSSL's EVP.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/buffer.h>
#include <openssl/evp.h>

#include "gcm.h"
#include "log.h"
#include "record.h"
#include "record_internal.h"
#include "tls_internal.h"
#include "util.h"

#define RL_IV_LEN SL_RL_IV_LEN
#define RL_TAG_LEN SL_RL_TAG_LEN
#define RL_HDR_LEN 5
#define RL_PLAIN_MAX 16384
/* ciphertext of a record: content + type + padding + tag, at most 2^14+256 */
#define RL_CT_MAX (RL_PLAIN_MAX + 256)

#define RT_ALERT 21
#define RT_HANDSHAKE 22
#define RT_APPDATA 23
#define HS_NEW_SESSION_TICKET 4
#define HS_KEY_UPDATE 24

struct rl_dir {
	EVP_CIPHER_CTX *ctx;   /* the EVP path; NULL with vaes */
	struct sl_gcm_key gk; /* the VAES path's key (wiped with the layer) */
	uint8_t secret[SL_TLS_SECRET_MAX];
	uint8_t iv[RL_IV_LEN];
	uint64_t seq;
};

/* a byte queue, allocated only while it holds something */
struct rl_buf {
	uint8_t *p;
	size_t off, len, cap;
};

struct sl_tls_rl {
	const EVP_CIPHER *cipher; /* fetched, one reference */
	const EVP_MD *md;
	size_t key_len, secret_len;
	bool vaes; /* AES-GCM on gcm.c, not EVP */
	struct rl_dir rd, wr;
	struct rl_buf in;  /* ciphertext fed, not decrypted yet */
	struct rl_buf out; /* records to send */
	/* plaintext of the last record, decrypted in place in `in`, not yet
	 * read: in.p[pt_off .. pt_off + pt_len) */
	size_t pt_off, pt_len;
	bool rd_closed; /* close_notify read */
	bool eof;	/* TCP EOF fed */
	bool failed;	/* a bad record: every later read fails */
	bool wr_closed; /* close_notify queued */
};

/*
 * Buffers come and go with every burst (an idle session holds none), so
 * each thread keeps a few freed ones for the next burst instead of going
 * to malloc each time (a 64 KiB malloc/free per message costs brk calls
 * and page faults).  Sizes are powers of two from 4 KiB.
 */
#define RL_CACHE_MAX 16

struct rl_cache {
	unsigned int n;
	struct {
		void *p;
		size_t cap;
	} e[RL_CACHE_MAX];
};

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static bool cache_key_ok;

static void cache_free(void *arg)
{
	struct rl_cache *c = arg;

	if (!c)
		return;
	for (unsigned int i = 0; i < c->n; i++)
		free(c->e[i].p);
	free(c);
}

static void cache_key_init(void)
{
	cache_key_ok = pthread_key_create(&cache_key, cache_free) == 0;
}

static struct rl_cache *cache_of_thread(bool create)
{
	struct rl_cache *c;

	pthread_once(&cache_once, cache_key_init);
	if (!cache_key_ok)
		return NULL;
	c = pthread_getspecific(cache_key);
	if (!c && create) {
		c = calloc(1, sizeof(*c));
		if (c && pthread_setspecific(cache_key, c)) {
			free(c);
			c = NULL;
		}
	}
	return c;
}

static void *cache_get(size_t cap)
{
	struct rl_cache *c = cache_of_thread(false);

	for (unsigned int i = 0; c && i < c->n; i++) {
		if (c->e[i].cap == cap) {
			void *p = c->e[i].p;

			c->e[i] = c->e[--c->n];
			return p;
		}
	}
	return malloc(cap);
}

static void cache_put(void *p, size_t cap)
{
	struct rl_cache *c;

	if (!p)
		return;
	c = cache_of_thread(true);
	if (c && c->n < RL_CACHE_MAX) {
		c->e[c->n].p = p;
		c->e[c->n].cap = cap;
		c->n++;
		return;
	}
	free(p);
}

/*
 * The buffers hold ciphertext, plus the plaintext of a record decrypted in
 * place, which sl_tls_rl_read wipes as it hands it out: only unread
 * plaintext (pt_len) needs wiping when a buffer is freed or moved.
 */
static void buf_free(struct rl_buf *b, bool wipe)
{
	if (b->p) {
		if (wipe)
			OPENSSL_cleanse(b->p, b->cap);
		cache_put(b->p, b->cap);
	}
	memset(b, 0, sizeof(*b));
}

/* room for @n more bytes at the end; @retval 0 or -ENOMEM */
static int buf_reserve(struct rl_buf *b, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (b->off && b->off == b->len)
		b->off = b->len = 0;
	if (b->len + n <= b->cap)
		return 0;
	if (b->off) { /* move the unread part to the front */
		memmove(b->p, b->p + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
		if (b->len + n <= b->cap)
			return 0;
	}
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + n)
		cap *= 2;
	p = cache_get(cap);
	if (!p)
		return -ENOMEM;
	if (b->len)
		memcpy(p, b->p, b->len);
	cache_put(b->p, b->cap); /* ciphertext only (input: in_reserve) */
	b->p = p;
	b->cap = cap;
	return 0;
}

/* drop the buffer once everything in it is consumed (nothing unread) */
static void buf_release_if_empty(struct rl_buf *b)
{
	if (b->p && b->off == b->len)
		buf_free(b, false);
}

static int dir_set_keys(struct sl_tls_rl *rl, struct rl_dir *d, bool enc)
{
	uint8_t key[32];
	int ret;

	ret = sl_hs_hkdf_expand_label(rl->md, d->secret, rl->secret_len, "key",
				      key, rl->key_len);
	if (!ret)
		ret = sl_hs_hkdf_expand_label(rl->md, d->secret, rl->secret_len,
					      "iv", d->iv, RL_IV_LEN);
	if (!ret && rl->vaes) {
		ret = sl_gcm_init(&d->gk, key, rl->key_len);
		goto out;
	}
	if (!ret && !d->ctx) {
		d->ctx = EVP_CIPHER_CTX_new();
		if (!d->ctx)
			ret = -ENOMEM;
	}
	if (!ret && EVP_CipherInit_ex(d->ctx, rl->cipher, NULL, key, NULL,
				      enc ? 1 : 0) != 1)
		ret = -EIO;
out:
	OPENSSL_cleanse(key, sizeof(key));
	d->seq = 0;
	return ret;
}

/* KeyUpdate: the next traffic secret of @d, and its keys */
static int dir_update(struct sl_tls_rl *rl, struct rl_dir *d, bool enc)
{
	uint8_t next[SL_TLS_SECRET_MAX];
	int ret;

	ret = sl_hs_hkdf_expand_label(rl->md, d->secret, rl->secret_len,
				      "traffic upd", next, rl->secret_len);
	if (!ret) {
		memcpy(d->secret, next, rl->secret_len);
		ret = dir_set_keys(rl, d, enc);
	}
	OPENSSL_cleanse(next, sizeof(next));
	return ret;
}

int sl_rl_evp_seal(EVP_CIPHER_CTX *ctx, const uint8_t iv[SL_RL_IV_LEN],
		   const uint8_t *aad, size_t aad_len, const uint8_t *in,
		   size_t len, int trail, uint8_t *out,
		   uint8_t tag[SL_RL_TAG_LEN])
{
	bool has_t = trail >= 0 && trail <= 255;
	uint8_t t = (uint8_t)trail;
	int outl;

	if (len > INT_MAX - 1 || aad_len > INT_MAX)
		return -EINVAL;
	if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, iv) != 1 ||
	    (aad_len &&
	     EVP_EncryptUpdate(ctx, NULL, &outl, aad, (int)aad_len) != 1) ||
	    (len && EVP_EncryptUpdate(ctx, out, &outl, in, (int)len) != 1) ||
	    (has_t && EVP_EncryptUpdate(ctx, out + len, &outl, &t, 1) != 1) ||
	    EVP_EncryptFinal_ex(ctx, out + len + has_t, &outl) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, SL_RL_TAG_LEN,
				tag) != 1)
		return -EIO;
	return 0;
}

int sl_rl_evp_open(EVP_CIPHER_CTX *ctx, const uint8_t iv[SL_RL_IV_LEN],
		   const uint8_t *aad, size_t aad_len, const uint8_t *in,
		   size_t len, uint8_t *out, const uint8_t tag[SL_RL_TAG_LEN])
{
	uint8_t t[SL_RL_TAG_LEN];
	int outl;
	bool ok;

	if (len > INT_MAX || aad_len > INT_MAX)
		return -EINVAL;
	/*
	 * EVP_DecryptUpdate writes plaintext to @out before
	 * EVP_DecryptFinal_ex checks the tag: on failure it is wiped, as
	 * sl_gcm_open does.  (The tag is copied: the ctrl takes no const.)
	 */
	memcpy(t, tag, sizeof(t));
	ok = EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, iv) == 1 &&
	     (!aad_len ||
	      EVP_DecryptUpdate(ctx, NULL, &outl, aad, (int)aad_len) == 1) &&
	     (!len || EVP_DecryptUpdate(ctx, out, &outl, in, (int)len) == 1) &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, SL_RL_TAG_LEN,
				 t) == 1 &&
	     EVP_DecryptFinal_ex(ctx, out + len, &outl) == 1;
	OPENSSL_cleanse(t, sizeof(t));
	if (!ok) {
		OPENSSL_cleanse(out, len);
		return -EBADMSG;
	}
	return 0;
}

static void nonce(const struct rl_dir *d, uint8_t out[RL_IV_LEN])
{
	memcpy(out, d->iv, RL_IV_LEN);
	for (int i = 0; i < 8; i++)
		out[RL_IV_LEN - 1 - i] ^= (uint8_t)(d->seq >> (8 * i));
}

/* one record of inner type @type carrying @len bytes of @data, written at
 * @h (room for RL_HDR_LEN + @len + 1 + RL_TAG_LEN) */
static int seal_to(struct sl_tls_rl *rl, uint8_t type, const uint8_t *data,
		   size_t len, uint8_t *h)
{
	size_t ct_len = len + 1 + RL_TAG_LEN;
	uint8_t iv[RL_IV_LEN], *body = h + RL_HDR_LEN;
	int ret = -EIO;

	if (len > RL_PLAIN_MAX)
		return -EINVAL;
	if (rl->wr.seq == UINT64_MAX)
		return -EPIPE; /* never reuse a nonce */
	h[0] = RT_APPDATA;
	h[1] = 0x03;
	h[2] = 0x03;
	h[3] = (uint8_t)(ct_len >> 8);
	h[4] = (uint8_t)ct_len;
	nonce(&rl->wr, iv);
	if (rl->vaes)
		sl_gcm_seal(&rl->wr.gk, iv, h, RL_HDR_LEN, data, len, type, body,
			    body + len + 1);
	else if (sl_rl_evp_seal(rl->wr.ctx, iv, h, RL_HDR_LEN, data, len, type,
				body, body + len + 1))
		goto out;
	rl->wr.seq++;
	ret = 0;
out:
	OPENSSL_cleanse(iv, sizeof(iv));
	return ret;
}

/* append one record to the output queue */
static int seal(struct sl_tls_rl *rl, uint8_t type, const uint8_t *data,
		size_t len)
{
	size_t rec = RL_HDR_LEN + len + 1 + RL_TAG_LEN;
	int ret;

	if (len > RL_PLAIN_MAX)
		return -EINVAL;
	if (buf_reserve(&rl->out, rec))
		return -ENOMEM;
	ret = seal_to(rl, type, data, len, rl->out.p + rl->out.len);
	if (!ret)
		rl->out.len += rec;
	return ret;
}

ssize_t sl_tls_rl_seal(struct sl_tls_rl *rl, const void *in, size_t len,
		       void *out, size_t cap, size_t *used)
{
	const size_t over = RL_HDR_LEN + 1 + RL_TAG_LEN;
	const uint8_t *p = in;
	uint8_t *o = out;
	size_t done = 0, olen = 0;

	*used = 0;
	if (rl->wr_closed)
		return -EPIPE;
	if (rl->out.len != rl->out.off)
		return -EBUSY;
	while (done < len && cap - olen > over) {
		size_t n = SL_MIN(SL_MIN(len - done, (size_t)RL_PLAIN_MAX),
				  cap - olen - over);
		int ret = seal_to(rl, RT_APPDATA, p + done, n, o + olen);

		if (ret) {
			if (!olen)
				return ret;
			break;
		}
		done += n;
		olen += n + over;
	}
	*used = done;
	return (ssize_t)olen;
}

/* Handshake messages after the handshake (one record's worth). */
static int handshake_msgs(struct sl_tls_rl *rl, const uint8_t *p, size_t len)
{
	while (len) {
		size_t mlen;

		if (len < 4)
			return -EPROTO; /* split over records: not supported */
		mlen = (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
		if (mlen > len - 4)
			return -EPROTO;
		switch (p[0]) {
		case HS_NEW_SESSION_TICKET:
			break; /* no resumption: ignored */
		case HS_KEY_UPDATE: {
			static const uint8_t answer[5] = { HS_KEY_UPDATE, 0, 0,
							   1, 0 };

			if (mlen != 1 || p[4] > 1 || mlen + 4 != len)
				return -EPROTO; /* must end the record */
			if (dir_update(rl, &rl->rd, false))
				return -EPROTO;
			if (p[4] == 1 && !rl->wr_closed) {
				/* update_requested: answer with our own
				 * KeyUpdate under the old keys, then switch */
				if (seal(rl, RT_HANDSHAKE, answer, sizeof(answer)) ||
				    dir_update(rl, &rl->wr, true))
					return -EPROTO;
			}
			break;
		}
		default:
			return -EPROTO;
		}
		p += 4 + mlen;
		len -= 4 + mlen;
	}
	return 0;
}

/*
 * Open the record at the front of the input, decrypting straight into
 * @dst when its @dst_cap holds the whole inner plaintext, else in place.
 * @retval 2 with *@got bytes of application data at @dst; 1 with
 * application data in pt_off/pt_len (maybe 0 bytes) or a handshake record
 * handled; 0 close_notify; -EAGAIN for an incomplete record; -EPROTO
 */
static int open_record(struct sl_tls_rl *rl, uint8_t *dst, size_t dst_cap,
		       size_t *got)
{
	uint8_t *h = rl->in.p + rl->in.off, *body = h + RL_HDR_LEN, *pt;
	size_t avail = rl->in.len - rl->in.off, ct_len, n;
	uint8_t iv[RL_IV_LEN], type;
	int ok;

	if (avail < RL_HDR_LEN)
		return -EAGAIN;
	ct_len = (size_t)h[3] << 8 | h[4];
	if (h[0] != RT_APPDATA || h[1] != 0x03 || ct_len > RL_CT_MAX ||
	    ct_len < 1 + RL_TAG_LEN)
		return -EPROTO;
	if (avail < RL_HDR_LEN + ct_len)
		return -EAGAIN;
	if (rl->rd.seq == UINT64_MAX)
		return -EPROTO;
	n = ct_len - RL_TAG_LEN;
	pt = dst && dst_cap >= n ? dst : body;
	nonce(&rl->rd, iv);
	/* both wipe what they decrypted when the tag is wrong: a record that
	 * fails leaves no plaintext in @dst nor in the input buffer */
	if (rl->vaes)
		ok = !sl_gcm_open(&rl->rd.gk, iv, h, RL_HDR_LEN, body, n, pt,
				  body + n);
	else
		ok = !sl_rl_evp_open(rl->rd.ctx, iv, h, RL_HDR_LEN, body, n, pt,
				     body + n);
	OPENSSL_cleanse(iv, sizeof(iv));
	if (!ok)
		return -EPROTO; /* bad_record_mac */
	rl->rd.seq++;
	rl->in.off += RL_HDR_LEN + ct_len;
	while (n && pt[n - 1] == 0)
		n--; /* padding */
	if (!n)
		return -EPROTO; /* no content type */
	type = pt[--n];
	if (n > RL_PLAIN_MAX)
		return -EPROTO;
	switch (type) {
	case RT_APPDATA:
		if (pt == dst) {
			*got = n;
			return 2;
		}
		rl->pt_off = (size_t)(body - rl->in.p);
		rl->pt_len = n;
		return 1;
	case RT_ALERT:
		if (n != 2)
			return -EPROTO;
		if (pt[1] == 0) /* close_notify */
			return 0;
		sl_log_debug("%s: peer sent alert %u", __func__, pt[1]);
		return -EPROTO;
	case RT_HANDSHAKE:
		rl->pt_len = 0;
		return handshake_msgs(rl, pt, n) ? -EPROTO : 1;
	default:
		return -EPROTO;
	}
}

ssize_t sl_tls_rl_read(struct sl_tls_rl *rl, void *buf, size_t cap)
{
	int r;

	if (rl->failed)
		return -EPROTO;
	for (;;) {
		if (rl->pt_len) {
			size_t n = SL_MIN(cap, rl->pt_len);

			memcpy(buf, rl->in.p + rl->pt_off, n);
			OPENSSL_cleanse(rl->in.p + rl->pt_off, n);
			rl->pt_off += n;
			rl->pt_len -= n;
			if (!rl->pt_len)
				buf_release_if_empty(&rl->in);
			return (ssize_t)n;
		}
		if (rl->rd_closed)
			return 0;
		if (cap == 0)
			return 0;
		if (!rl->in.p) {
			r = -EAGAIN;
		} else {
			size_t got = 0;

			r = open_record(rl, buf, cap, &got);
			if (!rl->pt_len)
				buf_release_if_empty(&rl->in);
			if (r == 2) {
				if (got)
					return (ssize_t)got;
				continue; /* an empty record */
			}
		}
		if (r == 0) {
			rl->rd_closed = true;
			return 0;
		}
		if (r == -EAGAIN) {
			if (!rl->eof)
				return -EAGAIN;
			r = -EPROTO; /* TCP EOF without close_notify */
		}
		if (r < 0) {
			rl->failed = true;
			return -EPROTO;
		}
	}
}

/* room for @n more input bytes, keeping the unread plaintext in place */
static int in_reserve(struct sl_tls_rl *rl, size_t n)
{
	struct rl_buf *b = &rl->in;
	size_t keep = rl->pt_len ? rl->pt_off : b->off;
	size_t cap, keep_len, keep_off;
	uint8_t *p;

	if (b->len + n <= b->cap)
		return 0;
	if (keep) { /* drop what is consumed */
		memmove(b->p, b->p + keep, b->len - keep);
		b->len -= keep;
		b->off -= keep;
		if (rl->pt_len)
			rl->pt_off -= keep;
		if (b->len + n <= b->cap)
			return 0;
	}
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + n)
		cap *= 2;
	p = cache_get(cap);
	if (!p)
		return -ENOMEM;
	keep_len = b->len;
	keep_off = b->off;
	if (b->len)
		memcpy(p, b->p, b->len);
	buf_free(b, rl->pt_len != 0); /* unread plaintext was copied */
	b->p = p;
	b->cap = cap;
	b->len = keep_len;
	b->off = keep_off;
	return 0;
}

int sl_tls_rl_feed(struct sl_tls_rl *rl, const void *buf, size_t len)
{
	if (!len)
		return 0;
	if (in_reserve(rl, len))
		return -ENOMEM;
	memcpy(rl->in.p + rl->in.len, buf, len);
	rl->in.len += len;
	return 0;
}

uint8_t *sl_tls_rl_in_space(struct sl_tls_rl *rl, size_t min, size_t *room)
{
	if (in_reserve(rl, min))
		return NULL;
	*room = rl->in.cap - rl->in.len;
	return rl->in.p + rl->in.len;
}

void sl_tls_rl_in_commit(struct sl_tls_rl *rl, size_t n)
{
	rl->in.len += n;
	if (!rl->pt_len)
		buf_release_if_empty(&rl->in);
}

void sl_tls_rl_feed_eof(struct sl_tls_rl *rl)
{
	rl->eof = true;
}

ssize_t sl_tls_rl_write(struct sl_tls_rl *rl, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t done = 0;

	if (rl->wr_closed)
		return -EPIPE;
	while (done < len) {
		size_t n = SL_MIN(len - done, (size_t)RL_PLAIN_MAX);
		int ret = seal(rl, RT_APPDATA, p + done, n);

		if (ret)
			return done ? (ssize_t)done : ret;
		done += n;
	}
	return (ssize_t)done;
}

int sl_tls_rl_close_notify(struct sl_tls_rl *rl)
{
	static const uint8_t alert[2] = { 1, 0 }; /* warning, close_notify */
	int ret;

	if (rl->wr_closed)
		return 0;
	ret = seal(rl, RT_ALERT, alert, sizeof(alert));
	if (!ret)
		rl->wr_closed = true;
	return ret;
}

size_t sl_tls_rl_pending_input(const struct sl_tls_rl *rl)
{
	return rl->pt_len + (rl->in.p ? rl->in.len - rl->in.off : 0);
}

size_t sl_tls_rl_pending_output(const struct sl_tls_rl *rl)
{
	return rl->out.len - rl->out.off;
}

size_t sl_tls_rl_take_output(struct sl_tls_rl *rl, void *buf, size_t cap)
{
	size_t n = SL_MIN(cap, rl->out.len - rl->out.off);

	if (!n)
		return 0;
	memcpy(buf, rl->out.p + rl->out.off, n);
	rl->out.off += n;
	buf_release_if_empty(&rl->out);
	return n;
}

static int copy_bio(BIO *from, struct rl_buf *to)
{
	BUF_MEM *bm = NULL;

	if (BIO_get_mem_ptr(from, &bm) != 1 || !bm)
		return -ENOMEM;
	if (!bm->length)
		return 0;
	if (buf_reserve(to, bm->length))
		return -ENOMEM;
	memcpy(to->p + to->len, bm->data, bm->length);
	to->len += bm->length;
	return 0;
}

int sl_tls_rl_new_secrets(uint16_t suite, const uint8_t *rd_secret,
			  const uint8_t *wr_secret, size_t secret_len,
			  struct sl_tls_rl **out)
{
	struct sl_tls_rl *rl = NULL;
	const char *name, *md;
	int ret;

	if (!rd_secret || !wr_secret || !out || secret_len > SL_TLS_SECRET_MAX)
		return -EINVAL;
	switch (suite) {
	case 0x1301:
		name = "AES-128-GCM";
		md = "SHA256";
		break;
	case 0x1302:
		name = "AES-256-GCM";
		md = "SHA384";
		break;
	case 0x1303:
		name = "ChaCha20-Poly1305";
		md = "SHA256";
		break;
	default:
		return -EOPNOTSUPP;
	}
	rl = calloc(1, sizeof(*rl));
	if (!rl)
		return -ENOMEM;
	rl->md = EVP_get_digestbyname(md);
	rl->cipher = EVP_CIPHER_fetch(NULL, name, NULL);
	ret = -EOPNOTSUPP;
	if (!rl->md || !rl->cipher)
		goto out;
	ret = -EINVAL;
	if ((size_t)EVP_MD_get_size(rl->md) != secret_len)
		goto out;
	rl->key_len = (size_t)EVP_CIPHER_get_key_length(rl->cipher);
	rl->secret_len = secret_len;
	rl->vaes = suite != 0x1303 && sl_gcm_available();
	memcpy(rl->wr.secret, wr_secret, secret_len);
	memcpy(rl->rd.secret, rd_secret, secret_len);
	ret = dir_set_keys(rl, &rl->wr, true);
	if (!ret)
		ret = dir_set_keys(rl, &rl->rd, false);
	if (ret)
		goto out;
	*out = rl;
	rl = NULL;
out:
	sl_tls_rl_free(rl);
	return ret;
}

int sl_tls_rl_new(struct sl_tls_conn *c, struct sl_tls_rl **out)
{
	const SSL_CIPHER *cs;
	struct sl_tls_rl *rl = NULL;
	bool client;
	int ret = -EBUSY;

	if (!c || !out)
		return -EINVAL;
	if (!c->done || c->err || c->key_updated || SSL_pending(c->ssl) ||
	    SSL_has_pending(c->ssl) ||
	    (SSL_get_shutdown(c->ssl) & SSL_SENT_SHUTDOWN) ||
	    !c->client_secret_len ||
	    c->client_secret_len != c->server_secret_len)
		goto out;
	cs = SSL_get_current_cipher(c->ssl);
	ret = -EOPNOTSUPP;
	if (!cs)
		goto out;
	client = c->role == SL_TLS_CLIENT;
	ret = sl_tls_rl_new_secrets(SSL_CIPHER_get_protocol_id(cs),
				    client ? c->server_secret : c->client_secret,
				    client ? c->client_secret : c->server_secret,
				    c->client_secret_len, &rl);
	if (ret == -EINVAL)
		ret = -EOPNOTSUPP; /* a digest the suite does not use */
	if (ret)
		goto out;
	rl->wr.seq = c->app_wr_recs;
	rl->rd.seq = c->app_rd_recs;
	/* what the conn still holds: records fed (whole ones in the BIO,
	 * then the partial one), records written and not taken */
	ret = -ENOMEM;
	if (copy_bio(c->rbio, &rl->in) || copy_bio(c->wbio, &rl->out))
		goto out;
	if (c->tail_len) {
		if (in_reserve(rl, c->tail_len))
			goto out;
		memcpy(rl->in.p + rl->in.len, c->tail, c->tail_len);
		rl->in.len += c->tail_len;
	}
	rl->rd_closed = SSL_get_shutdown(c->ssl) & SSL_RECEIVED_SHUTDOWN;
	rl->eof = c->eof;
	*out = rl;
	rl = NULL;
	ret = 0;
out:
	sl_tls_conn_wipe_secrets(c);
	sl_tls_rl_free(rl);
	return ret;
}

void sl_tls_rl_free(struct sl_tls_rl *rl)
{
	if (!rl)
		return;
	EVP_CIPHER_CTX_free(rl->rd.ctx);
	EVP_CIPHER_CTX_free(rl->wr.ctx);
	EVP_CIPHER_free((EVP_CIPHER *)rl->cipher);
	buf_free(&rl->in, rl->pt_len != 0);
	buf_free(&rl->out, false);
	OPENSSL_cleanse(rl, sizeof(*rl));
	free(rl);
}

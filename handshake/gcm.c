// SPDX-License-Identifier: Apache-2.0
/*
 * AES-GCM on VAES and VPCLMULQDQ (see gcm.h), NIST SP 800-38D:
 *
 *   J0 = IV || 0^31 || 1;  C_i = P_i XOR E(K, inc32^i(J0));
 *   S  = GHASH_H(A || 0* || C || 0* || [len(A)]64 || [len(C)]64), H = E(K, 0)
 *   T  = E(K, J0) XOR S
 *
 * The hash works on byte-reversed blocks, so that a block is a 128-bit
 * integer whose bit 127 is the first bit of the block, the coefficient of
 * x^0 (GCM numbers bits from the left).  In that reflected form the
 * product of two field elements is their 256-bit carry-less product times
 * y^-127 modulo the reflected polynomial y^128 + y^127 + y^126 + y^121 + 1.
 * The hash key is stored times y ("twisted"), so a product needs only a
 * multiplication by y^-128, a Montgomery reduction: with T = T_hi:T_lo and
 * c = y^63 + y^62 + y^57 (0xc2 << 56),
 *
 *   A = T_lo.lo * c;  V = T_lo XOR swap64(A);  T * y^-128 = T_hi XOR V XOR V.hi * c
 *
 * Sixteen blocks are hashed with one reduction, against H^16 .. H^1.  The
 * counter is kept byte-reversed too: its 32-bit big-endian count is then
 * the low lane of the register, and a 32-bit add steps it mod 2^32.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "gcm.h"
#include "log.h"

static enum sl_gcm_mode gcm_mode = SL_GCM_AUTO;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static bool probe_ok;

void sl_gcm_set_mode(enum sl_gcm_mode mode)
{
	gcm_mode = mode;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>

#define TGT                                                                  \
	__attribute__((target("aes,pclmul,ssse3,sse4.1,avx,avx2,vaes,"       \
			      "vpclmulqdq")))

#ifndef bit_VAES
#define bit_VAES (1u << 9)
#endif
#ifndef bit_VPCLMULQDQ
#define bit_VPCLMULQDQ (1u << 10)
#endif

static bool cpu_ok(void)
{
	static int known; /* 0 not probed, 1 yes, -1 no (any thread may ask) */
	int k = __atomic_load_n(&known, __ATOMIC_RELAXED);
	unsigned int a, b, c, d;
	uint32_t xcr0, xcr0_hi;
	bool ok;

	if (k)
		return k > 0;
	ok = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_AES) &&
	     (c & bit_PCLMUL) && (c & bit_SSSE3) && (c & bit_SSE4_1) &&
	     (c & bit_AVX) && (c & bit_OSXSAVE);
	if (ok) {
		/* the kernel saves the XMM and YMM state */
		__asm__ volatile("xgetbv" : "=a"(xcr0), "=d"(xcr0_hi) : "c"(0));
		ok = (xcr0 & 6) == 6;
	}
	ok = ok && __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_AVX2) &&
	     (c & bit_VAES) && (c & bit_VPCLMULQDQ);
	__atomic_store_n(&known, ok ? 1 : -1, __ATOMIC_RELAXED);
	return ok;
}

TGT static inline __m128i bswap_mask(void)
{
	return _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
			    15);
}

TGT static inline __m128i key_step(__m128i key, __m128i t)
{
	key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
	key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
	key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
	return _mm_xor_si128(key, t);
}

/* AES-128: every round key from the one before; AES-256: from the two
 * before, alternately with the rotated and substituted word (0xff) and the
 * substituted word alone (0xaa) */
#define K128(i, rcon)                                                        \
	rk[i] = key_step(rk[(i) - 1],                                        \
			 _mm_shuffle_epi32(                                  \
				 _mm_aeskeygenassist_si128(rk[(i) - 1], rcon), \
				 0xff))
#define K256A(i, rcon)                                                       \
	rk[i] = key_step(rk[(i) - 2],                                        \
			 _mm_shuffle_epi32(                                  \
				 _mm_aeskeygenassist_si128(rk[(i) - 1], rcon), \
				 0xff))
#define K256B(i)                                                             \
	rk[i] = key_step(rk[(i) - 2],                                        \
			 _mm_shuffle_epi32(                                  \
				 _mm_aeskeygenassist_si128(rk[(i) - 1], 0),    \
				 0xaa))

TGT static void expand_key(__m128i rk[15], const uint8_t *key, size_t len)
{
	rk[0] = _mm_loadu_si128((const __m128i *)key);
	if (len == 16) {
		K128(1, 0x01);
		K128(2, 0x02);
		K128(3, 0x04);
		K128(4, 0x08);
		K128(5, 0x10);
		K128(6, 0x20);
		K128(7, 0x40);
		K128(8, 0x80);
		K128(9, 0x1b);
		K128(10, 0x36);
		return;
	}
	rk[1] = _mm_loadu_si128((const __m128i *)(key + 16));
	K256A(2, 0x01);
	K256B(3);
	K256A(4, 0x02);
	K256B(5);
	K256A(6, 0x04);
	K256B(7);
	K256A(8, 0x08);
	K256B(9);
	K256A(10, 0x10);
	K256B(11);
	K256A(12, 0x20);
	K256B(13);
	K256A(14, 0x40);
}

TGT static inline __m128i rkey(const struct sl_gcm_key *k, unsigned int i)
{
	return _mm_loadu_si128((const __m128i *)k->rk[i]);
}

TGT static inline __m128i aes_block(const struct sl_gcm_key *k, __m128i b)
{
	b = _mm_xor_si128(b, rkey(k, 0));
	for (unsigned int r = 1; r < k->rounds; r++)
		b = _mm_aesenc_si128(b, rkey(k, r));
	return _mm_aesenclast_si128(b, rkey(k, k->rounds));
}

/* H^1 in the hash's form, the last of the powers */
TGT static inline __m128i h1_of(const struct sl_gcm_key *k)
{
	return _mm_loadu_si128((const __m128i *)k->hp[SL_GCM_POWERS - 1]);
}

/* T * y^-128 for T = hi:lo (see the top of the file) */
TGT static inline __m128i reduce(__m128i lo, __m128i hi)
{
	const __m128i c = _mm_set_epi64x(0, (long long)0xc200000000000000ULL);
	__m128i a = _mm_clmulepi64_si128(lo, c, 0x00);
	__m128i v = _mm_xor_si128(lo, _mm_shuffle_epi32(a, 0x4e));

	return _mm_xor_si128(_mm_xor_si128(hi, v),
			     _mm_clmulepi64_si128(v, c, 0x01));
}

/* the 256-bit product lo + mid * y^64 + hi * y^128, reduced */
TGT static inline __m128i fold(__m128i lo, __m128i mid, __m128i hi)
{
	return reduce(_mm_xor_si128(lo, _mm_slli_si128(mid, 8)),
		      _mm_xor_si128(hi, _mm_srli_si128(mid, 8)));
}

TGT static inline __m128i gmul(__m128i a, __m128i h)
{
	return fold(_mm_clmulepi64_si128(a, h, 0x00),
		    _mm_xor_si128(_mm_clmulepi64_si128(a, h, 0x01),
				  _mm_clmulepi64_si128(a, h, 0x10)),
		    _mm_clmulepi64_si128(a, h, 0x11));
}

/* H in reflected form times y, modulo the reflected polynomial */
static void twist(const uint8_t h[16], uint8_t out[16])
{
	uint64_t hi = 0, lo = 0, m;

	for (int i = 0; i < 8; i++) {
		hi = hi << 8 | h[i];
		lo = lo << 8 | h[8 + i];
	}
	/* the reflected value is hi:lo read as one big-endian number */
	m = 0 - (hi >> 63);
	hi = (hi << 1 | lo >> 63) ^ (m & 0xc200000000000000ULL);
	lo = (lo << 1) ^ (m & 1);
	memcpy(out, &lo, 8); /* little-endian register layout */
	memcpy(out + 8, &hi, 8);
}

TGT static void init_key(struct sl_gcm_key *k, const uint8_t *key,
			 size_t len)
{
	__m128i rk[15], h1, p;
	uint8_t h[16];

	k->rounds = len == 16 ? 10 : 14;
	expand_key(rk, key, len);
	for (unsigned int i = 0; i <= k->rounds; i++)
		_mm_storeu_si128((__m128i *)k->rk[i], rk[i]);
	_mm_storeu_si128((__m128i *)h, aes_block(k, _mm_setzero_si128()));
	twist(h, k->hp[SL_GCM_POWERS - 1]);
	h1 = h1_of(k);
	p = h1;
	for (int i = SL_GCM_POWERS - 2; i >= 0; i--) {
		p = gmul(p, h1);
		_mm_storeu_si128((__m128i *)k->hp[i], p);
	}
	OPENSSL_cleanse(rk, sizeof(rk));
	OPENSSL_cleanse(h, sizeof(h));
}

/* hash @len bytes (the last block zero-padded) into *@x */
TGT static void hash_bytes(const struct sl_gcm_key *k, __m128i *x,
			   const uint8_t *p, size_t len)
{
	const __m128i bs = bswap_mask();
	const __m128i h1 = h1_of(k);
	uint8_t blk[16];

	for (; len; p += 16, len -= len < 16 ? len : 16) {
		const uint8_t *b = p;

		if (len < 16) {
			memset(blk, 0, sizeof(blk));
			memcpy(blk, p, len);
			b = blk;
		}
		*x = gmul(_mm_xor_si128(*x, _mm_shuffle_epi8(
						    _mm_loadu_si128(
							    (const __m128i *)b),
						    bs)),
			  h1);
	}
}

/* keystream for the eight blocks from the reflected counters @c01 (two
 * per lane pair), into @b */
TGT static inline void aes8(const struct sl_gcm_key *k, __m256i c01,
			    __m256i b[4])
{
	const __m256i bs2 = _mm256_broadcastsi128_si256(bswap_mask());
	const __m256i two = _mm256_set_epi32(0, 0, 0, 2, 0, 0, 0, 2);
	const unsigned int nr = k->rounds;
	__m256i k0 = _mm256_broadcastsi128_si256(rkey(k, 0)), kl;

	#pragma GCC unroll 8
	for (int i = 0; i < 4; i++) {
		b[i] = _mm256_xor_si256(_mm256_shuffle_epi8(c01, bs2), k0);
		c01 = _mm256_add_epi32(c01, two);
	}
	for (unsigned int r = 1; r < nr; r++) {
		__m256i kr = _mm256_broadcastsi128_si256(rkey(k, r));

		#pragma GCC unroll 8
		for (int i = 0; i < 4; i++)
			b[i] = _mm256_aesenc_epi128(b[i], kr);
	}
	kl = _mm256_broadcastsi128_si256(rkey(k, nr));
	#pragma GCC unroll 8
	for (int i = 0; i < 4; i++)
		b[i] = _mm256_aesenclast_epi128(b[i], kl);
}

/* @n (4 or 8) register pairs of blocks from @in XOR the keystream @b to
 * @out; their ciphertext, reflected, into @g */
TGT static inline void xor_store(const uint8_t *in, uint8_t *out, __m256i *b,
				 __m256i *g, int n, bool enc)
{
	const __m256i bs2 = _mm256_broadcastsi128_si256(bswap_mask());

	#pragma GCC unroll 8
	for (int i = 0; i < n; i++) {
		__m256i d = _mm256_loadu_si256((const __m256i *)(in + 32 * i));

		b[i] = _mm256_xor_si256(b[i], d);
		_mm256_storeu_si256((__m256i *)(out + 32 * i), b[i]);
		g[i] = _mm256_shuffle_epi8(enc ? b[i] : d, bs2);
	}
}

/* hash @n register pairs @g, the first with the running value *@x, block i
 * of 2n against H^(2n-i) (hp[16 - 2n + i]), with one reduction */
TGT static inline void hash_pairs(const struct sl_gcm_key *k, __m128i *x,
				  __m256i *g, int n)
{
	__m256i lo = _mm256_setzero_si256(), mid = lo, hi = lo;

	g[0] = _mm256_xor_si256(
		g[0], _mm256_inserti128_si256(_mm256_setzero_si256(), *x, 0));
	#pragma GCC unroll 8
	for (int i = 0; i < n; i++) {
		__m256i h = _mm256_loadu_si256(
			(const __m256i *)k->hp[SL_GCM_POWERS - 2 * n + 2 * i]);

		/* Karatsuba: the middle term from (a.lo ^ a.hi)(b.lo ^ b.hi) */
		__m256i gk = _mm256_xor_si256(g[i], _mm256_shuffle_epi32(g[i], 0x4e));
		__m256i hk = _mm256_xor_si256(h, _mm256_shuffle_epi32(h, 0x4e));

		lo = _mm256_xor_si256(lo, _mm256_clmulepi64_epi128(g[i], h, 0x00));
		hi = _mm256_xor_si256(hi, _mm256_clmulepi64_epi128(g[i], h, 0x11));
		mid = _mm256_xor_si256(mid, _mm256_clmulepi64_epi128(gk, hk, 0x00));
	}
	mid = _mm256_xor_si256(mid, _mm256_xor_si256(lo, hi));
	*x = fold(_mm_xor_si128(_mm256_castsi256_si128(lo),
				_mm256_extracti128_si256(lo, 1)),
		  _mm_xor_si128(_mm256_castsi256_si128(mid),
				_mm256_extracti128_si256(mid, 1)),
		  _mm_xor_si128(_mm256_castsi256_si128(hi),
				_mm256_extracti128_si256(hi, 1)));
}

/*
 * Counter mode over @nblk whole blocks from @in to @out, hashing the
 * ciphertext (the output when @enc, the input otherwise) into *@x; *@ctr
 * is the reflected counter of the first block and is left at the next.
 * Sixteen blocks a round (one reduction each), then eight, then one by one.
 */
TGT static void crypt_blocks(const struct sl_gcm_key *k, __m128i *x,
			     __m128i *ctr, const uint8_t *in, uint8_t *out,
			     size_t nblk, bool enc)
{
	const __m128i bs = bswap_mask();
	const __m256i eight = _mm256_set_epi32(0, 0, 0, 8, 0, 0, 0, 8);
	const __m128i h1 = h1_of(k);
	__m256i c01 = _mm256_add_epi32(_mm256_broadcastsi128_si256(*ctr),
				       _mm256_set_epi32(0, 0, 0, 1, 0, 0, 0, 0));
	__m256i b[8], g[8];

	for (; nblk >= 16; nblk -= 16, in += 256, out += 256) {
		aes8(k, c01, b);
		c01 = _mm256_add_epi32(c01, eight);
		aes8(k, c01, b + 4);
		c01 = _mm256_add_epi32(c01, eight);
		xor_store(in, out, b, g, 8, enc);
		hash_pairs(k, x, g, 8);
	}
	if (nblk >= 8) {
		aes8(k, c01, b);
		c01 = _mm256_add_epi32(c01, eight);
		xor_store(in, out, b, g, 4, enc);
		hash_pairs(k, x, g, 4);
		nblk -= 8;
		in += 128;
		out += 128;
	}
	*ctr = _mm256_castsi256_si128(c01);
	for (; nblk; nblk--, in += 16, out += 16) {
		__m128i d = _mm_loadu_si128((const __m128i *)in);
		__m128i e = _mm_xor_si128(
			aes_block(k, _mm_shuffle_epi8(*ctr, bs)), d);

		_mm_storeu_si128((__m128i *)out, e);
		*x = gmul(_mm_xor_si128(*x, _mm_shuffle_epi8(enc ? e : d, bs)),
			  h1);
		*ctr = _mm_add_epi32(*ctr, _mm_set_epi32(0, 0, 0, 1));
	}
}

/* the last, partial block: @n bytes of @blk (at most 16), encrypted or
 * decrypted in place, then hashed */
TGT static void crypt_tail(const struct sl_gcm_key *k, __m128i *x,
			   __m128i ctr, uint8_t blk[16], size_t n, bool enc)
{
	uint8_t ks[16], ct[16];

	_mm_storeu_si128((__m128i *)ks,
			 aes_block(k, _mm_shuffle_epi8(ctr, bswap_mask())));
	if (!enc)
		memcpy(ct, blk, n);
	for (size_t i = 0; i < n; i++)
		blk[i] ^= ks[i];
	hash_bytes(k, x, enc ? blk : ct, n);
	OPENSSL_cleanse(ks, sizeof(ks));
}

/* the whole of GCM but the tag's use: ciphertext to @out, tag to @tag */
TGT static void gcm_run(const struct sl_gcm_key *k, const uint8_t iv[12],
			const uint8_t *aad, size_t aad_len, const uint8_t *in,
			size_t len, int trail, uint8_t *out, uint8_t tag[16],
			bool enc)
{
	const __m128i bs = bswap_mask();
	size_t full = len / 16, rest = len % 16, total = len + (trail >= 0);
	uint8_t j[16], blk[16];
	__m128i x = _mm_setzero_si128(), ctr, s;

	memcpy(j, iv, 12);
	j[12] = j[13] = j[14] = 0;
	j[15] = 2;
	ctr = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)j), bs);
	hash_bytes(k, &x, aad, aad_len);
	crypt_blocks(k, &x, &ctr, in, out, full, enc);
	if (rest || trail >= 0) {
		size_t n = rest + (trail >= 0);

		memcpy(blk, in + 16 * full, rest);
		if (trail >= 0)
			blk[rest] = (uint8_t)trail;
		crypt_tail(k, &x, ctr, blk, n, enc);
		memcpy(out + 16 * full, blk, n);
		OPENSSL_cleanse(blk, sizeof(blk));
	}
	x = gmul(_mm_xor_si128(x, _mm_set_epi64x((long long)(aad_len * 8),
						  (long long)(total * 8))),
		 h1_of(k));
	j[15] = 1;
	s = _mm_xor_si128(aes_block(k, _mm_loadu_si128((const __m128i *)j)),
			  _mm_shuffle_epi8(x, bs));
	_mm_storeu_si128((__m128i *)tag, s);
}

int sl_gcm_init(struct sl_gcm_key *k, const uint8_t *key, size_t key_len)
{
	if (key_len != 16 && key_len != 32)
		return -EINVAL;
	if (!cpu_ok())
		return -ENOTSUP;
	init_key(k, key, key_len);
	return 0;
}

void sl_gcm_seal(const struct sl_gcm_key *k, const uint8_t iv[SL_GCM_IV_LEN],
		 const uint8_t *aad, size_t aad_len, const uint8_t *in,
		 size_t len, int trail, uint8_t *out,
		 uint8_t tag[SL_GCM_TAG_LEN])
{
	gcm_run(k, iv, aad, aad_len, in, len, trail, out, tag, true);
}

int sl_gcm_open(const struct sl_gcm_key *k, const uint8_t iv[SL_GCM_IV_LEN],
		const uint8_t *aad, size_t aad_len, const uint8_t *in,
		size_t len, uint8_t *out, const uint8_t tag[SL_GCM_TAG_LEN])
{
	uint8_t t[SL_GCM_TAG_LEN];
	int bad;

	gcm_run(k, iv, aad, aad_len, in, len, -1, out, t, false);
	bad = CRYPTO_memcmp(t, tag, sizeof(t));
	OPENSSL_cleanse(t, sizeof(t));
	if (bad) {
		OPENSSL_cleanse(out, len);
		return -EBADMSG;
	}
	return 0;
}

#else /* not x86-64: OpenSSL only */

static bool cpu_ok(void)
{
	return false;
}

int sl_gcm_init(struct sl_gcm_key *k, const uint8_t *key, size_t key_len)
{
	(void)k;
	(void)key;
	return key_len == 16 || key_len == 32 ? -ENOTSUP : -EINVAL;
}

void sl_gcm_seal(const struct sl_gcm_key *k, const uint8_t iv[SL_GCM_IV_LEN],
		 const uint8_t *aad, size_t aad_len, const uint8_t *in,
		 size_t len, int trail, uint8_t *out,
		 uint8_t tag[SL_GCM_TAG_LEN])
{
	(void)k, (void)iv, (void)aad, (void)aad_len, (void)in, (void)len;
	(void)trail, (void)out, (void)tag;
	abort(); /* never initialised: sl_gcm_init failed */
}

int sl_gcm_open(const struct sl_gcm_key *k, const uint8_t iv[SL_GCM_IV_LEN],
		const uint8_t *aad, size_t aad_len, const uint8_t *in,
		size_t len, uint8_t *out, const uint8_t tag[SL_GCM_TAG_LEN])
{
	(void)k, (void)iv, (void)aad, (void)aad_len, (void)in, (void)len;
	(void)out, (void)tag;
	abort();
}

#endif

void sl_gcm_wipe(struct sl_gcm_key *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}

/* ---- self-test against OpenSSL, once ---------------------------------- */

static int evp_seal(const uint8_t *key, size_t key_len, const uint8_t *iv,
		    const uint8_t *aad, size_t aad_len, const uint8_t *in,
		    size_t len, uint8_t *out, uint8_t tag[16])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int outl, ok;

	ok = ctx &&
	     EVP_EncryptInit_ex(ctx, key_len == 16 ? EVP_aes_128_gcm() :
						     EVP_aes_256_gcm(),
				NULL, key, iv) == 1 &&
	     (!aad_len ||
	      EVP_EncryptUpdate(ctx, NULL, &outl, aad, (int)aad_len) == 1) &&
	     (!len || EVP_EncryptUpdate(ctx, out, &outl, in, (int)len) == 1) &&
	     EVP_EncryptFinal_ex(ctx, out + len, &outl) == 1 &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag) == 1;
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -EIO;
}

/* one case: seal against OpenSSL, open, open with a flipped bit */
static bool selftest_case(const uint8_t *key, size_t key_len, size_t len,
			  uint8_t *buf, uint8_t *ref, uint8_t *got)
{
	struct sl_gcm_key k;
	uint8_t iv[12], aad[13], t_ref[16], t_got[16];
	size_t aad_len = len % 14;
	bool ok = false;

	if (RAND_bytes(iv, sizeof(iv)) != 1 || RAND_bytes(aad, sizeof(aad)) != 1 ||
	    RAND_bytes(buf, (int)len + 1) != 1 ||
	    evp_seal(key, key_len, iv, aad, aad_len, buf, len + 1, ref, t_ref) ||
	    sl_gcm_init(&k, key, key_len))
		return false;
	/* the last byte of buf as the trailer */
	sl_gcm_seal(&k, iv, aad, aad_len, buf, len, buf[len], got, t_got);
	if (memcmp(ref, got, len + 1) || memcmp(t_ref, t_got, 16))
		goto out;
	if (sl_gcm_open(&k, iv, aad, aad_len, ref, len + 1, got, t_ref) ||
	    memcmp(got, buf, len + 1))
		goto out;
	ref[len / 2] ^= 0x10;
	ok = sl_gcm_open(&k, iv, aad, aad_len, ref, len + 1, got, t_ref) ==
	     -EBADMSG;
out:
	sl_gcm_wipe(&k);
	return ok;
}

static void probe(void)
{
	/* SP 800-38D test case 2 (the GCM paper's): K = 0, IV = 0, P = 0^128 */
	static const uint8_t kat_ct[16] = { 0x03, 0x88, 0xda, 0xce, 0x60, 0xb6,
					    0xa3, 0x92, 0xf3, 0x28, 0xc2, 0xb9,
					    0x71, 0xb2, 0xfe, 0x78 };
	static const uint8_t kat_tag[16] = { 0xab, 0x6e, 0x47, 0xd4, 0x2c, 0xec,
					     0x13, 0xbd, 0xf5, 0x3a, 0x67, 0xb2,
					     0x12, 0x57, 0xbd, 0xdf };
	static const size_t lens[] = { 0,   14,  15,  16,  31,	 127, 128,
				       129, 135, 255, 1000, 4096, 16384 };
	uint8_t zero[32] = { 0 }, ct[16], tag[16], key[32];
	uint8_t *buf = NULL, *ref = NULL, *got = NULL;
	struct sl_gcm_key k;

	if (!cpu_ok()) {
		sl_log_info("aes-gcm: this CPU has no VAES/VPCLMULQDQ with AVX2: "
			    "OpenSSL's AES-GCM serves the userspace record layer");
		return;
	}
	if (sl_gcm_init(&k, zero, 16))
		return;
	sl_gcm_seal(&k, zero, NULL, 0, zero, 16, -1, ct, tag);
	sl_gcm_wipe(&k);
	if (memcmp(ct, kat_ct, 16) || memcmp(tag, kat_tag, 16))
		goto fail;
	buf = malloc(16385);
	ref = malloc(16385);
	got = malloc(16385);
	if (!buf || !ref || !got)
		goto fail;
	for (size_t kl = 16; kl <= 32; kl += 16)
		for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
			if (RAND_bytes(key, (int)kl) != 1 ||
			    !selftest_case(key, kl, lens[i], buf, ref, got))
				goto fail;
	probe_ok = true;
	goto out;
fail:
	sl_log_err("aes-gcm: the VAES self-test against OpenSSL failed: "
		     "OpenSSL's AES-GCM serves the userspace record layer");
out:
	OPENSSL_cleanse(key, sizeof(key));
	free(buf);
	free(ref);
	free(got);
}

bool sl_gcm_available(void)
{
	if (gcm_mode == SL_GCM_OPENSSL)
		return false;
	pthread_once(&probe_once, probe);
	return probe_ok;
}

const char *sl_gcm_impl_name(void)
{
	return sl_gcm_available() ? "vaes-avx2" : "openssl";
}

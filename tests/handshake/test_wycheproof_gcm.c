// SPDX-License-Identifier: Apache-2.0
/*
 * Project Wycheproof's AES-GCM vectors (data/wycheproof/aes_gcm_test.json,
 * see its README) against the two AES-GCM implementations of the
 * userspace record layer, every vector:
 *
 *   evp   record.c's EVP code (sl_rl_evp_seal/open, record_internal.h) on a
 *         context set up as record.c sets up its own: always runs;
 *   vaes  gcm.c (sl_gcm_init/seal/open): SKIPs (77) on a CPU without VAES,
 *         VPCLMULQDQ and AVX2, where sluice never runs it.
 *
 * Usage: test-wycheproof-gcm FILE.json evp|vaes
 *
 * A vector with parameters the path supports is run: opened out of place
 * and in place (the record layer does both), sealed, and sealed with its
 * last byte as the trailing byte (how the record layer seals the inner
 * content type).  The outcome must match the vector's "result" exactly:
 * "valid" opens to the message and seals to its ciphertext and tag;
 * "invalid" fails to open, with the output wiped, and does not seal to the
 * given ciphertext and tag.  A vector whose parameters the path does not
 * support is either checked to be rejected (gcm.c refuses a 192-bit key at
 * sl_gcm_init) or, when the API cannot express it at all (a nonce other
 * than 96 bits or a tag other than 128 bits: gcm.h and record_internal.h
 * take exactly 12 and 16 bytes, as TLS 1.3 records always use; AES-192 on
 * the EVP path: no TLS 1.3 suite uses it, so record.c never sets up a
 * context for it), counted and listed as not applicable with that reason.
 * The totals must add up to the file's numberOfTests.
 *
 * The JSON is read by a small strict parser below (RFC 8259 without
 * surrogate pairs), enough for Wycheproof's files.
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
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "gcm.h"
#include "record_internal.h"

/* ---- a small JSON reader ------------------------------------------------- */

enum jt { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
	enum jt t;
	char *str;	/* J_STR: decoded text; J_NUM, J_BOOL: the literal */
	char **keys;	/* J_OBJ: n keys */
	struct jv *kid; /* J_ARR, J_OBJ: n values */
	size_t n;
};

struct jp {
	const char *p, *start, *end;
	const char *err; /* the first error */
	size_t err_at;
};

#define J_DEPTH 32

static bool jp_fail(struct jp *j, const char *what)
{
	if (!j->err) {
		j->err = what;
		j->err_at = (size_t)(j->p - j->start);
	}
	return false;
}

static void jp_ws(struct jp *j)
{
	while (j->p < j->end &&
	       (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static bool jp_lit(struct jp *j, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n))
		return jp_fail(j, "unknown literal");
	j->p += n;
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* a string at j->p (the opening quote), decoded to a new string */
static bool jp_string(struct jp *j, char **out)
{
	size_t cap = 16, n = 0;
	char *s = malloc(cap);

	if (!s)
		return jp_fail(j, "out of memory");
	j->p++; /* " */
	for (;;) {
		unsigned int c;

		if (j->p >= j->end) {
			free(s);
			return jp_fail(j, "unterminated string");
		}
		c = (unsigned char)*j->p++;
		if (c == '"')
			break;
		if (c < 0x20) {
			free(s);
			return jp_fail(j, "control character in a string");
		}
		if (c == '\\') {
			if (j->p >= j->end) {
				free(s);
				return jp_fail(j, "unterminated escape");
			}
			c = (unsigned char)*j->p++;
			switch (c) {
			case '"': case '\\': case '/':
				break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u': {
				unsigned int u = 0;

				for (int i = 0; i < 4; i++) {
					int h = j->p < j->end ? hexval(*j->p) : -1;

					if (h < 0) {
						free(s);
						return jp_fail(j, "bad \\u escape");
					}
					u = u << 4 | (unsigned int)h;
					j->p++;
				}
				if (u >= 0xd800 && u <= 0xdfff) {
					free(s);
					return jp_fail(j, "surrogate escape "
							  "(not supported)");
				}
				/* as UTF-8 (at most 3 bytes) */
				if (n + 4 > cap) {
					char *t = realloc(s, cap *= 2);

					if (!t) {
						free(s);
						return jp_fail(j, "out of memory");
					}
					s = t;
				}
				if (u < 0x80) {
					s[n++] = (char)u;
				} else if (u < 0x800) {
					s[n++] = (char)(0xc0 | u >> 6);
					s[n++] = (char)(0x80 | (u & 0x3f));
				} else {
					s[n++] = (char)(0xe0 | u >> 12);
					s[n++] = (char)(0x80 | (u >> 6 & 0x3f));
					s[n++] = (char)(0x80 | (u & 0x3f));
				}
				continue;
			}
			default:
				free(s);
				return jp_fail(j, "unknown escape");
			}
		}
		if (n + 2 > cap) {
			char *t = realloc(s, cap *= 2);

			if (!t) {
				free(s);
				return jp_fail(j, "out of memory");
			}
			s = t;
		}
		s[n++] = (char)c;
	}
	s[n] = '\0';
	*out = s;
	return true;
}

static bool jp_number(struct jp *j, struct jv *v)
{
	const char *b = j->p;
	size_t n;

	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p >= j->end || *j->p < '0' || *j->p > '9')
		return jp_fail(j, "bad number");
	if (*j->p == '0')
		j->p++;
	else
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return jp_fail(j, "bad fraction");
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return jp_fail(j, "bad exponent");
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	n = (size_t)(j->p - b);
	v->t = J_NUM;
	v->str = strndup(b, n);
	return v->str ? true : jp_fail(j, "out of memory");
}

static bool jp_value(struct jp *j, struct jv *v, int depth);

/* the members of an array or object; @obj says which */
static bool jp_members(struct jp *j, struct jv *v, bool obj, int depth)
{
	size_t cap = 0;

	v->t = obj ? J_OBJ : J_ARR;
	j->p++; /* [ or { */
	jp_ws(j);
	if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
		j->p++;
		return true;
	}
	for (;;) {
		char *key = NULL;

		if (obj) {
			jp_ws(j);
			if (j->p >= j->end || *j->p != '"')
				return jp_fail(j, "expected a key");
			if (!jp_string(j, &key))
				return false;
			jp_ws(j);
			if (j->p >= j->end || *j->p != ':') {
				free(key);
				return jp_fail(j, "expected ':'");
			}
			j->p++;
		}
		if (v->n == cap) {
			size_t nc = cap ? 2 * cap : 8;
			struct jv *k = realloc(v->kid, nc * sizeof(*k));
			char **ks = obj ? realloc(v->keys, nc * sizeof(*ks)) : NULL;

			if (k)
				v->kid = k;
			if (ks)
				v->keys = ks;
			if (!k || (obj && !ks)) {
				free(key);
				return jp_fail(j, "out of memory");
			}
			cap = nc;
		}
		memset(&v->kid[v->n], 0, sizeof(v->kid[v->n]));
		if (obj)
			v->keys[v->n] = key;
		v->n++;
		if (!jp_value(j, &v->kid[v->n - 1], depth + 1))
			return false;
		jp_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
			j->p++;
			return true;
		}
		return jp_fail(j, obj ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static bool jp_value(struct jp *j, struct jv *v, int depth)
{
	if (depth > J_DEPTH)
		return jp_fail(j, "nested too deep");
	jp_ws(j);
	if (j->p >= j->end)
		return jp_fail(j, "unexpected end");
	switch (*j->p) {
	case '{':
		return jp_members(j, v, true, depth);
	case '[':
		return jp_members(j, v, false, depth);
	case '"':
		v->t = J_STR;
		return jp_string(j, &v->str);
	case 't':
		v->t = J_BOOL;
		v->str = strdup("true");
		return jp_lit(j, "true");
	case 'f':
		v->t = J_BOOL;
		v->str = strdup("false");
		return jp_lit(j, "false");
	case 'n':
		v->t = J_NULL;
		return jp_lit(j, "null");
	default:
		return jp_number(j, v);
	}
}

static void jv_free(struct jv *v)
{
	for (size_t i = 0; i < v->n; i++) {
		jv_free(&v->kid[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->kid);
	free(v->keys);
	free(v->str);
	memset(v, 0, sizeof(*v));
}

/* the whole of @path as one JSON value */
static void jv_load(const char *path, struct jv *root)
{
	struct jp j = { 0 };
	char *buf;
	long len;
	FILE *f = fopen(path, "rb");

	if (!f)
		fail_msg("%s: %s", path, strerror(errno));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	assert_true(len > 0);
	rewind(f);
	buf = malloc((size_t)len);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	j.p = j.start = buf;
	j.end = buf + len;
	memset(root, 0, sizeof(*root));
	if (jp_value(&j, root, 0)) {
		jp_ws(&j);
		if (j.p != j.end)
			jp_fail(&j, "trailing bytes");
	}
	free(buf);
	if (j.err) {
		jv_free(root);
		fail_msg("%s: bad JSON at byte %zu: %s", path, j.err_at, j.err);
	}
}

static const struct jv *jv_get(const struct jv *obj, const char *key)
{
	if (obj->t != J_OBJ)
		return NULL;
	for (size_t i = 0; i < obj->n; i++)
		if (!strcmp(obj->keys[i], key))
			return &obj->kid[i];
	return NULL;
}

static const struct jv *need(const struct jv *obj, const char *key, enum jt t,
			     const char *where)
{
	const struct jv *v = jv_get(obj, key);

	if (!v || v->t != t)
		fail_msg("%s: \"%s\" missing or of the wrong type", where, key);
	return v;
}

static long need_int(const struct jv *obj, const char *key, const char *where)
{
	const struct jv *v = need(obj, key, J_NUM, where);
	char *e;
	long n = strtol(v->str, &e, 10);

	if (*e || n < 0)
		fail_msg("%s: \"%s\" is not a count: %s", where, key, v->str);
	return n;
}

/* a hex string to a new buffer (at least 1 byte allocated) */
static uint8_t *need_hex(const struct jv *obj, const char *key, size_t *len,
			 const char *where)
{
	const char *s = need(obj, key, J_STR, where)->str;
	size_t n = strlen(s);
	uint8_t *b;

	if (n % 2)
		fail_msg("%s: \"%s\" has an odd number of hex digits", where, key);
	b = malloc(n / 2 + 1);
	assert_non_null(b);
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			fail_msg("%s: \"%s\" is not hex", where, key);
		b[i] = (uint8_t)(hi << 4 | lo);
	}
	*len = n / 2;
	return b;
}

/* ---- the vectors --------------------------------------------------------- */

enum path { P_EVP, P_VAES };

static const char *json_path;
static enum path path;

struct vec {
	long id;
	const char *comment;
	bool valid;
	uint8_t *key, *iv, *aad, *msg, *ct, *tag;
	size_t key_len, iv_len, aad_len, msg_len, ct_len, tag_len;
};

/* why a path cannot run a vector, or NULL */
enum na {
	NA_NONE,
	NA_IV,	  /* nonce other than 96 bits */
	NA_TAG,	  /* tag other than 128 bits */
	NA_KEY,	  /* EVP: a key size no TLS 1.3 suite uses */
	NA__MAX,
};

static const char *const na_reason[NA__MAX] = {
	[NA_IV] = "nonce other than 96 bits: TLS 1.3 record nonces are "
		  "always 96 bits (RFC 8446 5.3), and gcm.h and "
		  "record_internal.h take exactly 12 bytes",
	[NA_TAG] = "tag other than 128 bits: TLS 1.3 AES-GCM tags are always "
		   "128 bits, and both APIs take exactly 16 bytes",
	[NA_KEY] = "AES-192: no TLS 1.3 suite uses it, so record.c never sets "
		   "up an EVP context for it (sl_tls_rl_new_secrets takes "
		   "0x1301-0x1303 only)",
};

struct tally {
	size_t total, ran_valid, ran_invalid, rejected, na[NA__MAX];
	size_t bad; /* vectors whose outcome differed */
	char na_ids[NA__MAX][2048];
};

static void note_na(struct tally *t, enum na why, long id)
{
	size_t used = strlen(t->na_ids[why]);

	t->na[why]++;
	snprintf(t->na_ids[why] + used, sizeof(t->na_ids[why]) - used, "%s%ld",
		 used ? " " : "", id);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* the path's seal/open on @v's key; @retval 0 or -errno of the open */
struct impl {
	struct sl_gcm_key gk;
	EVP_CIPHER *cipher;
	EVP_CIPHER_CTX *enc, *dec;
};

static int impl_init(struct impl *im, const struct vec *v)
{
	memset(im, 0, sizeof(*im));
	if (path == P_VAES)
		return sl_gcm_init(&im->gk, v->key, v->key_len);
	/* as record.c: the suite's cipher fetched by name, one context per
	 * direction, keyed once, a new nonce for each record */
	im->cipher = EVP_CIPHER_fetch(NULL, v->key_len == 16 ? "AES-128-GCM" :
							       "AES-256-GCM",
				      NULL);
	im->enc = EVP_CIPHER_CTX_new();
	im->dec = EVP_CIPHER_CTX_new();
	assert_non_null(im->cipher);
	assert_non_null(im->enc);
	assert_non_null(im->dec);
	assert_int_equal((size_t)EVP_CIPHER_get_key_length(im->cipher),
			 v->key_len);
	assert_int_equal(EVP_CipherInit_ex(im->enc, im->cipher, NULL, v->key,
					   NULL, 1), 1);
	assert_int_equal(EVP_CipherInit_ex(im->dec, im->cipher, NULL, v->key,
					   NULL, 0), 1);
	return 0;
}

static void impl_free(struct impl *im)
{
	sl_gcm_wipe(&im->gk);
	EVP_CIPHER_CTX_free(im->enc);
	EVP_CIPHER_CTX_free(im->dec);
	EVP_CIPHER_free(im->cipher);
}

static void impl_seal(struct impl *im, const struct vec *v, const uint8_t *in,
		      size_t len, int trail, uint8_t *out, uint8_t tag[16])
{
	if (path == P_VAES)
		sl_gcm_seal(&im->gk, v->iv, v->aad, v->aad_len, in, len, trail,
			    out, tag);
	else
		assert_int_equal(sl_rl_evp_seal(im->enc, v->iv, v->aad,
						v->aad_len, in, len, trail, out,
						tag), 0);
}

static int impl_open(struct impl *im, const struct vec *v, const uint8_t *in,
		     uint8_t *out)
{
	if (path == P_VAES)
		return sl_gcm_open(&im->gk, v->iv, v->aad, v->aad_len, in,
				   v->ct_len, out, v->tag);
	return sl_rl_evp_open(im->dec, v->iv, v->aad, v->aad_len, in, v->ct_len,
			      out, v->tag);
}

/* Run one vector whose parameters the path supports.  @retval the number
 * of mismatches (each printed) */
static int run_vector(const struct vec *v)
{
	size_t n = v->ct_len;
	uint8_t *out = malloc(n + 1), *inplace = malloc(n + 1);
	uint8_t *sealed = malloc(n + 1), tag[16];
	struct impl im;
	int bad = 0, rc;

	assert_true(out && inplace && sealed);
	assert_int_equal(impl_init(&im, v), 0);

	/* open, into another buffer */
	memset(out, 0xa5, n + 1);
	rc = impl_open(&im, v, v->ct, out);
	if (v->valid && (rc || memcmp(out, v->msg, n))) {
		print_error("tcId %ld (%s): valid, but open %s\n", v->id,
			    v->comment, rc ? "failed" : "gave another message");
		bad++;
	} else if (!v->valid && rc != -EBADMSG) {
		print_error("tcId %ld (%s): invalid, but open returned %d\n",
			    v->id, v->comment, rc);
		bad++;
	} else if (!v->valid && !all_zero(out, n)) {
		print_error("tcId %ld (%s): invalid, refused, but the output "
			    "holds unauthenticated plaintext\n", v->id,
			    v->comment);
		bad++;
	}
	/* open in place (the record layer's small reads) */
	memcpy(inplace, v->ct, n);
	rc = impl_open(&im, v, inplace, inplace);
	if (v->valid && (rc || memcmp(inplace, v->msg, n))) {
		print_error("tcId %ld (%s): valid, but open in place %s\n",
			    v->id, v->comment,
			    rc ? "failed" : "gave another message");
		bad++;
	} else if (!v->valid && (rc != -EBADMSG || !all_zero(inplace, n))) {
		print_error("tcId %ld (%s): invalid, but open in place "
			    "returned %d%s\n", v->id, v->comment, rc,
			    rc ? ", the buffer not wiped" : "");
		bad++;
	}
	/* seal: a valid vector's ciphertext and tag exactly, an invalid
	 * one's never (its ciphertext or tag was altered) */
	for (int trailer = 0; trailer < 2; trailer++) {
		bool same;

		if (trailer && !n)
			break;
		memset(sealed, 0x5a, n + 1);
		if (trailer) /* the last byte as the record's content type */
			impl_seal(&im, v, v->msg, n - 1, v->msg[n - 1], sealed,
				  tag);
		else
			impl_seal(&im, v, v->msg, n, -1, sealed, tag);
		same = !memcmp(sealed, v->ct, n) && !memcmp(tag, v->tag, 16);
		if (same != v->valid) {
			print_error("tcId %ld (%s): %s, but seal%s %s\n", v->id,
				    v->comment, v->valid ? "valid" : "invalid",
				    trailer ? " with a trailing byte" : "",
				    v->valid ? "differs" : "gives it");
			bad++;
		}
	}
	impl_free(&im);
	free(out);
	free(inplace);
	free(sealed);
	return bad;
}

static void vec_free(struct vec *v)
{
	free(v->key);
	free(v->iv);
	free(v->aad);
	free(v->msg);
	free(v->ct);
	free(v->tag);
}

static void one_vector(struct tally *t, const struct jv *tc, long key_bits,
		       long iv_bits, long tag_bits)
{
	char where[64];
	const char *result;
	struct vec v = { 0 };

	v.id = need_int(tc, "tcId", "a test");
	snprintf(where, sizeof(where), "tcId %ld", v.id);
	v.comment = need(tc, "comment", J_STR, where)->str;
	result = need(tc, "result", J_STR, where)->str;
	if (strcmp(result, "valid") && strcmp(result, "invalid"))
		fail_msg("%s: result \"%s\" (a vector must be valid or invalid "
			 "for AES-GCM)", where, result);
	v.valid = !strcmp(result, "valid");
	v.key = need_hex(tc, "key", &v.key_len, where);
	v.iv = need_hex(tc, "iv", &v.iv_len, where);
	v.aad = need_hex(tc, "aad", &v.aad_len, where);
	v.msg = need_hex(tc, "msg", &v.msg_len, where);
	v.ct = need_hex(tc, "ct", &v.ct_len, where);
	v.tag = need_hex(tc, "tag", &v.tag_len, where);
	/* the group's sizes describe its vectors */
	if (v.key_len * 8 != (size_t)key_bits || v.iv_len * 8 != (size_t)iv_bits ||
	    v.tag_len * 8 != (size_t)tag_bits || v.ct_len != v.msg_len)
		fail_msg("%s: sizes differ from its group's", where);
	t->total++;

	if (path == P_VAES && v.key_len != 16 && v.key_len != 32) {
		/* gcm.c must refuse the key whatever the rest */
		struct sl_gcm_key k;
		int rc = sl_gcm_init(&k, v.key, v.key_len);

		if (rc != -EINVAL) {
			print_error("%s: a %zu-bit key: sl_gcm_init returned "
				    "%d, not -EINVAL\n", where, v.key_len * 8, rc);
			t->bad++;
			if (!rc)
				sl_gcm_wipe(&k);
		}
		t->rejected++;
	} else if (v.iv_len != SL_GCM_IV_LEN) {
		note_na(t, NA_IV, v.id);
	} else if (v.tag_len != SL_GCM_TAG_LEN) {
		note_na(t, NA_TAG, v.id);
	} else if (path == P_EVP && v.key_len != 16 && v.key_len != 32) {
		note_na(t, NA_KEY, v.id);
	} else {
		t->bad += (size_t)run_vector(&v);
		if (v.valid)
			t->ran_valid++;
		else
			t->ran_invalid++;
	}
	vec_free(&v);
}

static void test_vectors(void **state)
{
	const char *name = path == P_VAES ? "vaes (gcm.c)" : "evp (record.c)";
	static struct tally t;
	const struct jv *groups;
	struct jv root;
	long declared;

	(void)state;
	memset(&t, 0, sizeof(t));
	jv_load(json_path, &root);
	if (strcmp(need(&root, "algorithm", J_STR, json_path)->str, "AES-GCM"))
		fail_msg("%s: not the AES-GCM vectors", json_path);
	declared = need_int(&root, "numberOfTests", json_path);
	groups = need(&root, "testGroups", J_ARR, json_path);
	for (size_t g = 0; g < groups->n; g++) {
		const struct jv *grp = &groups->kid[g], *tests;
		long kb, ivb, tb;

		if (strcmp(need(grp, "type", J_STR, "a group")->str, "AeadTest"))
			fail_msg("group %zu: type is not AeadTest", g);
		kb = need_int(grp, "keySize", "a group");
		ivb = need_int(grp, "ivSize", "a group");
		tb = need_int(grp, "tagSize", "a group");
		tests = need(grp, "tests", J_ARR, "a group");
		for (size_t i = 0; i < tests->n; i++)
			one_vector(&t, &tests->kid[i], kb, ivb, tb);
	}
	jv_free(&root);

	print_message("# %s: %zu vectors: %zu valid and %zu invalid run, "
		      "%zu rejected at key setup (as they must be)\n",
		      name, t.total, t.ran_valid, t.ran_invalid, t.rejected);
	for (int r = NA_IV; r < NA__MAX; r++)
		if (t.na[r])
			print_message("# %s: %zu not applicable, %s: tcId %s\n",
				      name, t.na[r], na_reason[r], t.na_ids[r]);
	if (t.bad)
		fail_msg("%s: %zu mismatches with Wycheproof (above)", name, t.bad);
	/* every vector of the file accounted for, and some of each kind run */
	assert_int_equal(t.total, (size_t)declared);
	assert_int_equal(t.total, t.ran_valid + t.ran_invalid + t.rejected +
					  t.na[NA_IV] + t.na[NA_TAG] +
					  t.na[NA_KEY]);
	assert_true(t.ran_valid > 0 && t.ran_invalid > 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
	};

	if (argc != 3 || (strcmp(argv[2], "evp") && strcmp(argv[2], "vaes"))) {
		fprintf(stderr, "usage: %s FILE.json evp|vaes\n", argv[0]);
		return 2;
	}
	json_path = argv[1];
	path = strcmp(argv[2], "vaes") ? P_EVP : P_VAES;
	if (path == P_VAES) {
		struct sl_gcm_key k;
		uint8_t key[16] = { 0 };

		if (sl_gcm_init(&k, key, sizeof(key)) == -ENOTSUP) {
			printf("SKIP: this CPU has no VAES, VPCLMULQDQ and AVX2: "
			       "gcm.c never runs here (sluice uses OpenSSL's "
			       "AES-GCM, checked by the evp run)\n");
			return 77;
		}
		sl_gcm_wipe(&k);
	}
	return cmocka_run_group_tests_name(argv[2], tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Request-path normalization; see path.h and docs/HTTP.md "Path
 * normalization".  The canonicalization follows the one Envoy runs for
 * normalize_path (its copy of Chromium's path canonicalizer), the slash
 * merging Envoy's merge_slashes, the decoding of escaped slashes Envoy's
 * UNESCAPE_AND_FORWARD, in the order Envoy applies them; where this file
 * departs from Envoy, the comment and the docs say why. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "path.h"

static const char *const reason_names[SL_PATH_E__COUNT] = {
	[SL_PATH_OK] = "ok",
	[SL_PATH_E_NOT_ORIGIN] = "path-not-origin-form",
	[SL_PATH_E_FRAGMENT] = "path-fragment",
	[SL_PATH_E_ESCAPED_SLASH] = "path-escaped-slash",
	[SL_PATH_E_NUL] = "path-nul",
	[SL_PATH_E_TOO_LONG] = "path-too-long",
};

static const char *const mode_names[SL_PATH_MODE__COUNT] = {
	[SL_PATH_NONE] = "NONE",
	[SL_PATH_BASE] = "BASE",
	[SL_PATH_MERGE_SLASHES] = "MERGE_SLASHES",
	[SL_PATH_DECODE_AND_MERGE_SLASHES] = "DECODE_AND_MERGE_SLASHES",
};

const char *sl_path_reason_str(enum sl_path_reason r)
{
	if ((unsigned)r >= SL_PATH_E__COUNT)
		return "?";
	return reason_names[r];
}

const char *sl_path_mode_str(enum sl_path_mode m)
{
	if ((unsigned)m >= SL_PATH_MODE__COUNT)
		return "?";
	return mode_names[m];
}

int sl_path_mode_parse(const char *name)
{
	if (!name)
		return -EINVAL;
	/* Istio: DEFAULT is BASE */
	if (!strcmp(name, "DEFAULT"))
		return SL_PATH_BASE;
	for (int m = 0; m < SL_PATH_MODE__COUNT; m++)
		if (!strcmp(name, mode_names[m]))
			return m;
	return -EINVAL;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "%XY" at @p with two hex digits (the '%' itself is not checked, as in
 * Chromium's DecodeEscaped; callers know it is there) */
static bool decode_escaped(const char *s, size_t p, size_t n, unsigned char *v)
{
	int hi, lo;

	if (p + 3 > n)
		return false;
	hi = hexval((unsigned char)s[p + 1]);
	lo = hexval((unsigned char)s[p + 2]);
	if (hi < 0 || lo < 0)
		return false;
	*v = (unsigned char)(hi << 4 | lo);
	return true;
}

/* %2F, %2f, %5C, %5c at @p: 3, with the slash or backslash it encodes */
static size_t enc_slash(const char *s, size_t n, size_t p, char *c)
{
	if (p + 3 > n || s[p] != '%')
		return 0;
	if (s[p + 1] == '2' && (s[p + 2] | 0x20) == 'f') {
		*c = '/';
		return 3;
	}
	if (s[p + 1] == '5' && (s[p + 2] | 0x20) == 'c') {
		*c = '\\';
		return 3;
	}
	return 0;
}

/* RFC 3986 2.3 unreserved: what Envoy decodes when it is escaped */
static bool is_unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

/* bytes Envoy's canonicalizer writes escaped (its kPathCharLookup ESCAPE
 * class: controls, space, non-ASCII and "#<>?`{|}^); '%' and '\' have
 * their own rules, NUL is refused */
static bool must_escape(unsigned char c)
{
	return c <= 0x20 || c >= 0x7f || c == '"' || c == '#' || c == '<' ||
	       c == '>' || c == '?' || c == '`' || c == '{' || c == '|' ||
	       c == '}' || c == '^';
}

/* the input path as the canonicalizer reads it: with @decode, the escaped
 * slashes read as the characters they encode */
struct src {
	const char *s;
	size_t n;
	bool decode;
};

/* a slash at @p ('/', '\', or an escaped one when decoding): its length */
static size_t is_slash(const struct src *in, size_t p)
{
	char c;

	if (p >= in->n)
		return 0;
	if (in->s[p] == '/' || in->s[p] == '\\')
		return 1;
	if (in->decode)
		return enc_slash(in->s, in->n, p, &c);
	return 0;
}

/* a dot at @p ('.', %2e, %2E): its length */
static size_t is_dot(const struct src *in, size_t p)
{
	if (p >= in->n)
		return 0;
	if (in->s[p] == '.')
		return 1;
	if (in->s[p] == '%' && p + 3 <= in->n && in->s[p + 1] == '2' &&
	    (in->s[p + 2] | 0x20) == 'e')
		return 3;
	return 0;
}

struct out {
	char *b;
	size_t cap;
	size_t len;
	bool full;
};

static void put(struct out *o, char c)
{
	if (o->len < o->cap)
		o->b[o->len++] = c;
	else
		o->full = true;
}

enum dot { DOT_NONE, DOT_CUR, DOT_UP };

/* the input bytes of ";params" at @p up to the next slash, with that
 * slash: the parameters of a dot segment */
static size_t dot_params(const struct src *in, size_t p)
{
	size_t q = p, sl = 0;

	while (q < in->n && !(sl = is_slash(in, q)))
		q++;
	return q - p + sl;
}

/* what a dot that follows a slash means, given what follows it at @p;
 * *@cons: input bytes after the dot that belong to it.  A dot segment
 * carrying parameters ("/..;x/", "/.;x/") is a dot segment, its
 * parameters dropped (Envoy since CVE-2026-73551) */
static enum dot classify_after_dot(const struct src *in, size_t p, size_t *cons)
{
	size_t sl, d2;

	*cons = 0;
	if (p == in->n)
		return DOT_CUR;
	if ((sl = is_slash(in, p))) {
		*cons = sl;
		return DOT_CUR;
	}
	if (in->s[p] == ';') {
		*cons = dot_params(in, p);
		return DOT_CUR;
	}
	if ((d2 = is_dot(in, p))) {
		size_t q = p + d2;

		if (q == in->n) {
			*cons = d2;
			return DOT_UP;
		}
		if ((sl = is_slash(in, q))) {
			*cons = d2 + sl;
			return DOT_UP;
		}
		if (in->s[q] == ';') {
			*cons = d2 + dot_params(in, q);
			return DOT_UP;
		}
	}
	return DOT_NONE;
}

/* ".." : drop the last segment of the output, which ends in '/'; never
 * above the first slash */
static void back_up(struct out *o)
{
	size_t k = o->len - 1;

	if (k == 0)
		return;
	k--;
	while (k > 0 && o->b[k] != '/')
		k--;
	o->len = k + 1;
}

/* A '%' at @bad in the output began no valid escape in the input, and a
 * character was just decoded within two bytes after it.  If the output now
 * reads as an escape ("%%32e" gave "%2e"), a second pass would decode it:
 * write that '%' as "%25" instead (Chromium's CheckForNestedEscapes, which
 * Envoy runs).  @next: the input byte after the decoded escape. */
static void nested_escape(struct out *o, const struct src *in, size_t next,
			  size_t bad)
{
	size_t len = o->len;
	char last = o->b[len - 1];
	bool app = bad + 2 == len;
	unsigned char v;

	if (app) {
		if (next == in->n || (unsigned char)in->s[next] >= 0x80)
			return;
		put(o, in->s[next]);
		if (o->full)
			return;
	}
	if (o->b[bad] == '%' && decode_escaped(o->b, bad, o->len, &v)) {
		if (!app)
			put(o, o->b[bad + 1]);
		if (o->full)
			return;
		o->b[bad + 1] = '2';
		o->b[bad + 2] = '5';
		put(o, last);
	} else if (app) {
		o->len = len;
	}
}

/* Envoy's normalize_path over the path @in (it starts with '/'): dot
 * segments removed (RFC 3986 5.2.4), '\' read as '/', escaped unreserved
 * characters decoded, other escapes kept as sent (hex case too), bytes
 * that must be escaped written as %XX, NUL refused. */
static enum sl_path_reason canonical(const struct src *in, struct out *o,
				     size_t *err_pos)
{
	const char *s = in->s;
	/* output index of the last '%' that began no valid escape; SIZE_MAX
	 * when none can matter any more */
	size_t bad = SIZE_MAX;

	for (size_t i = 0; i < in->n && !o->full; i++) {
		unsigned char c = (unsigned char)s[i], v;
		size_t dl, cons;
		char sc;

		if (in->decode && (dl = enc_slash(s, in->n, i, &sc))) {
			/* DECODE_AND_MERGE_SLASHES: Envoy decodes %2F and %5C
			 * before it canonicalizes; '\' then becomes '/' */
			put(o, '/');
			i += dl - 1;
		} else if ((dl = is_dot(in, i))) {
			if (o->b[o->len - 1] != '/') {
				/* part of a name: "a.b", "a%2eb" */
				put(o, '.');
				i += dl - 1;
				continue;
			}
			switch (classify_after_dot(in, i + dl, &cons)) {
			case DOT_NONE:
				put(o, '.');
				i += dl - 1;
				break;
			case DOT_CUR:
				i += dl + cons - 1;
				break;
			case DOT_UP:
				back_up(o);
				/* the stale index Chromium keeps here could
				 * later rewrite an unrelated byte as "25" */
				if (bad != SIZE_MAX && bad >= o->len)
					bad = SIZE_MAX;
				i += dl + cons - 1;
				break;
			}
		} else if (c == '\\') {
			put(o, '/');
		} else if (c == '%') {
			if (!decode_escaped(s, i, in->n, &v)) {
				/* kept as a bare '%', as Envoy does */
				bad = o->len;
				put(o, '%');
				continue;
			}
			if (v == 0) {
				*err_pos = i;
				return SL_PATH_E_NUL;
			}
			if (is_unreserved(v)) {
				put(o, (char)v);
				if (bad != SIZE_MAX && !o->full && bad + 3 >= o->len)
					nested_escape(o, in, i + 3, bad);
			} else {
				put(o, '%');
				put(o, s[i + 1]);
				put(o, s[i + 2]);
			}
			i += 2;
		} else if (c == 0) {
			*err_pos = i;
			return SL_PATH_E_NUL;
		} else if (must_escape(c)) {
			static const char hex[] = "0123456789ABCDEF";

			put(o, '%');
			put(o, hex[c >> 4]);
			put(o, hex[c & 15]);
		} else {
			put(o, (char)c);
		}
	}
	if (o->full) {
		*err_pos = in->n;
		return SL_PATH_E_TOO_LONG;
	}
	return SL_PATH_OK;
}

/* Envoy's merge_slashes on the path @b of @len bytes: every run of '/'
 * becomes one */
static size_t merge_slashes(char *b, size_t len)
{
	size_t w = 0;

	for (size_t r = 0; r < len; r++) {
		if (b[r] == '/' && w > 0 && b[w - 1] == '/')
			continue;
		b[w++] = b[r];
	}
	return w;
}

static ssize_t refuse(struct sl_path_result *res, enum sl_path_reason r,
		      size_t pos)
{
	res->reason = r;
	res->status = r == SL_PATH_E_TOO_LONG ? 414 : 400;
	res->err_pos = pos;
	res->path_len = 0;
	return -EBADMSG;
}

ssize_t sl_path_normalize(enum sl_path_mode mode, const char *in, size_t in_len,
			  char *out, size_t out_cap, struct sl_path_result *res)
{
	struct out o = { .b = out, .cap = out_cap };
	enum sl_path_reason r;
	size_t plen, pos = 0;
	const char *q;

	if (!res || !out || (!in && in_len) || (unsigned)mode >= SL_PATH_MODE__COUNT)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	if (in_len == 0 || in[0] != '/')
		return refuse(res, SL_PATH_E_NOT_ORIGIN, 0);
	if (in_len > SSIZE_MAX / 3)
		return refuse(res, SL_PATH_E_TOO_LONG, 0);

	/* Envoy refuses a '#' anywhere in :path, query included, in every
	 * mode (http_reject_path_with_fragment, CVE-2021-32779) */
	q = memchr(in, '#', in_len);
	if (q)
		return refuse(res, SL_PATH_E_FRAGMENT, (size_t)(q - in));

	/* the path ends at the first '?'; the query is never touched */
	q = memchr(in, '?', in_len);
	plen = q ? (size_t)(q - in) : in_len;

	/* issue 27: escaped slashes refused unless decoded, in the order
	 * Envoy looks at them (before it canonicalizes) */
	if (mode != SL_PATH_DECODE_AND_MERGE_SLASHES) {
		char c;

		for (size_t i = 0; i < plen; i++)
			if (enc_slash(in, plen, i, &c))
				return refuse(res, SL_PATH_E_ESCAPED_SLASH, i);
	}
	/* %00 and NUL: Envoy's canonicalizer fails on them; refused here in
	 * every mode, NONE too.  A '%' never sits inside a valid escape, so
	 * finding "%00" as a substring finds exactly the escapes. */
	for (size_t i = 0; i < plen; i++)
		if (in[i] == 0 ||
		    (in[i] == '%' && i + 3 <= plen && in[i + 1] == '0' && in[i + 2] == '0'))
			return refuse(res, SL_PATH_E_NUL, i);

	if (mode == SL_PATH_NONE) {
		if (in_len > out_cap)
			return refuse(res, SL_PATH_E_TOO_LONG, out_cap);
		memcpy(out, in, in_len);
		res->path_len = plen;
		return (ssize_t)in_len;
	}

	struct src src = {
		.s = in,
		.n = plen,
		.decode = mode == SL_PATH_DECODE_AND_MERGE_SLASHES,
	};
	r = canonical(&src, &o, &pos);
	if (r)
		return refuse(res, r, pos);
	if (mode == SL_PATH_MERGE_SLASHES || mode == SL_PATH_DECODE_AND_MERGE_SLASHES)
		o.len = merge_slashes(o.b, o.len);
	res->path_len = o.len;
	if (in_len - plen > o.cap - o.len)
		return refuse(res, SL_PATH_E_TOO_LONG, plen);
	memcpy(o.b + o.len, in + plen, in_len - plen);
	o.len += in_len - plen;
	return (ssize_t)o.len;
}

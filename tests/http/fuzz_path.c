/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target of http/path.c.  The input is a request target; the
 * first byte, when the input is longer than one byte, also picks a small
 * output buffer (0 = none).  For every mode:
 * - no crash, no sanitizer report; accepted or refused with 400, and
 *   with a buffer of SL_PATH_OUT_MAX never 414;
 * - an accepted result starts with '/', its query is the input's;
 * - NONE gives the input back;
 * - in the other modes: no "." or ".." segment (also spelt %2e, also
 *   with ";parameters"), no '\';
 *   no "//" after merging;
 * - never %2F, %5C (either case), %00 or a NUL byte in the path;
 * - normalizing the result again, in the same mode, gives it back;
 * - MERGE_SLASHES is BASE with runs of '/' merged, and
 *   DECODE_AND_MERGE_SLASHES equals MERGE_SLASHES on input without
 *   escaped slashes;
 * - a smaller buffer gives the same result or 414. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_IN 4096

static char outs[SL_PATH_MODE__COUNT][SL_PATH_OUT_MAX(MAX_IN)];
static ssize_t lens[SL_PATH_MODE__COUNT];
static struct sl_path_result results[SL_PATH_MODE__COUNT];
static char again[SL_PATH_OUT_MAX(SL_PATH_OUT_MAX(MAX_IN))];
static char small[SL_PATH_OUT_MAX(MAX_IN)];

static bool dot_unit(const char *s, size_t n, size_t *i)
{
	if (*i < n && s[*i] == '.') {
		*i += 1;
		return true;
	}
	if (*i + 3 <= n && s[*i] == '%' && s[*i + 1] == '2' && (s[*i + 2] | 0x20) == 'e') {
		*i += 3;
		return true;
	}
	return false;
}

/* a segment of one or two dots, each '.' or %2e, with or without
 * ";parameters" */
static bool is_dot_segment(const char *s, size_t n)
{
	size_t i = 0, dots = 0;

	while (i < n && dots < 3 && dot_unit(s, n, &i))
		dots++;
	return (i == n || s[i] == ';') && (dots == 1 || dots == 2);
}

static void check_path(enum sl_path_mode m, const char *p, size_t n)
{
	size_t seg = 0;

	if (n == 0 || p[0] != '/')
		abort();
	for (size_t i = 0; i < n; i++) {
		if (p[i] == 0)
			abort();
		if (p[i] == '%' && i + 3 <= n) {
			char a = p[i + 1], b = p[i + 2];

			if ((a == '2' && (b == 'f' || b == 'F')) ||
			    (a == '5' && (b == 'c' || b == 'C')) ||
			    (a == '0' && b == '0'))
				abort();
		}
		if (m == SL_PATH_NONE)
			continue;
		if (p[i] == '\\')
			abort();
		if (p[i] == '/' && i > 0) {
			if (is_dot_segment(p + seg + 1, i - seg - 1))
				abort();
			if (m != SL_PATH_BASE && seg + 1 == i)
				abort();  /* "//" after merging */
			seg = i;
		}
	}
	if (m != SL_PATH_NONE && is_dot_segment(p + seg + 1, n - seg - 1))
		abort();
}

static size_t merge(const char *in, size_t n, char *out)
{
	size_t w = 0;

	for (size_t r = 0; r < n; r++) {
		if (in[r] == '/' && w > 0 && out[w - 1] == '/')
			continue;
		out[w++] = in[r];
	}
	return w;
}

static bool has_escaped_slash(const char *s, size_t n)
{
	for (size_t i = 0; i + 3 <= n; i++)
		if (s[i] == '%' && ((s[i + 1] == '2' && (s[i + 2] | 0x20) == 'f') ||
				    (s[i + 1] == '5' && (s[i + 2] | 0x20) == 'c')))
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	size_t n = size, small_cap = 0, plen;
	struct sl_path_result res;

	if (size > 1) {
		small_cap = data[0];
		in++;
		n--;
	}
	if (n > MAX_IN)
		return 0;
	const char *q = memchr(in, '?', n);
	plen = q ? (size_t)(q - in) : n;

	for (int mi = 0; mi < SL_PATH_MODE__COUNT; mi++) {
		enum sl_path_mode m = (enum sl_path_mode)mi;
		struct sl_path_result *r = &results[m];
		char *out = outs[m];
		ssize_t got = sl_path_normalize(m, in, n, out, SL_PATH_OUT_MAX(n), r);

		lens[m] = got;
		if (got < 0) {
			if (got != -EBADMSG || r->status != 400 || r->reason == SL_PATH_OK ||
			    r->reason >= SL_PATH_E__COUNT || r->err_pos > n)
				abort();
			continue;
		}
		if ((size_t)got > SL_PATH_OUT_MAX(n) || r->path_len > (size_t)got ||
		    r->reason != SL_PATH_OK || r->status != 0)
			abort();
		/* the query as it came */
		if ((size_t)got - r->path_len != n - plen ||
		    memcmp(out + r->path_len, in + plen, n - plen))
			abort();
		if (m == SL_PATH_NONE && ((size_t)got != n || memcmp(out, in, n)))
			abort();
		check_path(m, out, r->path_len);

		/* idempotent */
		ssize_t g2 = sl_path_normalize(m, out, (size_t)got, again, sizeof(again), &res);
		if (g2 != got || memcmp(again, out, (size_t)got))
			abort();

		/* a smaller buffer: the same result or 414 */
		if (small_cap) {
			g2 = sl_path_normalize(m, in, n, small, small_cap, &res);
			if (g2 >= 0 ? (g2 != got || memcmp(small, out, (size_t)got)) :
				      (g2 != -EBADMSG || res.reason != SL_PATH_E_TOO_LONG ||
				       res.status != 414))
				abort();
		}
		g2 = sl_path_normalize(m, in, n, small, (size_t)got - 1, &res);
		if (g2 != -EBADMSG || res.reason != SL_PATH_E_TOO_LONG)
			abort();
	}

	/* MERGE_SLASHES = merged BASE */
	if ((lens[SL_PATH_BASE] < 0) != (lens[SL_PATH_MERGE_SLASHES] < 0))
		abort();
	if (lens[SL_PATH_BASE] >= 0) {
		size_t pl = results[SL_PATH_BASE].path_len;
		size_t w = merge(outs[SL_PATH_BASE], pl, again);

		if (w != results[SL_PATH_MERGE_SLASHES].path_len ||
		    memcmp(again, outs[SL_PATH_MERGE_SLASHES], w))
			abort();
	}
	/* without escaped slashes, decoding them changes nothing */
	if (!has_escaped_slash(in, plen) &&
	    (lens[SL_PATH_MERGE_SLASHES] != lens[SL_PATH_DECODE_AND_MERGE_SLASHES] ||
	     (lens[SL_PATH_MERGE_SLASHES] >= 0 &&
	      memcmp(outs[SL_PATH_MERGE_SLASHES], outs[SL_PATH_DECODE_AND_MERGE_SLASHES],
		     (size_t)lens[SL_PATH_MERGE_SLASHES]))))
		abort();
	return 0;
}

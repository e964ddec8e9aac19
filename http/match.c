/* SPDX-License-Identifier: Apache-2.0 */
/*
 * VirtualService http[].match[] evaluation (match.h), Envoy's semantics.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "match.h"

/* joined values of a repeated header up to this size stay on the stack */
#define SL_MATCH_JOIN_STACK 1024

bool sl_str_match_eval(const struct sl_str_match *m, const char *s, size_t len,
		       bool icase)
{
	switch (m->kind) {
	case SL_SM_NONE:
		return true;
	case SL_SM_EXACT:
		if (len != m->len)
			return false;
		return icase ? strncasecmp(s, m->value, len) == 0 :
			       memcmp(s, m->value, len) == 0;
	case SL_SM_PREFIX:
		if (len < m->len)
			return false;
		return icase ? strncasecmp(s, m->value, m->len) == 0 :
			       memcmp(s, m->value, m->len) == 0;
	case SL_SM_REGEX:
		return sl_re_full_match(m->re, s, len);
	case SL_SM_PRESENT:
		return true;
	}
	return false;
}

/* 1: header @name present and its (joined) value satisfies @m; 0: present,
 * not satisfied; -1: absent; -2: out of memory */
static int sl_header_eval(const struct sl_http_req_view *req, const char *name,
			  const struct sl_str_match *m)
{
	char stack[SL_MATCH_JOIN_STACK], *heap = NULL;
	const char *v;
	ssize_t len;
	int ret;

	if (!req->msg || !req->buf)
		return -1;
	len = sl_h1_header_get(req->msg, req->buf, name, stack, sizeof(stack),
			       &v);
	if (len < 0)
		return -1;
	if (!v) {
		heap = malloc((size_t)len);
		if (!heap)
			return -2;
		sl_h1_header_get(req->msg, req->buf, name, heap, (size_t)len,
				 &v);
	}
	ret = sl_str_match_eval(m, v, (size_t)len, false);
	free(heap);
	return ret;
}

bool sl_http_query_param(const char *path, size_t path_len, const char *name,
			 const char **val, size_t *val_len)
{
	const char *q = path ? memchr(path, '?', path_len) : NULL;
	size_t nlen = strlen(name);
	const char *end;

	if (!q)
		return false;
	end = path + path_len;
	for (const char *p = q + 1; p <= end;) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *pe = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(pe - p));
		const char *ke = eq ? eq : pe;

		if ((size_t)(ke - p) == nlen && memcmp(p, name, nlen) == 0) {
			*val = eq ? eq + 1 : pe;
			*val_len = eq ? (size_t)(pe - eq - 1) : 0;
			return true;
		}
		if (!amp)
			break;
		p = amp + 1;
	}
	return false;
}

static bool sl_labels_have(const struct sl_label *want, size_t n_want,
			   const struct sl_label *have, size_t n_have)
{
	for (size_t i = 0; i < n_want; i++) {
		bool found = false;

		for (size_t j = 0; j < n_have && !found; j++)
			found = !strcmp(want[i].key, have[j].key) &&
				!strcmp(want[i].value, have[j].value);
		if (!found)
			return false;
	}
	return true;
}

bool sl_http_match_eval(const struct sl_http_match *m,
			const struct sl_http_req_view *req)
{
	if (m->port && m->port != req->port)
		return false;
	if (m->src_ns && (!req->src_ns || strcmp(m->src_ns, req->src_ns)))
		return false;
	if (!sl_labels_have(m->src_labels, m->n_src_labels, req->src_labels,
			    req->n_src_labels))
		return false;
	if (m->uri.kind != SL_SM_NONE) {
		size_t plen = req->path_len;
		const char *q;

		/* exact and regex: the path without its query */
		if (m->uri.kind != SL_SM_PREFIX && req->path &&
		    (q = memchr(req->path, '?', req->path_len)))
			plen = (size_t)(q - req->path);
		if (!req->path ||
		    !sl_str_match_eval(&m->uri, req->path, plen,
				       m->ignore_uri_case &&
					       m->uri.kind != SL_SM_REGEX))
			return false;
	}
	if (m->scheme.kind != SL_SM_NONE &&
	    (!req->scheme || !sl_str_match_eval(&m->scheme, req->scheme,
						strlen(req->scheme), false)))
		return false;
	if (m->method.kind != SL_SM_NONE &&
	    (!req->method || !sl_str_match_eval(&m->method, req->method,
						req->method_len, false)))
		return false;
	if (m->authority.kind != SL_SM_NONE &&
	    (!req->authority ||
	     !sl_str_match_eval(&m->authority, req->authority,
				req->authority_len, false)))
		return false;
	for (size_t i = 0; i < m->n_headers; i++)
		if (sl_header_eval(req, m->headers[i].name,
				   &m->headers[i].m) != 1)
			return false;
	for (size_t i = 0; i < m->n_without_headers; i++) {
		int r = sl_header_eval(req, m->without_headers[i].name,
				       &m->without_headers[i].m);

		if (r == 1 || r == -2)
			return false;
	}
	for (size_t i = 0; i < m->n_query; i++) {
		const char *v;
		size_t vlen;

		if (!sl_http_query_param(req->path, req->path_len,
					 m->query[i].name, &v, &vlen) ||
		    !sl_str_match_eval(&m->query[i].m, v, vlen, false))
			return false;
	}
	return true;
}

bool sl_http_match_any(const struct sl_http_match *m, size_t n,
		       const struct sl_http_req_view *req)
{
	if (n == 0)
		return true;
	for (size_t i = 0; i < n; i++)
		if (sl_http_match_eval(&m[i], req))
			return true;
	return false;
}

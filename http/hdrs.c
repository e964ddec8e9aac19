/* SPDX-License-Identifier: Apache-2.0 */
/* Heads a proxy sends: hop-by-hop fields out, header operations in; see
 * hdrs.h and docs/HTTP.md. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "hdrs.h"

/* ---- output buffer ---- */

struct wbuf {
	char *p;
	size_t cap, len;
	bool full;
};

static void put(struct wbuf *w, const char *s, size_t n)
{
	if (w->full || n > w->cap - w->len) {
		w->full = true;
		return;
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
}

static void puts_(struct wbuf *w, const char *s)
{
	put(w, s, strlen(s));
}

static void put_field(struct wbuf *w, const char *name, size_t nlen,
		      const char *val, size_t vlen)
{
	put(w, name, nlen);
	put(w, ": ", 2);
	put(w, val, vlen);
	put(w, "\r\n", 2);
}

static ssize_t finish(const struct wbuf *w)
{
	return w->full ? -ENOSPC : (ssize_t)w->len;
}

/* ---- names ---- */

static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_token(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (!is_tchar((unsigned char)*s))
			return false;
	return true;
}

/* a field value a config or sluice may send: no control character but
 * HTAB (the next hop refuses the others, CR/LF would split the field) */
static bool value_ok(const char *s)
{
	if (!s)
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

static bool mem_ieq(const char *a, size_t alen, const char *lit)
{
	return alen == strlen(lit) && strncasecmp(a, lit, alen) == 0;
}

static bool span_ieq(const char *buf, struct sl_h1_span s, const char *lit)
{
	return mem_ieq(buf + s.off, s.len, lit);
}

/* hop-by-hop names this module drops itself (RFC 9110 7.6.1; Trailer as
 * RFC 2616 13.5.1 listed it); Upgrade is handled apart */
static const char *const hop_names[] = {
	"connection", "keep-alive", "proxy-connection", "te", "trailer",
};

/* names a header op may never touch */
static const char *const owned_names[] = {
	"connection", "keep-alive", "proxy-connection", "te", "trailer",
	"upgrade", "content-length", "transfer-encoding",
};

static bool in_list(const char *name, size_t n, const char *const *list, size_t cnt)
{
	for (size_t i = 0; i < cnt; i++)
		if (mem_ieq(name, n, list[i]))
			return true;
	return false;
}

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static bool owned(const char *name)
{
	return in_list(name, strlen(name), owned_names, ARRAY_LEN(owned_names));
}

/* ---- ops ---- */

static int ops_error(char *err, size_t errlen, const char *what,
		     const char *name)
{
	if (err && errlen)
		snprintf(err, errlen, "headers: %s \"%s\"", what, name ? name : "(null)");
	return -EINVAL;
}

int sl_hdrs_ops_check(const struct sl_http_header_ops *ops, char *err, size_t errlen)
{
	if (!ops)
		return 0;
	if ((ops->n_remove && !ops->remove) || (ops->n_set && !ops->set) ||
	    (ops->n_add && !ops->add))
		return ops_error(err, errlen, "missing list", "ops");
	for (size_t i = 0; i < ops->n_remove; i++) {
		const char *n = ops->remove[i];

		if (!is_token(n))
			return ops_error(err, errlen, "not a field name:", n);
		if (owned(n) || !strcasecmp(n, "host"))
			return ops_error(err, errlen, "cannot remove", n);
	}
	for (int pass = 0; pass < 2; pass++) {
		const struct sl_label *kv = pass ? ops->add : ops->set;
		size_t cnt = pass ? ops->n_add : ops->n_set;

		for (size_t i = 0; i < cnt; i++) {
			const char *n = kv[i].key;

			if (!is_token(n))
				return ops_error(err, errlen, "not a field name:", n);
			if (owned(n) || (pass && !strcasecmp(n, "host")))
				return ops_error(err, errlen,
						 pass ? "cannot add" : "cannot set", n);
			if (!value_ok(kv[i].value))
				return ops_error(err, errlen,
						 "control character (CR, LF, NUL...) or no value in", n);
		}
	}
	return 0;
}

/* whether a remove or set of @name happens in a block after @k (or, for
 * @k < 0, in any block) */
static bool replaced_after(const struct sl_http_header_ops *const *ops, size_t n_ops,
			   long k, const char *name, size_t nlen)
{
	for (size_t b = (size_t)(k + 1); b < n_ops; b++) {
		const struct sl_http_header_ops *o = ops[b];

		if (!o)
			continue;
		for (size_t i = 0; i < o->n_remove; i++)
			if (mem_ieq(name, nlen, o->remove[i]))
				return true;
		for (size_t i = 0; i < o->n_set; i++)
			if (mem_ieq(name, nlen, o->set[i].key))
				return true;
	}
	return false;
}

/* ---- the common part of request and response ---- */

static bool keep_received(const struct sl_h1_msg *m, const char *buf, size_t i,
			  unsigned flags)
{
	struct sl_h1_span n = m->hdr[i].name;

	/* framing and Host stay, whatever a Connection option says: a
	 * client must not be able to strip the length of its own body */
	if (span_ieq(buf, n, "content-length") || span_ieq(buf, n, "transfer-encoding") ||
	    span_ieq(buf, n, "host"))
		return true;
	if (span_ieq(buf, n, "upgrade"))
		return flags & SL_HDRS_UPGRADE;
	if (in_list(buf + n.off, n.len, hop_names, ARRAY_LEN(hop_names)))
		return false;
	return !sl_h1_is_hop_by_hop(m, buf, i);
}

static ssize_t build_fields(struct wbuf *w, const struct sl_h1_msg *m, const char *buf,
			    const struct sl_http_header_ops *const *ops, size_t n_ops,
			    const struct sl_h1_extra *extra, size_t n_extra,
			    unsigned flags)
{
	size_t count = 0;

	if (n_ops && !ops)
		return -EINVAL;
	if (n_extra && !extra)
		return -EINVAL;
	for (size_t b = 0; b < n_ops; b++)
		if (sl_hdrs_ops_check(ops[b], NULL, 0))
			return -EINVAL;
	for (size_t i = 0; i < n_extra; i++)
		if (!is_token(extra[i].name) || !value_ok(extra[i].value))
			return -EINVAL;

	for (size_t i = 0; i < m->nhdr; i++) {
		const struct sl_h1_hdr *h = &m->hdr[i];

		if (!keep_received(m, buf, i, flags) ||
		    replaced_after(ops, n_ops, -1, buf + h->name.off, h->name.len))
			continue;
		put_field(w, buf + h->name.off, h->name.len, buf + h->value.off, h->value.len);
		count++;
	}
	for (size_t b = 0; b < n_ops; b++) {
		const struct sl_http_header_ops *o = ops[b];

		if (!o)
			continue;
		for (size_t i = 0; i < o->n_set; i++) {
			const char *n = o->set[i].key;
			bool later = false;

			for (size_t j = i + 1; j < o->n_set && !later; j++)
				later = !strcasecmp(n, o->set[j].key);
			if (later || replaced_after(ops, n_ops, (long)b, n, strlen(n)))
				continue;
			put_field(w, n, strlen(n), o->set[i].value, strlen(o->set[i].value));
			count++;
		}
		for (size_t i = 0; i < o->n_add; i++) {
			const char *n = o->add[i].key;

			if (replaced_after(ops, n_ops, (long)b, n, strlen(n)))
				continue;
			put_field(w, n, strlen(n), o->add[i].value, strlen(o->add[i].value));
			count++;
		}
	}
	for (size_t i = 0; i < n_extra; i++) {
		put_field(w, extra[i].name, strlen(extra[i].name),
			  extra[i].value, strlen(extra[i].value));
		count++;
	}
	if (flags & SL_HDRS_UPGRADE)
		puts_(w, "connection: upgrade\r\n");
	else if (flags & SL_HDRS_CLOSE)
		puts_(w, "connection: close\r\n");
	else
		puts_(w, "connection: keep-alive\r\n");
	count++;
	put(w, "\r\n", 2);
	if (count > SL_H1_HEADERS_CAP)
		return -E2BIG;
	return finish(w);
}

static bool target_ok(const char *t)
{
	size_t n = 0;

	for (; t[n]; n++)
		if ((unsigned char)t[n] <= 0x20 || (unsigned char)t[n] >= 0x7f)
			return false;
	return n > 0 && n < 8192;
}

ssize_t sl_hdrs_request_target(const struct sl_h1_msg *m, const char *buf,
			       const char *target,
			       const struct sl_http_header_ops *const *ops, size_t n_ops,
			       const struct sl_h1_extra *extra, size_t n_extra,
			       unsigned flags, char *out, size_t cap)
{
	struct wbuf w = { .p = out, .cap = out ? cap : 0 };

	if (!m || !buf || m->state != SL_H1_S_DONE || m->response)
		return -EINVAL;
	if (target && !target_ok(target))
		return -EINVAL;
	put(&w, buf + m->method.off, m->method.len);
	put(&w, " ", 1);
	if (target)
		puts_(&w, target);
	else
		put(&w, buf + m->target.off, m->target.len);
	puts_(&w, m->version == 10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
	return build_fields(&w, m, buf, ops, n_ops, extra, n_extra, flags);
}

ssize_t sl_hdrs_request(const struct sl_h1_msg *m, const char *buf,
			const struct sl_http_header_ops *const *ops, size_t n_ops,
			const struct sl_h1_extra *extra, size_t n_extra,
			unsigned flags, char *out, size_t cap)
{
	return sl_hdrs_request_target(m, buf, NULL, ops, n_ops, extra, n_extra,
				      flags, out, cap);
}

ssize_t sl_hdrs_response(const struct sl_h1_msg *m, const char *buf,
			 const struct sl_http_header_ops *const *ops, size_t n_ops,
			 const struct sl_h1_extra *extra, size_t n_extra,
			 unsigned flags, char *out, size_t cap)
{
	struct wbuf w = { .p = out, .cap = out ? cap : 0 };
	char code[8];

	if (!m || !buf || m->state != SL_H1_S_DONE || !m->response ||
	    m->status < 100 || m->status > 599)
		return -EINVAL;
	snprintf(code, sizeof(code), "%03d", m->status);
	puts_(&w, "HTTP/1.1 ");
	puts_(&w, code);
	put(&w, " ", 1);
	if (m->reason_phrase.len)
		put(&w, buf + m->reason_phrase.off, m->reason_phrase.len);
	else
		puts_(&w, sl_hdrs_reason(m->status));
	put(&w, "\r\n", 2);
	if (m->body == SL_H1_BODY_UNTIL_CLOSE)
		flags |= SL_HDRS_CLOSE;
	return build_fields(&w, m, buf, ops, n_ops, extra, n_extra, flags);
}

ssize_t sl_hdrs_local_reply(int status, const char *body, bool close,
			    char *out, size_t cap)
{
	struct wbuf w = { .p = out, .cap = out ? cap : 0 };
	char num[32];
	size_t blen = body ? strlen(body) : 0;

	if (status < 200 || status > 599 || status == 204 || status == 304)
		return -EINVAL;
	snprintf(num, sizeof(num), "%d ", status);
	puts_(&w, "HTTP/1.1 ");
	puts_(&w, num);
	puts_(&w, sl_hdrs_reason(status));
	snprintf(num, sizeof(num), "%zu", blen);
	puts_(&w, "\r\ncontent-length: ");
	puts_(&w, num);
	puts_(&w, "\r\ncontent-type: text/plain\r\n");
	if (close)
		puts_(&w, "connection: close\r\n");
	put(&w, "\r\n", 2);
	put(&w, body ? body : "", blen);
	return finish(&w);
}

const char *sl_hdrs_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 203: return "Non-Authoritative Information";
	case 204: return "No Content";
	case 205: return "Reset Content";
	case 206: return "Partial Content";
	case 300: return "Multiple Choices";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 421: return "Misdirected Request";
	case 422: return "Unprocessable Content";
	case 426: return "Upgrade Required";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "";
	}
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Strict HTTP/1.1 head parser and chunked decoder; see h1.h and
 * docs/HTTP.md.  One rule throughout: when RFC 9112 lets a recipient be
 * lenient and leniency could make two parsers disagree on where a message
 * ends, refuse. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "h1.h"

/* private flags: a transfer coding other than chunked was listed */
#define F_TE_OTHER (1u << 16)

static const char *const reason_names[SL_H1_E__COUNT] = {
	[SL_H1_OK] = "ok",
	[SL_H1_E_BARE_LF] = "bare-lf",
	[SL_H1_E_BARE_CR] = "bare-cr",
	[SL_H1_E_LINE_TOO_LONG] = "start-line-too-long",
	[SL_H1_E_HEAD_TOO_LARGE] = "head-too-large",
	[SL_H1_E_TOO_MANY_HEADERS] = "too-many-headers",
	[SL_H1_E_METHOD] = "invalid-method",
	[SL_H1_E_START_LINE] = "malformed-start-line",
	[SL_H1_E_TARGET] = "invalid-target",
	[SL_H1_E_TARGET_FORM] = "target-form",
	[SL_H1_E_VERSION] = "invalid-version",
	[SL_H1_E_VERSION_UNSUPPORTED] = "version-not-supported",
	[SL_H1_E_STATUS] = "invalid-status",
	[SL_H1_E_REASON_PHRASE] = "invalid-reason-phrase",
	[SL_H1_E_OBS_FOLD] = "obs-fold",
	[SL_H1_E_NAME_EMPTY] = "empty-field-name",
	[SL_H1_E_NAME_WS] = "whitespace-before-colon",
	[SL_H1_E_NAME_CHAR] = "invalid-field-name",
	[SL_H1_E_NO_COLON] = "field-without-colon",
	[SL_H1_E_VALUE_NUL] = "nul-in-value",
	[SL_H1_E_VALUE_CR] = "cr-in-value",
	[SL_H1_E_VALUE_CTL] = "ctl-in-value",
	[SL_H1_E_CL_EMPTY] = "content-length-empty",
	[SL_H1_E_CL_INVALID] = "content-length-invalid",
	[SL_H1_E_CL_OVERFLOW] = "content-length-overflow",
	[SL_H1_E_CL_DUPLICATE] = "content-length-duplicate",
	[SL_H1_E_TE_AND_CL] = "te-and-content-length",
	[SL_H1_E_TE_NOT_CHUNKED] = "te-chunked-not-final",
	[SL_H1_E_TE_CHUNKED_TWICE] = "te-chunked-twice",
	[SL_H1_E_TE_UNSUPPORTED] = "te-unsupported-coding",
	[SL_H1_E_TE_INVALID] = "te-invalid",
	[SL_H1_E_TE_HTTP10] = "te-in-http10",
	[SL_H1_E_HOST_MISSING] = "host-missing",
	[SL_H1_E_HOST_DUPLICATE] = "host-duplicate",
	[SL_H1_E_HOST_INVALID] = "host-invalid",
	[SL_H1_E_HOST_MISMATCH] = "host-mismatch",
	[SL_H1_E_CONNECTION] = "connection-invalid",
	[SL_H1_E_BODY_TOO_LARGE] = "body-too-large",
	[SL_H1_E_CHUNK_SIZE_EMPTY] = "chunk-size-empty",
	[SL_H1_E_CHUNK_SIZE_INVALID] = "chunk-size-invalid",
	[SL_H1_E_CHUNK_SIZE_OVERFLOW] = "chunk-size-overflow",
	[SL_H1_E_CHUNK_EXT] = "chunk-ext-invalid",
	[SL_H1_E_CHUNK_LINE_TOO_LONG] = "chunk-line-too-long",
	[SL_H1_E_CHUNK_CRLF] = "chunk-data-crlf",
	[SL_H1_E_TRAILER] = "trailer-invalid",
	[SL_H1_E_TRAILER_TOO_LARGE] = "trailer-too-large",
};

const char *sl_h1_reason_str(enum sl_h1_reason r)
{
	if ((unsigned)r >= SL_H1_E__COUNT || !reason_names[r])
		return "?";
	return reason_names[r];
}

/* tchar of RFC 9110 5.6.2 */
static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_ws(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* case-insensitive comparison of a span with a NUL-terminated literal */
static bool span_ieq(const char *buf, struct sl_h1_span s, const char *lit)
{
	size_t n = strlen(lit);

	return s.len == n && strncasecmp(buf + s.off, lit, n) == 0;
}

static bool mem_ieq(const char *a, size_t alen, const char *lit)
{
	size_t n = strlen(lit);

	return alen == n && strncasecmp(a, lit, n) == 0;
}

void sl_h1_limits_default(struct sl_h1_limits *l)
{
	l->max_head = 60 * 1024;
	l->max_line = 8 * 1024;
	l->max_headers = SL_H1_HEADERS_CAP;
	l->max_body = 0;
}

void sl_h1_msg_init(struct sl_h1_msg *m, const struct sl_h1_limits *limits)
{
	memset(m, 0, sizeof(*m));
	if (limits)
		m->limits = *limits;
	else
		sl_h1_limits_default(&m->limits);
	if (m->limits.max_headers > SL_H1_HEADERS_CAP)
		m->limits.max_headers = SL_H1_HEADERS_CAP;
	/* spans are 32-bit: a head never exceeds 4 GiB */
	if (m->limits.max_head > UINT32_MAX)
		m->limits.max_head = UINT32_MAX;
	m->host = -1;
	m->upgrade = -1;
	m->state = SL_H1_S_START_LINE;
}

static int status_of(const struct sl_h1_msg *m, enum sl_h1_reason r)
{
	if (m->response)
		return 502;
	switch (r) {
	case SL_H1_E_LINE_TOO_LONG:
		return 414;
	case SL_H1_E_HEAD_TOO_LARGE:
	case SL_H1_E_TOO_MANY_HEADERS:
		return 431;
	case SL_H1_E_VERSION_UNSUPPORTED:
		return 505;
	case SL_H1_E_TE_UNSUPPORTED:
		return 501;
	case SL_H1_E_BODY_TOO_LARGE:
		return 413;
	default:
		return 400;
	}
}

static int fail(struct sl_h1_msg *m, enum sl_h1_reason r, size_t pos)
{
	m->reason = r;
	m->err_status = status_of(m, r);
	m->err_pos = pos;
	m->err_state = m->state;
	m->state = SL_H1_S_ERROR;
	return -EBADMSG;
}

static struct sl_h1_span span(size_t off, size_t len)
{
	return (struct sl_h1_span){ .off = (uint32_t)off, .len = (uint32_t)len };
}

/* "HTTP/" DIGIT "." DIGIT at @p (8 bytes available); 0, or a reason */
static enum sl_h1_reason parse_version(struct sl_h1_msg *m, const char *p)
{
	if (memcmp(p, "HTTP/", 5) || !is_digit(p[5]) || p[6] != '.' ||
	    !is_digit(p[7]))
		return SL_H1_E_VERSION;
	if (p[5] != '1' || (p[7] != '0' && p[7] != '1'))
		return SL_H1_E_VERSION_UNSUPPORTED;
	m->version = p[7] == '1' ? 11 : 10;
	return SL_H1_OK;
}

static enum sl_h1_method classify(const char *s, size_t n)
{
	static const struct {
		const char *name;
		enum sl_h1_method m;
	} tab[] = {
		{ "GET", SL_H1_M_GET },         { "HEAD", SL_H1_M_HEAD },
		{ "POST", SL_H1_M_POST },       { "PUT", SL_H1_M_PUT },
		{ "DELETE", SL_H1_M_DELETE },   { "CONNECT", SL_H1_M_CONNECT },
		{ "OPTIONS", SL_H1_M_OPTIONS }, { "TRACE", SL_H1_M_TRACE },
		{ "PATCH", SL_H1_M_PATCH },
	};

	/* method names are case-sensitive (RFC 9110 9.1) */
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strlen(tab[i].name) == n && !memcmp(tab[i].name, s, n))
			return tab[i].m;
	return SL_H1_M_OTHER;
}

/* authority characters (RFC 3986 reg-name, IP-literal, port, pct) */
static bool is_authority_char(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c))
		return true;
	return c && strchr("-._~!$&'()*+,;=:[]%", c) != NULL;
}

/* the form of the target; SL_H1_OK or SL_H1_E_TARGET_FORM */
static enum sl_h1_reason target_form(struct sl_h1_msg *m, const char *t, size_t n)
{
	size_t i;

	if (m->meth == SL_H1_M_CONNECT) {
		/* authority-form: host ":" port, nothing else */
		const char *colon = NULL;

		for (i = 0; i < n; i++) {
			if (!is_authority_char((unsigned char)t[i]))
				return SL_H1_E_TARGET_FORM;
			if (t[i] == ':')
				colon = t + i;
		}
		if (!colon || colon == t || colon + 1 == t + n)
			return SL_H1_E_TARGET_FORM;
		for (const char *q = colon + 1; q < t + n; q++)
			if (!is_digit((unsigned char)*q))
				return SL_H1_E_TARGET_FORM;
		m->form = SL_H1_T_AUTHORITY;
		return SL_H1_OK;
	}
	if (n == 1 && t[0] == '*') {
		if (m->meth != SL_H1_M_OPTIONS)
			return SL_H1_E_TARGET_FORM;
		m->form = SL_H1_T_ASTERISK;
		return SL_H1_OK;
	}
	if (t[0] == '/') {
		m->form = SL_H1_T_ORIGIN;
		return SL_H1_OK;
	}
	/* absolute-form: scheme "://" authority [path] */
	if (!((t[0] >= 'a' && t[0] <= 'z') || (t[0] >= 'A' && t[0] <= 'Z')))
		return SL_H1_E_TARGET_FORM;
	for (i = 1; i < n; i++) {
		unsigned char c = (unsigned char)t[i];

		if (c == ':')
			break;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      is_digit(c) || c == '+' || c == '-' || c == '.'))
			return SL_H1_E_TARGET_FORM;
	}
	if (i + 3 > n || memcmp(t + i, "://", 3))
		return SL_H1_E_TARGET_FORM;
	i += 3;
	size_t a0 = i;

	for (; i < n && t[i] != '/' && t[i] != '?' && t[i] != '#'; i++)
		if (t[i] == '@' || !is_authority_char((unsigned char)t[i]))
			return SL_H1_E_TARGET_FORM; /* no userinfo */
	if (i == a0)
		return SL_H1_E_TARGET_FORM;
	m->form = SL_H1_T_ABSOLUTE;
	return SL_H1_OK;
}

/* the authority of m->target (absolute or authority form) */
static void target_authority(const struct sl_h1_msg *m, const char *buf,
			     const char **a, size_t *alen)
{
	const char *t = buf + m->target.off;
	size_t n = m->target.len, i;

	if (m->form == SL_H1_T_AUTHORITY) {
		*a = t;
		*alen = n;
		return;
	}
	const char *s = memchr(t, ':', n);

	i = (size_t)(s - t) + 3;
	*a = t + i;
	while (i < n && t[i] != '/' && t[i] != '?' && t[i] != '#')
		i++;
	*alen = (size_t)(t + i - *a);
}

static int parse_request_line(struct sl_h1_msg *m, const char *buf,
			      size_t ls, size_t e)
{
	size_t i = ls;
	enum sl_h1_reason r;

	while (i < e && is_tchar((unsigned char)buf[i]))
		i++;
	if (i == ls || (i < e && buf[i] != ' '))
		return fail(m, SL_H1_E_METHOD, i);
	if (i == e)
		return fail(m, SL_H1_E_START_LINE, i);
	m->method = span(ls, i - ls);
	m->meth = classify(buf + ls, i - ls);
	size_t t0 = ++i;

	while (i < e && buf[i] != ' ') {
		unsigned char c = (unsigned char)buf[i];

		if (c <= 0x20 || c >= 0x7f)
			return fail(m, SL_H1_E_TARGET, i);
		i++;
	}
	if (i == t0)
		return fail(m, SL_H1_E_TARGET, i);
	if (i == e)
		return fail(m, SL_H1_E_START_LINE, i);
	m->target = span(t0, i - t0);
	i++;
	if (e - i != 8)
		return fail(m, SL_H1_E_VERSION, i);
	r = parse_version(m, buf + i);
	if (r)
		return fail(m, r, i);
	r = target_form(m, buf + t0, m->target.len);
	if (r)
		return fail(m, r, t0);
	return 0;
}

static int parse_status_line(struct sl_h1_msg *m, const char *buf,
			     size_t ls, size_t e)
{
	enum sl_h1_reason r;
	size_t i;

	if (e - ls < 12)
		return fail(m, SL_H1_E_START_LINE, ls);
	if (buf[ls + 8] != ' ')
		return fail(m, SL_H1_E_VERSION, ls + 8);
	r = parse_version(m, buf + ls);
	if (r)
		return fail(m, r, ls);
	i = ls + 9;
	if (!is_digit((unsigned char)buf[i]) || buf[i] < '1' || buf[i] > '5' ||
	    !is_digit((unsigned char)buf[i + 1]) ||
	    !is_digit((unsigned char)buf[i + 2]))
		return fail(m, SL_H1_E_STATUS, i);
	m->status = (buf[i] - '0') * 100 + (buf[i + 1] - '0') * 10 + (buf[i + 2] - '0');
	i += 3;
	if (i == e) {
		/* "HTTP/1.1 200": accepted, the reason phrase is optional in
		 * practice and carries no framing */
		m->reason_phrase = span(i, 0);
		return 0;
	}
	if (buf[i] != ' ')
		return fail(m, SL_H1_E_STATUS, i);
	m->reason_phrase = span(i + 1, e - i - 1);
	for (i++; i < e; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c != '\t' && (c < 0x20 || c == 0x7f))
			return fail(m, SL_H1_E_REASON_PHRASE, i);
	}
	return 0;
}

/* Content-Length: 1*DIGIT, nothing else; a second one is refused even if
 * equal (docs/HTTP.md) */
static int field_content_length(struct sl_h1_msg *m, const char *buf,
				struct sl_h1_hdr *h)
{
	uint64_t v = 0;

	if (m->flags & SL_H1_F_CLEN)
		return fail(m, SL_H1_E_CL_DUPLICATE, h->name.off);
	m->flags |= SL_H1_F_CLEN;
	if (!h->value.len)
		return fail(m, SL_H1_E_CL_EMPTY, h->value.off);
	if (memchr(buf + h->value.off, ',', h->value.len))
		return fail(m, SL_H1_E_CL_DUPLICATE, h->value.off);
	for (uint32_t i = 0; i < h->value.len; i++) {
		unsigned char c = (unsigned char)buf[h->value.off + i];

		if (!is_digit(c))
			return fail(m, SL_H1_E_CL_INVALID, h->value.off + i);
		if (v > ((uint64_t)INT64_MAX - (c - '0')) / 10)
			return fail(m, SL_H1_E_CL_OVERFLOW, h->value.off + i);
		v = v * 10 + (c - '0');
	}
	if (!m->response && m->limits.max_body && v > m->limits.max_body)
		return fail(m, SL_H1_E_BODY_TOO_LARGE, h->value.off);
	m->content_length = v;
	return 0;
}

/* Transfer-Encoding: a list of bare tokens whose last one is chunked and
 * which names chunked once; list elements of all fields count in order */
static int field_transfer_encoding(struct sl_h1_msg *m, const char *buf,
				   struct sl_h1_hdr *h)
{
	size_t i = h->value.off, end = h->value.off + h->value.len;

	m->flags |= SL_H1_F_TE;
	if (i == end)
		return fail(m, SL_H1_E_TE_INVALID, i);
	while (i <= end) {
		size_t s, t;

		while (i < end && is_ws((unsigned char)buf[i]))
			i++;
		s = i;
		while (i < end && is_tchar((unsigned char)buf[i]))
			i++;
		t = i;
		while (i < end && is_ws((unsigned char)buf[i]))
			i++;
		if (s == t || (i < end && buf[i] != ','))
			return fail(m, SL_H1_E_TE_INVALID, i < end ? i : s);
		if (m->flags & SL_H1_F_CHUNKED)
			return fail(m, mem_ieq(buf + s, t - s, "chunked") ?
				    SL_H1_E_TE_CHUNKED_TWICE : SL_H1_E_TE_NOT_CHUNKED, s);
		if (mem_ieq(buf + s, t - s, "chunked"))
			m->flags |= SL_H1_F_CHUNKED;
		else
			m->flags |= F_TE_OTHER;
		i++; /* past the comma, or past end */
	}
	return 0;
}

static int field_connection(struct sl_h1_msg *m, const char *buf,
			    struct sl_h1_hdr *h)
{
	size_t i = h->value.off, end = h->value.off + h->value.len;

	while (i <= end) {
		size_t s, t;

		while (i < end && is_ws((unsigned char)buf[i]))
			i++;
		s = i;
		while (i < end && is_tchar((unsigned char)buf[i]))
			i++;
		t = i;
		while (i < end && is_ws((unsigned char)buf[i]))
			i++;
		if (i < end && buf[i] != ',')
			return fail(m, SL_H1_E_CONNECTION, i);
		/* empty list elements are ignored (RFC 9110 5.6.1) */
		if (mem_ieq(buf + s, t - s, "close"))
			m->flags |= SL_H1_F_CONN_CLOSE;
		else if (mem_ieq(buf + s, t - s, "keep-alive"))
			m->flags |= SL_H1_F_CONN_KEEPALIVE;
		else if (mem_ieq(buf + s, t - s, "upgrade"))
			m->flags |= SL_H1_F_CONN_UPGRADE;
		i++;
	}
	return 0;
}

static int parse_field_line(struct sl_h1_msg *m, const char *buf,
			    size_t ls, size_t e)
{
	size_t i = ls, vs, ve;
	struct sl_h1_hdr *h;

	if (is_ws((unsigned char)buf[ls]))
		return fail(m, SL_H1_E_OBS_FOLD, ls);
	while (i < e && buf[i] != ':') {
		unsigned char c = (unsigned char)buf[i];

		if (is_ws(c))
			return fail(m, SL_H1_E_NAME_WS, i);
		if (!is_tchar(c))
			return fail(m, SL_H1_E_NAME_CHAR, i);
		i++;
	}
	if (i == e)
		return fail(m, SL_H1_E_NO_COLON, i);
	if (i == ls)
		return fail(m, SL_H1_E_NAME_EMPTY, i);
	for (size_t j = i + 1; j < e; j++) {
		unsigned char c = (unsigned char)buf[j];

		if (c == 0)
			return fail(m, SL_H1_E_VALUE_NUL, j);
		if (c == '\r')
			return fail(m, SL_H1_E_VALUE_CR, j);
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fail(m, SL_H1_E_VALUE_CTL, j);
	}
	if (m->nhdr >= m->limits.max_headers)
		return fail(m, SL_H1_E_TOO_MANY_HEADERS, ls);
	vs = i + 1;
	ve = e;
	while (vs < ve && is_ws((unsigned char)buf[vs]))
		vs++;
	while (ve > vs && is_ws((unsigned char)buf[ve - 1]))
		ve--;
	h = &m->hdr[m->nhdr++];
	h->name = span(ls, i - ls);
	h->value = span(vs, ve - vs);

	if (span_ieq(buf, h->name, "content-length"))
		return field_content_length(m, buf, h);
	if (span_ieq(buf, h->name, "transfer-encoding"))
		return field_transfer_encoding(m, buf, h);
	if (span_ieq(buf, h->name, "connection"))
		return field_connection(m, buf, h);
	if (span_ieq(buf, h->name, "host")) {
		if (m->flags & SL_H1_F_HOST)
			return fail(m, SL_H1_E_HOST_DUPLICATE, ls);
		m->flags |= SL_H1_F_HOST;
		m->host = (int)(m->nhdr - 1);
		for (size_t j = vs; j < ve; j++)
			if (!is_authority_char((unsigned char)buf[j]))
				return fail(m, SL_H1_E_HOST_INVALID, j);
		return 0;
	}
	if (span_ieq(buf, h->name, "upgrade")) {
		m->flags |= SL_H1_F_UPGRADE;
		if (m->upgrade < 0)
			m->upgrade = (int)(m->nhdr - 1);
		return 0;
	}
	if (span_ieq(buf, h->name, "expect") &&
	    span_ieq(buf, h->value, "100-continue"))
		m->flags |= SL_H1_F_EXPECT_100;
	return 0;
}

static size_t hdr_pos(const struct sl_h1_msg *m, const char *buf,
		      const char *name, size_t dflt)
{
	int i = sl_h1_find(m, buf, name);

	return i < 0 ? dflt : m->hdr[i].name.off;
}

/* the whole head is there: cross-field rules and framing (RFC 9112 6.3) */
static int head_complete(struct sl_h1_msg *m, const char *buf, size_t end)
{
	size_t te = hdr_pos(m, buf, "transfer-encoding", end);

	m->state = SL_H1_S_SEMANTICS;
	if ((m->flags & SL_H1_F_TE) && (m->flags & SL_H1_F_CLEN))
		return fail(m, SL_H1_E_TE_AND_CL, te);
	if ((m->flags & SL_H1_F_TE) && m->version == 10)
		return fail(m, SL_H1_E_TE_HTTP10, te);
	if (!m->response) {
		if ((m->flags & SL_H1_F_TE) && !(m->flags & SL_H1_F_CHUNKED))
			return fail(m, SL_H1_E_TE_NOT_CHUNKED, te);
		if ((m->flags & SL_H1_F_CHUNKED) && (m->flags & F_TE_OTHER))
			return fail(m, SL_H1_E_TE_UNSUPPORTED, te);
		if (m->version == 11 && !(m->flags & SL_H1_F_HOST))
			return fail(m, SL_H1_E_HOST_MISSING, end);
		if ((m->form == SL_H1_T_ABSOLUTE || m->form == SL_H1_T_AUTHORITY) &&
		    m->host >= 0) {
			const char *a;
			size_t alen;
			struct sl_h1_hdr *h = &m->hdr[m->host];

			target_authority(m, buf, &a, &alen);
			if (alen != h->value.len ||
			    strncasecmp(a, buf + h->value.off, alen))
				return fail(m, SL_H1_E_HOST_MISMATCH, h->value.off);
		}
		if (m->flags & SL_H1_F_CHUNKED)
			m->body = SL_H1_BODY_CHUNKED;
		else if ((m->flags & SL_H1_F_CLEN) && m->content_length)
			m->body = SL_H1_BODY_CLEN;
		else
			m->body = SL_H1_BODY_NONE;
	} else {
		int s = m->status;

		if (s == 101 ||
		    (m->req_meth == SL_H1_M_CONNECT && s >= 200 && s < 300))
			m->body = SL_H1_BODY_TUNNEL;
		else if (s < 200 || s == 204 || s == 304 ||
			 m->req_meth == SL_H1_M_HEAD)
			m->body = SL_H1_BODY_NONE;
		else if (m->flags & SL_H1_F_CHUNKED)
			m->body = SL_H1_BODY_CHUNKED;
		else if (m->flags & SL_H1_F_TE)
			m->body = SL_H1_BODY_UNTIL_CLOSE; /* chunked not final */
		else if (m->flags & SL_H1_F_CLEN)
			m->body = m->content_length ? SL_H1_BODY_CLEN : SL_H1_BODY_NONE;
		else
			m->body = SL_H1_BODY_UNTIL_CLOSE;
	}
	if (m->version == 10) {
		/* HTTP/1.0 ignores 100-continue (RFC 9110 10.1.1) */
		m->flags &= ~SL_H1_F_EXPECT_100;
		if ((m->flags & SL_H1_F_CONN_KEEPALIVE) &&
		    !(m->flags & SL_H1_F_CONN_CLOSE))
			m->flags |= SL_H1_F_KEEPALIVE;
	} else if (!(m->flags & SL_H1_F_CONN_CLOSE)) {
		m->flags |= SL_H1_F_KEEPALIVE;
	}
	if (m->body == SL_H1_BODY_UNTIL_CLOSE)
		m->flags &= ~SL_H1_F_KEEPALIVE;
	m->flags &= ~F_TE_OTHER;
	m->head_len = end;
	m->state = SL_H1_S_DONE;
	return 0;
}

static ssize_t parse(struct sl_h1_msg *m, const char *buf, size_t len)
{
	if (m->state == SL_H1_S_DONE)
		return (ssize_t)m->head_len;
	if (m->state == SL_H1_S_ERROR)
		return -EBADMSG;
	for (;;) {
		size_t ls = m->line_start, p, thr, thr_head = m->limits.max_head;
		const char *lf = NULL;
		bool start = m->state == SL_H1_S_START_LINE;
		bool line_first;
		int r;

		/* a limit is crossed when the bytes seen reach its threshold
		 * without a line end: the same for any way of feeding */
		thr = start ? ls + m->limits.max_line : SIZE_MAX;
		line_first = thr <= thr_head;
		if (!line_first)
			thr = thr_head;
		if (m->scan < len)
			lf = memchr(buf + m->scan, '\n', len - m->scan);
		p = lf ? (size_t)(lf - buf) : len;
		if (p >= thr)
			return fail(m, line_first ? SL_H1_E_LINE_TOO_LONG :
				    SL_H1_E_HEAD_TOO_LARGE, thr);
		if (!lf) {
			m->scan = len;
			return 0;
		}
		if (p == ls || buf[p - 1] != '\r')
			return fail(m, SL_H1_E_BARE_LF, p);
		m->line_start = m->scan = p + 1;
		if (start) {
			if (p - 1 == ls)
				return fail(m, SL_H1_E_START_LINE, ls);
			r = m->response ? parse_status_line(m, buf, ls, p - 1) :
					  parse_request_line(m, buf, ls, p - 1);
			if (r)
				return r;
			m->state = SL_H1_S_HEADERS;
			continue;
		}
		if (p - 1 == ls) {
			r = head_complete(m, buf, p + 1);
			return r ? r : (ssize_t)m->head_len;
		}
		r = parse_field_line(m, buf, ls, p - 1);
		if (r)
			return r;
	}
}

static bool name_is(const char *buf, const struct sl_h1_hdr *h,
		    const char *name, size_t nl)
{
	return h->name.len == nl && !strncasecmp(buf + h->name.off, name, nl);
}

ssize_t sl_h1_header_get(const struct sl_h1_msg *m, const char *buf,
			 const char *name, char *out, size_t cap,
			 const char **val)
{
	const struct sl_h1_hdr *first = NULL;
	size_t nl = strlen(name), n = 0, total = 0, off = 0;

	*val = NULL;
	for (size_t i = 0; i < m->nhdr; i++) {
		if (!name_is(buf, &m->hdr[i], name, nl))
			continue;
		if (!first)
			first = &m->hdr[i];
		total += m->hdr[i].value.len + (n ? 1 : 0);
		n++;
	}
	if (!n)
		return -ENOENT;
	if (n == 1) {
		*val = buf + first->value.off;
		return (ssize_t)first->value.len;
	}
	if (total > cap)
		return (ssize_t)total;
	for (size_t i = 0; i < m->nhdr; i++) {
		if (!name_is(buf, &m->hdr[i], name, nl))
			continue;
		if (off)
			out[off++] = ',';
		memcpy(out + off, buf + m->hdr[i].value.off,
		       m->hdr[i].value.len);
		off += m->hdr[i].value.len;
	}
	*val = out;
	return (ssize_t)total;
}

ssize_t sl_h1_parse_request(struct sl_h1_msg *m, const char *buf, size_t len)
{
	if (!m || (!buf && len) || m->response)
		return -EINVAL;
	return parse(m, buf, len);
}

ssize_t sl_h1_parse_response(struct sl_h1_msg *m, const char *buf, size_t len,
			     enum sl_h1_method req_meth)
{
	if (!m || (!buf && len))
		return -EINVAL;
	if (m->state == SL_H1_S_START_LINE && m->line_start == 0)
		m->response = true;
	if (!m->response)
		return -EINVAL;
	m->req_meth = req_meth;
	return parse(m, buf, len);
}

int sl_h1_find(const struct sl_h1_msg *m, const char *buf, const char *name)
{
	for (size_t i = 0; i < m->nhdr; i++)
		if (span_ieq(buf, m->hdr[i].name, name))
			return (int)i;
	return -1;
}

bool sl_h1_is_hop_by_hop(const struct sl_h1_msg *m, const char *buf, size_t i)
{
	static const char *const fixed[] = {
		"connection", "proxy-connection", "keep-alive", "te",
		"transfer-encoding", "upgrade",
	};
	struct sl_h1_span name;

	if (i >= m->nhdr)
		return false;
	name = m->hdr[i].name;
	for (size_t k = 0; k < sizeof(fixed) / sizeof(fixed[0]); k++)
		if (span_ieq(buf, name, fixed[k]))
			return true;
	/* every field named by a Connection option */
	for (size_t k = 0; k < m->nhdr; k++) {
		const struct sl_h1_hdr *c = &m->hdr[k];
		size_t j, end;

		if (!span_ieq(buf, c->name, "connection"))
			continue;
		j = c->value.off;
		end = c->value.off + c->value.len;
		while (j < end) {
			size_t s;

			while (j < end && (is_ws((unsigned char)buf[j]) || buf[j] == ','))
				j++;
			s = j;
			while (j < end && buf[j] != ',' && !is_ws((unsigned char)buf[j]))
				j++;
			if (j > s && j - s == name.len &&
			    !strncasecmp(buf + s, buf + name.off, name.len))
				return true;
		}
	}
	return false;
}

/* ---- chunked body ---- */

enum {
	CS_SIZE0, CS_SIZE, CS_SIZE_WS, CS_EXT_NAME0, CS_EXT_NAME, CS_EXT_NAME_WS,
	CS_EXT_VAL0, CS_EXT_VAL, CS_EXT_QS, CS_EXT_QS_ESC, CS_EXT_QEND, CS_EXT_AFTER,
	CS_SIZE_LF, CS_DATA, CS_DATA_CR, CS_DATA_LF, CS_TRL_START, CS_TRL_NAME,
	CS_TRL_VAL, CS_TRL_LF, CS_TRL_END_LF, CS_DONE, CS_ERROR,
};

void sl_h1_chunked_init(struct sl_h1_chunked *c, const struct sl_h1_limits *limits)
{
	struct sl_h1_limits d;

	if (!limits) {
		sl_h1_limits_default(&d);
		limits = &d;
	}
	memset(c, 0, sizeof(*c));
	c->max_body = limits->max_body;
	c->max_trailers = limits->max_head;
	c->st = CS_SIZE0;
}

static enum sl_h1_state chunk_state(int st)
{
	if (st <= CS_SIZE)
		return SL_H1_S_CHUNK_SIZE;
	if (st <= CS_SIZE_LF)
		return SL_H1_S_CHUNK_EXT;
	if (st == CS_DATA)
		return SL_H1_S_CHUNK_DATA;
	if (st <= CS_DATA_LF)
		return SL_H1_S_CHUNK_CRLF;
	return SL_H1_S_TRAILERS;
}

static ssize_t chunk_fail(struct sl_h1_chunked *c, enum sl_h1_reason r, size_t i)
{
	c->reason = r;
	c->err_status = r == SL_H1_E_BODY_TOO_LARGE ? 413 :
			r == SL_H1_E_TRAILER_TOO_LARGE ? 431 : 400;
	c->err_pos = c->pos + i;
	c->err_state = chunk_state(c->st);
	c->st = CS_ERROR;
	return -EBADMSG;
}

/* a qdtext or quoted-pair octet (RFC 9110 5.6.4) */
static bool is_qdtext(unsigned char c)
{
	return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
	       (c >= 0x5d && c <= 0x7e) || c >= 0x80;
}

ssize_t sl_h1_chunked(struct sl_h1_chunked *c, const char *buf, size_t len,
		      size_t *data_off, size_t *data_len)
{
	bool had_data = false;
	size_t i = 0;

	if (!c || (!buf && len) || !data_off || !data_len)
		return -EINVAL;
	*data_off = 0;
	*data_len = 0;
	if (c->st == CS_ERROR)
		return -EBADMSG;
	while (i < len && c->st != CS_DONE) {
		unsigned char ch = (unsigned char)buf[i];
		int st = c->st;

		if (st <= CS_SIZE_LF && ++c->line_len > SL_H1_CHUNK_LINE_MAX)
			return chunk_fail(c, SL_H1_E_CHUNK_LINE_TOO_LONG, i);
		if (st >= CS_TRL_START && ++c->trailer_len > c->max_trailers)
			return chunk_fail(c, SL_H1_E_TRAILER_TOO_LARGE, i);
		if (st <= CS_EXT_AFTER && ch == '\r') {
			/* CRLF only right after the size, a name, a value or a
			 * closing quote: no trailing whitespace (it is where
			 * parsers disagree) */
			if (st == CS_SIZE0)
				return chunk_fail(c, SL_H1_E_CHUNK_SIZE_EMPTY, i);
			if (st == CS_SIZE_WS)
				return chunk_fail(c, SL_H1_E_CHUNK_SIZE_INVALID, i);
			if (st != CS_SIZE && st != CS_EXT_NAME &&
			    st != CS_EXT_VAL && st != CS_EXT_QEND)
				return chunk_fail(c, SL_H1_E_CHUNK_EXT, i);
			c->st = CS_SIZE_LF;
			i++;
			continue;
		}
		if (st <= CS_SIZE_LF && ch == '\n' && st != CS_SIZE_LF)
			return chunk_fail(c, SL_H1_E_BARE_LF, i);
		switch (st) {
		case CS_SIZE0:
		case CS_SIZE: {
			int v = hexval(ch);

			if (v >= 0) {
				if (c->size > ((uint64_t)INT64_MAX >> 4))
					return chunk_fail(c, SL_H1_E_CHUNK_SIZE_OVERFLOW, i);
				c->size = (c->size << 4) | (uint64_t)v;
				c->st = CS_SIZE;
			} else if (st == CS_SIZE0) {
				return chunk_fail(c, ch == ';' ? SL_H1_E_CHUNK_SIZE_EMPTY :
						  SL_H1_E_CHUNK_SIZE_INVALID, i);
			} else if (ch == ';') {
				c->st = CS_EXT_NAME0;
			} else if (is_ws(ch)) {
				c->st = CS_SIZE_WS;
			} else {
				return chunk_fail(c, SL_H1_E_CHUNK_SIZE_INVALID, i);
			}
			break;
		}
		case CS_SIZE_WS:
			if (ch == ';')
				c->st = CS_EXT_NAME0;
			else if (!is_ws(ch))
				return chunk_fail(c, SL_H1_E_CHUNK_SIZE_INVALID, i);
			break;
		case CS_EXT_NAME0:
			if (is_tchar(ch))
				c->st = CS_EXT_NAME;
			else if (!is_ws(ch))
				return chunk_fail(c, SL_H1_E_CHUNK_EXT, i);
			break;
		case CS_EXT_NAME:
		case CS_EXT_NAME_WS:
			if (is_tchar(ch) && st == CS_EXT_NAME)
				break;
			if (is_ws(ch))
				c->st = CS_EXT_NAME_WS;
			else if (ch == '=')
				c->st = CS_EXT_VAL0;
			else if (ch == ';')
				c->st = CS_EXT_NAME0;
			else
				return chunk_fail(c, SL_H1_E_CHUNK_EXT, i);
			break;
		case CS_EXT_VAL0:
			if (ch == '"')
				c->st = CS_EXT_QS;
			else if (is_tchar(ch))
				c->st = CS_EXT_VAL;
			else if (!is_ws(ch))
				return chunk_fail(c, SL_H1_E_CHUNK_EXT, i);
			break;
		case CS_EXT_VAL:
		case CS_EXT_QEND:
		case CS_EXT_AFTER:
			if (is_tchar(ch) && st == CS_EXT_VAL)
				break;
			if (is_ws(ch))
				c->st = CS_EXT_AFTER;
			else if (ch == ';')
				c->st = CS_EXT_NAME0;
			else
				return chunk_fail(c, SL_H1_E_CHUNK_EXT, i);
			break;
		case CS_EXT_QS:
			if (ch == '"')
				c->st = CS_EXT_QEND;
			else if (ch == '\\')
				c->st = CS_EXT_QS_ESC;
			else if (!is_qdtext(ch))
				return chunk_fail(c, SL_H1_E_CHUNK_EXT, i);
			break;
		case CS_EXT_QS_ESC:
			if (ch != '\t' && (ch < 0x20 || ch == 0x7f))
				return chunk_fail(c, SL_H1_E_CHUNK_EXT, i);
			c->st = CS_EXT_QS;
			break;
		case CS_SIZE_LF:
			if (ch != '\n')
				return chunk_fail(c, SL_H1_E_BARE_CR, i);
			c->line_len = 0;
			if (c->max_body && c->size > c->max_body - c->body_len)
				return chunk_fail(c, SL_H1_E_BODY_TOO_LARGE, i);
			c->remaining = c->size;
			c->st = c->size ? CS_DATA : CS_TRL_START;
			c->size = 0;
			break;
		case CS_DATA: {
			size_t n = len - i;

			if (had_data)
				goto out; /* one data run per call */
			if (n > c->remaining)
				n = (size_t)c->remaining;
			*data_off = i;
			*data_len = n;
			had_data = true;
			c->remaining -= n;
			c->body_len += n;
			if (!c->remaining)
				c->st = CS_DATA_CR;
			i += n;
			continue;
		}
		case CS_DATA_CR:
			if (ch != '\r')
				return chunk_fail(c, SL_H1_E_CHUNK_CRLF, i);
			c->st = CS_DATA_LF;
			break;
		case CS_DATA_LF:
			if (ch != '\n')
				return chunk_fail(c, SL_H1_E_CHUNK_CRLF, i);
			c->st = CS_SIZE0;
			break;
		case CS_TRL_START:
			if (ch == '\r')
				c->st = CS_TRL_END_LF;
			else if (is_tchar(ch))
				c->st = CS_TRL_NAME;
			else
				return chunk_fail(c, ch == '\n' ? SL_H1_E_BARE_LF :
						  SL_H1_E_TRAILER, i);
			break;
		case CS_TRL_NAME:
			if (ch == ':')
				c->st = CS_TRL_VAL;
			else if (!is_tchar(ch))
				return chunk_fail(c, SL_H1_E_TRAILER, i);
			break;
		case CS_TRL_VAL:
			if (ch == '\r')
				c->st = CS_TRL_LF;
			else if (ch == '\n')
				return chunk_fail(c, SL_H1_E_BARE_LF, i);
			else if (ch != '\t' && (ch < 0x20 || ch == 0x7f))
				return chunk_fail(c, SL_H1_E_TRAILER, i);
			break;
		case CS_TRL_LF:
		case CS_TRL_END_LF:
			if (ch != '\n')
				return chunk_fail(c, SL_H1_E_BARE_CR, i);
			if (st == CS_TRL_END_LF) {
				c->st = CS_DONE;
				c->done = true;
			} else {
				c->st = CS_TRL_START;
			}
			break;
		}
		i++;
	}
out:
	c->pos += i;
	return (ssize_t)i;
}

bool sl_h1_request_start_ok(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == ' ')
			return i > 0;
		if (!is_tchar((unsigned char)buf[i]))
			return false;
	}
	return true;
}

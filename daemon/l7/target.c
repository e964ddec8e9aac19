/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The request target as the engine uses it (conn.h): its path for routing,
 * the target VirtualService rewrite.uri makes, the Location of a redirect.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conn.h"

/* scheme://authority/path: where the authority starts (past "://"), 0
 * when there is no scheme */
static size_t abs_authority_start(const char *t, size_t tl)
{
	const char *colon = memchr(t, ':', tl);

	return colon ? (size_t)(colon - t) + 3 : 0;
}

bool sl_l7c_target_path(const struct l7c *c, const char **p, size_t *len)
{
	const char *t = c->dbuf + c->req.target.off;
	size_t tl = c->req.target.len;
	const char *slash;
	size_t s0;

	if (c->req.form != SL_H1_T_ABSOLUTE) {
		*p = t;
		*len = tl;
		return true;
	}
	/* scheme://authority/path: the path part */
	s0 = abs_authority_start(t, tl);
	slash = s0 < tl ? memchr(t + s0, '/', tl - s0) : NULL;
	if (!slash) {
		*p = "/";
		*len = 1;
		return false;
	}
	*p = slash;
	*len = tl - (size_t)(slash - t);
	return true;
}

const char *sl_l7c_target_authority(const struct l7c *c, size_t *len)
{
	const char *t = c->dbuf + c->req.target.off;
	size_t tl = c->req.target.len, s0, e;

	if (c->req.form != SL_H1_T_ABSOLUTE)
		return NULL;
	s0 = abs_authority_start(t, tl);
	if (!s0 || s0 > tl)
		return NULL;
	for (e = s0; e < tl && t[e] != '/' && t[e] != '?'; e++)
		;
	*len = e - s0;
	return t + s0;
}

/*
 * rewrite.uri as Envoy's prefix_rewrite: the matched uri prefix is
 * replaced (no uri condition: the leading "/"), an exact or regex match
 * replaces the whole path; the query string stays.
 * @retval 0, -ENOSPC
 */
int sl_l7c_rewrite_target(struct l7c *c, char *out, size_t cap)
{
	const char *t, *q;
	size_t tl, plen, skip;
	int n;

	if (!sl_l7c_target_path(c, &t, &tl))
		return -ENOSPC;
	q = memchr(t, '?', tl);
	plen = q ? (size_t)(q - t) : tl;
	if (c->rt.rewrite_exact)
		skip = plen;
	else if (c->rt.rewrite_prefix &&
		 strlen(c->rt.rewrite_prefix) <= plen)
		skip = strlen(c->rt.rewrite_prefix);
	else
		skip = 1; /* the leading "/" */
	n = snprintf(out, cap, "%s%.*s", c->rt.rewrite_uri, (int)(tl - skip),
		     t + skip);
	return n < 0 || (size_t)n >= cap ? -ENOSPC : 0;
}

void sl_l7c_req_view(struct l7c *c, struct sl_http_req_view *v)
{
	const struct sl_h1_msg *m = &c->req;
	const char *t;
	size_t tl;

	memset(v, 0, sizeof(*v));
	v->buf = c->dbuf;
	v->msg = m;
	v->method = c->dbuf + m->method.off;
	v->method_len = m->method.len;
	sl_l7c_target_path(c, &t, &tl);
	v->path = t;
	v->path_len = tl;
	if (m->host >= 0) {
		v->authority = c->dbuf + m->hdr[m->host].value.off;
		v->authority_len = m->hdr[m->host].value.len;
	}
	v->scheme = "http";
	v->port = c->dst_port;
	if (c->src) {
		v->src_labels = c->src->labels;
		v->n_src_labels = c->src->n_labels;
		v->src_ns = c->src->ns;
	}
}

/* http[].redirect's Location: the request's Host and target where the rule
 * gives no authority, port or uri */
int sl_l7c_redirect_location(const struct l7c *c, char *loc, size_t cap)
{
	char auth[512];
	const char *path;
	size_t plen;
	int k;

	if (c->rt.redirect_authority)
		snprintf(auth, sizeof(auth), "%s", c->rt.redirect_authority);
	else if (c->req.host >= 0)
		snprintf(auth, sizeof(auth), "%.*s",
			 (int)c->req.hdr[c->req.host].value.len,
			 c->dbuf + c->req.hdr[c->req.host].value.off);
	else
		auth[0] = 0;
	if (c->rt.redirect_port) {
		/* the port replaced: host[:port] or [v6][:port] */
		char *br = strrchr(auth, ']'), *colon = strrchr(auth, ':');

		if (colon && (!br || colon > br))
			*colon = 0;
		k = (int)strlen(auth);
		snprintf(auth + k, sizeof(auth) - (size_t)k, ":%u",
			 c->rt.redirect_port);
	}
	sl_l7c_target_path(c, &path, &plen);
	if (c->rt.redirect_uri) {
		path = c->rt.redirect_uri;
		plen = strlen(path);
	}
	k = snprintf(loc, cap, "%s://%s%.*s",
		     c->rt.redirect_scheme ? c->rt.redirect_scheme : "http",
		     auth, (int)plen, path);
	return k < 0 || (size_t)k >= cap ? -ENOSPC : 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Request matching of VirtualService http[].match[] (Istio's HTTPMatchRequest)
 * with Envoy's semantics:
 *   - uri.exact and uri.regex look at the path without the query string,
 *     uri.prefix at the whole :path (path and query);
 *   - ignoreUriCase makes uri exact/prefix case-insensitive (not regex);
 *   - regexes (RE2, http/re.h) must match the whole value;
 *   - header names are case-insensitive; a header sent several times is
 *     matched on its values joined by ",";
 *   - withoutHeaders holds when the header is absent or its value does not
 *     match;
 *   - queryParams look at the raw (not percent-decoded) value of the first
 *     occurrence of the parameter; "a" alone has the value "";
 *   - port, sourceLabels (every listed label equal) and sourceNamespace.
 * Within one match block every condition must hold; blocks are ORed by
 * the caller (sl_http_match_any).  No allocation except when a repeated
 * header must be joined for a regex or prefix and does not fit 1 KiB.
 */
#ifndef SL_HTTP_MATCH_H
#define SL_HTTP_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "h1.h"
#include "hdrs.h" /* struct sl_http_header_ops */
#include "label.h"
#include "re.h"

/**
 * struct sl_http_req_view - a request as the router sees it.  Every
 * pointer is borrowed from the caller for the duration of the call.
 * @buf, @msg: the parsed head (header lookup: msg->hdr spans into buf)
 * @method: the method, @method_len bytes
 * @path: :path as sent: path and query, origin-form (absolute-form: its
 *        path part), @path_len bytes
 * @authority: the Host value, @authority_len bytes
 * @scheme: "http"
 * @port: the connection's original destination port
 * @src_labels: labels of the source workload (may be 0 of them)
 * @src_ns: source namespace or NULL
 */
struct sl_http_req_view {
	const char *buf;
	const struct sl_h1_msg *msg;
	const char *method;
	size_t method_len;
	const char *path;
	size_t path_len;
	const char *authority;
	size_t authority_len;
	const char *scheme;
	uint16_t port;
	const struct sl_label *src_labels;
	size_t n_src_labels;
	const char *src_ns;
};

/* Istio's StringMatch */
enum sl_str_match_kind {
	SL_SM_NONE = 0, /* no condition */
	SL_SM_EXACT,
	SL_SM_PREFIX,
	SL_SM_REGEX,
	SL_SM_PRESENT, /* "{}" in headers, withoutHeaders, queryParams: the
			  name is present, whatever its value (Istio) */
};

/**
 * struct sl_str_match - one StringMatch
 * @value, @len: exact or prefix value
 * @re: compiled regex (SL_SM_REGEX), owned by whoever built the match
 */
struct sl_str_match {
	enum sl_str_match_kind kind;
	const char *value;
	size_t len;
	struct sl_re *re;
};

/* a named StringMatch: headers, withoutHeaders, queryParams */
struct sl_http_kv_match {
	const char *name;
	struct sl_str_match m;
};

/**
 * struct sl_http_match - one block of match[]; a zeroed block matches
 * every request.
 * @port: 0 for any
 * @src_ns: NULL for any
 */
struct sl_http_match {
	struct sl_str_match uri, scheme, method, authority;
	bool ignore_uri_case;
	const struct sl_http_kv_match *headers;
	size_t n_headers;
	const struct sl_http_kv_match *without_headers;
	size_t n_without_headers;
	const struct sl_http_kv_match *query;
	size_t n_query;
	uint16_t port;
	const struct sl_label *src_labels;
	size_t n_src_labels;
	const char *src_ns;
};

/**
 * sl_str_match_eval - does @s (@len bytes) satisfy @m?
 * @icase: exact/prefix compare ASCII case-insensitively
 * @retval true also when @m is SL_SM_NONE
 */
bool sl_str_match_eval(const struct sl_str_match *m, const char *s, size_t len,
		       bool icase);

/**
 * sl_http_match_eval - does @req satisfy every condition of block @m?
 * @retval true or false; false too when joining a repeated header ran out
 *         of memory (a route is never taken on a guess)
 */
bool sl_http_match_eval(const struct sl_http_match *m,
			const struct sl_http_req_view *req);

/**
 * sl_http_match_any - Istio's match[]: true when @n is 0 or any block
 * matches
 */
bool sl_http_match_any(const struct sl_http_match *m, size_t n,
		       const struct sl_http_req_view *req);

/**
 * sl_http_query_param - the raw value of the first occurrence of
 * parameter @name in the query of @path (after the first '?')
 * @val, @val_len: set when found ("" for "name" without '=')
 * @retval true when present
 */
bool sl_http_query_param(const char *path, size_t path_len, const char *name,
			 const char **val, size_t *val_len);

#endif /* SL_HTTP_MATCH_H */

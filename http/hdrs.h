/* SPDX-License-Identifier: Apache-2.0 */
/* Building the heads a proxy sends (issue 26): the request head for the
 * upstream and the response head for the client from a parsed message
 * (http/h1.h), with hop-by-hop fields dropped and the VirtualService
 * header operations applied, and the responses sluice makes itself.
 * Everything is written into a caller buffer: no allocation. */
#ifndef SL_HDRS_H
#define SL_HDRS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "http/h1.h"

#include "label.h" /* struct sl_label: a header name and value */

/**
 * struct sl_http_header_ops - a VirtualService `headers.request` or
 * `headers.response` block (rule or destination level).  Applied in this
 * order: @remove (case-insensitive names), then @set (each replaces every
 * field of its name, the earlier ones and the received ones), then @add
 * (appended).  Names are field-name tokens; values must not hold CR, LF
 * or NUL.  Fields sluice owns cannot be touched: Content-Length,
 * Transfer-Encoding and the hop-by-hop names (Connection, Keep-Alive,
 * Proxy-Connection, TE, Trailer, Upgrade) never; Host may be set but not
 * removed or added (sl_hdrs_ops_check() says which rule an op breaks).
 */
struct sl_http_header_ops {
	const struct sl_label *set;
	size_t n_set;
	const struct sl_label *add;
	size_t n_add;
	const char *const *remove;
	size_t n_remove;
};

/* a field sluice adds itself (trace context, x-request-id...);
 * NUL-terminated, same rules as op values */
struct sl_h1_extra {
	const char *name;
	const char *value;
};

/* flags of sl_hdrs_request() and sl_hdrs_response() */
#define SL_HDRS_CLOSE   (1u << 0) /* send "Connection: close" */
#define SL_HDRS_UPGRADE (1u << 1) /* the message is an accepted upgrade
                                     (WebSocket): keep Upgrade, send
                                     "Connection: upgrade" */

/**
 * sl_hdrs_ops_check - validate header operations at config load
 * @ops: the operations
 * @err, @errlen: on failure, a message naming the offending field and
 *                rule ("headers: cannot remove \"host\"")
 * @retval 0 valid; -EINVAL a name that is not a token, a value with CR,
 *         LF or NUL, or a field sluice owns (see struct sl_http_header_ops)
 */
int sl_hdrs_ops_check(const struct sl_http_header_ops *ops, char *err, size_t errlen);

/**
 * sl_hdrs_request - the request head to send upstream
 * @m: a request parsed by sl_h1_parse_request() (state SL_H1_S_DONE)
 * @buf: the buffer it was parsed from
 * @ops, @n_ops: header operations applied in array order (a set in a
 *        later block replaces fields from an earlier one); may be NULL/0
 * @extra, @n_extra: fields appended after the ops; may be NULL/0
 * @flags: SL_HDRS_CLOSE, SL_HDRS_UPGRADE
 * @out, @cap: where the head goes (caller-owned)
 *
 * Writes the request line as received (method, target and version), every
 * field of @m except the hop-by-hop ones (Connection, Keep-Alive,
 * Proxy-Connection, TE, Trailer, Upgrade unless SL_HDRS_UPGRADE) and
 * those named by a Connection option, then the ops, then @extra, then
 * "Connection: keep-alive" (or "close", or "upgrade"), then the empty
 * line.  Framing fields (Content-Length, Transfer-Encoding) and Host are
 * kept as received, even when a Connection option names them: the body is
 * relayed as is.  Field names keep their case, values are written as the
 * parser trimmed them.
 * @retval bytes written (no NUL added)
 * @retval -ENOSPC @cap is too small
 * @retval -E2BIG more than SL_H1_HEADERS_CAP fields would go out (the next
 *         hop refuses that with 431)
 * @retval -EINVAL an op or extra breaks the rules of sl_hdrs_ops_check(),
 *         or @m is not a complete request
 */
ssize_t sl_hdrs_request(const struct sl_h1_msg *m, const char *buf,
			const struct sl_http_header_ops *const *ops, size_t n_ops,
			const struct sl_h1_extra *extra, size_t n_extra,
			unsigned flags, char *out, size_t cap);

/**
 * sl_hdrs_request_target - sl_hdrs_request() with another request target
 * (a VirtualService `rewrite.uri` the caller made; `rewrite.authority` is
 * a set of Host in @ops)
 * @target: NUL-terminated, 1..8191 bytes of visible ASCII (no space,
 *          control or non-ASCII byte); NULL: the target as received
 * @retval as sl_hdrs_request(); -EINVAL for a bad @target
 */
ssize_t sl_hdrs_request_target(const struct sl_h1_msg *m, const char *buf,
			       const char *target,
			       const struct sl_http_header_ops *const *ops, size_t n_ops,
			       const struct sl_h1_extra *extra, size_t n_extra,
			       unsigned flags, char *out, size_t cap);

/**
 * sl_hdrs_response - the response head to send to the client; as
 * sl_hdrs_request() for a response parsed by sl_h1_parse_response(), with
 * the status line rebuilt as "HTTP/1.1 <code> <reason>" (the reason phrase
 * as received, or the standard one when it was empty).  A response whose
 * body runs until the upstream closes (m->body SL_H1_BODY_UNTIL_CLOSE) is
 * always sent with "Connection: close".
 */
ssize_t sl_hdrs_response(const struct sl_h1_msg *m, const char *buf,
			 const struct sl_http_header_ops *const *ops, size_t n_ops,
			 const struct sl_h1_extra *extra, size_t n_extra,
			 unsigned flags, char *out, size_t cap);

/**
 * sl_hdrs_local_reply - a response sluice makes itself (400, 403, 404 NR,
 * 503, 504 UT, fault abort):
 * "HTTP/1.1 <code> <reason>\r\ncontent-length: N\r\ncontent-type:
 * text/plain\r\n[connection: close\r\n]\r\n<body>"
 * @status: 200..599 except 204 and 304 (which carry no Content-Length)
 * @body: NUL-terminated, NULL for none
 * @close: add "connection: close"
 * @retval bytes written; -ENOSPC; -EINVAL a status outside that range
 */
ssize_t sl_hdrs_local_reply(int status, const char *body, bool close,
			    char *out, size_t cap);

/* the standard reason phrase of @status (RFC 9110 15), "" if none */
const char *sl_hdrs_reason(int status);

#endif

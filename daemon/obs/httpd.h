/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A tiny HTTP/1.1 server for the node-local telemetry port (Istio's 15020):
 * GET/HEAD only, no body, one request per connection ("Connection: close"),
 * strict parsing with bounded sizes.
 *
 * It runs on a dedicated thread, not on worker 0's io_uring loop: a scrape
 * renders every labelled series (a walk of up to 4096 entries under the
 * metrics mutex plus formatting), which would otherwise add its latency to
 * every flow that worker serves; the thread only reads atomics and
 * mutex-protected tables, so it needs no hand-off through the loop.
 *
 * The thread serves up to SL_HTTPD_CONNS_MAX clients at once from one
 * poll(2) loop on non-blocking sockets, so a slow client never delays
 * another (the liveness probe must answer while anything local stalls):
 *  - the request head must be complete within SL_HTTPD_HEAD_MS of the
 *    accept (a client trickling bytes gains nothing): else 408 and close;
 *  - the whole connection, answer included, ends within SL_HTTPD_CONN_MS
 *    (a client that does not read its answer is reset);
 *  - at SL_HTTPD_CONNS_MAX open connections a new one sheds the oldest
 *    with an RST.  Refusing the new one instead would let anyone who holds
 *    the slots keep the probe out; shedding the oldest means a newcomer is
 *    displaced only after SL_HTTPD_CONNS_MAX later arrivals, and a probe's
 *    whole exchange takes well under a millisecond;
 *  - a request head is at most SL_HTTPD_REQ_MAX bytes (431 beyond), so
 *    the server never holds more than SL_HTTPD_CONNS_MAX of them.
 * Each of those ends is counted (struct sl_httpd_stats).  The limits are
 * compile-time constants (docs/METRICS.md).
 */
#ifndef SL_HTTPD_H
#define SL_HTTPD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SL_HTTPD_REQ_MAX 4096	 /* request line + headers */
#define SL_HTTPD_TARGET_MAX 256
#define SL_HTTPD_HEAD_MS 2000	 /* request head complete, from the accept */
#define SL_HTTPD_CONN_MS 10000	 /* whole connection, answer included */
#define SL_HTTPD_CONNS_MAX 64	 /* open at once; more shed the oldest */

/**
 * struct sl_httpd_stats - what the server did, for the exposition; relaxed
 * atomics written by the server thread, readable from any thread
 */
struct sl_httpd_stats {
	atomic_uint_fast64_t accepted; /* connections accepted */
	atomic_uint_fast64_t answered; /* answers sent in full (any status) */
	atomic_uint_fast64_t timeouts; /* cut at SL_HTTPD_HEAD_MS or _CONN_MS */
	atomic_uint_fast64_t shed;     /* reset to make room (at the cap) */
	atomic_uint_fast64_t accept_errors; /* accept(2) failed (EMFILE...) */
	atomic_uint_fast64_t open;     /* open now (a gauge) */
};

/** A parsed request (only what the server needs). */
struct sl_http_req {
	char method[8]; /* "GET" or "HEAD" */
	char target[SL_HTTPD_TARGET_MAX + 1]; /* path, query stripped */
	size_t header_len; /* bytes up to and including the empty line */
};

/**
 * sl_httpd_parse - parse the request head in @buf (@len bytes, not
 * necessarily NUL-terminated)
 * @retval 0 complete (@req filled);
 *         -EAGAIN incomplete so far (read more, up to SL_HTTPD_REQ_MAX);
 *         -E2BIG head larger than SL_HTTPD_REQ_MAX or target too long (431/414);
 *         -EINVAL malformed (400); -EOPNOTSUPP method other than GET/HEAD (405);
 *         -EPROTONOSUPPORT not HTTP/1.0 or HTTP/1.1 (505)
 */
int sl_httpd_parse(const char *buf, size_t len, struct sl_http_req *req);

/**
 * sl_httpd_handler - produce the answer for @path
 * @status: set to the HTTP status (200, 404, 503...)
 * @ctype: set to a static content type
 * @body, @body_len: set to a malloc'ed body (the server frees it)
 * @retval 0, or -errno (the server answers 500)
 */
typedef int (*sl_httpd_handler)(void *arg, const char *path, int *status,
				const char **ctype, char **body,
				size_t *body_len);

struct sl_httpd;

/**
 * sl_httpd_start - listen on @addr:@port (e.g. "127.0.0.1", 15020; port 0
 * picks one, see sl_httpd_port) and serve from a new thread.  @addr is an
 * IPv4 or IPv6 literal; "::" serves IPv4 as well
 * (-EINVAL, logged, for anything else)
 * @stats: counters to update, owned by the caller and kept valid until
 *         sl_httpd_stop() returns; NULL: not counted
 * @out: the server; stop it with sl_httpd_stop()
 * @retval 0 or -errno (bind failures are logged)
 */
int sl_httpd_start(const char *addr, uint16_t port, sl_httpd_handler h,
		   void *arg, struct sl_httpd_stats *stats,
		   struct sl_httpd **out);

/** sl_httpd_port - the bound port */
uint16_t sl_httpd_port(const struct sl_httpd *s);

/** sl_httpd_stop - stop the thread, close the socket, free; NULL-safe */
void sl_httpd_stop(struct sl_httpd *s);

#endif /* SL_HTTPD_H */

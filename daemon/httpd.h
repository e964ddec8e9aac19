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
 * mutex-protected tables, so it needs no hand-off through the loop.  Clients
 * are served one at a time with a hard deadline per connection
 * (SL_HTTPD_DEADLINE_MS for reading the request and writing the answer), so
 * a slow or stalled client (slowloris) holds the port for at most that long
 * and never holds memory beyond SL_HTTPD_REQ_MAX.
 */
#ifndef SL_HTTPD_H
#define SL_HTTPD_H

#include <stddef.h>
#include <stdint.h>

#define SL_HTTPD_REQ_MAX 4096	 /* request line + headers */
#define SL_HTTPD_TARGET_MAX 256
#define SL_HTTPD_DEADLINE_MS 2000

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
 * picks one, see sl_httpd_port) and serve from a new thread
 * @out: the server; stop it with sl_httpd_stop()
 * @retval 0 or -errno (bind failures are logged)
 */
int sl_httpd_start(const char *addr, uint16_t port, sl_httpd_handler h,
		   void *arg, struct sl_httpd **out);

/** sl_httpd_port - the bound port */
uint16_t sl_httpd_port(const struct sl_httpd *s);

/** sl_httpd_stop - stop the thread, close the socket, free; NULL-safe */
void sl_httpd_stop(struct sl_httpd *s);

#endif /* SL_HTTPD_H */

/* SPDX-License-Identifier: Apache-2.0 */
/* Trace context propagation (issue 26): W3C traceparent/tracestate, B3
 * (multi and single header) and x-request-id, read from the client's
 * request, created when absent, and written for each upstream attempt
 * with a new span id.  sluice records no spans itself: it keeps the trace
 * whole across the hop.  No allocation: the context holds its strings. */
#ifndef SL_TRACE_H
#define SL_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "http/h1.h"
#include "http/hdrs.h"

/**
 * sl_trace_rnd_fn - a random source
 * @arg: the caller's
 * @buf, @len: fill these bytes
 * @retval 0; a negative errno, passed on
 */
typedef int (*sl_trace_rnd_fn)(void *arg, void *buf, size_t len);

/* getrandom(2) as an sl_trace_rnd_fn (@arg unused) */
int sl_trace_getrandom(void *arg, void *buf, size_t len);

/* W3C: a proxy propagates at least 512 bytes of tracestate */
#define SL_TRACE_STATE_MAX 512
/* longest x-request-id kept */
#define SL_TRACE_REQID_MAX 128

/* where the trace came from */
enum sl_trace_origin {
	SL_TRACE_NEW = 0,     /* nothing valid came: sluice started it */
	SL_TRACE_W3C,         /* a valid traceparent */
	SL_TRACE_B3_SINGLE,   /* a valid b3 header */
	SL_TRACE_B3,          /* valid x-b3-traceid and x-b3-spanid */
};

/**
 * struct sl_trace - the trace context of one request
 * @origin: where it came from
 * @trace_id: 128 bits (a 64-bit B3 id is left-padded with zeroes)
 * @parent_id: the client's span, the parent of ours (@has_parent)
 * @span_id: the span of the current upstream attempt
 * @sampled: 1 or 0, -1 undecided (B3 deferred the decision, or sluice
 *           started the trace without one)
 * @debug: B3 debug (x-b3-flags: 1, or "d" in b3)
 * @b3_64: the client's B3 trace id had 64 bits: sent back with 64
 * @b3_single: the client sent a b3 header: one is sent upstream too
 * @tracestate: the W3C tracestate to pass on ("" for none)
 * @request_id: x-request-id, the client's or a new UUIDv4
 * @request_id_kept: it is the client's
 * The rest holds the formatted values sl_trace_headers() points at.
 */
struct sl_trace {
	enum sl_trace_origin origin;
	uint8_t trace_id[16];
	uint8_t parent_id[8];
	uint8_t span_id[8];
	bool has_parent;
	int sampled;
	bool debug;
	bool b3_64;
	bool b3_single;
	char tracestate[SL_TRACE_STATE_MAX + 1];
	char request_id[SL_TRACE_REQID_MAX + 1];
	bool request_id_kept;
	/* private: formatted values */
	char f_traceparent[56];
	char f_traceid[33];
	char f_spanid[17];
	char f_parentid[17];
	char f_b3[32 + 1 + 16 + 3 + 1 + 16 + 1];
};

/**
 * sl_trace_from_request - read the trace context of a client request
 * @t: filled (caller-owned; no pointer into @buf is kept)
 * @m, @buf: a request parsed by sl_h1_parse_request()
 * @rnd, @arg: random source for new ids
 *
 * A valid traceparent wins (with its tracestate, validated, cut to 512
 * bytes as W3C says), then a valid b3 header, then x-b3-traceid and
 * x-b3-spanid; otherwise a new trace id.  Either way the first attempt's
 * span id is made (sl_trace_new_span()).  x-request-id is kept when it
 * is 1..128 visible ASCII bytes, else a new UUIDv4.
 * @retval 0; what @rnd returned on failure; -EINVAL NULL argument
 */
int sl_trace_from_request(struct sl_trace *t, const struct sl_h1_msg *m,
			  const char *buf, sl_trace_rnd_fn rnd, void *arg);

/**
 * sl_trace_new_span - a new span id for the next upstream attempt (a
 * retry): same trace, same parent
 * @retval 0; what @rnd returned on failure
 */
int sl_trace_new_span(struct sl_trace *t, sl_trace_rnd_fn rnd, void *arg);

/**
 * sl_trace_headers - the fields to send upstream for the current span:
 * traceparent, tracestate (when there is one), x-b3-traceid, x-b3-spanid,
 * x-b3-parentspanid (with a parent), x-b3-sampled (when decided; not with
 * debug), x-b3-flags (debug), b3 (when the client used it), x-request-id
 * @t: the context; the values point into it (valid until it changes)
 * @extra, @cap: where the fields go, for sl_hdrs_request()
 * @retval the number of fields; -ENOSPC @cap is too small (9 suffice)
 * The client's fields of these names must not go on: pass
 * sl_trace_header_ops to sl_hdrs_request().
 */
ssize_t sl_trace_headers(struct sl_trace *t, struct sl_h1_extra *extra, size_t cap);

#define SL_TRACE_HEADERS_MAX 9

/* header ops that remove every field sl_trace_headers() writes */
extern const struct sl_http_header_ops sl_trace_header_ops;

/* the trace id as 32 lowercase hex digits and a NUL, for the access log */
void sl_trace_id_hex(const struct sl_trace *t, char out[33]);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The access log: one JSON object per line for every relayed flow, written
 * when it closes ("kind":"flow"), and one for every HTTP request, written
 * when it ends ("kind":"http").  A token bucket, shared by both kinds,
 * bounds the rate (lines per second, with a burst); lines over the limit
 * are dropped and counted, never queued, so a flood of short flows or
 * requests cannot make logging the bottleneck.
 *
 * Strings are escaped so that any byte a client sent gives valid JSON
 * (common/json.h); the strings of a request line are bounded (the path to
 * 1024 bytes of JSON, the authority to 256...: "truncated":true says one
 * was cut) so that a request line always fits in one line of at most
 * SL_ACCESSLOG_LINE_MAX bytes, at most PIPE_BUF, which one write(2) to a
 * pipe keeps whole.
 *
 * Thread safety: sl_accesslog_write() may be called from any worker; the
 * bucket is protected by a mutex and each line is written with one
 * write(2) (lines of concurrent writers never interleave).
 */
#ifndef SL_ACCESSLOG_H
#define SL_ACCESSLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_ACCESSLOG_DEFAULT_RATE 100
#define SL_ACCESSLOG_DEFAULT_BURST 200
#define SL_ACCESSLOG_LINE_MAX 4096

/** One closed flow.  NULL strings are written as null. */
struct sl_accesslog_entry {
	uint64_t start_realtime_ns; /* wall clock at accept */
	uint64_t duration_ns;
	bool outbound; /* direction as seen by this node */
	uint64_t flow_id;
	const char *src_addr; /* "ip:port" */
	const char *src_workload, *src_namespace, *src_principal;
	const char *dst_addr;
	const char *dst_workload, *dst_namespace, *dst_principal;
	const char *dst_service;
	const char *endpoint; /* "ip:port" dialed (outbound) / pod (inbound) */
	uint64_t bytes_sent;	 /* towards the destination */
	uint64_t bytes_received; /* back from the destination */
	bool ktls;
	bool plaintext;		    /* no TLS at all: "tls":"none" */
	const char *end;	    /* sl_relay_end_name() */
	const char *response_flags; /* Istio-style flags, "-" for none */
};

/** One finished HTTP request.  NULL strings are written as null. */
struct sl_accesslog_http {
	uint64_t start_realtime_ns; /* wall clock at the first request byte */
	uint64_t duration_ns;	    /* first request byte to last response byte */
	bool inbound;		    /* reporter destination ("direction") */
	uint64_t flow_id;	    /* the connection's flow */
	const char *method, *authority, *path;
	int response_code;	    /* 0: no response */
	const char *response_flags; /* "-" when NULL or "" */
	const char *response_code_details; /* Envoy's; written only when set */
	const char *audit;	    /* AUDIT policy matched; written only when
				       set */
	const char *route;	    /* http[].name */
	const char *upstream;	    /* "ip:port" of the last attempt */
	uint64_t request_bytes, response_bytes;
	unsigned int attempts;	    /* upstream tries */
	const char *trace_id, *request_id;
	const char *src_addr, *src_workload, *src_namespace, *src_principal;
	const char *dst_addr, *dst_workload, *dst_namespace, *dst_principal;
	const char *dst_service;
	bool plaintext; /* connection_security_policy "none" */
};

/** Clock for the bucket (tests inject one); nanoseconds, monotonic. */
typedef uint64_t (*sl_accesslog_clock)(void *arg);

struct sl_accesslog_opts {
	int fd;		    /* where lines go (1: stdout); not closed */
	unsigned int rate;  /* lines per second; 0: default */
	unsigned int burst; /* bucket size; 0: default */
	sl_accesslog_clock clock; /* NULL: CLOCK_MONOTONIC */
	void *clock_arg;
};

struct sl_accesslog;

/**
 * sl_accesslog_new - create an access log writing to @o->fd
 * @out: the log; free with sl_accesslog_free()
 * @retval 0 or -ENOMEM
 */
int sl_accesslog_new(const struct sl_accesslog_opts *o,
		     struct sl_accesslog **out);

/** sl_accesslog_free - free @al (does not close the fd); NULL-safe */
void sl_accesslog_free(struct sl_accesslog *al);

/**
 * sl_accesslog_format - format @e as one JSON line (with '\n') into @buf
 * @retval the length written (< @len), or -ENOSPC when it does not fit
 */
int sl_accesslog_format(const struct sl_accesslog_entry *e, char *buf,
			size_t len);

/**
 * sl_accesslog_format_http - format @e as one JSON line (with '\n') into
 * @buf, its client strings bounded (see above)
 * @retval the length written (< @len), or -ENOSPC when it does not fit
 */
int sl_accesslog_format_http(const struct sl_accesslog_http *e, char *buf,
			     size_t len);

/**
 * sl_accesslog_write - log @e if the rate limit allows; NULL @al is a no-op
 * @retval 0 written, -EAGAIN dropped by the rate limit (counted),
 *         -errno when formatting or write(2) failed (also counted as dropped)
 */
int sl_accesslog_write(struct sl_accesslog *al,
		       const struct sl_accesslog_entry *e);

/** sl_accesslog_write_http - the same for one HTTP request */
int sl_accesslog_write_http(struct sl_accesslog *al,
			    const struct sl_accesslog_http *e);

/** sl_accesslog_dropped - lines dropped so far */
uint64_t sl_accesslog_dropped(struct sl_accesslog *al);

/** sl_accesslog_written - lines written so far */
uint64_t sl_accesslog_written(struct sl_accesslog *al);

#endif /* SL_ACCESSLOG_H */

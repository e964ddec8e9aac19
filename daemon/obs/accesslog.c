/* SPDX-License-Identifier: Apache-2.0 */
/* Access log lines and their token bucket (see accesslog.h). */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "accesslog.h"
#include "json.h"
#include "util.h"

struct sl_accesslog {
	int fd;
	sl_accesslog_clock clock;
	void *clock_arg;

	pthread_mutex_t lock;
	/* tokens in millitokens, so that sub-token refills are not lost */
	uint64_t tokens_milli, burst_milli;
	uint64_t rate; /* tokens per second */
	uint64_t last_ns;

	atomic_uint_fast64_t dropped, written;
};

_Static_assert(SL_ACCESSLOG_LINE_MAX <= PIPE_BUF,
	       "one write(2) of a line to a pipe must stay whole");

static uint64_t mono_clock(void *arg)
{
	return sl_now_ns();
}

int sl_accesslog_new(const struct sl_accesslog_opts *o,
		     struct sl_accesslog **out)
{
	struct sl_accesslog *al = calloc(1, sizeof(*al));

	if (!al)
		return -ENOMEM;
	al->fd = o->fd;
	al->clock = o->clock ? o->clock : mono_clock;
	al->clock_arg = o->clock_arg;
	al->rate = o->rate ? o->rate : SL_ACCESSLOG_DEFAULT_RATE;
	al->burst_milli = (uint64_t)(o->burst ? o->burst
					      : SL_ACCESSLOG_DEFAULT_BURST) * 1000;
	al->tokens_milli = al->burst_milli;
	al->last_ns = al->clock(al->clock_arg);
	pthread_mutex_init(&al->lock, NULL);
	*out = al;
	return 0;
}

void sl_accesslog_free(struct sl_accesslog *al)
{
	if (!al)
		return;
	pthread_mutex_destroy(&al->lock);
	free(al);
}

static void fmt_time(char *buf, size_t len, uint64_t ns)
{
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec,
		 (unsigned int)(ns % 1000000000ull / 1000000ull));
}

/*
 * A line is written straight into @buf through fmemopen, with a stack
 * buffer for stdio: no heap buffer per line (open_memstream's, and stdio's
 * BUFSIZ, are large enough allocations to make glibc consolidate the
 * fastbins the last handshake left, on the worker).
 */
struct line {
	FILE *out;
	char *buf;
	size_t len;
	char sbuf[1024];
};

static int line_begin(struct line *l, char *buf, size_t len)
{
	if (len < 2)
		return -ENOSPC;
	l->out = fmemopen(buf, len, "w");
	if (!l->out)
		return -ENOMEM;
	l->buf = buf;
	l->len = len;
	/* stdio's own buffer would be a malloc'd BUFSIZ: one on the stack */
	setvbuf(l->out, l->sbuf, _IOFBF, sizeof(l->sbuf));
	return 0;
}

/* the line's length, or -ENOSPC */
static int line_end(struct line *l)
{
	bool full;
	long n;

	fputc('\n', l->out);
	fflush(l->out);
	n = ftell(l->out);
	/* a line that does not fit fails a write (ferror) or fills the
	 * buffer to the last byte, where its terminating NUL would go */
	full = ferror(l->out) || n < 0 || (size_t)n >= l->len;
	fclose(l->out);
	if (full)
		return -ENOSPC;
	l->buf[n] = '\0';
	return (int)n;
}

int sl_accesslog_format(const struct sl_accesslog_entry *e, char *buf,
			size_t len)
{
	char ts[96], id[20];
	struct sl_json j;
	struct line l;
	int ret;

	ret = line_begin(&l, buf, len);
	if (ret)
		return ret;
	fmt_time(ts, sizeof(ts), e->start_realtime_ns);
	sl_json_init(&j, l.out, false);
	sl_json_obj_begin(&j);
	sl_json_kv_str(&j, "time", ts);
	sl_json_kv_str(&j, "kind", "flow");
	sl_json_kv_str(&j, "direction", e->outbound ? "outbound" : "inbound");
	snprintf(id, sizeof(id), "%016llx", (unsigned long long)e->flow_id);
	sl_json_kv_str(&j, "flow_id", id);
	sl_json_key(&j, "src");
	sl_json_obj_begin(&j);
	sl_json_kv_str(&j, "addr", e->src_addr);
	sl_json_kv_str(&j, "workload", e->src_workload);
	sl_json_kv_str(&j, "namespace", e->src_namespace);
	sl_json_kv_str(&j, "principal", e->src_principal);
	sl_json_obj_end(&j);
	sl_json_key(&j, "dst");
	sl_json_obj_begin(&j);
	sl_json_kv_str(&j, "addr", e->dst_addr);
	sl_json_kv_str(&j, "workload", e->dst_workload);
	sl_json_kv_str(&j, "namespace", e->dst_namespace);
	sl_json_kv_str(&j, "principal", e->dst_principal);
	sl_json_kv_str(&j, "service", e->dst_service);
	sl_json_obj_end(&j);
	sl_json_kv_str(&j, "endpoint", e->endpoint);
	sl_json_kv_uint(&j, "bytes_sent", e->bytes_sent);
	sl_json_kv_uint(&j, "bytes_received", e->bytes_received);
	sl_json_kv_uint(&j, "duration_ms", e->duration_ns / 1000000ull);
	sl_json_kv_str(&j, "tls", e->plaintext ? "none" :
				  e->ktls ? "ktls" : "userspace");
	sl_json_kv_str(&j, "end", e->end);
	sl_json_kv_str(&j, "response_flags",
		       e->response_flags && *e->response_flags ?
			       e->response_flags : "-");
	sl_json_obj_end(&j);
	return line_end(&l);
}

/*
 * JSON bytes allowed for each string of a request line: with the keys and
 * numbers, the longest line is about 3.6 KiB, under SL_ACCESSLOG_LINE_MAX
 * (tests/daemon/test_accesslog.c checks the worst case)
 */
#define MAX_METHOD 32
#define MAX_AUTHORITY 256
#define MAX_PATH 1024
#define MAX_ROUTE 128
#define MAX_FLAGS 64
#define MAX_ADDR 64
#define MAX_TRACE_ID 64
#define MAX_REQUEST_ID 128
#define MAX_WORKLOAD 128
#define MAX_NAMESPACE 64
#define MAX_PRINCIPAL 256
#define MAX_SERVICE 256
#define MAX_DETAILS 160

int sl_accesslog_format_http(const struct sl_accesslog_http *e, char *buf,
			     size_t len)
{
	char ts[96], id[20];
	struct sl_json j;
	struct line l;
	bool cut = false;
	int ret;

	ret = line_begin(&l, buf, len);
	if (ret)
		return ret;
	fmt_time(ts, sizeof(ts), e->start_realtime_ns);
	sl_json_init(&j, l.out, false);
	sl_json_obj_begin(&j);
	sl_json_kv_str(&j, "time", ts);
	sl_json_kv_str(&j, "kind", "http");
	sl_json_kv_str(&j, "direction", e->inbound ? "inbound" : "outbound");
	snprintf(id, sizeof(id), "%016llx", (unsigned long long)e->flow_id);
	sl_json_kv_str(&j, "flow_id", id);
	cut |= sl_json_kv_str_max(&j, "method", e->method, MAX_METHOD);
	cut |= sl_json_kv_str_max(&j, "authority", e->authority, MAX_AUTHORITY);
	cut |= sl_json_kv_str_max(&j, "path", e->path, MAX_PATH);
	sl_json_kv_int(&j, "response_code", e->response_code);
	cut |= sl_json_kv_str_max(&j, "response_flags",
				  e->response_flags && *e->response_flags ?
					  e->response_flags : "-",
				  MAX_FLAGS);
	if (e->response_code_details)
		cut |= sl_json_kv_str_max(&j, "response_code_details",
					  e->response_code_details, MAX_DETAILS);
	if (e->audit)
		cut |= sl_json_kv_str_max(&j, "audit", e->audit, MAX_DETAILS);
	cut |= sl_json_kv_str_max(&j, "route", e->route, MAX_ROUTE);
	cut |= sl_json_kv_str_max(&j, "upstream", e->upstream, MAX_ADDR);
	sl_json_kv_uint(&j, "attempts", e->attempts);
	sl_json_kv_uint(&j, "request_bytes", e->request_bytes);
	sl_json_kv_uint(&j, "response_bytes", e->response_bytes);
	sl_json_kv_uint(&j, "duration_ms", e->duration_ns / 1000000ull);
	sl_json_kv_uint(&j, "duration_us", e->duration_ns / 1000ull);
	cut |= sl_json_kv_str_max(&j, "trace_id", e->trace_id, MAX_TRACE_ID);
	cut |= sl_json_kv_str_max(&j, "request_id", e->request_id,
				  MAX_REQUEST_ID);
	sl_json_key(&j, "src");
	sl_json_obj_begin(&j);
	cut |= sl_json_kv_str_max(&j, "addr", e->src_addr, MAX_ADDR);
	cut |= sl_json_kv_str_max(&j, "workload", e->src_workload, MAX_WORKLOAD);
	cut |= sl_json_kv_str_max(&j, "namespace", e->src_namespace,
				  MAX_NAMESPACE);
	cut |= sl_json_kv_str_max(&j, "principal", e->src_principal,
				  MAX_PRINCIPAL);
	sl_json_obj_end(&j);
	sl_json_key(&j, "dst");
	sl_json_obj_begin(&j);
	cut |= sl_json_kv_str_max(&j, "addr", e->dst_addr, MAX_ADDR);
	cut |= sl_json_kv_str_max(&j, "workload", e->dst_workload, MAX_WORKLOAD);
	cut |= sl_json_kv_str_max(&j, "namespace", e->dst_namespace,
				  MAX_NAMESPACE);
	cut |= sl_json_kv_str_max(&j, "principal", e->dst_principal,
				  MAX_PRINCIPAL);
	cut |= sl_json_kv_str_max(&j, "service", e->dst_service, MAX_SERVICE);
	sl_json_obj_end(&j);
	sl_json_kv_str(&j, "connection_security_policy",
		       e->plaintext ? "none" : "mutual_tls");
	sl_json_kv_bool(&j, "truncated", cut);
	sl_json_obj_end(&j);
	return line_end(&l);
}

/* take one token; false when the bucket is empty */
static bool take_token(struct sl_accesslog *al)
{
	uint64_t now, add;
	bool ok = false;

	pthread_mutex_lock(&al->lock);
	now = al->clock(al->clock_arg);
	if (now > al->last_ns) {
		/* millitokens = ns * rate / 1e6; cap the interval to avoid
		 * overflow (a full bucket is reached long before) */
		uint64_t dt = SL_MIN(now - al->last_ns, 1000000000000ull);

		add = dt * al->rate / 1000000ull;
		if (add) {
			al->tokens_milli = SL_MIN(al->tokens_milli + add,
						  al->burst_milli);
			al->last_ns = now;
		}
	}
	if (al->tokens_milli >= 1000) {
		al->tokens_milli -= 1000;
		ok = true;
	}
	pthread_mutex_unlock(&al->lock);
	return ok;
}

/* the line of @e (formatted by @fmt) if the rate limit allows */
static int write_line(struct sl_accesslog *al,
		      int (*fmt)(const void *e, char *buf, size_t len),
		      const void *e)
{
	char buf[SL_ACCESSLOG_LINE_MAX];
	ssize_t w;
	int n;

	if (!al)
		return 0;
	if (!take_token(al)) {
		atomic_fetch_add_explicit(&al->dropped, 1, memory_order_relaxed);
		return -EAGAIN;
	}
	n = fmt(e, buf, sizeof(buf));
	if (n < 0)
		goto drop;
	/* one write per line; a short write to a pipe/tty of < PIPE_BUF
	 * bytes does not happen, a full pipe (EAGAIN) drops the line */
	w = write(al->fd, buf, (size_t)n);
	if (w != n) {
		n = w < 0 ? -errno : -EIO;
		goto drop;
	}
	atomic_fetch_add_explicit(&al->written, 1, memory_order_relaxed);
	return 0;
drop:
	atomic_fetch_add_explicit(&al->dropped, 1, memory_order_relaxed);
	return n;
}

static int fmt_flow(const void *e, char *buf, size_t len)
{
	return sl_accesslog_format(e, buf, len);
}

static int fmt_http(const void *e, char *buf, size_t len)
{
	return sl_accesslog_format_http(e, buf, len);
}

int sl_accesslog_write(struct sl_accesslog *al,
		       const struct sl_accesslog_entry *e)
{
	return write_line(al, fmt_flow, e);
}

int sl_accesslog_write_http(struct sl_accesslog *al,
			    const struct sl_accesslog_http *e)
{
	return write_line(al, fmt_http, e);
}

uint64_t sl_accesslog_dropped(struct sl_accesslog *al)
{
	return al ? atomic_load_explicit(&al->dropped, memory_order_relaxed) : 0;
}

uint64_t sl_accesslog_written(struct sl_accesslog *al)
{
	return al ? atomic_load_explicit(&al->written, memory_order_relaxed) : 0;
}

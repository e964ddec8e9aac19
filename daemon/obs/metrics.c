/* SPDX-License-Identifier: Apache-2.0 */
/* Labelled Istio TCP and HTTP series and the handshake histogram (see
 * metrics.h). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "util.h"

#define TCP_LABELS 10
#define HTTP_LABELS 25
#define NAME_MAX_LEN 31 /* longest label name, "destination_canonical_..." */
/* a rendered label set: name="value", for every label; a value escapes
 * to at most two bytes per byte of its (truncated) input */
#define KEY_MAX (HTTP_LABELS * (NAME_MAX_LEN + 4 + 2 * SL_METRICS_LABEL_MAX))

static const char *const tcp_names[TCP_LABELS] = {
	"reporter",
	"source_workload",
	"source_workload_namespace",
	"source_principal",
	"destination_workload",
	"destination_workload_namespace",
	"destination_service",
	"destination_principal",
	"connection_security_policy",
	"response_flags",
};

/* Istio's standard labels of the request metrics, in the order of its
 * documentation and of its stats filter's tag table */
enum {
	H_REPORTER,
	H_SRC_WL,
	H_SRC_NS,
	H_SRC_PRINCIPAL,
	H_SRC_APP,
	H_SRC_VERSION,
	H_SRC_CANON_SVC,
	H_SRC_CANON_REV,
	H_SRC_CLUSTER,
	H_DST_WL,
	H_DST_NS,
	H_DST_PRINCIPAL,
	H_DST_APP,
	H_DST_VERSION,
	H_DST_SVC,
	H_DST_SVC_NAME,
	H_DST_SVC_NS,
	H_DST_CANON_SVC,
	H_DST_CANON_REV,
	H_DST_CLUSTER,
	H_PROTOCOL,
	H_FLAGS,
	H_SECURITY,
	H_CODE,
	H_GRPC,
};

static const char *const http_names[HTTP_LABELS] = {
	[H_REPORTER] = "reporter",
	[H_SRC_WL] = "source_workload",
	[H_SRC_NS] = "source_workload_namespace",
	[H_SRC_PRINCIPAL] = "source_principal",
	[H_SRC_APP] = "source_app",
	[H_SRC_VERSION] = "source_version",
	[H_SRC_CANON_SVC] = "source_canonical_service",
	[H_SRC_CANON_REV] = "source_canonical_revision",
	[H_SRC_CLUSTER] = "source_cluster",
	[H_DST_WL] = "destination_workload",
	[H_DST_NS] = "destination_workload_namespace",
	[H_DST_PRINCIPAL] = "destination_principal",
	[H_DST_APP] = "destination_app",
	[H_DST_VERSION] = "destination_version",
	[H_DST_SVC] = "destination_service",
	[H_DST_SVC_NAME] = "destination_service_name",
	[H_DST_SVC_NS] = "destination_service_namespace",
	[H_DST_CANON_SVC] = "destination_canonical_service",
	[H_DST_CANON_REV] = "destination_canonical_revision",
	[H_DST_CLUSTER] = "destination_cluster",
	[H_PROTOCOL] = "request_protocol",
	[H_FLAGS] = "response_flags",
	[H_SECURITY] = "connection_security_policy",
	[H_CODE] = "response_code",
	[H_GRPC] = "grpc_response_status",
};

/* upper bounds of the handshake histogram, in seconds and nanoseconds */
static const char *const hs_le[SL_METRICS_HS_BUCKETS] = {
	"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
	"0.05",	  "0.1",   "0.25",   "0.5",   "1",    "5",
};
static const uint64_t hs_le_ns[SL_METRICS_HS_BUCKETS] = {
	500000ull,    1000000ull,   2500000ull,	  5000000ull,
	10000000ull,  25000000ull,  50000000ull,  100000000ull,
	250000000ull, 500000000ull, 1000000000ull, 5000000000ull,
};

/* Envoy's default histogram buckets, which Istio's request histograms use
 * (milliseconds for the duration, bytes for the sizes) */
#define HB SL_METRICS_HTTP_BUCKETS
static const char *const http_le[HB] = {
	"0.5",	  "1",	    "5",       "10",	  "25",	    "50",    "100",
	"250",	  "500",    "1000",    "2500",	  "5000",   "10000", "30000",
	"60000",  "300000", "600000",  "1800000", "3600000",
};
#define MS 1000000ull
static const uint64_t http_le_ns[HB] = {
	MS / 2,	    1 * MS,	 5 * MS,      10 * MS,	    25 * MS,
	50 * MS,    100 * MS,	 250 * MS,    500 * MS,	    1000 * MS,
	2500 * MS,  5000 * MS,	 10000 * MS,  30000 * MS,   60000 * MS,
	300000 * MS, 600000 * MS, 1800000 * MS, 3600000 * MS,
};
/* a whole number of bytes is <= 0.5 exactly when it is <= 0 */
static const uint64_t http_le_bytes[HB] = {
	0,     1,      5,      10,	25,	 50,	  100,
	250,   500,    1000,   2500,	5000,	 10000,	  30000,
	60000, 300000, 600000, 1800000, 3600000,
};

/* values of a series: TCP counters, or the request counter and three
 * histograms (HB non-cumulative buckets then the sum, each) */
enum { T_OPENED, T_CLOSED, T_SENT, T_RECEIVED, TCP_VALS };
enum { H_REQUESTS, H_HIST0 };
enum { HIST_DURATION, HIST_REQ_BYTES, HIST_RESP_BYTES, N_HIST };
#define HIST_VALS (HB + 1)
#define HTTP_VALS (H_HIST0 + N_HIST * HIST_VALS)

struct series {
	uint64_t hash;
	const char *key; /* the rendered label set, in this allocation */
	size_t key_len;
	uint64_t val[]; /* TCP_VALS or HTTP_VALS, then the key */
};

/* overflow series: TCP one, HTTP one per reporter and response class */
#define TCP_OTHERS 1
#define HTTP_CLASSES 10 /* "0", "1xx" ... "9xx" */
#define HTTP_OTHERS (2 * HTTP_CLASSES)

struct table {
	size_t n_vals;
	struct series **series; /* insertion order */
	size_t n, max, n_others;
	uint32_t *index; /* open addressing: series index + 1, 0 empty */
	size_t index_size; /* power of two, >= 2 * max */
	struct series **other; /* n_others slots, made on first use */
	size_t others_made;
};

struct sl_metrics {
	pthread_mutex_t lock; /* both tables, overflows */
	struct table tcp, http;
	uint64_t overflows;

	atomic_uint_fast64_t hs_bucket[SL_METRICS_HS_BUCKETS];
	atomic_uint_fast64_t hs_count, hs_sum_ns;
};

static int table_init(struct table *t, size_t max, size_t n_vals,
		      size_t n_others)
{
	t->n_vals = n_vals;
	t->max = max;
	t->n_others = n_others;
	t->index_size = 4;
	while (t->index_size < 2 * max)
		t->index_size <<= 1;
	t->series = calloc(max, sizeof(*t->series));
	t->index = calloc(t->index_size, sizeof(*t->index));
	t->other = calloc(n_others, sizeof(*t->other));
	return t->series && t->index && t->other ? 0 : -ENOMEM;
}

static void table_free(struct table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->series[i]);
	free(t->series);
	free(t->index);
	free(t->other);
}

int sl_metrics_new(size_t max_series, size_t max_http_series,
		   struct sl_metrics **out)
{
	struct sl_metrics *m;

	if (!max_series)
		max_series = SL_METRICS_DEFAULT_SERIES;
	if (!max_http_series)
		max_http_series = SL_METRICS_DEFAULT_HTTP_SERIES;
	if (max_series <= TCP_OTHERS || max_series > (1u << 20) ||
	    max_http_series <= HTTP_OTHERS || max_http_series > (1u << 20))
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	if (table_init(&m->tcp, max_series, TCP_VALS, TCP_OTHERS) ||
	    table_init(&m->http, max_http_series, HTTP_VALS, HTTP_OTHERS)) {
		table_free(&m->tcp);
		table_free(&m->http);
		free(m);
		return -ENOMEM;
	}
	pthread_mutex_init(&m->lock, NULL);
	*out = m;
	return 0;
}

void sl_metrics_free(struct sl_metrics *m)
{
	if (!m)
		return;
	table_free(&m->tcp);
	table_free(&m->http);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* @s escaped as a label value into @dst (room for 2 * SL_METRICS_LABEL_MAX
 * bytes); returns the length */
static size_t escape_into(char *dst, const char *s)
{
	size_t i = 0, o = 0;

	while (s[i]) {
		size_t n = sl_utf8_len(s + i), adv = n ? n : 1;

		if (i + adv > SL_METRICS_LABEL_MAX)
			break; /* truncated, at a character boundary */
		if (!n) {
			dst[o++] = '?';
		} else if (s[i] == '\\' || s[i] == '"') {
			dst[o++] = '\\';
			dst[o++] = s[i];
		} else if (s[i] == '\n') {
			dst[o++] = '\\';
			dst[o++] = 'n';
		} else {
			memcpy(dst + o, s + i, n);
			o += n;
		}
		i += adv;
	}
	return o;
}

void sl_metrics_escape(FILE *out, const char *s)
{
	char buf[2 * SL_METRICS_LABEL_MAX];

	fwrite(buf, 1, escape_into(buf, s), out);
}

/* the rendered label set of @v (n values) into @key (KEY_MAX bytes) */
static size_t build_key(char *key, const char *const *names,
			const char *const *v, int n)
{
	size_t o = 0, len;

	for (int i = 0; i < n; i++) {
		if (i)
			key[o++] = ',';
		len = strlen(names[i]);
		memcpy(key + o, names[i], len);
		o += len;
		key[o++] = '=';
		key[o++] = '"';
		o += escape_into(key + o, v[i]);
		key[o++] = '"';
	}
	return o;
}

static struct series *series_new(const struct table *t, const char *key,
				 size_t len, uint64_t h)
{
	size_t vals = t->n_vals * sizeof(uint64_t);
	struct series *s = calloc(1, sizeof(*s) + vals + len + 1);
	char *k;

	if (!s)
		return NULL;
	k = (char *)s->val + vals;
	memcpy(k, key, len);
	k[len] = '\0';
	s->key = k;
	s->key_len = len;
	s->hash = h;
	return s;
}

/*
 * The series of @key in @t, added when new; with the lock held.  When the
 * table is full (room is kept for the overflow series) or out of memory,
 * the overflow series of @slot, made from @other_v on first use.  No
 * regular label set renders like an overflow one: their
 * connection_security_policy is "other".  NULL only on ENOMEM.
 */
static struct series *lookup(struct sl_metrics *m, struct table *t,
			     const char *key, size_t len, uint64_t h,
			     size_t slot, const char *const *names,
			     const char *const *other_v, int n_labels)
{
	size_t mask = t->index_size - 1, i;
	struct series *s;

	for (i = h & mask; t->index[i]; i = (i + 1) & mask) {
		s = t->series[t->index[i] - 1];
		if (s->hash == h && s->key_len == len &&
		    memcmp(s->key, key, len) == 0)
			return s;
	}
	if (t->n - t->others_made + t->n_others < t->max) {
		s = series_new(t, key, len, h);
		if (s) {
			t->series[t->n++] = s;
			t->index[i] = (uint32_t)t->n;
			return s;
		}
	}
	m->overflows++;
	if (!t->other[slot]) {
		char okey[KEY_MAX];
		size_t olen = build_key(okey, names, other_v, n_labels);

		s = series_new(t, okey, olen, 0);
		if (!s)
			return NULL;
		t->other[slot] = s;
		t->series[t->n++] = s;
		t->others_made++;
	}
	return t->other[slot];
}

static const char *or_unknown(const char *s)
{
	return s && *s ? s : "unknown";
}

static const char *or_default(const char *s, const char *def)
{
	return s && *s ? s : def;
}

void sl_metrics_tcp_add(struct sl_metrics *m, const struct sl_metrics_labels *l,
			uint64_t opened, uint64_t closed, uint64_t sent,
			uint64_t received)
{
	static const char *const other_v[TCP_LABELS] = {
		"source", "other", "other", "other", "other",
		"other",  "other", "other", "other", "-",
	};
	const char *v[TCP_LABELS];
	char key[KEY_MAX];
	struct series *s;
	size_t len;
	uint64_t h;

	if (!m || !l)
		return;
	v[0] = l->reporter_destination ? "destination" : "source";
	v[1] = or_unknown(l->source_workload);
	v[2] = or_unknown(l->source_workload_namespace);
	v[3] = or_unknown(l->source_principal);
	v[4] = or_unknown(l->destination_workload);
	v[5] = or_unknown(l->destination_workload_namespace);
	v[6] = or_unknown(l->destination_service);
	v[7] = or_unknown(l->destination_principal);
	v[8] = l->plaintext ? "none" : "mutual_tls";
	v[9] = or_default(l->response_flags, "-");
	len = build_key(key, tcp_names, v, TCP_LABELS);
	h = sl_fnv1a(SL_FNV1A_INIT, key, len);
	pthread_mutex_lock(&m->lock);
	s = lookup(m, &m->tcp, key, len, h, 0, tcp_names, other_v, TCP_LABELS);
	if (s) {
		s->val[T_OPENED] += opened;
		s->val[T_CLOSED] += closed;
		s->val[T_SENT] += sent;
		s->val[T_RECEIVED] += received;
	}
	pthread_mutex_unlock(&m->lock);
}

static void hist_add(uint64_t *hist, const uint64_t *le, uint64_t v)
{
	for (int b = 0; b < HB; b++) {
		if (v <= le[b]) {
			hist[b]++;
			break;
		}
	}
	hist[HB] += v; /* the sum; the count is the request counter */
}

void sl_metrics_http_observe(struct sl_metrics *m,
			     const struct sl_metrics_http_labels *l,
			     uint64_t duration_ns, uint64_t request_bytes,
			     uint64_t response_bytes)
{
	static const char *const class_name[HTTP_CLASSES] = {
		"0", "1xx", "2xx", "3xx", "4xx", "5xx", "6xx", "7xx", "8xx", "9xx",
	};
	const char *v[HTTP_LABELS], *other_v[HTTP_LABELS];
	char key[KEY_MAX], code[12];
	int rc, cls;
	struct series *s;
	size_t len;
	uint64_t h;

	if (!m || !l)
		return;
	rc = l->response_code >= 100 && l->response_code <= 999 ?
		     l->response_code : 0;
	cls = rc / 100;
	snprintf(code, sizeof(code), "%d", rc);
	v[H_REPORTER] = l->reporter_destination ? "destination" : "source";
	v[H_SRC_WL] = or_unknown(l->source_workload);
	v[H_SRC_NS] = or_unknown(l->source_workload_namespace);
	v[H_SRC_PRINCIPAL] = or_unknown(l->source_principal);
	v[H_SRC_APP] = or_unknown(l->source_app);
	v[H_SRC_VERSION] = or_unknown(l->source_version);
	v[H_SRC_CANON_SVC] = or_unknown(l->source_canonical_service);
	v[H_SRC_CANON_REV] = or_default(l->source_canonical_revision, "latest");
	v[H_SRC_CLUSTER] = or_unknown(l->source_cluster);
	v[H_DST_WL] = or_unknown(l->destination_workload);
	v[H_DST_NS] = or_unknown(l->destination_workload_namespace);
	v[H_DST_PRINCIPAL] = or_unknown(l->destination_principal);
	v[H_DST_APP] = or_unknown(l->destination_app);
	v[H_DST_VERSION] = or_unknown(l->destination_version);
	v[H_DST_SVC] = or_unknown(l->destination_service);
	v[H_DST_SVC_NAME] = or_unknown(l->destination_service_name);
	v[H_DST_SVC_NS] = or_unknown(l->destination_service_namespace);
	v[H_DST_CANON_SVC] = or_unknown(l->destination_canonical_service);
	v[H_DST_CANON_REV] = or_default(l->destination_canonical_revision,
					"latest");
	v[H_DST_CLUSTER] = or_unknown(l->destination_cluster);
	v[H_PROTOCOL] = "http";
	v[H_FLAGS] = or_default(l->response_flags, "-");
	v[H_SECURITY] = l->plaintext ? "none" : "mutual_tls";
	v[H_CODE] = code;
	v[H_GRPC] = "";
	len = build_key(key, http_names, v, HTTP_LABELS);
	h = sl_fnv1a(SL_FNV1A_INIT, key, len);
	for (int i = 0; i < HTTP_LABELS; i++)
		other_v[i] = "other";
	other_v[H_REPORTER] = v[H_REPORTER];
	other_v[H_PROTOCOL] = "http";
	other_v[H_CODE] = class_name[cls];
	other_v[H_GRPC] = "";
	pthread_mutex_lock(&m->lock);
	s = lookup(m, &m->http, key, len, h,
		   (l->reporter_destination ? HTTP_CLASSES : 0) + (size_t)cls,
		   http_names, other_v, HTTP_LABELS);
	if (s) {
		s->val[H_REQUESTS]++;
		hist_add(s->val + H_HIST0 + HIST_DURATION * HIST_VALS,
			 http_le_ns, duration_ns);
		hist_add(s->val + H_HIST0 + HIST_REQ_BYTES * HIST_VALS,
			 http_le_bytes, request_bytes);
		hist_add(s->val + H_HIST0 + HIST_RESP_BYTES * HIST_VALS,
			 http_le_bytes, response_bytes);
	}
	pthread_mutex_unlock(&m->lock);
}

void sl_metrics_handshake_observe(struct sl_metrics *m, uint64_t ns)
{
	if (!m)
		return;
	for (int i = 0; i < SL_METRICS_HS_BUCKETS; i++) {
		if (ns <= hs_le_ns[i]) {
			atomic_fetch_add_explicit(&m->hs_bucket[i], 1,
						  memory_order_relaxed);
			break;
		}
	}
	atomic_fetch_add_explicit(&m->hs_sum_ns, ns, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->hs_count, 1, memory_order_relaxed);
}

uint64_t sl_metrics_overflows(struct sl_metrics *m)
{
	uint64_t n;

	if (!m)
		return 0;
	pthread_mutex_lock(&m->lock);
	n = m->overflows;
	pthread_mutex_unlock(&m->lock);
	return n;
}

static size_t table_series(struct sl_metrics *m, const struct table *t)
{
	size_t n;

	pthread_mutex_lock(&m->lock);
	n = t->n;
	pthread_mutex_unlock(&m->lock);
	return n;
}

size_t sl_metrics_series(struct sl_metrics *m)
{
	return m ? table_series(m, &m->tcp) : 0;
}

size_t sl_metrics_http_series(struct sl_metrics *m)
{
	return m ? table_series(m, &m->http) : 0;
}

static const struct {
	const char *name, *help;
} tcp_families[TCP_VALS] = {
	[T_OPENED] = { "istio_tcp_connections_opened_total",
		       "TCP connections opened" },
	[T_CLOSED] = { "istio_tcp_connections_closed_total",
		       "TCP connections closed" },
	[T_SENT] = { "istio_tcp_sent_bytes_total",
		     "Bytes sent towards the destination (request direction)" },
	[T_RECEIVED] = { "istio_tcp_received_bytes_total",
			 "Bytes received from the destination (response direction)" },
};

static const struct {
	const char *name, *help;
	const uint64_t *le;
} http_hists[N_HIST] = {
	[HIST_DURATION] = { "istio_request_duration_milliseconds",
			    "Duration of HTTP requests, first request byte to last response byte",
			    http_le_ns },
	[HIST_REQ_BYTES] = { "istio_request_bytes",
			     "HTTP request sizes: request line, headers and body as read from the client",
			     http_le_bytes },
	[HIST_RESP_BYTES] = { "istio_response_bytes",
			      "HTTP response sizes: status line, headers and body as sent to the client",
			      http_le_bytes },
};

static void render_tcp(struct sl_metrics *m, FILE *out)
{
	const struct table *t = &m->tcp;

	for (int f = 0; f < TCP_VALS; f++) {
		/* the exposition's family name is without _total for counters
		 * in OpenMetrics; the 0.0.4 text format wants it verbatim */
		fprintf(out, "# HELP %s %s\n# TYPE %s counter\n",
			tcp_families[f].name, tcp_families[f].help,
			tcp_families[f].name);
		for (size_t i = 0; i < t->n; i++)
			fprintf(out, "%s{%s} %llu\n", tcp_families[f].name,
				t->series[i]->key,
				(unsigned long long)t->series[i]->val[f]);
	}
}

/* the HTTP families from a copy of the values: @keys[i] and @vals[i *
 * HTTP_VALS ...] for @n series */
static void render_http(FILE *out, const char *const *keys,
			const uint64_t *vals, size_t n)
{
	if (!n)
		return; /* no request yet: no family (as Istio's proxy) */
	fputs("# HELP istio_requests_total HTTP requests\n"
	      "# TYPE istio_requests_total counter\n", out);
	for (size_t i = 0; i < n; i++)
		fprintf(out, "istio_requests_total{%s} %llu\n", keys[i],
			(unsigned long long)vals[i * HTTP_VALS + H_REQUESTS]);
	for (int f = 0; f < N_HIST; f++) {
		const char *name = http_hists[f].name;

		fprintf(out, "# HELP %s %s\n# TYPE %s histogram\n", name,
			http_hists[f].help, name);
		for (size_t i = 0; i < n; i++) {
			const uint64_t *v = vals + i * HTTP_VALS;
			const uint64_t *hist = v + H_HIST0 + f * HIST_VALS;
			uint64_t cum = 0, sum = hist[HB];

			for (int b = 0; b < HB; b++) {
				cum += hist[b];
				fprintf(out, "%s_bucket{%s,le=\"%s\"} %llu\n",
					name, keys[i], http_le[b],
					(unsigned long long)cum);
			}
			fprintf(out, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name,
				keys[i], (unsigned long long)v[H_REQUESTS]);
			if (f == HIST_DURATION)
				fprintf(out, "%s_sum{%s} %llu.%06llu\n", name,
					keys[i], (unsigned long long)(sum / MS),
					(unsigned long long)(sum % MS));
			else
				fprintf(out, "%s_sum{%s} %llu\n", name, keys[i],
					(unsigned long long)sum);
			fprintf(out, "%s_count{%s} %llu\n", name, keys[i],
				(unsigned long long)v[H_REQUESTS]);
		}
	}
}

static void render_handshakes(struct sl_metrics *m, FILE *out)
{
	uint64_t cum = 0, count, sum;

	fputs("# HELP sluice_handshake_duration_seconds mTLS handshake duration\n"
	      "# TYPE sluice_handshake_duration_seconds histogram\n",
	      out);
	for (int i = 0; i < SL_METRICS_HS_BUCKETS; i++) {
		cum += atomic_load_explicit(&m->hs_bucket[i], memory_order_relaxed);
		fprintf(out, "sluice_handshake_duration_seconds_bucket{le=\"%s\"} %llu\n",
			hs_le[i], (unsigned long long)cum);
	}
	count = atomic_load_explicit(&m->hs_count, memory_order_relaxed);
	sum = atomic_load_explicit(&m->hs_sum_ns, memory_order_relaxed);
	/* +Inf must equal _count; a racing observe may have bumped a bucket
	 * but not yet the count: never go below cum */
	if (count < cum)
		count = cum;
	fprintf(out, "sluice_handshake_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
		(unsigned long long)count);
	fprintf(out, "sluice_handshake_duration_seconds_sum %llu.%09llu\n",
		(unsigned long long)(sum / 1000000000ull),
		(unsigned long long)(sum % 1000000000ull));
	fprintf(out, "sluice_handshake_duration_seconds_count %llu\n",
		(unsigned long long)count);
}

int sl_metrics_render(struct sl_metrics *m, FILE *out)
{
	const char **keys = NULL;
	uint64_t *vals = NULL, overflows;
	size_t n;

	if (!m)
		return 0;
	pthread_mutex_lock(&m->lock);
	render_tcp(m, out);
	/* the HTTP series are many lines each: copy their numbers (a series
	 * and its key never move or go before sl_metrics_free) and write
	 * them without holding up the requests being counted */
	n = m->http.n;
	if (n) {
		keys = calloc(n, sizeof(*keys));
		vals = calloc(n, HTTP_VALS * sizeof(*vals));
		if (!keys || !vals) {
			pthread_mutex_unlock(&m->lock);
			free(keys);
			free(vals);
			return -ENOMEM;
		}
		for (size_t i = 0; i < n; i++) {
			keys[i] = m->http.series[i]->key;
			memcpy(vals + i * HTTP_VALS, m->http.series[i]->val,
			       HTTP_VALS * sizeof(*vals));
		}
	}
	overflows = m->overflows;
	pthread_mutex_unlock(&m->lock);

	render_http(out, keys, vals, n);
	free(keys);
	free(vals);
	fputs("# HELP sluice_metrics_series_overflow_total Label sets folded into the \"other\" series (table full)\n"
	      "# TYPE sluice_metrics_series_overflow_total counter\n",
	      out);
	fprintf(out, "sluice_metrics_series_overflow_total %llu\n",
		(unsigned long long)overflows);
	render_handshakes(m, out);
	return ferror(out) ? -EIO : 0;
}

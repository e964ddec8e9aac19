/* SPDX-License-Identifier: Apache-2.0 */
/* Labelled Istio TCP series and the handshake histogram (see metrics.h). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "util.h"

#define N_LABELS 10 /* reporter, security policy + the eight strings of
			* struct sl_metrics_labels */

static const char *const label_names[N_LABELS] = {
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

struct series {
	char *v[N_LABELS];
	uint64_t hash;
	uint64_t opened, closed, sent, received;
};

struct sl_metrics {
	pthread_mutex_t lock;
	struct series **series; /* insertion order */
	size_t n, max;
	uint32_t *index; /* open addressing: series index + 1, 0 empty */
	size_t index_size; /* power of two, >= 2 * max */
	struct series *other; /* the overflow series, once used */
	uint64_t overflows;

	atomic_uint_fast64_t hs_bucket[SL_METRICS_HS_BUCKETS];
	atomic_uint_fast64_t hs_count, hs_sum_ns;
};

int sl_metrics_new(size_t max_series, struct sl_metrics **out)
{
	struct sl_metrics *m;

	if (!max_series)
		max_series = SL_METRICS_DEFAULT_SERIES;
	if (max_series < 2 || max_series > (1u << 20))
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->max = max_series;
	m->index_size = 4;
	while (m->index_size < 2 * max_series)
		m->index_size <<= 1;
	m->series = calloc(max_series, sizeof(*m->series));
	m->index = calloc(m->index_size, sizeof(*m->index));
	if (!m->series || !m->index) {
		free(m->index);
		free(m->series);
		free(m);
		return -ENOMEM;
	}
	pthread_mutex_init(&m->lock, NULL);
	*out = m;
	return 0;
}

static void series_free(struct series *s)
{
	if (!s)
		return;
	for (int i = 0; i < N_LABELS; i++)
		free(s->v[i]);
	free(s);
}

void sl_metrics_free(struct sl_metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		series_free(m->series[i]);
	free(m->series);
	free(m->index);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* the label values of @l, defaults filled in, truncated */
static void label_values(const struct sl_metrics_labels *l,
			 const char *v[N_LABELS])
{
	v[0] = l->reporter_destination ? "destination" : "source";
	v[1] = l->source_workload;
	v[2] = l->source_workload_namespace;
	v[3] = l->source_principal;
	v[4] = l->destination_workload;
	v[5] = l->destination_workload_namespace;
	v[6] = l->destination_service;
	v[7] = l->destination_principal;
	v[8] = l->plaintext ? "none" : "mutual_tls";
	v[9] = l->response_flags && *l->response_flags ? l->response_flags : "-";
	for (int i = 1; i < N_LABELS - 1; i++)
		if (!v[i] || !*v[i])
			v[i] = "unknown";
}

static uint64_t label_hash(uint64_t h, const char *s)
{
	static const unsigned char sep = 0xff; /* ("ab","c") != ("a","bc") */

	h = sl_fnv1a(h, s, strnlen(s, SL_METRICS_LABEL_MAX));
	return sl_fnv1a(h, &sep, 1);
}

static bool series_match(const struct series *s, const char *const v[N_LABELS])
{
	for (int i = 0; i < N_LABELS; i++)
		if (strncmp(s->v[i], v[i], SL_METRICS_LABEL_MAX) != 0 ||
		    strlen(s->v[i]) != strnlen(v[i], SL_METRICS_LABEL_MAX))
			return false;
	return true;
}

static struct series *series_new(const char *const v[N_LABELS], uint64_t h)
{
	struct series *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->hash = h;
	for (int i = 0; i < N_LABELS; i++) {
		s->v[i] = strndup(v[i], SL_METRICS_LABEL_MAX);
		if (!s->v[i]) {
			series_free(s);
			return NULL;
		}
	}
	return s;
}

/* the overflow series, one for both reporters (the last slot is reserved
 * for it); NULL on ENOMEM */
static struct series *other_series(struct sl_metrics *m)
{
	static const char *const v_src[N_LABELS] = {
		"source", "other", "other", "other", "other",
		"other",  "other", "other", "other", "-",
	};

	m->overflows++;
	if (!m->other) {
		m->other = series_new(v_src, 0);
		if (!m->other)
			return NULL;
		m->series[m->n++] = m->other;
	}
	return m->other;
}

/* called with the lock held */
static struct series *lookup(struct sl_metrics *m, const char *const v[N_LABELS])
{
	uint64_t h = SL_FNV1A_INIT;
	size_t mask = m->index_size - 1, i;
	struct series *s;

	for (int k = 0; k < N_LABELS; k++)
		h = label_hash(h, v[k]);
	for (i = h & mask; m->index[i]; i = (i + 1) & mask) {
		s = m->series[m->index[i] - 1];
		if (s->hash == h && series_match(s, v))
			return s;
	}
	/* keep one slot for the overflow series */
	if (m->n + (m->other ? 0 : 1) >= m->max)
		return other_series(m);
	s = series_new(v, h);
	if (!s)
		return other_series(m);
	m->series[m->n++] = s;
	m->index[i] = (uint32_t)m->n;
	return s;
}

void sl_metrics_tcp_add(struct sl_metrics *m, const struct sl_metrics_labels *l,
			uint64_t opened, uint64_t closed, uint64_t sent,
			uint64_t received)
{
	const char *v[N_LABELS];
	struct series *s;

	if (!m || !l)
		return;
	label_values(l, v);
	pthread_mutex_lock(&m->lock);
	s = lookup(m, v);
	if (s) {
		s->opened += opened;
		s->closed += closed;
		s->sent += sent;
		s->received += received;
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

size_t sl_metrics_series(struct sl_metrics *m)
{
	size_t n;

	if (!m)
		return 0;
	pthread_mutex_lock(&m->lock);
	n = m->n;
	pthread_mutex_unlock(&m->lock);
	return n;
}

void sl_metrics_escape(FILE *out, const char *s)
{
	size_t n = strnlen(s, SL_METRICS_LABEL_MAX);

	for (size_t i = 0; i < n; i++) {
		switch (s[i]) {
		case '\\':
			fputs("\\\\", out);
			break;
		case '"':
			fputs("\\\"", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		default:
			fputc(s[i], out);
		}
	}
}

static void put_labels(FILE *out, const struct series *s)
{
	fputc('{', out);
	for (int i = 0; i < N_LABELS; i++) {
		fprintf(out, "%s=\"", label_names[i]);
		sl_metrics_escape(out, s->v[i]);
		fputs(i == N_LABELS - 1 ? "\"" : "\",", out);
	}
	fputc('}', out);
}

enum { F_OPENED, F_CLOSED, F_SENT, F_RECEIVED };

static const struct {
	const char *name, *help;
} tcp_families[] = {
	[F_OPENED] = { "istio_tcp_connections_opened_total",
		       "TCP connections opened" },
	[F_CLOSED] = { "istio_tcp_connections_closed_total",
		       "TCP connections closed" },
	[F_SENT] = { "istio_tcp_sent_bytes_total",
		     "Bytes sent towards the destination (request direction)" },
	[F_RECEIVED] = { "istio_tcp_received_bytes_total",
			 "Bytes received from the destination (response direction)" },
};

static uint64_t series_value(const struct series *s, int f)
{
	switch (f) {
	case F_OPENED:
		return s->opened;
	case F_CLOSED:
		return s->closed;
	case F_SENT:
		return s->sent;
	default:
		return s->received;
	}
}

int sl_metrics_render(struct sl_metrics *m, FILE *out)
{
	uint64_t cum = 0;

	if (!m)
		return 0;
	pthread_mutex_lock(&m->lock);
	for (int f = F_OPENED; f <= F_RECEIVED; f++) {
		/* the exposition's family name is without _total for counters
		 * in OpenMetrics; the 0.0.4 text format wants it verbatim */
		fprintf(out, "# HELP %s %s\n# TYPE %s counter\n",
			tcp_families[f].name, tcp_families[f].help,
			tcp_families[f].name);
		for (size_t i = 0; i < m->n; i++) {
			fputs(tcp_families[f].name, out);
			put_labels(out, m->series[i]);
			fprintf(out, " %llu\n",
				(unsigned long long)series_value(m->series[i], f));
		}
	}
	fputs("# HELP sluice_metrics_series_overflow_total Label sets folded into the \"other\" series (table full)\n"
	      "# TYPE sluice_metrics_series_overflow_total counter\n",
	      out);
	fprintf(out, "sluice_metrics_series_overflow_total %llu\n",
		(unsigned long long)m->overflows);
	pthread_mutex_unlock(&m->lock);

	fputs("# HELP sluice_handshake_duration_seconds mTLS handshake duration\n"
	      "# TYPE sluice_handshake_duration_seconds histogram\n",
	      out);
	for (int i = 0; i < SL_METRICS_HS_BUCKETS; i++) {
		cum += atomic_load_explicit(&m->hs_bucket[i], memory_order_relaxed);
		fprintf(out, "sluice_handshake_duration_seconds_bucket{le=\"%s\"} %llu\n",
			hs_le[i], (unsigned long long)cum);
	}
	{
		uint64_t count = atomic_load_explicit(&m->hs_count,
						      memory_order_relaxed);
		uint64_t sum = atomic_load_explicit(&m->hs_sum_ns,
						    memory_order_relaxed);

		/* +Inf must equal _count; a racing observe may have bumped
		 * a bucket but not yet the count: never go below cum */
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
	return ferror(out) ? -EIO : 0;
}

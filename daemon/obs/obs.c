/* SPDX-License-Identifier: Apache-2.0 */
/* Live flows, per-flow metrics and access log, exposition (see obs.h). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "accesslog.h"
#include "certstore.h"
#include "daemon.h"
#include "httpd.h"
#include "identity.h"
#include "ktls.h"
#include "log.h"
#include "metrics.h"
#include "obs.h"
#include "objcache.h"
#include "outlier.h"
#include "relay.h"
#include "stats.h"
#include "util.h"
#include "sock.h"

/* /healthz: a worker whose heartbeat is older than this is stalled (the
 * default of sl_obs_opts.stall_ns) */
#define SL_OBS_STALL_NS (10 * SL_HEARTBEAT_NS)

#define ADDR_LEN SL_OBS_ADDR_LEN
#define NAME_LEN SL_OBS_NAME_LEN
#define ID_LEN SL_OBS_ID_LEN

struct obs_flow {
	struct obs_flow *prev, *next;
	struct sl_obs_conn c; /* c.age_ns holds the start (monotonic) */
	_Atomic uint64_t live[2]; /* relay's live byte counts (relay.h) */
	uint64_t start_real;
	sl_relay_done_fn done;
	void *done_arg;
};

static struct {
	struct sl_daemon *d;
	struct sl_metrics *metrics;
	struct sl_accesslog *alog;
	struct sl_httpd *httpd;
	struct sl_httpd_stats httpd_stats; /* written by its thread */
	uint64_t start_real;
	uint64_t stall_ns; /* /healthz: heartbeat age of a stalled worker */
	bool ktls_available; /* probed once at start */

	pthread_mutex_t lock; /* flows, reload_error */
	struct obs_flow head; /* circular list */
	size_t n_flows;
	char reload_error[256];

	atomic_uint_fast64_t reload_failures, steer_restores;
	pthread_mutex_t cfg_lock; /* cfg_fn, cfg_arg */
	sl_obs_config_fn cfg_fn;
	void *cfg_arg;
	const struct sl_health *_Atomic health;
} obs = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cfg_lock = PTHREAD_MUTEX_INITIALIZER,
	.head = { .prev = &obs.head, .next = &obs.head },
};

/* ---- flows ------------------------------------------------------------ */

static const char *or_null(const char *s)
{
	return s && *s ? s : NULL;
}

static const char *response_flags(const struct sl_relay_result *r)
{
	/* Envoy's TCP flags where one fits: UC upstream connection
	 * termination, DC downstream, SI stream idle timeout (also the
	 * half-close timeout: idle once half-closed; the access log's end
	 * tells them apart), DT duration timeout (max_connection_duration) */
	switch (r->end) {
	case SL_RELAY_END_DONE:
		return "-";
	case SL_RELAY_END_RESET_PLAIN:
		return "DC";
	case SL_RELAY_END_RESET_TLS:
	case SL_RELAY_END_UNEXPECTED_RECORD:
		return "UC";
	case SL_RELAY_END_IDLE:
	case SL_RELAY_END_HALF_CLOSE:
		return "SI";
	case SL_RELAY_END_MAX_DURATION:
		return "DT";
	default:
		return "UF";
	}
}

static struct sl_metrics_labels flow_labels(const struct sl_obs_conn *of,
					     const char *flags)
{
	struct sl_metrics_labels l = {
		.reporter_destination = !of->outbound,
		.plaintext = of->plaintext,
		.source_workload = of->src_wl,
		.source_workload_namespace = of->src_ns,
		.source_principal = of->src_id,
		.destination_workload = of->dst_wl,
		.destination_workload_namespace = of->dst_ns,
		.destination_service = of->service,
		.destination_principal = of->dst_id,
		.response_flags = flags,
	};

	return l;
}

/* istio_tcp_connections_opened_total counts a flow when it opens (its
 * response_flags are not known yet: "-", as Envoy reports an open one) */
static void flow_opened(const struct obs_flow *o)
{
	struct sl_metrics_labels l = flow_labels(&o->c, "-");

	sl_metrics_tcp_add(obs.metrics, &l, 1, 0, 0, 0);
}

static void flow_record(struct obs_flow *o, const struct sl_relay_result *r)
{
	const struct sl_obs_conn *of = &o->c;
	uint64_t sent, received;
	struct sl_metrics_labels l = flow_labels(of, response_flags(r));
	struct sl_accesslog_entry e = {
		.start_realtime_ns = o->start_real,
		.duration_ns = sl_now_ns() - of->age_ns,
		.outbound = of->outbound,
		.flow_id = of->id,
		.src_addr = or_null(of->src_addr),
		.src_workload = or_null(of->src_wl),
		.src_namespace = or_null(of->src_ns),
		.src_principal = or_null(of->src_id),
		.dst_addr = or_null(of->dst_addr),
		.dst_workload = or_null(of->dst_wl),
		.dst_namespace = or_null(of->dst_ns),
		.dst_principal = or_null(of->dst_id),
		.dst_service = or_null(of->service),
		.endpoint = or_null(of->endpoint),
		.ktls = r->ktls,
		.plaintext = of->plaintext,
		.end = sl_relay_end_name(r->end),
		.response_flags = l.response_flags,
	};

	/* "sent" is towards the destination: from the pod on the outbound
	 * side, from the mesh (to the pod) on the inbound side */
	sent = of->outbound ? r->bytes_plain_to_tls : r->bytes_tls_to_plain;
	received = of->outbound ? r->bytes_tls_to_plain : r->bytes_plain_to_tls;
	e.bytes_sent = sent;
	e.bytes_received = received;
	sl_metrics_tcp_add(obs.metrics, &l, 0, 1, sent, received);
	sl_accesslog_write(obs.alog, &e);
}

/* live-flow records, per worker thread (objcache.h) */
static struct sl_objcache of_cache =
	SL_OBJCACHE_INIT(sizeof(struct obs_flow), 32);

static void flow_done(void *arg, const struct sl_relay_result *r)
{
	struct obs_flow *of = arg;

	pthread_mutex_lock(&obs.lock);
	of->prev->next = of->next;
	of->next->prev = of->prev;
	obs.n_flows--;
	pthread_mutex_unlock(&obs.lock);
	flow_record(of, r);
	of->done(of->done_arg, r);
	sl_objcache_free(&of_cache, of);
}

void sl_obs_flow_wrap(const struct sl_obs_conn *c, struct sl_relay_params *p)
{
	struct obs_flow *of = sl_objcache_alloc(&of_cache, sizeof(*of));

	if (!of)
		return;
	of->c.age_ns = sl_now_ns();
	of->start_real = sl_realtime_ns();
	of->c = *c;
	of->c.age_ns = sl_now_ns();
	of->done = p->done;
	of->done_arg = p->done_arg;
	p->done = flow_done;
	p->done_arg = of;
	p->live_bytes = of->live;
	flow_opened(of);
	pthread_mutex_lock(&obs.lock);
	of->next = &obs.head;
	of->prev = obs.head.prev;
	obs.head.prev->next = of;
	obs.head.prev = of;
	obs.n_flows++;
	pthread_mutex_unlock(&obs.lock);
}

void sl_obs_flow_unwrap(struct sl_relay_params *p)
{
	struct obs_flow *of;

	if (p->done != flow_done)
		return;
	of = p->done_arg;
	pthread_mutex_lock(&obs.lock);
	of->prev->next = of->next;
	of->next->prev = of->prev;
	obs.n_flows--;
	pthread_mutex_unlock(&obs.lock);
	p->done = of->done;
	p->done_arg = of->done_arg;
	p->live_bytes = NULL;
	{
		/* counted as opened: the relay never started, close it with
		 * an upstream-failure flag and no bytes */
		struct sl_metrics_labels l = flow_labels(&of->c, "UF");

		sl_metrics_tcp_add(obs.metrics, &l, 0, 1, 0, 0);
	}
	sl_objcache_free(&of_cache, of);
}

int sl_obs_conns(struct sl_obs_conn **out, size_t *n)
{
	struct sl_obs_conn *v = NULL;
	uint64_t now = sl_now_ns();
	struct obs_flow *of;
	size_t i = 0;

	pthread_mutex_lock(&obs.lock);
	if (obs.n_flows) {
		v = calloc(obs.n_flows, sizeof(*v));
		if (!v) {
			pthread_mutex_unlock(&obs.lock);
			return -ENOMEM;
		}
	}
	for (of = obs.head.next; of != &obs.head; of = of->next) {
		uint64_t up = atomic_load_explicit(&of->live[0],
						   memory_order_relaxed);
		uint64_t down = atomic_load_explicit(&of->live[1],
						     memory_order_relaxed);

		v[i] = of->c;
		v[i].bytes_sent = of->c.outbound ? up : down;
		v[i].bytes_received = of->c.outbound ? down : up;
		i++;
	}
	pthread_mutex_unlock(&obs.lock);
	for (size_t k = 0; k < i; k++)
		v[k].age_ns = now - v[k].age_ns; /* held the start time */
	*out = v;
	*n = i;
	return 0;
}

/* ---- hooks ------------------------------------------------------------ */

void sl_obs_set_config_source(sl_obs_config_fn fn, void *arg)
{
	pthread_mutex_lock(&obs.cfg_lock);
	obs.cfg_fn = fn;
	obs.cfg_arg = arg;
	pthread_mutex_unlock(&obs.cfg_lock);
}

/* the configuration holder's state, through main's callback */
static bool config_state(struct sl_obs_config_state *st)
{
	bool have;

	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&obs.cfg_lock);
	have = obs.cfg_fn != NULL;
	if (have)
		obs.cfg_fn(obs.cfg_arg, st);
	pthread_mutex_unlock(&obs.cfg_lock);
	return have;
}

void sl_obs_reload_result(const char *error)
{
	if (!error)
		return; /* the last error stays visible until the next one */
	pthread_mutex_lock(&obs.lock);
	sl_strlcpy(obs.reload_error, error, sizeof(obs.reload_error));
	pthread_mutex_unlock(&obs.lock);
	atomic_fetch_add(&obs.reload_failures, 1);
}

uint64_t sl_obs_reload_failures(void)
{
	struct sl_obs_config_state st;

	config_state(&st);
	return atomic_load(&obs.reload_failures) + st.failures;
}

uint64_t sl_obs_config_warnings(void)
{
	struct sl_obs_config_state st;

	config_state(&st);
	return st.warnings;
}

uint64_t sl_obs_reload_refused(void)
{
	struct sl_obs_config_state st;

	config_state(&st);
	return st.refused;
}

void sl_obs_last_reload_error(char *buf, size_t len)
{
	struct sl_obs_config_state st;

	if (config_state(&st) && st.last_error[0]) {
		sl_strlcpy(buf, st.last_error, len);
		return;
	}
	pthread_mutex_lock(&obs.lock);
	sl_strlcpy(buf, obs.reload_error, len);
	pthread_mutex_unlock(&obs.lock);
}

void sl_obs_handshake_done(uint64_t ns)
{
	sl_metrics_handshake_observe(obs.metrics, ns);
}

void sl_obs_steer_restored(void)
{
	atomic_fetch_add(&obs.steer_restores, 1);
}

uint64_t sl_obs_steer_restores(void)
{
	return atomic_load(&obs.steer_restores);
}

void sl_obs_set_health(const struct sl_health *h)
{
	atomic_store(&obs.health, h);
}

void sl_obs_health_stats(uint64_t *ejections, uint64_t *retries)
{
	const struct sl_health *h = atomic_load(&obs.health);
	struct sl_health_stats st = { 0 };

	if (h)
		sl_health_get_stats(h, &st);
	*ejections = st.ejections;
	*retries = st.retries;
}

bool sl_obs_ktls_available(void)
{
	return obs.ktls_available;
}

void sl_obs_flows_by_mode(uint64_t *ktls, uint64_t *userspace,
			  uint64_t *plain)
{
	struct obs_flow *of;

	*ktls = *userspace = *plain = 0;
	pthread_mutex_lock(&obs.lock);
	for (of = obs.head.next; of != &obs.head; of = of->next) {
		if (of->c.plaintext)
			(*plain)++;
		else if (of->c.ktls)
			(*ktls)++;
		else
			(*userspace)++;
	}
	pthread_mutex_unlock(&obs.lock);
}

uint64_t sl_obs_start_time(void)
{
	return obs.start_real / 1000000000ull;
}

uint64_t sl_obs_access_log_dropped(void)
{
	return sl_accesslog_dropped(obs.alog);
}

struct sl_metrics *sl_obs_metrics(void)
{
	return obs.metrics;
}

struct sl_accesslog *sl_obs_access_log(void)
{
	return obs.alog;
}


/* ---- health, readiness, HTTP ----------------------------------------- */

bool sl_obs_ready(struct sl_daemon *d, char *why, size_t len)
{
	const struct sl_workload *wl;
	struct sl_config *cfg;
	bool ready = true;
	size_t n = 0;

	if (!d || !__atomic_load_n(&d->workers, __ATOMIC_ACQUIRE)) {
		snprintf(why, len, "workers not running");
		return false;
	}
	cfg = sl_daemon_config(d);
	if (!cfg) {
		snprintf(why, len, "no configuration loaded");
		return false;
	}
	/* every local workload has its identity (CA mode mints it here, once;
	 * the store caches it for the flows to come) */
	wl = sl_config_workloads(cfg, &n);
	for (size_t i = 0; i < n && ready; i++) {
		struct sl_identity *id = NULL;
		int ret;

		if (!wl[i].spiffe_id || !wl[i].node || !d->o.node ||
		    strcmp(wl[i].node, d->o.node) != 0)
			continue;
		ret = sl_daemon_identity(d, wl[i].spiffe_id, &id);
		if (ret) {
			snprintf(why, len, "no certificate for %s: %s",
				 wl[i].spiffe_id, strerror(-ret));
			ready = false;
		}
		sl_identity_put(id);
	}
	sl_config_put(cfg);
	if (ready && d->k8s &&
	    !__atomic_load_n(&d->k8s_loaded, __ATOMIC_ACQUIRE)) {
		snprintf(why, len,
			 "the Kubernetes API has not synced yet and no view of it was saved");
		ready = false;
	}
	if (ready && d->o.steer && !__atomic_load_n(&d->steer, __ATOMIC_ACQUIRE)) {
		snprintf(why, len, "steering table not applied");
		ready = false;
	}
	return ready;
}

static bool obs_live(struct sl_daemon *d)
{
	struct sl_worker **ws;

	/* stopping: the workers are draining, then freed; not read */
	if (!d || __atomic_load_n(&d->stopping, __ATOMIC_ACQUIRE))
		return false;
	ws = __atomic_load_n(&d->workers, __ATOMIC_ACQUIRE);
	return ws && d->n_workers && !sl_worker_stopping(ws[0]);
}

static int text_body(const char *s, char **body, size_t *len)
{
	*body = strdup(s);
	if (!*body)
		return -ENOMEM;
	*len = strlen(s);
	return 0;
}

static uint64_t ld(const atomic_uint_fast64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

/* the telemetry server's own counters (httpd.h) */
static void render_httpd(FILE *out)
{
	const struct sl_httpd_stats *st = &obs.httpd_stats;
	const struct {
		const char *name, *type, *help;
		uint64_t v;
	} m[] = {
		{ "sluice_telemetry_connections_total", "counter",
		  "Connections accepted by the telemetry server",
		  ld(&st->accepted) },
		{ "sluice_telemetry_timeouts_total", "counter",
		  "Telemetry connections cut at a deadline (request head or whole connection)",
		  ld(&st->timeouts) },
		{ "sluice_telemetry_shed_total", "counter",
		  "Telemetry connections reset to make room for a new one at the cap",
		  ld(&st->shed) },
		{ "sluice_telemetry_accept_errors_total", "counter",
		  "Telemetry accepts that failed (out of fds or memory)",
		  ld(&st->accept_errors) },
		{ "sluice_telemetry_open_connections", "gauge",
		  "Telemetry connections open now", ld(&st->open) },
	};

	for (size_t i = 0; i < SL_ARRAY_SIZE(m); i++)
		fprintf(out, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", m[i].name,
			m[i].help, m[i].name, m[i].type, m[i].name,
			(unsigned long long)m[i].v);
}

static int http_handler(void *arg, const char *path, int *status,
			const char **ctype, char **body, size_t *body_len)
{
	struct sl_daemon *d = arg;

	if (strcmp(path, "/metrics") == 0 || strcmp(path, "/stats/prometheus") == 0) {
		FILE *out = open_memstream(body, body_len);
		int ret;

		if (!out)
			return -ENOMEM;
		ret = sl_obs_render(d, out);
		render_httpd(out);
		if (fclose(out) || ret)
			return ret ? ret : -ENOMEM;
		*status = 200;
		*ctype = "text/plain; version=0.0.4; charset=utf-8";
		return 0;
	}
	if (strcmp(path, "/healthz") == 0) {
		char buf[96];
		uint64_t age = 0;
		int stalled;

		if (!obs_live(d)) {
			bool up = d && (__atomic_load_n(&d->stopping,
							__ATOMIC_ACQUIRE) ||
					__atomic_load_n(&d->workers,
							__ATOMIC_ACQUIRE));

			*status = 503;
			return text_body(up ? "stopping\n" : "starting\n",
					 body, body_len);
		}
		stalled = sl_workers_stalled(__atomic_load_n(&d->workers,
							     __ATOMIC_ACQUIRE),
					     d->n_workers,
					     sl_now_ns(), obs.stall_ns, &age);
		if (stalled >= 0) {
			*status = 503;
			snprintf(buf, sizeof(buf),
				 "worker %d stalled: no heartbeat for %" PRIu64 " ms\n",
				 stalled, age / 1000000);
			return text_body(buf, body, body_len);
		}
		*status = 200;
		return text_body("ok\n", body, body_len);
	}
	if (strcmp(path, "/ready") == 0 || strcmp(path, "/healthz/ready") == 0) {
		char why[300], buf[320];

		if (sl_obs_ready(d, why, sizeof(why))) {
			*status = 200;
			return text_body("ready\n", body, body_len);
		}
		*status = 503;
		snprintf(buf, sizeof(buf), "not ready: %s\n", why);
		return text_body(buf, body, body_len);
	}
	*status = 404;
	return text_body("not found\n", body, body_len);
}

int sl_obs_start(struct sl_daemon *d, const struct sl_obs_opts *o)
{
	int ret;

	obs.d = d;
	obs.start_real = sl_realtime_ns();
	obs.stall_ns = o->stall_ns ? o->stall_ns : SL_OBS_STALL_NS;
	obs.ktls_available = sl_ktls_probe() == 0;
	ret = sl_metrics_new(0, 0, &obs.metrics);
	if (ret)
		return ret;
	if (o->access_log) {
		struct sl_accesslog_opts ao = {
			.fd = STDOUT_FILENO,
			.rate = o->log_rate,
			.burst = o->log_burst,
		};

		ret = sl_accesslog_new(&ao, &obs.alog);
		if (ret)
			goto err;
	}
	if (o->http_port >= 0) {
		ret = sl_httpd_start(o->http_addr ? o->http_addr : "127.0.0.1",
				     (uint16_t)o->http_port, http_handler, d,
				     &obs.httpd_stats, &obs.httpd);
		if (ret)
			goto err;
		sl_log_info("%s: telemetry on %s port %u", __func__,
			    o->http_addr ? o->http_addr : "127.0.0.1",
			    sl_httpd_port(obs.httpd));
	}
	return 0;
err:
	sl_obs_stop();
	return ret;
}

uint16_t sl_obs_http_port(void)
{
	return obs.httpd ? sl_httpd_port(obs.httpd) : 0;
}

void sl_obs_stop(void)
{
	sl_httpd_stop(obs.httpd);
	obs.httpd = NULL;
	/* flows still registered were cut by the shutdown: their relays
	 * have ended by now (workers joined) */
	sl_accesslog_free(obs.alog);
	obs.alog = NULL;
	sl_metrics_free(obs.metrics);
	obs.metrics = NULL;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Admin socket commands: a dispatch table (see admin_cmds.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin_cmds.h"
#include "admission.h"
#include "certstore.h"
#include "daemon.h"
#include "gcm.h"
#include "json.h"
#include "k8s.h"
#include "log.h"
#include "obs.h"
#include "offload.h"
#include "relay.h"
#include "reload.h"
#include "upgrade.h"
#include "sl_build_config.h"
#include "stats.h"
#include "tm_status.h"
#include "steer.h"
#include "table.h"
#include "util.h"
#include "steering.h"

#define MAX_COLS 12

enum fmt { FMT_JSON, FMT_TABLE, FMT_DUMP };

struct req {
	struct sl_daemon *d;
	const char *arg; /* NULL when absent */
	enum fmt fmt;
	FILE *out;
};

/*
 * Rows of strings rendered either as a table (aligned or dump) or as a JSON
 * array of objects under @key; columns flagged numeric become JSON numbers.
 */
struct rows {
	const char *key;
	size_t ncols;
	const char *const *headers; /* table headers */
	const char *const *names;   /* JSON member names */
	unsigned int numeric;	    /* bit per column */
	char **cells;		    /* n * ncols, owned */
	size_t n, cap;
};

static int rows_add(struct rows *r, const char *const *cells)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 16;
		char **c = realloc(r->cells, cap * r->ncols * sizeof(*c));

		if (!c)
			return -ENOMEM;
		r->cells = c;
		r->cap = cap;
	}
	for (size_t i = 0; i < r->ncols; i++) {
		char *s = cells[i] ? strdup(cells[i]) : NULL;

		if (cells[i] && !s) {
			for (size_t k = 0; k < i; k++)
				free(r->cells[r->n * r->ncols + k]);
			return -ENOMEM;
		}
		r->cells[r->n * r->ncols + i] = s;
	}
	r->n++;
	return 0;
}

static void rows_free(struct rows *r)
{
	for (size_t i = 0; i < r->n * r->ncols; i++)
		free(r->cells[i]);
	free(r->cells);
}

static void text_answer(FILE *out, const char *text)
{
	struct sl_json j;

	sl_json_init(&j, out, false);
	sl_json_obj_begin(&j);
	sl_json_kv_str(&j, "text", text);
	sl_json_obj_end(&j);
}

static int error_answer(FILE *out, int err, const char *msg)
{
	struct sl_json j;

	sl_json_init(&j, out, false);
	sl_json_obj_begin(&j);
	sl_json_kv_str(&j, "error", msg ? msg : strerror(-err));
	sl_json_obj_end(&j);
	return err;
}

static int rows_emit(struct req *q, struct rows *r)
{
	if (q->fmt == FMT_JSON) {
		struct sl_json j;

		sl_json_init(&j, q->out, false);
		sl_json_obj_begin(&j);
		sl_json_key(&j, r->key);
		sl_json_arr_begin(&j);
		for (size_t i = 0; i < r->n; i++) {
			sl_json_obj_begin(&j);
			for (size_t c = 0; c < r->ncols; c++) {
				const char *v = r->cells[i * r->ncols + c];

				if ((r->numeric & (1u << c)) && v)
					sl_json_kv_uint(&j, r->names[c],
							strtoull(v, NULL, 10));
				else
					sl_json_kv_str(&j, r->names[c], v);
			}
			sl_json_obj_end(&j);
		}
		sl_json_arr_end(&j);
		sl_json_obj_end(&j);
		return 0;
	} else {
		struct sl_table *t = sl_table_new(r->ncols, r->headers);
		char *text = NULL;
		size_t len = 0;
		FILE *mem;
		int ret = 0;

		if (!t)
			return error_answer(q->out, -ENOMEM, NULL);
		for (size_t i = 0; i < r->n && !ret; i++)
			ret = sl_table_add(t, (const char *const *)&r->cells[i * r->ncols]);
		mem = ret ? NULL : open_memstream(&text, &len);
		if (!mem) {
			sl_table_free(t);
			return error_answer(q->out, -ENOMEM, NULL);
		}
		if (q->fmt == FMT_DUMP)
			sl_table_dump(t, mem);
		else
			sl_table_print(t, mem);
		sl_table_free(t);
		if (fclose(mem)) {
			free(text);
			return error_answer(q->out, -ENOMEM, NULL);
		}
		text_answer(q->out, text);
		free(text);
		return 0;
	}
}

/* ---- commands --------------------------------------------------------- */

static int64_t pool_ready(void)
{
	return atomic_load_explicit(&sl_stats.pool_ready, memory_order_relaxed);
}

/* busy-poll windows of every worker (loop.h) */
static void busy_poll_totals(struct sl_daemon *d, uint64_t *hits,
			     uint64_t *misses)
{
	struct sl_worker **ws = __atomic_load_n(&d->workers, __ATOMIC_ACQUIRE);

	*hits = *misses = 0;
	for (unsigned int i = 0; ws && i < d->n_workers; i++) {
		uint64_t h, m;

		sl_worker_busy_poll_stats(ws[i], &h, &m);
		*hits += h;
		*misses += m;
	}
}

/* "@key": seconds since @t, or null when it never happened (@t 0) */
static void kv_age(struct sl_json *j, const char *key, time_t t, time_t now)
{
	sl_json_key(j, key);
	if (t)
		sl_json_int(j, (int64_t)(now - t));
	else
		sl_json_null(j);
}

/* the Events for rejected resources (k8s.h: sl_k8s_events_status) */
static void k8s_events_json(struct sl_json *j, struct sl_k8s *k)
{
	struct sl_k8s_events_status es;

	sl_k8s_events_status(k, &es);
	sl_json_key(j, "events");
	sl_json_obj_begin(j);
	sl_json_kv_uint(j, "posted", es.posted);
	sl_json_kv_uint(j, "already_posted", es.already);
	sl_json_kv_uint(j, "failed", es.failed);
	sl_json_kv_uint(j, "dropped", es.dropped);
	sl_json_kv_uint(j, "pending", es.pending);
	sl_json_kv_bool(j, "reporter", es.reporter);
	sl_json_kv_bool(j, "forbidden", es.forbidden);
	sl_json_kv_str(j, "last_error", es.last_error[0] ? es.last_error : NULL);
	sl_json_obj_end(j);
}

/* "posted 2, already posted 1, failed 0, pending 0; FORBIDDEN ..." */
static void k8s_events_line(struct sl_k8s *k, char *buf, size_t len)
{
	struct sl_k8s_events_status es;

	sl_k8s_events_status(k, &es);
	snprintf(buf, len,
		 "posted %llu, already posted %llu, failed %llu, pending %zu%s%s%s%s",
		 (unsigned long long)es.posted,
		 (unsigned long long)es.already,
		 (unsigned long long)es.failed, es.pending,
		 es.reporter ? "" : "; not a reporter (not among the first 3 Nodes)",
		 es.forbidden ? "; FORBIDDEN by RBAC" : "",
		 es.last_error[0] ? "; last error: " : "", es.last_error);
}

/* the Kubernetes API source (k8s.h): where, in sync, and per resource */
static void k8s_status_json(struct sl_json *j, struct sl_daemon *d)
{
	struct sl_k8s_res_status st[16];
	struct sl_reload_status rs;
	const char *origin;
	size_t n;
	time_t now = time(NULL);

	sl_json_key(j, "kubernetes");
	if (!d->k8s) {
		sl_json_null(j);
		return;
	}
	sl_reload_status(d->reload, &rs);
	n = sl_k8s_status(d->k8s, st, 16);
	sl_json_obj_begin(j);
	sl_json_kv_str(j, "server", sl_k8s_server(d->k8s, &origin));
	sl_json_kv_str(j, "credentials", origin);
	sl_json_kv_bool(j, "synced", sl_k8s_synced(d->k8s));
	sl_json_kv_bool(j, "serving_saved_view", rs.api_saved_view);
	sl_json_kv_uint(j, "documents", rs.api_docs);
	sl_json_kv_uint(j, "rejected", rs.api_rejected);
	sl_json_key(j, "resources");
	sl_json_arr_begin(j);
	for (size_t i = 0; i < n && i < 16; i++) {
		sl_json_obj_begin(j);
		sl_json_kv_str(j, "resource", st[i].name);
		sl_json_kv_str(j, "version", st[i].version);
		sl_json_kv_bool(j, "synced", st[i].synced);
		sl_json_kv_bool(j, "absent", st[i].absent);
		sl_json_kv_bool(j, "watching", st[i].watching);
		sl_json_kv_uint(j, "objects", st[i].objects);
		sl_json_kv_str(j, "resource_version", st[i].resource_version);
		kv_age(j, "last_list_age_s", st[i].last_sync, now);
		kv_age(j, "last_event_age_s", st[i].last_event, now);
		sl_json_kv_uint(j, "lists", st[i].lists);
		sl_json_kv_uint(j, "relists_gone", st[i].relists_gone);
		sl_json_kv_uint(j, "watches", st[i].watches);
		sl_json_kv_uint(j, "events", st[i].events);
		sl_json_kv_uint(j, "errors", st[i].errors);
		sl_json_kv_str(j, "last_error",
			       st[i].last_error[0] ? st[i].last_error : NULL);
		sl_json_obj_end(j);
	}
	sl_json_arr_end(j);
	k8s_events_json(j, d->k8s);
	sl_json_obj_end(j);
}

/* "synced, 12 objects, listed 40s ago, last event 2s ago" */
static void k8s_res_line(const struct sl_k8s_res_status *s, char *buf,
			 size_t len)
{
	time_t now = time(NULL);
	char ev[48] = "", er[260] = "";

	if (s->absent) {
		snprintf(buf, len, "not served (CRD not installed)");
		return;
	}
	if (s->last_event)
		snprintf(ev, sizeof(ev), ", last event %llds ago",
			 (long long)(now - s->last_event));
	if (s->last_error[0])
		snprintf(er, sizeof(er), "; %llu errors, last: %s",
			 (unsigned long long)s->errors, s->last_error);
	if (s->synced)
		snprintf(buf, len, "%s %s, %zu objects, listed %llds ago%s%s",
			 s->watching ? "watching" : "synced", s->version,
			 s->objects, (long long)(now - s->last_sync), ev, er);
	else
		snprintf(buf, len, "NOT SYNCED%s", er);
}

static int cmd_status(struct req *q)
{
	static const char *const h[] = { "KEY", "VALUE" };
	static const char *const n[] = { "key", "value" };
	struct sl_daemon *d = q->d;
	struct sl_config *cfg = sl_daemon_config(d);
	struct sl_certstore_entry *certs = NULL;
	struct rows r = { .key = "status", .ncols = 2, .headers = h, .names = n };
	char buf[64][520], err[512], summary[256] = "", why[300] = "";
	size_t ncerts = 0, nwl = 0, k = 0;
	uint64_t bp_hits, bp_misses;
	bool ready;
	int ret = 0;

	ready = sl_obs_ready(d, why, sizeof(why));
	sl_obs_last_reload_error(err, sizeof(err));
	busy_poll_totals(d, &bp_hits, &bp_misses);
	if (d->certs && sl_certstore_list(d->certs, &certs, &ncerts))
		ncerts = 0;
	free(certs);
	if (cfg) {
		sl_config_workloads(cfg, &nwl);
		sl_config_summary(cfg, summary, sizeof(summary));
	}
	/* a row past the buffers is an error, never a write past them */
#define ROW(key, ...)                                                          \
	do {                                                                   \
		if (k >= sizeof(buf) / sizeof(buf[0])) {                       \
			ret = ret ? ret : -ENOSPC;                             \
			break;                                                 \
		}                                                              \
		snprintf(buf[k], sizeof(buf[k]), __VA_ARGS__);                 \
		if (!ret)                                                      \
			ret = rows_add(&r, (const char *const[]){ key, buf[k] });  \
		k++;                                                           \
	} while (0)
	if (q->fmt == FMT_JSON) {
		struct sl_json j;

		sl_json_init(&j, q->out, false);
		sl_json_obj_begin(&j);
		sl_json_kv_str(&j, "version", SL_VERSION);
		sl_json_kv_int(&j, "pid", getpid());
		sl_json_kv_uint(&j, "uptime_s",
				(uint64_t)time(NULL) - sl_obs_start_time());
		sl_json_kv_uint(&j, "workers", d->n_workers);
		sl_json_kv_str(&j, "upgrade", sl_upgrade_result());
		sl_json_kv_bool(&j, "ready", ready);
		sl_json_kv_str(&j, "not_ready_reason", ready ? NULL : why);
		sl_json_kv_bool(&j, "ktls_available", sl_obs_ktls_available());
		sl_json_kv_bool(&j, "ktls_used", d->ktls);
		sl_json_kv_uint(&j, "flows_active", (uint64_t)sl_stats_active());
		sl_json_kv_uint(&j, "flows_ktls", sl_stat_get(SL_STAT_RELAYS_KTLS));
		sl_json_kv_uint(&j, "flows_userspace",
				sl_stat_get(SL_STAT_RELAYS_USERSPACE));
		sl_json_kv_str(&j, "config_generation",
			       cfg ? sl_config_generation(cfg) : NULL);
		sl_json_kv_str(&j, "config_summary", summary);
		sl_json_kv_uint(&j, "config_reload_failures", sl_obs_reload_failures());
		sl_json_kv_str(&j, "config_last_error", err[0] ? err : NULL);
		sl_tm_status_json(&j, d->reload, d->health);
		k8s_status_json(&j, d);
		sl_json_kv_uint(&j, "workloads", nwl);
		sl_json_kv_uint(&j, "certificates", ncerts);
		sl_json_kv_bool(&j, "steering", __atomic_load_n(&d->steer, __ATOMIC_ACQUIRE) != NULL);
		/* connection pool (pool.h): per worker and key */
		sl_json_key(&j, "pool");
		sl_json_obj_begin(&j);
		sl_json_kv_uint(&j, "size", d->o.pool_size);
		sl_json_kv_uint(&j, "max", d->o.pool_max);
		sl_json_kv_uint(&j, "idle_timeout_ms", d->o.pool_idle_ns / 1000000);
		sl_json_kv_int(&j, "ready", pool_ready());
		sl_json_kv_uint(&j, "hits", sl_stat_get(SL_STAT_POOL_HITS));
		sl_json_kv_uint(&j, "misses", sl_stat_get(SL_STAT_POOL_MISSES));
		sl_json_obj_end(&j);
		/* busy polling (loop.h): windows that found work, or ran out */
		sl_json_key(&j, "busy_poll");
		sl_json_obj_begin(&j);
		sl_json_kv_uint(&j, "window_us", d->o.busy_poll_ns / 1000);
		sl_json_kv_uint(&j, "hits", bp_hits);
		sl_json_kv_uint(&j, "misses", bp_misses);
		sl_json_obj_end(&j);
		/* handshake threads (offload.h) */
		sl_json_key(&j, "handshake_threads");
		sl_json_obj_begin(&j);
		sl_json_kv_uint(&j, "threads", sl_offload_threads());
		sl_json_kv_int(&j, "nice", d->o.hs_nice);
		sl_json_kv_uint(&j, "steps", sl_offload_jobs());
		sl_json_obj_end(&j);
		/* userspace relay buffers (relay.h): held by flows now */
		sl_json_key(&j, "relay_buffers");
		sl_json_obj_begin(&j);
		sl_json_kv_uint(&j, "bulk_size", d->o.bulk_buf_size);
		sl_json_kv_uint(&j, "held_bytes", sl_relay_buffered_bytes());
		sl_json_kv_uint(&j, "bulk_bytes", sl_relay_bulk_bytes());
		sl_json_obj_end(&j);
		/* the userspace record layer's AES-GCM (gcm.h) */
		sl_json_kv_str(&j, "aes_gcm", sl_gcm_impl_name());
		sl_json_obj_end(&j);
	} else {
		ROW("version", "%s", SL_VERSION);
		ROW("pid", "%d", (int)getpid());
		ROW("uptime", "%llus",
		    (unsigned long long)((uint64_t)time(NULL) - sl_obs_start_time()));
		ROW("workers", "%u", d->n_workers);
		ROW("upgrade", "%s", sl_upgrade_result());
		ROW("ready", "%s", ready ? "yes" : why);
		ROW("ktls-available", "%s", sl_obs_ktls_available() ? "yes" : "no");
		ROW("ktls-used", "%s", d->ktls ? "yes" : "no");
		ROW("flows-active", "%lld", (long long)sl_stats_active());
		ROW("flows-ktls", "%llu",
		    (unsigned long long)sl_stat_get(SL_STAT_RELAYS_KTLS));
		ROW("flows-userspace", "%llu",
		    (unsigned long long)sl_stat_get(SL_STAT_RELAYS_USERSPACE));
		ROW("config-generation", "%s", cfg ? sl_config_generation(cfg) : "");
		ROW("config", "%s", summary);
		ROW("reload-failures", "%llu",
		    (unsigned long long)sl_obs_reload_failures());
		ROW("last-reload-error", "%s", err);
		if (d->k8s) {
			struct sl_k8s_res_status st[16];
			struct sl_reload_status rs;
			size_t nk = sl_k8s_status(d->k8s, st, 16);

			sl_reload_status(d->reload, &rs);
			ROW("kubernetes", "%s: %s; %zu resources loaded, %zu rejected%s",
			    sl_k8s_server(d->k8s, NULL),
			    sl_k8s_synced(d->k8s) ? "synced" : "NOT SYNCED",
			    rs.api_docs, rs.api_rejected,
			    rs.api_saved_view ? "; SERVING THE SAVED VIEW" : "");
			for (size_t i = 0; i < nk && i < 16 && k < 40; i++) {
				char line[400], key[80];

				k8s_res_line(&st[i], line, sizeof(line));
				snprintf(key, sizeof(key), "k8s %s", st[i].name);
				ROW(key, "%s", line);
			}
			{
				char line[400];

				k8s_events_line(d->k8s, line, sizeof(line));
				ROW("kubernetes-events", "%s", line);
			}
		}
		ROW("workloads", "%zu", nwl);
		ROW("certificates", "%zu", ncerts);
		ROW("steering", "%s", __atomic_load_n(&d->steer, __ATOMIC_ACQUIRE) ? "sluiced" : "external");
		if (d->o.pool_size)
			ROW("pool", "size %u (busy keys up to %u), idle %llums, ready %lld, hits %llu, misses %llu",
			    d->o.pool_size, d->o.pool_max,
			    (unsigned long long)(d->o.pool_idle_ns / 1000000),
			    (long long)pool_ready(),
			    (unsigned long long)sl_stat_get(SL_STAT_POOL_HITS),
			    (unsigned long long)sl_stat_get(SL_STAT_POOL_MISSES));
		else
			ROW("pool", "off");
		if (d->o.busy_poll_ns)
			ROW("busy-poll", "window %lluus, hits %llu, misses %llu",
			    (unsigned long long)(d->o.busy_poll_ns / 1000),
			    (unsigned long long)bp_hits,
			    (unsigned long long)bp_misses);
		else
			ROW("busy-poll", "off");
		if (sl_offload_threads())
			ROW("handshake-threads", "%u (nice %d), %llu steps",
			    sl_offload_threads(), d->o.hs_nice,
			    (unsigned long long)sl_offload_jobs());
		else
			ROW("handshake-threads", "none (steps on the workers: %llu)",
			    (unsigned long long)sl_offload_jobs());
		ROW("relay-buffers", "bulk size %u KiB; held %llu B, of which bulk %llu B",
		    d->o.bulk_buf_size / 1024,
		    (unsigned long long)sl_relay_buffered_bytes(),
		    (unsigned long long)sl_relay_bulk_bytes());
		ROW("aes-gcm", "%s", sl_gcm_impl_name());
		ret = ret ? error_answer(q->out, ret, NULL) : rows_emit(q, &r);
	}
#undef ROW
	rows_free(&r);
	sl_config_put(cfg);
	return ret;
}

static int cmd_routes(struct req *q)
{
	struct sl_config *cfg = sl_daemon_config(q->d);
	char *text = NULL;
	size_t len = 0;
	FILE *mem;
	int ret;

	if (!cfg)
		return error_answer(q->out, -ENOENT, "no configuration loaded");
	mem = open_memstream(&text, &len);
	if (!mem) {
		sl_config_put(cfg);
		return error_answer(q->out, -ENOMEM, NULL);
	}
	ret = sl_config_routes_print(cfg, q->arg,
				     q->fmt == FMT_JSON ? SL_CONFIG_FMT_JSON :
				     q->fmt == FMT_DUMP ? SL_CONFIG_FMT_DUMP :
							  SL_CONFIG_FMT_TABLE,
				     mem);
	sl_config_put(cfg);
	if (fclose(mem) && !ret)
		ret = -ENOMEM;
	if (ret == -ENOENT)
		ret = error_answer(q->out, ret, "unknown host");
	else if (ret)
		ret = error_answer(q->out, ret, NULL);
	else if (q->fmt == FMT_JSON) {
		/* routes_print's JSON, embedded as is (one line) */
		for (char *p = text; *p; p++)
			if (*p == '\n')
				*p = ' ';
		fprintf(q->out, "{\"routes\":%s}", text);
	} else {
		text_answer(q->out, text);
	}
	free(text);
	return ret;
}

static int cmd_workloads(struct req *q)
{
	static const char *const h[] = { "NAME", "NAMESPACE", "ADDRESS",
					  "SERVICE-ACCOUNT", "NODE", "SPIFFE-ID",
					  "MTLS" };
	static const char *const n[] = { "name", "namespace", "address",
					  "service_account", "node", "spiffe_id",
					  "mtls_mode" };
	struct rows r = { .key = "workloads", .ncols = 7, .headers = h, .names = n };
	struct sl_config *cfg = sl_daemon_config(q->d);
	const struct sl_workload *wl;
	size_t nwl = 0;
	int ret = 0;

	if (!cfg)
		return error_answer(q->out, -ENOENT, "no configuration loaded");
	wl = sl_config_workloads(cfg, &nwl);
	for (size_t i = 0; i < nwl && !ret; i++) {
		char addr[INET6_ADDRSTRLEN] = "", mtls[256];

		inet_ntop(wl[i].address.family, &wl[i].address.v6, addr,
			  sizeof(addr));
		ret = rows_add(&r, (const char *const[]){
			wl[i].name, wl[i].ns, addr, wl[i].service_account,
			wl[i].node, wl[i].spiffe_id,
			sl_config_mtls_describe(cfg, &wl[i], mtls, sizeof(mtls)) });
	}
	ret = ret ? error_answer(q->out, ret, NULL) : rows_emit(q, &r);
	rows_free(&r);
	sl_config_put(cfg);
	return ret;
}

static void fmt_utc(char *buf, size_t len, time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int cmd_certs(struct req *q)
{
	static const char *const h[] = { "SPIFFE-ID", "SERIAL", "NOT-BEFORE",
					  "NOT-AFTER", "EXPIRES-IN", "ISSUER" };
	static const char *const n[] = { "spiffe_id", "serial", "not_before",
					  "not_after", "expires_in_s", "issuer" };
	struct rows r = { .key = "certs", .ncols = 6, .headers = h, .names = n,
			  .numeric = 1u << 4 };
	struct sl_certstore_entry *e = NULL;
	size_t ne = 0;
	int ret;

	if (!q->d->certs)
		return error_answer(q->out, -ENOENT, "no certificate store");
	ret = sl_certstore_list(q->d->certs, &e, &ne);
	for (size_t i = 0; i < ne && !ret; i++) {
		char nb[32], na[32], left[32];
		long long s = (long long)e[i].not_after - (long long)time(NULL);

		fmt_utc(nb, sizeof(nb), e[i].not_before);
		fmt_utc(na, sizeof(na), e[i].not_after);
		snprintf(left, sizeof(left), "%lld", s < 0 ? 0 : s);
		ret = rows_add(&r, (const char *const[]){
			e[i].spiffe_id, e[i].serial, nb, na, left, e[i].issuer });
	}
	free(e);
	ret = ret ? error_answer(q->out, ret, NULL) : rows_emit(q, &r);
	rows_free(&r);
	return ret;
}

static int cmd_conns(struct req *q)
{
	static const char *const h[] = { "ID", "DIRECTION", "SOURCE", "SOURCE-ID",
					  "DESTINATION", "DESTINATION-ID",
					  "ENDPOINT", "TLS", "AGE-MS", "SENT",
					  "RECEIVED" };
	static const char *const n[] = { "id", "direction", "src", "src_principal",
					  "dst", "dst_principal", "endpoint",
					  "tls", "age_ms", "bytes_sent",
					  "bytes_received" };
	struct rows r = { .key = "conns", .ncols = 11, .headers = h, .names = n,
			  .numeric = 1u << 8 | 1u << 9 | 1u << 10 };
	struct sl_obs_conn *c = NULL;
	size_t nc = 0;
	int ret;

	ret = sl_obs_conns(&c, &nc);
	for (size_t i = 0; i < nc && !ret; i++) {
		char id[20], age[24], sent[24], recv[24];

		snprintf(id, sizeof(id), "%016llx", (unsigned long long)c[i].id);
		snprintf(age, sizeof(age), "%llu",
			 (unsigned long long)(c[i].age_ns / 1000000ull));
		snprintf(sent, sizeof(sent), "%llu",
			 (unsigned long long)c[i].bytes_sent);
		snprintf(recv, sizeof(recv), "%llu",
			 (unsigned long long)c[i].bytes_received);
		ret = rows_add(&r, (const char *const[]){
			id, c[i].outbound ? "outbound" : "inbound",
			c[i].src_addr, c[i].src_id[0] ? c[i].src_id : NULL,
			c[i].dst_addr, c[i].dst_id[0] ? c[i].dst_id : NULL,
			c[i].endpoint[0] ? c[i].endpoint : NULL,
			c[i].plaintext ? "none" :
			c[i].ktls ? "ktls" : "userspace", age, sent, recv });
	}
	free(c);
	ret = ret ? error_answer(q->out, ret, NULL) : rows_emit(q, &r);
	rows_free(&r);
	return ret;
}

/* connections counted against each admission budget now (admission.h) */
static void admission_gauges(struct sl_json *j, void *arg)
{
	(void)arg;
	sl_json_kv_uint(j, "admitted_outbound",
			sl_budget_used(SL_BUDGET_OUTBOUND));
	sl_json_kv_uint(j, "admitted_inbound",
			sl_budget_used(SL_BUDGET_INBOUND));
	sl_json_kv_uint(j, "pending_handshakes",
			sl_budget_used(SL_BUDGET_PENDING));
}

static int cmd_stats(struct req *q)
{
	static const char *const h[] = { "COUNTER", "VALUE" };
	static const char *const n[] = { "counter", "value" };
	struct rows r = { .key = "stats", .ncols = 2, .headers = h, .names = n,
			  .numeric = 1u << 1 };
	int ret = 0;

	if (q->fmt == FMT_JSON) {
		/* the daemon core's object, with the admission gauges */
		sl_stats_write_json(q->out, admission_gauges, NULL);
		return 0;
	}
	for (int s = 0; s < SL_STAT__MAX && !ret; s++) {
		char v[24];

		snprintf(v, sizeof(v), "%llu",
			 (unsigned long long)sl_stat_get((enum sl_stat)s));
		ret = rows_add(&r, (const char *const[]){
			sl_stat_name((enum sl_stat)s), v });
	}
	if (!ret) {
		char v[24];

		snprintf(v, sizeof(v), "%lld", (long long)sl_stats_active());
		ret = rows_add(&r, (const char *const[]){ "active", v });
	}
	ret = ret ? error_answer(q->out, ret, NULL) : rows_emit(q, &r);
	rows_free(&r);
	return ret;
}

static int cmd_rules(struct req *q)
{
	struct sl_daemon *d = q->d;
	char *text = NULL;
	size_t len = 0;
	FILE *mem;
	int ret;

	mem = open_memstream(&text, &len);
	if (!mem)
		return error_answer(q->out, -ENOMEM, NULL);
	/* sl_steer_update() uses the context under cfg_lock */
	pthread_mutex_lock(&d->cfg_lock);
	ret = d->steer ? sl_nft_list(d->steer, mem) : -ENOENT;
	pthread_mutex_unlock(&d->cfg_lock);
	if (fclose(mem) && !ret)
		ret = -ENOMEM;
	if (ret == -ENOENT)
		ret = error_answer(q->out, ret,
				   "sluiced does not manage the steering table (run with --steer)");
	else if (ret)
		ret = error_answer(q->out, ret, NULL);
	else if (q->fmt == FMT_JSON) {
		struct sl_json j;

		sl_json_init(&j, q->out, false);
		sl_json_obj_begin(&j);
		sl_json_kv_str(&j, "rules", text);
		sl_json_obj_end(&j);
	} else {
		text_answer(q->out, text);
	}
	free(text);
	return ret;
}

static int cmd_log_level(struct req *q)
{
	enum sl_log_level lvl;
	struct sl_json j;

	if (q->arg) {
		if (sl_log_level_parse(q->arg, &lvl))
			return error_answer(q->out, -EINVAL,
					    "unknown level (want err, warn, notice, info or debug)");
		sl_log_set_level(lvl);
		sl_log_notice("%s: log level set to %s", __func__,
			      sl_log_level_name(lvl));
	}
	if (q->fmt != FMT_JSON) {
		char buf[32];

		snprintf(buf, sizeof(buf), "%s\n",
			 sl_log_level_name(sl_log_get_level()));
		text_answer(q->out, buf);
		return 0;
	}
	sl_json_init(&j, q->out, false);
	sl_json_obj_begin(&j);
	sl_json_kv_str(&j, "log_level", sl_log_level_name(sl_log_get_level()));
	sl_json_obj_end(&j);
	return 0;
}

/*
 * reload [allow-empty]: what SIGHUP does, answered with the outcome.
 * "allow-empty" confirms a change that sl_config_guard refuses (every
 * workload or this node's Node removed) for this one load.
 */
static int cmd_reload(struct req *q)
{
	struct sl_daemon *d = q->d;
	struct sl_reload_status st;
	unsigned int flags = 0;
	char buf[sizeof(st.last_error) + 128];
	const char *outcome;
	int ret;

	if (q->arg) {
		if (strcmp(q->arg, "allow-empty"))
			return error_answer(q->out, -EINVAL,
					    "unknown argument (want allow-empty)");
		flags |= SL_RELOAD_ALLOW_EMPTY;
	}
	if (!d->reload || !d->reload_now)
		return error_answer(q->out, -ENOTSUP,
				    "this sluiced does not reload");
	ret = d->reload_now(d, flags);
	sl_reload_status(d->reload, &st);
	if (ret < 0)
		return error_answer(q->out, ret, st.last_error[0] ?
						    st.last_error : NULL);
	outcome = ret > 0 ? "loaded" : "unchanged";
	if (q->fmt == FMT_JSON) {
		struct sl_json j;

		sl_json_init(&j, q->out, false);
		sl_json_obj_begin(&j);
		sl_json_kv_str(&j, "outcome", outcome);
		sl_json_kv_str(&j, "config_generation", st.generation);
		sl_json_obj_end(&j);
		return 0;
	}
	snprintf(buf, sizeof(buf), "%s: generation %s\n", outcome,
		 st.generation);
	text_answer(q->out, buf);
	return 0;
}

/*
 * upgrade: what SIGUSR2 does (upgrade.h): start the binary at our path and
 * hand over to it.  Answered at once with "started"; `sluice upgrade`
 * then waits for the new process on the admin socket.
 */
static int cmd_upgrade(struct req *q)
{
	struct sl_daemon *d = q->d;
	char buf[64];
	int ret;

	if (!d->upgrade_handed_over)
		return error_answer(q->out, -ENOTSUP,
				    "this sluiced does not upgrade");
	ret = sl_upgrade_begin(d, d->upgrade_handed_over);
	if (ret)
		return error_answer(q->out, ret, ret == -EALREADY ?
					"an upgrade is already running" : NULL);
	if (q->fmt == FMT_JSON) {
		struct sl_json j;

		sl_json_init(&j, q->out, false);
		sl_json_obj_begin(&j);
		sl_json_kv_str(&j, "outcome", "started");
		sl_json_kv_int(&j, "pid", getpid());
		sl_json_obj_end(&j);
		return 0;
	}
	snprintf(buf, sizeof(buf), "started: pid %d hands over\n",
		 (int)getpid());
	text_answer(q->out, buf);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(struct req *q);
	bool arg; /* takes an optional argument */
} cmds[] = {
	{ "status", cmd_status, false },
	{ "routes", cmd_routes, true },
	{ "workloads", cmd_workloads, false },
	{ "certs", cmd_certs, false },
	{ "conns", cmd_conns, false },
	{ "stats", cmd_stats, false },
	{ "rules", cmd_rules, false },
	{ "log-level", cmd_log_level, true },
	{ "reload", cmd_reload, true },
	{ "upgrade", cmd_upgrade, false },
};

int sl_admin_cmd(struct sl_daemon *d, const char *line, FILE *out)
{
	char buf[256], *words[4], *save = NULL, *w;
	struct req q = { .d = d, .out = out, .fmt = FMT_JSON };
	size_t n = 0;

	if (sl_strlcpy(buf, line, sizeof(buf)) >= sizeof(buf))
		return error_answer(out, -E2BIG, "request too long");
	for (w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		if (strcmp(w, "format=table") == 0)
			q.fmt = FMT_TABLE;
		else if (strcmp(w, "format=dump") == 0)
			q.fmt = FMT_DUMP;
		else if (n < SL_ARRAY_SIZE(words))
			words[n++] = w;
		else
			return error_answer(out, -EINVAL, "too many arguments");
	}
	if (!n)
		return error_answer(out, -EINVAL, "empty request");
	for (size_t i = 0; i < SL_ARRAY_SIZE(cmds); i++) {
		if (strcmp(words[0], cmds[i].name) != 0)
			continue;
		if (n > (cmds[i].arg ? 2u : 1u))
			return error_answer(out, -EINVAL, "too many arguments");
		q.arg = n > 1 ? words[1] : NULL;
		return cmds[i].fn(&q);
	}
	return error_answer(out, -EINVAL, "unknown command");
}

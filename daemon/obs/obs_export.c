/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Prometheus exposition of sluiced: the labelled Istio series
 * (metrics.c) and istio_build, the process-wide counters (stats.h) as
 * sluice_* families, configuration and certificate state, and cheap
 * process metrics.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "certstore.h"
#include "daemon.h"
#include "metrics.h"
#include "obs.h"
#include "relay.h"
#include "sl_build_config.h"
#include "stats.h"
#include "tls.h"
#include "util.h"

static void family(FILE *out, const char *name, const char *type,
		   const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(FILE *out, const char *name, const char *help, uint64_t v)
{
	family(out, name, "counter", help);
	fprintf(out, "%s %llu\n", name, (unsigned long long)v);
}

static void render_stats(FILE *out)
{
	char name[96];

	family(out, "sluice_handshakes_total", "counter",
	       "mTLS handshakes by result");
	fprintf(out, "sluice_handshakes_total{result=\"ok\"} %llu\n",
		(unsigned long long)sl_stat_get(SL_STAT_HANDSHAKES_OK));
	for (int f = 0; f < SL_TLS_FAIL__MAX; f++) {
		if (f == SL_TLS_OK)
			continue;
		fprintf(out, "sluice_handshakes_total{result=\"");
		sl_metrics_escape(out, sl_tls_fail_name((enum sl_tls_fail)f));
		fprintf(out, "\"} %llu\n",
			(unsigned long long)sl_stats_hs_fail_get((enum sl_tls_fail)f));
	}
	family(out, "sluice_relayed_flows_total", "counter",
	       "Relayed flows by data path (kernel TLS + splice, userspace TLS, plaintext)");
	fprintf(out, "sluice_relayed_flows_total{mode=\"ktls\"} %llu\n",
		(unsigned long long)sl_stat_get(SL_STAT_RELAYS_KTLS));
	fprintf(out, "sluice_relayed_flows_total{mode=\"userspace\"} %llu\n",
		(unsigned long long)sl_stat_get(SL_STAT_RELAYS_USERSPACE));
	fprintf(out, "sluice_relayed_flows_total{mode=\"plain\"} %llu\n",
		(unsigned long long)sl_stat_get(SL_STAT_RELAYS_PLAIN));
	{
		uint64_t k, u, pl;

		sl_obs_flows_by_mode(&k, &u, &pl);
		family(out, "sluice_flows", "gauge",
		       "Relayed flows open now, by data path");
		fprintf(out, "sluice_flows{mode=\"ktls\"} %llu\n",
			(unsigned long long)k);
		fprintf(out, "sluice_flows{mode=\"userspace\"} %llu\n",
			(unsigned long long)u);
		fprintf(out, "sluice_flows{mode=\"plain\"} %llu\n",
			(unsigned long long)pl);
	}
	family(out, "sluice_active_flows", "gauge", "Flows open now");
	fprintf(out, "sluice_active_flows %lld\n", (long long)sl_stats_active());
	family(out, "sluice_pool_ready_connections", "gauge",
	       "Pooled mTLS connections ready for new flows");
	fprintf(out, "sluice_pool_ready_connections %lld\n",
		(long long)atomic_load_explicit(&sl_stats.pool_ready,
						memory_order_relaxed));
	family(out, "sluice_relay_buffer_bytes", "gauge",
	       "Userspace relay buffers held by flows now, in bytes");
	fprintf(out, "sluice_relay_buffer_bytes %llu\n",
		(unsigned long long)sl_relay_buffered_bytes());
	family(out, "sluice_relay_bulk_buffer_bytes", "gauge",
	       "Of those, bulk-sized buffers of busy flow directions (--bulk-buffer)");
	fprintf(out, "sluice_relay_bulk_buffer_bytes %llu\n",
		(unsigned long long)sl_relay_bulk_bytes());
	counter(out, "sluice_shed_connections_total",
		"Connections refused over the connection cap or out of fds",
		sl_stat_get(SL_STAT_SHED));
	/* every data path counter, under its admin-socket name */
	for (int s = 0; s < SL_STAT__MAX; s++) {
		snprintf(name, sizeof(name), "sluice_%s_total",
			 sl_stat_name((enum sl_stat)s));
		counter(out, name, "Data path counter (see sluice stats)",
			sl_stat_get((enum sl_stat)s));
	}
}

static void render_config(struct sl_daemon *d, FILE *out)
{
	struct sl_config *cfg = d ? sl_daemon_config(d) : NULL;

	family(out, "sluice_config_generation_info", "gauge",
	       "Generation of the configuration in use");
	if (cfg) {
		fprintf(out, "sluice_config_generation_info{generation=\"");
		sl_metrics_escape(out, sl_config_generation(cfg));
		fputs("\"} 1\n", out);
	}
	family(out, "sluice_config_rejected_resources", "gauge",
	       "Resources of the Kubernetes API left out of the configuration in use because sluice rejects them (each logged and in sluice status)");
	fprintf(out, "sluice_config_rejected_resources %llu\n",
		(unsigned long long)(cfg ? sl_config_rejected(cfg) : 0));
	sl_config_put(cfg);
	counter(out, "sluice_config_reload_failures_total",
		"Configuration reloads that failed (old configuration kept)",
		sl_obs_reload_failures());
	counter(out, "sluice_config_reload_refused_total",
		"Configurations that loaded but were refused: they would remove every workload or this node's Node, or set no caDir/certDir (counted in the failures too)",
		sl_obs_reload_refused());
	family(out, "sluice_config_warnings", "gauge",
	       "Warnings of the running configuration (fields accepted without effect, resources skipped; sluice check lists them)");
	fprintf(out, "sluice_config_warnings %llu\n",
		(unsigned long long)sl_obs_config_warnings());
}

static void render_certs(struct sl_daemon *d, FILE *out)
{
	struct sl_certstore_entry *e = NULL;
	size_t n = 0;

	family(out, "sluice_certificate_expiry_timestamp_seconds", "gauge",
	       "notAfter of each workload certificate held");
	if (!d || !d->certs || sl_certstore_list(d->certs, &e, &n))
		return;
	for (size_t i = 0; i < n; i++) {
		fputs("sluice_certificate_expiry_timestamp_seconds{spiffe_id=\"", out);
		sl_metrics_escape(out, e[i].spiffe_id);
		fprintf(out, "\"} %lld\n", (long long)e[i].not_after);
	}
	free(e);
}

static void render_process(FILE *out)
{
	struct rusage ru;
	long rss_pages = 0;
	unsigned long fds = 0;
	DIR *dir;
	FILE *f;

	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		family(out, "process_cpu_seconds_total", "counter",
		       "User and system CPU time");
		fprintf(out, "process_cpu_seconds_total %.6f\n",
			(double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
				(double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	}
	f = fopen("/proc/self/statm", "re");
	if (f) {
		long size;

		if (fscanf(f, "%ld %ld", &size, &rss_pages) == 2) {
			family(out, "process_resident_memory_bytes", "gauge",
			       "Resident memory");
			fprintf(out, "process_resident_memory_bytes %lld\n",
				(long long)rss_pages * sysconf(_SC_PAGESIZE));
		}
		fclose(f);
	}
	dir = opendir("/proc/self/fd");
	if (dir) {
		while (readdir(dir))
			fds++;
		closedir(dir);
		family(out, "process_open_fds", "gauge", "Open file descriptors");
		/* ".", ".." and the directory's own fd */
		fprintf(out, "process_open_fds %lu\n", fds > 3 ? fds - 3 : 0);
	}
	family(out, "process_start_time_seconds", "gauge",
	       "Start time since the epoch");
	fprintf(out, "process_start_time_seconds %llu\n",
		(unsigned long long)sl_obs_start_time());
}

int sl_obs_render(struct sl_daemon *d, FILE *out)
{
	int ret;

	ret = sl_metrics_render(sl_obs_metrics(), out);
	/* as Istio's proxies: which build serves the mesh's data path */
	family(out, "istio_build", "gauge",
	       "Istio component build: sluice's version as the proxy's tag");
	fputs("istio_build{component=\"proxy\",tag=\"", out);
	sl_metrics_escape(out, SL_VERSION);
	fputs("\"} 1\n", out);
	render_stats(out);
	render_config(d, out);
	render_certs(d, out);
	counter(out, "sluice_access_log_dropped_total",
		"Access log lines dropped by the rate limit",
		sl_obs_access_log_dropped());
	{
		uint64_t ej, rt;

		sl_obs_health_stats(&ej, &rt);
		counter(out, "sluice_outlier_ejections_total",
			"Endpoints ejected by outlier detection", ej);
		counter(out, "sluice_connect_retries_total",
			"Connect attempts retried on another endpoint", rt);
	}
	counter(out, "sluice_steering_restores_total",
		"Times the steering table was found missing and restored",
		sl_obs_steer_restores());
	render_process(out);
	return ret ? ret : (ferror(out) ? -EIO : 0);
}

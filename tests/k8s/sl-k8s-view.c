/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sl-k8s-view: run the Kubernetes source (k8s/) against an API server and
 * print, one JSON line each,
 *   {"kind":"view","serial":N,"docs":{PATH: DOCUMENT, ...},
 *    "config":"ok"|"error","generation":G,"rejected":[MSG...],
 *    "errors":[MSG...],"workloads":N}
 * whenever a new view is published (each view is also loaded the way
 * sluiced loads it, with the directory given by --config, if any), and
 *   {"kind":"status","resources":[{...}],"events":{...}}
 * whenever a resource's watch state or the Events' counters change
 * (events: sl_k8s_events_status).  With --report-rejected, each view's
 * rejected resources go to sl_k8s_report_rejected as sluiced's reload
 * hands them over (Kubernetes Events).  test_source.py drives it.
 *
 * sl-k8s-view --kubeconfig FILE [--context NAME] [--config DIR]
 *             [--page-size N] [--watch-timeout S] [--backoff-max-ms MS]
 *             [--absent-retry S] [--node NAME] [--grep TEXT]
 *             [--report-rejected]
 *
 * --grep TEXT prints only the documents that contain TEXT (a large view's
 * line stays short: bench/k8s-scale.py).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "json.h"
#include "k8s.h"
#include "kubeconfig.h"
#include "log.h"

static volatile sig_atomic_t stop;
static const char *grep_text;
static bool report;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

/* docs of the config directory (sl_config_load_dir's reading, by hand) */
static int load(struct sl_k8s_view *v, const char *dir, const char *node,
		struct sl_config **cfg, struct sl_config_errors *errs)
{
	size_t n;
	const struct sl_config_doc *docs = sl_k8s_view_docs(v, &n);

	if (dir)
		return sl_config_load_dir_extra(dir, docs, n, node, cfg, errs);
	return sl_config_load_files("kubernetes", docs, n, node, cfg, errs);
}

static void print_view(struct sl_k8s *k, struct sl_k8s_view *v,
		       const char *dir, const char *node)
{
	struct sl_config_errors errs = { 0 };
	struct sl_config *cfg = NULL;
	const struct sl_config_doc *docs;
	struct sl_json j;
	size_t n;
	int ret;

	docs = sl_k8s_view_docs(v, &n);
	ret = load(v, dir, node, &cfg, &errs);
	if (report && cfg && sl_k8s_report_config(k, cfg) < 0)
		fprintf(stderr, "sl-k8s-view: report: out of memory\n");
	sl_json_init(&j, stdout, false);
	sl_json_obj_begin(&j);
	sl_json_key(&j, "kind");
	sl_json_str(&j, "view");
	sl_json_key(&j, "serial");
	sl_json_uint(&j, sl_k8s_view_serial(v));
	sl_json_key(&j, "docs");
	sl_json_obj_begin(&j);
	for (size_t i = 0; i < n; i++) {
		if (grep_text && !strstr(docs[i].buf, grep_text))
			continue;
		sl_json_key(&j, docs[i].path);
		sl_json_str(&j, docs[i].buf);
	}
	sl_json_obj_end(&j);
	sl_json_key(&j, "config");
	sl_json_str(&j, ret == 0 ? "ok" : "error");
	sl_json_key(&j, "errors");
	sl_json_arr_begin(&j);
	for (size_t i = 0; i < errs.n; i++) {
		char *s = sl_config_error_format(&errs.v[i], NULL);

		sl_json_str(&j, s ? s : errs.v[i].message);
		free(s);
	}
	sl_json_arr_end(&j);
	sl_json_key(&j, "rejected");
	sl_json_arr_begin(&j);
	if (cfg) {
		size_t nw;
		const struct sl_config_error *w = sl_config_warnings(cfg, &nw);

		for (size_t i = 0; i < nw; i++) {
			char *s;

			if (strncmp(w[i].message, "REJECTED: ", 10))
				continue;
			s = sl_config_error_format(&w[i], NULL);
			sl_json_str(&j, s ? s : w[i].message);
			free(s);
		}
	}
	sl_json_arr_end(&j);
	if (cfg) {
		size_t nw;

		sl_config_workloads(cfg, &nw);
		sl_json_key(&j, "workloads");
		sl_json_uint(&j, nw);
		sl_json_key(&j, "generation");
		sl_json_str(&j, sl_config_generation(cfg));
		sl_json_key(&j, "n_rejected");
		sl_json_uint(&j, sl_config_rejected(cfg));
	}
	sl_json_obj_end(&j);
	fputc('\n', stdout);
	fflush(stdout);
	sl_config_errors_free(&errs);
	sl_config_put(cfg);
}

/* the status line, printed when it differs from the last one */
static void print_status(struct sl_k8s *k, char **last)
{
	struct sl_k8s_res_status st[32];
	struct sl_k8s_events_status es;
	size_t n = sl_k8s_status(k, st, 32);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct sl_json j;

	if (!f)
		return;
	sl_json_init(&j, f, false);
	sl_json_obj_begin(&j);
	sl_json_key(&j, "kind");
	sl_json_str(&j, "status");
	sl_json_key(&j, "resources");
	sl_json_obj_begin(&j);
	for (size_t i = 0; i < n && i < 32; i++) {
		sl_json_key(&j, st[i].name);
		sl_json_obj_begin(&j);
		sl_json_key(&j, "version");
		sl_json_str(&j, st[i].version);
		sl_json_key(&j, "synced");
		sl_json_bool(&j, st[i].synced);
		sl_json_key(&j, "absent");
		sl_json_bool(&j, st[i].absent);
		sl_json_key(&j, "objects");
		sl_json_uint(&j, st[i].objects);
		sl_json_key(&j, "resource_version");
		sl_json_str(&j, st[i].resource_version);
		sl_json_key(&j, "lists");
		sl_json_uint(&j, st[i].lists);
		sl_json_key(&j, "relists_gone");
		sl_json_uint(&j, st[i].relists_gone);
		sl_json_key(&j, "watches");
		sl_json_uint(&j, st[i].watches);
		sl_json_key(&j, "events");
		sl_json_uint(&j, st[i].events);
		sl_json_key(&j, "errors");
		sl_json_uint(&j, st[i].errors);
		sl_json_key(&j, "last_error");
		sl_json_str(&j, st[i].last_error);
		sl_json_obj_end(&j);
	}
	sl_json_obj_end(&j);
	sl_k8s_events_status(k, &es);
	sl_json_key(&j, "events");
	sl_json_obj_begin(&j);
	sl_json_key(&j, "posted");
	sl_json_uint(&j, es.posted);
	sl_json_key(&j, "already");
	sl_json_uint(&j, es.already);
	sl_json_key(&j, "failed");
	sl_json_uint(&j, es.failed);
	sl_json_key(&j, "dropped");
	sl_json_uint(&j, es.dropped);
	sl_json_key(&j, "pending");
	sl_json_uint(&j, es.pending);
	sl_json_key(&j, "reporter");
	sl_json_bool(&j, es.reporter);
	sl_json_key(&j, "forbidden");
	sl_json_bool(&j, es.forbidden);
	sl_json_key(&j, "last_error");
	sl_json_str(&j, es.last_error);
	sl_json_obj_end(&j);
	sl_json_obj_end(&j);
	fclose(f);
	if (!buf)
		return;
	if (!*last || strcmp(*last, buf)) {
		fputs(buf, stdout);
		fputc('\n', stdout);
		fflush(stdout);
		free(*last);
		*last = buf;
	} else {
		free(buf);
	}
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "kubeconfig", required_argument, NULL, 'k' },
		{ "context", required_argument, NULL, 'x' },
		{ "config", required_argument, NULL, 'c' },
		{ "node", required_argument, NULL, 'n' },
		{ "page-size", required_argument, NULL, 'p' },
		{ "watch-timeout", required_argument, NULL, 'w' },
		{ "backoff-max-ms", required_argument, NULL, 'b' },
		{ "absent-retry", required_argument, NULL, 'a' },
		{ "grep", required_argument, NULL, 'g' },
		{ "report-rejected", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct sl_k8s_opts o = { 0 };
	struct sl_kube_creds creds;
	const char *kc = NULL, *ctx = NULL, *dir = NULL, *node = "node-a";
	char err[512], *last = NULL;
	struct sl_k8s *k = NULL;
	int c, ret;

	sl_log_init("sl-k8s-view", SL_LOG_INFO);
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'k': kc = optarg; break;
		case 'x': ctx = optarg; break;
		case 'c': dir = optarg; break;
		case 'n': node = optarg; break;
		case 'p': o.page_size = (unsigned int)atoi(optarg); break;
		case 'w': o.watch_timeout_s = (unsigned int)atoi(optarg); break;
		case 'b': o.backoff_max_ms = (unsigned int)atoi(optarg); break;
		case 'a': o.absent_retry_s = (unsigned int)atoi(optarg); break;
		case 'g': grep_text = optarg; break;
		case 'r': report = true; break;
		default: return 2;
		}
	}
	if (!kc) {
		fprintf(stderr, "usage: sl-k8s-view --kubeconfig FILE [...]\n");
		return 2;
	}
	ret = sl_kubeconfig_load(kc, ctx, &creds, err, sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "sl-k8s-view: %s\n", err);
		return 1;
	}
	o.creds = &creds;
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	ret = sl_k8s_start(&o, &k);
	sl_kube_creds_free(&creds);
	if (ret < 0) {
		fprintf(stderr, "sl-k8s-view: start: %s\n", strerror(-ret));
		return 1;
	}
	while (!stop) {
		struct pollfd p = { .fd = sl_k8s_fd(k), .events = POLLIN };

		if (poll(&p, 1, 50) > 0) {
			uint64_t x;
			struct sl_k8s_view *v;

			if (read(p.fd, &x, sizeof(x)) < 0 && errno != EAGAIN)
				break;
			v = sl_k8s_view(k);
			if (v) {
				print_view(k, v, dir, node);
				sl_k8s_view_put(v);
			}
		}
		print_status(k, &last);
	}
	free(last);
	sl_k8s_stop(k);
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the input is one YAML file, loaded through the same
 * parser, decoder and resolver as a config directory.  A valid snapshot
 * is also printed (routes in every format) and queried, per connection
 * and per HTTP request (sl_config_http_route with a fixed request).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config_internal.h"
#include "http_route.h"
#include "log.h"

/* one HTTP request, parsed once, for sl_config_http_route */
static const char sl_fz_head[] =
	"GET /reviews/1?v=2&u=abc HTTP/1.1\r\nHost: reviews:9080\r\n"
	"x-canary: true\r\nend-user: jason\r\nx-tag: a\r\nx-tag: b\r\n\r\n";

static void sl_fz_http(const struct sl_config *cfg,
		       const struct sl_workload *src, const struct sl_ip *dst,
		       uint16_t port)
{
	static struct sl_h1_msg msg;
	static bool parsed;
	struct sl_http_req_view v = { 0 };
	struct sl_http_route rt;

	if (!parsed) {
		sl_h1_msg_init(&msg, NULL);
		if (sl_h1_parse_request(&msg, sl_fz_head,
					sizeof(sl_fz_head) - 1) <= 0)
			__builtin_trap();
		parsed = true;
	}
	v.buf = sl_fz_head;
	v.msg = &msg;
	v.method = sl_fz_head + msg.method.off;
	v.method_len = msg.method.len;
	v.path = sl_fz_head + msg.target.off;
	v.path_len = msg.target.len;
	v.authority = sl_fz_head + msg.hdr[msg.host].value.off;
	v.authority_len = msg.hdr[msg.host].value.len;
	v.scheme = "http";
	(void)sl_config_port_protocol(cfg, src, dst, port);
	for (uint32_t rnd = 0; rnd < 100; rnd += 33)
		if (sl_config_http_route(cfg, src, dst, port, &v, rnd, &rt) == 0 &&
		    (!rt.eps || !rt.n_eps))
			__builtin_trap(); /* success always names endpoints */
}

/* request.headers[...]: every header is present, its value its name */
static const char *sl_fz_header(void *ctx, const char *name, char *buf,
				size_t cap)
{
	(void)ctx;
	snprintf(buf, cap, "%s", name);
	return buf;
}

/* the L7 decision of a request, and of the same without its headers */
static void sl_fz_authz_http(const struct sl_config *cfg,
			     const struct sl_workload *wl,
			     struct sl_authz_request *req)
{
	struct sl_authz_http http = { .method = "GET", .method_len = 3,
				      .host = "Reviews:9080", .host_len = 12,
				      .path = "/api/v1", .path_len = 7,
				      .header = sl_fz_header };
	struct sl_authz_decision d;

	req->http = &http;
	req->dst_ip = req->src_ip;
	sl_config_authz(cfg, wl, req, &d);
	http.header = NULL;
	http.host = NULL;
	sl_config_authz(cfg, wl, req, &d);
	req->http = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct sl_config_doc doc = { "fuzz.yaml", "fuzz.yaml",
					   (const char *)data, size };
	struct sl_config_errors errs = { 0 };
	struct sl_config *cfg = NULL;
	FILE *devnull;

	/* the in-memory entry point: same parser, decoder and resolver as
	 * sl_config_load_dir */
	if (sl_config_load_files("fuzz.yaml", &doc, 1, "node-a", &cfg,
				 &errs) == 0) {
		const struct sl_workload *w;
		const struct sl_endpoint *eps;
		struct sl_ip vip;
		size_t n;

		devnull = fopen("/dev/null", "w");
		if (devnull) {
			sl_config_routes_print(cfg, NULL, SL_CONFIG_FMT_TABLE, devnull);
			sl_config_routes_print(cfg, NULL, SL_CONFIG_FMT_JSON, devnull);
			sl_config_routes_print(cfg, NULL, SL_CONFIG_FMT_DUMP, devnull);
			fclose(devnull);
		}
		w = sl_config_workloads(cfg, &n);
		for (size_t i = 0; i < n; i++) {
			struct sl_authz_request req = { .principal = "x",
							.src_ip = &w[i].address,
							.port = 80 };

			sl_config_resolve(cfg, NULL, &w[i].address, 80, &eps, &n);
			sl_fz_http(cfg, &w[i], &w[i].address, 80);
			sl_config_authorize(cfg, &w[i], &req);
			sl_fz_authz_http(cfg, &w[i], &req);
			sl_config_mtls_mode(cfg, &w[i], 80);
			sl_config_mtls_plaintext_any(cfg, &w[i]);
			{
				char mb[64];

				sl_config_mtls_describe(cfg, &w[i], mb, sizeof(mb));
			}
			w = sl_config_workloads(cfg, &n);
		}
		for (size_t i = 0; i < cfg->n_vips; i++) {
			const struct sl_host *h = cfg->vips[i].host;
			size_t n_wl;
			const struct sl_workload *src = sl_config_workloads(cfg, &n_wl);

			vip = cfg->vips[i].ip;
			for (size_t k = 0; k < h->n_ports; k++) {
				uint16_t port = (uint16_t)h->ports[k].port;

				sl_config_resolve(cfg, NULL, &vip, port, &eps, &n);
				sl_fz_http(cfg, n_wl ? src : NULL, &vip, port);
				sl_fz_http(cfg, NULL, &vip, port);
			}
		}
	}
	sl_config_put(cfg);
	sl_config_errors_free(&errs);
	return 0;
}

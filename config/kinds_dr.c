/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DestinationRule (networking.istio.io): host, subsets, traffic policy.
 * TLS modes: ISTIO_MUTUAL is what sluice does anyway; DISABLE means
 * plaintext to that host; SIMPLE/MUTUAL need certificates sluice does not
 * manage and are rejected.
 */
#include <string.h>

#include "config_internal.h"

static bool sl_tp_lb(struct sl_dec *d, const struct sl_ynode *x,
		     struct sl_traffic_policy *tp)
{
	static const char *const known[] = { "simple", NULL };
	static const char *const unsup[] = {
		"consistentHash", "is not supported (sluice balances connections by weight, not by hash)",
		"localityLbSetting", "is not supported (locality load balancing)",
		"warmupDurationSecs", "is not supported (slow start)",
		"warmup", "is not supported (slow start)",
		NULL
	};
	static const char *const names[] = { "UNSPECIFIED", "ROUND_ROBIN",
					     "LEAST_REQUEST", "LEAST_CONN",
					     "RANDOM", "PASSTHROUGH", NULL };
	int v;

	if (!sl_dec_fields(d, x, known, unsup))
		return false;
	switch (sl_dec_enum(d, x, "simple", names, &v)) {
	case -1:
		return false;
	case 0:
		return true;
	}
	switch (v) {
	case 1:
		tp->lb = SL_LB_ROUND_ROBIN;
		break;
	case 2:
	case 3:
		tp->lb = SL_LB_LEAST_REQUEST;
		break;
	case 4:
		tp->lb = SL_LB_RANDOM;
		break;
	case 5:
		sl_dec_key_err(d, sl_ymap_get(x, "simple"), "simple",
			       "PASSTHROUGH is not supported (sluice always picks an endpoint)");
		return false;
	default:
		tp->lb = SL_LB_DEFAULT;
	}
	return true;
}

/* Linux limits of TCP_KEEPCNT / TCP_KEEPIDLE / TCP_KEEPINTVL */
#define SL_KA_MAX_PROBES 127u
#define SL_KA_MAX_SECS 32767u
#define SL_NS_PER_S 1000000000ull

/* a tcpKeepalive duration: whole seconds (rounded down, as Istio hands
 * seconds to Envoy) in 1s..32767s; 1 when valid, 0 absent, -1 bad */
static int sl_tp_ka_secs(struct sl_dec *d, const struct sl_ynode *x,
			 const char *key, uint32_t *out)
{
	uint64_t ns;
	int r = sl_dec_duration(d, x, key, &ns);

	if (r != 1)
		return r;
	if (ns < SL_NS_PER_S || ns / SL_NS_PER_S > SL_KA_MAX_SECS) {
		sl_dec_key_err(d, sl_ymap_get(x, key), key,
			       "must be between 1s and %us",
			       SL_KA_MAX_SECS);
		return -1;
	}
	*out = (uint32_t)(ns / SL_NS_PER_S);
	return 1;
}

static bool sl_tp_keepalive(struct sl_dec *d, const struct sl_ynode *x,
			    struct sl_traffic_policy *tp)
{
	static const char *const known[] = { "probes", "time", "interval",
					     NULL };
	bool ok = true;

	if (!sl_dec_fields(d, x, known, NULL))
		return false;
	tp->has_keepalive = true;
	if (sl_dec_uint(d, x, "probes", 1, SL_KA_MAX_PROBES,
			&tp->ka_probes) < 0)
		ok = false;
	if (sl_tp_ka_secs(d, x, "time", &tp->ka_time_s) < 0)
		ok = false;
	if (sl_tp_ka_secs(d, x, "interval", &tp->ka_interval_s) < 0)
		ok = false;
	return ok;
}

static bool sl_tp_tcp(struct sl_dec *d, const struct sl_ynode *t,
		      struct sl_traffic_policy *tp)
{
	static const char *const tk[] = { "maxConnections", "connectTimeout",
					  "idleTimeout",
					  "maxConnectionDuration",
					  "tcpKeepalive", NULL };
	const struct sl_ynode *ka = sl_ymap_get(t, "tcpKeepalive");
	bool ok = true;

	if (!sl_dec_fields(d, t, tk, NULL))
		return false;
	if (sl_dec_uint(d, t, "maxConnections", 0, UINT32_MAX,
			&tp->max_connections) < 0 ||
	    sl_dec_duration(d, t, "connectTimeout",
			    &tp->connect_timeout_ns) < 0 ||
	    sl_dec_duration(d, t, "idleTimeout",
			    &tp->tcp_idle_timeout_ns) < 0)
		ok = false;
	switch (sl_dec_duration(d, t, "maxConnectionDuration",
				&tp->max_duration_ns)) {
	case -1:
		ok = false;
		break;
	case 1:
		/* Istio: "must be at least 1ms"; 0 would mean no limit,
		 * which leaving the field out already says */
		if (tp->max_duration_ns < 1000000ull) {
			sl_dec_key_err(d, sl_ymap_get(t, "maxConnectionDuration"),
				       "maxConnectionDuration",
				       "must be at least 1ms");
			ok = false;
		}
		break;
	}
	if (ka) {
		size_t old = sl_dec_push_key(d, "tcpKeepalive");

		if (!sl_tp_keepalive(d, ka, tp))
			ok = false;
		sl_dec_pop(d, old);
	}
	return ok;
}

static bool sl_tp_pool(struct sl_dec *d, const struct sl_ynode *x,
		       struct sl_traffic_policy *tp)
{
	static const char *const known[] = { "tcp", "http", NULL };
	static const char *const hk[] = { "http1MaxPendingRequests",
					  "http2MaxRequests",
					  "maxRequestsPerConnection",
					  "maxRetries", "idleTimeout",
					  "h2UpgradePolicy", "useClientProtocol",
					  "maxConcurrentStreams", NULL };
	const struct sl_ynode *t = sl_ymap_get(x, "tcp");
	const struct sl_ynode *h = sl_ymap_get(x, "http");
	uint32_t u;
	bool ok = true, b;
	const char *s;
	size_t old;

	if (!sl_dec_fields(d, x, known, NULL))
		return false;
	if (t) {
		old = sl_dec_push_key(d, "tcp");
		if (!sl_tp_tcp(d, t, tp))
			ok = false;
		sl_dec_pop(d, old);
	}
	if (h) {
		old = sl_dec_push_key(d, "http");
		if (!sl_dec_fields(d, h, hk, NULL) ||
		    sl_dec_uint(d, h, "http1MaxPendingRequests", 0, UINT32_MAX,
				&tp->http1_max_pending) < 0 ||
		    sl_dec_uint(d, h, "http2MaxRequests", 0, UINT32_MAX,
				&tp->http2_max_requests) < 0 ||
		    sl_dec_uint(d, h, "maxRequestsPerConnection", 0, UINT32_MAX,
				&tp->max_requests_per_conn) < 0 ||
		    sl_dec_uint(d, h, "maxRetries", 0, UINT32_MAX,
				&tp->max_retries) < 0 ||
		    sl_dec_duration(d, h, "idleTimeout",
				    &tp->idle_timeout_ns) < 0 ||
		    sl_dec_str(d, h, "h2UpgradePolicy", &s) < 0 ||
		    sl_dec_bool(d, h, "useClientProtocol", &b) < 0 ||
		    sl_dec_uint(d, h, "maxConcurrentStreams", 0, UINT32_MAX,
				&u) < 0)
			ok = false;
		sl_dec_pop(d, old);
	}
	return ok;
}

static bool sl_tp_outlier(struct sl_dec *d, const struct sl_ynode *x,
			  struct sl_traffic_policy *tp)
{
	static const char *const known[] = {
		"consecutive5xxErrors", "consecutiveGatewayErrors",
		"consecutiveErrors", "consecutiveLocalOriginFailures",
		"splitExternalLocalOriginErrors", "interval",
		"baseEjectionTime", "maxEjectionPercent", "minHealthPercent",
		NULL
	};
	uint32_t u;
	bool b, ok = true;

	if (!sl_dec_fields(d, x, known, NULL))
		return false;
	tp->has_outlier = true;
	/* consecutiveErrors is the deprecated name of consecutive5xxErrors */
	if (sl_dec_uint(d, x, "consecutiveErrors", 0, UINT32_MAX,
			&tp->consecutive_5xx) < 0 ||
	    sl_dec_uint(d, x, "consecutive5xxErrors", 0, UINT32_MAX,
			&tp->consecutive_5xx) < 0 ||
	    sl_dec_uint(d, x, "consecutiveGatewayErrors", 0, UINT32_MAX,
			&tp->consecutive_gateway) < 0 ||
	    sl_dec_uint(d, x, "consecutiveLocalOriginFailures", 0, UINT32_MAX,
			&u) < 0 ||
	    sl_dec_bool(d, x, "splitExternalLocalOriginErrors", &b) < 0 ||
	    sl_dec_duration(d, x, "interval", &tp->outlier_interval_ns) < 0 ||
	    sl_dec_duration(d, x, "baseEjectionTime", &tp->base_ejection_ns) < 0 ||
	    sl_dec_uint(d, x, "maxEjectionPercent", 0, 100,
			&tp->max_ejection_pct) < 0 ||
	    sl_dec_uint(d, x, "minHealthPercent", 0, 100,
			&tp->min_health_pct) < 0)
		ok = false;
	return ok;
}

static bool sl_tp_tls(struct sl_dec *d, const struct sl_ynode *x,
		      struct sl_traffic_policy *tp)
{
	static const char *const known[] = { "mode", NULL };
	static const char *const unsup[] = {
		"clientCertificate", "is not supported (only ISTIO_MUTUAL and DISABLE)",
		"privateKey", "is not supported (only ISTIO_MUTUAL and DISABLE)",
		"caCertificates", "is not supported (only ISTIO_MUTUAL and DISABLE)",
		"caCrl", "is not supported (only ISTIO_MUTUAL and DISABLE)",
		"credentialName", "is not supported (only ISTIO_MUTUAL and DISABLE)",
		"subjectAltNames", "is not supported (sluice verifies SPIFFE IDs)",
		"sni", "is not supported (only ISTIO_MUTUAL and DISABLE)",
		"insecureSkipVerify", "is not supported (sluice always verifies)",
		NULL
	};
	static const char *const modes[] = { "DISABLE", "SIMPLE", "MUTUAL",
					     "ISTIO_MUTUAL", NULL };
	int m;

	if (!sl_dec_fields(d, x, known, unsup))
		return false;
	switch (sl_dec_enum(d, x, "mode", modes, &m)) {
	case -1:
		return false;
	case 0:
		return true;
	}
	if (m == 1 || m == 2) {
		sl_dec_key_err(d, sl_ymap_get(x, "mode"), "mode",
			       "%s is not supported (it needs certificates sluice does not manage; use ISTIO_MUTUAL or DISABLE)",
			       modes[m]);
		return false;
	}
	tp->tls = m == 0 ? SL_TLS_DISABLE : SL_TLS_ISTIO_MUTUAL;
	return true;
}

static bool sl_tp(struct sl_dec *d, const struct sl_ynode *x, bool port_level,
		  struct sl_traffic_policy **out);

static bool sl_tp_ports(struct sl_dec *d, const struct sl_ynode *x,
			struct sl_traffic_policy *tp)
{
	static const char *const pk[] = { "number", NULL };
	bool ok = true;

	if (!sl_dec_is_seq(d, x))
		return false;
	tp->ports = sl_arena_array(d->a, x->n, sizeof(*tp->ports));
	if (!tp->ports)
		return false;
	for (size_t i = 0; i < x->n; i++) {
		const struct sl_ynode *it = x->items[i], *p;
		struct sl_port_policy *pp = &tp->ports[tp->n_ports];
		size_t old = sl_dec_push_idx(d, i);

		if (!sl_tp(d, it, true, &pp->tp)) {
			ok = false;
		} else if (!(p = sl_ymap_get(it, "port"))) {
			sl_dec_key_err(d, it, "port", "required field is missing");
			ok = false;
		} else {
			size_t o2 = sl_dec_push_key(d, "port");

			if (!sl_dec_fields(d, p, pk, NULL) ||
			    sl_dec_port(d, p, "number", &pp->port) != 1) {
				if (!sl_ymap_get(p, "number"))
					sl_dec_key_err(d, p, "number",
						       "required field is missing");
				ok = false;
			}
			sl_dec_pop(d, o2);
			for (size_t j = 0; ok && j < tp->n_ports; j++)
				if (tp->ports[j].port == pp->port) {
					sl_dec_err(d, p, "duplicate port %u",
						   pp->port);
					ok = false;
				}
			tp->n_ports++;
		}
		sl_dec_pop(d, old);
	}
	return ok;
}

static bool sl_tp(struct sl_dec *d, const struct sl_ynode *x, bool port_level,
		  struct sl_traffic_policy **out)
{
	static const char *const known[] = { "loadBalancer", "connectionPool",
					     "outlierDetection", "tls",
					     "portLevelSettings", NULL };
	static const char *const port_known[] = { "port", "loadBalancer",
						  "connectionPool",
						  "outlierDetection", "tls",
						  NULL };
	static const char *const unsup[] = {
		"tunnel", "is not supported (sluice has its own tunnel)",
		"proxyProtocol", "is not supported (PROXY protocol)",
		NULL
	};
	static const struct {
		const char *key;
		bool (*fn)(struct sl_dec *, const struct sl_ynode *,
			   struct sl_traffic_policy *);
	} parts[] = {
		{ "loadBalancer", sl_tp_lb },
		{ "connectionPool", sl_tp_pool },
		{ "outlierDetection", sl_tp_outlier },
		{ "tls", sl_tp_tls },
		{ "portLevelSettings", sl_tp_ports },
	};
	struct sl_traffic_policy *tp;
	bool ok;

	ok = sl_dec_fields(d, x, port_level ? port_known : known, unsup);
	if (x->type != SL_YMAP)
		return false;
	tp = sl_arena_alloc(d->a, sizeof(*tp));
	if (!tp)
		return false;
	for (size_t i = 0; i < SL_ARRAY_SIZE(parts); i++) {
		const struct sl_ynode *v = sl_ymap_get(x, parts[i].key);
		size_t old;

		if (!v || (port_level && i == 4))
			continue;
		old = sl_dec_push_key(d, parts[i].key);
		ok &= parts[i].fn(d, v, tp);
		sl_dec_pop(d, old);
	}
	*out = tp;
	return ok;
}

bool sl_kind_destinationrule(struct sl_dec *d, const struct sl_ynode *spec,
			     struct sl_dr *dr)
{
	static const char *const known[] = { "host", "trafficPolicy", "subsets",
					     "exportTo", "workloadSelector",
					     NULL };
	static const char *const sk[] = { "name", "labels", "trafficPolicy",
					  NULL };
	const struct sl_ynode *x;
	const char **list;
	size_t n;
	bool ok;

	if (!spec) {
		sl_dec_err(d, NULL, "required field is missing");
		return false;
	}
	ok = sl_dec_fields(d, spec, known, NULL);
	switch (sl_dec_str(d, spec, "host", &dr->host)) {
	case 0:
		sl_dec_key_err(d, spec, "host", "required field is missing");
		__attribute__((fallthrough));
	case -1:
		ok = false;
		break;
	default: {
		size_t old = sl_dec_push_key(d, "host");

		sl_dec_pos(d, sl_ymap_get(spec, "host"), &dr->host_pos);
		sl_dec_pop(d, old);
	}
	}
	if (sl_dec_strlist(d, spec, "exportTo", &list, &n) < 0)
		ok = false;
	x = sl_ymap_get(spec, "trafficPolicy");
	if (x) {
		size_t old = sl_dec_push_key(d, "trafficPolicy");

		ok &= sl_tp(d, x, false, &dr->tp);
		sl_dec_pop(d, old);
	}
	/* workloadSelector: rejected by the ledger (ledger.c), not decoded */
	x = sl_ymap_get(spec, "subsets");
	if (x) {
		size_t old = sl_dec_push_key(d, "subsets");

		if (!sl_dec_is_seq(d, x)) {
			sl_dec_pop(d, old);
			return false;
		}
		dr->subsets = sl_arena_array(d->a, x->n, sizeof(*dr->subsets));
		if (!dr->subsets) {
			sl_dec_pop(d, old);
			return false;
		}
		for (size_t i = 0; i < x->n; i++) {
			const struct sl_ynode *it = x->items[i], *t;
			struct sl_subset *s = &dr->subsets[dr->n_subsets];
			size_t o2 = sl_dec_push_idx(d, i);

			if (!sl_dec_fields(d, it, sk, NULL)) {
				ok = false;
				sl_dec_pop(d, o2);
				continue;
			}
			sl_dec_pos(d, it, &s->pos);
			if (sl_dec_str(d, it, "name", &s->name) != 1) {
				if (!sl_ymap_get(it, "name"))
					sl_dec_key_err(d, it, "name",
						       "required field is missing");
				ok = false;
			} else {
				for (size_t j = 0; j < dr->n_subsets; j++)
					if (dr->subsets[j].name &&
					    strcmp(dr->subsets[j].name,
						   s->name) == 0) {
						sl_dec_key_err(d, sl_ymap_get(it, "name"),
							       "name",
							       "duplicate subset \"%s\"",
							       s->name);
						ok = false;
					}
			}
			if (sl_dec_labels(d, it, "labels", &s->labels,
					  &s->n_labels) < 0)
				ok = false;
			t = sl_ymap_get(it, "trafficPolicy");
			if (t) {
				size_t o3 = sl_dec_push_key(d, "trafficPolicy");

				ok &= sl_tp(d, t, false, &s->tp);
				sl_dec_pop(d, o3);
			}
			dr->n_subsets++;
			sl_dec_pop(d, o2);
		}
		sl_dec_pop(d, old);
	}
	return ok;
}

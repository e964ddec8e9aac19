/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kubernetes v1 Service (ClusterIP) and the sluice Node settings
 * (sluice.io/v1alpha1 Node, usually the file sluiced.yaml).
 */
#include <string.h>

#include "config_internal.h"
#include "path.h" /* enum sl_path_mode: pathNormalization */

static bool sl_svc_ports(struct sl_dec *d, const struct sl_ynode *x,
			 struct sl_svc *svc)
{
	static const char *const known[] = { "name", "port", "targetPort",
					     "protocol", "appProtocol",
					     "nodePort", NULL };
	bool ok = true;

	if (!sl_dec_is_seq(d, x))
		return false;
	svc->ports = sl_arena_array(d->a, x->n, sizeof(*svc->ports));
	if (!svc->ports)
		return false;
	for (size_t i = 0; i < x->n; i++) {
		const struct sl_ynode *it = x->items[i], *tp;
		struct sl_svc_port *p = &svc->ports[svc->n_ports];
		size_t old = sl_dec_push_idx(d, i);
		uint32_t u;

		if (!sl_dec_fields(d, it, known, NULL)) {
			ok = false;
			goto next;
		}
		if (sl_dec_port(d, it, "port", &p->port) != 1) {
			if (!sl_ymap_get(it, "port"))
				sl_dec_key_err(d, it, "port",
					       "required field is missing");
			ok = false;
			goto next;
		}
		if (sl_dec_str(d, it, "name", &p->name) < 0 ||
		    sl_dec_str(d, it, "appProtocol", &p->app_protocol) < 0 ||
		    sl_dec_port(d, it, "nodePort", &u) < 0) {
			ok = false;
			goto next;
		}
		if (!sl_dec_tcp_only(d, it))
			ok = false;
		tp = sl_ymap_get(it, "targetPort");
		if (tp) {
			size_t o2 = sl_dec_push_key(d, "targetPort");

			if (tp->type == SL_YSCALAR && tp->plain &&
			    tp->str[0] >= '0' && tp->str[0] <= '9') {
				if (sl_dec_v_uint(d, tp, 1, 65535,
						  &p->target) < 0)
					ok = false;
			} else if (sl_dec_v_str(d, tp, &p->target_name) < 0 ||
				   !sl_dns1123_valid(p->target_name, true)) {
				if (p->target_name)
					sl_dec_err(d, tp, "\"%s\" is not a port number or name",
						   p->target_name);
				ok = false;
			}
			sl_dec_pop(d, o2);
		}
		for (size_t j = 0; j < svc->n_ports; j++)
			if (svc->ports[j].port == p->port) {
				sl_dec_key_err(d, sl_ymap_get(it, "port"),
					       "port", "duplicate port %u",
					       p->port);
				ok = false;
			}
		svc->n_ports++;
next:
		sl_dec_pop(d, old);
	}
	return ok;
}

bool sl_kind_service(struct sl_dec *d, const struct sl_ynode *spec,
		     struct sl_svc *svc)
{
	static const char *const known[] = {
		"clusterIP", "clusterIPs", "ports", "selector", "type",
		"sessionAffinity", "ipFamilies", "ipFamilyPolicy",
		"internalTrafficPolicy", "publishNotReadyAddresses",
		/* NodePort and LoadBalancer: traffic from outside the cluster,
		   kube-proxy's and the load balancer's (warned, no effect) */
		"externalTrafficPolicy", "healthCheckNodePort",
		"allocateLoadBalancerNodePorts", "loadBalancerClass",
		"loadBalancerIP", "loadBalancerSourceRanges", NULL
	};
	static const char *const unsup[] = {
		"externalName", "is not supported (type ExternalName)",
		"externalIPs", "is not supported (sluice routes cluster traffic)",
		"sessionAffinityConfig", "is not supported (session affinity)",
		NULL
	};
	/* in the order of enum sl_svc_type */
	static const char *const types[] = { "ClusterIP", "NodePort",
					     "LoadBalancer", "ExternalName",
					     NULL };
	enum sl_svc_type { SL_SVC_CLUSTER_IP, SL_SVC_NODE_PORT,
			   SL_SVC_LOAD_BALANCER, SL_SVC_EXTERNAL_NAME };
	static const char *const aff[] = { "None", "ClientIP", NULL };
	const struct sl_ynode *x;
	const char *cip = NULL, **cips = NULL;
	size_t n_cips = 0;
	bool ok;
	int v;

	if (!spec) {
		sl_dec_err(d, NULL, "required field is missing");
		return false;
	}
	ok = sl_dec_fields(d, spec, known, unsup);
	switch (sl_dec_enum(d, spec, "type", types, &v)) {
	case 1:
		if (v == SL_SVC_EXTERNAL_NAME) {
			sl_dec_key_err(d, sl_ymap_get(spec, "type"), "type",
				       "%s is not supported (no clusterIP to mesh)",
				       types[v]);
			ok = false;
		} else if (v != SL_SVC_CLUSTER_IP) {
			/* its clusterIP is meshed as any ClusterIP service's;
			   what comes in from outside is not sluice's */
			size_t old = sl_dec_push_key(d, "type");

			sl_dec_warn(d, sl_ymap_get(spec, "type"),
				    "%s: sluice meshes its clusterIP only; its node ports%s are kube-proxy's, not meshed",
				    types[v], v == SL_SVC_LOAD_BALANCER ?
						      " and load balancer" : "");
			sl_dec_pop(d, old);
		}
		break;
	case -1:
		ok = false;
	}
	if (sl_dec_enum(d, spec, "sessionAffinity", aff, &v) == 1 && v == 1) {
		sl_dec_key_err(d, sl_ymap_get(spec, "sessionAffinity"),
			       "sessionAffinity",
			       "ClientIP is not supported (session affinity)");
		ok = false;
	}
	{
		const char *s;
		const char **l;
		size_t n;
		bool b;

		if (sl_dec_strlist(d, spec, "ipFamilies", &l, &n) < 0 ||
		    sl_dec_str(d, spec, "ipFamilyPolicy", &s) < 0)
			ok = false;
		/* Cluster (every endpoint, wherever it runs) is what sluice
		   does; Local (only the client's node) it does not */
		switch (sl_dec_str(d, spec, "internalTrafficPolicy", &s)) {
		case 1:
			if (strcmp(s, "Cluster")) {
				sl_dec_key_err(d, sl_ymap_get(spec, "internalTrafficPolicy"),
					       "internalTrafficPolicy",
					       "\"%s\" is not supported (only Cluster: sluice balances over every endpoint of the service)",
					       s);
				ok = false;
			}
			break;
		case -1:
			ok = false;
		}
		switch (sl_dec_bool(d, spec, "publishNotReadyAddresses", &b)) {
		case 1:
			svc->publish_not_ready = b;
			break;
		case -1:
			ok = false;
		}
	}
	if (sl_dec_str(d, spec, "clusterIP", &cip) < 0 ||
	    sl_dec_strlist(d, spec, "clusterIPs", &cips, &n_cips) < 0)
		return false;
	svc->vips = sl_arena_array(d->a, n_cips + 1, sizeof(*svc->vips));
	if (!svc->vips)
		return false;
	for (size_t i = 0; i <= n_cips; i++) {
		const char *s = i == 0 ? cip : cips[i - 1];
		const struct sl_ynode *at = i == 0 ?
			sl_ymap_get(spec, "clusterIP") :
			sl_ymap_get(spec, "clusterIPs")->items[i - 1];
		struct sl_ip ip;
		bool dup = false;

		if (!s || strcmp(s, "None") == 0 || s[0] == '\0') {
			svc->headless |= s && !strcmp(s, "None");
			continue; /* headless */
		}
		if (sl_ip_parse(s, &ip) < 0) {
			size_t old = i == 0 ? sl_dec_push_key(d, "clusterIP") :
				sl_dec_push_key(d, "clusterIPs");

			if (i)
				sl_dec_push_idx(d, i - 1);
			sl_dec_err(d, at, "\"%s\" is not an IP address", s);
			sl_dec_pop(d, old);
			ok = false;
			continue;
		}
		for (size_t j = 0; j < svc->n_vips; j++)
			dup |= sl_ip_equal(&svc->vips[j], &ip);
		if (!dup)
			svc->vips[svc->n_vips++] = ip;
	}
	x = sl_ymap_get(spec, "ports");
	if (x) {
		size_t old = sl_dec_push_key(d, "ports");

		ok &= sl_svc_ports(d, x, svc);
		sl_dec_pop(d, old);
	}
	switch (sl_dec_labels(d, spec, "selector", &svc->selector,
			      &svc->n_selector)) {
	case 1:
		svc->has_selector = true;
		break;
	case -1:
		ok = false;
	}
	return ok;
}

/*
 * pathNormalization: {normalization: NAME}, the shape of Istio's
 * meshConfig.pathNormalization so that it can be copied; Istio's DEFAULT
 * is BASE.
 */
static bool sl_node_path_normalization(struct sl_dec *d,
				       const struct sl_ynode *spec,
				       struct sl_node_config *c)
{
	static const char *const known[] = { "normalization", NULL };
	static const char *const names[] = { "NONE", "BASE", "MERGE_SLASHES",
					     "DECODE_AND_MERGE_SLASHES",
					     "DEFAULT", NULL };
	static const uint8_t modes[] = { SL_PATH_NONE, SL_PATH_BASE,
					 SL_PATH_MERGE_SLASHES,
					 SL_PATH_DECODE_AND_MERGE_SLASHES,
					 SL_PATH_BASE };
	const struct sl_ynode *p = sl_ymap_get(spec, "pathNormalization");
	bool ok = true;
	size_t old;
	int v;

	if (!p)
		return true;
	old = sl_dec_push_key(d, "pathNormalization");
	if (!sl_dec_fields(d, p, known, NULL))
		ok = false;
	else
		switch (sl_dec_enum(d, p, "normalization", names, &v)) {
		case 1:
			c->path_normalization = modes[v];
			break;
		case -1:
			ok = false;
		}
	sl_dec_pop(d, old);
	return ok;
}

bool sl_kind_node(struct sl_dec *d, const struct sl_ynode *spec,
		  struct sl_noderes *node)
{
	static const char *const known[] = {
		"name", "trustDomain", "ports", "metricsAddress", "caDir",
		"certDir", "trustBundle", "ktls", "allowUnknownSource",
		"rootNamespace", "pathNormalization", NULL
	};
	static const char *const pk[] = { "outbound", "inbound",
					  "inboundPlaintext", "metrics", NULL };
	static const char *const ktls[] = { "auto", "on", "off", NULL };
	struct sl_node_config *c = &node->cfg;
	const struct sl_ynode *p;
	uint32_t port;
	bool ok = true;
	int v;

	c->trust_domain = "cluster.local";
	c->outbound_port = 15001;
	c->inbound_port = 15008;
	c->inbound_plain_port = 15006;
	c->metrics_port = 15020;
	c->metrics_address = "127.0.0.1";
	c->ktls = SL_KTLS_AUTO;
	c->root_namespace = SL_CFG_ROOT_NAMESPACE;
	c->path_normalization = SL_PATH_BASE; /* Istio's DEFAULT */
	if (!spec)
		return true;
	ok = sl_dec_fields(d, spec, known, NULL);
	if (sl_dec_str(d, spec, "name", &node->spec_name) < 0 ||
	    sl_dec_str(d, spec, "trustDomain", &c->trust_domain) < 0 ||
	    sl_dec_str(d, spec, "metricsAddress", &c->metrics_address) < 0 ||
	    sl_dec_str(d, spec, "caDir", &c->ca_dir) < 0 ||
	    sl_dec_str(d, spec, "certDir", &c->cert_dir) < 0 ||
	    sl_dec_str(d, spec, "trustBundle", &c->trust_bundle) < 0 ||
	    sl_dec_bool(d, spec, "allowUnknownSource",
			&c->allow_unknown_source) < 0 ||
	    sl_dec_str(d, spec, "rootNamespace", &c->root_namespace) < 0)
		ok = false;
	if (!sl_dns1123_valid(c->root_namespace, true)) {
		sl_dec_key_err(d, sl_ymap_get(spec, "rootNamespace"),
			       "rootNamespace",
			       "\"%s\" is not a valid namespace name",
			       c->root_namespace);
		ok = false;
	}
	if (!sl_dns1123_valid(c->trust_domain, false)) {
		sl_dec_key_err(d, sl_ymap_get(spec, "trustDomain"), "trustDomain",
			       "\"%s\" is not a valid trust domain",
			       c->trust_domain);
		ok = false;
	}
	if (c->metrics_address) {
		struct sl_ip ip;

		if (sl_ip_parse(c->metrics_address, &ip) < 0) {
			sl_dec_key_err(d, sl_ymap_get(spec, "metricsAddress"),
				       "metricsAddress",
				       "\"%s\" is not an IP address",
				       c->metrics_address);
			ok = false;
		}
	}
	switch (sl_dec_enum(d, spec, "ktls", ktls, &v)) {
	case 1:
		c->ktls = v == 0 ? SL_KTLS_AUTO : v == 1 ? SL_KTLS_ON :
							   SL_KTLS_OFF;
		break;
	case -1:
		ok = false;
	}
	ok &= sl_node_path_normalization(d, spec, c);
	p = sl_ymap_get(spec, "ports");
	if (p) {
		uint16_t *dst[] = { &c->outbound_port, &c->inbound_port,
				    &c->inbound_plain_port, &c->metrics_port };
		size_t old = sl_dec_push_key(d, "ports");

		if (!sl_dec_fields(d, p, pk, NULL))
			ok = false;
		for (size_t i = 0; pk[i]; i++)
			switch (sl_dec_port(d, p, pk[i], &port)) {
			case 1:
				*dst[i] = (uint16_t)port;
				break;
			case -1:
				ok = false;
			}
		for (size_t i = 0; i < 4; i++)
			for (size_t j = i + 1; j < 4; j++)
				if (*dst[i] == *dst[j]) {
					sl_dec_err(d, p, "ports %s and %s are both %u",
						   pk[i], pk[j], *dst[i]);
					ok = false;
				}
		sl_dec_pop(d, old);
	}
	return ok;
}

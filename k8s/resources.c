/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The resources sluice watches and what each object becomes (see k8s.h):
 * Pods turn into WorkloadEntries, Services and Istio resources are passed
 * on with what the API adds to them (status, metadata bookkeeping) left
 * out, Namespaces only say what is meshed.  The documents are JSON, which
 * the config module reads as YAML and validates as it validates files.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "k8s_internal.h"

#define SL_K8S_LABEL_MODE "istio.io/dataplane-mode"
#define SL_K8S_LABEL_SLUICE "sluice.io/mesh"

static json_object *sl_get(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static const char *sl_get_str(json_object *o, const char *key)
{
	json_object *v = sl_get(o, key);

	return v && json_object_is_type(v, json_type_string) ?
		       json_object_get_string(v) : NULL;
}

bool sl_k8s_meta(json_object *o, const char **ns, const char **name)
{
	json_object *m = sl_get(o, "metadata");

	*name = sl_get_str(m, "name");
	*ns = sl_get_str(m, "namespace");
	if (!*ns)
		*ns = "";
	return *name && **name;
}

static bool sl_label_is(json_object *labels, const char *key, const char *val)
{
	const char *v = sl_get_str(labels, key);

	return v && !strcmp(v, val);
}

static struct sl_k8s_obj *sl_obj_new(const char *ns, const char *name)
{
	struct sl_k8s_obj *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->ns = strdup(ns);
	if (!o->ns || asprintf(&o->key, "%s/%s", ns, name) < 0) {
		free(o->ns);
		free(o);
		return NULL;
	}
	return o;
}

/* add the document @j (consumed) to @o */
static int sl_obj_add(const struct sl_k8s_res *r, struct sl_k8s_obj *o,
		      const char *name, const char *suffix, json_object *j)
{
	struct sl_k8s_doc **v, *d;
	size_t len;
	const char *s;

	if (!j)
		return -ENOMEM;
	s = json_object_to_json_string_length(
		j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
		&len);
	d = s ? sl_k8s_doc_new(r->name, o->ns, name, suffix, s, len) : NULL;
	json_object_put(j);
	if (!d)
		return -ENOMEM;
	v = realloc(o->docs, (o->n_docs + 1) * sizeof(*v));
	if (!v) {
		sl_k8s_doc_put(d);
		return -ENOMEM;
	}
	o->docs = v;
	o->docs[o->n_docs++] = d;
	return 0;
}

static json_object *sl_meta_new(const char *ns, const char *name)
{
	json_object *m = json_object_new_object();

	if (!m)
		return NULL;
	json_object_object_add(m, "name", json_object_new_string(name));
	if (*ns)
		json_object_object_add(m, "namespace",
				       json_object_new_string(ns));
	return m;
}

/* {apiVersion, kind, metadata: {name, namespace}, spec: @o's spec} */
static json_object *sl_passed_on(const char *api_version, const char *kind,
				 json_object *o, const char *ns,
				 const char *name)
{
	json_object *j = json_object_new_object(), *spec = sl_get(o, "spec");

	if (!j)
		return NULL;
	json_object_object_add(j, "apiVersion",
			       json_object_new_string(api_version));
	json_object_object_add(j, "kind", json_object_new_string(kind));
	json_object_object_add(j, "metadata", sl_meta_new(ns, name));
	if (spec)
		json_object_object_add(j, "spec", json_object_get(spec));
	return j;
}

static int sl_conv_namespace(const struct sl_k8s_res *r, json_object *o,
			     struct sl_k8s_obj **out, char *why, size_t len)
{
	json_object *labels = sl_get(sl_get(o, "metadata"), "labels");
	const char *ns, *name;

	(void)r;
	if (!sl_k8s_meta(o, &ns, &name)) {
		snprintf(why, len, "an object without metadata.name");
		return -EINVAL;
	}
	*out = sl_obj_new("", name);
	if (!*out)
		return -ENOMEM;
	if (sl_label_is(labels, SL_K8S_LABEL_MODE, "ambient") ||
	    sl_label_is(labels, SL_K8S_LABEL_SLUICE, "enabled"))
		(*out)->flags |= SL_K8S_MESHED;
	return 0;
}

/* the pod's addresses: status.podIPs[].ip, else status.podIP */
static size_t sl_pod_ips(json_object *status, const char **ips, size_t cap)
{
	json_object *l = sl_get(status, "podIPs");
	size_t n = 0;

	if (l && json_object_is_type(l, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(l) && n < cap;
		     i++) {
			const char *ip = sl_get_str(
				json_object_array_get_idx(l, i), "ip");

			if (ip && *ip)
				ips[n++] = ip;
		}
	}
	if (!n) {
		const char *ip = sl_get_str(status, "podIP");

		if (ip && *ip && cap)
			ips[n++] = ip;
	}
	return n;
}

/* Ready: the condition Ready is True and the pod is not terminating */
static bool sl_pod_ready(json_object *meta, json_object *status)
{
	json_object *l = sl_get(status, "conditions");

	if (sl_get(meta, "deletionTimestamp"))
		return false;
	if (!l || !json_object_is_type(l, json_type_array))
		return false;
	for (size_t i = 0; i < json_object_array_length(l); i++) {
		json_object *c = json_object_array_get_idx(l, i);
		const char *type = sl_get_str(c, "type");
		const char *st = sl_get_str(c, "status");

		if (type && !strcmp(type, "Ready"))
			return st && !strcmp(st, "True");
	}
	return false;
}

static int sl_conv_pod(const struct sl_k8s_res *r, json_object *o,
		       struct sl_k8s_obj **out, char *why, size_t len)
{
	json_object *meta = sl_get(o, "metadata"), *spec = sl_get(o, "spec");
	json_object *status = sl_get(o, "status");
	json_object *labels = sl_get(meta, "labels"), *hn;
	const char *ns, *name, *sa, *node, *phase, *ips[4];
	size_t n_ips;
	bool ready;
	int ret;

	*out = NULL;
	if (!sl_k8s_meta(o, &ns, &name) || !*ns) {
		snprintf(why, len, "a pod without metadata.name or .namespace");
		return -EINVAL;
	}
	hn = sl_get(spec, "hostNetwork");
	if (hn && json_object_get_boolean(hn))
		return 0; /* never meshed: it has the node's addresses */
	phase = sl_get_str(status, "phase");
	if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")))
		return 0;
	n_ips = sl_pod_ips(status, ips, sizeof(ips) / sizeof(ips[0]));
	if (!n_ips)
		return 0; /* not scheduled or not started: nothing to route */
	sa = sl_get_str(spec, "serviceAccountName");
	if (!sa || !*sa)
		sa = sl_get_str(spec, "serviceAccount"); /* deprecated alias */
	if (!sa || !*sa)
		sa = "default";
	node = sl_get_str(spec, "nodeName");
	ready = sl_pod_ready(meta, status);

	*out = sl_obj_new(ns, name);
	if (!*out)
		return -ENOMEM;
	(*out)->flags = SL_K8S_NS_GATED;
	if (sl_label_is(labels, SL_K8S_LABEL_MODE, "none") ||
	    sl_label_is(labels, SL_K8S_LABEL_SLUICE, "disabled"))
		(*out)->flags |= SL_K8S_OPT_OUT;
	for (size_t i = 0; i < n_ips; i++) {
		json_object *we = json_object_new_object();
		json_object *wspec = json_object_new_object();
		json_object *wl = json_object_new_object();
		char suffix[32] = "";

		if (!we || !wspec || !wl) {
			json_object_put(we);
			json_object_put(wspec);
			json_object_put(wl);
			ret = -ENOMEM;
			goto err;
		}
		if (labels && json_object_is_type(labels, json_type_object)) {
			json_object_object_foreach(labels, k, v)
			{
				if (json_object_is_type(v, json_type_string) &&
				    strcmp(k, SL_LABEL_NOT_READY_KEY))
					json_object_object_add(
						wl, k, json_object_get(v));
			}
		}
		/* not Ready (or terminating): a workload, no Service endpoint */
		if (!ready)
			json_object_object_add(wl, SL_LABEL_NOT_READY_KEY,
					       json_object_new_string("false"));
		if (node && *node)
			json_object_object_add(wl, "kubernetes.io/hostname",
					       json_object_new_string(node));
		json_object_object_add(wspec, "address",
				       json_object_new_string(ips[i]));
		json_object_object_add(wspec, "labels", wl);
		json_object_object_add(wspec, "serviceAccount",
				       json_object_new_string(sa));
		json_object_object_add(we, "apiVersion",
				       json_object_new_string("networking.istio.io/v1"));
		json_object_object_add(we, "kind",
				       json_object_new_string("WorkloadEntry"));
		/* a second address is a second workload of the same pod */
		if (i)
			snprintf(suffix, sizeof(suffix), "--ip%zu", i + 1);
		{
			char *wname = NULL;

			if (asprintf(&wname, "%s%s", name, suffix) < 0) {
				json_object_put(we);
				json_object_put(wspec);
				ret = -ENOMEM;
				goto err;
			}
			json_object_object_add(we, "metadata",
					       sl_meta_new(ns, wname));
			free(wname);
		}
		json_object_object_add(we, "spec", wspec);
		ret = sl_obj_add(r, *out, name, suffix, we);
		if (ret < 0)
			goto err;
	}
	return 0;
err:
	sl_k8s_obj_free(*out);
	*out = NULL;
	return ret;
}

static int sl_conv_service(const struct sl_k8s_res *r, json_object *o,
			   struct sl_k8s_obj **out, char *why, size_t len)
{
	const char *ns, *name;
	int ret;

	if (!sl_k8s_meta(o, &ns, &name) || !*ns) {
		snprintf(why, len, "a service without metadata.name or .namespace");
		return -EINVAL;
	}
	*out = sl_obj_new(ns, name);
	if (!*out)
		return -ENOMEM;
	(*out)->flags = SL_K8S_NS_GATED;
	ret = sl_obj_add(r, *out, name, "",
			 sl_passed_on("v1", "Service", o, ns, name));
	if (ret < 0) {
		sl_k8s_obj_free(*out);
		*out = NULL;
	}
	return ret;
}

/*
 * An EndpointSlice of a meshed namespace: passed on whole (its fields are
 * at the top) with metadata cut to its name and the two labels sluice
 * reads (the Service's name, who manages it)
 */
static int sl_conv_endpointslice(const struct sl_k8s_res *r, json_object *o,
				 struct sl_k8s_obj **out, char *why,
				 size_t len)
{
	static const char *const keep[] = { "kubernetes.io/service-name",
					    "endpointslice.kubernetes.io/managed-by",
					    NULL };
	json_object *labels = sl_get(sl_get(o, "metadata"), "labels");
	json_object *j, *m, *l;
	const char *ns, *name;
	int ret;

	if (!sl_k8s_meta(o, &ns, &name) || !*ns) {
		snprintf(why, len, "an endpointslice without metadata.name or .namespace");
		return -EINVAL;
	}
	*out = sl_obj_new(ns, name);
	if (!*out)
		return -ENOMEM;
	(*out)->flags = SL_K8S_NS_GATED;
	j = json_object_new_object();
	m = sl_meta_new(ns, name);
	l = json_object_new_object();
	if (!j || !m || !l) {
		json_object_put(j);
		json_object_put(m);
		json_object_put(l);
		sl_k8s_obj_free(*out);
		*out = NULL;
		return -ENOMEM;
	}
	for (size_t i = 0; keep[i]; i++) {
		json_object *v = sl_get(labels, keep[i]);

		if (v && json_object_is_type(v, json_type_string))
			json_object_object_add(l, keep[i], json_object_get(v));
	}
	json_object_object_add(m, "labels", l);
	json_object_object_add(j, "apiVersion",
			       json_object_new_string("discovery.k8s.io/v1"));
	json_object_object_add(j, "kind", json_object_new_string("EndpointSlice"));
	json_object_object_add(j, "metadata", m);
	json_object_object_foreach(o, k, v)
	{
		if (strcmp(k, "apiVersion") && strcmp(k, "kind") &&
		    strcmp(k, "metadata"))
			json_object_object_add(j, k, json_object_get(v));
	}
	ret = sl_obj_add(r, *out, name, "", j);
	if (ret < 0) {
		sl_k8s_obj_free(*out);
		*out = NULL;
	}
	return ret;
}

static int sl_conv_istio(const struct sl_k8s_res *r, json_object *o,
			 struct sl_k8s_obj **out, char *why, size_t len)
{
	const char *ns, *name, *av = sl_get_str(o, "apiVersion");
	char buf[96];
	int ret;

	if (!sl_k8s_meta(o, &ns, &name) || !*ns) {
		snprintf(why, len, "an object without metadata.name or .namespace");
		return -EINVAL;
	}
	if (!av) { /* a list's items carry no apiVersion */
		snprintf(buf, sizeof(buf), "%s/%s", r->group, r->versions[0]);
		av = buf;
	}
	*out = sl_obj_new(ns, name);
	if (!*out)
		return -ENOMEM;
	ret = sl_obj_add(r, *out, name, "", sl_passed_on(av, r->kind, o, ns,
							  name));
	if (ret < 0) {
		sl_k8s_obj_free(*out);
		*out = NULL;
	}
	return ret;
}

/*
 * A Node: its addresses (InternalIP, ExternalIP), so that the destination
 * knows which node a connection comes from (the node binding)
 */
static int sl_conv_node(const struct sl_k8s_res *r, json_object *o,
			struct sl_k8s_obj **out, char *why, size_t len)
{
	json_object *l = sl_get(sl_get(o, "status"), "addresses");
	const char *ns, *name;
	size_t n;

	(void)r;
	if (!sl_k8s_meta(o, &ns, &name)) {
		snprintf(why, len, "a node without metadata.name");
		return -EINVAL;
	}
	*out = sl_obj_new("", name);
	if (!*out)
		return -ENOMEM;
	if (!l || !json_object_is_type(l, json_type_array))
		return 0;
	n = json_object_array_length(l);
	(*out)->ips = calloc(n ? n : 1, sizeof(*(*out)->ips));
	if (!(*out)->ips) {
		sl_k8s_obj_free(*out);
		*out = NULL;
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *a = json_object_array_get_idx(l, i);
		const char *type = sl_get_str(a, "type");
		const char *addr = sl_get_str(a, "address");
		struct sl_ip ip;

		if (!type || !addr || (strcmp(type, "InternalIP") &&
				       strcmp(type, "ExternalIP")))
			continue;
		if (sl_ip_parse(addr, &ip) == 0)
			(*out)->ips[(*out)->n_ips++] = ip;
	}
	return 0;
}

static const char *const sl_v1[] = { "v1", NULL };
static const char *const sl_istio_net[] = { "v1", "v1beta1", "v1alpha3",
					    NULL };
static const char *const sl_istio_sec[] = { "v1", "v1beta1", NULL };

/* Namespaces first: what is meshed is known before the pods are */
const struct sl_k8s_res sl_k8s_resources[] = {
	{ "namespaces", NULL, sl_v1, "namespaces", "Namespace", NULL,
	  sl_conv_namespace },
	{ "pods", NULL, sl_v1, "pods", "Pod", NULL, sl_conv_pod },
	{ "services", NULL, sl_v1, "services", "Service", NULL,
	  sl_conv_service },
	/* the slices of Services without a selector (written, or mirrored from
	   Endpoints): the controller's would repeat the pods, at scale */
	{ "discovery.k8s.io/endpointslices", "discovery.k8s.io", sl_v1,
	  "endpointslices", "EndpointSlice",
	  "endpointslice.kubernetes.io/managed-by!=endpointslice-controller.k8s.io",
	  sl_conv_endpointslice },
	{ "networking.istio.io/virtualservices", "networking.istio.io",
	  sl_istio_net, "virtualservices", "VirtualService", NULL,
	  sl_conv_istio },
	{ "networking.istio.io/destinationrules", "networking.istio.io",
	  sl_istio_net, "destinationrules", "DestinationRule", NULL,
	  sl_conv_istio },
	{ "networking.istio.io/serviceentries", "networking.istio.io",
	  sl_istio_net, "serviceentries", "ServiceEntry", NULL,
	  sl_conv_istio },
	{ "networking.istio.io/workloadentries", "networking.istio.io",
	  sl_istio_net, "workloadentries", "WorkloadEntry", NULL,
	  sl_conv_istio },
	{ "security.istio.io/peerauthentications", "security.istio.io",
	  sl_istio_sec, "peerauthentications", "PeerAuthentication", NULL,
	  sl_conv_istio },
	{ "security.istio.io/authorizationpolicies", "security.istio.io",
	  sl_istio_sec, "authorizationpolicies", "AuthorizationPolicy", NULL,
	  sl_conv_istio },
	/* no documents: the node binding asks sl_k8s_node_of() */
	{ "nodes", NULL, sl_v1, "nodes", "Node", NULL, sl_conv_node },
};

const size_t sl_k8s_n_resources =
	sizeof(sl_k8s_resources) / sizeof(sl_k8s_resources[0]);

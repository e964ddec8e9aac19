/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One YAML document -> one resource: apiVersion and kind, metadata, then the
 * kind's spec decoder.  Unknown kinds and unsupported API versions are
 * errors.
 */
#include <errno.h>
#include <string.h>

#include "config_internal.h"

const char *const sl_kind_names[SL_K_COUNT] = {
	[SL_K_VIRTUALSERVICE] = "VirtualService",
	[SL_K_DESTINATIONRULE] = "DestinationRule",
	[SL_K_SERVICEENTRY] = "ServiceEntry",
	[SL_K_WORKLOADENTRY] = "WorkloadEntry",
	[SL_K_SERVICE] = "Service",
	[SL_K_PEERAUTHENTICATION] = "PeerAuthentication",
	[SL_K_AUTHORIZATIONPOLICY] = "AuthorizationPolicy",
	[SL_K_NODE] = "Node",
	[SL_K_ENDPOINTSLICE] = "EndpointSlice",
};

static const char *const sl_net_versions[] = {
	"networking.istio.io/v1", "networking.istio.io/v1beta1",
	"networking.istio.io/v1alpha3", NULL
};
static const char *const sl_sec_versions[] = {
	"security.istio.io/v1", "security.istio.io/v1beta1", NULL
};
static const char *const sl_core_versions[] = { "v1", NULL };
static const char *const sl_node_versions[] = { "sluice.io/v1alpha1", NULL };
static const char *const sl_discovery_versions[] = { "discovery.k8s.io/v1",
						     NULL };

static const struct {
	const char *const *versions;
	size_t size;
} sl_kinds[SL_K_COUNT] = {
	[SL_K_VIRTUALSERVICE] = { sl_net_versions, sizeof(struct sl_vs) },
	[SL_K_DESTINATIONRULE] = { sl_net_versions, sizeof(struct sl_dr) },
	[SL_K_SERVICEENTRY] = { sl_net_versions, sizeof(struct sl_se) },
	[SL_K_WORKLOADENTRY] = { sl_net_versions, sizeof(struct sl_we) },
	[SL_K_SERVICE] = { sl_core_versions, sizeof(struct sl_svc) },
	[SL_K_PEERAUTHENTICATION] = { sl_sec_versions, sizeof(struct sl_pa) },
	[SL_K_AUTHORIZATIONPOLICY] = { sl_sec_versions, sizeof(struct sl_ap) },
	[SL_K_NODE] = { sl_node_versions, sizeof(struct sl_noderes) },
	[SL_K_ENDPOINTSLICE] = { sl_discovery_versions, sizeof(struct sl_eps) },
};

static bool sl_decode_metadata(struct sl_dec *d, const struct sl_ynode *root,
			       struct sl_res *r)
{
	static const char *const known[] = {
		"name", "namespace", "labels", "annotations",
		/* Kubernetes bookkeeping, accepted and ignored */
		"uid", "resourceVersion", "generation", "creationTimestamp",
		"managedFields", "selfLink", "ownerReferences", "finalizers",
		"generateName", "deletionTimestamp",
		"deletionGracePeriodSeconds", NULL
	};
	const struct sl_ynode *md = sl_ymap_get(root, "metadata");
	struct sl_label *ann;
	size_t n_ann, old;
	bool ok = true;

	if (!md) {
		sl_dec_key_err(d, root, "metadata", "required field is missing");
		return false;
	}
	old = sl_dec_push_key(d, "metadata");
	if (!sl_dec_fields(d, md, known, NULL))
		ok = false;
	if (sl_dec_str(d, md, "name", &r->name) == 0) {
		sl_dec_key_err(d, md, "name", "required field is missing");
		ok = false;
	} else if (r->name && !sl_dns1123_valid(r->name, false)) {
		sl_dec_key_err(d, sl_ymap_get(md, "name"), "name",
			       "\"%s\" is not a valid DNS-1123 name", r->name);
		ok = false;
	}
	if (sl_dec_str(d, md, "namespace", &r->ns) == 1 &&
	    !sl_dns1123_valid(r->ns, true)) {
		sl_dec_key_err(d, sl_ymap_get(md, "namespace"), "namespace",
			       "\"%s\" is not a valid namespace name", r->ns);
		ok = false;
	}
	if (!r->ns)
		r->ns = "default";
	if (sl_dec_labels(d, md, "labels", &r->labels, &r->n_labels) < 0 ||
	    sl_dec_labels(d, md, "annotations", &ann, &n_ann) < 0)
		ok = false;
	sl_dec_pop(d, old);
	return ok;
}

static bool sl_decode_spec(struct sl_dec *d, const struct sl_ynode *spec,
			   struct sl_res *r)
{
	switch (r->kind) {
	case SL_K_VIRTUALSERVICE:
		return sl_kind_virtualservice(d, spec, (struct sl_vs *)r);
	case SL_K_DESTINATIONRULE:
		return sl_kind_destinationrule(d, spec, (struct sl_dr *)r);
	case SL_K_SERVICEENTRY:
		return sl_kind_serviceentry(d, spec, (struct sl_se *)r);
	case SL_K_WORKLOADENTRY:
		return sl_kind_workloadentry(d, spec, (struct sl_we *)r);
	case SL_K_SERVICE:
		return sl_kind_service(d, spec, (struct sl_svc *)r);
	case SL_K_PEERAUTHENTICATION:
		return sl_kind_peerauthentication(d, spec, (struct sl_pa *)r);
	case SL_K_AUTHORIZATIONPOLICY:
		return sl_kind_authorizationpolicy(d, spec, (struct sl_ap *)r);
	case SL_K_NODE:
		return sl_kind_node(d, spec, (struct sl_noderes *)r);
	case SL_K_ENDPOINTSLICE: /* decoded from the root (no spec) */
	case SL_K_COUNT:
		break;
	}
	return false;
}

/*
 * Is a document of an unknown kind mesh configuration (then sluice must
 * refuse it: ignoring it would leave the mesh doing less than the file
 * says) or something else that shares the directory (a Deployment, a
 * ServiceAccount: skipped with a warning, as istioctl analyze does)?
 * Mesh configuration: every *.istio.io and sluice.io group, the Kubernetes
 * Gateway API, and List (which may wrap any of those).
 */
static bool sl_is_mesh_api(const char *kind, const char *version)
{
	const char *slash, *group;
	size_t glen;

	if (!version || !strcmp(kind, "List"))
		return true;
	slash = strchr(version, '/');
	if (!slash)
		return false; /* the core group: "v1" */
	group = version;
	glen = (size_t)(slash - version);
	if (glen >= 8 && !memcmp(group + glen - 8, "istio.io", 8))
		return true;
	return (glen == 9 && !memcmp(group, "sluice.io", 9)) ||
	       (glen == 25 && !memcmp(group, "gateway.networking.k8s.io", 25));
}

/* a document of another kind than sluice's that is not mesh configuration:
 * warn and skip it (before its fields are checked against our schema) */
static bool sl_skip_foreign(struct sl_dec *d, const struct sl_ynode *root)
{
	const struct sl_ynode *kn = sl_ymap_get(root, "kind");
	const struct sl_ynode *vn = sl_ymap_get(root, "apiVersion");
	size_t old;

	if (!kn || !vn || kn->type != SL_YSCALAR || vn->type != SL_YSCALAR)
		return false;
	for (int k = 0; k < SL_K_COUNT; k++)
		if (!strcmp(kn->str, sl_kind_names[k]))
			return false;
	if (sl_is_mesh_api(kn->str, vn->str))
		return false;
	old = sl_dec_push_key(d, "kind");
	sl_dec_warn(d, kn, "%s (%s) is not mesh configuration: skipped",
		    kn->str, vn->str);
	sl_dec_pop(d, old);
	return true;
}

void sl_cfg_decode_doc(struct sl_config *cfg, struct sl_cfg_errs *errs,
		       const char *file, const struct sl_ynode *root)
{
	static const char *const known[] = { "apiVersion", "kind", "metadata",
					     "spec", "status", NULL };
	/* the fields of an EndpointSlice are at the top */
	static const char *const known_eps[] = { "apiVersion", "kind",
						 "metadata", "addressType",
						 "endpoints", "ports", NULL };
	struct sl_dec d = { .a = &cfg->arena, .errs = errs,
			    .warns = &cfg->warns, .file = file };
	const char *kind = NULL, *version = NULL;
	struct sl_resources *res = &cfg->res;
	const struct sl_ynode *spec, *kn;
	struct sl_res *r;
	int k, kret, vret;
	bool ok, vok = false, eps;

	if (sl_ynode_is_null(root))
		return; /* an empty document */
	if (root->type == SL_YMAP && sl_skip_foreign(&d, root))
		return;
	kn = sl_ymap_get(root, "kind");
	eps = kn && kn->type == SL_YSCALAR &&
	      !strcmp(kn->str, sl_kind_names[SL_K_ENDPOINTSLICE]);
	if (eps)
		d.kind = sl_kind_names[SL_K_ENDPOINTSLICE];
	ok = sl_dec_fields(&d, root, eps ? known_eps : known, NULL);
	if (root->type != SL_YMAP)
		return;
	kret = sl_dec_str(&d, root, "kind", &kind);
	vret = sl_dec_str(&d, root, "apiVersion", &version);
	if (kret == 0)
		sl_dec_key_err(&d, root, "kind", "required field is missing");
	if (vret == 0)
		sl_dec_key_err(&d, root, "apiVersion",
			       "required field is missing");
	if (kret != 1)
		return;
	for (k = 0; k < SL_K_COUNT; k++)
		if (strcmp(kind, sl_kind_names[k]) == 0)
			break;
	if (k == SL_K_COUNT) {
		sl_dec_key_err(&d, sl_ymap_get(root, "kind"), "kind",
			       "unknown kind \"%s\"", kind);
		return;
	}
	if (vret == 1) {
		for (size_t i = 0; sl_kinds[k].versions[i]; i++)
			if (strcmp(version, sl_kinds[k].versions[i]) == 0)
				vok = true;
		if (!vok)
			sl_dec_key_err(&d, sl_ymap_get(root, "apiVersion"),
				       "apiVersion",
				       "unsupported apiVersion \"%s\" for kind %s (want %s)",
				       version, kind, sl_kinds[k].versions[0]);
	}
	if (!vok)
		return;
	r = sl_arena_alloc(&cfg->arena, sl_kinds[k].size);
	if (!r)
		return;
	r->kind = (enum sl_kind)k;
	d.kind = sl_kind_names[k]; /* the field ledger's kind (ledger.h) */
	r->pos.file = file;
	r->pos.line = root->line;
	r->pos.col = root->col;
	r->pos.path = "";
	if (!sl_decode_metadata(&d, root, r))
		ok = false;
	d.ns = r->ns;
	spec = sl_ymap_get(root, "spec");
	if (r->kind == SL_K_ENDPOINTSLICE) {
		if (!sl_kind_endpointslice(&d, root, (struct sl_eps *)r))
			ok = false;
	} else {
		size_t old = sl_dec_push_key(&d, "spec");

		if (spec && !sl_dec_is_map(&d, spec))
			ok = false;
		else if (!sl_decode_spec(&d, spec, r))
			ok = false;
		sl_dec_pop(&d, old);
	}
	if (!ok || d.nerr)
		return; /* errors reported; keep it out of the model */
	if (sl_arena_grow(&cfg->arena, &res->v[k], &res->cap[k], res->n[k],
			  sizeof(*res->v[k])) < 0)
		return;
	res->v[k][res->n[k]++] = r;
}

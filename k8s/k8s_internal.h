/* SPDX-License-Identifier: Apache-2.0 */
/* Private to k8s/: the resource table, the object store, documents. */
#ifndef SL_K8S_INTERNAL_H
#define SL_K8S_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "ip.h"

#define SL_K8S_MAX_EVENT (16u << 20) /* one watch line (the API's objects are
					at most ~1.5 MiB in etcd) */
#define SL_K8S_MAX_PAGE (256u << 20) /* one list response */

/** One immutable configuration document (refcounted; one allocation). */
struct sl_k8s_doc {
	atomic_uint refs;
	uint32_t len;
	const char *name; /* sorts the documents: "~k8s/<res>/<ns>/<name>" */
	const char *path; /* "kubernetes:<res>/<ns>/<name>" */
	const char *text; /* the JSON document, NUL-terminated */
	/* its decoded resource, kept by the configuration load on the
	   reload thread (sl_config_doc.cache); freed with the document */
	struct sl_config_cached *cache;
	char buf[];	  /* name, path, then the JSON text */
};

struct sl_k8s_doc *sl_k8s_doc_new(const char *res, const char *ns,
				  const char *name, const char *suffix,
				  const char *text, size_t len);
struct sl_k8s_doc *sl_k8s_doc_get(struct sl_k8s_doc *d);
void sl_k8s_doc_put(struct sl_k8s_doc *d);

/* what an object says about mesh membership */
enum {
	SL_K8S_MESHED = 1u << 0,  /* a Namespace that is in the mesh */
	SL_K8S_OPT_OUT = 1u << 1, /* a Pod that opted out */
	SL_K8S_NS_GATED = 1u << 2, /* its documents count only if its
				      namespace is meshed (Pods, Services) */
};

/** One object as held: its documents (a Pod may give one per address). */
struct sl_k8s_obj {
	char *key;  /* "<ns>/<name>" ("/<name>" for cluster-scoped) */
	char *ns;   /* "" for cluster-scoped */
	unsigned int flags;
	size_t n_docs;
	struct sl_k8s_doc **docs;
	size_t n_ips;	   /* a Node: its addresses (status.addresses) */
	struct sl_ip *ips;
};

void sl_k8s_obj_free(struct sl_k8s_obj *o);

/** Objects of one resource, sorted by key. */
struct sl_k8s_store {
	struct sl_k8s_obj **v;
	size_t n, cap;
};

/** sl_k8s_store_put - insert or replace (takes @o); -ENOMEM frees @o */
int sl_k8s_store_put(struct sl_k8s_store *s, struct sl_k8s_obj *o);
/** sl_k8s_store_del - remove @key; true if it was there */
bool sl_k8s_store_del(struct sl_k8s_store *s, const char *key);
struct sl_k8s_obj *sl_k8s_store_find(const struct sl_k8s_store *s,
				     const char *key);
void sl_k8s_store_clear(struct sl_k8s_store *s);

/**
 * How one resource is watched and what its objects become.
 * @convert: @o (an object as the API serves it) into *@out (NULL: the
 *           object gives nothing, e.g. a pod without an IP); -EINVAL with
 *           @why for an object that cannot be read
 */
struct sl_k8s_res {
	const char *name;	/* "pods", "networking.istio.io/virtualservices" */
	const char *group;	/* NULL for the core group */
	const char *const *versions; /* tried in order */
	const char *plural;
	const char *kind;
	const char *label_selector; /* of the list and watch, or NULL */
	int (*convert)(const struct sl_k8s_res *r, json_object *o,
		       struct sl_k8s_obj **out, char *why, size_t len);
};

/**
 * A list answer read as it arrives (listscan.c): each element of "items"
 * goes to @on_item and the list's "metadata" to @on_meta, each as its own
 * JSON text, while only the bytes of the value being read are held.
 */
struct sl_k8s_lscan {
	int state, err;
	char *buf;	/* unconsumed bytes from pos to len */
	size_t len, cap, pos;
	size_t max_value; /* one value longer than this: -E2BIG */
	size_t items;	  /* items handed on */
	bool key_items, key_meta, in_items;
	int (*on_item)(void *arg, const char *s, size_t n);
	int (*on_meta)(void *arg, const char *s, size_t n);
	void *arg;
};

/** sl_k8s_lscan_init - ready for a new answer (keeps the buffer) */
void sl_k8s_lscan_init(struct sl_k8s_lscan *ls, size_t max_value,
		       int (*on_item)(void *, const char *, size_t),
		       int (*on_meta)(void *, const char *, size_t), void *arg);
/**
 * sl_k8s_lscan_feed - the next @n bytes of the answer
 * @retval 0; -EINVAL not a list object; -E2BIG a value too long; -ENOMEM;
 *         or a callback's negative return (the scan stops there)
 */
int sl_k8s_lscan_feed(struct sl_k8s_lscan *ls, const char *p, size_t n);
/** sl_k8s_lscan_end - the answer is over: 0 if it was whole, else < 0 */
int sl_k8s_lscan_end(struct sl_k8s_lscan *ls);
void sl_k8s_lscan_free(struct sl_k8s_lscan *ls);

extern const struct sl_k8s_res sl_k8s_resources[];
extern const size_t sl_k8s_n_resources;

/** sl_k8s_meta - metadata.namespace (or "") and .name of @o; false if none */
bool sl_k8s_meta(json_object *o, const char **ns, const char **name);

#endif /* SL_K8S_INTERNAL_H */

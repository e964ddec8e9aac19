/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the input is one object as the Kubernetes API would
 * serve it (JSON).  It goes through every resource's conversion (k8s/
 * resources.c), and the documents it gives are loaded the way sluiced
 * loads the API's view (sl_config_load_files, api documents: a bad one is
 * left out and reported).  The same bytes go through the list scanner
 * (listscan.c) in pieces: when json-c reads them as an object whose
 * "items" is an array and the scanner accepts them too, it must have
 * handed on exactly those items.  Nothing may crash, leak or hang.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "k8s_internal.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_items {
	json_object *want; /* the items array json-c read, or NULL */
	size_t n;
	bool differ;
};

static int fz_item(void *arg, const char *s, size_t n)
{
	struct fz_items *it = arg;
	json_tokener *tok = json_tokener_new_ex(64);
	json_object *o = tok ? json_tokener_parse_ex(tok, s, (int)n) : NULL;

	if (it->want && (it->n >= json_object_array_length(it->want) ||
			 !o || !json_object_equal(
				 o, json_object_array_get_idx(it->want, it->n))))
		it->differ = true;
	it->n++;
	json_object_put(o);
	json_tokener_free(tok);
	return 0;
}

static int fz_meta(void *arg, const char *s, size_t n)
{
	(void)arg;
	(void)s;
	(void)n;
	return 0;
}

/* the scanner against json-c on the same bytes, in pieces of 1..16 */
static void fz_scan(const uint8_t *data, size_t size, json_object *o)
{
	struct fz_items it = { 0 };
	struct sl_k8s_lscan ls = { 0 };
	size_t step = size ? (size_t)data[0] % 16 + 1 : 1;
	json_object *items = NULL;
	int ret = 0;

	if (o && json_object_is_type(o, json_type_object) &&
	    json_object_object_get_ex(o, "items", &items) &&
	    json_object_is_type(items, json_type_array))
		it.want = items;
	sl_k8s_lscan_init(&ls, 1u << 20, fz_item, fz_meta, &it);
	for (size_t i = 0; i < size && !ret; i += step)
		ret = sl_k8s_lscan_feed(&ls, (const char *)data + i,
					size - i < step ? size - i : step);
	if (!ret)
		ret = sl_k8s_lscan_end(&ls);
	sl_k8s_lscan_free(&ls);
	/* both read it as a list: the same items (the scanner may refuse
	   what json-c takes: trailing bytes, comments, other non-JSON) */
	if (it.want && ret == 0 &&
	    (it.differ || it.n != json_object_array_length(it.want)))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	struct sl_config_doc docs[64];
	struct sl_k8s_obj *objs[16] = { 0 };
	struct sl_config_errors errs = { 0 };
	struct sl_config *cfg = NULL;
	json_tokener *tok;
	json_object *o;
	size_t n = 0;

	if (!quiet) {
		sl_log_init("fuzz-k8s", SL_LOG_ERR);
		quiet = true;
	}
	if (size > (1u << 20))
		return 0;
	tok = json_tokener_new_ex(64);
	if (!tok)
		return 0;
	o = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	json_tokener_free(tok);
	fz_scan(data, size, o);
	if (!o)
		return 0;
	for (size_t i = 0; i < sl_k8s_n_resources && i < 16; i++) {
		const struct sl_k8s_res *r = &sl_k8s_resources[i];
		char why[160];

		if (r->convert(r, o, &objs[i], why, sizeof(why)) < 0 || !objs[i])
			continue;
		for (size_t d = 0; d < objs[i]->n_docs && n < 64; d++) {
			struct sl_k8s_doc *doc = objs[i]->docs[d];

			docs[n++] = (struct sl_config_doc){
				.name = doc->name, .path = doc->path,
				.buf = doc->text, .len = doc->len, .api = true,
			};
		}
	}
	if (sl_config_load_files("kubernetes", docs, n, "node-a", &cfg,
				 &errs) == 0)
		sl_config_put(cfg);
	sl_config_errors_free(&errs);
	for (size_t i = 0; i < 16; i++)
		sl_k8s_obj_free(objs[i]);
	json_object_put(o);
	return 0;
}

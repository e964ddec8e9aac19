/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the input is one object as the Kubernetes API would
 * serve it (JSON).  It goes through every resource's conversion (k8s/
 * resources.c), and the documents it gives are loaded the way sluiced
 * loads the API's view (sl_config_load_files, api documents: a bad one is
 * left out and reported).  Nothing may crash, leak or hang.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "k8s_internal.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

/* SPDX-License-Identifier: Apache-2.0 */
/* Private to reload.c / reload_persist.c: the last-good copy. */
#ifndef SL_DAEMON_RELOAD_INTERNAL_H
#define SL_DAEMON_RELOAD_INTERNAL_H

#include "config.h"

/**
 * sl_reload_persist - store the YAML files of @dir as the last good copy of
 * @cfg under @state_dir (created if missing): <state_dir>/gen-<generation>/
 * and the symlink <state_dir>/last-good, swapped atomically.  The copy is
 * loaded back and kept only when its generation matches @cfg's (the
 * directory may have changed since @cfg was loaded).  Failures are logged.
 * @api: the API's view and Node addresses saved beside it, or NULL
 * @retval 0 or -errno
 */
/** What the Kubernetes API source adds to a copy. */
struct sl_persist_api {
	const struct sl_config_doc *docs; /* the view loaded with it */
	size_t n;
	const char *nodes; /* sl_k8s_nodes_save()'s text, or NULL */
	size_t nodes_len;
};

int sl_reload_persist(const char *state_dir, const char *dir,
		      const struct sl_config *cfg,
		      const struct sl_persist_api *api);

#define SL_PERSIST_VIEW ".kubernetes-view"
#define SL_PERSIST_NODES ".kubernetes-nodes" /* "<node> TAB <address>" lines */

/** The Kubernetes API's documents as saved beside a copy. */
struct sl_persisted_view {
	struct sl_config_doc *docs; /* point into buf */
	size_t n;
	char *buf;
};

/**
 * sl_persist_view_read - <dir>/.kubernetes-view
 * @retval 0, -ENOENT when there is none, -EINVAL (logged) when damaged
 */
int sl_persist_view_read(const char *dir, struct sl_persisted_view *v);
void sl_persisted_view_free(struct sl_persisted_view *v);

/** sl_reload_load_copy - a saved copy: its files and its saved view */
int sl_reload_load_copy(const char *path, const char *node_name,
			struct sl_config **out, struct sl_config_errors *errs);

/**
 * sl_reload_load_last_good - load <state_dir>/last-good
 * @out: the snapshot (one reference)
 * @retval 0, -ENOENT without a copy, or sl_config_load_dir's error
 */
int sl_reload_load_last_good(const char *state_dir, const char *node_name,
			     struct sl_config **out);

#endif /* SL_DAEMON_RELOAD_INTERNAL_H */

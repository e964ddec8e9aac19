/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The directory source: list the *.yaml / *.yml files of a directory
 * (ConfigMap layout aware: dot-files and "..data" skipped, symlinks
 * followed), sorted by name, and read each within the limits.  What the
 * files mean is config.c's business (sl_config_load_files); a Kubernetes
 * API source will hand documents to the same entry point.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

static int sl_name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sl_config_doc *)a)->name,
		      ((const struct sl_config_doc *)b)->name);
}

static bool sl_is_yaml_name(const char *n)
{
	size_t len = strlen(n);

	if (n[0] == '.')
		return false; /* dot-files and the ConfigMap ..data machinery */
	return (len > 5 && !strcmp(n + len - 5, ".yaml")) ||
	       (len > 4 && !strcmp(n + len - 4, ".yml"));
}

void sl_cfg_files_free(struct sl_config_doc *f, size_t n)
{
	for (size_t i = 0; f && i < n; i++) {
		free((char *)f[i].name);
		free((char *)f[i].path);
		free((char *)f[i].buf);
	}
	free(f);
}

int sl_cfg_read_dir(const char *dir, struct sl_config_doc **out, size_t *n_out,
		       struct sl_cfg_errs *errs)
{
	struct sl_config_doc *files = NULL;
	size_t n = 0, cap = 0, total = 0;
	struct dirent *de;
	DIR *d;
	int ret = 0;

	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char *path = NULL;

		if (!sl_is_yaml_name(de->d_name))
			continue;
		if (n == SL_CFG_MAX_FILES) {
			sl_cfg_err_add(errs, dir, 0, 0, NULL,
				       "more than %u configuration files",
				       SL_CFG_MAX_FILES);
			ret = -EINVAL;
			break;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct sl_config_doc *nf = realloc(files, ncap * sizeof(*nf));

			if (!nf) {
				ret = -ENOMEM;
				break;
			}
			files = nf;
			cap = ncap;
		}
		memset(&files[n], 0, sizeof(files[n]));
		files[n].name = strdup(de->d_name);
		if (!files[n].name ||
		    asprintf(&path, "%s%s%s", dir,
			     dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/",
			     de->d_name) < 0) {
			n++;
			ret = -ENOMEM;
			break;
		}
		files[n++].path = path;
	}
	closedir(d);
	if (ret < 0)
		goto out;
	sl_sort(files, n, sizeof(*files), sl_name_cmp);
	for (size_t i = 0; i < n; i++) {
		char *buf = NULL;
		int r = sl_read_file(files[i].path, SL_CFG_MAX_FILE_SIZE,
				     &buf, &files[i].len);

		files[i].buf = buf;

		if (r == -EFBIG)
			sl_cfg_err_add(errs, files[i].path, 0, 0, NULL,
				       "file larger than %u bytes",
				       SL_CFG_MAX_FILE_SIZE);
		else if (r == -EISDIR || r == -EINVAL)
			sl_cfg_err_add(errs, files[i].path, 0, 0, NULL,
				       "not a regular file");
		else if (r == -ENOMEM)
			ret = r;
		else if (r < 0)
			sl_cfg_err_add(errs, files[i].path, 0, 0, NULL,
				       "cannot read: %s", strerror(-r));
		if (r < 0) {
			files[i].buf = NULL;
			continue;
		}
		total += files[i].len;
		if (total > SL_CFG_MAX_TOTAL_SIZE) {
			sl_cfg_err_add(errs, dir, 0, 0, NULL,
				       "configuration larger than %u bytes in total",
				       SL_CFG_MAX_TOTAL_SIZE);
			ret = -EINVAL;
			break;
		}
	}
out:
	*out = files;
	*n_out = n;
	return ret;
}

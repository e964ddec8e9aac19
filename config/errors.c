/* SPDX-License-Identifier: Apache-2.0 */
/* The error list of a load: "file:line:col: path: message", sorted. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

void sl_cfg_err_vadd(struct sl_cfg_errs *e, const char *file,
		     unsigned int line, unsigned int col, const char *path,
		     const char *fmt, va_list ap)
{
	struct sl_config_error *err;

	if (e->n >= SL_CFG_MAX_ERRORS) {
		e->truncated = true;
		return;
	}
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 16;
		struct sl_config_error *v = realloc(e->v, cap * sizeof(*v));

		if (!v) {
			e->truncated = true;
			return;
		}
		e->v = v;
		e->cap = cap;
	}
	err = &e->v[e->n];
	memset(err, 0, sizeof(*err));
	err->line = line;
	err->col = col;
	err->file = file ? strdup(file) : NULL;
	err->path = path && *path ? strdup(path) : NULL;
	if (vasprintf((char **)&err->message, fmt, ap) < 0)
		err->message = NULL;
	if ((file && !err->file) || (path && *path && !err->path) ||
	    !err->message) {
		free((char *)err->file);
		free((char *)err->path);
		free((char *)err->message);
		e->truncated = true;
		return;
	}
	e->n++;
}

void sl_cfg_err_add(struct sl_cfg_errs *e, const char *file, unsigned int line,
		    unsigned int col, const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sl_cfg_err_vadd(e, file, line, col, path, fmt, ap);
	va_end(ap);
}

static int sl_cfg_err_cmp(const struct sl_config_error *a,
			  const struct sl_config_error *b)
{
	int c;

	if (!a->file != !b->file)
		return a->file ? 1 : -1; /* directory-level errors first */
	if (a->file && (c = strcmp(a->file, b->file)) != 0)
		return c;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	return 0;
}

void sl_cfg_errs_sort(struct sl_cfg_errs *e)
{
	/* insertion sort: stable, and the list is short and nearly sorted */
	for (size_t i = 1; i < e->n; i++) {
		struct sl_config_error t = e->v[i];
		size_t j = i;

		while (j > 0 && sl_cfg_err_cmp(&e->v[j - 1], &t) > 0) {
			e->v[j] = e->v[j - 1];
			j--;
		}
		e->v[j] = t;
	}
}

void sl_config_errors_free(struct sl_config_errors *errs)
{
	if (!errs)
		return;
	for (size_t i = 0; i < errs->n; i++) {
		free((char *)errs->v[i].file);
		free((char *)errs->v[i].path);
		free((char *)errs->v[i].message);
	}
	free(errs->v);
	errs->v = NULL;
	errs->n = 0;
}

char *sl_config_error_format(const struct sl_config_error *e, const char *tag)
{
	char where[32] = "", *s;

	if (e->file && e->line)
		snprintf(where, sizeof(where), ":%u:%u", e->line, e->col);
	if (asprintf(&s, "%s%s%s%s%s%s%s", e->file ? e->file : "", where,
		     e->file ? ": " : "", e->path && *e->path ? e->path : "",
		     e->path && *e->path ? ": " : "", tag ? tag : "",
		     e->message) < 0)
		return NULL;
	return s;
}

static void sl_config_error_print(const struct sl_config_error *e,
				  const char *tag, FILE *out)
{
	char *s = sl_config_error_format(e, tag);

	/* out of memory: the message alone */
	fprintf(out, "%s\n", s ? s : e->message);
	free(s);
}

void sl_config_warning_print(const struct sl_config_error *w, FILE *out)
{
	sl_config_error_print(w, "warning: ", out);
}

void sl_config_errors_print(const struct sl_config_errors *errs, FILE *out)
{
	for (size_t i = 0; errs && i < errs->n; i++)
		sl_config_error_print(&errs->v[i], "", out);
}

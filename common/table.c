/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

struct sl_table {
	size_t ncols;
	size_t nrows;
	size_t cap;
	char **cells;	/* (nrows + 1) * ncols; row 0 is the header */
	char **pending; /* row under construction by sl_table_cellf */
};

struct sl_table *sl_table_new(size_t ncols, const char *const *headers)
{
	struct sl_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->ncols = ncols;
	t->pending = calloc(ncols, sizeof(char *));
	if (!t->pending || sl_table_add(t, headers) < 0) {
		sl_table_free(t);
		return NULL;
	}
	return t;
}

void sl_table_free(struct sl_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	if (t->pending)
		for (size_t i = 0; i < t->ncols; i++)
			free(t->pending[i]);
	free(t->pending);
	free(t->cells);
	free(t);
}

int sl_table_add(struct sl_table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **n = realloc(t->cells, cap * t->ncols * sizeof(char *));

		if (!n)
			return -ENOMEM;
		t->cells = n;
		t->cap = cap;
	}
	for (size_t c = 0; c < t->ncols; c++) {
		const char *s = cells[c] ? cells[c] : "-";
		char *dup = strdup(s);

		if (!dup) {
			while (c--)
				free(t->cells[t->nrows * t->ncols + c]);
			return -ENOMEM;
		}
		t->cells[t->nrows * t->ncols + c] = dup;
	}
	t->nrows++;
	return 0;
}

int sl_table_cellf(struct sl_table *t, size_t col, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	if (col >= t->ncols)
		return -EINVAL;
	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	free(t->pending[col]);
	t->pending[col] = s;
	return 0;
}

int sl_table_row_end(struct sl_table *t)
{
	int ret = sl_table_add(t, (const char *const *)t->pending);

	for (size_t i = 0; i < t->ncols; i++) {
		free(t->pending[i]);
		t->pending[i] = NULL;
	}
	return ret;
}

void sl_table_print(const struct sl_table *t, FILE *out)
{
	size_t *w = calloc(t->ncols, sizeof(size_t));

	if (!w)
		return;
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t l = strlen(t->cells[r * t->ncols + c]);

			if (l > w[c])
				w[c] = l;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];

			if (c + 1 == t->ncols)
				fputs(s, out);
			else
				fprintf(out, "%-*s  ", (int)w[c], s);
		}
		fputc('\n', out);
	}
	free(w);
}

void sl_table_dump(const struct sl_table *t, FILE *out)
{
	for (size_t r = 1; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];

			if (c)
				fputc('\t', out);
			fputs(*s && strcmp(s, "-") ? s : "(none)", out);
		}
		fputc('\n', out);
	}
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Aligned text tables for the CLI.  Rows are collected, then printed with
 * each column padded to its widest cell.  In "dump" mode cells are separated
 * by one tab and empty cells print as "(none)", a stable format for scripts.
 */
#ifndef SL_TABLE_H
#define SL_TABLE_H

#include <stddef.h>
#include <stdio.h>

struct sl_table;

/**
 * sl_table_new - create a table with @ncols columns named by @headers
 * @retval the table, or NULL on allocation failure; free with sl_table_free
 */
struct sl_table *sl_table_new(size_t ncols, const char *const *headers);

/** sl_table_free - free @t; NULL is accepted */
void sl_table_free(struct sl_table *t);

/**
 * sl_table_add - append a row of @ncols strings (copied; NULL prints "-")
 * @retval 0 or -ENOMEM
 */
int sl_table_add(struct sl_table *t, const char *const *cells);

/** sl_table_addf - set cell @col of the row being built, printf-style */
int sl_table_cellf(struct sl_table *t, size_t col, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/** sl_table_row_end - finish the row built with sl_table_cellf */
int sl_table_row_end(struct sl_table *t);

/** sl_table_print - print with a header line, columns aligned */
void sl_table_print(const struct sl_table *t, FILE *out);

/** sl_table_dump - print tab-separated, no header, "(none)" for empty */
void sl_table_dump(const struct sl_table *t, FILE *out);

#endif /* SL_TABLE_H */

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Streaming JSON writer.  The writer tracks nesting and commas; strings are
 * escaped (control characters, quotes, backslash; bytes >= 0x80 are copied,
 * callers pass UTF-8).  Output goes to a stdio stream (use open_memstream(3)
 * for a buffer).
 */
#ifndef SL_JSON_H
#define SL_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define SL_JSON_MAX_DEPTH 64

struct sl_json {
	FILE *out;
	int depth;
	bool pretty;
	bool need_comma[SL_JSON_MAX_DEPTH];
	bool after_key;
};

/** sl_json_init - start writing to @out; @pretty indents with two spaces */
void sl_json_init(struct sl_json *j, FILE *out, bool pretty);

void sl_json_obj_begin(struct sl_json *j);
void sl_json_obj_end(struct sl_json *j);
void sl_json_arr_begin(struct sl_json *j);
void sl_json_arr_end(struct sl_json *j);
/** sl_json_key - write an object key; the next value call gives its value */
void sl_json_key(struct sl_json *j, const char *key);
/** sl_json_str - write a string value; NULL writes null */
void sl_json_str(struct sl_json *j, const char *s);
void sl_json_int(struct sl_json *j, int64_t v);
void sl_json_uint(struct sl_json *j, uint64_t v);
void sl_json_double(struct sl_json *j, double v);
void sl_json_bool(struct sl_json *j, bool v);
void sl_json_null(struct sl_json *j);

/* key + value in one call */
void sl_json_kv_str(struct sl_json *j, const char *key, const char *s);
void sl_json_kv_int(struct sl_json *j, const char *key, int64_t v);
void sl_json_kv_uint(struct sl_json *j, const char *key, uint64_t v);
void sl_json_kv_bool(struct sl_json *j, const char *key, bool v);

/** sl_json_escape - write @s as a JSON string literal (with quotes) */
void sl_json_escape(FILE *out, const char *s);

#endif /* SL_JSON_H */

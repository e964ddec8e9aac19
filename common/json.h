/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Streaming JSON writer.  The writer tracks nesting and commas; strings are
 * escaped so that any byte string gives valid JSON: quotes, backslash and
 * control characters are escaped, well-formed UTF-8 is copied, and every
 * byte that is not part of well-formed UTF-8 (a stray continuation byte,
 * an overlong form, a surrogate, a truncated sequence, 0xC0, 0xC1, 0xF5 to
 * 0xFF) is written as \u00XX, its Latin-1 reading (a reader cannot tell
 * it from the character U+00XX: the value is readable, not byte-exact).
 * Output goes to a stdio stream (use open_memstream(3) for a buffer).
 */
#ifndef SL_JSON_H
#define SL_JSON_H

#include <stdbool.h>
#include <stddef.h>
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
/**
 * sl_json_str_max - write a string value of at most @max bytes between its
 * quotes (escapes counted as written), cut before the first character or
 * escape that does not fit; NULL writes null
 * @retval true when @s was cut
 */
bool sl_json_str_max(struct sl_json *j, const char *s, size_t max);
void sl_json_int(struct sl_json *j, int64_t v);
void sl_json_uint(struct sl_json *j, uint64_t v);
void sl_json_double(struct sl_json *j, double v);
void sl_json_bool(struct sl_json *j, bool v);
void sl_json_null(struct sl_json *j);

/* key + value in one call */
void sl_json_kv_str(struct sl_json *j, const char *key, const char *s);
bool sl_json_kv_str_max(struct sl_json *j, const char *key, const char *s,
			size_t max);
void sl_json_kv_int(struct sl_json *j, const char *key, int64_t v);
void sl_json_kv_uint(struct sl_json *j, const char *key, uint64_t v);
void sl_json_kv_bool(struct sl_json *j, const char *key, bool v);

/** sl_json_escape - write @s as a JSON string literal (with quotes) */
void sl_json_escape(FILE *out, const char *s);

#endif /* SL_JSON_H */

/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "json.h"
#include "util.h"

void sl_json_init(struct sl_json *j, FILE *out, bool pretty)
{
	j->out = out;
	j->depth = 0;
	j->pretty = pretty;
	j->after_key = false;
	for (int i = 0; i < SL_JSON_MAX_DEPTH; i++)
		j->need_comma[i] = false;
}

static void sl_json_indent(struct sl_json *j)
{
	if (!j->pretty)
		return;
	fputc('\n', j->out);
	for (int i = 0; i < j->depth; i++)
		fputs("  ", j->out);
}

/* Called before every value or key: comma and indentation. */
static void sl_json_pre(struct sl_json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (j->depth > 0) {
		if (j->need_comma[j->depth])
			fputc(',', j->out);
		j->need_comma[j->depth] = true;
		sl_json_indent(j);
	}
}

static void sl_json_open(struct sl_json *j, char c)
{
	sl_json_pre(j);
	fputc(c, j->out);
	if (j->depth < SL_JSON_MAX_DEPTH - 1)
		j->depth++;
	j->need_comma[j->depth] = false;
}

static void sl_json_close(struct sl_json *j, char c)
{
	bool had = j->need_comma[j->depth];

	if (j->depth > 0)
		j->depth--;
	if (had)
		sl_json_indent(j);
	fputc(c, j->out); /* at depth 0 the caller adds the final newline */
}

void sl_json_obj_begin(struct sl_json *j) { sl_json_open(j, '{'); }
void sl_json_obj_end(struct sl_json *j) { sl_json_close(j, '}'); }
void sl_json_arr_begin(struct sl_json *j) { sl_json_open(j, '['); }
void sl_json_arr_end(struct sl_json *j) { sl_json_close(j, ']'); }

/* the body of a string literal, at most @max bytes of it; true when @s
 * was cut (at a character or escape boundary) */
static bool escape_body(FILE *out, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	char esc[8];
	size_t n, len;

	while (*p) {
		const char *w = esc;

		n = 1;
		switch (*p) {
		case '"': w = "\\\""; break;
		case '\\': w = "\\\\"; break;
		case '\n': w = "\\n"; break;
		case '\r': w = "\\r"; break;
		case '\t': w = "\\t"; break;
		default:
			n = sl_utf8_len((const char *)p);
			if (n == 0 || *p < 0x20 || *p == 0x7f) {
				/* a control character, or a byte of no valid
				 * UTF-8 sequence: its Latin-1 reading */
				snprintf(esc, sizeof(esc), "\\u%04x", *p);
				n = 1;
			} else {
				w = NULL;
			}
		}
		len = w ? strlen(w) : n;
		if (len > max)
			return true;
		if (w)
			fputs(w, out);
		else
			fwrite(p, 1, n, out);
		max -= len;
		p += n;
	}
	return false;
}

void sl_json_escape(FILE *out, const char *s)
{
	fputc('"', out);
	escape_body(out, s, SIZE_MAX);
	fputc('"', out);
}

void sl_json_key(struct sl_json *j, const char *key)
{
	sl_json_pre(j);
	sl_json_escape(j->out, key);
	fputs(j->pretty ? ": " : ":", j->out);
	j->after_key = true;
}

void sl_json_str(struct sl_json *j, const char *s)
{
	if (!s) {
		sl_json_null(j);
		return;
	}
	sl_json_pre(j);
	sl_json_escape(j->out, s);
}

bool sl_json_str_max(struct sl_json *j, const char *s, size_t max)
{
	bool cut;

	if (!s) {
		sl_json_null(j);
		return false;
	}
	sl_json_pre(j);
	fputc('"', j->out);
	cut = escape_body(j->out, s, max);
	fputc('"', j->out);
	return cut;
}

void sl_json_int(struct sl_json *j, int64_t v)
{
	sl_json_pre(j);
	fprintf(j->out, "%" PRId64, v);
}

void sl_json_uint(struct sl_json *j, uint64_t v)
{
	sl_json_pre(j);
	fprintf(j->out, "%" PRIu64, v);
}

void sl_json_double(struct sl_json *j, double v)
{
	sl_json_pre(j);
	if (isfinite(v))
		fprintf(j->out, "%.17g", v);
	else
		fputs("null", j->out);
}

void sl_json_bool(struct sl_json *j, bool v)
{
	sl_json_pre(j);
	fputs(v ? "true" : "false", j->out);
}

void sl_json_null(struct sl_json *j)
{
	sl_json_pre(j);
	fputs("null", j->out);
}

void sl_json_kv_str(struct sl_json *j, const char *key, const char *s)
{
	sl_json_key(j, key);
	sl_json_str(j, s);
}

bool sl_json_kv_str_max(struct sl_json *j, const char *key, const char *s,
			size_t max)
{
	sl_json_key(j, key);
	return sl_json_str_max(j, s, max);
}

void sl_json_kv_int(struct sl_json *j, const char *key, int64_t v)
{
	sl_json_key(j, key);
	sl_json_int(j, v);
}

void sl_json_kv_uint(struct sl_json *j, const char *key, uint64_t v)
{
	sl_json_key(j, key);
	sl_json_uint(j, v);
}

void sl_json_kv_bool(struct sl_json *j, const char *key, bool v)
{
	sl_json_key(j, key);
	sl_json_bool(j, v);
}

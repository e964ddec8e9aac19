/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A list answer read as it arrives (k8s_internal.h, sl_k8s_lscan): an API
 * server answers a resourceVersion=0 list from its watch cache whole,
 * whatever the limit, so a large cluster's pods come as one JSON document
 * of hundreds of megabytes.  Rather than hold it and its parsed tree, this
 * scanner splits the top-level object as bytes come in and hands on each
 * element of "items" (and the list's "metadata") as its own JSON text,
 * keeping only the bytes of the value it is in.  It checks the structure
 * it walks (strings, nesting, separators); json-c checks each value.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "k8s_internal.h"

enum {
	SL_LS_START,	/* before the top-level '{' */
	SL_LS_KEY_OR_END, /* after '{': a key or '}' */
	SL_LS_KEY,	/* after ',': a key */
	SL_LS_COLON,
	SL_LS_VALUE,
	SL_LS_ITEM_OR_END, /* after "items": '[' */
	SL_LS_ITEM,	/* after ',' in items */
	SL_LS_ITEM_SEP,	/* after an item: ',' or ']' */
	SL_LS_AFTER,	/* after a member: ',' or '}' */
	SL_LS_DONE,
	SL_LS_ERROR,
};

void sl_k8s_lscan_init(struct sl_k8s_lscan *ls, size_t max_value,
		       int (*on_item)(void *, const char *, size_t),
		       int (*on_meta)(void *, const char *, size_t), void *arg)
{
	char *buf = ls->buf;
	size_t cap = ls->cap;

	memset(ls, 0, sizeof(*ls));
	ls->buf = buf; /* the buffer is kept for the next answer */
	ls->cap = cap;
	ls->max_value = max_value;
	ls->on_item = on_item;
	ls->on_meta = on_meta;
	ls->arg = arg;
}

void sl_k8s_lscan_free(struct sl_k8s_lscan *ls)
{
	free(ls->buf);
	memset(ls, 0, sizeof(*ls));
}

static bool sl_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * The length of the JSON value at @p (no leading whitespace): > 0 when it
 * is complete within @n bytes, 0 when more bytes are needed, -1 when it
 * cannot be JSON.  Scalars end at a delimiter, so one at the very end of
 * the buffer is incomplete.
 */
static long sl_json_span(const char *p, size_t n)
{
	size_t i = 0, depth = 0;
	bool str = false;

	if (!n)
		return 0;
	if (p[0] != '{' && p[0] != '[' && p[0] != '"') {
		/* number, true, false, null: up to a delimiter */
		for (i = 0; i < n; i++) {
			char c = p[i];

			if (c == ',' || c == '}' || c == ']' || sl_ws(c))
				return i ? (long)i : -1;
			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
			      c == '-' || c == '+' || c == '.' || c == 'E'))
				return -1;
		}
		return 0;
	}
	for (i = 0; i < n; i++) {
		char c = p[i];

		if (str) {
			if (c == '\\')
				i++; /* the escaped byte (\uXXXX: its digits are plain) */
			else if (c == '"')
				str = false;
			else if ((unsigned char)c < 0x20)
				return -1;
			if (!str && !depth)
				return (long)i + 1;
			continue;
		}
		switch (c) {
		case '"':
			str = true;
			break;
		case '{':
		case '[':
			if (++depth > 64)
				return -1;
			break;
		case '}':
		case ']':
			if (!depth)
				return -1;
			if (!--depth)
				return (long)i + 1;
			break;
		default:
			break;
		}
	}
	return 0;
}

/* make room for @n more bytes; drop what was consumed first */
static int sl_ls_room(struct sl_k8s_lscan *ls, size_t n)
{
	if (ls->pos) {
		memmove(ls->buf, ls->buf + ls->pos, ls->len - ls->pos);
		ls->len -= ls->pos;
		ls->pos = 0;
	}
	if (ls->len + n > ls->cap) {
		size_t cap = ls->cap ? ls->cap : 65536;
		char *b;

		while (cap < ls->len + n)
			cap *= 2;
		b = realloc(ls->buf, cap);
		if (!b)
			return -ENOMEM;
		ls->buf = b;
		ls->cap = cap;
	}
	return 0;
}

/* one step at ls->pos; 1 progressed, 0 needs more bytes, < 0 error */
static int sl_ls_step(struct sl_k8s_lscan *ls)
{
	const char *p = ls->buf + ls->pos;
	size_t n = ls->len - ls->pos;
	long span;
	int ret;

	while (n && sl_ws(*p)) {
		p++;
		n--;
		ls->pos++;
	}
	if (!n)
		return 0;
	switch (ls->state) {
	case SL_LS_START:
		if (*p != '{')
			return -EINVAL;
		ls->pos++;
		ls->state = SL_LS_KEY_OR_END;
		return 1;
	case SL_LS_KEY_OR_END:
	case SL_LS_KEY:
		if (*p == '}' && ls->state == SL_LS_KEY_OR_END) {
			ls->pos++;
			ls->state = SL_LS_DONE;
			return 1;
		}
		if (*p != '"')
			return -EINVAL;
		span = sl_json_span(p, n);
		if (span < 0)
			return -EINVAL;
		if (!span)
			return n > 256 ? -EINVAL : 0; /* no key is that long */
		ls->key_items = span == 7 && !memcmp(p, "\"items\"", 7);
		ls->key_meta = span == 10 && !memcmp(p, "\"metadata\"", 10);
		ls->pos += (size_t)span;
		ls->state = SL_LS_COLON;
		return 1;
	case SL_LS_COLON:
		if (*p != ':')
			return -EINVAL;
		ls->pos++;
		ls->state = ls->key_items ? SL_LS_ITEM_OR_END : SL_LS_VALUE;
		return 1;
	case SL_LS_ITEM_OR_END:
		if (!ls->in_items) {
			if (*p == 'n') {
				/* "items": null (an empty list, as Go writes one) */
				ls->state = SL_LS_VALUE;
				return 1;
			}
			if (*p != '[')
				return -EINVAL;
			ls->pos++;
			ls->in_items = true;
			return 1;
		}
		if (*p == ']') {
			ls->pos++;
			ls->in_items = false;
			ls->state = SL_LS_AFTER;
			return 1;
		}
		/* the first item */
		__attribute__((fallthrough));
	case SL_LS_ITEM:
	case SL_LS_VALUE:
		span = sl_json_span(p, n);
		if (span < 0)
			return -EINVAL;
		if (!span)
			return n > ls->max_value ? -E2BIG : 0;
		if (ls->state != SL_LS_VALUE) {
			ret = ls->on_item(ls->arg, p, (size_t)span);
			ls->items++;
		} else {
			ret = ls->key_meta ? ls->on_meta(ls->arg, p, (size_t)span) : 0;
		}
		if (ret < 0)
			return ret;
		ls->pos += (size_t)span;
		ls->state = ls->state == SL_LS_VALUE ? SL_LS_AFTER :
						       SL_LS_ITEM_SEP;
		return 1;
	case SL_LS_ITEM_SEP:
		if (*p == ',') {
			ls->state = SL_LS_ITEM;
		} else if (*p == ']') {
			ls->in_items = false;
			ls->state = SL_LS_AFTER;
		} else {
			return -EINVAL;
		}
		ls->pos++;
		return 1;
	case SL_LS_AFTER:
		if (*p == ',')
			ls->state = SL_LS_KEY;
		else if (*p == '}')
			ls->state = SL_LS_DONE;
		else
			return -EINVAL;
		ls->pos++;
		return 1;
	case SL_LS_DONE:
		return -EINVAL; /* bytes after the document */
	default:
		return -EINVAL;
	}
}

int sl_k8s_lscan_feed(struct sl_k8s_lscan *ls, const char *p, size_t n)
{
	int ret;

	if (ls->state == SL_LS_ERROR)
		return ls->err;
	ret = sl_ls_room(ls, n);
	if (ret < 0)
		goto fail;
	memcpy(ls->buf + ls->len, p, n);
	ls->len += n;
	while ((ret = sl_ls_step(ls)) > 0)
		;
	if (ret == 0)
		return 0;
fail:
	ls->state = SL_LS_ERROR;
	ls->err = ret;
	return ret;
}

int sl_k8s_lscan_end(struct sl_k8s_lscan *ls)
{
	if (ls->state == SL_LS_ERROR)
		return ls->err;
	for (size_t i = ls->pos; i < ls->len; i++)
		if (!sl_ws(ls->buf[i]))
			return -EINVAL;
	return ls->state == SL_LS_DONE ? 0 : -EINVAL;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libyaml event parser -> node tree, with line:col on every node and hard
 * limits: documents per file, nesting depth, nodes (with aliases expanded,
 * so "billion laughs" fails fast), standard tags only, no duplicate keys,
 * UTF-8 only (libyaml reports invalid sequences with their position).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config_internal.h"

struct sl_yanchor {
	const char *name;
	struct sl_ynode *node;
};

struct sl_yparse {
	struct sl_arena *a;
	struct sl_cfg_errs *errs;
	const char *file;
	struct sl_ynode *stack[SL_CFG_MAX_DEPTH + 1];
	unsigned int depth;
	struct sl_ynode *root;
	struct sl_yanchor *anchors;
	size_t n_anchors, cap_anchors;
	size_t nodes; /* in this file, aliases expanded */
	struct sl_ydoc *docs;
	size_t n_docs, cap_docs;
	bool in_doc;
};

static void sl_yerr(struct sl_yparse *p, const yaml_mark_t *m, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));

static void sl_yerr(struct sl_yparse *p, const yaml_mark_t *m, const char *fmt,
		    ...)
{
	va_list ap;

	va_start(ap, fmt);
	sl_cfg_err_vadd(p->errs, p->file, (unsigned int)m->line + 1,
			(unsigned int)m->column + 1, NULL, fmt, ap);
	va_end(ap);
}

static bool sl_ytag_ok(const unsigned char *tag, bool *is_str)
{
	static const char *const std[] = { "str", "int", "float", "bool",
					   "null", "map", "seq" };
	const char *t = (const char *)tag;
	const char *pfx = "tag:yaml.org,2002:";

	*is_str = false;
	if (!t || strcmp(t, "!") == 0) {
		*is_str = t != NULL; /* "! x" is a non-specific string */
		return true;
	}
	if (strncmp(t, pfx, strlen(pfx)) != 0)
		return false;
	t += strlen(pfx);
	for (size_t i = 0; i < SL_ARRAY_SIZE(std); i++)
		if (strcmp(t, std[i]) == 0) {
			*is_str = i == 0;
			return true;
		}
	return false;
}

static int sl_yanchor_add(struct sl_yparse *p, const unsigned char *name,
			  struct sl_ynode *n)
{
	if (!name)
		return 0;
	/* a redefined anchor shadows the earlier one: search from the end */
	if (sl_arena_grow(p->a, &p->anchors, &p->cap_anchors, p->n_anchors,
			  sizeof(*p->anchors)) < 0)
		return -ENOMEM;
	p->anchors[p->n_anchors].name =
		sl_arena_strdup(p->a, (const char *)name);
	p->anchors[p->n_anchors].node = n;
	if (!p->anchors[p->n_anchors].name)
		return -ENOMEM;
	p->n_anchors++;
	return 0;
}

static struct sl_ynode *sl_yanchor_find(struct sl_yparse *p,
					const unsigned char *name)
{
	for (size_t i = p->n_anchors; i-- > 0;)
		if (strcmp(p->anchors[i].name, (const char *)name) == 0)
			return p->anchors[i].node;
	return NULL;
}

static int sl_ynode_cmp_key(const void *a, const void *b)
{
	const struct sl_ynode *x = *(struct sl_ynode *const *)a;
	const struct sl_ynode *y = *(struct sl_ynode *const *)b;
	int c;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	c = memcmp(x->str, y->str, x->len);
	if (c)
		return c;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->col < y->col ? -1 : (x->col > y->col);
}

/* duplicate keys of a finished map: sort a copy, compare neighbours */
static int sl_ymap_check_dups(struct sl_yparse *p, struct sl_ynode *map)
{
	struct sl_ynode **keys;
	int ret = 0;

	if (map->n < 2)
		return 0;
	keys = malloc(map->n * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (size_t i = 0; i < map->n; i++)
		keys[i] = map->items[2 * i];
	sl_sort(keys, map->n, sizeof(*keys), sl_ynode_cmp_key);
	for (size_t i = 1; i < map->n; i++) {
		if (keys[i]->len == keys[i - 1]->len &&
		    memcmp(keys[i]->str, keys[i - 1]->str, keys[i]->len) == 0) {
			sl_cfg_err_add(p->errs, p->file, keys[i]->line,
				       keys[i]->col, NULL,
				       "duplicate key \"%s\" (first at line %u)",
				       keys[i]->str, keys[i - 1]->line);
			ret = -EINVAL;
			break;
		}
	}
	free(keys);
	return ret;
}

/* attach a finished (or aliased) node to its parent or the document */
static int sl_yattach(struct sl_yparse *p, struct sl_ynode *n,
		      const yaml_mark_t *m)
{
	struct sl_ynode *parent;

	if (p->depth == 0) {
		p->root = n;
		return 0;
	}
	parent = p->stack[p->depth - 1];
	if (parent->type == SL_YMAP && (parent->cap % 2 == 0) &&
	    n->type != SL_YSCALAR) {
		/* cap is used as the key/value toggle while building a map */
		sl_yerr(p, m, "mapping keys must be scalars");
		return -EINVAL;
	}
	if (parent->type == SL_YMAP) {
		size_t used = 2 * parent->n + (parent->cap % 2);
		size_t room = parent->cap / 2;

		if (used >= room) {
			size_t nroom = room ? room * 2 : 8;
			struct sl_ynode **v = sl_arena_array(p->a, nroom,
							     sizeof(*v));

			if (!v)
				return -ENOMEM;
			if (used)
				memcpy(v, parent->items, used * sizeof(*v));
			parent->items = v;
			parent->cap = nroom * 2 + (parent->cap % 2);
		}
		parent->items[used] = n;
		if (parent->cap % 2) {
			parent->n++;
			parent->cap--;
		} else {
			parent->cap++;
		}
		return 0;
	}
	if (sl_arena_grow(p->a, &parent->items, &parent->cap, parent->n,
			  sizeof(*parent->items)) < 0)
		return -ENOMEM;
	parent->items[parent->n++] = n;
	return 0;
}

static struct sl_ynode *sl_ynew(struct sl_yparse *p, enum sl_ytype type,
				const yaml_mark_t *m)
{
	struct sl_ynode *n;

	if (++p->nodes > SL_CFG_MAX_NODES) {
		sl_yerr(p, m, "document too large: more than %u nodes",
			SL_CFG_MAX_NODES);
		return NULL;
	}
	n = sl_arena_alloc(p->a, sizeof(*n));
	if (!n)
		return NULL;
	n->type = type;
	n->line = (unsigned int)m->line + 1;
	n->col = (unsigned int)m->column + 1;
	n->weight = 1;
	n->height = 1;
	return n;
}

static int sl_yevent(struct sl_yparse *p, yaml_event_t *ev)
{
	const yaml_mark_t *m = &ev->start_mark;
	struct sl_ynode *n;
	bool is_str;

	switch (ev->type) {
	case YAML_STREAM_START_EVENT:
	case YAML_STREAM_END_EVENT:
	case YAML_NO_EVENT:
		return 0;
	case YAML_DOCUMENT_START_EVENT:
		if (p->n_docs >= SL_CFG_MAX_DOCS) {
			sl_yerr(p, m, "more than %u documents in one file",
				SL_CFG_MAX_DOCS);
			return -EINVAL;
		}
		p->root = NULL;
		p->n_anchors = 0; /* anchors are per document */
		p->in_doc = true;
		return 0;
	case YAML_DOCUMENT_END_EVENT:
		if (sl_arena_grow(p->a, &p->docs, &p->cap_docs, p->n_docs,
				  sizeof(*p->docs)) < 0)
			return -ENOMEM;
		p->docs[p->n_docs++].root = p->root;
		p->in_doc = false;
		return 0;
	case YAML_ALIAS_EVENT:
		n = sl_yanchor_find(p, ev->data.alias.anchor);
		if (!n) {
			sl_yerr(p, m, "unknown alias *%s",
				(const char *)ev->data.alias.anchor);
			return -EINVAL;
		}
		if (n->weight > SL_CFG_MAX_NODES - p->nodes) {
			sl_yerr(p, m, "alias expansion exceeds limit of %u nodes",
				SL_CFG_MAX_NODES);
			return -EINVAL;
		}
		p->nodes += n->weight;
		if (p->depth + n->height > SL_CFG_MAX_DEPTH) {
			sl_yerr(p, m, "nesting deeper than %u levels",
				SL_CFG_MAX_DEPTH);
			return -EINVAL;
		}
		return sl_yattach(p, n, m);
	case YAML_SCALAR_EVENT:
		if (!sl_ytag_ok(ev->data.scalar.tag, &is_str)) {
			sl_yerr(p, m, "YAML tag %s is not supported",
				(const char *)ev->data.scalar.tag);
			return -EINVAL;
		}
		n = sl_ynew(p, SL_YSCALAR, m);
		if (!n)
			return p->a->failed ? -ENOMEM : -EINVAL;
		n->str = sl_arena_strndup(p->a, (const char *)ev->data.scalar.value,
					  ev->data.scalar.length);
		if (!n->str)
			return -ENOMEM;
		n->len = ev->data.scalar.length;
		n->plain = !is_str &&
			   ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		if (p->depth + 1 > SL_CFG_MAX_DEPTH) {
			sl_yerr(p, m, "nesting deeper than %u levels",
				SL_CFG_MAX_DEPTH);
			return -EINVAL;
		}
		if (sl_yanchor_add(p, ev->data.scalar.anchor, n) < 0)
			return -ENOMEM;
		return sl_yattach(p, n, m);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		bool seq = ev->type == YAML_SEQUENCE_START_EVENT;
		const unsigned char *tag = seq ? ev->data.sequence_start.tag :
						 ev->data.mapping_start.tag;
		const unsigned char *anchor = seq ?
			ev->data.sequence_start.anchor :
			ev->data.mapping_start.anchor;

		if (!sl_ytag_ok(tag, &is_str) || is_str) {
			sl_yerr(p, m, "YAML tag %s is not supported",
				(const char *)tag);
			return -EINVAL;
		}
		if (p->depth >= SL_CFG_MAX_DEPTH) {
			sl_yerr(p, m, "nesting deeper than %u levels",
				SL_CFG_MAX_DEPTH);
			return -EINVAL;
		}
		n = sl_ynew(p, seq ? SL_YSEQ : SL_YMAP, m);
		if (!n)
			return p->a->failed ? -ENOMEM : -EINVAL;
		/* a map key must be a scalar: checked when attaching, but the
		 * container is attached on its end event; check now */
		if (p->depth > 0 && p->stack[p->depth - 1]->type == SL_YMAP &&
		    p->stack[p->depth - 1]->cap % 2 == 0) {
			sl_yerr(p, m, "mapping keys must be scalars");
			return -EINVAL;
		}
		p->stack[p->depth++] = n;
		/* the anchor is registered on the end event, when the node is
		 * complete (so "&a [*a]" is an unknown alias); keep its name */
		if (anchor) {
			n->str = sl_arena_strdup(p->a, (const char *)anchor);
			if (!n->str)
				return -ENOMEM;
		}
		return 0;
	}
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT: {
		const char *anchor;
		int ret;

		n = p->stack[--p->depth];
		anchor = n->str;
		n->str = NULL;
		if (n->type == SL_YMAP) {
			n->cap = 0;
			ret = sl_ymap_check_dups(p, n);
			if (ret < 0)
				return ret;
		}
		for (size_t i = 0; i < (n->type == SL_YMAP ? 2 * n->n : n->n);
		     i++) {
			const struct sl_ynode *c = n->items[i];

			n->weight += c->weight;
			if (c->height + 1 > n->height)
				n->height = c->height + 1;
		}
		if (n->weight > SL_CFG_MAX_NODES)
			n->weight = SL_CFG_MAX_NODES + 1;
		if (anchor && sl_yanchor_add(p, (const unsigned char *)anchor,
					     n) < 0)
			return -ENOMEM;
		return sl_yattach(p, n, m);
	}
	}
	return 0;
}

/*
 * The bytes libyaml's reader refused, as "bytes 0xc3 0x28" (the sequence
 * that starts at @off, as long as its leading byte says, cut at @len), and
 * the code point when the reader decoded one (@value >= 0x80: "U+D800").
 * libyaml's problem_value is the code point for some errors, a single
 * octet for others and -1 for a sequence cut short by the end of the file,
 * so the bytes come from the buffer, not from it.
 */
static const char *sl_ybytes(const char *buf, size_t len, size_t off,
			     int value, char *out, size_t outlen)
{
	const unsigned char *b = (const unsigned char *)buf;
	size_t n = 1, used = 0;
	int w;

	if (off >= len) {
		snprintf(out, outlen, "end of file");
		return out;
	}
	if (b[off] >= 0xf0 && b[off] <= 0xf7)
		n = 4;
	else if (b[off] >= 0xe0 && b[off] <= 0xef)
		n = 3;
	else if (b[off] >= 0xc0 && b[off] <= 0xdf)
		n = 2;
	n = SL_MIN(n, len - off);
	w = snprintf(out, outlen, "byte%s", n > 1 ? "s" : "");
	used = w > 0 ? (size_t)w : 0;
	for (size_t i = 0; i < n && used < outlen; i++) {
		w = snprintf(out + used, outlen - used, " 0x%02x", b[off + i]);
		used += w > 0 ? (size_t)w : 0;
	}
	if (n > 1 && value >= 0x80 && used < outlen)
		snprintf(out + used, outlen - used, ", U+%04X",
			 (unsigned int)value);
	return out;
}

int sl_yaml_parse(struct sl_arena *a, const char *file, const char *buf,
		  size_t len, struct sl_yfile *out, struct sl_cfg_errs *errs)
{
	struct sl_yparse p = { .a = a, .errs = errs, .file = file };
	char what[64];
	yaml_parser_t parser;
	yaml_event_t ev;
	int ret = 0;

	out->docs = NULL;
	out->n_docs = 0;
	/* a UTF-8 byte-order mark (editors on Windows write one) is not
	 * content; UTF-16/32 ones name what the file really is */
	if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3)) {
		buf += 3;
		len -= 3;
	} else if (len >= 2 && (!memcmp(buf, "\xff\xfe", 2) ||
				!memcmp(buf, "\xfe\xff", 2))) {
		sl_cfg_err_add(errs, file, 1, 1, NULL,
			       "UTF-16 or UTF-32 (byte-order mark 0x%02x 0x%02x): files must be UTF-8",
			       (unsigned char)buf[0], (unsigned char)buf[1]);
		return -EINVAL;
	}
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	for (;;) {
		if (!yaml_parser_parse(&parser, &ev)) {
			if (parser.error == YAML_MEMORY_ERROR) {
				ret = -ENOMEM;
			} else if (parser.error == YAML_READER_ERROR) {
				/* the reader has no mark: position from offset */
				yaml_mark_t m = { 0 };
				size_t off = SL_MIN(parser.problem_offset, len);

				for (size_t i = 0; i < off; i++) {
					if (buf[i] == '\n') {
						m.line++;
						m.column = 0;
					} else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
						m.column++;
					}
				}
				sl_yerr(&p, &m, "%s (%s): files must be UTF-8",
					parser.problem ? parser.problem :
							 "invalid input",
					sl_ybytes(buf, len, off,
						  parser.problem_value, what,
						  sizeof(what)));
				ret = -EINVAL;
			} else {
				sl_yerr(&p, &parser.problem_mark, "%s%s%s",
					parser.problem ? parser.problem :
							 "syntax error",
					parser.context ? " " : "",
					parser.context ? parser.context : "");
				ret = -EINVAL;
			}
			break;
		}
		ret = sl_yevent(&p, &ev);
		if (ev.type == YAML_STREAM_END_EVENT || ret < 0) {
			yaml_event_delete(&ev);
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	if (ret == -ENOMEM || a->failed) {
		sl_cfg_err_add(errs, file, 0, 0, NULL, "out of memory");
		ret = -ENOMEM;
	}
	out->docs = p.docs;
	out->n_docs = p.n_docs;
	return ret;
}

const struct sl_ynode *sl_ymap_get(const struct sl_ynode *map, const char *key)
{
	size_t klen;

	if (!map || map->type != SL_YMAP)
		return NULL;
	klen = strlen(key);
	for (size_t i = 0; i < map->n; i++) {
		const struct sl_ynode *k = map->items[2 * i];

		if (k->len == klen && memcmp(k->str, key, klen) == 0)
			return sl_ynode_is_null(map->items[2 * i + 1]) ?
				NULL : map->items[2 * i + 1];
	}
	return NULL;
}

bool sl_ynode_is_null(const struct sl_ynode *n)
{
	if (!n)
		return true;
	if (n->type != SL_YSCALAR || !n->plain)
		return false;
	return n->len == 0 || strcmp(n->str, "~") == 0 ||
	       strcmp(n->str, "null") == 0 || strcmp(n->str, "Null") == 0 ||
	       strcmp(n->str, "NULL") == 0;
}

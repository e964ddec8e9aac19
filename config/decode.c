/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Schema-driven decoding of the YAML tree: field paths for errors, the
 * unknown/unsupported field check and typed getters.  Every error carries
 * file:line:col of the offending node and the field path leading to it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"
#include "ledger.h"
#include "util.h"

/*
 * append @sep (when *@len is not 0) and @s to @buf of @size, truncating;
 * the decoder builds a path for every field of every document, so no
 * printf here
 */
static void sl_dec_cat(char *buf, size_t size, size_t *len, const char *sep,
		       const char *s)
{
	size_t l = *len;

	if (l)
		for (; *sep && l + 1 < size; sep++)
			buf[l++] = *sep;
	for (; *s && l + 1 < size; s++)
		buf[l++] = *s;
	buf[l] = '\0';
	*len = l;
}

/* append @s to the normalized path (after @sep when not at the start) */
static void sl_dec_npush(struct sl_dec *d, const char *sep, const char *s)
{
	if (d->depth < SL_DEC_DEPTH_MAX) {
		d->stk[d->depth].plen = d->plen;
		d->stk[d->depth].nlen = d->nlen;
	}
	d->depth++;
	sl_dec_cat(d->npath, sizeof(d->npath), &d->nlen, sep, s);
}

static size_t sl_dec_push(struct sl_dec *d, const char *key,
			  const char *nkey)
{
	size_t old = d->plen;

	sl_dec_npush(d, ".", nkey);
	sl_dec_cat(d->path, sizeof(d->path), &d->plen, ".", key);
	return old;
}

size_t sl_dec_push_key(struct sl_dec *d, const char *key)
{
	return sl_dec_push(d, key, key);
}

size_t sl_dec_push_mapkey(struct sl_dec *d, const char *key)
{
	return sl_dec_push(d, key, "*");
}

size_t sl_dec_push_idx(struct sl_dec *d, size_t i)
{
	size_t old = d->plen;
	int n;

	sl_dec_npush(d, "", "[]");
	n = snprintf(d->path + d->plen, sizeof(d->path) - d->plen, "[%zu]",
		     i);
	if (n > 0)
		d->plen = SL_MIN(d->plen + (size_t)n, sizeof(d->path) - 1);
	return old;
}

void sl_dec_pop(struct sl_dec *d, size_t old)
{
	/* everything pushed since the push that returned @old */
	while (d->depth > 0) {
		unsigned int top = d->depth - 1;

		if (top < SL_DEC_DEPTH_MAX) {
			if (d->stk[top].plen < old)
				break;
			d->nlen = d->stk[top].nlen;
		}
		d->depth--;
	}
	d->npath[d->nlen] = '\0';
	d->plen = old;
	d->path[old] = '\0';
}

static void sl_dec_verr(struct sl_dec *d, const struct sl_ynode *at,
			const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void sl_dec_verr(struct sl_dec *d, const struct sl_ynode *at,
			const char *fmt, va_list ap)
{
	d->nerr++;
	sl_cfg_err_vadd(d->errs, d->file, at ? at->line : 0, at ? at->col : 0,
			d->path, fmt, ap);
}

void sl_dec_warn(struct sl_dec *d, const struct sl_ynode *at, const char *fmt,
		 ...)
{
	va_list ap;

	if (!d->warns)
		return;
	va_start(ap, fmt);
	sl_cfg_err_vadd(d->warns, d->file, at ? at->line : 0, at ? at->col : 0,
			d->path, fmt, ap);
	va_end(ap);
}

void sl_dec_err(struct sl_dec *d, const struct sl_ynode *at, const char *fmt,
		...)
{
	va_list ap;

	va_start(ap, fmt);
	sl_dec_verr(d, at, fmt, ap);
	va_end(ap);
}

void sl_dec_key_err(struct sl_dec *d, const struct sl_ynode *at,
		    const char *key, const char *fmt, ...)
{
	size_t old = sl_dec_push_key(d, key);
	va_list ap;

	va_start(ap, fmt);
	sl_dec_verr(d, at, fmt, ap);
	va_end(ap);
	sl_dec_pop(d, old);
}

void sl_dec_pos(struct sl_dec *d, const struct sl_ynode *at,
		struct sl_pos *pos)
{
	pos->file = d->file;
	pos->path = sl_arena_strdup(d->a, d->path);
	pos->line = at ? at->line : 0;
	pos->col = at ? at->col : 0;
}

void sl_pos_err(struct sl_cfg_errs *e, const struct sl_pos *pos,
		const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sl_cfg_err_vadd(e, pos->file, pos->line, pos->col, pos->path, fmt, ap);
	va_end(ap);
}

static const char *sl_ytype_name(const struct sl_ynode *n)
{
	if (n->type == SL_YMAP)
		return "a mapping";
	if (n->type == SL_YSEQ)
		return "a list";
	return "a scalar";
}

bool sl_dec_is_map(struct sl_dec *d, const struct sl_ynode *n)
{
	if (n && n->type == SL_YMAP)
		return true;
	sl_dec_err(d, n, "expected a mapping, got %s",
		   n ? sl_ytype_name(n) : "nothing");
	return false;
}

bool sl_dec_is_seq(struct sl_dec *d, const struct sl_ynode *n)
{
	if (n && n->type == SL_YSEQ)
		return true;
	sl_dec_err(d, n, "expected a list, got %s",
		   n ? sl_ytype_name(n) : "nothing");
	return false;
}

/* "<normalized path>.<key>" of field @key of the current mapping; NULL
   when it does not fit */
static const char *sl_dec_npath_of(const struct sl_dec *d, const char *key,
				   char *buf, size_t size)
{
	size_t klen = strlen(key), len = d->nlen;

	if (len + 1 + klen >= size)
		return NULL;
	memcpy(buf, d->npath, len);
	if (len)
		buf[len++] = '.';
	memcpy(buf + len, key, klen + 1);
	return buf;
}

/* a NO_EFFECT field above @np already warned for its whole block */
static bool sl_dec_under_no_effect(const struct sl_dec *d, const char *np)
{
	char buf[SL_DEC_PATH_MAX];
	size_t len = strlen(np);

	if (len >= sizeof(buf))
		return false;
	memcpy(buf, np, len + 1);
	for (size_t i = len; i-- > 1;) {
		const struct sl_field *f;

		if (buf[i] != '.' && buf[i] != '[')
			continue;
		buf[i] = '\0';
		f = sl_ledger_find(d->kind, buf);
		if (f && f->status == SL_FIELD_NO_EFFECT)
			return true;
	}
	return false;
}

/* the ledger's word on field @key (@k: its key node when present) */
static bool sl_dec_ledger(struct sl_dec *d, const struct sl_ynode *map,
			  const char *key, const struct sl_ynode *k)
{
	char buf[SL_DEC_PATH_MAX];
	const char *np = sl_dec_npath_of(d, key, buf, sizeof(buf));
	const struct sl_field *f = np ? sl_ledger_find(d->kind, np) : NULL;

	if (!f) {
		sl_dec_key_err(d, k ? k : map, key,
			       "field %s has no status in sluice's field ledger (config/ledger.c)",
			       np ? np : key);
		return false;
	}
	if (!k)
		return true;
	sl_ledger_note_seen(f);
	switch (f->status) {
	case SL_FIELD_REJECTED:
		sl_dec_key_err(d, k, key, "%s %s", key, f->note);
		return false;
	case SL_FIELD_NO_EFFECT:
		if (!sl_dec_under_no_effect(d, np)) {
			size_t old = sl_dec_push_key(d, key);

			sl_dec_warn(d, k, "has no effect: %s", f->note);
			sl_dec_pop(d, old);
		}
		break;
	case SL_FIELD_ENFORCED:
	case SL_FIELD_INFORMATIONAL:
		break;
	}
	return true;
}

bool sl_dec_fields(struct sl_dec *d, const struct sl_ynode *map,
		   const char *const *known, const char *const *unsup)
{
	bool ok = true;

	/* every field decoded here has a status, in the input or not */
	for (size_t j = 0; known && known[j]; j++) {
		const struct sl_ynode *k = NULL;

		for (size_t i = 0; map && map->type == SL_YMAP && i < map->n; i++)
			if (strcmp(map->items[2 * i]->str, known[j]) == 0) {
				k = map->items[2 * i];
				break;
			}
		if (!sl_dec_ledger(d, map, known[j], k))
			ok = false;
	}
	if (!sl_dec_is_map(d, map))
		return false;
	for (size_t i = 0; i < map->n; i++) {
		const struct sl_ynode *k = map->items[2 * i];
		bool found = false;

		for (size_t j = 0; known && known[j]; j++)
			if (strcmp(k->str, known[j]) == 0) {
				found = true;
				break;
			}
		if (found)
			continue;
		ok = false;
		for (size_t j = 0; unsup && unsup[j]; j += 2)
			if (strcmp(k->str, unsup[j]) == 0) {
				sl_dec_key_err(d, k, k->str, "%s %s", k->str,
					       unsup[j + 1]);
				found = true;
				break;
			}
		if (!found)
			sl_dec_key_err(d, k, k->str, "unknown field \"%s\"",
				       k->str);
	}
	return ok;
}

int sl_dec_v_str(struct sl_dec *d, const struct sl_ynode *v, const char **out)
{
	if (v->type != SL_YSCALAR) {
		sl_dec_err(d, v, "expected a string, got %s", sl_ytype_name(v));
		return -1;
	}
	if (strlen(v->str) != v->len) {
		sl_dec_err(d, v, "string contains a NUL byte");
		return -1;
	}
	*out = sl_arena_strndup(d->a, v->str, v->len);
	return *out ? 1 : -1;
}

int sl_dec_v_uint(struct sl_dec *d, const struct sl_ynode *v, uint64_t min,
		  uint64_t max, uint32_t *out)
{
	unsigned long long x;
	char *end;

	if (v->type != SL_YSCALAR) {
		sl_dec_err(d, v, "expected an integer in range %" PRIu64
			   "..%" PRIu64 ", got %s", min, max, sl_ytype_name(v));
		return -1;
	}
	/* a negative number: out of range, not "not an integer" */
	if (v->len > 1 && v->len <= 21 && v->str[0] == '-' &&
	    strspn(v->str + 1, "0123456789") == v->len - 1) {
		sl_dec_err(d, v, "%s is out of range %" PRIu64 "..%" PRIu64,
			   v->str, min, max);
		return -1;
	}
	if (v->len == 0 || v->len > 20 || v->str[0] < '0' || v->str[0] > '9')
		goto bad;
	errno = 0;
	x = strtoull(v->str, &end, 10);
	if (*end || errno)
		goto bad;
	if (x < min || x > max) {
		sl_dec_err(d, v, "%llu is out of range %" PRIu64 "..%" PRIu64,
			   x, min, max);
		return -1;
	}
	*out = (uint32_t)x;
	return 1;
bad:
	sl_dec_err(d, v, "expected an integer in range %" PRIu64 "..%" PRIu64
		   ", got \"%.*s\"", min, max, v->len > 64 ? 64 : (int)v->len,
		   v->str);
	return -1;
}

/* look up @key, push its path, run the value-level check, pop */
#define SL_DEC_FIELD(d, map, key, expr)                                        \
	({                                                                     \
		const struct sl_ynode *v = sl_ymap_get(map, key);              \
		int r_ = 0;                                                    \
		if (v) {                                                       \
			size_t old_ = sl_dec_push_key(d, key);                 \
			r_ = (expr);                                           \
			sl_dec_pop(d, old_);                                   \
		}                                                              \
		r_;                                                            \
	})

int sl_dec_str(struct sl_dec *d, const struct sl_ynode *map, const char *key,
	       const char **out)
{
	return SL_DEC_FIELD(d, map, key, sl_dec_v_str(d, v, out));
}

int sl_dec_uint(struct sl_dec *d, const struct sl_ynode *map, const char *key,
		uint64_t min, uint64_t max, uint32_t *out)
{
	return SL_DEC_FIELD(d, map, key, sl_dec_v_uint(d, v, min, max, out));
}

int sl_dec_port(struct sl_dec *d, const struct sl_ynode *map, const char *key,
		uint32_t *out)
{
	return sl_dec_uint(d, map, key, 1, 65535, out);
}

static int sl_dec_v_bool(struct sl_dec *d, const struct sl_ynode *v, bool *out)
{
	if (v->type == SL_YSCALAR && v->plain) {
		if (!strcmp(v->str, "true") || !strcmp(v->str, "True") ||
		    !strcmp(v->str, "TRUE")) {
			*out = true;
			return 1;
		}
		if (!strcmp(v->str, "false") || !strcmp(v->str, "False") ||
		    !strcmp(v->str, "FALSE")) {
			*out = false;
			return 1;
		}
	}
	sl_dec_err(d, v, "expected true or false");
	return -1;
}

int sl_dec_bool(struct sl_dec *d, const struct sl_ynode *map, const char *key,
		bool *out)
{
	return SL_DEC_FIELD(d, map, key, sl_dec_v_bool(d, v, out));
}

static int sl_dec_v_duration(struct sl_dec *d, const struct sl_ynode *v,
			     uint64_t *out)
{
	int ret;

	if (v->type != SL_YSCALAR) {
		sl_dec_err(d, v, "expected a duration like \"1.5s\"");
		return -1;
	}
	ret = sl_parse_duration(v->str, out);
	if (ret == -ERANGE) {
		sl_dec_err(d, v, "duration \"%s\" is too long", v->str);
		return -1;
	}
	if (ret < 0) {
		sl_dec_err(d, v,
			   "bad duration \"%s\" (want e.g. \"1.5s\", \"300ms\")",
			   v->str);
		return -1;
	}
	return 1;
}

int sl_dec_duration(struct sl_dec *d, const struct sl_ynode *map,
		    const char *key, uint64_t *out)
{
	return SL_DEC_FIELD(d, map, key, sl_dec_v_duration(d, v, out));
}

static int sl_dec_v_percent(struct sl_dec *d, const struct sl_ynode *v,
			    double *out)
{
	char *end;
	double x;

	if (v->type != SL_YSCALAR || v->len == 0) {
		sl_dec_err(d, v, "expected a number");
		return -1;
	}
	errno = 0;
	x = strtod(v->str, &end);
	if (*end || errno || !isfinite(x)) {
		sl_dec_err(d, v, "expected a number, got \"%s\"", v->str);
		return -1;
	}
	if (x < 0.0 || x > 100.0) {
		sl_dec_err(d, v, "percentage %s is out of range 0..100", v->str);
		return -1;
	}
	*out = x;
	return 1;
}

int sl_dec_percent(struct sl_dec *d, const struct sl_ynode *map,
		   const char *key, double *out)
{
	return SL_DEC_FIELD(d, map, key, sl_dec_v_percent(d, v, out));
}

static int sl_dec_v_enum(struct sl_dec *d, const struct sl_ynode *v,
			 const char *const *names, int *out)
{
	char want[256];
	size_t off = 0;

	if (v->type == SL_YSCALAR)
		for (int i = 0; names[i]; i++)
			if (strcmp(v->str, names[i]) == 0) {
				*out = i;
				return 1;
			}
	want[0] = '\0';
	for (int i = 0; names[i] && off < sizeof(want); i++) {
		int n = snprintf(want + off, sizeof(want) - off, "%s%s",
				 i ? ", " : "", names[i]);

		if (n < 0)
			break;
		off += (size_t)n;
	}
	if (v->type == SL_YSCALAR)
		sl_dec_err(d, v, "unknown value \"%s\" (want one of %s)",
			   v->str, want);
	else
		sl_dec_err(d, v, "expected one of %s", want);
	return -1;
}

int sl_dec_enum(struct sl_dec *d, const struct sl_ynode *map, const char *key,
		const char *const *names, int *out)
{
	return SL_DEC_FIELD(d, map, key, sl_dec_v_enum(d, v, names, out));
}

static int sl_dec_v_strlist(struct sl_dec *d, const struct sl_ynode *v,
			    const char ***out, size_t *n)
{
	const char **l;
	int ret = 1;

	if (!sl_dec_is_seq(d, v))
		return -1;
	l = sl_arena_array(d->a, v->n, sizeof(*l));
	if (!l)
		return -1;
	for (size_t i = 0; i < v->n; i++) {
		size_t old = sl_dec_push_idx(d, i);

		if (sl_dec_v_str(d, v->items[i], &l[i]) < 0)
			ret = -1;
		sl_dec_pop(d, old);
	}
	*out = l;
	*n = v->n;
	return ret;
}

int sl_dec_strlist(struct sl_dec *d, const struct sl_ynode *map,
		   const char *key, const char ***out, size_t *n)
{
	return SL_DEC_FIELD(d, map, key, sl_dec_v_strlist(d, v, out, n));
}

static int sl_dec_v_labels(struct sl_dec *d, const struct sl_ynode *v,
			   struct sl_label **out, size_t *n)
{
	struct sl_label *l;
	int ret = 1;

	if (!sl_dec_is_map(d, v))
		return -1;
	l = sl_arena_array(d->a, v->n, sizeof(*l));
	if (!l)
		return -1;
	for (size_t i = 0; i < v->n; i++) {
		const struct sl_ynode *k = v->items[2 * i];
		size_t old = sl_dec_push_mapkey(d, k->str);

		if (sl_dec_v_str(d, k, &l[i].key) < 0 ||
		    sl_dec_v_str(d, v->items[2 * i + 1], &l[i].value) < 0)
			ret = -1;
		sl_dec_pop(d, old);
	}
	*out = l;
	*n = v->n;
	return ret;
}

int sl_dec_labels(struct sl_dec *d, const struct sl_ynode *map,
		  const char *key, struct sl_label **out, size_t *n)
{
	return SL_DEC_FIELD(d, map, key, sl_dec_v_labels(d, v, out, n));
}

int sl_dec_v_ip(struct sl_dec *d, const struct sl_ynode *v, struct sl_ip *out)
{
	if (v->type != SL_YSCALAR || sl_ip_parse(v->str, out) < 0) {
		sl_dec_err(d, v, "expected an IP address%s%s%s",
			   v->type == SL_YSCALAR ? ", got \"" : "",
			   v->type == SL_YSCALAR ? v->str : "",
			   v->type == SL_YSCALAR ? "\"" : "");
		return -1;
	}
	return 1;
}

int sl_cidr_parse(const char *s, struct sl_cidr *out)
{
	const char *slash = strchr(s, '/');
	char addr[INET6_ADDRSTRLEN];
	unsigned long prefix;
	char *end;

	if (!slash) {
		if (sl_ip_parse(s, &out->ip) < 0)
			return -EINVAL;
		out->prefix = out->ip.family == AF_INET ? 32 : 128;
		return 0;
	}
	if ((size_t)(slash - s) >= sizeof(addr) || !slash[1])
		return -EINVAL;
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	if (sl_ip_parse(addr, &out->ip) < 0)
		return -EINVAL;
	errno = 0;
	prefix = strtoul(slash + 1, &end, 10);
	if (*end || errno || slash[1] < '0' || slash[1] > '9' ||
	    prefix > (out->ip.family == AF_INET ? 32u : 128u))
		return -EINVAL;
	out->prefix = (unsigned int)prefix;
	return 0;
}

bool sl_cidr_contains(const struct sl_cidr *c, const struct sl_ip *ip)
{
	const uint8_t *a, *b;
	unsigned int bits = c->prefix;

	if (c->ip.family != ip->family)
		return false;
	a = c->ip.family == AF_INET ? (const uint8_t *)&c->ip.v4 :
				      (const uint8_t *)&c->ip.v6;
	b = ip->family == AF_INET ? (const uint8_t *)&ip->v4 :
				    (const uint8_t *)&ip->v6;
	for (size_t i = 0; bits > 0; i++, bits = bits >= 8 ? bits - 8 : 0) {
		uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));

		if ((a[i] & mask) != (b[i] & mask))
			return false;
	}
	return true;
}

static int sl_dec_v_cidrs(struct sl_dec *d, const struct sl_ynode *v,
			  struct sl_cidr **out, size_t *n)
{
	struct sl_cidr *l;
	int ret = 1;

	if (!sl_dec_is_seq(d, v))
		return -1;
	l = sl_arena_array(d->a, v->n, sizeof(*l));
	if (!l)
		return -1;
	for (size_t i = 0; i < v->n; i++) {
		const struct sl_ynode *it = v->items[i];
		size_t old = sl_dec_push_idx(d, i);

		if (it->type != SL_YSCALAR || sl_cidr_parse(it->str, &l[i]) < 0) {
			sl_dec_err(d, it, "expected an IP address or CIDR");
			ret = -1;
		}
		sl_dec_pop(d, old);
	}
	*out = l;
	*n = v->n;
	return ret;
}

int sl_dec_cidrs(struct sl_dec *d, const struct sl_ynode *map, const char *key,
		 struct sl_cidr **out, size_t *n)
{
	return SL_DEC_FIELD(d, map, key, sl_dec_v_cidrs(d, v, out, n));
}

bool sl_dns1123_valid(const char *s, bool label)
{
	size_t len = strlen(s), lab = 0;

	if (len == 0 || len > (label ? 63u : 253u))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (c == '.' && !label) {
			if (lab == 0 || s[i - 1] == '-')
				return false;
			lab = 0;
			continue;
		}
		if (!alnum && c != '-')
			return false;
		if (c == '-' && lab == 0)
			return false;
		if (++lab > 63)
			return false;
	}
	return s[len - 1] != '-' && s[len - 1] != '.';
}

const char *sl_labels_get(const struct sl_label *l, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(l[i].key, key) == 0)
			return l[i].value;
	return NULL;
}

bool sl_labels_match(const struct sl_label *sel, size_t n_sel,
		     const struct sl_label *labels, size_t n_labels)
{
	for (size_t i = 0; i < n_sel; i++) {
		const char *v = sl_labels_get(labels, n_labels, sel[i].key);

		if (!v || strcmp(v, sel[i].value) != 0)
			return false;
	}
	return true;
}

bool sl_dec_tcp_only(struct sl_dec *d, const struct sl_ynode *map)
{
	static const char *const protos[] = { "TCP", "UDP", "SCTP", NULL };
	int proto;

	switch (sl_dec_enum(d, map, "protocol", protos, &proto)) {
	case 1:
		if (proto == 0)
			return true;
		sl_dec_key_err(d, sl_ymap_get(map, "protocol"), "protocol",
			       "%s is not supported (sluice carries TCP)",
			       protos[proto]);
		return false;
	case -1:
		return false;
	}
	return true;
}

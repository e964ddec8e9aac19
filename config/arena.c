/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bump allocator for config snapshots and the error list.  A snapshot is
 * immutable and freed as a whole, so everything it holds comes from one
 * arena: no per-object destructors, no partial-free paths.  The few
 * objects other libraries allocate (compiled regexes) are registered with
 * sl_arena_defer() and freed by the release.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

#define SL_ARENA_CHUNK (64u * 1024u)

struct sl_arena_cleanup {
	struct sl_arena_cleanup *next;
	void (*fn)(void *);
	void *p;
};

struct sl_arena_chunk {
	struct sl_arena_chunk *next;
	size_t used, size;
	max_align_t data[];
};

void *sl_arena_alloc(struct sl_arena *a, size_t size)
{
	struct sl_arena_chunk *c = a->head;
	size_t align = sizeof(max_align_t);
	char *p;

	if (size > SIZE_MAX / 2) {
		a->failed = true;
		return NULL;
	}
	size = (size + align - 1) & ~(align - 1);
	if (!c || c->size - c->used < size) {
		size_t chunk = a->chunk ? a->chunk : SL_ARENA_CHUNK;
		size_t csize = size > chunk / 4 ? size : chunk;

		c = malloc(sizeof(*c) + csize);
		if (!c) {
			a->failed = true;
			return NULL;
		}
		c->size = csize;
		c->used = 0;
		if (a->head && size > chunk / 4) {
			/* a big block: keep filling the current chunk */
			c->next = a->head->next;
			a->head->next = c;
		} else {
			c->next = a->head;
			a->head = c;
		}
	}
	p = (char *)c->data + c->used;
	c->used += size;
	memset(p, 0, size);
	return p;
}

void *sl_arena_array(struct sl_arena *a, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / 4 / size) {
		a->failed = true;
		return NULL;
	}
	return sl_arena_alloc(a, (n * size) != 0 ? n * size : 1);
}

char *sl_arena_strndup(struct sl_arena *a, const char *s, size_t n)
{
	char *p = sl_arena_alloc(a, n + 1);

	if (p)
		memcpy(p, s, n);
	return p;
}

char *sl_arena_strdup(struct sl_arena *a, const char *s)
{
	return s ? sl_arena_strndup(a, s, strlen(s)) : NULL;
}

char *sl_arena_printf(struct sl_arena *a, const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	p = sl_arena_alloc(a, (size_t)n + 1);
	if (!p)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

int sl_arena_grow(struct sl_arena *a, void *arr, size_t *cap, size_t n,
		  size_t size)
{
	void **parr = arr;
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 8;
	p = sl_arena_array(a, ncap, size);
	if (!p)
		return -ENOMEM;
	if (*parr && n)
		memcpy(p, *parr, n * size);
	*parr = p;
	*cap = ncap;
	return 0;
}

int sl_arena_defer(struct sl_arena *a, void (*fn)(void *), void *p)
{
	struct sl_arena_cleanup *c = sl_arena_alloc(a, sizeof(*c));

	if (!c) {
		fn(p);
		return -ENOMEM;
	}
	c->fn = fn;
	c->p = p;
	c->next = a->cleanups;
	a->cleanups = c;
	return 0;
}

void sl_arena_release(struct sl_arena *a)
{
	struct sl_arena_chunk *c, *next;

	if (!a)
		return;
	/* newest first; the records live in the chunks freed below */
	for (struct sl_arena_cleanup *k = a->cleanups; k; k = k->next)
		k->fn(k->p);
	a->cleanups = NULL;
	for (c = a->head; c; c = next) {
		next = c->next;
		free(c);
	}
	a->head = NULL;
}

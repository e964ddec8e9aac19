/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-thread caches of freed objects of one size.  Structs that every flow
 * allocates and that glibc serves from its main bins (1 KiB and more: the
 * flow with its 16 KiB buffer, the live-flow record) are taken from a
 * thread's cache instead of malloc: they stay warm, and a new flow no
 * longer pays, inside malloc, for the small chunks that the last handshake
 * freed (malloc_consolidate; bench/README.md, session 6).
 *
 * Each thread keeps at most @max objects per cache; they are freed when
 * the thread exits.  An object may be freed on any thread of the process
 * (it goes to that thread's cache).
 */
#ifndef SL_OBJCACHE_H
#define SL_OBJCACHE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/** struct sl_objcache - one object type; define with SL_OBJCACHE_INIT */
struct sl_objcache {
	size_t size;	  /* object size, at least sizeof(void *) */
	unsigned int max; /* objects kept per thread */
	bool inited;	   /* key created (or failed), at first use */
	bool key_ok;
	pthread_key_t key; /* the thread's list, freed at thread exit */
};

#define SL_OBJCACHE_INIT(sz, mx) { .size = (sz), .max = (mx) }

/**
 * sl_objcache_alloc - an object of @c's size from this thread's cache, or
 * from malloc; its first @zero bytes are zeroed (the rest is left as the
 * last user left it).  @retval NULL when out of memory
 */
void *sl_objcache_alloc(struct sl_objcache *c, size_t zero);

/** sl_objcache_free - give @p back (to this thread's cache); NULL-safe */
void sl_objcache_free(struct sl_objcache *c, void *p);

/** sl_objcache_cached - objects in this thread's cache (tests) */
unsigned int sl_objcache_cached(struct sl_objcache *c);

#endif /* SL_OBJCACHE_H */

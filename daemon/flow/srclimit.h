/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-source caps without locks: how many connections each source address
 * holds at a time, for the inbound mesh port's pending handshakes (issue
 * 24).  A source is an IPv4 address, or an IPv6 /64 (one host can use a
 * whole /64; an IPv4-mapped IPv6 address is its IPv4 address).
 *
 * The table is a count-min sketch: two rows of atomic counters, each
 * source hashed (keyed with a random seed, so a peer cannot choose which
 * sources share its counters) to one counter per row.  A source's count is
 * the smaller of its two counters, never below its true count: two
 * sources can only be confused when both of their counters collide, and
 * since the counters of a row add up to the connections held, few can be
 * high at once.  Take and put are two atomic adds each; any thread.
 */
#ifndef SL_SRCLIMIT_H
#define SL_SRCLIMIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"

struct sl_srclimit;

/** struct sl_srclimit_ticket - what one taken connection holds */
struct sl_srclimit_ticket {
	uint32_t slot[2];
	bool held;
};

/**
 * sl_srclimit_new - a table for connections from up to @cap per source
 * @slots: counters per row (rounded up to a power of two, at least 64):
 *         a few times the most connections held at once keeps collisions
 *         rare
 * @retval 0 and the table in @out (sl_srclimit_free); -EINVAL (@cap 0),
 *         -ENOMEM
 */
int sl_srclimit_new(uint32_t cap, uint32_t slots, struct sl_srclimit **out);

/** sl_srclimit_free - free @l; NULL-safe */
void sl_srclimit_free(struct sl_srclimit *l);

/**
 * sl_srclimit_take - count one more connection from @ip
 * @retval 0 and @t held (give it back with sl_srclimit_put); -EBUSY when
 *         @ip's source already holds the cap (nothing counted, @t not held)
 */
int sl_srclimit_take(struct sl_srclimit *l, const struct sl_ip *ip,
		     struct sl_srclimit_ticket *t);

/** sl_srclimit_put - give back @t (no-op when it is not held) */
void sl_srclimit_put(struct sl_srclimit *l, struct sl_srclimit_ticket *t);

/** sl_srclimit_count - connections @ip's source holds now (an upper bound) */
uint32_t sl_srclimit_count(struct sl_srclimit *l, const struct sl_ip *ip);

/** sl_srclimit_held - connections the source of the held @t holds now (an
 * upper bound; 0 when @t is not held) */
uint32_t sl_srclimit_held(struct sl_srclimit *l,
			  const struct sl_srclimit_ticket *t);

/** sl_srclimit_cap - the per-source cap of @l */
uint32_t sl_srclimit_cap(const struct sl_srclimit *l);

#endif /* SL_SRCLIMIT_H */

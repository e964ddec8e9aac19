/* SPDX-License-Identifier: Apache-2.0 */
/* Admission: the three connection budgets, the pending handshakes and their
 * per-source caps, the fd reserve (admission.c). */
#ifndef SL_DAEMON_ADMISSION_H
#define SL_DAEMON_ADMISSION_H

#include <stdbool.h>
#include <stdint.h>

#include "ip.h"
#include "srclimit.h"
#include "stats.h"

#include "daemon.h"

/*
 * Every connection is counted against one budget, so that unauthenticated
 * peers never take what local pods need (issue 24):
 *  - outbound: flows of local pods (15001), their pooled connections;
 *  - inbound: authenticated inbound flows, plaintext inbound (15006),
 *    same-node handoffs (loopback to 15008);
 *  - pending: inbound mTLS connections before the handshake is done, also
 *    capped per source (srclimit.h); an authenticated one moves to inbound.
 */
enum sl_budget {
	SL_BUDGET_NONE,
	SL_BUDGET_OUTBOUND,
	SL_BUDGET_INBOUND,
	SL_BUDGET_PENDING,
	SL_BUDGET__MAX,
};
_Static_assert(SL_BUDGET__MAX == SL_DAEMON_BUDGETS,
	       "struct sl_daemon's cap[] has one entry per budget");

/** struct sl_admission - what an admitted connection holds */
struct sl_admission {
	enum sl_budget budget;
	struct sl_srclimit_ticket src; /* pending: its source's count */
	uint64_t accept_ns;	       /* CLOCK_MONOTONIC at accept */
};

/**
 * sl_admission_setup - derive the caps not set by options from
 * RLIMIT_NOFILE (raised to its hard limit): the fd reserve and about 40
 * fds per worker stay free, a pending handshake takes one fd, a flow up to
 * six (two sockets, two splice pipes); set up the per-source table
 * @retval 0 or -errno (logged)
 */
int sl_admission_setup(struct sl_daemon *d);

/** sl_admission_free - free what sl_admission_setup made; NULL-safe */
void sl_admission_free(struct sl_daemon *d);

/**
 * sl_budget_take - count one connection against budget @b
 * @shed: count a refusal (shed, and the budget's own counter)
 * @retval true when admitted (give it back with sl_budget_put)
 */
bool sl_budget_take(struct sl_daemon *d, enum sl_budget b, bool shed);
void sl_budget_put(enum sl_budget b);
/** sl_budget_used - connections counted against @b now */
unsigned int sl_budget_used(enum sl_budget b);

/**
 * sl_admission_pending - admit an inbound mTLS connection from @peer as a
 * pending handshake (its source's count, then the pending cap)
 * @make_room: called once when the pending cap is reached; it may end a
 *         pending connection and hand its place over to this one
 *         (sl_admission_hand_over) and return true (NULL: none).  The
 *         place goes straight from one to the other: returned to the
 *         budget first, a concurrent accept on another worker could take
 *         it, and a peer that means it would be shed under a flood of
 *         silent connections.
 * @retval 0 and @a filled (sl_admission_release); -EBUSY: its source is
 *         at --max-pending-per-source; -ENOSPC: --max-pending reached
 *         (both counted as shed)
 */
int sl_admission_pending(struct sl_daemon *d, const struct sl_ip *peer,
			 bool (*make_room)(void *arg), void *arg,
			 struct sl_admission *a);

/**
 * sl_admission_hand_over - end pending @a for a make_room callback: its
 * source's count is given back, its pending place goes to the connection
 * being admitted (not to the budget)
 */
void sl_admission_hand_over(struct sl_daemon *d, struct sl_admission *a);

/**
 * sl_admission_authenticated - move a pending @a to the inbound budget
 * (no-op for another budget)
 * @retval 0; -ENOSPC when the inbound budget is full (counted as shed;
 *         @a still holds its pending place)
 */
int sl_admission_authenticated(struct sl_daemon *d, struct sl_admission *a);

/**
 * sl_admission_fd_reserved - is the just accepted @fd in the fd reserve?
 * (fds are allocated lowest first: every fd below it is open); re-reads
 * RLIMIT_NOFILE every 100 ms
 */
bool sl_admission_fd_reserved(struct sl_daemon *d, int fd);

/** sl_admission_fd_limit_refresh - re-read RLIMIT_NOFILE; @retval it (0:
 * unknown) */
unsigned int sl_admission_fd_limit_refresh(void);

/** sl_admission_shed - count a refused connection: shed, and @why */
void sl_admission_shed(enum sl_stat why);

/** sl_admission_release - give back what @a holds (idempotent) */
void sl_admission_release(struct sl_daemon *d, struct sl_admission *a);

/* the outbound budget, as the pool (pool.h) and outbound.c use it */

/**
 * sl_flow_admit - count a new flow of a local pod against the outbound
 * budget
 * @retval true when admitted (the caller later calls sl_flow_release());
 *         false when over the cap (counted as shed; reset the socket)
 */
bool sl_flow_admit(struct sl_daemon *d);
/** sl_flow_release - give back one place of the outbound budget */
void sl_flow_release(void);

/**
 * sl_flow_admit_spare - count a spare connection (the pool's, pool.h)
 * against the outbound budget, without counting a refusal as shed
 * @retval true when below the cap (release with sl_flow_release())
 */
bool sl_flow_admit_spare(struct sl_daemon *d);

#endif /* SL_DAEMON_ADMISSION_H */

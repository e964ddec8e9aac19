/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pool of ready mTLS client connections (takes the handshake off a new
 * flow's path).
 *
 * Per worker (no locks), keyed by (source SPIFFE ID, SPIFFE ID expected of
 * the peer, endpoint address and mesh port; the family is the address's).
 * A ready entry is a connected socket and a struct sl_tls_conn whose
 * handshake is complete and whose peer is verified exactly as on a flow's
 * own handshake; nothing has been sent or received after the handshake, so
 * kTLS can still be installed with record sequence numbers at 0.
 *
 * An outbound flow takes a ready entry for its endpoint (sl_pool_take) and
 * goes on as after a fresh handshake (kTLS install, preamble, relay), or
 * dials as before on a miss.  Every use of a key, hit or miss, refills it
 * in the background up to --pool-size entries (sl_pool_refill).  Entries
 * are closed after --pool-idle-timeout, when anything arrives on them
 * (EOF, reset, an alert: the server sends nothing after its Finished, it
 * issues no session tickets), when the source identity they were made with
 * is no longer the current one (rotation), once the peer certificate's
 * notAfter has passed, after a reload (configuration, certificates, trust
 * bundle: sl_pool_invalidate_all) and at shutdown.  A stale entry met by a take is
 * closed and the flow dials: a client never sees it.
 *
 * Two layers: the bookkeeping (struct sl_pool_table, pool_table.c: keys,
 * ready lists, expiry, generation checks; no I/O, unit tested) and the I/O
 * (struct sl_pool, pool.c: dialing and handshaking refills on the worker's
 * io_uring, a POLLIN|POLLRDHUP watch on every pooled socket, the expiry
 * timer).
 */
#ifndef SL_POOL_H
#define SL_POOL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config.h"

struct sl_tls_conn;
struct sl_tls_rl;
struct sl_identity;
struct sl_wctx;

/** Default ready entries per key (--pool-size); 0 turns pooling off. */
#define SL_POOL_DEFAULT_SIZE 2
/** Default ceiling a busy key's target grows to (--pool-max). */
#define SL_POOL_DEFAULT_MAX 8
/** A refill's dial + handshake time assumed before one was measured. */
#define SL_POOL_FILL_GUESS_NS 2000000ULL
/** Default delay of a refill after a use (--pool-refill-delay). */
#define SL_POOL_DEFAULT_REFILL_DELAY_NS 5000000ULL
/** Default idle time of a ready entry (--pool-idle-timeout). */
#define SL_POOL_DEFAULT_IDLE_NS 10000000000ULL
#define SL_POOL_MAX_SIZE 64

/** What a pool is keyed by (the strings are copied by the table). */
struct sl_pool_key {
	const char *src_id;  /* SPIFFE ID presented (the source workload's) */
	const char *peer_id; /* SPIFFE ID the peer must present */
	struct sl_ip addr;   /* endpoint address; its family is the key's */
	uint16_t port;	     /* the endpoint's mesh port */
};

/** Why a ready entry is closed. */
enum sl_pool_drop {
	SL_POOL_DROP_EXPIRED, /* idle for the idle time */
	SL_POOL_DROP_STALE,   /* source identity rotated, peer cert expired */
	SL_POOL_DROP_CLOSED,  /* the peer closed it or sent something */
	SL_POOL_DROP_FLUSH,   /* shutdown */
};

struct sl_pool_bucket;

/** A ready connection (embedded in the I/O layer's own entry). */
struct sl_pool_entry {
	struct sl_pool_entry *next, *prev; /* ready list of its bucket */
	struct sl_pool_bucket *b;
	uint64_t ready_ns;     /* monotonic time the handshake completed */
	uintptr_t gen;	       /* source identity it was made with */
	time_t peer_not_after; /* 0: unknown (never stale by time) */
	int fd;
	/* the session: on sluice's record layer when it could take it over
	 * (userspace TLS), else the conn; exactly one is set */
	struct sl_tls_conn *tls;
	struct sl_tls_rl *rl;
};

/** The entries of one key. */
struct sl_pool_bucket {
	struct sl_pool_bucket *next; /* hash chain */
	uint64_t hash;
	char *src_id, *peer_id;
	struct sl_ip addr;
	uint16_t port;
	struct sl_pool_entry *head, *tail; /* oldest first */
	unsigned int ready;
	unsigned int pending; /* refills in flight (they point here) */
	uint64_t last_use_ns;
	/* how busy the key is (sl_pool_table_target): moving averages of
	 * the time between two uses and of a refill's dial + handshake;
	 * 0 until measured */
	uint64_t gap_ns, fill_ns;
	/* on the I/O layer's queue of deferred refills (kept by sweeps) */
	bool queued;
	struct sl_pool_bucket *qnext;
	/* the TLS 1.3 session the next refill resumes (the last ticket a
	 * refill of this key received), made as source identity
	 * session_gen; NULL: none.  Dropped by a flush and with the bucket. */
	struct sl_tls_session *session;
	uintptr_t session_gen;
};

#define SL_POOL_SLOTS 64

/**
 * sl_pool_discard_fn - close @e (removed from its bucket already): the I/O
 * layer releases the socket and the session; @why says why
 */
typedef void (*sl_pool_discard_fn)(struct sl_pool_entry *e,
				   enum sl_pool_drop why, void *arg);

struct sl_pool_table {
	struct sl_pool_bucket *slots[SL_POOL_SLOTS];
	unsigned int size; /* ready entries wanted per key, at least */
	unsigned int max;  /* ... and at most, for a busy key (>= size) */
	uint64_t delay_ns; /* the refill delay after a use (mean) */
	uint64_t idle_ns;
	unsigned int n_ready, n_buckets;
	sl_pool_discard_fn discard;
	void *arg;
};

/* ---- bookkeeping (pool_table.c) --------------------------------------- */

/**
 * sl_pool_table_init - an empty table
 * @size: ready entries wanted per key; @idle_ns: idle time of an entry
 * @discard: called for every entry the table closes (expiry, staleness,
 *           flush), with @arg
 */
void sl_pool_table_init(struct sl_pool_table *t, unsigned int size,
			uint64_t idle_ns, sl_pool_discard_fn discard, void *arg);

/**
 * sl_pool_table_grow - let a busy key's target grow past the size, up to
 * @max (sl_pool_table_target); @delay_ns: the mean refill delay after a
 * use.  A table made by sl_pool_table_init keeps every key at its size.
 */
void sl_pool_table_grow(struct sl_pool_table *t, unsigned int max,
			uint64_t delay_ns);

/**
 * sl_pool_table_target - ready entries wanted for @b: enough for the uses
 * two refill cycles see at the key's rate, and one more, between the size
 * and the max.  A refill cycle is the refill delay plus the key's measured
 * dial + handshake time (SL_POOL_FILL_GUESS_NS until measured); the rate
 * is a moving average of the time between uses (sl_pool_table_take), so a
 * key used every 5 ms with a 5 ms delay and 2 ms handshakes wants
 * ceil(2 * 7 / 5) + 1 = 4, one used every 50 ms stays at the size.
 */
unsigned int sl_pool_table_target(const struct sl_pool_table *t,
				  const struct sl_pool_bucket *b);

/**
 * sl_pool_table_filled - a refill of @b took @fill_ns from its start to
 * ready (dial + handshake): update the key's average
 */
void sl_pool_table_filled(struct sl_pool_bucket *b, uint64_t fill_ns);

/**
 * sl_pool_refill_jitter - the delay of one refill: uniform in
 * [@delay_ns / 2, 3 * @delay_ns / 2] (0 stays 0).  A fixed delay after a
 * use phase-locks refills to a periodic client (one that connects every
 * period, such as a health check): its next flow then always meets the
 * refill's handshake crypto on the worker.  @rng: the caller's generator
 * state (any value; updated)
 */
uint64_t sl_pool_refill_jitter(uint64_t delay_ns, uint64_t *rng);

/**
 * sl_pool_table_fini - discard every entry (SL_POOL_DROP_FLUSH) and free
 * every bucket; no refill may be pending any more.  NULL-safe.
 */
void sl_pool_table_fini(struct sl_pool_table *t);

/**
 * sl_pool_table_bucket - the bucket of @k, created when missing
 * @retval 0 and the bucket in @out (owned by the table; it stays valid
 *         while it has ready entries or pending refills, or until the
 *         next sweep); -ENOMEM
 */
int sl_pool_table_bucket(struct sl_pool_table *t, const struct sl_pool_key *k,
			 struct sl_pool_bucket **out);

/**
 * sl_pool_table_take - the oldest usable ready entry of @b, removed
 * @gen: the current source identity; entries made with another one are
 *       discarded as stale, so are entries idle for the idle time (expired)
 *       and entries whose peer certificate expired before @now_s
 * Every take, hit or miss, is a use: it updates the key's rate.
 * @retval 0 and the entry in @out (the caller owns it now); -ENOENT
 */
int sl_pool_table_take(struct sl_pool_table *t, struct sl_pool_bucket *b,
		       uint64_t now_ns, time_t now_s, uintptr_t gen,
		       struct sl_pool_entry **out);

/** sl_pool_table_want - refills to start for @b to reach its target */
unsigned int sl_pool_table_want(const struct sl_pool_table *t,
				const struct sl_pool_bucket *b);

/** sl_pool_table_put - add ready entry @e (fields set by the caller) to @b */
void sl_pool_table_put(struct sl_pool_table *t, struct sl_pool_bucket *b,
		       struct sl_pool_entry *e, uint64_t now_ns);

/** sl_pool_table_remove - take @e out of its bucket (no discard call) */
void sl_pool_table_remove(struct sl_pool_table *t, struct sl_pool_entry *e);

/**
 * sl_pool_table_sweep - discard entries idle for the idle time or past
 * their peer's notAfter; free buckets that are empty, have nothing pending
 * and were not used for the idle time
 */
void sl_pool_table_sweep(struct sl_pool_table *t, uint64_t now_ns,
			 time_t now_s);

/** sl_pool_table_flush - discard every ready entry (SL_POOL_DROP_FLUSH) */
void sl_pool_table_flush(struct sl_pool_table *t);

/* ---- I/O (pool.c) ------------------------------------------------------ */

struct sl_pool;

/**
 * sl_pool_new - the pool of worker @wc (d->o.pool_size, d->o.pool_idle_ns)
 * @retval 0 and the pool in @out (free with sl_pool_free() after
 *         sl_pool_stop() and the worker's loop end); -ENOMEM
 */
int sl_pool_new(struct sl_wctx *wc, struct sl_pool **out);

/**
 * sl_pool_stop - close every ready entry and cancel the refills still
 * dialing; a refill whose connection the peer has accepted finishes its
 * handshake and is closed unused (a FIN: the peer counts no error).  Later
 * takes miss and refills are not started.  NULL-safe.
 */
void sl_pool_stop(struct sl_pool *p);

/** sl_pool_free - free the pool (its ops have all completed).  NULL-safe. */
void sl_pool_free(struct sl_pool *p);

/** sl_pool_enabled - pooling is on (size > 0) and the pool not stopping */
bool sl_pool_enabled(const struct sl_pool *p);

/**
 * sl_pool_take - a ready connection for @k made with identity @self (the
 * current source identity), counted as a hit or a miss
 * @retval 0 and a connected socket in @fd with its completed session,
 *         either in @tls or (userspace TLS: taken over when it became
 *         ready, so that the flow pays neither the takeover nor
 *         OpenSSL's record path) in @rl, the other NULL; all owned by
 *         the caller.  -ENOENT on a miss
 */
int sl_pool_take(struct sl_pool *p, const struct sl_pool_key *k,
		 const struct sl_identity *self, int *fd,
		 struct sl_tls_conn **tls, struct sl_tls_rl **rl);

/**
 * sl_pool_refill - start background handshakes for @k as @self until the
 * key has the pool size of ready or pending entries, after the refill delay
 * (d->o.pool_refill_delay_ns: the handshake's crypto runs on the worker
 * thread and would otherwise delay the flow that just took an entry, on
 * both nodes; after the delay the refill uses the then current identity
 * of @k's source).  Failures are counted and logged at debug level; they
 * never affect a flow.
 */
void sl_pool_refill(struct sl_pool *p, const struct sl_pool_key *k,
		    struct sl_identity *self);

/**
 * sl_pool_invalidate_all - every pooled connection of every worker becomes
 * stale (closed on its worker's next take or refill): the trust bundle,
 * the certificates or the configuration were reloaded.  Thread safe.
 */
void sl_pool_invalidate_all(void);

#endif /* SL_POOL_H */

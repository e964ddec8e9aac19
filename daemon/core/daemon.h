/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sluiced internals shared by main.c, listener.c, outbound.c, inbound.c and
 * admin.c (not a contract for other modules).
 */
#ifndef SL_DAEMON_H
#define SL_DAEMON_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "config.h"
#include "loop.h"
#include "srclimit.h"

struct sl_certstore;
struct sl_tls_ctx;
struct sl_identity;
struct sl_nft_ctx;
struct sl_health;
struct sl_reload;
struct sl_reload_watch;

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

/** Options from the command line (main.c); durations in nanoseconds. */
struct sl_daemon_opts {
	const char *config_dir;
	const char *node;
	const char *admin_socket;
	unsigned int workers;
	int ktls;			/* -1: from the node config, else sl_ktls_mode */
	uint64_t handshake_timeout_ns;	/* default 10 s */
	uint64_t connect_timeout_ns;	/* default 5 s */
	uint64_t idle_timeout_ns;	/* default 1 h; 0: none */
	uint64_t grace_ns;		/* shutdown grace, default 10 s */
	unsigned int max_conns;		/* --max-connections: default of both
					 * max_outbound and max_inbound */
	/* admission (listener.c; 0: derived, see sl_admission_setup) */
	unsigned int max_outbound;	/* flows of local pods, their pool */
	unsigned int max_inbound;	/* authenticated and plaintext inbound */
	unsigned int max_pending;	/* inbound mTLS not yet authenticated */
	unsigned int max_pending_src;	/* of those, per source (IPv4, IPv6 /64) */
	unsigned int fd_reserve;	/* fds kept for admin, metrics, reload */
	uint64_t hello_timeout_ns;	/* first TLS record deadline, default 1 s */
	uint16_t outbound_port;		/* 0: from the node config */
	uint16_t inbound_port;		/* 0: from the node config */
	uint16_t inbound_plain_port;	/* 0: from the node config (15006) */
	bool steer;			/* apply the steering table ourselves */
	bool keep_table;		/* --keep-table-on-stop: fail closed */
	const char *state_dir;		/* last good config copy; NULL: none */
	uint64_t cert_lifetime_s;	/* built-in CA leaf lifetime; 0: default */
	unsigned int pool_size;		/* ready connections per key (pool.h); 0 off */
	unsigned int pool_max;		/* a busy key's ceiling (>= pool_size) */
	uint64_t pool_idle_ns;		/* pooled connection idle time, default 10 s */
	uint64_t pool_refill_delay_ns;	/* refill this long after a use, default 5 ms */
	uint64_t preamble_timeout_ns;	/* inbound: preamble wait after an mTLS
					 * handshake, default 15 s */
	uint32_t bulk_buf_size;		/* --bulk-buffer: a busy direction's relay
					   buffer (relay.h buf_size_bulk) */
	uint64_t busy_poll_ns;		/* worker busy-poll window (loop.h), 0 off */
	int hs_threads;			/* handshake helpers (offload.h); -1: one
					 * per worker, 0: steps run inline */
	int hs_nice;			/* their nice value, default 10 */
	bool no_resumption;		/* --tls-resumption off (tls.h) */
};

struct sl_daemon {
	struct sl_daemon_opts o;

	pthread_mutex_t cfg_lock;
	struct sl_config *cfg; /* current snapshot (reference held) */

	struct sl_certstore *certs;
	struct sl_tls_ctx *tls_ctx;
	bool ktls; /* install kTLS after handshakes */
	/* admission caps per budget (enum sl_budget), the per-source table of
	 * pending handshakes, the fd reserve (sl_admission_setup) */
	unsigned int cap[SL_BUDGET__MAX];
	struct sl_srclimit *srclimit;
	unsigned int fd_reserve;
	uint16_t outbound_port, inbound_port;
	uint16_t inbound_plain_port; /* plaintext inbound (PERMISSIVE) */
	uint32_t mark; /* SO_MARK of every socket sluiced dials */

	struct sl_worker **workers;
	unsigned int n_workers;

	struct sl_nft_ctx *steer; /* --steer: our steering table */

	/* traffic management and live reload (lb.h, outlier.h, reload.h) */
	struct sl_health *health;	      /* endpoint state, all workers */
	struct sl_reload *reload;	      /* config watch (worker 0) */
	struct sl_reload_watch *reload_watch; /* its io_uring side */
	/* what SIGHUP does: the config (sl_reload_now @flags), then the
	 * certificates; set by main, called on worker 0 (admin "reload");
	 * returns sl_reload_now's result */
	int (*reload_now)(struct sl_daemon *d, unsigned int flags);
};

/** The daemon (one per process). */
extern struct sl_daemon *sl_daemon;

/** sl_daemon_config - a reference on the current snapshot (sl_config_put) */
struct sl_config *sl_daemon_config(struct sl_daemon *d);

/**
 * sl_daemon_identity - the identity to present as @spiffe_id
 * @retval 0 and a reference in @out (sl_identity_put); -errno
 */
int sl_daemon_identity(struct sl_daemon *d, const char *spiffe_id,
		       struct sl_identity **out);

/** Per-worker state (sl_worker_data()). */
struct sl_listener;
struct sl_admin;
struct sl_pool;
struct sl_flow;
struct sl_hello;

#define SL_MAX_LISTENERS 8

struct sl_wctx {
	struct sl_daemon *d;
	struct sl_worker *w;
	struct sl_listener *listeners[SL_MAX_LISTENERS];
	unsigned int n_listeners;
	struct sl_admin *admin; /* worker 0 */
	struct sl_pool *pool;	/* ready client connections (pool.h) */
	struct sl_flow *waiting; /* inbound flows before their preamble (flow.h) */
	/* inbound connections before their first record, oldest first
	 * (hello.c) */
	struct sl_hello *hellos, *hellos_last;
	struct sl_op grace_op;
	struct __kernel_timespec grace_ts;
	bool grace_armed;
	bool cutting; /* grace period over: cancelling everything */
};

/* ---- admission (listener.c) ----------------------------------------- */

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
 *         pending connection (giving its place back) and return true,
 *         then the cap is tried again (NULL: none)
 * @retval 0 and @a filled (sl_admission_release); -EBUSY: its source is
 *         at --max-pending-per-source; -ENOSPC: --max-pending reached
 *         (both counted as shed)
 */
int sl_admission_pending(struct sl_daemon *d, const struct sl_ip *peer,
			 bool (*make_room)(void *arg), void *arg,
			 struct sl_admission *a);

/**
 * sl_admission_authenticated - move a pending @a to the inbound budget
 * (no-op for another budget)
 * @retval 0; -ENOSPC when the inbound budget is full (counted as shed;
 *         @a still holds its pending place)
 */
int sl_admission_authenticated(struct sl_daemon *d, struct sl_admission *a);

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

enum sl_listener_kind {
	SL_LISTEN_OUTBOUND,
	SL_LISTEN_INBOUND,
	SL_LISTEN_INBOUND_PLAIN, /* plaintext TPROXYed to PERMISSIVE pods */
};

/**
 * sl_listener_open - bind, listen and start a multishot accept on @w
 * @retval 0 and the listener in @out; -errno
 */
int sl_listener_open(struct sl_wctx *wc, enum sl_listener_kind kind,
		     int family, uint16_t port, struct sl_listener **out);

/** sl_listener_close - stop accepting; frees itself when its ops are done */
void sl_listener_close(struct sl_listener *l);

/* ---- flows (outbound.c, inbound.c) ----------------------------------- */

/** sl_outbound_start - take over @fd, a pod connection redirected to us */
void sl_outbound_start(struct sl_wctx *wc, int fd);

/**
 * sl_inbound_start - take over @fd, an mTLS connection to a local pod, and
 * what @adm holds (pending, or inbound for a same-node handoff)
 */
void sl_inbound_start(struct sl_wctx *wc, int fd,
		      const struct sl_admission *adm);

/**
 * sl_hello_start - (hello.c) take over @fd, just accepted on the inbound
 * mTLS port: admit it as a pending handshake and wait, holding no more
 * than a small struct, until its first TLS record has arrived; then
 * sl_inbound_start().  A refused or silent peer is reset.
 */
void sl_hello_start(struct sl_wctx *wc, int fd);

/** sl_hello_cut - reset every connection of @wc still in sl_hello_start's
 * wait (the worker is stopping) */
void sl_hello_cut(struct sl_wctx *wc);

/**
 * sl_plain_inbound_start - take over @fd, a plaintext connection to a
 * local pod TPROXYed to the plaintext inbound port (plain_inbound.c)
 */
void sl_plain_inbound_start(struct sl_wctx *wc, int fd);

/* ---- same-node handoff (handoff.c) ----------------------------------- */

/**
 * sl_handoff_put - remember that the loopback connection from local port
 * @port is meant for the local workload at @dst (thread safe)
 * @retval 0 or -ENOMEM/-EEXIST
 */
int sl_handoff_put(uint16_t port, const struct sl_ip *dst);

/**
 * sl_handoff_take - look up and remove the entry for @port
 * @retval 0 and @dst filled; -ENOENT
 */
int sl_handoff_take(uint16_t port, struct sl_ip *dst);

/**
 * sl_handoff_put_src - sl_handoff_put() that also records the source pod
 * address @src (may be NULL: unknown) for the inbound side's
 * AuthorizationPolicy check
 * @retval 0 or -ENOMEM/-EEXIST
 */
int sl_handoff_put_src(uint16_t port, const struct sl_ip *dst,
		       const struct sl_ip *src);

/**
 * sl_handoff_take_src - sl_handoff_take() that also gives the source pod
 * address (@has_src false when it was not recorded); @src and @has_src
 * may both be NULL
 * @retval 0 and @dst filled; -ENOENT
 */
int sl_handoff_take_src(uint16_t port, struct sl_ip *dst, struct sl_ip *src,
			bool *has_src);

/** sl_handoff_drop - remove the entry for @port if present */
void sl_handoff_drop(uint16_t port);

/* ---- helpers (sock.c) ------------------------------------------------ */

/** sl_sockaddr_to_ip - address and port of @sa (AF_INET/AF_INET6; v4-mapped
 * IPv6 addresses become IPv4) @retval 0 or -EAFNOSUPPORT */
int sl_sockaddr_to_ip(const struct sockaddr_storage *sa, struct sl_ip *ip,
		      uint16_t *port);

/** sl_ip_to_sockaddr - build a socket address; @retval its length */
socklen_t sl_ip_to_sockaddr(const struct sl_ip *ip, uint16_t port,
			    struct sockaddr_storage *sa);

/** sl_ip_is_loopback - 127.0.0.0/8 or ::1 */
bool sl_ip_is_loopback(const struct sl_ip *ip);

/**
 * sl_socket_dial - a non-blocking TCP socket for dialing @family, with
 * SO_MARK @mark and TCP_NODELAY  @retval fd or -errno
 */
int sl_socket_dial(int family, uint32_t mark);

/**
 * sl_socket_keepalive - turn on TCP keepalive on @fd (SO_KEEPALIVE), with
 * TCP_KEEPCNT @probes, TCP_KEEPIDLE @idle_s and TCP_KEEPINTVL @intvl_s
 * (each 0: the kernel's default, net.ipv4.tcp_keepalive_*)
 * @retval 0 or -errno
 */
int sl_socket_keepalive(int fd, uint32_t probes, uint32_t idle_s,
			uint32_t intvl_s);

/**
 * sl_socket_nodelay - set TCP_NODELAY on @fd: the relays forward each
 * chunk as soon as it is read, and Nagle would hold a small segment back
 * until the previous one is acknowledged (a delayed ACK, or the next
 * message on the flow)
 * @retval 0 or -errno
 */
int sl_socket_nodelay(int fd);

/** sl_socket_reset - close @fd with an RST (SO_LINGER 0); -1 is ignored */
void sl_socket_reset(int fd);

/** sl_ns_from_ts - fill a kernel timespec from nanoseconds */
void sl_ns_to_ts(uint64_t ns, struct __kernel_timespec *ts);

/* ---- steering (steer.c) ------------------------------------------------ */

/**
 * sl_steer_start - apply the steering table for d->cfg (local workloads)
 * and the TPROXY policy route  @retval 0 or -errno (logged)
 */
int sl_steer_start(struct sl_daemon *d);
/** sl_steer_update - re-apply with @cfg's local workloads (reload) */
void sl_steer_update(struct sl_daemon *d, struct sl_config *cfg);
/** sl_steer_stop - stop watching; remove the table and the policy route
 * (kept with d->o.keep_table); NULL-safe */
void sl_steer_stop(struct sl_daemon *d);
/**
 * sl_steer_dry_run - load @config_dir for @node and write the batch that
 * --steer would apply (every WorkloadEntry of the node) to @out; touches
 * no kernel state  @retval 0 or -errno (printed to stderr)
 */
int sl_steer_dry_run(const char *config_dir, const char *node,
		     uint16_t plain_port, FILE *out);

/* ---- admin socket (admin.c) ------------------------------------------ */

/** sl_admin_open - listen on @path (mode 0600) on worker 0 @retval 0/-errno */
int sl_admin_open(struct sl_wctx *wc, const char *path, struct sl_admin **out);
/** sl_admin_close - stop serving, unlink the socket; NULL-safe */
void sl_admin_close(struct sl_admin *a);

#endif /* SL_DAEMON_H */

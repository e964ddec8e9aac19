/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's shared state: its options, the current snapshot, the
 * certificate store and TLS context, the workers, and the per-worker
 * context every operation on a worker gets (struct sl_wctx).  Each module
 * declares its own functions in its own header.
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

struct sl_certstore;
struct sl_tls_ctx;
struct sl_identity;
struct sl_nft_ctx;
struct sl_health;
struct sl_reload;
struct sl_reload_watch;
struct sl_k8s;
struct sl_srclimit;

/* the admission budgets (enum sl_budget of flow/admission.h) */
#define SL_DAEMON_BUDGETS 4

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
	uint64_t upgrade_drain_ns;	/* after an upgrade handed over: how
					 * long the old process lets its flows
					 * run, default 5 min */
	unsigned int max_conns;		/* --max-connections: default of both
					 * max_outbound and max_inbound */
	/* admission (listener.c; 0: derived, see sl_admission_setup) */
	unsigned int max_outbound;	/* flows of local pods, their pool */
	unsigned int max_inbound;	/* authenticated and plaintext inbound */
	unsigned int max_pending;	/* inbound mTLS not yet authenticated */
	unsigned int max_pending_src;	/* of those, per source (IPv4, IPv6 /64) */
	unsigned int fd_reserve;	/* fds kept for admin, metrics, reload */
	uint64_t hello_timeout_ns;	/* first TLS record deadline, default 1 s */
	uint64_t http_head_timeout_ns;	/* HTTP request head deadline (l7),
					 * default 10 s */
	uint16_t outbound_port;		/* 0: from the node config */
	uint16_t inbound_port;		/* 0: from the node config */
	uint16_t inbound_plain_port;	/* 0: from the node config (15006) */
	bool steer;			/* apply the steering table ourselves */
	bool keep_table;		/* --keep-table-on-stop: fail closed */
	const char *state_dir;		/* last good config copy; NULL: none */
	bool kubernetes;		/* --kubernetes: in-cluster API source */
	const char *kubeconfig;		/* --kubeconfig FILE, or NULL */
	const char *kube_context;	/* --kube-context NAME, or NULL */
	uint64_t kube_sync_wait_ns;	/* --kube-sync-wait */
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
	/* o.node when --node was not given: a copy of the first
	 * configuration's node name (owned, freed by main), since a reload
	 * frees that configuration */
	char *node_copy;

	pthread_mutex_t cfg_lock;
	struct sl_config *cfg; /* current snapshot (reference held) */

	struct sl_certstore *certs;
	struct sl_tls_ctx *tls_ctx;
	bool ktls; /* install kTLS after handshakes */
	/* admission caps per budget (enum sl_budget), the per-source table of
	 * pending handshakes, the fd reserve (sl_admission_setup) */
	unsigned int cap[SL_DAEMON_BUDGETS]; /* by enum sl_budget */
	struct sl_srclimit *srclimit;
	unsigned int fd_reserve;
	uint16_t outbound_port, inbound_port;
	uint16_t inbound_plain_port; /* plaintext inbound (PERMISSIVE) */
	uint32_t mark; /* SO_MARK of every socket sluiced dials */

	struct sl_worker **workers;
	unsigned int n_workers;
	/* a stop was requested (atomic; set before the workers are asked to
	 * stop): from then on other threads do not read the workers, which
	 * are freed once they have drained */
	bool stopping;
	/* an upgrade handed over (upgrade.h): draining, the table and the
	 * sockets are the new process's */
	bool handed_over;
	/* what an upgrade does once the new process took over (main) */
	void (*upgrade_handed_over)(struct sl_daemon *d);

	struct sl_nft_ctx *steer; /* --steer: our steering table */

	/* traffic management and live reload (lb.h, outlier.h, reload.h) */
	struct sl_health *health;	      /* endpoint state, all workers */
	struct sl_reload *reload;	      /* config watch (worker 0) */
	struct sl_k8s *k8s;		      /* the Kubernetes API source, or NULL */
	/* a snapshot holding the API's view (or the saved one) is in use
	 * (atomic; set by the reload, read by /ready) */
	bool k8s_loaded;
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

#define SL_MAX_LISTENERS 32 /* 6 of its own, more when inherited */

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

#endif /* SL_DAEMON_H */

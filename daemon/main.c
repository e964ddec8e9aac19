/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sluiced: the sluice node daemon.  See docs/sluiced.8.md.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "certstore.h"
#include "fdreg.h"
#include "instance.h"
#include "options.h"
#include "daemon.h"
#include "gcm.h"
#include "identity.h"
#include "ktls.h"
#include "k8s.h"
#include "log.h"
#include "notify.h"
#include "outlier.h"
#include "flow.h"
#include "pool.h"
#include "relay.h"
#include "reload.h"
#include "reload_watch.h"
#include "sl_build_config.h"
#include "accesslog.h"
#include "obs.h"
#include "offload.h"
#include "stats.h"
#include "tls.h"
#include "util.h"
#include "admin.h"
#include "admission.h"
#include "l7.h"
#include "listener.h"
#include "sock.h"
#include "steering.h"
#include "upgrade.h"

/* ---- worker hooks ---------------------------------------------------- */

static void grace_done(struct sl_op *op, int res, uint32_t flags)
{
	struct sl_wctx *wc = sl_container_of(op, struct sl_wctx, grace_op);

	wc->grace_armed = false;
	if (res != -ETIME || !sl_worker_refs(wc->w))
		return;
	if (!wc->cutting)
		sl_log_notice("%s: worker %u: grace period over, cutting what is left",
			      __func__, sl_worker_id(wc->w));
	wc->cutting = true;
	/* ops prepared after this cancel (by completions handled in the same
	 * batch) escape it: cancel again until nothing is left */
	sl_worker_cancel_all(wc->w);
	sl_ns_to_ts(100000000ULL, &wc->grace_ts);
	sl_worker_timeout(wc->w, &wc->grace_op, &wc->grace_ts);
	wc->grace_armed = true;
}

/*
 * The listeners of one kind and family on this worker: its share of the
 * listening sockets a predecessor left (listener.h), else one new one.
 */
static int open_listeners(struct sl_wctx *wc, enum sl_listener_kind kind,
			  int family, uint16_t port)
{
	unsigned int n = sl_listener_share(kind, family, port,
					   sl_worker_id(wc->w),
					   wc->d->n_workers);
	int ret;

	if (!n)
		n = 1;
	for (unsigned int i = 0; i < n; i++) {
		if (wc->n_listeners == SL_MAX_LISTENERS) {
			sl_log_warn("%s: worker %u: more than %d listening sockets: the rest are not served",
				    __func__, sl_worker_id(wc->w),
				    SL_MAX_LISTENERS);
			return 0;
		}
		ret = sl_listener_open(wc, kind, family, port,
				       &wc->listeners[wc->n_listeners]);
		if (ret)
			return ret;
		wc->n_listeners++;
	}
	return 0;
}

static int worker_start(struct sl_worker *w, void *arg)
{
	struct sl_daemon *d = arg;
	struct sl_wctx *wc;
	int ret;

	wc = calloc(1, sizeof(*wc));
	if (!wc)
		return -ENOMEM;
	wc->d = d;
	wc->w = w;
	sl_worker_set_data(w, wc);
	sl_worker_set_busy_poll(w, d->o.busy_poll_ns);
	ret = sl_pool_new(wc, &wc->pool);
	if (ret)
		return ret;

	ret = open_listeners(wc, SL_LISTEN_OUTBOUND, AF_INET, d->outbound_port);
	if (ret) {
		sl_log_err("%s: outbound listener on 0.0.0.0:%u: %s", __func__,
			   d->outbound_port, strerror(-ret));
		return ret;
	}
	ret = open_listeners(wc, SL_LISTEN_INBOUND, AF_INET, d->inbound_port);
	if (ret) {
		sl_log_err("%s: inbound listener on 0.0.0.0:%u: %s", __func__,
			   d->inbound_port, strerror(-ret));
		return ret;
	}
	ret = open_listeners(wc, SL_LISTEN_INBOUND_PLAIN, AF_INET,
			     d->inbound_plain_port);
	if (ret) {
		sl_log_err("%s: plaintext inbound listener on 0.0.0.0:%u: %s",
			   __func__, d->inbound_plain_port, strerror(-ret));
		return ret;
	}
	/* IPv6 is optional: a node without it still serves IPv4 */
	if (open_listeners(wc, SL_LISTEN_OUTBOUND, AF_INET6, d->outbound_port) &&
	    sl_worker_id(w) == 0)
		sl_log_notice("%s: no IPv6 outbound listener", __func__);
	(void)open_listeners(wc, SL_LISTEN_INBOUND, AF_INET6, d->inbound_port);
	(void)open_listeners(wc, SL_LISTEN_INBOUND_PLAIN, AF_INET6,
			     d->inbound_plain_port);

	/* started by an upgrade: the old process answers on the admin socket
	 * until it hands over (release_listeners) */
	if (sl_worker_id(w) == 0 && d->o.admin_socket && *d->o.admin_socket &&
	    !sl_upgrade_child()) {
		ret = sl_admin_open(wc, d->o.admin_socket, &wc->admin);
		if (ret)
			return ret;
	}
	/* live reload: the inotify watch and its debounce timer on worker 0,
	 * the thread that also handles SIGHUP */
	if (sl_worker_id(w) == 0 && d->reload) {
		ret = sl_reload_watch_start(w, d->reload, &d->reload_watch);
		if (ret)
			return ret;
	}
	return 0;
}

static void worker_stop(struct sl_worker *w, void *arg)
{
	struct sl_wctx *wc = sl_worker_data(w);

	if (!wc)
		return;
	for (unsigned int i = 0; i < wc->n_listeners; i++)
		sl_listener_close(wc->listeners[i]);
	wc->n_listeners = 0;
	sl_admin_close(wc->admin);
	wc->admin = NULL;
	sl_pool_stop(wc->pool);
	sl_l7_worker_stop(wc);
	/* a plain stop cuts handshakes and flows still waiting for their
	 * preamble; after an upgrade handed over they were accepted here
	 * and finish here, like every other flow of the drain */
	if (!__atomic_load_n(&wc->d->handed_over, __ATOMIC_ACQUIRE))
		sl_flow_cut_waiting(wc);
	if (sl_worker_id(w) == 0)
		sl_reload_watch_stop(wc->d->reload_watch);
	if (sl_worker_refs(w)) {
		wc->grace_op.fn = grace_done;
		sl_ns_to_ts(__atomic_load_n(&wc->d->handed_over, __ATOMIC_ACQUIRE) ?
				    wc->d->o.upgrade_drain_ns : wc->d->o.grace_ns,
			    &wc->grace_ts);
		sl_worker_timeout(w, &wc->grace_op, &wc->grace_ts);
		wc->grace_armed = true;
	}
}

static void worker_fini(struct sl_worker *w, void *arg)
{
	struct sl_wctx *wc = sl_worker_data(w);

	sl_notify_worker_ended(); /* the notify thread lets go of the workers */
	if (wc)
		sl_pool_free(wc->pool);
	free(wc);
	sl_worker_set_data(w, NULL);
}

/* the reloader swapped in a new generation (inotify or SIGHUP): new flows
 * take it from d->cfg, established flows keep theirs */
static bool str_differs(const char *a, const char *b)
{
	return (a || b) && (!a || !b || strcmp(a, b));
}

/*
 * Node settings that sluiced reads only at start (listeners, the
 * certificate store, the telemetry listener, kTLS): a reload that changes
 * one must say loudly that it has no effect until a restart.
 */
static void node_changes(const struct sl_config *old, const struct sl_config *cfg)
{
	const struct sl_node_config *a = sl_config_node(old);
	const struct sl_node_config *b = sl_config_node(cfg);
	const struct {
		const char *field;
		bool changed;
	} f[] = {
		{ "trustDomain", str_differs(a->trust_domain, b->trust_domain) },
		{ "ports.outbound", a->outbound_port != b->outbound_port },
		{ "ports.inbound", a->inbound_port != b->inbound_port },
		{ "ports.inboundPlaintext", a->inbound_plain_port != b->inbound_plain_port },
		{ "ports.metrics", a->metrics_port != b->metrics_port },
		{ "metricsAddress", str_differs(a->metrics_address, b->metrics_address) },
		{ "caDir", str_differs(a->ca_dir, b->ca_dir) },
		{ "certDir", str_differs(a->cert_dir, b->cert_dir) },
		{ "trustBundle", str_differs(a->trust_bundle, b->trust_bundle) },
		{ "ktls", a->ktls != b->ktls },
	};

	for (size_t i = 0; i < SL_ARRAY_SIZE(f); i++)
		if (f[i].changed)
			sl_log_warn("%s: Node spec.%s changed: it has NO EFFECT until sluiced restarts (the running value stays)",
				    __func__, f[i].field);
}

static void config_swapped(void *arg, struct sl_config *cfg)
{
	struct sl_daemon *d = arg;
	struct sl_config *old;

	pthread_mutex_lock(&d->cfg_lock);
	old = d->cfg;
	if (old)
		node_changes(old, cfg);
	d->cfg = sl_config_get(cfg);
	sl_steer_update(d, cfg);
	pthread_mutex_unlock(&d->cfg_lock);
	sl_config_put(old);
	sl_pool_invalidate_all();
	sl_log_notice("%s: configuration %s loaded", __func__,
		      sl_config_generation(cfg));
	sl_notify_serving();
	/* endpoints that left the config: drop their health entries */
	sl_health_gc(d->health);
}

/* what observability shows of the live reload (obs.h) */
static void obs_config_state(void *arg, struct sl_obs_config_state *out)
{
	struct sl_reload_status st;

	sl_reload_status(arg, &st);
	out->failures = st.failures;
	out->refused = st.refused;
	out->warnings = st.warnings;
	sl_strlcpy(out->last_error, st.last_error, sizeof(out->last_error));
}

/* SIGHUP: reload now (errors are logged with file:line and kept for
 * "status" and the metrics by the reloader) and reload the certificates */
static int reload(struct sl_daemon *d, unsigned int flags)
{
	struct sl_trust *trust;
	int ret;

	sl_notify_reloading();
	ret = sl_reload_now(d->reload, flags);
	if (ret == 0) {
		struct sl_config *cfg = sl_reload_get(d->reload);

		sl_log_notice("%s: configuration %s loaded (unchanged)", __func__,
			      sl_config_generation(cfg));
		sl_config_put(cfg);
	}
	if (sl_certstore_reload(d->certs))
		sl_log_warn("%s: certificate store reload failed; keeping the old one",
			    __func__);
	/* new connections verify against the (possibly) new trust bundle */
	trust = sl_certstore_trust(d->certs);
	if (trust && sl_tls_ctx_set_trust(d->tls_ctx, trust))
		sl_log_warn("%s: trust bundle not updated", __func__);
	sl_trust_put(trust);
	/* sessions verified under the old bundle or certificates: not reused
	 * (pooled connections, the pools' and the TLS server's sessions) */
	sl_pool_invalidate_all();
	sl_tls_ctx_flush_sessions(d->tls_ctx);
	sl_notify_reloaded();
	return ret;
}

static bool stop_early;

/* stop: the drain starts on every worker (their stop hook) */
static void stop_workers(struct sl_daemon *d, struct sl_worker **ws)
{
	__atomic_store_n(&d->stopping, true, __ATOMIC_RELEASE);
	for (unsigned int i = 0; ws && i < d->n_workers; i++)
		sl_worker_request_stop(ws[i]);
}

/*
 * An upgrade's new process took over (upgrade.h; on the upgrade thread):
 * stop accepting and drain for --upgrade-drain.  The steering table, the
 * listening sockets and systemd's attention are the new process's now:
 * no STOPPING=1, the table stays (sl_steer_stop).
 */
static void handed_over(struct sl_daemon *d)
{
	struct sl_worker **ws = __atomic_load_n(&d->workers, __ATOMIC_ACQUIRE);

	__atomic_store_n(&d->handed_over, true, __ATOMIC_RELEASE);
	sl_log_notice("%s: draining %lld flows (at most %llu s)", __func__,
		      (long long)sl_stats_active(),
		      (unsigned long long)(d->o.upgrade_drain_ns / 1000000000ULL));
	stop_workers(d, ws);
}

/* the new process of an upgrade, once the old one handed over: accept on
 * the inherited sockets and answer on the admin socket (each worker) */
struct release_post {
	struct sl_post p;
	struct sl_wctx *wc;
};

static void release_listeners(struct sl_post *p)
{
	struct release_post *rp = sl_container_of(p, struct release_post, p);
	struct sl_wctx *wc = rp->wc;
	struct sl_daemon *d = wc->d;

	for (unsigned int i = 0; i < wc->n_listeners; i++)
		sl_listener_release(wc->listeners[i]);
	if (sl_worker_id(wc->w) == 0 && d->o.admin_socket &&
	    *d->o.admin_socket && !wc->admin &&
	    sl_admin_open(wc, d->o.admin_socket, &wc->admin))
		sl_log_err("%s: no admin socket", __func__);
	free(rp);
}

static int release_all(struct sl_daemon *d)
{
	for (unsigned int i = 0; i < d->n_workers; i++) {
		struct release_post *rp = calloc(1, sizeof(*rp));

		if (!rp)
			return -ENOMEM;
		rp->wc = sl_worker_data(d->workers[i]);
		rp->p.fn = release_listeners;
		sl_worker_post(d->workers[i], &rp->p);
	}
	return 0;
}

static void worker_signal(struct sl_worker *w, int signo, void *arg)
{
	struct sl_daemon *d = arg;
	int ret;

	struct sl_worker **ws = __atomic_load_n(&d->workers, __ATOMIC_ACQUIRE);

	switch (signo) {
	case SIGTERM:
	case SIGINT:
		if (!ws) {
			/* still starting: main() stops us once it has the
			 * worker list */
			__atomic_store_n(&stop_early, true, __ATOMIC_RELEASE);
			sl_notify_stopping(d->o.grace_ns);
			break;
		}
		sl_log_notice("%s: %s: stopping (grace %llu ms, %lld flows open)",
			      __func__, strsignal(signo),
			      (unsigned long long)(d->o.grace_ns / 1000000),
			      (long long)sl_stats_active());
		sl_notify_stopping(d->o.grace_ns);
		stop_workers(d, ws);
		break;
	case SIGHUP:
		sl_log_notice("%s: SIGHUP: reloading the configuration", __func__);
		reload(d, 0);
		break;
	case SIGUSR2:
		if (!ws || __atomic_load_n(&d->stopping, __ATOMIC_ACQUIRE)) {
			sl_log_warn("%s: SIGUSR2: not serving: no upgrade", __func__);
			break;
		}
		sl_log_notice("%s: SIGUSR2: upgrading", __func__);
		ret = sl_upgrade_begin(d, handed_over);
		if (ret)
			sl_log_warn("%s: SIGUSR2: %s", __func__,
				    ret == -EALREADY ? "an upgrade is already running" :
				    strerror(-ret));
		break;
	default:
		break;
	}
}

/* ---- start-up -------------------------------------------------------- */

/* the Kubernetes API source: its credentials are checked here, at start */
static int start_kubernetes(struct sl_daemon *d)
{
	struct sl_kube_creds creds;
	struct sl_k8s_opts ko = { .creds = &creds };
	char err[512];
	int ret;

	if (d->o.kubeconfig)
		ret = sl_kubeconfig_load(d->o.kubeconfig, d->o.kube_context,
					 &creds, err, sizeof(err));
	else
		ret = sl_kube_in_cluster(getenv("SLUICE_K8S_SA_DIR"), &creds,
					 err, sizeof(err));
	if (ret) {
		fprintf(stderr, "sluiced: kubernetes: %s\n", err);
		return ret;
	}
	ret = sl_k8s_start(&ko, &d->k8s);
	sl_kube_creds_free(&creds);
	if (ret)
		fprintf(stderr, "sluiced: kubernetes: cannot start: %s\n",
			strerror(-ret));
	return ret;
}

static int load_config(struct sl_daemon *d, bool check)
{
	struct sl_config_errors errs = { 0 };
	struct sl_reload_opts ro = {
		.dir = d->o.config_dir,
		.node_name = d->o.node,
		.state_dir = d->o.state_dir,
		.on_swap = config_swapped,
		.on_swap_arg = d,
		.require_usable = true,
	};
	int ret;

	if (!check && (d->o.kubernetes || d->o.kubeconfig)) {
		ret = start_kubernetes(d);
		if (ret)
			return ret;
		ro.k8s = d->k8s;
		ro.k8s_wait_ns = d->o.kube_sync_wait_ns;
		ro.api_loaded = &d->k8s_loaded;
	}
	if (!check) {
		/* the config directory, or the last good copy, and a watch */
		ret = sl_reload_new(&ro, &d->reload);
		if (ret) {
			fprintf(stderr, "sluiced: %s: %s\n", d->o.config_dir,
				ret == -EINVAL ? "invalid configuration (errors above)" :
						 strerror(-ret));
			return ret;
		}
		d->cfg = sl_reload_get(d->reload);
		ret = sl_health_new(NULL, NULL, &d->health);
		if (ret)
			sl_log_err("%s: %s", __func__, strerror(-ret));
		return ret;
	}

	ret = sl_config_load_dir(d->o.config_dir, d->o.node, &d->cfg, &errs);
	if (ret) {
		if (errs.n)
			sl_config_errors_print(&errs, stderr);
		else
			fprintf(stderr, "sluiced: %s: %s\n", d->o.config_dir,
				strerror(-ret));
		sl_config_errors_free(&errs);
		return ret;
	}
	/* what the start itself refuses (sl_reload_new, require_usable):
	 * --check is the unit's ExecStartPre, and an OK there followed by a
	 * refused start would only loop through Restart=on-failure */
	{
		char why[256];

		if (sl_config_usable(d->cfg, why, sizeof(why)) < 0) {
			fprintf(stderr, "sluiced: %s: sluiced would refuse to start: %s\n",
				d->o.config_dir, why);
			return -EINVAL;
		}
	}
	printf("%s: OK (generation %s)\n", d->o.config_dir,
	       sl_config_generation(d->cfg));
	return 0;
}

/*
 * One sluiced per node: the lock beside the admin socket, and one in the
 * state directory (two daemons must not write the same last-good copy).
 * The fds stay open for the process's life.
 */
static int take_locks(const struct sl_daemon *d)
{
	const char *dirs[2] = { d->o.admin_socket, d->o.state_dir };
	const char *suffix[2] = { ".lock", "/sluiced.lock" };
	const char *names[2] = { "sl-lock-admin", "sl-lock-state" };

	for (int i = 0; i < 2; i++) {
		char path[PATH_MAX];
		long holder;
		int fd, ret;

		if (!dirs[i] || !*dirs[i])
			continue;
		if (snprintf(path, sizeof(path), "%s%s", dirs[i], suffix[i]) >=
		    (int)sizeof(path))
			return -ENAMETOOLONG;
		/* an upgrade: the old process passed its locked fd on */
		fd = sl_fdreg_take(names[i]);
		if (fd >= 0) {
			ret = sl_instance_lock_adopt(fd, path);
			if (ret) {
				fprintf(stderr, "sluiced: inherited lock %s: %s\n",
					path, strerror(-ret));
				close(fd);
				return ret;
			}
		} else {
			ret = sl_instance_lock(path, &fd, &holder);
			if (ret == -EBUSY) {
				fprintf(stderr, "sluiced: another sluiced (pid %ld) holds %s: refusing to start\n",
					holder, path);
				return ret;
			}
			if (ret) {
				fprintf(stderr, "sluiced: lock %s: %s\n", path,
					strerror(-ret));
				return ret;
			}
		}
		(void)sl_fdreg_publish(fd, names[i], false);
	}
	return 0;
}

/* the workers bind with SO_REUSEPORT: refuse to share a port silently */
static int ports_free(const struct sl_daemon *d)
{
	const uint16_t ports[3] = { d->outbound_port, d->inbound_port,
				    d->inbound_plain_port };
	const char *names[3] = { "outbound", "inbound", "inbound plaintext" };

	const enum sl_listener_kind kinds[3] = { SL_LISTEN_OUTBOUND,
						 SL_LISTEN_INBOUND,
						 SL_LISTEN_INBOUND_PLAIN };

	for (int i = 0; i < 3; i++) {
		char name[SL_FDREG_NAME_MAX];
		int ret;

		/* an upgrade or a restart under systemd: the port is ours */
		sl_listener_name(kinds[i], AF_INET, ports[i], name, sizeof(name));
		if (sl_fdreg_inherited(name))
			continue;
		ret = sl_instance_port_free(ports[i]);

		if (ret) {
			sl_log_err("%s: %s port %u: %s%s", __func__, names[i],
				   ports[i], strerror(-ret),
				   ret == -EADDRINUSE ?
					   " (port in use: another sluiced?)" : "");
			return ret;
		}
	}
	return 0;
}

static int setup_tls(struct sl_daemon *d)
{
	const struct sl_node_config *node = sl_config_node(d->cfg);
	struct sl_certstore_opts co = {
		.trust_domain = node->trust_domain,
		.ca_dir = node->cert_dir ? NULL : node->ca_dir,
		.cert_dir = node->cert_dir,
		.trust_bundle = node->trust_bundle,
		.lifetime_s = d->o.cert_lifetime_s,
	};
	struct sl_trust *trust;
	int ret;

	ret = sl_certstore_new(&co, &d->certs);
	if (ret) {
		sl_log_err("%s: certificate store (%s): %s", __func__,
			   co.ca_dir ? co.ca_dir : co.cert_dir ? co.cert_dir : "no caDir/certDir",
			   strerror(-ret));
		return ret;
	}
	trust = sl_certstore_trust(d->certs);
	ret = sl_tls_ctx_new(trust, &d->tls_ctx);
	sl_trust_put(trust);
	if (ret) {
		sl_log_err("%s: TLS context: %s", __func__, strerror(-ret));
		return ret;
	}
	sl_tls_ctx_set_resumption(d->tls_ctx, !d->o.no_resumption);
	/* probe and self-test the record layer's AES-GCM now, not in the
	 * first flow (gcm.h); the start line says which one runs */
	(void)sl_gcm_available();
	return 0;
}

static int setup_ktls(struct sl_daemon *d)
{
	enum sl_ktls_mode mode = d->o.ktls >= 0 ? (enum sl_ktls_mode)d->o.ktls
						: sl_config_node(d->cfg)->ktls;
	int ret;

	if (mode == SL_KTLS_OFF) {
		sl_log_info("%s: kernel TLS off: userspace TLS", __func__);
		d->ktls = false;
		return 0;
	}
	ret = sl_ktls_probe();
	if (ret) {
		if (mode == SL_KTLS_ON) {
			sl_log_err("%s: kernel TLS required (ktls: on) but not available: %s",
				   __func__, strerror(-ret));
			return -EOPNOTSUPP;
		}
		sl_log_notice("%s: kernel TLS not available (%s): userspace TLS",
			      __func__, strerror(-ret));
		d->ktls = false;
		return 0;
	}
	sl_log_info("%s: kernel TLS available: kTLS + splice", __func__);
	d->ktls = true;
	return 0;
}

static void daemon_free(struct sl_daemon *d)
{
	sl_reload_watch_free(d->reload_watch);
	sl_reload_free(d->reload);
	sl_k8s_stop(d->k8s);
	sl_health_free(d->health);
	sl_tls_ctx_free(d->tls_ctx);
	sl_certstore_free(d->certs);
	sl_config_put(d->cfg);
	sl_admission_free(d);
	free(d->node_copy);
	pthread_mutex_destroy(&d->cfg_lock);
}

/*
 * The workers' threads have been asked to stop: wait for them, then stop
 * every thread that reads them (the systemd notification thread, the
 * telemetry server's /healthz) before their memory goes.  Until the
 * workers pointer is cleared, /healthz may still be reading a worker.
 */
static int workers_end(struct sl_daemon *d, struct sl_worker **ws)
{
	int ret = sl_workers_wait(ws, d->n_workers);

	__atomic_store_n(&d->workers, NULL, __ATOMIC_RELEASE);
	sl_notify_stop();
	sl_obs_stop();
	sl_workers_free(ws, d->n_workers);
	return ret;
}

/*
 * Run sluiced as @x says: the dry run or the check, else the locks, the
 * configuration, TLS, telemetry, the workers and, with --steer, steering;
 * then wait for the workers and tear down.  @retval the exit status
 */
static int run(const struct sl_options *x, char *const *argv)
{
	struct sl_daemon d = { 0 };
	struct sl_worker_hooks hooks = {
		.start = worker_start,
		.stop = worker_stop,
		.fini = worker_fini,
		.signal = worker_signal,
		.arg = &d,
	};
	enum sl_log_level level;
	/* UINT_MAX: the node config's ports.metrics */
	unsigned int telemetry_port, log_rate;
	struct sl_worker **ws = NULL;
	bool check = false, dry_run = false;
	sigset_t sigs;
	long ncpu;
	int ret;

	d.o = x->o;
	pthread_mutex_init(&d.cfg_lock, NULL);
	level = x->level;
	telemetry_port = x->telemetry_port;
	log_rate = x->log_rate;
	check = x->check;
	dry_run = x->dry_run;
	if (x->half_close_set)
		sl_relay_half_close_timeout_set(x->half_close_ns);
	if (x->aes_gcm >= 0)
		sl_gcm_set_mode((enum sl_gcm_mode)x->aes_gcm);
	sl_log_init("sluiced", level);
	if (x->remove_steering) {
		ret = sl_steer_remove();
		if (!ret)
			printf("sluiced: steering table and policy route removed\n");
		daemon_free(&d);
		return ret ? 1 : 0;
	}
	if (dry_run) {
		ret = sl_steer_dry_run(d.o.config_dir, d.o.node,
				       d.o.inbound_plain_port, stdout);
		daemon_free(&d);
		return ret ? 1 : 0;
	}

	if (!check) {
		/* what a predecessor left: an upgrading sluiced's sockets
		 * and locks, or systemd's fd store after a restart */
		if (sl_upgrade_init(argv))
			sl_log_warn("%s: cannot upgrade later: /proc/self/exe unreadable",
				    __func__);
		ret = sl_upgrade_child_begin();
		if (ret < 0) {
			daemon_free(&d);
			return 1;
		}
		if (!ret && sl_fdreg_inherit_systemd() < 0)
			sl_log_warn("%s: systemd's fd store: unreadable", __func__);
		/* accept only once the old process handed over */
		sl_listener_hold(sl_upgrade_child());
		d.upgrade_handed_over = handed_over;
	}
	if (!check && take_locks(&d)) {
		daemon_free(&d);
		return 1;
	}
	ret = load_config(&d, check);
	if (ret || check) {
		daemon_free(&d);
		return ret ? 1 : 0;
	}
	d.outbound_port = sl_config_node(d.cfg)->outbound_port;
	d.inbound_port = sl_config_node(d.cfg)->inbound_port;
	d.inbound_plain_port = d.o.inbound_plain_port ?
		d.o.inbound_plain_port : sl_config_node(d.cfg)->inbound_plain_port;
	if (d.inbound_plain_port == d.outbound_port ||
	    d.inbound_plain_port == d.inbound_port) {
		fprintf(stderr, "%s: --inbound-plain-port %u: already the %s port\n",
			argv[0], d.inbound_plain_port,
			d.inbound_plain_port == d.outbound_port ? "outbound" : "inbound");
		daemon_free(&d);
		return 2;
	}
	sl_notify_status("starting: configuration %s loaded",
			 sl_config_generation(d.cfg));
	ret = ports_free(&d);
	if (ret)
		goto out;
	d.mark = 0x5101; /* SL_NFT_BYPASS_MARK: steering lets these through */
	if (!d.o.workers) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		d.o.workers = ncpu > 0 ? (unsigned int)ncpu : 1;
	}
	ret = sl_admission_setup(&d);
	if (ret)
		goto out;
	if (!d.o.node) {
		/* a copy: the name lives in d.cfg's arena, which the first
		 * reload that swaps the configuration frees */
		d.node_copy = strdup(sl_config_node(d.cfg)->name);
		if (!d.node_copy) {
			ret = -ENOMEM;
			sl_log_err("%s: %s", __func__, strerror(-ret));
			goto out;
		}
		d.o.node = d.node_copy;
	}

	ret = sl_loop_probe();
	if (ret) {
		sl_log_err("%s: io_uring cannot run sluiced here", __func__);
		goto out;
	}
	ret = setup_ktls(&d);
	if (ret)
		goto out;
	ret = setup_tls(&d);
	if (ret)
		goto out;
	sl_daemon = &d;
	d.reload_now = reload;
	{
		const struct sl_node_config *node = sl_config_node(d.cfg);
		struct sl_obs_opts oo = {
			.http_addr = node->metrics_address,
			.http_port = telemetry_port == UINT_MAX ? node->metrics_port :
				     telemetry_port ? (int)telemetry_port : -1,
			.access_log = log_rate > 0,
			.log_rate = log_rate,
			.log_burst = 2 * log_rate,
		};

		/* telemetry is not worth refusing to serve flows for */
		if (sl_obs_start(&d, &oo))
			sl_log_warn("%s: running without telemetry", __func__);
		sl_obs_set_config_source(obs_config_state, d.reload);
		sl_obs_set_health(d.health);
	}
	/* HTTP ports: the L7 engine takes their connections (l7.h) */
	sl_outbound_set_l7(sl_l7_offer);
	sl_inbound_set_l7(sl_l7_inbound_offer);

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR2);
	sigaddset(&sigs, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	sigdelset(&sigs, SIGPIPE);

	if (d.o.hs_threads < 0)
		d.o.hs_threads = (int)(d.o.workers < SL_OFFLOAD_MAX_THREADS ?
				       d.o.workers : SL_OFFLOAD_MAX_THREADS);
	ret = sl_offload_start((unsigned int)d.o.hs_threads, d.o.hs_nice);
	if (ret) {
		sl_log_err("%s: starting %d handshake threads failed: %s",
			   __func__, d.o.hs_threads, strerror(-ret));
		goto out;
	}
	d.n_workers = d.o.workers;
	sl_notify_status("starting: %u workers%s", d.n_workers,
			 d.o.steer ? ", then steering" : "");
	ret = sl_workers_start(d.n_workers, &hooks, &sigs, &ws);
	if (ret) {
		sl_log_err("%s: starting %u workers failed: %s", __func__,
			   d.n_workers, strerror(-ret));
		goto out;
	}
	__atomic_store_n(&d.workers, ws, __ATOMIC_RELEASE);
	/* steer only once every listener is up */
	if (d.o.steer) {
		pthread_mutex_lock(&d.cfg_lock);
		ret = sl_steer_start(&d);
		pthread_mutex_unlock(&d.cfg_lock);
	}
	/* an upgrade: the old process hands over only now (it served until
	 * here); if it will not, this process leaves everything as it is */
	if (!ret && sl_upgrade_child() &&
	    !__atomic_load_n(&stop_early, __ATOMIC_ACQUIRE)) {
		ret = sl_upgrade_child_commit();
		if (ret)
			__atomic_store_n(&d.handed_over, true, __ATOMIC_RELEASE);
		else
			ret = release_all(&d);
	}
	sl_listener_hold(false);
	sl_fdreg_drop_unused();
	/* READY=1 once /ready agrees, then the watchdog (notify.h) */
	if (!ret && !__atomic_load_n(&stop_early, __ATOMIC_ACQUIRE))
		ret = sl_notify_start(&d, sl_obs_ready);
	if (ret || __atomic_load_n(&stop_early, __ATOMIC_ACQUIRE)) {
		sl_notify_stop();
		stop_workers(&d, ws);
		workers_end(&d, ws);
		sl_steer_stop(&d);
		goto out;
	}
	if (d.o.idle_timeout_ns)
		sl_log_notice("sluiced: idle timeout %llu ms (--idle-timeout; DestinationRule connectionPool idleTimeout overrides)",
			      (unsigned long long)(d.o.idle_timeout_ns / 1000000ULL));
	else
		sl_log_notice("sluiced: idle timeout none (--idle-timeout 0; DestinationRule connectionPool idleTimeout overrides)");
	sl_log_notice("sluiced %s: node %s, %u workers, %u handshake threads (nice %d), outbound :%u, inbound :%u, plaintext inbound :%u, %s (userspace AES-GCM: %s), max %u outbound + %u inbound flows, %u pending handshakes",
		      SL_VERSION, d.o.node ? d.o.node : "?", d.n_workers,
		      sl_offload_threads(), d.o.hs_nice,
		      d.outbound_port, d.inbound_port, d.inbound_plain_port,
		      d.ktls ? "kTLS" : "userspace TLS", sl_gcm_impl_name(),
		      d.cap[SL_BUDGET_OUTBOUND], d.cap[SL_BUDGET_INBOUND],
		      d.cap[SL_BUDGET_PENDING]);
	/* the workers run until SIGTERM/SIGINT */
	ret = workers_end(&d, ws);
	sl_steer_stop(&d);
	sl_log_notice("sluiced: stopped");
out:
	sl_offload_stop(); /* the workers are joined on every path here */
	sl_obs_stop();
	sl_daemon = NULL;
	daemon_free(&d);
	return ret ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct sl_options x;
	int ret;

	ret = sl_options_parse(argc, argv, &x, stdout, stderr);
	if (ret)
		return ret > 0 ? 0 : 2;
	return run(&x, argv);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sluiced applying its own steering table (--steer): the "inet sluice"
 * table built from the node configuration (ports) and the local pods, plus
 * the TPROXY policy route; kept current while sluiced runs, removed at stop
 * (unless --keep-table-on-stop).  The rules themselves are nft/'s business
 * (steer.h); this file decides WHICH pods are steered and keeps the table
 * in place:
 *
 *  - steered pods = addresses that are routed to a local veth (podwatch.h,
 *    /32 and /128 host routes, as CNI plugins install them) AND named by a
 *    WorkloadEntry of this node.  Before a pod's route exists its address
 *    is not steered; a pod without WorkloadEntry is never steered.
 *  - a pod's mode: PERMISSIVE (its plaintext is TPROXYed to the plaintext
 *    inbound port) when its workload's PeerAuthentication is PERMISSIVE or
 *    DISABLE by default or on any port (sl_config_mtls_plaintext_any; the
 *    table works per address, the plaintext listener refuses the STRICT
 *    ports), else STRICT (plaintext dropped).
 *  - a route appearing/going away → one small element batch
 *    (sl_nft_pod_add/del); a config reload → the pods and their modes are
 *    recomputed and only the elements that changed are updated in place
 *    (the whole table is re-applied if that fails).
 *  - every 2 s sl_nft_check(): a flushed, deleted or edited table is
 *    re-applied atomically (warning logged, steering_restores counted).
 *
 * The route events and the check run on one small thread ("steer"): it
 * polls the podwatch fd and an eventfd (stop) with a 2 s timeout.  Every
 * use of d->steer and of the state below is under d->cfg_lock (the reload
 * path and the admin "rules" command take it too).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "obs.h"
#include "podwatch.h"
#include "stats.h"
#include "steer.h"
#include "steering.h"

#define CHECK_INTERVAL_MS 2000

static struct {
	struct sl_daemon *d;
	struct sl_podwatch *pw;
	struct sl_nft_addr *routed; /* host routes via local veths */
	size_t n_routed, cap_routed;
	struct sl_nft_pod *pods; /* what the pod sets hold now */
	size_t n_pods;
	struct sl_nft_pod *orphans; /* of those, without a WorkloadEntry */
	size_t n_orphans;
	uint16_t plain_port; /* --inbound-plain-port, 0: the node config's */
	bool applied; /* the table was applied at least once */
	bool dirty;   /* an element update failed: re-apply on the next tick */
	int stop_fd;
	pthread_t thread;
	bool thread_running;
} st = { .stop_fd = -1 };

static void nft_config(const struct sl_config *cfg, struct sl_nft_config *nc)
{
	const struct sl_node_config *node = sl_config_node(cfg);

	sl_nft_config_init(nc);
	nc->outbound_port = node->outbound_port;
	nc->inbound_port = node->inbound_port;
	nc->inbound_plain_port = st.plain_port ? st.plain_port
					       : node->inbound_plain_port;
	nc->metrics_port = node->metrics_port;
}

static bool addr_eq(const struct sl_nft_addr *a, const struct sl_nft_addr *b)
{
	if (a->family != b->family)
		return false;
	return a->family == AF_INET ? a->v4.s_addr == b->v4.s_addr
				    : !memcmp(&a->v6, &b->v6, sizeof(a->v6));
}

static bool is_routed(const struct sl_nft_addr *a)
{
	for (size_t i = 0; i < st.n_routed; i++)
		if (addr_eq(&st.routed[i], a))
			return true;
	return false;
}

static void workload_addr(const struct sl_workload *wl, struct sl_nft_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->family = wl->address.family;
	if (a->family == AF_INET) {
		a->v4 = wl->address.v4;
		a->prefix_len = 32;
	} else {
		a->v6 = wl->address.v6;
		a->prefix_len = 128;
	}
}

static enum sl_nft_pod_mode wl_mode(const struct sl_config *cfg,
				    const struct sl_workload *wl)
{
	return sl_config_mtls_plaintext_any(cfg, wl) ? SL_NFT_PERMISSIVE
						     : SL_NFT_STRICT;
}

/* is @a named by a WorkloadEntry of this node in @cfg?  Its steering mode
 * in @mode (PERMISSIVE if any workload at that address takes plaintext) */
static bool is_local_workload(const struct sl_config *cfg,
			      const struct sl_nft_addr *a,
			      enum sl_nft_pod_mode *mode)
{
	const char *node = sl_config_node(cfg)->name;
	const struct sl_workload *wl;
	struct sl_nft_addr w;
	bool found = false;
	size_t n;

	*mode = SL_NFT_STRICT;
	wl = sl_config_workloads(cfg, &n);
	for (size_t i = 0; i < n; i++) {
		if (!wl[i].node || !node || strcmp(wl[i].node, node) != 0)
			continue;
		workload_addr(&wl[i], &w);
		if (!addr_eq(&w, a))
			continue;
		found = true;
		if (wl_mode(cfg, &wl[i]) == SL_NFT_PERMISSIVE)
			*mode = SL_NFT_PERMISSIVE;
	}
	return found;
}

/* the workloads of this node, as steering pods with their mode (see the
 * top); with @routed_only only those whose host route via a veth is
 * known */
static int local_pods(const struct sl_config *cfg, bool routed_only,
		      struct sl_nft_pod **out, size_t *n_out)
{
	const char *node = sl_config_node(cfg)->name;
	const struct sl_workload *wl;
	struct sl_nft_pod *pods;
	size_t n, k = 0;

	wl = sl_config_workloads(cfg, &n);
	pods = calloc(n ? n : 1, sizeof(*pods));
	if (!pods)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct sl_nft_addr a;
		bool dup = false;

		if (!wl[i].node || !node || strcmp(wl[i].node, node) != 0)
			continue;
		workload_addr(&wl[i], &a);
		if (routed_only && !is_routed(&a))
			continue;
		for (size_t j = 0; j < k && !dup; j++) {
			if (!addr_eq(&pods[j].addr, &a))
				continue;
			dup = true;
			if (wl_mode(cfg, &wl[i]) == SL_NFT_PERMISSIVE)
				pods[j].mode = SL_NFT_PERMISSIVE;
		}
		if (dup)
			continue;
		pods[k].addr = a;
		pods[k].mode = wl_mode(cfg, &wl[i]);
		k++;
	}
	*out = pods;
	*n_out = k;
	return 0;
}

static struct sl_nft_pod *pods_find(struct sl_nft_pod *v, size_t n,
				    const struct sl_nft_addr *a)
{
	for (size_t i = 0; i < n; i++)
		if (addr_eq(&v[i].addr, a))
			return &v[i];
	return NULL;
}

/*
 * Fail closed (docs/STEERING.md): a pod that is in the sets now and whose
 * WorkloadEntry is gone from @pods' config, while its route still exists,
 * stays in the sets as STRICT (an "orphan"): its new outbound flows reach
 * sluiced and are refused (unknown source), mTLS to it is refused (no
 * identity), plaintext to it is dropped.  Without this its traffic would
 * flow unsteered, in plaintext.  It leaves the sets when its route goes.
 * @pods (capacity *@cap) gets the orphans appended.
 * @retval 0 or -ENOMEM
 */
static int keep_orphans(struct sl_nft_pod **pods, size_t *n, size_t *cap)
{
	for (size_t i = 0; i < st.n_pods; i++) {
		char buf[INET6_ADDRSTRLEN + 4] = "?";

		if (pods_find(*pods, *n, &st.pods[i].addr) ||
		    !is_routed(&st.pods[i].addr))
			continue;
		if (*n == *cap) {
			size_t ncap = *cap ? 2 * *cap : 8;
			struct sl_nft_pod *v = realloc(*pods, ncap * sizeof(*v));

			if (!v)
				return -ENOMEM;
			*pods = v;
			*cap = ncap;
		}
		(*pods)[*n].addr = st.pods[i].addr;
		(*pods)[*n].mode = SL_NFT_STRICT;
		(*n)++;
		if (st.pods[i].mode != SL_NFT_STRICT ||
		    !pods_find(st.orphans, st.n_orphans, &st.pods[i].addr)) {
			sl_nft_addr_format(&st.pods[i].addr, buf, sizeof(buf));
			sl_log_warn("%s: pod %s has no WorkloadEntry of this node any more: it stays steered, STRICT, so its new flows are refused (fail closed) until its route goes",
				    __func__, buf);
		}
	}
	return 0;
}

/* st.orphans: @n orphans (keep_orphans appended them after the local pods) */
static void note_orphans(const struct sl_nft_pod *orphans, size_t n)
{
	free(st.orphans);
	st.orphans = calloc(n ? n : 1, sizeof(*st.orphans));
	st.n_orphans = st.orphans ? n : 0;
	if (st.orphans)
		memcpy(st.orphans, orphans, n * sizeof(*orphans));
}

/* what the pod sets should hold for @cfg: its routed local workloads,
 * then the orphans (fail closed), from *@n_local on; free *@out with
 * free(3) */
static int wanted_pods(struct sl_config *cfg, struct sl_nft_pod **out,
		       size_t *n, size_t *n_local)
{
	size_t cap;
	int ret;

	ret = local_pods(cfg, true, out, n);
	if (ret)
		return ret;
	*n_local = cap = *n;
	ret = keep_orphans(out, n, &cap);
	if (ret) {
		free(*out);
		*out = NULL;
	}
	return ret;
}

/* called with cfg_lock held */
static int apply(struct sl_daemon *d, struct sl_config *cfg)
{
	struct sl_nft_pod *pods = NULL;
	size_t n = 0, n_local;
	int ret;

	ret = wanted_pods(cfg, &pods, &n, &n_local);
	if (ret)
		return ret;
	ret = sl_nft_apply(d->steer, NULL, pods, n);
	if (ret) {
		sl_log_err("%s: applying the steering table: %s: %s", __func__,
			   strerror(-ret), sl_nft_last_error(d->steer));
	} else {
		sl_log_info("%s: steering table applied (%zu local pods)",
			    __func__, n);
		st.applied = true;
		st.dirty = false;
		note_orphans(pods + n_local, n - n_local);
		free(st.pods);
		st.pods = pods;
		st.n_pods = n;
		pods = NULL;
	}
	free(pods);
	return ret;
}

/* st.pods: @a is now in the sets with @mode (@add) or not at all */
static void pods_note(const struct sl_nft_addr *a, enum sl_nft_pod_mode mode,
		      bool add)
{
	struct sl_nft_pod *p = pods_find(st.pods, st.n_pods, a), *v;

	if (!add) {
		if (p)
			*p = st.pods[--st.n_pods];
		return;
	}
	if (p) {
		p->mode = mode;
		return;
	}
	v = realloc(st.pods, (st.n_pods + 1) * sizeof(*v));
	if (!v) {
		st.dirty = true; /* the next apply rebuilds st.pods */
		return;
	}
	st.pods = v;
	st.pods[st.n_pods].addr = *a;
	st.pods[st.n_pods].mode = mode;
	st.n_pods++;
}

/* called with cfg_lock held: bring the pod sets to @cfg's pods and modes
 * with element updates only (counters and the rest of the table stay) */
static int update_in_place(struct sl_daemon *d, struct sl_config *cfg)
{
	struct sl_nft_pod *pods = NULL;
	size_t n = 0, n_local, changed = 0;
	int ret;

	ret = wanted_pods(cfg, &pods, &n, &n_local);
	if (ret)
		return ret;
	for (size_t i = 0; i < st.n_pods && !ret; i++)
		if (!pods_find(pods, n, &st.pods[i].addr)) {
			ret = sl_nft_pod_del(d->steer, &st.pods[i].addr);
			changed++;
		}
	for (size_t i = 0; i < n && !ret; i++) {
		struct sl_nft_pod *old = pods_find(st.pods, st.n_pods,
						   &pods[i].addr);

		if (old && old->mode == pods[i].mode)
			continue;
		ret = sl_nft_pod_add(d->steer, &pods[i].addr, pods[i].mode);
		changed++;
	}
	if (ret) {
		sl_log_warn("%s: updating the pod sets: %s; re-applying the table",
			    __func__, sl_nft_last_error(d->steer));
		free(pods);
		return ret;
	}
	note_orphans(pods + n_local, n - n_local);
	free(st.pods);
	st.pods = pods;
	st.n_pods = n;
	if (changed)
		sl_log_info("%s: steering updated in place (%zu pods, %zu changed)",
			    __func__, n, changed);
	return 0;
}

static int routed_add(const struct sl_nft_addr *a)
{
	if (is_routed(a))
		return 0;
	if (st.n_routed == st.cap_routed) {
		size_t cap = st.cap_routed ? 2 * st.cap_routed : 16;
		struct sl_nft_addr *r = realloc(st.routed, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		st.routed = r;
		st.cap_routed = cap;
	}
	st.routed[st.n_routed++] = *a;
	return 0;
}

static void routed_del(const struct sl_nft_addr *a)
{
	for (size_t i = 0; i < st.n_routed; i++)
		if (addr_eq(&st.routed[i], a)) {
			st.routed[i] = st.routed[--st.n_routed];
			return;
		}
}

/* podwatch callback; runs with cfg_lock held (start and the thread) */
static void pod_event(const struct sl_nft_addr *addr, int ifindex, bool added,
		      void *arg)
{
	struct sl_daemon *d = arg;
	char buf[INET6_ADDRSTRLEN + 4] = "?";
	enum sl_nft_pod_mode mode;
	int ret;

	sl_nft_addr_format(addr, buf, sizeof(buf));
	if (added) {
		if (routed_add(addr)) {
			st.dirty = true; /* retried with a full apply */
			return;
		}
	} else {
		routed_del(addr);
	}
	mode = SL_NFT_STRICT;
	if (!st.applied ||
	    (!is_local_workload(d->cfg, addr, &mode) &&
	     (added || !pods_find(st.pods, st.n_pods, addr)))) {
		sl_log_debug("%s: route to %s (ifindex %d) %s: not steered",
			     __func__, buf, ifindex, added ? "appeared" : "gone");
		return;
	}
	ret = added ? sl_nft_pod_add(d->steer, addr, mode)
		    : sl_nft_pod_del(d->steer, addr);
	if (ret) {
		sl_log_warn("%s: %s pod %s: %s; re-applying the table", __func__,
			    added ? "adding" : "removing", buf,
			    sl_nft_last_error(d->steer));
		st.dirty = true;
		return;
	}
	pods_note(addr, mode, added);
	if (!added) {
		struct sl_nft_pod *o = pods_find(st.orphans, st.n_orphans, addr);

		if (o)
			*o = st.orphans[--st.n_orphans];
	}
	sl_log_info("%s: pod %s %s (ifindex %d%s)", __func__, buf,
		    added ? "steered" : "no longer steered", ifindex,
		    added && mode == SL_NFT_PERMISSIVE ? ", permissive" : "");
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* cfg_lock held: put the table back if someone flushed or edited it */
static void check_table(struct sl_daemon *d)
{
	struct sl_nft_config nc;
	int ret;

	ret = sl_nft_check(d->steer);
	if (ret == 0 && !st.dirty)
		return;
	if (ret && ret != -ENOENT && ret != -ESTALE) {
		sl_log_debug("%s: checking the table: %s", __func__, strerror(-ret));
		return;
	}
	if (ret) {
		sl_log_warn("%s: the steering table was %s externally: restoring it",
			    __func__, ret == -ENOENT ? "deleted" : "changed");
		nft_config(d->cfg, &nc);
		sl_nft_policy_route_install(&nc);
	}
	if (apply(d, d->cfg) == 0 && ret) {
		atomic_fetch_add_explicit(&sl_stats.steering_restores, 1,
					  memory_order_relaxed);
		sl_obs_steer_restored();
	}
}

static void *steer_thread(void *arg)
{
	struct sl_daemon *d = arg;
	uint64_t next = now_ms() + CHECK_INTERVAL_MS;

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = st.stop_fd, .events = POLLIN },
			{ .fd = sl_podwatch_fd(st.pw), .events = POLLIN },
		};
		uint64_t now = now_ms();
		int timeout = next > now ? (int)(next - now) : 0;
		int n;

		n = poll(pfd, 2, timeout);
		if (n < 0 && errno != EINTR) {
			sl_log_err("%s: poll: %s", __func__, strerror(errno));
			break;
		}
		if (n > 0 && pfd[0].revents)
			break;
		pthread_mutex_lock(&d->cfg_lock);
		if (n > 0 && pfd[1].revents) {
			int ret = sl_podwatch_process(st.pw);

			if (ret) {
				sl_log_warn("%s: pod watch: %s; re-dumping routes",
					    __func__, strerror(-ret));
				sl_podwatch_resync(st.pw);
			}
		}
		if (now_ms() >= next) {
			check_table(d);
			next = now_ms() + CHECK_INTERVAL_MS;
		} else if (st.dirty) {
			apply(d, d->cfg);
		}
		pthread_mutex_unlock(&d->cfg_lock);
	}
	return NULL;
}

/* forget the pod watch, the routed pods and the sets' contents */
static void state_clear(void)
{
	sl_podwatch_free(st.pw);
	st.pw = NULL;
	free(st.routed);
	st.routed = NULL;
	st.n_routed = st.cap_routed = 0;
	free(st.pods);
	st.pods = NULL;
	free(st.orphans);
	st.orphans = NULL;
	st.n_orphans = 0;
	st.n_pods = 0;
	st.applied = false;
}

int sl_steer_start(struct sl_daemon *d)
{
	struct sl_nft_config nc;
	int ret;

	st.d = d;
	st.plain_port = d->inbound_plain_port;
	nft_config(d->cfg, &nc);
	ret = sl_nft_ctx_new(&nc, &d->steer);
	if (ret) {
		sl_log_err("%s: %s", __func__, strerror(-ret));
		return ret;
	}
	/* the initial route dump fills st.routed (nothing applied yet) */
	ret = sl_podwatch_new(pod_event, d, &st.pw);
	if (ret) {
		sl_log_err("%s: pod watch: %s", __func__, strerror(-ret));
		goto fail;
	}
	ret = sl_nft_policy_route_install(&nc);
	if (ret) {
		sl_log_err("%s: TPROXY policy route: %s", __func__, strerror(-ret));
		goto fail;
	}
	ret = apply(d, d->cfg);
	if (ret)
		goto fail_route;
	st.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (st.stop_fd < 0) {
		ret = -errno;
		goto fail_table;
	}
	ret = -pthread_create(&st.thread, NULL, steer_thread, d);
	if (ret) {
		sl_log_err("%s: thread: %s", __func__, strerror(-ret));
		goto fail_fd;
	}
	st.thread_running = true;
	return 0;
fail_fd:
	close(st.stop_fd);
	st.stop_fd = -1;
fail_table:
	sl_nft_remove(d->steer);
fail_route:
	sl_nft_policy_route_remove(&nc);
fail:
	state_clear();
	sl_nft_ctx_free(d->steer);
	d->steer = NULL;
	return ret;
}

void sl_steer_update(struct sl_daemon *d, struct sl_config *cfg)
{
	if (!d->steer)
		return;
	if (!st.applied || st.dirty || update_in_place(d, cfg))
		apply(d, cfg);
}

void sl_steer_stop(struct sl_daemon *d)
{
	struct sl_nft_config nc;
	struct sl_nft_ctx *ctx;
	uint64_t one = 1;

	if (st.thread_running) {
		if (write(st.stop_fd, &one, sizeof(one)) != sizeof(one))
			sl_log_warn("%s: eventfd: %s", __func__, strerror(errno));
		pthread_join(st.thread, NULL);
		st.thread_running = false;
	}
	if (st.stop_fd >= 0)
		close(st.stop_fd);
	st.stop_fd = -1;

	pthread_mutex_lock(&d->cfg_lock);
	state_clear();
	ctx = d->steer;
	__atomic_store_n(&d->steer, NULL, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&d->cfg_lock);
	if (!ctx)
		return;
	if (__atomic_load_n(&d->handed_over, __ATOMIC_ACQUIRE)) {
		/* an upgrade: the new process applied the same table */
		sl_log_notice("%s: handed over: the steering table stays",
			      __func__);
	} else if (d->o.keep_table) {
		/* fail closed: the REDIRECT/TPROXY rules stay, nothing
		 * listens, steered pod traffic is refused until restart */
		sl_log_notice("%s: --keep-table-on-stop: leaving the steering table",
			      __func__);
	} else {
		nft_config(d->cfg, &nc);
		if (sl_nft_remove(ctx))
			sl_log_warn("%s: removing the steering table: %s",
				    __func__, sl_nft_last_error(ctx));
		sl_nft_policy_route_remove(&nc);
	}
	sl_nft_ctx_free(ctx);
}

int sl_steer_remove(void)
{
	struct sl_nft_config nc;
	struct sl_nft_ctx *ctx;
	int ret;

	sl_nft_config_init(&nc);
	ret = sl_nft_ctx_new(&nc, &ctx);
	if (ret) {
		sl_log_err("%s: %s", __func__, strerror(-ret));
		return ret;
	}
	ret = sl_nft_remove(ctx);
	if (ret)
		sl_log_err("%s: removing table inet %s: %s", __func__, nc.table,
			   sl_nft_last_error(ctx));
	sl_nft_ctx_free(ctx);
	sl_nft_policy_route_remove(&nc);
	return ret;
}

int sl_steer_dry_run(const char *config_dir, const char *node,
		     uint16_t plain_port, FILE *out)
{
	struct sl_config_errors errs = { 0 };
	struct sl_config *cfg = NULL;
	struct sl_nft_config nc;
	struct sl_nft_pod *pods = NULL;
	size_t n = 0;
	int ret;

	ret = sl_config_load_dir(config_dir, node, &cfg, &errs);
	if (ret) {
		if (errs.n)
			sl_config_errors_print(&errs, stderr);
		else
			fprintf(stderr, "sluiced: %s: %s\n", config_dir,
				strerror(-ret));
		sl_config_errors_free(&errs);
		return ret;
	}
	st.plain_port = plain_port;
	nft_config(cfg, &nc);
	ret = local_pods(cfg, false, &pods, &n);
	if (ret)
		goto out;
	ret = sl_nft_render(&nc, pods, n, out);
	if (!ret && fflush(out))
		ret = -EIO;
	if (ret)
		fprintf(stderr, "sluiced: --dry-run: %s\n", strerror(-ret));
	free(pods);
out:
	sl_config_put(cfg);
	return ret;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Kubernetes source (see k8s.h): one thread, one libcurl multi handle,
 * a reflector per resource (reflector.c), its start and stop, the
 * publication of a changed view (coalesced), and the resources' status.
 *
 * Locking: the thread owns the reflectors; k->lock guards what other
 * threads read (the stores, the status, the publication state; view.c).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "log.h"
#include "reflector.h"
#include "sl_build_config.h"
#include "util.h"

/* ---- the thread ------------------------------------------------------- */

static bool sl_k8s_all_synced(struct sl_k8s *k)
{
	for (size_t i = 0; i < sl_k8s_n_resources; i++)
		if (!k->refl[i].st.synced && !k->refl[i].st.absent)
			return false;
	return true;
}

static void sl_k8s_signal(struct sl_k8s *k)
{
	uint64_t one = 1;

	if (write(k->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		sl_log_warn("kubernetes: eventfd: %s", strerror(errno));
}

/* publish when the first full sync is done, then coalesced changes */
static uint64_t sl_k8s_publish(struct sl_k8s *k, uint64_t now)
{
	uint64_t wait = UINT64_MAX;
	bool fire = false;

	pthread_mutex_lock(&k->lock);
	if (k->dirty && sl_k8s_all_synced(k)) {
		if (!k->published || now >= k->dirty_at + k->o.coalesce_ns) {
			if (!k->published)
				sl_log_info("kubernetes: first full sync done");
			k->published = true;
			k->dirty = false;
			k->serial++;
			fire = true;
		} else {
			wait = k->dirty_at + k->o.coalesce_ns - now;
		}
	}
	pthread_mutex_unlock(&k->lock);
	if (fire)
		sl_k8s_signal(k);
	return wait;
}

static void *sl_k8s_thread(void *arg)
{
	struct sl_k8s *k = arg;

	while (!atomic_load(&k->stop)) {
		uint64_t now = sl_now_ns(), wait_ns = 1000000000ull, w;
		struct CURLMsg *m;
		int running, q;

		for (size_t i = 0; i < sl_k8s_n_resources; i++) {
			struct sl_refl *r = &k->refl[i];

			if (r->state != SL_R_IDLE)
				continue;
			if (now >= r->next_at) {
				if (sl_refl_begin(r) < 0) {
					sl_refl_error(r, "cannot start a request: out of memory");
					sl_refl_backoff(r);
				}
			} else if (r->next_at - now < wait_ns) {
				wait_ns = r->next_at - now;
			}
		}
		curl_multi_perform(k->multi, &running);
		while ((m = curl_multi_info_read(k->multi, &q))) {
			struct sl_refl *r = NULL;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
					  (char **)&r);
			if (r)
				sl_refl_done(r, m->data.result);
			else /* the Event being posted (events.c) */
				sl_k8s_events_done(k, m->easy_handle,
						   m->data.result);
		}
		w = sl_k8s_publish(k, sl_now_ns());
		if (w < wait_ns)
			wait_ns = w;
		w = sl_k8s_events_run(k, sl_now_ns());
		if (w < wait_ns)
			wait_ns = w;
		/* idle reflectors due now: no wait */
		for (size_t i = 0; i < sl_k8s_n_resources; i++)
			if (k->refl[i].state == SL_R_IDLE &&
			    k->refl[i].next_at <= sl_now_ns())
				wait_ns = 0;
		curl_multi_poll(k->multi, NULL, 0,
				(int)(wait_ns / 1000000ull) + (wait_ns ? 1 : 0),
				NULL);
	}
	return NULL;
}

/* ---- lifetime ----------------------------------------------------------- */

static int sl_creds_copy(struct sl_kube_creds *d, const struct sl_kube_creds *s)
{
#define SL_DUP(f)                                                              \
	do {                                                                   \
		if (s->f && !(d->f = strdup(s->f)))                            \
			return -ENOMEM;                                        \
	} while (0)
#define SL_DUPN(f, n)                                                          \
	do {                                                                   \
		if (s->f) {                                                    \
			d->f = malloc(s->n + 1);                               \
			if (!d->f)                                             \
				return -ENOMEM;                                \
			memcpy(d->f, s->f, s->n + 1);                          \
			d->n = s->n;                                           \
		}                                                              \
	} while (0)
	memset(d, 0, sizeof(*d));
	SL_DUP(origin);
	SL_DUP(server);
	SL_DUP(ca_file);
	SL_DUPN(ca_pem, ca_pem_len);
	SL_DUP(token);
	SL_DUP(token_file);
	SL_DUP(cert_file);
	SL_DUP(key_file);
	SL_DUPN(cert_pem, cert_pem_len);
	SL_DUPN(key_pem, key_pem_len);
	return 0;
#undef SL_DUP
#undef SL_DUPN
}

static void sl_curl_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

int sl_k8s_start(const struct sl_k8s_opts *opts, struct sl_k8s **out)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct sl_k8s *k;
	int ret = -ENOMEM;

	if (!opts || !opts->creds || !opts->creds->server)
		return -EINVAL;
	/* curl_global_init is not thread safe: once, before any thread uses
	   libcurl (the daemon has no other libcurl user) */
	pthread_once(&once, sl_curl_init);
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	pthread_mutex_init(&k->lock, NULL);
	k->efd = -1;
	k->o = *opts;
	k->o.creds = NULL;
	if (!k->o.page_size)
		k->o.page_size = 500;
	if (!k->o.watch_timeout_s)
		k->o.watch_timeout_s = 300;
	if (!k->o.coalesce_ns)
		k->o.coalesce_ns = 100000000ull;
	if (!k->o.backoff_max_ms)
		k->o.backoff_max_ms = 30000;
	if (k->o.backoff_max_ms < SL_K8S_BACKOFF_MIN_MS)
		k->o.backoff_max_ms = SL_K8S_BACKOFF_MIN_MS;
	if (!k->o.absent_retry_s)
		k->o.absent_retry_s = 60;
	k->rng = sl_now_ns() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ull;
	if (!k->rng)
		k->rng = 1;
	if (sl_creds_copy(&k->creds, opts->creds) < 0)
		goto err;
	k->refl = calloc(sl_k8s_n_resources, sizeof(*k->refl));
	k->tok = json_tokener_new_ex(64);
	k->multi = curl_multi_init();
	if (!k->refl || !k->tok || !k->multi || sl_k8s_events_new(k) < 0)
		goto err;
	for (size_t i = 0; i < sl_k8s_n_resources; i++) {
		struct sl_refl *r = &k->refl[i];

		r->k = k;
		r->res = &sl_k8s_resources[i];
		r->need_list = true;
		r->st.name = r->res->name;
		r->state = SL_R_IDLE;
		r->next_at = 0;
	}
	k->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (k->efd < 0) {
		ret = -errno;
		goto err;
	}
	{
		/* the thread takes no signal: they are the daemon's main
		   loop's (signalfd), and a default action would kill it */
		sigset_t all, old;

		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		ret = -pthread_create(&k->thr, NULL, sl_k8s_thread, k);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (ret < 0)
		goto err;
	k->thr_started = true;
	sl_log_info("kubernetes: watching %s (%s)", k->creds.server,
		    k->creds.origin ? k->creds.origin : "");
	*out = k;
	return 0;
err:
	sl_k8s_stop(k);
	return ret;
}

void sl_k8s_stop(struct sl_k8s *k)
{
	if (!k)
		return;
	if (k->thr_started) {
		atomic_store(&k->stop, true);
		curl_multi_wakeup(k->multi);
		pthread_join(k->thr, NULL);
	}
	for (size_t i = 0; k->refl && i < sl_k8s_n_resources; i++) {
		struct sl_refl *r = &k->refl[i];

		sl_refl_end_request(r);
		sl_k8s_store_clear(&r->store);
		sl_k8s_store_clear(&r->staging);
		free(r->buf);
		free(r->cont);
		free(r->page_cont);
		sl_k8s_lscan_free(&r->ls);
	}
	sl_k8s_events_free(k);
	free(k->refl);
	free(k->node_addrs);
	sl_k8s_seed_free(k);
	if (k->multi)
		curl_multi_cleanup(k->multi);
	if (k->tok)
		json_tokener_free(k->tok);
	if (k->efd >= 0)
		close(k->efd);
	sl_wipe_str(k->token);
	sl_kube_creds_free(&k->creds);
	pthread_mutex_destroy(&k->lock);
	free(k);
}

int sl_k8s_fd(const struct sl_k8s *k)
{
	return k->efd;
}

bool sl_k8s_synced(struct sl_k8s *k)
{
	bool p;

	pthread_mutex_lock(&k->lock);
	p = k->published;
	pthread_mutex_unlock(&k->lock);
	return p;
}

const char *sl_k8s_server(const struct sl_k8s *k, const char **origin)
{
	if (origin)
		*origin = k->creds.origin;
	return k->creds.server;
}

size_t sl_k8s_status(struct sl_k8s *k, struct sl_k8s_res_status *st,
		     size_t cap)
{
	pthread_mutex_lock(&k->lock);
	for (size_t i = 0; i < sl_k8s_n_resources && i < cap; i++) {
		st[i] = k->refl[i].st;
		st[i].objects = k->refl[i].store.n;
	}
	pthread_mutex_unlock(&k->lock);
	return sl_k8s_n_resources;
}

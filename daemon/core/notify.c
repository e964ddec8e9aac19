/* SPDX-License-Identifier: Apache-2.0 */
/* systemd notification: readiness, status, reload, stop, watchdog (notify.h). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "log.h"
#include "loop.h"
#include "notify.h"
#include "stats.h"
#include "util.h"

/* how often the thread asks whether sluiced is ready, until it is */
#define READY_POLL_NS 100000000ULL

static struct {
	pthread_mutex_t lock; /* the fields below; every sd_notify call */
	pthread_cond_t cond;  /* CLOCK_MONOTONIC: wakes the thread to stop */
	pthread_t thread;
	bool running;	   /* the thread was started */
	bool stop;	   /* the thread must end */
	bool ready_sent;   /* READY=1 went out */
	bool reloading;	   /* between RELOADING=1 and its READY=1 */
	bool stopping;	   /* STOPPING=1 went out: no READY, no WATCHDOG */
	bool worker_ended; /* a worker's loop ended: its memory may go */
	bool send_failed;  /* a failure was logged (once) */
	bool muted;	   /* not the service's main PID yet (an upgrade) */
	struct sl_daemon *d;
	sl_notify_ready_fn ready;
	uint64_t wd_usec;  /* WatchdogSec; 0: no watchdog */
} nt = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

/* send @msg (lock held) */
static void send_locked(const char *msg)
{
	int ret;

	if (nt.muted)
		return;
	ret = sd_notify(0, msg);

	if (ret < 0 && !nt.send_failed) {
		nt.send_failed = true;
		sl_log_warn("%s: sd_notify: %s (systemd is not told; logged once)",
			    __func__, strerror(-ret));
	}
}

static void send_msg(const char *msg)
{
	pthread_mutex_lock(&nt.lock);
	send_locked(msg);
	pthread_mutex_unlock(&nt.lock);
}

void sl_notify_mute(bool on)
{
	pthread_mutex_lock(&nt.lock);
	nt.muted = on;
	pthread_mutex_unlock(&nt.lock);
}

void sl_notify_status(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int len;

	len = snprintf(msg, sizeof(msg), "STATUS=");
	va_start(ap, fmt);
	vsnprintf(msg + len, sizeof(msg) - (size_t)len, fmt, ap);
	va_end(ap);
	send_msg(msg);
}

/* "STATUS=serving N workloads, config <generation>" into @buf */
static void serving_line(char *buf, size_t len)
{
	struct sl_daemon *d = nt.d;
	const struct sl_workload *wl;
	struct sl_config *cfg;
	size_t n = 0, local = 0;

	cfg = d ? sl_daemon_config(d) : NULL;
	if (!cfg) {
		snprintf(buf, len, "STATUS=serving, no configuration");
		return;
	}
	wl = sl_config_workloads(cfg, &n);
	for (size_t i = 0; i < n; i++)
		if (wl[i].node && d->o.node && strcmp(wl[i].node, d->o.node) == 0)
			local++;
	snprintf(buf, len, "STATUS=serving %zu workload%s, config %s", local,
		 local == 1 ? "" : "s", sl_config_generation(cfg));
	sl_config_put(cfg);
}

void sl_notify_serving(void)
{
	char msg[256];

	if (!__atomic_load_n(&nt.running, __ATOMIC_ACQUIRE))
		return;
	serving_line(msg, sizeof(msg));
	pthread_mutex_lock(&nt.lock);
	if (nt.ready_sent && !nt.reloading && !nt.stopping)
		send_locked(msg);
	pthread_mutex_unlock(&nt.lock);
}

void sl_notify_reloading(void)
{
	char msg[256];

	pthread_mutex_lock(&nt.lock);
	if (nt.stopping) {
		pthread_mutex_unlock(&nt.lock);
		return;
	}
	if (nt.ready_sent) {
		/* systemd 253 (Type=notify-reload) wants the time of the
		 * request with RELOADING=1 */
		snprintf(msg, sizeof(msg),
			 "RELOADING=1\nMONOTONIC_USEC=%" PRIu64
			 "\nSTATUS=reloading the configuration and certificates",
			 sl_now_ns() / 1000);
		nt.reloading = true;
	} else {
		snprintf(msg, sizeof(msg),
			 "STATUS=starting: reloading the configuration and certificates");
	}
	send_locked(msg);
	pthread_mutex_unlock(&nt.lock);
}

void sl_notify_reloaded(void)
{
	char msg[300];
	size_t len;

	if (!__atomic_load_n(&nt.running, __ATOMIC_ACQUIRE))
		return; /* before start-up ends: the thread sends READY=1 */
	len = (size_t)snprintf(msg, sizeof(msg), "READY=1\n");
	serving_line(msg + len, sizeof(msg) - len);
	pthread_mutex_lock(&nt.lock);
	if (nt.reloading && !nt.stopping)
		send_locked(msg);
	nt.reloading = false;
	pthread_mutex_unlock(&nt.lock);
}

void sl_notify_stopping(uint64_t grace_ns)
{
	char msg[256];

	snprintf(msg, sizeof(msg),
		 "STOPPING=1\nSTATUS=draining %lld flows (grace %llu ms)",
		 (long long)sl_stats_active(),
		 (unsigned long long)(grace_ns / 1000000ULL));
	pthread_mutex_lock(&nt.lock);
	if (!nt.stopping) {
		nt.stopping = true;
		send_locked(msg);
	}
	pthread_mutex_unlock(&nt.lock);
}

void sl_notify_worker_ended(void)
{
	bool stopping;

	pthread_mutex_lock(&nt.lock);
	stopping = nt.stopping;
	nt.worker_ended = true;
	pthread_mutex_unlock(&nt.lock);
	if (!stopping && __atomic_load_n(&nt.running, __ATOMIC_ACQUIRE) &&
	    nt.wd_usec)
		sl_log_err("%s: a worker's loop ended: not feeding the watchdog any more",
			   __func__);
}

/* ---- the watchdog's verdict ------------------------------------------ */

int sl_notify_wd_init(struct sl_notify_wd *wd, struct sl_worker *const *ws,
		      unsigned int n)
{
	wd->n = 0;
	wd->beat = calloc(n ? n : 1, sizeof(*wd->beat));
	if (!wd->beat)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++)
		wd->beat[i] = sl_worker_beat_ns(ws[i]);
	wd->n = n;
	return 0;
}

int sl_notify_wd_check(struct sl_notify_wd *wd, struct sl_worker *const *ws)
{
	for (unsigned int i = 0; i < wd->n; i++)
		if (sl_worker_beat_ns(ws[i]) <= wd->beat[i])
			return (int)i;
	for (unsigned int i = 0; i < wd->n; i++)
		wd->beat[i] = sl_worker_beat_ns(ws[i]);
	return -1;
}

void sl_notify_wd_free(struct sl_notify_wd *wd)
{
	if (!wd)
		return;
	free(wd->beat);
	wd->beat = NULL;
	wd->n = 0;
}

/* ---- the thread -------------------------------------------------------- */

/* not ready yet: ask again; send READY=1 once it is (lock not held) */
static bool try_ready(char *last_why, size_t why_len)
{
	char why[300], msg[300];
	bool ready, told = false;
	size_t len;

	why[0] = '\0';
	ready = nt.ready(nt.d, why, sizeof(why));
	if (ready) {
		len = (size_t)snprintf(msg, sizeof(msg), "READY=1\n");
		serving_line(msg + len, sizeof(msg) - len);
	} else if (strcmp(why, last_why) != 0) {
		sl_log_notice("%s: not ready yet (READY=1 waits): %s", __func__,
			      why);
		snprintf(msg, sizeof(msg), "STATUS=waiting: %s", why);
		sl_strlcpy(last_why, why, why_len);
	} else {
		return false;
	}
	pthread_mutex_lock(&nt.lock);
	if (!nt.stopping && !nt.ready_sent) {
		send_locked(msg);
		nt.ready_sent = told = ready;
	}
	pthread_mutex_unlock(&nt.lock);
	if (told)
		sl_log_info("%s: ready: told systemd (READY=1)", __func__);
	return ready;
}

/*
 * Feed the watchdog if every worker's heartbeat advanced.  The workers are
 * read under the lock, and only while none has ended (they are freed after
 * they all ended) and before STOPPING=1.
 */
static void feed(struct sl_notify_wd *wd, int *stuck)
{
	struct sl_worker *const *ws;
	int k;

	pthread_mutex_lock(&nt.lock);
	if (nt.stopping || nt.worker_ended) {
		pthread_mutex_unlock(&nt.lock);
		return;
	}
	ws = __atomic_load_n(&nt.d->workers, __ATOMIC_ACQUIRE);
	k = sl_notify_wd_check(wd, ws);
	if (k < 0)
		send_locked("WATCHDOG=1");
	pthread_mutex_unlock(&nt.lock);
	if (k >= 0 && *stuck != k)
		sl_log_err("%s: worker %d: its loop has not run since the last watchdog feed: not feeding the watchdog (systemd restarts sluiced after WatchdogSec)",
			   __func__, k);
	else if (k < 0 && *stuck >= 0)
		sl_log_notice("%s: every worker's loop runs again: feeding the watchdog",
			      __func__);
	*stuck = k;
}

static void ns_to_abs(uint64_t ns, struct timespec *ts)
{
	ts->tv_sec = (time_t)(ns / 1000000000ULL);
	ts->tv_nsec = (long)(ns % 1000000000ULL);
}

static void *notify_main(void *arg)
{
	struct sl_notify_wd *wd = arg;
	uint64_t period = nt.wd_usec * 1000ULL / 2;
	uint64_t next_feed = sl_now_ns() + period;
	char last_why[300] = "";
	bool ready = false;
	int stuck = -1;

	pthread_mutex_lock(&nt.lock);
	while (!nt.stop) {
		uint64_t now = sl_now_ns(), wake = UINT64_MAX;
		struct timespec ts;

		pthread_mutex_unlock(&nt.lock);
		if (!ready) {
			ready = try_ready(last_why, sizeof(last_why));
			if (!ready)
				wake = now + READY_POLL_NS;
		}
		if (period) {
			if (now >= next_feed) {
				feed(wd, &stuck);
				next_feed = now + period;
			}
			if (next_feed < wake)
				wake = next_feed;
		}
		pthread_mutex_lock(&nt.lock);
		if (nt.stop)
			break;
		if (nt.stopping || wake == UINT64_MAX) {
			/* nothing more to send until sl_notify_stop() */
			pthread_cond_wait(&nt.cond, &nt.lock);
		} else {
			ns_to_abs(wake, &ts);
			pthread_cond_timedwait(&nt.cond, &nt.lock, &ts);
		}
	}
	pthread_mutex_unlock(&nt.lock);
	return NULL;
}

static struct sl_notify_wd thread_wd;

int sl_notify_start(struct sl_daemon *d, sl_notify_ready_fn ready)
{
	pthread_condattr_t ca;
	uint64_t usec = 0;
	int ret;

	if (!getenv("NOTIFY_SOCKET"))
		return 0; /* not under systemd */
	nt.d = d;
	nt.ready = ready;
	ret = sd_watchdog_enabled(0, &usec);
	if (ret < 0)
		sl_log_warn("%s: WATCHDOG_USEC: %s: no watchdog", __func__,
			    strerror(-ret));
	nt.wd_usec = ret > 0 ? usec : 0;
	if (nt.wd_usec && nt.wd_usec < SL_NOTIFY_WD_MIN_USEC)
		sl_log_warn("%s: WatchdogSec=%" PRIu64 "ms is shorter than %llu s: every feed needs a heartbeat from each worker (one a second), so systemd may restart a healthy sluiced",
			    __func__, nt.wd_usec / 1000,
			    SL_NOTIFY_WD_MIN_USEC / 1000000ULL);
	ret = sl_notify_wd_init(&thread_wd, d->workers, d->n_workers);
	if (ret)
		return ret;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&nt.cond, &ca);
	pthread_condattr_destroy(&ca);
	nt.stop = false;
	/* not nt.stopping nor nt.worker_ended: what happened during
	 * start-up stays in force */
	nt.ready_sent = nt.reloading = false;
	ret = -pthread_create(&nt.thread, NULL, notify_main, &thread_wd);
	if (ret) {
		sl_log_err("%s: notify thread: %s", __func__, strerror(-ret));
		pthread_cond_destroy(&nt.cond);
		sl_notify_wd_free(&thread_wd);
		return ret;
	}
	__atomic_store_n(&nt.running, true, __ATOMIC_RELEASE);
	if (nt.wd_usec)
		sl_log_info("%s: systemd watchdog: %" PRIu64 " ms, fed every %" PRIu64 " ms while every worker's loop runs",
			    __func__, nt.wd_usec / 1000, nt.wd_usec / 2000);
	return 0;
}

void sl_notify_stop(void)
{
	if (!__atomic_load_n(&nt.running, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&nt.lock);
	nt.stop = true;
	pthread_cond_signal(&nt.cond);
	pthread_mutex_unlock(&nt.lock);
	pthread_join(nt.thread, NULL);
	__atomic_store_n(&nt.running, false, __ATOMIC_RELEASE);
	pthread_cond_destroy(&nt.cond);
	sl_notify_wd_free(&thread_wd);
}

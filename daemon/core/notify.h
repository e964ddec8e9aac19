/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sluiced under systemd (Type=notify): the sd_notify(3) messages, sent
 * with libsystemd.
 *
 *   STATUS=    what sluiced is doing: starting, waiting (and why), serving
 *              N workloads with config <generation>, reloading, draining
 *   READY=1    once the daemon is ready, by the same test as /ready
 *              (sl_obs_ready: configuration, every local workload's
 *              certificate, steering with --steer; the workers running)
 *   RELOADING=1 + MONOTONIC_USEC=, then READY=1: around a reload (SIGHUP
 *              or the admin "reload")
 *   STOPPING=1 when the drain starts (SIGTERM/SIGINT)
 *   WATCHDOG=1 every half WatchdogSec (WATCHDOG_USEC), only while every
 *              worker's heartbeat (loop.h, stamped by its own loop) has
 *              advanced since the last feed: a stuck worker stops the feed
 *              and systemd restarts sluiced
 *
 * Without NOTIFY_SOCKET (not under systemd, or a test) everything here is
 * a no-op and no thread runs.  Every function is thread safe; messages go
 * out in the order of the calls (one mutex).
 */
#ifndef SL_NOTIFY_H
#define SL_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sl_daemon;
struct sl_worker;

/* the readiness test (obs.h sl_obs_ready: /ready); @why says why not */
typedef bool (*sl_notify_ready_fn)(struct sl_daemon *d, char *why, size_t len);

/* WatchdogSec below this cannot be fed reliably: each feed needs a new
 * heartbeat from every worker, and they beat every SL_HEARTBEAT_NS */
#define SL_NOTIFY_WD_MIN_USEC 4000000ULL

/**
 * sl_notify_start - the workers run (and steering is applied): start the
 * notify thread, which sends READY=1 as soon as @ready(@d) is true (until
 * then STATUS says why not, and the log too), then feeds the watchdog
 * when WATCHDOG_USEC is set.  Call once; stop with sl_notify_stop().
 * @retval 0 (also when NOTIFY_SOCKET is unset: nothing started), or
 *         -errno from pthread_create (logged)
 */
int sl_notify_start(struct sl_daemon *d, sl_notify_ready_fn ready);

/**
 * sl_notify_mute - while on, nothing is sent (a process started by an
 * upgrade, until the old one named it the main PID: systemd would refuse
 * and log every message)
 */
void sl_notify_mute(bool on);

/** sl_notify_stop - stop and join the notify thread; safe when not
 * started, idempotent */
void sl_notify_stop(void);

/** sl_notify_status - send STATUS=<formatted line> now */
void sl_notify_status(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/**
 * sl_notify_serving - the configuration changed: STATUS=serving N
 * workloads, config <generation> (nothing before READY=1 or during a
 * reload, whose end sends it)
 */
void sl_notify_serving(void);

/**
 * sl_notify_reloading / sl_notify_reloaded - around a reload: RELOADING=1
 * with MONOTONIC_USEC= (systemd 253's Type=notify-reload; 252 takes
 * RELOADING=1 too), then READY=1 with the serving STATUS.  Before the
 * first READY=1 only STATUS is sent (READY waits for readiness).
 */
void sl_notify_reloading(void);
void sl_notify_reloaded(void);

/**
 * sl_notify_stopping - the drain starts: STOPPING=1 and STATUS=draining N
 * flows (grace @grace_ns); READY=1 and WATCHDOG=1 are not sent any more,
 * and the notify thread no longer reads the workers (freed after the
 * drain).  Call before any worker is asked to stop.
 */
void sl_notify_stopping(uint64_t grace_ns);

/**
 * sl_notify_worker_ended - a worker's loop has ended (its fini hook, on its
 * own thread, before the worker is freed): the notify thread stops reading
 * the workers, so the watchdog is not fed any more (logged unless
 * stopping)
 */
void sl_notify_worker_ended(void);

/* ---- the watchdog's verdict (used by the notify thread; tests) ------- */

/** The workers' heartbeats at the last feed. */
struct sl_notify_wd {
	uint64_t *beat; /* sl_worker_beat_ns of each worker */
	unsigned int n;
};

/**
 * sl_notify_wd_init - take @ws's @n heartbeats as the last feed's
 * @retval 0, -ENOMEM; free with sl_notify_wd_free()
 */
int sl_notify_wd_init(struct sl_notify_wd *wd, struct sl_worker *const *ws,
		      unsigned int n);

/**
 * sl_notify_wd_check - may the watchdog be fed: has every worker's
 * heartbeat advanced since the last feed?  When yes, the current beats
 * become the last feed's.
 * @retval -1: feed; else the index of the first worker whose heartbeat
 *         has not advanced (the snapshot is kept)
 */
int sl_notify_wd_check(struct sl_notify_wd *wd, struct sl_worker *const *ws);

/** sl_notify_wd_free - free @wd's snapshot (NULL-safe) */
void sl_notify_wd_free(struct sl_notify_wd *wd);

#endif /* SL_NOTIFY_H */

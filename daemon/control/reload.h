/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Live configuration reload.
 *
 * The current snapshot lives in a holder: sl_reload_get() takes a
 * reference under a mutex, so a concurrent swap can never free the
 * snapshot between reading the pointer and taking the reference.  New
 * flows take the current generation; established flows keep the
 * reference they took.
 *
 * The config directory itself is watched with inotify (IN_CLOSE_WRITE,
 * IN_MOVED_TO, IN_MOVED_FROM, IN_CREATE, IN_DELETE, IN_ATTR): that covers
 * editors writing a temporary file and renaming it into place and the
 * Kubernetes ConfigMap layout, whose "..data" symlink is swapped by
 * creating "..data_tmp" and rename()ing it over "..data".  Events are
 * debounced: the reload happens SL_RELOAD_DEBOUNCE_NS after the last one,
 * and at most SL_RELOAD_MAX_DELAY_NS after the first (a stream of events
 * cannot put it off forever).  A new Kubernetes view does not put off a
 * pending reload (the source coalesces its changes already).
 *
 * Integration with an event loop: poll/read sl_reload_fd() (readable when
 * events are queued), then call sl_reload_process(); arm a timer for
 * sl_reload_deadline() and call sl_reload_tick() when it fires.  SIGHUP:
 * call sl_reload_now().  Everything runs on one thread (worker 0); only
 * sl_reload_get() and sl_reload_status() may be called from any thread.
 *
 * A reload loads the whole directory (sl_config_load_dir).  On success the
 * new snapshot replaces the old one (unless its generation is the same)
 * and a copy of its files is persisted as the last good config:
 * <state_dir>/last-good is a symlink to <state_dir>/gen-<generation>/,
 * replaced atomically (new dir, new symlink, rename over the old one).  On
 * failure the old snapshot stays, every error is logged with file:line and
 * the first one is kept with the time and a failure counter.
 *
 * A snapshot that loads is still vetted before the swap: with
 * require_usable it must be usable (sl_config_usable: a Node with caDir or
 * certDir), and it must not hollow out the running mesh (sl_config_guard:
 * every workload gone, or this node's Node gone) unless the reload was
 * confirmed with SL_RELOAD_ALLOW_EMPTY (`sluice reload --allow-empty`).  A
 * refused snapshot is a failed reload: logged, counted, not persisted.
 *
 * At start the directory is vetted the same way against the last good
 * copy; a directory that does not load, is unusable or would hollow out
 * the last good config falls back to the last good copy with a loud
 * warning (and status.from_last_good).
 *
 * The watch survives the directory being replaced (`mv cfg old; mkdir
 * cfg`, or rmdir + mkdir): the parent directory is watched for the
 * directory's name, and every reload re-arms the watch on whatever
 * directory the path names now.
 */
#ifndef SL_DAEMON_RELOAD_H
#define SL_DAEMON_RELOAD_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "k8s.h"
#include "outlier.h" /* sl_clock_fn */

#define SL_RELOAD_DEBOUNCE_NS (200ull * 1000000ull)
/* a reload waits at most this long after the first event it waits for */
#define SL_RELOAD_MAX_DELAY_NS (1000ull * 1000000ull)
/* a new last good copy for a change of the Kubernetes view alone: at most
 * this often (the copy holds every pod of the cluster) */
#define SL_PERSIST_API_INTERVAL_NS (30ull * 1000000000ull)

struct sl_reload_opts {
	const char *dir;       /* config directory (required) */
	const char *node_name; /* passed to sl_config_load_dir, may be NULL */
	const char *state_dir; /* last-good copy; NULL: no persistence */
	uint64_t debounce_ns;  /* 0: SL_RELOAD_DEBOUNCE_NS */
	sl_clock_fn clock;     /* NULL: CLOCK_MONOTONIC */
	void *clock_arg;
	/* called (on the reloading thread) after a new generation was
	 * swapped in, e.g. to update steering; it takes its own reference
	 * if it keeps @cfg */
	void (*on_swap)(void *arg, struct sl_config *cfg);
	void *on_swap_arg;
	/* refuse snapshots sl_config_usable() rejects (sluiced: true) */
	bool require_usable;
	/* the Kubernetes API source (not owned; outlives the reloader), or
	 * NULL: its view is loaded with the directory, saved with the last
	 * good copy, and a new view is a reload (debounced like a file) */
	struct sl_k8s *k8s;
	uint64_t k8s_wait_ns; /* at start, wait this long for its first sync */
	/* set (atomic, release) once a snapshot that holds the API's view,
	 * or the view saved with the last good copy, is in use: what /ready
	 * waits for (NULL: not told) */
	bool *api_loaded;
};

/* sl_reload_now() flags */
#define SL_RELOAD_ALLOW_EMPTY 0x1u /* the operator confirms a hollowing change */

struct sl_reload_status {
	char generation[17];	/* current snapshot */
	bool from_last_good;	/* running on the last-good copy */
	unsigned long reloads;	/* successful loads that changed the config */
	unsigned long failures; /* failed loads */
	time_t last_error_time; /* wall clock; 0 never */
	char last_error[512];	/* "file:line:col: path: message" or "" */
	unsigned int last_error_count; /* errors of that load */
	unsigned long refused;	/* loaded but refused: guard or unusable
				 * (counted in failures too) */
	bool watching;		/* the directory is watched now */
	size_t warnings;	/* sl_config_warnings() of the current one */
	size_t api_docs;	/* documents of the Kubernetes API loaded */
	size_t api_rejected;	/* of them left out (sl_config_rejected) */
	bool api_saved_view;	/* the API not synced yet: the saved view */
	uint64_t api_serial;	/* the API view loaded (0: none) */
};

struct sl_reload;

/**
 * sl_reload_new - load the config directory and start watching it
 * @opts: options (strings copied)
 * @out: the reloader; free with sl_reload_free()
 * @retval 0 (a snapshot is loaded, possibly the last good copy: see
 *         sl_reload_status); -EINVAL when neither the directory nor a last
 *         good copy loads (errors logged); -errno on inotify/ENOMEM errors
 */
int sl_reload_new(const struct sl_reload_opts *opts, struct sl_reload **out);

/** sl_reload_free - stop watching and drop the snapshot; NULL-safe */
void sl_reload_free(struct sl_reload *r);

/** sl_reload_fd - the inotify fd (non-blocking) to poll for POLLIN */
int sl_reload_fd(const struct sl_reload *r);

/**
 * sl_reload_process - drain the inotify fd and (re)arm the debounce
 * @retval 1 when events arrived, 0 when none, -errno on read errors
 */
int sl_reload_process(struct sl_reload *r);

/**
 * sl_reload_feed - like sl_reload_process() for a buffer the caller
 * already read from sl_reload_fd() (io_uring IORING_OP_READ)
 * @retval 1 when it held events, 0 otherwise
 */
int sl_reload_feed(struct sl_reload *r, const void *buf, size_t len);

/** sl_reload_deadline - monotonic ns when sl_reload_tick() is due; 0 none */
uint64_t sl_reload_deadline(const struct sl_reload *r);

/**
 * sl_reload_tick - reload if the debounce deadline has passed
 * @retval 1 when a new generation was swapped in, 0 when nothing changed
 *         (not due, same content), -EINVAL/-errno when the load failed,
 *         -ECANCELED when the guard refused it (old snapshot kept)
 */
int sl_reload_tick(struct sl_reload *r);

/**
 * sl_reload_now - reload immediately (SIGHUP, `sluice reload`)
 * @flags: 0 or SL_RELOAD_ALLOW_EMPTY (skip sl_config_guard for this load;
 *         sl_config_usable still applies)
 * @retval as sl_reload_tick(); -ECANCELED when the guard refused it
 */
int sl_reload_now(struct sl_reload *r, unsigned int flags);

/**
 * sl_reload_get - a reference on the current snapshot (any thread)
 * @retval the snapshot; release with sl_config_put()
 */
struct sl_config *sl_reload_get(struct sl_reload *r);

/** sl_reload_status - copy the reload state (any thread) */
void sl_reload_status(struct sl_reload *r, struct sl_reload_status *st);

#endif /* SL_DAEMON_RELOAD_H */

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Runs a struct sl_reload on a worker's io_uring (worker 0): a poll on the
 * inotify fd and a timer for the debounce deadline.
 */
#ifndef SL_DAEMON_RELOAD_WATCH_H
#define SL_DAEMON_RELOAD_WATCH_H

#include "loop.h"
#include "reload.h"

struct sl_reload_watch;

/**
 * sl_reload_watch_start - watch @r on worker @w (call on @w's thread, e.g.
 * from its start hook)
 * @out: the watch; stop it with sl_reload_watch_stop() on the same thread
 *       and free it with sl_reload_watch_free() after the worker ended
 * @retval 0 or -ENOMEM
 */
int sl_reload_watch_start(struct sl_worker *w, struct sl_reload *r,
			  struct sl_reload_watch **out);

/** sl_reload_watch_stop - cancel the poll and the timer; NULL-safe */
void sl_reload_watch_stop(struct sl_reload_watch *rw);

/** sl_reload_watch_free - free it (after its worker's loop ended); NULL-safe */
void sl_reload_watch_free(struct sl_reload_watch *rw);

#endif /* SL_DAEMON_RELOAD_WATCH_H */

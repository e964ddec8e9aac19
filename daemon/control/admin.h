/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The admin socket (admin.c) and its limits.
 *
 * The socket is root-only, yet a stuck or careless client (a script that
 * connects and never writes, a loop that leaks connections) must not pin
 * memory and fds forever nor lock the operator out:
 *  - a connection has SL_ADMIN_IDLE_MS from its accept to send a complete
 *    request line, and then SL_ADMIN_SEND_MS to take its answer; past
 *    either it is closed (counted as admin_timeouts);
 *  - at most SL_ADMIN_CONNS_MAX connections are open at once: a new one
 *    over the cap closes the oldest connection still waiting for its
 *    request (counted as admin_shed), so `sluice status` works while
 *    idle connections are held; when every open one is busy answering,
 *    the new one is closed instead (also admin_shed).
 */
#ifndef SL_ADMIN_H
#define SL_ADMIN_H

#define SL_ADMIN_REQ_MAX 256	  /* request line, newline excluded */
#define SL_ADMIN_CONNS_MAX 64	  /* open at once */
#define SL_ADMIN_IDLE_MS 5000	  /* complete request line, from the accept */
#define SL_ADMIN_SEND_MS 10000	  /* answer taken by the client */
#define SL_ADMIN_PAUSE_MS 100	  /* accept paused when out of fds/memory */

struct sl_wctx;
struct sl_admin;

/** sl_admin_open - listen on @path (mode 0600) on worker 0 @retval 0/-errno */
int sl_admin_open(struct sl_wctx *wc, const char *path, struct sl_admin **out);
/** sl_admin_close - stop serving, unlink the socket; NULL-safe */
void sl_admin_close(struct sl_admin *a);

#endif /* SL_ADMIN_H */

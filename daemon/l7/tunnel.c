/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tunnel after an accepted Upgrade (101) or CONNECT (2xx) (conn.h):
 * both sockets go to the plain relay.
 */
#include <stdlib.h>
#include <sys/socket.h>

#include "conn.h"
#include "daemon.h"
#include "entry.h"
#include "log.h"
#include "relay.h"

struct l7_tunnel {
	struct sl_worker *w;
	bool inbound; /* no outbound budget place to give back */
};

static void tunnel_done(void *arg, const struct sl_relay_result *r)
{
	struct l7_tunnel *t = arg;

	sl_log_debug("%s: tunnel ended: %s, %llu bytes up, %llu down",
		     __func__, sl_relay_end_name(r->end),
		     (unsigned long long)r->bytes_plain_to_tls,
		     (unsigned long long)r->bytes_tls_to_plain);
	if (!t->inbound)
		sl_outbound_l7_release();
	sl_worker_unref(t->w);
	free(t);
}

/*
 * The upstream accepted an Upgrade (101) or a CONNECT (2xx), and the
 * client has the response head: from here on raw bytes both ways, by the
 * plain relay (half-close, resets, idle timeout), between the client and
 * the leg.  What the client sent after its request head goes up first,
 * what the upstream sent after the response head comes down first.  The
 * connection is over for the engine; the tunnel keeps its budget place.
 */
void sl_l7c_tunnel(struct l7c *c)
{
	struct sl_relay_params p = {
		.idle_timeout_ns = c->d->o.idle_timeout_ns,
		.buf_size = SL_RELAY_DEFAULT_BUF_SIZE,
		.pipe_size = 64 * 1024,
		.done = tunnel_done,
	};
	struct l7_tunnel *t = calloc(1, sizeof(*t));
	size_t up = c->dlen - c->dpos;
	int leg_fd = c->leg->fd;

	if (!t) {
		sl_l7c_end(c, true);
		return;
	}
	if (up && send(leg_fd, c->dbuf + c->dpos, up, MSG_NOSIGNAL | MSG_DONTWAIT) !=
			  (ssize_t)up) {
		free(t);
		sl_l7c_flag(c, "UC");
		sl_l7c_report(c);
		sl_l7c_end(c, true);
		return;
	}
	t->w = c->wc->w;
	t->inbound = c->inbound;
	p.done_arg = t;
	sl_worker_ref(t->w);
	if (sl_relay_start_plain(c->wc->w, c->fd, leg_fd, c->ubuf + c->upos,
				 (uint32_t)(c->ulen - c->upos), &p)) {
		sl_worker_unref(t->w);
		free(t);
		sl_l7c_report(c);
		sl_l7c_end(c, true);
		return;
	}
	sl_l7c_report(c);
	/* the relay owns both sockets now */
	c->leg->fd = -1;
	sl_l7_leg_close(c->leg);
	c->leg = NULL;
	c->fd = -1;
	c->tunneled = true;
	sl_l7c_end(c, false);
}

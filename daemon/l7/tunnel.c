/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tunnel after an accepted Upgrade (101) or CONNECT (2xx) (conn.h):
 * the client's socket and the leg's go to a relay: the plain one when the
 * leg is plaintext (the destination side's socketpair, a tls DISABLE
 * upstream), the kTLS one on a kTLS leg, the userspace TLS one (with the
 * leg's record layer) otherwise: the same relays as an L4 flow's.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conn.h"
#include "daemon.h"
#include "entry.h"
#include "log.h"
#include "sock.h"
#include "record.h"
#include "relay.h"

struct l7_tunnel {
	struct sl_worker *w;
	bool inbound; /* no outbound budget place to give back */
	struct sl_outbound_direct dc; /* the leg's flow's holdings */
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
	sl_outbound_direct_release(&t->dc);
	sl_worker_unref(t->w);
	free(t);
}

/* start the relay between the client @cfd and the leg's socket @lfd */
static int tunnel_relay(struct l7c *c, struct sl_l7_stream *st, int cfd,
			int lfd, struct sl_tls_rl *rl, const void *down,
			uint32_t down_len, struct sl_relay_params *p)
{
	if (st->kind == SL_L7_STREAM_PLAIN)
		return sl_relay_start_plain(c->wc->w, cfd, lfd, down, down_len,
					    p);
	p->rl = rl;
	return sl_relay_start(c->wc->w, cfd, lfd, NULL,
			      st->kind == SL_L7_STREAM_KTLS, down, down_len, p);
}

/*
 * The upstream accepted an Upgrade (101) or a CONNECT (2xx), and the
 * client has the response head: from here on raw bytes both ways, by a
 * relay (half-close, resets, idle timeout), between the client and the
 * leg's socket.  What the client sent after its request head goes up
 * first, what the upstream sent after the response head (and what the
 * leg's record layer holds opened) comes down first.  The connection is
 * over for the engine; the tunnel keeps its budget place and the leg's.
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
	struct sl_l7_stream *st = &c->leg->st;
	size_t up = c->dlen - c->dpos, have = c->ulen - c->upos;
	struct sl_tls_rl *rl;
	uint8_t *down = NULL;
	ssize_t more = 0;
	int lfd;

	if (!t) {
		sl_l7c_end(c, true);
		return;
	}
	if (up && sl_l7_stream_send_now(st, c->dbuf + c->dpos, up)) {
		free(t);
		sl_l7c_flag(c, "UC");
		sl_l7c_report(c);
		sl_l7c_end(c, true);
		return;
	}
	/* the response's bytes past its head, then what the record layer
	 * opened already (the relay reads only what arrives after) */
	down = malloc(have + L7_UBUF);
	if (down) {
		memcpy(down, c->ubuf + c->upos, have);
		more = sl_l7_stream_drain(st, down + have, L7_UBUF);
	}
	if (!down || more < 0) {
		free(down);
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
	sl_l7_stream_take(st, &lfd, &rl);
	if (tunnel_relay(c, st, c->fd, lfd, rl, down,
			 (uint32_t)(have + (size_t)more), &p)) {
		free(down);
		sl_tls_rl_free(rl);
		sl_socket_reset(lfd);
		sl_worker_unref(t->w);
		free(t);
		sl_l7c_report(c);
		sl_l7c_end(c, true);
		return;
	}
	free(down);
	sl_l7c_report(c);
	/* the relay owns both sockets and the session now, the tunnel what
	 * the leg's flow held */
	t->dc = c->leg->dc;
	c->leg->dc.lb = NULL;
	sl_l7_leg_close(c->leg);
	c->leg = NULL;
	c->fd = -1;
	c->tunneled = true;
	sl_l7c_end(c, false);
}

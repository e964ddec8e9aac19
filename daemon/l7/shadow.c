/* SPDX-License-Identifier: Apache-2.0 */
/*
 * VirtualService mirror (l7_internal.h): a copy of a request sent to another
 * destination, fire and forget.  The copy is made once the request is whole
 * in the client connection's buffer; it goes over a leg of its own with
 * "Connection: close", and its response is read and dropped until the
 * upstream closes (or SL_L7_SHADOW_NS has passed).  Nothing of it ever
 * reaches the client or delays the original request.  Shadows in flight
 * are capped per worker (256, each holding its request, up to 136 KiB);
 * over the cap a request is not mirrored (counted: http_mirror_dropped).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conn.h"
#include "daemon.h"
#include "hdrs.h"
#include "l7_internal.h"
#include "log.h"
#include "sock.h"
#include "stats.h"

#define SL_L7_SHADOW_NS (10ull * 1000000000ull)
#define SL_L7_SHADOW_MAX 256 /* in flight per worker */

struct l7_shadow {
	struct sl_wctx *wc;
	struct sl_l7_leg *leg;
	char *buf;
	size_t len, done;
	bool sending;
	struct sl_op io_op;
	bool io_armed;
	struct sl_op tm_op;
	struct __kernel_timespec tm_ts;
	bool tm_armed;
	bool ended;
	char rbuf[4096];
};

static __thread unsigned int shadows;

static void shadow_maybe_free(struct l7_shadow *sh)
{
	if (!sh->ended || sh->io_armed || sh->tm_armed || sh->leg)
		return;
	free(sh->buf);
	sl_worker_unref(sh->wc->w);
	shadows--;
	free(sh);
}

static void shadow_end(struct l7_shadow *sh)
{
	if (!sh->ended) {
		sh->ended = true;
		if (sh->io_armed && sh->leg)
			sl_l7_stream_cancel(&sh->leg->st);
		if (sh->tm_armed)
			sl_worker_timeout_cancel(sh->wc->w, &sh->tm_op);
		/* a connecting leg is freed by its flow's ready() */
		sl_l7_leg_close(sh->leg);
		sh->leg = NULL;
	}
	shadow_maybe_free(sh);
}

static void shadow_io(struct l7_shadow *sh);

static void shadow_io_done(struct sl_op *op, int res, uint32_t flags)
{
	struct l7_shadow *sh = sl_container_of(op, struct l7_shadow, io_op);

	(void)flags;
	sh->io_armed = false;
	if (sh->ended || res <= 0) {
		/* sent and answered to the end (EOF), failed or cut */
		shadow_end(sh);
		return;
	}
	if (sh->sending) {
		sh->done += (size_t)res;
		if (sh->done == sh->len)
			sh->sending = false;
	}
	shadow_io(sh);
}

static void shadow_io(struct l7_shadow *sh)
{
	sh->io_op.fn = shadow_io_done;
	sh->io_armed = true;
	if (sh->sending)
		sl_l7_stream_send(&sh->leg->st, sh->buf + sh->done,
				  sh->len - sh->done, &sh->io_op);
	else
		sl_l7_stream_recv(&sh->leg->st, sh->rbuf, sizeof(sh->rbuf),
				  &sh->io_op);
}

static void shadow_timeout(struct sl_op *op, int res, uint32_t flags)
{
	struct l7_shadow *sh = sl_container_of(op, struct l7_shadow, tm_op);

	(void)res;
	(void)flags;
	sh->tm_armed = false;
	shadow_end(sh);
}

static void shadow_ready(void *owner, struct sl_l7_leg *leg, int err)
{
	struct l7_shadow *sh = owner;

	if (err) {
		sl_l7_leg_close(leg);
		sh->leg = NULL;
		shadow_end(sh);
		return;
	}
	sh->sending = true;
	shadow_io(sh);
}

int sl_l7_shadow_start(struct sl_wctx *wc, struct sl_config *cfg,
		       const struct sl_l7_key *key,
		       const struct sl_workload *src, const struct sl_ip *src_ip,
		       uint16_t src_port, const struct sl_ip *orig_dst,
		       uint16_t orig_port, const struct sl_endpoint *ep,
		       const struct sl_dest_policy *pol, char *req, size_t len)
{
	struct l7_shadow *sh;
	bool now;
	int err = 0;

	if (shadows >= SL_L7_SHADOW_MAX) {
		free(req);
		sl_stat_inc(SL_STAT_HTTP_MIRROR_DROPPED);
		return -EBUSY;
	}
	sh = calloc(1, sizeof(*sh));
	if (!sh) {
		free(req);
		return -ENOMEM;
	}
	sh->wc = wc;
	sh->buf = req;
	sh->len = len;
	shadows++;
	sl_worker_ref(wc->w);
	sh->leg = sl_l7_leg_get(wc, cfg, key, src, src_ip, src_port, orig_dst,
				orig_port, ep, pol, shadow_ready, sh, &now, &err);
	if (!sh->leg) {
		sh->ended = true;
		shadow_maybe_free(sh);
		sl_stat_inc(SL_STAT_HTTP_MIRROR_DROPPED);
		return err;
	}
	sl_stat_inc(SL_STAT_HTTP_MIRRORED);
	sh->tm_op.fn = shadow_timeout;
	sl_ns_to_ts(SL_L7_SHADOW_NS, &sh->tm_ts);
	sl_worker_timeout(wc->w, &sh->tm_op, &sh->tm_ts);
	sh->tm_armed = true;
	if (now)
		shadow_ready(sh, sh->leg, 0);
	return 0;
}

/* ---- the copy (conn.h) --------------------------------------------------- */

/* the request's body as framed, when it is whole in dbuf: its length in
 * *@len; false when more is still to come from the client */
static bool sl_l7c_body_whole(struct l7c *c, size_t *len)
{
	size_t avail = c->dlen - c->body_start;

	switch (c->req.body) {
	case SL_H1_BODY_NONE:
		*len = 0;
		return true;
	case SL_H1_BODY_CLEN:
		*len = (size_t)c->req.content_length;
		return c->req.content_length <= avail;
	case SL_H1_BODY_CHUNKED: {
		struct sl_h1_chunked ck;
		size_t at = 0, off, dl;
		ssize_t k = 1;

		sl_h1_chunked_init(&ck, NULL);
		while (at < avail && !ck.done && k > 0) {
			k = sl_h1_chunked(&ck, c->dbuf + c->body_start + at,
					  avail - at, &off, &dl);
			if (k > 0)
				at += (size_t)k;
		}
		*len = at;
		return ck.done;
	}
	default:
		return false;
	}
}

/*
 * VirtualService mirror: a copy of the request (Host with "-shadow"
 * appended, as Istio does) to one endpoint of the mirror destination, for
 * mirrorPercentage of the requests; only a request whose body is whole in
 * the buffer is copied.  Fire and forget (shadow.c).
 */
void sl_l7c_mirror(struct l7c *c)
{
	static const char *const expect[] = { "expect" };
	struct sl_label host = { "host", NULL };
	struct sl_http_header_ops shadow_ops = {
		.set = &host, .n_set = 1, .remove = expect, .n_remove = 1,
	};
	const struct sl_http_header_ops *ops[3] = { &sl_trace_header_ops,
						    &c->rt.req, &shadow_ops };
	struct sl_h1_extra extra[SL_TRACE_HEADERS_MAX];
	char shost[300], target[8192];
	const struct sl_endpoint *ep;
	struct sl_dest_policy pol = c->rt.mirror_pol;
	struct sl_lb_flow lb;
	struct sl_l7_key key;
	const struct sl_ip *addr;
	uint64_t timeout;
	size_t blen;
	ssize_t n_extra, n;
	char *buf;

	if (!c->rt.mirror_n_eps || sl_l7c_pct_draw() >= c->rt.mirror_pct ||
	    !sl_l7c_body_whole(c, &blen))
		return;
	snprintf(shost, sizeof(shost), "%s-shadow", c->l_authority);
	host.value = shost;
	if (c->rt.rewrite_uri && sl_l7c_rewrite_target(c, target, sizeof(target)))
		return;
	pol.retry_attempts = 0;
	pol.max_connections = 0;
	if (sl_lb_begin(&lb, c->d->health, c->rt.mirror_eps,
			c->rt.mirror_n_eps, &pol))
		return;
	if (!pol.tls_disable)
		sl_lb_set_filter(&lb, sl_l7c_mesh_endpoint);
	if (sl_lb_pick(&lb, &ep, &timeout)) {
		sl_lb_end(&lb);
		return;
	}
	sl_lb_end(&lb);
	buf = malloc(L7_OBUF + blen);
	if (!buf)
		return;
	n_extra = sl_trace_headers(&c->trace, extra, SL_TRACE_HEADERS_MAX);
	n = n_extra < 0 ? n_extra :
	    sl_hdrs_request_target(&c->req, c->dbuf,
				   c->rt.rewrite_uri ? target : NULL, ops, 3,
				   extra, (size_t)n_extra, SL_HDRS_CLOSE, buf,
				   L7_OBUF);
	if (n < 0) {
		free(buf);
		return;
	}
	memcpy(buf + n, c->dbuf + c->body_start, blen);
	addr = ep->address.family ? &ep->address : &c->dst;
	sl_l7c_leg_key(c, "shadow|", &pol, ep, addr, &key);
	if (sl_l7_shadow_start(c->wc, c->cfg, &key, c->src, &c->src_ip,
			       c->src_port, &c->dst, c->dst_port, ep, &pol,
			       buf, (size_t)n + blen))
		sl_log_debug("%s: %s: request not mirrored", __func__,
			     c->src_s);
}

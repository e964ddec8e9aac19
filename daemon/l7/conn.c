/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One client connection of the HTTP engine (l7.h): requests are served one
 * after the other, in order (pipelined requests wait in the buffer).
 *
 *   wait (poll: an idle connection holds no buffer)
 *   -> head (recv, sl_h1_parse_request; a refused head: its status, close)
 *   -> route (sl_config_http_route: 404 NR, 503 UH), fault (FI, DI)
 *   -> attempt: endpoint (lb.h), leg (idle or new: leg.c)
 *   -> request head (rewritten: hop-by-hop out, header ops, trace headers)
 *      and body (framing as received: Content-Length or chunked, checked
 *      with the strict chunked decoder; "Expect: 100-continue" answered
 *      by us, as Envoy does by default)
 *   -> response head (sl_h1_parse_response; 1xx other than 101 dropped)
 *      -> retry (a new attempt on another endpoint, after a backoff) when
 *         the policy says so and nothing has reached the client
 *   -> response head and body to the client
 *   -> report (metrics, access log), leg back to idle, next request.
 *
 * One I/O op at a time (io_op) and one live timer (c_timer: the per-try
 * and route deadline, a fault delay, a retry backoff, the idle timeout).
 * Local replies close the connection when the request's body was not read
 * to its end.  An Upgrade (WebSocket) or CONNECT request is forwarded and
 * becomes a tunnel once the upstream accepts it (101, 2xx): both sockets
 * then go to the plain relay (tunnel.c).  The report of a finished request
 * is report.c's; the target's path, rewrite and redirect are target.c's;
 * the mirror copy is shadow.c's (conn.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "entry.h"
#include "flow.h"
#include "h1.h"
#include "hdrs.h"
#include "http_obs.h"
#include "http_route.h"
#include "conn.h"
#include "l7.h"
#include "l7_internal.h"
#include "lb.h"
#include "log.h"
#include "match.h"
#include "relay.h"
#include "retry.h"
#include "sock.h"
#include "stats.h"
#include "trace.h"
#include "util.h"

static __thread struct l7c *conns;
static __thread bool conns_stopping;

static void c_next_request(struct l7c *c);
static void c_attempt(struct l7c *c);

/* ---- small helpers ------------------------------------------------------ */

void sl_l7c_flag(struct l7c *c, const char *f)
{
	size_t n = strlen(c->flags);

	if (strstr(c->flags, f))
		return;
	snprintf(c->flags + n, sizeof(c->flags) - n, "%s%s", n ? "," : "", f);
}

/* only mesh workloads can be dialed with mTLS (they have an identity) */
bool sl_l7c_mesh_endpoint(const struct sl_endpoint *ep)
{
	return ep->workload && ep->workload->spiffe_id;
}

/* trace and request ids: unique, not secret (sl_trace_rnd_fn) */
int sl_l7c_rnd(void *arg, void *buf, size_t len)
{
	uint8_t *p = buf;

	(void)arg;
	while (len) {
		uint64_t r = sl_lb_rand();
		size_t n = len < sizeof(r) ? len : sizeof(r);

		memcpy(p, &r, n);
		p += n;
		len -= n;
	}
	return 0;
}

static void *c_buf(char **b, size_t size)
{
	if (!*b)
		*b = malloc(size);
	return *b;
}

/* ---- I/O: one op at a time ---------------------------------------------- */

static void io_submit(struct l7c *c);

static void io_done(struct sl_op *op, int res, uint32_t flags)
{
	struct l7c *c = sl_container_of(op, struct l7c, io_op);

	(void)flags;
	c->io_armed = false;
	if (c->ended) {
		sl_l7c_end(c, true);
		return;
	}
	if (c->io_then) {
		void (*then)(struct l7c *) = c->io_then;

		c->io_then = NULL;
		then(c);
		return;
	}
	if (c->io_poll || !c->io_send || res <= 0) {
		c->cont(c, res == 0 && c->io_send ? -EPIPE : res);
		return;
	}
	c->io_done += (size_t)res;
	if (c->io_done < c->io_len) {
		io_submit(c);
		return;
	}
	c->cont(c, (int)c->io_done);
}

static void io_submit(struct l7c *c)
{
	struct io_uring_sqe *sqe;

	c->io_op.fn = io_done;
	c->io_armed = true;
	if (c->io_st) { /* the leg's stream: TLS or not, it knows */
		if (c->io_send)
			sl_l7_stream_send(c->io_st, c->io_buf + c->io_done,
					  c->io_len - c->io_done, &c->io_op);
		else
			sl_l7_stream_recv(c->io_st, (void *)c->io_buf,
					  c->io_len, &c->io_op);
		return;
	}
	sqe = sl_worker_sqe(c->wc->w);
	if (c->io_poll)
		io_uring_prep_poll_add(sqe, c->io_fd, POLLIN | POLLRDHUP);
	else if (c->io_send)
		io_uring_prep_send(sqe, c->io_fd, c->io_buf + c->io_done,
				   c->io_len - c->io_done, MSG_NOSIGNAL);
	else
		io_uring_prep_recv(sqe, c->io_fd, (void *)c->io_buf, c->io_len,
				   0);
	sl_op_attach(sqe, &c->io_op);
}

enum io_kind { IO_SEND, IO_RECV, IO_POLL };

/* one op on @fd (or on @st, a leg's stream, when not NULL): send all of
 * @buf, recv into it, or poll for input */
static void c_io(struct l7c *c, enum io_kind k, int fd,
		 struct sl_l7_stream *st, const void *buf, size_t len,
		 l7_cont cont)
{
	c->io_fd = fd;
	c->io_st = st;
	c->io_buf = buf;
	c->io_len = len;
	c->io_done = 0;
	c->io_send = k == IO_SEND;
	c->io_poll = k == IO_POLL;
	c->cont = cont;
	io_submit(c);
}

#define c_send(c, fd, buf, len, cont) c_io(c, IO_SEND, fd, NULL, buf, len, cont)
#define c_recv(c, fd, buf, len, cont) c_io(c, IO_RECV, fd, NULL, buf, len, cont)
#define c_poll(c, fd, cont) c_io(c, IO_POLL, fd, NULL, NULL, 0, cont)
/* upstream I/O goes through the leg's stream */
#define c_leg_send(c, buf, len, cont)                                          \
	c_io(c, IO_SEND, -1, &(c)->leg->st, buf, len, cont)
#define c_leg_recv(c, buf, len, cont)                                          \
	c_io(c, IO_RECV, -1, &(c)->leg->st, buf, len, cont)

/* cancel the op in flight (its completion comes with -ECANCELED) */
static void c_cancel_io(struct l7c *c)
{
	if (c->io_st)
		sl_l7_stream_cancel(c->io_st);
	else
		sl_worker_cancel_op(c->wc->w, &c->io_op);
}

/* ---- the timer ---------------------------------------------------------- */

static void tm_arm(struct l7c *c, uint64_t now, uint64_t ns);

static void tm_done(struct sl_op *op, int res, uint32_t flags)
{
	struct l7_timer *t = sl_container_of(op, struct l7_timer, op);
	struct l7c *c = t->c;
	bool live = c->tm == t;
	void (*fn)(struct l7c *);
	uint64_t now;

	(void)flags;
	free(t);
	c->tm_inflight--;
	if (live)
		c->tm = NULL;
	if (c->ended) {
		sl_l7c_end(c, true);
		return;
	}
	if (live && res == -ECANCELED) {
		/* only the worker's cut cancels a live timer (c_timer forgets
		 * the one it replaces first): a fault delay, a backoff, a
		 * deadline is over with the connection; a timer nothing
		 * waits on is just gone */
		if (c->tm_fn)
			sl_l7c_end(c, true);
		return;
	}
	if (!live || res != -ETIME || !c->tm_fn)
		return; /* replaced, or disarmed since: nothing to run */
	now = sl_now_ns();
	if (now < c->tm_due) {
		/* armed for an earlier wish: wait for the rest */
		tm_arm(c, now, c->tm_due - now);
		return;
	}
	fn = c->tm_fn;
	c->tm_fn = NULL;
	fn(c);
}

static void tm_arm(struct l7c *c, uint64_t now, uint64_t ns)
{
	struct l7_timer *t = calloc(1, sizeof(*t));

	if (!t) {
		sl_l7c_end(c, true);
		return;
	}
	t->c = c;
	t->op.fn = tm_done;
	sl_ns_to_ts(ns, &t->ts);
	sl_worker_timeout(c->wc->w, &t->op, &t->ts);
	c->tm = t;
	c->tm_armed_due = now + ns;
	c->tm_inflight++;
}

/*
 * Run @fn in @ns, replacing what was asked before; @fn NULL: nothing.
 * Lazy: one kernel timeout per connection at most.  Disarming leaves it
 * armed (it fires and finds nothing to run), and a later wish than the
 * armed expiry waits for it and re-arms for the rest, so a keep-alive
 * connection's idle and head timers cost no io_uring operation per
 * request; only a wish earlier than the armed expiry cancels it.
 */
static void c_timer(struct l7c *c, uint64_t ns, void (*fn)(struct l7c *))
{
	uint64_t now, due;

	c->tm_fn = fn;
	if (!fn)
		return;
	now = sl_now_ns();
	due = now + (ns ? ns : 1);
	c->tm_due = due;
	if (c->tm && c->tm_armed_due <= due)
		return;
	if (c->tm) {
		sl_worker_timeout_cancel(c->wc->w, &c->tm->op);
		c->tm = NULL;
	}
	tm_arm(c, now, due - now);
}

/* the connection ends: no timer stays armed */
static void c_timer_stop(struct l7c *c)
{
	c->tm_fn = NULL;
	if (c->tm) {
		sl_worker_timeout_cancel(c->wc->w, &c->tm->op);
		c->tm = NULL;
	}
}

/* cancel the op in flight, then @then (at once when none is) */
static void c_abort_io(struct l7c *c, void (*then)(struct l7c *c))
{
	if (!c->io_armed) {
		then(c);
		return;
	}
	c->io_then = then;
	c_cancel_io(c);
}

/* ---- watching the client while the upstream works -------------------- */


static void client_gone(struct l7c *c)
{
	sl_l7c_report(c);
	sl_l7c_end(c, true);
}

static void watch_done(struct sl_op *op, int res, uint32_t flags)
{
	struct l7c *c = sl_container_of(op, struct l7c, watch_op);
	bool leg = c->watch_leg;

	(void)flags;
	c->watch_armed = false;
	c->watch_leg = false;
	if (c->ended) {
		sl_l7c_end(c, true);
		return;
	}
	if (res < 0)
		return; /* cancelled */
	if (!leg && !c->routed)
		return; /* between requests (the watch outlives a response,
			   c_unwatch_client): the read path sees the close */
	if (leg) {
		/* inbound, between requests: the pod closed (or spoke
		 * unasked): the mesh side goes too, its next request takes a
		 * new connection */
		sl_l7c_end(c, false);
		return;
	}
	if (c->replied)
		return; /* the response is on its way */
	/* the client closed or reset while its request was upstream: the
	 * leg's work is dropped (Envoy resets the upstream request) */
	sl_l7c_flag(c, "DC");
	c->status = 0;
	c_timer(c, 0, NULL);
	c_abort_io(c, client_gone);
}

/* watch @fd for its peer going away (POLLRDHUP, errors) */
static void c_watch(struct l7c *c, int fd, bool leg)
{
	struct io_uring_sqe *sqe;

	if (c->watch_armed)
		return;
	sqe = sl_worker_sqe(c->wc->w);
	io_uring_prep_poll_add(sqe, fd, POLLRDHUP);
	c->watch_op.fn = watch_done;
	sl_op_attach(sqe, &c->watch_op);
	c->watch_armed = true;
	c->watch_leg = leg;
}

static void c_watch_client(struct l7c *c)
{
	c_watch(c, c->fd, false);
}

/*
 * The response starts: the client no longer needs watching.  On the
 * source side the poll is left armed for the next request of the
 * connection (it fires only when the client goes away; watch_done
 * ignores that between requests, where the read path sees it), which
 * saves a POLL_ADD and an ASYNC_CANCEL per keep-alive request.  The
 * destination side watches the pod between requests with the same op,
 * and a tunnel hands the socket over: both cancel it.
 */
static void c_unwatch_client(struct l7c *c)
{
	if (c->watch_armed && (c->inbound || c->watch_leg || c->upgrade))
		sl_worker_cancel_op(c->wc->w, &c->watch_op);
}

/* ---- ending ------------------------------------------------------------- */

/* take one of @cap places of @ctr (0: unlimited, nothing counted) */
static bool cb_take(atomic_uint *ctr, uint32_t cap, bool *held)
{
	if (!cap || *held)
		return true;
	if (atomic_fetch_add(ctr, 1) >= cap) {
		atomic_fetch_sub(ctr, 1);
		return false;
	}
	*held = true;
	return true;
}

static void cb_put(atomic_uint *ctr, bool *held)
{
	if (*held) {
		atomic_fetch_sub(ctr, 1);
		*held = false;
	}
}

static void c_pending_put(struct l7c *c)
{
	if (c->hdest)
		cb_put(&c->hdest->rq_pending, &c->hold_pending);
}

static void c_request_cleanup(struct l7c *c)
{
	if (c->inbound) {
		sl_retry_budget_req_end(sl_retry_budget_process());
		return; /* the pod connection stays for the next request */
	}
	if (c->hdest) {
		cb_put(&c->hdest->rq_active, &c->hold_rq);
		cb_put(&c->hdest->rq_pending, &c->hold_pending);
		cb_put(&c->hdest->rq_retries, &c->hold_retry);
		c->hdest = NULL;
	}
	if (c->leg) {
		sl_l7_leg_close(c->leg);
		c->leg = NULL;
	}
	if (c->lb_on) {
		sl_lb_end(&c->lb);
		c->lb_on = false;
	}
	if (c->retry_budget) {
		sl_retry_budget_put(sl_retry_budget_process());
		c->retry_budget = false;
	}
	sl_retry_budget_req_end(sl_retry_budget_process());
}

static void c_free(struct l7c *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else if (conns == c)
		conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	sl_config_put(c->cfg);
	sl_l7c_admit_clear(c);
	free(c->dbuf);
	free(c->ubuf);
	free(c->obuf);
	sl_worker_unref(c->wc->w);
	if (!c->tunneled && !c->inbound)
		sl_outbound_l7_release(); /* else the tunnel's relay does */
	free(c);
}

/* end the connection: @reset sends an RST (the client must not take a
 * truncated response for a whole one) */
void sl_l7c_end(struct l7c *c, bool reset)
{
	if (!c->ended) {
		c->ended = true;
		if (c->routed)
			c_request_cleanup(c);
		c->routed = false;
		if (c->inbound) {
			sl_l7_leg_close(c->leg);
			c->leg = NULL;
		}
		if (c->fd >= 0) {
			if (reset)
				sl_socket_reset(c->fd);
			else
				close(c->fd);
			c->fd = -1;
		}
		if (c->io_armed)
			c_cancel_io(c);
		if (c->watch_armed)
			sl_worker_cancel_op(c->wc->w, &c->watch_op);
		c_timer_stop(c);
	}
	if (!c->io_armed && !c->tm_inflight && !c->watch_armed)
		c_free(c);
}

/* ---- local replies ------------------------------------------------------ */

/*
 * A local reply went out while the client was still sending its request
 * (a 403 after the head of a large upload, a refused head): closing now,
 * with its bytes unread, would reset the connection, and the client could
 * lose the reply.  As Envoy's delayed close: the write side is shut (the
 * reply and a FIN go), what the client still sends is read and dropped,
 * and the connection closes at its EOF or after L7_LINGER_NS.
 */
#define L7_LINGER_NS 1000000000ull

static void linger_recvd(struct l7c *c, int res);

static void linger_over(struct l7c *c)
{
	sl_l7c_end(c, false);
}

static void linger_recvd(struct l7c *c, int res)
{
	if (res <= 0) {
		sl_l7c_end(c, res < 0);
		return;
	}
	c_recv(c, c->fd, c->dbuf, L7_DBUF, linger_recvd);
}

static void c_linger(struct l7c *c)
{
	if (shutdown(c->fd, SHUT_WR) < 0 || !c_buf(&c->dbuf, L7_DBUF)) {
		sl_l7c_end(c, true);
		return;
	}
	c_timer(c, L7_LINGER_NS, linger_over);
	c_recv(c, c->fd, c->dbuf, L7_DBUF, linger_recvd);
}

static void local_sent(struct l7c *c, int res)
{
	sl_l7c_report(c);
	if (res >= 0 && c->close_after && !c->req_done && !c->stopping) {
		c_linger(c);
		return;
	}
	if (res < 0 || c->close_after) {
		sl_l7c_end(c, res < 0);
		return;
	}
	c_next_request(c);
}

/*
 * Answer the current request ourselves (nothing of a response reached the
 * client yet).  The connection closes after it unless the request was read
 * to its end.
 */
static void c_reply(struct l7c *c, int status, const char *flag,
		    const char *body, bool keep_leg)
{
	ssize_t n;

	if (flag)
		sl_l7c_flag(c, flag);
	c_unwatch_client(c);
	c_timer(c, 0, NULL);
	if (c->leg && !keep_leg) {
		sl_l7_leg_close(c->leg);
		c->leg = NULL;
		if (c->inbound)
			c->close_after = true; /* the pod connection is gone
						  with it */
	}
	c->status = status;
	c->replied = true;
	if (!c->req_done || c->stopping)
		c->close_after = true;
	if (!c_buf(&c->obuf, L7_OBUF)) {
		sl_l7c_end(c, true);
		return;
	}
	n = sl_hdrs_local_reply(status, body, c->close_after, c->obuf, L7_OBUF);
	if (n < 0) {
		sl_l7c_end(c, true);
		return;
	}
	c->resp_bytes = (uint64_t)n; /* as sent, head and body */
	c_send(c, c->fd, c->obuf, (size_t)n, local_sent);
}

static void c_local_reply(struct l7c *c, int status, const char *flag,
			  const char *body)
{
	c_reply(c, status, flag, body, false);
}

/* ---- the response ------------------------------------------------------- */

static void resp_body(struct l7c *c);

static void resp_finished(struct l7c *c)
{
	bool reuse = c->resp.body != SL_H1_BODY_UNTIL_CLOSE &&
		     (c->resp.flags & SL_H1_F_KEEPALIVE) && c->req_done &&
		     !c->early_resp &&
		     c->upos == c->ulen &&
		     (!c->rt.pol.max_requests_per_conn ||
		      c->leg->requests < c->rt.pol.max_requests_per_conn);

	/* the outcome went to outlier detection with the response head
	 * (resp_head); the lb is ended with the request */
	c_timer(c, 0, NULL);
	if (c->inbound) {
		/* the pod connection serves the next request, or goes with
		 * this client connection */
		if (!reuse)
			c->close_after = true;
	} else {
		sl_l7_leg_put(c->leg, reuse);
		c->leg = NULL;
	}
	sl_l7c_report(c);
	if (c->close_after || c->resp.body == SL_H1_BODY_UNTIL_CLOSE) {
		sl_l7c_end(c, false);
		return;
	}
	c_next_request(c);
}

static void resp_sent(struct l7c *c, int res)
{
	if (res < 0) {
		sl_l7c_flag(c, "DC");
		sl_l7c_report(c);
		sl_l7c_end(c, true);
		return;
	}
	resp_body(c);
}

static void resp_recvd(struct l7c *c, int res)
{
	if (res <= 0) {
		if (c->resp.body == SL_H1_BODY_UNTIL_CLOSE && res == 0) {
			c->resp_left = 0;
			resp_finished(c);
			return;
		}
		/* the upstream went away in the middle of the body: the
		 * client must see a truncated response as one (RST) */
		sl_l7c_flag(c, "UC");
		sl_l7c_report(c);
		sl_l7c_end(c, true);
		return;
	}
	c->ulen = (size_t)res;
	c->upos = 0;
	resp_body(c);
}

/* forward what ubuf holds of the body, then read more */
static void resp_body(struct l7c *c)
{
	size_t avail = c->ulen - c->upos, n = 0;

	switch (c->resp.body) {
	case SL_H1_BODY_NONE:
		resp_finished(c);
		return;
	case SL_H1_BODY_CLEN:
		if (!c->resp_left) {
			resp_finished(c);
			return;
		}
		n = avail < c->resp_left ? avail : (size_t)c->resp_left;
		c->resp_left -= n;
		break;
	case SL_H1_BODY_CHUNKED: {
		size_t off, dl;
		ssize_t k;

		if (c->ck.done) {
			resp_finished(c);
			return;
		}
		/* everything up to the end of the body, in one go */
		while (n < avail && !c->ck.done) {
			k = sl_h1_chunked(&c->ck, c->ubuf + c->upos + n,
					  avail - n, &off, &dl);
			if (k < 0) {
				sl_l7c_flag(c, "UPE");
				sl_l7c_report(c);
				sl_l7c_end(c, true);
				return;
			}
			n += (size_t)k;
			if (!k)
				break;
		}
		break;
	}
	case SL_H1_BODY_UNTIL_CLOSE:
		n = avail;
		break;
	case SL_H1_BODY_TUNNEL:
		sl_l7c_tunnel(c);
		return;
	default:
		sl_l7c_end(c, true);
		return;
	}
	if (n) {
		c->resp_bytes += n;
		c->upos += n;
		c_send(c, c->fd, c->ubuf + c->upos - n, n, resp_sent);
		return;
	}
	if ((c->resp.body == SL_H1_BODY_CHUNKED && c->ck.done) ||
	    (c->resp.body == SL_H1_BODY_CLEN && !c->resp_left)) {
		resp_finished(c);
		return;
	}
	c_leg_recv(c, c->ubuf, L7_UBUF, resp_recvd);
}

static void resp_forward(struct l7c *c)
{
	const struct sl_http_header_ops *ops[2] = { &c->rt.dest_resp,
						    &c->rt.resp };
	ssize_t n;

	c_unwatch_client(c);
	/* an early response (req_sent): the rest of the request is still
	 * in the client connection, which closes after it */
	if (!(c->req.flags & SL_H1_F_KEEPALIVE) || !c->req_done ||
	    c->resp.body == SL_H1_BODY_UNTIL_CLOSE || c->stopping)
		c->close_after = true;
	if (c->resp.body == SL_H1_BODY_TUNNEL)
		c->close_after = false;
	n = sl_hdrs_response(&c->resp, c->ubuf, ops, 2, NULL, 0,
			     c->resp.body == SL_H1_BODY_TUNNEL ?
				     (c->req.meth == SL_H1_M_CONNECT ? 0 :
								       SL_HDRS_UPGRADE) :
			     c->close_after ? SL_HDRS_CLOSE : 0,
			     c->obuf, L7_OBUF);
	if (n < 0) {
		c_local_reply(c, 502, "UPE", "upstream response head too large");
		return;
	}
	c->status = c->resp.status;
	c->replied = true;
	c->resp_bytes = (uint64_t)n;
	c->upos = c->resp.head_len;
	c->resp_left = c->resp.body == SL_H1_BODY_CLEN ? c->resp.content_length : 0;
	if (c->resp.body == SL_H1_BODY_CHUNKED)
		sl_h1_chunked_init(&c->ck, NULL);
	if (c->resp.body == SL_H1_BODY_CLEN && c->resp_left) {
		/* the body bytes already here go with the head: one send for
		 * a small response instead of two */
		size_t avail = c->ulen - c->upos, room = L7_OBUF - (size_t)n;
		size_t k = avail < c->resp_left ? avail : (size_t)c->resp_left;

		if (k > room)
			k = room;
		memcpy(c->obuf + n, c->ubuf + c->upos, k);
		n += (ssize_t)k;
		c->upos += k;
		c->resp_left -= k;
		c->resp_bytes += k;
	}
	c_send(c, c->fd, c->obuf, (size_t)n, resp_sent);
}

static void retry_fire(struct l7c *c)
{
	c_attempt(c);
}

/*
 * May this attempt's failure be retried?  Only before anything reached the
 * client, with the whole request body still at hand, within the attempts
 * and the process-wide retry budget.
 */
static bool c_retry(struct l7c *c, int status, enum sl_retry_failure why)
{
	if (c->replied || !c->body_replay || c->upgrade || c->inbound ||
	    !sl_retry_should(&c->retry, status, why))
		return false;
	if (c->attempts >= 1 + c->retry.attempts) {
		if (c->retry.attempts)
			sl_l7c_flag(c, "URX");
		return false;
	}
	/* connectionPool.http.maxRetries: retries in progress, per host */
	if (c->hdest && !cb_take(&c->hdest->rq_retries, c->rt.pol.max_retries,
				 &c->hold_retry)) {
		sl_l7c_flag(c, "URX");
		return false;
	}
	if (!c->retry_budget) {
		if (!sl_retry_budget_take(sl_retry_budget_process())) {
			sl_l7c_flag(c, "URX");
			return false;
		}
		c->retry_budget = true;
	}
	sl_l7_leg_close(c->leg);
	c->leg = NULL;
	/* the endpoint is done with for this request (a connect failure was
	 * reported with its error already; this one counts for nothing) */
	if (c->lb_on && c->lb.cur)
		sl_lb_report_failure(&c->lb, -EAGAIN);
	c_timer(c, sl_retry_backoff_ns(c->attempts - 1, sl_lb_rand()),
		retry_fire);
	return true;
}

static void resp_head(struct l7c *c);

/* the leg failed before the response head: retry, or 503 UC */
static void c_upstream_gone(struct l7c *c)
{
	sl_l7c_flag(c, "UC");
	if (c_retry(c, 0, SL_RETRY_F_RESET))
		return;
	c_local_reply(c, 503, NULL,
		      "upstream connect error or disconnect/reset before headers. reset reason: connection termination");
}

static void resp_head_recvd(struct l7c *c, int res)
{
	if (res <= 0) {
		c_upstream_gone(c);
		return;
	}
	c->ulen += (size_t)res;
	resp_head(c);
}

static void resp_head(struct l7c *c)
{
	size_t off = 0;
	ssize_t n;

	/* interim 1xx responses (other than 101) are dropped: we answered
	 * 100-continue ourselves.  They are walked over with an offset and
	 * the buffer moved once, so a flood of them costs linear time. */
	for (;;) {
		n = sl_h1_parse_response(&c->resp, c->ubuf + off, c->ulen - off,
					 c->req.meth);
		if (n <= 0 || c->resp.status >= 200 || c->resp.status == 101)
			break;
		off += (size_t)n;
		sl_h1_msg_init(&c->resp, NULL);
	}
	if (off) {
		memmove(c->ubuf, c->ubuf + off, c->ulen - off);
		c->ulen -= off;
		if (n > 0) { /* the spans point past the move: parse again */
			sl_h1_msg_init(&c->resp, NULL);
			n = sl_h1_parse_response(&c->resp, c->ubuf, c->ulen,
						 c->req.meth);
		}
	}
	if (n == 0) {
		if (c->ulen >= L7_UBUF) {
			c_local_reply(c, 502, "UPE", "upstream response head too large");
			return;
		}
		c_leg_recv(c, c->ubuf + c->ulen, L7_UBUF - c->ulen,
			   resp_head_recvd);
		return;
	}
	if (n < 0) {
		c_local_reply(c, 502, "UPE", "upstream sent a malformed response");
		return;
	}
	if (c->resp.body == SL_H1_BODY_TUNNEL && !c->upgrade) {
		c_local_reply(c, 502, "UPE",
			      "upstream switched protocols unasked");
		return;
	}
	/* outlierDetection per response: a 5xx counts as a consecutive
	 * error of the endpoint, anything else resets its count */
	if (c->lb_on && c->lb.cur) {
		bool gw = c->resp.status >= 502 && c->resp.status <= 504;
		const struct sl_dest_policy *p = &c->rt.pol;
		/* consecutive5xxErrors counts every 5xx, consecutiveGatewayErrors
		 * 502/503/504; neither set: 5xx, as Envoy's default */
		bool counts = c->resp.status >= 500 &&
			      (p->consecutive_5xx || (gw && p->consecutive_gateway) ||
			       (!p->consecutive_5xx && !p->consecutive_gateway));

		if (counts)
			sl_outlier_failure(c->d->health, &c->lb.pol, c->rt.eps,
					   c->rt.n_eps, c->lb.cur_idx,
					   sl_health_now(c->d->health));
		else if (c->resp.status < 500)
			sl_outlier_success(c->lb.cur);
	}
	if (c_retry(c, c->resp.status, SL_RETRY_F_NONE))
		return;
	resp_forward(c);
}

/* ---- the request -------------------------------------------------------- */

static void req_body(struct l7c *c);

static void req_body_recvd(struct l7c *c, int res)
{
	if (res <= 0) {
		/* the client went away in the middle of its body */
		sl_l7c_flag(c, "DC");
		c->status = 0;
		sl_l7c_report(c);
		sl_l7c_end(c, true);
		return;
	}
	c->dlen += (size_t)res;
	req_body(c);
}

/* the request head or a piece of its body went to the leg */
static void req_sent(struct l7c *c, int res)
{
	if (res < 0 && !c->early_resp) {
		/* the upstream may have answered and closed before taking
		 * the whole request (a refusal, a 413): the engine writes to
		 * its socket directly, so the send fails where a relay would
		 * have taken the bytes.  What it answered is read before
		 * giving up, as Envoy forwards an early response; nothing
		 * came: UC as before (resp_head_recvd). */
		c->early_resp = true;
		sl_h1_msg_init(&c->resp, NULL);
		c->ulen = c->upos = 0;
		c_watch_client(c);
		resp_head(c);
		return;
	}
	if (res < 0) {
		c_upstream_gone(c);
		return;
	}
	req_body(c);
}

static void cont_sent(struct l7c *c, int res)
{
	if (res < 0) {
		sl_l7c_end(c, true);
		return;
	}
	req_body(c);
}

/* forward the request body that dbuf holds, then read more from the client */
static void req_body(struct l7c *c)
{
	size_t avail = c->dlen - c->dpos, n = 0, head = c->head_len;

	/* the request head waits in obuf: the body bytes already here go
	 * behind it, in one send (one record, one segment): an upstream
	 * that answers on the head alone still finds the body read with it
	 * rather than arriving after its answer (and resetting it) */
	if (head && avail > L7_OBUF - head)
		avail = L7_OBUF - head;
	if (!c->req_done) {
		switch (c->req.body) {
		case SL_H1_BODY_CLEN:
			n = avail < c->body_left ? avail : (size_t)c->body_left;
			c->body_left -= n;
			c->req_done = !c->body_left;
			break;
		case SL_H1_BODY_CHUNKED:
			while (n < avail && !c->ck.done) {
				size_t off, dl;
				ssize_t k = sl_h1_chunked(&c->ck,
							  c->dbuf + c->dpos + n,
							  avail - n, &off, &dl);

				if (k < 0) {
					c->req_done = false;
					c->head_len = 0;
					c_local_reply(c, c->ck.err_status, NULL,
						      "bad chunked request body");
					return;
				}
				n += (size_t)k;
				if (!k)
					break;
			}
			c->req_done = c->ck.done;
			break;
		default:
			c->req_done = true;
		}
	}
	if (head) {
		c->head_len = 0;
		if (n) {
			memcpy(c->obuf + head, c->dbuf + c->dpos, n);
			c->req_bytes += n;
			c->dpos += n;
		}
		c_leg_send(c, c->obuf, head + n, req_sent);
		return;
	}
	if (n) {
		c->req_bytes += n;
		c->dpos += n;
		c_leg_send(c, c->dbuf + c->dpos - n, n, req_sent);
		return;
	}
	if (c->req_done) {
		sl_h1_msg_init(&c->resp, NULL);
		c->ulen = c->upos = 0;
		c_watch_client(c);
		resp_head(c);
		return;
	}
	/* more body from the client: the buffer is reused, so the body can
	 * no longer be replayed */
	if ((c->req.flags & SL_H1_F_EXPECT_100) && !c->sent_100) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

		c->sent_100 = true;
		c_send(c, c->fd, cont, sizeof(cont) - 1, cont_sent);
		return;
	}
	c->body_replay = false;
	c->dlen = c->dpos = 0;
	c_recv(c, c->fd, c->dbuf, L7_DBUF, req_body_recvd);
}

/* http[].redirect: Location from the request, the rule overriding parts */
static void c_redirect(struct l7c *c)
{
	char loc[4096];
	ssize_t n;

	if (sl_l7c_redirect_location(c, loc, sizeof(loc))) {
		c_local_reply(c, 414, NULL, "redirect location too long");
		return;
	}
	c->status = (int)c->rt.redirect_code;
	c->replied = true;
	if (!c->req_done || c->stopping)
		c->close_after = true;
	if (!c_buf(&c->obuf, L7_OBUF)) {
		sl_l7c_end(c, true);
		return;
	}
	n = snprintf(c->obuf, L7_OBUF,
		     "HTTP/1.1 %d %s\r\nlocation: %s\r\ncontent-length: 0\r\n%s\r\n",
		     c->status, sl_hdrs_reason(c->status), loc,
		     c->close_after ? "connection: close\r\n" : "");
	c->resp_bytes = (uint64_t)n;
	c_send(c, c->fd, c->obuf, (size_t)n, local_sent);
}

/* what a leg to @ep (at @addr) for @pol's destination can be reused for */
void sl_l7c_leg_key(const struct l7c *c, const char *kind,
		      const struct sl_dest_policy *pol,
		      const struct sl_endpoint *ep, const struct sl_ip *addr,
		      struct sl_l7_key *key)
{
	memset(key, 0, sizeof(*key));
	if (c->src && c->src->spiffe_id)
		snprintf(key->src_id, sizeof(key->src_id), "%s",
			 c->src->spiffe_id);
	snprintf(key->cluster, sizeof(key->cluster), "%s%s|%s|%u", kind,
		 pol->host ? pol->host : "", pol->subset ? pol->subset : "",
		 pol->port);
	key->addr = *addr;
	key->port = ep->port ? ep->port : c->dst_port;
	key->plain = pol->tls_disable;
}

/* a uniform draw in [0, 100) for fault and mirror percentages */
double sl_l7c_pct_draw(void)
{
	return (double)(sl_lb_rand() >> 11) / (double)(1ull << 53) * 100.0;
}

static void c_send_request(struct l7c *c)
{
	/* the client's trace fields go: ours (a new span per attempt) are
	 * added; then the destination's, then the rule's header ops (a
	 * later set wins: the rule's, as in Envoy's default order) */
	static const char *const expect[] = { "expect" };
	/* Expect: 100-continue is sluice's to answer (as Envoy does) */
	static const struct sl_http_header_ops no_expect = {
		.remove = expect, .n_remove = 1,
	};
	const struct sl_http_header_ops *ops[4] = { &sl_trace_header_ops,
						    &no_expect,
						    &c->rt.dest_req,
						    &c->rt.req };
	struct sl_h1_extra extra[SL_TRACE_HEADERS_MAX];
	ssize_t n_extra, n;
	size_t n_ops = 4;
	const char *tgt = NULL;

	struct sl_label host = { "host", c->rt.rewrite_authority };
	struct sl_http_header_ops rw_host = {
		.set = &host, .n_set = 1, .remove = expect, .n_remove = 1,
	};
	char target[8192];

	if (c->rt.rewrite_authority)
		ops[1] = &rw_host; /* with "expect" removed too: below */
	if (c->attempts > 1)
		sl_trace_new_span(&c->trace, sl_l7c_rnd, NULL);
	n_extra = sl_trace_headers(&c->trace, extra, SL_TRACE_HEADERS_MAX);
	if (c->rt.rewrite_uri && sl_l7c_rewrite_target(c, target, sizeof(target))) {
		c_local_reply(c, 414, NULL, "rewritten request target too long");
		return;
	}
	if (c->rt.rewrite_uri)
		tgt = target;
	if (c->inbound) {
		/* as it came (the source's engine rewrote it) with its path
		 * normalized (authz.c), and the pod learns its caller from
		 * sluice only: a client's x-forwarded-client-cert and the
		 * other identity headers go, Istio's XFCC is added */
		tgt = c->az_target;
		static const char *const ident[] = {
			"x-forwarded-client-cert", "x-envoy-peer-metadata",
			"x-envoy-peer-metadata-id", "x-istio-attributes",
		};
		static const struct sl_http_header_ops no_ident = {
			.remove = ident, .n_remove = 4,
		};

		ops[0] = &no_ident;
		n_ops = 1;
		if (c->az_host) {
			/* an absolute-form target: the authority was
			 * decided on, and the pod's Host says the same */
			host.value = c->az_host;
			ops[1] = &rw_host;
			n_ops = 2;
		}
		n_extra = 0;
		if (c->peer_id[0] && c->dst_wl && c->dst_wl->spiffe_id) {
			snprintf(c->xfcc, sizeof(c->xfcc),
				 "By=%s;Hash=%s;Subject=\"\";URI=%s",
				 c->dst_wl->spiffe_id, c->peer_hash, c->peer_id);
			extra[0].name = "x-forwarded-client-cert";
			extra[0].value = c->xfcc;
			n_extra = 1;
		}
	}
	n = n_extra < 0 ? n_extra :
	    sl_hdrs_request_target(&c->req, c->dbuf, tgt, ops, n_ops,
				   extra, (size_t)n_extra,
			    c->upgrade && c->req.meth != SL_H1_M_CONNECT ?
				    SL_HDRS_UPGRADE : 0,
			    c->obuf, L7_OBUF);
	if (n < 0) {
		c_local_reply(c, 431, NULL, "request head too large");
		return;
	}
	c->leg->requests++;
	c->early_resp = false;
	/* the body restarts from its first byte (a retry replays it) */
	c->dpos = c->body_start;
	c->body_left = c->req.body == SL_H1_BODY_CLEN ? c->req.content_length : 0;
	c->req_bytes = 0;
	if (c->req.body == SL_H1_BODY_CHUNKED)
		sl_h1_chunked_init(&c->ck, NULL);
	c->req_done = c->req.body == SL_H1_BODY_NONE;
	c->head_len = (size_t)n; /* sent by req_body, with what body it can */
	req_body(c);
}

/* ---- attempts ----------------------------------------------------------- */

static void timed_out(struct l7c *c)
{
	bool route = c->t_deadline && sl_now_ns() >= c->t_deadline;

	if (c->replied) {
		sl_l7c_report(c);
		sl_l7c_end(c, true);
		return;
	}
	if (!route && c_retry(c, 0, SL_RETRY_F_TIMEOUT))
		return;
	c_local_reply(c, 504, NULL, "upstream request timeout");
}

/* the per-try or the route deadline: the op in flight is cancelled first */
static void try_timeout(struct l7c *c)
{
	sl_l7c_flag(c, "UT");
	c_abort_io(c, timed_out);
}

static void arm_try_timer(struct l7c *c)
{
	uint64_t now = sl_now_ns(), due = 0;

	if (c->rt.timeout_ns)
		due = c->t_deadline;
	if (c->per_try_ns && (!due || now + c->per_try_ns < due))
		due = now + c->per_try_ns;
	if (due)
		c_timer(c, due > now ? due - now : 1, try_timeout);
}

static void leg_ready(void *owner, struct sl_l7_leg *leg, int err)
{
	struct l7c *c = owner;

	c_pending_put(c);
	if (err) {
		sl_l7_leg_close(leg);
		c->leg = NULL;
		sl_l7c_flag(c, "UF");
		if (c->lb_on)
			sl_lb_report_failure(&c->lb, err);
		if (c_retry(c, 0, SL_RETRY_F_CONNECT_FAILURE))
			return;
		c_local_reply(c, err == -EBUSY ? 503 : 503,
			      err == -EBUSY ? "UO" : NULL,
			      "upstream connect error or disconnect/reset before headers. reset reason: connection failure");
		return;
	}
	c_send_request(c);
}

static void c_attempt(struct l7c *c)
{
	const struct sl_endpoint *ep;
	const struct sl_ip *addr;
	struct sl_l7_key key;
	uint64_t timeout;
	bool now, picked;
	int err = 0;

	if (c->t_deadline && sl_now_ns() >= c->t_deadline) {
		sl_l7c_flag(c, "UT");
		c_local_reply(c, 504, NULL, "upstream request timeout");
		return;
	}
	if (!c->lb_on) {
		struct sl_dest_policy pol = c->rt.pol;
		int ret;

		pol.retry_attempts = c->retry.attempts;
		/* maxConnections caps the legs (connections), not requests */
		pol.max_connections = 0;
		ret = sl_lb_begin(&c->lb, c->d->health, c->rt.eps, c->rt.n_eps,
				  &pol);
		if (ret) {
			c_local_reply(c, 503, "UH", "no healthy upstream");
			return;
		}
		c->lb_on = true;
		if (!c->rt.pol.tls_disable)
			sl_lb_set_filter(&c->lb, sl_l7c_mesh_endpoint);
		c->hdest = c->lb.dest;
		/* connectionPool.http.http2MaxRequests: requests in progress */
		if (c->hdest && !cb_take(&c->hdest->rq_active,
					 c->rt.pol.http2_max_requests,
					 &c->hold_rq)) {
			atomic_fetch_add(&c->hdest->overflows, 1);
			c_local_reply(c, 503, "UO",
				      "upstream connect error or disconnect/reset before headers. reset reason: overflow");
			return;
		}
	}
	picked = sl_lb_pick(&c->lb, &ep, &timeout) == 0;
	if (!picked && c->attempts) {
		/* every endpoint was tried: a retry may go to one again (as
		 * Envoy's previous_hosts predicate gives up after a while) */
		struct sl_dest_policy pol = c->rt.pol;

		sl_lb_end(&c->lb);
		c->lb_on = false;
		pol.retry_attempts = c->retry.attempts;
		pol.max_connections = 0;
		if (sl_lb_begin(&c->lb, c->d->health, c->rt.eps, c->rt.n_eps,
				&pol) == 0) {
			c->lb_on = true;
			if (!c->rt.pol.tls_disable)
				sl_lb_set_filter(&c->lb, sl_l7c_mesh_endpoint);
		}
		picked = c->lb_on && sl_lb_pick(&c->lb, &ep, &timeout) == 0;
	}
	if (!picked) {
		if (!c->attempts) {
			c_local_reply(c, 503, "UH", "no healthy upstream");
			return;
		}
		sl_l7c_flag(c, "URX");
		c_local_reply(c, 503, NULL,
			      "upstream connect error or disconnect/reset before headers. retried and the latest reset reason: connection failure");
		return;
	}
	if (!c->attempts)
		sl_l7c_mirror(c);
	c->attempts++;
	c->ep = ep;
	addr = ep->address.family ? &ep->address : &c->dst;
	sl_l7c_leg_key(c, "", &c->rt.pol, ep, addr, &key);
	sl_flow_fmt_ep(c->upstream_s, sizeof(c->upstream_s), addr, key.port);
	arm_try_timer(c);
	c->leg = sl_l7_leg_get(c->wc, c->cfg, &key, c->src, &c->src_ip,
			       c->src_port, &c->dst, c->dst_port, ep, &c->rt.pol,
			       leg_ready, c, &now, &err);
	if (!c->leg) {
		sl_l7c_flag(c, err == -EBUSY ? "UO" : "UF");
		c_local_reply(c, 503, NULL,
			      "upstream connect error or disconnect/reset before headers. reset reason: overflow");
		return;
	}
	if (now) {
		c_send_request(c);
		return;
	}
	/* connectionPool.http.http1MaxPendingRequests: requests waiting for
	 * a connection to be made */
	if (c->hdest && !cb_take(&c->hdest->rq_pending,
				 c->rt.pol.http1_max_pending, &c->hold_pending)) {
		atomic_fetch_add(&c->hdest->overflows, 1);
		c_local_reply(c, 503, "UO",
			      "upstream connect error or disconnect/reset before headers. reset reason: overflow");
	}
}

static void delay_done(struct l7c *c)
{
	c_attempt(c);
}

/* ---- the request head --------------------------------------------------- */

static void c_route(struct l7c *c)
{
	struct sl_http_req_view v;
	int ret;

	if (c->inbound) {
		/* the destination side: the source's engine routed it; it
		 * goes to the pod as it came, and is reported (the snapshot
		 * of the connection is kept: its workloads are in it) */
		int st;

		sl_trace_from_request(&c->trace, &c->req, c->dbuf, sl_l7c_rnd, NULL);
		sl_trace_id_hex(&c->trace, c->trace_hex);
		memset(&c->rt, 0, sizeof(c->rt));
		memset(&c->retry, 0, sizeof(c->retry));
		c->routed = true;
		sl_retry_budget_req_begin(sl_retry_budget_process());
		/* the path normalized, then AuthorizationPolicy (issue 27);
		 * a refusal leaves the pod connection as it was */
		st = sl_l7c_admit(c);
		c->rt.pol.host = c->dst.family ?
			sl_config_service_host(c->cfg, &c->dst) : NULL;
		if (st == 403) {
			c_reply(c, 403, NULL, "RBAC: access denied", true);
			return;
		}
		if (st) {
			c_reply(c, st, NULL, st == 503 ? "" : "Bad Request",
				st != 503);
			return;
		}
		if (!c->leg) {
			c_local_reply(c, 503, "UC", "upstream connection gone");
			return;
		}
		c->attempts = 1;
		c_watch_client(c);
		c_send_request(c);
		return;
	}

	sl_config_put(c->cfg);
	c->cfg = sl_daemon_config(c->d);
	c->src = sl_config_workload_by_ip(c->cfg, &c->src_ip);
	sl_l7c_req_view(c, &v);
	sl_trace_from_request(&c->trace, &c->req, c->dbuf, sl_l7c_rnd, NULL);
	sl_trace_id_hex(&c->trace, c->trace_hex);
	memset(&c->rt, 0, sizeof(c->rt));
	ret = sl_config_http_route(c->cfg, c->src, &c->dst, c->dst_port, &v,
				   (uint32_t)sl_lb_rand(), &c->rt);
	c->routed = true;
	sl_retry_budget_req_begin(sl_retry_budget_process());
	if (ret == -ESRCH) {
		c_local_reply(c, 404, "NR", "");
		return;
	}
	if (ret) {
		c_local_reply(c, 503, "UH", "no healthy upstream");
		return;
	}
	if (c->rt.direct_status) {
		/* directResponse: sluice answers, nothing goes upstream */
		c_local_reply(c, (int)c->rt.direct_status, NULL,
			      c->rt.direct_body ? c->rt.direct_body : "");
		return;
	}
	if (c->rt.redirect_code) {
		c_redirect(c);
		return;
	}
	/* retries: Istio's default policy without a retries block; retryOn
	 * was checked when the config loaded */
	if (!c->rt.has_retries)
		sl_retry_default(&c->retry);
	else if (sl_retry_parse(c->rt.retry_on, c->rt.retry_attempts,
				&c->retry, NULL, 0))
		sl_retry_default(&c->retry);
	c->per_try_ns = c->rt.has_retries ? c->rt.per_try_timeout_ns : 0;
	if (c->rt.timeout_ns)
		c->t_deadline = c->t_start + c->rt.timeout_ns;
	if (c->rt.fault_abort_status && sl_l7c_pct_draw() < c->rt.fault_abort_pct) {
		c_local_reply(c, (int)c->rt.fault_abort_status, "FI",
			      "fault filter abort");
		return;
	}
	if (c->rt.fault_delay_ns && sl_l7c_pct_draw() < c->rt.fault_delay_pct) {
		sl_l7c_flag(c, "DI");
		c_timer(c, c->rt.fault_delay_ns, delay_done);
		return;
	}
	c_attempt(c);
}

static void head_complete(struct l7c *c)
{
	c_timer(c, 0, NULL); /* the head timeout */
	sl_l7c_log_strings(c);
	if (!c_buf(&c->obuf, L7_OBUF) || !c_buf(&c->ubuf, L7_UBUF)) {
		sl_l7c_end(c, true);
		return;
	}
	c->body_start = c->dpos = c->req.head_len;
	c->body_replay = true;
	c->req_done = c->req.body == SL_H1_BODY_NONE;
	/* Upgrade (WebSocket) and CONNECT: forwarded, and a tunnel once the
	 * upstream accepts (101, or 2xx to CONNECT); never retried */
	c->upgrade = c->req.meth == SL_H1_M_CONNECT ||
		     ((c->req.flags & SL_H1_F_UPGRADE) &&
		      (c->req.flags & SL_H1_F_CONN_UPGRADE));
	if (!(c->req.flags & SL_H1_F_KEEPALIVE))
		c->close_after = true;
	if (c->req.body == SL_H1_BODY_CHUNKED && c->dlen > c->dpos) {
		/* the chunked framing that came with the head is checked
		 * before anything goes upstream: a bad chunk line right
		 * behind the head (the smuggling cases) is refused whole */
		struct sl_h1_chunked ck;
		size_t at = c->dpos, off, dl;
		ssize_t k = 1;

		sl_h1_chunked_init(&ck, NULL);
		while (at < c->dlen && !ck.done && k > 0) {
			k = sl_h1_chunked(&ck, c->dbuf + at, c->dlen - at, &off,
					  &dl);
			if (k > 0)
				at += (size_t)k;
		}
		if (k < 0) {
			c->close_after = true;
			c->req_done = false;
			sl_stat_inc(SL_STAT_HTTP_BAD_REQUESTS);
			c_local_reply(c, ck.err_status, NULL,
				      sl_h1_reason_str(ck.reason));
			return;
		}
	}
	c_route(c);
}

static void head_recvd(struct l7c *c, int res);

static void head_timed_out(struct l7c *c)
{
	c->close_after = true;
	c->req_done = false;
	c_local_reply(c, 408, NULL, "request head timeout");
}

static void head_timeout(struct l7c *c)
{
	c_abort_io(c, head_timed_out);
}

static void head_parse(struct l7c *c)
{
	ssize_t n = sl_h1_parse_request(&c->req, c->dbuf, c->dlen);

	if (n == 0 && !sl_h1_request_start_ok(c->dbuf, c->dlen)) {
		c->close_after = true;
		c->req_done = false;
		sl_stat_inc(SL_STAT_HTTP_BAD_REQUESTS);
		if (!c_buf(&c->obuf, L7_OBUF)) {
			sl_l7c_end(c, true);
			return;
		}
		c_local_reply(c, 400, NULL, "not an HTTP/1.x request");
		return;
	}
	if (n == 0 && !c->tm_fn)
		/* the head must be whole --http-head-timeout (10 s) after its
		 * first byte: a client that trickles it gets 408 */
		c_timer(c, c->d->o.http_head_timeout_ns ?
				   c->d->o.http_head_timeout_ns :
				   10000000000ull,
			head_timeout);

	if (n > 0) {
		head_complete(c);
		return;
	}
	if (n < 0) {
		/* a refused head: its status, the connection closes, nothing
		 * went upstream */
		c->close_after = true;
		c->req_done = false;
		sl_log_debug("%s: %s: refused request: %s", __func__, c->src_s,
			     sl_h1_reason_str(c->req.reason));
		sl_stat_inc(SL_STAT_HTTP_BAD_REQUESTS);
		if (!c_buf(&c->obuf, L7_OBUF)) {
			sl_l7c_end(c, true);
			return;
		}
		c_local_reply(c, c->req.err_status, NULL,
			      sl_h1_reason_str(c->req.reason));
		return;
	}
	if (c->dlen >= L7_DBUF) {
		sl_l7c_end(c, true); /* the parser's limits come first */
		return;
	}
	c_recv(c, c->fd, c->dbuf + c->dlen, L7_DBUF - c->dlen, head_recvd);
}

static void head_recvd(struct l7c *c, int res)
{
	if (res <= 0) {
		/* closed between requests (or in a head): nothing to answer */
		sl_l7c_end(c, res < 0 || c->dlen > 0);
		return;
	}
	if (!c->dlen) {
		c->t_start = sl_now_ns();
		c->start_real = sl_realtime_ns();
		c_timer(c, 0, NULL);
	}
	c->dlen += (size_t)res;
	head_parse(c);
}

static void idle_timeout(struct l7c *c)
{
	sl_l7c_end(c, false);
}

static void readable(struct l7c *c, int res)
{
	if (c->watch_armed && c->watch_leg)
		sl_worker_cancel_op(c->wc->w, &c->watch_op);
	if (res < 0 || (res & (POLLERR | POLLHUP))) {
		sl_l7c_end(c, res < 0);
		return;
	}
	if (!c_buf(&c->dbuf, L7_DBUF)) {
		sl_l7c_end(c, true);
		return;
	}
	c_recv(c, c->fd, c->dbuf + c->dlen, L7_DBUF - c->dlen, head_recvd);
}

/* the next request: what is left in dbuf (pipelined) comes first */
static void c_next_request(struct l7c *c)
{
	size_t left;

	if (c->routed)
		c_request_cleanup(c);
	c->routed = false;
	sl_l7c_admit_clear(c);
	left = c->dbuf ? c->dlen - c->dpos : 0;
	if (left && c->dpos)
		memmove(c->dbuf, c->dbuf + c->dpos, left);
	c->dlen = left;
	c->dpos = 0;
	sl_h1_msg_init(&c->req, NULL);
	memset(&c->rt, 0, sizeof(c->rt));
	c->ep = NULL;
	c->attempts = 0;
	c->flags[0] = 0;
	if (!c->inbound)
		c->upstream_s[0] = 0;
	c->status = 0;
	c->replied = c->close_after = c->sent_100 = false;
	c->l_have = false;
	c->t_deadline = 0;
	c->req_bytes = c->resp_bytes = 0;
	if (c->stopping || conns_stopping) {
		sl_l7c_end(c, false);
		return;
	}
	if (left) {
		c->t_start = sl_now_ns();
		c->start_real = sl_realtime_ns();
		head_parse(c);
		return;
	}
	/* idle: no buffer held while waiting */
	free(c->dbuf);
	c->dbuf = NULL;
	free(c->ubuf);
	c->ubuf = NULL;
	free(c->obuf);
	c->obuf = NULL;
	if (c->d->o.idle_timeout_ns)
		c_timer(c, c->d->o.idle_timeout_ns, idle_timeout);
	if (c->inbound && c->leg)
		c_watch(c, sl_l7_leg_fd(c->leg), true);
	c_poll(c, c->fd, readable);
}

/* ---- entry -------------------------------------------------------------- */

/* a new client connection joins this thread's list and waits for its
 * first request */
static void c_register(struct l7c *c)
{
	sl_h1_msg_init(&c->req, NULL);
	c->next = conns;
	if (conns)
		conns->prev = c;
	conns = c;
	sl_worker_ref(c->wc->w);
	sl_stat_inc(SL_STAT_HTTP_CONNECTIONS);
	c_poll(c, c->fd, readable);
}

bool sl_l7_offer(struct sl_wctx *wc, int fd, struct sl_outbound_info *info)
{
	struct l7c *c;

	if (conns_stopping ||
	    sl_config_port_protocol(info->cfg, info->src, &info->dst,
				    info->dst_port) != SL_PROTO_HTTP)
		return false;
	c = calloc(1, sizeof(*c));
	if (!c)
		return false;
	c->wc = wc;
	c->d = wc->d;
	c->fd = fd;
	c->src_ip = info->src_ip;
	c->src_port = info->src_port;
	c->dst = info->dst;
	c->dst_port = info->dst_port;
	c->conn_id = info->flow_id;
	c->cfg = info->cfg; /* the reference is ours */
	sl_flow_fmt_ep(c->src_s, sizeof(c->src_s), &c->src_ip, c->src_port);
	sl_flow_fmt_ep(c->dst_s, sizeof(c->dst_s), &c->dst, c->dst_port);
	c_register(c);
	return true;
}

int sl_l7_inbound_offer(struct sl_wctx *wc, int pod_fd,
			struct sl_inbound_info *info)
{
	struct l7c *c;
	int sp[2];

	if (conns_stopping ||
	    sl_config_port_protocol(info->cfg, NULL, &info->dst->address,
				    info->dst_port) != SL_PROTO_HTTP)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       sp) < 0)
		return -1;
	c = calloc(1, sizeof(*c));
	if (c)
		c->leg = sl_l7_leg_fixed(wc, pod_fd, c);
	if (!c || !c->leg) {
		free(c);
		close(sp[0]);
		close(sp[1]);
		return -1;
	}
	c->inbound = true;
	c->plain_peer = info->plaintext;
	c->wc = wc;
	c->d = wc->d;
	c->fd = sp[0];
	c->cfg = info->cfg; /* the reference is ours */
	c->dst_wl = info->dst;
	c->in_src = info->src;
	if (info->peer_id)
		snprintf(c->peer_id, sizeof(c->peer_id), "%s", info->peer_id);
	if (info->peer_hash)
		snprintf(c->peer_hash, sizeof(c->peer_hash), "%s",
			 info->peer_hash);
	c->src_ip = info->src_ip;
	c->dst = info->orig_dst;
	c->dst_port = info->dst_port;
	c->conn_id = info->flow_id;
	{
		char a[INET6_ADDRSTRLEN];

		sl_ip_format(&c->src_ip, a, sizeof(a));
		snprintf(c->src_s, sizeof(c->src_s),
			 c->src_ip.family == AF_INET6 ? "[%s]" : "%s", a);
		sl_flow_fmt_ep(c->dst_s, sizeof(c->dst_s), &info->dst->address,
			       info->dst_port);
		snprintf(c->upstream_s, sizeof(c->upstream_s), "%s", c->dst_s);
	}
	c_register(c);
	return sp[1];
}

void sl_l7_conns_stop(void)
{
	struct l7c *c, *next;

	conns_stopping = true;
	for (c = conns; c; c = next) {
		next = c->next;
		c->stopping = true;
		/* waiting for a request that has not started: close */
		if (c->io_armed && c->io_poll && c->io_fd == c->fd && !c->dlen)
			sl_l7c_end(c, false);
	}
}

void sl_l7_worker_stop(struct sl_wctx *wc)
{
	(void)wc;
	sl_l7_conns_stop();
	sl_l7_legs_stop();
}

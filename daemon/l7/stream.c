/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The byte stream of an upstream leg (stream.h): plaintext, kTLS or the
 * userspace record layer on the leg's socket, one operation at a time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ktls.h"
#include "log.h"
#include "record.h"
#include "stats.h"
#include "stream.h"
#include "util.h"

/* room asked of the record layer's input per receive: a whole record */
#define RL_IN_MIN (16u * 1024 + 256 + 5)

void sl_l7_stream_init(struct sl_l7_stream *s, struct sl_worker *w, int fd,
		       enum sl_l7_stream_kind kind, struct sl_tls_rl *rl)
{
	memset(s, 0, sizeof(*s));
	s->w = w;
	s->fd = fd;
	s->kind = kind;
	s->rl = rl;
}

/* the socket, the session and buffers go once nothing is in flight */
static void release(struct sl_l7_stream *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	sl_tls_rl_free(s->rl);
	s->rl = NULL;
	free(s->ct);
	s->ct = NULL;
}

/* plaintext carried: the counters the L4 relay keeps for its flows */
static void count(const struct sl_l7_stream *s, bool sent, size_t n)
{
	if (s->counted)
		sl_stat_add(sent ? SL_STAT_BYTES_POD_TO_MESH :
				   SL_STAT_BYTES_MESH_TO_POD, n);
}

static void complete(struct sl_l7_stream *s, int res)
{
	struct sl_op *u = s->user;

	if (res > 0)
		count(s, s->sending, (size_t)res);

	s->busy = false;
	s->user = NULL;
	s->cancelled = false;
	s->flushing = false;
	if (s->closed) {
		release(s);
		if (s->on_idle)
			s->on_idle(s); /* may free @s */
	}
	u->fn(u, res, 0); /* may close or free @s */
}

static void deferred(void *arg)
{
	struct sl_l7_stream *s = arg;

	complete(s, s->res);
}

/* complete outside the call that started the operation */
static void complete_later(struct sl_l7_stream *s, int res)
{
	s->res = res;
	if (sl_worker_defer(s->w, deferred, s))
		complete(s, res);
}

static void op_done(struct sl_op *op, int res, uint32_t flags);

static void submit(struct sl_l7_stream *s, bool send, void *buf, size_t len)
{
	struct io_uring_sqe *sqe = sl_worker_sqe(s->w);

	if (send)
		io_uring_prep_send(sqe, s->fd, buf, len, MSG_NOSIGNAL);
	else
		io_uring_prep_recv(sqe, s->fd, buf, len, 0);
	s->op.fn = op_done;
	sl_op_attach(sqe, &s->op);
	s->op_armed = true;
}

static void begin(struct sl_l7_stream *s, struct sl_op *done, bool send,
		  const void *buf, size_t len)
{
	s->busy = true;
	s->user = done;
	s->sending = send;
	s->flushing = false;
	s->cancelled = false;
	s->buf = (uint8_t *)buf;
	s->len = len;
	s->took = 0;
}

/* ---- userspace TLS ----------------------------------------------------- */

/*
 * Fill the ciphertext buffer: a KeyUpdate's answer first (queued by a
 * read), then up to SL_L7_STREAM_PT_MAX of @pt sealed behind it.
 * @used: plaintext sealed.  @retval 0 or -errno
 */
static int rl_fill(struct sl_l7_stream *s, const uint8_t *pt, size_t len,
		   size_t *used)
{
	ssize_t n;

	*used = 0;
	if (!s->ct) {
		s->ct = malloc(SL_L7_STREAM_CT);
		if (!s->ct)
			return -ENOMEM;
	}
	s->ct_off = 0;
	s->ct_len = sl_tls_rl_take_output(s->rl, s->ct, SL_L7_STREAM_CT);
	if (!len || sl_tls_rl_pending_output(s->rl))
		return 0;
	n = sl_tls_rl_seal(s->rl, pt, SL_MIN(len, SL_L7_STREAM_PT_MAX),
			   s->ct + s->ct_len, SL_L7_STREAM_CT - s->ct_len, used);
	if (n < 0)
		return (int)n;
	s->ct_len += (size_t)n;
	return 0;
}

/*
 * What the record layer can give without receiving, into @buf: whole
 * records opened straight into it.  @retval bytes (> 0), 0 at
 * close_notify, -EAGAIN when a record is still to come, -EPROTO
 */
static ssize_t rl_drain(struct sl_tls_rl *rl, uint8_t *buf, size_t cap)
{
	size_t got = 0;
	ssize_t r = -EAGAIN;

	while (got < cap) {
		r = sl_tls_rl_read(rl, buf + got, cap - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got)
		return (ssize_t)got; /* an error or the end comes next time */
	return r;
}

static void rl_recv_step(struct sl_l7_stream *s, bool first)
{
	ssize_t n = rl_drain(s->rl, s->buf, s->len);
	uint8_t *space;
	size_t room;

	if (n != -EAGAIN) {
		if (first)
			complete_later(s, (int)n);
		else
			complete(s, (int)n);
		return;
	}
	if (s->cancelled) {
		complete(s, -ECANCELED);
		return;
	}
	if (sl_tls_rl_pending_output(s->rl)) {
		/* a KeyUpdate's answer goes out before anything else */
		size_t used;
		int ret = rl_fill(s, NULL, 0, &used);

		if (ret) {
			if (first)
				complete_later(s, ret);
			else
				complete(s, ret);
			return;
		}
		s->flushing = true;
		submit(s, true, s->ct, s->ct_len);
		return;
	}
	space = sl_tls_rl_in_space(s->rl, RL_IN_MIN, &room);
	if (!space) {
		if (first)
			complete_later(s, -ENOMEM);
		else
			complete(s, -ENOMEM);
		return;
	}
	submit(s, false, space, room);
}

/* an RL send's ciphertext (or a recv's flush) went out, in part */
static void ct_sent(struct sl_l7_stream *s, int res)
{
	size_t used;
	int ret;

	if (res <= 0) {
		complete(s, res ? res : -EPIPE);
		return;
	}
	s->ct_off += (size_t)res;
	if (s->ct_off < s->ct_len) {
		if (s->cancelled) {
			complete(s, -ECANCELED);
			return;
		}
		submit(s, true, s->ct + s->ct_off, s->ct_len - s->ct_off);
		return;
	}
	if (s->flushing) {
		s->flushing = false;
		rl_recv_step(s, false);
		return;
	}
	if (s->took) {
		complete(s, (int)s->took);
		return;
	}
	/* only a KeyUpdate's answer went: now the plaintext */
	if (s->cancelled) {
		complete(s, -ECANCELED);
		return;
	}
	ret = rl_fill(s, s->buf, s->len, &used);
	if (ret || !s->ct_len) {
		complete(s, ret ? ret : -EIO);
		return;
	}
	s->took = used;
	submit(s, true, s->ct, s->ct_len);
}

/* ---- kTLS ---------------------------------------------------------------- */

/* recv failed with EIO: a non-data record is next (ktls.h) */
static int ktls_record(struct sl_l7_stream *s)
{
	uint8_t type;
	ssize_t n = sl_ktls_recv_record(s->fd, s->buf, s->len, &type);

	if (n < 0)
		return (int)n;
	if (type == SL_TLS_RT_APPDATA)
		return (int)n; /* raced: data after all */
	if (type == SL_TLS_RT_ALERT &&
	    sl_ktls_alert_is_close_notify(s->buf, (size_t)n))
		return 0;
	sl_stat_inc(SL_STAT_UNEXPECTED_KTLS_RECORDS);
	sl_log_info("%s: upstream leg: unexpected TLS record (type %u): closed",
		    __func__, type);
	return -EPROTO;
}

/* ---- operations ---------------------------------------------------------- */

static void op_done(struct sl_op *op, int res, uint32_t flags)
{
	struct sl_l7_stream *s = sl_container_of(op, struct sl_l7_stream, op);

	(void)flags;
	s->op_armed = false;
	if (s->kind == SL_L7_STREAM_RL) {
		if (s->sending || s->flushing) {
			ct_sent(s, res);
			return;
		}
		if (res < 0) {
			sl_tls_rl_in_commit(s->rl, 0);
			complete(s, res);
			return;
		}
		sl_tls_rl_in_commit(s->rl, (size_t)res);
		if (!res)
			sl_tls_rl_feed_eof(s->rl);
		rl_recv_step(s, false);
		return;
	}
	if (s->kind == SL_L7_STREAM_KTLS && !s->sending && res == -EIO &&
	    !s->cancelled)
		res = ktls_record(s);
	complete(s, res);
}

void sl_l7_stream_send(struct sl_l7_stream *s, const void *buf, size_t len,
		       struct sl_op *done)
{
	size_t used;
	int ret;

	begin(s, done, true, buf, len);
	if (s->kind != SL_L7_STREAM_RL) {
		submit(s, true, s->buf, len);
		return;
	}
	ret = rl_fill(s, buf, len, &used);
	if (ret || !s->ct_len) {
		complete_later(s, ret ? ret : -EIO);
		return;
	}
	s->took = used;
	submit(s, true, s->ct, s->ct_len);
}

void sl_l7_stream_recv(struct sl_l7_stream *s, void *buf, size_t cap,
		       struct sl_op *done)
{
	begin(s, done, false, buf, cap);
	if (s->kind != SL_L7_STREAM_RL) {
		submit(s, false, buf, cap);
		return;
	}
	rl_recv_step(s, true);
}

void sl_l7_stream_cancel(struct sl_l7_stream *s)
{
	if (!s->busy)
		return;
	s->cancelled = true;
	if (s->op_armed)
		sl_worker_cancel_op(s->w, &s->op);
}

int sl_l7_stream_send_now(struct sl_l7_stream *s, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t used;
	ssize_t n;
	int ret;

	if (s->busy || s->fd < 0)
		return -EBUSY;
	if (s->kind != SL_L7_STREAM_RL) {
		n = send(s->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0)
			return -errno;
		count(s, true, (size_t)n);
		return (size_t)n == len ? 0 : -EAGAIN;
	}
	while (len || sl_tls_rl_pending_output(s->rl)) {
		ret = rl_fill(s, p, len, &used);
		if (ret)
			return ret;
		n = send(s->fd, s->ct, s->ct_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0)
			return -errno;
		if ((size_t)n != s->ct_len)
			return -EAGAIN;
		count(s, true, used);
		p += used;
		len -= used;
	}
	return 0;
}

ssize_t sl_l7_stream_drain(struct sl_l7_stream *s, void *buf, size_t cap)
{
	ssize_t n;

	if (s->kind != SL_L7_STREAM_RL || !cap)
		return 0;
	n = rl_drain(s->rl, buf, cap);
	if (n == -EAGAIN)
		return 0;
	if (n > 0)
		count(s, false, (size_t)n);
	return n;
}

bool sl_l7_stream_has_input(const struct sl_l7_stream *s)
{
	int avail = 0;

	if (s->rl && sl_tls_rl_pending_input(s->rl))
		return true;
	return ioctl(s->fd, FIONREAD, &avail) != 0 || avail > 0;
}

void sl_l7_stream_trim(struct sl_l7_stream *s)
{
	if (s->busy)
		return;
	free(s->ct);
	s->ct = NULL;
}

void sl_l7_stream_take(struct sl_l7_stream *s, int *fd, struct sl_tls_rl **rl)
{
	*fd = s->fd;
	*rl = s->rl;
	s->fd = -1;
	s->rl = NULL;
	s->closed = true;
	release(s);
}

/* tell the upstream the stream ends here (not waited for) */
static void close_notify(struct sl_l7_stream *s)
{
	uint8_t out[256];
	size_t n;

	if (s->kind == SL_L7_STREAM_KTLS) {
		(void)sl_ktls_send_close_notify(s->fd);
		return;
	}
	if (s->kind != SL_L7_STREAM_RL || sl_tls_rl_close_notify(s->rl))
		return;
	n = sl_tls_rl_take_output(s->rl, out, sizeof(out));
	if (n)
		(void)send(s->fd, out, n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

void sl_l7_stream_close(struct sl_l7_stream *s)
{
	if (s->closed)
		return;
	s->closed = true;
	if (s->fd >= 0 && (!s->busy || (!s->sending && !s->flushing)))
		close_notify(s); /* not behind a record half sent */
	/* the socket is closed once the op is back: it ends -ECANCELED,
	 * not on a closed descriptor */
	sl_l7_stream_cancel(s);
	if (!s->busy)
		release(s);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kTLS relay: the TLS socket was handed to the kernel (sl_ktls_install), so
 * both directions are socket → pipe → socket with IORING_OP_SPLICE and the
 * bytes never reach userspace.
 *
 * Each direction owns one pipe (F_SETPIPE_SZ pipe_size) and alternates:
 * splice(src → pipe, pipe capacity), then splice(pipe → dst) until the pipe
 * is empty (short transfers are resubmitted), then again.  The two splices
 * are not linked with IOSQE_IO_LINK: the first one is nearly always short
 * (it returns what the socket had), and io_uring fails a link on a short
 * splice, so the second would be cancelled every time.
 *
 * Socket splices run in io_uring's io-wq threads.  The sockets may be
 * O_NONBLOCK (the daemon's are): a splice or send that says EAGAIN is
 * retried behind a linked POLL_ADD, and nothing here blocks the worker
 * (sl_ktls_recv_record only reads a record splice left queued).  So that an idle flow does
 * not park two io-wq threads in a blocking splice, each read is a POLL_ADD
 * (POLLIN) on the source linked to the splice (SPLICE_F_NONBLOCK): the
 * splice is issued only once there is something to read.  Splices into the
 * destination may block in io-wq while the receiver is slow (backpressure).
 * Teardown cancels everything (sl_worker_cancel_fd also interrupts a
 * splice running in io-wq).
 *
 * Non-data records: kTLS refuses to splice a control record (EINVAL; EIO
 * from read paths), leaving it queued; it is then read with
 * sl_ktls_recv_record(): close_notify is the EOF of the mesh → pod
 * direction, anything else (another alert, a KeyUpdate or other handshake
 * message) ends the relay with SL_RELAY_END_UNEXPECTED_RECORD.
 *
 * Plain mode (sl_relay_start_plain: no session, @tls NULL): the "TLS" side
 * is a plaintext TCP socket too (PERMISSIVE/DISABLE flows), so EOF either
 * way is a FIN passed on with shutdown(SHUT_WR) and there are no records.
 *
 * Every EOF read (FIN in plain mode or from the pod, close_notify from the
 * kTLS socket) starts the half-close timeout (sl_relay_half_closed,
 * relay.c): the same code for kTLS and plain mode.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/tls.h>

#include "ktls.h"
#include "log.h"
#include "relay_internal.h"
#include "tls.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

/* a TLS 1.3 record's plaintext is at most 2^14 bytes plus the type byte */
#define RECORD_MAX (16384 + 256)

enum { DIR_UP = 0, DIR_DOWN = 1 }; /* plain → tls, tls → plain */

struct splice_dir {
	struct sl_op poll_op; /* POLLIN on src, linked to in_op */
	struct sl_op in_op;  /* src → pipe */
	struct sl_op out_op; /* pipe → dst */
	struct sl_op out_poll_op; /* POLLOUT on dst after an EAGAIN */
	int pipe_r, pipe_w;
	uint32_t cap;	  /* pipe capacity */
	uint32_t in_pipe; /* bytes waiting in the pipe */
	bool done;	  /* EOF propagated to the other side */
};

struct splice_relay {
	struct sl_relay_base b; /* first */
	bool plain; /* both sides plaintext TCP (no kTLS, no records) */
	struct sl_op kick_op;
	struct splice_dir d[2];

	/* close_notify (warning, close_notify) sent with IORING_OP_SENDMSG
	 * and TLS_SET_RECORD_TYPE, so a full send buffer never blocks the
	 * worker */
	struct sl_op notify_op;
	struct sl_op notify_poll_op;
	struct msghdr notify_msg;
	struct iovec notify_iov;
	uint8_t notify_alert[2];
	_Alignas(struct cmsghdr) char notify_cbuf[64]; /* >= CMSG_SPACE(1) */

	/* plaintext the flow already read from the kTLS socket (past the
	 * preamble): sent to the pod before the mesh → pod splices start */
	struct sl_op initial_op;
	uint8_t *initial;
	uint32_t initial_off, initial_len;
};

static __thread uint8_t record_buf[RECORD_MAX];

static void relay_destroy(struct sl_relay_base *b)
{
	struct splice_relay *r = (struct splice_relay *)b;

	for (int i = 0; i < 2; i++) {
		if (r->d[i].pipe_r >= 0)
			close(r->d[i].pipe_r);
		if (r->d[i].pipe_w >= 0)
			close(r->d[i].pipe_w);
	}
	sl_tls_conn_free(b->tls);
	free(r->initial);
	free(r);
}

/*
 * io_uring files a splice under its output fd: cancelling the sockets'
 * fds reaches the pipe → socket splices only; a socket → pipe splice
 * blocked in io-wq is found by its pipe's write end.
 */
static void cancel_pipes(struct sl_relay_base *b)
{
	struct splice_relay *r = (struct splice_relay *)b;

	for (int i = 0; i < 2; i++)
		sl_worker_cancel_fd(b->w, r->d[i].pipe_w);
}

static int dir_src(struct splice_relay *r, int i)
{
	return i == DIR_UP ? r->b.plain_fd : r->b.tls_fd;
}

static int dir_dst(struct splice_relay *r, int i)
{
	return i == DIR_UP ? r->b.tls_fd : r->b.plain_fd;
}

/* reset reason when @fd's side fails */
static enum sl_relay_end side_reset(int i, bool src)
{
	bool plain = (i == DIR_UP) == src;

	return plain ? SL_RELAY_END_RESET_PLAIN : SL_RELAY_END_RESET_TLS;
}

static void post_splice(struct splice_relay *r, struct sl_op *op, int in,
			int out, uint32_t len)
{
	struct io_uring_sqe *sqe = sl_worker_sqe(r->b.w);

	io_uring_prep_splice(sqe, in, -1, out, -1, len, SPLICE_F_MOVE);
	sl_op_attach(sqe, op);
	r->b.inflight++;
}

/* wait for POLLOUT on @fd before the op that will be prepped next */
static void post_pollout_link(struct splice_relay *r, struct sl_op *op, int fd)
{
	struct io_uring_sqe *sqe = sl_worker_sqe(r->b.w);

	io_uring_prep_poll_add(sqe, fd, POLLOUT);
	sqe->flags |= IOSQE_IO_LINK;
	sl_op_attach(sqe, op);
	r->b.inflight++;
}

static void dir_read(struct splice_relay *r, int i)
{
	struct splice_dir *d = &r->d[i];
	struct io_uring_sqe *sqe;

	if (r->b.closing || d->done)
		return;
	sqe = sl_worker_sqe(r->b.w);
	io_uring_prep_poll_add(sqe, dir_src(r, i), POLLIN);
	sqe->flags |= IOSQE_IO_LINK;
	sl_op_attach(sqe, &d->poll_op);
	r->b.inflight++;
	/* if the SQ ring was flushed between the two, the link is cut and
	 * the splice may run at once: it then says -EAGAIN or blocks, both
	 * handled */
	sqe = sl_worker_sqe(r->b.w);
	io_uring_prep_splice(sqe, dir_src(r, i), -1, d->pipe_w, -1, d->cap,
			     SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	sl_op_attach(sqe, &d->in_op);
	r->b.inflight++;
}

static void poll_handle(struct splice_relay *r, int i, int res)
{
	/* readable (any mask): the linked splice runs and reports; a failed
	 * poll cancels it, so end here */
	if (res >= 0)
		return;
	sl_relay_teardown(&r->b, res == -ECANCELED ? SL_RELAY_END_INTERNAL
						   : side_reset(i, true));
}

static void pollout_handle(struct splice_relay *r, int i, int res)
{
	if (res >= 0)
		return;
	sl_relay_teardown(&r->b, res == -ECANCELED ? SL_RELAY_END_INTERNAL
						   : side_reset(i, false));
}

static void check_done(struct splice_relay *r)
{
	if (r->d[DIR_UP].done && r->d[DIR_DOWN].done)
		sl_relay_teardown(&r->b, SL_RELAY_END_DONE);
}

static void post_notify(struct splice_relay *r)
{
	struct io_uring_sqe *sqe = sl_worker_sqe(r->b.w);

	io_uring_prep_sendmsg(sqe, r->b.tls_fd, &r->notify_msg, MSG_NOSIGNAL);
	sl_op_attach(sqe, &r->notify_op);
	r->b.inflight++;
}

static void notify_done(struct sl_op *op, int res, uint32_t flags)
{
	struct splice_relay *r = sl_container_of(op, struct splice_relay,
						 notify_op);

	(void)flags;
	r->b.inflight--;
	if (r->b.closing) {
		/* nothing */
	} else if (res == -EAGAIN || res == -EINTR) {
		post_pollout_link(r, &r->notify_poll_op, r->b.tls_fd);
		post_notify(r);
	} else if (res != (int)sizeof(r->notify_alert)) {
		sl_log_debug("%s: close_notify: %s", __func__,
			     res < 0 ? strerror(-res) : "short send");
		sl_relay_teardown(&r->b, res == -ECANCELED ?
						 SL_RELAY_END_INTERNAL :
						 SL_RELAY_END_RESET_TLS);
	} else if (shutdown(r->b.tls_fd, SHUT_WR) < 0) {
		sl_relay_teardown(&r->b, SL_RELAY_END_RESET_TLS);
	} else {
		r->d[DIR_UP].done = true;
		check_done(r);
	}
	sl_relay_maybe_finish(&r->b);
}

/* plain mode: FIN from the source of direction @i, pass it on */
static void plain_eof(struct splice_relay *r, int i)
{
	sl_relay_half_closed(&r->b);
	if (shutdown(dir_dst(r, i), SHUT_WR) < 0) {
		sl_relay_teardown(&r->b, side_reset(i, false));
		return;
	}
	r->d[i].done = true;
	check_done(r);
}

/* pod half-closed: close_notify, then FIN (in notify_done) */
static void up_eof(struct splice_relay *r)
{
	struct cmsghdr *cmsg;

	sl_relay_half_closed(&r->b);
	r->notify_alert[0] = 1; /* warning */
	r->notify_alert[1] = 0; /* close_notify */
	r->notify_iov.iov_base = r->notify_alert;
	r->notify_iov.iov_len = sizeof(r->notify_alert);
	memset(&r->notify_msg, 0, sizeof(r->notify_msg));
	memset(r->notify_cbuf, 0, sizeof(r->notify_cbuf));
	r->notify_msg.msg_iov = &r->notify_iov;
	r->notify_msg.msg_iovlen = 1;
	r->notify_msg.msg_control = r->notify_cbuf;
	r->notify_msg.msg_controllen = CMSG_SPACE(sizeof(unsigned char));
	cmsg = CMSG_FIRSTHDR(&r->notify_msg);
	cmsg->cmsg_level = SOL_TLS;
	cmsg->cmsg_type = TLS_SET_RECORD_TYPE;
	cmsg->cmsg_len = CMSG_LEN(sizeof(unsigned char));
	*(unsigned char *)CMSG_DATA(cmsg) = SL_TLS_RT_ALERT;

	post_notify(r);
}

/* splice from the kTLS socket refused a record: see what it is */
static void down_record(struct splice_relay *r)
{
	uint8_t type = 0;
	ssize_t n;

	n = sl_ktls_recv_record(r->b.tls_fd, record_buf, sizeof(record_buf),
				&type);
	if (n <= 0) {
		/* an error, or TCP EOF without close_notify: truncation */
		sl_relay_teardown(&r->b, SL_RELAY_END_RESET_TLS);
		return;
	}
	if (type == SL_TLS_RT_ALERT &&
	    sl_ktls_alert_is_close_notify(record_buf, (size_t)n)) {
		sl_relay_half_closed(&r->b);
		if (shutdown(r->b.plain_fd, SHUT_WR) < 0) {
			sl_relay_teardown(&r->b, SL_RELAY_END_RESET_PLAIN);
			return;
		}
		r->d[DIR_DOWN].done = true;
		check_done(r);
		return;
	}
	if (type == SL_TLS_RT_APPDATA) {
		/* splice said the head record was not data: cannot happen */
		sl_log_warn("%s: application data where a control record was expected",
			    __func__);
		sl_relay_teardown(&r->b, SL_RELAY_END_INTERNAL);
		return;
	}
	sl_log_info("%s: unexpected TLS record (type %u%s) on a kTLS flow",
		    __func__, type,
		    type == SL_TLS_RT_HANDSHAKE ? ", e.g. KeyUpdate" : "");
	sl_relay_teardown(&r->b, SL_RELAY_END_UNEXPECTED_RECORD);
}

static void in_handle(struct splice_relay *r, int i, int res)
{
	struct splice_dir *d = &r->d[i];

	if (res > 0) {
		sl_relay_touch(&r->b);
		d->in_pipe = (uint32_t)res;
		post_splice(r, &d->out_op, d->pipe_r, dir_dst(r, i), d->in_pipe);
		return;
	}
	if (res == -EAGAIN || res == -EINTR) {
		/* readable but nothing to splice yet: on kTLS, part of a
		 * record is in (poll counts TCP bytes, splice wants the whole
		 * record).  The rest is on its way, so wait for it in a
		 * blocking splice rather than spinning on poll */
		if (i == DIR_UP || r->plain) /* TCP: spurious wake-up */
			dir_read(r, i);
		else if (!d->done) /* kTLS honours SPLICE_F_NONBLOCK only */
			post_splice(r, &d->in_op, dir_src(r, i), d->pipe_w,
				    d->cap);
		return;
	}
	if (i == DIR_DOWN && !r->plain && (res == -EINVAL || res == -EIO)) {
		down_record(r);
		return;
	}
	if (res == 0) {
		if (r->plain)
			plain_eof(r, i);
		else if (i == DIR_UP)
			up_eof(r);
		else /* FIN without close_notify */
			sl_relay_teardown(&r->b, SL_RELAY_END_RESET_TLS);
		return;
	}
	if (res == -ECANCELED) {
		sl_relay_teardown(&r->b, SL_RELAY_END_INTERNAL);
		return;
	}
	sl_log_debug("%s: splice from the %s side: %s", __func__,
		     i == DIR_UP ? "plain" : "TLS", strerror(-res));
	sl_relay_teardown(&r->b, side_reset(i, true));
}

static void out_handle(struct splice_relay *r, int i, int res)
{
	struct splice_dir *d = &r->d[i];

	if (res > 0) {
		sl_relay_touch(&r->b);
		d->in_pipe -= (uint32_t)res;
		if (i == DIR_UP)
			sl_relay_count_up(&r->b, (uint64_t)res);
		else
			sl_relay_count_down(&r->b, (uint64_t)res);
		if (d->in_pipe)
			post_splice(r, &d->out_op, d->pipe_r, dir_dst(r, i),
				    d->in_pipe);
		else
			dir_read(r, i);
		return;
	}
	if (res == -EAGAIN || res == -EINTR) {
		/* O_NONBLOCK destination with a full send buffer */
		post_pollout_link(r, &d->out_poll_op, dir_dst(r, i));
		post_splice(r, &d->out_op, d->pipe_r, dir_dst(r, i), d->in_pipe);
		return;
	}
	if (res == -ECANCELED) {
		sl_relay_teardown(&r->b, SL_RELAY_END_INTERNAL);
		return;
	}
	sl_log_debug("%s: splice to the %s side: %s", __func__,
		     i == DIR_UP ? "TLS" : "plain",
		     strerror(res ? -res : EPIPE));
	sl_relay_teardown(&r->b, side_reset(i, false));
}

#define DIR_HANDLER(name, member, idx, handle)                                 \
	static void name(struct sl_op *op, int res, uint32_t flags)            \
	{                                                                      \
		struct splice_relay *r =                                       \
			sl_container_of(op, struct splice_relay, member);      \
		(void)flags;                                                   \
		r->b.inflight--;                                               \
		if (!r->b.closing)                                             \
			handle(r, idx, res);                                   \
		sl_relay_maybe_finish(&r->b);                                  \
	}

DIR_HANDLER(up_out_poll_done, d[DIR_UP].out_poll_op, DIR_UP, pollout_handle)
DIR_HANDLER(down_out_poll_done, d[DIR_DOWN].out_poll_op, DIR_DOWN,
	    pollout_handle)
DIR_HANDLER(up_poll_done, d[DIR_UP].poll_op, DIR_UP, poll_handle)
DIR_HANDLER(down_poll_done, d[DIR_DOWN].poll_op, DIR_DOWN, poll_handle)
DIR_HANDLER(up_in_done, d[DIR_UP].in_op, DIR_UP, in_handle)
DIR_HANDLER(up_out_done, d[DIR_UP].out_op, DIR_UP, out_handle)
DIR_HANDLER(down_in_done, d[DIR_DOWN].in_op, DIR_DOWN, in_handle)
DIR_HANDLER(down_out_done, d[DIR_DOWN].out_op, DIR_DOWN, out_handle)

static void notify_poll_done(struct sl_op *op, int res, uint32_t flags)
{
	struct splice_relay *r = sl_container_of(op, struct splice_relay,
						 notify_poll_op);

	(void)flags;
	r->b.inflight--;
	if (!r->b.closing && res < 0)
		sl_relay_teardown(&r->b, res == -ECANCELED ?
						 SL_RELAY_END_INTERNAL :
						 SL_RELAY_END_RESET_TLS);
	sl_relay_maybe_finish(&r->b);
}

static void initial_send(struct splice_relay *r)
{
	struct io_uring_sqe *sqe = sl_worker_sqe(r->b.w);

	io_uring_prep_send(sqe, r->b.plain_fd, r->initial + r->initial_off,
			   r->initial_len - r->initial_off, MSG_NOSIGNAL);
	sl_op_attach(sqe, &r->initial_op);
	r->b.inflight++;
}

static void initial_done(struct sl_op *op, int res, uint32_t flags)
{
	struct splice_relay *r = sl_container_of(op, struct splice_relay,
						 initial_op);

	(void)flags;
	r->b.inflight--;
	if (r->b.closing) {
		/* nothing */
	} else if (res == -EAGAIN || res == -EINTR) {
		initial_send(r);
	} else if (res <= 0) {
		sl_relay_teardown(&r->b, res == -ECANCELED ?
						 SL_RELAY_END_INTERNAL :
						 SL_RELAY_END_RESET_PLAIN);
	} else {
		sl_relay_touch(&r->b);
		sl_relay_count_down(&r->b, (uint64_t)res);
		r->initial_off += (uint32_t)res;
		if (r->initial_off < r->initial_len) {
			initial_send(r);
		} else {
			free(r->initial);
			r->initial = NULL;
			dir_read(r, DIR_DOWN);
		}
	}
	sl_relay_maybe_finish(&r->b);
}

static void kick_done(struct sl_op *op, int res, uint32_t flags)
{
	struct splice_relay *r = sl_container_of(op, struct splice_relay,
						 kick_op);

	(void)res;
	(void)flags;
	r->b.inflight--;
	if (!r->b.closing) {
		dir_read(r, DIR_UP);
		if (r->initial)
			initial_send(r);
		else
			dir_read(r, DIR_DOWN);
	}
	sl_relay_maybe_finish(&r->b);
}

static int pipe_open(struct splice_dir *d, uint32_t size)
{
	int fds[2], got;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	d->pipe_r = fds[0];
	d->pipe_w = fds[1];
	if (size && fcntl(d->pipe_w, F_SETPIPE_SZ, (int)size) < 0)
		sl_log_debug("%s: F_SETPIPE_SZ %u: %m (using the default)",
			     __func__, size);
	got = fcntl(d->pipe_w, F_GETPIPE_SZ);
	d->cap = got > 0 ? (uint32_t)got : 65536;
	return 0;
}

int sl_relay_splice_start(struct sl_worker *w, int plain_fd, int tls_fd,
			  struct sl_tls_conn *tls, bool plain, const void *initial,
			  uint32_t initial_len, const struct sl_relay_params *p)
{
	struct io_uring_sqe *sqe;
	struct splice_relay *r;
	int ret;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (int i = 0; i < 2; i++)
		r->d[i].pipe_r = r->d[i].pipe_w = -1;
	if (initial_len) {
		r->initial = malloc(initial_len);
		if (!r->initial) {
			ret = -ENOMEM;
			goto err;
		}
		memcpy(r->initial, initial, initial_len);
		r->initial_len = initial_len;
	}
	for (int i = 0; i < 2; i++) {
		ret = pipe_open(&r->d[i], p->pipe_size);
		if (ret < 0) {
			sl_log_err("%s: pipe2: %s", __func__, strerror(-ret));
			goto err;
		}
	}
	r->kick_op.fn = kick_done;
	r->initial_op.fn = initial_done;
	r->notify_op.fn = notify_done;
	r->notify_poll_op.fn = notify_poll_done;
	r->d[DIR_UP].out_poll_op.fn = up_out_poll_done;
	r->d[DIR_DOWN].out_poll_op.fn = down_out_poll_done;
	r->d[DIR_UP].poll_op.fn = up_poll_done;
	r->d[DIR_DOWN].poll_op.fn = down_poll_done;
	r->d[DIR_UP].in_op.fn = up_in_done;
	r->d[DIR_UP].out_op.fn = up_out_done;
	r->d[DIR_DOWN].in_op.fn = down_in_done;
	r->d[DIR_DOWN].out_op.fn = down_out_done;
	/* the kernel holds the keys now and nothing here reads the conn's
	 * metadata: free it (tens of KiB of OpenSSL state) right away
	 * instead of keeping it for the life of the flow */
	sl_tls_conn_free(tls);
	sl_relay_base_init(&r->b, w, plain_fd, tls_fd, NULL, !plain, p,
			   relay_destroy);
	r->plain = plain; /* sl_relay_start_plain */
	r->b.cancel_more = cancel_pipes;
	sqe = sl_worker_sqe(w);
	io_uring_prep_nop(sqe);
	sl_op_attach(sqe, &r->kick_op);
	r->b.inflight++;
	return 0;
err:
	for (int i = 1; i >= 0; i--) {
		if (r->d[i].pipe_r >= 0)
			close(r->d[i].pipe_r);
		if (r->d[i].pipe_w >= 0)
			close(r->d[i].pipe_w);
	}
	free(r->initial);
	free(r);
	return ret;
}

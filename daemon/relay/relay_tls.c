/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Userspace TLS relay: io_uring moves the bytes, and at start sluice's own
 * record layer (record.h) takes the session over from the sl_tls_conn,
 * which is freed (OpenSSL's SSL object is most of an idle flow's memory):
 *
 *   pod → mesh: recv(plain_fd) → up_buf → sl_tls_rl_seal → tx_buf →
 *               send(tls_fd)
 *   mesh → pod: recv(tls_fd) straight into the record layer's input →
 *               sl_tls_rl_read decrypts into out_buf → send(plain_fd)
 *
 * When the record layer cannot take over (a KeyUpdate during the set-up,
 * plaintext left inside OpenSSL), the relay runs on the conn instead:
 * recv → rx_buf → sl_tls_conn_feed → sl_tls_conn_read → out_buf, and
 * sl_tls_conn_write → take_output → tx_buf (memory BIOs, two more copies).
 *
 * Memory: an idle flow holds no buffer.  Each direction first waits for
 * readability with a POLL_ADD (no buffer), then takes a buffer (the
 * per-thread pool, or the record layer's input) and recvs into it; a busy
 * recv (it filled the buffer, or read at least buf_size) recvs again
 * directly (no poll), a shorter one gives the buffer back.  A busy
 * direction moves to bulk-sized buffers (buf_size_bulk, sluiced's
 * --bulk-buffer) while the process-wide bulk budget allows
 * (relay_internal.h), so a stream costs fewer recvs, sends and wake-ups
 * per byte; its next short read takes it back to buf_size.  When the
 * budget has no room for buf_size_bulk, a quarter of it is tried, and so
 * on down to 2 * buf_size (bulk_take): many busy flows share the budget
 * in smaller bulk buffers instead of the first few taking it all.  Send buffers
 * are taken when there is something to send and given back when it is
 * sent.  So an idle flow is
 * this struct plus the record layer (about 3.4 KB with its two EVP AEAD
 * contexts; the conn it replaces is about 31 KB), and a busy one holds at
 * most four buffers (2 plaintext, 2 ciphertext with room for the record
 * overhead, each of buf_size or a bulk size) plus one partial record.
 *
 * Half-close: the pod's FIN and the peer's close_notify each start the
 * half-close timeout (sl_relay_half_closed, relay.c).
 *
 * Backpressure: a direction reads from its source only when everything it
 * read before has been handed on: pod → mesh encrypts only when the
 * previous ciphertext is sent; mesh → pod recvs only when the session has
 * no plaintext left (read says -EAGAIN).  Every record already received is
 * decrypted before the send to the pod (one send per recv), and nothing
 * waits for more data: each chunk is forwarded as soon as it is read.
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "record.h"
#include "relay_internal.h"
#include "tls.h"
#include "util.h"

static atomic_ullong rl_started;

uint64_t sl_relay_tls_rl_started(void)
{
	return atomic_load_explicit(&rl_started, memory_order_relaxed);
}

/* a record's overhead (record.h): header, content type, AEAD tag */
#define REC_OVERHEAD 22
#define REC_PLAIN_MAX 16384

/*
 * Room for the record overhead of @size bytes of plaintext, so that one
 * seal takes a whole buffer: 22 bytes per record, in KiB steps (1 KiB up
 * to 736 KiB of plaintext, 2 KiB for 1 MiB).
 */
static uint32_t tx_slack(uint32_t size)
{
	uint32_t records = (size + REC_PLAIN_MAX - 1) / REC_PLAIN_MAX;

	return (records * REC_OVERHEAD + 1023) & ~1023u;
}

struct tls_relay {
	struct sl_relay_base b; /* first */
	uint32_t bufsz;
	uint32_t bulksz; /* >= 2 * bufsz, or == bufsz: no bulk buffers */
	/* the session: our own record layer (record.h) once it took over
	 * from the sl_tls_conn (b.tls is then NULL), else the conn */
	struct sl_tls_rl *rl;

	struct sl_op kick_op; /* NOP: first pump, on the worker's loop */

	/* pod → mesh: plaintext from plain_fd */
	struct sl_op up_op;
	uint8_t *up_buf;
	uint32_t up_cap; /* up_buf's size */
	uint32_t up_len;
	bool up_bulk;	 /* busy: take bulk-sized buffers */
	bool up_busy;	 /* poll or recv in flight */
	bool up_polling; /* ... and it is the poll */
	bool up_eof;

	/* ciphertext to tls_fd */
	struct sl_op tx_op;
	uint8_t *tx_buf;
	uint32_t tx_cap;
	uint32_t tx_off, tx_len;
	bool tx_busy;
	bool tx_notify; /* close_notify queued */
	bool tx_shut;	/* ... sent, and SHUT_WR done */

	/* mesh → pod: ciphertext from tls_fd */
	struct sl_op rx_op;
	uint8_t *rx_buf; /* conn path only, of bufsz */
	uint32_t rx_asked; /* length of the recv in flight */
	uint32_t rx_bulk;  /* busy: the bulk size of its reads, counted
			      against the budget; 0: buf_size reads */
	bool rx_busy;
	bool rx_polling;
	bool rx_direct; /* record layer: recv into its input, no poll first */
	bool rx_eof; /* TCP EOF on tls_fd */

	/* plaintext to plain_fd (initial first) */
	struct sl_op out_op;
	uint8_t *out_buf;
	uint32_t out_cap;
	uint32_t out_off, out_len;
	bool out_busy;
	uint8_t *initial;
	uint32_t initial_off, initial_len;
	bool down_done; /* close_notify read, delivered, SHUT_WR done */
};

static void up_arm(struct tls_relay *r);
static void up_push(struct tls_relay *r);
static void tx_pump(struct tls_relay *r);
static void down_pump(struct tls_relay *r);

/* ---- the session: record layer or conn ------------------------------- */

static ssize_t s_write(struct tls_relay *r, const void *buf, size_t len)
{
	return r->rl ? sl_tls_rl_write(r->rl, buf, len)
		     : sl_tls_conn_write(r->b.tls, buf, len);
}

static ssize_t s_read(struct tls_relay *r, void *buf, size_t cap)
{
	return r->rl ? sl_tls_rl_read(r->rl, buf, cap)
		     : sl_tls_conn_read(r->b.tls, buf, cap);
}

static int s_feed(struct tls_relay *r, const void *buf, size_t len)
{
	return r->rl ? sl_tls_rl_feed(r->rl, buf, len)
		     : sl_tls_conn_feed(r->b.tls, buf, len);
}

static void s_feed_eof(struct tls_relay *r)
{
	if (r->rl)
		sl_tls_rl_feed_eof(r->rl);
	else
		sl_tls_conn_feed_eof(r->b.tls);
}

static size_t s_pending_output(struct tls_relay *r)
{
	return r->rl ? sl_tls_rl_pending_output(r->rl)
		     : sl_tls_conn_pending_output(r->b.tls);
}

static size_t s_take_output(struct tls_relay *r, void *buf, size_t cap)
{
	return r->rl ? sl_tls_rl_take_output(r->rl, buf, cap)
		     : sl_tls_conn_take_output(r->b.tls, buf, cap);
}

static int s_close_notify(struct tls_relay *r)
{
	return r->rl ? sl_tls_rl_close_notify(r->rl)
		     : sl_tls_conn_close_notify(r->b.tls);
}

/* ---- buffers ---------------------------------------------------------- */

/* a buffer of @cap bytes is a bulk one (counted against the budget) */
static bool is_bulk(const struct tls_relay *r, uint32_t cap)
{
	return cap >= 2 * r->bufsz;
}

/*
 * Count a bulk buffer against the budget: of @from bytes (plus the record
 * overhead when @tx), else of a quarter of it, and so on while at least
 * 2 * bufsz.  A size with a smaller one after it only takes the first
 * half of the budget (relay_internal.h).  @retval the plaintext size
 * counted, 0: none (no budget, or @from is not a bulk size)
 */
static uint32_t bulk_take(const struct tls_relay *r, uint32_t from, bool tx)
{
	for (uint32_t sz = from; is_bulk(r, sz); sz /= 4)
		if (sl_relay_bulk_take(sz + (tx ? tx_slack(sz) : 0),
				       is_bulk(r, sz / 4)))
			return sz;
	return 0;
}

/*
 * A buffer for buf_size bytes of plaintext, or for a bulk size of up to
 * @bulk when @bulk is one and the budget allows (bulk_take); with room for
 * the records of that much plaintext when @tx.  Its size in *@cap.
 * NULL: out of memory.
 */
static uint8_t *rbuf_get(struct tls_relay *r, uint32_t bulk, bool tx,
			 uint32_t *cap)
{
	uint32_t got = bulk ? bulk_take(r, bulk, tx) : 0;
	uint32_t size = got ? got : r->bufsz;
	uint8_t *p;

	if (tx)
		size += tx_slack(size);
	p = sl_relay_buf_get(size);
	if (!p) {
		if (got)
			sl_relay_bulk_give(size);
		return NULL;
	}
	*cap = size;
	return p;
}

/* give back a buffer from rbuf_get (NULL-safe) */
static void rbuf_put(struct tls_relay *r, uint8_t *p, uint32_t cap)
{
	if (!p)
		return;
	if (is_bulk(r, cap))
		sl_relay_bulk_give(cap);
	sl_relay_buf_put(p, cap);
}

/* after a recv of @res bytes into @asked: is the direction busy? */
static bool read_busy(const struct tls_relay *r, int res, uint32_t asked)
{
	return res > 0 && ((uint32_t)res == asked || (uint32_t)res >= r->bufsz);
}

/*
 * The mesh → pod direction is (no longer) busy: bulk reads or not.  A busy
 * one keeps the bulk size it got until it is not busy.
 */
static void rx_set_bulk(struct tls_relay *r, bool bulk)
{
	if (!bulk) {
		if (r->rx_bulk)
			sl_relay_bulk_give(r->rx_bulk);
		r->rx_bulk = 0;
	} else if (!r->rx_bulk) {
		r->rx_bulk = bulk_take(r, r->bulksz, false);
	}
}

static void relay_destroy(struct sl_relay_base *b)
{
	struct tls_relay *r = (struct tls_relay *)b;

	sl_tls_conn_free(b->tls); /* wipes keys */
	sl_tls_rl_free(r->rl);
	rbuf_put(r, r->up_buf, r->up_cap);
	rbuf_put(r, r->tx_buf, r->tx_cap);
	sl_relay_buf_put(r->rx_buf, r->bufsz);
	rbuf_put(r, r->out_buf, r->out_cap);
	rx_set_bulk(r, false);
	free(r->initial);
	free(r);
}

/* a failed op: -ECANCELED from outside is a shutdown, the rest a reset */
static void fail(struct tls_relay *r, int res, enum sl_relay_end reset)
{
	if (res == -ECANCELED)
		sl_relay_teardown(&r->b, SL_RELAY_END_INTERNAL);
	else
		sl_relay_teardown(&r->b, reset);
}

static void check_done(struct tls_relay *r)
{
	if (r->tx_shut && r->down_done)
		sl_relay_teardown(&r->b, SL_RELAY_END_DONE);
}

static void post_wait_or_recv(struct tls_relay *r, struct sl_op *op, int fd,
			      uint8_t *buf, uint32_t len, bool *polling)
{
	struct io_uring_sqe *sqe = sl_worker_sqe(r->b.w);

	if (buf) {
		io_uring_prep_recv(sqe, fd, buf, len, 0);
		*polling = false;
	} else {
		io_uring_prep_poll_add(sqe, fd, POLLIN);
		*polling = true;
	}
	sl_op_attach(sqe, op);
	r->b.inflight++;
}

static void post_send(struct tls_relay *r, struct sl_op *op, int fd,
		      const uint8_t *buf, uint32_t len)
{
	struct io_uring_sqe *sqe = sl_worker_sqe(r->b.w);

	io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL);
	sl_op_attach(sqe, op);
	r->b.inflight++;
}

/* ---- pod → mesh ------------------------------------------------------- */

static void up_arm(struct tls_relay *r)
{
	if (r->b.closing || r->up_eof || r->up_busy || r->up_len)
		return;
	post_wait_or_recv(r, &r->up_op, r->b.plain_fd, r->up_buf, r->up_cap,
			  &r->up_polling);
	r->up_busy = true;
}

static void up_handle(struct tls_relay *r, int res)
{
	if (r->up_polling) {
		if (res < 0) {
			fail(r, res, SL_RELAY_END_RESET_PLAIN);
			return;
		}
		r->up_buf = rbuf_get(r, r->up_bulk ? r->bulksz : 0, false,
				     &r->up_cap);
		if (!r->up_buf) {
			sl_relay_teardown(&r->b, SL_RELAY_END_INTERNAL);
			return;
		}
		up_arm(r);
		return;
	}
	if (res == -EAGAIN || res == -EINTR) {
		up_arm(r);
		return;
	}
	if (res < 0) {
		fail(r, res, SL_RELAY_END_RESET_PLAIN);
		return;
	}
	if (res == 0) {
		/* pod half-closed: close_notify, then SHUT_WR once sent */
		r->up_eof = true;
		sl_relay_half_closed(&r->b);
		rbuf_put(r, r->up_buf, r->up_cap);
		r->up_buf = NULL;
		if (s_close_notify(r) < 0) {
			sl_relay_teardown(&r->b, SL_RELAY_END_RESET_TLS);
			return;
		}
		r->tx_notify = true;
		tx_pump(r);
		return;
	}
	sl_relay_touch(&r->b);
	r->up_len = (uint32_t)res;
	up_push(r);
}

static void up_done(struct sl_op *op, int res, uint32_t flags)
{
	struct tls_relay *r = sl_container_of(op, struct tls_relay, up_op);

	(void)flags;
	r->b.inflight--;
	r->up_busy = false;
	if (!r->b.closing)
		up_handle(r, res);
	sl_relay_maybe_finish(&r->b);
}

/* hand the received plaintext to the conn once the last records are out */
static void up_push(struct tls_relay *r)
{
	bool busy;
	ssize_t n;

	if (r->b.closing || !r->up_len || r->tx_busy ||
	    s_pending_output(r))
		return;
	busy = read_busy(r, (int)r->up_len, r->up_cap);
	if (r->rl) {
		/* the records go straight into the send buffer */
		size_t used = 0;
		ssize_t ct;

		/* (a send buffer is given back once sent: there is rarely
		 * one here) a bulk read wants a bulk send buffer */
		if (r->tx_buf && is_bulk(r, r->up_cap) &&
		    !is_bulk(r, r->tx_cap)) {
			rbuf_put(r, r->tx_buf, r->tx_cap);
			r->tx_buf = NULL;
		}
		if (!r->tx_buf)
			r->tx_buf = rbuf_get(r, is_bulk(r, r->up_cap) ?
						     r->up_cap : 0,
					     true, &r->tx_cap);
		if (!r->tx_buf) {
			sl_relay_teardown(&r->b, SL_RELAY_END_INTERNAL);
			return;
		}
		ct = sl_tls_rl_seal(r->rl, r->up_buf, r->up_len, r->tx_buf,
				    r->tx_cap, &used);
		if (ct <= 0) {
			sl_log_debug("%s: sl_tls_rl_seal: %s", __func__,
				     strerror(ct ? (int)-ct : EIO));
			sl_relay_teardown(&r->b, SL_RELAY_END_RESET_TLS);
			return;
		}
		r->tx_off = 0;
		r->tx_len = (uint32_t)ct;
		n = (ssize_t)used;
	} else {
		n = s_write(r, r->up_buf, r->up_len);
	}
	if (n <= 0) {
		sl_log_debug("%s: sl_tls_conn_write: %s", __func__,
			     strerror(n ? (int)-n : EIO));
		sl_relay_teardown(&r->b, SL_RELAY_END_RESET_TLS);
		return;
	}
	sl_relay_count_up(&r->b, (uint64_t)n);
	if ((uint32_t)n < r->up_len) {
		memmove(r->up_buf, r->up_buf + n, r->up_len - (uint32_t)n);
		r->up_len -= (uint32_t)n;
	} else {
		r->up_len = 0;
		r->up_bulk = busy;
		if (!busy || (!is_bulk(r, r->up_cap) && r->bulksz > r->bufsz)) {
			/* a short read: probably idle now, keep no buffer;
			 * busy on a buf_size buffer: recv into a bulk one */
			rbuf_put(r, r->up_buf, r->up_cap);
			r->up_buf = NULL;
			if (busy)
				r->up_buf = rbuf_get(r, r->bulksz, false,
						     &r->up_cap);
		}
	}
	tx_pump(r);
	up_arm(r);
}

/* ---- ciphertext to the mesh ------------------------------------------- */

static void tx_pump(struct tls_relay *r)
{
	if (r->b.closing || r->tx_busy)
		return;
	if (r->tx_off == r->tx_len) {
		r->tx_off = r->tx_len = 0;
		if (s_pending_output(r)) {
			if (!r->tx_buf)
				r->tx_buf = rbuf_get(r, 0, true, &r->tx_cap);
			if (!r->tx_buf) {
				sl_relay_teardown(&r->b, SL_RELAY_END_INTERNAL);
				return;
			}
			r->tx_len = (uint32_t)s_take_output(
				r, r->tx_buf, r->tx_cap);
			if (r->tx_shut)
				r->tx_len = 0; /* after SHUT_WR: drop it */
		}
	}
	if (r->tx_off < r->tx_len) {
		post_send(r, &r->tx_op, r->b.tls_fd, r->tx_buf + r->tx_off,
			  r->tx_len - r->tx_off);
		r->tx_busy = true;
		return;
	}
	rbuf_put(r, r->tx_buf, r->tx_cap);
	r->tx_buf = NULL;
	if (r->tx_notify && !r->tx_shut) {
		if (s_pending_output(r)) {
			tx_pump(r); /* more queued behind what we took */
			return;
		}
		r->tx_shut = true;
		if (shutdown(r->b.tls_fd, SHUT_WR) < 0) {
			sl_relay_teardown(&r->b, SL_RELAY_END_RESET_TLS);
			return;
		}
		check_done(r);
		return;
	}
	up_push(r);
}

static void tx_done(struct sl_op *op, int res, uint32_t flags)
{
	struct tls_relay *r = sl_container_of(op, struct tls_relay, tx_op);

	(void)flags;
	r->b.inflight--;
	r->tx_busy = false;
	if (!r->b.closing) {
		if (res == -EAGAIN || res == -EINTR) {
			tx_pump(r);
		} else if (res <= 0) {
			fail(r, res ? res : -EPIPE, SL_RELAY_END_RESET_TLS);
		} else {
			sl_relay_touch(&r->b);
			r->tx_off += (uint32_t)res;
			tx_pump(r);
		}
	}
	sl_relay_maybe_finish(&r->b);
}

/* ---- mesh → pod -------------------------------------------------------- */

static void rx_arm(struct tls_relay *r)
{
	uint8_t *into = r->rx_buf;
	uint32_t len = r->bufsz;

	if (r->b.closing || r->rx_busy || r->rx_eof || r->down_done)
		return;
	if (r->rl && r->rx_direct) {
		/* into the record layer's input: no copy to feed it.  Half
		 * the read size as the minimum room keeps the input at the
		 * read size with a partial record in front (not doubled) */
		uint32_t want = r->rx_bulk ? r->rx_bulk : r->bufsz;
		size_t room;

		into = sl_tls_rl_in_space(r->rl, want / 2 + 1, &room);
		if (!into) {
			sl_relay_teardown(&r->b, SL_RELAY_END_INTERNAL);
			return;
		}
		len = (uint32_t)SL_MIN(room, (size_t)want);
	}
	r->rx_asked = len;
	post_wait_or_recv(r, &r->rx_op, r->b.tls_fd, into, len,
			  &r->rx_polling);
	r->rx_busy = true;
}

static void rx_handle(struct tls_relay *r, int res)
{
	if (r->rx_polling) {
		if (res < 0) {
			fail(r, res, SL_RELAY_END_RESET_TLS);
			return;
		}
		if (r->rl) {
			r->rx_direct = true;
		} else {
			r->rx_buf = sl_relay_buf_get(r->bufsz);
			if (!r->rx_buf) {
				sl_relay_teardown(&r->b, SL_RELAY_END_INTERNAL);
				return;
			}
		}
		rx_arm(r);
		return;
	}
	if (r->rl) /* what the recv wrote into the input, if anything */
		sl_tls_rl_in_commit(r->rl, res > 0 ? (size_t)res : 0);
	if (res == -EAGAIN || res == -EINTR) {
		rx_arm(r);
		return;
	}
	if (res < 0) {
		fail(r, res, SL_RELAY_END_RESET_TLS);
		return;
	}
	if (res == 0) {
		/* reads now fail with -EPROTO unless close_notify was fed */
		r->rx_eof = true;
		s_feed_eof(r);
	} else {
		sl_relay_touch(&r->b);
		if (!r->rl && s_feed(r, r->rx_buf, (size_t)res) < 0) {
			sl_relay_teardown(&r->b, SL_RELAY_END_INTERNAL);
			return;
		}
	}
	if (!read_busy(r, res, r->rx_asked)) {
		/* a short read: probably idle now, poll first next time */
		sl_relay_buf_put(r->rx_buf, r->bufsz);
		r->rx_buf = NULL;
		r->rx_direct = false;
		rx_set_bulk(r, false);
	} else if (r->rl) {
		rx_set_bulk(r, true);
	}
	down_pump(r);
}

static void rx_done(struct sl_op *op, int res, uint32_t flags)
{
	struct tls_relay *r = sl_container_of(op, struct tls_relay, rx_op);

	(void)flags;
	r->b.inflight--;
	r->rx_busy = false;
	if (!r->b.closing)
		rx_handle(r, res);
	sl_relay_maybe_finish(&r->b);
}

static void down_pump(struct tls_relay *r)
{
	ssize_t n;

	if (r->b.closing || r->out_busy || r->down_done)
		return;
	if (r->initial_off < r->initial_len) {
		post_send(r, &r->out_op, r->b.plain_fd,
			  r->initial + r->initial_off,
			  r->initial_len - r->initial_off);
		r->out_busy = true;
		return;
	}
	if (r->out_off < r->out_len) {
		post_send(r, &r->out_op, r->b.plain_fd, r->out_buf + r->out_off,
			  r->out_len - r->out_off);
		r->out_busy = true;
		return;
	}
	r->out_off = r->out_len = 0;
	if (r->out_buf && r->rx_bulk && !is_bulk(r, r->out_cap)) {
		rbuf_put(r, r->out_buf, r->out_cap); /* busy now: bulk */
		r->out_buf = NULL;
	}
	if (!r->out_buf)
		r->out_buf = rbuf_get(r, r->rx_bulk, false, &r->out_cap);
	if (!r->out_buf) {
		sl_relay_teardown(&r->b, SL_RELAY_END_INTERNAL);
		return;
	}
	n = s_read(r, r->out_buf, r->out_cap);
	/* one read gives one record (16 KiB at most): take every record
	 * already here, so that one send carries a whole recv's worth.  Only
	 * what is buffered: nothing waits for more.  A close_notify or an
	 * error after some data shows again on the next read. */
	while (n > 0 && (uint32_t)n < r->out_cap) {
		ssize_t m = s_read(r, r->out_buf + n,
					     r->out_cap - (uint32_t)n);

		if (m <= 0)
			break;
		n += m;
	}
	/* reading may queue records of our own (KeyUpdate answer) */
	tx_pump(r);
	if (r->b.closing)
		return;
	if (n > 0) {
		r->out_len = (uint32_t)n;
		post_send(r, &r->out_op, r->b.plain_fd, r->out_buf,
			  r->out_len);
		r->out_busy = true;
		return;
	}
	rbuf_put(r, r->out_buf, r->out_cap);
	r->out_buf = NULL;
	if (n == 0) {
		/* close_notify: the mesh side half-closed */
		r->down_done = true;
		sl_relay_half_closed(&r->b);
		rx_set_bulk(r, false); /* no more reads this way */
		if (shutdown(r->b.plain_fd, SHUT_WR) < 0) {
			sl_relay_teardown(&r->b, SL_RELAY_END_RESET_PLAIN);
			return;
		}
		check_done(r);
		return;
	}
	if (n == -EAGAIN && !r->rx_eof) {
		rx_arm(r);
		return;
	}
	/* bad record, alert, or TCP EOF without close_notify (truncation) */
	sl_log_debug("%s: TLS read failed: %s", __func__,
		     r->rx_eof ? "truncated" : "bad record or alert");
	sl_relay_teardown(&r->b, SL_RELAY_END_RESET_TLS);
}

static void out_done(struct sl_op *op, int res, uint32_t flags)
{
	struct tls_relay *r = sl_container_of(op, struct tls_relay, out_op);

	(void)flags;
	r->b.inflight--;
	r->out_busy = false;
	if (!r->b.closing) {
		if (res == -EAGAIN || res == -EINTR) {
			down_pump(r);
		} else if (res <= 0) {
			fail(r, res ? res : -EPIPE, SL_RELAY_END_RESET_PLAIN);
		} else {
			sl_relay_touch(&r->b);
			sl_relay_count_down(&r->b, (uint64_t)res);
			if (r->initial_off < r->initial_len) {
				r->initial_off += (uint32_t)res;
				if (r->initial_off == r->initial_len) {
					free(r->initial);
					r->initial = NULL;
					r->initial_off = r->initial_len = 0;
				}
			} else {
				r->out_off += (uint32_t)res;
			}
			down_pump(r);
		}
	}
	sl_relay_maybe_finish(&r->b);
}

/* ---- start ------------------------------------------------------------- */

static void kick_done(struct sl_op *op, int res, uint32_t flags)
{
	struct tls_relay *r = sl_container_of(op, struct tls_relay, kick_op);

	(void)res;
	(void)flags;
	r->b.inflight--;
	if (!r->b.closing) {
		tx_pump(r);	/* anything the conn queued already */
		down_pump(r);	/* initial, then what the conn holds */
		up_arm(r);
	}
	sl_relay_maybe_finish(&r->b);
}

int sl_relay_tls_start(struct sl_worker *w, int plain_fd, int tls_fd,
		       struct sl_tls_conn *tls, const void *initial,
		       uint32_t initial_len, const struct sl_relay_params *p)
{
	struct io_uring_sqe *sqe;
	struct tls_relay *r;
	uint32_t early = 0;
	ssize_t n;

	/* the pod's first bytes (the preamble's early data) first, before
	 * the takeover below: the far side waits for the pod's answer, and
	 * the takeover's key schedule costs tens of microseconds on a cold
	 * CPU.  A fresh socket takes them whole; what it does not take goes
	 * by the relay as before.  A failure shows again on the relay. */
	if (initial_len) {
		n = send(plain_fd, initial, initial_len,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			early = (uint32_t)n;
			initial = (const uint8_t *)initial + early;
			initial_len -= early;
		}
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->bufsz = p->buf_size ? p->buf_size : 64 * 1024;
	if (r->bufsz < 4096)
		r->bufsz = 4096;
	if (r->bufsz > (1u << 24))
		r->bufsz = 1u << 24;
	r->bulksz = p->buf_size_bulk;
	if (r->bulksz > (1u << 24))
		r->bulksz = 1u << 24;
	if (r->bulksz < 2 * r->bufsz)
		r->bulksz = r->bufsz; /* no bulk buffers */
	if (initial_len) {
		r->initial = malloc(initial_len);
		if (!r->initial) {
			free(r);
			return -ENOMEM;
		}
		memcpy(r->initial, initial, initial_len);
		r->initial_len = initial_len;
	}
	/* our own record layer takes over when it can: the SSL object
	 * (about 25 KiB) goes; else keep the conn, minus the handshake-sized
	 * BIO buffers and our certificate (a failure only costs memory) */
	if (p->rl) {
		r->rl = p->rl; /* taken over already (the pool) */
		atomic_fetch_add_explicit(&rl_started, 1, memory_order_relaxed);
	} else if (sl_tls_rl_new(tls, &r->rl) == 0) {
		sl_tls_conn_free(tls);
		tls = NULL;
		atomic_fetch_add_explicit(&rl_started, 1, memory_order_relaxed);
	} else if (sl_tls_conn_trim(tls) < 0) {
		sl_log_debug("%s: sl_tls_conn_trim failed", __func__);
	}
	r->kick_op.fn = kick_done;
	r->up_op.fn = up_done;
	r->tx_op.fn = tx_done;
	r->rx_op.fn = rx_done;
	r->out_op.fn = out_done;
	sl_relay_base_init(&r->b, w, plain_fd, tls_fd, tls, false, p,
			   relay_destroy);
	if (early) {
		sl_relay_touch(&r->b);
		sl_relay_count_down(&r->b, early);
	}
	/* start from the loop, so that done() never runs inside this call */
	sqe = sl_worker_sqe(w);
	io_uring_prep_nop(sqe);
	sl_op_attach(sqe, &r->kick_op);
	r->b.inflight++;
	return 0;
}

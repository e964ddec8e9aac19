/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The wait for an inbound mTLS peer's first TLS record (issue 24).
 *
 * A connection accepted on the inbound port is admitted as a pending
 * handshake (daemon.h: the pending cap, and its source's cap) and then
 * costs only this small struct and its socket: no flow, no SSL object, no
 * buffer until its first TLS record (the ClientHello) is complete in the
 * socket.  SO_RCVLOWAT makes the poll wait for the 5-byte record header,
 * then for the whole record, so a peer that trickles bytes does not wake
 * us per byte.  A peer that has not sent it within --hello-timeout (1 s),
 * or that sends something other than a TLS handshake record, is reset.
 * Same-node handoffs (loopback, this node's own outbound side) skip the
 * wait and the pending caps: they count against the inbound budget at
 * once, and sl_inbound_start refuses a loopback connection that has no
 * handoff entry on the spot.
 *
 * Every close a peer can see is a reset (SO_LINGER 0): a refused or cut
 * connection must never look like a complete, empty stream.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "stats.h"
#include "tls.h"
#include "util.h"
#include "admission.h"
#include "entry.h"
#include "sock.h"

#define TLS_HDR_LEN 5
#define TLS_CT_HANDSHAKE 22
/* a record's ciphertext is at most 2^14 + 256 bytes; a plaintext one (the
 * ClientHello) at most 2^14 */
#define TLS_MAX_RECORD (16384 + 256)

struct sl_hello {
	struct sl_wctx *wc;
	int fd;
	struct sl_admission adm;
	uint64_t deadline_ns;
	struct sl_op poll_op;
	struct __kernel_timespec ts;
	struct sl_ip peer; /* for logs */
	uint16_t peer_port;
	bool cut;     /* the worker is stopping */
	bool evicted; /* reset to make room for a newer one */
	struct sl_hello *prev, *next; /* wc->hellos, oldest first */
};

static void unlink_hello(struct sl_hello *h)
{
	struct sl_wctx *wc = h->wc;

	if (h->prev)
		h->prev->next = h->next;
	else if (wc->hellos == h)
		wc->hellos = h->next;
	if (h->next)
		h->next->prev = h->prev;
	else if (wc->hellos_last == h)
		wc->hellos_last = h->prev;
	h->prev = h->next = NULL;
}

static void hello_end(struct sl_hello *h, bool reset)
{
	if (h->fd >= 0) {
		if (reset)
			sl_socket_reset(h->fd);
		sl_admission_release(h->wc->d, &h->adm);
	}
	unlink_hello(h);
	sl_worker_unref(h->wc->w);
	free(h);
}

static void hello_arm(struct sl_hello *h);

static void shed_pending_evicted(void)
{
	sl_stat_inc(SL_STAT_SHED);
	sl_stat_inc(SL_STAT_SHED_PENDING);
}

static void fmt_peer(const struct sl_hello *h, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	sl_ip_format(&h->peer, a, sizeof(a));
	snprintf(buf, len, h->peer.family == AF_INET6 ? "[%s]:%u" : "%s:%u", a,
		 h->peer_port);
}

/* a peer that closes or talks nonsense before its first record: counted
 * (a failed handshake, as before the wait existed), logged at debug only:
 * anyone can make these by the thousand */
static void hello_fail(struct sl_hello *h, const char *why)
{
	char peer[INET6_ADDRSTRLEN + 8];

	sl_stats_hs_fail(SL_TLS_FAIL_PROTOCOL);
	if (sl_log_get_level() >= SL_LOG_DEBUG) {
		fmt_peer(h, peer, sizeof(peer));
		sl_log_debug("%s: inbound %s: %s: reset", __func__, peer, why);
	}
	hello_end(h, true);
}

/*
 * What is in the socket: -EAGAIN (wait for @need bytes), 0 (the first
 * record is complete), or -EPROTO (not a TLS handshake record).
 */
static int hello_check(int fd, uint32_t *need)
{
	uint8_t hdr[TLS_HDR_LEN];
	int avail = 0;
	ssize_t n;
	uint32_t len;

	if (ioctl(fd, FIONREAD, &avail) < 0)
		return -errno;
	*need = TLS_HDR_LEN;
	if (avail < TLS_HDR_LEN)
		return -EAGAIN;
	n = recv(fd, hdr, sizeof(hdr), MSG_PEEK | MSG_DONTWAIT);
	if (n < 0)
		return -errno;
	if (n < TLS_HDR_LEN)
		return -EAGAIN;
	len = (uint32_t)hdr[3] << 8 | hdr[4];
	if (hdr[0] != TLS_CT_HANDSHAKE || hdr[1] != 3 || !len ||
	    len > TLS_MAX_RECORD)
		return -EPROTO;
	*need = TLS_HDR_LEN + len;
	return (uint32_t)avail >= *need ? 0 : -EAGAIN;
}

static void set_lowat(int fd, uint32_t n)
{
	int v = (int)n;

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v));
}

static void hello_polled(struct sl_op *op, int res, uint32_t flags)
{
	struct sl_hello *h = sl_container_of(op, struct sl_hello, poll_op);
	struct sl_wctx *wc = h->wc;
	struct sl_admission adm;
	uint32_t need;
	int fd, ret;

	(void)flags;
	if (h->cut || h->evicted) {
		hello_end(h, !h->evicted); /* evict_oldest reset it already */
		return;
	}
	if (res == -ECANCELED) {
		char peer[INET6_ADDRSTRLEN + 8];

		sl_stat_inc(SL_STAT_HELLO_TIMEOUTS);
		sl_stats_hs_fail(SL_TLS_FAIL_TIMEOUT);
		fmt_peer(h, peer, sizeof(peer));
		sl_log_debug("%s: inbound %s: no TLS record within %llu ms: reset",
			     __func__, peer,
			     (unsigned long long)(h->wc->d->o.hello_timeout_ns /
						  1000000ULL));
		hello_end(h, true);
		return;
	}
	if (res < 0) {
		hello_fail(h, strerror(-res));
		return;
	}
	ret = hello_check(h->fd, &need);
	if (ret == -EAGAIN && (res & (POLLHUP | POLLRDHUP | POLLERR))) {
		hello_fail(h, "connection closed before a TLS record");
		return;
	}
	if (ret == -EAGAIN) {
		set_lowat(h->fd, need);
		hello_arm(h);
		return;
	}
	if (ret) {
		hello_fail(h, ret == -EPROTO ? "not a TLS handshake record" :
					       strerror(-ret));
		return;
	}
	/* the ClientHello is here: the flow reads as usual from now on */
	set_lowat(h->fd, 1);
	fd = h->fd;
	adm = h->adm;
	h->fd = -1; /* the flow owns both now */
	hello_end(h, false);
	sl_inbound_start(wc, fd, &adm);
}

static void hello_arm(struct sl_hello *h)
{
	struct sl_worker *w = h->wc->w;
	struct io_uring_sqe *sqe = sl_worker_sqe(w);
	uint64_t now = sl_now_ns();

	h->poll_op.fn = hello_polled;
	io_uring_prep_poll_add(sqe, h->fd, POLLIN | POLLRDHUP);
	sl_op_attach(sqe, &h->poll_op);
	sqe->flags |= IOSQE_IO_LINK;
	sl_ns_to_ts(h->deadline_ns > now ? h->deadline_ns - now : 1, &h->ts);
	sqe = sl_worker_sqe(w);
	io_uring_prep_link_timeout(sqe, &h->ts, 0);
	io_uring_sqe_set_data(sqe, NULL);
}

/*
 * The pending cap is reached: reset one of this worker's connections that
 * have sent nothing at all, and give its places back at once.  Of the
 * oldest few, the one whose source holds the most pending connections
 * goes (the oldest of those): a flood of silent connections then makes
 * room for a peer that means it (it sends its ClientHello right after the
 * connect, from a source with few connections pending) instead of that
 * peer being refused or reset.  Its pending place goes straight to the
 * newcomer (sl_admission_hand_over).  The reset is counted as shed (pending);
 * the struct goes when its poll completes (cancelled).
 */
#define EVICT_SCAN 16

static bool silent(const struct sl_hello *h)
{
	int avail = 0;

	/* its poll may have completed, unseen yet, in this very batch */
	return ioctl(h->fd, FIONREAD, &avail) == 0 && avail == 0;
}

static bool evict_oldest(void *arg)
{
	struct sl_wctx *wc = arg;
	struct sl_srclimit *sl = wc->d->srclimit;
	struct sl_hello *h, *victim = NULL;
	uint32_t most = 0, n;
	int seen = 0;

	for (h = wc->hellos; h && seen < EVICT_SCAN; h = h->next) {
		if (h->cut || h->evicted || !silent(h))
			continue;
		seen++;
		n = sl ? sl_srclimit_held(sl, &h->adm.src) : 1;
		if (!victim || n > most) {
			victim = h;
			most = n;
		}
	}
	h = victim;
	if (!h)
		return false;
	h->evicted = true;
	shed_pending_evicted();
	if (sl_log_get_level() >= SL_LOG_DEBUG) {
		char peer[INET6_ADDRSTRLEN + 8];

		fmt_peer(h, peer, sizeof(peer));
		sl_log_debug("%s: inbound %s: silent, its source holds %u pending: reset",
			     __func__, peer, most);
	}
	sl_socket_reset(h->fd);
	sl_admission_hand_over(wc->d, &h->adm);
	h->fd = -1;
	sl_worker_cancel_op(wc->w, &h->poll_op);
	unlink_hello(h);
	return true;
}

void sl_hello_start(struct sl_wctx *wc, int fd)
{
	struct sl_daemon *d = wc->d;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct sl_admission adm = { 0 };
	struct sl_hello *h;
	struct sl_ip ip;
	uint16_t port;

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0 ||
	    sl_sockaddr_to_ip(&ss, &ip, &port)) {
		sl_stat_inc(SL_STAT_ACCEPT_ERRORS);
		sl_socket_reset(fd);
		return;
	}
	if (sl_ip_is_loopback(&ip)) {
		/* this node's own outbound side (same-node handoff) */
		if (!sl_budget_take(d, SL_BUDGET_INBOUND, true)) {
			sl_socket_reset(fd);
			return;
		}
		adm.budget = SL_BUDGET_INBOUND;
		adm.accept_ns = sl_now_ns();
		sl_inbound_start(wc, fd, &adm);
		return;
	}
	if (sl_admission_pending(d, &ip, evict_oldest, wc, &adm)) {
		char a[INET6_ADDRSTRLEN];

		sl_log_debug("%s: inbound %s: over the pending caps: reset",
			     __func__, sl_ip_format(&ip, a, sizeof(a)));
		sl_socket_reset(fd); /* counted */
		return;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		sl_admission_release(d, &adm);
		sl_socket_reset(fd);
		return;
	}
	h->wc = wc;
	h->fd = fd;
	h->adm = adm;
	h->peer = ip;
	h->peer_port = port;
	h->deadline_ns = adm.accept_ns + d->o.hello_timeout_ns;
	h->prev = wc->hellos_last;
	if (h->prev)
		h->prev->next = h;
	else
		wc->hellos = h;
	wc->hellos_last = h;
	sl_worker_ref(wc->w);
	set_lowat(fd, TLS_HDR_LEN);
	hello_arm(h);
}

void sl_hello_cut(struct sl_wctx *wc)
{
	for (struct sl_hello *h = wc->hellos; h; h = h->next) {
		if (h->cut)
			continue;
		h->cut = true;
		sl_worker_cancel_op(wc->w, &h->poll_op);
	}
}

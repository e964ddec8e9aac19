/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The upstream leg's stream (daemon/l7/stream.c) on a real worker: the
 * record layer seals what the engine sends and opens what it receives,
 * checked against a second record layer (the peer) on the other end of a
 * socketpair: a 256 KiB request in several partial sends, a 300 KiB
 * response in many records ending with close_notify (EOF), a truncated
 * response (-EPROTO), a close with a receive under way (cancelled, the
 * stream idle before its user hears, the peer gets close_notify), and the
 * plaintext kind.  kTLS is covered by the VM test (http-ktls-vm).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop.h"
#include "record.h"
#include "stream.h"

#define UP_LEN (256u * 1024)
#define DOWN_LEN (300u * 1024)

static uint8_t s1[32], s2[32];

enum scenario { SC_ROUND_TRIP, SC_TRUNCATED, SC_CLOSE_BUSY, SC_PLAIN };

struct run {
	enum scenario sc;
	struct sl_worker *w;
	struct sl_l7_stream st;
	struct sl_op op;
	int fd;
	uint8_t *up, *down;
	size_t up_done, down_got;
	int sends, end_res, idle_calls, user_res;
	bool idle_before_user;
	volatile int done;
};

static struct run R;

static uint8_t pat(size_t i, unsigned int k)
{
	return (uint8_t)(i * 31 + i / 251 + k);
}

static struct sl_tls_rl *rl_pair(bool stream_side)
{
	struct sl_tls_rl *rl = NULL;

	/* the stream reads with s1 and writes with s2; the peer the other
	 * way round */
	assert_int_equal(sl_tls_rl_new_secrets(0x1301, stream_side ? s1 : s2,
					       stream_side ? s2 : s1, 32, &rl),
			 0);
	return rl;
}

static void finish(struct run *r, int res)
{
	r->end_res = res;
	r->done = 1;
	sl_worker_unref(r->w);
}

static void recvd(struct sl_op *op, int res, uint32_t flags)
{
	struct run *r = sl_container_of(op, struct run, op);

	(void)flags;
	if (res <= 0) {
		finish(r, res);
		return;
	}
	r->down_got += (size_t)res;
	if (r->down_got > DOWN_LEN) {
		finish(r, -E2BIG);
		return;
	}
	sl_l7_stream_recv(&r->st, r->down + r->down_got, DOWN_LEN + 1 - r->down_got,
			  &r->op);
}

static void sent(struct sl_op *op, int res, uint32_t flags)
{
	struct run *r = sl_container_of(op, struct run, op);

	(void)flags;
	if (res <= 0) {
		finish(r, res ? res : -EPIPE);
		return;
	}
	r->sends++;
	r->up_done += (size_t)res;
	if (r->up_done < UP_LEN) {
		sl_l7_stream_send(&r->st, r->up + r->up_done,
				  UP_LEN - r->up_done, &r->op);
		return;
	}
	r->op.fn = recvd;
	sl_l7_stream_recv(&r->st, r->down, DOWN_LEN + 1, &r->op);
}

static void on_idle(struct sl_l7_stream *st)
{
	struct run *r = sl_container_of(st, struct run, st);

	r->idle_calls++;
	r->idle_before_user = r->user_res == 1; /* the user not called yet */
}

static void busy_done(struct sl_op *op, int res, uint32_t flags)
{
	struct run *r = sl_container_of(op, struct run, op);

	(void)flags;
	r->user_res = res;
	finish(r, res);
}

static int start(struct sl_worker *w, void *arg)
{
	struct run *r = &R;

	(void)arg;
	r->w = w;
	sl_worker_ref(w);
	sl_l7_stream_init(&r->st, w, r->fd,
			  r->sc == SC_PLAIN ? SL_L7_STREAM_PLAIN : SL_L7_STREAM_RL,
			  r->sc == SC_PLAIN ? NULL : rl_pair(true));
	r->st.on_idle = on_idle;
	if (r->sc == SC_CLOSE_BUSY) {
		r->user_res = 1;
		r->op.fn = busy_done;
		sl_l7_stream_recv(&r->st, r->down, DOWN_LEN, &r->op);
		sl_l7_stream_close(&r->st);
		return 0;
	}
	if (r->sc == SC_TRUNCATED) {
		r->op.fn = recvd;
		sl_l7_stream_recv(&r->st, r->down, DOWN_LEN + 1, &r->op);
		return 0;
	}
	r->op.fn = sent;
	sl_l7_stream_send(&r->st, r->up, UP_LEN, &r->op);
	return 0;
}

/* the peer: read everything the stream sends (through @rl, or plain) */
static void peer_read(int fd, struct sl_tls_rl *rl, uint8_t *out, size_t want)
{
	uint8_t buf[32768];
	size_t got = 0;

	while (got < want) {
		ssize_t n = read(fd, buf, sizeof(buf)), m;

		assert_true(n > 0);
		if (!rl) {
			memcpy(out + got, buf, (size_t)n);
			got += (size_t)n;
			continue;
		}
		assert_int_equal(sl_tls_rl_feed(rl, buf, (size_t)n), 0);
		while ((m = sl_tls_rl_read(rl, out + got, want - got)) > 0)
			got += (size_t)m;
		assert_true(m == -EAGAIN || got == want);
	}
}

static void peer_write(int fd, struct sl_tls_rl *rl, const uint8_t *in,
		       size_t len, bool notify)
{
	uint8_t buf[32768];
	size_t n;

	if (!rl) {
		assert_int_equal(write(fd, in, len), (ssize_t)len);
		return;
	}
	/* in pieces of odd sizes: many records, split across reads */
	for (size_t off = 0; off < len;) {
		size_t k = len - off < 7001 ? len - off : 7001;

		assert_int_equal(sl_tls_rl_write(rl, in + off, k), (ssize_t)k);
		off += k;
	}
	if (notify)
		assert_int_equal(sl_tls_rl_close_notify(rl), 0);
	while ((n = sl_tls_rl_take_output(rl, buf, sizeof(buf))))
		assert_int_equal(write(fd, buf, n), (ssize_t)n);
}

static struct sl_worker **run_start(enum scenario sc, int *peer)
{
	struct sl_worker_hooks hooks = { .start = start };
	struct sl_worker **ws;
	int sp[2];

	memset(&R, 0, sizeof(R));
	R.sc = sc;
	R.up = malloc(UP_LEN);
	R.down = malloc(DOWN_LEN + 1);
	assert_non_null(R.up);
	assert_non_null(R.down);
	for (size_t i = 0; i < UP_LEN; i++)
		R.up[i] = pat(i, 1);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp),
			 0);
	R.fd = sp[0];
	*peer = sp[1];
	assert_int_equal(sl_workers_start(1, &hooks, NULL, &ws), 0);
	return ws;
}

static void run_end(struct sl_worker **ws, int peer)
{
	for (int i = 0; i < 500 && !R.done; i++)
		usleep(10000);
	assert_true(R.done);
	sl_worker_request_stop(ws[0]);
	assert_int_equal(sl_workers_join(ws, 1), 0);
	if (!R.st.closed)
		sl_l7_stream_close(&R.st);
	close(peer);
	free(R.up);
	free(R.down);
}

static void round_trip(enum scenario sc)
{
	struct sl_tls_rl *rl = sc == SC_PLAIN ? NULL : rl_pair(false);
	uint8_t *got = malloc(UP_LEN), *resp = malloc(DOWN_LEN);
	int peer;
	struct sl_worker **ws = run_start(sc, &peer);

	assert_non_null(got);
	assert_non_null(resp);
	peer_read(peer, rl, got, UP_LEN);
	assert_memory_equal(got, R.up, UP_LEN);
	for (size_t i = 0; i < DOWN_LEN; i++)
		resp[i] = pat(i, 2);
	peer_write(peer, rl, resp, DOWN_LEN, true);
	shutdown(peer, SHUT_WR);
	for (int i = 0; i < 500 && !R.done; i++)
		usleep(10000);
	assert_int_equal(R.end_res, 0); /* close_notify (or FIN): EOF */
	assert_int_equal(R.down_got, DOWN_LEN);
	assert_memory_equal(R.down, resp, DOWN_LEN);
	if (sc != SC_PLAIN)
		assert_true(R.sends >= 4); /* at most 64 KiB sealed a time */
	run_end(ws, peer);
	sl_tls_rl_free(rl);
	free(got);
	free(resp);
}

static void test_rl_round_trip(void **state)
{
	(void)state;
	round_trip(SC_ROUND_TRIP);
}

static void test_plain_round_trip(void **state)
{
	(void)state;
	round_trip(SC_PLAIN);
}

/* the upstream's FIN without close_notify: the data, then -EPROTO */
static void test_rl_truncated(void **state)
{
	struct sl_tls_rl *rl = rl_pair(false);
	uint8_t resp[5000];
	int peer;
	struct sl_worker **ws = run_start(SC_TRUNCATED, &peer);

	(void)state;
	memset(resp, 'r', sizeof(resp));
	peer_write(peer, rl, resp, sizeof(resp), false);
	shutdown(peer, SHUT_WR);
	run_end(ws, peer);
	assert_int_equal(R.down_got, sizeof(resp));
	assert_int_equal(R.end_res, -EPROTO);
	sl_tls_rl_free(rl);
}

/* closed with a receive under way: the receive is cancelled, the stream
 * says it is idle before its user hears, the peer reads close_notify */
static void test_rl_close_busy(void **state)
{
	struct sl_tls_rl *rl = rl_pair(false);
	uint8_t buf[256], pt[16];
	int peer;
	struct sl_worker **ws = run_start(SC_CLOSE_BUSY, &peer);
	ssize_t n;

	(void)state;
	for (int i = 0; i < 500 && !R.done; i++)
		usleep(10000);
	assert_int_equal(R.user_res, -ECANCELED);
	assert_int_equal(R.idle_calls, 1);
	assert_true(R.idle_before_user);
	n = read(peer, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(sl_tls_rl_feed(rl, buf, (size_t)n), 0);
	assert_int_equal(sl_tls_rl_read(rl, pt, sizeof(pt)), 0); /* close_notify */
	assert_int_equal(read(peer, buf, sizeof(buf)), 0); /* then closed */
	run_end(ws, peer);
	sl_tls_rl_free(rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rl_round_trip),
		cmocka_unit_test(test_plain_round_trip),
		cmocka_unit_test(test_rl_truncated),
		cmocka_unit_test(test_rl_close_busy),
	};

	for (size_t i = 0; i < sizeof(s1); i++) {
		s1[i] = (uint8_t)(i * 7 + 1);
		s2[i] = (uint8_t)(i * 13 + 5);
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}

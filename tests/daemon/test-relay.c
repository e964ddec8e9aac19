/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Relay tests over loopback TCP: a real TLS session between the test's peer
 * (conn API, this thread) and the relay's side, the relay on a loop worker,
 * and a "pod" socket.  Built twice: test-relay (userspace TLS relay) and,
 * with SL_TEST_KTLS, test-relay-ktls (kTLS installed on the relay's socket,
 * splice relay; SKIPs without kTLS unless SL_REQUIRE_KTLS=1).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/ssl.h>

#include "ktls.h"
#include "record.h"
#include "relay_internal.h" /* sl_relay_buffered_bytes */
#include "relay_test.h"
#include "stats.h"
#include "tls.h"
#include "tls_internal.h" /* SSL_key_update on the peer's session */

#ifdef SL_TEST_KTLS
#define KTLS true
#else
#define KTLS false
#endif

#define MB (1024 * 1024)

struct env {
	int peer_fd;	/* the test's TLS end */
	int pod;	/* the test's plaintext end */
	struct sl_tls_conn *peer;
	struct rt_run run;
};

struct opts {
	uint64_t idle_ns;
	uint64_t max_ns;
	uint64_t half_ns; /* half-close timeout; 0: the default */
	const void *initial;
	uint32_t initial_len;
	uint32_t buf_size;
	uint32_t buf_size_bulk;
	int sockbuf;
	/* called after the handshake, before the relay starts: @relay_tls is
	 * the relay's TLS socket (blocking still), @srv its session */
	void (*pre)(struct env *e, int relay_tls, struct sl_tls_conn *srv);
	bool expect_conn; /* the relay must fall back to the sl_tls_conn */
	/* take the session over before the start and hand the relay the
	 * record layer (sl_relay_params.rl), as the connection pool does */
	bool pre_rl;
};

static void env_up(struct env *e, const struct opts *o)
{
	struct sl_tls_conn *srv = NULL;
	int relay_tls, relay_plain;
	uint64_t rl_before;

	memset(e, 0, sizeof(*e));
	assert_int_equal(rt_tcp_pair(&e->peer_fd, &relay_tls, o->sockbuf), 0);
	assert_int_equal(rt_tcp_pair(&e->pod, &relay_plain, o->sockbuf), 0);
	assert_int_equal(rt_tls_pair(e->peer_fd, relay_tls, &e->peer, &srv), 0);
	if (o->pre)
		o->pre(e, relay_tls, srv);
	if (o->pre_rl) {
		struct sl_tls_rl *rl = NULL;

		assert_int_equal(sl_tls_rl_new(srv, &rl), 0);
		sl_tls_conn_free(srv);
		srv = NULL;
		e->run.p.rl = rl;
	}
	if (KTLS)
		assert_int_equal(sl_ktls_install(relay_tls, srv), 0);
	/* like the daemon's sockets */
	assert_int_equal(fcntl(relay_tls, F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(fcntl(relay_plain, F_SETFL, O_NONBLOCK), 0);
	e->run.plain_fd = relay_plain;
	e->run.tls_fd = relay_tls;
	e->run.tls = srv;
	e->run.ktls = KTLS;
	e->run.initial = o->initial;
	e->run.initial_len = o->initial_len;
	e->run.p.idle_timeout_ns = o->idle_ns;
	e->run.p.max_duration_ns = o->max_ns;
	e->run.p.buf_size = o->buf_size ? o->buf_size : 64 * 1024;
	e->run.p.buf_size_bulk = o->buf_size_bulk;
	e->run.p.pipe_size = 64 * 1024;
	rl_before = sl_relay_tls_rl_started();
	if (o->half_ns)
		sl_relay_half_close_timeout_set(o->half_ns);
	/* the relay has read the setting once this returns */
	assert_int_equal(rt_run_start(&e->run), 0);
	sl_relay_half_close_timeout_set(SL_RELAY_DEFAULT_HALF_CLOSE_NS);
	/* the userspace relay runs on its own record layer unless told */
	if (!KTLS)
		assert_int_equal(sl_relay_tls_rl_started() - rl_before,
				 o->expect_conn ? 0 : 1);
}

/* the relay must have ended; done() must have run exactly once */
static void env_down(struct env *e)
{
	assert_int_equal(rt_run_wait(&e->run, 10000), 1);
	if (e->pod >= 0)
		close(e->pod);
	close(e->peer_fd);
	sl_tls_conn_free(e->peer);
	assert_int_equal(rt_run_stop(&e->run), 1);
}

static void peer_read_exact(struct env *e, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = rt_peer_read(e->peer, e->peer_fd, p, len);

		if (n <= 0)
			fail_msg("peer read: %zd (%s)", n,
				 n ? strerror((int)-n) : "close_notify");
		p += n;
		len -= (size_t)n;
	}
}

static void peer_close_write(struct env *e)
{
	assert_int_equal(sl_tls_conn_close_notify(e->peer), 0);
	assert_int_equal(rt_peer_flush(e->peer, e->peer_fd), 0);
	assert_int_equal(shutdown(e->peer_fd, SHUT_WR), 0);
}

static void rst_close(int fd)
{
	struct linger lg = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* an idle flow holds no relay buffer (waits up to 2 s for that) */
static uint64_t idle_buffered_bytes(void)
{
	uint64_t held = 0;

	for (int i = 0; i < 200; i++) {
		held = sl_relay_buffered_bytes();
		if (!held)
			break;
		usleep(10 * 1000);
	}
	return held;
}

/* small messages both ways, then half-close one way and the other */
static void test_halfclose(void **state)
{
	const char a[] = "hello from the pod", b[] = "hello from the mesh",
		   c[] = "late reply after the pod's FIN";
	struct opts o = { 0 };
	struct env e;
	char buf[64];

	(void)state;
	env_up(&e, &o);
	assert_int_equal(rt_write_full(e.pod, a, sizeof(a)), 0);
	peer_read_exact(&e, buf, sizeof(a));
	assert_memory_equal(buf, a, sizeof(a));

	assert_int_equal(rt_peer_write(e.peer, e.peer_fd, b, sizeof(b)), 0);
	assert_int_equal(rt_read_full(e.pod, buf, sizeof(b)), 0);
	assert_memory_equal(buf, b, sizeof(b));
	assert_int_equal(idle_buffered_bytes(), 0);

	/* pod → mesh closes: the peer sees close_notify, a clean EOF */
	assert_int_equal(shutdown(e.pod, SHUT_WR), 0);
	assert_int_equal(rt_peer_read(e.peer, e.peer_fd, buf, sizeof(buf)), 0);
	assert_int_equal(rt_run_wait(&e.run, 100), 0); /* still relaying */

	/* the other direction still flows */
	assert_int_equal(rt_peer_write(e.peer, e.peer_fd, c, sizeof(c)), 0);
	assert_int_equal(rt_read_full(e.pod, buf, sizeof(c)), 0);
	assert_memory_equal(buf, c, sizeof(c));

	/* mesh → pod closes: the pod sees a FIN */
	peer_close_write(&e);
	assert_int_equal(rt_read_end(e.pod), 0);
	assert_int_equal(rt_run_wait(&e.run, 5000), 1);
	assert_int_equal(e.run.res.end, SL_RELAY_END_DONE);
	assert_int_equal(e.run.res.bytes_plain_to_tls, sizeof(a));
	assert_int_equal(e.run.res.bytes_tls_to_plain, sizeof(b) + sizeof(c));
	assert_int_equal(e.run.res.ktls, KTLS);
	env_down(&e);
}

/*
 * Strict request/response: each message goes only after the previous one
 * came out at the other end, so a relay that holds data back until more
 * arrives (a read waiting to fill its buffer, a record left in the conn, a
 * recv not re-armed) makes the read time out (SO_RCVTIMEO of the test
 * sockets).  Sizes around the relay buffer (4 KiB here) and the TLS record
 * (16 KiB); then several records in one TCP segment, and nothing after.
 */
static void test_no_hold(void **state)
{
	static const uint32_t sizes[] = { 1, 64, 1024, 4095, 4096, 4097,
					  5000, 16384, 16385, 40000 };
	struct opts o = { .buf_size = 4096 };
	uint8_t *out = malloc(40000), *in = malloc(40000);
	uint64_t up = 0, down = 0;
	struct env e;

	(void)state;
	assert_non_null(out);
	assert_non_null(in);
	env_up(&e, &o);
	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			uint32_t n = sizes[i];

			for (uint32_t k = 0; k < n; k++)
				out[k] = (uint8_t)(k * 7 + i + round);
			assert_int_equal(rt_write_full(e.pod, out, n), 0);
			peer_read_exact(&e, in, n);
			assert_memory_equal(in, out, n);
			up += n;

			assert_int_equal(rt_peer_write(e.peer, e.peer_fd, out, n), 0);
			assert_int_equal(rt_read_full(e.pod, in, n), 0);
			assert_memory_equal(in, out, n);
			down += n;
		}
	}
	/* three small records in one segment, then silence */
	for (int k = 0; k < 3; k++)
		assert_int_equal(sl_tls_conn_write(e.peer, out + k * 10, 10), 10);
	assert_int_equal(rt_peer_flush(e.peer, e.peer_fd), 0);
	assert_int_equal(rt_read_full(e.pod, in, 30), 0);
	assert_memory_equal(in, out, 30);
	down += 30;

	/* a last record and close_notify in one segment: data, then EOF */
	assert_int_equal(sl_tls_conn_write(e.peer, out, 20), 20);
	peer_close_write(&e);
	assert_int_equal(rt_read_full(e.pod, in, 20), 0);
	assert_memory_equal(in, out, 20);
	down += 20;
	assert_int_equal(rt_read_end(e.pod), 0);
	assert_int_equal(shutdown(e.pod, SHUT_WR), 0);
	assert_int_equal(rt_peer_read(e.peer, e.peer_fd, in, 16), 0);
	assert_int_equal(rt_run_wait(&e.run, 5000), 1);
	assert_int_equal(e.run.res.end, SL_RELAY_END_DONE);
	assert_int_equal(e.run.res.bytes_plain_to_tls, up);
	assert_int_equal(e.run.res.bytes_tls_to_plain, down);
	env_down(&e);
	free(out);
	free(in);
}

#ifndef SL_TEST_KTLS
/* take all pending ciphertext of @c into @buf; @retval bytes */
static size_t take_all(struct sl_tls_conn *c, uint8_t *buf, size_t cap)
{
	size_t n = 0, m;

	while ((m = sl_tls_conn_take_output(c, buf + n, cap - n)) > 0)
		n += m;
	return n;
}

/*
 * Before the relay starts, the session has moved on: records both ways
 * through the conn (sequence numbers past 0), a record written and not
 * taken, a whole record fed and not read, half of the next record fed.
 * The record layer must carry all of it over.
 */
static void pre_busy(struct env *e, int relay_tls, struct sl_tls_conn *srv)
{
	static uint8_t ct[4096];
	uint8_t buf[16];
	size_t n, whole;

	/* srv -> peer "w1", peer -> srv "r1": through the conn */
	assert_int_equal(rt_peer_write(srv, relay_tls, "w1", 2), 0);
	assert_int_equal(rt_peer_read(e->peer, e->peer_fd, buf, sizeof(buf)), 2);
	assert_memory_equal(buf, "w1", 2);
	assert_int_equal(rt_peer_write(e->peer, e->peer_fd, "r1", 2), 0);
	assert_int_equal(rt_peer_read(srv, relay_tls, buf, sizeof(buf)), 2);
	assert_memory_equal(buf, "r1", 2);
	/* "w2" written, left in the conn */
	assert_int_equal(sl_tls_conn_write(srv, "w2", 2), 2);
	/* "r2" fed whole, "r3" half: the rest comes through the socket */
	assert_int_equal(sl_tls_conn_write(e->peer, "r2", 2), 2);
	whole = take_all(e->peer, ct, sizeof(ct));
	assert_int_equal(sl_tls_conn_write(e->peer, "r3", 2), 2);
	n = whole + take_all(e->peer, ct + whole, sizeof(ct) - whole);
	assert_int_equal(sl_tls_conn_feed(srv, ct, whole + 7), 0);
	assert_int_equal(rt_write_full(e->peer_fd, ct + whole + 7,
				       n - whole - 7), 0);
}

static void test_takeover(void **state)
{
	struct opts o = { .pre = pre_busy };
	struct env e;
	char buf[16];

	(void)state;
	env_up(&e, &o);
	peer_read_exact(&e, buf, 2);
	assert_memory_equal(buf, "w2", 2);
	assert_int_equal(rt_read_full(e.pod, buf, 4), 0);
	assert_memory_equal(buf, "r2r3", 4);
	assert_int_equal(rt_write_full(e.pod, "up", 2), 0);
	peer_read_exact(&e, buf, 2);
	assert_memory_equal(buf, "up", 2);
	assert_int_equal(rt_peer_write(e.peer, e.peer_fd, "down", 4), 0);
	assert_int_equal(rt_read_full(e.pod, buf, 4), 0);
	assert_memory_equal(buf, "down", 4);
	peer_close_write(&e);
	assert_int_equal(rt_read_end(e.pod), 0);
	assert_int_equal(shutdown(e.pod, SHUT_WR), 0);
	assert_int_equal(rt_peer_read(e.peer, e.peer_fd, buf, sizeof(buf)), 0);
	assert_int_equal(rt_run_wait(&e.run, 5000), 1);
	assert_int_equal(e.run.res.end, SL_RELAY_END_DONE);
	env_down(&e);
}

/* a KeyUpdate before the relay: the record layer cannot take over, the
 * relay runs on the conn */
static void pre_keyupdate(struct env *e, int relay_tls,
			  struct sl_tls_conn *srv)
{
	uint8_t buf[16];

	assert_int_equal(SSL_key_update(e->peer->ssl,
					SSL_KEY_UPDATE_NOT_REQUESTED), 1);
	assert_int_equal(rt_peer_write(e->peer, e->peer_fd, "k", 1), 0);
	assert_int_equal(rt_peer_read(srv, relay_tls, buf, sizeof(buf)), 1);
}

static void test_conn_fallback(void **state)
{
	struct opts o = { .pre = pre_keyupdate, .expect_conn = !KTLS };
	struct env e;
	char buf[16];

	(void)state;
	env_up(&e, &o);
	assert_int_equal(rt_write_full(e.pod, "up", 2), 0);
	peer_read_exact(&e, buf, 2);
	assert_memory_equal(buf, "up", 2);
	assert_int_equal(rt_peer_write(e.peer, e.peer_fd, "down", 4), 0);
	assert_int_equal(rt_read_full(e.pod, buf, 4), 0);
	assert_memory_equal(buf, "down", 4);
	peer_close_write(&e);
	assert_int_equal(rt_read_end(e.pod), 0);
	assert_int_equal(shutdown(e.pod, SHUT_WR), 0);
	assert_int_equal(rt_peer_read(e.peer, e.peer_fd, buf, sizeof(buf)), 0);
	assert_int_equal(rt_run_wait(&e.run, 5000), 1);
	assert_int_equal(e.run.res.end, SL_RELAY_END_DONE);
	env_down(&e);
}
#endif

struct pod_job {
	int fd;
	uint32_t seed;
	uint64_t len;
	atomic_ullong progress;
	int ret;
};

static void *pod_writer(void *arg)
{
	struct pod_job *j = arg;
	uint8_t buf[16384];
	uint64_t off = 0;

	while (off < j->len) {
		size_t n = j->len - off < sizeof(buf) ? j->len - off
						       : sizeof(buf);

		rt_pattern(j->seed, off, buf, n);
		j->ret = rt_write_full(j->fd, buf, n);
		if (j->ret)
			return NULL;
		off += n;
		atomic_store(&j->progress, off);
	}
	j->ret = shutdown(j->fd, SHUT_WR) ? -errno : 0;
	return NULL;
}

static void *pod_reader(void *arg)
{
	struct pod_job *j = arg;
	uint8_t buf[16384], want[16384];
	uint64_t off = 0;

	for (;;) {
		ssize_t n = recv(j->fd, buf, sizeof(buf), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			j->ret = -errno;
			return NULL;
		}
		if (n == 0)
			break;
		rt_pattern(j->seed, off, want, (size_t)n);
		if (memcmp(buf, want, (size_t)n)) {
			j->ret = -EBADMSG;
			return NULL;
		}
		off += (uint64_t)n;
		atomic_store(&j->progress, off);
	}
	j->ret = off == j->len ? 0 : -EMSGSIZE;
	return NULL;
}

/* the peer reads everything until close_notify, checking the pattern */
static uint64_t peer_read_pattern(struct env *e, uint32_t seed)
{
	uint8_t buf[16384], want[16384];
	uint64_t off = 0;

	for (;;) {
		ssize_t n = rt_peer_read(e->peer, e->peer_fd, buf, sizeof(buf));

		if (n == 0)
			return off;
		if (n < 0)
			fail_msg("peer read: %s", strerror((int)-n));
		rt_pattern(seed, off, want, (size_t)n);
		assert_memory_equal(buf, want, (size_t)n);
		off += (uint64_t)n;
	}
}

static void peer_write_pattern(struct env *e, uint32_t seed, uint64_t len)
{
	uint8_t buf[16384];

	for (uint64_t off = 0; off < len;) {
		size_t n = len - off < sizeof(buf) ? len - off : sizeof(buf);

		rt_pattern(seed, off, buf, n);
		assert_int_equal(rt_peer_write(e->peer, e->peer_fd, buf, n), 0);
		off += n;
	}
}

/* a few MB both ways at once, checked byte for byte */
static void bulk_both_ways(const struct opts *o)
{
	const uint64_t len = 6 * MB;
	struct pod_job w = { .seed = 1, .len = len };
	struct pod_job r = { .seed = 2, .len = len };
	pthread_t tw, tr;
	struct env e;

	env_up(&e, o);
	w.fd = r.fd = e.pod;
	assert_int_equal(pthread_create(&tw, NULL, pod_writer, &w), 0);
	assert_int_equal(pthread_create(&tr, NULL, pod_reader, &r), 0);
	peer_write_pattern(&e, 2, len);
	peer_close_write(&e);
	assert_int_equal(peer_read_pattern(&e, 1), len);
	pthread_join(tw, NULL);
	pthread_join(tr, NULL);
	assert_int_equal(w.ret, 0);
	assert_int_equal(r.ret, 0);
	assert_int_equal(rt_run_wait(&e.run, 5000), 1);
	assert_int_equal(e.run.res.end, SL_RELAY_END_DONE);
	assert_int_equal(e.run.res.bytes_plain_to_tls, len);
	assert_int_equal(e.run.res.bytes_tls_to_plain, len);
	env_down(&e);
}

static void test_bulk(void **state)
{
	struct opts o = { 0 };

	(void)state;
	bulk_both_ways(&o);
}

#ifndef SL_TEST_KTLS
static void never_done(void *arg, const struct sl_relay_result *r)
{
	(void)arg;
	(void)r;
	fail_msg("done() of a relay that was refused");
}

/*
 * A session the record layer took over before the start (the connection
 * pool's): the relay runs on it as given; a start with both a conn and a
 * record layer, or with neither, is refused.
 */
static void test_pooled_rl(void **state)
{
	struct opts o = { .pre_rl = true };
	struct sl_relay_params p = { .done = never_done };
	struct sl_tls_rl *rl = (struct sl_tls_rl *)&p; /* never used */

	(void)state;
	bulk_both_ways(&o);
	assert_int_equal(sl_relay_start((struct sl_worker *)&p, 0, 1, NULL,
					false, NULL, 0, &p), -EINVAL);
	p.rl = rl;
	assert_int_equal(sl_relay_start((struct sl_worker *)&p, 0, 1,
					(struct sl_tls_conn *)&p, false, NULL,
					0, &p), -EINVAL);
	assert_int_equal(sl_relay_start((struct sl_worker *)&p, 0, 1, NULL,
					true, NULL, 0, &p), -EINVAL);
}
#endif

/* the pod resets: the peer sees an error, never a clean EOF */
static void test_rst_pod(void **state)
{
	struct opts o = { 0 };
	struct env e;
	char buf[8];
	ssize_t n;

	(void)state;
	env_up(&e, &o);
	assert_int_equal(rt_write_full(e.pod, "x", 1), 0);
	peer_read_exact(&e, buf, 1);
	rst_close(e.pod);
	e.pod = -1;
	n = rt_peer_read(e.peer, e.peer_fd, buf, sizeof(buf));
	assert_true(n < 0);
	assert_int_equal(rt_run_wait(&e.run, 5000), 1);
	assert_int_equal(e.run.res.end, SL_RELAY_END_RESET_PLAIN);
	env_down(&e);
}

/* the peer resets: the pod sees an RST */
static void test_rst_mesh(void **state)
{
	struct opts o = { 0 };
	struct env e;
	char buf[8];

	(void)state;
	env_up(&e, &o);
	assert_int_equal(rt_peer_write(e.peer, e.peer_fd, "y", 1), 0);
	assert_int_equal(rt_read_full(e.pod, buf, 1), 0);
	rst_close(e.peer_fd);
	e.peer_fd = socket(AF_INET, SOCK_STREAM, 0); /* closed by env_down */
	assert_int_equal(rt_read_end(e.pod), -ECONNRESET);
	assert_int_equal(rt_run_wait(&e.run, 5000), 1);
	assert_int_equal(e.run.res.end, SL_RELAY_END_RESET_TLS);
	env_down(&e);
}

/* TCP FIN without close_notify is a truncation: the pod gets an RST */
static void test_truncated(void **state)
{
	struct opts o = { 0 };
	struct env e;
	char buf[8];

	(void)state;
	env_up(&e, &o);
	assert_int_equal(rt_peer_write(e.peer, e.peer_fd, "abc", 3), 0);
	assert_int_equal(rt_read_full(e.pod, buf, 3), 0);
	assert_int_equal(shutdown(e.peer_fd, SHUT_WR), 0);
	assert_int_equal(rt_read_end(e.pod), -ECONNRESET);
	assert_int_equal(rt_run_wait(&e.run, 5000), 1);
	assert_int_equal(e.run.res.end, SL_RELAY_END_RESET_TLS);
	env_down(&e);
}

/* bytes the caller already decrypted reach the pod first */
static void test_initial(void **state)
{
	static const char init[] = "INITIAL-";
	struct opts o = { .initial = init, .initial_len = 8 };
	struct env e;
	char buf[16];

	(void)state;
	env_up(&e, &o);
	assert_int_equal(rt_peer_write(e.peer, e.peer_fd, "after", 5), 0);
	assert_int_equal(rt_read_full(e.pod, buf, 13), 0);
	assert_memory_equal(buf, "INITIAL-after", 13);
	assert_int_equal(shutdown(e.pod, SHUT_WR), 0);
	assert_int_equal(rt_peer_read(e.peer, e.peer_fd, buf, sizeof(buf)), 0);
	peer_close_write(&e);
	assert_int_equal(rt_read_end(e.pod), 0);
	assert_int_equal(rt_run_wait(&e.run, 5000), 1);
	assert_int_equal(e.run.res.end, SL_RELAY_END_DONE);
	assert_int_equal(e.run.res.bytes_tls_to_plain, 13);
	env_down(&e);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* traffic keeps the flow alive; silence ends it */
static void test_idle(void **state)
{
	/* traffic every 100 ms keeps a 1 s idle timer away, with room for a
	 * slow (emulated) machine */
	struct opts o = { .idle_ns = 1000 * 1000000ull };
	struct env e;
	uint64_t t0;
	char buf[4];

	(void)state;
	env_up(&e, &o);
	for (int i = 0; i < 8; i++) {
		usleep(100 * 1000);
		assert_int_equal(rt_write_full(e.pod, "p", 1), 0);
		peer_read_exact(&e, buf, 1);
	}
	assert_int_equal(rt_run_wait(&e.run, 0), 0);
	t0 = now_ms();
	assert_int_equal(rt_run_wait(&e.run, 5000), 1);
	assert_true(now_ms() - t0 >= 500);
	assert_int_equal(e.run.res.end, SL_RELAY_END_IDLE);
	assert_int_equal(rt_read_end(e.pod), -ECONNRESET);
	assert_true(rt_peer_read(e.peer, e.peer_fd, buf, sizeof(buf)) < 0);
	env_down(&e);
}

/* maxConnectionDuration: a busy flow is reset once it is that old */
static void test_max_duration(void **state)
{
	struct opts o = { .idle_ns = 10000 * 1000000ull,
			  .max_ns = 300 * 1000000ull };
	struct env e;
	char buf[4];
	ssize_t n;
	int i, wr = 0, end;

	(void)state;
	env_up(&e, &o);
	/* traffic both ways until the relay ends by itself (10 s at most) */
	for (i = 0; i < 200 && rt_run_wait(&e.run, 0) == 0; i++) {
		wr = rt_write_full(e.pod, "p", 1);
		if (wr || rt_peer_write(e.peer, e.peer_fd, "m", 1))
			break;
		usleep(50 * 1000);
	}
	assert_int_equal(rt_run_wait(&e.run, 5000), 1);
	assert_true(i > 0);
	assert_int_equal(e.run.res.end, SL_RELAY_END_MAX_DURATION);
	/* both sides see a reset, never a clean end.  The kernel reports a
	 * reset once: when the pod's write met it first (the reset came
	 * between the loop's check and the write), the write has it and the
	 * read then sees the dead socket as EOF */
	end = rt_read_end(e.pod);
	if (wr == -ECONNRESET)
		assert_true(end == 0 || end == -ECONNRESET);
	else
		assert_int_equal(end, -ECONNRESET);
	/* what was relayed before, then an error, not a clean EOF */
	while ((n = rt_peer_read(e.peer, e.peer_fd, buf, sizeof(buf))) > 0)
		;
	assert_true(n < 0);
	env_down(&e);
}

struct peer_job {
	struct env *e;
	uint32_t seed;
	uint64_t len;
	atomic_ullong progress;
	int ret;
};

/* the peer writes @len pattern bytes, then close_notify and FIN */
static void *peer_writer(void *arg)
{
	struct peer_job *j = arg;
	uint8_t buf[16384];

	for (uint64_t off = 0; off < j->len;) {
		size_t n = j->len - off < sizeof(buf) ? j->len - off
						       : sizeof(buf);

		rt_pattern(j->seed, off, buf, n);
		j->ret = rt_peer_write(j->e->peer, j->e->peer_fd, buf, n);
		if (j->ret)
			return NULL;
		off += n;
		atomic_store(&j->progress, off);
	}
	if (sl_tls_conn_close_notify(j->e->peer) ||
	    rt_peer_flush(j->e->peer, j->e->peer_fd) ||
	    shutdown(j->e->peer_fd, SHUT_WR))
		j->ret = -EIO;
	return NULL;
}

/* after the pod sent @len bytes and the peer read them all: the peer
 * half-closes, the pod sees EOF, and the relay ends cleanly, counted */
static void end_after_upload(struct env *e, uint64_t len)
{
	peer_close_write(e);
	assert_int_equal(rt_read_end(e->pod), 0);
	assert_int_equal(rt_run_wait(&e->run, 5000), 1);
	assert_int_equal(e->run.res.end, SL_RELAY_END_DONE);
	assert_int_equal(e->run.res.bytes_plain_to_tls, len);
	env_down(e);
}

/*
 * A reader that does not read: what the writer gets out stays bounded by
 * the socket buffers plus the relay's own buffers (the relay does not keep
 * reading into memory); then everything arrives intact.
 */
static void test_backpressure(void **state)
{
	const uint64_t len = 16 * MB, bound = 3 * MB;
	struct opts o = { .buf_size = 16384, .sockbuf = 32768 };
	struct pod_job r = { .seed = 3, .len = len };
	struct pod_job w = { .seed = 4, .len = len };
	struct peer_job pw = { .seed = 3, .len = len };
	uint64_t stalled;
	struct env e;
	char buf[4];
	pthread_t t;

	(void)state;
	/* mesh → pod: the pod does not read for a while */
	env_up(&e, &o);
	pw.e = &e;
	assert_int_equal(pthread_create(&t, NULL, peer_writer, &pw), 0);
	usleep(1500 * 1000);
	stalled = atomic_load(&pw.progress);
	fprintf(stderr, "mesh -> pod: writer stalled after %llu bytes\n",
		(unsigned long long)stalled);
	assert_true(stalled > 0);
	assert_true(stalled < bound);
	/* at most rx, out and tx buffers (the pod → mesh side is idle) */
	assert_true(sl_relay_buffered_bytes() <= 3 * (16384 + 1024));
	r.fd = e.pod;
	pod_reader(&r);
	pthread_join(t, NULL);
	assert_int_equal(pw.ret, 0);
	assert_int_equal(r.ret, 0);
	assert_int_equal(shutdown(e.pod, SHUT_WR), 0);
	assert_int_equal(rt_peer_read(e.peer, e.peer_fd, buf, sizeof(buf)), 0);
	assert_int_equal(rt_run_wait(&e.run, 5000), 1);
	assert_int_equal(e.run.res.end, SL_RELAY_END_DONE);
	assert_int_equal(e.run.res.bytes_tls_to_plain, len);
	env_down(&e);

	/* pod → mesh: the peer does not read for a while */
	env_up(&e, &o);
	w.fd = e.pod;
	assert_int_equal(pthread_create(&t, NULL, pod_writer, &w), 0);
	usleep(1500 * 1000);
	stalled = atomic_load(&w.progress);
	fprintf(stderr, "pod -> mesh: writer stalled after %llu bytes\n",
		(unsigned long long)stalled);
	assert_true(stalled > 0);
	assert_true(stalled < bound);
	assert_true(sl_relay_buffered_bytes() <= 3 * (16384 + 1024));
	assert_int_equal(peer_read_pattern(&e, 4), len);
	pthread_join(t, NULL);
	assert_int_equal(w.ret, 0);
	end_after_upload(&e, len);
}

#ifndef SL_TEST_KTLS
/* bulk-buffer bytes counted, once they are at most @max (waits up to 2 s) */
static uint64_t bulk_settle(uint64_t max)
{
	uint64_t held = 0;

	for (int i = 0; i < 200; i++) {
		held = sl_relay_bulk_bytes();
		if (held <= max)
			break;
		usleep(10 * 1000);
	}
	return held;
}

/* once the relay's buffers are full (1.5 s): the bulk bytes it holds */
static uint64_t bulk_when_full(const char *what, const char *dir)
{
	uint64_t bulk;

	usleep(1500 * 1000);
	bulk = sl_relay_bulk_bytes();
	fprintf(stderr, "%s, %s: %llu bulk bytes\n", what, dir,
		(unsigned long long)bulk);
	return bulk;
}

/*
 * Start a flow with @o and a mesh → pod stream of @pw in thread *@t that
 * the pod does not read yet: once the relay's buffers are full, the bulk
 * bytes it holds (logged with @what).
 */
static uint64_t download_start(struct env *e, const struct opts *o,
			       struct peer_job *pw, pthread_t *t,
			       const char *what)
{
	env_up(e, o);
	pw->e = e;
	assert_int_equal(pthread_create(t, NULL, peer_writer, pw), 0);
	return bulk_when_full(what, "mesh -> pod");
}

/* the same for a pod → mesh stream of @w that the peer does not read yet */
static uint64_t upload_start(struct env *e, const struct opts *o,
			     struct pod_job *w, pthread_t *t, const char *what)
{
	env_up(e, o);
	w->fd = e->pod;
	assert_int_equal(pthread_create(t, NULL, pod_writer, w), 0);
	return bulk_when_full(what, "pod -> mesh");
}

/*
 * The mesh → pod stream of @pw (written by thread @t) read to its end by
 * the pod; its bulk buffers are given back while the relay still runs the
 * other direction; then the pod half-closes and the relay ends cleanly.
 */
static void download_finish(struct env *e, pthread_t t, struct peer_job *pw)
{
	struct pod_job r = { .fd = e->pod, .seed = pw->seed, .len = pw->len };
	char buf[4];

	pod_reader(&r);
	pthread_join(t, NULL);
	assert_int_equal(pw->ret, 0);
	assert_int_equal(r.ret, 0);
	/* the stream ended (short reads, close_notify): given back */
	assert_int_equal(bulk_settle(0), 0);
	assert_int_equal(shutdown(e->pod, SHUT_WR), 0);
	assert_int_equal(rt_peer_read(e->peer, e->peer_fd, buf, sizeof(buf)), 0);
	assert_int_equal(rt_run_wait(&e->run, 5000), 1);
	assert_int_equal(e->run.res.end, SL_RELAY_END_DONE);
	env_down(e);
}

/* the same for the pod → mesh stream of @w (written by thread @t) */
static void upload_finish(struct env *e, pthread_t t, struct pod_job *w)
{
	assert_int_equal(peer_read_pattern(e, w->seed), w->len);
	pthread_join(t, NULL);
	assert_int_equal(w->ret, 0);
	assert_int_equal(bulk_settle(0), 0);
	end_after_upload(e, w->len);
}

/*
 * Bulk buffers (userspace relay): a direction whose reads fill its buffer
 * moves to bulk-sized buffers, within the budget; short reads and the end
 * of the stream give the budget back; without budget the relay keeps to
 * buf_size.  The receiver stalls first, so the relay's buffers are full
 * and can be counted.
 */
static void test_bulk_buffers(void **state)
{
	const uint64_t len = 8 * MB;
	const uint32_t small = 16384, big = 65536, slack = 1024;
	struct opts o = { .buf_size = small, .buf_size_bulk = big,
			  .sockbuf = 32768 };
	struct env e;
	uint64_t bulk;
	pthread_t t;

	(void)state;
	assert_int_equal(sl_relay_bulk_bytes(), 0);
	for (int budget = 1; budget >= 0; budget--) {
		struct peer_job pw = { .seed = 5, .len = len };

		sl_relay_bulk_budget_set(budget ? SL_RELAY_BULK_BUDGET : 0);
		/* mesh → pod: the record input and the plaintext out */
		bulk = download_start(&e, &o, &pw, &t,
				      budget ? "budget on" : "budget 0");
		if (budget) {
			assert_true(bulk >= big);
			assert_true(bulk <= 2 * (uint64_t)(big + slack));
			assert_true(sl_relay_buffered_bytes() <=
				    3 * (uint64_t)(big + slack));
		} else {
			assert_int_equal(bulk, 0);
			assert_true(sl_relay_buffered_bytes() <=
				    3 * (uint64_t)(small + slack));
		}
		download_finish(&e, t, &pw);
	}
	sl_relay_bulk_budget_set(SL_RELAY_BULK_BUDGET);

	/* pod → mesh: the plaintext in and the records out */
	{
		struct pod_job w = { .seed = 6, .len = len };

		bulk = upload_start(&e, &o, &w, &t, "budget on");
		assert_true(bulk >= big);
		assert_true(bulk <= 2 * (uint64_t)(big + slack));
		upload_finish(&e, t, &w);
	}
	assert_int_equal(sl_relay_bulk_bytes(), 0);
}

/*
 * Bulk tiers with @budget, 256 KiB bulk size on 16 KiB buffers (so 256 KiB
 * then 64 KiB): each direction of one busy flow must hold between @lo and
 * @hi bytes of bulk buffers (the send buffer: plus 1 KiB of record room),
 * and give them back at the end.
 */
static void tiers_case(uint64_t budget, uint64_t lo, uint64_t hi)
{
	const uint64_t len = 8 * MB;
	struct opts o = { .buf_size = 16384, .buf_size_bulk = 262144,
			  .sockbuf = 32768 };
	struct env e;
	uint64_t bulk;
	pthread_t t;

	assert_int_equal(sl_relay_bulk_bytes(), 0);
	sl_relay_bulk_budget_set(budget);
	/* mesh → pod: the reads and the plaintext out */
	{
		struct peer_job pw = { .seed = 7, .len = len };

		bulk = download_start(&e, &o, &pw, &t, "tiers");
		assert_true(bulk >= lo);
		assert_true(bulk <= hi);
		download_finish(&e, t, &pw);
	}
	/* pod → mesh: the plaintext in and the records out */
	{
		struct pod_job w = { .seed = 8, .len = len };

		bulk = upload_start(&e, &o, &w, &t, "tiers");
		assert_true(bulk >= lo);
		assert_true(bulk <= hi + 1024);
		upload_finish(&e, t, &w);
	}
	sl_relay_bulk_budget_set(SL_RELAY_BULK_BUDGET);
	assert_int_equal(sl_relay_bulk_bytes(), 0);
}

/*
 * Bulk tiers: a budget with no room for the bulk size gives a quarter of
 * it (here two 64 KiB buffers); the bulk size only takes the first half of
 * the budget when a smaller one exists, so with room for two 256 KiB
 * buffers but half of it for one, the second buffer is a 64 KiB one.
 */
static void test_bulk_tiers(void **state)
{
	const uint64_t k = 1024;

	(void)state;
	tiers_case(200 * k, 64 * k, 128 * k);
	tiers_case(600 * k, 256 * k, 320 * k);
}
#endif

#ifdef SL_TEST_KTLS
/* a KeyUpdate cannot be followed by kTLS: the flow ends, counted */
static void test_keyupdate(void **state)
{
	struct opts o = { 0 };
	struct env e;

	(void)state;
	env_up(&e, &o);
	assert_int_equal(SSL_key_update(e.peer->ssl, SSL_KEY_UPDATE_NOT_REQUESTED),
			 1);
	assert_int_equal(rt_peer_write(e.peer, e.peer_fd, "ping", 4), 0);
	assert_int_equal(rt_run_wait(&e.run, 5000), 1);
	assert_int_equal(e.run.res.end, SL_RELAY_END_UNEXPECTED_RECORD);
	assert_int_equal(rt_read_end(e.pod), -ECONNRESET);
	env_down(&e);
}
#else
/* userspace TLS follows a KeyUpdate (and answers one that asks) */
static void test_keyupdate(void **state)
{
	struct opts o = { 0 };
	struct env e;
	char buf[8];

	(void)state;
	env_up(&e, &o);
	assert_int_equal(SSL_key_update(e.peer->ssl, SSL_KEY_UPDATE_REQUESTED),
			 1);
	assert_int_equal(rt_peer_write(e.peer, e.peer_fd, "ping", 4), 0);
	assert_int_equal(rt_read_full(e.pod, buf, 4), 0);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(rt_write_full(e.pod, "pong", 4), 0);
	peer_read_exact(&e, buf, 4);
	assert_memory_equal(buf, "pong", 4);
	assert_int_equal(shutdown(e.pod, SHUT_WR), 0);
	assert_int_equal(rt_peer_read(e.peer, e.peer_fd, buf, sizeof(buf)), 0);
	peer_close_write(&e);
	assert_int_equal(rt_read_end(e.pod), 0);
	assert_int_equal(rt_run_wait(&e.run, 5000), 1);
	assert_int_equal(e.run.res.end, SL_RELAY_END_DONE);
	env_down(&e);
}
#endif

/*
 * The half-close timeout of the tests below, and how late the flow may end
 * after it (a slow or busy machine); a stream keeps a gap well below it.
 */
#define STREAM_GAP_MS 50
#define STREAM_CHUNKS 24 /* 1.2 s: three half-close timeouts */

/* the relay ends by the half-close timeout (relay_test.h) */
static void expect_half_close_end(struct env *e, uint64_t t0, uint64_t before)
{
	assert_int_equal(rt_half_close_ended(&e->run, t0, before), 0);
}

/*
 * The pod sends a request and its FIN (close_notify and FIN go on); the
 * peer never reads, answers or closes: the half-close timeout ends the
 * flow with an RST both ways, long before the idle timeout (10 s here:
 * the armed timer is moved earlier), counted.
 */
static void test_half_close_stuck_peer(void **state)
{
	struct opts o = { .idle_ns = 10000 * 1000000ull,
			  .half_ns = RT_HALF_MS * 1000000ull };
	uint64_t before = sl_stat_get(SL_STAT_RELAY_HALF_CLOSE), t0;
	struct env e;

	(void)state;
	env_up(&e, &o);
	assert_int_equal(rt_write_full(e.pod, "request", 7), 0);
	t0 = rt_now_ms();
	assert_int_equal(shutdown(e.pod, SHUT_WR), 0);
	expect_half_close_end(&e, t0, before);
	assert_int_equal(e.run.res.bytes_plain_to_tls, 7);
	assert_int_equal(rt_read_end(e.pod), -ECONNRESET);
	assert_int_equal(rt_wait_reset(e.peer_fd, 2000), 0);
	env_down(&e);
}

/* the same the other way: the peer answered and closed (close_notify,
 * FIN), the pod never reads nor closes (no idle timeout: the timer is
 * armed then) */
static void test_half_close_stuck_pod(void **state)
{
	struct opts o = { .half_ns = RT_HALF_MS * 1000000ull };
	uint64_t before = sl_stat_get(SL_STAT_RELAY_HALF_CLOSE), t0;
	struct env e;
	char buf[16];

	(void)state;
	env_up(&e, &o);
	assert_int_equal(rt_peer_write(e.peer, e.peer_fd, "response", 8), 0);
	t0 = rt_now_ms();
	peer_close_write(&e);
	expect_half_close_end(&e, t0, before);
	assert_int_equal(e.run.res.bytes_tls_to_plain, 8);
	assert_int_equal(rt_peer_read(e.peer, e.peer_fd, buf, sizeof(buf)),
			 -ECONNRESET);
	assert_int_equal(rt_wait_reset(e.pod, 2000), 0);
	env_down(&e);
}

/*
 * After the pod's FIN the peer answers slowly, a chunk every 50 ms for
 * three half-close timeouts: every byte restarts the timeout, so nothing
 * is cut and all of it arrives; then the peer goes silent without closing
 * and the flow ends one timeout later.
 */
static void test_half_close_stream(void **state)
{
	struct opts o = { .half_ns = RT_HALF_MS * 1000000ull };
	uint64_t before = sl_stat_get(SL_STAT_RELAY_HALF_CLOSE), t0;
	uint8_t out[1000], in[1000];
	struct env e;

	(void)state;
	env_up(&e, &o);
	assert_int_equal(rt_write_full(e.pod, "request", 7), 0);
	assert_int_equal(shutdown(e.pod, SHUT_WR), 0);
	peer_read_exact(&e, in, 7);
	assert_int_equal(rt_peer_read(e.peer, e.peer_fd, in, sizeof(in)), 0);
	for (int i = 0; i < STREAM_CHUNKS; i++) {
		usleep(STREAM_GAP_MS * 1000);
		rt_pattern(9, (uint64_t)i * sizeof(out), out, sizeof(out));
		assert_int_equal(rt_peer_write(e.peer, e.peer_fd, out,
					       sizeof(out)), 0);
		assert_int_equal(rt_read_full(e.pod, in, sizeof(in)), 0);
		assert_memory_equal(in, out, sizeof(out));
		assert_int_equal(rt_run_wait(&e.run, 0), 0); /* not cut */
	}
	t0 = rt_now_ms();
	expect_half_close_end(&e, t0, before);
	assert_int_equal(e.run.res.bytes_tls_to_plain,
			 STREAM_CHUNKS * sizeof(out));
	assert_int_equal(rt_read_end(e.pod), -ECONNRESET);
	env_down(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_halfclose),
		cmocka_unit_test(test_no_hold),
#ifndef SL_TEST_KTLS
		/* kTLS needs sequence numbers at 0: no data before it */
		cmocka_unit_test(test_takeover),
		cmocka_unit_test(test_conn_fallback),
#endif
		cmocka_unit_test(test_bulk),
#ifndef SL_TEST_KTLS
		cmocka_unit_test(test_pooled_rl),
#endif
		cmocka_unit_test(test_rst_pod),
		cmocka_unit_test(test_rst_mesh),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_initial),
		cmocka_unit_test(test_idle),
		cmocka_unit_test(test_max_duration),
		cmocka_unit_test(test_half_close_stuck_peer),
		cmocka_unit_test(test_half_close_stuck_pod),
		cmocka_unit_test(test_half_close_stream),
		cmocka_unit_test(test_backpressure),
#ifndef SL_TEST_KTLS
		cmocka_unit_test(test_bulk_buffers),
		cmocka_unit_test(test_bulk_tiers),
#endif
		cmocka_unit_test(test_keyupdate),
	};
	int ret;

	signal(SIGPIPE, SIG_IGN);
	if (KTLS) {
		ret = sl_ktls_probe();
		if (ret) {
			fprintf(stderr, "kernel TLS not available: %s\n",
				strerror(-ret));
			if (getenv("SL_REQUIRE_KTLS") &&
			    !strcmp(getenv("SL_REQUIRE_KTLS"), "1"))
				return 1;
			return 77;
		}
	}
	ret = rt_pki_init();
	if (ret) {
		fprintf(stderr, "test PKI: %s\n", strerror(-ret));
		return 1;
	}
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	rt_pki_fini();
	return ret;
}

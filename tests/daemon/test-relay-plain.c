/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The plain <-> plain relay (sl_relay_start_plain) over loopback TCP: a
 * "pod" end and a "far" end, both plaintext, the relay on a loop worker.
 * Half-close both ways, RST both ways, initial bytes, bulk data, the idle
 * timer, the half-close timeout and the live byte counters.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "relay_test.h"
#include "stats.h"

struct env {
	int pod; /* the test's pod end */
	int far; /* the test's far end */
	_Atomic uint64_t live[2];
	struct rt_run run;
};

/* p.up_sent of the next env_up: bytes the caller forwarded before */
static uint64_t env_up_sent;
/* the half-close timeout of the next env_up (ns); 0: the default */
static uint64_t env_half_ns;

static void env_up(struct env *e, uint64_t idle_ns, const void *initial,
		   uint32_t initial_len)
{
	int relay_pod, relay_far;

	memset(e, 0, sizeof(*e));
	assert_int_equal(rt_tcp_pair(&e->pod, &relay_pod, 0), 0);
	assert_int_equal(rt_tcp_pair(&e->far, &relay_far, 0), 0);
	assert_int_equal(fcntl(relay_pod, F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(fcntl(relay_far, F_SETFL, O_NONBLOCK), 0);
	e->run.plain = true;
	e->run.plain_fd = relay_pod;
	e->run.tls_fd = relay_far;
	e->run.initial = initial;
	e->run.initial_len = initial_len;
	e->run.p.idle_timeout_ns = idle_ns;
	e->run.p.buf_size = 64 * 1024;
	e->run.p.pipe_size = 64 * 1024;
	e->run.p.live_bytes = e->live;
	e->run.p.up_sent = env_up_sent;
	if (env_half_ns)
		sl_relay_half_close_timeout_set(env_half_ns);
	/* the relay has read the setting once this returns */
	assert_int_equal(rt_run_start(&e->run), 0);
	sl_relay_half_close_timeout_set(SL_RELAY_DEFAULT_HALF_CLOSE_NS);
	env_half_ns = 0;
	assert_int_equal(e->run.start_ret, 0);
}

static void env_down(struct env *e)
{
	assert_int_equal(rt_run_wait(&e->run, 10000), 1);
	if (e->pod >= 0)
		close(e->pod);
	if (e->far >= 0)
		close(e->far);
	assert_int_equal(rt_run_stop(&e->run), 1);
}

static void rst_close(int fd)
{
	struct linger lg = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* messages both ways, FIN one way (the other keeps flowing), then the
 * other way: a clean end with the byte counts */
static void test_halfclose(void **state)
{
	struct env e;
	char buf[16];

	(void)state;
	env_up(&e, 0, NULL, 0);
	assert_int_equal(rt_write_full(e.pod, "hello", 5), 0);
	assert_int_equal(rt_read_full(e.far, buf, 5), 0);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(rt_write_full(e.far, "world!", 6), 0);
	assert_int_equal(rt_read_full(e.pod, buf, 6), 0);
	assert_memory_equal(buf, "world!", 6);
	/* pod half-closes: the far end sees EOF, and can still answer */
	assert_int_equal(shutdown(e.pod, SHUT_WR), 0);
	assert_int_equal(rt_read_end(e.far), 0);
	assert_int_equal(rt_write_full(e.far, "late", 4), 0);
	assert_int_equal(rt_read_full(e.pod, buf, 4), 0);
	assert_memory_equal(buf, "late", 4);
	assert_int_equal(rt_run_wait(&e.run, 0), 0);
	assert_int_equal(shutdown(e.far, SHUT_WR), 0);
	assert_int_equal(rt_read_end(e.pod), 0);
	assert_int_equal(rt_run_wait(&e.run, 5000), 1);
	assert_int_equal(e.run.res.end, SL_RELAY_END_DONE);
	assert_false(e.run.res.ktls);
	assert_int_equal(e.run.res.bytes_plain_to_tls, 5);
	assert_int_equal(e.run.res.bytes_tls_to_plain, 10);
	assert_int_equal(atomic_load(&e.live[0]), 5);
	assert_int_equal(atomic_load(&e.live[1]), 10);
	env_down(&e);
}

/* bytes sent before the relay (with the preamble) count as pod -> mesh */
static void test_up_sent(void **state)
{
	struct env e;
	char buf[16];

	(void)state;
	env_up_sent = 7;
	env_up(&e, 0, NULL, 0);
	env_up_sent = 0;
	assert_int_equal(atomic_load(&e.live[0]), 7);
	assert_int_equal(rt_write_full(e.pod, "hello", 5), 0);
	assert_int_equal(rt_read_full(e.far, buf, 5), 0);
	assert_int_equal(shutdown(e.pod, SHUT_WR), 0);
	assert_int_equal(rt_read_end(e.far), 0);
	assert_int_equal(shutdown(e.far, SHUT_WR), 0);
	assert_int_equal(rt_read_end(e.pod), 0);
	assert_int_equal(rt_run_wait(&e.run, 5000), 1);
	assert_int_equal(e.run.res.end, SL_RELAY_END_DONE);
	assert_int_equal(e.run.res.bytes_plain_to_tls, 12);
	assert_int_equal(e.run.res.bytes_tls_to_plain, 0);
	assert_int_equal(atomic_load(&e.live[0]), 12);
	env_down(&e);
}

/* the far side half-closes first */
static void test_halfclose_far(void **state)
{
	struct env e;
	char buf[8];

	(void)state;
	env_up(&e, 0, NULL, 0);
	assert_int_equal(shutdown(e.far, SHUT_WR), 0);
	assert_int_equal(rt_read_end(e.pod), 0);
	assert_int_equal(rt_write_full(e.pod, "abc", 3), 0);
	assert_int_equal(rt_read_full(e.far, buf, 3), 0);
	assert_int_equal(shutdown(e.pod, SHUT_WR), 0);
	assert_int_equal(rt_read_end(e.far), 0);
	assert_int_equal(rt_run_wait(&e.run, 5000), 1);
	assert_int_equal(e.run.res.end, SL_RELAY_END_DONE);
	env_down(&e);
}

static void test_rst_pod(void **state)
{
	struct env e;
	char buf[4];

	(void)state;
	env_up(&e, 0, NULL, 0);
	assert_int_equal(rt_write_full(e.pod, "x", 1), 0);
	assert_int_equal(rt_read_full(e.far, buf, 1), 0);
	rst_close(e.pod);
	e.pod = -1;
	assert_int_equal(rt_read_end(e.far), -ECONNRESET);
	assert_int_equal(rt_run_wait(&e.run, 5000), 1);
	assert_int_equal(e.run.res.end, SL_RELAY_END_RESET_PLAIN);
	env_down(&e);
}

static void test_rst_far(void **state)
{
	struct env e;
	char buf[4];

	(void)state;
	env_up(&e, 0, NULL, 0);
	assert_int_equal(rt_write_full(e.far, "y", 1), 0);
	assert_int_equal(rt_read_full(e.pod, buf, 1), 0);
	rst_close(e.far);
	e.far = -1;
	assert_int_equal(rt_read_end(e.pod), -ECONNRESET);
	assert_int_equal(rt_run_wait(&e.run, 5000), 1);
	assert_int_equal(e.run.res.end, SL_RELAY_END_RESET_TLS);
	env_down(&e);
}

/* bytes read before the relay go to the pod first */
static void test_initial(void **state)
{
	struct env e;
	char buf[16];

	(void)state;
	env_up(&e, 0, "first", 5);
	assert_int_equal(rt_write_full(e.far, "second", 6), 0);
	assert_int_equal(rt_read_full(e.pod, buf, 11), 0);
	assert_memory_equal(buf, "firstsecond", 11);
	assert_int_equal(shutdown(e.far, SHUT_WR), 0);
	assert_int_equal(shutdown(e.pod, SHUT_WR), 0);
	assert_int_equal(rt_read_end(e.pod), 0);
	assert_int_equal(rt_read_end(e.far), 0);
	assert_int_equal(rt_run_wait(&e.run, 5000), 1);
	assert_int_equal(e.run.res.bytes_tls_to_plain, 11);
	env_down(&e);
}

struct writer {
	int fd;
	uint32_t seed;
	uint64_t len;
	int ret;
};

static void *writer_main(void *arg)
{
	struct writer *wr = arg;
	uint8_t buf[16384];

	for (uint64_t off = 0; off < wr->len && !wr->ret;) {
		size_t n = wr->len - off < sizeof(buf) ? wr->len - off
						       : sizeof(buf);

		rt_pattern(wr->seed, off, buf, n);
		wr->ret = rt_write_full(wr->fd, buf, n);
		off += n;
	}
	if (!wr->ret && shutdown(wr->fd, SHUT_WR))
		wr->ret = -errno;
	return NULL;
}

static void read_check(int fd, uint32_t seed, uint64_t len)
{
	uint8_t buf[16384], want[16384];

	for (uint64_t off = 0; off < len;) {
		size_t n = len - off < sizeof(buf) ? len - off : sizeof(buf);

		assert_int_equal(rt_read_full(fd, buf, n), 0);
		rt_pattern(seed, off, want, n);
		assert_memory_equal(buf, want, n);
		off += n;
	}
	assert_int_equal(rt_read_end(fd), 0);
}

/* 8 MiB each way at once, intact, then a clean end */
static void test_bulk(void **state)
{
	const uint64_t len = 8 * 1024 * 1024;
	struct writer up = { .seed = 1, .len = len };
	struct writer down = { .seed = 2, .len = len };
	pthread_t tu, td;
	struct env e;

	(void)state;
	env_up(&e, 0, NULL, 0);
	up.fd = e.pod;
	down.fd = e.far;
	assert_int_equal(pthread_create(&tu, NULL, writer_main, &up), 0);
	assert_int_equal(pthread_create(&td, NULL, writer_main, &down), 0);
	read_check(e.far, 1, len);
	read_check(e.pod, 2, len);
	pthread_join(tu, NULL);
	pthread_join(td, NULL);
	assert_int_equal(up.ret, 0);
	assert_int_equal(down.ret, 0);
	assert_int_equal(rt_run_wait(&e.run, 5000), 1);
	assert_int_equal(e.run.res.end, SL_RELAY_END_DONE);
	assert_int_equal(e.run.res.bytes_plain_to_tls, len);
	assert_int_equal(e.run.res.bytes_tls_to_plain, len);
	env_down(&e);
}

/* silence ends the flow with an RST both ways */
static void test_idle(void **state)
{
	struct env e;

	(void)state;
	env_up(&e, 200 * 1000000ull, NULL, 0);
	assert_int_equal(rt_run_wait(&e.run, 5000), 1);
	assert_int_equal(e.run.res.end, SL_RELAY_END_IDLE);
	assert_int_equal(rt_read_end(e.pod), -ECONNRESET);
	assert_int_equal(rt_read_end(e.far), -ECONNRESET);
	env_down(&e);
}

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
 * The pod sends a request and its FIN; the far end takes the FIN but never
 * reads, answers or closes: the half-close timeout ends the flow with an
 * RST both ways, long before the idle timeout (10 s here: the armed timer
 * is moved earlier), counted.
 */
static void test_half_close_stuck_far(void **state)
{
	uint64_t before = sl_stat_get(SL_STAT_RELAY_HALF_CLOSE), t0;
	struct env e;

	(void)state;
	env_half_ns = RT_HALF_MS * 1000000ull;
	env_up(&e, 10000 * 1000000ull, NULL, 0);
	assert_int_equal(rt_write_full(e.pod, "request", 7), 0);
	t0 = rt_now_ms();
	assert_int_equal(shutdown(e.pod, SHUT_WR), 0);
	expect_half_close_end(&e, t0, before);
	assert_int_equal(e.run.res.bytes_plain_to_tls, 7);
	/* the pod: an RST, never a clean end; the far end (FIN read or not):
	 * reset too */
	assert_int_equal(rt_read_end(e.pod), -ECONNRESET);
	assert_int_equal(rt_wait_reset(e.far, 2000), 0);
	env_down(&e);
}

/* the same the other way: the far end answered and closed, the pod never
 * reads nor closes (no idle timeout at all: the timer is armed then) */
static void test_half_close_stuck_pod(void **state)
{
	uint64_t before = sl_stat_get(SL_STAT_RELAY_HALF_CLOSE), t0;
	struct env e;

	(void)state;
	env_half_ns = RT_HALF_MS * 1000000ull;
	env_up(&e, 0, NULL, 0);
	assert_int_equal(rt_write_full(e.far, "response", 8), 0);
	t0 = rt_now_ms();
	assert_int_equal(shutdown(e.far, SHUT_WR), 0);
	expect_half_close_end(&e, t0, before);
	assert_int_equal(e.run.res.bytes_tls_to_plain, 8);
	assert_int_equal(rt_read_end(e.far), -ECONNRESET);
	assert_int_equal(rt_wait_reset(e.pod, 2000), 0);
	env_down(&e);
}

/*
 * After the pod's FIN the far end answers slowly, a chunk every 50 ms for
 * three half-close timeouts: every byte it sends restarts the timeout, so
 * nothing is cut and all of it arrives.  Then it either closes (@fin: a
 * clean end) or goes silent, and the flow ends one timeout later.
 */
static void half_close_stream(bool fin)
{
	uint64_t before = sl_stat_get(SL_STAT_RELAY_HALF_CLOSE), t0;
	uint8_t out[1000], in[1000];
	struct env e;

	env_half_ns = RT_HALF_MS * 1000000ull;
	env_up(&e, 0, NULL, 0);
	assert_int_equal(rt_write_full(e.pod, "request", 7), 0);
	assert_int_equal(shutdown(e.pod, SHUT_WR), 0);
	assert_int_equal(rt_read_full(e.far, in, 7), 0);
	assert_int_equal(rt_read_end(e.far), 0);
	for (int i = 0; i < STREAM_CHUNKS; i++) {
		usleep(STREAM_GAP_MS * 1000);
		rt_pattern(9, (uint64_t)i * sizeof(out), out, sizeof(out));
		assert_int_equal(rt_write_full(e.far, out, sizeof(out)), 0);
		assert_int_equal(rt_read_full(e.pod, in, sizeof(in)), 0);
		assert_memory_equal(in, out, sizeof(out));
		assert_int_equal(rt_run_wait(&e.run, 0), 0); /* not cut */
	}
	t0 = rt_now_ms();
	if (fin) {
		assert_int_equal(shutdown(e.far, SHUT_WR), 0);
		assert_int_equal(rt_read_end(e.pod), 0);
		assert_int_equal(rt_run_wait(&e.run, 5000), 1);
		assert_int_equal(e.run.res.end, SL_RELAY_END_DONE);
		assert_int_equal(sl_stat_get(SL_STAT_RELAY_HALF_CLOSE), before);
	} else {
		expect_half_close_end(&e, t0, before);
		assert_int_equal(rt_read_end(e.pod), -ECONNRESET);
	}
	assert_int_equal(e.run.res.bytes_tls_to_plain,
			 STREAM_CHUNKS * sizeof(out));
	env_down(&e);
}

static void test_half_close_stream_done(void **state)
{
	(void)state;
	half_close_stream(true);
}

static void test_half_close_stream_stalls(void **state)
{
	(void)state;
	half_close_stream(false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_halfclose),
		cmocka_unit_test(test_up_sent),
		cmocka_unit_test(test_halfclose_far),
		cmocka_unit_test(test_rst_pod),
		cmocka_unit_test(test_rst_far),
		cmocka_unit_test(test_initial),
		cmocka_unit_test(test_bulk),
		cmocka_unit_test(test_idle),
		cmocka_unit_test(test_half_close_stuck_far),
		cmocka_unit_test(test_half_close_stuck_pod),
		cmocka_unit_test(test_half_close_stream_done),
		cmocka_unit_test(test_half_close_stream_stalls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The worker loop: start/stop of several workers, timers, timer cancel,
 * deferred work, worker references; the admin socket's "stats" answer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon.h"
#include "loop.h"
#include "util.h"
#include "stats.h"
#include "admin.h"
#include "admission.h"
#include "entry.h"
#include "handoff.h"
#include "sock.h"

struct wstate {
	struct sl_worker *w;
	struct sl_op fire, never;
	struct __kernel_timespec ts_fire, ts_never;
	int fired, never_res, deferred, stopped;
};

static struct wstate states[2];

static void deferred(void *arg)
{
	struct wstate *s = arg;

	s->deferred++;
	sl_worker_unref(s->w); /* taken in start: the loop may now end */
}

static void never_done(struct sl_op *op, int res, uint32_t flags)
{
	struct wstate *s = sl_container_of(op, struct wstate, never);

	s->never_res = res;
}

static void fire_done(struct sl_op *op, int res, uint32_t flags)
{
	struct wstate *s = sl_container_of(op, struct wstate, fire);

	if (res == -ETIME)
		s->fired++;
	sl_worker_timeout_cancel(s->w, &s->never);
	sl_worker_defer(s->w, deferred, s);
}

static int start(struct sl_worker *w, void *arg)
{
	struct wstate *s = &states[sl_worker_id(w)];

	s->w = w;
	s->fire.fn = fire_done;
	s->never.fn = never_done;
	sl_ns_to_ts(20000000, &s->ts_fire);
	sl_ns_to_ts(3600ULL * 1000000000ULL, &s->ts_never);
	sl_worker_ref(w);
	sl_worker_timeout(w, &s->fire, &s->ts_fire);
	sl_worker_timeout(w, &s->never, &s->ts_never);
	return 0;
}

static void stop(struct sl_worker *w, void *arg)
{
	states[sl_worker_id(w)].stopped++;
}

static void test_workers(void **state)
{
	struct sl_worker_hooks hooks = { .start = start, .stop = stop };
	struct sl_worker **ws;

	assert_int_equal(sl_workers_start(2, &hooks, NULL, &ws), 0);
	usleep(100000);
	for (int i = 0; i < 2; i++)
		sl_worker_request_stop(ws[i]);
	assert_int_equal(sl_workers_join(ws, 2), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(states[i].fired, 1);
		assert_int_equal(states[i].deferred, 1);
		assert_int_equal(states[i].never_res, -ECANCELED);
		assert_int_equal(states[i].stopped, 1);
	}
}

static int fail_start(struct sl_worker *w, void *arg)
{
	return sl_worker_id(w) == 1 ? -EADDRINUSE : 0;
}

static void test_start_failure(void **state)
{
	struct sl_worker_hooks hooks = { .start = fail_start };
	struct sl_worker **ws = NULL;

	assert_int_equal(sl_workers_start(3, &hooks, NULL, &ws), -EADDRINUSE);
	assert_null(ws);
}

/* ---- heartbeat: a worker stuck in a handler is reported stalled ------ */

static int stuck_pipe[2];

static void stuck(void *arg)
{
	char c;

	/* block this worker's loop until the test writes a byte */
	while (read(stuck_pipe[0], &c, 1) < 0)
		;
}

static int stuck_start(struct sl_worker *w, void *arg)
{
	if (sl_worker_id(w) == 1)
		return sl_worker_defer(w, stuck, NULL);
	return 0;
}

static void test_heartbeat(void **state)
{
	struct sl_worker_hooks hooks = { .start = stuck_start };
	struct sl_worker **ws;
	uint64_t age = 0;
	int i;

	assert_int_equal(pipe(stuck_pipe), 0);
	assert_int_equal(sl_workers_start(2, &hooks, NULL, &ws), 0);
	usleep(3500000);
	/* worker 1 has not run its loop since the start: older than 2 s */
	assert_int_equal(sl_workers_stalled(ws, 2, sl_now_ns(), 2000000000ULL,
					    &age),
			 1);
	assert_true(age > 2000000000ULL);
	/* worker 0 stamps every second: alive (generous bound) */
	assert_int_equal(sl_workers_stalled(ws, 1, sl_now_ns(), 3000000000ULL,
					    NULL),
			 -1);
	/* released, worker 1 stamps again within a heartbeat or two */
	assert_int_equal(write(stuck_pipe[1], "x", 1), 1);
	for (i = 0; i < 100; i++) {
		if (sl_workers_stalled(ws, 2, sl_now_ns(), 3000000000ULL,
				       NULL) < 0)
			break;
		usleep(100000);
	}
	assert_true(i < 100);
	for (i = 0; i < 2; i++)
		sl_worker_request_stop(ws[i]);
	assert_int_equal(sl_workers_join(ws, 2), 0);
	close(stuck_pipe[0]);
	close(stuck_pipe[1]);
}

/* ---- admin socket ---------------------------------------------------- */

static char admin_path[108];
static struct sl_wctx admin_wc;

static int admin_start(struct sl_worker *w, void *arg)
{
	admin_wc.w = w;
	return sl_admin_open(&admin_wc, admin_path, &admin_wc.admin);
}

static void admin_stop(struct sl_worker *w, void *arg)
{
	sl_admin_close(admin_wc.admin);
}

static void test_admin(void **state)
{
	struct sl_worker_hooks hooks = { .start = admin_start, .stop = admin_stop };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct sl_worker **ws;
	char buf[8192];
	size_t got = 0;
	ssize_t n;
	int fd;

	snprintf(admin_path, sizeof(admin_path), "/tmp/sl-test-admin-%d.sock",
		 (int)getpid());
	sl_stat_inc(SL_STAT_SHED);
	sl_stats_hs_fail(SL_TLS_FAIL_UNTRUSTED);
	assert_int_equal(sl_workers_start(1, &hooks, NULL, &ws), 0);

	strcpy(sun.sun_path, admin_path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(write(fd, "stats\n", 6), 6);
	while ((n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(fd);
	if (getuid() == 0) {
		assert_non_null(strstr(buf, "\"shed\":1"));
		assert_non_null(strstr(buf, "\"untrusted\":1"));
		assert_non_null(strstr(buf, "\"flows_active\":0"));
		assert_true(got > 0 && buf[got - 1] == '\n');
		/* an unknown command gets an error object */
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
		assert_int_equal(write(fd, "bogus\n", 6), 6);
		got = 0;
		while ((n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
			got += (size_t)n;
		buf[got] = '\0';
		close(fd);
		assert_string_equal(buf, "{\"error\":\"unknown command\"}\n");
	} else {
		/* only root may ask */
		assert_int_equal(got, 0);
	}
	sl_worker_request_stop(ws[0]);
	assert_int_equal(sl_workers_join(ws, 1), 0);
	if (getuid() != 0)
		assert_int_equal(sl_stat_get(SL_STAT_ADMIN_REFUSED), 1);
	/* the socket is removed at close */
	assert_int_equal(access(admin_path, F_OK), -1);
}

/* the connection cap: over it a new flow is shed and counted */
static void test_admission(void **state)
{
	struct sl_daemon d = { .cap[SL_BUDGET_OUTBOUND] = 2 };
	uint64_t shed = sl_stat_get(SL_STAT_SHED);

	assert_true(sl_flow_admit(&d));
	assert_true(sl_flow_admit(&d));
	assert_false(sl_flow_admit(&d));
	assert_int_equal(sl_stat_get(SL_STAT_SHED), shed + 1);
	sl_flow_release();
	assert_true(sl_flow_admit(&d));
	assert_false(sl_flow_admit(&d));
	assert_int_equal(sl_stat_get(SL_STAT_SHED), shed + 2);
	sl_flow_release();
	sl_flow_release();
	assert_true(sl_flow_admit(&d));
	sl_flow_release();
}

static int room_calls;
static bool make_room_no(void *arg)
{
	room_calls++;
	return false;
}

static struct sl_admission racer;
static const struct sl_ip *racer_src;
static int racer_ret;

/* ends the victim; meanwhile another worker accepts a connection (it must
 * not get the victim's place: that goes to the one being admitted) */
static bool make_room_yes(void *arg)
{
	struct sl_admission *victim = arg;

	room_calls++;
	sl_admission_hand_over(sl_daemon, victim);
	racer_ret = sl_admission_pending(sl_daemon, racer_src, NULL, NULL, &racer);
	return true;
}

/* the budgets are separate: pending handshakes (capped in total and per
 * source) never take an outbound place; an authenticated one moves to the
 * inbound budget, refused when that is full; make_room is asked once */
static void test_admission_budgets(void **state)
{
	struct sl_daemon d = {
		.cap[SL_BUDGET_OUTBOUND] = 1,
		.cap[SL_BUDGET_INBOUND] = 1,
		.cap[SL_BUDGET_PENDING] = 3,
	};
	struct sl_admission a[4], b;
	struct sl_ip src1, src2, src3;
	uint64_t shed = sl_stat_get(SL_STAT_SHED);

	assert_int_equal(sl_ip_parse("198.18.1.12", &src1), 0);
	assert_int_equal(sl_ip_parse("198.18.1.13", &src2), 0);
	assert_int_equal(sl_ip_parse("198.18.1.14", &src3), 0);
	assert_int_equal(sl_srclimit_new(2, 64, &d.srclimit), 0);
	sl_daemon = &d;
	assert_int_equal(sl_admission_pending(&d, &src1, NULL, NULL, &a[0]), 0);
	assert_int_equal(sl_admission_pending(&d, &src1, NULL, NULL, &a[1]), 0);
	/* the source's cap */
	assert_int_equal(sl_admission_pending(&d, &src1, NULL, NULL, &a[2]), -EBUSY);
	assert_int_equal(sl_stat_get(SL_STAT_SHED_PER_SOURCE), 1);
	assert_int_equal(sl_admission_pending(&d, &src2, NULL, NULL, &a[2]), 0);
	assert_int_equal(sl_budget_used(SL_BUDGET_PENDING), 3);
	/* the pending cap: make_room is asked, refuses: shed */
	room_calls = 0;
	assert_int_equal(sl_admission_pending(&d, &src2, make_room_no, NULL, &a[3]), -ENOSPC);
	assert_int_equal(room_calls, 1);
	assert_int_equal(sl_stat_get(SL_STAT_SHED_PENDING), 1);
	/* make_room ends a[2]: the new one takes its place, not a connection
	 * another worker accepts meanwhile (shed, the cap is still full) */
	racer_src = &src3;
	racer_ret = 0;
	assert_int_equal(sl_admission_pending(&d, &src2, make_room_yes, &a[2], &a[3]), 0);
	assert_int_equal(room_calls, 2);
	assert_int_equal(racer_ret, -ENOSPC);
	assert_int_equal(sl_stat_get(SL_STAT_SHED_PENDING), 2);
	assert_int_equal(sl_budget_used(SL_BUDGET_PENDING), 3);
	assert_int_equal(sl_srclimit_count(d.srclimit, &src2), 1);
	assert_int_equal(sl_srclimit_count(d.srclimit, &src3), 0);
	/* all pending: the outbound budget is untouched */
	assert_true(sl_flow_admit(&d));
	sl_flow_release();
	/* authenticated: pending -> inbound, the source's count goes */
	assert_int_equal(sl_admission_authenticated(&d, &a[0]), 0);
	assert_int_equal(a[0].budget, SL_BUDGET_INBOUND);
	assert_int_equal(sl_budget_used(SL_BUDGET_INBOUND), 1);
	assert_int_equal(sl_budget_used(SL_BUDGET_PENDING), 2);
	assert_int_equal(sl_srclimit_count(d.srclimit, &src1), 1);
	assert_int_equal(sl_admission_pending(&d, &src1, NULL, NULL, &b), 0);
	/* inbound full: refused, still pending */
	assert_int_equal(sl_admission_authenticated(&d, &a[1]), -ENOSPC);
	assert_int_equal(a[1].budget, SL_BUDGET_PENDING);
	assert_int_equal(sl_stat_get(SL_STAT_SHED_INBOUND), 1);
	assert_int_equal(sl_stat_get(SL_STAT_SHED), shed + 4);
	/* release, twice: once */
	sl_admission_release(&d, &a[0]);
	sl_admission_release(&d, &a[0]);
	sl_admission_release(&d, &a[1]);
	sl_admission_release(&d, &a[3]);
	sl_admission_release(&d, &b);
	for (int i = SL_BUDGET_OUTBOUND; i < SL_BUDGET__MAX; i++)
		assert_int_equal(sl_budget_used(i), 0);
	assert_int_equal(sl_srclimit_count(d.srclimit, &src1), 0);
	assert_int_equal(sl_srclimit_count(d.srclimit, &src2), 0);
	sl_daemon = NULL;
	sl_admission_free(&d);
}

/* same-node handoff table: put/take once, drop, no duplicates */
static void test_handoff(void **state)
{
	struct sl_ip a = { .family = AF_INET }, out;

	a.v4.s_addr = htonl(0xc612010c); /* 198.18.1.12 */
	assert_int_equal(sl_handoff_take(40000, &out), -ENOENT);
	assert_int_equal(sl_handoff_put(40000, &a), 0);
	assert_int_equal(sl_handoff_put(40000, &a), -EEXIST);
	assert_int_equal(sl_handoff_take(40000, &out), 0);
	assert_int_equal(out.family, AF_INET);
	assert_int_equal(out.v4.s_addr, a.v4.s_addr);
	assert_int_equal(sl_handoff_take(40000, &out), -ENOENT);
	assert_int_equal(sl_handoff_put(65535, &a), 0);
	sl_handoff_drop(65535);
	assert_int_equal(sl_handoff_take(65535, &out), -ENOENT);
}

/* v4-mapped IPv6 peers (dual-stack sockets) count as IPv4 */
static void test_sockaddr(void **state)
{
	struct sockaddr_storage ss;
	struct sl_ip ip, back;
	uint16_t port = 0;

	assert_int_equal(sl_ip_parse("::ffff:198.18.1.11", &ip), 0);
	sl_ip_to_sockaddr(&ip, 15001, &ss);
	assert_int_equal(sl_sockaddr_to_ip(&ss, &back, &port), 0);
	assert_int_equal(back.family, AF_INET);
	assert_int_equal(ntohl(back.v4.s_addr), 0xc612010b);
	assert_int_equal(port, 15001);
	assert_int_equal(sl_ip_parse("fd00:5a1c:2::11", &ip), 0);
	sl_ip_to_sockaddr(&ip, 7, &ss);
	assert_int_equal(sl_sockaddr_to_ip(&ss, &back, &port), 0);
	assert_true(sl_ip_equal(&ip, &back));
	assert_false(sl_ip_is_loopback(&back));
	assert_int_equal(sl_ip_parse("127.0.0.1", &ip), 0);
	assert_true(sl_ip_is_loopback(&ip));
	assert_int_equal(sl_ip_parse("::1", &ip), 0);
	assert_true(sl_ip_is_loopback(&ip));
	ss.ss_family = AF_UNIX;
	assert_int_equal(sl_sockaddr_to_ip(&ss, &back, &port), -EAFNOSUPPORT);
}

/* busy polling: completions within the window are found without a sleep
 * (hits), the window ends (miss), and an idle worker does not spin */
#define BP_CHAIN 50

struct bpstate {
	struct sl_worker *w;
	struct sl_op tick;
	struct __kernel_timespec ts;
	uint64_t window_ns;
	int ticks;
};

static struct bpstate bp;

static void bp_tick(struct sl_op *op, int res, uint32_t flags)
{
	if (res != -ETIME)
		return;
	if (++bp.ticks < BP_CHAIN)
		sl_worker_timeout(bp.w, &bp.tick, &bp.ts);
}

static int bp_start(struct sl_worker *w, void *arg)
{
	bp.w = w;
	bp.tick.fn = bp_tick;
	sl_ns_to_ts(200000, &bp.ts); /* 200 us apart, well inside the window */
	sl_worker_set_busy_poll(w, bp.window_ns);
	sl_worker_timeout(w, &bp.tick, &bp.ts);
	return 0;
}

static double process_cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void run_chain(uint64_t window_ns, uint64_t *hits, uint64_t *misses,
		      double *idle_cpu_ms)
{
	struct sl_worker_hooks hooks = { .start = bp_start };
	struct sl_worker **ws;
	double t0;

	memset(&bp, 0, sizeof(bp));
	bp.window_ns = window_ns;
	assert_int_equal(sl_workers_start(1, &hooks, NULL, &ws), 0);
	for (int i = 0; i < 500 && bp.ticks < BP_CHAIN; i++)
		usleep(10000);
	assert_int_equal(bp.ticks, BP_CHAIN);
	usleep(20000); /* the last window (5 ms) runs out */
	t0 = process_cpu_ms();
	usleep(300000); /* idle */
	*idle_cpu_ms = process_cpu_ms() - t0;
	sl_worker_busy_poll_stats(ws[0], hits, misses);
	sl_worker_request_stop(ws[0]);
	assert_int_equal(sl_workers_join(ws, 1), 0);
}

static void test_busy_poll(void **state)
{
	uint64_t hits, misses;
	double idle_ms;

	run_chain(5000000, &hits, &misses, &idle_ms);
	/* each tick after the first comes within a window */
	assert_true(hits >= BP_CHAIN / 2);
	assert_true(misses >= 1);
	/* idle: blocked in the kernel, not spinning (300 ms of wall time) */
	assert_true(idle_ms < 100.0);

	/* off: never polls */
	run_chain(0, &hits, &misses, &idle_ms);
	assert_int_equal(hits, 0);
	assert_int_equal(misses, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_workers),
		cmocka_unit_test(test_busy_poll),
		cmocka_unit_test(test_start_failure),
		cmocka_unit_test(test_heartbeat),
		cmocka_unit_test(test_admin),
		cmocka_unit_test(test_admission),
		cmocka_unit_test(test_admission_budgets),
		cmocka_unit_test(test_handoff),
		cmocka_unit_test(test_sockaddr),
	};
	int ret = sl_loop_probe();

	if (ret == -ENOSYS || ret == -EPERM) {
		fprintf(stderr, "SKIP: io_uring not available\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}

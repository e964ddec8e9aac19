/* SPDX-License-Identifier: Apache-2.0 */
/*
 * systemd notification (daemon/core/notify.c) against real workers: the
 * watchdog's verdict (every worker's heartbeat advanced since the last
 * feed), and the notify thread on a NOTIFY_SOCKET this test owns: READY=1
 * only once the readiness test says so (STATUS says why not before),
 * WATCHDOG=1 while the workers run, none while one is stuck (and /healthz
 * answers 503 naming it), the feed back once it runs again, RELOADING=1
 * with MONOTONIC_USEC then READY=1, no feed once a worker's loop ended,
 * STOPPING=1 and nothing after it;
 * /healthz before the workers run, and during a drain that one worker
 * has finished before the other.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon.h"
#include "loop.h"
#include "notify.h"
#include "obs.h"
#include "util.h"

/* ---- a worker that can be made stuck ----------------------------------- */

static int stuck_pipe[2];
static struct sl_post stuck_post;

static void stuck_fn(struct sl_post *p)
{
	char c;

	/* block this worker's loop until the test writes a byte */
	while (read(stuck_pipe[0], &c, 1) < 0)
		;
}

static void make_stuck(struct sl_worker *w)
{
	stuck_post.fn = stuck_fn;
	sl_worker_post(w, &stuck_post);
}

static void release(void)
{
	assert_int_equal(write(stuck_pipe[1], "x", 1), 1);
}

static struct sl_worker **start_workers(unsigned int n)
{
	struct sl_worker_hooks hooks = { 0 };
	struct sl_worker **ws = NULL;

	assert_int_equal(pipe(stuck_pipe), 0);
	assert_int_equal(sl_workers_start(n, &hooks, NULL, &ws), 0);
	return ws;
}

static void stop_workers(struct sl_worker **ws, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		sl_worker_request_stop(ws[i]);
	assert_int_equal(sl_workers_join(ws, n), 0);
	close(stuck_pipe[0]);
	close(stuck_pipe[1]);
}

/* ---- the verdict -------------------------------------------------------- */

static void test_wd_verdict(void **state)
{
	struct sl_worker **ws = start_workers(2);
	struct sl_notify_wd wd;
	int i;

	assert_int_equal(sl_notify_wd_init(&wd, ws, 2), 0);
	make_stuck(ws[1]);
	usleep(2200000);
	/* worker 0 beat twice since; worker 1 is stuck in a handler */
	assert_int_equal(sl_notify_wd_check(&wd, ws), 1);
	assert_int_equal(sl_notify_wd_check(&wd, ws), 1);
	release();
	for (i = 0; i < 30; i++) {
		if (sl_notify_wd_check(&wd, ws) < 0)
			break;
		usleep(100000);
	}
	assert_true(i < 30);
	/* just fed: no heartbeat is newer than the feed yet */
	assert_int_equal(sl_notify_wd_check(&wd, ws), 0);
	sl_notify_wd_free(&wd);
	sl_notify_wd_free(&wd); /* idempotent */
	stop_workers(ws, 2);
}

/* ---- the notify thread, seen from "systemd" ------------------------------ */

static int sd_fd = -1;
static char sd_path[108];

struct msg {
	uint64_t at; /* sl_now_ns */
	char text[512];
};

/* the next message within @timeout_ms into @m; false on timeout */
static bool next_msg(struct msg *m, int timeout_ms)
{
	struct pollfd p = { .fd = sd_fd, .events = POLLIN };
	ssize_t r;

	if (poll(&p, 1, timeout_ms) != 1)
		return false;
	r = recv(sd_fd, m->text, sizeof(m->text) - 1, 0);
	assert_true(r > 0);
	m->text[r] = '\0';
	m->at = sl_now_ns();
	return true;
}

/* wait for a message containing @want (others are skipped, but none may
 * contain @never); fails after @timeout_ms */
static void expect_msg(const char *want, const char *never, int timeout_ms,
		       struct msg *out)
{
	uint64_t end = sl_now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	struct msg m;

	for (;;) {
		uint64_t now = sl_now_ns();

		if (now >= end || !next_msg(&m, (int)((end - now) / 1000000)))
			fail_msg("no message with '%s' within %d ms", want,
				 timeout_ms);
		if (never && strstr(m.text, never))
			fail_msg("'%s' arrived while waiting for '%s': %s", never,
				 want, m.text);
		if (strstr(m.text, want))
			break;
	}
	if (out)
		*out = m;
}

/* no message containing @never within @ms */
static void expect_none(const char *never, int ms)
{
	uint64_t end = sl_now_ns() + (uint64_t)ms * 1000000ULL;
	struct msg m;

	for (;;) {
		uint64_t now = sl_now_ns();

		if (now >= end || !next_msg(&m, (int)((end - now) / 1000000)))
			return;
		if (strstr(m.text, never))
			fail_msg("'%s' arrived: %s", never, m.text);
	}
}

static bool ready_now;

static bool fake_ready(struct sl_daemon *d, char *why, size_t len)
{
	if (!__atomic_load_n(&ready_now, __ATOMIC_ACQUIRE)) {
		snprintf(why, len, "test: certificates missing");
		return false;
	}
	return true;
}

static int http_get(uint16_t port, const char *path, char *buf, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	char req[128];
	size_t got = 0;
	ssize_t r;
	int fd, status = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (got < len - 1 && (r = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)r;
	buf[got] = '\0';
	close(fd);
	sscanf(buf, "HTTP/1.%*d %d", &status);
	return status;
}

static void test_thread(void **state)
{
	struct sl_worker **ws = start_workers(2);
	struct sl_daemon d = { .workers = ws, .n_workers = 2 };
	struct sl_obs_opts oo = { .http_port = 0, .stall_ns = 1500000000ULL };
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct msg m, m2;
	char body[512];
	uint64_t t0, mono;
	const char *p;

	d.o.grace_ns = 3000000000ULL;
	pthread_mutex_init(&d.cfg_lock, NULL);
	snprintf(sd_path, sizeof(sd_path), "/tmp/sl-notify-test-%d.sock",
		 (int)getpid());
	unlink(sd_path);
	sd_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(sd_fd >= 0);
	sl_strlcpy(a.sun_path, sd_path, sizeof(a.sun_path));
	assert_int_equal(bind(sd_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	setenv("NOTIFY_SOCKET", sd_path, 1);
	/* half of it, 2 s, always sees a new heartbeat (one a second) */
	setenv("WATCHDOG_USEC", "4000000", 1);
	unsetenv("WATCHDOG_PID");
	assert_int_equal(sl_obs_start(&d, &oo), 0);
	assert_true(sl_obs_http_port() > 0);

	/* not ready: STATUS says why, and READY=1 waits */
	assert_int_equal(sl_notify_start(&d, fake_ready), 0);
	expect_msg("STATUS=waiting: test: certificates missing", "READY=1",
		   2000, NULL);
	expect_none("READY=1", 1000);
	/* a reload before READY=1 sends no RELOADING=1 and no READY=1 */
	sl_notify_reloading();
	sl_notify_reloaded();
	expect_msg("STATUS=starting: reloading", "READY=1", 1000, NULL);
	expect_none("READY=1", 300);
	__atomic_store_n(&ready_now, true, __ATOMIC_RELEASE);
	expect_msg("READY=1", NULL, 2000, &m);
	assert_non_null(strstr(m.text, "STATUS=serving, no configuration"));

	/* the watchdog is fed while both loops run */
	expect_msg("WATCHDOG=1", NULL, 3000, NULL);
	expect_msg("WATCHDOG=1", NULL, 3000, NULL);
	assert_int_equal(http_get(sl_obs_http_port(), "/healthz", body,
				  sizeof(body)), 200);

	/* worker 1 stuck: at most one feed still in flight (a heartbeat from
	 * before), then none; /healthz names it */
	make_stuck(ws[1]);
	t0 = sl_now_ns();
	while (next_msg(&m, 100) || sl_now_ns() - t0 < 2100000000ULL)
		;
	expect_none("WATCHDOG=1", 2500);
	assert_int_equal(http_get(sl_obs_http_port(), "/healthz", body,
				  sizeof(body)), 503);
	assert_non_null(strstr(body, "worker 1 stalled"));

	/* released: fed again, healthy again */
	release();
	expect_msg("WATCHDOG=1", NULL, 4500, NULL);
	assert_int_equal(http_get(sl_obs_http_port(), "/healthz", body,
				  sizeof(body)), 200);

	/* a reload: RELOADING=1 with the time, then READY=1 */
	t0 = sl_now_ns() / 1000;
	sl_notify_reloading();
	expect_msg("RELOADING=1", NULL, 1000, &m);
	p = strstr(m.text, "MONOTONIC_USEC=");
	assert_non_null(p);
	mono = strtoull(p + strlen("MONOTONIC_USEC="), NULL, 10);
	assert_true(mono >= t0 && mono < t0 + 1000000);
	sl_notify_serving(); /* during the reload: nothing */
	sl_notify_reloaded();
	/* the next message (a WATCHDOG=1 may come between) is READY=1 */
	do
		assert_true(next_msg(&m2, 1000));
	while (strcmp(m2.text, "WATCHDOG=1") == 0);
	assert_string_equal(m2.text, "READY=1\nSTATUS=serving, no configuration");
	sl_notify_serving();
	expect_msg("STATUS=serving", "READY=1", 1000, NULL);

	/* a worker's loop ended (its fini hook): no more feeds, though the
	 * other heartbeats go on */
	expect_msg("WATCHDOG=1", NULL, 3000, NULL);
	sl_notify_worker_ended();
	expect_none("WATCHDOG=1", 2500);

	/* the drain: STOPPING=1, then no READY=1 or WATCHDOG=1 */
	sl_notify_stopping(d.o.grace_ns);
	expect_msg("STOPPING=1", NULL, 1000, &m);
	assert_non_null(strstr(m.text, "STATUS=draining 0 flows (grace 3000 ms)"));
	sl_notify_reloading();
	sl_notify_reloaded();
	sl_notify_serving();
	expect_none("=", 2500);

	sl_notify_stop();
	sl_notify_stop(); /* idempotent */
	sl_obs_stop();
	stop_workers(ws, 2);
	pthread_mutex_destroy(&d.cfg_lock);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	close(sd_fd);
	unlink(sd_path);
}

/* before the workers run, /healthz says so (it said "stopping") */
static void test_healthz_starting(void **state)
{
	struct sl_daemon d = { 0 };
	struct sl_obs_opts oo = { .http_port = 0 };
	char body[512];

	assert_int_equal(sl_obs_start(&d, &oo), 0);
	assert_int_equal(http_get(sl_obs_http_port(), "/healthz", body,
				  sizeof(body)), 503);
	assert_non_null(strstr(body, "\r\n\r\nstarting\n"));
	sl_obs_stop();
}

/*
 * The drain: worker 0 has ended while worker 1 still holds a flow.  The
 * telemetry thread reads the workers (/healthz) all along, so no worker
 * may be freed before every one has ended (ASan reports a use after free
 * otherwise).
 */
static struct sl_post unref_post;
static struct sl_worker *ref_w;

static void unref_fn(struct sl_post *p)
{
	sl_worker_unref(ref_w);
}

static int ref_start(struct sl_worker *w, void *arg)
{
	if (sl_worker_id(w) == 1)
		sl_worker_ref(w); /* a flow that outlives worker 0 */
	return 0;
}

static void *join_thread(void *arg)
{
	struct sl_daemon *d = arg;

	return (void *)(intptr_t)sl_workers_join(d->workers, d->n_workers);
}

static void test_healthz_during_drain(void **state)
{
	struct sl_worker_hooks hooks = { .start = ref_start };
	struct sl_obs_opts oo = { .http_port = 0 };
	struct sl_daemon d = { .n_workers = 2 };
	struct sl_worker **ws = NULL;
	pthread_t joiner;
	char body[512];
	void *res;

	assert_int_equal(sl_workers_start(2, &hooks, NULL, &ws), 0);
	d.workers = ws;
	ref_w = ws[1];
	assert_int_equal(sl_obs_start(&d, &oo), 0);
	/* worker 0's loop ends (no stop of the daemon): joined, not freed */
	sl_worker_request_stop(ws[0]);
	assert_int_equal(pthread_create(&joiner, NULL, join_thread, &d), 0);
	usleep(300000);
	for (int i = 0; i < 3; i++)
		assert_int_equal(http_get(sl_obs_http_port(), "/healthz", body,
					  sizeof(body)), 503);
	/* the daemon stops (as main: the flag first); worker 1 drains */
	__atomic_store_n(&d.stopping, true, __ATOMIC_RELEASE);
	sl_worker_request_stop(ws[1]);
	assert_int_equal(http_get(sl_obs_http_port(), "/healthz", body,
				  sizeof(body)), 503);
	assert_non_null(strstr(body, "\r\n\r\nstopping\n"));
	unref_post.fn = unref_fn;
	sl_worker_post(ref_w, &unref_post);
	assert_int_equal(pthread_join(joiner, &res), 0);
	assert_int_equal((intptr_t)res, 0);
	/* freed: /healthz (main stops telemetry later) still reads none */
	assert_int_equal(http_get(sl_obs_http_port(), "/healthz", body,
				  sizeof(body)), 503);
	assert_non_null(strstr(body, "\r\n\r\nstopping\n"));
	sl_obs_stop();
}

/* not under systemd: nothing starts, nothing is sent, nothing fails */
static void test_no_socket(void **state)
{
	struct sl_daemon d = { 0 };

	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(sl_notify_start(&d, fake_ready), 0);
	sl_notify_status("starting: %s", "test");
	sl_notify_reloading();
	sl_notify_reloaded();
	sl_notify_stopping(0);
	sl_notify_stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wd_verdict),
		cmocka_unit_test(test_thread),
		cmocka_unit_test(test_no_socket),
		cmocka_unit_test(test_healthz_starting),
		cmocka_unit_test(test_healthz_during_drain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The admin socket (daemon/control/admin.c) on a real worker loop: request framing
 * (a lone NUL byte, CRLF, an over-long line), the cap on open connections
 * (a new one closes the oldest idle one, so a command still gets through
 * while many idle connections are held) and the idle deadline (issue 24).
 * Peers must be uid 0: the test skips otherwise.
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "admin.h"
#include "daemon.h"
#include "loop.h"
#include "stats.h"

static struct {
	struct sl_daemon d;
	struct sl_wctx wc;
	struct sl_worker **ws;
	char dir[64], path[96];
} ta;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int w_start(struct sl_worker *w, void *arg)
{
	ta.wc.d = &ta.d;
	ta.wc.w = w;
	return sl_admin_open(&ta.wc, ta.path, &ta.wc.admin);
}

static void w_stop(struct sl_worker *w, void *arg)
{
	sl_admin_close(ta.wc.admin);
	ta.wc.admin = NULL;
}

static int setup(void **state)
{
	static const struct sl_worker_hooks hooks = { .start = w_start,
						      .stop = w_stop };

	memset(&ta, 0, sizeof(ta));
	strcpy(ta.dir, "/tmp/sl-admin-XXXXXX");
	if (!mkdtemp(ta.dir))
		return -1;
	snprintf(ta.path, sizeof(ta.path), "%s/admin.sock", ta.dir);
	return sl_workers_start(1, &hooks, NULL, &ta.ws);
}

static int teardown(void **state)
{
	sl_worker_request_stop(ta.ws[0]);
	sl_workers_join(ta.ws, 1);
	rmdir(ta.dir);
	return 0;
}

static int dial(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	strcpy(sun.sun_path, ta.path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

/* send @len bytes of @req, then EOF; the answer, read until EOF within
 * @ms (NULL on timeout) */
static char *ask_within(const void *req, size_t len, int ms)
{
	static char buf[65536];
	uint64_t end = now_ms() + (uint64_t)ms;
	struct pollfd pfd = { .fd = dial(), .events = POLLIN };
	size_t got = 0;
	bool done = false;

	assert_int_equal(send(pfd.fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
	shutdown(pfd.fd, SHUT_WR);
	while (!done && now_ms() < end) {
		ssize_t r;

		if (poll(&pfd, 1, (int)(end - now_ms())) <= 0)
			continue;
		r = recv(pfd.fd, buf + got, sizeof(buf) - 1 - got, 0);
		if (r < 0)
			fail_msg("answer to a %zu-byte request: %s", len,
				 strerror(errno));
		got += (size_t)r;
		done = r == 0;
	}
	buf[got] = '\0';
	close(pfd.fd);
	return done ? buf : NULL;
}

static char *ask(const void *req, size_t len)
{
	char *a = ask_within(req, len, 2000);

	assert_non_null(a);
	return a;
}

static void test_framing(void **state)
{
	char big[SL_ADMIN_REQ_MAX + 40];
	char *a;

	a = ask("stats\n", 6);
	assert_true(strncmp(a, "{\"flows_opened\":", 16) == 0);
	assert_null(strstr(a, "{\"error\":"));
	a = ask("stats\r\n", 7);
	assert_true(strncmp(a, "{\"flows_opened\":", 16) == 0);
	a = ask("stats", 5); /* ended by EOF */
	assert_true(strncmp(a, "{\"flows_opened\":", 16) == 0);
	/* a lone NUL byte ended by EOF read req[-1] (UBSan) */
	assert_string_equal(ask("", 1),
			    "{\"error\":\"request contains a NUL byte\"}\n");
	assert_string_equal(ask("\0\n", 2),
			    "{\"error\":\"request contains a NUL byte\"}\n");
	assert_string_equal(ask("stats\0x\n", 8),
			    "{\"error\":\"request contains a NUL byte\"}\n");
	assert_string_equal(ask("\r\n", 2), "{\"error\":\"empty request\"}\n");
	assert_string_equal(ask("", 0), "{\"error\":\"empty request\"}\n");
	/* a line that does not fit is refused, not cut and run */
	memset(big, 'a', sizeof(big));
	memcpy(big, "stats ", 6);
	big[sizeof(big) - 1] = '\n';
	assert_string_equal(ask(big, sizeof(big)),
			    "{\"error\":\"request too long\"}\n");
}

/* wait until @fd is closed by the daemon (EOF) or @until; @retval the time
 * it was seen closed, 0 if not */
static uint64_t wait_closed(int fd, uint64_t until)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char b[64];

	while (now_ms() < until) {
		if (poll(&pfd, 1, (int)(until - now_ms())) <= 0)
			continue;
		if (recv(fd, b, sizeof(b), MSG_DONTWAIT) == 0)
			return now_ms();
	}
	return 0;
}

/*
 * 200 connections that never send a request: the daemon keeps at most
 * SL_ADMIN_CONNS_MAX, closing the oldest idle one for each newcomer, so a
 * command is still answered at once; the rest are closed at the idle
 * deadline (one that sent half a request too).  The old daemon kept every
 * idle connection forever.
 */
static void test_idle_cap(void **state)
{
	enum { N = 200, SHED = N - SL_ADMIN_CONNS_MAX };
	uint64_t shed0 = sl_stat_get(SL_STAT_ADMIN_SHED);
	uint64_t to0 = sl_stat_get(SL_STAT_ADMIN_TIMEOUTS);
	int fds[N];
	uint64_t t0 = now_ms(), until;
	char *a;

	for (int i = 0; i < N; i++)
		fds[i] = dial();
	until = now_ms() + 2000;
	while (sl_stat_get(SL_STAT_ADMIN_SHED) - shed0 < SHED && now_ms() < until)
		usleep(1000);
	assert_int_equal(sl_stat_get(SL_STAT_ADMIN_SHED) - shed0, SHED);
	/* the oldest were closed, in order */
	for (int i = 0; i < SHED; i++)
		if (!wait_closed(fds[i], now_ms() + 1000))
			fail_msg("idle connection %d not closed at the cap", i);
	assert_int_equal(wait_closed(fds[SHED], now_ms() + 100), 0);

	/* a command gets through at once (it closes one more idle one) */
	a = ask_within("stats\n", 6, 1000);
	assert_non_null(a);
	assert_true(strncmp(a, "{\"flows_opened\":", 16) == 0);
	assert_int_equal(sl_stat_get(SL_STAT_ADMIN_SHED) - shed0, SHED + 1);
	assert_true(wait_closed(fds[SHED], now_ms() + 1000) != 0);

	/* half a request does not extend the deadline */
	assert_int_equal(send(fds[N - 1], "sta", 3, MSG_NOSIGNAL), 3);
	for (int i = SHED + 1; i < N; i++) {
		uint64_t at = wait_closed(fds[i], t0 + SL_ADMIN_IDLE_MS + 1500);

		if (!at)
			fail_msg("idle connection %d still open after %d ms", i,
				 SL_ADMIN_IDLE_MS + 1500);
		if (at + 100 < t0 + SL_ADMIN_IDLE_MS)
			fail_msg("idle connection %d closed after %llu ms", i,
				 (unsigned long long)(at - t0));
	}
	for (int i = 0; i < N; i++)
		close(fds[i]);
	assert_int_equal(sl_stat_get(SL_STAT_ADMIN_TIMEOUTS) - to0,
			 N - SHED - 1);
	/* and the socket still serves */
	assert_true(strncmp(ask("stats\n", 6), "{\"flows_opened\":", 16) == 0);
}

static uint64_t cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

/*
 * Out of fds: the admin socket's accept fails with EMFILE.  It must pause
 * (counted in accept_paused), not re-arm at once and spin on worker 0,
 * and serve the waiting client once fds are free again.
 */
static struct rlimit lowfd_old;

/* io_uring's accept takes RLIMIT_NOFILE when it is armed: lower it before
 * the worker arms the admin socket's accept */
static int setup_lowfd(void **state)
{
	struct rlimit low;

	if (getrlimit(RLIMIT_NOFILE, &lowfd_old))
		return -1;
	low = lowfd_old;
	low.rlim_cur = 256;
	if (setrlimit(RLIMIT_NOFILE, &low))
		return -1;
	return setup(state);
}

static int teardown_lowfd(void **state)
{
	int ret = teardown(state);

	setrlimit(RLIMIT_NOFILE, &lowfd_old);
	return ret;
}

static void test_out_of_fds(void **state)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	uint64_t paused0 = sl_stat_get(SL_STAT_ACCEPT_PAUSED), cpu0, t0;
	int fill[512], n = 0, c;
	struct pollfd pfd;
	char buf[256];
	ssize_t r;

	(void)state;
	c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c >= 0);
	while (n < (int)(sizeof(fill) / sizeof(fill[0]))) {
		int fd = dup(c);

		if (fd < 0)
			break;
		fill[n++] = fd;
	}
	assert_int_equal(errno, EMFILE);
	strcpy(sun.sun_path, ta.path);
	/* lands in the backlog; the server's accept has no fd to give */
	assert_int_equal(connect(c, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(send(c, "stats\n", 6, MSG_NOSIGNAL), 6);
	/* the accept fails (a loaded machine may take a while to say so) */
	t0 = now_ms();
	while (sl_stat_get(SL_STAT_ACCEPT_PAUSED) == paused0 &&
	       now_ms() - t0 < 5000)
		usleep(10000);
	assert_true(sl_stat_get(SL_STAT_ACCEPT_PAUSED) > paused0);
	/* and keeps failing, paced: no spin on worker 0 */
	cpu0 = cpu_ms();
	t0 = now_ms();
	while (now_ms() - t0 < 400)
		usleep(20000);
	if (cpu_ms() - cpu0 > 150)
		fail_msg("worker 0 spun on EMFILE: %llu ms of CPU in 400 ms",
			 (unsigned long long)(cpu_ms() - cpu0));
	/* fds back: the pause ends, the client is served */
	while (n)
		close(fill[--n]);
	pfd = (struct pollfd){ .fd = c, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 2000), 1);
	r = recv(c, buf, sizeof(buf) - 1, 0);
	assert_true(r > 16);
	buf[r] = '\0';
	assert_true(strncmp(buf, "{\"flows_opened\":", 16) == 0);
	close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_framing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_fds, setup_lowfd,
						teardown_lowfd),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "the admin socket takes uid 0 peers only: run as root\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}

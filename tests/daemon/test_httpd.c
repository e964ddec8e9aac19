/* SPDX-License-Identifier: Apache-2.0 */
/* The telemetry HTTP server: strict request parsing, and a live server on
 * loopback (status codes, a stalled client cut at the deadline, /healthz
 * answered at once while many slow clients are connected, the oldest shed
 * at the connection cap). */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <netinet/in.h>
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "httpd.h"
#include "util.h"

static int parse(const char *s, struct sl_http_req *r)
{
	return sl_httpd_parse(s, strlen(s), r);
}

static void test_parse_good(void **state)
{
	struct sl_http_req r;

	assert_int_equal(parse("GET /metrics HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/7\r\n\r\n", &r), 0);
	assert_string_equal(r.method, "GET");
	assert_string_equal(r.target, "/metrics");
	assert_int_equal(parse("HEAD /ready?verbose=1 HTTP/1.0\r\n\r\n", &r), 0);
	assert_string_equal(r.method, "HEAD");
	assert_string_equal(r.target, "/ready");
	assert_int_equal(r.header_len, strlen("HEAD /ready?verbose=1 HTTP/1.0\r\n\r\n"));
	assert_int_equal(parse("GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &r), 0);
}

static void test_parse_incomplete(void **state)
{
	struct sl_http_req r;

	assert_int_equal(parse("", &r), -EAGAIN);
	assert_int_equal(parse("GET /metrics HT", &r), -EAGAIN);
	assert_int_equal(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n", &r), -EAGAIN);
}

static void test_parse_malformed(void **state)
{
	static const char *const bad[] = {
		"GET /metrics HTTP/1.1\n\n",		/* bare LF */
		"GET  /metrics HTTP/1.1\r\n\r\n",	/* two spaces */
		"GET metrics HTTP/1.1\r\n\r\n",		/* not origin-form */
		"GET /met rics HTTP/1.1\r\n\r\n",
		"GET /metrics HTTP/1.1 x\r\n\r\n",
		"GET /metrics HTTX/1.1\r\n\r\n",
		"GET /metrics\r\n\r\n",			/* HTTP/0.9 */
		"G(T /metrics HTTP/1.1\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nNoColon\r\n\r\n",
		"GET /metrics HTTP/1.1\r\n: empty\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nX: a\x01\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
		"GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET /\x7f HTTP/1.1\r\n\r\n",
	};
	struct sl_http_req r;
	char nul[] = "GET /\0 HTTP/1.1\r\n\r\n";

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = parse(bad[i], &r);

		if (ret != -EINVAL)
			fail_msg("case %zu: %d for %s", i, ret, bad[i]);
	}
	assert_int_equal(sl_httpd_parse(nul, sizeof(nul) - 1, &r), -EINVAL);
	assert_int_equal(parse("POST /metrics HTTP/1.1\r\n\r\n", &r), -EOPNOTSUPP);
	assert_int_equal(parse("GET /metrics HTTP/1.2\r\n\r\n", &r), -EPROTONOSUPPORT);
}

static void test_parse_oversized(void **state)
{
	struct sl_http_req r;
	char *big = malloc(SL_HTTPD_REQ_MAX + 100);
	size_t n;

	/* a header section that never ends within the bound */
	n = (size_t)snprintf(big, 64, "GET / HTTP/1.1\r\nX: ");
	memset(big + n, 'a', SL_HTTPD_REQ_MAX + 100 - n);
	assert_int_equal(sl_httpd_parse(big, SL_HTTPD_REQ_MAX - 1, &r), -EAGAIN);
	assert_int_equal(sl_httpd_parse(big, SL_HTTPD_REQ_MAX, &r), -E2BIG);
	assert_int_equal(sl_httpd_parse(big, SL_HTTPD_REQ_MAX + 100, &r), -E2BIG);
	/* a target over the limit */
	n = (size_t)snprintf(big, 16, "GET /");
	memset(big + n, 'p', SL_HTTPD_TARGET_MAX + 1);
	strcpy(big + n + SL_HTTPD_TARGET_MAX + 1, " HTTP/1.1\r\n\r\n");
	assert_int_equal(parse(big, &r), -E2BIG);
	free(big);
}

/* ---- live server ------------------------------------------------------ */

static int handler(void *arg, const char *path, int *status,
		   const char **ctype, char **body, size_t *len)
{
	int *calls = arg;

	(*calls)++;
	if (strcmp(path, "/metrics") == 0) {
		*status = 200;
		*ctype = "text/plain; version=0.0.4";
		*body = strdup("x_total 1\n");
	} else if (strcmp(path, "/healthz") == 0) {
		*status = 200;
		*body = strdup("ok\n");
	} else if (strcmp(path, "/fail") == 0) {
		return -EIO;
	} else {
		*status = 404;
		*body = strdup("nope\n");
	}
	*len = strlen(*body);
	return 0;
}

static int dial(uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

/* send @req (may be partial), read the whole answer */
static char *exchange(uint16_t port, const char *req, size_t len)
{
	static char buf[65536];
	size_t got = 0;
	ssize_t r;
	int fd = dial(port);

	if (len)
		assert_int_equal(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
	while ((r = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0)
		got += (size_t)r;
	buf[got] = '\0';
	close(fd);
	return buf;
}

static char *get(uint16_t port, const char *req)
{
	return exchange(port, req, strlen(req));
}

static void test_server(void **state)
{
	struct sl_httpd *s;
	struct timespec t0, t1;
	int calls = 0;
	uint16_t port;
	char *a, *big;

	assert_int_equal(sl_httpd_start("127.0.0.1", 0, handler, &calls, NULL,
					&s), 0);
	port = sl_httpd_port(s);
	assert_true(port != 0);

	a = get(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_string_equal(a, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
			       "Content-Length: 10\r\nConnection: close\r\n\r\nx_total 1\n");
	a = get(port, "HEAD /metrics HTTP/1.1\r\n\r\n");
	assert_non_null(strstr(a, "Content-Length: 10\r\n"));
	assert_null(strstr(a, "x_total"));
	a = get(port, "GET /other HTTP/1.1\r\n\r\n");
	assert_true(strncmp(a, "HTTP/1.1 404 ", 13) == 0);
	a = get(port, "GET /fail HTTP/1.1\r\n\r\n");
	assert_true(strncmp(a, "HTTP/1.1 500 ", 13) == 0);
	a = get(port, "DELETE /metrics HTTP/1.1\r\n\r\n");
	assert_true(strncmp(a, "HTTP/1.1 405 ", 13) == 0);
	a = get(port, "GET /metrics HTTP/1.1\nHost: x\n\n");
	assert_true(strncmp(a, "HTTP/1.1 400 ", 13) == 0);
	big = malloc(3 * SL_HTTPD_REQ_MAX);
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	memset(big + 19, 'a', 3 * SL_HTTPD_REQ_MAX - 19);
	a = exchange(port, big, 2 * SL_HTTPD_REQ_MAX);
	assert_true(strncmp(a, "HTTP/1.1 431 ", 13) == 0);
	free(big);
	assert_int_equal(calls, 4); /* 405, 400, 431 never reach the handler */

	/* slowloris: half a request, then silence; answered 408 and closed
	 * once the deadline passes (not held forever) */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	a = get(port, "GET /metrics HTTP/1.1\r\nHo");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(strncmp(a, "HTTP/1.1 408 ", 13) == 0);
	{
		double dt = (double)(t1.tv_sec - t0.tv_sec) +
			    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

		assert_true(dt >= SL_HTTPD_HEAD_MS / 1000.0 - 0.1);
		assert_true(dt < SL_HTTPD_HEAD_MS / 1000.0 + 2.0);
	}
	/* and the server still serves */
	a = get(port, "GET /metrics HTTP/1.1\r\n\r\n");
	assert_true(strncmp(a, "HTTP/1.1 200 ", 13) == 0);
	assert_int_equal(calls, 5);
	sl_httpd_stop(s);
	sl_httpd_stop(NULL);
}

/* ---- many slow clients at once (issue 24) ------------------------------ */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* a non-blocking connect that never waits for the server */
static int dial_nb(uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		assert_int_equal(errno, EINPROGRESS);
	return fd;
}

/*
 * connect, send @req and read the answer until EOF, all within @ms
 * @retval 0 (answer in @buf), -ETIMEDOUT, or -errno
 */
static int timed_get(uint16_t port, const char *req, int ms, char *buf,
		     size_t len)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	struct pollfd pfd = { .fd = dial_nb(port), .events = POLLOUT };
	size_t got = 0, sent = 0;
	int ret = -ETIMEDOUT;

	while (now_ms() < end) {
		ssize_t r;

		if (poll(&pfd, 1, (int)(end - now_ms())) <= 0)
			continue;
		if (sent < strlen(req)) {
			r = send(pfd.fd, req + sent, strlen(req) - sent,
				 MSG_NOSIGNAL);
			if (r < 0 && errno != EAGAIN) {
				ret = -errno;
				break;
			}
			sent += r > 0 ? (size_t)r : 0;
			if (sent == strlen(req))
				pfd.events = POLLIN;
			continue;
		}
		r = recv(pfd.fd, buf + got, len - 1 - got, 0);
		if (r < 0 && errno == EAGAIN)
			continue;
		if (r < 0) {
			ret = -errno;
			break;
		}
		got += (size_t)r;
		if (r == 0) {
			ret = 0;
			break;
		}
	}
	buf[got] = '\0';
	close(pfd.fd);
	return ret;
}

struct slow {
	int fd;
	bool trickle;	  /* sends one byte of a request head at a time */
	size_t trickled;
	uint64_t opened, closed; /* ms */
	int err;	  /* recv's errno at the end, 0 for a clean EOF */
	char got[128];	  /* start of what the server sent */
	size_t got_len;
};

static void slow_open(struct slow *c, uint16_t port, bool trickle)
{
	memset(c, 0, sizeof(*c));
	c->fd = dial_nb(port);
	c->trickle = trickle;
	c->opened = now_ms();
}

/* trickle, and read what the server sends, until every client in @cs is
 * closed by the server or @until (ms) */
static void slow_wait(struct slow *cs, size_t n, uint64_t until)
{
	static const char head[] = "GET /metrics HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	uint64_t next_byte = 0;

	for (;;) {
		struct pollfd pfd[256];
		size_t nopen = 0;
		uint64_t now = now_ms();

		assert_true(n <= 256);
		if (now >= next_byte) {
			for (size_t i = 0; i < n; i++)
				if (!cs[i].closed && cs[i].trickle &&
				    cs[i].trickled < sizeof(head) - 1 &&
				    send(cs[i].fd, head + cs[i].trickled, 1,
					 MSG_NOSIGNAL | MSG_DONTWAIT) == 1)
					cs[i].trickled++;
			next_byte = now + 200;
		}
		for (size_t i = 0; i < n; i++) {
			pfd[i].fd = cs[i].closed ? -1 : cs[i].fd;
			pfd[i].events = POLLIN;
			nopen += !cs[i].closed;
		}
		if (!nopen || now >= until)
			return;
		if (poll(pfd, n, (int)SL_MIN(until - now, next_byte - now)) <= 0)
			continue;
		for (size_t i = 0; i < n; i++) {
			char buf[512];
			ssize_t r;

			if (!pfd[i].revents)
				continue;
			r = recv(cs[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (r < 0 && errno == EAGAIN)
				continue;
			if (r > 0) {
				size_t k = SL_MIN((size_t)r, sizeof(cs[i].got) - 1 -
							     cs[i].got_len);

				memcpy(cs[i].got + cs[i].got_len, buf, k);
				cs[i].got_len += k;
				continue;
			}
			cs[i].err = r < 0 ? errno : 0;
			cs[i].closed = now_ms();
		}
	}
}

static void slow_close(struct slow *cs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(cs[i].fd);
}

/*
 * 24 clients that send nothing and 8 that trickle a request head one byte
 * per 200 ms: /healthz still answers within a second, and each slow client
 * is cut at the head deadline (silent ones with a 408), not later.  The old
 * server took one client at a time, each for its whole deadline: /healthz
 * waited for all of them (20 clients made it take 40 s).
 */
/* metricsAddress may be IPv6 (sluice-config(5) takes any IP address):
 * "::1" serves on IPv6 loopback, "::" on every address, IPv4 too */
static void test_ipv6(void **state)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6,
				     .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	const char *addrs[] = { "::1", "::" };
	const char *req = "GET /healthz HTTP/1.1\r\n\r\n";
	struct sl_httpd *s;
	char buf[256];
	ssize_t n;
	int calls = 0, fd, probe;

	(void)state;
	probe = socket(AF_INET6, SOCK_STREAM, 0);
	if (probe < 0 || bind(probe, (struct sockaddr *)&sin6, sizeof(sin6)) < 0) {
		if (probe >= 0)
			close(probe);
		skip(); /* no IPv6 loopback here */
	}
	close(probe);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(sl_httpd_start(addrs[i], 0, handler, &calls, NULL,
						&s), 0);
		sin6.sin6_port = htons(sl_httpd_port(s));
		fd = socket(AF_INET6, SOCK_STREAM, 0);
		assert_true(fd >= 0);
		assert_int_equal(connect(fd, (struct sockaddr *)&sin6, sizeof(sin6)), 0);
		assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL),
				 (ssize_t)strlen(req));
		n = recv(fd, buf, sizeof(buf) - 1, MSG_WAITALL);
		assert_true(n > 0);
		buf[n] = '\0';
		assert_true(strncmp(buf, "HTTP/1.1 200 ", 13) == 0);
		close(fd);
		if (i == 1) /* "::" takes IPv4 as well (Prometheus on either) */
			assert_non_null(strstr(get(sl_httpd_port(s), req), "HTTP/1.1 200 "));
		sl_httpd_stop(s);
	}
	assert_int_equal(calls, 3);
	/* not an address: refused, nothing listens */
	assert_int_equal(sl_httpd_start("localhost", 0, handler, &calls, NULL, &s),
			 -EINVAL);
}

static void test_slow_clients(void **state)
{
	enum { NSILENT = 24, NTRICKLE = 8, N = NSILENT + NTRICKLE };
	struct sl_httpd_stats st = { 0 };
	struct slow cs[N];
	struct sl_httpd *s;
	char buf[1024];
	uint64_t t0;
	int calls = 0, ret;
	uint16_t port;

	assert_int_equal(sl_httpd_start("127.0.0.1", 0, handler, &calls, &st,
					&s), 0);
	port = sl_httpd_port(s);
	for (int i = 0; i < N; i++)
		slow_open(&cs[i], port, i >= NSILENT);
	slow_wait(cs, N, now_ms() + 300); /* connected, a byte or two sent */

	for (int round = 0; round < 3; round++) {
		t0 = now_ms();
		ret = timed_get(port, "GET /healthz HTTP/1.1\r\n\r\n", 1000, buf,
				sizeof(buf));
		if (ret)
			fail_msg("/healthz with %d slow clients: %s after %llu ms",
				 N, strerror(-ret),
				 (unsigned long long)(now_ms() - t0));
		assert_true(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
		assert_non_null(strstr(buf, "\r\n\r\nok\n"));
	}

	/* every slow client is cut at the head deadline, give or take */
	slow_wait(cs, N, now_ms() + SL_HTTPD_HEAD_MS + 1500);
	for (int i = 0; i < N; i++) {
		uint64_t held = cs[i].closed - cs[i].opened;

		if (!cs[i].closed)
			fail_msg("slow client %d still open after %d ms", i,
				 SL_HTTPD_HEAD_MS + 1500);
		if (held + 50 < SL_HTTPD_HEAD_MS || held > SL_HTTPD_HEAD_MS + 1000)
			fail_msg("slow client %d held %llu ms", i,
				 (unsigned long long)held);
		if (i < NSILENT) {
			assert_int_equal(cs[i].err, 0);
			assert_true(strncmp(cs[i].got, "HTTP/1.1 408 ", 13) == 0);
		}
	}
	slow_close(cs, N);
	assert_int_equal(atomic_load(&st.timeouts), N);
	assert_int_equal(atomic_load(&st.shed), 0);
	assert_int_equal(atomic_load(&st.accepted), N + 3);
	assert_int_equal(atomic_load(&st.answered), 3); /* 408s are timeouts */
	assert_int_equal(atomic_load(&st.open), 0);
	assert_int_equal(calls, 3);
	sl_httpd_stop(s);
}

/*
 * SL_HTTPD_CONNS_MAX + 16 silent clients: each one over the cap resets the
 * oldest, and so does the /healthz probe, which is answered at once; the
 * shed clients see an RST, the others are still served their 408 later.
 */
static void test_cap_sheds_oldest(void **state)
{
	enum { N = SL_HTTPD_CONNS_MAX + 16, SHED = N - SL_HTTPD_CONNS_MAX + 1 };
	struct sl_httpd_stats st = { 0 };
	struct slow cs[N];
	struct sl_httpd *s;
	char buf[1024];
	int calls = 0;
	uint16_t port;

	assert_int_equal(sl_httpd_start("127.0.0.1", 0, handler, &calls, &st,
					&s), 0);
	port = sl_httpd_port(s);
	for (int i = 0; i < N; i++) {
		uint64_t until = now_ms() + 1000;

		slow_open(&cs[i], port, false);
		/* one at a time, so that the accept order is ours */
		while (atomic_load(&st.accepted) < (uint64_t)i + 1 &&
		       now_ms() < until)
			usleep(1000);
		assert_int_equal(atomic_load(&st.accepted), i + 1);
	}
	assert_int_equal(atomic_load(&st.shed), N - SL_HTTPD_CONNS_MAX);
	assert_int_equal(timed_get(port, "GET /healthz HTTP/1.1\r\n\r\n", 1000,
				   buf, sizeof(buf)), 0);
	assert_true(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_int_equal(atomic_load(&st.shed), SHED);

	/* the SHED oldest were reset (at once), the others are still open */
	slow_wait(cs, SHED, now_ms() + 1000);
	for (int i = 0; i < SHED; i++) {
		if (!cs[i].closed || cs[i].err != ECONNRESET || cs[i].got_len)
			fail_msg("client %d: closed %d err %d got %zu", i,
				 cs[i].closed != 0, cs[i].err, cs[i].got_len);
	}
	slow_wait(cs + SHED, N - SHED, now_ms() + 200);
	for (int i = SHED; i < N; i++)
		assert_int_equal(cs[i].closed, 0);
	/* ... until their deadline */
	slow_wait(cs + SHED, N - SHED, now_ms() + SL_HTTPD_HEAD_MS + 1500);
	for (int i = SHED; i < N; i++) {
		assert_true(cs[i].closed != 0);
		assert_true(strncmp(cs[i].got, "HTTP/1.1 408 ", 13) == 0);
	}
	slow_close(cs, N);
	assert_int_equal(atomic_load(&st.timeouts), N - SHED);
	assert_int_equal(atomic_load(&st.open), 0);
	sl_httpd_stop(s);
}

/*
 * Out of fds: the server cannot accept, pauses its listener (no busy loop:
 * a handful of failed accepts, each counted) and serves the waiting client
 * once fds are back.
 */
static void test_out_of_fds(void **state)
{
	static const char req[] = "GET /healthz HTTP/1.1\r\n\r\n";
	struct sl_httpd_stats st = { 0 };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct rlimit old, low;
	struct sl_httpd *s;
	struct pollfd pfd;
	char buf[1024];
	size_t got = 0;
	uint64_t errs;
	int calls = 0, fd;
	ssize_t r;

	assert_int_equal(sl_httpd_start("127.0.0.1", 0, handler, &calls, &st,
					&s), 0);
	sin.sin_port = htons(sl_httpd_port(s));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* the client's socket takes the lowest free fd: with the limit right
	 * above it, the server's accept has none */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)fd + 1;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL),
			 (ssize_t)sizeof(req) - 1);
	usleep(350 * 1000);
	errs = atomic_load(&st.accept_errors);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	if (errs < 1 || errs > 8)
		fail_msg("%llu failed accepts in 350 ms (paused 100 ms each)",
			 (unsigned long long)errs);
	assert_int_equal(atomic_load(&st.accepted), 0);
	/* fds are back: served within the pause */
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	while (poll(&pfd, 1, 1000) == 1 &&
	       (r = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0)
		got += (size_t)r;
	buf[got] = '\0';
	assert_true(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_int_equal(atomic_load(&st.accepted), 1);
	close(fd);
	sl_httpd_stop(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_incomplete),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_parse_oversized),
		cmocka_unit_test(test_server),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_slow_clients),
		cmocka_unit_test(test_cap_sheds_oldest),
		cmocka_unit_test(test_out_of_fds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

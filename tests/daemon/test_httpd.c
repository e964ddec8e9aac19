/* SPDX-License-Identifier: Apache-2.0 */
/* The telemetry HTTP server: strict request parsing, and a live server on
 * loopback (status codes, a stalled client cut at the deadline). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "httpd.h"

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

	assert_int_equal(sl_httpd_start("127.0.0.1", 0, handler, &calls, &s), 0);
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

		assert_true(dt >= SL_HTTPD_DEADLINE_MS / 1000.0 - 0.1);
		assert_true(dt < SL_HTTPD_DEADLINE_MS / 1000.0 + 2.0);
	}
	/* and the server still serves */
	a = get(port, "GET /metrics HTTP/1.1\r\n\r\n");
	assert_true(strncmp(a, "HTTP/1.1 200 ", 13) == 0);
	assert_int_equal(calls, 5);
	sl_httpd_stop(s);
	sl_httpd_stop(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_incomplete),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_parse_oversized),
		cmocka_unit_test(test_server),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

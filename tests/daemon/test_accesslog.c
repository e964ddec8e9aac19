/* SPDX-License-Identifier: Apache-2.0 */
/* Access log lines (parsed back by python3's json module) and the token
 * bucket (a fake clock; drops are counted). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "accesslog.h"

static const struct sl_accesslog_entry entry = {
	.start_realtime_ns = 1764012345123456789ull, /* 2025-11-24T19:25:45.123Z */
	.duration_ns = 1500000000ull,
	.outbound = true,
	.flow_id = 0xabc,
	.src_addr = "198.18.1.2:40000",
	.src_workload = "client",
	.src_namespace = "default",
	.src_principal = "spiffe://cluster.local/ns/default/sa/client",
	.dst_addr = "198.19.0.10:80",
	.dst_workload = "echo \"quoted\"\n",
	.dst_namespace = "default",
	.dst_principal = "spiffe://cluster.local/ns/default/sa/echo",
	.dst_service = NULL,
	.endpoint = "198.18.2.2:15008",
	.bytes_sent = 123456789012ull,
	.bytes_received = 42,
	.ktls = false,
	.end = "done",
	.response_flags = NULL,
};

/* python3 checks every field of the line; exit status 0 when all match */
static const char checker[] =
	"import json,sys\n"
	"line=sys.stdin.read()\n"
	"assert line.endswith('\\n') and line.count('\\n')==1, repr(line)\n"
	"o=json.loads(line)\n"
	"assert o['time']=='2025-11-24T19:25:45.123Z', o['time']\n"
	"assert o['kind']=='flow'\n"
	"assert o['direction']=='outbound'\n"
	"assert o['flow_id']=='0000000000000abc'\n"
	"assert o['src']=={'addr':'198.18.1.2:40000','workload':'client',"
	"'namespace':'default','principal':'spiffe://cluster.local/ns/default/sa/client'}, o['src']\n"
	"assert o['dst']['workload']=='echo \"quoted\"\\n'\n"
	"assert o['dst']['service'] is None\n"
	"assert o['dst']['principal']=='spiffe://cluster.local/ns/default/sa/echo'\n"
	"assert o['endpoint']=='198.18.2.2:15008'\n"
	"assert o['bytes_sent']==123456789012 and o['bytes_received']==42\n"
	"assert o['duration_ms']==1500\n"
	"assert o['tls']=='userspace' and o['end']=='done'\n"
	"assert o['response_flags']=='-'\n";

static void test_format_parses_as_json(void **state)
{
	char line[SL_ACCESSLOG_LINE_MAX], cmd[4096];
	FILE *py;
	int n, st;

	if (access("/usr/bin/python3", X_OK) != 0) {
		/* python3 is a build dependency of meson: always there */
		fail_msg("python3 not found");
	}
	n = sl_accesslog_format(&entry, line, sizeof(line));
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(line));
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -c \"$SL_CHECKER\"");
	setenv("SL_CHECKER", checker, 1);
	py = popen(cmd, "w");
	assert_non_null(py);
	fputs(line, py);
	st = pclose(py);
	if (st != 0)
		fail_msg("python3 rejected: %s", line);
	/* too small a buffer */
	assert_int_equal(sl_accesslog_format(&entry, line, 50), -ENOSPC);
	/* the edges: the line and its NUL fit exactly, or one byte short */
	{
		char again[SL_ACCESSLOG_LINE_MAX];

		memset(again, 'x', sizeof(again));
		assert_int_equal(sl_accesslog_format(&entry, again, (size_t)n + 1), n);
		assert_int_equal(strlen(again), (size_t)n);
		assert_int_equal(sl_accesslog_format(&entry, again, (size_t)n),
				 -ENOSPC);
		assert_int_equal(sl_accesslog_format(&entry, again, 1), -ENOSPC);
		assert_int_equal(sl_accesslog_format(&entry, again, 0), -ENOSPC);
	}
}

static uint64_t fake_now;

static uint64_t fake_clock(void *arg)
{
	return fake_now;
}

static int count_lines(int fd)
{
	char buf[65536];
	ssize_t r;
	int n = 0;

	while ((r = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < r; i++)
			n += buf[i] == '\n';
	return n;
}

static void test_rate_limit(void **state)
{
	struct sl_accesslog_opts o = {
		.rate = 10, .burst = 5, .clock = fake_clock,
	};
	struct sl_accesslog *al;
	int p[2], ok = 0, dropped = 0;

	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
	o.fd = p[1];
	fake_now = 1000000000ull;
	assert_int_equal(sl_accesslog_new(&o, &al), 0);
	/* the burst: 5 lines, then drops */
	for (int i = 0; i < 8; i++) {
		int r = sl_accesslog_write(al, &entry);

		if (r == 0)
			ok++;
		else if (r == -EAGAIN)
			dropped++;
	}
	assert_int_equal(ok, 5);
	assert_int_equal(dropped, 3);
	/* 250 ms at 10/s: 2.5 tokens → 2 lines, the half token is kept */
	fake_now += 250000000ull;
	assert_int_equal(sl_accesslog_write(al, &entry), 0);
	assert_int_equal(sl_accesslog_write(al, &entry), 0);
	assert_int_equal(sl_accesslog_write(al, &entry), -EAGAIN);
	fake_now += 50000000ull; /* + 0.5 → one more */
	assert_int_equal(sl_accesslog_write(al, &entry), 0);
	assert_int_equal(sl_accesslog_write(al, &entry), -EAGAIN);
	/* a long pause refills to the burst, not beyond */
	fake_now += 3600ull * 1000000000ull;
	ok = 0;
	for (int i = 0; i < 20; i++)
		ok += sl_accesslog_write(al, &entry) == 0;
	assert_int_equal(ok, 5);
	assert_int_equal(sl_accesslog_written(al), 13);
	assert_int_equal(sl_accesslog_dropped(al), 3 + 1 + 1 + 15);
	assert_int_equal(count_lines(p[0]), 13);
	sl_accesslog_free(al);
	sl_accesslog_free(NULL);
	assert_int_equal(sl_accesslog_write(NULL, &entry), 0);
	close(p[0]);
	close(p[1]);
}

static void test_write_error_counts_as_drop(void **state)
{
	struct sl_accesslog_opts o = { .fd = -1 };
	struct sl_accesslog *al;

	assert_int_equal(sl_accesslog_new(&o, &al), 0);
	assert_int_equal(sl_accesslog_write(al, &entry), -EBADF);
	assert_int_equal(sl_accesslog_dropped(al), 1);
	assert_int_equal(sl_accesslog_written(al), 0);
	sl_accesslog_free(al);
}

/* python3 reads one line on stdin with the checks of @script; true when
 * all hold */
static bool python_accepts(const char *line, const char *script)
{
	FILE *py;

	setenv("SL_CHECKER", script, 1);
	signal(SIGPIPE, SIG_IGN);
	py = popen("/usr/bin/python3 -c \"$SL_CHECKER\"", "w");
	assert_non_null(py);
	fputs(line, py);
	return pclose(py) == 0;
}

/* the worst request line: every string far over its bound and made of
 * bytes that escape to six (\u00XX): the line still fits, is valid JSON,
 * says it was truncated, and each string keeps a prefix of its value */
static void test_http_hostile_line_fits(void **state)
{
	static char junk[8192], junk2[8192];
	struct sl_accesslog_http e = {
		.start_realtime_ns = 1764012345123456789ull,
		.duration_ns = UINT64_MAX,
		.flow_id = UINT64_MAX,
		.response_code = 503,
		.request_bytes = UINT64_MAX,
		.response_bytes = UINT64_MAX,
		.attempts = UINT32_MAX,
	};
	const char **f[] = {
		&e.method, &e.authority, &e.route, &e.upstream, &e.trace_id,
		&e.request_id, &e.response_flags, &e.src_addr, &e.src_workload,
		&e.src_namespace, &e.src_principal, &e.dst_addr, &e.dst_workload,
		&e.dst_namespace, &e.dst_principal, &e.dst_service,
		&e.response_code_details, &e.audit,
	};
	char line[SL_ACCESSLOG_LINE_MAX];
	int n;

	(void)state;
	for (size_t i = 0; i < sizeof(junk) - 1; i++)
		junk[i] = (char)(i % 3 == 0 ? 0x01 : i % 3 == 1 ? 0xff : '"');
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		*f[i] = junk;
	/* the path: valid 4-byte UTF-8 (😀), cut whole */
	for (size_t i = 0; i + 4 < sizeof(junk2); i += 4)
		memcpy(junk2 + i, "\xf0\x9f\x98\x80", 4);
	e.path = junk2;
	n = sl_accesslog_format_http(&e, line, sizeof(line));
	assert_true(n > 0 && n < SL_ACCESSLOG_LINE_MAX);
	if (!python_accepts(line,
			    "import json,sys\n"
			    "raw=sys.stdin.buffer.read()\n"
			    "assert raw.endswith(b'\\n') and raw.count(b'\\n')==1\n"
			    "o=json.loads(raw.decode('utf-8'))\n"
			    "assert o['kind']=='http' and o['truncated'] is True, o\n"
			    "assert o['path']=='\\U0001f600'*256, len(o['path'])\n"
			    "assert o['method']=='\\x01\\xff\"\\x01\\xff\"', o['method']\n"
			    "assert o['authority'].startswith('\\x01\\xff\"\\x01')\n"
			    "assert o['duration_ms']==18446744073709\n"
			    "assert o['attempts']==4294967295\n"
			    "assert o['flow_id']=='ffffffffffffffff'\n"))
		fail_msg("python3 rejected: %s", line);
	/* a plain short request: nothing cut */
	e.method = "GET";
	e.path = "/";
	for (size_t i = 1; i < sizeof(f) / sizeof(f[0]); i++)
		*f[i] = NULL;
	n = sl_accesslog_format_http(&e, line, sizeof(line));
	assert_true(n > 0);
	if (!python_accepts(line,
			    "import json,sys\n"
			    "o=json.loads(sys.stdin.read())\n"
			    "assert o['truncated'] is False and o['route'] is None\n"
			    "assert o['response_flags']=='-' and o['src']['addr'] is None\n"
			    "assert o['connection_security_policy']=='mutual_tls'\n"
			    "assert o['direction']=='outbound'\n"))
		fail_msg("python3 rejected: %s", line);
	assert_int_equal(sl_accesslog_format_http(&e, line, 40), -ENOSPC);
}

/* flow and request lines draw on one token bucket */
static void test_http_shares_the_bucket(void **state)
{
	struct sl_accesslog_opts o = { .rate = 1, .burst = 2, .clock = fake_clock };
	struct sl_accesslog_http h = { .method = "GET", .path = "/" };
	struct sl_accesslog *al;
	int p[2];

	(void)state;
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	o.fd = p[1];
	fake_now = 5000000000ull;
	assert_int_equal(sl_accesslog_new(&o, &al), 0);
	assert_int_equal(sl_accesslog_write_http(al, &h), 0);
	assert_int_equal(sl_accesslog_write(al, &entry), 0);
	assert_int_equal(sl_accesslog_write_http(al, &h), -EAGAIN);
	assert_int_equal(sl_accesslog_write(al, &entry), -EAGAIN);
	assert_int_equal(sl_accesslog_written(al), 2);
	assert_int_equal(sl_accesslog_dropped(al), 2);
	assert_int_equal(count_lines(p[0]), 2);
	assert_int_equal(sl_accesslog_write_http(NULL, &h), 0);
	sl_accesslog_free(al);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_parses_as_json),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_write_error_counts_as_drop),
		cmocka_unit_test(test_http_hostile_line_fits),
		cmocka_unit_test(test_http_shares_the_bucket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

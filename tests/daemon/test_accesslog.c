/* SPDX-License-Identifier: Apache-2.0 */
/* Access log lines (parsed back by python3's json module) and the token
 * bucket (a fake clock; drops are counted). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_parses_as_json),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_write_error_counts_as_drop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

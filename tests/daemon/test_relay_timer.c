/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of sl_relay_timer_next(): the one relay timer serves the idle
 * timeout, the maximum flow duration and the half-close timeout, armed for
 * the earliest deadline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "relay_internal.h"

#define S 1000000000ull

static uint64_t next(uint64_t now, uint64_t start, uint64_t last,
		     uint64_t idle, uint64_t max, enum sl_relay_end *end)
{
	*end = SL_RELAY_END_INTERNAL;
	return sl_relay_timer_next(now, start, last, idle, max, 0, end);
}

/* the same, half-closed with half-close timeout @half */
static uint64_t next_half(uint64_t now, uint64_t start, uint64_t last,
			  uint64_t idle, uint64_t max, uint64_t half,
			  enum sl_relay_end *end)
{
	*end = SL_RELAY_END_INTERNAL;
	return sl_relay_timer_next(now, start, last, idle, max, half, end);
}

static void test_idle_only(void **state)
{
	enum sl_relay_end end;

	(void)state;
	/* armed at the start: the whole timeout */
	assert_true(next(100 * S, 100 * S, 100 * S, 30 * S, 0, &end) == 30 * S);
	/* traffic 10 s ago: 20 s left */
	assert_true(next(130 * S, 100 * S, 120 * S, 30 * S, 0, &end) == 20 * S);
	assert_int_equal(end, SL_RELAY_END_INTERNAL); /* untouched */
	/* silent for the timeout: end, however old the flow */
	assert_true(next(150 * S, 100 * S, 120 * S, 30 * S, 0, &end) == 0);
	assert_int_equal(end, SL_RELAY_END_IDLE);
	/* a clock that went backwards never underflows */
	assert_true(next(90 * S, 100 * S, 100 * S, 30 * S, 0, &end) == 30 * S);
}

static void test_max_only(void **state)
{
	enum sl_relay_end end;

	(void)state;
	assert_true(next(100 * S, 100 * S, 100 * S, 0, 2 * S, &end) == 2 * S);
	/* busy (last = now) makes no difference */
	assert_true(next(101 * S, 100 * S, 101 * S, 0, 2 * S, &end) == S);
	assert_true(next(102 * S, 100 * S, 102 * S, 0, 2 * S, &end) == 0);
	assert_int_equal(end, SL_RELAY_END_MAX_DURATION);
	assert_true(next(500 * S, 100 * S, 500 * S, 0, 2 * S, &end) == 0);
	assert_int_equal(end, SL_RELAY_END_MAX_DURATION);
}

static void test_earlier_deadline(void **state)
{
	enum sl_relay_end end;

	(void)state;
	/* idle 1 h, max 2 s: wait for the max-duration deadline */
	assert_true(next(100 * S, 100 * S, 100 * S, 3600 * S, 2 * S, &end) ==
		    2 * S);
	/* idle 5 s, max 60 s: the idle deadline first, then again after
	 * traffic, and the max-duration one once it is the nearer */
	assert_true(next(100 * S, 100 * S, 100 * S, 5 * S, 60 * S, &end) ==
		    5 * S);
	assert_true(next(105 * S, 100 * S, 104 * S, 5 * S, 60 * S, &end) ==
		    4 * S);
	assert_true(next(158 * S, 100 * S, 157 * S, 5 * S, 60 * S, &end) ==
		    2 * S);
	assert_true(next(160 * S, 100 * S, 159 * S, 5 * S, 60 * S, &end) == 0);
	assert_int_equal(end, SL_RELAY_END_MAX_DURATION);
	/* idle expires first */
	assert_true(next(110 * S, 100 * S, 104 * S, 5 * S, 60 * S, &end) == 0);
	assert_int_equal(end, SL_RELAY_END_IDLE);
	/* both at once: the hard limit is the reason */
	assert_true(next(160 * S, 100 * S, 150 * S, 5 * S, 60 * S, &end) == 0);
	assert_int_equal(end, SL_RELAY_END_MAX_DURATION);
}

/*
 * Half-closed: the half-close timeout counts from the last traffic like
 * the idle one, and the shorter of the two applies; the maximum duration
 * still wins when it has passed.
 */
static void test_half_close(void **state)
{
	enum sl_relay_end end;

	(void)state;
	/* idle 1 h, half-close 60 s: just half-closed (last = now) */
	assert_true(next_half(100 * S, 0, 100 * S, 3600 * S, 0, 60 * S, &end) ==
		    60 * S);
	/* traffic 20 s ago restarts it: 40 s left */
	assert_true(next_half(140 * S, 0, 120 * S, 3600 * S, 0, 60 * S, &end) ==
		    40 * S);
	assert_int_equal(end, SL_RELAY_END_INTERNAL);
	/* silent for 60 s: end, not an idle end */
	assert_true(next_half(180 * S, 0, 120 * S, 3600 * S, 0, 60 * S, &end) ==
		    0);
	assert_int_equal(end, SL_RELAY_END_HALF_CLOSE);
	/* without an idle timeout it applies alone */
	assert_true(next_half(180 * S, 0, 120 * S, 0, 0, 60 * S, &end) == 0);
	assert_int_equal(end, SL_RELAY_END_HALF_CLOSE);
	assert_true(next_half(150 * S, 0, 120 * S, 0, 0, 60 * S, &end) ==
		    30 * S);
	/* an idle timeout shorter than (or equal to) it is the one */
	assert_true(next_half(130 * S, 0, 120 * S, 10 * S, 0, 60 * S, &end) ==
		    0);
	assert_int_equal(end, SL_RELAY_END_IDLE);
	assert_true(next_half(180 * S, 0, 120 * S, 60 * S, 0, 60 * S, &end) ==
		    0);
	assert_int_equal(end, SL_RELAY_END_IDLE);
	/* the maximum duration when it comes first, or has passed too */
	assert_true(next_half(100 * S, 90 * S, 100 * S, 0, 20 * S, 60 * S,
			      &end) == 10 * S);
	assert_true(next_half(200 * S, 90 * S, 100 * S, 0, 20 * S, 60 * S,
			      &end) == 0);
	assert_int_equal(end, SL_RELAY_END_MAX_DURATION);
}

static void test_neither(void **state)
{
	enum sl_relay_end end;

	(void)state;
	assert_true(next(100 * S, 0, 0, 0, 0, &end) == UINT64_MAX);
	assert_int_equal(end, SL_RELAY_END_INTERNAL);
}

static void test_end_name(void **state)
{
	(void)state;
	assert_string_equal(sl_relay_end_name(SL_RELAY_END_MAX_DURATION),
			    "max_duration");
	assert_string_equal(sl_relay_end_name(SL_RELAY_END_IDLE), "idle");
	assert_string_equal(sl_relay_end_name(SL_RELAY_END_HALF_CLOSE),
			    "half_close_timeout");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_only),
		cmocka_unit_test(test_max_only),
		cmocka_unit_test(test_earlier_deadline),
		cmocka_unit_test(test_half_close),
		cmocka_unit_test(test_neither),
		cmocka_unit_test(test_end_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include "testutil.h"

#include "query/timeline.h"

#define DAY_MS (24LL * 3600 * 1000)

/* The cases of Pyroscope's own Test_CalcPointInterval (pkg/querier/timeline/calculator_test.go),
 * plus the ladder's edges worked out from calculator.go by hand. */
static void test_step(void **state)
{
	(void)state;
	int64_t t0 = 1681779723000LL; /* 2023-04-18T01:02:03Z, their TestDate */
	assert_int_equal(timeline_step_seconds(t0, t0 + 1000), 15);
	assert_int_equal(timeline_step_seconds(t0, t0 + 3600 * 1000), 15);
	assert_int_equal(timeline_step_seconds(t0, t0 + 7 * DAY_MS), 300);
	assert_int_equal(timeline_step_seconds(t0, t0 + 30 * DAY_MS), 1800);
	assert_int_equal(timeline_step_seconds(t0, t0 + 6 * 30 * DAY_MS), 10800);
	assert_int_equal(timeline_step_seconds(t0, t0 + 12 * 30 * DAY_MS), 21600);
	assert_int_equal(timeline_step_seconds(t0, t0 + 2 * 12 * 30 * DAY_MS), 43200);
	assert_int_equal(timeline_step_seconds(t0, t0 + 5 * 12 * 30 * DAY_MS), 86400);
	/* range/1500: 17.5 s → 15 s; just above → 20 s; 25 s → 20 s; 45 s → 30 s */
	assert_int_equal(timeline_step_seconds(0, 17500LL * 1500), 15);
	assert_int_equal(timeline_step_seconds(0, 17500LL * 1500 + 2), 20);
	assert_int_equal(timeline_step_seconds(0, 25000LL * 1500), 20);
	assert_int_equal(timeline_step_seconds(0, 45000LL * 1500), 30);
	assert_int_equal(timeline_step_seconds(0, 45000LL * 1500 + 2), 60);
	/* 1 w..3 w → 1 w; below 6 w → 30 d; beyond → 1 y */
	assert_int_equal(timeline_step_seconds(0, 1814400000LL * 1500), 604800);
	assert_int_equal(timeline_step_seconds(0, 3628800000LL * 1500 - 1500), 2592000);
	assert_int_equal(timeline_step_seconds(0, 3628800000LL * 1500), 31536000);
	/* empty and reversed ranges get the minimum */
	assert_int_equal(timeline_step_seconds(5, 5), 15);
	assert_int_equal(timeline_step_seconds(5, 4), 15);
	/* no overflow at the extremes */
	assert_int_equal(timeline_step_seconds(INT64_MIN / 1000000, INT64_MAX / 1000000), 31536000);
}

static void test_buckets(void **state)
{
	(void)state;
	struct timeline tl;
	/* from 1000 s + 7 ms, until 1100.5 s, step 15: start snaps to 990, until is in the
	 * bucket [1095, 1110) → buckets 990, 1005, ..., 1095 = 8 */
	assert_int_equal(timeline_init(&tl, 1000007, 1100500, 15), 0);
	assert_int_equal(tl.start_s, 990);
	assert_int_equal(tl.step_s, 15);
	assert_int_equal(tl.n, 8);
	assert_true(timeline_add(&tl, 1000007000000LL, 5));
	assert_true(timeline_add(&tl, 1004999999999LL, 7)); /* still [990, 1005) */
	assert_true(timeline_add(&tl, 1005000000000LL, 2));
	assert_true(timeline_add(&tl, 1100500000000LL, 3));
	assert_false(timeline_add(&tl, 1110000000000LL, 100));
	assert_false(timeline_add(&tl, 989999999999LL, 100));
	assert_int_equal(timeline_value(&tl, 0, false), 12);
	assert_int_equal(timeline_value(&tl, 0, true), 6);
	assert_int_equal(timeline_value(&tl, 1, false), 2);
	for (size_t i = 2; i < 7; i++)
		assert_int_equal(timeline_value(&tl, i, false), 0);
	assert_int_equal(timeline_value(&tl, 7, false), 3);
	assert_int_equal(timeline_value(&tl, 7, true), 3);
	assert_int_equal(timeline_value(&tl, 6, true), 0);
	assert_int_equal(timeline_value(&tl, 8, false), 0);
	timeline_release(&tl);

	/* from == until on the grid: one bucket holding it */
	assert_int_equal(timeline_init(&tl, 1005000, 1005000, 15), 0);
	assert_int_equal(tl.n, 1);
	assert_int_equal(tl.start_s, 1005);
	timeline_release(&tl);

	/* before 1970 snaps down, not toward zero */
	assert_int_equal(timeline_init(&tl, -1000, 0, 15), 0);
	assert_int_equal(tl.start_s, -15);
	assert_int_equal(tl.n, 2);
	assert_true(timeline_add(&tl, -1, 1));
	assert_int_equal(timeline_value(&tl, 0, false), 1);
	timeline_release(&tl);

	assert_int_equal(timeline_init(&tl, 10, 9, 15), EMBER_EINVAL);
	assert_int_equal(timeline_init(&tl, 0, 15LL * 1000 * TIMELINE_MAX_BUCKETS, 15), EMBER_ETOOBIG);
	assert_int_equal(timeline_init(&tl, 0, 15LL * 1000 * (TIMELINE_MAX_BUCKETS - 1), 15), 0);
	assert_int_equal(tl.n, TIMELINE_MAX_BUCKETS);
	timeline_release(&tl);
}

static void test_saturation(void **state)
{
	(void)state;
	struct timeline tl;
	assert_int_equal(timeline_init(&tl, 0, 0, 15), 0);
	assert_true(timeline_add(&tl, 0, INT64_MAX - 1));
	assert_true(timeline_add(&tl, 0, 5));
	assert_int_equal(timeline_value(&tl, 0, false), INT64_MAX);
	timeline_release(&tl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_step),
		cmocka_unit_test(test_buckets),
		cmocka_unit_test(test_saturation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

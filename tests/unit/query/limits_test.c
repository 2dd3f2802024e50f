#include "testutil.h"

#include "query/limits.h"

#define MS 1000000LL
#define H (3600LL * 1000)

static void test_range(void **state)
{
	(void)state;
	struct query_limits l = QUERY_LIMITS_DEFAULT;
	struct query_range r;
	char err[200];
	int64_t now = 1000 * H * MS; /* ms -> ns */
	assert_int_equal(query_limits_range(&l, 0, 5, now, &r, err, sizeof(err)), EMBER_EINVAL);
	assert_string_equal(err, "missing time range in the query");
	assert_int_equal(query_limits_range(&l, 5, 0, now, &r, err, sizeof(err)), EMBER_EINVAL);
	assert_int_equal(query_limits_range(&l, 6, 5, now, &r, err, sizeof(err)), EMBER_EINVAL);
	assert_string_equal(err, "query start time is after end time");
	/* Inside the lookback, 1h: kept, end inclusive to the ms. */
	assert_int_equal(query_limits_range(&l, 999 * H, 1000 * H, now, &r, err, sizeof(err)), 0);
	assert_false(r.empty);
	assert_int_equal(r.start_ns, 999 * H * MS);
	assert_int_equal(r.end_ns, 1000 * H * MS + MS - 1);
	/* Exactly 24h passes, one ms more does not. */
	assert_int_equal(query_limits_range(&l, 976 * H, 1000 * H, now, &r, err, sizeof(err)), 0);
	assert_int_equal(query_limits_range(&l, 976 * H - 1, 1000 * H, now, &r, err, sizeof(err)), EMBER_EINVAL);
	assert_non_null(strstr(err, "max_query_length"));
	assert_non_null(strstr(err, "limit: 24h0m0s"));
	/* A start before the 7d lookback is clamped, and the clamped length is what counts. */
	assert_int_equal(query_limits_range(&l, 1, 1000 * H - 168 * H + H, now, &r, err, sizeof(err)), 0);
	assert_int_equal(r.start_ns, (1000 * H - 168 * H) * MS);
	/* Entirely before the lookback: empty, not an error. */
	assert_int_equal(query_limits_range(&l, 1, 2, now, &r, err, sizeof(err)), 0);
	assert_true(r.empty);
	/* Limits off. */
	struct query_limits off = {0};
	assert_int_equal(query_limits_range(&off, 1, 1000 * H, now, &r, err, sizeof(err)), 0);
	assert_false(r.empty);
	assert_int_equal(r.start_ns, MS);
	assert_int_equal(query_limits_range(&off, INT64_MIN, 5, now, &r, err, sizeof(err)), EMBER_EINVAL);
	assert_int_equal(query_limits_range(&off, 5, INT64_MAX, now, &r, err, sizeof(err)), EMBER_EINVAL);
}

static void test_max_nodes(void **state)
{
	(void)state;
	struct query_limits l = QUERY_LIMITS_DEFAULT;
	size_t n;
	char err[200];
	assert_int_equal(query_limits_max_nodes(&l, 0, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 8192);
	assert_int_equal(query_limits_max_nodes(&l, 7, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 7);
	assert_int_equal(query_limits_max_nodes(&l, 1048576, &n, err, sizeof(err)), 0);
	assert_int_equal(query_limits_max_nodes(&l, 1048577, &n, err, sizeof(err)), EMBER_EINVAL);
	assert_string_equal(err, "max flamegraph nodes limit 1048577 is greater than allowed 1048576");
	assert_int_equal(query_limits_max_nodes(&l, -1, &n, err, sizeof(err)), EMBER_EINVAL);
	assert_string_equal(err, "max flamegraph nodes limit must be set (max allowed 1048576)");
	struct query_limits off = {0};
	assert_int_equal(query_limits_max_nodes(&off, -1, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	assert_int_equal(query_limits_max_nodes(&off, 0, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_max_nodes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include "testutil.h"

#include "util/attime.h"

#define S INT64_C(1000000000)
/* 2020-01-01T00:00:00Z = 1577836800 (`date -u -d 2020-01-01 +%s`), Pyroscope's test epoch. */
#define NOW (INT64_C(1577836800) * S)

static int64_t at(const char *s)
{
	int64_t v = -42;
	assert_int_equal(attime_parse(slice_cstr(s), NOW, &v), 0);
	return v;
}

static void bad(const char *s)
{
	int64_t v = -42;
	assert_int_equal(attime_parse(slice_cstr(s), NOW, &v), EMBER_EINVAL);
	assert_true(v == -42);
}

static void test_pyroscope_cases(void **state)
{
	(void)state;
	/* The cases of Pyroscope's pkg/og/util/attime/attime_test.go. */
	assert_true(at("now") == NOW);
	assert_true(at("now-1s") == NOW - S);
	assert_true(at("now+1s") == NOW + S);
	assert_true(at("now-1min") == NOW - 60 * S);
	assert_true(at("now-1h") == NOW - 3600 * S);
	assert_true(at("now-1d") == NOW - 86400 * S);
	assert_true(at("now-1w") == NOW - 7 * 86400 * S);
	assert_true(at("now-1mon") == NOW - 30 * 86400 * S);
	assert_true(at("now-1M") == NOW - 30 * 86400 * S);
	assert_true(at("now-1y") == NOW - 365 * 86400 * S);
	assert_true(at("now-1") == NOW);
	assert_true(at("20200101") == NOW);
	assert_true(at("1577836800") == NOW);
	assert_true(at("1577836800001") == NOW + 1000000);
	assert_true(at("1577836800000001") == NOW + 1000);
	assert_true(at("1577836800000000001") == NOW + 1);
}

static void test_more(void **state)
{
	(void)state;
	assert_true(at("") == NOW);
	assert_true(at("   ") == NOW);
	assert_true(at(" now-30m ") == NOW - 1800 * S);
	assert_true(at("now+5m") == NOW + 300 * S);
	assert_true(at("now-1h30m") == NOW - 5400 * S);
	assert_true(at("-1h") == NOW - 3600 * S); /* empty reference = now (Graphite) */
	assert_true(at("1_577_836_800") == NOW);   /* '_' ',' ' ' are deleted, as Pyroscope */
	/* 2024-02-29 = 1709164800 (`date -u -d 2024-02-29 +%s`) */
	assert_true(at("20240229") == INT64_C(1709164800) * S);
	/* not a valid date, or year <= 1900: seconds */
	assert_true(at("20230229") == INT64_C(20230229) * S);
	assert_true(at("18000101") == INT64_C(18000101) * S);
	assert_true(at("0") == 0);
	assert_true(at("12") == 12 * S);
	/* other lengths are seconds; 11 digits of seconds overflow int64 nanoseconds */
	assert_true(at("1234567890") == INT64_C(1234567890) * S);
	bad("99999999999");
	/* int64 ns overflow: 9223372037 s > max */
	assert_true(at("9223372036") == INT64_C(9223372036) * S);
	bad("9223372037");
	bad("9999999999999");        /* 13 digits of ms overflow */
	assert_true(at("9223372036854775807") == INT64_MAX);
	bad("9223372036854775808");  /* 19 digits over int64 */
	bad("99999999999999999999"); /* 20 digits */
	bad("now-9999999999999y");
	bad("now-106752d");           /* 106752 days > 292 years of ns */
	bad("yesterday");
	bad("now-1fortnight");
	bad("now-");
	bad("now-h");
	bad("now--1h");
	bad("later-1h");
	bad("1.5");
	bad("-");
	bad("12345678901234567890123456789012345678901234567890123456789012345"); /* > 64 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pyroscope_cases),
		cmocka_unit_test(test_more),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

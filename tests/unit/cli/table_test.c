/* table: human units (the figures are worked out by hand: 1.5 MiB = 1572864 B, 2.5 min =
 * 150 s; 980 ms = 9.8e8 ns) and column alignment with multi-byte glyphs. */
#include "testutil.h"

#include "cli/table.h"

static void check(double v, enum unit_kind u, const char *want)
{
	char out[32];
	unit_format(out, sizeof(out), v, u);
	assert_string_equal(out, want);
}

static void test_units(void **state)
{
	(void)state;
	check(0, UNIT_NANOS, "0");
	check(999, UNIT_NANOS, "999ns");
	check(1500, UNIT_NANOS, "1.5us");
	check(10130000000.0, UNIT_NANOS, "10.13s");
	check(12345678, UNIT_NANOS, "12.35ms");
	check(150e9, UNIT_NANOS, "2.5min");
	check(7200e9, UNIT_NANOS, "2h");
	check(980e6, UNIT_NANOS, "980ms");
	check(1.2e9, UNIT_NANOS, "1.2s");
	check(-1.5e6, UNIT_NANOS, "-1.5ms");
	check(1023, UNIT_BYTES, "1023B");
	check(1024, UNIT_BYTES, "1KiB");
	check(1572864, UNIT_BYTES, "1.5MiB");
	check(3221225472.0, UNIT_BYTES, "3GiB");
	check(123456789, UNIT_COUNT, "123456789");
	assert_int_equal(unit_from_type_id("process_cpu:cpu:nanoseconds:cpu:nanoseconds"), UNIT_NANOS);
	assert_int_equal(unit_from_type_id("memory:alloc_space:bytes:space:bytes"), UNIT_BYTES);
	assert_int_equal(unit_from_type_id("goroutines:goroutine:count:goroutine:count"), UNIT_COUNT);
	assert_int_equal(unit_from_type_id("nonsense"), UNIT_COUNT);
	assert_int_equal(unit_from_name(NULL), UNIT_COUNT);
}

static void test_table(void **state)
{
	(void)state;
	struct table t;
	table_init(&t, "rl");
	table_cell(&t, "%s", "TOTAL");
	table_cell(&t, "%s", "NAME");
	table_cell(&t, "%s", "1.00s");
	table_cell(&t, "%s", "└─ a");
	table_cell(&t, "%d", 7);
	table_cell(&t, "%s", "b");
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	table_print(&t, m);
	fclose(m);
	assert_string_equal(text, "TOTAL  NAME\n1.00s  └─ a\n    7  b\n");
	assert_int_equal(table_text_width("└─ a"), 4);
	free(text);
	table_release(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_units),
		cmocka_unit_test(test_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

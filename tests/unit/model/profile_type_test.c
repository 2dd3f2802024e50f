#include "testutil.h"

#include "model/profile_type.h"

#define L(n, v) {{(const uint8_t *)(n), sizeof(n) - 1}, {(const uint8_t *)(v), sizeof(v) - 1}}

static char *fmt(const struct labels *ls)
{
	static char out[4096];
	struct buf b = BUF_INIT;
	labels_format(ls, &b);
	snprintf(out, sizeof(out), "%s", buf_cstr(&b));
	buf_release(&b);
	return out;
}

static void test_profile_type(void **state)
{
	(void)state;
	struct profile_type pt;
	char err[512];
	assert_int_equal(profile_type_parse(slice_cstr("process_cpu:cpu:nanoseconds:cpu:nanoseconds"), &pt, err, sizeof(err)), 0);
	assert_true(slice_eq_cstr(pt.name, "process_cpu"));
	assert_true(slice_eq_cstr(pt.sample_type, "cpu"));
	assert_true(slice_eq_cstr(pt.sample_unit, "nanoseconds"));
	assert_true(slice_eq_cstr(pt.period_type, "cpu"));
	assert_true(slice_eq_cstr(pt.period_unit, "nanoseconds"));
	assert_false(pt.has_suffix);
	assert_int_equal(profile_type_parse(slice_cstr("memory:alloc_space:bytes::"), &pt, err, sizeof(err)), 0);
	assert_int_equal(pt.period_type.n, 0);
	assert_int_equal(pt.period_unit.n, 0);
	/* 6 parts, as Pyroscope's Test_ParseProfileTypeSelector "valid_with_delta" */
	assert_int_equal(profile_type_parse(slice_cstr("cpu:samples:count:cpu:nanoseconds:delta"), &pt, err, sizeof(err)), 0);
	assert_true(pt.has_suffix);
	assert_true(slice_eq_cstr(pt.suffix, "delta"));
	assert_true(slice_eq_cstr(pt.id, "cpu:samples:count:cpu:nanoseconds:delta"));
	struct buf b = BUF_INIT;
	profile_type_format(&pt, &b);
	assert_string_equal(buf_cstr(&b), "cpu:samples:count:cpu:nanoseconds");
	buf_release(&b);
	/* Error texts are Pyroscope's (pkg/model/profile_test.go). */
	assert_int_equal(profile_type_parse(slice_cstr("memory:alloc_space:bytes:space"), &pt, err, sizeof(err)), EMBER_EINVAL);
	assert_string_equal(err, "profile-type selection must be of the form <name>:<sample-type>:<sample-unit>:<period-type>:<period-unit>(:delta), got(4): \"memory:alloc_space:bytes:space\"");
	assert_int_equal(profile_type_parse(slice_cstr("memory:alloc_space:bytes:space:bytes:extra:part"), &pt, err, sizeof(err)), EMBER_EINVAL);
	assert_string_equal(err, "profile-type selection must be of the form <name>:<sample-type>:<sample-unit>:<period-type>:<period-unit>(:delta), got(7): \"memory:alloc_space:bytes:space:bytes:extra:part\"");
	assert_int_equal(profile_type_parse(slice_cstr(""), &pt, err, sizeof(err)), EMBER_EINVAL);
	assert_string_equal(err, "profile-type selection must be of the form <name>:<sample-type>:<sample-unit>:<period-type>:<period-unit>(:delta), got(1): \"\"");
	/* set labels */
	struct arena a;
	arena_init(&a, 0);
	struct label v[] = {L("service_name", "api")};
	struct labels ls = {v, 1};
	assert_int_equal(profile_type_parse(slice_cstr("memory:alloc_space:bytes:space:bytes"), &pt, err, sizeof(err)), 0);
	profile_type_set_labels(&pt, &ls, &a);
	assert_string_equal(fmt(&ls), "{__name__=\"memory\", __period_type__=\"space\", __period_unit__=\"bytes\", "
				      "__profile_type__=\"memory:alloc_space:bytes:space:bytes\", __type__=\"alloc_space\", "
				      "__unit__=\"bytes\", service_name=\"api\"}");
	arena_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_profile_type),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

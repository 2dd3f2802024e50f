#include "testutil.h"

#include "ingest/spyfix.h"

static struct slice fn_name_of_line(const struct pprof_profile *p, size_t loc, size_t line)
{
	const struct pprof_function *f = pprof_function_by_id(p, p->locations[loc].lines[line].function_id);
	assert_non_null(f);
	return pprof_string(p, f->name);
}

static void build(struct pprof_builder *b)
{
	pprof_builder_init(b);
	pprof_builder_sample_type(b, "cpu", "nanoseconds");
	uint64_t f1 = pprof_builder_function(b, "work", "app.py", 3);
	uint64_t f2 = pprof_builder_function(b, "helper", "/usr/lib/python3/lib.py", 9);
	struct pprof_line l1 = {f1, 10}, l2 = {f2, 20}, l3 = {f1, 11};
	uint64_t a = pprof_builder_location(b, 0, 0, &l1, 1);
	uint64_t c = pprof_builder_location(b, 0, 0, &l2, 1);
	uint64_t d = pprof_builder_location(b, 0, 0, &l3, 1);
	uint64_t stack[3] = {a, c, d};
	int64_t v = 5;
	pprof_builder_sample(b, stack, 3, &v, 1, NULL, 0);
}

static void test_scripting_names(void **state)
{
	(void)state;
	struct pprof_builder b;
	build(&b);
	struct pprof_profile copy = *pprof_builder_profile(&b), *p = &copy;
	struct arena a;
	arena_init(&a, 0);
	assert_int_equal(spyfix_scripting_names(p, &a, false), 0);
	char err[200];
	assert_int_equal(pprof_validate(p, err, sizeof(err)), 0);
	assert_true(slice_eq_cstr(fn_name_of_line(p, 0, 0), "app.py work"));
	assert_true(slice_eq_cstr(fn_name_of_line(p, 1, 0), "/usr/lib/python3/lib.py helper"));
	assert_true(slice_eq_cstr(fn_name_of_line(p, 2, 0), "app.py work"));
	/* The two lines of "work" share one new function. */
	assert_int_equal(p->locations[0].lines[0].function_id, p->locations[2].lines[0].function_id);
	assert_int_equal(p->n_functions, 4);
	arena_release(&a);
	pprof_builder_release(&b);

	/* pyspy keeps absolute file names as they are. */
	build(&b);
	copy = *pprof_builder_profile(&b);
	arena_init(&a, 0);
	assert_int_equal(spyfix_scripting_names(p, &a, true), 0);
	assert_int_equal(pprof_validate(p, err, sizeof(err)), 0);
	assert_true(slice_eq_cstr(fn_name_of_line(p, 0, 0), "app.py work"));
	assert_true(slice_eq_cstr(fn_name_of_line(p, 1, 0), "helper"));
	arena_release(&a);
	pprof_builder_release(&b);
}

static void test_dotnet(void **state)
{
	(void)state;
	struct pprof_builder b;
	pprof_builder_init(&b);
	pprof_builder_sample_type(&b, "inuse-space", "bytes");
	uint64_t f1 = pprof_builder_function(&b, "A", "", 0);
	uint64_t f2 = pprof_builder_function(&b, "B", "", 0);
	struct pprof_line l1 = {f1, 0}, l2 = {f2, 0};
	uint64_t a1 = pprof_builder_location(&b, 0, 0, &l1, 1);
	uint64_t a2 = pprof_builder_location(&b, 0, 0, &l2, 1);
	uint64_t stack[2] = {a1, a2};
	int64_t v = 1;
	pprof_builder_sample(&b, stack, 2, &v, 1, NULL, 0);
	struct pprof_profile copy = *pprof_builder_profile(&b), *p = &copy;
	/* The broken .NET shape: every function id 0, lines pointing at the location ids. */
	p->functions[0].id = 0;
	p->functions[1].id = 0;
	p->locations[0].lines[0].function_id = p->locations[0].id;
	p->locations[1].lines[0].function_id = p->locations[1].id;
	struct arena a;
	arena_init(&a, 0);
	assert_int_equal(pprof_resolve(p, &a), 0);
	char err[200];
	assert_int_not_equal(pprof_validate(p, err, sizeof(err)), 0);
	assert_int_equal(spyfix_dotnet(p, &a), 0);
	assert_int_equal(pprof_validate(p, err, sizeof(err)), 0);
	assert_true(slice_eq_cstr(pprof_string(p, p->sample_types[0].type), "inuse_space"));
	assert_true(slice_eq_cstr(fn_name_of_line(p, 1, 0), "B"));
	arena_release(&a);
	pprof_builder_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scripting_names),
		cmocka_unit_test(test_dotnet),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include "testutil.h"

#include "ingest/plan.h"

static struct pprof_profile *make(struct pprof_builder *b)
{
	pprof_builder_init(b);
	pprof_builder_sample_type(b, "samples", "count");
	pprof_builder_sample_type(b, "cpu", "nanoseconds");
	uint64_t f = pprof_builder_function(b, "main", "m.go", 1);
	struct pprof_line line = {f, 1};
	uint64_t loc = pprof_builder_location(b, 0, 0, &line, 1);
	int64_t key = pprof_builder_cstr(b, "endpoint"), span = pprof_builder_cstr(b, "span_id");
	struct pprof_label la = {key, pprof_builder_cstr(b, "/a"), 0, 0};
	struct pprof_label lb[2] = {{key, pprof_builder_cstr(b, "/b"), 0, 0}, {span, pprof_builder_cstr(b, "123"), 0, 0}};
	struct pprof_label num = {pprof_builder_cstr(b, "bytes"), 0, 42, 0};
	int64_t v1[2] = {1, 10}, v2[2] = {2, 20}, neg[2] = {-1, 5}, zero[2] = {0, 0}, v3[2] = {3, 30};
	pprof_builder_sample(b, &loc, 1, v1, 2, &la, 1);
	pprof_builder_sample(b, &loc, 1, v2, 2, lb, 2);
	pprof_builder_sample(b, &loc, 1, neg, 2, &la, 1);  /* negative: dropped */
	pprof_builder_sample(b, &loc, 1, zero, 2, NULL, 0); /* all zero: dropped */
	pprof_builder_sample(b, &loc, 1, v3, 2, &num, 1);   /* numeric label only: no series label */
	struct pprof_profile *p = pprof_builder_profile(b);
	p->period_type.type = pprof_builder_cstr(b, "cpu");
	p->period_type.unit = pprof_builder_cstr(b, "nanoseconds");
	p->time_nanos = 5000;
	return p;
}

static struct labels client_labels(struct arena *a)
{
	struct labels ls = {0};
	labels_set(&ls, a, slice_cstr("__name__"), slice_cstr("process_cpu"));
	labels_set(&ls, a, slice_cstr("__delta__"), slice_cstr("false"));
	labels_set(&ls, a, slice_cstr("service_name"), slice_cstr("svc"));
	labels_set(&ls, a, slice_cstr("endpoint"), slice_cstr("/client-wins"));
	return ls;
}

static void test_groups_types_labels(void **state)
{
	(void)state;
	struct pprof_builder b;
	struct pprof_profile *p = make(&b);
	struct arena a;
	arena_init(&a, 0);
	struct ingest_limits lim;
	ingest_limits_default(&lim);
	struct ingest_plan plan = {0};
	char err[200];
	/* The client's endpoint label wins over the samples', so all samples are one series. */
	struct labels ls = client_labels(&a);
	assert_int_equal(ingest_plan_pprof(&plan, &a, p, &ls, &lim, 5000, true, err, sizeof(err)), 0);
	assert_int_equal(plan.n_sources, 1);
	assert_int_equal(plan.sources[0].n_items, 2 * 3); /* 3 label groups x 2 sample types */
	assert_int_equal(plan.n_samples, 3);
	for (size_t i = 0; i < plan.sources[0].n_items; i++) {
		const struct labels *l = plan.sources[0].items[i].labels;
		assert_true(labels_is_sorted_unique(l));
		assert_true(slice_eq_cstr(labels_get(l, "endpoint"), "/client-wins"));
		assert_true(slice_eq_cstr(labels_get(l, "__service_name__"), "svc"));
		assert_true(labels_find(l, slice_cstr("__delta__")) == NULL);
		assert_true(labels_find(l, slice_cstr("span_id")) == NULL);
		struct slice pt = labels_get(l, "__profile_type__");
		assert_true(slice_eq_cstr(pt, "process_cpu:samples:count:cpu:nanoseconds") ||
			    slice_eq_cstr(pt, "process_cpu:cpu:nanoseconds:cpu:nanoseconds"));
		assert_int_equal(plan.sources[0].items[i].time_ns, 5000);
	}
	free(plan.sources);

	/* Without the client label, samples split by endpoint: /a, /b and (none). */
	struct ingest_plan plan2 = {0};
	labels_delete(&ls, slice_cstr("endpoint"));
	assert_int_equal(ingest_plan_pprof(&plan2, &a, p, &ls, &lim, 5000, true, err, sizeof(err)), 0);
	size_t with_a = 0, with_b = 0, none = 0;
	for (size_t i = 0; i < plan2.sources[0].n_items; i++) {
		struct slice e = labels_get(plan2.sources[0].items[i].labels, "endpoint");
		with_a += slice_eq_cstr(e, "/a");
		with_b += slice_eq_cstr(e, "/b");
		none += e.n == 0;
		assert_int_equal(plan2.sources[0].items[i].n_samples, 1);
	}
	assert_int_equal(with_a, 2);
	assert_int_equal(with_b, 2);
	assert_int_equal(none, 2);
	free(plan2.sources);
	arena_release(&a);
	pprof_builder_release(&b);
}

static void test_window_and_bad_labels(void **state)
{
	(void)state;
	struct pprof_builder b;
	struct pprof_profile *p = make(&b);
	struct arena a;
	arena_init(&a, 0);
	struct ingest_limits lim;
	ingest_limits_default(&lim);
	struct ingest_plan plan = {0};
	char err[200];
	struct labels ls = client_labels(&a);
	int64_t now = 5000 + 2 * 3600LL * 1000000000LL; /* the profile is 2 h old */
	assert_int_equal(ingest_plan_pprof(&plan, &a, p, &ls, &lim, now, true, err, sizeof(err)), EMBER_ELIMIT);
	assert_non_null(strstr(err, "reject-older-than"));
	assert_int_equal(ingest_plan_pprof(&plan, &a, p, &ls, &lim, now, false, err, sizeof(err)), 0); /* replay */
	free(plan.sources);
	struct ingest_plan plan2 = {0};
	labels_set(&ls, &a, slice_cstr("bad-name"), slice_cstr("x"));
	assert_int_equal(ingest_plan_pprof(&plan2, &a, p, &ls, &lim, 5000, true, err, sizeof(err)), EMBER_EINVAL);
	assert_int_equal(plan2.n_profiles, 0);
	free(plan2.sources);
	arena_release(&a);
	pprof_builder_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_groups_types_labels),
		cmocka_unit_test(test_window_and_bad_labels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include <pthread.h>

#include "testutil.h"

#include "model/selector.h"
#include "store/head.h"

/* A profile with stacks (root first, by function name) and one value type. */
struct stack_spec {
	const char *frames[4];
	int64_t value;
};

static struct pprof_profile *make_profile(struct pprof_builder *b, const struct stack_spec *st, size_t n)
{
	pprof_builder_init(b);
	pprof_builder_sample_type(b, "cpu", "nanoseconds");
	for (size_t i = 0; i < n; i++) {
		uint64_t locs[4];
		size_t d = 0;
		while (d < 4 && st[i].frames[d])
			d++;
		for (size_t k = 0; k < d; k++) {
			/* A new function and location each time: the head must deduplicate them. */
			uint64_t f = pprof_builder_function(b, st[i].frames[k], "f.c", 0);
			struct pprof_line line = {f, 1};
			locs[d - 1 - k] = pprof_builder_location(b, 0, 0, &line, 1); /* leaf first */
		}
		pprof_builder_sample(b, locs, d, &st[i].value, 1, NULL, 0);
	}
	return pprof_builder_profile(b);
}

static struct labels make_labels(struct arena *a, const char *service, const char *pod)
{
	struct labels ls = {0};
	labels_set(&ls, a, slice_cstr("__name__"), slice_cstr("process_cpu"));
	labels_set(&ls, a, slice_cstr("__profile_type__"), slice_cstr("process_cpu:cpu:nanoseconds:cpu:nanoseconds"));
	labels_set(&ls, a, slice_cstr("service_name"), slice_cstr(service));
	labels_set(&ls, a, slice_cstr("pod"), slice_cstr(pod));
	labels_sort(&ls);
	return ls;
}

static int append(struct head *h, const char *tenant, const struct labels *ls, int64_t t,
		  const struct pprof_profile *p)
{
	uint32_t *idx = malloc((p->n_samples + 1) * sizeof(uint32_t));
	for (size_t i = 0; i < p->n_samples; i++)
		idx[i] = (uint32_t)i;
	struct head_append_item it = {.labels = ls, .time_ns = t, .value_index = 0, .samples = idx,
				      .n_samples = p->n_samples, .scale = 1};
	int rc = head_append(h, slice_cstr(tenant), p, &it, 1);
	free(idx);
	return rc;
}

struct collect {
	int64_t total;
	size_t profiles;
	size_t stacks_seen;
	const struct symbols *syms;
	uint32_t deepest;
};

static void on_profile(void *ctx, const struct head_profile_view *v)
{
	struct collect *c = ctx;
	c->total += v->total;
	c->profiles++;
	c->syms = v->syms;
	for (size_t i = 0; i < v->n; i++) {
		if (i)
			assert_true(v->stacks[i - 1] < v->stacks[i]); /* ascending, no duplicates */
		c->stacks_seen++;
		if (v->stacks[i] > c->deepest)
			c->deepest = v->stacks[i];
	}
}

static struct selector *sel(const char *s)
{
	struct selector *out;
	char err[128];
	assert_int_equal(selector_parse(slice_cstr(s), &out, err, sizeof(err)), 0);
	return out;
}

static const struct head_range ALL = {INT64_MIN, -1};

static void test_append_dedup_and_select(void **state)
{
	(void)state;
	struct head_limits lim = {.max_stack_depth = 1000, .max_symbol_len = 65535};
	struct head *h = head_new(&lim);
	struct arena a;
	arena_init(&a, 0);
	struct stack_spec st[] = {
		{{"main", "work", "spin", NULL}, 30},
		{{"main", "work", NULL}, 5},
		{{"main", "work", "spin", NULL}, 12}, /* same path as the first: summed */
		{{"main", "idle", NULL}, 0},          /* zero: skipped */
	};
	struct pprof_builder b;
	struct pprof_profile *p = make_profile(&b, st, 4);
	struct labels l1 = make_labels(&a, "api", "p1"), l2 = make_labels(&a, "api", "p2"),
		      l3 = make_labels(&a, "db", "p1");
	assert_int_equal(append(h, "t1", &l1, 1000, p), 0);
	assert_int_equal(append(h, "t1", &l2, 2000, p), 0);
	assert_int_equal(append(h, "t1", &l3, 3000, p), 0);
	assert_int_equal(append(h, "t2", &l1, 1000, p), 0);

	struct collect c = {0};
	assert_int_equal(head_select_profiles(h, slice_cstr("t1"), NULL, 0, ALL, on_profile, &c), 3);
	assert_int_equal(c.total, 3 * 47);
	assert_int_equal(c.stacks_seen, 3 * 2); /* two distinct paths per profile */

	/* The stack tree has root, main, work, spin (api's partition): identical paths cost one node. */
	struct selector *s_api = sel("{service_name=\"api\"}");
	const struct selector *sels[] = {s_api};
	memset(&c, 0, sizeof(c));
	assert_int_equal(head_select_profiles(h, slice_cstr("t1"), sels, 1, ALL, on_profile, &c), 2);
	assert_int_equal(c.syms->n_nodes, 4);
	assert_int_equal(c.syms->n_functions, 1 + 3); /* id 0 reserved + main, work, spin */

	/* Selectors: postings for =, and regex / negative matchers checked on candidates. */
	struct selector *s_pod = sel("{pod=~\"p.\", service_name!=\"db\"}");
	const struct selector *sels2[] = {s_pod};
	memset(&c, 0, sizeof(c));
	assert_int_equal(head_select_profiles(h, slice_cstr("t1"), sels2, 1, ALL, on_profile, &c), 2);
	/* Time range. */
	struct head_range r = {1500, 2500};
	memset(&c, 0, sizeof(c));
	assert_int_equal(head_select_profiles(h, slice_cstr("t1"), NULL, 0, r, on_profile, &c), 1);
	/* Tenants are separate. */
	memset(&c, 0, sizeof(c));
	assert_int_equal(head_select_profiles(h, slice_cstr("t2"), NULL, 0, ALL, on_profile, &c), 1);
	memset(&c, 0, sizeof(c));
	assert_int_equal(head_select_profiles(h, slice_cstr("t3"), NULL, 0, ALL, on_profile, &c), 0);

	struct head_tenant_stats ts;
	head_tenant_stats(h, slice_cstr("t1"), &ts);
	assert_true(ts.data_ingested);
	assert_int_equal(ts.series, 3);
	assert_int_equal(ts.profiles, 3);
	assert_int_equal(ts.oldest_ns, 1000);
	assert_int_equal(ts.newest_ns, 3000);

	selector_free(s_api);
	selector_free(s_pod);
	pprof_builder_release(&b);
	arena_release(&a);
	head_free(h);
}

static void test_depth_cap_and_series_limit(void **state)
{
	(void)state;
	struct head_limits lim = {.max_stack_depth = 2, .max_symbol_len = 3, .max_series = 2};
	struct head *h = head_new(&lim);
	struct arena a;
	arena_init(&a, 0);
	struct stack_spec st[] = {{{"main", "work", "spinning", NULL}, 7}};
	struct pprof_builder b;
	struct pprof_profile *p = make_profile(&b, st, 1);
	struct labels l1 = make_labels(&a, "x", "1"), l2 = make_labels(&a, "x", "2"), l3 = make_labels(&a, "x", "3");
	assert_int_equal(append(h, "t", &l1, 1, p), 0);
	assert_int_equal(append(h, "t", &l2, 1, p), 0);
	assert_int_equal(append(h, "t", &l3, 1, p), EMBER_ELIMIT);
	assert_int_equal(append(h, "t", &l1, 2, p), 0); /* an existing series is still fine */
	struct collect c = {0};
	head_select_profiles(h, slice_cstr("t"), NULL, 0, ALL, on_profile, &c);
	assert_int_equal(c.profiles, 3);
	/* Depth 2 keeps the root side: root, main, work -> 3 nodes; names keep their tail. */
	assert_int_equal(c.syms->n_nodes, 3);
	bool found = false;
	for (size_t i = 0; i < c.syms->strings.n; i++)
		found |= slice_eq_cstr(strtab_get(&c.syms->strings, (uint32_t)i), "ork");
	assert_true(found);
	pprof_builder_release(&b);
	arena_release(&a);
	head_free(h);
}

struct thread_arg {
	struct head *h;
	struct pprof_profile *p;
	int id;
};

static void *writer(void *arg)
{
	struct thread_arg *ta = arg;
	struct arena a;
	arena_init(&a, 0);
	char pod[16];
	snprintf(pod, sizeof(pod), "w%d", ta->id);
	struct labels ls = make_labels(&a, "svc", pod);
	for (int i = 0; i < 200; i++)
		assert_int_equal(append(ta->h, "t", &ls, i, ta->p), 0);
	arena_release(&a);
	return NULL;
}

static void *reader(void *arg)
{
	struct thread_arg *ta = arg;
	for (int i = 0; i < 200; i++) {
		struct collect c = {0};
		head_select_profiles(ta->h, slice_cstr("t"), NULL, 0, ALL, on_profile, &c);
		assert_int_equal(c.total, (int64_t)c.profiles * 47);
	}
	return NULL;
}

static void test_concurrent(void **state)
{
	(void)state;
	struct head_limits lim = {.max_stack_depth = 1000};
	struct head *h = head_new(&lim);
	struct stack_spec st[] = {{{"main", "work", "spin", NULL}, 42}, {{"main", "work", NULL}, 5}};
	struct pprof_builder b;
	struct pprof_profile *p = make_profile(&b, st, 2);
	pthread_t th[6];
	struct thread_arg args[6];
	for (int i = 0; i < 6; i++) {
		args[i] = (struct thread_arg){h, p, i};
		pthread_create(&th[i], NULL, i < 4 ? writer : reader, &args[i]);
	}
	for (int i = 0; i < 6; i++)
		pthread_join(th[i], NULL);
	struct collect c = {0};
	head_select_profiles(h, slice_cstr("t"), NULL, 0, ALL, on_profile, &c);
	assert_int_equal(c.profiles, 800);
	assert_int_equal(c.total, 800 * 47);
	pprof_builder_release(&b);
	head_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_dedup_and_select),
		cmocka_unit_test(test_depth_cap_and_series_limit),
		cmocka_unit_test(test_concurrent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

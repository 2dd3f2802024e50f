#include "testutil.h"

#include "query_testlib.h"

#include "query/ftree.h"


static const char *TYPE = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";

/* main -> work -> (spin inlined into hot) ; main -> 0x4000 in libfoo.so */
static struct pprof_profile *build(struct pprof_builder *b)
{
	pprof_builder_init(b);
	pprof_builder_sample_type(b, "cpu", "nanoseconds");
	uint64_t fmain = pprof_builder_function(b, "main", "m.c", 1);
	uint64_t fwork = pprof_builder_function(b, "work", "m.c", 5);
	uint64_t fhot = pprof_builder_function(b, "hot", "m.c", 9);
	uint64_t fspin = pprof_builder_function(b, "spin", "m.c", 20);
	uint64_t map = pprof_builder_mapping(b, 0x1000, 0x9000, "/usr/lib/libfoo.so");
	struct pprof_line lmain = {fmain, 2}, lwork = {fwork, 6};
	struct pprof_line inl[2] = {{fspin, 21}, {fhot, 10}}; /* innermost first */
	uint64_t a = pprof_builder_location(b, 0, 0, &lmain, 1);
	uint64_t c = pprof_builder_location(b, 0, 0, &lwork, 1);
	uint64_t d = pprof_builder_location(b, 0, 0, inl, 2);
	uint64_t e = pprof_builder_location(b, map, 0x4000, NULL, 0);
	uint64_t s1[3] = {d, c, a}, s2[2] = {c, a}, s3[2] = {e, a};
	int64_t v1 = 30, v2 = 5, v3 = 7;
	pprof_builder_sample(b, s1, 3, &v1, 1, NULL, 0);
	pprof_builder_sample(b, s2, 2, &v2, 1, NULL, 0);
	pprof_builder_sample(b, s3, 2, &v3, 1, NULL, 0);
	return pprof_builder_profile(b);
}

static uint32_t find_child(const struct ftree *t, uint32_t parent, const char *name)
{
	for (uint32_t c = t->nodes[parent].first_child; c; c = t->nodes[c].next_sibling)
		if (slice_eq_cstr(ftree_name(t, c), name))
			return c;
	fail_msg("no child %s", name);
	return 0;
}

static void test_merge_and_tree(void **state)
{
	(void)state;
	struct head_limits lim = {.max_stack_depth = 1000};
	struct head *h = head_new(&lim);
	struct pprof_builder b;
	struct pprof_profile *p = build(&b);
	head_add(h, "t", "api", p, 100);
	head_add(h, "t", "api", p, 200);
	head_add(h, "t", "db", p, 300);
	head_add(h, "other", "api", p, 100);

	struct slice tenants[] = {slice_cstr("t")};
	struct merge_request req = {TYPE, "{service_name=\"api\"}", 0, 1000, tenants, 1};
	struct ftree t;
	ftree_init(&t);
	struct merge_stats st;
	char err[200];
	assert_int_equal(merge_select(rd_of(h), &req, ftree_consume, &t, &st, err, sizeof(err)), 0);
	ftree_finish(&t);
	assert_int_equal(st.profiles, 2);
	assert_int_equal(st.total, 2 * 42);
	assert_int_equal(t.nodes[0].total, 84);
	uint32_t m = find_child(&t, 0, "main");
	assert_int_equal(t.nodes[m].total, 84);
	uint32_t w = find_child(&t, m, "work");
	assert_int_equal(t.nodes[w].total, 70);
	assert_int_equal(t.nodes[w].self, 10);
	uint32_t hot = find_child(&t, w, "hot"); /* the inlined frames expand, outermost first */
	uint32_t spin = find_child(&t, hot, "spin");
	assert_int_equal(t.nodes[spin].self, 60);
	uint32_t lib = find_child(&t, m, "libfoo.so+0x3000");
	assert_int_equal(t.nodes[lib].self, 14);
	/* Children sorted by name. */
	assert_int_equal(t.nodes[m].first_child, lib);
	assert_int_equal(t.max_depth, 4);
	ftree_release(&t);

	/* Time range and a bad selector. */
	req.label_selector = "";
	req.start_ns = 150;
	ftree_init(&t);
	assert_int_equal(merge_select(rd_of(h), &req, ftree_consume, &t, &st, err, sizeof(err)), 0);
	assert_int_equal(st.profiles, 2);
	ftree_release(&t);
	req.label_selector = "{service_name=}";
	assert_int_equal(merge_select(rd_of(h), &req, ftree_consume, &t, &st, err, sizeof(err)), EMBER_EINVAL);
	req.label_selector = "{}";
	req.profile_type = "nope";
	assert_int_equal(merge_select(rd_of(h), &req, ftree_consume, &t, &st, err, sizeof(err)), EMBER_EINVAL);
	pprof_builder_release(&b);
	head_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_and_tree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

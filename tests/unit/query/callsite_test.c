#include "testutil.h"

#include "query_testlib.h"

#include "pprof/pprof.h"
#include "query/callsite.h"
#include "query/ftree.h"


static const char *TYPE = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";

static void add(struct head *h, const struct pprof_profile *p, int64_t t)
{
	head_add(h, "t", "api", p, t);
}

/* main -> work -> (spin inlined into hot): 30; main -> work: 5; main -> 0x4000 in
 * libfoo.so: 7; main -> work -> hotter: 11. */
static struct pprof_profile *build(struct pprof_builder *b)
{
	pprof_builder_init(b);
	pprof_builder_sample_type(b, "cpu", "nanoseconds");
	uint64_t fmain = pprof_builder_function(b, "main", "m.c", 1);
	uint64_t fwork = pprof_builder_function(b, "work", "m.c", 5);
	uint64_t fhot = pprof_builder_function(b, "hot", "m.c", 9);
	uint64_t fspin = pprof_builder_function(b, "spin", "m.c", 20);
	uint64_t fhotter = pprof_builder_function(b, "hotter", "m.c", 30);
	uint64_t map = pprof_builder_mapping(b, 0x1000, 0x9000, "/usr/lib/libfoo.so");
	struct pprof_line lmain = {fmain, 2}, lwork = {fwork, 6}, lhotter = {fhotter, 31};
	struct pprof_line inl[2] = {{fspin, 21}, {fhot, 10}}; /* innermost first */
	uint64_t a = pprof_builder_location(b, 0, 0, &lmain, 1);
	uint64_t c = pprof_builder_location(b, 0, 0, &lwork, 1);
	uint64_t d = pprof_builder_location(b, 0, 0, inl, 2);
	uint64_t e = pprof_builder_location(b, map, 0x4000, NULL, 0);
	uint64_t f = pprof_builder_location(b, 0, 0, &lhotter, 1);
	uint64_t s1[3] = {d, c, a}, s2[2] = {c, a}, s3[2] = {e, a}, s4[3] = {f, c, a};
	int64_t v1 = 30, v2 = 5, v3 = 7, v4 = 11;
	pprof_builder_sample(b, s1, 3, &v1, 1, NULL, 0);
	pprof_builder_sample(b, s2, 2, &v2, 1, NULL, 0);
	pprof_builder_sample(b, s3, 2, &v3, 1, NULL, 0);
	pprof_builder_sample(b, s4, 3, &v4, 1, NULL, 0);
	return pprof_builder_profile(b);
}

static int64_t filtered_total(struct head *h, const char *const *names, size_t n)
{
	struct slice tenants[] = {slice_cstr("t")};
	struct merge_request req = {TYPE, "{}", 0, 1000, tenants, 1};
	struct callsite *cs = callsite_new(names, n);
	struct ftree t;
	ftree_init(&t);
	struct callsite_consumer cc = {.cs = cs, .next = ftree_consume, .next_ctx = &t};
	char err[200];
	assert_int_equal(merge_select(rd_of(h), &req, callsite_consume, &cc, NULL, err, sizeof(err)), 0);
	ftree_finish(&t);
	int64_t total = t.nodes[0].total;
	ftree_release(&t);
	callsite_free(cs);
	return total;
}

static void test_callsite(void **state)
{
	(void)state;
	struct head_limits lim = {.max_stack_depth = 1000};
	struct head *h = head_new(&lim);
	struct pprof_builder b;
	struct pprof_profile *p = build(&b);
	add(h, p, 100);
	add(h, p, 200);

	assert_int_equal(filtered_total(h, NULL, 0), 2 * 53); /* no filter */
	const char *mw[] = {"main", "work"};
	assert_int_equal(filtered_total(h, mw, 2), 2 * 46); /* whole stacks below main;work */
	const char *mwh[] = {"main", "work", "hot"};
	assert_int_equal(filtered_total(h, mwh, 3), 2 * 30); /* inlined frames expand outermost first */
	const char *mwhs[] = {"main", "work", "hot", "spin"};
	assert_int_equal(filtered_total(h, mwhs, 4), 2 * 30);
	const char *mws[] = {"main", "work", "spin"};
	assert_int_equal(filtered_total(h, mws, 3), 0);
	const char *ho[] = {"main", "work", "hotter"};
	assert_int_equal(filtered_total(h, ho, 3), 2 * 11); /* not a name prefix match: hot != hotter */
	const char *lib[] = {"main", "libfoo.so+0x3000"};
	assert_int_equal(filtered_total(h, lib, 2), 2 * 7); /* unsymbolised frames named as in ftree */
	const char *w[] = {"work"};
	assert_int_equal(filtered_total(h, w, 1), 0); /* anchored at the root */
	const char *deep[] = {"main", "work", "hot", "spin", "more"};
	assert_int_equal(filtered_total(h, deep, 5), 0); /* longer than every stack */

	pprof_builder_release(&b);
	head_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_callsite),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

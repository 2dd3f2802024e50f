#include "testutil.h"

#include "query/flamegraph.h"

/* Builds a finished ftree from "a;b;c" stacks. */
struct stk {
	const char *path;
	int64_t v;
};

static void tree_from(struct ftree *t, const struct stk *s, size_t n)
{
	ftree_init(t);
	for (size_t i = 0; i < n; i++) {
		struct slice names[32];
		size_t k = 0;
		const char *p = s[i].path;
		while (*p) {
			const char *e = strchr(p, ';');
			size_t len = e ? (size_t)(e - p) : strlen(p);
			names[k++] = slice_make(p, len);
			p += len + (e ? 1 : 0);
		}
		ftree_add_path(t, names, k, s[i].v);
	}
	ftree_finish(t);
}

static int name_idx(const struct flamegraph *fg, const char *name)
{
	for (size_t i = 0; i < fg->n_names; i++)
		if (strcmp(fg->names[i], name) == 0)
			return (int)i;
	fail_msg("name %s missing", name);
	return -1;
}

static void assert_level(const struct flamegraph *fg, size_t d, const int64_t *want, size_t n)
{
	assert_true(d < fg->n_levels);
	assert_int_equal(fg->levels[d].n, n);
	for (size_t i = 0; i < n; i++)
		if (fg->levels[d].values[i] != want[i])
			fail_msg("level %zu value %zu: got %lld want %lld", d, i, (long long)fg->levels[d].values[i],
				 (long long)want[i]);
}

/* The example of pyroscope-api.md §2.5. */
static void test_spec_example(void **state)
{
	(void)state;
	struct stk s[] = {{"a;b", 3}, {"a;c", 2}};
	struct ftree t;
	tree_from(&t, s, 2);
	struct flamegraph fg;
	flamegraph_build(&t, 0, &fg);
	assert_int_equal(fg.n_names, 4);
	assert_string_equal(fg.names[0], "total");
	int64_t ia = name_idx(&fg, "a"), ib = name_idx(&fg, "b"), ic = name_idx(&fg, "c");
	int64_t l0[] = {0, 5, 0, 0}, l1[] = {0, 5, 0, ia}, l2[] = {0, 3, 3, ib, 0, 2, 2, ic};
	assert_int_equal(fg.n_levels, 3);
	assert_level(&fg, 0, l0, 4);
	assert_level(&fg, 1, l1, 4);
	assert_level(&fg, 2, l2, 8);
	/* Pyroscope numbers names as its walk first meets them: children in reverse name order. */
	assert_int_equal(ia, 1);
	assert_int_equal(ic, 2);
	assert_int_equal(ib, 3);
	assert_int_equal(fg.total, 5);
	assert_int_equal(fg.max_self, 3);
	flamegraph_release(&fg);
	ftree_release(&t);
}

/* Pyroscope's own expectation (pkg/model/flamegraph_test.go Test_ExportToFlamebearer):
 * stacks a;b;e 1, a;c 2, a;c;d 1 give names total,a,c,d,b,e and these levels. A node's
 * children start after its self (d sits at x=3, after c's self of 2). */
static void test_pyroscope_export_example(void **state)
{
	(void)state;
	struct stk s[] = {{"a;b;e", 1}, {"a;c", 2}, {"a;c;d", 1}};
	struct ftree t;
	tree_from(&t, s, 3);
	struct flamegraph fg;
	flamegraph_build(&t, 0, &fg);
	const char *names[] = {"total", "a", "c", "d", "b", "e"};
	assert_int_equal(fg.n_names, 6);
	for (size_t i = 0; i < 6; i++)
		assert_string_equal(fg.names[i], names[i]);
	int64_t l0[] = {0, 4, 0, 0}, l1[] = {0, 4, 0, 1}, l2[] = {0, 1, 0, 4, 0, 3, 2, 2}, l3[] = {0, 1, 1, 5, 2, 1, 1, 3};
	assert_int_equal(fg.n_levels, 4);
	assert_level(&fg, 0, l0, 4);
	assert_level(&fg, 1, l1, 4);
	assert_level(&fg, 2, l2, 8);
	assert_level(&fg, 3, l3, 8);
	assert_int_equal(fg.total, 4);
	assert_int_equal(fg.max_self, 2);
	flamegraph_release(&fg);
	ftree_release(&t);
}

static void test_empty(void **state)
{
	(void)state;
	struct ftree t;
	tree_from(&t, NULL, 0);
	struct flamegraph fg;
	flamegraph_build(&t, 8192, &fg);
	assert_int_equal(fg.n_names, 1);
	assert_string_equal(fg.names[0], "total");
	int64_t l0[] = {0, 0, 0, 0};
	assert_int_equal(fg.n_levels, 1);
	assert_level(&fg, 0, l0, 4);
	assert_int_equal(fg.total, 0);
	assert_int_equal(fg.max_self, 0);
	flamegraph_release(&fg);
	flamegraph_release(&fg); /* idempotent */
	flamegraph_release(NULL);
	ftree_release(&t);
}

/* Pyroscope's Test_Tree_minValue. */
static void test_min_total(void **state)
{
	(void)state;
	struct stk s[] = {{"a;b;c", 1}, {"a;b;c", 1}, {"a;b;c1", 1}, {"a;b1;c", 1}};
	struct ftree t;
	tree_from(&t, s, 4);
	assert_int_equal(flamegraph_min_total(&t, 2), 3);
	assert_int_equal(flamegraph_min_total(&t, 0), 0);
	assert_int_equal(flamegraph_min_total(&t, 6), 0); /* 6 nodes below the root */
	assert_int_equal(flamegraph_min_total(&t, 5), 1);
	assert_int_equal(flamegraph_min_total(&t, 3), 2);
	assert_int_equal(flamegraph_min_total(&t, 1000000), 0);
	ftree_release(&t);
}

/* Decodes levels back into (path, self) pairs by x containment: an independent check
 * that totals survive and of what "other" holds. Returns the self of path. */
static int64_t decoded_self(const struct flamegraph *fg, const char *path)
{
	/* x of every node, decoded. */
	int64_t sum = 0;
	for (size_t d = 1; d < fg->n_levels; d++) {
		const struct flamegraph_level *l = &fg->levels[d];
		int64_t prev = 0;
		for (size_t i = 0; i < l->n; i += 4) {
			int64_t x = l->values[i] + prev;
			prev = x + l->values[i + 1];
			/* Build this node's path by walking up levels by x containment. */
			char buf[256] = "";
			const char *parts[32];
			parts[d - 1] = fg->names[l->values[i + 3]];
			for (size_t up = d - 1; up >= 1; up--) {
				const struct flamegraph_level *pl = &fg->levels[up];
				int64_t pp = 0;
				bool found = false;
				for (size_t j = 0; j < pl->n; j += 4) {
					int64_t px = pl->values[j] + pp;
					pp = px + pl->values[j + 1];
					if (px <= x && x < pp) {
						parts[up - 1] = fg->names[pl->values[j + 3]];
						found = true;
						break;
					}
				}
				assert_true(found);
			}
			size_t off = 0;
			for (size_t k = 0; k < d; k++)
				off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s", k ? ";" : "", parts[k]);
			if (strcmp(buf, path) == 0)
				sum += l->values[i + 2];
		}
	}
	return sum;
}

/* Pyroscope's Test_FlameGraphMerger "result truncation": max_nodes 4 keeps foo, fred,
 * bar, qux; baz goes into foo;bar;other and fred's children (a real "other" included)
 * into fred;other. */
static void test_other_folding(void **state)
{
	(void)state;
	struct stk s[] = {{"foo;bar", 1}, {"foo;bar;baz", 1}, {"foo;qux", 2}, {"fred;zoo", 1}, {"fred;other", 1}};
	struct ftree t;
	tree_from(&t, s, 5);
	struct flamegraph fg;
	flamegraph_build(&t, 4, &fg);
	assert_int_equal(fg.total, 6);
	int64_t l0[] = {0, 6, 0, 0};
	assert_level(&fg, 0, l0, 4);
	assert_int_equal(decoded_self(&fg, "foo;bar"), 1);
	assert_int_equal(decoded_self(&fg, "foo;bar;other"), 1);
	assert_int_equal(decoded_self(&fg, "foo;bar;baz"), 0);
	assert_int_equal(decoded_self(&fg, "foo;qux"), 2);
	assert_int_equal(decoded_self(&fg, "fred;other"), 2);
	assert_int_equal(decoded_self(&fg, "fred;zoo"), 0);
	/* Every level's totals sum to at most the root; self over all nodes = total. */
	int64_t self_sum = 0;
	for (size_t d = 0; d < fg.n_levels; d++)
		for (size_t i = 0; i < fg.levels[d].n; i += 4)
			self_sum += fg.levels[d].values[i + 2];
	assert_int_equal(self_sum, 6);
	assert_int_equal(fg.max_self, 2);
	flamegraph_release(&fg);

	/* No cut: the real "other" is still folded into a synthetic one of the same value. */
	flamegraph_build(&t, 0, &fg);
	assert_int_equal(decoded_self(&fg, "fred;zoo"), 1);
	assert_int_equal(decoded_self(&fg, "fred;other"), 1);
	assert_int_equal(decoded_self(&fg, "foo;bar;baz"), 1);
	flamegraph_release(&fg);
	ftree_release(&t);
}

/* Many siblings under a cut: totals stay exact and the kept node count is bounded. */
static void test_cut_many(void **state)
{
	(void)state;
	struct ftree t;
	ftree_init(&t);
	int64_t want = 0;
	for (int i = 1; i <= 500; i++) {
		char name[16];
		snprintf(name, sizeof(name), "f%03d", i);
		struct slice path[3] = {slice_cstr("main"), slice_cstr(name), slice_cstr("leaf")};
		ftree_add_path(&t, path, 3, i);
		want += i;
	}
	ftree_finish(&t);
	struct flamegraph fg;
	flamegraph_build(&t, 11, &fg);
	assert_int_equal(fg.total, want);
	/* main, f500..f496 and their 5 leaves = 11 nodes; "other" holds f001..f495. */
	assert_int_equal(flamegraph_min_total(&t, 11), 496);
	assert_int_equal(fg.n_levels, 4);
	assert_int_equal(fg.levels[1].n, 4);
	assert_int_equal(fg.levels[2].n, 6 * 4);
	assert_int_equal(fg.levels[3].n, 5 * 4);
	int64_t sum = 0;
	for (size_t i = 0; i < fg.levels[2].n; i += 4)
		sum += fg.levels[2].values[i + 1];
	assert_int_equal(sum, want);
	assert_int_equal(decoded_self(&fg, "main;other"), want - (496 + 497 + 498 + 499 + 500));
	assert_int_equal(fg.max_self, want - (496 + 497 + 498 + 499 + 500));
	/* Levels are in x order: the last node of level 2 is "other" (x after f496..f500). */
	assert_string_equal(fg.names[fg.levels[2].values[5 * 4 + 3]], "other");
	assert_string_equal(fg.names[fg.levels[2].values[3]], "f496");
	flamegraph_release(&fg);
	ftree_release(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_example),     cmocka_unit_test(test_pyroscope_export_example),
		cmocka_unit_test(test_empty),            cmocka_unit_test(test_min_total),
		cmocka_unit_test(test_other_folding),    cmocka_unit_test(test_cut_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include "testutil.h"

#include "query/diff.h"

static void tree_from(struct ftree *t, const char *const *paths, const int64_t *v, size_t n)
{
	ftree_init(t);
	for (size_t i = 0; i < n; i++) {
		struct slice names[16];
		size_t k = 0;
		const char *p = paths[i];
		while (*p) {
			const char *e = strchr(p, ';');
			size_t len = e ? (size_t)(e - p) : strlen(p);
			names[k++] = slice_make(p, len);
			p += len + (e ? 1 : 0);
		}
		ftree_add_path(t, names, k, v[i]);
	}
	ftree_finish(t);
}

static void assert_level(const struct flamegraph_diff *d, size_t lv, const int64_t *want, size_t n)
{
	assert_true(lv < d->n_levels);
	assert_int_equal(d->levels[lv].n, n);
	for (size_t i = 0; i < n; i++)
		if (d->levels[lv].values[i] != want[i])
			fail_msg("level %zu value %zu: got %lld want %lld", lv, i, (long long)d->levels[lv].values[i],
				 (long long)want[i]);
}

/* left a;b 3, a;c 2; right a;c 4, d 1: aligned to root{a{b,c},d}, 7 ints per node, the
 * two x offsets delta-encoded on their own. Worked out by hand from §2.5. */
static void test_alignment(void **state)
{
	(void)state;
	const char *lp[] = {"a;b", "a;c"}, *rp[] = {"a;c", "d"};
	int64_t lv[] = {3, 2}, rv[] = {4, 1};
	struct ftree l, r;
	tree_from(&l, lp, lv, 2);
	tree_from(&r, rp, rv, 2);
	struct flamegraph_diff d;
	flamegraph_diff_build(&l, &r, 0, &d);
	const char *names[] = {"total", "d", "a", "c", "b"};
	assert_int_equal(d.n_names, 5);
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(d.names[i], names[i]);
	int64_t l0[] = {0, 5, 0, 0, 5, 0, 0};
	int64_t l1[] = {0, 5, 0, 0, 4, 0, 2, /**/ 0, 0, 0, 0, 1, 1, 1};
	int64_t l2[] = {0, 3, 3, 0, 0, 0, 4, /**/ 0, 2, 2, 0, 4, 4, 3};
	assert_int_equal(d.n_levels, 3);
	assert_level(&d, 0, l0, 7);
	assert_level(&d, 1, l1, 14);
	assert_level(&d, 2, l2, 14);
	assert_int_equal(d.total, 10);
	assert_int_equal(d.left_ticks, 5);
	assert_int_equal(d.right_ticks, 5);
	assert_int_equal(d.max_self, 4);
	flamegraph_diff_release(&d);
	flamegraph_diff_release(&d);
	ftree_release(&l);
	ftree_release(&r);
}

/* Both sides empty: one root node of zeros. */
static void test_empty(void **state)
{
	(void)state;
	struct ftree l, r;
	tree_from(&l, NULL, NULL, 0);
	tree_from(&r, NULL, NULL, 0);
	struct flamegraph_diff d;
	flamegraph_diff_build(&l, &r, 8192, &d);
	assert_int_equal(d.n_names, 1);
	assert_string_equal(d.names[0], "total");
	int64_t l0[] = {0, 0, 0, 0, 0, 0, 0};
	assert_int_equal(d.n_levels, 1);
	assert_level(&d, 0, l0, 7);
	assert_int_equal(d.total, 0);
	flamegraph_diff_release(&d);
	ftree_release(&l);
	ftree_release(&r);
}

/* A cut keeps a node if either side makes it; the rest goes to "other" on both sides and
 * every level's totals still sum to each side's ticks. */
static void test_cut(void **state)
{
	(void)state;
	const char *lp[] = {"m;x1", "m;x2", "m;x3", "m;big"}, *rp[] = {"m;x1", "m;x2", "m;x3", "m;huge"};
	int64_t lv[] = {1, 2, 3, 50}, rv[] = {3, 2, 1, 60};
	struct ftree l, r;
	tree_from(&l, lp, lv, 4);
	tree_from(&r, rp, rv, 4);
	struct flamegraph_diff d;
	/* Aligned: root(56|66), m(56|66), big(50|0), huge(0|60), x1(1|3), x2, x3: 7 nodes; 4 kept
	 * means max(l,r) >= 50: root, m, big, huge; x1..x3 fold. */
	flamegraph_diff_build(&l, &r, 4, &d);
	assert_int_equal(d.n_levels, 3);
	assert_int_equal(d.levels[2].n, 3 * 7); /* big, huge, other */
	int64_t sl = 0, sr = 0;
	for (size_t i = 0; i < d.levels[2].n; i += 7) {
		sl += d.levels[2].values[i + 1];
		sr += d.levels[2].values[i + 4];
		if (strcmp(d.names[d.levels[2].values[i + 6]], "other") == 0) {
			assert_int_equal(d.levels[2].values[i + 1], 6);
			assert_int_equal(d.levels[2].values[i + 4], 6);
		}
	}
	assert_int_equal(sl, 56);
	assert_int_equal(sr, 66);
	assert_int_equal(d.left_ticks, 56);
	assert_int_equal(d.right_ticks, 66);
	flamegraph_diff_release(&d);
	ftree_release(&l);
	ftree_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alignment),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_cut),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

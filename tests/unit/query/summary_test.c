#include <math.h>

#include "testutil.h"

#include "query/summary.h"

/* Adds a folded line "a;b;c" with value v. */
static void add(struct ftree *t, const char *folded, int64_t v)
{
	struct slice names[64];
	size_t n = 0;
	const char *p = folded;
	while (*p) {
		const char *e = strchr(p, ';');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		names[n++] = slice_make(p, len);
		p += len + (e ? 1 : 0);
	}
	ftree_add_path(t, names, n, v);
}

static void check_fn(const struct summary_function *f, const char *name, int64_t self, int64_t total, int64_t all)
{
	if (!slice_eq_cstr(f->name, name))
		fail_msg("function %.*s, want %s", (int)f->name.n, (const char *)f->name.p, name);
	assert_int_equal(f->self, self);
	assert_int_equal(f->total, total);
	assert_true(fabs(f->self_share - (double)self / (double)all) < 1e-12);
}

static void check_step(const struct summary_step *s, const char *name, int64_t total, int64_t self, int64_t all)
{
	if (!slice_eq_cstr(s->name, name))
		fail_msg("step %.*s, want %s", (int)s->name.n, (const char *)s->name.p, name);
	assert_int_equal(s->total, total);
	assert_int_equal(s->self, self);
	assert_true(fabs(s->share - (double)total / (double)all) < 1e-12);
}

/* main;a;a;a 10, main;a;b 5, main;c;a 3 (values worked out by hand):
 *   a: self 10+3, total = main;a (15) + main;c;a (3) — main;a;a and main;a;a;a are inside
 *      main;a and must not be counted again;
 *   main: self 0, total 18; b: 5/5; c: 0/3. */
static void test_recursion(void **state)
{
	(void)state;
	struct ftree t;
	ftree_init(&t);
	add(&t, "main;a;a;a", 10);
	add(&t, "main;a;b", 5);
	add(&t, "main;c;a", 3);
	ftree_finish(&t);
	struct summary s;
	summary_build(&t, 10, &s);
	assert_int_equal(s.total, 18);
	assert_int_equal(s.n_top, 4);
	check_fn(&s.top[0], "a", 13, 18, 18);
	check_fn(&s.top[1], "b", 5, 5, 18);
	check_fn(&s.top[2], "main", 0, 18, 18); /* self ties at 0: larger total first */
	check_fn(&s.top[3], "c", 0, 3, 18);
	assert_int_equal(s.n_path, 4);
	check_step(&s.path[0], "main", 18, 0, 18);
	check_step(&s.path[1], "a", 15, 0, 18);
	check_step(&s.path[2], "a", 10, 0, 18);
	check_step(&s.path[3], "a", 10, 10, 18);
	summary_release(&s);

	/* top limits the list, not the path */
	summary_build(&t, 1, &s);
	assert_int_equal(s.n_top, 1);
	check_fn(&s.top[0], "a", 13, 18, 18);
	assert_int_equal(s.n_path, 4);
	summary_release(&s);
	summary_build(&t, 0, &s);
	assert_int_equal(s.n_top, 0);
	assert_null(s.top);
	summary_release(&s);
	ftree_release(&t);
}

/* Mutual recursion a -> b -> a: each name is counted once per path. */
static void test_mutual_recursion(void **state)
{
	(void)state;
	struct ftree t;
	ftree_init(&t);
	add(&t, "a;b;a;b", 7);
	add(&t, "a;b;a", 2);
	add(&t, "b", 1);
	ftree_finish(&t);
	struct summary_function *f;
	size_t n = summary_functions(&t, &f);
	assert_int_equal(n, 2);
	check_fn(&f[0], "b", 8, 10, 10); /* a;b (9) + b (1) */
	check_fn(&f[1], "a", 2, 9, 10);
	free(f);
	ftree_release(&t);
}

/* Ties: equal self → larger total first → name; the path takes the first child by name
 * among equal totals. */
static void test_ties(void **state)
{
	(void)state;
	struct ftree t;
	ftree_init(&t);
	add(&t, "main;y", 5);
	add(&t, "main;x", 5);
	add(&t, "main;w", 3);
	add(&t, "s", 2);
	add(&t, "t", 2);
	add(&t, "t;u", 4);
	ftree_finish(&t);
	struct summary s;
	summary_build(&t, 100, &s);
	assert_int_equal(s.total, 21);
	assert_int_equal(s.n_top, 7);
	check_fn(&s.top[0], "x", 5, 5, 21);
	check_fn(&s.top[1], "y", 5, 5, 21);
	check_fn(&s.top[2], "u", 4, 4, 21);
	check_fn(&s.top[3], "w", 3, 3, 21);
	check_fn(&s.top[4], "t", 2, 6, 21);
	check_fn(&s.top[5], "s", 2, 2, 21);
	check_fn(&s.top[6], "main", 0, 13, 21);
	assert_int_equal(s.n_path, 2);
	check_step(&s.path[0], "main", 13, 0, 21);
	check_step(&s.path[1], "x", 5, 5, 21);
	summary_release(&s);
	ftree_release(&t);
}

static void test_empty(void **state)
{
	(void)state;
	struct ftree t;
	ftree_init(&t);
	ftree_finish(&t);
	struct summary s;
	summary_build(&t, 10, &s);
	assert_int_equal(s.total, 0);
	assert_int_equal(s.n_top, 0);
	assert_int_equal(s.n_path, 0);
	summary_release(&s);
	struct summary_function *f;
	assert_int_equal(summary_functions(&t, &f), 0);
	assert_null(f);
	struct buf b = BUF_INIT;
	summary_dot(&t, 0, "empty", &b);
	char *txt = buf_cstr(&b);
	assert_non_null(strstr(txt, "digraph \"empty\" {"));
	assert_null(strstr(txt, "N1 "));
	buf_release(&b);
	ftree_release(&t);
}

/* A function called "total" is a function like any other; the root is not one. */
static void test_function_named_total(void **state)
{
	(void)state;
	struct ftree t;
	ftree_init(&t);
	add(&t, "total;x", 4);
	ftree_finish(&t);
	struct summary s;
	summary_build(&t, 10, &s);
	assert_int_equal(s.n_top, 2);
	check_fn(&s.top[0], "x", 4, 4, 4);
	check_fn(&s.top[1], "total", 0, 4, 4);
	assert_int_equal(s.n_path, 2);
	summary_release(&s);
	ftree_release(&t);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void test_dot(void **state)
{
	(void)state;
	struct ftree t;
	ftree_init(&t);
	add(&t, "main;a;a;a", 10);
	add(&t, "main;a;b", 5);
	add(&t, "main;c;a", 3);
	add(&t, "main;c;q\"uote", 1);
	ftree_finish(&t);
	struct buf b = BUF_INIT;
	summary_dot(&t, 0, "process_cpu:cpu:nanoseconds:cpu:nanoseconds", &b);
	char *txt = buf_cstr(&b);
	/* by total: main 19, a 18 (main;a 15 + main;c;a 3), b 5, c 4, q"uote 1 */
	assert_non_null(strstr(txt, "N1 [label=\"main\\n0 (0.00%)\\nof 19 (100.00%)\""));
	assert_non_null(strstr(txt, "N2 [label=\"a\\n13 (68.42%)\\nof 18 (94.74%)\""));
	assert_non_null(strstr(txt, "N3 [label=\"b\\n5 (26.32%)\""));
	assert_non_null(strstr(txt, "N5 [label=\"q\\\"uote\\n1 (5.26%)\""));
	assert_non_null(strstr(txt, "N1 -> N2 [label=\" 15\""));
	assert_non_null(strstr(txt, "N2 -> N2 [label=\" 10\"")); /* not 20: once per path */
	assert_non_null(strstr(txt, "N2 -> N3 [label=\" 5\""));
	assert_non_null(strstr(txt, "N1 -> N4 [label=\" 4\""));
	assert_non_null(strstr(txt, "N4 -> N2 [label=\" 3\""));
	assert_non_null(strstr(txt, "N4 -> N5 [label=\" 1\""));
	assert_int_equal(count(txt, " -> "), 6);
	assert_int_equal(txt[strlen(txt) - 2], '}');
	buf_release(&b);

	/* two nodes: only the edges between them */
	summary_dot(&t, 2, "x", &b);
	txt = buf_cstr(&b);
	assert_int_equal(count(txt, "id=\"node"), 2);
	assert_null(strstr(txt, "N3"));
	assert_non_null(strstr(txt, "Showing top 2 nodes out of 5"));
	assert_int_equal(count(txt, " -> "), 2);
	buf_release(&b);
	ftree_release(&t);
}

/* Deep trees are walked without recursion. */
static void test_deep(void **state)
{
	(void)state;
	struct ftree t;
	ftree_init(&t);
	uint32_t node = 0;
	for (int i = 0; i < 200000; i++)
		node = ftree_child(&t, node, slice_cstr(i % 2 ? "odd" : "even"));
	t.nodes[node].self = 9;
	ftree_finish(&t);
	struct summary s;
	summary_build(&t, 10, &s);
	assert_int_equal(s.n_top, 2);
	check_fn(&s.top[0], "odd", 9, 9, 9); /* the leaf is the 200000th: "odd" */
	check_fn(&s.top[1], "even", 0, 9, 9);
	assert_int_equal(s.n_path, 200000);
	summary_release(&s);
	ftree_release(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recursion), cmocka_unit_test(test_mutual_recursion),
		cmocka_unit_test(test_ties),      cmocka_unit_test(test_empty),
		cmocka_unit_test(test_function_named_total), cmocka_unit_test(test_dot),
		cmocka_unit_test(test_deep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* flame: decoding the flame graph levels of a SelectMergeStacktraces JSON reply. The
 * expected trees are the examples of pyroscope-api.md §2.5, written out by hand. */
#include "testutil.h"

#include "cli/flame.h"

static json_t *parse(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);
	if (!j)
		fail_msg("bad test JSON: %s", e.text);
	return j;
}

static char *folded(const struct flame *f)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	flame_write_folded(f, m);
	fclose(m);
	return text;
}

/* `a;b 3` and `a;c 2`: the example of the API notes, int64s as strings as protojson sends. */
static void test_spec_example(void **state)
{
	(void)state;
	json_t *j = parse("{\"names\":[\"total\",\"a\",\"b\",\"c\"],\"levels\":["
			  "{\"values\":[\"0\",\"5\",\"0\",\"0\"]},{\"values\":[\"0\",\"5\",\"0\",\"1\"]},"
			  "{\"values\":[\"0\",\"3\",\"3\",\"2\",\"0\",\"2\",\"2\",\"3\"]}],\"total\":\"5\",\"maxSelf\":\"3\"}");
	struct flame f;
	char err[200];
	assert_int_equal(flame_decode(j, &f, err, sizeof(err)), 0);
	assert_int_equal(f.n, 4);
	assert_int_equal(f.total, 5);
	assert_string_equal(flame_name(&f, 0), "total");
	assert_int_equal(f.nodes[0].first_child, 1);
	assert_int_equal(f.nodes[1].parent, 0);
	assert_int_equal(f.nodes[1].n_children, 2);
	assert_int_equal(f.nodes[1].first_child, 2);
	assert_int_equal(f.nodes[2].next_sibling, 3);
	assert_int_equal(f.nodes[3].next_sibling, 0);
	assert_int_equal(f.nodes[3].parent, 1);
	assert_int_equal(f.nodes[3].x, 3);
	assert_int_equal(f.nodes[3].self, 2);
	assert_int_equal(f.nodes[3].depth, 2);
	char *s = folded(&f);
	assert_string_equal(s, "a;b 3\na;c 2\n");
	free(s);
	flame_release(&f);
	json_decref(j);
}

/* x deltas: with [0,3,0,a, 0,2,1,d] at level 1, a level-2 node at x = 3 + 1 = 4 of width
 * 1 lies under d, and the self of an inner node (d) is a folded line of its own. Plain
 * JSON integers are accepted too. */
static void test_deltas_and_inner_self(void **state)
{
	(void)state;
	json_t *j = parse("{\"names\":[\"total\",\"a\",\"b\",\"d\",\"e\"],\"levels\":["
			  "{\"values\":[0,5,0,0]},{\"values\":[0,3,0,1,0,2,1,3]},"
			  "{\"values\":[0,3,3,2,1,1,1,4]}]}");
	struct flame f;
	char err[200];
	assert_int_equal(flame_decode(j, &f, err, sizeof(err)), 0);
	assert_int_equal(f.nodes[4].x, 4);
	assert_int_equal(f.nodes[4].parent, 2); /* d */
	assert_int_equal(f.nodes[3].parent, 1); /* b under a */
	char *s = folded(&f);
	assert_string_equal(s, "a;b 3\nd 1\nd;e 1\n");
	free(s);
	flame_release(&f);
	json_decref(j);
}

/* The empty graph the server returns for no data; and an empty level object (protojson
 * omits empty repeated fields). */
static void test_empty(void **state)
{
	(void)state;
	json_t *j = parse("{\"names\":[\"total\"],\"levels\":[{\"values\":[\"0\",\"0\",\"0\",\"0\"]},{}]}");
	struct flame f;
	char err[200];
	assert_int_equal(flame_decode(j, &f, err, sizeof(err)), 0);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.nodes[0].total, 0);
	char *s = folded(&f);
	assert_string_equal(s, "");
	free(s);
	flame_release(&f);
	json_decref(j);
}

static void expect_error(const char *doc, const char *reason)
{
	json_t *j = parse(doc);
	struct flame f;
	char err[200] = "";
	assert_int_equal(flame_decode(j, &f, err, sizeof(err)), EMBER_ECORRUPT);
	if (!strstr(err, reason))
		fail_msg("error \"%s\" does not say \"%s\"", err, reason);
	assert_null(f.nodes);
	assert_null(f.names);
	json_decref(j);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("[]", "missing names or levels");
	expect_error("{\"names\":[],\"levels\":[]}", "no names");
	expect_error("{\"names\":[\"total\"],\"levels\":[]}", "no levels");
	expect_error("{\"names\":[\"total\",1],\"levels\":[{\"values\":[0,1,0,0]}]}", "name 1 is not a string");
	expect_error("{\"names\":[\"total\"],\"levels\":[{\"values\":[0,1,0]}]}", "not a multiple of 4");
	expect_error("{\"names\":[\"total\"],\"levels\":[{\"values\":[0,1,0,0,0,1,0,0]}]}", "exactly one node");
	expect_error("{\"names\":[\"total\"],\"levels\":[{\"values\":[0,1,0,1]}]}", "invalid");       /* name index */
	expect_error("{\"names\":[\"total\"],\"levels\":[{\"values\":[0,1,2,0]}]}", "invalid");       /* self > total */
	expect_error("{\"names\":[\"total\"],\"levels\":[{\"values\":[0,-1,0,0]}]}", "invalid");      /* negative */
	expect_error("{\"names\":[\"total\"],\"levels\":[{\"values\":[\"x\",1,0,0]}]}", "not an integer");
	expect_error("{\"names\":[\"total\"],\"levels\":[{\"values\":[0,1,0,0]}, 5]}", "level 1 is not");
	/* A child wider than its parent, and one to the right of every parent. */
	expect_error("{\"names\":[\"total\",\"a\"],\"levels\":[{\"values\":[0,2,0,0]},{\"values\":[0,3,3,1]}]}",
		     "lies under no node");
	expect_error("{\"names\":[\"total\",\"a\"],\"levels\":[{\"values\":[0,2,0,0]},{\"values\":[2,1,1,1]}]}",
		     "lies under no node");
	/* x overflow. */
	expect_error("{\"names\":[\"total\",\"a\"],\"levels\":[{\"values\":[0,9223372036854775807,0,0]},"
		     "{\"values\":[1,9223372036854775807,0,1]}]}",
		     "overflows");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_example),
		cmocka_unit_test(test_deltas_and_inner_self),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

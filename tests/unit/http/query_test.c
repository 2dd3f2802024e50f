/* Expected values were cross-checked with Python's urllib.parse.parse_qs(...,
 * keep_blank_values=True) and unquote_plus, an independent implementation. */
#include "testutil.h"

#include "http/query.h"

static struct slice S(const char *s)
{
	return slice_cstr(s);
}

static void assert_get(const char *q, const char *name, const char *want)
{
	struct arena a;
	arena_init(&a, 0);
	struct slice v;
	assert_int_equal(http_query_get(S(q), name, &a, &v), 0);
	assert_int_equal(v.n, strlen(want));
	assert_memory_equal(v.p, want, v.n);
	assert_int_equal(v.p[v.n], '\0');
	arena_release(&a);
}

static void assert_get_rc(const char *q, const char *name, int want_rc)
{
	struct arena a;
	arena_init(&a, 0);
	struct slice v;
	assert_int_equal(http_query_get(S(q), name, &a, &v), want_rc);
	arena_release(&a);
}

static void test_query_get_basic(void **state)
{
	(void)state;
	assert_get("a=1&b=2&a=3", "a", "1");
	assert_get("a=1&b=2&a=3", "b", "2");
	assert_get_rc("a=1&b=2&a=3", "c", EMBER_ENOTFOUND);
	assert_get_rc("", "a", EMBER_ENOTFOUND);
	assert_get_rc("ab=1", "a", EMBER_ENOTFOUND);
	assert_get_rc("a=1", "ab", EMBER_ENOTFOUND);
	assert_get("&&a=1&", "a", "1");
	assert_get("a", "a", "");
	assert_get("a=", "a", "");
	assert_get("a==b", "a", "=b");
	/* ';' is not a separator (Go >= 1.17, Python 3.10+ parse_qs default '&'). */
	assert_get("a=1;b=2", "a", "1;b=2");
	assert_true(http_query_has(S("x&y=1"), "x"));
	assert_true(http_query_has(S("x&y=1"), "y"));
	assert_false(http_query_has(S("x&y=1"), "z"));
}

static void test_query_decoding(void **state)
{
	(void)state;
	assert_get("q=hello+world%21", "q", "hello world!");
	assert_get("q=%2B%2b", "q", "++");
	assert_get("q=%e2%82%AC", "q", "\xe2\x82\xac"); /* euro sign, mixed-case hex */
	assert_get("na%6De=x", "name", "x");           /* encoded key */
	assert_get("a+b=1", "a b", "1");               /* '+' in key is a space */
	assert_get("query=%7B__name__%3D%22cpu%22%7D", "query", "{__name__=\"cpu\"}");
	/* A malformed key never matches but does not hide later pairs. */
	assert_get("%zz=1&a=2", "a", "2");
	assert_get("%=1&a=2", "a", "2");
	/* Malformed escapes in the value asked for. */
	assert_get_rc("a=%zz", "a", EMBER_EINVAL);
	assert_get_rc("a=%4", "a", EMBER_EINVAL);
	assert_get_rc("a=%", "a", EMBER_EINVAL);
	assert_get_rc("a=x%g1", "a", EMBER_EINVAL);
	/* ...but not in other values. */
	assert_get("b=%zz&a=ok", "a", "ok");
}

static void test_percent_decode(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a, 0);
	struct slice v;
	assert_int_equal(http_percent_decode(S("a+b%20c"), false, &a, &v), 0);
	assert_int_equal(v.n, 5);
	assert_memory_equal(v.p, "a+b c", 5);
	assert_int_equal(http_percent_decode(S("a+b"), true, &a, &v), 0);
	assert_memory_equal(v.p, "a b", 3);
	assert_int_equal(http_percent_decode(S("x%00y"), false, &a, &v), 0);
	assert_int_equal(v.n, 3);
	assert_memory_equal(v.p, "x\0y", 3);
	assert_int_equal(http_percent_decode(S(""), false, &a, &v), 0);
	assert_int_equal(v.n, 0);
	assert_int_equal(http_percent_decode(S("%ff%FF"), false, &a, &v), 0);
	assert_int_equal(v.n, 2);
	assert_int_equal(v.p[0], 0xff);
	assert_int_equal(v.p[1], 0xff);
	assert_int_equal(http_percent_decode(S("abc%"), false, &a, &v), EMBER_EINVAL);
	assert_int_equal(http_percent_decode(S("abc%1"), false, &a, &v), EMBER_EINVAL);
	assert_int_equal(http_percent_decode(S("%+1"), false, &a, &v), EMBER_EINVAL);
	arena_release(&a);
}

static void test_query_get_all(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a, 0);
	struct slice *vs;
	size_t n;
	assert_int_equal(http_query_get_all(S("a=1&b=2&a=3&a&a=x+y"), "a", &a, &vs, &n), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(vs[0].p, "1", 1);
	assert_memory_equal(vs[1].p, "3", 1);
	assert_int_equal(vs[2].n, 0);
	assert_int_equal(vs[3].n, 3);
	assert_memory_equal(vs[3].p, "x y", 3);
	assert_int_equal(http_query_get_all(S("a=1"), "z", &a, &vs, &n), 0);
	assert_int_equal(n, 0);
	assert_null(vs);
	assert_int_equal(http_query_get_all(S("a=1&a=%x1"), "a", &a, &vs, &n), EMBER_EINVAL);
	arena_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_get_basic),
		cmocka_unit_test(test_query_decoding),
		cmocka_unit_test(test_percent_decode),
		cmocka_unit_test(test_query_get_all),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include <pthread.h>

#include "testutil.h"

#include "model/selector.h"

static char err[512];

static struct selector *P(const char *s)
{
	struct selector *sel = NULL;
	int rc = selector_parse(slice_cstr(s), &sel, err, sizeof(err));
	if (rc)
		fail_msg("parse %s: %s", s, err);
	return sel;
}

static int E(const char *s)
{
	struct selector *sel = (struct selector *)1;
	int rc = selector_parse(slice_cstr(s), &sel, err, sizeof(err));
	assert_null(sel);
	return rc;
}

static const char *F(const char *s)
{
	static char out[1024];
	struct selector *sel = P(s);
	struct buf b = BUF_INIT;
	selector_format(sel, &b);
	snprintf(out, sizeof(out), "%s", buf_cstr(&b));
	buf_release(&b);
	selector_free(sel);
	return out;
}

#define L(n, v) {{(const uint8_t *)(n), sizeof(n) - 1}, {(const uint8_t *)(v), sizeof(v) - 1}}

static void test_parse_forms(void **state)
{
	(void)state;
	/* Forms promtool 2.42 (`promtool check rules`) also accepts; {} Pyroscope uses. */
	assert_string_equal(F("{}"), "{}");
	assert_string_equal(F("  { }  "), "{}");
	assert_string_equal(F("{a=\"b\",}"), "{a=\"b\"}");
	assert_string_equal(F("{ a = \"b\" , c != 'd' ,e=~`f.*`, g !~ \"h\" }"),
			    "{a=\"b\", c!=\"d\", e=~\"f.*\", g!~\"h\"}");
	assert_string_equal(F("process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name=\"x\"}"),
			    "process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name=\"x\"}");
	assert_string_equal(F("up"), "up{}");
	/* fuzz regression: a value ending in = before the closing quote */
	assert_string_equal(F("{a!=\"x==\", \"b=\"=\"=\"}"), "{a!=\"x==\", \"b=\"=\"=\"}");
	/* escapes: Go's, as Prometheus */
	assert_string_equal(F("{a=\"\\u00e9\\t\\n\\\\\\\"\\x41\\101\\U0001F525\"}"),
			    "{a=\"\xc3\xa9\\t\\n\\\\\\\"AA\xf0\x9f\x94\xa5\"}");
	assert_string_equal(F("{a='it\\'s'}"), "{a=\"it's\"}");
	assert_string_equal(F("{a=`raw\\n\"`}"), "{a=\"raw\\\\n\\\"\"}");
	/* Prometheus 3: quoted names and a quoted metric name inside the braces */
	assert_string_equal(F("{\"a.b\"=\"c\"}"), "{\"a.b\"=\"c\"}");
	assert_string_equal(F("{\"my.metric\", a=\"b\"}"), "my.metric{a=\"b\"}");
	assert_string_equal(F("{\"my metric\"}"), "{\"my metric\"}");
	/* lenient: unquoted dotted names */
	assert_string_equal(F("{service.name=\"x\"}"), "{\"service.name\"=\"x\"}");

	struct selector *sel = P("memory:alloc_space:bytes::{service_name=\"api\", pod=~\"a.*\"}");
	assert_true(slice_eq_cstr(selector_metric_name(sel), "memory:alloc_space:bytes::"));
	assert_int_equal(selector_matcher_count(sel), 2);
	struct selector_matcher m;
	selector_matcher_at(sel, 1, &m);
	assert_int_equal(m.op, SELECTOR_RE);
	assert_true(slice_eq_cstr(m.name, "pod"));
	assert_true(slice_eq_cstr(m.value, "a.*"));
	selector_free(sel);
	sel = P("{a=\"b\"}");
	assert_int_equal(selector_metric_name(sel).n, 0);
	selector_free(sel);
}

static void test_errors(void **state)
{
	(void)state;
	/* Positions agree with promtool 2.42's "1:N" where it reports the same thing. */
	assert_int_equal(E("{a=\"b\"}}"), EMBER_EINVAL);
	assert_string_equal(err, "parse error at char 8: unexpected \"}\", expected end of input");
	assert_int_equal(E("{a=~\"a(\"}"), EMBER_EINVAL);
	assert_string_equal(err, "invalid regex \"a(\": missing closing parenthesis at offset 2");
	assert_int_equal(E("{a==\"b\"}"), EMBER_EINVAL);
	assert_string_equal(err, "parse error at char 3: unexpected \"==\", expected one of =, !=, =~, !~");
	assert_int_equal(E("{a='x\\\"'}"), EMBER_EINVAL);
	assert_string_equal(err, "parse error at char 6: unknown escape sequence");
	assert_int_equal(E("{a=\"x\\q\"}"), EMBER_EINVAL);
	assert_string_equal(err, "parse error at char 6: unknown escape sequence");
	assert_int_equal(E("{a=\"b\""), EMBER_EINVAL);
	assert_string_equal(err, "parse error at char 7: unexpected end of input, expected \",\" or \"}\"");
	assert_int_equal(E("{a=\"b}"), EMBER_EINVAL);
	assert_string_equal(err, "parse error at char 4: unterminated quoted string");
	assert_int_equal(E("{a=\"b\nc\"}"), EMBER_EINVAL);
	assert_string_equal(err, "parse error at char 4: unterminated quoted string");
	assert_int_equal(E("{a=b}"), EMBER_EINVAL);
	assert_string_equal(err, "parse error at char 4: unexpected \"b\", expected quoted string");
	assert_int_equal(E("{a=\"b\" c=\"d\"}"), EMBER_EINVAL);
	assert_string_equal(err, "parse error at char 8: unexpected \"c\", expected \",\" or \"}\"");
	assert_int_equal(E("{,}"), EMBER_EINVAL);
	assert_string_equal(err, "parse error at char 2: unexpected \",\", expected label name");
	assert_int_equal(E(""), EMBER_EINVAL);
	assert_string_equal(err, "parse error: empty selector");
	assert_int_equal(E("   "), EMBER_EINVAL);
	assert_int_equal(E("{"), EMBER_EINVAL);
	assert_int_equal(E("}"), EMBER_EINVAL);
	assert_int_equal(E("{a}"), EMBER_EINVAL);
	assert_int_equal(E("m{\"n\"}"), EMBER_EINVAL);
	assert_string_equal(err, "parse error at char 3: metric name must not be set twice");
	assert_int_equal(E("{a=\"\\ud800\"}"), EMBER_EINVAL); /* surrogate */
	assert_int_equal(E("{a=\"\\xff\"}"), EMBER_EINVAL);   /* not UTF-8 once unescaped */
	assert_string_equal(err, "parse error at char 4: string is not valid UTF-8");
	assert_int_equal(E("{a=\"\\400\"}"), EMBER_EINVAL);
	assert_int_equal(E("{a=\"\xff\"}"), EMBER_EINVAL);
	assert_string_equal(err, "selector is not valid UTF-8");
	assert_int_equal(E("{a=\"\\u12\"}"), EMBER_EINVAL);
	assert_int_equal(E("{a=\"b\"} x"), EMBER_EINVAL);
}

static void test_matching(void **state)
{
	(void)state;
	struct label v[] = {L("__name__", "process_cpu"), L("pod", "api-7f9"), L("service_name", "api")};
	struct labels ls = {v, 3};
	struct {
		const char *sel;
		bool want;
	} cases[] = {
		{"{}", true},
		{"{service_name=\"api\"}", true},
		{"{service_name=\"ap\"}", false},
		{"{service_name!=\"api\"}", false},
		{"{pod=~\"api-.*\"}", true},
		{"{pod=~\"api\"}", false},       /* anchored: no partial match */
		{"{pod=~\"pi-7\"}", false},
		{"{pod=~\"a|b\"}", false},        /* anchoring covers alternations */
		{"{pod=~\"b|api-7f9\"}", true},
		{"{pod!~\"api-.*\"}", false},
		{"{pod=~\"(?i)API-7F9\"}", true},
		/* a missing label matches as "" */
		{"{missing=\"\"}", true},
		{"{missing!=\"\"}", false},
		{"{pod=\"\"}", false},
		{"{pod!=\"\"}", true},
		{"{missing=~\".*\"}", true},
		{"{missing=~\".+\"}", false},
		{"{missing!~\".+\"}", true},
		{"{missing=~\"x?\"}", true},
		{"{missing!=\"x\"}", true},
		{"{service_name=\"api\", pod=~\"api.*\", missing=\"\"}", true},
		{"{service_name=\"api\", pod=~\"web.*\"}", false},
		/* the metric prefix is not matched */
		{"other:x:y:z:w{service_name=\"api\"}", true},
	};
	for (size_t i = 0; i < EMBER_ARRAY_LEN(cases); i++) {
		struct selector *sel = P(cases[i].sel);
		if (selector_matches(sel, &ls) != cases[i].want)
			fail_msg("%s: want %d", cases[i].sel, cases[i].want);
		selector_free(sel);
	}
	/* '.' matches newline and '$' is the end (Prometheus 3's (?s), RE2's $) */
	struct label nl[] = {L("a", "x\ny"), L("b", "foo\n")};
	struct labels lnl = {nl, 2};
	struct selector *sel = P("{a=~\"x.y\"}");
	assert_true(selector_matches(sel, &lnl));
	selector_free(sel);
	sel = P("{b=~\"foo$\"}");
	assert_false(selector_matches(sel, &lnl));
	selector_free(sel);
	sel = P("{b=~\"foo\\n\"}");
	assert_true(selector_matches(sel, &lnl));
	selector_free(sel);
	/* UTF mode: '.' is one code point */
	struct label u[] = {L("a", "\xc3\xa9")};
	struct labels lu = {u, 1};
	sel = P("{a=~\".\"}");
	assert_true(selector_matches(sel, &lu));
	assert_true(selector_matcher_matches(sel, 0, slice_cstr("z")));
	assert_false(selector_matcher_matches(sel, 0, slice_cstr("zz")));
	selector_free(sel);
}

static void test_list(void **state)
{
	(void)state;
	struct slice strs[] = {slice_cstr("{a=\"1\"}"), slice_cstr("{b=\"2\"}")};
	struct selector **sels;
	assert_int_equal(selector_parse_matchers_list(strs, 2, &sels, err, sizeof(err)), 0);
	struct label v1[] = {L("a", "1")}, v2[] = {L("b", "2")}, v3[] = {L("c", "3")};
	struct labels l1 = {v1, 1}, l2 = {v2, 1}, l3 = {v3, 1};
	assert_true(selector_list_matches(sels, 2, &l1)); /* OR */
	assert_true(selector_list_matches(sels, 2, &l2));
	assert_false(selector_list_matches(sels, 2, &l3));
	assert_true(selector_list_matches(sels, 0, &l3)); /* empty list: everything */
	selector_list_free(sels, 2);
	struct slice bad[] = {slice_cstr("{}"), slice_cstr("{a=}")};
	assert_int_equal(selector_parse_matchers_list(bad, 2, &sels, err, sizeof(err)), EMBER_EINVAL);
	assert_null(sels);
	assert_string_equal(err, "matchers[1]: parse error at char 4: unexpected \"}\", expected quoted string");
	assert_int_equal(selector_parse_matchers_list(NULL, 0, &sels, err, sizeof(err)), 0);
	assert_null(sels);
}

static void test_hostile(void **state)
{
	(void)state;
	/* 1,000 matchers are fine, 1,025 are refused */
	struct buf b = BUF_INIT;
	buf_append_byte(&b, '{');
	for (int i = 0; i < 1025; i++)
		buf_printf(&b, "l%d=~\"v%d|x\",", i, i);
	buf_append_byte(&b, '}');
	struct selector *sel;
	assert_int_equal(selector_parse(slice_make(b.p, b.n), &sel, err, sizeof(err)), EMBER_ETOOBIG);
	buf_release(&b);
	buf_append_byte(&b, '{');
	for (int i = 0; i < 1000; i++)
		buf_printf(&b, "l%d=\"v%d\",", i, i);
	buf_append_byte(&b, '}');
	assert_int_equal(selector_parse(slice_make(b.p, b.n), &sel, err, sizeof(err)), 0);
	assert_int_equal(selector_matcher_count(sel), 1000);
	selector_free(sel);
	buf_release(&b);
	/* over 1 MiB of input */
	size_t big = SELECTOR_MAX_LEN + 1;
	char *s = malloc(big);
	memset(s, ' ', big);
	memcpy(s, "{}", 2);
	assert_int_equal(selector_parse(slice_make(s, big), &sel, err, sizeof(err)), EMBER_ETOOBIG);
	/* a 1 MiB value is fine (it is all one string) */
	memcpy(s, "{a=\"", 4);
	memset(s + 4, 'x', SELECTOR_MAX_LEN - 6);
	memcpy(s + SELECTOR_MAX_LEN - 2, "\"}", 2);
	assert_int_equal(selector_parse(slice_make(s, SELECTOR_MAX_LEN), &sel, err, sizeof(err)), 0);
	struct selector_matcher m;
	selector_matcher_at(sel, 0, &m);
	assert_int_equal(m.value.n, SELECTOR_MAX_LEN - 6);
	selector_free(sel);
	free(s);
	/* deep nesting: PCRE2's parenthesis limit gives a clean error */
	buf_append_cstr(&b, "{a=~\"");
	for (int i = 0; i < 5000; i++)
		buf_append_byte(&b, '(');
	for (int i = 0; i < 5000; i++)
		buf_append_byte(&b, ')');
	buf_append_cstr(&b, "\"}");
	assert_int_equal(selector_parse(slice_make(b.p, b.n), &sel, err, sizeof(err)), EMBER_EINVAL);
	assert_non_null(strstr(err, "parentheses are too deeply nested"));
	buf_release(&b);
	/* catastrophic backtracking ends at the match limit: no match, no hang */
	sel = P("{a=~\"(a+)+b\"}");
	char *v = malloc(4096);
	memset(v, 'a', 4096);
	struct label l[] = {{slice_cstr("a"), slice_make(v, 4096)}};
	struct labels ls = {l, 1};
	assert_false(selector_matches(sel, &ls));
	free(v);
	selector_free(sel);
	/* injection cannot escape the anchoring */
	assert_int_equal(E("{a=~\"x)|(.*\"}"), EMBER_EINVAL);
}

/* One selector matched from 4 threads at once (helgrind/TSan material; here a smoke test
 * that results stay right). */
struct thr {
	struct selector *sel;
	int hits;
};
static void *thr_main(void *arg)
{
	struct thr *t = arg;
	struct label v[] = {L("pod", "api-123"), L("service_name", "api")};
	struct labels ls = {v, 2};
	for (int i = 0; i < 20000; i++)
		t->hits += selector_matches(t->sel, &ls);
	return NULL;
}
static void test_threads(void **state)
{
	(void)state;
	struct selector *sel = P("{pod=~\"api-[0-9]+\", service_name=~\"a.i\"}");
	pthread_t th[4];
	struct thr t[4];
	for (int i = 0; i < 4; i++) {
		t[i] = (struct thr){sel, 0};
		pthread_create(&th[i], NULL, thr_main, &t[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(t[i].hits, 20000);
	}
	selector_free(sel);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_forms),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_matching),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

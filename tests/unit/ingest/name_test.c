#include "testutil.h"

#include "ingest/name.h"

static struct arena A;
static char err[256];

/* Parses s and renders "app{labels in order}" for comparison. */
static const char *parse(const char *s)
{
	static char out[4096];
	struct ingest_name n;
	int rc = ingest_name_parse(slice_cstr(s), &A, &n, err, sizeof(err));
	if (rc) {
		snprintf(out, sizeof(out), "ERR %d: %s", rc, err);
		return out;
	}
	struct buf b = BUF_INIT;
	buf_append(&b, n.app.p, n.app.n);
	labels_format(&n.labels, &b);
	snprintf(out, sizeof(out), "%s", buf_cstr(&b));
	buf_release(&b);
	return out;
}

static void test_basic(void **state)
{
	(void)state;
	/* Pyroscope's api/model/labelset/labelset_test.go */
	assert_string_equal(parse("foo"), "foo{}");
	assert_string_equal(parse("foo{bar=1,baz=2}"), "foo{bar=\"1\", baz=\"2\"}");
	assert_string_equal(parse(" foo { bar = 1 , baz = 2 } "), "foo{bar=\"1\", baz=\"2\"}");
	/* The Go SDK's name */
	assert_string_equal(parse("my-app.cpu{__session_id__=8e3a4e1b21f1d0a2,otel.scope.name=com.grafana.pyroscope/go,process.runtime.version=go1.22.1}"),
			    "my-app.cpu{__session_id__=\"8e3a4e1b21f1d0a2\", \"otel.scope.name\"=\"com.grafana.pyroscope/go\", "
			    "\"process.runtime.version\"=\"go1.22.1\"}");
	assert_string_equal(parse("a/b_c-d.e{}"), "a/b_c-d.e{}");
}

static void test_zero_copy(void **state)
{
	(void)state;
	const char *s = "app{k=v}";
	struct ingest_name n;
	assert_int_equal(ingest_name_parse(slice_cstr(s), &A, &n, err, sizeof(err)), 0);
	assert_ptr_equal(n.app.p, s);
	assert_ptr_equal(n.labels.v[0].name.p, s + 4);
	assert_ptr_equal(n.labels.v[0].value.p, s + 6);
}

static void test_quirks(void **state)
{
	(void)state;
	/* values hold anything but ',' and '}', no escapes */
	assert_string_equal(parse("app{a=x=y {z\"q}"), "app{a=\"x=y {z\\\"q\"}");
	assert_string_equal(parse("app{a=\xc3\xa9t\xc3\xa9}"), "app{a=\"\xc3\xa9t\xc3\xa9\"}");
	assert_string_equal(parse("app{a=}"), "app{a=\"\"}");
	/* last value wins, first position kept */
	assert_string_equal(parse("app{a=1,b=2,a=3}"), "app{a=\"3\", b=\"2\"}");
	/* unicode white space is trimmed like Go's strings.TrimSpace (U+00A0, U+3000) */
	assert_string_equal(parse("app{a=\xc2\xa0v\xe3\x80\x80}"), "app{a=\"v\"}");
	/* `}` after a key ends parsing; after a value it does not */
	assert_string_equal(parse("app{a}"), "app{}");
	assert_string_equal(parse("app{a=1}b=2}"), "app{a=\"1\", b=\"2\"}");
	assert_string_equal(parse("app{a=1}garbage"), "app{a=\"1\"}");
	/* an unterminated pair is dropped */
	assert_string_equal(parse("app{a=1"), "app{}");
	assert_string_equal(parse("app{a=1,b=2"), "app{a=\"1\"}");
	assert_string_equal(parse("app{"), "app{}");
	/* __name__ replaces the app */
	assert_string_equal(parse("app{__name__=other,x=1}"), "other{x=\"1\"}");
	/* trailing comma */
	assert_string_equal(parse("app{a=1,}"), "app{a=\"1\"}");
}

static void test_errors(void **state)
{
	(void)state;
	assert_string_equal(parse(""), "ERR -1: service name is required");
	assert_string_equal(parse("  {a=1}"), "ERR -1: service name is required");
	assert_string_equal(parse("my app{}"), "ERR -1: invalid service name: \"my app\": character is not allowed: ' '");
	assert_string_equal(parse("app!"), "ERR -1: invalid service name: \"app!\": character is not allowed: '!'");
	assert_string_equal(parse("app{a-b=1}"), "ERR -1: invalid label name: \"a-b\": character is not allowed: '-'");
	assert_string_equal(parse("app{=1}"), "ERR -1: label name is required");
	assert_string_equal(parse("app{a,b=1}"), "ERR -1: invalid label name: \"a,b\": character is not allowed: ','");
	assert_string_equal(parse("app{{a=1}"), "ERR -1: invalid label name: \"{a\": character is not allowed: '{'");
	assert_string_equal(parse("app{__name__=}"), "ERR -1: service name is required");
	assert_string_equal(parse("app{a=\xff}"), "ERR -1: name is not valid UTF-8");
	assert_string_equal(parse("\xc3\xa9{}"), "ERR -1: invalid service name: \"\xc3\xa9\": character is not allowed: byte 0xc3");
}

static void test_hostile(void **state)
{
	(void)state;
	/* 1,000 labels parse (validation caps them later); 4,097 distinct keys are refused */
	struct buf b = BUF_INIT;
	buf_append_cstr(&b, "app{");
	for (int i = 0; i < 4097; i++)
		buf_printf(&b, "k%d=v,", i);
	buf_append_cstr(&b, "}");
	struct ingest_name n;
	assert_int_equal(ingest_name_parse(slice_make(b.p, b.n), &A, &n, err, sizeof(err)), EMBER_ETOOBIG);
	assert_string_equal(err, "name has more than 4096 labels");
	buf_release(&b);
	buf_append_cstr(&b, "app{");
	for (int i = 0; i < 1000; i++)
		buf_printf(&b, "k%d=v%d,", i, i);
	buf_append_cstr(&b, "}");
	assert_int_equal(ingest_name_parse(slice_make(b.p, b.n), &A, &n, err, sizeof(err)), 0);
	assert_int_equal(n.labels.n, 1000);
	assert_true(slice_eq_cstr(n.labels.v[999].value, "v999"));
	buf_release(&b);
	/* a 10 MB value and a 10 MB app name: no copy, no trouble */
	size_t big = 10 * 1024 * 1024;
	char *s = malloc(big + 16);
	memcpy(s, "app{k=", 6);
	memset(s + 6, 'x', big);
	s[6 + big] = '}';
	assert_int_equal(ingest_name_parse(slice_make(s, big + 7), &A, &n, err, sizeof(err)), 0);
	assert_int_equal(n.labels.v[0].value.n, big);
	memset(s, 'a', big);
	assert_int_equal(ingest_name_parse(slice_make(s, big), &A, &n, err, sizeof(err)), 0);
	assert_int_equal(n.app.n, big);
	/* many '=' without commas: one pair, huge value */
	memcpy(s, "app{k", 5);
	memset(s + 5, '=', big - 5);
	assert_int_equal(ingest_name_parse(slice_make(s, big), &A, &n, err, sizeof(err)), 0);
	assert_int_equal(n.labels.n, 0);
	free(s);
}

static int setup(void **state)
{
	(void)state;
	arena_init(&A, 0);
	return 0;
}
static int teardown(void **state)
{
	(void)state;
	arena_release(&A);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_zero_copy),
		cmocka_unit_test(test_quirks),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_hostile),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

#include "testutil.h"

#include "ingest/folded.h"

/* Collects stacks as "a;b;c=N\n" text. */
struct col {
	struct buf out;
	uint64_t frames;
	int fail_at; /* stop with an error on this stack (1-based), 0 = never */
	int n;
};

static int collect(void *ctx, const struct slice *frames, size_t n, int64_t value)
{
	struct col *c = ctx;
	c->n++;
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_append_byte(&c->out, ';');
		buf_append(&c->out, frames[i].p, frames[i].n);
	}
	buf_printf(&c->out, "=%lld\n", (long long)value);
	c->frames += n;
	return c->fail_at == c->n ? EMBER_ELIMIT : 0;
}

static char err[256];

static const char *run(const char *body, enum folded_format f, size_t max_frames, int *rc)
{
	static char out[4096];
	struct col c = {BUF_INIT, 0, 0, 0};
	struct folded_opts o = FOLDED_OPTS_DEFAULT;
	o.format = f;
	if (max_frames)
		o.max_frames = max_frames;
	*rc = folded_parse(slice_cstr(body), &o, collect, &c, NULL, err, sizeof(err));
	snprintf(out, sizeof(out), "%s", c.out.n ? buf_cstr(&c.out) : "");
	buf_release(&c.out);
	return out;
}

static void test_folded(void **state)
{
	(void)state;
	int rc;
	assert_string_equal(run("a;b;c 12\nd 3\n", FOLDED_FORMAT_FOLDED, 0, &rc), "a;b;c=12\nd=3\n");
	assert_int_equal(rc, 0);
	/* CRLF, blank lines, no final newline, last-space split, value 0 skipped, '+' */
	assert_string_equal(run("\r\na b;c d 5\r\n\r\n   \nx 0\ny +7", FOLDED_FORMAT_FOLDED, 0, &rc),
			    "a b;c d=5\ny=7\n");
	assert_int_equal(rc, 0);
	/* empty frames are kept */
	assert_string_equal(run(";;a; 1\n", FOLDED_FORMAT_FOLDED, 0, &rc), ";;a;=1\n");
	/* errors carry the line number */
	run("a 1\nb\n", FOLDED_FORMAT_FOLDED, 0, &rc);
	assert_int_equal(rc, EMBER_EINVAL);
	assert_string_equal(err, "line 2: no value (expected \"frame;frame <count>\")");
	run("a 1\n\nb x1\n", FOLDED_FORMAT_FOLDED, 0, &rc);
	assert_int_equal(rc, EMBER_EINVAL);
	assert_string_equal(err, "line 3: bad value \"x1\"");
	run("a -1\n", FOLDED_FORMAT_FOLDED, 0, &rc);
	assert_string_equal(err, "line 1: bad value \"-1\"");
	run("a 9223372036854775807\n", FOLDED_FORMAT_FOLDED, 0, &rc);
	assert_int_equal(rc, 0);
	run("a 9223372036854775808\n", FOLDED_FORMAT_FOLDED, 0, &rc);
	assert_int_equal(rc, EMBER_EINVAL);
	assert_string_equal(err, "line 1: value overflows int64");
	run("a 9223372036854775807\nb 1\n", FOLDED_FORMAT_FOLDED, 0, &rc);
	assert_int_equal(rc, EMBER_ETOOBIG);
	assert_string_equal(err, "line 2: sum of values overflows int64");
	run(" 5\n", FOLDED_FORMAT_FOLDED, 0, &rc);
	assert_string_equal(err, "line 1: empty stack");
	run("a +\n", FOLDED_FORMAT_FOLDED, 0, &rc);
	assert_int_equal(rc, EMBER_EINVAL);
}

static void test_lines(void **state)
{
	(void)state;
	int rc;
	assert_string_equal(run("a;b\r\na;b\n\nc d;e\n", FOLDED_FORMAT_LINES, 0, &rc), "a;b=1\na;b=1\nc d;e=1\n");
	assert_int_equal(rc, 0);
}

static void test_truncate(void **state)
{
	(void)state;
	int rc;
	/* deeper than max_frames: the root-most frames are kept */
	assert_string_equal(run("r;a;b;c;leaf 4\n", FOLDED_FORMAT_FOLDED, 3, &rc), "r;a;b=4\n");
	assert_int_equal(rc, 0);
	struct col c = {BUF_INIT, 0, 0, 0};
	struct folded_opts o = FOLDED_OPTS_DEFAULT;
	struct folded_stats st;
	/* 5,000 frames deep: truncated to the default 1000 */
	struct buf b = BUF_INIT;
	for (int i = 0; i < 5000; i++)
		buf_printf(&b, "%sf%d", i ? ";" : "", i);
	buf_append_cstr(&b, " 9\n");
	assert_int_equal(folded_parse(slice_make(b.p, b.n), &o, collect, &c, &st, err, sizeof(err)), 0);
	assert_int_equal(c.frames, 1000);
	assert_int_equal(st.truncated, 1);
	buf_release(&b);
	buf_release(&c.out);
}

static void test_caps_and_consumer(void **state)
{
	(void)state;
	struct folded_opts o = FOLDED_OPTS_DEFAULT;
	o.max_line = 16;
	struct col c = {BUF_INIT, 0, 0, 0};
	assert_int_equal(folded_parse(slice_cstr("a 1\naaaaaaaaaaaaaaaaaaaaaaaa 1\n"), &o, collect, &c, NULL, err, sizeof(err)),
			 EMBER_ETOOBIG);
	assert_string_equal(err, "line 2: line too long");
	/* 10 MB line without newline against the default 1 MiB cap */
	size_t big = 10 * 1024 * 1024;
	char *s = malloc(big);
	memset(s, 'a', big);
	struct folded_opts d = FOLDED_OPTS_DEFAULT;
	assert_int_equal(folded_parse(slice_make(s, big), &d, collect, &c, NULL, err, sizeof(err)), EMBER_ETOOBIG);
	free(s);
	/* a consumer error stops the parse and comes back */
	c.fail_at = 2;
	c.n = 0;
	assert_int_equal(folded_parse(slice_cstr("a 1\nb 2\nc 3\n"), &d, collect, &c, NULL, err, sizeof(err)), EMBER_ELIMIT);
	assert_int_equal(c.n, 2);
	buf_release(&c.out);
}

static void test_streaming_chunks(void **state)
{
	(void)state;
	/* Every split point of the input into two feeds gives the one-shot result. */
	const char *body = "a;b 1\r\nccc;dd 22\n\nee 333";
	struct folded_opts o = FOLDED_OPTS_DEFAULT;
	for (size_t cut = 0; cut <= strlen(body); cut++) {
		struct col c = {BUF_INIT, 0, 0, 0};
		struct folded_parser p;
		folded_init(&p, &o, collect, &c);
		assert_int_equal(folded_feed(&p, slice_make(body, cut), err, sizeof(err)), 0);
		assert_int_equal(folded_feed(&p, slice_make(body + cut, strlen(body) - cut), err, sizeof(err)), 0);
		assert_int_equal(folded_finish(&p, err, sizeof(err)), 0);
		assert_string_equal(buf_cstr(&c.out), "a;b=1\nccc;dd=22\nee=333\n");
		assert_int_equal(p.stats.total, 356);
		folded_release(&p);
		buf_release(&c.out);
	}
	/* byte by byte */
	struct col c = {BUF_INIT, 0, 0, 0};
	struct folded_parser p;
	folded_init(&p, &o, collect, &c);
	for (size_t i = 0; i < strlen(body); i++)
		assert_int_equal(folded_feed(&p, slice_make(body + i, 1), err, sizeof(err)), 0);
	assert_int_equal(folded_finish(&p, err, sizeof(err)), 0);
	assert_string_equal(buf_cstr(&c.out), "a;b=1\nccc;dd=22\nee=333\n");
	folded_release(&p);
	buf_release(&c.out);
}

static void test_workload_file(void **state)
{
	(void)state;
	size_t n;
	uint8_t *body = test_read_file(TESTDATA_DIR "/perf/workload.folded", &n);
	struct col c = {BUF_INIT, 0, 0, 0};
	struct folded_opts o = FOLDED_OPTS_DEFAULT;
	struct folded_stats st;
	assert_int_equal(folded_parse(slice_make(body, n), &o, collect, &c, &st, err, sizeof(err)), 0);
	/* Independent figures, by awk over the file:
	 *   awk '{s+=$NF} END {print s, NR}'                                      -> 1891 11
	 *   awk '{sub(/ [^ ]*$/,""); n+=split($0,a,";")} END {print n}'          -> 28 frames */
	assert_int_equal(st.total, 1891);
	assert_int_equal(st.stacks, 11);
	assert_int_equal(c.frames, 28);
	assert_int_equal(st.zero, 0);
	assert_int_equal(st.truncated, 0);
	/* first and last stacks verbatim */
	assert_memory_equal(c.out.p, "@plt=2\n", 7);
	assert_non_null(strstr(buf_cstr(&c.out), "\nmsort_with_tmp.part.0=1013\n"));
	buf_release(&c.out);
	free(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_folded),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_caps_and_consumer),
		cmocka_unit_test(test_streaming_chunks),
		cmocka_unit_test(test_workload_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

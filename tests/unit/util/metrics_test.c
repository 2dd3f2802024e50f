#include <math.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#include "util/buf.h"
#include "util/metrics.h"

static double forty_two(void *ctx)
{
	return *(double *)ctx;
}

static const char *const ROUTE_STATUS[] = {"route", "status", NULL};
static const char *const ROUTE[] = {"route", NULL};

/* The registry of the exact-text test, also fed to promtool. */
static struct metrics *small_registry(double *gauge_ctx)
{
	struct metrics *m = metrics_new();
	struct metric *c = metrics_counter(m, "ember_requests_total", "Requests served.", ROUTE_STATUS);
	metric_add(c, (const char *const[]){"/ingest", "200"}, 3);
	metric_inc(c, (const char *const[]){"/ingest", "400"});
	metric_add(c, (const char *const[]){"a\\b\"c\nd", "500"}, 1);
	metric_add(c, (const char *const[]){"/ingest", "200"}, -5); /* counters never go down */
	metric_add(c, (const char *const[]){"/ingest", "200"}, NAN);
	struct metric *u = metrics_counter(m, "ember_wal_syncs_total", "Help with \\ backslash\nand newline.", NULL);
	metric_add(u, NULL, 2.5);
	struct metric *g = metrics_gauge(m, "ember_inflight_requests", "In-flight requests.", NULL);
	metric_set(g, NULL, 5);
	metric_add(g, NULL, -2);
	metrics_gauge_func(m, "ember_head_series", "Series in the head.", forty_two, gauge_ctx);
	double bounds[] = {0.125, 0.5, 1, INFINITY};
	struct metric *h = metrics_histogram(m, "ember_request_duration_seconds", "Request latency.", ROUTE, bounds, 4);
	const char *const ingest[] = {"/ingest"};
	metric_observe(h, ingest, 0.0625);
	metric_observe(h, ingest, 0.125); /* on a bound: counted in that bucket (le = less or equal) */
	metric_observe(h, ingest, 0.75);
	metric_observe(h, ingest, 3);
	metrics_counter(m, "ember_unused_total", "A labeled family with no samples yet.", ROUTE);
	return m;
}

static const char SMALL_EXPECTED[] =
	"# HELP ember_requests_total Requests served.\n"
	"# TYPE ember_requests_total counter\n"
	"ember_requests_total{route=\"/ingest\",status=\"200\"} 3\n"
	"ember_requests_total{route=\"/ingest\",status=\"400\"} 1\n"
	"ember_requests_total{route=\"a\\\\b\\\"c\\nd\",status=\"500\"} 1\n"
	"# HELP ember_wal_syncs_total Help with \\\\ backslash\\nand newline.\n"
	"# TYPE ember_wal_syncs_total counter\n"
	"ember_wal_syncs_total 2.5\n"
	"# HELP ember_inflight_requests In-flight requests.\n"
	"# TYPE ember_inflight_requests gauge\n"
	"ember_inflight_requests 3\n"
	"# HELP ember_head_series Series in the head.\n"
	"# TYPE ember_head_series gauge\n"
	"ember_head_series 42\n"
	"# HELP ember_request_duration_seconds Request latency.\n"
	"# TYPE ember_request_duration_seconds histogram\n"
	"ember_request_duration_seconds_bucket{route=\"/ingest\",le=\"0.125\"} 2\n"
	"ember_request_duration_seconds_bucket{route=\"/ingest\",le=\"0.5\"} 2\n"
	"ember_request_duration_seconds_bucket{route=\"/ingest\",le=\"1\"} 3\n"
	"ember_request_duration_seconds_bucket{route=\"/ingest\",le=\"+Inf\"} 4\n"
	"ember_request_duration_seconds_sum{route=\"/ingest\"} 3.9375\n"
	"ember_request_duration_seconds_count{route=\"/ingest\"} 4\n"
	"# HELP ember_unused_total A labeled family with no samples yet.\n"
	"# TYPE ember_unused_total counter\n";

static void test_exact_text(void **state)
{
	(void)state;
	double v = 42;
	struct metrics *m = small_registry(&v);
	struct buf out = BUF_INIT;
	metrics_write(m, &out);
	assert_string_equal(buf_cstr(&out), SMALL_EXPECTED);
	/* The callback is read at every scrape. */
	v = 7;
	out.n = 0;
	metrics_write(m, &out);
	assert_non_null(strstr(buf_cstr(&out), "\nember_head_series 7\n"));
	buf_release(&out);
	metrics_free(m);
	metrics_free(NULL);
}

static void test_values_and_formatting(void **state)
{
	(void)state;
	struct metrics *m = metrics_new();
	struct metric *g = metrics_gauge(m, "g", "", (const char *const[]){"k", NULL});
	struct {
		const char *label;
		double v;
		const char *text;
	} cases[] = {
		{"tenth", 0.1, "0.1"},       {"third", 1.0 / 3, "0.3333333333333333"},
		{"tiny", 1e-9, "1e-09"},     {"huge", 1e20, "1e+20"},
		{"int", 123456789, "123456789"}, {"neg", -2.5, "-2.5"},
		{"nan", NAN, "NaN"},         {"inf", INFINITY, "+Inf"},
		{"ninf", -INFINITY, "-Inf"}, {"bad\xff utf8", 1, "1"},
	};
	for (size_t i = 0; i < EMBER_ARRAY_LEN(cases); i++)
		metric_set(g, (const char *const[]){cases[i].label}, cases[i].v);
	struct buf out = BUF_INIT;
	metrics_write(m, &out);
	const char *text = buf_cstr(&out);
	for (size_t i = 0; i < EMBER_ARRAY_LEN(cases); i++) {
		char line[128];
		const char *label = i + 1 == EMBER_ARRAY_LEN(cases) ? "bad\xef\xbf\xbd utf8" : cases[i].label;
		snprintf(line, sizeof(line), "\ng{k=\"%s\"} %s\n", label, cases[i].text);
		if (!strstr(text, line))
			fail_msg("missing line %s in:\n%s", line, text);
	}
	/* Reading back: each formatted number parses to the value set (shortest round trip). */
	assert_true(strtod("0.3333333333333333", NULL) == 1.0 / 3);
	struct metric_child *c = metric_with(g, (const char *const[]){"tenth"});
	assert_true(metric_child_value(c) == 0.1);
	/* The same values give the same child. */
	assert_ptr_equal(c, metric_with(g, (const char *const[]){"tenth"}));
	/* Wrong-type operations are no-ops. */
	metric_child_observe(c, 5);
	assert_true(metric_child_value(c) == 0.1);
	assert_null(metric_with(NULL, NULL));
	assert_null(metric_with(g, NULL));
	metric_child_add(NULL, 1);
	buf_release(&out);
	metrics_free(m);
}

static void test_cardinality_cap(void **state)
{
	(void)state;
	struct metrics *m = metrics_new();
	struct metric *c = metrics_counter(m, "ember_by_user_total", "", (const char *const[]){"user", NULL});
	char v[32];
	struct metric_child *first = NULL;
	for (int i = 0; i < METRICS_MAX_CHILDREN; i++) {
		snprintf(v, sizeof(v), "u%d", i);
		struct metric_child *ch = metric_with(c, (const char *const[]){v});
		assert_non_null(ch);
		metric_child_add(ch, i);
		if (i == 0)
			first = ch;
	}
	assert_null(metric_with(c, (const char *const[]){"one-too-many"}));
	metric_inc(c, (const char *const[]){"one-too-many"}); /* dropped, not a crash */
	assert_ptr_equal(metric_with(c, (const char *const[]){"u0"}), first);
	assert_true(metric_child_value(metric_with(c, (const char *const[]){"u9999"})) == 9999);
	struct buf out = BUF_INIT;
	metrics_write(m, &out);
	size_t lines = 0;
	for (size_t i = 0; i < out.n; i++)
		lines += out.p[i] == '\n';
	assert_int_equal(lines, 2 + METRICS_MAX_CHILDREN);
	buf_release(&out);
	metrics_free(m);
}

#define THREADS 8
#define ITERS 50000

struct targ {
	struct metrics *m;
	struct metric *solo, *labeled, *hist, *gauge;
	int t;
};

static void *worker(void *p)
{
	struct targ *a = p;
	struct metric_child *solo = metric_with(a->solo, NULL);
	const char *parity = a->t % 2 ? "odd" : "even";
	for (int i = 0; i < ITERS; i++) {
		metric_child_inc(solo);
		metric_inc(a->labeled, (const char *const[]){parity, "x"});
		metric_observe(a->hist, NULL, i % 2 ? 0.25 : 2);
		metric_add(a->gauge, NULL, i % 2 ? 1 : -1);
		if (i % 1000 == 0) {
			/* New children appear while other threads update and a scraper reads. */
			char v[32];
			snprintf(v, sizeof(v), "t%d-%d", a->t, i / 1000);
			metric_inc(a->labeled, (const char *const[]){v, "y"});
		}
	}
	return NULL;
}

static void *scraper(void *p)
{
	struct targ *a = p;
	for (int i = 0; i < 50; i++) {
		struct buf out = BUF_INIT;
		metrics_write(a->m, &out);
		buf_release(&out);
	}
	return NULL;
}

static void test_concurrent_updates(void **state)
{
	(void)state;
	struct metrics *m = metrics_new();
	struct targ base = {m,
			    metrics_counter(m, "ember_ops_total", "", NULL),
			    metrics_counter(m, "ember_ops_by_parity_total", "", (const char *const[]){"parity", "k", NULL}),
			    metrics_histogram(m, "ember_op_seconds", "", NULL, (const double[]){0.5, 1}, 2),
			    metrics_gauge(m, "ember_balance", "", NULL),
			    0};
	pthread_t th[THREADS + 1];
	struct targ args[THREADS];
	for (int t = 0; t < THREADS; t++) {
		args[t] = base;
		args[t].t = t;
		assert_int_equal(pthread_create(&th[t], NULL, worker, &args[t]), 0);
	}
	assert_int_equal(pthread_create(&th[THREADS], NULL, scraper, &base), 0);
	for (int t = 0; t <= THREADS; t++)
		pthread_join(th[t], NULL);

	assert_true(metric_child_value(metric_with(base.solo, NULL)) == THREADS * ITERS);
	assert_true(metric_child_value(metric_with(base.labeled, (const char *const[]){"odd", "x"})) ==
		    THREADS / 2 * ITERS);
	assert_true(metric_child_value(metric_with(base.labeled, (const char *const[]){"even", "x"})) ==
		    THREADS / 2 * ITERS);
	assert_true(metric_child_value(metric_with(base.gauge, NULL)) == 0);
	struct buf out = BUF_INIT;
	metrics_write(m, &out);
	const char *text = buf_cstr(&out);
	/* Half the observations are 0.25, half 2: sums are exact in binary floating point. */
	const char *want[] = {
		"\nember_ops_total 400000\n",
		"\nember_op_seconds_bucket{le=\"0.5\"} 200000\n",
		"\nember_op_seconds_bucket{le=\"1\"} 200000\n",
		"\nember_op_seconds_bucket{le=\"+Inf\"} 400000\n",
		"\nember_op_seconds_sum 450000\n",
		"\nember_op_seconds_count 400000\n",
		"\nember_ops_by_parity_total{parity=\"t7-49\",k=\"y\"} 1\n",
	};
	for (size_t i = 0; i < EMBER_ARRAY_LEN(want); i++)
		if (!strstr(text, want[i]))
			fail_msg("missing %s", want[i]);
	buf_release(&out);
	metrics_free(m);
}

/* promtool (from the prometheus package) is the independent judge of the format. */
static void test_promtool_accepts(void **state)
{
	(void)state;
	if (system("command -v promtool >/dev/null 2>&1") != 0) {
		print_message("promtool not installed; skipping\n");
		skip();
	}
	double v = 42;
	struct metrics *m = small_registry(&v);
	/* Add a histogram with the default buckets and a labeled gauge to the mix. */
	struct metric *h = metrics_histogram(m, "ember_push_duration_seconds", "Push latency.", ROUTE_STATUS,
					     metrics_default_buckets, METRICS_DEFAULT_BUCKETS_N);
	metric_observe(h, (const char *const[]){"/push.v1.PusherService/Push", "200"}, 0.003);
	metric_observe(h, (const char *const[]){"/push.v1.PusherService/Push", "500"}, 12);
	metric_set(metrics_gauge(m, "ember_wal_segments", "WAL segments on disk.", ROUTE), (const char *const[]){"x"}, 4);
	struct buf out = BUF_INIT;
	metrics_write(m, &out);
	char path[] = "/tmp/ember-metrics-test.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, out.p, out.n), (ssize_t)out.n);
	close(fd);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char said[4096];
	size_t n = fread(said, 1, sizeof(said) - 1, p);
	said[n] = '\0';
	int status = pclose(p);
	unlink(path);
	if (status != 0 || n != 0)
		fail_msg("promtool check metrics: status %d, output:\n%s\ninput:\n%s", status, said, buf_cstr(&out));
	/* And it does complain about a broken exposition, so silence above means something. */
	p = popen("printf 'x{a=\"1} 1\\n' | promtool check metrics >/dev/null 2>&1", "r");
	assert_non_null(p);
	assert_int_not_equal(pclose(p), 0);
	buf_release(&out);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_text),
		cmocka_unit_test(test_values_and_formatting),
		cmocka_unit_test(test_cardinality_cap),
		cmocka_unit_test(test_concurrent_updates),
		cmocka_unit_test(test_promtool_accepts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

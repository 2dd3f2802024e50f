#include <time.h>
#include <unistd.h>

#include "testutil.h"

#include "server/overrides.h"

#define SEC 1000000000LL

static const char *const good =
	"overrides:\n"
	"  tenant-a:\n"
	"    max_label_names_per_series: 3\n"
	"    reject_older_than: 5m\n"
	"    compactor_blocks_retention_period: 2h\n"
	"    ingestion_rate_mb: 0.5\n"
	"    max_query_length: 1h\n"
	"    max_flamegraph_nodes_default: 100\n"
	"  tenant-b:\n"
	"    max_query_lookback: 2d\n"
	"  empty:\n";

/* Written to a temporary name then renamed, so the reload thread never reads half a file. */
static void write_file(const char *path, const char *text)
{
	char tmp[300];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	fclose(f);
	assert_int_equal(rename(tmp, path), 0);
}

/* Values below are those written in the YAML and the flags; the defaults are Pyroscope's
 * (pkg/validation/limits.go): 30 label names, 1h reject_older_than, 24h max_query_length. */
static void test_parse_and_precedence(void **state)
{
	(void)state;
	struct config c;
	config_init(&c);
	char err[300];
	char *argv[] = {"-validation.max-length-label-value=77", "-querier.max-query-lookback=3d"};
	assert_int_equal(config_load(&c, 2, argv, err, sizeof(err)), 0);
	struct overrides *o = overrides_new(&c);
	assert_int_equal(overrides_load_text(o, good, strlen(good), "rc.yaml", err, sizeof(err)), 0);

	struct overrides_limits a, b, z;
	overrides_get(o, slice_cstr("tenant-a"), &a);
	overrides_get(o, slice_cstr("tenant-b"), &b);
	overrides_get(o, slice_cstr("nobody"), &z);
	/* tenant-a: its keys, the flags, then the defaults */
	assert_int_equal(a.ingest.labels.max_names, 3);
	assert_int_equal(a.ingest.reject_older_than_ns, 300 * SEC);
	assert_int_equal(a.retention_ns, 7200 * SEC);
	assert_true(a.ingest.rate_mb == 0.5);
	assert_int_equal(a.query.max_query_length_ns, 3600 * SEC);
	assert_int_equal(a.query.max_nodes_default, 100);
	assert_int_equal(a.ingest.labels.max_value_len, 77);            /* flag */
	assert_int_equal(a.query.max_query_lookback_ns, 3 * 86400 * SEC); /* flag */
	assert_int_equal(a.query.max_nodes_max, 1048576);                 /* default */
	/* tenant-b overrides only the lookback */
	assert_int_equal(b.query.max_query_lookback_ns, 2 * 86400 * SEC);
	assert_int_equal(b.ingest.labels.max_names, 30);
	assert_int_equal(b.query.max_query_length_ns, 24 * 3600 * SEC);
	/* a tenant without an entry gets the server's limits */
	assert_int_equal(z.ingest.labels.max_names, 30);
	assert_int_equal(z.ingest.reject_older_than_ns, 3600 * SEC);
	assert_int_equal(z.ingest.labels.max_value_len, 77);
	assert_int_equal(z.retention_ns, 0);
	/* a prefix of a tenant name is not that tenant */
	overrides_get(o, slice_make("tenant-a", 7), &z);
	assert_int_equal(z.ingest.labels.max_names, 30);

	/* retention list: the two tenants with a mapping ("empty" is null, skipped) */
	struct store_retention_override *ro;
	size_t n = overrides_retention(o, &ro);
	assert_int_equal(n, 2);
	assert_string_equal(ro[0].tenant, "tenant-a");
	assert_int_equal(ro[0].retention_ns, 7200 * SEC);
	assert_string_equal(ro[1].tenant, "tenant-b");
	assert_int_equal(ro[1].retention_ns, 0);
	overrides_retention_free(ro, n);

	struct buf y = BUF_INIT;
	overrides_yaml(o, &y);
	const char *text = buf_cstr(&y);
	assert_non_null(strstr(text, "overrides:\n    tenant-a:\n"));
	assert_non_null(strstr(text, "        max_label_names_per_series: 3\n"));
	assert_non_null(strstr(text, "        reject_older_than: 5m\n"));
	assert_non_null(strstr(text, "        compactor_blocks_retention_period: 2h\n"));
	assert_non_null(strstr(text, "        max_query_lookback: 2d\n"));
	buf_release(&y);
	overrides_free(o);
	config_release(&c);
}

static void expect_error(const char *yaml, const char *needle)
{
	struct config c;
	config_init(&c);
	struct overrides *o = overrides_new(&c);
	char err[300] = "";
	assert_int_equal(overrides_load_text(o, yaml, strlen(yaml), "rc.yaml", err, sizeof(err)), EMBER_EINVAL);
	if (!strstr(err, needle))
		fail_msg("error \"%s\" does not contain \"%s\"", err, needle);
	overrides_free(o);
	config_release(&c);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("overrides:\n  a:\n    max_labels_per_series: 3\n", "unknown limit max_labels_per_series");
	expect_error("overrides:\n  a:\n    max_labels_per_series: 3\n", "tenant a");
	expect_error("overrides:\n  a:\n    ingestion_body_limit_mb: 3\n",
		     "ingestion_body_limit_mb cannot be overridden per tenant");
	expect_error("overrides:\n  a:\n    reject_older_than: soon\n", "invalid value soon for limit reject_older_than");
	expect_error("overrides:\n  a:\n    max_label_name_length: -1\n", "max_label_name_length");
	expect_error("overrides:\n  a:\n    max_label_name_length: [1]\n", "needs a single value");
	expect_error("overrides:\n  a: 5\n", "must be a mapping");
	expect_error("limits:\n  a: {}\n", "unknown key limits");
	expect_error("overrides: [a]\n", "must be a mapping");
	expect_error("overrides:\n  a:\n  b: {\n", "rc.yaml:");
}

static void test_empty_and_nothing_loaded(void **state)
{
	(void)state;
	struct config c;
	config_init(&c);
	struct overrides *o = overrides_new(&c);
	struct buf y = BUF_INIT;
	overrides_yaml(o, &y);
	assert_string_equal(buf_cstr(&y), "runtime config file doesn't exist\n");
	char err[300];
	assert_int_equal(overrides_load_text(o, "", 0, "rc.yaml", err, sizeof(err)), 0);
	y.n = 0;
	overrides_yaml(o, &y);
	assert_string_equal(buf_cstr(&y), "overrides: {}\n");
	buf_release(&y);
	overrides_free(o);
	config_release(&c);
}

/* Two files: the later one's keys win, per tenant and key. */
static void test_files_merge(void **state)
{
	(void)state;
	char d[] = "/tmp/ember-overrides-test-XXXXXX";
	assert_non_null(mkdtemp(d));
	char f1[128], f2[128], paths[300];
	snprintf(f1, sizeof(f1), "%s/1.yaml", d);
	snprintf(f2, sizeof(f2), "%s/2.yaml", d);
	snprintf(paths, sizeof(paths), "%s,%s", f1, f2);
	write_file(f1, "overrides:\n  a:\n    max_label_names_per_series: 3\n    reject_older_than: 5m\n");
	write_file(f2, "overrides:\n  a:\n    max_label_names_per_series: 4\n  b:\n    max_label_name_length: 9\n");
	struct config c;
	config_init(&c);
	struct overrides *o = overrides_new(&c);
	char err[300];
	assert_int_equal(overrides_load_files(o, paths, err, sizeof(err)), 0);
	struct overrides_limits l;
	overrides_get(o, slice_cstr("a"), &l);
	assert_int_equal(l.ingest.labels.max_names, 4);
	assert_int_equal(l.ingest.reject_older_than_ns, 300 * SEC);
	overrides_get(o, slice_cstr("b"), &l);
	assert_int_equal(l.ingest.labels.max_name_len, 9);
	char missing[200];
	snprintf(missing, sizeof(missing), "%s/none.yaml", d);
	assert_int_equal(overrides_load_files(o, missing, err, sizeof(err)), EMBER_EIO);
	overrides_get(o, slice_cstr("a"), &l); /* still the last good one */
	assert_int_equal(l.ingest.labels.max_names, 4);
	overrides_free(o);
	config_release(&c);
	unlink(f1);
	unlink(f2);
	rmdir(d);
}

static int labels_of(struct overrides *o, const char *tenant)
{
	struct overrides_limits l;
	overrides_get(o, slice_cstr(tenant), &l);
	return (int)l.ingest.labels.max_names;
}

/* Waits up to 3 s for tenant's max_names to become want. */
static bool wait_for(struct overrides *o, const char *tenant, int want)
{
	for (int i = 0; i < 300; i++) {
		if (labels_of(o, tenant) == want)
			return true;
		struct timespec ts = {0, 10 * 1000000};
		nanosleep(&ts, NULL);
	}
	return false;
}

/* The reload thread: a good edit is applied, a broken edit keeps the last good one and
 * counts a failure, fixing it applies again. */
static void test_reload_keeps_last_good(void **state)
{
	(void)state;
	char d[] = "/tmp/ember-overrides-test-XXXXXX";
	assert_non_null(mkdtemp(d));
	char f[128];
	snprintf(f, sizeof(f), "%s/rc.yaml", d);
	write_file(f, "overrides:\n  a:\n    max_label_names_per_series: 3\n");
	struct config c;
	config_init(&c);
	struct overrides *o = overrides_new(&c);
	char err[300];
	assert_int_equal(overrides_load_files(o, f, err, sizeof(err)), 0);
	assert_int_equal(overrides_start(o, f, 20 * 1000000LL), 0);
	assert_int_equal(labels_of(o, "a"), 3);

	write_file(f, "overrides:\n  a:\n    max_label_names_per_series: 5\n");
	assert_true(wait_for(o, "a", 5));

	write_file(f, "overrides:\n  a:\n    max_label_names_per_series: 7\n    no_such_limit: 1\n");
	struct overrides_stats st = {0};
	for (int i = 0; i < 300 && !st.reload_failures; i++) {
		overrides_stats(o, &st);
		struct timespec ts = {0, 10 * 1000000};
		nanosleep(&ts, NULL);
	}
	assert_int_equal(st.reload_failures, 1);
	assert_int_equal(labels_of(o, "a"), 5);
	/* an unchanged broken file is not parsed (nor counted) again */
	struct timespec ts = {0, 100 * 1000000};
	nanosleep(&ts, NULL);
	overrides_stats(o, &st);
	assert_int_equal(st.reload_failures, 1);

	write_file(f, "overrides:\n  a:\n    max_label_names_per_series: 8\n");
	assert_true(wait_for(o, "a", 8));
	overrides_free(o);
	config_release(&c);
	unlink(f);
	rmdir(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_and_precedence),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_empty_and_nothing_loaded),
		cmocka_unit_test(test_files_merge),
		cmocka_unit_test(test_reload_keeps_last_good),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

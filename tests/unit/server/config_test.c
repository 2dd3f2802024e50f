#include <unistd.h>

#include "testutil.h"

#include "server/config.h"

static void test_defaults(void **state)
{
	(void)state;
	struct config c;
	config_init(&c);
	assert_int_equal(c.http_port, 4040);
	assert_string_equal(c.storage_dir, "./data");
	assert_string_equal(c.target, "all");
	assert_false(c.multitenancy);
	assert_int_equal(c.reject_older_than_ns, 3600LL * 1000000000LL);
	assert_int_equal(c.max_profile_bytes, 4194304);
	config_release(&c);
}

static void test_yaml_then_flags(void **state)
{
	(void)state;
	char path[] = "/tmp/ember-config-test-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *yaml = "server:\n  http_listen_port: 9999\n  http_listen_address: 127.0.0.1\n"
			   "storage:\n  filesystem:\n    dir: /var/lib/ember\n"
			   "multitenancy_enabled: true\n"
			   "limits:\n  reject_older_than: 2h30m\n  ingestion_rate_mb: 8.5\n";
	assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
	close(fd);
	char cf[64];
	snprintf(cf, sizeof(cf), "-config.file=%s", path);
	char *argv[] = {"-server.http-listen-port=1234", cf, "--storage.filesystem.dir", "/d", "-auth.multitenancy-enabled=false"};
	struct config c;
	config_init(&c);
	char err[256];
	assert_int_equal(config_load(&c, 5, argv, err, sizeof(err)), 0);
	assert_int_equal(c.http_port, 1234);                   /* flag beats file */
	assert_string_equal(c.http_address, "127.0.0.1");      /* file */
	assert_string_equal(c.storage_dir, "/d");              /* "-flag value" form */
	assert_false(c.multitenancy);                          /* flag beats file */
	assert_int_equal(c.reject_older_than_ns, 9000LL * 1000000000LL);
	assert_true(c.rate_mb > 8.49 && c.rate_mb < 8.51);
	config_release(&c);
	unlink(path);
}

static void test_errors(void **state)
{
	(void)state;
	struct config c;
	char err[256];
	config_init(&c);
	char *a1[] = {"-no.such-flag=1"};
	assert_int_equal(config_load(&c, 1, a1, err, sizeof(err)), EMBER_EINVAL);
	assert_non_null(strstr(err, "unknown flag -no.such-flag"));
	char *a2[] = {"-server.http-listen-port=abc"};
	assert_int_equal(config_load(&c, 1, a2, err, sizeof(err)), EMBER_EINVAL);
	char *a3[] = {"-validation.reject-older-than=1parsec"};
	assert_int_equal(config_load(&c, 1, a3, err, sizeof(err)), EMBER_EINVAL);
	char *a4[] = {"-target=ingester"};
	assert_int_equal(config_load(&c, 1, a4, err, sizeof(err)), 0);
	assert_int_equal(config_check(&c, err, sizeof(err)), EMBER_EINVAL);
	assert_non_null(strstr(err, "not supported yet"));
	char *a5[] = {"-config.file=/nonexistent/ember.yaml"};
	assert_int_equal(config_load(&c, 1, a5, err, sizeof(err)), EMBER_EINVAL);
	config_release(&c);

	char path[] = "/tmp/ember-config-test-XXXXXX";
	int fd = mkstemp(path);
	const char *yaml = "server:\n  no_such_key: 1\n";
	assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
	close(fd);
	char cf[64];
	snprintf(cf, sizeof(cf), "-config.file=%s", path);
	char *a6[] = {cf};
	config_init(&c);
	assert_int_equal(config_load(&c, 1, a6, err, sizeof(err)), EMBER_EINVAL);
	assert_non_null(strstr(err, "unknown setting server.no_such_key"));
	config_release(&c);
	unlink(path);
}

static void test_durations(void **state)
{
	(void)state;
	int64_t ns;
	assert_int_equal(config_parse_duration("0", &ns), 0);
	assert_int_equal(ns, 0);
	assert_int_equal(config_parse_duration("1h30m", &ns), 0);
	assert_int_equal(ns, 5400LL * 1000000000LL);
	assert_int_equal(config_parse_duration("500ms", &ns), 0);
	assert_int_equal(ns, 500000000LL);
	assert_int_equal(config_parse_duration("7d", &ns), 0);
	assert_int_equal(ns, 7 * 86400LL * 1000000000LL);
	assert_int_equal(config_parse_duration("", &ns), EMBER_EINVAL);
	assert_int_equal(config_parse_duration("5", &ns), EMBER_EINVAL);
	assert_int_equal(config_parse_duration("99999999999999999999h", &ns), EMBER_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_yaml_then_flags),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_durations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* objstore S3 backend.
 *
 * The settings checks run everywhere. The rest needs servers, which tests/integ/test_s3.py
 * starts before running this binary:
 *   EMBER_S3_TEST_ENDPOINT       a real S3 server (s3rver, which checks SigV4 signatures)
 *                                 with bucket "profiles"; credentials from AWS_ACCESS_KEY_ID
 *                                 and AWS_SECRET_ACCESS_KEY
 *   EMBER_S3_TEST_S3RVER         set when that server is s3rver (see sc_s3rver)
 *   EMBER_S3_TEST_OUT            a directory where the cross-check objects' bytes are written
 *                                 so the test can compare them with what awscli downloads
 *   EMBER_S3_TEST_AWS_KEY/_FILE  an object awscli uploaded and the file it came from
 *   EMBER_S3_TEST_FAKE_ENDPOINT  a fake S3 that answers 503 twice then 200 on /profiles/flaky,
 *                                 403 on /profiles/forbidden, 500 always on /profiles/down, and
 *                                 stalls 3 s on the first request for /profiles/stall
 * Without them those tests are skipped (with a message saying so). */
#include <time.h>

#include "scenarios.h"

#include "objstore/objstore_internal.h"
#include "server/config.h"

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static struct objstore_config server_config(void)
{
	struct objstore_config cfg = {.backend = "s3"};
	cfg.s3.endpoint = env("EMBER_S3_TEST_ENDPOINT");
	cfg.s3.bucket = "profiles";
	cfg.s3.insecure = true;
	/* Small knobs so a test run exercises multipart uploads and listing pages. */
	cfg.s3.part_size = 256 * 1024;
	cfg.s3.max_keys = 3;
	return cfg;
}

static int setup_server(void **state)
{
	(void)state;
	if (!env("EMBER_S3_TEST_ENDPOINT")) {
		print_message("EMBER_S3_TEST_ENDPOINT is unset: skipping the S3 server tests "
			      "(tests/integ/test_s3.py runs them against a real S3 server)\n");
		return 0;
	}
	struct objstore_config cfg = server_config();
	char err[256];
	if (objstore_open(&cfg, &sc_os, err, sizeof(err)) != 0) {
		fprintf(stderr, "open: %s\n", err);
		return -1;
	}
	snprintf(sc_prefix, sizeof(sc_prefix), "run-%ld-%ld/", (long)getpid(), (long)time(NULL));
	sc_s3rver = env("EMBER_S3_TEST_S3RVER") != NULL;
	return 0;
}

static int teardown_server(void **state)
{
	(void)state;
	objstore_close(sc_os);
	sc_os = NULL;
	return 0;
}

#define NEED_SERVER()                                                                                          \
	do {                                                                                                   \
		if (!sc_os)                                                                                    \
			skip();                                                                                \
	} while (0)

static void test_basic(void **s)
{
	NEED_SERVER();
	sc_basic(s);
}
static void test_range(void **s)
{
	NEED_SERVER();
	sc_range(s);
}
static void test_list_delete(void **s)
{
	NEED_SERVER();
	sc_list_delete(s); /* max_keys 3: the 7-key listings take three pages */
}
static void test_bad_keys(void **s)
{
	NEED_SERVER();
	sc_bad_keys(s);
}
static void test_put_file_small(void **s)
{
	NEED_SERVER();
	sc_put_file_small(s);
}
static void test_concurrent(void **s)
{
	NEED_SERVER();
	sc_concurrent(s);
}
/* 1 MiB + 3 bytes in 256 KiB parts: a five-part multipart upload, from memory and from a
 * file. */
static void test_multipart(void **s)
{
	(void)s;
	NEED_SERVER();
	sc_big(1024 * 1024 + 3);
}

static int count_cb(void *ctx, const char *key, uint64_t size)
{
	(void)size;
	int *n = ctx;
	char want[128];
	snprintf(want, sizeof(want), "%spages/k%03d", sc_prefix, *n);
	assert_string_equal(key, want); /* every key once, in order, across pages */
	++*n;
	return 0;
}

/* 25 keys listed 3 at a time: nine pages joined by continuation tokens. */
static void test_pagination(void **state)
{
	(void)state;
	NEED_SERVER();
	for (int i = 24; i >= 0; i--) {
		char rel[32];
		snprintf(rel, sizeof(rel), "pages/k%03d", i);
		sc_put_cstr(rel, "p");
	}
	int n = 0;
	assert_int_equal(objstore_list(sc_os, sc_key("pages/"), count_cb, &n), 0);
	assert_int_equal(n, 25);
}

/* A wrong secret is refused by the server (its signature check), clearly, without retries. */
static void test_wrong_secret(void **state)
{
	(void)state;
	NEED_SERVER();
	struct objstore_config cfg = server_config();
	cfg.s3.access_key_id = "S3RVER";
	cfg.s3.secret_access_key = "not-the-secret";
	struct objstore *os;
	char err[256];
	assert_int_equal(objstore_open(&cfg, &os, err, sizeof(err)), 0);
	struct buf b = BUF_INIT;
	assert_int_equal(objstore_put(os, sc_key("auth/x"), slice_cstr("x")), EMBER_EAUTH);
	print_message("wrong secret: %s\n", objstore_errmsg());
	assert_non_null(strstr(objstore_errmsg(), "HTTP 403 SignatureDoesNotMatch"));
	assert_non_null(strstr(objstore_errmsg(), "PUT profiles/"));
	assert_null(strstr(objstore_errmsg(), "tries")); /* not retried */
	assert_int_equal(objstore_get(os, sc_key("basic/hello.txt"), &b), EMBER_EAUTH);
	objstore_close(os);
	/* An unknown access key. */
	cfg.s3.access_key_id = "NOBODY";
	assert_int_equal(objstore_open(&cfg, &os, err, sizeof(err)), 0);
	assert_int_equal(objstore_put(os, sc_key("auth/x"), slice_cstr("x")), EMBER_EAUTH);
	assert_non_null(strstr(objstore_errmsg(), "InvalidAccessKeyId"));
	objstore_close(os);
	buf_release(&b);
}

/* A missing bucket is an error, not an absent object. */
static void test_missing_bucket(void **state)
{
	(void)state;
	NEED_SERVER();
	struct objstore_config cfg = server_config();
	cfg.s3.bucket = "no-such-bucket";
	struct objstore *os;
	char err[256];
	assert_int_equal(objstore_open(&cfg, &os, err, sizeof(err)), 0);
	struct buf b = BUF_INIT;
	assert_int_equal(objstore_get(os, "x", &b), EMBER_EIO);
	assert_non_null(strstr(objstore_errmsg(), "NoSuchBucket"));
	assert_int_equal(objstore_delete(os, "x"), EMBER_EIO);
	objstore_close(os);
	buf_release(&b);
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		fail_msg("cannot write %s", path);
	assert_int_equal(fwrite(p, 1, n, f), n);
	fclose(f);
}

/* Objects for test_s3.py to fetch with awscli (their bytes go to EMBER_S3_TEST_OUT), and an
 * object awscli uploaded, read back here. */
static void test_crosscheck(void **state)
{
	(void)state;
	NEED_SERVER();
	const char *out = env("EMBER_S3_TEST_OUT");
	if (!out)
		skip();
	size_t n = 700 * 1024 + 11; /* three parts */
	uint8_t *data = malloc(n);
	sc_fill(data, n, 99);
	assert_int_equal(objstore_put(sc_os, "crosscheck/multipart.bin", slice_make(data, n)), 0);
	char path[512];
	snprintf(path, sizeof(path), "%s/multipart.bin", out);
	write_file(path, data, n);
	assert_int_equal(objstore_put(sc_os, "crosscheck/small.txt", slice_cstr("small object\n")), 0);
	snprintf(path, sizeof(path), "%s/small.txt", out);
	write_file(path, "small object\n", 13);
	free(data);

	const char *aws_key = env("EMBER_S3_TEST_AWS_KEY"), *aws_file = env("EMBER_S3_TEST_AWS_FILE");
	if (aws_key && aws_file) {
		size_t wn;
		uint8_t *want = test_read_file(aws_file, &wn);
		struct buf b = BUF_INIT;
		int rc = objstore_get(sc_os, aws_key, &b);
		if (rc)
			fail_msg("get %s: %s", aws_key, objstore_errmsg());
		assert_int_equal(b.n, wn);
		assert_memory_equal(b.p, want, wn);
		uint64_t size;
		assert_int_equal(objstore_stat(sc_os, aws_key, &size), 0);
		assert_int_equal(size, wn);
		buf_release(&b);
		free(want);
	}
}

/* ---- retries, against the fake server --------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct objstore *open_fake(uint32_t stall_ms)
{
	const char *ep = env("EMBER_S3_TEST_FAKE_ENDPOINT");
	if (!ep)
		skip();
	struct objstore_config cfg = {.backend = "s3"};
	cfg.s3.endpoint = ep;
	cfg.s3.bucket = "profiles";
	cfg.s3.insecure = true;
	cfg.s3.access_key_id = "AK";
	cfg.s3.secret_access_key = "SK";
	cfg.s3.stall_timeout_ms = stall_ms;
	struct objstore *os;
	char err[256];
	if (objstore_open(&cfg, &os, err, sizeof(err)) != 0)
		fail_msg("open: %s", err);
	return os;
}

static void test_retry_5xx(void **state)
{
	(void)state;
	struct objstore *os = open_fake(0);
	struct buf b = BUF_INIT;
	double t0 = now_s();
	int rc = objstore_get(os, "flaky", &b);
	double dt = now_s() - t0;
	if (rc)
		fail_msg("get flaky: %s", objstore_errmsg());
	assert_int_equal(b.n, strlen("third time lucky"));
	assert_memory_equal(b.p, "third time lucky", b.n);
	/* Backoff 100 ms then 200 ms (plus up to 25% jitter). */
	print_message("503, 503, 200 took %.3f s\n", dt);
	assert_true(dt >= 0.29 && dt < 2.0);
	/* 500 every time: five tries, then a clear error. */
	assert_int_equal(objstore_get(os, "down", &b), EMBER_EIO);
	print_message("always 500: %s\n", objstore_errmsg());
	assert_non_null(strstr(objstore_errmsg(), "HTTP 500 InternalError"));
	assert_non_null(strstr(objstore_errmsg(), "gave up after 5 tries"));
	buf_release(&b);
	objstore_close(os);
}

static void test_no_retry_4xx(void **state)
{
	(void)state;
	struct objstore *os = open_fake(0);
	struct buf b = BUF_INIT;
	assert_int_equal(objstore_get(os, "forbidden", &b), EMBER_EAUTH);
	print_message("403: %s\n", objstore_errmsg());
	assert_non_null(strstr(objstore_errmsg(), "GET profiles/forbidden: HTTP 403 AccessDenied: Access Denied"));
	assert_int_equal(b.n, 0);
	buf_release(&b);
	objstore_close(os);
}

/* A server that accepts the request and then says nothing: the stall timeout fires and
 * the retry gets the answer. */
static void test_stall_timeout(void **state)
{
	(void)state;
	struct objstore *os = open_fake(1000);
	struct buf b = BUF_INIT;
	double t0 = now_s();
	int rc = objstore_get(os, "stall", &b);
	double dt = now_s() - t0;
	if (rc)
		fail_msg("get stall: %s", objstore_errmsg());
	print_message("stalled first answer, then ok: %.3f s\n", dt);
	assert_memory_equal(b.p, "after the stall", b.n);
	assert_true(dt >= 1.0 && dt < 3.0);
	buf_release(&b);
	objstore_close(os);
}

/* Connection refused is retried, then reported. */
static void test_connect_refused(void **state)
{
	(void)state;
	struct objstore_config cfg = {.backend = "s3"};
	cfg.s3.endpoint = "http://127.0.0.1:1"; /* nothing listens on port 1 */
	cfg.s3.bucket = "profiles";
	cfg.s3.access_key_id = "AK";
	cfg.s3.secret_access_key = "SK";
	cfg.s3.max_tries = 3;
	cfg.s3.backoff_min_ms = 10;
	struct objstore *os;
	char err[256];
	assert_int_equal(objstore_open(&cfg, &os, err, sizeof(err)), 0);
	uint64_t size;
	assert_int_equal(objstore_stat(os, "x", &size), EMBER_EIO);
	print_message("refused: %s\n", objstore_errmsg());
	assert_non_null(strstr(objstore_errmsg(), "HEAD profiles/x: Couldn't connect"));
	assert_non_null(strstr(objstore_errmsg(), "gave up after 3 tries"));
	objstore_close(os);
}

/* ---- settings checks (no server) --------------------------------------------------- */

static void test_open_checks(void **state)
{
	(void)state;
	char err[512];
	struct objstore *os = NULL;
	char *saved_ak = getenv("AWS_ACCESS_KEY_ID") ? strdup(getenv("AWS_ACCESS_KEY_ID")) : NULL;
	char *saved_sk = getenv("AWS_SECRET_ACCESS_KEY") ? strdup(getenv("AWS_SECRET_ACCESS_KEY")) : NULL;
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");

	struct objstore_config cfg = {.backend = "s3"};
	assert_int_equal(objstore_open(&cfg, &os, err, sizeof(err)), EMBER_EINVAL);
	assert_string_equal(err, "S3 storage needs -storage.s3.endpoint, -storage.s3.bucket-name, "
				 "-storage.s3.access-key-id (or $AWS_ACCESS_KEY_ID), "
				 "-storage.s3.secret-access-key (or $AWS_SECRET_ACCESS_KEY)");
	char err2[512];
	assert_int_equal(objstore_config_check(&cfg, err2, sizeof(err2)), EMBER_EINVAL);
	assert_string_equal(err2, err);
	cfg.s3.endpoint = "s3.eu-west-1.amazonaws.com";
	cfg.s3.bucket = "b";
	cfg.s3.access_key_id = "AK";
	assert_int_equal(objstore_open(&cfg, &os, err, sizeof(err)), EMBER_EINVAL);
	assert_string_equal(err, "S3 storage needs -storage.s3.secret-access-key (or $AWS_SECRET_ACCESS_KEY)");
	/* The environment supplies credentials. */
	setenv("AWS_SECRET_ACCESS_KEY", "from-env", 1);
	assert_int_equal(objstore_open(&cfg, &os, err, sizeof(err)), 0);
	assert_string_equal(objstore_backend(os), "s3");
	objstore_close(os);
	cfg.s3.access_key_id = NULL;
	setenv("AWS_ACCESS_KEY_ID", "AK2", 1);
	assert_int_equal(objstore_open(&cfg, &os, err, sizeof(err)), 0);
	objstore_close(os);

	cfg.s3.endpoint = "http://host:9000/some/path";
	assert_int_equal(objstore_open(&cfg, &os, err, sizeof(err)), EMBER_EINVAL);
	assert_non_null(strstr(err, "expected host[:port]"));
	cfg.s3.endpoint = "https://minio.local:9000/";
	assert_int_equal(objstore_open(&cfg, &os, err, sizeof(err)), 0);
	objstore_close(os);
	cfg.s3.bucket_lookup = "sideways";
	assert_int_equal(objstore_open(&cfg, &os, err, sizeof(err)), EMBER_EINVAL);
	assert_non_null(strstr(err, "bucket-lookup-type"));
	cfg.s3.bucket_lookup = "virtual-hosted-style";
	cfg.s3.bucket = "bad/bucket";
	assert_int_equal(objstore_open(&cfg, &os, err, sizeof(err)), EMBER_EINVAL);
	assert_non_null(strstr(err, "bad/bucket"));
	cfg.s3.bucket = "b";
	cfg.s3.region = "eu west";
	assert_int_equal(objstore_open(&cfg, &os, err, sizeof(err)), EMBER_EINVAL);
	assert_non_null(strstr(err, "region"));
	cfg.s3.region = "eu-west-3";
	assert_int_equal(objstore_config_check(&cfg, err, sizeof(err)), 0);
	cfg.backend = "azure";
	assert_int_equal(objstore_config_check(&cfg, err, sizeof(err)), EMBER_EINVAL);
	assert_string_equal(err, "unknown storage backend azure (supported: filesystem, s3)");

	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	if (saved_ak)
		setenv("AWS_ACCESS_KEY_ID", saved_ak, 1);
	if (saved_sk)
		setenv("AWS_SECRET_ACCESS_KEY", saved_sk, 1);
	free(saved_ak);
	free(saved_sk);
}

static int collect_cb(void *ctx, const char *key, uint64_t size)
{
	struct buf *b = ctx;
	buf_printf(b, "%s=%llu;", key, (unsigned long long)size);
	return 0;
}

/* Reading S3's XML answers: entity decoding, a ListObjectsV2 page as AWS documents it. */
static void test_xml(void **state)
{
	(void)state;
	struct buf b = BUF_INIT, key = BUF_INIT, token = BUF_INIT;
	objstore__xml_unescape(slice_cstr("a&amp;b&lt;&gt;&quot;&apos;&#233;&#x20AC;&#x1F525;&bogus;&#0;&#xD800;&"), &b);
	assert_string_equal(buf_cstr(&b), "a&b<>\"'\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\xa5&bogus;&#0;&#xD800;&");
	b.n = 0;
	objstore__xml_escape("<a&\"b\">", &b);
	assert_string_equal(buf_cstr(&b), "&lt;a&amp;&quot;b&quot;&gt;");
	/* The example answer of the ListObjectsV2 API reference (trimmed). */
	const char *page =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		"<Name>bucket</Name><Prefix/><KeyCount>205</KeyCount><MaxKeys>1000</MaxKeys>"
		"<IsTruncated>true</IsTruncated>"
		"<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
		"<Contents><Key>my-image.jpg</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>"
		"<ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size>"
		"<StorageClass>STANDARD</StorageClass></Contents>"
		"<Contents><Key>a &amp; b</Key><Size>0</Size></Contents></ListBucketResult>";
	b.n = 0;
	bool truncated = false;
	assert_int_equal(objstore__s3_list_page(slice_cstr(page), collect_cb, &b, &key, &token, &truncated), 0);
	assert_string_equal(buf_cstr(&b), "my-image.jpg=434234;a & b=0;");
	assert_true(truncated);
	assert_string_equal(buf_cstr(&token), "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
	/* Truncated without a token, an entry without a key, not a listing at all. */
	assert_int_equal(objstore__s3_list_page(slice_cstr("<ListBucketResult><Name>b</Name><IsTruncated>true"
							   "</IsTruncated></ListBucketResult>"),
						 collect_cb, &b, &key, &token, &truncated),
			 EMBER_EIO);
	assert_int_equal(objstore__s3_list_page(slice_cstr("<Name>b</Name><Contents><Size>1</Size></Contents>"),
						 collect_cb, &b, &key, &token, &truncated),
			 EMBER_EIO);
	assert_int_equal(objstore__s3_list_page(slice_cstr("<html>proxy error</html>"), collect_cb, &b, &key, &token,
						 &truncated),
			 EMBER_EIO);
	assert_int_equal(objstore__s3_list_page(slice_make(NULL, 0), collect_cb, &b, &key, &token, &truncated),
			 EMBER_EIO);
	buf_release(&b);
	buf_release(&key);
	buf_release(&token);
}

/* The server's -storage.s3.* flags and storage.s3.* YAML keys (Pyroscope's names) reach
 * objstore, and config_check says what is missing. */
static void test_server_config(void **state)
{
	(void)state;
	char *saved_ak = getenv("AWS_ACCESS_KEY_ID") ? strdup(getenv("AWS_ACCESS_KEY_ID")) : NULL;
	char *saved_sk = getenv("AWS_SECRET_ACCESS_KEY") ? strdup(getenv("AWS_SECRET_ACCESS_KEY")) : NULL;
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	struct config c;
	char err[512];
	config_init(&c);
	assert_int_equal(config_check(&c, err, sizeof(err)), 0); /* filesystem by default */
	char *a1[] = {"-storage.backend=s3", "-storage.s3.bucket-name=profiles"};
	assert_int_equal(config_load(&c, 2, a1, err, sizeof(err)), 0);
	assert_int_equal(config_check(&c, err, sizeof(err)), EMBER_EINVAL);
	assert_string_equal(err, "S3 storage needs -storage.s3.endpoint, -storage.s3.access-key-id (or "
				 "$AWS_ACCESS_KEY_ID), -storage.s3.secret-access-key (or $AWS_SECRET_ACCESS_KEY)");
	config_release(&c);

	char path[] = "/tmp/ember-s3-config-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *yaml = "storage:\n  backend: s3\n  s3:\n    endpoint: minio.local:9000\n"
			   "    bucket_name: blocks\n    region: eu-west-3\n    access_key_id: AK\n"
			   "    secret_access_key: SK\n    insecure: true\n    bucket_lookup_type: path-style\n";
	assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
	close(fd);
	char cf[64];
	snprintf(cf, sizeof(cf), "-config.file=%s", path);
	char *a2[] = {cf, "-storage.s3.region=us-west-2"};
	config_init(&c);
	assert_int_equal(config_load(&c, 2, a2, err, sizeof(err)), 0);
	assert_int_equal(config_check(&c, err, sizeof(err)), 0);
	struct objstore_config oc;
	config_objstore(&c, &oc);
	assert_string_equal(oc.backend, "s3");
	assert_string_equal(oc.s3.endpoint, "minio.local:9000");
	assert_string_equal(oc.s3.bucket, "blocks");
	assert_string_equal(oc.s3.region, "us-west-2"); /* the flag beats the file */
	assert_string_equal(oc.s3.access_key_id, "AK");
	assert_string_equal(oc.s3.secret_access_key, "SK");
	assert_true(oc.s3.insecure);
	assert_string_equal(oc.s3.bucket_lookup, "path-style");
	config_release(&c);
	unlink(path);

	/* Credentials from the environment are enough. */
	setenv("AWS_ACCESS_KEY_ID", "AK", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "SK", 1);
	char *a3[] = {"-storage.backend=s3", "-storage.s3.bucket-name=b", "-storage.s3.endpoint=s3.amazonaws.com"};
	config_init(&c);
	assert_int_equal(config_load(&c, 3, a3, err, sizeof(err)), 0);
	assert_int_equal(config_check(&c, err, sizeof(err)), 0);
	config_release(&c);
	char *a4[] = {"-storage.backend=gcs"};
	config_init(&c);
	assert_int_equal(config_load(&c, 1, a4, err, sizeof(err)), 0);
	assert_int_equal(config_check(&c, err, sizeof(err)), EMBER_EINVAL);
	assert_string_equal(err, "unknown storage backend gcs (supported: filesystem, s3)");
	config_release(&c);

	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	if (saved_ak)
		setenv("AWS_ACCESS_KEY_ID", saved_ak, 1);
	if (saved_sk)
		setenv("AWS_SECRET_ACCESS_KEY", saved_sk, 1);
	free(saved_ak);
	free(saved_sk);
}

int main(void)
{
	const struct CMUnitTest checks[] = {
		cmocka_unit_test(test_open_checks),
		cmocka_unit_test(test_server_config),
		cmocka_unit_test(test_xml),
	};
	const struct CMUnitTest server[] = {
		cmocka_unit_test(test_basic),          cmocka_unit_test(test_range),
		cmocka_unit_test(test_list_delete),    cmocka_unit_test(test_bad_keys),
		cmocka_unit_test(test_put_file_small), cmocka_unit_test(test_multipart),
		cmocka_unit_test(test_pagination),     cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_wrong_secret),   cmocka_unit_test(test_missing_bucket),
		cmocka_unit_test(test_crosscheck),
	};
	const struct CMUnitTest fake[] = {
		cmocka_unit_test(test_retry_5xx),
		cmocka_unit_test(test_no_retry_4xx),
		cmocka_unit_test(test_stall_timeout),
		cmocka_unit_test(test_connect_refused),
	};
	int failed = cmocka_run_group_tests_name("s3 settings", checks, NULL, NULL);
	failed += cmocka_run_group_tests_name("s3 server", server, setup_server, teardown_server);
	if (!env("EMBER_S3_TEST_FAKE_ENDPOINT"))
		print_message("EMBER_S3_TEST_FAKE_ENDPOINT is unset: skipping the retry tests "
			      "(tests/integ/test_s3.py runs them against a fake S3)\n");
	failed += cmocka_run_group_tests_name("s3 retries", fake, NULL, NULL);
	return failed;
}

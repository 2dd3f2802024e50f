/* objstore filesystem backend: the shared scenarios plus what only a filesystem has
 * (files on disk, temporary files, directories left behind, a file/directory clash). */
#include <dirent.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>

#include "scenarios.h"

static char root[256];

static void rm_rf(const char *path)
{
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", path);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/ember-fs-test-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	/* A root that does not exist yet: objstore_open creates it. */
	size_t n = strlen(root);
	snprintf(root + n, sizeof(root) - n, "/store/");
	struct objstore_config cfg = {.backend = "filesystem", .fs_dir = root};
	char err[256];
	if (objstore_open(&cfg, &sc_os, err, sizeof(err)) != 0) {
		fprintf(stderr, "open: %s\n", err);
		return -1;
	}
	snprintf(sc_prefix, sizeof(sc_prefix), "t/");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	objstore_close(sc_os);
	root[strlen(root) - strlen("/store/")] = '\0';
	if (!getenv("KEEP")) rm_rf(root);
	return 0;
}

static void path_of(char *out, size_t n, const char *key)
{
	snprintf(out, n, "%s%s", root, key); /* root ends in "/store/" during the tests */
}

/* Counts entries named .ember-tmp* anywhere under dir. */
static int count_tmp(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!strncmp(de->d_name, ".ember-tmp", 10))
			n++;
		char sub[1024];
		snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
		struct stat st;
		if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
			n += count_tmp(sub);
	}
	closedir(d);
	return n;
}

static void test_basic(void **s) { sc_basic(s); }
static void test_range(void **s) { sc_range(s); }
static void test_list_delete(void **s) { sc_list_delete(s); }
static void test_bad_keys(void **s) { sc_bad_keys(s); }
static void test_put_file_small(void **s) { sc_put_file_small(s); }
static void test_concurrent(void **s)
{
	sc_concurrent(s);
	assert_int_equal(count_tmp(root), 0);
}
static void test_big(void **s)
{
	(void)s;
	sc_big(3 * 1024 * 1024 + 17);
}

/* Keys are plain files at root/key, readable by anyone; deletes leave no empty directories. */
static void test_layout(void **state)
{
	(void)state;
	assert_int_equal(objstore_put(sc_os, "lay/x/y/z.txt", slice_cstr("on disk")), 0);
	char path[512];
	path_of(path, sizeof(path), "lay/x/y/z.txt");
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char got[32] = "";
	assert_int_equal(fread(got, 1, sizeof(got), f), 7);
	fclose(f);
	assert_memory_equal(got, "on disk", 7);
	assert_int_equal(objstore_put(sc_os, "lay/keep", slice_cstr("k")), 0);
	assert_int_equal(objstore_delete(sc_os, "lay/x/y/z.txt"), 0);
	struct stat st;
	path_of(path, sizeof(path), "lay/x");
	assert_int_equal(stat(path, &st), -1); /* lay/x/y and lay/x removed */
	path_of(path, sizeof(path), "lay");
	assert_int_equal(stat(path, &st), 0); /* still holds lay/keep */
	assert_int_equal(objstore_delete(sc_os, "lay/keep"), 0);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(stat(root, &st), 0); /* the root itself stays */
}

static int count_cb(void *ctx, const char *key, uint64_t size)
{
	(void)key;
	(void)size;
	++*(int *)ctx;
	return 0;
}

/* Files put there by other means are objects; temporary files are not. */
static void test_foreign_and_tmp_files(void **state)
{
	(void)state;
	char path[512];
	assert_int_equal(objstore_put(sc_os, "for/a", slice_cstr("a")), 0);
	path_of(path, sizeof(path), "for/.ember-tmp-999-0");
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fputs("half written", f);
	fclose(f);
	path_of(path, sizeof(path), "for/copied");
	f = fopen(path, "wb");
	assert_non_null(f);
	fputs("copied in", f);
	fclose(f);
	static struct sc_listed l;
	memset(&l, 0, sizeof(l));
	char saved[64];
	snprintf(saved, sizeof(saved), "%s", sc_prefix);
	sc_prefix[0] = '\0';
	assert_int_equal(objstore_list(sc_os, "for/", sc_list_cb, &l), 0);
	snprintf(sc_prefix, sizeof(sc_prefix), "%s", saved);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.keys[0], "for/a");
	assert_string_equal(l.keys[1], "for/copied");
	assert_int_equal(l.sizes[1], 9);
	/* A temporary file a crashed put left an hour ago is swept by the next listing. */
	path_of(path, sizeof(path), "for/.ember-tmp-999-0");
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	struct timespec old[2] = {{time(NULL) - 7200, 0}, {time(NULL) - 7200, 0}};
	assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
	int n = 0;
	assert_int_equal(objstore_list(sc_os, "for/", count_cb, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(stat(path, &st), -1);
}

/* Listing is in byte order even where a directory walk is not: "a-x" < "a/1" < "a0". */
static void test_list_byte_order(void **state)
{
	(void)state;
	assert_int_equal(objstore_put(sc_os, "order/a/1", slice_cstr("1")), 0);
	assert_int_equal(objstore_put(sc_os, "order/a0", slice_cstr("0")), 0);
	assert_int_equal(objstore_put(sc_os, "order/a-x", slice_cstr("x")), 0);
	assert_int_equal(objstore_put(sc_os, "order/a.b/c", slice_cstr("c")), 0);
	char saved[64];
	snprintf(saved, sizeof(saved), "%s", sc_prefix);
	sc_prefix[0] = '\0';
	static const char *const want[] = {"order/a-x", "order/a.b/c", "order/a/1", "order/a0"};
	sc_expect_list("order/a", want, 4);
	snprintf(sc_prefix, sizeof(sc_prefix), "%s", saved);
}

/* A filesystem cannot hold both "c" and "c/d": a clear error, and a directory is not an
 * object. */
static void test_file_dir_clash(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	uint64_t size;
	assert_int_equal(objstore_put(sc_os, "clash/c/d", slice_cstr("d")), 0);
	assert_int_equal(objstore_put(sc_os, "clash/c", slice_cstr("c")), EMBER_EIO);
	assert_non_null(strstr(objstore_errmsg(), "clash/c"));
	assert_int_equal(objstore_get(sc_os, "clash/c", &b), EMBER_ENOTFOUND);
	assert_int_equal(objstore_stat(sc_os, "clash/c", &size), EMBER_ENOTFOUND);
	assert_int_equal(objstore_delete(sc_os, "clash/c"), 0);
	assert_int_equal(objstore_get(sc_os, "clash/c/d", &b), 0); /* untouched */
	assert_int_equal(objstore_put(sc_os, "clash/f", slice_cstr("f")), 0);
	assert_int_equal(objstore_get(sc_os, "clash/f/g", &b), EMBER_ENOTFOUND);
	assert_int_equal(objstore_put(sc_os, "clash/f/g", slice_cstr("g")), EMBER_EIO);
	assert_int_equal(count_tmp(root), 0); /* the failed puts cleaned up */
	buf_release(&b);
}

/* Readers racing a writer that replaces an object see one whole version or the other. */
struct reader {
	atomic_int stop;
	int reads, torn;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	while (!atomic_load(&r->stop)) {
		struct buf b = BUF_INIT;
		if (objstore_get(sc_os, "atomic/obj", &b) == 0) {
			r->reads++;
			bool ok = (b.n == 100000 || b.n == 50000);
			for (size_t i = 1; ok && i < b.n; i++)
				ok = b.p[i] == b.p[0];
			ok = ok && ((b.n == 100000 && b.p[0] == 'A') || (b.n == 50000 && b.p[0] == 'B'));
			if (!ok)
				r->torn++;
		} else {
			r->torn++; /* the object must never be absent while replaced */
		}
		buf_release(&b);
	}
	return NULL;
}

static void test_atomic_replace(void **state)
{
	(void)state;
	uint8_t *a = malloc(100000), *bb = malloc(50000);
	memset(a, 'A', 100000);
	memset(bb, 'B', 50000);
	assert_int_equal(objstore_put(sc_os, "atomic/obj", slice_make(a, 100000)), 0);
	struct reader r = {0};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, reader_main, &r), 0);
	for (int i = 0; i < 100; i++) {
		if (i % 2)
			assert_int_equal(objstore_put(sc_os, "atomic/obj", slice_make(a, 100000)), 0);
		else
			assert_int_equal(objstore_put(sc_os, "atomic/obj", slice_make(bb, 50000)), 0);
	}
	atomic_store(&r.stop, 1);
	pthread_join(t, NULL);
	assert_int_equal(r.torn, 0);
	assert_true(r.reads > 0);
	free(a);
	free(bb);
}

/* Concurrent puts and deletes in one directory: the rmdir of an emptied directory must not
 * make a put fail. */
struct churn {
	int id, failures;
	char err[256];
};

static void *churn_main(void *arg)
{
	struct churn *c = arg;
	for (int i = 0; i < 200; i++) {
		char key[64];
		snprintf(key, sizeof(key), "churn/d/e/k%d", c->id);
		int rc = objstore_put(sc_os, key, slice_cstr("x"));
		if (rc == 0)
			rc = objstore_delete(sc_os, key);
		if (rc) {
			c->failures++;
			snprintf(c->err, sizeof(c->err), "%s", objstore_errmsg());
		}
	}
	return NULL;
}

static void test_put_delete_churn(void **state)
{
	(void)state;
	pthread_t t[4];
	struct churn c[4];
	for (int i = 0; i < 4; i++) {
		c[i] = (struct churn){.id = i};
		assert_int_equal(pthread_create(&t[i], NULL, churn_main, &c[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		if (c[i].failures)
			fail_msg("thread %d: %d failures, last: %s", i, c[i].failures, c[i].err);
	}
}

static void test_open_errors(void **state)
{
	(void)state;
	char err[256] = "";
	struct objstore *os = NULL;
	struct objstore_config cfg = {.backend = "filesystem"};
	assert_int_equal(objstore_open(&cfg, &os, err, sizeof(err)), EMBER_EINVAL);
	assert_non_null(strstr(err, "-storage.filesystem.dir"));
	char file[512];
	snprintf(file, sizeof(file), "%sregular-file", root);
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	cfg.fs_dir = file;
	assert_int_equal(objstore_open(&cfg, &os, err, sizeof(err)), EMBER_EIO);
	assert_non_null(strstr(err, "regular-file"));
	unlink(file);
	cfg.backend = "gcs";
	assert_int_equal(objstore_open(&cfg, &os, err, sizeof(err)), EMBER_EINVAL);
	assert_non_null(strstr(err, "gcs"));
	assert_null(os);
	/* NULL/empty backend is filesystem. */
	cfg.backend = NULL;
	cfg.fs_dir = root;
	assert_int_equal(objstore_open(&cfg, &os, err, sizeof(err)), 0);
	assert_string_equal(objstore_backend(os), "filesystem");
	objstore_close(os);
	objstore_close(NULL);
}

/* max_get_bytes caps what a get may read into memory. */
static void test_read_limit(void **state)
{
	(void)state;
	struct objstore_config cfg = {.fs_dir = root, .max_get_bytes = 100};
	struct objstore *os;
	char err[256];
	assert_int_equal(objstore_open(&cfg, &os, err, sizeof(err)), 0);
	uint8_t data[101] = {0};
	assert_int_equal(objstore_put(os, "limit/100", slice_make(data, 100)), 0);
	assert_int_equal(objstore_put(os, "limit/101", slice_make(data, 101)), 0);
	struct buf b = BUF_INIT;
	assert_int_equal(objstore_get(os, "limit/100", &b), 0);
	assert_int_equal(b.n, 100);
	assert_int_equal(objstore_get(os, "limit/101", &b), EMBER_ETOOBIG);
	assert_int_equal(b.n, 100);
	assert_int_equal(objstore_get_range(os, "limit/101", 1, 100, &b), 0);
	assert_int_equal(b.n, 200);
	assert_int_equal(objstore_get_range(os, "limit/101", 0, UINT64_MAX, &b), EMBER_ETOOBIG);
	buf_release(&b);
	objstore_close(os);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_list_delete),
		cmocka_unit_test(test_bad_keys),
		cmocka_unit_test(test_put_file_small),
		cmocka_unit_test(test_big),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_foreign_and_tmp_files),
		cmocka_unit_test(test_list_byte_order),
		cmocka_unit_test(test_file_dir_clash),
		cmocka_unit_test(test_atomic_replace),
		cmocka_unit_test(test_put_delete_churn),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_read_limit),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

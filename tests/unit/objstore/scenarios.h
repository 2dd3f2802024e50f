/* Backend-independent objstore scenarios, run by fs_test.c against the filesystem backend
 * and by s3_test.c against a real S3 server: both backends must behave the same. Each
 * scenario works under its own key prefix (sc_prefix), so a shared bucket is fine.
 * (Included by the two test files; the Makefile only tracks testutil.h, so touch them after
 * editing this.) */
#ifndef EMBER_TEST_OBJSTORE_SCENARIOS_H
#define EMBER_TEST_OBJSTORE_SCENARIOS_H

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "testutil.h"

#include "objstore/objstore.h"

/* The store under test and a per-run key prefix ("run-<pid>-<time>/"). */
static struct objstore *sc_os;
static char sc_prefix[64];
/* Set when the server is s3rver, which differs from S3 in two ways the scenarios meet:
 * it rewrites objects in place (a GET racing a PUT of the same key gets a 500 or a torn
 * object, and racing PUTs of one key can leave a mix of both; S3 and the filesystem
 * backend never show either), and a ranged GET of an empty object gets a broken answer
 * instead of 416. Those checks are skipped with it. */
static bool sc_s3rver;

static const char *sc_key(const char *rel)
{
	static _Thread_local char k[2][512];
	static _Thread_local int i;
	i ^= 1;
	snprintf(k[i], sizeof(k[i]), "%s%s", sc_prefix, rel);
	return k[i];
}

/* Deterministic pseudo-random bytes (xorshift), so the same content can be rebuilt. */
static void sc_fill(uint8_t *p, size_t n, uint32_t seed)
{
	uint32_t x = seed ? seed : 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

static void sc_put_cstr(const char *rel, const char *s)
{
	int rc = objstore_put(sc_os, sc_key(rel), slice_cstr(s));
	if (rc)
		fail_msg("put %s: %s (%s)", rel, ember_strerror(rc), objstore_errmsg());
}

static void sc_expect_content(const char *rel, const void *want, size_t n)
{
	struct buf b = BUF_INIT;
	int rc = objstore_get(sc_os, sc_key(rel), &b);
	if (rc)
		fail_msg("get %s: %s (%s)", rel, ember_strerror(rc), objstore_errmsg());
	assert_int_equal(b.n, n);
	assert_true(n == 0 || memcmp(b.p, want, n) == 0);
	buf_release(&b);
}

/* put, get, stat, overwrite with a different size, absent keys. */
static void sc_basic(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	uint64_t size = 0;
	sc_put_cstr("basic/hello.txt", "hello, world");
	sc_expect_content("basic/hello.txt", "hello, world", 12);
	assert_int_equal(objstore_stat(sc_os, sc_key("basic/hello.txt"), &size), 0);
	assert_int_equal(size, 12);
	/* Replace with a shorter object: no tail of the old one may remain. */
	sc_put_cstr("basic/hello.txt", "bye");
	sc_expect_content("basic/hello.txt", "bye", 3);
	assert_int_equal(objstore_stat(sc_os, sc_key("basic/hello.txt"), &size), 0);
	assert_int_equal(size, 3);
	/* Empty object. */
	sc_put_cstr("basic/empty", "");
	sc_expect_content("basic/empty", "", 0);
	assert_int_equal(objstore_stat(sc_os, sc_key("basic/empty"), &size), 0);
	assert_int_equal(size, 0);
	/* Absent. */
	buf_append_cstr(&b, "keep");
	assert_int_equal(objstore_get(sc_os, sc_key("basic/nope"), &b), EMBER_ENOTFOUND);
	assert_int_equal(b.n, 4); /* a failed get leaves out as it was */
	assert_non_null(strstr(objstore_errmsg(), "basic/nope"));
	assert_int_equal(objstore_stat(sc_os, sc_key("basic/nope"), &size), EMBER_ENOTFOUND);
	/* get appends. */
	assert_int_equal(objstore_get(sc_os, sc_key("basic/hello.txt"), &b), 0);
	assert_int_equal(b.n, 7);
	assert_memory_equal(b.p, "keepbye", 7);
	/* Binary content with every byte value. */
	uint8_t all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	assert_int_equal(objstore_put(sc_os, sc_key("basic/bytes"), slice_make(all, 256)), 0);
	sc_expect_content("basic/bytes", all, 256);
	buf_release(&b);
}

static void sc_expect_range(const char *rel, uint64_t off, uint64_t len, const char *want)
{
	struct buf b = BUF_INIT;
	int rc = objstore_get_range(sc_os, sc_key(rel), off, len, &b);
	if (rc)
		fail_msg("get_range %s %llu+%llu: %s (%s)", rel, (unsigned long long)off, (unsigned long long)len,
			 ember_strerror(rc), objstore_errmsg());
	assert_int_equal(b.n, strlen(want));
	assert_memory_equal(b.p, want, b.n);
	buf_release(&b);
}

static void sc_range(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	sc_put_cstr("range/digits", "0123456789");
	sc_expect_range("range/digits", 0, 10, "0123456789");
	sc_expect_range("range/digits", 3, 4, "3456");
	sc_expect_range("range/digits", 9, 1, "9");
	sc_expect_range("range/digits", 7, 100, "789"); /* shorter when the object ends first */
	sc_expect_range("range/digits", 0, UINT64_MAX, "0123456789");
	sc_expect_range("range/digits", 5, 0, "");
	assert_int_equal(objstore_get_range(sc_os, sc_key("range/digits"), 10, 1, &b), EMBER_EINVAL);
	assert_int_equal(objstore_get_range(sc_os, sc_key("range/digits"), 11, 5, &b), EMBER_EINVAL);
	assert_int_equal(b.n, 0);
	assert_int_equal(objstore_get_range(sc_os, sc_key("range/absent"), 0, 5, &b), EMBER_ENOTFOUND);
	assert_int_equal(objstore_get_range(sc_os, sc_key("range/absent"), 0, 0, &b), EMBER_ENOTFOUND);
	/* An empty object has no byte 0 (S3 answers 416 InvalidRange). */
	sc_put_cstr("range/empty", "");
	if (!sc_s3rver)
		assert_int_equal(objstore_get_range(sc_os, sc_key("range/empty"), 0, 10, &b), EMBER_EINVAL);
	/* Appends after what out holds. */
	buf_append_cstr(&b, "x");
	assert_int_equal(objstore_get_range(sc_os, sc_key("range/digits"), 2, 2, &b), 0);
	assert_int_equal(b.n, 3);
	assert_memory_equal(b.p, "x23", 3);
	buf_release(&b);
}

struct sc_listed {
	char keys[64][256];
	uint64_t sizes[64];
	int n;
	int stop_after; /* 0: never */
};

static int sc_list_cb(void *ctx, const char *key, uint64_t size)
{
	struct sc_listed *l = ctx;
	if (l->n >= 64)
		return -100;
	size_t pl = strlen(sc_prefix);
	assert_true(strncmp(key, sc_prefix, pl) == 0);
	snprintf(l->keys[l->n], sizeof(l->keys[0]), "%s", key + pl);
	l->sizes[l->n] = size;
	l->n++;
	return l->stop_after && l->n >= l->stop_after ? 42 : 0;
}

static void sc_expect_list(const char *rel_prefix, const char *const *want, int n_want)
{
	static struct sc_listed l;
	memset(&l, 0, sizeof(l));
	int rc = objstore_list(sc_os, sc_key(rel_prefix), sc_list_cb, &l);
	if (rc)
		fail_msg("list %s: %s (%s)", rel_prefix, ember_strerror(rc), objstore_errmsg());
	if (l.n != n_want) {
		for (int i = 0; i < l.n; i++)
			print_message("listed %s\n", l.keys[i]);
		fail_msg("list %s: %d keys, want %d", rel_prefix, l.n, n_want);
	}
	for (int i = 0; i < n_want; i++)
		assert_string_equal(l.keys[i], want[i]);
}

/* Nested prefixes, string-prefix semantics, byte order, early stop, delete. (No sibling
 * like "a-x" next to a directory "a/": s3rver lists in directory-walk order, which differs
 * from S3's byte order there; fs_test checks that case on its own.) */
static void sc_list_delete(void **state)
{
	(void)state;
	static const char *const keys[] = {"list/b/c/e", "list/a/2", "list/ab", "list/a/1", "list/b/c/d",
					   "list/B",     "list/a~x"};
	for (size_t i = 0; i < EMBER_ARRAY_LEN(keys); i++)
		sc_put_cstr(keys[i], keys[i]);
	static const char *const all[] = {"list/B", "list/a/1", "list/a/2", "list/ab", "list/a~x", "list/b/c/d", "list/b/c/e"};
	sc_expect_list("list/", all, 7);
	sc_expect_list("list", all, 7);
	static const char *const a[] = {"list/a/1", "list/a/2", "list/ab", "list/a~x"};
	sc_expect_list("list/a", a, 4);
	static const char *const a_dir[] = {"list/a/1", "list/a/2"};
	sc_expect_list("list/a/", a_dir, 2);
	static const char *const bc[] = {"list/b/c/d", "list/b/c/e"};
	sc_expect_list("list/b/c", bc, 2);
	sc_expect_list("list/b/c/d", bc, 1);
	sc_expect_list("list/zzz", NULL, 0);
	sc_expect_list("nothing-here/", NULL, 0);

	/* Sizes are reported. */
	static struct sc_listed l;
	memset(&l, 0, sizeof(l));
	assert_int_equal(objstore_list(sc_os, sc_key("list/a/"), sc_list_cb, &l), 0);
	assert_int_equal(l.sizes[0], strlen("list/a/1"));
	/* The callback stops the listing with its own value. */
	memset(&l, 0, sizeof(l));
	l.stop_after = 2;
	assert_int_equal(objstore_list(sc_os, sc_key("list/"), sc_list_cb, &l), 42);
	assert_int_equal(l.n, 2);

	/* Delete: gone from get, stat and list; absent is not an error. */
	assert_int_equal(objstore_delete(sc_os, sc_key("list/b/c/d")), 0);
	assert_int_equal(objstore_delete(sc_os, sc_key("list/b/c/d")), 0);
	assert_int_equal(objstore_delete(sc_os, sc_key("list/never-existed")), 0);
	uint64_t size;
	assert_int_equal(objstore_stat(sc_os, sc_key("list/b/c/d"), &size), EMBER_ENOTFOUND);
	static const char *const bc_after[] = {"list/b/c/e"};
	sc_expect_list("list/b/", bc_after, 1);
	assert_int_equal(objstore_delete(sc_os, sc_key("list/b/c/e")), 0);
	sc_expect_list("list/b/", NULL, 0);
	static const char *const rest[] = {"list/B", "list/a/1", "list/a/2", "list/ab", "list/a~x"};
	sc_expect_list("list/", rest, 5);
}

static void sc_bad_keys(void **state)
{
	(void)state;
	static const char *const bad[] = {"",      "/abs",     "trailing/", "a//b",        "a/../b", "..",
					  "../x",  ".",        "a/./b",     "a/..",        "tab\there", "nl\n",
					  "\x7f",  ".ember-tmp-1", "a/.ember-tmp-x/b"};
	struct buf b = BUF_INIT;
	uint64_t size;
	for (size_t i = 0; i < EMBER_ARRAY_LEN(bad); i++) {
		assert_int_equal(objstore_key_check(bad[i]), EMBER_EINVAL);
		assert_int_equal(objstore_put(sc_os, bad[i], slice_cstr("x")), EMBER_EINVAL);
		assert_true(objstore_errmsg()[0] != '\0');
		assert_int_equal(objstore_get(sc_os, bad[i], &b), EMBER_EINVAL);
		assert_int_equal(objstore_get_range(sc_os, bad[i], 0, 1, &b), EMBER_EINVAL);
		assert_int_equal(objstore_stat(sc_os, bad[i], &size), EMBER_EINVAL);
		assert_int_equal(objstore_delete(sc_os, bad[i]), EMBER_EINVAL);
	}
	char longkey[OBJSTORE_MAX_KEY + 2];
	memset(longkey, 'k', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	assert_int_equal(objstore_key_check(longkey), EMBER_EINVAL);
	longkey[OBJSTORE_MAX_KEY] = '\0';
	assert_int_equal(objstore_key_check(longkey), 0);
	/* Unusual but valid: spaces, '+', '%', '=', UTF-8, dots inside names. */
	assert_int_equal(objstore_key_check("a b/c+d%e=f/é€/x..y/.hidden"), 0);
	sc_put_cstr("odd/a b+c%20=d/é€..x", "odd");
	sc_expect_content("odd/a b+c%20=d/é€..x", "odd", 3);
	static const char *const odd[] = {"odd/a b+c%20=d/é€..x"};
	sc_expect_list("odd/", odd, 1);
	assert_int_equal(b.n, 0);
	buf_release(&b);
}

/* An object bigger than several parts (multipart on S3), from memory and from a file, and
 * ranged reads across part boundaries. size_hint is at least 2.5 parts. */
static void sc_big(size_t n)
{
	uint8_t *data = malloc(n);
	sc_fill(data, n, 7);
	int rc = objstore_put(sc_os, sc_key("big/mem.bin"), slice_make(data, n));
	if (rc)
		fail_msg("put big: %s (%s)", ember_strerror(rc), objstore_errmsg());
	sc_expect_content("big/mem.bin", data, n);
	uint64_t size = 0;
	assert_int_equal(objstore_stat(sc_os, sc_key("big/mem.bin"), &size), 0);
	assert_int_equal(size, n);
	struct buf b = BUF_INIT;
	size_t off = n / 3 - 5, len = n / 3 + 10;
	assert_int_equal(objstore_get_range(sc_os, sc_key("big/mem.bin"), off, len, &b), 0);
	assert_int_equal(b.n, len);
	assert_memory_equal(b.p, data + off, len);
	buf_release(&b);

	char path[] = "/tmp/ember-objstore-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	sc_fill(data, n, 11);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	close(fd);
	rc = objstore_put_file(sc_os, sc_key("big/file.bin"), path);
	if (rc)
		fail_msg("put_file big: %s (%s)", ember_strerror(rc), objstore_errmsg());
	sc_expect_content("big/file.bin", data, n);
	unlink(path);
	assert_int_equal(objstore_put_file(sc_os, sc_key("big/x"), "/nonexistent/file"), EMBER_ENOTFOUND);
	free(data);
}

static void sc_put_file_small(void **state)
{
	(void)state;
	char path[] = "/tmp/ember-objstore-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "from a file", 11), 11);
	close(fd);
	assert_int_equal(objstore_put_file(sc_os, sc_key("file/small"), path), 0);
	sc_expect_content("file/small", "from a file", 11);
	/* An empty file. */
	fd = open(path, O_WRONLY | O_TRUNC);
	close(fd);
	assert_int_equal(objstore_put_file(sc_os, sc_key("file/empty"), path), 0);
	sc_expect_content("file/empty", "", 0);
	unlink(path);
}

#define SC_THREADS 8
#define SC_PUTS 12

struct sc_worker {
	int id;
	int failures;
	char err[256];
};

static void sc_shared_value(int id, uint8_t *v, size_t *n)
{
	*n = 1000 + (size_t)id * 377; /* different sizes, so a torn write would show */
	memset(v, 'a' + id, *n);
}

static void *sc_worker_main(void *arg)
{
	struct sc_worker *w = arg;
	uint8_t v[8000];
	size_t n;
	for (int i = 0; i < SC_PUTS; i++) {
		char rel[64], val[64];
		snprintf(rel, sizeof(rel), "conc/t%d/k%d", w->id, i);
		snprintf(val, sizeof(val), "thread %d put %d", w->id, i);
		int rc = objstore_put(sc_os, sc_key(rel), slice_cstr(val));
		sc_shared_value(w->id, v, &n);
		if (rc == 0 && !sc_s3rver)
			rc = objstore_put(sc_os, sc_key("conc/shared"), slice_make(v, n));
		struct buf b = BUF_INIT;
		if (rc == 0 && !sc_s3rver)
			rc = objstore_get(sc_os, sc_key("conc/shared"), &b);
		if (rc == 0 && !sc_s3rver) {
			/* Whatever writer won, the object is one whole value. */
			int who = b.n ? b.p[0] - 'a' : -1;
			size_t wn = 0;
			if (who >= 0 && who < SC_THREADS)
				sc_shared_value(who, v, &wn);
			if (who < 0 || who >= SC_THREADS || wn != b.n || memcmp(b.p, v, wn) != 0)
				rc = -100;
		}
		buf_release(&b);
		if (rc) {
			w->failures++;
			snprintf(w->err, sizeof(w->err), "%d: %s", rc, rc == -100 ? "torn shared object" : objstore_errmsg());
		}
	}
	return NULL;
}

static void sc_concurrent(void **state)
{
	(void)state;
	pthread_t t[SC_THREADS];
	struct sc_worker w[SC_THREADS];
	for (int i = 0; i < SC_THREADS; i++) {
		w[i] = (struct sc_worker){.id = i};
		assert_int_equal(pthread_create(&t[i], NULL, sc_worker_main, &w[i]), 0);
	}
	for (int i = 0; i < SC_THREADS; i++) {
		pthread_join(t[i], NULL);
		if (w[i].failures)
			fail_msg("thread %d: %d failures, last %s", i, w[i].failures, w[i].err);
	}
	for (int i = 0; i < SC_THREADS; i++) {
		for (int k = 0; k < SC_PUTS; k++) {
			char rel[64], val[64];
			snprintf(rel, sizeof(rel), "conc/t%d/k%d", i, k);
			snprintf(val, sizeof(val), "thread %d put %d", i, k);
			sc_expect_content(rel, val, strlen(val));
		}
	}
	if (sc_s3rver)
		return;
	/* After the race, the shared object is one writer's whole value. */
	struct buf b = BUF_INIT;
	assert_int_equal(objstore_get(sc_os, sc_key("conc/shared"), &b), 0);
	assert_true(b.n > 0);
	int who = b.p[0] - 'a';
	assert_true(who >= 0 && who < SC_THREADS);
	uint8_t v[8000];
	size_t n;
	sc_shared_value(who, v, &n);
	assert_int_equal(b.n, n);
	assert_memory_equal(b.p, v, n);
	buf_release(&b);
}

#endif

#include "testutil.h"

#include "util/arena.h"
#include "util/buf.h"
#include "util/crc32c.h"
#include "util/gzip.h"
#include "util/utf8.h"

static void test_crc32c_known_vectors(void **state)
{
	(void)state;
	/* RFC 3720 B.4 test vectors. */
	uint8_t zeros[32] = {0};
	assert_int_equal(crc32c(0, zeros, 32), 0x8a9136aa);
	uint8_t ones[32];
	memset(ones, 0xff, 32);
	assert_int_equal(crc32c(0, ones, 32), 0x62a8ab43);
	assert_int_equal(crc32c(0, "123456789", 9), 0xe3069283);
	/* Incremental equals one shot. */
	assert_int_equal(crc32c(crc32c(0, "1234", 4), "56789", 5), 0xe3069283);
}

static void test_utf8(void **state)
{
	(void)state;
	assert_true(utf8_valid("hello", 5));
	assert_true(utf8_valid("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x94\xa5", 15));
	assert_false(utf8_valid("\xc0\xaf", 2));         /* overlong */
	assert_false(utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
	assert_false(utf8_valid("abc\xe2\x82", 5));      /* truncated */
	assert_false(utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	assert_false(utf8_valid("abcdefgh\xff", 9));
}

static void test_buf_json_string(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	buf_append_json_string(&b, "a\"b\\c\n\x01\xff", 8);
	assert_string_equal(buf_cstr(&b), "\"a\\\"b\\\\c\\n\\u0001\xef\xbf\xbd\"");
	buf_release(&b);
	buf_append_uvarint(&b, 300);
	assert_int_equal(b.n, 2);
	assert_int_equal(b.p[0], 0xac);
	assert_int_equal(b.p[1], 0x02);
	buf_release(&b);
}

static void test_arena_limit(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a, 1000);
	assert_non_null(arena_try_alloc(&a, 500));
	assert_null(arena_try_alloc(&a, 600));
	char *s = arena_printf(&a, "x=%d", 42);
	assert_string_equal(s, "x=42");
	arena_release(&a);
	arena_init(&a, 0);
	void *big = arena_try_alloc(&a, 1 << 20);
	assert_non_null(big);
	memset(big, 1, 1 << 20);
	arena_release(&a);
}

static void test_gzip_roundtrip_and_bomb(void **state)
{
	(void)state;
	size_t n = 1 << 20;
	uint8_t *zeros = calloc(1, n);
	struct buf gz = BUF_INIT, out = BUF_INIT;
	gzip_deflate(slice_make(zeros, n), 6, &gz);
	assert_true(gzip_is_gzip(slice_make(gz.p, gz.n)));
	assert_true(gz.n < n / 100);
	assert_int_equal(gzip_inflate(slice_make(gz.p, gz.n), n, &out), 0);
	assert_int_equal(out.n, n);
	assert_memory_equal(out.p, zeros, n);
	buf_release(&out);
	/* A cap below the real size is refused, and nothing is left in out. */
	assert_int_equal(gzip_inflate(slice_make(gz.p, gz.n), n - 1, &out), EMBER_ETOOBIG);
	assert_int_equal(out.n, 0);
	/* Truncated input is corrupt, not a crash. */
	assert_int_equal(gzip_inflate(slice_make(gz.p, gz.n - 5), n, &out), EMBER_EINVAL);
	/* Two members concatenate. */
	struct buf two = BUF_INIT;
	buf_append(&two, gz.p, gz.n);
	buf_append(&two, gz.p, gz.n);
	assert_int_equal(gzip_inflate(slice_make(two.p, two.n), 2 * n, &out), 0);
	assert_int_equal(out.n, 2 * n);
	buf_release(&two);
	buf_release(&out);
	buf_release(&gz);
	free(zeros);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_known_vectors),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_buf_json_string),
		cmocka_unit_test(test_arena_limit),
		cmocka_unit_test(test_gzip_roundtrip_and_bomb),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

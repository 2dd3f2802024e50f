#include <unistd.h>

#include "testutil.h"

#include "util/sha256.h"

/* FIPS 180-2 appendix B test vectors. */
static void test_sha256_vectors(void **state)
{
	(void)state;
	char hex[SHA256_HEX_LEN + 1];
	sha256_hex("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sha256_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	sha256_hex(m, strlen(m), hex);
	assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	/* One million 'a', fed in uneven pieces to exercise the partial-block path. */
	struct sha256 s;
	sha256_init(&s);
	char a[997];
	memset(a, 'a', sizeof(a));
	size_t left = 1000000;
	for (size_t step = 1; left; step = step % 990 + 7) {
		size_t k = EMBER_MIN(step, left);
		sha256_update(&s, a, k);
		left -= k;
	}
	uint8_t d[SHA256_LEN];
	sha256_final(&s, d);
	sha256_to_hex(d, hex);
	assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Lengths around the 55/56/64-byte padding boundaries, against coreutils' sha256sum. */
static void test_sha256_vs_sha256sum(void **state)
{
	(void)state;
	static const size_t lens[] = {1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 65537};
	uint8_t *data = malloc(65537);
	uint32_t x = 12345;
	for (size_t i = 0; i < 65537; i++) {
		x = x * 1103515245u + 12345u;
		data[i] = (uint8_t)(x >> 16);
	}
	for (size_t i = 0; i < EMBER_ARRAY_LEN(lens); i++) {
		char path[] = "/tmp/ember-sha256-XXXXXX";
		int fd = mkstemp(path);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, data, lens[i]), (ssize_t)lens[i]);
		close(fd);
		char cmd[128], want[80] = "";
		snprintf(cmd, sizeof(cmd), "sha256sum %s", path);
		FILE *p = popen(cmd, "r");
		assert_non_null(p);
		assert_non_null(fgets(want, sizeof(want), p));
		pclose(p);
		unlink(path);
		want[64] = '\0';
		char hex[SHA256_HEX_LEN + 1];
		sha256_hex(data, lens[i], hex);
		assert_string_equal(hex, want);
	}
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_sha256_vs_sha256sum),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

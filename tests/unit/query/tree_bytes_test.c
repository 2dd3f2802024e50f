#include "testutil.h"

#include "query/tree_bytes.h"

static void tree_from(struct ftree *t, const char *const *paths, const int64_t *v, size_t n)
{
	ftree_init(t);
	for (size_t i = 0; i < n; i++) {
		struct slice names[16];
		size_t k = 0;
		const char *p = paths[i];
		while (*p) {
			const char *e = strchr(p, ';');
			size_t len = e ? (size_t)(e - p) : strlen(p);
			names[k++] = slice_make(p, len);
			p += len + (e ? 1 : 0);
		}
		ftree_add_path(t, names, k, v[i]);
	}
	ftree_finish(t);
}

static uint32_t child(const struct ftree *t, uint32_t parent, const char *name)
{
	for (uint32_t c = t->nodes[parent].first_child; c; c = t->nodes[c].next_sibling)
		if (slice_eq_cstr(ftree_name(t, c), name))
			return c;
	fail_msg("no child %s", name);
	return 0;
}

/* §2.5: pre-order from a virtual root "", uvarint(len) name uvarint(self)
 * uvarint(nchildren), children in reverse name order. Bytes worked out by hand. */
static void test_exact_bytes(void **state)
{
	(void)state;
	const char *p[] = {"a;b", "a;c"};
	int64_t v[] = {3, 300};
	struct ftree t;
	tree_from(&t, p, v, 2);
	struct buf b = BUF_INIT;
	tree_bytes_write(&t, 0, &b);
	static const uint8_t want[] = {0x00, 0x00, 0x01,             /* virtual root: "", self 0, 1 child */
				       0x01, 'a', 0x00, 0x02,        /* a */
				       0x01, 'c', 0xac, 0x02, 0x00,  /* c first: 300 = 0xac 0x02 */
				       0x01, 'b', 0x03, 0x00};       /* then b */
	assert_int_equal(b.n, sizeof(want));
	assert_memory_equal(b.p, want, sizeof(want));
	buf_release(&b);
	ftree_release(&t);

	/* An empty tree is no bytes. */
	ftree_init(&t);
	ftree_finish(&t);
	tree_bytes_write(&t, 0, &b);
	assert_int_equal(b.n, 0);
	buf_release(&b);
	ftree_release(&t);
}

/* Pyroscope's Test_Tree_MarshalUnmarshal "truncation": max_nodes 3 over nine stacks gives
 * a;b;other 3, a;other 2, a1;other 4. */
static void test_truncation_roundtrip(void **state)
{
	(void)state;
	const char *p[] = {"a;b;c", "a;b;c", "a;b;c1", "a;b1;c", "a;b1;c1", "a1;b;c", "a1;b;c1", "a1;b1;c", "a1;b1;c1"};
	int64_t v[] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
	struct ftree t, d;
	tree_from(&t, p, v, 9);
	struct buf b = BUF_INIT;
	tree_bytes_write(&t, 3, &b);
	ftree_init(&d);
	char err[100];
	assert_int_equal(tree_bytes_decode(slice_make(b.p, b.n), &d, 100, err, sizeof(err)), 0);
	ftree_finish(&d);
	assert_int_equal(d.nodes[0].total, 9);
	assert_int_equal(d.n, 7); /* root, a, b, other, other, a1, other */
	uint32_t a = child(&d, 0, "a"), a1 = child(&d, 0, "a1");
	assert_int_equal(d.nodes[child(&d, child(&d, a, "b"), "other")].self, 3);
	assert_int_equal(d.nodes[child(&d, a, "other")].self, 2);
	assert_int_equal(d.nodes[child(&d, a1, "other")].self, 4);
	ftree_release(&d);

	/* Without a cut the decoded tree is the original. */
	buf_release(&b);
	tree_bytes_write(&t, 0, &b);
	ftree_init(&d);
	assert_int_equal(tree_bytes_decode(slice_make(b.p, b.n), &d, 100, err, sizeof(err)), 0);
	ftree_finish(&d);
	assert_int_equal(d.n, t.n);
	assert_int_equal(d.nodes[child(&d, child(&d, child(&d, 0, "a1"), "b1"), "c1")].self, 1);
	assert_int_equal(d.nodes[child(&d, child(&d, child(&d, 0, "a"), "b"), "c")].self, 2);
	ftree_release(&d);
	buf_release(&b);
	ftree_release(&t);
}

/* A real "other" child stays (whatever its total) and absorbs what is cut next to it. */
static void test_real_other_absorbs(void **state)
{
	(void)state;
	const char *p[] = {"m;other;x", "m;big", "m;small"};
	int64_t v[] = {1, 10, 2};
	struct ftree t, d;
	tree_from(&t, p, v, 3);
	struct buf b = BUF_INIT;
	tree_bytes_write(&t, 2, &b); /* keeps m (13) and big (10) */
	ftree_init(&d);
	char err[100];
	assert_int_equal(tree_bytes_decode(slice_make(b.p, b.n), &d, 100, err, sizeof(err)), 0);
	ftree_finish(&d);
	uint32_t m = child(&d, 0, "m"), o = child(&d, m, "other");
	assert_int_equal(d.nodes[o].self, 2);
	/* The real other stays; its own child x (1) is cut in turn, into other;other. */
	assert_int_equal(d.nodes[child(&d, o, "other")].self, 1);
	assert_int_equal(d.nodes[0].total, 13);
	ftree_release(&d);
	buf_release(&b);
	ftree_release(&t);
}

static void test_decode_malformed(void **state)
{
	(void)state;
	char err[100];
	struct ftree d;
	static const uint8_t bad1[] = {0x05, 'a'};                   /* name past the end */
	static const uint8_t bad2[] = {0x00, 0x00, 0x02, 0x01, 'a', 0x00, 0x00}; /* 2 children, 1 given */
	static const uint8_t bad3[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x00};      /* two roots */
	static const uint8_t bad4[] = {0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
	const struct slice cases[] = {slice_make(bad1, sizeof(bad1)), slice_make(bad2, sizeof(bad2)),
				      slice_make(bad3, sizeof(bad3)), slice_make(bad4, sizeof(bad4))};
	for (size_t i = 0; i < EMBER_ARRAY_LEN(cases); i++) {
		ftree_init(&d);
		assert_int_equal(tree_bytes_decode(cases[i], &d, 100, err, sizeof(err)), EMBER_EINVAL);
		assert_non_null(strstr(err, "malformed tree bytes"));
		ftree_release(&d);
	}
	/* Depth cap. */
	uint8_t deep[3 * 50 + 3];
	size_t n = 0;
	for (int i = 0; i < 50; i++) {
		deep[n++] = 0;
		deep[n++] = 0;
		deep[n++] = 1;
	}
	deep[n++] = 0;
	deep[n++] = 1;
	deep[n++] = 0;
	ftree_init(&d);
	assert_int_equal(tree_bytes_decode(slice_make(deep, n), &d, 10, err, sizeof(err)), EMBER_EINVAL);
	ftree_release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_bytes),
		cmocka_unit_test(test_truncation_roundtrip),
		cmocka_unit_test(test_real_other_absorbs),
		cmocka_unit_test(test_decode_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

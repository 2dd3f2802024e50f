/* Unit tests of pull mode's cumulative -> delta conversion (scrape_delta_*, scrape.h):
 * profiles are built with the pprof builder, the delta comes back gzipped and is decoded
 * and checked value by value. The expected numbers are the hand-computed differences of
 * the inputs. */
#include "testutil.h"

#include "agent/scrape.h"
#include "pprof/pprof.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/gzip.h"

/* One input sample: stack leaf first, values in sample-type order, up to two labels
 * (string label when lv is set, else numeric ln). */
struct ts {
	const char *stack[3];
	int64_t v[4];
	const char *lk, *lv;
	int64_t ln;
	const char *lk2, *lv2;
};

static uint64_t addr_of(const char *fn)
{
	static const char *const names[] = {"main", "alloc", "grow", "lock", "serve", "parse"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(fn, names[i]))
			return 0x401000 + 0x100 * i;
	fail_msg("unknown function %s", fn);
	return 0;
}

static void add_label(struct pprof_builder *b, struct pprof_label *l, size_t *n, const char *k, const char *v,
		      int64_t num)
{
	if (!k)
		return;
	l[*n] = (struct pprof_label){.key = pprof_builder_cstr(b, k)};
	if (v)
		l[*n].str = pprof_builder_cstr(b, v);
	else {
		l[*n].num = num;
		l[*n].num_unit = pprof_builder_cstr(b, "bytes");
	}
	(*n)++;
}

static int64_t build_time_nanos; /* time_nanos of the next built profile */

/* Encodes a profile of types[0..nt) holding s[0..ns). pad adds unused functions and
 * locations first, so that ids differ from a profile built without it; gz gzips it. */
static void build(struct buf *out, const char *const *types, size_t nt, const struct ts *s, size_t ns, bool pad,
		  bool gz)
{
	struct pprof_builder b;
	pprof_builder_init(&b);
	for (size_t t = 0; t < nt; t++)
		pprof_builder_sample_type(&b, types[t], strstr(types[t], "space") || strstr(types[t], "delay") ? "bytes" : "count");
	uint64_t m = pprof_builder_mapping(&b, 0x400000, 0x500000, "/bin/app");
	if (pad)
		for (int i = 0; i < 3; i++) {
			struct pprof_line ln = {pprof_builder_function(&b, "unused", "pad.go", 1), 7};
			(void)pprof_builder_location(&b, m, 0x9000 + (uint64_t)i, &ln, 1);
		}
	for (size_t i = 0; i < ns; i++) {
		uint64_t locs[3];
		size_t nl = 0;
		for (; nl < 3 && s[i].stack[nl]; nl++) {
			struct pprof_line ln = {pprof_builder_function(&b, s[i].stack[nl], "app.go", 1), 10};
			locs[nl] = pprof_builder_location(&b, m, addr_of(s[i].stack[nl]), &ln, 1);
		}
		struct pprof_label l[2];
		size_t n = 0;
		add_label(&b, l, &n, s[i].lk, s[i].lv, s[i].ln);
		add_label(&b, l, &n, s[i].lk2, s[i].lv2, 0);
		pprof_builder_sample(&b, locs, nl, s[i].v, nt, l, n);
	}
	struct pprof_profile *p = pprof_builder_profile(&b);
	p->period = 1;
	p->time_nanos = build_time_nanos;
	struct buf raw = BUF_INIT;
	pprof_encode(p, &raw);
	out->n = 0;
	if (gz)
		gzip_deflate(slice_make(raw.p, raw.n), 6, out);
	else
		buf_append(out, raw.p, raw.n);
	buf_release(&raw);
	pprof_builder_release(&b);
}

/* A decoded delta profile. */
struct dec {
	struct arena a;
	struct buf raw;
	struct pprof_profile p;
};

static void decode(struct dec *d, const struct buf *gz)
{
	arena_init(&d->a, 0);
	d->raw = (struct buf)BUF_INIT;
	assert_true(gzip_is_gzip(slice_make(gz->p, gz->n)));
	assert_int_equal(gzip_inflate(slice_make(gz->p, gz->n), 1 << 24, &d->raw), 0);
	char err[256];
	assert_int_equal(pprof_decode(slice_make(d->raw.p, d->raw.n), &d->a, NULL, &d->p, err, sizeof(err)), 0);
}

static void dec_release(struct dec *d)
{
	buf_release(&d->raw);
	arena_release(&d->a);
}

static bool sl_is(struct slice s, const char *c)
{
	return s.n == strlen(c) && memcmp(s.p, c, s.n) == 0;
}

/* The sample whose leaf is `leaf` and (when lv is set) has a label with string lv, or
 * (when ln >= 0) a numeric label ln; fails on none or several. */
static const struct pprof_sample *find(const struct dec *d, const char *leaf, const char *lv, int64_t ln)
{
	const struct pprof_profile *p = &d->p;
	const struct pprof_sample *hit = NULL;
	for (size_t i = 0; i < p->n_samples; i++) {
		const struct pprof_sample *s = &p->samples[i];
		assert_true(s->n_location_ids > 0);
		const struct pprof_location *loc = pprof_location_by_id(p, s->location_ids[0]);
		assert_non_null(loc);
		const struct pprof_function *f = pprof_function_by_id(p, loc->lines[0].function_id);
		if (!f || !sl_is(pprof_string(p, f->name), leaf))
			continue;
		bool ok = !lv && ln < 0;
		for (size_t j = 0; j < s->n_labels; j++)
			if ((lv && sl_is(pprof_string(p, s->labels[j].str), lv)) ||
			    (ln >= 0 && s->labels[j].num == ln))
				ok = true;
		if (!ok)
			continue;
		if (hit)
			fail_msg("two samples with leaf %s", leaf);
		hit = s;
	}
	if (!hit)
		fail_msg("no sample with leaf %s label %s/%lld", leaf, lv ? lv : "-", (long long)ln);
	return hit;
}

static void assert_values(const struct pprof_sample *s, const int64_t *want, size_t n)
{
	assert_int_equal(s->n_values, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(s->values[i], want[i]);
}

static const char *const heap_types[] = {"alloc_objects", "alloc_space", "inuse_objects", "inuse_space"};
static const char *const mutex_types[] = {"contentions", "delay"};

/* Applies in to d; returns send and leaves the delta in out. */
static bool apply(struct scrape_delta *d, const struct buf *in, bool all_cum, struct buf *out)
{
	bool send = true;
	out->n = 0;
	assert_int_equal(scrape_delta_apply(d, slice_make(in->p, in->n), all_cum, out, &send), 0);
	if (!send)
		assert_int_equal(out->n, 0);
	return send;
}

static void test_heap_alloc_delta_inuse_passthrough(void **state)
{
	(void)state;
	struct scrape_delta *d = scrape_delta_new();
	struct buf in = BUF_INIT, out = BUF_INIT;
	const struct ts p1[] = {
		{.stack = {"alloc", "main"}, .v = {10, 1000, 2, 200}},
		{.stack = {"grow", "main"}, .v = {5, 500, 1, 100}},
		{.stack = {"parse", "main"}, .v = {3, 300, 3, 300}},
	};
	build(&in, heap_types, 4, p1, 3, false, true);
	assert_false(apply(d, &in, false, &out)); /* first profile: nothing */

	const struct ts p2[] = {
		{.stack = {"alloc", "main"}, .v = {15, 1600, 3, 300}},
		{.stack = {"grow", "main"}, .v = {5, 500, 0, 0}},    /* unchanged, freed: all zero */
		{.stack = {"parse", "main"}, .v = {3, 300, 1, 100}}, /* no new allocs, still in use */
		{.stack = {"serve", "main"}, .v = {4, 400, 4, 400}}, /* new stack: full values */
	};
	build(&in, heap_types, 4, p2, 4, true, true); /* other ids, same stacks */
	assert_true(apply(d, &in, false, &out));
	struct dec x;
	decode(&x, &out);
	assert_int_equal(x.p.n_sample_types, 4);
	assert_int_equal(x.p.n_samples, 3); /* grow dropped */
	assert_values(find(&x, "alloc", NULL, -1), (const int64_t[]){5, 600, 3, 300}, 4);
	assert_values(find(&x, "parse", NULL, -1), (const int64_t[]){0, 0, 1, 100}, 4);
	assert_values(find(&x, "serve", NULL, -1), (const int64_t[]){4, 400, 4, 400}, 4);
	/* the caller's stack survived the rebuild */
	const struct pprof_sample *s = find(&x, "alloc", NULL, -1);
	assert_int_equal(s->n_location_ids, 2);
	const struct pprof_location *l1 = pprof_location_by_id(&x.p, s->location_ids[1]);
	assert_int_equal(l1->address, addr_of("main"));
	dec_release(&x);

	/* Third profile: the delta is against the second, not the first. Plain (not gzipped)
	 * input is accepted too. */
	const struct ts p3[] = {
		{.stack = {"alloc", "main"}, .v = {16, 1700, 3, 300}},
		{.stack = {"serve", "main"}, .v = {4, 400, 4, 400}},
	};
	build(&in, heap_types, 4, p3, 2, false, false);
	assert_true(apply(d, &in, false, &out));
	decode(&x, &out);
	assert_int_equal(x.p.n_samples, 2);
	assert_values(find(&x, "alloc", NULL, -1), (const int64_t[]){1, 100, 3, 300}, 4);
	assert_values(find(&x, "serve", NULL, -1), (const int64_t[]){0, 0, 4, 400}, 4);
	dec_release(&x);
	buf_release(&in);
	buf_release(&out);
	scrape_delta_free(d);
}

static void test_mutex_all_cumulative_and_repeats(void **state)
{
	(void)state;
	struct scrape_delta *d = scrape_delta_new();
	struct buf in = BUF_INIT, out = BUF_INIT;
	/* Go may repeat a stack: the repeats are one sample. */
	const struct ts p1[] = {
		{.stack = {"lock", "serve"}, .v = {3, 300}},
		{.stack = {"lock", "serve"}, .v = {4, 400}},
		{.stack = {"lock", "main"}, .v = {1, 50}},
	};
	build(&in, mutex_types, 2, p1, 3, false, true);
	assert_false(apply(d, &in, true, &out));
	const struct ts p2[] = {
		{.stack = {"lock", "serve"}, .v = {10, 1000}},
		{.stack = {"lock", "main"}, .v = {1, 50}},
	};
	build(&in, mutex_types, 2, p2, 2, false, true);
	assert_true(apply(d, &in, true, &out));
	struct dec x;
	decode(&x, &out);
	assert_int_equal(x.p.n_samples, 1); /* lock<-main did not change */
	const struct pprof_sample *s = &x.p.samples[0];
	assert_values(s, (const int64_t[]){3, 300}, 2); /* 10-(3+4), 1000-(300+400) */
	dec_release(&x);

	/* Repeats in the newer profile: their sum is compared, the delta sent once. */
	const struct ts p3[] = {
		{.stack = {"lock", "serve"}, .v = {6, 600}},
		{.stack = {"lock", "serve"}, .v = {6, 600}},
	};
	build(&in, mutex_types, 2, p3, 2, false, true);
	assert_true(apply(d, &in, true, &out));
	decode(&x, &out);
	int64_t c = 0, dl = 0;
	for (size_t i = 0; i < x.p.n_samples; i++) {
		c += x.p.samples[i].values[0];
		dl += x.p.samples[i].values[1];
	}
	assert_int_equal(x.p.n_samples, 1);
	assert_int_equal(c, 2);
	assert_int_equal(dl, 200);
	dec_release(&x);
	buf_release(&in);
	buf_release(&out);
	scrape_delta_free(d);
}

static void test_labels_separate_samples(void **state)
{
	(void)state;
	struct scrape_delta *d = scrape_delta_new();
	struct buf in = BUF_INIT, out = BUF_INIT;
	/* Identical stacks, different labels (Go's heap "bytes" label, pprof.Do labels). */
	const struct ts p1[] = {
		{.stack = {"alloc", "main"}, .v = {10, 640, 0, 0}, .lk = "bytes", .ln = 64},
		{.stack = {"alloc", "main"}, .v = {20, 2560, 0, 0}, .lk = "bytes", .ln = 128},
		{.stack = {"lock", "main"}, .v = {1, 1, 0, 0}, .lk = "handler", .lv = "a", .lk2 = "region", .lv2 = "eu"},
	};
	build(&in, heap_types, 4, p1, 3, false, true);
	assert_false(apply(d, &in, false, &out));
	const struct ts p2[] = {
		{.stack = {"alloc", "main"}, .v = {12, 768, 0, 0}, .lk = "bytes", .ln = 64},
		{.stack = {"alloc", "main"}, .v = {25, 3200, 0, 0}, .lk = "bytes", .ln = 128},
		/* same labels in another order: the same sample */
		{.stack = {"lock", "main"}, .v = {3, 3, 0, 0}, .lk = "region", .lv = "eu", .lk2 = "handler", .lv2 = "a"},
		/* a label value never seen: a new sample, sent whole */
		{.stack = {"lock", "main"}, .v = {7, 7, 0, 0}, .lk = "handler", .lv = "b", .lk2 = "region", .lv2 = "eu"},
	};
	build(&in, heap_types, 4, p2, 4, true, true);
	assert_true(apply(d, &in, false, &out));
	struct dec x;
	decode(&x, &out);
	assert_int_equal(x.p.n_samples, 4);
	assert_values(find(&x, "alloc", NULL, 64), (const int64_t[]){2, 128, 0, 0}, 4);
	assert_values(find(&x, "alloc", NULL, 128), (const int64_t[]){5, 640, 0, 0}, 4);
	assert_values(find(&x, "lock", "a", -1), (const int64_t[]){2, 2, 0, 0}, 4);
	assert_values(find(&x, "lock", "b", -1), (const int64_t[]){7, 7, 0, 0}, 4);
	dec_release(&x);
	buf_release(&in);
	buf_release(&out);
	scrape_delta_free(d);
}

static void test_reset_sends_nothing(void **state)
{
	(void)state;
	struct scrape_delta *d = scrape_delta_new();
	struct buf in = BUF_INIT, out = BUF_INIT;
	const struct ts p1[] = {{.stack = {"lock", "main"}, .v = {10, 1000}},
				{.stack = {"lock", "serve"}, .v = {5, 500}}};
	build_time_nanos = 1000000000000;
	build(&in, mutex_types, 2, p1, 2, false, true);
	assert_false(apply(d, &in, true, &out));
	build_time_nanos = 0;
	/* One counter went down (the target restarted), the other up: a reset. */
	const struct ts p2[] = {{.stack = {"lock", "main"}, .v = {4, 2000}},
				{.stack = {"lock", "serve"}, .v = {6, 600}}};
	build(&in, mutex_types, 2, p2, 2, false, true);
	assert_false(apply(d, &in, true, &out));
	/* The reset's values are the new base. */
	const struct ts p3[] = {{.stack = {"lock", "main"}, .v = {7, 2500}},
				{.stack = {"lock", "serve"}, .v = {6, 600}}};
	build_time_nanos = 1015000000000;
	build(&in, mutex_types, 2, p3, 2, false, true);
	build_time_nanos = 0;
	assert_true(apply(d, &in, true, &out));
	struct dec x;
	decode(&x, &out);
	/* p2 had no time: the duration is unknown, not 15 s */
	assert_int_equal(x.p.time_nanos, 1015000000000);
	assert_int_equal(x.p.duration_nanos, 0);
	assert_int_equal(x.p.n_samples, 1);
	assert_values(find(&x, "lock", NULL, -1), (const int64_t[]){3, 500}, 2);
	dec_release(&x);

	/* An inuse value going down is no reset (heap: only alloc_* are cumulative). */
	struct scrape_delta *h = scrape_delta_new();
	const struct ts h1[] = {{.stack = {"alloc", "main"}, .v = {10, 100, 9, 90}}};
	build(&in, heap_types, 4, h1, 1, false, true);
	assert_false(apply(h, &in, false, &out));
	const struct ts h2[] = {{.stack = {"alloc", "main"}, .v = {11, 110, 1, 10}}};
	build(&in, heap_types, 4, h2, 1, false, true);
	assert_true(apply(h, &in, false, &out));
	decode(&x, &out);
	assert_values(find(&x, "alloc", NULL, -1), (const int64_t[]){1, 10, 1, 10}, 4);
	dec_release(&x);
	scrape_delta_free(h);
	buf_release(&in);
	buf_release(&out);
	scrape_delta_free(d);
}

static void test_series_independent(void **state)
{
	(void)state;
	struct scrape_delta *a = scrape_delta_new(), *b = scrape_delta_new();
	struct buf in = BUF_INIT, out = BUF_INIT;
	const struct ts s1[] = {{.stack = {"lock", "main"}, .v = {10, 100}}};
	build_time_nanos = 2000000000000;
	const struct ts s2[] = {{.stack = {"lock", "main"}, .v = {15, 150}}};
	const struct ts s3[] = {{.stack = {"lock", "main"}, .v = {40, 400}}};
	build(&in, mutex_types, 2, s1, 1, false, true);
	assert_false(apply(a, &in, true, &out));
	build(&in, mutex_types, 2, s2, 1, false, true);
	/* b has seen nothing: its first profile sends nothing even though a has history */
	assert_false(apply(b, &in, true, &out));
	build_time_nanos = 2015000000000;
	build(&in, mutex_types, 2, s3, 1, false, true);
	build_time_nanos = 0;
	assert_true(apply(a, &in, true, &out));
	struct dec x;
	decode(&x, &out);
	assert_int_equal(x.p.duration_nanos, 15000000000); /* the two fetches were 15 s apart */
	assert_values(find(&x, "lock", NULL, -1), (const int64_t[]){30, 300}, 2); /* against s1 */
	dec_release(&x);
	assert_true(apply(b, &in, true, &out));
	decode(&x, &out);
	assert_values(find(&x, "lock", NULL, -1), (const int64_t[]){25, 250}, 2); /* against s2 */
	dec_release(&x);
	buf_release(&in);
	buf_release(&out);
	scrape_delta_free(a);
	scrape_delta_free(b);
}

static void test_bad_input(void **state)
{
	(void)state;
	struct scrape_delta *d = scrape_delta_new();
	struct buf out = BUF_INIT;
	bool send = true;
	static const uint8_t junk[] = {0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01};
	assert_true(scrape_delta_apply(d, slice_make(junk, sizeof(junk)), false, &out, &send) < 0);
	assert_false(send);
	static const uint8_t badgz[] = {0x1f, 0x8b, 0x08, 0x00, 0x01};
	assert_true(scrape_delta_apply(d, slice_make(badgz, sizeof(badgz)), false, &out, &send) < 0);
	assert_false(send);
	assert_int_equal(out.n, 0);
	buf_release(&out);
	scrape_delta_free(d);
	scrape_delta_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_heap_alloc_delta_inuse_passthrough),
		cmocka_unit_test(test_mutex_all_cumulative_and_repeats),
		cmocka_unit_test(test_labels_separate_samples),
		cmocka_unit_test(test_reset_sends_nothing),
		cmocka_unit_test(test_series_independent),
		cmocka_unit_test(test_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

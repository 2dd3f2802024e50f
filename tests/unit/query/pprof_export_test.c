#include "testutil.h"

#include "query_testlib.h"

#include "query/callsite.h"
#include "query/pprof_export.h"


static const char *TYPE = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
#define MS 1000000LL

static void add(struct head *h, const char *service, const struct pprof_profile *p, int64_t t)
{
	head_add(h, "t", service, p, t);
}

/* Service "api": main -> work -> (spin inlined into hot) 30; main -> work 5;
 * main -> 0x4000 in libfoo.so (no symbols) 7. */
static struct pprof_profile *build_api(struct pprof_builder *b)
{
	pprof_builder_init(b);
	pprof_builder_sample_type(b, "cpu", "nanoseconds");
	uint64_t fmain = pprof_builder_function(b, "main", "m.c", 1);
	uint64_t fwork = pprof_builder_function(b, "work", "m.c", 5);
	uint64_t fhot = pprof_builder_function(b, "hot", "m.c", 9);
	uint64_t fspin = pprof_builder_function(b, "spin", "m.c", 20);
	uint64_t map = pprof_builder_mapping(b, 0x1000, 0x9000, "/usr/lib/libfoo.so");
	b->prof.mappings[map - 1].build_id = pprof_builder_cstr(b, "bid1");
	b->prof.mappings[map - 1].file_offset = 0x200;
	struct pprof_line lmain = {fmain, 2}, lwork = {fwork, 6};
	struct pprof_line inl[2] = {{fspin, 21}, {fhot, 10}}; /* innermost first */
	uint64_t a = pprof_builder_location(b, 0, 0, &lmain, 1);
	uint64_t c = pprof_builder_location(b, 0, 0, &lwork, 1);
	uint64_t d = pprof_builder_location(b, 0, 0, inl, 2);
	uint64_t e = pprof_builder_location(b, map, 0x4000, NULL, 0);
	uint64_t s1[3] = {d, c, a}, s2[2] = {c, a}, s3[2] = {e, a};
	int64_t v1 = 30, v2 = 5, v3 = 7;
	pprof_builder_sample(b, s1, 3, &v1, 1, NULL, 0);
	pprof_builder_sample(b, s2, 2, &v2, 1, NULL, 0);
	pprof_builder_sample(b, s3, 2, &v3, 1, NULL, 0);
	return pprof_builder_profile(b);
}

/* Service "db", its own symbol partition with other ids for the same code:
 * main -> query 11; main -> work 4 (the same main and work as "api"). */
static struct pprof_profile *build_db(struct pprof_builder *b)
{
	pprof_builder_init(b);
	pprof_builder_sample_type(b, "cpu", "nanoseconds");
	uint64_t fq = pprof_builder_function(b, "query", "q.c", 3);
	uint64_t fwork = pprof_builder_function(b, "work", "m.c", 5);
	uint64_t fmain = pprof_builder_function(b, "main", "m.c", 1);
	struct pprof_line lq = {fq, 4}, lwork = {fwork, 6}, lmain = {fmain, 2};
	uint64_t q = pprof_builder_location(b, 0, 0, &lq, 1);
	uint64_t w = pprof_builder_location(b, 0, 0, &lwork, 1);
	uint64_t m = pprof_builder_location(b, 0, 0, &lmain, 1);
	uint64_t s1[2] = {q, m}, s2[2] = {w, m};
	int64_t v1 = 11, v2 = 4;
	pprof_builder_sample(b, s1, 2, &v1, 1, NULL, 0);
	pprof_builder_sample(b, s2, 2, &v2, 1, NULL, 0);
	return pprof_builder_profile(b);
}

struct fixture {
	struct head *h;
	struct pprof_builder a, b;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct head_limits lim = {.max_stack_depth = 1000};
	f->h = head_new(&lim);
	add(f->h, "api", build_api(&f->a), 100);
	add(f->h, "db", build_db(&f->b), 200);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	pprof_builder_release(&f->a);
	pprof_builder_release(&f->b);
	head_free(f->h);
	free(f);
	return 0;
}

/* The decoded export, with its stacks rendered root first as "main;work;hot;spin". */
struct decoded {
	struct arena arena;
	struct buf bytes;
	struct pprof_profile p;
	char stacks[16][200];
	int64_t values[16];
	size_t n;
};

static void decode(struct decoded *d)
{
	char err[200];
	arena_init(&d->arena, 0);
	assert_int_equal(pprof_decode(slice_make(d->bytes.p, d->bytes.n), &d->arena, NULL, &d->p, err, sizeof(err)), 0);
	if (pprof_validate(&d->p, err, sizeof(err)))
		fail_msg("invalid export: %s", err);
	assert_true(d->p.n_samples <= 16);
	d->n = d->p.n_samples;
	for (size_t i = 0; i < d->p.n_samples; i++) {
		const struct pprof_sample *s = &d->p.samples[i];
		assert_int_equal(s->n_values, 1);
		assert_int_equal(s->n_labels, 0);
		d->values[i] = s->values[0];
		struct buf b = BUF_INIT;
		for (size_t k = s->n_location_ids; k > 0; k--) {
			const struct pprof_location *l = pprof_location_by_id(&d->p, s->location_ids[k - 1]);
			assert_non_null(l);
			if (!l->n_lines) {
				const struct pprof_mapping *m = pprof_mapping_by_id(&d->p, l->mapping_id);
				assert_non_null(m);
				struct slice file = pprof_string(&d->p, m->filename);
				buf_printf(&b, "%s0x%llx@%.*s", b.n ? ";" : "", (unsigned long long)l->address, (int)file.n,
					   (const char *)file.p);
			}
			for (size_t j = l->n_lines; j > 0; j--) {
				const struct pprof_function *fn = pprof_function_by_id(&d->p, l->lines[j - 1].function_id);
				assert_non_null(fn);
				struct slice name = pprof_string(&d->p, fn->name);
				buf_printf(&b, "%s%.*s", b.n ? ";" : "", (int)name.n, (const char *)name.p);
			}
		}
		assert_true(b.n < sizeof(d->stacks[i]));
		memcpy(d->stacks[i], b.p, b.n);
		d->stacks[i][b.n] = 0;
		buf_release(&b);
	}
}

static void release(struct decoded *d)
{
	arena_release(&d->arena);
	buf_release(&d->bytes);
}

static int64_t value_of(const struct decoded *d, const char *stack)
{
	int64_t v = -1;
	for (size_t i = 0; i < d->n; i++) {
		if (strcmp(d->stacks[i], stack) == 0) {
			if (v != -1)
				fail_msg("stack %s appears twice", stack);
			v = d->values[i];
		}
	}
	if (v == -1)
		fail_msg("no stack %s", stack);
	return v;
}

static const struct pprof_function *function_named(const struct pprof_profile *p, const char *name)
{
	const struct pprof_function *found = NULL;
	for (size_t i = 0; i < p->n_functions; i++) {
		if (slice_eq_cstr(pprof_string(p, p->functions[i].name), name)) {
			assert_null(found); /* de-duplicated across partitions */
			found = &p->functions[i];
		}
	}
	assert_non_null(found);
	return found;
}

static void test_two_partitions(void **state)
{
	struct fixture *f = *state;
	struct slice tenants[] = {slice_cstr("t")};
	struct merge_request req = {TYPE, "{}", 0, 5 * MS + 7, tenants, 1};
	struct decoded d = {.bytes = BUF_INIT};
	char err[200];
	assert_int_equal(query_pprof_export(rd_of(f->h), &req, 0, &d.bytes, err, sizeof(err)), 0);
	decode(&d);
	const struct pprof_profile *p = &d.p;

	/* Metadata from the profile type (Pyroscope's SetProfileMetadata). */
	assert_int_equal(p->n_sample_types, 1);
	assert_true(slice_eq_cstr(pprof_string(p, p->sample_types[0].type), "cpu"));
	assert_true(slice_eq_cstr(pprof_string(p, p->sample_types[0].unit), "nanoseconds"));
	assert_true(slice_eq_cstr(pprof_string(p, p->default_sample_type), "cpu"));
	assert_true(slice_eq_cstr(pprof_string(p, p->period_type.type), "cpu"));
	assert_true(slice_eq_cstr(pprof_string(p, p->period_type.unit), "nanoseconds"));
	assert_int_equal(p->period, 1000000000);
	assert_int_equal(p->time_nanos, 5 * MS);
	assert_int_equal(p->duration_nanos, 5 * MS);

	/* Stacks: "main;work" from both services is one sample (5 + 4). */
	assert_int_equal(d.n, 4);
	assert_int_equal(value_of(&d, "main;work;hot;spin"), 30);
	assert_int_equal(value_of(&d, "main;work"), 9);
	assert_int_equal(value_of(&d, "main;0x4000@/usr/lib/libfoo.so"), 7);
	assert_int_equal(value_of(&d, "main;query"), 11);

	/* One id space: main and work once, five functions, five locations, one mapping. */
	assert_int_equal(p->n_functions, 5);
	assert_int_equal(p->n_locations, 5);
	assert_int_equal(p->n_mappings, 1);
	const struct pprof_function *fmain = function_named(p, "main");
	assert_true(slice_eq_cstr(pprof_string(p, fmain->filename), "m.c"));
	assert_int_equal(fmain->start_line, 1);
	const struct pprof_function *fq = function_named(p, "query");
	assert_true(slice_eq_cstr(pprof_string(p, fq->filename), "q.c"));
	assert_int_equal(fq->start_line, 3);
	const struct pprof_function *fspin = function_named(p, "spin"), *fhot = function_named(p, "hot");
	assert_int_equal(fspin->start_line, 20);
	/* The inlined location keeps its two lines, innermost first, with their numbers. */
	bool seen_inline = false;
	for (size_t i = 0; i < p->n_locations; i++) {
		const struct pprof_location *l = &p->locations[i];
		if (l->n_lines == 2) {
			assert_int_equal(l->lines[0].function_id, fspin->id);
			assert_int_equal(l->lines[0].line, 21);
			assert_int_equal(l->lines[1].function_id, fhot->id);
			assert_int_equal(l->lines[1].line, 10);
			assert_int_equal(l->mapping_id, 0);
			seen_inline = true;
		}
		if (l->n_lines == 1 && l->lines[0].function_id == fq->id)
			assert_int_equal(l->lines[0].line, 4);
		if (l->n_lines == 0) {
			assert_int_equal(l->address, 0x4000);
			assert_int_equal(l->mapping_id, p->mappings[0].id);
		}
	}
	assert_true(seen_inline);
	const struct pprof_mapping *m = &p->mappings[0];
	assert_int_equal(m->memory_start, 0x1000);
	assert_int_equal(m->memory_limit, 0x9000);
	assert_int_equal(m->file_offset, 0x200);
	assert_true(slice_eq_cstr(pprof_string(p, m->filename), "/usr/lib/libfoo.so"));
	assert_true(slice_eq_cstr(pprof_string(p, m->build_id), "bid1"));
	release(&d);

	/* One service only: its own stacks. */
	req.label_selector = "{service_name=\"db\"}";
	d = (struct decoded){.bytes = BUF_INIT};
	assert_int_equal(query_pprof_export(rd_of(f->h), &req, 0, &d.bytes, err, sizeof(err)), 0);
	decode(&d);
	assert_int_equal(d.n, 2);
	assert_int_equal(value_of(&d, "main;work"), 4);
	assert_int_equal(value_of(&d, "main;query"), 11);
	assert_int_equal(d.p.n_mappings, 0);
	release(&d);
}

static void test_empty_and_errors(void **state)
{
	struct fixture *f = *state;
	struct slice tenants[] = {slice_cstr("t")};
	struct merge_request req = {"memory:alloc_space:bytes:space:bytes", "{}", 0, 1000, tenants, 1};
	struct decoded d = {.bytes = BUF_INIT};
	char err[200];
	assert_int_equal(query_pprof_export(rd_of(f->h), &req, 0, &d.bytes, err, sizeof(err)), 0);
	decode(&d);
	assert_int_equal(d.n, 0);
	assert_int_equal(d.p.period, 512 * 1024); /* memory */
	assert_true(slice_eq_cstr(pprof_string(&d.p, d.p.sample_types[0].type), "alloc_space"));
	assert_true(slice_eq_cstr(pprof_string(&d.p, d.p.period_type.type), "space"));
	release(&d);

	req.profile_type = "nope";
	assert_int_equal(query_pprof_export(rd_of(f->h), &req, 0, &d.bytes, err, sizeof(err)), EMBER_EINVAL);
	assert_int_equal(d.bytes.n, 0);
	req.profile_type = TYPE;
	req.label_selector = "{service_name=}";
	assert_int_equal(query_pprof_export(rd_of(f->h), &req, 0, &d.bytes, err, sizeof(err)), EMBER_EINVAL);
	assert_int_equal(d.bytes.n, 0);
	buf_release(&d.bytes);
}

/* Function tree of the four stacks (totals): main 57, work 39, hot 30, spin 30, query 11,
 * the libfoo frame 7, plus the root (0 in Pyroscope's tree): 7 nodes. */
static void test_max_nodes(void **state)
{
	struct fixture *f = *state;
	struct slice tenants[] = {slice_cstr("t")};
	struct merge_request req = {TYPE, "{}", 0, 1000, tenants, 1};
	char err[200];
	static const struct {
		size_t max_nodes;
		size_t n;
		const char *stacks[4];
		int64_t values[4];
	} cases[] = {
		{7, 4, {"main;work;hot;spin", "main;work", "main;0x4000@/usr/lib/libfoo.so", "main;query"}, {30, 9, 7, 11}},
		/* Top 4 totals 57, 39, 30, 30: query and libfoo go, their stacks end in other. */
		{4, 3, {"main;work;hot;spin", "main;work", "main;other"}, {30, 9, 18}},
		{3, 3, {"main;work;hot;spin", "main;work", "main;other"}, {30, 9, 18}},
		/* 57, 39: the inlined location (hot, spin) goes as a whole. */
		{2, 3, {"main;work;other", "main;work", "main;other"}, {30, 9, 18}},
		{1, 1, {"main;other"}, {57}},
	};
	for (size_t c = 0; c < EMBER_ARRAY_LEN(cases); c++) {
		struct decoded d = {.bytes = BUF_INIT};
		assert_int_equal(query_pprof_export(rd_of(f->h), &req, cases[c].max_nodes, &d.bytes, err, sizeof(err)), 0);
		decode(&d);
		if (d.n != cases[c].n)
			fail_msg("max_nodes %zu: %zu samples, want %zu", cases[c].max_nodes, d.n, cases[c].n);
		for (size_t i = 0; i < cases[c].n; i++)
			assert_int_equal(value_of(&d, cases[c].stacks[i]), cases[c].values[i]);
		if (cases[c].max_nodes < 7) {
			const struct pprof_function *o = function_named(&d.p, "other");
			assert_true(slice_eq_cstr(pprof_string(&d.p, o->system_name), "other"));
		}
		release(&d);
	}
}

static void test_callsite_and_pieces(void **state)
{
	struct fixture *f = *state;
	struct slice tenants[] = {slice_cstr("t")};
	struct merge_request req = {TYPE, "{}", 0, 1000, tenants, 1};
	char err[200];
	const char *names[] = {"main", "work"};
	struct callsite *cs = callsite_new(names, 2);
	struct pprof_export_opts o = {.callsite = cs, .time_nanos = 123, .duration_nanos = 45};
	struct decoded d = {.bytes = BUF_INIT};
	assert_int_equal(query_pprof_export_opts(rd_of(f->h), &req, &o, &d.bytes, err, sizeof(err)), 0);
	callsite_free(cs);
	decode(&d);
	assert_int_equal(d.n, 2);
	assert_int_equal(value_of(&d, "main;work;hot;spin"), 30);
	assert_int_equal(value_of(&d, "main;work"), 9);
	assert_int_equal(d.p.time_nanos, 123);
	assert_int_equal(d.p.duration_nanos, 45);
	release(&d);

	/* The pieces, driven by hand. */
	struct pprof_export *e;
	assert_int_equal(pprof_export_new("bad", &e, err, sizeof(err)), EMBER_EINVAL);
	assert_null(e);
	assert_int_equal(pprof_export_new(TYPE, &e, err, sizeof(err)), 0);
	struct merge_stats st;
	assert_int_equal(merge_select(rd_of(f->h), &req, pprof_export_consume, e, &st, err, sizeof(err)), 0);
	int64_t total;
	assert_int_equal(pprof_export_samples(e, &total), 4);
	assert_int_equal(total, 57);
	assert_int_equal(st.total, 57);
	d = (struct decoded){.bytes = BUF_INIT};
	pprof_export_encode(e, NULL, &d.bytes);
	pprof_export_free(e);
	pprof_export_free(NULL);
	decode(&d);
	assert_int_equal(d.n, 4);
	assert_int_equal(d.p.time_nanos, 0);
	release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_two_partitions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_and_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_nodes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callsite_and_pieces, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

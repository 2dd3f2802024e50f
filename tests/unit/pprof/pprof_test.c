/* Tests for src/pprof: decoder against protobuf-c on real profiles, independent figures
 * from `go tool pprof -raw`, round trips, hostile inputs, validation, limits. */
#include <glob.h>

#include "testutil.h"

#include "profile.pb-c.h"
#include "pprof/pprof.h"
#include "util/gzip.h"

#define ERRLEN 256

/* Reads and gunzips a test file into raw (caller releases). */
static void load_gz(const char *path, struct buf *raw)
{
	size_t n;
	uint8_t *gz = test_read_file(path, &n);
	buf_init(raw);
	assert_int_equal(gzip_inflate(slice_make(gz, n), 64 << 20, raw), 0);
	free(gz);
}

static void decode_ok(struct slice in, struct arena *a, struct pprof_profile *p)
{
	char err[ERRLEN];
	int rc = pprof_decode(in, a, NULL, p, err, sizeof(err));
	if (rc)
		fail_msg("decode failed (%d): %s", rc, err);
}

static void assert_slice_cstr(struct slice s, const char *c)
{
	assert_int_equal(s.n, strlen(c));
	assert_memory_equal(s.p, c, s.n);
}

/* ---- comparison with protobuf-c ------------------------------------------------------- */

static void compare_with_pbc(const struct pprof_profile *p, const Google__V1__Profile *g)
{
	assert_int_equal(p->n_sample_types, g->n_sample_type);
	for (size_t i = 0; i < g->n_sample_type; i++) {
		assert_int_equal(p->sample_types[i].type, g->sample_type[i]->type);
		assert_int_equal(p->sample_types[i].unit, g->sample_type[i]->unit);
	}
	assert_int_equal(p->n_samples, g->n_sample);
	for (size_t i = 0; i < g->n_sample; i++) {
		const struct pprof_sample *s = &p->samples[i];
		const Google__V1__Sample *gs = g->sample[i];
		assert_int_equal(s->n_location_ids, gs->n_location_id);
		for (size_t j = 0; j < gs->n_location_id; j++)
			assert_int_equal(s->location_ids[j], gs->location_id[j]);
		assert_int_equal(s->n_values, gs->n_value);
		for (size_t j = 0; j < gs->n_value; j++)
			assert_int_equal(s->values[j], gs->value[j]);
		assert_int_equal(s->n_labels, gs->n_label);
		for (size_t j = 0; j < gs->n_label; j++) {
			assert_int_equal(s->labels[j].key, gs->label[j]->key);
			assert_int_equal(s->labels[j].str, gs->label[j]->str);
			assert_int_equal(s->labels[j].num, gs->label[j]->num);
			assert_int_equal(s->labels[j].num_unit, gs->label[j]->num_unit);
		}
	}
	assert_int_equal(p->n_mappings, g->n_mapping);
	for (size_t i = 0; i < g->n_mapping; i++) {
		const struct pprof_mapping *m = &p->mappings[i];
		const Google__V1__Mapping *gm = g->mapping[i];
		assert_int_equal(m->id, gm->id);
		assert_int_equal(m->memory_start, gm->memory_start);
		assert_int_equal(m->memory_limit, gm->memory_limit);
		assert_int_equal(m->file_offset, gm->file_offset);
		assert_int_equal(m->filename, gm->filename);
		assert_int_equal(m->build_id, gm->build_id);
		assert_int_equal(m->has_functions, !!gm->has_functions);
		assert_int_equal(m->has_filenames, !!gm->has_filenames);
		assert_int_equal(m->has_line_numbers, !!gm->has_line_numbers);
		assert_int_equal(m->has_inline_frames, !!gm->has_inline_frames);
	}
	assert_int_equal(p->n_locations, g->n_location);
	for (size_t i = 0; i < g->n_location; i++) {
		const struct pprof_location *l = &p->locations[i];
		const Google__V1__Location *gl = g->location[i];
		assert_int_equal(l->id, gl->id);
		assert_int_equal(l->mapping_id, gl->mapping_id);
		assert_int_equal(l->address, gl->address);
		assert_int_equal(l->is_folded, !!gl->is_folded);
		assert_int_equal(l->n_lines, gl->n_line);
		for (size_t j = 0; j < gl->n_line; j++) {
			assert_int_equal(l->lines[j].function_id, gl->line[j]->function_id);
			assert_int_equal(l->lines[j].line, gl->line[j]->line);
		}
		/* The id lookup finds this very element. */
		assert_ptr_equal(pprof_location_by_id(p, gl->id), l);
	}
	assert_int_equal(p->n_functions, g->n_function);
	for (size_t i = 0; i < g->n_function; i++) {
		const struct pprof_function *f = &p->functions[i];
		const Google__V1__Function *gf = g->function[i];
		assert_int_equal(f->id, gf->id);
		assert_int_equal(f->name, gf->name);
		assert_int_equal(f->system_name, gf->system_name);
		assert_int_equal(f->filename, gf->filename);
		assert_int_equal(f->start_line, gf->start_line);
		assert_ptr_equal(pprof_function_by_id(p, gf->id), f);
	}
	for (size_t i = 0; i < g->n_mapping; i++)
		assert_ptr_equal(pprof_mapping_by_id(p, g->mapping[i]->id), &p->mappings[i]);
	assert_int_equal(p->n_strings, g->n_string_table);
	for (size_t i = 0; i < g->n_string_table; i++)
		assert_slice_cstr(p->strings[i], g->string_table[i]);
	assert_int_equal(p->drop_frames, g->drop_frames);
	assert_int_equal(p->keep_frames, g->keep_frames);
	assert_int_equal(p->time_nanos, g->time_nanos);
	assert_int_equal(p->duration_nanos, g->duration_nanos);
	assert_int_equal(p->period, g->period);
	assert_int_equal(p->period_type.type, g->period_type ? g->period_type->type : 0);
	assert_int_equal(p->period_type.unit, g->period_type ? g->period_type->unit : 0);
	assert_int_equal(p->n_comments, g->n_comment);
	for (size_t i = 0; i < g->n_comment; i++)
		assert_int_equal(p->comments[i], g->comment[i]);
	assert_int_equal(p->default_sample_type, g->default_sample_type);
}

/* Deep equality of two decoded profiles (values, not pointers). */
static void compare_profiles(const struct pprof_profile *a, const struct pprof_profile *b)
{
	assert_int_equal(a->n_sample_types, b->n_sample_types);
	if (a->n_sample_types)
		assert_memory_equal(a->sample_types, b->sample_types,
				    a->n_sample_types * sizeof(*a->sample_types));
	assert_int_equal(a->n_samples, b->n_samples);
	for (size_t i = 0; i < a->n_samples; i++) {
		const struct pprof_sample *x = &a->samples[i], *y = &b->samples[i];
		assert_int_equal(x->n_location_ids, y->n_location_ids);
		assert_int_equal(x->n_values, y->n_values);
		assert_int_equal(x->n_labels, y->n_labels);
		if (x->n_location_ids)
			assert_memory_equal(x->location_ids, y->location_ids,
					    x->n_location_ids * sizeof(uint64_t));
		if (x->n_values)
			assert_memory_equal(x->values, y->values, x->n_values * sizeof(int64_t));
		if (x->n_labels)
			assert_memory_equal(x->labels, y->labels,
					    x->n_labels * sizeof(*x->labels));
	}
	assert_int_equal(a->n_mappings, b->n_mappings);
	for (size_t i = 0; i < a->n_mappings; i++) {
		const struct pprof_mapping *x = &a->mappings[i], *y = &b->mappings[i];
		assert_int_equal(x->id, y->id);
		assert_int_equal(x->memory_start, y->memory_start);
		assert_int_equal(x->memory_limit, y->memory_limit);
		assert_int_equal(x->file_offset, y->file_offset);
		assert_int_equal(x->filename, y->filename);
		assert_int_equal(x->build_id, y->build_id);
		assert_int_equal(x->has_functions, y->has_functions);
		assert_int_equal(x->has_filenames, y->has_filenames);
		assert_int_equal(x->has_line_numbers, y->has_line_numbers);
		assert_int_equal(x->has_inline_frames, y->has_inline_frames);
	}
	assert_int_equal(a->n_locations, b->n_locations);
	for (size_t i = 0; i < a->n_locations; i++) {
		const struct pprof_location *x = &a->locations[i], *y = &b->locations[i];
		assert_int_equal(x->id, y->id);
		assert_int_equal(x->mapping_id, y->mapping_id);
		assert_int_equal(x->address, y->address);
		assert_int_equal(x->is_folded, y->is_folded);
		assert_int_equal(x->n_lines, y->n_lines);
		if (x->n_lines)
			assert_memory_equal(x->lines, y->lines, x->n_lines * sizeof(*x->lines));
	}
	assert_int_equal(a->n_functions, b->n_functions);
	if (a->n_functions)
		assert_memory_equal(a->functions, b->functions,
				    a->n_functions * sizeof(*a->functions));
	assert_int_equal(a->n_strings, b->n_strings);
	for (size_t i = 0; i < a->n_strings; i++)
		assert_true(slice_eq(a->strings[i], b->strings[i]));
	assert_int_equal(a->drop_frames, b->drop_frames);
	assert_int_equal(a->keep_frames, b->keep_frames);
	assert_int_equal(a->time_nanos, b->time_nanos);
	assert_int_equal(a->duration_nanos, b->duration_nanos);
	assert_int_equal(a->period_type.type, b->period_type.type);
	assert_int_equal(a->period_type.unit, b->period_type.unit);
	assert_int_equal(a->period, b->period);
	assert_int_equal(a->n_comments, b->n_comments);
	if (a->n_comments)
		assert_memory_equal(a->comments, b->comments, a->n_comments * sizeof(int64_t));
	assert_int_equal(a->default_sample_type, b->default_sample_type);
}

static size_t glob_testdata(glob_t *g)
{
	memset(g, 0, sizeof(*g));
	glob(TESTDATA_DIR "/go/*.pb.gz", 0, NULL, g);
	glob(TESTDATA_DIR "/nodejs/*.pprof.gz", GLOB_APPEND, NULL, g);
	assert_true(g->gl_pathc >= 14);
	return g->gl_pathc;
}

static void test_real_profiles_match_protobuf_c(void **state)
{
	(void)state;
	glob_t g;
	size_t n = glob_testdata(&g);
	for (size_t i = 0; i < n; i++) {
		struct buf raw;
		struct arena a;
		struct pprof_profile p;
		char err[ERRLEN];
		load_gz(g.gl_pathv[i], &raw);
		arena_init(&a, 0);
		decode_ok(slice_make(raw.p, raw.n), &a, &p);
		Google__V1__Profile *gp = google__v1__profile__unpack(NULL, raw.n, raw.p);
		assert_non_null(gp);
		compare_with_pbc(&p, gp);
		if (pprof_validate(&p, err, sizeof(err)))
			fail_msg("%s: %s", g.gl_pathv[i], err);
		google__v1__profile__free_unpacked(gp, NULL);
		arena_release(&a);
		buf_release(&raw);
	}
	globfree(&g);
}

/* Sums of every sample's values. */
static void sums(const struct pprof_profile *p, int64_t *out, size_t n)
{
	memset(out, 0, n * sizeof(*out));
	for (size_t i = 0; i < p->n_samples; i++)
		for (size_t j = 0; j < n && j < p->samples[i].n_values; j++)
			out[j] += p->samples[i].values[j];
}

static bool same_sample(const struct pprof_sample *x, const struct pprof_sample *y)
{
	return x->n_location_ids == y->n_location_ids && x->n_labels == y->n_labels &&
	       (!x->n_location_ids || !memcmp(x->location_ids, y->location_ids,
					      x->n_location_ids * sizeof(uint64_t))) &&
	       (!x->n_labels || !memcmp(x->labels, y->labels, x->n_labels * sizeof(*x->labels)));
}

/* Samples with distinct (stack, labels): go tool pprof merges the others on load, so this
 * is the count `-raw` prints. */
static size_t distinct_samples(const struct pprof_profile *p)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n_samples; i++) {
		size_t j = 0;
		while (j < i && !same_sample(&p->samples[i], &p->samples[j]))
			j++;
		n += j == i;
	}
	return n;
}

/* Figures printed by `go tool pprof -raw FILE` (Go 1.19), counted with awk over its
 * "Samples:" and "Locations" sections, run by hand on 2026-11-23. pprof merges samples
 * with the same stack and labels before printing, hence distinct_samples(). */
static void test_independent_figures(void **state)
{
	(void)state;
	struct buf raw;
	struct arena a;
	struct pprof_profile p;
	int64_t s[4];

	/* go/svc-cpu-0.pb.gz: 266 samples, samples/count sum 492, cpu/nanoseconds sum
	 * 4920000000, 535 locations, PeriodType cpu nanoseconds, Period 10000000,
	 * Time 2026-11-22 23:19:23.711880564 UTC, Duration 3.19 s. */
	load_gz(TESTDATA_DIR "/go/svc-cpu-0.pb.gz", &raw);
	arena_init(&a, 0);
	decode_ok(slice_make(raw.p, raw.n), &a, &p);
	assert_int_equal(distinct_samples(&p), 266);
	assert_int_equal(p.n_samples, 434); /* protobuf-c agrees (test above) */
	assert_int_equal(p.n_locations, 535);
	assert_int_equal(p.n_sample_types, 2);
	assert_slice_cstr(pprof_string(&p, p.sample_types[0].type), "samples");
	assert_slice_cstr(pprof_string(&p, p.sample_types[0].unit), "count");
	assert_slice_cstr(pprof_string(&p, p.sample_types[1].type), "cpu");
	assert_slice_cstr(pprof_string(&p, p.sample_types[1].unit), "nanoseconds");
	sums(&p, s, 2);
	assert_int_equal(s[0], 492);
	assert_int_equal(s[1], 4920000000LL);
	assert_int_equal(p.period, 10000000);
	assert_slice_cstr(pprof_string(&p, p.period_type.type), "cpu");
	assert_slice_cstr(pprof_string(&p, p.period_type.unit), "nanoseconds");
	/* date -u -d '2026-11-22 23:19:23' +%s = 1795389563 */
	assert_int_equal(p.time_nanos, 1795389563711880564LL);
	assert_true(p.duration_nanos >= 3185000000LL && p.duration_nanos < 3195000000LL);
	/* The first sample printed: "12 120000000: 1 2 3 4 5 6 7" with endpoint:[/logs]
	 * (the sum of the samples with that stack and label). */
	assert_int_equal(p.samples[0].n_location_ids, 7);
	for (uint64_t k = 0; k < 7; k++)
		assert_int_equal(p.samples[0].location_ids[k], k + 1);
	int64_t merged[2] = {0, 0};
	for (size_t i = 0; i < p.n_samples; i++)
		if (same_sample(&p.samples[i], &p.samples[0])) {
			merged[0] += p.samples[i].values[0];
			merged[1] += p.samples[i].values[1];
		}
	assert_int_equal(merged[0], 12);
	assert_int_equal(merged[1], 120000000);
	assert_int_equal(p.samples[0].n_labels, 1);
	assert_slice_cstr(pprof_string(&p, p.samples[0].labels[0].key), "endpoint");
	assert_slice_cstr(pprof_string(&p, p.samples[0].labels[0].str), "/logs");
	arena_release(&a);
	buf_release(&raw);

	/* go/svc-heap.pb.gz: 202 samples; sums 8869126 13430339830 17229 2287215 for
	 * alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes; 243
	 * locations; one mapping 0x400000/0x507000/0x0 /tmp/gentd [FN]. */
	load_gz(TESTDATA_DIR "/go/svc-heap.pb.gz", &raw);
	arena_init(&a, 0);
	decode_ok(slice_make(raw.p, raw.n), &a, &p);
	assert_int_equal(distinct_samples(&p), 202);
	assert_int_equal(p.n_locations, 243);
	sums(&p, s, 4);
	assert_int_equal(s[0], 8869126);
	assert_int_equal(s[1], 13430339830LL);
	assert_int_equal(s[2], 17229);
	assert_int_equal(s[3], 2287215);
	assert_slice_cstr(pprof_string(&p, p.sample_types[3].type), "inuse_space");
	assert_int_equal(p.period, 65536);
	/* -raw prints only mapping 1 (pprof drops unused ones); `protoc --decode` lists 3,
	 * the third at 18446744073699065856 ([vsyscall]). */
	assert_int_equal(p.n_mappings, 3);
	assert_int_equal(p.mappings[2].memory_start, 18446744073699065856ULL);
	assert_int_equal(p.mappings[0].memory_start, 0x400000);
	assert_int_equal(p.mappings[0].memory_limit, 0x507000);
	assert_true(p.mappings[0].has_functions);
	assert_slice_cstr(pprof_string(&p, p.mappings[0].filename), "/tmp/gentd");
	arena_release(&a);
	buf_release(&raw);

	/* nodejs/req1.pprof.gz: 3 samples, sums 293 and 3008524000 (samples/count,
	 * wall/nanoseconds), Period 10268000, PeriodType wall nanoseconds,
	 * Time 2026-11-22 23:09:37.038000128 UTC (date -u ... +%s = 1795388977). */
	load_gz(TESTDATA_DIR "/nodejs/req1.pprof.gz", &raw);
	arena_init(&a, 0);
	decode_ok(slice_make(raw.p, raw.n), &a, &p);
	assert_int_equal(distinct_samples(&p), 3);
	/* -raw prints the 6 locations samples use; `protoc --decode` counts 20 in the file. */
	assert_int_equal(p.n_locations, 20);
	sums(&p, s, 2);
	assert_int_equal(s[0], 293);
	assert_int_equal(s[1], 3008524000LL);
	assert_int_equal(p.period, 10268000);
	assert_int_equal(p.time_nanos, 1795388977038000128LL);
	assert_slice_cstr(pprof_string(&p, p.period_type.type), "wall");
	/* -raw renumbers: its location 5 prints as "./app.js:burn:4
	 * /tmp/research_eco/npm-pyro/app.js:4 s=0(burn)" (name, file:line, system name). */
	const struct pprof_function *burn = NULL;
	size_t burn_lines = 0;
	for (size_t i = 0; i < p.n_locations; i++) {
		const struct pprof_location *l = &p.locations[i];
		assert_ptr_equal(pprof_location_by_id(&p, l->id), l);
		for (size_t j = 0; j < l->n_lines; j++) {
			const struct pprof_function *f = pprof_function_by_id(&p, l->lines[j].function_id);
			assert_non_null(f);
			if (slice_eq_cstr(pprof_string(&p, f->name), "./app.js:burn:4")) {
				burn = f;
				burn_lines++;
				assert_int_equal(l->lines[j].line, 4);
			}
		}
	}
	assert_int_equal(burn_lines, 1);
	assert_slice_cstr(pprof_string(&p, burn->system_name), "burn");
	assert_slice_cstr(pprof_string(&p, burn->filename), "/tmp/research_eco/npm-pyro/app.js");
	arena_release(&a);
	buf_release(&raw);
}

static void test_roundtrip_real(void **state)
{
	(void)state;
	glob_t g;
	size_t n = glob_testdata(&g);
	for (size_t i = 0; i < n; i++) {
		struct buf raw, enc = BUF_INIT, enc2 = BUF_INIT;
		struct arena a;
		struct pprof_profile p, q, r;
		load_gz(g.gl_pathv[i], &raw);
		arena_init(&a, 0);
		decode_ok(slice_make(raw.p, raw.n), &a, &p);
		pprof_encode(&p, &enc);
		decode_ok(slice_make(enc.p, enc.n), &a, &q);
		compare_profiles(&p, &q);
		/* protobuf-c reads our encoding as the original. */
		Google__V1__Profile *gp = google__v1__profile__unpack(NULL, enc.n, enc.p);
		assert_non_null(gp);
		compare_with_pbc(&p, gp);
		google__v1__profile__free_unpacked(gp, NULL);
		/* Encoding is deterministic: encode(decode(encode(x))) == encode(x). */
		pprof_encode(&q, &enc2);
		assert_int_equal(enc.n, enc2.n);
		assert_memory_equal(enc.p, enc2.p, enc.n);
		(void)r;
		buf_release(&enc);
		buf_release(&enc2);
		arena_release(&a);
		buf_release(&raw);
	}
	globfree(&g);
}

/* ---- hostile input ------------------------------------------------------------------ */

/* Decodes in; on success also validates and encodes; checks the error contract. */
static int poke(const uint8_t *p, size_t n)
{
	struct arena a;
	struct pprof_profile prof;
	char err[ERRLEN];
	arena_init(&a, 0);
	/* A copy of exactly n bytes so ASan catches any read past the end. */
	uint8_t *copy = malloc(n ? n : 1);
	if (n)
		memcpy(copy, p, n);
	int rc = pprof_decode(slice_make(copy, n), &a, NULL, &prof, err, sizeof(err));
	if (rc) {
		assert_int_equal(rc, EMBER_EINVAL);
		assert_true(strlen(err) > 10);
		assert_int_equal(prof.n_samples, 0);
	} else {
		struct buf enc = BUF_INIT;
		if (pprof_validate(&prof, err, sizeof(err)))
			assert_true(strlen(err) > 10);
		pprof_encode(&prof, &enc);
		buf_release(&enc);
	}
	free(copy);
	arena_release(&a);
	return rc;
}

static void test_truncated_every_offset(void **state)
{
	(void)state;
	struct buf raw;
	load_gz(TESTDATA_DIR "/go/svc-cpu-0.pb.gz", &raw);
	size_t ok = 0;
	for (size_t n = 0; n < raw.n; n++)
		ok += poke(raw.p, n) == 0;
	/* Some prefixes end exactly on a field boundary and decode; most do not. */
	assert_true(ok > 0 && ok < raw.n / 2);
	assert_int_equal(poke(raw.p, raw.n), 0);
	buf_release(&raw);
	/* The small node profile too. */
	load_gz(TESTDATA_DIR "/nodejs/req3.pprof.gz", &raw);
	for (size_t n = 0; n < raw.n; n++)
		(void)poke(raw.p, n);
	buf_release(&raw);
}

static void test_bit_flips(void **state)
{
	(void)state;
	struct buf raw;
	load_gz(TESTDATA_DIR "/nodejs/req1.pprof.gz", &raw);
	uint8_t *m = malloc(raw.n);
	size_t failed = 0;
	for (size_t i = 0; i < raw.n; i++)
		for (int bit = 0; bit < 8; bit++) {
			memcpy(m, raw.p, raw.n);
			m[i] ^= (uint8_t)(1u << bit);
			failed += poke(m, raw.n) != 0;
		}
	assert_true(failed > 0);
	free(m);
	buf_release(&raw);
}

static int decode_bytes(const uint8_t *b, size_t n, struct arena *a, struct pprof_profile *p,
			char *err)
{
	return pprof_decode(slice_make(b, n), a, NULL, p, err, ERRLEN);
}

static void test_varints(void **state)
{
	(void)state;
	struct arena a;
	struct pprof_profile p;
	char err[ERRLEN];
	arena_init(&a, 0);
	/* time_nanos (field 9) = -1: the longest legal varint, 10 bytes. */
	const uint8_t ten[] = {0x48, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	assert_int_equal(decode_bytes(ten, sizeof(ten), &a, &p, err), 0);
	assert_int_equal(p.time_nanos, -1);
	/* 11 bytes. */
	const uint8_t eleven[] = {0x48, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				  0xff, 0xff, 0xff, 0x81, 0x01};
	assert_int_equal(decode_bytes(eleven, sizeof(eleven), &a, &p, err), EMBER_EINVAL);
	assert_string_equal(err, "invalid pprof at byte 1: profile: varint longer than 10 "
				 "bytes or over 64 bits");
	/* 10 bytes whose last carries bits past 2^64. */
	const uint8_t over[] = {0x48, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
	assert_int_equal(decode_bytes(over, sizeof(over), &a, &p, err), EMBER_EINVAL);
	assert_non_null(strstr(err, "varint longer than 10 bytes"));
	/* Truncated varint. */
	const uint8_t trunc[] = {0x48, 0xff};
	assert_int_equal(decode_bytes(trunc, sizeof(trunc), &a, &p, err), EMBER_EINVAL);
	assert_non_null(strstr(err, "runs past the end"));
	/* Packed location ids ending in a continuation byte. */
	const uint8_t packed_trunc[] = {0x12, 0x04, 0x0a, 0x02, 0x01, 0x81};
	assert_int_equal(decode_bytes(packed_trunc, sizeof(packed_trunc), &a, &p, err),
			 EMBER_EINVAL);
	assert_non_null(strstr(err, "sample.location_id: varint runs past the end"));
	/* Field number 0. */
	const uint8_t f0[] = {0x00, 0x01};
	assert_int_equal(decode_bytes(f0, sizeof(f0), &a, &p, err), EMBER_EINVAL);
	assert_non_null(strstr(err, "invalid field number 0"));
	arena_release(&a);
}

static void test_lengths(void **state)
{
	(void)state;
	struct arena a;
	struct pprof_profile p;
	char err[ERRLEN];
	arena_init(&a, 0);
	/* A string (field 6) claiming 2^62 bytes. */
	uint8_t huge[16] = {0x32};
	struct buf b = BUF_INIT;
	buf_append(&b, huge, 1);
	buf_append_uvarint(&b, 1ULL << 62);
	buf_append(&b, "abc", 3);
	assert_int_equal(decode_bytes(b.p, b.n, &a, &p, err), EMBER_EINVAL);
	assert_string_equal(err, "invalid pprof at byte 1: profile: length 4611686018427387904 "
				 "runs past the end of its message (3 bytes left)");
	buf_release(&b);
	/* A sample of 4 bytes whose packed location ids claim 10: overruns the sample
	 * although the outer buffer has room. */
	const uint8_t nested[] = {0x12, 0x04, 0x0a, 0x0a, 0x01, 0x02, 0x03, 0x04, 0x05,
				  0x06, 0x07, 0x08, 0x09, 0x0a};
	assert_int_equal(decode_bytes(nested, sizeof(nested), &a, &p, err), EMBER_EINVAL);
	assert_non_null(strstr(err, "sample.location_id: length 10 runs past the end of its "
				    "message (2 bytes left)"));
	/* A label inside a sample overrunning the sample. */
	const uint8_t label[] = {0x12, 0x03, 0x1a, 0x05, 0x08, 0x01, 0x10, 0x02};
	assert_int_equal(decode_bytes(label, sizeof(label), &a, &p, err), EMBER_EINVAL);
	assert_non_null(strstr(err, "sample.label: length 5"));
	/* Known field with the wrong wire type: sample (2) as a varint. */
	const uint8_t wt[] = {0x10, 0x01};
	assert_int_equal(decode_bytes(wt, sizeof(wt), &a, &p, err), EMBER_EINVAL);
	assert_non_null(strstr(err, "field 2 has wrong wire type 0"));
	/* Fixed64 / fixed32 running past the end, invalid wire type 6. */
	const uint8_t f64[] = {0xa1, 0x06, 1, 2, 3};
	assert_int_equal(decode_bytes(f64, sizeof(f64), &a, &p, err), EMBER_EINVAL);
	assert_non_null(strstr(err, "fixed64 runs past the end"));
	const uint8_t wt6[] = {0xa6, 0x06, 1};
	assert_int_equal(decode_bytes(wt6, sizeof(wt6), &a, &p, err), EMBER_EINVAL);
	assert_non_null(strstr(err, "invalid wire type 6"));
	arena_release(&a);
}

static void test_unknown_fields_and_groups(void **state)
{
	(void)state;
	struct arena a;
	struct pprof_profile p;
	char err[ERRLEN];
	arena_init(&a, 0);
	/* Unknown field 100 in each wire type, a nested group, then period (12) = 5; and in a
	 * sample an unknown fixed32 next to location id 7. */
	const uint8_t ok[] = {
		0xa0, 0x06, 0x05,                   /* 100: varint 5 */
		0xa1, 0x06, 1, 2, 3, 4, 5, 6, 7, 8, /* 100: fixed64 */
		0xa2, 0x06, 0x02, 0xff, 0xff,       /* 100: bytes */
		0xa5, 0x06, 1, 2, 3, 4,             /* 100: fixed32 */
		0xa3, 0x06,                         /* 100: start group */
		0x08, 0x01,                         /*   1: varint */
		0xab, 0x06,                         /*   101: start group */
		0xac, 0x06,                         /*   101: end group */
		0xa4, 0x06,                         /* 100: end group */
		0x60, 0x05,                         /* period = 5 */
		0x12, 0x07, 0x2d, 9, 9, 9, 9, 0x08, 0x07, /* sample {5: fixed32, location_id 7} */
	};
	assert_int_equal(decode_bytes(ok, sizeof(ok), &a, &p, err), 0);
	assert_int_equal(p.period, 5);
	assert_int_equal(p.n_samples, 1);
	assert_int_equal(p.samples[0].n_location_ids, 1);
	assert_int_equal(p.samples[0].location_ids[0], 7);
	/* Mismatched end group, and an end group with no start. */
	const uint8_t bad1[] = {0xa3, 0x06, 0xac, 0x06};
	assert_int_equal(decode_bytes(bad1, sizeof(bad1), &a, &p, err), EMBER_EINVAL);
	assert_non_null(strstr(err, "end-group for field 101 closes group 100"));
	const uint8_t bad2[] = {0xa4, 0x06};
	assert_int_equal(decode_bytes(bad2, sizeof(bad2), &a, &p, err), EMBER_EINVAL);
	assert_non_null(strstr(err, "without a start"));
	const uint8_t bad3[] = {0xa3, 0x06, 0x08, 0x01};
	assert_int_equal(decode_bytes(bad3, sizeof(bad3), &a, &p, err), EMBER_EINVAL);
	assert_non_null(strstr(err, "not closed"));
	/* Groups nested 100 deep are refused, not recursed into. */
	struct buf deep = BUF_INIT;
	for (int i = 0; i < 100; i++)
		buf_append(&deep, "\xa3\x06", 2);
	assert_int_equal(decode_bytes(deep.p, deep.n, &a, &p, err), EMBER_EINVAL);
	assert_non_null(strstr(err, "nested deeper"));
	buf_release(&deep);
	arena_release(&a);
}

static void test_packed_unpacked_equivalent(void **state)
{
	(void)state;
	struct arena a;
	struct pprof_profile p1, p2, p3;
	char err[ERRLEN];
	arena_init(&a, 0);
	/* sample { location_id [1, 300, 2^63]; value [-1, 5] } three ways. */
	struct buf body = BUF_INIT, packed = BUF_INIT, unpacked = BUF_INIT, mixed = BUF_INIT;
	uint64_t locs[] = {1, 300, 1ULL << 63};
	int64_t vals[] = {-1, 5};
	/* packed */
	struct buf tmp = BUF_INIT;
	for (int i = 0; i < 3; i++)
		buf_append_uvarint(&tmp, locs[i]);
	buf_append_byte(&body, 0x0a);
	buf_append_uvarint(&body, tmp.n);
	buf_append(&body, tmp.p, tmp.n);
	buf_release(&tmp);
	for (int i = 0; i < 2; i++)
		buf_append_uvarint(&tmp, (uint64_t)vals[i]);
	buf_append_byte(&body, 0x12);
	buf_append_uvarint(&body, tmp.n);
	buf_append(&body, tmp.p, tmp.n);
	buf_release(&tmp);
	buf_append_byte(&packed, 0x12);
	buf_append_uvarint(&packed, body.n);
	buf_append(&packed, body.p, body.n);
	buf_release(&body);
	/* unpacked, values interleaved with location ids */
	buf_append_byte(&body, 0x08);
	buf_append_uvarint(&body, locs[0]);
	buf_append_byte(&body, 0x10);
	buf_append_uvarint(&body, (uint64_t)vals[0]);
	buf_append_byte(&body, 0x08);
	buf_append_uvarint(&body, locs[1]);
	buf_append_byte(&body, 0x08);
	buf_append_uvarint(&body, locs[2]);
	buf_append_byte(&body, 0x10);
	buf_append_uvarint(&body, (uint64_t)vals[1]);
	buf_append_byte(&unpacked, 0x12);
	buf_append_uvarint(&unpacked, body.n);
	buf_append(&unpacked, body.p, body.n);
	buf_release(&body);
	/* mixed: one unpacked id, then a packed run of the other two; values packed in two
	 * runs */
	buf_append_byte(&body, 0x08);
	buf_append_uvarint(&body, locs[0]);
	buf_append_uvarint(&tmp, locs[1]);
	buf_append_uvarint(&tmp, locs[2]);
	buf_append_byte(&body, 0x0a);
	buf_append_uvarint(&body, tmp.n);
	buf_append(&body, tmp.p, tmp.n);
	buf_release(&tmp);
	for (int i = 0; i < 2; i++) {
		buf_append_uvarint(&tmp, (uint64_t)vals[i]);
		buf_append_byte(&body, 0x12);
		buf_append_uvarint(&body, tmp.n);
		buf_append(&body, tmp.p, tmp.n);
		buf_release(&tmp);
	}
	buf_append_byte(&mixed, 0x12);
	buf_append_uvarint(&mixed, body.n);
	buf_append(&mixed, body.p, body.n);
	buf_release(&body);

	assert_int_equal(decode_bytes(packed.p, packed.n, &a, &p1, err), 0);
	assert_int_equal(decode_bytes(unpacked.p, unpacked.n, &a, &p2, err), 0);
	assert_int_equal(decode_bytes(mixed.p, mixed.n, &a, &p3, err), 0);
	assert_int_equal(p1.n_samples, 1);
	assert_int_equal(p1.samples[0].n_location_ids, 3);
	assert_memory_equal(p1.samples[0].location_ids, locs, sizeof(locs));
	assert_int_equal(p1.samples[0].n_values, 2);
	assert_memory_equal(p1.samples[0].values, vals, sizeof(vals));
	compare_profiles(&p1, &p2);
	compare_profiles(&p1, &p3);
	/* protobuf-c agrees on the unpacked form. */
	Google__V1__Profile *gp = google__v1__profile__unpack(NULL, unpacked.n, unpacked.p);
	assert_non_null(gp);
	compare_with_pbc(&p2, gp);
	google__v1__profile__free_unpacked(gp, NULL);
	buf_release(&packed);
	buf_release(&unpacked);
	buf_release(&mixed);
	arena_release(&a);
}

/* ---- validation ------------------------------------------------------------------------ */

/* A small valid profile: main -> work, two samples. */
static void build_small(struct pprof_builder *b)
{
	pprof_builder_init(b);
	pprof_builder_sample_type(b, "cpu", "nanoseconds");
	uint64_t m = pprof_builder_mapping(b, 0x1000, 0x2000, "/bin/app");
	uint64_t fmain = pprof_builder_function(b, "main", "main.c", 1);
	uint64_t fwork = pprof_builder_function(b, "work", "work.c", 10);
	struct pprof_line lmain = {fmain, 3}, lwork = {fwork, 12};
	uint64_t locmain = pprof_builder_location(b, m, 0x1100, &lmain, 1);
	uint64_t locwork = pprof_builder_location(b, 0, 0, &lwork, 1);
	uint64_t st1[] = {locwork, locmain}, st2[] = {locmain};
	int64_t v1[] = {30}, v2[] = {10};
	struct pprof_label lab = {pprof_builder_cstr(b, "endpoint"),
				  pprof_builder_cstr(b, "/x"), 0, 0};
	pprof_builder_sample(b, st1, 2, v1, 1, &lab, 1);
	pprof_builder_sample(b, st2, 1, v2, 1, NULL, 0);
	struct pprof_profile *p = pprof_builder_profile(b);
	p->period = 10000000;
	p->period_type.type = pprof_builder_cstr(b, "cpu");
	p->period_type.unit = pprof_builder_cstr(b, "nanoseconds");
	p->time_nanos = 1795389563000000000LL;
}

static void expect_invalid(const struct pprof_profile *p, const char *msg)
{
	char err[ERRLEN];
	assert_int_equal(pprof_validate(p, err, sizeof(err)), EMBER_EINVAL);
	assert_string_equal(err, msg);
}

static void test_validate(void **state)
{
	(void)state;
	struct pprof_builder b;
	char err[ERRLEN];
	build_small(&b);
	struct pprof_profile *p = pprof_builder_profile(&b);
	assert_int_equal(pprof_validate(p, err, sizeof(err)), 0);

	/* Sample referencing location id 0, then an unknown one. */
	p->samples[1].location_ids[0] = 0;
	expect_invalid(p, "invalid profile: sample 1 references unknown location id 0");
	p->samples[1].location_ids[0] = 99;
	expect_invalid(p, "invalid profile: sample 1 references unknown location id 99");
	p->samples[1].location_ids[0] = 1;
	/* Value count must match sample types. */
	p->samples[0].n_values = 0;
	expect_invalid(p, "invalid profile: sample 0 has 0 values for 1 sample types");
	p->samples[0].n_values = 1;
	/* String index out of range (and negative). */
	p->functions[1].name = 1000;
	expect_invalid(p, "invalid profile: function 1: name string index 1000 out of range "
			  "(10 strings)");
	p->functions[1].name = -1;
	expect_invalid(p, "invalid profile: function 1: name string index -1 out of range "
			  "(10 strings)");
	p->functions[1].name = 1;
	p->samples[0].labels[0].str = 10;
	expect_invalid(p, "invalid profile: sample 0 label 0: str string index 10 out of range "
			  "(10 strings)");
	p->samples[0].labels[0].str = 0;
	/* Invalid UTF-8 in the string table. */
	struct slice saved = p->strings[5];
	p->strings[5] = slice_make("ab\xc0\xaf", 4);
	expect_invalid(p, "invalid profile: string 5 is not valid UTF-8");
	p->strings[5] = saved;
	/* string_table[0] must be "". */
	p->strings[0] = slice_make("x", 1);
	expect_invalid(p, "invalid profile: string_table[0] must be the empty string");
	p->strings[0] = slice_make("", 0);
	/* Unknown mapping and function references; mapping id 0 is fine. */
	p->locations[0].mapping_id = 7;
	expect_invalid(p, "invalid profile: location id 1 references unknown mapping id 7");
	p->locations[0].mapping_id = 0;
	assert_int_equal(pprof_validate(p, err, sizeof(err)), 0);
	p->locations[1].lines[0].function_id = 0;
	expect_invalid(p, "invalid profile: location id 2 line 0 references unknown function "
			  "id 0");
	p->locations[1].lines[0].function_id = 2;
	/* Ids 0 and duplicates. */
	p->functions[0].id = 0;
	assert_int_equal(pprof_resolve(p, &b.arena), 0);
	expect_invalid(p, "invalid profile: function 0 has id 0");
	p->functions[0].id = 2;
	assert_int_equal(pprof_resolve(p, &b.arena), 0);
	expect_invalid(p, "invalid profile: several functions have id 2");
	p->functions[0].id = 1;
	p->locations[1].id = 0;
	assert_int_equal(pprof_resolve(p, &b.arena), 0);
	expect_invalid(p, "invalid profile: location 1 has id 0");
	p->locations[1].id = 2;
	assert_int_equal(pprof_resolve(p, &b.arena), 0);
	/* Sample type names must not contain '-'; there must be one. */
	p->sample_types[0].type = pprof_builder_cstr(&b, "cpu-time");
	expect_invalid(p, "invalid profile: sample type \"cpu-time\" contains '-'");
	p->sample_types[0].type = 1;
	size_t nst = p->n_sample_types;
	p->n_sample_types = 0;
	expect_invalid(p, "invalid profile: no sample_type");
	p->n_sample_types = nst;
	assert_int_equal(pprof_validate(p, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	pprof_builder_release(&b);
}

/* The builder's profile, encoded by us, read by protobuf-c: an independent check of the
 * encoder (and of decode through the round trip). */
static void test_builder_encode_protobuf_c(void **state)
{
	(void)state;
	struct pprof_builder b;
	build_small(&b);
	struct pprof_profile *p = pprof_builder_profile(&b);
	p->samples[0].values[0] = -5; /* a 10-byte varint */
	p->comments = (int64_t[]){1, 2};
	p->n_comments = 2;
	struct buf enc = BUF_INIT;
	pprof_encode(p, &enc);
	Google__V1__Profile *gp = google__v1__profile__unpack(NULL, enc.n, enc.p);
	assert_non_null(gp);
	assert_int_equal(gp->n_sample, 2);
	assert_int_equal(gp->sample[0]->n_location_id, 2);
	assert_int_equal(gp->sample[0]->location_id[0], 2);
	assert_int_equal(gp->sample[0]->location_id[1], 1);
	assert_int_equal(gp->sample[0]->value[0], -5);
	assert_string_equal(gp->string_table[gp->sample[0]->label[0]->key], "endpoint");
	assert_string_equal(gp->string_table[gp->function[1]->name], "work");
	assert_int_equal(gp->function[1]->start_line, 10);
	assert_int_equal(gp->location[0]->address, 0x1100);
	assert_int_equal(gp->mapping[0]->memory_limit, 0x2000);
	assert_true(gp->mapping[0]->has_functions);
	assert_int_equal(gp->period, 10000000);
	assert_string_equal(gp->string_table[gp->period_type->unit], "nanoseconds");
	assert_int_equal(gp->n_comment, 2);
	assert_string_equal(gp->string_table[0], "");
	compare_with_pbc(p, gp);
	google__v1__profile__free_unpacked(gp, NULL);

	struct arena a;
	struct pprof_profile q;
	arena_init(&a, 0);
	decode_ok(slice_make(enc.p, enc.n), &a, &q);
	compare_profiles(p, &q);
	char err[ERRLEN];
	assert_int_equal(pprof_validate(&q, err, sizeof(err)), 0);
	arena_release(&a);
	buf_release(&enc);
	p->comments = NULL;
	p->n_comments = 0;
	pprof_builder_release(&b);
}

static void test_sparse_ids(void **state)
{
	(void)state;
	struct pprof_builder b;
	char err[ERRLEN];
	build_small(&b);
	struct pprof_profile *p = pprof_builder_profile(&b);
	/* Ids far apart force the sorted table. */
	p->locations[0].id = 1ULL << 63;
	p->locations[1].id = 1000000;
	p->samples[0].location_ids[0] = 1000000;
	p->samples[0].location_ids[1] = 1ULL << 63;
	p->samples[1].location_ids[0] = 1ULL << 63;
	assert_int_equal(pprof_resolve(p, &b.arena), 0);
	assert_null(p->location_map.direct);
	assert_ptr_equal(pprof_location_by_id(p, 1ULL << 63), &p->locations[0]);
	assert_ptr_equal(pprof_location_by_id(p, 1000000), &p->locations[1]);
	assert_null(pprof_location_by_id(p, 1));
	assert_null(pprof_location_by_id(p, 0));
	assert_int_equal(pprof_validate(p, err, sizeof(err)), 0);
	/* Dense ids use the direct table. */
	assert_non_null(p->function_map.direct);
	assert_null(pprof_function_by_id(p, 3));
	assert_null(pprof_function_by_id(p, UINT64_MAX));
	assert_null(pprof_mapping_by_id(p, 0));
	/* A round trip through the encoder keeps the sparse ids. */
	struct buf enc = BUF_INIT;
	struct arena a;
	struct pprof_profile q;
	pprof_encode(p, &enc);
	arena_init(&a, 0);
	decode_ok(slice_make(enc.p, enc.n), &a, &q);
	assert_ptr_equal(pprof_location_by_id(&q, 1ULL << 63), &q.locations[0]);
	assert_int_equal(pprof_validate(&q, err, sizeof(err)), 0);
	arena_release(&a);
	buf_release(&enc);
	pprof_builder_release(&b);
}

static void test_limits(void **state)
{
	(void)state;
	struct pprof_builder b;
	struct buf enc = BUF_INIT;
	struct arena a;
	struct pprof_profile q;
	char err[ERRLEN];
	build_small(&b);
	struct pprof_profile *p = pprof_builder_profile(&b);
	/* A long non-ASCII string: "é" repeated 10 times (20 bytes). */
	char e10[21] = "";
	for (int i = 0; i < 10; i++)
		memcpy(e10 + 2 * i, "\xc3\xa9", 2);
	p->functions[0].name = pprof_builder_cstr(&b, e10);
	pprof_encode(p, &enc);
	arena_init(&a, 0);

	struct pprof_limits lim = {.max_samples = 1};
	assert_int_equal(pprof_decode(slice_make(enc.p, enc.n), &a, &lim, &q, err, ERRLEN),
			 EMBER_ETOOBIG);
	assert_string_equal(err, "pprof: profile has 2 samples, more than the limit of 1");
	assert_int_equal(q.n_samples, 0);

	lim = (struct pprof_limits){.max_labels_per_sample = 0, .max_samples = 2};
	assert_int_equal(pprof_decode(slice_make(enc.p, enc.n), &a, &lim, &q, err, ERRLEN), 0);
	/* Sample 0 has one label; a limit of 0 means unlimited, so try a real limit on a
	 * sample with two labels. */
	struct pprof_label two[2] = {{1, 2, 0, 0}, {1, 3, 0, 0}};
	uint64_t loc1 = 1;
	int64_t v = 1;
	pprof_builder_sample(&b, &loc1, 1, &v, 1, two, 2);
	p = pprof_builder_profile(&b);
	buf_release(&enc);
	pprof_encode(p, &enc);
	lim = (struct pprof_limits){.max_labels_per_sample = 1};
	assert_int_equal(pprof_decode(slice_make(enc.p, enc.n), &a, &lim, &q, err, ERRLEN),
			 EMBER_ETOOBIG);
	assert_string_equal(err, "pprof: sample 2 has 2 labels, more than the limit of 1");

	/* Depth: keep location_ids[n-max..n) (Pyroscope drops leaf-most frames). */
	lim = (struct pprof_limits){.max_locations_per_sample = 1, .max_string_len = 5};
	assert_int_equal(pprof_decode(slice_make(enc.p, enc.n), &a, &lim, &q, err, ERRLEN), 0);
	assert_int_equal(q.samples[0].n_location_ids, 1);
	assert_int_equal(q.samples[0].location_ids[0], 1); /* the root, main */
	/* Strings keep their tail, cut on a character boundary: 5 bytes -> 2 "é". */
	struct slice name = pprof_string(&q, q.functions[0].name);
	assert_int_equal(name.n, 4);
	assert_memory_equal(name.p, "\xc3\xa9\xc3\xa9", 4);
	assert_int_equal(pprof_validate(&q, err, sizeof(err)), 0);
	arena_release(&a);

	/* An arena limit turns into EMBER_ENOMEM, not an abort. */
	arena_init(&a, 64);
	assert_int_equal(pprof_decode(slice_make(enc.p, enc.n), &a, NULL, &q, err, ERRLEN),
			 EMBER_ENOMEM);
	assert_non_null(strstr(err, "arena refused"));
	arena_release(&a);
	buf_release(&enc);
	pprof_builder_release(&b);
}

static void test_empty_and_zero_copy(void **state)
{
	(void)state;
	struct arena a;
	struct pprof_profile p;
	char err[ERRLEN];
	arena_init(&a, 0);
	assert_int_equal(pprof_decode(slice_make("", 0), &a, NULL, &p, err, ERRLEN), 0);
	assert_int_equal(p.n_samples, 0);
	expect_invalid(&p, "invalid profile: string_table[0] must be the empty string");
	/* Strings point into the input. */
	const uint8_t in[] = {0x32, 0x00, 0x32, 0x03, 'a', 'b', 'c'};
	assert_int_equal(pprof_decode(slice_make(in, sizeof(in)), &a, NULL, &p, err, ERRLEN), 0);
	assert_int_equal(p.n_strings, 2);
	assert_ptr_equal(p.strings[1].p, in + 4);
	assert_int_equal(p.strings[1].n, 3);
	expect_invalid(&p, "invalid profile: no sample_type");
	/* A tiny error buffer is still NUL-terminated. */
	char tiny[8];
	const uint8_t bad[] = {0x10, 0x01};
	assert_int_equal(pprof_decode(slice_make(bad, 2), &a, NULL, &p, tiny, sizeof(tiny)),
			 EMBER_EINVAL);
	assert_int_equal(strlen(tiny), 7);
	arena_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_profiles_match_protobuf_c),
		cmocka_unit_test(test_independent_figures),
		cmocka_unit_test(test_roundtrip_real),
		cmocka_unit_test(test_truncated_every_offset),
		cmocka_unit_test(test_bit_flips),
		cmocka_unit_test(test_varints),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_unknown_fields_and_groups),
		cmocka_unit_test(test_packed_unpacked_equivalent),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_builder_encode_protobuf_c),
		cmocka_unit_test(test_sparse_ids),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_empty_and_zero_copy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

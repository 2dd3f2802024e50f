/* libFuzzer target for src/pprof: decode (with and without limits) + validate; a valid
 * profile is encoded and decoded again and must come back the same. Where protobuf-c
 * also accepts the bytes, both decoders must agree on the counts and sample contents. */
#include "profile.pb-c.h"
#include "pprof/pprof.h"

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "pprof_decode fuzz: %s\n", what);
		abort();
	}
}

static void compare_pbc(const struct pprof_profile *p, const Google__V1__Profile *g)
{
	check(p->n_samples == g->n_sample, "n_samples vs protobuf-c");
	check(p->n_locations == g->n_location, "n_locations vs protobuf-c");
	check(p->n_functions == g->n_function, "n_functions vs protobuf-c");
	check(p->n_mappings == g->n_mapping, "n_mappings vs protobuf-c");
	check(p->n_strings == g->n_string_table, "n_strings vs protobuf-c");
	check(p->n_sample_types == g->n_sample_type, "n_sample_types vs protobuf-c");
	for (size_t i = 0; i < p->n_samples; i++) {
		const struct pprof_sample *s = &p->samples[i];
		const Google__V1__Sample *gs = g->sample[i];
		check(s->n_location_ids == gs->n_location_id, "sample location count");
		check(s->n_values == gs->n_value, "sample value count");
		check(s->n_labels == gs->n_label, "sample label count");
		for (size_t j = 0; j < s->n_location_ids; j++)
			check(s->location_ids[j] == gs->location_id[j], "location id");
		for (size_t j = 0; j < s->n_values; j++)
			check(s->values[j] == gs->value[j], "value");
	}
	for (size_t i = 0; i < p->n_locations; i++) {
		check(p->locations[i].id == g->location[i]->id, "location id");
		check(p->locations[i].n_lines == g->location[i]->n_line, "line count");
	}
	check(p->time_nanos == g->time_nanos, "time_nanos");
	check(p->period == g->period, "period");
}

static void compare(const struct pprof_profile *a, const struct pprof_profile *b)
{
	check(a->n_samples == b->n_samples && a->n_locations == b->n_locations &&
		      a->n_functions == b->n_functions && a->n_mappings == b->n_mappings &&
		      a->n_strings == b->n_strings && a->n_sample_types == b->n_sample_types &&
		      a->n_comments == b->n_comments,
	      "counts after round trip");
	for (size_t i = 0; i < a->n_samples; i++) {
		const struct pprof_sample *x = &a->samples[i], *y = &b->samples[i];
		check(x->n_location_ids == y->n_location_ids && x->n_values == y->n_values &&
			      x->n_labels == y->n_labels,
		      "sample counts after round trip");
		for (size_t j = 0; j < x->n_location_ids; j++)
			check(x->location_ids[j] == y->location_ids[j], "location id after round trip");
		for (size_t j = 0; j < x->n_values; j++)
			check(x->values[j] == y->values[j], "value after round trip");
	}
	for (size_t i = 0; i < a->n_strings; i++)
		check(slice_eq(a->strings[i], b->strings[i]), "string after round trip");
	for (size_t i = 0; i < a->n_locations; i++)
		check(pprof_location_by_id(b, a->locations[i].id) ==
			      &b->locations[pprof_location_by_id(a, a->locations[i].id) - a->locations],
		      "location lookup after round trip");
	check(a->time_nanos == b->time_nanos && a->period == b->period, "scalars after round trip");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena a;
	struct pprof_profile p, q;
	char err[256];
	arena_init(&a, 256 << 20);

	int rc = pprof_decode(slice_make(data, size), &a, NULL, &p, err, sizeof(err));
	check(rc == 0 || rc == EMBER_EINVAL, "unexpected decode error code");
	check(rc == 0 || strlen(err) > 0, "error without a message");

	Google__V1__Profile *g = google__v1__profile__unpack(NULL, size, data);
	if (rc == 0 && g) {
		bool nul = false; /* protobuf-c's char * strings end at an embedded NUL */
		for (size_t i = 0; i < p.n_strings && !nul; i++)
			nul = memchr(p.strings[i].p, 0, p.strings[i].n) != NULL;
		if (!nul)
			compare_pbc(&p, g);
	}
	if (g)
		google__v1__profile__free_unpacked(g, NULL);

	if (rc == 0 && pprof_validate(&p, err, sizeof(err)) == 0) {
		struct buf enc = BUF_INIT;
		pprof_encode(&p, &enc);
		rc = pprof_decode(slice_make(enc.p, enc.n), &a, NULL, &q, err, sizeof(err));
		check(rc == 0, "re-decoding our own encoding failed");
		check(pprof_validate(&q, err, sizeof(err)) == 0, "round trip no longer valid");
		compare(&p, &q);
		buf_release(&enc);
	}

	/* With limits: never a crash; success means the limits hold. */
	struct pprof_limits lim = {.max_samples = 8, .max_locations_per_sample = 3,
				   .max_labels_per_sample = 2, .max_string_len = 4};
	rc = pprof_decode(slice_make(data, size), &a, &lim, &p, err, sizeof(err));
	check(rc == 0 || rc == EMBER_EINVAL || rc == EMBER_ETOOBIG, "limit decode error code");
	if (rc == 0) {
		check(p.n_samples <= 8, "max_samples");
		for (size_t i = 0; i < p.n_samples; i++)
			check(p.samples[i].n_location_ids <= 3 && p.samples[i].n_labels <= 2,
			      "per-sample limits");
		for (size_t i = 0; i < p.n_strings; i++)
			check(p.strings[i].n <= 4, "max_string_len");
		if (pprof_validate(&p, err, sizeof(err)) == 0) {
			struct buf enc = BUF_INIT;
			pprof_encode(&p, &enc);
			buf_release(&enc);
		}
	}
	arena_release(&a);
	return 0;
}

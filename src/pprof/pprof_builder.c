/* pprof builder: assembles a profile by hand for tests and small synthetic profiles.
 * Top-level arrays grow on the heap; strings and per-element arrays live in the
 * builder's arena. */
#include "pprof/pprof.h"

static uint64_t str_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
	return h;
}

static void str_rehash(struct pprof_builder *b, size_t cap)
{
	free(b->str_hash);
	b->str_hash = xcalloc(cap, sizeof(*b->str_hash));
	b->str_hash_cap = cap;
	for (size_t i = 0; i < b->prof.n_strings; i++) {
		struct slice s = b->prof.strings[i];
		size_t j = str_hash((const char *)s.p, s.n) & (cap - 1);
		while (b->str_hash[j])
			j = (j + 1) & (cap - 1);
		b->str_hash[j] = (uint32_t)i + 1;
	}
}

void pprof_builder_init(struct pprof_builder *b)
{
	memset(b, 0, sizeof(*b));
	arena_init(&b->arena, 0);
	(void)pprof_builder_string(b, "", 0);
}

void pprof_builder_release(struct pprof_builder *b)
{
	free(b->prof.sample_types);
	free(b->prof.samples);
	free(b->prof.mappings);
	free(b->prof.locations);
	free(b->prof.functions);
	free(b->prof.strings);
	free(b->prof.comments);
	free(b->str_hash);
	arena_release(&b->arena);
	memset(b, 0, sizeof(*b));
}

int64_t pprof_builder_string(struct pprof_builder *b, const char *s, size_t n)
{
	struct pprof_profile *p = &b->prof;
	if ((p->n_strings + 1) * 2 > b->str_hash_cap)
		str_rehash(b, b->str_hash_cap ? b->str_hash_cap * 2 : 64);
	size_t mask = b->str_hash_cap - 1, j = str_hash(s, n) & mask;
	for (; b->str_hash[j]; j = (j + 1) & mask) {
		size_t i = b->str_hash[j] - 1;
		if (slice_eq(p->strings[i], slice_make(s, n)))
			return (int64_t)i;
	}
	XGROW(p->strings, b->cap_strings, p->n_strings + 1);
	char *copy = arena_strndup(&b->arena, s ? s : "", n);
	p->strings[p->n_strings] = slice_make(copy, n);
	b->str_hash[j] = (uint32_t)p->n_strings + 1;
	return (int64_t)p->n_strings++;
}

int64_t pprof_builder_cstr(struct pprof_builder *b, const char *s)
{
	return pprof_builder_string(b, s ? s : "", s ? strlen(s) : 0);
}

void pprof_builder_sample_type(struct pprof_builder *b, const char *type, const char *unit)
{
	struct pprof_profile *p = &b->prof;
	struct pprof_value_type vt = {pprof_builder_cstr(b, type), pprof_builder_cstr(b, unit)};
	XGROW(p->sample_types, b->cap_sample_types, p->n_sample_types + 1);
	p->sample_types[p->n_sample_types++] = vt;
}

uint64_t pprof_builder_function(struct pprof_builder *b, const char *name,
				const char *filename, int64_t start_line)
{
	struct pprof_profile *p = &b->prof;
	struct pprof_function f = {
		.id = p->n_functions + 1,
		.name = pprof_builder_cstr(b, name),
		.system_name = pprof_builder_cstr(b, name),
		.filename = pprof_builder_cstr(b, filename),
		.start_line = start_line,
	};
	XGROW(p->functions, b->cap_functions, p->n_functions + 1);
	p->functions[p->n_functions++] = f;
	return f.id;
}

uint64_t pprof_builder_mapping(struct pprof_builder *b, uint64_t start, uint64_t limit,
			       const char *filename)
{
	struct pprof_profile *p = &b->prof;
	struct pprof_mapping m = {
		.id = p->n_mappings + 1,
		.memory_start = start,
		.memory_limit = limit,
		.filename = pprof_builder_cstr(b, filename),
		.has_functions = true,
	};
	XGROW(p->mappings, b->cap_mappings, p->n_mappings + 1);
	p->mappings[p->n_mappings++] = m;
	return m.id;
}

static void *copy_array(struct arena *a, const void *src, size_t n, size_t size)
{
	if (!n)
		return NULL;
	void *d = arena_alloc(a, n * size);
	memcpy(d, src, n * size);
	return d;
}

uint64_t pprof_builder_location(struct pprof_builder *b, uint64_t mapping_id,
				uint64_t address, const struct pprof_line *lines, size_t n)
{
	struct pprof_profile *p = &b->prof;
	struct pprof_location l = {
		.id = p->n_locations + 1,
		.mapping_id = mapping_id,
		.address = address,
		.lines = copy_array(&b->arena, lines, n, sizeof(*lines)),
		.n_lines = n,
	};
	XGROW(p->locations, b->cap_locations, p->n_locations + 1);
	p->locations[p->n_locations++] = l;
	return l.id;
}

void pprof_builder_sample(struct pprof_builder *b, const uint64_t *location_ids, size_t n_loc,
			  const int64_t *values, size_t n_values, const struct pprof_label *labels,
			  size_t n_labels)
{
	struct pprof_profile *p = &b->prof;
	struct pprof_sample s = {
		.location_ids = copy_array(&b->arena, location_ids, n_loc, sizeof(*location_ids)),
		.n_location_ids = n_loc,
		.values = copy_array(&b->arena, values, n_values, sizeof(*values)),
		.n_values = n_values,
		.labels = copy_array(&b->arena, labels, n_labels, sizeof(*labels)),
		.n_labels = n_labels,
	};
	XGROW(p->samples, b->cap_samples, p->n_samples + 1);
	p->samples[p->n_samples++] = s;
}

struct pprof_profile *pprof_builder_profile(struct pprof_builder *b)
{
	/* The arena has no limit, so only a failing malloc can refuse: treat as OOM. */
	if (pprof_resolve(&b->prof, &b->arena)) {
		fprintf(stderr, "pprof_builder_profile: out of memory\n");
		abort();
	}
	return &b->prof;
}

/* Profile validation: the rules of Pyroscope's pkg/validation/validate.go (plus the
 * reference checks go tool pprof's CheckValid makes), on a decoded, resolved profile. */
#include "pprof/pprof.h"
#include "util/utf8.h"

EMBER_PRINTF(3, 4)
static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	if (errlen) {
		int k = snprintf(err, errlen, "invalid profile: ");
		if (k > 0 && (size_t)k < errlen) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(err + k, errlen - (size_t)k, fmt, ap);
			va_end(ap);
		}
	}
	return EMBER_EINVAL;
}

static inline bool str_ok(const struct pprof_profile *p, int64_t i)
{
	return i >= 0 && (uint64_t)i < p->n_strings;
}

#define CHECK_STR(idx, ...)                                            \
	do {                                                           \
		if (!str_ok(p, (idx)))                                 \
			return bad(err, errlen, __VA_ARGS__, (long long)(idx), \
				   p->n_strings);                      \
	} while (0)

int pprof_validate(const struct pprof_profile *p, char *err, size_t errlen)
{
	if (errlen)
		err[0] = '\0';
	if (p->n_strings == 0 || p->strings[0].n != 0)
		return bad(err, errlen, "string_table[0] must be the empty string");
	if (p->n_sample_types == 0)
		return bad(err, errlen, "no sample_type");

	for (size_t i = 0; i < p->n_sample_types; i++) {
		const struct pprof_value_type *vt = &p->sample_types[i];
		CHECK_STR(vt->type, "sample_type %zu: type string index %lld out of range (%zu strings)", i);
		CHECK_STR(vt->unit, "sample_type %zu: unit string index %lld out of range (%zu strings)", i);
		struct slice t = p->strings[vt->type];
		if (t.n && memchr(t.p, '-', t.n))
			return bad(err, errlen, "sample type \"%.*s\" contains '-'",
				   (int)EMBER_MIN(t.n, 200), (const char *)t.p);
	}
	CHECK_STR(p->period_type.type, "period_type: type string index %lld out of range (%zu strings)");
	CHECK_STR(p->period_type.unit, "period_type: unit string index %lld out of range (%zu strings)");
	CHECK_STR(p->drop_frames, "drop_frames: string index %lld out of range (%zu strings)");
	CHECK_STR(p->keep_frames, "keep_frames: string index %lld out of range (%zu strings)");
	CHECK_STR(p->default_sample_type, "default_sample_type: string index %lld out of range (%zu strings)");
	for (size_t i = 0; i < p->n_comments; i++)
		CHECK_STR(p->comments[i], "comment %zu: string index %lld out of range (%zu strings)", i);

	if (p->mapping_map.dup_id)
		return bad(err, errlen, "several mappings have id %llu",
			   (unsigned long long)p->mapping_map.dup_id);
	for (size_t i = 0; i < p->n_mappings; i++) {
		const struct pprof_mapping *m = &p->mappings[i];
		if (m->id == 0)
			return bad(err, errlen, "mapping %zu has id 0", i);
		CHECK_STR(m->filename, "mapping %zu: filename string index %lld out of range (%zu strings)", i);
		CHECK_STR(m->build_id, "mapping %zu: build_id string index %lld out of range (%zu strings)", i);
	}

	if (p->function_map.dup_id)
		return bad(err, errlen, "several functions have id %llu",
			   (unsigned long long)p->function_map.dup_id);
	for (size_t i = 0; i < p->n_functions; i++) {
		const struct pprof_function *f = &p->functions[i];
		if (f->id == 0)
			return bad(err, errlen, "function %zu has id 0", i);
		CHECK_STR(f->name, "function %zu: name string index %lld out of range (%zu strings)", i);
		CHECK_STR(f->system_name, "function %zu: system_name string index %lld out of range (%zu strings)", i);
		CHECK_STR(f->filename, "function %zu: filename string index %lld out of range (%zu strings)", i);
	}

	if (p->location_map.dup_id)
		return bad(err, errlen, "several locations have id %llu",
			   (unsigned long long)p->location_map.dup_id);
	for (size_t i = 0; i < p->n_locations; i++) {
		const struct pprof_location *l = &p->locations[i];
		if (l->id == 0)
			return bad(err, errlen, "location %zu has id 0", i);
		if (l->mapping_id && !pprof_mapping_by_id(p, l->mapping_id))
			return bad(err, errlen, "location id %llu references unknown mapping id %llu",
				   (unsigned long long)l->id, (unsigned long long)l->mapping_id);
		for (size_t j = 0; j < l->n_lines; j++)
			if (!pprof_function_by_id(p, l->lines[j].function_id))
				return bad(err, errlen,
					   "location id %llu line %zu references unknown function id %llu",
					   (unsigned long long)l->id, j,
					   (unsigned long long)l->lines[j].function_id);
	}

	for (size_t i = 0; i < p->n_samples; i++) {
		const struct pprof_sample *s = &p->samples[i];
		if (s->n_values != p->n_sample_types)
			return bad(err, errlen, "sample %zu has %zu values for %zu sample types", i,
				   s->n_values, p->n_sample_types);
		for (size_t j = 0; j < s->n_location_ids; j++)
			if (!pprof_location_by_id(p, s->location_ids[j]))
				return bad(err, errlen, "sample %zu references unknown location id %llu",
					   i, (unsigned long long)s->location_ids[j]);
		for (size_t j = 0; j < s->n_labels; j++) {
			const struct pprof_label *l = &s->labels[j];
			CHECK_STR(l->key, "sample %zu label %zu: key string index %lld out of range (%zu strings)", i, j);
			CHECK_STR(l->str, "sample %zu label %zu: str string index %lld out of range (%zu strings)", i, j);
			CHECK_STR(l->num_unit, "sample %zu label %zu: num_unit string index %lld out of range (%zu strings)", i, j);
		}
	}

	for (size_t i = 0; i < p->n_strings; i++)
		if (!utf8_valid(p->strings[i].p, p->strings[i].n))
			return bad(err, errlen, "string %zu is not valid UTF-8", i);
	return 0;
}

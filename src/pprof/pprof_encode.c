/* pprof encoder: sizes first, then one reservation and a straight write. Field order and
 * omission rules follow Go's profile.Write (fields in number order, zero scalars left out,
 * repeated scalars packed). */
#include "pprof/pprof.h"
#include "pprof/wire.h"

/* ---- sizes ----------------------------------------------------------------------------- */

static inline size_t sz_varint_field(uint32_t field, uint64_t v)
{
	return v ? pw_varint_size((uint64_t)field << 3) + pw_varint_size(v) : 0;
}

static inline size_t sz_len_field(uint32_t field, size_t n)
{
	return pw_varint_size((uint64_t)field << 3) + pw_varint_size(n) + n;
}

static size_t sz_packed_body(const uint64_t *v, size_t n)
{
	size_t s = 0;
	for (size_t i = 0; i < n; i++)
		s += pw_varint_size(v[i]);
	return s;
}

static inline size_t sz_packed_field(uint32_t field, const uint64_t *v, size_t n)
{
	return n ? sz_len_field(field, sz_packed_body(v, n)) : 0;
}

static size_t sz_value_type(const struct pprof_value_type *vt)
{
	return sz_varint_field(1, (uint64_t)vt->type) + sz_varint_field(2, (uint64_t)vt->unit);
}

static size_t sz_label(const struct pprof_label *l)
{
	return sz_varint_field(1, (uint64_t)l->key) + sz_varint_field(2, (uint64_t)l->str) +
	       sz_varint_field(3, (uint64_t)l->num) + sz_varint_field(4, (uint64_t)l->num_unit);
}

static size_t sz_sample(const struct pprof_sample *s)
{
	size_t n = sz_packed_field(1, s->location_ids, s->n_location_ids) +
		   sz_packed_field(2, (const uint64_t *)s->values, s->n_values);
	for (size_t i = 0; i < s->n_labels; i++)
		n += sz_len_field(3, sz_label(&s->labels[i]));
	return n;
}

static size_t sz_mapping(const struct pprof_mapping *m)
{
	return sz_varint_field(1, m->id) + sz_varint_field(2, m->memory_start) +
	       sz_varint_field(3, m->memory_limit) + sz_varint_field(4, m->file_offset) +
	       sz_varint_field(5, (uint64_t)m->filename) +
	       sz_varint_field(6, (uint64_t)m->build_id) + sz_varint_field(7, m->has_functions) +
	       sz_varint_field(8, m->has_filenames) + sz_varint_field(9, m->has_line_numbers) +
	       sz_varint_field(10, m->has_inline_frames);
}

static size_t sz_line(const struct pprof_line *l)
{
	return sz_varint_field(1, l->function_id) + sz_varint_field(2, (uint64_t)l->line);
}

static size_t sz_location(const struct pprof_location *l)
{
	size_t n = sz_varint_field(1, l->id) + sz_varint_field(2, l->mapping_id) +
		   sz_varint_field(3, l->address) + sz_varint_field(5, l->is_folded);
	for (size_t i = 0; i < l->n_lines; i++)
		n += sz_len_field(4, sz_line(&l->lines[i]));
	return n;
}

static size_t sz_function(const struct pprof_function *f)
{
	return sz_varint_field(1, f->id) + sz_varint_field(2, (uint64_t)f->name) +
	       sz_varint_field(3, (uint64_t)f->system_name) +
	       sz_varint_field(4, (uint64_t)f->filename) +
	       sz_varint_field(5, (uint64_t)f->start_line);
}

static size_t sz_profile(const struct pprof_profile *p)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n_sample_types; i++)
		n += sz_len_field(1, sz_value_type(&p->sample_types[i]));
	for (size_t i = 0; i < p->n_samples; i++)
		n += sz_len_field(2, sz_sample(&p->samples[i]));
	for (size_t i = 0; i < p->n_mappings; i++)
		n += sz_len_field(3, sz_mapping(&p->mappings[i]));
	for (size_t i = 0; i < p->n_locations; i++)
		n += sz_len_field(4, sz_location(&p->locations[i]));
	for (size_t i = 0; i < p->n_functions; i++)
		n += sz_len_field(5, sz_function(&p->functions[i]));
	for (size_t i = 0; i < p->n_strings; i++)
		n += sz_len_field(6, p->strings[i].n);
	n += sz_varint_field(7, (uint64_t)p->drop_frames);
	n += sz_varint_field(8, (uint64_t)p->keep_frames);
	n += sz_varint_field(9, (uint64_t)p->time_nanos);
	n += sz_varint_field(10, (uint64_t)p->duration_nanos);
	if (p->period_type.type || p->period_type.unit)
		n += sz_len_field(11, sz_value_type(&p->period_type));
	n += sz_varint_field(12, (uint64_t)p->period);
	n += sz_packed_field(13, (const uint64_t *)p->comments, p->n_comments);
	n += sz_varint_field(14, (uint64_t)p->default_sample_type);
	return n;
}

/* ---- writing ------------------------------------------------------------------------- */

static inline uint8_t *put_varint_field(uint8_t *w, uint32_t field, uint64_t v)
{
	if (!v)
		return w;
	w = pw_put_varint(w, (uint64_t)field << 3 | PW_VARINT);
	return pw_put_varint(w, v);
}

static inline uint8_t *put_len_key(uint8_t *w, uint32_t field, size_t n)
{
	w = pw_put_varint(w, (uint64_t)field << 3 | PW_LEN);
	return pw_put_varint(w, n);
}

static uint8_t *put_packed_field(uint8_t *w, uint32_t field, const uint64_t *v, size_t n)
{
	if (!n)
		return w;
	w = put_len_key(w, field, sz_packed_body(v, n));
	for (size_t i = 0; i < n; i++)
		w = pw_put_varint(w, v[i]);
	return w;
}

static uint8_t *put_value_type(uint8_t *w, uint32_t field, const struct pprof_value_type *vt)
{
	w = put_len_key(w, field, sz_value_type(vt));
	w = put_varint_field(w, 1, (uint64_t)vt->type);
	return put_varint_field(w, 2, (uint64_t)vt->unit);
}

static uint8_t *put_sample(uint8_t *w, const struct pprof_sample *s)
{
	w = put_len_key(w, 2, sz_sample(s));
	w = put_packed_field(w, 1, s->location_ids, s->n_location_ids);
	w = put_packed_field(w, 2, (const uint64_t *)s->values, s->n_values);
	for (size_t i = 0; i < s->n_labels; i++) {
		const struct pprof_label *l = &s->labels[i];
		w = put_len_key(w, 3, sz_label(l));
		w = put_varint_field(w, 1, (uint64_t)l->key);
		w = put_varint_field(w, 2, (uint64_t)l->str);
		w = put_varint_field(w, 3, (uint64_t)l->num);
		w = put_varint_field(w, 4, (uint64_t)l->num_unit);
	}
	return w;
}

static uint8_t *put_mapping(uint8_t *w, const struct pprof_mapping *m)
{
	w = put_len_key(w, 3, sz_mapping(m));
	w = put_varint_field(w, 1, m->id);
	w = put_varint_field(w, 2, m->memory_start);
	w = put_varint_field(w, 3, m->memory_limit);
	w = put_varint_field(w, 4, m->file_offset);
	w = put_varint_field(w, 5, (uint64_t)m->filename);
	w = put_varint_field(w, 6, (uint64_t)m->build_id);
	w = put_varint_field(w, 7, m->has_functions);
	w = put_varint_field(w, 8, m->has_filenames);
	w = put_varint_field(w, 9, m->has_line_numbers);
	return put_varint_field(w, 10, m->has_inline_frames);
}

static uint8_t *put_location(uint8_t *w, const struct pprof_location *l)
{
	w = put_len_key(w, 4, sz_location(l));
	w = put_varint_field(w, 1, l->id);
	w = put_varint_field(w, 2, l->mapping_id);
	w = put_varint_field(w, 3, l->address);
	for (size_t i = 0; i < l->n_lines; i++) {
		const struct pprof_line *ln = &l->lines[i];
		w = put_len_key(w, 4, sz_line(ln));
		w = put_varint_field(w, 1, ln->function_id);
		w = put_varint_field(w, 2, (uint64_t)ln->line);
	}
	return put_varint_field(w, 5, l->is_folded);
}

static uint8_t *put_function(uint8_t *w, const struct pprof_function *f)
{
	w = put_len_key(w, 5, sz_function(f));
	w = put_varint_field(w, 1, f->id);
	w = put_varint_field(w, 2, (uint64_t)f->name);
	w = put_varint_field(w, 3, (uint64_t)f->system_name);
	w = put_varint_field(w, 4, (uint64_t)f->filename);
	return put_varint_field(w, 5, (uint64_t)f->start_line);
}

void pprof_encode(const struct pprof_profile *p, struct buf *out)
{
	size_t total = sz_profile(p);
	if (total == 0)
		return;
	buf_reserve(out, total);
	uint8_t *w = out->p + out->n, *start = w;

	for (size_t i = 0; i < p->n_sample_types; i++)
		w = put_value_type(w, 1, &p->sample_types[i]);
	for (size_t i = 0; i < p->n_samples; i++)
		w = put_sample(w, &p->samples[i]);
	for (size_t i = 0; i < p->n_mappings; i++)
		w = put_mapping(w, &p->mappings[i]);
	for (size_t i = 0; i < p->n_locations; i++)
		w = put_location(w, &p->locations[i]);
	for (size_t i = 0; i < p->n_functions; i++)
		w = put_function(w, &p->functions[i]);
	for (size_t i = 0; i < p->n_strings; i++) {
		w = put_len_key(w, 6, p->strings[i].n);
		if (p->strings[i].n)
			memcpy(w, p->strings[i].p, p->strings[i].n);
		w += p->strings[i].n;
	}
	w = put_varint_field(w, 7, (uint64_t)p->drop_frames);
	w = put_varint_field(w, 8, (uint64_t)p->keep_frames);
	w = put_varint_field(w, 9, (uint64_t)p->time_nanos);
	w = put_varint_field(w, 10, (uint64_t)p->duration_nanos);
	if (p->period_type.type || p->period_type.unit)
		w = put_value_type(w, 11, &p->period_type);
	w = put_varint_field(w, 12, (uint64_t)p->period);
	w = put_packed_field(w, 13, (const uint64_t *)p->comments, p->n_comments);
	w = put_varint_field(w, 14, (uint64_t)p->default_sample_type);

	if ((size_t)(w - start) != total) {
		/* A size function disagrees with its writer: a bug, and memory is already
		 * corrupt if w went past the reservation. */
		fprintf(stderr, "pprof_encode: wrote %zu bytes, sized %zu\n", (size_t)(w - start),
			total);
		abort();
	}
	out->n += total;
}

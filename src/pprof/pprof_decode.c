/* Zero-copy pprof decoder: two passes over the bytes. Pass 1 walks the top level and the
 * insides of samples to count every repeated element (lines get a bound from the bytes);
 * then all arrays are carved from one arena allocation; pass 2 fills them. Strings are
 * slices into the input. Every read is bounds-checked in both passes; malformed input gets EMBER_EINVAL and a
 * message naming the byte offset. Wire-type rules follow Pyroscope's decoder
 * (vtprotobuf): a known field with the wrong wire type is an error, repeated scalars may
 * be packed or not (or both), unknown fields of any wire type (groups too) are skipped. */
#include "pprof/pprof.h"
#include "pprof/wire.h"

#define MAX_GROUP_DEPTH 64
#define MAX_FIELD_NUMBER 536870911u /* 2^29 - 1 */

struct counts {
	size_t sample_types, samples, mappings, locations, functions, strings, comments;
	size_t loc_ids, values, labels, lines;
};

struct dec {
	const uint8_t *base;
	char *err;
	size_t errlen;
	const struct pprof_limits *lim;
	/* pass-2 pools and how much of each is used */
	uint64_t *loc_ids, *values;
	struct pprof_label *labels;
	struct pprof_line *lines;
	size_t n_loc_ids, n_values, n_labels, n_lines;
	struct counts cap;
};

int pprof__varint_slow(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
	const uint8_t *p = *pp;
	uint64_t v = 0;
	if (PW_LIKELY(end - p >= 10)) {
		const uint8_t *q = pw_varint10(p, out);
		if (!q)
			return PW_OVERLONG;
		*pp = q;
		return PW_OK;
	}
	for (unsigned i = 0; i < 10; i++) {
		if (p >= end)
			return PW_TRUNC;
		uint64_t b = *p++;
		if (i == 9 && b > 1)
			return PW_OVERLONG;
		v |= (b & 0x7f) << (7 * i);
		if (b < 0x80) {
			*out = v;
			*pp = p;
			return PW_OK;
		}
	}
	return PW_OVERLONG; /* not reached: the 10th byte either ends or fails above */
}

EMBER_PRINTF(4, 5) __attribute__((cold, noinline))
static int fail(struct dec *d, int rc, const uint8_t *at, const char *fmt, ...)
{
	if (!d->errlen)
		return rc;
	int k = 0;
	if (at)
		k = snprintf(d->err, d->errlen, "invalid pprof at byte %zu: ",
			     (size_t)(at - d->base));
	else
		k = snprintf(d->err, d->errlen, "pprof: ");
	if (k < 0 || (size_t)k >= d->errlen)
		return rc;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->err + k, d->errlen - (size_t)k, fmt, ap);
	va_end(ap);
	return rc;
}

__attribute__((cold, noinline))
static int varint_fail(struct dec *d, int vr, const uint8_t *at, const char *what)
{
	if (vr == PW_TRUNC)
		return fail(d, EMBER_EINVAL, at, "%s: varint runs past the end", what);
	return fail(d, EMBER_EINVAL, at, "%s: varint longer than 10 bytes or over 64 bits",
		    what);
}

static inline int get_varint(struct dec *d, const uint8_t **pp, const uint8_t *end,
			     uint64_t *v, const char *what)
{
	const uint8_t *at = *pp;
	int vr = pw_varint(pp, end, v);
	if (PW_UNLIKELY(vr != PW_OK))
		return varint_fail(d, vr, at, what);
	return 0;
}

/* Reads a field key: field number (1..2^29-1) and wire type. */
static inline int get_tag(struct dec *d, const uint8_t **pp, const uint8_t *end,
			  uint32_t *field, uint32_t *wt, const char *what)
{
	const uint8_t *at = *pp;
	if (PW_LIKELY(at < end && *at < 0x80 && *at >= 8)) { /* one-byte key */
		*field = *at >> 3;
		*wt = *at & 7;
		*pp = at + 1;
		return 0;
	}
	uint64_t k;
	int vr = pw_varint(pp, end, &k);
	if (PW_UNLIKELY(vr != PW_OK))
		return varint_fail(d, vr, at, what);
	if (PW_UNLIKELY((k >> 3) == 0 || (k >> 3) > MAX_FIELD_NUMBER))
		return fail(d, EMBER_EINVAL, at, "%s: invalid field number %llu", what,
			    (unsigned long long)(k >> 3));
	*field = (uint32_t)(k >> 3);
	*wt = (uint32_t)(k & 7);
	return 0;
}

/* Reads the length of a length-delimited field and sets *sub_end past its payload. */
static inline int get_len(struct dec *d, const uint8_t **pp, const uint8_t *end,
			  const uint8_t **sub_end, const char *what)
{
	const uint8_t *at = *pp;
	uint64_t n;
	int vr = pw_varint(pp, end, &n);
	if (PW_UNLIKELY(vr != PW_OK))
		return varint_fail(d, vr, at, what);
	if (PW_UNLIKELY(n > (uint64_t)(end - *pp)))
		return fail(d, EMBER_EINVAL, at,
			    "%s: length %llu runs past the end of its message (%zu bytes left)",
			    what, (unsigned long long)n, (size_t)(end - *pp));
	*sub_end = *pp + n;
	return 0;
}

__attribute__((cold, noinline))
static int wrong_wt(struct dec *d, const uint8_t *at, const char *what, uint32_t field,
		    uint32_t wt)
{
	return fail(d, EMBER_EINVAL, at, "%s: field %u has wrong wire type %u", what, field,
		    wt);
}

/* Skips the payload of a field whose key (field, wt) was just read. */
static int skip_field(struct dec *d, const uint8_t **pp, const uint8_t *end, uint32_t field,
		      uint32_t wt, const char *what)
{
	const uint8_t *at = *pp, *sub = NULL;
	uint64_t v;
	uint32_t stack[MAX_GROUP_DEPTH];
	int depth = 0;

	for (;;) {
		switch (wt) {
		case PW_VARINT:
			if (get_varint(d, pp, end, &v, what))
				return EMBER_EINVAL;
			break;
		case PW_I64:
			if (end - *pp < 8)
				return fail(d, EMBER_EINVAL, *pp, "%s: fixed64 runs past the end",
					    what);
			*pp += 8;
			break;
		case PW_I32:
			if (end - *pp < 4)
				return fail(d, EMBER_EINVAL, *pp, "%s: fixed32 runs past the end",
					    what);
			*pp += 4;
			break;
		case PW_LEN:
			if (get_len(d, pp, end, &sub, what))
				return EMBER_EINVAL;
			*pp = sub;
			break;
		case PW_SGROUP:
			if (depth == MAX_GROUP_DEPTH)
				return fail(d, EMBER_EINVAL, at, "%s: groups nested deeper than %d",
					    what, MAX_GROUP_DEPTH);
			stack[depth++] = field;
			break;
		case PW_EGROUP:
			if (depth == 0)
				return fail(d, EMBER_EINVAL, at,
					    "%s: end-group for field %u without a start", what,
					    field);
			if (stack[depth - 1] != field)
				return fail(d, EMBER_EINVAL, at,
					    "%s: end-group for field %u closes group %u", what,
					    field, stack[depth - 1]);
			depth--;
			break;
		default:
			return fail(d, EMBER_EINVAL, at, "%s: invalid wire type %u", what, wt);
		}
		if (depth == 0)
			return 0;
		if (*pp >= end)
			return fail(d, EMBER_EINVAL, at, "%s: group for field %u is not closed",
				    what, stack[depth - 1]);
		at = *pp;
		if (get_tag(d, pp, end, &field, &wt, what))
			return EMBER_EINVAL;
	}
}

/* ---- pass 1: counting -------------------------------------------------------------- */

/* Counts the elements of a repeated scalar field (packed or not). */
static inline int count_scalars(struct dec *d, const uint8_t **pp, const uint8_t *end,
				uint32_t field, uint32_t wt, size_t *n, const char *what)
{
	const uint8_t *at = *pp, *sub = NULL;
	uint64_t v;
	if (wt == PW_VARINT) {
		if (get_varint(d, pp, end, &v, what))
			return EMBER_EINVAL;
		(*n)++;
		return 0;
	}
	if (wt != PW_LEN)
		return wrong_wt(d, at, what, field, wt);
	if (get_len(d, pp, end, &sub, what))
		return EMBER_EINVAL;
	*n += pw_count_varints(*pp, (size_t)(sub - *pp));
	*pp = sub;
	return 0;
}

static int count_sample(struct dec *d, const uint8_t *p, const uint8_t *end, struct counts *c)
{
	uint32_t field = 0, wt = 0;
	const uint8_t *at, *sub = NULL;
	size_t labels = 0;
	while (p < end) {
		if (get_tag(d, &p, end, &field, &wt, "sample"))
			return EMBER_EINVAL;
		at = p;
		switch (field) {
		case 1:
			if (count_scalars(d, &p, end, field, wt, &c->loc_ids, "sample.location_id"))
				return EMBER_EINVAL;
			break;
		case 2:
			if (count_scalars(d, &p, end, field, wt, &c->values, "sample.value"))
				return EMBER_EINVAL;
			break;
		case 3:
			if (wt != PW_LEN)
				return wrong_wt(d, at, "sample", field, wt);
			if (get_len(d, &p, end, &sub, "sample.label"))
				return EMBER_EINVAL;
			p = sub;
			labels++;
			break;
		default:
			if (skip_field(d, &p, end, field, wt, "sample"))
				return EMBER_EINVAL;
		}
	}
	if (d->lim && d->lim->max_labels_per_sample && labels > d->lim->max_labels_per_sample)
		return fail(d, EMBER_ETOOBIG, NULL,
			    "sample %zu has %zu labels, more than the limit of %zu", c->samples,
			    labels, d->lim->max_labels_per_sample);
	c->labels += labels;
	return 0;
}

static int count_profile(struct dec *d, const uint8_t *p, const uint8_t *end, struct counts *c)
{
	int rc;
	uint32_t field = 0, wt = 0;
	const uint8_t *at, *sub = NULL;
	while (p < end) {
		if (get_tag(d, &p, end, &field, &wt, "profile"))
			return EMBER_EINVAL;
		at = p;
		switch (field) {
		case 1: case 2: case 3: case 4: case 5: case 6: case 11:
			if (wt != PW_LEN)
				return wrong_wt(d, at, "profile", field, wt);
			if (get_len(d, &p, end, &sub, "profile"))
				return EMBER_EINVAL;
			switch (field) {
			case 1:
				c->sample_types++;
				break;
			case 2:
				if ((rc = count_sample(d, p, sub, c)))
					return rc;
				c->samples++;
				break;
			case 3:
				c->mappings++;
				break;
			case 4:
				/* Lines are not counted exactly: each Line inside costs at least
				 * two varint-ending bytes (key and length), so half of those is a
				 * bound. Saves parsing every location twice; pass 2 checks it. */
				c->lines += pw_count_varints(p, (size_t)(sub - p)) / 2;
				c->locations++;
				break;
			case 5:
				c->functions++;
				break;
			case 6:
				c->strings++;
				break;
			}
			p = sub;
			break;
		case 13:
			if (count_scalars(d, &p, end, field, wt, &c->comments, "profile.comment"))
				return EMBER_EINVAL;
			break;
		case 7: case 8: case 9: case 10: case 12: case 14:
			if (wt != PW_VARINT)
				return wrong_wt(d, at, "profile", field, wt);
			/* fall through */
		default:
			if (skip_field(d, &p, end, field, wt, "profile"))
				return EMBER_EINVAL;
		}
	}
	return 0;
}

/* ---- pass 2: filling ----------------------------------------------------------------- */

/* Decodes a message made only of varint fields 1..n into f[0..n) (fields absent keep their
 * value; unknown fields are skipped). */
static int dec_varints(struct dec *d, const uint8_t *p, const uint8_t *end, uint64_t *f,
		       uint32_t n, const char *what)
{
	uint32_t field = 0, wt = 0;
	while (p < end) {
		if (get_tag(d, &p, end, &field, &wt, what))
			return EMBER_EINVAL;
		if (field <= n) {
			if (wt != PW_VARINT)
				return wrong_wt(d, p, what, field, wt);
			if (get_varint(d, &p, end, &f[field - 1], what))
				return EMBER_EINVAL;
		} else if (skip_field(d, &p, end, field, wt, what)) {
			return EMBER_EINVAL;
		}
	}
	return 0;
}

static int dec_value_type(struct dec *d, const uint8_t *p, const uint8_t *end,
			  struct pprof_value_type *vt)
{
	uint64_t f[2] = {(uint64_t)vt->type, (uint64_t)vt->unit};
	if (dec_varints(d, p, end, f, 2, "value_type"))
		return EMBER_EINVAL;
	vt->type = (int64_t)f[0];
	vt->unit = (int64_t)f[1];
	return 0;
}

__attribute__((cold, noinline))
static int pool_overrun(struct dec *d, const uint8_t *at)
{
	/* Cannot happen: pass 1 counted the same bytes. Kept so a bug cannot write out of
	 * bounds. */
	return fail(d, EMBER_EINVAL, at, "element counts changed between passes");
}

/* Appends the elements of a repeated scalar field (packed or not) to arr[*pos..cap). */
static inline int dec_scalars(struct dec *d, const uint8_t **pp, const uint8_t *end,
			      uint32_t field, uint32_t wt, uint64_t *arr, size_t *pos, size_t cap,
			      const char *what)
{
	const uint8_t *p = *pp, *sub = NULL;
	size_t k = *pos;
	if (wt == PW_VARINT) {
		uint64_t v;
		if (get_varint(d, &p, end, &v, what))
			return EMBER_EINVAL;
		if (k == cap)
			return pool_overrun(d, p);
		arr[k] = v;
		*pos = k + 1;
		*pp = p;
		return 0;
	}
	if (wt != PW_LEN)
		return wrong_wt(d, p, what, field, wt);
	if (get_len(d, &p, end, &sub, what))
		return EMBER_EINVAL;
	while (p < sub) {
		uint64_t v = *p;
		if (PW_LIKELY(v < 0x80)) {
			p++;
		} else if (PW_LIKELY(sub - p >= 10)) {
			const uint8_t *q = pw_varint10(p, &v);
			if (!q)
				return varint_fail(d, PW_OVERLONG, p, what);
			p = q;
		} else if (get_varint(d, &p, sub, &v, what)) {
			return EMBER_EINVAL;
		}
		if (PW_UNLIKELY(k == cap))
			return pool_overrun(d, p);
		arr[k++] = v;
	}
	*pos = k;
	*pp = p;
	return 0;
}

static int dec_sample(struct dec *d, const uint8_t *p, const uint8_t *end,
		      struct pprof_sample *s)
{
	uint32_t field = 0, wt = 0;
	const uint8_t *sub = NULL;
	size_t loc0 = d->n_loc_ids, val0 = d->n_values, lab0 = d->n_labels;
	while (p < end) {
		if (get_tag(d, &p, end, &field, &wt, "sample"))
			return EMBER_EINVAL;
		switch (field) {
		case 1:
			if (dec_scalars(d, &p, end, field, wt, d->loc_ids, &d->n_loc_ids,
					d->cap.loc_ids, "sample.location_id"))
				return EMBER_EINVAL;
			break;
		case 2:
			if (dec_scalars(d, &p, end, field, wt, d->values, &d->n_values,
					d->cap.values, "sample.value"))
				return EMBER_EINVAL;
			break;
		case 3: {
			if (wt != PW_LEN)
				return wrong_wt(d, p, "sample", field, wt);
			if (get_len(d, &p, end, &sub, "sample.label"))
				return EMBER_EINVAL;
			if (d->n_labels == d->cap.labels)
				return pool_overrun(d, p);
			uint64_t f[4] = {0, 0, 0, 0};
			if (dec_varints(d, p, sub, f, 4, "label"))
				return EMBER_EINVAL;
			struct pprof_label *l = &d->labels[d->n_labels++];
			l->key = (int64_t)f[0];
			l->str = (int64_t)f[1];
			l->num = (int64_t)f[2];
			l->num_unit = (int64_t)f[3];
			p = sub;
			break;
		}
		default:
			if (skip_field(d, &p, end, field, wt, "sample"))
				return EMBER_EINVAL;
		}
	}
	s->location_ids = d->n_loc_ids > loc0 ? d->loc_ids + loc0 : NULL;
	s->n_location_ids = d->n_loc_ids - loc0;
	s->values = d->n_values > val0 ? (int64_t *)(d->values + val0) : NULL;
	s->n_values = d->n_values - val0;
	s->labels = d->n_labels > lab0 ? d->labels + lab0 : NULL;
	s->n_labels = d->n_labels - lab0;
	size_t max = d->lim ? d->lim->max_locations_per_sample : 0;
	if (max && s->n_location_ids > max) {
		s->location_ids += s->n_location_ids - max;
		s->n_location_ids = max;
	}
	return 0;
}

static int dec_location(struct dec *d, const uint8_t *p, const uint8_t *end,
			struct pprof_location *l)
{
	uint32_t field = 0, wt = 0;
	const uint8_t *sub = NULL;
	uint64_t f[5] = {0, 0, 0, 0, 0};
	size_t line0 = d->n_lines;
	while (p < end) {
		if (get_tag(d, &p, end, &field, &wt, "location"))
			return EMBER_EINVAL;
		if (field == 4) {
			if (wt != PW_LEN)
				return wrong_wt(d, p, "location", field, wt);
			if (get_len(d, &p, end, &sub, "location.line"))
				return EMBER_EINVAL;
			if (d->n_lines == d->cap.lines)
				return pool_overrun(d, p);
			uint64_t lf[2] = {0, 0};
			if (dec_varints(d, p, sub, lf, 2, "line"))
				return EMBER_EINVAL;
			struct pprof_line *ln = &d->lines[d->n_lines++];
			ln->function_id = lf[0];
			ln->line = (int64_t)lf[1];
			p = sub;
		} else if (field <= 5) {
			if (wt != PW_VARINT)
				return wrong_wt(d, p, "location", field, wt);
			if (get_varint(d, &p, end, &f[field - 1], "location"))
				return EMBER_EINVAL;
		} else if (skip_field(d, &p, end, field, wt, "location")) {
			return EMBER_EINVAL;
		}
	}
	l->id = f[0];
	l->mapping_id = f[1];
	l->address = f[2];
	l->is_folded = f[4] != 0;
	l->lines = d->n_lines > line0 ? d->lines + line0 : NULL;
	l->n_lines = d->n_lines - line0;
	return 0;
}

static int dec_function(struct dec *d, const uint8_t *p, const uint8_t *end,
			struct pprof_function *fn)
{
	uint64_t f[5] = {0, 0, 0, 0, 0};
	if (dec_varints(d, p, end, f, 5, "function"))
		return EMBER_EINVAL;
	fn->id = f[0];
	fn->name = (int64_t)f[1];
	fn->system_name = (int64_t)f[2];
	fn->filename = (int64_t)f[3];
	fn->start_line = (int64_t)f[4];
	return 0;
}

static int dec_mapping(struct dec *d, const uint8_t *p, const uint8_t *end,
		       struct pprof_mapping *m)
{
	uint64_t f[10] = {0};
	if (dec_varints(d, p, end, f, 10, "mapping"))
		return EMBER_EINVAL;
	m->id = f[0];
	m->memory_start = f[1];
	m->memory_limit = f[2];
	m->file_offset = f[3];
	m->filename = (int64_t)f[4];
	m->build_id = (int64_t)f[5];
	m->has_functions = f[6] != 0;
	m->has_filenames = f[7] != 0;
	m->has_line_numbers = f[8] != 0;
	m->has_inline_frames = f[9] != 0;
	return 0;
}

/* Keeps the last max bytes of s, moved forward to a UTF-8 character start. */
static struct slice cut_string(struct slice s, size_t max)
{
	if (s.n <= max)
		return s;
	size_t skip = s.n - max;
	while (skip < s.n && (s.p[skip] & 0xc0) == 0x80)
		skip++;
	return slice_make(s.p + skip, s.n - skip);
}

static int dec_profile(struct dec *d, const uint8_t *p, const uint8_t *end,
		       struct pprof_profile *out)
{
	uint32_t field = 0, wt = 0;
	const uint8_t *sub = NULL;
	size_t n_st = 0, n_s = 0, n_m = 0, n_l = 0, n_f = 0, n_str = 0, n_c = 0;
	size_t max_str = d->lim ? d->lim->max_string_len : 0;
	uint64_t v;
	while (p < end) {
		if (get_tag(d, &p, end, &field, &wt, "profile"))
			return EMBER_EINVAL;
		const uint8_t *at = p;
		switch (field) {
		case 1: case 2: case 3: case 4: case 5: case 6: case 11:
			if (wt != PW_LEN)
				return wrong_wt(d, at, "profile", field, wt);
			if (get_len(d, &p, end, &sub, "profile"))
				return EMBER_EINVAL;
			switch (field) {
			case 1:
				if (n_st == d->cap.sample_types)
					return pool_overrun(d, at);
				out->sample_types[n_st] = (struct pprof_value_type){0, 0};
				if (dec_value_type(d, p, sub, &out->sample_types[n_st++]))
					return EMBER_EINVAL;
				break;
			case 2:
				if (n_s == d->cap.samples)
					return pool_overrun(d, at);
				if (dec_sample(d, p, sub, &out->samples[n_s]))
					return EMBER_EINVAL;
				n_s++;
				break;
			case 3:
				if (n_m == d->cap.mappings)
					return pool_overrun(d, at);
				if (dec_mapping(d, p, sub, &out->mappings[n_m++]))
					return EMBER_EINVAL;
				break;
			case 4:
				if (n_l == d->cap.locations)
					return pool_overrun(d, at);
				if (dec_location(d, p, sub, &out->locations[n_l++]))
					return EMBER_EINVAL;
				break;
			case 5:
				if (n_f == d->cap.functions)
					return pool_overrun(d, at);
				if (dec_function(d, p, sub, &out->functions[n_f++]))
					return EMBER_EINVAL;
				break;
			case 6: {
				if (n_str == d->cap.strings)
					return pool_overrun(d, at);
				struct slice s = slice_make(p, (size_t)(sub - p));
				out->strings[n_str++] = max_str ? cut_string(s, max_str) : s;
				break;
			}
			case 11:
				/* A repeated singular message merges, as protobuf requires. */
				if (dec_value_type(d, p, sub, &out->period_type))
					return EMBER_EINVAL;
				break;
			}
			p = sub;
			break;
		case 13:
			if (dec_scalars(d, &p, end, field, wt, (uint64_t *)out->comments, &n_c,
					d->cap.comments, "profile.comment"))
				return EMBER_EINVAL;
			break;
		case 7: case 8: case 9: case 10: case 12: case 14:
			if (wt != PW_VARINT)
				return wrong_wt(d, at, "profile", field, wt);
			if (get_varint(d, &p, end, &v, "profile"))
				return EMBER_EINVAL;
			switch (field) {
			case 7: out->drop_frames = (int64_t)v; break;
			case 8: out->keep_frames = (int64_t)v; break;
			case 9: out->time_nanos = (int64_t)v; break;
			case 10: out->duration_nanos = (int64_t)v; break;
			case 12: out->period = (int64_t)v; break;
			case 14: out->default_sample_type = (int64_t)v; break;
			}
			break;
		default:
			if (skip_field(d, &p, end, field, wt, "profile"))
				return EMBER_EINVAL;
		}
	}
	if (n_st != d->cap.sample_types || n_s != d->cap.samples || n_m != d->cap.mappings ||
	    n_l != d->cap.locations || n_f != d->cap.functions || n_str != d->cap.strings ||
	    n_c != d->cap.comments || d->n_loc_ids != d->cap.loc_ids ||
	    d->n_values != d->cap.values || d->n_labels != d->cap.labels ||
	    d->n_lines > d->cap.lines)
		return fail(d, EMBER_EINVAL, NULL, "element counts changed between passes");
	out->n_sample_types = n_st;
	out->n_samples = n_s;
	out->n_mappings = n_m;
	out->n_locations = n_l;
	out->n_functions = n_f;
	out->n_strings = n_str;
	out->n_comments = n_c;
	return 0;
}

/* Carves every array out of one arena allocation: one malloc per profile instead of a
 * dozen. Each array starts 16-byte aligned. */
struct carve {
	size_t off[11];
	size_t total;
	bool overflow;
};

static void carve_add(struct carve *c, unsigned i, size_t n, size_t size)
{
	size_t bytes;
	c->off[i] = c->total;
	if (__builtin_mul_overflow(n, size, &bytes) || bytes > SIZE_MAX - 15 ||
	    __builtin_add_overflow(c->total, (bytes + 15) & ~(size_t)15, &c->total))
		c->overflow = true;
}

static void *carve_at(uint8_t *base, const struct carve *c, unsigned i, size_t n)
{
	return n ? base + c->off[i] : NULL;
}

int pprof_decode(struct slice in, struct arena *a, const struct pprof_limits *lim,
		 struct pprof_profile *out, char *err, size_t errlen)
{
	int rc = EMBER_EINVAL;
	struct dec d = {.base = in.p, .err = err, .errlen = errlen, .lim = lim};
	struct counts c = {0};
	const uint8_t *p = in.p, *end = in.p + in.n;

	memset(out, 0, sizeof(*out));
	if (errlen)
		err[0] = '\0';
	if (in.n == 0) /* an empty message is a valid (empty) profile */
		return 0;
	rc = count_profile(&d, p, end, &c);
	if (rc)
		goto out;
	if (lim && lim->max_samples && c.samples > lim->max_samples) {
		rc = fail(&d, EMBER_ETOOBIG, NULL,
			  "profile has %zu samples, more than the limit of %zu", c.samples,
			  lim->max_samples);
		goto out;
	}
	d.cap = c;
	struct carve cv = {{0}, 0, false};
	carve_add(&cv, 0, c.sample_types, sizeof(*out->sample_types));
	carve_add(&cv, 1, c.samples, sizeof(*out->samples));
	carve_add(&cv, 2, c.mappings, sizeof(*out->mappings));
	carve_add(&cv, 3, c.locations, sizeof(*out->locations));
	carve_add(&cv, 4, c.functions, sizeof(*out->functions));
	carve_add(&cv, 5, c.strings, sizeof(*out->strings));
	carve_add(&cv, 6, c.comments, sizeof(*out->comments));
	carve_add(&cv, 7, c.loc_ids, sizeof(*d.loc_ids));
	carve_add(&cv, 8, c.values, sizeof(*d.values));
	carve_add(&cv, 9, c.labels, sizeof(*d.labels));
	carve_add(&cv, 10, c.lines, sizeof(*d.lines));
	uint8_t *mem = NULL;
	if (cv.overflow || (cv.total && !(mem = arena_try_alloc(a, cv.total)))) {
		rc = fail(&d, EMBER_ENOMEM, NULL,
			  "arena refused %zu bytes for %zu samples, %zu locations, %zu functions, "
			  "%zu strings",
			  cv.total, c.samples, c.locations, c.functions, c.strings);
		goto out;
	}
	out->sample_types = carve_at(mem, &cv, 0, c.sample_types);
	out->samples = carve_at(mem, &cv, 1, c.samples);
	out->mappings = carve_at(mem, &cv, 2, c.mappings);
	out->locations = carve_at(mem, &cv, 3, c.locations);
	out->functions = carve_at(mem, &cv, 4, c.functions);
	out->strings = carve_at(mem, &cv, 5, c.strings);
	out->comments = carve_at(mem, &cv, 6, c.comments);
	d.loc_ids = carve_at(mem, &cv, 7, c.loc_ids);
	d.values = carve_at(mem, &cv, 8, c.values);
	d.labels = carve_at(mem, &cv, 9, c.labels);
	d.lines = carve_at(mem, &cv, 10, c.lines);
	rc = dec_profile(&d, p, end, out);
	if (rc)
		goto out;
	rc = pprof_resolve(out, a);
	if (rc)
		fail(&d, rc, NULL, "arena refused memory for id lookup tables");
out:
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* ---- id lookups ---------------------------------------------------------------------- */

static int cmp_pair(const void *a, const void *b)
{
	const struct pprof_idpair *x = a, *y = b;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Elements are `stride` bytes apart with their uint64_t id first. */
static int idmap_build(struct pprof_idmap *m, struct arena *a, const void *base, size_t n,
		       size_t stride)
{
	const uint8_t *b = base;
	uint64_t max = 0;
	size_t nonzero = 0;
	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < n; i++) {
		uint64_t id;
		memcpy(&id, b + i * stride, sizeof(id));
		if (id > max)
			max = id;
		nonzero += id != 0;
	}
	if (nonzero == 0)
		return 0;
	if (n < UINT32_MAX && max <= 2 * (uint64_t)n + 64) {
		size_t len = (size_t)max + 1;
		uint32_t *t = arena_try_alloc(a, len * sizeof(*t));
		if (!t)
			return EMBER_ENOMEM;
		memset(t, 0, len * sizeof(*t));
		for (size_t i = 0; i < n; i++) {
			uint64_t id;
			memcpy(&id, b + i * stride, sizeof(id));
			if (id == 0)
				continue;
			if (t[id]) {
				if (!m->dup_id)
					m->dup_id = id;
				continue;
			}
			t[id] = (uint32_t)i + 1;
		}
		m->direct = t;
		m->n_direct = len;
		return 0;
	}
	struct pprof_idpair *s = arena_try_alloc(a, nonzero * sizeof(*s));
	if (!s)
		return EMBER_ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t id;
		memcpy(&id, b + i * stride, sizeof(id));
		if (id)
			s[k++] = (struct pprof_idpair){id, i};
	}
	sort_n(s, k, sizeof(*s), cmp_pair);
	size_t w = 0;
	for (size_t i = 0; i < k; i++) {
		if (w && s[w - 1].id == s[i].id) {
			if (!m->dup_id)
				m->dup_id = s[i].id;
			continue;
		}
		s[w++] = s[i];
	}
	m->sorted = s;
	m->n_sorted = w;
	return 0;
}

_Static_assert(offsetof(struct pprof_location, id) == 0, "id first");
_Static_assert(offsetof(struct pprof_function, id) == 0, "id first");
_Static_assert(offsetof(struct pprof_mapping, id) == 0, "id first");

int pprof_resolve(struct pprof_profile *p, struct arena *a)
{
	int rc = idmap_build(&p->location_map, a, p->locations, p->n_locations,
			     sizeof(*p->locations));
	if (!rc)
		rc = idmap_build(&p->function_map, a, p->functions, p->n_functions,
				 sizeof(*p->functions));
	if (!rc)
		rc = idmap_build(&p->mapping_map, a, p->mappings, p->n_mappings,
				 sizeof(*p->mappings));
	return rc;
}

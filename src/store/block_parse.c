/* block_parse: decoding of the index, a partition's symbols and a series' profiles from
 * memory, trusting nothing: every count is capped by the bytes left, every id checked
 * against what it refers to, every section must end exactly where its bytes end. */
#include "store/block_internal.h"

/* The label/posting arrays are built with offsets while parsing (they grow), and turned
 * into pointers once complete. */
struct series_tmp {
	size_t label_start;
};

static int fail(char *err, size_t errlen, const char *name, const char *what, const struct block_rd *r)
{
	snprintf(err, errlen, "%s: %s%s%s", name, what ? what : "", what ? ": " : "", r->why ? r->why : "bad data");
	return EMBER_ECORRUPT;
}

void block__index_release(struct block_index *ix)
{
	buf_release(&ix->body);
	free(ix->partitions);
	free(ix->strings);
	free(ix->series);
	free(ix->label_mem);
	free(ix->names);
	free(ix->posting_mem);
	free(ix->value_mem);
	memset(ix, 0, sizeof(*ix));
}

static int parse_index_body(struct block_index *out, char *err, size_t errlen);

int block__parse_index(struct slice file, struct block_index *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	int rc = block__check_file_header(file, "index", BLOCK_MAGIC_INDEX, err, errlen);
	if (rc)
		return rc;
	rc = block__read_section(slice_make(file.p + BLOCK_FILE_HEADER, file.n - BLOCK_FILE_HEADER), "index",
				 "section", &out->body, err, errlen);
	if (rc) {
		block__index_release(out);
		return rc;
	}
	return parse_index_body(out, err, errlen);
}

int block__parse_index_raw(struct slice raw, struct block_index *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	buf_append(&out->body, raw.p, raw.n);
	return parse_index_body(out, err, errlen);
}

/* Parses out->body; on failure releases out. */
static int parse_index_body(struct block_index *out, char *err, size_t errlen)
{
	int rc;
	struct block_ix_value *values = NULL;
	size_t n_values = 0, cap_values = 0, n_posting = 0, cap_posting = 0, n_lab = 0, cap_lab = 0;
	size_t *value_first = NULL; /* per name: index of its first value */
	size_t *ids_first = NULL, cap_ids_first = 0;
	size_t *label_start = NULL;
	struct block_rd r = {out->body.p, out->body.p + out->body.n, NULL};
	struct block_index *ix = out;

	struct slice ulid = block__get_bytes(&r, BLOCK_ULID_LEN);
	if (!r.why && !block__ulid_valid((const char *)ulid.p, ulid.n))
		block__fail(&r, "invalid ULID");
	if (!r.why)
		memcpy(ix->ulid, ulid.p, BLOCK_ULID_LEN);
	ix->tenant = block__get_bytes(&r, block__get_count(&r, 1));
	if (!r.why && (ix->tenant.n == 0 || ix->tenant.n >= sizeof(((struct block_meta *)0)->tenant) ||
		       memchr(ix->tenant.p, 0, ix->tenant.n)))
		block__fail(&r, "invalid tenant");
	struct slice c = block__get_bytes(&r, 4);
	if (!r.why)
		ix->meta_crc = (uint32_t)c.p[0] | (uint32_t)c.p[1] << 8 | (uint32_t)c.p[2] << 16 |
			       (uint32_t)c.p[3] << 24;
	ix->min_t = block__get_varint(&r);
	ix->max_t = block__get_varint(&r);
	if (!r.why && ix->min_t > ix->max_t)
		block__fail(&r, "min time after max time");
	ix->n_profiles = block__get_uvarint(&r);
	ix->n_samples = block__get_uvarint(&r);
	ix->symbols_size = block__get_uvarint(&r);
	ix->profiles_size = block__get_uvarint(&r);
	if (!r.why && (ix->symbols_size < BLOCK_FILE_HEADER || ix->profiles_size < BLOCK_FILE_HEADER))
		block__fail(&r, "file size smaller than a header");

	/* Partitions: sections tile the symbols file in order. */
	ix->n_partitions = block__get_count(&r, 3);
	ix->partitions = xcalloc(ix->n_partitions + 1, sizeof(*ix->partitions));
	uint64_t pos = BLOCK_FILE_HEADER;
	for (size_t i = 0; i < ix->n_partitions && !r.why; i++) {
		struct block_ix_partition *p = &ix->partitions[i];
		p->service = block__get_bytes(&r, block__get_count(&r, 1));
		p->off = block__get_uvarint(&r);
		p->len = block__get_uvarint(&r);
		if (!r.why && (p->off != pos || p->len < BLOCK_SECTION_HEADER || p->len > ix->symbols_size - pos))
			block__fail(&r, "partition section outside the symbols file");
		pos += p->len;
	}
	if (!r.why && pos != ix->symbols_size)
		block__fail(&r, "partition sections do not cover the symbols file");

	/* Label strings: ascending and unique, so ids compare like the strings. */
	ix->n_strings = block__get_count(&r, 1);
	ix->strings = xcalloc(ix->n_strings + 1, sizeof(*ix->strings));
	for (size_t i = 0; i < ix->n_strings && !r.why; i++) {
		ix->strings[i] = block__get_bytes(&r, block__get_count(&r, 1));
		if (!r.why && i && slice_cmp(ix->strings[i - 1], ix->strings[i]) >= 0)
			block__fail(&r, "label strings not ascending");
	}

	/* Series. */
	ix->n_series = block__get_count(&r, 8);
	ix->series = xcalloc(ix->n_series + 1, sizeof(*ix->series));
	label_start = xcalloc(ix->n_series + 1, sizeof(*label_start));
	pos = BLOCK_FILE_HEADER;
	uint64_t sum_p = 0, sum_s = 0;
	int64_t seen_min = INT64_MAX, seen_max = INT64_MIN;
	for (size_t i = 0; i < ix->n_series && !r.why; i++) {
		struct block_ix_series *s = &ix->series[i];
		size_t nl = block__get_count(&r, 2);
		label_start[i] = n_lab;
		s->labels.n = nl;
		XGROW(ix->label_mem, cap_lab, n_lab + nl + 1);
		uint32_t prev_name = 0;
		for (size_t k = 0; k < nl && !r.why; k++) {
			uint32_t name = block__get_id(&r, ix->n_strings, "label name id out of range");
			uint32_t value = block__get_id(&r, ix->n_strings, "label value id out of range");
			if (!r.why && k && name <= prev_name)
				block__fail(&r, "series labels not sorted");
			prev_name = name;
			if (!r.why) {
				ix->label_mem[n_lab].name = ix->strings[name];
				ix->label_mem[n_lab].value = ix->strings[value];
				n_lab++;
			}
		}
		s->partition = block__get_id(&r, ix->n_partitions, "series partition out of range");
		s->min_t = block__get_varint(&r);
		uint64_t span = block__get_uvarint(&r);
		if (!r.why && (span > (uint64_t)INT64_MAX || __builtin_add_overflow(s->min_t, (int64_t)span, &s->max_t)))
			block__fail(&r, "series time range overflows");
		s->n_profiles = block__get_uvarint(&r);
		s->n_samples = block__get_uvarint(&r);
		s->off = block__get_uvarint(&r);
		s->len = block__get_uvarint(&r);
		if (r.why)
			break;
		if (s->n_profiles == 0)
			block__fail(&r, "series without profiles");
		else if (s->off != pos || s->len < BLOCK_SECTION_HEADER || s->len > ix->profiles_size - pos)
			block__fail(&r, "series section outside the profiles file");
		else if (__builtin_add_overflow(sum_p, s->n_profiles, &sum_p) ||
			 __builtin_add_overflow(sum_s, s->n_samples, &sum_s))
			block__fail(&r, "profile counts overflow");
		pos += s->len;
		seen_min = EMBER_MIN(seen_min, s->min_t);
		seen_max = EMBER_MAX(seen_max, s->max_t);
	}
	if (!r.why && pos != ix->profiles_size)
		block__fail(&r, "series sections do not cover the profiles file");
	if (!r.why && (sum_p != ix->n_profiles || sum_s != ix->n_samples))
		block__fail(&r, "series counts do not add up to the block's");
	if (!r.why && ix->n_series && (seen_min != ix->min_t || seen_max != ix->max_t))
		block__fail(&r, "series time ranges do not match the block's");
	if (!r.why && !ix->n_series)
		block__fail(&r, "no series");

	/* Postings. */
	ix->n_names = block__get_count(&r, 2);
	ix->names = xcalloc(ix->n_names + 1, sizeof(*ix->names));
	value_first = xcalloc(ix->n_names + 1, sizeof(*value_first));
	for (size_t i = 0; i < ix->n_names && !r.why; i++) {
		struct block_ix_name *nm = &ix->names[i];
		nm->name = block__get_id(&r, ix->n_strings, "postings name id out of range");
		if (!r.why && i && nm->name <= ix->names[i - 1].name)
			block__fail(&r, "postings names not ascending");
		nm->n_values = block__get_count(&r, 3);
		value_first[i] = n_values;
		for (size_t k = 0; k < nm->n_values && !r.why; k++) {
			XGROW(values, cap_values, n_values + 1);
			XGROW(ids_first, cap_ids_first, n_values + 1);
			struct block_ix_value *v = &values[n_values];
			v->value = block__get_id(&r, ix->n_strings, "postings value id out of range");
			if (!r.why && k && v->value <= values[n_values - 1].value)
				block__fail(&r, "postings values not ascending");
			v->n = (uint32_t)block__get_count(&r, 1);
			if (!r.why && v->n == 0)
				block__fail(&r, "empty posting list");
			ids_first[n_values] = n_posting;
			XGROW(ix->posting_mem, cap_posting, n_posting + v->n + 1);
			uint64_t id = 0;
			for (uint32_t q = 0; q < v->n && !r.why; q++) {
				uint64_t d = block__get_uvarint(&r);
				if (!r.why && ((q && d == 0) || d >= ix->n_series || id + d >= ix->n_series))
					block__fail(&r, "posting series id out of range or not ascending");
				id += d;
				ix->posting_mem[n_posting++] = (uint32_t)id;
			}
			n_values++;
		}
	}
	if (!r.why && r.p != r.end)
		block__fail(&r, "trailing bytes");
	if (r.why) {
		rc = fail(err, errlen, "index", NULL, &r);
		free(values);
		block__index_release(out);
		goto out;
	}
	for (size_t i = 0; i < ix->n_series; i++)
		ix->series[i].labels.v = ix->label_mem + label_start[i];
	for (size_t i = 0; i < n_values; i++)
		values[i].ids = ix->posting_mem + ids_first[i];
	for (size_t i = 0; i < ix->n_names; i++)
		ix->names[i].values = values + value_first[i];
	ix->value_mem = values;
	rc = 0;
out:
	free(value_first);
	free(ids_first);
	free(label_start);
	return rc;
}

const struct block_ix_value *block__postings(const struct block_index *ix, struct slice name, struct slice value)
{
	size_t lo = 0, hi = ix->n_names;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = slice_cmp(ix->strings[ix->names[mid].name], name);
		if (c == 0) {
			const struct block_ix_name *nm = &ix->names[mid];
			size_t a = 0, b = nm->n_values;
			while (a < b) {
				size_t m = a + (b - a) / 2;
				int d = slice_cmp(ix->strings[nm->values[m].value], value);
				if (d == 0)
					return &nm->values[m];
				if (d < 0)
					a = m + 1;
				else
					b = m;
			}
			return NULL;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ---- symbols ------------------------------------------------------------------------- */

int block__parse_symbols(struct slice raw, uint32_t partition, struct symbols *s, char *err, size_t errlen)
{
	symbols_init(s);
	struct block_rd r = {raw.p, raw.p + raw.n, NULL};
	struct strtab *t = &s->strings;
	size_t n = block__get_count(&r, 1);
	if (!r.why && n == 0)
		block__fail(&r, "no strings");
	XGROW(t->strs, t->cap, n + 1);
	for (size_t i = 0; i < n && !r.why; i++) {
		struct slice str = block__get_bytes(&r, block__get_count(&r, 1));
		if (r.why)
			break;
		if (i == 0) {
			if (str.n)
				block__fail(&r, "string 0 is not empty");
			continue;
		}
		char *copy = arena_alloc(&t->mem, str.n + 1);
		if (str.n)
			memcpy(copy, str.p, str.n);
		t->strs[i] = slice_make(copy, str.n);
		t->bytes += str.n;
		t->n = i + 1;
	}
	size_t n_strings = r.why ? 0 : n;

	n = block__get_count(&r, 6);
	XGROW(s->mappings, s->cap_mappings, n + 1);
	for (size_t i = 0; i < n && !r.why; i++) {
		struct sym_mapping *m = &s->mappings[i + 1];
		m->memory_start = block__get_uvarint(&r);
		m->memory_limit = block__get_uvarint(&r);
		m->file_offset = block__get_uvarint(&r);
		m->filename = block__get_id(&r, n_strings, "mapping file name id out of range");
		m->build_id = block__get_id(&r, n_strings, "mapping build id out of range");
		uint8_t f = block__get_byte(&r);
		if (f > 15)
			block__fail(&r, "unknown mapping flags");
		m->has_functions = f & 1;
		m->has_filenames = f >> 1 & 1;
		m->has_line_numbers = f >> 2 & 1;
		m->has_inline_frames = f >> 3 & 1;
		if (!r.why)
			s->n_mappings = i + 2;
	}

	n = block__get_count(&r, 4);
	XGROW(s->functions, s->cap_functions, n + 1);
	for (size_t i = 0; i < n && !r.why; i++) {
		struct sym_function *f = &s->functions[i + 1];
		f->name = block__get_id(&r, n_strings, "function name id out of range");
		f->system_name = block__get_id(&r, n_strings, "function system name id out of range");
		f->filename = block__get_id(&r, n_strings, "function file name id out of range");
		f->start_line = block__get_varint(&r);
		if (!r.why)
			s->n_functions = i + 2;
	}

	n = block__get_count(&r, 4);
	XGROW(s->locations, s->cap_locations, n + 1);
	for (size_t i = 0; i < n && !r.why; i++) {
		struct sym_location *l = &s->locations[i + 1];
		l->mapping = block__get_id(&r, s->n_mappings, "location mapping id out of range");
		l->address = block__get_uvarint(&r);
		uint8_t f = block__get_byte(&r);
		if (f > 1)
			block__fail(&r, "unknown location flags");
		l->is_folded = f;
		size_t nl = block__get_count(&r, 2);
		if (r.why)
			break;
		l->first_line = (uint32_t)s->n_lines;
		l->n_lines = (uint32_t)nl;
		XGROW(s->lines, s->cap_lines, s->n_lines + nl + 1);
		for (size_t k = 0; k < nl && !r.why; k++) {
			s->lines[s->n_lines + k].function =
				block__get_id(&r, s->n_functions, "line function id out of range");
			s->lines[s->n_lines + k].line = block__get_varint(&r);
		}
		if (r.why)
			break;
		s->n_lines += nl;
		if (s->n_lines > UINT32_MAX)
			block__fail(&r, "too many lines");
		s->n_locations = i + 2;
	}

	n = block__get_count(&r, 2);
	XGROW(s->nodes, s->cap_nodes, n + 1);
	for (size_t i = 1; i <= n && !r.why; i++) {
		uint64_t d = block__get_uvarint(&r);
		uint32_t loc = block__get_id(&r, s->n_locations, "stack node location id out of range");
		if (r.why)
			break;
		if (d == 0 || d > i) {
			block__fail(&r, "stack node parent out of range");
			break;
		}
		s->nodes[i].parent = (uint32_t)(i - d);
		s->nodes[i].location = loc;
		s->n_nodes = i + 1;
	}
	if (!r.why && r.p != r.end)
		block__fail(&r, "trailing bytes");
	if (r.why) {
		snprintf(err, errlen, "symbols: partition %u: %s", partition, r.why);
		symbols_release(s);
		return EMBER_ECORRUPT;
	}
	return 0;
}

/* ---- profiles ------------------------------------------------------------------------ */

void block__series_data_release(struct block_series_data *d)
{
	free(d->times);
	free(d->totals);
	free(d->counts);
	free(d->starts);
	free(d->stacks);
	free(d->values);
	free(d->ids);
	free(d->span_counts);
	free(d->span_starts);
	free(d->span_stacks);
	free(d->span_values);
	free(d->span_ids);
	memset(d, 0, sizeof(*d));
}

int block__parse_series(struct slice raw, uint32_t series, uint64_t n_profiles, uint64_t n_samples, size_t n_nodes,
			struct block_series_data *d, char *err, size_t errlen)
{
	return block__parse_series_version(raw, BLOCK_VERSION, series, n_profiles, n_samples, n_nodes, d, err, errlen);
}

/* Version 2's columns after the values: ids (n x 16 bytes), span counts (n x uvarint),
 * then per triple: stack delta (uvarint, stacks non-decreasing per profile), span id (8
 * bytes LE), value (varint). */
static void parse_ids_spans(struct block_rd *r, size_t n_nodes, struct block_series_data *d)
{
	size_t n = d->n;
	struct slice ids = block__get_bytes(r, n * HEAD_ID_LEN);
	if (r->why)
		return;
	memcpy(d->ids, ids.p, n * HEAD_ID_LEN);
	d->span_counts = xmalloc(n * sizeof(uint32_t));
	d->span_starts = xmalloc(n * sizeof(size_t));
	uint64_t sum = 0;
	for (size_t i = 0; i < n && !r->why; i++) {
		uint64_t c = block__get_uvarint(r);
		/* A triple takes at least 10 bytes: cap the total before allocating. */
		if (c > UINT32_MAX || c > block_rd_left(r) / 10 || sum + c > block_rd_left(r) / 10) {
			block__fail(r, "span count exceeds the bytes left");
			break;
		}
		d->span_starts[i] = (size_t)sum;
		d->span_counts[i] = (uint32_t)c;
		sum += c;
	}
	if (r->why)
		return;
	d->n_spans = (size_t)sum;
	d->span_stacks = xmalloc((sum + 1) * sizeof(uint32_t));
	d->span_values = xmalloc((sum + 1) * sizeof(int64_t));
	d->span_ids = xmalloc((sum + 1) * sizeof(uint64_t));
	for (size_t i = 0; i < n && !r->why; i++) {
		uint64_t prev = 0;
		for (uint32_t k = 0; k < d->span_counts[i] && !r->why; k++) {
			size_t at = d->span_starts[i] + k;
			uint64_t delta = block__get_uvarint(r);
			if (delta >= n_nodes || prev + delta >= n_nodes) {
				block__fail(r, "span stack id out of range or not ascending");
				break;
			}
			prev += delta;
			d->span_stacks[at] = (uint32_t)prev;
			struct slice b = block__get_bytes(r, 8);
			uint64_t v = 0;
			for (int j = 7; j >= 0 && !r->why; j--)
				v = v << 8 | b.p[j];
			d->span_ids[at] = v;
			d->span_values[at] = block__get_varint(r);
		}
	}
}

int block__parse_series_version(struct slice raw, uint32_t version, uint32_t series, uint64_t n_profiles,
				uint64_t n_samples, size_t n_nodes, struct block_series_data *d, char *err,
				size_t errlen)
{
	memset(d, 0, sizeof(*d));
	struct block_rd r = {raw.p, raw.p + raw.n, NULL};
	size_t n = block__get_count(&r, 3);
	if (!r.why && (n != n_profiles || n == 0))
		block__fail(&r, "profile count differs from the index");
	/* Each sample is at least two bytes (stack and value): cap before allocating. */
	if (!r.why && n_samples > block_rd_left(&r) / 2)
		block__fail(&r, "sample count exceeds the bytes left");
	if (r.why)
		goto out;
	d->n = n;
	d->times = xmalloc(n * sizeof(int64_t));
	d->totals = xmalloc(n * sizeof(int64_t));
	d->counts = xmalloc(n * sizeof(uint32_t));
	d->starts = xmalloc(n * sizeof(size_t));
	d->stacks = xmalloc((n_samples + 1) * sizeof(uint32_t));
	d->values = xmalloc((n_samples + 1) * sizeof(int64_t));
	d->times[0] = block__get_varint(&r);
	for (size_t i = 1; i < n && !r.why; i++) {
		uint64_t dt = block__get_uvarint(&r);
		if (dt > (uint64_t)INT64_MAX || __builtin_add_overflow(d->times[i - 1], (int64_t)dt, &d->times[i]))
			block__fail(&r, "timestamp overflows");
	}
	for (size_t i = 0; i < n && !r.why; i++)
		d->totals[i] = block__get_varint(&r);
	uint64_t sum = 0;
	for (size_t i = 0; i < n && !r.why; i++) {
		uint64_t c = block__get_uvarint(&r);
		if (c > UINT32_MAX || c > n_samples - sum) {
			block__fail(&r, "sample counts exceed the index's");
			break;
		}
		d->starts[i] = (size_t)sum;
		d->counts[i] = (uint32_t)c;
		sum += c;
	}
	if (!r.why && sum != n_samples)
		block__fail(&r, "sample counts differ from the index");
	for (size_t i = 0; i < n && !r.why; i++) {
		uint64_t prev = 0;
		for (uint32_t k = 0; k < d->counts[i] && !r.why; k++) {
			uint64_t delta = block__get_uvarint(&r);
			if ((k && delta == 0) || delta >= n_nodes || prev + delta >= n_nodes) {
				block__fail(&r, "stack id out of range or not ascending");
				break;
			}
			prev += delta;
			d->stacks[d->starts[i] + k] = (uint32_t)prev;
		}
	}
	for (size_t i = 0; i < n_samples && !r.why; i++)
		d->values[i] = block__get_varint(&r);
	d->ids = xcalloc(n, HEAD_ID_LEN);
	if (!r.why && version >= 2)
		parse_ids_spans(&r, n_nodes, d);
	if (!r.why && r.p != r.end)
		block__fail(&r, "trailing bytes");
	d->n_samples = n_samples;
out:
	if (r.why) {
		snprintf(err, errlen, "profiles: series %u: %s", series, r.why);
		block__series_data_release(d);
		return EMBER_ECORRUPT;
	}
	return 0;
}

/* pprof_export: merged stacks -> one google.v1.Profile. Every table is rebuilt in the
 * export's own id space (dense ids from 1, content-deduplicated), so partitions of
 * different services never collide and shared code shares its ids. */
#include <xxhash.h>

#include "model/profile_type.h"
#include "pprof/pprof.h"
#include "query/callsite.h"
#include "query/pprof_export.h"

#define MS 1000000LL

struct exp_location {
	uint64_t mapping_id, address;
	uint32_t first_line, n_lines; /* into pprof_export.lines, innermost first */
	bool is_folded;
};

struct exp_sample {
	size_t first_frame; /* into pprof_export.frames: location ids, leaf first */
	uint32_t n_frames;
	int64_t value;
};

struct pprof_export {
	struct profile_type pt;
	char *type_id; /* owns the bytes pt points into */
	struct strtab strs;
	struct pprof_mapping *maps;
	size_t n_maps, cap_maps;
	struct idset map_index;
	struct pprof_function *fns;
	size_t n_fns, cap_fns;
	struct idset fn_index;
	struct exp_location *locs;
	size_t n_locs, cap_locs;
	struct idset loc_index;
	struct pprof_line *lines;
	size_t n_lines, cap_lines;
	uint64_t *frames;
	size_t n_frames, cap_frames;
	struct exp_sample *samples;
	size_t n_samples, cap_samples;
	struct idset sample_index;
	uint64_t other_loc; /* location id of the "other" frame, 0 until needed */
};

int pprof_export_new(const char *profile_type, struct pprof_export **out, char *err, size_t errlen)
{
	*out = NULL;
	if (!profile_type) {
		snprintf(err, errlen, "missing profile type");
		return EMBER_EINVAL;
	}
	struct pprof_export *e = xcalloc(1, sizeof(*e));
	e->type_id = xstrdup(profile_type);
	if (profile_type_parse(slice_cstr(e->type_id), &e->pt, err, errlen)) {
		free(e->type_id);
		free(e);
		return EMBER_EINVAL;
	}
	strtab_init(&e->strs);
	*out = e;
	return 0;
}

void pprof_export_free(struct pprof_export *e)
{
	if (!e)
		return;
	strtab_release(&e->strs);
	free(e->maps);
	idset_release(&e->map_index);
	free(e->fns);
	idset_release(&e->fn_index);
	free(e->locs);
	idset_release(&e->loc_index);
	free(e->lines);
	free(e->frames);
	free(e->samples);
	idset_release(&e->sample_index);
	free(e->type_id);
	free(e);
}

/* ---- content-addressed tables ------------------------------------------------------ */

struct probe {
	const struct pprof_export *e;
	const void *want;
	const struct pprof_line *lines; /* locations */
	size_t n;                       /* locations: lines; samples: frames */
};

static bool mapping_eq(const void *ctx, uint32_t id)
{
	const struct probe *p = ctx;
	const struct pprof_mapping *a = &p->e->maps[id - 1], *b = p->want;
	return a->memory_start == b->memory_start && a->memory_limit == b->memory_limit &&
	       a->file_offset == b->file_offset && a->filename == b->filename && a->build_id == b->build_id &&
	       a->has_functions == b->has_functions && a->has_filenames == b->has_filenames &&
	       a->has_line_numbers == b->has_line_numbers && a->has_inline_frames == b->has_inline_frames;
}

static uint64_t add_mapping(struct pprof_export *e, struct pprof_mapping *m)
{
	uint64_t key[6] = {m->memory_start, m->memory_limit, m->file_offset, (uint64_t)m->filename,
			   (uint64_t)m->build_id,
			   (uint64_t)m->has_functions | (uint64_t)m->has_filenames << 1 |
				   (uint64_t)m->has_line_numbers << 2 | (uint64_t)m->has_inline_frames << 3};
	uint64_t h = XXH3_64bits(key, sizeof(key));
	struct probe p = {e, m, NULL, 0};
	uint32_t id;
	if (idset_find(&e->map_index, h, mapping_eq, &p, &id))
		return id;
	XGROW(e->maps, e->cap_maps, e->n_maps + 1);
	m->id = e->n_maps + 1;
	e->maps[e->n_maps++] = *m;
	idset_insert(&e->map_index, h, (uint32_t)m->id);
	return m->id;
}

static bool function_eq(const void *ctx, uint32_t id)
{
	const struct probe *p = ctx;
	const struct pprof_function *a = &p->e->fns[id - 1], *b = p->want;
	return a->name == b->name && a->system_name == b->system_name && a->filename == b->filename &&
	       a->start_line == b->start_line;
}

static uint64_t add_function(struct pprof_export *e, struct pprof_function *f)
{
	uint64_t key[4] = {(uint64_t)f->name, (uint64_t)f->system_name, (uint64_t)f->filename,
			   (uint64_t)f->start_line};
	uint64_t h = XXH3_64bits(key, sizeof(key));
	struct probe p = {e, f, NULL, 0};
	uint32_t id;
	if (idset_find(&e->fn_index, h, function_eq, &p, &id))
		return id;
	XGROW(e->fns, e->cap_fns, e->n_fns + 1);
	f->id = e->n_fns + 1;
	e->fns[e->n_fns++] = *f;
	idset_insert(&e->fn_index, h, (uint32_t)f->id);
	return f->id;
}

static bool location_eq(const void *ctx, uint32_t id)
{
	const struct probe *p = ctx;
	const struct exp_location *a = &p->e->locs[id - 1], *b = p->want;
	return a->mapping_id == b->mapping_id && a->address == b->address && a->is_folded == b->is_folded &&
	       a->n_lines == p->n &&
	       (p->n == 0 || memcmp(&p->e->lines[a->first_line], p->lines, p->n * sizeof(*p->lines)) == 0);
}

static uint64_t add_location(struct pprof_export *e, const struct exp_location *l, const struct pprof_line *lines,
			     size_t n)
{
	uint64_t key[3] = {l->mapping_id, l->address, l->is_folded};
	uint64_t h = XXH3_64bits_withSeed(lines, n * sizeof(*lines), XXH3_64bits(key, sizeof(key)));
	struct probe p = {e, l, lines, n};
	uint32_t id;
	if (idset_find(&e->loc_index, h, location_eq, &p, &id))
		return id;
	XGROW(e->lines, e->cap_lines, e->n_lines + n);
	memcpy(e->lines + e->n_lines, lines, n * sizeof(*lines));
	XGROW(e->locs, e->cap_locs, e->n_locs + 1);
	struct exp_location *nl = &e->locs[e->n_locs++];
	*nl = *l;
	nl->first_line = (uint32_t)e->n_lines;
	nl->n_lines = (uint32_t)n;
	e->n_lines += n;
	idset_insert(&e->loc_index, h, (uint32_t)e->n_locs);
	return e->n_locs;
}

static bool sample_eq(const void *ctx, uint32_t id)
{
	const struct probe *p = ctx;
	const struct exp_sample *s = &p->e->samples[id];
	return s->n_frames == p->n && memcmp(&p->e->frames[s->first_frame], p->want, p->n * sizeof(uint64_t)) == 0;
}

/* Adds value to the sample whose stack is frames[0..n) (leaf first), creating it if new. The
 * frames may lie in e->frames past its end (the staging area add_stack fills). */
static void add_sample(struct pprof_export *e, const uint64_t *frames, size_t n, int64_t value)
{
	uint64_t h = XXH3_64bits(frames, n * sizeof(*frames));
	struct probe p = {e, frames, NULL, n};
	uint32_t id;
	if (idset_find(&e->sample_index, h, sample_eq, &p, &id)) {
		if (__builtin_add_overflow(e->samples[id].value, value, &e->samples[id].value))
			e->samples[id].value = INT64_MAX;
		return;
	}
	XGROW(e->samples, e->cap_samples, e->n_samples + 1);
	struct exp_sample *s = &e->samples[e->n_samples];
	s->first_frame = e->n_frames;
	s->n_frames = (uint32_t)n;
	s->value = value;
	if (frames != e->frames + e->n_frames) {
		XGROW(e->frames, e->cap_frames, e->n_frames + n);
		memmove(e->frames + e->n_frames, frames, n * sizeof(*frames));
	}
	e->n_frames += n;
	idset_insert(&e->sample_index, h, (uint32_t)e->n_samples);
	e->n_samples++;
}

/* ---- copying a partition ------------------------------------------------------------- */

/* Partition id -> export id, filled on first use. 0 = not yet (every real export id is
 * non-zero: strings are stored + 1). */
struct part_maps {
	const struct symbols *s;
	uint32_t *str;  /* string id + 1 */
	uint64_t *fn, *map, *loc;
	struct pprof_line *tmp;
	size_t cap_tmp;
};

static int64_t map_string(struct pprof_export *e, struct part_maps *pm, uint32_t sid)
{
	if (sid == 0 || sid >= pm->s->strings.n)
		return 0;
	if (!pm->str[sid])
		pm->str[sid] = strtab_intern(&e->strs, strtab_get(&pm->s->strings, sid)) + 1;
	return pm->str[sid] - 1;
}

static uint64_t map_function(struct pprof_export *e, struct part_maps *pm, uint32_t fid)
{
	if (fid == 0 || fid >= pm->s->n_functions)
		return 0;
	if (!pm->fn[fid]) {
		const struct sym_function *sf = &pm->s->functions[fid];
		struct pprof_function f = {
			.name = map_string(e, pm, sf->name),
			.system_name = map_string(e, pm, sf->system_name),
			.filename = map_string(e, pm, sf->filename),
			.start_line = sf->start_line,
		};
		pm->fn[fid] = add_function(e, &f);
	}
	return pm->fn[fid];
}

static uint64_t map_mapping(struct pprof_export *e, struct part_maps *pm, uint32_t mid)
{
	if (mid == 0 || mid >= pm->s->n_mappings)
		return 0;
	if (!pm->map[mid]) {
		const struct sym_mapping *sm = &pm->s->mappings[mid];
		struct pprof_mapping m = {
			.memory_start = sm->memory_start,
			.memory_limit = sm->memory_limit,
			.file_offset = sm->file_offset,
			.filename = map_string(e, pm, sm->filename),
			.build_id = map_string(e, pm, sm->build_id),
			.has_functions = sm->has_functions,
			.has_filenames = sm->has_filenames,
			.has_line_numbers = sm->has_line_numbers,
			.has_inline_frames = sm->has_inline_frames,
		};
		pm->map[mid] = add_mapping(e, &m);
	}
	return pm->map[mid];
}

static uint64_t map_location(struct pprof_export *e, struct part_maps *pm, uint32_t lid)
{
	if (lid == 0 || lid >= pm->s->n_locations)
		return 0;
	if (!pm->loc[lid]) {
		const struct sym_location *sl = &pm->s->locations[lid];
		XGROW(pm->tmp, pm->cap_tmp, (size_t)sl->n_lines + 1);
		size_t n = 0;
		for (uint32_t k = 0; k < sl->n_lines; k++) {
			const struct sym_line *ln = &pm->s->lines[sl->first_line + k];
			uint64_t f = map_function(e, pm, ln->function);
			if (!f)
				continue; /* a line without a function says nothing pprof can show */
			pm->tmp[n].function_id = f;
			pm->tmp[n].line = ln->line;
			n++;
		}
		struct exp_location l = {
			.mapping_id = map_mapping(e, pm, sl->mapping),
			.address = sl->address,
			.is_folded = sl->is_folded,
		};
		pm->loc[lid] = add_location(e, &l, pm->tmp, n);
	}
	return pm->loc[lid];
}

void pprof_export_add(struct pprof_export *e, const struct merge_partition *part)
{
	const struct symbols *s = part->syms;
	struct part_maps pm = {
		.s = s,
		.str = xcalloc(s->strings.n + 1, sizeof(uint32_t)),
		.fn = xcalloc(s->n_functions + 1, sizeof(uint64_t)),
		.map = xcalloc(s->n_mappings + 1, sizeof(uint64_t)),
		.loc = xcalloc(s->n_locations + 1, sizeof(uint64_t)),
	};
	for (size_t i = 0; i < part->n; i++) {
		if (part->values[i] == 0)
			continue;
		/* Stage the stack's location ids at the end of e->frames, leaf first; add_sample
		 * keeps them there when the stack is new. Parents have smaller ids than their
		 * children in the stack tree, which bounds the walk even on a damaged tree. */
		size_t n = 0;
		uint32_t node = part->stacks[i];
		while (node != 0 && node < s->n_nodes) {
			uint64_t loc = map_location(e, &pm, s->nodes[node].location);
			if (loc) {
				XGROW(e->frames, e->cap_frames, e->n_frames + n + 1);
				e->frames[e->n_frames + n++] = loc;
			}
			uint32_t parent = s->nodes[node].parent;
			if (parent >= node)
				break;
			node = parent;
		}
		if (n)
			add_sample(e, e->frames + e->n_frames, n, part->values[i]);
	}
	free(pm.str);
	free(pm.fn);
	free(pm.map);
	free(pm.loc);
	free(pm.tmp);
}

void pprof_export_consume(void *ctx, const struct merge_partition *part)
{
	pprof_export_add(ctx, part);
}

size_t pprof_export_samples(const struct pprof_export *e, int64_t *total)
{
	if (total) {
		int64_t t = 0;
		for (size_t i = 0; i < e->n_samples; i++)
			if (__builtin_add_overflow(t, e->samples[i].value, &t))
				t = INT64_MAX;
		*total = t;
	}
	return e->n_samples;
}

/* ---- truncation (max_nodes) --------------------------------------------------------- */

/* The function call tree of the samples, as Pyroscope's symdb builds it for the cut:
 * one node per (parent, function id), inline frames expanded, node 0 the root. */
struct ftn {
	uint32_t parent;
	uint64_t fid; /* function id; a location without lines counts as one frame, keyed
	                 FRAME_LOC + its location id */
	int64_t total;
};

#define FRAME_LOC (1ull << 40)

struct ftn_probe {
	struct ftn *const *nodes;
	uint32_t parent;
	uint64_t fid;
};

static bool ftn_eq(const void *ctx, uint32_t id)
{
	const struct ftn_probe *p = ctx;
	return (*p->nodes)[id].parent == p->parent && (*p->nodes)[id].fid == p->fid;
}

static void heap_push(int64_t *h, size_t *n, int64_t v)
{
	size_t i = (*n)++;
	h[i] = v;
	while (i > 0 && h[(i - 1) / 2] > h[i]) {
		int64_t t = h[i];
		h[i] = h[(i - 1) / 2];
		h[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static void heap_replace_min(int64_t *h, size_t n, int64_t v)
{
	size_t i = 0;
	h[0] = v;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < n && h[l] < h[m])
			m = l;
		if (r < n && h[r] < h[m])
			m = r;
		if (m == i)
			return;
		int64_t t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

/* Pyroscope's StacktraceTree.MinValue: the smallest of the max_nodes largest totals, or 0
 * (keep everything) when there are no more than max_nodes nodes. */
static int64_t min_value(const struct ftn *nodes, size_t n, size_t max_nodes)
{
	if (max_nodes == 0 || max_nodes >= n)
		return 0;
	int64_t *h = xmalloc(max_nodes * sizeof(*h));
	size_t hn = 0;
	for (size_t i = 0; i < n; i++) {
		if (hn < max_nodes)
			heap_push(h, &hn, nodes[i].total);
		else if (nodes[i].total > h[0])
			heap_replace_min(h, hn, nodes[i].total);
	}
	int64_t v = h[0];
	free(h);
	return v;
}

static uint64_t other_location(struct pprof_export *e)
{
	if (!e->other_loc) {
		int64_t name = strtab_intern(&e->strs, slice_cstr("other"));
		struct pprof_function f = {.name = name, .system_name = name};
		struct pprof_line ln = {add_function(e, &f), 0};
		struct exp_location l = {0};
		e->other_loc = add_location(e, &l, &ln, 1);
	}
	return e->other_loc;
}

static void truncate_samples(struct pprof_export *e, size_t max_nodes)
{
	if (!max_nodes || !e->n_samples)
		return;
	struct ftn *nodes = NULL;
	size_t n_nodes = 1, cap_nodes = 0;
	XGROW(nodes, cap_nodes, 1);
	memset(&nodes[0], 0, sizeof(nodes[0]));
	struct idset index;
	idset_init(&index);
	uint32_t *leaf = xmalloc(e->n_samples * sizeof(*leaf));
	uint32_t *depth = xmalloc(e->n_samples * sizeof(*depth)); /* function frames per sample */
	for (size_t i = 0; i < e->n_samples; i++) {
		const struct exp_sample *s = &e->samples[i];
		uint32_t node = 0, d = 0;
		int64_t v = s->value; /* the root's total stays 0, as in Pyroscope's tree */
		for (size_t k = s->n_frames; k > 0; k--) { /* root first */
			const struct exp_location *l = &e->locs[e->frames[s->first_frame + k - 1] - 1];
			size_t nl = l->n_lines ? l->n_lines : 1;
			for (size_t j = nl; j > 0; j--) { /* outermost inline frame first */
				/* A location without lines is its own frame (keyed by its id). */
				uint64_t fid = l->n_lines ? e->lines[l->first_line + j - 1].function_id
							  : FRAME_LOC + e->frames[s->first_frame + k - 1];
				uint64_t key[2] = {node, fid};
				uint64_t h = XXH3_64bits(key, sizeof(key));
				struct ftn_probe pr = {&nodes, node, fid};
				uint32_t id;
				if (!idset_find(&index, h, ftn_eq, &pr, &id)) {
					id = (uint32_t)n_nodes;
					XGROW(nodes, cap_nodes, n_nodes + 1);
					nodes[n_nodes].parent = node;
					nodes[n_nodes].fid = fid;
					nodes[n_nodes].total = 0;
					n_nodes++;
					idset_insert(&index, h, id);
				}
				node = id;
				if (__builtin_add_overflow(nodes[node].total, v, &nodes[node].total))
					nodes[node].total = INT64_MAX;
				d++;
			}
		}
		leaf[i] = node;
		depth[i] = d;
	}
	idset_release(&index);
	int64_t min = min_value(nodes, n_nodes, max_nodes);
	if (min > 0) {
		/* Rebuild the samples: each keeps its frames down to the deepest node that made
		 * the cut, then "other". */
		struct exp_sample *old = e->samples;
		size_t n_old = e->n_samples;
		uint64_t *old_frames = e->frames;
		e->samples = NULL;
		e->n_samples = e->cap_samples = 0;
		e->frames = NULL;
		e->n_frames = e->cap_frames = 0;
		idset_release(&e->sample_index);
		uint64_t *buf = NULL;
		size_t cap_buf = 0;
		for (size_t i = 0; i < n_old; i++) {
			const struct exp_sample *s = &old[i];
			/* Frames kept: the depth of the deepest ancestor (or self) over the cut. */
			uint32_t kept = depth[i];
			for (uint32_t node = leaf[i]; node != 0 && nodes[node].total < min; node = nodes[node].parent)
				kept--;
			XGROW(buf, cap_buf, (size_t)s->n_frames + 1);
			size_t n = 0;
			if (kept == depth[i]) {
				memcpy(buf, old_frames + s->first_frame, s->n_frames * sizeof(*buf));
				n = s->n_frames;
			} else {
				/* Whole locations from the root while they start within the kept frames. */
				uint32_t used = 0;
				size_t k = s->n_frames;
				while (k > 0 && used < kept) {
					const struct exp_location *l = &e->locs[old_frames[s->first_frame + k - 1] - 1];
					used += l->n_lines ? l->n_lines : 1;
					k--;
				}
				buf[0] = other_location(e);
				memcpy(buf + 1, old_frames + s->first_frame + k, (s->n_frames - k) * sizeof(*buf));
				n = 1 + (s->n_frames - k);
			}
			add_sample(e, buf, n, s->value);
		}
		free(buf);
		free(old);
		free(old_frames);
	}
	free(nodes);
	free(leaf);
	free(depth);
}

/* ---- encoding ----------------------------------------------------------------------- */

static int64_t period_of(struct slice name)
{
	if (slice_eq_cstr(name, "process_cpu"))
		return 1000000000;
	if (slice_eq_cstr(name, "memory"))
		return 512 * 1024;
	return 1;
}

void pprof_export_encode(struct pprof_export *e, const struct pprof_export_opts *opts, struct buf *out)
{
	struct pprof_export_opts none = {0};
	if (!opts)
		opts = &none;
	truncate_samples(e, opts->max_nodes);
	struct pprof_profile p;
	memset(&p, 0, sizeof(p));
	struct pprof_value_type st = {
		strtab_intern(&e->strs, e->pt.sample_type),
		strtab_intern(&e->strs, e->pt.sample_unit),
	};
	p.sample_types = &st;
	p.n_sample_types = 1;
	p.default_sample_type = st.type;
	p.period_type.type = strtab_intern(&e->strs, e->pt.period_type);
	p.period_type.unit = strtab_intern(&e->strs, e->pt.period_unit);
	p.period = period_of(e->pt.name);
	p.time_nanos = opts->time_nanos;
	p.duration_nanos = opts->duration_nanos;

	p.samples = xcalloc(e->n_samples + 1, sizeof(*p.samples));
	for (size_t i = 0; i < e->n_samples; i++) {
		p.samples[i].location_ids = e->frames + e->samples[i].first_frame;
		p.samples[i].n_location_ids = e->samples[i].n_frames;
		p.samples[i].values = &e->samples[i].value;
		p.samples[i].n_values = 1;
	}
	p.n_samples = e->n_samples;
	p.mappings = e->maps;
	p.n_mappings = e->n_maps;
	p.locations = xcalloc(e->n_locs + 1, sizeof(*p.locations));
	for (size_t i = 0; i < e->n_locs; i++) {
		const struct exp_location *l = &e->locs[i];
		p.locations[i] = (struct pprof_location){
			.id = i + 1,
			.mapping_id = l->mapping_id,
			.address = l->address,
			.lines = e->lines + l->first_line,
			.n_lines = l->n_lines,
			.is_folded = l->is_folded,
		};
	}
	p.n_locations = e->n_locs;
	p.functions = e->fns;
	p.n_functions = e->n_fns;
	p.strings = e->strs.strs;
	p.n_strings = e->strs.n;
	pprof_encode(&p, out);
	free(p.samples);
	free(p.locations);
}

/* ---- one call ----------------------------------------------------------------------- */

int query_pprof_export_opts(const struct reader *rd, const struct merge_request *req, const struct pprof_export_opts *opts,
			    struct buf *out, char *err, size_t errlen)
{
	struct pprof_export *e;
	int rc = pprof_export_new(req->profile_type, &e, err, errlen);
	if (rc)
		return rc;
	struct callsite_consumer cc = {opts ? opts->callsite : NULL, pprof_export_consume, e};
	rc = merge_select(rd, req, callsite_consume, &cc, NULL, err, errlen);
	if (!rc)
		pprof_export_encode(e, opts, out);
	pprof_export_free(e);
	return rc;
}

int query_pprof_export(const struct reader *rd, const struct merge_request *req, size_t max_nodes, struct buf *out,
		       char *err, size_t errlen)
{
	struct pprof_export_opts o = {.max_nodes = max_nodes};
	if (req->end_ns >= 0 && req->end_ns != INT64_MAX) {
		o.time_nanos = req->end_ns - req->end_ns % MS;
		if (req->start_ns > INT64_MIN && req->start_ns <= o.time_nanos)
			o.duration_nanos = o.time_nanos - req->start_ns;
	}
	return query_pprof_export_opts(rd, req, &o, out, err, errlen);
}

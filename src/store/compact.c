/* compact: N blocks of one tenant -> one block (see compact.h and
 * docs/internals/compaction.md).
 *
 * The merge holds the output in memory: one `struct symbols` per service (with content
 * indexes, so symbols_add_* deduplicate exactly as the head does), the series by label
 * set, and every profile's remapped (stack, value) pairs in two flat arrays. Source
 * symbols are remapped lazily through per-partition tables (UNSET until first use), so a
 * symbol no kept profile refers to is never copied: compaction also trims the partitions
 * the head wrote whole. */
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "store/compact.h"
#include "util/arena.h"

#define UNSET UINT32_MAX

struct mpart {
	struct slice service; /* bytes in merge.mem */
	struct symbols syms;
};

struct mseries {
	struct labels labels; /* in merge.mem */
	uint32_t partition;
};

struct mprof {
	uint32_t series;
	uint32_t n;
	int64_t time, total;
	size_t off; /* into merge.stacks / merge.values */
	uint64_t hash;
	uint8_t id[HEAD_ID_LEN];
	uint32_t n_spans;
	size_t span_off; /* into merge.sp_* */
};

/* Source id -> merged id, per table, for one partition of the source being read. */
struct remap {
	const struct symbols *src;
	uint32_t part;
	uint32_t *str, *map, *fn, *loc, *node;
};

struct merge {
	struct arena mem;
	struct mpart *parts;
	size_t n_parts, cap_parts;
	struct mseries *series;
	size_t n_series, cap_series;
	struct idset series_index;
	struct mprof *profs;
	size_t n_profs, cap_profs;
	uint32_t *stacks;
	int64_t *values;
	size_t n_samples, cap_stacks, cap_values;
	uint32_t *sp_stacks; /* span triples of every profile */
	int64_t *sp_values;
	uint64_t *sp_ids;
	size_t n_sp, cap_sp_stacks, cap_sp_values, cap_sp_ids;
	/* the source being read */
	struct remap *rm;
	size_t n_rm;
	/* scratch */
	uint32_t *chain;
	size_t cap_chain;
	struct sym_line *lines;
	size_t cap_lines;
	struct { uint32_t id; int64_t v; } *pairs;
	size_t cap_pairs;
	uint64_t profiles_in;
};

/* ---- symbols ------------------------------------------------------------------------- */

static uint32_t *unset_table(size_t n)
{
	uint32_t *t = xmalloc((n + 1) * sizeof(*t));
	memset(t, 0xff, (n + 1) * sizeof(*t));
	t[0] = 0; /* the reserved id 0 of every table maps to itself */
	return t;
}

static void remap_init(struct remap *r, const struct symbols *src, uint32_t part)
{
	r->src = src;
	r->part = part;
	r->str = unset_table(src->strings.n);
	r->map = unset_table(src->n_mappings);
	r->fn = unset_table(src->n_functions);
	r->loc = unset_table(src->n_locations);
	r->node = unset_table(src->n_nodes);
}

static void remap_release(struct remap *r)
{
	free(r->str);
	free(r->map);
	free(r->fn);
	free(r->loc);
	free(r->node);
	memset(r, 0, sizeof(*r));
}

static uint32_t map_str(struct merge *m, struct remap *r, uint32_t id)
{
	if (r->str[id] == UNSET)
		r->str[id] = strtab_intern(&m->parts[r->part].syms.strings, strtab_get(&r->src->strings, id));
	return r->str[id];
}

static uint32_t map_mapping(struct merge *m, struct remap *r, uint32_t id)
{
	if (r->map[id] == UNSET) {
		struct sym_mapping x = r->src->mappings[id];
		x.filename = map_str(m, r, x.filename);
		x.build_id = map_str(m, r, x.build_id);
		r->map[id] = symbols_add_mapping(&m->parts[r->part].syms, &x);
	}
	return r->map[id];
}

static uint32_t map_function(struct merge *m, struct remap *r, uint32_t id)
{
	if (r->fn[id] == UNSET) {
		struct sym_function x = r->src->functions[id];
		x.name = map_str(m, r, x.name);
		x.system_name = map_str(m, r, x.system_name);
		x.filename = map_str(m, r, x.filename);
		r->fn[id] = symbols_add_function(&m->parts[r->part].syms, &x);
	}
	return r->fn[id];
}

static uint32_t map_location(struct merge *m, struct remap *r, uint32_t id)
{
	if (r->loc[id] == UNSET) {
		struct sym_location x = r->src->locations[id];
		x.mapping = x.mapping ? map_mapping(m, r, x.mapping) : 0;
		XGROW(m->lines, m->cap_lines, (size_t)x.n_lines + 1);
		for (uint32_t i = 0; i < x.n_lines; i++) {
			const struct sym_line *l = &r->src->lines[x.first_line + i];
			m->lines[i].function = map_function(m, r, l->function);
			m->lines[i].line = l->line;
		}
		r->loc[id] = symbols_add_location(&m->parts[r->part].syms, &x, m->lines, x.n_lines);
	}
	return r->loc[id];
}

/* Parents are older nodes (the reader checks it), so walking up ends at a mapped node,
 * at the latest the root. */
static uint32_t map_node(struct merge *m, struct remap *r, uint32_t id)
{
	size_t n = 0;
	uint32_t x = id;
	while (r->node[x] == UNSET) {
		XGROW(m->chain, m->cap_chain, n + 1);
		m->chain[n++] = x;
		x = r->src->nodes[x].parent;
	}
	uint32_t parent = r->node[x];
	while (n) {
		x = m->chain[--n];
		uint32_t loc = map_location(m, r, r->src->nodes[x].location);
		parent = symbols_stack_child(&m->parts[r->part].syms, parent, loc);
		r->node[x] = parent;
	}
	return r->node[id];
}

/* ---- series and profiles ------------------------------------------------------------- */

static uint32_t part_for(struct merge *m, struct slice service)
{
	for (size_t i = 0; i < m->n_parts; i++)
		if (slice_eq(m->parts[i].service, service))
			return (uint32_t)i;
	XGROW(m->parts, m->cap_parts, m->n_parts + 1);
	struct mpart *p = &m->parts[m->n_parts];
	p->service = slice_make(arena_strndup(&m->mem, (const char *)service.p, service.n), service.n);
	symbols_init(&p->syms);
	return (uint32_t)m->n_parts++;
}

struct series_probe {
	const struct merge *m;
	const struct labels *labels;
	uint32_t partition;
};

static bool series_eq(const void *ctx, uint32_t id)
{
	const struct series_probe *p = ctx;
	return p->m->series[id].partition == p->partition && labels_equal(&p->m->series[id].labels, p->labels);
}

static uint32_t series_for(struct merge *m, const struct labels *ls, uint32_t part)
{
	uint64_t h = labels_hash(ls) ^ ((uint64_t)part * 0x9e3779b97f4a7c15ull);
	struct series_probe p = {m, ls, part};
	uint32_t id;
	if (idset_find(&m->series_index, h, series_eq, &p, &id))
		return id;
	id = (uint32_t)m->n_series;
	XGROW(m->series, m->cap_series, m->n_series + 1);
	labels_dup(&m->series[id].labels, &m->mem, ls);
	m->series[id].partition = part;
	m->n_series++;
	idset_insert(&m->series_index, h, id);
	return id;
}

static int pair_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

struct sp_triple {
	uint32_t stack;
	uint64_t span;
	int64_t value;
};

static int sp_cmp(const void *a, const void *b)
{
	const struct sp_triple *x = a, *y = b;
	if (x->stack != y->stack)
		return x->stack < y->stack ? -1 : 1;
	return x->span < y->span ? -1 : x->span > y->span;
}

/* Appends profile k's span triples, remapped and sorted again by (stack, span), to the
 * merge's span arrays; returns their number. */
static uint32_t remap_spans(struct merge *m, struct remap *r, const struct block_scan_series *s, size_t k)
{
	uint32_t n = s->span_counts[k];
	size_t at = s->span_starts[k];
	struct sp_triple *t = xmalloc((n + 1) * sizeof(*t));
	for (uint32_t i = 0; i < n; i++)
		t[i] = (struct sp_triple){map_node(m, r, s->span_stacks[at + i]), s->span_ids[at + i],
					  s->span_values[at + i]};
	sort_n(t, n, sizeof(*t), sp_cmp);
	XGROW(m->sp_stacks, m->cap_sp_stacks, m->n_sp + n + 1);
	XGROW(m->sp_values, m->cap_sp_values, m->n_sp + n + 1);
	XGROW(m->sp_ids, m->cap_sp_ids, m->n_sp + n + 1);
	for (uint32_t i = 0; i < n; i++) {
		m->sp_stacks[m->n_sp + i] = t[i].stack;
		m->sp_ids[m->n_sp + i] = t[i].span;
		m->sp_values[m->n_sp + i] = t[i].value;
	}
	m->n_sp += n;
	free(t);
	return n;
}

static int scan_series(void *ctx, const struct block_scan_series *s)
{
	struct merge *m = ctx;
	struct remap *r = &m->rm[s->partition];
	if (!r->src)
		remap_init(r, s->syms, part_for(m, s->service));
	uint32_t series = series_for(m, s->labels, r->part);
	for (size_t k = 0; k < s->n_profiles; k++) {
		uint32_t n = s->counts[k];
		const uint32_t *st = s->stacks + s->starts[k];
		const int64_t *va = s->values + s->starts[k];
		XGROW(m->pairs, m->cap_pairs, (size_t)n + 1);
		for (uint32_t i = 0; i < n; i++) {
			m->pairs[i].id = map_node(m, r, st[i]);
			m->pairs[i].v = va[i];
		}
		/* Remapped ids are no longer ascending; distinct source nodes stay distinct (the
		 * map is injective within a partition), but equal ids are summed to be safe. */
		sort_n(m->pairs, n, sizeof(*m->pairs), pair_cmp);
		uint32_t u = 0;
		for (uint32_t i = 0; i < n; i++) {
			if (u && m->pairs[u - 1].id == m->pairs[i].id)
				m->pairs[u - 1].v += m->pairs[i].v;
			else
				m->pairs[u++] = m->pairs[i];
		}
		XGROW(m->stacks, m->cap_stacks, m->n_samples + u + 1);
		XGROW(m->values, m->cap_values, m->n_samples + u + 1);
		XXH3_state_t hs;
		XXH3_64bits_reset(&hs);
		for (uint32_t i = 0; i < u; i++) {
			m->stacks[m->n_samples + i] = m->pairs[i].id;
			m->values[m->n_samples + i] = m->pairs[i].v;
		}
		XXH3_64bits_update(&hs, m->stacks + m->n_samples, u * sizeof(uint32_t));
		XXH3_64bits_update(&hs, m->values + m->n_samples, u * sizeof(int64_t));
		uint32_t ns = s->span_counts ? s->span_counts[k] : 0;
		size_t span_off = m->n_sp;
		if (ns) {
			ns = remap_spans(m, r, s, k);
			XXH3_64bits_update(&hs, m->sp_stacks + span_off, ns * sizeof(uint32_t));
			XXH3_64bits_update(&hs, m->sp_ids + span_off, ns * sizeof(uint64_t));
			XXH3_64bits_update(&hs, m->sp_values + span_off, ns * sizeof(int64_t));
		}
		XXH3_64bits_update(&hs, s->ids + k * HEAD_ID_LEN, HEAD_ID_LEN);
		XGROW(m->profs, m->cap_profs, m->n_profs + 1);
		struct mprof *mp = &m->profs[m->n_profs++];
		*mp = (struct mprof){.series = series, .n = u, .time = s->times[k], .total = s->totals[k],
				     .off = m->n_samples, .hash = XXH3_64bits_digest(&hs), .n_spans = ns,
				     .span_off = span_off};
		memcpy(mp->id, s->ids + k * HEAD_ID_LEN, HEAD_ID_LEN);
		m->n_samples += u;
		m->profiles_in++;
	}
	return 0;
}

/* Profiles by (series, time, content): identical profiles end up next to each other. */
static int prof_cmp(const void *a, const void *b, void *ctx)
{
	const struct merge *m = ctx;
	const struct mprof *x = a, *y = b;
	if (x->series != y->series)
		return x->series < y->series ? -1 : 1;
	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	if (x->n != y->n)
		return x->n < y->n ? -1 : 1;
	if (x->total != y->total)
		return x->total < y->total ? -1 : 1;
	int c = memcmp(m->stacks + x->off, m->stacks + y->off, x->n * sizeof(uint32_t));
	if (c)
		return c;
	for (uint32_t i = 0; i < x->n; i++)
		if (m->values[x->off + i] != m->values[y->off + i])
			return m->values[x->off + i] < m->values[y->off + i] ? -1 : 1;
	/* The id and the span triples are content too: only true copies are dropped. */
	if ((c = memcmp(x->id, y->id, HEAD_ID_LEN)) != 0)
		return c;
	if (x->n_spans != y->n_spans)
		return x->n_spans < y->n_spans ? -1 : 1;
	for (uint32_t i = 0; i < x->n_spans; i++) {
		size_t i1 = x->span_off + i, i2 = y->span_off + i;
		if (m->sp_stacks[i1] != m->sp_stacks[i2])
			return m->sp_stacks[i1] < m->sp_stacks[i2] ? -1 : 1;
		if (m->sp_ids[i1] != m->sp_ids[i2])
			return m->sp_ids[i1] < m->sp_ids[i2] ? -1 : 1;
		if (m->sp_values[i1] != m->sp_values[i2])
			return m->sp_values[i1] < m->sp_values[i2] ? -1 : 1;
	}
	return 0;
}

static int series_cmp(const void *a, const void *b, void *ctx)
{
	const struct merge *m = ctx;
	const struct mseries *x = &m->series[*(const uint32_t *)a], *y = &m->series[*(const uint32_t *)b];
	int c = labels_cmp(&x->labels, &y->labels);
	return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

static int src_cmp(const void *a, const void *b)
{
	return memcmp(a, b, BLOCK_ULID_LEN);
}

static void progress(const struct compact_options *o, const char *fmt, ...) EMBER_PRINTF(2, 3);
static void progress(const struct compact_options *o, const char *fmt, ...)
{
	if (!o->progress)
		return;
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	o->progress(o->progress_ctx, line);
}

int compact_blocks(struct block *const *srcs, size_t n, const struct compact_options *o, struct block_meta *meta,
		   struct compact_stats *stats, char *err, size_t errlen)
{
	int rc = EMBER_EINVAL;
	struct merge m;
	memset(&m, 0, sizeof(m));
	arena_init(&m.mem, 0);
	idset_init(&m.series_index);
	uint32_t *order = NULL, *rank = NULL;
	char (*sources)[BLOCK_ULID_LEN + 1] = NULL;
	struct block_partition_in *parts = NULL;
	struct block_series_in *series = NULL;
	struct block_profile_in *profiles = NULL;
	memset(meta, 0, sizeof(*meta));
	if (!n) {
		snprintf(err, errlen, "compact: no source blocks");
		goto out;
	}
	const char *tenant = block_meta(srcs[0])->tenant;
	uint32_t level = 0;
	uint64_t wal_segment = 0;
	size_t n_sources = 0;
	for (size_t i = 0; i < n; i++) {
		const struct block_meta *bm = block_meta(srcs[i]);
		if (strcmp(bm->tenant, tenant) != 0) {
			snprintf(err, errlen, "compact: blocks of tenants %s and %s cannot be merged", tenant, bm->tenant);
			goto out;
		}
		level = EMBER_MAX(level, bm->level);
		wal_segment = EMBER_MAX(wal_segment, bm->wal_segment);
		n_sources += bm->n_sources;
	}

	/* Read every source. */
	for (size_t i = 0; i < n; i++) {
		const struct block_meta *bm = block_meta(srcs[i]);
		progress(o, "reading block %zu/%zu %s (%llu profiles, %llu series)", i + 1, n, bm->ulid,
			 (unsigned long long)bm->n_profiles, (unsigned long long)bm->n_series);
		m.n_rm = block_partition_count(srcs[i]);
		m.rm = xcalloc(m.n_rm + 1, sizeof(*m.rm));
		rc = block_scan(srcs[i], scan_series, &m, err, errlen);
		for (size_t k = 0; k < m.n_rm; k++)
			remap_release(&m.rm[k]);
		free(m.rm);
		m.rm = NULL;
		if (rc)
			goto out;
	}

	/* Series in label order; profiles by (series, time, content); duplicates dropped. */
	order = xmalloc((m.n_series + 1) * sizeof(*order));
	rank = xmalloc((m.n_series + 1) * sizeof(*rank));
	for (size_t i = 0; i < m.n_series; i++)
		order[i] = (uint32_t)i;
	sort_r_n(order, m.n_series, sizeof(*order), series_cmp, &m);
	for (size_t i = 0; i < m.n_series; i++)
		rank[order[i]] = (uint32_t)i;
	for (size_t i = 0; i < m.n_profs; i++)
		m.profs[i].series = rank[m.profs[i].series];
	sort_r_n(m.profs, m.n_profs, sizeof(*m.profs), prof_cmp, &m);
	size_t kept = 0;
	for (size_t i = 0; i < m.n_profs; i++)
		if (!kept || prof_cmp(&m.profs[kept - 1], &m.profs[i], &m) != 0)
			m.profs[kept++] = m.profs[i];
	progress(o, "merged: %llu profiles in, %zu out (%llu identical dropped), %zu series, %zu partitions",
		 (unsigned long long)m.profiles_in, kept, (unsigned long long)(m.profiles_in - kept), m.n_series,
		 m.n_parts);

	/* The new block's source. */
	sources = xcalloc(n_sources + 1, sizeof(*sources));
	size_t ns = 0;
	for (size_t i = 0; i < n; i++) {
		const struct block_meta *bm = block_meta(srcs[i]);
		for (size_t k = 0; k < bm->n_sources; k++)
			memcpy(sources[ns++], bm->sources[k], BLOCK_ULID_LEN + 1);
	}
	sort_n(sources, ns, sizeof(*sources), src_cmp);
	size_t us = 0;
	for (size_t i = 0; i < ns; i++)
		if (!us || memcmp(sources[us - 1], sources[i], BLOCK_ULID_LEN) != 0)
			memcpy(sources[us++], sources[i], BLOCK_ULID_LEN + 1);
	parts = xcalloc(m.n_parts + 1, sizeof(*parts));
	for (size_t i = 0; i < m.n_parts; i++)
		parts[i] = (struct block_partition_in){.service = m.parts[i].service, .syms = &m.parts[i].syms};
	series = xcalloc(m.n_series + 1, sizeof(*series));
	for (size_t i = 0; i < m.n_series; i++)
		series[i] = (struct block_series_in){.labels = m.series[order[i]].labels,
						     .partition = m.series[order[i]].partition};
	profiles = xcalloc(kept + 1, sizeof(*profiles));
	for (size_t i = 0; i < kept; i++) {
		const struct mprof *p = &m.profs[i];
		profiles[i] = (struct block_profile_in){.series = p->series, .time_ns = p->time, .total = p->total,
							.stacks = m.stacks + p->off, .values = m.values + p->off,
							.n = p->n, .id = p->id, .n_spans = p->n_spans};
		if (p->n_spans) {
			profiles[i].span_stacks = m.sp_stacks + p->span_off;
			profiles[i].span_values = m.sp_values + p->span_off;
			profiles[i].span_ids = m.sp_ids + p->span_off;
		}
	}
	struct block_source src = {
		.tenant = tenant,
		.partitions = parts,
		.n_partitions = m.n_parts,
		.series = series,
		.n_series = m.n_series,
		.profiles = profiles,
		.n_profiles = kept,
		.level = level + 1,
		.sources = (const char(*)[BLOCK_ULID_LEN + 1])sources,
		.n_sources = us,
		.wal_segment = wal_segment,
	};
	progress(o, "writing the level-%u block (%zu sources)", level + 1, us);
	if ((rc = block_write(o->dir, &src, meta, err, errlen)) != 0)
		goto out;
	progress(o, "wrote block %s", meta->ulid);
	if (stats) {
		stats->profiles_in = m.profiles_in;
		stats->profiles_out = kept;
		stats->duplicates = m.profiles_in - kept;
		stats->series_out = meta->n_series;
	}
	rc = 0;
out:
	for (size_t i = 0; i < m.n_parts; i++)
		symbols_release(&m.parts[i].syms);
	free(m.parts);
	free(m.series);
	idset_release(&m.series_index);
	free(m.profs);
	free(m.stacks);
	free(m.values);
	free(m.sp_stacks);
	free(m.sp_values);
	free(m.sp_ids);
	free(m.chain);
	free(m.lines);
	free(m.pairs);
	arena_release(&m.mem);
	free(order);
	free(rank);
	free(sources);
	free(parts);
	free(series);
	free(profiles);
	return rc;
}

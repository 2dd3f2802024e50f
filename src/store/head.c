#include <pthread.h>
#include <xxhash.h>

#include "model/selector.h"
#include "store/block.h"
#include "store/head.h"

struct head_profile {
	int64_t time_ns;
	int64_t total;
	uint32_t n;
	uint32_t *stacks; /* ascending node ids */
	int64_t *values;
	uint8_t id[HEAD_ID_LEN];
	uint32_t n_spans; /* (stack, value, span) triples sorted by (stack, span); arrays in the arena */
	uint32_t *span_stacks;
	int64_t *span_values;
	uint64_t *span_ids;
};

struct head_series {
	struct labels labels; /* sorted; bytes owned by the tenant's arena */
	uint64_t hash;
	uint32_t partition;
	struct head_profile *profiles;
	size_t n_profiles, cap_profiles;
	int64_t min_t, max_t;
};

struct head_partition {
	struct slice service; /* owned by the tenant's arena */
	struct symbols syms;
};

struct posting_list {
	uint32_t *ids; /* ascending series ids */
	size_t n, cap;
};

struct head_tenant {
	char *name;
	pthread_rwlock_t lock;
	struct arena mem; /* series labels and profile arrays */
	struct head_series *series;
	size_t n_series, cap_series;
	struct idset series_index; /* labels hash -> series id */
	struct head_partition **partitions;
	size_t n_partitions, cap_partitions;
	struct strtab posting_keys; /* "name\xffvalue" -> posting list id */
	struct posting_list *postings;
	size_t n_postings, cap_postings;
	size_t n_profiles, n_samples, profile_bytes;
	int64_t oldest_ns, newest_ns;
};

struct head {
	pthread_mutex_t lock; /* guards the tenant array, not the tenants */
	struct head_tenant **tenants;
	size_t n_tenants, cap_tenants;
	struct head_limits lim;
};

struct head *head_new(const struct head_limits *lim)
{
	struct head *h = xcalloc(1, sizeof(*h));
	pthread_mutex_init(&h->lock, NULL);
	h->lim = *lim;
	return h;
}

static void tenant_free(struct head_tenant *t)
{
	for (size_t i = 0; i < t->n_series; i++)
		free(t->series[i].profiles);
	free(t->series);
	for (size_t i = 0; i < t->n_partitions; i++) {
		symbols_release(&t->partitions[i]->syms);
		free(t->partitions[i]);
	}
	free(t->partitions);
	for (size_t i = 0; i < t->n_postings; i++)
		free(t->postings[i].ids);
	free(t->postings);
	strtab_release(&t->posting_keys);
	idset_release(&t->series_index);
	arena_release(&t->mem);
	pthread_rwlock_destroy(&t->lock);
	free(t->name);
	free(t);
}

void head_free(struct head *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n_tenants; i++)
		tenant_free(h->tenants[i]);
	free(h->tenants);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

static struct head_tenant *tenant_find(struct head *h, struct slice name, bool create)
{
	struct head_tenant *t = NULL;
	pthread_mutex_lock(&h->lock);
	for (size_t i = 0; i < h->n_tenants; i++) {
		if (slice_eq_cstr(name, h->tenants[i]->name)) {
			t = h->tenants[i];
			goto out;
		}
	}
	if (!create)
		goto out;
	t = xcalloc(1, sizeof(*t));
	t->name = xstrndup((const char *)name.p, name.n);
	pthread_rwlock_init(&t->lock, NULL);
	arena_init(&t->mem, 0);
	idset_init(&t->series_index);
	strtab_init(&t->posting_keys);
	XGROW(h->tenants, h->cap_tenants, h->n_tenants + 1);
	h->tenants[h->n_tenants++] = t;
out:
	pthread_mutex_unlock(&h->lock);
	return t;
}

/* ---- series ------------------------------------------------------------------------ */

struct series_probe {
	const struct head_tenant *t;
	const struct labels *labels;
};

static bool series_eq(const void *ctx, uint32_t id)
{
	const struct series_probe *p = ctx;
	return labels_equal(&p->t->series[id].labels, p->labels);
}

static bool series_lookup(const struct head_tenant *t, const struct labels *ls, uint64_t hash, uint32_t *id)
{
	struct series_probe p = {t, ls};
	return idset_find(&t->series_index, hash, series_eq, &p, id);
}

static void posting_add(struct head_tenant *t, struct slice name, struct slice value, uint32_t series)
{
	char stack_key[256];
	size_t klen = name.n + 1 + value.n;
	char *key = klen <= sizeof(stack_key) ? stack_key : xmalloc(klen);
	memcpy(key, name.p, name.n);
	key[name.n] = '\xff';
	memcpy(key + name.n + 1, value.p, value.n);
	uint32_t id = strtab_intern(&t->posting_keys, slice_make(key, klen));
	if (key != stack_key)
		free(key);
	if (id >= t->n_postings) {
		XGROW(t->postings, t->cap_postings, (size_t)id + 1);
		memset(&t->postings[t->n_postings], 0, ((size_t)id + 1 - t->n_postings) * sizeof(*t->postings));
		t->n_postings = (size_t)id + 1;
	}
	struct posting_list *pl = &t->postings[id];
	XGROW(pl->ids, pl->cap, pl->n + 1);
	pl->ids[pl->n++] = series; /* series ids only grow, so the list stays sorted */
}

static uint32_t partition_for(struct head_tenant *t, struct slice service)
{
	for (size_t i = 0; i < t->n_partitions; i++)
		if (slice_eq(t->partitions[i]->service, service))
			return (uint32_t)i;
	struct head_partition *p = xcalloc(1, sizeof(*p));
	p->service = slice_make(arena_strndup(&t->mem, (const char *)service.p, service.n), service.n);
	symbols_init(&p->syms);
	XGROW(t->partitions, t->cap_partitions, t->n_partitions + 1);
	t->partitions[t->n_partitions] = p;
	return (uint32_t)t->n_partitions++;
}

static uint32_t series_create(struct head_tenant *t, const struct labels *ls, uint64_t hash, uint32_t partition)
{
	uint32_t id = (uint32_t)t->n_series;
	XGROW(t->series, t->cap_series, t->n_series + 1);
	struct head_series *s = &t->series[t->n_series++];
	memset(s, 0, sizeof(*s));
	labels_dup(&s->labels, &t->mem, ls);
	s->hash = hash;
	s->partition = partition;
	s->min_t = INT64_MAX;
	s->max_t = INT64_MIN;
	idset_insert(&t->series_index, hash, id);
	for (size_t i = 0; i < ls->n; i++)
		posting_add(t, s->labels.v[i].name, s->labels.v[i].value, id);
	return id;
}

/* ---- symbol import ----------------------------------------------------------------- */

/* Per-append memo of which head ids the source's strings, functions, mappings and
 * locations became, so each is imported once per pprof however many samples use it. */
struct import {
	const struct pprof_profile *src;
	struct symbols *syms;
	size_t max_symbol_len;
	uint32_t *str, *fn, *map, *loc; /* UINT32_MAX = not imported yet */
};

static void import_init(struct import *im, const struct pprof_profile *src, struct symbols *syms, size_t max_symbol_len)
{
	im->src = src;
	im->syms = syms;
	im->max_symbol_len = max_symbol_len;
	im->str = xmalloc((src->n_strings + 1) * sizeof(uint32_t));
	im->fn = xmalloc((src->n_functions + 1) * sizeof(uint32_t));
	im->map = xmalloc((src->n_mappings + 1) * sizeof(uint32_t));
	im->loc = xmalloc((src->n_locations + 1) * sizeof(uint32_t));
	memset(im->str, 0xff, (src->n_strings + 1) * sizeof(uint32_t));
	memset(im->fn, 0xff, (src->n_functions + 1) * sizeof(uint32_t));
	memset(im->map, 0xff, (src->n_mappings + 1) * sizeof(uint32_t));
	memset(im->loc, 0xff, (src->n_locations + 1) * sizeof(uint32_t));
}

static void import_release(struct import *im)
{
	free(im->str);
	free(im->fn);
	free(im->map);
	free(im->loc);
}

static uint32_t import_string(struct import *im, int64_t idx)
{
	if (idx <= 0 || (uint64_t)idx >= im->src->n_strings)
		return 0;
	if (im->str[idx] != UINT32_MAX)
		return im->str[idx];
	struct slice s = im->src->strings[idx];
	if (im->max_symbol_len && s.n > im->max_symbol_len) {
		/* Keep the tail (the most specific part of a long name), as Pyroscope does. */
		s.p += s.n - im->max_symbol_len;
		s.n = im->max_symbol_len;
		while (s.n && (s.p[0] & 0xc0) == 0x80) {
			s.p++;
			s.n--;
		}
	}
	return im->str[idx] = strtab_intern(&im->syms->strings, s);
}

static uint32_t import_function(struct import *im, uint64_t id)
{
	ptrdiff_t i = pprof_idmap_find(&im->src->function_map, id);
	if (i < 0)
		return 0;
	if (im->fn[i] != UINT32_MAX)
		return im->fn[i];
	const struct pprof_function *f = &im->src->functions[i];
	struct sym_function sf = {
		.name = import_string(im, f->name),
		.system_name = import_string(im, f->system_name),
		.filename = import_string(im, f->filename),
		.start_line = f->start_line,
	};
	return im->fn[i] = symbols_add_function(im->syms, &sf);
}

static uint32_t import_mapping(struct import *im, uint64_t id)
{
	ptrdiff_t i = id ? pprof_idmap_find(&im->src->mapping_map, id) : -1;
	if (i < 0)
		return 0;
	if (im->map[i] != UINT32_MAX)
		return im->map[i];
	const struct pprof_mapping *m = &im->src->mappings[i];
	struct sym_mapping sm = {
		.memory_start = m->memory_start,
		.memory_limit = m->memory_limit,
		.file_offset = m->file_offset,
		.filename = import_string(im, m->filename),
		.build_id = import_string(im, m->build_id),
		.has_functions = m->has_functions,
		.has_filenames = m->has_filenames,
		.has_line_numbers = m->has_line_numbers,
		.has_inline_frames = m->has_inline_frames,
	};
	return im->map[i] = symbols_add_mapping(im->syms, &sm);
}

static uint32_t import_location(struct import *im, uint64_t id)
{
	ptrdiff_t i = pprof_idmap_find(&im->src->location_map, id);
	if (i < 0)
		return 0;
	if (im->loc[i] != UINT32_MAX)
		return im->loc[i];
	const struct pprof_location *l = &im->src->locations[i];
	struct sym_line small[8];
	struct sym_line *lines = l->n_lines <= 8 ? small : xmalloc(l->n_lines * sizeof(*lines));
	for (size_t k = 0; k < l->n_lines; k++) {
		lines[k].function = import_function(im, l->lines[k].function_id);
		lines[k].line = l->lines[k].line;
	}
	struct sym_location sl = {
		.mapping = import_mapping(im, l->mapping_id),
		/* With function info present the address says nothing more, and zeroing it lets
		 * the same code from differently loaded binaries share a location. */
		.address = l->n_lines ? 0 : l->address,
		.is_folded = l->is_folded,
	};
	uint32_t out = symbols_add_location(im->syms, &sl, lines, (uint32_t)l->n_lines);
	if (lines != small)
		free(lines);
	return im->loc[i] = out;
}

/* ---- append ------------------------------------------------------------------------ */

struct stack_value {
	uint32_t stack;
	int64_t value;
};

/* Sorts by stack id: LSD radix sort, 11 bits a pass, skipping passes where every key
 * has the same digit (stack ids are usually well under 2^22, so two passes at most).
 * Profiles hold hundreds to thousands of pairs, where this beats qsort several times. */
static void sort_stack_values(struct stack_value *v, size_t n)
{
	if (n < 2)
		return;
	if (n < 32) {
		for (size_t i = 1; i < n; i++) {
			struct stack_value x = v[i];
			size_t j = i;
			while (j > 0 && v[j - 1].stack > x.stack) {
				v[j] = v[j - 1];
				j--;
			}
			v[j] = x;
		}
		return;
	}
	uint32_t max = 0;
	for (size_t i = 0; i < n; i++)
		max |= v[i].stack;
	struct stack_value *tmp = xmalloc(n * sizeof(*tmp));
	struct stack_value *src = v, *dst = tmp;
	for (unsigned shift = 0; shift < 32 && (max >> shift); shift += 11) {
		size_t count[2048] = {0};
		for (size_t i = 0; i < n; i++)
			count[(src[i].stack >> shift) & 2047]++;
		size_t pos = 0;
		for (size_t d = 0; d < 2048; d++) {
			size_t c = count[d];
			count[d] = pos;
			pos += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[count[(src[i].stack >> shift) & 2047]++] = src[i];
		struct stack_value *t = src;
		src = dst;
		dst = t;
	}
	if (src != v)
		memcpy(v, src, n * sizeof(*v));
	free(tmp);
}

/* The stack node of sample k of the source, computed once per append and shared by the
 * profiles of every sample type. */
static uint32_t sample_stack(struct head *h, struct import *im, uint32_t *cache, size_t k)
{
	if (cache[k] != UINT32_MAX)
		return cache[k];
	const struct pprof_sample *s = &im->src->samples[k];
	/* location_ids are leaf first; the tree is built from the root, so walk backwards.
	 * A too deep stack keeps its root-most max_depth frames. */
	size_t max_depth = h->lim.max_stack_depth;
	size_t depth = s->n_location_ids;
	size_t stop = max_depth && depth > max_depth ? depth - max_depth : 0;
	uint32_t node = 0;
	for (size_t j = depth; j > stop; j--) {
		uint32_t loc = import_location(im, s->location_ids[j - 1]);
		node = symbols_stack_child(im->syms, node, loc);
	}
	return cache[k] = node;
}

struct span_triple {
	uint32_t stack;
	uint64_t span;
	int64_t value;
};

static int span_triple_cmp(const void *a, const void *b)
{
	const struct span_triple *x = a, *y = b;
	if (x->stack != y->stack)
		return x->stack < y->stack ? -1 : 1;
	return x->span < y->span ? -1 : x->span > y->span;
}

/* The samples of it that carry a span id, as (stack, value, span) triples sorted by
 * (stack, span) with repeats summed; the summed pairs of p are not touched. */
static void append_spans(struct head *h, struct head_tenant *t, struct import *im, uint32_t *stack_cache,
			 const struct head_append_item *it, struct head_profile *p)
{
	const struct pprof_profile *src = im->src;
	struct span_triple *tr = NULL;
	size_t n = 0, cap = 0;
	for (size_t k = 0; k < it->n_samples; k++) {
		uint64_t span = it->spans[it->samples[k]];
		const struct pprof_sample *s = &src->samples[it->samples[k]];
		if (!span || it->value_index >= s->n_values)
			continue;
		int64_t v = s->values[it->value_index];
		if (v <= 0)
			continue;
		if (it->scale != 1 && __builtin_mul_overflow(v, it->scale, &v))
			v = INT64_MAX;
		XGROW(tr, cap, n + 1);
		tr[n++] = (struct span_triple){sample_stack(h, im, stack_cache, it->samples[k]), span, v};
	}
	sort_n(tr, n, sizeof(*tr), span_triple_cmp);
	size_t m = 0;
	for (size_t k = 0; k < n; k++) {
		if (m && tr[m - 1].stack == tr[k].stack && tr[m - 1].span == tr[k].span) {
			if (__builtin_add_overflow(tr[m - 1].value, tr[k].value, &tr[m - 1].value))
				tr[m - 1].value = INT64_MAX;
		} else {
			tr[m++] = tr[k];
		}
	}
	if (m) {
		p->n_spans = (uint32_t)m;
		p->span_stacks = arena_alloc(&t->mem, m * sizeof(uint32_t));
		p->span_values = arena_alloc(&t->mem, m * sizeof(int64_t));
		p->span_ids = arena_alloc(&t->mem, m * sizeof(uint64_t));
		for (size_t k = 0; k < m; k++) {
			p->span_stacks[k] = tr[k].stack;
			p->span_values[k] = tr[k].value;
			p->span_ids[k] = tr[k].span;
		}
		t->profile_bytes += m * (sizeof(uint32_t) + 2 * sizeof(int64_t));
	}
	free(tr);
}

static void append_one(struct head *h, struct head_tenant *t, struct import *im, uint32_t *stack_cache,
		       uint32_t series_id, const struct head_append_item *it)
{
	const struct pprof_profile *src = im->src;
	struct stack_value *sv = xmalloc((it->n_samples + 1) * sizeof(*sv));
	size_t n = 0;
	for (size_t k = 0; k < it->n_samples; k++) {
		const struct pprof_sample *s = &src->samples[it->samples[k]];
		if (it->value_index >= s->n_values)
			continue;
		int64_t v = s->values[it->value_index];
		if (v <= 0)
			continue;
		if (it->scale != 1 && __builtin_mul_overflow(v, it->scale, &v))
			v = INT64_MAX;
		sv[n].stack = sample_stack(h, im, stack_cache, it->samples[k]);
		sv[n].value = v;
		n++;
	}
	sort_stack_values(sv, n);
	size_t m = 0;
	int64_t total = 0;
	for (size_t k = 0; k < n; k++) {
		if (m && sv[m - 1].stack == sv[k].stack) {
			if (__builtin_add_overflow(sv[m - 1].value, sv[k].value, &sv[m - 1].value))
				sv[m - 1].value = INT64_MAX;
		} else {
			sv[m++] = sv[k];
		}
	}
	struct head_profile p = {.time_ns = it->time_ns, .n = (uint32_t)m};
	p.stacks = arena_alloc(&t->mem, m * sizeof(uint32_t) + 1);
	p.values = arena_alloc(&t->mem, m * sizeof(int64_t) + 1);
	for (size_t k = 0; k < m; k++) {
		p.stacks[k] = sv[k].stack;
		p.values[k] = sv[k].value;
		if (__builtin_add_overflow(total, sv[k].value, &total))
			total = INT64_MAX;
	}
	p.total = total;
	free(sv);
	if (it->id)
		memcpy(p.id, it->id, HEAD_ID_LEN);
	if (it->spans)
		append_spans(h, t, im, stack_cache, it, &p);

	struct head_series *s = &t->series[series_id];
	XGROW(s->profiles, s->cap_profiles, s->n_profiles + 1);
	s->profiles[s->n_profiles++] = p;
	if (p.time_ns < s->min_t)
		s->min_t = p.time_ns;
	if (p.time_ns > s->max_t)
		s->max_t = p.time_ns;
	if (!t->n_profiles || p.time_ns < t->oldest_ns)
		t->oldest_ns = p.time_ns;
	if (!t->n_profiles || p.time_ns > t->newest_ns)
		t->newest_ns = p.time_ns;
	t->n_profiles++;
	t->n_samples += m;
	t->profile_bytes += m * (sizeof(uint32_t) + sizeof(int64_t)) + sizeof(p);
}

int head_append(struct head *h, struct slice tenant, const struct pprof_profile *src,
		const struct head_append_item *items, size_t n)
{
	return head_append_limited(h, tenant, src, items, n, h->lim.max_series);
}

int head_append_limited(struct head *h, struct slice tenant, const struct pprof_profile *src,
			const struct head_append_item *items, size_t n, size_t max_series)
{
	if (!n)
		return 0;
	struct head_tenant *t = tenant_find(h, tenant, true);
	uint32_t *ids = xmalloc(n * sizeof(*ids));
	uint64_t *hashes = xmalloc(n * sizeof(*hashes));
	int rc = EMBER_ELIMIT;
	pthread_rwlock_wrlock(&t->lock);

	/* Check the series limit before changing anything, so a refused write leaves no trace. */
	size_t missing = 0;
	for (size_t i = 0; i < n; i++) {
		hashes[i] = labels_hash(items[i].labels);
		if (!series_lookup(t, items[i].labels, hashes[i], &ids[i])) {
			ids[i] = UINT32_MAX;
			bool dup = false; /* two new items of this batch may share a series */
			for (size_t j = 0; j < i && !dup; j++)
				dup = ids[j] == UINT32_MAX && hashes[j] == hashes[i] &&
				      labels_equal(items[j].labels, items[i].labels);
			missing += !dup;
		}
	}
	if (max_series && t->n_series + missing > max_series)
		goto out;

	uint32_t part = partition_for(t, labels_get(items[0].labels, LABEL_SERVICE_NAME));
	struct import im;
	import_init(&im, src, &t->partitions[part]->syms, h->lim.max_symbol_len);
	uint32_t *stack_cache = xmalloc((src->n_samples + 1) * sizeof(uint32_t));
	memset(stack_cache, 0xff, (src->n_samples + 1) * sizeof(uint32_t));
	for (size_t i = 0; i < n; i++) {
		uint32_t sid = ids[i];
		if (sid == UINT32_MAX && !series_lookup(t, items[i].labels, hashes[i], &sid))
			sid = series_create(t, items[i].labels, hashes[i], part);
		append_one(h, t, &im, stack_cache, sid, &items[i]);
	}
	free(stack_cache);
	import_release(&im);
	rc = 0;
out:
	pthread_rwlock_unlock(&t->lock);
	free(ids);
	free(hashes);
	return rc;
}

/* ---- reading ----------------------------------------------------------------------- */

static bool series_in_range(const struct head_series *s, struct head_range r)
{
	if (!s->n_profiles || s->max_t < r.start_ns)
		return false;
	return r.end_ns < 0 || s->min_t <= r.end_ns;
}

static bool profile_in_range(const struct head_profile *p, struct head_range r)
{
	return p->time_ns >= r.start_ns && (r.end_ns < 0 || p->time_ns <= r.end_ns);
}

static bool series_matches(const struct head_series *s, const struct selector *const *sels, size_t n_sels)
{
	if (!n_sels)
		return true;
	for (size_t i = 0; i < n_sels; i++)
		if (selector_matches(sels[i], &s->labels))
			return true;
	return false;
}

/* Candidate series for one selector: the shortest posting list of its equality
 * matchers with a non-empty value, or every series when it has none. */
static const struct posting_list *candidates(const struct head_tenant *t, const struct selector *sel)
{
	const struct posting_list *best = NULL;
	size_t n = selector_matcher_count(sel);
	for (size_t i = 0; i < n; i++) {
		struct selector_matcher m;
		selector_matcher_at(sel, i, &m);
		if (m.op != SELECTOR_EQ || m.value.n == 0)
			continue;
		size_t klen = m.name.n + 1 + m.value.n;
		char *key = xmalloc(klen);
		memcpy(key, m.name.p, m.name.n);
		key[m.name.n] = '\xff';
		memcpy(key + m.name.n + 1, m.value.p, m.value.n);
		uint32_t id;
		bool found = strtab_lookup(&t->posting_keys, slice_make(key, klen), &id);
		free(key);
		static const struct posting_list empty;
		const struct posting_list *pl = found && id < t->n_postings ? &t->postings[id] : &empty;
		if (!best || pl->n < best->n)
			best = pl;
	}
	return best;
}

typedef void (*series_visit_fn)(void *ctx, const struct head_tenant *t, const struct head_series *s);

/* Visits each matching series once, under the tenant's read lock, then calls done (if
 * any) before the lock is released. */
static size_t visit_series(struct head *h, struct slice tenant, const struct selector *const *sels, size_t n_sels,
			   struct head_range range, series_visit_fn fn, void (*done)(void *), void *done_ctx,
			   void *ctx)
{
	struct head_tenant *t = tenant_find(h, tenant, false);
	if (!t) {
		if (done)
			done(done_ctx);
		return 0;
	}
	size_t visited = 0;
	pthread_rwlock_rdlock(&t->lock);
	const struct posting_list *only = n_sels == 1 ? candidates(t, sels[0]) : NULL;
	size_t n = only ? only->n : t->n_series;
	for (size_t k = 0; k < n; k++) {
		const struct head_series *s = &t->series[only ? only->ids[k] : k];
		if (!series_in_range(s, range) || !series_matches(s, sels, n_sels))
			continue;
		fn(ctx, t, s);
		visited++;
	}
	if (done)
		done(done_ctx);
	pthread_rwlock_unlock(&t->lock);
	return visited;
}

struct series_cb {
	head_series_fn fn;
	head_profile_fn pfn;
	void *ctx;
	struct head_range range;
	size_t profiles;
};

static void series_cb_labels(void *ctx, const struct head_tenant *t, const struct head_series *s)
{
	(void)t;
	struct series_cb *c = ctx;
	c->fn(c->ctx, &s->labels);
}

size_t head_select_series(struct head *h, struct slice tenant, const struct selector *const *sels, size_t n_sels,
			  struct head_range range, head_series_fn fn, void *ctx)
{
	struct series_cb c = {.fn = fn, .ctx = ctx};
	return visit_series(h, tenant, sels, n_sels, range, series_cb_labels, NULL, NULL, &c);
}

static void series_cb_profiles(void *ctx, const struct head_tenant *t, const struct head_series *s)
{
	struct series_cb *c = ctx;
	struct head_profile_view v = {.labels = &s->labels, .syms = &t->partitions[s->partition]->syms};
	for (size_t i = 0; i < s->n_profiles; i++) {
		const struct head_profile *p = &s->profiles[i];
		if (!profile_in_range(p, c->range))
			continue;
		v.time_ns = p->time_ns;
		v.total = p->total;
		v.stacks = p->stacks;
		v.values = p->values;
		v.n = p->n;
		v.id = p->id;
		v.span_stacks = p->span_stacks;
		v.span_values = p->span_values;
		v.span_ids = p->span_ids;
		v.n_spans = p->n_spans;
		c->pfn(c->ctx, &v);
		c->profiles++;
	}
}

size_t head_select_profiles(struct head *h, struct slice tenant, const struct selector *const *sels, size_t n_sels,
			    struct head_range range, head_profile_fn fn, void *ctx)
{
	return head_select_profiles_locked(h, tenant, sels, n_sels, range, fn, NULL, ctx);
}

size_t head_select_profiles_locked(struct head *h, struct slice tenant, const struct selector *const *sels,
				   size_t n_sels, struct head_range range, head_profile_fn fn, void (*done)(void *ctx),
				   void *ctx)
{
	struct series_cb c = {.pfn = fn, .ctx = ctx, .range = range};
	visit_series(h, tenant, sels, n_sels, range, series_cb_profiles, done, ctx, &c);
	return c.profiles;
}

void head_tenant_stats(struct head *h, struct slice tenant, struct head_tenant_stats *out)
{
	memset(out, 0, sizeof(*out));
	struct head_tenant *t = tenant_find(h, tenant, false);
	if (!t)
		return;
	pthread_rwlock_rdlock(&t->lock);
	out->data_ingested = t->n_profiles > 0;
	out->oldest_ns = t->oldest_ns;
	out->newest_ns = t->newest_ns;
	out->series = t->n_series;
	out->profiles = t->n_profiles;
	out->samples = t->n_samples;
	pthread_rwlock_unlock(&t->lock);
}

size_t head_tenant_names(struct head *h, char ***out)
{
	pthread_mutex_lock(&h->lock);
	size_t n = h->n_tenants;
	char **names = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		names[i] = xstrdup(h->tenants[i]->name);
	pthread_mutex_unlock(&h->lock);
	*out = names;
	return n;
}

void head_stats(struct head *h, struct head_stats *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&h->lock);
	out->tenants = h->n_tenants;
	for (size_t i = 0; i < h->n_tenants; i++) {
		struct head_tenant *t = h->tenants[i];
		pthread_rwlock_rdlock(&t->lock);
		out->series += t->n_series;
		out->profiles += t->n_profiles;
		out->samples += t->n_samples;
		out->profile_bytes += t->profile_bytes;
		for (size_t j = 0; j < t->n_partitions; j++)
			out->symbol_bytes += symbols_bytes(&t->partitions[j]->syms);
		pthread_rwlock_unlock(&t->lock);
	}
	pthread_mutex_unlock(&h->lock);
}

/* ---- snapshots for block cuts -------------------------------------------------------- */

struct head_snapshot {
	struct block_source src;
	char *tenant;
	struct arena mem; /* labels, service names, profile arrays */
	struct symbols *syms;
	struct block_partition_in *partitions;
	struct block_series_in *series;
	struct block_profile_in *profiles;
};

/* A read-only copy of a partition's tables (ids unchanged); the content indexes other
 * than the strings' are left empty, which block_write does not need. */
static void symbols_copy(struct symbols *dst, const struct symbols *src)
{
	symbols_init(dst);
	for (size_t i = 1; i < src->strings.n; i++)
		(void)strtab_intern(&dst->strings, strtab_get(&src->strings, (uint32_t)i));
#define COPY_TABLE(arr, n, cap)                                               \
	do {                                                                  \
		XGROW(dst->arr, dst->cap, src->n + 1);                        \
		if (src->n)                                                   \
			memcpy(dst->arr, src->arr, src->n * sizeof(*src->arr)); \
		dst->n = src->n;                                              \
	} while (0)
	COPY_TABLE(mappings, n_mappings, cap_mappings);
	COPY_TABLE(functions, n_functions, cap_functions);
	COPY_TABLE(lines, n_lines, cap_lines);
	COPY_TABLE(locations, n_locations, cap_locations);
	COPY_TABLE(nodes, n_nodes, cap_nodes);
#undef COPY_TABLE
}

int head_snapshot(struct head *h, struct slice tenant, int64_t min_ns, int64_t max_ns, struct head_snapshot **out)
{
	*out = NULL;
	struct head_tenant *t = tenant_find(h, tenant, false);
	if (!t)
		return EMBER_ENOTFOUND;
	struct head_snapshot *s = xcalloc(1, sizeof(*s));
	arena_init(&s->mem, 0);
	s->tenant = xstrndup((const char *)tenant.p, tenant.n);
	pthread_rwlock_rdlock(&t->lock);
	s->syms = xcalloc(t->n_partitions + 1, sizeof(*s->syms));
	s->partitions = xcalloc(t->n_partitions + 1, sizeof(*s->partitions));
	for (size_t i = 0; i < t->n_partitions; i++) {
		symbols_copy(&s->syms[i], &t->partitions[i]->syms);
		struct slice sv = t->partitions[i]->service;
		s->partitions[i].service = slice_make(arena_strndup(&s->mem, (const char *)sv.p, sv.n), sv.n);
		s->partitions[i].syms = &s->syms[i];
	}
	size_t n_series = 0, n_profiles = 0;
	for (size_t i = 0; i < t->n_series; i++) {
		size_t k = 0;
		for (size_t j = 0; j < t->series[i].n_profiles; j++) {
			int64_t pt = t->series[i].profiles[j].time_ns;
			k += pt >= min_ns && pt <= max_ns;
		}
		n_series += k > 0;
		n_profiles += k;
	}
	s->series = xcalloc(n_series + 1, sizeof(*s->series));
	s->profiles = xcalloc(n_profiles + 1, sizeof(*s->profiles));
	size_t ns = 0, np = 0;
	for (size_t i = 0; i < t->n_series && n_profiles; i++) {
		const struct head_series *hs = &t->series[i];
		size_t first = np;
		for (size_t j = 0; j < hs->n_profiles; j++) {
			const struct head_profile *p = &hs->profiles[j];
			if (p->time_ns < min_ns || p->time_ns > max_ns)
				continue;
			uint32_t *st = arena_alloc(&s->mem, p->n * sizeof(uint32_t) + 1);
			int64_t *va = arena_alloc(&s->mem, p->n * sizeof(int64_t) + 1);
			if (p->n) {
				memcpy(st, p->stacks, p->n * sizeof(uint32_t));
				memcpy(va, p->values, p->n * sizeof(int64_t));
			}
			struct block_profile_in *bp = &s->profiles[np++];
			*bp = (struct block_profile_in){(uint32_t)ns, p->time_ns, p->total, st, va, p->n};
			uint8_t *id = arena_alloc(&s->mem, HEAD_ID_LEN);
			memcpy(id, p->id, HEAD_ID_LEN);
			bp->id = id;
			if (p->n_spans) {
				uint32_t *ss = arena_alloc(&s->mem, p->n_spans * sizeof(uint32_t));
				int64_t *sv = arena_alloc(&s->mem, p->n_spans * sizeof(int64_t));
				uint64_t *si = arena_alloc(&s->mem, p->n_spans * sizeof(uint64_t));
				memcpy(ss, p->span_stacks, p->n_spans * sizeof(uint32_t));
				memcpy(sv, p->span_values, p->n_spans * sizeof(int64_t));
				memcpy(si, p->span_ids, p->n_spans * sizeof(uint64_t));
				bp->span_stacks = ss;
				bp->span_values = sv;
				bp->span_ids = si;
				bp->n_spans = p->n_spans;
			}
		}
		if (np == first)
			continue;
		/* Sort by time, stably (equal times keep append order). Insertion sort: profiles
		 * arrive almost in time order, so this is close to linear. */
		for (size_t j = first + 1; j < np; j++) {
			struct block_profile_in x = s->profiles[j];
			size_t k = j;
			while (k > first && s->profiles[k - 1].time_ns > x.time_ns) {
				s->profiles[k] = s->profiles[k - 1];
				k--;
			}
			s->profiles[k] = x;
		}
		labels_dup(&s->series[ns].labels, &s->mem, &hs->labels);
		s->series[ns].partition = hs->partition;
		ns++;
	}
	size_t n_parts = t->n_partitions;
	pthread_rwlock_unlock(&t->lock);
	s->src = (struct block_source){
		.tenant = s->tenant,
		.partitions = s->partitions,
		.n_partitions = n_parts,
		.series = s->series,
		.n_series = ns,
		.profiles = s->profiles,
		.n_profiles = np,
		.level = 1,
	};
	if (!np) {
		head_snapshot_free(s);
		return EMBER_ENOTFOUND;
	}
	*out = s;
	return 0;
}

const struct block_source *head_snapshot_source(const struct head_snapshot *s)
{
	return &s->src;
}

void head_snapshot_free(struct head_snapshot *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->src.n_partitions; i++)
		symbols_release(&s->syms[i]);
	free(s->syms);
	free(s->partitions);
	free(s->series);
	free(s->profiles);
	arena_release(&s->mem);
	free(s->tenant);
	free(s);
}

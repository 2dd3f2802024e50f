#include <xxhash.h>

#include "ingest/plan.h"
#include "model/profile_id.h"
#include "model/profile_type.h"

void ingest_limits_default(struct ingest_limits *lim)
{
	struct labels_limits ll = LABELS_LIMITS_DEFAULT;
	memset(lim, 0, sizeof(*lim));
	lim->max_profile_bytes = 4u << 20;
	lim->max_samples = 16000;
	lim->max_labels_per_sample = 100;
	lim->max_stack_depth = 1000;
	lim->max_symbol_len = 65535;
	lim->labels = ll;
	lim->reject_older_than_ns = 3600LL * 1000000000LL;
	lim->reject_newer_than_ns = 600LL * 1000000000LL;
	lim->rate_mb = 4;
	lim->burst_mb = 2;
	lim->max_series = 5000;
}

/* A sample label that becomes a series label: a string label other than the span and
 * trace ids, which identify one request and would make a series per request. */
static bool label_splits_series(struct slice key)
{
	return key.n && !slice_eq_cstr(key, "trace_id") && !slice_eq_cstr(key, "span_id") &&
	       !slice_eq_cstr(key, "profile_id");
}

static int pair_cmp(const void *a, const void *b)
{
	const struct label *x = a, *y = b;
	int c = slice_cmp(x->name, y->name);
	return c ? c : slice_cmp(x->value, y->value);
}

/* The string sample labels of s that split series, sorted, into out (room for n_labels). */
static size_t sample_series_labels(const struct pprof_profile *p, const struct pprof_sample *s, struct label *out)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n_labels; i++) {
		const struct pprof_label *l = &s->labels[i];
		if (l->str <= 0)
			continue; /* numeric labels are dropped (normalisation step 2) */
		struct slice key = pprof_string(p, l->key);
		if (!label_splits_series(key))
			continue;
		out[n].name = key;
		out[n].value = pprof_string(p, l->str);
		n++;
	}
	sort_n(out, n, sizeof(*out), pair_cmp);
	/* A repeated key keeps its first value. */
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (!m || !slice_eq(out[m - 1].name, out[i].name))
			out[m++] = out[i];
	return m;
}

/* One group of samples sharing the same series labels. */
struct group {
	struct labels extra; /* sorted sample labels, borrowed from the pprof */
	uint64_t hash;
	uint32_t *samples;
	size_t n, cap;
};

static bool sample_kept(const struct pprof_sample *s)
{
	bool nonzero = false;
	for (size_t v = 0; v < s->n_values; v++) {
		if (s->values[v] < 0)
			return false;
		nonzero |= s->values[v] != 0;
	}
	return nonzero;
}

/* Hash of a sorted pair list; one-shot XXH3 per string (cheaper than a streaming state
 * for the short strings labels are). Most samples have no labels: hash 0. */
static uint64_t hash_pairs(const struct label *v, size_t n)
{
	uint64_t h = 0;
	for (size_t i = 0; i < n; i++) {
		h = (h ^ XXH3_64bits(v[i].name.p, v[i].name.n)) * 0x9e3779b97f4a7c15ull;
		h = (h ^ XXH3_64bits(v[i].value.p, v[i].value.n)) * 0xc2b2ae3d27d4eb4full;
	}
	return h;
}

static bool pairs_equal(const struct label *a, size_t na, const struct labels *b)
{
	if (na != b->n)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!slice_eq(a[i].name, b->v[i].name) || !slice_eq(a[i].value, b->v[i].value))
			return false;
	return true;
}

/* Groups the kept samples by their series labels. Profiles rarely have more than a few
 * groups, so a linear search over groups (after a hash check) is enough. */
static size_t group_samples(const struct pprof_profile *p, struct arena *a, struct group **out, size_t *n_kept)
{
	struct group *groups = NULL;
	size_t n_groups = 0, cap_groups = 0;
	size_t max_labels = 0;
	for (size_t i = 0; i < p->n_samples; i++)
		if (p->samples[i].n_labels > max_labels)
			max_labels = p->samples[i].n_labels;
	struct label *tmp = xmalloc((max_labels + 1) * sizeof(*tmp));
	*n_kept = 0;
	for (size_t i = 0; i < p->n_samples; i++) {
		const struct pprof_sample *s = &p->samples[i];
		if (!sample_kept(s))
			continue;
		(*n_kept)++;
		size_t nl = sample_series_labels(p, s, tmp);
		uint64_t h = hash_pairs(tmp, nl);
		struct group *g = NULL;
		for (size_t k = 0; k < n_groups && !g; k++)
			if (groups[k].hash == h && pairs_equal(tmp, nl, &groups[k].extra))
				g = &groups[k];
		if (!g) {
			XGROW(groups, cap_groups, n_groups + 1);
			g = &groups[n_groups++];
			memset(g, 0, sizeof(*g));
			g->hash = h;
			g->extra.n = nl;
			g->extra.v = arena_alloc(a, (nl + 1) * sizeof(struct label));
			memcpy(g->extra.v, tmp, nl * sizeof(struct label));
		}
		XGROW(g->samples, g->cap, g->n + 1);
		g->samples[g->n++] = (uint32_t)i;
	}
	free(tmp);
	*out = groups;
	return n_groups;
}

/* Per sample of p, the span id of its first `span_id` (or `profile_id`, Pyroscope's older
 * name, renamed to span_id) string label that is 16 hex digits, 0 = none; NULL when no
 * sample has one (most profiles), so the head keeps no span triples. */
static const uint64_t *sample_spans(const struct pprof_profile *p, struct arena *a)
{
	uint64_t *spans = NULL;
	for (size_t i = 0; i < p->n_samples; i++) {
		const struct pprof_sample *s = &p->samples[i];
		for (size_t k = 0; k < s->n_labels; k++) {
			const struct pprof_label *l = &s->labels[k];
			if (l->str <= 0)
				continue;
			struct slice key = pprof_string(p, l->key);
			uint64_t v;
			if ((!slice_eq_cstr(key, "span_id") && !slice_eq_cstr(key, "profile_id")) ||
			    profile_span_parse(pprof_string(p, l->str), &v) || !v)
				continue;
			if (!spans)
				spans = arena_zalloc(a, p->n_samples * sizeof(uint64_t));
			spans[i] = v;
			break;
		}
	}
	return spans;
}

/* A label with an empty value is the same as no label (e.g. __period_type__ of a
 * profile without a period), so it is not stored. */
static void drop_empty_values(struct labels *ls)
{
	size_t m = 0;
	for (size_t i = 0; i < ls->n; i++)
		if (ls->v[i].value.n)
			ls->v[m++] = ls->v[i];
	ls->n = m;
}

static void plan_add_source(struct ingest_plan *plan, const struct pprof_profile *p, struct head_append_item *items,
			    size_t n)
{
	XGROW(plan->sources, plan->cap_sources, plan->n_sources + 1);
	struct ingest_source *src = &plan->sources[plan->n_sources++];
	src->p = p;
	src->items = items;
	src->n_items = n;
	plan->n_profiles += n;
}

static int check_window(const struct ingest_limits *lim, int64_t t, int64_t now_ns, char *err, size_t errlen)
{
	if (lim->reject_older_than_ns && t < now_ns - lim->reject_older_than_ns) {
		snprintf(err, errlen,
			 "profile timestamp %lld ns is older than the ingestion window allows "
			 "(-validation.reject-older-than=%llds)",
			 (long long)t, (long long)(lim->reject_older_than_ns / 1000000000LL));
		return EMBER_ELIMIT;
	}
	if (lim->reject_newer_than_ns && t > now_ns + lim->reject_newer_than_ns) {
		snprintf(err, errlen,
			 "profile timestamp %lld ns is too far in the future (-validation.reject-newer-than=%llds)",
			 (long long)t, (long long)(lim->reject_newer_than_ns / 1000000000LL));
		return EMBER_ELIMIT;
	}
	return 0;
}

int ingest_plan_pprof(struct ingest_plan *plan, struct arena *a, const struct pprof_profile *p,
		      const struct labels *series, const struct ingest_limits *lim, int64_t now_ns, bool window,
		      char *err, size_t errlen)
{
	int rc = EMBER_EINVAL;
	struct group *groups = NULL;
	size_t n_groups = 0;
	int64_t t = p->time_nanos > 0 ? p->time_nanos : now_ns;
	if (window && (rc = check_window(lim, t, now_ns, err, errlen)) != 0)
		goto out;

	/* The client's labels, minus __delta__ (a write-path hint, never stored). */
	struct labels base;
	labels_dup(&base, a, series);
	labels_delete(&base, slice_cstr(LABEL_DELTA));
	struct slice metric = labels_get(&base, LABEL_NAME);
	struct slice service = labels_get(&base, LABEL_SERVICE_NAME);
	if (!service.n) {
		service = slice_cstr("unknown_service");
		labels_set(&base, a, slice_cstr(LABEL_SERVICE_NAME), service);
	}
	labels_sort(&base);

	size_t n_kept = 0;
	n_groups = group_samples(p, a, &groups, &n_kept);
	if (!n_kept) {
		rc = 0; /* a profile left empty is accepted and stores nothing */
		goto out;
	}
	const uint64_t *spans = sample_spans(p, a);
	struct head_append_item *items = arena_zalloc(a, n_groups * p->n_sample_types * sizeof(*items));
	size_t n_items = 0;
	for (size_t g = 0; g < n_groups; g++) {
		/* Series labels: the client's, then the sample labels (the client's win). */
		struct labels ls;
		labels_dup(&ls, a, &base);
		for (size_t k = 0; k < groups[g].extra.n; k++)
			if (!labels_find(&ls, groups[g].extra.v[k].name))
				labels_set(&ls, a, groups[g].extra.v[k].name, groups[g].extra.v[k].value);
		if ((rc = labels_validate(&ls, a, &lim->labels, err, errlen)) != 0) {
			rc = EMBER_EINVAL;
			goto out;
		}
		for (size_t st = 0; st < p->n_sample_types; st++) {
			struct profile_type pt = profile_type_make(metric, pprof_string(p, p->sample_types[st].type),
								   pprof_string(p, p->sample_types[st].unit),
								   pprof_string(p, p->period_type.type),
								   pprof_string(p, p->period_type.unit));
			struct labels *full = arena_alloc(a, sizeof(*full));
			labels_dup(full, a, &ls);
			profile_type_set_labels(&pt, full, a);
			labels_set(full, a, slice_cstr(LABEL_SERVICE_NAME_PRIVATE), service);
			drop_empty_values(full);
			labels_sort(full);
			struct head_append_item *it = &items[n_items++];
			it->labels = full;
			it->time_ns = t;
			it->value_index = st;
			it->samples = arena_alloc(a, groups[g].n * sizeof(uint32_t) + 1);
			memcpy((uint32_t *)it->samples, groups[g].samples, groups[g].n * sizeof(uint32_t));
			it->n_samples = groups[g].n;
			it->scale = 1;
			it->id = plan->id;
			it->spans = spans;
		}
	}
	plan_add_source(plan, p, items, n_items);
	plan->n_samples += n_kept;
	rc = 0;
out:
	for (size_t g = 0; g < n_groups; g++)
		free(groups[g].samples);
	free(groups);
	return rc;
}

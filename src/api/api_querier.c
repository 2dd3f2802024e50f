/* querier.v1.QuerierService: the metadata queries (profile types, label names and
 * values, series, profile stats) and SelectSeries, answered from the head. */
#include <math.h>

#include "api/api_internal.h"
#include "model/profile_type.h"
#include "model/selector.h"
#include "querier.pb-c.h"
#include "types.pb-c.h"

#define MS 1000000LL

/* Converts a request's [start, end] in ms into a head range. Both zero means all time
 * (Pyroscope v1 behaviour); end < start is an error. */
static bool time_range(struct connect_call *c, int64_t start_ms, int64_t end_ms, struct head_range *out)
{
	if (start_ms == 0 && end_ms == 0) {
		out->start_ns = INT64_MIN;
		out->end_ns = -1;
		return true;
	}
	if (end_ms < start_ms) {
		connect_call_fail(c, CONNECT_INVALID_ARGUMENT, "invalid time range: end (%lld) is before start (%lld)",
				  (long long)end_ms, (long long)start_ms);
		return false;
	}
	if (start_ms < INT64_MIN / MS || end_ms > INT64_MAX / MS) {
		connect_call_fail(c, CONNECT_INVALID_ARGUMENT, "time range out of bounds");
		return false;
	}
	out->start_ns = start_ms * MS;
	/* end is inclusive to the millisecond */
	out->end_ns = end_ms == INT64_MAX / MS ? INT64_MAX : end_ms * MS + (MS - 1);
	return true;
}

/* Parses request matchers; returns false after answering 400. */
static bool parse_matchers(struct connect_call *c, char **strs, size_t n, struct selector ***out)
{
	struct slice *s = arena_alloc(c->req->arena, (n + 1) * sizeof(*s));
	for (size_t i = 0; i < n; i++)
		s[i] = slice_cstr(strs[i]);
	char err[300];
	if (selector_parse_matchers_list(s, n, out, err, sizeof(err))) {
		connect_call_fail(c, CONNECT_INVALID_ARGUMENT, "%s", err);
		return false;
	}
	return true;
}

/* A set of strings collected under the head's lock, then sorted for the reply. */
struct string_set {
	struct strtab tab;
};

static int slice_ptr_cmp(const void *a, const void *b)
{
	return slice_cmp(*(const struct slice *)a, *(const struct slice *)b);
}

/* The set's strings, sorted, as C strings in the arena (id 0, "", is skipped). */
static char **string_set_sorted(struct string_set *s, struct arena *a, size_t *n)
{
	size_t m = s->tab.n - 1;
	struct slice *v = arena_alloc(a, (m + 1) * sizeof(*v));
	memcpy(v, s->tab.strs + 1, m * sizeof(*v));
	sort_n(v, m, sizeof(*v), slice_ptr_cmp);
	char **out = arena_alloc(a, (m + 1) * sizeof(*out));
	for (size_t i = 0; i < m; i++)
		out[i] = arena_strndup(a, (const char *)v[i].p, v[i].n);
	*n = m;
	return out;
}

/* ---- ProfileTypes ------------------------------------------------------------------- */

static void collect_profile_type(void *ctx, const struct labels *ls)
{
	struct string_set *s = ctx;
	struct slice pt = labels_get(ls, LABEL_PROFILE_TYPE);
	if (pt.n)
		strtab_intern(&s->tab, pt);
}

static void profile_types(struct api *api, struct connect_call *c, const struct tenants *t)
{
	const Querier__V1__ProfileTypesRequest *in = (const void *)c->in;
	struct head_range r;
	if (!time_range(c, in->start, in->end, &r))
		return;
	struct string_set s;
	strtab_init(&s.tab);
	for (size_t i = 0; i < t->n; i++)
		reader_select_series(&api->reader, t->v[i], NULL, 0, r, collect_profile_type, &s);
	struct arena *a = c->req->arena;
	size_t n;
	char **ids = string_set_sorted(&s, a, &n);
	strtab_release(&s.tab);
	Querier__V1__ProfileTypesResponse out = QUERIER__V1__PROFILE_TYPES_RESPONSE__INIT;
	out.profile_types = arena_alloc(a, (n + 1) * sizeof(*out.profile_types));
	for (size_t i = 0; i < n; i++) {
		struct profile_type pt;
		char err[100];
		Types__V1__ProfileType *m = arena_alloc(a, sizeof(*m));
		types__v1__profile_type__init(m);
		m->id = ids[i];
		if (profile_type_parse(slice_cstr(ids[i]), &pt, err, sizeof(err)) == 0) {
			m->name = arena_strndup(a, (const char *)pt.name.p, pt.name.n);
			m->sample_type = arena_strndup(a, (const char *)pt.sample_type.p, pt.sample_type.n);
			m->sample_unit = arena_strndup(a, (const char *)pt.sample_unit.p, pt.sample_unit.n);
			m->period_type = arena_strndup(a, (const char *)pt.period_type.p, pt.period_type.n);
			m->period_unit = arena_strndup(a, (const char *)pt.period_unit.p, pt.period_unit.n);
		}
		out.profile_types[out.n_profile_types++] = m;
	}
	connect_call_reply(c, &out.base);
}

/* ---- LabelNames / LabelValues ------------------------------------------------------- */

struct label_collect {
	struct string_set set;
	struct slice name; /* LabelValues: the label asked for */
	bool utf8_names;   /* the client accepts non-legacy label names */
};

static void collect_label_names(void *ctx, const struct labels *ls)
{
	struct label_collect *lc = ctx;
	for (size_t i = 0; i < ls->n; i++)
		if (lc->utf8_names || labels_name_is_legacy(ls->v[i].name))
			strtab_intern(&lc->set.tab, ls->v[i].name);
}

static void collect_label_values(void *ctx, const struct labels *ls)
{
	struct label_collect *lc = ctx;
	struct slice v = labels_get(ls, (const char *)lc->name.p);
	if (v.n)
		strtab_intern(&lc->set.tab, v);
}

static bool accepts_utf8_names(const struct http_request *req)
{
	const struct slice *h = http_request_header(req, "Accept");
	static const char flag[] = "allow-utf8-labelnames=true";
	if (!h)
		return false;
	for (size_t i = 0; i + sizeof(flag) - 1 <= h->n; i++)
		if (!memcmp(h->p + i, flag, sizeof(flag) - 1))
			return true;
	return false;
}

static void label_query(struct api *api, struct connect_call *c, const struct tenants *t, bool values)
{
	struct head_range r;
	struct selector **sels = NULL;
	size_t n_sels;
	struct label_collect lc = {.utf8_names = accepts_utf8_names(c->req)};
	if (values) {
		const Types__V1__LabelValuesRequest *in = (const void *)c->in;
		if (!in->name[0]) {
			connect_call_fail(c, CONNECT_INVALID_ARGUMENT, "the label name to list values of is missing");
			return;
		}
		if (!time_range(c, in->start, in->end, &r) || !parse_matchers(c, in->matchers, in->n_matchers, &sels))
			return;
		n_sels = in->n_matchers;
		lc.name = slice_cstr(arena_strndup(c->req->arena, in->name, strlen(in->name)));
	} else {
		const Types__V1__LabelNamesRequest *in = (const void *)c->in;
		if (!time_range(c, in->start, in->end, &r) || !parse_matchers(c, in->matchers, in->n_matchers, &sels))
			return;
		n_sels = in->n_matchers;
	}
	strtab_init(&lc.set.tab);
	for (size_t i = 0; i < t->n; i++)
		reader_select_series(&api->reader, t->v[i], (const struct selector *const *)sels, n_sels, r,
				   values ? collect_label_values : collect_label_names, &lc);
	selector_list_free(sels, n_sels);
	size_t n;
	char **names = string_set_sorted(&lc.set, c->req->arena, &n);
	strtab_release(&lc.set.tab);
	if (values) {
		Types__V1__LabelValuesResponse out = TYPES__V1__LABEL_VALUES_RESPONSE__INIT;
		out.names = names;
		out.n_names = n;
		connect_call_reply(c, &out.base);
	} else {
		Types__V1__LabelNamesResponse out = TYPES__V1__LABEL_NAMES_RESPONSE__INIT;
		out.names = names;
		out.n_names = n;
		connect_call_reply(c, &out.base);
	}
}

/* ---- Series ------------------------------------------------------------------------- */

struct series_collect {
	struct arena *a;
	char **names; /* label names to keep; none = all */
	size_t n_names;
	bool utf8_names;
	struct labels *sets;
	size_t n, cap;
	struct idset seen;
};

static bool labels_set_eq(const void *ctx, uint32_t id)
{
	const struct series_collect *sc = ((const void *const *)ctx)[0];
	const struct labels *ls = ((const void *const *)ctx)[1];
	return labels_equal(&sc->sets[id], ls);
}

static void collect_series(void *ctx, const struct labels *ls)
{
	struct series_collect *sc = ctx;
	struct label tmp[64];
	struct labels sub = {tmp, 0};
	struct label *heap = NULL;
	if (ls->n > EMBER_ARRAY_LEN(tmp))
		sub.v = heap = xmalloc(ls->n * sizeof(*heap));
	for (size_t i = 0; i < ls->n; i++) {
		bool keep = !sc->n_names;
		for (size_t k = 0; k < sc->n_names && !keep; k++)
			keep = slice_eq_cstr(ls->v[i].name, sc->names[k]);
		if (keep && (sc->utf8_names || labels_name_is_legacy(ls->v[i].name)))
			sub.v[sub.n++] = ls->v[i];
	}
	uint64_t h = labels_hash(&sub);
	const void *probe[2] = {sc, &sub};
	uint32_t id;
	if (!idset_find(&sc->seen, h, labels_set_eq, probe, &id)) {
		XGROW(sc->sets, sc->cap, sc->n + 1);
		labels_dup(&sc->sets[sc->n], sc->a, &sub);
		idset_insert(&sc->seen, h, (uint32_t)sc->n);
		sc->n++;
	}
	free(heap);
}

static int labels_ptr_cmp(const void *a, const void *b)
{
	return labels_cmp(a, b);
}

static Types__V1__LabelPair **label_pairs(struct arena *a, const struct labels *ls)
{
	Types__V1__LabelPair **v = arena_alloc(a, (ls->n + 1) * sizeof(*v));
	for (size_t i = 0; i < ls->n; i++) {
		v[i] = arena_alloc(a, sizeof(*v[i]));
		types__v1__label_pair__init(v[i]);
		v[i]->name = arena_strndup(a, (const char *)ls->v[i].name.p, ls->v[i].name.n);
		v[i]->value = arena_strndup(a, (const char *)ls->v[i].value.p, ls->v[i].value.n);
	}
	return v;
}

static void series(struct api *api, struct connect_call *c, const struct tenants *t)
{
	const Querier__V1__SeriesRequest *in = (const void *)c->in;
	struct head_range r;
	struct selector **sels = NULL;
	if (!time_range(c, in->start, in->end, &r) || !parse_matchers(c, in->matchers, in->n_matchers, &sels))
		return;
	struct arena *a = c->req->arena;
	struct series_collect sc = {.a = a, .names = in->label_names, .n_names = in->n_label_names,
				    .utf8_names = accepts_utf8_names(c->req)};
	idset_init(&sc.seen);
	for (size_t i = 0; i < t->n; i++)
		reader_select_series(&api->reader, t->v[i], (const struct selector *const *)sels, in->n_matchers, r,
				   collect_series, &sc);
	selector_list_free(sels, in->n_matchers);
	idset_release(&sc.seen);
	sort_n(sc.sets, sc.n, sizeof(*sc.sets), labels_ptr_cmp);
	Querier__V1__SeriesResponse out = QUERIER__V1__SERIES_RESPONSE__INIT;
	out.labels_set = arena_alloc(a, (sc.n + 1) * sizeof(*out.labels_set));
	for (size_t i = 0; i < sc.n; i++) {
		Types__V1__Labels *l = arena_alloc(a, sizeof(*l));
		types__v1__labels__init(l);
		l->labels = label_pairs(a, &sc.sets[i]);
		l->n_labels = sc.sets[i].n;
		out.labels_set[out.n_labels_set++] = l;
	}
	free(sc.sets);
	connect_call_reply(c, &out.base);
}

/* ---- GetProfileStats ---------------------------------------------------------------- */

static void profile_stats(struct api *api, struct connect_call *c, const struct tenants *t)
{
	Types__V1__GetProfileStatsResponse out = TYPES__V1__GET_PROFILE_STATS_RESPONSE__INIT;
	out.oldest_profile_time = INT64_MAX; /* as Pyroscope answers when nothing is stored */
	out.newest_profile_time = INT64_MIN;
	for (size_t i = 0; i < t->n; i++) {
		struct head_tenant_stats st;
		reader_tenant_stats(&api->reader, t->v[i], &st);
		if (!st.data_ingested)
			continue;
		out.data_ingested = true;
		if (st.oldest_ns / MS < out.oldest_profile_time)
			out.oldest_profile_time = st.oldest_ns / MS;
		if (st.newest_ns / MS > out.newest_profile_time)
			out.newest_profile_time = st.newest_ns / MS;
	}
	connect_call_reply(c, &out.base);
}

/* ---- SelectSeries ------------------------------------------------------------------- */

/* Builds `{__profile_type__="<id>", <the selector's matchers>}` so the type restriction
 * can use the label postings like any other equality matcher. */
static char *typed_selector(struct arena *a, const char *type_id, const char *label_selector)
{
	struct buf b = BUF_INIT;
	buf_append_cstr(&b, "{__profile_type__=\"");
	for (const char *p = type_id; *p; p++) {
		if (*p == '"' || *p == '\\')
			buf_append_byte(&b, '\\');
		buf_append_byte(&b, (uint8_t)*p);
	}
	buf_append_byte(&b, '"');
	const char *open = strchr(label_selector, '{');
	const char *close = strrchr(label_selector, '}');
	if (open && close && close > open + 1) {
		buf_append_byte(&b, ',');
		buf_append(&b, open + 1, (size_t)(close - open - 1));
	}
	buf_append_byte(&b, '}');
	char *out = arena_strndup(a, (const char *)b.p, b.n);
	buf_release(&b);
	return out;
}

struct point_acc {
	int64_t k;
	double sum;
	int64_t count;
};

struct series_acc {
	struct labels labels; /* group_by labels */
	uint64_t hash;
	struct point_acc *pts;
	size_t n, cap;
	double total;
};

struct select_series_ctx {
	struct arena *a;
	char **group_by;
	size_t n_group_by;
	int64_t start_ns, step_ns;
	struct series_acc *series;
	size_t n, cap;
	struct idset index;
	size_t *last; /* per series: index of the point touched last (profiles come in time order) */
};

static bool series_acc_eq(const void *ctx, uint32_t id)
{
	const struct select_series_ctx *sc = ((const void *const *)ctx)[0];
	return labels_equal(&sc->series[id].labels, ((const void *const *)ctx)[1]);
}

static void collect_points(void *ctx, const struct head_profile_view *p)
{
	struct select_series_ctx *sc = ctx;
	struct label tmp[32];
	struct labels g = {tmp, 0};
	for (size_t i = 0; i < sc->n_group_by && g.n < EMBER_ARRAY_LEN(tmp); i++) {
		struct slice v = labels_get(p->labels, sc->group_by[i]);
		if (v.n) {
			g.v[g.n].name = slice_cstr(sc->group_by[i]);
			g.v[g.n].value = v;
			g.n++;
		}
	}
	labels_sort(&g);
	uint64_t h = labels_hash(&g);
	const void *probe[2] = {sc, &g};
	uint32_t id;
	if (!idset_find(&sc->index, h, series_acc_eq, probe, &id)) {
		id = (uint32_t)sc->n;
		XGROW(sc->series, sc->cap, sc->n + 1);
		struct series_acc *s = &sc->series[sc->n++];
		memset(s, 0, sizeof(*s));
		labels_dup(&s->labels, sc->a, &g);
		idset_insert(&sc->index, h, id);
	}
	struct series_acc *s = &sc->series[id];
	/* A profile at t belongs to the first grid point at or after t. */
	int64_t off = p->time_ns - sc->start_ns;
	int64_t k = off <= 0 ? 0 : (off + sc->step_ns - 1) / sc->step_ns;
	struct point_acc *pt = NULL;
	for (size_t i = s->n; i > 0 && !pt; i--)
		if (s->pts[i - 1].k == k)
			pt = &s->pts[i - 1];
	if (!pt) {
		XGROW(s->pts, s->cap, s->n + 1);
		pt = &s->pts[s->n++];
		pt->k = k;
		pt->sum = 0;
		pt->count = 0;
	}
	pt->sum += (double)p->total;
	pt->count++;
	s->total += (double)p->total;
}

static int point_cmp(const void *a, const void *b)
{
	const struct point_acc *x = a, *y = b;
	return x->k < y->k ? -1 : x->k > y->k;
}

static int series_total_desc(const void *a, const void *b)
{
	const struct series_acc *x = a, *y = b;
	return x->total > y->total ? -1 : x->total < y->total;
}

static int series_labels_cmp(const void *a, const void *b)
{
	const struct series_acc *x = a, *y = b;
	return labels_cmp(&x->labels, &y->labels);
}

static void select_series(struct api *api, struct connect_call *c, const struct tenants *t)
{
	const Querier__V1__SelectSeriesRequest *in = (const void *)c->in;
	struct arena *a = c->req->arena;
	char err[300];
	struct profile_type pt;
	if (profile_type_parse(slice_cstr(in->profile_typeid), &pt, err, sizeof(err))) {
		connect_call_fail(c, CONNECT_INVALID_ARGUMENT, "%s", err);
		return;
	}
	if (in->start <= 0 || in->end <= 0 || in->end < in->start) {
		connect_call_fail(c, CONNECT_INVALID_ARGUMENT, "missing time range in the query");
		return;
	}
	if (!(in->step >= 0.001) || in->step > 9e9) {
		connect_call_fail(c, CONNECT_INVALID_ARGUMENT, "invalid step %g: it must be at least 1 ms", in->step);
		return;
	}
	struct head_range r;
	if (!time_range(c, in->start, in->end, &r))
		return;
	char *sel_str = typed_selector(a, in->profile_typeid, in->label_selector);
	struct selector *sel;
	if (selector_parse(slice_cstr(sel_str), &sel, err, sizeof(err))) {
		connect_call_fail(c, CONNECT_INVALID_ARGUMENT, "invalid label selector %s: %s", in->label_selector, err);
		return;
	}
	struct select_series_ctx sc = {.a = a, .group_by = in->group_by, .n_group_by = in->n_group_by,
				       .start_ns = r.start_ns, .step_ns = (int64_t)llround(in->step * 1e9)};
	idset_init(&sc.index);
	const struct selector *sels[1] = {sel};
	for (size_t i = 0; i < t->n; i++)
		reader_select_profiles(&api->reader, t->v[i], sels, 1, r, collect_points, NULL, &sc);
	selector_free(sel);
	idset_release(&sc.index);
	if (in->limit > 0 && (size_t)in->limit < sc.n) {
		sort_n(sc.series, sc.n, sizeof(*sc.series), series_total_desc);
		for (size_t i = (size_t)in->limit; i < sc.n; i++)
			free(sc.series[i].pts);
		sc.n = (size_t)in->limit;
	}
	sort_n(sc.series, sc.n, sizeof(*sc.series), series_labels_cmp);
	Querier__V1__SelectSeriesResponse out = QUERIER__V1__SELECT_SERIES_RESPONSE__INIT;
	out.series = arena_alloc(a, (sc.n + 1) * sizeof(*out.series));
	bool avg = in->aggregation == TYPES__V1__TIME_SERIES_AGGREGATION_TYPE__TIME_SERIES_AGGREGATION_TYPE_AVERAGE;
	for (size_t i = 0; i < sc.n; i++) {
		struct series_acc *s = &sc.series[i];
		sort_n(s->pts, s->n, sizeof(*s->pts), point_cmp);
		Types__V1__Series *m = arena_alloc(a, sizeof(*m));
		types__v1__series__init(m);
		m->labels = label_pairs(a, &s->labels);
		m->n_labels = s->labels.n;
		m->points = arena_alloc(a, (s->n + 1) * sizeof(*m->points));
		for (size_t k = 0; k < s->n; k++) {
			Types__V1__Point *p = arena_alloc(a, sizeof(*p));
			types__v1__point__init(p);
			p->value = avg ? s->pts[k].sum / (double)s->pts[k].count : s->pts[k].sum;
			p->timestamp = (r.start_ns + s->pts[k].k * sc.step_ns) / MS;
			m->points[m->n_points++] = p;
		}
		free(s->pts);
		out.series[out.n_series++] = m;
	}
	free(sc.series);
	connect_call_reply(c, &out.base);
}

/* ---- dispatch ----------------------------------------------------------------------- */

struct querier_method {
	const char *name;
	const char *route; /* the full path, also the metric label */
	const ProtobufCMessageDescriptor *desc;
	void (*fn)(struct api *, struct connect_call *, const struct tenants *);
};

static void label_names(struct api *api, struct connect_call *c, const struct tenants *t)
{
	label_query(api, c, t, false);
}

static void label_values(struct api *api, struct connect_call *c, const struct tenants *t)
{
	label_query(api, c, t, true);
}

static const struct querier_method methods[] = {
	{"ProfileTypes", "/querier.v1.QuerierService/ProfileTypes", &querier__v1__profile_types_request__descriptor, profile_types},
	{"LabelNames", "/querier.v1.QuerierService/LabelNames", &types__v1__label_names_request__descriptor, label_names},
	{"LabelValues", "/querier.v1.QuerierService/LabelValues", &types__v1__label_values_request__descriptor, label_values},
	{"Series", "/querier.v1.QuerierService/Series", &querier__v1__series_request__descriptor, series},
	{"GetProfileStats", "/querier.v1.QuerierService/GetProfileStats", &types__v1__get_profile_stats_request__descriptor, profile_stats},
	{"SelectSeries", "/querier.v1.QuerierService/SelectSeries", &querier__v1__select_series_request__descriptor, select_series},
	{"SelectMergeStacktraces", "/querier.v1.QuerierService/SelectMergeStacktraces", &querier__v1__select_merge_stacktraces_request__descriptor,
	 api_select_merge_stacktraces},
	{"SelectMergeSpanProfile", "/querier.v1.QuerierService/SelectMergeSpanProfile", &querier__v1__select_merge_span_profile_request__descriptor,
	 api_select_merge_span_profile},
	{"Diff", "/querier.v1.QuerierService/Diff", &querier__v1__diff_request__descriptor, api_diff},
	{"SelectMergeProfile", "/querier.v1.QuerierService/SelectMergeProfile", &querier__v1__select_merge_profile_request__descriptor, api_select_merge_profile},
};

const char *api_querier_route(struct slice method)
{
	for (size_t i = 0; i < EMBER_ARRAY_LEN(methods); i++)
		if (slice_eq_cstr(method, methods[i].name))
			return methods[i].route;
	return NULL;
}

bool api_querier(struct api *api, struct slice method, struct http_request *req, struct http_response *resp)
{
	for (size_t i = 0; i < EMBER_ARRAY_LEN(methods); i++) {
		if (!slice_eq_cstr(method, methods[i].name))
			continue;
		struct connect_call c;
		struct tenants t;
		if (!connect_call_begin(api, &c, req, resp, methods[i].desc))
			return true;
		if (!api_tenants(api, req, resp, true, &t)) {
			connect_call_fail(&c, CONNECT_UNAUTHENTICATED, "no org id: the X-Scope-OrgID header is required");
			return true;
		}
		methods[i].fn(api, &c, &t);
		return true;
	}
	return false;
}

#include "model/profile_type.h"
#include "model/selector.h"
#include "query/merge.h"
#include "util/buf.h"

int merge_selector(const char *profile_type, const char *label_selector, struct selector **out, char *err,
		   size_t errlen)
{
	struct profile_type pt;
	if (!profile_type || profile_type_parse(slice_cstr(profile_type), &pt, err, errlen))
		return EMBER_EINVAL;
	/* Parse the client's selector on its own first, so errors point into what they sent. */
	const char *ls = label_selector && label_selector[0] ? label_selector : "{}";
	struct selector *user;
	if (selector_parse(slice_cstr(ls), &user, err, errlen))
		return EMBER_EINVAL;
	struct buf b = BUF_INIT;
	buf_append_cstr(&b, "{__profile_type__=\"");
	profile_type_format(&pt, &b); /* ids are [A-Za-z0-9_:.-]-ish, but escape anyway below */
	buf_append_byte(&b, '"');
	size_t n = selector_matcher_count(user);
	for (size_t i = 0; i < n; i++) {
		struct selector_matcher m;
		selector_matcher_at(user, i, &m);
		static const char *const ops[] = {"=", "!=", "=~", "!~"};
		buf_append_byte(&b, ',');
		buf_append_json_string(&b, (const char *)m.name.p, m.name.n); /* quoted names are valid */
		buf_append_cstr(&b, ops[m.op]);
		buf_append_json_string(&b, (const char *)m.value.p, m.value.n);
	}
	buf_append_byte(&b, '}');
	selector_free(user);
	int rc = selector_parse(slice_make(b.p, b.n), out, err, errlen);
	buf_release(&b);
	return rc ? EMBER_EINVAL : 0;
}

/* Accumulation for one partition, during one tenant's locked visit. */
struct part_acc {
	const struct symbols *syms;
	int64_t *values;   /* indexed by stack id, syms->n_nodes entries */
	uint32_t *touched; /* stack ids with a value, in first-touch order */
	size_t n_touched, cap_touched;
};

struct merge_run {
	const struct merge_request *req;
	uint8_t (*ids)[HEAD_ID_LEN]; /* sorted profile id filter */
	uint64_t *spans;             /* sorted span filter */
	struct part_acc *parts;
	size_t n_parts, cap_parts;
	merge_consume_fn fn;
	void *ctx;
	struct merge_stats stats;
};

static struct part_acc *part_for(struct merge_run *m, const struct symbols *syms)
{
	for (size_t i = m->n_parts; i > 0; i--)
		if (m->parts[i - 1].syms == syms)
			return &m->parts[i - 1];
	XGROW(m->parts, m->cap_parts, m->n_parts + 1);
	struct part_acc *p = &m->parts[m->n_parts++];
	memset(p, 0, sizeof(*p));
	p->syms = syms;
	p->values = xcalloc(syms->n_nodes + 1, sizeof(int64_t));
	return p;
}

static void merge_profile(void *ctx, const struct head_profile_view *v)
{
	struct merge_run *m = ctx;
	struct part_acc *p = part_for(m, v->syms);
	for (size_t i = 0; i < v->n; i++) {
		uint32_t s = v->stacks[i];
		if (p->values[s] == 0) {
			XGROW(p->touched, p->cap_touched, p->n_touched + 1);
			p->touched[p->n_touched++] = s;
		}
		if (__builtin_add_overflow(p->values[s], v->values[i], &p->values[s]))
			p->values[s] = INT64_MAX;
	}
	m->stats.profiles++;
}

static int id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, HEAD_ID_LEN);
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The slow path, used only when a filter is set, so merge_profile stays as it was. */
static void merge_profile_filtered(void *ctx, const struct head_profile_view *v)
{
	struct merge_run *m = ctx;
	const struct merge_request *req = m->req;
	if (req->n_profile_ids &&
	    (!v->id || !bsearch(v->id, m->ids, req->n_profile_ids, HEAD_ID_LEN, id_cmp)))
		return;
	if (!req->by_spans) {
		merge_profile(ctx, v);
		return;
	}
	bool any = false;
	struct part_acc *p = NULL;
	for (size_t i = 0; i < v->n_spans; i++) {
		if (!req->n_span_ids || !bsearch(&v->span_ids[i], m->spans, req->n_span_ids, sizeof(uint64_t), u64_cmp))
			continue;
		if (!p)
			p = part_for(m, v->syms);
		uint32_t s = v->span_stacks[i];
		if (p->values[s] == 0) {
			XGROW(p->touched, p->cap_touched, p->n_touched + 1);
			p->touched[p->n_touched++] = s;
		}
		if (__builtin_add_overflow(p->values[s], v->span_values[i], &p->values[s]))
			p->values[s] = INT64_MAX;
		any = true;
	}
	m->stats.profiles += any;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Called under the tenant's read lock: hand every partition to the consumer. */
static void merge_done(void *ctx)
{
	struct merge_run *m = ctx;
	for (size_t i = 0; i < m->n_parts; i++) {
		struct part_acc *p = &m->parts[i];
		sort_n(p->touched, p->n_touched, sizeof(uint32_t), u32_cmp);
		int64_t *vals = xmalloc((p->n_touched + 1) * sizeof(int64_t));
		for (size_t k = 0; k < p->n_touched; k++) {
			vals[k] = p->values[p->touched[k]];
			m->stats.total += vals[k];
		}
		m->stats.stacks += p->n_touched;
		if (p->n_touched) {
			struct merge_partition mp = {p->syms, p->touched, vals, p->n_touched};
			m->fn(m->ctx, &mp);
		}
		free(vals);
		free(p->values);
		free(p->touched);
	}
	m->n_parts = 0;
}

int merge_select(const struct reader *rd, const struct merge_request *req, merge_consume_fn fn, void *ctx,
		 struct merge_stats *stats, char *err, size_t errlen)
{
	struct selector *sel;
	if (merge_selector(req->profile_type, req->label_selector, &sel, err, errlen))
		return EMBER_EINVAL;
	struct merge_run m = {.req = req, .fn = fn, .ctx = ctx};
	head_profile_fn pfn = merge_profile;
	if (req->n_profile_ids || req->by_spans) {
		pfn = merge_profile_filtered;
		if (req->n_profile_ids) {
			m.ids = xmalloc(req->n_profile_ids * HEAD_ID_LEN);
			memcpy(m.ids, req->profile_ids, req->n_profile_ids * HEAD_ID_LEN);
			sort_n(m.ids, req->n_profile_ids, HEAD_ID_LEN, id_cmp);
		}
		if (req->n_span_ids) {
			m.spans = xmalloc(req->n_span_ids * sizeof(uint64_t));
			memcpy(m.spans, req->span_ids, req->n_span_ids * sizeof(uint64_t));
			sort_n(m.spans, req->n_span_ids, sizeof(uint64_t), u64_cmp);
		}
	}
	struct head_range r = {req->start_ns, req->end_ns};
	const struct selector *sels[1] = {sel};
	for (size_t i = 0; i < req->n_tenants; i++)
		reader_select_profiles(rd, req->tenants[i], sels, 1, r, pfn, merge_done, &m);
	free(m.parts);
	free(m.ids);
	free(m.spans);
	selector_free(sel);
	if (stats)
		*stats = m.stats;
	return 0;
}

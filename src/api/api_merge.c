/* querier.v1 stack queries: SelectMergeStacktraces (flame graph, tree bytes, pprof),
 * SelectMergeSpanProfile, Diff; and version.v1.Version/Version. Validation (type,
 * selector, time range, max_nodes) follows Pyroscope's read path, then query/merge.h,
 * query/ftree.h and the encoders do the work. pyroscope-api.md §2.4-§2.6. */
#include <time.h>

#include "api/api_read.h"
#include "model/profile_type.h"
#include "model/profile_id.h"
#include "model/selector.h"
#include "query/callsite.h"
#include "query/diff.h"
#include "query/flamegraph.h"
#include "query/limits.h"
#include "query/pprof_export.h"
#include "query/tree_bytes.h"
#include "profile.pb-c.h"
#include "querier.pb-c.h"
#include "types.pb-c.h"
#include "version.pb-c.h"

/* One validated stack query. */
struct stack_query {
	struct merge_request mr;
	struct query_range range;
	size_t max_nodes;
	struct callsite *cs; /* NULL = no call-site filter */
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Validates one request's parts; on failure answers 400 (prefixed with side, if any) and
 * returns false. */
static bool stack_query_prepare(struct api *api, struct connect_call *c, const struct tenants *t, const char *side,
				const char *type, const char *label_selector, int64_t start_ms, int64_t end_ms,
				int64_t max_nodes, const Types__V1__StackTraceSelector *sts, struct stack_query *q)
{
	char err[400];
	memset(q, 0, sizeof(*q));
	if (!type || !type[0]) {
		connect_call_fail(c, CONNECT_INVALID_ARGUMENT, "%sthe profile type (profile_typeID) is missing", side);
		return false;
	}
	struct selector *sel;
	if (merge_selector(type, label_selector, &sel, err, sizeof(err))) {
		struct profile_type pt;
		char perr[300];
		if (profile_type_parse(slice_cstr(type), &pt, perr, sizeof(perr)))
			connect_call_fail(c, CONNECT_INVALID_ARGUMENT, "%sinvalid profile type %s: %s", side, type, perr);
		else
			connect_call_fail(c, CONNECT_INVALID_ARGUMENT, "%sinvalid label selector %s: %s", side,
					  label_selector, err);
		return false;
	}
	selector_free(sel);
	struct query_limits lim = api_query_limits(api, t);
	if (query_limits_range(&lim, start_ms, end_ms, now_ns(), &q->range, err, sizeof(err)) ||
	    query_limits_max_nodes(&lim, max_nodes, &q->max_nodes, err, sizeof(err))) {
		connect_call_fail(c, CONNECT_INVALID_ARGUMENT, "%s%s", side, err);
		return false;
	}
	if (sts && sts->n_call_site > 0) {
		const char **names = arena_alloc(c->req->arena, sts->n_call_site * sizeof(*names));
		for (size_t i = 0; i < sts->n_call_site; i++)
			names[i] = sts->call_site[i] && sts->call_site[i]->name ? sts->call_site[i]->name : "";
		q->cs = callsite_new(names, sts->n_call_site);
	}
	q->mr = (struct merge_request){.profile_type = type, .label_selector = label_selector,
				       .start_ns = q->range.start_ns, .end_ns = q->range.end_ns,
				       .tenants = t->v, .n_tenants = t->n};
	return true;
}

/* Fills q->mr's profile id and span filters from the request's selectors; answers 400 and
 * returns false when one is malformed. by_spans: span_selector restricts the merge to
 * the span triples (SelectMergeSpanProfile: always; SelectMergeStacktraces: when given). */
static bool stack_query_filters(struct connect_call *c, struct stack_query *q, char **profile_ids, size_t n_pids,
				char **spans, size_t n_spans, bool by_spans)
{
	if (n_pids) {
		uint8_t(*ids)[PROFILE_ID_LEN] = arena_alloc(c->req->arena, n_pids * PROFILE_ID_LEN);
		for (size_t i = 0; i < n_pids; i++) {
			if (profile_id_parse(slice_cstr(profile_ids[i] ? profile_ids[i] : ""), ids[i])) {
				connect_call_fail(c, CONNECT_INVALID_ARGUMENT, "invalid profile id %.64s: not a UUID",
						  profile_ids[i] ? profile_ids[i] : "");
				return false;
			}
		}
		q->mr.profile_ids = (const uint8_t(*)[HEAD_ID_LEN])ids;
		q->mr.n_profile_ids = n_pids;
	}
	if (by_spans) {
		uint64_t *v = arena_alloc(c->req->arena, (n_spans + 1) * sizeof(uint64_t));
		for (size_t i = 0; i < n_spans; i++) {
			if (profile_span_parse(slice_cstr(spans[i] ? spans[i] : ""), &v[i])) {
				connect_call_fail(c, CONNECT_INVALID_ARGUMENT,
						  "invalid span id %.64s: want 16 hex digits", spans[i] ? spans[i] : "");
				return false;
			}
		}
		q->mr.by_spans = true;
		q->mr.span_ids = v;
		q->mr.n_span_ids = n_spans;
	}
	return true;
}

static void stack_query_release(struct stack_query *q)
{
	callsite_free(q->cs);
	q->cs = NULL;
}

/* Merges the query into t (ftree_init'ed) and finishes it. Returns false after answering
 * 400 (merge_select re-validates; that cannot fail after prepare, but stay honest). */
static bool stack_query_tree(struct api *api, struct connect_call *c, struct stack_query *q, struct ftree *t)
{
	if (!q->range.empty) {
		char err[300];
		struct callsite_consumer cc = {.cs = q->cs, .next = ftree_consume, .next_ctx = t};
		if (merge_select(&api->reader, &q->mr, callsite_consume, &cc, NULL, err, sizeof(err))) {
			connect_call_fail(c, CONNECT_INVALID_ARGUMENT, "%s", err);
			return false;
		}
	}
	ftree_finish(t);
	return true;
}

/* A FlameGraph message over fg's memory (fg must outlive the reply). */
static Querier__V1__FlameGraph *flamegraph_msg(struct arena *a, const struct flamegraph *fg)
{
	Querier__V1__FlameGraph *m = arena_alloc(a, sizeof(*m));
	querier__v1__flame_graph__init(m);
	m->names = fg->names;
	m->n_names = fg->n_names;
	m->levels = arena_alloc(a, (fg->n_levels + 1) * sizeof(*m->levels));
	for (size_t i = 0; i < fg->n_levels; i++) {
		Querier__V1__Level *l = arena_alloc(a, sizeof(*l));
		querier__v1__level__init(l);
		l->values = fg->levels[i].values;
		l->n_values = fg->levels[i].n;
		m->levels[m->n_levels++] = l;
	}
	m->total = fg->total;
	m->max_self = fg->max_self;
	return m;
}

/* format=PPROF: the merged profile from query/pprof_export.h in `pprof.profile`. The
 * export comes as bytes; it is decoded once so the ordinary reply path (proto or JSON)
 * encodes it. */
static void reply_pprof(struct api *api, struct connect_call *c, struct stack_query *q)
{
	char err[300];
	struct buf prof = BUF_INIT;
	struct merge_request mr = q->mr;
	if (q->range.empty) /* select nothing: a valid profile with no samples */
		mr.n_tenants = 0;
	struct pprof_export_opts opts = {.max_nodes = q->max_nodes, .callsite = q->cs,
					 .time_nanos = mr.end_ns / 1000000 * 1000000,
					 .duration_nanos = mr.end_ns / 1000000 * 1000000 - mr.start_ns};
	if (query_pprof_export_opts(&api->reader, &mr, &opts, &prof, err, sizeof(err))) {
		buf_release(&prof);
		connect_call_fail(c, CONNECT_INVALID_ARGUMENT, "%s", err);
		return;
	}
	ProtobufCMessage *m = protobuf_c_message_unpack(&google__v1__profile__descriptor, NULL, prof.n, prof.p);
	buf_release(&prof);
	if (!m) {
		connect_call_fail(c, CONNECT_INTERNAL, "could not decode the exported profile");
		return;
	}
	Querier__V1__PprofProfile pp = QUERIER__V1__PPROF_PROFILE__INIT;
	pp.profile = (Google__V1__Profile *)m;
	Querier__V1__SelectMergeStacktracesResponse resp = QUERIER__V1__SELECT_MERGE_STACKTRACES_RESPONSE__INIT;
	resp.pprof = &pp;
	connect_call_reply(c, &resp.base);
	protobuf_c_message_free_unpacked(m, NULL);
}

void api_select_merge_stacktraces(struct api *api, struct connect_call *c, const struct tenants *t)
{
	const Querier__V1__SelectMergeStacktracesRequest *in = (const void *)c->in;
	struct stack_query q;
	if (!stack_query_prepare(api, c, t, "", in->profile_typeid, in->label_selector, in->start, in->end,
				 in->max_nodes, in->stack_trace_selector, &q))
		return;
	if (in->n_trace_id_selector) {
		/* Ignoring it would answer a different profile than asked for. */
		stack_query_release(&q);
		connect_call_fail(c, CONNECT_UNIMPLEMENTED, "trace_id_selector is not supported: Ember keeps no trace ids");
		return;
	}
	if (!stack_query_filters(c, &q, in->profile_id_selector, in->n_profile_id_selector, in->span_selector,
				 in->n_span_selector, in->n_span_selector > 0)) {
		stack_query_release(&q);
		return;
	}
	switch (in->format) {
	case QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_UNSPECIFIED:
	case QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_FLAMEGRAPH:
	case QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_TREE:
		break;
	case QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_PPROF:
		reply_pprof(api, c, &q);
		stack_query_release(&q);
		return;
	default:
		stack_query_release(&q);
		connect_call_fail(c, CONNECT_INVALID_ARGUMENT, "unsupported profile format %d (DOT is not supported)",
				  (int)in->format);
		return;
	}
	struct ftree tree;
	ftree_init(&tree);
	if (!stack_query_tree(api, c, &q, &tree))
		goto out;
	Querier__V1__SelectMergeStacktracesResponse resp = QUERIER__V1__SELECT_MERGE_STACKTRACES_RESPONSE__INIT;
	if (in->format == QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_TREE) {
		struct buf b = BUF_INIT;
		tree_bytes_write(&tree, q.max_nodes, &b);
		resp.tree.data = b.p;
		resp.tree.len = b.n;
		connect_call_reply(c, &resp.base);
		buf_release(&b);
	} else {
		struct flamegraph fg;
		flamegraph_build(&tree, q.max_nodes, &fg);
		resp.flamegraph = flamegraph_msg(c->req->arena, &fg);
		connect_call_reply(c, &resp.base);
		flamegraph_release(&fg);
	}
out:
	ftree_release(&tree);
	stack_query_release(&q);
}

/* The merge of only the samples whose span id is in span_selector (an empty selector
 * matches nothing), as a flame graph or tree bytes. */
void api_select_merge_span_profile(struct api *api, struct connect_call *c, const struct tenants *t)
{
	const Querier__V1__SelectMergeSpanProfileRequest *in = (const void *)c->in;
	struct stack_query q;
	if (!stack_query_prepare(api, c, t, "", in->profile_typeid, in->label_selector, in->start, in->end,
				 in->max_nodes, NULL, &q))
		return;
	if (!stack_query_filters(c, &q, NULL, 0, in->span_selector, in->n_span_selector, true)) {
		stack_query_release(&q);
		return;
	}
	if (!in->n_span_selector)
		q.range.empty = true;
	Querier__V1__SelectMergeSpanProfileResponse resp = QUERIER__V1__SELECT_MERGE_SPAN_PROFILE_RESPONSE__INIT;
	struct ftree tree;
	ftree_init(&tree);
	if (!stack_query_tree(api, c, &q, &tree))
		goto out;
	if (in->format == QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_TREE) {
		struct buf b = BUF_INIT;
		tree_bytes_write(&tree, q.max_nodes, &b); /* an empty tree is no bytes */
		resp.tree.data = b.p;
		resp.tree.len = b.n;
		connect_call_reply(c, &resp.base);
		buf_release(&b);
	} else {
		struct flamegraph fg;
		flamegraph_build(&tree, q.max_nodes, &fg);
		resp.flamegraph = flamegraph_msg(c->req->arena, &fg);
		connect_call_reply(c, &resp.base);
		flamegraph_release(&fg);
	}
out:
	ftree_release(&tree);
	stack_query_release(&q);
}

/* The 5-part identity of a type (a 6th part plays no part in matching). */
static bool same_type(const struct profile_type *a, const struct profile_type *b)
{
	return slice_eq(a->name, b->name) && slice_eq(a->sample_type, b->sample_type) &&
	       slice_eq(a->sample_unit, b->sample_unit) && slice_eq(a->period_type, b->period_type) &&
	       slice_eq(a->period_unit, b->period_unit);
}

void api_diff(struct api *api, struct connect_call *c, const struct tenants *t)
{
	const Querier__V1__DiffRequest *in = (const void *)c->in;
	const Querier__V1__SelectMergeStacktracesRequest *l = in->left, *r = in->right;
	if (!l || !r) {
		connect_call_fail(c, CONNECT_INVALID_ARGUMENT, "the %s request of the diff is missing",
				  !l ? "left" : "right");
		return;
	}
	struct stack_query ql, qr;
	if (!stack_query_prepare(api, c, t, "left: ", l->profile_typeid, l->label_selector, l->start, l->end,
				 l->max_nodes, l->stack_trace_selector, &ql))
		return;
	if (!stack_query_prepare(api, c, t, "right: ", r->profile_typeid, r->label_selector, r->start, r->end,
				 r->max_nodes, r->stack_trace_selector, &qr)) {
		stack_query_release(&ql);
		return;
	}
	struct profile_type pl, pr;
	char err[200];
	if (profile_type_parse(slice_cstr(l->profile_typeid), &pl, err, sizeof(err)) ||
	    profile_type_parse(slice_cstr(r->profile_typeid), &pr, err, sizeof(err)) ||
	    !same_type(&pl, &pr)) {
		connect_call_fail(c, CONNECT_INVALID_ARGUMENT,
				  "the two sides of a diff must be the same profile type (left %s, right %s)",
				  l->profile_typeid, r->profile_typeid);
		goto out_q;
	}
	struct ftree tl, tr;
	ftree_init(&tl);
	ftree_init(&tr);
	if (stack_query_tree(api, c, &ql, &tl) && stack_query_tree(api, c, &qr, &tr)) {
		struct flamegraph_diff d;
		flamegraph_diff_build(&tl, &tr, ql.max_nodes, &d);
		struct arena *a = c->req->arena;
		Querier__V1__FlameGraphDiff *m = arena_alloc(a, sizeof(*m));
		querier__v1__flame_graph_diff__init(m);
		m->names = d.names;
		m->n_names = d.n_names;
		m->levels = arena_alloc(a, (d.n_levels + 1) * sizeof(*m->levels));
		for (size_t i = 0; i < d.n_levels; i++) {
			Querier__V1__Level *lv = arena_alloc(a, sizeof(*lv));
			querier__v1__level__init(lv);
			lv->values = d.levels[i].values;
			lv->n_values = d.levels[i].n;
			m->levels[m->n_levels++] = lv;
		}
		m->total = d.total;
		m->max_self = d.max_self;
		m->leftticks = d.left_ticks;
		m->rightticks = d.right_ticks;
		Querier__V1__DiffResponse resp = QUERIER__V1__DIFF_RESPONSE__INIT;
		resp.flamegraph = m;
		connect_call_reply(c, &resp.base);
		flamegraph_diff_release(&d);
	}
	ftree_release(&tl);
	ftree_release(&tr);
out_q:
	stack_query_release(&ql);
	stack_query_release(&qr);
}

void api_version(struct api *api, struct http_request *req, struct http_response *resp)
{
	struct connect_call c;
	if (!connect_call_begin(api, &c, req, resp, &version__v1__version_request__descriptor))
		return;
	Version__V1__VersionResponse out = VERSION__V1__VERSION_RESPONSE__INIT;
	out.querierapi = 1;
	connect_call_reply(&c, &out.base);
}

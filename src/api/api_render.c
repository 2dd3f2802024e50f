/* The legacy HTTP read API of Pyroscope (pkg/querier/http.go, pyroscope-api.md §3):
 * GET /pyroscope/render (flamebearer JSON with timeline and groups, or DOT),
 * GET /pyroscope/render-diff and GET /pyroscope/label-values, plus the helpers the read
 * handlers share (api_read.h). Reference: docs/api.md "Legacy HTTP reads". */
#include <errno.h>
#include <time.h>

#include "api/api_read.h"
#include "http/query.h"
#include "model/selector.h"
#include "query/diff.h"
#include "query/flamegraph.h"
#include "query/merge.h"
#include "query/summary.h"
#include "query/timeline.h"
#include "util/attime.h"

#define MS 1000000LL
/** Distinct groupBy values answered in `groups` at most (each holds a full timeline). */
#define RENDER_MAX_GROUPS 1000

/* ---- shared helpers (api_read.h) ------------------------------------------------------ */

int64_t api_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Pyroscope's SmallestPositiveNonZero{Int,Duration}PerTenant. */
static int64_t smallest_positive(int64_t a, int64_t b)
{
	return a <= 0 ? b : b <= 0 ? a : EMBER_MIN(a, b);
}

struct query_limits api_query_limits(const struct api *api, const struct tenants *t)
{
	struct query_limits def = {.max_query_length_ns = api->d.max_query_length_ns,
				   .max_query_lookback_ns = api->d.max_query_lookback_ns,
				   .max_nodes_default = api->d.max_flamegraph_nodes_default,
				   .max_nodes_max = api->d.max_flamegraph_nodes_max};
	if (!api->d.query_limits_fn || !t || !t->n)
		return def;
	struct query_limits out = {0};
	for (size_t i = 0; i < t->n; i++) {
		struct query_limits l;
		api->d.query_limits_fn(api->d.limits_ctx, t->v[i], &l);
		out.max_query_length_ns = smallest_positive(out.max_query_length_ns, l.max_query_length_ns);
		out.max_query_lookback_ns = smallest_positive(out.max_query_lookback_ns, l.max_query_lookback_ns);
		out.max_nodes_default = smallest_positive(out.max_nodes_default, l.max_nodes_default);
		out.max_nodes_max = smallest_positive(out.max_nodes_max, l.max_nodes_max);
	}
	return out;
}

/* Answers 400 for a malformed %-escape or a missing parameter. */
static bool get_param(struct http_request *req, struct http_response *resp, const char *name, struct slice *out,
		      bool *present)
{
	int rc = http_query_get(req->query, name, req->arena, out);
	*present = rc == 0;
	if (rc == EMBER_ENOTFOUND) {
		*out = slice_make("", 0);
		return true;
	}
	if (rc) {
		api_error(resp, CONNECT_INVALID_ARGUMENT, "invalid %s: malformed %%-escape", name);
		return false;
	}
	return true;
}

bool api_profile_query(struct http_request *req, struct http_response *resp, const char *param,
		       struct api_profile_query *out)
{
	memset(out, 0, sizeof(*out));
	struct slice v;
	bool present;
	if (!get_param(req, resp, param, &v, &present))
		return false;
	if (!v.n) {
		api_error(resp, CONNECT_INVALID_ARGUMENT, "\"%s\" is required", param);
		return false;
	}
	char err[300];
	struct selector *sel;
	if (selector_parse(v, &sel, err, sizeof(err))) {
		api_error(resp, CONNECT_INVALID_ARGUMENT, "failed to parse \"%s\": %s", param, err);
		return false;
	}
	struct slice name = selector_metric_name(sel);
	char *type_id = arena_strndup(req->arena, (const char *)name.p, name.n);
	selector_free(sel);
	if (!name.n) {
		api_error(resp, CONNECT_INVALID_ARGUMENT,
			  "\"%s\" must contain a profile-type selection, e.g. process_cpu:cpu:nanoseconds:cpu:nanoseconds{}",
			  param);
		return false;
	}
	if (profile_type_parse(slice_cstr(type_id), &out->pt, err, sizeof(err))) {
		api_error(resp, CONNECT_INVALID_ARGUMENT, "failed to parse \"%s\": %s", param, err);
		return false;
	}
	out->type_id = type_id;
	out->label_selector = (const char *)v.p; /* NUL-terminated by http_query_get */
	return true;
}

bool api_time_param(struct http_request *req, struct http_response *resp, const char *param, int64_t now_ns,
		    int64_t dflt_ns, int64_t *out_ms)
{
	struct slice v;
	bool present;
	if (!get_param(req, resp, param, &v, &present))
		return false;
	int64_t ns = dflt_ns;
	if (v.n && attime_parse(v, now_ns, &ns)) {
		api_error(resp, CONNECT_INVALID_ARGUMENT,
			  "invalid %s %.*s: use unix seconds/ms/µs/ns, YYYYMMDD or now-1h style", param,
			  (int)EMBER_MIN(v.n, 100), (const char *)v.p);
		return false;
	}
	*out_ms = ns / MS; /* as Pyroscope's model.TimeFromUnixNano */
	return true;
}

int api_merge_tree(struct api *api, const struct tenants *t, const char *type_id, const char *label_selector,
		   const struct query_range *r, struct ftree *out, char *err, size_t errlen)
{
	int rc = 0;
	if (!r->empty) {
		struct merge_request mr = {.profile_type = type_id, .label_selector = label_selector,
					   .start_ns = r->start_ns, .end_ns = r->end_ns, .tenants = t->v, .n_tenants = t->n};
		rc = merge_select(&api->reader, &mr, ftree_consume, out, NULL, err, errlen);
	}
	ftree_finish(out);
	return rc;
}

void api_flamebearer_units(const struct profile_type *pt, struct slice *units, uint32_t *sample_rate)
{
	*units = pt->sample_unit;
	*sample_rate = 100;
	static const char *const objects[] = {"inuse_objects", "alloc_objects", "goroutine", "samples"};
	for (size_t i = 0; i < EMBER_ARRAY_LEN(objects); i++)
		if (slice_eq_cstr(pt->sample_type, objects[i]))
			*units = slice_cstr("objects");
	if (slice_eq_cstr(pt->sample_type, "cpu")) {
		*units = slice_cstr("samples");
		*sample_rate = 1000000000;
	}
}

/* ---- render --------------------------------------------------------------------------- */

/* The requested node count: maxNodes wins over max-nodes, as in Pyroscope; absent or 0
 * gives 0. Answers 400 on something that is not an integer. */
static bool max_nodes_requested(struct http_request *req, struct http_response *resp, int64_t *out)
{
	*out = 0;
	static const char *const names[] = {"max-nodes", "maxNodes"};
	for (size_t i = 0; i < 2; i++) {
		struct slice v;
		bool present;
		if (!get_param(req, resp, names[i], &v, &present))
			return false;
		if (!v.n)
			continue;
		char *end;
		errno = 0;
		long long n = strtoll((const char *)v.p, &end, 10);
		if (errno || *end || end == (const char *)v.p) {
			api_error(resp, CONNECT_INVALID_ARGUMENT, "invalid %s %.*s: not an integer", names[i],
				  (int)EMBER_MIN(v.n, 50), (const char *)v.p);
			return false;
		}
		if (n)
			*out = n;
	}
	return true;
}

/* The flame graph node limit: the request's, checked against the server's limits. */
static bool max_nodes_param(struct api *api, const struct tenants *t, struct http_request *req,
			    struct http_response *resp, size_t *out)
{
	int64_t requested;
	if (!max_nodes_requested(req, resp, &requested))
		return false;
	struct query_limits l = api_query_limits(api, t);
	char err[200];
	if (query_limits_max_nodes(&l, requested, out, err, sizeof(err))) {
		api_error(resp, CONNECT_INVALID_ARGUMENT, "%s", err);
		return false;
	}
	return true;
}

/* The validated head range of [from_ms, until_ms]; answers 400 on failure. */
static bool read_range(struct api *api, const struct tenants *t, struct http_response *resp, int64_t from_ms,
		       int64_t until_ms, int64_t now_ns, struct query_range *r)
{
	struct query_limits l = api_query_limits(api, t);
	char err[300];
	if (until_ms < from_ms) {
		api_error(resp, CONNECT_INVALID_ARGUMENT, "invalid time range: until (%lld ms) is before from (%lld ms)",
			  (long long)until_ms, (long long)from_ms);
		return false;
	}
	if (query_limits_range(&l, from_ms, until_ms, now_ns, r, err, sizeof(err))) {
		api_error(resp, CONNECT_INVALID_ARGUMENT, "%s", err);
		return false;
	}
	return true;
}

static void json_flamebearer_levels(struct buf *b, const struct flamegraph_level *levels, size_t n_levels)
{
	buf_append_byte(b, '[');
	for (size_t i = 0; i < n_levels; i++) {
		buf_append_cstr(b, i ? ",[" : "[");
		for (size_t k = 0; k < levels[i].n; k++)
			buf_printf(b, k ? ",%lld" : "%lld", (long long)levels[i].values[k]);
		buf_append_byte(b, ']');
	}
	buf_append_byte(b, ']');
}

static void json_names(struct buf *b, char *const *names, size_t n)
{
	buf_append_byte(b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_append_byte(b, ',');
		buf_append_json_string(b, names[i], strlen(names[i]));
	}
	buf_append_byte(b, ']');
}

static void json_metadata(struct buf *b, const struct profile_type *pt, const char *format)
{
	struct slice units;
	uint32_t rate;
	api_flamebearer_units(pt, &units, &rate);
	buf_printf(b, "\"metadata\":{\"format\":\"%s\",\"spyName\":\"\",\"sampleRate\":%u,\"units\":", format, rate);
	buf_append_json_string(b, (const char *)units.p, units.n);
	buf_append_cstr(b, ",\"name\":");
	buf_append_json_string(b, (const char *)pt->sample_type.p, pt->sample_type.n);
	buf_append_byte(b, '}');
}

static void json_timeline(struct buf *b, const struct timeline *tl, bool avg)
{
	buf_printf(b, "{\"startTime\":%lld,\"samples\":[", (long long)tl->start_s);
	for (size_t i = 0; i < tl->n; i++) {
		int64_t v = timeline_value(tl, i, avg);
		buf_printf(b, i ? ",%lld" : "%lld", (long long)(v < 0 ? 0 : v));
	}
	buf_printf(b, "],\"durationDelta\":%lld,\"watermarks\":null}", (long long)tl->step_s);
}

/* Timeline accumulation under head_select_profiles: the whole selection, and per value
 * of the first groupBy label ("*" for series without it). */
struct render_series {
	struct timeline all;
	const char *group_by; /* NULL = no groups */
	struct strtab keys;   /* group key -> id (id 0 is "", unused) */
	struct timeline *groups;
	size_t cap;
	int64_t from_ms, until_ms, step_s;
	bool too_many;
};

static void render_collect(void *ctx, const struct head_profile_view *p)
{
	struct render_series *rs = ctx;
	timeline_add(&rs->all, p->time_ns, p->total);
	if (!rs->group_by)
		return;
	struct slice v = labels_get(p->labels, rs->group_by);
	if (!v.n)
		v = slice_cstr("*");
	uint32_t id;
	if (!strtab_lookup(&rs->keys, v, &id)) {
		if (rs->keys.n > RENDER_MAX_GROUPS) {
			rs->too_many = true;
			return;
		}
		id = strtab_intern(&rs->keys, v);
		XGROW(rs->groups, rs->cap, id + 1);
		/* Same range and step as the main timeline, so this cannot fail. */
		if (timeline_init(&rs->groups[id], rs->from_ms, rs->until_ms, rs->step_s))
			memset(&rs->groups[id], 0, sizeof(rs->groups[id]));
	}
	timeline_add(&rs->groups[id], p->time_ns, p->total);
}

static int key_cmp(const void *a, const void *b, void *ctx)
{
	const struct strtab *keys = ctx;
	return slice_cmp(strtab_get(keys, *(const uint32_t *)a), strtab_get(keys, *(const uint32_t *)b));
}

static void render_dot(struct api *api, struct http_response *resp, const struct tenants *t,
		       const struct api_profile_query *q, const struct query_range *r, size_t max_nodes)
{
	struct ftree tree;
	ftree_init(&tree);
	char err[300];
	if (api_merge_tree(api, t, q->type_id, q->label_selector, r, &tree, err, sizeof(err))) {
		api_error(resp, CONNECT_INVALID_ARGUMENT, "%s", err);
		goto out;
	}
	resp->status = 200;
	resp->content_type = "text/plain; charset=utf-8";
	resp->body.n = 0;
	/* Pyroscope answers an empty body when nothing matched. */
	if (tree.nodes[0].total > 0)
		summary_dot(&tree, max_nodes, q->type_id, &resp->body);
out:
	ftree_release(&tree);
}

void api_render(struct api *api, struct http_request *req, struct http_response *resp)
{
	struct tenants t;
	if (!api_tenants(api, req, resp, true, &t))
		return;
	int64_t now = api_now_ns();
	struct api_profile_query q;
	int64_t from_ms, until_ms;
	size_t max_nodes;
	if (!api_profile_query(req, resp, "query", &q) || !api_time_param(req, resp, "from", now, now, &from_ms) ||
	    !api_time_param(req, resp, "until", now, now, &until_ms))
		return;
	struct slice format, agg;
	bool has_format, has_agg;
	if (!get_param(req, resp, "format", &format, &has_format) ||
	    !get_param(req, resp, "aggregation", &agg, &has_agg))
		return;
	bool avg = slice_eq_cstr(agg, "avg");
	if (agg.n && !avg && !slice_eq_cstr(agg, "sum")) {
		api_error(resp, CONNECT_INVALID_ARGUMENT, "invalid aggregation %.*s: use sum or avg",
			  (int)EMBER_MIN(agg.n, 50), (const char *)agg.p);
		return;
	}
	struct slice *group_by;
	size_t n_group_by;
	if (http_query_get_all(req->query, "groupBy", req->arena, &group_by, &n_group_by)) {
		api_error(resp, CONNECT_INVALID_ARGUMENT, "invalid groupBy: malformed %%-escape");
		return;
	}
	struct query_range r;
	if (!read_range(api, &t, resp, from_ms, until_ms, now, &r))
		return;

	if (slice_eq_cstr(format, "dot")) {
		/* Pyroscope: 100 nodes unless maxNodes says otherwise. */
		int64_t requested;
		size_t dot_nodes = SUMMARY_DOT_NODES_DEFAULT;
		if (!max_nodes_requested(req, resp, &requested))
			return;
		if (requested && !max_nodes_param(api, &t, req, resp, &dot_nodes))
			return;
		render_dot(api, resp, &t, &q, &r, dot_nodes ? dot_nodes : SUMMARY_DOT_NODES_DEFAULT);
		return;
	}
	if (!max_nodes_param(api, &t, req, resp, &max_nodes))
		return;

	struct ftree tree;
	struct flamegraph fg = {0};
	struct render_series rs = {.from_ms = from_ms, .until_ms = until_ms};
	struct selector *sel = NULL;
	uint32_t *order = NULL;
	char err[300];
	ftree_init(&tree);
	strtab_init(&rs.keys);
	rs.step_s = timeline_step_seconds(from_ms, until_ms);
	int rc = timeline_init(&rs.all, from_ms, until_ms, rs.step_s);
	if (rc) {
		api_error(resp, CONNECT_INVALID_ARGUMENT, "the time range is too long for a timeline");
		goto out;
	}
	if (api_merge_tree(api, &t, q.type_id, q.label_selector, &r, &tree, err, sizeof(err)) ||
	    merge_selector(q.type_id, q.label_selector, &sel, err, sizeof(err))) {
		api_error(resp, CONNECT_INVALID_ARGUMENT, "%s", err);
		goto out;
	}
	if (n_group_by)
		rs.group_by = (const char *)group_by[0].p; /* NUL-terminated by http_query_get_all */
	if (!r.empty) {
		const struct selector *sels[1] = {sel};
		struct head_range hr = {r.start_ns, r.end_ns};
		for (size_t i = 0; i < t.n; i++)
			reader_select_profiles(&api->reader, t.v[i], sels, 1, hr, render_collect, NULL, &rs);
	}
	if (rs.too_many) {
		api_error(resp, CONNECT_INVALID_ARGUMENT, "groupBy %s has more than %d values: narrow the query",
			  rs.group_by, RENDER_MAX_GROUPS);
		goto out;
	}
	flamegraph_build(&tree, max_nodes, &fg);

	struct buf *b = &resp->body;
	b->n = 0;
	buf_append_cstr(b, "{\"version\":1,\"flamebearer\":{\"names\":");
	json_names(b, fg.names, fg.n_names);
	buf_append_cstr(b, ",\"levels\":");
	json_flamebearer_levels(b, fg.levels, fg.n_levels);
	buf_printf(b, ",\"numTicks\":%lld,\"maxSelf\":%lld},", (long long)fg.total, (long long)fg.max_self);
	json_metadata(b, &q.pt, "single");
	buf_append_cstr(b, ",\"timeline\":");
	json_timeline(b, &rs.all, avg);
	buf_append_cstr(b, ",\"groups\":");
	if (!rs.group_by) {
		buf_append_cstr(b, "null");
	} else {
		/* keys sorted, as Go's encoding/json writes maps */
		size_t n = rs.keys.n - 1;
		order = xmalloc((n + 1) * sizeof(*order));
		for (size_t i = 0; i < n; i++)
			order[i] = (uint32_t)(i + 1);
		sort_r_n(order, n, sizeof(*order), key_cmp, &rs.keys);
		buf_append_byte(b, '{');
		for (size_t i = 0; i < n; i++) {
			struct slice k = strtab_get(&rs.keys, order[i]);
			if (i)
				buf_append_byte(b, ',');
			buf_append_json_string(b, (const char *)k.p, k.n);
			buf_append_byte(b, ':');
			json_timeline(b, &rs.groups[order[i]], avg);
		}
		buf_append_byte(b, '}');
	}
	buf_append_cstr(b, ",\"heatmap\":null}\n");
	resp->status = 200;
	resp->content_type = "application/json";
out:
	free(order);
	selector_free(sel);
	flamegraph_release(&fg);
	ftree_release(&tree);
	timeline_release(&rs.all);
	for (size_t i = 1; i < rs.keys.n; i++)
		timeline_release(&rs.groups[i]);
	free(rs.groups);
	strtab_release(&rs.keys);
}

/* ---- render-diff ---------------------------------------------------------------------- */

void api_render_diff(struct api *api, struct http_request *req, struct http_response *resp)
{
	struct tenants t;
	if (!api_tenants(api, req, resp, true, &t))
		return;
	int64_t now = api_now_ns();
	struct api_profile_query lq, rq;
	int64_t lf, lu, rf, ru;
	size_t max_nodes;
	if (!api_profile_query(req, resp, "leftQuery", &lq) || !api_time_param(req, resp, "leftFrom", now, now, &lf) ||
	    !api_time_param(req, resp, "leftUntil", now, now, &lu) || !api_profile_query(req, resp, "rightQuery", &rq) ||
	    !api_time_param(req, resp, "rightFrom", now, now, &rf) ||
	    !api_time_param(req, resp, "rightUntil", now, now, &ru))
		return;
	struct buf lt = BUF_INIT, rt = BUF_INIT;
	profile_type_format(&lq.pt, &lt);
	profile_type_format(&rq.pt, &rt);
	bool same = lt.n == rt.n && !memcmp(lt.p, rt.p, lt.n);
	buf_release(&lt);
	buf_release(&rt);
	if (!same) {
		api_error(resp, CONNECT_INVALID_ARGUMENT, "profile types must match: leftQuery has %s, rightQuery has %s",
			  lq.type_id, rq.type_id);
		return;
	}
	struct query_range lr, rr;
	if (!read_range(api, &t, resp, lf, lu, now, &lr) || !read_range(api, &t, resp, rf, ru, now, &rr) ||
	    !max_nodes_param(api, &t, req, resp, &max_nodes))
		return;
	struct ftree left, right;
	struct flamegraph_diff fd = {0};
	char err[300];
	ftree_init(&left);
	ftree_init(&right);
	if (api_merge_tree(api, &t, lq.type_id, lq.label_selector, &lr, &left, err, sizeof(err)) ||
	    api_merge_tree(api, &t, rq.type_id, rq.label_selector, &rr, &right, err, sizeof(err))) {
		api_error(resp, CONNECT_INVALID_ARGUMENT, "%s", err);
		goto out;
	}
	flamegraph_diff_build(&left, &right, max_nodes, &fd);
	struct buf *b = &resp->body;
	b->n = 0;
	buf_append_cstr(b, "{\"version\":1,\"flamebearer\":{\"names\":");
	json_names(b, fd.names, fd.n_names);
	buf_append_cstr(b, ",\"levels\":");
	json_flamebearer_levels(b, fd.levels, fd.n_levels);
	buf_printf(b, ",\"numTicks\":%lld,\"maxSelf\":%lld},", (long long)fd.total, (long long)fd.max_self);
	json_metadata(b, &lq.pt, "double");
	buf_printf(b, ",\"timeline\":null,\"groups\":null,\"heatmap\":null,\"leftTicks\":%lld,\"rightTicks\":%lld}\n",
		   (long long)fd.left_ticks, (long long)fd.right_ticks);
	resp->status = 200;
	resp->content_type = "application/json";
out:
	flamegraph_diff_release(&fd);
	ftree_release(&left);
	ftree_release(&right);
}

/* ---- label-values --------------------------------------------------------------------- */

struct value_collect {
	const char *label; /* NUL-terminated */
	struct strtab set;
};

static void collect_value(void *ctx, const struct labels *ls)
{
	struct value_collect *vc = ctx;
	struct slice v = labels_get(ls, vc->label);
	if (v.n)
		strtab_intern(&vc->set, v);
}

static int slice_qcmp(const void *a, const void *b)
{
	return slice_cmp(*(const struct slice *)a, *(const struct slice *)b);
}

void api_label_values(struct api *api, struct http_request *req, struct http_response *resp)
{
	struct tenants t;
	if (!api_tenants(api, req, resp, true, &t))
		return;
	struct slice label, query;
	bool has_label, has_query, has_from, has_until;
	if (!get_param(req, resp, "label", &label, &has_label) || !get_param(req, resp, "query", &query, &has_query))
		return;
	if (!label.n) {
		api_error(resp, CONNECT_INVALID_ARGUMENT, "label parameter is required");
		return;
	}
	if (memchr(label.p, 0, label.n)) {
		api_error(resp, CONNECT_INVALID_ARGUMENT, "invalid label name: it contains a NUL byte");
		return;
	}
	/* Pyroscope lists over all time; from/until narrow it when given. */
	struct head_range hr = {INT64_MIN, -1};
	has_from = http_query_has(req->query, "from");
	has_until = http_query_has(req->query, "until");
	if (has_from || has_until) {
		int64_t now = api_now_ns(), from_ms, until_ms;
		if (!api_time_param(req, resp, "from", now, has_from ? now : 0, &from_ms) ||
		    !api_time_param(req, resp, "until", now, now, &until_ms))
			return;
		if (until_ms < from_ms) {
			api_error(resp, CONNECT_INVALID_ARGUMENT, "invalid time range: until is before from");
			return;
		}
		hr.start_ns = from_ms * MS;
		hr.end_ns = until_ms * MS + MS - 1;
	}
	struct selector *sel = NULL;
	char err[300];
	if (query.n) {
		/* `type{...}` restricts to that profile type; a bare `{...}` does not. */
		int rc = selector_parse(query, &sel, err, sizeof(err));
		if (!rc && selector_metric_name(sel).n) {
			struct slice name = selector_metric_name(sel);
			char *type_id = arena_strndup(req->arena, (const char *)name.p, name.n);
			selector_free(sel);
			sel = NULL;
			rc = merge_selector(type_id, (const char *)query.p, &sel, err, sizeof(err));
		}
		if (rc) {
			api_error(resp, CONNECT_INVALID_ARGUMENT, "failed to parse \"query\": %s", err);
			return;
		}
	}
	/* __name__ lists profile type IDs, as Pyroscope's handler does. */
	bool names = slice_eq_cstr(label, "__name__");
	struct value_collect vc = {.label = names ? LABEL_PROFILE_TYPE : (const char *)label.p};
	strtab_init(&vc.set);
	const struct selector *sels[1] = {sel};
	for (size_t i = 0; i < t.n; i++)
		reader_select_series(&api->reader, t.v[i], sel ? sels : NULL, sel ? 1 : 0, hr, collect_value, &vc);
	selector_free(sel);
	size_t n = vc.set.n - 1;
	struct slice *v = xmalloc((n + 1) * sizeof(*v));
	memcpy(v, vc.set.strs + 1, n * sizeof(*v));
	sort_n(v, n, sizeof(*v), slice_qcmp);
	struct buf *b = &resp->body;
	b->n = 0;
	buf_append_byte(b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_append_byte(b, ',');
		buf_append_json_string(b, (const char *)v[i].p, v[i].n);
	}
	buf_append_cstr(b, "]\n");
	free(v);
	strtab_release(&vc.set);
	resp->status = 200;
	resp->content_type = "application/json";
}

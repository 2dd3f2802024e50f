/* Ember's incident summary (beyond Pyroscope; docs/summary.md):
 * POST /ember.v1.AnalysisService/Summarize (Connect unary, proto or JSON) and
 * GET /ember/v1/summary?query=<type>{selector}&from=&until=&top=N (plain JSON). Both merge
 * the selection into a call tree (api_merge_tree) and hand it to query/summary.h. */
#include <errno.h>

#include "analysis.pb-c.h"
#include "api/api_read.h"
#include "http/query.h"
#include "query/summary.h"

#define MS 1000000LL
#define HOUR_NS (3600LL * 1000000000)

/* top: 0 = the default; past the maximum or negative is refused. */
static bool top_valid(int64_t top, size_t *out, char *err, size_t errlen)
{
	if (top < 0 || top > SUMMARY_TOP_MAX) {
		snprintf(err, errlen, "invalid top %lld: it must be between 1 and %d (0 = %d)", (long long)top,
			 SUMMARY_TOP_MAX, SUMMARY_TOP_DEFAULT);
		return false;
	}
	*out = top ? (size_t)top : SUMMARY_TOP_DEFAULT;
	return true;
}

/* ---- Connect ------------------------------------------------------------------------- */

static char *arena_slice(struct arena *a, struct slice s)
{
	return arena_strndup(a, (const char *)s.p, s.n);
}

void api_summarize(struct api *api, struct http_request *req, struct http_response *resp)
{
	struct connect_call c;
	struct tenants t;
	if (!connect_call_begin(api, &c, req, resp, &ember__v1__summarize_request__descriptor))
		return;
	if (!api_tenants(api, req, resp, true, &t)) {
		connect_call_fail(&c, CONNECT_UNAUTHENTICATED, "no org id: the X-Scope-OrgID header is required");
		return;
	}
	const Ember__V1__SummarizeRequest *in = (const void *)c.in;
	char err[300];
	struct profile_type pt;
	size_t top;
	if (profile_type_parse(slice_cstr(in->profile_typeid), &pt, err, sizeof(err)) ||
	    !top_valid(in->top, &top, err, sizeof(err))) {
		connect_call_fail(&c, CONNECT_INVALID_ARGUMENT, "%s", err);
		return;
	}
	struct query_limits l = api_query_limits(api, &t);
	struct query_range r;
	if (query_limits_range(&l, in->start, in->end, api_now_ns(), &r, err, sizeof(err))) {
		connect_call_fail(&c, CONNECT_INVALID_ARGUMENT, "%s", err);
		return;
	}
	struct ftree tree;
	ftree_init(&tree);
	if (api_merge_tree(api, &t, in->profile_typeid, in->label_selector, &r, &tree, err, sizeof(err))) {
		ftree_release(&tree);
		connect_call_fail(&c, CONNECT_INVALID_ARGUMENT, "%s", err);
		return;
	}
	struct summary s;
	summary_build(&tree, top, &s);
	struct arena *a = req->arena;
	Ember__V1__SummarizeResponse out = EMBER__V1__SUMMARIZE_RESPONSE__INIT;
	out.total = s.total;
	out.unit = arena_slice(a, pt.sample_unit);
	out.top_functions = arena_alloc(a, (s.n_top + 1) * sizeof(*out.top_functions));
	for (size_t i = 0; i < s.n_top; i++) {
		Ember__V1__FunctionSummary *f = arena_alloc(a, sizeof(*f));
		ember__v1__function_summary__init(f);
		f->name = arena_slice(a, s.top[i].name);
		f->self = s.top[i].self;
		f->total = s.top[i].total;
		f->self_share = s.top[i].self_share;
		out.top_functions[out.n_top_functions++] = f;
	}
	out.hottest_path = arena_alloc(a, (s.n_path + 1) * sizeof(*out.hottest_path));
	for (size_t i = 0; i < s.n_path; i++) {
		Ember__V1__PathStep *p = arena_alloc(a, sizeof(*p));
		ember__v1__path_step__init(p);
		p->name = arena_slice(a, s.path[i].name);
		p->total = s.path[i].total;
		p->self = s.path[i].self;
		p->share = s.path[i].share;
		out.hottest_path[out.n_hottest_path++] = p;
	}
	summary_release(&s);
	ftree_release(&tree);
	connect_call_reply(&c, &out.base);
}

/* ---- GET /ember/v1/summary ------------------------------------------------------------- */

/* Shares as JSON numbers, in the shortest form that reads back as the same double (as
 * protojson writes them); never NaN/Inf (a share is 0 when the total is). */
static void json_double(struct buf *b, double v)
{
	char tmp[40];
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	buf_append_cstr(b, tmp);
}

void api_summary_get(struct api *api, struct http_request *req, struct http_response *resp)
{
	struct tenants t;
	if (!api_tenants(api, req, resp, true, &t))
		return;
	int64_t now = api_now_ns();
	struct api_profile_query q;
	int64_t from_ms, until_ms;
	if (!api_profile_query(req, resp, "query", &q) ||
	    !api_time_param(req, resp, "from", now, now - HOUR_NS, &from_ms) ||
	    !api_time_param(req, resp, "until", now, now, &until_ms))
		return;
	char err[300];
	size_t top = SUMMARY_TOP_DEFAULT;
	struct slice tv;
	int rc = http_query_get(req->query, "top", req->arena, &tv);
	if (rc == EMBER_EINVAL) {
		api_error(resp, CONNECT_INVALID_ARGUMENT, "invalid top: malformed %%-escape");
		return;
	}
	if (rc == 0 && tv.n) {
		char *end;
		errno = 0;
		long long n = strtoll((const char *)tv.p, &end, 10);
		if (errno || *end || end == (const char *)tv.p) {
			api_error(resp, CONNECT_INVALID_ARGUMENT, "invalid top %.*s: not an integer", (int)EMBER_MIN(tv.n, 50),
				  (const char *)tv.p);
			return;
		}
		if (!top_valid(n, &top, err, sizeof(err))) {
			api_error(resp, CONNECT_INVALID_ARGUMENT, "%s", err);
			return;
		}
	}
	if (until_ms < from_ms) {
		api_error(resp, CONNECT_INVALID_ARGUMENT, "invalid time range: until (%lld ms) is before from (%lld ms)",
			  (long long)until_ms, (long long)from_ms);
		return;
	}
	struct query_limits l = api_query_limits(api, &t);
	struct query_range r;
	if (query_limits_range(&l, from_ms, until_ms, now, &r, err, sizeof(err))) {
		api_error(resp, CONNECT_INVALID_ARGUMENT, "%s", err);
		return;
	}
	struct ftree tree;
	ftree_init(&tree);
	if (api_merge_tree(api, &t, q.type_id, q.label_selector, &r, &tree, err, sizeof(err))) {
		ftree_release(&tree);
		api_error(resp, CONNECT_INVALID_ARGUMENT, "%s", err);
		return;
	}
	struct summary s;
	summary_build(&tree, top, &s);
	struct buf *b = &resp->body;
	b->n = 0;
	buf_printf(b, "{\"total\":%lld,\"unit\":", (long long)s.total);
	buf_append_json_string(b, (const char *)q.pt.sample_unit.p, q.pt.sample_unit.n);
	buf_append_cstr(b, ",\"topFunctions\":[");
	for (size_t i = 0; i < s.n_top; i++) {
		buf_append_cstr(b, i ? ",{\"name\":" : "{\"name\":");
		buf_append_json_string(b, (const char *)s.top[i].name.p, s.top[i].name.n);
		buf_printf(b, ",\"self\":%lld,\"total\":%lld,\"selfShare\":", (long long)s.top[i].self,
			   (long long)s.top[i].total);
		json_double(b, s.top[i].self_share);
		buf_append_byte(b, '}');
	}
	buf_append_cstr(b, "],\"hottestPath\":[");
	for (size_t i = 0; i < s.n_path; i++) {
		buf_append_cstr(b, i ? ",{\"name\":" : "{\"name\":");
		buf_append_json_string(b, (const char *)s.path[i].name.p, s.path[i].name.n);
		buf_printf(b, ",\"total\":%lld,\"self\":%lld,\"share\":", (long long)s.path[i].total,
			   (long long)s.path[i].self);
		json_double(b, s.path[i].share);
		buf_append_byte(b, '}');
	}
	buf_append_cstr(b, "]}\n");
	summary_release(&s);
	ftree_release(&tree);
	resp->status = 200;
	resp->content_type = "application/json";
}

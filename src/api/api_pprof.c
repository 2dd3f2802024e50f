/* querier.v1.QuerierService/SelectMergeProfile: the merged selection as a pprof profile.
 * The response message is google.v1.Profile itself (pyroscope-api.md §2.4); it is built
 * in wire form by query/pprof_export.h and sent as is for application/proto. */
#include <time.h>

#include "api/api_read.h"
#include "model/profile_id.h"
#include "profile.pb-c.h"
#include "querier.pb-c.h"
#include "query/callsite.h"
#include "query/limits.h"
#include "query/pprof_export.h"

#define MS 1000000LL

void api_select_merge_profile(struct api *api, struct connect_call *c, const struct tenants *t)
{
	const Querier__V1__SelectMergeProfileRequest *in = (const void *)c->in;
	char err[400];
	/* Pyroscope's SanitizeTimeRange: both ends required and in order, the start clamped to
	 * the lookback, the length capped. No max_nodes default here (see below). */
	struct query_limits lim = api_query_limits(api, t);
	lim.max_nodes_default = lim.max_nodes_max = 0;
	struct query_range r;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (query_limits_range(&lim, in->start, in->end, (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec, &r, err,
			       sizeof(err))) {
		connect_call_fail(c, CONNECT_INVALID_ARGUMENT, "%s", err);
		return;
	}
	/* Ember keeps no trace ids: answering as if the selector were not there would return
	 * a different profile than asked for. */
	if (in->n_trace_id_selector) {
		connect_call_fail(c, CONNECT_UNIMPLEMENTED, "trace_id_selector is not supported");
		return;
	}
	uint8_t(*pids)[PROFILE_ID_LEN] = arena_alloc(c->req->arena, (in->n_profile_id_selector + 1) * PROFILE_ID_LEN);
	for (size_t i = 0; i < in->n_profile_id_selector; i++) {
		const char *s = in->profile_id_selector[i] ? in->profile_id_selector[i] : "";
		if (profile_id_parse(slice_cstr(s), pids[i])) {
			connect_call_fail(c, CONNECT_INVALID_ARGUMENT, "invalid profile id %.64s: not a UUID", s);
			return;
		}
	}
	const Types__V1__StackTraceSelector *sts = in->stack_trace_selector;
	if (sts && sts->go_pgo) {
		connect_call_fail(c, CONNECT_UNIMPLEMENTED, "stack_trace_selector.go_pgo is not supported");
		return;
	}
	struct callsite *cs = NULL;
	if (sts && sts->n_call_site) {
		const char **names = arena_alloc(c->req->arena, sts->n_call_site * sizeof(*names));
		for (size_t i = 0; i < sts->n_call_site; i++)
			names[i] = sts->call_site[i] && sts->call_site[i]->name ? sts->call_site[i]->name : "";
		cs = callsite_new(names, sts->n_call_site);
	}
	struct merge_request req = {
		.profile_type = in->profile_typeid,
		.label_selector = in->label_selector,
		.start_ns = r.start_ns,
		.end_ns = r.end_ns,
		.tenants = t->v,
		.n_tenants = t->n,
		.profile_ids = (const uint8_t(*)[HEAD_ID_LEN])pids,
		.n_profile_ids = in->n_profile_id_selector,
	};
	/* Pyroscope applies no max_nodes default here (the method exports pprof, where a cut
	 * is unwelcome; -querier.max-flamegraph-nodes-on-select-merge-profile is off by
	 * default): only a positive max_nodes from the client cuts. Time as its v1 querier:
	 * time_nanos = end, duration_nanos = end - start (after the lookback clamp). */
	struct pprof_export_opts opts = {
		.max_nodes = in->max_nodes > 0 ? (size_t)in->max_nodes : 0,
		.time_nanos = in->end * MS,
		.duration_nanos = in->end * MS - r.start_ns,
		.callsite = cs,
	};
	struct buf out = BUF_INIT;
	/* A range wholly before the lookback: Pyroscope answers an empty Profile message. */
	int rc = r.empty ? 0 : query_pprof_export_opts(&api->reader, &req, &opts, &out, err, sizeof(err));
	callsite_free(cs);
	if (rc) {
		buf_release(&out);
		connect_call_fail(c, connect_code_from_error(rc), "%s", err);
		return;
	}
	connect_call_reply_packed(c, &google__v1__profile__descriptor, &out);
}

/* Helpers shared by the read handlers of api_render.c (legacy /pyroscope/render,
 * render-diff, label-values) and api_analysis.c (Ember's summary): query-string
 * parameters, the read limits, and building the merged call tree. */
#ifndef EMBER_API_READ_H
#define EMBER_API_READ_H

#include "api/api_internal.h"
#include "model/profile_type.h"
#include "query/ftree.h"
#include "query/limits.h"

/** A `<profile type ID>{matchers}` query parameter. Strings live in the request arena. */
struct api_profile_query {
	const char *type_id;        /* the metric-name part, e.g. process_cpu:cpu:nanoseconds:cpu:nanoseconds */
	const char *label_selector; /* the whole parameter (merge_select ignores its metric name) */
	struct profile_type pt;     /* parsed type_id (slices into it) */
};

/** Parses parameter `param` of req's query string. On failure answers 400 (or sets
 * nothing and answers 400 "<param> is required" when absent) and returns false. */
bool api_profile_query(struct http_request *req, struct http_response *resp, const char *param,
		       struct api_profile_query *out);

/** Parses attime parameter `param` (util/attime.h) into Unix ms; absent or empty gives
 * dflt_ns. On failure answers 400 and returns false. */
bool api_time_param(struct http_request *req, struct http_response *resp, const char *param, int64_t now_ns,
		    int64_t dflt_ns, int64_t *out_ms);

/** The stack-query limits of a query over tenants t: each tenant's (-querier.* or its
 * runtime overrides), combined as Pyroscope does for "a|b" queries: per limit the
 * smallest positive value (0 = no limit only when every tenant has none). */
struct query_limits api_query_limits(const struct api *api, const struct tenants *t);

/** Current wall-clock time in Unix ns. */
int64_t api_now_ns(void);

/** Merges the profiles of type_id matching label_selector in r over tenants t into out
 * (ftree_init'ed by the caller; finished here). r->empty gives an empty finished tree.
 * Returns 0 or EMBER_EINVAL with a message in err (answer 400). */
int api_merge_tree(struct api *api, const struct tenants *t, const char *type_id, const char *label_selector,
		   const struct query_range *r, struct ftree *out, char *err, size_t errlen) EMBER_WUR;

/** Pyroscope's flamebearer metadata for a profile type (pkg/model/flamegraph.go
 * ExportToFlamebearer): units is the sample unit, except "objects" for the
 * inuse_objects/alloc_objects/goroutine/samples sample types and "samples" for cpu;
 * sampleRate is 1e9 for cpu, else 100. *units points into pt or is static. */
void api_flamebearer_units(const struct profile_type *pt, struct slice *units, uint32_t *sample_rate);

#endif

/* pprof_export: a merged query as one pprof profile (google.v1.Profile), the answer of
 * SelectMergeProfile and of SelectMergeStacktraces with format=PPROF.
 *
 * The selection and merge are query/merge.h's; each partition's merged stacks are copied,
 * while the head's lock is held, into the export's own id space: strings, mappings,
 * functions and locations are de-duplicated by content across partitions (several
 * services in one query share nothing in the head but may share code), ids are dense from
 * 1, and equal stacks from different partitions become one sample. Samples carry no
 * labels. Metadata follows Pyroscope (pkg/pprof SetProfileMetadata and the v1 querier):
 * sample_type = [sample_type:sample_unit] of the profile type ID, default_sample_type the
 * same type, period_type = period_type:period_unit, period by the type's name
 * (process_cpu 1e9, memory 524288, anything else 1), time_nanos = the query's end,
 * duration_nanos = end - start. Design: docs/internals/query.md. */
#ifndef EMBER_QUERY_PPROF_EXPORT_H
#define EMBER_QUERY_PPROF_EXPORT_H

#include "query/merge.h"
#include "util/buf.h"

struct callsite;

/** What to export besides the selection. */
struct pprof_export_opts {
	/* 0 = every stack (Pyroscope's default for SelectMergeProfile). Otherwise Pyroscope's
	 * truncation: in the call tree of functions (inline frames expanded), only the
	 * max_nodes nodes with the largest totals stay; each stack loses its frames below
	 * the last kept one and gets one frame named "other" in their place (a stack with no
	 * kept frame becomes just "other"); equal stacks are then summed. */
	size_t max_nodes;
	int64_t time_nanos;     /* written as is; see query_pprof_export for the default */
	int64_t duration_nanos;
	const struct callsite *callsite; /* stack_trace_selector.call_site (query/callsite.h);
	                                    NULL = every stack */
};

/** Selects and merges like merge_select, and appends the (uncompressed) protobuf encoding
 * of the merged profile to out (caller owns out). max_nodes as in pprof_export_opts;
 * time_nanos = req->end_ns rounded down to the millisecond (Pyroscope sends the request's
 * end), duration_nanos = that minus req->start_ns (0 when the range is open). An empty
 * selection gives a valid profile with no samples. Returns 0, or EMBER_EINVAL (bad profile
 * type or selector; message in err) with out unchanged. */
int query_pprof_export(const struct reader *rd, const struct merge_request *req, size_t max_nodes, struct buf *out,
		       char *err, size_t errlen) EMBER_WUR;

/** query_pprof_export with explicit options (opts NULL = all zero): the call-site filter
 * applies to the merged stacks before the max_nodes cut. */
int query_pprof_export_opts(const struct reader *rd, const struct merge_request *req, const struct pprof_export_opts *opts,
			    struct buf *out, char *err, size_t errlen) EMBER_WUR;

/* ---- the pieces, for callers that merge on their own ----------------------------------- */

/** The export being assembled. Opaque. */
struct pprof_export;

/** A new, empty export of profile type `profile_type` (an ID as in merge_request). Returns
 * 0, or EMBER_EINVAL for a malformed ID (message in err). */
int pprof_export_new(const char *profile_type, struct pprof_export **out, char *err, size_t errlen) EMBER_WUR;
/** Frees e (NULL-safe). */
void pprof_export_free(struct pprof_export *e);
/** Copies one partition's merged stacks into e (use from a merge_consume_fn). Everything
 * needed is copied: part may go away afterwards. */
void pprof_export_add(struct pprof_export *e, const struct merge_partition *part);
/** merge_consume_fn adapter: ctx is a struct pprof_export *. */
void pprof_export_consume(void *ctx, const struct merge_partition *part);
/** Applies opts (truncation, times) and appends the protobuf encoding to out. May be
 * called more than once; truncation is applied to the export itself. */
void pprof_export_encode(struct pprof_export *e, const struct pprof_export_opts *opts, struct buf *out);
/** Number of samples so far, and their total value. */
size_t pprof_export_samples(const struct pprof_export *e, int64_t *total);

#endif

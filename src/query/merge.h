/* merge: the first half of every stack query. Selects the profiles of one profile type
 * matching a label selector in a time range (over one or more tenants), adds their values
 * per stack id into a dense array per symbol partition, and hands each partition's
 * (stack id, value) list to a consumer while the head's symbols are stable. The cost is
 * proportional to the distinct stacks touched, not to the samples.
 * Design: docs/internals/query.md. */
#ifndef EMBER_QUERY_MERGE_H
#define EMBER_QUERY_MERGE_H

#include "store/reader.h"

struct selector;

/** What to select. All pointers are borrowed for the call. */
struct merge_request {
	const char *profile_type;   /* a profile type ID, e.g. process_cpu:cpu:nanoseconds:cpu:nanoseconds */
	const char *label_selector; /* Prometheus selector, e.g. {service_name="api"}; "" or NULL = {} */
	int64_t start_ns, end_ns;   /* inclusive */
	const struct slice *tenants;
	size_t n_tenants;
	/* Optional filters (zero = off). profile_ids: only profiles whose id is one of these
	 * (HEAD_ID_LEN bytes each). by_spans: merge only the span triples (samples that
	 * carried a span_id) whose span is in span_ids[0..n_span_ids) (none: nothing). */
	const uint8_t (*profile_ids)[HEAD_ID_LEN];
	size_t n_profile_ids;
	bool by_spans;
	const uint64_t *span_ids;
	size_t n_span_ids;
};

/** One partition's merged stacks: stacks ascending, values > 0. Everything (syms
 * included) is valid only during the consumer call. */
struct merge_partition {
	const struct symbols *syms;
	const uint32_t *stacks;
	const int64_t *values;
	size_t n;
};

typedef void (*merge_consume_fn)(void *ctx, const struct merge_partition *part);

struct merge_stats {
	size_t profiles; /* profiles merged */
	size_t stacks;   /* distinct (partition, stack) pairs */
	int64_t total;   /* sum of every value */
};

/** Builds the selector `{__profile_type__="<type>", <label_selector's matchers>}` after
 * checking both parse. Returns 0, or EMBER_EINVAL with a message in err. *out is freed
 * with selector_free. */
int merge_selector(const char *profile_type, const char *label_selector, struct selector **out, char *err,
		   size_t errlen) EMBER_WUR;

/** Runs the selection and calls fn once per partition that has data. Returns 0, or
 * EMBER_EINVAL (bad type or selector, message in err). stats may be NULL. */
int merge_select(const struct reader *rd, const struct merge_request *req, merge_consume_fn fn, void *ctx,
		 struct merge_stats *stats, char *err, size_t errlen) EMBER_WUR;

#endif

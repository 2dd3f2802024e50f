/* limits: the read-path limits of Pyroscope's pkg/validation (ValidateRangeRequest,
 * ValidateMaxNodes), applied to every stack query: the time range rules, the lookback
 * clamp, the maximum query length and the max_nodes default and maximum.
 * pyroscope-api.md §2.4. */
#ifndef EMBER_QUERY_LIMITS_H
#define EMBER_QUERY_LIMITS_H

#include "util/common.h"

struct query_limits {
	int64_t max_query_length_ns;   /* 0 = no limit (default 24h) */
	int64_t max_query_lookback_ns; /* 0 = no limit (default 7d) */
	int64_t max_nodes_default;     /* max_nodes used when a request says 0 (default 8192) */
	int64_t max_nodes_max;         /* 0 = no limit (default 1048576) */
};

#define QUERY_LIMITS_DEFAULT                                                                                     \
	((struct query_limits){.max_query_length_ns = 24LL * 3600 * 1000000000,                                    \
			       .max_query_lookback_ns = 7LL * 24 * 3600 * 1000000000,                              \
			       .max_nodes_default = 8192,                                                          \
			       .max_nodes_max = 1048576})

/** A validated query range in nanoseconds, both ends inclusive. */
struct query_range {
	int64_t start_ns, end_ns;
	bool empty; /* entirely before the lookback: answer an empty result without querying */
};

/** Validates a request's [start_ms, end_ms] at time now_ns: both non-zero and start <=
 * end ("missing time range in the query" / "query start time is after end time"); start
 * clamped to now - lookback (a range that ends before that is empty); then the length
 * checked against max_query_length. end is inclusive to the millisecond. Returns 0, or
 * EMBER_EINVAL with a message in err. */
int query_limits_range(const struct query_limits *l, int64_t start_ms, int64_t end_ms, int64_t now_ns,
		       struct query_range *out, char *err, size_t errlen) EMBER_WUR;

/** Resolves a request's max_nodes: 0 gives the default; negative or above the maximum is
 * an error (unless the maximum is 0, which means no limit, and then negative means none).
 * *out = 0 means no limit. Returns 0, or EMBER_EINVAL with a message in err. */
int query_limits_max_nodes(const struct query_limits *l, int64_t requested, size_t *out, char *err,
			   size_t errlen) EMBER_WUR;

#endif

#include <stdio.h>

#include "query/limits.h"

#define MS 1000000LL

static void fmt_duration(char *buf, size_t n, int64_t ns)
{
	/* Prometheus model.Duration style, enough for the messages: 25h0m0s. */
	int64_t s = ns / 1000000000;
	int64_t ms = (ns / MS) % 1000;
	if (ms)
		snprintf(buf, n, "%lldh%lldm%lld.%03llds", (long long)(s / 3600), (long long)(s / 60 % 60),
			 (long long)(s % 60), (long long)ms);
	else
		snprintf(buf, n, "%lldh%lldm%llds", (long long)(s / 3600), (long long)(s / 60 % 60),
			 (long long)(s % 60));
}

int query_limits_range(const struct query_limits *l, int64_t start_ms, int64_t end_ms, int64_t now_ns,
		       struct query_range *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (start_ms == 0 || end_ms == 0) {
		snprintf(err, errlen, "missing time range in the query");
		return EMBER_EINVAL;
	}
	if (start_ms > end_ms) {
		snprintf(err, errlen, "query start time is after end time");
		return EMBER_EINVAL;
	}
	if (start_ms < INT64_MIN / MS || end_ms > INT64_MAX / MS - 1) {
		snprintf(err, errlen, "invalid time range: out of bounds");
		return EMBER_EINVAL;
	}
	int64_t start = start_ms * MS, end = end_ms * MS;
	if (l->max_query_lookback_ns > 0) {
		int64_t min_start = now_ns - l->max_query_lookback_ns;
		if (end < min_start) {
			out->start_ns = start;
			out->end_ns = end + MS - 1;
			out->empty = true;
			return 0;
		}
		if (start < min_start)
			start = min_start;
	}
	if (l->max_query_length_ns > 0 && end - start > l->max_query_length_ns) {
		char a[64], b[64];
		fmt_duration(a, sizeof(a), end - start);
		fmt_duration(b, sizeof(b), l->max_query_length_ns);
		snprintf(err, errlen, "the query time range exceeds the limit (max_query_length, actual: %s, limit: %s)",
			 a, b);
		return EMBER_EINVAL;
	}
	out->start_ns = start;
	out->end_ns = end + MS - 1;
	return 0;
}

int query_limits_max_nodes(const struct query_limits *l, int64_t requested, size_t *out, char *err,
			   size_t errlen)
{
	if (requested == 0) {
		*out = l->max_nodes_default > 0 ? (size_t)l->max_nodes_default : 0;
		return 0;
	}
	if (l->max_nodes_max > 0) {
		if (requested > l->max_nodes_max) {
			snprintf(err, errlen, "max flamegraph nodes limit %lld is greater than allowed %lld",
				 (long long)requested, (long long)l->max_nodes_max);
			return EMBER_EINVAL;
		}
		if (requested < 0) {
			snprintf(err, errlen, "max flamegraph nodes limit must be set (max allowed %lld)",
				 (long long)l->max_nodes_max);
			return EMBER_EINVAL;
		}
	}
	*out = requested < 0 ? 0 : (size_t)requested;
	return 0;
}

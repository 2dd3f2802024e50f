/* timeline: the flamebearer timeline of /pyroscope/render (pyroscope-api.md §3): the step
 * Pyroscope picks for a range (pkg/querier/timeline/calculator.go: (until-from)/1500 put
 * on a fixed ladder, at least 15 s), and a zero-filled, step-aligned accumulation of
 * profile totals. */
#ifndef EMBER_QUERY_TIMELINE_H
#define EMBER_QUERY_TIMELINE_H

#include "util/common.h"

/** Number of points Pyroscope aims for over a range, and its smallest step. */
#define TIMELINE_RESOLUTION 1500
#define TIMELINE_MIN_STEP_S 15

/** The step, in whole seconds, for a query over [from_ms, until_ms] (until >= from):
 * (until-from)/1500, below 15 s → 15 s, else rounded to Pyroscope's ladder (… 15 s, 20 s,
 * 30 s, 1 m, 2 m, 5 m, 10 m, 15 m, 20 m, 30 m, 1 h, 2 h, 3 h, 6 h, 12 h, 24 h, 1 w, 30 d,
 * 1 y; each rung covers the intervals up to the midpoint-ish threshold Pyroscope uses). */
int64_t timeline_step_seconds(int64_t from_ms, int64_t until_ms);

/** A timeline under construction. start_s is `from` snapped down to the step grid (a
 * multiple of step_s since the epoch); the last bucket is the one holding `until`, so a
 * profile anywhere in [from, until] lands in a bucket: bucket i covers
 * [start_s + i*step_s, start_s + (i+1)*step_s). */
struct timeline {
	int64_t start_s, step_s;
	size_t n;
	int64_t *sum;    /* n entries, saturating */
	int64_t *count;  /* profiles per bucket, for averages */
};

/** Maximum number of buckets (the ladder keeps real queries near 1500; this bounds what
 * a hostile range could ask). */
#define TIMELINE_MAX_BUCKETS 100000

/** Sets up an empty, zero-filled timeline over [from_ms, until_ms] with step_s > 0.
 * Returns 0, or EMBER_EINVAL when until < from, EMBER_ETOOBIG past TIMELINE_MAX_BUCKETS.
 * Release with timeline_release. */
int timeline_init(struct timeline *tl, int64_t from_ms, int64_t until_ms, int64_t step_s) EMBER_WUR;

/** Frees the buckets (NULL-safe contents). */
void timeline_release(struct timeline *tl);

/** Adds one profile's total at time t_ns to its bucket; returns false (nothing added)
 * when t_ns is outside the timeline. */
bool timeline_add(struct timeline *tl, int64_t t_ns, int64_t value);

/** Bucket i's value: the sum, or with avg the mean per profile (0 for an empty bucket),
 * truncated to an integer as Pyroscope's uint64 samples are. */
int64_t timeline_value(const struct timeline *tl, size_t i, bool avg);

#endif

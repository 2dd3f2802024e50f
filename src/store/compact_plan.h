/* compact_plan: which blocks of one tenant to merge in one compaction round.
 *
 * 1. Overlapping blocks first: blocks whose [min, max] time ranges overlap (directly or
 *    through a chain) form one job each; if there is any, the round does only those.
 * 2. Otherwise, for each block range (-compactor.block-ranges, ascending; Pyroscope's
 *    default 1h,2h,8h): blocks are grouped by the aligned window [k*range, (k+1)*range)
 *    that holds them whole; a window with two or more blocks is a job, unless a job of a
 *    smaller range already covers part of it. A job is dropped while its window is still
 *    being filled: kept only if some block ends at or after the window's end, or the
 *    job's blocks span the whole window (Pyroscope's rule against compacting the most
 *    recent blocks prematurely). Design: docs/internals/compaction.md. */
#ifndef EMBER_STORE_COMPACT_PLAN_H
#define EMBER_STORE_COMPACT_PLAN_H

#include "util/common.h"

/** What the planner needs of a block. */
struct compact_plan_block {
	int64_t min_ns, max_ns; /* inclusive, as in block_meta */
	uint32_t level;
	const char *ulid;       /* tie-break for a stable order; borrowed */
};

struct compact_job {
	size_t *blocks;         /* indexes into the planner's input, by min time */
	size_t n;               /* >= 2 */
	int64_t range_start, range_end; /* the aligned window [start, end); both 0 for an overlap job */
	bool overlap;
};

struct compact_plan {
	struct compact_job *jobs;
	size_t n_jobs;
};

/** Plans one round over blocks[0..n) of one tenant with ranges_ns[0..n_ranges) (each > 0,
 * ascending). Jobs share no block. Fills *out (release with compact_plan_release). */
void compact_plan(const struct compact_plan_block *blocks, size_t n, const int64_t *ranges_ns, size_t n_ranges,
		  struct compact_plan *out);

/** Frees what a plan holds (NULL-safe contents). */
void compact_plan_release(struct compact_plan *p);

/** Parses a block range list like "1h,2h,8h" (Pyroscope's -compactor.block-ranges
 * syntax; each a duration that config_parse_duration accepts is handled by the caller):
 * here, checks that out[0..n) are > 0, ascending and each divisible by the previous one,
 * as Pyroscope requires. 0 or EMBER_EINVAL with a message. */
int compact_ranges_check(const int64_t *ranges_ns, size_t n, char *err, size_t errlen) EMBER_WUR;

#endif

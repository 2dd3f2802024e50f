/* diff: Pyroscope's FlameGraphDiff of two finished ftrees (pkg/model/flamegraph_diff.go,
 * pyroscope-api.md §2.5). The two trees are aligned to one shape (a node missing on one
 * side has zeros there), then encoded 7 ints per node
 * [xL_delta, totalL, selfL, xR_delta, totalR, selfR, name_idx], the two x offsets
 * delta-encoded independently; names and levels ordered as in flamegraph_build. A node is
 * kept when either side's total makes the max_nodes cut; the rest fold into "other". */
#ifndef EMBER_QUERY_DIFF_H
#define EMBER_QUERY_DIFF_H

#include "query/flamegraph.h"

struct flamegraph_diff {
	char **names; /* names[0] = "total" */
	size_t n_names;
	struct flamegraph_level *levels; /* 7 int64s per node */
	size_t n_levels;
	int64_t total;      /* left + right */
	int64_t max_self;   /* over both sides */
	int64_t left_ticks, right_ticks;
};

/** Encodes the diff of left and right (both ftree_finish'ed), at most max_nodes aligned
 * nodes (0 = no limit). out owns everything; free with flamegraph_diff_release. */
void flamegraph_diff_build(const struct ftree *left, const struct ftree *right, size_t max_nodes,
			   struct flamegraph_diff *out);
/** Frees everything out holds (NULL-safe). */
void flamegraph_diff_release(struct flamegraph_diff *out);

#endif

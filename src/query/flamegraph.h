/* flamegraph: encodes a finished ftree in Pyroscope's flame graph form
 * (pyroscope-api.md §2.5): names[0] = "total", levels root first, 4 ints per node
 * [x_delta, total, self, name_idx], nodes in each level ordered by x, children by name;
 * nodes that do not make the max_nodes cut are folded into "other". The same levels are
 * the flamebearer of /pyroscope/render. Everything in a struct flamegraph is owned by it. */
#ifndef EMBER_QUERY_FLAMEGRAPH_H
#define EMBER_QUERY_FLAMEGRAPH_H

#include "query/ftree.h"

struct flamegraph_level {
	int64_t *values; /* 4 per node */
	size_t n;        /* number of int64s (4 x nodes) */
};

struct flamegraph {
	char **names; /* NUL-terminated copies; names[0] = "total" */
	size_t n_names;
	struct flamegraph_level *levels;
	size_t n_levels;
	int64_t total, max_self;
};

/** Encodes t (ftree_finish'ed) keeping at most max_nodes nodes (0 = no limit). An empty
 * tree gives names ["total"] and one level [0,0,0,0]. */
void flamegraph_build(const struct ftree *t, size_t max_nodes, struct flamegraph *out);
/** The smallest total a node needs to make a max_nodes cut (Pyroscope's Tree.minValue):
 * the max_nodes-th largest total among the nodes below the root, or 0 when max_nodes is 0
 * or the tree has no more than max_nodes nodes below the root. Nodes with a smaller total
 * are folded into "other" under their parent. Ties all stay, so a cut may keep more. */
int64_t flamegraph_min_total(const struct ftree *t, size_t max_nodes);

/** Frees everything out holds. */
void flamegraph_release(struct flamegraph *out);

#endif

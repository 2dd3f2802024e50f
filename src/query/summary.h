/* summary: Ember's incident summary of a merged profile (beyond Pyroscope): the functions
 * that burn the most by self value, and the hottest call path. Also the per-function
 * graph view (`format=dot` of /pyroscope/render) drawn from the same statistics.
 * Everything works on a finished ftree (query/ftree.h). Semantics and an example:
 * docs/summary.md. */
#ifndef EMBER_QUERY_SUMMARY_H
#define EMBER_QUERY_SUMMARY_H

#include "query/ftree.h"
#include "util/buf.h"

/** Default and maximum of the `top` parameter. */
#define SUMMARY_TOP_DEFAULT 10
#define SUMMARY_TOP_MAX 1000
/** Default number of nodes of the DOT graph (Pyroscope's render?format=dot). */
#define SUMMARY_DOT_NODES_DEFAULT 100

/** One function of the merged profile. */
struct summary_function {
	struct slice name; /* borrowed from the ftree: valid until ftree_release */
	int64_t self;      /* sum of self over every tree node with this name */
	int64_t total;     /* sum of total over the nodes with this name that have no ancestor
			      of the same name (recursion is counted once) */
	double self_share; /* self / profile total; 0 when the total is 0 */
};

/** One step of the hottest path. */
struct summary_step {
	struct slice name; /* borrowed from the ftree */
	int64_t total, self;
	double share; /* total / profile total; 0 when the total is 0 */
};

struct summary {
	int64_t total;                /* the profile total (root total) */
	struct summary_function *top; /* n_top entries, owned by the summary */
	size_t n_top;
	struct summary_step *path;    /* n_path entries, root's child first, owned */
	size_t n_path;
};

/** Every function of t (ftree_finish'ed; the root "total" node is not a function), in
 * summary order: self descending, then total descending, then name ascending (bytewise).
 * Returns the count; *out is malloc'd (free it), NULL when t has no function. */
size_t summary_functions(const struct ftree *t, struct summary_function **out);

/** Fills out from t (ftree_finish'ed): the first `top` entries of summary_functions
 * (top 0 = none), and the hottest path: from the root, at each level into the child with
 * the largest total (the first by name on ties), down to a leaf; the root itself is not
 * a step. An empty tree gives total 0 and no entries. Release with summary_release. */
void summary_build(const struct ftree *t, size_t top, struct summary *out);

/** Frees what out holds (names stay the tree's). NULL-safe fields. */
void summary_release(struct summary *s);

/** Appends a Graphviz digraph of t (ftree_finish'ed) to out: one node per function (the
 * max_nodes functions with the largest total; 0 = SUMMARY_DOT_NODES_DEFAULT) labelled
 * with its self and total as in `go tool pprof -dot`, one edge per caller -> callee pair
 * between kept functions weighted by the total that flowed through it (recursion counted
 * once), and a legend box titled `title`. */
void summary_dot(const struct ftree *t, size_t max_nodes, const char *title, struct buf *out);

#endif

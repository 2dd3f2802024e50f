/* tree_bytes: Pyroscope's serialised function-name tree (SelectMergeStacktraces with
 * format=TREE, pkg/model/tree.go MarshalTruncate; pyroscope-api.md §2.5). Pre-order from
 * a virtual root with an empty name; per node uvarint(len) name uvarint(self)
 * uvarint(nchildren); children written in reverse name order; an empty tree is no bytes.
 * Nodes below the max_nodes cut are folded into an "other" child of their parent (merged
 * into an existing "other", which keeps its own children). */
#ifndef EMBER_QUERY_TREE_BYTES_H
#define EMBER_QUERY_TREE_BYTES_H

#include "query/ftree.h"
#include "util/buf.h"

/** Appends the tree bytes of t (ftree_finish'ed) to out, keeping at most max_nodes nodes
 * (0 = no limit). An empty tree appends nothing. */
void tree_bytes_write(const struct ftree *t, size_t max_nodes, struct buf *out);

/** Decodes tree bytes into t (ftree_init'ed, not finished; nodes are added under the
 * root, the virtual root's self goes to the root). At most max_depth levels. Returns 0,
 * or EMBER_EINVAL on malformed bytes (message in err). */
int tree_bytes_decode(struct slice in, struct ftree *t, size_t max_depth, char *err, size_t errlen) EMBER_WUR;

#endif

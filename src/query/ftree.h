/* ftree: the function-name call tree of a merged query, the shape flame graphs, tables,
 * diffs and summaries are drawn from. Built from merge_partition data (stack ids of the
 * head's stack tree): each stack node's location expands into one frame per line (inlined
 * functions included, outermost first), named by its function; unsymbolised locations are
 * named "<mapping file>+0x<offset>" or "0x<address>". Names are copied into the tree's own
 * table, so the tree outlives the head's locks. Node 0 is the root ("total"). */
#ifndef EMBER_QUERY_FTREE_H
#define EMBER_QUERY_FTREE_H

#include "query/merge.h"
#include "util/strtab.h"

struct ftree_node {
	uint32_t name;          /* id in ftree.names */
	uint32_t parent;        /* the root's parent is itself */
	uint32_t first_child;   /* 0 = none (the root is never a child); set by ftree_finish */
	uint32_t next_sibling;  /* 0 = none; siblings are sorted by name after ftree_finish */
	uint32_t depth;         /* root = 0 */
	int64_t self, total;    /* total is valid after ftree_finish */
};

struct ftree {
	struct strtab names;
	struct ftree_node *nodes;
	size_t n, cap;
	struct idset index;      /* (parent, name) -> node */
	uint32_t max_depth;
	bool finished;
};

/** Initialises a tree holding only the root. */
void ftree_init(struct ftree *t);
/** Frees everything. */
void ftree_release(struct ftree *t);

/** The child of parent named name, created if absent (only before ftree_finish). */
uint32_t ftree_child(struct ftree *t, uint32_t parent, struct slice name);

/** Adds one partition's merged stacks (use as, or from, a merge_consume_fn). */
void ftree_add_partition(struct ftree *t, const struct merge_partition *part);

/** merge_consume_fn adapter: ctx is a struct ftree *. */
void ftree_consume(void *ctx, const struct merge_partition *part);

/** Adds value to the self of the node at the end of the path names[0..n) (root first). */
void ftree_add_path(struct ftree *t, const struct slice *names, size_t n, int64_t value);

/** Computes totals and sorted child lists. Call once, after the last add. */
void ftree_finish(struct ftree *t);

/** Name of node i (borrowed from the tree). */
static inline struct slice ftree_name(const struct ftree *t, uint32_t i)
{
	return strtab_get(&t->names, t->nodes[i].name);
}

#endif

/* flame: decodes a Pyroscope flame graph (pyroscope-api.md §2.5: names, and levels of
 * 4 ints per node [x_delta, total, self, name_idx]) as SelectMergeStacktraces returns it
 * in JSON, back into a call tree. The reply comes from the network, so every index and
 * size is checked and a malformed graph is an error with its reason, never a crash. */
#ifndef EMBER_CLI_FLAME_H
#define EMBER_CLI_FLAME_H

#include <jansson.h>

#include "util/common.h"

/* Bounds on what a reply may hold (the server's own cap is 1,048,576 nodes). */
#define FLAME_MAX_NODES (16u << 20)
#define FLAME_MAX_LEVELS 65536u

struct flame_node {
	uint32_t name;         /* index in flame.names */
	uint32_t parent;       /* the root's parent is itself (0) */
	uint32_t first_child;  /* 0 = none; children in x order (Pyroscope: by name) */
	uint32_t next_sibling; /* 0 = none */
	uint32_t n_children;
	uint32_t depth;        /* root = 0 */
	int64_t x, total, self;
};

struct flame {
	char **names; /* copies; names[0] is normally "total" */
	size_t n_names;
	struct flame_node *nodes; /* node 0 is the root */
	size_t n;
	int64_t total; /* the graph's "total" field */
};

/** Decodes fg, the "flamegraph" object of a SelectMergeStacktraces JSON reply, into out
 * (which owns everything; release with flame_release). A node of level d+1 is the child of
 * the node of level d whose [x, x+total) range contains it. On error returns EMBER_ECORRUPT
 * with the reason in err (errlen bytes) and out empty. fg is borrowed. */
int flame_decode(const json_t *fg, struct flame *out, char *err, size_t errlen) EMBER_WUR;

/** Frees everything f holds; f is empty afterwards. NULL-safe. */
void flame_release(struct flame *f);

/** Name of node i (borrowed from f). */
static inline const char *flame_name(const struct flame *f, uint32_t i)
{
	return f->names[f->nodes[i].name];
}

/** Writes one `a;b;c value` line per node with self > 0 (root excluded from the path,
 * root first, nodes in depth-first x order), the folded/collapsed format. */
void flame_write_folded(const struct flame *f, FILE *out);

#endif

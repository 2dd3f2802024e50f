#include "query/ftree.h"

void ftree_init(struct ftree *t)
{
	memset(t, 0, sizeof(*t));
	strtab_init(&t->names);
	idset_init(&t->index);
	XGROW(t->nodes, t->cap, 1);
	memset(&t->nodes[0], 0, sizeof(t->nodes[0]));
	t->nodes[0].name = strtab_intern(&t->names, slice_cstr("total"));
	t->n = 1;
}

void ftree_release(struct ftree *t)
{
	strtab_release(&t->names);
	idset_release(&t->index);
	free(t->nodes);
	memset(t, 0, sizeof(*t));
}

static uint32_t child_by_id(struct ftree *t, uint32_t parent, uint32_t name)
{
	uint64_t key = (uint64_t)parent << 32 | name;
	uint32_t id;
	if (idset_find(&t->index, key, NULL, NULL, &id))
		return id;
	id = (uint32_t)t->n;
	XGROW(t->nodes, t->cap, t->n + 1);
	struct ftree_node *nd = &t->nodes[t->n++];
	memset(nd, 0, sizeof(*nd));
	nd->name = name;
	nd->parent = parent;
	nd->depth = t->nodes[parent].depth + 1;
	if (nd->depth > t->max_depth)
		t->max_depth = nd->depth;
	idset_insert(&t->index, key, id);
	return id;
}

uint32_t ftree_child(struct ftree *t, uint32_t parent, struct slice name)
{
	return child_by_id(t, parent, strtab_intern(&t->names, name));
}

void ftree_add_path(struct ftree *t, const struct slice *names, size_t n, int64_t value)
{
	uint32_t node = 0;
	for (size_t i = 0; i < n; i++)
		node = ftree_child(t, node, names[i]);
	t->nodes[node].self += value;
}

/* The frame names of one location, outermost first, interned in the tree. */
static size_t location_frames(struct ftree *t, const struct symbols *s, uint32_t loc_id, uint32_t *out, size_t cap)
{
	const struct sym_location *loc = &s->locations[loc_id];
	if (loc->n_lines == 0) {
		char tmp[512];
		out[0] = strtab_intern(&t->names, symbols_raw_location_name(s, loc, tmp, sizeof(tmp)));
		return 1;
	}
	size_t n = 0;
	for (uint32_t k = loc->n_lines; k > 0 && n < cap; k--) {
		const struct sym_line *ln = &s->lines[loc->first_line + k - 1];
		out[n++] = strtab_intern(&t->names, symbols_function_name(s, ln->function));
	}
	return n;
}

void ftree_add_partition(struct ftree *t, const struct merge_partition *part)
{
	const struct symbols *s = part->syms;
	/* memo[stack node] = tree node + 1, filled on demand walking towards the root. */
	uint32_t *memo = xcalloc(s->n_nodes + 1, sizeof(uint32_t));
	uint32_t *chain = NULL;
	size_t cap_chain = 0;
	uint32_t frames[64];
	for (size_t i = 0; i < part->n; i++) {
		/* Collect the stack nodes from this one up to the first already mapped ancestor. */
		size_t depth = 0;
		uint32_t node = part->stacks[i];
		while (node != 0 && memo[node] == 0) {
			XGROW(chain, cap_chain, depth + 1);
			chain[depth++] = node;
			node = s->nodes[node].parent;
		}
		uint32_t tnode = node == 0 ? 0 : memo[node] - 1;
		for (size_t k = depth; k > 0; k--) {
			uint32_t sn = chain[k - 1];
			size_t nf = location_frames(t, s, s->nodes[sn].location, frames, EMBER_ARRAY_LEN(frames));
			for (size_t f = 0; f < nf; f++)
				tnode = child_by_id(t, tnode, frames[f]);
			memo[sn] = tnode + 1;
		}
		t->nodes[tnode].self += part->values[i];
	}
	free(chain);
	free(memo);
}

void ftree_consume(void *ctx, const struct merge_partition *part)
{
	ftree_add_partition(ctx, part);
}

static int child_name_cmp(const void *a, const void *b, void *ctx)
{
	const struct ftree *t = ctx;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return slice_cmp(ftree_name(t, x), ftree_name(t, y));
}

void ftree_finish(struct ftree *t)
{
	if (t->finished)
		return;
	t->finished = true;
	/* Children are created after their parents, so a backwards pass sums totals. */
	for (size_t i = 0; i < t->n; i++)
		t->nodes[i].total = t->nodes[i].self;
	for (size_t i = t->n; i > 1; i--)
		t->nodes[t->nodes[i - 1].parent].total += t->nodes[i - 1].total;
	/* Child lists sorted by name: group node ids by parent, sort each group. */
	size_t *start = xcalloc(t->n + 1, sizeof(size_t));
	for (size_t i = 1; i < t->n; i++)
		start[t->nodes[i].parent + 1]++;
	for (size_t i = 0; i < t->n; i++)
		start[i + 1] += start[i];
	uint32_t *order = xmalloc(t->n * sizeof(uint32_t) + 1);
	size_t *fill = xmalloc((t->n + 1) * sizeof(size_t));
	memcpy(fill, start, (t->n + 1) * sizeof(size_t));
	for (size_t i = 1; i < t->n; i++)
		order[fill[t->nodes[i].parent]++] = (uint32_t)i;
	for (size_t p = 0; p < t->n; p++) {
		size_t a = start[p], b = start[p + 1];
		if (b - a > 1)
			sort_r_n(order + a, b - a, sizeof(uint32_t), child_name_cmp, t);
		t->nodes[p].first_child = b > a ? order[a] : 0;
		for (size_t k = a; k < b; k++)
			t->nodes[order[k]].next_sibling = k + 1 < b ? order[k + 1] : 0;
	}
	free(start);
	free(order);
	free(fill);
}

/* flamegraph: Pyroscope's flame graph levels from a finished ftree. The walk reproduces
 * pkg/model/flamegraph.go (NewFlameGraph) so that a client sees the same names order and
 * the same "other" nodes as from Pyroscope: a depth-first walk with an explicit stack, the
 * children of a node pushed in name order (so visited in reverse name order), names
 * numbered as first visited, each level collected in visit order and reversed at the end
 * (which puts it in x order), x offsets delta-encoded last. A node's children start at
 * x + self. Design: docs/internals/query.md. */
#include <stdlib.h>
#include <string.h>

#include "query/flamegraph.h"

/* A binary min-heap of int64 with a fixed capacity. */
static void heap_push(int64_t *h, size_t *n, int64_t v)
{
	size_t i = (*n)++;
	h[i] = v;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (h[p] <= h[i])
			break;
		int64_t t = h[p];
		h[p] = h[i];
		h[i] = t;
		i = p;
	}
}

static void heap_pop(int64_t *h, size_t *n)
{
	h[0] = h[--(*n)];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < *n && h[l] < h[m])
			m = l;
		if (r < *n && h[r] < h[m])
			m = r;
		if (m == i)
			break;
		int64_t t = h[m];
		h[m] = h[i];
		h[i] = t;
		i = m;
	}
}

int64_t flamegraph_min_total(const struct ftree *t, size_t max_nodes)
{
	size_t size = t->n - 1; /* the root does not count */
	if (max_nodes == 0 || size <= max_nodes)
		return 0;
	int64_t *h = xmalloc(max_nodes * sizeof(int64_t));
	size_t hn = 0;
	uint32_t *stack = xmalloc(t->n * sizeof(uint32_t));
	size_t sn = 0;
	for (uint32_t c = t->nodes[0].first_child; c; c = t->nodes[c].next_sibling)
		stack[sn++] = c;
	/* A node no larger than the heap's minimum once the heap is full cannot make the
	 * cut, and neither can its descendants (their totals are no larger). */
	while (sn > 0) {
		uint32_t n = stack[--sn];
		int64_t v = t->nodes[n].total;
		if (hn >= max_nodes) {
			if (v <= h[0])
				continue;
			heap_pop(h, &hn);
		}
		heap_push(h, &hn, v);
		for (uint32_t c = t->nodes[n].first_child; c; c = t->nodes[c].next_sibling)
			stack[sn++] = c;
	}
	int64_t min = hn < max_nodes ? 0 : h[0];
	free(stack);
	free(h);
	return min;
}

#define OTHER_NODE UINT32_MAX

struct visit {
	uint32_t node;  /* ftree node, or OTHER_NODE */
	uint32_t level;
	int64_t x;
	int64_t other;  /* total of the synthetic "other" node */
};

struct fg_builder {
	struct flamegraph *fg;
	size_t *level_cap;
	size_t cap_levels;
	size_t cap_names;
	uint32_t *name_map; /* ftree name id -> index + 1; the last slot is the synthetic "other" */
};

static uint32_t fg_name(struct fg_builder *b, uint32_t slot, struct slice name)
{
	if (b->name_map[slot])
		return b->name_map[slot] - 1;
	struct flamegraph *fg = b->fg;
	XGROW(fg->names, b->cap_names, fg->n_names + 1);
	char *s = xmalloc(name.n + 1);
	if (name.n)
		memcpy(s, name.p, name.n);
	s[name.n] = 0;
	fg->names[fg->n_names] = s;
	b->name_map[slot] = (uint32_t)++fg->n_names;
	return (uint32_t)(fg->n_names - 1);
}

static void fg_emit(struct fg_builder *b, uint32_t level, int64_t x, int64_t total, int64_t self, uint32_t name)
{
	struct flamegraph *fg = b->fg;
	if (level >= fg->n_levels) {
		XGROW(fg->levels, b->cap_levels, level + 1);
		b->level_cap = xrealloc(b->level_cap, b->cap_levels * sizeof(size_t));
		for (size_t i = fg->n_levels; i <= level; i++) {
			fg->levels[i].values = NULL;
			fg->levels[i].n = 0;
			b->level_cap[i] = 0;
		}
		fg->n_levels = level + 1;
	}
	struct flamegraph_level *l = &fg->levels[level];
	XGROW(l->values, b->level_cap[level], l->n + 4);
	/* Stored in visit order as [x, total, self, name]; reversed by node and
	 * delta-encoded at the end. */
	l->values[l->n++] = x;
	l->values[l->n++] = total;
	l->values[l->n++] = self;
	l->values[l->n++] = name;
	if (self > fg->max_self)
		fg->max_self = self;
}

void flamegraph_build(const struct ftree *t, size_t max_nodes, struct flamegraph *out)
{
	memset(out, 0, sizeof(*out));
	struct fg_builder b = {.fg = out};
	size_t n_tnames = t->names.n;
	b.name_map = xcalloc(n_tnames + 1, sizeof(uint32_t));
	uint32_t other_id;
	bool have_other = strtab_lookup(&t->names, slice_cstr("other"), &other_id);
	uint32_t other_slot = have_other ? other_id : (uint32_t)n_tnames;
	int64_t min_total = flamegraph_min_total(t, max_nodes);

	/* names[0] is "total" whatever the root's name. */
	(void)fg_name(&b, t->nodes[0].name, slice_cstr("total"));
	out->total = t->nodes[0].total;

	struct visit *stack = NULL;
	size_t sn = 0, scap = 0;
	XGROW(stack, scap, 1);
	stack[sn++] = (struct visit){.node = 0, .level = 0, .x = 0};
	while (sn > 0) {
		struct visit v = stack[--sn];
		if (v.node == OTHER_NODE) {
			uint32_t name = fg_name(&b, other_slot, slice_cstr("other"));
			fg_emit(&b, v.level, v.x, v.other, v.other, name);
			continue;
		}
		const struct ftree_node *nd = &t->nodes[v.node];
		uint32_t name = fg_name(&b, nd->name, ftree_name(t, v.node));
		fg_emit(&b, v.level, v.x, nd->total, nd->self, name);
		int64_t x = v.x + nd->self;
		int64_t other = 0;
		for (uint32_t c = nd->first_child; c; c = t->nodes[c].next_sibling) {
			const struct ftree_node *cn = &t->nodes[c];
			/* A real "other" child is folded too, as Pyroscope does. */
			if (cn->total >= min_total && !(have_other && cn->name == other_id)) {
				XGROW(stack, scap, sn + 1);
				stack[sn++] = (struct visit){.node = c, .level = v.level + 1, .x = x};
				x += cn->total;
			} else {
				other += cn->total;
			}
		}
		if (other != 0) {
			XGROW(stack, scap, sn + 1);
			stack[sn++] = (struct visit){.node = OTHER_NODE, .level = v.level + 1, .x = x, .other = other};
		}
	}
	free(stack);

	for (size_t d = 0; d < out->n_levels; d++) {
		struct flamegraph_level *l = &out->levels[d];
		size_t nodes = l->n / 4;
		for (size_t i = 0; i < nodes / 2; i++) {
			int64_t tmp[4];
			memcpy(tmp, l->values + 4 * i, sizeof(tmp));
			memcpy(l->values + 4 * i, l->values + 4 * (nodes - 1 - i), sizeof(tmp));
			memcpy(l->values + 4 * (nodes - 1 - i), tmp, sizeof(tmp));
		}
		int64_t prev = 0;
		for (size_t i = 0; i < l->n; i += 4) {
			int64_t x = l->values[i];
			l->values[i] = x - prev;
			prev = x + l->values[i + 1];
		}
	}
	free(b.level_cap);
	free(b.name_map);
}

void flamegraph_release(struct flamegraph *out)
{
	if (!out)
		return;
	for (size_t i = 0; i < out->n_names; i++)
		free(out->names[i]);
	free(out->names);
	for (size_t i = 0; i < out->n_levels; i++)
		free(out->levels[i].values);
	free(out->levels);
	memset(out, 0, sizeof(*out));
}

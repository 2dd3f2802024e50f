#include <math.h>

#include "query/summary.h"
#include "util/idset.h"

/* The tree can be deeper than any sane C stack (deep recursion in the profiled program,
 * 1000 frames each expanded into inlined lines), so every walk is iterative: the stack
 * holds node ids, with EXIT marking the second visit of a node (after its children). */
#define EXIT 0x80000000u

struct walk {
	uint32_t *stack;
	size_t n, cap;
};

static void walk_push(struct walk *w, uint32_t v)
{
	XGROW(w->stack, w->cap, w->n + 1);
	w->stack[w->n++] = v;
}

/* Pushes the exit marker of node and then its children (so they are visited first). */
static void walk_enter(struct walk *w, const struct ftree *t, uint32_t node)
{
	walk_push(w, node | EXIT);
	for (uint32_t c = t->nodes[node].first_child; c; c = t->nodes[c].next_sibling)
		walk_push(w, c);
}

/* Per-name statistics over the whole tree. */
struct fstats {
	int64_t *self, *total;
	uint32_t *on_path; /* how many ancestors-or-self on the current path carry the name */
	bool *present;
};

static int64_t add_sat(int64_t a, int64_t b)
{
	int64_t r;
	return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

static void fstats_compute(const struct ftree *t, struct fstats *fs)
{
	size_t nn = t->names.n;
	fs->self = xcalloc(nn + 1, sizeof(int64_t));
	fs->total = xcalloc(nn + 1, sizeof(int64_t));
	fs->on_path = xcalloc(nn + 1, sizeof(uint32_t));
	fs->present = xcalloc(nn + 1, sizeof(bool));
	struct walk w = {0};
	/* The root is not a function: start from its children. */
	for (uint32_t c = t->nodes[0].first_child; c; c = t->nodes[c].next_sibling)
		walk_push(&w, c);
	while (w.n) {
		uint32_t v = w.stack[--w.n];
		if (v & EXIT) {
			fs->on_path[t->nodes[v & ~EXIT].name]--;
			continue;
		}
		const struct ftree_node *nd = &t->nodes[v];
		fs->present[nd->name] = true;
		fs->self[nd->name] = add_sat(fs->self[nd->name], nd->self);
		if (fs->on_path[nd->name]++ == 0)
			fs->total[nd->name] = add_sat(fs->total[nd->name], nd->total);
		walk_enter(&w, t, v);
	}
	free(w.stack);
}

static void fstats_release(struct fstats *fs)
{
	free(fs->self);
	free(fs->total);
	free(fs->on_path);
	free(fs->present);
}

static double share(int64_t v, int64_t total)
{
	return total > 0 ? (double)v / (double)total : 0.0;
}

static int function_cmp(const void *a, const void *b)
{
	const struct summary_function *x = a, *y = b;
	if (x->self != y->self)
		return x->self > y->self ? -1 : 1;
	if (x->total != y->total)
		return x->total > y->total ? -1 : 1;
	return slice_cmp(x->name, y->name);
}

size_t summary_functions(const struct ftree *t, struct summary_function **out)
{
	struct fstats fs;
	fstats_compute(t, &fs);
	int64_t total = t->nodes[0].total;
	size_t n = 0;
	struct summary_function *v = NULL;
	for (size_t i = 0; i < t->names.n; i++)
		n += fs.present[i];
	if (n) {
		v = xmalloc(n * sizeof(*v));
		size_t k = 0;
		for (uint32_t i = 0; i < t->names.n; i++) {
			if (!fs.present[i])
				continue;
			v[k].name = strtab_get(&t->names, i);
			v[k].self = fs.self[i];
			v[k].total = fs.total[i];
			v[k].self_share = share(fs.self[i], total);
			k++;
		}
		sort_n(v, n, sizeof(*v), function_cmp);
	}
	fstats_release(&fs);
	*out = v;
	return n;
}

void summary_build(const struct ftree *t, size_t top, struct summary *out)
{
	memset(out, 0, sizeof(*out));
	out->total = t->nodes[0].total;
	struct summary_function *all;
	size_t n = summary_functions(t, &all);
	out->n_top = EMBER_MIN(n, top);
	if (out->n_top) {
		out->top = xmalloc(out->n_top * sizeof(*out->top));
		memcpy(out->top, all, out->n_top * sizeof(*out->top));
	}
	free(all);

	/* Children are sorted by name, so a strict '>' keeps the first by name on ties. */
	size_t cap = 0;
	for (uint32_t v = t->nodes[0].first_child; v;) {
		uint32_t best = v;
		for (uint32_t c = t->nodes[v].next_sibling; c; c = t->nodes[c].next_sibling)
			if (t->nodes[c].total > t->nodes[best].total)
				best = c;
		const struct ftree_node *nd = &t->nodes[best];
		XGROW(out->path, cap, out->n_path + 1);
		out->path[out->n_path++] = (struct summary_step){
			.name = ftree_name(t, best), .total = nd->total, .self = nd->self, .share = share(nd->total, out->total)};
		v = nd->first_child;
	}
}

void summary_release(struct summary *s)
{
	free(s->top);
	free(s->path);
	memset(s, 0, sizeof(*s));
}

/* ---- DOT ------------------------------------------------------------------------------ */

/* A DOT double-quoted string body: quotes and backslashes escaped, control bytes
 * dropped, long names shortened in the middle (labels are for people). */
static void dot_escape(struct buf *out, struct slice s, size_t max)
{
	size_t head = s.n, tail = 0;
	if (s.n > max) {
		head = max / 2;
		tail = max - head;
	}
	for (size_t part = 0; part < 2; part++) {
		const uint8_t *p = part ? s.p + s.n - tail : s.p;
		size_t n = part ? tail : head;
		if (part && tail)
			buf_append_cstr(out, "...");
		for (size_t i = 0; i < n; i++) {
			uint8_t c = p[i];
			if (c == '"' || c == '\\') {
				buf_append_byte(out, '\\');
				buf_append_byte(out, c);
			} else if (c >= 0x20 && c != 0x7f) {
				buf_append_byte(out, c);
			}
		}
	}
}

struct dot_edge {
	uint32_t from, to; /* name ids */
	int64_t weight;
	uint32_t on_path;
};

struct dot_node {
	uint32_t name;
	int64_t self, total;
};

static int dot_node_cmp(const void *a, const void *b)
{
	const struct dot_node *x = a, *y = b;
	if (x->total != y->total)
		return x->total > y->total ? -1 : 1;
	if (x->self != y->self)
		return x->self > y->self ? -1 : 1;
	return x->name < y->name ? -1 : x->name > y->name;
}

static int dot_edge_cmp(const void *a, const void *b)
{
	const struct dot_edge *x = a, *y = b;
	if (x->weight != y->weight)
		return x->weight > y->weight ? -1 : 1;
	if (x->from != y->from)
		return x->from < y->from ? -1 : 1;
	return x->to < y->to ? -1 : x->to > y->to;
}

/* Edge weights: the total of each (caller, callee) tree node, counted once per path so
 * that recursion (a -> a -> a) does not multiply it, as pprof counts an edge once per
 * sample. */
static size_t dot_edges(const struct ftree *t, struct dot_edge **out)
{
	struct idset index;
	idset_init(&index);
	struct dot_edge *e = NULL;
	size_t n = 0, cap = 0;
	uint32_t *edge_of = xcalloc(t->n + 1, sizeof(uint32_t)); /* node -> edge index + 1 */
	struct walk w = {0};
	for (uint32_t c = t->nodes[0].first_child; c; c = t->nodes[c].next_sibling)
		walk_push(&w, c);
	while (w.n) {
		uint32_t v = w.stack[--w.n];
		if (v & EXIT) {
			v &= ~EXIT;
			if (edge_of[v])
				e[edge_of[v] - 1].on_path--;
			continue;
		}
		const struct ftree_node *nd = &t->nodes[v];
		if (nd->parent != 0) {
			uint32_t from = t->nodes[nd->parent].name;
			uint64_t key = ((uint64_t)from + 1) << 32 | nd->name;
			uint32_t id;
			if (!idset_find(&index, key, NULL, NULL, &id)) {
				id = (uint32_t)n;
				XGROW(e, cap, n + 1);
				e[n++] = (struct dot_edge){.from = from, .to = nd->name};
				idset_insert(&index, key, id);
			}
			if (e[id].on_path++ == 0)
				e[id].weight = add_sat(e[id].weight, nd->total);
			edge_of[v] = id + 1;
		}
		walk_enter(&w, t, v);
	}
	free(w.stack);
	free(edge_of);
	idset_release(&index);
	*out = e;
	return n;
}

static void dot_value(struct buf *out, int64_t v, int64_t total)
{
	buf_printf(out, "%lld (%.2f%%)", (long long)v, 100.0 * share(v, total));
}

void summary_dot(const struct ftree *t, size_t max_nodes, const char *title, struct buf *out)
{
	if (!max_nodes)
		max_nodes = SUMMARY_DOT_NODES_DEFAULT;
	int64_t total = t->nodes[0].total;
	struct fstats fs;
	fstats_compute(t, &fs);
	size_t n = 0;
	struct dot_node *nodes = xmalloc((t->names.n + 1) * sizeof(*nodes));
	for (uint32_t i = 0; i < t->names.n; i++)
		if (fs.present[i])
			nodes[n++] = (struct dot_node){i, fs.self[i], fs.total[i]};
	fstats_release(&fs);
	sort_n(nodes, n, sizeof(*nodes), dot_node_cmp);
	size_t kept = EMBER_MIN(n, max_nodes);
	int32_t *dot_id = xmalloc((t->names.n + 1) * sizeof(*dot_id)); /* name -> N<id>, -1 = dropped */
	for (size_t i = 0; i < t->names.n; i++)
		dot_id[i] = -1;
	int64_t shown_self = 0;
	int64_t max_self = 1;
	for (size_t i = 0; i < kept; i++) {
		dot_id[nodes[i].name] = (int32_t)(i + 1);
		shown_self = add_sat(shown_self, nodes[i].self);
		if (nodes[i].self > max_self)
			max_self = nodes[i].self;
	}

	buf_append_cstr(out, "digraph \"");
	dot_escape(out, slice_cstr(title), 1000);
	buf_append_cstr(out, "\" {\nnode [style=filled fillcolor=\"#f8f8f8\"]\n");
	buf_append_cstr(out, "subgraph cluster_L { \"legend\" [shape=box fontsize=16 label=\"");
	dot_escape(out, slice_cstr(title), 1000);
	buf_printf(out, "\\lTotal: %lld\\lShowing nodes accounting for %lld, %.2f%% of %lld total\\l", (long long)total,
		   (long long)shown_self, 100.0 * share(shown_self, total), (long long)total);
	buf_printf(out, "Showing top %zu nodes out of %zu\\l\" tooltip=\"", kept, n);
	dot_escape(out, slice_cstr(title), 1000);
	buf_append_cstr(out, "\"] }\n");
	for (size_t i = 0; i < kept; i++) {
		const struct dot_node *d = &nodes[i];
		struct slice name = strtab_get(&t->names, d->name);
		/* Font size grows with self, as pprof draws it: 8 to 50 points. */
		double fs_pt = 8.0 + 42.0 * sqrt(share(d->self, max_self));
		buf_printf(out, "N%zu [label=\"", i + 1);
		dot_escape(out, name, 200);
		buf_append_cstr(out, "\\n");
		dot_value(out, d->self, total);
		if (d->total != d->self) {
			buf_append_cstr(out, "\\nof ");
			dot_value(out, d->total, total);
		}
		buf_printf(out, "\" id=\"node%zu\" fontsize=%d shape=box tooltip=\"", i + 1, (int)fs_pt);
		dot_escape(out, name, 200);
		buf_printf(out, " (%lld)\" color=\"#b20000\" fillcolor=\"#edd5d5\"]\n", (long long)d->total);
	}
	struct dot_edge *e;
	size_t ne = dot_edges(t, &e);
	if (ne)
		sort_n(e, ne, sizeof(*e), dot_edge_cmp);
	for (size_t i = 0; i < ne; i++) {
		int32_t a = dot_id[e[i].from], b = dot_id[e[i].to];
		if (a < 0 || b < 0)
			continue;
		double w = share(e[i].weight, total);
		buf_printf(out, "N%d -> N%d [label=\" %lld\" weight=%d penwidth=%.2f]\n", a, b, (long long)e[i].weight,
			   (int)(1 + 99 * w), 1 + 4 * w);
	}
	buf_append_cstr(out, "}\n");
	free(e);
	free(dot_id);
	free(nodes);
}

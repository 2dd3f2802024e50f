/* Alignment first (a merged tree whose nodes carry both sides), then the same walk as
 * flamegraph.c. Design: docs/internals/query.md. */
#include <stdio.h>

#include "query/diff.h"

struct dnode {
	struct slice name;       /* borrowed from one of the two ftrees */
	int64_t lt, ls, rt, rs;  /* left/right total and self */
	uint32_t first_child, next_sibling;
};

struct aligned {
	struct dnode *v;
	size_t n, cap;
};

static uint32_t dnode_new(struct aligned *a, struct slice name)
{
	XGROW(a->v, a->cap, a->n + 1);
	a->v[a->n] = (struct dnode){.name = name};
	return (uint32_t)a->n++;
}

/* Aligns the children of (l, r) under d; 0 means "absent on that side". Iterative over a
 * work list so deep trees do not recurse. */
struct align_job {
	uint32_t l, r, d; /* l or r may be UINT32_MAX = absent */
};

#define ABSENT UINT32_MAX

static void align(const struct ftree *L, const struct ftree *R, struct aligned *a)
{
	struct align_job *jobs = NULL;
	size_t nj = 0, cj = 0;
	uint32_t root = dnode_new(a, slice_make("", 0));
	a->v[root].lt = L->nodes[0].total;
	a->v[root].ls = L->nodes[0].self;
	a->v[root].rt = R->nodes[0].total;
	a->v[root].rs = R->nodes[0].self;
	XGROW(jobs, cj, 1);
	jobs[nj++] = (struct align_job){0, 0, root};
	while (nj > 0) {
		struct align_job j = jobs[--nj];
		uint32_t lc = j.l == ABSENT ? 0 : L->nodes[j.l].first_child;
		uint32_t rc = j.r == ABSENT ? 0 : R->nodes[j.r].first_child;
		uint32_t prev = 0;
		while (lc || rc) {
			int cmp;
			if (!lc)
				cmp = 1;
			else if (!rc)
				cmp = -1;
			else
				cmp = slice_cmp(ftree_name(L, lc), ftree_name(R, rc));
			struct slice name = cmp <= 0 ? ftree_name(L, lc) : ftree_name(R, rc);
			uint32_t d = dnode_new(a, name);
			struct dnode *dn = &a->v[d];
			uint32_t jl = ABSENT, jr = ABSENT;
			if (cmp <= 0) {
				dn->lt = L->nodes[lc].total;
				dn->ls = L->nodes[lc].self;
				jl = lc;
				lc = L->nodes[lc].next_sibling;
			}
			if (cmp >= 0) {
				dn->rt = R->nodes[rc].total;
				dn->rs = R->nodes[rc].self;
				jr = rc;
				rc = R->nodes[rc].next_sibling;
			}
			if (prev)
				a->v[prev].next_sibling = d;
			else
				a->v[j.d].first_child = d;
			prev = d;
			XGROW(jobs, cj, nj + 1);
			jobs[nj++] = (struct align_job){jl, jr, d};
		}
	}
	free(jobs);
}

static void heap_push(int64_t *h, size_t *n, int64_t v)
{
	size_t i = (*n)++;
	h[i] = v;
	while (i > 0 && h[(i - 1) / 2] > h[i]) {
		int64_t t = h[(i - 1) / 2];
		h[(i - 1) / 2] = h[i];
		h[i] = t;
		i = (i - 1) / 2;
	}
}

static void heap_replace_min(int64_t *h, size_t n, int64_t v)
{
	h[0] = v;
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < n && h[l] < h[m])
			m = l;
		if (r < n && h[r] < h[m])
			m = r;
		if (m == i)
			break;
		int64_t t = h[m];
		h[m] = h[i];
		h[i] = t;
		i = m;
	}
}

/* Pyroscope's combineMinValues: over every aligned node, the root included, the
 * max_nodes-th largest max(left total, right total). */
static int64_t min_value(const struct aligned *a, size_t max_nodes)
{
	if (max_nodes == 0 || a->n <= max_nodes)
		return 0;
	int64_t *h = xmalloc(max_nodes * sizeof(int64_t));
	size_t hn = 0;
	for (size_t i = 0; i < a->n; i++) {
		int64_t v = EMBER_MAX(a->v[i].lt, a->v[i].rt);
		if (hn < max_nodes)
			heap_push(h, &hn, v);
		else if (v > h[0])
			heap_replace_min(h, hn, v);
	}
	int64_t min = hn < max_nodes ? 0 : h[0];
	free(h);
	return min;
}

#define OTHER_NODE UINT32_MAX

struct dvisit {
	uint32_t node, level;
	int64_t xl, xr;
	int64_t ol, or_; /* synthetic "other" totals */
};

struct name_probe {
	const struct flamegraph_diff *o;
	struct slice name;
};

static bool name_eq(const void *ctx, uint32_t id)
{
	const struct name_probe *c = ctx;
	/* names[0] is stored as "total" but stands for the root's empty name, as in
	 * Pyroscope, where a function called "total" gets its own index. */
	if (id == 0)
		return c->name.n == 0;
	const char *s = c->o->names[id];
	return strlen(s) == c->name.n && memcmp(s, c->name.p, c->name.n) == 0;
}

/* Index of name in out->names, added in first-visit order. */
static uint32_t diff_name(struct flamegraph_diff *out, size_t *cap, struct idset *ix, struct slice name)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (size_t i = 0; i < name.n; i++)
		h = (h ^ name.p[i]) * 1099511628211ULL;
	struct name_probe probe = {out, name};
	uint32_t id;
	if (idset_find(ix, h, name_eq, &probe, &id))
		return id;
	XGROW(out->names, *cap, out->n_names + 1);
	char *s = xmalloc(name.n + 1);
	if (name.n)
		memcpy(s, name.p, name.n);
	s[name.n] = 0;
	id = (uint32_t)out->n_names;
	out->names[out->n_names++] = s;
	idset_insert(ix, h, id);
	return id;
}

static void emit(struct flamegraph_diff *out, size_t **lcap, size_t *cap_levels, uint32_t level, const int64_t v[7])
{
	if (level >= out->n_levels) {
		XGROW(out->levels, *cap_levels, level + 1);
		*lcap = xrealloc(*lcap, *cap_levels * sizeof(size_t));
		for (size_t i = out->n_levels; i <= level; i++) {
			out->levels[i] = (struct flamegraph_level){0};
			(*lcap)[i] = 0;
		}
		out->n_levels = level + 1;
	}
	struct flamegraph_level *l = &out->levels[level];
	XGROW(l->values, (*lcap)[level], l->n + 7);
	memcpy(l->values + l->n, v, 7 * sizeof(int64_t));
	l->n += 7;
	out->max_self = EMBER_MAX(out->max_self, EMBER_MAX(v[2], v[5]));
}

void flamegraph_diff_build(const struct ftree *left, const struct ftree *right, size_t max_nodes,
			   struct flamegraph_diff *out)
{
	memset(out, 0, sizeof(*out));
	struct aligned a = {0};
	align(left, right, &a);
	int64_t min = min_value(&a, max_nodes);
	out->left_ticks = a.v[0].lt;
	out->right_ticks = a.v[0].rt;
	out->total = out->left_ticks + out->right_ticks;

	struct idset names;
	idset_init(&names);
	size_t cap_names = 0, cap_levels = 0;
	size_t *lcap = NULL;
	(void)diff_name(out, &cap_names, &names, slice_make("", 0));
	free(out->names[0]);
	out->names[0] = xmalloc(6);
	memcpy(out->names[0], "total", 6);

	struct dvisit *stack = NULL;
	size_t sn = 0, scap = 0;
	XGROW(stack, scap, 1);
	stack[sn++] = (struct dvisit){.node = 0};
	while (sn > 0) {
		struct dvisit v = stack[--sn];
		if (v.node == OTHER_NODE) {
			int64_t vals[7] = {v.xl, v.ol, v.ol, v.xr, v.or_, v.or_,
					   diff_name(out, &cap_names, &names, slice_cstr("other"))};
			emit(out, &lcap, &cap_levels, v.level, vals);
			continue;
		}
		const struct dnode *d = &a.v[v.node];
		int64_t vals[7] = {v.xl, d->lt, d->ls, v.xr, d->rt, d->rs, diff_name(out, &cap_names, &names, d->name)};
		emit(out, &lcap, &cap_levels, v.level, vals);
		int64_t xl = v.xl + d->ls, xr = v.xr + d->rs, ol = 0, or_ = 0;
		for (uint32_t c = d->first_child; c; c = a.v[c].next_sibling) {
			const struct dnode *cn = &a.v[c];
			if (cn->lt >= min || cn->rt >= min) {
				XGROW(stack, scap, sn + 1);
				stack[sn++] = (struct dvisit){.node = c, .level = v.level + 1, .xl = xl, .xr = xr};
				xl += cn->lt;
				xr += cn->rt;
			} else {
				ol += cn->lt;
				or_ += cn->rt;
			}
		}
		if (ol != 0 || or_ != 0) {
			XGROW(stack, scap, sn + 1);
			stack[sn++] = (struct dvisit){.node = OTHER_NODE, .level = v.level + 1, .xl = xl, .xr = xr,
						      .ol = ol, .or_ = or_};
		}
	}
	free(stack);
	for (size_t d = 0; d < out->n_levels; d++) {
		struct flamegraph_level *l = &out->levels[d];
		size_t nodes = l->n / 7;
		for (size_t i = 0; i < nodes / 2; i++) {
			int64_t tmp[7];
			memcpy(tmp, l->values + 7 * i, sizeof(tmp));
			memcpy(l->values + 7 * i, l->values + 7 * (nodes - 1 - i), sizeof(tmp));
			memcpy(l->values + 7 * (nodes - 1 - i), tmp, sizeof(tmp));
		}
		for (int side = 0; side < 2; side++) {
			int64_t prev = 0;
			for (size_t i = (size_t)side * 3; i < l->n; i += 7) {
				int64_t x = l->values[i];
				l->values[i] = x - prev;
				prev = x + l->values[i + 1];
			}
		}
	}
	idset_release(&names);
	free(lcap);
	free(a.v);
}

void flamegraph_diff_release(struct flamegraph_diff *out)
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

/* Each stack node's state depends only on its parent's state and its own location, so a
 * memo per stack node makes a partition cost one visit per distinct node. */
#include <stdio.h>

#include "query/callsite.h"

struct callsite {
	struct slice *names;
	size_t n;
	char *mem;
};

struct callsite *callsite_new(const char *const *names, size_t n)
{
	if (n == 0)
		return NULL;
	size_t bytes = 0;
	for (size_t i = 0; i < n; i++)
		bytes += strlen(names[i]);
	struct callsite *cs = xcalloc(1, sizeof(*cs));
	cs->names = xmalloc(n * sizeof(*cs->names));
	cs->mem = xmalloc(bytes + 1);
	cs->n = n;
	char *p = cs->mem;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(names[i]);
		memcpy(p, names[i], len);
		cs->names[i] = slice_make(p, len);
		p += len;
	}
	return cs;
}

void callsite_free(struct callsite *cs)
{
	if (!cs)
		return;
	free(cs->names);
	free(cs->mem);
	free(cs);
}

void callsite_match_init(struct callsite_match *m, const struct callsite *cs, const struct symbols *syms)
{
	m->cs = cs;
	m->syms = syms;
	m->state = xcalloc(syms->n_nodes + 1, sizeof(uint32_t));
}

void callsite_match_release(struct callsite_match *m)
{
	free(m->state);
	m->state = NULL;
}

/* The name ftree gives an unsymbolised location (ftree.c location_frames). */
/* Advances a match of k names over one location's frames (outermost first). */
static uint32_t step(const struct callsite *cs, const struct symbols *s, uint32_t loc_id, uint32_t k)
{
	const struct sym_location *loc = &s->locations[loc_id];
	char tmp[512];
	if (loc->n_lines == 0) {
		if (k == cs->n)
			return k;
		return slice_eq(symbols_raw_location_name(s, loc, tmp, sizeof(tmp)), cs->names[k]) ? k + 1 : UINT32_MAX;
	}
	for (uint32_t i = loc->n_lines; i > 0 && k < cs->n; i--) {
		const struct sym_line *ln = &s->lines[loc->first_line + i - 1];
		if (!slice_eq(symbols_function_name(s, ln->function), cs->names[k]))
			return UINT32_MAX;
		k++;
	}
	return k;
}

bool callsite_match_stack(struct callsite_match *m, uint32_t stack)
{
	if (!m->cs)
		return true;
	const struct symbols *s = m->syms;
	uint32_t *chain = NULL;
	size_t depth = 0, cap = 0;
	uint32_t node = stack;
	while (node != 0 && m->state[node] == 0) {
		XGROW(chain, cap, depth + 1);
		chain[depth++] = node;
		node = s->nodes[node].parent;
	}
	uint32_t st = node == 0 ? 2 : m->state[node];
	for (size_t i = depth; i > 0; i--) {
		uint32_t sn = chain[i - 1];
		if (st != 1) {
			uint32_t k = step(m->cs, s, s->nodes[sn].location, st - 2);
			st = k == UINT32_MAX ? 1 : k + 2;
		}
		m->state[sn] = st;
	}
	free(chain);
	return st >= 2 && st - 2 == m->cs->n;
}

void callsite_consume(void *ctx, const struct merge_partition *part)
{
	struct callsite_consumer *cc = ctx;
	if (!cc->cs) {
		cc->next(cc->next_ctx, part);
		return;
	}
	struct callsite_match m;
	callsite_match_init(&m, cc->cs, part->syms);
	uint32_t *stacks = xmalloc((part->n + 1) * sizeof(uint32_t));
	int64_t *values = xmalloc((part->n + 1) * sizeof(int64_t));
	size_t n = 0;
	for (size_t i = 0; i < part->n; i++)
		if (callsite_match_stack(&m, part->stacks[i])) {
			stacks[n] = part->stacks[i];
			values[n++] = part->values[i];
		}
	callsite_match_release(&m);
	if (n > 0) {
		struct merge_partition sub = {.syms = part->syms, .stacks = stacks, .values = values, .n = n};
		cc->next(cc->next_ctx, &sub);
	}
	free(stacks);
	free(values);
}

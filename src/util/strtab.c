#include <xxhash.h>

#include "util/strtab.h"

struct strtab_probe {
	const struct strtab *t;
	struct slice s;
};

static bool strtab_eq(const void *ctx, uint32_t id)
{
	const struct strtab_probe *p = ctx;
	return slice_eq(p->t->strs[id], p->s);
}

void strtab_init(struct strtab *t)
{
	memset(t, 0, sizeof(*t));
	arena_init(&t->mem, 0);
	idset_init(&t->index);
	strtab_intern(t, slice_make("", 0));
}

void strtab_release(struct strtab *t)
{
	arena_release(&t->mem);
	free(t->strs);
	idset_release(&t->index);
	memset(t, 0, sizeof(*t));
}

bool strtab_lookup(const struct strtab *t, struct slice s, uint32_t *id)
{
	struct strtab_probe p = {t, s};
	return idset_find(&t->index, XXH3_64bits(s.p, s.n), strtab_eq, &p, id);
}

uint32_t strtab_intern(struct strtab *t, struct slice s)
{
	uint64_t h = XXH3_64bits(s.p, s.n);
	struct strtab_probe p = {t, s};
	uint32_t id;
	if (idset_find(&t->index, h, strtab_eq, &p, &id))
		return id;
	id = (uint32_t)t->n;
	XGROW(t->strs, t->cap, t->n + 1);
	char *copy = arena_strndup(&t->mem, (const char *)s.p, s.n);
	t->strs[t->n++] = slice_make(copy, s.n);
	t->bytes += s.n;
	idset_insert(&t->index, h, id);
	return id;
}

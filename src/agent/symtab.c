/* symtab: sorted address table; see symtab.h. */
#include <stdlib.h>

#include "agent/symtab.h"
#include "util/common.h"

void symtab_init(struct symtab *t)
{
	memset(t, 0, sizeof(*t));
}

void symtab_release(struct symtab *t)
{
	free(t->e);
	free(t->names);
	memset(t, 0, sizeof(*t));
}

int64_t symtab_add_name(struct symtab *t, const char *name, size_t len)
{
	if (len > SYMTAB_MAX_NAMES || t->names_len + len + 1 > SYMTAB_MAX_NAMES)
		return EMBER_ETOOBIG;
	XGROW(t->names, t->names_cap, t->names_len + len + 1);
	int64_t off = (int64_t)t->names_len;
	memcpy(t->names + t->names_len, name, len);
	t->names[t->names_len + len] = '\0';
	t->names_len += len + 1;
	return off;
}

int symtab_add(struct symtab *t, uint64_t addr, uint64_t size, const char *name, size_t len,
	       uint32_t aux)
{
	if (t->n >= SYMTAB_MAX_ENTRIES)
		return EMBER_ETOOBIG;
	int64_t off = symtab_add_name(t, name, len);
	if (off < 0)
		return (int)off;
	XGROW(t->e, t->cap, t->n + 1);
	t->e[t->n++] = (struct symtab_entry){addr, size, (uint32_t)off, aux};
	t->sorted = false;
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct symtab_entry *x = a, *y = b;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* Equal addresses: sized symbols first, then by aux (perfmap: line order reversed),
	 * then insertion order (name offsets grow with insertion): the first alias wins. */
	if ((x->size == 0) != (y->size == 0))
		return x->size ? -1 : 1;
	if (x->aux != y->aux)
		return x->aux < y->aux ? -1 : 1;
	return x->name < y->name ? -1 : x->name > y->name;
}

void symtab_finish(struct symtab *t)
{
	if (t->n > 1)
		sort_n(t->e, t->n, sizeof(*t->e), cmp_entry);
	size_t w = 0;
	for (size_t r = 0; r < t->n; r++) {
		if (w > 0 && t->e[w - 1].addr == t->e[r].addr &&
		    strcmp(t->names + t->e[w - 1].name, t->names + t->e[r].name) == 0)
			continue;
		t->e[w++] = t->e[r];
	}
	t->n = w;
	t->sorted = true;
}

const struct symtab_entry *symtab_lookup(const struct symtab *t, uint64_t addr,
					 uint64_t max_unsized)
{
	if (!t->sorted || t->n == 0 || addr < t->e[0].addr)
		return NULL;
	/* Last entry with e.addr <= addr. */
	size_t lo = 0, hi = t->n;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->e[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	/* Several symbols may start at the same address: go to the first (preferred). */
	size_t i = lo;
	while (i > 0 && t->e[i - 1].addr == t->e[lo].addr)
		i--;
	const struct symtab_entry *e = &t->e[i];
	if (e->size)
		return addr - e->addr < e->size ? e : NULL;
	if (lo + 1 < t->n)
		return e; /* runs to the next symbol, which starts after addr */
	return addr - e->addr < max_unsized ? e : NULL;
}

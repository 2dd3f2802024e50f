#include "util/idset.h"

static inline uint64_t fix_hash(uint64_t h)
{
	return h ? h : 0x9e3779b97f4a7c15ull;
}

/* Home slot: Fibonacci hashing takes the high bits of hash * 2^64/phi, so keys that are
 * not random (packed ids, as the stack tree uses) still spread over the table. */
static inline size_t home_slot(uint64_t hash, size_t cap)
{
	return (size_t)((hash * 0x9e3779b97f4a7c15ull) >> (64 - __builtin_ctzll(cap)));
}

void idset_init(struct idset *s)
{
	memset(s, 0, sizeof(*s));
}

void idset_release(struct idset *s)
{
	free(s->hashes);
	free(s->ids);
	idset_init(s);
}

bool idset_find(const struct idset *s, uint64_t hash, idset_eq_fn eq, const void *ctx, uint32_t *id)
{
	if (!s->cap)
		return false;
	hash = fix_hash(hash);
	size_t mask = s->cap - 1;
	for (size_t i = home_slot(hash, s->cap);; i = (i + 1) & mask) {
		if (s->hashes[i] == 0)
			return false;
		if (s->hashes[i] == hash && (!eq || eq(ctx, s->ids[i]))) {
			*id = s->ids[i];
			return true;
		}
	}
}

static void idset_put(uint64_t *hashes, uint32_t *ids, size_t cap, uint64_t hash, uint32_t id)
{
	size_t mask = cap - 1;
	size_t i = home_slot(hash, cap);
	while (hashes[i] != 0)
		i = (i + 1) & mask;
	hashes[i] = hash;
	ids[i] = id;
}

void idset_insert(struct idset *s, uint64_t hash, uint32_t id)
{
	hash = fix_hash(hash);
	if ((s->n + 1) * 4 > s->cap * 3) {
		size_t ncap = s->cap ? s->cap * 2 : 64;
		uint64_t *nh = xcalloc(ncap, sizeof(*nh));
		uint32_t *ni = xmalloc(ncap * sizeof(*ni));
		for (size_t i = 0; i < s->cap; i++)
			if (s->hashes[i])
				idset_put(nh, ni, ncap, s->hashes[i], s->ids[i]);
		free(s->hashes);
		free(s->ids);
		s->hashes = nh;
		s->ids = ni;
		s->cap = ncap;
	}
	idset_put(s->hashes, s->ids, s->cap, hash, id);
	s->n++;
}

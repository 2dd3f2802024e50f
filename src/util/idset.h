/* idset: an open-addressing hash index from content to dense uint32 ids, for
 * deduplicating things stored elsewhere (strings, functions, stack nodes...).
 * The set stores (hash, id) pairs only; the caller keeps the content in its own
 * array and answers "is id equal to what I am looking for" through a callback. */
#ifndef EMBER_UTIL_IDSET_H
#define EMBER_UTIL_IDSET_H

#include "util/common.h"

struct idset {
	uint64_t *hashes; /* 0 marks an empty slot; real hashes are forced non-zero */
	uint32_t *ids;
	size_t cap;       /* power of two, or 0 */
	size_t n;
};

typedef bool (*idset_eq_fn)(const void *ctx, uint32_t id);

/** Initialises an empty set (no allocation). */
void idset_init(struct idset *s);
/** Frees the table. */
void idset_release(struct idset *s);
/** Returns true and sets *id if an entry with this hash for which eq(ctx, id) holds exists.
 * eq may be NULL when the hash is the exact key (e.g. two packed uint32s). */
bool idset_find(const struct idset *s, uint64_t hash, idset_eq_fn eq, const void *ctx, uint32_t *id);
/** Adds (hash, id); the caller has checked it is not present. */
void idset_insert(struct idset *s, uint64_t hash, uint32_t id);

#endif

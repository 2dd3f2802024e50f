/* strtab: a string interner. Each distinct byte string gets a dense id (0 is always the
 * empty string). The bytes are copied into the table's own memory. Not thread-safe. */
#ifndef EMBER_UTIL_STRTAB_H
#define EMBER_UTIL_STRTAB_H

#include "util/arena.h"
#include "util/idset.h"

struct strtab {
	struct arena mem;    /* owns the bytes */
	struct slice *strs;  /* id -> bytes */
	size_t n, cap;
	struct idset index;
	size_t bytes;        /* total bytes interned, for memory accounting */
};

/** Initialises a table holding only "" as id 0. */
void strtab_init(struct strtab *t);
/** Frees everything. */
void strtab_release(struct strtab *t);
/** Returns the id of s, adding a copy if new. */
uint32_t strtab_intern(struct strtab *t, struct slice s);
/** Returns true and the id if s is present, without adding it. */
bool strtab_lookup(const struct strtab *t, struct slice s, uint32_t *id);
/** The bytes of id; valid as long as the table. */
static inline struct slice strtab_get(const struct strtab *t, uint32_t id)
{
	return t->strs[id];
}

#endif

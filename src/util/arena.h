/* Arena: a bump allocator for per-request memory. Everything allocated from an arena
 * lives until arena_release() (or arena_reset()) and is never freed one by one. */
#ifndef EMBER_UTIL_ARENA_H
#define EMBER_UTIL_ARENA_H

#include "util/common.h"

struct arena_chunk;

struct arena {
	struct arena_chunk *head; /* newest chunk first */
	size_t used_total;        /* bytes handed out, for limits and metrics */
	size_t limit;             /* 0 = unlimited; else arena_try_alloc fails past it */
};

/** Initialises an empty arena (no allocation). limit 0 means unlimited. */
void arena_init(struct arena *a, size_t limit);
/** Frees every chunk; the arena can be reused afterwards. */
void arena_release(struct arena *a);
/** Frees everything but keeps the arena initialised with the same limit. */
void arena_reset(struct arena *a);

/** Returns n bytes aligned to 16, owned by the arena; NULL if the limit would be
 * passed. Use for sizes that come from outside. */
void *arena_try_alloc(struct arena *a, size_t n) EMBER_WUR;
/** As arena_try_alloc for internal sizes: aborts when out of memory or over limit. */
void *arena_alloc(struct arena *a, size_t n);
/** Zeroed arena_alloc. */
void *arena_zalloc(struct arena *a, size_t n);
/** Copies s[0..n) into the arena with a terminating NUL. */
char *arena_strndup(struct arena *a, const char *s, size_t n);
/** printf into the arena. */
char *arena_printf(struct arena *a, const char *fmt, ...) EMBER_PRINTF(2, 3);

#endif

/* compact: merges N blocks of one tenant into one block. Every series, profile and symbol
 * partition of the sources is read (block_scan); symbols are remapped into one partition
 * per service, deduplicated by content as the head does (strings, mappings, functions,
 * locations, stack nodes), keeping only what the merged profiles use; identical profiles
 * (same series labels, same timestamp, same (stack path, value) content) are kept once.
 * The new block has level = max(source levels) + 1, sources = the union of the sources'
 * sources, and wal_segment = the max of theirs. Design: docs/internals/compaction.md. */
#ifndef EMBER_STORE_COMPACT_H
#define EMBER_STORE_COMPACT_H

#include "store/block.h"

struct compact_options {
	/** Where the new block is written (`<dir>/<ULID>/`, durably: see block_write). */
	const char *dir;
	/** Called with a progress line ("read 3/8 01J...: 1200 profiles") when not NULL. */
	void (*progress)(void *ctx, const char *line);
	void *progress_ctx;
};

struct compact_stats {
	uint64_t profiles_in;   /* profiles read from the sources */
	uint64_t profiles_out;  /* profiles written */
	uint64_t duplicates;    /* identical profiles dropped (in - out) */
	uint64_t series_out;
};

/** Merges srcs[0..n) (open blocks of one tenant, borrowed; n >= 1) into a new block
 * under o->dir. On success fills *meta (the caller releases it with block_meta_release)
 * and *stats (may be NULL). Returns 0, EMBER_EINVAL (no sources, or sources of several
 * tenants), EMBER_ECORRUPT/EMBER_EIO when a source cannot be read or the block cannot be
 * written (message in err); nothing is left in o->dir on failure. */
int compact_blocks(struct block *const *srcs, size_t n, const struct compact_options *o, struct block_meta *meta,
		   struct compact_stats *stats, char *err, size_t errlen) EMBER_WUR;

#endif

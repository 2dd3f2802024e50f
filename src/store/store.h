/* store: the storage engine of one ingester, tying the head, the WAL and the blocks
 * together. Writers append to the current head between store_write_begin/end; a cut
 * (store_flush, or the size/age rule) freezes the head, writes one block per tenant,
 * makes it durable in the bucket (object storage), then drops the WAL segments it covers.
 * Readers see the current head, a head being flushed, and every block as one timeline:
 * a profile is always in exactly one of them. Design: docs/internals/storage.md. */
#ifndef EMBER_STORE_STORE_H
#define EMBER_STORE_STORE_H

#include "objstore/objstore.h"
#include "store/block.h"
#include "store/head.h"
#include "store/wal.h"

struct store_config {
	const char *dir;               /* local data directory: blocks/ holds local block copies */
	struct objstore *bucket;       /* where blocks are kept (borrowed); keys blocks/<tenant>/<ULID>/<file> */
	struct wal *wal;               /* borrowed; may be NULL (nothing durable, tests) */
	struct head_limits head;
	int64_t max_block_duration_ns; /* cut once the head is this old (0: never by age) */
	size_t max_head_bytes;         /* cut once the head holds this much (0: never by size) */
	size_t max_block_cache_bytes;  /* loaded block symbols kept in memory (0: no limit); the
					* least recently read blocks' are dropped first */
};

struct store;

/** Opens the store: loads the blocks in the bucket (downloading missing local copies) and
 * starts with an empty head. Returns 0, or EMBER_EIO with a message. Damaged blocks are
 * logged and skipped, never fatal. */
int store_open(const struct store_config *cfg, struct store **out, char *err, size_t errlen) EMBER_WUR;
/** Closes it (NULL-safe); does not flush. */
void store_close(struct store *st);

/* ---- writing ------------------------------------------------------------------------ */

/** The head to append to, valid until store_write_end. A WAL append and the head append
 * of the same write must happen between one begin/end pair, so that a cut never splits
 * them (every record of a WAL segment the cut drops is in the block it wrote). */
struct head *store_write_begin(struct store *st);
void store_write_end(struct store *st);

/** True if the WAL records of tenant in segment are already in a block (replay skips
 * them: they were cut, but the segment outlived the cut in a crash). */
bool store_wal_covered(struct store *st, struct slice tenant, uint64_t segment);

/** Cuts the head into blocks now, synchronously: returns once every block is durable in
 * the bucket and the WAL segments it covers are gone. One flush runs at a time. Returns
 * 0, or a negative code with a message (the head's data is then kept, nothing is lost). */
int store_flush(struct store *st, char *err, size_t errlen) EMBER_WUR;

/** True when the head is due for a cut under the age and size rules. */
bool store_cut_due(struct store *st, int64_t now_ns);

/* ---- compaction and retention ------------------------------------------------------- */

/** A per-tenant retention (Pyroscope's per-tenant compactor_blocks_retention_period). */
struct store_retention_override {
	const char *tenant;
	int64_t retention_ns; /* 0: off for this tenant */
};

struct store_compact_options {
	const int64_t *ranges_ns;      /* -compactor.block-ranges, ascending (see compact_plan.h) */
	size_t n_ranges;
	int64_t deletion_delay_ns;     /* -compactor.deletion-delay: marked blocks older are deleted */
	int64_t retention_ns;          /* -compactor.blocks-retention-period (0: off) */
	const struct store_retention_override *overrides; /* per tenant, borrowed */
	size_t n_overrides;
	const char *tenant;            /* only this tenant (NULL: all) */
	bool no_compaction;            /* only retention and deletions */
	int64_t now_ns;                /* 0: the clock (tests pass their own) */
	void (*progress)(void *ctx, const char *line); /* progress lines, when not NULL */
	void *progress_ctx;
};

struct store_compact_result {
	size_t compactions;      /* new blocks written */
	size_t blocks_compacted; /* source blocks replaced by them */
	uint64_t duplicates;     /* identical profiles dropped */
	size_t retention_marked; /* blocks marked because they are past the retention */
	size_t deleted;          /* marked blocks deleted after the delay */
};

/** One compaction round: per tenant, marks the blocks past the retention, plans
 * (compact_plan) and runs every job (compact_blocks), then deletes the blocks marked for
 * longer than the deletion delay. A new block is durable (and in the bucket) before its
 * sources get their deletion marks; readers switch from the sources to it at one instant
 * (under the read lock). One round runs at a time; writes, flushes and queries go on
 * meanwhile. Returns 0 (res filled; may be NULL), or the first error with a message (the
 * round goes on with the other jobs and tenants after a failed job). */
int store_compact(struct store *st, const struct store_compact_options *o, struct store_compact_result *res,
		  char *err, size_t errlen) EMBER_WUR;

/* ---- reading ------------------------------------------------------------------------ */

/** As head_select_series, over the head(s) and blocks; a series stored in several places
 * is reported once per place. */
size_t store_select_series(struct store *st, struct slice tenant, const struct selector *const *sels,
			   size_t n_sels, struct head_range range, head_series_fn fn, void *ctx);

/** As head_select_profiles_locked over every place the tenant's data is: fn for each
 * profile, then done(ctx) once per place (its symbol tables are valid until then). A
 * damaged block is logged, counted and skipped. Returns the number of profiles. */
size_t store_select_profiles(struct store *st, struct slice tenant, const struct selector *const *sels,
			     size_t n_sels, struct head_range range, head_profile_fn fn, void (*done)(void *ctx),
			     void *ctx);

struct store_stats {
	struct head_stats head; /* current + flushing head */
	size_t blocks, block_profiles, block_cache_bytes;
	uint64_t flushes, flush_failures, corrupt_blocks;
	uint64_t compactions, compaction_failures, blocks_marked, blocks_deleted;
};

/** Tenant stats over head and blocks. */
void store_tenant_stats(struct store *st, struct slice tenant, struct head_tenant_stats *out);
/** Totals for /metrics. */
void store_stats(struct store *st, struct store_stats *out);

#endif

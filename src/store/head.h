/* head: the in-memory, queryable store of recently ingested profiles, per tenant.
 *
 * Per tenant it holds the series index (series labels, label postings), one symbol
 * partition per service (store/symbols.h: strings, functions, locations, mappings, stack
 * tree), and every profile as (series, time, total, sorted (stack id, value) pairs).
 * Thread-safe: one lock for the tenant map, a reader/writer lock per tenant; readers see
 * a profile completely or not at all. Design: docs/internals/head.md. */
#ifndef EMBER_STORE_HEAD_H
#define EMBER_STORE_HEAD_H

#include "model/labels.h"
#include "pprof/pprof.h"
#include "store/symbols.h"

struct head;
struct selector;

/** One profile to append: the samples[] of pprof source `src` (indices into src->samples)
 * that belong to one series, taking value index `value_index` of each sample. Samples
 * with a zero value are skipped; duplicate call paths are summed. */
struct head_append_item {
	const struct labels *labels; /* validated, sorted series labels (copied by the head) */
	int64_t time_ns;
	size_t value_index;
	const uint32_t *samples;
	size_t n_samples;
	int64_t scale; /* each value is multiplied by this (1 = as is) */
	const uint8_t *id;     /* 16 bytes: the profile id (a UUID), copied; NULL = all zero */
	const uint64_t *spans; /* NULL, or per sample of src (indexed like src->samples) its span
				* id, 0 = none: samples with a span are also kept as (stack,
				* value, span) triples beside the summed pairs */
};

#define HEAD_ID_LEN 16

struct head_limits {
	size_t max_stack_depth;   /* deeper stacks keep the root-most frames (1000) */
	size_t max_symbol_len;    /* longer names keep their tail (65535) */
	size_t max_series;        /* per tenant; 0 = unlimited (5000 is Pyroscope's global default) */
};

/** Creates an empty head. Never fails. */
struct head *head_new(const struct head_limits *lim);
/** Frees everything (NULL-safe). */
void head_free(struct head *h);

/** Appends items[0..n) of tenant `tenant`, all taken from the same pprof `src` (and so
 * the same service: the partition is chosen by the first item's service_name). Symbols of
 * src are copied into the head. Returns 0, or EMBER_ELIMIT when the tenant's series limit
 * would be passed (nothing is appended then). */
int head_append(struct head *h, struct slice tenant, const struct pprof_profile *src,
		const struct head_append_item *items, size_t n) EMBER_WUR;
/** head_append with the tenant's own series limit (0 = unlimited) instead of the head's. */
int head_append_limited(struct head *h, struct slice tenant, const struct pprof_profile *src,
			const struct head_append_item *items, size_t n, size_t max_series) EMBER_WUR;

/* ---- reading ----------------------------------------------------------------------- */

/** Time range [start_ns, end_ns] for queries; a series qualifies if any of its profiles
 * lies in it. end_ns < 0 means no upper bound. */
struct head_range {
	int64_t start_ns, end_ns;
};

/** Called for each series that matches (under the tenant's read lock: do not call back
 * into the head). labels are borrowed for the call. */
typedef void (*head_series_fn)(void *ctx, const struct labels *labels);

/** Calls fn for every series of tenant that has a profile in range and matches any of
 * sels[0..n_sels) (n_sels 0 = every series). Returns the number of series visited. */
size_t head_select_series(struct head *h, struct slice tenant, const struct selector *const *sels,
			  size_t n_sels, struct head_range range, head_series_fn fn, void *ctx);

/** One profile as seen by head_select_profiles. Arrays borrowed for the call. */
struct head_profile_view {
	const struct labels *labels;
	int64_t time_ns;
	int64_t total;
	const uint32_t *stacks; /* stack node ids into syms, ascending */
	const int64_t *values;
	size_t n;
	const struct symbols *syms;
	const uint8_t *id; /* HEAD_ID_LEN bytes; all zero = no id (a version-1 block) */
	/* The samples that carried a span id: (stack, value, span) triples sorted by (stack,
	 * span), counted in stacks/values above too. n_spans 0 for most profiles. */
	const uint32_t *span_stacks;
	const int64_t *span_values;
	const uint64_t *span_ids;
	size_t n_spans;
};

typedef void (*head_profile_fn)(void *ctx, const struct head_profile_view *p);

/** Calls fn for every profile in range of every series matching any of sels. Returns the
 * number of profiles visited. */
size_t head_select_profiles(struct head *h, struct slice tenant, const struct selector *const *sels,
			    size_t n_sels, struct head_range range, head_profile_fn fn, void *ctx);

/** As head_select_profiles, then calls done(ctx) once (even when nothing matched) while
 * the tenant's read lock is still held: the symbol tables of the views (view->syms) may be
 * read until done returns, and must not be used after. */
size_t head_select_profiles_locked(struct head *h, struct slice tenant, const struct selector *const *sels,
				   size_t n_sels, struct head_range range, head_profile_fn fn, void (*done)(void *ctx),
				   void *ctx);

struct head_tenant_stats {
	bool data_ingested;
	int64_t oldest_ns, newest_ns; /* of all profiles; 0 when none */
	size_t series, profiles, samples;
};

/** Stats of one tenant (zeros if it does not exist). */
void head_tenant_stats(struct head *h, struct slice tenant, struct head_tenant_stats *out);

struct head_stats {
	size_t tenants, series, profiles, samples, symbol_bytes, profile_bytes;
};

/** The names of the tenants with data, as a new array of new strings (caller frees each
 * and the array). Returns their number. */
size_t head_tenant_names(struct head *h, char ***out);

/** Totals over every tenant, for /metrics. */
void head_stats(struct head *h, struct head_stats *out);

/* ---- snapshots for block cuts -------------------------------------------------------- */

struct block_source;
struct head_snapshot;

/** Copies tenant's profiles with time in [min_ns, max_ns] (inclusive) and everything they
 * refer to (series labels, every symbol partition) out of the head under its read lock,
 * as a block_source (store/block.h) ready for block_write: series with no profile in the
 * range are left out, profiles are sorted by (series, time). The snapshot owns all of it
 * and does not borrow from the head. Returns 0, or EMBER_ENOTFOUND when the tenant has
 * no profile in the range (*out is NULL then). */
int head_snapshot(struct head *h, struct slice tenant, int64_t min_ns, int64_t max_ns,
		  struct head_snapshot **out) EMBER_WUR;
/** The snapshot's source (owned by the snapshot, valid until head_snapshot_free). */
const struct block_source *head_snapshot_source(const struct head_snapshot *s);
/** Frees a snapshot (NULL-safe). */
void head_snapshot_free(struct head_snapshot *s);

#endif

/* block: an immutable, compressed, self-checking file set holding one tenant's profiles for
 * a time range: the head is cut into blocks, blocks are merged by the compactor, and
 * queries read them with the same callbacks as the head (head_profile_fn), so everything
 * above the store (merge, ftree, exports) works on blocks unchanged.
 *
 * On disk a block is a directory `<tenant>/<ULID>/` with meta.json, index, symbols and
 * profiles; the byte-by-byte format is docs/internals/block-format.md. Readers check
 * bounds and checksums before trusting any byte: a damaged block gives EMBER_ECORRUPT with
 * the file and the reason, never a crash. */
#ifndef EMBER_STORE_BLOCK_H
#define EMBER_STORE_BLOCK_H

#include "model/labels.h"
#include "store/head.h"
#include "store/symbols.h"

#define BLOCK_ULID_LEN 26

/** What a block's meta.json says. */
struct block_meta {
	char ulid[BLOCK_ULID_LEN + 1];
	char tenant[160];
	int64_t min_time_ns, max_time_ns; /* inclusive, of the profiles inside */
	uint64_t n_series, n_profiles, n_samples; /* samples = (stack, value) pairs */
	uint32_t level;                    /* compaction level: 1 for a head cut */
	char (*sources)[BLOCK_ULID_LEN + 1]; /* ULIDs this block was compacted from (itself for level 1) */
	size_t n_sources;
	uint32_t version;                  /* format version */
	uint64_t wal_segment;              /* the writer's WAL segments <= this are all in the
					    * block (0: none); replay skips them for this tenant */
};

/* ---- writing ------------------------------------------------------------------------ */

/** One symbol partition (a service) to write. syms is borrowed for the call. */
struct block_partition_in {
	struct slice service;
	const struct symbols *syms;
};

/** One series: sorted labels and the partition its stacks refer to. */
struct block_series_in {
	struct labels labels;
	uint32_t partition;
};

/** One profile. stacks ascending; stacks[] are node ids in the series' partition. */
struct block_profile_in {
	uint32_t series;
	int64_t time_ns;
	int64_t total;
	const uint32_t *stacks;
	const int64_t *values;
	uint32_t n;
	const uint8_t *id;           /* HEAD_ID_LEN bytes; NULL = all zero */
	const uint32_t *span_stacks; /* n_spans (stack, value, span) triples sorted by (stack, span) */
	const int64_t *span_values;
	const uint64_t *span_ids;
	uint32_t n_spans;
};

/** Everything a block is written from. profiles sorted by (series, time). */
struct block_source {
	const char *tenant;
	const struct block_partition_in *partitions;
	size_t n_partitions;
	const struct block_series_in *series;
	size_t n_series;
	const struct block_profile_in *profiles;
	size_t n_profiles;
	uint32_t level;
	const char (*sources)[BLOCK_ULID_LEN + 1]; /* NULL for a head cut */
	size_t n_sources;
	uint64_t wal_segment; /* see block_meta.wal_segment */
};

/** Writes src as a new block under dir (`dir/<ULID>/`), durably: files are written to a
 * temporary directory, fsync'd, then renamed into place, so a crash leaves either no block
 * or a complete one. On success fills meta (with the new ULID; the caller frees its
 * sources with block_meta_release). Series without profiles are left out. Returns 0,
 * EMBER_EIO (message in err), or EMBER_EINVAL for an inconsistent source (unsorted
 * labels or profiles, a stack id outside its partition, no profiles). */
int block_write(const char *dir, const struct block_source *src, struct block_meta *meta, char *err,
		size_t errlen) EMBER_WUR;

/* ---- reading ------------------------------------------------------------------------ */

struct block;

/** Opens the block directory at path: reads and checks meta.json and the index (labels,
 * series, per-series time ranges and profile offsets); symbols and profiles are read on
 * first use. Returns 0, EMBER_ENOTFOUND, EMBER_ECORRUPT or EMBER_EIO (message in err). */
int block_open(const char *path, struct block **out, char *err, size_t errlen) EMBER_WUR;

struct objstore;

/** Opens the block whose files are the objects `<prefix>/meta.json`, `<prefix>/index`,
 * `<prefix>/symbols` and `<prefix>/profiles` of os (e.g. prefix "blocks/anonymous/<ULID>"),
 * without downloading it: meta.json and the index are read whole now (objstore_get), and
 * symbols and profiles later, section by section, with ranged GETs (objstore_get_range)
 * when a query needs them, with every check block_open makes (the bucket is untrusted
 * too). os is borrowed and must outlive the block. Returns 0, EMBER_ENOTFOUND (no
 * meta.json under prefix), EMBER_ECORRUPT, EMBER_EIO (objstore failure, its message in
 * err) or EMBER_EINVAL (prefix is not a valid key). */
int block_open_remote(struct objstore *os, const char *prefix, struct block **out, char *err,
		      size_t errlen) EMBER_WUR;

/** The block's meta (owned by the block). */
const struct block_meta *block_meta(const struct block *b);

/** Like head_select_profiles_locked, over the block: calls fn for each profile in range of
 * each series matching any of sels (n_sels 0 = all), then done(ctx) once. Views are valid
 * during the call; view->syms is the block's loaded symbols for the series' partition,
 * valid until done returns. Thread-safe (several queries may read one block). Returns the
 * number of profiles visited, or a negative EMBER_E* code when the block turns out to be
 * corrupt (message "<file>: <reason>" in err; done is still called, and fn may already
 * have seen the profiles of series read before the damaged one). */
long block_select_profiles(struct block *b, const struct selector *const *sels, size_t n_sels,
			   struct head_range range, head_profile_fn fn, void (*done)(void *ctx), void *ctx,
			   char *err, size_t errlen);

/** Calls fn for each series of the block matching sels and having a profile in range. */
size_t block_select_series(struct block *b, const struct selector *const *sels, size_t n_sels,
			   struct head_range range, head_series_fn fn, void *ctx);

/** One series of a block as block_scan hands it over; everything is borrowed for the call
 * except syms, which stays valid until block_close. Profiles are in time order; profile k
 * has counts[k] samples: stacks/values[starts[k] .. starts[k] + counts[k]). */
struct block_scan_series {
	uint32_t id;                  /* series index in the block */
	const struct labels *labels;  /* sorted */
	uint32_t partition;
	struct slice service;         /* the partition's service name */
	const struct symbols *syms;   /* the partition's symbols (content indexes empty) */
	size_t n_profiles;
	const int64_t *times, *totals;
	const uint32_t *counts;
	const size_t *starts;
	const uint32_t *stacks;       /* node ids into syms, ascending per profile */
	const int64_t *values;
	const uint8_t *ids;           /* n_profiles x HEAD_ID_LEN bytes (zero in version-1 blocks) */
	/* profile k's span triples: span_*[span_starts[k] .. + span_counts[k]) */
	const uint32_t *span_counts;
	const size_t *span_starts;
	const uint32_t *span_stacks;
	const int64_t *span_values;
	const uint64_t *span_ids;
};

/** Return 0 to go on; anything else stops block_scan, which returns it. */
typedef int (*block_scan_fn)(void *ctx, const struct block_scan_series *s);

/** Visits every series of the block in index order with all its profiles and its
 * partition's symbols (a full read, for the compactor and tools). Returns 0, fn's nonzero
 * value, or EMBER_ECORRUPT/EMBER_EIO with "<file>: <reason>" in err. */
int block_scan(struct block *b, block_scan_fn fn, void *ctx, char *err, size_t errlen) EMBER_WUR;

/** Symbol partitions of the block: their number, then the service name (borrowed from the
 * block) and the byte size of partition i's section in the symbols file. */
size_t block_partition_count(const struct block *b);
struct slice block_partition_service(const struct block *b, size_t i, uint64_t *bytes);

/** Label names of the block (ascending): their number, then name i (borrowed from the
 * block) with its number of distinct values. */
size_t block_label_name_count(const struct block *b);
struct slice block_label_name(const struct block *b, size_t i, size_t *n_values);

/** The block directory's path, or for a remote block its key prefix (owned by the block). */
const char *block_path(const struct block *b);

/** Reads every file of the block completely and checks every checksum and bound: 0, or
 * EMBER_ECORRUPT/EMBER_EIO with the file name and reason in err. */
int block_verify(const char *path, char *err, size_t errlen) EMBER_WUR;
/** block_verify over a block in a bucket (see block_open_remote), read by ranges. */
int block_verify_remote(struct objstore *os, const char *prefix, char *err, size_t errlen) EMBER_WUR;

/** Bytes of the symbol tables this block has loaded and keeps cached. */
size_t block_cache_bytes(struct block *b);
/** Frees the cached symbol tables; they are loaded again on next use. The caller
 * guarantees that no query is reading the block (no view->syms of it is in use). */
void block_cache_drop(struct block *b);

/** Closes the block (NULL-safe). */
void block_close(struct block *b);

/** Parses or formats a meta.json (exposed for tools and tests). */
int block_meta_parse(struct slice json, struct block_meta *out, char *err, size_t errlen) EMBER_WUR;
void block_meta_format(const struct block_meta *m, struct buf *out);
/** Frees what a parsed meta owns (sources). */
void block_meta_release(struct block_meta *m);

/** A new ULID (time-ordered, random tail) as 26 Crockford base32 characters + NUL. */
void block_ulid_new(int64_t now_ms, char out[BLOCK_ULID_LEN + 1]);

#endif

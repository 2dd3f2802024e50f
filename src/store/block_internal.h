/* block internals shared by block_write.c, block_read.c and block_meta.c, and the parse
 * entry points over memory that the fuzz target (fuzz/block_reader.c) and the unit tests
 * call directly. Not part of the store's API. Format: docs/internals/block-format.md. */
#ifndef EMBER_STORE_BLOCK_INTERNAL_H
#define EMBER_STORE_BLOCK_INTERNAL_H

#include "store/block.h"
#include "util/buf.h"

#define BLOCK_VERSION 2          /* written; 1 (no profile ids, no spans) is still read */
#define BLOCK_MIN_VERSION 1
#define BLOCK_FILE_HEADER 16    /* magic[8], u32 version, u32 crc32c of bytes 0..12 */
#define BLOCK_SECTION_HEADER 12 /* u32 compressed length, u32 raw length, u32 crc32c */
#define BLOCK_MAX_SECTION (1u << 30) /* raw (decompressed) bytes of one section */
#define BLOCK_MAX_META (1u << 20)    /* bytes of meta.json */
#define BLOCK_ZSTD_LEVEL 3

#define BLOCK_MAGIC_INDEX "EMBERIDX"
#define BLOCK_MAGIC_SYMBOLS "EMBERSYM"
#define BLOCK_MAGIC_PROFILES "EMBERPRF"

/* ---- little codec helpers ------------------------------------------------------------ */

/** A bounded reader over decompressed bytes: every get checks the end first and, on
 * failure, records the first reason and makes every later get fail too. */
struct block_rd {
	const uint8_t *p, *end;
	const char *why; /* NULL while everything read was fine */
};

static inline uint64_t block__zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static inline int64_t block__unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}
static inline size_t block_rd_left(const struct block_rd *r)
{
	return (size_t)(r->end - r->p);
}

uint64_t block__get_uvarint(struct block_rd *r);
/** A count of things that each take at least min_bytes bytes: larger than what is left
 * fails ("count exceeds the bytes left"), so no count can cause a large allocation. */
size_t block__get_count(struct block_rd *r, size_t min_bytes);
/** An id that must be < limit. */
uint32_t block__get_id(struct block_rd *r, size_t limit, const char *what);
int64_t block__get_varint(struct block_rd *r);
uint8_t block__get_byte(struct block_rd *r);
/** n raw bytes (borrowed from the reader's buffer). */
struct slice block__get_bytes(struct block_rd *r, size_t n);
void block__fail(struct block_rd *r, const char *why);

/* ---- file framing -------------------------------------------------------------------- */

/** Appends the 16-byte file header for magic. */
void block__put_file_header(struct buf *out, const char *magic);
/** Appends one section holding raw, zstd-compressed; returns EMBER_EINVAL if raw is too
 * large (message in err). */
int block__put_section(struct buf *out, struct slice raw, char *err, size_t errlen) EMBER_WUR;
/** Checks the file header of `file` (named `name` in messages). */
int block__check_file_header(struct slice file, const char *name, const char *magic, char *err,
			     size_t errlen) EMBER_WUR;
/** Checks and decompresses the section that starts at sec.p and is exactly sec.n bytes
 * long (header included) into out (replaced). The raw size is capped before anything is
 * allocated. `what` names the section in messages ("index: section: ..."). */
int block__read_section(struct slice sec, const char *name, const char *what, struct buf *out, char *err,
			size_t errlen) EMBER_WUR;
/** The total length (header + payload) of the section starting at sec.p, or 0 if its
 * header does not fit in sec. Does not check anything else. */
size_t block__section_len(struct slice sec);

/* ---- index --------------------------------------------------------------------------- */

struct block_ix_partition {
	struct slice service;  /* into block_index.body */
	uint64_t off, len;     /* section in the symbols file */
};

struct block_ix_series {
	struct labels labels;  /* v[] into block_index.label_mem, bytes into body */
	uint32_t partition;
	int64_t min_t, max_t;
	uint64_t n_profiles, n_samples;
	uint64_t off, len;     /* section in the profiles file */
};

struct block_ix_value {
	uint32_t value;        /* string id */
	uint32_t n;            /* series ids ids[0..n), ascending */
	uint32_t *ids;
};

struct block_ix_name {
	uint32_t name;         /* string id */
	struct block_ix_value *values; /* ascending by string (= by id) */
	size_t n_values;
};

/** A parsed index. Everything lives in the index's own allocations. */
struct block_index {
	struct buf body;       /* the decompressed index section */
	char ulid[BLOCK_ULID_LEN + 1];
	struct slice tenant;
	uint32_t meta_crc;     /* CRC32C of the meta.json bytes */
	int64_t min_t, max_t;
	uint64_t n_profiles, n_samples;
	uint64_t symbols_size, profiles_size; /* expected sizes of those files */
	struct block_ix_partition *partitions;
	size_t n_partitions;
	struct slice *strings; /* ascending, unique */
	size_t n_strings;
	struct block_ix_series *series;
	size_t n_series;
	struct label *label_mem;
	struct block_ix_name *names; /* postings, ascending by string */
	size_t n_names;
	uint32_t *posting_mem;
	struct block_ix_value *value_mem;
};

/** Parses and checks a whole index file (header, its one section, every bound). On error
 * returns EMBER_ECORRUPT with "index: <reason>" in err and leaves nothing to free. */
int block__parse_index(struct slice file, struct block_index *out, char *err, size_t errlen) EMBER_WUR;
/** As block__parse_index over an already decompressed index body (no header, no
 * section): for the fuzz target, which cannot forge checksums. */
int block__parse_index_raw(struct slice raw, struct block_index *out, char *err, size_t errlen) EMBER_WUR;
void block__index_release(struct block_index *ix);
/** The posting list of name=value, or NULL. */
const struct block_ix_value *block__postings(const struct block_index *ix, struct slice name,
					     struct slice value);

/* ---- symbols and profiles ------------------------------------------------------------ */

/** Decodes one partition's decompressed symbols section into s (initialised here; free
 * with symbols_release). Only the arrays and strings are filled: the content indexes
 * (idsets) stay empty, so symbols_add_* must not be used on it. Returns 0 or
 * EMBER_ECORRUPT ("symbols: partition <i>: <reason>"). */
int block__parse_symbols(struct slice raw, uint32_t partition, struct symbols *s, char *err,
			 size_t errlen) EMBER_WUR;

/** One series' decoded profiles. */
struct block_series_data {
	size_t n;            /* profiles */
	int64_t *times, *totals;
	uint32_t *counts;    /* samples per profile */
	size_t *starts;      /* first sample of each profile */
	uint32_t *stacks;
	int64_t *values;
	size_t n_samples;
	uint8_t *ids;          /* n x HEAD_ID_LEN (zeros for version 1) */
	uint32_t *span_counts; /* span triples per profile */
	size_t *span_starts;
	uint32_t *span_stacks;
	int64_t *span_values;
	uint64_t *span_ids;
	size_t n_spans;
};

/** Decodes one series' decompressed profiles section; stack ids must be < n_nodes and
 * ascending per profile, times ascending; n_profiles and n_samples are what the index
 * says. Returns 0 or EMBER_ECORRUPT ("profiles: series <i>: <reason>"). */
int block__parse_series(struct slice raw, uint32_t series, uint64_t n_profiles, uint64_t n_samples,
			size_t n_nodes, struct block_series_data *out, char *err, size_t errlen) EMBER_WUR;
/** As block__parse_series (which reads BLOCK_VERSION) for a block of format `version`
 * (BLOCK_MIN_VERSION..BLOCK_VERSION): version 1 has neither the ids nor the span columns. */
int block__parse_series_version(struct slice raw, uint32_t version, uint32_t series, uint64_t n_profiles,
				uint64_t n_samples, size_t n_nodes, struct block_series_data *out, char *err,
				size_t errlen) EMBER_WUR;
void block__series_data_release(struct block_series_data *d);

/* ---- where a block's bytes come from --------------------------------------------------- */

/** How the reader gets a block's files: a local directory (block_open) or objects in a
 * bucket (block_open_remote). Every function may be called from several threads at once;
 * messages in err are "<file>: <reason>". A missing file is EMBER_ECORRUPT (except a
 * missing meta.json in a bucket, EMBER_ENOTFOUND: no such block); other failures are
 * EMBER_EIO. */
struct block_source_io {
	/** The whole file into out (replaced); above max bytes is EMBER_ECORRUPT. */
	int (*read_whole)(void *ctx, const char *file, size_t max, struct buf *out, char *err, size_t errlen);
	/** The file's size in bytes. */
	int (*size)(void *ctx, const char *file, uint64_t *size, char *err, size_t errlen);
	/** Exactly bytes [off, off+len) of the file into out (replaced); fewer is
	 * EMBER_ECORRUPT ("<file>: short read"). */
	int (*read_at)(void *ctx, const char *file, uint64_t off, uint64_t len, struct buf *out, char *err,
		       size_t errlen);
	/** Frees ctx (called once, by block_close or a failed open). */
	void (*close)(void *ctx);
	void *ctx;
};

/** Opens a block whose bytes come through io (its ctx is owned by the block from now on,
 * even on failure); name is what block_path returns. As block_open otherwise. */
int block__open_io(const struct block_source_io *io, const char *name, struct block **out, char *err,
		   size_t errlen) EMBER_WUR;

/** Counters of what a block read from its lazily loaded files (for tests). */
struct block_io_stats {
	size_t symbol_sections, profile_sections; /* sections read and decoded */
	uint64_t profile_bytes;                   /* bytes read from the profiles file */
};
void block__io_stats(struct block *b, struct block_io_stats *out);

/** JSON of a meta (block_meta.c) and ULID helpers. */
bool block__ulid_valid(const char *s, size_t n);

#endif

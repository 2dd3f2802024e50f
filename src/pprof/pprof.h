/* pprof: zero-copy decoder, validation and encoder for google.v1.Profile (the pprof
 * protobuf message, proto/profile.proto).
 *
 * Ownership rule for everything in this header: a decoded profile borrows the input
 * bytes (every string_table entry is a slice into them) and keeps its arrays in the
 * arena passed to pprof_decode. It is valid while both the input buffer and the arena
 * are alive and unchanged. Design notes: docs/internals/pprof.md. */
#ifndef EMBER_PPROF_PPROF_H
#define EMBER_PPROF_PPROF_H

#include "util/arena.h"
#include "util/buf.h"
#include "util/common.h"

/* String fields are indices into string_table (int64, as on the wire). */
struct pprof_value_type {
	int64_t type, unit;
};

struct pprof_label {
	int64_t key, str, num, num_unit;
};

struct pprof_sample {
	uint64_t *location_ids; /* leaf first */
	size_t n_location_ids;
	int64_t *values; /* one per sample_type once validated */
	size_t n_values;
	struct pprof_label *labels;
	size_t n_labels;
};

struct pprof_line {
	uint64_t function_id;
	int64_t line;
};

struct pprof_location {
	uint64_t id, mapping_id, address;
	struct pprof_line *lines; /* innermost (inlined callee) first */
	size_t n_lines;
	bool is_folded;
};

struct pprof_function {
	uint64_t id;
	int64_t name, system_name, filename, start_line;
};

struct pprof_mapping {
	uint64_t id, memory_start, memory_limit, file_offset;
	int64_t filename, build_id;
	bool has_functions, has_filenames, has_line_numbers, has_inline_frames;
};

struct pprof_idpair {
	uint64_t id;
	size_t idx;
};

/* id -> array index lookup. Dense ids (the usual 1..n) use a direct table; sparse ids
 * a sorted array searched in O(log n), so crafted ids cannot make lookups slow. Id 0 is
 * never entered. */
struct pprof_idmap {
	uint32_t *direct; /* dense: direct[id] = index + 1, 0 = absent; n_direct entries */
	size_t n_direct;
	struct pprof_idpair *sorted; /* sparse: ascending ids, first occurrence of each */
	size_t n_sorted;
	uint64_t dup_id; /* first id seen twice (0 = none); pprof_validate rejects it */
};

struct pprof_profile {
	struct pprof_value_type *sample_types;
	size_t n_sample_types;
	struct pprof_sample *samples;
	size_t n_samples;
	struct pprof_mapping *mappings;
	size_t n_mappings;
	struct pprof_location *locations;
	size_t n_locations;
	struct pprof_function *functions;
	size_t n_functions;
	struct slice *strings; /* borrowed from the input buffer */
	size_t n_strings;
	int64_t drop_frames, keep_frames; /* string indices */
	int64_t time_nanos, duration_nanos;
	struct pprof_value_type period_type; /* {0,0} when absent */
	int64_t period;
	int64_t *comments; /* string indices */
	size_t n_comments;
	int64_t default_sample_type; /* string index */

	/* Filled by pprof_resolve (pprof_decode calls it). */
	struct pprof_idmap location_map, function_map, mapping_map;
};

/* Optional caps applied while decoding; 0 in a field means unlimited. The numbers
 * Pyroscope uses by default are in docs/internals/pprof.md. */
struct pprof_limits {
	size_t max_samples;              /* more samples -> EMBER_ETOOBIG */
	size_t max_locations_per_sample; /* deeper stacks are cut to location_ids[n-max..n),
	                                    i.e. the leaf-most frames go (as Pyroscope) */
	size_t max_labels_per_sample;    /* more labels on one sample -> EMBER_ETOOBIG */
	size_t max_string_len;           /* longer strings keep their last bytes (as
	                                    Pyroscope), cut on a UTF-8 character boundary */
};

/** Decodes the pprof bytes `in` (already decompressed) into *out without copying
 * strings, then calls pprof_resolve. Arrays are allocated from `a` with
 * arena_try_alloc. `lim` may be NULL. The result borrows `in` and `a` (see top).
 * Returns 0; EMBER_EINVAL for malformed protobuf (message in err, which is always
 * NUL-terminated when errlen > 0); EMBER_ETOOBIG when a limit is exceeded;
 * EMBER_ENOMEM when the arena refuses an allocation. On error *out is zeroed. Does not
 * check references or strings: call pprof_validate for that. Thread-safe for distinct
 * arenas. */
int pprof_decode(struct slice in, struct arena *a, const struct pprof_limits *lim,
		 struct pprof_profile *out, char *err, size_t errlen) EMBER_WUR;

/** Builds the id -> index maps of locations, functions and mappings (memory from `a`).
 * Needed only for profiles assembled by hand; pprof_decode already does it. Call again
 * after changing ids or arrays. Returns 0 or EMBER_ENOMEM. */
int pprof_resolve(struct pprof_profile *p, struct arena *a) EMBER_WUR;

/** Index of the element with this id in the mapped array, or -1 if absent. */
static inline ptrdiff_t pprof_idmap_find(const struct pprof_idmap *m, uint64_t id)
{
	if (m->direct)
		return id < m->n_direct ? (ptrdiff_t)m->direct[id] - 1 : -1;
	size_t lo = 0, hi = m->n_sorted;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->sorted[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < m->n_sorted && m->sorted[lo].id == id ? (ptrdiff_t)m->sorted[lo].idx : -1;
}

/** The location with this id, or NULL. Pointer borrowed from p. */
static inline const struct pprof_location *pprof_location_by_id(const struct pprof_profile *p,
								 uint64_t id)
{
	ptrdiff_t i = pprof_idmap_find(&p->location_map, id);
	return i < 0 ? NULL : &p->locations[i];
}

/** The function with this id, or NULL. Pointer borrowed from p. */
static inline const struct pprof_function *pprof_function_by_id(const struct pprof_profile *p,
								 uint64_t id)
{
	ptrdiff_t i = pprof_idmap_find(&p->function_map, id);
	return i < 0 ? NULL : &p->functions[i];
}

/** The mapping with this id, or NULL (id 0, "no mapping", is never found). */
static inline const struct pprof_mapping *pprof_mapping_by_id(const struct pprof_profile *p,
							       uint64_t id)
{
	ptrdiff_t i = pprof_idmap_find(&p->mapping_map, id);
	return i < 0 ? NULL : &p->mappings[i];
}

/** String i of the table, or an empty slice when i is out of range. Borrowed. */
static inline struct slice pprof_string(const struct pprof_profile *p, int64_t i)
{
	if (i < 0 || (uint64_t)i >= p->n_strings)
		return slice_make("", 0);
	return p->strings[i];
}

/** Checks a decoded (and resolved) profile against Pyroscope's validation rules:
 * non-empty sample_type without '-' in type names; each sample has one value per sample
 * type; ids of locations, functions and mappings are non-zero and unique; every referenced
 * location, function and mapping id exists (mapping_id 0 = no mapping); every string
 * index is in range; string_table[0] is ""; every string is valid UTF-8.
 * Returns 0 or EMBER_EINVAL with a message such as
 * "invalid profile: sample 12 references unknown location id 99" in err. */
int pprof_validate(const struct pprof_profile *p, char *err, size_t errlen) EMBER_WUR;

/** Appends the protobuf encoding of p to out (caller owns out). Repeated scalars are
 * packed; zero scalars and empty fields are omitted, as proto3 does; string_table is
 * written in full. Needs no resolve and does not validate. */
void pprof_encode(const struct pprof_profile *p, struct buf *out);

/* ---- builder: assemble a profile by hand (tests, small synthetic profiles) ---------- */

/* Arrays grow on the heap; strings are copied into the builder's arena. Strings are
 * de-duplicated; index 0 is always "". */
struct pprof_builder {
	struct arena arena;
	struct pprof_profile prof; /* arrays owned by the builder */
	size_t cap_sample_types, cap_samples, cap_mappings, cap_locations, cap_functions,
		cap_strings, cap_comments;
	uint32_t *str_hash; /* open addressing: string index + 1, 0 = empty */
	size_t str_hash_cap;
};

/** Initialises an empty builder holding only string "" (allocates). */
void pprof_builder_init(struct pprof_builder *b);
/** Frees everything the builder owns, including profiles it handed out. */
void pprof_builder_release(struct pprof_builder *b);
/** Index of a copy of s[0..n) in the string table, adding it if new. */
int64_t pprof_builder_string(struct pprof_builder *b, const char *s, size_t n);
/** pprof_builder_string for a NUL-terminated string. */
int64_t pprof_builder_cstr(struct pprof_builder *b, const char *s);
/** Adds a sample type (type and unit given as strings). */
void pprof_builder_sample_type(struct pprof_builder *b, const char *type, const char *unit);
/** Adds a function with the next free id (1, 2, ...) and returns that id. */
uint64_t pprof_builder_function(struct pprof_builder *b, const char *name,
				const char *filename, int64_t start_line);
/** Adds a mapping with the next free id and returns that id. */
uint64_t pprof_builder_mapping(struct pprof_builder *b, uint64_t start, uint64_t limit,
			       const char *filename);
/** Adds a location with the next free id holding lines[0..n) (copied); returns its id. */
uint64_t pprof_builder_location(struct pprof_builder *b, uint64_t mapping_id,
				uint64_t address, const struct pprof_line *lines, size_t n);
/** Adds a sample; the three arrays are copied. */
void pprof_builder_sample(struct pprof_builder *b, const uint64_t *location_ids, size_t n_loc,
			  const int64_t *values, size_t n_values, const struct pprof_label *labels,
			  size_t n_labels);
/** Resolves and returns the profile built so far; valid until the next builder call
 * that adds to it, or pprof_builder_release. Set scalar fields (period, time_nanos...)
 * directly on the returned profile. */
struct pprof_profile *pprof_builder_profile(struct pprof_builder *b);

#endif

/* symbols: the deduplicated symbol tables of one partition (one service of one tenant):
 * strings, mappings, functions, locations, and the stack tree. Every table hands out
 * dense uint32 ids; id 0 of mappings, functions and locations means "none", node 0 of
 * the stack tree is the root (no location). Not thread-safe: the owner (the head's
 * tenant) serialises writers against readers. */
#ifndef EMBER_STORE_SYMBOLS_H
#define EMBER_STORE_SYMBOLS_H

#include "util/strtab.h"

struct sym_mapping {
	uint64_t memory_start, memory_limit, file_offset;
	uint32_t filename, build_id; /* string ids */
	bool has_functions, has_filenames, has_line_numbers, has_inline_frames;
};

struct sym_function {
	uint32_t name, system_name, filename; /* string ids */
	int64_t start_line;
};

struct sym_line {
	uint32_t function; /* function id */
	int64_t line;
};

struct sym_location {
	uint32_t mapping;    /* mapping id, 0 = none */
	uint64_t address;
	uint32_t first_line; /* index into symbols.lines */
	uint32_t n_lines;    /* lines[first_line..+n), leaf (innermost inline) first */
	bool is_folded;
};

struct stack_node {
	uint32_t parent;   /* node id; the root's parent is itself (0) */
	uint32_t location; /* location id; 0 for the root */
};

struct symbols {
	struct strtab strings;
	struct sym_mapping *mappings;
	size_t n_mappings, cap_mappings;
	struct idset mapping_index;
	struct sym_function *functions;
	size_t n_functions, cap_functions;
	struct idset function_index;
	struct sym_line *lines;
	size_t n_lines, cap_lines;
	struct sym_location *locations;
	size_t n_locations, cap_locations;
	struct idset location_index;
	struct stack_node *nodes;
	size_t n_nodes, cap_nodes;
	struct idset node_index;
};

/** Initialises empty tables (with the reserved id 0 entries). */
void symbols_init(struct symbols *s);
/** Frees everything. */
void symbols_release(struct symbols *s);

/** Ids of an equal entry, adding it if new. Strings inside must already be string ids of s. */
uint32_t symbols_add_mapping(struct symbols *s, const struct sym_mapping *m);
uint32_t symbols_add_function(struct symbols *s, const struct sym_function *f);
/** lines[0..n_lines) are copied; loc->first_line/n_lines are ignored on input. */
uint32_t symbols_add_location(struct symbols *s, const struct sym_location *loc, const struct sym_line *lines,
			      uint32_t n_lines);
/** The node for the call path parent -> location, adding it if new. */
uint32_t symbols_stack_child(struct symbols *s, uint32_t parent, uint32_t location);

/** The display name of function id f: its name, else its system name, else "<unknown>".
 * Borrowed from s. */
struct slice symbols_function_name(const struct symbols *s, uint32_t f);

/** The display name of a location without line information: "<mapping file base
 * name>+0x<file offset>" or "0x<address>", written into tmp[0..cap). */
struct slice symbols_raw_location_name(const struct symbols *s, const struct sym_location *loc, char *tmp,
				       size_t cap);

/** Approximate heap bytes used, for metrics. */
size_t symbols_bytes(const struct symbols *s);

#endif

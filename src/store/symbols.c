#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "store/symbols.h"

void symbols_init(struct symbols *s)
{
	memset(s, 0, sizeof(*s));
	strtab_init(&s->strings);
	idset_init(&s->mapping_index);
	idset_init(&s->function_index);
	idset_init(&s->location_index);
	idset_init(&s->node_index);
	/* Reserved id 0 entries. */
	XGROW(s->mappings, s->cap_mappings, 1);
	memset(&s->mappings[0], 0, sizeof(s->mappings[0]));
	s->n_mappings = 1;
	XGROW(s->functions, s->cap_functions, 1);
	memset(&s->functions[0], 0, sizeof(s->functions[0]));
	s->n_functions = 1;
	XGROW(s->locations, s->cap_locations, 1);
	memset(&s->locations[0], 0, sizeof(s->locations[0]));
	s->n_locations = 1;
	XGROW(s->nodes, s->cap_nodes, 1);
	s->nodes[0].parent = 0;
	s->nodes[0].location = 0;
	s->n_nodes = 1;
}

void symbols_release(struct symbols *s)
{
	strtab_release(&s->strings);
	free(s->mappings);
	free(s->functions);
	free(s->lines);
	free(s->locations);
	free(s->nodes);
	idset_release(&s->mapping_index);
	idset_release(&s->function_index);
	idset_release(&s->location_index);
	idset_release(&s->node_index);
	memset(s, 0, sizeof(*s));
}

/* Equality callbacks compare the candidate id's entry with the probe. Structs are
 * compared field by field (never memcmp: padding is not initialised). */
struct mapping_probe {
	const struct symbols *s;
	const struct sym_mapping *m;
};

static bool mapping_eq(const void *ctx, uint32_t id)
{
	const struct mapping_probe *p = ctx;
	const struct sym_mapping *a = &p->s->mappings[id], *b = p->m;
	return a->memory_start == b->memory_start && a->memory_limit == b->memory_limit &&
	       a->file_offset == b->file_offset && a->filename == b->filename && a->build_id == b->build_id &&
	       a->has_functions == b->has_functions && a->has_filenames == b->has_filenames &&
	       a->has_line_numbers == b->has_line_numbers && a->has_inline_frames == b->has_inline_frames;
}

uint32_t symbols_add_mapping(struct symbols *s, const struct sym_mapping *m)
{
	uint64_t key[6] = {m->memory_start, m->memory_limit, m->file_offset, m->filename, m->build_id,
			   (uint64_t)m->has_functions | (uint64_t)m->has_filenames << 1 |
				   (uint64_t)m->has_line_numbers << 2 | (uint64_t)m->has_inline_frames << 3};
	uint64_t h = XXH3_64bits(key, sizeof(key));
	struct mapping_probe p = {s, m};
	uint32_t id;
	if (idset_find(&s->mapping_index, h, mapping_eq, &p, &id))
		return id;
	id = (uint32_t)s->n_mappings;
	XGROW(s->mappings, s->cap_mappings, s->n_mappings + 1);
	s->mappings[s->n_mappings++] = *m;
	idset_insert(&s->mapping_index, h, id);
	return id;
}

struct function_probe {
	const struct symbols *s;
	const struct sym_function *f;
};

static bool function_eq(const void *ctx, uint32_t id)
{
	const struct function_probe *p = ctx;
	const struct sym_function *a = &p->s->functions[id], *b = p->f;
	return a->name == b->name && a->system_name == b->system_name && a->filename == b->filename &&
	       a->start_line == b->start_line;
}

uint32_t symbols_add_function(struct symbols *s, const struct sym_function *f)
{
	uint64_t key[4] = {f->name, f->system_name, f->filename, (uint64_t)f->start_line};
	uint64_t h = XXH3_64bits(key, sizeof(key));
	struct function_probe p = {s, f};
	uint32_t id;
	if (idset_find(&s->function_index, h, function_eq, &p, &id))
		return id;
	id = (uint32_t)s->n_functions;
	XGROW(s->functions, s->cap_functions, s->n_functions + 1);
	s->functions[s->n_functions++] = *f;
	idset_insert(&s->function_index, h, id);
	return id;
}

struct location_probe {
	const struct symbols *s;
	const struct sym_location *loc;
	const struct sym_line *lines;
	uint32_t n_lines;
};

static bool location_eq(const void *ctx, uint32_t id)
{
	const struct location_probe *p = ctx;
	const struct sym_location *a = &p->s->locations[id];
	if (a->mapping != p->loc->mapping || a->address != p->loc->address || a->is_folded != p->loc->is_folded ||
	    a->n_lines != p->n_lines)
		return false;
	for (uint32_t i = 0; i < p->n_lines; i++) {
		const struct sym_line *x = &p->s->lines[a->first_line + i];
		if (x->function != p->lines[i].function || x->line != p->lines[i].line)
			return false;
	}
	return true;
}

uint32_t symbols_add_location(struct symbols *s, const struct sym_location *loc, const struct sym_line *lines,
			      uint32_t n_lines)
{
	XXH3_state_t st;
	XXH3_64bits_reset(&st);
	uint64_t head[4] = {loc->mapping, loc->address, loc->is_folded, n_lines};
	XXH3_64bits_update(&st, head, sizeof(head));
	for (uint32_t i = 0; i < n_lines; i++) {
		uint64_t l[2] = {lines[i].function, (uint64_t)lines[i].line};
		XXH3_64bits_update(&st, l, sizeof(l));
	}
	uint64_t h = XXH3_64bits_digest(&st);
	struct location_probe p = {s, loc, lines, n_lines};
	uint32_t id;
	if (idset_find(&s->location_index, h, location_eq, &p, &id))
		return id;
	XGROW(s->lines, s->cap_lines, s->n_lines + n_lines);
	struct sym_location stored = *loc;
	stored.first_line = (uint32_t)s->n_lines;
	stored.n_lines = n_lines;
	if (n_lines)
		memcpy(&s->lines[s->n_lines], lines, n_lines * sizeof(*lines));
	s->n_lines += n_lines;
	id = (uint32_t)s->n_locations;
	XGROW(s->locations, s->cap_locations, s->n_locations + 1);
	s->locations[s->n_locations++] = stored;
	idset_insert(&s->location_index, h, id);
	return id;
}

uint32_t symbols_stack_child(struct symbols *s, uint32_t parent, uint32_t location)
{
	/* (parent, location) packed is the exact key: no equality callback needed
	 * beyond the hash, as long as the hash is the key itself. */
	uint64_t key = (uint64_t)parent << 32 | location;
	uint32_t id;
	if (idset_find(&s->node_index, key, NULL, NULL, &id))
		return id;
	id = (uint32_t)s->n_nodes;
	XGROW(s->nodes, s->cap_nodes, s->n_nodes + 1);
	s->nodes[s->n_nodes].parent = parent;
	s->nodes[s->n_nodes].location = location;
	s->n_nodes++;
	idset_insert(&s->node_index, key, id);
	return id;
}

struct slice symbols_function_name(const struct symbols *s, uint32_t f)
{
	struct slice name = strtab_get(&s->strings, s->functions[f].name);
	if (!name.n)
		name = strtab_get(&s->strings, s->functions[f].system_name);
	return name.n ? name : slice_cstr("<unknown>");
}

struct slice symbols_raw_location_name(const struct symbols *s, const struct sym_location *loc, char *tmp,
				       size_t cap)
{
	const struct sym_mapping *m = loc->mapping ? &s->mappings[loc->mapping] : NULL;
	struct slice file = m ? strtab_get(&s->strings, m->filename) : slice_make("", 0);
	if (file.n) {
		/* The base name: "libc.so.6+0x1234" reads better than a full path. */
		for (size_t i = file.n; i > 0; i--) {
			if (file.p[i - 1] == '/') {
				file.p += i;
				file.n -= i;
				break;
			}
		}
		uint64_t off = loc->address >= m->memory_start ? loc->address - m->memory_start + m->file_offset
							       : loc->address;
		snprintf(tmp, cap, "%.*s+0x%llx", (int)EMBER_MIN(file.n, 400), (const char *)file.p,
			 (unsigned long long)off);
	} else {
		snprintf(tmp, cap, "0x%llx", (unsigned long long)loc->address);
	}
	return slice_cstr(tmp);
}

size_t symbols_bytes(const struct symbols *s)
{
	return s->strings.bytes + s->strings.cap * sizeof(struct slice) + s->cap_mappings * sizeof(*s->mappings) +
	       s->cap_functions * sizeof(*s->functions) + s->cap_lines * sizeof(*s->lines) +
	       s->cap_locations * sizeof(*s->locations) + s->cap_nodes * sizeof(*s->nodes) +
	       (s->mapping_index.cap + s->function_index.cap + s->location_index.cap + s->node_index.cap +
		s->strings.index.cap) *
		       12;
}

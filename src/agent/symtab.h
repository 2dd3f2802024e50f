/* symtab: a sorted address -> name table shared by the ELF, perf-map and kallsyms
 * readers of the symbolizer. Names are copied into one growing buffer owned by the
 * table; lookups are binary searches. */
#ifndef EMBER_AGENT_SYMTAB_H
#define EMBER_AGENT_SYMTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct symtab_entry {
	uint64_t addr;
	uint64_t size;   /* 0 = unknown: the symbol runs to the next one */
	uint32_t name;   /* offset into symtab.names */
	uint32_t aux;    /* reader-specific (kallsyms: module name offset + 1, 0 = vmlinux) */
};

struct symtab {
	struct symtab_entry *e;
	size_t n, cap;
	char *names;
	size_t names_len, names_cap;
	bool sorted;
};

/** Caps: a table never holds more than this many entries or name bytes. */
#define SYMTAB_MAX_ENTRIES (8u << 20)
#define SYMTAB_MAX_NAMES (256u << 20)

void symtab_init(struct symtab *t);
void symtab_release(struct symtab *t);

/** Copies name (len bytes, need not be NUL-terminated) into the table's name buffer and
 * returns its offset; EMBER_ETOOBIG (negative) when the caps are reached. */
int64_t symtab_add_name(struct symtab *t, const char *name, size_t len);

/** Adds a symbol (name copied). Returns 0 or EMBER_ETOOBIG past the caps. */
int symtab_add(struct symtab *t, uint64_t addr, uint64_t size, const char *name, size_t len,
	       uint32_t aux) __attribute__((warn_unused_result));

/** Sorts by address (stable on equal addresses: first added wins on lookup) and
 * removes exact duplicates of (addr, name). Call after the last symtab_add. */
void symtab_finish(struct symtab *t);

/** The symbol covering addr, or NULL. A sized symbol covers [addr, addr+size); an
 * unsized one covers up to the next symbol's address (the last one: up to max_unsized
 * bytes past its address). The pointer is valid until the next symtab_add/release. */
const struct symtab_entry *symtab_lookup(const struct symtab *t, uint64_t addr,
					 uint64_t max_unsized);

/** The entry's NUL-terminated name; valid as long as the table. */
static inline const char *symtab_name(const struct symtab *t, const struct symtab_entry *e)
{
	return t->names + e->name;
}

#endif

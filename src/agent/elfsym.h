/* elfsym: one parsed ELF file of the symbolizer's shared cache: its build-id, PT_LOAD
 * segments (to turn file offsets into virtual addresses), function symbols from
 * .symtab and .dynsym (libelf), and DWARF file:line and inline chains (libdw's dwfl),
 * opened once and shared by every process that maps the file. */
#ifndef EMBER_AGENT_ELFSYM_H
#define EMBER_AGENT_ELFSYM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/symbolize.h"

struct elfsym;

/** Opens and parses the ELF file at path (function symbols, build-id, segments; DWARF
 * attached lazily unless no_dwarf). The file may be unlinked afterwards: the fd is kept.
 * Returns 0 and *out (caller frees with elfsym_free), EMBER_ENOTFOUND, EMBER_EIO, or
 * EMBER_EINVAL when the file is not a readable ELF file. */
int elfsym_open(const char *path, bool no_dwarf, bool no_demangle, struct elfsym **out)
	__attribute__((warn_unused_result));

void elfsym_free(struct elfsym *e);

/** Lower-case hex build-id ("" when the file has none); valid as long as e. */
const char *elfsym_build_id(const struct elfsym *e);

/** Translates a file offset of a mapped page into the ELF virtual address through the
 * PT_LOAD segment containing it (for ET_EXEC and ET_DYN alike). False when no segment
 * holds the offset. */
bool elfsym_offset_to_vaddr(const struct elfsym *e, uint64_t file_off, uint64_t *vaddr);

/** Resolves a virtual address into frames, innermost inlined function first (DWARF),
 * outermost last; names demangled. Sets module_offset = vaddr, module untouched.
 * Returns the number of frames written (>= 1; a single unknown frame when no symbol
 * covers vaddr). Strings are owned by e. */
size_t elfsym_lookup(struct elfsym *e, uint64_t vaddr, struct sym_frame *out, size_t max);

/** Number of function symbols (tests, stats). */
size_t elfsym_count(const struct elfsym *e);

/** Demangles a C++ (_Z), Rust legacy (_ZN...17h<hash>E, hash stripped) or Rust v0 (_R)
 * name into a new heap string (caller frees), or NULL when name is not mangled. */
char *symbolize_demangle(const char *name);

#endif

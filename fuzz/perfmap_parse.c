/* Fuzz target: perf-map and kallsyms text parsers (agent/perfmap.c) and lookups. */
#include <stddef.h>
#include <stdint.h>

#include "agent/perfmap.h"
#include "agent/symtab.h"
#include "util/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct symtab t;
	symtab_init(&t);
	size_t bad = 0;
	if (perfmap_parse(slice_make(data, size), &t, &bad) == 0) {
		for (size_t i = 0; i < t.n; i++) {
			const struct symtab_entry *e = symtab_lookup(&t, t.e[i].addr, 1);
			if (!e || e->addr != t.e[i].addr)
				__builtin_trap();
			(void)strlen(symtab_name(&t, e));
		}
	}
	symtab_release(&t);
	symtab_init(&t);
	if (kallsyms_parse(slice_make(data, size), &t) == 0 && t.n)
		(void)symtab_lookup(&t, t.e[t.n - 1].addr + 7, 1u << 20);
	symtab_release(&t);
	return 0;
}

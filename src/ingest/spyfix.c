#include "ingest/spyfix.h"
#include "util/strtab.h"

bool spyfix_is_scripting(struct slice spy)
{
	return slice_eq_cstr(spy, "pyspy") || slice_eq_cstr(spy, "rbspy") || slice_eq_cstr(spy, "scripting");
}

/* Copies the string table into the arena with room for `extra` more entries. */
static int grow_strings(struct pprof_profile *p, struct arena *a, size_t extra)
{
	struct slice *s = arena_try_alloc(a, (p->n_strings + extra + 1) * sizeof(*s));
	if (!s)
		return EMBER_ENOMEM;
	if (p->n_strings)
		memcpy(s, p->strings, p->n_strings * sizeof(*s));
	p->strings = s;
	return 0;
}

int spyfix_scripting_names(struct pprof_profile *p, struct arena *a, bool pyspy)
{
	int rc = EMBER_ENOMEM;
	size_t n_lines = 0;
	for (size_t i = 0; i < p->n_locations; i++)
		n_lines += p->locations[i].n_lines;
	if (!n_lines)
		return 0;
	struct strtab names; /* new name -> index of its function in fns (id - 1 - max_id) */
	strtab_init(&names);
	struct pprof_function *fns = arena_try_alloc(a, (p->n_functions + n_lines) * sizeof(*fns));
	if (!fns || grow_strings(p, a, n_lines))
		goto out;
	if (p->n_functions)
		memcpy(fns, p->functions, p->n_functions * sizeof(*fns));
	size_t n_fns = p->n_functions;
	uint64_t max_id = 0;
	for (size_t i = 0; i < p->n_functions; i++)
		if (p->functions[i].id > max_id)
			max_id = p->functions[i].id;
	uint64_t first_new = max_id + 1;
	for (size_t i = 0; i < p->n_locations; i++) {
		for (size_t k = 0; k < p->locations[i].n_lines; k++) {
			struct pprof_line *line = &p->locations[i].lines[k];
			const struct pprof_function *fn = pprof_function_by_id(p, line->function_id);
			if (!fn)
				continue; /* validation reports it */
			struct slice file = pprof_string(p, fn->filename), name = pprof_string(p, fn->name);
			if (pyspy && file.n && file.p[0] == '/')
				continue;
			size_t len = file.n + 1 + name.n;
			char *full = arena_try_alloc(a, len + 1);
			if (!full)
				goto out;
			memcpy(full, file.p, file.n);
			full[file.n] = ' ';
			memcpy(full + file.n + 1, name.p, name.n);
			full[len] = '\0';
			size_t before = names.n;
			uint32_t id = strtab_intern(&names, slice_make(full, len));
			if (names.n != before) {
				struct pprof_function *nf = &fns[n_fns++];
				*nf = *fn;
				nf->id = first_new + (id - 1);
				nf->name = (int64_t)p->n_strings;
				p->strings[p->n_strings++] = slice_make(full, len);
			}
			line->function_id = first_new + (id - 1);
		}
	}
	p->functions = fns;
	p->n_functions = n_fns;
	rc = pprof_resolve(p, a);
out:
	strtab_release(&names);
	return rc;
}

int spyfix_dotnet(struct pprof_profile *p, struct arena *a)
{
	bool all_zero = p->n_functions > 0;
	for (size_t i = 0; i < p->n_functions && all_zero; i++)
		all_zero = p->functions[i].id == 0;
	if (all_zero && p->n_functions == p->n_locations)
		for (size_t i = 0; i < p->n_locations; i++)
			p->functions[i].id = p->locations[i].id;
	if (grow_strings(p, a, p->n_sample_types))
		return EMBER_ENOMEM;
	for (size_t i = 0; i < p->n_sample_types; i++) {
		struct slice t = pprof_string(p, p->sample_types[i].type);
		if (!memchr(t.p, '-', t.n))
			continue;
		char *fixed = arena_try_alloc(a, t.n + 1);
		if (!fixed)
			return EMBER_ENOMEM;
		for (size_t k = 0; k < t.n; k++)
			fixed[k] = t.p[k] == '-' ? '_' : (char)t.p[k];
		p->sample_types[i].type = (int64_t)p->n_strings;
		p->strings[p->n_strings++] = slice_make(fixed, t.n);
	}
	return pprof_resolve(p, a);
}

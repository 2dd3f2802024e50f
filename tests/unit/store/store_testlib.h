/* Helpers shared by the store's unit tests (block_test.c, compact_test.c): naming stack
 * paths, selectors, and scratch directories. Static functions: each test program is one
 * translation unit. */
#ifndef EMBER_TESTS_STORE_TESTLIB_H
#define EMBER_TESTS_STORE_TESTLIB_H

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#include "model/selector.h"
#include "store/symbols.h"
#include "util/buf.h"

static void stack_names(const struct symbols *s, uint32_t node, struct buf *out)
{
	/* Root first: collect the nodes leaf first, then walk backwards. */
	uint32_t path[64];
	size_t d = 0;
	for (; node && d < 64; node = s->nodes[node].parent)
		path[d++] = node;
	for (size_t i = d; i > 0; i--) {
		const struct sym_location *l = &s->locations[s->nodes[path[i - 1]].location];
		if (!l->n_lines)
			buf_printf(out, "%s0x%llx", i == d ? "" : ";", (unsigned long long)l->address);
		for (uint32_t k = l->n_lines; k > 0; k--) {
			struct slice nm = strtab_get(&s->strings, s->functions[s->lines[l->first_line + k - 1].function].name);
			buf_printf(out, "%s%.*s:%lld", i == d && k == l->n_lines ? "" : ";", (int)nm.n, (const char *)nm.p,
				   (long long)s->lines[l->first_line + k - 1].line);
		}
	}
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static struct selector *sel(const char *s)
{
	struct selector *out;
	char err[128];
	assert_int_equal(selector_parse(slice_cstr(s), &out, err, sizeof(err)), 0);
	return out;
}

static void rm_rf(const char *path)
{
	DIR *d = opendir(path);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char p[4096];
			snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
			rm_rf(p);
		}
		closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

/* A new empty directory /tmp/<prefix>-XXXXXX (caller frees the path). */
static char *test_tmpdir(const char *prefix)
{
	char *tmpl = xasprintf("/tmp/%s-XXXXXX", prefix);
	assert_non_null(mkdtemp(tmpl));
	return tmpl;
}

#endif

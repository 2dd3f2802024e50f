/* Fuzz target: arbitrary bytes as the content of each block file, through the same parse
 * entry points block_open / block_select_profiles / block_verify use. The first byte picks
 * what the rest is:
 *   0  meta.json                  block_meta_parse, then format + parse again
 *   1  index file                 block__parse_index, then postings and label lookups
 *   2  symbols file               header check, then every section decoded as a partition
 *   3  profiles file              header, then every section decoded as a series; the file
 *                                 is preceded by u16 n_samples, u16 n_nodes (LE)
 *   4  raw partition body         block__parse_symbols (no framing, no checksum)
 *   5  raw series body            block__parse_series, preceded by u16 n_samples, u16 n_nodes
 *   6  raw index body             block__parse_index_raw, then as 1
 * Nothing may crash, leak or read out of bounds; what parses must be self-consistent. */
#include <stdint.h>
#include <stdlib.h>

#include "store/block_internal.h"

static void touch_symbols(const struct symbols *s)
{
	/* Every id the parser accepted must index its table (ASan catches any that does not). */
	volatile uint64_t sink = 0;
	for (size_t i = 0; i < s->n_nodes; i++) {
		if (s->nodes[i].parent > i)
			abort();
		const struct sym_location *l = &s->locations[s->nodes[i].location];
		for (uint32_t k = 0; k < l->n_lines; k++) {
			const struct sym_function *f = &s->functions[s->lines[l->first_line + k].function];
			sink += strtab_get(&s->strings, f->name).n;
		}
		sink += s->mappings[l->mapping].memory_start + strtab_get(&s->strings, s->mappings[l->mapping].filename).n;
	}
	(void)sink;
}

static void series(struct slice raw, uint32_t n_samples, uint32_t n_nodes)
{
	/* The profile count is whatever the body says first (the index would say it). */
	struct block_rd r = {raw.p, raw.p + raw.n, NULL};
	uint64_t n_profiles = block__get_uvarint(&r);
	struct block_series_data d;
	char err[256];
	if (block__parse_series(raw, 0, n_profiles, n_samples, n_nodes, &d, err, sizeof(err)) == 0) {
		size_t total = 0;
		for (size_t i = 0; i < d.n; i++) {
			if (i && d.times[i] < d.times[i - 1])
				abort();
			for (uint32_t k = 0; k < d.counts[i]; k++) {
				uint32_t st = d.stacks[d.starts[i] + k];
				if (st >= n_nodes || (k && st <= d.stacks[d.starts[i] + k - 1]))
					abort();
			}
			total += d.counts[i];
		}
		if (total != n_samples)
			abort();
		block__series_data_release(&d);
	} else if (strncmp(err, "profiles: ", 10) != 0) {
		abort();
	}
}

static void sections(struct slice file, const char *name, const char *magic, uint32_t n_samples, uint32_t n_nodes)
{
	char err[256];
	if (block__check_file_header(file, name, magic, err, sizeof(err)) != 0)
		return;
	size_t pos = BLOCK_FILE_HEADER;
	struct buf raw = BUF_INIT;
	while (pos < file.n) {
		struct slice rest = slice_make(file.p + pos, file.n - pos);
		size_t len = block__section_len(rest);
		if (len == 0 || len > rest.n)
			break;
		if (block__read_section(slice_make(rest.p, len), name, "section", &raw, err, sizeof(err)) != 0)
			break;
		if (magic[5] == 'S') { /* EMBERSYM */
			struct symbols s;
			if (block__parse_symbols(slice_make(raw.p, raw.n), 0, &s, err, sizeof(err)) == 0) {
				touch_symbols(&s);
				symbols_release(&s);
			}
		} else {
			series(slice_make(raw.p, raw.n), n_samples, n_nodes);
		}
		pos += len;
	}
	buf_release(&raw);
}

static void index_file(struct slice file, bool raw)
{
	struct block_index ix;
	char err[256];
	int rc = raw ? block__parse_index_raw(file, &ix, err, sizeof(err))
		     : block__parse_index(file, &ix, err, sizeof(err));
	if (rc != 0) {
		if (strncmp(err, "index: ", 7) != 0)
			abort();
		return;
	}
	for (size_t i = 0; i < ix.n_series; i++) {
		const struct block_ix_series *s = &ix.series[i];
		if (s->partition >= ix.n_partitions || s->min_t > s->max_t || s->min_t < ix.min_t || s->max_t > ix.max_t)
			abort();
		for (size_t k = 0; k < s->labels.n; k++) {
			if (k && slice_cmp(s->labels.v[k - 1].name, s->labels.v[k].name) >= 0)
				abort(); /* sorted, unique names */
			const struct block_ix_value *v = block__postings(&ix, s->labels.v[k].name, s->labels.v[k].value);
			if (v && v->n == 0)
				abort();
		}
	}
	for (size_t i = 0; i < ix.n_names; i++)
		for (size_t k = 0; k < ix.names[i].n_values; k++) {
			const struct block_ix_value *v = &ix.names[i].values[k];
			for (uint32_t q = 0; q < v->n; q++)
				if (v->ids[q] >= ix.n_series || (q && v->ids[q] <= v->ids[q - 1]))
					abort();
			if (block__postings(&ix, ix.strings[ix.names[i].name], ix.strings[v->value]) != v)
				abort();
		}
	block__index_release(&ix);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	/* A private copy sized exactly, so ASan catches any read past the end. */
	uint8_t *copy = malloc(size);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	uint8_t mode = copy[0] % 7;
	struct slice in = slice_make(copy + 1, size - 1);
	uint32_t n_samples = 0, n_nodes = 0;
	if (mode == 3 || mode == 5) {
		if (in.n < 4)
			goto out;
		n_samples = (uint32_t)in.p[0] | (uint32_t)in.p[1] << 8;
		n_nodes = (uint32_t)in.p[2] | (uint32_t)in.p[3] << 8;
		in.p += 4;
		in.n -= 4;
	}
	char err[256];
	switch (mode) {
	case 0: {
		struct block_meta m;
		if (block_meta_parse(in, &m, err, sizeof(err)) == 0) {
			struct buf b = BUF_INIT;
			block_meta_format(&m, &b);
			struct block_meta m2;
			if (block_meta_parse(slice_make(b.p, b.n), &m2, err, sizeof(err)) != 0 || m2.n_sources != m.n_sources ||
			    m2.min_time_ns != m.min_time_ns || strcmp(m2.tenant, m.tenant) != 0)
				abort();
			block_meta_release(&m2);
			block_meta_release(&m);
			buf_release(&b);
		}
		break;
	}
	case 1:
	case 6:
		index_file(in, mode == 6);
		break;
	case 2:
		sections(in, "symbols", BLOCK_MAGIC_SYMBOLS, 0, 0);
		break;
	case 3:
		sections(in, "profiles", BLOCK_MAGIC_PROFILES, n_samples, n_nodes);
		break;
	case 4: {
		struct symbols s;
		if (block__parse_symbols(in, 0, &s, err, sizeof(err)) == 0) {
			touch_symbols(&s);
			symbols_release(&s);
		}
		break;
	}
	case 5:
		series(in, n_samples, n_nodes);
		break;
	}
out:
	free(copy);
	return 0;
}

/* Unit tests of src/store/compact.c and compact_plan.c: merging overlapping blocks with
 * duplicate profiles keeps each profile once, the merged symbols are deduplicated and
 * trimmed, and every query over the compacted block sees exactly what a head holding the
 * expected (distinct) profiles sees; the planner's overlap, range and premature rules. */
#include <dirent.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#include "ingest/plan.h"
#include "model/selector.h"
#include "query/ftree.h"
#include "store/block.h"
#include "store/compact.h"
#include "store/compact_plan.h"
#include "store/marks.h"
#include "store/store.h"

#include "store_testlib.h"

static const char *TYPE = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
static const struct head_range ALL = {INT64_MIN, -1};

/* ---- building a head ------------------------------------------------------------------ */

struct stack_spec {
	const char *frames[5]; /* root first; "0x..." makes an unsymbolised location */
	int64_t value;
};

static struct pprof_profile *make_profile(struct pprof_builder *b, const struct stack_spec *st, size_t n)
{
	pprof_builder_init(b);
	pprof_builder_sample_type(b, "cpu", "nanoseconds");
	uint64_t map = pprof_builder_mapping(b, 0x1000, 0x9000, "/usr/lib/libfoo.so");
	for (size_t i = 0; i < n; i++) {
		uint64_t locs[5];
		size_t d = 0;
		while (d < 5 && st[i].frames[d])
			d++;
		for (size_t k = 0; k < d; k++) {
			const char *f = st[i].frames[k];
			if (f[0] == '0' && f[1] == 'x') {
				locs[d - 1 - k] = pprof_builder_location(b, map, strtoull(f, NULL, 16), NULL, 0);
			} else if (strchr(f, '+')) { /* "outer+inner": one location, inner inlined */
				char outer[32];
				snprintf(outer, sizeof(outer), "%.*s", (int)(strchr(f, '+') - f), f);
				struct pprof_line lines[2] = {{pprof_builder_function(b, strchr(f, '+') + 1, "i.c", 3), 4},
							      {pprof_builder_function(b, outer, "o.c", 1), 2}};
				locs[d - 1 - k] = pprof_builder_location(b, 0, 0, lines, 2);
			} else {
				struct pprof_line line = {pprof_builder_function(b, f, "f.c", 7), 8 + (int64_t)k};
				locs[d - 1 - k] = pprof_builder_location(b, 0, 0, &line, 1); /* leaf first */
			}
		}
		pprof_builder_sample(b, locs, d, &st[i].value, 1, NULL, 0);
	}
	return pprof_builder_profile(b);
}

static void add(struct head *h, const char *tenant, const char *service, const char *pod,
		const struct stack_spec *st, size_t n, int64_t t)
{
	struct arena a;
	arena_init(&a, 0);
	struct labels ls = {0};
	labels_set(&ls, &a, slice_cstr("__name__"), slice_cstr("process_cpu"));
	labels_set(&ls, &a, slice_cstr("__profile_type__"), slice_cstr(TYPE));
	labels_set(&ls, &a, slice_cstr("service_name"), slice_cstr(service));
	labels_set(&ls, &a, slice_cstr("pod"), slice_cstr(pod));
	labels_sort(&ls);
	struct pprof_builder b;
	struct pprof_profile *p = make_profile(&b, st, n);
	uint32_t idx[16];
	for (size_t i = 0; i < p->n_samples; i++)
		idx[i] = (uint32_t)i;
	struct head_append_item it = {.labels = &ls, .time_ns = t, .samples = idx, .n_samples = p->n_samples, .scale = 1};
	assert_int_equal(head_append(h, slice_cstr(tenant), p, &it, 1), 0);
	pprof_builder_release(&b);
	arena_release(&a);
}

/* ---- a canonical rendering of what a query sees ---------------------------------------- */

struct render {
	char **lines;
	size_t n, cap;
	struct ftree tree;
};




/* One profile as a line: labels, time, total, then its samples by stack path (node ids
 * differ between a head and a compacted block, so samples are sorted by their names). */
static void on_view(void *ctx, const struct head_profile_view *v)
{
	struct render *r = ctx;
	struct buf b = BUF_INIT;
	labels_format(v->labels, &b);
	buf_printf(&b, " t=%lld total=%lld:", (long long)v->time_ns, (long long)v->total);
	int64_t sum = 0;
	char **samples = xcalloc(v->n + 1, sizeof(char *));
	for (size_t i = 0; i < v->n; i++) {
		assert_true(v->stacks[i] < v->syms->n_nodes);
		if (i)
			assert_true(v->stacks[i - 1] < v->stacks[i]);
		struct buf sb = BUF_INIT;
		buf_append_cstr(&sb, " [");
		stack_names(v->syms, v->stacks[i], &sb);
		buf_printf(&sb, "]=%lld", (long long)v->values[i]);
		samples[i] = xstrdup(buf_cstr(&sb));
		buf_release(&sb);
		sum += v->values[i];
	}
	qsort(samples, v->n, sizeof(char *), str_cmp);
	for (size_t i = 0; i < v->n; i++) {
		buf_append_cstr(&b, samples[i]);
		free(samples[i]);
	}
	free(samples);
	assert_int_equal(sum, v->total);
	XGROW(r->lines, r->cap, r->n + 1);
	r->lines[r->n++] = xstrdup(buf_cstr(&b));
	buf_release(&b);
	/* The query code on the views, as merge does per partition. */
	struct merge_partition mp = {v->syms, v->stacks, v->values, v->n};
	ftree_add_partition(&r->tree, &mp);
}

static void on_done(void *ctx)
{
	struct render *r = ctx;
	XGROW(r->lines, r->cap, r->n + 1);
	r->lines[r->n++] = xstrdup("~done");
}

static void render_init(struct render *r)
{
	memset(r, 0, sizeof(*r));
	ftree_init(&r->tree);
}

/* Sorted lines plus the function tree, one string. */
static char *render_finish(struct render *r)
{
	/* Tree nodes by path (node ids depend on visiting order, which may differ). */
	ftree_finish(&r->tree);
	for (size_t i = 0; i < r->tree.n; i++) {
		struct buf nb = BUF_INIT;
		buf_append_cstr(&nb, "node");
		uint32_t path[64];
		size_t d = 0;
		for (uint32_t k = (uint32_t)i; k && d < 64; k = r->tree.nodes[k].parent)
			path[d++] = k;
		for (size_t k = d; k > 0; k--) {
			struct slice nm = ftree_name(&r->tree, path[k - 1]);
			buf_printf(&nb, "/%.*s", (int)nm.n, (const char *)nm.p);
		}
		buf_printf(&nb, " self=%lld total=%lld", (long long)r->tree.nodes[i].self,
			   (long long)r->tree.nodes[i].total);
		XGROW(r->lines, r->cap, r->n + 1);
		r->lines[r->n++] = xstrdup(buf_cstr(&nb));
		buf_release(&nb);
	}
	ftree_release(&r->tree);
	qsort(r->lines, r->n, sizeof(char *), str_cmp);
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < r->n; i++) {
		buf_printf(&b, "%s\n", r->lines[i]);
		free(r->lines[i]);
	}
	free(r->lines);
	char *s = xstrdup(buf_cstr(&b));
	buf_release(&b);
	return s;
}


/* ---- temp dirs -------------------------------------------------------------------------- */


static char *tmpdir(void)
{
	return test_tmpdir("ember-compact-test");
}

static char *query_head(struct head *h, const char *tenant, const struct selector *const *sels, size_t n,
			struct head_range r, size_t *count)
{
	struct render rd;
	render_init(&rd);
	*count = head_select_profiles_locked(h, slice_cstr(tenant), sels, n, r, on_view, on_done, &rd);
	return render_finish(&rd);
}

static char *query_block(struct block *b, const struct selector *const *sels, size_t n, struct head_range r,
			 long *count)
{
	struct render rd;
	render_init(&rd);
	char err[256] = "";
	*count = block_select_profiles(b, sels, n, r, on_view, on_done, &rd, err, sizeof(err));
	if (*count < 0)
		fail_msg("block_select_profiles: %s", err);
	return render_finish(&rd);
}

/* ---- merging ---------------------------------------------------------------------------- */

static const struct stack_spec S1[] = {
	{{"main", "work", "spin", NULL}, 30},
	{{"main", "work", NULL}, 5},
	{{"main", "0x4000", NULL}, 7},
	{{"main", "work", "hot+inl", NULL}, 11},
};
static const struct stack_spec S2[] = {
	{{"main", "serve", "read", NULL}, 100},
	{{"main", "serve", "write", "0x5000", NULL}, 40},
	{{"main", "work", "spin", NULL}, 1},
};
static const struct stack_spec S3[] = {
	{{"loop", NULL}, 3},
};

static struct head *new_head(void)
{
	struct head_limits lim = {.max_stack_depth = 1000, .max_symbol_len = 65535};
	return head_new(&lim);
}

/* Writes the t1 block of h with the given WAL segment; opens it. */
static struct block *block_of(struct head *h, const char *dir, uint64_t wal_segment)
{
	struct head_snapshot *snap;
	assert_int_equal(head_snapshot(h, slice_cstr("t1"), INT64_MIN, INT64_MAX, &snap), 0);
	struct block_source src = *head_snapshot_source(snap);
	src.wal_segment = wal_segment;
	struct block_meta meta;
	char err[256] = "";
	if (block_write(dir, &src, &meta, err, sizeof(err)))
		fail_msg("block_write: %s", err);
	head_snapshot_free(snap);
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, meta.ulid);
	block_meta_release(&meta);
	struct block *b;
	if (block_open(path, &b, err, sizeof(err)))
		fail_msg("block_open: %s", err);
	return b;
}

static struct block *compact(struct block *const *srcs, size_t n, const char *dir, struct compact_stats *cs)
{
	struct compact_options o = {.dir = dir};
	struct block_meta meta;
	char err[256] = "";
	if (compact_blocks(srcs, n, &o, &meta, cs, err, sizeof(err)))
		fail_msg("compact_blocks: %s", err);
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, meta.ulid);
	block_meta_release(&meta);
	struct block *b;
	if (block_verify(path, err, sizeof(err)) || block_open(path, &b, err, sizeof(err)))
		fail_msg("compacted block: %s", err);
	return b;
}

static void check_same(struct head *expect, struct block *b, const char *selector, struct head_range r)
{
	struct selector *s = selector ? sel(selector) : NULL;
	const struct selector *const sels[1] = {s};
	size_t hn;
	long bn;
	char *want = query_head(expect, "t1", sels, s ? 1 : 0, r, &hn);
	char *got = query_block(b, sels, s ? 1 : 0, r, &bn);
	if (strcmp(got, want) != 0) {
		/* cmocka cuts long messages: leave both renderings for a diff. */
		FILE *f = fopen("/tmp/ember-compact-test.got", "w");
		if (f) {
			fputs(got, f);
			fclose(f);
		}
		f = fopen("/tmp/ember-compact-test.want", "w");
		if (f) {
			fputs(want, f);
			fclose(f);
		}
		fail_msg("%s: the compacted block answers differently (see /tmp/ember-compact-test.{got,want})",
			 selector ? selector : "{}");
	}
	assert_int_equal((long)hn, bn);
	free(want);
	free(got);
	selector_free(s);
}

/* Per partition: every function, location and node is distinct by content, and every
 * node is on the path of some kept stack (the merge copies only what is used). */
struct sym_check {
	size_t partitions_seen[8];
	uint8_t *used[8];
	const struct symbols *syms[8];
	size_t n_parts;
};

static int check_scan(void *ctx, const struct block_scan_series *s)
{
	struct sym_check *c = ctx;
	assert_true(s->partition < 8);
	if (!c->syms[s->partition]) {
		c->syms[s->partition] = s->syms;
		c->used[s->partition] = calloc(s->syms->n_nodes, 1);
		c->n_parts = EMBER_MAX(c->n_parts, s->partition + 1);
	}
	assert_ptr_equal(c->syms[s->partition], s->syms);
	for (size_t k = 0; k < s->n_profiles; k++)
		for (uint32_t q = 0; q < s->counts[k]; q++)
			for (uint32_t x = s->stacks[s->starts[k] + q]; x; x = s->syms->nodes[x].parent)
				c->used[s->partition][x] = 1;
	return 0;
}

static void check_symbols(struct block *b, size_t want_partitions)
{
	struct sym_check c;
	memset(&c, 0, sizeof(c));
	char err[256];
	assert_int_equal(block_scan(b, check_scan, &c, err, sizeof(err)), 0);
	assert_int_equal(c.n_parts, want_partitions);
	assert_int_equal(block_partition_count(b), want_partitions);
	for (size_t p = 0; p < c.n_parts; p++) {
		const struct symbols *s = c.syms[p];
		for (size_t i = 1; i < s->n_nodes; i++) {
			assert_true(c.used[p][i]);
			for (size_t k = 1; k < i; k++)
				assert_false(s->nodes[k].parent == s->nodes[i].parent &&
					     s->nodes[k].location == s->nodes[i].location);
		}
		for (size_t i = 1; i < s->n_functions; i++)
			for (size_t k = 1; k < i; k++)
				assert_false(slice_eq(strtab_get(&s->strings, s->functions[i].name),
						      strtab_get(&s->strings, s->functions[k].name)) &&
					     s->functions[i].start_line == s->functions[k].start_line);
		for (size_t i = 1; i < s->strings.n; i++)
			for (size_t k = 1; k < i; k++)
				assert_false(slice_eq(strtab_get(&s->strings, (uint32_t)i),
						      strtab_get(&s->strings, (uint32_t)k)));
		free(c.used[p]);
	}
}

static void test_merge_overlapping_with_duplicates(void **state)
{
	(void)state;
	char *dir = tmpdir();
	struct head *h1 = new_head(), *h2 = new_head(), *h3 = new_head(), *want = new_head();
	add(h1, "t1", "api", "p1", S1, 4, 1000);
	add(h1, "t1", "api", "p2", S2, 3, 1500);
	add(h1, "t1", "db", "p1", S2, 3, 3000);
	add(h2, "t1", "api", "p1", S1, 4, 1000); /* duplicate of h1's */
	add(h2, "t1", "api", "p2", S3, 1, 1500); /* same series and time, other content: kept */
	add(h2, "t1", "db", "p1", S2, 3, 3000);  /* duplicate */
	add(h2, "t1", "web", "p3", S1, 4, 2000);
	add(h2, "t1", "api", "p1", S2, 3, 4000);
	add(h3, "t1", "web", "p3", S3, 1, 2500);
	add(h3, "t1", "web", "p3", S3, 1, 2500); /* duplicate inside one block */
	add(h3, "t1", "web", "p3", S1, 4, 2000); /* duplicate of h2's */
	/* The expected content, written independently: the 7 distinct profiles. */
	add(want, "t1", "web", "p3", S3, 1, 2500);
	add(want, "t1", "api", "p1", S2, 3, 4000);
	add(want, "t1", "web", "p3", S1, 4, 2000);
	add(want, "t1", "api", "p2", S3, 1, 1500);
	add(want, "t1", "db", "p1", S2, 3, 3000);
	add(want, "t1", "api", "p2", S2, 3, 1500);
	add(want, "t1", "api", "p1", S1, 4, 1000);

	struct block *src[3] = {block_of(h1, dir, 3), block_of(h2, dir, 7), block_of(h3, dir, 5)};
	struct compact_stats cs;
	struct block *c = compact(src, 3, dir, &cs);
	assert_int_equal(cs.profiles_in, 11);
	assert_int_equal(cs.profiles_out, 7);
	assert_int_equal(cs.duplicates, 4);
	const struct block_meta *m = block_meta(c);
	assert_int_equal(m->n_profiles, 7);
	assert_int_equal(m->n_series, 4); /* api/p1, api/p2, db/p1, web/p3 */
	assert_int_equal(m->level, 2);
	assert_int_equal(m->wal_segment, 7);
	assert_int_equal(m->min_time_ns, 1000);
	assert_int_equal(m->max_time_ns, 4000);
	assert_string_equal(m->tenant, "t1");
	assert_int_equal(m->n_sources, 3);
	const char *ids[3] = {block_meta(src[0])->ulid, block_meta(src[1])->ulid, block_meta(src[2])->ulid};
	for (size_t i = 0; i < 3; i++) {
		bool found = false;
		for (size_t k = 0; k < 3; k++)
			found |= !strcmp(m->sources[k], ids[i]);
		assert_true(found);
	}
	assert_true(strcmp(m->sources[0], m->sources[1]) < 0 && strcmp(m->sources[1], m->sources[2]) < 0);

	check_same(want, c, NULL, ALL);
	check_same(want, c, "{service_name=\"api\"}", ALL);
	check_same(want, c, "{pod=\"p1\"}", ALL);
	check_same(want, c, "{service_name=~\"web|db\"}", ALL);
	check_same(want, c, NULL, (struct head_range){1500, 2500});
	check_same(want, c, "{service_name=\"api\", pod=\"p2\"}", (struct head_range){1500, 1500});
	check_symbols(c, 3); /* api, db, web */

	/* Each source's own answers are the sum of what the compacted block answers for
	 * their distinct profiles: the sources seen together count duplicates, the block not. */
	struct selector *s = sel("{service_name=\"api\"}");
	const struct selector *const sels[1] = {s};
	long n1;
	free(query_block(src[0], sels, 1, ALL, &n1));
	assert_int_equal(n1, 2);
	selector_free(s);

	/* Compacting again with a new level-1 block: level 3, sources are the union. */
	struct head *h4 = new_head();
	add(h4, "t1", "api", "p1", S3, 1, 9000);
	add(want, "t1", "api", "p1", S3, 1, 9000);
	struct block *b4 = block_of(h4, dir, 2);
	struct block *src2[2] = {c, b4};
	struct block *c2 = compact(src2, 2, dir, &cs);
	assert_int_equal(cs.duplicates, 0);
	assert_int_equal(block_meta(c2)->level, 3);
	assert_int_equal(block_meta(c2)->n_sources, 4);
	assert_int_equal(block_meta(c2)->wal_segment, 7);
	assert_int_equal(block_meta(c2)->n_profiles, 8);
	check_same(want, c2, NULL, ALL);
	check_same(want, c2, "{pod=\"p1\"}", (struct head_range){900, 9000});
	check_symbols(c2, 3);

	/* Blocks of two tenants cannot be merged. */
	struct head *h5 = new_head();
	add(h5, "t2", "api", "p1", S3, 1, 1000);
	struct head_snapshot *snap;
	assert_int_equal(head_snapshot(h5, slice_cstr("t2"), INT64_MIN, INT64_MAX, &snap), 0);
	struct block_meta m5;
	char err[256];
	assert_int_equal(block_write(dir, head_snapshot_source(snap), &m5, err, sizeof(err)), 0);
	head_snapshot_free(snap);
	char p5[4096];
	snprintf(p5, sizeof(p5), "%s/%s", dir, m5.ulid);
	block_meta_release(&m5);
	struct block *b5;
	assert_int_equal(block_open(p5, &b5, err, sizeof(err)), 0);
	struct block *mixed[2] = {b4, b5};
	struct compact_options o = {.dir = dir};
	struct block_meta mm;
	assert_int_equal(compact_blocks(mixed, 2, &o, &mm, NULL, err, sizeof(err)), EMBER_EINVAL);
	assert_non_null(strstr(err, "tenants"));

	for (size_t i = 0; i < 3; i++)
		block_close(src[i]);
	block_close(c);
	block_close(c2);
	block_close(b4);
	block_close(b5);
	head_free(h1);
	head_free(h2);
	head_free(h3);
	head_free(h4);
	head_free(h5);
	head_free(want);
	rm_rf(dir);
	free(dir);
}

/* A damaged source: the compaction fails with the file named, and leaves no block. */
static void test_damaged_source(void **state)
{
	(void)state;
	char *dir = tmpdir();
	struct head *h = new_head();
	add(h, "t1", "api", "p1", S1, 4, 1000);
	struct block *b = block_of(h, dir, 0);
	char path[4096];
	snprintf(path, sizeof(path), "%s/profiles", block_path(b));
	FILE *f = fopen(path, "r+b");
	assert_non_null(f);
	fseek(f, 30, SEEK_SET);
	int ch = fgetc(f);
	fseek(f, 30, SEEK_SET);
	fputc(ch ^ 0x10, f);
	fclose(f);
	char out[4096];
	snprintf(out, sizeof(out), "%s/out", dir);
	mkdir(out, 0755);
	struct compact_options o = {.dir = out};
	struct block_meta m;
	char err[256] = "";
	assert_int_equal(compact_blocks(&b, 1, &o, &m, NULL, err, sizeof(err)), EMBER_ECORRUPT);
	assert_non_null(strstr(err, "profiles"));
	DIR *d = opendir(out);
	struct dirent *e;
	size_t entries = 0;
	while ((e = readdir(d)))
		entries += e->d_name[0] != '.';
	closedir(d);
	assert_int_equal(entries, 0);
	block_close(b);
	head_free(h);
	rm_rf(dir);
	free(dir);
}

/* ---- planning --------------------------------------------------------------------------- */

#define H (3600LL * 1000000000LL)

static char *plan_str(const struct compact_plan_block *b, size_t n, const int64_t *ranges, size_t nr)
{
	struct compact_plan p;
	compact_plan(b, n, ranges, nr, &p);
	struct buf out = BUF_INIT;
	for (size_t i = 0; i < p.n_jobs; i++) {
		buf_append_cstr(&out, i ? " | " : "");
		for (size_t k = 0; k < p.jobs[i].n; k++)
			buf_printf(&out, "%s%s", k ? "," : "", b[p.jobs[i].blocks[k]].ulid);
		if (!p.jobs[i].overlap)
			buf_printf(&out, " [%lldh,%lldh)", (long long)(p.jobs[i].range_start / H),
				   (long long)(p.jobs[i].range_end / H));
	}
	compact_plan_release(&p);
	char *s = xstrdup(buf_cstr(&out));
	buf_release(&out);
	return s;
}

static void expect_plan(const struct compact_plan_block *b, size_t n, const char *want)
{
	static const int64_t ranges[] = {1 * H, 2 * H, 8 * H};
	char *got = plan_str(b, n, ranges, 3);
	assert_string_equal(got, want);
	free(got);
}

static void test_plan(void **state)
{
	(void)state;
	/* Overlaps first (also a chain a-b-c where a and c do not overlap), whatever the ranges. */
	struct compact_plan_block ov[] = {
		{10 * H, 10 * H + 100, 1, "A"}, {10 * H + 50, 12 * H, 1, "B"}, {11 * H, 11 * H + 5, 1, "C"},
		{20 * H, 20 * H + 1, 1, "D"},   {20 * H + 1, 20 * H + 2, 2, "E"}, {30 * H, 30 * H + 1, 1, "F"},
	};
	expect_plan(ov, 6, "A,B,C | D,E");
	/* Touching at one instant is an overlap (times are inclusive). */
	struct compact_plan_block touch[] = {{0, 5, 1, "A"}, {5, 9, 1, "B"}};
	expect_plan(touch, 2, "A,B");
	/* No overlap: the 1h windows with two or more blocks, once a later block exists. */
	struct compact_plan_block adj[] = {
		{10 * H, 10 * H + H / 2 - 1, 1, "A"}, {10 * H + H / 2, 11 * H - 1, 1, "B"},
		{11 * H, 11 * H + 10, 1, "C"},         {11 * H + 20, 11 * H + 30, 1, "D"},
		{12 * H + 5, 12 * H + 6, 1, "E"},
	};
	expect_plan(adj, 5, "A,B [10h,11h) | C,D [11h,12h)");
	/* The newest window is still filling: not compacted yet. */
	expect_plan(adj + 2, 2, "");
	/* Once every 1h window holds one block, 2h windows, then 8h ones. */
	struct compact_plan_block l2[] = {
		{10 * H, 11 * H - 1, 2, "A"}, {11 * H, 12 * H - 1, 2, "B"}, {12 * H, 13 * H - 1, 2, "C"},
		{13 * H + 1, 13 * H + 2, 1, "D"}, {17 * H, 17 * H + 1, 1, "E"},
	};
	expect_plan(l2, 5, "A,B [10h,12h) | C,D [12h,14h)");
	struct compact_plan_block l3[] = {
		{10 * H, 12 * H - 1, 3, "A"}, {12 * H, 14 * H - 1, 3, "B"}, {17 * H, 17 * H + 1, 1, "C"},
	};
	expect_plan(l3, 3, "A,B [8h,16h)");
	/* A block spanning two 1h windows waits for a 2h window. */
	struct compact_plan_block span[] = {
		{10 * H + H / 2, 11 * H + H / 2, 1, "A"}, {11 * H + H / 2 + 1, 11 * H + H * 3 / 4, 1, "B"},
		{12 * H + 1, 12 * H + 2, 1, "C"},
	};
	expect_plan(span, 3, "A,B [10h,12h)");
	/* One block, or none: nothing to do. */
	expect_plan(adj, 1, "");
	expect_plan(adj, 0, "");

	int64_t good[] = {1 * H, 2 * H, 8 * H}, bad[] = {1 * H, 3 * H / 2};
	char err[200];
	assert_int_equal(compact_ranges_check(good, 3, err, sizeof(err)), 0);
	assert_int_equal(compact_ranges_check(bad, 2, err, sizeof(err)), EMBER_EINVAL);
	assert_int_equal(compact_ranges_check(good, 0, err, sizeof(err)), EMBER_EINVAL);
}


/* ---- the store: crash resolution, rounds, retention, deletion ----------------------------- */

static size_t count_profiles(struct store *st)
{
	struct render rd;
	render_init(&rd);
	size_t n = store_select_profiles(st, slice_cstr("t1"), NULL, 0, ALL, on_view, on_done, &rd);
	free(render_finish(&rd));
	return n;
}

static bool exists(const char *dir, const char *ulid, const char *file)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/blocks/t1/%s%s%s", dir, ulid, file ? "/" : "", file ? file : "");
	struct stat sb;
	return stat(p, &sb) == 0;
}

static void test_store_crash_resolution_and_rounds(void **state)
{
	(void)state;
	char *dir = tmpdir();
	char bdir[2048];
	snprintf(bdir, sizeof(bdir), "%s/blocks/t1", dir);
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s/blocks", dir);
	mkdir(tmp, 0755);
	mkdir(bdir, 0755);
	struct head *h1 = new_head(), *h2 = new_head();
	add(h1, "t1", "api", "p1", S1, 4, 1000);
	add(h1, "t1", "api", "p2", S2, 3, 1500);
	add(h2, "t1", "api", "p1", S1, 4, 1000); /* duplicate */
	add(h2, "t1", "db", "p1", S2, 3, 3000);
	struct block *a = block_of(h1, bdir, 1), *b = block_of(h2, bdir, 2);
	char ua[BLOCK_ULID_LEN + 1], ub[BLOCK_ULID_LEN + 1];
	snprintf(ua, sizeof(ua), "%s", block_meta(a)->ulid);
	snprintf(ub, sizeof(ub), "%s", block_meta(b)->ulid);
	/* A compaction that crashed after writing its block, before marking the sources. */
	struct block *srcs[2] = {a, b};
	struct compact_stats cs;
	struct block *c = compact(srcs, 2, bdir, &cs);
	char uc[BLOCK_ULID_LEN + 1];
	snprintf(uc, sizeof(uc), "%s", block_meta(c)->ulid);
	block_close(a);
	block_close(b);
	block_close(c);
	/* And a torn block write. */
	snprintf(tmp, sizeof(tmp), "%s/.tmp-01ARZ3NDEKTSV4RRFFQ69G5FAV", bdir);
	mkdir(tmp, 0755);

	struct store_config sc = {.dir = dir};
	struct store *st;
	char err[600] = "";
	if (store_open(&sc, &st, err, sizeof(err)))
		fail_msg("store_open: %s", err);
	/* 3 distinct profiles, not 4 (sources and merged block) nor 7. */
	assert_int_equal(count_profiles(st), 3);
	assert_true(exists(dir, ua, MARK_FILE) && exists(dir, ub, MARK_FILE));
	assert_false(exists(dir, uc, MARK_FILE));
	assert_false(exists(dir, ".tmp-01ARZ3NDEKTSV4RRFFQ69G5FAV", NULL));
	int64_t t_s;
	snprintf(tmp, sizeof(tmp), "%s/%s", bdir, ua);
	assert_int_equal(mark_read_local(tmp, &t_s), 0);
	assert_true(t_s > 1600000000 && t_s <= (int64_t)time(NULL));
	struct store_stats ss;
	store_stats(st, &ss);
	assert_int_equal(ss.blocks, 1);

	/* A round with a deletion delay of one hour deletes nothing yet, then, an hour
	 * later, the two marked sources. */
	static const int64_t ranges[] = {1 * H, 2 * H, 8 * H};
	struct store_compact_options o = {.ranges_ns = ranges, .n_ranges = 3, .deletion_delay_ns = H};
	struct store_compact_result r;
	assert_int_equal(store_compact(st, &o, &r, err, sizeof(err)), 0);
	assert_int_equal(r.compactions + r.deleted + r.retention_marked, 0);
	o.now_ns = ((int64_t)time(NULL) + 3601) * 1000000000LL;
	assert_int_equal(store_compact(st, &o, &r, err, sizeof(err)), 0);
	assert_int_equal(r.deleted, 2);
	assert_false(exists(dir, ua, NULL) || exists(dir, ub, NULL));
	assert_true(exists(dir, uc, "meta.json"));
	assert_int_equal(count_profiles(st), 3);
	store_close(st);

	/* Reopened: the same answer; then a new overlapping level-1 block is compacted with
	 * the level-2 one by a round, and the retention retires everything older than it. */
	assert_int_equal(store_open(&sc, &st, err, sizeof(err)), 0);
	assert_int_equal(count_profiles(st), 3);
	struct head *h3 = new_head();
	add(h3, "t1", "web", "p3", S3, 1, 2000);
	add(h3, "t1", "db", "p1", S2, 3, 3000); /* duplicate of the compacted block's */
	block_close(block_of(h3, bdir, 5));
	store_close(st);
	assert_int_equal(store_open(&sc, &st, err, sizeof(err)), 0);
	assert_int_equal(count_profiles(st), 5);
	o.now_ns = 0;
	o.deletion_delay_ns = 0; /* deleted in the same round */
	assert_int_equal(store_compact(st, &o, &r, err, sizeof(err)), 0);
	assert_int_equal(r.compactions, 1);
	assert_int_equal(r.blocks_compacted, 2);
	assert_int_equal(r.duplicates, 1);
	assert_int_equal(r.deleted, 2);
	assert_int_equal(count_profiles(st), 4);
	store_stats(st, &ss);
	assert_int_equal(ss.blocks, 1);
	assert_int_equal(ss.compactions, 1);
	/* Retention: the block's newest profile (t=3000 ns) is ancient. */
	o.retention_ns = 24 * H;
	struct store_retention_override ov = {"t1", 0};
	o.overrides = &ov; /* off for t1: nothing happens */
	o.n_overrides = 1;
	assert_int_equal(store_compact(st, &o, &r, err, sizeof(err)), 0);
	assert_int_equal(r.retention_marked, 0);
	o.n_overrides = 0;
	assert_int_equal(store_compact(st, &o, &r, err, sizeof(err)), 0);
	assert_int_equal(r.retention_marked, 1);
	assert_int_equal(r.deleted, 1);
	assert_int_equal(count_profiles(st), 0);
	store_close(st);
	DIR *d = opendir(bdir);
	struct dirent *e;
	size_t left = 0;
	while (d && (e = readdir(d)))
		left += e->d_name[0] != '.';
	if (d)
		closedir(d);
	assert_int_equal(left, 0);
	head_free(h1);
	head_free(h2);
	head_free(h3);
	rm_rf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_overlapping_with_duplicates),
		cmocka_unit_test(test_damaged_source),
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_store_crash_resolution_and_rounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

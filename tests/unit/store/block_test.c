#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#include "ingest/plan.h"
#include "model/selector.h"
#include "objstore/objstore.h"
#include "query/ftree.h"
#include "store/block.h"
#include "store/compact.h"
#include "store/block_internal.h"
#include "util/crc32c.h"
#include "util/gzip.h"

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

static struct head *build_head(void)
{
	struct head_limits lim = {.max_stack_depth = 1000, .max_symbol_len = 65535};
	struct head *h = head_new(&lim);
	add(h, "t1", "api", "p1", S1, 4, 1000);
	add(h, "t1", "api", "p2", S2, 3, 1500);
	add(h, "t1", "db", "p1", S2, 3, 3000);
	add(h, "t1", "api", "p1", S2, 3, 4000);
	add(h, "t1", "api", "p1", S3, 1, 2000); /* appended out of time order */
	add(h, "t1", "web", "p3", S3, 1, 2000);
	add(h, "t1", "web", "p3", S1, 4, 2000); /* same time twice */
	add(h, "t1", "db", "p2", S1, 4, 5000);
	add(h, "t2", "api", "p1", S3, 1, 1000);
	add(h, "t2", "other", "p9", S1, 4, 1200);
	return h;
}

/* ---- a canonical rendering of what a query sees ---------------------------------------- */

struct render {
	char **lines;
	size_t n, cap;
	struct ftree tree;
};



static void on_view(void *ctx, const struct head_profile_view *v)
{
	struct render *r = ctx;
	struct buf b = BUF_INIT;
	labels_format(v->labels, &b);
	buf_printf(&b, " t=%lld total=%lld:", (long long)v->time_ns, (long long)v->total);
	int64_t sum = 0;
	for (size_t i = 0; i < v->n; i++) {
		assert_true(v->stacks[i] < v->syms->n_nodes);
		if (i)
			assert_true(v->stacks[i - 1] < v->stacks[i]);
		buf_append_cstr(&b, " [");
		stack_names(v->syms, v->stacks[i], &b);
		buf_printf(&b, "]=%lld", (long long)v->values[i]);
		sum += v->values[i];
	}
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
	return test_tmpdir("ember-block-test");
}

static void write_block(struct head *h, const char *tenant, const char *dir, struct block_meta *meta, char *path,
			size_t pathlen)
{
	struct head_snapshot *snap;
	assert_int_equal(head_snapshot(h, slice_cstr(tenant), INT64_MIN, INT64_MAX, &snap), 0);
	char err[256] = "";
	int rc = block_write(dir, head_snapshot_source(snap), meta, err, sizeof(err));
	if (rc)
		fail_msg("block_write: %s", err);
	head_snapshot_free(snap);
	snprintf(path, pathlen, "%s/%s", dir, meta->ulid);
}

/* ---- tests ------------------------------------------------------------------------------ */

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

struct series_acc {
	char buf[2048];
};

static void on_series(void *ctx, const struct labels *ls)
{
	struct series_acc *a = ctx;
	struct buf b = BUF_INIT;
	labels_format(ls, &b);
	size_t used = strlen(a->buf);
	snprintf(a->buf + used, sizeof(a->buf) - used, "%s\n", buf_cstr(&b));
	buf_release(&b);
}

static void put_text(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(s, f);
		fclose(f);
	}
}

static void test_roundtrip_queries(void **state)
{
	(void)state;
	struct head *h = build_head();
	char *dir = tmpdir();
	struct block_meta meta;
	char path[4096];
	write_block(h, "t1", dir, &meta, path, sizeof(path));
	assert_string_equal(meta.tenant, "t1");
	assert_int_equal(meta.n_series, 5);
	assert_int_equal(meta.n_profiles, 8);
	assert_int_equal(meta.n_samples, 4 + 3 + 3 + 3 + 1 + 1 + 4 + 4);
	assert_int_equal(meta.min_time_ns, 1000);
	assert_int_equal(meta.max_time_ns, 5000);
	assert_int_equal(meta.level, 1);
	assert_int_equal(meta.n_sources, 1);
	assert_string_equal(meta.sources[0], meta.ulid);
	/* Nothing left behind but the block. */
	DIR *d = opendir(dir);
	size_t entries = 0;
	for (struct dirent *e; (e = readdir(d));)
		entries += e->d_name[0] != '.';
	closedir(d);
	assert_int_equal(entries, 1);

	struct block *b;
	char err[256] = "";
	assert_int_equal(block_open(path, &b, err, sizeof(err)), 0);
	assert_string_equal(block_meta(b)->ulid, meta.ulid);
	assert_int_equal(block_meta(b)->n_profiles, 8);

	const char *selectors[] = {
		NULL,
		"{service_name=\"api\"}",
		"{service_name=\"api\", pod=\"p1\"}",
		"{service_name!=\"api\"}",
		"{pod=~\"p[12]\"}",
		"{service_name=~\"a.*|w.*\", pod!=\"p2\"}",
		"{service_name=\"nope\"}",
		"{nolabel=\"\"}",
		"{__profile_type__=\"" "process_cpu:cpu:nanoseconds:cpu:nanoseconds" "\", pod!~\"p1\"}",
	};
	struct head_range ranges[] = {ALL, {1500, 3000}, {2000, 2000}, {5001, -1}, {0, 999}, {4000, 4500}};
	for (size_t i = 0; i < EMBER_ARRAY_LEN(selectors); i++) {
		for (size_t k = 0; k < EMBER_ARRAY_LEN(ranges); k++) {
			struct selector *s = selectors[i] ? sel(selectors[i]) : NULL;
			const struct selector *sels[] = {s};
			size_t hn;
			long bn;
			char *a = query_head(h, "t1", sels, s ? 1 : 0, ranges[k], &hn);
			char *c = query_block(b, sels, s ? 1 : 0, ranges[k], &bn);
			if (strcmp(a, c)) {
				put_text("/tmp/ember-block-test-head.txt", a);
				put_text("/tmp/ember-block-test-block.txt", c);
			}
			if (strcmp(a, c))
				fail_msg("selector %s range %zu differs:\nhead:\n%s\nblock:\n%s", selectors[i] ? selectors[i] : "-",
					 k, a, c);
			assert_int_equal((size_t)bn, hn);
			struct series_acc sa = {""}, sb = {""};
			size_t n1 = head_select_series(h, slice_cstr("t1"), sels, s ? 1 : 0, ranges[k], on_series, &sa);
			size_t n2 = block_select_series(b, sels, s ? 1 : 0, ranges[k], on_series, &sb);
			assert_int_equal(n1, n2);
			assert_string_equal(sa.buf, sb.buf);
			free(a);
			free(c);
			selector_free(s);
		}
	}
	/* Values independent of the head: api p1 over all time is S1 + S3 + S2 = 53 + 3 + 141. */
	struct selector *s1 = sel("{service_name=\"api\", pod=\"p1\"}");
	const struct selector *one[] = {s1};
	struct render rd;
	render_init(&rd);
	assert_int_equal(block_select_profiles(b, one, 1, ALL, on_view, NULL, &rd, err, sizeof(err)), 3);
	ftree_finish(&rd.tree);
	assert_int_equal(rd.tree.nodes[0].total, 53 + 3 + 141);
	for (size_t i = 0; i < rd.n; i++)
		free(rd.lines[i]);
	free(rd.lines);
	ftree_release(&rd.tree);

	/* Two selectors are ORed. */
	struct selector *s2 = sel("{service_name=\"db\"}");
	const struct selector *two[] = {s1, s2};
	size_t hn;
	long bn;
	char *x = query_head(h, "t1", two, 2, ALL, &hn);
	char *y = query_block(b, two, 2, ALL, &bn);
	assert_string_equal(x, y);
	assert_int_equal(bn, 5);
	free(x);
	free(y);
	selector_free(s1);
	selector_free(s2);
	block_close(b);

	/* The other tenant's block holds only its own data. */
	struct block_meta m2;
	char path2[4096];
	write_block(h, "t2", dir, &m2, path2, sizeof(path2));
	assert_int_equal(m2.n_series, 2);
	assert_int_equal(m2.n_profiles, 2);
	assert_int_equal(block_open(path2, &b, err, sizeof(err)), 0);
	x = query_head(h, "t2", NULL, 0, ALL, &hn);
	y = query_block(b, NULL, 0, ALL, &bn);
	assert_string_equal(x, y);
	assert_int_equal(bn, 2);
	free(x);
	free(y);
	block_close(b);
	assert_int_equal(block_verify(path2, err, sizeof(err)), 0);

	block_meta_release(&meta);
	block_meta_release(&m2);
	if (getenv("EMBER_BLOCK_KEEP")) /* to make fuzz seeds from a real block */
		printf("  kept %s\n", dir);
	else
		rm_rf(dir);
	free(dir);
	head_free(h);
}

static void test_lazy_reads_one_series(void **state)
{
	(void)state;
	struct head *h = build_head();
	char *dir = tmpdir();
	struct block_meta meta;
	char path[4096], err[256] = "";
	write_block(h, "t1", dir, &meta, path, sizeof(path));
	struct block *b;
	assert_int_equal(block_open(path, &b, err, sizeof(err)), 0);
	struct block_io_stats io;
	block__io_stats(b, &io);
	assert_int_equal(io.symbol_sections + io.profile_sections, 0); /* nothing read yet */

	struct selector *s = sel("{service_name=\"db\", pod=\"p2\"}");
	const struct selector *sels[] = {s};
	struct render rd;
	render_init(&rd);
	assert_int_equal(block_select_profiles(b, sels, 1, ALL, on_view, NULL, &rd, err, sizeof(err)), 1);
	free(render_finish(&rd));
	block__io_stats(b, &io);
	assert_int_equal(io.profile_sections, 1);
	assert_int_equal(io.symbol_sections, 1); /* db's partition only */
	/* Its bytes are exactly that series' section. */
	struct stat st;
	char fp[4200];
	snprintf(fp, sizeof(fp), "%s/profiles", path);
	assert_int_equal(stat(fp, &st), 0);
	assert_true(io.profile_bytes > BLOCK_SECTION_HEADER && io.profile_bytes < (uint64_t)st.st_size - BLOCK_FILE_HEADER);

	/* A second query reuses the loaded symbols. */
	render_init(&rd);
	assert_int_equal(block_select_profiles(b, sels, 1, ALL, on_view, NULL, &rd, err, sizeof(err)), 1);
	free(render_finish(&rd));
	block__io_stats(b, &io);
	assert_int_equal(io.symbol_sections, 1);
	assert_int_equal(io.profile_sections, 2);
	/* A selector whose = value is absent reads nothing. */
	struct selector *none = sel("{service_name=\"zzz\"}");
	const struct selector *nsels[] = {none};
	render_init(&rd);
	assert_int_equal(block_select_profiles(b, nsels, 1, ALL, on_view, on_done, &rd, err, sizeof(err)), 0);
	char *out = render_finish(&rd);
	assert_string_equal(out, "node self=0 total=0\n~done\n");
	free(out);
	block__io_stats(b, &io);
	assert_int_equal(io.profile_sections, 2);

	assert_int_equal(block_verify(path, err, sizeof(err)), 0);
	selector_free(s);
	selector_free(none);
	block_close(b);
	block_meta_release(&meta);
	rm_rf(dir);
	free(dir);
	head_free(h);
}

struct reader_arg {
	struct block *b;
	const char *expect;
	int failures;
};

static void *reader_thread(void *p)
{
	struct reader_arg *a = p;
	for (int i = 0; i < 20; i++) {
		struct render rd;
		render_init(&rd);
		char err[256];
		long n = block_select_profiles(a->b, NULL, 0, ALL, on_view, on_done, &rd, err, sizeof(err));
		char *out = render_finish(&rd);
		a->failures += n != 8 || strcmp(out, a->expect) != 0;
		free(out);
	}
	return NULL;
}

/* Several threads query a freshly opened block at once: the lazy loads happen once and
 * every thread sees the same answer (run under ThreadSanitizer too). */
static void test_concurrent_readers(void **state)
{
	(void)state;
	struct head *h = build_head();
	char *dir = tmpdir();
	struct block_meta meta;
	char path[4096], err[256];
	write_block(h, "t1", dir, &meta, path, sizeof(path));
	size_t hn;
	char *expect = query_head(h, "t1", NULL, 0, ALL, &hn);
	struct block *b;
	assert_int_equal(block_open(path, &b, err, sizeof(err)), 0);
	pthread_t th[4];
	struct reader_arg args[4];
	for (int i = 0; i < 4; i++) {
		args[i] = (struct reader_arg){b, expect, 0};
		assert_int_equal(pthread_create(&th[i], NULL, reader_thread, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].failures, 0);
	}
	struct block_io_stats io;
	block__io_stats(b, &io);
	assert_int_equal(io.symbol_sections, 3); /* each partition loaded once */
	assert_int_equal(io.profile_sections, 4 * 20 * 5);
	block_close(b);
	free(expect);
	block_meta_release(&meta);
	rm_rf(dir);
	free(dir);
	head_free(h);
}

/* Every file cut short, bit-flipped or emptied: open, select and verify all fail with
 * EMBER_ECORRUPT and a message that starts with the file's name. */
static void check_corrupt(const char *path, const char *file)
{
	char err[256] = "";
	struct block *b;
	int rc = block_open(path, &b, err, sizeof(err));
	if (rc == 0) {
		struct render rd;
		render_init(&rd);
		long n = block_select_profiles(b, NULL, 0, ALL, on_view, on_done, &rd, err, sizeof(err));
		free(render_finish(&rd)); /* done was called: the render has "~done" */
		block_close(b);
		if (n != EMBER_ECORRUPT)
			fail_msg("%s: select gave %ld, not ECORRUPT (%s)", file, n, err);
	} else if (rc != EMBER_ECORRUPT) {
		fail_msg("%s: open gave %d (%s)", file, rc, err);
	}
	if (strncmp(err, file, strlen(file)) != 0)
		fail_msg("%s: message does not name the file: %s", file, err);
	err[0] = '\0';
	rc = block_verify(path, err, sizeof(err));
	if (rc != EMBER_ECORRUPT || strncmp(err, file, strlen(file)) != 0)
		fail_msg("%s: verify gave %d: %s", file, rc, err);
}

static void put_file(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	fclose(f);
}

static void test_corruption(void **state)
{
	(void)state;
	struct head *h = build_head();
	char *dir = tmpdir();
	struct block_meta meta;
	char path[4096], err[256];
	write_block(h, "t1", dir, &meta, path, sizeof(path));
	assert_int_equal(block_verify(path, err, sizeof(err)), 0);
	const char *files[] = {"meta.json", "index", "symbols", "profiles"};
	size_t cases = 0;
	for (size_t f = 0; f < 4; f++) {
		char fp[4200];
		snprintf(fp, sizeof(fp), "%s/%s", path, files[f]);
		size_t n;
		uint8_t *orig = test_read_file(fp, &n);
		uint8_t *tmp = malloc(n);
		size_t cuts[] = {0, 1, 8, 12, 15, 16, 20, 27, 28, n / 3, n / 2, n - 5, n - 1};
		for (size_t i = 0; i < EMBER_ARRAY_LEN(cuts); i++) {
			if (cuts[i] >= n)
				continue;
			put_file(fp, orig, cuts[i]);
			check_corrupt(path, files[f]);
			cases++;
		}
		/* A flipped bit at many offsets, spread over the whole file. */
		for (size_t off = 0; off < n; off += n / 23 + 1) {
			for (unsigned bit = 0; bit < 8; bit += 3) {
				memcpy(tmp, orig, n);
				tmp[off] ^= (uint8_t)(1u << bit);
				put_file(fp, tmp, n);
				check_corrupt(path, files[f]);
				cases++;
			}
		}
		/* One byte too many. */
		memcpy(tmp, orig, n);
		FILE *fo = fopen(fp, "wb");
		fwrite(tmp, 1, n, fo);
		fputc(0, fo);
		fclose(fo);
		check_corrupt(path, files[f]);
		/* A missing file. */
		unlink(fp);
		check_corrupt(path, files[f]);
		put_file(fp, orig, n);
		assert_int_equal(block_verify(path, err, sizeof(err)), 0);
		free(orig);
		free(tmp);
	}
	printf("  %zu corrupted variants rejected\n", cases);
	/* Not a block at all. */
	char missing[4200];
	snprintf(missing, sizeof(missing), "%s/nope", dir);
	struct block *b;
	assert_int_equal(block_open(missing, &b, err, sizeof(err)), EMBER_ENOTFOUND);
	block_meta_release(&meta);
	rm_rf(dir);
	free(dir);
	head_free(h);
}

/* ---- blocks read in place from a bucket (block_open_remote) ------------------------------ */

/* The filesystem objstore over root: the same code path as S3 (objstore_get for meta.json
 * and index, objstore_stat and objstore_get_range for the rest), fast. */
static struct objstore *fs_bucket(const char *root)
{
	struct objstore_config cfg = {.backend = "filesystem", .fs_dir = root};
	struct objstore *os;
	char err[256];
	if (objstore_open(&cfg, &os, err, sizeof(err)))
		fail_msg("objstore_open: %s", err);
	return os;
}

static int count_series(void *ctx, const struct block_scan_series *s)
{
	size_t *n = ctx;
	*n += s->n_profiles;
	return 0;
}

/* Opened remotely, a block answers every query exactly as opened locally and as the head,
 * reads nothing but meta.json and index at open, one partition's symbols and one series'
 * profiles for a one-series query, and verifies and scans. */
static void test_remote_roundtrip(void **state)
{
	(void)state;
	struct head *h = build_head();
	char *root = tmpdir();
	char dir[4200], path[4096], prefix[256], err[256] = "";
	snprintf(dir, sizeof(dir), "%s/blocks/t1", root);
	char bdir[4200];
	snprintf(bdir, sizeof(bdir), "%s/blocks", root);
	mkdir(bdir, 0755);
	mkdir(dir, 0755);
	struct block_meta meta;
	write_block(h, "t1", dir, &meta, path, sizeof(path));
	snprintf(prefix, sizeof(prefix), "blocks/t1/%s", meta.ulid);
	struct objstore *os = fs_bucket(root);
	struct block *lb, *rb;
	assert_int_equal(block_open(path, &lb, err, sizeof(err)), 0);
	assert_int_equal(block_open_remote(os, prefix, &rb, err, sizeof(err)), 0);
	assert_string_equal(block_path(rb), prefix);
	assert_string_equal(block_meta(rb)->ulid, meta.ulid);
	assert_int_equal(block_meta(rb)->n_profiles, 8);
	struct block_io_stats io;
	block__io_stats(rb, &io);
	assert_int_equal(io.symbol_sections + io.profile_sections, 0);

	const char *queries[] = {"{service_name=\"db\", pod=\"p2\"}", NULL, "{pod=\"p1\"}", "{service_name=~\"a.*|web\"}"};
	for (size_t q = 0; q < EMBER_ARRAY_LEN(queries); q++) {
		struct selector *s = queries[q] ? sel(queries[q]) : NULL;
		const struct selector *sels[] = {s};
		size_t hn;
		long ln, rn;
		char *want = query_head(h, "t1", sels, s ? 1 : 0, ALL, &hn);
		char *local = query_block(lb, sels, s ? 1 : 0, ALL, &ln);
		char *remote = query_block(rb, sels, s ? 1 : 0, ALL, &rn);
		assert_string_equal(remote, want);
		assert_string_equal(remote, local);
		assert_int_equal(rn, (long)hn);
		assert_int_equal(rn, ln);
		free(want);
		free(local);
		free(remote);
		if (q == 0) { /* one series: one partition, one profile section */
			block__io_stats(rb, &io);
			assert_int_equal(io.symbol_sections, 1);
			assert_int_equal(io.profile_sections, 1);
		}
		selector_free(s);
	}
	block__io_stats(rb, &io);
	assert_int_equal(io.symbol_sections, 3); /* each partition once, then cached */
	assert_true(block_cache_bytes(rb) > 0);
	assert_int_equal(block_cache_bytes(rb), block_cache_bytes(lb));
	block_cache_drop(rb);
	assert_int_equal(block_cache_bytes(rb), 0);
	size_t nl = 0, nr = 0;
	assert_int_equal(block_scan(lb, count_series, &nl, err, sizeof(err)), 0);
	assert_int_equal(block_scan(rb, count_series, &nr, err, sizeof(err)), 0);
	assert_int_equal(nr, 8);
	assert_int_equal(nr, nl);
	assert_int_equal(block_verify_remote(os, prefix, err, sizeof(err)), 0);
	block_close(lb);
	block_close(rb);

	/* Not there, or not a key. */
	char none[300];
	snprintf(none, sizeof(none), "blocks/t1/%s", "01ARYZ6S41TSV4RRFFQ69G5FAV");
	assert_int_equal(block_open_remote(os, none, &rb, err, sizeof(err)), EMBER_ENOTFOUND);
	assert_int_equal(block_open_remote(os, "../x", &rb, err, sizeof(err)), EMBER_EINVAL);
	objstore_close(os);
	block_meta_release(&meta);
	rm_rf(root);
	free(root);
	head_free(h);
}

static void check_corrupt_remote(struct objstore *os, const char *prefix, const char *file, int want_open)
{
	char err[256] = "";
	struct block *b;
	int rc = block_open_remote(os, prefix, &b, err, sizeof(err));
	if (rc == 0) {
		struct render rd;
		render_init(&rd);
		long n = block_select_profiles(b, NULL, 0, ALL, on_view, on_done, &rd, err, sizeof(err));
		free(render_finish(&rd));
		block_close(b);
		if (n != EMBER_ECORRUPT)
			fail_msg("remote %s: select gave %ld, not ECORRUPT (%s)", file, n, err);
	} else if (rc != want_open) {
		fail_msg("remote %s: open gave %d (%s)", file, rc, err);
	}
	if (rc != EMBER_ENOTFOUND && strncmp(err, file, strlen(file)) != 0)
		fail_msg("remote %s: message does not name the file: %s", file, err);
	err[0] = '\0';
	int vrc = block_verify_remote(os, prefix, err, sizeof(err));
	if (vrc != (rc == EMBER_ENOTFOUND ? EMBER_ENOTFOUND : EMBER_ECORRUPT) ||
	    (vrc == EMBER_ECORRUPT && strncmp(err, file, strlen(file)) != 0))
		fail_msg("remote %s: verify gave %d: %s", file, vrc, err);
}

/* The bucket is untrusted too: every file cut short, bit-flipped, grown or missing in the
 * bucket is EMBER_ECORRUPT naming the file (a missing meta.json: no such block). */
static void test_remote_corruption(void **state)
{
	(void)state;
	struct head *h = build_head();
	char *root = tmpdir();
	char dir[4200], path[4096], prefix[256], err[256];
	snprintf(dir, sizeof(dir), "%s/blocks", root);
	mkdir(dir, 0755);
	snprintf(dir, sizeof(dir), "%s/blocks/t1", root);
	mkdir(dir, 0755);
	struct block_meta meta;
	write_block(h, "t1", dir, &meta, path, sizeof(path));
	snprintf(prefix, sizeof(prefix), "blocks/t1/%s", meta.ulid);
	struct objstore *os = fs_bucket(root);
	const char *files[] = {"meta.json", "index", "symbols", "profiles"};
	size_t cases = 0;
	for (size_t f = 0; f < 4; f++) {
		char key[400];
		snprintf(key, sizeof(key), "%s/%s", prefix, files[f]);
		struct buf orig = BUF_INIT;
		assert_int_equal(objstore_get(os, key, &orig), 0);
		size_t n = orig.n;
		uint8_t *tmp = malloc(n + 1);
		size_t cuts[] = {0, 1, 12, 16, 20, n / 2, n - 1};
		for (size_t i = 0; i < EMBER_ARRAY_LEN(cuts); i++) {
			assert_int_equal(objstore_put(os, key, slice_make(orig.p, cuts[i])), 0);
			check_corrupt_remote(os, prefix, files[f], EMBER_ECORRUPT);
			cases++;
		}
		for (size_t off = 0; off < n; off += n / 11 + 1) {
			memcpy(tmp, orig.p, n);
			tmp[off] ^= 0x10;
			assert_int_equal(objstore_put(os, key, slice_make(tmp, n)), 0);
			check_corrupt_remote(os, prefix, files[f], EMBER_ECORRUPT);
			cases++;
		}
		memcpy(tmp, orig.p, n);
		tmp[n] = 0;
		assert_int_equal(objstore_put(os, key, slice_make(tmp, n + 1)), 0);
		check_corrupt_remote(os, prefix, files[f], EMBER_ECORRUPT);
		assert_int_equal(objstore_delete(os, key), 0);
		check_corrupt_remote(os, prefix, files[f], f == 0 ? EMBER_ENOTFOUND : EMBER_ECORRUPT);
		cases += 2;
		assert_int_equal(objstore_put(os, key, slice_make(orig.p, n)), 0);
		assert_int_equal(block_verify_remote(os, prefix, err, sizeof(err)), 0);
		buf_release(&orig);
		free(tmp);
	}
	printf("  %zu corrupted remote variants rejected\n", cases);
	/* A damaged section gives the same message remotely as locally. */
	char key[400], fp[4200];
	snprintf(key, sizeof(key), "%s/symbols", prefix);
	snprintf(fp, sizeof(fp), "%s/symbols", path);
	size_t n;
	uint8_t *orig = test_read_file(fp, &n);
	orig[n - 3] ^= 1; /* inside the last partition's payload */
	put_file(fp, orig, n);
	char lerr[256] = "", rerr[256] = "";
	assert_int_equal(block_verify(path, lerr, sizeof(lerr)), EMBER_ECORRUPT);
	assert_int_equal(block_verify_remote(os, prefix, rerr, sizeof(rerr)), EMBER_ECORRUPT);
	assert_string_equal(rerr, lerr);
	assert_true(strstr(rerr, "symbols: partition") == rerr);
	free(orig);
	objstore_close(os);
	block_meta_release(&meta);
	rm_rf(root);
	free(root);
	head_free(h);
}

/* Several threads query a remote block at once (run under ThreadSanitizer too). */
static void test_remote_concurrent_readers(void **state)
{
	(void)state;
	struct head *h = build_head();
	char *root = tmpdir();
	char dir[4200], path[4096], prefix[256], err[256];
	snprintf(dir, sizeof(dir), "%s/blocks", root);
	mkdir(dir, 0755);
	snprintf(dir, sizeof(dir), "%s/blocks/t1", root);
	mkdir(dir, 0755);
	struct block_meta meta;
	write_block(h, "t1", dir, &meta, path, sizeof(path));
	snprintf(prefix, sizeof(prefix), "blocks/t1/%s", meta.ulid);
	size_t hn;
	char *expect = query_head(h, "t1", NULL, 0, ALL, &hn);
	struct objstore *os = fs_bucket(root);
	struct block *b;
	assert_int_equal(block_open_remote(os, prefix, &b, err, sizeof(err)), 0);
	pthread_t th[4];
	struct reader_arg args[4];
	for (int i = 0; i < 4; i++) {
		args[i] = (struct reader_arg){b, expect, 0};
		assert_int_equal(pthread_create(&th[i], NULL, reader_thread, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].failures, 0);
	}
	struct block_io_stats io;
	block__io_stats(b, &io);
	assert_int_equal(io.symbol_sections, 3);
	assert_int_equal(io.profile_sections, 4 * 20 * 5);
	block_close(b);
	objstore_close(os);
	free(expect);
	block_meta_release(&meta);
	rm_rf(root);
	free(root);
	head_free(h);
}

static void test_meta_roundtrip(void **state)
{
	(void)state;
	char srcs[2][BLOCK_ULID_LEN + 1] = {"01ARYZ6S41TSV4RRFFQ69G5FAV", "01BX5ZZKBKACTAV9WEVGEMMVRZ"};
	struct block_meta m = {.ulid = "01ARYZ6S41TSV4RRFFQ69G5FAV", .tenant = "anonymous", .min_time_ns = -5,
			       .max_time_ns = 1700000000123456789, .n_series = 3, .n_profiles = 40, .n_samples = 9000,
			       .level = 2, .sources = srcs, .n_sources = 2, .version = 1};
	struct buf b = BUF_INIT;
	block_meta_format(&m, &b);
	struct block_meta p;
	char err[256];
	assert_int_equal(block_meta_parse(slice_make(b.p, b.n), &p, err, sizeof(err)), 0);
	assert_string_equal(p.ulid, m.ulid);
	assert_string_equal(p.tenant, "anonymous");
	assert_int_equal(p.min_time_ns, -5);
	assert_int_equal(p.max_time_ns, 1700000000123456789);
	assert_int_equal(p.n_series, 3);
	assert_int_equal(p.n_profiles, 40);
	assert_int_equal(p.n_samples, 9000);
	assert_int_equal(p.level, 2);
	assert_int_equal(p.n_sources, 2);
	assert_string_equal(p.sources[1], "01BX5ZZKBKACTAV9WEVGEMMVRZ");
	struct buf b2 = BUF_INIT;
	block_meta_format(&p, &b2);
	assert_int_equal(b.n, b2.n);
	assert_memory_equal(b.p, b2.p, b.n);
	assert_non_null(strstr(buf_cstr(&b), "\"minTimeNs\": -5"));
	block_meta_release(&p);
	buf_release(&b);
	buf_release(&b2);

	static const char *bad[] = {
		"",
		"[]",
		"{\"version\": 1}",
		"{\"ulid\":\"01ARYZ6S41TSV4RRFFQ69G5FAV\",\"tenant\":\"t\",\"minTimeNs\":5,\"maxTimeNs\":4,"
		"\"stats\":{\"numSeries\":1,\"numProfiles\":1,\"numSamples\":1},\"compaction\":{\"level\":1,\"sources\":[]},"
		"\"version\":1}",
		"{\"ulid\":\"01ARYZ6S41TSV4RRFFQ69G5FAU\",\"tenant\":\"t\",\"minTimeNs\":5,\"maxTimeNs\":6,"
		"\"stats\":{\"numSeries\":1,\"numProfiles\":1,\"numSamples\":1},\"compaction\":{\"level\":1,\"sources\":[]},"
		"\"version\":1}", /* U is not Crockford */
		"{\"ulid\":\"01ARYZ6S41TSV4RRFFQ69G5FAV\",\"tenant\":\"t\",\"minTimeNs\":5,\"maxTimeNs\":6,"
		"\"stats\":{\"numSeries\":-1,\"numProfiles\":1,\"numSamples\":1},\"compaction\":{\"level\":1,\"sources\":[]},"
		"\"version\":1}",
		"{\"ulid\":\"01ARYZ6S41TSV4RRFFQ69G5FAV\",\"tenant\":\"t\",\"minTimeNs\":5,\"maxTimeNs\":6,"
		"\"stats\":{\"numSeries\":1,\"numProfiles\":1,\"numSamples\":1},\"compaction\":{\"level\":1,\"sources\":[\"x\"]},"
		"\"version\":1}",
	};
	for (size_t i = 0; i < EMBER_ARRAY_LEN(bad); i++) {
		assert_int_equal(block_meta_parse(slice_cstr(bad[i]), &p, err, sizeof(err)), EMBER_ECORRUPT);
		assert_true(strncmp(err, "meta.json: ", 11) == 0);
	}
	const char *future = "{\"ulid\":\"01ARYZ6S41TSV4RRFFQ69G5FAV\",\"version\":3}";
	assert_int_equal(block_meta_parse(slice_cstr(future), &p, err, sizeof(err)), EMBER_EUNSUP);
}

static void test_ulid(void **state)
{
	(void)state;
	/* The ULID spec's example: time 1469918176385 ms encodes as 01ARYZ6S41. */
	char u[BLOCK_ULID_LEN + 1];
	block_ulid_new(1469918176385, u);
	assert_int_equal(strlen(u), 26);
	assert_memory_equal(u, "01ARYZ6S41", 10);
	assert_true(block__ulid_valid(u, 26));
	char prev[BLOCK_ULID_LEN + 1];
	block_ulid_new(1000, prev);
	for (int64_t t = 1001; t < 1200; t += 7) {
		block_ulid_new(t * 1000 + (t & 3), u); /* ms, several orders of magnitude */
		assert_true(strcmp(prev, u) < 0);
		memcpy(prev, u, sizeof(u));
	}
	char a[BLOCK_ULID_LEN + 1], c[BLOCK_ULID_LEN + 1];
	block_ulid_new(5, a);
	block_ulid_new(5, c);
	assert_memory_equal(a, c, 10);
	assert_true(strcmp(a + 10, c + 10) != 0); /* random tails differ */
	assert_false(block__ulid_valid("81ARYZ6S41TSV4RRFFQ69G5FAV", 26)); /* over 128 bits */
}

static void test_bad_sources(void **state)
{
	(void)state;
	struct symbols syms;
	symbols_init(&syms);
	struct arena a;
	arena_init(&a, 0);
	struct labels ls = {0};
	labels_set(&ls, &a, slice_cstr("service_name"), slice_cstr("x"));
	struct block_partition_in part = {slice_cstr("x"), &syms};
	struct block_series_in series = {ls, 0};
	uint32_t stacks[] = {0};
	int64_t values[] = {1};
	struct block_profile_in prof[2] = {{0, 10, 1, stacks, values, 1}, {0, 5, 1, stacks, values, 1}};
	struct block_source src = {"t", &part, 1, &series, 1, prof, 2, 1, NULL, 0};
	struct block_meta m;
	char err[256];
	char *dir = tmpdir();
	assert_int_equal(block_write(dir, &src, &m, err, sizeof(err)), EMBER_EINVAL); /* unsorted times */
	uint32_t bad_stack[] = {7};
	prof[1] = (struct block_profile_in){0, 20, 1, bad_stack, values, 1};
	assert_int_equal(block_write(dir, &src, &m, err, sizeof(err)), EMBER_EINVAL); /* unknown node */
	prof[1].stacks = stacks;
	assert_int_equal(block_write(dir, &src, &m, err, sizeof(err)), 0);
	block_meta_release(&m);
	rm_rf(dir);
	free(dir);
	arena_release(&a);
	symbols_release(&syms);
}

/* Bytes on disk per profile for the Go testdata ingested many times (printed, not asserted). */
static void measure_go(int rounds)
{
	struct head_limits lim = {.max_stack_depth = 1000, .max_symbol_len = 65535};
	struct head *h = head_new(&lim);
	struct ingest_limits il;
	ingest_limits_default(&il);
	const char *names[] = {"svc-cpu-0.pb.gz", "svc-cpu-1.pb.gz", "svc-cpu-2.pb.gz", "svc-cpu-3.pb.gz",
			       "svc-heap.pb.gz", "svc-goroutine.pb.gz"};
	uint64_t gz_bytes = 0;
	size_t profiles = 0;
	for (int round = 0; round < rounds; round++) {
		for (size_t f = 0; f < EMBER_ARRAY_LEN(names); f++) {
			char fp[512];
			snprintf(fp, sizeof(fp), "%s/go/%s", TESTDATA_DIR, names[f]);
			size_t n;
			uint8_t *gz = test_read_file(fp, &n);
			gz_bytes += n;
			struct buf raw = BUF_INIT;
			assert_int_equal(gzip_inflate(slice_make(gz, n), 64 << 20, &raw), 0);
			struct arena a;
			arena_init(&a, 0);
			struct pprof_profile p;
			char err[256];
			assert_int_equal(pprof_decode(slice_make(raw.p, raw.n), &a, NULL, &p, err, sizeof(err)), 0);
			p.time_nanos = (int64_t)(round * 15 + (int)f) * 1000000000ll;
			struct labels ls = {0};
			labels_set(&ls, &a, slice_cstr("__name__"), slice_cstr(f < 4 ? "process_cpu" : f == 4 ? "memory" : "goroutine"));
			labels_set(&ls, &a, slice_cstr("service_name"), slice_cstr("go-svc"));
			labels_sort(&ls);
			struct ingest_plan plan = {0};
			assert_int_equal(ingest_plan_pprof(&plan, &a, &p, &ls, &il, 0, false, err, sizeof(err)), 0);
			for (size_t i = 0; i < plan.n_sources; i++) {
				assert_int_equal(head_append(h, slice_cstr("t"), plan.sources[i].p, plan.sources[i].items,
							     plan.sources[i].n_items),
						 0);
				profiles += plan.sources[i].n_items;
			}
			free(plan.sources);
			arena_release(&a);
			buf_release(&raw);
			free(gz);
		}
	}
	char *dir = tmpdir();
	struct block_meta meta;
	char path[4096], err[256];
	write_block(h, "t", dir, &meta, path, sizeof(path));
	assert_int_equal(meta.n_profiles, profiles);
	uint64_t disk = 0;
	const char *files[] = {"meta.json", "index", "symbols", "profiles"};
	uint64_t sizes[4];
	for (size_t i = 0; i < 4; i++) {
		char fp[4200];
		struct stat st;
		snprintf(fp, sizeof(fp), "%s/%s", path, files[i]);
		assert_int_equal(stat(fp, &st), 0);
		sizes[i] = (uint64_t)st.st_size;
		disk += sizes[i];
	}
	printf("  go testdata x%d: %zu stored profiles from %d pprof files (%llu gzip bytes); block %llu bytes "
	       "(index %llu, symbols %llu, profiles %llu): %.1f bytes/profile, %.2f%% of the gzipped pprof (profiles file alone %.2f%%)\n",
	       rounds, profiles, rounds * (int)EMBER_ARRAY_LEN(names), (unsigned long long)gz_bytes,
	       (unsigned long long)disk, (unsigned long long)sizes[1], (unsigned long long)sizes[2],
	       (unsigned long long)sizes[3], (double)disk / (double)profiles, 100.0 * (double)disk / (double)gz_bytes,
	       100.0 * (double)sizes[3] / (double)gz_bytes);
	/* And the block reads back the same as the head. */
	struct block *b;
	assert_int_equal(block_open(path, &b, err, sizeof(err)), 0);
	size_t hn;
	long bn;
	char *x = query_head(h, "t", NULL, 0, ALL, &hn);
	char *y = query_block(b, NULL, 0, ALL, &bn);
	assert_int_equal(hn, (size_t)bn);
	assert_true(strcmp(x, y) == 0);
	free(x);
	free(y);
	block_close(b);
	assert_int_equal(block_verify(path, err, sizeof(err)), 0);
	block_meta_release(&meta);
	rm_rf(dir);
	free(dir);
	head_free(h);
}

static void test_go_storage_size(void **state)
{
	(void)state;
	measure_go(1);  /* every profile distinct: the honest per-profile figure */
	measure_go(60); /* the same profiles again and again: what repetition buys */
}


/* ---- profile ids and span triples --------------------------------------------------- */

/* Adds S1 (4 samples) with id byte pattern `idb` and spans {7, 0, 7, 9}: samples 0 and 2
 * are span 7 (values 30 and 7), sample 3 span 9 (value 11), sample 1 none. */
static void add_spans(struct head *h, uint8_t idb, int64_t t)
{
	struct arena a;
	arena_init(&a, 0);
	struct labels ls = {0};
	labels_set(&ls, &a, slice_cstr("__name__"), slice_cstr("process_cpu"));
	labels_set(&ls, &a, slice_cstr("__profile_type__"), slice_cstr(TYPE));
	labels_set(&ls, &a, slice_cstr("service_name"), slice_cstr("svc"));
	labels_sort(&ls);
	struct pprof_builder b;
	struct pprof_profile *p = make_profile(&b, S1, EMBER_ARRAY_LEN(S1));
	uint32_t idx[4] = {0, 1, 2, 3};
	uint64_t spans[4] = {7, 0, 7, 9};
	uint8_t id[HEAD_ID_LEN];
	memset(id, idb, sizeof(id));
	struct head_append_item it = {.labels = &ls, .time_ns = t, .samples = idx, .n_samples = 4, .scale = 1,
				      .id = id, .spans = spans};
	assert_int_equal(head_append(h, slice_cstr("t"), p, &it, 1), 0);
	pprof_builder_release(&b);
	arena_release(&a);
}

struct span_seen {
	size_t profiles;
	uint8_t ids[4];     /* first byte of each profile's id */
	int64_t total;      /* of the summed pairs */
	int64_t by_span[10];
	size_t n_spans;
};

static void on_span_view(void *ctx, const struct head_profile_view *v)
{
	struct span_seen *s = ctx;
	assert_non_null(v->id);
	if (s->profiles < 4)
		s->ids[s->profiles] = v->id[0];
	s->profiles++;
	s->total += v->total;
	for (size_t i = 0; i < v->n_spans; i++) {
		assert_true(v->span_ids[i] < 10);
		assert_true(v->span_stacks[i] < v->syms->n_nodes);
		if (i)
			assert_true(v->span_stacks[i] >= v->span_stacks[i - 1]);
		s->by_span[v->span_ids[i]] += v->span_values[i];
	}
	s->n_spans += v->n_spans;
}

static void test_ids_spans_roundtrip(void **state)
{
	(void)state;
	struct head_limits lim = {1000, 65535, 0};
	struct head *h = head_new(&lim);
	add_spans(h, 0xab, 1000);
	struct span_seen hs = {0};
	head_select_profiles(h, slice_cstr("t"), NULL, 0, ALL, on_span_view, &hs);
	assert_int_equal(hs.profiles, 1);
	assert_int_equal(hs.ids[0], 0xab);
	assert_int_equal(hs.total, 30 + 5 + 7 + 11); /* the summed pairs are unchanged */
	assert_int_equal(hs.n_spans, 3);
	assert_int_equal(hs.by_span[7], 37);
	assert_int_equal(hs.by_span[9], 11);
	assert_int_equal(hs.by_span[0], 0);

	char *dir = tmpdir(), path[512], path2[512], err[256] = "";
	struct block_meta meta, meta2;
	write_block(h, "t", dir, &meta, path, sizeof(path));
	assert_int_equal(meta.version, 2);
	struct block *b, *b2;
	assert_int_equal(block_open(path, &b, err, sizeof(err)), 0);
	struct span_seen bs = {0};
	assert_true(block_select_profiles(b, NULL, 0, ALL, on_span_view, NULL, &bs, err, sizeof(err)) == 1);
	assert_memory_equal(&bs, &hs, sizeof(bs));
	assert_int_equal(block_verify(path, err, sizeof(err)), 0);

	/* A second block: the same profile (same id) and one with another id. Compaction
	 * drops the true copy and keeps the other, spans and ids carried. */
	head_free(h);
	h = head_new(&lim);
	add_spans(h, 0xab, 1000);
	add_spans(h, 0xcd, 1000);
	write_block(h, "t", dir, &meta2, path2, sizeof(path2));
	assert_int_equal(block_open(path2, &b2, err, sizeof(err)), 0);
	struct block *srcs[2] = {b, b2};
	struct compact_options o = {.dir = dir};
	struct block_meta cm;
	struct compact_stats st;
	if (compact_blocks(srcs, 2, &o, &cm, &st, err, sizeof(err)))
		fail_msg("compact: %s", err);
	assert_int_equal(st.profiles_in, 3);
	assert_int_equal(st.profiles_out, 2);
	char cpath[512];
	snprintf(cpath, sizeof(cpath), "%s/%s", dir, cm.ulid);
	struct block *c;
	assert_int_equal(block_open(cpath, &c, err, sizeof(err)), 0);
	struct span_seen cs = {0};
	assert_true(block_select_profiles(c, NULL, 0, ALL, on_span_view, NULL, &cs, err, sizeof(err)) == 2);
	assert_int_equal(cs.ids[0] ^ cs.ids[1], 0xab ^ 0xcd);
	assert_int_equal(cs.n_spans, 6);
	assert_int_equal(cs.by_span[7], 74);
	assert_int_equal(cs.by_span[9], 22);
	block_close(c);
	block_close(b);
	block_close(b2);
	block_meta_release(&meta);
	block_meta_release(&meta2);
	block_meta_release(&cm);
	head_free(h);
	rm_rf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_queries), cmocka_unit_test(test_lazy_reads_one_series),
		cmocka_unit_test(test_corruption),        cmocka_unit_test(test_meta_roundtrip),
		cmocka_unit_test(test_ulid),              cmocka_unit_test(test_bad_sources),
		cmocka_unit_test(test_go_storage_size),    cmocka_unit_test(test_concurrent_readers),
		cmocka_unit_test(test_remote_roundtrip),  cmocka_unit_test(test_remote_corruption),
		cmocka_unit_test(test_remote_concurrent_readers), cmocka_unit_test(test_ids_spans_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

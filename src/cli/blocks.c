/* blocks: `ember blocks` (see blocks.h). Every subcommand reads the bucket through
 * objstore, so a data directory and an S3 bucket look the same; blocks (inspect, verify)
 * are opened in place: the directory on the filesystem backend, the objects on S3 (read by
 * ranged GETs, nothing is downloaded to disk). `compact` opens the store like the server does (the
 * server must be stopped) and runs one store_compact round for one tenant. */
#include <dirent.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/blocks.h"
#include "cli/table.h"
#include "server/config.h"
#include "store/block.h"
#include "store/marks.h"
#include "store/store.h"
#include "util/log.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2

static const char USAGE[] =
	"Usage: ember blocks <command> [flags]\n"
	"\n"
	"Commands:\n"
	"  ls                     list the blocks: tenant, ULID, time range, level, series, profiles, size, marked\n"
	"  inspect ULID           a block's meta, file sizes, label names and values, symbol partitions\n"
	"  verify [ULID...]       read every byte of the blocks (all when none given) and check every checksum;\n"
	"                         names the damaged file; exit status 1 if any block is bad\n"
	"  compact --tenant T     run one compaction round (and retention, deletions) for tenant T on the\n"
	"                         data directory of a STOPPED server, with progress on stderr\n"
	"\n"
	"Flags:\n"
	"  --dir DIR              data directory (the server's -storage.filesystem.dir; default ./data)\n"
	"  --tenant T             only this tenant (ls, verify; required by compact)\n"
	"  -storage.backend=s3 -storage.s3.*=...   read the blocks from an S3 bucket, as the server does\n"
	"  -compactor.*=...       compaction settings for compact (see ember server --help)\n"
	"  -config.file=FILE      the server's YAML file, for the settings above\n";

struct bopts {
	const char *dir;
	const char *tenant;
	const char **pos;
	size_t n_pos;
	char **cfg_argv;
	int cfg_argc;
	struct config cfg;
	struct objstore *bucket;
	bool remote;
};

/* One block as found in the bucket. */
struct found {
	char tenant[160];
	char ulid[BLOCK_ULID_LEN + 1];
	uint64_t bytes;
	bool has_meta, marked;
};

struct found_list {
	struct found *v;
	size_t n, cap;
};

static int list_cb(void *ctx, const char *key, uint64_t size)
{
	struct found_list *fl = ctx;
	const char *rest = key + strlen("blocks/");
	const char *s1 = strchr(rest, '/');
	const char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
	if (!s2 || s2 - s1 - 1 != BLOCK_ULID_LEN || (size_t)(s1 - rest) >= sizeof(fl->v->tenant) || s1[1] == '.')
		return 0;
	struct found *f = fl->n ? &fl->v[fl->n - 1] : NULL;
	if (!f || strncmp(f->ulid, s1 + 1, BLOCK_ULID_LEN) != 0 || strncmp(f->tenant, rest, (size_t)(s1 - rest)) != 0 ||
	    f->tenant[s1 - rest]) {
		XGROW(fl->v, fl->cap, fl->n + 1);
		f = &fl->v[fl->n++];
		memset(f, 0, sizeof(*f));
		memcpy(f->tenant, rest, (size_t)(s1 - rest));
		memcpy(f->ulid, s1 + 1, BLOCK_ULID_LEN);
	}
	f->bytes += size;
	f->has_meta |= !strcmp(s2 + 1, "meta.json");
	f->marked |= !strcmp(s2 + 1, MARK_FILE);
	return 0;
}

static int list_blocks(struct bopts *b, struct found_list *fl)
{
	memset(fl, 0, sizeof(*fl));
	int rc = objstore_list(b->bucket, "blocks/", list_cb, fl);
	if (rc) {
		fprintf(stderr, "ember blocks: listing the blocks: %s\n", objstore_errmsg());
		return rc;
	}
	size_t w = 0;
	for (size_t i = 0; i < fl->n; i++)
		if (fl->v[i].has_meta && (!b->tenant || !strcmp(b->tenant, fl->v[i].tenant)))
			fl->v[w++] = fl->v[i];
	fl->n = w;
	return 0;
}

static void fmt_time(char *out, size_t n, int64_t ns)
{
	time_t s = (time_t)(ns / 1000000000LL);
	if (ns < 0 && ns % 1000000000LL)
		s--;
	struct tm tm;
	gmtime_r(&s, &tm);
	int ms = (int)(((ns % 1000000000LL) + 1000000000LL) % 1000000000LL / 1000000);
	char d[24];
	strftime(d, sizeof(d), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, n, "%.20s.%03dZ", d, ms);
}

static int get_meta(struct bopts *b, const struct found *f, struct block_meta *m)
{
	char key[512], err[256];
	snprintf(key, sizeof(key), "blocks/%s/%s/meta.json", f->tenant, f->ulid);
	struct buf mb = BUF_INIT;
	int rc = objstore_get(b->bucket, key, &mb);
	if (rc) {
		fprintf(stderr, "ember blocks: %s: %s\n", key, objstore_errmsg());
	} else if ((rc = block_meta_parse(slice_make(mb.p, mb.n), m, err, sizeof(err))) != 0) {
		fprintf(stderr, "ember blocks: %s: %s\n", key, err);
	}
	buf_release(&mb);
	return rc;
}

static int cmd_ls(struct bopts *b)
{
	struct found_list fl;
	if (list_blocks(b, &fl))
		return EXIT_FAIL;
	int status = 0;
	struct table t;
	table_init(&t, "llllrrrrl");
	const char *hdr[] = {"TENANT", "ULID", "MIN TIME", "MAX TIME", "LEVEL", "SERIES", "PROFILES", "SIZE", "MARKED"};
	for (size_t i = 0; i < EMBER_ARRAY_LEN(hdr); i++)
		table_cell(&t, "%s", hdr[i]);
	for (size_t i = 0; i < fl.n; i++) {
		struct block_meta m;
		if (get_meta(b, &fl.v[i], &m)) {
			status = EXIT_FAIL;
			continue;
		}
		char t0[48], t1[48], size[32];
		fmt_time(t0, sizeof(t0), m.min_time_ns);
		fmt_time(t1, sizeof(t1), m.max_time_ns);
		unit_format(size, sizeof(size), (double)fl.v[i].bytes, UNIT_BYTES);
		table_cell(&t, "%s", fl.v[i].tenant);
		table_cell(&t, "%s", fl.v[i].ulid);
		table_cell(&t, "%s", t0);
		table_cell(&t, "%s", t1);
		table_cell(&t, "%u", m.level);
		table_cell(&t, "%llu", (unsigned long long)m.n_series);
		table_cell(&t, "%llu", (unsigned long long)m.n_profiles);
		table_cell(&t, "%s", size);
		table_cell(&t, "%s", fl.v[i].marked ? "yes" : "no");
		block_meta_release(&m);
	}
	table_print(&t, stdout);
	table_release(&t);
	free(fl.v);
	return status;
}

static const char *const FILES[] = {"meta.json", "index", "symbols", "profiles"};

/* Opens a block where it is: the directory on the filesystem backend, in place in the
 * bucket (meta.json and index now, the rest by ranged GETs) on S3. prefix receives the
 * bucket key prefix, path the local directory (filesystem only). */
static int open_found(struct bopts *b, const struct found *f, struct block **blk, char *path, size_t n, char *err,
		      size_t errlen)
{
	if (!b->remote) {
		snprintf(path, n, "%s/blocks/%s/%s", b->dir, f->tenant, f->ulid);
		return block_open(path, blk, err, errlen);
	}
	snprintf(path, n, "blocks/%s/%s", f->tenant, f->ulid);
	return block_open_remote(b->bucket, path, blk, err, errlen);
}

static const struct found *find_block(const struct found_list *fl, const char *ulid)
{
	for (size_t i = 0; i < fl->n; i++)
		if (!strcmp(fl->v[i].ulid, ulid))
			return &fl->v[i];
	return NULL;
}

static int cmd_inspect(struct bopts *b)
{
	if (b->n_pos != 1) {
		fprintf(stderr, "ember blocks inspect: give one block ULID\n");
		return EXIT_USAGE;
	}
	struct found_list fl;
	if (list_blocks(b, &fl))
		return EXIT_FAIL;
	int status = EXIT_FAIL;
	struct block *blk = NULL;
	const struct found *f = find_block(&fl, b->pos[0]);
	if (!f) {
		fprintf(stderr, "ember blocks inspect: no block %s\n", b->pos[0]);
		goto out;
	}
	char path[4096], err[600];
	if (open_found(b, f, &blk, path, sizeof(path), err, sizeof(err))) {
		fprintf(stderr, "ember blocks inspect: %s: %s\n", f->ulid, err);
		goto out;
	}
	const struct block_meta *m = block_meta(blk);
	struct buf mj = BUF_INIT;
	block_meta_format(m, &mj);
	char t0[48], t1[48];
	fmt_time(t0, sizeof(t0), m->min_time_ns);
	fmt_time(t1, sizeof(t1), m->max_time_ns);
	printf("Block %s of tenant %s: %s .. %s, level %u, %llu series, %llu profiles, %llu samples%s\n\n", m->ulid,
	       m->tenant, t0, t1, m->level, (unsigned long long)m->n_series, (unsigned long long)m->n_profiles,
	       (unsigned long long)m->n_samples, f->marked ? ", MARKED FOR DELETION" : "");
	printf("meta.json:\n%.*s\n", (int)mj.n, (const char *)mj.p);
	buf_release(&mj);
	struct table t;
	table_init(&t, "lr");
	table_cell(&t, "FILE");
	table_cell(&t, "BYTES");
	for (size_t i = 0; i < EMBER_ARRAY_LEN(FILES); i++) {
		char *file = xasprintf("%s/%s", path, FILES[i]);
		struct stat sb;
		uint64_t size;
		table_cell(&t, "%s", FILES[i]);
		if (b->remote ? objstore_stat(b->bucket, file, &size) == 0
			      : (stat(file, &sb) == 0 && (size = (uint64_t)sb.st_size, true)))
			table_cell(&t, "%llu", (unsigned long long)size);
		else
			table_cell(&t, "missing");
		free(file);
	}
	printf("\n");
	table_print(&t, stdout);
	table_release(&t);
	table_init(&t, "lr");
	table_cell(&t, "LABEL NAME");
	table_cell(&t, "VALUES");
	for (size_t i = 0; i < block_label_name_count(blk); i++) {
		size_t nv;
		struct slice nm = block_label_name(blk, i, &nv);
		table_cell(&t, "%.*s", (int)nm.n, (const char *)nm.p);
		table_cell(&t, "%zu", nv);
	}
	printf("\n");
	table_print(&t, stdout);
	table_release(&t);
	table_init(&t, "lrr");
	table_cell(&t, "PARTITION (service_name)");
	table_cell(&t, "#");
	table_cell(&t, "SYMBOLS BYTES");
	for (size_t i = 0; i < block_partition_count(blk); i++) {
		uint64_t bytes;
		struct slice sv = block_partition_service(blk, i, &bytes);
		table_cell(&t, "%.*s", (int)sv.n, (const char *)sv.p);
		table_cell(&t, "%zu", i);
		table_cell(&t, "%llu", (unsigned long long)bytes);
	}
	printf("\n");
	table_print(&t, stdout);
	table_release(&t);
	status = 0;
out:
	block_close(blk);
	free(fl.v);
	return status;
}

static int cmd_verify(struct bopts *b)
{
	struct found_list fl;
	if (list_blocks(b, &fl))
		return EXIT_FAIL;
	int status = 0;
	size_t total = b->n_pos ? b->n_pos : fl.n, bad = 0;
	for (size_t i = 0; i < total; i++) {
		const struct found *f = b->n_pos ? find_block(&fl, b->pos[i]) : &fl.v[i];
		if (!f) {
			printf("MISSING %s: no such block\n", b->pos[i]);
			status = EXIT_FAIL;
			bad++;
			continue;
		}
		fprintf(stderr, "verifying %zu/%zu: %s/%s (%llu bytes)\n", i + 1, total, f->tenant, f->ulid,
			(unsigned long long)f->bytes);
		char path[4096], err[600] = "";
		int rc;
		if (b->remote) {
			snprintf(path, sizeof(path), "blocks/%s/%s", f->tenant, f->ulid);
			rc = block_verify_remote(b->bucket, path, err, sizeof(err));
		} else {
			snprintf(path, sizeof(path), "%s/blocks/%s/%s", b->dir, f->tenant, f->ulid);
			rc = block_verify(path, err, sizeof(err));
		}
		if (rc) {
			printf("BAD %s/%s: %s\n", f->tenant, f->ulid, err[0] ? err : ember_strerror(rc));
			status = EXIT_FAIL;
			bad++;
		} else {
			printf("ok  %s/%s%s\n", f->tenant, f->ulid, f->marked ? " (marked for deletion)" : "");
		}
	}
	fprintf(stderr, "%zu blocks verified, %zu bad\n", total, bad);
	free(fl.v);
	return status;
}

static void on_progress(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "%s\n", line);
}

static int cmd_compact(struct bopts *b)
{
	if (!b->tenant) {
		fprintf(stderr, "ember blocks compact: --tenant is required\n");
		return EXIT_USAGE;
	}
	int64_t ranges[CONFIG_MAX_BLOCK_RANGES];
	size_t n_ranges;
	char err[600];
	if (config_block_ranges(&b->cfg, ranges, CONFIG_MAX_BLOCK_RANGES, &n_ranges, err, sizeof(err))) {
		fprintf(stderr, "ember blocks compact: %s\n", err);
		return EXIT_USAGE;
	}
	struct store_config sc = {.dir = b->dir, .bucket = b->bucket};
	struct store *st;
	fprintf(stderr, "opening the blocks of %s\n", b->dir);
	if (store_open(&sc, &st, err, sizeof(err))) {
		fprintf(stderr, "ember blocks compact: %s\n", err);
		return EXIT_FAIL;
	}
	struct store_compact_options o = {.ranges_ns = ranges, .n_ranges = n_ranges,
					  .deletion_delay_ns = b->cfg.deletion_delay_ns,
					  .retention_ns = b->cfg.retention_ns, .tenant = b->tenant,
					  .progress = on_progress};
	struct store_compact_result r;
	int rc = store_compact(st, &o, &r, err, sizeof(err));
	store_close(st);
	if (rc) {
		fprintf(stderr, "ember blocks compact: %s\n", err);
		return EXIT_FAIL;
	}
	printf("tenant %s: %zu compactions (%zu blocks merged, %llu identical profiles dropped), %zu blocks past "
	       "retention, %zu marked blocks deleted\n",
	       b->tenant, r.compactions, r.blocks_compacted, (unsigned long long)r.duplicates, r.retention_marked,
	       r.deleted);
	return 0;
}

static bool is_cfg_flag(const char *a)
{
	a += a[1] == '-' ? 2 : 1;
	return !strncmp(a, "storage.", 8) || !strncmp(a, "compactor.", 10) || !strncmp(a, "config.file", 11);
}

int blocks_main(int argc, char **argv)
{
	if (argc < 1 || !strcmp(argv[0], "-h") || !strcmp(argv[0], "--help") || !strcmp(argv[0], "help")) {
		fputs(USAGE, argc < 1 ? stderr : stdout);
		return argc < 1 ? EXIT_USAGE : 0;
	}
	const char *cmd = argv[0];
	struct bopts b;
	memset(&b, 0, sizeof(b));
	b.pos = xcalloc((size_t)argc + 1, sizeof(*b.pos));
	b.cfg_argv = xcalloc((size_t)argc + 2, sizeof(*b.cfg_argv));
	int status = EXIT_USAGE;
	char err[600];
	config_init(&b.cfg);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(USAGE, stdout);
			status = 0;
			goto out;
		}
		if (!strcmp(a, "--dir") || !strcmp(a, "--tenant")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "ember blocks: %s needs a value\n", a);
				goto out;
			}
			*(a[2] == 'd' ? &b.dir : &b.tenant) = argv[++i];
		} else if (!strncmp(a, "--dir=", 6)) {
			b.dir = a + 6;
		} else if (!strncmp(a, "--tenant=", 9)) {
			b.tenant = a + 9;
		} else if (a[0] == '-' && is_cfg_flag(a)) {
			b.cfg_argv[b.cfg_argc++] = argv[i];
			/* "-flag value" form: the value goes along */
			if (!strchr(a, '=') && i + 1 < argc && argv[i + 1][0] != '-')
				b.cfg_argv[b.cfg_argc++] = argv[++i];
		} else if (a[0] == '-') {
			fprintf(stderr, "ember blocks: unknown flag %s (see ember blocks --help)\n", a);
			goto out;
		} else {
			b.pos[b.n_pos++] = a;
		}
	}
	if (config_load(&b.cfg, b.cfg_argc, b.cfg_argv, err, sizeof(err))) {
		fprintf(stderr, "ember blocks: %s\n", err);
		goto out;
	}
	if (b.dir) {
		free(b.cfg.storage_dir);
		b.cfg.storage_dir = xstrdup(b.dir);
	}
	b.dir = b.cfg.storage_dir;
	if (strcmp(cmd, "ls") && strcmp(cmd, "inspect") && strcmp(cmd, "verify") && strcmp(cmd, "compact")) {
		fprintf(stderr, "ember blocks: unknown command %s (ls, inspect, verify, compact)\n", cmd);
		goto out;
	}
	if (b.n_pos && (!strcmp(cmd, "ls") || !strcmp(cmd, "compact"))) {
		fprintf(stderr, "ember blocks %s: unexpected argument %s\n", cmd, b.pos[0]);
		goto out;
	}
	struct stat sb;
	if (stat(b.dir, &sb) != 0 && strcmp(b.cfg.storage_backend, "s3") != 0) {
		fprintf(stderr, "ember blocks: %s: %s\n", b.dir, strerror(errno));
		status = EXIT_FAIL;
		goto out;
	}
	struct objstore_config oc;
	config_objstore(&b.cfg, &oc);
	if (objstore_open(&oc, &b.bucket, err, sizeof(err))) {
		fprintf(stderr, "ember blocks: %s\n", err);
		status = EXIT_FAIL;
		goto out;
	}
	b.remote = strcmp(objstore_backend(b.bucket), "filesystem") != 0;
	log_set_level(LOG_WARN); /* the store's info lines would repeat the progress */
	if (!strcmp(cmd, "ls"))
		status = cmd_ls(&b);
	else if (!strcmp(cmd, "inspect"))
		status = cmd_inspect(&b);
	else if (!strcmp(cmd, "verify"))
		status = cmd_verify(&b);
	else
		status = cmd_compact(&b);
out:
	objstore_close(b.bucket);
	config_release(&b.cfg);
	free(b.pos);
	free(b.cfg_argv);
	return status;
}

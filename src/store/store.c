#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/compact.h"
#include "store/compact_plan.h"
#include "store/marks.h"
#include "store/store.h"
#include "util/log.h"

/* One block readers can see. */
struct store_block {
	struct block *b;
	char *tenant;
	uint64_t wal_segment; /* the WAL segments <= this are in the block (0: none) */
	int64_t last_used;    /* atomic: monotonic ns of the last query that read it */
};

/* A block written by a cut that is not visible yet: the whole cut is published at once. */
struct pending_block {
	char *tenant;
	char *path;
	uint64_t wal_segment;
};

struct store {
	struct store_config cfg;
	char *dir;
	bool remote; /* the bucket is not the local block directory (S3) */
	/* Writers hold write_lock shared; a cut holds it exclusively to swap the head and
	 * cut the WAL at the same instant. */
	pthread_rwlock_t write_lock;
	/* Readers hold read_lock shared; publishing a cut holds it exclusively. */
	pthread_rwlock_t read_lock;
	struct head *head;
	int64_t head_created_ns;
	struct head *frozen;      /* being flushed; still read */
	uint64_t frozen_segment;  /* WAL segments <= this are all in frozen */
	struct pending_block *pending; /* blocks of frozen already written */
	size_t n_pending, cap_pending;
	struct store_block *blocks;
	size_t n_blocks, cap_blocks;
	pthread_mutex_t flush_mutex;
	uint64_t flushes, flush_failures, corrupt_blocks; /* atomic */
	pthread_mutex_t compact_mutex; /* one compaction round at a time; only it removes blocks */
	uint64_t compactions, compaction_failures, blocks_marked, blocks_deleted; /* atomic */
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int mkdir_p(const char *path)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, 0755) && errno != EEXIST ? -1 : 0;
}

static bool is_ulid(const char *s)
{
	if (strlen(s) != BLOCK_ULID_LEN)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z')))
			return false;
	return true;
}

/* ---- the bucket ---------------------------------------------------------------------- */

static const char *const block_files[] = {"index", "symbols", "profiles", "meta.json"}; /* meta.json last */

/* Uploads a local block directory; meta.json goes last so a listing never shows a block
 * whose other files are missing. */
static int upload_block(struct store *st, const char *tenant, const char *ulid, const char *path, char *err,
			size_t errlen)
{
	for (size_t i = 0; i < EMBER_ARRAY_LEN(block_files); i++) {
		char *key = xasprintf("blocks/%s/%s/%s", tenant, ulid, block_files[i]);
		char *file = xasprintf("%s/%s", path, block_files[i]);
		int rc = objstore_put_file(st->cfg.bucket, key, file);
		if (rc)
			snprintf(err, errlen, "uploading %s: %s", key, objstore_errmsg());
		free(key);
		free(file);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- loading blocks ------------------------------------------------------------------- */

static void add_block(struct store *st, struct block *b, const char *tenant)
{
	XGROW(st->blocks, st->cap_blocks, st->n_blocks + 1);
	struct store_block *sb = &st->blocks[st->n_blocks++];
	sb->b = b;
	sb->tenant = xstrdup(tenant);
	sb->wal_segment = block_meta(b)->wal_segment;
	sb->last_used = 0;
}

static void open_local_block(struct store *st, const char *tenant, const char *ulid)
{
	char err[512];
	char *path = xasprintf("%s/blocks/%s/%s", st->dir, tenant, ulid);
	struct block *b;
	int rc = block_open(path, &b, err, sizeof(err));
	if (rc) {
		__atomic_add_fetch(&st->corrupt_blocks, 1, __ATOMIC_RELAXED);
		log_error("msg=\"skipping unreadable block\" path=\"%s\" err=\"%s\"", path, err);
	} else {
		add_block(st, b, tenant);
	}
	free(path);
}

/* A block of the bucket with no local copy: opened in place, meta.json and index only;
 * its symbols and profiles are read by ranges when a query needs them. */
static void open_remote_block(struct store *st, const char *tenant, const char *ulid)
{
	char err[512];
	char *prefix = xasprintf("blocks/%s/%s", tenant, ulid);
	struct block *b;
	int rc = block_open_remote(st->cfg.bucket, prefix, &b, err, sizeof(err));
	if (!rc && (strcmp(block_meta(b)->tenant, tenant) != 0 || strcmp(block_meta(b)->ulid, ulid) != 0)) {
		snprintf(err, sizeof(err), "meta.json: names block %s/%s, not the one at this key",
			 block_meta(b)->tenant, block_meta(b)->ulid);
		block_close(b);
		rc = EMBER_ECORRUPT;
	}
	if (rc) {
		__atomic_add_fetch(&st->corrupt_blocks, 1, __ATOMIC_RELAXED);
		log_error("msg=\"skipping unreadable block in the bucket\" key=\"%s\" err=\"%s\"", prefix, err);
	} else {
		add_block(st, b, tenant);
	}
	free(prefix);
}

struct bucket_scan {
	struct store *st;
	char **keys; /* "tenant/ULID" of every block whose meta.json is in the bucket */
	size_t n, cap;
	char **marked; /* "tenant/ULID" of every block with a deletion mark in the bucket */
	size_t n_marked, cap_marked;
};

static bool key_listed(char *const *keys, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(keys[i], key))
			return true;
	return false;
}

static int bucket_list_cb(void *ctx, const char *key, uint64_t size)
{
	(void)size;
	struct bucket_scan *bs = ctx;
	/* blocks/<tenant>/<ULID>/meta.json */
	const char *rest = key + strlen("blocks/");
	const char *slash1 = strchr(rest, '/');
	if (!slash1)
		return 0;
	const char *slash2 = strchr(slash1 + 1, '/');
	if (slash2 && !strcmp(slash2 + 1, MARK_FILE) && slash2 - slash1 - 1 == BLOCK_ULID_LEN) {
		XGROW(bs->marked, bs->cap_marked, bs->n_marked + 1);
		bs->marked[bs->n_marked++] = xstrndup(rest, (size_t)(slash2 - rest));
		return 0;
	}
	if (!slash2 || strcmp(slash2 + 1, "meta.json") != 0 || slash2 - slash1 - 1 != BLOCK_ULID_LEN)
		return 0;
	XGROW(bs->keys, bs->cap, bs->n + 1);
	bs->keys[bs->n++] = xstrndup(rest, (size_t)(slash2 - rest));
	return 0;
}

/* Opens the local blocks, uploading those the bucket lacks (a crash between writing and
 * uploading), then (S3) opens in place the bucket's blocks that have no local copy:
 * nothing is downloaded. Marked blocks are skipped. */
static int load_blocks(struct store *st, char *err, size_t errlen)
{
	int rc = 0;
	char *root = xasprintf("%s/blocks", st->dir);
	struct bucket_scan bs = {.st = st};
	DIR *d = NULL;
	if (mkdir_p(root)) {
		snprintf(err, errlen, "cannot create %s: %s", root, strerror(errno));
		rc = EMBER_EIO;
		goto out;
	}
	if (st->remote) {
		if (objstore_list(st->cfg.bucket, "blocks/", bucket_list_cb, &bs)) {
			snprintf(err, errlen, "listing the bucket: %s", objstore_errmsg());
			rc = EMBER_EIO;
			goto out;
		}
	}
	d = opendir(root);
	struct dirent *te;
	while (d && (te = readdir(d))) {
		if (te->d_name[0] == '.')
			continue;
		char *tdir = xasprintf("%s/%s", root, te->d_name);
		DIR *td = opendir(tdir);
		struct dirent *be;
		while (td && (be = readdir(td))) {
			if (!is_ulid(be->d_name))
				continue; /* temporary and download directories are not blocks */
			char *bdir = xasprintf("%s/%s", tdir, be->d_name);
			bool marked = mark_exists_local(bdir);
			if (!marked && st->remote) {
				char *key = xasprintf("%s/%s", te->d_name, be->d_name);
				if (key_listed(bs.marked, bs.n_marked, key)) {
					marked = true; /* marked in the bucket only (a crash between the two) */
					if (mark_write_local(bdir, be->d_name, time(NULL), "marked in the bucket"))
						log_warn("msg=\"cannot copy a deletion mark locally\" path=\"%s\"", bdir);
				}
				free(key);
			}
			free(bdir);
			if (marked)
				continue; /* retired by a compaction or the retention; deleted later */
			if (st->remote) {
				char *key = xasprintf("%s/%s", te->d_name, be->d_name);
				bool in_bucket = false;
				for (size_t i = 0; i < bs.n && !in_bucket; i++)
					in_bucket = !strcmp(bs.keys[i], key);
				char *path = xasprintf("%s/%s", tdir, be->d_name);
				char uerr[512];
				if (!in_bucket && upload_block(st, te->d_name, be->d_name, path, uerr, sizeof(uerr)))
					log_error("msg=\"cannot upload local block; it stays local\" path=\"%s\" err=\"%s\"",
						  path, uerr);
				free(key);
				free(path);
			}
			open_local_block(st, te->d_name, be->d_name);
		}
		if (td)
			closedir(td);
		free(tdir);
	}
	for (size_t i = 0; i < bs.n; i++) {
		char *path = xasprintf("%s/%s", root, bs.keys[i]);
		struct stat sb;
		/* A local copy (opened above, or skipped there as marked) wins. */
		if (!key_listed(bs.marked, bs.n_marked, bs.keys[i]) && stat(path, &sb) != 0) {
			char *slash = strchr(bs.keys[i], '/');
			*slash = '\0';
			open_remote_block(st, bs.keys[i], slash + 1);
			*slash = '/';
		}
		free(path);
	}
out:
	if (d)
		closedir(d);
	for (size_t i = 0; i < bs.n; i++)
		free(bs.keys[i]);
	free(bs.keys);
	for (size_t i = 0; i < bs.n_marked; i++)
		free(bs.marked[i]);
	free(bs.marked);
	free(root);
	return rc;
}

static void resolve_superseded(struct store *st);

int store_open(const struct store_config *cfg, struct store **out, char *err, size_t errlen)
{
	struct store *st = xcalloc(1, sizeof(*st));
	st->cfg = *cfg;
	st->dir = xstrdup(cfg->dir);
	st->remote = cfg->bucket && strcmp(objstore_backend(cfg->bucket), "filesystem") != 0;
	pthread_rwlock_init(&st->write_lock, NULL);
	pthread_rwlock_init(&st->read_lock, NULL);
	pthread_mutex_init(&st->flush_mutex, NULL);
	pthread_mutex_init(&st->compact_mutex, NULL);
	st->head = head_new(&cfg->head);
	st->head_created_ns = now_ns();
	int rc = load_blocks(st, err, errlen);
	if (rc) {
		store_close(st);
		return rc;
	}
	resolve_superseded(st); /* a compaction that crashed before marking its sources */
	log_info("msg=\"blocks loaded\" blocks=%zu", st->n_blocks);
	*out = st;
	return 0;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->n_blocks; i++) {
		block_close(st->blocks[i].b);
		free(st->blocks[i].tenant);
	}
	free(st->blocks);
	for (size_t i = 0; i < st->n_pending; i++) {
		free(st->pending[i].tenant);
		free(st->pending[i].path);
	}
	free(st->pending);
	head_free(st->head);
	head_free(st->frozen);
	pthread_rwlock_destroy(&st->write_lock);
	pthread_rwlock_destroy(&st->read_lock);
	pthread_mutex_destroy(&st->flush_mutex);
	pthread_mutex_destroy(&st->compact_mutex);
	free(st->dir);
	free(st);
}

/* ---- writing -------------------------------------------------------------------------- */

struct head *store_write_begin(struct store *st)
{
	pthread_rwlock_rdlock(&st->write_lock);
	return st->head;
}

void store_write_end(struct store *st)
{
	pthread_rwlock_unlock(&st->write_lock);
}

bool store_wal_covered(struct store *st, struct slice tenant, uint64_t segment)
{
	bool covered = false;
	pthread_rwlock_rdlock(&st->read_lock);
	for (size_t i = 0; i < st->n_blocks && !covered; i++)
		covered = st->blocks[i].wal_segment >= segment && slice_eq_cstr(tenant, st->blocks[i].tenant);
	pthread_rwlock_unlock(&st->read_lock);
	return covered;
}

bool store_cut_due(struct store *st, int64_t now)
{
	struct head_stats hs;
	pthread_rwlock_rdlock(&st->read_lock);
	head_stats(st->head, &hs);
	int64_t age = now - st->head_created_ns;
	bool frozen = st->frozen != NULL;
	pthread_rwlock_unlock(&st->read_lock);
	if (frozen)
		return true; /* a failed cut is retried */
	if (!hs.profiles)
		return false;
	return (st->cfg.max_block_duration_ns && age >= st->cfg.max_block_duration_ns) ||
	       (st->cfg.max_head_bytes && hs.profile_bytes + hs.symbol_bytes >= st->cfg.max_head_bytes);
}

/* Writes (and uploads) the block of one tenant of the frozen head, unless this cut already
 * did. The block is not visible yet. */
static int cut_tenant(struct store *st, const char *tenant, char *err, size_t errlen)
{
	for (size_t i = 0; i < st->n_pending; i++)
		if (!strcmp(st->pending[i].tenant, tenant))
			return 0;
	struct head_snapshot *snap;
	int rc = head_snapshot(st->frozen, slice_cstr(tenant), INT64_MIN, INT64_MAX, &snap);
	if (rc == EMBER_ENOTFOUND)
		return 0;
	if (rc) {
		snprintf(err, errlen, "snapshot of tenant %s: %s", tenant, ember_strerror(rc));
		return rc;
	}
	struct block_source src = *head_snapshot_source(snap);
	src.wal_segment = st->frozen_segment;
	char *dir = xasprintf("%s/blocks/%s", st->dir, tenant);
	char *path = NULL;
	struct block_meta meta;
	memset(&meta, 0, sizeof(meta));
	if (mkdir_p(dir)) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		rc = EMBER_EIO;
	} else {
		rc = block_write(dir, &src, &meta, err, errlen);
	}
	head_snapshot_free(snap);
	if (rc)
		goto out;
	path = xasprintf("%s/%s", dir, meta.ulid);
	/* With S3, a failed upload leaves the local copy; the next start uploads it. */
	if (st->remote && (rc = upload_block(st, tenant, meta.ulid, path, err, errlen)) != 0)
		goto out;
	XGROW(st->pending, st->cap_pending, st->n_pending + 1);
	struct pending_block *pb = &st->pending[st->n_pending++];
	pb->tenant = xstrdup(tenant);
	pb->path = path;
	path = NULL;
	pb->wal_segment = st->frozen_segment;
	log_info("msg=\"block written\" tenant=\"%s\" block=%s profiles=%llu series=%llu", tenant, meta.ulid,
		 (unsigned long long)meta.n_profiles, (unsigned long long)meta.n_series);
out:
	block_meta_release(&meta);
	free(path);
	free(dir);
	return rc;
}

int store_flush(struct store *st, char *err, size_t errlen)
{
	int rc = 0;
	char **tenants = NULL;
	size_t n_tenants = 0;
	pthread_mutex_lock(&st->flush_mutex);
	if (!st->frozen) {
		/* Freeze: swap the head and cut the WAL at one instant, with no write in between. */
		pthread_rwlock_wrlock(&st->write_lock);
		struct head_stats hs;
		head_stats(st->head, &hs);
		if (!hs.profiles) {
			pthread_rwlock_unlock(&st->write_lock);
			goto out;
		}
		uint64_t seg = 0;
		if (st->cfg.wal && (rc = wal_cut(st->cfg.wal, &seg)) != 0) {
			pthread_rwlock_unlock(&st->write_lock);
			snprintf(err, errlen, "cutting the WAL: %s", ember_strerror(rc));
			goto out;
		}
		pthread_rwlock_wrlock(&st->read_lock);
		st->frozen = st->head;
		st->frozen_segment = seg;
		st->head = head_new(&st->cfg.head);
		st->head_created_ns = now_ns();
		pthread_rwlock_unlock(&st->read_lock);
		pthread_rwlock_unlock(&st->write_lock);
	}
	/* The frozen head takes no more writes: no lock needed to read it here. */
	n_tenants = head_tenant_names(st->frozen, &tenants);
	for (size_t i = 0; i < n_tenants; i++)
		if ((rc = cut_tenant(st, tenants[i], err, errlen)) != 0)
			goto out;
	/* Publish: open every new block, then swap them in for the frozen head at once. */
	struct store_block *opened = xcalloc(st->n_pending + 1, sizeof(*opened));
	for (size_t i = 0; i < st->n_pending; i++) {
		if ((rc = block_open(st->pending[i].path, &opened[i].b, err, errlen)) != 0) {
			for (size_t k = 0; k < i; k++)
				block_close(opened[k].b);
			free(opened);
			goto out;
		}
	}
	pthread_rwlock_wrlock(&st->read_lock);
	for (size_t i = 0; i < st->n_pending; i++)
		add_block(st, opened[i].b, st->pending[i].tenant);
	struct head *old = st->frozen;
	st->frozen = NULL;
	pthread_rwlock_unlock(&st->read_lock);
	free(opened);
	head_free(old);
	for (size_t i = 0; i < st->n_pending; i++) {
		free(st->pending[i].tenant);
		free(st->pending[i].path);
	}
	st->n_pending = 0;
	/* Only now may the WAL forget: every record up to frozen_segment is in a block. */
	if (st->cfg.wal && st->frozen_segment && (rc = wal_remove_through(st->cfg.wal, st->frozen_segment)) != 0) {
		log_warn("msg=\"cannot remove flushed WAL segments\" through=%llu err=\"%s\"",
			 (unsigned long long)st->frozen_segment, ember_strerror(rc));
		rc = 0; /* the blocks are durable; replay will skip the covered records */
	}
	__atomic_add_fetch(&st->flushes, 1, __ATOMIC_RELAXED);
out:
	if (rc)
		__atomic_add_fetch(&st->flush_failures, 1, __ATOMIC_RELAXED);
	for (size_t i = 0; i < n_tenants; i++)
		free(tenants[i]);
	free(tenants);
	pthread_mutex_unlock(&st->flush_mutex);
	return rc;
}

/* ---- reading -------------------------------------------------------------------------- */

static bool block_in_range(const struct block_meta *m, struct head_range r)
{
	return m->max_time_ns >= r.start_ns && (r.end_ns < 0 || m->min_time_ns <= r.end_ns);
}

size_t store_select_series(struct store *st, struct slice tenant, const struct selector *const *sels,
			   size_t n_sels, struct head_range range, head_series_fn fn, void *ctx)
{
	pthread_rwlock_rdlock(&st->read_lock);
	size_t n = head_select_series(st->head, tenant, sels, n_sels, range, fn, ctx);
	if (st->frozen)
		n += head_select_series(st->frozen, tenant, sels, n_sels, range, fn, ctx);
	for (size_t i = 0; i < st->n_blocks; i++) {
		struct store_block *sb = &st->blocks[i];
		if (slice_eq_cstr(tenant, sb->tenant) && block_in_range(block_meta(sb->b), range))
			n += block_select_series(sb->b, sels, n_sels, range, fn, ctx);
	}
	pthread_rwlock_unlock(&st->read_lock);
	return n;
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static size_t block_cache_total(struct store *st)
{
	size_t total = 0;
	for (size_t i = 0; i < st->n_blocks; i++)
		total += block_cache_bytes(st->blocks[i].b);
	return total;
}

static int last_used_cmp(const void *a, const void *b)
{
	int64_t x = __atomic_load_n(&(*(struct store_block *const *)a)->last_used, __ATOMIC_RELAXED);
	int64_t y = __atomic_load_n(&(*(struct store_block *const *)b)->last_used, __ATOMIC_RELAXED);
	return x < y ? -1 : x > y;
}

/* Keeps loaded block symbols within the budget: when over it, drops the caches of the
 * least recently read blocks, with readers excluded (views may point into them). */
static void trim_block_cache(struct store *st)
{
	size_t budget = st->cfg.max_block_cache_bytes;
	if (!budget)
		return;
	pthread_rwlock_rdlock(&st->read_lock);
	size_t total = block_cache_total(st);
	pthread_rwlock_unlock(&st->read_lock);
	if (total <= budget)
		return;
	pthread_rwlock_wrlock(&st->read_lock);
	struct store_block **order = xmalloc((st->n_blocks + 1) * sizeof(*order));
	for (size_t i = 0; i < st->n_blocks; i++)
		order[i] = &st->blocks[i];
	sort_n(order, st->n_blocks, sizeof(*order), last_used_cmp);
	total = block_cache_total(st);
	for (size_t i = 0; i < st->n_blocks && total > budget; i++) {
		size_t had = block_cache_bytes(order[i]->b);
		if (!had)
			continue;
		block_cache_drop(order[i]->b);
		total -= had;
	}
	free(order);
	pthread_rwlock_unlock(&st->read_lock);
}

size_t store_select_profiles(struct store *st, struct slice tenant, const struct selector *const *sels,
			     size_t n_sels, struct head_range range, head_profile_fn fn, void (*done)(void *ctx),
			     void *ctx)
{
	pthread_rwlock_rdlock(&st->read_lock);
	size_t n = head_select_profiles_locked(st->head, tenant, sels, n_sels, range, fn, done, ctx);
	if (st->frozen)
		n += head_select_profiles_locked(st->frozen, tenant, sels, n_sels, range, fn, done, ctx);
	for (size_t i = 0; i < st->n_blocks; i++) {
		struct store_block *sb = &st->blocks[i];
		if (!slice_eq_cstr(tenant, sb->tenant) || !block_in_range(block_meta(sb->b), range))
			continue;
		__atomic_store_n(&sb->last_used, mono_ns(), __ATOMIC_RELAXED);
		char err[512];
		long got = block_select_profiles(sb->b, sels, n_sels, range, fn, done, ctx, err, sizeof(err));
		if (got < 0) {
			__atomic_add_fetch(&st->corrupt_blocks, 1, __ATOMIC_RELAXED);
			log_error("msg=\"skipping corrupt block in a query\" block=%s err=\"%s\"", block_meta(sb->b)->ulid,
				  err);
			continue;
		}
		n += (size_t)got;
	}
	pthread_rwlock_unlock(&st->read_lock);
	trim_block_cache(st);
	return n;
}

void store_tenant_stats(struct store *st, struct slice tenant, struct head_tenant_stats *out)
{
	pthread_rwlock_rdlock(&st->read_lock);
	head_tenant_stats(st->head, tenant, out);
	struct head_tenant_stats f;
	memset(&f, 0, sizeof(f));
	if (st->frozen)
		head_tenant_stats(st->frozen, tenant, &f);
	bool any = out->data_ingested;
	int64_t oldest = out->oldest_ns, newest = out->newest_ns;
	if (f.data_ingested) {
		oldest = any ? EMBER_MIN(oldest, f.oldest_ns) : f.oldest_ns;
		newest = any ? EMBER_MAX(newest, f.newest_ns) : f.newest_ns;
		any = true;
	}
	out->series += f.series;
	out->profiles += f.profiles;
	out->samples += f.samples;
	for (size_t i = 0; i < st->n_blocks; i++) {
		if (!slice_eq_cstr(tenant, st->blocks[i].tenant))
			continue;
		const struct block_meta *m = block_meta(st->blocks[i].b);
		oldest = any ? EMBER_MIN(oldest, m->min_time_ns) : m->min_time_ns;
		newest = any ? EMBER_MAX(newest, m->max_time_ns) : m->max_time_ns;
		any = true;
		out->series += m->n_series;
		out->profiles += m->n_profiles;
		out->samples += m->n_samples;
	}
	out->data_ingested = any;
	out->oldest_ns = any ? oldest : 0;
	out->newest_ns = any ? newest : 0;
	pthread_rwlock_unlock(&st->read_lock);
}

void store_stats(struct store *st, struct store_stats *out)
{
	memset(out, 0, sizeof(*out));
	pthread_rwlock_rdlock(&st->read_lock);
	head_stats(st->head, &out->head);
	if (st->frozen) {
		struct head_stats f;
		head_stats(st->frozen, &f);
		out->head.series += f.series;
		out->head.profiles += f.profiles;
		out->head.samples += f.samples;
		out->head.symbol_bytes += f.symbol_bytes;
		out->head.profile_bytes += f.profile_bytes;
	}
	out->blocks = st->n_blocks;
	for (size_t i = 0; i < st->n_blocks; i++)
		out->block_profiles += block_meta(st->blocks[i].b)->n_profiles;
	out->block_cache_bytes = block_cache_total(st);
	pthread_rwlock_unlock(&st->read_lock);
	out->flushes = __atomic_load_n(&st->flushes, __ATOMIC_RELAXED);
	out->flush_failures = __atomic_load_n(&st->flush_failures, __ATOMIC_RELAXED);
	out->corrupt_blocks = __atomic_load_n(&st->corrupt_blocks, __ATOMIC_RELAXED);
	out->compactions = __atomic_load_n(&st->compactions, __ATOMIC_RELAXED);
	out->compaction_failures = __atomic_load_n(&st->compaction_failures, __ATOMIC_RELAXED);
	out->blocks_marked = __atomic_load_n(&st->blocks_marked, __ATOMIC_RELAXED);
	out->blocks_deleted = __atomic_load_n(&st->blocks_deleted, __ATOMIC_RELAXED);
}

/* ---- compaction, retention, deletion (docs/internals/compaction.md) --------------------- */

struct listed_block {
	struct block *b;
	char *tenant;
};

/* Marks a block for deletion: locally, then in the bucket (S3). */
static int mark_block(struct store *st, const char *tenant, const char *ulid, int64_t now_s, const char *details,
		      char *err, size_t errlen)
{
	char *dir = xasprintf("%s/blocks/%s/%s", st->dir, tenant, ulid);
	struct stat sb;
	/* A block read from the bucket in place has no local copy to mark. */
	bool local = !st->remote || stat(dir, &sb) == 0;
	int rc = local ? mark_write_local(dir, ulid, now_s, details) : 0;
	if (rc)
		snprintf(err, errlen, "cannot write %s/%s: %s", dir, MARK_FILE, strerror(errno));
	if (!rc && st->remote) {
		struct buf b = BUF_INIT;
		mark_format(ulid, now_s, details, &b);
		char *key = xasprintf("blocks/%s/%s/%s", tenant, ulid, MARK_FILE);
		if ((rc = objstore_put(st->cfg.bucket, key, slice_make(b.p, b.n))) != 0)
			snprintf(err, errlen, "uploading %s: %s", key, objstore_errmsg());
		free(key);
		buf_release(&b);
	}
	free(dir);
	if (!rc) {
		__atomic_add_fetch(&st->blocks_marked, 1, __ATOMIC_RELAXED);
		log_info("msg=\"block marked for deletion\" tenant=\"%s\" block=%s details=\"%s\"", tenant, ulid, details);
	}
	return rc;
}

/* Readers stop seeing gone[0..n) and start seeing nb (may be NULL) at one instant; the
 * removed blocks are closed once no reader can hold them (after the exclusive lock). */
static void swap_blocks(struct store *st, struct block *const *gone, size_t n, struct block *nb, const char *tenant)
{
	pthread_rwlock_wrlock(&st->read_lock);
	size_t w = 0;
	for (size_t i = 0; i < st->n_blocks; i++) {
		bool drop = false;
		for (size_t k = 0; k < n && !drop; k++)
			drop = st->blocks[i].b == gone[k];
		if (drop)
			free(st->blocks[i].tenant);
		else
			st->blocks[w++] = st->blocks[i];
	}
	st->n_blocks = w;
	if (nb)
		add_block(st, nb, tenant);
	pthread_rwlock_unlock(&st->read_lock);
	for (size_t k = 0; k < n; k++)
		block_close(gone[k]);
}

static bool has_source(const struct block_meta *m, const char *ulid)
{
	for (size_t i = 0; i < m->n_sources; i++)
		if (!strcmp(m->sources[i], ulid))
			return true;
	return false;
}

/* Leftovers of a crash: unfinished block writes (.tmp-*), deletions (.deleting-*) and
 * downloads (*.download). Only at open, when no flush or compaction runs. */
static void clean_leftovers(struct store *st)
{
	char *root = xasprintf("%s/blocks", st->dir);
	DIR *d = opendir(root);
	struct dirent *te;
	while (d && (te = readdir(d))) {
		if (te->d_name[0] == '.')
			continue;
		char *tdir = xasprintf("%s/%s", root, te->d_name);
		DIR *td = opendir(tdir);
		struct dirent *be;
		while (td && (be = readdir(td))) {
			size_t l = strlen(be->d_name);
			if (strncmp(be->d_name, ".tmp-", 5) != 0 && strncmp(be->d_name, ".deleting-", 10) != 0 &&
			    !(l > 9 && !strcmp(be->d_name + l - 9, ".download")))
				continue;
			char *p = xasprintf("%s/%s", tdir, be->d_name);
			if (mark_rm_rf(p))
				log_warn("msg=\"cannot remove a leftover directory\" path=\"%s\"", p);
			free(p);
		}
		if (td)
			closedir(td);
		free(tdir);
	}
	if (d)
		closedir(d);
	free(root);
}

/* A compaction that crashed after writing its block but before marking every source
 * leaves blocks whose data is also in the new block. The rule, applied at open before
 * anything reads: a block is superseded when another block of the tenant lists all of
 * its sources and more, or exactly the same sources with a greater ULID; superseded
 * blocks are marked and not read. Compactions never leave two blocks sharing only some
 * sources (the next round starts from the resolved state), so the rule is complete. */
static void resolve_superseded(struct store *st)
{
	clean_leftovers(st);
	size_t n = st->n_blocks;
	struct block **gone = xcalloc(n + 1, sizeof(*gone));
	size_t n_gone = 0;
	for (size_t i = 0; i < n; i++) {
		const struct block_meta *a = block_meta(st->blocks[i].b);
		for (size_t j = 0; j < n; j++) {
			if (j == i || strcmp(st->blocks[i].tenant, st->blocks[j].tenant) != 0)
				continue;
			const struct block_meta *b = block_meta(st->blocks[j].b);
			size_t shared = 0;
			for (size_t k = 0; k < a->n_sources; k++)
				shared += has_source(b, a->sources[k]);
			if (!shared)
				continue;
			bool covered = shared == a->n_sources &&
				       (b->n_sources > a->n_sources || strcmp(b->ulid, a->ulid) > 0);
			if (covered) {
				char details[128], err[600];
				snprintf(details, sizeof(details), "superseded by %s (compaction finished at restart)", b->ulid);
				if (mark_block(st, st->blocks[i].tenant, a->ulid, time(NULL), details, err, sizeof(err)))
					log_warn("msg=\"cannot mark a superseded block; it is skipped anyway\" err=\"%s\"", err);
				gone[n_gone++] = st->blocks[i].b;
				break;
			}
			if (shared < a->n_sources && shared < b->n_sources)
				log_error("msg=\"two blocks share some sources; their data may be counted twice\" "
					  "a=%s b=%s",
					  a->ulid, b->ulid);
		}
	}
	if (n_gone)
		swap_blocks(st, gone, n_gone, NULL, NULL);
	free(gone);
}

static void progress(const struct store_compact_options *o, const char *fmt, ...) EMBER_PRINTF(2, 3);
static void progress(const struct store_compact_options *o, const char *fmt, ...)
{
	char line[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_info("msg=\"compactor\" progress=\"%s\"", line);
	if (o->progress)
		o->progress(o->progress_ctx, line);
}

static void progress_cb(void *ctx, const char *line)
{
	progress(ctx, "%s", line);
}

static void set_err(int *first, int rc, char *err, size_t errlen, const char *msg)
{
	if (!*first) {
		*first = rc;
		snprintf(err, errlen, "%s", msg);
	}
}

struct key_list {
	char **v;
	size_t n, cap;
};

static int key_list_cb(void *ctx, const char *key, uint64_t size)
{
	(void)size;
	struct key_list *kl = ctx;
	XGROW(kl->v, kl->cap, kl->n + 1);
	kl->v[kl->n++] = xstrdup(key);
	return 0;
}

static void key_list_release(struct key_list *kl)
{
	for (size_t i = 0; i < kl->n; i++)
		free(kl->v[i]);
	free(kl->v);
	memset(kl, 0, sizeof(*kl));
}

/* Deletes a block's objects from the bucket: meta.json first (a listing stops showing
 * the block), the mark last (until then the leftovers are still known to be garbage). */
static int delete_bucket_block(struct store *st, const char *tenant, const char *ulid)
{
	char *prefix = xasprintf("blocks/%s/%s/", tenant, ulid);
	struct key_list kl = {0};
	int rc = objstore_list(st->cfg.bucket, prefix, key_list_cb, &kl);
	for (int pass = 0; pass < 3 && !rc; pass++) {
		for (size_t i = 0; i < kl.n && !rc; i++) {
			const char *file = kl.v[i] + strlen(prefix);
			int want = !strcmp(file, "meta.json") ? 0 : !strcmp(file, MARK_FILE) ? 2 : 1;
			if (want == pass)
				rc = objstore_delete(st->cfg.bucket, kl.v[i]);
		}
	}
	key_list_release(&kl);
	free(prefix);
	return rc;
}

/* Deletes every block of tenant (NULL: all) marked at least delay ago: the local copy
 * first, then the bucket's objects (so a crash in between leaves a marked block in the
 * bucket, which is never downloaded nor uploaded again, and is deleted next time). */
static size_t delete_marked(struct store *st, const char *tenant, int64_t now, int64_t delay, int *first_rc,
			    char *err, size_t errlen)
{
	size_t deleted = 0;
	char *root = xasprintf("%s/blocks", st->dir);
	DIR *d = opendir(root);
	struct dirent *te;
	while (d && (te = readdir(d))) {
		if (te->d_name[0] == '.' || (tenant && strcmp(tenant, te->d_name) != 0))
			continue;
		char *tdir = xasprintf("%s/%s", root, te->d_name);
		DIR *td = opendir(tdir);
		struct dirent *be;
		while (td && (be = readdir(td))) {
			if (!is_ulid(be->d_name))
				continue;
			char *bdir = xasprintf("%s/%s", tdir, be->d_name);
			int64_t t_s;
			int mrc = mark_read_local(bdir, &t_s);
			if (mrc == EMBER_ECORRUPT)
				t_s = 0; /* a torn mark: the block was being retired; old enough */
			if (mrc != EMBER_ENOTFOUND && mrc != EMBER_EIO && now - t_s * 1000000000LL >= delay) {
				int rc = mark_remove_dir(bdir);
				if (!rc && st->remote)
					rc = delete_bucket_block(st, te->d_name, be->d_name);
				if (rc) {
					char msg[700];
					snprintf(msg, sizeof(msg), "deleting block %s: %s", bdir,
						 st->remote ? objstore_errmsg() : strerror(errno));
					set_err(first_rc, rc, err, errlen, msg);
				} else {
					deleted++;
					log_info("msg=\"deleted marked block\" tenant=\"%s\" block=%s", te->d_name, be->d_name);
				}
			}
			free(bdir);
		}
		if (td)
			closedir(td);
		free(tdir);
	}
	if (d)
		closedir(d);
	free(root);
	if (!st->remote)
		goto out;
	/* Marked blocks that are only in the bucket (the local copy went first). */
	struct key_list kl = {0};
	if (objstore_list(st->cfg.bucket, "blocks/", key_list_cb, &kl) == 0) {
		for (size_t i = 0; i < kl.n; i++) {
			char *k = kl.v[i];
			size_t l = strlen(k), ml = strlen(MARK_FILE);
			if (l < ml + 1 || strcmp(k + l - ml, MARK_FILE) != 0)
				continue;
			char *rest = k + strlen("blocks/");
			char *s1 = strchr(rest, '/');
			if (!s1 || (size_t)(k + l - ml - 1 - (s1 + 1)) != BLOCK_ULID_LEN)
				continue;
			char *tn = xstrndup(rest, (size_t)(s1 - rest));
			char *ulid = xstrndup(s1 + 1, BLOCK_ULID_LEN);
			char *local = xasprintf("%s/blocks/%s/%s", st->dir, tn, ulid);
			struct stat sb;
			struct buf mb = BUF_INIT;
			int64_t t_s = 0;
			if ((!tenant || !strcmp(tenant, tn)) && stat(local, &sb) != 0 &&
			    objstore_get(st->cfg.bucket, k, &mb) == 0 &&
			    (mark_parse(slice_make(mb.p, mb.n), &t_s) == 0 || (t_s = 0, true)) &&
			    now - t_s * 1000000000LL >= delay) {
				if (delete_bucket_block(st, tn, ulid) == 0)
					deleted++;
				else
					set_err(first_rc, EMBER_EIO, err, errlen, objstore_errmsg());
			}
			buf_release(&mb);
			free(tn);
			free(ulid);
			free(local);
		}
	}
	key_list_release(&kl);
out:
	__atomic_add_fetch(&st->blocks_deleted, deleted, __ATOMIC_RELAXED);
	return deleted;
}

static int tenant_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Fault injection for tests/integ/test_compaction.py: EMBER_TEST_COMPACT_PAUSE_MS widens
 * the window between a new block being durable and its sources being marked, so that a
 * kill -9 at a random moment often lands in it. Unset in production: no effect. */
static void test_pause(void)
{
	static int ms = -1;
	if (ms < 0) {
		const char *e = getenv("EMBER_TEST_COMPACT_PAUSE_MS");
		ms = e ? atoi(e) : 0;
		ms = ms < 0 ? 0 : ms;
	}
	if (ms)
		usleep((useconds_t)ms * 1000);
}

/* Runs one planned job of tenant: writes the merged block, makes it durable in the
 * bucket, marks the sources, then swaps. */
static int run_job(struct store *st, const struct store_compact_options *o, const char *tenant,
		   struct block *const *srcs, size_t n, int64_t now, struct store_compact_result *r, char *err,
		   size_t errlen)
{
	char *dir = xasprintf("%s/blocks/%s", st->dir, tenant);
	char *path = NULL;
	struct block *nb = NULL;
	struct block_meta meta;
	struct compact_stats cs;
	struct compact_options co = {.dir = dir, .progress = progress_cb, .progress_ctx = (void *)o};
	int rc = compact_blocks(srcs, n, &co, &meta, &cs, err, errlen);
	if (rc)
		goto out;
	path = xasprintf("%s/%s", dir, meta.ulid);
	if (st->remote && (rc = upload_block(st, tenant, meta.ulid, path, err, errlen)) != 0) {
		/* Not durable where it counts: drop it, the sources stay. */
		if (mark_rm_rf(path))
			log_warn("msg=\"cannot remove an unuploaded block\" path=\"%s\"", path);
		goto out_meta;
	}
	if ((rc = block_open(path, &nb, err, errlen)) != 0)
		goto out_meta;
	/* The new block is durable: only now may the sources be marked. A failed mark is
	 * logged; store_open resolves it (the new block lists the source). */
	test_pause();
	for (size_t i = 0; i < n; i++) {
		test_pause();
		char details[128], merr[600];
		snprintf(details, sizeof(details), "compacted into %s", meta.ulid);
		if (mark_block(st, tenant, block_meta(srcs[i])->ulid, now / 1000000000LL, details, merr, sizeof(merr)))
			log_warn("msg=\"cannot mark a compacted source\" err=\"%s\"", merr);
	}
	swap_blocks(st, srcs, n, nb, tenant);
	r->compactions++;
	r->blocks_compacted += n;
	r->duplicates += cs.duplicates;
	__atomic_add_fetch(&st->compactions, 1, __ATOMIC_RELAXED);
	progress(o, "tenant %s: %zu blocks -> %s (level %u, %llu profiles, %llu identical dropped)", tenant, n,
		 meta.ulid, meta.level, (unsigned long long)meta.n_profiles, (unsigned long long)cs.duplicates);
out_meta:
	block_meta_release(&meta);
out:
	free(path);
	free(dir);
	return rc;
}

int store_compact(struct store *st, const struct store_compact_options *o, struct store_compact_result *res,
		  char *err, size_t errlen)
{
	struct store_compact_result r;
	memset(&r, 0, sizeof(r));
	int first_rc = 0;
	int64_t now = o->now_ns ? o->now_ns : now_ns();
	pthread_mutex_lock(&st->compact_mutex);
	/* Blocks are only removed under compact_mutex, so these pointers stay valid for the
	 * round even as flushes add blocks. */
	pthread_rwlock_rdlock(&st->read_lock);
	size_t n = st->n_blocks;
	struct listed_block *list = xcalloc(n + 1, sizeof(*list));
	for (size_t i = 0; i < n; i++)
		list[i] = (struct listed_block){st->blocks[i].b, xstrdup(st->blocks[i].tenant)};
	pthread_rwlock_unlock(&st->read_lock);
	char **tenants = xcalloc(n + 1, sizeof(*tenants));
	size_t n_tenants = 0;
	for (size_t i = 0; i < n; i++) {
		if (o->tenant && strcmp(o->tenant, list[i].tenant) != 0)
			continue;
		bool seen = false;
		for (size_t k = 0; k < n_tenants && !seen; k++)
			seen = !strcmp(tenants[k], list[i].tenant);
		if (!seen)
			tenants[n_tenants++] = list[i].tenant;
	}
	sort_n(tenants, n_tenants, sizeof(*tenants), tenant_cmp);
	struct block **srcs = xcalloc(n + 1, sizeof(*srcs));
	struct compact_plan_block *pb = xcalloc(n + 1, sizeof(*pb));
	size_t *pidx = xcalloc(n + 1, sizeof(*pidx));
	for (size_t t = 0; t < n_tenants; t++) {
		const char *tenant = tenants[t];
		int64_t retention = o->retention_ns;
		for (size_t k = 0; k < o->n_overrides; k++)
			if (!strcmp(o->overrides[k].tenant, tenant))
				retention = o->overrides[k].retention_ns;
		/* Retention: blocks whose newest profile is older than now - retention. */
		for (size_t i = 0; i < n && retention > 0; i++) {
			if (!list[i].b || strcmp(list[i].tenant, tenant) != 0)
				continue;
			const struct block_meta *m = block_meta(list[i].b);
			if (m->max_time_ns >= now - retention)
				continue;
			char details[128], merr[600];
			snprintf(details, sizeof(details), "retention: newest profile older than the %llds retention period",
				 (long long)(retention / 1000000000LL));
			if (mark_block(st, tenant, m->ulid, now / 1000000000LL, details, merr, sizeof(merr))) {
				set_err(&first_rc, EMBER_EIO, err, errlen, merr);
				continue;
			}
			progress(o, "tenant %s: block %s is past the retention period; marked", tenant, m->ulid);
			swap_blocks(st, &list[i].b, 1, NULL, NULL);
			list[i].b = NULL;
			r.retention_marked++;
		}
		if (o->no_compaction)
			continue;
		size_t np = 0;
		for (size_t i = 0; i < n; i++) {
			if (!list[i].b || strcmp(list[i].tenant, tenant) != 0)
				continue;
			const struct block_meta *m = block_meta(list[i].b);
			pb[np] = (struct compact_plan_block){m->min_time_ns, m->max_time_ns, m->level, m->ulid};
			pidx[np++] = i;
		}
		struct compact_plan plan;
		compact_plan(pb, np, o->ranges_ns, o->n_ranges, &plan);
		if (plan.n_jobs)
			progress(o, "tenant %s: %zu blocks, %zu compaction jobs", tenant, np, plan.n_jobs);
		for (size_t j = 0; j < plan.n_jobs; j++) {
			const struct compact_job *job = &plan.jobs[j];
			for (size_t k = 0; k < job->n; k++)
				srcs[k] = list[pidx[job->blocks[k]]].b;
			if (job->overlap)
				progress(o, "tenant %s: job %zu/%zu: %zu overlapping blocks", tenant, j + 1, plan.n_jobs,
					 job->n);
			else
				progress(o, "tenant %s: job %zu/%zu: %zu blocks in a %llds window", tenant, j + 1,
					 plan.n_jobs, job->n,
					 (long long)((job->range_end - job->range_start) / 1000000000LL));
			char jerr[600];
			int rc = run_job(st, o, tenant, srcs, job->n, now, &r, jerr, sizeof(jerr));
			if (rc) {
				__atomic_add_fetch(&st->compaction_failures, 1, __ATOMIC_RELAXED);
				log_error("msg=\"compaction failed; the sources stay\" tenant=\"%s\" err=\"%s\"", tenant, jerr);
				set_err(&first_rc, rc, err, errlen, jerr);
				continue;
			}
			for (size_t k = 0; k < job->n; k++)
				list[pidx[job->blocks[k]]].b = NULL; /* closed by the swap */
		}
		compact_plan_release(&plan);
	}
	r.deleted = delete_marked(st, o->tenant, now, o->deletion_delay_ns, &first_rc, err, errlen);
	if (r.deleted)
		progress(o, "deleted %zu marked blocks", r.deleted);
	pthread_mutex_unlock(&st->compact_mutex);
	for (size_t i = 0; i < n; i++)
		free(list[i].tenant);
	free(list);
	free(tenants);
	free(srcs);
	free(pb);
	free(pidx);
	if (res)
		*res = r;
	return first_rc;
}

#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "util/log.h"

/* One block readers can see. */
struct store_block {
	struct block *b;
	char *tenant;
	uint64_t wal_segment; /* the WAL segments <= this are in the block (0: none) */
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

/* Downloads a block from the bucket into path (via a temporary directory and a rename). */
static int download_block(struct store *st, const char *tenant, const char *ulid, const char *path)
{
	int rc = 0;
	char *tmp = xasprintf("%s.download", path);
	if (mkdir_p(tmp)) {
		rc = EMBER_EIO;
		goto out;
	}
	for (size_t i = 0; i < EMBER_ARRAY_LEN(block_files) && !rc; i++) {
		char *key = xasprintf("blocks/%s/%s/%s", tenant, ulid, block_files[i]);
		char *file = xasprintf("%s/%s", tmp, block_files[i]);
		struct buf b = BUF_INIT;
		rc = objstore_get(st->cfg.bucket, key, &b);
		FILE *f = rc ? NULL : fopen(file, "wb");
		bool ok = f && fwrite(b.p, 1, b.n, f) == b.n && fflush(f) == 0 && fsync(fileno(f)) == 0;
		if (f)
			ok = fclose(f) == 0 && ok;
		if (!ok) {
			log_warn("msg=\"cannot download block file\" key=\"%s\" err=\"%s\"", key,
				 rc ? objstore_errmsg() : strerror(errno));
			rc = rc ? rc : EMBER_EIO;
		}
		buf_release(&b);
		free(key);
		free(file);
	}
	if (!rc && rename(tmp, path))
		rc = EMBER_EIO;
out:
	free(tmp);
	return rc;
}

/* ---- loading blocks ------------------------------------------------------------------- */

static void add_block(struct store *st, struct block *b, const char *tenant)
{
	XGROW(st->blocks, st->cap_blocks, st->n_blocks + 1);
	struct store_block *sb = &st->blocks[st->n_blocks++];
	sb->b = b;
	sb->tenant = xstrdup(tenant);
	sb->wal_segment = block_meta(b)->wal_segment;
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

struct bucket_scan {
	struct store *st;
	char **keys; /* "tenant/ULID" of every block whose meta.json is in the bucket */
	size_t n, cap;
};

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
	if (!slash2 || strcmp(slash2 + 1, "meta.json") != 0 || slash2 - slash1 - 1 != BLOCK_ULID_LEN)
		return 0;
	XGROW(bs->keys, bs->cap, bs->n + 1);
	bs->keys[bs->n++] = xstrndup(rest, (size_t)(slash2 - rest));
	return 0;
}

/* Makes every block in the bucket available locally, uploads local blocks the bucket
 * lacks (a crash between writing and uploading), then opens them all. */
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
		for (size_t i = 0; i < bs.n; i++) {
			char *path = xasprintf("%s/%s", root, bs.keys[i]);
			struct stat sb;
			if (stat(path, &sb) != 0) {
				char *slash = strchr(bs.keys[i], '/');
				*slash = '\0';
				char *tdir = xasprintf("%s/%s", root, bs.keys[i]);
				if (mkdir_p(tdir) || download_block(st, bs.keys[i], slash + 1, path))
					log_error("msg=\"cannot download block\" tenant=\"%s\" block=%s", bs.keys[i], slash + 1);
				*slash = '/';
				free(tdir);
			}
			free(path);
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
out:
	if (d)
		closedir(d);
	for (size_t i = 0; i < bs.n; i++)
		free(bs.keys[i]);
	free(bs.keys);
	free(root);
	return rc;
}

int store_open(const struct store_config *cfg, struct store **out, char *err, size_t errlen)
{
	struct store *st = xcalloc(1, sizeof(*st));
	st->cfg = *cfg;
	st->dir = xstrdup(cfg->dir);
	st->remote = cfg->bucket && strcmp(objstore_backend(cfg->bucket), "filesystem") != 0;
	pthread_rwlock_init(&st->write_lock, NULL);
	pthread_rwlock_init(&st->read_lock, NULL);
	pthread_mutex_init(&st->flush_mutex, NULL);
	st->head = head_new(&cfg->head);
	st->head_created_ns = now_ns();
	int rc = load_blocks(st, err, errlen);
	if (rc) {
		store_close(st);
		return rc;
	}
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
	pthread_rwlock_unlock(&st->read_lock);
	out->flushes = __atomic_load_n(&st->flushes, __ATOMIC_RELAXED);
	out->flush_failures = __atomic_load_n(&st->flush_failures, __ATOMIC_RELAXED);
	out->corrupt_blocks = __atomic_load_n(&st->corrupt_blocks, __ATOMIC_RELAXED);
}

/* block_read: opening a block (meta.json and index eagerly), lazy loading of partition
 * symbols (cached for the block's life) and per-series profile sections (read when a query
 * needs them), selection, and verification. The bytes come through a struct
 * block_source_io: a local directory (pread) or a bucket (objstore ranged GETs); every
 * check is the same for both. */
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/selector.h"
#include "objstore/objstore.h"
#include "store/block_internal.h"
#include "util/crc32c.h"

struct block {
	char *path;                  /* directory, or key prefix in the bucket */
	struct block_source_io io;
	struct block_meta meta;
	struct block_index ix;
	pthread_mutex_t lock;        /* guards the lazy state below */
	bool files_open;
	int files_rc;                /* sticky failure of opening symbols/profiles */
	char files_err[256];
	struct symbols **syms;       /* per partition; NULL until loaded */
	int *sym_rc;                 /* per partition: sticky failure */
	char (*sym_err)[256];
	struct block_io_stats stats;
};

/* ---- where the bytes come from -------------------------------------------------------- */

/* Local directory: symbols and profiles are opened once (on first use, under io->lock)
 * and read with pread by any thread afterwards. */
struct local_io {
	char *path;
	pthread_mutex_t lock;
	int fd[2]; /* symbols, profiles */
};

static int data_slot(const char *file)
{
	return !strcmp(file, "symbols") ? 0 : !strcmp(file, "profiles") ? 1 : -1;
}

static int open_file(const char *dir, const char *file, int *fdp, char *err, size_t errlen)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", file, strerror(e));
		return e == ENOENT ? EMBER_ECORRUPT : EMBER_EIO;
	}
	*fdp = fd;
	return 0;
}

/* The descriptor of symbols or profiles, opened on first use. */
static int local_fd(struct local_io *l, const char *file, int *fdp, char *err, size_t errlen)
{
	int slot = data_slot(file);
	if (slot < 0)
		return open_file(l->path, file, fdp, err, errlen);
	pthread_mutex_lock(&l->lock);
	int rc = 0;
	if (l->fd[slot] < 0)
		rc = open_file(l->path, file, &l->fd[slot], err, errlen);
	*fdp = l->fd[slot];
	pthread_mutex_unlock(&l->lock);
	return rc;
}

static void local_put_fd(const char *file, int fd)
{
	if (data_slot(file) < 0)
		close(fd);
}

static int pread_all(int fd, uint8_t *p, size_t n, uint64_t off)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = pread(fd, p + done, n - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? EMBER_EIO : EMBER_ECORRUPT;
		done += (size_t)r;
	}
	return 0;
}

static int local_read_whole(void *ctx, const char *file, size_t max, struct buf *out, char *err, size_t errlen)
{
	struct local_io *l = ctx;
	int fd;
	int rc = open_file(l->path, file, &fd, err, errlen);
	if (rc)
		return rc;
	rc = EMBER_EIO;
	struct stat st;
	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "%s: fstat: %s", file, strerror(errno));
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		snprintf(err, errlen, "%s: %lld bytes exceeds the %zu-byte limit", file, (long long)st.st_size, max);
		rc = EMBER_ECORRUPT;
		goto out;
	}
	buf_reserve(out, (size_t)st.st_size + 1);
	out->n = 0;
	while (out->n < (size_t)st.st_size) {
		ssize_t r = read(fd, out->p + out->n, (size_t)st.st_size - out->n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "%s: read: %s", file, strerror(errno));
			goto out;
		}
		if (r == 0)
			break; /* shrank meanwhile: what we have is checked like any truncation */
		out->n += (size_t)r;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

static int local_size(void *ctx, const char *file, uint64_t *size, char *err, size_t errlen)
{
	struct local_io *l = ctx;
	int fd;
	int rc = local_fd(l, file, &fd, err, errlen);
	if (rc)
		return rc;
	struct stat st;
	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "%s: fstat: %s", file, strerror(errno));
		rc = EMBER_EIO;
	} else {
		*size = (uint64_t)st.st_size;
	}
	local_put_fd(file, fd);
	return rc;
}

static int local_read_at(void *ctx, const char *file, uint64_t off, uint64_t len, struct buf *out, char *err,
			 size_t errlen)
{
	struct local_io *l = ctx;
	int fd;
	int rc = local_fd(l, file, &fd, err, errlen);
	if (rc)
		return rc;
	buf_reserve(out, (size_t)len);
	out->n = 0;
	if ((rc = pread_all(fd, out->p, (size_t)len, off)) != 0)
		snprintf(err, errlen, "%s: %s", file, rc == EMBER_EIO ? strerror(errno) : "short read");
	else
		out->n = (size_t)len;
	local_put_fd(file, fd);
	return rc;
}

static void local_close(void *ctx)
{
	struct local_io *l = ctx;
	for (int i = 0; i < 2; i++)
		if (l->fd[i] >= 0)
			close(l->fd[i]);
	pthread_mutex_destroy(&l->lock);
	free(l->path);
	free(l);
}

/* A bucket: `<prefix>/<file>` objects, read whole (meta.json, index) or by ranges. The
 * objstore is borrowed and thread-safe, so no lock is needed here. */
struct remote_io {
	struct objstore *os;
	char *prefix;
};

/* An objstore failure as a block error: a missing file inside a block is corruption, as
 * on disk; every other failure is I/O. */
static int remote_fail(int rc, const char *file, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s", file, rc == EMBER_ENOTFOUND ? "no such object in the bucket" : objstore_errmsg());
	return rc == EMBER_ENOTFOUND ? EMBER_ECORRUPT : EMBER_EIO;
}

static int remote_read_whole(void *ctx, const char *file, size_t max, struct buf *out, char *err, size_t errlen)
{
	struct remote_io *r = ctx;
	char *key = xasprintf("%s/%s", r->prefix, file);
	out->n = 0;
	int rc = objstore_get(r->os, key, out);
	free(key);
	if (rc == EMBER_ENOTFOUND && !strcmp(file, "meta.json")) {
		snprintf(err, errlen, "%s: no such block in the bucket", r->prefix);
		return EMBER_ENOTFOUND; /* what a missing directory is locally */
	}
	if (rc)
		return remote_fail(rc, file, err, errlen);
	if (out->n > max) {
		snprintf(err, errlen, "%s: %zu bytes exceeds the %zu-byte limit", file, out->n, max);
		return EMBER_ECORRUPT;
	}
	return 0;
}

static int remote_size(void *ctx, const char *file, uint64_t *size, char *err, size_t errlen)
{
	struct remote_io *r = ctx;
	char *key = xasprintf("%s/%s", r->prefix, file);
	int rc = objstore_stat(r->os, key, size);
	free(key);
	return rc ? remote_fail(rc, file, err, errlen) : 0;
}

static int remote_read_at(void *ctx, const char *file, uint64_t off, uint64_t len, struct buf *out, char *err,
			  size_t errlen)
{
	struct remote_io *r = ctx;
	char *key = xasprintf("%s/%s", r->prefix, file);
	out->n = 0;
	int rc = len ? objstore_get_range(r->os, key, off, len, out) : 0;
	free(key);
	if (rc == EMBER_EINVAL || (!rc && out->n != len)) {
		/* Past the end: the object is shorter than the index says it is. */
		snprintf(err, errlen, "%s: short read", file);
		out->n = 0;
		return EMBER_ECORRUPT;
	}
	return rc ? remote_fail(rc, file, err, errlen) : 0;
}

static void remote_close(void *ctx)
{
	struct remote_io *r = ctx;
	free(r->prefix);
	free(r);
}

/* ---- opening -------------------------------------------------------------------------- */

int block__open_io(const struct block_source_io *io, const char *name, struct block **out, char *err, size_t errlen)
{
	*out = NULL;
	struct block *b = xcalloc(1, sizeof(*b));
	pthread_mutex_init(&b->lock, NULL);
	b->path = xstrdup(name);
	b->io = *io;
	struct buf meta = BUF_INIT, index = BUF_INIT;
	int rc = io->read_whole(io->ctx, "meta.json", BLOCK_MAX_META, &meta, err, errlen);
	if (rc)
		goto out;
	if ((rc = io->read_whole(io->ctx, "index", (size_t)BLOCK_MAX_SECTION + 1024, &index, err, errlen)) != 0)
		goto out;
	if ((rc = block__parse_index(slice_make(index.p, index.n), &b->ix, err, errlen)) != 0)
		goto out;
	rc = EMBER_ECORRUPT;
	/* The index holds meta.json's checksum: a damaged meta is caught even where it
	 * would still parse. */
	if (crc32c(0, meta.p, meta.n) != b->ix.meta_crc) {
		snprintf(err, errlen, "meta.json: checksum mismatch (the index records another)");
		goto out;
	}
	if ((rc = block_meta_parse(slice_make(meta.p, meta.n), &b->meta, err, errlen)) != 0)
		goto out;
	rc = EMBER_ECORRUPT;
	const struct block_index *ix = &b->ix;
	if (memcmp(b->meta.ulid, ix->ulid, BLOCK_ULID_LEN) != 0 || !slice_eq_cstr(ix->tenant, b->meta.tenant) ||
	    b->meta.min_time_ns != ix->min_t || b->meta.max_time_ns != ix->max_t || b->meta.n_series != ix->n_series ||
	    b->meta.n_profiles != ix->n_profiles || b->meta.n_samples != ix->n_samples) {
		snprintf(err, errlen, "meta.json: does not match the index (ulid, tenant, times or stats)");
		goto out;
	}
	b->syms = xcalloc(ix->n_partitions + 1, sizeof(*b->syms));
	b->sym_rc = xcalloc(ix->n_partitions + 1, sizeof(*b->sym_rc));
	b->sym_err = xcalloc(ix->n_partitions + 1, sizeof(*b->sym_err));
	*out = b;
	b = NULL;
	rc = 0;
out:
	buf_release(&meta);
	buf_release(&index);
	block_close(b);
	return rc;
}

int block_open(const char *path, struct block **out, char *err, size_t errlen)
{
	*out = NULL;
	struct stat st;
	if (stat(path, &st) != 0) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, e == ENOENT ? "no such block" : strerror(e));
		return e == ENOENT ? EMBER_ENOTFOUND : EMBER_EIO;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a block directory", path);
		return EMBER_ECORRUPT;
	}
	struct local_io *l = xcalloc(1, sizeof(*l));
	l->path = xstrdup(path);
	l->fd[0] = l->fd[1] = -1;
	pthread_mutex_init(&l->lock, NULL);
	struct block_source_io io = {.read_whole = local_read_whole, .size = local_size, .read_at = local_read_at,
				     .close = local_close, .ctx = l};
	return block__open_io(&io, path, out, err, errlen);
}

int block_open_remote(struct objstore *os, const char *prefix, struct block **out, char *err, size_t errlen)
{
	*out = NULL;
	char *probe = xasprintf("%s/meta.json", prefix);
	int rc = objstore_key_check(probe);
	free(probe);
	if (rc) {
		snprintf(err, errlen, "%s: not a valid block prefix: %s", prefix, objstore_errmsg());
		return EMBER_EINVAL;
	}
	struct remote_io *r = xcalloc(1, sizeof(*r));
	r->os = os;
	r->prefix = xstrdup(prefix);
	struct block_source_io io = {.read_whole = remote_read_whole, .size = remote_size, .read_at = remote_read_at,
				     .close = remote_close, .ctx = r};
	return block__open_io(&io, prefix, out, err, errlen);
}

const struct block_meta *block_meta(const struct block *b)
{
	return &b->meta;
}

void block_close(struct block *b)
{
	if (!b)
		return;
	if (b->syms) {
		for (size_t i = 0; i < b->ix.n_partitions; i++) {
			if (b->syms[i]) {
				symbols_release(b->syms[i]);
				free(b->syms[i]);
			}
		}
	}
	free(b->syms);
	free(b->sym_rc);
	free(b->sym_err);
	if (b->io.close)
		b->io.close(b->io.ctx);
	block__index_release(&b->ix);
	block_meta_release(&b->meta);
	pthread_mutex_destroy(&b->lock);
	free(b->path);
	free(b);
}

size_t block_cache_bytes(struct block *b)
{
	size_t n = 0;
	pthread_mutex_lock(&b->lock);
	for (size_t i = 0; b->syms && i < b->ix.n_partitions; i++)
		if (b->syms[i])
			n += symbols_bytes(b->syms[i]);
	pthread_mutex_unlock(&b->lock);
	return n;
}

void block_cache_drop(struct block *b)
{
	pthread_mutex_lock(&b->lock);
	for (size_t i = 0; b->syms && i < b->ix.n_partitions; i++) {
		if (b->syms[i]) {
			symbols_release(b->syms[i]);
			free(b->syms[i]);
			b->syms[i] = NULL;
		}
	}
	pthread_mutex_unlock(&b->lock);
}

void block__io_stats(struct block *b, struct block_io_stats *out)
{
	pthread_mutex_lock(&b->lock);
	*out = b->stats;
	pthread_mutex_unlock(&b->lock);
}

/* ---- lazy loading ------------------------------------------------------------------- */

/* Checks the size (against the index's) and the header of symbols or profiles. */
static int open_data(struct block *b, const char *name, const char *magic, uint64_t size, char *err, size_t errlen)
{
	uint64_t have;
	int rc = b->io.size(b->io.ctx, name, &have, err, errlen);
	if (rc)
		return rc;
	if (have != size) {
		snprintf(err, errlen, "%s: %llu bytes, the index says %llu", name, (unsigned long long)have,
			 (unsigned long long)size);
		return EMBER_ECORRUPT;
	}
	struct buf h = BUF_INIT;
	if ((rc = b->io.read_at(b->io.ctx, name, 0, BLOCK_FILE_HEADER, &h, err, errlen)) != 0) {
		if (rc == EMBER_ECORRUPT)
			snprintf(err, errlen, "%s: cannot read the header", name);
	} else {
		rc = block__check_file_header(slice_make(h.p, h.n), name, magic, err, errlen);
	}
	buf_release(&h);
	return rc;
}

/* Called with b->lock held. */
static int ensure_files(struct block *b, char *err, size_t errlen)
{
	if (!b->files_open) {
		b->files_open = true;
		b->files_rc = open_data(b, "symbols", BLOCK_MAGIC_SYMBOLS, b->ix.symbols_size, b->files_err,
					sizeof(b->files_err));
		if (!b->files_rc)
			b->files_rc = open_data(b, "profiles", BLOCK_MAGIC_PROFILES, b->ix.profiles_size, b->files_err,
						sizeof(b->files_err));
	}
	int rc = b->files_rc;
	if (rc)
		snprintf(err, errlen, "%s", b->files_err);
	if (rc == EMBER_EIO)
		b->files_open = false; /* an I/O error (e.g. the bucket unreachable) is retried next time */
	return rc;
}

/* Reads the section at (off, len) of file into out (raw, decompressed). */
static int read_section_at(struct block *b, const char *name, const char *what, uint64_t off, uint64_t len,
			   struct buf *tmp, struct buf *out, char *err, size_t errlen)
{
	char ierr[200];
	int rc = b->io.read_at(b->io.ctx, name, off, len, tmp, ierr, sizeof(ierr));
	if (rc) {
		/* ierr is "<file>: <reason>"; keep the section in the message. */
		const char *why = strncmp(ierr, name, strlen(name)) == 0 && ierr[strlen(name)] == ':'
					  ? ierr + strlen(name) + 2
					  : ierr;
		snprintf(err, errlen, "%s: %s: %s", name, what, why);
		return rc;
	}
	return block__read_section(slice_make(tmp->p, tmp->n), name, what, out, err, errlen);
}

/* The loaded symbols of partition i, loading them on first use. */
static int partition_syms(struct block *b, uint32_t i, const struct symbols **out, char *err, size_t errlen)
{
	pthread_mutex_lock(&b->lock);
	int rc = ensure_files(b, err, errlen);
	if (rc)
		goto out;
	if (!b->syms[i] && !b->sym_rc[i]) {
		struct buf tmp = BUF_INIT, raw = BUF_INIT;
		char what[32];
		snprintf(what, sizeof(what), "partition %u", i);
		const struct block_ix_partition *p = &b->ix.partitions[i];
		struct symbols *s = xmalloc(sizeof(*s));
		rc = read_section_at(b, "symbols", what, p->off, p->len, &tmp, &raw, b->sym_err[i],
				     sizeof(b->sym_err[i]));
		if (!rc)
			rc = block__parse_symbols(slice_make(raw.p, raw.n), i, s, b->sym_err[i], sizeof(b->sym_err[i]));
		if (rc)
			free(s);
		else
			b->syms[i] = s;
		/* Corruption is cached; an I/O error (e.g. the bucket unreachable) is not: the
		 * next query tries again. */
		if (rc != EMBER_EIO)
			b->sym_rc[i] = rc;
		b->stats.symbol_sections++;
		buf_release(&tmp);
		buf_release(&raw);
		if (rc == EMBER_EIO) {
			snprintf(err, errlen, "%s", b->sym_err[i]);
			goto out;
		}
	}
	rc = b->sym_rc[i];
	if (rc)
		snprintf(err, errlen, "%s", b->sym_err[i]);
	*out = b->syms[i];
out:
	pthread_mutex_unlock(&b->lock);
	return rc;
}

static int load_series(struct block *b, uint32_t i, const struct symbols **syms, struct block_series_data *d,
		       char *err, size_t errlen)
{
	const struct block_ix_series *s = &b->ix.series[i];
	int rc = partition_syms(b, s->partition, syms, err, errlen);
	if (rc)
		return rc;
	struct buf tmp = BUF_INIT, raw = BUF_INIT;
	char what[32];
	snprintf(what, sizeof(what), "series %u", i);
	rc = read_section_at(b, "profiles", what, s->off, s->len, &tmp, &raw, err, errlen);
	pthread_mutex_lock(&b->lock);
	b->stats.profile_sections++;
	b->stats.profile_bytes += s->len;
	pthread_mutex_unlock(&b->lock);
	if (!rc)
		rc = block__parse_series_version(slice_make(raw.p, raw.n), b->meta.version, i, s->n_profiles,
						 s->n_samples, (*syms)->n_nodes, d, err, errlen);
	if (!rc && (d->times[0] != s->min_t || d->times[d->n - 1] != s->max_t)) {
		snprintf(err, errlen, "profiles: series %u: times differ from the index's range", i);
		block__series_data_release(d);
		rc = EMBER_ECORRUPT;
	}
	buf_release(&tmp);
	buf_release(&raw);
	return rc;
}

/* ---- selection ---------------------------------------------------------------------- */

/* Marks the candidate series of sels (postings of `=` matchers), then keeps those that
 * match and have a profile in range. Returns a malloc'd list of series ids. */
static uint32_t *select_series(const struct block *b, const struct selector *const *sels, size_t n_sels,
			       struct head_range range, size_t *n_out)
{
	const struct block_index *ix = &b->ix;
	uint8_t *mark = xcalloc(ix->n_series + 1, 1);
	if (!n_sels)
		memset(mark, 1, ix->n_series);
	for (size_t i = 0; i < n_sels; i++) {
		const struct block_ix_value *best = NULL;
		bool none = false, any_eq = false;
		size_t nm = selector_matcher_count(sels[i]);
		for (size_t k = 0; k < nm; k++) {
			struct selector_matcher m;
			selector_matcher_at(sels[i], k, &m);
			if (m.op != SELECTOR_EQ || m.value.n == 0)
				continue;
			any_eq = true;
			const struct block_ix_value *v = block__postings(ix, m.name, m.value);
			if (!v) {
				none = true;
				break;
			}
			if (!best || v->n < best->n)
				best = v;
		}
		if (none)
			continue;
		if (!any_eq) {
			memset(mark, 1, ix->n_series);
			break;
		}
		for (uint32_t k = 0; k < best->n; k++)
			mark[best->ids[k]] = 1;
	}
	uint32_t *ids = xmalloc((ix->n_series + 1) * sizeof(uint32_t));
	size_t n = 0;
	for (size_t i = 0; i < ix->n_series; i++) {
		const struct block_ix_series *s = &ix->series[i];
		if (!mark[i] || s->max_t < range.start_ns || (range.end_ns >= 0 && s->min_t > range.end_ns))
			continue;
		bool ok = !n_sels;
		for (size_t k = 0; k < n_sels && !ok; k++)
			ok = selector_matches(sels[k], &s->labels);
		if (ok)
			ids[n++] = (uint32_t)i;
	}
	free(mark);
	*n_out = n;
	return ids;
}

long block_select_profiles(struct block *b, const struct selector *const *sels, size_t n_sels,
			   struct head_range range, head_profile_fn fn, void (*done)(void *ctx), void *ctx, char *err,
			   size_t errlen)
{
	size_t n;
	uint32_t *ids = select_series(b, sels, n_sels, range, &n);
	long visited = 0;
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		const struct symbols *syms;
		struct block_series_data d;
		if ((rc = load_series(b, ids[i], &syms, &d, err, errlen)) != 0)
			break;
		struct head_profile_view v = {.labels = &b->ix.series[ids[i]].labels, .syms = syms};
		for (size_t k = 0; k < d.n; k++) {
			if (d.times[k] < range.start_ns || (range.end_ns >= 0 && d.times[k] > range.end_ns))
				continue;
			v.time_ns = d.times[k];
			v.total = d.totals[k];
			v.stacks = d.stacks + d.starts[k];
			v.values = d.values + d.starts[k];
			v.n = d.counts[k];
			v.id = d.ids + k * HEAD_ID_LEN;
			v.n_spans = d.span_counts ? d.span_counts[k] : 0;
			if (v.n_spans) {
				v.span_stacks = d.span_stacks + d.span_starts[k];
				v.span_values = d.span_values + d.span_starts[k];
				v.span_ids = d.span_ids + d.span_starts[k];
			}
			fn(ctx, &v);
			visited++;
		}
		block__series_data_release(&d);
	}
	free(ids);
	if (done)
		done(ctx);
	return rc ? rc : visited;
}

size_t block_select_series(struct block *b, const struct selector *const *sels, size_t n_sels,
			   struct head_range range, head_series_fn fn, void *ctx)
{
	size_t n;
	uint32_t *ids = select_series(b, sels, n_sels, range, &n);
	for (size_t i = 0; i < n; i++)
		fn(ctx, &b->ix.series[ids[i]].labels);
	free(ids);
	return n;
}

/* ---- verification ------------------------------------------------------------------- */

/* Reads everything of an open block and runs the extra checks; closes it. */
static int verify_block(struct block *b, char *err, size_t errlen)
{
	int rc = 0;
	const struct block_index *ix = &b->ix;
	for (uint32_t i = 0; i < ix->n_partitions && !rc; i++) {
		const struct symbols *s;
		rc = partition_syms(b, i, &s, err, errlen);
	}
	/* Every posting entry names a series that has the label, and there are exactly as
	 * many entries as series labels, so the postings are the labels inverted. */
	size_t n_post = 0, n_lab = 0;
	for (size_t i = 0; i < ix->n_names && !rc; i++) {
		const struct block_ix_name *nm = &ix->names[i];
		for (size_t k = 0; k < nm->n_values && !rc; k++) {
			const struct block_ix_value *v = &nm->values[k];
			for (uint32_t q = 0; q < v->n && !rc; q++) {
				const struct label *l = labels_find(&ix->series[v->ids[q]].labels, ix->strings[nm->name]);
				if (!l || !slice_eq(l->value, ix->strings[v->value])) {
					snprintf(err, errlen, "index: posting for series %u does not match its labels", v->ids[q]);
					rc = EMBER_ECORRUPT;
				}
				n_post++;
			}
		}
	}
	for (size_t i = 0; i < ix->n_series; i++)
		n_lab += ix->series[i].labels.n;
	if (!rc && n_post != n_lab) {
		snprintf(err, errlen, "index: %zu postings for %zu series labels", n_post, n_lab);
		rc = EMBER_ECORRUPT;
	}
	for (uint32_t i = 0; i < ix->n_series && !rc; i++) {
		const struct symbols *syms;
		struct block_series_data d;
		if ((rc = load_series(b, i, &syms, &d, err, errlen)) != 0)
			break;
		for (size_t k = 1; k < d.n && !rc; k++) {
			if (d.times[k] < d.times[k - 1]) {
				snprintf(err, errlen, "profiles: series %u: times not ascending", i);
				rc = EMBER_ECORRUPT;
			}
		}
		for (size_t k = 0; k < d.n && !rc; k++) {
			int64_t total = 0;
			for (uint32_t q = 0; q < d.counts[k]; q++)
				if (__builtin_add_overflow(total, d.values[d.starts[k] + q], &total))
					total = INT64_MAX;
			if (total != d.totals[k]) {
				snprintf(err, errlen, "profiles: series %u: profile %zu total differs from its values", i, k);
				rc = EMBER_ECORRUPT;
			}
		}
		block__series_data_release(&d);
	}
	block_close(b);
	return rc;
}

int block_verify(const char *path, char *err, size_t errlen)
{
	struct block *b;
	int rc = block_open(path, &b, err, errlen);
	return rc ? rc : verify_block(b, err, errlen);
}

int block_verify_remote(struct objstore *os, const char *prefix, char *err, size_t errlen)
{
	struct block *b;
	int rc = block_open_remote(os, prefix, &b, err, errlen);
	return rc ? rc : verify_block(b, err, errlen);
}

/* ---- full scans and description ------------------------------------------------------- */

int block_scan(struct block *b, block_scan_fn fn, void *ctx, char *err, size_t errlen)
{
	int rc = 0;
	for (uint32_t i = 0; i < b->ix.n_series && !rc; i++) {
		const struct block_ix_series *s = &b->ix.series[i];
		const struct symbols *syms;
		struct block_series_data d;
		if ((rc = load_series(b, i, &syms, &d, err, errlen)) != 0)
			break;
		struct block_scan_series v = {
			.id = i,
			.labels = &s->labels,
			.partition = s->partition,
			.service = b->ix.partitions[s->partition].service,
			.syms = syms,
			.n_profiles = d.n,
			.times = d.times,
			.totals = d.totals,
			.counts = d.counts,
			.starts = d.starts,
			.stacks = d.stacks,
			.values = d.values,
			.ids = d.ids,
			.span_counts = d.span_counts,
			.span_starts = d.span_starts,
			.span_stacks = d.span_stacks,
			.span_values = d.span_values,
			.span_ids = d.span_ids,
		};
		rc = fn(ctx, &v);
		block__series_data_release(&d);
	}
	return rc;
}

size_t block_partition_count(const struct block *b)
{
	return b->ix.n_partitions;
}

struct slice block_partition_service(const struct block *b, size_t i, uint64_t *bytes)
{
	if (bytes)
		*bytes = b->ix.partitions[i].len;
	return b->ix.partitions[i].service;
}

size_t block_label_name_count(const struct block *b)
{
	return b->ix.n_names;
}

struct slice block_label_name(const struct block *b, size_t i, size_t *n_values)
{
	if (n_values)
		*n_values = b->ix.names[i].n_values;
	return b->ix.strings[b->ix.names[i].name];
}

const char *block_path(const struct block *b)
{
	return b->path;
}

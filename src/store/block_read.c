/* block_read: opening a block (meta.json and index eagerly), lazy loading of partition
 * symbols (cached for the block's life) and per-series profile sections (read with
 * pread when a query needs them), selection, and verification. */
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/selector.h"
#include "store/block_internal.h"
#include "util/crc32c.h"

struct block {
	char *path;
	struct block_meta meta;
	struct block_index ix;
	pthread_mutex_t lock;        /* guards the lazy state below */
	bool files_open;
	int files_rc;                /* sticky failure of opening symbols/profiles */
	char files_err[256];
	int sym_fd, prof_fd;
	struct symbols **syms;       /* per partition; NULL until loaded */
	int *sym_rc;                 /* per partition: sticky failure */
	char (*sym_err)[256];
	struct block_io_stats io;
};

/* Reads all of dir/name (at most max bytes) into out. */
static int read_whole(const char *dir, const char *name, size_t max, struct buf *out, char *err, size_t errlen)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", name, strerror(e));
		return e == ENOENT ? EMBER_ECORRUPT : EMBER_EIO;
	}
	int rc = EMBER_EIO;
	struct stat st;
	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "%s: fstat: %s", name, strerror(errno));
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		snprintf(err, errlen, "%s: %lld bytes exceeds the %zu-byte limit", name, (long long)st.st_size, max);
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
			snprintf(err, errlen, "%s: read: %s", name, strerror(errno));
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
	struct block *b = xcalloc(1, sizeof(*b));
	b->sym_fd = b->prof_fd = -1;
	pthread_mutex_init(&b->lock, NULL);
	b->path = xstrdup(path);
	struct buf meta = BUF_INIT, index = BUF_INIT;
	int rc = read_whole(path, "meta.json", BLOCK_MAX_META, &meta, err, errlen);
	if (rc)
		goto out;
	if ((rc = read_whole(path, "index", (size_t)BLOCK_MAX_SECTION + 1024, &index, err, errlen)) != 0)
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
	if (b->sym_fd >= 0)
		close(b->sym_fd);
	if (b->prof_fd >= 0)
		close(b->prof_fd);
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
	*out = b->io;
	pthread_mutex_unlock(&b->lock);
}

/* ---- lazy loading ------------------------------------------------------------------- */

/* Opens symbols or profiles and checks its size and header. */
static int open_data(struct block *b, const char *name, const char *magic, uint64_t size, int *fdp, char *err,
		     size_t errlen)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", b->path, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", name, strerror(e));
		return e == ENOENT ? EMBER_ECORRUPT : EMBER_EIO;
	}
	struct stat st;
	uint8_t h[BLOCK_FILE_HEADER];
	int rc = EMBER_EIO;
	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "%s: fstat: %s", name, strerror(errno));
		goto out;
	}
	rc = EMBER_ECORRUPT;
	if ((uint64_t)st.st_size != size) {
		snprintf(err, errlen, "%s: %lld bytes, the index says %llu", name, (long long)st.st_size,
			 (unsigned long long)size);
		goto out;
	}
	if ((rc = pread_all(fd, h, sizeof(h), 0)) != 0) {
		snprintf(err, errlen, "%s: cannot read the header", name);
		goto out;
	}
	if ((rc = block__check_file_header(slice_make(h, sizeof(h)), name, magic, err, errlen)) != 0)
		goto out;
	*fdp = fd;
	return 0;
out:
	close(fd);
	return rc;
}

/* Called with b->lock held. */
static int ensure_files(struct block *b, char *err, size_t errlen)
{
	if (!b->files_open) {
		b->files_open = true;
		b->files_rc = open_data(b, "symbols", BLOCK_MAGIC_SYMBOLS, b->ix.symbols_size, &b->sym_fd, b->files_err,
					sizeof(b->files_err));
		if (!b->files_rc)
			b->files_rc = open_data(b, "profiles", BLOCK_MAGIC_PROFILES, b->ix.profiles_size, &b->prof_fd,
						b->files_err, sizeof(b->files_err));
	}
	if (b->files_rc)
		snprintf(err, errlen, "%s", b->files_err);
	return b->files_rc;
}

/* Reads the section at (off, len) of fd into out (raw, decompressed). */
static int read_section_at(int fd, const char *name, const char *what, uint64_t off, uint64_t len, struct buf *tmp,
			   struct buf *out, char *err, size_t errlen)
{
	buf_reserve(tmp, (size_t)len);
	int rc = pread_all(fd, tmp->p, (size_t)len, off);
	if (rc) {
		snprintf(err, errlen, "%s: %s: %s", name, what, rc == EMBER_EIO ? strerror(errno) : "short read");
		return rc;
	}
	tmp->n = (size_t)len;
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
		rc = read_section_at(b->sym_fd, "symbols", what, p->off, p->len, &tmp, &raw, b->sym_err[i],
				     sizeof(b->sym_err[i]));
		if (!rc)
			rc = block__parse_symbols(slice_make(raw.p, raw.n), i, s, b->sym_err[i], sizeof(b->sym_err[i]));
		if (rc) {
			free(s);
			b->sym_rc[i] = rc;
		} else {
			b->syms[i] = s;
		}
		b->io.symbol_sections++;
		buf_release(&tmp);
		buf_release(&raw);
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
	rc = read_section_at(b->prof_fd, "profiles", what, s->off, s->len, &tmp, &raw, err, errlen);
	pthread_mutex_lock(&b->lock);
	b->io.profile_sections++;
	b->io.profile_bytes += s->len;
	pthread_mutex_unlock(&b->lock);
	if (!rc)
		rc = block__parse_series(slice_make(raw.p, raw.n), i, s->n_profiles, s->n_samples, (*syms)->n_nodes, d,
					 err, errlen);
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

int block_verify(const char *path, char *err, size_t errlen)
{
	struct block *b;
	int rc = block_open(path, &b, err, errlen);
	if (rc)
		return rc;
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

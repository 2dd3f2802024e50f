/* block_write: encodes a block_source into the four files of a block and puts them in
 * place durably. Format: docs/internals/block-format.md. */
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/block_internal.h"
#include "util/crc32c.h"

static void put_varint(struct buf *b, int64_t v)
{
	buf_append_uvarint(b, block__zigzag(v));
}

static void put_str(struct buf *b, struct slice s)
{
	buf_append_uvarint(b, s.n);
	buf_append(b, s.p, s.n);
}

/* ---- checking the source ------------------------------------------------------------- */

static int check_source(const struct block_source *src, char *err, size_t errlen)
{
	if (!src->tenant || !src->tenant[0] || strlen(src->tenant) >= sizeof(((struct block_meta *)0)->tenant)) {
		snprintf(err, errlen, "block: missing or too long tenant");
		return EMBER_EINVAL;
	}
	if (!src->n_profiles) {
		snprintf(err, errlen, "block: no profiles");
		return EMBER_EINVAL;
	}
	for (size_t i = 0; i < src->n_partitions; i++) {
		if (!src->partitions[i].syms || src->partitions[i].syms->n_nodes == 0) {
			snprintf(err, errlen, "block: partition %zu has no symbols", i);
			return EMBER_EINVAL;
		}
	}
	for (size_t i = 0; i < src->n_series; i++) {
		const struct block_series_in *s = &src->series[i];
		if (s->partition >= src->n_partitions || !labels_is_sorted_unique(&s->labels)) {
			snprintf(err, errlen, "block: series %zu: bad partition or unsorted labels", i);
			return EMBER_EINVAL;
		}
	}
	for (size_t i = 0; i < src->n_profiles; i++) {
		const struct block_profile_in *p = &src->profiles[i];
		if (p->series >= src->n_series) {
			snprintf(err, errlen, "block: profile %zu: series out of range", i);
			return EMBER_EINVAL;
		}
		if (i && (p->series < p[-1].series || (p->series == p[-1].series && p->time_ns < p[-1].time_ns))) {
			snprintf(err, errlen, "block: profiles not sorted by (series, time) at %zu", i);
			return EMBER_EINVAL;
		}
		size_t n_nodes = src->partitions[src->series[p->series].partition].syms->n_nodes;
		for (uint32_t k = 0; k < p->n; k++) {
			if (p->stacks[k] >= n_nodes || (k && p->stacks[k] <= p->stacks[k - 1])) {
				snprintf(err, errlen, "block: profile %zu: stack ids not ascending or out of range", i);
				return EMBER_EINVAL;
			}
		}
		for (uint32_t k = 0; k < p->n_spans; k++) {
			if (p->span_stacks[k] >= n_nodes || (k && p->span_stacks[k] < p->span_stacks[k - 1])) {
				snprintf(err, errlen, "block: profile %zu: span stack ids not sorted or out of range", i);
				return EMBER_EINVAL;
			}
		}
	}
	return 0;
}

/* ---- symbols ------------------------------------------------------------------------- */

static int encode_partition(const struct symbols *s, struct buf *b, char *err, size_t errlen)
{
	buf_append_uvarint(b, s->strings.n);
	for (size_t i = 0; i < s->strings.n; i++)
		put_str(b, strtab_get(&s->strings, (uint32_t)i));
	buf_append_uvarint(b, s->n_mappings - 1);
	for (size_t i = 1; i < s->n_mappings; i++) {
		const struct sym_mapping *m = &s->mappings[i];
		buf_append_uvarint(b, m->memory_start);
		buf_append_uvarint(b, m->memory_limit);
		buf_append_uvarint(b, m->file_offset);
		buf_append_uvarint(b, m->filename);
		buf_append_uvarint(b, m->build_id);
		buf_append_byte(b, (uint8_t)(m->has_functions | m->has_filenames << 1 | m->has_line_numbers << 2 |
					     m->has_inline_frames << 3));
	}
	buf_append_uvarint(b, s->n_functions - 1);
	for (size_t i = 1; i < s->n_functions; i++) {
		const struct sym_function *f = &s->functions[i];
		buf_append_uvarint(b, f->name);
		buf_append_uvarint(b, f->system_name);
		buf_append_uvarint(b, f->filename);
		put_varint(b, f->start_line);
	}
	buf_append_uvarint(b, s->n_locations - 1);
	for (size_t i = 1; i < s->n_locations; i++) {
		const struct sym_location *l = &s->locations[i];
		buf_append_uvarint(b, l->mapping);
		buf_append_uvarint(b, l->address);
		buf_append_byte(b, (uint8_t)l->is_folded);
		buf_append_uvarint(b, l->n_lines);
		for (uint32_t k = 0; k < l->n_lines; k++) {
			buf_append_uvarint(b, s->lines[l->first_line + k].function);
			put_varint(b, s->lines[l->first_line + k].line);
		}
	}
	buf_append_uvarint(b, s->n_nodes - 1);
	for (size_t i = 1; i < s->n_nodes; i++) {
		if (s->nodes[i].parent >= i) {
			snprintf(err, errlen, "block: stack node %zu has a parent that is not older", i);
			return EMBER_EINVAL;
		}
		buf_append_uvarint(b, i - s->nodes[i].parent);
		buf_append_uvarint(b, s->nodes[i].location);
	}
	return 0;
}

/* ---- profiles ------------------------------------------------------------------------ */

static void encode_series(const struct block_profile_in *p, size_t n, struct buf *b)
{
	buf_append_uvarint(b, n);
	put_varint(b, p[0].time_ns);
	for (size_t i = 1; i < n; i++)
		buf_append_uvarint(b, (uint64_t)p[i].time_ns - (uint64_t)p[i - 1].time_ns);
	for (size_t i = 0; i < n; i++)
		put_varint(b, p[i].total);
	for (size_t i = 0; i < n; i++)
		buf_append_uvarint(b, p[i].n);
	for (size_t i = 0; i < n; i++) {
		uint32_t prev = 0;
		for (uint32_t k = 0; k < p[i].n; k++) {
			buf_append_uvarint(b, p[i].stacks[k] - prev);
			prev = p[i].stacks[k];
		}
	}
	for (size_t i = 0; i < n; i++)
		for (uint32_t k = 0; k < p[i].n; k++)
			put_varint(b, p[i].values[k]);
	static const uint8_t zero[HEAD_ID_LEN];
	for (size_t i = 0; i < n; i++)
		buf_append(b, p[i].id ? p[i].id : zero, HEAD_ID_LEN);
	for (size_t i = 0; i < n; i++)
		buf_append_uvarint(b, p[i].n_spans);
	for (size_t i = 0; i < n; i++) {
		uint32_t prev = 0;
		for (uint32_t k = 0; k < p[i].n_spans; k++) {
			buf_append_uvarint(b, p[i].span_stacks[k] - prev);
			prev = p[i].span_stacks[k];
			uint8_t le[8];
			for (int j = 0; j < 8; j++)
				le[j] = (uint8_t)(p[i].span_ids[k] >> (8 * j));
			buf_append(b, le, 8);
			put_varint(b, p[i].span_values[k]);
		}
	}
}

/* ---- index --------------------------------------------------------------------------- */

static int slice_qcmp(const void *a, const void *b)
{
	return slice_cmp(*(const struct slice *)a, *(const struct slice *)b);
}

static uint32_t string_id(const struct slice *strs, size_t n, struct slice s)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = slice_cmp(strs[mid], s);
		if (c == 0)
			return (uint32_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return UINT32_MAX; /* not reached: every label was added */
}

struct triple {
	uint32_t name, value, series;
};

static int triple_cmp(const void *a, const void *b)
{
	const struct triple *x = a, *y = b;
	if (x->name != y->name)
		return x->name < y->name ? -1 : 1;
	if (x->value != y->value)
		return x->value < y->value ? -1 : 1;
	return x->series < y->series ? -1 : x->series > y->series;
}

struct series_out {
	uint32_t src;             /* index into src->series */
	size_t first, n_profiles; /* into src->profiles */
	uint64_t n_samples, off, len;
	int64_t min_t, max_t;
};

/* ---- files --------------------------------------------------------------------------- */

static int write_file(int dfd, const char *name, const struct buf *b, char *err, size_t errlen)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "%s: create: %s", name, strerror(errno));
		return EMBER_EIO;
	}
	size_t done = 0;
	while (done < b->n) {
		ssize_t w = write(fd, b->p + done, b->n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(err, errlen, "%s: write: %s", name, w < 0 ? strerror(errno) : "no progress");
			close(fd);
			return EMBER_EIO;
		}
		done += (size_t)w;
	}
	if (fsync(fd) != 0) {
		snprintf(err, errlen, "%s: fsync: %s", name, strerror(errno));
		close(fd);
		return EMBER_EIO;
	}
	if (close(fd) != 0) {
		snprintf(err, errlen, "%s: close: %s", name, strerror(errno));
		return EMBER_EIO;
	}
	return 0;
}

static const char *const FILES[] = {"meta.json", "symbols", "profiles", "index"};

static void remove_tmp(int dfd, const char *tmpname)
{
	int t = openat(dfd, tmpname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t >= 0) {
		for (size_t i = 0; i < EMBER_ARRAY_LEN(FILES); i++)
			(void)unlinkat(t, FILES[i], 0);
		close(t);
	}
	(void)unlinkat(dfd, tmpname, AT_REMOVEDIR);
}

int block_write(const char *dir, const struct block_source *src, struct block_meta *meta, char *err, size_t errlen)
{
	memset(meta, 0, sizeof(*meta));
	int rc = check_source(src, err, errlen);
	if (rc)
		return rc;
	rc = EMBER_EIO;
	struct buf files[4] = {BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT}; /* as FILES[] */
	struct buf raw = BUF_INIT;
	struct series_out *so = xcalloc(src->n_series + 1, sizeof(*so));
	uint64_t *part_off = xcalloc(src->n_partitions + 1, sizeof(uint64_t) * 2);
	struct slice *strs = NULL;
	struct triple *tr = NULL;
	int dfd = -1, tfd = -1;
	char tmpname[BLOCK_ULID_LEN + 8] = "";

	/* Series with profiles, in source order, and the block's totals. */
	size_t n_so = 0, n_labels = 0;
	int64_t min_t = INT64_MAX, max_t = INT64_MIN;
	uint64_t n_samples = 0;
	for (size_t i = 0; i < src->n_profiles; i++) {
		const struct block_profile_in *p = &src->profiles[i];
		if (!n_so || so[n_so - 1].src != p->series) {
			so[n_so].src = p->series;
			so[n_so].first = i;
			so[n_so].min_t = p->time_ns;
			n_labels += src->series[p->series].labels.n;
			n_so++;
		}
		struct series_out *s = &so[n_so - 1];
		s->n_profiles++;
		s->n_samples += p->n;
		s->max_t = p->time_ns;
		n_samples += p->n;
		min_t = EMBER_MIN(min_t, p->time_ns);
		max_t = EMBER_MAX(max_t, p->time_ns);
	}

	/* symbols: one section per partition. */
	block__put_file_header(&files[1], BLOCK_MAGIC_SYMBOLS);
	for (size_t i = 0; i < src->n_partitions; i++) {
		raw.n = 0;
		if ((rc = encode_partition(src->partitions[i].syms, &raw, err, errlen)) != 0)
			goto out;
		part_off[2 * i] = files[1].n;
		if ((rc = block__put_section(&files[1], slice_make(raw.p, raw.n), err, errlen)) != 0)
			goto out;
		part_off[2 * i + 1] = files[1].n - part_off[2 * i];
	}
	/* profiles: one section per series. */
	block__put_file_header(&files[2], BLOCK_MAGIC_PROFILES);
	for (size_t i = 0; i < n_so; i++) {
		raw.n = 0;
		encode_series(&src->profiles[so[i].first], so[i].n_profiles, &raw);
		so[i].off = files[2].n;
		if ((rc = block__put_section(&files[2], slice_make(raw.p, raw.n), err, errlen)) != 0)
			goto out;
		so[i].len = files[2].n - so[i].off;
	}

	/* meta.json */
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	block_ulid_new((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, meta->ulid);
	memcpy(meta->tenant, src->tenant, strlen(src->tenant) + 1);
	meta->min_time_ns = min_t;
	meta->max_time_ns = max_t;
	meta->n_series = n_so;
	meta->n_profiles = src->n_profiles;
	meta->n_samples = n_samples;
	meta->level = src->level ? src->level : 1;
	meta->version = BLOCK_VERSION;
	meta->wal_segment = src->wal_segment;
	meta->n_sources = src->sources ? src->n_sources : 1;
	meta->sources = xcalloc(meta->n_sources + 1, sizeof(*meta->sources));
	if (src->sources)
		memcpy(meta->sources, src->sources, src->n_sources * sizeof(*meta->sources));
	else
		memcpy(meta->sources[0], meta->ulid, sizeof(meta->ulid));
	block_meta_format(meta, &files[0]);

	/* index: the label string table, series, postings. */
	strs = xmalloc((2 * n_labels + 1) * sizeof(*strs));
	size_t n_strs = 0;
	for (size_t i = 0; i < n_so; i++) {
		const struct labels *ls = &src->series[so[i].src].labels;
		for (size_t k = 0; k < ls->n; k++) {
			strs[n_strs++] = ls->v[k].name;
			strs[n_strs++] = ls->v[k].value;
		}
	}
	sort_n(strs, n_strs, sizeof(*strs), slice_qcmp);
	size_t u = 0;
	for (size_t i = 0; i < n_strs; i++)
		if (!u || !slice_eq(strs[u - 1], strs[i]))
			strs[u++] = strs[i];
	n_strs = u;
	tr = xmalloc((n_labels + 1) * sizeof(*tr));
	size_t n_tr = 0;

	raw.n = 0;
	buf_append(&raw, meta->ulid, BLOCK_ULID_LEN);
	put_str(&raw, slice_cstr(src->tenant));
	uint32_t mcrc = crc32c(0, files[0].p, files[0].n);
	uint8_t c4[4] = {(uint8_t)mcrc, (uint8_t)(mcrc >> 8), (uint8_t)(mcrc >> 16), (uint8_t)(mcrc >> 24)};
	buf_append(&raw, c4, 4);
	put_varint(&raw, min_t);
	put_varint(&raw, max_t);
	buf_append_uvarint(&raw, src->n_profiles);
	buf_append_uvarint(&raw, n_samples);
	buf_append_uvarint(&raw, files[1].n);
	buf_append_uvarint(&raw, files[2].n);
	buf_append_uvarint(&raw, src->n_partitions);
	for (size_t i = 0; i < src->n_partitions; i++) {
		put_str(&raw, src->partitions[i].service);
		buf_append_uvarint(&raw, part_off[2 * i]);
		buf_append_uvarint(&raw, part_off[2 * i + 1]);
	}
	buf_append_uvarint(&raw, n_strs);
	for (size_t i = 0; i < n_strs; i++)
		put_str(&raw, strs[i]);
	buf_append_uvarint(&raw, n_so);
	for (size_t i = 0; i < n_so; i++) {
		const struct block_series_in *s = &src->series[so[i].src];
		buf_append_uvarint(&raw, s->labels.n);
		for (size_t k = 0; k < s->labels.n; k++) {
			struct triple t = {string_id(strs, n_strs, s->labels.v[k].name),
					   string_id(strs, n_strs, s->labels.v[k].value), (uint32_t)i};
			buf_append_uvarint(&raw, t.name);
			buf_append_uvarint(&raw, t.value);
			tr[n_tr++] = t;
		}
		buf_append_uvarint(&raw, s->partition);
		put_varint(&raw, so[i].min_t);
		buf_append_uvarint(&raw, (uint64_t)so[i].max_t - (uint64_t)so[i].min_t);
		buf_append_uvarint(&raw, so[i].n_profiles);
		buf_append_uvarint(&raw, so[i].n_samples);
		buf_append_uvarint(&raw, so[i].off);
		buf_append_uvarint(&raw, so[i].len);
	}
	/* Postings: name -> value -> ascending series ids (delta-coded). */
	sort_n(tr, n_tr, sizeof(*tr), triple_cmp);
	size_t n_names = 0;
	for (size_t i = 0; i < n_tr; i++)
		n_names += !i || tr[i].name != tr[i - 1].name;
	buf_append_uvarint(&raw, n_names);
	for (size_t i = 0; i < n_tr;) {
		size_t j = i, n_values = 0;
		for (; j < n_tr && tr[j].name == tr[i].name; j++)
			n_values += j == i || tr[j].value != tr[j - 1].value;
		buf_append_uvarint(&raw, tr[i].name);
		buf_append_uvarint(&raw, n_values);
		for (size_t k = i; k < j;) {
			size_t e = k;
			while (e < j && tr[e].value == tr[k].value)
				e++;
			buf_append_uvarint(&raw, tr[k].value);
			buf_append_uvarint(&raw, e - k);
			uint32_t prev = 0;
			for (size_t q = k; q < e; q++) {
				buf_append_uvarint(&raw, tr[q].series - prev);
				prev = tr[q].series;
			}
			k = e;
		}
		i = j;
	}
	block__put_file_header(&files[3], BLOCK_MAGIC_INDEX);
	if ((rc = block__put_section(&files[3], slice_make(raw.p, raw.n), err, errlen)) != 0)
		goto out;

	/* Durably: temp dir, every file fsync'd, the dir fsync'd, rename, parent fsync'd. */
	rc = EMBER_EIO;
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: mkdir: %s", dir, strerror(errno));
		goto out;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		snprintf(err, errlen, "%s: open: %s", dir, strerror(errno));
		goto out;
	}
	snprintf(tmpname, sizeof(tmpname), ".tmp-%s", meta->ulid);
	if (mkdirat(dfd, tmpname, 0755) != 0) {
		snprintf(err, errlen, "%s/%s: mkdir: %s", dir, tmpname, strerror(errno));
		tmpname[0] = '\0';
		goto out;
	}
	tfd = openat(dfd, tmpname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tfd < 0) {
		snprintf(err, errlen, "%s/%s: open: %s", dir, tmpname, strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < EMBER_ARRAY_LEN(FILES); i++)
		if ((rc = write_file(tfd, FILES[i], &files[i], err, errlen)) != 0)
			goto out;
	rc = EMBER_EIO;
	if (fsync(tfd) != 0) {
		snprintf(err, errlen, "%s/%s: fsync: %s", dir, tmpname, strerror(errno));
		goto out;
	}
	if (renameat(dfd, tmpname, dfd, meta->ulid) != 0) {
		snprintf(err, errlen, "%s/%s: rename: %s", dir, tmpname, strerror(errno));
		goto out;
	}
	tmpname[0] = '\0';
	if (fsync(dfd) != 0) {
		snprintf(err, errlen, "%s: fsync: %s", dir, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (rc && dfd >= 0 && tmpname[0])
		remove_tmp(dfd, tmpname);
	if (tfd >= 0)
		close(tfd);
	if (dfd >= 0)
		close(dfd);
	if (rc)
		block_meta_release(meta);
	for (size_t i = 0; i < 4; i++)
		buf_release(&files[i]);
	buf_release(&raw);
	free(so);
	free(part_off);
	free(strs);
	free(tr);
	return rc;
}

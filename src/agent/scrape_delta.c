/* scrape_delta: cumulative -> delta profiles for pull mode, with the rules of Grafana
 * Alloy's pyroscope.scrape: per series, per identical sample (stack + labels) subtract
 * the previous profile's value; the first profile sends nothing; a value that went
 * down is a reset (the target restarted): remember the new values, send nothing. */
#include <xxhash.h>

#include "agent/scrape.h"
#include "pprof/pprof.h"
#include "util/arena.h"
#include "util/gzip.h"
#include "util/common.h"

#define DELTA_MAX_PROFILE (256u << 20)

struct delta_ent {
	uint64_t key;
	int64_t *v; /* n_types values */
};

struct scrape_delta {
	bool have_prev;
	int64_t prev_time_nanos; /* time_nanos of the previous profile; 0 = unknown */
	size_t n_types;
	struct delta_ent *prev; /* sorted by key */
	size_t n_prev;
};

struct scrape_delta *scrape_delta_new(void)
{
	return xcalloc(1, sizeof(struct scrape_delta));
}

static void free_ents(struct delta_ent *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(e[i].v);
	free(e);
}

void scrape_delta_free(struct scrape_delta *d)
{
	if (!d)
		return;
	free_ents(d->prev, d->n_prev);
	free(d);
}

static void hash_slice(XXH3_state_t *h, struct slice s)
{
	uint64_t n = s.n;
	XXH3_64bits_update(h, &n, sizeof(n));
	if (s.n)
		XXH3_64bits_update(h, s.p, s.n);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The identity of a sample across profiles: location addresses and function names
 * (ids differ from one profile to the next) and labels (key, string or number and
 * unit, in any order). */
static uint64_t sample_key(const struct pprof_profile *p, const struct pprof_sample *s)
{
	XXH3_state_t *h = XXH3_createState();
	XXH3_64bits_reset(h);
	for (size_t i = 0; i < s->n_location_ids; i++) {
		const struct pprof_location *loc = pprof_location_by_id(p, s->location_ids[i]);
		uint64_t tag = 0x4c4f43; /* "LOC" */
		XXH3_64bits_update(h, &tag, sizeof(tag));
		if (!loc)
			continue;
		XXH3_64bits_update(h, &loc->address, sizeof(loc->address));
		for (size_t j = 0; j < loc->n_lines; j++) {
			const struct pprof_function *f = pprof_function_by_id(p, loc->lines[j].function_id);
			if (f)
				hash_slice(h, pprof_string(p, f->name));
			XXH3_64bits_update(h, &loc->lines[j].line, sizeof(loc->lines[j].line));
		}
	}
	/* Labels are a set: hash each one, then combine the hashes in sorted order, so
	 * that the order a profile lists them in does not matter (as in Alloy). */
	uint64_t small[8], *lh = s->n_labels <= 8 ? small : xcalloc(s->n_labels, sizeof(*lh));
	for (size_t i = 0; i < s->n_labels; i++) {
		XXH3_state_t *lhs = XXH3_createState();
		XXH3_64bits_reset(lhs);
		hash_slice(lhs, pprof_string(p, s->labels[i].key));
		hash_slice(lhs, pprof_string(p, s->labels[i].str));
		XXH3_64bits_update(lhs, &s->labels[i].num, sizeof(s->labels[i].num));
		hash_slice(lhs, pprof_string(p, s->labels[i].num_unit));
		lh[i] = XXH3_64bits_digest(lhs);
		XXH3_freeState(lhs);
	}
	if (s->n_labels > 1)
		qsort(lh, s->n_labels, sizeof(*lh), cmp_u64);
	uint64_t tag = 0x4c4142; /* "LAB" */
	XXH3_64bits_update(h, &tag, sizeof(tag));
	if (s->n_labels)
		XXH3_64bits_update(h, lh, s->n_labels * sizeof(*lh));
	if (lh != small)
		free(lh);
	uint64_t k = XXH3_64bits_digest(h);
	XXH3_freeState(h);
	return k;
}

static int cmp_key(const void *a, const void *b)
{
	const struct delta_ent *x = a, *y = b;
	return x->key < y->key ? -1 : x->key > y->key;
}

static struct delta_ent *find_ent(struct delta_ent *e, size_t n, uint64_t key)
{
	struct delta_ent k = {key, NULL};
	return bsearch(&k, e, n, sizeof(*e), cmp_key);
}

int scrape_delta_apply(struct scrape_delta *d, struct slice in, bool all_cumulative,
		       struct buf *out, bool *send)
{
	int rc = EMBER_EINVAL;
	struct arena a;
	struct buf raw = BUF_INIT, enc = BUF_INIT;
	struct pprof_profile p;
	struct delta_ent *cur = NULL;
	size_t n_cur = 0;
	uint64_t *keys = NULL;
	bool *cum = NULL;
	char err[256];
	arena_init(&a, 0);
	*send = false;
	if (gzip_is_gzip(in)) {
		rc = gzip_inflate(in, DELTA_MAX_PROFILE, &raw);
		if (rc < 0)
			goto out;
		in = slice_make(raw.p, raw.n);
	}
	rc = pprof_decode(in, &a, NULL, &p, err, sizeof(err));
	if (rc < 0)
		goto out;
	size_t nt = p.n_sample_types;
	cum = xcalloc(nt ? nt : 1, sizeof(*cum));
	for (size_t t = 0; t < nt; t++) {
		struct slice name = pprof_string(&p, p.sample_types[t].type);
		cum[t] = all_cumulative || (name.n >= 6 && memcmp(name.p, "alloc_", 6) == 0);
	}
	/* New totals per identical sample (Go may repeat a stack). */
	keys = xcalloc(p.n_samples ? p.n_samples : 1, sizeof(*keys));
	cur = xcalloc(p.n_samples ? p.n_samples : 1, sizeof(*cur));
	for (size_t i = 0; i < p.n_samples; i++) {
		keys[i] = sample_key(&p, &p.samples[i]);
		cur[n_cur].key = keys[i];
		cur[n_cur].v = xcalloc(nt ? nt : 1, sizeof(int64_t));
		for (size_t t = 0; t < nt && t < p.samples[i].n_values; t++)
			cur[n_cur].v[t] = p.samples[i].values[t];
		n_cur++;
	}
	sort_n(cur, n_cur, sizeof(*cur), cmp_key);
	size_t w = 0;
	for (size_t r = 0; r < n_cur; r++) {
		if (w > 0 && cur[w - 1].key == cur[r].key) {
			for (size_t t = 0; t < nt; t++)
				cur[w - 1].v[t] += cur[r].v[t];
			free(cur[r].v);
			continue;
		}
		cur[w++] = cur[r];
	}
	n_cur = w;
	bool reset = !d->have_prev || d->n_types != nt;
	for (size_t i = 0; i < n_cur && !reset; i++) {
		struct delta_ent *pe = find_ent(d->prev, d->n_prev, cur[i].key);
		for (size_t t = 0; pe && t < nt; t++)
			if (cum[t] && cur[i].v[t] < pe->v[t])
				reset = true;
	}
	if (!reset) {
		/* Each sample's cumulative values become (its share of) the increase: the
		 * first sample of a key carries the whole delta, repeats carry zero. */
		bool *done = xcalloc(n_cur ? n_cur : 1, sizeof(*done));
		size_t kept = 0;
		for (size_t i = 0; i < p.n_samples; i++) {
			struct pprof_sample *s = &p.samples[i];
			struct delta_ent *ce = find_ent(cur, n_cur, keys[i]);
			struct delta_ent *pe = find_ent(d->prev, d->n_prev, keys[i]);
			bool first = !done[ce - cur];
			done[ce - cur] = true;
			bool nonzero = false;
			for (size_t t = 0; t < nt && t < s->n_values; t++) {
				if (cum[t])
					s->values[t] = first ? ce->v[t] - (pe ? pe->v[t] : 0) : 0;
				nonzero |= s->values[t] != 0;
			}
			if (nonzero)
				p.samples[kept++] = *s;
		}
		free(done);
		p.n_samples = kept;
		/* The delta covers the time between the two profiles (Alloy does the same). */
		if (p.time_nanos > d->prev_time_nanos && d->prev_time_nanos > 0)
			p.duration_nanos = p.time_nanos - d->prev_time_nanos;
		pprof_encode(&p, &enc);
		gzip_deflate(slice_make(enc.p, enc.n), 6, out);
		*send = true;
	}
	free_ents(d->prev, d->n_prev);
	d->prev = cur;
	d->n_prev = n_cur;
	d->n_types = nt;
	d->have_prev = true;
	d->prev_time_nanos = p.time_nanos;
	cur = NULL;
	n_cur = 0;
	rc = 0;
out:
	free_ents(cur, n_cur);
	free(keys);
	free(cum);
	buf_release(&raw);
	buf_release(&enc);
	arena_release(&a);
	return rc;
}

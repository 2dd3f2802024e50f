/* compact_plan: the planner (see compact_plan.h). Pure: no I/O, no clock. */
#include "store/compact_plan.h"

struct order_ctx {
	const struct compact_plan_block *b;
};

static int by_min(const void *a, const void *b, void *ctx)
{
	const struct compact_plan_block *v = ((const struct order_ctx *)ctx)->b;
	const struct compact_plan_block *x = &v[*(const size_t *)a], *y = &v[*(const size_t *)b];
	if (x->min_ns != y->min_ns)
		return x->min_ns < y->min_ns ? -1 : 1;
	if (x->max_ns != y->max_ns)
		return x->max_ns < y->max_ns ? -1 : 1;
	return strcmp(x->ulid ? x->ulid : "", y->ulid ? y->ulid : "");
}

static void add_job(struct compact_plan *p, size_t *cap, const size_t *idx, size_t n, int64_t rs, int64_t re,
		    bool overlap)
{
	XGROW(p->jobs, *cap, p->n_jobs + 1);
	struct compact_job *j = &p->jobs[p->n_jobs++];
	j->blocks = xmalloc(n * sizeof(*j->blocks));
	memcpy(j->blocks, idx, n * sizeof(*idx));
	j->n = n;
	j->range_start = rs;
	j->range_end = re;
	j->overlap = overlap;
}

/* floor(t / r) * r, also for negative times. */
static int64_t range_start(int64_t t, int64_t r)
{
	int64_t q = t / r;
	if (t % r < 0)
		q--;
	return q * r;
}

void compact_plan(const struct compact_plan_block *blocks, size_t n, const int64_t *ranges_ns, size_t n_ranges,
		  struct compact_plan *out)
{
	memset(out, 0, sizeof(*out));
	size_t cap = 0;
	if (n < 2)
		return;
	size_t *ord = xmalloc(n * sizeof(*ord));
	size_t *grp = xmalloc(n * sizeof(*grp));
	for (size_t i = 0; i < n; i++)
		ord[i] = i;
	struct order_ctx oc = {blocks};
	sort_r_n(ord, n, sizeof(*ord), by_min, &oc);

	/* 1. Overlaps: a sweep by min time; a block starting at or before the group's
	 * largest max joins it (inclusive ranges: touching at one instant overlaps). */
	for (size_t i = 0; i < n;) {
		size_t g = 0;
		int64_t hi = blocks[ord[i]].max_ns;
		grp[g++] = ord[i++];
		while (i < n && blocks[ord[i]].min_ns <= hi) {
			hi = EMBER_MAX(hi, blocks[ord[i]].max_ns);
			grp[g++] = ord[i++];
		}
		if (g >= 2)
			add_job(out, &cap, grp, g, 0, 0, true);
	}
	if (out->n_jobs)
		goto out;

	/* 2. Adjacent blocks by aligned windows, smallest range first. */
	int64_t highest_max = INT64_MIN;
	for (size_t i = 0; i < n; i++)
		highest_max = EMBER_MAX(highest_max, blocks[i].max_ns);
	for (size_t r = 0; r < n_ranges; r++) {
		int64_t tr = ranges_ns[r];
		if (tr <= 0)
			continue;
		for (size_t i = 0; i < n;) {
			const struct compact_plan_block *first = &blocks[ord[i]];
			int64_t rs = range_start(first->min_ns, tr);
			int64_t re = rs > INT64_MAX - tr ? INT64_MAX : rs + tr;
			if (first->max_ns >= re) { /* does not fit in this range */
				i++;
				continue;
			}
			size_t g = 0;
			int64_t lo = INT64_MAX, hi = INT64_MIN;
			for (; i < n && blocks[ord[i]].min_ns < re; i++) {
				const struct compact_plan_block *b = &blocks[ord[i]];
				if (b->max_ns >= re)
					continue; /* starts here but spans into the next window */
				grp[g++] = ord[i];
				lo = EMBER_MIN(lo, b->min_ns);
				hi = EMBER_MAX(hi, b->max_ns);
			}
			if (g < 2)
				continue;
			bool conflict = false;
			for (size_t k = 0; k < out->n_jobs && !conflict; k++)
				conflict = out->jobs[k].range_start < re && rs < out->jobs[k].range_end;
			for (size_t k = 0; k < out->n_jobs && !conflict; k++)
				for (size_t q = 0; q < out->jobs[k].n && !conflict; q++)
					for (size_t z = 0; z < g && !conflict; z++)
						conflict = out->jobs[k].blocks[q] == grp[z];
			if (conflict)
				continue;
			/* Not while the window is still filling: some block must end at or past
			 * its end, or the blocks must cover all of it. */
			if (!(re - 1 <= highest_max || hi - lo + 1 >= tr))
				continue;
			add_job(out, &cap, grp, g, rs, re, false);
		}
	}
out:
	free(ord);
	free(grp);
}

void compact_plan_release(struct compact_plan *p)
{
	for (size_t i = 0; i < p->n_jobs; i++)
		free(p->jobs[i].blocks);
	free(p->jobs);
	memset(p, 0, sizeof(*p));
}

int compact_ranges_check(const int64_t *ranges_ns, size_t n, char *err, size_t errlen)
{
	if (!n) {
		snprintf(err, errlen, "-compactor.block-ranges: at least one range is needed");
		return EMBER_EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (ranges_ns[i] <= 0) {
			snprintf(err, errlen, "-compactor.block-ranges: range %zu is not positive", i + 1);
			return EMBER_EINVAL;
		}
		if (i && ranges_ns[i] % ranges_ns[i - 1] != 0) {
			snprintf(err, errlen,
				 "-compactor.block-ranges: each range must be divisible by the previous one "
				 "(range %zu is not)",
				 i + 1);
			return EMBER_EINVAL;
		}
	}
	return 0;
}

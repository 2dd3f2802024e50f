#include "query/timeline.h"

/* Pyroscope's ladder (pkg/querier/timeline/calculator.go, roundInterval): an interval up
 * to `upto_ms` becomes `step_ms`. The last rung is strict (<) there; the rungs below
 * 15 s are unreachable once the 15 s minimum applies, so they are left out. */
static const struct {
	int64_t upto_ms, step_ms;
} ladder[] = {
	{17500, 15000},           {25000, 20000},           {45000, 30000},         {90000, 60000},
	{210000, 120000},         {450000, 300000},         {750000, 600000},       {1050000, 900000},
	{1500000, 1200000},       {2700000, 1800000},       {5400000, 3600000},     {9000000, 7200000},
	{16200000, 10800000},     {32400000, 21600000},     {86400000, 43200000},   {172800000, 86400000},
	{604800000, 86400000},    {1814400000, 604800000},
};
#define LAST_UPTO_MS 3628800000LL /* strictly below: 30 days */
#define LAST_STEP_MS 2592000000LL
#define YEAR_MS 31536000000LL

int64_t timeline_step_seconds(int64_t from_ms, int64_t until_ms)
{
	if (until_ms <= from_ms)
		return TIMELINE_MIN_STEP_S;
	/* Pyroscope divides the range in ns by the resolution, in integers. */
	__int128 interval_ns = (__int128)(until_ms - from_ms) * 1000000 / TIMELINE_RESOLUTION;
	if (interval_ns < (__int128)TIMELINE_MIN_STEP_S * 1000000000)
		return TIMELINE_MIN_STEP_S;
	for (size_t i = 0; i < EMBER_ARRAY_LEN(ladder); i++)
		if (interval_ns <= (__int128)ladder[i].upto_ms * 1000000)
			return ladder[i].step_ms / 1000;
	if (interval_ns < (__int128)LAST_UPTO_MS * 1000000)
		return LAST_STEP_MS / 1000;
	return YEAR_MS / 1000;
}

/* Floor division for possibly negative times (before 1970). */
static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int timeline_init(struct timeline *tl, int64_t from_ms, int64_t until_ms, int64_t step_s)
{
	memset(tl, 0, sizeof(*tl));
	if (until_ms < from_ms || step_s <= 0)
		return EMBER_EINVAL;
	int64_t first = floor_div(floor_div(from_ms, 1000), step_s);
	int64_t last = floor_div(floor_div(until_ms, 1000), step_s);
	if (last - first + 1 > TIMELINE_MAX_BUCKETS)
		return EMBER_ETOOBIG;
	tl->step_s = step_s;
	tl->start_s = first * step_s;
	tl->n = (size_t)(last - first + 1);
	tl->sum = xcalloc(tl->n, sizeof(*tl->sum));
	tl->count = xcalloc(tl->n, sizeof(*tl->count));
	return 0;
}

void timeline_release(struct timeline *tl)
{
	free(tl->sum);
	free(tl->count);
	memset(tl, 0, sizeof(*tl));
}

bool timeline_add(struct timeline *tl, int64_t t_ns, int64_t value)
{
	if (!tl->n)
		return false;
	int64_t s = floor_div(t_ns, 1000000000);
	if (s < tl->start_s)
		return false;
	int64_t i = (s - tl->start_s) / tl->step_s;
	if (i < 0 || (uint64_t)i >= tl->n)
		return false;
	if (__builtin_add_overflow(tl->sum[i], value, &tl->sum[i]))
		tl->sum[i] = value < 0 ? INT64_MIN : INT64_MAX;
	tl->count[i]++;
	return true;
}

int64_t timeline_value(const struct timeline *tl, size_t i, bool avg)
{
	if (i >= tl->n)
		return 0;
	if (!avg)
		return tl->sum[i];
	return tl->count[i] ? tl->sum[i] / tl->count[i] : 0;
}

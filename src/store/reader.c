#include "store/reader.h"
#include "store/store.h"

static size_t head_series(void *impl, struct slice tenant, const struct selector *const *sels, size_t n_sels,
			  struct head_range range, head_series_fn fn, void *ctx)
{
	return head_select_series(impl, tenant, sels, n_sels, range, fn, ctx);
}

static size_t head_profiles(void *impl, struct slice tenant, const struct selector *const *sels, size_t n_sels,
			    struct head_range range, head_profile_fn fn, void (*done)(void *ctx), void *ctx)
{
	return head_select_profiles_locked(impl, tenant, sels, n_sels, range, fn, done, ctx);
}

static void head_stats_of(void *impl, struct slice tenant, struct head_tenant_stats *out)
{
	head_tenant_stats(impl, tenant, out);
}

struct reader reader_of_head(struct head *h)
{
	struct reader r = {head_series, head_profiles, head_stats_of, h};
	return r;
}

static size_t store_series(void *impl, struct slice tenant, const struct selector *const *sels, size_t n_sels,
			   struct head_range range, head_series_fn fn, void *ctx)
{
	return store_select_series(impl, tenant, sels, n_sels, range, fn, ctx);
}

static size_t store_profiles(void *impl, struct slice tenant, const struct selector *const *sels, size_t n_sels,
			     struct head_range range, head_profile_fn fn, void (*done)(void *ctx), void *ctx)
{
	return store_select_profiles(impl, tenant, sels, n_sels, range, fn, done, ctx);
}

static void store_stats_of(void *impl, struct slice tenant, struct head_tenant_stats *out)
{
	store_tenant_stats(impl, tenant, out);
}

struct reader reader_of_store(struct store *st)
{
	struct reader r = {store_series, store_profiles, store_stats_of, st};
	return r;
}

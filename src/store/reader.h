/* reader: what queries read from, as one small interface: a head alone (tests, tools) or a
 * store (the head, a head being flushed, and the blocks). The query code (src/query/,
 * src/api/) only ever sees a struct reader. */
#ifndef EMBER_STORE_READER_H
#define EMBER_STORE_READER_H

#include "store/head.h"

struct store;

struct reader {
	size_t (*select_series)(void *impl, struct slice tenant, const struct selector *const *sels, size_t n_sels,
				struct head_range range, head_series_fn fn, void *ctx);
	/* fn per profile, then done(ctx) once per place the data lives (symbols valid until then). */
	size_t (*select_profiles)(void *impl, struct slice tenant, const struct selector *const *sels, size_t n_sels,
				  struct head_range range, head_profile_fn fn, void (*done)(void *ctx), void *ctx);
	void (*tenant_stats)(void *impl, struct slice tenant, struct head_tenant_stats *out);
	void *impl;
};

/** A reader over one head (borrowed). */
struct reader reader_of_head(struct head *h);
/** A reader over a store (borrowed). */
struct reader reader_of_store(struct store *st);

static inline size_t reader_select_series(const struct reader *r, struct slice tenant,
					  const struct selector *const *sels, size_t n_sels, struct head_range range,
					  head_series_fn fn, void *ctx)
{
	return r->select_series(r->impl, tenant, sels, n_sels, range, fn, ctx);
}

static inline size_t reader_select_profiles(const struct reader *r, struct slice tenant,
					    const struct selector *const *sels, size_t n_sels, struct head_range range,
					    head_profile_fn fn, void (*done)(void *ctx), void *ctx)
{
	return r->select_profiles(r->impl, tenant, sels, n_sels, range, fn, done, ctx);
}

static inline void reader_tenant_stats(const struct reader *r, struct slice tenant, struct head_tenant_stats *out)
{
	r->tenant_stats(r->impl, tenant, out);
}

#endif

/* overrides: per-tenant limits from Pyroscope's runtime configuration file
 * (-runtime-config.file, reloaded every -runtime-config.reload-period):
 *
 *   overrides:
 *     <tenant>:
 *       <limits key>: <value>     # the YAML names of the `limits:` block of the main config
 *
 * A tenant's effective limits are the server's (defaults, -config.file, flags) with the
 * keys its entry gives replacing them; tenants without an entry get the server's. The
 * file is re-read on a timer; a file that does not parse leaves the last good overrides
 * in force (and is logged). Lookups take a read lock and a binary search over the
 * tenants, so they may run on every request. Design: docs/internals/overrides.md. */
#ifndef EMBER_SERVER_OVERRIDES_H
#define EMBER_SERVER_OVERRIDES_H

#include "ingest/plan.h"
#include "query/limits.h"
#include "server/config.h"
#include "store/store.h"
#include "util/buf.h"

struct overrides;

/** Every limit of one tenant, after its overrides. */
struct overrides_limits {
	struct ingest_limits ingest;
	struct query_limits query;
	int64_t retention_ns; /* compactor_blocks_retention_period; 0 = keep forever */
};

/** Creates the overrides over the server's limits in defaults (its limit fields are
 * copied; its strings are not used), with no tenant overrides yet. */
struct overrides *overrides_new(const struct config *defaults);
/** Stops the reload thread if running and frees everything (NULL-safe). */
void overrides_free(struct overrides *o);

/** Parses the runtime configuration in yaml[0..n) (a comma-free `name` is used in
 * messages) and, if it is valid, makes it the current one (replacing every earlier
 * override). Returns 0, or EMBER_EINVAL with a message in err naming the problem
 * (syntax, unknown top-level key, unknown limit key with the tenant, bad value, a limit
 * Ember applies only server-wide); the current overrides are then left as they were. */
int overrides_load_text(struct overrides *o, const char *yaml, size_t n, const char *name, char *err,
			size_t errlen) EMBER_WUR;

/** As overrides_load_text over the files of `paths`, a comma-separated list as
 * -runtime-config.file takes: later files' keys win over earlier ones (per tenant and
 * key). Files over 16 MiB are refused. Returns 0, or EMBER_EINVAL / EMBER_EIO with a
 * message; the current overrides are then left as they were. */
int overrides_load_files(struct overrides *o, const char *paths, char *err, size_t errlen) EMBER_WUR;

/** Starts a thread that calls overrides_load_files(paths) every period_ns (> 0): a file
 * whose content has not changed is not parsed again; a failure is logged once per
 * content and the last good overrides stay. paths is copied. Returns 0 or EMBER_EIO. */
int overrides_start(struct overrides *o, const char *paths, int64_t period_ns) EMBER_WUR;

/** The effective limits of tenant. Thread-safe. */
void overrides_get(struct overrides *o, struct slice tenant, struct overrides_limits *out);

/** overrides_get's ingest part, with the shape of ingest's per-tenant limits callback
 * (ctx is the struct overrides *). */
void overrides_ingest_limits(void *ctx, struct slice tenant, struct ingest_limits *out);
/** overrides_get's query part, with the shape of api's per-tenant limits callback. */
void overrides_query_limits(void *ctx, struct slice tenant, struct query_limits *out);

/** The tenants that have an entry, each with its effective retention, for
 * store_compact_options.overrides: *out is a malloc'ed array whose tenant strings are
 * malloc'ed too; free it with overrides_retention_free. Returns the count. */
size_t overrides_retention(struct overrides *o, struct store_retention_override **out);
/** Frees what overrides_retention returned (NULL-safe). */
void overrides_retention_free(struct store_retention_override *v, size_t n);

/** Appends the current runtime configuration to out as YAML, as Pyroscope's
 * /runtime_config shows it: every tenant with an entry and all of its effective
 * per-tenant limits. Without -runtime-config.file (nothing ever loaded) appends Pyroscope's
 * "runtime config file doesn't exist". Thread-safe; with ctx a struct overrides *. */
void overrides_yaml(void *ctx, struct buf *out);

struct overrides_stats {
	uint64_t reloads;         /* successful loads */
	uint64_t reload_failures; /* loads refused (the previous overrides kept) */
	size_t tenants;           /* tenants with an entry now */
};
void overrides_stats(struct overrides *o, struct overrides_stats *out);

#endif

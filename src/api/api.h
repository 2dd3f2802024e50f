/* api: the HTTP handlers. Binds requests (paths, methods, tenants, Connect codecs) to the
 * ingest and query code; holds no business logic of its own. One api per server. */
#ifndef EMBER_API_API_H
#define EMBER_API_API_H

#include "http/server.h"
#include "ingest/ingest.h"
#include "store/store.h"
#include "store/wal.h"
#include "util/metrics.h"

struct query_limits;

struct api_deps {
	struct store *store;    /* borrowed: what reads read, what /ingester/flush cuts */
	struct ingest *ingest;  /* borrowed */
	struct wal *wal;        /* borrowed; may be NULL */
	bool multitenancy;      /* require X-Scope-OrgID */
	size_t max_body_bytes;  /* for Connect request decompression */
	/* Stack query limits (-querier.*); all 0 = no limits. */
	int64_t max_query_length_ns, max_query_lookback_ns;
	int64_t max_flamegraph_nodes_default, max_flamegraph_nodes_max;
	/* Per-tenant query limits (the runtime config's overrides): when set, a tenant's
	 * limits come from query_limits_fn(limits_ctx, tenant) instead of the four above. */
	void (*query_limits_fn)(void *ctx, struct slice tenant, struct query_limits *out);
	void *limits_ctx;
	/* GET /runtime_config: appends the runtime configuration as YAML (NULL: Pyroscope's
	 * "runtime config file doesn't exist"). */
	void (*runtime_config_fn)(void *ctx, struct buf *out);
	void *runtime_config_ctx;
};

struct api;

/** Creates the handlers and their metrics (registered in a registry the api owns). */
struct api *api_new(const struct api_deps *deps);
/** Frees it (NULL-safe). */
void api_free(struct api *api);
/** Marks the server ready (GET /ready answers 200 from then on). */
void api_set_ready(struct api *api, bool ready);

/** The http_handler_fn: routes one request. */
void api_handle(void *api, struct http_request *req, struct http_response *resp);
/** The http_response_fn: records request durations by route and status. */
void api_on_response(void *api, const struct http_request *req, int status, double seconds);

#endif

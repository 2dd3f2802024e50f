#include "api/api_internal.h"
#include "server/version.h"

void api_ready(struct api *api, struct http_request *req, struct http_response *resp)
{
	(void)req;
	if (__atomic_load_n(&api->ready, __ATOMIC_ACQUIRE)) {
		http_response_set_body(resp, "text/plain; charset=utf-8", "ready\n", 6);
		return;
	}
	resp->status = 503;
	static const char msg[] = "not ready: replaying the write-ahead log\n";
	http_response_set_body(resp, "text/plain; charset=utf-8", msg, sizeof(msg) - 1);
}

/* POST /ingester/flush: cuts the head into blocks and answers once they are durable. */
void api_flush(struct api *api, struct http_request *req, struct http_response *resp)
{
	if (!slice_eq_cstr(req->method, "POST") && !slice_eq_cstr(req->method, "GET")) {
		api_error(resp, CONNECT_UNIMPLEMENTED, "method not allowed: use POST");
		resp->status = 405;
		return;
	}
	char err[600];
	if (store_flush(api->d.store, err, sizeof(err))) {
		api_error(resp, CONNECT_INTERNAL, "flush failed: %s", err);
		return;
	}
	http_response_set_body(resp, "text/plain; charset=utf-8", "flushed\n", 8);
}

/* The server's own figures, read by the registry at scrape time: one table row per
 * metric, naming the stats struct it comes from and the field within it. */
enum stat_source { FROM_INGEST, FROM_WAL, FROM_STORE };
enum stat_width { W_U64, W_SIZE };

struct stat_metric {
	const char *name, *help;
	bool counter;
	enum stat_source source;
	size_t offset;
	enum stat_width width;
};

#define INGEST(f) FROM_INGEST, offsetof(struct ingest_stats, f), W_U64
#define WAL(f) FROM_WAL, offsetof(struct wal_stats, f), W_U64
#define STORE(f, w) FROM_STORE, offsetof(struct store_stats, f), w

static const struct stat_metric stat_metrics[] = {
	{"ember_ingest_requests_total", "Ingest requests (/ingest and Push) that succeeded.", true, INGEST(requests_ok)},
	{"ember_ingest_requests_failed_total", "Ingest requests refused with an error.", true, INGEST(requests_failed)},
	{"ember_ingested_profiles_total", "Profiles stored (one per sample type and series).", true, INGEST(profiles)},
	{"ember_ingested_samples_total", "Samples stored after normalisation.", true, INGEST(samples)},
	{"ember_ingested_bytes_total", "Request body bytes received by ingest.", true, INGEST(bytes_received)},
	{"ember_ingested_decompressed_bytes_total", "Profile bytes after decompression.", true,
	 INGEST(bytes_decompressed)},
	{"ember_wal_appended_bytes_total", "Bytes appended to the WAL.", true, WAL(bytes_appended)},
	{"ember_wal_records_total", "Records appended to the WAL.", true, WAL(records)},
	{"ember_wal_syncs_total", "fdatasync calls made by WAL group commits.", true, WAL(syncs)},
	{"ember_wal_segments", "WAL segment files on disk.", false, WAL(segments)},
	{"ember_wal_size_bytes", "Bytes in all WAL segments.", false, WAL(total_size)},
	{"ember_head_tenants", "Tenants with data in the head.", false, STORE(head.tenants, W_SIZE)},
	{"ember_head_series", "Series in the head.", false, STORE(head.series, W_SIZE)},
	{"ember_head_profiles", "Profiles in the head.", false, STORE(head.profiles, W_SIZE)},
	{"ember_head_samples", "(stack, value) pairs in the head.", false, STORE(head.samples, W_SIZE)},
	{"ember_head_symbol_bytes", "Approximate bytes of the head's symbol tables.", false,
	 STORE(head.symbol_bytes, W_SIZE)},
	{"ember_head_profile_bytes", "Approximate bytes of the head's profile data.", false,
	 STORE(head.profile_bytes, W_SIZE)},
	{"ember_blocks", "Blocks queries read from.", false, STORE(blocks, W_SIZE)},
	{"ember_block_profiles", "Profiles stored in blocks.", false, STORE(block_profiles, W_SIZE)},
	{"ember_block_symbols_cache_bytes",
	 "Bytes of block symbol tables loaded in memory (-blocks.symbols-cache-max-bytes).", false,
	 STORE(block_cache_bytes, W_SIZE)},
	{"ember_head_flushes_total", "Head cuts that made their blocks durable.", true, STORE(flushes, W_U64)},
	{"ember_head_flush_failures_total", "Head cuts that failed (retried later).", true,
	 STORE(flush_failures, W_U64)},
	{"ember_compactions_total", "Compactions that produced a block.", true, STORE(compactions, W_U64)},
	{"ember_compaction_failures_total", "Compactions that failed (retried next round).", true,
	 STORE(compaction_failures, W_U64)},
	{"ember_blocks_marked_for_deletion_total", "Blocks marked for deletion (compacted away or past retention).",
	 true, STORE(blocks_marked, W_U64)},
	{"ember_blocks_deleted_total", "Blocks deleted after the deletion delay.", true, STORE(blocks_deleted, W_U64)},
	{"ember_corrupt_blocks_total", "Blocks found damaged at load or in a query (skipped; see the log).", true,
	 STORE(corrupt_blocks, W_U64)},
};

struct stat_metric_ctx {
	struct api *api;
	const struct stat_metric *def;
};

static double stat_metric_value(void *ctx)
{
	const struct stat_metric_ctx *c = ctx;
	union {
		struct ingest_stats ingest;
		struct wal_stats wal;
		struct store_stats store;
	} u;
	switch (c->def->source) {
	case FROM_INGEST:
		ingest_stats(c->api->d.ingest, &u.ingest);
		break;
	case FROM_WAL:
		wal_stats(c->api->d.wal, &u.wal);
		break;
	case FROM_STORE:
		store_stats(c->api->d.store, &u.store);
		break;
	}
	const char *field = (const char *)&u + c->def->offset;
	if (c->def->width == W_SIZE)
		return (double)*(const size_t *)field;
	return (double)*(const uint64_t *)field;
}

void api__register_stat_metrics(struct api *api)
{
	api->stat_ctx = xcalloc(EMBER_ARRAY_LEN(stat_metrics), sizeof(*api->stat_ctx));
	for (size_t i = 0; i < EMBER_ARRAY_LEN(stat_metrics); i++) {
		const struct stat_metric *d = &stat_metrics[i];
		if (d->source == FROM_WAL && !api->d.wal)
			continue;
		api->stat_ctx[i].api = api;
		api->stat_ctx[i].def = d;
		if (d->counter)
			metrics_counter_func(api->metrics, d->name, d->help, stat_metric_value, &api->stat_ctx[i]);
		else
			metrics_gauge_func(api->metrics, d->name, d->help, stat_metric_value, &api->stat_ctx[i]);
	}
}

void api_metrics(struct api *api, struct http_request *req, struct http_response *resp)
{
	(void)req;
	resp->body.n = 0;
	metrics_write(api->metrics, &resp->body);
	resp->content_type = METRICS_CONTENT_TYPE;
}

void api_buildinfo(struct api *api, struct http_request *req, struct http_response *resp)
{
	(void)api;
	(void)req;
	struct buf *b = &resp->body;
	b->n = 0;
	buf_printf(b,
		   "{\"status\":\"success\",\"data\":{\"version\":\"%s\",\"revision\":\"%s\",\"branch\":\"%s\","
		   "\"buildUser\":\"%s\",\"buildDate\":\"%s\",\"goVersion\":\"%s\"}}",
		   EMBER_VERSION, EMBER_REVISION, EMBER_BRANCH, EMBER_BUILD_USER, EMBER_BUILD_DATE, EMBER_CC_VERSION);
	resp->content_type = "application/json";
}

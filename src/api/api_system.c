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

/* Values the registry reads at scrape time. */
static void write_gauge(struct buf *b, const char *name, const char *type, const char *help, double v)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
}

void api_metrics(struct api *api, struct http_request *req, struct http_response *resp)
{
	(void)req;
	struct buf *b = &resp->body;
	b->n = 0;
	metrics_write(api->metrics, b);
	struct ingest_stats is;
	ingest_stats(api->d.ingest, &is);
	write_gauge(b, "ember_ingest_requests_total", "counter", "Ingest requests (/ingest and Push) that succeeded.",
		    (double)is.requests_ok);
	write_gauge(b, "ember_ingest_requests_failed_total", "counter", "Ingest requests refused with an error.",
		    (double)is.requests_failed);
	write_gauge(b, "ember_ingested_profiles_total", "counter",
		    "Profiles stored (one per sample type and series).", (double)is.profiles);
	write_gauge(b, "ember_ingested_samples_total", "counter", "Samples stored after normalisation.",
		    (double)is.samples);
	write_gauge(b, "ember_ingested_bytes_total", "counter", "Request body bytes received by ingest.",
		    (double)is.bytes_received);
	write_gauge(b, "ember_ingested_decompressed_bytes_total", "counter",
		    "Profile bytes after decompression.", (double)is.bytes_decompressed);
	if (api->d.wal) {
		struct wal_stats ws;
		wal_stats(api->d.wal, &ws);
		write_gauge(b, "ember_wal_appended_bytes_total", "counter", "Bytes appended to the WAL.",
			    (double)ws.bytes_appended);
		write_gauge(b, "ember_wal_records_total", "counter", "Records appended to the WAL.",
			    (double)ws.records);
		write_gauge(b, "ember_wal_syncs_total", "counter", "fdatasync calls made by WAL group commits.",
			    (double)ws.syncs);
		write_gauge(b, "ember_wal_segments", "gauge", "WAL segment files on disk.", (double)ws.segments);
		write_gauge(b, "ember_wal_size_bytes", "gauge", "Bytes in all WAL segments.", (double)ws.total_size);
	}
	struct store_stats ss;
	store_stats(api->d.store, &ss);
	const struct head_stats hs = ss.head;
	write_gauge(b, "ember_head_tenants", "gauge", "Tenants with data in the head.", (double)hs.tenants);
	write_gauge(b, "ember_head_series", "gauge", "Series in the head.", (double)hs.series);
	write_gauge(b, "ember_head_profiles", "gauge", "Profiles in the head.", (double)hs.profiles);
	write_gauge(b, "ember_head_samples", "gauge", "(stack, value) pairs in the head.", (double)hs.samples);
	write_gauge(b, "ember_head_symbol_bytes", "gauge", "Approximate bytes of the head's symbol tables.",
		    (double)hs.symbol_bytes);
	write_gauge(b, "ember_head_profile_bytes", "gauge", "Approximate bytes of the head's profile data.",
		    (double)hs.profile_bytes);
	write_gauge(b, "ember_blocks", "gauge", "Blocks queries read from.", (double)ss.blocks);
	write_gauge(b, "ember_block_profiles", "gauge", "Profiles stored in blocks.", (double)ss.block_profiles);
	write_gauge(b, "ember_block_symbols_cache_bytes", "gauge",
		    "Bytes of block symbol tables loaded in memory (-blocks.symbols-cache-max-bytes).",
		    (double)ss.block_cache_bytes);
	write_gauge(b, "ember_head_flushes_total", "counter", "Head cuts that made their blocks durable.",
		    (double)ss.flushes);
	write_gauge(b, "ember_head_flush_failures_total", "counter", "Head cuts that failed (retried later).",
		    (double)ss.flush_failures);
	write_gauge(b, "ember_compactions_total", "counter", "Compactions that produced a block.",
		    (double)ss.compactions);
	write_gauge(b, "ember_compaction_failures_total", "counter", "Compactions that failed (retried next round).",
		    (double)ss.compaction_failures);
	write_gauge(b, "ember_blocks_marked_for_deletion_total", "counter",
		    "Blocks marked for deletion (compacted away or past retention).", (double)ss.blocks_marked);
	write_gauge(b, "ember_blocks_deleted_total", "counter", "Blocks deleted after the deletion delay.",
		    (double)ss.blocks_deleted);
	write_gauge(b, "ember_corrupt_blocks_total", "counter",
		    "Blocks found damaged at load or in a query (skipped; see the log).", (double)ss.corrupt_blocks);
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

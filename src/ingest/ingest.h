/* ingest: the write path. Takes what a client sent (/ingest or Push), decodes and
 * validates it completely, appends it to the WAL (durable before we answer), then adds
 * it to the head. On start-up, ingest_replay_record feeds each WAL record back through
 * the same code (without the time window and rate checks it already passed).
 * Thread-safe: many requests may be ingested at once. Design: docs/internals/ingest.md. */
#ifndef EMBER_INGEST_INGEST_H
#define EMBER_INGEST_INGEST_H

#include "ingest/plan.h"
#include "push.pb-c.h"
#include "store/store.h"
#include "store/wal.h"

struct ingest;

/** The outcome of one request: an HTTP status and, on failure, a Connect error code name
 * ("invalid_argument", ...) and message. */
struct ingest_result {
	int status;       /* 200 on success */
	const char *code; /* NULL on success; static string */
	char message[512];
	size_t profiles;  /* profiles stored (one per sample type and series) */
	size_t samples;   /* samples kept after normalisation */
};

/** Creates the write path over store and wal (both borrowed; wal may be NULL to keep
 * nothing durable, for tests). lim is copied. */
struct ingest *ingest_new(struct store *store, struct wal *wal, const struct ingest_limits *lim);
/** Per-tenant limits: fills *out with the limits of tenant (borrowed for the call). Must
 * be thread-safe and cheap: it runs once per request and per replayed WAL record. */
typedef void (*ingest_limits_fn)(void *ctx, struct slice tenant, struct ingest_limits *out);

/** Makes ing take each request's limits from fn(ctx, tenant) (ctx borrowed; must outlive
 * ing) instead of the copy given to ingest_new. Call before the first request. */
void ingest_set_limits_fn(struct ingest *ing, ingest_limits_fn fn, void *ctx);

/** Frees it (NULL-safe); head and wal are not touched. */
void ingest_free(struct ingest *ing);

/** POST /ingest: query is the raw query string, content_type the header value (may be
 * empty), body the request body. now_ns is the time the request arrived. */
void ingest_http(struct ingest *ing, struct slice tenant, struct slice query, struct slice content_type,
		 struct slice body, int64_t now_ns, struct ingest_result *res);

/** push.v1.PusherService/Push with a decoded request (borrowed). */
void ingest_push(struct ingest *ing, struct slice tenant, const Push__V1__PushRequest *req, int64_t now_ns,
		 struct ingest_result *res);

/** Re-applies one WAL record, read from WAL segment `segment`, to the head (for
 * wal_replay). A record whose tenant's data of that segment is already in a block is
 * skipped (*skipped set). Returns 0, or a negative code for a record that cannot be
 * applied (logged by the caller, then skipped). */
int ingest_replay_record(struct ingest *ing, const uint8_t *rec, size_t n, uint64_t segment, bool *skipped,
			 char *err, size_t errlen) EMBER_WUR;

struct ingest_stats {
	uint64_t requests_ok, requests_failed;
	uint64_t profiles, samples;
	uint64_t bytes_received;     /* request bodies as received */
	uint64_t bytes_decompressed; /* pprof bytes after inflating */
};

/** Counters since start (replayed records are not counted). */
void ingest_stats(struct ingest *ing, struct ingest_stats *out);

#endif

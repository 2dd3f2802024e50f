/* Shared between the api_*.c files only. */
#ifndef EMBER_API_INTERNAL_H
#define EMBER_API_INTERNAL_H

#include <protobuf-c/protobuf-c.h>

#include "api/api.h"
#include "http/connect.h"
#include "store/reader.h"

struct api {
	struct api_deps d;
	struct reader reader;      /* over d.store */
	struct metrics *metrics;
	struct metric *requests;  /* ember_request_duration_seconds{route,status} */
	int ready;                /* atomic */
	struct stat_metric_ctx *stat_ctx; /* callback contexts of the server's figures */
};

/** Registers the server's figures (ingest, WAL, store) as callback metrics (api_system.c). */
void api__register_stat_metrics(struct api *api);

/** The tenants a request acts for: one for writes; reads accept "a|b". Strings point
 * into the request (arena). */
struct tenants {
	struct slice v[16];
	size_t n;
};

/** Resolves the tenant(s) of req; on failure writes the 401 response and returns false. */
bool api_tenants(struct api *api, struct http_request *req, struct http_response *resp, bool read,
		 struct tenants *out);

/** A Connect unary call in progress. */
struct connect_call {
	struct http_request *req;
	struct http_response *resp;
	enum connect_codec codec;
	ProtobufCMessage *in; /* decoded request, freed by connect_call_finish */
};

/** Checks method and content type, decodes the request body into a message of type d.
 * On failure writes the error response and returns false. */
bool connect_call_begin(struct api *api, struct connect_call *c, struct http_request *req,
			struct http_response *resp, const ProtobufCMessageDescriptor *d);
/** Encodes msg (may live in the request arena) as the response and frees the request. */
void connect_call_reply(struct connect_call *c, const ProtobufCMessage *msg);
/** Sends packed, the protobuf encoding of a message of type d, as the response: as is for
 * application/proto, re-encoded as protojson for JSON. Takes packed's bytes (packed is
 * left empty) and frees the request. For answers built directly in wire form (pprof). */
void connect_call_reply_packed(struct connect_call *c, const ProtobufCMessageDescriptor *d, struct buf *packed);
/** Writes a Connect error response and frees the request. */
void connect_call_fail(struct connect_call *c, enum connect_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/** Writes a Connect error response on a plain HTTP request. */
void api_error(struct http_response *resp, enum connect_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Handlers, by file. */
void api_ingest_http(struct api *api, struct http_request *req, struct http_response *resp);
void api_push(struct api *api, struct http_request *req, struct http_response *resp);
/** Returns false if method is not a querier method this file serves. */
bool api_querier(struct api *api, struct slice method, struct http_request *req, struct http_response *resp);
/** The full route of a querier method this file serves (static), or NULL. */
const char *api_querier_route(struct slice method);
void api_ready(struct api *api, struct http_request *req, struct http_response *resp);
void api_flush(struct api *api, struct http_request *req, struct http_response *resp);
void api_metrics(struct api *api, struct http_request *req, struct http_response *resp);
void api_buildinfo(struct api *api, struct http_request *req, struct http_response *resp);
/* api_runtime.c: GET /runtime_config (the per-tenant overrides as YAML). */
void api_runtime_config(struct api *api, struct http_request *req, struct http_response *resp);
/* api_merge.c: querier.v1 stack queries (request already decoded) and version.v1. */
void api_select_merge_stacktraces(struct api *api, struct connect_call *c, const struct tenants *t);
void api_select_merge_span_profile(struct api *api, struct connect_call *c, const struct tenants *t);
void api_diff(struct api *api, struct connect_call *c, const struct tenants *t);
/** /version.v1.Version/Version: {QuerierAPI: 1}; no tenant needed. */
void api_version(struct api *api, struct http_request *req, struct http_response *resp);
/** querier.v1.QuerierService/SelectMergeProfile (api_pprof.c); request already decoded. */
void api_select_merge_profile(struct api *api, struct connect_call *c, const struct tenants *t);

/* api_render.c: the legacy HTTP reads (GET only; the router checks the method). */
void api_render(struct api *api, struct http_request *req, struct http_response *resp);
void api_render_diff(struct api *api, struct http_request *req, struct http_response *resp);
void api_label_values(struct api *api, struct http_request *req, struct http_response *resp);
/* api_analysis.c: Ember's summary, Connect (/ember.v1.AnalysisService/Summarize) and GET. */
void api_summarize(struct api *api, struct http_request *req, struct http_response *resp);
void api_summary_get(struct api *api, struct http_request *req, struct http_response *resp);

#endif

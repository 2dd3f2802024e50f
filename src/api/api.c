#include <time.h>

#include "api/api_internal.h"
#include "api/ui_assets.h"
#include "util/log.h"

#define TENANT_MAX_LEN 150

struct api *api_new(const struct api_deps *deps)
{
	struct api *api = xcalloc(1, sizeof(*api));
	api->d = *deps;
	api->reader = reader_of_store(deps->store);
	api->metrics = metrics_new();
	static const char *const labels[] = {"route", "status", NULL};
	api->requests = metrics_histogram(api->metrics, "ember_request_duration_seconds",
					  "Time spent serving HTTP requests, by route and status.", labels,
					  metrics_default_buckets, METRICS_DEFAULT_BUCKETS_N);
	api__register_stat_metrics(api);
	return api;
}

void api_free(struct api *api)
{
	if (!api)
		return;
	metrics_free(api->metrics);
	free(api->stat_ctx);
	free(api);
}

void api_set_ready(struct api *api, bool ready)
{
	__atomic_store_n(&api->ready, ready ? 1 : 0, __ATOMIC_RELEASE);
}

void api_error(struct http_response *resp, enum connect_code code, const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	resp->status = connect_code_http_status(code);
	resp->content_type = "application/json";
	resp->body.n = 0;
	connect_error_json(code, msg, &resp->body);
}

/* Tenant ids follow Cortex/Pyroscope: 1-150 characters, no '/', not "." or "..". */
static bool tenant_valid(struct slice t)
{
	if (!t.n || t.n > TENANT_MAX_LEN || slice_eq_cstr(t, ".") || slice_eq_cstr(t, ".."))
		return false;
	for (size_t i = 0; i < t.n; i++) {
		uint8_t c = t.p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("!-_.*'()", c)))
			return false;
	}
	return true;
}

bool api_tenants(struct api *api, struct http_request *req, struct http_response *resp, bool read,
		 struct tenants *out)
{
	out->n = 0;
	if (!api->d.multitenancy) {
		out->v[out->n++] = slice_cstr("anonymous");
		return true;
	}
	const struct slice *h = http_request_header(req, "X-Scope-OrgID");
	if (!h || !h->n) {
		api_error(resp, CONNECT_UNAUTHENTICATED, "no org id: the X-Scope-OrgID header is required");
		return false;
	}
	struct slice rest = *h;
	while (rest.n) {
		const uint8_t *bar = memchr(rest.p, '|', rest.n);
		struct slice t = slice_make(rest.p, bar ? (size_t)(bar - rest.p) : rest.n);
		rest = bar ? slice_make(bar + 1, rest.n - t.n - 1) : slice_make("", 0);
		if (!tenant_valid(t)) {
			api_error(resp, CONNECT_UNAUTHENTICATED, "invalid tenant id in X-Scope-OrgID: %.*s",
				  (int)EMBER_MIN(t.n, 160), (const char *)t.p);
			return false;
		}
		if ((!read && out->n == 1) || out->n == EMBER_ARRAY_LEN(out->v)) {
			api_error(resp, CONNECT_INVALID_ARGUMENT, "%s",
				  read ? "too many tenants in X-Scope-OrgID (at most 16)"
				       : "writes take exactly one tenant in X-Scope-OrgID");
			return false;
		}
		out->v[out->n++] = t;
	}
	if (!out->n) {
		api_error(resp, CONNECT_UNAUTHENTICATED, "no org id: the X-Scope-OrgID header is empty");
		return false;
	}
	return true;
}

/* ---- Connect unary ------------------------------------------------------------------- */

bool connect_call_begin(struct api *api, struct connect_call *c, struct http_request *req,
			struct http_response *resp, const ProtobufCMessageDescriptor *d)
{
	memset(c, 0, sizeof(*c));
	c->req = req;
	c->resp = resp;
	if (!slice_eq_cstr(req->method, "POST")) {
		api_error(resp, CONNECT_UNIMPLEMENTED, "method %.*s not allowed: Connect unary calls use POST",
			  (int)req->method.n, (const char *)req->method.p);
		resp->status = 405;
		http_response_add_header(resp, "Allow", "POST");
		return false;
	}
	const struct slice *ct = http_request_header(req, "Content-Type");
	if (!ct || connect_codec_from_content_type(*ct, &c->codec)) {
		api_error(resp, CONNECT_UNKNOWN, "unsupported content type %.*s: use application/proto or application/json",
			  ct ? (int)EMBER_MIN(ct->n, 100) : 6, ct ? (const char *)ct->p : "(none)");
		resp->status = 415;
		return false;
	}
	const struct slice *enc = http_request_header(req, "Content-Encoding");
	char err[300];
	int rc = connect_decode_request(d, c->codec, enc ? *enc : slice_make("", 0), req->body, api->d.max_body_bytes,
					&c->in, err, sizeof(err));
	if (rc) {
		api_error(resp, rc == EMBER_EUNSUP ? CONNECT_UNIMPLEMENTED : connect_code_from_error(rc), "%s", err);
		return false;
	}
	return true;
}

static void connect_call_end(struct connect_call *c)
{
	if (c->in)
		protobuf_c_message_free_unpacked(c->in, NULL);
	c->in = NULL;
}

void connect_call_reply(struct connect_call *c, const ProtobufCMessage *msg)
{
	c->resp->body.n = 0;
	if (connect_encode_response(msg, c->codec, &c->resp->body)) {
		connect_call_fail(c, CONNECT_INTERNAL, "could not encode the response");
		return;
	}
	c->resp->status = 200;
	c->resp->content_type = connect_codec_content_type(c->codec);
	const struct slice *ae = http_request_header(c->req, "Accept-Encoding");
	if (ae && connect_compress_response(*ae, &c->resp->body))
		http_response_add_header(c->resp, "Content-Encoding", "gzip");
	connect_call_end(c);
}

void connect_call_reply_packed(struct connect_call *c, const ProtobufCMessageDescriptor *d, struct buf *packed)
{
	if (c->codec == CONNECT_PROTO) {
		/* Already the answer: hand the bytes over without a copy. */
		buf_release(&c->resp->body);
		c->resp->body = *packed;
		buf_init(packed);
	} else {
		ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, packed->n, packed->p);
		buf_release(packed);
		if (!m) {
			connect_call_fail(c, CONNECT_INTERNAL, "could not decode the response");
			return;
		}
		c->resp->body.n = 0;
		int rc = connect_encode_response(m, c->codec, &c->resp->body);
		protobuf_c_message_free_unpacked(m, NULL);
		if (rc) {
			connect_call_fail(c, CONNECT_INTERNAL, "could not encode the response");
			return;
		}
	}
	c->resp->status = 200;
	c->resp->content_type = connect_codec_content_type(c->codec);
	const struct slice *ae = http_request_header(c->req, "Accept-Encoding");
	if (ae && connect_compress_response(*ae, &c->resp->body))
		http_response_add_header(c->resp, "Content-Encoding", "gzip");
	connect_call_end(c);
}

void connect_call_fail(struct connect_call *c, enum connect_code code, const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	api_error(c->resp, code, "%s", msg);
	connect_call_end(c);
}

/* ---- routing --------------------------------------------------------------------------- */

static bool path_is(const struct http_request *req, const char *p)
{
	return slice_eq_cstr(req->path, p);
}

static bool path_prefix(const struct http_request *req, const char *p, struct slice *rest)
{
	size_t n = strlen(p);
	if (req->path.n < n || memcmp(req->path.p, p, n) != 0)
		return false;
	*rest = slice_make(req->path.p + n, req->path.n - n);
	return true;
}

static bool require_get(struct http_request *req, struct http_response *resp)
{
	if (slice_eq_cstr(req->method, "GET") || slice_eq_cstr(req->method, "HEAD"))
		return true;
	api_error(resp, CONNECT_UNIMPLEMENTED, "method not allowed: use GET");
	resp->status = 405;
	http_response_add_header(resp, "Allow", "GET, HEAD");
	return false;
}

static void route_querier(struct api *api, struct http_request *req, struct http_response *resp)
{
	struct slice rest = slice_make(req->path.p + strlen("/querier.v1.QuerierService/"),
				       req->path.n - strlen("/querier.v1.QuerierService/"));
	if (!api_querier(api, rest, req, resp))
		api_error(resp, CONNECT_UNIMPLEMENTED, "querier.v1.QuerierService/%.*s is not implemented yet",
			  (int)EMBER_MIN(rest.n, 100), (const char *)rest.p);
}

static void route_ui(struct api *api, struct http_request *req, struct http_response *resp)
{
	(void)api;
	api_ui_serve(req, resp);
}

/* Every endpoint, in match order. A prefix route matches paths that start with it. GET-only
 * routes answer 405 to other methods (HEAD is a GET). The web UI comes last: exactly "/"
 * and the /ui/ prefix, so it never shadows an API path. */
static const struct route {
	const char *path;
	bool prefix, get_only;
	void (*fn)(struct api *, struct http_request *, struct http_response *);
} routes[] = {
	{"/ingest", false, false, api_ingest_http},
	{"/pyroscope/ingest", false, false, api_ingest_http},
	{"/push.v1.PusherService/Push", false, false, api_push},
	{"/querier.v1.QuerierService/", true, false, route_querier},
	{"/version.v1.Version/Version", false, false, api_version},
	{"/ingester/flush", false, false, api_flush},
	{"/ready", false, true, api_ready},
	{"/metrics", false, true, api_metrics},
	{"/api/v1/status/buildinfo", false, true, api_buildinfo},
	{"/runtime_config", false, true, api_runtime_config},
	{"/pyroscope/render", false, true, api_render},
	{"/pyroscope/render-diff", false, true, api_render_diff},
	{"/pyroscope/label-values", false, true, api_label_values},
	{"/ember/v1/summary", false, true, api_summary_get},
	{"/ember.v1.AnalysisService/Summarize", false, false, api_summarize},
	{"/", false, false, route_ui},
	{"/ui/", true, false, route_ui},
};

static const struct route *route_find(const struct http_request *req)
{
	struct slice rest;
	for (size_t i = 0; i < EMBER_ARRAY_LEN(routes); i++)
		if (routes[i].prefix ? path_prefix(req, routes[i].path, &rest) : path_is(req, routes[i].path))
			return &routes[i];
	return NULL;
}

void api_handle(void *ctx, struct http_request *req, struct http_response *resp)
{
	struct api *api = ctx;
	const struct route *r = route_find(req);
	if (!r) {
		api_error(resp, CONNECT_NOT_FOUND, "no such endpoint: %.*s", (int)EMBER_MIN(req->path.n, 200),
			  (const char *)req->path.p);
		return;
	}
	if (r->get_only && !require_get(req, resp))
		return;
	r->fn(api, req, resp);
}

/* Routes become metric labels: known paths as they are (querier methods by name), anything
 * else as "other", so a scan of random URLs cannot create unbounded series. */
static const char *route_label(const struct http_request *req)
{
	const struct route *r = route_find(req);
	if (!r)
		return "other";
	if (r->fn == route_querier) {
		const char *known = api_querier_route(
			slice_make(req->path.p + strlen(r->path), req->path.n - strlen(r->path)));
		return known ? known : "other";
	}
	return r->path;
}

void api_on_response(void *ctx, const struct http_request *req, int status, double seconds)
{
	struct api *api = ctx;
	char st[8];
	snprintf(st, sizeof(st), "%d", status);
	const char *values[] = {req ? route_label(req) : "other", st};
	metric_observe(api->requests, values, seconds);
}

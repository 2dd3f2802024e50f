#include <time.h>

#include "api/api_internal.h"
#include "push.pb-c.h"

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void send_result(struct http_response *resp, const struct ingest_result *res)
{
	if (res->status == 200) {
		resp->status = 200;
		resp->body.n = 0;
		return;
	}
	resp->status = res->status;
	resp->content_type = "application/json";
	resp->body.n = 0;
	/* The code names come from ingest as Connect wire names; the body shape is Connect's. */
	buf_append_cstr(&resp->body, "{\"code\":");
	buf_append_json_string(&resp->body, res->code, strlen(res->code));
	buf_append_cstr(&resp->body, ",\"message\":");
	buf_append_json_string(&resp->body, res->message, strlen(res->message));
	buf_append_cstr(&resp->body, "}");
}

void api_ingest_http(struct api *api, struct http_request *req, struct http_response *resp)
{
	if (!slice_eq_cstr(req->method, "POST")) {
		api_error(resp, CONNECT_UNIMPLEMENTED, "method %.*s not allowed: /ingest takes POST",
			  (int)EMBER_MIN(req->method.n, 16), (const char *)req->method.p);
		resp->status = 405;
		http_response_add_header(resp, "Allow", "POST");
		return;
	}
	struct tenants t;
	if (!api_tenants(api, req, resp, false, &t))
		return;
	const struct slice *ct = http_request_header(req, "Content-Type");
	struct ingest_result res;
	ingest_http(api->d.ingest, t.v[0], req->query, ct ? *ct : slice_make("", 0), req->body, now_ns(), &res);
	send_result(resp, &res);
}

void api_push(struct api *api, struct http_request *req, struct http_response *resp)
{
	struct tenants t;
	struct connect_call c;
	if (!connect_call_begin(api, &c, req, resp, &push__v1__push_request__descriptor))
		return;
	if (!api_tenants(api, req, resp, false, &t)) {
		connect_call_fail(&c, CONNECT_UNAUTHENTICATED, "no org id: the X-Scope-OrgID header is required");
		return;
	}
	struct ingest_result res;
	ingest_push(api->d.ingest, t.v[0], (const Push__V1__PushRequest *)c.in, now_ns(), &res);
	if (res.status != 200) {
		enum connect_code code = res.status == 429 ? CONNECT_RESOURCE_EXHAUSTED
					 : res.status >= 500 ? CONNECT_INTERNAL
							     : CONNECT_INVALID_ARGUMENT;
		connect_call_fail(&c, code, "%s", res.message);
		return;
	}
	Push__V1__PushResponse out = PUSH__V1__PUSH_RESPONSE__INIT;
	connect_call_reply(&c, &out.base);
}

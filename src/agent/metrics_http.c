/* metrics_http: GET /metrics on a thread of its own (metrics_http.h). */
#include <pthread.h>

#include "agent/metrics_http.h"
#include "http/server.h"
#include "util/log.h"
#include "util/common.h"

struct metrics_http {
	struct http_server *srv;
	struct metrics *m;
	pthread_t thread;
};

static bool slice_is(struct slice s, const char *c)
{
	size_t n = strlen(c);
	return s.n == n && memcmp(s.p, c, n) == 0;
}

static void handle(void *ctx, struct http_request *req, struct http_response *resp)
{
	struct metrics_http *h = ctx;
	if (!slice_is(req->path, "/metrics")) {
		http_response_set_error(resp, 404, "not_found", "only /metrics is served here");
		return;
	}
	if (!slice_is(req->method, "GET") && !slice_is(req->method, "HEAD")) {
		http_response_set_error(resp, 405, "invalid_argument", "GET /metrics");
		return;
	}
	resp->body.n = 0;
	metrics_write(h->m, &resp->body);
	resp->content_type = METRICS_CONTENT_TYPE;
}

static void *run(void *arg)
{
	struct metrics_http *h = arg;
	int rc = http_server_run(h->srv);
	if (rc)
		log_error("msg=\"metrics server stopped\" error=\"%s\"", ember_strerror(rc));
	return NULL;
}

int metrics_http_start(const char *address, int port, struct metrics *m, struct metrics_http **out)
{
	int rc = EMBER_EINVAL;
	struct metrics_http *h = NULL;
	*out = NULL;
	if (!m || port < 0 || port > 65535)
		goto out;
	h = xcalloc(1, sizeof(*h));
	h->m = m;
	struct http_server_config hc = {
		.address = address && *address ? address : "127.0.0.1",
		.port = port,
		.max_body_bytes = 4096, /* scrapes have no body */
		.workers = 1,
		.max_connections = 64,
	};
	rc = http_server_new(&hc, handle, h, &h->srv);
	if (rc)
		goto out;
	if (pthread_create(&h->thread, NULL, run, h) != 0) {
		rc = EMBER_EIO;
		goto out;
	}
	*out = h;
	h = NULL;
	rc = 0;
out:
	if (h) {
		http_server_free(h->srv);
		free(h);
	}
	return rc;
}

int metrics_http_port(const struct metrics_http *h)
{
	return http_server_port(h->srv);
}

void metrics_http_stop(struct metrics_http *h)
{
	if (!h)
		return;
	http_server_stop(h->srv);
	pthread_join(h->thread, NULL);
	http_server_free(h->srv);
	free(h);
}

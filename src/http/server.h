/* HTTP/1.1 server: one epoll loop thread owns every socket; complete requests are handed
 * to a pool of worker threads that call the handler; the loop writes the responses.
 * See docs/internals/http.md for the threading model, lifetimes and limits. */
#ifndef EMBER_HTTP_SERVER_H
#define EMBER_HTTP_SERVER_H

#include "http/request.h"
#include "util/common.h"

/** Called on a worker thread with a complete request. resp starts as status 200, empty
 * body. Handlers run concurrently on several workers: ctx must be thread-safe. req and
 * everything it points to (arena, body) stay valid until the response has been written;
 * do not keep pointers into them after returning. */
typedef void (*http_handler_fn)(void *ctx, struct http_request *req, struct http_response *resp);

/** Called on the loop thread after each response has been written (or the connection
 * failed while writing it), including the server's own 4xx/503: then req has empty
 * method and path. seconds runs from the request being complete to its last byte being
 * written. Must be quick and must not block: it delays every connection. */
typedef void (*http_response_fn)(void *ctx, const struct http_request *req, int status,
				 double seconds);

/** Zero means "default" for every number. */
struct http_server_config {
	const char *address;     /* numeric IPv4/IPv6 or host name; NULL or "" = 0.0.0.0 */
	int port;                /* 0 = any free port (see http_server_port) */
	size_t max_body_bytes;   /* 413 beyond it; default 32 MiB */
	size_t max_header_bytes; /* 431 beyond it; default 64 KiB */
	int read_timeout_ms;     /* whole request (headers and body) from its first byte, and
				  * a new connection's first request; 408 after. Default 30 s */
	int idle_timeout_ms;     /* keep-alive connection between requests; default 120 s */
	int workers;             /* handler threads; default = online CPUs */
	int max_connections;     /* beyond it new connections get 503 and are closed;
				  * default 10000 */
	http_response_fn on_response; /* optional */
	void *on_response_ctx;
};

struct http_server;

/** Creates the server, binds and listens. handler and ctx are borrowed for the server's
 * life. Returns 0 and *out (free with http_server_free), or EMBER_EIO (bind/listen
 * failed; logged with errno) or EMBER_EINVAL (bad address). */
int http_server_new(const struct http_server_config *cfg, http_handler_fn handler, void *ctx,
		    struct http_server **out) EMBER_WUR;

/** The bound TCP port (the real one when the config asked for 0). */
int http_server_port(const struct http_server *s);

/** Runs the loop and the workers on the calling thread until http_server_stop() and the
 * drain finish. Returns 0, or EMBER_EIO if the loop could not run, or EMBER_ESTATE if
 * called twice. */
int http_server_run(struct http_server *s) EMBER_WUR;

/** Asks the server to stop: it stops accepting, closes idle and half-read connections,
 * lets in-flight requests finish and writes their responses (with Connection: close),
 * then http_server_run() returns. Async-signal-safe; callable from any thread, any
 * number of times, before or during run. */
void http_server_stop(struct http_server *s);

/** Closes the listener and frees everything. Only after http_server_run() returned (or if
 * it was never called). NULL-safe. */
void http_server_free(struct http_server *s);

#endif

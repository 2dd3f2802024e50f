/* HTTP/1.1 message glue: an incremental request parser over Debian's libhttp-parser
 * (callbacks copy what they need, so input buffers can be reused after each feed),
 * the request and response types handlers see, and response head formatting.
 * No sockets here: the fuzz target drives this file directly. */
#ifndef EMBER_HTTP_REQUEST_H
#define EMBER_HTTP_REQUEST_H

#include "util/arena.h"
#include "util/buf.h"
#include "util/common.h"

struct http_header {
	struct slice name, value;
};

/** A complete request. Everything it points to (slices, headers, body) is valid until
 * http_request_release(), which the server calls after the response has been written.
 * Handlers may allocate from req->arena for anything that must live as long. Do not copy
 * the struct by value once taken: req->arena points inside it. */
struct http_request {
	struct slice method;  /* "GET", "POST", ... (static string) */
	struct slice target;  /* raw request target as sent */
	struct slice path;    /* raw (not percent-decoded) path, without the query string */
	struct slice query;   /* raw query string without '?', may be empty */
	struct http_header *headers;
	size_t n_headers;
	struct slice body;    /* whole body, de-chunked; empty when none */
	struct arena *arena;  /* per-request arena */
	int http_major, http_minor;
	bool keep_alive;      /* the client allows another request on this connection */
	bool is_head;         /* HEAD: the response body is not sent (its length is) */
	const char *remote_addr; /* "ip:port" of the peer, or "" (static per connection) */
	/* private */
	struct arena arena_;
	struct buf body_;
};

/** Frees the request's arena and body; *req is zeroed. NULL-safe. */
void http_request_release(struct http_request *req);

/** Case-insensitive header lookup; returns the first match or NULL if absent.
 * Borrowed: valid for the request's life. */
const struct slice *http_request_header(const struct http_request *req, const char *name);

/** What a handler fills in. http_response_init() gives status 200, no content type,
 * an empty body and no extra headers. */
struct http_response {
	int status;               /* default 200; out of 100..599 is sent as 500 */
	const char *content_type; /* static or arena string; NULL = none */
	struct buf body;          /* owned by the response */
	struct buf headers_;      /* private: extra headers, already formatted */
};

void http_response_init(struct http_response *resp);
/** Frees the body and headers; the response is re-initialised. */
void http_response_release(struct http_response *resp);
/** Adds "name: value" (both copied). A name that is not an HTTP token or a value with
 * CR, LF or NUL is dropped with a warning (header injection). Content-Length,
 * Transfer-Encoding and Connection are the server's and are dropped too. */
void http_response_add_header(struct http_response *resp, const char *name, const char *value);
/** Replaces the body with a copy of p[0..n) and sets the content type (static string). */
void http_response_set_body(struct http_response *resp, const char *content_type,
			    const void *p, size_t n);
/** Sets status and a Connect-style JSON error body {"code":..,"message":..}. */
void http_response_set_error(struct http_response *resp, int status, const char *code,
			     const char *message);

/** Appends the status line and headers (ending with the blank line) of resp to out:
 * Content-Length always except for 1xx/204/304, "Connection: close" when !keep_alive,
 * "Connection: keep-alive" for a kept HTTP/1.0 connection; date is a preformatted
 * IMF-fixdate or NULL. The body itself is not appended. */
void http_response_format_head(const struct http_response *resp, int http_minor,
			       bool keep_alive, const char *date, struct buf *out);
/** True if a response with this status to this request carries body bytes. */
bool http_response_has_body(int status, bool is_head);
/** The Connect error code the server uses for its own error statuses. */
const char *http_status_error_code(int status);

/* ---- incremental request parser ------------------------------------------------ */

struct http_parse_limits {
	size_t max_header_bytes; /* request line + header names and values; 0 = 64 KiB */
	size_t max_headers;      /* 0 = 128 */
	size_t max_body_bytes;   /* 0 = 32 MiB */
};

enum http_feed_result {
	HTTP_FEED_MORE = 0, /* everything consumed; the request is not complete yet */
	HTTP_FEED_DONE = 1, /* a request is complete: call http_reqparser_take() */
};

struct http_reqparser;

/** A parser for the requests of one connection, in sequence. Owned by the caller,
 * http_reqparser_free() releases it (NULL-safe). */
struct http_reqparser *http_reqparser_new(const struct http_parse_limits *limits);
void http_reqparser_free(struct http_reqparser *p);

/** Feeds the next bytes of the connection. Returns HTTP_FEED_MORE (all n consumed),
 * HTTP_FEED_DONE (*consumed bytes used, the rest belongs to the next request and must be
 * fed again after the take), or a negative error: EMBER_EINVAL (malformed, answer 400) or
 * EMBER_ETOOBIG (answer http_reqparser_error's status: 413 or 431). After an error the
 * parser is dead: every later feed returns the same error. data is not retained. */
int http_reqparser_feed(struct http_reqparser *p, const uint8_t *data, size_t n,
			size_t *consumed) EMBER_WUR;

/** After an error: the HTTP status to answer (400, 413, 431) and a static message. */
void http_reqparser_error(const struct http_reqparser *p, int *status, const char **message);

/** Moves the completed request into *req (which must be unused or released) and makes
 * the parser ready for the next one. Only after HTTP_FEED_DONE. */
void http_reqparser_take(struct http_reqparser *p, struct http_request *req);

/** True while bytes of an unfinished request have been consumed (for read timeouts). */
bool http_reqparser_in_message(const struct http_reqparser *p);

/** True once per request when its headers asked "Expect: 100-continue", it is HTTP/1.1,
 * a body is announced and none of it has arrived: the caller sends "100 Continue". */
bool http_reqparser_take_continue(struct http_reqparser *p);

/** Resolved limits (defaults filled in). */
void http_parse_limits_resolve(const struct http_parse_limits *in, struct http_parse_limits *out);

#endif

/* client: the small HTTP client of `ember query` (libcurl). One request at a time against
 * a base URL, with the tenant header; errors come back as one readable line naming the URL
 * and, for HTTP errors, the server's own message (Connect's {"code","message"}). */
#ifndef EMBER_CLI_CLIENT_H
#define EMBER_CLI_CLIENT_H

#include <jansson.h>

#include "util/buf.h"
#include "util/common.h"

/* Replies larger than this are refused (a flame graph of 1M nodes is ~50 MB of JSON). */
#define CLIENT_MAX_REPLY (512u << 20)

struct client {
	const char *url;    /* base URL without the trailing '/'; borrowed */
	const char *tenant; /* X-Scope-OrgID, or NULL; borrowed */
	long timeout_s;     /* whole-request timeout; 0 = none */
	char err[1024];     /* the last error, one line */
};

/** Initialises c for base URL url (borrowed; a trailing '/' is ignored when paths are
 * joined) and tenant (borrowed, NULL for none). No allocation. */
void client_init(struct client *c, const char *url, const char *tenant);

/** Sends one request: method (GET or POST), path (starting with '/', appended to the base
 * URL), an optional body (POST; content_type names it), accept (NULL = none). On success
 * returns 0 with the HTTP status in *status and the reply bytes appended to *reply (owned by
 * the caller). A transport failure returns EMBER_EIO and sets c->err ("cannot reach
 * <url>: <reason>"); a reply over CLIENT_MAX_REPLY returns EMBER_ETOOBIG. HTTP error
 * statuses are not errors here. */
int client_request(struct client *c, const char *method, const char *path, const char *content_type,
		   const void *body, size_t body_len, const char *accept, long *status, struct buf *reply) EMBER_WUR;

/** POSTs the JSON document req to path as a Connect unary call (application/json) and parses
 * the reply into *out (a new reference, owned by the caller). A non-200 reply returns
 * EMBER_EINVAL with c->err = "<path>: HTTP <status>: <server message>"; an unparsable reply
 * EMBER_ECORRUPT. req is borrowed. */
int client_call_json(struct client *c, const char *path, json_t *req, json_t **out) EMBER_WUR;

/** GETs path and parses a JSON reply into *out (owned by the caller); errors as
 * client_call_json. */
int client_get_json(struct client *c, const char *path, json_t **out) EMBER_WUR;

/** Sets c->err from a failed reply: "<what>: HTTP <status>: <message>", where message is the
 * "message" of a Connect JSON error body, else the body's first line (bounded). */
void client_set_http_error(struct client *c, const char *what, long status, const struct buf *reply);

/** Reads a protojson int64 (a JSON string of decimal digits, or a JSON integer) into *out.
 * Returns false for anything else (absent, null, out of range, not digits). */
bool client_json_int64(const json_t *v, int64_t *out);

/** Appends s to b percent-encoded for a URL query value (RFC 3986 unreserved kept). */
void client_append_query_escaped(struct buf *b, const char *s);

#endif

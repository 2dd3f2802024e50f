/* connect: the Connect unary protocol's codec, independent of the HTTP server. It works on
 * header values and body slices: content-type classification, request decoding
 * (Content-Encoding gzip, protobuf or protojson), response encoding, optional gzip of the
 * response, and Connect errors. Design: docs/internals/connect.md. */
#ifndef EMBER_HTTP_CONNECT_H
#define EMBER_HTTP_CONNECT_H

#include <protobuf-c/protobuf-c.h>

#include "util/buf.h"

enum connect_codec {
	CONNECT_PROTO, /* application/proto */
	CONNECT_JSON,  /* application/json (protojson) */
};

/** Classifies a request Content-Type. Unary Connect is `application/proto` and
 * `application/json` (type case-insensitive, parameters ignored except that a charset, if
 * present, must be utf-8 and only on json), as connect-go does. Returns 0 and sets *out,
 * or EMBER_EUNSUP for anything else (application/connect+proto, application/grpc*, empty):
 * the caller answers 415. */
int connect_codec_from_content_type(struct slice ct, enum connect_codec *out) EMBER_WUR;

/** Static Content-Type to send with a response in this codec. */
const char *connect_codec_content_type(enum connect_codec codec);

/** Connect error codes; the numbers are the gRPC status codes. */
enum connect_code {
	CONNECT_CANCELED = 1,
	CONNECT_UNKNOWN = 2,
	CONNECT_INVALID_ARGUMENT = 3,
	CONNECT_DEADLINE_EXCEEDED = 4,
	CONNECT_NOT_FOUND = 5,
	CONNECT_ALREADY_EXISTS = 6,
	CONNECT_PERMISSION_DENIED = 7,
	CONNECT_RESOURCE_EXHAUSTED = 8,
	CONNECT_FAILED_PRECONDITION = 9,
	CONNECT_ABORTED = 10,
	CONNECT_OUT_OF_RANGE = 11,
	CONNECT_UNIMPLEMENTED = 12,
	CONNECT_INTERNAL = 13,
	CONNECT_UNAVAILABLE = 14,
	CONNECT_DATA_LOSS = 15,
	CONNECT_UNAUTHENTICATED = 16,
};

/** Static wire name of a code ("invalid_argument"); "unknown" for values outside the enum. */
const char *connect_code_name(enum connect_code code);

/** HTTP status a Connect unary error with this code is sent with (pyroscope-api.md §2.1):
 * 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401 in enum
 * order; 500 for values outside the enum. */
int connect_code_http_status(enum connect_code code);

/** Maps an EMBER_E* error to the Connect code a handler should answer with:
 * EINVAL/ECORRUPT invalid_argument, ETOOBIG/ELIMIT/ENOMEM resource_exhausted, EUNSUP
 * unimplemented, ENOTFOUND not_found, EAUTH unauthenticated, ESTATE failed_precondition,
 * EIO and anything else internal. */
enum connect_code connect_code_from_error(int err);

/** Appends the Connect error body {"code":"<name>","message":"<message>"} to out; the
 * message is JSON-escaped and omitted when NULL or empty. Send it as application/json with
 * connect_code_http_status(code). */
void connect_error_json(enum connect_code code, const char *message, struct buf *out);

/** Decodes a unary request body into a new message of type d.
 * content_encoding is the Content-Encoding header value (may be empty): "gzip" is inflated
 * with max_bytes as the cap on the inflated size, "identity" or empty is taken as is, any
 * other encoding fails with EMBER_EUNSUP (connect code unimplemented). A body (raw or
 * inflated) over max_bytes fails with EMBER_ETOOBIG (resource_exhausted, as connect-go
 * answers a message over its read limit; gzip bombs end here). A corrupt gzip stream, an
 * invalid protobuf, an empty or invalid JSON body fail with EMBER_EINVAL
 * (invalid_argument). An empty proto body is a valid empty message.
 * On success *out is owned by the caller, freed with protobuf_c_message_free_unpacked(*out,
 * NULL); it does not borrow from body. On failure *out is NULL and err (errlen bytes)
 * holds a message fit to send to the client; connect_code_from_error(rc) gives the code. */
int connect_decode_request(const ProtobufCMessageDescriptor *d, enum connect_codec codec,
			   struct slice content_encoding, struct slice body, size_t max_bytes,
			   ProtobufCMessage **out, char *err, size_t errlen) EMBER_WUR;

/** Appends msg encoded in codec (packed protobuf or protojson) to out (caller owns out).
 * Returns 0, or EMBER_EINVAL if msg nests deeper than PROTOJSON_MAX_DEPTH (JSON only). */
int connect_encode_response(const ProtobufCMessage *msg, enum connect_codec codec,
			    struct buf *out) EMBER_WUR;

/** Smallest response connect_compress_response compresses. */
#define CONNECT_GZIP_MIN_BYTES 1024

/** True if an Accept-Encoding header value accepts gzip: a "gzip" entry whose q is not 0,
 * or, without a gzip entry, a "*" entry whose q is not 0. */
bool connect_accepts_gzip(struct slice accept_encoding);

/** If the client accepts gzip and body holds at least CONNECT_GZIP_MIN_BYTES, replaces
 * body's bytes with their gzip and returns true: the caller then sends
 * `Content-Encoding: gzip`. Otherwise leaves body alone and returns false. */
bool connect_compress_response(struct slice accept_encoding, struct buf *body);

#endif

/* protojson: the proto3 JSON mapping (what connect-go speaks as application/json), done
 * generically from protobuf-c descriptors, so every generated message works without code
 * of its own. Rules and limits: docs/internals/connect.md. */
#ifndef EMBER_HTTP_PROTOJSON_H
#define EMBER_HTTP_PROTOJSON_H

#include <protobuf-c/protobuf-c.h>

#include "util/buf.h"

/** Deepest message nesting protojson_encode/protojson_decode follow (the top level is 1). */
#define PROTOJSON_MAX_DEPTH 64

/** Appends msg as one compact JSON object to out (caller owns out):
 * lowerCamelCase names, fields in field-number order, proto3 defaults omitted,
 * 64-bit integers as strings, enums by value name, bytes as padded standard base64,
 * NaN/Infinity/-Infinity as strings, map fields as objects.
 * Returns 0, or EMBER_EINVAL when messages nest deeper than PROTOJSON_MAX_DEPTH (out then
 * holds a partial document). msg is only read. */
int protojson_encode(const ProtobufCMessage *msg, struct buf *out) EMBER_WUR;

/** Parses json (one JSON object, at most json.n bytes: the caller caps the size) into a
 * new message of type d. Accepts the lowerCamelCase and the original field names,
 * integers as numbers or strings, enums by name or number, bytes in standard or URL-safe
 * base64 with or without padding, null as "not set"; ignores unknown fields and unknown
 * enum names (connect-go's DiscardUnknown). Rejects duplicate keys, a field given twice
 * under its two names, two members of one oneof, and type or range errors.
 * On success *out is allocated exactly as protobuf_c_message_unpack() would with the
 * default allocator: the caller frees it with protobuf_c_message_free_unpacked(*out, NULL).
 * On failure returns EMBER_EINVAL (EMBER_ENOMEM if an input-sized allocation fails),
 * *out is NULL and err (errlen bytes, may be NULL/0) holds a message naming the field. */
int protojson_decode(const ProtobufCMessageDescriptor *d, struct slice json,
		     ProtobufCMessage **out, char *err, size_t errlen) EMBER_WUR;

/** Writes the protojson (lowerCamelCase) name of a proto field name into out (NUL
 * terminated, truncated to cap-1 bytes); returns the full length. "profile_typeID" ->
 * "profileTypeID", "leftTicks" and "ID" unchanged. */
size_t protojson_field_name(const char *proto_name, char *out, size_t cap);

#endif

/* connect: Connect unary codec (content types, compression, protobuf/protojson bodies,
 * error mapping), following connect-go's protocol_connect.go and codec.go. */
#include <protobuf-c/protobuf-c.h>

#include "http/connect.h"
#include "http/protojson.h"
#include "util/gzip.h"
#include "util/utf8.h"

/* ---- small header-value parsing helpers ------------------------------------------------ */

static bool is_ows(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static struct slice trim(struct slice s)
{
	while (s.n && is_ows(s.p[0])) {
		s.p++;
		s.n--;
	}
	while (s.n && is_ows(s.p[s.n - 1]))
		s.n--;
	return s;
}

static bool ieq(struct slice s, const char *lit)
{
	size_t n = strlen(lit);
	return s.n == n && (n == 0 || strncasecmp((const char *)s.p, lit, n) == 0);
}

/* Splits *rest at the first `sep`: returns the part before, advances *rest past sep. */
static struct slice next_part(struct slice *rest, uint8_t sep)
{
	const uint8_t *q = rest->n ? memchr(rest->p, sep, rest->n) : NULL;
	struct slice part;
	if (!q) {
		part = *rest;
		rest->p += rest->n;
		rest->n = 0;
		return part;
	}
	part = slice_make(rest->p, (size_t)(q - rest->p));
	rest->n -= part.n + 1;
	rest->p = q + 1;
	return part;
}

/* Splits a `name=value` parameter; value unquoted (no escapes inside, as in practice). */
static bool split_param(struct slice p, struct slice *name, struct slice *value)
{
	p = trim(p);
	const uint8_t *eq = p.n ? memchr(p.p, '=', p.n) : NULL;
	if (!eq)
		return false;
	*name = trim(slice_make(p.p, (size_t)(eq - p.p)));
	*value = trim(slice_make(eq + 1, p.n - (size_t)(eq - p.p) - 1));
	if (value->n >= 2 && value->p[0] == '"' && value->p[value->n - 1] == '"') {
		value->p++;
		value->n -= 2;
	}
	return name->n > 0;
}

/* ---- content types ---------------------------------------------------------------------- */

int connect_codec_from_content_type(struct slice ct, enum connect_codec *out)
{
	struct slice rest = ct;
	struct slice type = trim(next_part(&rest, ';'));
	enum connect_codec codec;
	if (ieq(type, "application/proto"))
		codec = CONNECT_PROTO;
	else if (ieq(type, "application/json"))
		codec = CONNECT_JSON;
	else
		return EMBER_EUNSUP;
	/* connect-go canonicalises to "<type>; charset=<lower charset>" and drops other
	 * parameters; only "application/json; charset=utf-8" is registered with a charset. */
	while (rest.n) {
		struct slice p = trim(next_part(&rest, ';'));
		if (p.n == 0)
			continue;
		struct slice name, value;
		if (!split_param(p, &name, &value))
			return EMBER_EUNSUP;
		if (ieq(name, "charset") && (codec != CONNECT_JSON || !ieq(value, "utf-8")))
			return EMBER_EUNSUP;
	}
	*out = codec;
	return 0;
}

const char *connect_codec_content_type(enum connect_codec codec)
{
	return codec == CONNECT_JSON ? "application/json" : "application/proto";
}

/* ---- errors ------------------------------------------------------------------------------ */

static const struct {
	const char *name;
	int status;
} codes[] = {
	[CONNECT_CANCELED] = {"canceled", 499},
	[CONNECT_UNKNOWN] = {"unknown", 500},
	[CONNECT_INVALID_ARGUMENT] = {"invalid_argument", 400},
	[CONNECT_DEADLINE_EXCEEDED] = {"deadline_exceeded", 504},
	[CONNECT_NOT_FOUND] = {"not_found", 404},
	[CONNECT_ALREADY_EXISTS] = {"already_exists", 409},
	[CONNECT_PERMISSION_DENIED] = {"permission_denied", 403},
	[CONNECT_RESOURCE_EXHAUSTED] = {"resource_exhausted", 429},
	[CONNECT_FAILED_PRECONDITION] = {"failed_precondition", 400},
	[CONNECT_ABORTED] = {"aborted", 409},
	[CONNECT_OUT_OF_RANGE] = {"out_of_range", 400},
	[CONNECT_UNIMPLEMENTED] = {"unimplemented", 501},
	[CONNECT_INTERNAL] = {"internal", 500},
	[CONNECT_UNAVAILABLE] = {"unavailable", 503},
	[CONNECT_DATA_LOSS] = {"data_loss", 500},
	[CONNECT_UNAUTHENTICATED] = {"unauthenticated", 401},
};

static bool code_valid(enum connect_code code)
{
	return (int)code >= CONNECT_CANCELED && (int)code <= CONNECT_UNAUTHENTICATED;
}

const char *connect_code_name(enum connect_code code)
{
	return code_valid(code) ? codes[code].name : "unknown";
}

int connect_code_http_status(enum connect_code code)
{
	return code_valid(code) ? codes[code].status : 500;
}

enum connect_code connect_code_from_error(int err)
{
	switch (err) {
	case EMBER_EINVAL:
	case EMBER_ECORRUPT:
		return CONNECT_INVALID_ARGUMENT;
	case EMBER_ETOOBIG:
	case EMBER_ELIMIT:
	case EMBER_ENOMEM:
		return CONNECT_RESOURCE_EXHAUSTED;
	case EMBER_EUNSUP:
		return CONNECT_UNIMPLEMENTED;
	case EMBER_ENOTFOUND:
		return CONNECT_NOT_FOUND;
	case EMBER_EAUTH:
		return CONNECT_UNAUTHENTICATED;
	case EMBER_ESTATE:
		return CONNECT_FAILED_PRECONDITION;
	default:
		return CONNECT_INTERNAL;
	}
}

void connect_error_json(enum connect_code code, const char *message, struct buf *out)
{
	buf_append_cstr(out, "{\"code\":\"");
	buf_append_cstr(out, connect_code_name(code));
	buf_append_byte(out, '"');
	if (message && *message) {
		buf_append_cstr(out, ",\"message\":");
		buf_append_json_string(out, message, strlen(message));
	}
	buf_append_byte(out, '}');
}

/* ---- bodies ------------------------------------------------------------------------------ */

static void set_err(char *err, size_t errlen, const char *fmt, ...) EMBER_PRINTF(3, 4);
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* proto3 strings must be UTF-8 (Go's proto.Unmarshal rejects them otherwise);
 * protobuf-c does not check. Returns the offending field or NULL. */
static const ProtobufCFieldDescriptor *bad_utf8(const ProtobufCMessage *m, int depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	if (depth > PROTOJSON_MAX_DEPTH)
		return d->n_fields ? &d->fields[0] : NULL;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)((const char *)m + f->quantifier_offset) != f->id)
			continue;
		const void *v = (const char *)m + f->offset;
		size_t n = 1;
		const void *const *arr = v;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			n = *(const size_t *)((const char *)m + f->quantifier_offset);
			arr = *(const void *const *const *)v;
		}
		for (size_t k = 0; k < n; k++) {
			const void *x = arr[k];
			if (!x)
				continue;
			if (f->type == PROTOBUF_C_TYPE_STRING) {
				if (!utf8_valid(x, strlen(x)))
					return f;
			} else {
				const ProtobufCFieldDescriptor *bad = bad_utf8(x, depth + 1);
				if (bad)
					return bad;
			}
		}
	}
	return NULL;
}

int connect_decode_request(const ProtobufCMessageDescriptor *d, enum connect_codec codec,
			   struct slice content_encoding, struct slice body, size_t max_bytes,
			   ProtobufCMessage **out, char *err, size_t errlen)
{
	int rc = EMBER_EINVAL;
	struct buf plain = BUF_INIT;
	ProtobufCMessage *m = NULL;
	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	struct slice enc = trim(content_encoding);
	if (body.n > max_bytes) {
		rc = EMBER_ETOOBIG;
		set_err(err, errlen, "message size %zu is larger than configured max %zu", body.n, max_bytes);
		goto out;
	}
	if (ieq(enc, "gzip")) {
		rc = gzip_inflate(body, max_bytes, &plain);
		if (rc == EMBER_ETOOBIG) {
			set_err(err, errlen, "decompressed message is larger than configured max %zu", max_bytes);
			goto out;
		}
		if (rc) {
			rc = EMBER_EINVAL;
			set_err(err, errlen, "invalid gzip request body");
			goto out;
		}
		body = slice_make(plain.p, plain.n);
	} else if (enc.n && !ieq(enc, "identity")) {
		rc = EMBER_EUNSUP;
		set_err(err, errlen, "unknown compression \"%.*s\": supported encodings are gzip",
			(int)EMBER_MIN(enc.n, 64), (const char *)enc.p);
		goto out;
	}
	if (codec == CONNECT_JSON) {
		rc = protojson_decode(d, body, &m, err, errlen);
		if (rc)
			goto out;
	} else {
		m = protobuf_c_message_unpack(d, NULL, body.n, body.n ? body.p : (const uint8_t *)"");
		if (!m) {
			rc = EMBER_EINVAL;
			set_err(err, errlen, "invalid protobuf for %s", d->name);
			goto out;
		}
		const ProtobufCFieldDescriptor *bad = bad_utf8(m, 1);
		if (bad) {
			rc = EMBER_EINVAL;
			set_err(err, errlen, "invalid protobuf for %s: field %s is not valid UTF-8", d->name,
				bad->name);
			goto out;
		}
	}
	*out = m;
	m = NULL;
	rc = 0;
out:
	if (m)
		protobuf_c_message_free_unpacked(m, NULL);
	buf_release(&plain);
	return rc;
}

int connect_encode_response(const ProtobufCMessage *msg, enum connect_codec codec, struct buf *out)
{
	if (codec == CONNECT_JSON)
		return protojson_encode(msg, out);
	size_t n = protobuf_c_message_get_packed_size(msg);
	buf_reserve(out, n);
	out->n += protobuf_c_message_pack(msg, out->p + out->n);
	return 0;
}

/* ---- response compression ------------------------------------------------------------------ */

/* q=0, q=0.0, q=0.000 mean "not acceptable" (RFC 9110 §12.4.2). */
static bool q_is_zero(struct slice v)
{
	if (!v.n || v.p[0] != '0')
		return false;
	for (size_t i = 1; i < v.n; i++)
		if (v.p[i] != '.' && v.p[i] != '0')
			return false;
	return true;
}

bool connect_accepts_gzip(struct slice accept_encoding)
{
	/* An explicit gzip entry decides; otherwise "*" does. */
	int gz = -1, star = -1;
	struct slice rest = accept_encoding;
	while (rest.n) {
		struct slice item = next_part(&rest, ',');
		struct slice name = trim(next_part(&item, ';'));
		bool is_gzip = ieq(name, "gzip");
		if (!is_gzip && !ieq(name, "*"))
			continue;
		bool refused = false;
		while (item.n) {
			struct slice pn, pv;
			if (split_param(next_part(&item, ';'), &pn, &pv) && ieq(pn, "q") && q_is_zero(pv))
				refused = true;
		}
		if (is_gzip)
			gz = gz == 1 ? 1 : !refused;
		else
			star = star == 1 ? 1 : !refused;
	}
	return gz >= 0 ? gz == 1 : star == 1;
}

bool connect_compress_response(struct slice accept_encoding, struct buf *body)
{
	if (body->n < CONNECT_GZIP_MIN_BYTES || !connect_accepts_gzip(accept_encoding))
		return false;
	struct buf z = BUF_INIT;
	gzip_deflate(slice_make(body->p, body->n), 6, &z);
	buf_release(body);
	*body = z;
	return true;
}

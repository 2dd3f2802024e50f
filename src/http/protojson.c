/* protojson: proto3 JSON mapping over protobuf-c descriptors.
 *
 * Encoding walks ProtobufCFieldDescriptor offsets; decoding builds the message with the same
 * allocations protobuf_c_message_unpack() makes (malloc'd message, strings, bytes and
 * repeated arrays; string fields left at protobuf_c_empty_string when empty), so that
 * protobuf_c_message_free_unpacked() frees it. The partial message is kept consistent at
 * every step (arrays calloc'd and counted before their elements are filled, sub-messages
 * linked before they are filled) so that an error anywhere is cleaned up by one
 * free_unpacked of the root. */
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <protobuf-c/protobuf-c.h>

#include "http/protojson.h"

#define MEMBER(m, off) ((void *)((char *)(m) + (off)))
#define CMEMBER(m, off) ((const void *)((const char *)(m) + (off)))

/* ---- names ------------------------------------------------------------------------ */

size_t protojson_field_name(const char *name, char *out, size_t cap)
{
	size_t n = 0;
	bool up = false;
	for (const char *s = name; *s; s++) {
		char c = *s;
		if (c == '_') {
			up = true;
			continue;
		}
		if (up && c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		up = false;
		if (n + 1 < cap)
			out[n] = c;
		n++;
	}
	if (cap)
		out[n < cap ? n : cap - 1] = '\0';
	return n;
}

/* True if key[0..n) is the JSON name of proto field `name`, without building it. */
static bool json_name_eq(const char *name, const char *key, size_t n)
{
	size_t i = 0;
	bool up = false;
	for (const char *s = name; *s; s++) {
		char c = *s;
		if (c == '_') {
			up = true;
			continue;
		}
		if (up && c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		up = false;
		if (i >= n || key[i] != c)
			return false;
		i++;
	}
	return i == n;
}

/* A map field is a repeated message field whose entry type protoc synthesised: named
 * <Parent>.<CamelField>Entry with key=1 and value=2. protobuf-c keeps no map flag, and
 * protoc refuses a user message that would collide with that name. */
static bool is_map_field(const ProtobufCMessageDescriptor *parent, const ProtobufCFieldDescriptor *f)
{
	if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE)
		return false;
	const ProtobufCMessageDescriptor *e = f->descriptor;
	if (e->n_fields != 2 || e->fields[0].id != 1 || e->fields[1].id != 2 ||
	    strcmp(e->fields[0].name, "key") != 0 || strcmp(e->fields[1].name, "value") != 0)
		return false;
	size_t pl = strlen(parent->name);
	if (strncmp(e->name, parent->name, pl) != 0 || e->name[pl] != '.')
		return false;
	/* Entry name = the field name in CamelCase (protojson name, first letter upper). */
	char camel[200];
	size_t n = protojson_field_name(f->name, camel, sizeof(camel));
	if (n == 0 || n >= sizeof(camel))
		return false;
	if (camel[0] >= 'a' && camel[0] <= 'z')
		camel[0] = (char)(camel[0] - 'a' + 'A');
	const char *tail = e->name + pl + 1;
	return strncmp(tail, camel, n) == 0 && strcmp(tail + n, "Entry") == 0;
}

static size_t scalar_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	default: /* 32-bit integers, float, enum */
		return 4;
	}
}

/* ---- encoding ----------------------------------------------------------------------- */

static const char b64std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void put_base64(struct buf *out, const uint8_t *p, size_t n)
{
	buf_reserve(out, (n + 2) / 3 * 4 + 2);
	buf_append_byte(out, '"');
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		char q[4] = {b64std[v >> 18], b64std[(v >> 12) & 63], b64std[(v >> 6) & 63], b64std[v & 63]};
		buf_append(out, q, 4);
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		char q[4] = {b64std[v >> 18], b64std[(v >> 12) & 63], '=', '='};
		buf_append(out, q, 4);
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		char q[4] = {b64std[v >> 18], b64std[(v >> 12) & 63], b64std[(v >> 6) & 63], '='};
		buf_append(out, q, 4);
	}
	buf_append_byte(out, '"');
}

/* Floats as Go's protojson (encoding/json rules): shortest digits that read back to the
 * same value, plain notation unless |v| < 1e-6 or >= 1e21, exponent without a leading
 * zero ("1e-7", "1e+21"). */
static void put_float(struct buf *out, double v, bool is32)
{
	if (isnan(v)) {
		buf_append_cstr(out, "\"NaN\"");
		return;
	}
	if (isinf(v)) {
		buf_append_cstr(out, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
		return;
	}
	char e[40];
	int maxp = is32 ? 9 : 17;
	for (int p = 1; p <= maxp; p++) {
		snprintf(e, sizeof(e), "%.*e", p - 1, v);
		if (is32 ? strtof(e, NULL) == (float)v : strtod(e, NULL) == v)
			break;
	}
	/* e = [-]d[.ddd]e[+-]XX: split into sign, digits, decimal exponent. */
	const char *s = e;
	bool neg = *s == '-';
	if (neg)
		s++;
	char dig[24];
	size_t nd = 0;
	for (; *s && *s != 'e'; s++)
		if (*s != '.' && nd < sizeof(dig))
			dig[nd++] = *s;
	int exp = *s == 'e' ? atoi(s + 1) : 0;
	while (nd > 1 && dig[nd - 1] == '0')
		nd--;
	if (neg)
		buf_append_byte(out, '-');
	double a = fabs(v);
	bool sci = a != 0 && (is32 ? ((float)a < 1e-6f || (float)a >= 1e21f) : (a < 1e-6 || a >= 1e21));
	if (sci) {
		buf_append_byte(out, (uint8_t)dig[0]);
		if (nd > 1) {
			buf_append_byte(out, '.');
			buf_append(out, dig + 1, nd - 1);
		}
		buf_printf(out, "e%c%d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
		return;
	}
	if (a == 0) {
		buf_append_byte(out, '0');
		return;
	}
	if (exp >= 0) {
		size_t ip = (size_t)exp + 1; /* digits before the point */
		if (nd <= ip) {
			buf_append(out, dig, nd);
			for (size_t i = nd; i < ip; i++)
				buf_append_byte(out, '0');
		} else {
			buf_append(out, dig, ip);
			buf_append_byte(out, '.');
			buf_append(out, dig + ip, nd - ip);
		}
	} else {
		buf_append_cstr(out, "0.");
		for (int i = -1; i > exp; i--)
			buf_append_byte(out, '0');
		buf_append(out, dig, nd);
	}
}

static int put_message(struct buf *out, const ProtobufCMessage *m, int depth);

/* Writes one value of field f stored at p (an element, for repeated fields). */
static int put_value(struct buf *out, const ProtobufCFieldDescriptor *f, const void *p, int depth)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		buf_printf(out, "%d", *(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		buf_printf(out, "%u", *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		buf_printf(out, "\"%lld\"", (long long)*(const int64_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		buf_printf(out, "\"%llu\"", (unsigned long long)*(const uint64_t *)p);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		put_float(out, *(const float *)p, true);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		put_float(out, *(const double *)p, false);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		buf_append_cstr(out, *(const protobuf_c_boolean *)p ? "true" : "false");
		break;
	case PROTOBUF_C_TYPE_ENUM: {
		int v = *(const int *)p;
		const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
		if (ev)
			buf_append_json_string(out, ev->name, strlen(ev->name));
		else
			buf_printf(out, "%d", v); /* open enum: an unknown number stays a number */
		break;
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;
		buf_append_json_string(out, s ? s : "", s ? strlen(s) : 0);
		break;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = p;
		put_base64(out, b->data, b->data ? b->len : 0);
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sm = *(ProtobufCMessage *const *)p;
		if (!sm) {
			buf_append_cstr(out, "{}");
			break;
		}
		return put_message(out, sm, depth + 1);
	}
	}
	return 0;
}

/* A map key is written as a JSON string whatever its type. */
static void put_map_key(struct buf *out, const ProtobufCFieldDescriptor *kf, const void *p)
{
	if (kf->type == PROTOBUF_C_TYPE_STRING) {
		const char *s = *(char *const *)p;
		buf_append_json_string(out, s ? s : "", s ? strlen(s) : 0);
		return;
	}
	struct buf tmp = BUF_INIT;
	if (kf->type == PROTOBUF_C_TYPE_BOOL) {
		buf_append_cstr(&tmp, *(const protobuf_c_boolean *)p ? "true" : "false");
	} else {
		(void)put_value(&tmp, kf, p, 0);
	}
	/* 64-bit values already came out quoted. */
	if (tmp.n && tmp.p[0] == '"') {
		buf_append(out, tmp.p, tmp.n);
	} else {
		buf_append_byte(out, '"');
		buf_append(out, tmp.p, tmp.n);
		buf_append_byte(out, '"');
	}
	buf_release(&tmp);
}

static bool is_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static bool field_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	const void *v = CMEMBER(m, f->offset);
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *)CMEMBER(m, f->quantifier_offset) == f->id;
	switch (f->label) {
	case PROTOBUF_C_LABEL_REPEATED:
		return *(const size_t *)CMEMBER(m, f->quantifier_offset) > 0;
	case PROTOBUF_C_LABEL_REQUIRED:
		return true;
	case PROTOBUF_C_LABEL_OPTIONAL:
		if (f->type == PROTOBUF_C_TYPE_MESSAGE || f->type == PROTOBUF_C_TYPE_STRING)
			return *(void *const *)v != NULL;
		return *(const protobuf_c_boolean *)CMEMBER(m, f->quantifier_offset);
	case PROTOBUF_C_LABEL_NONE:
	default:
		break;
	}
	switch (f->type) {
	case PROTOBUF_C_TYPE_MESSAGE:
		return *(void *const *)v != NULL;
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)v;
		return s && *s;
	}
	case PROTOBUF_C_TYPE_BYTES:
		return ((const ProtobufCBinaryData *)v)->len > 0;
	default:
		/* Bitwise zero, so -0.0 counts as set, as in Go. */
		return !is_zero(v, scalar_size(f->type));
	}
}

static int put_message(struct buf *out, const ProtobufCMessage *m, int depth)
{
	if (depth > PROTOJSON_MAX_DEPTH)
		return EMBER_EINVAL;
	const ProtobufCMessageDescriptor *d = m->descriptor;
	buf_append_byte(out, '{');
	bool first = true;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (!field_present(m, f))
			continue;
		if (!first)
			buf_append_byte(out, ',');
		first = false;
		char name[256];
		size_t nl = protojson_field_name(f->name, name, sizeof(name));
		buf_append_json_string(out, name, EMBER_MIN(nl, sizeof(name) - 1));
		buf_append_byte(out, ':');
		const void *v = CMEMBER(m, f->offset);
		if (f->label != PROTOBUF_C_LABEL_REPEATED) {
			int rc = put_value(out, f, v, depth);
			if (rc)
				return rc;
			continue;
		}
		size_t n = *(const size_t *)CMEMBER(m, f->quantifier_offset);
		const uint8_t *arr = *(const uint8_t *const *)v;
		size_t es = scalar_size(f->type);
		if (is_map_field(d, f)) {
			const ProtobufCMessageDescriptor *ed = f->descriptor;
			buf_append_byte(out, '{');
			for (size_t k = 0; k < n; k++) {
				const ProtobufCMessage *e = ((ProtobufCMessage *const *)arr)[k];
				if (k)
					buf_append_byte(out, ',');
				if (!e) {
					buf_append_cstr(out, "\"\":null");
					continue;
				}
				put_map_key(out, &ed->fields[0], CMEMBER(e, ed->fields[0].offset));
				buf_append_byte(out, ':');
				int rc = put_value(out, &ed->fields[1], CMEMBER(e, ed->fields[1].offset), depth);
				if (rc)
					return rc;
			}
			buf_append_byte(out, '}');
			continue;
		}
		buf_append_byte(out, '[');
		for (size_t k = 0; k < n; k++) {
			if (k)
				buf_append_byte(out, ',');
			int rc = put_value(out, f, arr + k * es, depth);
			if (rc)
				return rc;
		}
		buf_append_byte(out, ']');
	}
	buf_append_byte(out, '}');
	return 0;
}

int protojson_encode(const ProtobufCMessage *msg, struct buf *out)
{
	return put_message(out, msg, 1);
}

/* ---- decoding ----------------------------------------------------------------------- */

struct dec {
	char *err;
	size_t errlen;
	/* The document was parsed with JSON_DECODE_INT_AS_REAL (it holds an integer literal
	 * beyond int64, e.g. Go writes the double 1e20 as 100000000000000000000): integer
	 * fields then accept only reals up to 2^53, which are exact. */
	bool ints_as_real;
};

static int EMBER_PRINTF(3, 4) dec_fail(struct dec *c, const ProtobufCFieldDescriptor *f, const char *fmt, ...)
{
	if (!c->err || !c->errlen)
		return EMBER_EINVAL;
	size_t n = 0;
	if (f) {
		char name[128];
		protojson_field_name(f->name, name, sizeof(name));
		int k = snprintf(c->err, c->errlen, "field %s: ", name);
		n = k > 0 ? EMBER_MIN((size_t)k, c->errlen - 1) : 0;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errlen - n, fmt, ap);
	va_end(ap);
	return EMBER_EINVAL;
}

/* Scans a JSON number (RFC 8259 grammar) in s[0..n). On success gives the sign, the
 * significant digits and the decimal exponent of the value digits * 10^exp. */
struct jnum {
	bool neg;
	const char *ip; /* integer part digits */
	size_t nip;
	const char *fp; /* fraction digits */
	size_t nfp;
	long exp; /* explicit exponent, clamped */
};

static bool scan_number(const char *s, size_t n, struct jnum *j)
{
	size_t i = 0;
	memset(j, 0, sizeof(*j));
	if (i < n && s[i] == '-') {
		j->neg = true;
		i++;
	}
	j->ip = s + i;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	j->nip = (size_t)(s + i - j->ip);
	if (j->nip == 0 || (j->nip > 1 && j->ip[0] == '0'))
		return false;
	if (i < n && s[i] == '.') {
		i++;
		j->fp = s + i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		j->nfp = (size_t)(s + i - j->fp);
		if (j->nfp == 0)
			return false;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		bool eneg = false;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			eneg = s[i++] == '-';
		size_t st = i;
		long e = 0;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			if (e < 100000)
				e = e * 10 + (s[i] - '0');
			i++;
		}
		if (i == st)
			return false;
		j->exp = eneg ? -e : e;
	}
	return i == n;
}

/* The exact integer value of a scanned number: *mag with sign j->neg. False if the value
 * has a fractional part or does not fit in 64 bits. */
static bool jnum_integer(const struct jnum *j, uint64_t *mag)
{
	/* digits = ip fp; value = digits * 10^(exp - nfp) */
	uint64_t v = 0;
	long scale = j->exp - (long)j->nfp;
	size_t nd = j->nip + j->nfp;
	/* Trailing digits that a negative scale puts after the point must be zeros. */
	size_t keep = nd;
	if (scale < 0) {
		if ((size_t)(-scale) > nd) {
			keep = 0;
		} else {
			keep = nd - (size_t)(-scale);
		}
	}
	for (size_t k = 0; k < nd; k++) {
		char ch = k < j->nip ? j->ip[k] : j->fp[k - j->nip];
		unsigned dgt = (unsigned)(ch - '0');
		if (k >= keep) {
			if (dgt)
				return false;
			continue;
		}
		if (v > (UINT64_MAX - dgt) / 10)
			return false;
		v = v * 10 + dgt;
	}
	for (long k = 0; k < scale && v; k++) {
		if (v > UINT64_MAX / 10)
			return false;
		v *= 10;
	}
	*mag = v;
	return true;
}

static int get_integer(struct dec *c, const ProtobufCFieldDescriptor *f, json_t *v, bool *neg, uint64_t *mag)
{
	if (json_is_integer(v)) {
		json_int_t x = json_integer_value(v);
		*neg = x < 0;
		*mag = x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x;
		return 0;
	}
	if (json_is_real(v)) {
		double r = json_real_value(v);
		if (!isfinite(r) || r != trunc(r))
			return dec_fail(c, f, "not an integer: %g", r);
		if (fabs(r) >= 18446744073709551616.0)
			return dec_fail(c, f, "integer out of range");
		if (c->ints_as_real && fabs(r) >= 9007199254740992.0)
			return dec_fail(c, f, "integer too large for a JSON number next to a huge literal; quote it");
		*neg = r < 0;
		*mag = (uint64_t)fabs(r);
		return 0;
	}
	if (json_is_string(v)) {
		struct jnum j;
		const char *s = json_string_value(v);
		if (!scan_number(s, json_string_length(v), &j) || !jnum_integer(&j, mag))
			return dec_fail(c, f, "not an integer: \"%.40s\"", s);
		*neg = j.neg;
		return 0;
	}
	return dec_fail(c, f, "expected an integer");
}

static int get_signed(struct dec *c, const ProtobufCFieldDescriptor *f, json_t *v, int64_t lo, int64_t hi, int64_t *out)
{
	bool neg;
	uint64_t mag;
	int rc = get_integer(c, f, v, &neg, &mag);
	if (rc)
		return rc;
	if (neg ? mag > (uint64_t)0 - (uint64_t)lo : mag > (uint64_t)hi)
		return dec_fail(c, f, "integer out of range");
	*out = neg ? (int64_t)((uint64_t)0 - mag) : (int64_t)mag;
	return 0;
}

static int get_unsigned(struct dec *c, const ProtobufCFieldDescriptor *f, json_t *v, uint64_t hi, uint64_t *out)
{
	bool neg;
	uint64_t mag;
	int rc = get_integer(c, f, v, &neg, &mag);
	if (rc)
		return rc;
	if ((neg && mag) || mag > hi)
		return dec_fail(c, f, "integer out of range");
	*out = mag;
	return 0;
}

static int get_double(struct dec *c, const ProtobufCFieldDescriptor *f, json_t *v, double *out)
{
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return dec_fail(c, f, "expected a number");
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (strcmp(s, "NaN") == 0) {
		*out = NAN;
	} else if (strcmp(s, "Infinity") == 0) {
		*out = INFINITY;
	} else if (strcmp(s, "-Infinity") == 0) {
		*out = -INFINITY;
	} else {
		struct jnum j;
		if (!scan_number(s, n, &j))
			return dec_fail(c, f, "not a number: \"%.40s\"", s);
		*out = strtod(s, NULL);
		if (isinf(*out))
			return dec_fail(c, f, "number out of range");
	}
	return 0;
}

static int b64val(uint8_t ch, int *alpha)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || ch == '/') {
		*alpha |= 1;
		return ch == '+' ? 62 : 63;
	}
	if (ch == '-' || ch == '_') {
		*alpha |= 2;
		return ch == '-' ? 62 : 63;
	}
	return -1;
}

/* Standard or URL-safe alphabet (not mixed), padded or not, as Go's protojson. */
static int get_bytes(struct dec *c, const ProtobufCFieldDescriptor *f, json_t *v, ProtobufCBinaryData *out)
{
	if (!json_is_string(v))
		return dec_fail(c, f, "expected a base64 string");
	const uint8_t *s = (const uint8_t *)json_string_value(v);
	size_t n = json_string_length(v);
	if (n % 4 == 0 && n >= 1 && s[n - 1] == '=') {
		n--;
		if (s[n - 1] == '=')
			n--;
	}
	if (n % 4 == 1)
		return dec_fail(c, f, "invalid base64 length");
	size_t outn = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
	out->len = 0;
	out->data = NULL;
	if (outn == 0)
		return 0;
	uint8_t *p = malloc(outn);
	if (!p)
		return EMBER_ENOMEM;
	int alpha = 0;
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int x = b64val(s[i], &alpha);
		if (x < 0 || alpha == 3) {
			free(p);
			return dec_fail(c, f, "invalid base64");
		}
		acc = acc << 6 | (uint32_t)x;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			p[o++] = (uint8_t)(acc >> bits);
		}
	}
	out->data = p;
	out->len = o;
	return 0;
}

static int dec_message(struct dec *c, const ProtobufCMessageDescriptor *d, json_t *obj, ProtobufCMessage *m, int depth);

/* Decodes v into the storage of field f at dst. Returns 0, 1 for "discard" (an unknown
 * enum name), or an error. Strings and bytes are malloc'd; empty singular strings stay at
 * their protobuf_c_empty_string default. */
static int dec_value(struct dec *c, const ProtobufCFieldDescriptor *f, json_t *v, void *dst, bool repeated, int depth)
{
	int rc;
	int64_t sv;
	uint64_t uv;
	double dv;
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		if ((rc = get_signed(c, f, v, INT32_MIN, INT32_MAX, &sv)))
			return rc;
		*(int32_t *)dst = (int32_t)sv;
		return 0;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		if ((rc = get_unsigned(c, f, v, UINT32_MAX, &uv)))
			return rc;
		*(uint32_t *)dst = (uint32_t)uv;
		return 0;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		if ((rc = get_signed(c, f, v, INT64_MIN, INT64_MAX, &sv)))
			return rc;
		*(int64_t *)dst = sv;
		return 0;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		if ((rc = get_unsigned(c, f, v, UINT64_MAX, &uv)))
			return rc;
		*(uint64_t *)dst = uv;
		return 0;
	case PROTOBUF_C_TYPE_FLOAT:
		if ((rc = get_double(c, f, v, &dv)))
			return rc;
		if (isfinite(dv) && fabs(dv) > FLT_MAX)
			return dec_fail(c, f, "number out of float range");
		*(float *)dst = (float)dv;
		return 0;
	case PROTOBUF_C_TYPE_DOUBLE:
		if ((rc = get_double(c, f, v, &dv)))
			return rc;
		*(double *)dst = dv;
		return 0;
	case PROTOBUF_C_TYPE_BOOL:
		if (!json_is_boolean(v))
			return dec_fail(c, f, "expected true or false");
		*(protobuf_c_boolean *)dst = json_is_true(v);
		return 0;
	case PROTOBUF_C_TYPE_ENUM:
		if (json_is_string(v)) {
			const ProtobufCEnumValue *ev =
				protobuf_c_enum_descriptor_get_value_by_name(f->descriptor, json_string_value(v));
			if (!ev)
				return 1;
			*(int *)dst = ev->value;
			return 0;
		}
		if (!json_is_number(v))
			return dec_fail(c, f, "expected an enum name or number");
		if ((rc = get_signed(c, f, v, INT32_MIN, INT32_MAX, &sv)))
			return rc;
		*(int *)dst = (int)sv;
		return 0;
	case PROTOBUF_C_TYPE_STRING: {
		if (!json_is_string(v))
			return dec_fail(c, f, "expected a string");
		size_t n = json_string_length(v);
		if (n == 0 && !repeated)
			return 0;
		char *s = malloc(n + 1);
		if (!s)
			return EMBER_ENOMEM;
		memcpy(s, json_string_value(v), n + 1);
		*(char **)dst = s;
		return 0;
	}
	case PROTOBUF_C_TYPE_BYTES:
		return get_bytes(c, f, v, dst);
	case PROTOBUF_C_TYPE_MESSAGE: {
		if (!json_is_object(v))
			return dec_fail(c, f, "expected an object");
		if (depth + 1 > PROTOJSON_MAX_DEPTH)
			return dec_fail(c, f, "messages nested deeper than %d", PROTOJSON_MAX_DEPTH);
		const ProtobufCMessageDescriptor *sd = f->descriptor;
		ProtobufCMessage *sm = malloc(sd->sizeof_message);
		if (!sm)
			return EMBER_ENOMEM;
		protobuf_c_message_init(sd, sm);
		*(ProtobufCMessage **)dst = sm; /* linked first: the root's free_unpacked frees it */
		return dec_message(c, sd, v, sm, depth + 1);
	}
	}
	return dec_fail(c, f, "unsupported field type");
}

/* Map keys arrive as JSON strings; parse them as the key field's type. */
static int dec_map_key(struct dec *c, const ProtobufCFieldDescriptor *kf, const char *key, void *dst)
{
	if (kf->type == PROTOBUF_C_TYPE_STRING) {
		json_t *s = json_string(key);
		if (!s)
			return dec_fail(c, kf, "invalid map key");
		int rc = dec_value(c, kf, s, dst, true, 0);
		json_decref(s);
		return rc;
	}
	if (kf->type == PROTOBUF_C_TYPE_BOOL) {
		if (strcmp(key, "true") && strcmp(key, "false"))
			return dec_fail(c, kf, "invalid bool map key");
		*(protobuf_c_boolean *)dst = strcmp(key, "true") == 0;
		return 0;
	}
	json_t *s = json_string(key);
	if (!s)
		return dec_fail(c, kf, "invalid map key");
	int rc = dec_value(c, kf, s, dst, false, 0);
	json_decref(s);
	return rc;
}

static int dec_map(struct dec *c, const ProtobufCFieldDescriptor *f, json_t *v, ProtobufCMessage *m, int depth)
{
	if (!json_is_object(v))
		return dec_fail(c, f, "expected an object (map)");
	size_t n = json_object_size(v);
	if (n == 0)
		return 0;
	if (depth + 1 > PROTOJSON_MAX_DEPTH)
		return dec_fail(c, f, "messages nested deeper than %d", PROTOJSON_MAX_DEPTH);
	ProtobufCMessage **arr = calloc(n, sizeof(*arr));
	if (!arr)
		return EMBER_ENOMEM;
	*(ProtobufCMessage ***)MEMBER(m, f->offset) = arr;
	size_t *count = MEMBER(m, f->quantifier_offset);
	const ProtobufCMessageDescriptor *ed = f->descriptor;
	const char *key;
	json_t *val;
	json_object_foreach(v, key, val) {
		if (json_is_null(val))
			return dec_fail(c, f, "null map value");
		ProtobufCMessage *e = malloc(ed->sizeof_message);
		if (!e)
			return EMBER_ENOMEM;
		protobuf_c_message_init(ed, e);
		arr[(*count)++] = e;
		int rc = dec_map_key(c, &ed->fields[0], key, MEMBER(e, ed->fields[0].offset));
		if (rc)
			return rc;
		rc = dec_value(c, &ed->fields[1], val, MEMBER(e, ed->fields[1].offset), false, depth + 1);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int dec_repeated(struct dec *c, const ProtobufCFieldDescriptor *f, json_t *v, ProtobufCMessage *m, int depth)
{
	if (!json_is_array(v))
		return dec_fail(c, f, "expected an array");
	size_t n = json_array_size(v);
	if (n == 0)
		return 0;
	size_t es = scalar_size(f->type);
	uint8_t *arr = calloc(n, es);
	if (!arr)
		return EMBER_ENOMEM;
	*(uint8_t **)MEMBER(m, f->offset) = arr;
	size_t *count = MEMBER(m, f->quantifier_offset);
	for (size_t i = 0; i < n; i++) {
		json_t *el = json_array_get(v, i);
		if (json_is_null(el))
			return dec_fail(c, f, "null in array");
		/* Counted before it is filled: a zeroed element is safe to free. */
		size_t k = (*count)++;
		int rc = dec_value(c, f, el, arr + k * es, true, depth);
		if (rc < 0)
			return rc;
		if (rc == 1)
			(*count)--; /* an unknown enum name is dropped */
	}
	if (*count == 0) {
		free(arr);
		*(uint8_t **)MEMBER(m, f->offset) = NULL;
	}
	return 0;
}

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *d, const char *key, size_t n)
{
	for (unsigned i = 0; i < d->n_fields; i++)
		if (json_name_eq(d->fields[i].name, key, n))
			return &d->fields[i];
	return protobuf_c_message_descriptor_get_field_by_name(d, key);
}

static int dec_message(struct dec *c, const ProtobufCMessageDescriptor *d, json_t *obj, ProtobufCMessage *m, int depth)
{
	int rc = EMBER_EINVAL;
	uint8_t *seen = calloc(d->n_fields ? d->n_fields : 1, 1);
	if (!seen)
		return EMBER_ENOMEM;
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v) {
		const ProtobufCFieldDescriptor *f = find_field(d, key, strlen(key));
		if (!f)
			continue; /* unknown field: ignored */
		size_t idx = (size_t)(f - d->fields);
		if (seen[idx]) {
			rc = dec_fail(c, f, "given twice");
			goto out;
		}
		seen[idx] = 1;
		if (json_is_null(v))
			continue;
		void *dst = MEMBER(m, f->offset);
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			rc = is_map_field(d, f) ? dec_map(c, f, v, m, depth) : dec_repeated(c, f, v, m, depth);
			if (rc)
				goto out;
			continue;
		}
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			uint32_t *oc = MEMBER(m, f->quantifier_offset);
			if (*oc != 0) {
				rc = dec_fail(c, f, "another member of its oneof is already set");
				goto out;
			}
			/* The oneof storage is shared: start from zero, not the init default. */
			memset(dst, 0, scalar_size(f->type));
			if (f->type == PROTOBUF_C_TYPE_STRING)
				*(const char **)dst = protobuf_c_empty_string;
			rc = dec_value(c, f, v, dst, false, depth);
			if (rc < 0)
				goto out;
			if (rc == 0 || f->type == PROTOBUF_C_TYPE_MESSAGE)
				*oc = f->id;
			continue;
		}
		rc = dec_value(c, f, v, dst, false, depth);
		if (rc < 0)
			goto out;
		if (rc == 0 && f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING &&
		    f->type != PROTOBUF_C_TYPE_MESSAGE)
			*(protobuf_c_boolean *)MEMBER(m, f->quantifier_offset) = 1;
	}
	rc = 0;
out:
	free(seen);
	return rc;
}

int protojson_decode(const ProtobufCMessageDescriptor *d, struct slice json, ProtobufCMessage **out,
		     char *err, size_t errlen)
{
	struct dec c = {err, errlen, false};
	int rc = EMBER_EINVAL;
	ProtobufCMessage *m = NULL;
	json_t *root = NULL;
	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (json.n == 0) {
		rc = dec_fail(&c, NULL, "empty JSON body (an empty message is {})");
		goto out;
	}
	json_error_t je;
	root = json_loadb((const char *)json.p, json.n, JSON_REJECT_DUPLICATES, &je);
	if (!root && json_error_code(&je) == json_error_numeric_overflow) {
		/* jansson keeps integers in int64; a bigger integer literal is legal JSON (a
		 * double, or a uint64) so read every number as a double instead. */
		c.ints_as_real = true;
		root = json_loadb((const char *)json.p, json.n, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &je);
	}
	if (!root) {
		rc = dec_fail(&c, NULL, "invalid JSON at line %d column %d: %s", je.line, je.column, je.text);
		goto out;
	}
	if (!json_is_object(root)) {
		rc = dec_fail(&c, NULL, "expected a JSON object for %s", d->name);
		goto out;
	}
	m = malloc(d->sizeof_message);
	if (!m) {
		rc = EMBER_ENOMEM;
		goto out;
	}
	protobuf_c_message_init(d, m);
	rc = dec_message(&c, d, root, m, 1);
	if (rc == EMBER_ENOMEM)
		dec_fail(&c, NULL, "out of memory decoding %s", d->name);
	if (rc)
		goto out;
	*out = m;
	m = NULL;
out:
	if (m)
		protobuf_c_message_free_unpacked(m, NULL);
	json_decref(root);
	return rc;
}

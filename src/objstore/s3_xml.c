/* The XML that S3 answers with (ListBucketResult, InitiateMultipartUploadResult, Error) is
 * flat and machine-written: finding <Tag>text</Tag> pairs is all Ember needs, so there is
 * no general XML parser here. Everything is bounds-checked: the bodies come from the
 * network. */
#include <string.h>

#include "objstore/objstore_internal.h"

bool objstore__xml_next(struct slice body, size_t *pos, const char *tag, struct slice *inner)
{
	char open[80], close[82];
	size_t tl = strlen(tag);
	if (tl + 3 > sizeof(open) || *pos >= body.n || !body.p)
		return false;
	int on = snprintf(open, sizeof(open), "<%s>", tag);
	int cn = snprintf(close, sizeof(close), "</%s>", tag);
	const uint8_t *p = memmem(body.p + *pos, body.n - *pos, open, (size_t)on);
	if (!p)
		return false;
	const uint8_t *start = p + on;
	size_t rest = body.n - (size_t)(start - body.p);
	const uint8_t *end = memmem(start, rest, close, (size_t)cn);
	if (!end)
		return false;
	*inner = slice_make(start, (size_t)(end - start));
	*pos = (size_t)(end - body.p) + (size_t)cn;
	return true;
}

bool objstore__xml_find(struct slice body, const char *tag, struct slice *inner)
{
	size_t pos = 0;
	return objstore__xml_next(body, &pos, tag, inner);
}

static void append_utf8(struct buf *out, uint32_t cp)
{
	if (cp < 0x80) {
		buf_append_byte(out, (uint8_t)cp);
	} else if (cp < 0x800) {
		buf_append_byte(out, (uint8_t)(0xc0 | cp >> 6));
		buf_append_byte(out, (uint8_t)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		buf_append_byte(out, (uint8_t)(0xe0 | cp >> 12));
		buf_append_byte(out, (uint8_t)(0x80 | ((cp >> 6) & 0x3f)));
		buf_append_byte(out, (uint8_t)(0x80 | (cp & 0x3f)));
	} else {
		buf_append_byte(out, (uint8_t)(0xf0 | cp >> 18));
		buf_append_byte(out, (uint8_t)(0x80 | ((cp >> 12) & 0x3f)));
		buf_append_byte(out, (uint8_t)(0x80 | ((cp >> 6) & 0x3f)));
		buf_append_byte(out, (uint8_t)(0x80 | (cp & 0x3f)));
	}
}

/* Decodes one reference at p (p[0] == '&'); returns its length, or 0 if malformed. */
static size_t decode_ref(const uint8_t *p, size_t n, struct buf *out)
{
	static const struct {
		const char *name;
		char c;
	} named[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
	for (size_t i = 0; i < EMBER_ARRAY_LEN(named); i++) {
		size_t l = strlen(named[i].name);
		if (n >= l + 1 && !memcmp(p + 1, named[i].name, l)) {
			buf_append_byte(out, (uint8_t)named[i].c);
			return l + 1;
		}
	}
	if (n < 4 || p[1] != '#')
		return 0;
	bool hex = p[2] == 'x' || p[2] == 'X';
	size_t i = hex ? 3 : 2;
	uint32_t cp = 0;
	size_t digits = 0;
	for (; i < n && p[i] != ';'; i++, digits++) {
		int d;
		uint8_t c = p[i];
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (hex && (c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			d = (c | 0x20) - 'a' + 10;
		else
			return 0;
		cp = cp * (hex ? 16 : 10) + (uint32_t)d;
		if (cp > 0x10ffff)
			return 0;
	}
	if (i >= n || digits == 0 || (cp >= 0xd800 && cp <= 0xdfff) || cp == 0)
		return 0;
	append_utf8(out, cp);
	return i + 1;
}

void objstore__xml_unescape(struct slice text, struct buf *out)
{
	size_t i = 0;
	while (i < text.n) {
		const uint8_t *amp = memchr(text.p + i, '&', text.n - i);
		size_t run = amp ? (size_t)(amp - (text.p + i)) : text.n - i;
		buf_append(out, text.p + i, run);
		i += run;
		if (!amp)
			break;
		size_t used = decode_ref(text.p + i, text.n - i, out);
		if (!used) {
			buf_append_byte(out, '&');
			used = 1;
		}
		i += used;
	}
}

void objstore__xml_escape(const char *s, struct buf *out)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			buf_append_cstr(out, "&amp;");
			break;
		case '<':
			buf_append_cstr(out, "&lt;");
			break;
		case '>':
			buf_append_cstr(out, "&gt;");
			break;
		case '"':
			buf_append_cstr(out, "&quot;");
			break;
		default:
			buf_append_byte(out, (uint8_t)*s);
		}
	}
}

int objstore__s3_list_page(struct slice body, objstore_list_fn fn, void *ctx, struct buf *key, struct buf *token,
			   bool *truncated)
{
	struct slice contents, v;
	size_t pos = 0;
	*truncated = false;
	if (!objstore__xml_find(body, "Name", &v) && !objstore__xml_find(body, "KeyCount", &v) &&
	    !objstore__xml_find(body, "IsTruncated", &v))
		return objstore__fail(EMBER_EIO, "list: the answer is not a ListBucketResult");
	while (objstore__xml_next(body, &pos, "Contents", &contents)) {
		if (!objstore__xml_find(contents, "Key", &v))
			return objstore__fail(EMBER_EIO, "list: an entry without Key in the answer");
		key->n = 0;
		objstore__xml_unescape(v, key);
		uint64_t size = 0;
		if (objstore__xml_find(contents, "Size", &v)) {
			for (size_t i = 0; i < v.n && v.p[i] >= '0' && v.p[i] <= '9'; i++) {
				if (size > (UINT64_MAX - 9) / 10)
					return objstore__fail(EMBER_EIO, "list: an entry with an impossible Size");
				size = size * 10 + (uint64_t)(v.p[i] - '0');
			}
		}
		int rc = fn(ctx, buf_cstr(key), size);
		if (rc)
			return rc;
	}
	if (!objstore__xml_find(body, "IsTruncated", &v) || !slice_eq_cstr(v, "true"))
		return 0;
	if (!objstore__xml_find(body, "NextContinuationToken", &v) || v.n == 0)
		return objstore__fail(EMBER_EIO, "list: truncated answer without NextContinuationToken");
	token->n = 0;
	objstore__xml_unescape(v, token);
	*truncated = true;
	return 0;
}

#include "util/buf.h"
#include "util/utf8.h"

void buf_init(struct buf *b)
{
	b->p = NULL;
	b->n = 0;
	b->cap = 0;
}

void buf_release(struct buf *b)
{
	free(b->p);
	buf_init(b);
}

void buf_reserve(struct buf *b, size_t n)
{
	if (b->cap - b->n >= n)
		return;
	if (n > SIZE_MAX - b->n) {
		fprintf(stderr, "ember: buffer overflow\n");
		abort();
	}
	xgrow((void **)&b->p, &b->cap, b->n + n, 1);
}

void buf_append(struct buf *b, const void *p, size_t n)
{
	if (!n)
		return;
	buf_reserve(b, n);
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

void buf_append_cstr(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void buf_append_byte(struct buf *b, uint8_t c)
{
	buf_reserve(b, 1);
	b->p[b->n++] = c;
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char tmp[256];
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(tmp)) {
		buf_append(b, tmp, (size_t)n);
		return;
	}
	buf_reserve(b, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf((char *)b->p + b->n, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->n += (size_t)n;
}

void buf_append_uvarint(struct buf *b, uint64_t v)
{
	buf_reserve(b, 10);
	while (v >= 0x80) {
		b->p[b->n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	b->p[b->n++] = (uint8_t)v;
}

void buf_append_json_string(struct buf *b, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *s = (const uint8_t *)str;
	buf_reserve(b, n + 2);
	buf_append_byte(b, '"');
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			size_t j = i;
			while (j < n && s[j] >= 0x20 && s[j] != '"' && s[j] != '\\' && s[j] < 0x80)
				j++;
			buf_append(b, s + i, j - i);
			i = j;
			continue;
		}
		if (c == '"' || c == '\\') {
			uint8_t e[2] = {'\\', c};
			buf_append(b, e, 2);
			i++;
		} else if (c < 0x20) {
			if (c == '\n') {
				buf_append(b, "\\n", 2);
			} else if (c == '\t') {
				buf_append(b, "\\t", 2);
			} else if (c == '\r') {
				buf_append(b, "\\r", 2);
			} else {
				char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
				buf_append(b, e, 6);
			}
			i++;
		} else {
			size_t len = utf8_seq_len(s + i, n - i);
			if (len == 0) {
				buf_append(b, "\xef\xbf\xbd", 3);
				i++;
			} else {
				buf_append(b, s + i, len);
				i += len;
			}
		}
	}
	buf_append_byte(b, '"');
}

char *buf_cstr(struct buf *b)
{
	buf_reserve(b, 1);
	b->p[b->n] = '\0';
	return (char *)b->p;
}

uint8_t *buf_steal(struct buf *b, size_t *n)
{
	uint8_t *p = b->p;
	if (n)
		*n = b->n;
	buf_init(b);
	return p;
}

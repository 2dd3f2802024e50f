/* buf: a growable byte buffer that owns its bytes (heap). */
#ifndef EMBER_UTIL_BUF_H
#define EMBER_UTIL_BUF_H

#include "util/common.h"

struct buf {
	uint8_t *p;
	size_t n;
	size_t cap;
};

#define BUF_INIT {NULL, 0, 0}

/** Initialises an empty buffer (no allocation). */
void buf_init(struct buf *b);
/** Frees the bytes; the buffer is empty and reusable afterwards. */
void buf_release(struct buf *b);
/** Makes room for at least n more bytes. */
void buf_reserve(struct buf *b, size_t n);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_append_cstr(struct buf *b, const char *s);
void buf_append_byte(struct buf *b, uint8_t c);
void buf_printf(struct buf *b, const char *fmt, ...) EMBER_PRINTF(2, 3);
/** Appends a protobuf/LEB128 unsigned varint. */
void buf_append_uvarint(struct buf *b, uint64_t v);
/** Appends s as a JSON string literal (with quotes), escaping as RFC 8259 requires;
 * invalid UTF-8 bytes become U+FFFD. */
void buf_append_json_string(struct buf *b, const char *s, size_t n);
/** Makes b->p NUL-terminated (not counted in n) and returns it. */
char *buf_cstr(struct buf *b);
/** Transfers ownership of the bytes to the caller; b becomes empty. */
uint8_t *buf_steal(struct buf *b, size_t *n);

#endif

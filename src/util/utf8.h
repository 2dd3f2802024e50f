/* UTF-8 validation (RFC 3629: no overlongs, no surrogates, max U+10FFFF). */
#ifndef EMBER_UTIL_UTF8_H
#define EMBER_UTIL_UTF8_H

#include "util/common.h"

/** True if s[0..n) is valid UTF-8. */
bool utf8_valid(const void *s, size_t n);
/** Length of the valid UTF-8 sequence starting at s (at most n bytes), 0 if invalid. */
size_t utf8_seq_len(const uint8_t *s, size_t n);

#endif

/* Protobuf wire-format helpers private to src/pprof (varints, tags, sizes). */
#ifndef EMBER_PPROF_WIRE_H
#define EMBER_PPROF_WIRE_H

#include "util/common.h"

#define PW_LIKELY(x) __builtin_expect(!!(x), 1)
#define PW_UNLIKELY(x) __builtin_expect(!!(x), 0)

enum { PW_VARINT = 0, PW_I64 = 1, PW_LEN = 2, PW_SGROUP = 3, PW_EGROUP = 4, PW_I32 = 5 };

/* Results of pw_varint. */
enum { PW_OK = 0, PW_TRUNC = 1, PW_OVERLONG = 2 };

int pprof__varint_slow(const uint8_t **pp, const uint8_t *end, uint64_t *out);

/* Reads one varint at *pp, not reading at or past end. On PW_OK advances *pp. A varint
 * of more than 10 bytes, or whose 10th byte carries bits past 64, is PW_OVERLONG. */
static inline int pw_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
	const uint8_t *p = *pp;
	if (PW_LIKELY(p < end)) {
		uint64_t b0 = p[0];
		if (PW_LIKELY(b0 < 0x80)) {
			*out = b0;
			*pp = p + 1;
			return PW_OK;
		}
		if (PW_LIKELY(end - p >= 2)) {
			uint64_t b1 = p[1];
			if (PW_LIKELY(b1 < 0x80)) {
				*out = (b0 & 0x7f) | (b1 << 7);
				*pp = p + 2;
				return PW_OK;
			}
		}
	}
	return pprof__varint_slow(pp, end, out);
}

/* Decodes a varint at p when at least 10 bytes are readable there. Returns the end, or
 * NULL if it is longer than 10 bytes or overflows 64 bits. */
static inline const uint8_t *pw_varint10(const uint8_t *p, uint64_t *out)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < 9; i++) {
		uint64_t b = p[i];
		v |= (b & 0x7f) << (7 * i);
		if (b < 0x80) {
			*out = v;
			return p + i + 1;
		}
	}
	if (p[9] > 1)
		return NULL;
	*out = v | (uint64_t)p[9] << 63;
	return p + 10;
}

/* Number of varints that end in p[0..n): bytes with the top bit clear. */
static inline size_t pw_count_varints(const uint8_t *p, size_t n)
{
	size_t c = 0, i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		uint64_t t = (~w & 0x8080808080808080ULL) >> 7;
		c += (t * 0x0101010101010101ULL) >> 56;
	}
	for (; i < n; i++)
		c += p[i] < 0x80;
	return c;
}

/* Encoded size of v as a varint (1..10). */
static inline size_t pw_varint_size(uint64_t v)
{
	return ((size_t)(64 - __builtin_clzll(v | 1)) + 6) / 7;
}

/* Writes v as a varint at p (room for 10 bytes); returns the end. */
static inline uint8_t *pw_put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

#endif

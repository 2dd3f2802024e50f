/* gzip: whole-buffer inflate (libdeflate) with a cap on the decompressed size, so that a
 * small hostile body cannot expand without bound (gzip bombs). */
#ifndef EMBER_UTIL_GZIP_H
#define EMBER_UTIL_GZIP_H

#include "util/buf.h"

/** True if the bytes start with the gzip magic 1f 8b. */
static inline bool gzip_is_gzip(struct slice in)
{
	return in.n >= 2 && in.p[0] == 0x1f && in.p[1] == 0x8b;
}

/** Inflates every gzip member of `in` into `out` (appended; caller owns out).
 * Returns 0, EMBER_ETOOBIG when the output would pass max_out bytes, or EMBER_EINVAL
 * for corrupt or truncated data. Thread-safe. */
int gzip_inflate(struct slice in, size_t max_out, struct buf *out) EMBER_WUR;

/** Compresses `in` as one gzip member at the given level (1..12) into `out` (appended). */
void gzip_deflate(struct slice in, int level, struct buf *out);

#endif

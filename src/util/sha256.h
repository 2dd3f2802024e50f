/* sha256: SHA-256 (FIPS 180-4), for S3's x-amz-content-sha256 payload hashes. A small
 * portable implementation so the build needs no crypto library; not constant-time, which
 * does not matter for hashing public payloads. */
#ifndef EMBER_UTIL_SHA256_H
#define EMBER_UTIL_SHA256_H

#include "util/common.h"

#define SHA256_LEN 32
#define SHA256_HEX_LEN 64

struct sha256 {
	uint32_t h[8];
	uint64_t total; /* bytes hashed so far */
	uint8_t block[64];
	size_t fill; /* bytes waiting in block */
};

/** Starts a hash (no allocation). */
void sha256_init(struct sha256 *s);
/** Adds p[0..n) to the hash. */
void sha256_update(struct sha256 *s, const void *p, size_t n);
/** Writes the 32-byte digest to out; s must be re-initialised before reuse. */
void sha256_final(struct sha256 *s, uint8_t out[SHA256_LEN]);
/** One shot: the digest of p[0..n) as 64 lowercase hex digits + NUL. */
void sha256_hex(const void *p, size_t n, char out[SHA256_HEX_LEN + 1]);
/** Formats a digest as 64 lowercase hex digits + NUL. */
void sha256_to_hex(const uint8_t digest[SHA256_LEN], char out[SHA256_HEX_LEN + 1]);

#endif

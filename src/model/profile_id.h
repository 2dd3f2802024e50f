/* profile_id: the ids a stored profile carries: its profile id (a 16-byte UUID, from
 * Push's RawSample.ID or random) and the span ids of its samples (the `span_id` sample
 * label, 16 hex digits). Formats as Pyroscope reads them (pkg/model SpanSelector,
 * github.com/google/uuid Parse). */
#ifndef EMBER_MODEL_PROFILE_ID_H
#define EMBER_MODEL_PROFILE_ID_H

#include "util/common.h"

#define PROFILE_ID_LEN 16

/** Parses a UUID in one of the forms Go's uuid.Parse takes: 36 characters
 * (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx), the same in braces or after "urn:uuid:", or 32
 * hex digits. Returns 0 or EMBER_EINVAL. */
int profile_id_parse(struct slice s, uint8_t out[PROFILE_ID_LEN]) EMBER_WUR;

/** A new random version-4 UUID (getrandom). */
void profile_id_random(uint8_t out[PROFILE_ID_LEN]);

/** Formats id as 36 characters + NUL. */
void profile_id_format(const uint8_t id[PROFILE_ID_LEN], char out[37]);

/** Parses a span id: exactly 16 hex digits, read as 8 bytes in order and taken as a
 * little-endian u64 (as Pyroscope does), so "0100000000000000" is 1. Returns 0 or
 * EMBER_EINVAL. */
int profile_span_parse(struct slice s, uint64_t *out) EMBER_WUR;

#endif

/* Query-string helpers: percent-decoding and parameter lookup over a raw query string
 * (the part after '?', without it). Pairs are separated by '&'; a pair without '=' has
 * an empty value; empty pairs are skipped; ';' is not a separator (as in Go >= 1.17). */
#ifndef EMBER_HTTP_QUERY_H
#define EMBER_HTTP_QUERY_H

#include "util/arena.h"
#include "util/common.h"

/** Percent-decodes in (and, if plus_as_space, turns '+' into ' ').
 * Returns 0 and *out (NUL-terminated, not counted in out->n; owned by the arena),
 * or EMBER_EINVAL when a '%' is not followed by two hex digits. Decoded bytes are not
 * checked for UTF-8 or NUL: that is the caller's business. */
int http_percent_decode(struct slice in, bool plus_as_space, struct arena *a,
			struct slice *out) EMBER_WUR;

/** First value of parameter name (compared after decoding the key), percent-decoded
 * with '+' as space, into *out (NUL-terminated, owned by the arena).
 * Returns 0, EMBER_ENOTFOUND if absent, or EMBER_EINVAL if the matching value has a
 * malformed %-escape. Pairs whose key is malformed never match. */
int http_query_get(struct slice query, const char *name, struct arena *a,
		   struct slice *out) EMBER_WUR;

/** Every value of parameter name, in order, decoded as http_query_get does.
 * *out is an arena array of *n_out slices (NULL and 0 when absent: that is not an error).
 * Returns 0 or EMBER_EINVAL if any matching value is malformed. */
int http_query_get_all(struct slice query, const char *name, struct arena *a,
		       struct slice **out, size_t *n_out) EMBER_WUR;

/** True if parameter name is present (even with an empty value). */
bool http_query_has(struct slice query, const char *name);

#endif

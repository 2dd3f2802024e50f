/* attime: the /ingest `from` / `until` time syntax (Pyroscope pkg/og/util/attime, itself
 * a rough copy of Graphite's attime.py). See docs/internals/model.md. */
#ifndef EMBER_UTIL_ATTIME_H
#define EMBER_UTIL_ATTIME_H

#include "util/common.h"

/** Parses s into Unix nanoseconds in *out_ns. Rules, after trimming surrounding
 * whitespace and deleting every '_', ',' and ' ' (as Pyroscope does):
 *  - empty → now_ns;
 *  - all digits: 8 digits forming a valid date with year > 1900 → YYYYMMDD at UTC
 *    midnight; 13 → milliseconds; 16 → microseconds; 19 → nanoseconds; any other length
 *    (including an invalid 8-digit date) → seconds;
 *  - `now` or empty reference, then an optional offset `+`/`-` followed by one or more
 *    <digits><unit> groups (`now-1h30m`); units s/sec/second(s), m/min/minute(s),
 *    h/hour(s), d/day(s), w/week(s), M/mon/month(s) (30 d), y/year(s) (365 d); a number
 *    with no unit counts 0 (`now-1` == now), as in Pyroscope.
 * Differences from Pyroscope, which never fails and falls back to now: garbage, an
 * unknown unit, a reference other than `now`, input over 64 bytes, and any result that
 * overflows int64 nanoseconds return EMBER_EINVAL (the caller may fall back itself).
 * No allocation; thread-safe. */
int attime_parse(struct slice s, int64_t now_ns, int64_t *out_ns) EMBER_WUR;

#endif

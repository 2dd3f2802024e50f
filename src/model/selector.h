/* selector: Prometheus series selectors, `{service_name="x", pod=~"a.*"}`
 * (pyroscope-api.md §2.4). See docs/internals/model.md for the grammar and semantics. */
#ifndef EMBER_MODEL_SELECTOR_H
#define EMBER_MODEL_SELECTOR_H

#include "model/labels.h"
#include "util/common.h"

struct selector;

enum selector_op {
	SELECTOR_EQ,  /* =  */
	SELECTOR_NEQ, /* != */
	SELECTOR_RE,  /* =~ */
	SELECTOR_NRE, /* !~ */
};

/** One matcher, as seen by selector_matcher_at. name/value are owned by the selector. */
struct selector_matcher {
	enum selector_op op;
	struct slice name;  /* label name, unescaped */
	struct slice value; /* the value, or the regex source as written (unanchored) */
};

/** Input longer than this is refused (EMBER_ETOOBIG). */
#define SELECTOR_MAX_LEN (1024 * 1024)
/** More matchers than this in one selector are refused (EMBER_ETOOBIG). */
#define SELECTOR_MAX_MATCHERS 1024
/** PCRE2 match limit per regex test: a pathological regex fails (does not match)
 * instead of burning CPU. */
#define SELECTOR_MATCH_LIMIT 1000000

/** Parses a Prometheus selector: an optional metric name prefix
 * ([a-zA-Z_:.][a-zA-Z0-9_:.]*, so a profile type ID such as
 * `process_cpu:cpu:nanoseconds:cpu:nanoseconds` fits), then optionally `{...}` holding
 * matchers `name op value` separated by commas (a trailing comma is allowed, `{}` is
 * empty). Names are identifiers ([a-zA-Z_][a-zA-Z0-9_.]*: '.' is accepted unquoted, a
 * superset of Prometheus) or quoted strings; a lone quoted string inside the braces is the
 * metric name, as in Prometheus 3 (`{"my.metric", a="b"}`). Values are "double",
 * 'single' or `raw` quoted; the first two take Go escapes (\a \b \f \n \r \t \v \\ \"
 * or \', \xHH, \ooo, \uHHHH, \UHHHHHHHH). White space may appear between tokens.
 * Regexes are PCRE2 in UTF mode, anchored at both ends and with `.` matching newline,
 * like Prometheus 3's `^(?s:re)$`. Input must be valid UTF-8 and non-empty.
 * The metric name is NOT a matcher: it is returned by selector_metric_name for the
 * caller to interpret (Ember's query layer treats it as the profile type ID).
 * On success *out is owned by the caller (selector_free) and borrows nothing from s.
 * On error returns EMBER_EINVAL (or EMBER_ETOOBIG past the caps) with a message such as
 * `parse error at char 12: unexpected "}"` or `invalid regex "a(": missing closing
 * parenthesis at offset 2` (char positions are 1-based byte offsets). */
int selector_parse(struct slice s, struct selector **out, char *err, size_t errlen) EMBER_WUR;

/** Frees sel (NULL-safe). */
void selector_free(struct selector *sel);

/** True if every matcher matches ls (an empty selector matches everything). A label
 * absent from ls matches as the empty string: `{a=""}` matches series without `a`,
 * `{a!=""}` requires it, `{a=~".*"}` matches all. ls need not be sorted. A regex that
 * hits the match limit counts as not matching.
 * Thread-safe: a compiled selector is read-only; PCRE2 match data is made per call, so
 * one selector may be matched from many threads at once. */
bool selector_matches(const struct selector *sel, const struct labels *ls);

/** Tests one matcher (index i < selector_matcher_count) against a value (e.g. one
 * postings key). Thread-safe as selector_matches. */
bool selector_matcher_matches(const struct selector *sel, size_t i, struct slice value);

/** The metric name prefix (`process_cpu:...` in `process_cpu:...{}`), empty if none.
 * Owned by sel. */
struct slice selector_metric_name(const struct selector *sel);

/** Number of matchers, in input order. */
size_t selector_matcher_count(const struct selector *sel);

/** Fills *out with matcher i (< selector_matcher_count); slices owned by sel. */
void selector_matcher_at(const struct selector *sel, size_t i, struct selector_matcher *out);

/** Parses the `repeated string matchers` of LabelNames / LabelValues / Series: each
 * string is one selector. *out receives an array of n selectors (free it with
 * selector_list_free); n == 0 gives *out == NULL. On error nothing is returned and err
 * names the failing index: `matchers[1]: parse error at char 3: ...`. */
int selector_parse_matchers_list(const struct slice *strs, size_t n, struct selector ***out,
				 char *err, size_t errlen) EMBER_WUR;

/** Pyroscope's semantics for a matchers list (pkg/phlaredb/head.go "selectors ... are
 * ORed"): a series matches if ANY selector matches; an empty list matches everything. */
bool selector_list_matches(struct selector *const *sels, size_t n, const struct labels *ls);

/** Frees a list made by selector_parse_matchers_list (NULL-safe). */
void selector_list_free(struct selector **sels, size_t n);

/** Appends sel in canonical form `metric{a="b", c=~"d"}` (values quoted as labels_format
 * does); it parses back to an equal selector. */
void selector_format(const struct selector *sel, struct buf *out);

#endif

/* labels: a series' label set ({name="value", ...}), Prometheus style.
 *
 * A label set is a plain array of (name, value) slices. The memory of the array and of
 * the bytes is owned by whoever built it (usually a request arena); nothing here frees.
 * Most functions want the set sorted by name (labels_sort); hashes and comparisons are
 * only meaningful on sorted sets. See docs/internals/model.md for the rules. */
#ifndef EMBER_MODEL_LABELS_H
#define EMBER_MODEL_LABELS_H

#include "util/arena.h"
#include "util/buf.h"
#include "util/common.h"

struct label {
	struct slice name, value;
};

struct labels {
	struct label *v;
	size_t n;
};

/* Well-known names (pyroscope-api.md §4). */
#define LABEL_NAME "__name__"
#define LABEL_PROFILE_TYPE "__profile_type__"
#define LABEL_SERVICE_NAME_PRIVATE "__service_name__"
#define LABEL_TYPE "__type__"
#define LABEL_UNIT "__unit__"
#define LABEL_PERIOD_TYPE "__period_type__"
#define LABEL_PERIOD_UNIT "__period_unit__"
#define LABEL_DELTA "__delta__"
#define LABEL_SESSION_ID "__session_id__"
#define LABEL_SERVICE_NAME "service_name"

/** Sorts ls in place by name, then value (stable for equal pairs). No allocation. */
void labels_sort(struct labels *ls);

/** True if ls is sorted by name with no duplicate names. */
bool labels_is_sorted_unique(const struct labels *ls);

/** The label named name, or NULL. Linear scan (sets are small); works on unsorted sets.
 * The pointer is into ls->v and valid while ls is unchanged. */
const struct label *labels_find(const struct labels *ls, struct slice name);

/** Value of the label named name (a C string, e.g. "service_name"), or an empty slice
 * when absent: Prometheus semantics, where an absent label and "" are the same. */
struct slice labels_get(const struct labels *ls, const char *name);
/** As labels_get with the name as a slice. */
struct slice labels_get_slice(const struct labels *ls, struct slice name);

/** Sets name=value: replaces the value of an existing label, else inserts a new label at
 * the place that keeps a sorted set sorted. The array is reallocated from arena a (the old
 * array is left to the arena); name/value bytes are NOT copied: they stay borrowed and
 * must outlive ls (use labels_dup to own them). */
void labels_set(struct labels *ls, struct arena *a, struct slice name, struct slice value);

/** Removes the label named name if present (in place, order kept). Returns true if removed. */
bool labels_delete(struct labels *ls, struct slice name);

/** Deep copy of src (array and bytes) into arena a; dst owns nothing else. */
void labels_dup(struct labels *dst, struct arena *a, const struct labels *src);

/** Stable 64-bit hash of a label set (XXH3-64, seed 0, over name 0xff value 0xff for each
 * label in order). 0xff never occurs in UTF-8, so {a="bc"} and {ab="c"} differ. The value
 * is frozen: it may be persisted. Hash the SORTED set to identify a series. */
uint64_t labels_hash(const struct labels *ls);

/** Three-way comparison of two sorted sets, as Prometheus labels.Compare: pairwise by name
 * then value; a prefix set sorts first. */
int labels_cmp(const struct labels *a, const struct labels *b);

/** True if both sets hold the same pairs in the same order. */
bool labels_equal(const struct labels *a, const struct labels *b);

/** Appends ls to out in Prometheus form `{a="b", c="d"}` (in the order given). Values are
 * quoted with Go-style escapes (\\ \" \n \t \r, other control bytes and invalid UTF-8 as
 * \xHH); a name that is not [a-zA-Z_][a-zA-Z0-9_]* is quoted too (`{"a.b"="c"}`), so the
 * output parses back with selector_parse. */
void labels_format(const struct labels *ls, struct buf *out);

/** Appends s as a double-quoted string with the escapes labels_format uses. */
void labels_append_quoted(struct buf *out, struct slice s);

/** True if s is a legacy Prometheus label name [a-zA-Z_][a-zA-Z0-9_]*. */
bool labels_name_is_legacy(struct slice s);

/** How labels_validate treats label names. */
enum labels_name_mode {
	/* Default (Pyroscope v1, disable_label_sanitization=false): names are
	 * [a-zA-Z_.][a-zA-Z0-9_.]*; each '.' is rewritten to '_'. */
	LABELS_NAMES_SANITIZE = 0,
	/* Strict Prometheus legacy names [a-zA-Z_][a-zA-Z0-9_]*; a '.' is an error. */
	LABELS_NAMES_LEGACY,
	/* Pyroscope v2 default (disable_label_sanitization=true): any non-empty UTF-8 name. */
	LABELS_NAMES_UTF8,
};

struct labels_limits {
	size_t max_names;     /* label names per series, all labels count (30) */
	size_t max_name_len;  /* bytes (1024) */
	size_t max_value_len; /* bytes (2048) */
	enum labels_name_mode names;
};

/** Pyroscope's defaults (pkg/validation/limits.go). */
#define LABELS_LIMITS_DEFAULT {30, 1024, 2048, LABELS_NAMES_SANITIZE}

/** Validates a series label set as Pyroscope's distributor does, and normalises it: sorts
 * it, sanitizes names per lim->names (new names are allocated in arena a, which may be
 * NULL only if no name needs rewriting, e.g. in LEGACY or UTF8 mode), and drops a label
 * that sanitizes into an existing name with the same value (a different value is a
 * duplicate error). Rules, in order: at least one label; at most max_names labels; names
 * valid and at most max_name_len bytes; values valid UTF-8 and at most max_value_len bytes;
 * no duplicate names; __name__ non-empty; service_name non-empty. ls->v is modified in
 * place. On error returns EMBER_EINVAL (EMBER_ETOOBIG for the count/length limits) with
 * a one-line reason in err (NUL-terminated, truncated to errlen). */
int labels_validate(struct labels *ls, struct arena *a, const struct labels_limits *lim,
		    char *err, size_t errlen) EMBER_WUR;

#endif

/* ingest/name: the /ingest `name` query parameter, `app{k=v,k2=v2}`
 * (pyroscope-api.md §1; Pyroscope api/model/labelset). */
#ifndef EMBER_INGEST_NAME_H
#define EMBER_INGEST_NAME_H

#include "model/labels.h"
#include "util/arena.h"
#include "util/common.h"

struct ingest_name {
	struct slice app;      /* the app name, trimmed; never empty on success */
	struct labels labels;  /* the {...} pairs other than __name__, in first-seen order */
};

/** Most pairs ingest_name_parse accepts (ETOOBIG past it); validation caps far lower. */
#define INGEST_NAME_MAX_PAIRS 4096

/** Parses the `name` parameter exactly as Pyroscope's labelset.Parse does:
 *  - no quoting or escaping; everything up to the first `{` is the app name (trimmed,
 *    non-empty, characters [A-Za-z0-9_.\-/]); without `{` the whole string is the app;
 *  - inside braces a key runs to `=`, a value to `,` or `}`; keys and values are trimmed
 *    (Unicode white space, as Go's strings.TrimSpace); keys are non-empty
 *    [A-Za-z0-9_.] (the key `__name__` replaces the app name; its value must
 *    pass the app-name rules, which Go does not check);
 *  - a repeated key: the last value wins; values may be empty and may hold any
 *    character but `,` and `}` (`=`, `{`, spaces, UTF-8);
 *  - Pyroscope quirks kept: `}` right after a key (`app{a}`) ends parsing; a `}` ending
 *    a value does not, so `app{a=1}b=2}` also yields b=2; a trailing pair without `,`
 *    or `}` (`app{a=1`) is dropped; text after the final `}` is ignored.
 * One difference: input that is not valid UTF-8 is rejected (Go would turn the bad bytes
 * into U+FFFD).
 * Zero-copy: app and the label name/value slices point into s, which must outlive out;
 * the labels array is allocated in arena a. Errors: EMBER_EINVAL (bad name: the HTTP
 * layer answers 400) or EMBER_ETOOBIG, with the reason in err. */
int ingest_name_parse(struct slice s, struct arena *a, struct ingest_name *out, char *err,
		      size_t errlen) EMBER_WUR;

/** True if c may appear in an app name: [A-Za-z0-9_.\-/]. */
bool ingest_name_app_char_ok(uint8_t c);
/** True if c may appear in a label key: [A-Za-z0-9_.]. */
bool ingest_name_key_char_ok(uint8_t c);

#endif

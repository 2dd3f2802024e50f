/* profile_type: the profile type ID `name:sample_type:sample_unit:period_type:period_unit`
 * (pyroscope-api.md §4), e.g. `process_cpu:cpu:nanoseconds:cpu:nanoseconds`. */
#ifndef EMBER_MODEL_PROFILE_TYPE_H
#define EMBER_MODEL_PROFILE_TYPE_H

#include "model/labels.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/common.h"

struct profile_type {
	struct slice id;          /* the whole input, as given (may carry the 6th part) */
	struct slice name;        /* __name__, e.g. process_cpu */
	struct slice sample_type; /* __type__ */
	struct slice sample_unit; /* __unit__ */
	struct slice period_type; /* __period_type__ */
	struct slice period_unit; /* __period_unit__ */
	struct slice suffix;      /* the optional 6th part ("delta" in Pyroscope's message), else empty */
	bool has_suffix;
};

/** Parses an ID of 5 `:`-separated parts, or 6 as Pyroscope's ParseProfileTypeSelector
 * accepts: its error text names the 6th `(:delta)`; its value is not checked and plays no
 * part in matching (the `__profile_type__` label is always the 5-part form). Empty parts
 * are allowed (`memory:alloc_space:bytes::`). Zero-copy: every slice points into s. Other
 * part counts → EMBER_EINVAL with Pyroscope's message in err. */
int profile_type_parse(struct slice s, struct profile_type *out, char *err, size_t errlen) EMBER_WUR;

/** Appends the 5-part form `name:sample_type:sample_unit:period_type:period_unit` (the
 * `__profile_type__` value; the 6th part is never written). */
void profile_type_format(const struct profile_type *pt, struct buf *out);

/** Builds a profile_type from its 5 parts (borrowed); id is left empty. */
struct profile_type profile_type_make(struct slice name, struct slice sample_type,
				      struct slice sample_unit, struct slice period_type,
				      struct slice period_unit);

/** Sets __name__, __profile_type__ (5-part form, allocated in arena a), __type__,
 * __unit__, __period_type__ and __period_unit__ in ls (via labels_set: values borrowed
 * from pt, array from a). Empty parts are set as empty values, as Pyroscope does
 * (labels with empty values are dropped later by whoever stores the series). */
void profile_type_set_labels(const struct profile_type *pt, struct labels *ls, struct arena *a);

#endif

/* plan: turns one decoded pprof plus the client's series labels into the profiles Ember
 * stores: one per (sample type x distinct set of string sample labels), each with its full
 * series label set (__name__, __profile_type__, __type__, __unit__, __period_type__,
 * __period_unit__, __service_name__, service_name, the client's labels), after the
 * normalisation of pyroscope-api.md §4 (samples with a negative value or only zero
 * values are dropped). Everything the plan holds lives in the arena it was built in. */
#ifndef EMBER_INGEST_PLAN_H
#define EMBER_INGEST_PLAN_H

#include "model/labels.h"
#include "pprof/pprof.h"
#include "store/head.h"

/* Limits of pyroscope-api.md §4, under their Pyroscope flag names (see server/config.c). */
struct ingest_limits {
	size_t max_profile_bytes;     /* -validation.max-profile-size-bytes (uncompressed) */
	size_t max_samples;           /* -validation.max-profile-stacktrace-samples */
	size_t max_labels_per_sample; /* -validation.max-profile-stacktrace-sample-labels */
	size_t max_stack_depth;       /* -validation.max-profile-stacktrace-depth (truncates) */
	size_t max_symbol_len;        /* -validation.max-profile-symbol-value-length (truncates) */
	struct labels_limits labels;  /* -validation.max-label-names-per-series and friends */
	int64_t reject_older_than_ns; /* -validation.reject-older-than; 0 = off */
	int64_t reject_newer_than_ns; /* -validation.reject-newer-than; 0 = off */
	double rate_mb;               /* -distributor.ingestion-rate-limit-mb; 0 = off */
	double burst_mb;              /* -distributor.ingestion-burst-size-mb */
	size_t max_series;            /* -ingester.max-global-series-per-tenant; 0 = off */
};

/** Pyroscope's defaults. */
void ingest_limits_default(struct ingest_limits *lim);

/** A source pprof and the profiles to store from it. */
struct ingest_source {
	const struct pprof_profile *p;
	struct head_append_item *items;
	size_t n_items;
};

/** Everything one request will store, built before anything is written. */
struct ingest_plan {
	struct ingest_source *sources;
	size_t n_sources, cap_sources;
	size_t n_profiles;  /* sum of n_items */
	size_t n_samples;   /* samples kept after normalisation, over all sources */
	const uint8_t *id;  /* the profile id (16 bytes, in the caller's arena) given to the
			     * profiles added by the next ingest_plan_pprof calls; NULL = zero */
};

/** Adds the profiles of p (each with plan->id as its profile id; samples with a `span_id`
 * string label, or `profile_id`, which is renamed so, of 16 hex digits keep their span id,
 * see head_append_item.spans; p decoded and validated, its time_nanos already fixed) with
 * series labels `series` (the client's labels including __name__ and service_name; not
 * modified) to plan. `now_ns` and `check_window` apply the ingestion time window
 * (replay skips it). Returns 0 (a profile left with no samples adds nothing),
 * EMBER_EINVAL with a message for invalid labels, EMBER_ELIMIT for a profile outside the
 * time window. */
int ingest_plan_pprof(struct ingest_plan *plan, struct arena *a, const struct pprof_profile *p,
		      const struct labels *series, const struct ingest_limits *lim, int64_t now_ns,
		      bool check_window, char *err, size_t errlen) EMBER_WUR;

#endif

/* metrics: a small Prometheus registry (counters, gauges, histograms) that renders the text
 * exposition format 0.0.4 for GET /metrics.
 *
 * Families are registered once at start-up (a bad or duplicate name is a programming error
 * and aborts with a message); samples are updated from any thread with atomics. A family
 * with label names has one child per distinct tuple of label values; look a child up once
 * with metric_with and keep the handle on hot paths, or use the metric_* shortcuts that look
 * it up each time. Families are written in registration order, children in creation order.
 *
 * Every pointer returned here is owned by the registry and valid until metrics_free. */
#ifndef EMBER_UTIL_METRICS_H
#define EMBER_UTIL_METRICS_H

#include "util/buf.h"
#include "util/common.h"

/** Most children one family may have; metric_with returns NULL beyond this, so label values
 * that come from outside cannot grow the registry without bound. */
#define METRICS_MAX_CHILDREN 10000
/** Most label names per family. */
#define METRICS_MAX_LABELS 8

/** Prometheus' default latency buckets, in seconds (.005 ... 10); METRICS_DEFAULT_BUCKETS_N entries. */
extern const double metrics_default_buckets[];
#define METRICS_DEFAULT_BUCKETS_N 11

struct metrics;
struct metric;
struct metric_child;

/** A new, empty registry; free with metrics_free. */
struct metrics *metrics_new(void);
/** Frees the registry and every family and child in it. NULL-safe. */
void metrics_free(struct metrics *m);

/** Registers a counter family. name must match [a-zA-Z_:][a-zA-Z0-9_:]* (by convention
 * ending in _total), help is any text; label_names is NULL or a NULL-terminated list of at
 * most METRICS_MAX_LABELS names matching [a-zA-Z_][a-zA-Z0-9_]* (not starting "__"). The
 * strings are copied. Without labels the single sample exists (as 0) from the start. */
struct metric *metrics_counter(struct metrics *m, const char *name, const char *help,
			       const char *const *label_names);
/** Registers a gauge family; arguments as for metrics_counter. */
struct metric *metrics_gauge(struct metrics *m, const char *name, const char *help,
			     const char *const *label_names);
/** Registers a histogram family with n upper bounds buckets[0..n) (strictly increasing,
 * finite; +Inf is added) and an optional label list ("le" is reserved). The bounds are
 * copied. */
struct metric *metrics_histogram(struct metrics *m, const char *name, const char *help,
				 const char *const *label_names, const double *buckets, size_t n);
/** Registers an unlabeled gauge whose value is fn(ctx), called at each metrics_write (from
 * the scraping thread, with the registry locked: fn must not call into this registry).
 * ctx must outlive the registry or the next scrape. */
struct metric *metrics_gauge_func(struct metrics *m, const char *name, const char *help, double (*fn)(void *ctx),
				  void *ctx);
/** Same as metrics_gauge_func for a value that only grows (e.g. WAL bytes written). */
struct metric *metrics_counter_func(struct metrics *m, const char *name, const char *help,
				    double (*fn)(void *ctx), void *ctx);

/** The child of family f for label_values (one value per label name, in order; ignored for
 * a family without labels). Created on first use (values copied). Returns NULL when f
 * already has METRICS_MAX_CHILDREN children, or for a callback family. The child lives
 * until metrics_free. Thread-safe. */
struct metric_child *metric_with(struct metric *f, const char *const *label_values);

/** Adds v to a counter (v < 0 or NaN is ignored: counters never go down) or a gauge.
 * NULL-safe (no-op). */
void metric_child_add(struct metric_child *c, double v);
static inline void metric_child_inc(struct metric_child *c)
{
	metric_child_add(c, 1.0);
}
/** Sets a gauge (no-op on other types). NULL-safe. */
void metric_child_set(struct metric_child *c, double v);
/** Records one observation in a histogram (no-op on other types). NULL-safe. */
void metric_child_observe(struct metric_child *c, double v);

/** Shortcuts: metric_with(f, label_values) then the operation (NULL-safe like it). */
void metric_add(struct metric *f, const char *const *label_values, double v);
void metric_inc(struct metric *f, const char *const *label_values);
void metric_set(struct metric *f, const char *const *label_values, double v);
void metric_observe(struct metric *f, const char *const *label_values, double v);

/** Reads back a counter or gauge child's value (for tests and for code that exports the
 * same number elsewhere); NaN for NULL or a histogram. */
double metric_child_value(const struct metric_child *c);

/** Appends the whole registry to out in the text exposition format 0.0.4
 * (Content-Type: text/plain; version=0.0.4; charset=utf-8). Thread-safe with updates; each
 * sample is read atomically but the scrape is not one snapshot. */
void metrics_write(struct metrics *m, struct buf *out);

/** The Content-Type header value for metrics_write's output. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif

/* callsite: the stack_trace_selector.call_site filter of SelectMergeStacktraces,
 * SelectMergeProfile and SelectSeries (pyroscope-api.md §2.3, §2.4): a root-first list of
 * function names; a stack matches when its frames, root first and with inlined frames
 * expanded as in ftree (outermost first), begin with exactly those names. A matching stack
 * is kept whole. An empty call site matches every stack. Works on merge partitions, so
 * any consumer of merge_select (flame graphs, pprof export, series) can filter. */
#ifndef EMBER_QUERY_CALLSITE_H
#define EMBER_QUERY_CALLSITE_H

#include "query/merge.h"

struct callsite;

/** Copies names[0..n) (root first). Returns NULL when n is 0 (no filter). Free with
 * callsite_free. */
struct callsite *callsite_new(const char *const *names, size_t n);
/** Frees cs (NULL-safe). */
void callsite_free(struct callsite *cs);

/** Per-partition matcher with memoised stack-node states. syms is borrowed and must stay
 * valid and unchanged while the matcher is used (i.e. within one merge consumer call). */
struct callsite_match {
	const struct callsite *cs;
	const struct symbols *syms;
	uint32_t *state; /* per stack node: 0 = unknown, 1 = no match, 2 + k = k names matched */
};

void callsite_match_init(struct callsite_match *m, const struct callsite *cs, const struct symbols *syms);
void callsite_match_release(struct callsite_match *m);
/** True if stack (a stack node id of m->syms) begins with the call site. */
bool callsite_match_stack(struct callsite_match *m, uint32_t stack);

/** A merge_consume_fn that drops non-matching stacks of each partition and hands the
 * rest to next(next_ctx, ...). ctx is a struct callsite_consumer *. With cs NULL every
 * partition passes through unchanged. */
struct callsite_consumer {
	const struct callsite *cs;
	merge_consume_fn next;
	void *next_ctx;
};
void callsite_consume(void *ctx, const struct merge_partition *part);

#endif

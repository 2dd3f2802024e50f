/* report: turns one collect's drained aggregates into a Push API request: symbolises every
 * frame (symbolize.h), groups samples into one series per (profile type, service_name
 * [, pid] [, comm]) and builds one gzipped pprof per series.
 *
 * Profile types (docs/internals/agent.md):
 *   process_cpu:cpu:nanoseconds:cpu:nanoseconds  value = samples x period, period 1e9/rate
 *   off_cpu:off_cpu:nanoseconds::                 value = nanoseconds blocked */
#ifndef EMBER_AGENT_REPORT_H
#define EMBER_AGENT_REPORT_H

#include "agent/profile.h"
#include "agent/symbolize.h"
#include "util/common.h"

struct report_opts {
	unsigned sample_rate;      /* Hz; the CPU period is 1e9 / rate ns */
	bool label_pid, label_comm;
	const char *const *extra;  /* extra labels, name/value pairs: extra[2i], extra[2i+1] */
	size_t n_extra;
};

struct report_stats {
	uint64_t series, samples, frames, unknown_frames, lost_stacks;
};

struct report;

/** A report for one collect. sym is borrowed (used only during report_add). opts and the
 * strings it points to are borrowed for the report's life. Caller owns the result. */
struct report *report_new(const struct report_opts *opts, struct symbolizer *sym);

/** Adds one aggregate of process s->tgid, whose series gets service_name `service`
 * (copied). Every frame is kept: unknown ones become "module+0xoffset". */
void report_add(struct report *r, const struct profiler_sample *s, const char *service);

/** Encodes the PushRequest of everything added (caller owns *body, malloc'd); *n = 0 and
 * *body = NULL when nothing was added. time_ns/duration_ns go into every pprof. */
void report_finish(struct report *r, int64_t time_ns, int64_t duration_ns, uint8_t **body, size_t *n,
		   struct report_stats *stats);

/** Frees the report. NULL-safe. */
void report_free(struct report *r);

#endif

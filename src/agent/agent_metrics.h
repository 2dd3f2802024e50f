/* agent_metrics: the Prometheus metrics of `ember agent` (names ember_agent_*), read by
 * GET /metrics (metrics_http.h) on its own thread. The collect loop publishes a snapshot
 * of the profiler's, symbolizer's and its own counters (none of which may be read from
 * another thread while it runs); the pusher's counters are read live (pusher_get_stats
 * is thread-safe). The list of metrics: docs/internals/agent.md ("Metrics"). */
#ifndef EMBER_AGENT_AGENT_METRICS_H
#define EMBER_AGENT_AGENT_METRICS_H

#include "agent/profile.h"
#include "agent/pusher.h"
#include "agent/report.h"
#include "agent/symbolize.h"
#include "util/metrics.h"
#include "util/common.h"

/* What the collect loop publishes; every counter is cumulative since start. */
struct agent_stats {
	struct profiler_stats prof;
	struct symbolizer_stats sym;
	uint64_t collects;        /* drains done */
	uint64_t series, aggregates, frames, unknown_frames, lost_stacks; /* sums of report_stats */
	uint64_t bytes_built;     /* PushRequest bytes handed to the pusher */
	uint64_t comm_filtered;   /* aggregates dropped by --comm */
	uint64_t processes;       /* processes tracked now */
};

struct agent_metrics;

/** Creates the registry with every ember_agent_* family. push is borrowed (read at each
 * scrape; it must outlive the registry) and may be NULL; max_queue_bytes is reported as
 * ember_agent_push_queue_max_bytes. Caller owns the result (agent_metrics_free). */
struct agent_metrics *agent_metrics_new(struct pusher *push, size_t max_queue_bytes);

/** The registry to serve; owned by am. */
struct metrics *agent_metrics_registry(struct agent_metrics *am);

/** Publishes a new snapshot (copied). Thread-safe with scrapes. */
void agent_metrics_publish(struct agent_metrics *am, const struct agent_stats *st);

/** Frees the registry. Only after the server reading it has stopped. NULL-safe. */
void agent_metrics_free(struct agent_metrics *am);

#endif

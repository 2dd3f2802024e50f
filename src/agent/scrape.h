/* scrape: pull mode. Fetches Go net/http/pprof endpoints (CPU for the interval, heap,
 * goroutine, mutex, block) from each target every interval, turns the cumulative ones
 * (heap alloc_*, mutex, block) into deltas the way Grafana Alloy does, and forwards
 * everything to an Ember/Pyroscope server through the Push API.
 * Design notes: docs/internals/agent.md ("Pull mode"). */
#ifndef EMBER_AGENT_SCRAPE_H
#define EMBER_AGENT_SCRAPE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/common.h"

struct scrape_opts {
	const char *const *targets; /* base URLs, e.g. "http://127.0.0.1:6060" */
	size_t n_targets;
	const char *server_url;     /* e.g. "http://127.0.0.1:4040" */
	const char *service_name;   /* NULL: the host name */
	const char *tenant;         /* X-Scope-OrgID, NULL = none */
	int interval_s;             /* CPU profile length and scrape period; 0 = 15 */
	int max_rounds;             /* stop after this many rounds; 0 = until *stop */
	size_t max_body;            /* largest profile accepted; 0 = 64 MiB */
};

/** Runs the scrape loop until *stop becomes non-zero (checked at least every 100 ms) or
 * max_rounds rounds are done. Scrape and push failures are logged and retried next
 * round; returns 0, or EMBER_EINVAL for bad options. */
int scrape_run(const struct scrape_opts *o, volatile sig_atomic_t *stop) EMBER_WUR;

/* ---- delta of cumulative profiles (exposed for tests) ---------------------------- */

struct scrape_delta;

struct scrape_delta *scrape_delta_new(void);
void scrape_delta_free(struct scrape_delta *d);

/** Turns one cumulative pprof (gzip or plain) into the delta against the previous one
 * given to this state, appending the encoded, gzipped delta profile to out. Values of
 * sample types whose name starts with "alloc_" (heap) are subtracted, or of every type
 * when all_cumulative (mutex, block); other values (inuse_*) pass unchanged. Samples
 * are matched by stack (addresses and function names) and labels; samples left with
 * only zero values are dropped. *send is false on the first profile and after a reset
 * (a counter went down), when nothing should be sent. Returns 0 or a decode error. */
int scrape_delta_apply(struct scrape_delta *d, struct slice in, bool all_cumulative,
		       struct buf *out, bool *send) EMBER_WUR;

#endif

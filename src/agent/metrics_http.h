/* metrics_http: serves one metrics registry (util/metrics.h) as GET /metrics on its own
 * thread, for the agent and pull mode (`ember agent --metrics-port`). Any other path is
 * 404, any other method on /metrics 405. Design notes: docs/internals/agent.md
 * ("Metrics"). */
#ifndef EMBER_AGENT_METRICS_HTTP_H
#define EMBER_AGENT_METRICS_HTTP_H

#include "util/metrics.h"
#include "util/common.h"

struct metrics_http;

/** Binds address:port (address NULL = 127.0.0.1; port 0 = any free port) and starts a
 * thread that serves GET /metrics from m. m is borrowed: it must outlive
 * metrics_http_stop. Returns 0 and *out, or EMBER_EIO (bind/listen failed, logged) or
 * EMBER_EINVAL (bad address). */
int metrics_http_start(const char *address, int port, struct metrics *m, struct metrics_http **out) EMBER_WUR;

/** The bound TCP port. */
int metrics_http_port(const struct metrics_http *h);

/** Stops the server (in-flight scrapes finish), joins its thread and frees everything.
 * NULL-safe. */
void metrics_http_stop(struct metrics_http *h);

#endif

/* agent: `ember agent`, the eBPF profiler of every process on this machine (profile.h),
 * symbolising (symbolize.h) and pushing to the server (pusher.h). Flags: agent_main's
 * --help; design: docs/internals/agent.md. */
#ifndef EMBER_AGENT_AGENT_H
#define EMBER_AGENT_AGENT_H

#include "util/common.h"

/** Parses a duration: "<n>" (seconds), "<n>ms", "<n>s", "<n>m", "<n>h", with a decimal
 * fraction allowed ("1.5s"). Stores milliseconds in *ms. Returns 0 or EMBER_EINVAL
 * (also for 0, negative or over a day). */
int agent_parse_duration(const char *s, uint64_t *ms) EMBER_WUR;

/** `ember agent [flags]` (argv without the command name). Returns the exit code: 0 after
 * a clean stop (SIGINT/SIGTERM or --duration), 1 when the agent cannot run here (what is
 * missing is printed), 2 on bad flags. */
int agent_main(int argc, char **argv);

#endif

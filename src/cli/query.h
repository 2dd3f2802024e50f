/* query: `ember query <subcommand> [flags]`, the terminal client of a running server:
 * profile types, labels, series, a text flame graph, top functions, the hottest path and
 * exports (pprof, folded, JSON). See docs/cli.md. */
#ifndef EMBER_CLI_QUERY_H
#define EMBER_CLI_QUERY_H

/** Runs `ember query` with argv[0..argc) the arguments after "query" (subcommand, its
 * arguments and flags in any order). Writes results to stdout and one-line errors to
 * stderr. Returns the process exit status: 0 success, 1 a failed request (server
 * unreachable, HTTP error, malformed reply, cannot write --out), 2 bad usage. */
int query_main(int argc, char **argv);

#endif

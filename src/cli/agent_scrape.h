/* ember agent --scrape / ember scrape: pull mode CLI (src/agent/scrape.h). */
#ifndef EMBER_CLI_AGENT_SCRAPE_H
#define EMBER_CLI_AGENT_SCRAPE_H

/** Parses the pull-mode flags (--scrape URL[,URL...] required, --server URL,
 * --scrape-service NAME, --scrape-interval SECONDS, --tenant ID, --rounds N; other
 * flags are refused) and runs scrape_run until SIGINT/SIGTERM. argv holds only the flags
 * (as src/cli/main.c passes argv + 2; agent_main can forward its own argc/argv). Returns the process exit code. */
int agent_scrape_main(int argc, char **argv);

#endif

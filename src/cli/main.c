/* ember: one binary, several roles (docs/architecture.md). */
#include "agent/agent.h"
#include "cli/agent_scrape.h"
#include "cli/blocks.h"
#include "cli/query.h"
#include "server/config.h"
#include "server/server.h"
#include "server/version.h"
#include "util/common.h"

/* The subcommands. `server` is the default when the first argument is a flag or absent;
 * each command parses its own flags and its own --help. */
static const struct command {
	const char *name;
	int (*main)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{"server", server_main, "run the profiling server (the default command)"},
	{"query", query_main, "read profiles from a running server (ember query --help)"},
	{"blocks", blocks_main, "list, inspect, verify and compact stored blocks (ember blocks --help)"},
	{"agent", agent_main, "profile this machine with eBPF and push to a server (ember agent --help)"},
	{"scrape", agent_scrape_main, "pull Go /debug/pprof endpoints and push them (ember scrape --help)"},
};

static void usage(FILE *f)
{
	fprintf(f, "ember %s: continuous profiling, compatible with Grafana Pyroscope\n\n"
		   "Usage:\n",
		EMBER_VERSION);
	for (size_t i = 0; i < EMBER_ARRAY_LEN(commands); i++) {
		char head[64];
		/* The first command is the default, so its name is optional. */
		snprintf(head, sizeof(head), i == 0 ? "ember [%s] [flags]" : "ember %s [flags]", commands[i].name);
		fprintf(f, "  %-25s %s\n", head, commands[i].summary);
	}
	fprintf(f, "  %-25s %s\n  %-25s %s\n  %-25s %s\n\n", "ember --help", "this help", "ember server --help",
		"the server's flags", "ember --version", "the version");
	config_print_help(f);
}

static bool is_help(const char *a)
{
	return !strcmp(a, "-h") || !strcmp(a, "-help") || !strcmp(a, "--help") || !strcmp(a, "help");
}

/* `ember server ...`: as before, a help flag anywhere prints the usage with the server's
 * flags. */
static int run_server(int argc, char **argv)
{
	for (int k = 0; k < argc; k++) {
		if (is_help(argv[k])) {
			usage(stdout);
			return 0;
		}
	}
	return server_main(argc, argv);
}

int main(int argc, char **argv)
{
	if (argc > 1 && is_help(argv[1])) {
		usage(stdout);
		return 0;
	}
	if (argc > 1 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-version") || !strcmp(argv[1], "version"))) {
		printf("ember %s (revision %s)\n", EMBER_VERSION, EMBER_REVISION);
		return 0;
	}
	if (argc <= 1 || argv[1][0] == '-')
		return run_server(argc - 1, argv + 1);
	for (size_t i = 0; i < EMBER_ARRAY_LEN(commands); i++) {
		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
		if (commands[i].main == server_main)
			return run_server(argc - 2, argv + 2);
		return commands[i].main(argc - 2, argv + 2);
	}
	fprintf(stderr, "ember: unknown command %s (see ember --help)\n", argv[1]);
	return 2;
}

/* ember: one binary, several roles (docs/architecture.md). */
#include "server/config.h"
#include "server/server.h"
#include "server/version.h"
#include "util/common.h"

static void usage(FILE *f)
{
	fprintf(f, "ember %s: continuous profiling, compatible with Grafana Pyroscope\n\n"
		   "Usage:\n"
		   "  ember [server] [flags]    run the profiling server (the default command)\n"
		   "  ember --help              this help\n"
		   "  ember server --help       the server's flags\n"
		   "  ember --version           the version\n\n",
		EMBER_VERSION);
	config_print_help(f);
}

static bool is_help(const char *a)
{
	return !strcmp(a, "-h") || !strcmp(a, "-help") || !strcmp(a, "--help") || !strcmp(a, "help");
}

int main(int argc, char **argv)
{
	int i = 1;
	if (argc > 1 && is_help(argv[1])) {
		usage(stdout);
		return 0;
	}
	if (argc > 1 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-version") || !strcmp(argv[1], "version"))) {
		printf("ember %s (revision %s)\n", EMBER_VERSION, EMBER_REVISION);
		return 0;
	}
	if (argc > 1 && argv[1][0] != '-') {
		if (strcmp(argv[1], "server") != 0) {
			fprintf(stderr, "ember: unknown command %s (see ember --help)\n", argv[1]);
			return 2;
		}
		i = 2;
	}
	for (int k = i; k < argc; k++) {
		if (is_help(argv[k])) {
			usage(stdout);
			return 0;
		}
	}
	return server_main(argc - i, argv + i);
}

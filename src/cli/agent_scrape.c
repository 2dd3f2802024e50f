/* ember agent --scrape: flag parsing and signal handling around scrape_run. */
#include <signal.h>

#include "agent/scrape.h"
#include "cli/agent_scrape.h"
#include "util/log.h"
#include "util/common.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: ember agent --scrape URL[,URL...] [flags]\n"
		   "Pulls Go net/http/pprof endpoints (CPU, heap, goroutine, mutex, block) every\n"
		   "interval and pushes them to the server (cumulative ones as deltas).\n"
		   "  --scrape URL[,URL...]     targets, e.g. http://127.0.0.1:6060\n"
		   "  --server URL              server to push to (default http://127.0.0.1:4040)\n"
		   "  --scrape-service NAME     service_name label (default: the host name)\n"
		   "  --scrape-interval SECONDS scrape period and CPU profile length (default 15)\n"
		   "  --tenant ID               X-Scope-OrgID to send\n"
		   "  --rounds N                stop after N rounds (default: run until a signal)\n");
}

int agent_scrape_main(int argc, char **argv)
{
	struct scrape_opts o = {.server_url = "http://127.0.0.1:4040"};
	char *list = NULL;
	const char **targets = NULL;
	size_t n = 0, cap = 0;
	int code = 2;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			code = 0;
			goto out;
		}
		if (strncmp(a, "--", 2) != 0 || i + 1 >= argc) {
			fprintf(stderr, "ember agent: bad argument %s\n", a);
			usage(stderr);
			goto out;
		}
		const char *v = argv[++i];
		if (strcmp(a, "--scrape") == 0) {
			free(list);
			list = xstrdup(v);
		} else if (strcmp(a, "--server") == 0) {
			o.server_url = v;
		} else if (strcmp(a, "--scrape-service") == 0) {
			o.service_name = v;
		} else if (strcmp(a, "--scrape-interval") == 0) {
			o.interval_s = atoi(v);
			if (o.interval_s <= 0 || o.interval_s > 3600) {
				fprintf(stderr, "ember agent: --scrape-interval must be 1..3600\n");
				goto out;
			}
		} else if (strcmp(a, "--tenant") == 0) {
			o.tenant = v;
		} else if (strcmp(a, "--rounds") == 0) {
			o.max_rounds = atoi(v);
		} else {
			fprintf(stderr, "ember agent: unknown flag %s\n", a);
			goto out;
		}
	}
	if (!list) {
		fprintf(stderr, "ember agent: --scrape URL[,URL...] is required\n");
		goto out;
	}
	for (char *p = list; p && *p;) {
		char *c = strchr(p, ',');
		if (c)
			*c = '\0';
		if (*p) {
			XGROW(targets, cap, n + 1);
			targets[n++] = p;
		}
		p = c ? c + 1 : NULL;
	}
	o.targets = targets;
	o.n_targets = n;
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	int rc = scrape_run(&o, &stop_flag);
	if (rc < 0) {
		fprintf(stderr, "ember agent: %s\n", ember_strerror(rc));
		goto out;
	}
	code = 0;
out:
	free(targets);
	free(list);
	return code;
}

/* agent.c: `ember agent` (agent.h): flags, the collect loop, per-process labels. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/agent_metrics.h"
#include "agent/metrics_http.h"
#include "cli/agent_scrape.h"
#include "agent/procinfo.h"
#include "agent/profile.h"
#include "agent/pusher.h"
#include "agent/report.h"
#include "agent/symbolize.h"
#include "util/log.h"
#include "util/common.h"

struct agent_flags {
	const char *server, *tenant, *cgroup, *comm_re;
	const char *metrics_address;
	int metrics_port; /* -1: no metrics server */
	unsigned sample_rate;
	uint64_t interval_ms, duration_ms;
	uint32_t pid;
	bool offcpu, label_pid, label_comm, check, no_dwarf;
	const char **extra; /* name, value pairs */
	size_t n_extra;
	size_t max_queue_bytes;
	enum log_level level;
};

/* One known process: its labels are captured when first seen, so that a process that
 * exits before the collect still gets its service name. */
struct proc {
	uint32_t tgid;
	char comm[PROFILE_COMM_LEN + 1];
	char service[160];
	uint64_t last_seen; /* collect number */
	struct proc *next;
};

#define PROC_BUCKETS 4096

struct agent {
	struct agent_flags f;
	struct profiler *prof;
	struct symbolizer *sym;
	struct pusher *push;
	pcre2_code *re;
	pcre2_match_data *md;
	struct proc *procs[PROC_BUCKETS];
	size_t n_procs;
	uint64_t collects;
	struct report *rep;
	uint64_t filtered; /* aggregates dropped by --comm */
	uint64_t total_dropped_reported;
	struct agent_stats st;     /* cumulative, published to the metrics */
	struct agent_metrics *am;  /* NULL without --metrics-port */
	struct metrics_http *mh;
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

int agent_parse_duration(const char *s, uint64_t *ms)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno || !(v > 0))
		return EMBER_EINVAL;
	double mult;
	if (!*end || !strcmp(end, "s"))
		mult = 1000;
	else if (!strcmp(end, "ms"))
		mult = 1;
	else if (!strcmp(end, "m"))
		mult = 60000;
	else if (!strcmp(end, "h"))
		mult = 3600000;
	else
		return EMBER_EINVAL;
	double r = v * mult;
	if (r < 1 || r > 86400000.0)
		return EMBER_EINVAL;
	*ms = (uint64_t)r;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: ember agent [flags]\n\n"
		"Profiles every process on this machine with eBPF (CPU samples of user and kernel stacks,\n"
		"optionally off-CPU time) and pushes the profiles to an Ember or Pyroscope server\n"
		"(/push.v1.PusherService/Push). Needs root (or CAP_BPF + CAP_PERFMON) and a kernel with BTF.\n"
		"Native code is unwound with frame pointers (build with -fno-omit-frame-pointer).\n\n"
		"Flags (--flag=value or --flag value):\n"
		"  --server URL            server to push to (default http://127.0.0.1:4040)\n"
		"  --tenant ID             X-Scope-OrgID header (multi-tenant servers)\n"
		"  --sample-rate HZ        CPU samples per second per CPU (default 97)\n"
		"  --collect-interval DUR  how often maps are drained and pushed: 15s, 2s, 500ms (default 15s)\n"
		"  --off-cpu               also record off-CPU (blocked) time from sched_switch, as the\n"
		"                          profile type off_cpu:off_cpu:nanoseconds::\n"
		"  --pid PID               only this process (default: every process)\n"
		"  --cgroup PATH           only tasks under this cgroup v2 directory (absolute /sys/fs/cgroup/...\n"
		"                          path, or relative to the cgroup2 mount)\n"
		"  --comm REGEX            only processes whose comm matches this PCRE2 regex\n"
		"  --labels-pid            add a pid label (one series per process)\n"
		"  --labels-comm           add a comm label (one series per command name)\n"
		"  --label K=V             an extra label on every series (repeatable)\n"
		"  --max-queue-mb N        bound of the in-memory queue while the server is unreachable, in MiB\n"
		"                          (fractions allowed); the oldest requests are dropped (and counted)\n"
		"                          beyond it (default 64)\n"
		"  --metrics-port PORT     serve the agent's counters as Prometheus metrics on GET /metrics\n"
		"                          (ember_agent_*: samples, lost samples, map overflows, pushes, queue,\n"
		"                          symbolisation); default: no metrics server\n"
		"  --metrics-address ADDR  address of the metrics server (default 127.0.0.1)\n"
		"  --no-dwarf              symbolise from ELF symbol tables only (no file:line, inlines)\n"
		"  --duration DUR          stop after this long (default: until SIGINT/SIGTERM)\n"
		"  --log.level LEVEL       debug, info, warn or error (default info)\n"
		"  --check                 say whether the agent can run here (exit 0) or what is missing (exit 1)\n"
		"  --help                  this help\n\n"
		"Pull mode (no BPF needed): --scrape URL[,URL...] scrapes Go net/http/pprof endpoints\n"
		"(profile, heap, goroutine, mutex, block) every --scrape-interval (default 15s), turns\n"
		"cumulative profiles into deltas and pushes them with service_name from --scrape-service\n"
		"(default: the host name); --server, --tenant as above. Same as `ember scrape`.\n\n"
		"Series: __name__=process_cpu (cpu:nanoseconds, period 1e9/rate ns) and, with --off-cpu,\n"
		"__name__=off_cpu; service_name is the systemd unit or container of the process (from\n"
		"/proc/<pid>/cgroup), else its comm. Counters of lost samples are logged at every collect\n"
		"(and served on /metrics with --metrics-port).\n");
}

/* --name=value or --name value; single dash accepted. *v is NULL for a flag without one. */
static bool match_flag(int argc, char **argv, int *i, const char *name, bool has_value, const char **v,
		       bool *missing)
{
	const char *a = argv[*i];
	if (a[0] != '-')
		return false;
	a += a[1] == '-' ? 2 : 1;
	size_t n = strlen(name);
	if (strncmp(a, name, n) != 0)
		return false;
	if (a[n] == '=') {
		if (!has_value)
			return false;
		*v = a + n + 1;
		return true;
	}
	if (a[n] != 0)
		return false;
	if (!has_value) {
		*v = NULL;
		return true;
	}
	if (*i + 1 >= argc) {
		*missing = true;
		return true;
	}
	*v = argv[++*i];
	return true;
}

static int parse_flags(int argc, char **argv, struct agent_flags *f)
{
	memset(f, 0, sizeof(*f));
	f->server = "http://127.0.0.1:4040";
	f->sample_rate = 97;
	f->interval_ms = 15000;
	f->max_queue_bytes = (size_t)64 << 20;
	f->metrics_port = -1;
	f->metrics_address = "127.0.0.1";
	f->level = LOG_INFO;
	for (int i = 0; i < argc; i++) {
		const char *v = NULL;
		bool miss = false;
#define VAL(name) match_flag(argc, argv, &i, name, true, &v, &miss)
#define BOOL(name) match_flag(argc, argv, &i, name, false, &v, &miss)
		if (BOOL("help") || BOOL("h")) {
			usage(stdout);
			return 1;
		} else if (VAL("server")) {
			f->server = v;
		} else if (VAL("tenant")) {
			f->tenant = v;
		} else if (VAL("sample-rate")) {
			char *end;
			unsigned long r = v ? strtoul(v, &end, 10) : 0;
			if (!v || *end || r < 1 || r > 10000) {
				fprintf(stderr, "ember agent: --sample-rate wants 1..10000 Hz, got \"%s\"\n", v ? v : "");
				return 2;
			}
			f->sample_rate = (unsigned)r;
		} else if (VAL("collect-interval")) {
			if (!v || agent_parse_duration(v, &f->interval_ms) || f->interval_ms < 100) {
				fprintf(stderr, "ember agent: --collect-interval wants a duration >= 100ms such as 15s, got \"%s\"\n",
					v ? v : "");
				return 2;
			}
		} else if (VAL("duration")) {
			if (!v || agent_parse_duration(v, &f->duration_ms)) {
				fprintf(stderr, "ember agent: --duration wants a duration such as 30s, got \"%s\"\n", v ? v : "");
				return 2;
			}
		} else if (BOOL("off-cpu")) {
			f->offcpu = true;
		} else if (VAL("pid")) {
			char *end;
			unsigned long p = v ? strtoul(v, &end, 10) : 0;
			if (!v || *end || p < 1 || p > 0x3fffffff) {
				fprintf(stderr, "ember agent: --pid wants a process id, got \"%s\"\n", v ? v : "");
				return 2;
			}
			f->pid = (uint32_t)p;
		} else if (VAL("cgroup")) {
			f->cgroup = v;
		} else if (VAL("comm")) {
			f->comm_re = v;
		} else if (BOOL("labels-pid")) {
			f->label_pid = true;
		} else if (BOOL("labels-comm")) {
			f->label_comm = true;
		} else if (VAL("label")) {
			const char *eq = v ? strchr(v, '=') : NULL;
			if (!eq || eq == v) {
				fprintf(stderr, "ember agent: --label wants name=value, got \"%s\"\n", v ? v : "");
				return 2;
			}
			f->extra = xrealloc(f->extra, (f->n_extra + 1) * 2 * sizeof(*f->extra));
			f->extra[2 * f->n_extra] = xstrndup(v, (size_t)(eq - v));
			f->extra[2 * f->n_extra + 1] = xstrdup(eq + 1);
			f->n_extra++;
		} else if (VAL("max-queue-mb")) {
			char *end;
			errno = 0;
			double m = v ? strtod(v, &end) : 0;
			/* fractions of a MiB: tests bound the queue to a few KiB */
			if (!v || end == v || *end || errno || !(m >= 0.001 && m <= 65536)) {
				fprintf(stderr, "ember agent: --max-queue-mb wants 0.001..65536 (MiB), got \"%s\"\n",
					v ? v : "");
				return 2;
			}
			f->max_queue_bytes = (size_t)(m * 1048576.0);
		} else if (VAL("metrics-port")) {
			char *end;
			unsigned long port = v ? strtoul(v, &end, 10) : 0;
			if (!v || !*v || *end || port > 65535) {
				fprintf(stderr, "ember agent: --metrics-port wants 0..65535, got \"%s\"\n", v ? v : "");
				return 2;
			}
			f->metrics_port = (int)port;
		} else if (VAL("metrics-address")) {
			f->metrics_address = v;
		} else if (BOOL("no-dwarf")) {
			f->no_dwarf = true;
		} else if (VAL("log.level") || VAL("log-level")) {
			if (!v || log_parse_level(v, &f->level)) {
				fprintf(stderr, "ember agent: --log.level wants debug, info, warn or error\n");
				return 2;
			}
		} else if (BOOL("check")) {
			f->check = true;
		} else {
			fprintf(stderr, "ember agent: unknown flag %s (see ember agent --help)\n", argv[i]);
			return 2;
		}
		if (miss) {
			fprintf(stderr, "ember agent: %s needs a value\n", argv[i]);
			return 2;
		}
#undef VAL
#undef BOOL
	}
	return 0;
}

static struct proc *proc_find(struct agent *a, uint32_t tgid)
{
	for (struct proc *p = a->procs[tgid % PROC_BUCKETS]; p; p = p->next)
		if (p->tgid == tgid)
			return p;
	return NULL;
}

/* Captures a process's mappings and labels on first sight (and after an exec, seen as a
 * new comm). */
static struct proc *proc_see(struct agent *a, uint32_t tgid, const char *comm)
{
	struct proc *p = proc_find(a, tgid);
	if (!p) {
		p = xcalloc(1, sizeof(*p));
		p->tgid = tgid;
		p->next = a->procs[tgid % PROC_BUCKETS];
		a->procs[tgid % PROC_BUCKETS] = p;
		a->n_procs++;
	} else if (!comm || !strcmp(p->comm, comm)) {
		p->last_seen = a->collects;
		return p;
	}
	char cur[PROFILE_COMM_LEN + 1] = "";
	if (!comm) {
		/* from the live maps: read the comm now */
		char path[64];
		snprintf(path, sizeof(path), "/proc/%u/comm", tgid);
		FILE *f = fopen(path, "r");
		if (f) {
			if (fgets(cur, sizeof(cur), f))
				cur[strcspn(cur, "\n")] = 0;
			fclose(f);
		}
		comm = cur;
	}
	snprintf(p->comm, sizeof(p->comm), "%s", comm);
	int rc = symbolizer_snapshot_pid(a->sym, (int)tgid);
	if (rc && rc != EMBER_ENOTFOUND)
		log_debug("msg=\"cannot snapshot process mappings\" pid=%u error=\"%s\"", tgid, ember_strerror(rc));
	procinfo_service_name(NULL, (int)tgid, comm, p->service, sizeof(p->service));
	p->last_seen = a->collects;
	return p;
}

/* Forgets processes not seen for a few collects. */
static void procs_expire(struct agent *a)
{
	for (size_t b = 0; b < PROC_BUCKETS; b++) {
		for (struct proc **pp = &a->procs[b]; *pp;) {
			struct proc *p = *pp;
			if (a->collects - p->last_seen > 4) {
				*pp = p->next;
				symbolizer_forget_pid(a->sym, (int)p->tgid);
				free(p);
				a->n_procs--;
			} else {
				pp = &p->next;
			}
		}
	}
}

static void on_sample(void *ctx, const struct profiler_sample *s)
{
	struct agent *a = ctx;
	if (a->re && pcre2_match(a->re, (PCRE2_SPTR)s->comm, strlen(s->comm), 0, 0, a->md, NULL) < 0) {
		a->filtered++;
		return;
	}
	struct proc *p = proc_see(a, s->tgid, s->comm);
	report_add(a->rep, s, p->service);
}

static int64_t now_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void collect(struct agent *a, int64_t start_ns, int64_t end_ns)
{
	struct report_opts ro = {.sample_rate = a->f.sample_rate,
				 .label_pid = a->f.label_pid,
				 .label_comm = a->f.label_comm,
				 .extra = a->f.extra,
				 .n_extra = a->f.n_extra};
	a->rep = report_new(&ro, a->sym);
	a->collects++;
	int64_t t0 = now_ns(CLOCK_MONOTONIC);
	int rc = profiler_drain(a->prof, on_sample, a);
	if (rc)
		log_error("msg=\"draining the BPF maps failed\" error=\"%s\"", ember_strerror(rc));
	uint8_t *body;
	size_t n;
	struct report_stats rs;
	report_finish(a->rep, start_ns, end_ns - start_ns, &body, &n, &rs);
	report_free(a->rep);
	a->rep = NULL;
	if (body)
		pusher_enqueue(a->push, body, n);
	procs_expire(a);
	a->st.series += rs.series;
	a->st.aggregates += rs.samples;
	a->st.frames += rs.frames;
	a->st.unknown_frames += rs.unknown_frames;
	a->st.lost_stacks += rs.lost_stacks;
	a->st.bytes_built += n;

	struct profiler_stats ps;
	struct pusher_stats us;
	profiler_get_stats(a->prof, &ps);
	pusher_get_stats(a->push, &us);
	uint64_t lost = ps.count_map_full + ps.start_map_full + ps.stack_errors + ps.stacks_lost + ps.prog_misses;
	log_write(lost > a->total_dropped_reported ? LOG_WARN : LOG_INFO,
		  "msg=\"collected\" series=%llu aggregates=%llu frames=%llu unknown_frames=%llu bytes=%zu "
		  "collect_ms=%.1f samples_total=%llu offcpu_events_total=%llu count_map_full=%llu "
		  "start_map_full=%llu stack_errors=%llu stacks_lost=%llu prog_misses=%llu comm_filtered=%llu "
		  "pushed=%llu push_retries=%llu push_rejected=%llu push_dropped_full=%llu queued=%llu processes=%zu",
		  (unsigned long long)rs.series, (unsigned long long)rs.samples, (unsigned long long)rs.frames,
		  (unsigned long long)rs.unknown_frames, n, (double)(now_ns(CLOCK_MONOTONIC) - t0) / 1e6,
		  (unsigned long long)ps.samples, (unsigned long long)ps.offcpu_events,
		  (unsigned long long)ps.count_map_full, (unsigned long long)ps.start_map_full,
		  (unsigned long long)ps.stack_errors, (unsigned long long)ps.stacks_lost,
		  (unsigned long long)ps.prog_misses, (unsigned long long)a->filtered, (unsigned long long)us.sent,
		  (unsigned long long)us.retries, (unsigned long long)us.rejected, (unsigned long long)us.dropped_full,
		  (unsigned long long)us.queued, a->n_procs);
	a->total_dropped_reported = lost;
}

/* Hands the counters to the metrics server's thread (the profiler, symbolizer and proc
 * table are the collect loop's alone). */
static void publish(struct agent *a)
{
	if (!a->am)
		return;
	profiler_get_stats(a->prof, &a->st.prof);
	symbolizer_get_stats(a->sym, &a->st.sym);
	a->st.collects = a->collects;
	a->st.comm_filtered = a->filtered;
	a->st.processes = a->n_procs;
	agent_metrics_publish(a->am, &a->st);
}

/* Between collects: capture the mappings of processes as soon as they show up in the
 * live maps, so that short-lived ones still get names. */
static void scan_new(struct agent *a)
{
	uint32_t *t = NULL;
	size_t n = 0, cap = 0;
	if (profiler_live_tgids(a->prof, &t, &n, &cap) == 0)
		for (size_t i = 0; i < n; i++)
			if (!proc_find(a, t[i]))
				(void)proc_see(a, t[i], NULL);
	free(t);
}

int agent_main(int argc, char **argv)
{
	/* Pull mode (--scrape) is its own loop: it scrapes Go pprof endpoints, needs no BPF. */
	for (int i = 0; i < argc; i++)
		if (!strncmp(argv[i], "--scrape", 8) && (argv[i][8] == '\0' || argv[i][8] == '='))
			return agent_scrape_main(argc, argv);
	struct agent *a = xcalloc(1, sizeof(*a));
	int rc = parse_flags(argc, argv, &a->f);
	char err[512];
	if (rc) {
		rc = rc == 1 ? 0 : 2;
		goto out;
	}
	log_set_level(a->f.level);
	rc = 1;
	if (a->f.check) {
		struct profiler_opts po = {.sample_rate = a->f.sample_rate, .offcpu = a->f.offcpu};
		struct profiler *p = NULL;
		if (profiler_open(&po, &p, err, sizeof(err))) {
			fprintf(stderr, "ember agent: cannot profile this machine: %s\n", err);
			goto out;
		}
		profiler_free(p);
		printf("ember agent: ok, this machine can be profiled (BPF program loaded and attached)\n");
		rc = 0;
		goto out;
	}
	if (a->f.comm_re) {
		int ec;
		PCRE2_SIZE off;
		a->re = pcre2_compile((PCRE2_SPTR)a->f.comm_re, PCRE2_ZERO_TERMINATED, 0, &ec, &off, NULL);
		if (!a->re) {
			PCRE2_UCHAR msg[256];
			pcre2_get_error_message(ec, msg, sizeof(msg));
			fprintf(stderr, "ember agent: --comm: invalid regex at %zu: %s\n", (size_t)off, (char *)msg);
			rc = 2;
			goto out;
		}
		a->md = pcre2_match_data_create_from_pattern(a->re, NULL);
	}
	struct pusher_opts uo = {.url = a->f.server, .tenant = a->f.tenant, .max_queue_bytes = a->f.max_queue_bytes};
	a->push = pusher_new(&uo, err, sizeof(err));
	if (!a->push) {
		fprintf(stderr, "ember agent: %s\n", err);
		rc = 2;
		goto out;
	}
	struct profiler_opts po = {.sample_rate = a->f.sample_rate,
				   .offcpu = a->f.offcpu,
				   .pid = a->f.pid,
				   .cgroup_path = a->f.cgroup};
	if (profiler_open(&po, &a->prof, err, sizeof(err))) {
		fprintf(stderr, "ember agent: cannot profile this machine: %s\n", err);
		goto out;
	}
	struct symbolizer_opts so = {.no_dwarf = a->f.no_dwarf};
	a->sym = symbolizer_new(&so);
	if (a->f.metrics_port >= 0) {
		a->am = agent_metrics_new(a->push, a->f.max_queue_bytes);
		publish(a);
		rc = metrics_http_start(a->f.metrics_address, a->f.metrics_port, agent_metrics_registry(a->am), &a->mh);
		if (rc) {
			fprintf(stderr, "ember agent: cannot serve metrics on %s:%d: %s\n", a->f.metrics_address,
				a->f.metrics_port, ember_strerror(rc));
			rc = 1;
			goto out;
		}
		rc = 1;
		log_info("msg=\"serving metrics\" url=http://%s:%d/metrics", a->f.metrics_address,
			 metrics_http_port(a->mh));
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	log_info("msg=\"agent started\" server=%s sample_rate_hz=%u collect_interval_ms=%llu off_cpu=%s pid=%u "
		 "cgroup=\"%s\" comm=\"%s\"",
		 a->f.server, a->f.sample_rate, (unsigned long long)a->f.interval_ms, a->f.offcpu ? "true" : "false",
		 a->f.pid, a->f.cgroup ? a->f.cgroup : "", a->f.comm_re ? a->f.comm_re : "");
	int64_t started = now_ns(CLOCK_MONOTONIC);
	int64_t window_start = now_ns(CLOCK_REALTIME);
	int64_t next = started + (int64_t)a->f.interval_ms * 1000000;
	int64_t end = a->f.duration_ms ? started + (int64_t)a->f.duration_ms * 1000000 : INT64_MAX;
	while (!stop_flag) {
		int64_t t = now_ns(CLOCK_MONOTONIC);
		if (t >= end)
			break;
		if (t >= next) {
			int64_t w = now_ns(CLOCK_REALTIME);
			collect(a, window_start, w);
			publish(a);
			window_start = w;
			next += (int64_t)a->f.interval_ms * 1000000;
			if (next <= t)
				next = t + (int64_t)a->f.interval_ms * 1000000;
			continue;
		}
		scan_new(a);
		publish(a);
		int64_t wait = EMBER_MIN(EMBER_MIN(next, end) - t, (int64_t)1000000000);
		struct timespec ts = {.tv_sec = wait / 1000000000, .tv_nsec = wait % 1000000000};
		nanosleep(&ts, NULL);
	}
	/* The last partial window, then a bounded wait for the queue. */
	collect(a, window_start, now_ns(CLOCK_REALTIME));
	publish(a);
	if (!pusher_flush(a->push, 5000))
		log_warn("msg=\"stopping with requests still queued (server unreachable?)\"");
	log_info("msg=\"agent stopped\"");
	rc = 0;
out:
	metrics_http_stop(a->mh); /* before what its callbacks read */
	agent_metrics_free(a->am);
	profiler_free(a->prof);
	pusher_free(a->push);
	symbolizer_free(a->sym);
	if (a->md)
		pcre2_match_data_free(a->md);
	if (a->re)
		pcre2_code_free(a->re);
	for (size_t b = 0; b < PROC_BUCKETS; b++)
		for (struct proc *p = a->procs[b], *nx; p; p = nx) {
			nx = p->next;
			free(p);
		}
	for (size_t i = 0; i < 2 * a->f.n_extra; i++)
		free((void *)a->f.extra[i]);
	free(a->f.extra);
	free(a);
	return rc;
}

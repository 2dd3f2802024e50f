/* profile.c: loads profile.bpf.c (through its libbpf skeleton), attaches it, and drains
 * its double-buffered count maps. Without BPF support at build time every entry point
 * says what was missing. Design: docs/internals/agent.md. */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "agent/profile.h"
#include "util/common.h"

#ifndef EMBER_HAVE_BPF

#ifndef EMBER_BPF_MISSING
#define EMBER_BPF_MISSING "unknown reason"
#endif

int profiler_check(char *err, size_t errlen)
{
	snprintf(err, errlen,
		 "this ember was built without BPF support (%s); install bpftool, libbpf-dev and clang "
		 "on a machine whose kernel has BTF, then rebuild",
		 EMBER_BPF_MISSING);
	return EMBER_EUNSUP;
}

int profiler_open(const struct profiler_opts *opts, struct profiler **out, char *err, size_t errlen)
{
	(void)opts;
	*out = NULL;
	return profiler_check(err, errlen);
}

int profiler_drain(struct profiler *p, void (*cb)(void *ctx, const struct profiler_sample *s), void *ctx)
{
	(void)p, (void)cb, (void)ctx;
	return EMBER_EUNSUP;
}

int profiler_live_tgids(struct profiler *p, uint32_t **tgids, size_t *n, size_t *cap)
{
	(void)p, (void)tgids, (void)n, (void)cap;
	return EMBER_EUNSUP;
}

void profiler_get_stats(struct profiler *p, struct profiler_stats *out)
{
	(void)p;
	memset(out, 0, sizeof(*out));
}

void profiler_free(struct profiler *p)
{
	(void)p;
}

#else /* EMBER_HAVE_BPF */

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>

#include "profile.skel.h"
#include "util/log.h"

/* A stack kept past the clearing of its map because a blocked thread refers to it. */
struct saved_stack {
	uint32_t gen, id;
	uint32_t n;
	uint64_t ips[PROFILE_MAX_STACK_DEPTH];
};

struct profiler {
	struct profile_bpf *skel;
	struct bpf_link **links; /* one per CPU */
	int *pfds;
	int n_cpus;
	uint32_t gen;
	struct saved_stack *saved; /* sorted by (gen, id) */
	size_t n_saved, cap_saved;
	uint64_t stacks_lost, drains;
	/* scratch for a drain */
	struct profile_key *keys;
	uint64_t *vals;
	size_t cap_keys;
};

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[1024];
	vsnprintf(line, sizeof(line), fmt, ap);
	size_t n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = 0;
	for (size_t i = 0; i < n; i++)
		if (line[i] == '"')
			line[i] = '\'';
	/* libbpf's own debug level narrates every ELF section: left out. */
	if (level == LIBBPF_WARN)
		log_warn("msg=\"%s\"", line);
	else if (level == LIBBPF_INFO)
		log_debug("msg=\"%s\"", line);
	return 0;
}

/* The effective capability set, from /proc/self/status (no libcap needed). */
static uint64_t cap_effective(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long caps = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &caps) == 1)
			break;
	fclose(f);
	return caps;
}

int profiler_check(char *err, size_t errlen)
{
	const uint64_t sys_admin = 1ull << 21, perfmon = 1ull << 38, bpf = 1ull << 39;
	uint64_t caps = cap_effective();
	if (!(caps & sys_admin) && !((caps & bpf) && (caps & perfmon))) {
		snprintf(err, errlen,
			 "the agent needs root (CAP_SYS_ADMIN) or CAP_BPF and CAP_PERFMON to load BPF programs "
			 "and open perf events; running as uid %d with effective capabilities %#llx",
			 (int)geteuid(), (unsigned long long)caps);
		return EMBER_EAUTH;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
		snprintf(err, errlen,
			 "the kernel has no BTF (/sys/kernel/btf/vmlinux: %s): CO-RE programs need a kernel "
			 "built with CONFIG_DEBUG_INFO_BTF=y",
			 strerror(errno));
		return EMBER_EUNSUP;
	}
	return 0;
}

/* Parses a CPU list such as "0-3,6" (/sys/devices/system/cpu/online) into online[]. */
static int online_cpus(bool **online, int *n)
{
	char text[4096];
	FILE *f = fopen("/sys/devices/system/cpu/online", "r");
	if (!f)
		return EMBER_EIO;
	size_t len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = 0;
	*n = 0;
	*online = NULL;
	size_t cap = 0;
	for (char *s = text; *s && *s != '\n';) {
		char *end;
		long a = strtol(s, &end, 10), b = a;
		if (end == s || a < 0 || a > 65535)
			return EMBER_EINVAL;
		s = end;
		if (*s == '-') {
			b = strtol(s + 1, &end, 10);
			if (end == s + 1 || b < a || b > 65535)
				return EMBER_EINVAL;
			s = end;
		}
		if (*s == ',')
			s++;
		XGROW(*online, cap, (size_t)b + 1);
		for (long c = *n; c < a; c++)
			(*online)[c] = false;
		for (long c = a; c <= b; c++)
			(*online)[c] = true;
		if (b + 1 > *n)
			*n = (int)b + 1;
	}
	return *n ? 0 : EMBER_EINVAL;
}

static int open_cgroup(struct profile_bpf *skel, const char *path, char *err, size_t errlen)
{
	char full[4096];
	if (path[0] == '/' && !strncmp(path, "/sys/fs/cgroup", 14)) {
		snprintf(full, sizeof(full), "%s", path);
	} else {
		/* relative to the cgroup v2 mount */
		FILE *f = fopen("/proc/mounts", "r");
		char dev[256], mnt[1024], type[64];
		bool found = false;
		while (f && fscanf(f, "%255s %1023s %63s %*[^\n]", dev, mnt, type) == 3) {
			if (!strcmp(type, "cgroup2")) {
				found = true;
				break;
			}
		}
		if (f)
			fclose(f);
		if (!found) {
			snprintf(err, errlen, "--cgroup: no cgroup v2 hierarchy is mounted");
			return EMBER_EUNSUP;
		}
		snprintf(full, sizeof(full), "%s/%s", mnt, path[0] == '/' ? path + 1 : path);
	}
	int fd = open(full, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "--cgroup: cannot open %s: %s", full, strerror(errno));
		return EMBER_ENOTFOUND;
	}
	uint32_t zero = 0;
	int rc = bpf_map_update_elem(bpf_map__fd(skel->maps.cgroup_map), &zero, &fd, BPF_ANY);
	int e = errno;
	close(fd);
	if (rc) {
		snprintf(err, errlen, "--cgroup: %s is not a cgroup v2 directory (%s)", full, strerror(e));
		return EMBER_EINVAL;
	}
	return 0;
}

int profiler_open(const struct profiler_opts *opts, struct profiler **out, char *err, size_t errlen)
{
	int rc = EMBER_EIO;
	bool *online = NULL;
	int n_online = 0;
	struct profiler *p = xcalloc(1, sizeof(*p));
	*out = NULL;
	if ((rc = profiler_check(err, errlen)))
		goto out;
	rc = EMBER_EIO;
	libbpf_set_print(libbpf_print);
	p->skel = profile_bpf__open();
	if (!p->skel) {
		snprintf(err, errlen, "opening the BPF object failed: %s", strerror(errno));
		goto out;
	}
	uint32_t max_stacks = opts->max_stacks ? opts->max_stacks : 16384;
	uint32_t max_counts = opts->max_counts ? opts->max_counts : 16384;
	bpf_map__set_max_entries(p->skel->maps.stacks0, max_stacks);
	bpf_map__set_max_entries(p->skel->maps.stacks1, max_stacks);
	bpf_map__set_max_entries(p->skel->maps.cpu0, max_counts);
	bpf_map__set_max_entries(p->skel->maps.cpu1, max_counts);
	bpf_map__set_max_entries(p->skel->maps.off0, opts->offcpu ? max_counts : 1);
	bpf_map__set_max_entries(p->skel->maps.off1, opts->offcpu ? max_counts : 1);
	bpf_map__set_max_entries(p->skel->maps.offcpu_start, opts->offcpu ? 65536 : 1);
	p->skel->rodata->targ_tgid = opts->pid;
	p->skel->rodata->filter_cgroup = opts->cgroup_path != NULL;
	p->skel->rodata->offcpu_enabled = opts->offcpu;
	bpf_program__set_autoload(p->skel->progs.do_switch, opts->offcpu);
	if (profile_bpf__load(p->skel)) {
		int e = errno;
		snprintf(err, errlen, "loading the BPF program failed: %s%s", strerror(e),
			 e == EPERM ? " (bpf() refused: needs root or CAP_BPF+CAP_PERFMON; check "
				      "kernel.unprivileged_bpf_disabled and lockdown)"
				    : " (run with --log.level=debug for the verifier's log)");
		goto out;
	}
	if (opts->cgroup_path && (rc = open_cgroup(p->skel, opts->cgroup_path, err, errlen)))
		goto out;
	rc = EMBER_EIO;
	if (online_cpus(&online, &n_online)) {
		snprintf(err, errlen, "cannot read /sys/devices/system/cpu/online");
		goto out;
	}
	p->links = xcalloc((size_t)n_online, sizeof(*p->links));
	p->pfds = xcalloc((size_t)n_online, sizeof(*p->pfds));
	p->n_cpus = n_online;
	unsigned rate = opts->sample_rate ? opts->sample_rate : 97;
	for (int cpu = 0; cpu < n_online; cpu++) {
		p->pfds[cpu] = -1;
		if (!online[cpu])
			continue;
		struct perf_event_attr attr = {
			.type = PERF_TYPE_SOFTWARE,
			.size = sizeof(attr),
			.config = PERF_COUNT_SW_CPU_CLOCK,
			/* the CPU clock's period is in nanoseconds */
			.sample_period = 1000000000ull / rate,
		};
		int fd = (int)syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
		if (fd < 0) {
			int e = errno;
			if (e == ENODEV) /* went offline meanwhile */
				continue;
			snprintf(err, errlen, "perf_event_open(cpu-clock, cpu %d) failed: %s%s", cpu, strerror(e),
				 e == EACCES || e == EPERM ? " (needs root or CAP_PERFMON; see "
							     "/proc/sys/kernel/perf_event_paranoid)"
							   : "");
			goto out;
		}
		p->pfds[cpu] = fd;
		p->links[cpu] = bpf_program__attach_perf_event(p->skel->progs.do_sample, fd);
		if (!p->links[cpu]) {
			snprintf(err, errlen, "attaching the BPF program to cpu %d failed: %s", cpu, strerror(errno));
			goto out;
		}
	}
	if (opts->offcpu) {
		p->skel->links.do_switch = bpf_program__attach(p->skel->progs.do_switch);
		if (!p->skel->links.do_switch) {
			snprintf(err, errlen, "attaching to sched_switch (tp_btf) failed: %s", strerror(errno));
			goto out;
		}
	}
	*out = p;
	p = NULL;
	rc = 0;
out:
	free(online);
	profiler_free(p);
	return rc;
}

static int saved_cmp(const void *a, const void *b)
{
	const struct saved_stack *x = a, *y = b;
	if (x->gen != y->gen)
		return x->gen < y->gen ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static const struct saved_stack *saved_find(const struct profiler *p, uint32_t gen, uint32_t id)
{
	struct saved_stack k = {.gen = gen, .id = id};
	if (!p->n_saved)
		return NULL;
	return bsearch(&k, p->saved, p->n_saved, sizeof(*p->saved), saved_cmp);
}

static uint32_t stack_len(const uint64_t *ips)
{
	uint32_t n = 0;
	while (n < PROFILE_MAX_STACK_DEPTH && ips[n])
		n++;
	return n;
}

/* Reads stack id of generation gen: from the map when gen is the drained one, else from
 * the saved copies. Returns false when it is gone. */
static bool get_stack(struct profiler *p, int map_fd, uint32_t drained_gen, uint32_t gen, int32_t id,
		      uint64_t *ips, uint32_t *n)
{
	*n = 0;
	if (id < 0)
		return true;
	if (gen == drained_gen) {
		uint32_t k = (uint32_t)id;
		if (bpf_map_lookup_elem(map_fd, &k, ips))
			return false;
		*n = stack_len(ips);
		return true;
	}
	const struct saved_stack *s = saved_find(p, gen, (uint32_t)id);
	if (!s)
		return false;
	memcpy(ips, s->ips, s->n * sizeof(uint64_t));
	*n = s->n;
	return true;
}

/* Reads every key and value of a hash map into p->keys/p->vals, then deletes them. */
static size_t read_and_clear(struct profiler *p, int fd)
{
	size_t n = 0;
	struct profile_key key, next;
	const void *prev = NULL;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		XGROW(p->keys, p->cap_keys, n + 1);
		size_t cap = p->cap_keys;
		p->vals = xrealloc(p->vals, cap * sizeof(*p->vals));
		p->keys[n] = next;
		key = next;
		prev = &key;
		n++;
	}
	for (size_t i = 0; i < n; i++) {
		if (bpf_map_lookup_elem(fd, &p->keys[i], &p->vals[i]))
			p->vals[i] = 0;
		bpf_map_delete_elem(fd, &p->keys[i]);
	}
	return n;
}

static void emit(struct profiler *p, int stacks_fd, uint32_t drained, const struct profile_key *k, uint64_t v,
		 bool offcpu, void (*cb)(void *ctx, const struct profiler_sample *s), void *ctx)
{
	static __thread uint64_t u[PROFILE_MAX_STACK_DEPTH], kern[PROFILE_MAX_STACK_DEPTH];
	uint32_t nu = 0, nk = 0;
	struct profiler_sample s = {.tgid = k->tgid, .offcpu = offcpu, .value = v};
	memcpy(s.comm, k->comm, PROFILE_COMM_LEN);
	s.comm[PROFILE_COMM_LEN] = 0;
	bool ok = get_stack(p, stacks_fd, drained, k->stack_gen, k->user_stack_id, u, &nu);
	ok &= get_stack(p, stacks_fd, drained, k->stack_gen, k->kernel_stack_id, kern, &nk);
	if (!ok) {
		p->stacks_lost++;
		s.stack_lost = true;
	}
	s.user = u;
	s.n_user = nu;
	s.kernel = kern;
	s.n_kernel = nk;
	if (v)
		cb(ctx, &s);
}

/* Keeps copies of the stacks that blocked threads (offcpu_start) and wake-ups already
 * counted in the live buffer still refer to, before their map is cleared. */
static void save_referenced(struct profiler *p, int stacks_fd, uint32_t drained, int live_off_fd)
{
	struct saved_stack *keep = NULL;
	size_t n_keep = 0, cap_keep = 0;
	struct profile_key *refs = NULL;
	size_t n_refs = 0, cap_refs = 0;

	int start_fd = bpf_map__fd(p->skel->maps.offcpu_start);
	uint32_t tid, next_tid;
	const void *prev = NULL;
	struct profile_offcpu_start st;
	while (bpf_map_get_next_key(start_fd, prev, &next_tid) == 0) {
		tid = next_tid;
		prev = &tid;
		if (bpf_map_lookup_elem(start_fd, &tid, &st) == 0) {
			XGROW(refs, cap_refs, n_refs + 1);
			refs[n_refs++] = st.key;
		}
	}
	/* after the start map (a wake-up counts first, then deletes its start record) */
	struct profile_key k, nk;
	prev = NULL;
	while (bpf_map_get_next_key(live_off_fd, prev, &nk) == 0) {
		k = nk;
		prev = &k;
		XGROW(refs, cap_refs, n_refs + 1);
		refs[n_refs++] = k;
	}
	for (size_t i = 0; i < n_refs; i++) {
		int32_t ids[2] = {refs[i].user_stack_id, refs[i].kernel_stack_id};
		for (int j = 0; j < 2; j++) {
			if (ids[j] < 0)
				continue;
			bool dup = false;
			for (size_t q = 0; q < n_keep && !dup; q++)
				dup = keep[q].gen == refs[i].stack_gen && keep[q].id == (uint32_t)ids[j];
			if (dup)
				continue;
			XGROW(keep, cap_keep, n_keep + 1);
			struct saved_stack *s = &keep[n_keep];
			if (!get_stack(p, stacks_fd, drained, refs[i].stack_gen, ids[j], s->ips, &s->n))
				continue;
			s->gen = refs[i].stack_gen;
			s->id = (uint32_t)ids[j];
			n_keep++;
		}
	}
	free(refs);
	free(p->saved);
	p->saved = keep;
	p->n_saved = n_keep;
	p->cap_saved = cap_keep;
	if (p->n_saved)
		sort_n(p->saved, p->n_saved, sizeof(*p->saved), saved_cmp);
}

int profiler_drain(struct profiler *p, void (*cb)(void *ctx, const struct profiler_sample *s), void *ctx)
{
	uint32_t drained = p->gen;
	p->gen++;
	__atomic_store_n(&p->skel->bss->gen, p->gen, __ATOMIC_SEQ_CST);
	/* Let programs that read the old generation finish (they run for microseconds). */
	usleep(5000);

	bool odd = drained & 1;
	int stacks_fd = bpf_map__fd(odd ? p->skel->maps.stacks1 : p->skel->maps.stacks0);
	int cpu_fd = bpf_map__fd(odd ? p->skel->maps.cpu1 : p->skel->maps.cpu0);
	int off_fd = bpf_map__fd(odd ? p->skel->maps.off1 : p->skel->maps.off0);
	int live_off_fd = bpf_map__fd(odd ? p->skel->maps.off0 : p->skel->maps.off1);
	bool offcpu = p->skel->rodata->offcpu_enabled;

	size_t n = read_and_clear(p, cpu_fd);
	for (size_t i = 0; i < n; i++)
		emit(p, stacks_fd, drained, &p->keys[i], p->vals[i], false, cb, ctx);
	if (offcpu) {
		n = read_and_clear(p, off_fd);
		for (size_t i = 0; i < n; i++)
			emit(p, stacks_fd, drained, &p->keys[i], p->vals[i], true, cb, ctx);
		save_referenced(p, stacks_fd, drained, live_off_fd);
	}
	/* Clear the drained stack map for its next turn. */
	uint32_t id, next;
	const void *prev = NULL;
	size_t n_ids = 0;
	uint32_t *ids = NULL;
	size_t cap = 0;
	while (bpf_map_get_next_key(stacks_fd, prev, &next) == 0) {
		XGROW(ids, cap, n_ids + 1);
		ids[n_ids++] = next;
		id = next;
		prev = &id;
	}
	for (size_t i = 0; i < n_ids; i++)
		bpf_map_delete_elem(stacks_fd, &ids[i]);
	free(ids);
	p->drains++;
	return 0;
}

int profiler_live_tgids(struct profiler *p, uint32_t **tgids, size_t *n, size_t *cap)
{
	bool odd = p->gen & 1;
	struct bpf_map *maps[2] = {odd ? p->skel->maps.cpu1 : p->skel->maps.cpu0,
				   odd ? p->skel->maps.off1 : p->skel->maps.off0};
	for (int m = 0; m < 2; m++) {
		int fd = bpf_map__fd(maps[m]);
		struct profile_key k, nk;
		const void *prev = NULL;
		uint32_t last = 0;
		while (bpf_map_get_next_key(fd, prev, &nk) == 0) {
			k = nk;
			prev = &k;
			if (k.tgid == last)
				continue;
			last = k.tgid;
			XGROW(*tgids, *cap, *n + 1);
			(*tgids)[(*n)++] = k.tgid;
		}
	}
	return 0;
}

static uint64_t prog_misses(struct bpf_program *prog)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);
	memset(&info, 0, sizeof(info));
	int fd = bpf_program__fd(prog);
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.recursion_misses;
}

void profiler_get_stats(struct profiler *p, struct profiler_stats *out)
{
	memset(out, 0, sizeof(*out));
	const struct profile_counters *c = &p->skel->bss->counters;
	out->samples = __atomic_load_n(&c->samples, __ATOMIC_RELAXED);
	out->offcpu_events = __atomic_load_n(&c->offcpu_events, __ATOMIC_RELAXED);
	out->count_map_full = __atomic_load_n(&c->count_map_full, __ATOMIC_RELAXED);
	out->start_map_full = __atomic_load_n(&c->start_map_full, __ATOMIC_RELAXED);
	out->stack_errors = __atomic_load_n(&c->stack_errors, __ATOMIC_RELAXED);
	out->stacks_lost = p->stacks_lost;
	out->prog_misses = prog_misses(p->skel->progs.do_sample);
	if (p->skel->rodata->offcpu_enabled)
		out->prog_misses += prog_misses(p->skel->progs.do_switch);
	out->drains = p->drains;
}

void profiler_free(struct profiler *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->n_cpus; i++) {
		if (p->links && p->links[i])
			bpf_link__destroy(p->links[i]);
		if (p->pfds && p->pfds[i] >= 0)
			close(p->pfds[i]);
	}
	free(p->links);
	free(p->pfds);
	profile_bpf__destroy(p->skel);
	free(p->saved);
	free(p->keys);
	free(p->vals);
	free(p);
}

#endif /* EMBER_HAVE_BPF */

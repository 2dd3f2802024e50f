/* agent_metrics: ember_agent_* families over a published snapshot (agent_metrics.h). */
#include <pthread.h>

#include "agent/agent_metrics.h"
#include "util/common.h"

enum m_id {
	M_SAMPLES, M_OFFCPU_EVENTS, M_LOST_SAMPLES, M_COUNT_MAP_FULL, M_START_MAP_FULL, M_STACK_ERRORS,
	M_STACKS_LOST, M_PROG_MISSES, M_COMM_FILTERED, M_COLLECTS, M_SERIES, M_AGGREGATES, M_FRAMES,
	M_UNKNOWN_FRAMES, M_BYTES_BUILT, M_PROCESSES, M_SYM_PIDS, M_SYM_ELFS, M_SYM_ELF_HITS,
	M_SYM_ELF_MISSES, M_SYM_PERFMAP_HITS, M_SYM_UNKNOWN, M_PUSH_SENT, M_PUSH_BYTES, M_PUSH_FAILED,
	M_PUSH_RETRIES, M_PUSH_REJECTED, M_PUSH_DROPPED_FULL, M_PUSH_QUEUED, M_PUSH_QUEUED_BYTES,
	M_PUSH_QUEUE_MAX, M_N
};

struct m_def {
	const char *name;
	bool counter;
	const char *help;
};

static const struct m_def defs[M_N] = {
	[M_SAMPLES] = {"ember_agent_samples_total", true, "CPU samples taken by the BPF program (perf_event runs counted)."},
	[M_OFFCPU_EVENTS] = {"ember_agent_offcpu_events_total", true, "Off-CPU wake-ups accounted by the BPF program."},
	[M_LOST_SAMPLES] = {"ember_agent_lost_samples_total", true,
			    "Samples and off-CPU events lost in the kernel: count map full + off-CPU start map full + program runs the kernel skipped."},
	[M_COUNT_MAP_FULL] = {"ember_agent_count_map_full_total", true,
			      "Samples or off-CPU times dropped because the count map was full."},
	[M_START_MAP_FULL] = {"ember_agent_offcpu_start_map_full_total", true,
			      "Blocked threads not recorded because the off-CPU start map was full."},
	[M_STACK_ERRORS] = {"ember_agent_stack_errors_total", true,
			    "bpf_get_stackid failures (hash collision, stack map full); the sample is kept without that stack."},
	[M_STACKS_LOST] = {"ember_agent_stacks_lost_total", true,
			   "Aggregates whose stacks were gone at the drain (sent as the frame [lost stack])."},
	[M_PROG_MISSES] = {"ember_agent_prog_misses_total", true,
			   "BPF program runs the kernel skipped (bpf_prog_info.recursion_misses)."},
	[M_COMM_FILTERED] = {"ember_agent_comm_filtered_total", true, "Aggregates dropped by the --comm filter."},
	[M_COLLECTS] = {"ember_agent_collects_total", true, "Drains of the BPF maps (one per collect interval)."},
	[M_SERIES] = {"ember_agent_profiles_built_total", true, "Profiles (series) built, one per series and collect."},
	[M_AGGREGATES] = {"ember_agent_aggregates_total", true, "Drained aggregates (distinct stacks per collect) added to profiles."},
	[M_FRAMES] = {"ember_agent_frames_total", true, "Frames symbolised into profiles."},
	[M_UNKNOWN_FRAMES] = {"ember_agent_unknown_frames_total", true, "Frames without a symbol (sent as module+0xoffset)."},
	[M_BYTES_BUILT] = {"ember_agent_push_built_bytes_total", true, "PushRequest bytes handed to the pusher."},
	[M_PROCESSES] = {"ember_agent_processes", false, "Processes tracked (mappings and labels captured)."},
	[M_SYM_PIDS] = {"ember_agent_symbolizer_processes", false, "Processes whose mappings the symbolizer holds."},
	[M_SYM_ELFS] = {"ember_agent_symbolizer_elf_files", false, "Parsed ELF files in the symbolizer's cache."},
	[M_SYM_ELF_HITS] = {"ember_agent_symbolizer_elf_cache_hits_total", true, "ELF file lookups found in the cache."},
	[M_SYM_ELF_MISSES] = {"ember_agent_symbolizer_elf_cache_misses_total", true, "ELF file lookups that parsed the file."},
	[M_SYM_PERFMAP_HITS] = {"ember_agent_symbolizer_perfmap_hits_total", true, "Addresses named from /tmp/perf-<pid>.map (JIT code)."},
	[M_SYM_UNKNOWN] = {"ember_agent_symbolizer_unknown_total", true, "Addresses the symbolizer could not name."},
	[M_PUSH_SENT] = {"ember_agent_pushes_total", true, "Push requests the server accepted."},
	[M_PUSH_BYTES] = {"ember_agent_push_sent_bytes_total", true, "Bytes of push requests the server accepted."},
	[M_PUSH_FAILED] = {"ember_agent_push_failures_total", true,
			   "Failed push attempts: retried (network error, 408, 429, 5xx) plus rejected for good (other 4xx)."},
	[M_PUSH_RETRIES] = {"ember_agent_push_retries_total", true,
			    "Failed push attempts that are retried with backoff (network error, 408, 429, 5xx)."},
	[M_PUSH_REJECTED] = {"ember_agent_push_rejected_total", true, "Push requests the server refused for good (other 4xx); dropped."},
	[M_PUSH_DROPPED_FULL] = {"ember_agent_push_dropped_queue_full_total", true,
				 "Push requests dropped, oldest first, because the queue was full (--max-queue-mb)."},
	[M_PUSH_QUEUED] = {"ember_agent_push_queue_requests", false, "Push requests waiting in the queue."},
	[M_PUSH_QUEUED_BYTES] = {"ember_agent_push_queue_bytes", false,
				 "Bytes waiting in the queue (the request being sent is not counted)."},
	[M_PUSH_QUEUE_MAX] = {"ember_agent_push_queue_max_bytes", false, "Bound of the queue (--max-queue-mb)."},
};

struct m_ctx {
	struct agent_metrics *am;
	enum m_id id;
};

struct agent_metrics {
	struct metrics *reg;
	struct pusher *push;
	size_t max_queue_bytes;
	pthread_mutex_t mu;
	struct agent_stats st; /* guarded by mu */
	struct m_ctx ctx[M_N];
};

static double snap_value(const struct agent_stats *s, enum m_id id)
{
	switch (id) {
	case M_SAMPLES: return (double)s->prof.samples;
	case M_OFFCPU_EVENTS: return (double)s->prof.offcpu_events;
	case M_LOST_SAMPLES:
		return (double)(s->prof.count_map_full + s->prof.start_map_full + s->prof.prog_misses);
	case M_COUNT_MAP_FULL: return (double)s->prof.count_map_full;
	case M_START_MAP_FULL: return (double)s->prof.start_map_full;
	case M_STACK_ERRORS: return (double)s->prof.stack_errors;
	case M_STACKS_LOST: return (double)s->prof.stacks_lost;
	case M_PROG_MISSES: return (double)s->prof.prog_misses;
	case M_COMM_FILTERED: return (double)s->comm_filtered;
	case M_COLLECTS: return (double)s->collects;
	case M_SERIES: return (double)s->series;
	case M_AGGREGATES: return (double)s->aggregates;
	case M_FRAMES: return (double)s->frames;
	case M_UNKNOWN_FRAMES: return (double)s->unknown_frames;
	case M_BYTES_BUILT: return (double)s->bytes_built;
	case M_PROCESSES: return (double)s->processes;
	case M_SYM_PIDS: return (double)s->sym.pids;
	case M_SYM_ELFS: return (double)s->sym.elfs;
	case M_SYM_ELF_HITS: return (double)s->sym.elf_hits;
	case M_SYM_ELF_MISSES: return (double)s->sym.elf_misses;
	case M_SYM_PERFMAP_HITS: return (double)s->sym.perfmap_hits;
	case M_SYM_UNKNOWN: return (double)s->sym.unknown;
	default: return 0;
	}
}

static double read_value(void *arg)
{
	struct m_ctx *c = arg;
	struct agent_metrics *am = c->am;
	if (c->id >= M_PUSH_SENT) {
		if (c->id == M_PUSH_QUEUE_MAX)
			return (double)am->max_queue_bytes;
		struct pusher_stats u = {0};
		if (am->push)
			pusher_get_stats(am->push, &u);
		switch (c->id) {
		case M_PUSH_SENT: return (double)u.sent;
		case M_PUSH_BYTES: return (double)u.bytes_sent;
		case M_PUSH_FAILED: return (double)(u.retries + u.rejected);
		case M_PUSH_RETRIES: return (double)u.retries;
		case M_PUSH_REJECTED: return (double)u.rejected;
		case M_PUSH_DROPPED_FULL: return (double)u.dropped_full;
		case M_PUSH_QUEUED: return (double)u.queued;
		case M_PUSH_QUEUED_BYTES: return (double)u.queued_bytes;
		default: return 0;
		}
	}
	pthread_mutex_lock(&am->mu);
	double v = snap_value(&am->st, c->id);
	pthread_mutex_unlock(&am->mu);
	return v;
}

struct agent_metrics *agent_metrics_new(struct pusher *push, size_t max_queue_bytes)
{
	struct agent_metrics *am = xcalloc(1, sizeof(*am));
	am->reg = metrics_new();
	am->push = push;
	am->max_queue_bytes = max_queue_bytes;
	pthread_mutex_init(&am->mu, NULL);
	for (int i = 0; i < M_N; i++) {
		am->ctx[i] = (struct m_ctx){am, (enum m_id)i};
		if (defs[i].counter)
			metrics_counter_func(am->reg, defs[i].name, defs[i].help, read_value, &am->ctx[i]);
		else
			metrics_gauge_func(am->reg, defs[i].name, defs[i].help, read_value, &am->ctx[i]);
	}
	return am;
}

struct metrics *agent_metrics_registry(struct agent_metrics *am)
{
	return am->reg;
}

void agent_metrics_publish(struct agent_metrics *am, const struct agent_stats *st)
{
	pthread_mutex_lock(&am->mu);
	am->st = *st;
	pthread_mutex_unlock(&am->mu);
}

void agent_metrics_free(struct agent_metrics *am)
{
	if (!am)
		return;
	metrics_free(am->reg);
	pthread_mutex_destroy(&am->mu);
	free(am);
}

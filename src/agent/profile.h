/* profile: the data shared by the eBPF program (profile.bpf.c) and its user-space loader
 * (profile.c). Included from BPF code (after vmlinux.h) and from user space.
 *
 * Counts are double-buffered: the program writes into buffer `gen & 1` (gen is a global
 * the loader bumps at every collect); the loader drains the other buffer. A count key
 * names its stacks by (stack_gen, id) because an off-CPU stack is captured when a thread
 * blocks and counted when it wakes, possibly one or more generations later. Design:
 * docs/internals/agent.md. */
#ifndef EMBER_AGENT_PROFILE_H
#define EMBER_AGENT_PROFILE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define PROFILE_COMM_LEN 16
#define PROFILE_MAX_STACK_DEPTH 127 /* the kernel's PERF_MAX_STACK_DEPTH */

/* One aggregation key, for CPU samples and off-CPU time alike. */
struct profile_key {
	__u32 tgid;
	__s32 user_stack_id;   /* -1: none (kernel thread, or the stack could not be read) */
	__s32 kernel_stack_id; /* -1: none */
	__u32 stack_gen;       /* generation of the stack map the ids refer to */
	char comm[PROFILE_COMM_LEN];
};

/* Per-thread record of a thread that blocked: when and where. */
struct profile_offcpu_start {
	__u64 ts_ns;
	struct profile_key key;
};

/* Counters the program increments (in its .bss); the loader reports them. */
struct profile_counters {
	__u64 samples;          /* perf_event runs that were counted */
	__u64 count_map_full;   /* a count could not be stored: the map was full */
	__u64 stack_errors;     /* bpf_get_stackid failed (collision, map full) */
	__u64 offcpu_events;    /* wake-ups accounted */
	__u64 start_map_full;   /* a blocked thread could not be recorded */
};

/* ---- user space: the loader (profile.c) -------------------------------------------- */
#ifndef __VMLINUX_H__
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct profiler_opts {
	unsigned sample_rate;    /* Hz per CPU (CPU clock); 0 = 97 */
	bool offcpu;             /* also attach sched_switch for off-CPU time */
	uint32_t pid;            /* only this process (tgid); 0 = every process */
	const char *cgroup_path; /* only tasks under this cgroup v2 directory; NULL = any */
	uint32_t max_stacks;     /* stack map entries per buffer; 0 = 16384 */
	uint32_t max_counts;     /* count keys per buffer; 0 = 16384 */
};

/* One drained aggregate. Arrays are borrowed: valid during the callback only. */
struct profiler_sample {
	uint32_t tgid;
	char comm[PROFILE_COMM_LEN + 1]; /* NUL-terminated */
	bool offcpu;                     /* value is nanoseconds blocked; else a sample count */
	uint64_t value;
	const uint64_t *user; /* leaf first */
	size_t n_user;
	const uint64_t *kernel; /* leaf first */
	size_t n_kernel;
	bool stack_lost; /* the stack ids could not be resolved any more (counted) */
};

/* Cumulative counters since profiler_open. */
struct profiler_stats {
	uint64_t samples, offcpu_events;       /* counted in the kernel */
	uint64_t count_map_full, start_map_full, stack_errors; /* losses in the kernel */
	uint64_t stacks_lost;                  /* ids whose stacks were gone at drain */
	uint64_t prog_misses;                  /* runs the kernel skipped (recursion) */
	uint64_t drains;
};

struct profiler;

/** Says whether this process can profile: built with BPF, root or CAP_BPF+CAP_PERFMON,
 * kernel BTF present. Returns 0, or EMBER_EUNSUP / EMBER_EAUTH with what is missing in
 * err (always NUL-terminated). Does not load anything. */
int profiler_check(char *err, size_t errlen) __attribute__((warn_unused_result));

/** Loads the BPF program and attaches it (perf_event on every online CPU; sched_switch
 * when opts->offcpu). Caller owns *out (profiler_free). Returns 0, or a negative EMBER_E*
 * with the reason (failing call and errno) in err. */
int profiler_open(const struct profiler_opts *opts, struct profiler **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/** Switches the program to the other buffer, then hands every aggregate of the previous
 * one to cb (stacks resolved to addresses) and clears it. Returns 0 or EMBER_EIO. */
int profiler_drain(struct profiler *p, void (*cb)(void *ctx, const struct profiler_sample *s), void *ctx)
	__attribute__((warn_unused_result));

/** Appends to *tgids (a malloc'd array of *cap entries, *n used) the processes that have
 * counts in the live buffer now, so that the caller can capture their mappings before they
 * exit (symbolizer_snapshot_pid). Duplicates are possible. Returns 0 or EMBER_EUNSUP. */
int profiler_live_tgids(struct profiler *p, uint32_t **tgids, size_t *n, size_t *cap)
	__attribute__((warn_unused_result));

/** Fills *out with the counters so far. */
void profiler_get_stats(struct profiler *p, struct profiler_stats *out);

/** Detaches and frees. NULL-safe. */
void profiler_free(struct profiler *p);

#endif /* user space */

#endif

// SPDX-License-Identifier: GPL-2.0
/* profile.bpf.c: on-CPU sampling (perf_event, CPU clock) and off-CPU time (sched_switch)
 * of every process, aggregated into hash maps of counts per (tgid, stacks, comm).
 * The loader is profile.c; the shared layout profile.h; the design
 * docs/internals/agent.md. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "agent/profile.h"

#define TASK_RUNNING 0

/* Set by the loader before load. */
const volatile __u32 targ_tgid = 0;          /* 0 = every process */
const volatile bool filter_cgroup = false;   /* only tasks under cgroup_map[0] */
const volatile bool offcpu_enabled = false;

/* Written by the loader at run time (mmapped .bss). */
__u32 gen = 0;
struct profile_counters counters = {};

/* Sizes are set by the loader (bpf_map__set_max_entries). */
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, PROFILE_MAX_STACK_DEPTH * sizeof(__u64));
	__uint(max_entries, 16384);
} stacks0 SEC(".maps"), stacks1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct profile_key);
	__type(value, __u64);
	__uint(max_entries, 16384);
} cpu0 SEC(".maps"), cpu1 SEC(".maps"), off0 SEC(".maps"), off1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32); /* thread id */
	__type(value, struct profile_offcpu_start);
	__uint(max_entries, 16384);
} offcpu_start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} cgroup_map SEC(".maps");

/* Kernels before 5.14 call the field `state`. */
struct task_struct___o {
	volatile long int state;
} __attribute__((preserve_access_index));

static __always_inline long task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return BPF_CORE_READ((struct task_struct___o *)t, state);
}

static __always_inline bool wanted(__u32 tgid)
{
	if (targ_tgid && tgid != targ_tgid)
		return false;
	if (filter_cgroup && !bpf_current_task_under_cgroup(&cgroup_map, 0))
		return false;
	return true;
}

/* Fills the stack ids of the current task into k (ctx: perf_event or tp_btf context). */
static __always_inline void take_stacks(void *ctx, struct profile_key *k, __u32 g)
{
	void *stacks = (g & 1) ? (void *)&stacks1 : (void *)&stacks0;
	long u = bpf_get_stackid(ctx, stacks, BPF_F_USER_STACK);
	long kid = bpf_get_stackid(ctx, stacks, 0);
	/* -EFAULT is a kernel thread's missing user stack: not an error. */
	if ((u < 0 && u != -14) || (kid < 0 && kid != -14))
		__sync_fetch_and_add(&counters.stack_errors, 1);
	k->user_stack_id = u < 0 ? -1 : (__s32)u;
	k->kernel_stack_id = kid < 0 ? -1 : (__s32)kid;
	k->stack_gen = g;
}

static __always_inline void add(void *map, struct profile_key *k, __u64 v)
{
	__u64 *p = bpf_map_lookup_elem(map, k);
	if (p) {
		__sync_fetch_and_add(p, v);
		return;
	}
	/* Two CPUs may insert the same key at once: BPF_NOEXIST makes the loser retry the
	 * lookup instead of overwriting. */
	if (bpf_map_update_elem(map, k, &v, BPF_NOEXIST) == 0)
		return;
	p = bpf_map_lookup_elem(map, k);
	if (p)
		__sync_fetch_and_add(p, v);
	else
		__sync_fetch_and_add(&counters.count_map_full, 1);
}

SEC("perf_event")
int do_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, pid = (__u32)id;
	if (pid == 0) /* the idle task */
		return 0;
	if (!wanted(tgid))
		return 0;
	struct profile_key k = {};
	__u32 g = gen;
	k.tgid = tgid;
	bpf_get_current_comm(k.comm, sizeof(k.comm));
	take_stacks(ctx, &k, g);
	add((g & 1) ? (void *)&cpu1 : (void *)&cpu0, &k, 1);
	__sync_fetch_and_add(&counters.samples, 1);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(do_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	if (!offcpu_enabled)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	__u32 g = gen;

	/* prev blocks (a preempted, still runnable thread is not off-CPU time). */
	__u32 prev_pid = BPF_CORE_READ(prev, pid), prev_tgid = BPF_CORE_READ(prev, tgid);
	if (prev_pid && task_state(prev) != TASK_RUNNING && wanted(prev_tgid)) {
		struct profile_offcpu_start s = {};
		s.ts_ns = now;
		s.key.tgid = prev_tgid;
		bpf_get_current_comm(s.key.comm, sizeof(s.key.comm));
		take_stacks(ctx, &s.key, g);
		if (bpf_map_update_elem(&offcpu_start, &prev_pid, &s, BPF_ANY))
			__sync_fetch_and_add(&counters.start_map_full, 1);
	}

	/* next wakes up: the time since it blocked goes to the stack where it blocked. */
	__u32 next_pid = BPF_CORE_READ(next, pid);
	struct profile_offcpu_start *s = bpf_map_lookup_elem(&offcpu_start, &next_pid);
	if (!s)
		return 0;
	struct profile_key k = s->key;
	__u64 delta = now - s->ts_ns;
	/* Count before deleting the start record: the loader, which saves the stacks of
	 * blocked threads when it clears a stack map, then finds the ids in one place or the
	 * other (docs/internals/agent.md, "Off-CPU stacks across collects"). */
	if ((__s64)delta > 0) {
		add((g & 1) ? (void *)&off1 : (void *)&off0, &k, delta);
		__sync_fetch_and_add(&counters.offcpu_events, 1);
	}
	bpf_map_delete_elem(&offcpu_start, &next_pid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";

/* Workload for tests/integ/test_agent.py: known shares of CPU in known functions, built
 * with -fno-omit-frame-pointer so that both perf and the agent unwind it.
 *
 *   workload cpu SECONDS     burn_a ~60%, burn_b ~30%, sys_heavy ~10% (kernel frames)
 *   workload sleep SECONDS   blocks in sleep_here (nanosleep, 50 ms at a time)
 *
 * Shares are by wall time slices of each 100 ms period, checked against `perf record`. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/syscall.h>

static volatile uint64_t sink;

/* System calls issued inline (not through libc's wrappers, which have no frame pointer):
 * frame-pointer unwinding from the syscall's user ip then finds the calling function
 * itself, for perf and the agent alike. */
static inline __attribute__((always_inline)) long raw_syscall3(long n, long a, long b, long c)
{
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return ret;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static void spin_until(double end)
{
	uint64_t x = sink;
	while (now() < end)
		for (int i = 0; i < 2000; i++)
			x = x * 6364136223846793005ull + 1442695040888963407ull;
	sink = x;
}

__attribute__((noinline)) void burn_a(double secs)
{
	spin_until(now() + secs);
	__asm__ volatile("" ::: "memory"); /* keep the frame (no tail call) */
}

__attribute__((noinline)) void burn_b(double secs)
{
	spin_until(now() + secs);
	__asm__ volatile("" ::: "memory");
}

/* System calls that do work in the kernel: reading /dev/zero in 64 KiB chunks. */
__attribute__((noinline)) void sys_heavy(double secs)
{
	static char buf[1 << 16];
	int fd = open("/dev/zero", O_RDONLY);
	double end = now() + secs;
	while (now() < end)
		if (raw_syscall3(SYS_read, fd, (long)buf, sizeof(buf)) < 0)
			break;
	close(fd);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void sleep_here(double secs)
{
	double end = now() + secs;
	while (now() < end) {
		struct timespec ts = {0, 50 * 1000 * 1000};
		raw_syscall3(SYS_nanosleep, (long)&ts, 0, 0);
	}
	__asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: workload cpu|sleep SECONDS\n");
		return 2;
	}
	double secs = atof(argv[2]);
	if (!strcmp(argv[1], "sleep")) {
		sleep_here(secs);
		return 0;
	}
	double end = now() + secs;
	while (now() < end) {
		burn_a(0.060);
		burn_b(0.030);
		sys_heavy(0.010);
	}
	printf("%llu\n", (unsigned long long)sink);
	return 0;
}

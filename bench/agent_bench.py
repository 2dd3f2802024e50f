"""Overhead of `ember agent` at 97 Hz with every CPU busy, against `perf record -F 97 -g -a`.

Runs one busy workload process per CPU (tests/integ/agent/workload.c) for DURATION seconds,
twice: under the agent (CPU profiling of every process, pushing to a local server every
5 s so that several symbolisations and sends fall in the window), then under perf.
The figure is the profiler's own CPU time (user+sys from its rusage) over wall time, in
percent of one CPU. Usage: agent_bench.py BUILD_DIR. Needs root; skipped otherwise.
"""
import os
import json
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DURATION = int(os.environ.get("AGENT_BENCH_SECONDS", "20"))


def bpf_run_ns():
    """Kernel time spent in the agent's BPF programs so far (needs kernel.bpf_stats_enabled):
    it is charged to the interrupted tasks, not to the agent, so it is added separately."""
    out = subprocess.run(["bpftool", "prog", "show", "--json"], capture_output=True, text=True).stdout
    try:
        progs = json.loads(out)
    except ValueError:
        return 0
    return sum(p.get("run_time_ns", 0) for p in progs if p.get("name") in ("do_sample", "do_switch"))


def workload(exe):
    return [subprocess.Popen([exe, "cpu", str(DURATION)], stdout=subprocess.DEVNULL) for _ in range(os.cpu_count())]


def proc_cpu(pid):
    """utime + stime of a live process, in seconds, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    ember = os.path.abspath(os.path.join(build, "ember"))
    if os.geteuid() != 0 or subprocess.run([ember, "agent", "--check"], capture_output=True).returncode != 0:
        print("agent_bench: skipped (needs root and BPF: ember agent --check fails)")
        return
    d = tempfile.mkdtemp(prefix="agent-bench-")
    exe = os.path.join(d, "workload")
    subprocess.run(["cc", "-O2", "-g", "-fno-omit-frame-pointer", "-o", exe,
                    os.path.join(HERE, "..", "tests", "integ", "agent", "workload.c")], check=True)
    port = 4790
    srv = subprocess.Popen([ember, "server", "-server.http-listen-address=127.0.0.1",
                            f"-server.http-listen-port={port}", f"-storage.filesystem.dir={d}/data"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    stats_path = "/proc/sys/kernel/bpf_stats_enabled"
    old_stats = open(stats_path).read().strip()
    with open(stats_path, "w") as f:
        f.write("1")
    try:
        # the agent
        agent = subprocess.Popen([ember, "agent", "--server", f"http://127.0.0.1:{port}", "--collect-interval", "5s",
                                  "--log.level", "warn"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(3)  # start-up (load, attach, first mappings) is not steady state
        t0 = time.time()
        c0 = proc_cpu(agent.pid)
        b0 = bpf_run_ns()
        ws = workload(exe)
        for w in ws:
            w.wait()
        agent_cpu = proc_cpu(agent.pid) - c0
        bpf_cpu = (bpf_run_ns() - b0) / 1e9
        wall = time.time() - t0
        startup_cpu = c0
        agent.send_signal(signal.SIGTERM)
        agent.wait()
        # perf, system-wide, same load
        pdata = os.path.join(d, "perf.data")
        perf = subprocess.Popen(["perf", "record", "-q", "-F", "97", "-g", "-a", "-o", pdata],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2)
        t1 = time.time()
        p0 = proc_cpu(perf.pid)
        ws = workload(exe)
        for w in ws:
            w.wait()
        perf_cpu = proc_cpu(perf.pid) - p0
        pwall = time.time() - t1
        perf.send_signal(signal.SIGINT)
        perf.wait()
    finally:
        with open(stats_path, "w") as f:
            f.write(old_stats)
        srv.send_signal(signal.SIGTERM)
        srv.wait()
    lines = [
        f"agent overhead, 97 Hz, {os.cpu_count()} busy CPUs, {DURATION} s, collect every 5 s: "
        f"{100 * (agent_cpu + bpf_cpu) / wall:.2f}% of one CPU (user space {agent_cpu:.2f} s + BPF programs "
        f"{bpf_cpu:.3f} s over {wall:.1f} s wall, steady state; start-up {startup_cpu:.2f} s CPU once)",
        f"perf record -F 97 -g -a on the same load: {100 * perf_cpu / pwall:.2f}% of one CPU "
        f"({perf_cpu:.2f} s CPU of the perf process / {pwall:.1f} s wall; its in-kernel sampling is charged to "
        f"the workload; samples written, not symbolised)",
    ]
    for l in lines:
        print(l)
    benchlib.record(lines)


if __name__ == "__main__":
    main()

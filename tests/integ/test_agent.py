"""ember agent: eBPF CPU and off-CPU profiling of real processes, pushed to a real server.

A C workload with known shares of time (burn_a ~60%, burn_b ~30%, sys_heavy ~10% of its
CPU, built with -fno-omit-frame-pointer) runs under the agent while a second copy runs
under `perf record -F 97 -g`; each function's inclusive share in the agent's profile must
be within a few points of its share in `perf script`'s samples (the independent reference).
The syscall-heavy function must show kernel frames. A program sleeping in sleep_here for a
known time must show that time as off-CPU (within 20%).

Metrics: the agent serves /metrics (--metrics-port) during the run; `promtool check metrics`
must accept it, the sample counter must be > 0 and lost samples reported. A second agent,
run at the same time, pushes to a closed port with a queue bound of a few KiB: its failed
pushes are counted, requests are dropped when the queue is full, and the queue stays within
its bound (the newest request is always kept, so one request may exceed it alone).

Needs root and a kernel with BTF (CI has both); without them the test is skipped with the
reason, never failed.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

from lib import EMBER, OUT, Check, Server, free_port

HERE = os.path.dirname(os.path.abspath(__file__))
SECONDS = 6
TOL_POINTS = 6.0  # allowed difference of shares, in percentage points


def skip(why):
    print(f"  SKIP test_agent: {why}")
    sys.exit(0)


def preconditions():
    if os.geteuid() != 0:
        skip("not running as root (the agent needs root or CAP_BPF+CAP_PERFMON)")
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        skip("this kernel has no BTF (/sys/kernel/btf/vmlinux)")
    r = subprocess.run([EMBER, "agent", "--check"], capture_output=True, text=True)
    if r.returncode != 0:
        # Root and BTF are here: the agent must be able to run. A failure is a failure.
        print(f"  ember agent --check failed on a machine with root and BTF: {r.stderr.strip()}")
        sys.exit(1)


def build_workload(d):
    exe = os.path.join(d, "workload")
    subprocess.run(["cc", "-O2", "-g", "-fno-omit-frame-pointer", "-o", exe,
                    os.path.join(HERE, "agent", "workload.c")], check=True)
    return exe


def perf_shares(data, pid, names):
    """Inclusive share (%) of each function among pid's samples, from `perf script`."""
    out = subprocess.run(["perf", "script", "-i", data, "-F", "pid,ip,sym"], capture_output=True, text=True,
                         check=True).stdout
    total = 0
    hits = {n: 0 for n in names}
    stack = None
    cur_pid = None

    def flush():
        nonlocal total
        if stack is not None and cur_pid == pid:
            total += 1
            for n in names:
                if n in stack:
                    hits[n] += 1

    for line in out.splitlines():
        if not line.strip():
            continue
        if not line.startswith("\t"):
            flush()
            cur_pid = int(line.split()[0])
            stack = set()
        else:
            parts = line.split()
            if len(parts) >= 2:
                stack.add(parts[1].split("+")[0])
    flush()
    return total, {n: 100.0 * hits[n] / total if total else 0.0 for n in names}


def folded(server, type_id, selector, start_s):
    out = subprocess.run([EMBER, "query", "export", "--url", server.url, "--type", type_id, "--query", selector,
                          "--from", str(int(start_s) - 60), "--until", str(int(time.time()) + 60),
                          "--format", "folded"], capture_output=True, text=True)
    if out.returncode != 0:
        raise AssertionError(f"ember query export failed: {out.stderr}")
    rows = []
    for line in out.stdout.splitlines():
        stack, _, v = line.rpartition(" ")
        if stack:
            rows.append((stack.split(";"), int(v)))
    return rows


def shares(rows, names):
    total = sum(v for _, v in rows)
    return total, {n: 100.0 * sum(v for s, v in rows if n in s) / total if total else 0.0 for n in names}


def scrape_metrics(port):
    """{name: value} of an agent's /metrics, and the raw text."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        ctype = r.headers.get("Content-Type", "")
        text = r.read().decode()
    vals = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, v = line.rpartition(" ")
            vals[name] = float(v)
    return text, ctype, vals


def promtool_ok(text):
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    return r.returncode == 0, (r.stdout + r.stderr).strip()


def stop_agent(p, log):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    log.close()


def main():
    preconditions()
    c = Check("agent")
    d = tempfile.mkdtemp(prefix="agent-", dir=OUT)
    exe = build_workload(d)
    names = ["burn_a", "burn_b", "sys_heavy"]

    with Server() as s:
        mport, dport, closed = free_port(), free_port(), free_port()
        agent_log = open(os.path.join(OUT, "agent.log"), "wb")
        agent = subprocess.Popen([EMBER, "agent", "--server", s.url, "--collect-interval", "2s", "--off-cpu",
                                  "--comm", "^workload$", "--labels-pid", "--labels-comm", "--label", "env=test",
                                  "--log.level", "debug", "--metrics-port", str(mport)],
                                 stdout=agent_log, stderr=subprocess.STDOUT)
        # The same workload seen by an agent whose server is down (nothing listens on
        # `closed`): collects every 200 ms into a 5 KiB queue.
        down_log = open(os.path.join(OUT, "agent-down.log"), "wb")
        down = subprocess.Popen([EMBER, "agent", "--server", f"http://127.0.0.1:{closed}", "--collect-interval",
                                 "200ms", "--comm", "^workload$", "--labels-pid", "--max-queue-mb", "0.005",
                                 "--metrics-port", str(dport)], stdout=down_log, stderr=subprocess.STDOUT)
        try:
            time.sleep(1.0)  # programs attached
            c.true(agent.poll() is None, "the agent is running")
            start = time.time()
            perf_data = os.path.join(d, "perf.data")
            perf = subprocess.Popen(["perf", "record", "-q", "-F", "97", "-g", "-o", perf_data, exe, "cpu",
                                     str(SECONDS)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            work = subprocess.Popen([exe, "cpu", str(SECONDS)], stdout=subprocess.DEVNULL)
            sleeper = subprocess.Popen([exe, "sleep", "4"])
            # The workload's own CPU time is the reference for the agent's CPU total (on a
            # small machine the copies share the CPUs with perf, the agent and the server).
            _, _, ru = os.wait4(work.pid, 0)
            work.returncode = 0
            work_cpu_s = ru.ru_utime + ru.ru_stime
            for p in (sleeper, perf):
                p.wait(timeout=60)
            perf_pid = None
            # perf's child is the workload: find its pid from the data (the only workload pid).
            out = subprocess.run(["perf", "script", "-i", perf_data, "-F", "pid,comm"], capture_output=True,
                                 text=True, check=True).stdout
            for line in out.splitlines():
                f = line.split()  # "comm pid"
                if len(f) == 2 and f[0] == "workload":
                    perf_pid = int(f[1])
                    break
            time.sleep(2.5)  # one more collect
            mtext, mtype, m = scrape_metrics(mport)
            dtext, _, dm = scrape_metrics(dport)
        finally:
            down.send_signal(signal.SIGTERM)  # its 5 s wait for the queue overlaps the other's stop
            stop_agent(agent, agent_log)
            stop_agent(down, down_log)
        open(os.path.join(OUT, "agent-metrics.txt"), "w").write(mtext)
        open(os.path.join(OUT, "agent-down-metrics.txt"), "w").write(dtext)
        ok, why = promtool_ok(mtext)
        c.true(ok, f"promtool check metrics accepts the agent's /metrics {why}")
        ok, why = promtool_ok(dtext)
        c.true(ok, f"promtool check metrics accepts the down agent's /metrics {why}")
        c.true(mtype.startswith("text/plain; version=0.0.4"), f"/metrics content type ({mtype})")
        c.true(m.get("ember_agent_samples_total", 0) > 0, f"samples counted ({m.get('ember_agent_samples_total')})")
        for k in ("ember_agent_lost_samples_total", "ember_agent_count_map_full_total",
                  "ember_agent_offcpu_start_map_full_total", "ember_agent_stack_errors_total"):
            c.true(k in m and m[k] >= 0, f"{k} reported ({m.get(k)})")
        c.true(m.get("ember_agent_offcpu_events_total", 0) > 0,
               f"off-CPU events counted ({m.get('ember_agent_offcpu_events_total')})")
        c.true(m.get("ember_agent_pushes_total", 0) >= 3 and m.get("ember_agent_push_failures_total", -1) == 0,
               f"pushes to the live server sent ({m.get('ember_agent_pushes_total')}) and none failed")
        c.true(m.get("ember_agent_collects_total", 0) >= 3, f"collects counted ({m.get('ember_agent_collects_total')})")
        c.true(m.get("ember_agent_comm_filtered_total", 0) > 0, "aggregates of other processes filtered by --comm")
        print(f"  server down: failures {dm.get('ember_agent_push_failures_total')}, dropped when full "
              f"{dm.get('ember_agent_push_dropped_queue_full_total')}, queue {dm.get('ember_agent_push_queue_requests')}"
              f" requests / {dm.get('ember_agent_push_queue_bytes')} bytes (bound "
              f"{dm.get('ember_agent_push_queue_max_bytes')})")
        c.true(dm.get("ember_agent_pushes_total", -1) == 0, "server down: nothing sent")
        c.true(dm.get("ember_agent_push_failures_total", 0) >= 3 and
               dm.get("ember_agent_push_retries_total", 0) == dm["ember_agent_push_failures_total"],
               "server down: failed pushes counted (as retries)")
        c.eq(dm.get("ember_agent_push_queue_max_bytes"), float(int(0.005 * 1048576)), "queue bound from --max-queue-mb")
        c.true(dm.get("ember_agent_push_dropped_queue_full_total", 0) > 0, "server down: requests dropped when full")
        c.true(dm.get("ember_agent_push_queue_bytes", 1e18) <= dm["ember_agent_push_queue_max_bytes"] or
               dm.get("ember_agent_push_queue_requests") == 1, "server down: the queue stays within its bound")
        c.eq(down.returncode, 0, "the agent with its server down still exits 0 on SIGTERM")
        log = open(os.path.join(OUT, "agent.log"), "rb").read().decode("utf-8", "replace")
        c.eq(agent.returncode, 0, "the agent exits 0 on SIGTERM")
        c.true("AddressSanitizer" not in log and "runtime error" not in log and "LeakSanitizer" not in log,
               "no sanitizer report in the agent's log")
        c.true("msg=\"collected\"" in log, "the agent logs its counters at each collect")

        n_perf, want = perf_shares(perf_data, perf_pid, names)
        print(f"  perf: {n_perf} samples of pid {perf_pid}: " + ", ".join(f"{n} {want[n]:.1f}%" for n in names))
        c.true(n_perf >= 150, f"perf took enough samples ({n_perf})")

        cpu = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
        rows = folded(s, cpu, f'{{pid="{work.pid}",comm="workload",env="test"}}', start)
        total, got = shares(rows, names)
        print(f"  agent: {total / 1e9:.2f} s of CPU (rusage {work_cpu_s:.2f} s) for pid {work.pid}: " +
              ", ".join(f"{n} {got[n]:.1f}%" for n in names))
        c.true(abs(total / 1e9 - work_cpu_s) <= work_cpu_s * 0.15,
               f"CPU total {total / 1e9:.2f} s within 15% of the workload's rusage {work_cpu_s:.2f} s")
        for n in names:
            c.true(abs(got[n] - want[n]) <= TOL_POINTS,
                   f"{n}: agent {got[n]:.1f}% vs perf {want[n]:.1f}% (within {TOL_POINTS} points)")
        sys_rows = [(st, v) for st, v in rows if "sys_heavy" in st]
        sys_total = sum(v for _, v in sys_rows)
        kern = sum(v for st, v in sys_rows if any(f in ("do_syscall_64", "entry_SYSCALL_64_after_hwframe",
                                                           "ksys_read", "vfs_read") for f in st))
        c.true(sys_total > 0 and kern / sys_total >= 0.5,
               f"sys_heavy has kernel frames below it ({kern}/{sys_total})")
        c.true(any(st[-1] == "read_iter_zero" or st[-1].startswith(("clear_user", "rep_stos", "iov_iter_zero",
                                                                        "__clear_user"))
                   for st, v in sys_rows) or kern > 0, "kernel leaf functions of read(/dev/zero) appear")
        c.true(all("[lost stack]" not in st for st, _ in rows), "no lost stacks")

        off = "off_cpu:off_cpu:nanoseconds::"
        rows = folded(s, off, f'{{pid="{sleeper.pid}"}}', start)
        blocked = sum(v for st, v in rows if "sleep_here" in st)
        print(f"  agent: off-CPU of pid {sleeper.pid} in sleep_here: {blocked / 1e9:.2f} s (slept 4 s)")
        c.true(abs(blocked / 1e9 - 4.0) <= 0.8, f"off-CPU in sleep_here {blocked / 1e9:.2f} s within 20% of 4 s")
        c.true(any("schedule" in st for st, _ in rows), "off-CPU stacks end in the scheduler (kernel frames)")

        labels = s.connect("LabelValues", {"name": "service_name", "start": str(int(start * 1000) - 60000),
                                           "end": str(int(time.time() * 1000) + 60000)})
        c.true("workload" in labels.get("names", []), f"service_name=workload (comm) in {labels.get('names')}")
    c.done()


if __name__ == "__main__":
    main()

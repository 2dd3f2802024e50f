"""Pull mode: `ember scrape` (the agent's --scrape path) pulls a Go program's
net/http/pprof endpoints and pushes them to a real `ember server`. Checks: every kind
arrives (process_cpu, memory, goroutine, mutex, block) under the right service_name; the
CPU profile names the program's hot function; the heap alloc values are deltas: what was
pushed over the scrape is at most the growth of the cumulative totals between two direct
fetches read with `go tool pprof -raw` (one before the scrape, one after), while
cumulative values would be several times larger."""
import os
import subprocess
import tempfile
import time
import urllib.request

from lib import Check, OUT, Server, free_port, go_pprof_raw_totals, series_total

c = Check("scrape")
here = os.path.dirname(os.path.abspath(__file__))
outdir = tempfile.mkdtemp(prefix="scrape-", dir=OUT)
exe = os.path.join(outdir, "scrapetarget")
env = dict(os.environ, GOCACHE=os.path.join(OUT, "gocache"), GOFLAGS="-mod=mod", GO111MODULE="off")
subprocess.run(["go", "build", "-o", exe, "main.go"], cwd=os.path.join(here, "scrape"), check=True, env=env)
ember = os.environ.get("EMBER_BIN", "build/ember")


def fetch_heap(base, name):
    path = os.path.join(outdir, name)
    with urllib.request.urlopen(base + "/debug/pprof/heap", timeout=10) as r, open(path, "wb") as f:
        f.write(r.read())
    return go_pprof_raw_totals(path)


port = free_port()
target = f"http://127.0.0.1:{port}"
prog = subprocess.Popen([exe, f"127.0.0.1:{port}"])
try:
    for _ in range(100):
        try:
            urllib.request.urlopen(target + "/debug/pprof/", timeout=1).read()
            break
        except OSError:
            time.sleep(0.1)
    time.sleep(3)  # let the cumulative counters grow well before the first scrape
    with Server() as s:
        before = fetch_heap(target, "heap0.pb.gz")
        start_ms = int(time.time() * 1000) - 1000
        p = subprocess.run([ember, "scrape", "--scrape", target, "--server", s.url,
                            "--scrape-service", "scrape-test", "--scrape-interval", "2", "--rounds", "3"],
                           capture_output=True, text=True, timeout=60)
        c.eq(p.returncode, 0, f"ember scrape ran: {p.stderr[-2000:]}")
        after = fetch_heap(target, "heap1.pb.gz")

        types = [t["ID"] for t in s.connect("ProfileTypes", {"start": str(start_ms), "end": str(int(time.time() * 1000) + 60000)}).get("profileTypes", [])]
        for name in ("process_cpu:cpu:nanoseconds", "memory:alloc_space:bytes", "memory:inuse_space:bytes",
                     "goroutine:", "mutex:", "block:"):
            c.true(any(t.startswith(name) for t in types), f"profile type {name}* arrived: {types}")
        svc = s.connect("LabelValues", {"name": "service_name", "start": str(start_ms), "end": str(int(time.time() * 1000) + 60000)})
        c.eq(svc.get("names"), ["scrape-test"], "service_name from --scrape-service")

        cpu_id = next((t for t in types if t.startswith("process_cpu:cpu:nanoseconds")), "")
        fg = s.connect("SelectMergeStacktraces", {"profileTypeID": cpu_id, "labelSelector": '{service_name="scrape-test"}',
                                                  "start": str(start_ms), "end": str(int(time.time() * 1000) + 60000)})
        names = fg.get("flamegraph", {}).get("names", [])
        c.true("main.hotLoop" in names, f"CPU profile names main.hotLoop ({len(names)} names)")

        alloc_id = next((t for t in types if t.startswith("memory:alloc_space:bytes")), "")
        pushed = series_total(s, alloc_id, '{service_name="scrape-test"}', start_ms=start_ms)
        growth = after["alloc_space/bytes"] - before["alloc_space/bytes"]
        cumulative = after["alloc_space/bytes"]
        # Two delta pushes (rounds 2 and 3) cover ~4 s of allocation; the cumulative
        # totals they replace would sum to about 2x the cumulative total.
        c.true(0 < pushed <= growth * 1.05, f"pushed alloc_space {pushed} is a delta: > 0 and <= growth {growth} "
             f"between direct fetches (cumulative {cumulative})")
        c.true(pushed < cumulative, f"pushed alloc_space {pushed} < cumulative {cumulative}")
        mutex_id = next((t for t in types if t.startswith("mutex:contentions")), "")
        c.true(series_total(s, mutex_id, '{service_name="scrape-test"}', start_ms=start_ms) > 0, "mutex contentions > 0")
finally:
    prog.kill()
    prog.wait()
c.done()

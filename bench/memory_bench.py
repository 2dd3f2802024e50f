"""Memory (performance.md): server RSS after ingesting 1,000 active series for 10 minutes at
10 s intervals, and WAL replay time of what that wrote. The real Go CPU profiles split into 5
series per pod (the `endpoint` sample label) and 2 per sample type, so 100 pods make 1,000
series (BENCH_SERIES pods). Prints one
line per figure and appends them to bench/RESULTS.md."""
import gzip
import http.client
import os
import sys
import threading
import time

build = sys.argv[1] if len(sys.argv) > 1 else "build"
os.environ["EMBER_BIN"] = os.path.abspath(os.path.join(build, "ember"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../tests/integ"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import Server, TESTDATA  # noqa: E402
from benchlib import record  # noqa: E402
from query_bench_data import with_time  # noqa: E402

SERIES = int(os.environ.get("BENCH_SERIES", "100"))
STEPS = int(os.environ.get("BENCH_STEPS", "60"))
srcs = [gzip.decompress(open(os.path.join(TESTDATA, "go", f"svc-cpu-{i}.pb.gz"), "rb").read()) for i in range(4)]
base = int(time.time()) - STEPS * 10 - 60


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


s = Server("-distributor.ingestion-rate-limit-mb=0", "-ingester.max-global-series-per-tenant=0", "-log.level=warn").start()


def loader(k):
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
    for step in range(STEPS):
        for ser in range(k, SERIES, 8):
            body = gzip.compress(with_time(srcs[(step + ser) % 4], (base + step * 10) * 10**9), 1)
            conn.request("POST", f"/ingest?name=memsvc%7Bpod%3Dp{ser}%7D&format=pprof", body,
                         {"Content-Type": "application/octet-stream"})
            r = conn.getresponse()
            body = r.read()
            if r.status != 200:
                print("ingest failed:", r.status, body[:200])
                return
    conn.close()


t0 = time.time()
ths = [threading.Thread(target=loader, args=(k,)) for k in range(8)]
[t.start() for t in ths]
[t.join() for t in ths]
load_s = time.time() - t0
stored = [l for l in s.request("GET", "/metrics")[1].decode().splitlines()
          if l.startswith("ember_ingest_requests_total ")]
ok = int(float(stored[0].split()[1])) if stored else 0
assert ok == SERIES * STEPS, f"only {ok} of {SERIES * STEPS} ingests succeeded"
series = [l for l in s.request("GET", "/metrics")[1].decode().splitlines() if l.startswith("ember_head_series ")]
n_series = int(float(series[0].split()[1])) if series else 0
rss = rss_kib(s.proc.pid)
s.stop()
wal_bytes = sum(os.path.getsize(os.path.join(s.dir, "wal", f)) for f in os.listdir(os.path.join(s.dir, "wal")))
# Restart on the same data: time from start to /ready is the WAL replay.
t0 = time.time()
s.start()
replay = time.time() - t0
s.stop()
n = SERIES * STEPS
lines = [
    f"memory, {SERIES} pods x {STEPS} profiles at 10 s ({n} Go CPU profiles; {n_series} series counting sample-label splits and the 2 sample types) | RSS {rss / 1024:.0f} MiB | target 200 MiB for 1,000 series | {rss / 1024 / 200:.2f} of target",
    f"WAL replay | {wal_bytes / 2**20:.0f} MiB of WAL in {replay:.2f} s to ready | target 1 GiB in 10 s | {wal_bytes / 2**30 / replay * 10:.2f} of target rate",
]
print(f"loaded {n} profiles in {load_s:.1f} s")
for l in lines:
    print(l)
record(lines)

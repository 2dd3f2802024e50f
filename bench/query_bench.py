"""Query merge speed (performance.md): a flame graph over 10,000 stored CPU profiles of one
service (100 series x 100 timestamps), against `go tool pprof -proto` merging the same
10,000 files. Prints one line per figure and appends them to bench/RESULTS.md."""
import gzip
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
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
STEPS = int(os.environ.get("BENCH_STEPS", "100"))
TYPE = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"


srcs = [gzip.decompress(open(os.path.join(TESTDATA, "go", f"svc-cpu-{i}.pb.gz"), "rb").read()) for i in range(4)]
work = tempfile.mkdtemp(prefix="ember-qbench-")
base = int(time.time()) - 3600
files = []
for step in range(STEPS):
    for s in range(SERIES):
        i = step * SERIES + s
        path = os.path.join(work, f"p{i:05d}.pb.gz")
        with open(path, "wb") as f:
            f.write(gzip.compress(with_time(srcs[i % 4], (base + step * 10) * 10**9), 1))
        files.append((s, path))

s = Server("-validation.reject-older-than=0", "-distributor.ingestion-rate-limit-mb=0", "-wal.sync=false",
           "-log.level=warn").start()


def loader(part):
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
    for series, path in part:
        body = open(path, "rb").read()
        conn.request("POST", f"/ingest?name=benchsvc%7Bpod%3Dp{series}%7D&format=pprof", body,
                     {"Content-Type": "application/octet-stream"})
        r = conn.getresponse()
        r.read()
        assert r.status == 200, r.status
    conn.close()


t0 = time.time()
ths = [threading.Thread(target=loader, args=(files[k::8],)) for k in range(8)]
[t.start() for t in ths]
[t.join() for t in ths]
load_s = time.time() - t0

req = {"profileTypeID": TYPE, "labelSelector": '{service_name="benchsvc"}', "start": str(base * 1000),
       "end": str((base + STEPS * 10 + 10) * 1000), "maxNodes": "8192"}
walls = []
total = None
for _ in range(5):
    t0 = time.time()
    r = s.connect("SelectMergeStacktraces", req)
    walls.append(time.time() - t0)
    total = int(r["flamegraph"]["total"])
ember = min(walls)
# The same query once the head is cut into blocks, and what the blocks cost on disk.
st, body, _ = s.request("POST", "/ingester/flush", timeout=600)
assert st == 200, body
bwalls = []
for _ in range(5):
    t0 = time.time()
    r = s.connect("SelectMergeStacktraces", req)
    bwalls.append(time.time() - t0)
    assert int(r["flamegraph"]["total"]) == total
block_bytes = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(os.path.join(s.dir, "blocks")) for f in fs)
gz_bytes = sum(os.path.getsize(p) for _, p in files)
s.stop()

t0 = time.time()
subprocess.run(["go", "tool", "pprof", "-proto"] + [p for _, p in files], stdout=subprocess.DEVNULL,
               stderr=subprocess.DEVNULL, check=True)
go = time.time() - t0
shutil.rmtree(work)
n = SERIES * STEPS
lines = [f"query merge, flame graph over {n} stored CPU profiles | Ember {ember:.3f} s (best of 5; total {total}) | "
         f"go tool pprof -proto {go:.1f} s | {go / ember:.0f}x faster (target >= 50x, < 1 s)",
         f"query merge, the same from blocks | Ember {min(bwalls):.3f} s (best of 5) | go tool pprof -proto {go:.1f} s | "
         f"{go / min(bwalls):.0f}x faster",
         f"storage, {n} Go CPU profiles ({SERIES} series) after block flush | {block_bytes / n:.0f} B/profile on disk | "
         f"{gz_bytes / n:.0f} B/profile gzipped pprof posted (4 real profiles with new timestamps: symbols repeat, a best case) | {100 * block_bytes / gz_bytes:.1f}% (target <= 10%)"]
print(f"loaded {n} profiles in {load_s:.1f} s")
for l in lines:
    print(l)
record(lines)

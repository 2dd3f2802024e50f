"""Wide-range query (performance.md): 24 h of 100 series at 10 s intervals (864,000
profiles), served from blocks: wall time of a flame graph and of a SelectSeries over the
whole day. The profiles are small folded stacks (a realistic count of profiles, not of
bytes). Prints one line per figure and appends them to bench/RESULTS.md."""
import os
import subprocess
import sys
import tempfile
import time

build = sys.argv[1] if len(sys.argv) > 1 else "build"
os.environ["EMBER_BIN"] = os.path.abspath(os.path.join(build, "ember"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../tests/integ"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import Server  # noqa: E402
from benchlib import record  # noqa: E402

SERIES = int(os.environ.get("BENCH_SERIES", "100"))
HOURS = float(os.environ.get("BENCH_HOURS", "24"))
STEP = 10
N = int(SERIES * HOURS * 3600 / STEP)
TYPE = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
load = os.path.join(build, "bench", "ingest_load")

# A few dozen stacks of a service, varied per body so series differ a little.
bodies = []
tmp = tempfile.mkdtemp(prefix="ember-wide-")
for k in range(8):
    lines = []
    for i in range(40):
        lines.append(f"main;serve;handler{i % 7};work{(i + k) % 11};leaf{i % 13} {1 + (i * k) % 9}")
    path = os.path.join(tmp, f"b{k}.folded")
    open(path, "w").write("\n".join(lines) + "\n")
    bodies.append(path)

end_s = int(time.time()) - 60
base = end_s - int(HOURS * 3600)
s = Server("-validation.reject-older-than=0", "-distributor.ingestion-rate-limit-mb=0", "-wal.sync=false",
           "-pyroscopedb.max-block-duration=0", "-pyroscopedb.max-head-bytes=0", "-log.level=warn").start()
env = dict(os.environ, LOAD_SERIES=str(SERIES), LOAD_BASE=str(base), LOAD_STEP=str(STEP))
t0 = time.time()
out = subprocess.run([load, str(s.port), "8", str(N), "name=wide.cpu%7Bpod%3Dp%S%7D&from=%T&sampleRate=100"] + bodies,
                     capture_output=True, text=True, env=env)
load_s = time.time() - t0
print(out.stdout.strip(), out.stderr.strip()[-300:])
t0 = time.time()
st, body, _ = s.request("POST", "/ingester/flush", timeout=600)
flush_s = time.time() - t0
assert st == 200, body
s.stop()
s.start()  # blocks only: nothing left in the WAL
req = {"profileTypeID": TYPE, "labelSelector": '{service_name="wide"}', "start": str(base * 1000),
       "end": str(end_s * 1000)}
walls = []
for _ in range(3):
    t0 = time.time()
    fg = s.connect("SelectMergeStacktraces", req)
    assert int(fg["flamegraph"]["total"]) > 0, fg
    walls.append(time.time() - t0)
ser = dict(req, step=60.0)
swalls = []
for _ in range(3):
    t0 = time.time()
    s.connect("SelectSeries", ser)
    swalls.append(time.time() - t0)
print("flame graph total", fg["flamegraph"]["total"])
s.stop()
lines = [
    f"wide-range flame graph, {N} profiles ({SERIES} series x {HOURS:g} h at {STEP} s) from blocks | {min(walls):.2f} s (best of 3) | target 3 s | {min(walls) / 3:.2f} of target",
    f"wide-range SelectSeries (60 s step) over the same | {min(swalls):.2f} s (best of 3) | target 3 s | {min(swalls) / 3:.2f} of target",
]
print(f"loaded {N} profiles in {load_s:.0f} s, flushed in {flush_s:.1f} s")
for l in lines:
    print(l)
record(lines)

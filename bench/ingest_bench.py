"""Ingest cost and throughput (performance.md): POST the real Go CPU profiles of
../shared/testdata/go to /ingest over keep-alive connections until N are stored; compare the
server's CPU seconds with the CPU seconds of `gzip -dc` (zlib) inflating the same bodies.
Prints one line per figure and appends them to bench/RESULTS.md."""
import glob
import os
import resource
import subprocess
import sys
import tempfile
import time

build = sys.argv[1] if len(sys.argv) > 1 else "build"
os.environ["EMBER_BIN"] = os.path.abspath(os.path.join(build, "ember"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../tests/integ"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import Server, TESTDATA  # noqa: E402
from benchlib import record  # noqa: E402

N = int(os.environ.get("BENCH_N", "20000"))
CONNS = int(os.environ.get("BENCH_CONNS", "16"))
files = sorted(glob.glob(os.path.join(TESTDATA, "go", "svc-cpu-*.pb.gz")))
load = os.path.join(build, "bench", "ingest_load")


def cpu_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


s = Server("-validation.reject-older-than=0", "-distributor.ingestion-rate-limit-mb=0",
           "-ingester.max-global-series-per-tenant=0", "-log.level=warn", *os.environ.get("BENCH_FLAGS", "").split()).start()
cpu0 = cpu_of(s.proc.pid)
out = subprocess.run([load, str(s.port), str(CONNS), str(N), "name=bench%7Benv%3Dbench%7D&format=pprof"] + files,
                     capture_output=True, text=True)
cpu1 = cpu_of(s.proc.pid)
s.stop()
print(out.stdout.strip(), out.stderr.strip())
secs = float(out.stdout.split("seconds=")[1])
ember_cpu = cpu1 - cpu0

# Reference: gzip -dc over the same N bodies (a multi-member file of the bodies in the same order).
bodies = [open(f, "rb").read() for f in files]
with tempfile.NamedTemporaryFile(delete=False) as tmp:
    for i in range(N):
        tmp.write(bodies[i % len(bodies)])
before = resource.getrusage(resource.RUSAGE_CHILDREN)
subprocess.run(["gzip", "-dc", tmp.name], stdout=subprocess.DEVNULL, check=True)
after = resource.getrusage(resource.RUSAGE_CHILDREN)
os.unlink(tmp.name)
gzip_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

lines = [
    f"ingest throughput | {N / secs:.0f} Go CPU profiles/s ({CONNS} conns, WAL fdatasync on) | target 2000/s | {N / secs / 2000:.2f}x target",
    f"ingest cost | Ember {ember_cpu:.2f} CPU s for {N} profiles | gzip -dc {gzip_cpu:.2f} CPU s | ratio {ember_cpu / gzip_cpu:.2f} (target <= 2)",
]
for l in lines:
    print(l)
record(lines)

"""A Go program using only the standard library (runtime/pprof + mime/multipart, the way
pyroscope-go sends) posts CPU, heap, mutex, block and goroutine profiles: every profile type
of pyroscope-api.md §4 shows up, and each type's total equals `go tool pprof -raw` of the
very file that was posted."""
import os
import subprocess
import tempfile

from lib import Check, OUT, Server, go_pprof_raw_totals, series_total

c = Check("go client")
here = os.path.dirname(os.path.abspath(__file__))
outdir = tempfile.mkdtemp(prefix="goclient-", dir=OUT)
exe = os.path.join(outdir, "goclient")
env = dict(os.environ, GOCACHE=os.path.join(OUT, "gocache"), GOFLAGS="-mod=mod", GO111MODULE="off")
subprocess.run(["go", "build", "-o", exe, "main.go"], cwd=os.path.join(here, "goclient"), check=True, env=env)

EXPECTED = {
    "cpu": ("process_cpu", "cpu:nanoseconds"),
    "heap": ("memory", "space:bytes"),
    "mutex": ("mutex", "contentions:count"),
    "block": ("block", "contentions:count"),
    "goroutine": ("goroutines", "goroutine:count"),
}
with Server() as s:
    p = subprocess.run([exe, s.url, outdir], capture_output=True, text=True, timeout=60)
    c.eq(p.returncode, 0, f"go client ran: {p.stdout} {p.stderr}")
    want = {}
    for kind, (name, period) in EXPECTED.items():
        for st, total in go_pprof_raw_totals(os.path.join(outdir, kind + ".pb.gz")).items():
            want[f"{name}:{st.replace('/', ':')}:{period}"] = total
    got = sorted(t["ID"] for t in s.connect("ProfileTypes", {}).get("profileTypes", []))
    c.eq(got, sorted(want), "every type posted is listed by ProfileTypes")
    for must in ["process_cpu:cpu:nanoseconds:cpu:nanoseconds", "process_cpu:samples:count:cpu:nanoseconds",
                 "memory:alloc_objects:count:space:bytes", "memory:alloc_space:bytes:space:bytes",
                 "memory:inuse_objects:count:space:bytes", "memory:inuse_space:bytes:space:bytes",
                 "mutex:contentions:count:contentions:count", "mutex:delay:nanoseconds:contentions:count",
                 "block:contentions:count:contentions:count", "block:delay:nanoseconds:contentions:count",
                 "goroutines:goroutine:count:goroutine:count"]:
        c.true(must in got, f"type {must}")
    for tid, total in sorted(want.items()):
        c.eq(series_total(s, tid, '{service_name="goapp"}'), total, f"{tid}: total vs go tool pprof -raw")
    c.eq(s.connect("LabelValues", {"name": "process_runtime_name"})["names"], ["go"], "labels from name")
c.done()

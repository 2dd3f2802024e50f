"""Node.js: the captured requests of @pyroscope/nodejs 0.6.4 replay exactly as they were sent,
and the real SDK, run against the server, gets its wall and heap profiles stored with the
right labels and types."""
import os
import subprocess
import time

from lib import Check, Server, TESTDATA, read, series_total

c = Check("nodejs")
NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")

WALL = ["wall:samples:count:wall:nanoseconds", "wall:wall:nanoseconds:wall:nanoseconds"]
HEAP = ["memory:inuse_objects:count:inuse_space:bytes", "memory:inuse_space:bytes:inuse_space:bytes"]

# 1. The captures, replayed byte for byte (their timestamps are old: window off).
with Server("-validation.reject-older-than=0") as s:
    rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(TESTDATA, "nodejs", "requests.tsv"))]
    for fname, method, url, ctype in rows:
        status, body, _ = s.request(method, url, read(os.path.join(TESTDATA, "nodejs", fname)),
                                    {"Content-Type": ctype})
        c.eq(status, 200, f"capture {fname}: {body[:200]!r}")
    ids = sorted(t["ID"] for t in s.connect("ProfileTypes", {}).get("profileTypes", []))
    c.eq(ids, sorted(HEAP + WALL), "profile types of the captures")
    c.eq(s.connect("LabelValues", {"name": "service_name"})["names"], ["nodeapp"], "service_name")
    c.eq(s.connect("LabelValues", {"name": "env"})["names"], ["test"], "tag env from name")
    c.eq(s.connect("LabelValues", {"name": "pyroscope_spy"})["names"], ["nodespy"], "spy name")
    c.eq(s.connect("LabelValues", {"name": "process_runtime_name"})["names"], ["nodejs"],
         "dotted label names are sanitized to underscores")
    c.true(series_total(s, WALL[0]) > 0, "wall samples stored")

# 2. The real SDK.
with Server() as s:
    t0 = time.time()
    p = subprocess.run(["node", "push.js", s.url, "5"], cwd=NODE_DIR, capture_output=True, text=True, timeout=120)
    c.eq(p.returncode, 0, f"node SDK run (stderr: {p.stderr[-500:]})")
    ids = sorted(t["ID"] for t in s.connect("ProfileTypes", {}).get("profileTypes", []))
    c.eq(ids, sorted(HEAP + WALL), "profile types from the live SDK")
    c.eq(s.connect("LabelValues", {"name": "service_name"})["names"], ["nodeapp"], "service_name from appName")
    c.eq(s.connect("LabelValues", {"name": "env"})["names"], ["integ"], "tags")
    stats = s.connect("GetProfileStats", {})
    c.true(stats.get("dataIngested") is True, "data ingested")
    c.true(abs(int(stats["newestProfileTime"]) / 1000 - t0) < 120, "profile time is now")
    c.true(series_total(s, WALL[1], '{service_name="nodeapp"}') > 0, "wall time recorded")
c.done()

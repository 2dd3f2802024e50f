"""Folded (collapsed) and lines text ingest: the perf sample of ../shared/testdata/perf, the
legacy app-name suffix -> profile type mapping, and sampleRate scaling."""
import os
import time

from lib import Check, Server, TESTDATA, read, series_total

c = Check("folded")
body = read(os.path.join(TESTDATA, "perf", "workload.folded"))
# The reference total: the sum of the last field of each line (what awk '{s+=$NF}' prints).
ref = sum(int(l.rsplit(" ", 1)[1]) for l in body.decode().splitlines() if l.strip())
now = int(time.time())

with Server() as s:
    # Default format is folded; app "workload.cpu" -> process_cpu, sampleRate=499 scales to ns.
    st, b, _ = s.ingest(f"name=workload.cpu{{host=a}}&from={now - 10}&until={now}&sampleRate=499&spyName=perf",
                        body, "text/plain")
    c.eq(st, 200, f"folded ingest {b!r}")
    period = 1_000_000_000 // 499
    c.eq(series_total(s, "process_cpu:cpu:nanoseconds:cpu:nanoseconds", '{service_name="workload"}'),
         ref * period, "cpu total = samples x 1e9/sampleRate")
    c.eq(s.connect("LabelValues", {"name": "host"})["names"], ["a"], "labels from name")
    c.eq(s.connect("LabelValues", {"name": "service_name"})["names"], ["workload"], "suffix stripped")

    # No suffix means cpu; format=lines counts each line once.
    lines = b"main;work;spin\nmain;work;spin\nmain;idle\n"
    st, b, _ = s.ingest(f"name=liner&format=lines&from={now}&sampleRate=100", lines)
    c.eq(st, 200, "lines ingest")
    c.eq(series_total(s, "process_cpu:cpu:nanoseconds:cpu:nanoseconds", '{service_name="liner"}'),
         3 * 10_000_000, "lines: 3 stacks x 1e7 ns")

    # Memory suffix: no scaling, no period.
    st, _, _ = s.ingest(f"name=memapp.alloc_space&format=folded&from={now}", b"a;b 100\na;c 50\n")
    c.eq(st, 200, "alloc_space ingest")
    c.eq(series_total(s, "memory:alloc_space:bytes::", '{service_name="memapp"}'), 150, "alloc_space total")

    # A service_name label keeps the app as app_name.
    st, _, _ = s.ingest(f"name=appx.wall{{service_name=svcx}}&from={now}&sampleRate=0", b"a 7\n")
    c.eq(st, 200, "wall ingest")
    c.eq(s.connect("LabelValues", {"name": "app_name", "matchers": ['{service_name="svcx"}']})["names"], ["appx"],
         "app_name when service_name is given")
    c.eq(series_total(s, "wall:samples:count::", '{service_name="svcx"}'), 7, "sampleRate=0: no scaling")

    # Errors: unknown suffix, malformed lines.
    st, b, _ = s.ingest(f"name=x.nosuchtype&from={now}", b"a 1\n")
    c.eq(st, 400, f"unknown suffix -> 400 ({b!r})")
    st, b, _ = s.ingest(f"name=x.cpu&from={now}", b"a;b notanumber\n")
    c.eq(st, 400, "bad folded value -> 400")
    c.true(b"line 1" in b, f"error names the line: {b!r}")
    # Not supported yet, said clearly.
    for fmt in ["jfr", "speedscope", "trie", "tree"]:
        st, b, _ = s.ingest(f"name=x.cpu&format={fmt}&from={now}", b"xx")
        c.eq(st, 422, f"format={fmt} -> 422")
        c.true(b"not supported yet" in b, f"format={fmt} message: {b!r}")
c.done()

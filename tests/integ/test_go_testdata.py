"""The real Go runtime/pprof profiles in ../shared/testdata/go ingest as raw pprof (gzip and
plain): every type shows up, labels are right, and per type the stored total equals the
`go tool pprof -raw` total of the same file."""
import gzip
import glob
import os

from lib import Check, Server, TESTDATA, go_pprof_raw_totals, read, series_total

c = Check("go testdata")
# The files are from the day they were made: switch the ingestion window off explicitly.
with Server("-validation.reject-older-than=0", "-validation.max-profile-stacktrace-samples=0") as s:
    files = sorted(glob.glob(os.path.join(TESTDATA, "go", "*.pb.gz")))
    c.true(len(files) >= 9, "testdata present")
    expected = {}  # type id -> total
    for i, f in enumerate(files):
        body = read(f)
        if i % 2:  # every other file goes uncompressed, to cover both
            body = gzip.decompress(body)
        status, resp, _ = s.ingest("name=gosvc{env=test}&format=pprof&spyName=gospy", body)
        c.eq(status, 200, f"ingest {os.path.basename(f)}: {resp[:200]!r}")
        base = os.path.basename(f)
        metric = {"svc-cpu": "process_cpu", "svc-heap": "memory", "svc-allocs": "memory",
                  "svc-mutex": "mutex", "svc-block": "mutex", "svc-goroutine": "goroutines"}
        name = next(v for k, v in metric.items() if base.startswith(k))
        period = {"process_cpu": "cpu:nanoseconds", "memory": "space:bytes", "mutex": "contentions:count",
                  "goroutines": "goroutine:count"}[name]
        for st, total in go_pprof_raw_totals(f).items():
            tid = f"{name}:{st.replace('/', ':')}:{period}"
            expected[tid] = expected.get(tid, 0) + total

    types = s.connect("ProfileTypes", {})
    ids = sorted(t["ID"] for t in types.get("profileTypes", []))
    c.eq(ids, sorted(expected), "ProfileTypes")
    for tid, want in sorted(expected.items()):
        c.eq(series_total(s, tid, '{service_name="gosvc"}'), want, f"total of {tid} vs go tool pprof -raw")

    names = s.connect("LabelNames", {})["names"]
    for n in ["__name__", "__profile_type__", "service_name", "env", "pyroscope_spy", "endpoint"]:
        c.true(n in names, f"label name {n} present")
    c.eq(s.connect("LabelValues", {"name": "service_name"})["names"], ["gosvc"], "service_name values")
    c.eq(s.connect("LabelValues", {"name": "pyroscope_spy"})["names"], ["gospy"], "pyroscope_spy")
    c.eq(s.connect("LabelValues", {"name": "endpoint"})["names"], ["/checkout", "/logs", "/rank", "/search"],
         "pprof sample labels become series labels")
    # Series with matchers of each kind.
    r = s.connect("Series", {"matchers": ['{__name__="process_cpu", endpoint=~"/(logs|rank)"}'],
                             "labelNames": ["endpoint", "__profile_type__"]})
    got = sorted((l["labels"][0]["value"], l["labels"][1]["value"]) for l in r["labelsSet"])
    c.eq(got, sorted((t, e) for t in ["process_cpu:cpu:nanoseconds:cpu:nanoseconds",
                                      "process_cpu:samples:count:cpu:nanoseconds"] for e in ["/logs", "/rank"]),
         "Series with =~ (labels sorted by name: __profile_type__, endpoint)")
    r = s.connect("LabelValues", {"name": "endpoint", "matchers": ['{endpoint!~"/(logs|rank)", endpoint!="/search"}']})
    c.eq(r["names"], ["/checkout"], "LabelValues with !~ and !=")
    stats = s.connect("GetProfileStats", {})
    c.true(stats.get("dataIngested") is True, "GetProfileStats dataIngested")
    c.true(int(stats["oldestProfileTime"]) <= int(stats["newestProfileTime"]), "oldest <= newest")
    # A time range before every profile finds nothing.
    r = s.connect("LabelValues", {"name": "service_name", "start": "1000", "end": "2000"})
    c.eq(r.get("names", []), [], "time range excludes everything")
c.done()

"""Ember's incident summary (docs/summary.md): GET /ember/v1/summary and
/ember.v1.AnalysisService/Summarize (JSON and proto). The top functions and the hottest
path are checked against a computation made here from the folded file itself (and from
`go tool pprof -raw` for a Go profile), not from Ember."""
import os
import subprocess
import time
import urllib.parse

from lib import Check, Server, TESTDATA, read
from reference import Tree, folded_stacks, hottest_path, pprof_raw, top_functions

CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
PROTO_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "../../proto"))

c = Check("summary")
folded = read(os.path.join(TESTDATA, "perf", "workload.folded")).decode()
period = 1_000_000_000 // 499  # /ingest scales folded cpu values by 1e9/sampleRate
ref = Tree()
for frames, v in folded_stacks(folded):
    ref.add(frames, v * period)
now = int(time.time())


def q(s):
    return urllib.parse.quote(s, safe="")


def get(s, path, tenant=None):
    st, body, hdr = s.request("GET", path, headers={"X-Scope-OrgID": tenant} if tenant else None)
    import json
    return st, (json.loads(body) if body and hdr.get("Content-Type", "").startswith("application/json") else body)


def check_summary(got, tree, top, what, string_ints=False):
    conv = (lambda v: str(v)) if string_ints else (lambda v: v)
    c.eq(got.get("total"), conv(tree.total), f"{what}: total")
    want = top_functions(tree, top)
    c.eq([(f["name"], f.get("self", conv(0)), f.get("total", conv(0))) for f in got.get("topFunctions", [])],
         [(n, conv(s), conv(t)) for n, s, t in want], f"{what}: top functions")
    for f, (_, s_, _) in zip(got.get("topFunctions", []), want):
        c.true(abs(f.get("selfShare", 0) - s_ / tree.total) < 1e-12, f"{what}: selfShare of {f['name']}")
    want_path = hottest_path(tree)
    c.eq([(p["name"], p.get("total", conv(0)), p.get("self", conv(0))) for p in got.get("hottestPath", [])],
         [(n, conv(t), conv(s)) for n, t, s in want_path], f"{what}: hottest path")
    for p, (_, t, _) in zip(got.get("hottestPath", []), want_path):
        c.true(abs(p.get("share", 0) - t / tree.total) < 1e-12, f"{what}: share of {p['name']}")


with Server("-validation.reject-older-than=0", "-querier.max-query-lookback=0") as s:
    st, b, _ = s.ingest(f"name=workload.cpu{{host=a}}&from={now - 10}&until={now}&sampleRate=499", folded.encode(),
                        "text/plain")
    c.eq(st, 200, f"ingest workload.folded {b!r}")
    sel = CPU + '{service_name="workload"}'

    # GET: plain JSON numbers, exact shape.
    st, r = get(s, f"/ember/v1/summary?query={q(sel)}")
    c.eq(st, 200, f"summary GET {r!r}")
    c.eq(list(r.keys()), ["total", "unit", "topFunctions", "hottestPath"], "GET keys")
    c.eq(r["unit"], "nanoseconds", "unit = the type's sample unit")
    c.eq([list(f.keys()) for f in r["topFunctions"]][:1], [["name", "self", "total", "selfShare"]], "function keys")
    c.eq([list(p.keys()) for p in r["hottestPath"]][:1], [["name", "total", "self", "share"]], "path keys")
    c.true(all(isinstance(f["self"], int) for f in r["topFunctions"]), "GET numbers are JSON numbers")
    c.eq(len(r["topFunctions"]), 10, "top defaults to 10")
    check_summary(r, ref, 10, "workload")
    c.eq([f["name"] for f in r["topFunctions"][:2]], ["msort_with_tmp.part.0", "cmp_int"], "the two that dominate")
    # cmp_int: 614 samples as a leaf + 1 under the timer interrupt: self 614, total 615.
    c.eq((r["topFunctions"][1]["self"], r["topFunctions"][1]["total"]), (614 * period, 615 * period), "cmp_int")
    st, r = get(s, f"/ember/v1/summary?query={q(sel)}&top=3&from=now-5m&until=now")
    check_summary(r, ref, 3, "top=3")
    st, r = get(s, f"/ember/v1/summary?query={q(sel)}&top=1000")
    check_summary(r, ref, 1000, "top=1000 (all)")

    # Recursion: a;b;a;b is counted once per function per path.
    rec = "a;b;a;b 7\na;b;a 2\nb 1\nc;a;a;a 5\n"
    st, _, _ = s.ingest(f"name=rec.cpu&from={now}&sampleRate=100", rec.encode(), "text/plain")
    c.eq(st, 200, "ingest recursion sample")
    rt = Tree()
    for frames, v in folded_stacks(rec):
        rt.add(frames, v * 10_000_000)
    rec_sel = q(CPU + '{service_name="rec"}')
    st, r = get(s, f"/ember/v1/summary?query={rec_sel}")
    check_summary(r, rt, 10, "recursion")
    c.eq({f["name"]: f["total"] for f in r["topFunctions"]},
         {"a": 14 * 10_000_000, "b": 10 * 10_000_000, "c": 5 * 10_000_000}, "recursive totals (hand-computed)")

    # Nothing selected: zeros and empty lists.
    nobody = q(CPU + '{service_name="nobody"}')
    st, r = get(s, f"/ember/v1/summary?query={nobody}")
    c.eq((st, r), (200, {"total": 0, "unit": "nanoseconds", "topFunctions": [], "hottestPath": []}), "empty")
    st, r = get(s, f"/ember/v1/summary?query={q(sel)}&from=now-2h&until=now-1h")
    c.eq(r.get("total"), 0, "outside the time range")

    # Connect JSON.
    msg = {"profileTypeID": CPU, "labelSelector": '{service_name="workload"}', "start": str((now - 600) * 1000),
           "end": str((now + 60) * 1000), "top": 4}
    r = s.connect("Summarize", msg, service="ember.v1.AnalysisService")
    check_summary(r, ref, 4, "Connect JSON", string_ints=True)
    c.eq(r.get("unit"), "nanoseconds", "Connect unit")

    # Connect proto, encoded and decoded by protoc itself.
    text = (f'profile_typeID: "{CPU}" label_selector: "{{service_name=\\"workload\\"}}" '
            f"start: {(now - 600) * 1000} end: {(now + 60) * 1000} top: 2")
    enc = subprocess.run(["protoc", f"--proto_path={PROTO_DIR}", "--encode=ember.v1.SummarizeRequest",
                          "analysis.proto"], input=text.encode(), capture_output=True, check=True).stdout
    st, body, hdr = s.request("POST", "/ember.v1.AnalysisService/Summarize", enc,
                              {"Content-Type": "application/proto"})
    c.eq((st, hdr.get("Content-Type")), (200, "application/proto"), "Connect proto")
    dec = subprocess.run(["protoc", f"--proto_path={PROTO_DIR}", "--decode=ember.v1.SummarizeResponse",
                          "analysis.proto"], input=body, capture_output=True, check=True).stdout.decode()
    want = top_functions(ref, 2)
    c.true(f"total: {ref.total}" in dec, f"proto total: {dec[:300]}")
    c.eq(dec.count("top_functions {"), 2, "proto: two functions")
    c.true(f'name: "{want[0][0]}"' in dec and f"self: {want[0][1]}" in dec, "proto: first function")
    c.true('unit: "nanoseconds"' in dec, "proto unit")

    # A Go CPU profile: the same reference, from go tool pprof -raw.
    f = os.path.join(TESTDATA, "go", "svc-cpu-0.pb.gz")
    st, _, _ = s.ingest("name=gosvc&format=pprof", read(f))
    c.eq(st, 200, "ingest Go cpu")
    raw = pprof_raw(f)
    gt = Tree()
    ci = raw["types"].index("cpu/nanoseconds")
    for frames, vals, _ in raw["samples"]:
        gt.add(frames, vals[ci])
    t_ms = raw["time_ns"] // 1_000_000
    go_sel = q(CPU + '{service_name="gosvc"}')
    st, r = get(s, f"/ember/v1/summary?query={go_sel}&from={t_ms - 60000}"
                   f"&until={t_ms + 60000}&top=25")
    c.eq(st, 200, "Go summary")
    check_summary(r, gt, 25, "Go cpu")

    # Errors: 400 with a reason, like the other queries.
    bad = [
        ("", "\"query\" is required"),
        ("query=" + q('{service_name="x"}'), "profile-type selection"),
        ("query=nope", "profile-type selection must be of the form"),
        (f"query={q(CPU + '{a=}')}", "parse error"),
        (f"query={q(sel)}&top=1001", "invalid top 1001"),
        (f"query={q(sel)}&top=-1", "invalid top -1"),
        (f"query={q(sel)}&top=x", "not an integer"),
        (f"query={q(sel)}&from=yesterday", "invalid from"),
        (f"query={q(sel)}&from=now&until=now-1h", "until"),
        (f"query={q(sel)}&from=now-48h", "exceeds the limit"),
    ]
    for qs, msg_part in bad:
        st, r = get(s, "/ember/v1/summary?" + qs)
        c.eq(st, 400, f"GET ?{qs} -> 400")
        c.true(isinstance(r, dict) and r.get("code") == "invalid_argument" and msg_part in r.get("message", ""),
               f"GET ?{qs}: message {r!r} mentions {msg_part!r}")
    for m, msg_part in [({"profileTypeID": CPU, "start": "0", "end": "0"}, "missing time range"),
                        ({"profileTypeID": "x", "start": "1", "end": "2"}, "profile-type selection"),
                        ({"profileTypeID": CPU, "start": "5", "end": "2"}, "after end"),
                        ({"profileTypeID": CPU, "start": "1", "end": "2", "top": 5000}, "invalid top"),
                        ({"profileTypeID": CPU, "labelSelector": "{a=~\"(\"}", "start": "1", "end": "2"}, "regex")]:
        r = s.connect("Summarize", m, service="ember.v1.AnalysisService", expect=400)
        c.true(msg_part in r.get("message", ""), f"Connect {m}: {r!r} mentions {msg_part!r}")
    st, _, hdr = s.request("POST", f"/ember/v1/summary?query={q(sel)}", b"")
    c.eq(st, 405, "POST to the GET endpoint")
    st, _, _ = s.request("GET", "/ember.v1.AnalysisService/Summarize")
    c.eq(st, 405, "GET to the Connect endpoint")

# Tenants: reads take X-Scope-OrgID (and a|b) when multitenancy is on.
with Server("-auth.multitenancy-enabled", "-querier.max-query-lookback=0") as s:
    s.ingest(f"name=workload.cpu&from={now}&sampleRate=499", folded.encode(), "text/plain", tenant="t1")
    sel = q(CPU + "{}")
    st, r = get(s, f"/ember/v1/summary?query={sel}")
    c.eq(st, 401, "no tenant -> 401")
    st, r = get(s, f"/ember/v1/summary?query={sel}", tenant="t2")
    c.eq(r.get("total"), 0, "other tenant sees nothing")
    st, r = get(s, f"/ember/v1/summary?query={sel}", tenant="t2|t1")
    c.eq(r.get("total"), ref.total, "t2|t1 sees t1's data")
c.done()

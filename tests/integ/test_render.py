"""The legacy HTTP reads (pyroscope-api.md §3): GET /pyroscope/render (JSON shape field by
field, flamebearer against the call tree read from `go tool pprof -raw`, numTicks and the
timeline against the -raw totals, groups against the -raw sample labels, DOT),
/pyroscope/render-diff and /pyroscope/label-values, and bad input."""
import glob
import json
import os
import urllib.parse

from lib import Check, Server, TESTDATA, read
from reference import Tree, decode_flamebearer, folded_stacks, pprof_raw

CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
SAMPLES = "process_cpu:samples:count:cpu:nanoseconds"
c = Check("render")


def q(s):
    return urllib.parse.quote(s, safe="")


def get(s, path):
    st, body, hdr = s.request("GET", path)
    ct = hdr.get("Content-Type", "")
    return st, (json.loads(body) if ct.startswith("application/json") else body), ct


cpu_files = sorted(glob.glob(os.path.join(TESTDATA, "go", "svc-cpu-*.pb.gz")))
raws = [pprof_raw(f) for f in cpu_files]


def tree_of(raws_, type_name, label_filter=None):
    t = Tree()
    for raw in raws_:
        i = raw["types"].index(type_name)
        for frames, vals, labels in raw["samples"]:
            if label_filter is None or label_filter(labels):
                t.add(frames, vals[i])
    return t


def check_shape(r, what, fmt="single"):
    c.eq(list(r.keys())[:6], ["version", "flamebearer", "metadata", "timeline", "groups", "heatmap"],
         f"{what}: top-level keys in Pyroscope's order")
    c.eq(r.get("version"), 1, f"{what}: version")
    fb = r.get("flamebearer", {})
    c.eq(list(fb.keys()), ["names", "levels", "numTicks", "maxSelf"], f"{what}: flamebearer keys")
    c.eq(list(r.get("metadata", {}).keys()), ["format", "spyName", "sampleRate", "units", "name"],
         f"{what}: metadata keys")
    c.eq(r["metadata"]["format"], fmt, f"{what}: format")
    c.eq(r["metadata"]["spyName"], "", f"{what}: spyName")
    c.eq(r["heatmap"], None, f"{what}: heatmap null")
    c.eq(fb["names"][0], "total", f"{what}: names[0]")
    width = 4 if fmt == "single" else 7
    c.true(all(len(l) % width == 0 for l in fb["levels"]), f"{what}: {width} ints per node")


with Server("-validation.reject-older-than=0", "-querier.max-query-lookback=0") as s:
    for f in cpu_files:
        st, b, _ = s.ingest("name=svc{env=test}&format=pprof", read(f))
        c.eq(st, 200, f"ingest {os.path.basename(f)} {b[:200]!r}")
    st, b, _ = s.ingest("name=other{env=prod}&format=pprof", read(cpu_files[0]))
    c.eq(st, 200, "ingest as a second service")
    for name in ["heap", "goroutine"]:
        st, b, _ = s.ingest("name=svc{env=test}&format=pprof", read(os.path.join(TESTDATA, "go", f"svc-{name}.pb.gz")))
        c.eq(st, 200, f"ingest {name}")

    times = [r["time_ns"] // 1_000_000 for r in raws]
    t0 = min(times)
    frm, until = t0 - 30 * 60_000, t0 + 30 * 60_000  # one hour: step 15 s (Pyroscope's own test case)
    svc = '{service_name="svc"}'

    # ---- render, cpu nanoseconds over the four profiles ----
    ref = tree_of(raws, "cpu/nanoseconds")
    st, r, ct = get(s, f"/pyroscope/render?query={q(CPU + svc)}&from={frm}&until={until}")
    c.eq((st, ct), (200, "application/json"), f"render status {r if st != 200 else ''}")
    check_shape(r, "cpu")
    fb = r["flamebearer"]
    c.eq(fb["numTicks"], ref.total, "numTicks = go tool pprof -raw total")
    c.eq(decode_flamebearer(fb), ref.paths(), "flamebearer tree = the -raw call tree, node by node")
    c.eq(fb["maxSelf"], max(v[1] for v in ref.paths().values()), "maxSelf")
    c.eq(fb["levels"][0], [0, ref.total, 0, 0], "root level")
    c.eq(r["metadata"], {"format": "single", "spyName": "", "sampleRate": 1000000000, "units": "samples",
                         "name": "cpu"}, "cpu metadata (§3)")
    tl = r["timeline"]
    c.eq(list(tl.keys()), ["startTime", "samples", "durationDelta", "watermarks"], "timeline keys")
    c.eq(tl["durationDelta"], 15, "1 h range -> 15 s step")
    c.eq(tl["watermarks"], None, "watermarks null")
    step = 15
    start = (frm // 1000) // step * step
    c.eq(tl["startTime"], start, "startTime snapped to the step grid")
    c.eq(len(tl["samples"]), ((until // 1000) // step * step - start) // step + 1,
         "one sample per step up to the one holding until")
    c.eq(sum(tl["samples"]), ref.total, "timeline sums to the -raw total")
    want = [0] * len(tl["samples"])
    for raw in raws:
        i = raw["types"].index("cpu/nanoseconds")
        want[(raw["time_ns"] // 1_000_000_000 - start) // step] += sum(v[i] for _, v, _ in raw["samples"])
    c.eq(tl["samples"], want, "each profile in the bucket holding its time")
    c.eq(r["groups"], None, "no groupBy -> groups null")

    # avg: per bucket, the mean of the profile totals in it
    st, r2, _ = get(s, f"/pyroscope/render?query={q(CPU + svc)}&from={frm}&until={until}&aggregation=avg")
    # Each upload is stored as one profile per series (per distinct sample label set), as in
    # Pyroscope, so the mean is over those.
    cnt = [0] * len(want)
    for raw in raws:
        cnt[(raw["time_ns"] // 1_000_000_000 - start) // step] += len({frozenset(l.items()) for _, _, l in raw["samples"]})
    c.eq(r2["timeline"]["samples"], [w // n if n else 0 for w, n in zip(want, cnt)], "aggregation=avg")

    # 24 h range: (86400 s / 1500 = 57.6 s) is on the 1 m rung of calculator.go
    st, r2, _ = get(s, f"/pyroscope/render?query={q(CPU + svc)}&from={t0 - 43_200_000}&until={t0 + 43_200_000}")
    c.eq(r2["timeline"]["durationDelta"], 60, "24 h range -> 60 s step")
    c.eq(sum(r2["timeline"]["samples"]), ref.total, "24 h timeline sum")
    c.eq(r2["timeline"]["startTime"] % 60, 0, "24 h startTime on the grid")

    # samples/count: metadata "objects"-style units per §3 ("samples" sample type -> objects)
    ref_n = tree_of(raws, "samples/count")
    st, r2, _ = get(s, f"/pyroscope/render?query={q(SAMPLES + svc)}&from={frm}&until={until}")
    c.eq(r2["flamebearer"]["numTicks"], ref_n.total, "samples/count numTicks = -raw")
    c.eq(r2["metadata"], {"format": "single", "spyName": "", "sampleRate": 100, "units": "objects",
                          "name": "samples"}, "samples metadata")
    heap = pprof_raw(os.path.join(TESTDATA, "go", "svc-heap.pb.gz"))
    ht = heap["time_ns"] // 1_000_000
    for tid, st_name, units in [("memory:inuse_space:bytes:space:bytes", "inuse_space", "bytes"),
                                ("memory:inuse_objects:count:space:bytes", "inuse_objects", "objects")]:
        st, r2, _ = get(s, f"/pyroscope/render?query={q(tid + svc)}&from={ht - 60000}&until={ht + 60000}")
        i = heap["types"].index(st_name + "/" + tid.split(":")[2])
        c.eq(r2["flamebearer"]["numTicks"], sum(v[i] for _, v, _ in heap["samples"]), f"{st_name} numTicks = -raw")
        c.eq((r2["metadata"]["units"], r2["metadata"]["sampleRate"], r2["metadata"]["name"]), (units, 100, st_name),
             f"{st_name} metadata")

    # groups: by the first groupBy label, "*" for series without it; against -raw labels
    st, r2, _ = get(s, f"/pyroscope/render?query={q(CPU + svc)}&from={frm}&until={until}"
                       f"&groupBy=endpoint&groupBy=env")
    groups = r2.get("groups") or {}
    want_groups = {}
    for raw in raws:
        i = raw["types"].index("cpu/nanoseconds")
        for _, vals, labels in raw["samples"]:
            k = labels.get("endpoint", "*")
            want_groups[k] = want_groups.get(k, 0) + vals[i]
    want_groups = {k: v for k, v in want_groups.items() if v}
    c.eq(sorted(groups), sorted(want_groups), "group keys = endpoint values (+ * for unlabelled samples)")
    c.eq(list(groups), sorted(groups), "group keys sorted")
    c.eq({k: sum(g["samples"]) for k, g in groups.items()}, want_groups, "each group's timeline sum = -raw")
    c.true(all(g["startTime"] == start and g["durationDelta"] == 15 and len(g["samples"]) == len(want)
               for g in groups.values()), "groups share the main timeline's grid")
    c.eq(sum(r2["timeline"]["samples"]), ref.total, "main timeline is the whole selection")
    c.eq(r2["flamebearer"]["numTicks"], ref.total, "groupBy does not change the flame graph")

    # selector narrows the flame graph
    sel = '{service_name="svc", endpoint="/logs"}'
    st, r2, _ = get(s, f"/pyroscope/render?query={q(CPU + sel)}&from={frm}&until={until}")
    logs = tree_of(raws, "cpu/nanoseconds", lambda l: l.get("endpoint") == "/logs")
    c.eq(decode_flamebearer(r2["flamebearer"]), logs.paths(), "endpoint=/logs tree = -raw filtered by label")

    # maxNodes: at most that many nodes (the rest folded into "other")
    for param in ["maxNodes", "max-nodes"]:
        st, r2, _ = get(s, f"/pyroscope/render?query={q(CPU + svc)}&from={frm}&until={until}&{param}=10")
        fb2 = r2["flamebearer"]
        kept = [(l[i + 1], fb2["names"][l[i + 3]]) for l in fb2["levels"][1:] for i in range(0, len(l), 4)]
        real = [t for t, n in kept if n != "other"]
        # Pyroscope's cut: nodes below the 10th largest total fold into "other" per parent.
        tenth = sorted([t for t, _ in ref.paths().values()], reverse=True)[9]
        c.true(len(real) < len(ref.paths()) and min(real) >= tenth and "other" in fb2["names"],
               f"{param}=10: {len(real)} real nodes, all >= the 10th largest total, the rest in other")
        c.eq(r2["flamebearer"]["numTicks"], ref.total, f"{param}: total unchanged")

    # empty selection and default range (now..now)
    st, r2, _ = get(s, f"/pyroscope/render?query={q(CPU + '{service_name=' + chr(34) + 'none' + chr(34) + '}')}"
                       f"&from={frm}&until={until}")
    c.eq((r2["flamebearer"]["names"], r2["flamebearer"]["levels"], r2["flamebearer"]["numTicks"]),
         (["total"], [[0, 0, 0, 0]], 0), "empty selection")
    c.eq(sum(r2["timeline"]["samples"]), 0, "empty timeline zero-filled")
    st, r2, _ = get(s, f"/pyroscope/render?query={q(CPU + svc)}")
    c.eq((st, r2["flamebearer"]["numTicks"], r2["timeline"]["durationDelta"], len(r2["timeline"]["samples"])),
         (200, 0, 15, 1), "default from=until=now")

    # ---- DOT ----
    st, body, ct = get(s, f"/pyroscope/render?query={q(CPU + svc)}&from={frm}&until={until}&format=dot")
    text = body.decode()
    c.eq((st, ct), (200, "text/plain; charset=utf-8"), "dot content type")
    c.true(text.startswith(f'digraph "{CPU}" {{') and text.rstrip().endswith("}"), "dot is a digraph")
    n_nodes = text.count('id="node')
    funcs = set()
    for frames, _, _ in raws[0]["samples"]:
        funcs.update(frames)
    c.true(n_nodes == 100, f"dot: 100 nodes by default (got {n_nodes}; {len(funcs)}+ functions exist)")
    c.true(f"Total: {ref.total}" in text, "dot legend total")
    st, body, _ = get(s, f"/pyroscope/render?query={q(CPU + svc)}&from={frm}&until={until}&format=dot&maxNodes=5")
    c.eq(body.decode().count('id="node'), 5, "dot maxNodes=5")
    st, body, _ = get(s, f"/pyroscope/render?query={q(CPU + svc)}&format=dot")
    c.eq((st, body), (200, b""), "dot of nothing is empty, as Pyroscope")

    # ---- render-diff ----
    left = tree_of(raws[:1], "cpu/nanoseconds")
    right = tree_of(raws[1:2], "cpu/nanoseconds")
    lf, lu = times[0] - 1000, times[0] + 1000
    rf, ru = times[1] - 1000, times[1] + 1000
    st, r, ct = get(s, f"/pyroscope/render-diff?leftQuery={q(CPU + svc)}&leftFrom={lf}&leftUntil={lu}"
                       f"&rightQuery={q(CPU + svc)}&rightFrom={rf}&rightUntil={ru}")
    c.eq((st, ct), (200, "application/json"), f"render-diff {r if st != 200 else ''}")
    check_shape(r, "diff", "double")
    c.eq((r["timeline"], r["groups"]), (None, None), "diff: timeline and groups null")
    c.eq((r["leftTicks"], r["rightTicks"]), (left.total, right.total), "leftTicks/rightTicks = -raw totals")
    c.eq(r["flamebearer"]["numTicks"], left.total + right.total, "diff numTicks = left + right")
    c.eq(decode_flamebearer(r["flamebearer"], 7, 0), left.paths(), "diff left side = -raw tree of profile 0")
    c.eq(decode_flamebearer(r["flamebearer"], 7, 1), right.paths(), "diff right side = -raw tree of profile 1")
    c.eq(r["metadata"]["format"], "double", "diff format")
    # Other service on the right: the same file as left.
    st, r, _ = get(s, f"/pyroscope/render-diff?leftQuery={q(CPU + svc)}&leftFrom={lf}&leftUntil={lu}"
                      f"&rightQuery={q(CPU + '{service_name=' + chr(34) + 'other' + chr(34) + '}')}"
                      f"&rightFrom={lf}&rightUntil={lu}")
    c.eq((r["leftTicks"], r["rightTicks"]), (left.total, left.total), "diff across services")
    st, r, _ = get(s, f"/pyroscope/render-diff?leftQuery={q(CPU + svc)}&rightQuery={q(SAMPLES + svc)}")
    c.eq(st, 400, "diff of different types -> 400")
    c.true("profile types must match" in r.get("message", ""), f"diff type message {r}")

    # ---- label-values ----
    def lv(qs):
        st, r, _ = get(s, "/pyroscope/label-values?" + qs)
        return r if st == 200 else (st, r)

    all_types = sorted({CPU, SAMPLES, "memory:inuse_space:bytes:space:bytes", "memory:inuse_objects:count:space:bytes",
                        "memory:alloc_space:bytes:space:bytes", "memory:alloc_objects:count:space:bytes",
                        "goroutines:goroutine:count:goroutine:count"})
    c.eq(lv("label=__name__"), all_types, "__name__ -> profile type IDs")
    c.eq(lv("label=service_name"), ["other", "svc"], "service_name values")
    c.eq(lv("label=env"), ["prod", "test"], "env values")
    endpoints = sorted({l["endpoint"] for raw in raws for _, _, l in raw["samples"] if "endpoint" in l})
    c.eq(lv("label=endpoint&query=" + q(CPU + svc)), endpoints, "endpoint values = -raw labels")
    c.eq(lv("label=service_name&query=" + q('{env="prod"}')), ["other"], "query filter (bare selector)")
    c.eq(lv("label=__name__&query=" + q('{service_name="other"}')), sorted([CPU, SAMPLES]), "types of one service")
    c.eq(lv("label=env&query=" + q("goroutines:goroutine:count:goroutine:count{}")), ["test"], "typed query filter")
    c.eq(lv("label=nosuchlabel"), [], "unknown label -> []")
    c.eq(lv("label=env&from=now-1m&until=now"), [], "time range excludes the old profiles")
    c.eq(lv(f"label=env&from={frm}&until={until}"), ["prod", "test"], "time range includes them")

    # ---- bad input ----
    bad = [
        ("/pyroscope/render", '"query" is required'),
        ("/pyroscope/render?query=" + q("{a=\"b\"}"), "profile-type selection"),
        ("/pyroscope/render?query=cpu", "profile-type selection must be of the form"),
        ("/pyroscope/render?query=" + q(CPU + "{a=~\"(\"}"), "invalid regex"),
        ("/pyroscope/render?query=" + q(CPU + "{a=}"), "parse error"),
        ("/pyroscope/render?query=" + q(CPU) + "&from=garbage", "invalid from"),
        ("/pyroscope/render?query=" + q(CPU) + "&until=now-1h", "until"),
        ("/pyroscope/render?query=" + q(CPU) + "&from=now-3d", "exceeds the limit"),
        ("/pyroscope/render?query=" + q(CPU) + "&maxNodes=abc", "not an integer"),
        ("/pyroscope/render?query=" + q(CPU) + "&maxNodes=-5", "max flamegraph nodes"),
        ("/pyroscope/render?query=" + q(CPU) + "&max-nodes=2000000", "greater than allowed"),
        ("/pyroscope/render?query=" + q(CPU) + "&aggregation=median", "aggregation"),
        ("/pyroscope/render?query=%zz", "malformed"),
        ("/pyroscope/render-diff?leftQuery=" + q(CPU), '"rightQuery" is required'),
        ("/pyroscope/render-diff?rightQuery=" + q(CPU), '"leftQuery" is required'),
        ("/pyroscope/render-diff?leftQuery=" + q(CPU) + "&rightQuery=" + q(CPU) + "&rightFrom=x", "invalid rightFrom"),
        ("/pyroscope/label-values", "label parameter is required"),
        ("/pyroscope/label-values?label=a&query=" + q("{a="), "parse error"),
    ]
    for path, part in bad:
        st, r, _ = get(s, path)
        c.eq(st, 400, f"{path} -> 400")
        c.true(isinstance(r, dict) and r.get("code") == "invalid_argument" and part in r.get("message", ""),
               f"{path}: {r!r} mentions {part!r}")
    for path in ["/pyroscope/render", "/pyroscope/render-diff", "/pyroscope/label-values"]:
        st, _, hdr = s.request("POST", path + "?query=" + q(CPU), b"")
        c.eq((st, hdr.get("Allow")), (405, "GET, HEAD"), f"POST {path} -> 405")
c.done()

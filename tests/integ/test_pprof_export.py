"""SelectMergeProfile: the merged pprof Ember answers reads, with `go tool pprof -raw`, as the
profiles that went in. For each real Go profile and the Node.js SDK captures: the same total
per sample type and the same value per stack, where a stack is compared frame by frame as
go tool pprof prints it (function name, file, line, start line, system name; addresses and
ids left out, they are renumbered). Several profiles of one service merge like
`go tool pprof -proto a b c d`. The JSON codec gives the same profile; bad requests get 400."""
import collections
import glob
import json
import os
import re
import subprocess

from lib import OUT, Check, Server, TESTDATA, go_pprof_raw_totals, read

c = Check("pprof export")
SMP = "/querier.v1.QuerierService/SelectMergeProfile"


# ---- a few protobuf bytes by hand (request encoding) ------------------------------------
def pb_varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_field(num, value):
    if isinstance(value, int):
        return pb_varint(num << 3) + pb_varint(value)
    if isinstance(value, str):
        value = value.encode()
    return pb_varint(num << 3 | 2) + pb_varint(len(value)) + value


def smp_request(type_id, selector, start, end, max_nodes=0, call_site=()):
    b = pb_field(1, type_id) + pb_field(2, selector) + pb_field(3, start) + pb_field(4, end)
    if max_nodes:
        b += pb_field(5, max_nodes)
    if call_site:  # StackTraceSelector{repeated Location{string name=1} call_site=1}
        b += pb_field(6, b"".join(pb_field(1, pb_field(1, n)) for n in call_site))
    return b


# ---- go tool pprof -raw, parsed -------------------------------------------------------
LOC_RE = re.compile(r"^\s*(\d+): 0x([0-9a-f]+) (?:M=\d+ )?(?:\[F\] )?(.*)$")
SAMPLE_RE = re.compile(r"^\s*(-?\d+(?:\s+-?\d+)*): ((?:\d+ )*)\s*$")


def pprof_raw(path):
    """(sample type names, [(values, stack)]) with stack a tuple of frames, leaf first; a
    frame is 'name file:line s=start(system name)' as -raw prints a location line, or the
    address for a location without lines."""
    out = subprocess.run(["go", "tool", "pprof", "-raw", path], capture_output=True, text=True, check=True).stdout
    types, samples, locs = None, [], {}
    section, cur = None, None
    for line in out.splitlines():
        if line.startswith("Samples:"):
            section = "samples"
            continue
        if line.startswith("Locations"):
            section = "locations"
            continue
        if line.startswith("Mappings"):
            section = "mappings"
            continue
        if section == "samples":
            if types is None:
                types = [t.replace("[dflt]", "") for t in line.split()]
                continue
            m = SAMPLE_RE.match(line)
            if m:
                samples.append(([int(v) for v in m.group(1).split()], [int(i) for i in m.group(2).split()]))
        elif section == "locations":
            m = LOC_RE.match(line)
            if m:
                cur = int(m.group(1))
                locs[cur] = [m.group(3)] if m.group(3) else ["0x" + m.group(2)]
            elif line.strip() and cur is not None:
                locs[cur].append(line.strip())
    stacks = [(vals, tuple(f for i in ids for f in locs[i])) for vals, ids in samples]
    return types, stacks


def per_stack(stacks, index):
    """Counter stack -> sum of values[index], zero values left out (Ember stores none)."""
    cnt = collections.Counter()
    for vals, st in stacks:
        if vals[index]:
            cnt[st] += vals[index]
    return +cnt


def compare(got, want, what):
    c.eq(sum(got.values()), sum(want.values()), f"{what}: total")
    c.eq(len(got), len(want), f"{what}: distinct stacks")
    diff = [(st, got.get(st), want.get(st)) for st in set(got) | set(want) if got.get(st) != want.get(st)]
    c.true(not diff, f"{what}: every stack has the same value ({len(diff)} differ, e.g. {diff[:1]!r})")


def types_of(s, service):
    r = s.connect("Series", {"matchers": [f'{{service_name="{service}"}}'], "labelNames": ["__profile_type__"]})
    return sorted(ls["labels"][0]["value"] for ls in r.get("labelsSet", []))


def select_merge_profile(s, type_id, selector, start, end, name, max_nodes=0, call_site=()):
    status, body, hdrs = s.request("POST", SMP, smp_request(type_id, selector, start, end, max_nodes, call_site),
                                   {"Content-Type": "application/proto"})
    c.eq(status, 200, f"{name}: SelectMergeProfile status ({body[:200]!r})")
    c.eq(hdrs.get("Content-Type"), "application/proto", f"{name}: content type")
    path = os.path.join(OUT, name + ".pb")
    with open(path, "wb") as f:
        f.write(body)
    return path


def time_range(s):
    st = s.connect("GetProfileStats", {})
    return int(st["oldestProfileTime"]) - 1000, int(st["newestProfileTime"]) + 1000


def expected_for(type_id, files):
    """Per-stack values of the sample type of type_id summed over files (each parsed)."""
    want = collections.Counter()
    parts = type_id.split(":")
    for f in files:
        types, stacks = pprof_raw(f)
        key = f"{parts[1]}/{parts[2]}"
        if key in types:
            want.update(per_stack(stacks, types.index(key)))
    return want


# The testdata is from a fixed day: no ingestion window, no query lookback.
with Server("-validation.reject-older-than=0", "-validation.max-profile-stacktrace-samples=0",
            "-querier.max-query-lookback=0") as s:
    # 1. Each Go profile on its own (one service per file).
    files = sorted(glob.glob(os.path.join(TESTDATA, "go", "*.pb.gz")))
    c.true(len(files) >= 9, "Go testdata present")
    for f in files:
        base = os.path.basename(f).split(".")[0]
        status, resp, _ = s.ingest(f"name=pp-{base}&format=pprof", read(f))
        c.eq(status, 200, f"ingest {base}: {resp[:200]!r}")
    # The merge: the four CPU profiles into one service.
    cpu = sorted(f for f in files if "svc-cpu-" in f)
    for f in cpu:
        status, resp, _ = s.ingest("name=merged{}&format=pprof", read(f))
        c.eq(status, 200, f"ingest {f} into merged")
    start, end = time_range(s)

    for f in files:
        base = os.path.basename(f).split(".")[0]
        tids = types_of(s, f"pp-{base}")
        c.true(len(tids) >= 1, f"{base}: has profile types")
        types, stacks = pprof_raw(f)
        raw_totals = go_pprof_raw_totals(f)
        for tid in tids:
            parts = tid.split(":")
            key = f"{parts[1]}/{parts[2]}"
            name = f"{base}-{parts[1]}"
            path = select_merge_profile(s, tid, f'{{service_name="pp-{base}"}}', start, end, name)
            got_types, got_stacks = pprof_raw(path)
            c.eq(got_types, [key], f"{name}: sample type")
            c.eq(go_pprof_raw_totals(path), {key: raw_totals[key]}, f"{name}: total vs go tool pprof -raw of the original")
            compare(per_stack(got_stacks, 0), per_stack(stacks, types.index(key)), name)

    # 2. Four CPU profiles merged, against go tool pprof's own merge.
    merged = os.path.join(OUT, "go-merged.pb.gz")
    with open(merged, "wb") as out:
        subprocess.run(["go", "tool", "pprof", "-proto"] + cpu, stdout=out, stderr=subprocess.DEVNULL, check=True)
    types, stacks = pprof_raw(merged)
    for tid in ["process_cpu:cpu:nanoseconds:cpu:nanoseconds", "process_cpu:samples:count:cpu:nanoseconds"]:
        parts = tid.split(":")
        path = select_merge_profile(s, tid, '{service_name="merged"}', start, end, "merged-" + parts[1])
        got_types, got_stacks = pprof_raw(path)
        compare(per_stack(got_stacks, 0), per_stack(stacks, types.index(f"{parts[1]}/{parts[2]}")),
                f"4 CPU profiles merged ({parts[1]}) vs go tool pprof -proto")
        # Metadata as Pyroscope sets it.
        head = subprocess.run(["go", "tool", "pprof", "-raw", path], capture_output=True, text=True).stdout
        c.true("PeriodType: cpu nanoseconds" in head and "Period: 1000000000" in head,
               f"merged {parts[1]}: period type and period")

    # Two services in one query: ids from different partitions must not collide.
    tid = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
    path = select_merge_profile(s, tid, '{service_name=~"pp-svc-cpu-0|pp-svc-cpu-1"}', start, end, "two-services")
    want = expected_for(tid, cpu[:2])
    compare(per_stack(pprof_raw(path)[1], 0), want, "two services in one query")

    # Some names and lines, spelled out (go tool pprof -traces prints function names).
    traces = subprocess.run(["go", "tool", "pprof", "-traces", path], capture_output=True, text=True).stdout
    for fn in ["compress/flate.(*compressor).deflate", "main.worker", "runtime/pprof.Do"]:
        c.true(fn in traces, f"-traces shows {fn}")
    frames = {fr for st in want for fr in st}
    c.true(any(fr.startswith("main.compressLogs ") and fr.endswith("main.go:70 s=0") for fr in frames),
           "file and line of main.compressLogs kept")

    # max_nodes: Pyroscope's cut keeps the total and folds the rest into "other".
    path = select_merge_profile(s, tid, '{service_name="merged"}', start, end, "merged-cut", max_nodes=20)
    cut = per_stack(pprof_raw(path)[1], 0)
    full = per_stack(stacks, types.index("cpu/nanoseconds"))
    c.eq(sum(cut.values()), sum(full.values()), "max_nodes=20: same total")
    c.true(len(cut) < len(full), f"max_nodes=20: fewer stacks ({len(cut)} < {len(full)})")
    c.true(any(st[0].startswith("other ") for st in cut), "max_nodes=20: an 'other' leaf frame")
    # Each cut stack is the root end of an original stack, with "other" in place of the rest
    # (whole locations are kept, so inlined frames may make a few more than 20 names).
    roots = {st[i:] for st in full for i in range(len(st) + 1)}
    c.true(all((st[1:] if st[0].startswith("other ") else st) in roots for st in cut),
           "max_nodes=20: every stack is an original stack's root part")
    names = {fr.split(" ")[0] for st in cut for fr in st}
    all_names = {fr.split(" ")[0] for st in full for fr in st}
    c.true(len(names) < 30 < len(all_names), f"max_nodes=20: {len(names)} of {len(all_names)} function names")

    # stack_trace_selector: only the stacks that begin (root first) with the call site.
    site = ("main.worker", "runtime/pprof.Do", "main.worker.func2", "main.compressLogs")
    path = select_merge_profile(s, tid, '{service_name="merged"}', start, end, "merged-callsite", call_site=site)
    want = collections.Counter({st: v for st, v in full.items()
                                if tuple(fr.split(" ")[0] for fr in reversed(st))[:len(site)] == site})
    c.true(0 < sum(want.values()) < sum(full.values()), "call site: a real subset")
    compare(per_stack(pprof_raw(path)[1], 0), want, "stack_trace_selector call site")

    # 3. JSON codec: the same profile as protojson.
    r = s.connect("SelectMergeProfile", {"profileTypeID": tid, "labelSelector": '{service_name="merged"}',
                                         "start": str(start), "end": str(end)})
    st = r["stringTable"]
    c.eq(st[0] if st else None, "", "JSON: string_table[0] is empty")
    c.eq([st[int(r["sampleType"][0]["type"])], st[int(r["sampleType"][0]["unit"])]], ["cpu", "nanoseconds"],
         "JSON: sample type")
    c.eq(sum(int(v) for smp in r["sample"] for v in smp["value"]), sum(full.values()), "JSON: total")
    c.eq(int(r["period"]), 1000000000, "JSON: period (int64 as a string)")
    c.eq(int(r["timeNanos"]), end * 1000000, "JSON: time_nanos is the query end")
    c.eq(int(r["durationNanos"]), (end - start) * 1000000, "JSON: duration_nanos")
    fnames = {st[int(fn["name"])] for fn in r["function"]}
    c.true("main.worker" in fnames, "JSON: function names")

    # An empty selection is a valid, empty profile.
    path = select_merge_profile(s, tid, '{service_name="nobody"}', start, end, "empty")
    c.eq(pprof_raw(path)[1], [], "empty selection: no samples")

    # 4. Bad requests.
    def bad(msg, want, what):
        status, body, _ = s.request("POST", SMP, json.dumps(msg).encode(), {"Content-Type": "application/json"})
        c.eq(status, want, f"{what} ({body[:120]!r})")

    good = {"profileTypeID": tid, "labelSelector": "{}", "start": str(start), "end": str(end)}
    bad(dict(good, start="0"), 400, "no start")
    bad({k: v for k, v in good.items() if k != "end"}, 400, "no end")
    bad(dict(good, start=str(end + 1)), 400, "start after end")
    bad(dict(good, profileTypeID="cpu"), 400, "bad profile type")
    bad(dict(good, profileTypeID=""), 400, "missing profile type")
    bad(dict(good, labelSelector="{service_name=}"), 400, "bad selector")
    bad(dict(good, start=str(end - 25 * 3600 * 1000)), 400, "range over -querier.max-query-length (24h)")
    bad(dict(good, profileIdSelector=["7c9e6679-7425-40de-944b"]), 400, "malformed profile id selector")
    bad(dict(good, traceIdSelector=["x"]), 501, "trace id selector")
    status, _, _ = s.request("POST", SMP, b"\xff\xff", {"Content-Type": "application/proto"})
    c.eq(status, 400, "malformed proto body")
    status, _, _ = s.request("GET", SMP)
    c.eq(status, 405, "GET")

# A range wholly before -querier.max-query-lookback (7d by default): Pyroscope answers an
# empty Profile message.
with Server() as s:
    status, body, _ = s.request("POST", SMP, smp_request("process_cpu:cpu:nanoseconds:cpu:nanoseconds", "{}", 1000,
                                                         2000), {"Content-Type": "application/proto"})
    c.eq((status, body), (200, b""), "range before the lookback: empty profile")

# 5. The Node.js SDK captures (wall and heap), replayed, then exported.
with Server("-validation.reject-older-than=0", "-querier.max-query-lookback=0") as s:
    rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(TESTDATA, "nodejs", "requests.tsv"))]
    paths = []
    for fname, method, url, ctype in rows:
        status, body, _ = s.request(method, url, read(os.path.join(TESTDATA, "nodejs", fname)), {"Content-Type": ctype})
        c.eq(status, 200, f"capture {fname}")
        paths.append(os.path.join(TESTDATA, "nodejs", fname))
    start, end = time_range(s)
    tids = types_of(s, "nodeapp")
    c.eq(len(tids), 4, f"node: four profile types ({tids})")
    for tid in tids:
        parts = tid.split(":")
        path = select_merge_profile(s, tid, '{service_name="nodeapp"}', start, end, f"node-{parts[1]}")
        want = expected_for(tid, paths)
        c.true(sum(want.values()) > 0, f"node {parts[1]}: reference has samples")
        compare(per_stack(pprof_raw(path)[1], 0), want, f"node {parts[1]} (all captures merged)")
c.done()

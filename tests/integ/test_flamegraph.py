"""Flame graphs over the Connect API: SelectMergeStacktraces (FLAMEGRAPH and TREE), Diff,
SelectMergeSpanProfile, Version and the query limits.

Every expected value comes from `go tool pprof -raw` of the ingested files: the stacks
(function names, inline frames expanded outermost first, root first) and their values are
read from -raw's Samples and Locations sections by the parser below, and Ember's answers
are turned back into stacks by a decoder written here from pyroscope-api.md §2.5 (not from
Ember's code)."""
import base64
import collections
import glob
import json
import os
import re
import subprocess
import time

from lib import Check, Server, TESTDATA, read

c = Check("flamegraph")
SMS = "SelectMergeStacktraces"
FAR = str(int(time.time() * 1000) + 10 * 365 * 86400 * 1000)


# ---- reference: go tool pprof -raw ------------------------------------------------------

LINE_RE = re.compile(r"^(.*) (\S*):(-?\d+) s=(-?\d+)(\(.*\))?$")
SAMPLE_RE = re.compile(r"^\s*(-?\d+(?:\s+-?\d+)*):((?:\s+\d+)*)\s*$")


def raw_stacks(path):
    """{sample type "name/unit": {stack tuple (root first): value}} and {type: total}."""
    out = subprocess.run(["go", "tool", "pprof", "-raw", path], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    i = lines.index("Samples:")
    types = [t.replace("[dflt]", "") for t in lines[i + 1].split()]
    samples = []
    j = i + 2
    while not lines[j].startswith("Locations"):
        m = SAMPLE_RE.match(lines[j])
        if m:
            samples.append(([int(v) for v in m.group(1).split()], [int(x) for x in m.group(2).split()]))
        j += 1
    locs = {}
    cur = None
    for line in lines[j + 1:]:
        if line.startswith("Mappings"):
            break
        m = re.match(r"^\s*(\d+): 0x[0-9a-f]+ (?:M=\d+ )?(?:\[F\] )?(.*)$", line)
        if m:
            cur = int(m.group(1))
            locs[cur] = []
            rest = m.group(2)
        else:
            rest = line.strip()
        lm = LINE_RE.match(rest)
        if not lm:
            raise AssertionError(f"unparsed -raw location line {line!r}")
        name = lm.group(1)
        if not name and lm.group(5):
            name = lm.group(5)[1:-1]
        locs[cur].append(name)  # innermost first
    stacks = {t: collections.Counter() for t in types}
    for values, ids in samples:
        frames = []
        for lid in reversed(ids):  # -raw lists the leaf first
            frames.extend(reversed(locs[lid]))  # outermost inline frame first
        for t, v in zip(types, values):
            if v > 0:
                stacks[t][tuple(frames)] += v
    return stacks


# ---- decoders written from the spec -----------------------------------------------------

def decode_levels(fg, width=4, side=0):
    """Levels -> ({stack: self}, nodes by level as (x, total, self, name, path)). For a diff
    (width 7) side 0/1 picks the left/right values; a node's parent is found by x
    containment on a side where the node has a non-zero total."""
    names = fg["names"]
    levels = [[int(v) for v in l.get("values", [])] for l in fg.get("levels", [])]
    n_sides = 2 if width == 7 else 1
    nodes = []  # per level: list of ([(x, total, self) per side], name, path)
    for d, vals in enumerate(levels):
        row, prev_end = [], [0] * n_sides
        for k in range(0, len(vals), width):
            sides = []
            for sd in range(n_sides):
                x = vals[k + 3 * sd] + prev_end[sd]
                total = vals[k + 3 * sd + 1]
                prev_end[sd] = x + total
                sides.append((x, total, vals[k + 3 * sd + 2]))
            name = names[vals[k + width - 1]]
            if d == 0:
                path = ()
            else:
                sd = next((i for i in range(n_sides) if sides[i][1] > 0), None)
                if sd is None:
                    raise AssertionError(f"node {name} at level {d} is empty on every side")
                x, total = sides[sd][0], sides[sd][1]
                parents = [p for p in nodes[d - 1] if p[0][sd][0] <= x and x + total <= p[0][sd][0] + p[0][sd][1]]
                if len(parents) != 1:
                    raise AssertionError(f"node {name} at level {d} x={x}: {len(parents)} parents")
                path = parents[0][2] + (name,)
            row.append((sides, name, path))
        nodes.append(row)
    stacks = collections.Counter()
    out = []
    for row in nodes:
        orow = []
        for sides, name, path in row:
            x, total, self_ = sides[side]
            if self_ > 0:
                stacks[path] += self_
            orow.append((x, total, self_, name, path))
        out.append(orow)
    return stacks, out


def uvarint(b, i):
    shift = v = 0
    while True:
        x = b[i]
        i += 1
        v |= (x & 0x7F) << shift
        shift += 7
        if x < 0x80:
            return v, i


def decode_tree(b):
    """Tree bytes -> {stack: self}; children of each node checked to come in reverse name order."""
    stacks = collections.Counter()
    i = 0
    order_ok = True
    # stack of [path, children left, last child name]
    todo = []
    first = True
    while i < len(b):
        n, i = uvarint(b, i)
        name = b[i:i + n].decode()
        i += n
        self_, i = uvarint(b, i)
        nch, i = uvarint(b, i)
        if first:
            path = ()
            first = False
        else:
            while todo and todo[-1][1] == 0:
                todo.pop()
            parent = todo[-1]
            parent[1] -= 1
            if parent[2] is not None and not name.encode() < parent[2].encode():
                order_ok = False
            parent[2] = name
            path = parent[0] + (name,)
        if self_:
            stacks[path] += self_
        if nch:
            todo.append([path, nch, None])
    return stacks, order_ok


def tree_nodes(stacks):
    """{path prefix: total} of a stack set."""
    totals = collections.Counter()
    for s, v in stacks.items():
        for k in range(1, len(s) + 1):
            totals[s[:k]] += v
    return totals


# ---- the data ---------------------------------------------------------------------------

GO_NAMES = {"svc-cpu": ("process_cpu", "cpu:nanoseconds"), "svc-heap": ("memory", "space:bytes"),
            "svc-allocs": ("memory", "space:bytes"), "svc-mutex": ("mutex", "contentions:count"),
            "svc-block": ("mutex", "contentions:count"), "svc-goroutine": ("goroutines", "goroutine:count")}

cases = []  # (service, file, {type id: stacks})
flags = ["-validation.reject-older-than=0", "-validation.reject-newer-than=0",
         "-validation.max-profile-stacktrace-samples=0", "-querier.max-query-lookback=0",
         "-querier.max-query-length=0"]
with Server(*flags) as s:
    for k, f in enumerate(sorted(glob.glob(os.path.join(TESTDATA, "go", "*.pb.gz")))):
        base = os.path.basename(f)
        name, period = next(v for p, v in GO_NAMES.items() if base.startswith(p))
        svc = f"go{k}"
        status, body, _ = s.ingest(f"name={svc}&format=pprof&spyName=gospy", read(f))
        c.eq(status, 200, f"ingest {base}: {body[:200]!r}")
        st = raw_stacks(f)
        cases.append((svc, base, {f"{name}:{t.replace('/', ':')}:{period}": v for t, v in st.items()}))
    rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(TESTDATA, "nodejs", "requests.tsv"))]
    for k, (fname, method, url, ctype) in enumerate(rows):
        svc = f"node{k}"
        url = url.replace("name=nodeapp", f"name={svc}")
        path = os.path.join(TESTDATA, "nodejs", fname)
        status, body, _ = s.request(method, url, read(path), {"Content-Type": ctype})
        c.eq(status, 200, f"ingest {fname}: {body[:200]!r}")
        st = raw_stacks(path)
        kind = "wall" if "sampleRate" in url else "memory"
        period = "wall:nanoseconds" if kind == "wall" else "inuse_space:bytes"
        cases.append((svc, fname, {f"{kind}:{t.replace('/', ':')}:{period}": v for t, v in st.items()}))

    # 1. Per file and type: total, stacks and per-function self against -raw.
    for svc, fname, types in cases:
        for tid, want in sorted(types.items()):
            want = +want
            total = sum(want.values())
            r = s.connect(SMS, {"profileTypeID": tid, "labelSelector": f'{{service_name="{svc}"}}', "start": "1",
                                "end": FAR, "maxNodes": "1048576"})
            fg = r["flamegraph"]
            c.eq(int(fg.get("total", 0)), total, f"{fname} {tid}: total vs go tool pprof -raw")
            c.eq(fg["names"][0], "total", f"{fname} {tid}: names[0]")
            got, nodes = decode_levels(fg)
            c.eq(dict(got) == dict(want), True, f"{fname} {tid}: decoded stacks equal -raw's "
                 f"({len(got)} vs {len(want)} stacks; first diff "
                 f"{next(iter(set(got.items()) ^ set(want.items())), None)})")
            # Top 20 functions by self (self of a function = values of stacks ending in it).
            self_want, self_got = collections.Counter(), collections.Counter()
            for st, v in want.items():
                self_want[st[-1]] += v
            for row in nodes[1:]:
                for x, t_, sf, name, path in row:
                    self_got[name] += sf
            for fn, v in self_want.most_common(20):
                c.eq(self_got[fn], v, f"{fname} {tid}: self of {fn}")
            c.eq(int(fg.get("maxSelf", 0)), max(want.values()), f"{fname} {tid}: maxSelf is the largest stack self")
            # TREE bytes decode to the same stacks, children in reverse name order.
            r = s.connect(SMS, {"profileTypeID": tid, "labelSelector": f'{{service_name="{svc}"}}', "start": "1",
                                "end": FAR, "maxNodes": "1048576", "format": "PROFILE_FORMAT_TREE"})
            tb = base64.b64decode(r.get("tree", ""))
            tstacks, order_ok = decode_tree(tb)
            c.eq(dict(tstacks) == dict(want), True, f"{fname} {tid}: TREE bytes decode to -raw's stacks")
            c.true(order_ok, f"{fname} {tid}: TREE children in reverse name order")

    # 2. max_nodes: totals stay, kept nodes are exactly those with the largest totals.
    svc, fname, types = cases[0]
    tid = sorted(types)[1]
    want = types[tid]
    totals = tree_nodes(want)
    for max_nodes in (5, 50, 300):
        r = s.connect(SMS, {"profileTypeID": tid, "labelSelector": f'{{service_name="{svc}"}}', "start": "1",
                            "end": FAR, "maxNodes": str(max_nodes)})
        fg = r["flamegraph"]
        got, nodes = decode_levels(fg)
        c.eq(int(fg["total"]), sum(want.values()), f"max_nodes={max_nodes}: total kept")
        c.eq(sum(got.values()), sum(want.values()), f"max_nodes={max_nodes}: self values sum to the total")
        kth = sorted(totals.values(), reverse=True)[max_nodes - 1] if len(totals) > max_nodes else 0
        want_kept = {p for p, v in totals.items() if v >= kth and "other" not in p}
        got_kept = {n[4] for row in nodes[1:] for n in row if n[3] != "other"}
        c.eq(got_kept == want_kept, True, f"max_nodes={max_nodes}: kept nodes are the top totals "
             f"({len(got_kept)} vs {len(want_kept)})")
        tb = base64.b64decode(s.connect(SMS, {"profileTypeID": tid, "labelSelector": f'{{service_name="{svc}"}}',
                                              "start": "1", "end": FAR, "maxNodes": str(max_nodes),
                                              "format": "PROFILE_FORMAT_TREE"}).get("tree", ""))
        tstacks, _ = decode_tree(tb)
        c.eq(sum(tstacks.values()), sum(want.values()), f"max_nodes={max_nodes}: TREE total kept")
    # Default max_nodes is 8192 and is applied: a profile with more nodes gets "other".
    big = max(((svc, t, st) for svc, _, ty in cases for t, st in ty.items()), key=lambda x: len(tree_nodes(x[2])))
    r = s.connect(SMS, {"profileTypeID": big[1], "labelSelector": f'{{service_name="{big[0]}"}}', "start": "1",
                        "end": FAR})
    n_nodes = sum(len(l.get("values", [])) // 4 for l in r["flamegraph"]["levels"]) - 1
    c.true(n_nodes <= max(8192, 0) + 200, f"default max_nodes bounds the answer ({n_nodes} nodes)")

    # 3. Call site: only stacks starting with the path, whole.
    svc, fname, types = cases[0]
    tid = sorted(types)[1]
    want = types[tid]
    prefix = max(tree_nodes(want).items(), key=lambda kv: (len(kv[0]) == 2, kv[1]))[0]
    r = s.connect(SMS, {"profileTypeID": tid, "labelSelector": f'{{service_name="{svc}"}}', "start": "1",
                        "end": FAR, "maxNodes": "1048576",
                        "stackTraceSelector": {"callSite": [{"name": n} for n in prefix]}})
    got, _ = decode_levels(r["flamegraph"])
    c.eq(dict(got), {st: v for st, v in want.items() if st[:len(prefix)] == prefix}, f"call site {prefix}")

    # PPROF format: the merged profile itself (built by query/pprof_export), same total.
    r = s.connect(SMS, {"profileTypeID": tid, "labelSelector": f'{{service_name="{svc}"}}', "start": "1",
                        "end": FAR, "maxNodes": "1048576", "format": "PROFILE_FORMAT_PPROF"})
    prof = r.get("pprof", {}).get("profile", {})
    c.eq(sum(int(smp["value"][0]) for smp in prof.get("sample", [])), sum(want.values()), "PPROF format: total")

    # 4. Empty answers.
    r = s.connect(SMS, {"profileTypeID": tid, "labelSelector": '{service_name="nope"}', "start": "1", "end": FAR})
    c.eq(r["flamegraph"]["names"], ["total"], "empty: names")
    c.eq(r["flamegraph"]["levels"], [{"values": ["0", "0", "0", "0"]}], "empty: levels")
    r = s.connect(SMS, {"profileTypeID": tid, "labelSelector": '{service_name="nope"}', "start": "1", "end": FAR,
                        "format": "PROFILE_FORMAT_TREE"})
    c.eq(r.get("tree", ""), "", "empty TREE is zero bytes")
    r = s.connect("SelectMergeSpanProfile", {"profileTypeID": tid, "labelSelector": "{}", "start": "1", "end": FAR,
                                             "spanSelector": ["0123456789abcdef"]})
    c.eq(r["flamegraph"]["names"], ["total"], "SelectMergeSpanProfile: no sample has that span -> empty")
    r = s.connect(SMS, {"profileTypeID": tid, "labelSelector": "{}", "start": "1", "end": FAR,
                        "spanSelector": ["0123456789abcdef"]})
    c.eq(r["flamegraph"]["names"], ["total"], "SelectMergeStacktraces with an unknown span -> empty")
    r = s.connect(SMS, {"profileTypeID": tid, "labelSelector": "{}", "start": "1", "end": FAR,
                        "profileIdSelector": ["x"]}, expect=400)
    c.true("not a UUID" in r["message"], "malformed profile_id_selector -> 400")
    r = s.connect(SMS, {"profileTypeID": tid, "labelSelector": "{}", "start": "1", "end": FAR,
                        "traceIdSelector": ["x"]}, expect=501)
    c.true("not supported" in r["message"], "trace_id_selector -> 501")

    # 5. Diff of two time ranges: the cpu profiles, one service, split by their times.
    cpu = sorted(glob.glob(os.path.join(TESTDATA, "go", "svc-cpu-*.pb.gz")))[:2]
    times = []
    for f in cpu:
        s.ingest("name=cpudiff&format=pprof", read(f))
        head = subprocess.run(["go", "tool", "pprof", "-raw", f], capture_output=True, text=True).stdout
        tline = next(l for l in head.splitlines() if l.startswith("Time:"))
        ts = subprocess.run(["date", "-d", tline[5:].strip().replace(" UTC", "").rsplit(" ", 1)[0] + " UTC",
                             "+%s%N"], capture_output=True, text=True).stdout.strip()
        times.append(int(ts) // 1000000)
    c.true(abs(times[1] - times[0]) > 1000, f"cpu profiles apart in time ({times})")
    tid = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
    left_want, right_want = raw_stacks(cpu[0])["cpu/nanoseconds"], raw_stacks(cpu[1])["cpu/nanoseconds"]

    def side(t):
        return {"profileTypeID": tid, "labelSelector": '{service_name="cpudiff"}', "start": str(t - 500),
                "end": str(t + 500), "maxNodes": "1048576"}
    r = s.connect("Diff", {"left": side(times[0]), "right": side(times[1])})
    d = r["flamegraph"]
    c.eq(int(d.get("leftTicks", 0)), sum(left_want.values()), "diff leftTicks")
    c.eq(int(d.get("rightTicks", 0)), sum(right_want.values()), "diff rightTicks")
    c.eq(int(d["total"]), sum(left_want.values()) + sum(right_want.values()), "diff total = L + R")
    gl, nl = decode_levels(d, width=7, side=0)
    gr, nr = decode_levels(d, width=7, side=1)
    c.eq(dict(gl), dict(+left_want), "diff: left stacks")
    c.eq(dict(gr), dict(+right_want), "diff: right stacks")
    c.eq([[n[4] for n in row] for row in nl], [[n[4] for n in row] for row in nr], "diff: both sides aligned")
    c.eq(int(d["maxSelf"]), max(max(left_want.values()), max(right_want.values())), "diff maxSelf over both")
    r = s.connect("Diff", {"left": side(times[0]), "right": dict(side(times[1]), profileTypeID=
                  "process_cpu:samples:count:cpu:nanoseconds")}, expect=400)
    c.true("same profile type" in r["message"], f"diff of two types -> 400 ({r['message']})")

    # 6. Version.
    c.eq(s.connect("Version", {}, service="version.v1.Version"), {"QuerierAPI": "1"}, "version.v1.Version")

# 7. Limits and bad queries (default limits).
with Server("-validation.reject-older-than=0") as s:
    now = int(time.time() * 1000)
    tid = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
    ok = {"profileTypeID": tid, "labelSelector": "{}", "start": str(now - 3600_000), "end": str(now)}
    s.connect(SMS, ok)
    bad = [
        (dict(ok, profileTypeID="nope"), "profile type"),
        (dict(ok, profileTypeID=""), "profile type"),
        (dict(ok, labelSelector='{service_name="x"'), "label selector"),
        (dict(ok, labelSelector="{a=~\"(\"}"), "label selector"),
        (dict(ok, start=str(now), end=str(now - 1000)), "start time is after end time"),
        (dict(ok, start="0"), "missing time range"),
        (dict(ok, maxNodes="2000000"), "greater than allowed 1048576"),
        (dict(ok, maxNodes="-1"), "max flamegraph nodes"),
        (dict(ok, start=str(now - 25 * 3600_000)), "max_query_length"),
    ]
    for msg, want in bad:
        status, body, _ = s.request("POST", f"/querier.v1.QuerierService/{SMS}", json.dumps(msg).encode(),
                                    {"Content-Type": "application/json"})
        c.eq(status, 400, f"bad query {want}: status")
        c.true(want in body.decode(), f"bad query: message mentions {want!r}: {body[:200]!r}")
    # A range entirely before the 7-day lookback is empty, not an error.
    r = s.connect(SMS, dict(ok, start=str(now - 10 * 86400_000), end=str(now - 9 * 86400_000)))
    c.eq(r["flamegraph"]["names"], ["total"], "range before the lookback -> empty")
    # A start before the lookback is clamped, so 30 days back is not "too long".
    r = s.connect(SMS, dict(ok, start=str(now - 30 * 86400_000), end=str(now - 7 * 86400_000 + 3600_000)))
    c.eq(r["flamegraph"]["names"], ["total"], "clamped start -> allowed")

# 8. Tenants.
with Server("-validation.reject-older-than=0", "-auth.multitenancy-enabled=true", "-querier.max-query-lookback=0",
            "-querier.max-query-length=0") as s:
    f = os.path.join(TESTDATA, "go", "svc-cpu-0.pb.gz")
    want = raw_stacks(f)["cpu/nanoseconds"]
    c.eq(s.ingest("name=svc&format=pprof", read(f), tenant="alice")[0], 200, "ingest as alice")
    msg = {"profileTypeID": "process_cpu:cpu:nanoseconds:cpu:nanoseconds", "labelSelector": "{}", "start": "1",
           "end": FAR, "maxNodes": "1048576"}
    c.eq(int(s.connect(SMS, msg, tenant="alice")["flamegraph"]["total"]), sum(want.values()), "alice sees hers")
    c.eq(s.connect(SMS, msg, tenant="bob")["flamegraph"]["names"], ["total"], "bob sees nothing")
    c.eq(int(s.connect(SMS, msg, tenant="bob|alice")["flamegraph"]["total"]), sum(want.values()),
         "bob|alice reads both")
    s.connect(SMS, msg, expect=401)
c.done()

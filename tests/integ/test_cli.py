"""`ember query`, the terminal client, against a real server: the perf sample of
../shared/testdata/perf (folded) and a Go CPU profile. Every expected figure is computed here
from the input files (the folded text itself, `go tool pprof`), never taken from Ember."""
import collections
import datetime
import json
import os
import re
import subprocess
import time

from lib import EMBER, Check, Server, TESTDATA, free_port, go_pprof_raw_totals, read, OUT

CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
c = Check("cli")


def run(*args, url=None, expect_rc=0, binary=False):
    """Runs `ember query ARGS --url URL`; returns (rc, stdout, stderr). A sanitizer report
    on stderr fails the check whatever the exit status."""
    cmd = [EMBER, "query"] + list(args) + (["--url", url] if url else [])
    p = subprocess.run(cmd, capture_output=True, timeout=120)
    out = p.stdout if binary else p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
        if marker in err:
            c.true(False, f"sanitizer report from {args}: {err[:2000]}")
    if expect_rc is not None:
        ok = p.returncode == expect_rc if expect_rc == 0 else p.returncode != 0
        c.true(ok, f"{' '.join(args)}: exit {p.returncode} (want {'0' if expect_rc == 0 else 'non-zero'}); "
                   f"stderr: {err[:500]}")
    return p.returncode, out, err


def seconds(ns):
    """Nanoseconds as the CLI prints seconds: two decimals at most, no trailing zeros."""
    return f"{ns / 1e9:.2f}".rstrip("0").rstrip(".") + "s"


# ---- the independent reading of the folded file ----------------------------------------
body = read(os.path.join(TESTDATA, "perf", "workload.folded"))
PERIOD = 1_000_000_000 // 100  # sampleRate 100 (the default): each sample is 1e7 ns
stacks = collections.Counter()
for line in body.decode().splitlines():
    if line.strip():
        st, v = line.rsplit(" ", 1)
        stacks[st] += int(v) * PERIOD
total = sum(stacks.values())
leaf_self = collections.Counter()
for st, v in stacks.items():
    leaf_self[st.split(";")[-1]] += v
ranked = sorted(leaf_self.items(), key=lambda kv: (-kv[1], kv[0]))

# The call tree (root first) and its hottest path: the heaviest child at each level.
tree = {}
for st, v in stacks.items():
    node = tree
    for fr in st.split(";"):
        n = node.setdefault(fr, {"total": 0, "self": 0, "kids": {}})
        n["total"] += v
        last = n
        node = n["kids"]
    last["self"] += v
hot, node = [], tree
while node:
    name, n = max(node.items(), key=lambda kv: kv[1]["total"])
    hot.append((name, n["total"], n["self"]))
    node = n["kids"]

now = int(time.time())
gofile = os.path.join(TESTDATA, "go", "svc-cpu-0.pb.gz")
# The Go profile's own time (it is older than the default window): from go tool pprof -raw.
raw = subprocess.run(["go", "tool", "pprof", "-raw", gofile], capture_output=True, text=True, check=True).stdout
tline = re.search(r"^Time: (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", raw, re.M).group(1)
go_t = int(datetime.datetime.strptime(tline, "%Y-%m-%d %H:%M:%S").replace(tzinfo=datetime.timezone.utc).timestamp())

with Server("-validation.reject-older-than=0", "-querier.max-query-lookback=0", "-querier.max-query-length=0") as s:
    st, b, _ = s.ingest(f"name=workload.cpu&from={now - 60}&until={now}", body, "text/plain")
    c.eq(st, 200, f"folded ingest {b!r}")
    st, b, _ = s.ingest("name=svc&format=pprof", read(gofile))
    c.eq(st, 200, f"go pprof ingest {b!r}")
    U = s.url

    # ---- types, labels, series ----------------------------------------------------------
    _, out, _ = run("types", url=U)
    lines = out.splitlines()
    c.true(lines and lines[0].split()[0] == "PROFILE", f"types header: {out!r}")
    c.true(any(l.split()[0] == CPU for l in lines[1:]), f"types lists {CPU}: {out!r}")
    _, out, _ = run("types", "--output", "json", url=U)
    c.true(CPU in [t["ID"] for t in json.loads(out)["profileTypes"]], "types json")
    _, out, _ = run("types", "--from", str(go_t - 60), "--until", str(go_t + 60), url=U)
    c.true(any(l.startswith("process_cpu:samples:count") for l in out.splitlines()),
           f"types in the Go profile's window: {out!r}")

    _, out, _ = run("labels", url=U)
    c.true("service_name" in out.splitlines(), f"labels: {out!r}")
    _, out, _ = run("labels", "service_name", url=U)
    c.eq(out.splitlines(), ["workload"], "label values in the last hour")
    _, out, _ = run("labels", "service_name", "--from", str(go_t - 60), "--until", str(now), url=U)
    c.eq(out.splitlines(), ["svc", "workload"], "label values over both")
    _, out, _ = run("labels", "service_name", "--type", "memory:alloc_space:bytes:space:bytes", url=U)
    c.eq(out.splitlines(), [], "--type narrows labels")
    _, out, _ = run("labels", "service_name", "--output", "json", url=U)
    c.eq(json.loads(out).get("names"), ["workload"], "labels json")

    _, out, _ = run("series", "--group-by", "service_name", url=U)
    rows = [l for l in out.splitlines()[1:] if l.strip()]
    c.eq(len(rows), 1, f"one series: {out!r}")
    c.true(rows and rows[0].startswith('{service_name="workload"}'), f"series labels: {out!r}")
    secs = seconds(total)
    c.true(rows and rows[0].split()[1] == secs, f"series total {secs}: {out!r}")
    _, out, _ = run("series", "--step", "30s", "--output", "json", url=U)
    c.eq(sum(p["value"] for s_ in json.loads(out)["series"] for p in s_["points"]), total, "series json total")

    # ---- top, hottest-path ---------------------------------------------------------------
    _, out, _ = run("top", url=U)
    lines = out.splitlines()
    hdr = next((i for i, l in enumerate(lines) if l.split()[:1] == ["flat"]), None)
    c.true(hdr is not None, f"top header: {out!r}")
    body_rows = [l.split() for l in lines[hdr + 1:]] if hdr is not None else []
    c.eq([r[-1] for r in body_rows[:2]], ["msort_with_tmp.part.0", "cmp_int"], "top: the first two functions")
    c.eq(ranked[0][0], "msort_with_tmp.part.0", "reference: first by self")
    c.eq(ranked[1][0], "cmp_int", "reference: second by self")
    pct0 = f"{100 * ranked[0][1] / total:.2f}%"
    c.true(body_rows and body_rows[0][1] == pct0, f"top flat% {pct0}: {body_rows[:1]}")
    _, out, _ = run("top", "--limit", "50", "--output", "json", url=U)
    j = json.loads(out)
    c.eq(int(j["total"]), total, "summary total")
    got = {f["name"]: int(f["self"]) for f in j["topFunctions"] if int(f["self"]) > 0}
    c.eq(got, dict(leaf_self), "top: flat of every function = its leaf samples x 1e7")
    _, out, _ = run("top", "--limit", "1", url=U)
    c.eq(len([l for l in out.splitlines() if l.endswith("msort_with_tmp.part.0") or l.endswith("cmp_int")]), 1,
         "--limit 1 prints one row")

    _, out, _ = run("hottest-path", "--output", "json", url=U)
    j = json.loads(out)
    c.eq([(p["name"], int(p["total"]), int(p["self"])) for p in j["hottestPath"]], hot, "hottest path vs the file")
    _, out, _ = run("hottest-path", url=U)
    c.true(any(l.split()[-1:] == [hot[-1][0]] for l in out.splitlines()), f"hottest-path text: {out!r}")

    # ---- flamegraph ----------------------------------------------------------------------
    _, out, _ = run("flamegraph", url=U)
    row = next((l for l in out.splitlines() if l.endswith("msort_with_tmp.part.0")), "")
    msort = stacks["msort_with_tmp.part.0"]
    c.eq(row.split()[:2], [seconds(msort), f"{100 * msort / total:.2f}%"], "flamegraph row for msort")
    c.true(any(l.split()[-1:] == ["total"] and l.split()[1] == "100.00%" for l in out.splitlines()),
           f"flamegraph root: {out!r}")
    # Nodes deeper than --min-share show up when it is lowered; the deepest frame is 7 down.
    _, out, _ = run("flamegraph", "--min-share", "0", url=U)
    c.true(any(l.endswith("_raw_spin_unlock_irq") for l in out.splitlines()), "--min-share 0 shows every node")
    c.true("_raw_spin_unlock_irq" not in run("flamegraph", url=U)[1], "0.5% default hides the 1-sample stack")
    _, out, _ = run("flamegraph", "--output", "json", url=U)
    c.eq(int(json.loads(out)["flamegraph"]["total"]), total, "flamegraph json total")

    # ---- export --------------------------------------------------------------------------
    _, out, _ = run("export", "--format", "folded", url=U)
    got = collections.Counter()
    for l in out.splitlines():
        st_, v = l.rsplit(" ", 1)
        got[st_] += int(v)
    c.eq(dict(got), dict(stacks), "export folded round-trips the input (values x 1e7)")
    _, out, _ = run("export", "--format", "json", url=U)
    c.eq(int(json.loads(out)["flamegraph"]["total"]), total, "export json total")
    pb = os.path.join(OUT, "cli-export.pb")
    _, out, _ = run("export", "--format", "pprof", "--out", pb, url=U)
    c.eq(go_pprof_raw_totals(pb).get("cpu/nanoseconds"), total, "export pprof: go tool pprof -raw total")
    _, out, _ = run("export", "--format", "pprof", url=U, binary=True)
    with open(pb + ".stdout", "wb") as f:
        f.write(out)
    c.eq(go_pprof_raw_totals(pb + ".stdout").get("cpu/nanoseconds"), total, "pprof to stdout")

    # The Go profile: export total and top against go tool pprof on the original file.
    window = ["--from", str(go_t - 60), "--until", str(go_t + 60), "--query", '{service_name="svc"}']
    ref = go_pprof_raw_totals(gofile)
    _, out, _ = run("export", "--format", "pprof", "--out", pb, *window, url=U)
    c.eq(go_pprof_raw_totals(pb).get("cpu/nanoseconds"), ref["cpu/nanoseconds"], "go export: cpu total")
    _, out, _ = run("export", "--format", "pprof", "--out", pb, "--type", "process_cpu:samples:count:cpu:nanoseconds",
                    *window, url=U)
    c.eq(go_pprof_raw_totals(pb).get("samples/count"), ref["samples/count"], "go export: samples total")
    top = subprocess.run(["go", "tool", "pprof", "-top", "-unit=ns", "-nodecount=100000", "-nodefraction=0",
                          "-sample_index=cpu", gofile], capture_output=True, text=True, check=True).stdout
    # pprof lists a function's inlined and out-of-line copies as two rows ("f (inline)"
    # and "f"); Ember names frames by function only, so such functions are left out.
    pp, seen = {}, collections.Counter()
    for l in top.splitlines():
        m = re.match(r"^\s*(\d+)(?:ns)?\s+[\d.]+%\s+[\d.]+%\s+(\d+)(?:ns)?\s+[\d.]+%\s+(.+?)( \(inline\))?$", l)
        if m:
            pp[m.group(3)] = (int(m.group(1)), int(m.group(2)))
            seen[m.group(3)] += 1
    pp = {k: v for k, v in pp.items() if seen[k] == 1}
    _, out, _ = run("top", "--limit", "1000", "--output", "json", *window, url=U)
    ours = {f["name"]: (int(f["self"]), int(f["total"])) for f in json.loads(out)["topFunctions"]}
    c.true(len(pp) > 50, f"go tool pprof -top rows: {len(pp)}")
    c.eq(len(ours), len(pp) + sum(1 for k in seen if seen[k] > 1), "go top: as many functions as pprof")
    c.eq({k: v for k, v in ours.items() if k in pp}, pp, "go top: flat and cum of every function = go tool pprof -top")

    # ---- errors --------------------------------------------------------------------------
    dead = f"http://127.0.0.1:{free_port()}"
    rc, _, err = run("types", url=dead, expect_rc=1)
    c.eq(rc, 1, "unreachable: exit 1")
    c.true(dead in err and len(err.strip().splitlines()) == 1, f"unreachable: one line naming the URL: {err!r}")
    bad = '{a=~"("}'
    want = s.connect("SelectSeries", {"profileTypeID": CPU, "labelSelector": bad, "start": "1", "end": "2",
                                      "step": 1}, expect=400)["message"]
    rc, _, err = run("series", "--query", bad, url=U, expect_rc=1)
    c.true(want in err and "HTTP 400" in err, f"bad selector: the server's message {want!r} in {err!r}")
    rc, _, err = run("top", "--query", bad, url=U, expect_rc=1)
    c.true("HTTP 400" in err and "invalid" in err, f"bad selector on summary: {err!r}")
    rc, _, err = run("nosuch", url=U, expect_rc=2)
    c.eq(rc, 2, "unknown subcommand: exit 2")
    c.true('unknown subcommand "nosuch"' in err, f"unknown subcommand message: {err!r}")
    rc, _, err = run("types", "--nosuch", url=U, expect_rc=2)
    c.true(rc == 2 and "unknown flag --nosuch" in err, f"unknown flag: {err!r}")
    rc, _, err = run("types", "--step", "10s", url=U, expect_rc=2)
    c.true(rc == 2 and "does not apply" in err, f"flag of another subcommand: {err!r}")
    rc, _, err = run("series", "--from", "yesterday", url=U, expect_rc=2)
    c.true(rc == 2 and "bad --from" in err, f"bad time: {err!r}")
    rc, _, err = run("export", url=U, expect_rc=2)
    c.true(rc == 2 and "--format" in err, f"export without format: {err!r}")
    rc, _, err = run("export", "--format", "svg", url=U, expect_rc=2)
    c.true(rc == 2 and "bad --format svg" in err, f"bad format: {err!r}")
    rc, _, err = run("flamegraph", "--min-share", "2", url=U, expect_rc=2)
    c.eq(rc, 2, "min-share over 1")

    # ---- help ----------------------------------------------------------------------------
    _, out, _ = run("--help")
    for sub in ["types", "labels", "series", "flamegraph", "top", "hottest-path", "export"]:
        c.true(re.search(rf"^  {sub}\b", out, re.M) is not None, f"--help lists {sub}")
    _, out, _ = run("top", "--help")
    c.true("--limit" in out and "--step" not in out, f"top --help: {out!r}")
    p = subprocess.run([EMBER, "server", "--help"], capture_output=True, text=True)
    c.true(p.returncode == 0 and "-server.http-listen-port" in p.stdout, "ember server --help still works")
    p = subprocess.run([EMBER, "--help"], capture_output=True, text=True)
    c.true(p.returncode == 0 and "ember query" in p.stdout, "ember --help lists query")

# Tenants: with multitenancy on, --tenant is sent as X-Scope-OrgID.
with Server("-auth.multitenancy-enabled") as s:
    st, _, _ = s.ingest(f"name=tapp.cpu&from={now - 30}&until={now}", b"a;b 3\n", tenant="t1")
    c.eq(st, 200, "tenant ingest")
    rc, _, err = run("labels", "service_name", url=s.url, expect_rc=1)
    c.true("HTTP 401" in err, f"no tenant: 401 shown: {err!r}")
    _, out, _ = run("labels", "service_name", "--tenant", "t1", url=s.url)
    c.eq(out.splitlines(), ["tapp"], "--tenant t1 sees its data")
    _, out, _ = run("labels", "service_name", "--tenant", "t2", url=s.url)
    c.eq(out.splitlines(), [], "--tenant t2 does not")
    _, out, _ = run("export", "--format", "folded", "--tenant", "t1", url=s.url)
    c.eq(out, "a;b 30000000\n", "tenant export folded")
c.done()

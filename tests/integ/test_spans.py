"""Profile ids and span ids: a pprof built here (samples labelled span_id=<16 hex>) is
ingested through /ingest and Push (with RawSample.ID), then span_selector
(SelectMergeSpanProfile FLAMEGRAPH and TREE, SelectMergeStacktraces) and
profile_id_selector (SelectMergeStacktraces, SelectMergeProfile) must give exactly the
stacks of the input, from the head, from blocks after a flush, and after compaction."""
import base64
import json
import subprocess
import time

from lib import EMBER, Check, Server

c = Check("spans")
TYPE = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"


def varint(v):
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, payload):  # length-delimited
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def fint(num, v):
    return varint(num << 3) + varint(v)


def pprof(samples, t_ns):
    """samples: (leaf-first function names, value, span or None)."""
    strings = ["", "cpu", "nanoseconds", "span_id"]

    def sid(s):
        if s not in strings:
            strings.append(s)
        return strings.index(s)

    funcs = {}
    body = b""
    for names, value, span in samples:
        locs = []
        for n in names:
            if n not in funcs:
                funcs[n] = len(funcs) + 1
            locs.append(funcs[n])
        sm = field(1, b"".join(varint(x) for x in locs)) + field(2, varint(value))
        if span is not None:
            sm += field(3, fint(1, sid("span_id")) + fint(2, sid(span)))
        body += field(2, sm)
    for n, i in funcs.items():
        body += field(4, fint(1, i) + fint(1, i) * 0 + field(4, fint(1, i)))  # location id i, line{function i}
        body += field(5, fint(1, i) + fint(2, sid(n)))
    head = field(1, fint(1, 1) + fint(2, 2))  # sample_type cpu/nanoseconds
    tail = fint(9, t_ns) + field(11, fint(1, 1) + fint(2, 2)) + fint(12, 10000000)
    return head + body + b"".join(field(6, s.encode()) for s in strings) + tail


S1, S2 = "0102030405060708", "a1b2c3d4e5f60718"
NOW = time.time_ns()
SAMPLES = [
    (["a", "main"], 10, S1),
    (["b", "main"], 20, S2),
    (["a", "main"], 5, S2),
    (["c", "main"], 7, None),
    (["b", "main"], 3, "zz"),  # not 16 hex digits: no span
]
U1, U2 = "7d444840-9dc0-11d1-b245-5ffdce74fad2", "00112233-4455-4677-8899-aabbccddeeff"


def totals(fg):
    """{function: total} from a flame graph (no recursion in these stacks)."""
    fb = fg.get("flamegraph") or {}
    names = fb.get("names", [])
    out = {}
    for lv in fb.get("levels", []):
        v = [int(x) for x in lv.get("values", [])]
        for i in range(0, len(v), 4):
            out[names[v[i + 3]]] = out.get(names[v[i + 3]], 0) + v[i + 1]
    out.pop("total", None)
    return out


def rng():
    return {"start": str(NOW // 1_000_000 - 3600_000), "end": str(NOW // 1_000_000 + 3600_000)}


def span_fg(s, spans, fmt=None, sel="{}"):
    msg = dict(rng(), profileTypeID=TYPE, labelSelector=sel, spanSelector=spans)
    if fmt:
        msg["format"] = fmt
    return s.connect("SelectMergeSpanProfile", msg)


def stacks(s, sel="{}", **kw):
    return totals(s.connect("SelectMergeStacktraces", dict(rng(), profileTypeID=TYPE, labelSelector=sel, **kw)))


def merge_profile_total(s, ids):
    r = s.connect("SelectMergeProfile", dict(rng(), profileTypeID=TYPE, profileIdSelector=ids))
    return sum(int(v) for smp in r.get("sample", []) for v in smp.get("value", []))


def check_all(s, when):
    want_all = {"main": 45, "a": 15, "b": 23, "c": 7}
    c.eq(stacks(s, '{service_name="ing"}'), want_all, f"{when}: /ingest totals unchanged by spans")
    c.eq(totals(span_fg(s, [S1], sel='{service_name="ing"}')), {"main": 10, "a": 10}, f"{when}: span S1")
    c.eq(totals(span_fg(s, [S2], sel='{service_name="ing"}')), {"main": 25, "a": 5, "b": 20},
         f"{when}: span S2 (ingest)")
    c.eq(totals(span_fg(s, [S1, S2], sel='{service_name="ing"}')), {"main": 35, "a": 15, "b": 20},
         f"{when}: spans S1+S2 (ingest)")
    c.eq(totals(span_fg(s, ["ffffffffffffffff"])), {}, f"{when}: unknown span: empty")
    c.eq(stacks(s, '{service_name="ing"}', spanSelector=[S1]), {"main": 10, "a": 10},
         f"{when}: SelectMergeStacktraces span_selector")
    tr = span_fg(s, [S1], fmt="PROFILE_FORMAT_TREE")
    c.true(len(base64.b64decode(tr.get("tree", ""))) > 0, f"{when}: span TREE has bytes")
    tr = span_fg(s, ["ffffffffffffffff"], fmt="PROFILE_FORMAT_TREE")
    c.eq(tr.get("tree", ""), "", f"{when}: span TREE of an unknown span is empty")
    # profile ids (Push): U1 is the span profile of service push1, U2 a profile of push2.
    c.eq(stacks(s, profileIdSelector=[U1]), want_all, f"{when}: profile_id U1")
    c.eq(stacks(s, profileIdSelector=[U2]), {"main": 4, "x": 4}, f"{when}: profile_id U2")
    c.eq(stacks(s, profileIdSelector=[U1, U2]), {"main": 49, "a": 15, "b": 23, "c": 7, "x": 4},
         f"{when}: profile_id U1+U2")
    c.eq(stacks(s, profileIdSelector=["ffffffff-ffff-4fff-bfff-ffffffffffff"]), {}, f"{when}: unknown id")
    c.eq(merge_profile_total(s, [U2]), 4, f"{when}: SelectMergeProfile profile_id U2")
    c.eq(merge_profile_total(s, [U1]), 45, f"{when}: SelectMergeProfile profile_id U1")


def flush(s):
    st, body, _ = s.request("POST", "/ingester/flush")
    assert st == 200, body


s = Server("-compactor.compaction-interval=0").start()
try:
    raw = pprof(SAMPLES, NOW)
    st, body, _ = s.ingest("name=ing&format=pprof", raw)
    c.eq(st, 200, f"ingest ({body[:200]!r})")
    push = {"series": [
        {"labels": [{"name": "__name__", "value": "process_cpu"}, {"name": "service_name", "value": "push1"}],
         "samples": [{"rawProfile": base64.b64encode(raw).decode(), "ID": U1}]},
        {"labels": [{"name": "__name__", "value": "process_cpu"}, {"name": "service_name", "value": "push2"}],
         "samples": [{"rawProfile": base64.b64encode(pprof([(["x", "main"], 4, None)], NOW)).decode(),
                      "ID": U2}]}]}
    s.connect("Push", push, service="push.v1.PusherService")
    # errors
    st, body, _ = s.request("POST", "/querier.v1.QuerierService/SelectMergeStacktraces",
                            json.dumps(dict(rng(), profileTypeID=TYPE, labelSelector="{}",
                                            profileIdSelector=["nope"])).encode(),
                            {"Content-Type": "application/json"})
    c.eq(st, 400, "malformed profile id: 400")
    st, body, _ = s.request("POST", "/querier.v1.QuerierService/SelectMergeSpanProfile",
                            json.dumps(dict(rng(), profileTypeID=TYPE, labelSelector="{}",
                                            spanSelector=["123"])).encode(),
                            {"Content-Type": "application/json"})
    c.eq(st, 400, "malformed span id: 400")
    # Both /ingest and the U1 Push have S1: the span query over everything sums both.
    c.eq(totals(span_fg(s, [S1], sel="{}")), {"main": 20, "a": 20}, "head: span S1 over both services")
    check_all(s, "head")
    s.stop()
    s.start()
    check_all(s, "after WAL replay")
    flush(s)
    check_all(s, "blocks")
    st, body, _ = s.ingest("name=ing&format=pprof", raw)  # a second request: another id
    flush(s)
    s.stop()
    p = subprocess.run([EMBER, "blocks", "compact", "--tenant", "anonymous", "--dir", s.dir],
                       capture_output=True, text=True, timeout=120)
    c.eq(p.returncode, 0, f"blocks compact ({p.stderr[-300:]})")
    s.start()
    c.eq(totals(span_fg(s, [S1], sel='{service_name="ing"}')), {"main": 20, "a": 20},
         "compacted: two /ingest requests keep both span sets")
    c.eq(stacks(s, profileIdSelector=[U2]), {"main": 4, "x": 4}, "compacted: profile_id U2")
    c.eq(merge_profile_total(s, [U1]), 45, "compacted: SelectMergeProfile U1")
    c.eq(totals(span_fg(s, [S2], sel='{service_name="push1"}')), {"main": 25, "a": 5, "b": 20},
         "compacted: span S2 of push1")
finally:
    s.stop()
c.done()

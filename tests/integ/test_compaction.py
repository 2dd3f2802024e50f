"""Compaction, retention and `ember blocks`: every query answer (types, label names and
values, series, flame graph totals per type, series points per service) is identical after
blocks are compacted, offline (`ember blocks compact` on a stopped server) and by the
server's background loop; kill -9 at random moments during compaction rounds loses no
acknowledged profile and counts none twice; the retention deletes expired blocks; `ember
blocks verify` names a bit-flipped file and exits non-zero."""
import json
import os
import random
import subprocess
import time

from lib import EMBER, Check, Server, TESTDATA, read
from storage_common import FLAGS, CrashLoad, answers, post_all

c = Check("compaction")
TYPE = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"


def same(got, want, what):
    bad = [k for k in want if got.get(k) != want[k]]
    c.eq(sorted(got), sorted(want), f"{what}: same set of answers")
    c.eq(bad, [], f"{what}: every answer identical ({len(want)} compared)")


BASE = int(time.time()) - 3 * 3600


def post_generated(s, rnd):
    """Distinct profiles whose times interleave with every other round's: each round's
    block overlaps all the others."""
    for k in range(8):
        t = BASE + k * 900 + rnd * 10
        body = "".join(f"main;svc{k % 3};work{j};leaf{(j * rnd + k) % 5} {1 + (j + rnd + k) % 7}\n"
                       for j in range(6)).encode()
        st, b, _ = s.ingest(f"name=gen{k % 3}.cpu{{pod=p{k % 2}}}&from={t}&until={t}", body)
        assert st == 200, b


def blocks_of(s, tenant="anonymous"):
    d = os.path.join(s.dir, "blocks", tenant)
    out = {}
    for b in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        if b.startswith("."):
            continue
        out[b] = os.path.exists(os.path.join(d, b, "deletion-mark.json"))
    return out


def flush(s):
    st, body, _ = s.request("POST", "/ingester/flush")
    assert st == 200, body


def cli(*args):
    p = subprocess.run([EMBER, "blocks"] + list(args), capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


# 1. Offline: several overlapping flushes, then `ember blocks compact` on the stopped server.
s = Server(*FLAGS, "-compactor.compaction-interval=0").start()
post_all(s)
for rnd in range(4):
    post_generated(s, rnd)
    flush(s)
before = answers(s)
c.true(len(before["types"]) >= 12, f"types ingested ({len(before['types'])})")
c.eq(len(blocks_of(s)), 4, "four level-1 blocks")
c.eq(s.stop(), 0, "clean stop")
rc, out, err = cli("ls", "--dir", s.dir)
c.eq(rc, 0, f"blocks ls ({err.strip()[:200]})")
c.eq(len([l for l in out.splitlines() if l.startswith("anonymous")]), 4, "ls lists the four blocks")
c.true("TENANT" in out and "PROFILES" in out and "MARKED" in out, "ls table header")
rc, out, err = cli("compact", "--tenant", "anonymous", "--dir", s.dir)
c.eq(rc, 0, f"blocks compact ({err.strip()[-300:]})")
c.true("reading block 4/4" in err and "writing the level-2 block" in err, "compact shows progress on stderr")
c.true("1 compactions (4 blocks merged" in out, f"compact summary ({out.strip()})")
bl = blocks_of(s)
c.eq(sorted(bl.values()), [False, True, True, True, True], "four sources marked, one new block")
rc, out, err = cli("ls", "--dir", s.dir)
rows = [l.split() for l in out.splitlines() if l.startswith("anonymous")]
c.eq(sorted((r[4], r[-1]) for r in rows), [("1", "yes")] * 4 + [("2", "no")], "ls shows levels and marks")
new = [b for b, m in bl.items() if not m][0]
rc, out, err = cli("inspect", new, "--dir", s.dir)
c.eq(rc, 0, "blocks inspect")
c.true('"level": 2' in out and "service_name" in out and "symbols" in out and "PARTITION" in out,
       "inspect shows meta, label names, files and partitions")
s.start()
after = answers(s)
same(after, before, "after offline compaction")
c.true("WAL replayed" in s.log_text(), "restart after compaction")
c.eq(s.stop(), 0, "clean stop")

# 2. The background loop: short interval and deletion delay; sources go away.
s = Server(*FLAGS, "-compactor.compaction-interval=1s", "-compactor.deletion-delay=2s").start()
post_all(s)
for rnd in range(4):
    post_generated(s, rnd)
    flush(s)
before = answers(s)
deadline = time.time() + 30
while time.time() < deadline and list(blocks_of(s).values()) != [False]:
    time.sleep(0.3)
c.eq(list(blocks_of(s).values()), [False], "the loop compacted the blocks and deleted the sources")
same(answers(s), before, "after background compaction")
text = s.request("GET", "/metrics")[1].decode()
# More data on top of the compacted block: compacted again with it.
post_generated(s, 7)
flush(s)
expect = answers(s)
deadline = time.time() + 30
while time.time() < deadline and list(blocks_of(s).values()) != [False]:
    time.sleep(0.3)
c.eq(list(blocks_of(s).values()), [False], "a new block is merged into the compacted one")
meta = json.load(open(os.path.join(s.dir, "blocks", "anonymous", list(blocks_of(s))[0], "meta.json")))
c.eq(meta["compaction"]["level"], 3, "level 3 after two compactions")
c.eq(len(meta["compaction"]["sources"]), 5, "sources: the five head cuts")
same(answers(s), expect, "after the second compaction")
c.eq(s.stop(), 0, "clean stop")
s.start()
same(answers(s), expect, "after a restart")
s.stop()

# 3. kill -9 during compaction rounds: every acknowledged profile exactly once, and the
# answers over the test data unchanged.
# EMBER_TEST_COMPACT_PAUSE_MS widens the window between a new block being durable and its
# sources being marked (store.c), so that random kills often land inside it.
os.environ["EMBER_TEST_COMPACT_PAUSE_MS"] = "60"
s = Server(*FLAGS, "-compactor.compaction-interval=100ms", "-compactor.deletion-delay=1s",
           "-compactor.block-ranges=1m,2m,10m").start()
post_all(s)
flush(s)
reference = answers(s)
load = CrashLoad(s, int(time.time()) - 2400, flush_pause=(0.02, 0.15))


def kill_moment(rnd):
    if rnd % 2 == 0:
        time.sleep(random.uniform(0.4, 1.5))  # any moment
        return
    # Right after a compaction wrote its block: inside the window before the marks.
    mark = len(s.log_text())
    deadline = time.time() + 5
    while time.time() < deadline and 'progress="wrote block' not in s.log_text()[mark:]:
        time.sleep(0.01)
    time.sleep(random.uniform(0.0, 0.15))


for rnd in range(8):
    load.round(lambda: kill_moment(rnd))
time.sleep(1.0)  # one more round or two without a kill
load.check(c, "during compactions", 50)
got = answers(s)
for k in reference:
    if k in ("types", "fg " + TYPE, "series " + TYPE, "services", "series", "names", "pods"):
        continue  # the crash.cpu profiles add to these
    c.eq(got.get(k), reference[k], f"after kill -9 rounds: {k}")
log = s.log_text()
nrounds = log.count("blocks -> ")
c.true(nrounds >= 3, f"compactions ran between the kills ({nrounds})")
resolved = log.count("superseded by")
c.true(resolved >= 1, f"some kills hit between a new block and its source marks, resolved at restart ({resolved})")
levels = [json.load(open(os.path.join(s.dir, "blocks", "anonymous", b, "meta.json")))["compaction"]["level"]
          for b, m in blocks_of(s).items() if not m]
c.true(max(levels) >= 2, f"compacted blocks survive the kills (levels {sorted(levels)})")
s.stop()
del os.environ["EMBER_TEST_COMPACT_PAUSE_MS"]

# 4. Retention: the Go test data (old timestamps) is flushed into its own block and
# expires; fresh data stays.
s = Server(*FLAGS, "-compactor.compaction-interval=1s", "-compactor.deletion-delay=0",
           "-compactor.blocks-retention-period=1h").start()
for f in sorted(os.listdir(os.path.join(TESTDATA, "go"))):
    st, body, _ = s.ingest("name=gosvc{env=prod}&format=pprof", read(os.path.join(TESTDATA, "go", f)))
flush(s)
now = int(time.time())
st, _, _ = s.ingest(f"name=fresh.cpu&from={now}", b"a;b 5\n")
flush(s)
deadline = time.time() + 20
while time.time() < deadline and len(blocks_of(s)) != 1:
    time.sleep(0.3)
c.eq(len(blocks_of(s)), 1, "the expired block is deleted")
svcs = s.connect("LabelValues", {"name": "service_name"}).get("names", [])
c.eq(svcs, ["fresh"], "only the fresh data is left")
c.true("retention" in s.log_text(), "the log says why")
s.stop()

# 5. verify names a damaged file and exits non-zero.
s = Server(*FLAGS, "-compactor.compaction-interval=0").start()
post_all(s)
flush(s)
post_generated(s, 1)
flush(s)
s.stop()
rc, out, err = cli("verify", "--dir", s.dir)
c.eq(rc, 0, f"verify of good blocks ({out.strip()})")
c.eq(out.count("ok  anonymous/"), 2, "both blocks verified")
victim = sorted(blocks_of(s))[0]
path = os.path.join(s.dir, "blocks", "anonymous", victim, "symbols")
data = bytearray(open(path, "rb").read())
data[len(data) // 2] ^= 0x08
open(path, "wb").write(bytes(data))
rc, out, err = cli("verify", "--dir", s.dir)
c.eq(rc, 1, "verify exits 1 on a damaged block")
c.true(f"BAD anonymous/{victim}: symbols" in out, f"verify names the file ({out.strip()})")
rc, out, err = cli("verify", victim, "--dir", s.dir)
c.eq(rc, 1, "verify of the one damaged block")
rc, out, err = cli("verify", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "--dir", s.dir)
c.eq(rc, 1, "verify of an unknown block fails")
rc, out, err = cli("frobnicate", "--dir", s.dir)
c.eq(rc, 2, "unknown subcommand is a usage error")
rc, out, err = cli("compact", "--dir", s.dir)
c.eq(rc, 2, "compact without --tenant is a usage error")
c.done()

"""Long-term storage in S3 mode (-storage.backend=s3 against s3rver, which checks SigV4):
flushed blocks land in the bucket (seen by awscli, an independent client), and a server
started on an empty local directory gets them back from the bucket and answers exactly as
before; the WAL and head stay local. Compaction in S3 mode merges an overlapping second
block, marks and deletes the sources in the bucket, and the result reads back identically."""
import os
import re
import shutil
import subprocess
import time

from lib import EMBER, Check, Server
from s3lib import AWS, KEY, SECRET, S3rver
from storage_common import FAR, FLAGS, answers, post_all, post_day

c = Check("storage s3")
# s3rver logs each answer as "...<path> <status> <time> <bytes>" (the start of the line,
# with the method, is cut off by its logger): 206 is a ranged GET.
BLOCK_FILE = re.compile(r"blocks/[^/\s]+/[0-9A-Z]{26}/(meta\.json|index|symbols|profiles) (\d{3}) \S+ (\S+)")


def requests_since(mark):
    """(file, status, bytes) of each answered request on a block file after log offset mark.
    s3rver writes its line after answering, so wait until the log has been still for 0.5 s."""
    got, still = None, time.time()
    deadline = time.time() + 5
    while time.time() < deadline:
        now = [m.groups() for m in BLOCK_FILE.finditer(s3.log_text()[mark:])]
        if now != got:
            got, still = now, time.time()
        elif time.time() - still >= 0.5:
            break
        time.sleep(0.05)
    return got


def one_series(s, t):
    """A query that touches one series of the block: one pod of daysvc."""
    return s.connect("SelectMergeStacktraces", {"profileTypeID": t, "labelSelector": '{service_name="daysvc", pod="p3"}',
                                                "start": "1", "end": str(FAR), "maxNodes": "100000"}).get("flamegraph")


s3 = S3rver()
try:
    s3flags = ["-storage.backend=s3", f"-storage.s3.endpoint={s3.endpoint}", "-storage.s3.bucket-name=profiles",
               f"-storage.s3.access-key-id={KEY}", f"-storage.s3.secret-access-key={SECRET}",
               "-storage.s3.insecure=true"]
    s = Server(*FLAGS, *s3flags).start()
    post_all(s)
    post_day(s)
    before = answers(s)
    day_type = next(t for t in before["types"] if t.startswith("process_cpu:cpu:"))
    one_before = one_series(s, day_type)
    c.true(one_before and one_before.get("names"), "the one-series query has an answer")
    st, body, _ = s.request("POST", "/ingester/flush")
    c.eq(st, 200, f"flush to S3 ({body!r})")
    env = dict(os.environ, AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET, AWS_DEFAULT_REGION="us-east-1")
    out = subprocess.run([AWS, "--endpoint-url", f"http://{s3.endpoint}", "s3api", "list-objects-v2", "--bucket",
                          "profiles", "--prefix", "blocks/anonymous/"], capture_output=True, text=True, env=env)
    keys = sorted(k.split("/", 3)[3] for k in re.findall(r'"Key": "([^"]+)"', out.stdout))
    c.eq(keys, ["index", "meta.json", "profiles", "symbols"], f"awscli sees one block's files in the bucket ({out.stderr})")
    after = answers(s)
    for k in before:
        c.eq(after[k], before[k], f"after flush: {k}")
    s.stop()
    # A fresh local directory: the WAL is gone, the blocks come back from the bucket.
    local = s.dir
    shutil.rmtree(local)
    os.makedirs(local)
    mark = len(s3.log_text())
    s.start()
    # (1) Ready without downloading: meta.json and index read whole, nothing else.
    at_start = requests_since(mark)
    c.eq(sorted({(f, st) for f, st, _ in at_start}), [("index", "200"), ("meta.json", "200")],
         f"opening reads meta.json and index only, whole ({at_start})")
    c.eq(os.listdir(os.path.join(local, "blocks")), [], "no block is downloaded to the local directory")
    # (2) One series: the symbols and profiles objects are read by ranges (206) only: the
    # 16-byte file header and one section each (daysvc's symbols, pod p3's profiles),
    # after a HEAD of each for its size (200, no body).
    mark = len(s3.log_text())
    c.eq(one_series(s, day_type), one_before, "one-series answer read from the bucket in place")
    q1 = requests_since(mark)
    c.true(not any(f in ("meta.json", "index") for f, _, _ in q1), f"no whole-file reads at query time ({q1})")
    for f in ("symbols", "profiles"):
        ranged = [n for g, st, n in q1 if g == f and st == "206"]
        c.eq(len(ranged), 2, f"{f}: two ranged GETs ({q1})")
        c.true(ranged and ranged[0] == "16b", f"{f}: the first is the 16-byte header ({ranged})")
        c.eq(len([1 for g, st, _ in q1 if g == f and st != "206"]), 1, f"{f}: one HEAD for its size ({q1})")
    mark = len(s3.log_text())
    c.eq(one_series(s, day_type), one_before, "second one-series query")
    q2 = requests_since(mark)
    c.eq([(f, st) for f, st, _ in q2], [("profiles", "206")], f"the second query reads no symbols again ({q2})")
    # (3) Every answer as before.
    again = answers(s)
    for k in before:
        c.eq(again[k], before[k], f"new local dir, blocks read in place from the bucket: {k}")
    c.eq(os.listdir(os.path.join(local, "blocks")), [], "still nothing downloaded after the queries")
    s.stop()
    # `ember blocks verify` and `inspect` read the bucket in place too.
    ulid = re.findall(r'"Key": "blocks/anonymous/([0-9A-Z]{26})/', out.stdout)[0]
    mark = len(s3.log_text())
    p = subprocess.run([EMBER, "blocks", "verify", *s3flags], capture_output=True, text=True, timeout=120)
    c.eq(p.returncode, 0, f"blocks verify on the bucket ({p.stdout} {p.stderr[-300:]})")
    c.true(f"ok  anonymous/{ulid}" in p.stdout, f"verify names the block ({p.stdout})")
    vget = [(f, st) for f, st, _ in requests_since(mark)]
    c.true(("symbols", "206") in vget and ("profiles", "206") in vget, f"verify reads by ranges ({vget})")
    p = subprocess.run([EMBER, "blocks", "inspect", ulid, *s3flags], capture_output=True, text=True, timeout=120)
    c.eq(p.returncode, 0, f"blocks inspect on the bucket ({p.stderr[-300:]})")
    c.true(re.search(r"^profiles\s+\d+$", p.stdout, re.M) is not None, f"inspect shows the file sizes ({p.stdout})")

    # Compaction in S3 mode: a second, overlapping block is merged with the first; the
    # sources are marked and then deleted from the bucket; a fresh local dir reads the result.
    s = Server(*FLAGS, *s3flags, "-compactor.compaction-interval=1s", "-compactor.deletion-delay=2s",
               data_dir=local).start()
    now = int(time.time())
    # An hour ago lies inside the first block's range (the generated day), whatever the
    # test's speed, so the two blocks overlap and are merged first.
    st, _, _ = s.ingest(f"name=second.cpu&from={now - 3600}&until={now - 3590}", b"main;extra 7\n")
    c.eq(st, 200, "second batch")
    c.eq(s.request("POST", "/ingester/flush")[0], 200, "second flush")
    union = answers(s)
    deadline = time.time() + 60
    listing = []
    while time.time() < deadline:
        out = subprocess.run([AWS, "--endpoint-url", f"http://{s3.endpoint}", "s3api", "list-objects-v2", "--bucket",
                              "profiles", "--prefix", "blocks/anonymous/"], capture_output=True, text=True, env=env)
        listing = re.findall(r'"Key": "([^"]+)"', out.stdout)
        ulids = {k.split("/")[2] for k in listing}
        if len(ulids) == 1 and not any(k.endswith("deletion-mark.json") for k in listing):
            break
        time.sleep(1)
    ulids = sorted({k.split("/")[2] for k in listing})
    c.eq(len(ulids), 1, f"one merged block left in the bucket after compaction and deletion ({listing})")
    c.eq(answers(s), union, "answers unchanged by compaction")
    s.stop()
    shutil.rmtree(local)
    os.makedirs(local)
    s.start()
    c.eq(answers(s), union, "a fresh local dir reads the compacted block from the bucket")
    s.stop()

    # (4) Compaction of blocks that are only in the bucket (opened in place): a third block
    # written locally is merged with the remote one; the result reads back identically.
    s.start()
    c.eq(os.listdir(os.path.join(local, "blocks")), [], "the compacted block is read in place")
    st, _, _ = s.ingest(f"name=third.cpu&from={now - 3500}&until={now - 3490}", b"main;third 5\n")
    c.eq(st, 200, "third batch")
    c.eq(s.request("POST", "/ingester/flush")[0], 200, "third flush")
    union3 = answers(s)
    c.true(union3 != union, "the third batch is visible")
    deadline = time.time() + 60
    while time.time() < deadline:
        out = subprocess.run([AWS, "--endpoint-url", f"http://{s3.endpoint}", "s3api", "list-objects-v2", "--bucket",
                              "profiles", "--prefix", "blocks/anonymous/"], capture_output=True, text=True, env=env)
        listing = re.findall(r'"Key": "([^"]+)"', out.stdout)
        if len({k.split("/")[2] for k in listing}) == 1 and not any(k.endswith("deletion-mark.json") for k in listing):
            break
        time.sleep(1)
    c.eq(len({k.split("/")[2] for k in listing}), 1, f"remote and local blocks merged into one ({listing})")
    c.eq(answers(s), union3, "answers unchanged by compacting a remote source")
    s.stop()
    shutil.rmtree(local)
    os.makedirs(local)
    s.start()
    c.eq(answers(s), union3, "a fresh local dir reads the new compacted block in place")
    s.stop()
finally:
    s3.stop()
c.done()

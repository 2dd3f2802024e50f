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

from lib import Check, Server
from s3lib import AWS, KEY, SECRET, S3rver
from storage_common import FLAGS, answers, post_all, post_day

c = Check("storage s3")
s3 = S3rver()
try:
    s3flags = ["-storage.backend=s3", f"-storage.s3.endpoint={s3.endpoint}", "-storage.s3.bucket-name=profiles",
               f"-storage.s3.access-key-id={KEY}", f"-storage.s3.secret-access-key={SECRET}",
               "-storage.s3.insecure=true"]
    s = Server(*FLAGS, *s3flags).start()
    post_all(s)
    post_day(s)
    before = answers(s)
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
    s.start()
    again = answers(s)
    for k in before:
        c.eq(again[k], before[k], f"new local dir, blocks from the bucket: {k}")
    c.true(os.path.isdir(os.path.join(local, "blocks", "anonymous")), "the block is cached locally again")
    s.stop()

    # Compaction in S3 mode: a second, overlapping block is merged with the first; the
    # sources are marked and then deleted from the bucket; a fresh local dir reads the result.
    s = Server(*FLAGS, *s3flags, "-compactor.compaction-interval=1s", "-compactor.deletion-delay=2s",
               data_dir=local).start()
    now = int(time.time())
    st, _, _ = s.ingest(f"name=second.cpu&from={now - 40}&until={now - 30}", b"main;extra 7\n")
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
finally:
    s3.stop()
c.done()

"""S3 object storage against real peers: Ember's S3 backend (tests/unit/objstore/s3_test.c,
run here with servers) talks to s3rver, an S3 server that checks SigV4 signatures; what it
stores is read back with awscli and s3cmd (independent clients), s3rver's own request log
shows the multipart parts and listing pages it received, and a fake S3 written here shows
the retries (503 twice then 200: three requests; 403: one). Finally `ember server` accepts
-storage.backend=s3 with the settings and refuses it, naming what is missing, without."""
import hashlib
import http.server
import json
import os
import re
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

from lib import EMBER, OUT, Check, Server
from s3lib import AWS, KEY, SECRET, S3rver

c = Check("s3")
HERE = os.path.dirname(os.path.abspath(__file__))
NODE_DIR = os.path.join(HERE, "node")
S3_TEST = os.environ.get("EMBER_S3_TEST_BIN") or os.path.join(os.path.dirname(EMBER), "tests", "objstore", "s3_test")
S3CMD = "/usr/bin/s3cmd"

for tool, hint in ((S3_TEST, "build it: make BUILD=<dir> <dir>/tests/objstore/s3_test"),
                   (AWS, "apt-get install awscli (scripts/install-deps.sh)"),
                   (S3CMD, "apt-get install s3cmd (scripts/install-deps.sh)"),
                   (os.path.join(NODE_DIR, "node_modules", "@20minutes", "s3rver"), "npm install in tests/integ/node")):
    if not os.path.exists(tool):
        print(f"  missing {tool}: {hint}")
        sys.exit(1)


# ---- a fake S3 for the retry tests ------------------------------------------------------
EMPTY_SHA = hashlib.sha256(b"").hexdigest()


def s3_error(code, message):
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{message}</Message><RequestId>fake</RequestId></Error>").encode()


class FakeS3(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    counts = {}
    headers_seen = []
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def send(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/xml" if status >= 300 else "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with self.lock:
            n = self.counts[self.path] = self.counts.get(self.path, 0) + 1
            self.headers_seen.append(dict(self.headers))
        if self.path == "/profiles/flaky":
            if n <= 2:
                return self.send(503, s3_error("SlowDown", "Please reduce your request rate."))
            return self.send(200, b"third time lucky")
        if self.path == "/profiles/forbidden":
            return self.send(403, s3_error("AccessDenied", "Access Denied"))
        if self.path == "/profiles/down":
            return self.send(500, s3_error("InternalError", "We encountered an internal error. Please try again."))
        if self.path == "/profiles/stall":
            if n == 1:
                time.sleep(3)  # say nothing: the client's stall timeout must fire
                try:
                    self.send(200, b"too late")
                except OSError:
                    pass
                return
            return self.send(200, b"after the stall")
        return self.send(404, s3_error("NoSuchKey", "The specified key does not exist."))


class ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def aws_env(extra=None):
    env = dict(os.environ)
    env.update({"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null",
                "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_PAGER": ""})
    env.update(extra or {})
    return env


def aws(s3, *args):
    p = subprocess.run([AWS, "--endpoint-url", f"http://{s3.endpoint}", "s3api", *args], env=aws_env(),
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"aws {' '.join(args)}: {p.stderr}")
    return p.stdout


s3 = S3rver()
fake = ThreadingServer(("127.0.0.1", 0), FakeS3)
threading.Thread(target=fake.serve_forever, daemon=True).start()
work = tempfile.mkdtemp(prefix="s3-out-", dir=OUT)
try:
    # An object uploaded by awscli, for Ember to read.
    from_aws = os.path.join(work, "from-aws.bin")
    with open(from_aws, "wb") as f:
        f.write(os.urandom(300_000))
    aws(s3, "put-object", "--bucket", "profiles", "--key", "fromaws/blob.bin", "--body", from_aws)

    # 1. The C tests against s3rver and the fake S3.
    env = aws_env({"EMBER_S3_TEST_ENDPOINT": s3.endpoint, "EMBER_S3_TEST_S3RVER": "1", "EMBER_S3_TEST_OUT": work,
                   "EMBER_S3_TEST_AWS_KEY": "fromaws/blob.bin", "EMBER_S3_TEST_AWS_FILE": from_aws,
                   "EMBER_S3_TEST_FAKE_ENDPOINT": f"127.0.0.1:{fake.server_address[1]}"})
    t0 = time.time()
    p = subprocess.run([S3_TEST], env=env, capture_output=True, text=True, timeout=600)
    out = p.stdout + p.stderr
    print(f"  s3_test: exit {p.returncode} in {time.time() - t0:.1f} s")
    for line in out.splitlines():
        if re.search(r"took|: HTTP|refused:|stalled|\[  (FAILED|ERROR|SKIPPED) +\]|ERROR|error:", line):
            print("    " + line)
    c.eq(p.returncode, 0, "s3_test passes")
    c.true("SKIPPED" not in out, "no S3 test skipped (servers were given)")
    ok = len(re.findall(r"\[       OK \]", out))
    c.eq(ok, 18, "s3_test cases run and passed (3 without a server, 11 against s3rver, 4 retry)")
    for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:", "ThreadSanitizer"):
        c.true(marker not in out, f"no {marker} report from s3_test")

    # 2. What Ember stored, read by awscli.
    try:
        got = os.path.join(work, "got.bin")
        aws(s3, "get-object", "--bucket", "profiles", "--key", "crosscheck/multipart.bin", got)
        with open(got, "rb") as f1, open(os.path.join(work, "multipart.bin"), "rb") as f2:
            a, b = f1.read(), f2.read()
        c.eq(len(a), 700 * 1024 + 11, "awscli: multipart object size")
        c.true(a == b, "awscli: multipart object bytes equal what Ember uploaded")
        listing = json.loads(aws(s3, "list-objects-v2", "--bucket", "profiles", "--prefix", "crosscheck/"))
        c.eq(sorted((o["Key"], o["Size"]) for o in listing.get("Contents", [])),
             [("crosscheck/multipart.bin", 700 * 1024 + 11), ("crosscheck/small.txt", 13)], "awscli: listing")
        head = json.loads(aws(s3, "head-object", "--bucket", "profiles", "--key", "crosscheck/small.txt"))
        c.eq(head.get("ContentLength"), 13, "awscli: head-object size")
    except RuntimeError as e:  # an awscli call failed: a failed check, and go on
        c.true(False, str(e))

    # 3. And by s3cmd.
    p = subprocess.run([S3CMD, "-c", "/dev/null", f"--access_key={KEY}", f"--secret_key={SECRET}",
                        f"--host={s3.endpoint}", f"--host-bucket={s3.endpoint}", "--no-ssl", "--region=us-east-1",
                        "get", "--force", "s3://profiles/crosscheck/small.txt", os.path.join(work, "s3cmd.txt")],
                       capture_output=True, text=True, timeout=60)
    c.eq(p.returncode, 0, f"s3cmd get ({p.stderr[-300:]})")
    if p.returncode == 0:
        with open(os.path.join(work, "s3cmd.txt"), "rb") as f:
            c.eq(f.read(), b"small object\n", "s3cmd: small object bytes")

    # 4. What s3rver received: multipart parts and listing pages.
    log = s3.log_text()
    parts = re.findall(r"crosscheck/multipart\.bin\?partNumber=(\d+)&uploadId=\S+ 200", log)
    c.eq(sorted(int(x) for x in parts), [1, 2, 3], "s3rver saw 3 part uploads (256 KiB parts)")
    pages = re.findall(r"continuation-token=\S+&list-type=2&max-keys=3&prefix=\S*pages%2F 200", log)
    c.eq(len(pages), 8, "s3rver saw 8 follow-up listing pages for 25 keys, 3 per page")
    c.true(re.search(r"/auth/x 403 ", log) is not None, "s3rver answered 403 to the wrong secret")

    # 5. The fake S3: retries on 5xx, none on 4xx; requests are signed and hashed.
    counts = dict(FakeS3.counts)
    c.eq(counts.get("/profiles/flaky"), 3, "503, 503, 200: three requests")
    c.eq(counts.get("/profiles/forbidden"), 1, "403: one request, no retry")
    c.eq(counts.get("/profiles/down"), 5, "500 every time: five tries")
    c.eq(counts.get("/profiles/stall"), 2, "a stalled answer times out and is retried once")
    h = FakeS3.headers_seen[0]
    c.true(h.get("Authorization", "").startswith("AWS4-HMAC-SHA256 Credential=AK/"), "SigV4 Authorization header")
    c.eq(h.get("x-amz-content-sha256"), EMPTY_SHA, "x-amz-content-sha256 of an empty body")
    c.true("x-amz-content-sha256" in h.get("Authorization", ""), "the payload hash is signed")

    # 6. `ember server` settings.
    p = subprocess.run([EMBER, "server", "-storage.backend=s3", "-storage.s3.bucket-name=profiles"],
                       capture_output=True, text=True, timeout=30,
                       env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")})
    c.true(p.returncode != 0, "ember server refuses s3 without its settings")
    c.true("S3 storage needs -storage.s3.endpoint, -storage.s3.access-key-id (or $AWS_ACCESS_KEY_ID), "
           "-storage.s3.secret-access-key (or $AWS_SECRET_ACCESS_KEY)" in p.stderr, f"error names them: {p.stderr!r}")
    with Server("-storage.backend=s3", f"-storage.s3.endpoint={s3.endpoint}", "-storage.s3.bucket-name=profiles",
                f"-storage.s3.access-key-id={KEY}", f"-storage.s3.secret-access-key={SECRET}",
                "-storage.s3.insecure=true", name="server-s3") as srv:
        status, _, _ = srv.request("GET", "/ready")
        c.eq(status, 200, "ember server starts with -storage.backend=s3 and its settings")
finally:
    s3.stop()
    fake.shutdown()
c.done()

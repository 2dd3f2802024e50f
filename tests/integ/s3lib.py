"""s3rver for the integration tests: an S3 server (npm @20minutes/s3rver) that checks SigV4
signatures, started on 127.0.0.1 with the bucket "profiles" (key and secret S3RVER)."""
import os
import re
import subprocess
import tempfile
import time

from lib import OUT, free_port

NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")
KEY = SECRET = "S3RVER"
AWS = "/usr/bin/aws"  # Debian's awscli (a pyenv shim may come first on PATH)


class S3rver:
    def __init__(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="s3rver-", dir=OUT)
        self.log_path = os.path.join(OUT, f"s3rver-{self.port}.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            ["node", "--openssl-legacy-provider", "s3rver.js", str(self.port), os.path.join(self.dir, "data"), "log"],
            cwd=NODE_DIR, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while f"ready {self.port}" not in self.log_text():
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"s3rver did not start: {self.log_text()[-2000:]}")
            time.sleep(0.05)

    @property
    def endpoint(self):
        return f"127.0.0.1:{self.port}"

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return re.sub(r"\x1b\[[0-9;]*m", "", f.read().decode("utf-8", "replace"))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

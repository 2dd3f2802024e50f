"""Helpers for Ember's integration tests: start the real binary on 127.0.0.1, talk HTTP.

Only the Python standard library is used. Every server started here is stopped by pid.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

EMBER = os.environ.get("EMBER_BIN") or os.path.abspath(os.path.join(os.path.dirname(__file__), "../../build/ember"))
TESTDATA = os.environ.get("EMBER_TESTDATA") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "../../../shared/testdata"))
OUT = os.environ.get("EMBER_TEST_OUT") or tempfile.mkdtemp(prefix="ember-integ-")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """An `ember server` process with its own data dir and port."""

    def __init__(self, *flags, data_dir=None, name="server"):
        self.port = free_port()
        self.dir = data_dir or tempfile.mkdtemp(prefix="ember-data-", dir=OUT)
        self.flags = list(flags)
        self.name = name
        self.proc = None
        self.log_path = os.path.join(OUT, f"{name}-{self.port}.log")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait=True):
        self.log = open(self.log_path, "ab")
        args = [EMBER, "server", "-server.http-listen-address=127.0.0.1", f"-server.http-listen-port={self.port}",
                f"-storage.filesystem.dir={self.dir}"] + self.flags
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; log: {self.log_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/ready", timeout=1) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.05)
        raise RuntimeError("server did not become ready")

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=timeout)
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        # A sanitizer report in the server's log fails the test even if nothing else did.
        text = self.log_text()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "ThreadSanitizer"):
            if marker in text:
                raise AssertionError(f"sanitizer report in {self.log_path}:\n" + text[text.index(marker) - 200:][:3000])
        return rc

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # ---- HTTP ----
    def request(self, method, path, body=None, headers=None, timeout=30):
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read(), dict(e.headers)

    def ingest(self, query, body, content_type="application/octet-stream", tenant=None):
        headers = {"Content-Type": content_type}
        if tenant:
            headers["X-Scope-OrgID"] = tenant
        return self.request("POST", "/ingest?" + query, body, headers)

    def connect(self, method, msg, tenant=None, service="querier.v1.QuerierService", expect=200):
        headers = {"Content-Type": "application/json"}
        if tenant:
            headers["X-Scope-OrgID"] = tenant
        status, body, _ = self.request("POST", f"/{service}/{method}", json.dumps(msg).encode(), headers)
        if expect is not None and status != expect:
            raise AssertionError(f"{method}: expected {expect}, got {status}: {body[:500]!r}")
        return json.loads(body) if body else {}


def read(path):
    with open(path, "rb") as f:
        return f.read()


def go_pprof_raw_totals(path):
    """Per sample type, the sum of every sample's value as `go tool pprof -raw` prints it.
    This is the independent reference reading of a pprof file."""
    out = subprocess.run(["go", "tool", "pprof", "-raw", path], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    types = []
    totals = None
    in_samples = False
    for line in lines:
        if line.startswith("Samples:"):
            in_samples = True
            continue
        if in_samples and totals is None:
            # header: "samples/count cpu/nanoseconds" (optionally with [dflt])
            types = [t.replace("[dflt]", "") for t in line.split()]
            totals = [0] * len(types)
            continue
        if in_samples and totals is not None:
            if line.startswith("Locations") or not line.strip():
                if line.startswith("Locations"):
                    break
                continue
            parts = line.split(":")[0].split()
            if len(parts) >= len(types) and all(p.lstrip("-").isdigit() for p in parts[:len(types)]):
                for i in range(len(types)):
                    totals[i] += int(parts[i])
    return dict(zip(types, totals))


class Check:
    """Collects assertion results and prints them; exits non-zero at the end on failure."""

    def __init__(self, name):
        self.name = name
        self.failed = 0
        self.passed = 0

    def eq(self, got, want, what):
        if got == want:
            self.passed += 1
        else:
            self.failed += 1
            print(f"  FAIL {what}: got {got!r}, want {want!r}")

    def true(self, cond, what):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print(f"  FAIL {what}")

    def done(self):
        print(f"  {self.name}: {self.passed} checks passed, {self.failed} failed")
        sys.exit(1 if self.failed else 0)


def series_total(server, type_id, selector="{}", start_ms=1, end_ms=None, tenant=None, group_by=None):
    """Sum of all points of SelectSeries over [start, end] with one big step."""
    end_ms = end_ms or int(time.time() * 1000) + 3600_000
    msg = {"profileTypeID": type_id, "labelSelector": selector, "start": str(start_ms), "end": str(end_ms),
           "step": (end_ms - start_ms) / 1000.0}
    if group_by:
        msg["groupBy"] = group_by
    r = server.connect("SelectSeries", msg, tenant=tenant)
    total = 0
    for s in r.get("series", []):
        for p in s.get("points", []):
            total += p.get("value", 0)
    return total

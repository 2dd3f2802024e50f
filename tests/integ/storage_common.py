"""The storage tests' shared scenario: the flags, a load of every kind of testdata, and a
comparable snapshot of many query answers."""
import json
import os
import time

from lib import TESTDATA, read

FLAGS = ["-validation.reject-older-than=0", "-querier.max-query-lookback=0", "-querier.max-query-length=0",
         "-distributor.ingestion-rate-limit-mb=0", "-ingester.max-global-series-per-tenant=0"]
FAR = 4102444800000  # 2100-01-01 in ms


def answers(s):
    """Many query answers, as one comparable structure."""
    out = {}
    types = sorted(t["ID"] for t in s.connect("ProfileTypes", {}).get("profileTypes", []))
    out["types"] = types
    out["services"] = s.connect("LabelValues", {"name": "service_name"}).get("names", [])
    out["names"] = s.connect("LabelNames", {}).get("names", [])
    out["pods"] = s.connect("LabelValues", {"name": "pod"}).get("names", [])
    series = s.connect("Series", {"matchers": ["{}"]}).get("labelsSet", [])
    out["series"] = sorted(json.dumps(x, sort_keys=True) for x in series)
    for t in types:
        fg = s.connect("SelectMergeStacktraces", {"profileTypeID": t, "labelSelector": "{}", "start": "1",
                                                   "end": str(FAR), "maxNodes": "100000"})
        out["fg " + t] = fg.get("flamegraph")
        ss = s.connect("SelectSeries", {"profileTypeID": t, "labelSelector": "{}", "start": "1", "end": str(FAR),
                                        "step": 10.0, "groupBy": ["service_name"]})
        out["series " + t] = ss.get("series", [])
    return out


def post_all(s):
    for f in sorted(os.listdir(os.path.join(TESTDATA, "go"))):
        st, body, _ = s.ingest("name=gosvc{env=prod}&format=pprof", read(os.path.join(TESTDATA, "go", f)))
        assert st == 200, body
    now = int(time.time())
    st, body, _ = s.ingest(f"name=workload.cpu&from={now - 30}&until={now}",
                           read(os.path.join(TESTDATA, "perf", "workload.folded")))
    assert st == 200, body
    rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(TESTDATA, "nodejs", "requests.tsv"))]
    for fname, method, url, ctype in rows:
        st, body, _ = s.request(method, url, read(os.path.join(TESTDATA, "nodejs", fname)), {"Content-Type": ctype})
        assert st == 200, body


def post_day(s, series=10, step_s=900):
    """A generated day of profiles: `series` pods of service "daysvc", one folded profile
    every step_s seconds over the last 24 hours, stacks varying by pod and hour."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
    end = int(time.time()) - 60
    for t in range(end - 24 * 3600, end, step_s):
        for pod in range(series):
            hour = (t // 3600) % 24
            body = (f"main;serve;handler{pod % 3};work{hour % 5} {1 + pod}\n"
                    f"main;serve;idle {1 + hour}\n"
                    f"main;gc;mark{pod % 2} 2\n").encode()
            conn.request("POST", f"/ingest?name=daysvc.cpu%7Bpod%3Dp{pod}%7D&from={t}&sampleRate=100", body,
                         {"Content-Type": "text/plain"})
            r = conn.getresponse()
            r.read()
            assert r.status == 200, r.status
    conn.close()


class CrashLoad:
    """Continuous writes (one profile of value 1 per second of `base + i`) and flushes
    against server s, which the caller kills with SIGKILL at moments it picks, round after
    round; then checks that every acknowledged write is stored exactly once."""

    def __init__(self, s, base, flush_pause=(0.05, 0.3)):
        self.s, self.base, self.flush_pause = s, base, flush_pause
        self.acked, self.last, self.offset = set(), 0, 0

    def _writer(self, start, stop):
        import urllib.request
        i = start
        while not stop.is_set():
            self.last = max(self.last, i)
            req = urllib.request.Request(f"{self.s.url}/ingest?name=crash.cpu&from={self.base + i}&sampleRate=100",
                                         data=b"main;work 1\n", method="POST")
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    if r.status == 200:
                        self.acked.add(i)
            except Exception:
                return  # the server died under us: this write was not acknowledged
            i += 1

    def _flusher(self, stop):
        import random
        import urllib.request
        while not stop.is_set():
            try:
                urllib.request.urlopen(urllib.request.Request(f"{self.s.url}/ingester/flush", method="POST"),
                                       timeout=10).read()
            except Exception:
                return
            time.sleep(random.uniform(*self.flush_pause))

    def round(self, wait_for_kill):
        """Runs writers and the flusher, calls wait_for_kill() (it returns at the moment to
        kill), kills the server with SIGKILL and starts it again."""
        import threading
        stop = threading.Event()
        ths = [threading.Thread(target=self._writer, args=(self.offset, stop)),
               threading.Thread(target=self._flusher, args=(stop,))]
        [t.start() for t in ths]
        wait_for_kill()
        self.s.kill9()
        stop.set()
        [t.join() for t in ths]
        self.offset = self.last + 1
        self.s.start()

    def check(self, c, what, min_acked):
        r = self.s.connect("SelectSeries", {"profileTypeID": "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
                                            "labelSelector": '{service_name="crash"}',
                                            "start": str(self.base * 1000),
                                            "end": str((self.base + self.offset + 1) * 1000), "step": 1.0})
        points = {}
        for ser in r.get("series", []):
            for p in ser["points"]:
                points[(int(p["timestamp"]) - self.base * 1000) // 1000] = p["value"]
        missing = sorted(self.acked - set(points))
        doubled = sorted(i for i, v in points.items() if v != 10_000_000)
        c.true(len(self.acked) > min_acked, f"enough acknowledged writes ({len(self.acked)})")
        c.eq(missing[:10], [], f"acknowledged profiles missing after kill -9 {what} ({len(missing)} in all)")
        c.eq(doubled[:10], [], f"profiles counted twice ({len(doubled)} in all)")

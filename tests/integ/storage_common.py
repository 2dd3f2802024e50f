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

"""Multi-tenancy (X-Scope-OrgID), the Push API in both codecs, /ready, /metrics (checked by
promtool), buildinfo, keep-alive, and graceful shutdown."""
import base64
import gzip
import http.client
import json
import os
import subprocess
import time

from lib import Check, Server, TESTDATA, read, series_total

c = Check("tenants and system")
good = read(os.path.join(TESTDATA, "go", "svc-cpu-1.pb.gz"))
CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
now = int(time.time())

with Server("-auth.multitenancy-enabled", "-validation.reject-older-than=0") as s:
    st, body, _ = s.ingest("name=a&format=pprof", good)
    c.eq(st, 401, "no X-Scope-OrgID -> 401")
    c.eq(json.loads(body).get("code"), "unauthenticated", "401 code")
    c.eq(s.ingest("name=appa&format=pprof", good, tenant="team-a")[0], 200, "tenant a write")
    c.eq(s.ingest(f"name=appb.cpu&from={now}", b"x;y 5\n", tenant="team-b")[0], 200, "tenant b write")
    c.eq(s.connect("LabelValues", {"name": "service_name"}, tenant="team-a")["names"], ["appa"], "a sees only a")
    c.eq(s.connect("LabelValues", {"name": "service_name"}, tenant="team-b")["names"], ["appb"], "b sees only b")
    c.eq(s.connect("LabelValues", {"name": "service_name"}, tenant="team-c").get("names", []), [], "c sees nothing")
    c.eq(sorted(s.connect("LabelValues", {"name": "service_name"}, tenant="team-a|team-b")["names"]),
         ["appa", "appb"], "a|b reads both")
    s.connect("ProfileTypes", {}, expect=401)
    st, _, _ = s.ingest("name=x.cpu", b"a 1\n", tenant="bad/tenant")
    c.eq(st, 401, "invalid tenant id")
    st = s.connect("GetProfileStats", {}, tenant="team-c")
    c.true(not st.get("dataIngested"), "empty tenant has no data")

with Server("-validation.reject-older-than=0") as s:
    # Push in protobuf (built by protoc from text, an independent encoder) and in JSON.
    raw = gzip.decompress(good)
    push_json = {"series": [{"labels": [{"name": "__name__", "value": "process_cpu"},
                                        {"name": "service_name", "value": "pushed"},
                                        {"name": "__delta__", "value": "false"}],
                             "samples": [{"rawProfile": base64.b64encode(good).decode(), "ID": "x"}]}]}
    st, body, _ = s.request("POST", "/push.v1.PusherService/Push", json.dumps(push_json).encode(),
                            {"Content-Type": "application/json"})
    c.eq((st, body), (200, b"{}"), "Push JSON")
    # The same request as protobuf, encoded by protoc (an independent encoder).
    text = ('series { labels { name: "__name__" value: "process_cpu" } labels { name: "service_name" value: "pushedpb" } '
            'samples { raw_profile: "' + "".join(f"\\{b:03o}" for b in raw) + '" } }')
    proto = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../proto")
    pb = subprocess.run(["protoc", f"-I{proto}", "--encode=push.v1.PushRequest", "push.proto"], input=text.encode(),
                        capture_output=True, check=True, cwd=proto).stdout
    st, body, _ = s.request("POST", "/push.v1.PusherService/Push", pb, {"Content-Type": "application/proto"})
    c.eq(st, 200, f"Push proto ({body[:100]!r})")
    st, body, _ = s.request("POST", "/push.v1.PusherService/Push", gzip.compress(pb),
                            {"Content-Type": "application/proto", "Content-Encoding": "gzip"})
    c.eq(st, 200, "Push proto, gzip request body")
    vals = s.connect("LabelValues", {"name": "service_name"})["names"]
    c.eq(vals, ["pushed", "pushedpb"], "both pushes stored")
    names = s.connect("LabelNames", {})["names"]
    c.true("__delta__" not in names, "__delta__ is never stored")
    c.eq(series_total(s, CPU, '{service_name="pushedpb"}') * 1, 2 * series_total(s, CPU, '{service_name="pushed"}'),
         "proto push twice = 2x JSON push")
    # Proto response to a proto request.
    st, body, hdr = s.request("POST", "/querier.v1.QuerierService/LabelValues",
                              subprocess.run(["protoc", f"-I{proto}", "--encode=types.v1.LabelValuesRequest", "types.proto"],
                                             input=b'name: "service_name"', capture_output=True, check=True, cwd=proto).stdout,
                              {"Content-Type": "application/proto"})
    dec = subprocess.run(["protoc", f"-I{proto}", "--decode=types.v1.LabelValuesResponse", "types.proto"], input=body,
                         capture_output=True, check=True, cwd=proto).stdout.decode()
    c.eq(dec.split(), ['names:', '"pushed"', 'names:', '"pushedpb"'], "proto response decoded by protoc")

    # System endpoints.
    st, body, _ = s.request("GET", "/ready")
    c.eq((st, body.strip()), (200, b"ready"), "/ready")
    st, body, hdr = s.request("GET", "/metrics")
    c.eq(st, 200, "/metrics")
    p = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True)
    c.eq(p.returncode, 0, f"promtool check metrics: {p.stdout[:300]!r} {p.stderr[:300]!r}")
    text = body.decode()
    for m in ["ember_ingested_profiles_total", "ember_ingested_samples_total", "ember_ingested_bytes_total",
              "ember_wal_appended_bytes_total", "ember_wal_syncs_total", "ember_head_series",
              "ember_request_duration_seconds_bucket"]:
        c.true(m in text, f"metric {m} present")
    prof = [l for l in text.splitlines() if l.startswith("ember_ingested_profiles_total ")]
    c.true(prof and float(prof[0].split()[1]) >= 3, "ingested profile counter counts")
    c.true('route="/push.v1.PusherService/Push",status="200"' in text, "request durations by route and status")
    st, body, _ = s.request("GET", "/api/v1/status/buildinfo")
    j = json.loads(body)
    c.eq(j.get("status"), "success", "buildinfo status")
    c.true(all(k in j["data"] for k in ["version", "revision", "branch", "buildUser", "buildDate", "goVersion"]),
           "buildinfo fields")
    st, body, _ = s.request("GET", "/no/such/thing")
    c.eq(st, 404, "unknown path -> 404")

    # Keep-alive: 50 requests on one connection.
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    ok = 0
    for i in range(50):
        conn.request("POST", "/querier.v1.QuerierService/ProfileTypes", body=b"{}",
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        ok += r.status == 200
    conn.close()
    c.eq(ok, 50, "50 requests over one keep-alive connection")
    # Graceful shutdown: SIGTERM exits 0 and the data survives a restart.
    rc = s.stop()
    c.eq(rc, 0, "SIGTERM exits cleanly")
    s.start()
    c.eq(s.connect("LabelValues", {"name": "service_name"})["names"], ["pushed", "pushedpb"], "data after restart")
c.done()

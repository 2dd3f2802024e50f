"""Per-tenant limits from the runtime config file (-runtime-config.file, Pyroscope's
`overrides:` YAML): tenant A's retention override deletes its old blocks while tenant B's
stay; edited while the server runs, the file gives A a tiny max_label_names_per_series, a
short reject_older_than and a short max_query_length, applied within the reload period
to A only; a broken edit keeps the last good overrides; /runtime_config shows them."""
import json
import os
import time

from lib import Check, Server

c = Check("overrides")
TYPE = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"


def write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def blocks_of(s, tenant):
    d = os.path.join(s.dir, "blocks", tenant)
    return [b for b in sorted(os.listdir(d)) if not b.startswith(".")] if os.path.isdir(d) else []


def services(s, tenant):
    st, body, _ = s.request("POST", "/querier.v1.QuerierService/LabelValues",
                            json.dumps({"name": "service_name"}).encode(),
                            {"Content-Type": "application/json", "X-Scope-OrgID": tenant})
    assert st == 200, body
    return json.loads(body).get("names", [])


def runtime_config(s):
    st, body, hdr = s.request("GET", "/runtime_config")
    assert st == 200, body
    return body.decode()


def wait_until(cond, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.2)
    return cond()


def stack_query(s, tenant, hours):
    end = int(time.time() * 1000)
    msg = {"profileTypeID": TYPE, "labelSelector": "{}", "start": end - hours * 3600 * 1000, "end": end}
    st, body, _ = s.request("POST", "/querier.v1.QuerierService/SelectMergeStacktraces", json.dumps(msg).encode(),
                            {"Content-Type": "application/json", "X-Scope-OrgID": tenant})
    return st, body


s = Server("-auth.multitenancy-enabled")
rc = os.path.join(s.dir, "runtime.yaml")
os.makedirs(s.dir, exist_ok=True)
write(rc, "overrides:\n  A:\n    compactor_blocks_retention_period: 1h\n")
s.flags += [f"-runtime-config.file={rc}", "-runtime-config.reload-period=1s",
            "-validation.reject-older-than=0", "-compactor.compaction-interval=1s", "-compactor.deletion-delay=0"]
s.start()

c.true("compactor_blocks_retention_period: 1h" in runtime_config(s), "/runtime_config shows A's retention")

# 1. Retention: both tenants get a profile from 3 hours ago, cut into a block each. A's
# 1h retention deletes its block; B has the server's (none) and keeps it.
now = int(time.time())
old = now - 3 * 3600
for t in ("A", "B"):
    st, body, _ = s.ingest(f"name=old.cpu&from={old}&until={old}", b"main;work 5\n", tenant=t)
    c.eq(st, 200, f"{t}: a 3h-old profile is accepted (-validation.reject-older-than=0)")
st, body, _ = s.request("POST", "/ingester/flush")
assert st == 200, body
c.true(wait_until(lambda: blocks_of(s, "A") == []), "A's expired block is deleted by the compactor")
time.sleep(2.5)  # two more compaction rounds
c.eq(len(blocks_of(s, "B")), 1, "B's block of the same age stays")
c.eq(services(s, "A"), [], "A's old data is gone")
c.eq(services(s, "B"), ["old"], "B's old data is still queryable")

# Before the edit, A has the server's limits.
many = "name=wide.cpu{a=1,b=2,c=3,d=4}"
st, body, _ = s.ingest(f"{many}&from={now}", b"main;work 1\n", tenant="A")
c.eq(st, 200, "before the edit, A may send 7 labels")
c.eq(stack_query(s, "A", 2)[0], 200, "before the edit, A may query 2h")

# 2. Edit the file while the server runs.
write(rc, "overrides:\n  A:\n    compactor_blocks_retention_period: 1h\n    max_label_names_per_series: 3\n"
          "    reject_older_than: 10m\n    max_query_length: 1h\n  C:\n    max_global_series_per_tenant: 2\n")
c.true(wait_until(lambda: "max_label_names_per_series: 3\n" in runtime_config(s), 5),
       "the edit shows in /runtime_config within the reload period")
st, body, _ = s.ingest(f"{many}&from={now}", b"main;work 1\n", tenant="A")
c.eq(st, 400, "A: 7 labels over its limit of 3 is refused")
c.true(b"label" in body, f"the message says why ({body[:200]!r})")
st, body, _ = s.ingest(f"{many}&from={now}", b"main;work 1\n", tenant="B")
c.eq(st, 200, "B: the same write passes (server default of 30 labels)")
half_hour = now - 1800
st, body, _ = s.ingest(f"name=late.cpu&from={half_hour}&until={half_hour}", b"main;work 1\n", tenant="A")
c.true(st in (400, 422) and b"older than" in body, f"A: a 30-minute-old profile is refused (reject_older_than: 10m): "
       f"{st} {body[:200]!r}")
st, body, _ = s.ingest(f"name=late.cpu&from={half_hour}&until={half_hour}", b"main;work 1\n", tenant="B")
c.eq(st, 200, "B: the same profile is accepted")
st, body = stack_query(s, "A", 2)
c.eq(st, 400, "A: a 2h stack query is over its max_query_length of 1h")
c.true(b"1h" in body, f"the message gives the limit ({body[:200]!r})")
c.eq(stack_query(s, "B", 2)[0], 200, "B: the same query passes (server default 24h)")
c.eq(stack_query(s, "A|B", 2)[0], 400, "A|B: the smallest positive limit of the two applies")
# Tenant C may have 2 series (a folded profile makes one series per profile type).
codes = [s.ingest(f"name=svc{i}.cpu&from={now}", b"main;work 1\n", tenant="C")[0] for i in range(3)]
c.eq(codes, [200, 200, 429], "C: a third series is over its max_global_series_per_tenant of 2")
c.eq(s.ingest(f"name=svc9.cpu&from={now}", b"main;work 1\n", tenant="B")[0], 200, "B keeps the server's series limit")

# 3. A broken edit is logged and the last good overrides stay.
write(rc, "overrides:\n  A:\n    max_label_names_per_series: 3\n    no_such_limit: 1\n")
c.true(wait_until(lambda: "no_such_limit" in s.log_text(), 5), "the broken file is logged with the key named")
st, body, _ = s.ingest(f"{many}&from={now}", b"main;work 1\n", tenant="A")
c.eq(st, 400, "A's last good limits still apply")
c.true("reject_older_than: 10m" in runtime_config(s), "/runtime_config still shows the last good overrides")

# 4. Removing A's entry gives it the server's limits again.
write(rc, "overrides:\n  B:\n    max_flamegraph_nodes_default: 10\n")
c.true(wait_until(lambda: "    A:" not in runtime_config(s), 5), "A's entry is gone from /runtime_config")
st, body, _ = s.ingest(f"{many}&from={now}", b"main;work 1\n", tenant="A")
c.eq(st, 200, "A may send 7 labels again")
s.stop()

# 5. A bad runtime config at start is a start-up error naming the key.
bad = Server(name="bad")
os.makedirs(bad.dir, exist_ok=True)
brc = os.path.join(bad.dir, "runtime.yaml")
write(brc, "overrides:\n  A:\n    max_labels: 3\n")
bad.flags.append(f"-runtime-config.file={brc}")
bad.start(wait=False)
bad.proc.wait(timeout=30)
c.eq(bad.proc.returncode, 2, "the server refuses to start")
c.true("unknown limit max_labels" in bad.log_text(), "and names the key")
c.done()

"""Crash safety: clients post continuously, the server is kill -9'd at a random moment and
restarted on the same data dir; every profile that got a 200 is there exactly once, and the
server accepts new writes. Bounded: 3 rounds of at most ~3 s of load each."""
import random
import threading
import time
import urllib.request

from lib import Check, Server

c = Check("crash")
THREADS = 4
random.seed()
base = int(time.time()) - 1200  # inside the default 1 h ingestion window
s = Server()
acked = {w: set() for w in range(THREADS)}
offset = 0
last_tried = [0] * THREADS
for round_ in range(3):
    s.start()
    stop = threading.Event()

    def writer(w, start):
        i = start
        while not stop.is_set():
            last_tried[w] = max(last_tried[w], i)
            url = f"{s.url}/ingest?name=crash.cpu{{w={w}}}&from={base + i}&sampleRate=100"
            req = urllib.request.Request(url, data=b"main;work 1\n", method="POST")
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    if r.status == 200:
                        acked[w].add(i)
            except Exception:
                return  # the server died under us: this one was not acknowledged
            i += 1

    ths = [threading.Thread(target=writer, args=(w, offset)) for w in range(THREADS)]
    for t in ths:
        t.start()
    time.sleep(random.uniform(0.3, 2.5))
    s.kill9()
    stop.set()
    for t in ths:
        t.join()
    # The next round writes later timestamps than any write of this one (acknowledged or not).
    offset = max(last_tried) + 1

s.start()
total_acked = sum(len(a) for a in acked.values())
c.true(total_acked > 20, f"enough acknowledged writes to mean something ({total_acked})")
start_ms = base * 1000
end_ms = (base + offset) * 1000
for w in range(THREADS):
    r = s.connect("SelectSeries", {"profileTypeID": "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
                                   "labelSelector": f'{{service_name="crash", w="{w}"}}',
                                   "start": str(start_ms), "end": str(end_ms), "step": 1.0})
    points = {}
    for ser in r.get("series", []):
        for p in ser["points"]:
            points[(int(p["timestamp"]) - start_ms) // 1000] = p["value"]
    missing = sorted(acked[w] - set(points))
    c.eq(missing[:10], [], f"writer {w}: acknowledged profiles missing after kill -9 ({len(missing)} in all)")
    doubled = sorted(i for i, v in points.items() if v != 10_000_000)
    c.eq(doubled[:10], [], f"writer {w}: profiles counted more than once ({len(doubled)} in all)")
    c.true(len(points) >= len(acked[w]), f"writer {w}: {len(acked[w])} acknowledged, {len(points)} stored")
st, _, _ = s.ingest(f"name=crash.cpu{{w=after}}&from={int(time.time())}", b"main 1\n")
c.eq(st, 200, "writes accepted after recovery")
c.true("WAL replayed" in s.log_text(), "the log says the WAL was replayed")
s.stop()
c.done()

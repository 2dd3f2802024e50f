"""Hostile and malformed input gets the documented status and a clear message, the server
stays up, and nothing stored before is lost."""
import gzip
import json
import os
import random
import socket
import time

from lib import Check, Server, TESTDATA, read, series_total

c = Check("bad input")
CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
good = read(os.path.join(TESTDATA, "go", "svc-cpu-0.pb.gz"))
raw = gzip.decompress(good)
now = int(time.time())


def expect(status_body, status, what, code=None, text=None):
    st, body = status_body[0], status_body[1]
    c.eq(st, status, f"{what}: status ({body[:160]!r})")
    if status != 200:
        try:
            j = json.loads(body)
            c.true(isinstance(j.get("message"), str) and j["message"], f"{what}: JSON error with a message")
            if code:
                c.eq(j.get("code"), code, f"{what}: code")
        except ValueError:
            c.true(False, f"{what}: error body is JSON ({body[:100]!r})")
    if text:
        c.true(text.encode() in body, f"{what}: message mentions {text!r}")


with Server("-validation.reject-older-than=0", "-distributor.ingestion-rate-limit-mb=0") as s:
    expect(s.ingest("name=keep{}&format=pprof", good), 200, "a good profile first")
    before = series_total(s, CPU, '{service_name="keep"}')
    c.true(before > 0, "stored")

    # Truncated pprof at many offsets: 422 (or 200 when the cut leaves a valid prefix).
    random.seed(7)
    statuses = set()
    for cut in sorted(random.sample(range(1, len(raw)), 40)):
        st, body, _ = s.ingest("name=trunc&format=pprof", raw[:cut])
        statuses.add(st)
        c.true(st in (200, 422), f"truncated at {cut}: 200 or 422, got {st}")
    c.true(422 in statuses, "truncation is detected")
    # Bit flips.
    for i in range(40):
        b = bytearray(raw)
        pos = random.randrange(len(b))
        b[pos] ^= 1 << random.randrange(8)
        st, _, _ = s.ingest("name=flip&format=pprof", bytes(b))
        c.true(st in (200, 400, 422), f"bit flip at {pos}: {st}")
    # Truncated gzip.
    expect(s.ingest("name=tgz&format=pprof", good[: len(good) // 2]), 422, "truncated gzip", "unknown", "gzip")
    # Gzip bomb: 64 MiB of zeros compress to ~64 KiB; the decompressed cap is 4 MiB.
    bomb = gzip.compress(b"\0" * (64 << 20), 9)
    expect(s.ingest("name=bomb&format=pprof", bomb), 422, "gzip bomb", "unknown", "too large")
    # Not a profile at all.
    expect(s.ingest("name=junk&format=pprof", b"this is not protobuf at all"), 422, "garbage pprof", "unknown")
    # Empty bodies.
    expect(s.ingest("name=empty&format=pprof", b""), 422, "empty pprof body")
    expect(s.ingest("name=empty.cpu", b""), 200, "empty folded body stores nothing")
    # Invalid UTF-8 in a folded frame and in a label value.
    expect(s.ingest(f"name=utf.cpu&from={now}", b"ok;\xff\xfe 3\n"), 400, "invalid UTF-8 frame")
    expect(s.ingest(f"name=utf.cpu{{k=\xff}}&from={now}".encode("latin-1").decode("latin-1").replace("\xff", "%FF"),
                    b"a 1\n"), 400, "invalid UTF-8 label value")
    # Bad names.
    expect(s.ingest(f"name=bad!app&from={now}", b"a 1\n"), 400, "bad app name", "invalid_argument")
    expect(s.ingest(f"from={now}", b"a 1\n"), 400, "missing name", "invalid_argument", "name")
    # 1,000 labels: over the 30 label limit.
    many = ",".join(f"k{i}=v" for i in range(1000))
    expect(s.ingest(f"name=many.cpu{{{many}}}&from={now}", b"a 1\n"), 400, "1000 labels")
    # 10 MB label value: in the URL it passes the header size limit (431); through Push, the
    # label value limit (400).
    expect(s.ingest(f"name=big.cpu{{k={'v' * (10 << 20)}}}&from={now}", b"a 1\n"), 431, "10 MB label value in name")
    big = {"series": [{"labels": [{"name": "__name__", "value": "process_cpu"}, {"name": "k", "value": "v" * (10 << 20)}],
                       "samples": [{"rawProfile": __import__("base64").b64encode(raw).decode()}]}]}
    st, body, _ = s.request("POST", "/push.v1.PusherService/Push", json.dumps(big).encode(),
                            {"Content-Type": "application/json"})
    expect((st, body), 400, "10 MB label value via Push", "invalid_argument")
    # Bad from/until.
    expect(s.ingest("name=t.cpu&from=yesterday", b"a 1\n"), 400, "bad from", "invalid_argument", "from")
    expect(s.ingest("name=t.cpu&until=now-", b"a 1\n"), 400, "bad until", "invalid_argument", "until")
    # prev_profile in multipart.
    bnd = "XyZ"
    mp = (f"--{bnd}\r\nContent-Disposition: form-data; name=\"profile\"; filename=\"profile.pprof\"\r\n\r\n").encode() + good + \
         (f"\r\n--{bnd}\r\nContent-Disposition: form-data; name=\"prev_profile\"; filename=\"p.pprof\"\r\n\r\n").encode() + good + \
         f"\r\n--{bnd}--\r\n".encode()
    expect(s.ingest("name=mp", mp, f"multipart/form-data; boundary={bnd}"), 422, "prev_profile", "unknown",
           "unsupported client version")
    expect(s.ingest("name=mp", b"--nope\r\n", "multipart/form-data; boundary=XyZ"), 400, "broken multipart")
    # Wrong content types on Connect endpoints: 415; wrong method: 405.
    st, body, _ = s.request("POST", "/querier.v1.QuerierService/ProfileTypes", b"{}", {"Content-Type": "text/plain"})
    expect((st, body), 415, "Connect with text/plain")
    st, body, _ = s.request("POST", "/push.v1.PusherService/Push", b"x", {"Content-Type": "application/connect+proto"})
    expect((st, body), 415, "streaming content type")
    st, body, _ = s.request("GET", "/querier.v1.QuerierService/ProfileTypes")
    expect((st, body), 405, "GET on Connect")
    st, body, _ = s.request("GET", "/ingest")
    expect((st, body), 405, "GET /ingest")
    # Empty JSON body and malformed proto on Push.
    st, body, _ = s.request("POST", "/push.v1.PusherService/Push", b"", {"Content-Type": "application/json"})
    expect((st, body), 400, "empty JSON Push", "invalid_argument")
    st, body, _ = s.request("POST", "/push.v1.PusherService/Push", b"\x0a\xff\xff", {"Content-Type": "application/proto"})
    expect((st, body), 400, "malformed proto Push", "invalid_argument")
    # Invalid UTF-8 in a Push'd pprof string table -> 400 (Push), like Pyroscope.
    bad_utf8 = raw.replace(b"main.main", b"main.\xffain", 1)
    push = {"series": [{"labels": [{"name": "__name__", "value": "process_cpu"}, {"name": "service_name", "value": "p"}],
                        "samples": [{"rawProfile": __import__("base64").b64encode(bad_utf8).decode()}]}]}
    st, body, _ = s.request("POST", "/push.v1.PusherService/Push", json.dumps(push).encode(),
                            {"Content-Type": "application/json"})
    expect((st, body), 400 if bad_utf8 != raw else 200, "invalid UTF-8 via Push", None)
    # Oversized body: over the 256 MB body limit is slow to send; use a server with a small limit below.
    # A raw garbage request line gets 400 and the connection is closed.
    with socket.create_connection(("127.0.0.1", s.port)) as sock:
        sock.sendall(b"GARBAGE\x00\x01 / HTTP/9\r\n\r\n")
        resp = sock.recv(4096)
        c.true(resp.startswith(b"HTTP/1.1 400"), f"garbage request line -> 400 ({resp[:40]!r})")

    # Still up, nothing lost.
    c.eq(s.request("GET", "/ready")[0], 200, "server still ready")
    c.eq(series_total(s, CPU, '{service_name="keep"}'), before, "stored data unchanged by the bad requests")

with Server("-distributor.ingestion-body-limit-mb=1") as s:
    st, body, _ = s.ingest("name=huge.cpu", b"a 1\n" * (300 << 10))
    c.eq(st, 413, f"body over the limit -> 413 ({body[:100]!r})")
    c.eq(s.request("GET", "/ready")[0], 200, "still ready after 413")
c.done()

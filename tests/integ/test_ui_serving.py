"""The web UI served from the binary: GET / and /ui/<file> answer with the bytes of the files
in ui/ (read here from the repository, the independent source), their content types, ETags
and 304s, gzip that Python's gzip module inflates back to the file, HEAD, the long cache on
versioned paths, JSON 404s and 405s, and the API routes untouched. The server runs from an
empty working directory: it must not read ui/ at run time."""
import gzip
import json
import os
import re
import tempfile

from lib import OUT, Check, Server

UI = os.path.abspath(os.path.join(os.path.dirname(__file__), "../../ui"))
TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml",
         ".json": "application/json", ".png": "image/png"}
c = Check("ui_serving")


def same(got, want, what):
    """Byte equality, reported by length and first difference rather than whole files."""
    if got == want:
        c.true(True, what)
        return
    i = next((k for k in range(min(len(got), len(want))) if got[k] != want[k]), min(len(got), len(want)))
    c.true(False, f"{what}: {len(got)} bytes vs {len(want)}, first difference at {i}: "
                  f"{got[i:i + 40]!r} vs {want[i:i + 40]!r}")

files = {}
if os.path.isdir(UI):
    for root, _, names in os.walk(UI):
        for n in names:
            if n.startswith(".") or n.endswith("~"):
                continue
            p = os.path.join(root, n)
            with open(p, "rb") as f:
                files[os.path.relpath(p, UI)] = f.read()

# An empty working directory: nothing named ui/ anywhere near.
cwd = tempfile.mkdtemp(prefix="ember-ui-cwd-", dir=OUT)
old_cwd = os.getcwd()
os.chdir(cwd)
s = Server().start()
os.chdir(old_cwd)
try:
    version = None
    if "index.html" in files:
        st, body, h = s.request("GET", "/")
        c.eq(st, 200, "GET / status")
        c.true(h.get("Content-Type", "").startswith("text/html"), "GET / is HTML")
        c.eq(h.get("Cache-Control"), "no-cache", "index.html is revalidated")
        versions = set(re.findall(rb"ui/v-([0-9a-f]{16})/", body))
        c.true(len(versions) <= 1, "one asset version in index.html")
        version = versions.pop().decode() if versions else None
        same(re.sub(rb"ui/v-[0-9a-f]{16}/", b"ui/", body), files["index.html"], "GET / is ui/index.html")
        etag = h.get("ETag", "")
        c.true(re.fullmatch(r'"[0-9a-f]{16}"', etag) is not None, f"strong ETag {etag!r}")
        st, body, h = s.request("GET", "/", headers={"If-None-Match": etag})
        c.eq((st, body), (304, b""), "If-None-Match on / gives 304")
        st, body, h = s.request("GET", "/", headers={"If-None-Match": '"0000000000000000"'})
        c.eq(st, 200, "another ETag gives 200")
    else:
        st, body, h = s.request("GET", "/")
        c.eq(st, 404, "no index.html: GET / is 404")

    for rel, data in sorted(files.items()):
        if rel == "index.html" and version:
            # What the build serves: quoted ui/ references gain the version segment.
            data = re.sub(rb"([\"'](?:\./|/)?)ui/", rb"\1ui/v-" + version.encode() + b"/", data)
        st, body, h = s.request("GET", "/ui/" + rel)
        c.eq(st, 200, f"GET /ui/{rel}")
        same(body, data, f"/ui/{rel} is the file's bytes")
        ext = os.path.splitext(rel)[1]
        if ext in TYPES:
            c.true(h.get("Content-Type", "").startswith(TYPES[ext]), f"/ui/{rel} type {h.get('Content-Type')}")
        c.eq(h.get("X-Content-Type-Options"), "nosniff", f"/ui/{rel} nosniff")
        etag = h.get("ETag")
        st2, body2, _ = s.request("GET", "/ui/" + rel, headers={"If-None-Match": etag})
        c.eq((st2, body2), (304, b""), f"/ui/{rel} 304 on its ETag")
        st, body, h = s.request("HEAD", "/ui/" + rel)
        c.eq((st, body, int(h.get("Content-Length", -1))), (200, b"", len(data)), f"HEAD /ui/{rel}")
        st, body, h = s.request("GET", "/ui/" + rel, headers={"Accept-Encoding": "gzip"})
        if h.get("Content-Encoding") == "gzip":
            same(gzip.decompress(body), data, f"/ui/{rel} gzip inflates to the file")
            c.true(len(body) < len(data), f"/ui/{rel} gzip is smaller")
            c.eq(h.get("Vary"), "Accept-Encoding", f"/ui/{rel} Vary")
        else:
            same(body, data, f"/ui/{rel} identity when gzip does not pay")
        if version and rel != "index.html":
            st, body, h = s.request("GET", f"/ui/v-{version}/{rel}")
            c.eq(st, 200, f"versioned /ui/v-{version}/{rel}")
            same(body, data, f"versioned /ui/v-{version}/{rel} bytes")
            c.true("max-age=31536000" in h.get("Cache-Control", ""), f"versioned {rel} cached long")

    big = [r for r, d in files.items() if r.endswith(".js") and len(d) > 2000]
    if big:
        st, body, h = s.request("GET", "/ui/" + big[0], headers={"Accept-Encoding": "gzip, deflate"})
        c.eq(h.get("Content-Encoding"), "gzip", f"a {len(files[big[0]])}-byte script is sent gzipped")

    for path in ("/ui/no-such-file.js", "/ui/", "/ui/../Makefile", "/index.html"):
        st, body, h = s.request("GET", path)
        c.eq(st, 404, f"GET {path} is 404")
        c.eq(json.loads(body).get("code"), "not_found", f"GET {path} JSON error")
    st, body, h = s.request("POST", "/", b"x")
    c.eq((st, h.get("Allow")), (405, "GET, HEAD"), "POST / is 405")
    st, body, h = s.request("PUT", "/ui/x.js", b"x")
    c.eq(st, 405, "PUT /ui/x.js is 405")

    # The API is not shadowed by "/".
    st, body, _ = s.request("GET", "/ready")
    c.eq(st, 200, "/ready still answers")
    c.eq(s.connect("ProfileTypes", {}), {}, "ProfileTypes still answers")
    st, body, _ = s.request("GET", "/uix")
    c.eq(st, 404, "/uix is not the UI")
    st, body, _ = s.request("GET", "/metrics")
    c.true(b'route="/ui/"' in body or not files, "UI requests are labelled /ui/ in metrics")
finally:
    s.stop()
c.done()

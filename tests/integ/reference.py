"""Independent reference readings for the read-path tests: call trees built from
`go tool pprof -raw` output or from a folded file, never from Ember, and the summary
statistics (top functions, hottest path) computed on them with plain Python."""
import datetime
import re
import subprocess


def folded_stacks(text):
    """[(frames root first, value)] of a folded file ("a;b;c 12" per line)."""
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        stack, value = line.rsplit(" ", 1)
        out.append((stack.split(";"), int(value)))
    return out


def pprof_raw(path):
    """Reads `go tool pprof -raw path`: returns dict with 'types' (['samples/count', ...]),
    'time_ns', and 'samples': [(frames root first, [values], {label: value})]. Inlined
    frames are expanded (the first line of a location is the innermost)."""
    text = subprocess.run(["go", "tool", "pprof", "-raw", path], capture_output=True, text=True,
                          check=True).stdout
    lines = text.splitlines()
    info = {"types": [], "samples": [], "time_ns": None}
    raw_samples = []
    locs = {}
    section = None
    cur_loc = None
    for line in lines:
        if line.startswith("Time:"):
            # "Time: 2026-11-22 23:19:23.711880564 +0000 UTC"
            ts = line.split(": ", 1)[1].replace(" UTC", "")
            date, clock, _tz = ts.split(" ")
            sec, _, frac = clock.partition(".")
            dt = datetime.datetime.strptime(date + " " + sec, "%Y-%m-%d %H:%M:%S").replace(
                tzinfo=datetime.timezone.utc)
            info["time_ns"] = int(dt.timestamp()) * 1_000_000_000 + int((frac + "000000000")[:9])
            continue
        if line.startswith("Samples:"):
            section = "samples_header"
            continue
        if line.startswith("Locations"):
            section = "locations"
            continue
        if line.startswith("Mappings"):
            section = "mappings"
            continue
        if section == "samples_header":
            info["types"] = [t.replace("[dflt]", "") for t in line.split()]
            section = "samples"
            continue
        if section == "samples":
            m = re.match(r"^\s*([-\d\s]+):\s*([\d\s]*)$", line)
            if m:
                vals = [int(v) for v in m.group(1).split()]
                ids = [int(v) for v in m.group(2).split()]
                raw_samples.append([ids, vals, {}])
                continue
            m = re.match(r"^\s+(\S+):\[(.*)\]\s*$", line)
            if m and raw_samples:
                raw_samples[-1][2][m.group(1)] = m.group(2)
            continue
        if section == "locations":
            m = re.match(r"^\s*(\d+): 0x[0-9a-f]+ M=\d+ (\S+)", line)
            if m:
                cur_loc = int(m.group(1))
                locs[cur_loc] = [m.group(2)]
                continue
            m = re.match(r"^\s*(\d+): 0x[0-9a-f]+", line)
            if m:  # no symbol
                cur_loc = int(m.group(1))
                locs[cur_loc] = []
                continue
            m = re.match(r"^\s+(\S+) \S+:\d+ s=\d+$", line)
            if m and cur_loc is not None:
                locs[cur_loc].append(m.group(1))
    for ids, vals, labels in raw_samples:
        frames = []
        for lid in reversed(ids):  # root first
            frames.extend(reversed(locs[lid]))  # outermost line first
        info["samples"].append((frames, vals, labels))
    return info


class Tree:
    """A function-name call tree: node = {name: child}, with self and total."""

    def __init__(self, name="total"):
        self.name = name
        self.self = 0
        self.total = 0
        self.children = {}

    def add(self, frames, value):
        if value == 0:
            return
        node = self
        node.total += value
        for f in frames:
            node = node.children.setdefault(f, Tree(f))
            node.total += value
        node.self += value

    def paths(self):
        """{'a;b;c': (total, self)} of every node below the root."""
        out = {}
        stack = [(c, c.name) for c in self.children.values()]
        while stack:
            n, p = stack.pop()
            out[p] = (n.total, n.self)
            stack.extend((c, p + ";" + c.name) for c in n.children.values())
        return out


def function_stats(tree):
    """{name: [self, total]}: self summed over every node of that name, total summed over
    the nodes of that name with no ancestor of the same name."""
    stats = {}
    stack = [(c, frozenset()) for c in tree.children.values()]
    while stack:
        n, above = stack.pop()
        s = stats.setdefault(n.name, [0, 0])
        s[0] += n.self
        if n.name not in above:
            s[1] += n.total
        stack.extend((c, above | {n.name}) for c in n.children.values())
    return stats


def top_functions(tree, top):
    """[(name, self, total)] ranked by self desc, total desc, name (bytewise)."""
    stats = function_stats(tree)
    ranked = sorted(stats.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0].encode()))
    return [(name, s, t) for name, (s, t) in ranked[:top]]


def hottest_path(tree):
    """[(name, total, self)] from the root's largest child down, first by name on ties."""
    out = []
    node = tree
    while node.children:
        best = None
        for name in sorted(node.children, key=lambda s: s.encode()):
            c = node.children[name]
            if best is None or c.total > best.total:
                best = c
        out.append((best.name, best.total, best.self))
        node = best
    return out


def decode_flamebearer(fb, width=4, side=0):
    """{'a;b': (total, self)} of a flamebearer (width 4: single; 7: double, side 0 = left,
    1 = right), decoded from the level/x-offset encoding; the root is left out."""
    names = fb["names"]
    levels = fb["levels"]
    off = 3 * side
    prev = []  # (x, total, path) of the level above
    out = {}
    for d, level in enumerate(levels):
        cur = []
        x_end = 0
        for i in range(0, len(level), width):
            x = x_end + level[i + off]
            total, self_ = level[i + off + 1], level[i + off + 2]
            x_end = x + total
            name = names[level[i + width - 1]]
            if d == 0:
                path = ""
            elif total == 0:
                continue  # absent on this side (diff): its children are absent too
            else:
                parent = next((p for p in prev if p[0] <= x < p[0] + p[1]), None)
                if parent is None:
                    raise AssertionError(f"level {d}: node {name} at x={x} has no parent")
                if x + total > parent[0] + parent[1]:
                    raise AssertionError(f"level {d}: node {name} overflows its parent")
                path = (parent[2] + ";" if parent[2] else "") + name
                if path in out:
                    raise AssertionError(f"duplicate node {path}")
                out[path] = (total, self_)
            cur.append((x, total, path))
        prev = cur
    return out

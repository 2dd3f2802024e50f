"""Synthetic profile data for the benchmarks: real pprof with its time_nanos rewritten."""


def uvarint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def read_uvarint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return v, i


def with_time(raw, t_ns):
    """The pprof `raw` with field 9 (time_nanos) set to t_ns (top-level fields only)."""
    out = bytearray()
    i = 0
    while i < len(raw):
        key, j = read_uvarint(raw, i)
        field, wt = key >> 3, key & 7
        if wt == 0:
            _, k = read_uvarint(raw, j)
        elif wt == 2:
            n, k = read_uvarint(raw, j)
            k += n
        elif wt == 1:
            k = j + 8
        elif wt == 5:
            k = j + 4
        else:
            raise ValueError("unexpected wire type")
        if field != 9:
            out += raw[i:k]
        i = k
    return bytes(out) + uvarint(9 << 3) + uvarint(t_ns)

// Fetch wrappers for Ember's public API: Connect unary calls with JSON bodies (int64 fields
// arrive as strings) and the summary GET. Every URL is relative to the page, so the UI works
// behind a path prefix too.

let tenant = '';

/** Set the tenant sent as X-Scope-OrgID ('' = none). */
export function setTenant(t) { tenant = t || ''; }

/** An API failure: status 0 = the server could not be reached. */
export class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code || '';
  }
}

function headers(extra) {
  const h = Object.assign({}, extra);
  if (tenant) h['X-Scope-OrgID'] = tenant;
  return h;
}

async function send(url, init) {
  let r;
  try {
    r = await fetch(url, init);
  } catch (e) {
    throw new ApiError('Cannot reach the Ember server (' + (e.message || e) + ').', 0, 'unavailable');
  }
  if (!r.ok) {
    let msg = '', code = '';
    const text = await r.text().catch(() => '');
    try {
      const j = JSON.parse(text);
      msg = j.message || '';
      code = j.code || '';
    } catch (_) {
      msg = text.trim();
    }
    if (r.status === 401 && !msg) msg = 'this server needs a tenant (X-Scope-OrgID)';
    if (r.status >= 502 && r.status <= 504 && !msg) msg = 'the server is unavailable';
    throw new ApiError(msg || `HTTP ${r.status}`, r.status, code);
  }
  return r;
}

/** POST a Connect unary JSON call; answers the parsed JSON message. */
export async function connect(service, method, body) {
  const r = await send(`${service}/${method}`, {
    method: 'POST',
    headers: headers({ 'Content-Type': 'application/json', 'Connect-Protocol-Version': '1' }),
    body: JSON.stringify(body || {}),
  });
  const text = await r.text();
  return text ? JSON.parse(text) : {};
}

const Q = 'querier.v1.QuerierService';
const num = (v) => Number(v || 0);

/** ProfileTypes in [start, end] ms (0, 0 = all time) → [{ID, name, sampleType, sampleUnit, ...}]. */
export async function profileTypes(start = 0, end = 0) {
  const r = await connect(Q, 'ProfileTypes', { start: String(start), end: String(end) });
  return r.profileTypes || [];
}

/** LabelNames for the matchers (selectors) in [start, end]. */
export async function labelNames(matchers, start, end) {
  const r = await connect(Q, 'LabelNames', { matchers, start: String(start), end: String(end) });
  return r.names || [];
}

/** LabelValues of one label name for the matchers in [start, end]. */
export async function labelValues(name, matchers, start, end) {
  const r = await connect(Q, 'LabelValues', { name, matchers, start: String(start), end: String(end) });
  return r.names || [];
}

/** GetProfileStats → {dataIngested, oldest, newest} (ms). */
export async function profileStats() {
  const r = await connect(Q, 'GetProfileStats', {});
  return { dataIngested: !!r.dataIngested, oldest: num(r.oldestProfileTime), newest: num(r.newestProfileTime) };
}

/** SelectSeries → [{labels:[{name,value}], points:[{t, v}]}], step in seconds. */
export async function selectSeries({ type, selector, start, end, step, groupBy }) {
  const body = { profileTypeID: type, labelSelector: selector || '{}', start: String(start), end: String(end), step };
  if (groupBy) body.groupBy = [groupBy];
  const r = await connect(Q, 'SelectSeries', body);
  return (r.series || []).map((s) => ({
    labels: s.labels || [],
    points: (s.points || []).map((p) => ({ t: num(p.timestamp), v: Number(p.value || 0) })),
  }));
}

function stackRequest({ type, selector, start, end, maxNodes }) {
  const b = { profileTypeID: type, labelSelector: selector || '{}', start: String(start), end: String(end) };
  if (maxNodes) b.maxNodes = String(maxNodes);
  return b;
}

/** SelectMergeStacktraces → FlameGraph {names, levels: [[int...]], total, maxSelf} with numbers. */
export async function flamegraph(q) {
  const r = await connect(Q, 'SelectMergeStacktraces', stackRequest(q));
  const fg = r.flamegraph || {};
  return {
    names: fg.names || ['total'],
    levels: (fg.levels || []).map((l) => (l.values || []).map(Number)),
    total: num(fg.total),
    maxSelf: num(fg.maxSelf),
  };
}

/** Diff of two selections → FlameGraphDiff with numbers (7 ints per node). */
export async function diff(left, right) {
  const r = await connect(Q, 'Diff', { left: stackRequest(left), right: stackRequest(right) });
  const fg = r.flamegraph || {};
  return {
    names: fg.names || ['total'],
    levels: (fg.levels || []).map((l) => (l.values || []).map(Number)),
    total: num(fg.total),
    maxSelf: num(fg.maxSelf),
    leftTicks: num(fg.leftTicks),
    rightTicks: num(fg.rightTicks),
  };
}

/** Ember's summary: GET /ember/v1/summary → {total, unit, topFunctions, hottestPath}. */
export async function summary({ type, selector, start, end, top = 10 }) {
  const p = new URLSearchParams({ query: type + (selector || '{}'), from: String(start), until: String(end), top: String(top) });
  const r = await send('ember/v1/summary?' + p, { headers: headers({}) });
  return r.json();
}

/** Hand-encoded querier.v1.SelectMergeProfileRequest: 1 type, 2 selector, 3 start, 4 end. */
export function encodeMergeProfileRequest({ type, selector, start, end }) {
  const out = [];
  const varint = (n) => {
    n = BigInt(n);
    if (n < 0n) n += 1n << 64n; // int64 two's complement, 10 bytes
    do {
      let b = Number(n & 0x7fn);
      n >>= 7n;
      if (n) b |= 0x80;
      out.push(b);
    } while (n);
  };
  const str = (field, s) => {
    const bytes = new TextEncoder().encode(s);
    out.push((field << 3) | 2);
    varint(bytes.length);
    for (const b of bytes) out.push(b);
  };
  str(1, type);
  str(2, selector || '{}');
  out.push(3 << 3); varint(start);
  out.push(4 << 3); varint(end);
  return new Uint8Array(out);
}

/** SelectMergeProfile in application/proto → the pprof bytes (a Blob go tool pprof reads). */
export async function mergeProfile(q) {
  const r = await send(`${Q}/SelectMergeProfile`, {
    method: 'POST',
    headers: headers({ 'Content-Type': 'application/proto', 'Connect-Protocol-Version': '1' }),
    body: encodeMergeProfileRequest(q),
  });
  return r.blob();
}

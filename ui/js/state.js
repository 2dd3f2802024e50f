// The whole view state lives in the URL query string, so a link opens the same view and the
// browser's back/forward buttons move between views.
//
//   type      profile type ID             query   label selector, e.g. {service_name="api"}
//   from/until  "now-1h" / "now" or ms     view    flame | table | sandwich | diff
//   focus     zoomed frame path, "a;b;c"  search  highlighted frames (substring)
//   fn        sandwich function           groupBy timeline grouping label
//   tenant    X-Scope-OrgID               bquery/bfrom/buntil, cquery/cfrom/cuntil: diff sides

export const VIEWS = ['flame', 'table', 'sandwich', 'diff'];
const KEYS = ['type', 'query', 'from', 'until', 'view', 'focus', 'search', 'fn', 'groupBy', 'tenant',
  'bquery', 'bfrom', 'buntil', 'cquery', 'cfrom', 'cuntil', 'maxNodes'];

export function defaults() {
  return { type: '', query: '', from: 'now-1h', until: 'now', view: 'flame', focus: '', search: '', fn: '',
    groupBy: '', tenant: '', bquery: '', bfrom: '', buntil: '', cquery: '', cfrom: '', cuntil: '', maxNodes: '' };
}

/** The state in a URL search string. */
export function parse(search) {
  const p = new URLSearchParams(search);
  const s = defaults();
  for (const k of KEYS) if (p.has(k)) s[k] = p.get(k);
  if (!VIEWS.includes(s.view)) s.view = 'flame';
  return s;
}

/** The URL search string of a state (defaults left out). */
export function serialize(s) {
  const d = defaults();
  const p = new URLSearchParams();
  for (const k of KEYS) if (s[k] && s[k] !== d[k]) p.set(k, s[k]);
  const q = p.toString();
  return q ? '?' + q : '';
}

/** A time expression ("now", "now-15m", ms since the epoch, or seconds) as ms. */
export function resolveTime(expr, now = Date.now()) {
  expr = String(expr || 'now').trim();
  if (expr === 'now') return now;
  const m = /^now-(\d+)([smhdw])$/.exec(expr);
  if (m) return now - Number(m[1]) * { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 604800e3 }[m[2]];
  if (/^\d+$/.test(expr)) return expr.length <= 10 ? Number(expr) * 1000 : Number(expr);
  const t = Date.parse(expr);
  return isNaN(t) ? now : t;
}

/** {start, end} in ms of a from/until pair. */
export function resolveRange(from, until, now = Date.now()) {
  return { start: Math.round(resolveTime(from, now)), end: Math.round(resolveTime(until, now)) };
}

// ---- label selectors ------------------------------------------------------------------

/** Parse a selector "{a="x", b!~"y"}" into [{name, op, value}]; throws on bad syntax. */
export function parseSelector(sel) {
  sel = (sel || '').trim();
  if (!sel || sel === '{}') return [];
  if (sel[0] !== '{' || sel[sel.length - 1] !== '}') throw new Error('a selector is {name="value", ...}');
  const body = sel.slice(1, -1);
  const out = [];
  let i = 0;
  const ws = () => { while (i < body.length && /\s/.test(body[i])) i++; };
  while (true) {
    ws();
    if (i >= body.length) break;
    const nm = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(body.slice(i));
    if (!nm) throw new Error('label name expected at "' + body.slice(i, i + 12) + '"');
    i += nm[0].length;
    ws();
    const op = /^(=~|!~|!=|=)/.exec(body.slice(i));
    if (!op) throw new Error('operator =, !=, =~ or !~ expected after ' + nm[0]);
    i += op[0].length;
    ws();
    if (body[i] !== '"') throw new Error('quoted value expected after ' + nm[0] + op[0]);
    i++;
    let v = '';
    while (i < body.length && body[i] !== '"') {
      if (body[i] === '\\' && i + 1 < body.length) { i++; v += body[i] === 'n' ? '\n' : body[i]; } else v += body[i];
      i++;
    }
    if (body[i] !== '"') throw new Error('unterminated value of ' + nm[0]);
    i++;
    out.push({ name: nm[0], op: op[0], value: v });
    ws();
    if (body[i] === ',') i++;
    else if (i < body.length) throw new Error('"," expected at "' + body.slice(i, i + 12) + '"');
  }
  return out;
}

/** The selector text of matchers. */
export function buildSelector(ms) {
  return '{' + ms.map((m) => `${m.name}${m.op}"${String(m.value).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(', ') + '}';
}

/** The service_name of a selector (its first = matcher), or ''. */
export function serviceOf(sel) {
  try {
    const m = parseSelector(sel).find((x) => x.name === 'service_name' && x.op === '=');
    return m ? m.value : '';
  } catch (_) {
    return '';
  }
}

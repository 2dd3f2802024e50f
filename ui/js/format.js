// Unit-aware number formatting. A profile type ID is name:sample_type:sample_unit:period_type:period_unit.

/** The kind of a sample unit: 'time' (value in ns multiple), 'bytes' or 'count'. */
export function unitOf(typeId) {
  const unit = (typeId || '').split(':')[2] || '';
  const ns = { nanoseconds: 1, microseconds: 1e3, milliseconds: 1e6, seconds: 1e9 }[unit];
  if (ns) return { kind: 'time', scale: ns, name: unit };
  if (unit === 'bytes') return { kind: 'bytes', scale: 1, name: unit };
  return { kind: 'count', scale: 1, name: unit || 'count' };
}

function trim(n, digits) {
  return Number(n.toFixed(digits)).toString();
}

/** A value of the given unit as text: "12.3 ms", "4.5 MiB", "1.2k". */
export function fmtValue(v, unit) {
  v = Number(v) || 0;
  if (!unit || unit.kind === 'count') {
    const a = Math.abs(v);
    if (a >= 1e9) return trim(v / 1e9, 2) + 'G';
    if (a >= 1e6) return trim(v / 1e6, 2) + 'M';
    if (a >= 1e4) return trim(v / 1e3, 1) + 'k';
    return trim(v, 2);
  }
  if (unit.kind === 'bytes') {
    const steps = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (Math.abs(v) >= 1024 && i < steps.length - 1) { v /= 1024; i++; }
    return trim(v, i ? 2 : 0) + ' ' + steps[i];
  }
  const ns = v * unit.scale;
  const a = Math.abs(ns);
  if (a >= 3600e9) return trim(ns / 3600e9, 2) + ' h';
  if (a >= 60e9) return trim(ns / 60e9, 2) + ' min';
  if (a >= 1e9) return trim(ns / 1e9, 2) + ' s';
  if (a >= 1e6) return trim(ns / 1e6, 2) + ' ms';
  if (a >= 1e3) return trim(ns / 1e3, 2) + ' µs';
  return trim(ns, 0) + ' ns';
}

/** A share 0..1 as a percentage. */
export function fmtPct(x) {
  if (!isFinite(x)) return '–';
  const p = x * 100;
  if (p !== 0 && Math.abs(p) < 0.01) return (p < 0 ? '>-' : '<') + '0.01%';
  return (Math.abs(p) >= 10 ? p.toFixed(1) : p.toFixed(2)) + '%';
}

/** Milliseconds since the epoch as a local date-time "2026-11-23 17:05:03". */
export function fmtTime(ms, withSeconds = true) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}` +
    (withSeconds ? ':' + p(d.getSeconds()) : '');
}

/** A short label for a time axis tick, given the visible span in ms. */
export function fmtTick(ms, span) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  if (span > 2 * 86400e3) return `${p(d.getMonth() + 1)}-${p(d.getDate())}`;
  if (span > 86400e3) return `${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
  if (span < 5 * 60e3) return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  return `${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** Escape text for HTML. */
export function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

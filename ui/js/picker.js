// Query pickers: profile type, service, label filters (name/op/value populated from the API)
// and the time range. They edit the selector text, which is the state kept in the URL.

import * as api from './api.js';
import { parseSelector, buildSelector } from './state.js';
import { esc, fmtTime } from './format.js';

export const OPS = ['=', '!=', '=~', '!~'];
export const PRESETS = [['now-15m', 'Last 15 minutes'], ['now-1h', 'Last hour'], ['now-6h', 'Last 6 hours'], ['now-24h', 'Last 24 hours']];

/** Fill the profile type <select>, grouped by profile name. */
export function fillTypes(select, types, current) {
  const groups = new Map();
  for (const t of types) {
    if (!groups.has(t.name)) groups.set(t.name, []);
    groups.get(t.name).push(t);
  }
  let html = '';
  for (const [name, ts] of groups) {
    html += `<optgroup label="${esc(name)}">` + ts.map((t) =>
      `<option value="${esc(t.ID)}">${esc(name + ' · ' + t.sampleType + (t.sampleUnit ? ' (' + t.sampleUnit + ')' : ''))}</option>`).join('') + '</optgroup>';
  }
  if (current && !types.some((t) => t.ID === current)) html += `<option value="${esc(current)}">${esc(current)}</option>`;
  if (!html) html = '<option value="">no profile types</option>';
  select.innerHTML = html;
  select.value = current || '';
}

export function fillServices(select, services, current) {
  let html = '<option value="">all services</option>' + services.map((s) => `<option>${esc(s)}</option>`).join('');
  if (current && !services.includes(current)) html += `<option>${esc(current)}</option>`;
  select.innerHTML = html;
  select.value = current || '';
}

/** The selector with service_name set to svc ('' removes it). */
export function withService(selector, svc) {
  let ms;
  try { ms = parseSelector(selector); } catch (_) { ms = []; }
  ms = ms.filter((m) => !(m.name === 'service_name' && m.op === '='));
  if (svc) ms.unshift({ name: 'service_name', op: '=', value: svc });
  return buildSelector(ms);
}

/**
 * Label filter chips and an "add filter" form.
 * opts: {getContext() → {type, selector, start, end}, onChange(newSelector)}
 */
export class Filters {
  constructor(host, opts) {
    this.host = host;
    this.opts = opts;
  }

  render(selector) {
    let ms = [];
    try { ms = parseSelector(selector); } catch (_) { /* the selector box shows the error */ }
    this.ms = ms;
    const chips = ms.map((m, k) => (m.name === 'service_name' && m.op === '=') ? '' :
      `<span class="chip"><span class="mono">${esc(m.name)}</span><b>${esc(m.op)}</b><span class="mono">${esc(m.value)}</span>` +
      `<button class="chip-x" data-k="${k}" aria-label="Remove filter ${esc(m.name + m.op + m.value)}" title="Remove">×</button></span>`).join('');
    this.host.innerHTML = chips + `<button class="btn-ghost" id="add-filter" aria-expanded="false">+ Filter</button>
      <form class="filter-form" hidden>
        <select name="lname" aria-label="Label name" required></select>
        <select name="lop" aria-label="Operator">${OPS.map((o) => `<option>${o}</option>`).join('')}</select>
        <input name="lvalue" list="filter-values" aria-label="Label value" placeholder="value" autocomplete="off">
        <datalist id="filter-values"></datalist>
        <button type="submit" class="btn">Add</button><button type="button" class="btn-ghost" data-cancel>Cancel</button>
      </form>`;
    this.host.querySelectorAll('.chip-x').forEach((b) => b.addEventListener('click', () => {
      const rest = ms.filter((_, k) => k !== +b.dataset.k);
      this.opts.onChange(buildSelector(rest));
    }));
    const form = this.host.querySelector('form');
    const add = this.host.querySelector('#add-filter');
    add.addEventListener('click', () => this.open(form, add));
    form.querySelector('[data-cancel]').addEventListener('click', () => { form.hidden = true; add.hidden = false; add.focus(); });
    form.elements.lname.addEventListener('change', () => this.loadValues(form));
    form.addEventListener('keydown', (e) => { if (e.key === 'Escape') { form.hidden = true; add.hidden = false; add.focus(); } });
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (!form.elements.lname.value) return;
      this.opts.onChange(buildSelector([...ms, { name: form.elements.lname.value, op: form.elements.lop.value, value: form.elements.lvalue.value }]));
    });
  }

  async open(form, add) {
    form.hidden = false;
    add.hidden = true;
    const c = this.opts.getContext();
    form.elements.lname.innerHTML = '<option value="">loading…</option>';
    form.elements.lname.focus();
    try {
      const names = await api.labelNames([`{__profile_type__="${c.type}"}`], c.start, c.end);
      const shown = names.filter((n) => !n.startsWith('__') && n !== 'service_name');
      form.elements.lname.innerHTML = shown.length ? shown.map((n) => `<option>${esc(n)}</option>`).join('')
        : '<option value="">no labels</option>';
      this.loadValues(form);
    } catch (e) {
      form.elements.lname.innerHTML = `<option value="">${esc(e.message)}</option>`;
    }
  }

  async loadValues(form) {
    const c = this.opts.getContext();
    const dl = form.querySelector('datalist');
    dl.innerHTML = '';
    if (!form.elements.lname.value) return;
    try {
      const svc = this.ms.filter((m) => m.name === 'service_name');
      const sel = buildSelector([{ name: '__profile_type__', op: '=', value: c.type }, ...svc]);
      const vals = await api.labelValues(form.elements.lname.value, [sel], c.start, c.end);
      dl.innerHTML = vals.map((v) => `<option value="${esc(v)}">`).join('');
      if (vals.length && !form.elements.lvalue.value) form.elements.lvalue.placeholder = vals[0];
    } catch (_) { /* values are a convenience */ }
  }
}

/** The text for a from/until pair. */
export function rangeText(from, until, start, end) {
  const p = PRESETS.find(([f]) => f === from);
  if (p && until === 'now') return p[1];
  return `${fmtTime(start, false)} – ${fmtTime(end, false)}`;
}

/** A datetime-local input value for ms. */
export function toLocalInput(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60e3);
  return d.toISOString().slice(0, 16);
}

export function fromLocalInput(v) {
  const t = new Date(v).getTime();
  return isNaN(t) ? null : t;
}

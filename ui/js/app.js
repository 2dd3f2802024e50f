// The shell: reads the state from the URL, loads what the active view needs, wires the
// controls. Every user action becomes a new URL (pushState), so back/forward and shared
// links work.

import * as api from './api.js';
import * as S from './state.js';
import { Tree } from './tree.js';
import { FlameGraph } from './flamegraph.js';
import { Timeline } from './timeline.js';
import { FunctionTable } from './table.js';
import { Sandwich } from './sandwich.js';
import { renderSummary } from './summary.js';
import { DiffView, diffSides } from './diff.js';
import { fillTypes, fillServices, withService, Filters, rangeText, toLocalInput, fromLocalInput } from './picker.js';
import * as exp from './export.js';
import { unitOf, fmtValue, fmtPct, fmtTime, esc } from './format.js';

const $ = (id) => document.getElementById(id);

let state = S.parse(location.search);
let range = S.resolveRange(state.from, state.until);
let unit = unitOf(state.type);
const cache = { typesKey: '', types: [], dataKey: '', tree: null, summary: null, seriesKey: '', diffKey: '' };
let loadSeq = 0;

// ---- test and debugging hook -------------------------------------------------------------
const hook = (window.__ember = {
  ready: false,      // true once the current state is fully drawn
  loads: 0,
  get state() { return { ...state }; },
  get range() { return { ...range }; },
  get tree() { return cache.tree; },
  get flame() { return flame; },
  get diff() { return diffView; },
  get sandwich() { return sandwich; },
  get table() { return table; },
  /** Decoded nodes of a flame graph as [{name, level, total, self, path}] (first `limit`). */
  nodes(fg = flame, limit = 100000) {
    const t = fg.tree, out = [];
    if (!t) return out;
    for (let i = 0; i < t.n && i < limit; i++) out.push({ name: t.nameOf(i), level: t.level[i], x: t.x[i], total: t.total[i], self: t.self[i] });
    return out;
  },
  /** Rectangles drawn last: [{name, x, y, w, label}]. */
  rects(fg = flame) { return fg.rects.map((r) => ({ name: fg.tree.nameOf(r.i), x: r.x, y: r.y, w: r.w, label: r.label || '' })); },
  api, Tree, FlameGraph,
});

// ---- components ---------------------------------------------------------------------------
const flame = new FlameGraph($('flame'), { onFocus: (path) => update({ focus: path.join(';') }) });
const timeline = new Timeline($('timeline'), { onBrush: brushed });
const table = new FunctionTable($('table'), { onSelect: (name) => update({ view: 'sandwich', fn: name }) });
const swTable = new FunctionTable($('sw-table'), { onSelect: (name) => update({ fn: name }) });
const sandwich = new Sandwich($('sw-callers'), $('sw-callees'));
const diffView = new DiffView($('view-diff'), {
  onApply: (patch) => update(patch),
  onFocus: () => {},
});
const filters = new Filters($('filters'), {
  getContext: () => ({ type: state.type, selector: state.query, start: range.start, end: range.end }),
  onChange: (sel) => update({ query: sel, focus: '' }),
});

// ---- state transitions --------------------------------------------------------------------
function update(patch, push = true) {
  state = { ...state, ...patch };
  const url = location.pathname + S.serialize(state);
  if (push) history.pushState(null, '', url);
  else history.replaceState(null, '', url);
  apply();
}

window.addEventListener('popstate', () => { state = S.parse(location.search); apply(); });

function brushed(a, b) {
  if (state.view === 'diff') {
    const side = document.querySelector('input[name="brush"]:checked').value;
    update(side === 'b' ? { bfrom: String(a), buntil: String(b) } : { cfrom: String(a), cuntil: String(b) });
  } else {
    update({ from: String(a), until: String(b), focus: '' });
  }
}

// ---- banners and empty states -------------------------------------------------------------
function showBanner(err) {
  const b = $('banner');
  if (!err) { b.hidden = true; b.innerHTML = ''; return; }
  let title = 'Something went wrong', detail = err.message || String(err), action = '';
  if (err.status === 0) {
    title = 'The Ember server cannot be reached';
    detail = `${location.origin} did not answer. Is <code>ember server</code> running? ${esc(err.message)}`;
    action = '<button class="btn" data-act="retry">Retry</button>';
  } else if (err.status === 401) {
    title = 'This server has multi-tenancy on';
    detail = 'Enter a tenant ID in the Tenant field (sent as X-Scope-OrgID). Server said: ' + esc(err.message);
    action = '<button class="btn" data-act="tenant">Enter tenant</button>';
  } else if (err.status === 400) {
    title = 'The server rejected the query';
    detail = esc(err.message);
  } else {
    detail = esc(detail) + (err.status ? ` (HTTP ${err.status})` : '');
  }
  b.innerHTML = `<strong>${title}</strong><span>${detail}</span>${action}`;
  b.hidden = false;
  const btn = b.querySelector('button');
  if (btn) btn.addEventListener('click', () => (btn.dataset.act === 'tenant' ? $('tenant').focus() : reload()));
}

function showState(id, html) {
  const el = $(id);
  el.hidden = !html;
  el.innerHTML = html || '';
  el.querySelectorAll('[data-jump]').forEach((b) => b.addEventListener('click', jumpToData));
}

/** The newest data of the current selection: SelectSeries a day at a time, back over a week. */
async function jumpToData() {
  try {
    const now = Date.now(), day = 86400e3, step = 600;
    for (let k = 0; k < 7; k++) {
      const end = now - k * day, start = end - day;
      const series = await api.selectSeries({ type: state.type, selector: state.query, start, end, step });
      let last = 0;
      for (const s of series) for (const pt of s.points) last = Math.max(last, pt.t);
      if (last) {
        // a profile at t is in the first point >= t, so it lies in (last - step, last]
        update({ from: String(last - 3600e3), until: String(last + 60e3), focus: '' });
        return;
      }
    }
    showBanner(new Error('No data for this selection in the last 7 days.'));
  } catch (e) { showBanner(e); }
}

function emptyHtml(what) {
  const svc = S.serviceOf(state.query);
  return `<div class="empty"><h3>No ${esc(what)} in this range</h3>
    <p>No <code>${esc(state.type || 'profile')}</code> profiles${svc ? ` of <code>${esc(svc)}</code>` : ''} match
    <code>${esc(state.query || '{}')}</code> between ${fmtTime(range.start, false)} and ${fmtTime(range.end, false)}.</p>
    <p><button class="btn" data-jump>Jump to the latest data</button> or widen the time range.</p></div>`;
}

// ---- loading ------------------------------------------------------------------------------
function reload() {
  cache.typesKey = cache.dataKey = cache.seriesKey = cache.diffKey = '';
  apply();
}

function stepFor(r) {
  const want = (r.end - r.start) / 1000 / Math.max(60, Math.floor(($('timeline').clientWidth || 900) / 4));
  const ladder = [1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400];
  return ladder.find((s) => s >= want) || 86400;
}

async function ensureTypes(seq) {
  const key = state.tenant + '|' + state.from + '|' + state.until;
  if (cache.typesKey !== key) {
    let types = await api.profileTypes(range.start, range.end);
    if (!types.length) types = await api.profileTypes(0, 0);
    cache.types = types;
    cache.typesKey = key;
  }
  if (seq !== loadSeq) return false;
  const types = cache.types;
  if (!state.type && types.length) {
    const pick = types.find((t) => t.ID.startsWith('process_cpu:cpu:')) || types.find((t) => t.name === 'process_cpu') || types[0];
    state.type = pick.ID;
    history.replaceState(null, '', location.pathname + S.serialize(state));
  }
  fillTypes($('type'), types, state.type);
  const services = state.type ? await api.labelValues('service_name', [`{__profile_type__="${state.type}"}`], range.start, range.end) : [];
  if (seq !== loadSeq) return false;
  if (!state.query && services.length) {
    state.query = withService('{}', services[0]);
    history.replaceState(null, '', location.pathname + S.serialize(state));
  }
  fillServices($('service'), services, S.serviceOf(state.query));
  return true;
}

async function apply() {
  const seq = ++loadSeq;
  hook.ready = false;
  api.setTenant(state.tenant);
  range = S.resolveRange(state.from, state.until);
  syncControls();
  try {
    showBanner(null);
    if (!(await ensureTypes(seq))) return;
    unit = unitOf(state.type);
    syncControls();
    if (!state.type) {
      showState('state-flame', `<div class="empty"><h3>No profiles yet</h3><p>This server has no profiles${state.tenant ? ' for tenant <code>' + esc(state.tenant) + '</code>' : ''}.
        Send some with a Pyroscope SDK, Grafana Alloy or <code>curl --data-binary @stacks.txt 'http://${esc(location.host)}/ingest?name=app.cpu'</code>.</p></div>`);
      clearViews();
      hook.ready = true;
      return;
    }
    try { S.parseSelector(state.query); } catch (e) { /* let the server say what is wrong */ }
    const jobs = [loadTimeline(seq)];
    if (state.view === 'diff') jobs.push(loadDiff(seq));
    else jobs.push(loadMain(seq));
    await Promise.all(jobs);
  } catch (e) {
    if (seq !== loadSeq) return;
    showBanner(e);
    clearViews(e);
  }
  if (seq === loadSeq) { hook.ready = true; hook.loads++; }
}

function clearViews(err) {
  const msg = err ? `<div class="empty error"><h3>Nothing to show</h3><p>${esc(err.message)}</p></div>` : '';
  if (err) for (const id of ['state-flame', 'state-table', 'state-sandwich', 'state-diff']) showState(id, msg);
  flame.setTree(null); flame.rects = []; flame.canvas.height = 0; flame.canvas.style.height = '0px';
  $('summary').innerHTML = '';
}

async function loadTimeline(seq) {
  const step = stepFor(range);
  const key = [state.tenant, state.type, state.query, range.start, range.end, state.groupBy, step].join('|');
  if (cache.seriesKey !== key) {
    const series = await api.selectSeries({ type: state.type, selector: state.query, start: range.start, end: range.end, step, groupBy: state.groupBy });
    if (seq !== loadSeq) return;
    cache.series = series;
    cache.seriesKey = key;
    cache.step = step;
    loadGroupNames(seq).catch(() => {});
  }
  timeline.marks = [];
  if (state.view === 'diff') {
    const s = diffSides(state, range);
    timeline.marks = [{ start: s.left.start, end: s.left.end, color: '#6e56cf', label: 'baseline' },
      { start: s.right.start, end: s.right.end, color: '#e5484d', label: 'comparison' }];
  }
  timeline.set(cache.series, range, unit, cache.step);
}

async function loadGroupNames(seq) {
  const names = await api.labelNames([`{__profile_type__="${state.type}"}`], range.start, range.end);
  if (seq !== loadSeq) return;
  const shown = names.filter((n) => !n.startsWith('__'));
  const sel = $('groupby');
  sel.innerHTML = '<option value="">none</option>' + shown.map((n) => `<option>${esc(n)}</option>`).join('');
  if (state.groupBy && !shown.includes(state.groupBy)) sel.insertAdjacentHTML('beforeend', `<option>${esc(state.groupBy)}</option>`);
  sel.value = state.groupBy;
}

async function loadMain(seq) {
  const q = { type: state.type, selector: state.query, start: range.start, end: range.end, maxNodes: state.maxNodes };
  const key = [state.tenant, q.type, q.selector, q.start, q.end, q.maxNodes].join('|');
  if (cache.dataKey !== key) {
    const [fg, sum] = await Promise.all([api.flamegraph(q), api.summary({ ...q, top: 10 }).catch((e) => ({ error: e }))]);
    if (seq !== loadSeq) return;
    cache.tree = Tree.fromFlamegraph(fg);
    cache.summary = sum;
    cache.dataKey = key;
    flame.setTree(cache.tree, unit);
    table.set(cache.tree, unit);
    swTable.set(cache.tree, unit);
    cache.fnKey = '';
  }
  renderViews();
}

function renderViews() {
  const tree = cache.tree;
  const empty = !tree || !tree.rootTotal;
  for (const id of ['state-flame', 'state-table', 'state-sandwich']) showState(id, empty ? emptyHtml('profiles') : '');
  $('sw-body').hidden = empty;
  // summary
  if (cache.summary && cache.summary.error) $('summary').innerHTML = `<h2>Summary</h2><p class="error-text">${esc(cache.summary.error.message)}</p>`;
  else renderSummary($('summary'), cache.summary, {
    unit,
    onFunction: (name) => {
      const outer = tree.outerNodes(name);
      const best = outer.reduce((a, b) => (a < 0 || tree.total[b] > tree.total[a] ? b : a), -1);
      update({ view: 'flame', search: name, focus: best > 0 ? tree.path(best).join(';') : '' });
    },
    onPath: (names) => update({ view: 'flame', focus: names.join(';') }),
  });
  if (empty) { flame.rects = []; flame.canvas.style.height = '0px'; return; }
  if (state.view === 'flame') {
    flame.setSearch(state.search);
    const ok = flame.focusPath(state.focus ? state.focus.split(';') : []);
    flame.cursor = -1;
    flame.render();
    hook.renderMs = flame.lastRenderMs;
    renderCrumbs(ok);
    searchInfo(flame);
  } else if (state.view === 'table') {
    table.selected = state.fn;
    table.setFilter($('table-filter').value);
  } else if (state.view === 'sandwich') {
    swTable.selected = state.fn;
    swTable.setFilter($('sw-filter').value);
    let fn = state.fn;
    if (!fn) {
      const top = tree.functions().sort((a, b) => b.self - a.self)[0];
      fn = top ? top.name : '';
    }
    const s = sandwich.set(tree, fn, unit);
    sandwich.callers.setSearch(state.search); sandwich.callees.setSearch(state.search);
    sandwich.callers.render(); sandwich.callees.render();
    $('sw-name').innerHTML = `<span class="fn">${esc(fn)}</span><span class="muted">total ${fmtValue(s.total, unit)} · ${fmtPct(s.total / (tree.rootTotal || 1))} of all</span>`;
  }
}

function renderCrumbs(ok) {
  const names = state.focus ? state.focus.split(';') : [];
  const el = $('crumbs');
  if (!names.length) { el.innerHTML = '<span class="muted">Click a frame to zoom in; click a frame above it or press Esc to zoom out.</span>'; return; }
  const parts = ['<button data-k="0">all</button>'].concat(names.map((n, k) =>
    `<button data-k="${k + 1}" title="${esc(n)}">${esc(n.length > 40 ? '…' + n.slice(-39) : n)}</button>`));
  el.innerHTML = parts.join('<span class="sep">›</span>') + (ok ? '' : ' <span class="error-text">(this frame is not in the current data)</span>');
  el.querySelectorAll('button').forEach((b) => b.addEventListener('click', () => update({ focus: names.slice(0, +b.dataset.k).join(';') })));
}

function searchInfo(fg) {
  const el = $('search-info');
  if (!state.search) { el.textContent = ''; return; }
  el.innerHTML = fg.matchCount
    ? `${fg.matchCount} frame${fg.matchCount > 1 ? 's' : ''} · <strong>${fmtPct(fg.matchShare)}</strong> of total`
    : 'no match';
}

async function loadDiff(seq) {
  const sides = diffSides(state, range);
  diffView.sync(sides);
  const key = JSON.stringify([state.tenant, sides]);
  if (cache.diffKey !== key) {
    const d = await diffView.load(sides, unit);
    if (seq !== loadSeq) return;
    cache.diffKey = key;
    cache.diffResult = d;
  }
  const d = cache.diffResult;
  const empty = !d.leftTicks && !d.rightTicks;
  showState('state-diff', empty ? emptyHtml('profiles on either side') : '');
  diffView.fg.setSearch(state.search);
  diffView.fg.focusPath(state.view === 'diff' && state.focus ? state.focus.split(';') : []);
  if (empty) { diffView.fg.rects = []; diffView.fg.canvas.style.height = '0px'; return; }
  diffView.fg.render();
  searchInfo(diffView.fg);
}

// ---- controls -----------------------------------------------------------------------------
function syncControls() {
  for (const v of S.VIEWS) {
    $('view-' + v).hidden = state.view !== v;
    const tab = $('tab-' + v);
    tab.setAttribute('aria-selected', String(state.view === v));
    tab.tabIndex = state.view === v ? 0 : -1;
  }
  $('query').value = state.query;
  $('search').value = state.search;
  $('tenant').value = state.tenant;
  const preset = [...$('range').options].some((o) => o.value === state.from) && state.until === 'now';
  $('range').value = preset ? state.from : 'custom';
  $('custom-range').hidden = preset;
  $('from').value = toLocalInput(range.start);
  $('until').value = toLocalInput(range.end);
  $('range-text').textContent = rangeText(state.from, state.until, range.start, range.end);
  if (state.type) $('type').value = state.type;
  filters.render(state.query);
  document.title = `Ember · ${S.serviceOf(state.query) || 'all services'} · ${state.type.split(':').slice(0, 2).join(' ') || 'profiles'}`;
}

$('type').addEventListener('change', (e) => update({ type: e.target.value, focus: '', fn: '' }));
$('service').addEventListener('change', (e) => update({ query: withService(state.query, e.target.value), focus: '', fn: '' }));
$('range').addEventListener('change', (e) => {
  if (e.target.value === 'custom') {
    $('custom-range').hidden = false;
    $('from').focus();
  } else update({ from: e.target.value, until: 'now', focus: '' });
});
$('custom-range').addEventListener('submit', (e) => {
  e.preventDefault();
  const a = fromLocalInput($('from').value), b = fromLocalInput($('until').value);
  if (a !== null && b !== null) update({ from: String(a), until: String(b), focus: '' });
});
$('refresh').addEventListener('click', reload);
$('tenant').addEventListener('change', (e) => { cache.typesKey = ''; update({ tenant: e.target.value.trim(), type: '', query: '', focus: '', fn: '' }); });
$('selector-form').addEventListener('submit', (e) => { e.preventDefault(); update({ query: $('query').value.trim(), focus: '' }); });
$('groupby').addEventListener('change', (e) => update({ groupBy: e.target.value }));
document.querySelectorAll('[role=tab]').forEach((t) => t.addEventListener('click', () => update({ view: t.dataset.view })));
document.querySelector('.tabs').addEventListener('keydown', (e) => {
  const k = S.VIEWS.indexOf(state.view);
  const d = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
  if (!d) return;
  const v = S.VIEWS[(k + d + S.VIEWS.length) % S.VIEWS.length];
  update({ view: v });
  $('tab-' + v).focus();
});
let searchTimer = 0;
$('search').addEventListener('input', (e) => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => update({ search: e.target.value }, false), 150);
});
$('search-form').addEventListener('submit', (e) => { e.preventDefault(); update({ search: $('search').value }); });
$('reset').addEventListener('click', () => update({ focus: '', search: '' }));
$('table-filter').addEventListener('input', (e) => table.setFilter(e.target.value));
$('sw-filter').addEventListener('input', (e) => swTable.setFilter(e.target.value));

// export menu
const menu = $('export-menu');
$('export-btn').addEventListener('click', () => {
  menu.hidden = !menu.hidden;
  $('export-btn').setAttribute('aria-expanded', String(!menu.hidden));
  if (!menu.hidden) menu.querySelector('button').focus();
});
document.addEventListener('click', (e) => { if (!e.target.closest('.menu')) { menu.hidden = true; $('export-btn').setAttribute('aria-expanded', 'false'); } });
menu.addEventListener('keydown', (e) => {
  const items = [...menu.querySelectorAll('button')], k = items.indexOf(document.activeElement);
  if (e.key === 'ArrowDown') { e.preventDefault(); items[(k + 1) % items.length].focus(); }
  if (e.key === 'ArrowUp') { e.preventDefault(); items[(k - 1 + items.length) % items.length].focus(); }
  if (e.key === 'Escape') { menu.hidden = true; $('export-btn').focus(); }
});
menu.addEventListener('click', async (e) => {
  const b = e.target.closest('[data-export]');
  if (!b) return;
  menu.hidden = true;
  const fg = state.view === 'diff' ? diffView.fg : state.view === 'sandwich' ? sandwich.callees : flame;
  const name = exp.stem(state.type, range.start);
  try {
    if (b.dataset.export === 'pprof') await exp.exportPprof({ type: state.type, selector: state.query || '{}', start: range.start, end: range.end });
    else if (!fg.tree) throw new Error('nothing to export: no flame graph is shown');
    else if (b.dataset.export === 'folded') exp.exportFolded(fg.tree, name);
    else if (b.dataset.export === 'png') await exp.exportPng(fg, name);
    else if (b.dataset.export === 'svg') exp.exportSvg(fg, name);
  } catch (err) { showBanner(err); }
});

// keyboard shortcuts
document.addEventListener('keydown', (e) => {
  const typing = /^(INPUT|SELECT|TEXTAREA)$/.test(e.target.tagName);
  if (e.key === '/' && !typing) { e.preventDefault(); $('search').focus(); $('search').select(); }
  else if (e.key === 'Escape' && !typing && e.target.tagName !== 'CANVAS' && (state.focus || state.search)) update({ focus: '', search: '' });
  else if (e.key === 'Escape' && e.target.id === 'search') { $('search').blur(); }
  else if ((e.key === 'r' || e.key === 'R') && !typing && !e.ctrlKey && !e.metaKey) reload();
});

apply();

// Canvas flame graph: draws only the visible rectangles wide enough to see, hit-tests the
// pointer, zooms into a node, highlights search matches, and colours diffs by change.

import { fmtValue, fmtPct, esc } from './format.js';

const ROW = 18;          // px per level
const MIN_W = 0.35;      // narrower rectangles are not drawn
const FONT = '12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace';

// Light pastel palette, readable with dark text in both colour schemes.
const PALETTE = ['#f4a261', '#e9c46a', '#8ecae6', '#90be6d', '#f28482', '#b8a1e3', '#f6bd60', '#84dcc6',
  '#ffb4a2', '#a3c4f3', '#cdb4db', '#c3e88d', '#fcbf49', '#9ad1d4'];

function hash(s) {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** The package part of a frame name (what the colour follows). */
export function packageOf(name) {
  let s = name.replace(/\(.*$/, '');
  const slash = s.lastIndexOf('/');
  const tail = s.slice(slash + 1);
  const dot = tail.indexOf('.');
  if (dot > 0) return s.slice(0, slash + 1 + dot);
  const cc = s.indexOf('::');
  if (cc > 0) return s.slice(0, cc);
  return s.slice(0, 3);
}

export function colorOf(name) {
  if (name === 'total') return '#b9bec7';
  if (name === 'other') return '#c9c9c9';
  return PALETTE[hash(packageOf(name)) % PALETTE.length];
}

function mix(a, b, t) {
  const pa = [1, 3, 5].map((i) => parseInt(a.slice(i, i + 2), 16));
  const pb = [1, 3, 5].map((i) => parseInt(b.slice(i, i + 2), 16));
  return '#' + pa.map((v, i) => Math.round(v + (pb[i] - v) * t).toString(16).padStart(2, '0')).join('');
}

const DIFF_NEUTRAL = '#c8ccd2', DIFF_RED = '#e5484d', DIFF_GREEN = '#30a46c';

/** Relative change of node i's share from baseline to comparison (+0.5 = 50% larger; ±Infinity = new/gone). */
export function diffChange(tree, i) {
  const d = tree.diff;
  const l = d.leftTicks ? d.lTotal[i] / d.leftTicks : 0;
  const r = d.rightTicks ? d.rTotal[i] / d.rightTicks : 0;
  if (l === 0) return r === 0 ? 0 : Infinity;
  return (r - l) / l;
}

/** The diff colour of a relative change: red larger, green smaller, intensity by magnitude (full at ±100%). */
export function diffColor(change) {
  if (change === 0) return DIFF_NEUTRAL;
  const t = Math.min(1, Math.abs(change));
  const k = 0.25 + 0.75 * t;
  return mix(DIFF_NEUTRAL, change > 0 ? DIFF_RED : DIFF_GREEN, k);
}

/** A search predicate: case-insensitive substring, or a regular expression written /like this/. */
export function matcher(q) {
  q = (q || '').trim();
  if (!q) return null;
  const m = /^\/(.+)\/([a-z]*)$/.exec(q);
  if (m) {
    try { const re = new RegExp(m[1], m[2].includes('i') ? 'i' : ''); return (s) => re.test(s); } catch (_) { /* literal */ }
  }
  const lq = q.toLowerCase();
  return (s) => s.toLowerCase().includes(lq);
}

export class FlameGraph {
  /**
   * @param host element to render into (a canvas and a tooltip are created inside)
   * @param opts {unit, inverted, onFocus(pathNames, i), onSelect(i)}
   */
  constructor(host, opts = {}) {
    this.host = host;
    this.opts = opts;
    this.unit = opts.unit;
    this.tree = null;
    this.zoom = 0;
    this.cursor = -1;
    this.search = '';
    this.matched = null;
    this.rects = [];
    this.rows = [];
    this.lastRenderMs = 0;
    host.classList.add('fg-host');
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'fg-canvas';
    this.canvas.tabIndex = 0;
    this.canvas.setAttribute('role', 'img');
    this.canvas.setAttribute('aria-label', 'Flame graph. Arrow keys move between frames, Enter zooms, Escape resets.');
    this.tip = document.createElement('div');
    this.tip.className = 'tooltip';
    this.tip.hidden = true;
    host.append(this.canvas, this.tip);
    this.canvas.addEventListener('mousemove', (e) => this._hover(e));
    this.canvas.addEventListener('mouseleave', () => { this.tip.hidden = true; this._hoverIx = -1; this.canvas.style.cursor = ''; });
    this.canvas.addEventListener('click', (e) => {
      const i = this.hit(e.offsetX, e.offsetY);
      if (i >= 0) this.focusNode(i, true);
    });
    this.canvas.addEventListener('keydown', (e) => this._key(e));
    this._ro = new ResizeObserver(() => { if (this.tree && this.canvas.clientWidth !== this._w) this.render(); });
    this._ro.observe(host);
  }

  setTree(tree, unit) {
    this.tree = tree;
    if (unit) this.unit = unit;
    this.zoom = 0;
    this.cursor = -1;
    this._computeMatches();
  }

  setSearch(q) {
    this.search = q || '';
    this._computeMatches();
  }

  /** Zoom to node i (0 = whole graph). notify: tell the app (URL focus). */
  focusNode(i, notify) {
    if (!this.tree || i < 0 || i >= this.tree.n) return;
    this.zoom = i;
    this.cursor = i;
    this.render();
    if (notify && this.opts.onFocus) this.opts.onFocus(this.tree.path(i), i);
  }

  /** Zoom to the node at a path of names; answers whether it was found. */
  focusPath(names) {
    if (!this.tree) return false;
    const i = names.length ? this.tree.find(names) : 0;
    this.zoom = i >= 0 ? i : 0;
    return i >= 0;
  }

  _computeMatches() {
    const t = this.tree;
    this.matched = null;
    this.matchShare = 0;
    this.matchCount = 0;
    const f = matcher(this.search);
    if (!t || !f) return;
    const m = new Uint8Array(t.n); // 1 = matches, 2 = under a match
    const nameHit = t.names.map((s) => f(s));
    let sum = 0, count = 0;
    for (let i = 0; i < t.n; i++) {
      const p = t.parent[i];
      const under = p >= 0 && m[p] !== 0;
      if (nameHit[t.name[i]] && i > 0) { m[i] = 1; count++; if (!under) sum += t.total[i]; } else if (under) m[i] = 2;
    }
    this.matched = m;
    this.matchCount = count;
    this.matchShare = t.rootTotal ? sum / t.rootTotal : 0;
    this.matchTotal = sum;
  }

  /** Lay out the visible rectangles for a width in CSS px: [{i, x, y, w, row}] and rows of them. */
  layout(width) {
    const t = this.tree;
    const rects = [], rows = [];
    if (!t || !t.n) return { rects, rows };
    const z = this.zoom;
    const zx = t.x[z], zt = t.total[z] || 1;
    const zl = t.level[z];
    const scale = width / zt;
    // Ancestors of the zoomed node: full width, one per row.
    const anc = [];
    for (let a = z; a >= 0; a = t.parent[a]) anc.push(a);
    anc.reverse();
    for (let d = 0; d < zl; d++) {
      const r = { i: anc[d], x: 0, w: width, row: d, ancestor: true };
      rects.push(r); rows.push([r]);
    }
    for (let d = zl; d < t.depth; d++) {
      const s = t.levelStart[d], e = t.levelStart[d + 1];
      // first node whose end is past zx
      let lo = s, hi = e;
      while (lo < hi) { const m = (lo + hi) >> 1; if (t.x[m] + t.total[m] <= zx) lo = m + 1; else hi = m; }
      const row = [];
      const end = zx + zt;
      for (let i = lo; i < e && t.x[i] < end; i++) {
        const w = t.total[i] * scale;
        if (w < MIN_W) continue;
        if (d === zl && i !== z) continue;
        const r = { i, x: (t.x[i] - zx) * scale, w, row: d };
        rects.push(r); row.push(r);
      }
      if (!row.length) break;
      rows.push(row);
    }
    return { rects, rows };
  }

  /** The fill colour of node i in the current mode. */
  fill(i, ancestor) {
    const t = this.tree, nm = t.nameOf(i);
    let c = t.diff ? diffColor(diffChange(t, i)) : colorOf(nm);
    if (this.matched && this.matched[i] !== 1) c = mix(c, this._dim, 0.75);
    else if (ancestor) c = mix(c, this._dim, 0.45);
    return c;
  }

  render() {
    const t0 = performance.now();
    const cv = this.canvas;
    const width = Math.max(100, this.host.clientWidth);
    this._w = width;
    const styles = getComputedStyle(this.host);
    this._dim = (styles.getPropertyValue('--fg-dim') || '#e8e8e8').trim();
    const { rects, rows } = this.layout(width);
    this.rects = rects;
    this.rows = rows;
    const height = Math.max(1, rows.length) * ROW;
    const dpr = window.devicePixelRatio || 1;
    cv.width = Math.round(width * dpr);
    cv.height = Math.round(height * dpr);
    cv.style.width = width + 'px';
    cv.style.height = height + 'px';
    const ctx = cv.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = FONT;
    ctx.textBaseline = 'middle';
    const cw = this._charW || (this._charW = ctx.measureText('mmmmmmmmmm').width / 10);
    const nrows = rows.length;
    const t = this.tree;
    for (const r of rects) {
      const y = this.opts.inverted ? (nrows - 1 - r.row) * ROW : r.row * ROW;
      const w = r.w;
      ctx.fillStyle = this.fill(r.i, r.ancestor);
      ctx.fillRect(r.x, y, w > 2 ? w - 1 : w, ROW - 1);
      r.y = y;
      if (w > cw * 3 + 6) {
        const maxc = Math.floor((w - 6) / cw);
        let label = t.nameOf(r.i);
        if (label.length > maxc) label = '…' + label.slice(label.length - maxc + 1);
        r.label = label;
        ctx.fillStyle = this.matched && this.matched[r.i] !== 1 ? '#6b6f76' : '#1b1d21';
        ctx.fillText(label, r.x + 3, y + ROW / 2);
      }
    }
    if (this.cursor >= 0) {
      const r = rects.find((q) => q.i === this.cursor);
      if (r) {
        ctx.strokeStyle = styles.getPropertyValue('--accent').trim() || '#2563eb';
        ctx.lineWidth = 2;
        ctx.strokeRect(r.x + 1, r.y + 1, Math.max(2, r.w - 3), ROW - 3);
      }
    }
    this.lastRenderMs = performance.now() - t0;
    return this.lastRenderMs;
  }

  /** The node under a point in CSS px, or -1. */
  hit(px, py) {
    const n = this.rows.length;
    let row = Math.floor(py / ROW);
    if (this.opts.inverted) row = n - 1 - row;
    if (row < 0 || row >= n) return -1;
    const rs = this.rows[row];
    let lo = 0, hi = rs.length - 1;
    while (lo <= hi) {
      const m = (lo + hi) >> 1, r = rs[m];
      if (px < r.x) hi = m - 1;
      else if (px >= r.x + r.w) lo = m + 1;
      else return r.i;
    }
    return -1;
  }

  /** Tooltip HTML for node i. */
  describe(i) {
    const t = this.tree, u = this.unit;
    const name = t.nameOf(i);
    const rows = [];
    if (t.diff) {
      const d = t.diff, ch = diffChange(t, i);
      const lp = d.leftTicks ? d.lTotal[i] / d.leftTicks : 0, rp = d.rightTicks ? d.rTotal[i] / d.rightTicks : 0;
      rows.push(['Baseline', `${fmtValue(d.lTotal[i], u)} (${fmtPct(lp)}), self ${fmtValue(d.lSelf[i], u)}`]);
      rows.push(['Comparison', `${fmtValue(d.rTotal[i], u)} (${fmtPct(rp)}), self ${fmtValue(d.rSelf[i], u)}`]);
      rows.push(['Change', ch === Infinity ? 'new' : (ch > 0 ? '+' : '') + fmtPct(ch)]);
    } else {
      const root = t.rootTotal || 1;
      rows.push(['Total', `${fmtValue(t.total[i], u)} (${fmtPct(t.total[i] / root)})`]);
      rows.push(['Self', `${fmtValue(t.self[i], u)} (${fmtPct(t.self[i] / root)})`]);
      if (this.zoom > 0 && i !== this.zoom) rows.push(['Of zoomed', fmtPct(t.total[i] / (t.total[this.zoom] || 1))]);
    }
    return `<div class="tip-name">${esc(name)}</div><table>` +
      rows.map(([k, v]) => `<tr><th>${k}</th><td>${esc(v)}</td></tr>`).join('') + '</table>';
  }

  _showTip(i, cx, cy) {
    if (i < 0) { this.tip.hidden = true; return; }
    this.tip.innerHTML = this.describe(i);
    this.tip.hidden = false;
    const hw = this.host.clientWidth;
    const tw = this.tip.offsetWidth;
    let x = cx + 14;
    if (x + tw > hw) x = Math.max(0, cx - tw - 14);
    this.tip.style.left = x + 'px';
    this.tip.style.top = (cy + 16) + 'px';
  }

  _hover(e) {
    const i = this.hit(e.offsetX, e.offsetY);
    this.canvas.style.cursor = i >= 0 ? 'pointer' : '';
    this._hoverIx = i;
    this._showTip(i, e.offsetX + this.canvas.offsetLeft, e.offsetY + this.canvas.offsetTop);
    if (this.opts.onHover) this.opts.onHover(i);
  }

  _key(e) {
    const t = this.tree;
    if (!t) return;
    let c = this.cursor >= 0 ? this.cursor : this.zoom;
    const visible = new Set(this.rects.map((r) => r.i));
    const inv = this.opts.inverted;
    const kids = (i) => t.children(i).filter((k) => visible.has(k));
    const sib = (dir) => {
      const row = this.rows.find((rs) => rs.some((r) => r.i === c));
      if (!row) return c;
      const k = row.findIndex((r) => r.i === c) + dir;
      return k >= 0 && k < row.length ? row[k].i : c;
    };
    switch (e.key) {
      case inv ? 'ArrowDown' : 'ArrowUp': if (t.parent[c] >= 0) c = t.parent[c]; break;
      case inv ? 'ArrowUp' : 'ArrowDown': {
        const k = kids(c);
        if (k.length) c = k.reduce((a, b) => (t.total[b] > t.total[a] ? b : a));
        break;
      }
      case 'ArrowLeft': c = sib(-1); break;
      case 'ArrowRight': c = sib(1); break;
      case 'Enter': case ' ': this.focusNode(c, true); e.preventDefault(); return;
      case 'Escape': this.focusNode(0, true); e.preventDefault(); return;
      default: return;
    }
    e.preventDefault();
    this.cursor = c;
    this.render();
    const r = this.rects.find((q) => q.i === c);
    if (r) this._showTip(c, r.x + r.w / 2, r.y + ROW);
  }
}

export { ROW };

// Timeline: SelectSeries points as an area chart (or one line per group), with a brush.
// Dragging selects a time range; the app narrows the query to it.

import { fmtValue, fmtTick, fmtTime, esc } from './format.js';

const SERIES_COLORS = ['#e76f51', '#2a9d8f', '#457b9d', '#e9c46a', '#9b5de5', '#f15bb5', '#00bbf9', '#8ac926', '#ff924c', '#6a4c93'];
const PAD = { l: 64, r: 12, t: 10, b: 22 };

export class Timeline {
  /** @param host element; opts {onBrush(startMs, endMs)} */
  constructor(host, opts = {}) {
    this.host = host;
    this.opts = opts;
    this.series = [];
    this.range = { start: 0, end: 1 };
    this.marks = []; // [{start, end, color, label}] shaded ranges (diff sides)
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'tl-canvas';
    this.canvas.setAttribute('role', 'img');
    this.canvas.setAttribute('aria-label', 'Timeline; drag to select a time range');
    this.legend = document.createElement('div');
    this.legend.className = 'tl-legend';
    this.tip = document.createElement('div');
    this.tip.className = 'tooltip';
    this.tip.hidden = true;
    host.append(this.canvas, this.legend, this.tip);
    this.drag = null;
    this.canvas.addEventListener('mousedown', (e) => {
      if (e.button !== 0) return;
      this.drag = { x0: e.offsetX, x1: e.offsetX };
      e.preventDefault();
    });
    window.addEventListener('mousemove', (e) => {
      const rect = this.canvas.getBoundingClientRect();
      const x = e.clientX - rect.left;
      if (this.drag) {
        this.drag.x1 = Math.max(PAD.l, Math.min(rect.width - PAD.r, x));
        this.draw();
      } else if (e.target === this.canvas) this._hover(x, e.clientY - rect.top);
    });
    window.addEventListener('mouseup', () => {
      if (!this.drag) return;
      const { x0, x1 } = this.drag;
      this.drag = null;
      if (Math.abs(x1 - x0) >= 4 && this.opts.onBrush) {
        const a = this.timeAt(Math.min(x0, x1)), b = this.timeAt(Math.max(x0, x1));
        this.opts.onBrush(Math.round(a), Math.round(b));
      }
      this.draw();
    });
    this.canvas.addEventListener('mouseleave', () => { this.tip.hidden = true; });
    new ResizeObserver(() => this.draw()).observe(host);
  }

  set(series, range, unit, step) {
    this.series = series;
    this.range = range;
    this.unit = unit;
    this.step = step;
    this.legend.innerHTML = series.length > 1
      ? series.map((s, k) => `<span><i style="background:${SERIES_COLORS[k % SERIES_COLORS.length]}"></i>${esc(this.label(s))}</span>`).join('')
      : '';
    this.draw();
  }

  label(s) {
    return s.labels.length ? s.labels.map((l) => l.value).join(', ') : 'all';
  }

  timeAt(px) {
    const w = this.canvas.clientWidth - PAD.l - PAD.r;
    return this.range.start + ((px - PAD.l) / w) * (this.range.end - this.range.start);
  }

  xOf(t) {
    const w = this.canvas.clientWidth - PAD.l - PAD.r;
    return PAD.l + ((t - this.range.start) / (this.range.end - this.range.start || 1)) * w;
  }

  draw() {
    const cv = this.canvas;
    const W = this.host.clientWidth, H = 130;
    if (!W) return;
    const dpr = window.devicePixelRatio || 1;
    cv.width = W * dpr; cv.height = H * dpr;
    cv.style.width = W + 'px'; cv.style.height = H + 'px';
    const ctx = cv.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const css = getComputedStyle(this.host);
    const fg = css.getPropertyValue('--muted').trim() || '#666';
    const grid = css.getPropertyValue('--border').trim() || '#ddd';
    ctx.clearRect(0, 0, W, H);
    ctx.font = '11px system-ui, sans-serif';
    const ph = H - PAD.t - PAD.b;
    let max = 0;
    for (const s of this.series) for (const p of s.points) max = Math.max(max, p.v);
    const noData = !max;
    if (noData) max = 1;
    const yOf = (v) => PAD.t + ph - (v / max) * ph;
    // grid + y labels
    ctx.strokeStyle = grid; ctx.fillStyle = fg; ctx.lineWidth = 1;
    ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
    for (let k = 0; k <= 2; k++) {
      const v = (max * k) / 2, y = Math.round(yOf(v)) + 0.5;
      if (noData && k) continue;
      ctx.beginPath(); ctx.moveTo(PAD.l, y); ctx.lineTo(W - PAD.r, y); ctx.stroke();
      ctx.fillText(fmtValue(v, this.unit), PAD.l - 6, y);
    }
    // x ticks
    const span = this.range.end - this.range.start;
    const steps = [1e3, 5e3, 15e3, 30e3, 60e3, 300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3, 3 * 3600e3, 6 * 3600e3, 12 * 3600e3, 86400e3, 2 * 86400e3];
    const want = span / Math.max(2, Math.floor((W - PAD.l - PAD.r) / 90));
    const st = steps.find((s) => s >= want) || steps[steps.length - 1];
    ctx.textAlign = 'center'; ctx.textBaseline = 'top';
    const tz = new Date().getTimezoneOffset() * 60e3;
    for (let t = Math.ceil((this.range.start - tz) / st) * st + tz; t <= this.range.end; t += st) {
      ctx.fillText(fmtTick(t, span), this.xOf(t), H - PAD.b + 6);
    }
    if (noData) {
      ctx.textAlign = 'center'; ctx.textBaseline = 'middle';
      ctx.fillText('No data in this range', PAD.l + (W - PAD.l - PAD.r) / 2, PAD.t + ph / 2);
    }
    // marks (diff baseline/comparison)
    for (const m of this.marks) {
      const a = Math.max(PAD.l, this.xOf(m.start)), b = Math.min(W - PAD.r, this.xOf(m.end));
      if (b <= a) continue;
      ctx.fillStyle = m.color; ctx.globalAlpha = 0.18; ctx.fillRect(a, PAD.t, b - a, ph); ctx.globalAlpha = 1;
      ctx.fillStyle = m.color; ctx.fillRect(a, PAD.t, b - a, 3);
      ctx.textAlign = 'left'; ctx.fillText(m.label, a + 4, PAD.t + 5);
    }
    // series
    const stepMs = (this.step || 10) * 1000;
    this.series.forEach((s, k) => {
      const color = SERIES_COLORS[k % SERIES_COLORS.length];
      const pts = s.points;
      if (!pts.length) return;
      ctx.strokeStyle = color; ctx.lineWidth = 1.5;
      ctx.beginPath();
      // Missing points are zeros: drop to the axis between non-adjacent points.
      let prevT = null;
      for (const p of pts) {
        const x = this.xOf(p.t), y = yOf(p.v);
        if (prevT === null) { ctx.moveTo(x, yOf(0)); ctx.lineTo(x, y); }
        else if (p.t - prevT > stepMs * 1.5) {
          ctx.lineTo(this.xOf(prevT + stepMs), yOf(0)); ctx.lineTo(this.xOf(p.t - stepMs), yOf(0)); ctx.lineTo(x, y);
        } else ctx.lineTo(x, y);
        prevT = p.t;
      }
      ctx.lineTo(this.xOf(prevT), yOf(0));
      if (this.series.length === 1) {
        ctx.save(); ctx.fillStyle = color; ctx.globalAlpha = 0.22; ctx.fill(); ctx.restore();
      }
      ctx.stroke();
    });
    // brush
    if (this.drag) {
      const a = Math.min(this.drag.x0, this.drag.x1), b = Math.max(this.drag.x0, this.drag.x1);
      ctx.fillStyle = css.getPropertyValue('--accent').trim() || '#2563eb';
      ctx.globalAlpha = 0.2; ctx.fillRect(a, PAD.t, b - a, ph); ctx.globalAlpha = 1;
    }
  }

  _hover(x, y) {
    if (x < PAD.l || !this.series.length) { this.tip.hidden = true; return; }
    const t = this.timeAt(x);
    let best = null;
    for (const s of this.series) for (const p of s.points) if (!best || Math.abs(p.t - t) < Math.abs(best.p.t - t)) best = { s, p };
    if (!best || Math.abs(this.xOf(best.p.t) - x) > 20) { this.tip.hidden = true; return; }
    const lines = this.series.map((s) => {
      const p = s.points.find((q) => q.t === best.p.t);
      return `<tr><th>${esc(this.label(s))}</th><td>${p ? fmtValue(p.v, this.unit) : '–'}</td></tr>`;
    });
    this.tip.innerHTML = `<div class="tip-name">${fmtTime(best.p.t)}</div><table>${lines.join('')}</table>`;
    this.tip.hidden = false;
    this.tip.style.left = Math.min(x + 12, this.host.clientWidth - this.tip.offsetWidth) + 'px';
    this.tip.style.top = (y + 12) + 'px';
  }
}

// Summary panel (GET /ember/v1/summary): top functions by self and the hottest path; each
// entry focuses the flame graph.

import { fmtValue, fmtPct, esc } from './format.js';

/** Render a summary answer into host. opts {unit, onFunction(name), onPath(names)} */
export function renderSummary(host, sum, opts) {
  const u = opts.unit;
  if (!sum || !sum.total) {
    host.innerHTML = '<h2>Summary</h2><p class="muted">Nothing to summarise in this range.</p>';
    return;
  }
  const top = (sum.topFunctions || []).map((f, k) => `<li><button class="sum-fn" data-k="${k}" title="${esc(f.name)}">
      <span class="sum-bar" style="--w:${(100 * f.selfShare).toFixed(2)}%"></span>
      <span class="sum-name">${esc(f.name)}</span>
      <span class="sum-val">${fmtPct(f.selfShare)} <small>${fmtValue(f.self, u)}</small></span></button></li>`).join('');
  const path = (sum.hottestPath || []).map((p, k) => `<li><button class="sum-path" data-k="${k}" title="${esc(p.name)}" style="--indent:${Math.min(k, 12)}">
      <span class="sum-name">${esc(p.name)}</span><span class="sum-val">${fmtPct(p.share)}</span></button></li>`).join('');
  host.innerHTML = `<h2>Summary</h2>
    <p class="sum-total">Total <strong>${fmtValue(sum.total, u)}</strong></p>
    <h3>Top functions <small>by self</small></h3><ol class="sum-list" id="sum-top">${top || '<li class="muted">none</li>'}</ol>
    <h3>Hottest path</h3><ol class="sum-list sum-hot" id="sum-hot">${path || '<li class="muted">none</li>'}</ol>`;
  host.querySelectorAll('.sum-fn').forEach((b) => b.addEventListener('click', () => opts.onFunction(sum.topFunctions[+b.dataset.k].name)));
  host.querySelectorAll('.sum-path').forEach((b) => b.addEventListener('click', () => {
    const k = +b.dataset.k;
    opts.onPath(sum.hottestPath.slice(0, k + 1).map((p) => p.name));
  }));
}

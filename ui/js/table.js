// Table of functions: self and total (recursion counted once), sortable, filterable.
// Clicking a row (or Enter on it) selects the function for the sandwich view.

import { fmtValue, fmtPct, esc } from './format.js';
import { matcher } from './flamegraph.js';

const LIMIT = 1000; // rows rendered at once

export class FunctionTable {
  /** @param host element; opts {onSelect(name)} */
  constructor(host, opts = {}) {
    this.host = host;
    this.opts = opts;
    this.rows = [];
    this.sortKey = 'self';
    this.sortDir = -1;
    this.filter = '';
    this.selected = '';
    host.classList.add('fn-table');
    host.addEventListener('click', (e) => {
      const th = e.target.closest('button[data-sort]');
      if (th) { this.sortBy(th.dataset.sort); return; }
      const tr = e.target.closest('tr[data-name]');
      if (tr && this.opts.onSelect) this.opts.onSelect(tr.dataset.name);
    });
    host.addEventListener('keydown', (e) => {
      const tr = e.target.closest('tr[data-name]');
      if (!tr) return;
      if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); this.opts.onSelect && this.opts.onSelect(tr.dataset.name); }
      if (e.key === 'ArrowDown' && tr.nextElementSibling) { e.preventDefault(); tr.nextElementSibling.focus(); }
      if (e.key === 'ArrowUp' && tr.previousElementSibling) { e.preventDefault(); tr.previousElementSibling.focus(); }
    });
  }

  set(tree, unit) {
    this.tree = tree;
    this.unit = unit;
    this.total = tree ? tree.rootTotal : 0;
    this.rows = tree ? tree.functions() : [];
    this.render();
  }

  setFilter(q) { this.filter = q || ''; this.render(); }

  sortBy(key) {
    if (this.sortKey === key) this.sortDir = -this.sortDir;
    else { this.sortKey = key; this.sortDir = key === 'name' ? 1 : -1; }
    this.render();
  }

  /** The rows as shown: filtered and sorted. */
  visibleRows() {
    const f = matcher(this.filter);
    const k = this.sortKey, d = this.sortDir;
    return this.rows.filter((r) => !f || f(r.name)).sort((a, b) => {
      const c = k === 'name' ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a[k] - b[k];
      return c * d || (a.name < b.name ? -1 : 1);
    });
  }

  render() {
    const rows = this.visibleRows();
    const u = this.unit, tot = this.total || 1;
    const arrow = (k) => (this.sortKey === k ? (this.sortDir < 0 ? ' ▼' : ' ▲') : '');
    const aria = (k) => (this.sortKey === k ? (this.sortDir < 0 ? 'descending' : 'ascending') : 'none');
    const head = `<thead><tr>
      <th aria-sort="${aria('name')}" class="col-name"><button data-sort="name">Function${arrow('name')}</button></th>
      <th aria-sort="${aria('self')}" class="num"><button data-sort="self">Self${arrow('self')}</button></th>
      <th aria-sort="${aria('total')}" class="num"><button data-sort="total">Total${arrow('total')}</button></th></tr></thead>`;
    const body = rows.slice(0, LIMIT).map((r) => `<tr tabindex="0" data-name="${esc(r.name)}"${r.name === this.selected ? ' class="selected"' : ''}>
      <td class="col-name" title="${esc(r.name)}"><span class="fn">${esc(r.name)}</span></td>
      <td class="num"><span class="bar" style="--w:${(100 * r.self / tot).toFixed(2)}%"></span>${fmtValue(r.self, u)} <small>${fmtPct(r.self / tot)}</small></td>
      <td class="num"><span class="bar total" style="--w:${(100 * r.total / tot).toFixed(2)}%"></span>${fmtValue(r.total, u)} <small>${fmtPct(r.total / tot)}</small></td></tr>`).join('');
    const more = rows.length > LIMIT ? `<p class="muted">Showing ${LIMIT} of ${rows.length} functions; filter to narrow.</p>` : '';
    const none = !rows.length ? `<p class="muted empty-small">${this.rows.length ? 'No function matches the filter.' : 'No functions.'}</p>` : '';
    this.host.innerHTML = `<table>${head}<tbody>${body}</tbody></table>${none}${more}`;
  }
}

// Diff view: a baseline and a comparison (two time ranges and/or two selectors) merged by the
// server (querier.v1.QuerierService/Diff) and drawn as one flame graph coloured by change.

import * as api from './api.js';
import { Tree } from './tree.js';
import { FlameGraph } from './flamegraph.js';
import { fmtValue, fmtTime } from './format.js';
import { resolveTime } from './state.js';
import { toLocalInput, fromLocalInput } from './picker.js';

/** The two sides of a diff from the state; defaults split the main range in halves. */
export function diffSides(state, range) {
  const mid = Math.round((range.start + range.end) / 2);
  const t = (v, d) => (v ? resolveTime(v) : d);
  return {
    left: { type: state.type, selector: state.bquery || state.query || '{}', start: t(state.bfrom, range.start), end: t(state.buntil, mid) },
    right: { type: state.type, selector: state.cquery || state.query || '{}', start: t(state.cfrom, mid), end: t(state.cuntil, range.end) },
  };
}

export class DiffView {
  /** @param root the #view-diff element; opts {onApply(statePatch), onFocus(path)} */
  constructor(root, opts) {
    this.root = root;
    this.opts = opts;
    this.fg = new FlameGraph(root.querySelector('#diff-flame'), { onFocus: opts.onFocus });
    this.form = root.querySelector('#diff-form');
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      const f = this.form.elements;
      const ms = (el) => { const v = fromLocalInput(el.value); return v === null ? '' : String(v); };
      opts.onApply({ bquery: f.bquery.value.trim(), bfrom: ms(f.bfrom), buntil: ms(f.buntil),
        cquery: f.cquery.value.trim(), cfrom: ms(f.cfrom), cuntil: ms(f.cuntil) });
    });
    root.querySelector('#diff-swap').addEventListener('click', () => {
      const s = this.sides;
      if (!s) return;
      opts.onApply({ bquery: s.right.selector, bfrom: String(s.right.start), buntil: String(s.right.end),
        cquery: s.left.selector, cfrom: String(s.left.start), cuntil: String(s.left.end) });
    });
  }

  /** Put the sides into the form. */
  sync(sides) {
    this.sides = sides;
    const f = this.form.elements;
    f.bquery.value = sides.left.selector; f.cquery.value = sides.right.selector;
    f.bfrom.value = toLocalInput(sides.left.start); f.buntil.value = toLocalInput(sides.left.end);
    f.cfrom.value = toLocalInput(sides.right.start); f.cuntil.value = toLocalInput(sides.right.end);
  }

  async load(sides, unit) {
    const fg = await api.diff(sides.left, sides.right);
    const tree = Tree.fromDiff(fg);
    this.tree = tree;
    this.fg.setTree(tree, unit);
    const el = this.root.querySelector('#diff-totals');
    el.innerHTML = `<span><i class="sw base"></i>Baseline <strong>${fmtValue(fg.leftTicks, unit)}</strong>
      <small>${fmtTime(sides.left.start, false)} – ${fmtTime(sides.left.end, false)}</small></span>
      <span><i class="sw comp"></i>Comparison <strong>${fmtValue(fg.rightTicks, unit)}</strong>
      <small>${fmtTime(sides.right.start, false)} – ${fmtTime(sides.right.end, false)}</small></span>`;
    return { tree, leftTicks: fg.leftTicks, rightTicks: fg.rightTicks };
  }
}

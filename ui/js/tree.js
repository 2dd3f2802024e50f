// A flame graph's call tree in flat typed arrays, nodes ordered by level then by x, as
// Pyroscope's FlameGraph encodes them. Node 0 is the root ("total").

export class Tree {
  constructor(n, names) {
    this.n = n;
    this.names = names;
    this.name = new Int32Array(n);
    this.level = new Int32Array(n);
    this.parent = new Int32Array(n);
    this.x = new Float64Array(n);
    this.total = new Float64Array(n);
    this.self = new Float64Array(n);
    this.levelStart = [0];
    this.diff = null; // {lTotal, lSelf, rTotal, rSelf, leftTicks, rightTicks}
    this._children = null;
  }

  get depth() { return this.levelStart.length - 1; }
  get rootTotal() { return this.n ? this.total[0] : 0; }
  nameOf(i) { return this.names[this.name[i]] ?? '?'; }

  /** Decode FlameGraph levels: 4 ints per node [x_delta, total, self, name]; x = delta + prev_end. */
  static fromFlamegraph(fg) {
    return Tree._decode(fg.names, fg.levels, 4, null);
  }

  /** Decode FlameGraphDiff levels: 7 ints [xL_delta, totalL, selfL, xR_delta, totalR, selfR, name].
   * Drawn on the combined scale: x = xL + xR, width = totalL + totalR. */
  static fromDiff(fg) {
    return Tree._decode(fg.names, fg.levels, 7, fg);
  }

  static _decode(names, levels, w, dfg) {
    let n = 0;
    for (const l of levels) n += Math.floor(l.length / w);
    const t = new Tree(n, names);
    if (dfg) {
      t.diff = { lTotal: new Float64Array(n), lSelf: new Float64Array(n), rTotal: new Float64Array(n),
        rSelf: new Float64Array(n), leftTicks: dfg.leftTicks, rightTicks: dfg.rightTicks };
    }
    let k = 0;
    let prevStart = 0, prevEnd = 0; // previous level's node index range
    for (let d = 0; d < levels.length; d++) {
      const v = levels[d];
      const start = k;
      let endX = 0, endL = 0, endR = 0;
      let p = prevStart;
      for (let j = 0; j + w <= v.length; j += w, k++) {
        let x, tot, self, nm;
        if (w === 4) {
          x = endX + v[j]; tot = v[j + 1]; self = v[j + 2]; nm = v[j + 3];
          endX = x + tot;
        } else {
          const xl = endL + v[j], xr = endR + v[j + 3];
          endL = xl + v[j + 1]; endR = xr + v[j + 4];
          x = xl + xr; tot = v[j + 1] + v[j + 4]; self = v[j + 2] + v[j + 5]; nm = v[j + 6];
          t.diff.lTotal[k] = v[j + 1]; t.diff.lSelf[k] = v[j + 2];
          t.diff.rTotal[k] = v[j + 4]; t.diff.rSelf[k] = v[j + 5];
        }
        t.x[k] = x; t.total[k] = tot; t.self[k] = self; t.name[k] = nm; t.level[k] = d;
        if (d === 0) t.parent[k] = -1;
        else {
          while (p + 1 < prevEnd && t.x[p] + t.total[p] <= x && t.x[p + 1] <= x) p++;
          t.parent[k] = p;
        }
      }
      if (k === start) break;
      t.levelStart.push(k);
      prevStart = start; prevEnd = k;
    }
    if (k < n) t.n = k;
    return t;
  }

  /** Build from a nested tree {name, self, total, children: Map|array} (root = level 0). */
  static fromNested(root) {
    const names = [], nameIx = new Map();
    const ix = (s) => { let i = nameIx.get(s); if (i === undefined) { i = names.length; names.push(s); nameIx.set(s, i); } return i; };
    const flat = [];
    let level = [{ node: root, x: 0, parent: -1 }];
    const starts = [0];
    while (level.length) {
      const next = [];
      for (const e of level) {
        const me = flat.length;
        flat.push(e);
        const kids = [...(e.node.children instanceof Map ? e.node.children.values() : e.node.children || [])]
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        let cx = e.x;
        for (const c of kids) { next.push({ node: c, x: cx, parent: me }); cx += c.total; }
      }
      starts.push(flat.length);
      level = next;
    }
    const t = new Tree(flat.length, names);
    flat.forEach((e, i) => {
      t.name[i] = ix(e.node.name); t.x[i] = e.x; t.total[i] = e.node.total; t.self[i] = e.node.self;
      t.parent[i] = e.parent; t.level[i] = e.parent < 0 ? 0 : t.level[e.parent] + 1;
    });
    t.levelStart = starts;
    return t;
  }

  /** Children index lists (computed once). */
  children(i) {
    if (!this._children) {
      const c = Array.from({ length: this.n }, () => []);
      for (let k = 1; k < this.n; k++) if (this.parent[k] >= 0) c[this.parent[k]].push(k);
      this._children = c;
    }
    return this._children[i] || [];
  }

  /** Names from the root's child down to node i. */
  path(i) {
    const out = [];
    for (; i > 0; i = this.parent[i]) out.push(this.nameOf(i));
    return out.reverse();
  }

  /** The node at a path of names (root-exclusive), or -1. */
  find(pathNames) {
    let i = 0;
    for (const nm of pathNames) {
      const c = this.children(i).find((k) => this.nameOf(k) === nm);
      if (c === undefined) return -1;
      i = c;
    }
    return i;
  }

  /** Per-function statistics: [{name, self, total}] where total counts each recursion once. */
  functions() {
    const self = new Map(), total = new Map();
    for (let i = 1; i < this.n; i++) {
      const nm = this.nameOf(i);
      self.set(nm, (self.get(nm) || 0) + this.self[i]);
      let outer = true;
      for (let p = this.parent[i]; p > 0; p = this.parent[p]) if (this.name[p] === this.name[i]) { outer = false; break; }
      if (outer) total.set(nm, (total.get(nm) || 0) + this.total[i]);
    }
    return [...self.keys()].map((name) => ({ name, self: self.get(name), total: total.get(name) || 0 }));
  }

  /** The nodes named `name` that have no ancestor of that name. */
  outerNodes(name) {
    const out = [];
    for (let i = 1; i < this.n; i++) {
      if (this.nameOf(i) !== name) continue;
      let outer = true;
      for (let p = this.parent[i]; p > 0; p = this.parent[p]) if (this.name[p] === this.name[i]) { outer = false; break; }
      if (outer) out.push(i);
    }
    return out;
  }

  /** Folded stacks "a;b;c self" for every node with self > 0. */
  folded() {
    const lines = [];
    for (let i = 1; i < this.n; i++) if (this.self[i] > 0) lines.push(this.path(i).join(';') + ' ' + this.self[i]);
    return lines.join('\n') + (lines.length ? '\n' : '');
  }
}

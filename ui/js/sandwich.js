// Sandwich view of one function: its callers above (inverted: the function at the bottom,
// callers growing upward) and its callees below, merged over every place it is called from.

import { Tree } from './tree.js';
import { FlameGraph } from './flamegraph.js';

const node = (name) => ({ name, self: 0, total: 0, children: new Map() });
const child = (n, name) => { let c = n.children.get(name); if (!c) { c = node(name); n.children.set(name, c); } return c; };

/** {callers, callees} trees of function `name` in `tree` (recursion counted once). */
export function sandwichTrees(tree, name) {
  const outer = tree.outerNodes(name);
  const callees = node(name), callers = node(name);
  for (const o of outer) {
    const v = tree.total[o];
    callees.total += v; callers.total += v;
    callees.self += tree.self[o];
    // callees: merge the subtree under o
    const stack = [[callees, o]];
    while (stack.length) {
      const [dst, src] = stack.pop();
      for (const c of tree.children(src)) {
        const d = child(dst, tree.nameOf(c));
        d.total += tree.total[c]; d.self += tree.self[c];
        stack.push([d, c]);
      }
    }
    // callers: the path up to the root, nearest caller first
    let cur = callers;
    for (let p = tree.parent[o]; p > 0; p = tree.parent[p]) {
      cur = child(cur, tree.nameOf(p));
      cur.total += v;
    }
    cur.self += v;
  }
  return { callers: Tree.fromNested(callers), callees: Tree.fromNested(callees), total: callers.total };
}

export class Sandwich {
  /** @param callersHost, calleesHost elements */
  constructor(callersHost, calleesHost) {
    this.callers = new FlameGraph(callersHost, { inverted: true });
    this.callees = new FlameGraph(calleesHost, {});
    this.name = '';
  }

  set(tree, name, unit) {
    this.name = name;
    const s = sandwichTrees(tree, name);
    this.trees = s;
    this.callers.setTree(s.callers, unit);
    this.callees.setTree(s.callees, unit);
    this.callers.render();
    this.callees.render();
    return s;
  }
}

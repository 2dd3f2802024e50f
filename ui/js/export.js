// Exports: the merged pprof (SelectMergeProfile, application/proto), folded text from the
// decoded tree, and the flame graph as PNG (canvas.toBlob) or SVG (the same layout).

import { mergeProfile } from './api.js';
import { fmtValue, fmtPct, esc } from './format.js';
import { ROW } from './flamegraph.js';

/** Save a Blob as a file through a temporary link. */
export function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** A file name stem for the current selection. */
export function stem(type, start) {
  const name = (type || 'profile').split(':').slice(0, 2).join('-');
  const d = new Date(start).toISOString().replace(/[:]/g, '').replace(/\..*$/, '');
  return `ember-${name}-${d}`;
}

export async function exportPprof(q) {
  const blob = await mergeProfile(q);
  download(new Blob([blob], { type: 'application/octet-stream' }), stem(q.type, q.start) + '.pb');
}

export function exportFolded(tree, name) {
  download(new Blob([tree.folded()], { type: 'text/plain' }), name + '.folded.txt');
}

export function exportPng(fg, name) {
  return new Promise((resolve) => fg.canvas.toBlob((b) => { download(b, name + '.png'); resolve(b); }, 'image/png'));
}

/** An SVG document of the flame graph as currently zoomed, `width` px wide. */
export function flameSvg(fg, width = 1200) {
  const t = fg.tree;
  const { rects, rows } = fg.layout(width);
  const cw = 7.2; // 12px monospace advance
  const h = rows.length * ROW;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${h}" viewBox="0 0 ${width} ${h}" font-family="ui-monospace, Menlo, Consolas, monospace" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`];
  const root = t.rootTotal || 1;
  for (const r of rects) {
    const y = (fg.opts.inverted ? rows.length - 1 - r.row : r.row) * ROW;
    const name = t.nameOf(r.i);
    const title = `${name}\ntotal ${fmtValue(t.total[r.i], fg.unit)} (${fmtPct(t.total[r.i] / root)}), self ${fmtValue(t.self[r.i], fg.unit)}`;
    parts.push(`<g><title>${esc(title)}</title><rect x="${r.x.toFixed(2)}" y="${y}" width="${Math.max(0.5, r.w - (r.w > 2 ? 1 : 0)).toFixed(2)}" height="${ROW - 1}" fill="${fg.fill(r.i, r.ancestor)}"/>`);
    if (r.w > cw * 3 + 6) {
      const maxc = Math.floor((r.w - 6) / cw);
      const label = name.length > maxc ? '…' + name.slice(name.length - maxc + 1) : name;
      parts.push(`<text x="${(r.x + 3).toFixed(2)}" y="${y + 13}" fill="#1b1d21">${esc(label)}</text>`);
    }
    parts.push('</g>');
  }
  parts.push('</svg>');
  return parts.join('\n');
}

export function exportSvg(fg, name) {
  download(new Blob([flameSvg(fg)], { type: 'image/svg+xml' }), name + '.svg');
}

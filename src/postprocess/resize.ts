// Bilinear resampling of class-probability maps (HWC, half-pixel centres, as the model's own upsampling) and a
// fused resize+argmax that labels a full-resolution frame without materialising its probability map.
export interface ProbMap {
  /** HWC probabilities. */
  probs: Float32Array;
  width: number;
  height: number;
  numClasses: number;
}

interface Taps {
  i0: Int32Array;
  i1: Int32Array;
  w: Float32Array;
}

export function axisTaps(src: number, dst: number): Taps {
  const i0 = new Int32Array(dst);
  const i1 = new Int32Array(dst);
  const w = new Float32Array(dst);
  const scale = src / dst;
  for (let d = 0; d < dst; d++) {
    const s = Math.max(0, (d + 0.5) * scale - 0.5);
    const a = Math.min(Math.floor(s), src - 1);
    i0[d] = a;
    i1[d] = Math.min(a + 1, src - 1);
    w[d] = s - a;
  }
  return { i0, i1, w };
}

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

/** Labels of `m` resized to width x height: argmax of the bilinearly interpolated probabilities, per pixel. */
export function resizeArgmax(m: ProbMap, width: number, height: number): Uint8Array {
  const C = m.numClasses;
  const out = new Uint8Array(width * height);
  const ty = axisTaps(m.height, height);
  const tx = axisTaps(m.width, width);
  const src = m.probs;
  const row = new Float32Array(m.width * C);
  let lastRow0 = -1;
  let lastRow1 = -1;
  let lastWy = -1;
  for (let y = 0; y < height; y++) {
    const r0 = ty.i0[y];
    const r1 = ty.i1[y];
    const wy = ty.w[y];
    // Interpolate the two source rows once per distinct output row position.
    if (r0 !== lastRow0 || r1 !== lastRow1 || wy !== lastWy) {
      const a = r0 * m.width * C;
      const b = r1 * m.width * C;
      for (let i = 0; i < m.width * C; i++) row[i] = src[a + i] + (src[b + i] - src[a + i]) * wy;
      lastRow0 = r0;
      lastRow1 = r1;
      lastWy = wy;
    }
    for (let x = 0; x < width; x++) {
      const p = tx.i0[x] * C;
      const q = tx.i1[x] * C;
      const wx = tx.w[x];
      let best = 0;
      let bv = -Infinity;
      for (let k = 0; k < C; k++) {
        const v = row[p + k] + (row[q + k] - row[p + k]) * wx;
        if (v > bv) {
          bv = v;
          best = k;
        }
      }
      out[y * width + x] = best;
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

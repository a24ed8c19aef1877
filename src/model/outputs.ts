// Turns raw model outputs into probabilities as tds.json declares them: seg softmax / log-softmax / logits in
// NHWC or NCHW -> HWC probabilities; class logits -> sigmoid; scene logits -> softmax.
import type { TdsJson } from './model-dir.js';

/** Seg output of one image -> HWC probabilities. May return `raw` itself when it already is that. */
export function segToProbs(
  raw: Float32Array,
  h: number,
  w: number,
  c: number,
  activation: TdsJson['outputs']['seg']['activation'],
  layout: 'nhwc' | 'nchw',
): Float32Array {
  const plane = h * w;
  let hwc = raw;
  if (layout === 'nchw') {
    hwc = new Float32Array(plane * c);
    for (let k = 0; k < c; k++) for (let p = 0; p < plane; p++) hwc[p * c + k] = raw[k * plane + p];
  }
  if (activation === 'softmax') return hwc;
  const out = hwc === raw ? new Float32Array(hwc.length) : hwc;
  for (let p = 0; p < plane; p++) {
    const o = p * c;
    if (activation === 'log-softmax') {
      for (let k = 0; k < c; k++) out[o + k] = Math.exp(hwc[o + k]);
    } else {
      let m = -Infinity;
      for (let k = 0; k < c; k++) m = Math.max(m, hwc[o + k]);
      let s = 0;
      for (let k = 0; k < c; k++) s += out[o + k] = Math.exp(hwc[o + k] - m);
      for (let k = 0; k < c; k++) out[o + k] /= s;
    }
  }
  return out;
}

export function sigmoid(x: Float32Array): Float32Array {
  return x.map((v) => 1 / (1 + Math.exp(-v)));
}

export function softmax(x: Float32Array): Float32Array {
  const m = Math.max(...x);
  const e = x.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

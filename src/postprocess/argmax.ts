// Class probabilities (HWC) -> label map: the class of highest probability per pixel (first wins on ties).
export function argmaxLabels(probs: Float32Array, numClasses: number): Uint8Array {
  const n = probs.length / numClasses;
  const out = new Uint8Array(n);
  for (let p = 0; p < n; p++) {
    const o = p * numClasses;
    let best = 0;
    let bv = probs[o];
    for (let k = 1; k < numClasses; k++) {
      if (probs[o + k] > bv) {
        bv = probs[o + k];
        best = k;
      }
    }
    out[p] = best;
  }
  return out;
}

// Frame-level labels: classes present in the mask, classes the class head says are present, their agreement
// (the sync consistency of the TDS method, a per-frame quality signal), and the scene.
export function maskPresent(labels: Uint8Array, numClasses: number): number[] {
  // Four labels per 32-bit word, and a word equal to the one before adds nothing: masks are long runs of one
  // class, so this reads a 1280x1024 mask in ~1 ms (a byte loop took ~8 ms; for...of ~30 ms).
  const seen = new Uint8Array(256);
  const quads = labels.byteOffset % 4 === 0 ? labels.length >> 2 : 0;
  const words = new Uint32Array(labels.buffer, quads ? labels.byteOffset : 0, quads);
  let prev = -1;
  for (let q = 0; q < quads; q++) {
    const v = words[q];
    if (v === prev) continue;
    prev = v;
    seen[v & 255] = 1;
    seen[(v >>> 8) & 255] = 1;
    seen[(v >>> 16) & 255] = 1;
    seen[v >>> 24] = 1;
  }
  for (let i = quads * 4; i < labels.length; i++) seen[labels[i]] = 1;
  const out: number[] = [];
  for (let k = 0; k < numClasses; k++) if (seen[k]) out.push(k);
  return out;
}

/** Classes whose presence probability exceeds the threshold. */
export function headPresent(presence: Float32Array, threshold = 0.5): number[] {
  return [...presence.keys()].filter((k) => presence[k] > threshold);
}

/** Fraction of classes on which the mask and the class head agree (present in both or absent in both), in [0,1]. */
export function syncConsistency(maskClasses: number[], headClasses: number[], numClasses: number): number {
  if (numClasses === 0) return 1;
  const a = new Set(maskClasses);
  const b = new Set(headClasses);
  let agree = 0;
  for (let k = 0; k < numClasses; k++) if (a.has(k) === b.has(k)) agree++;
  return agree / numClasses;
}

export function sceneLabel(
  probs: Float32Array,
  names: string[],
): { label: string; id: number; probs: Record<string, number> } {
  let id = 0;
  for (let k = 1; k < probs.length; k++) if (probs[k] > probs[id]) id = k;
  return {
    label: names[id] ?? String(id),
    id,
    probs: Object.fromEntries(names.map((n, k) => [n, Math.round(probs[k] * 1e4) / 1e4])),
  };
}

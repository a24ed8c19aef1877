// Frame-level labels: classes present in the mask, classes the class head says are present, their agreement
// (the sync consistency of the TDS method, a per-frame quality signal), and the scene.
export function maskPresent(labels: Uint8Array, numClasses: number): number[] {
  // An indexed loop over a 256-entry table: iterating the typed array (for...of) cost ~30 ms at 1280x1024.
  const seen = new Uint8Array(256);
  for (let i = 0; i < labels.length; i++) seen[labels[i]] = 1;
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

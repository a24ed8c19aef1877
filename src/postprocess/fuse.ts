// Multi-size ensemble fusion: resize each size's class-probability map to the output size, then a (weighted) mean.
import { resizeProbs, type ProbMap } from './resize.js';

export interface FuseOptions {
  /** One weight per map; default equal. Normalised to sum 1. */
  weights?: number[];
  /** Output size; default the largest map's size. */
  width?: number;
  height?: number;
}

export function fuseProbabilities(maps: ProbMap[], o: FuseOptions = {}): ProbMap {
  if (!maps.length) throw new Error('fuseProbabilities needs at least one map');
  const C = maps[0].numClasses;
  if (maps.some((m) => m.numClasses !== C)) throw new Error('fuseProbabilities: maps have different class counts');
  const weights = o.weights ?? maps.map(() => 1);
  if (weights.length !== maps.length || weights.some((w) => !(w >= 0)) || !weights.some((w) => w > 0)) {
    throw new Error(
      `fuseProbabilities: need ${maps.length} non-negative weights with a positive sum, got [${weights.join(', ')}]`,
    );
  }
  const largest = maps.reduce((a, b) => (b.width * b.height > a.width * a.height ? b : a));
  const width = o.width ?? largest.width;
  const height = o.height ?? largest.height;
  const total = weights.reduce((a, b) => a + b, 0);
  const out = new Float32Array(width * height * C);
  maps.forEach((m, i) => {
    const w = weights[i] / total;
    if (w === 0) return;
    const r = m.width === width && m.height === height ? m.probs : resizeProbs(m, width, height).probs;
    for (let j = 0; j < out.length; j++) out[j] += w * r[j];
  });
  return { probs: out, width, height, numClasses: C };
}

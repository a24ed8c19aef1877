// Sliding-window inference over a 3D volume: patches on a regular grid with overlap (the last one flush with the
// far edge), each predicted by the caller's network, their class probabilities blended into the whole volume by
// a weight map, constant (mean) or Gaussian (centre voxels of a patch count more: sigma = 0.125 x the patch size,
// the MONAI / nnU-Net default), and divided by the summed weights. A volume smaller than a patch is zero-padded.
// Volumes are x-fastest Float32Arrays, one per input channel; probabilities come back class-major (C x voxels).

export type Dims3 = [number, number, number];

export interface SlidingWindowOptions {
  /** Patch size along x, y, z. */
  patch: Dims3;
  /** Fraction of a patch shared with the next one, in [0, 1); default 0.5. */
  overlap?: number;
  /** Blending weights; default gaussian. */
  blend?: 'gaussian' | 'constant';
  /** Gaussian sigma as a fraction of the patch size; default 0.125. */
  sigmaScale?: number;
}

/** The network on one patch: per-channel patch volumes in, class-major probabilities (C x patch voxels) out. */
export type PatchPredictor = (patch: Float32Array[], dims: Dims3) => Promise<Float32Array>;

/** Window starts along one axis: every `step` from 0, plus one flush with the end; [0] when the axis fits. */
export function windowStarts(size: number, patch: number, overlap: number): number[] {
  if (size <= patch) return [0];
  const step = Math.max(1, Math.round(patch * (1 - overlap)));
  const out: number[] = [];
  for (let s = 0; s + patch < size; s += step) out.push(s);
  out.push(size - patch);
  return out;
}

/** Blending weights of one patch (x fastest), max 1, never 0 (every covered voxel gets a defined average). */
export function patchWeights(patch: Dims3, blend: 'gaussian' | 'constant', sigmaScale = 0.125): Float32Array {
  const [px, py, pz] = patch;
  const w = new Float32Array(px * py * pz);
  if (blend === 'constant') return w.fill(1);
  const axis = (n: number) => {
    const sigma = sigmaScale * n;
    const c = (n - 1) / 2;
    return Float64Array.from({ length: n }, (_, i) => Math.exp(-((i - c) ** 2) / (2 * sigma * sigma)));
  };
  const [ax, ay, az] = [axis(px), axis(py), axis(pz)];
  let max = 0;
  for (let z = 0; z < pz; z++)
    for (let y = 0; y < py; y++)
      for (let x = 0; x < px; x++) {
        const v = ax[x] * ay[y] * az[z];
        w[(z * py + y) * px + x] = v;
        if (v > max) max = v;
      }
  let minPositive = Infinity;
  for (let i = 0; i < w.length; i++) {
    w[i] /= max;
    if (w[i] > 0 && w[i] < minPositive) minPositive = w[i];
  }
  // Far corners can underflow to 0: give them the smallest positive weight instead (as MONAI does).
  for (let i = 0; i < w.length; i++) if (w[i] === 0) w[i] = minPositive;
  return w;
}

export async function slidingWindow(
  channels: Float32Array[],
  dims: Dims3,
  numClasses: number,
  predict: PatchPredictor,
  o: SlidingWindowOptions,
): Promise<Float32Array> {
  const [nx, ny, nz] = dims;
  const [px, py, pz] = o.patch;
  const overlap = o.overlap ?? 0.5;
  if (!(overlap >= 0 && overlap < 1)) throw new RangeError(`overlap must be in [0, 1), got ${overlap}`);
  const n = nx * ny * nz;
  const pn = px * py * pz;
  const weights = patchWeights(o.patch, o.blend ?? 'gaussian', o.sigmaScale);
  const acc = new Float32Array(numClasses * n);
  const wsum = new Float32Array(n);
  const patch = channels.map(() => new Float32Array(pn));
  for (const z0 of windowStarts(nz, pz, overlap))
    for (const y0 of windowStarts(ny, py, overlap))
      for (const x0 of windowStarts(nx, px, overlap)) {
        // Copy the window (zero outside the volume).
        const wx = Math.min(px, nx - x0);
        for (const [c, ch] of channels.entries()) {
          const p = patch[c];
          p.fill(0);
          for (let z = 0; z < Math.min(pz, nz - z0); z++)
            for (let y = 0; y < Math.min(py, ny - y0); y++) {
              const src = ((z0 + z) * ny + y0 + y) * nx + x0;
              p.set(ch.subarray(src, src + wx), (z * py + y) * px);
            }
        }
        const probs = await predict(patch, o.patch);
        if (probs.length !== numClasses * pn)
          throw new RangeError(`the patch predictor returned ${probs.length} values, expected ${numClasses} x ${pn}`);
        for (let z = 0; z < Math.min(pz, nz - z0); z++)
          for (let y = 0; y < Math.min(py, ny - y0); y++)
            for (let x = 0; x < wx; x++) {
              const pi = (z * py + y) * px + x;
              const vi = ((z0 + z) * ny + y0 + y) * nx + x0 + x;
              const w = weights[pi];
              wsum[vi] += w;
              for (let k = 0; k < numClasses; k++) acc[k * n + vi] += w * probs[k * pn + pi];
            }
      }
  for (let vi = 0; vi < n; vi++) {
    const inv = 1 / wsum[vi];
    for (let k = 0; k < numClasses; k++) acc[k * n + vi] *= inv;
  }
  return acc;
}
